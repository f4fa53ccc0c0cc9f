/*
 * test_crash.c - crash recovery. A child process opens the store and appends
 * in a loop, reporting every returned sequence to the parent over a pipe;
 * the parent kills it with SIGKILL at a random moment, then reopens the
 * store and checks that every reported message is present and intact, that
 * there is no gap from the first sequence to the last, and that the next
 * child continues the numbering.
 *
 * STREAMLOG_CRASH_ITERATIONS sets the number of kills of the main test
 * (default 50); STREAMLOG_CRASH_SEED makes a run reproducible (the seed in
 * use is printed).
 */
#define _GNU_SOURCE
#include "test_util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAGIC 0x534c4352u /* "SLCR" */
#define HDR 24

enum { REC_OPENED = 1, REC_APPENDED = 2, REC_ERROR = 3 };

/* One report from the child; 32 bytes, written atomically (< PIPE_BUF). */
struct rec {
    uint32_t type;
    uint32_t n;     /* APPENDED: messages in the call */
    uint64_t a;     /* OPENED: last_seq at open; APPENDED: first seq; ERROR: rc */
    uint64_t tag;   /* APPENDED: writer tag; ERROR: line */
    uint64_t ctr;   /* APPENDED: counter of the first message */
};

struct mode {
    int sync;
    int threads;  /* appending threads in the child */
    int batches;  /* whether the child also uses append_batch */
};

static int report_fd = -1;

/* ---- payloads: self-describing, so any stored message can be checked ---- */

static size_t payload_len(uint64_t tag, uint64_t ctr)
{
    uint64_t x = tag * 2654435761u + ctr * 40503u;
    if (x % 10 == 0)
        return HDR + (size_t)(x % 12000); /* sometimes several pages */
    return HDR + (size_t)(x % 2000);
}

static void make_payload(unsigned char *buf, uint64_t tag, uint64_t ctr, size_t len)
{
    uint32_t magic = MAGIC, l = (uint32_t)len;
    memcpy(buf, &magic, 4);
    memcpy(buf + 4, &l, 4);
    memcpy(buf + 8, &tag, 8);
    memcpy(buf + 16, &ctr, 8);
    tu_fill(buf + HDR, len - HDR, tag, ctr);
}

/* Returns NULL when intact, else a reason. Writes tag/ctr. */
static const char *check_payload(const void *d, size_t len, uint64_t *tag, uint64_t *ctr)
{
    if (len < HDR || !d)
        return "shorter than the header";
    const unsigned char *b = d;
    uint32_t magic, l;
    memcpy(&magic, b, 4);
    memcpy(&l, b + 4, 4);
    memcpy(tag, b + 8, 8);
    memcpy(ctr, b + 16, 8);
    if (magic != MAGIC)
        return "bad magic";
    if (l != len)
        return "length differs from the recorded length";
    if (len != payload_len(*tag, *ctr))
        return "length differs from the expected length";
    if (!tu_check_fill(b + HDR, len - HDR, *tag, *ctr))
        return "body differs";
    return NULL;
}

/* ---- the child ---- */

static void report(const struct rec *r)
{
    if (tu_write_full(report_fd, r, sizeof *r) != 0)
        _exit(3);
}

static void child_error(int rc, int line)
{
    struct rec r = { REC_ERROR, 0, (uint64_t)(int64_t)rc, (uint64_t)line, 0 };
    report(&r);
    _exit(2);
}

#define CCHECK(expr)                        \
    do {                                    \
        int c_rc_ = (expr);                 \
        if (c_rc_ != 0)                     \
            child_error(c_rc_, __LINE__);   \
    } while (0)

struct child_thread {
    pthread_t tid;
    streamlog_channel *ch;
    uint64_t tag;
    int batches;
    int single_writer;   /* the only writer: can check its own numbering */
    uint64_t next_seq;   /* single writer: expected next sequence */
    unsigned seed;
};

