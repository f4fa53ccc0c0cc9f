/* stan_monitor.c - HTTP monitoring endpoints (see stan_monitor.h). The JSON field names are
 * nats-streaming-server's. */
#include "stan_monitor.h"
#include "stan_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct stan_monitor {
    stan_server *srv;
    struct MHD_Daemon *d;
    uv_poll_t poll;       /* MHD's epoll fd */
    uv_timer_t timer;     /* MHD's connection timeouts */
    int port, nats_mon_port, closed_handles;
};

/* ---- JSON --------------------------------------------------------------------------------- */

static void rfc3339(int64_t ns, char *out, size_t cap)
{
    time_t t = (time_t)(ns / 1000000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, cap, "%s.%09" PRId64 "Z", base, ns % 1000000000);
}

static void set_str(json_t *o, const char *k, const char *v) { json_object_set_new(o, k, json_string(v ? v : "")); }
static void set_int(json_t *o, const char *k, int64_t v) { json_object_set_new(o, k, json_integer(v)); }
static void set_bool(json_t *o, const char *k, int v) { json_object_set_new(o, k, json_boolean(v)); }

static json_t *header(stan_server *s)
{
    char now[64];
    rfc3339(stan_now_ns(), now, sizeof now);
    json_t *o = json_object();
    set_str(o, "cluster_id", s->cluster_id);
    set_str(o, "server_id", s->server_id);
    set_str(o, "now", now);
    return o;
}

static json_t *sub_json(stan_sub *x)
{
    streamlog_sub_stats st = {0};
    if (x->sl)
        streamlog_sub_get_stats(x->sl, &st);
    json_t *o = json_object();
    set_str(o, "client_id", x->client->id);
    set_str(o, "inbox", x->inbox);
    set_str(o, "ack_inbox", x->ack_inbox);
    if (x->durable)
        set_str(o, "durable_name", x->durable);
    if (x->queue)
        set_str(o, "queue_name", x->queue);
    set_bool(o, "is_durable", x->durable != NULL);
    set_bool(o, "is_offline", 0);
    set_int(o, "max_inflight", x->max_inflight);
    set_int(o, "ack_wait", x->ack_wait_s);
    set_int(o, "last_sent", (int64_t)st.last_delivered);
    set_int(o, "pending_count", (int64_t)st.pending);
    set_bool(o, "is_stalled", st.stalled != 0);
    return o;
}

static json_t *offline_json(const stan_offline *o)
{
    json_t *j = json_object();
    set_str(j, "client_id", o->client_id);
    set_str(j, "inbox", o->inbox);
    set_str(j, "ack_inbox", o->ack_inbox);
    set_str(j, "durable_name", o->durable);
    if (o->queue)
        set_str(j, "queue_name", o->queue);
    set_bool(j, "is_durable", 1);
    set_bool(j, "is_offline", 1);
    set_int(j, "max_inflight", o->max_inflight);
    set_int(j, "ack_wait", o->ack_wait_s);
    set_int(j, "last_sent", (int64_t)o->last_sent);
    set_int(j, "pending_count", (int64_t)o->pending);
    set_bool(j, "is_stalled", 0);
    return j;
}

/* Whether the in-memory offline list already has this durable. */
static int offline_known(const stan_channel *c, const char *client_id, const char *durable, const char *queue)
{
    for (const stan_offline *o = c ? c->offline : NULL; o; o = o->next)
        if (strcmp(o->durable, durable) == 0 &&
            (queue ? o->queue && strcmp(o->queue, queue) == 0 : !o->queue && strcmp(o->client_id, client_id) == 0))
            return 1;
    return 0;
}

/* Durables in the store with no member, not already listed: those not seen since the start (a
 * restart, or another process). The store names a plain durable "client|durable" and a durable
 * queue group "queue:durable"; what the store does not keep (inboxes, max in flight, ack wait)
 * is left empty or 0. */
