/* stan_server.c - the NATS Streaming protocol, translated to libstreamlog (see stan_server.h). */
#include "stan_internal.h"
#include "stan.pb-c.h"

#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Error strings clients and their users match on (nats-streaming-server's). */
#define ERR_INVALID_SUBJECT "stan: invalid subject"
#define ERR_INVALID_START "stan: invalid start position"
#define ERR_INVALID_SUB "stan: invalid subscription"
#define ERR_INVALID_CLIENT "stan: clientID already registered"
#define ERR_MISSING_CLIENT "stan: clientID missing"
#define ERR_INVALID_CLIENT_ID "stan: invalid clientID: only alphanumeric and `-` or `_` characters allowed"
#define ERR_INVALID_ACK_WAIT "stan: invalid ack wait time, should be >= 1s"
#define ERR_INVALID_MAX_INFLIGHT "stan: invalid MaxInflight, should be >= 1"
#define ERR_INVALID_CONN_REQ "stan: invalid connection request"
#define ERR_INVALID_PUB_REQ "stan: invalid publish request"
#define ERR_INVALID_SUB_REQ "stan: invalid subscription request"
#define ERR_INVALID_UNSUB_REQ "stan: invalid unsubscribe request"
#define ERR_INVALID_CLOSE_REQ "stan: invalid close request"
#define ERR_DUP_DURABLE "stan: duplicate durable registration"
#define ERR_INVALID_DUR_NAME "stan: durable name of a durable queue subscriber can't contain the character ':'"
#define ERR_UNKNOWN_CLIENT "stan: unknown clientID"
#define ERR_TOO_MANY_CHANNELS "too many channels"
#define ERR_TOO_MANY_SUBS "too many subscriptions per channel"
#define ERR_CLIENT_REPLACED "client has been replaced or is no longer registered"

#define DUP_CHECK_TIMEOUT_MS 500
/* Separator between client ID and durable name in the library's durable name: client IDs are
 * [a-zA-Z0-9_-]+, so the first '|' ends the client ID and the key is unambiguous. */
#define DURABLE_SEP '|'

typedef struct pubreq {
    stan_pub p;            /* first: the appender hands back stan_pub pointers */
    Pb__PubMsg *pm;
    char reply[];
} pubreq;

typedef struct dupcheck {
    stan_server *s;
    Pb__ConnectRequest *req;
    uint64_t req_id;
    struct dupcheck *next, *prev;
    char reply[];
} dupcheck;

static dupcheck *dupchecks;   /* one server per process */

/* natsMsg accessors, shortened */
#define MSG_DATA(m) ((const uint8_t *)natsMsg_GetData(m))
#define MSG_LEN(m) ((size_t)natsMsg_GetDataLength(m))
#define MSG_REPLY(m) natsMsg_GetReply(m)

int64_t stan_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void slog(stan_server *s, int level, const char *fmt, ...)
{
    if (!s->cfg.log || level > s->cfg.log_level)
        return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    s->cfg.log(level, buf, s->cfg.log_ud);
}

void stan_config_init(stan_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->cluster_id = "test-cluster";
    cfg->sync = STREAMLOG_SYNC_ALWAYS;
    cfg->max_channels = 100;
    cfg->max_subs = 1000;
    cfg->max_msgs = 1000000;
    cfg->max_bytes = 1000LL * 1024 * 1024;
    cfg->hb_interval_ms = 30000;
    cfg->hb_timeout_ms = 10000;
    cfg->hb_fail_count = 10;
    cfg->appender_threads = 4;
    cfg->log_level = STAN_LOG_INFO;
}

/* ---- replies ------------------------------------------------------------------------------ */

/* Packs a protobuf message into the server's scratch buffer and publishes it. */
static void publish_pb(stan_server *s, const char *subject, const ProtobufCMessage *msg)
{
    if (!subject || !*subject)
        return;
    size_t n = protobuf_c_message_get_packed_size(msg);
    if (n > s->pack_cap) {
        size_t cap = s->pack_cap ? s->pack_cap : 4096;
        while (cap < n)
            cap *= 2;
        uint8_t *b = realloc(s->pack_buf, cap);
        if (!b)
            return;
        s->pack_buf = b;
        s->pack_cap = cap;
    }
    protobuf_c_message_pack(msg, s->pack_buf);
    natsStatus st = natsConnection_Publish(s->nc, subject, s->pack_buf, (int)n);
    if (st != NATS_OK)
        slog(s, STAN_LOG_DEBUG, "publish to %s failed: %s", subject, natsStatus_GetText(st));
}

/* Any thread (the appender threads send PubAcks): packs into its own buffer. */
static void reply_pub_ack(stan_server *s, const char *reply, const char *guid, const char *err)
{
    Pb__PubAck a = PB__PUB_ACK__INIT;
    if (!reply || !*reply)
        return;
    a.guid = (char *)(guid ? guid : "");
    if (err)
        a.error = (char *)err;
    uint8_t small[512], *buf = small;
    size_t n = protobuf_c_message_get_packed_size(&a.base);
    if (n > sizeof small && !(buf = malloc(n)))
        return;
    protobuf_c_message_pack(&a.base, buf);
    natsConnection_Publish(s->nc, reply, buf, (int)n);
    if (buf != small)
        free(buf);
}

static void reply_sub(stan_server *s, const char *reply, const char *ack_inbox, const char *err)
{
    Pb__SubscriptionResponse r = PB__SUBSCRIPTION_RESPONSE__INIT;
    if (ack_inbox)
        r.ackinbox = (char *)ack_inbox;
    if (err)
        r.error = (char *)err;
    publish_pb(s, reply, &r.base);
}

static void reply_connect_err(stan_server *s, const char *reply, const char *err)
{
    Pb__ConnectResponse r = PB__CONNECT_RESPONSE__INIT;
    r.error = (char *)err;
    publish_pb(s, reply, &r.base);
}

