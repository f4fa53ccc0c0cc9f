/*
 * subs.c - subscription rows of streamlog-bench (rows 8 to 10).
 *
 *  8  replay of a channel through a subscription (AUTO acks, and MANUAL acks
 *     with an ack per message) against the raw iterator over the same channel
 *  9  end-to-end latency from streamlog_append() to streamlog_sub_next()
 *     returning the message, at a paced rate, with the subscriber in another
 *     thread and in another process (SYNC_NONE store)
 * 10  acks per second on a durable subscription: deliver + ack every message,
 *     with the acks written to the store (claims and acks batches) and a
 *     final close that persists the rest
 * 12  a queue group of 3 worker processes draining a filled channel:
 *     delivered + acked messages per second and each member's share, with no
 *     work per message and with 1 ms of work (sleep) per message
 * 13  10,000 subscriptions on one channel (plain, and durables with distinct
 *     names), under SYNC_NONE and the default SYNC_ALWAYS: seconds to create
 *     them, to deliver one message to all (next, ack, next until EAGAIN),
 *     and to close them; none asks for its fd
 *
 * Like the other rows, each figure is the median of several runs.
 */
#define _GNU_SOURCE /* clock_nanosleep */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <streamlog.h>

#include "bench.h"

#define CHECK(expr)                                                                            \
    do {                                                                                       \
        int rc_ = (expr);                                                                      \
        if (rc_ != STREAMLOG_OK)                                                               \
            die("%s: %s (%s)", #expr, streamlog_errname(rc_), streamlog_errmsg());             \
    } while (0)

static streamlog_store *open_store(const char *dir)
{
    streamlog_opts *o;
    streamlog_store *st;
    CHECK(streamlog_opts_new(&o));
    CHECK(streamlog_opts_set_int(o, STREAMLOG_OPT_SYNC, STREAMLOG_SYNC_NONE));
    CHECK(streamlog_open(dir, o, &st));
    streamlog_opts_free(o);
    return st;
}

static void fill_channel(streamlog_channel *ch, uint64_t n)
{
    for (uint64_t done = 0; done < n; done += BATCH_SIZE) {
        size_t k = n - done < BATCH_SIZE ? (size_t)(n - done) : BATCH_SIZE;
        CHECK(streamlog_append_batch(ch, payload_ptr, payload_len, k, NULL));
    }
}

static streamlog_sub *subscribe(streamlog_channel *ch, int start, int ack_mode, const char *durable)
{
    streamlog_opts *o;
    streamlog_sub *sub;
    CHECK(streamlog_opts_new(&o));
    CHECK(streamlog_opts_set_int(o, STREAMLOG_OPT_START, start));
    CHECK(streamlog_opts_set_int(o, STREAMLOG_OPT_ACK_MODE, ack_mode));
    if (durable)
        CHECK(streamlog_opts_set_str(o, STREAMLOG_OPT_DURABLE, durable));
    CHECK(streamlog_subscribe(ch, o, &sub));
    streamlog_opts_free(o);
    return sub;
}

/* Deliver everything (acking each message in MANUAL mode); msgs/s. */
static double drain_sub(streamlog_sub *sub, uint64_t n, int manual)
{
    const streamlog_msg *m;
    uint64_t got = 0, sum = 0;
    int64_t t0 = now_ns();
    int rc;
    while ((rc = streamlog_sub_next(sub, 0, &m)) == STREAMLOG_OK) {
        size_t len;
        const unsigned char *d = streamlog_msg_data(m, &len);
        sum += len ? d[0] : 0;
        if (manual)
            CHECK(streamlog_ack(sub, streamlog_msg_seq(m)));
        got++;
    }
    double secs = (now_ns() - t0) / 1e9;
    if (rc != STREAMLOG_EAGAIN || got != n)
        die("subscription delivered %llu of %llu (%s)", (unsigned long long)got, (unsigned long long)n,
            streamlog_errname(rc));
    (void)sum;
    return n / secs;
}

static double drain_iter(streamlog_channel *ch, uint64_t n)
{
    streamlog_iter *it;
    const streamlog_msg *m;
    uint64_t got = 0, sum = 0;
    CHECK(streamlog_iter_open(ch, STREAMLOG_START_FIRST, 0, &it));
    int64_t t0 = now_ns();
    while (streamlog_iter_next(it, &m) == STREAMLOG_OK) {
        size_t len;
        const unsigned char *d = streamlog_msg_data(m, &len);
        sum += len ? d[0] : 0;
        got++;
    }
    double secs = (now_ns() - t0) / 1e9;
    streamlog_iter_close(it);
    if (got != n)
        die("iterator read %llu of %llu", (unsigned long long)got, (unsigned long long)n);
    (void)sum;
    return n / secs;
}

static void row_replay(const char *base, uint64_t n, int runs)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/subs-replay", base);
    make_dir(dir);
    streamlog_store *st = open_store(dir);
    streamlog_channel *ch;
    CHECK(streamlog_channel_open(st, "replay", STREAMLOG_CREATE, NULL, &ch));
    fill_channel(ch, n);
    double it_r[16], auto_r[16], man_r[16];
    for (int r = 0; r < runs; r++) {
        it_r[r] = drain_iter(ch, n);
        streamlog_sub *sub = subscribe(ch, STREAMLOG_START_FIRST, STREAMLOG_ACK_AUTO, NULL);
        auto_r[r] = drain_sub(sub, n, 0);
        CHECK(streamlog_sub_close(sub));
        sub = subscribe(ch, STREAMLOG_START_FIRST, STREAMLOG_ACK_MANUAL, NULL);
        man_r[r] = drain_sub(sub, n, 1);
        CHECK(streamlog_sub_close(sub));
    }
    double it_m = median(it_r, runs), a = median(auto_r, runs), mm = median(man_r, runs);
    printf("  8 | replay %llu msgs, raw iterator          | %12.0f msgs/s |\n", (unsigned long long)n, it_m);
    printf("  8 | replay via subscription, AUTO acks      | %12.0f msgs/s | %.2fx iterator | target >= 2M/s and >= 0.3x | %s\n",
           a, a / it_m, a >= 2e6 && a / it_m >= 0.3 ? "met" : "MISSED");
    printf("  8 | replay via subscription, MANUAL acks    | %12.0f msgs/s | %.2fx iterator | target >= 2M/s and >= 0.3x | %s\n",
           mm, mm / it_m, mm >= 2e6 && mm / it_m >= 0.3 ? "met" : "MISSED");
    streamlog_channel_close(ch);
    CHECK(streamlog_close(st));
    remove_tree(dir);
}

