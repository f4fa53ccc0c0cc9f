/* nats_server.c - NATS core protocol server on libuv; see nats_server.h.
 *
 * Structure: a listener, one struct conn per TCP client (parser, subscriptions, two output
 * buffers: one being written, one filling), in-process subscriptions, and a housekeeping timer
 * for server PINGs and the auth deadline.
 *
 * Deliveries run synchronously; subscriptions removed while a publish is in progress are only
 * marked dead and freed when the outermost publish returns, so the match results stay valid. */
#include "nats_server.h"
#include "nats_parser.h"
#include "nats_sublist.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 16
#define READ_BUF_SIZE 65536
#define SHRINK_ABOVE (1024 * 1024)
#define HOUSEKEEPING_MS 250

typedef struct conn conn;

typedef struct nsub {
    conn *c;                    /* NULL for in-process */
    char *subject;
    char *queue;                /* NULL when none */
    char *sid_str;              /* TCP: the client's sid */
    size_t sid_len;
    uint64_t sid;               /* in-process id */
    uint64_t delivered;
    uint64_t max;               /* 0: unlimited */
    nats_server_msg_cb cb;
    void *ud;
    int dead;
    struct nsub *next;          /* list of its connection or of in-process subs */
    struct nsub *dead_next;
} nsub;

struct conn {
    uv_tcp_t tcp;
    uv_write_t wreq;
    nats_server *srv;
    uint64_t cid;
    char ip[64];
    nats_parser parser;
    int got_connect;
    int verbose, pedantic, echo;
    int closing;                /* uv_close called or pending */
    int close_after_flush;
    int reading;
    nsub *subs;
    char *obuf;                 /* filling */
    size_t olen, ocap;
    char *wbuf;                 /* in flight */
    size_t wlen, wcap;
    int writing;
    int dirty;                  /* on srv->dirty list */
    conn *dirty_next;
    conn *prev, *next;          /* all connections */
    uint64_t connected_at;
    uint64_t last_ping_sent;
    int pings_out;
};

struct nats_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    uv_timer_t timer;
    int listener_init;
    int listening;
    int port;
    char *host;
    char *user, *pass, *token;
    size_t max_payload, max_pending;
    uint64_t ping_interval_ms, auth_timeout_ms;
    int max_pings_out;
    void (*log)(int, const char *, void *);
    void *log_ud;
    int log_level;
    char server_id[32];
    nats_sublist *sl;
    conn *conns;
    size_t nconns;
    uint64_t next_cid;
    uint64_t next_sid;
    nsub *local;                /* in-process subscriptions */
    nsub *dead;                 /* freed when depth returns to 0 */
    int depth;
    nats_sublist_result res[MAX_DEPTH + 1];
    conn *dirty;
    char readbuf[READ_BUF_SIZE];
    int closing;
    int open_handles;
    void (*done)(void *);
    void *done_ud;
};

const char *nats_server_strerror(int rc)
{
    switch (rc) {
    case NATS_SERVER_OK: return "ok";
    case NATS_SERVER_EINVAL: return "invalid argument";
    case NATS_SERVER_ENOMEM: return "out of memory";
    case NATS_SERVER_ENOTFOUND: return "no such subscription";
    case NATS_SERVER_EPAYLOAD: return "maximum payload exceeded";
    case NATS_SERVER_ELISTEN: return "cannot listen";
    case NATS_SERVER_ECLOSED: return "server closing";
    case NATS_SERVER_EDEPTH: return "publish nested too deeply";
    default: return "unknown error";
    }
}

