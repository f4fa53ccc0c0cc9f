/* stan_monitor.c - HTTP monitoring endpoints (see stan_monitor.h). The JSON field names are
 * nats-streaming-server's. */
#include "stan_monitor.h"
#include "stan_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- JSON text ---------------------------------------------------------------------------- */

typedef struct jbuf {
    char *p;
    size_t len, cap;
    int oom;
} jbuf;

static void jb_raw(jbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void jb_fmt(jbuf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        jb_raw(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* A JSON string literal: quotes, backslashes and control characters escaped; other bytes
 * (UTF-8) copied as they are. */
static void jb_str(jbuf *b, const char *s)
{
    jb_raw(b, "\"", 1);
    const char *run = s;
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\' || c < 0x20 || c == 0x7f) {
            jb_raw(b, run, (size_t)(s - run));
            char e[8];
            if (c == '"' || c == '\\')
                snprintf(e, sizeof e, "\\%c", c);
            else if (c == '\n')
                snprintf(e, sizeof e, "\\n");
            else
                snprintf(e, sizeof e, "\\u%04x", c);
            jb_raw(b, e, strlen(e));
            run = s + 1;
        }
    }
    if (run)
        jb_raw(b, run, (size_t)(s - run));
    jb_raw(b, "\"", 1);
}

static void jb_key(jbuf *b, const char *k)
{
    if (b->len && b->p[b->len - 1] != '{' && b->p[b->len - 1] != '[')
        jb_raw(b, ",", 1);
    jb_str(b, k);
    jb_raw(b, ":", 1);
}

static void jb_kstr(jbuf *b, const char *k, const char *v) { jb_key(b, k); jb_str(b, v ? v : ""); }
static void jb_kint(jbuf *b, const char *k, int64_t v) { jb_key(b, k); jb_fmt(b, "%lld", (long long)v); }
static void jb_kuint(jbuf *b, const char *k, uint64_t v) { jb_key(b, k); jb_fmt(b, "%llu", (unsigned long long)v); }
static void jb_kbool(jbuf *b, const char *k, int v) { jb_key(b, k); jb_raw(b, v ? "true" : "false", v ? 4 : 5); }
static void jb_comma(jbuf *b, int first) { if (!first) jb_raw(b, ",", 1); }

static void rfc3339(int64_t ns, char *out, size_t cap)
{
    time_t t = (time_t)(ns / 1000000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, cap, "%s.%09lldZ", base, (long long)(ns % 1000000000));
}

static void header(jbuf *b, stan_server *s)
{
    char now[64];
    rfc3339(stan_now_ns(), now, sizeof now);
    jb_raw(b, "{", 1);
    jb_kstr(b, "cluster_id", s->cluster_id);
    jb_kstr(b, "server_id", s->server_id);
    jb_kstr(b, "now", now);
}

/* ---- query strings ------------------------------------------------------------------------ */

/* Copies the URL-decoded value of key from query into out; returns 1 when present. */
static int qparam(const char *query, const char *key, char *out, size_t cap)
{
    size_t kl = strlen(key);
    for (const char *p = query; p && *p;) {
        const char *end = strchr(p, '&');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n >= kl && !strncmp(p, key, kl) && (n == kl || p[kl] == '=')) {
            const char *v = n == kl ? p + n : p + kl + 1;
            size_t o = 0;
            for (; v < p + n && o + 1 < cap; v++) {
                if (*v == '%' && v + 2 < p + n + 1 && v[1] && v[2]) {
                    char hex[3] = {v[1], v[2], 0};
                    out[o++] = (char)strtol(hex, NULL, 16);
                    v += 2;
                } else {
                    out[o++] = *v == '+' ? ' ' : *v;
                }
            }
            out[o] = '\0';
            return 1;
        }
        p = end ? end + 1 : NULL;
    }
    return 0;
}