static void *child_appender(void *p)
{
    struct child_thread *t = p;
    static __thread unsigned char bufs[5][HDR + 12000];
    for (uint64_t ctr = 0;; ) {
        int n = 1;
        if (t->batches && rand_r(&t->seed) % 4 == 0)
            n = 1 + (int)(rand_r(&t->seed) % 5);
        const void *d[5];
        size_t l[5];
        for (int k = 0; k < n; k++) {
            l[k] = payload_len(t->tag, ctr + (uint64_t)k);
            make_payload(bufs[k], t->tag, ctr + (uint64_t)k, l[k]);
            d[k] = bufs[k];
        }
        uint64_t first = 0;
        if (n == 1)
            CCHECK(streamlog_append(t->ch, d[0], l[0], &first));
        else
            CCHECK(streamlog_append_batch(t->ch, d, l, (size_t)n, &first));
        if (t->single_writer) {
            if (first != t->next_seq)
                child_error(-1000 - (int)first, __LINE__);
            t->next_seq += (uint64_t)n;
        }
        struct rec r = { REC_APPENDED, (uint32_t)n, first, t->tag, ctr };
        report(&r);
        ctr += (uint64_t)n;
    }
    return NULL;
}

static void child_main(const struct mode *m, uint64_t iteration, unsigned seed)
{
    streamlog_opts *o = NULL;
    CCHECK(streamlog_opts_new(&o));
    CCHECK(streamlog_opts_set_int(o, STREAMLOG_OPT_SYNC, m->sync));
    streamlog_store *st = NULL;
    CCHECK(streamlog_open(tu_store, o, &st));
    streamlog_opts_free(o);
    streamlog_channel *ch = NULL;
    CCHECK(streamlog_channel_open(st, "crash", STREAMLOG_CREATE, NULL, &ch));
    streamlog_channel_stats s;
    CCHECK(streamlog_channel_get_stats(ch, &s));
    struct rec r = { REC_OPENED, 0, s.last_seq, 0, 0 };
    report(&r);

    struct child_thread t[8];
    for (int i = 0; i < m->threads; i++) {
        t[i].ch = ch;
        t[i].tag = iteration * 16 + (uint64_t)i;
        t[i].batches = m->batches;
        t[i].single_writer = m->threads == 1;
        t[i].next_seq = s.last_seq + 1;
        t[i].seed = seed + (unsigned)i;
    }
    for (int i = 1; i < m->threads; i++)
        if (pthread_create(&t[i].tid, NULL, child_appender, &t[i]) != 0)
            _exit(4);
    child_appender(&t[0]);
}

/* ---- the parent ---- */

struct expect {
    uint64_t *tag, *ctr; /* by sequence; tag UINT64_MAX = not reported */
    uint64_t cap;
};

static void expect_set(struct expect *e, uint64_t seq, uint64_t tag, uint64_t ctr)
{
    if (seq >= e->cap) {
        uint64_t ncap = e->cap ? e->cap : 1024;
        while (ncap <= seq)
            ncap *= 2;
        e->tag = realloc(e->tag, ncap * sizeof *e->tag);
        e->ctr = realloc(e->ctr, ncap * sizeof *e->ctr);
        ck_assert_ptr_nonnull(e->tag);
        ck_assert_ptr_nonnull(e->ctr);
        for (uint64_t i = e->cap; i < ncap; i++)
            e->tag[i] = UINT64_MAX;
        e->cap = ncap;
    }
    e->tag[seq] = tag;
    e->ctr[seq] = ctr;
}

struct reader {
    unsigned char buf[64 * 1024];
    size_t have;
};

