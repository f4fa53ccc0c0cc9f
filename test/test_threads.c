/*
 * test_threads.c - concurrent use from threads: appends racing on one
 * channel (group commit), on different channels, batches mixed with single
 * appends, concurrent creation, append_expect races, a reader following a
 * writer, and many threads reading at once.
 */
#define _GNU_SOURCE
#include "test_util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { NTHREADS = 8 };

static streamlog_store *st;

struct worker {
    pthread_t tid;
    int id;
    int count;
    int batch;                 /* 0: single appends; >0: batches of this size */
    streamlog_channel *ch;     /* shared handle, or NULL to open its own */
    const char *name;
    uint64_t *seqs;            /* seqs[i] = sequence of message i */
    int rc;                    /* first failure */
    char msg[256];
};

/* Payload of (thread, index): self-describing, variable length. */
static size_t make_payload(unsigned char *buf, int thread, int index)
{
    size_t len = 8 + (size_t)((thread * 131 + index * 17) % 200);
    buf[0] = (unsigned char)thread;
    buf[1] = (unsigned char)(index >> 16);
    buf[2] = (unsigned char)(index >> 8);
    buf[3] = (unsigned char)index;
    tu_fill(buf + 4, len - 4, (uint64_t)thread, (uint64_t)index);
    return len;
}

static void *append_worker(void *p)
{
    struct worker *w = p;
    streamlog_channel *ch = w->ch;
    if (!ch) {
        w->rc = streamlog_channel_open(st, w->name, STREAMLOG_CREATE, NULL, &ch);
        if (w->rc) {
            snprintf(w->msg, sizeof w->msg, "channel_open: %s", streamlog_errmsg());
            return NULL;
        }
    }
    unsigned char bufs[16][256];
    for (int i = 0; i < w->count;) {
        if (w->batch) {
            const void *d[16];
            size_t l[16];
            int n = w->batch;
            if (n > w->count - i)
                n = w->count - i;
            for (int k = 0; k < n; k++) {
                l[k] = make_payload(bufs[k], w->id, i + k);
                d[k] = bufs[k];
            }
            uint64_t first = 0;
            int rc = streamlog_append_batch(ch, d, l, (size_t)n, &first);
            if (rc) {
                w->rc = rc;
                snprintf(w->msg, sizeof w->msg, "append_batch: %s", streamlog_errmsg());
                break;
            }
            for (int k = 0; k < n; k++)
                w->seqs[i + k] = first + (uint64_t)k;
            i += n;
        } else {
            size_t len = make_payload(bufs[0], w->id, i);
            uint64_t seq = 0;
            int rc = streamlog_append(ch, bufs[0], len, &seq);
            if (rc) {
                w->rc = rc;
                snprintf(w->msg, sizeof w->msg, "append: %s", streamlog_errmsg());
                break;
            }
            w->seqs[i] = seq;
            i++;
        }
    }
    if (!w->ch)
        streamlog_channel_close(ch);
    return NULL;
}

/* Check that the workers' sequences are exactly 1..total, each message holds
 * the payload of the worker and index that got its sequence, each worker's
 * sequences increase, and times never decrease along the sequence. */
