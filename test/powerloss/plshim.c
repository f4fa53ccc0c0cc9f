/* LD_PRELOAD shim for the power-loss simulation (see powerloss.c).
 *
 * In the workload process it records, in a trace file (pltrace.h), every
 * write, sync and truncation of the store's data.mdb, and copies every line
 * the workload writes to its side log, so that the trace orders the
 * workload's "this append returned 0" with the I/O that made it so. LMDB
 * without MDB_WRITEMAP does all its file I/O through these calls
 * (open, pwrite, lseek+writev, fdatasync/fsync; meta pages through a second
 * O_DSYNC descriptor unless MDB_NOSYNC/MDB_NOMETASYNC), so the trace is
 * complete; the builder checks that by replaying the trace of a killed run
 * and comparing with the data.mdb the run left behind. I/O it cannot replay
 * (msync of MDB_WRITEMAP, dup of a traced fd, fallocate, sync_file_range,
 * pwritev2 flags) is recorded as such and makes the builder stop.
 *
 * lock.mdb is not traced: LMDB rebuilds it when the first process opens the
 * environment. The procs/ entries are empty files: only their names count.
 *
 * In the checker process it serves a different boot id for
 * /proc/sys/kernel/random/boot_id, as a machine does after a power loss.
 *
 * Environment:
 *   PL_TRACE     trace file to append to (tracing is off without it)
 *   PL_DIR       the store directory whose data.mdb is traced
 *   PL_SIDE_LOG  the workload's side log, copied into the trace
 *   PL_BOOT_ID   boot id to serve (off without it)
 *
 * Each traced call runs under one mutex with its trace records, so the
 * trace's order is the order in which the calls completed. A data.mdb write
 * is recorded before the call and its result after it (a kill in between
 * leaves a write that may or may not have happened); a sync or a side-log
 * line is recorded after it succeeded (a kill in between loses a barrier or
 * an event, which only makes the checker expect less). */
/* this file defines both open and open64 (and the like): no redirection */
#undef _FILE_OFFSET_BITS
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h> /* memfd_create */
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

#include "pltrace.h"

#define MAX_FDS 65536
#define BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"

enum fd_kind { FD_NONE = 0, FD_DATA, FD_SIDE };

static unsigned char fd_kind[MAX_FDS];
static unsigned char fd_dsync[MAX_FDS];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int trace_fd = -1;
static char store_dir[PATH_MAX]; /* realpath of PL_DIR */
static char side_log[2 * PATH_MAX + 2]; /* realpath of PL_SIDE_LOG */
static const char *boot_id;

