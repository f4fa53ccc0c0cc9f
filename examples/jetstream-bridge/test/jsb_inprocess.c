/* jsb-inprocess: the C API (streamlog-jetstream.h) as an application uses it.
 *   jsb-inprocess STORE URL STREAM N
 * Checks the API's answers to bad input; appends N messages to channel "inproc" of STORE;
 * starts an out bridge on the handle's own thread; polls its JSON status until it reports all
 * N published with lag 0 (up to 120 s), checks that settings are refused while it runs, stops it
 * from this thread and checks that the run ended with OK. Exit 0 when all of it held. */
#include "streamlog-jetstream.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static atomic_uint_fast64_t forwarded;
static int failures;

#define CHECK(cond)                                                                                                    \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "jsb-inprocess:%d: failed: %s\n", __LINE__, #cond);                                       \
            failures++;                                                                                                \
        }                                                                                                              \
    } while (0)

static void on_forwarded(void *arg, const char *channel, uint64_t seq, int64_t time_ns)
{
    (void)arg;
    (void)seq;
    (void)time_ns;
    if (strcmp(channel, "inproc") == 0)
        atomic_fetch_add(&forwarded, 1);
}

static void bad_inputs(const char *store)
{
    streamlog_jetstream *b = NULL, *in = NULL;
    char buf[16];
    size_t len;
    CHECK(streamlog_jetstream_new(0, store, &b) == STREAMLOG_EINVAL && !b);
    CHECK(streamlog_jetstream_new(STREAMLOG_JETSTREAM_OUT, NULL, &b) == STREAMLOG_EINVAL);
    CHECK(streamlog_jetstream_new(STREAMLOG_JETSTREAM_OUT, "", &b) == STREAMLOG_EINVAL);
    CHECK(streamlog_jetstream_new(STREAMLOG_JETSTREAM_OUT, store, NULL) == STREAMLOG_EINVAL);
    CHECK(streamlog_jetstream_set_str(NULL, "server", "x") == STREAMLOG_EINVAL);
    CHECK(streamlog_jetstream_set_int(NULL, "window", 1) == STREAMLOG_EINVAL);
    CHECK(streamlog_jetstream_run(NULL) == STREAMLOG_EINVAL);
    CHECK(streamlog_jetstream_start(NULL) == STREAMLOG_EINVAL);
    CHECK(streamlog_jetstream_stop(NULL) == STREAMLOG_EINVAL);
    CHECK(streamlog_jetstream_wait(NULL, 0) == STREAMLOG_EINVAL);
    CHECK(streamlog_jetstream_status(NULL, buf, sizeof buf, &len) == STREAMLOG_EINVAL);
    CHECK(strcmp(streamlog_jetstream_errmsg(NULL), "no handle") == 0);
    CHECK(strcmp(streamlog_jetstream_strerror(STREAMLOG_JETSTREAM_ERUN), "the bridge's run failed") == 0);
    streamlog_jetstream_free(NULL);

    CHECK(streamlog_jetstream_new(STREAMLOG_JETSTREAM_OUT, store, &b) == STREAMLOG_OK);
    CHECK(streamlog_jetstream_new(STREAMLOG_JETSTREAM_IN, store, &in) == STREAMLOG_OK);
    CHECK(streamlog_jetstream_set_str(b, NULL, "x") == STREAMLOG_EINVAL);
    CHECK(streamlog_jetstream_set_str(b, "bogus", "x") == STREAMLOG_EINVAL);
    CHECK(strstr(streamlog_jetstream_errmsg(b), "unknown setting 'bogus'"));
    CHECK(streamlog_jetstream_set_str(b, "server", NULL) == STREAMLOG_EINVAL);
    CHECK(streamlog_jetstream_set_str(b, "stream", "") == STREAMLOG_EINVAL);
    CHECK(streamlog_jetstream_set_str(b, "consumer", "d") == STREAMLOG_EINVAL);
    CHECK(strstr(streamlog_jetstream_errmsg(b), "option of 'in'"));
    CHECK(streamlog_jetstream_set_str(in, "channels", "a") == STREAMLOG_EINVAL);
    CHECK(streamlog_jetstream_set_str(b, "channels", ",,") == STREAMLOG_EINVAL);
    CHECK(strstr(streamlog_jetstream_errmsg(b), "lists no channel"));
    CHECK(streamlog_jetstream_set_int(b, "window", 0) == STREAMLOG_EINVAL);
    CHECK(streamlog_jetstream_set_int(b, "window", 65537) == STREAMLOG_EINVAL);
    CHECK(streamlog_jetstream_set_str(b, "window", "12x") == STREAMLOG_EINVAL);
    CHECK(streamlog_jetstream_set_str(b, "window", "12") == STREAMLOG_OK);
    CHECK(streamlog_jetstream_set_int(b, "server", 1) == STREAMLOG_EINVAL);
    CHECK(streamlog_jetstream_set_int(b, "create-stream", 2) == STREAMLOG_EINVAL);
    CHECK(streamlog_jetstream_set_on_forwarded(in, on_forwarded, NULL) == STREAMLOG_EINVAL);
    /* required settings missing: refused before anything is opened */
    CHECK(streamlog_jetstream_run(b) == STREAMLOG_EINVAL);
    CHECK(strstr(streamlog_jetstream_errmsg(b), "required"));
    CHECK(streamlog_jetstream_set_str(b, "server", "nats://127.0.0.1:1") == STREAMLOG_OK);
    CHECK(streamlog_jetstream_set_str(b, "stream", "S") == STREAMLOG_OK);
    CHECK(streamlog_jetstream_start(b) == STREAMLOG_EINVAL);
    CHECK(strstr(streamlog_jetstream_errmsg(b), "needs channels"));
    CHECK(streamlog_jetstream_set_str(in, "server", "nats://127.0.0.1:1") == STREAMLOG_OK);
    CHECK(streamlog_jetstream_set_str(in, "stream", "S") == STREAMLOG_OK);
    CHECK(streamlog_jetstream_run(in) == STREAMLOG_EINVAL);
    CHECK(strstr(streamlog_jetstream_errmsg(in), "needs consumer and channel"));
    CHECK(streamlog_jetstream_wait(b, 0) == STREAMLOG_EINVAL); /* nothing started */
    CHECK(streamlog_jetstream_status(b, buf, sizeof buf, &len) == STREAMLOG_ENOTFOUND);
    /* an unusable http address fails the run, with a message */
    CHECK(streamlog_jetstream_set_str(b, "channels", "inproc") == STREAMLOG_OK);
    CHECK(streamlog_jetstream_set_int(b, "log", 0) == STREAMLOG_OK);
    CHECK(streamlog_jetstream_set_str(b, "http", "nowhere") == STREAMLOG_OK);
    CHECK(streamlog_jetstream_run(b) == STREAMLOG_JETSTREAM_ERUN);
    CHECK(strstr(streamlog_jetstream_errmsg(b), "not ADDR:PORT"));
    streamlog_jetstream_free(b);
    streamlog_jetstream_free(in);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: jsb-inprocess STORE URL STREAM N\n");
        return 2;
    }
    uint64_t n = strtoull(argv[4], NULL, 10);
    bad_inputs(argv[1]);
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

    streamlog_jetstream *b;
    CHECK(streamlog_jetstream_new(STREAMLOG_JETSTREAM_OUT, argv[1], &b) == STREAMLOG_OK);
    CHECK(streamlog_jetstream_set_str(b, "server", argv[2]) == STREAMLOG_OK);
    CHECK(streamlog_jetstream_set_str(b, "stream", argv[3]) == STREAMLOG_OK);
    CHECK(streamlog_jetstream_set_str(b, "channels", "inproc") == STREAMLOG_OK);
    CHECK(streamlog_jetstream_set_int(b, "create-stream", 1) == STREAMLOG_OK);
    CHECK(streamlog_jetstream_set_int(b, "status-interval", 0) == STREAMLOG_OK);
    CHECK(streamlog_jetstream_set_on_forwarded(b, on_forwarded, NULL) == STREAMLOG_OK);
    CHECK(streamlog_jetstream_start(b) == STREAMLOG_OK);
    CHECK(streamlog_jetstream_start(b) == STREAMLOG_EBUSY);
    CHECK(streamlog_jetstream_set_int(b, "window", 8) == STREAMLOG_EBUSY);
    CHECK(streamlog_jetstream_wait(b, 0) == STREAMLOG_ETIMEDOUT);
    char want[64], status[4096];
    snprintf(want, sizeof want, "\"published\":%" PRIu64 ",", n);
    int seen = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        size_t len = 0;
        /* the status of the whole run and of its channel: all published, nothing lagging */
        if (streamlog_jetstream_status(b, status, sizeof status, &len) == STREAMLOG_OK && strstr(status, want) &&
            strstr(status, "\"lag\":0,") && strstr(status, "\"connected\":true")) {
            seen = 1;
            break;
        }
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec > 120)
            break;
        nanosleep(&(struct timespec){0, 20000000}, NULL);
    }
    size_t need = 0;
    CHECK(streamlog_jetstream_status(b, status, 4, &need) == STREAMLOG_ELIMIT && need > 4);
    CHECK(seen);
    CHECK(streamlog_jetstream_stop(b) == STREAMLOG_OK);
    int rc = streamlog_jetstream_wait(b, -1);
    CHECK(rc == STREAMLOG_OK);
    uint64_t got = atomic_load(&forwarded);
    CHECK(got == n);
    printf("in-process bridge: %" PRIu64 " of %" PRIu64 " forwarded, run returned %d after stop; status %s\n", got, n,
           rc, status);
    streamlog_jetstream_free(b);
    streamlog_jetstream_cleanup();
    return failures ? 1 : 0;
}