static void verify_shared(streamlog_channel *ch, struct worker *w, int nw)
{
    uint64_t total = 0;
    for (int t = 0; t < nw; t++) {
        ck_assert_msg(w[t].rc == 0, "worker %d failed: %s (%s)", t, tu_name(w[t].rc), w[t].msg);
        total += (uint64_t)w[t].count;
    }
    int *owner = calloc(total + 1, sizeof *owner);
    int *index = calloc(total + 1, sizeof *index);
    ck_assert_ptr_nonnull(owner);
    ck_assert_ptr_nonnull(index);
    for (int t = 0; t < nw; t++)
        for (int i = 0; i < w[t].count; i++) {
            uint64_t s = w[t].seqs[i];
            ck_assert_msg(s >= 1 && s <= total, "worker %d got seq %llu outside 1..%llu", t,
                          (unsigned long long)s, (unsigned long long)total);
            ck_assert_msg(owner[s] == 0, "seq %llu given twice", (unsigned long long)s);
            owner[s] = t + 1;
            index[s] = i;
            if (i > 0)
                ck_assert_msg(s > w[t].seqs[i - 1], "worker %d: seq %llu after %llu", t,
                              (unsigned long long)s, (unsigned long long)w[t].seqs[i - 1]);
        }
    streamlog_channel_stats s = tu_stats(ch);
    ck_assert_uint_eq(s.msgs, total);
    ck_assert_uint_eq(s.first_seq, 1);
    ck_assert_uint_eq(s.last_seq, total);

    streamlog_iter *it = NULL;
    TU_OK(streamlog_iter_open(ch, STREAMLOG_START_FIRST, 0, &it));
    unsigned char buf[256];
    int64_t prev_t = 0;
    for (uint64_t q = 1; q <= total; q++) {
        const streamlog_msg *m = NULL;
        TU_OK(streamlog_iter_next(it, &m));
        ck_assert_uint_eq(streamlog_msg_seq(m), q);
        size_t len = 0;
        const void *d = streamlog_msg_data(m, &len);
        int wid = w[owner[q] - 1].id;
        size_t elen = make_payload(buf, wid, index[q]);
        ck_assert_msg(len == elen && memcmp(d, buf, len) == 0,
                      "seq %llu does not hold worker %d's message %d", (unsigned long long)q,
                      wid, index[q]);
        ck_assert_int_ge(streamlog_msg_time(m), prev_t);
        prev_t = streamlog_msg_time(m);
    }
    const streamlog_msg *m;
    TU_RC(streamlog_iter_next(it, &m), STREAMLOG_EAGAIN);
    streamlog_iter_close(it);
    free(owner);
    free(index);
}

static void run_workers(struct worker *w, int nw)
{
    for (int t = 0; t < nw; t++)
        ck_assert_int_eq(pthread_create(&w[t].tid, NULL, append_worker, &w[t]), 0);
    for (int t = 0; t < nw; t++)
        pthread_join(w[t].tid, NULL);
}

static void shared_channel_test(int sync, int per_thread, int batch_threads)
{
    st = tu_open1(STREAMLOG_OPT_SYNC, sync);
    streamlog_channel *ch = tu_chan(st, "shared", NULL);
    struct worker w[NTHREADS];
    memset(w, 0, sizeof w);
    for (int t = 0; t < NTHREADS; t++) {
        w[t].id = t;
        w[t].count = per_thread;
        w[t].batch = t < batch_threads ? 1 + t % 10 : 0;
        w[t].ch = ch;
        w[t].seqs = calloc((size_t)per_thread, sizeof(uint64_t));
    }
    run_workers(w, NTHREADS);
    verify_shared(ch, w, NTHREADS);
    for (int t = 0; t < NTHREADS; t++)
        free(w[t].seqs);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));

    /* And the same after a reopen. */
    st = tu_open(NULL);
    ch = NULL;
    TU_OK(streamlog_channel_open(st, "shared", 0, NULL, &ch));
    streamlog_channel_stats s = tu_stats(ch);
    ck_assert_uint_eq(s.msgs, (uint64_t)NTHREADS * (uint64_t)per_thread);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}

START_TEST(eight_threads_one_channel_durable)
{
    shared_channel_test(STREAMLOG_SYNC_ALWAYS, 250, 0);
}
END_TEST

START_TEST(eight_threads_one_channel_nosync)
{
    shared_channel_test(STREAMLOG_SYNC_NONE, 2000, 0);
}
END_TEST

START_TEST(eight_threads_batches_and_singles)
{
    shared_channel_test(STREAMLOG_SYNC_ALWAYS, 300, 4);
}
END_TEST