static void store_offline_json(streamlog_channel *h, const stan_channel *c, json_t *list)
{
    char name[STREAMLOG_GROUP_NAME_CAP], after[STREAMLOG_GROUP_NAME_CAP] = "";
    int kind = 0;
    while (streamlog_group_list_next(h, kind, after, &kind, name, sizeof name) == STREAMLOG_OK) {
        snprintf(after, sizeof after, "%s", name);
        streamlog_group_stats gs;
        if (kind == STREAMLOG_GROUP_QUEUE || streamlog_group_get_stats(h, kind, name, &gs) || gs.members)
            continue;
        char *sep = strchr(name, kind == STREAMLOG_GROUP_DURABLE ? '|' : ':');
        if (!sep)
            continue; /* not one of this server's names */
        *sep = '\0';
        const char *client_id = kind == STREAMLOG_GROUP_DURABLE ? name : "";
        const char *queue = kind == STREAMLOG_GROUP_DURABLE ? NULL : name;
        if (offline_known(c, client_id, sep + 1, queue))
            continue;
        stan_offline o = {.client_id = (char *)client_id, .durable = sep + 1, .queue = (char *)queue,
                          .inbox = "", .ack_inbox = "", .last_sent = gs.next_seq ? gs.next_seq - 1 : 0,
                          .pending = gs.pending};
        json_array_append_new(list, offline_json(&o));
    }
}

static json_t *client_json(stan_client *c, int subs)
{
    size_t n = 0;
    for (stan_sub *x = c->subs; x; x = x->next_in_client)
        n++;
    json_t *o = json_object();
    set_str(o, "id", c->id);
    set_str(o, "hb_inbox", c->hb_inbox);
    set_int(o, "subs_count", (int64_t)n);
    if (subs && c->subs) {
        /* grouped by channel, as nats-streaming-server does */
        json_t *by_chan = json_object();
        for (stan_sub *x = c->subs; x; x = x->next_in_client) {
            json_t *list = json_object_get(by_chan, x->chan->name);
            if (!list) {
                list = json_array();
                json_object_set_new(by_chan, x->chan->name, list);
            }
            json_array_append_new(list, sub_json(x));
        }
        json_object_set_new(o, "subscriptions", by_chan);
    }
    return o;
}

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

static json_t *channel_json(stan_server *s, const char *name, stan_channel *c, int subs)
{
    streamlog_channel_stats st = {0};
    chan_stats(s, name, c, &st);
    json_t *o = json_object();
    set_str(o, "name", name);
    set_int(o, "msgs", (int64_t)st.msgs);
    set_int(o, "bytes", (int64_t)st.bytes);
    set_int(o, "first_seq", (int64_t)st.first_seq);
    set_int(o, "last_seq", (int64_t)st.last_seq);
    if (subs) {
        json_t *list = json_array();
        for (stan_sub *x = c ? c->subs : NULL; x; x = x->next_in_chan)
            json_array_append_new(list, sub_json(x));
        /* durables whose subscription is closed, as nats-streaming-server lists its offline
         * durables: those seen since the start with the client ID they had, then the store's */
        for (stan_offline *x = c ? c->offline : NULL; x; x = x->next)
            json_array_append_new(list, offline_json(x));
        streamlog_channel *h = c ? c->ch : NULL;
        if (h || streamlog_channel_open(s->store, name, 0, NULL, &h) == STREAMLOG_OK) {
            store_offline_json(h, c, list);
            if (!c)
                streamlog_channel_close(h);
        }
        json_object_set_new(o, "subscriptions", list);
    }
    return o;
}

/* Every channel of the store in name order (bytewise, as nats-streaming-server sorts them), not
 * only those used since the start; with totals. */
typedef struct chan_walk {
    uint64_t channels, msgs, bytes;
    int64_t offset, limit;
    int subs;
    json_t *list;   /* NULL: totals only */
} chan_walk;

static void walk_channels(stan_server *s, chan_walk *w)
{
    char name[STAN_CHAN_NAME_CAP], prev[STAN_CHAN_NAME_CAP] = "";
    while (streamlog_channel_list_next(s->store, prev, name, sizeof name) == STREAMLOG_OK) {
        stan_channel *c = stan_map_get(&s->channels, name, strlen(name));
        streamlog_channel_stats st;
        int64_t i = (int64_t)w->channels++;
        if (!chan_stats(s, name, c, &st)) {
            w->msgs += st.msgs;
            w->bytes += st.bytes;
        }
        if (w->list && i >= w->offset && (int64_t)json_array_size(w->list) < w->limit)
            json_array_append_new(w->list, w->subs ? channel_json(s, name, c, 1) : json_string(name));
        memcpy(prev, name, sizeof prev);
    }
}