/* ---- channels ----------------------------------------------------------------------------- */

/* Finds or creates a channel; on failure returns NULL and the library code in *rc. */
static stan_channel *chan_get(stan_server *s, const char *name, int *rc)
{
    size_t n = strlen(name);
    stan_channel *c = stan_map_get(&s->channels, name, n);
    if (c)
        return c;
    c = calloc(1, sizeof *c);
    if (!c || !(c->name = strdup(name))) {
        free(c);
        *rc = STREAMLOG_ENOMEM;
        return NULL;
    }
    *rc = streamlog_channel_open(s->store, name, STREAMLOG_CREATE, NULL, &c->ch);
    if (*rc) {
        slog(s, STAN_LOG_DEBUG, "channel '%s': %s", name, streamlog_errmsg());
        free(c->name);
        free(c);
        return NULL;
    }
    c->q.ch = c->ch;
    if (stan_map_put(&s->channels, name, n, c)) {
        streamlog_channel_close(c->ch);
        free(c->name);
        free(c);
        *rc = STREAMLOG_ENOMEM;
        return NULL;
    }
    if (s->chan_tail)
        s->chan_tail->next = c;
    else
        s->chan_head = c;
    s->chan_tail = c;
    slog(s, STAN_LOG_DEBUG, "channel '%s' opened", name);
    return c;
}

/* ---- subscriptions ------------------------------------------------------------------------ */

static void sub_freed(uv_handle_t *h)
{
    stan_sub *sub = h->data;
    free(sub->held);
    free(sub->inbox);
    free(sub->ack_inbox);
    free(sub->durable);
    free(sub->queue);
    free(sub);
}

static void sub_destroy(stan_sub *sub, int unsub)
{
    stan_server *s = sub->srv;
    /* uv_close takes the fd out of epoll at once, so the library may close it right after */
    uv_close((uv_handle_t *)&sub->poll, sub_freed);
    int rc = unsub ? streamlog_sub_unsubscribe(sub->sl) : streamlog_sub_close(sub->sl);
    if (rc)
        slog(s, STAN_LOG_ERROR, "closing subscription on '%s': %s", sub->chan->name, streamlog_strerror(rc));
    sub->sl = NULL;
}

/* ---- offline durables (monitoring) -------------------------------------------------------- */

static void offline_free(stan_offline *o)
{
    free(o->client_id);
    free(o->durable);
    free(o->queue);
    free(o->inbox);
    free(o->ack_inbox);
    free(o);
}

/* Forgets the offline record of a durable (client ID and name; a durable queue group by queue
 * and name, whatever its last member's client). */
static void offline_forget(stan_channel *ch, const char *client_id, const char *durable, const char *queue)
{
    for (stan_offline **pp = &ch->offline; *pp; pp = &(*pp)->next) {
        stan_offline *o = *pp;
        if (strcmp(o->durable, durable) || !!o->queue != !!queue)
            continue;
        if (queue ? strcmp(o->queue, queue) : strcmp(o->client_id, client_id))
            continue;
        *pp = o->next;
        offline_free(o);
        return;
    }
}

/* Called as a durable subscription closes (not unsubscribes): remembers it as offline, unless it
 * is a queue member whose group still has members here. */
static void offline_note(stan_sub *sub)
{
    stan_channel *ch = sub->chan;
    if (sub->queue)
        for (stan_sub *x = ch->subs; x; x = x->next_in_chan)
            if (x != sub && x->queue && x->durable && !strcmp(x->queue, sub->queue) &&
                !strcmp(x->durable, sub->durable))
                return;
    offline_forget(ch, sub->client->id, sub->durable, sub->queue);
    stan_offline *o = calloc(1, sizeof *o);
    if (!o)
        return;
    streamlog_sub_stats st = {0};
    if (sub->sl)
        streamlog_sub_get_stats(sub->sl, &st);
    o->client_id = strdup(sub->client->id);
    o->durable = strdup(sub->durable);
    o->queue = sub->queue ? strdup(sub->queue) : NULL;
    o->inbox = strdup(sub->inbox);
    o->ack_inbox = strdup(sub->ack_inbox ? sub->ack_inbox : "");
    if (!o->client_id || !o->durable || (sub->queue && !o->queue) || !o->inbox || !o->ack_inbox) {
        offline_free(o);
        return;
    }
    o->max_inflight = sub->max_inflight;
    o->ack_wait_s = sub->ack_wait_s;
    o->last_sent = st.last_delivered;
    o->pending = st.pending;
    o->next = ch->offline;
    ch->offline = o;
}

/* Unlinks a subscription from its client and channel and closes it (unsub: remove a durable's
 * state too). Safe to call while the subscription delivers: the close then happens after. */
static void sub_remove(stan_sub *sub, int unsub)
{
    stan_server *s = sub->srv;
    for (stan_sub **pp = &sub->client->subs; *pp; pp = &(*pp)->next_in_client)
        if (*pp == sub) {
            *pp = sub->next_in_client;
            break;
        }
    for (stan_sub **pp = &sub->chan->subs; *pp; pp = &(*pp)->next_in_chan)
        if (*pp == sub) {
            *pp = sub->next_in_chan;
            break;
        }
    s->nsubs--;
    if (sub->held)
        s->nheld--;   /* freed with the subscription */
    if (sub->durable && !unsub)
        offline_note(sub);
    if (sub->ack_inbox)
        stan_map_del(&s->acks, sub->ack_inbox, strlen(sub->ack_inbox));
    if (sub->in_drain) {
        sub->doomed = 1;
        sub->doomed_unsub = unsub;
        return;
    }
    sub_destroy(sub, unsub);
}

static void sub_poll(stan_sub *sub, int on);

