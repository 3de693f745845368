/* SPDX-License-Identifier: MIT */
/*
 * cmd_shared.c — helpers shared by the daemons' commands (cmd_shared.h):
 * parsing --durability, creating the topics a node serves, writing
 * --port-file.  Guarantees: topic creation is idempotent (an existing
 * topic, or one created concurrently, is not an error); the port file
 * appears complete or not at all.  Any thread; owns nothing.
 */
#include "cmd_shared.h"

#include "cn_err.h"
#include "cn_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_parse_durability(const char *s, lg_opts *o)
{
    if (strcmp(s, "fsync") == 0)
        o->durability = LG_DUR_FSYNC;
    else if (strcmp(s, "none") == 0)
        o->durability = LG_DUR_NONE;
    else if (strncmp(s, "interval=", 9) == 0 && cn_parse_duration_ms(s + 9, &o->interval_ms) == 0)
        o->durability = LG_DUR_INTERVAL;
    else
        return CN_EINVAL;
    return 0;
}

int cmd_ensure_topics(lg_log *log, const char *const *names, size_t n, int32_t partitions,
                      size_t *bad)
{
    for (size_t i = 0; i < n; i++) {
        if (lg_topic_partitions(log, names[i]) > 0)
            continue;
        lg_topic_config cfg;
        memset(&cfg, 0, sizeof(cfg));
        cfg.partitions = partitions;
        int rc = lg_topic_create(log, names[i], &cfg);
        if (rc && rc != CN_EEXIST) {
            if (bad)
                *bad = i;
            return rc;
        }
    }
    return 0;
}

int cmd_is_hostport(const char *s)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || !colon[1])
        return 0;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    return !*end && port >= 0 && port <= 65535;
}

int cmd_write_port_file(const char *path, int port)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
        return -1;
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    int bad = fprintf(f, "%d\n", port) < 0;
    if (fclose(f) || bad || rename(tmp, path))
        return -1;
    return 0;
}
