/* Logging, time, backoff, the NATS connection and the store identity. */
#include "bridge.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

static __thread int log_off;
static __thread char log_last[512];

void jsb_log_begin(int enabled)
{
    log_off = !enabled;
    log_last[0] = 0;
}

const char *jsb_log_last(void)
{
    return log_last;
}

void jsb_log(const char *fmt, ...)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char line[1024];
    int n = snprintf(line, sizeof line, "%02d:%02d:%02d.%03ld streamlog-jetstream: ", tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    snprintf(log_last, sizeof log_last, "%s", line + n);
    if (log_off)
        return;
    /* one write per line, so lines of several threads do not interleave */
    fprintf(stderr, "%s\n", line);
}

int64_t jsb_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void jsb_sleep(int64_t ms, volatile sig_atomic_t *stop)
{
    int64_t end = jsb_now_ms() + ms;
    while (!*stop) {
        int64_t left = end - jsb_now_ms();
        if (left <= 0)
            break;
        if (left > 50)
            left = 50;
        nanosleep(&(struct timespec){.tv_sec = 0, .tv_nsec = left * 1000000}, NULL);
    }
}

int64_t jsb_backoff_ms(int attempt)
{
    int64_t ms = 100;
    for (int i = 0; i < attempt && ms < 5000; i++)
        ms *= 2;
    return ms < 5000 ? ms : 5000;
}

static int64_t reconnect_delay(natsConnection *nc, int attempts, void *closure)
{
    (void)nc;
    (void)closure;
    return jsb_backoff_ms(attempts);
}

static void on_disconnected(natsConnection *nc, void *closure)
{
    const jsb_conn *c = closure;
    if (natsConnection_IsClosed(nc) || !c->log)
        return; /* the bridge is closing it */
    jsb_log("%s: disconnected from NATS, reconnecting with backoff", c->name);
}

static void on_reconnected(natsConnection *nc, void *closure)
{
    const jsb_conn *c = closure;
    char url[256] = "";
    natsConnection_GetConnectedUrl(nc, url, sizeof url);
    if (c->log)
        jsb_log("%s: connected to %s", c->name, url);
}

void jsb_crash_point(const char *name)
{
    const char *want = getenv("JSB_TEST_CRASH_POINT");
    if (want && strcmp(want, name) == 0) {
        jsb_log("test crash point %s: SIGKILL", name);
        raise(SIGKILL);
    }
}

const char *jsb_nats_error(natsStatus s)
{
    const char *t = nats_GetLastError(NULL);
    return t && *t ? t : natsStatus_GetText(s);
}

natsStatus jsb_set_servers(natsOptions *o, const char *list)
{
    /* natsOptions_SetURL did not take a comma-separated list here (libnats 3.4.1): split it */
    char *copy = strdup(list);
    const char *urls[64];
    int n = 0;
    if (!copy)
        return NATS_NO_MEMORY;
    for (char *save = NULL, *t = strtok_r(copy, ", ", &save); t && n < 64; t = strtok_r(NULL, ", ", &save))
        urls[n++] = t;
    natsStatus s = n ? natsOptions_SetServers(o, urls, n) : NATS_INVALID_ARG;
    free(copy);
    return s;
}

