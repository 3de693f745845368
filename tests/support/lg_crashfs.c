/* SPDX-License-Identifier: MIT */
/*
 * lg_crashfs.c — the crash-simulating lg_vfs of lg_crashfs.h.  The real
 * files always hold the newest bytes (the log reads its own writes); the
 * layer keeps, per file, its durable length, whether its directory entry
 * is durable, and the old contents of durable bytes written over since the
 * last fdatasync (an undo list), and lgc_apply rolls those back.  Real
 * fdatasyncs are not issued (the power never really goes).  One
 * mutex serialises every call (real syscalls included): tests only.
 */
#include "lg_crashfs.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LGC_MAX_FD 8192
#define LGC_SECTOR 512

typedef struct lgc_undo {
    off_t off;
    size_t len;
    unsigned char *old;
} lgc_undo;

typedef struct lgc_file {
    char path[1024];
    long long durable; /* bytes [0, durable) are on the platter */
    int entry_durable; /* the directory entry survives a crash */
    int gone;          /* unlinked for good (its directory was synced since) */
    int stashed;       /* unlinked but not durably: kept at stash */
    char stash[1100];
    lgc_undo *undo;
    size_t nundo;
} lgc_file;

struct lgc_fs {
    lg_vfs vfs;
    pthread_mutex_t mu;
    uint64_t rng;
    int lie;
    long ops, crash_at;
    int crashed;
    lgc_file **files;
    size_t nfiles;
    int fd_file[LGC_MAX_FD]; /* index + 1 into files; -1 for a directory */
    char *fd_dir[LGC_MAX_FD];
    long stash_seq;
};

static uint32_t lgc_rnd(lgc_fs *fs)
{
    fs->rng ^= fs->rng << 13;
    fs->rng ^= fs->rng >> 7;
    fs->rng ^= fs->rng << 17;
    return (uint32_t)(fs->rng >> 11);
}

/* Count an operation; 1 if it must fail because the disk is gone. */
static int lgc_step(lgc_fs *fs)
{
    fs->ops++;
    if (fs->crash_at && fs->ops >= fs->crash_at)
        fs->crashed = 1;
    if (fs->crashed)
        errno = EIO;
    return fs->crashed;
}

static lgc_file *lgc_find(lgc_fs *fs, const char *path)
{
    for (size_t i = fs->nfiles; i-- > 0;)
        if (!fs->files[i]->gone && !fs->files[i]->stashed && !strcmp(fs->files[i]->path, path))
            return fs->files[i];
    return NULL;
}

static lgc_file *lgc_add(lgc_fs *fs, const char *path, long long durable, int entry_durable)
{
    lgc_file *f = calloc(1, sizeof(*f));
    lgc_file **n = realloc(fs->files, (fs->nfiles + 1) * sizeof(*n));
    if (!f || !n)
        abort();
    fs->files = n;
    snprintf(f->path, sizeof(f->path), "%s", path);
    f->durable = durable;
    f->entry_durable = entry_durable;
    fs->files[fs->nfiles++] = f;
    return f;
}

static long long lgc_size_of(const char *path)
{
    struct stat st;
    return stat(path, &st) ? -1 : (long long)st.st_size;
}

/* Save the old bytes of [off, off + len) that are durable, before they change. */
static void lgc_save(lgc_file *f, int fd, off_t off, size_t len)
{
    if (off >= f->durable)
        return;
    if ((long long)(off + (off_t)len) > f->durable)
        len = (size_t)(f->durable - off);
    lgc_undo u = {off, len, malloc(len ? len : 1)};
    lgc_undo *n = realloc(f->undo, (f->nundo + 1) * sizeof(*n));
    if (!u.old || !n)
        abort();
    ssize_t r = pread(fd, u.old, len, off);
    if (r < 0)
        abort();
    if ((size_t)r < len) /* the file is shorter than durable: those bytes were already cut */
        memset(u.old + r, 0, len - (size_t)r);
    f->undo = n;
    f->undo[f->nundo++] = u;
}

static void lgc_forget_undo(lgc_file *f)
{
    for (size_t i = 0; i < f->nundo; i++)
        free(f->undo[i].old);
    free(f->undo);
    f->undo = NULL;
    f->nundo = 0;
}

