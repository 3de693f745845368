/* SPDX-License-Identifier: MIT */
/*
 * cn_embed.h — the shape of files compiled into the binary by
 * cmake/embed.cmake (the dashboard's assets, the sample hunt).  The
 * generated .c defines `const cairn_embedded_file NAME[]` and
 * `const size_t NAME_count`; declare them with CN_EMBEDDED(NAME).  Each
 * file's bytes are followed by a NUL (len does not count it).  Read-only
 * static data: any thread.
 */
#ifndef CN_EMBED_H
#define CN_EMBED_H

#include <stddef.h>

typedef struct cairn_embedded_file {
    const char *path; /* relative to the embedded directory, with a leading '/' */
    const unsigned char *data;
    size_t len;
} cairn_embedded_file;

#define CN_EMBEDDED(name)                                                                          \
    extern const cairn_embedded_file name[];                                                       \
    extern const size_t name##_count

#endif