static void fmt_duration(int64_t ns, char *out, size_t cap)
{
    int64_t sec = ns / 1000000000;
    int64_t d = sec / 86400, h = sec % 86400 / 3600, m = sec % 3600 / 60, s = sec % 60;
    if (d)
        snprintf(out, cap, "%" PRId64 "d%" PRId64 "h%" PRId64 "m%" PRId64 "s", d, h, m, s);
    else if (h)
        snprintf(out, cap, "%" PRId64 "h%" PRId64 "m%" PRId64 "s", h, m, s);
    else if (m)
        snprintf(out, cap, "%" PRId64 "m%" PRId64 "s", m, s);
    else
        snprintf(out, cap, "%" PRId64 "s", s);
}

/* ---- endpoints ---------------------------------------------------------------------------- */

typedef struct query {
    struct MHD_Connection *conn;
    char err[300];   /* first bad value */
} query;

static const char *q_str(query *q, const char *key)
{
    return MHD_lookup_connection_value(q->conn, MHD_GET_ARGUMENT_KIND, key);
}

/* A non-negative integer; a missing key gives def, a bad value sets q->err. */
static int64_t q_int(query *q, const char *key, int64_t def)
{
    const char *v = q_str(q, key);
    if (!v)
        return def;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (!*v || *end || errno || x < 0) {
        if (!q->err[0])
            snprintf(q->err, sizeof q->err, "invalid value for %s: '%s' (want an integer >= 0)", key, v);
        return def;
    }
    return x;
}

static int q_bool(query *q, const char *key)
{
    const char *v = q_str(q, key);
    if (!v)
        return 0;
    if (!*v || !strcmp(v, "1") || !strcmp(v, "true"))
        return 1;
    if (!strcmp(v, "0") || !strcmp(v, "false"))
        return 0;
    if (!q->err[0])
        snprintf(q->err, sizeof q->err, "invalid value for %s: '%s' (want 1, 0, true or false)", key, v);
    return 0;
}

static json_t *serverz(stan_server *s)
{
    chan_walk w = {0};
    size_t nclients = 0;
    char start[64], up[64];
    walk_channels(s, &w);
    for (stan_client *c = s->clients_head; c; c = c->next)
        nclients++;
    rfc3339(s->start_time_ns, start, sizeof start);
    fmt_duration(stan_now_ns() - s->start_time_ns, up, sizeof up);
    json_t *o = header(s);
    set_str(o, "version", STAN_SERVER_VERSION);
    set_str(o, "state", "STANDALONE");
    set_str(o, "start_time", start);
    set_str(o, "uptime", up);
    set_int(o, "clients", (int64_t)nclients);
    set_int(o, "subscriptions", (int64_t)s->nsubs);
    set_int(o, "channels", (int64_t)w.channels);
    set_int(o, "total_msgs", (int64_t)w.msgs);
    set_int(o, "total_bytes", (int64_t)w.bytes);
    set_int(o, "in_msgs", (int64_t)s->in_msgs);
    set_int(o, "in_bytes", (int64_t)s->in_bytes);
    set_int(o, "out_msgs", (int64_t)s->out_msgs);
    set_int(o, "out_bytes", (int64_t)s->out_bytes);
    return o;
}

static json_t *storez(stan_server *s)
{
    chan_walk w = {0};
    walk_channels(s, &w);
    json_t *o = header(s), *lim = json_object();
    set_str(o, "type", s->temp_dir ? "MEMORY" : "FILE");
    set_int(lim, "max_channels", s->cfg.max_channels);
    set_int(lim, "max_msgs", s->cfg.max_msgs);
    set_int(lim, "max_bytes", s->cfg.max_bytes);
    set_int(lim, "max_age", s->cfg.max_age_ms * 1000000);   /* ns, as a Go duration */
    set_int(lim, "max_subscriptions", s->cfg.max_subs);
    set_int(lim, "max_inactivity", s->cfg.max_inactivity_ms * 1000000);
    json_object_set_new(o, "limits", lim);
    set_int(o, "total_msgs", (int64_t)w.msgs);
    set_int(o, "total_bytes", (int64_t)w.bytes);
    return o;
}