static void logf_(nats_server *srv, int level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static void logf_(nats_server *srv, int level, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    if (!srv->log || level > srv->log_level)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    srv->log(level, buf, srv->log_ud);
}

void nats_server_config_init(nats_server_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->host = "127.0.0.1";
    cfg->port = 4222;
    cfg->max_payload = NATS_DEFAULT_MAX_PAYLOAD;
    cfg->max_pending = 64u * 1024 * 1024;
    cfg->ping_interval_ms = 120000;
    cfg->max_pings_out = 2;
    cfg->auth_timeout_ms = 2000;
    cfg->log_level = NATS_LOG_INFO;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void random_chars(char *out, size_t n)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyz";
    unsigned char rnd[64];
    if (n > sizeof rnd)
        n = sizeof rnd;
    if (uv_random(NULL, NULL, rnd, n, 0, NULL) != 0) {
        /* Fall back to a weak source; the ids only need to be unique, not secret. */
        static uint64_t x = 0x9E3779B97F4A7C15ull;
        for (size_t i = 0; i < n; i++) {
            x ^= uv_hrtime() + i;
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            rnd[i] = (unsigned char)x;
        }
    }
    for (size_t i = 0; i < n; i++)
        out[i] = alphabet[rnd[i] % 62];
}

int nats_server_new(uv_loop_t *loop, const nats_server_config *cfg, nats_server **out)
{
    nats_server_config def;
    if (!loop || !out)
        return NATS_SERVER_EINVAL;
    if (!cfg) {
        nats_server_config_init(&def);
        cfg = &def;
    }
    if (cfg->port < 0 || cfg->port > 65535 || !cfg->host || cfg->max_payload == 0 ||
        cfg->max_pending < cfg->max_payload || (!!cfg->user != !!cfg->pass) ||
        cfg->max_pings_out < 1)
        return NATS_SERVER_EINVAL;
    nats_server *srv = calloc(1, sizeof *srv);
    if (!srv)
        return NATS_SERVER_ENOMEM;
    srv->loop = loop;
    srv->port = cfg->port;
    srv->host = strdup(cfg->host);
    srv->user = dup_or_null(cfg->user);
    srv->pass = dup_or_null(cfg->pass);
    srv->token = dup_or_null(cfg->token);
    srv->sl = nats_sublist_new();
    if (!srv->host || !srv->sl || (cfg->user && (!srv->user || !srv->pass)) ||
        (cfg->token && !srv->token)) {
        nats_sublist_free(srv->sl);
        free(srv->host); free(srv->user); free(srv->pass); free(srv->token);
        free(srv);
        return NATS_SERVER_ENOMEM;
    }
    srv->max_payload = cfg->max_payload;
    srv->max_pending = cfg->max_pending;
    srv->ping_interval_ms = cfg->ping_interval_ms;
    srv->max_pings_out = cfg->max_pings_out;
    srv->auth_timeout_ms = cfg->auth_timeout_ms;
    srv->log = cfg->log;
    srv->log_ud = cfg->log_ud;
    srv->log_level = cfg->log_level;
    srv->next_cid = 1;
    srv->next_sid = 1;
    srv->server_id[0] = 'N';
    random_chars(srv->server_id + 1, 21);
    srv->server_id[22] = '\0';
    uv_timer_init(loop, &srv->timer);
    srv->timer.data = srv;
    srv->open_handles = 1;
    *out = srv;
    return 0;
}

int nats_server_port(const nats_server *srv)
{
    return srv && srv->listening ? srv->port : -1;
}

const char *nats_server_id(const nats_server *srv)
{
    return srv->server_id;
}

size_t nats_server_num_clients(const nats_server *srv)
{
    return srv->nconns;
}

static int auth_required(const nats_server *srv)
{
    return srv->user || srv->token;
}

/* ---- output ---------------------------------------------------------------------------- */

static void conn_close(conn *c);
static void conn_flush(conn *c);

static void mark_dirty(conn *c)
{
    if (!c->dirty) {
        c->dirty = 1;
        c->dirty_next = c->srv->dirty;
        c->srv->dirty = c;
    }
}

static void flush_dirty(nats_server *srv)
{
    while (srv->dirty) {
        conn *c = srv->dirty;
        srv->dirty = c->dirty_next;
        c->dirty = 0;
        c->dirty_next = NULL;
        conn_flush(c);
    }
}

/* Reserves n more bytes in the filling buffer, or closes c as a slow consumer. */
static char *out_reserve(conn *c, size_t n)
{
    if (c->closing)
        return NULL;
    size_t pending = c->olen + (c->writing ? c->wlen : 0);
    if (pending && pending + n > c->srv->max_pending) {
        logf_(c->srv, NATS_LOG_INFO, "cid %" PRIu64 ": slow consumer, %zu bytes pending; closing",
              c->cid, pending);
        conn_close(c);
        return NULL;
    }
    if (c->olen + n > c->ocap) {
        size_t nc = c->ocap ? c->ocap : 4096;
        while (nc < c->olen + n)
            nc *= 2;
        char *nb = realloc(c->obuf, nc);
        if (!nb) {
            logf_(c->srv, NATS_LOG_ERROR, "cid %" PRIu64 ": out of memory; closing", c->cid);
            conn_close(c);
            return NULL;
        }
        c->obuf = nb;
        c->ocap = nc;
    }
    char *p = c->obuf + c->olen;
    c->olen += n;
    mark_dirty(c);
    return p;
}

static void out_str(conn *c, const char *s)
{
    size_t n = strlen(s);
    char *p = out_reserve(c, n);
    if (p)
        memcpy(p, s, n);
}

static void send_err(conn *c, const char *text)
{
    char buf[256];
    snprintf(buf, sizeof buf, "-ERR '%s'\r\n", text);
    out_str(c, buf);
}

/* Sends -ERR and closes once it is written. */
static void err_close(conn *c, const char *text)
{
    logf_(c->srv, NATS_LOG_DEBUG, "cid %" PRIu64 ": -ERR '%s'; closing", c->cid, text);
    send_err(c, text);
    if (!c->closing) {
        c->close_after_flush = 1;
        if (c->reading) {
            uv_read_stop((uv_stream_t *)&c->tcp);
            c->reading = 0;
        }
        conn_flush(c);
    }
}

static void write_cb(uv_write_t *req, int status)
{
    conn *c = req->data;
    c->writing = 0;
    c->wlen = 0;
    if (c->wcap > SHRINK_ABOVE) {
        free(c->wbuf);
        c->wbuf = NULL;
        c->wcap = 0;
    }
    if (status < 0) {
        if (status != UV_ECANCELED)
            logf_(c->srv, NATS_LOG_DEBUG, "cid %" PRIu64 ": write error %s", c->cid,
                  uv_strerror(status));
        conn_close(c);
        return;
    }
    conn_flush(c);
}

static void conn_flush(conn *c)
{
    if (c->closing || c->writing)
        return;
    if (c->olen == 0) {
        if (c->close_after_flush)
            conn_close(c);
        return;
    }
    /* Swap: the filled buffer goes out, the spare one fills next. */
    char *b = c->wbuf;
    size_t cap = c->wcap;
    c->wbuf = c->obuf;
    c->wcap = c->ocap;
    c->wlen = c->olen;
    c->obuf = b;
    c->ocap = cap;
    c->olen = 0;
    uv_buf_t ub = uv_buf_init(c->wbuf, (unsigned int)c->wlen);
    c->wreq.data = c;
    int rc = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &ub, 1, write_cb);
    if (rc < 0) {
        logf_(c->srv, NATS_LOG_DEBUG, "cid %" PRIu64 ": write failed %s", c->cid, uv_strerror(rc));
        c->wlen = 0;
        conn_close(c);
        return;
    }
    c->writing = 1;
}

