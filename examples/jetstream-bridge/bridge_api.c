/* streamlog-jetstream.h: the handle, its settings, its runs on the caller's or its own thread. */
#include "streamlog-jetstream.h"

#include "bridge.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define API __attribute__((visibility("default")))

enum { KEY_STR, KEY_INT };

/* Every setting: its key, type, direction (0: both) and, for integers, its range. */
static const struct key {
    const char *name;
    int type, direction;
    int64_t lo, hi;
} keys[] = {
    {"server", KEY_STR, 0, 0, 0},
    {"stream", KEY_STR, 0, 0, 0},
    {"http", KEY_STR, 0, 0, 0},
    {"channels", KEY_STR, STREAMLOG_JETSTREAM_OUT, 0, 0},
    {"subject-prefix", KEY_STR, STREAMLOG_JETSTREAM_OUT, 0, 0},
    {"store-id", KEY_STR, STREAMLOG_JETSTREAM_OUT, 0, 0},
    {"consumer", KEY_STR, STREAMLOG_JETSTREAM_IN, 0, 0},
    {"channel", KEY_STR, STREAMLOG_JETSTREAM_IN, 0, 0},
    {"until-caught-up", KEY_INT, 0, 0, 1},
    {"status-interval", KEY_INT, 0, 0, INT32_MAX},
    {"log", KEY_INT, 0, 0, 1},
    {"window", KEY_INT, STREAMLOG_JETSTREAM_OUT, 1, 65536},
    {"ack-timeout", KEY_INT, STREAMLOG_JETSTREAM_OUT, 10, 3600000},
    {"create-stream", KEY_INT, STREAMLOG_JETSTREAM_OUT, 0, 1},
    {"shared-stream", KEY_INT, STREAMLOG_JETSTREAM_OUT, 0, 1},
    {"replicas", KEY_INT, STREAMLOG_JETSTREAM_OUT, 1, 5},
    {"max-msgs", KEY_INT, STREAMLOG_JETSTREAM_OUT, 0, INT64_MAX},
    {"max-bytes", KEY_INT, STREAMLOG_JETSTREAM_OUT, 0, INT64_MAX},
    {"max-age", KEY_INT, STREAMLOG_JETSTREAM_OUT, 0, INT64_MAX / 1000000},
    {"duplicate-window", KEY_INT, STREAMLOG_JETSTREAM_OUT, 1, INT64_MAX / 1000000},
    {"memory-storage", KEY_INT, STREAMLOG_JETSTREAM_OUT, 0, 1},
    {"batch", KEY_INT, STREAMLOG_JETSTREAM_IN, 1, 10000},
    {"ack-wait", KEY_INT, STREAMLOG_JETSTREAM_IN, 100, 86400000},
};

struct streamlog_jetstream {
    int direction;
    jsb_config cfg;
    /* owned copies of the string settings */
    char *store_dir, *server, *stream, *http, *channels_text, *subject_prefix, *store_id, *consumer, *channel;
    char **channel_names;
    volatile sig_atomic_t stop;
    jsb_status status;
    pthread_mutex_t mu; /* running, thread_done, result */
    pthread_cond_t cond;
    int running, started, thread_done, result;
    pthread_t thread;
    char errmsg[512];
};

static int fail(streamlog_jetstream *b, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(streamlog_jetstream *b, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->errmsg, sizeof b->errmsg, fmt, ap);
    va_end(ap);
    return rc;
}

static const char *direction_name(int d)
{
    return d == STREAMLOG_JETSTREAM_OUT ? "out" : "in";
}

API int streamlog_jetstream_new(int direction, const char *store_dir, streamlog_jetstream **out)
{
    if ((direction != STREAMLOG_JETSTREAM_OUT && direction != STREAMLOG_JETSTREAM_IN) || !store_dir || !*store_dir ||
        !out)
        return STREAMLOG_EINVAL;
    streamlog_jetstream *b = calloc(1, sizeof *b);
    if (!b || !(b->store_dir = strdup(store_dir))) {
        free(b);
        return STREAMLOG_ENOMEM;
    }
    b->direction = direction;
    jsb_config_defaults(&b->cfg);
    b->cfg.store_dir = b->store_dir;
    b->cfg.status = &b->status;
    pthread_mutex_init(&b->status.mu, NULL);
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cond, NULL);
    *out = b;
    return STREAMLOG_OK;
}

