/* jsb-bench: mirror-out throughput and latency against an application publishing to JetStream
 * directly through the same client (async publish, same window).
 *
 *   jsb-bench URL REPLICAS [MSGS [WINDOW [RATE [SECONDS [RUNS]]]]]
 *     defaults: 200000 messages (shorter runs are mostly noise), window 256, 2000 msgs/s for 5 s,
 *     5 runs (medians)
 *
 * Throughput: "direct" publishes MSGS messages with js_PublishAsync (MaxPending = WINDOW);
 * "bridge" appends MSGS messages to a fresh store (SYNC_ALWAYS, batches of 1000) and runs
 * jsb_run_out --until-caught-up with the same window. Both rates are counted from the first
 * PubAck to the last, on a stream of their own (file storage, REPLICAS replicas).
 * Latency at a steady RATE: direct, from the publish call to its PubAck; bridge, from the local
 * commit (an appending process, one durable append per message) to the PubAck in the bridge;
 * "append" is how long the appending process's streamlog_append calls took (their fdatasync). */
#include "bridge.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int64_t real_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void pace(int64_t start, uint64_t i, int rate)
{
    int64_t due = start + (int64_t)(1e9 * (double)i / rate);
    for (int64_t now = real_ns(); now < due; now = real_ns())
        nanosleep(&(struct timespec){0, due - now}, NULL);
}

typedef struct sample_set {
    pthread_mutex_t mu;
    int64_t first, last;
    uint64_t count, errors;
    int64_t *lat;
    size_t nlat, cap;
    int record_latency;
} sample_set;

static void sample(sample_set *s, int64_t sent_ns, int ok)
{
    int64_t now = real_ns();
    pthread_mutex_lock(&s->mu);
    if (!ok) {
        s->errors++;
    } else {
        if (!s->count)
            s->first = now;
        s->last = now;
        s->count++;
        if (s->record_latency && sent_ns) {
            if (s->nlat == s->cap) {
                s->cap = s->cap ? s->cap * 2 : 4096;
                s->lat = realloc(s->lat, s->cap * sizeof *s->lat);
            }
            s->lat[s->nlat++] = now - sent_ns;
        }
    }
    pthread_mutex_unlock(&s->mu);
}

static void reset(sample_set *s, int record_latency)
{
    pthread_mutex_lock(&s->mu);
    s->first = s->last = 0;
    s->count = s->errors = 0;
    s->nlat = 0;
    s->record_latency = record_latency;
    pthread_mutex_unlock(&s->mu);
}

static uint64_t sample_count(sample_set *s)
{
    pthread_mutex_lock(&s->mu);
    uint64_t n = s->count;
    pthread_mutex_unlock(&s->mu);
    return n;
}

static double rate_of(sample_set *s)
{
    return s->count > 1 && s->last > s->first ? (double)(s->count - 1) * 1e9 / (double)(s->last - s->first) : 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct_us(sample_set *s, double p)
{
    if (!s->nlat)
        return 0;
    qsort(s->lat, s->nlat, sizeof *s->lat, cmp_i64);
    size_t i = (size_t)(p * (double)(s->nlat - 1));
    return (double)s->lat[i] / 1000.0;
}

/* ---- direct publishing ---- */

static sample_set direct_set = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void direct_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
    (void)js;
    (void)pae;
    (void)closure;
    int64_t sent = 0;
    if (natsMsg_GetDataLength(msg) >= 8)
        memcpy(&sent, natsMsg_GetData(msg), 8);
    sample(&direct_set, sent, pa != NULL);
    natsMsg_Destroy(msg);
}

static int make_stream(jsCtx *js, const char *name, int replicas)
{
    char subject[128];
    snprintf(subject, sizeof subject, "%s.>", name);
    const char *subjects[] = {subject};
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    sc.Name = name;
    sc.Subjects = subjects;
    sc.SubjectsLen = 1;
    sc.Replicas = replicas;
    js_DeleteStream(js, name, NULL, NULL);
    jsErrCode jerr = 0;
    natsStatus s = NATS_ERR;
    /* a cluster that just formed, or just deleted the stream, may refuse for a moment */
    for (int attempt = 0; attempt < 30 && s != NATS_OK; attempt++) {
        jsStreamInfo *si = NULL;
        if (attempt)
            nanosleep(&(struct timespec){0, 500000000}, NULL);
        s = js_AddStream(&si, js, &sc, NULL, &jerr);
        jsStreamInfo_Destroy(si);
    }
    if (s != NATS_OK)
        fprintf(stderr, "jsb-bench: creating %s: %s (%d)\n", name, jsb_nats_error(s), (int)jerr);
    return s != NATS_OK;
}

