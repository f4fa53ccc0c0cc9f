/*
 * test_subs_workqueue.c - a durable queue group used as a work queue, the
 * way worker pools use it: worker threads of one process and worker
 * processes sharing a store.
 *
 *  - dead letters exactly once: 100 jobs, 14 of them never acked, MAX_DELIVER
 *    3: the dead-letter channel ends up with exactly the 14 jobs, each once,
 *    whichever members (threads or processes) delivered them.
 *  - fairness (the delivery rule in streamlog.h): two members waiting when a
 *    burst of 10 messages arrives get 4 to 6 each, in every one of 20 runs; a
 *    member asked out of turn gets and holds nothing; three worker processes
 *    doing 1 ms of work per message each get 25-42% of 3,000 messages, each
 *    message once.
 *
 * Worker processes are forked before the test process opens the store; they
 * open it themselves and end with _exit().
 */
#define _GNU_SOURCE
#include "subs_util.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

enum { JOBS = 100, WORKERS = 3, BAD_EVERY = 7 /* 7, 14, ... 98: 14 jobs never acked */ };

static int is_bad(uint64_t seq)
{
    return seq % BAD_EVERY == 0;
}

/* One worker: a member of the durable queue group "workers" on "jobs" that
 * acks every job but the bad ones, until told to stop (stop_r readable) and
 * nothing it holds is in flight any more. Each acked job's sequence goes to
 * report_w. Returns "" or what went wrong. */
struct worker {
    streamlog_channel *ch;
    int ready_w, report_w, stop_r;
    int stop_w; /* processes: the parent's end, closed in the child so that the parent's close is seen */
    char err[300];
};

#define WFAIL(...)                                           \
    do {                                                     \
        snprintf(w->err, sizeof w->err, __VA_ARGS__);        \
        goto out;                                            \
    } while (0)

static void run_worker(struct worker *w)
{
    streamlog_opts *o = NULL;
    streamlog_sub *s = NULL;
    int rc;
    if ((rc = streamlog_opts_new(&o)) || (rc = streamlog_opts_set_str(o, STREAMLOG_OPT_QUEUE, "workers")) ||
        (rc = streamlog_opts_set_str(o, STREAMLOG_OPT_DURABLE, "pool")) ||
        (rc = streamlog_opts_set_str(o, STREAMLOG_OPT_DEAD_LETTER, "jobs.dead")) ||
        (rc = streamlog_opts_set_int(o, STREAMLOG_OPT_MAX_DELIVER, 3)) ||
        (rc = streamlog_opts_set_int(o, STREAMLOG_OPT_ACK_WAIT_MS, 300)) ||
        (rc = streamlog_opts_set_int(o, STREAMLOG_OPT_START, STREAMLOG_START_FIRST)) ||
        (rc = streamlog_subscribe(w->ch, o, &s)))
        WFAIL("subscribe: %s [%s]", tu_name(rc), tu_errmsg_safe());
    uint64_t zero = 0;
    if (tu_write_full(w->ready_w, &zero, sizeof zero))
        WFAIL("ready pipe: %s", strerror(errno));
    int stop = 0;
    for (;;) {
        const streamlog_msg *m;
        rc = streamlog_sub_next(s, 50, &m);
        if (rc == STREAMLOG_OK) {
            uint64_t q = streamlog_msg_seq(m);
            if (q < 1 || q > JOBS)
                WFAIL("delivered #%llu", (unsigned long long)q);
            if (!is_bad(q)) {
                if ((rc = streamlog_ack(s, q)))
                    WFAIL("ack: %s", tu_name(rc));
                if (tu_write_full(w->report_w, &q, sizeof q))
                    WFAIL("report pipe: %s", strerror(errno));
            }
        } else if (rc != STREAMLOG_ETIMEDOUT) {
            WFAIL("sub_next: %s [%s]", tu_name(rc), tu_errmsg_safe());
        }
        if (!stop) {
            struct pollfd p = {.fd = w->stop_r, .events = POLLIN};
            stop = poll(&p, 1, 0) > 0;
        }
        streamlog_sub_stats ss;
        if ((rc = streamlog_sub_get_stats(s, &ss)))
            WFAIL("stats: %s", tu_name(rc));
        /* once everything is done, the copies this member still holds of
         * jobs other members took over come due and must not be dead-lettered again */
        if (stop && ss.pending == 0)
            break;
    }
out:
    if (s && (rc = streamlog_sub_close(s)) && !w->err[0])
        snprintf(w->err, sizeof w->err, "sub_close: %s", tu_name(rc));
    streamlog_opts_free(o);
}