#define REAL(name) real_##name
#define DECLARE_REAL(ret, name, ...)                                                                          \
    static ret (*real_##name)(__VA_ARGS__);
DECLARE_REAL(int, open, const char *, int, ...)
DECLARE_REAL(int, open64, const char *, int, ...)
DECLARE_REAL(int, openat, int, const char *, int, ...)
DECLARE_REAL(int, openat64, int, const char *, int, ...)
DECLARE_REAL(int, __open_2, const char *, int)
DECLARE_REAL(int, __open64_2, const char *, int)
DECLARE_REAL(int, creat, const char *, mode_t)
DECLARE_REAL(FILE *, fopen, const char *, const char *)
DECLARE_REAL(FILE *, fopen64, const char *, const char *)
DECLARE_REAL(int, close, int)
DECLARE_REAL(ssize_t, write, int, const void *, size_t)
DECLARE_REAL(ssize_t, pwrite, int, const void *, size_t, off_t)
DECLARE_REAL(ssize_t, pwrite64, int, const void *, size_t, off_t)
DECLARE_REAL(ssize_t, writev, int, const struct iovec *, int)
DECLARE_REAL(ssize_t, pwritev, int, const struct iovec *, int, off_t)
DECLARE_REAL(ssize_t, pwritev64, int, const struct iovec *, int, off_t)
DECLARE_REAL(ssize_t, pwritev2, int, const struct iovec *, int, off_t, int)
DECLARE_REAL(int, fdatasync, int)
DECLARE_REAL(int, fsync, int)
DECLARE_REAL(int, syncfs, int)
DECLARE_REAL(int, sync_file_range, int, off_t, off_t, unsigned int)
DECLARE_REAL(int, ftruncate, int, off_t)
DECLARE_REAL(int, ftruncate64, int, off_t)
DECLARE_REAL(int, fallocate, int, int, off_t, off_t)
DECLARE_REAL(int, fallocate64, int, int, off_t, off_t)
DECLARE_REAL(int, link, const char *, const char *)
DECLARE_REAL(int, linkat, int, const char *, int, const char *, int)
DECLARE_REAL(int, msync, void *, size_t, int)
DECLARE_REAL(int, dup, int)
DECLARE_REAL(int, dup2, int, int)
DECLARE_REAL(int, dup3, int, int, int)

#define RESOLVE(name) real_##name = (__typeof__(real_##name))dlsym(RTLD_NEXT, #name)

static void resolve_all(void)
{
    RESOLVE(open); RESOLVE(open64); RESOLVE(openat); RESOLVE(openat64); RESOLVE(__open_2);
    RESOLVE(__open64_2); RESOLVE(creat); RESOLVE(fopen); RESOLVE(fopen64); RESOLVE(close);
    RESOLVE(write); RESOLVE(pwrite); RESOLVE(pwrite64); RESOLVE(writev); RESOLVE(pwritev);
    RESOLVE(pwritev64); RESOLVE(pwritev2); RESOLVE(fdatasync); RESOLVE(fsync); RESOLVE(syncfs);
    RESOLVE(sync_file_range); RESOLVE(ftruncate); RESOLVE(ftruncate64); RESOLVE(fallocate);
    RESOLVE(msync); RESOLVE(dup); RESOLVE(dup2); RESOLVE(dup3); RESOLVE(fallocate64); RESOLVE(link);
    RESOLVE(linkat);
}

static void die(const char *what)
{
    static const char prefix[] = "plshim: fatal: ";
    if (real_write) {
        real_write(2, prefix, sizeof prefix - 1);
        real_write(2, what, strlen(what));
        real_write(2, "\n", 1);
    }
    _exit(70);
}

static void init(void)
{
    resolve_all();
    if (!real_open || !real_write || !real_writev || !real_pwrite || !real_close)
        die("cannot resolve libc's I/O functions");
    boot_id = getenv("PL_BOOT_ID");
    const char *trace = getenv("PL_TRACE");
    if (!trace)
        return;
    const char *dir = getenv("PL_DIR");
    if (!dir || !realpath(dir, store_dir))
        die("PL_TRACE needs PL_DIR, an existing directory");
    const char *side = getenv("PL_SIDE_LOG");
    if (side && !realpath(side, side_log)) {
        /* the side log may not exist yet: resolve its directory */
        char buf[PATH_MAX];
        snprintf(buf, sizeof buf, "%s", side);
        char *slash = strrchr(buf, '/');
        const char *base = slash ? slash + 1 : buf;
        if (slash)
            *slash = '\0';
        char rdir[PATH_MAX];
        if (!realpath(slash ? buf : ".", rdir))
            die("PL_SIDE_LOG's directory does not exist");
        snprintf(side_log, sizeof side_log, "%s/%s", rdir, base);
    }
    trace_fd = real_open(trace, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (trace_fd < 0)
        die("cannot open PL_TRACE");
}

static void ensure_init(void)
{
    pthread_once(&once, init);
}

/* Append one record; the caller holds mu. */
static void trace_rec(uint32_t type, uint32_t flags, uint64_t off, const struct iovec *iov, int iovcnt, size_t len)
{
    struct pl_rec h = {.magic = PL_TRACE_MAGIC, .type = type, .flags = flags, .len = (uint32_t)len, .off = off};
    uLong crc = crc32(0, Z_NULL, 0);
    size_t left = len;
    struct iovec v[IOV_MAX];
    int n = 0;
    v[n++] = (struct iovec){&h, sizeof h};
    for (int i = 0; i < iovcnt && left > 0; i++) {
        size_t take = iov[i].iov_len < left ? iov[i].iov_len : left;
        if (take == 0)
            continue;
        if (n == IOV_MAX)
            die("a traced write has too many pieces");
        crc = crc32(crc, iov[i].iov_base, (uInt)take);
        v[n++] = (struct iovec){iov[i].iov_base, take};
        left -= take;
    }
    h.crc = (uint32_t)crc;
    h.hcrc = 0;
    h.hcrc = (uint32_t)crc32(crc32(0, Z_NULL, 0), (const Bytef *)&h, sizeof h);
    size_t total = sizeof h + len;
    ssize_t w = real_writev(trace_fd, v, n);
    if (w < 0 || (size_t)w != total)
        die("cannot append to the trace");
}

static void trace_text(uint32_t type, const char *text)
{
    struct iovec v = {(void *)text, strlen(text)};
    trace_rec(type, 0, 0, &v, 1, v.iov_len);
}

/* Which traced file `path` (relative to dirfd) is, if any. */
static enum fd_kind classify(int dirfd, const char *path)
{
    if (trace_fd < 0 || !path)
        return FD_NONE;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    int is_data = strcmp(base, "data.mdb") == 0;
    int maybe_side = side_log[0] && strcmp(base, strrchr(side_log, '/') + 1) == 0;
    if (!is_data && !maybe_side)
        return FD_NONE;
    char full[2 * PATH_MAX + 2], dirpart[PATH_MAX], rdir[PATH_MAX];
    if (path[0] == '/' || dirfd == AT_FDCWD) {
        snprintf(full, sizeof full, "%s", path);
    } else {
        char link[64];
        snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
        ssize_t n = readlink(link, dirpart, sizeof dirpart - 1);
        if (n < 0)
            return FD_NONE;
        dirpart[n] = '\0';
        snprintf(full, sizeof full, "%s/%s", dirpart, path);
    }
    char *slash = strrchr(full, '/');
    if (slash) {
        *slash = '\0';
        if (!realpath(full[0] ? full : "/", rdir))
            return FD_NONE;
    } else if (!realpath(".", rdir)) {
        return FD_NONE;
    }
    char resolved[2 * PATH_MAX + 2];
    snprintf(resolved, sizeof resolved, "%s/%s", rdir, base);
    if (is_data && strcmp(rdir, store_dir) == 0)
        return FD_DATA;
    /* a new store's data.mdb is made in <store>/.creating-XXXXXX and then
     * linked into place (PL_REC_LINK): its writes are the data file's */
    const char *last = strrchr(rdir, '/');
    size_t plen = last ? (size_t)(last - rdir) : 0;
    if (is_data && last && strncmp(last + 1, ".creating-", 10) == 0 && plen == strlen(store_dir) &&
        strncmp(rdir, store_dir, plen) == 0)
        return FD_DATA;
    if (maybe_side && strcmp(resolved, side_log) == 0)
        return FD_SIDE;
    return FD_NONE;
}

static void note_open(int fd, int dirfd, const char *path, int flags)
{
    if (fd < 0 || fd >= MAX_FDS || trace_fd < 0)
        return;
    enum fd_kind k = classify(dirfd, path);
    pthread_mutex_lock(&mu);
    fd_kind[fd] = (unsigned char)k;
    fd_dsync[fd] = (flags & O_DSYNC) != 0; /* O_SYNC includes O_DSYNC's bit */
    pthread_mutex_unlock(&mu);
}

static int kind_of(int fd)
{
    return fd >= 0 && fd < MAX_FDS && trace_fd >= 0 ? fd_kind[fd] : FD_NONE;
}

/* A descriptor serving the simulated boot id, or -1 when not simulating. */
static int boot_id_fd(const char *path)
{
    if (!boot_id || !path || strcmp(path, BOOT_ID_PATH) != 0)
        return -1;
    int fd = memfd_create("boot_id", MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    char buf[128];
    int n = snprintf(buf, sizeof buf, "%s\n", boot_id);
    if (real_write(fd, buf, (size_t)n) != n || lseek(fd, 0, SEEK_SET) != 0) {
        real_close(fd);
        return -1;
    }
    return fd;
}

static mode_t mode_arg(int flags, va_list ap)
{
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

static int do_openat(int (*fn)(int, const char *, int, ...), int dirfd, const char *path, int flags, mode_t mode)
{
    int fd = boot_id_fd(path);
    if (fd >= 0)
        return fd;
    fd = fn(dirfd, path, flags, mode);
    int e = errno;
    note_open(fd, dirfd, path, flags);
    errno = e;
    return fd;
}

static int do_open(int (*fn)(const char *, int, ...), const char *path, int flags, mode_t mode)
{
    int fd = boot_id_fd(path);
    if (fd >= 0)
        return fd;
    fd = fn(path, flags, mode);
    int e = errno;
    note_open(fd, AT_FDCWD, path, flags);
    errno = e;
    return fd;
}

int open(const char *path, int flags, ...)
{
    ensure_init();
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    return do_open(real_open, path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
    ensure_init();
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    return do_open(real_open64 ? real_open64 : real_open, path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...)
{
    ensure_init();
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    return do_openat(real_openat, dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
    ensure_init();
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    return do_openat(real_openat64 ? real_openat64 : real_openat, dirfd, path, flags, mode);
}

int __open_2(const char *path, int flags)
{
    ensure_init();
    return do_open(real_open, path, flags, 0);
}

int __open64_2(const char *path, int flags)
{
    ensure_init();
    return do_open(real_open, path, flags, 0);
}

int creat(const char *path, mode_t mode)
{
    ensure_init();
    return do_open(real_open, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

static FILE *do_fopen(FILE *(*fn)(const char *, const char *), const char *path, const char *mode)
{
    int fd = boot_id_fd(path);
    if (fd >= 0) {
        FILE *f = fdopen(fd, "r");
        if (!f)
            real_close(fd);
        return f;
    }
    FILE *f = fn(path, mode);
    if (f && trace_fd >= 0) {
        int e = errno;
        int flags = strchr(mode, 'w') || strchr(mode, 'a') || strchr(mode, '+') ? O_WRONLY : O_RDONLY;
        note_open(fileno(f), AT_FDCWD, path, flags);
        errno = e;
    }
    return f;
}

FILE *fopen(const char *path, const char *mode)
{
    ensure_init();
    return do_fopen(real_fopen, path, mode);
}

FILE *fopen64(const char *path, const char *mode)
{
    ensure_init();
    return do_fopen(real_fopen64 ? real_fopen64 : real_fopen, path, mode);
}

int close(int fd)
{
    ensure_init();
    if (fd >= 0 && fd < MAX_FDS && fd_kind[fd]) {
        pthread_mutex_lock(&mu);
        fd_kind[fd] = FD_NONE;
        fd_dsync[fd] = 0;
        int rc = real_close(fd);
        pthread_mutex_unlock(&mu);
        return rc;
    }
    return real_close(fd);
}

/* Record I/O the builder cannot replay; the caller holds mu. */
static void unsupported_locked(int fd, const char *what)
{
    char msg[128];
    snprintf(msg, sizeof msg, "%s on traced descriptor %d", what, fd);
    trace_text(PL_REC_UNSUPPORTED, msg);
}

static void unsupported(int fd, const char *what)
{
    pthread_mutex_lock(&mu);
    unsupported_locked(fd, what);
    pthread_mutex_unlock(&mu);
}

static int do_dup(int oldfd, int newfd)
{
    if (newfd >= 0 && kind_of(oldfd))
        unsupported(oldfd, "dup");
    return newfd;
}

int dup(int fd)
{
    ensure_init();
    return do_dup(fd, real_dup(fd));
}

int dup2(int fd, int fd2)
{
    ensure_init();
    return do_dup(fd, real_dup2(fd, fd2));
}

int dup3(int fd, int fd2, int flags)
{
    ensure_init();
    return do_dup(fd, real_dup3(fd, fd2, flags));
}

/* A write of `len` bytes at `off` that returned `ret`; the caller holds mu. */
/* A write to a traced descriptor runs under mu between these two. A
 * data.mdb write is recorded before the call (offset and bytes) and after it
 * (the call's result), so that a kill in between leaves a write the builder
 * knows may or may not have reached the file; a side-log line is recorded
 * once written. */
static void begin_write(int fd, off_t off, const struct iovec *iov, int iovcnt, uint32_t flags)
{
    if (fd_kind[fd] != FD_DATA)
        return;
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    trace_rec(PL_REC_WRITE, flags | (fd_dsync[fd] ? PL_WRITE_DURABLE : 0), (uint64_t)off, iov, iovcnt, total);
}

static void end_write(int fd, const struct iovec *iov, int iovcnt, ssize_t ret)
{
    if (fd_kind[fd] == FD_DATA)
        trace_rec(PL_REC_DONE, 0, (uint64_t)(int64_t)ret, NULL, 0, 0);
    else if (ret > 0)
        trace_rec(PL_REC_MARK, 0, 0, iov, iovcnt, (size_t)ret);
}

/* The offset a write() or writev() will write at. */
static off_t current_offset(int fd)
{
    return (fcntl(fd, F_GETFL) & O_APPEND) ? lseek(fd, 0, SEEK_END) : lseek(fd, 0, SEEK_CUR);
}

ssize_t write(int fd, const void *buf, size_t n)
{
    ensure_init();
    if (!kind_of(fd))
        return real_write(fd, buf, n);
    struct iovec v = {(void *)buf, n};
    pthread_mutex_lock(&mu);
    begin_write(fd, current_offset(fd), &v, 1, 0);
    ssize_t ret = real_write(fd, buf, n);
    int e = errno;
    end_write(fd, &v, 1, ret);
    pthread_mutex_unlock(&mu);
    errno = e;
    return ret;
}

static ssize_t do_pwrite(ssize_t (*fn)(int, const void *, size_t, off_t), int fd, const void *buf, size_t n,
                         off_t off)
{
    if (!kind_of(fd))
        return fn(fd, buf, n, off);
    struct iovec v = {(void *)buf, n};
    pthread_mutex_lock(&mu);
    begin_write(fd, off, &v, 1, 0);
    ssize_t ret = fn(fd, buf, n, off);
    int e = errno;
    end_write(fd, &v, 1, ret);
    pthread_mutex_unlock(&mu);
    errno = e;
    return ret;
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    ensure_init();
    return do_pwrite(real_pwrite, fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
    ensure_init();
    return do_pwrite(real_pwrite64 ? real_pwrite64 : real_pwrite, fd, buf, n, off);
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
    ensure_init();
    if (!kind_of(fd))
        return real_writev(fd, iov, iovcnt);
    pthread_mutex_lock(&mu);
    begin_write(fd, current_offset(fd), iov, iovcnt, 0);
    ssize_t ret = real_writev(fd, iov, iovcnt);
    int e = errno;
    end_write(fd, iov, iovcnt, ret);
    pthread_mutex_unlock(&mu);
    errno = e;
    return ret;
}

static ssize_t do_pwritev(int fd, const struct iovec *iov, int iovcnt, off_t off, int flags, int v2)
{
    if (!kind_of(fd))
        return v2 ? real_pwritev2(fd, iov, iovcnt, off, flags) : real_pwritev(fd, iov, iovcnt, off);
    pthread_mutex_lock(&mu);
    if (v2 && (flags & ~(RWF_DSYNC | RWF_SYNC | RWF_HIPRI)))
        unsupported_locked(fd, "pwritev2 with flags");
    begin_write(fd, off, iov, iovcnt, v2 && (flags & (RWF_DSYNC | RWF_SYNC)) ? PL_WRITE_DURABLE : 0);
    ssize_t ret = v2 ? real_pwritev2(fd, iov, iovcnt, off, flags) : real_pwritev(fd, iov, iovcnt, off);
    int e = errno;
    end_write(fd, iov, iovcnt, ret);
    pthread_mutex_unlock(&mu);
    errno = e;
    return ret;
}

ssize_t pwritev(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
    ensure_init();
    return do_pwritev(fd, iov, iovcnt, off, 0, 0);
}

ssize_t pwritev64(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
    ensure_init();
    return do_pwritev(fd, iov, iovcnt, off, 0, 0);
}

ssize_t pwritev2(int fd, const struct iovec *iov, int iovcnt, off_t off, int flags)
{
    ensure_init();
    return do_pwritev(fd, iov, iovcnt, off, flags, 1);
}

static int do_sync(int (*fn)(int), int fd)
{
    ensure_init();
    if (kind_of(fd) != FD_DATA)
        return fn(fd);
    pthread_mutex_lock(&mu);
    int rc = fn(fd);
    int e = errno;
    if (rc == 0)
        trace_rec(PL_REC_SYNC, 0, 0, NULL, 0, 0);
    pthread_mutex_unlock(&mu);
    errno = e;
    return rc;
}

int fdatasync(int fd)
{
    ensure_init();
    return do_sync(real_fdatasync, fd);
}

int fsync(int fd)
{
    ensure_init();
    return do_sync(real_fsync, fd);
}

int syncfs(int fd)
{
    ensure_init();
    return do_sync(real_syncfs, fd);
}

int sync_file_range(int fd, off_t off, off_t n, unsigned int flags)
{
    ensure_init();
    if (kind_of(fd) != FD_DATA)
        return real_sync_file_range(fd, off, n, flags);
    /* it never flushes the disk's cache nor metadata: not a barrier */
    unsupported(fd, "sync_file_range");
    return real_sync_file_range(fd, off, n, flags);
}

static int do_truncate(int (*fn)(int, off_t), int fd, off_t len)
{
    if (kind_of(fd) != FD_DATA)
        return fn(fd, len);
    pthread_mutex_lock(&mu);
    int rc = fn(fd, len);
    int e = errno;
    if (rc == 0)
        trace_rec(PL_REC_TRUNCATE, 0, (uint64_t)len, NULL, 0, 0);
    pthread_mutex_unlock(&mu);
    errno = e;
    return rc;
}

int ftruncate(int fd, off_t len)
{
    ensure_init();
    return do_truncate(real_ftruncate, fd, len);
}

int ftruncate64(int fd, off_t len)
{
    ensure_init();
    return do_truncate(real_ftruncate64 ? real_ftruncate64 : real_ftruncate, fd, len);
}

/* FALLOC_FL_KEEP_SIZE only reserves blocks beyond the end: no content to
 * replay. Any other mode changes what the file holds. */
static int do_fallocate(int (*fn)(int, int, off_t, off_t), int fd, int mode, off_t off, off_t len)
{
    if (kind_of(fd) == FD_DATA && mode != FALLOC_FL_KEEP_SIZE)
        unsupported(fd, "fallocate");
    return fn(fd, mode, off, len);
}

int fallocate(int fd, int mode, off_t off, off_t len)
{
    ensure_init();
    return do_fallocate(real_fallocate, fd, mode, off, len);
}

int fallocate64(int fd, int mode, off_t off, off_t len)
{
    ensure_init();
    return do_fallocate(real_fallocate64 ? real_fallocate64 : real_fallocate, fd, mode, off, len);
}

/* A new store's data.mdb linked into place (see classify). */
static void note_link(int rc, int newdirfd, const char *newpath)
{
    if (rc == 0 && classify(newdirfd, newpath) == FD_DATA) {
        pthread_mutex_lock(&mu);
        trace_rec(PL_REC_LINK, 0, 0, NULL, 0, 0);
        pthread_mutex_unlock(&mu);
    }
}

int link(const char *oldpath, const char *newpath)
{
    ensure_init();
    int rc = real_link(oldpath, newpath), e = errno;
    note_link(rc, AT_FDCWD, newpath);
    errno = e;
    return rc;
}

int linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags)
{
    ensure_init();
    int rc = real_linkat(olddirfd, oldpath, newdirfd, newpath, flags), e = errno;
    note_link(rc, newdirfd, newpath);
    errno = e;
    return rc;
}

/* LMDB calls msync only with MDB_WRITEMAP, whose writes through the map the
 * trace cannot see: refuse rather than build images from half the I/O. */
int msync(void *addr, size_t len, int flags)
{
    ensure_init();
    if (trace_fd >= 0) {
        pthread_mutex_lock(&mu);
        trace_text(PL_REC_UNSUPPORTED, "msync (MDB_WRITEMAP?) in a traced process");
        pthread_mutex_unlock(&mu);
    }
    return real_msync(addr, len, flags);
}