/* Sends the message a subscription held back, once its PubAck is out; returns 1 when none is
 * held any more. */
static int release_held(stan_sub *sub)
{
    if (!sub->held)
        return 1;
    if (!stan_appq_deliverable(&sub->chan->q, sub->held_seq))
        return 0;
    natsConnection_Publish(sub->srv->nc, sub->inbox, sub->held, (int)sub->held_len);
    free(sub->held);
    sub->held = NULL;
    sub->srv->nheld--;
    sub_poll(sub, 1); /* holding stopped the fd's polling: whoever releases restarts it */
    return 1;
}

/* Delivers one message; returns 1, or 0 when there is nothing (EAGAIN, which re-arms the fd),
 * the subscription is closing, delivery failed, or the message waits for its PubAck. */
static int deliver_one(stan_sub *sub)
{
    stan_server *s = sub->srv;
    const streamlog_msg *m;
    if (sub->doomed || !release_held(sub))
        return 0;
    int rc = streamlog_sub_next(sub->sl, 0, &m);
    if (rc == STREAMLOG_EAGAIN)
        return 0;
    if (rc) {
        slog(s, STAN_LOG_ERROR, "delivery on '%s' failed: %s", sub->chan->name, streamlog_strerror(rc));
        sub_poll(sub, 0);
        return 0;
    }
    Pb__MsgProto mp = PB__MSG_PROTO__INIT;
    size_t len;
    mp.sequence = streamlog_msg_seq(m);
    mp.subject = sub->chan->name;
    mp.data.data = (uint8_t *)streamlog_msg_data(m, &len);
    mp.data.len = len;
    mp.timestamp = streamlog_msg_time(m);
    mp.redeliverycount = streamlog_msg_redelivery_count(m);
    mp.redelivered = mp.redeliverycount > 0;
    s->out_msgs++;
    s->out_bytes += len;
    if (stan_appq_deliverable(&sub->chan->q, mp.sequence)) {
        publish_pb(s, sub->inbox, &mp.base);
        return 1;
    }
    /* Its batch committed but the appender has not sent the PubAcks yet: a client must get its
     * PubAck before the message. Hold it (packed) until the batch's done() on the loop. */
    sub->held_len = protobuf_c_message_get_packed_size(&mp.base);
    sub->held = malloc(sub->held_len);
    if (sub->held) {
        protobuf_c_message_pack(&mp.base, sub->held);
        sub->held_seq = mp.sequence;
        s->nheld++;
        sub_poll(sub, 0);
    }
    return 0;
}

#define GROUP_DRAIN_MAX 64

/* Delivers until EAGAIN. Members of a queue group in this process are drained together, each
 * next message going to the live member with the fewest unacked messages (as nats-streaming-
 * server picks), so the group's messages spread over them; each member still reaches EAGAIN,
 * which re-arms its fd. */
static void sub_drain(stan_sub *sub)
{
    stan_sub *members[GROUP_DRAIN_MAX];
    uint64_t pending[GROUP_DRAIN_MAX];
    int live[GROUP_DRAIN_MAX];
    size_t n = 0;
    members[n++] = sub;
    if (sub->queue)
        for (stan_sub *x = sub->chan->subs; x && n < GROUP_DRAIN_MAX; x = x->next_in_chan)
            if (x != sub && x->queue && !strcmp(x->queue, sub->queue))
                members[n++] = x;
    for (size_t i = 0; i < n; i++) {
        streamlog_sub_stats st = {0};
        if (n > 1 && members[i]->sl)
            streamlog_sub_get_stats(members[i]->sl, &st);
        members[i]->in_drain++;
        live[i] = 1;
        pending[i] = st.pending;
    }
    /* ties go round: the scan starts after the member that got the previous message */
    size_t last = n - 1;
    for (size_t active = n; active;) {
        size_t best = n;
        for (size_t k = 1; k <= n; k++) {
            size_t i = (last + k) % n;
            if (live[i] && (best == n || pending[i] < pending[best]))
                best = i;
        }
        if (deliver_one(members[best])) {
            pending[best]++;
            last = best;
        } else {
            live[best] = 0;
            active--;
        }
    }
    for (size_t i = 0; i < n; i++) {
        stan_sub *x = members[i];
        if (--x->in_drain == 0 && x->doomed)
            sub_destroy(x, x->doomed_unsub);
    }
}

static void on_sub_readable(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    sub_drain(h->data);
}

static void sub_poll(stan_sub *sub, int on)
{
    if (on == sub->polling || !sub->sl)
        return;
    sub->polling = on;
    if (on)
        uv_poll_start(&sub->poll, UV_READABLE, on_sub_readable);
    else
        uv_poll_stop(&sub->poll);
}

void stan_on_ack(natsMsg *m, void *ud)
{
    stan_server *s = ud;
    const char *subj = natsMsg_GetSubject(m);
    stan_sub *sub = stan_map_get(&s->acks, subj, strlen(subj));
    Pb__Ack *a = sub ? pb__ack__unpack(NULL, MSG_LEN(m), MSG_DATA(m)) : NULL;
    if (!a)
        return;
    if (a->sequence && sub->sl)
        streamlog_ack(sub->sl, a->sequence);
    pb__ack__free_unpacked(a, NULL);
}

/* ---- clients ------------------------------------------------------------------------------ */

static void client_remove(stan_server *s, stan_client *c)
{
    while (c->subs)
        sub_remove(c->subs, 0);
    if (c->hb_req)
        stan_nats_cancel(s->nats, c->hb_req);
    stan_map_del(&s->clients, c->id, strlen(c->id));
    if (c->conn_id_len && stan_map_get(&s->conn_ids, c->conn_id, c->conn_id_len) == c)
        stan_map_del(&s->conn_ids, c->conn_id, c->conn_id_len);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->clients_head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        s->clients_tail = c->prev;
    free(c->id);
    free(c->hb_inbox);
    free(c->conn_id);
    free(c);
}