/* Read what is available (or until EOF when block is set); parse records. */
static int drain(int fd, struct reader *rd, int timeout_ms, int until_eof,
                 void (*on_rec)(const struct rec *, void *), void *ctx)
{
    int64_t deadline = tu_mono_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - tu_mono_ms();
        if (!until_eof && left <= 0)
            return 0;
        struct pollfd pfd = { fd, POLLIN, 0 };
        int pr = poll(&pfd, 1, until_eof ? 10000 : (int)left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr == 0) {
            if (until_eof)
                return -1; /* no EOF in 10 s */
            return 0;
        }
        ssize_t n = read(fd, rd->buf + rd->have, sizeof rd->buf - rd->have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return 1; /* EOF */
        rd->have += (size_t)n;
        size_t off = 0;
        while (rd->have - off >= sizeof(struct rec)) {
            struct rec r;
            memcpy(&r, rd->buf + off, sizeof r);
            on_rec(&r, ctx);
            off += sizeof r;
        }
        memmove(rd->buf, rd->buf + off, rd->have - off);
        rd->have -= off;
    }
}

struct iter_state {
    struct expect *e;
    uint64_t max_reported;
    int opened;
    uint64_t opened_last;
    int error;
    int64_t error_rc;
    uint64_t error_line;
    uint64_t first_append_seq;
};

static void on_rec(const struct rec *r, void *p)
{
    struct iter_state *s = p;
    switch (r->type) {
    case REC_OPENED:
        s->opened = 1;
        s->opened_last = r->a;
        break;
    case REC_APPENDED:
        if (!s->first_append_seq)
            s->first_append_seq = r->a;
        for (uint32_t k = 0; k < r->n; k++)
            expect_set(s->e, r->a + k, r->tag, r->ctr + k);
        if (r->a + r->n - 1 > s->max_reported)
            s->max_reported = r->a + r->n - 1;
        break;
    case REC_ERROR:
        s->error = 1;
        s->error_rc = (int64_t)r->a;
        s->error_line = r->tag;
        break;
    default:
        s->error = 2;
    }
}

