/* nats_client.c - a small NATS client on libuv (see nats_client.h). */
#include "nats_client.h"
#include "nats_parser.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netdb.h>

typedef struct csub {
    nats_client_msg_cb cb;  /* NULL when the slot is free */
    void *ud;
    char *subject, *queue;  /* kept for re-subscribing after a reconnect */
} csub;

typedef struct flushreq {
    void (*cb)(void *ud);
    void *ud;
    struct flushreq *next;
} flushreq;

typedef struct wreq {
    uv_write_t req;
    char *data;
} wreq;

struct nats_client {
    uv_loop_t *loop;
    uv_tcp_t tcp;
    uv_connect_t conn_req;
    uv_timer_t retry_timer;
    nats_client_config cfg;
    char *user, *pass, *token, *name, *host;
    int port;
    struct sockaddr_storage addr;   /* resolved once; reconnects go to the same address */
    /* ready: CONNECT answered on the current connection; dead: no usable connection;
     * ever_ready: ready() reported success once, so later losses reconnect (with cfg.reconnect);
     * connect_sent: CONNECT is in the output, so SUB/PUB lines may follow it. */
    int ready, dead, closing, ever_ready, connect_sent;
    int tcp_open, timer_open, wait_ms;
    size_t max_payload;
    /* input */
    char *rbuf;
    size_t rlen, rcap;
    /* output: appended here, written when no write is in flight */
    char *wbuf;
    size_t wlen, wcap;
    int writing;
    /* subscriptions, indexed by sid (1-based); free slots are reused */
    csub *subs;
    size_t nsubs;
    void (*done)(void *);
    void *done_ud;
    flushreq *flush_head, *flush_tail;   /* PINGs sent by nats_client_flush(), in order */
};

static void drop_flushes(nats_client *c)
{
    while (c->flush_head) {
        flushreq *f = c->flush_head;
        c->flush_head = f->next;
        free(f);
    }
    c->flush_tail = NULL;
}

static void csub_clear(csub *s)
{
    s->cb = NULL;
    free(s->subject);
    free(s->queue);
    s->subject = s->queue = NULL;
}

static char *dupstr(const char *s) { return s ? strdup(s) : NULL; }

static int out_append(nats_client *c, const void *p, size_t n)
{
    if (c->wlen + n > c->wcap) {
        size_t cap = c->wcap ? c->wcap : 65536;
        while (cap < c->wlen + n)
            cap *= 2;
        char *b = realloc(c->wbuf, cap);
        if (!b)
            return NATS_SERVER_ENOMEM;
        c->wbuf = b;
        c->wcap = cap;
    }
    memcpy(c->wbuf + c->wlen, p, n);
    c->wlen += n;
    return 0;
}

static void flush_out(nats_client *c);

static int out_str(nats_client *c, const char *s) { return out_append(c, s, strlen(s)); }

static void on_written(uv_write_t *req, int status)
{
    wreq *w = (wreq *)req;
    nats_client *c = req->data;
    free(w->data);
    free(w);
    c->writing = 0;
    if (status < 0 || c->dead)
        return;
    flush_out(c);
}

static void fail(nats_client *c, const char *why);

/* Writes everything buffered; at most one write in flight, so output stays ordered. */
static void flush_out(nats_client *c)
{
    if (c->writing || c->wlen == 0 || c->dead)
        return;
    wreq *w = malloc(sizeof *w);
    if (!w) {
        fail(c, "out of memory");
        return;
    }
    w->data = c->wbuf;
    uv_buf_t b = uv_buf_init(c->wbuf, (unsigned)c->wlen);
    c->wbuf = NULL;
    c->wlen = c->wcap = 0;
    w->req.data = c;
    c->writing = 1;
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written);
    if (rc < 0) {
        c->writing = 0;
        free(w->data);
        free(w);
        fail(c, uv_strerror(rc));
    }
}

static void start_connect(nats_client *c);

static void free_client(nats_client *c)
{
    if (c->done)
        c->done(c->done_ud);
    free(c->rbuf);
    free(c->wbuf);
    for (size_t i = 0; i < c->nsubs; i++)
        csub_clear(&c->subs[i]);
    drop_flushes(c);
    free(c->subs);
    free(c->user);
    free(c->pass);
    free(c->token);
    free(c->name);
    free(c->host);
    free(c);
}

static void maybe_free(nats_client *c)
{
    if (c->closing && !c->tcp_open && !c->timer_open)
        free_client(c);
}

static void on_timer_closed(uv_handle_t *h)
{
    nats_client *c = h->data;
    c->timer_open = 0;
    maybe_free(c);
}