/* ---- latency ---- */

struct lat_ctx {
    streamlog_sub *sub;
    uint64_t n;
    double *lat_us;
};

/* Each payload carries the CLOCK_MONOTONIC time of its append call (the
 * clock is shared by all processes of the machine). */
static void *lat_consumer(void *arg)
{
    struct lat_ctx *c = arg;
    const streamlog_msg *m;
    for (uint64_t i = 0; i < c->n; i++) {
        CHECK(streamlog_sub_next(c->sub, 10000, &m));
        int64_t now = now_ns(), sent;
        size_t len;
        const void *d = streamlog_msg_data(m, &len);
        memcpy(&sent, d, sizeof sent);
        c->lat_us[i] = (now - sent) / 1e3;
        CHECK(streamlog_ack(c->sub, streamlog_msg_seq(m)));
    }
    return NULL;
}

static void paced_appends(streamlog_channel *ch, uint64_t n, int rate)
{
    char buf[MSG_SIZE];
    memset(buf, 'x', sizeof buf);
    int64_t period = 1000000000LL / rate, next = now_ns();
    for (uint64_t i = 0; i < n; i++) {
        /* sleep, not spin: on 2 cores a spinning producer would starve the
         * subscriber; pacing jitter does not enter the latency measured */
        struct timespec ts = {.tv_sec = next / 1000000000, .tv_nsec = next % 1000000000};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0)
            ;
        int64_t t = now_ns();
        memcpy(buf, &t, sizeof t);
        CHECK(streamlog_append(ch, buf, sizeof buf, NULL));
        next += period;
    }
}

static void print_latency(const char *what, double *lat, uint64_t n, double target_p99)
{
    double p50 = percentile(lat, n, 50), p99 = percentile(lat, n, 99), p999 = percentile(lat, n, 99.9);
    printf("  9 | latency append->sub_next, %-13s | p50 %7.1f us | p99 %7.1f us | p99.9 %8.1f us | target p99 <= %.0f us | %s\n",
           what, p50, p99, p999, target_p99, p99 <= target_p99 ? "met" : "MISSED");
}

