/* The power-loss simulation (issue 8, item 2), in the manner of SQLite's
 * crash VFS but at the system-call level, since LMDB does its own I/O.
 *
 *   powerloss SHIM WORKLOAD CHECKER POLICY [kill]
 *
 * Power-loss mode (default), repeated until enough images are checked:
 *   1. pl-workload runs under the LD_PRELOAD shim, which traces every write
 *      and sync of data.mdb and the workload's event log in one ordered
 *      trace, and is killed with SIGKILL after a random number of operations
 *      (it kills itself: replayable) or after a random delay. It starts
 *      from a cleanly closed store made by "pl-workload setup", or (one run
 *      in eight) from an empty directory, so that creating a store is
 *      crashed too.
 *   2. The trace of the killed run is replayed onto the store as it was at
 *      the start; the result must equal the data.mdb the run left (proof that
 *      the trace misses no write).
 *   3. For the end of the trace and for random earlier points (cuts), crash
 *      images are built: every write a barrier made durable (an fdatasync or
 *      fsync covers the file's earlier writes; a write through an O_DSYNC
 *      descriptor is durable when it returns), plus, of the writes no barrier
 *      covered:
 *        none        nothing
 *        all         all of them (what a process kill leaves)
 *        meta-first  only those to the two meta pages
 *        subset      a random subset of the page versions
 *        prefix      the first k of them, in order (a disk that keeps order)
 *        torn        the ones before one write, and random 512-byte sectors
 *                    of that write
 *      Identical images of one cut are checked once.
 *   4. pl-check opens each image in a child process that sees a new boot id
 *      (the shim serves it), with the events the workload saw returned
 *      before the cut; a crash or a hang of the child is a failure.
 *
 * Kill mode ("kill"): the workload is killed with SIGKILL (after a random
 * delay or number of operations) and the store it left is checked as it is:
 * the page cache survived, so every policy must keep everything returned.
 *
 * Environment:
 *   STREAMLOG_POWERLOSS_IMAGES=N     images (power loss) or kills to check (default 200 / 20)
 *   STREAMLOG_POWERLOSS_SEED=S       master seed (default: from the time); printed
 *   STREAMLOG_POWERLOSS_RUN_SEED=S   replay just the run with that seed (printed with each failure)
 *   STREAMLOG_POWERLOSS_NONE=consistent|report
 *                                    SYNC_NONE images must be consistent (default, as the
 *                                    header promises today) or are only reported
 *   STREAMLOG_POWERLOSS_NO_SUB=1     the workload leaves the durable subscription alone
 *                                    (to see whether a failure needs its commits)
 *   STREAMLOG_POWERLOSS_KEEP=1       keep the work directory with the failing images
 *   STREAMLOG_POWERLOSS_TIMEOUT_S=T  a check that runs longer has hung (default 60)
 *
 * The exit status is 0 when every image kept the policy's guarantees (or
 * NONE is only reported), 1 otherwise, 70 when the harness itself failed. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "plcommon.h"
#include "pltrace.h"

#define SECTOR 512
#define CUTS_PER_RUN 4 /* the end of the trace and three earlier points */

enum image_kind { IMG_NONE, IMG_ALL, IMG_META_FIRST, IMG_SUBSET, IMG_PREFIX, IMG_TORN, IMG_KINDS };
static const char *const kind_names[IMG_KINDS] = {"none", "all", "meta-first", "subset", "prefix", "torn"};

static const char *shim_path, *workload_path, *checker_path, *policy;
static char work[1024];
static char preload[8192];
static long page_size;
static int check_timeout_s = 60;

/* ---- small utilities ---- */

static void harness_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void harness_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "powerloss: harness error: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (work directory %s kept)\n", work);
    va_end(ap);
    exit(PL_EXIT_HARNESS);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        harness_fail("out of memory");
    return p;
}

static char *path_of(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *path_of(const char *fmt, ...)
{
    static char bufs[8][4096];
    static int next;
    char *b = bufs[next++ % 8];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, 4096, fmt, ap);
    va_end(ap);
    return b;
}

static unsigned char *read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        harness_fail("cannot open %s: %s", path, strerror(errno));
    struct stat sb;
    fstat(fd, &sb);
    unsigned char *buf = xmalloc((size_t)sb.st_size);
    size_t got = 0;
    while (got < (size_t)sb.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)sb.st_size - got);
        if (n <= 0)
            harness_fail("cannot read %s", path);
        got += (size_t)n;
    }
    close(fd);
    *len = got;
    return buf;
}

static void write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        harness_fail("cannot create %s: %s", path, strerror(errno));
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, (const char *)data + done, len - done);
        if (n <= 0)
            harness_fail("cannot write %s", path);
        done += (size_t)n;
    }
    close(fd);
}

