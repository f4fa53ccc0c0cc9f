/*
 * subs_util.h - helpers shared by the subscription suites (test/subs/test_*.c),
 * on top of test_util.h. Header-only: every function is static.
 *
 * Test-process helpers fail the running Check test (ck_assert). Child
 * processes (forked by a test, always before the forking process opens a
 * store) report failures with SU_CCHECK / su_cfail instead, which write the
 * failure text to a pipe the test reads in su_reap().
 */
#ifndef STREAMLOG_SUBS_UTIL_H
#define STREAMLOG_SUBS_UTIL_H

#include "test_util.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- options ---- */

static inline streamlog_opts *su_opts(void)
{
    streamlog_opts *o = NULL;
    TU_OK(streamlog_opts_new(&o));
    return o;
}

static inline void su_int(streamlog_opts *o, int key, int64_t v)
{
    TU_OK(streamlog_opts_set_int(o, key, v));
}

static inline void su_str(streamlog_opts *o, int key, const char *v)
{
    TU_OK(streamlog_opts_set_str(o, key, v));
}

/* ---- stores ---- */

/* The test store (tu_store), opened without syncs: these suites test
 * delivery, not durability. */
static inline streamlog_store *su_open_store(void)
{
    return tu_open1(STREAMLOG_OPT_SYNC, STREAMLOG_SYNC_NONE);
}

/* The same for a forked child, which cannot use ck_assert: NULL on failure. */
static inline streamlog_store *su_open_store_or_null(void)
{
    streamlog_opts *o = NULL;
    streamlog_store *st = NULL;
    if (streamlog_opts_new(&o) || streamlog_opts_set_int(o, STREAMLOG_OPT_SYNC, STREAMLOG_SYNC_NONE) ||
        streamlog_open(tu_store, o, &st))
        st = NULL;
    streamlog_opts_free(o);
    return st;
}

/* ---- messages ---- */

/* Append "m<seq>" payloads until the channel's last sequence is @p last;
 * checks that the sequences are the expected ones. */
static inline void su_fill_to(streamlog_channel *ch, uint64_t last)
{
    streamlog_channel_stats s = tu_stats(ch);
    for (uint64_t seq = s.last_seq + 1; seq <= last; seq++) {
        char buf[32];
        snprintf(buf, sizeof buf, "m%" PRIu64, seq);
        uint64_t got = tu_append_str(ch, buf);
        ck_assert_uint_eq(got, seq);
    }
}

/* Check a delivered message's payload against su_fill_to's "m<seq>". */
static inline void su_check_payload(const streamlog_msg *m)
{
    char exp[32];
    uint64_t seq = streamlog_msg_seq(m);
    int n = snprintf(exp, sizeof exp, "m%" PRIu64, seq);
    size_t len = 0;
    const void *d = streamlog_msg_data(m, &len);
    ck_assert_msg(len == (size_t)n && d && memcmp(d, exp, len) == 0, "payload of #%" PRIu64 " is not \"%s\"",
                  seq, exp);
}

/* A store (su_open_store) and a channel "c" holding messages 1..n. */
struct su_fix {
    streamlog_store *st;
    streamlog_channel *ch;
};

static inline struct su_fix su_fix_open(uint64_t n)
{
    struct su_fix f;
    f.st = su_open_store();
    f.ch = tu_chan(f.st, "c", NULL);
    su_fill_to(f.ch, n);
    return f;
}

static inline void su_fix_close(struct su_fix *f)
{
    streamlog_channel_close(f->ch);
    TU_OK(streamlog_close(f->st));
}

/* ---- subscriptions ---- */

static inline streamlog_sub *su_subscribe(streamlog_channel *ch, const streamlog_opts *o)
{
    streamlog_sub *s = NULL;
    TU_OK(streamlog_subscribe(ch, o, &s));
    ck_assert_ptr_nonnull(s);
    return s;
}

/* Deliver the next message (which must come within timeout_ms) and return
 * its sequence; its redelivery count goes to *redel when not NULL. The
 * payload is checked against su_fill_to's. */
static inline uint64_t su_next(streamlog_sub *s, int64_t timeout_ms, uint32_t *redel)
{
    const streamlog_msg *m = NULL;
    TU_OK(streamlog_sub_next(s, timeout_ms, &m));
    ck_assert_ptr_nonnull(m);
    su_check_payload(m);
    if (redel)
        *redel = streamlog_msg_redelivery_count(m);
    return streamlog_msg_seq(m);
}