static void crash_loop(const struct mode *m, long iterations)
{
    unsigned seed = (unsigned)tu_env_long("STREAMLOG_CRASH_SEED", 0);
    if (!seed)
        seed = (unsigned)(tu_now_ns() ^ getpid());
    printf("crash test: %ld iterations, %d thread(s), sync %d, seed %u "
           "(STREAMLOG_CRASH_SEED)\n",
           iterations, m->threads, m->sync, seed);
    fflush(stdout);
    srand(seed);

    struct expect e = { NULL, NULL, 0 };
    uint64_t verified_last = 0;   /* last sequence found at the previous check */
    uint64_t max_reported = 0;
    uint64_t total_reported = 0;
    int kills_during_open = 0;
    uint64_t max_inflight = (uint64_t)m->threads * (m->batches ? 5 : 1);

    for (long it = 0; it < iterations; it++) {
        int p[2];
        ck_assert_int_eq(pipe(p), 0);
        unsigned child_seed = (unsigned)rand();
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            close(p[0]);
            report_fd = p[1];
            alarm(60);
            child_main(m, (uint64_t)it + 1, child_seed);
            _exit(5);
        }
        close(p[1]);
        fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);

        struct reader *rd = calloc(1, sizeof *rd);
        struct iter_state s = { &e, 0, 0, 0, 0, 0, 0, 0 };
        /* under valgrind everything runs ~50x slower: stretch the delays alike */
        int slow = getenv("STREAMLOG_UNDER_VALGRIND") ? 50 : 1;
        int delay = (1 + rand() % 50) * slow;
        if (it % 5 == 4) {
            /* A short delay from the fork: may hit the open itself. */
            drain(p[0], rd, (1 + rand() % 3) * slow, 0, on_rec, &s);
        } else {
            /* Wait until the child has the store open, then the delay. */
            int64_t deadline = tu_mono_ms() + 20000;
            while (!s.opened && !s.error && tu_mono_ms() < deadline)
                if (drain(p[0], rd, 5, 0, on_rec, &s) == 1)
                    break;
            drain(p[0], rd, delay, 0, on_rec, &s);
        }
        kill(pid, SIGKILL);
        int status = 0;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(drain(p[0], rd, 0, 1, on_rec, &s) == 1, "no EOF from child pipe");
        close(p[0]);
        free(rd);

        ck_assert_msg(!s.error, "iteration %ld (seed %u): child failed: rc %s (%lld) at line %llu",
                      it, seed, tu_name((int)s.error_rc), (long long)s.error_rc,
                      (unsigned long long)s.error_line);
        ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                      "iteration %ld (seed %u): child ended by itself (status 0x%x)", it, seed,
                      status);
        if (!s.opened)
            kills_during_open++;
        if (s.opened)
            ck_assert_msg(s.opened_last == verified_last,
                          "iteration %ld (seed %u): child found last_seq %llu at open, the "
                          "parent had verified %llu",
                          it, seed, (unsigned long long)s.opened_last,
                          (unsigned long long)verified_last);
        if (s.first_append_seq && m->threads == 1)
            ck_assert_msg(s.first_append_seq == verified_last + 1,
                          "iteration %ld (seed %u): numbering restarted at %llu after %llu", it,
                          seed, (unsigned long long)s.first_append_seq,
                          (unsigned long long)verified_last);
        if (s.max_reported > max_reported)
            max_reported = s.max_reported;
        for (uint64_t q = verified_last + 1; q <= s.max_reported; q++)
            if (q < e.cap && e.tag[q] != UINT64_MAX)
                total_reported++;

        /* Reopen and check. */
        streamlog_store *st = NULL;
        int rc = streamlog_open(tu_store, NULL, &st);
        ck_assert_msg(rc == STREAMLOG_OK, "iteration %ld (seed %u): reopen after kill: %s [%s]",
                      it, seed, tu_name(rc), tu_errmsg_safe());
        streamlog_channel *ch = NULL;
        rc = streamlog_channel_open(st, "crash", 0, NULL, &ch);
        if (rc == STREAMLOG_ENOTFOUND && max_reported == 0) {
            TU_OK(streamlog_close(st));
            continue; /* killed before the channel was created */
        }
        ck_assert_msg(rc == STREAMLOG_OK, "iteration %ld (seed %u): channel after kill: %s", it,
                      seed, tu_name(rc));
        streamlog_channel_stats cs = tu_stats(ch);
        ck_assert_msg(cs.last_seq >= max_reported,
                      "iteration %ld (seed %u): last_seq %llu but seq %llu was reported stored",
                      it, seed, (unsigned long long)cs.last_seq,
                      (unsigned long long)max_reported);
        /* Beyond what was reported or already verified (an earlier child's
         * unreported commits), only this child's appends in flight. */
        uint64_t known = max_reported > verified_last ? max_reported : verified_last;
        ck_assert_msg(cs.last_seq <= known + max_inflight,
                      "iteration %ld (seed %u): last_seq %llu, only %llu reported or verified (+%llu in "
                      "flight at most)",
                      it, seed, (unsigned long long)cs.last_seq, (unsigned long long)known,
                      (unsigned long long)max_inflight);
        ck_assert_msg(cs.first_seq == 1 || cs.last_seq == 0,
                      "iteration %ld (seed %u): first_seq %llu", it, seed,
                      (unsigned long long)cs.first_seq);
        ck_assert_msg(cs.msgs == cs.last_seq,
                      "iteration %ld (seed %u): %llu messages for sequences 1..%llu (gap)", it,
                      seed, (unsigned long long)cs.msgs, (unsigned long long)cs.last_seq);

        /* Every message 1..last: contiguous, self-consistent, and the one
         * reported for its sequence. Bodies are checked for new messages
         * each time and for all of them every 10th iteration. */
        int full = it % 10 == 9 || it == iterations - 1;
        streamlog_iter *iter = NULL;
        TU_OK(streamlog_iter_open(ch, STREAMLOG_START_FIRST, 0, &iter));
        for (uint64_t q = 1; q <= cs.last_seq; q++) {
            const streamlog_msg *msg = NULL;
            rc = streamlog_iter_next(iter, &msg);
            ck_assert_msg(rc == STREAMLOG_OK, "iteration %ld (seed %u): seq %llu: %s", it, seed,
                          (unsigned long long)q, tu_name(rc));
            ck_assert_msg(streamlog_msg_seq(msg) == q,
                          "iteration %ld (seed %u): expected seq %llu, got %llu (gap)", it, seed,
                          (unsigned long long)q, (unsigned long long)streamlog_msg_seq(msg));
            size_t len = 0;
            const void *d = streamlog_msg_data(msg, &len);
            uint64_t tag = 0, ctr = 0;
            if (full || q > verified_last) {
                const char *why = check_payload(d, len, &tag, &ctr);
                ck_assert_msg(why == NULL, "iteration %ld (seed %u): seq %llu damaged: %s", it,
                              seed, (unsigned long long)q, why);
            } else {
                ck_assert_uint_ge(len, HDR);
                memcpy(&tag, (const unsigned char *)d + 8, 8);
                memcpy(&ctr, (const unsigned char *)d + 16, 8);
            }
            if (q < e.cap && e.tag[q] != UINT64_MAX)
                ck_assert_msg(tag == e.tag[q] && ctr == e.ctr[q],
                              "iteration %ld (seed %u): seq %llu holds (%llu,%llu), reported "
                              "(%llu,%llu)",
                              it, seed, (unsigned long long)q, (unsigned long long)tag,
                              (unsigned long long)ctr, (unsigned long long)e.tag[q],
                              (unsigned long long)e.ctr[q]);
            else
                /* Committed but not reported (killed in between): record
                 * what is there so later iterations check it stays. */
                expect_set(&e, q, tag, ctr);
        }
        const streamlog_msg *msg;
        TU_RC(streamlog_iter_next(iter, &msg), STREAMLOG_EAGAIN);
        streamlog_iter_close(iter);
        verified_last = cs.last_seq;
        streamlog_channel_close(ch);
        TU_OK(streamlog_close(st));
    }
    printf("crash test: %llu messages reported stored, %llu in the store, %d kills before "
           "the open finished\n",
           (unsigned long long)total_reported, (unsigned long long)verified_last,
           kills_during_open);
    fflush(stdout);
    ck_assert_msg(verified_last > 0, "no message was ever stored (seed %u)", seed);
    free(e.tag);
    free(e.ctr);
}