static int64_t qint(const char *query, const char *key, int64_t def)
{
    char v[32];
    if (!qparam(query, key, v, sizeof v) || !*v)
        return def;
    long long x = strtoll(v, NULL, 10);
    return x < 0 ? def : x;
}

static int qbool(const char *query, const char *key)
{
    char v[16];
    if (!qparam(query, key, v, sizeof v))
        return 0;
    return !strcmp(v, "1") || !strcmp(v, "true") || !*v;
}

/* ---- endpoints ---------------------------------------------------------------------------- */

static void sub_json(jbuf *b, stan_sub *x)
{
    streamlog_sub_stats st = {0};
    if (x->sl)
        streamlog_sub_get_stats(x->sl, &st);
    jb_raw(b, "{", 1);
    jb_kstr(b, "client_id", x->client->id);
    jb_kstr(b, "inbox", x->inbox);
    jb_kstr(b, "ack_inbox", x->ack_inbox);
    if (x->durable)
        jb_kstr(b, "durable_name", x->durable);
    if (x->queue)
        jb_kstr(b, "queue_name", x->queue);
    jb_kbool(b, "is_durable", x->durable != NULL);
    jb_kbool(b, "is_offline", 0);
    jb_kint(b, "max_inflight", x->max_inflight);
    jb_kint(b, "ack_wait", x->ack_wait_s);
    jb_kuint(b, "last_sent", st.last_delivered);
    jb_kuint(b, "pending_count", st.pending);
    jb_kbool(b, "is_stalled", st.stalled != 0);
    jb_raw(b, "}", 1);
}

static void client_json(jbuf *b, stan_client *c, int subs)
{
    size_t n = 0;
    for (stan_sub *x = c->subs; x; x = x->next_in_client)
        n++;
    jb_raw(b, "{", 1);
    jb_kstr(b, "id", c->id);
    jb_kstr(b, "hb_inbox", c->hb_inbox);
    jb_kuint(b, "subs_count", n);
    if (subs && c->subs) {
        /* grouped by channel, as nats-streaming-server does */
        jb_key(b, "subscriptions");
        jb_raw(b, "{", 1);
        int firstch = 1;
        for (stan_sub *x = c->subs; x; x = x->next_in_client) {
            int seen = 0;
            for (stan_sub *y = c->subs; y != x; y = y->next_in_client)
                if (y->chan == x->chan)
                    seen = 1;
            if (seen)
                continue;
            jb_comma(b, firstch);
            firstch = 0;
            jb_str(b, x->chan->name);
            jb_raw(b, ":[", 2);
            int first = 1;
            for (stan_sub *y = x; y; y = y->next_in_client)
                if (y->chan == x->chan) {
                    jb_comma(b, first);
                    first = 0;
                    sub_json(b, y);
                }
            jb_raw(b, "]", 1);
        }
        jb_raw(b, "}", 1);
    }
    jb_raw(b, "}", 1);
}

/* ---- channels: every channel of the store, not only those open in this run ------------------ */

/* Statistics of channel `name`: through the server's handle when a client used the channel since
 * the start, else through a handle opened for the call (a FILE store's channel untouched since a
 * restart, or one another process created in a shared store). Returns the library's code. */
static int chan_stats(stan_server *s, const char *name, stan_channel *c, streamlog_channel_stats *st)
{
    if (c)
        return streamlog_channel_get_stats(c->ch, st);
    streamlog_channel *h;
    int rc = streamlog_channel_open(s->store, name, 0, NULL, &h);
    if (rc)
        return rc;
    rc = streamlog_channel_get_stats(h, st);
    streamlog_channel_close(h);
    return rc;
}

/* Walks the store's channels in name order (bytewise, as nats-streaming-server sorts them);
 * visit() gets each name and the server's channel when it is open. */
