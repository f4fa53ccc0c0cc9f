/* stan_nats.c - libnats messages handed to the loop thread; requests (see stan_nats.h). */
#include "stan_nats.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct handler {
    stan_nats *n;
    stan_nats_handler h;
    void *ud;
    natsSubscription *sub;
    struct handler *next;
} handler;

typedef struct queued {
    natsMsg *m;
    handler *to;
    struct queued *next;
} queued;

typedef struct pending_req {
    uv_timer_t timer;
    stan_nats *n;
    uint64_t id;
    stan_nats_reply_handler h;
    void *ud;
    struct pending_req *next, *prev;
} pending_req;

struct stan_nats {
    uv_loop_t *loop;
    natsConnection *nc;
    atomic_int refuse;
    int closed;                      /* under mu: the queue takes nothing more */
    int nc_closed;                   /* under mu: libnats's closed callback ran */
    uv_cond_t nc_closed_cond;
    uv_async_t wake;
    uv_mutex_t mu;                   /* guards the queue only */
    queued *head, *tail;
    handler *handlers;
    char reply_prefix[40];           /* "_INBOX.<nuid>." */
    uint64_t next_req_id;
    pending_req *reqs;               /* few at a time: one per client at most */
};

/* libnats's delivery thread: queue the message for the loop. */
static void on_nats_msg(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *closure)
{
    handler *h = closure;
    stan_nats *n = h->n;
    (void)nc;
    (void)sub;
    queued *q = atomic_load(&n->refuse) ? NULL : malloc(sizeof *q);
    if (!q) {
        natsMsg_Destroy(m);
        return;
    }
    q->m = m;
    q->to = h;
    q->next = NULL;
    uv_mutex_lock(&n->mu);
    if (n->closed) {
        uv_mutex_unlock(&n->mu);
        natsMsg_Destroy(m);
        free(q);
        return;
    }
    if (n->tail)
        n->tail->next = q;
    else
        n->head = q;
    n->tail = q;
    uv_mutex_unlock(&n->mu);
    uv_async_send(&n->wake);
}

static queued *take_queue(stan_nats *n)
{
    uv_mutex_lock(&n->mu);
    queued *q = n->head;
    n->head = n->tail = NULL;
    uv_mutex_unlock(&n->mu);
    return q;
}

static void on_wake(uv_async_t *a)
{
    stan_nats *n = a->data;
    for (queued *q = take_queue(n), *nx; q; q = nx) {
        nx = q->next;
        if (!atomic_load(&n->refuse))
            q->to->h(q->m, q->to->ud);
        natsMsg_Destroy(q->m);
        free(q);
    }
}

natsConnection *stan_nats_conn(stan_nats *n) { return n->nc; }

void stan_nats_refuse_input(stan_nats *n) { atomic_store(&n->refuse, 1); }

natsStatus stan_nats_subscribe(stan_nats *n, const char *subject, stan_nats_handler h, void *ud)
{
    handler *x = calloc(1, sizeof *x);
    if (!x)
        return NATS_NO_MEMORY;
    x->n = n;
    x->h = h;
    x->ud = ud;
    natsStatus st = natsConnection_Subscribe(&x->sub, n->nc, subject, on_nats_msg, x);
    /* the server must not drop protocol messages for being slow: no pending limit */
    if (st == NATS_OK)
        st = natsSubscription_SetPendingLimits(x->sub, -1, -1);
    if (st != NATS_OK) {
        natsSubscription_Destroy(x->sub);
        free(x);
        return st;
    }
    x->next = n->handlers;
    n->handlers = x;
    return NATS_OK;
}

void stan_nats_nuid(char *buf, size_t cap)
{
    natsInbox *inbox = NULL;
    if (cap < 23)
        return;
    buf[0] = '\0';
    if (natsInbox_Create(&inbox) == NATS_OK) {
        snprintf(buf, cap, "%s", (const char *)inbox + 7);   /* after "_INBOX." */
        natsInbox_Destroy(inbox);
    }
}

/* ---- requests ----------------------------------------------------------------------------- */

static void req_closed(uv_handle_t *h) { free(h->data); }

static void req_finish(stan_nats *n, pending_req *r, natsMsg *reply, int run_handler)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        n->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    uv_timer_stop(&r->timer);
    uv_close((uv_handle_t *)&r->timer, req_closed);
    if (run_handler)
        r->h(reply, r->ud);
}

static void req_timeout(uv_timer_t *t)
{
    pending_req *r = t->data;
    req_finish(r->n, r, NULL, 1);
}

static void on_reply(natsMsg *m, void *ud)
{
    stan_nats *n = ud;
    const char *subj = natsMsg_GetSubject(m);
    size_t plen = strlen(n->reply_prefix);
    if (strncmp(subj, n->reply_prefix, plen))
        return;
    uint64_t id = strtoull(subj + plen, NULL, 10);
    for (pending_req *r = n->reqs; r; r = r->next)
        if (r->id == id) {
            /* nats-server says at once when nobody listens on the subject: no answer */
            req_finish(n, r, natsMsg_IsNoResponders(m) ? NULL : m, 1);
            return;
        }
}