/* ---- subscriptions --------------------------------------------------------------------- */

static void sub_free(nsub *s)
{
    free(s->subject);
    free(s->queue);
    free(s->sid_str);
    free(s);
}

/* Takes s out of the sublist; the memory is freed now, or after the outermost publish. */
static void sub_kill(nats_server *srv, nsub *s)
{
    if (s->dead)
        return;
    s->dead = 1;
    nats_sublist_remove(srv->sl, s->subject, s->queue, s);
    if (srv->depth > 0) {
        s->dead_next = srv->dead;
        srv->dead = s;
    } else {
        sub_free(s);
    }
}

static void unlink_sub(nsub **list, nsub *s)
{
    for (nsub **pp = list; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            return;
        }
    }
}

static void free_dead(nats_server *srv)
{
    while (srv->dead) {
        nsub *s = srv->dead;
        srv->dead = s->dead_next;
        sub_free(s);
    }
}

static nsub *sub_new(const char *subject, size_t slen, const char *queue, size_t qlen)
{
    nsub *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->subject = malloc(slen + 1);
    if (qlen)
        s->queue = malloc(qlen + 1);
    if (!s->subject || (qlen && !s->queue)) {
        sub_free(s);
        return NULL;
    }
    memcpy(s->subject, subject, slen);
    s->subject[slen] = '\0';
    if (qlen) {
        memcpy(s->queue, queue, qlen);
        s->queue[qlen] = '\0';
    }
    return s;
}