static void on_retry(uv_timer_t *t)
{
    nats_client *c = t->data;
    if (!c->closing)
        start_connect(c);
}

/* The socket of a lost connection is closed: wait, then connect again (or free when closing). */
static void on_tcp_closed(uv_handle_t *h)
{
    nats_client *c = h->data;
    c->tcp_open = 0;
    if (c->closing) {
        maybe_free(c);
        return;
    }
    c->rlen = 0;
    c->wlen = 0;
    uv_timer_start(&c->retry_timer, on_retry, (uint64_t)c->wait_ms, 0);
    c->wait_ms *= 2;
    if (c->wait_ms > c->cfg.reconnect_max_wait_ms)
        c->wait_ms = c->cfg.reconnect_max_wait_ms;
}

/* The connection is unusable. Before the first successful CONNECT, or without cfg.reconnect,
 * report it (ready() with an error, or lost()) and stay dead; else report the loss once and
 * reconnect. */
static void fail(nats_client *c, const char *why)
{
    if (c->dead)
        return;
    int was_ready = c->ready;
    c->dead = 1;
    c->ready = 0;
    c->connect_sent = 0;
    drop_flushes(c);
    uv_read_stop((uv_stream_t *)&c->tcp);
    if (c->closing)
        return;
    if (!c->ever_ready) {
        if (c->cfg.ready)
            c->cfg.ready(c, -1, why, c->cfg.ud);
        return;
    }
    if (was_ready && c->cfg.lost)
        c->cfg.lost(c, why, c->cfg.ud);
    if (c->cfg.reconnect && !c->closing && c->tcp_open && !uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_tcp_closed);
}

/* Appends s as a JSON string literal. */
static int json_str(nats_client *c, const char *s)
{
    int rc = out_append(c, "\"", 1);
    for (; !rc && *s; s++) {
        char e[8];
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            e[0] = '\\';
            e[1] = (char)ch;
            rc = out_append(c, e, 2);
        } else if (ch < 0x20) {
            snprintf(e, sizeof e, "\\u%04x", ch);
            rc = out_append(c, e, 6);
        } else {
            rc = out_append(c, s, 1);
        }
    }
    return rc ? rc : out_append(c, "\"", 1);
}

static void send_connect(nats_client *c)
{
    out_str(c, "CONNECT {\"verbose\":false,\"pedantic\":false,\"lang\":\"c\",\"version\":\"0.1.0\","
               "\"protocol\":1,\"echo\":true,\"headers\":false,\"name\":");
    json_str(c, c->name ? c->name : "stan-server");
    if (c->user) {
        out_str(c, ",\"user\":");
        json_str(c, c->user);
        out_str(c, ",\"pass\":");
        json_str(c, c->pass ? c->pass : "");
    }
    if (c->token) {
        out_str(c, ",\"auth_token\":");
        json_str(c, c->token);
    }
    out_str(c, "}\r\n");
    /* after a reconnect, the live subscriptions again, under their sids */
    for (size_t i = 0; i < c->nsubs; i++)
        if (c->subs[i].cb) {
            char line[600];
            int n = c->subs[i].queue
                        ? snprintf(line, sizeof line, "SUB %s %s %zu\r\n", c->subs[i].subject, c->subs[i].queue, i + 1)
                        : snprintf(line, sizeof line, "SUB %s %zu\r\n", c->subs[i].subject, i + 1);
            if (n > 0 && (size_t)n < sizeof line)
                out_append(c, line, (size_t)n);
        }
    out_str(c, "PING\r\n");
    c->connect_sent = 1;
    flush_out(c);
}

/* Splits a control line into at most 5 space-separated arguments (in place). */
static int split_args(char *line, char **argv, int max)
{
    int n = 0;
    char *p = line;
    while (*p) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        if (n == max)
            return -1;
        argv[n++] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        if (*p)
            *p++ = '\0';
    }
    return n;
}

static int parse_size(const char *s, size_t *out)
{
    size_t v = 0;
    if (!*s)
        return -1;
    for (; *s; s++) {
        if (!isdigit((unsigned char)*s) || v > (SIZE_MAX - 9) / 10)
            return -1;
        v = v * 10 + (size_t)(*s - '0');
    }
    *out = v;
    return 0;
}