natsStatus stan_nats_request(stan_nats *n, const char *subject, uint64_t timeout_ms, stan_nats_reply_handler h,
                             void *ud, uint64_t *id)
{
    if (!n)
        return NATS_INVALID_ARG;   /* no connection (the fuzz target) */
    pending_req *r = calloc(1, sizeof *r);
    if (!r)
        return NATS_NO_MEMORY;
    r->n = n;
    r->id = n->next_req_id++;
    r->h = h;
    r->ud = ud;
    char reply[64];
    snprintf(reply, sizeof reply, "%s%llu", n->reply_prefix, (unsigned long long)r->id);
    natsStatus st = natsConnection_PublishRequest(n->nc, subject, reply, NULL, 0);
    if (st != NATS_OK) {
        free(r);
        return st;
    }
    uv_timer_init(n->loop, &r->timer);
    r->timer.data = r;
    r->next = n->reqs;
    if (n->reqs)
        n->reqs->prev = r;
    n->reqs = r;
    uv_timer_start(&r->timer, req_timeout, timeout_ms, 0);
    *id = r->id;
    return NATS_OK;
}

void stan_nats_cancel(stan_nats *n, uint64_t id)
{
    for (pending_req *r = n ? n->reqs : NULL; r; r = r->next)
        if (r->id == id) {
            req_finish(n, r, NULL, 0);
            return;
        }
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

natsStatus stan_nats_flush(stan_nats *n, int64_t timeout_ms) { return natsConnection_FlushTimeout(n->nc, timeout_ms); }

static void on_nc_closed(natsConnection *nc, void *ud)
{
    stan_nats *n = ud;
    (void)nc;
    uv_mutex_lock(&n->mu);
    n->nc_closed = 1;
    uv_cond_signal(&n->nc_closed_cond);
    uv_mutex_unlock(&n->mu);
}

natsStatus stan_nats_connect(uv_loop_t *loop, natsOptions *opts, stan_nats **out, char *err, size_t errcap)
{
    stan_nats *n = calloc(1, sizeof *n);
    if (!n) {
        snprintf(err, errcap, "out of memory");
        return NATS_NO_MEMORY;
    }
    n->loop = loop;
    n->next_req_id = 1;
    uv_mutex_init(&n->mu);
    uv_cond_init(&n->nc_closed_cond);
    uv_async_init(loop, &n->wake, on_wake);
    n->wake.data = n;
    natsStatus st = natsOptions_SetClosedCB(opts, on_nc_closed, n);
    if (st == NATS_OK)
        st = natsConnection_Connect(&n->nc, opts);
    char nuid[32], subj[64];
    if (st == NATS_OK) {
        stan_nats_nuid(nuid, sizeof nuid);
        snprintf(n->reply_prefix, sizeof n->reply_prefix, "_INBOX.%s.", nuid);
        snprintf(subj, sizeof subj, "%s*", n->reply_prefix);
        st = stan_nats_subscribe(n, subj, on_reply, n);
    }
    if (st != NATS_OK) {
        const char *why = nats_GetLastError(NULL);
        snprintf(err, errcap, "%s", why && *why ? why : natsStatus_GetText(st));
        stan_nats_close(n);
        return st;
    }
    *out = n;
    return NATS_OK;
}

static void wake_closed(uv_handle_t *h)
{
    stan_nats *n = h->data;
    uv_mutex_destroy(&n->mu);
    uv_cond_destroy(&n->nc_closed_cond);
    free(n);
}

void stan_nats_close(stan_nats *n)
{
    if (!n)
        return;
    stan_nats_refuse_input(n);
    /* Draining passes every message libnats holds to on_nats_msg, which drops it, and then closes
     * the connection; subscriptions destroyed with messages pending would leak them. */
    if (n->nc && natsConnection_DrainTimeout(n->nc, 2000) == NATS_OK) {
        uint64_t deadline = uv_hrtime() + 3000000000ull;
        uv_mutex_lock(&n->mu);
        while (!n->nc_closed && uv_hrtime() < deadline)
            uv_cond_timedwait(&n->nc_closed_cond, &n->mu, 50000000);
        uv_mutex_unlock(&n->mu);
    }
    natsConnection_Close(n->nc);
    /* queued messages are destroyed while libnats is still open; nothing is queued after */
    uv_mutex_lock(&n->mu);
    n->closed = 1;
    queued *left = n->head;
    n->head = n->tail = NULL;
    uv_mutex_unlock(&n->mu);
    for (queued *q = left, *nx; q; q = nx) {
        nx = q->next;
        natsMsg_Destroy(q->m);
        free(q);
    }
    for (handler *h = n->handlers; h; h = h->next)
        natsSubscription_Destroy(h->sub);
    natsConnection_Destroy(n->nc);
    /* once libnats's threads are gone no delivery callback can touch the handlers or the queue */
    nats_CloseAndWait(5000);
    while (n->handlers) {
        handler *h = n->handlers;
        n->handlers = h->next;
        free(h);
    }
    while (n->reqs)
        req_finish(n, n->reqs, NULL, 0);
    uv_close((uv_handle_t *)&n->wake, wake_closed);
}