/* One throughput run (n messages) or one latency run (rate for seconds); 0 on success. */
/* What a direct publisher adds of the bridge's headers (bits), to see what each costs. */
#define HDRS_MSGID  1
#define HDRS_EXPECT 2
#define HDRS_ORIGIN 4
#define HDRS_ALL    7

static int direct_run(const char *url, int replicas, const char *stream, size_t size, uint64_t n, int window,
                      int rate, int seconds, int headers)
{
    natsOptions *o = NULL;
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = 10000;
    jo.PublishAsync.MaxPending = window;
    jo.PublishAsync.StallWait = 60000;
    jo.PublishAsync.AckHandler = direct_ack;
    natsOptions_Create(&o);
    jsb_set_servers(o, url);
    natsStatus s = natsConnection_Connect(&nc, o);
    natsOptions_Destroy(o);
    if (s == NATS_OK)
        s = natsConnection_JetStream(&js, nc, &jo);
    if (s != NATS_OK || make_stream(js, stream, replicas)) {
        jsCtx_Destroy(js);
        natsConnection_Destroy(nc);
        return 1;
    }
    char subject[128];
    snprintf(subject, sizeof subject, "%s.bench", stream);
    char *buf = calloc(1, size < 8 ? 8 : size);
    uint64_t total = rate ? (uint64_t)rate * (uint64_t)seconds : n;
    reset(&direct_set, rate != 0);
    int64_t start = real_ns();
    for (uint64_t i = 0; i < total && s == NATS_OK; i++) {
        if (rate)
            pace(start, i, rate);
        int64_t now = real_ns();
        memcpy(buf, &now, 8);
        if (headers) {
            natsMsg *m = NULL;
            char v[128];
            natsMsg_Create(&m, subject, NULL, buf, (int)size);
            if (headers & HDRS_MSGID) {
                snprintf(v, sizeof v, "0123456789abcdef0123456789abcdef:bench:%" PRIu64, i + 1);
                natsMsgHeader_Set(m, "Nats-Msg-Id", v);
            }
            if (headers & HDRS_EXPECT) {
                snprintf(v, sizeof v, "%" PRIu64, i);
                natsMsgHeader_Set(m, "Nats-Expected-Last-Sequence", v);
            }
            if (headers & HDRS_ORIGIN) {
                natsMsgHeader_Set(m, "Streamlog-Channel", "bench");
                snprintf(v, sizeof v, "%" PRIu64, i + 1);
                natsMsgHeader_Set(m, "Streamlog-Sequence", v);
                snprintf(v, sizeof v, "%" PRId64, now);
                natsMsgHeader_Set(m, "Streamlog-Time", v);
            }
            s = js_PublishMsgAsync(js, &m, NULL);
            natsMsg_Destroy(m);
        } else {
            s = js_PublishAsync(js, subject, buf, (int)size, NULL);
        }
    }
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = 60000;
    if (s == NATS_OK)
        s = js_PublishAsyncComplete(js, &po);
    free(buf);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    if (s != NATS_OK || direct_set.errors || direct_set.count != total) {
        fprintf(stderr, "jsb-bench: direct: %" PRIu64 " of %" PRIu64 " acked, %" PRIu64 " errors (%s)\n",
                direct_set.count, total, direct_set.errors, natsStatus_GetText(s));
        return 1;
    }
    return 0;
}

/* ---- through the bridge ---- */

static sample_set bridge_set = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void bridge_forwarded(void *arg, const char *channel, uint64_t seq, int64_t time_ns)
{
    (void)arg;
    (void)channel;
    sample(&bridge_set, seq > 1 ? time_ns : 0, 1); /* seq 1 is the warm-up message */
}

typedef struct bridge_thread {
    jsb_config cfg;
    volatile sig_atomic_t stop;
    int rc;
} bridge_thread;

static void *bridge_main(void *arg)
{
    bridge_thread *bt = arg;
    bt->rc = jsb_run_out(&bt->cfg, &bt->stop);
    return NULL;
}

static int fill_store(const char *dir, size_t size, uint64_t n)
{
    streamlog_store *st;
    streamlog_channel *ch;
    if (streamlog_open(dir, NULL, &st) || streamlog_channel_open(st, "bench", STREAMLOG_CREATE, NULL, &ch)) {
        fprintf(stderr, "jsb-bench: %s: %s\n", dir, streamlog_errmsg());
        return 1;
    }
    char *buf = calloc(1, size ? size : 1);
    const void *data[1000];
    size_t lens[1000];
    for (int i = 0; i < 1000; i++)
        data[i] = buf, lens[i] = size;
    int rc = 0;
    for (uint64_t done = 0; done < n && !rc; done += 1000)
        rc = streamlog_append_batch(ch, data, lens, n - done < 1000 ? n - done : 1000, NULL);
    free(buf);
    streamlog_channel_close(ch);
    streamlog_close(st);
    return rc != 0;
}