static void row_latency(const char *base, uint64_t n, int rate)
{
    char dir[4096];
    double *lat = malloc(n * sizeof *lat);
    if (!lat)
        die("out of memory");

    /* another thread */
    snprintf(dir, sizeof dir, "%s/subs-latency-thread", base);
    make_dir(dir);
    streamlog_store *st = open_store(dir);
    streamlog_channel *ch;
    CHECK(streamlog_channel_open(st, "latency", STREAMLOG_CREATE, NULL, &ch));
    struct lat_ctx c = {subscribe(ch, STREAMLOG_START_NEW_ONLY, STREAMLOG_ACK_MANUAL, NULL), n, lat};
    pthread_t th;
    pthread_create(&th, NULL, lat_consumer, &c);
    paced_appends(ch, n, rate);
    pthread_join(th, NULL);
    CHECK(streamlog_sub_close(c.sub));
    streamlog_channel_close(ch);
    CHECK(streamlog_close(st));
    remove_tree(dir);
    print_latency("other thread", lat, n, 50);

    /* another process: fork before anyone opens the store */
    snprintf(dir, sizeof dir, "%s/subs-latency-process", base);
    make_dir(dir);
    int ready[2], results[2];
    if (pipe(ready) || pipe(results))
        die("pipe");
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        streamlog_store *cst = open_store(dir);
        streamlog_channel *cch;
        CHECK(streamlog_channel_open(cst, "latency", STREAMLOG_CREATE, NULL, &cch));
        struct lat_ctx cc = {subscribe(cch, STREAMLOG_START_NEW_ONLY, STREAMLOG_ACK_MANUAL, NULL), n, lat};
        if (write(ready[1], "r", 1) != 1)
            _exit(1);
        lat_consumer(&cc);
        size_t bytes = n * sizeof *lat;
        for (size_t off = 0; off < bytes;) {
            ssize_t w = write(results[1], (char *)lat + off, bytes - off);
            if (w <= 0)
                _exit(1);
            off += (size_t)w;
        }
        streamlog_sub_close(cc.sub);
        streamlog_channel_close(cch);
        streamlog_close(cst);
        _exit(0);
    }
    char b;
    if (read(ready[0], &b, 1) != 1)
        die("latency child did not start");
    st = open_store(dir);
    CHECK(streamlog_channel_open(st, "latency", STREAMLOG_CREATE, NULL, &ch));
    paced_appends(ch, n, rate);
    size_t bytes = n * sizeof *lat;
    for (size_t off = 0; off < bytes;) {
        ssize_t r = read(results[0], (char *)lat + off, bytes - off);
        if (r <= 0)
            die("latency child failed");
        off += (size_t)r;
    }
    int status;
    waitpid(pid, &status, 0);
    streamlog_channel_close(ch);
    CHECK(streamlog_close(st));
    remove_tree(dir);
    close(ready[0]);
    close(ready[1]);
    close(results[0]);
    close(results[1]);
    print_latency("other process", lat, n, 200);
    free(lat);
}

/* ---- durable acks ---- */

static void row_durable_acks(const char *base, uint64_t n, int runs)
{
    char dir[4096];
    double r_acks[16];
    for (int r = 0; r < runs; r++) {
        snprintf(dir, sizeof dir, "%s/subs-acks", base);
        make_dir(dir);
        streamlog_store *st = open_store(dir);
        streamlog_channel *ch;
        CHECK(streamlog_channel_open(st, "acks", STREAMLOG_CREATE, NULL, &ch));
        fill_channel(ch, n);
        streamlog_sub *sub = subscribe(ch, STREAMLOG_START_FIRST, STREAMLOG_ACK_MANUAL, "bench");
        int64_t t0 = now_ns();
        drain_sub(sub, n, 1);
        CHECK(streamlog_sub_close(sub)); /* writes the last acks */
        r_acks[r] = n / ((now_ns() - t0) / 1e9);
        streamlog_channel_close(ch);
        CHECK(streamlog_close(st));
        remove_tree(dir);
    }
    double a = median(r_acks, runs);
    printf(" 10 | durable subscription, deliver + ack     | %12.0f acks/s | target >= 500k/s | %s\n", a,
           a >= 5e5 ? "met" : "MISSED");
}

/* ---- queue group of processes ---- */

#define QUEUE_MEMBERS 3

struct queue_result {
    uint64_t got;
    int64_t last_ns; /* CLOCK_MONOTONIC of its last delivery */
};

/* A member process: subscribe, say so, wait for the go, then deliver and ack
 * until nothing comes for a while; report what it got. */