static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (!d) {
        unlink(path);
        return;
    }
    struct dirent *e;
    char child[4096];
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(child, sizeof child, "%s/%s", path, e->d_name);
            remove_tree(child);
        }
    }
    closedir(d);
    rmdir(path);
}

/* Copy a store directory's lock.mdb and procs/ entries (what a crash leaves
 * besides data.mdb: stale, as after a real crash). */
static void copy_store_extras(const char *from, const char *to)
{
    size_t len;
    if (access(path_of("%s/lock.mdb", from), F_OK) == 0) {
        unsigned char *b = read_file(path_of("%s/lock.mdb", from), &len);
        write_file(path_of("%s/lock.mdb", to), b, len);
        free(b);
    }
    DIR *d = opendir(path_of("%s/procs", from));
    if (!d)
        return;
    mkdir(path_of("%s/procs", to), 0755);
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            write_file(path_of("%s/procs/%s", to, e->d_name), "", 0);
    closedir(d);
}

/* The sanitizer runtime must come first in LD_PRELOAD, before the shim. */
static int find_asan(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    if (info->dlpi_name && strstr(info->dlpi_name, "libasan.so")) {
        snprintf(data, 4096, "%s", info->dlpi_name);
        return 1;
    }
    return 0;
}

static void setup_preload(void)
{
    char asan[4096] = "";
    dl_iterate_phdr(find_asan, asan);
    if (asan[0])
        snprintf(preload, sizeof preload, "%s:%s", asan, shim_path);
    else
        snprintf(preload, sizeof preload, "%s", shim_path);
}

/* ---- child processes ---- */

struct child_result {
    int status;        /* from waitpid */
    int hung;          /* killed at the deadline */
    char out[4096];    /* its stdout (the checker's FAIL lines) */
    char err[2048];    /* the start of its stderr (an LMDB assertion, a sanitizer report) */
};

/* Run argv with extra environment entries (NAME=VALUE, NULL-terminated);
 * kill it after timeout_s (0: never) or at kill_after_ms (>= 0). */