/* A separate process appends at `rate` once told to (the store is opened once per process),
 * and reports the p50 and p99 of its own append calls (us) on *result_fd. */
static double append_p50, append_p99;

static pid_t start_appender(const char *dir, size_t size, int rate, int seconds, int *go_fd, int *result_fd)
{
    int p[2], r[2];
    if (pipe(p))
        return -1;
    if (pipe(r)) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(p[1]);
        close(r[0]);
        char c;
        if (read(p[0], &c, 1) != 1)
            _exit(1);
        streamlog_store *st;
        streamlog_channel *ch;
        if (streamlog_open(dir, NULL, &st) || streamlog_channel_open(st, "bench", 0, NULL, &ch))
            _exit(1);
        char *buf = calloc(1, size ? size : 1);
        int64_t start = real_ns();
        uint64_t total = (uint64_t)rate * (uint64_t)seconds;
        int64_t *took = calloc(total, sizeof *took);
        for (uint64_t i = 0; i < total; i++) {
            pace(start, i, rate);
            int64_t t0 = real_ns();
            if (streamlog_append(ch, buf, size, NULL))
                _exit(1);
            took[i] = real_ns() - t0;
        }
        qsort(took, total, sizeof *took, cmp_i64);
        double pct[2] = {(double)took[total / 2] / 1000.0, (double)took[(size_t)(0.99 * (double)(total - 1))] / 1000.0};
        if (write(r[1], pct, sizeof pct) != (ssize_t)sizeof pct)
            _exit(1);
        streamlog_channel_close(ch);
        _exit(streamlog_close(st) != 0);
    }
    close(p[0]);
    close(r[1]);
    *go_fd = p[1];
    *result_fd = r[0];
    return pid;
}

static int wait_count(sample_set *s, uint64_t n, int64_t timeout_ms)
{
    int64_t end = jsb_now_ms() + timeout_ms;
    while (sample_count(s) < n && jsb_now_ms() < end)
        nanosleep(&(struct timespec){0, 2000000}, NULL);
    return sample_count(s) >= n ? 0 : 1;
}

