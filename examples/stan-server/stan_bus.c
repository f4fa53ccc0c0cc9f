/* stan_bus.c - one NATS API over the embedded server or an external one (see stan_bus.h). */
#include "stan_bus.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct stan_bus_sub {
    stan_bus *bus;
    uint64_t sid;
    stan_bus_cb cb;
    void *ud;
};

typedef struct pending_req {
    uv_timer_t timer;
    stan_bus *bus;
    uint64_t id;
    stan_bus_reply_cb cb;
    void *ud;
    struct pending_req *next, *prev;
} pending_req;

struct stan_bus {
    uv_loop_t *loop;
    nats_server *srv;
    nats_client *cli;
    char reply_prefix[40];   /* "_INBOX.<22>." */
    stan_bus_sub *reply_sub;
    uint64_t next_id;
    pending_req *reqs;       /* doubly linked; few at a time (one per client at most) */
};

static void srv_tramp(nats_server *srv, const nats_server_msg *m, void *ud)
{
    stan_bus_sub *s = ud;
    (void)srv;
    s->cb(m, s->ud);
}

static void cli_tramp(nats_client *c, const nats_server_msg *m, void *ud)
{
    stan_bus_sub *s = ud;
    (void)c;
    s->cb(m, s->ud);
}

int stan_bus_subscribe(stan_bus *bus, const char *subject, stan_bus_cb cb, void *ud,
                       stan_bus_sub **out)
{
    stan_bus_sub *s = calloc(1, sizeof *s);
    if (!s)
        return NATS_SERVER_ENOMEM;
    s->bus = bus;
    s->cb = cb;
    s->ud = ud;
    int rc = bus->srv ? nats_server_subscribe(bus->srv, subject, NULL, srv_tramp, s, &s->sid)
                      : nats_client_subscribe(bus->cli, subject, NULL, cli_tramp, s, &s->sid);
    if (rc) {
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void stan_bus_unsubscribe(stan_bus *bus, stan_bus_sub *s)
{
    if (!s)
        return;
    if (bus->srv)
        nats_server_unsubscribe(bus->srv, s->sid);
    else
        nats_client_unsubscribe(bus->cli, s->sid);
    free(s);
}

int stan_bus_publish(stan_bus *bus, const char *subject, const char *reply, const void *data,
                     size_t len)
{
    return bus->srv ? nats_server_publish(bus->srv, subject, reply, data, len)
                    : nats_client_publish(bus->cli, subject, reply, data, len);
}

static void random_chars(char *p, size_t n)
{
    static const char al[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    static uint64_t state;
    if (!state) {
        uv_random(NULL, NULL, &state, sizeof state, 0, NULL);
        state |= 1;
    }
    for (size_t i = 0; i < n; i++) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        p[i] = al[state % 62];
    }
}

void stan_bus_new_inbox(stan_bus *bus, char *buf, size_t cap)
{
    (void)bus;
    if (cap < 30)
        return;
    memcpy(buf, "_INBOX.", 7);
    random_chars(buf + 7, 22);
    buf[29] = '\0';
}

static void req_unlink(stan_bus *bus, pending_req *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        bus->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->next = r->prev = NULL;
}

static void req_closed(uv_handle_t *h) { free(h->data); }

static void req_finish(stan_bus *bus, pending_req *r, const nats_server_msg *m, int run_cb)
{
    req_unlink(bus, r);
    uv_timer_stop(&r->timer);
    uv_close((uv_handle_t *)&r->timer, req_closed);
    if (run_cb)
        r->cb(m, r->ud);
}

static void req_timeout(uv_timer_t *t)
{
    pending_req *r = t->data;
    req_finish(r->bus, r, NULL, 1);
}

static void on_reply(const nats_server_msg *m, void *ud)
{
    stan_bus *bus = ud;
    size_t plen = strlen(bus->reply_prefix);
    if (strncmp(m->subject, bus->reply_prefix, plen))
        return;
    uint64_t id = strtoull(m->subject + plen, NULL, 10);
    for (pending_req *r = bus->reqs; r; r = r->next)
        if (r->id == id) {
            req_finish(bus, r, m, 1);
            return;
        }
}

int stan_bus_new(uv_loop_t *loop, nats_server *srv, nats_client *cli, stan_bus **out)
{
    stan_bus *bus = calloc(1, sizeof *bus);
    if (!bus)
        return NATS_SERVER_ENOMEM;
    bus->loop = loop;
    bus->srv = srv;
    bus->cli = cli;
    bus->next_id = 1;
    char inbox[32], subj[48];
    stan_bus_new_inbox(bus, inbox, sizeof inbox);
    snprintf(bus->reply_prefix, sizeof bus->reply_prefix, "%s.", inbox);
    snprintf(subj, sizeof subj, "%s.*", inbox);
    int rc = stan_bus_subscribe(bus, subj, on_reply, bus, &bus->reply_sub);
    if (rc) {
        free(bus);
        return rc;
    }
    *out = bus;
    return 0;
}

void stan_bus_free(stan_bus *bus)
{
    if (!bus)
        return;
    while (bus->reqs)
        req_finish(bus, bus->reqs, NULL, 0);
    stan_bus_unsubscribe(bus, bus->reply_sub);
    free(bus);
}

int stan_bus_request(stan_bus *bus, const char *subject, const void *data, size_t len,
                     uint64_t timeout_ms, stan_bus_reply_cb cb, void *ud, uint64_t *id)
{
    pending_req *r = calloc(1, sizeof *r);
    if (!r)
        return NATS_SERVER_ENOMEM;
    r->bus = bus;
    r->id = bus->next_id++;
    r->cb = cb;
    r->ud = ud;
    char reply[64];
    snprintf(reply, sizeof reply, "%s%llu", bus->reply_prefix, (unsigned long long)r->id);
    uv_timer_init(bus->loop, &r->timer);
    r->timer.data = r;
    r->next = bus->reqs;
    if (bus->reqs)
        bus->reqs->prev = r;
    bus->reqs = r;
    uv_timer_start(&r->timer, req_timeout, timeout_ms, 0);
    if (id)
        *id = r->id;
    int rc = stan_bus_publish(bus, subject, reply, data, len);
    if (rc) {
        /* the request may already have been answered synchronously: look before finishing */
        for (pending_req *p = bus->reqs; p; p = p->next)
            if (p == r) {
                req_finish(bus, r, NULL, 0);
                break;
            }
        return rc;
    }
    return 0;
}

void stan_bus_cancel(stan_bus *bus, uint64_t id)
{
    for (pending_req *r = bus->reqs; r; r = r->next)
        if (r->id == id) {
            req_finish(bus, r, NULL, 0);
            return;
        }
}