static void run_child(char *const argv[], char *const env[], int timeout_s, long kill_after_ms,
                      struct child_result *res)
{
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC))
        harness_fail("pipe: %s", strerror(errno));
    char err_path[1100];
    snprintf(err_path, sizeof err_path, "%s/child.stderr", work);
    int err_fd = open(err_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (err_fd < 0)
        harness_fail("cannot create %s", err_path);
    pid_t pid = fork();
    if (pid < 0)
        harness_fail("fork: %s", strerror(errno));
    if (pid == 0) {
        setpgid(0, 0); /* so that a kill reaches anything it started */
        for (int i = 0; env && env[i]; i++)
            putenv(env[i]);
        dup2(pfd[1], 1);
        dup2(err_fd, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    close(pfd[1]);
    fcntl(pfd[0], F_SETFL, O_NONBLOCK);
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    size_t got = 0;
    res->hung = 0;
    for (;;) {
        ssize_t n;
        while (got < sizeof res->out - 1 && (n = read(pfd[0], res->out + got, sizeof res->out - 1 - got)) > 0)
            got += (size_t)n;
        pid_t w = waitpid(pid, &res->status, WNOHANG);
        if (w == pid)
            break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long ms = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if ((timeout_s > 0 && ms > timeout_s * 1000L) || (kill_after_ms >= 0 && ms >= kill_after_ms)) {
            kill(-pid, SIGKILL);
            waitpid(pid, &res->status, 0);
            res->hung = kill_after_ms < 0;
            break;
        }
        nanosleep(&(struct timespec){0, 2000000}, NULL);
    }
    ssize_t n;
    while (got < sizeof res->out - 1 && (n = read(pfd[0], res->out + got, sizeof res->out - 1 - got)) > 0)
        got += (size_t)n;
    res->out[got] = '\0';
    close(pfd[0]);
    ssize_t e = pread(err_fd, res->err, sizeof res->err - 1, 0);
    res->err[e > 0 ? e : 0] = '\0';
    close(err_fd);
}

static void run_setup(const char *dir)
{
    char *argv[] = {(char *)workload_path, "setup", (char *)dir, (char *)policy, NULL};
    struct child_result r;
    run_child(argv, NULL, 0, -1, &r);
    if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0)
        harness_fail("pl-workload setup failed (status %#x): %s", r.status, r.err);
}

/* Start the workload; returns once it is dead. */
static void run_workload(const char *store, const char *events, const char *trace, uint64_t seed, long max_ops,
                         long kill_after_ms)
{
    char seed_s[32], ops_s[32];
    snprintf(seed_s, sizeof seed_s, "%#llx", (unsigned long long)seed);
    snprintf(ops_s, sizeof ops_s, "%ld", max_ops);
    char *argv[] = {(char *)workload_path, "run", (char *)store, (char *)policy, (char *)events, seed_s, ops_s, NULL};
    static char env_trace[4200], env_dir[4200], env_side[4200], env_preload[8300];
    char *env[5] = {NULL};
    if (trace) {
        snprintf(env_trace, sizeof env_trace, "PL_TRACE=%s", trace);
        snprintf(env_dir, sizeof env_dir, "PL_DIR=%s", store);
        snprintf(env_side, sizeof env_side, "PL_SIDE_LOG=%s", events);
        snprintf(env_preload, sizeof env_preload, "LD_PRELOAD=%s", preload);
        env[0] = env_trace, env[1] = env_dir, env[2] = env_side, env[3] = env_preload;
    }
    struct child_result r;
    run_child(argv, env, 0, kill_after_ms, &r);
    if (!WIFSIGNALED(r.status) || WTERMSIG(r.status) != SIGKILL)
        harness_fail("pl-workload (seed %s) ended with status %#x instead of being killed: %s", seed_s, r.status, r.err);
}

/* ---- the trace ---- */

#define WRITE_UNFINISHED 0x100u /* no PL_REC_DONE followed: the kill came during the call */

struct rec {
    uint32_t type, flags, len;
    uint64_t off;
    const unsigned char *data;
};

struct trace {
    unsigned char *buf;
    size_t size;
    struct rec *recs;
    size_t n;
};

static void load_trace(const char *path, struct trace *t)
{
    t->buf = read_file(path, &t->size);
    size_t cap = 1024, pos = 0;
    t->recs = xmalloc(cap * sizeof *t->recs);
    t->n = 0;
    while (pos + sizeof(struct pl_rec) <= t->size) {
        struct pl_rec h;
        memcpy(&h, t->buf + pos, sizeof h);
        uint32_t hcrc = h.hcrc;
        h.hcrc = 0;
        if (h.magic != PL_TRACE_MAGIC || hcrc != (uint32_t)crc32(0, (const Bytef *)&h, sizeof h) ||
            pos + sizeof h + h.len > t->size)
            break; /* the record the kill cut short */
        const unsigned char *data = t->buf + pos + sizeof h;
        if ((uint32_t)crc32(0, data, h.len) != h.crc)
            break;
        if (h.type == PL_REC_UNSUPPORTED)
            harness_fail("the workload did I/O the simulation cannot replay: %.*s", (int)h.len, (const char *)data);
        pos += sizeof h + h.len;
        if (h.type == PL_REC_DONE) {
            /* the result of the write just before it (the shim's mutex keeps them adjacent) */
            struct rec *w = t->n ? &t->recs[t->n - 1] : NULL;
            if (!w || w->type != PL_REC_WRITE || !(w->flags & WRITE_UNFINISHED))
                harness_fail("a write result without its write in the trace");
            int64_t ret = (int64_t)h.off;
            w->flags &= ~WRITE_UNFINISHED;
            if (ret <= 0)
                t->n--; /* it wrote nothing */
            else if ((uint64_t)ret < w->len)
                w->len = (uint32_t)ret;
            continue;
        }
        if (t->n == cap)
            t->recs = realloc(t->recs, (cap *= 2) * sizeof *t->recs);
        uint32_t flags = h.flags | (h.type == PL_REC_WRITE ? WRITE_UNFINISHED : 0);
        t->recs[t->n++] = (struct rec){h.type, flags, h.len, h.off, data};
    }
    /* A write the kill interrupted may or may not have reached the file, and
     * no barrier covers it: it is an unsynced write whatever its descriptor. */
    for (size_t i = 0; i < t->n; i++)
        if (t->recs[i].flags & WRITE_UNFINISHED)
            t->recs[i].flags &= ~PL_WRITE_DURABLE;
}

/* A growable file image. */
struct image {
    unsigned char *b;
    size_t len, cap;
};

static void image_reset(struct image *im, const unsigned char *base, size_t len)
{
    if (im->cap < len) {
        im->b = realloc(im->b, len);
        im->cap = len;
    }
    if (len)
        memcpy(im->b, base, len);
    im->len = len;
}

static void image_write(struct image *im, uint64_t off, const unsigned char *data, size_t len)
{
    if (off + len > im->cap) {
        size_t cap = (size_t)(off + len) * 2;
        im->b = realloc(im->b, cap);
        im->cap = cap;
    }
    if (off > im->len)
        memset(im->b + im->len, 0, (size_t)off - im->len);
    memcpy(im->b + off, data, len);
    if (off + len > im->len)
        im->len = (size_t)(off + len);
}

static void image_apply(struct image *im, const struct rec *r)
{
    if (r->type == PL_REC_WRITE) {
        image_write(im, r->off, r->data, r->len);
    } else if (r->type == PL_REC_TRUNCATE) {
        if (r->off > im->len)
            image_write(im, r->off, (const unsigned char *)"", 0);
        im->len = (size_t)r->off;
    }
}

/* Apply bytes [from, to) of a write record. */
static void image_apply_part(struct image *im, const struct rec *r, size_t from, size_t to)
{
    image_write(im, r->off + from, r->data + from, to - from);
}

static uint64_t image_hash(const struct image *im)
{
    uint64_t h = 1469598103934665603ull ^ im->len;
    for (size_t i = 0; i < im->len; i++)
        h = (h ^ im->b[i]) * 1099511628211ull;
    return h;
}

/* Build one image of records [0, cut) of the given kind. */
static void build_image(const struct trace *t, size_t cut, enum image_kind kind, uint64_t seed,
                        const unsigned char *base, size_t base_len, struct image *im)
{
    /* A new store's data.mdb is linked into place once it is complete and
     * synced: a cut before that finds no data.mdb (an empty one here, which
     * opens as a new store). */
    for (size_t i = cut; i < t->n; i++)
        if (t->recs[i].type == PL_REC_LINK) {
            image_reset(im, base, 0);
            return;
        }
    size_t synced_before = 0; /* records before it are covered by a barrier */
    for (size_t i = 0; i < cut; i++)
        if (t->recs[i].type == PL_REC_SYNC)
            synced_before = i;
    /* the unsynced writes and truncations, in order */
    size_t nu = 0;
    size_t *u = xmalloc((cut + 1) * sizeof *u);
    for (size_t i = 0; i < cut; i++) {
        const struct rec *r = &t->recs[i];
        if ((r->type == PL_REC_WRITE || r->type == PL_REC_TRUNCATE) && i >= synced_before &&
            !(r->flags & PL_WRITE_DURABLE))
            u[nu++] = i;
    }
    uint64_t rng = seed;
    size_t prefix = nu ? 1 + pl_below(&rng, nu) : 0;
    size_t torn = nu ? pl_below(&rng, nu) : 0;
    image_reset(im, base, base_len);
    size_t k = 0; /* index into u */
    for (size_t i = 0; i < cut; i++) {
        const struct rec *r = &t->recs[i];
        if (r->type != PL_REC_WRITE && r->type != PL_REC_TRUNCATE)
            continue;
        if (k >= nu || u[k] != i) { /* durable */
            image_apply(im, r);
            continue;
        }
        size_t pos = k++;
        switch (kind) {
        case IMG_NONE:
            break;
        case IMG_ALL:
            image_apply(im, r);
            break;
        case IMG_PREFIX:
            if (pos < prefix)
                image_apply(im, r);
            break;
        case IMG_META_FIRST:
        case IMG_SUBSET:
            if (r->type == PL_REC_TRUNCATE) {
                if (kind == IMG_SUBSET && pl_below(&rng, 2))
                    image_apply(im, r);
                break;
            }
            /* page by page: one page version each */
            for (size_t from = 0; from < r->len;) {
                uint64_t page = (r->off + from) / (uint64_t)page_size;
                size_t to = (size_t)((page + 1) * (uint64_t)page_size - r->off);
                if (to > r->len)
                    to = r->len;
                int take = kind == IMG_META_FIRST ? page < 2 : (int)pl_below(&rng, 2);
                if (take)
                    image_apply_part(im, r, from, to);
                from = to;
            }
            break;
        case IMG_TORN:
            if (pos < torn) {
                image_apply(im, r);
            } else if (pos == torn && r->type == PL_REC_WRITE) {
                size_t nsec = 0;
                for (size_t from = 0; from < r->len; nsec++)
                    from = (size_t)(((r->off + from) / SECTOR + 1) * SECTOR - r->off);
                size_t skip = pl_below(&rng, nsec), sec = 0; /* one sector surely missing */
                for (size_t from = 0; from < r->len; sec++) {
                    size_t to = (size_t)(((r->off + from) / SECTOR + 1) * SECTOR - r->off);
                    if (to > r->len)
                        to = r->len;
                    if (sec != skip && pl_below(&rng, 2))
                        image_apply_part(im, r, from, to);
                    from = to;
                }
            }
            break;
        default:
            break;
        }
    }
    free(u);
}

/* The workload's event lines traced before the cut, with an "F" line where
 * an fdatasync/fsync of data.mdb completed: whoever called it (the workload
 * through streamlog_sync, or the library's interval sync), every commit
 * before it is durable. */
static void write_events(const struct trace *t, size_t cut, const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        harness_fail("cannot create %s", path);
    for (size_t i = 0; i < cut; i++) {
        const struct rec *r = &t->recs[i];
        if ((r->type == PL_REC_MARK && write(fd, r->data, r->len) != (ssize_t)r->len) ||
            (r->type == PL_REC_SYNC && write(fd, "F\n", 2) != 2))
            harness_fail("cannot write %s", path);
    }
    close(fd);
}

/* ---- checking and reporting ---- */

#define MAX_FAILURE_KINDS 64
static struct {
    char name[64];
    int count;
} failure_kinds[MAX_FAILURE_KINDS];
static int images_checked, images_failed;
static int runs_killed_in_write; /* power-loss runs whose kill came inside a data.mdb write */
static unsigned long total_msgs, total_required, total_unacked; /* from the checkers' STATS lines */
static int by_kind_checked[IMG_KINDS], by_kind_failed[IMG_KINDS];

static void count_failure(const char *name)
{
    for (int i = 0; i < MAX_FAILURE_KINDS; i++) {
        if (!failure_kinds[i].name[0])
            snprintf(failure_kinds[i].name, sizeof failure_kinds[i].name, "%s", name);
        if (!strcmp(failure_kinds[i].name, name)) {
            failure_kinds[i].count++;
            return;
        }
    }
}

/* Classify a checker's outcome; returns 1 when the image failed. */
static int judge(const struct child_result *r, const char *label)
{
    char kinds[1024] = "";
    if (r->hung) {
        count_failure("hang");
        snprintf(kinds, sizeof kinds, "hang (no result within %d s)", check_timeout_s);
    } else if (WIFSIGNALED(r->status)) {
        char name[64], asan_sig[16];
        const char *rep = strstr(r->err, "AddressSanitizer: ");
        if (rep && sscanf(rep, "AddressSanitizer: %15[A-Z]", asan_sig) == 1) /* ASan turns SIGBUS/SIGSEGV into abort */
            snprintf(name, sizeof name, "crash:%s", asan_sig);
        else
            snprintf(name, sizeof name, "crash:%s",
                     sigabbrev_np(WTERMSIG(r->status)) ? sigabbrev_np(WTERMSIG(r->status)) : "?");
        count_failure(name);
        snprintf(kinds, sizeof kinds, "%s", name);
    } else if (WEXITSTATUS(r->status) == PL_EXIT_HARNESS || WEXITSTATUS(r->status) == 127) {
        harness_fail("pl-check failed to run on %s:\n%s%s", label, r->out, r->err);
    } else if (WEXITSTATUS(r->status) != 0) {
        /* one count per distinct kind of FAIL line in this image */
        int any = 0;
        for (const char *p = r->out; (p = strstr(p, "FAIL ")); p++) {
            char name[64];
            if (sscanf(p, "FAIL %63[^:]", name) != 1)
                continue;
            if (!strcmp(name, "open") || !strcmp(name, "open-new-store")) { /* name the code */
                char code[40];
                if (sscanf(p + 5 + strlen(name), ": %39s", code) == 1) {
                    size_t nl = strlen(name);
                    snprintf(name + nl, sizeof name - nl, ":%s", code);
                }
            }
            char tag[80], padded[1100];
            snprintf(tag, sizeof tag, ", %s,", name);
            snprintf(padded, sizeof padded, ", %s,", kinds);
            if (strstr(padded, tag))
                continue; /* one count per kind and image */
            if (strlen(kinds) + strlen(name) + 2 < sizeof kinds)
                strcat(strcat(kinds, kinds[0] ? ", " : ""), name);
            count_failure(name);
            any = 1;
        }
        if (!any) {
            count_failure("exit-status");
            snprintf(kinds, sizeof kinds, "exit status %d", WEXITSTATUS(r->status));
        }
    } else {
        return 0;
    }
    printf("FAIL %s: %s\n", label, kinds);
    /* the checker's own lines, indented */
    for (const char *p = r->out; *p;) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (strncmp(p, "STATS ", 6))
            printf("    %.*s\n", (int)n, p);
        p += n + (e != NULL);
    }
    /* and the first lines of its stderr */
    int lines = 0;
    for (const char *p = r->err; *p && lines < 3;) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n && strncmp(p, "AddressSanitizer:DEADLYSIGNAL", 29) && strncmp(p, "====", 4) && p[0] != '\n') {
            printf("    stderr: %.*s\n", (int)n, p);
            lines++;
        }
        p += n + (e != NULL);
    }
    return 1;
}

