/* SPDX-License-Identifier: MIT */
/*
 * hunt_sample.c — the sample hunt compiled into the binary
 * (hunt/sample-hunt.json, turned into a C array at build time by
 * cmake/embed.cmake; see hunt/CMakeLists.txt), so that `cairn up` and
 * `cairn sim` work from any directory without --hunt.
 * Guarantees: the bytes are exactly the file's, followed by a NUL.
 * Read-only static data: any thread; nothing is owned.
 */
#include "hunt_rules.h"

#include "cn_embed.h"

#include <stddef.h>

CN_EMBEDDED(hunt_sample_file);

const char *hunt_sample_json(size_t *len)
{
    *len = hunt_sample_file[0].len;
    return (const char *)hunt_sample_file[0].data;
}

int hunt_rules_load_or_sample(const char *path, hunt_rules **out, char *err, size_t errlen)
{
    if (path)
        return hunt_rules_load(path, out, err, errlen);
    size_t len;
    const char *json = hunt_sample_json(&len);
    return hunt_rules_parse(json, len, out, err, errlen);
}