static stan_client *client_by_id(stan_server *s, const char *id)
{
    return id ? stan_map_get(&s->clients, id, strlen(id)) : NULL;
}

static int client_id_valid(const char *id)
{
    if (!*id)
        return 0;
    for (; *id; id++) {
        char ch = *id;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
              ch == '-'))
            return 0;
    }
    return 1;
}

static void register_and_reply(stan_server *s, Pb__ConnectRequest *req, const char *reply)
{
    stan_client *c = calloc(1, sizeof *c);
    if (!c || !(c->id = strdup(req->clientid)) || !(c->hb_inbox = strdup(req->heartbeatinbox)) ||
        stan_map_put(&s->clients, c->id, strlen(c->id), c)) {
        if (c) {
            free(c->id);
            free(c->hb_inbox);
        }
        free(c);
        reply_connect_err(s, reply, "stan: out of memory");
        return;
    }
    c->srv = s;
    if (req->connid.len) {
        c->conn_id = malloc(req->connid.len);
        if (c->conn_id) {
            memcpy(c->conn_id, req->connid.data, req->connid.len);
            c->conn_id_len = req->connid.len;
            stan_map_put(&s->conn_ids, c->conn_id, c->conn_id_len, c);
        }
    }
    c->prev = s->clients_tail;
    if (s->clients_tail)
        s->clients_tail->next = c;
    else
        s->clients_head = c;
    s->clients_tail = c;

    Pb__ConnectResponse r = PB__CONNECT_RESPONSE__INIT;
    r.pubprefix = s->pub_prefix;
    r.subrequests = s->sub_subj;
    r.unsubrequests = s->unsub_subj;
    r.closerequests = s->close_subj;
    r.subcloserequests = s->subclose_subj;
    r.protocol = 1;
    if (req->protocol >= 1) {
        r.pingrequests = s->pings_subj;
        r.pinginterval = req->pinginterval;
        r.pingmaxout = req->pingmaxout;
    }
    slog(s, STAN_LOG_INFO, "client '%s' connected (heartbeat inbox %s)", c->id, c->hb_inbox);
    publish_pb(s, reply, &r.base);
}

static void dup_free(dupcheck *d)
{
    if (d->prev)
        d->prev->next = d->next;
    else
        dupchecks = d->next;
    if (d->next)
        d->next->prev = d->prev;
    stan_map_del(&d->s->pending_ids, d->req->clientid, strlen(d->req->clientid));
    pb__connect_request__free_unpacked(d->req, NULL);
    free(d);
}

static void dup_done(natsMsg *m, void *ud)
{
    dupcheck *d = ud;
    stan_server *s = d->s;
    if (m) {
        slog(s, STAN_LOG_INFO, "client '%s' refused: the registered one still answers", d->req->clientid);
        reply_connect_err(s, d->reply, ERR_INVALID_CLIENT);
    } else {
        stan_client *old = client_by_id(s, d->req->clientid);
        if (old) {
            slog(s, STAN_LOG_INFO, "client '%s' replaced: the old one did not answer", old->id);
            client_remove(s, old);
        }
        register_and_reply(s, d->req, d->reply);
    }
    dup_free(d);
}

void stan_on_discover(natsMsg *m, void *ud)
{
    stan_server *s = ud;
    if (!MSG_REPLY(m))
        return;
    Pb__ConnectRequest *req = pb__connect_request__unpack(NULL, MSG_LEN(m), MSG_DATA(m));
    if (!req || !*req->heartbeatinbox) {
        reply_connect_err(s, MSG_REPLY(m), ERR_INVALID_CONN_REQ);
        goto out;
    }
    if (!*req->clientid) {
        reply_connect_err(s, MSG_REPLY(m), ERR_MISSING_CLIENT);
        goto out;
    }
    if (!client_id_valid(req->clientid)) {
        reply_connect_err(s, MSG_REPLY(m), ERR_INVALID_CLIENT_ID);
        goto out;
    }
    stan_client *old = client_by_id(s, req->clientid);
    if (stan_map_get(&s->pending_ids, req->clientid, strlen(req->clientid))) {
        reply_connect_err(s, MSG_REPLY(m), ERR_INVALID_CLIENT);
        goto out;
    }
    if (old) {
        /* ask the registered client whether it is still there */
        size_t rl = strlen(MSG_REPLY(m));
        dupcheck *d = calloc(1, sizeof *d + rl + 1);
        if (!d) {
            reply_connect_err(s, MSG_REPLY(m), "stan: out of memory");
            goto out;
        }
        d->s = s;
        d->req = req;
        memcpy(d->reply, MSG_REPLY(m), rl + 1);
        d->next = dupchecks;
        if (dupchecks)
            dupchecks->prev = d;
        dupchecks = d;
        stan_map_put(&s->pending_ids, req->clientid, strlen(req->clientid), d);
        req = NULL;
        if (stan_nats_request(s->nats, old->hb_inbox, DUP_CHECK_TIMEOUT_MS, dup_done, d, &d->req_id) != NATS_OK)
            dup_done(NULL, d);
        return;
    }
    register_and_reply(s, req, MSG_REPLY(m));
out:
    if (req)
        pb__connect_request__free_unpacked(req, NULL);
}

void stan_on_client_ping(natsMsg *m, void *ud)
{
    stan_server *s = ud;
    if (!MSG_REPLY(m))
        return;
    Pb__PingResponse r = PB__PING_RESPONSE__INIT;
    Pb__Ping *p = pb__ping__unpack(NULL, MSG_LEN(m), MSG_DATA(m));
    if (!p || !p->connid.len || !stan_map_get(&s->conn_ids, p->connid.data, p->connid.len))
        r.error = ERR_CLIENT_REPLACED;
    else {
        stan_client *c = stan_map_get(&s->conn_ids, p->connid.data, p->connid.len);
        c->hb_fails = 0;
    }
    publish_pb(s, MSG_REPLY(m), &r.base);
    if (p)
        pb__ping__free_unpacked(p, NULL);
}