static void check_image(const char *dir, const char *events, const char *mode, int new_boot, const char *label,
                        int img_kind)
{
    char *argv[] = {(char *)checker_path, (char *)dir, (char *)policy, (char *)events, (char *)mode, NULL};
    static char env_boot[128], env_preload[8300];
    char *env[3] = {NULL};
    if (new_boot) {
        /* a random boot id, as after the reboot that follows a power loss */
        unsigned char u[16];
        uint64_t s = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32 ^ (uint64_t)images_checked * 7919;
        for (int i = 0; i < 16; i++)
            u[i] = (unsigned char)pl_rand(&s);
        snprintf(env_boot, sizeof env_boot,
                 "PL_BOOT_ID=%02x%02x%02x%02x-%02x%02x-4%01x%02x-a%01x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1],
                 u[2], u[3], u[4], u[5], u[6] & 15, u[7], u[8] & 15, u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
        snprintf(env_preload, sizeof env_preload, "LD_PRELOAD=%s", preload);
        env[0] = env_boot, env[1] = env_preload;
    }
    struct child_result r;
    run_child(argv, env, check_timeout_s, -1, &r);
    const char *stats = strstr(r.out, "STATS ");
    unsigned long m, q, u;
    if (stats && sscanf(stats, "STATS %lu %lu %lu", &m, &q, &u) == 3)
        total_msgs += m, total_required += q, total_unacked += u;
    int failed = judge(&r, label);
    images_checked++;
    images_failed += failed;
    if (img_kind >= 0) {
        by_kind_checked[img_kind]++;
        by_kind_failed[img_kind] += failed;
    }
    if (failed && getenv("STREAMLOG_POWERLOSS_KEEP")) {
        static int kept;
        char *keep = path_of("%s/failed-%d", work, ++kept);
        mkdir(keep, 0755);
        rename(dir, path_of("%s/store", keep));
        size_t len;
        unsigned char *ev = read_file(events, &len);
        write_file(path_of("%s/events", keep), ev, len);
        free(ev);
        printf("    kept in %s\n", keep);
    }
}

/* The checker must see a new boot id under the shim, through open() and
 * fopen(): a library may read it to tell a power loss from a process crash. */
static void check_boot_id_served(void)
{
    const char *fake = "00000000-0000-4000-8000-00000000b007";
    char *argv[] = {(char *)checker_path, "boot-id", NULL};
    static char env_boot[128], env_preload[8300];
    snprintf(env_boot, sizeof env_boot, "PL_BOOT_ID=%s", fake);
    snprintf(env_preload, sizeof env_preload, "LD_PRELOAD=%s", preload);
    char *env[] = {env_boot, env_preload, NULL};
    struct child_result r;
    run_child(argv, env, check_timeout_s, -1, &r);
    char want[256];
    snprintf(want, sizeof want, "%s\n%s\n", fake, fake);
    if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) || strcmp(r.out, want))
        harness_fail("the shim does not serve a new boot id: the checker read '%s'", r.out);
    char *plain_argv[] = {(char *)checker_path, "boot-id", NULL};
    run_child(plain_argv, NULL, check_timeout_s, -1, &r);
    if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) || strstr(r.out, fake))
        harness_fail("reading the boot id without the shim failed: '%s'", r.out);
}