/* ---- delivery -------------------------------------------------------------------------- */

typedef struct pub_ctx {
    conn *from;     /* publishing connection or NULL */
} pub_ctx;

static int accept_sub(void *item, void *ud)
{
    nsub *s = item;
    pub_ctx *pc = ud;
    if (s->dead || (s->c && s->c->closing))
        return 0;
    if (pc->from && s->c == pc->from && !pc->from->echo)
        return 0;
    return 1;
}

static void deliver_tcp(nsub *s, const char *subj, size_t slen, const char *reply, size_t rlen,
                        const void *data, size_t len)
{
    char num[24];
    int nl = snprintf(num, sizeof num, "%zu", len);
    size_t total = 4 + slen + 1 + s->sid_len + 1 + (rlen ? rlen + 1 : 0) + (size_t)nl + 2 + len + 2;
    char *p = out_reserve(s->c, total);
    if (!p)
        return;
    memcpy(p, "MSG ", 4); p += 4;
    memcpy(p, subj, slen); p += slen;
    *p++ = ' ';
    memcpy(p, s->sid_str, s->sid_len); p += s->sid_len;
    *p++ = ' ';
    if (rlen) {
        memcpy(p, reply, rlen); p += rlen;
        *p++ = ' ';
    }
    memcpy(p, num, (size_t)nl); p += nl;
    *p++ = '\r'; *p++ = '\n';
    if (len)
        memcpy(p, data, len);
    p += len;
    *p++ = '\r'; *p++ = '\n';
}

static int deliver(nats_server *srv, conn *from, const char *subj, size_t slen,
                   const char *reply, size_t rlen, const void *data, size_t len)
{
    pub_ctx pc = { from };
    int rc = 0;
    char *csubj = NULL, *creply = NULL;
    int d;

    if (srv->depth >= MAX_DEPTH)
        return NATS_SERVER_EDEPTH;
    d = srv->depth++;
    if (nats_sublist_match(srv->sl, subj, slen, accept_sub, &pc, &srv->res[d]) < 0)
        rc = NATS_SERVER_ENOMEM;
    for (size_t i = 0; i < srv->res[d].count; i++) {
        nsub *s = srv->res[d].items[i];
        if (s->dead || (s->c && s->c->closing))
            continue;
        s->delivered++;
        int last = s->max && s->delivered >= s->max;
        if (s->c) {
            deliver_tcp(s, subj, slen, reply, rlen, data, len);
            if (last) {
                unlink_sub(&s->c->subs, s);
                sub_kill(srv, s);
            }
            continue;
        }
        if (last) {
            unlink_sub(&srv->local, s);
            sub_kill(srv, s);
        }
        if (!csubj) {
            /* NUL-terminated copies for in-process callbacks, made once per publish. */
            csubj = malloc(slen + 1 + rlen + 1);
            if (!csubj) {
                rc = NATS_SERVER_ENOMEM;
                break;
            }
            memcpy(csubj, subj, slen);
            csubj[slen] = '\0';
            creply = csubj + slen + 1;
            if (rlen)
                memcpy(creply, reply, rlen);
            creply[rlen] = '\0';
        }
        nats_server_msg m = { s->sid, csubj, rlen ? creply : NULL, data, len };
        s->cb(srv, &m, s->ud);
    }
    free(csubj);
    srv->depth--;
    if (srv->depth == 0) {
        free_dead(srv);
        flush_dirty(srv);
    }
    return rc;
}

/* ---- connections ----------------------------------------------------------------------- */