START_TEST(crash_sync_always)
{
    struct mode m = { STREAMLOG_SYNC_ALWAYS, 1, 1 };
    crash_loop(&m, tu_env_long("STREAMLOG_CRASH_ITERATIONS", 50));
}
END_TEST

START_TEST(crash_group_commit)
{
    struct mode m = { STREAMLOG_SYNC_ALWAYS, 4, 0 };
    long n = tu_env_long("STREAMLOG_CRASH_ITERATIONS", 50) / 2;
    crash_loop(&m, n < 1 ? 1 : n);
}
END_TEST

/* Every policy survives a crash of the process. */
START_TEST(crash_sync_none)
{
    struct mode m = { STREAMLOG_SYNC_NONE, 2, 1 };
    long n = tu_env_long("STREAMLOG_CRASH_ITERATIONS", 50) / 2;
    crash_loop(&m, n < 1 ? 1 : n);
}
END_TEST

START_TEST(crash_sync_interval)
{
    struct mode m = { STREAMLOG_SYNC_INTERVAL, 1, 0 };
    long n = tu_env_long("STREAMLOG_CRASH_ITERATIONS", 50) / 5;
    crash_loop(&m, n < 1 ? 1 : n);
}
END_TEST

static Suite *crash_suite(void)
{
    Suite *s = suite_create("crash");
    TCase *tc = tu_tcase("crash", 600);
    tcase_add_test(tc, crash_sync_always);
    tcase_add_test(tc, crash_group_commit);
    tcase_add_test(tc, crash_sync_none);
    tcase_add_test(tc, crash_sync_interval);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    return tu_run(crash_suite());
}
