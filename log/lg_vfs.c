/* SPDX-License-Identifier: MIT */
/*
 * lg_vfs.c — the default file I/O table for the log: thin wrappers over the
 * POSIX calls.  Every segment file operation of the log goes through an
 * lg_vfs so tests can substitute one that injects EIO, ENOSPC, short writes
 * and fdatasync failures (see tests/unit/test_lg_fault.c).
 * Stateless; any thread.  EINTR is retried here so callers never see it.
 */
#include "lg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

static int lg__p_open(void *ud, const char *path, int flags, mode_t mode)
{
    (void)ud;
    int fd;
    do
        fd = open(path, flags | O_CLOEXEC, mode);
    while (fd < 0 && errno == EINTR);
    return fd;
}

static int lg__p_close(void *ud, int fd)
{
    (void)ud;
    return close(fd);
}

static ssize_t lg__p_pwrite(void *ud, int fd, const void *buf, size_t n, off_t off)
{
    (void)ud;
    ssize_t r;
    do
        r = pwrite(fd, buf, n, off);
    while (r < 0 && errno == EINTR);
    return r;
}

static ssize_t lg__p_pread(void *ud, int fd, void *buf, size_t n, off_t off)
{
    (void)ud;
    ssize_t r;
    do
        r = pread(fd, buf, n, off);
    while (r < 0 && errno == EINTR);
    return r;
}

static int lg__p_fdatasync(void *ud, int fd)
{
    (void)ud;
    return fdatasync(fd);
}

static int lg__p_ftruncate(void *ud, int fd, off_t len)
{
    (void)ud;
    int r;
    do
        r = ftruncate(fd, len);
    while (r < 0 && errno == EINTR);
    return r;
}

static int lg__p_unlink(void *ud, const char *path)
{
    (void)ud;
    return unlink(path);
}

static int lg__p_rename(void *ud, const char *from, const char *to)
{
    (void)ud;
    return rename(from, to);
}

static const lg_vfs lg__posix = {
    .open = lg__p_open,
    .close = lg__p_close,
    .pwrite = lg__p_pwrite,
    .pread = lg__p_pread,
    .fdatasync = lg__p_fdatasync,
    .ftruncate = lg__p_ftruncate,
    .unlink = lg__p_unlink,
    .rename = lg__p_rename,
    .ud = NULL,
};

const lg_vfs *lg_vfs_posix(void)
{
    return &lg__posix;
}