static void handle_closed(nats_server *srv)
{
    if (--srv->open_handles == 0 && srv->closing) {
        void (*done)(void *) = srv->done;
        void *ud = srv->done_ud;
        free_dead(srv);
        for (int i = 0; i <= MAX_DEPTH; i++)
            nats_sublist_result_free(&srv->res[i]);
        nats_sublist_free(srv->sl);
        free(srv->host); free(srv->user); free(srv->pass); free(srv->token);
        free(srv);
        if (done)
            done(ud);
    }
}

static void conn_close_cb(uv_handle_t *h)
{
    conn *c = h->data;
    nats_server *srv = c->srv;
    nats_parser_free(&c->parser);
    free(c->obuf);
    free(c->wbuf);
    free(c);
    handle_closed(srv);
}

static void conn_close(conn *c)
{
    nats_server *srv = c->srv;
    if (c->closing)
        return;
    c->closing = 1;
    logf_(srv, NATS_LOG_DEBUG, "cid %" PRIu64 ": closed", c->cid);
    while (c->subs) {
        nsub *s = c->subs;
        c->subs = s->next;
        sub_kill(srv, s);
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    srv->nconns--;
    uv_close((uv_handle_t *)&c->tcp, conn_close_cb);
}

static void send_info(conn *c)
{
    nats_server *srv = c->srv;
    char buf[640];
    snprintf(buf, sizeof buf,
             "INFO {\"server_id\":\"%s\",\"server_name\":\"%s\",\"version\":\"%s\",\"proto\":1,"
             "\"host\":\"%s\",\"port\":%d,\"headers\":false,%s\"max_payload\":%zu,"
             "\"client_id\":%" PRIu64 ",\"client_ip\":\"%s\"}\r\n",
             srv->server_id, srv->server_id, NATS_SERVER_VERSION, srv->host, srv->port,
             auth_required(srv) ? "\"auth_required\":true," : "", srv->max_payload, c->cid, c->ip);
    out_str(c, buf);
}

static int check_auth(nats_server *srv, const nats_connect_opts *o)
{
    if (srv->token && o->has_token && !strcmp(o->auth_token, srv->token))
        return 1;
    if (srv->user && o->has_user && o->has_pass && !strcmp(o->user, srv->user) &&
        !strcmp(o->pass, srv->pass))
        return 1;
    return 0;
}

static nsub *find_sid(conn *c, nats_str sid)
{
    for (nsub *s = c->subs; s; s = s->next)
        if (s->sid_len == sid.len && memcmp(s->sid_str, sid.p, sid.len) == 0)
            return s;
    return NULL;
}

/* Handles one operation; returns -1 when the connection is being closed. */
static int handle_op(conn *c, const nats_op *op)
{
    nats_server *srv = c->srv;

    if (auth_required(srv) && !c->got_connect && op->type != NATS_OP_CONNECT) {
        err_close(c, "Authorization Violation");
        return -1;
    }
    switch (op->type) {
    case NATS_OP_CONNECT: {
        nats_connect_opts o;
        if (nats_connect_parse(op->json.p, op->json.len, &o) < 0) {
            err_close(c, "Unknown Protocol Operation");
            return -1;
        }
        if (auth_required(srv) && !check_auth(srv, &o)) {
            logf_(srv, NATS_LOG_INFO, "cid %" PRIu64 ": authorization violation", c->cid);
            err_close(c, "Authorization Violation");
            return -1;
        }
        c->got_connect = 1;
        c->verbose = o.verbose;
        c->pedantic = o.pedantic;
        c->echo = o.echo;
        if (c->verbose)
            out_str(c, "+OK\r\n");
        return 0;
    }
    case NATS_OP_PING:
        out_str(c, "PONG\r\n");
        return 0;
    case NATS_OP_PONG:
        c->pings_out = 0;
        return 0;
    case NATS_OP_HPUB:
        /* INFO advertises "headers":false; nats-server answers the same way. */
        err_close(c, "Unknown Protocol Operation");
        return -1;
    case NATS_OP_PUB:
        if (!nats_subject_valid_publish(op->subject.p, op->subject.len) ||
            (op->reply.len && !nats_subject_valid_publish(op->reply.p, op->reply.len))) {
            send_err(c, "Invalid Publish Subject");
            return 0;
        }
        if (c->verbose)
            out_str(c, "+OK\r\n");
        deliver(srv, c, op->subject.p, op->subject.len, op->reply.p, op->reply.len,
                op->payload.p, op->payload.len);
        return c->closing ? -1 : 0;
    case NATS_OP_SUB: {
        if (!nats_subject_valid_subscribe(op->subject.p, op->subject.len) ||
            (op->queue.len && !nats_queue_name_valid(op->queue.p, op->queue.len))) {
            send_err(c, "Invalid Subject");
            return 0;
        }
        if (!find_sid(c, op->sid)) {
            /* A duplicate sid is ignored, as nats-server does. */
            nsub *s = sub_new(op->subject.p, op->subject.len, op->queue.p, op->queue.len);
            if (s) {
                s->sid_str = malloc(op->sid.len + 1);
                if (s->sid_str) {
                    memcpy(s->sid_str, op->sid.p, op->sid.len);
                    s->sid_str[op->sid.len] = '\0';
                    s->sid_len = op->sid.len;
                }
            }
            if (!s || !s->sid_str || nats_sublist_insert(srv->sl, s->subject, s->queue, s) != 0) {
                if (s)
                    sub_free(s);
                err_close(c, "Out of Memory");
                return -1;
            }
            s->c = c;
            s->next = c->subs;
            c->subs = s;
        }
        if (c->verbose)
            out_str(c, "+OK\r\n");
        return 0;
    }
    case NATS_OP_UNSUB: {
        nsub *s = find_sid(c, op->sid);
        if (s) {
            if (op->max_msgs > 0 && (uint64_t)op->max_msgs > s->delivered) {
                s->max = (uint64_t)op->max_msgs;
            } else {
                unlink_sub(&c->subs, s);
                sub_kill(srv, s);
            }
        }
        if (c->verbose)
            out_str(c, "+OK\r\n");
        return 0;
    }
    default:
        err_close(c, "Unknown Protocol Operation");
        return -1;
    }
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    conn *c = h->data;
    (void)suggested;
    /* One shared buffer: each read is fully processed (or copied by the parser) before the
     * next read callback can run. */
    *buf = uv_buf_init(c->srv->readbuf, READ_BUF_SIZE);
}

static void read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    conn *c = stream->data;
    nats_server *srv = c->srv;
    if (nread < 0) {
        if (nread != UV_EOF)
            logf_(srv, NATS_LOG_DEBUG, "cid %" PRIu64 ": read error %s", c->cid,
                  uv_strerror((int)nread));
        conn_close(c);
        return;
    }
    const char *p = buf->base;
    size_t left = (size_t)nread;
    srv->depth++; /* hold frees and flushes until the whole chunk is handled */
    while (left > 0 && !c->closing && !c->close_after_flush) {
        nats_op op;
        size_t used;
        int rc = nats_parser_next(&c->parser, p, left, &used, &op);
        p += used;
        left -= used;
        if (rc == NATS_PARSE_NEED_MORE)
            break;
        if (rc < 0) {
            logf_(srv, NATS_LOG_DEBUG, "cid %" PRIu64 ": parse error: %s", c->cid,
                  nats_parse_strerror(rc));
            err_close(c, nats_parse_client_error(rc));
            break;
        }
        if (handle_op(c, &op) < 0)
            break;
    }
    srv->depth--;
    if (srv->depth == 0) {
        free_dead(srv);
        flush_dirty(srv);
    }
}