static void each_channel(stan_server *s, void (*visit)(stan_server *, const char *, stan_channel *, void *),
                         void *ud)
{
    char name[STAN_CHAN_NAME_CAP], prev[STAN_CHAN_NAME_CAP] = "";
    while (streamlog_channel_list_next(s->store, prev, name, sizeof name) == STREAMLOG_OK) {
        visit(s, name, stan_map_get(&s->channels, name, strlen(name)), ud);
        memcpy(prev, name, sizeof prev);
    }
}

static void offline_json(jbuf *b, const stan_offline *o)
{
    jb_raw(b, "{", 1);
    jb_kstr(b, "client_id", o->client_id);
    jb_kstr(b, "inbox", o->inbox);
    jb_kstr(b, "ack_inbox", o->ack_inbox);
    jb_kstr(b, "durable_name", o->durable);
    if (o->queue)
        jb_kstr(b, "queue_name", o->queue);
    jb_kbool(b, "is_durable", 1);
    jb_kbool(b, "is_offline", 1);
    jb_kint(b, "max_inflight", o->max_inflight);
    jb_kint(b, "ack_wait", o->ack_wait_s);
    jb_kuint(b, "last_sent", o->last_sent);
    jb_kuint(b, "pending_count", o->pending);
    jb_kbool(b, "is_stalled", 0);
    jb_raw(b, "}", 1);
}

static void channel_json(jbuf *b, stan_server *s, const char *name, stan_channel *c, int subs)
{
    streamlog_channel_stats st = {0};
    chan_stats(s, name, c, &st);
    jb_raw(b, "{", 1);
    jb_kstr(b, "name", name);
    jb_kuint(b, "msgs", st.msgs);
    jb_kuint(b, "bytes", st.bytes);
    jb_kuint(b, "first_seq", st.first_seq);
    jb_kuint(b, "last_seq", st.last_seq);
    if (subs) {
        jb_key(b, "subscriptions");
        jb_raw(b, "[", 1);
        int first = 1;
        for (stan_sub *x = c ? c->subs : NULL; x; x = x->next_in_chan) {
            jb_comma(b, first);
            first = 0;
            sub_json(b, x);
        }
        /* durables seen since the start whose subscription is closed, as nats-streaming-server
         * lists its offline durables (with the client ID they had) */
        for (stan_offline *o = c ? c->offline : NULL; o; o = o->next) {
            jb_comma(b, first);
            first = 0;
            offline_json(b, o);
        }
        jb_raw(b, "]", 1);
    }
    jb_raw(b, "}", 1);
}

typedef struct totals_acc {
    uint64_t channels, msgs, bytes;
} totals_acc;

static void totals_visit(stan_server *s, const char *name, stan_channel *c, void *ud)
{
    totals_acc *t = ud;
    streamlog_channel_stats st;
    t->channels++;
    if (!chan_stats(s, name, c, &st)) {
        t->msgs += st.msgs;
        t->bytes += st.bytes;
    }
}

static void totals(stan_server *s, totals_acc *t)
{
    memset(t, 0, sizeof *t);
    each_channel(s, totals_visit, t);
}

typedef struct list_acc {
    jbuf *b;
    int64_t offset, limit, i, count;
    int subs;
} list_acc;

static void list_visit(stan_server *s, const char *name, stan_channel *c, void *ud)
{
    list_acc *a = ud;
    if (a->i++ < a->offset || a->count >= a->limit)
        return;
    jb_comma(a->b, a->count == 0);
    if (a->subs)
        channel_json(a->b, s, name, c, 1);
    else
        jb_str(a->b, name);
    a->count++;
}

static void fmt_duration(int64_t ns, char *out, size_t cap)
{
    int64_t sec = ns / 1000000000;
    int64_t d = sec / 86400, h = sec % 86400 / 3600, m = sec % 3600 / 60, s = sec % 60;
    if (d)
        snprintf(out, cap, "%lldd%lldh%lldm%llds", (long long)d, (long long)h, (long long)m, (long long)s);
    else if (h)
        snprintf(out, cap, "%lldh%lldm%llds", (long long)h, (long long)m, (long long)s);
    else if (m)
        snprintf(out, cap, "%lldm%llds", (long long)m, (long long)s);
    else
        snprintf(out, cap, "%llds", (long long)s);
}

