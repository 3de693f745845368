/* SPDX-License-Identifier: MIT */
/*
 * lg_crashfs.h — a crash-simulating file layer for the log's tests (in the
 * manner of SQLite's crash VFS and LazyFS): an lg_vfs over the real files
 * that remembers what has not been made durable, and at a seeded crash
 * point throws it away the way a power cut may.
 *
 * What it models, per file, from the calls the log makes through lg_vfs:
 *  - data: bytes written since the file's last fdatasync are unsynced.  A
 *    write over bytes that were durable saves their old contents first.
 *  - directory entries: a file created (O_CREAT of a missing path) exists
 *    durably only once its directory is fdatasync'd; an unlink of a durable
 *    entry is undone by a crash until then too (the file is kept aside).
 *    Renames are taken as durable at once (not modelled).
 * A crash (lgc_crash_at op N, or lgc_freeze) makes that operation and every
 * later one fail with EIO, as a dead disk would, so the log acknowledges
 * nothing more.  lgc_apply then rewrites the files as a power cut could
 * leave them: unsynced entries gone, old contents of overwritten durable
 * bytes restored, and each file's unsynced tail dropped, kept as a prefix
 * (a torn write), or kept with 512-byte sectors zeroed or garbled, chosen
 * by the seed.  Files and directories made outside the layer (mkdir, LMDB)
 * are not modelled: they survive as written.
 *
 * lie_fsync makes fdatasync succeed without making anything durable: a
 * disk that lies, for showing that a checker catches lost data.
 * Thread-safe (the log's writer thread and appenders call in).
 */
#ifndef LG_CRASHFS_H
#define LG_CRASHFS_H

#include <stdint.h>

#include "lg.h"

typedef struct lgc_fs lgc_fs;

/** A layer over the real files; *vfs is what to pass as lg_opts.vfs. */
lgc_fs *lgc_new(uint64_t seed, int lie_fsync);
const lg_vfs *lgc_vfs(lgc_fs *fs);
/** Crash at operation n (1-based over every call but close); 0: never. */
void lgc_crash_at(lgc_fs *fs, long n);
/** Crash now. */
void lgc_freeze(lgc_fs *fs);
/** Operations so far (for choosing crash points). */
long lgc_ops(lgc_fs *fs);
/** 1 once crashed. */
int lgc_crashed(lgc_fs *fs);
/** After the log using it is closed: rewrite the files as the power cut
 *  left them (see above).  Returns how many unsynced bytes were dropped. */
long long lgc_apply(lgc_fs *fs);
void lgc_free(lgc_fs *fs);

#endif