/* Deliver the next message and require its sequence and redelivery count. */
#define SU_EXPECT(sub, timeout_ms, seq, redel)                                                       \
    do {                                                                                             \
        uint32_t su_r_ = 99;                                                                         \
        uint64_t su_s_ = su_next((sub), (timeout_ms), &su_r_);                                       \
        ck_assert_msg(su_s_ == (uint64_t)(seq), "delivered #%" PRIu64 ", expected #%" PRIu64, su_s_, \
                      (uint64_t)(seq));                                                              \
        ck_assert_msg(su_r_ == (uint32_t)(redel), "#%" PRIu64 ": redelivery count %u, expected %u",  \
                      su_s_, su_r_, (unsigned)(redel));                                              \
    } while (0)

/* Nothing deliverable right now. */
#define SU_NOTHING(sub)                                                                               \
    do {                                                                                              \
        const streamlog_msg *su_m_ = NULL;                                                            \
        int su_rc_ = streamlog_sub_next((sub), 0, &su_m_);                                            \
        ck_assert_msg(su_rc_ == STREAMLOG_EAGAIN, "sub_next(0): expected EAGAIN, got %s%s%" PRIu64, \
                      tu_name(su_rc_), su_rc_ == 0 ? " with #" : "", su_rc_ == 0 ? streamlog_msg_seq(su_m_) : 0); \
    } while (0)

static inline streamlog_sub_stats su_stats(streamlog_sub *s)
{
    streamlog_sub_stats st;
    memset(&st, 0xAB, sizeof st);
    TU_OK(streamlog_sub_get_stats(s, &st));
    return st;
}

/* Is fd readable within timeout_ms? */
static inline int su_readable(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int n;
    while ((n = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR)
        ;
    return n > 0 && (p.revents & POLLIN);
}

/* ---- child processes ---- */

struct su_child {
    pid_t pid;
    int result_fd; /* read end: the child's failure text, if any */
};

static int su_child_fd = -1;

/* In a child: report a failure and exit. */
static inline void su_cfail(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof buf - 1)
        n = (int)sizeof buf - 1;
    if (su_child_fd >= 0)
        (void)tu_write_full(su_child_fd, buf, (size_t)n);
    _exit(1);
}

#define SU_CCHECK_RC(expr, expected)                                                              \
    do {                                                                                          \
        int su_c_rc_ = (expr);                                                                    \
        if (su_c_rc_ != (expected))                                                               \
            su_cfail("pid %d line %d: %s -> %s, expected %s [%s]", (int)getpid(), __LINE__, #expr, \
                     tu_name(su_c_rc_), tu_name(expected), tu_errmsg_safe());                    \
    } while (0)
#define SU_CCHECK(expr) SU_CCHECK_RC(expr, STREAMLOG_OK)
#define SU_CASSERT(cond, ...)              \
    do {                                   \
        if (!(cond))                       \
            su_cfail(__VA_ARGS__);         \
    } while (0)

/* Fork a child running fn(arg); it must be called before this process opens
 * any store. alarm_s bounds the child's life. */
static inline struct su_child su_spawn(void (*fn)(void *), void *arg, unsigned alarm_s)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(p[0]);
        su_child_fd = p[1];
        alarm(alarm_s);
        fn(arg);
        _exit(0);
    }
    close(p[1]);
    return (struct su_child){pid, p[0]};
}

/* Wait for a child and fail the test unless it exited 0. */
static inline void su_reap(struct su_child c, const char *what)
{
    char buf[600];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof buf - 1 && (r = read(c.result_fd, buf + n, sizeof buf - 1 - n)) != 0) {
        if (r < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        n += (size_t)r;
    }
    buf[n] = '\0';
    close(c.result_fd);
    int status = 0;
    ck_assert_int_eq(waitpid(c.pid, &status, 0), c.pid);
    if (WIFSIGNALED(status))
        ck_abort_msg("%s child killed by signal %d (%s)", what, WTERMSIG(status), buf);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s child failed: %s", what,
                  buf[0] ? buf : "(no message)");
}

/* Kill a child with SIGKILL and wait for it. */
static inline void su_kill(struct su_child c)
{
    kill(c.pid, SIGKILL);
    int status = 0;
    ck_assert_int_eq(waitpid(c.pid, &status, 0), c.pid);
    close(c.result_fd);
}

/* A pipe used to pass 8-byte values (or one-byte signals) between processes. */
struct su_pipe {
    int r, w;
};

static inline struct su_pipe su_pipe_new(void)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    return (struct su_pipe){p[0], p[1]};
}

static inline void su_send(int fd, uint64_t v)
{
    if (tu_write_full(fd, &v, sizeof v))
        su_cfail("write to pipe: %s", strerror(errno));
}

/* Read one value; -1 on EOF or error. */
static inline int su_recv(int fd, uint64_t *v)
{
    return tu_read_full(fd, v, sizeof *v);
}

#endif