static lgc_file *lgc_fd(lgc_fs *fs, int fd)
{
    return fd >= 0 && fd < LGC_MAX_FD && fs->fd_file[fd] > 0 ? fs->files[fs->fd_file[fd] - 1]
                                                             : NULL;
}

static int lgc_index(lgc_fs *fs, lgc_file *f)
{
    for (size_t i = 0; i < fs->nfiles; i++)
        if (fs->files[i] == f)
            return (int)i;
    abort();
}

static int lgc_open_file(lgc_fs *fs, const char *path, int flags, mode_t mode)
{
    long long before = lgc_size_of(path);
    lgc_file *f = lgc_find(fs, path);
    if (!f && before >= 0) /* made before the layer saw it: durable */
        f = lgc_add(fs, path, before, 1);
    int fd0 = f && (flags & O_TRUNC) ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    if (fd0 >= 0) {
        lgc_save(f, fd0, 0, (size_t)f->durable);
        close(fd0);
    }
    int fd = open(path, flags | O_CLOEXEC, mode);
    if (fd < 0)
        return -1;
    if (fd >= LGC_MAX_FD)
        abort();
    if (!f)
        f = lgc_add(fs, path, 0, 0); /* created now: not durable until its directory is synced */
    fs->fd_file[fd] = lgc_index(fs, f) + 1;
    return fd;
}

static int lgc_open(void *ud, const char *path, int flags, mode_t mode)
{
    lgc_fs *fs = ud;
    pthread_mutex_lock(&fs->mu);
    int fd = -1;
    if (!lgc_step(fs)) {
        if (flags & O_DIRECTORY) {
            fd = open(path, flags | O_CLOEXEC, mode);
            if (fd >= LGC_MAX_FD)
                abort();
            if (fd >= 0) {
                fs->fd_file[fd] = -1;
                fs->fd_dir[fd] = strdup(path);
            }
        } else {
            fd = lgc_open_file(fs, path, flags, mode);
        }
    }
    int e = errno;
    pthread_mutex_unlock(&fs->mu);
    errno = e;
    return fd;
}

static int lgc_close(void *ud, int fd)
{
    lgc_fs *fs = ud;
    pthread_mutex_lock(&fs->mu);
    if (fd >= 0 && fd < LGC_MAX_FD) {
        fs->fd_file[fd] = 0;
        free(fs->fd_dir[fd]);
        fs->fd_dir[fd] = NULL;
    }
    int r = close(fd);
    pthread_mutex_unlock(&fs->mu);
    return r;
}

static ssize_t lgc_pwrite(void *ud, int fd, const void *buf, size_t n, off_t off)
{
    lgc_fs *fs = ud;
    pthread_mutex_lock(&fs->mu);
    ssize_t r = -1;
    if (!lgc_step(fs)) {
        lgc_file *f = lgc_fd(fs, fd);
        if (f)
            lgc_save(f, fd, off, n);
        do
            r = pwrite(fd, buf, n, off);
        while (r < 0 && errno == EINTR);
    }
    int e = errno;
    pthread_mutex_unlock(&fs->mu);
    errno = e;
    return r;
}

static ssize_t lgc_pread(void *ud, int fd, void *buf, size_t n, off_t off)
{
    lgc_fs *fs = ud;
    pthread_mutex_lock(&fs->mu);
    ssize_t r = -1;
    if (!lgc_step(fs)) {
        do
            r = pread(fd, buf, n, off);
        while (r < 0 && errno == EINTR);
    }
    int e = errno;
    pthread_mutex_unlock(&fs->mu);
    errno = e;
    return r;
}

static int lgc_same_dir(const char *path, const char *dir)
{
    const char *slash = strrchr(path, '/');
    return slash && strlen(dir) == (size_t)(slash - path) && !memcmp(path, dir, strlen(dir));
}

static void lgc_sync_dir(lgc_fs *fs, const char *dir)
{
    for (size_t i = 0; i < fs->nfiles; i++) {
        lgc_file *f = fs->files[i];
        if (f->gone || !lgc_same_dir(f->path, dir))
            continue;
        if (f->stashed) {
            unlink(f->stash);
            f->stashed = 0;
            f->gone = 1;
        } else {
            f->entry_durable = 1;
        }
    }
}