static void on_connection(uv_stream_t *server, int status)
{
    nats_server *srv = server->data;
    if (status < 0) {
        logf_(srv, NATS_LOG_ERROR, "accept error: %s", uv_strerror(status));
        return;
    }
    conn *c = calloc(1, sizeof *c);
    if (!c) {
        logf_(srv, NATS_LOG_ERROR, "out of memory accepting a connection");
        return;
    }
    c->srv = srv;
    uv_tcp_init(srv->loop, &c->tcp);
    c->tcp.data = c;
    srv->open_handles++;
    c->cid = srv->next_cid++;
    c->verbose = 1; /* nats-server's defaults before CONNECT */
    c->pedantic = 1;
    c->echo = 1;
    nats_parser_init(&c->parser, srv->max_payload);
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    srv->nconns++;
    c->connected_at = uv_now(srv->loop);
    c->last_ping_sent = c->connected_at;
    strcpy(c->ip, "unknown");
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    struct sockaddr_storage ss;
    int sl = sizeof ss;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET)
            uv_ip4_name((struct sockaddr_in *)&ss, c->ip, sizeof c->ip);
        else if (ss.ss_family == AF_INET6)
            uv_ip6_name((struct sockaddr_in6 *)&ss, c->ip, sizeof c->ip);
    }
    uv_tcp_nodelay(&c->tcp, 1);
    logf_(srv, NATS_LOG_DEBUG, "cid %" PRIu64 ": connection from %s", c->cid, c->ip);
    send_info(c);
    if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) == 0)
        c->reading = 1;
    flush_dirty(srv);
}