/* 200 with the body, or an error status with a text in *text. */
static int clientsz(stan_server *s, query *q, json_t **out, char *text, size_t cap)
{
    int subs = q_bool(q, "subs");
    int64_t offset = q_int(q, "offset", 0), limit = q_int(q, "limit", 1024);
    const char *id = q_str(q, "client");
    if (q->err[0])
        return 400;
    if (id) {
        stan_client *c = stan_map_get(&s->clients, id, strlen(id));
        if (!c) {
            snprintf(text, cap, "client %s not found", id);
            return 404;
        }
        *out = client_json(c, subs);
        return 200;
    }
    int64_t total = 0, i = 0;
    json_t *list = json_array();
    for (stan_client *c = s->clients_head; c; c = c->next, i++) {
        total++;
        if (i >= offset && (int64_t)json_array_size(list) < limit)
            json_array_append_new(list, client_json(c, subs));
    }
    json_t *o = header(s);
    set_int(o, "offset", offset);
    set_int(o, "limit", limit);
    set_int(o, "count", (int64_t)json_array_size(list));
    set_int(o, "total", total);
    json_object_set_new(o, "clients", list);
    *out = o;
    return 200;
}

static int channelsz(stan_server *s, query *q, json_t **out, char *text, size_t cap)
{
    int subs = q_bool(q, "subs");
    chan_walk w = {.offset = q_int(q, "offset", 0), .limit = q_int(q, "limit", 1024), .subs = subs};
    const char *name = q_str(q, "channel");
    if (q->err[0])
        return 400;
    if (name) {
        stan_channel *c = stan_map_get(&s->channels, name, strlen(name));
        streamlog_channel_stats st;
        if (!c && chan_stats(s, name, NULL, &st)) {
            snprintf(text, cap, "channel %s not found", name);
            return 404;
        }
        *out = channel_json(s, name, c, subs);
        return 200;
    }
    w.list = json_array();
    walk_channels(s, &w);
    json_t *o = header(s);
    set_int(o, "offset", w.offset);
    set_int(o, "limit", w.limit);
    set_int(o, "count", (int64_t)json_array_size(w.list));
    set_int(o, "total", (int64_t)w.channels);
    json_object_set_new(o, subs ? "channels" : "names", w.list);
    *out = o;
    return 200;
}

/* ---- HTTP --------------------------------------------------------------------------------- */

static enum MHD_Result respond(struct MHD_Connection *conn, int status, const char *ctype, char *body)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    enum MHD_Result ok = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result respond_text(struct MHD_Connection *conn, int status, const char *text)
{
    char *body = strdup(text);
    return body ? respond(conn, status, "text/plain; charset=utf-8", body) : MHD_NO;
}

/* nats-server's own monitoring lives on its port: send the client there with the same path. */
static enum MHD_Result redirect_to_nats(stan_monitor *m, struct MHD_Connection *conn, const char *uri)
{
    char host[256] = "127.0.0.1", loc[2048];
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    if (h && *h && strlen(h) < sizeof host) {
        snprintf(host, sizeof host, "%s", h);
        char *colon = strrchr(host, ':');
        if (colon && !strchr(colon, ']'))
            *colon = '\0';
    }
    snprintf(loc, sizeof loc, "http://%s:%d%s", host, m->nats_mon_port, uri);
    struct MHD_Response *r = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, loc);
    enum MHD_Result ok = MHD_queue_response(conn, MHD_HTTP_TEMPORARY_REDIRECT, r);
    MHD_destroy_response(r);
    return ok;
}