/* The client pointer is the request's ud; client_remove() cancels a pending request, so the
 * pointer is valid whenever hb_done runs. */
static void hb_done(natsMsg *m, void *ud)
{
    stan_client *c = ud;
    stan_server *s = c->srv;
    c->hb_req = 0;
    if (m) {
        c->hb_fails = 0;
        return;
    }
    c->hb_fails++;
    if (c->hb_fails >= s->cfg.hb_fail_count) {
        slog(s, STAN_LOG_INFO, "client '%s' closed: %d heartbeats unanswered", c->id, c->hb_fails);
        client_remove(s, c);
    }
}

static void on_hb_timer(uv_timer_t *t)
{
    stan_server *s = t->data;
    for (stan_client *c = s->clients_head; c; c = c->next)
        if (!c->hb_req &&
            stan_nats_request(s->nats, c->hb_inbox, s->cfg.hb_timeout_ms, hb_done, c, &c->hb_req) != NATS_OK)
            c->hb_req = 0;   /* not sent (no NATS connection): try again next time */
}

/* ---- publish ------------------------------------------------------------------------------ */

/* Appender thread, right after a batch is stored: the PubAcks go out now. */
static void on_stored(stan_pub *list, void *ud)
{
    stan_server *s = ud;
    for (stan_pub *p = list; p; p = p->next) {
        pubreq *r = (pubreq *)p;
        if (p->rc == 0) {
            s->in_msgs++;
            s->in_bytes += p->len;
            reply_pub_ack(s, r->reply, r->pm->guid, NULL);
        } else {
            char err[300];
            snprintf(err, sizeof err, "stan: %s", streamlog_strerror(p->rc));
            slog(s, STAN_LOG_ERROR, "storing a message on '%s' failed: %s", ((stan_channel *)p->chan)->name,
                 streamlog_strerror(p->rc));
            reply_pub_ack(s, r->reply, r->pm->guid, err);
        }
    }
}

/* Loop thread: frees the finished publishes and sends what subscriptions held back for them. */
static void on_published(stan_pub *list, void *ud)
{
    stan_server *s = ud;
    while (list) {
        pubreq *r = (pubreq *)list;
        list = list->next;
        pb__pub_msg__free_unpacked(r->pm, NULL);
        free(r);
    }
    for (stan_channel *ch = s->nheld ? s->chan_head : NULL; ch; ch = ch->next)
        for (stan_sub *x = ch->subs; x; x = x->next_in_chan)
            if (x->held && !x->doomed && release_held(x))
                sub_drain(x);
}

void stan_on_pub(natsMsg *m, void *ud)
{
    stan_server *s = ud;
    const char *reply = MSG_REPLY(m) ? MSG_REPLY(m) : "";
    Pb__PubMsg *pm = pb__pub_msg__unpack(NULL, MSG_LEN(m), MSG_DATA(m));
    if (!pm || !*pm->guid) {
        reply_pub_ack(s, reply, pm ? pm->guid : "", ERR_INVALID_PUB_REQ);
        goto fail;
    }
    stan_client *c = pm->connid.len ? stan_map_get(&s->conn_ids, pm->connid.data, pm->connid.len)
                                    : client_by_id(s, pm->clientid);
    if (!c) {
        reply_pub_ack(s, reply, pm->guid, ERR_INVALID_PUB_REQ);
        goto fail;
    }
    int rc;
    stan_channel *ch = chan_get(s, pm->subject, &rc);
    if (!ch) {
        reply_pub_ack(s, reply, pm->guid,
                      rc == STREAMLOG_ELIMIT ? ERR_TOO_MANY_CHANNELS
                      : rc == STREAMLOG_EINVAL ? ERR_INVALID_PUB_REQ
                                               : streamlog_strerror(rc));
        goto fail;
    }
    size_t rl = strlen(reply);
    pubreq *r = malloc(sizeof *r + rl + 1);
    if (!r) {
        reply_pub_ack(s, reply, pm->guid, "stan: out of memory");
        goto fail;
    }
    memset(&r->p, 0, sizeof r->p);
    r->pm = pm;
    memcpy(r->reply, reply, rl + 1);
    r->p.data = pm->data.data;
    r->p.len = pm->data.len;
    r->p.chan = ch;
    ch->last_active_ns = stan_now_ns();
    stan_appender_submit(s->app, &ch->q, &r->p);
    return;
fail:
    if (pm)
        pb__pub_msg__free_unpacked(pm, NULL);
}

/* ---- subscribe / unsubscribe / close ------------------------------------------------------ */