static void worker_process(void *p)
{
    struct worker *w = p;
    close(w->stop_w);
    streamlog_store *st = su_open_store_or_null();
    if (!st)
        su_cfail("open: [%s]", tu_errmsg_safe());
    SU_CCHECK(streamlog_channel_open(st, "jobs", STREAMLOG_CREATE, NULL, &w->ch));
    run_worker(w);
    if (w->err[0])
        su_cfail("pid %d: %s", (int)getpid(), w->err);
    streamlog_channel_close(w->ch);
    SU_CCHECK(streamlog_close(st));
}

static void *worker_thread(void *p)
{
    run_worker(p);
    return NULL;
}

/* Wait until every good job was acked and at least all bad ones reached the
 * dead-letter channel, tell the workers to stop (closing stop_w), then check
 * that the dead-letter channel holds each bad job exactly once. */
static void supervise(streamlog_store *st, streamlog_channel *jobs, int report_r, int stop_w)
{
    uint8_t acked[JOBS + 1] = {0};
    int nacked = 0;
    int64_t deadline = tu_mono_ms() + 120000;
    streamlog_channel *dl = tu_chan(st, "jobs.dead", NULL);
    su_fill_to(jobs, JOBS);
    for (;;) {
        struct pollfd p = {.fd = report_r, .events = POLLIN};
        if (poll(&p, 1, 100) > 0) {
            uint64_t q;
            ck_assert_int_eq(su_recv(report_r, &q), 0);
            ck_assert_msg(q >= 1 && q <= JOBS && !is_bad(q), "acked job #%llu", (unsigned long long)q);
            nacked += !acked[q];
            acked[q] = 1;
        }
        if (nacked == JOBS - JOBS / BAD_EVERY && tu_stats(dl).msgs >= JOBS / BAD_EVERY)
            break;
        ck_assert_msg(tu_mono_ms() < deadline, "after 120 s: %d jobs acked, %llu dead letters", nacked,
                      (unsigned long long)tu_stats(dl).msgs);
    }
    close(stop_w);
    /* drain reports of redelivered jobs while the workers finish */
    int fl = fcntl(report_r, F_GETFL);
    fcntl(report_r, F_SETFL, fl | O_NONBLOCK);
    uint64_t q;
    while (read(report_r, &q, sizeof q) > 0)
        ;
    (void)dl;
    streamlog_channel_close(dl);
}

/* After the workers are gone: each bad job exactly once in the dead letters. */
static void check_dead_letters(streamlog_store *st)
{
    streamlog_channel *dl = tu_chan(st, "jobs.dead", NULL);
    streamlog_iter *it;
    TU_OK(streamlog_iter_open(dl, STREAMLOG_START_FIRST, 0, &it));
    int times[JOBS + 1] = {0}, n = 0;
    const streamlog_msg *m;
    int rc;
    while ((rc = streamlog_iter_next(it, &m)) == STREAMLOG_OK) {
        size_t len;
        const char *d = streamlog_msg_data(m, &len);
        char buf[32] = {0};
        ck_assert_uint_lt(len, sizeof buf);
        memcpy(buf, d, len);
        unsigned long long seq = 0;
        ck_assert_msg(sscanf(buf, "m%llu", &seq) == 1 && seq >= 1 && seq <= JOBS, "dead letter \"%s\"", buf);
        ck_assert_msg(is_bad(seq), "job #%llu was acked, yet dead-lettered", seq);
        times[seq]++;
        n++;
    }
    TU_RC(rc, STREAMLOG_EAGAIN);
    streamlog_iter_close(it);
    for (int s = BAD_EVERY; s <= JOBS; s += BAD_EVERY)
        ck_assert_msg(times[s] == 1, "job #%d dead-lettered %d times (%d dead letters in all)", s, times[s], n);
    ck_assert_int_eq(n, JOBS / BAD_EVERY);
    streamlog_channel_close(dl);
}