static void queue_member(const char *dir, int ready_w, int go_r, int result_w, int work_us)
{
    streamlog_store *st = open_store(dir);
    streamlog_channel *ch;
    streamlog_opts *o;
    streamlog_sub *sub;
    CHECK(streamlog_channel_open(st, "queue", STREAMLOG_CREATE, NULL, &ch));
    CHECK(streamlog_opts_new(&o));
    CHECK(streamlog_opts_set_str(o, STREAMLOG_OPT_QUEUE, "workers"));
    CHECK(streamlog_opts_set_int(o, STREAMLOG_OPT_START, STREAMLOG_START_FIRST));
    CHECK(streamlog_subscribe(ch, o, &sub));
    streamlog_opts_free(o);
    char b = 'r';
    if (write(ready_w, &b, 1) != 1 || read(go_r, &b, 1) != 1)
        _exit(1);
    struct queue_result r = {0, 0};
    const streamlog_msg *m;
    int rc;
    while ((rc = streamlog_sub_next(sub, 1000, &m)) == STREAMLOG_OK) {
        if (work_us) {
            struct timespec ts = {0, work_us * 1000L};
            nanosleep(&ts, NULL);
        }
        CHECK(streamlog_ack(sub, streamlog_msg_seq(m)));
        r.got++;
        r.last_ns = now_ns();
    }
    if (rc != STREAMLOG_ETIMEDOUT)
        die("queue member: %s", streamlog_errname(rc));
    CHECK(streamlog_sub_close(sub));
    streamlog_channel_close(ch);
    CHECK(streamlog_close(st));
    if (write(result_w, &r, sizeof r) != (ssize_t)sizeof r)
        _exit(1);
    _exit(0);
}

/* One run: msgs/s from the go to the last delivery; shares[i] in percent. */
static double queue_run(const char *base, uint64_t n, int work_us, double *shares)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/subs-queue", base);
    make_dir(dir);
    int ready[2], go[2], results[2];
    if (pipe(ready) || pipe(go) || pipe(results))
        die("pipe");
    pid_t pids[QUEUE_MEMBERS];
    for (int i = 0; i < QUEUE_MEMBERS; i++) { /* fork before this process opens the store */
        if ((pids[i] = fork()) < 0)
            die("fork");
        if (pids[i] == 0)
            queue_member(dir, ready[1], go[0], results[1], work_us);
    }
    char b;
    for (int i = 0; i < QUEUE_MEMBERS; i++)
        if (read(ready[0], &b, 1) != 1)
            die("a queue member did not start");
    streamlog_store *st = open_store(dir);
    streamlog_channel *ch;
    CHECK(streamlog_channel_open(st, "queue", STREAMLOG_CREATE, NULL, &ch));
    fill_channel(ch, n);
    int64_t t0 = now_ns();
    for (int i = 0; i < QUEUE_MEMBERS; i++)
        if (write(go[1], "g", 1) != 1)
            die("pipe");
    uint64_t total = 0;
    int64_t last = t0;
    for (int i = 0; i < QUEUE_MEMBERS; i++) {
        struct queue_result r;
        if (read(results[0], &r, sizeof r) != (ssize_t)sizeof r)
            die("a queue member failed");
        shares[i] = 100.0 * r.got / n;
        total += r.got;
        if (r.last_ns > last)
            last = r.last_ns;
    }
    for (int i = 0; i < QUEUE_MEMBERS; i++) {
        int status;
        waitpid(pids[i], &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status))
            die("a queue member failed");
    }
    if (total != n)
        die("queue group delivered %llu of %llu", (unsigned long long)total, (unsigned long long)n);
    streamlog_channel_close(ch);
    CHECK(streamlog_close(st));
    remove_tree(dir);
    int fds[] = {ready[0], ready[1], go[0], go[1], results[0], results[1]};
    for (size_t i = 0; i < sizeof fds / sizeof *fds; i++)
        close(fds[i]);
    return n / ((last - t0) / 1e9);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void row_queue(const char *base, uint64_t n, int work_us, int runs)
{
    double rates[16], shares[QUEUE_MEMBERS], lo = 100, hi = 0;
    for (int r = 0; r < runs; r++) {
        rates[r] = queue_run(base, n, work_us, shares);
        qsort(shares, QUEUE_MEMBERS, sizeof *shares, cmp_double);
        if (shares[0] < lo)
            lo = shares[0];
        if (shares[QUEUE_MEMBERS - 1] > hi)
            hi = shares[QUEUE_MEMBERS - 1];
    }
    printf(" 12 | queue group, 3 processes, %4d us work  | %12.0f msgs/s | %llu msgs | member shares %.1f%%..%.1f%% over %d runs\n",
           work_us, median(rates, runs), (unsigned long long)n, lo, hi, runs);
}

