/* jsb-inprocess: the bridge run in-process on a thread of its own, as an application would.
 *   jsb-inprocess STORE URL STREAM N
 * Appends N messages to channel "inproc" of STORE, starts jsb_run_out() on a thread, waits
 * (up to 120 s) until JetStream has acknowledged all N, stops the bridge by setting its stop
 * flag from this thread, and checks that the run returned 0. Exit 0 when all of it held. */
#include "bridge.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static atomic_uint_fast64_t forwarded;

static void on_forwarded(void *arg, const char *channel, uint64_t seq, int64_t time_ns)
{
    (void)arg;
    (void)channel;
    (void)seq;
    (void)time_ns;
    atomic_fetch_add(&forwarded, 1);
}

typedef struct run {
    jsb_config cfg;
    volatile sig_atomic_t stop;
    int rc;
} run;

static void *bridge_thread(void *arg)
{
    run *r = arg;
    r->rc = jsb_run_out(&r->cfg, &r->stop);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: jsb-inprocess STORE URL STREAM N\n");
        return 2;
    }
    uint64_t n = strtoull(argv[4], NULL, 10);
    streamlog_store *st;
    streamlog_channel *ch;
    if (streamlog_open(argv[1], NULL, &st) || streamlog_channel_open(st, "inproc", STREAMLOG_CREATE, NULL, &ch)) {
        fprintf(stderr, "jsb-inprocess: %s\n", streamlog_errmsg());
        return 1;
    }
    for (uint64_t i = 0; i < n; i++) {
        char buf[32];
        int len = snprintf(buf, sizeof buf, "inproc#%" PRIu64, i + 1);
        if (streamlog_append(ch, buf, (size_t)len, NULL)) {
            fprintf(stderr, "jsb-inprocess: %s\n", streamlog_errmsg());
            return 1;
        }
    }
    streamlog_channel_close(ch);
    streamlog_close(st); /* the bridge opens the store itself: one open per process */

    const char *channels[] = {"inproc"};
    run r = {.stop = 0, .rc = -1};
    jsb_config_defaults(&r.cfg);
    r.cfg.store_dir = argv[1];
    r.cfg.server = argv[2];
    r.cfg.stream = argv[3];
    r.cfg.channels = channels;
    r.cfg.nchannels = 1;
    r.cfg.create_stream = 1;
    r.cfg.status_interval_ms = 0;
    r.cfg.on_forwarded = on_forwarded;
    pthread_t th;
    if (pthread_create(&th, NULL, bridge_thread, &r))
        return 1;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (atomic_load(&forwarded) >= n || now.tv_sec - t0.tv_sec > 120)
            break;
        nanosleep(&(struct timespec){0, 10000000}, NULL);
    }
    r.stop = 1;
    pthread_join(th, NULL);
    nats_Close();
    uint64_t got = atomic_load(&forwarded);
    printf("in-process bridge: %" PRIu64 " of %" PRIu64 " forwarded, run returned %d after its stop flag\n", got, n,
           r.rc);
    return got == n && r.rc == 0 ? 0 : 1;
}