void stan_on_sub_request(natsMsg *m, void *ud)
{
    stan_server *s = ud;
    const char *reply = MSG_REPLY(m);
    streamlog_opts *o = NULL;
    stan_sub *sub = NULL;
    if (!reply)
        return;
    Pb__SubscriptionRequest *req = pb__subscription_request__unpack(NULL, MSG_LEN(m), MSG_DATA(m));
    const char *err = NULL;
    char errbuf[300];
    if (!req || !*req->inbox || !strncmp(req->inbox, "_STAN.", 6)) {
        err = ERR_INVALID_SUB_REQ;
        goto out;
    }
    if (req->ackwaitinsecs < 1) {
        err = ERR_INVALID_ACK_WAIT;
        goto out;
    }
    if (req->maxinflight < 1) {
        err = ERR_INVALID_MAX_INFLIGHT;
        goto out;
    }
    if ((int)req->startposition < 0 || (int)req->startposition > 4) {
        err = ERR_INVALID_START;
        goto out;
    }
    if (*req->qgroup && *req->durablename && strchr(req->durablename, ':')) {
        err = ERR_INVALID_DUR_NAME;
        goto out;
    }
    stan_client *c = client_by_id(s, req->clientid);
    if (!c) {
        err = ERR_UNKNOWN_CLIENT;
        goto out;
    }
    int rc;
    stan_channel *ch = chan_get(s, req->subject, &rc);
    if (!ch) {
        err = rc == STREAMLOG_ELIMIT ? ERR_TOO_MANY_CHANNELS : rc == STREAMLOG_EINVAL ? ERR_INVALID_SUBJECT
                                                                                        : streamlog_strerror(rc);
        goto out;
    }
    sub = calloc(1, sizeof *sub);
    if (!sub || streamlog_opts_new(&o)) {
        err = "stan: out of memory";
        goto out;
    }
    sub->srv = s;
    sub->client = c;
    sub->chan = ch;
    sub->max_inflight = req->maxinflight > 1048576 ? 1048576 : req->maxinflight;
    sub->ack_wait_s = req->ackwaitinsecs > 86400 ? 86400 : req->ackwaitinsecs;
    sub->inbox = strdup(req->inbox);
    if (*req->durablename)
        sub->durable = strdup(req->durablename);
    if (*req->qgroup)
        sub->queue = strdup(req->qgroup);
    int start = (int)req->startposition;
    int64_t value = 0;
    if (start == PB__START_POSITION__SequenceStart) {
        value = req->startsequence > INT64_MAX ? INT64_MAX : (int64_t)req->startsequence;
    } else if (start == PB__START_POSITION__TimeDeltaStart) {
        /* an absolute time, so a negative delta (the future) means new messages only */
        start = STREAMLOG_START_TIME;
        value = stan_now_ns() - req->starttimedelta;
        if (value < 0)
            value = 0;
    }
    streamlog_opts_set_int(o, STREAMLOG_OPT_START, start);
    streamlog_opts_set_int(o, STREAMLOG_OPT_START_VALUE, value);
    streamlog_opts_set_int(o, STREAMLOG_OPT_MAX_INFLIGHT, sub->max_inflight);
    streamlog_opts_set_int(o, STREAMLOG_OPT_ACK_WAIT_MS, (int64_t)sub->ack_wait_s * 1000);
    streamlog_opts_set_int(o, STREAMLOG_OPT_ACK_MODE, STREAMLOG_ACK_MANUAL);
    if (sub->queue && streamlog_opts_set_str(o, STREAMLOG_OPT_QUEUE, sub->queue)) {
        err = ERR_INVALID_SUB_REQ;
        goto out;
    }
    if (sub->durable) {
        char name[600];
        if (sub->queue)
            snprintf(name, sizeof name, "%s", sub->durable);
        else
            snprintf(name, sizeof name, "%s%c%s", c->id, DURABLE_SEP, sub->durable);
        if (streamlog_opts_set_str(o, STREAMLOG_OPT_DURABLE, name)) {
            err = ERR_INVALID_SUB_REQ;
            goto out;
        }
    }
    rc = streamlog_subscribe(ch->ch, o, &sub->sl);
    if (rc) {
        if (rc == STREAMLOG_EEXIST)
            err = ERR_DUP_DURABLE;
        else if (rc == STREAMLOG_ELIMIT)
            err = ERR_TOO_MANY_SUBS;
        else if (rc == STREAMLOG_EINVAL)
            err = ERR_INVALID_SUB_REQ;
        else {
            snprintf(errbuf, sizeof errbuf, "stan: %s", streamlog_errmsg());
            err = errbuf;
        }
        goto out;
    }
    char ack_inbox[400], nuid[32];
    stan_nats_nuid(nuid, sizeof nuid);
    snprintf(ack_inbox, sizeof ack_inbox, "%s.%s", s->acks_prefix, nuid);
    sub->ack_inbox = strdup(ack_inbox);
    int fd = streamlog_sub_fd(sub->sl);
    if (fd < 0) /* before the close below replaces the thread's message */
        snprintf(errbuf, sizeof errbuf, "stan: %s", streamlog_errmsg());
    if (fd < 0 || !sub->inbox || !sub->ack_inbox || stan_map_put(&s->acks, ack_inbox, strlen(ack_inbox), sub) ||
        uv_poll_init(s->loop, &sub->poll, fd)) {
        stan_map_del(&s->acks, ack_inbox, strlen(ack_inbox));
        streamlog_sub_close(sub->sl);
        err = fd < 0 ? errbuf : "stan: out of resources";
        goto out;
    }
    ch->last_active_ns = stan_now_ns();
    sub->poll.data = sub;
    if (sub->durable)
        offline_forget(ch, c->id, sub->durable, sub->queue);
    sub->next_in_client = c->subs;
    c->subs = sub;
    sub->next_in_chan = ch->subs;
    ch->subs = sub;
    s->nsubs++;
    slog(s, STAN_LOG_DEBUG, "client '%s' subscribed to '%s' (inbox %s, durable '%s', queue '%s')", c->id,
         ch->name, sub->inbox, sub->durable ? sub->durable : "", sub->queue ? sub->queue : "");
    reply_sub(s, reply, ack_inbox, NULL);
    /* The response goes out first. A new subscription's fd starts readable, so the backlog
     * (stored messages, a resumed durable's pending ones) is delivered from the loop, after
     * the response; from then on the fd signals new messages, acks ending a stall, due
     * redeliveries and a queue member's hand-over. */
    sub_poll(sub, 1);
    sub = NULL;
out:
    if (err)
        reply_sub(s, reply, NULL, err);
    if (sub) {
        free(sub->inbox);
        free(sub->ack_inbox);
        free(sub->durable);
        free(sub->queue);
        free(sub);
    }
    streamlog_opts_free(o);
    if (req)
        pb__subscription_request__free_unpacked(req, NULL);
}