static uint64_t env_u64(const char *name, uint64_t dflt)
{
    const char *v = getenv(name);
    return v && *v ? strtoull(v, NULL, 0) : dflt;
}

/* ---- the two modes ---- */

static void powerloss_run(uint64_t run_seed, const unsigned char *base, size_t base_len)
{
    uint64_t rng = run_seed;
    char run[1536];
    snprintf(run, sizeof run, "%s/run", work);
    remove_tree(run);
    mkdir(run, 0755);
    char store[2048], events[2048], trace_path[2048];
    snprintf(store, sizeof store, "%s/store", run);
    snprintf(events, sizeof events, "%s/events", run);
    snprintf(trace_path, sizeof trace_path, "%s/trace", run);
    mkdir(store, 0755);
    /* one run in eight starts from an empty directory: creation must survive too */
    int fresh = pl_below(&rng, 8) == 0;
    if (fresh)
        base_len = 0;
    else
        write_file(path_of("%s/data.mdb", store), base, base_len);
    /* half the runs die after a number of operations (replayable), half after
     * a delay (any moment, also inside a write) */
    int by_ops = (int)pl_below(&rng, 2);
    long max_ops = by_ops ? 20 + (long)pl_below(&rng, 300) : 2000; /* bounds the trace */
    long delay_ms = by_ops ? -1 : 20 + (long)pl_below(&rng, 400);
    write_file(trace_path, "", 0); /* a kill may come before the first traced call */
    run_workload(store, events, trace_path, pl_rand(&rng), max_ops, delay_ms);

    struct trace t;
    load_trace(trace_path, &t);
    struct image im = {0};
    /* The trace must reproduce the file the run left: else it missed I/O.
     * Where a write was cut short by the kill, the file may hold any part of
     * it: compare the rest. */
    build_image(&t, t.n, IMG_ALL, 0, base, base_len, &im);
    size_t real_len;
    unsigned char *real = read_file(path_of("%s/data.mdb", store), &real_len);
    uint64_t skip_from = 0, skip_to = 0;
    size_t min_len = im.len;
    for (size_t i = 0; i < t.n; i++) {
        if (t.recs[i].flags & WRITE_UNFINISHED) {
            struct trace without = t;
            without.n = i; /* it is the last write */
            struct image im0 = {0};
            build_image(&without, i, IMG_ALL, 0, base, base_len, &im0);
            min_len = im0.len;
            free(im0.b);
            skip_from = t.recs[i].off, skip_to = t.recs[i].off + t.recs[i].len;
            runs_killed_in_write++;
        }
    }
    int same = real_len >= min_len && real_len <= im.len;
    for (size_t i = 0; same && i < real_len; i++)
        same = real[i] == im.b[i] || (i >= skip_from && i < skip_to);
    if (!same)
        harness_fail("replaying the trace of run %#llx does not give the data.mdb it left (%zu vs %zu bytes)",
                     (unsigned long long)run_seed, im.len, real_len);
    free(real);

    /* Cuts: the end; just after a random write; just after a random write
     * of a meta page that no barrier covered yet (the moment an unordered
     * disk can betray a commit, rare among all writes); another random write. */
    size_t nwrites = 0, nmeta = 0;
    for (size_t i = 0; i < t.n; i++) {
        const struct rec *r = &t.recs[i];
        nwrites += r->type == PL_REC_WRITE;
        nmeta += r->type == PL_REC_WRITE && !(r->flags & PL_WRITE_DURABLE) && r->off < 2 * (uint64_t)page_size;
    }
    for (int c = 0; c < CUTS_PER_RUN; c++) {
        size_t cut = t.n;
        int meta = c == 2 && nmeta > 0;
        if (c > 0 && nwrites > 0) {
            size_t w = pl_below(&rng, meta ? nmeta : nwrites);
            for (size_t i = 0; i < t.n; i++) {
                const struct rec *r = &t.recs[i];
                if (r->type != PL_REC_WRITE ||
                    (meta && ((r->flags & PL_WRITE_DURABLE) || r->off >= 2 * (uint64_t)page_size)))
                    continue;
                if (w-- == 0) {
                    cut = i + 1;
                    break;
                }
            }
        }
        char ev[2048];
        snprintf(ev, sizeof ev, "%s/events-%d", run, c);
        write_events(&t, cut, ev);
        uint64_t seen[IMG_KINDS];
        int nseen = 0;
        for (int k = 0; k < IMG_KINDS; k++) {
            uint64_t img_seed = pl_rand(&rng);
            build_image(&t, cut, (enum image_kind)k, img_seed, base, base_len, &im);
            uint64_t h = image_hash(&im);
            int dup = 0;
            for (int i = 0; i < nseen; i++)
                dup |= seen[i] == h;
            if (dup)
                continue;
            seen[nseen++] = h;
            char img[2048];
            snprintf(img, sizeof img, "%s/image", run);
            remove_tree(img);
            mkdir(img, 0755);
            write_file(path_of("%s/data.mdb", img), im.b, im.len);
            copy_store_extras(store, img);
            char label[256];
            snprintf(label, sizeof label, "policy=%s run-seed=%#llx%s%s cut=%zu/%zu image=%s image-seed=%#llx",
                     policy, (unsigned long long)run_seed, fresh ? " (new store)" : "",
                     by_ops ? "" : " (killed after a delay: replays differ)", cut, t.n, kind_names[k],
                     (unsigned long long)img_seed);
            check_image(img, ev, "powerloss", 1, label, k);
            remove_tree(img);
        }
    }
    free(im.b);
    free(t.recs);
    free(t.buf);
}