/* Handles complete operations in rbuf; returns bytes consumed, or -1 after fail(). */
static long process(nats_client *c)
{
    size_t off = 0;
    while (!c->dead) {
        char *start = c->rbuf + off;
        size_t avail = c->rlen - off;
        char *nl = memchr(start, '\n', avail);
        if (!nl) {
            if (avail > 64 * 1024) {
                fail(c, "control line too long");
                return -1;
            }
            break;
        }
        size_t line_len = (size_t)(nl - start);
        size_t line_total = line_len + 1;
        if (line_len && start[line_len - 1] == '\r')
            line_len--;
        if (line_len >= 3 && !strncasecmp(start, "MSG", 3) && (start[3] == ' ' || start[3] == '\t')) {
            char line[4200];
            if (line_len >= sizeof line) {
                fail(c, "MSG line too long");
                return -1;
            }
            memcpy(line, start + 4, line_len - 4);
            line[line_len - 4] = '\0';
            char *argv[5];
            int n = split_args(line, argv, 4);
            size_t plen;
            if ((n != 3 && n != 4) || parse_size(argv[n - 1], &plen) < 0) {
                fail(c, "malformed MSG");
                return -1;
            }
            if (avail < line_total + plen + 2)
                break; /* payload not complete yet */
            size_t sid;
            if (parse_size(argv[1], &sid) < 0) {
                fail(c, "malformed MSG sid");
                return -1;
            }
            const char *payload = start + line_total;
            off += line_total + plen + 2;
            if (sid >= 1 && sid <= c->nsubs && c->subs[sid - 1].cb) {
                nats_server_msg m = {.sid = sid, .subject = argv[0], .reply = n == 4 ? argv[2] : NULL,
                                     .data = payload, .len = plen};
                c->subs[sid - 1].cb(c, &m, c->subs[sid - 1].ud);
            }
            continue;
        }
        off += line_total;
        if (line_len >= 4 && !strncasecmp(start, "PING", 4)) {
            out_append(c, "PONG\r\n", 6);
        } else if (line_len >= 4 && !strncasecmp(start, "PONG", 4)) {
            if (!c->ready) {
                c->ready = 1;
                c->wait_ms = c->cfg.reconnect_wait_ms;
                if (!c->ever_ready) {
                    c->ever_ready = 1;
                    if (c->cfg.ready)
                        c->cfg.ready(c, 0, NULL, c->cfg.ud);
                } else if (c->cfg.reconnected) {
                    c->cfg.reconnected(c, c->cfg.ud);
                }
            } else if (c->flush_head) {
                flushreq *f = c->flush_head;
                c->flush_head = f->next;
                if (!c->flush_head)
                    c->flush_tail = NULL;
                f->cb(f->ud);
                free(f);
            }
        } else if (line_len >= 4 && !strncasecmp(start, "INFO", 4)) {
            const char *mp = memmem(start, line_len, "\"max_payload\":", 14);
            if (mp) {
                size_t v = (size_t)strtoull(mp + 14, NULL, 10);
                if (v > 0)
                    c->max_payload = v;
            }
            if (!c->connect_sent)
                send_connect(c);
        } else if (line_len >= 3 && !strncasecmp(start, "+OK", 3)) {
            /* verbose is off; tolerate it anyway */
        } else if (line_len >= 4 && !strncasecmp(start, "-ERR", 4)) {
            char why[512];
            snprintf(why, sizeof why, "server error: %.*s", (int)line_len, start);
            fail(c, why);
            return -1;
        } else {
            fail(c, "unexpected protocol line from server");
            return -1;
        }
    }
    return (long)off;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    nats_client *c = h->data;
    (void)suggested;
    if (c->rcap - c->rlen < 65536) {
        size_t cap = c->rcap ? c->rcap * 2 : 131072;
        char *b = realloc(c->rbuf, cap);
        if (!b) {
            buf->base = NULL;
            buf->len = 0;
            return;
        }
        c->rbuf = b;
        c->rcap = cap;
    }
    buf->base = c->rbuf + c->rlen;
    buf->len = c->rcap - c->rlen;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    nats_client *c = s->data;
    (void)buf;
    if (n < 0) {
        fail(c, n == UV_EOF ? "connection closed by the server" : uv_strerror((int)n));
        return;
    }
    c->rlen += (size_t)n;
    long used = process(c);
    if (used < 0)
        return;
    memmove(c->rbuf, c->rbuf + used, c->rlen - (size_t)used);
    c->rlen -= (size_t)used;
    /* shrink after a large message so an idle client does not keep a big buffer */
    if (c->rlen == 0 && c->rcap > (1u << 22)) {
        free(c->rbuf);
        c->rbuf = NULL;
        c->rcap = 0;
    }
    flush_out(c);
}