static void unsub_or_close(stan_server *s, natsMsg *m, int unsub)
{
    if (!MSG_REPLY(m))
        return;
    Pb__UnsubscribeRequest *req = pb__unsubscribe_request__unpack(NULL, MSG_LEN(m), MSG_DATA(m));
    const char *err = NULL;
    stan_client *c;
    if (!req || !*req->inbox) {
        err = ERR_INVALID_UNSUB_REQ;
    } else if (!(c = client_by_id(s, req->clientid))) {
        err = ERR_UNKNOWN_CLIENT;
    } else {
        stan_sub *found = NULL;
        for (stan_sub *x = c->subs; x && !found; x = x->next_in_client)
            if (!strcmp(x->ack_inbox, req->inbox))
                found = x;
        for (stan_sub *x = c->subs; x && !found; x = x->next_in_client)
            if (!strcmp(x->inbox, req->inbox) && !strcmp(x->chan->name, req->subject))
                found = x;
        if (!found) {
            err = ERR_INVALID_SUB;
        } else {
            slog(s, STAN_LOG_DEBUG, "client '%s' %s '%s'", c->id, unsub ? "unsubscribed from" : "closed its subscription on",
                 found->chan->name);
            sub_remove(found, unsub);
        }
    }
    reply_sub(s, MSG_REPLY(m), NULL, err);
    if (req)
        pb__unsubscribe_request__free_unpacked(req, NULL);
}

void stan_on_unsub(natsMsg *m, void *ud) { unsub_or_close(ud, m, 1); }
void stan_on_subclose(natsMsg *m, void *ud) { unsub_or_close(ud, m, 0); }

