/* SPDX-License-Identifier: MIT */
/*
 * powercut.c — libcairn_powercut.so, an LD_PRELOAD file layer that shows
 * what a power cut would leave on disk, for storage the tests cannot wrap
 * with an lg_vfs (LMDB, RocksDB) and for whole processes (logd, a hunt
 * worker).
 *
 * Model: copy on sync.  Files below $CAIRN_POWERCUT_ROOT are tracked.  When
 * a tracked file is made durable — fsync or fdatasync returns, msync with
 * MS_SYNC returns, or a write to a descriptor opened O_SYNC/O_DSYNC
 * returns — its whole current contents are copied to the same relative
 * path below $CAIRN_POWERCUT_SHADOW (through a temporary file and a rename,
 * so a process killed mid-copy leaves the previous copy).  The shadow
 * directory is therefore, at every moment, a disk on which a power cut
 * kept exactly what was synced and dropped every unsynced write: the
 * harshest outcome a real disk may produce for file data.  A test kills
 * the process (SIGKILL, any moment) and restarts it on the shadow
 * directory.
 *
 * Directory entries are taken as durable together with the file's data, a
 * rename or unlink of a tracked path is applied to the shadow at once
 * (a rename of a never-synced file leaves an empty file: its entry, none
 * of its data), and a directory appears in the shadow when the first file
 * in it is synced.  Not modelled: torn writes within a sync, and the loss of
 * a new entry whose directory was never fsync'd (tests/support/lg_crashfs
 * models both for the log's own segment files).
 *
 * $CAIRN_POWERCUT_LIE: a comma-separated list of substrings; a sync of a
 * tracked path containing one of them succeeds and copies nothing (a disk
 * that lies), for showing that a test catches data that was not synced.
 *
 * Threads: any; the copies are serialised by one mutex.  Everything it
 * calls itself goes to the real libc functions (dlsym RTLD_NEXT).
 * Test-only code: it never fails the caller's call because of itself; a
 * copy that fails aborts the process (the test would otherwise pass on a
 * shadow that does not hold what was synced).
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
typedef ssize_t (*writev_fn)(int, const struct iovec *, int);
typedef ssize_t (*pwritev_fn)(int, const struct iovec *, int, off_t);
typedef int (*sync_fn)(int);
typedef int (*msync_fn)(void *, size_t, int);
typedef int (*rename_fn)(const char *, const char *);
typedef int (*renameat_fn)(int, const char *, int, const char *);
typedef int (*renameat2_fn)(int, const char *, int, const char *, unsigned);
typedef int (*unlink_fn)(const char *);
typedef int (*unlinkat_fn)(int, const char *, int);

static struct {
    pthread_once_t once;
    pthread_mutex_t mu;
    char root[PATH_MAX];
    size_t root_len;
    char shadow[PATH_MAX];
    char lie[1024];
    int on;
    write_fn write;
    pwrite_fn pwrite, pwrite64;
    writev_fn writev;
    pwritev_fn pwritev, pwritev64;
    sync_fn fsync, fdatasync;
    msync_fn msync;
    rename_fn rename;
    renameat_fn renameat;
    renameat2_fn renameat2;
    unlink_fn unlink;
    unlinkat_fn unlinkat;
} P = {PTHREAD_ONCE_INIT, PTHREAD_MUTEX_INITIALIZER};

static void pc_die(const char *what, const char *path)
{
    char msg[PATH_MAX + 128];
    int n = snprintf(msg, sizeof(msg), "powercut: %s %s: %s\n", what, path, strerror(errno));
    if (n > 0 && P.write)
        P.write(2, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
    abort();
}

static void pc_init(void)
{
    P.write = (write_fn)dlsym(RTLD_NEXT, "write");
    P.pwrite = (pwrite_fn)dlsym(RTLD_NEXT, "pwrite");
    P.pwrite64 = (pwrite_fn)dlsym(RTLD_NEXT, "pwrite64");
    P.writev = (writev_fn)dlsym(RTLD_NEXT, "writev");
    P.pwritev = (pwritev_fn)dlsym(RTLD_NEXT, "pwritev");
    P.pwritev64 = (pwritev_fn)dlsym(RTLD_NEXT, "pwritev64");
    P.fsync = (sync_fn)dlsym(RTLD_NEXT, "fsync");
    P.fdatasync = (sync_fn)dlsym(RTLD_NEXT, "fdatasync");
    P.msync = (msync_fn)dlsym(RTLD_NEXT, "msync");
    P.rename = (rename_fn)dlsym(RTLD_NEXT, "rename");
    P.renameat = (renameat_fn)dlsym(RTLD_NEXT, "renameat");
    P.renameat2 = (renameat2_fn)dlsym(RTLD_NEXT, "renameat2");
    P.unlink = (unlink_fn)dlsym(RTLD_NEXT, "unlink");
    P.unlinkat = (unlinkat_fn)dlsym(RTLD_NEXT, "unlinkat");
    const char *root = getenv("CAIRN_POWERCUT_ROOT");
    const char *shadow = getenv("CAIRN_POWERCUT_SHADOW");
    const char *lie = getenv("CAIRN_POWERCUT_LIE");
    if (!root || !shadow || !realpath(root, P.root))
        return;
    if (strlen(shadow) >= sizeof(P.shadow) || (lie && strlen(lie) >= sizeof(P.lie)))
        return;
    P.root_len = strlen(P.root);
    strcpy(P.shadow, shadow);
    if (lie)
        strcpy(P.lie, lie);
    P.on = 1;
}

static void pc_once(void)
{
    pthread_once(&P.once, pc_init);
}

/* The path below the root ("" for the root itself), or NULL. */
static const char *pc_rel(const char *abs)
{
    if (!P.on || strncmp(abs, P.root, P.root_len) != 0)
        return NULL;
    if (abs[P.root_len] == '\0')
        return abs + P.root_len;
    return abs[P.root_len] == '/' ? abs + P.root_len + 1 : NULL;
}

