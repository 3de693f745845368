/* SPDX-License-Identifier: MIT */
/*
 * cn_alloc.c — the replaceable allocator behind cn_malloc and friends.
 * With no hooks set it is plain libc.  Thread-safe as long as the hook table
 * is only changed before threads start (tests do so from main).
 */
#include "cn_alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static cn_alloc_hooks cn__hooks; /* all NULL: libc */

void cn_alloc_set_hooks(const cn_alloc_hooks *h)
{
    if (h)
        cn__hooks = *h;
    else
        memset(&cn__hooks, 0, sizeof(cn__hooks));
}

void *cn_malloc(size_t n)
{
    if (cn__hooks.malloc_fn)
        return cn__hooks.malloc_fn(n ? n : 1, cn__hooks.ud);
    return malloc(n ? n : 1);
}

void *cn_calloc(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        return NULL;
    void *p = cn_malloc(count * size);
    if (p)
        memset(p, 0, count * size);
    return p;
}

void *cn_realloc(void *p, size_t n)
{
    if (cn__hooks.realloc_fn)
        return cn__hooks.realloc_fn(p, n ? n : 1, cn__hooks.ud);
    return realloc(p, n ? n : 1);
}

void cn_free(void *p)
{
    if (!p)
        return;
    if (cn__hooks.free_fn)
        cn__hooks.free_fn(p, cn__hooks.ud);
    else
        free(p);
}

char *cn_strndup(const char *s, size_t n)
{
    char *d = cn_malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *cn_strdup(const char *s)
{
    return cn_strndup(s, strlen(s));
}