START_TEST(dead_letters_exactly_once_across_processes)
{
    struct su_pipe ready = su_pipe_new(), report = su_pipe_new(), stop = su_pipe_new();
    struct worker w = {.ready_w = ready.w, .report_w = report.w, .stop_r = stop.r, .stop_w = stop.w};
    struct su_child kids[WORKERS];
    for (int i = 0; i < WORKERS; i++)
        kids[i] = su_spawn(worker_process, &w, 150);
    close(stop.r);
    close(report.w);
    close(ready.w);
    for (int i = 0; i < WORKERS; i++) {
        uint64_t v;
        if (su_recv(ready.r, &v) != 0)
            su_reap(kids[i], "worker"); /* reports why it did not subscribe */
    }
    streamlog_store *st = su_open_store_or_null();
    ck_assert_ptr_nonnull(st);
    streamlog_channel *jobs = tu_chan(st, "jobs", NULL);
    supervise(st, jobs, report.r, stop.w);
    for (int i = 0; i < WORKERS; i++)
        su_reap(kids[i], "worker");
    check_dead_letters(st);
    streamlog_channel_close(jobs);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(dead_letters_exactly_once_across_threads)
{
    struct su_pipe ready = su_pipe_new(), report = su_pipe_new(), stop = su_pipe_new();
    streamlog_store *st = su_open_store_or_null();
    ck_assert_ptr_nonnull(st);
    streamlog_channel *jobs = tu_chan(st, "jobs", NULL);
    struct worker w[WORKERS];
    pthread_t th[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        w[i] = (struct worker){.ch = jobs, .ready_w = ready.w, .report_w = report.w, .stop_r = stop.r};
        ck_assert_int_eq(pthread_create(&th[i], NULL, worker_thread, &w[i]), 0);
    }
    for (int i = 0; i < WORKERS; i++) {
        uint64_t v;
        ck_assert_int_eq(su_recv(ready.r, &v), 0);
    }
    supervise(st, jobs, report.r, stop.w);
    for (int i = 0; i < WORKERS; i++) {
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
        ck_assert_msg(w[i].err[0] == '\0', "worker %d: %s", i, w[i].err);
    }
    check_dead_letters(st);
    streamlog_channel_close(jobs);
    TU_OK(streamlog_close(st));
}
END_TEST

/* ---- fairness ---- */

enum { BURST = 10, BURST_RUNS = 20 };

/* Two members waiting (each asked and found nothing) when a burst of 10
 * arrives; then, in a random order, one of them is asked, acks what it gets
 * and asks again until it finds nothing (it is waiting again): the delivery
 * rule hands the burst out alternately, whoever asks first. Driven from one
 * thread so that the rule, not the scheduler, is what is tested. */
START_TEST(burst_shared_evenly_by_waiting_members)
{
    streamlog_store *st = su_open_store_or_null();
    ck_assert_ptr_nonnull(st);
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    unsigned seed = 12345;
    for (int run = 0; run < BURST_RUNS; run++) {
        streamlog_sub *mem[2];
        int got[2] = {0, 0};
        for (int i = 0; i < 2; i++) {
            streamlog_opts *o = su_opts();
            su_str(o, STREAMLOG_OPT_QUEUE, "q");
            mem[i] = su_subscribe(ch, o);
            streamlog_opts_free(o);
            SU_NOTHING(mem[i]); /* both are waiting before the burst */
        }
        uint64_t last = tu_stats(ch).last_seq;
        if (run % 2) { /* one commit, or ten */
            const void *data[BURST];
            size_t lens[BURST];
            char bufs[BURST][32];
            for (int i = 0; i < BURST; i++) {
                lens[i] = (size_t)snprintf(bufs[i], sizeof bufs[i], "m%llu", (unsigned long long)(last + 1 + i));
                data[i] = bufs[i];
            }
            TU_OK(streamlog_append_batch(ch, data, lens, BURST, NULL));
        } else {
            su_fill_to(ch, last + BURST);
        }
        for (int asks = 0; got[0] + got[1] < BURST; asks++) {
            ck_assert_msg(asks < 1000, "run %d: only %d of %d delivered", run, got[0] + got[1], BURST);
            /* a member asked works through what it gets and asks again until
             * it finds nothing: it is then waiting again */
            int i = rand_r(&seed) % 2;
            const streamlog_msg *m;
            int rc;
            while ((rc = streamlog_sub_next(mem[i], 0, &m)) == STREAMLOG_OK) {
                su_check_payload(m);
                TU_OK(streamlog_ack(mem[i], streamlog_msg_seq(m)));
                got[i]++;
            }
            TU_RC(rc, STREAMLOG_EAGAIN);
        }
        ck_assert_msg(got[0] >= 4 && got[0] <= 6, "run %d: the members got %d and %d of %d", run, got[0], got[1],
                      BURST);
        for (int i = 0; i < 2; i++)
            TU_OK(streamlog_sub_close(mem[i]));
    }
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

/* A member asked while another waits and comes first gets nothing, and
 * holds nothing claimed: closing it hands nothing over. */
START_TEST(member_out_of_turn_holds_nothing)
{
    streamlog_store *st = su_open_store_or_null();
    ck_assert_ptr_nonnull(st);
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    streamlog_sub *a, *b;
    streamlog_opts *o = su_opts();
    su_str(o, STREAMLOG_OPT_QUEUE, "q");
    a = su_subscribe(ch, o);
    b = su_subscribe(ch, o);
    streamlog_opts_free(o);
    SU_NOTHING(a);
    SU_NOTHING(b);
    su_fill_to(ch, 3);
    SU_EXPECT(a, 0, 1, 0);   /* a came first (ties: lower member id) */
    SU_NOTHING(a);           /* b waits and has not had one: a holds nothing */
    ck_assert_uint_eq(su_stats(a).pending, 1);
    SU_EXPECT(b, 0, 2, 0);
    TU_OK(streamlog_ack(a, 1)); /* a: 0 unacked, b: 1 -> a first */
    SU_NOTHING(b);
    SU_EXPECT(a, 0, 3, 0);
    TU_OK(streamlog_sub_close(a));
    TU_OK(streamlog_sub_close(b));
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

enum { SLOW_JOBS = 3000, SLOW_WORK_US = 1000 };

struct slow_worker {
    int index, ready_w, report_w, stop_r, stop_w;
};

/* A worker process doing 1 ms of work per job; reports index * 2^32 + seq
 * for each job it acked. */
static void slow_worker_main(void *p)
{
    struct slow_worker *w = p;
    close(w->stop_w);
    streamlog_store *st = su_open_store_or_null();
    SU_CASSERT(st, "open: [%s]", tu_errmsg_safe());
    streamlog_channel *ch;
    streamlog_sub *s;
    streamlog_opts *o;
    SU_CCHECK(streamlog_channel_open(st, "jobs", STREAMLOG_CREATE, NULL, &ch));
    SU_CCHECK(streamlog_opts_new(&o));
    SU_CCHECK(streamlog_opts_set_str(o, STREAMLOG_OPT_QUEUE, "slow"));
    SU_CCHECK(streamlog_opts_set_int(o, STREAMLOG_OPT_START, STREAMLOG_START_FIRST));
    SU_CCHECK(streamlog_subscribe(ch, o, &s));
    streamlog_opts_free(o);
    su_send(w->ready_w, 0);
    for (;;) {
        const streamlog_msg *m;
        int rc = streamlog_sub_next(s, 50, &m);
        if (rc == STREAMLOG_OK) {
            struct timespec ts = {0, SLOW_WORK_US * 1000L};
            nanosleep(&ts, NULL);
            uint64_t q = streamlog_msg_seq(m);
            SU_CCHECK(streamlog_ack(s, q));
            su_send(w->report_w, ((uint64_t)w->index << 32) | q);
            continue;
        }
        SU_CCHECK_RC(rc, STREAMLOG_ETIMEDOUT);
        struct pollfd pf = {.fd = w->stop_r, .events = POLLIN};
        if (poll(&pf, 1, 0) > 0)
            break;
    }
    SU_CCHECK(streamlog_sub_close(s));
    streamlog_channel_close(ch);
    SU_CCHECK(streamlog_close(st));
}

START_TEST(slow_workers_share_evenly)
{
    struct su_pipe ready = su_pipe_new(), report = su_pipe_new(), stop = su_pipe_new();
    struct slow_worker w[WORKERS];
    struct su_child kids[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        w[i] = (struct slow_worker){i, ready.w, report.w, stop.r, stop.w};
        kids[i] = su_spawn(slow_worker_main, &w[i], 150);
    }
    close(ready.w);
    close(report.w);
    close(stop.r);
    for (int i = 0; i < WORKERS; i++) {
        uint64_t v;
        if (su_recv(ready.r, &v) != 0)
            su_reap(kids[i], "worker");
    }
    streamlog_store *st = su_open_store_or_null();
    ck_assert_ptr_nonnull(st);
    streamlog_channel *ch = tu_chan(st, "jobs", NULL);
    su_fill_to(ch, SLOW_JOBS);
    static uint8_t seen[SLOW_JOBS + 1];
    memset(seen, 0, sizeof seen);
    int got[WORKERS] = {0}, n = 0;
    while (n < SLOW_JOBS) {
        uint64_t v;
        ck_assert_msg(su_recv(report.r, &v) == 0, "workers stopped after %d jobs", n);
        uint32_t idx = (uint32_t)(v >> 32);
        uint64_t q = v & 0xffffffffu;
        ck_assert_msg(idx < WORKERS && q >= 1 && q <= SLOW_JOBS, "report %llx", (unsigned long long)v);
        ck_assert_msg(!seen[q], "job #%llu done twice", (unsigned long long)q);
        seen[q] = 1;
        got[idx]++;
        n++;
    }
    close(stop.w);
    for (int i = 0; i < WORKERS; i++)
        su_reap(kids[i], "worker");
    for (int i = 0; i < WORKERS; i++)
        ck_assert_msg(got[i] >= SLOW_JOBS * 25 / 100 && got[i] <= SLOW_JOBS * 42 / 100,
                      "shares of %d jobs: %d, %d, %d", SLOW_JOBS, got[0], got[1], got[2]);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

/* A member alone takes a batch; once another member waits, it gives back
 * what it has not delivered, and the rule decides again. */
START_TEST(member_gives_back_batch_when_another_waits)
{
    streamlog_store *st = su_open_store_or_null();
    ck_assert_ptr_nonnull(st);
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    streamlog_opts *o = su_opts();
    su_str(o, STREAMLOG_OPT_QUEUE, "q");
    su_int(o, STREAMLOG_OPT_START, STREAMLOG_START_FIRST);
    streamlog_sub *a = su_subscribe(ch, o), *b = su_subscribe(ch, o);
    streamlog_opts_free(o);
    su_fill_to(ch, 10);
    SU_EXPECT(a, 0, 1, 0); /* b is not waiting: a may claim ahead */
    SU_NOTHING(b);         /* everything is claimed: b waits */
    SU_NOTHING(a);         /* a gives back 2..10; b comes first (fewer unacked) */
    ck_assert_uint_eq(su_stats(a).pending, 1);
    SU_EXPECT(b, 0, 2, 0);
    SU_EXPECT(a, 0, 3, 0);
    SU_NOTHING(b);
    SU_NOTHING(a);
    SU_EXPECT(b, 0, 4, 0);
    /* every message once, none lost: the rest goes to whoever asks */
    int got = 0;
    for (int i = 0; i < 100 && got < 6; i++) {
        const streamlog_msg *m;
        streamlog_sub *s = i % 2 ? a : b;
        int rc = streamlog_sub_next(s, 0, &m);
        if (rc == STREAMLOG_EAGAIN)
            continue;
        TU_OK(rc);
        ck_assert_uint_eq(streamlog_msg_seq(m), 5 + got);
        ck_assert_uint_eq(streamlog_msg_redelivery_count(m), 0);
        got++;
    }
    ck_assert_int_eq(got, 6);
    TU_OK(streamlog_sub_close(a));
    TU_OK(streamlog_sub_close(b));
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

static Suite *subs_workqueue_suite(void)
{
    Suite *s = suite_create("subs-workqueue");
    TCase *tc = tu_tcase("dead-letters", 180);
    tcase_add_test(tc, dead_letters_exactly_once_across_processes);
    tcase_add_test(tc, dead_letters_exactly_once_across_threads);
    suite_add_tcase(s, tc);
    tc = tu_tcase("fairness", 180);
    tcase_add_test(tc, burst_shared_evenly_by_waiting_members);
    tcase_add_test(tc, member_out_of_turn_holds_nothing);
    tcase_add_test(tc, member_gives_back_batch_when_another_waits);
    tcase_add_test(tc, slow_workers_share_evenly);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    return tu_run(subs_workqueue_suite());
}