static void on_connected(uv_connect_t *req, int status)
{
    nats_client *c = req->data;
    if (c->closing)
        return;
    if (status < 0) {
        if (c->ever_ready) {
            /* a reconnect attempt failed: try again later */
            if (!uv_is_closing((uv_handle_t *)&c->tcp))
                uv_close((uv_handle_t *)&c->tcp, on_tcp_closed);
            return;
        }
        if (c->cfg.ready)
            c->cfg.ready(c, status, uv_strerror(status), c->cfg.ud);
        return;
    }
    c->dead = 0;
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void start_connect(nats_client *c)
{
    uv_tcp_init(c->loop, &c->tcp);
    c->tcp.data = c;
    c->tcp_open = 1;
    c->conn_req.data = c;
    int rc = uv_tcp_connect(&c->conn_req, &c->tcp, (const struct sockaddr *)&c->addr, on_connected);
    if (rc < 0)
        uv_close((uv_handle_t *)&c->tcp, on_tcp_closed);
}

/* Parses nats://[user:pass@]host:port into c. */
static int parse_url(nats_client *c, const char *url)
{
    const char *p = url;
    if (!strncmp(p, "nats://", 7))
        p += 7;
    else if (strstr(p, "://"))
        return -1;
    const char *at = strrchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (colon) {
            c->user = strndup(p, (size_t)(colon - p));
            c->pass = strndup(colon + 1, (size_t)(at - colon - 1));
        } else {
            c->token = strndup(p, (size_t)(at - p));
        }
        p = at + 1;
    }
    const char *colon = strrchr(p, ':');
    c->port = 4222;
    if (colon) {
        size_t port;
        if (parse_size(colon + 1, &port) < 0 || port == 0 || port > 65535)
            return -1;
        c->port = (int)port;
        c->host = strndup(p, (size_t)(colon - p));
    } else {
        c->host = strdup(p);
    }
    return c->host && *c->host ? 0 : -1;
}