START_TEST(threads_own_handles_different_channels)
{
    st = tu_open(NULL);
    struct worker w[NTHREADS];
    char names[NTHREADS][32];
    memset(w, 0, sizeof w);
    for (int t = 0; t < NTHREADS; t++) {
        snprintf(names[t], sizeof names[t], "chan.%d", t);
        w[t].id = t;
        w[t].count = 300;
        w[t].name = names[t];
        w[t].seqs = calloc(300, sizeof(uint64_t));
    }
    run_workers(w, NTHREADS);
    for (int t = 0; t < NTHREADS; t++) {
        ck_assert_msg(w[t].rc == 0, "worker %d: %s (%s)", t, tu_name(w[t].rc), w[t].msg);
        streamlog_channel *ch = NULL;
        TU_OK(streamlog_channel_open(st, names[t], 0, NULL, &ch));
        /* Each channel numbered 1..300 on its own. */
        for (int i = 0; i < 300; i++)
            ck_assert_uint_eq(w[t].seqs[i], (uint64_t)i + 1);
        verify_shared(ch, &w[t], 1);
        streamlog_channel_close(ch);
        free(w[t].seqs);
    }
    TU_OK(streamlog_close(st));
}
END_TEST

/* Threads that each open their own handle to the same new channel at once:
 * one channel results, and all appends land in it. */
