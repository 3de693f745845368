/* SPDX-License-Identifier: MIT */
/*
 * cn_alloc.h — the allocation seam.  All cairn heap allocation goes through
 * these calls so tests can inject failures (fail-at-N, fail-forever) and
 * count leaks.  The hook table is the one deliberate process-wide setting,
 * like libuv's uv_replace_allocator: set it before starting any threads.
 */
#ifndef CN_ALLOC_H
#define CN_ALLOC_H

#include <stddef.h>

typedef struct cn_alloc_hooks {
    void *(*malloc_fn)(size_t n, void *ud);
    void *(*realloc_fn)(void *p, size_t n, void *ud);
    void (*free_fn)(void *p, void *ud);
    void *ud;
} cn_alloc_hooks;

/** Replace the allocator; NULL restores libc.  Not thread-safe: call first. */
void cn_alloc_set_hooks(const cn_alloc_hooks *h);

void *cn_malloc(size_t n);
void *cn_calloc(size_t count, size_t size); /* overflow-checked */
void *cn_realloc(void *p, size_t n);
void cn_free(void *p); /* NULL-safe */
char *cn_strdup(const char *s);
char *cn_strndup(const char *s, size_t n);

#endif
