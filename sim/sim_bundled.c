/* SPDX-License-Identifier: MIT */
/*
 * sim_bundled.c — access to the sample hunt compiled into the binary
 * (hunt/sample-hunt.json, embedded at build time by cmake/embed.cmake), the
 * venue `cairn sim` walks when no --hunt is given.  Read-only data; any
 * thread.
 */
#include "sim.h"

#include <stddef.h>

typedef struct cairn_embedded_file {
    const char *path;
    const unsigned char *data;
    size_t len;
} cairn_embedded_file;

extern const cairn_embedded_file sim_sample_hunt[];
extern const size_t sim_sample_hunt_count;

const char *sim_bundled_hunt(size_t *len)
{
    *len = sim_sample_hunt[0].len;
    return (const char *)sim_sample_hunt[0].data;
}