static int pc_lies(const char *rel)
{
    char list[sizeof(P.lie)];
    strcpy(list, P.lie);
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
        if (*t && strstr(rel, t))
            return 1;
    return 0;
}

static void pc_mkdirs(const char *path)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *s = buf + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            pc_die("mkdir", buf);
        *s = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        pc_die("mkdir", buf);
}

static void pc_shadow_path(char *out, size_t n, const char *rel)
{
    if ((size_t)snprintf(out, n, "%s/%s", P.shadow, rel) >= n) {
        errno = ENAMETOOLONG;
        pc_die("path", rel);
    }
}

/* Copy the tracked file at abs (rel below the root) into the shadow. */
static void pc_copy(const char *abs, const char *rel)
{
    char dst[PATH_MAX], tmp[PATH_MAX + 16];
    pc_shadow_path(dst, sizeof(dst), rel);
    struct stat st;
    if (stat(abs, &st) != 0)
        return; /* unlinked since: nothing of it can survive */
    if (S_ISDIR(st.st_mode)) {
        pc_mkdirs(dst);
        return;
    }
    char *slash = strrchr(dst, '/');
    *slash = '\0';
    pc_mkdirs(dst);
    *slash = '/';
    snprintf(tmp, sizeof(tmp), "%s.pc-tmp", dst);
    int in = open(abs, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        pc_die("open", abs);
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0)
        pc_die("open", tmp);
    static char buf[1 << 20];
    for (;;) {
        ssize_t r = read(in, buf, sizeof(buf));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            pc_die("read", abs);
        if (r == 0)
            break;
        for (ssize_t w = 0; w < r;) {
            ssize_t k = P.write(out, buf + w, (size_t)(r - w));
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0)
                pc_die("write", tmp);
            w += k;
        }
    }
    close(in);
    close(out);
    if (P.rename(tmp, dst) != 0)
        pc_die("rename", tmp);
}

