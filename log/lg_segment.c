/* SPDX-License-Identifier: MIT */
/*
 * lg_segment.c — segment files: naming (<base offset, 20 digits>.log),
 * open/create through the VFS, exact positional reads, directory listing
 * and directory fsync, and the reference count that keeps a file's
 * descriptor open while any reader still uses it (retention may unlink the
 * name meanwhile; the bytes stay readable until the last unref).
 * Any thread: refcounts are atomic; a segment's size fields are written by
 * the writer thread under its partition's mutex.
 */
#include "lg_int.h"

#include "cn_alloc.h"
#include "cn_err.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

char *lg__seg_path(const char *pdir, int64_t base)
{
    size_t n = strlen(pdir) + 32;
    char *p = cn_malloc(n);
    if (p)
        snprintf(p, n, "%s/%020" PRId64 ".log", pdir, base);
    return p;
}

int lg__seg_open(lg_seg **out, const lg_vfs *vfs, const char *pdir, int64_t base, int create)
{
    *out = NULL;
    lg_seg *s = cn_calloc(1, sizeof(*s));
    if (!s)
        return CN_ENOMEM;
    s->path = lg__seg_path(pdir, base);
    if (!s->path) {
        cn_free(s);
        return CN_ENOMEM;
    }
    s->vfs = vfs;
    s->base = base;
    s->first_ts = s->max_ts = -1;
    s->next_off = base;
    s->fd = vfs->open(vfs->ud, s->path, O_RDWR | (create ? O_CREAT : 0), 0644);
    if (s->fd < 0) {
        int e = errno;
        cn_free(s->path);
        cn_free(s);
        return e == ENOENT ? CN_ENOENT : cn_err_from_errno(e);
    }
    atomic_init(&s->refs, 1);
    *out = s;
    return 0;
}

void lg__seg_ref(lg_seg *s)
{
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void lg__seg_unref(lg_seg *s)
{
    if (!s)
        return;
    if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
        return;
    s->vfs->close(s->vfs->ud, s->fd);
    cn_free(s->path);
    cn_free(s);
}

int lg__seg_pread(lg_seg *s, void *buf, size_t n, uint64_t pos)
{
    unsigned char *b = buf;
    while (n > 0) {
        ssize_t r = s->vfs->pread(s->vfs->ud, s->fd, b, n, (off_t)pos);
        if (r < 0)
            return cn_err_from_errno(errno);
        if (r == 0)
            return CN_ETRUNC;
        b += r;
        n -= (size_t)r;
        pos += (uint64_t)r;
    }
    return 0;
}

/* A segment file name is exactly 20 digits + ".log". */
static int lg__seg_name(const char *name, int64_t *base)
{
    if (strlen(name) != 24 || strcmp(name + 20, ".log") != 0)
        return 0;
    int64_t v = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9')
            return 0;
        if (v > (INT64_MAX - 9) / 10)
            return 0;
        v = v * 10 + (name[i] - '0');
    }
    *base = v;
    return 1;
}

static int lg__cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int lg__seg_list(const char *pdir, int64_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(pdir);
    if (!d)
        return errno == ENOENT ? 0 : cn_err_from_errno(errno);
    int64_t *v = NULL;
    size_t cnt = 0, cap = 0;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        int64_t base;
        if (!lg__seg_name(e->d_name, &base))
            continue;
        if (cnt == cap) {
            size_t nc = cap ? cap * 2 : 16;
            int64_t *nv = cn_realloc(v, nc * sizeof(*v));
            if (!nv) {
                rc = CN_ENOMEM;
                break;
            }
            v = nv;
            cap = nc;
        }
        v[cnt++] = base;
    }
    closedir(d);
    if (rc) {
        cn_free(v);
        return rc;
    }
    if (cnt)
        qsort(v, cnt, sizeof(*v), lg__cmp_i64);
    *out = v;
    *n = cnt;
    return 0;
}

int lg__dir_sync(const lg_vfs *vfs, const char *dir)
{
    int fd = vfs->open(vfs->ud, dir, O_RDONLY | O_DIRECTORY, 0);
    if (fd < 0)
        return cn_err_from_errno(errno);
    int rc = vfs->fdatasync(vfs->ud, fd) ? cn_err_from_errno(errno) : 0;
    vfs->close(vfs->ud, fd);
    return rc;
}

int lg__mkdirs(const char *path)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof(buf))
        return CN_EINVAL;
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return cn_err_from_errno(errno);
        buf[i] = c;
    }
    return 0;
}