static void kill_run(uint64_t run_seed, const unsigned char *base, size_t base_len)
{
    uint64_t rng = run_seed;
    char run[1536];
    snprintf(run, sizeof run, "%s/run", work);
    remove_tree(run);
    mkdir(run, 0755);
    char store[2048], events[2048];
    snprintf(store, sizeof store, "%s/store", run);
    snprintf(events, sizeof events, "%s/events", run);
    mkdir(store, 0755);
    int fresh = pl_below(&rng, 8) == 0; /* from an empty directory */
    if (!fresh)
        write_file(path_of("%s/data.mdb", store), base, base_len);
    /* half the runs die after a number of operations, half after a delay */
    int by_ops = (int)pl_below(&rng, 2);
    long max_ops = by_ops ? 20 + (long)pl_below(&rng, 300) : 2000; /* bounds the run */
    long delay_ms = by_ops ? -1 : 20 + (long)pl_below(&rng, 400);
    write_file(events, "", 0); /* a kill may come before the workload opens it */
    run_workload(store, events, NULL, pl_rand(&rng), max_ops, delay_ms);
    char label[256];
    snprintf(label, sizeof label, "policy=%s run-seed=%#llx%s kill after %s %ld", policy, (unsigned long long)run_seed,
             fresh ? " (new store)" : "", by_ops ? "operations" : "ms", by_ops ? max_ops : delay_ms);
    check_image(store, events, "kill", 0, label, -1);
}