void stan_on_close(natsMsg *m, void *ud)
{
    stan_server *s = ud;
    if (!MSG_REPLY(m))
        return;
    Pb__CloseResponse r = PB__CLOSE_RESPONSE__INIT;
    Pb__CloseRequest *req = pb__close_request__unpack(NULL, MSG_LEN(m), MSG_DATA(m));
    stan_client *c;
    if (!req || !*req->clientid)
        r.error = ERR_INVALID_CLOSE_REQ;
    else if (!(c = client_by_id(s, req->clientid)))
        r.error = ERR_UNKNOWN_CLIENT;
    else {
        slog(s, STAN_LOG_INFO, "client '%s' closed its connection", c->id);
        client_remove(s, c);
    }
    publish_pb(s, MSG_REPLY(m), &r.base);
    if (req)
        pb__close_request__free_unpacked(req, NULL);
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* max_inactivity: a channel with no subscription here and no publish for that long is deleted
 * (as nats-streaming-server does), unless publishes are still being stored. */
static void on_inactivity_timer(uv_timer_t *t)
{
    stan_server *s = t->data;
    int64_t now = stan_now_ns();
    for (stan_channel **pp = &s->chan_head; *pp;) {
        stan_channel *ch = *pp;
        streamlog_channel_stats st;
        int idle = !ch->subs && !ch->q.head && !ch->q.busy && !atomic_load(&ch->q.storing) &&
                   now - ch->last_active_ns >= s->cfg.max_inactivity_ms * 1000000 &&
                   !streamlog_channel_get_stats(ch->ch, &st) && st.subs == 0;
        if (!idle) {
            pp = &ch->next;
            continue;
        }
        *pp = ch->next;
        if (s->chan_tail == ch) {
            s->chan_tail = NULL;
            for (stan_channel *x = s->chan_head; x; x = x->next)
                s->chan_tail = x;
        }
        stan_map_del(&s->channels, ch->name, strlen(ch->name));
        streamlog_channel_close(ch->ch);
        int rc = streamlog_channel_delete(s->store, ch->name);
        slog(s, rc ? STAN_LOG_ERROR : STAN_LOG_INFO, "channel '%s' inactive: %s", ch->name,
             rc ? streamlog_strerror(rc) : "deleted");
        while (ch->offline) {
            stan_offline *o = ch->offline;
            ch->offline = o->next;
            offline_free(o);
        }
        free(ch->name);
        free(ch);
    }
}

int stan_server_new(uv_loop_t *loop, stan_nats *nats, const stan_config *cfg, stan_server **out, char *err,
                    size_t errcap)
{
    stan_server *s = calloc(1, sizeof *s);
    streamlog_opts *o = NULL;
    if (!s) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    s->loop = loop;
    s->nats = nats;
    s->nc = nats ? stan_nats_conn(nats) : NULL;
    s->cfg = *cfg;
    s->cluster_id = strdup(cfg->cluster_id);
    s->start_time_ns = stan_now_ns();
    stan_nats_nuid(s->server_id, sizeof s->server_id);
    if (cfg->dir) {
        s->dir = strdup(cfg->dir);
    } else {
        const char *tmp = getenv("TMPDIR");
        char path[4096];
        snprintf(path, sizeof path, "%s/stan-memory-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(path)) {
            snprintf(err, errcap, "cannot create a temporary directory: %s", strerror(errno));
            goto fail;
        }
        s->dir = strdup(path);
        s->temp_dir = 1;
    }
    int rc = streamlog_opts_new(&o);
    if (!rc)
        rc = streamlog_opts_set_int(o, STREAMLOG_OPT_SYNC, cfg->dir ? cfg->sync : STREAMLOG_SYNC_NONE);
    if (!rc)
        rc = streamlog_opts_set_int(o, STREAMLOG_OPT_MAX_CHANNELS, cfg->max_channels);
    if (!rc)
        rc = streamlog_opts_set_int(o, STREAMLOG_OPT_MAX_SUBS, cfg->max_subs);
    if (!rc)
        rc = streamlog_opts_set_int(o, STREAMLOG_OPT_MAX_MSGS, cfg->max_msgs);
    if (!rc)
        rc = streamlog_opts_set_int(o, STREAMLOG_OPT_MAX_BYTES, cfg->max_bytes);
    if (!rc)
        rc = streamlog_opts_set_int(o, STREAMLOG_OPT_MAX_AGE_MS, cfg->max_age_ms);
    if (rc) {
        snprintf(err, errcap, "bad store option: %s", streamlog_errmsg());
        goto fail;
    }
    rc = streamlog_open(s->dir, o, &s->store);
    if (rc) {
        snprintf(err, errcap, "cannot open the store in %s: %s (%s)", s->dir, streamlog_strerror(rc),
                 streamlog_errmsg());
        goto fail;
    }
    streamlog_opts_free(o);
    o = NULL;
    if (stan_appender_new(loop, cfg->appender_threads > 0 ? cfg->appender_threads : 1, on_stored, on_published, s,
                          &s->app)) {
        snprintf(err, errcap, "cannot start the appender threads");
        goto fail;
    }
    const char *cid = s->cluster_id;
    snprintf(s->discover_subj, sizeof s->discover_subj, "_STAN.discover.%s", cid);
    snprintf(s->pings_subj, sizeof s->pings_subj, "_STAN.discover.%s.pings", cid);
    snprintf(s->pub_prefix, sizeof s->pub_prefix, "_STAN.pub.%s", cid);
    snprintf(s->sub_subj, sizeof s->sub_subj, "_STAN.sub.%s", cid);
    snprintf(s->unsub_subj, sizeof s->unsub_subj, "_STAN.unsub.%s", cid);
    snprintf(s->subclose_subj, sizeof s->subclose_subj, "_STAN.subclose.%s", cid);
    snprintf(s->close_subj, sizeof s->close_subj, "_STAN.close.%s", cid);
    snprintf(s->acks_prefix, sizeof s->acks_prefix, "_STAN.acks.%s", s->server_id);
    char pub_wild[320], acks_wild[320];
    snprintf(pub_wild, sizeof pub_wild, "%s.>", s->pub_prefix);
    snprintf(acks_wild, sizeof acks_wild, "%s.*", s->acks_prefix);
    /* the fuzz target runs the handlers without a connection */
    if (nats && (stan_nats_subscribe(nats, s->discover_subj, stan_on_discover, s) ||
                 stan_nats_subscribe(nats, s->pings_subj, stan_on_client_ping, s) ||
                 stan_nats_subscribe(nats, pub_wild, stan_on_pub, s) ||
                 stan_nats_subscribe(nats, s->sub_subj, stan_on_sub_request, s) ||
                 stan_nats_subscribe(nats, s->unsub_subj, stan_on_unsub, s) ||
                 stan_nats_subscribe(nats, s->subclose_subj, stan_on_subclose, s) ||
                 stan_nats_subscribe(nats, s->close_subj, stan_on_close, s) ||
                 stan_nats_subscribe(nats, acks_wild, stan_on_ack, s))) {
        snprintf(err, errcap, "cannot subscribe the protocol subjects (bad cluster ID '%s'?)", cid);
        goto fail;
    }
    uv_timer_init(loop, &s->hb_timer);
    s->hb_timer.data = s;
    uv_timer_start(&s->hb_timer, on_hb_timer, cfg->hb_interval_ms, cfg->hb_interval_ms);
    uv_timer_init(loop, &s->inactivity_timer);
    s->inactivity_timer.data = s;
    if (cfg->max_inactivity_ms > 0) {
        uint64_t tick = cfg->max_inactivity_ms < 1000 ? (uint64_t)cfg->max_inactivity_ms : 1000;
        uv_timer_start(&s->inactivity_timer, on_inactivity_timer, tick, tick);
    }
    *out = s;
    return 0;
fail:
    streamlog_opts_free(o);
    stan_server_free(s);
    return -1;
}

void stan_server_finish_publishes(stan_server *s)
{
    stan_appender_free(s->app);
    s->app = NULL;
}

static void timers_closed(uv_handle_t *h)
{
    stan_server *s = h->data;
    if (++s->timers_closed == 2)
        free(s);
}

void stan_server_free(stan_server *s)
{
    if (!s)
        return;
    int timers = s->hb_timer.data != NULL;
    if (timers) {
        /* the timers live inside s: s is freed by their close callbacks */
        uv_close((uv_handle_t *)&s->hb_timer, timers_closed);
        uv_close((uv_handle_t *)&s->inactivity_timer, timers_closed);
    }
    while (dupchecks) {
        if (s->nats)
            stan_nats_cancel(s->nats, dupchecks->req_id);
        dup_free(dupchecks);
    }
    stan_server_finish_publishes(s);
    while (s->clients_head)
        client_remove(s, s->clients_head);
    for (stan_channel *c = s->chan_head, *nx; c; c = nx) {
        nx = c->next;
        while (c->offline) {
            stan_offline *o = c->offline;
            c->offline = o->next;
            offline_free(o);
        }
        streamlog_channel_close(c->ch);
        free(c->name);
        free(c);
    }
    stan_map_clear(&s->clients);
    stan_map_clear(&s->conn_ids);
    stan_map_clear(&s->channels);
    stan_map_clear(&s->pending_ids);
    stan_map_clear(&s->acks);
    if (s->store) {
        int rc = streamlog_close(s->store);
        if (rc)
            slog(s, STAN_LOG_ERROR, "closing the store: %s", streamlog_strerror(rc));
    }
    if (s->temp_dir && s->dir)
        nftw(s->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(s->dir);
    free(s->cluster_id);
    free(s->pack_buf);
    s->dir = s->cluster_id = NULL;
    s->pack_buf = NULL;
    if (!timers)
        free(s);
}