/* MHD hands the raw request URI (with its query) here first; it becomes the request's context. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)cls;
    (void)conn;
    return strdup(uri);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **ctx, enum MHD_RequestTerminationCode t)
{
    (void)cls;
    (void)conn;
    (void)t;
    free(*ctx);
    *ctx = NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **ctx)
{
    stan_monitor *m = cls;
    stan_server *s = m->srv;
    (void)version;
    (void)upload;
    (void)upload_size;
    if (strcmp(method, "GET") && strcmp(method, "HEAD"))
        return respond_text(conn, 405, "method not allowed");
    char path[256];
    snprintf(path, sizeof path, "%s", url);
    size_t pl = strlen(path);
    if (pl > 1 && path[pl - 1] == '/')
        path[pl - 1] = '\0';
    query q = {.conn = conn};
    json_t *body = NULL;
    char text[600] = "";
    int status = 200;
    if (!strcmp(path, "/streaming/serverz"))
        body = serverz(s);
    else if (!strcmp(path, "/streaming/storez"))
        body = storez(s);
    else if (!strcmp(path, "/streaming/clientsz"))
        status = clientsz(s, &q, &body, text, sizeof text);
    else if (!strcmp(path, "/streaming/channelsz"))
        status = channelsz(s, &q, &body, text, sizeof text);
    else if (strncmp(path, "/streaming", 10) && m->nats_mon_port >= 0)
        return redirect_to_nats(m, conn, *ctx ? (const char *)*ctx : url);
    else
        status = 404, snprintf(text, sizeof text, "404 page not found");
    if (status == 400)
        return respond_text(conn, 400, q.err);
    if (status != 200)
        return respond_text(conn, status, text);
    char *json = json_dumps(body, JSON_INDENT(2));
    json_decref(body);
    if (!json)
        return respond_text(conn, 500, "out of memory");
    return respond(conn, 200, "application/json", json);
}

static void rearm(stan_monitor *m);

static void on_mhd_ready(uv_poll_t *p, int status, int events)
{
    stan_monitor *m = p->data;
    (void)status;
    (void)events;
    MHD_run(m->d);
    rearm(m);
}

static void on_mhd_timer(uv_timer_t *t)
{
    stan_monitor *m = t->data;
    MHD_run(m->d);
    rearm(m);
}

static void rearm(stan_monitor *m)
{
    MHD_UNSIGNED_LONG_LONG ms;
    if (MHD_get_timeout(m->d, &ms) == MHD_YES)
        uv_timer_start(&m->timer, on_mhd_timer, ms, 0);
    else
        uv_timer_stop(&m->timer);
}

int stan_monitor_start(stan_server *srv, const char *host, int port, int nats_mon_port, stan_monitor **out,
                       char *err, size_t errcap)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    int rc = getaddrinfo(host, ps, &hints, &ai);
    if (rc) {
        snprintf(err, errcap, "%s: %s", host, gai_strerror(rc));
        return -1;
    }
    stan_monitor *m = calloc(1, sizeof *m);
    if (!m) {
        freeaddrinfo(ai);
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    m->srv = srv;
    m->nats_mon_port = nats_mon_port;
    unsigned flags = MHD_USE_EPOLL | (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    /* every call comes from the loop thread (MHD_run), which owns the server's state */
    m->d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, m, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_URI_LOG_CALLBACK, on_uri, m,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, m, MHD_OPTION_END);
    freeaddrinfo(ai);
    const union MHD_DaemonInfo *efd = m->d ? MHD_get_daemon_info(m->d, MHD_DAEMON_INFO_EPOLL_FD) : NULL;
    const union MHD_DaemonInfo *bp = m->d ? MHD_get_daemon_info(m->d, MHD_DAEMON_INFO_BIND_PORT) : NULL;
    if (!efd || !bp) {
        snprintf(err, errcap, "cannot listen on %s:%d: %s", host, port, strerror(errno));
        if (m->d)
            MHD_stop_daemon(m->d);
        free(m);
        return -1;
    }
    m->port = bp->port;
    uv_poll_init(srv->loop, &m->poll, efd->epoll_fd);
    m->poll.data = m;
    uv_timer_init(srv->loop, &m->timer);
    m->timer.data = m;
    uv_poll_start(&m->poll, UV_READABLE, on_mhd_ready);
    *out = m;
    return 0;
}

int stan_monitor_port(const stan_monitor *m) { return m->port; }

static void handle_closed(uv_handle_t *h)
{
    stan_monitor *m = h->data;
    if (++m->closed_handles == 2)
        free(m);
}

void stan_monitor_close(stan_monitor *m)
{
    if (!m)
        return;
    uv_poll_stop(&m->poll);
    uv_close((uv_handle_t *)&m->poll, handle_closed);
    uv_close((uv_handle_t *)&m->timer, handle_closed);
    MHD_stop_daemon(m->d);
}