int main(int argc, char **argv)
{
    if (argc < 5 || argc > 6 || (argc == 6 && strcmp(argv[5], "kill")) ||
        (strcmp(argv[4], "always") && strcmp(argv[4], "interval") && strcmp(argv[4], "none"))) {
        fprintf(stderr, "usage: powerloss SHIM WORKLOAD CHECKER always|interval|none [kill]\n");
        return PL_EXIT_HARNESS;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    /* absolute paths: the children run elsewhere, and LD_PRELOAD wants one */
    static char abs_paths[3][4096];
    for (int i = 0; i < 3; i++) {
        if (!realpath(argv[1 + i], abs_paths[i])) {
            fprintf(stderr, "powerloss: %s: %s\n", argv[1 + i], strerror(errno));
            return PL_EXIT_HARNESS;
        }
    }
    shim_path = abs_paths[0], workload_path = abs_paths[1], checker_path = abs_paths[2], policy = argv[4];
    int kill_mode = argc == 6;
    page_size = sysconf(_SC_PAGESIZE);
    check_timeout_s = (int)env_u64("STREAMLOG_POWERLOSS_TIMEOUT_S", 60);
    const char *none_mode = getenv("STREAMLOG_POWERLOSS_NONE");
    if (none_mode && *none_mode && strcmp(none_mode, "consistent") && strcmp(none_mode, "report")) {
        fprintf(stderr, "powerloss: STREAMLOG_POWERLOSS_NONE must be 'consistent' or 'report'\n");
        return PL_EXIT_HARNESS;
    }
    int report_only = !kill_mode && !strcmp(policy, "none") && none_mode && !strcmp(none_mode, "report");
    uint64_t target = env_u64("STREAMLOG_POWERLOSS_IMAGES", kill_mode ? 20 : 200);
    uint64_t master = env_u64("STREAMLOG_POWERLOSS_SEED", (uint64_t)time(NULL) * 1000003u ^ (uint64_t)getpid());
    const char *replay = getenv("STREAMLOG_POWERLOSS_RUN_SEED");
    setup_preload();

    const char *tmp = getenv("TMPDIR");
    snprintf(work, sizeof work, "%s/streamlog-powerloss-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(work)) {
        fprintf(stderr, "powerloss: mkdtemp: %s\n", strerror(errno));
        return PL_EXIT_HARNESS;
    }
    printf("powerloss: %s, policy %s, seed %#llx%s (replay: STREAMLOG_POWERLOSS_SEED=%#llx; one run: "
           "STREAMLOG_POWERLOSS_RUN_SEED=<run-seed>)\n",
           kill_mode ? "process kill" : "power loss", policy, (unsigned long long)master,
           report_only ? ", NONE failures reported only" : "", (unsigned long long)master);

    char base_dir[2048];
    snprintf(base_dir, sizeof base_dir, "%s/base", work);
    if (!kill_mode)
        check_boot_id_served();
    run_setup(base_dir);
    size_t base_len;
    unsigned char *base = read_file(path_of("%s/data.mdb", base_dir), &base_len);

    int runs = 0;
    for (uint64_t r = 0; replay ? r < 1 : (uint64_t)images_checked < target; r++) {
        uint64_t s = master + r;
        uint64_t run_seed = replay ? strtoull(replay, NULL, 0) : pl_rand(&s);
        if (kill_mode)
            kill_run(run_seed, base, base_len);
        else
            powerloss_run(run_seed, base, base_len);
        runs++;
    }
    free(base);

    printf("powerloss: policy %s, %s: %d runs, %d %s checked, %d failed\n", policy,
           kill_mode ? "process kill" : "power loss", runs, images_checked, kill_mode ? "kills" : "images",
           images_failed);
    printf("  verified: %lu stored messages read, %lu required appends found, %lu unacked messages the durable "
           "had to deliver\n",
           total_msgs, total_required, total_unacked);
    if (!kill_mode)
        printf("  runs killed inside a write to data.mdb: %d\n", runs_killed_in_write);
    if (!kill_mode)
        for (int k = 0; k < IMG_KINDS; k++)
            printf("  image %-10s %4d checked, %4d failed\n", kind_names[k], by_kind_checked[k], by_kind_failed[k]);
    for (int i = 0; i < MAX_FAILURE_KINDS && failure_kinds[i].name[0]; i++)
        printf("  failure %-28s in %d image(s)\n", failure_kinds[i].name, failure_kinds[i].count);
    if (images_failed && getenv("STREAMLOG_POWERLOSS_KEEP")) {
        printf("powerloss: failing images kept under %s\n", work);
    } else {
        remove_tree(work);
    }
    if (images_failed && report_only) {
        printf("powerloss: SYNC_NONE failures reported only (STREAMLOG_POWERLOSS_NONE=report)\n");
        return 0;
    }
    return images_failed ? PL_EXIT_FAIL : 0;
}