/* fd was made durable: copy its file if it is tracked. */
static void pc_synced_fd(int fd)
{
    char link[64], abs[PATH_MAX];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, abs, sizeof(abs) - 1);
    if (n <= 0)
        return;
    abs[n] = '\0';
    const char *rel = pc_rel(abs);
    if (!rel || pc_lies(rel))
        return;
    int saved = errno;
    pthread_mutex_lock(&P.mu);
    pc_copy(abs, rel);
    pthread_mutex_unlock(&P.mu);
    errno = saved;
}

static int pc_is_sync_fd(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl >= 0 && (fl & (O_SYNC | O_DSYNC));
}

/* The absolute path of (dirfd, path) for a path whose parent exists. */
static int pc_abs_at(int dirfd, const char *path, char *out, size_t n)
{
    char dir[2 * PATH_MAX + 2], parent[PATH_MAX];
    int k = 0;
    if (path[0] == '/') {
        k = snprintf(dir, sizeof(dir), "%s", path);
    } else if (dirfd == AT_FDCWD) {
        if (!getcwd(parent, sizeof(parent)))
            return -1;
        k = snprintf(dir, sizeof(dir), "%s/%s", parent, path);
    } else {
        char link[64];
        snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
        ssize_t r = readlink(link, parent, sizeof(parent) - 1);
        if (r <= 0)
            return -1;
        parent[r] = '\0';
        k = snprintf(dir, sizeof(dir), "%s/%s", parent, path);
    }
    if (k < 0 || (size_t)k >= sizeof(dir))
        return -1;
    char *slash = strrchr(dir, '/');
    const char *base = slash + 1;
    *slash = '\0';
    if (!realpath(dir[0] ? dir : "/", parent))
        return -1;
    k = snprintf(out, n, "%s/%s", parent, base);
    return k >= 0 && (size_t)k < n ? 0 : -1;
}