void bench_subs(const char *dir, int quick, int replay, int latency, int acks, int queue)
{
    uint64_t n = quick ? 100000 : 1000000;
    int runs = quick ? 1 : 5;
    printf("\nsubscriptions (SYNC_NONE store, %d-byte messages):\n", MSG_SIZE);
    if (replay)
        row_replay(dir, n, runs);
    if (latency)
        row_latency(dir, quick ? 2000 : 20000, 10000);
    if (acks)
        row_durable_acks(dir, n, quick ? 1 : 3);
    if (queue) {
        row_queue(dir, quick ? 20000 : 200000, 0, quick ? 1 : 3);
        row_queue(dir, 3000, 1000, quick ? 1 : 3);
    }
}

/* ---- row 13: many subscriptions on one channel ---- */

struct scale_times {
    double create, deliver, close;
};

static void scale_run(const char *dir, int sync, int durable, int n, streamlog_sub **subs, struct scale_times *out)
{
    streamlog_opts *so;
    streamlog_store *st;
    streamlog_channel *ch;
    make_dir(dir);
    CHECK(streamlog_opts_new(&so));
    CHECK(streamlog_opts_set_int(so, STREAMLOG_OPT_SYNC, sync));
    CHECK(streamlog_open(dir, so, &st));
    streamlog_opts_free(so);
    CHECK(streamlog_channel_open(st, "fanout", STREAMLOG_CREATE, NULL, &ch));

    int64_t t0 = now_ns();
    for (int i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "d%d", i);
        subs[i] = subscribe(ch, STREAMLOG_START_NEW_ONLY, STREAMLOG_ACK_MANUAL, durable ? name : NULL);
    }
    int64_t t1 = now_ns();
    CHECK(streamlog_append(ch, payload_ptr[0], payload_len[0], NULL));
    const streamlog_msg *m;
    for (int i = 0; i < n; i++) {
        CHECK(streamlog_sub_next(subs[i], 0, &m));
        CHECK(streamlog_ack(subs[i], streamlog_msg_seq(m)));
        int rc = streamlog_sub_next(subs[i], 0, &m); /* releases the view, writes a durable's ack */
        if (rc != STREAMLOG_EAGAIN)
            die("subscription %d: a second message or an error: %s", i, streamlog_errname(rc));
    }
    int64_t t2 = now_ns();
    for (int i = 0; i < n; i++)
        CHECK(streamlog_sub_close(subs[i]));
    int64_t t3 = now_ns();
    streamlog_channel_close(ch);
    CHECK(streamlog_close(st));
    remove_tree(dir);
    *out = (struct scale_times){(t1 - t0) / 1e9, (t2 - t1) / 1e9, (t3 - t2) / 1e9};
}

void bench_subs_scale(const char *base, int n, int runs)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max; /* as a server holding many subscriptions would */
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    streamlog_sub **subs = calloc((size_t)n, sizeof *subs);
    if (!subs)
        die("out of memory");
    static const struct { int sync; const char *name; } policies[] = {
        {STREAMLOG_SYNC_NONE, "SYNC_NONE"}, {STREAMLOG_SYNC_ALWAYS, "SYNC_ALWAYS"}};
    printf("\n%d subscriptions on one channel (RLIMIT_NOFILE %llu; no fd asked for; medians of %d runs):\n", n,
           (unsigned long long)rl.rlim_cur, runs);
    for (size_t p = 0; p < sizeof policies / sizeof *policies; p++) {
        for (int durable = 0; durable <= 1; durable++) {
            double c[16], d[16], x[16];
            for (int r = 0; r < runs; r++) {
                char dir[4096];
                struct scale_times t;
                snprintf(dir, sizeof dir, "%s/subs-scale", base);
                scale_run(dir, policies[p].sync, durable, n, subs, &t);
                c[r] = t.create, d[r] = t.deliver, x[r] = t.close;
            }
            double create = median(c, runs);
            printf(" 13 | %5d %-8s subs, %-11s | create %6.2f s | deliver 1 msg to all %6.2f s | close %6.2f s"
                   " | target create <= 5 s | %s\n",
                   n, durable ? "durable" : "plain", policies[p].name, create, median(d, runs), median(x, runs),
                   create <= 5.0 ? "met" : "MISSED");
            fflush(stdout);
        }
    }
    free(subs);
}