int stan_server_monitor(stan_server *s, const char *path, const char *query, char **body)
{
    jbuf b = {0};
    int status = 200;
    if (!strcmp(path, "/streaming/serverz")) {
        totals_acc t;
        size_t nclients = 0;
        char start[64], up[64];
        totals(s, &t);
        for (stan_client *c = s->clients_head; c; c = c->next)
            nclients++;
        rfc3339(s->start_time_ns, start, sizeof start);
        fmt_duration(stan_now_ns() - s->start_time_ns, up, sizeof up);
        header(&b, s);
        jb_kstr(&b, "version", STAN_SERVER_VERSION);
        jb_kstr(&b, "state", "STANDALONE");
        jb_kstr(&b, "start_time", start);
        jb_kstr(&b, "uptime", up);
        jb_kuint(&b, "clients", nclients);
        jb_kuint(&b, "subscriptions", s->nsubs);
        jb_kuint(&b, "channels", t.channels);
        jb_kuint(&b, "total_msgs", t.msgs);
        jb_kuint(&b, "total_bytes", t.bytes);
        jb_kuint(&b, "in_msgs", s->in_msgs);
        jb_kuint(&b, "in_bytes", s->in_bytes);
        jb_kuint(&b, "out_msgs", s->out_msgs);
        jb_kuint(&b, "out_bytes", s->out_bytes);
        jb_raw(&b, "}", 1);
    } else if (!strcmp(path, "/streaming/storez")) {
        totals_acc t;
        totals(s, &t);
        header(&b, s);
        jb_kstr(&b, "type", s->temp_dir ? "MEMORY" : "FILE");
        jb_key(&b, "limits");
        jb_raw(&b, "{", 1);
        jb_kint(&b, "max_channels", s->cfg.max_channels);
        jb_kint(&b, "max_msgs", s->cfg.max_msgs);
        jb_kint(&b, "max_bytes", s->cfg.max_bytes);
        jb_kint(&b, "max_age", s->cfg.max_age_ms * 1000000);   /* ns, as a Go duration */
        jb_kint(&b, "max_subscriptions", s->cfg.max_subs);
        jb_kint(&b, "max_inactivity", 0);
        jb_raw(&b, "}", 1);
        jb_kuint(&b, "total_msgs", t.msgs);
        jb_kuint(&b, "total_bytes", t.bytes);
        jb_raw(&b, "}", 1);
    } else if (!strcmp(path, "/streaming/clientsz")) {
        char id[256];
        int subs = qbool(query, "subs");
        if (qparam(query, "client", id, sizeof id)) {
            stan_client *c = stan_map_get(&s->clients, id, strlen(id));
            if (!c) {
                status = 404;
                jb_fmt(&b, "client %s not found", "");
                jb_raw(&b, id, strlen(id));
            } else {
                client_json(&b, c, subs);
            }
        } else {
            int64_t offset = qint(query, "offset", 0), limit = qint(query, "limit", 1024);
            int64_t total = 0, count = 0;
            for (stan_client *c = s->clients_head; c; c = c->next)
                total++;
            header(&b, s);
            jb_kint(&b, "offset", offset);
            jb_kint(&b, "limit", limit);
            size_t count_at = b.len;
            jb_kint(&b, "count", 0);
            size_t count_end = b.len;
            jb_kint(&b, "total", total);
            jb_key(&b, "clients");
            jb_raw(&b, "[", 1);
            int64_t i = 0;
            for (stan_client *c = s->clients_head; c; c = c->next, i++) {
                if (i < offset || count >= limit)
                    continue;
                jb_comma(&b, count == 0);
                client_json(&b, c, subs);
                count++;
            }
            jb_raw(&b, "]}", 2);
            /* patch the count in place (it is known only now) */
            if (!b.oom) {
                char tmp[64];
                int n = snprintf(tmp, sizeof tmp, ",\"count\":%lld", (long long)count);
                char *rest = strdup(b.p + count_end);
                if (rest) {
                    b.len = count_at;
                    jb_raw(&b, tmp, (size_t)n);
                    jb_raw(&b, rest, strlen(rest));
                    free(rest);
                }
            }
        }
    } else if (!strcmp(path, "/streaming/channelsz")) {
        char name[STAN_CHAN_NAME_CAP];
        int subs = qbool(query, "subs");
        if (qparam(query, "channel", name, sizeof name)) {
            stan_channel *c = stan_map_get(&s->channels, name, strlen(name));
            streamlog_channel_stats st;
            if (!c && chan_stats(s, name, NULL, &st)) {
                status = 404;
                jb_raw(&b, "channel ", 8);
                jb_raw(&b, name, strlen(name));
                jb_raw(&b, " not found", 10);
            } else {
                channel_json(&b, s, name, c, subs);
            }
        } else {
            totals_acc t;
            totals(s, &t);
            list_acc a = {.b = &b, .offset = qint(query, "offset", 0), .limit = qint(query, "limit", 1024),
                          .subs = subs};
            int64_t total = (int64_t)t.channels;
            int64_t count = total > a.offset ? total - a.offset : 0;
            if (count > a.limit)
                count = a.limit;
            header(&b, s);
            jb_kint(&b, "offset", a.offset);
            jb_kint(&b, "limit", a.limit);
            jb_kint(&b, "count", count);
            jb_kint(&b, "total", total);
            jb_key(&b, subs ? "channels" : "names");
            jb_raw(&b, "[", 1);
            each_channel(s, list_visit, &a);
            jb_raw(&b, "]}", 2);
        }
    } else {
        status = 404;
        jb_raw(&b, "404 page not found", 18);
    }
    if (b.oom) {
        free(b.p);
        *body = NULL;
        return 500;
    }
    if (!b.p)
        jb_raw(&b, "", 0);
    *body = b.p;
    return status;
}