START_TEST(concurrent_create_same_channel)
{
    st = tu_open(NULL);
    struct worker w[NTHREADS];
    memset(w, 0, sizeof w);
    for (int t = 0; t < NTHREADS; t++) {
        w[t].id = t;
        w[t].count = 50;
        w[t].name = "racy.create";
        w[t].seqs = calloc(50, sizeof(uint64_t));
    }
    run_workers(w, NTHREADS);
    streamlog_channel *ch = NULL;
    TU_OK(streamlog_channel_open(st, "racy.create", 0, NULL, &ch));
    verify_shared(ch, w, NTHREADS);
    for (int t = 0; t < NTHREADS; t++)
        free(w[t].seqs);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

struct expect_worker {
    pthread_t tid;
    streamlog_channel *ch;
    int wins, conflicts;
    int rc;
    uint64_t won[2000];
};

static _Atomic int expect_stop; /* set by whichever thread finishes first */

static void *expect_loop(void *p)
{
    struct expect_worker *w = p;
    while (!expect_stop) {
        streamlog_channel_stats s;
        int rc = streamlog_channel_get_stats(w->ch, &s);
        if (rc) {
            w->rc = rc;
            return NULL;
        }
        if (s.last_seq >= 400) {
            expect_stop = 1;
            break;
        }
        uint64_t seq = 0;
        rc = streamlog_append_expect(w->ch, &s.last_seq, sizeof s.last_seq, s.last_seq, &seq);
        if (rc == STREAMLOG_OK) {
            if (seq != s.last_seq + 1) {
                w->rc = -1000;
                return NULL;
            }
            w->won[w->wins++] = seq;
        } else if (rc == STREAMLOG_ECONFLICT) {
            w->conflicts++;
        } else {
            w->rc = rc;
            return NULL;
        }
    }
    return NULL;
}

START_TEST(append_expect_race)
{
    st = tu_open1(STREAMLOG_OPT_SYNC, STREAMLOG_SYNC_NONE);
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    enum { N = 4 };
    static struct expect_worker w[N];
    memset(w, 0, sizeof w);
    for (int t = 0; t < N; t++) {
        w[t].ch = ch;
        ck_assert_int_eq(pthread_create(&w[t].tid, NULL, expect_loop, &w[t]), 0);
    }
    for (int t = 0; t < N; t++)
        pthread_join(w[t].tid, NULL);
    int total = 0;
    static char seen[2100];
    for (int t = 0; t < N; t++) {
        ck_assert_msg(w[t].rc == 0, "worker %d: %d %s", t, w[t].rc, tu_name(w[t].rc));
        total += w[t].wins;
        for (int i = 0; i < w[t].wins; i++) {
            ck_assert_msg(!seen[w[t].won[i]], "seq %llu won twice",
                          (unsigned long long)w[t].won[i]);
            seen[w[t].won[i]] = 1;
        }
    }
    streamlog_channel_stats s = tu_stats(ch);
    ck_assert_uint_eq(s.msgs, (uint64_t)total);
    ck_assert_uint_eq(s.last_seq, (uint64_t)total);
    /* Each message holds the last sequence its writer saw: seq - 1. */
    for (uint64_t q = 1; q <= s.last_seq; q++) {
        uint64_t prev = q - 1;
        tu_expect_msg(ch, q, &prev, sizeof prev);
    }
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

struct reader {
    pthread_t tid;
    streamlog_channel *ch;
    uint64_t expect_total;
    uint64_t got;
    int rc;
    char msg[256];
};

static void *follow_reader(void *p)
{
    struct reader *r = p;
    streamlog_iter *it = NULL;
    r->rc = streamlog_iter_open(r->ch, STREAMLOG_START_FIRST, 0, &it);
    if (r->rc)
        return NULL;
    int64_t deadline = tu_mono_ms() + 60000;
    unsigned char buf[256];
    while (r->got < r->expect_total && tu_mono_ms() < deadline) {
        const streamlog_msg *m = NULL;
        int rc = streamlog_iter_next(it, &m);
        if (rc == STREAMLOG_EAGAIN) {
            tu_sleep_ms(1);
            continue;
        }
        if (rc) {
            r->rc = rc;
            break;
        }
        uint64_t q = streamlog_msg_seq(m);
        if (q != r->got + 1) {
            r->rc = -1000;
            snprintf(r->msg, sizeof r->msg, "got seq %llu after %llu", (unsigned long long)q,
                     (unsigned long long)r->got);
            break;
        }
        size_t len = 0;
        const void *d = streamlog_msg_data(m, &len);
        size_t elen = make_payload(buf, 0, (int)(q - 1));
        if (len != elen || memcmp(d, buf, len) != 0) {
            r->rc = -1001;
            snprintf(r->msg, sizeof r->msg, "seq %llu payload differs", (unsigned long long)q);
            break;
        }
        r->got = q;
    }
    streamlog_iter_close(it);
    return NULL;
}

START_TEST(reader_follows_writer)
{
    st = tu_open1(STREAMLOG_OPT_SYNC, STREAMLOG_SYNC_NONE);
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    enum { TOTAL = 3000 };
    struct reader r = { .ch = ch, .expect_total = TOTAL };
    ck_assert_int_eq(pthread_create(&r.tid, NULL, follow_reader, &r), 0);
    struct worker w = { .id = 0, .count = TOTAL, .ch = ch };
    w.seqs = calloc(TOTAL, sizeof(uint64_t));
    ck_assert_int_eq(pthread_create(&w.tid, NULL, append_worker, &w), 0);
    pthread_join(w.tid, NULL);
    pthread_join(r.tid, NULL);
    ck_assert_msg(w.rc == 0, "writer: %s (%s)", tu_name(w.rc), w.msg);
    ck_assert_msg(r.rc == 0, "reader: %d %s %s", r.rc, tu_name(r.rc), r.msg);
    ck_assert_uint_eq(r.got, TOTAL);
    free(w.seqs);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

/* More threads than LMDB's default reader slots (126) reading at once, all
 * alive at the same time: the library must not tie reader slots to threads. */
enum { MANY = 150 };
static pthread_barrier_t many_barrier;

struct many_arg {
    pthread_t tid;
    streamlog_channel *ch;
    int rc1, rc2, rc3;
};

static void *many_reader(void *p)
{
    struct many_arg *a = p;
    streamlog_msg *m = NULL;
    a->rc1 = streamlog_get(a->ch, 1, &m);
    if (a->rc1 == 0)
        streamlog_msg_free(m);
    streamlog_iter *it = NULL;
    a->rc2 = streamlog_iter_open(a->ch, STREAMLOG_START_FIRST, 0, &it);
    if (a->rc2 == 0) {
        const streamlog_msg *v;
        int n = 0, rc;
        while ((rc = streamlog_iter_next(it, &v)) == STREAMLOG_OK)
            n++;
        if (rc != STREAMLOG_EAGAIN)
            a->rc2 = rc;
        else if (n != 3)
            a->rc2 = -1000;
        streamlog_iter_close(it);
    }
    pthread_barrier_wait(&many_barrier);
    m = NULL;
    a->rc3 = streamlog_get(a->ch, 3, &m);
    if (a->rc3 == 0)
        streamlog_msg_free(m);
    pthread_barrier_wait(&many_barrier);
    return NULL;
}

START_TEST(many_reader_threads)
{
    st = tu_open(NULL);
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    tu_append_str(ch, "1");
    tu_append_str(ch, "2");
    tu_append_str(ch, "3");
    static struct many_arg a[MANY];
    pthread_barrier_init(&many_barrier, NULL, MANY);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 1024 * 1024);
    for (int t = 0; t < MANY; t++) {
        a[t].ch = ch;
        ck_assert_int_eq(pthread_create(&a[t].tid, &attr, many_reader, &a[t]), 0);
    }
    for (int t = 0; t < MANY; t++)
        pthread_join(a[t].tid, NULL);
    pthread_attr_destroy(&attr);
    pthread_barrier_destroy(&many_barrier);
    for (int t = 0; t < MANY; t++) {
        ck_assert_msg(a[t].rc1 == 0, "thread %d get: %s", t, tu_name(a[t].rc1));
        ck_assert_msg(a[t].rc2 == 0, "thread %d iterate: %d %s", t, a[t].rc2,
                      tu_name(a[t].rc2));
        ck_assert_msg(a[t].rc3 == 0, "thread %d get after barrier: %s", t, tu_name(a[t].rc3));
    }
    /* Writes still work afterwards. */
    ck_assert_uint_eq(tu_append_str(ch, "4"), 4);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

/* Calls on one handle may move between threads (no write transaction is
 * held between calls): open in one thread, append in another, close in a
 * third. */
static void *append_one(void *p)
{
    streamlog_channel *ch = p;
    uint64_t seq = 0;
    int rc = streamlog_append(ch, "hop", 3, &seq);
    return (void *)(intptr_t)(rc == 0 ? (intptr_t)seq : rc);
}

START_TEST(handles_move_between_threads)
{
    st = tu_open(NULL);
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    for (int i = 1; i <= 20; i++) {
        pthread_t t;
        void *ret;
        ck_assert_int_eq(pthread_create(&t, NULL, append_one, ch), 0);
        pthread_join(t, &ret);
        ck_assert_int_eq((intptr_t)ret, i);
        tu_expect_msg(ch, (uint64_t)i, "hop", 3);
    }
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

static Suite *threads_suite(void)
{
    Suite *s = suite_create("threads");
    TCase *tc = tu_tcase("append", 0);
    tcase_add_test(tc, eight_threads_one_channel_durable);
    tcase_add_test(tc, eight_threads_one_channel_nosync);
    tcase_add_test(tc, eight_threads_batches_and_singles);
    tcase_add_test(tc, threads_own_handles_different_channels);
    tcase_add_test(tc, concurrent_create_same_channel);
    tcase_add_test(tc, append_expect_race);
    suite_add_tcase(s, tc);

    tc = tu_tcase("read", 0);
    tcase_add_test(tc, reader_follows_writer);
    tcase_add_test(tc, many_reader_threads);
    tcase_add_test(tc, handles_move_between_threads);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(threads_suite());
}