int jsb_connect(jsb_conn *c, const jsb_config *cfg, jsOptions *jsopts, const char *name)
{
    natsOptions *o = NULL;
    c->name = name;
    c->log = cfg->log;
    natsStatus s = natsOptions_Create(&o);
    if (s == NATS_OK)
        s = jsb_set_servers(o, cfg->server);
    if (s == NATS_OK)
        s = natsOptions_SetName(o, name);
    if (s == NATS_OK)
        s = natsOptions_SetMaxReconnect(o, -1);
    if (s == NATS_OK)
        s = natsOptions_SetCustomReconnectDelay(o, reconnect_delay, NULL);
    if (s == NATS_OK)
        s = natsOptions_SetRetryOnFailedConnect(o, true, on_reconnected, c);
    if (s == NATS_OK)
        s = natsOptions_SetTimeout(o, 2000);
    /* a dead server is noticed within seconds, not the default minutes */
    if (s == NATS_OK)
        s = natsOptions_SetPingInterval(o, 2000);
    if (s == NATS_OK)
        s = natsOptions_SetMaxPingsOut(o, 2);
    if (s == NATS_OK)
        s = natsOptions_SetDisconnectedCB(o, on_disconnected, c);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectedCB(o, on_reconnected, c);
    if (s != NATS_OK) {
        jsb_log("bad NATS options (server '%s'): %s", cfg->server, natsStatus_GetText(s));
        natsOptions_Destroy(o);
        return -1;
    }
    c->nc = NULL;
    c->js = NULL;
    s = natsConnection_Connect(&c->nc, o);
    natsOptions_Destroy(o);
    if (s == NATS_NOT_YET_CONNECTED) {
        jsb_log("%s: %s unreachable, retrying with backoff", name, cfg->server);
        s = NATS_OK;
    } else if (s == NATS_OK) {
        on_reconnected(c->nc, c);
    }
    if (s == NATS_OK)
        s = natsConnection_JetStream(&c->js, c->nc, jsopts);
    if (s != NATS_OK) {
        jsb_log("cannot connect to '%s': %s", cfg->server, natsStatus_GetText(s));
        jsb_disconnect(c);
        return -1;
    }
    return 0;
}

void jsb_disconnect(jsb_conn *c)
{
    if (c->nc)
        natsConnection_Close(c->nc);
    jsCtx_Destroy(c->js);
    natsConnection_Destroy(c->nc);
    c->js = NULL;
    c->nc = NULL;
}

int jsb_store_id(streamlog_store *st, char *out, size_t cap)
{
    streamlog_channel *ch;
    int rc = streamlog_channel_open(st, JSB_OWN_PREFIX "id", STREAMLOG_CREATE, NULL, &ch);
    if (rc)
        return rc;
    unsigned char rnd[16];
    char hex[33];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        streamlog_channel_close(ch);
        return STREAMLOG_EIO;
    }
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
    /* The first bridge to get here writes the id; any other reads that one. */
    rc = streamlog_append_expect(ch, hex, 32, 0, NULL);
    if (rc && rc != STREAMLOG_ECONFLICT) {
        streamlog_channel_close(ch);
        return rc;
    }
    streamlog_msg *m;
    rc = streamlog_get(ch, 1, &m);
    streamlog_channel_close(ch);
    if (rc)
        return rc;
    size_t len;
    const void *data = streamlog_msg_data(m, &len);
    if (len != 32 || cap < 33) {
        streamlog_msg_free(m);
        return STREAMLOG_ECORRUPT;
    }
    memcpy(out, data, 32);
    out[32] = 0;
    streamlog_msg_free(m);
    return 0;
}

void jsb_status_publish(jsb_status *s, json_t *obj)
{
    char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    if (!text)
        return; /* out of memory: the previous status stays */
    pthread_mutex_lock(&s->mu);
    free(s->json);
    s->json = text;
    pthread_mutex_unlock(&s->mu);
}

double jsb_rate_take(jsb_rate *r, uint64_t count)
{
    int64_t now = jsb_now_ms();
    double rate = r->at_ms && now > r->at_ms ? (double)(count - r->count) * 1000.0 / (double)(now - r->at_ms) : 0.0;
    r->at_ms = now;
    r->count = count;
    return rate;
}

void jsb_config_defaults(jsb_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->status_interval_ms = 10000;
    cfg->window = 256;
    cfg->ack_timeout_ms = 5000;
    cfg->replicas = 1;
    cfg->duplicate_window_ms = 120000;
    cfg->fetch_batch = 256;
    cfg->consumer_ack_wait_ms = 10000;
    cfg->log = 1;
}