static void timer_cb(uv_timer_t *t)
{
    nats_server *srv = t->data;
    uint64_t now = uv_now(srv->loop);
    srv->depth++;
    for (conn *c = srv->conns, *next; c; c = next) {
        next = c->next;
        if (c->closing || c->close_after_flush)
            continue;
        if (auth_required(srv) && !c->got_connect) {
            if (now - c->connected_at >= srv->auth_timeout_ms)
                err_close(c, "Authentication Timeout");
            continue;
        }
        if (srv->ping_interval_ms && now - c->last_ping_sent >= srv->ping_interval_ms) {
            if (c->pings_out >= srv->max_pings_out) {
                err_close(c, "Stale Connection");
                continue;
            }
            c->pings_out++;
            c->last_ping_sent = now;
            out_str(c, "PING\r\n");
        }
    }
    srv->depth--;
    if (srv->depth == 0) {
        free_dead(srv);
        flush_dirty(srv);
    }
}

int nats_server_start(nats_server *srv, int *uv_err)
{
    struct sockaddr_storage addr;
    int rc;
    if (!srv || srv->listener_init || srv->closing)
        return NATS_SERVER_EINVAL;
    if (uv_ip4_addr(srv->host, srv->port, (struct sockaddr_in *)&addr) != 0 &&
        uv_ip6_addr(srv->host, srv->port, (struct sockaddr_in6 *)&addr) != 0) {
        if (uv_err)
            *uv_err = UV_EINVAL;
        return NATS_SERVER_ELISTEN;
    }
    uv_tcp_init(srv->loop, &srv->listener);
    srv->listener.data = srv;
    srv->listener_init = 1;
    srv->open_handles++;
    rc = uv_tcp_bind(&srv->listener, (const struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&srv->listener, 511, on_connection);
    if (rc != 0) {
        if (uv_err)
            *uv_err = rc;
        srv->listening = 0;
        /* The handle is closed by nats_server_close(). */
        return NATS_SERVER_ELISTEN;
    }
    struct sockaddr_storage bound;
    int blen = sizeof bound;
    if (uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&bound, &blen) == 0) {
        if (bound.ss_family == AF_INET)
            srv->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
        else
            srv->port = ntohs(((struct sockaddr_in6 *)&bound)->sin6_port);
    }
    srv->listening = 1;
    uv_timer_start(&srv->timer, timer_cb, HOUSEKEEPING_MS, HOUSEKEEPING_MS);
    uv_unref((uv_handle_t *)&srv->timer); /* the listener keeps the loop alive, not the timer */
    logf_(srv, NATS_LOG_INFO, "listening for client connections on %s:%d", srv->host, srv->port);
    return 0;
}

static void srv_handle_closed(uv_handle_t *h)
{
    handle_closed(h->data);
}