/* ---- HTTP --------------------------------------------------------------------------------- */

#define REQ_MAX 8192

struct stan_monitor {
    uv_tcp_t listener;
    stan_server *srv;
    int port;
    struct hconn *conns;
};

typedef struct hconn {
    uv_tcp_t tcp;
    stan_monitor *mon;
    char buf[REQ_MAX];
    size_t len;
    int answered;
    uv_write_t wr;
    char *out;
    struct hconn *next, *prev;
} hconn;

static void hconn_closed(uv_handle_t *h)
{
    hconn *c = h->data;
    free(c->out);
    free(c);
}

static void hconn_close(hconn *c)
{
    if (uv_is_closing((uv_handle_t *)&c->tcp))
        return;
    stan_monitor *m = c->mon;
    if (c->prev)
        c->prev->next = c->next;
    else if (m)
        m->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->next = c->prev = NULL;
    uv_close((uv_handle_t *)&c->tcp, hconn_closed);
}

static void on_written(uv_write_t *w, int status)
{
    (void)status;
    hconn_close(w->data);
}

static void respond(hconn *c, int status, const char *ctype, const char *body)
{
    const char *reason = status == 200 ? "OK" : status == 404 ? "Not Found" : status == 405 ? "Method Not Allowed"
                       : status == 400 ? "Bad Request" : "Internal Server Error";
    size_t bl = body ? strlen(body) : 0;
    size_t cap = bl + 256;
    c->out = malloc(cap);
    if (!c->out) {
        hconn_close(c);
        return;
    }
    int n = snprintf(c->out, cap,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                     status, reason, ctype, bl);
    memcpy(c->out + n, body ? body : "", bl);
    uv_buf_t b = uv_buf_init(c->out, (unsigned)(n + bl));
    c->answered = 1;
    c->wr.data = c;
    uv_read_stop((uv_stream_t *)&c->tcp);
    if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, &b, 1, on_written) < 0)
        hconn_close(c);
}