static int lgc_fdatasync(void *ud, int fd)
{
    lgc_fs *fs = ud;
    pthread_mutex_lock(&fs->mu);
    int r = -1;
    if (!lgc_step(fs)) {
        /* The power is cut by lgc_apply, never for real: what reached the
         * platter is this layer's record, so the real sync is skipped (it
         * only made the test slow). */
        r = 0;
        if (!fs->lie) {
            if (fd >= 0 && fd < LGC_MAX_FD && fs->fd_file[fd] == -1) {
                lgc_sync_dir(fs, fs->fd_dir[fd]);
            } else {
                lgc_file *f = lgc_fd(fs, fd);
                struct stat st;
                if (f && fstat(fd, &st) == 0) {
                    f->durable = (long long)st.st_size;
                    lgc_forget_undo(f);
                }
            }
        }
    }
    int e = errno;
    pthread_mutex_unlock(&fs->mu);
    errno = e;
    return r;
}

static int lgc_ftruncate(void *ud, int fd, off_t len)
{
    lgc_fs *fs = ud;
    pthread_mutex_lock(&fs->mu);
    int r = -1;
    if (!lgc_step(fs)) {
        lgc_file *f = lgc_fd(fs, fd);
        if (f && len < f->durable)
            lgc_save(f, fd, len, (size_t)(f->durable - len));
        r = ftruncate(fd, len);
    }
    int e = errno;
    pthread_mutex_unlock(&fs->mu);
    errno = e;
    return r;
}

static int lgc_unlink(void *ud, const char *path)
{
    lgc_fs *fs = ud;
    pthread_mutex_lock(&fs->mu);
    int r = -1;
    if (!lgc_step(fs)) {
        lgc_file *f = lgc_find(fs, path);
        long long size = lgc_size_of(path);
        if (!f && size >= 0)
            f = lgc_add(fs, path, size, 1);
        if (!f) {
            errno = ENOENT;
        } else if (!f->entry_durable) {
            r = unlink(path);
            f->gone = 1;
        } else {
            snprintf(f->stash, sizeof(f->stash), "%s.lgc-unlinked-%ld", path, ++fs->stash_seq);
            r = rename(path, f->stash);
            if (r == 0)
                f->stashed = 1;
        }
    }
    int e = errno;
    pthread_mutex_unlock(&fs->mu);
    errno = e;
    return r;
}

static int lgc_rename(void *ud, const char *from, const char *to)
{
    lgc_fs *fs = ud;
    pthread_mutex_lock(&fs->mu);
    int r = -1;
    if (!lgc_step(fs)) {
        r = rename(from, to);
        if (r == 0) { /* renames are taken as durable at once */
            lgc_file *old = lgc_find(fs, to), *f = lgc_find(fs, from);
            if (old)
                old->gone = 1;
            if (f) {
                snprintf(f->path, sizeof(f->path), "%s", to);
                f->entry_durable = 1;
            }
        }
    }
    int e = errno;
    pthread_mutex_unlock(&fs->mu);
    errno = e;
    return r;
}

lgc_fs *lgc_new(uint64_t seed, int lie_fsync)
{
    lgc_fs *fs = calloc(1, sizeof(*fs));
    if (!fs)
        abort();
    pthread_mutex_init(&fs->mu, NULL);
    fs->rng = seed * 0x9e3779b97f4a7c15ull + 1;
    fs->lie = lie_fsync;
    fs->vfs = (lg_vfs){lgc_open,      lgc_close,  lgc_pwrite, lgc_pread, lgc_fdatasync,
                       lgc_ftruncate, lgc_unlink, lgc_rename, fs};
    return fs;
}

const lg_vfs *lgc_vfs(lgc_fs *fs)
{
    return &fs->vfs;
}

void lgc_crash_at(lgc_fs *fs, long n)
{
    pthread_mutex_lock(&fs->mu);
    fs->crash_at = n;
    pthread_mutex_unlock(&fs->mu);
}