void nats_server_close(nats_server *srv, void (*done)(void *ud), void *ud)
{
    if (!srv || srv->closing)
        return;
    srv->closing = 1;
    srv->done = done;
    srv->done_ud = ud;
    srv->depth++;
    while (srv->local) {
        nsub *s = srv->local;
        srv->local = s->next;
        sub_kill(srv, s);
    }
    while (srv->conns) {
        conn *c = srv->conns;
        conn_close(c);
    }
    srv->dirty = NULL;
    srv->depth--;
    if (srv->depth == 0)
        free_dead(srv);
    /* A sentinel count keeps handle_closed() from freeing before every close is started; the
     * timer always exists, so done runs from a close callback, never from inside this call. */
    srv->open_handles++;
    uv_close((uv_handle_t *)&srv->timer, srv_handle_closed);
    if (srv->listener_init)
        uv_close((uv_handle_t *)&srv->listener, srv_handle_closed);
    srv->listening = 0;
    handle_closed(srv);
}

/* ---- in-process client API --------------------------------------------------------------- */

int nats_server_subscribe(nats_server *srv, const char *subject, const char *queue,
                          nats_server_msg_cb cb, void *ud, uint64_t *sid)
{
    if (!srv || !subject || !cb || !sid)
        return NATS_SERVER_EINVAL;
    if (srv->closing)
        return NATS_SERVER_ECLOSED;
    size_t slen = strlen(subject), qlen = queue ? strlen(queue) : 0;
    if (!nats_subject_valid_subscribe(subject, slen) || (qlen && !nats_queue_name_valid(queue, qlen)))
        return NATS_SERVER_EINVAL;
    nsub *s = sub_new(subject, slen, queue, qlen);
    if (!s)
        return NATS_SERVER_ENOMEM;
    if (nats_sublist_insert(srv->sl, s->subject, s->queue, s) != 0) {
        sub_free(s);
        return NATS_SERVER_ENOMEM;
    }
    s->cb = cb;
    s->ud = ud;
    s->sid = srv->next_sid++;
    s->next = srv->local;
    srv->local = s;
    *sid = s->sid;
    return 0;
}

static nsub *find_local(nats_server *srv, uint64_t sid)
{
    for (nsub *s = srv->local; s; s = s->next)
        if (s->sid == sid)
            return s;
    return NULL;
}

int nats_server_unsubscribe(nats_server *srv, uint64_t sid)
{
    if (!srv)
        return NATS_SERVER_EINVAL;
    nsub *s = find_local(srv, sid);
    if (!s)
        return NATS_SERVER_ENOTFOUND;
    unlink_sub(&srv->local, s);
    sub_kill(srv, s);
    return 0;
}

int nats_server_unsubscribe_after(nats_server *srv, uint64_t sid, uint64_t max)
{
    if (!srv || max == 0)
        return NATS_SERVER_EINVAL;
    nsub *s = find_local(srv, sid);
    if (!s)
        return NATS_SERVER_ENOTFOUND;
    if (s->delivered >= max) {
        unlink_sub(&srv->local, s);
        sub_kill(srv, s);
    } else {
        s->max = max;
    }
    return 0;
}

int nats_server_publish(nats_server *srv, const char *subject, const char *reply,
                        const void *data, size_t len)
{
    if (!srv || !subject || (len && !data))
        return NATS_SERVER_EINVAL;
    if (srv->closing)
        return NATS_SERVER_ECLOSED;
    size_t slen = strlen(subject), rlen = reply ? strlen(reply) : 0;
    if (slen > NATS_MAX_CONTROL_LINE || rlen > NATS_MAX_CONTROL_LINE ||
        !nats_subject_valid_publish(subject, slen) ||
        (rlen && !nats_subject_valid_publish(reply, rlen)))
        return NATS_SERVER_EINVAL;
    if (len > srv->max_payload)
        return NATS_SERVER_EPAYLOAD;
    return deliver(srv, NULL, subject, slen, reply, rlen, data, len);
}

int nats_server_new_inbox(nats_server *srv, char *buf, size_t cap)
{
    (void)srv;
    if (!buf || cap < 30)
        return NATS_SERVER_EINVAL;
    memcpy(buf, "_INBOX.", 7);
    random_chars(buf + 7, 22);
    buf[29] = '\0';
    return 0;
}