static int is_running(streamlog_jetstream *b)
{
    pthread_mutex_lock(&b->mu);
    int r = b->running;
    pthread_mutex_unlock(&b->mu);
    return r;
}

/* type -1: either */
static const struct key *find_key(streamlog_jetstream *b, const char *key, int type, int *rc)
{
    *rc = STREAMLOG_EINVAL;
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        if (strcmp(keys[i].name, key) != 0)
            continue;
        if (type >= 0 && keys[i].type != type) {
            fail(b, *rc, "%s is %s setting", key, keys[i].type == KEY_STR ? "a string" : "an integer");
            return NULL;
        }
        if (keys[i].direction && keys[i].direction != b->direction) {
            fail(b, *rc, "%s is an option of '%s', not '%s'", key, direction_name(keys[i].direction),
                 direction_name(b->direction));
            return NULL;
        }
        if (is_running(b)) {
            *rc = fail(b, STREAMLOG_EBUSY, "the bridge is running: settings are taken before a run");
            return NULL;
        }
        *rc = STREAMLOG_OK;
        return &keys[i];
    }
    fail(b, *rc, "unknown setting '%s'", key);
    return NULL;
}

/* Split "A,B,C" into its names (pointing into text); empty names are dropped. */
static int split_channels(streamlog_jetstream *b, char *text)
{
    size_t cap = 1, n = 0;
    for (const char *p = text; *p; p++)
        cap += *p == ',';
    char **names = calloc(cap, sizeof *names);
    if (!names)
        return STREAMLOG_ENOMEM;
    for (char *save = NULL, *tok = strtok_r(text, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        names[n++] = tok;
    if (n == 0) {
        free(names);
        return fail(b, STREAMLOG_EINVAL, "channels lists no channel");
    }
    free(b->channel_names);
    b->channel_names = names;
    b->cfg.channels = (const char *const *)names;
    b->cfg.nchannels = n;
    return STREAMLOG_OK;
}

API int streamlog_jetstream_set_str(streamlog_jetstream *b, const char *key, const char *value)
{
    int rc;
    if (!b || !key)
        return STREAMLOG_EINVAL;
    const struct key *k = find_key(b, key, -1, &rc);
    if (!k)
        return rc;
    if (!value)
        return fail(b, STREAMLOG_EINVAL, "%s needs a value", key);
    if (k->type == KEY_INT) {
        char *end;
        errno = 0;
        long long n = strtoll(value, &end, 10);
        if (errno || end == value || *end)
            return fail(b, STREAMLOG_EINVAL, "%s needs an integer in %" PRId64 "..%" PRId64 ", not '%s'", key, k->lo,
                        k->hi, value);
        return streamlog_jetstream_set_int(b, key, n);
    }
    char *copy = strdup(value);
    if (!copy)
        return fail(b, STREAMLOG_ENOMEM, "out of memory");
    char **slot = NULL;
    const char **field = NULL;
    if (strcmp(key, "server") == 0)
        slot = &b->server, field = &b->cfg.server;
    else if (strcmp(key, "stream") == 0)
        slot = &b->stream, field = &b->cfg.stream;
    else if (strcmp(key, "http") == 0)
        slot = &b->http;
    else if (strcmp(key, "subject-prefix") == 0)
        slot = &b->subject_prefix, field = &b->cfg.subject_prefix;
    else if (strcmp(key, "store-id") == 0)
        slot = &b->store_id, field = &b->cfg.store_id;
    else if (strcmp(key, "consumer") == 0)
        slot = &b->consumer, field = &b->cfg.consumer;
    else if (strcmp(key, "channel") == 0)
        slot = &b->channel, field = &b->cfg.channel;
    else { /* channels */
        rc = split_channels(b, copy);
        if (rc) {
            free(copy);
            return rc;
        }
        slot = &b->channels_text;
    }
    if (strcmp(key, "channels") != 0 && strcmp(key, "http") != 0 && !*copy) {
        free(copy);
        return fail(b, STREAMLOG_EINVAL, "%s must not be empty", key);
    }
    free(*slot);
    *slot = copy;
    if (field)
        *field = copy;
    return STREAMLOG_OK;
}

API int streamlog_jetstream_set_int(streamlog_jetstream *b, const char *key, int64_t value)
{
    int rc;
    if (!b || !key)
        return STREAMLOG_EINVAL;
    const struct key *k = find_key(b, key, KEY_INT, &rc);
    if (!k)
        return rc;
    if (value < k->lo || value > k->hi)
        return fail(b, STREAMLOG_EINVAL, "%s needs an integer in %" PRId64 "..%" PRId64 ", not %" PRId64, key, k->lo,
                    k->hi, value);
    jsb_config *c = &b->cfg;
    if (strcmp(key, "until-caught-up") == 0)
        c->until_caught_up = (int)value;
    else if (strcmp(key, "status-interval") == 0)
        c->status_interval_ms = (int)value;
    else if (strcmp(key, "log") == 0)
        c->log = (int)value;
    else if (strcmp(key, "window") == 0)
        c->window = (int)value;
    else if (strcmp(key, "ack-timeout") == 0)
        c->ack_timeout_ms = value;
    else if (strcmp(key, "create-stream") == 0)
        c->create_stream = (int)value;
    else if (strcmp(key, "shared-stream") == 0)
        c->shared_stream = (int)value;
    else if (strcmp(key, "replicas") == 0)
        c->replicas = (int)value;
    else if (strcmp(key, "max-msgs") == 0)
        c->max_msgs = value;
    else if (strcmp(key, "max-bytes") == 0)
        c->max_bytes = value;
    else if (strcmp(key, "max-age") == 0)
        c->max_age_ms = value;
    else if (strcmp(key, "duplicate-window") == 0)
        c->duplicate_window_ms = value;
    else if (strcmp(key, "memory-storage") == 0)
        c->memory_storage = (int)value;
    else if (strcmp(key, "batch") == 0)
        c->fetch_batch = (int)value;
    else
        c->consumer_ack_wait_ms = value;
    return STREAMLOG_OK;
}

API int streamlog_jetstream_set_on_forwarded(streamlog_jetstream *b,
                                             void (*fn)(void *arg, const char *channel, uint64_t seq, int64_t time_ns),
                                             void *arg)
{
    if (!b)
        return STREAMLOG_EINVAL;
    if (b->direction != STREAMLOG_JETSTREAM_OUT)
        return fail(b, STREAMLOG_EINVAL, "on_forwarded is for out bridges");
    if (is_running(b))
        return fail(b, STREAMLOG_EBUSY, "the bridge is running: settings are taken before a run");
    b->cfg.on_forwarded = fn;
    b->cfg.on_forwarded_arg = arg;
    return STREAMLOG_OK;
}

/* Claim the handle for a run, after checking the required settings. */
static int begin(streamlog_jetstream *b)
{
    if (!b->server || !b->stream)
        return fail(b, STREAMLOG_EINVAL, "server and stream are required");
    if (b->direction == STREAMLOG_JETSTREAM_OUT && !b->cfg.nchannels)
        return fail(b, STREAMLOG_EINVAL, "out needs channels");
    if (b->direction == STREAMLOG_JETSTREAM_IN && (!b->consumer || !b->channel))
        return fail(b, STREAMLOG_EINVAL, "in needs consumer and channel");
    pthread_mutex_lock(&b->mu);
    int busy = b->running || b->started;
    if (!busy) {
        b->running = 1;
        b->stop = 0;
    }
    pthread_mutex_unlock(&b->mu);
    return busy ? fail(b, STREAMLOG_EBUSY, "the bridge is already running") : STREAMLOG_OK;
}

static int run_now(streamlog_jetstream *b)
{
    jsb_http *http = NULL;
    int rc = STREAMLOG_OK;
    jsb_log_begin(b->cfg.log);
    if (b->http && *b->http && jsb_http_start(b->http, &b->status, &http))
        rc = fail(b, STREAMLOG_JETSTREAM_ERUN, "%s", jsb_log_last());
    else if ((b->direction == STREAMLOG_JETSTREAM_OUT ? jsb_run_out(&b->cfg, &b->stop)
                                                      : jsb_run_in(&b->cfg, &b->stop)) != JSB_EXIT_OK)
        rc = fail(b, STREAMLOG_JETSTREAM_ERUN, "%s", jsb_log_last());
    jsb_http_stop(http);
    pthread_mutex_lock(&b->mu);
    b->running = 0;
    b->result = rc;
    b->thread_done = 1;
    pthread_cond_broadcast(&b->cond);
    pthread_mutex_unlock(&b->mu);
    return rc;
}

API int streamlog_jetstream_run(streamlog_jetstream *b)
{
    if (!b)
        return STREAMLOG_EINVAL;
    int rc = begin(b);
    return rc ? rc : run_now(b);
}

static void *run_thread(void *arg)
{
    run_now(arg);
    return NULL;
}

API int streamlog_jetstream_start(streamlog_jetstream *b)
{
    if (!b)
        return STREAMLOG_EINVAL;
    int rc = begin(b);
    if (rc)
        return rc;
    pthread_mutex_lock(&b->mu);
    b->thread_done = 0;
    if (pthread_create(&b->thread, NULL, run_thread, b)) {
        b->running = 0;
        pthread_mutex_unlock(&b->mu);
        return fail(b, STREAMLOG_ENOMEM, "cannot start a thread");
    }
    b->started = 1;
    pthread_mutex_unlock(&b->mu);
    return STREAMLOG_OK;
}

API int streamlog_jetstream_stop(streamlog_jetstream *b)
{
    if (!b)
        return STREAMLOG_EINVAL;
    b->stop = 1;
    return STREAMLOG_OK;
}

API int streamlog_jetstream_wait(streamlog_jetstream *b, int timeout_ms)
{
    if (!b)
        return STREAMLOG_EINVAL;
    pthread_mutex_lock(&b->mu);
    if (!b->started) {
        pthread_mutex_unlock(&b->mu);
        return fail(b, STREAMLOG_EINVAL, "no run was started");
    }
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    if (timeout_ms >= 0) {
        until.tv_sec += timeout_ms / 1000;
        until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
        if (until.tv_nsec >= 1000000000)
            until.tv_sec++, until.tv_nsec -= 1000000000;
    }
    int timed_out = 0;
    while (!b->thread_done && !timed_out)
        timed_out = (timeout_ms < 0 ? pthread_cond_wait(&b->cond, &b->mu)
                                    : pthread_cond_timedwait(&b->cond, &b->mu, &until)) == ETIMEDOUT;
    int done = b->thread_done, rc = b->result;
    pthread_mutex_unlock(&b->mu);
    if (!done)
        return STREAMLOG_ETIMEDOUT;
    pthread_join(b->thread, NULL);
    pthread_mutex_lock(&b->mu);
    b->started = 0;
    pthread_mutex_unlock(&b->mu);
    return rc;
}

API int streamlog_jetstream_status(streamlog_jetstream *b, char *buf, size_t cap, size_t *len)
{
    if (!b || !buf)
        return STREAMLOG_EINVAL;
    int rc = STREAMLOG_OK;
    pthread_mutex_lock(&b->status.mu);
    if (!b->status.json)
        rc = STREAMLOG_ENOTFOUND;
    else {
        size_t n = strlen(b->status.json);
        if (len)
            *len = n;
        if (n + 1 > cap)
            rc = STREAMLOG_ELIMIT;
        else
            memcpy(buf, b->status.json, n + 1);
    }
    pthread_mutex_unlock(&b->status.mu);
    return rc;
}

API const char *streamlog_jetstream_errmsg(const streamlog_jetstream *b)
{
    return b ? b->errmsg : "no handle";
}

API const char *streamlog_jetstream_strerror(int rc)
{
    return rc == STREAMLOG_JETSTREAM_ERUN ? "the bridge's run failed" : streamlog_strerror(rc);
}

API void streamlog_jetstream_free(streamlog_jetstream *b)
{
    if (!b)
        return;
    pthread_mutex_lock(&b->mu);
    int started = b->started;
    pthread_mutex_unlock(&b->mu);
    if (started) {
        streamlog_jetstream_stop(b);
        streamlog_jetstream_wait(b, -1);
    }
    free(b->store_dir);
    free(b->server);
    free(b->stream);
    free(b->http);
    free(b->channels_text);
    free(b->channel_names);
    free(b->subject_prefix);
    free(b->store_id);
    free(b->consumer);
    free(b->channel);
    free(b->status.json);
    pthread_mutex_destroy(&b->status.mu);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cond);
    free(b);
}

API void streamlog_jetstream_cleanup(void)
{
    nats_Close();
}