static void handle(hconn *c)
{
    char *line_end = strstr(c->buf, "\r\n");
    if (!line_end) {
        respond(c, 400, "text/plain", "bad request");
        return;
    }
    *line_end = '\0';
    char *sp1 = strchr(c->buf, ' ');
    char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (!sp1 || !sp2 || strncmp(sp2 + 1, "HTTP/1.", 7)) {
        respond(c, 400, "text/plain", "bad request");
        return;
    }
    *sp1 = *sp2 = '\0';
    if (strcmp(c->buf, "GET") && strcmp(c->buf, "HEAD")) {
        respond(c, 405, "text/plain", "method not allowed");
        return;
    }
    char *path = sp1 + 1, *query = strchr(path, '?');
    if (query)
        *query++ = '\0';
    size_t pl = strlen(path);
    if (pl > 1 && path[pl - 1] == '/')
        path[pl - 1] = '\0';
    char *body = NULL;
    int status = stan_server_monitor(c->mon->srv, path, query, &body);
    respond(c, status, status == 200 ? "application/json" : "text/plain", body ? body : "");
    free(body);
}

static void on_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
    hconn *c = h->data;
    (void)sz;
    b->base = c->buf + c->len;
    b->len = REQ_MAX - 1 - c->len;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    hconn *c = s->data;
    (void)b;
    if (n < 0) {
        hconn_close(c);
        return;
    }
    c->len += (size_t)n;
    c->buf[c->len] = '\0';
    if (strstr(c->buf, "\r\n\r\n") || strstr(c->buf, "\n\n"))
        handle(c);
    else if (c->len >= REQ_MAX - 1)
        respond(c, 400, "text/plain", "request too large");
}

static void on_conn(uv_stream_t *l, int status)
{
    stan_monitor *m = l->data;
    if (status < 0)
        return;
    hconn *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->mon = m;
    uv_tcp_init(l->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(l, (uv_stream_t *)&c->tcp) < 0) {
        uv_close((uv_handle_t *)&c->tcp, hconn_closed);
        return;
    }
    c->next = m->conns;
    if (m->conns)
        m->conns->prev = c;
    m->conns = c;
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

int stan_monitor_start(uv_loop_t *loop, stan_server *srv, const char *host, int port, stan_monitor **out)
{
    stan_monitor *m = calloc(1, sizeof *m);
    if (!m)
        return UV_ENOMEM;
    m->srv = srv;
    struct sockaddr_storage ss;
    int rc = uv_ip4_addr(host, port, (struct sockaddr_in *)&ss);
    if (rc)
        rc = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss);
    if (rc) {
        free(m);
        return rc;
    }
    uv_tcp_init(loop, &m->listener);
    m->listener.data = m;
    if ((rc = uv_tcp_bind(&m->listener, (struct sockaddr *)&ss, 0)) ||
        (rc = uv_listen((uv_stream_t *)&m->listener, 64, on_conn))) {
        uv_close((uv_handle_t *)&m->listener, (uv_close_cb)free);
        return rc;
    }
    struct sockaddr_storage bound;
    int len = sizeof bound;
    uv_tcp_getsockname(&m->listener, (struct sockaddr *)&bound, &len);
    m->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                 : ((struct sockaddr_in *)&bound)->sin_port);
    *out = m;
    return 0;
}

int stan_monitor_port(const stan_monitor *m) { return m->port; }

static void listener_closed(uv_handle_t *h) { free(h->data); }

void stan_monitor_close(stan_monitor *m)
{
    if (!m)
        return;
    while (m->conns)
        hconn_close(m->conns);
    uv_close((uv_handle_t *)&m->listener, listener_closed);
}