int nats_client_connect(uv_loop_t *loop, const nats_client_config *cfg, nats_client **out)
{
    nats_client *c = calloc(1, sizeof *c);
    if (!c)
        return NATS_SERVER_ENOMEM;
    c->loop = loop;
    c->cfg = *cfg;
    c->max_payload = NATS_DEFAULT_MAX_PAYLOAD;
    if (!cfg->url || parse_url(c, cfg->url) < 0) {
        free(c->user);
        free(c->pass);
        free(c->token);
        free(c->host);
        free(c);
        return -1;
    }
    if (cfg->user) {
        free(c->user);
        free(c->pass);
        c->user = dupstr(cfg->user);
        c->pass = dupstr(cfg->pass);
    }
    if (cfg->token) {
        free(c->token);
        c->token = dupstr(cfg->token);
    }
    c->name = dupstr(cfg->name);
    c->cfg.url = NULL;

    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    char port[16];
    snprintf(port, sizeof port, "%d", c->port);
    const char *host = c->host;
    if (!strcmp(host, "localhost"))
        host = "127.0.0.1";
    int rc = getaddrinfo(host, port, &hints, &ai);
    if (rc != 0 || !ai) {
        free(c->user);
        free(c->pass);
        free(c->token);
        free(c->host);
        free(c->name);
        free(c);
        return UV_EAI_NONAME;
    }
    memcpy(&c->addr, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    if (c->cfg.reconnect_wait_ms <= 0)
        c->cfg.reconnect_wait_ms = 100;
    if (c->cfg.reconnect_max_wait_ms < c->cfg.reconnect_wait_ms)
        c->cfg.reconnect_max_wait_ms = c->cfg.reconnect_wait_ms > 2000 ? c->cfg.reconnect_wait_ms : 2000;
    c->wait_ms = c->cfg.reconnect_wait_ms;
    c->dead = 1;   /* until the TCP connection is up */
    uv_timer_init(loop, &c->retry_timer);
    c->retry_timer.data = c;
    c->timer_open = 1;
    uv_tcp_init(loop, &c->tcp);
    c->tcp.data = c;
    c->tcp_open = 1;
    c->conn_req.data = c;
    rc = uv_tcp_connect(&c->conn_req, &c->tcp, (const struct sockaddr *)&c->addr, on_connected);
    if (rc < 0) {
        c->closing = 1;
        uv_close((uv_handle_t *)&c->retry_timer, on_timer_closed);
        uv_close((uv_handle_t *)&c->tcp, on_tcp_closed);
        return rc;
    }
    *out = c;
    return 0;
}

int nats_client_subscribe(nats_client *c, const char *subject, const char *queue,
                          nats_client_msg_cb cb, void *ud, uint64_t *sid)
{
    if (!c || !subject || !*subject || !cb || !sid)
        return NATS_SERVER_EINVAL;
    if (c->closing || (c->dead && !(c->ever_ready && c->cfg.reconnect)))
        return NATS_SERVER_ECLOSED;
    size_t i;
    for (i = 0; i < c->nsubs && c->subs[i].cb; i++)
        ;
    if (i == c->nsubs) {
        csub *s = realloc(c->subs, (c->nsubs + 1) * sizeof *s);
        if (!s)
            return NATS_SERVER_ENOMEM;
        c->subs = s;
        memset(&c->subs[c->nsubs], 0, sizeof *s);
        c->nsubs++;
    }
    char line[600];
    int n = queue && *queue ? snprintf(line, sizeof line, "SUB %s %s %zu\r\n", subject, queue, i + 1)
                            : snprintf(line, sizeof line, "SUB %s %zu\r\n", subject, i + 1);
    if (n < 0 || (size_t)n >= sizeof line)
        return NATS_SERVER_EINVAL;
    c->subs[i].subject = strdup(subject);
    c->subs[i].queue = queue && *queue ? strdup(queue) : NULL;
    if (!c->subs[i].subject || (queue && *queue && !c->subs[i].queue)) {
        csub_clear(&c->subs[i]);
        return NATS_SERVER_ENOMEM;
    }
    /* when disconnected, the SUB goes out with the reconnect's CONNECT */
    if (c->connect_sent && out_append(c, line, (size_t)n)) {
        csub_clear(&c->subs[i]);
        return NATS_SERVER_ENOMEM;
    }
    c->subs[i].cb = cb;
    c->subs[i].ud = ud;
    flush_out(c);
    *sid = i + 1;
    return 0;
}

int nats_client_unsubscribe(nats_client *c, uint64_t sid)
{
    if (!c || sid == 0 || sid > c->nsubs || !c->subs[sid - 1].cb)
        return NATS_SERVER_ENOTFOUND;
    csub_clear(&c->subs[sid - 1]);
    if (!c->connect_sent)
        return 0;
    char line[64];
    int n = snprintf(line, sizeof line, "UNSUB %llu\r\n", (unsigned long long)sid);
    out_append(c, line, (size_t)n);
    flush_out(c);
    return 0;
}

int nats_client_publish(nats_client *c, const char *subject, const char *reply, const void *data,
                        size_t len)
{
    if (!c || !subject || !*subject)
        return NATS_SERVER_EINVAL;
    if (c->dead || !c->connect_sent)
        return NATS_SERVER_ECLOSED;
    if (len > c->max_payload)
        return NATS_SERVER_EPAYLOAD;
    char line[600];
    int n = reply && *reply ? snprintf(line, sizeof line, "PUB %s %s %zu\r\n", subject, reply, len)
                            : snprintf(line, sizeof line, "PUB %s %zu\r\n", subject, len);
    if (n < 0 || (size_t)n >= sizeof line)
        return NATS_SERVER_EINVAL;
    if (out_append(c, line, (size_t)n) || (len && out_append(c, data, len)) || out_append(c, "\r\n", 2))
        return NATS_SERVER_ENOMEM;
    flush_out(c);
    return 0;
}

int nats_client_flush(nats_client *c, void (*cb)(void *ud), void *ud)
{
    if (!c || !cb)
        return NATS_SERVER_EINVAL;
    if (c->dead || !c->ready)
        return NATS_SERVER_ECLOSED;
    flushreq *f = calloc(1, sizeof *f);
    if (!f || out_append(c, "PING\r\n", 6)) {
        free(f);
        return NATS_SERVER_ENOMEM;
    }
    f->cb = cb;
    f->ud = ud;
    if (c->flush_tail)
        c->flush_tail->next = f;
    else
        c->flush_head = f;
    c->flush_tail = f;
    flush_out(c);
    return 0;
}

size_t nats_client_max_payload(const nats_client *c) { return c->max_payload; }

void nats_client_close(nats_client *c, void (*done)(void *ud), void *ud)
{
    if (!c)
        return;
    c->closing = 1;
    c->done = done;
    c->done_ud = ud;
    c->dead = 1;
    uv_timer_stop(&c->retry_timer);
    if (c->timer_open && !uv_is_closing((uv_handle_t *)&c->retry_timer))
        uv_close((uv_handle_t *)&c->retry_timer, on_timer_closed);
    /* pending writes complete (or are cancelled) before the close callback */
    if (c->tcp_open && !uv_is_closing((uv_handle_t *)&c->tcp)) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        uv_close((uv_handle_t *)&c->tcp, on_tcp_closed);
    }
    maybe_free(c);
}