static void pc_renamed(int olddirfd, const char *oldp, int newdirfd, const char *newp, int rc)
{
    if (rc != 0 || !P.on)
        return;
    char a[PATH_MAX], b[PATH_MAX], sa[PATH_MAX], sb[PATH_MAX];
    if (pc_abs_at(olddirfd, oldp, a, sizeof(a)) || pc_abs_at(newdirfd, newp, b, sizeof(b)))
        return;
    const char *ra = pc_rel(a), *rb = pc_rel(b);
    if (!rb)
        return;
    int saved = errno;
    pthread_mutex_lock(&P.mu);
    pc_shadow_path(sb, sizeof(sb), rb);
    struct stat st;
    if (ra && (pc_shadow_path(sa, sizeof(sa), ra), stat(sa, &st) == 0)) {
        char *slash = strrchr(sb, '/');
        *slash = '\0';
        pc_mkdirs(sb);
        *slash = '/';
        if (P.rename(sa, sb) != 0)
            pc_die("rename", sa);
    } else if (stat(b, &st) == 0 && !S_ISDIR(st.st_mode)) {
        /* the entry, none of the never-synced data */
        char *slash = strrchr(sb, '/');
        *slash = '\0';
        pc_mkdirs(sb);
        *slash = '/';
        int fd = open(sb, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
            pc_die("open", sb);
        close(fd);
    }
    pthread_mutex_unlock(&P.mu);
    errno = saved;
}

static void pc_unlinked(int dirfd, const char *path, int flags)
{
    char a[PATH_MAX], sa[PATH_MAX];
    if (!P.on || pc_abs_at(dirfd, path, a, sizeof(a)))
        return;
    const char *ra = pc_rel(a);
    if (!ra || !*ra)
        return;
    int saved = errno;
    pthread_mutex_lock(&P.mu);
    pc_shadow_path(sa, sizeof(sa), ra);
    if (flags & AT_REMOVEDIR)
        rmdir(sa);
    else
        P.unlink(sa);
    pthread_mutex_unlock(&P.mu);
    errno = saved;
}

/* ---- the interposed calls ------------------------------------------------ */

int fsync(int fd)
{
    pc_once();
    int rc = P.fsync(fd);
    if (rc == 0)
        pc_synced_fd(fd);
    return rc;
}

int fdatasync(int fd)
{
    pc_once();
    int rc = P.fdatasync(fd);
    if (rc == 0)
        pc_synced_fd(fd);
    return rc;
}

/* The file mapped at addr, from /proc/self/maps. */
static int pc_mapped_file(const void *addr, char *out, size_t n)
{
    FILE *f = fopen("/proc/self/maps", "re");
    if (!f)
        return -1;
    char line[PATH_MAX + 128];
    int found = -1;
    while (found && fgets(line, sizeof(line), f)) {
        uintptr_t lo, hi;
        int pos = 0;
        if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %n", &lo, &hi, &pos) < 2 || !pos)
            continue;
        if ((uintptr_t)addr < lo || (uintptr_t)addr >= hi || line[pos] != '/')
            continue;
        line[strcspn(line, "\n")] = '\0';
        snprintf(out, n, "%s", line + pos);
        found = 0;
    }
    fclose(f);
    return found;
}

int msync(void *addr, size_t len, int flags)
{
    pc_once();
    int rc = P.msync(addr, len, flags);
    char abs[PATH_MAX];
    if (rc == 0 && (flags & MS_SYNC) && P.on && pc_mapped_file(addr, abs, sizeof(abs)) == 0) {
        const char *rel = pc_rel(abs);
        if (rel && !pc_lies(rel)) {
            int saved = errno;
            pthread_mutex_lock(&P.mu);
            pc_copy(abs, rel);
            pthread_mutex_unlock(&P.mu);
            errno = saved;
        }
    }
    return rc;
}

#define PC_SYNC_WRITE(call)                                                                        \
    pc_once();                                                                                     \
    ssize_t rc = call;                                                                             \
    if (rc > 0 && P.on && pc_is_sync_fd(fd))                                                       \
        pc_synced_fd(fd);                                                                          \
    return rc

ssize_t write(int fd, const void *buf, size_t n)
{
    PC_SYNC_WRITE(P.write(fd, buf, n));
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    PC_SYNC_WRITE(P.pwrite(fd, buf, n, off));
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
    PC_SYNC_WRITE(P.pwrite64(fd, buf, n, off));
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    PC_SYNC_WRITE(P.writev(fd, iov, cnt));
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
    PC_SYNC_WRITE(P.pwritev(fd, iov, cnt, off));
}

ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off_t off)
{
    PC_SYNC_WRITE(P.pwritev64(fd, iov, cnt, off));
}

int rename(const char *a, const char *b)
{
    pc_once();
    int rc = P.rename(a, b);
    pc_renamed(AT_FDCWD, a, AT_FDCWD, b, rc);
    return rc;
}

int renameat(int da, const char *a, int db, const char *b)
{
    pc_once();
    int rc = P.renameat(da, a, db, b);
    pc_renamed(da, a, db, b, rc);
    return rc;
}

int renameat2(int da, const char *a, int db, const char *b, unsigned flags)
{
    pc_once();
    int rc = P.renameat2(da, a, db, b, flags);
    pc_renamed(da, a, db, b, rc);
    return rc;
}

int unlink(const char *path)
{
    pc_once();
    int rc = P.unlink(path);
    if (rc == 0)
        pc_unlinked(AT_FDCWD, path, 0);
    return rc;
}

int unlinkat(int dirfd, const char *path, int flags)
{
    pc_once();
    int rc = P.unlinkat(dirfd, path, flags);
    if (rc == 0)
        pc_unlinked(dirfd, path, flags);
    return rc;
}
