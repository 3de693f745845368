/* SPDX-License-Identifier: MIT */
/*
 * cn_testutil.c — scratch dirs and the fault-injecting allocator for
 * tests.  Single-threaded use only (tests install hooks from main).
 */
#include "cn_testutil.h"

#include "cn_alloc.h"

#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

char *cn_test_tmpdir(const char *tag)
{
    const char *base = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof(tmpl), "%s/cairn-%s-XXXXXX", base && *base ? base : "/tmp", tag);
    if (!mkdtemp(tmpl))
        return NULL;
    return strdup(tmpl);
}

static int cn__rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

void cn_test_rmrf(const char *path)
{
    if (path && *path)
        nftw(path, cn__rm_one, 32, FTW_DEPTH | FTW_PHYS);
}

static long cn__fail_at, cn__count, cn__live;
static int cn__forever;

static int cn__should_fail(void)
{
    cn__count++;
    if (!cn__fail_at)
        return 0;
    return cn__forever ? cn__count >= cn__fail_at : cn__count == cn__fail_at;
}

static void *cn__t_malloc(size_t n, void *ud)
{
    (void)ud;
    if (cn__should_fail())
        return NULL;
    void *p = malloc(n);
    if (p)
        cn__live++;
    return p;
}

static void *cn__t_realloc(void *p, size_t n, void *ud)
{
    (void)ud;
    if (cn__should_fail())
        return NULL;
    void *q = realloc(p, n);
    if (q && !p)
        cn__live++;
    return q;
}

static void cn__t_free(void *p, void *ud)
{
    (void)ud;
    if (p)
        cn__live--;
    free(p);
}

void cn_test_alloc_fail_at(long n, int forever)
{
    cn__fail_at = n;
    cn__forever = forever;
    cn__count = 0;
    cn__live = 0;
    cn_alloc_hooks h = {cn__t_malloc, cn__t_realloc, cn__t_free, NULL};
    cn_alloc_set_hooks(&h);
}

long cn_test_alloc_count(void)
{
    return cn__count;
}
long cn_test_alloc_live(void)
{
    return cn__live;
}
void cn_test_alloc_reset(void)
{
    cn_alloc_set_hooks(NULL);
}

int cn_test_loopback_connect(int port)
{
    static uint32_t next;
    for (int tries = 0; tries < 64; tries++) {
        uint32_t n = next++ % 0xfe0000u; /* stays below 127.255.0.1 */
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0)
            return -1;
        struct sockaddr_in src = {0}, dst = {0};
        src.sin_family = dst.sin_family = AF_INET;
        src.sin_addr.s_addr = htonl(0x7f010001u + n); /* 127.1.0.1 onwards, inside 127/8 */
        dst.sin_addr.s_addr = htonl(0x7f000001u);
        dst.sin_port = htons((uint16_t)port);
        if (bind(fd, (struct sockaddr *)&src, sizeof(src)) == 0 &&
            connect(fd, (struct sockaddr *)&dst, sizeof(dst)) == 0)
            return fd;
        close(fd);
    }
    return -1;
}