void lgc_freeze(lgc_fs *fs)
{
    pthread_mutex_lock(&fs->mu);
    fs->crashed = 1;
    pthread_mutex_unlock(&fs->mu);
}

long lgc_ops(lgc_fs *fs)
{
    pthread_mutex_lock(&fs->mu);
    long n = fs->ops;
    pthread_mutex_unlock(&fs->mu);
    return n;
}

int lgc_crashed(lgc_fs *fs)
{
    pthread_mutex_lock(&fs->mu);
    int c = fs->crashed;
    pthread_mutex_unlock(&fs->mu);
    return c;
}

/* The unsynced tail [durable, size) of one file, as a power cut leaves it. */
static long long lgc_tear(lgc_fs *fs, lgc_file *f)
{
    long long size = lgc_size_of(f->path);
    if (size <= f->durable)
        return 0;
    long long extra = size - f->durable, keep = extra;
    int fd = open(f->path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        abort();
    unsigned char junk[LGC_SECTOR];
    switch (lgc_rnd(fs) % 5) {
    case 0: /* nothing of it reached the disk */
        keep = 0;
        break;
    case 1: /* a prefix did: a torn write */
        keep = (long long)(lgc_rnd(fs) % (uint32_t)extra);
        break;
    case 2:   /* all of it, but one sector never made it (zeros) */
    case 3: { /* all of it, but one sector garbled */
        int zero = lgc_rnd(fs) & 1;
        long long sectors = (extra + LGC_SECTOR - 1) / LGC_SECTOR;
        off_t at = (off_t)(f->durable + (long long)(lgc_rnd(fs) % (uint32_t)sectors) * LGC_SECTOR);
        long long n = size - at < LGC_SECTOR ? size - at : LGC_SECTOR;
        for (int i = 0; i < LGC_SECTOR; i++)
            junk[i] = zero ? 0 : (unsigned char)lgc_rnd(fs);
        if (pwrite(fd, junk, (size_t)n, at) != n)
            abort();
        break;
    }
    default: /* all of it */
        break;
    }
    if (ftruncate(fd, (off_t)(f->durable + keep)))
        abort();
    close(fd);
    return extra - keep;
}

static void lgc_undo_all(lgc_file *f)
{
    if (!f->nundo)
        return;
    int fd = open(f->path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        abort();
    for (size_t i = f->nundo; i-- > 0;)
        if (pwrite(fd, f->undo[i].old, f->undo[i].len, f->undo[i].off) != (ssize_t)f->undo[i].len)
            abort();
    close(fd);
    lgc_forget_undo(f);
}

long long lgc_apply(lgc_fs *fs)
{
    pthread_mutex_lock(&fs->mu);
    fs->crashed = 1;
    long long dropped = 0;
    /* New entries vanish first, then unlinked durable files come back. */
    for (size_t i = 0; i < fs->nfiles; i++) {
        lgc_file *f = fs->files[i];
        if (!f->gone && !f->stashed && !f->entry_durable) {
            long long s = lgc_size_of(f->path);
            dropped += s > 0 ? s : 0;
            unlink(f->path);
            f->gone = 1;
        }
    }
    for (size_t i = 0; i < fs->nfiles; i++) {
        lgc_file *f = fs->files[i];
        if (f->stashed) {
            if (rename(f->stash, f->path))
                abort();
            f->stashed = 0;
        }
    }
    for (size_t i = 0; i < fs->nfiles; i++) {
        lgc_file *f = fs->files[i];
        if (f->gone)
            continue;
        dropped += lgc_tear(fs, f);
        lgc_undo_all(f);
    }
    pthread_mutex_unlock(&fs->mu);
    return dropped;
}

void lgc_free(lgc_fs *fs)
{
    if (!fs)
        return;
    for (size_t i = 0; i < fs->nfiles; i++) {
        lgc_forget_undo(fs->files[i]);
        free(fs->files[i]);
    }
    free(fs->files);
    for (int i = 0; i < LGC_MAX_FD; i++)
        free(fs->fd_dir[i]);
    pthread_mutex_destroy(&fs->mu);
    free(fs);
}