static int bridge_run(const char *url, int replicas, const char *stream, size_t size, uint64_t n, int window,
                      int rate, int seconds)
{
    char dir[] = "/tmp/jsb-bench-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    const char *channels[] = {"bench"};
    bridge_thread bt = {.stop = 0};
    jsb_config_defaults(&bt.cfg);
    bt.cfg.store_dir = dir;
    bt.cfg.server = url;
    bt.cfg.stream = stream;
    bt.cfg.channels = channels;
    bt.cfg.nchannels = 1;
    bt.cfg.create_stream = 1;
    bt.cfg.replicas = replicas;
    bt.cfg.window = window;
    bt.cfg.status_interval_ms = 0;
    bt.cfg.on_forwarded = bridge_forwarded;
    int rc = 1;
    {
        natsOptions *o = NULL;
        natsConnection *nc = NULL;
        jsCtx *js = NULL;
        natsOptions_Create(&o);
        jsb_set_servers(o, url);
        if (natsConnection_Connect(&nc, o) == NATS_OK && natsConnection_JetStream(&js, nc, NULL) == NATS_OK)
            js_DeleteStream(js, stream, NULL, NULL);
        jsCtx_Destroy(js);
        natsConnection_Destroy(nc);
        natsOptions_Destroy(o);
    }
    reset(&bridge_set, rate != 0);
    if (!rate) {
        if (fill_store(dir, size, n))
            goto out;
        bt.cfg.until_caught_up = 1;
        bridge_main(&bt);
        rc = bt.rc || bridge_set.count != n;
        goto out;
    }
    if (fill_store(dir, size, 1)) /* the warm-up message: the bridge is ready once it is acked */
        goto out;
    int go, result;
    pid_t child = start_appender(dir, size, rate, seconds, &go, &result);
    if (child < 0)
        goto out;
    pthread_t th;
    pthread_create(&th, NULL, bridge_main, &bt);
    uint64_t total = 1 + (uint64_t)rate * (uint64_t)seconds;
    int ready = wait_count(&bridge_set, 1, 60000) == 0;
    if (ready && write(go, "g", 1) != 1)
        ready = 0;
    close(go);
    int status = 0;
    double pct[2] = {0, 0};
    if (read(result, pct, sizeof pct) == (ssize_t)sizeof pct)
        append_p50 = pct[0], append_p99 = pct[1];
    close(result);
    waitpid(child, &status, 0);
    rc = !ready || !WIFEXITED(status) || WEXITSTATUS(status) || wait_count(&bridge_set, total, 60000);
    bt.stop = 1;
    pthread_join(th, NULL);
    rc |= bt.rc;
out:
    if (rc)
        fprintf(stderr, "jsb-bench: bridge run failed (%" PRIu64 " forwarded)\n", bridge_set.count);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "jsb-bench: could not remove %s\n", dir);
    return rc;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: jsb-bench URL REPLICAS [MSGS [WINDOW [RATE [SECONDS [RUNS]]]]]\n");
        return 2;
    }
    const char *url = argv[1];
    int replicas = atoi(argv[2]);
    uint64_t n = argc > 3 ? strtoull(argv[3], NULL, 10) : 200000;
    int window = argc > 4 ? atoi(argv[4]) : 256;
    int rate = argc > 5 ? atoi(argv[5]) : 2000;
    int seconds = argc > 6 ? atoi(argv[6]) : 5;
    int runs = argc > 7 ? atoi(argv[7]) : 5;
    if (replicas < 1 || n < 2 || window < 1 || rate < 1 || seconds < 1 || runs < 1 || runs > 15) {
        fprintf(stderr, "jsb-bench: bad arguments\n");
        return 2;
    }
    const size_t sizes[] = {128, 1024};
    printf("mirror-out vs direct async publish: %d replica(s), window %d, %" PRIu64
           " msgs per throughput run, median of %d runs; latency at %d msgs/s for %d s\n"
           "direct = js_PublishAsync of the payload alone; +id+origin = the same with the headers the issue asks of\n"
           "the bridge (Nats-Msg-Id, Streamlog-Channel/-Sequence/-Time); +all = with all five the bridge sends\n"
           "(those and Nats-Expected-Last-Sequence); ceiling = +id+origin / direct, the share of its rate a\n"
           "publisher keeps when it sends the headers the issue requires (a bridge cannot send less)\n\n",
           replicas, window, n, runs, rate, seconds);
    printf("%-5s | %-8s | %-12s | %-8s | %-8s | %-7s | %-9s | %-8s | %-17s | %-17s | %-17s | %s\n", "size", "direct/s",
           "+id+origin/s", "+all/s", "bridge/s", "ceiling", "vs direct", "vs +all", "direct p50/p99 us",
           "bridge p50/p99 us", "append p50/p99 us", "target >= 0.8x direct");
    printf("------------------------------------------------------------------------------------------------------"
           "-----------------------------------------------------------\n");
    int failed = 0;
    for (size_t k = 0; k < 2 && !failed; k++) {
        double d[15], q[15], h[15], b[15];
        for (int r = 0; r < runs && !failed; r++) {
            failed = direct_run(url, replicas, "BENCHDIRECT", sizes[k], n, window, 0, 0, 0);
            d[r] = rate_of(&direct_set);
            failed = failed ||
                     direct_run(url, replicas, "BENCHDIRECT", sizes[k], n, window, 0, 0, HDRS_MSGID | HDRS_ORIGIN);
            q[r] = rate_of(&direct_set);
            failed = failed || direct_run(url, replicas, "BENCHDIRECT", sizes[k], n, window, 0, 0, HDRS_ALL);
            h[r] = rate_of(&direct_set);
            failed = failed || bridge_run(url, replicas, "BENCHBRIDGE", sizes[k], n, window, 0, 0);
            b[r] = rate_of(&bridge_set);
        }
        if (failed)
            break;
        double dm = median(d, runs), qm = median(q, runs), hm = median(h, runs), bm = median(b, runs);
        if (direct_run(url, replicas, "BENCHDIRECT", sizes[k], 0, window, rate, seconds, 0) ||
            bridge_run(url, replicas, "BENCHBRIDGE", sizes[k], 0, window, rate, seconds)) {
            failed = 1;
            break;
        }
        char dl[64], bl[64];
        snprintf(dl, sizeof dl, "%.0f / %.0f", pct_us(&direct_set, 0.5), pct_us(&direct_set, 0.99));
        snprintf(bl, sizeof bl, "%.0f / %.0f", pct_us(&bridge_set, 0.5), pct_us(&bridge_set, 0.99));
        char al[64];
        snprintf(al, sizeof al, "%.0f / %.0f", append_p50, append_p99);
        printf("%-5zu | %-8.0f | %-12.0f | %-8.0f | %-8.0f | %-7.2f | %-9.2f | %-8.2f | %-17s | %-17s | %-17s | %s\n",
               sizes[k], dm, qm, hm, bm, qm / dm, bm / dm, bm / hm, dl, bl, al, bm >= 0.8 * dm ? "met" : "not met");
    }
    free(direct_set.lat);
    free(bridge_set.lat);
    nats_Close();
    return failed;
}
