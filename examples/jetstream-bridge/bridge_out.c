/* Mirror out: local channels -> one JetStream stream.
 *
 * Each channel is read through a durable subscription of the local store (manual acks). Its
 * messages are held in a ring in sequence order and published asynchronously on subject
 * <prefix>.<channel>, at most `window` publishes in flight over all channels. A local message
 * is acked only when JetStream's PubAck for it arrives.
 *
 * Exactly once, in order, per channel:
 *   - Every publish carries Nats-Expected-Last-Sequence: the stream sequence the previous
 *     publish got, or is predicted to get while it is still in flight (the bridge's publishes
 *     take consecutive stream sequences). JetStream refuses a message when the stream's last
 *     sequence is not the expected one, so when one publish is lost (a dropped connection, a
 *     leader election) none behind it can land first: the stream never holds a channel's
 *     messages out of order or with a gap. (The per-subject variant of the header could not be
 *     pipelined on an R3 stream: nats-server 2.9.10 refused a channel's second message in
 *     flight with "wrong last sequence".)
 *   - After any failure the bridge stops publishing, waits for the window to drain, and
 *     resyncs each failed channel from the stream itself: the last message on the channel's
 *     subject carries the origin sequence (Streamlog-Sequence), so every held message up to it
 *     is known to be stored and is acked locally without publishing it again. Then it
 *     publishes the rest in order, the window growing again from 1.
 *   - The same resync runs when a channel is first used, so a restart after kill -9 skips what
 *     the previous run had stored but not yet acked locally.
 *   - Nats-Msg-Id (store id : channel : sequence) lets JetStream drop a duplicate within its
 *     duplicate window in the one case the resync cannot see: a publish still on its way when
 *     the resync read the subject's last message.
 * Predictions assume the bridge is the only publisher on the stream. Another publisher breaks
 * more than speed: its message can take exactly the sequence predicted for a refused publish,
 * so that the publish behind it is accepted, and the channel's messages land out of order.
 * A stream with other publishers (several bridges into one stream) needs shared mode
 * (setting "shared-stream"): at most one publish in flight per channel, without
 * Nats-Expected-Last-Sequence; one in flight cannot overtake another, and a lost one is found
 * by the resync as before. It costs a round trip per message per channel. When a bridge
 * without it sees another publisher's messages, it logs that and stays in shared mode for
 * the rest of the run; a message refused while one behind it was stored is logged as out of
 * order and published again rather than lost. */
#include "bridge.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define HDR_EXPECT  "Nats-Expected-Last-Sequence"
#define HDR_MSGID   "Nats-Msg-Id"
#define HDR_CHANNEL "Streamlog-Channel"
#define HDR_SEQ     "Streamlog-Sequence"
#define HDR_TIME    "Streamlog-Time"
static const char *const bridge_headers[] = {HDR_EXPECT, HDR_MSGID, HDR_CHANNEL, HDR_SEQ, HDR_TIME};

enum { E_QUEUED, E_INFLIGHT, E_DONE, E_FAILED };

typedef struct entry {
    uint64_t seq;
    int64_t time;
    void *data;           /* the header block (hdrs_len bytes), then the payload (len bytes) */
    size_t hdrs_len, len;
    uint64_t pred;   /* stream sequence it is predicted to get */
    int state;
    int refused;     /* JetStream refused it: certainly not stored, whatever the resync reads */
} entry;

typedef struct chan {
    char *name, *subject;
    streamlog_channel *ch;
    streamlog_sub *sub;
    entry *ring;          /* held messages, increasing sequence */
    size_t cap, head, len;
    size_t next_send;     /* ring offset of the first entry not yet sent */
    size_t inflight;
    uint64_t taken;       /* highest sequence received from the subscription */
    uint64_t origin_last; /* origin sequence of the subject's last message at the last resync */
    int synced, need_resync;
    uint64_t published, duplicates, skipped, errors;
    jsb_rate log_rate, json_rate;
    char last_error[160];
} chan;

typedef struct completion {
    natsMsg *msg;
    int ok, dup;
    uint64_t sseq;
    natsStatus err;
    jsErrCode code;
    char text[120];
} completion;

typedef struct out_bridge {
    const jsb_config *cfg;
    volatile sig_atomic_t *stop;
    const char *prefix;
    streamlog_store *st;
    char store_id[64];
    char durable[210];
    chan **chans;
    size_t nchans, chans_cap;
    size_t *htab;         /* subject hash -> index + 1 */
    size_t hcap;
    jsb_conn conn;
    pthread_mutex_t mu;
    completion *done;     /* filled by the PubAck handler */
    size_t ndone, done_cap;
    completion *taken;    /* the bridge thread's, swapped with done: no allocation per wake-up */
    size_t taken_cap;
    int evfd;
    size_t inflight, window_cur, rr;
    int draining, round_ok, fail_streak;
    int64_t resume_at;
    uint64_t next_pred, max_sseq;
    uint64_t resyncs, total_published, total_errors;
    jsb_rate log_rate, json_rate;
    int64_t status_at, json_at;
    int ready, fatal;   /* ready: the stream exists */
    int shared;         /* another publisher on the stream: see the top of this file */
} out_bridge;

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int htab_put(out_bridge *b, size_t idx)
{
    if ((b->nchans + 1) * 2 > b->hcap) {
        size_t ncap = b->hcap ? b->hcap * 2 : 64;
        size_t *nt = calloc(ncap, sizeof *nt);
        if (!nt)
            return -1;
        free(b->htab);
        b->htab = nt;
        b->hcap = ncap;
        for (size_t i = 0; i < b->nchans; i++)
            if (i != idx && htab_put(b, i))
                return -1;
    }
    size_t i = hash_str(b->chans[idx]->subject) & (b->hcap - 1);
    while (b->htab[i])
        i = (i + 1) & (b->hcap - 1);
    b->htab[i] = idx + 1;
    return 0;
}

static chan *find_chan(out_bridge *b, const char *subject)
{
    if (!b->hcap)
        return NULL;
    for (size_t i = hash_str(subject) & (b->hcap - 1); b->htab[i]; i = (i + 1) & (b->hcap - 1))
        if (strcmp(b->chans[b->htab[i] - 1]->subject, subject) == 0)
            return b->chans[b->htab[i] - 1];
    return NULL;
}

static entry *ring_at(chan *c, size_t off)
{
    return &c->ring[(c->head + off) & (c->cap - 1)];
}

static entry *ring_find(chan *c, uint64_t seq)
{
    size_t lo = 0, hi = c->len;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        uint64_t s = ring_at(c, mid)->seq;
        if (s == seq)
            return ring_at(c, mid);
        if (s < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static void set_error(chan *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(chan *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->last_error, sizeof c->last_error, fmt, ap);
    va_end(ap);
}

/* Local ack of a message that is stored in the stream. */
static void mark_done(out_bridge *b, chan *c, entry *e)
{
    e->state = E_DONE;
    int rc = streamlog_ack(c->sub, e->seq);
    if (rc) {
        jsb_log("channel %s: local ack of %" PRIu64 " failed: %s", c->name, e->seq, streamlog_errmsg());
        b->fatal = 1;
    }
    while (c->len && ring_at(c, 0)->state == E_DONE) {
        entry *h = ring_at(c, 0);
        free(h->data);
        h->data = NULL;
        c->head = (c->head + 1) & (c->cap - 1);
        c->len--;
        if (c->next_send)
            c->next_send--;
    }
}

/* ---- PubAcks arrive on a libnats thread; they are queued for the bridge's thread ---- */

static void on_puback(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
    (void)js;
    out_bridge *b = closure;
    completion c = {.msg = msg};
    if (pa) {
        c.ok = 1;
        c.sseq = pa->Sequence;
        c.dup = pa->Duplicate;
    } else if (pae) {
        c.err = pae->Err;
        c.code = pae->ErrCode;
        snprintf(c.text, sizeof c.text, "%s", pae->ErrText ? pae->ErrText : natsStatus_GetText(pae->Err));
        if (!c.msg)
            c.msg = pae->Msg, pae->Msg = NULL;
    }
    pthread_mutex_lock(&b->mu);
    if (b->ndone == b->done_cap) {
        size_t ncap = b->done_cap ? b->done_cap * 2 : 256;
        completion *n = realloc(b->done, ncap * sizeof *n);
        if (!n) {
            /* never lose track of a publish: it would stay in flight for ever */
            pthread_mutex_unlock(&b->mu);
            jsb_log("out of memory queueing a PubAck");
            abort();
        }
        b->done = n;
        b->done_cap = ncap;
    }
    int wake = b->ndone == 0; /* the loop takes the whole queue once woken */
    b->done[b->ndone++] = c;
    pthread_mutex_unlock(&b->mu);
    uint64_t one = 1;
    if (wake && write(b->evfd, &one, sizeof one) < 0) {
        /* the counter is saturated only if nobody reads it: the loop polls it */
    }
}

static void handle_completion(out_bridge *b, completion *cp)
{
    const char *subject = cp->msg ? natsMsg_GetSubject(cp->msg) : NULL;
    const char *seqv = NULL;
    chan *c = subject ? find_chan(b, subject) : NULL;
    entry *e = NULL;
    if (c && natsMsgHeader_Get(cp->msg, HDR_SEQ, &seqv) == NATS_OK)
        e = ring_find(c, strtoull(seqv, NULL, 10));
    if (!e || e->state != E_INFLIGHT)
        jsb_log("a PubAck for a message the bridge does not hold (subject %s)", subject ? subject : "?");
    natsMsg_Destroy(cp->msg);
    if (!e || e->state != E_INFLIGHT)
        return;
    b->inflight--;
    c->inflight--;
    if (cp->ok) {
        if (cp->dup)
            c->duplicates++;
        else
            c->published++, b->total_published++;
        if (b->cfg->on_forwarded)
            b->cfg->on_forwarded(b->cfg->on_forwarded_arg, c->name, e->seq, e->time);
        if (b->total_published == 100)
            jsb_crash_point("out-before-local-ack"); /* in the stream, not acked locally */
        if (!cp->dup && cp->sseq > b->max_sseq)
            b->max_sseq = cp->sseq;
        b->round_ok = 1;
        b->fail_streak = 0;
        /* A wrong prediction (another publisher, or a duplicate that did not grow the stream)
         * makes the expectations of the publishes behind it wrong: let the window drain. */
        for (size_t i = 0; i < c->len && ring_at(c, i) != e; i++)
            if (ring_at(c, i)->refused && ring_at(c, i)->state != E_DONE) {
                jsb_log("channel %s: %" PRIu64 " was stored while %" PRIu64 " before it was refused: the stream holds "
                        "them out of order (another publisher on the stream without shared-stream)",
                        c->name, e->seq, ring_at(c, i)->seq);
                set_error(c, "out of order: %" PRIu64 " stored before %" PRIu64, e->seq, ring_at(c, i)->seq);
                c->errors++;
                b->total_errors++;
                break;
            }
        if (b->shared)
            ;
        else if (cp->sseq != e->pred)
            b->draining = 1;
        else if (b->window_cur < (size_t)b->cfg->window)
            b->window_cur++;
        mark_done(b, c, e);
        return;
    }
    e->state = E_FAILED;
    e->refused = cp->code == JSStreamWrongLastSequenceErr;
    c->errors++;
    b->total_errors++;
    c->need_resync = 1;
    if (!b->draining)
        jsb_log("channel %s: publish of %" PRIu64 " failed (%s, code %d); resyncing", c->name, e->seq, cp->text,
                (int)cp->code);
    set_error(c, "%s (code %d)", cp->text, (int)cp->code);
    b->draining = 1;
}

static void drain_completions(out_bridge *b)
{
    uint64_t v;
    if (read(b->evfd, &v, sizeof v) < 0 && errno != EAGAIN)
        jsb_log("eventfd read: %s", strerror(errno));
    for (;;) {
        pthread_mutex_lock(&b->mu);
        size_t n = b->ndone;
        completion *list = b->done;
        size_t cap = b->done_cap;
        b->done = b->taken;
        b->done_cap = b->taken_cap;
        b->ndone = 0;
        pthread_mutex_unlock(&b->mu);
        b->taken = list;
        b->taken_cap = cap;
        if (!n)
            return;
        for (size_t i = 0; i < n; i++)
            handle_completion(b, &list[i]);
    }
}

/* ---- channels ---- */

static int add_channel(out_bridge *b, const char *name)
{
    chan *c = calloc(1, sizeof *c);
    if (!c)
        return -1;
    c->name = strdup(name);
    size_t sl = strlen(b->prefix) + 1 + strlen(name) + 1;
    c->subject = malloc(sl);
    c->cap = 64;
    c->ring = calloc(c->cap, sizeof *c->ring);
    if (!c->name || !c->subject || !c->ring)
        goto fail;
    snprintf(c->subject, sl, "%s.%s", b->prefix, name);
    int rc = streamlog_channel_open(b->st, name, STREAMLOG_CREATE, NULL, &c->ch);
    if (rc) {
        jsb_log("channel '%s': %s", name, streamlog_errmsg());
        goto fail;
    }
    streamlog_opts *o;
    if (streamlog_opts_new(&o))
        goto fail;
    rc = streamlog_opts_set_str(o, STREAMLOG_OPT_DURABLE, b->durable);
    if (!rc)
        rc = streamlog_opts_set_int(o, STREAMLOG_OPT_START, STREAMLOG_START_FIRST);
    if (!rc)
        rc = streamlog_opts_set_int(o, STREAMLOG_OPT_MAX_INFLIGHT, 2 * b->cfg->window);
    /* the bridge resends by itself; the store must not redeliver what it holds */
    if (!rc)
        rc = streamlog_opts_set_int(o, STREAMLOG_OPT_ACK_WAIT_MS, 86400000);
    if (!rc)
        rc = streamlog_subscribe(c->ch, o, &c->sub);
    streamlog_opts_free(o);
    if (rc == STREAMLOG_EEXIST) {
        jsb_log("channel '%s': another streamlog-jetstream is already mirroring it to stream %s (%s)", name,
                b->cfg->stream, streamlog_errmsg());
        goto fail;
    }
    if (rc) {
        jsb_log("channel '%s': subscribe: %s", name, streamlog_errmsg());
        goto fail;
    }
    if (b->nchans == b->chans_cap) {
        size_t ncap = b->chans_cap ? b->chans_cap * 2 : 8;
        chan **n = realloc(b->chans, ncap * sizeof *n);
        if (!n)
            goto fail;
        b->chans = n;
        b->chans_cap = ncap;
    }
    b->chans[b->nchans] = c;
    if (htab_put(b, b->nchans))
        goto fail;
    b->nchans++;
    return 0;
fail:
    if (c->sub)
        streamlog_sub_close(c->sub);
    streamlog_channel_close(c->ch);
    free(c->name);
    free(c->subject);
    free(c->ring);
    free(c);
    return -1;
}

static void free_channel(chan *c)
{
    for (size_t i = 0; i < c->len; i++)
        free(ring_at(c, i)->data);
    if (c->sub && streamlog_sub_close(c->sub))
        jsb_log("channel %s: closing the subscription: %s", c->name, streamlog_errmsg());
    streamlog_channel_close(c->ch);
    free(c->ring);
    free(c->name);
    free(c->subject);
    free(c);
}

static int selected(const jsb_config *cfg, const char *name)
{
    if (strncmp(name, JSB_OWN_PREFIX, strlen(JSB_OWN_PREFIX)) == 0)
        return 0;
    for (size_t i = 0; i < cfg->nchannels; i++) {
        const char *p = cfg->channels[i];
        size_t pl = strlen(p);
        if (strcmp(p, ">") == 0)
            return 1;
        if (pl >= 2 && strcmp(p + pl - 2, ".>") == 0 && strncmp(name, p, pl - 1) == 0 && name[pl - 1])
            return 1;
        if (strcmp(p, name) == 0)
            return 1;
    }
    return 0;
}

static int is_pattern(const char *p)
{
    size_t pl = strlen(p);
    return pl && p[pl - 1] == '>';
}

/* Pick up channels created since the last scan that a pattern selects. */
static int scan_channels(out_bridge *b)
{
    char name[256], after[256] = "";
    for (;;) {
        int rc = streamlog_channel_list_next(b->st, after, name, sizeof name);
        if (rc == STREAMLOG_ENOTFOUND)
            return 0;
        if (rc) {
            jsb_log("listing channels: %s", streamlog_errmsg());
            return -1;
        }
        memcpy(after, name, sizeof after);
        if (!selected(b->cfg, name))
            continue;
        char subject[600];
        snprintf(subject, sizeof subject, "%s.%s", b->prefix, name);
        if (!find_chan(b, subject) && add_channel(b, name))
            return -1;
    }
}

static int grow_ring(chan *c)
{
    size_t ncap = c->cap * 2;
    entry *n = calloc(ncap, sizeof *n);
    if (!n)
        return -1;
    for (size_t i = 0; i < c->len; i++)
        n[i] = *ring_at(c, i);
    free(c->ring);
    c->ring = n;
    c->cap = ncap;
    c->head = 0;
    return 0;
}

static int can_send(out_bridge *b);
static int send_next(out_bridge *b, chan *c);

/* Take what the subscription delivers; each message is published as soon as it is taken (when
 * the window allows), before the next streamlog_sub_next(), which may wait for the store's
 * write lock to record the acks buffered since. */
static int take_messages(out_bridge *b, chan *c)
{
    for (;;) {
        const streamlog_msg *m;
        int rc = streamlog_sub_next(c->sub, 0, &m);
        if (rc == STREAMLOG_EAGAIN)
            return 0;
        if (rc) {
            jsb_log("channel %s: %s", c->name, streamlog_errmsg());
            return -1;
        }
        uint64_t seq = streamlog_msg_seq(m);
        if (seq <= c->taken)
            continue; /* a redelivery of a message the bridge holds */
        c->taken = seq;
        if (c->synced && seq <= c->origin_last) {
            c->skipped++;
            if (streamlog_ack(c->sub, seq))
                return -1;
            continue;
        }
        if (c->len == c->cap && grow_ring(c))
            return -1;
        size_t len, hlen;
        const void *data = streamlog_msg_data(m, &len), *hdrs = streamlog_msg_headers(m, &hlen);
        entry *e = ring_at(c, c->len);
        *e = (entry){.seq = seq, .time = streamlog_msg_time(m), .hdrs_len = hlen, .len = len, .state = E_QUEUED};
        e->data = malloc(hlen + len ? hlen + len : 1);
        if (!e->data)
            return -1;
        if (hlen)
            memcpy(e->data, hdrs, hlen);
        if (len)
            memcpy((char *)e->data + hlen, data, len);
        c->len++;
        if (can_send(b))
            send_next(b, c);
    }
}

/* ---- talking to the stream ---- */

/* Read the channel's last message in the stream: what the stream holds is acked locally. */
static int resync_channel(out_bridge *b, chan *c)
{
    natsMsg *m = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetLastMsg(&m, b->conn.js, b->cfg->stream, c->subject, NULL, &jerr);
    uint64_t origin = 0;
    if (s == NATS_OK) {
        const char *v;
        size_t il = strlen(b->store_id);
        if (natsMsgHeader_Get(m, HDR_MSGID, &v) == NATS_OK && strncmp(v, b->store_id, il) == 0 && v[il] == ':' &&
            natsMsgHeader_Get(m, HDR_SEQ, &v) == NATS_OK)
            origin = strtoull(v, NULL, 10);
        else
            jsb_log("channel %s: the last message on %s did not come from this store (%s); publishing after it",
                    c->name, c->subject, b->store_id);
        natsMsg_Destroy(m);
    } else if (jerr != JSNoMessageFoundErr && s != NATS_NOT_FOUND) {
        set_error(c, "resync: %s (code %d)", natsStatus_GetText(s), (int)jerr);
        jsb_log("channel %s: reading the last message of %s: %s", c->name, c->subject, c->last_error);
        return -1;
    }
    c->origin_last = origin;
    c->synced = 1;
    c->need_resync = 0;
    for (size_t i = 0; i < c->len;) {
        entry *e = ring_at(c, i);
        if (e->seq <= origin && e->state != E_DONE && !e->refused) {
            c->skipped++;
            size_t before = c->len;
            mark_done(b, c, e);
            if (c->len != before) {
                i = 0; /* the head moved */
                continue;
            }
        }
        i++;
    }
    b->resyncs++;
    return 0;
}

/* After a drain: re-read what failed, then publish the rest from the first unconfirmed. */
static void finish_drain(out_bridge *b)
{
    int64_t now = jsb_now_ms();
    if (now < b->resume_at)
        return;
    if (natsConnection_Status(b->conn.nc) != NATS_CONN_STATUS_CONNECTED) {
        b->resume_at = now + 100; /* the client reconnects with its own backoff */
        return;
    }
    int failed = 0;
    for (size_t i = 0; i < b->nchans; i++)
        if (b->chans[i]->need_resync)
            failed = 1;
    if (failed && !b->round_ok)
        b->fail_streak++;
    for (size_t i = 0; i < b->nchans && !*b->stop; i++) {
        chan *c = b->chans[i];
        if (c->need_resync && resync_channel(b, c)) {
            b->resume_at = jsb_now_ms() + jsb_backoff_ms(b->fail_streak);
            b->round_ok = 0;
            if (b->fail_streak < 30)
                b->fail_streak++;
            return;
        }
    }
    if (failed) {
        jsStreamInfo *si = NULL;
        if (js_GetStreamInfo(&si, b->conn.js, b->cfg->stream, NULL, NULL) == NATS_OK) {
            if (si->State.LastSeq > b->max_sseq) {
                if (!b->shared)
                    jsb_log("stream %s has messages of another publisher: from now on one publish in flight per "
                            "channel, without predictions (set shared-stream for such a stream)", b->cfg->stream);
                b->shared = 1;
                b->max_sseq = si->State.LastSeq;
            }
            jsStreamInfo_Destroy(si);
        }
    }
    for (size_t i = 0; i < b->nchans; i++) {
        chan *c = b->chans[i];
        c->next_send = 0;
        for (size_t j = 0; j < c->len; j++)
            if (ring_at(c, j)->state != E_DONE)
                ring_at(c, j)->state = E_QUEUED;
    }
    b->next_pred = b->max_sseq + 1;
    b->window_cur = 1;
    b->draining = 0;
    b->round_ok = 0;
    if (failed && b->fail_streak)
        b->resume_at = jsb_now_ms() + jsb_backoff_ms(b->fail_streak - 1);
}

static int set_header_u64(natsMsg *m, const char *key, uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    return natsMsgHeader_Set(m, key, buf) != NATS_OK;
}

static natsStatus publish(out_bridge *b, chan *c, entry *e)
{
    natsMsg *m = NULL;
    char id[512];
    snprintf(id, sizeof id, "%s:%s:%" PRIu64, b->store_id, c->name, e->seq);
    natsStatus s = natsMsg_Create(&m, c->subject, NULL, (const char *)e->data + e->hdrs_len, (int)e->len);
    /* the message's own headers, except those the bridge sets itself */
    if (s == NATS_OK && e->hdrs_len)
        s = jsb_headers_to_nats(m, e->data, e->hdrs_len, bridge_headers, sizeof bridge_headers / sizeof *bridge_headers);
    if (s == NATS_OK)
        s = natsMsgHeader_Set(m, HDR_MSGID, id);
    if (s == NATS_OK)
        s = natsMsgHeader_Set(m, HDR_CHANNEL, c->name);
    if (s == NATS_OK && (set_header_u64(m, HDR_SEQ, e->seq) || set_header_u64(m, HDR_TIME, (uint64_t)e->time) ||
                         (!b->shared && set_header_u64(m, HDR_EXPECT, e->pred - 1))))
        s = NATS_ERR;
    if (s == NATS_OK) {
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MaxWait = b->cfg->ack_timeout_ms;
        s = js_PublishMsgAsync(b->conn.js, &m, &po);
    }
    if (s != NATS_OK)
        natsMsg_Destroy(m);
    return s;
}

static int can_send(out_bridge *b)
{
    return b->ready && !b->draining && b->inflight < b->window_cur && !*b->stop && jsb_now_ms() >= b->resume_at;
}

/* Publish channel c's next unsent message: 1 when one went out, 0 when it has none, -1 on a
 * failure (the bridge is then draining). */
static int send_next(out_bridge *b, chan *c)
{
    while (c->next_send < c->len && ring_at(c, c->next_send)->state == E_DONE)
        c->next_send++;
    if (c->next_send >= c->len)
        return 0;
    if (!c->synced) {
        if (resync_channel(b, c)) {
            b->draining = 1;
            c->need_resync = 1;
            return -1;
        }
        return send_next(b, c); /* the resync may have found some of them stored */
    }
    if (b->shared && c->inflight)
        return 0;
    entry *e = ring_at(c, c->next_send);
    e->pred = b->next_pred;
    natsStatus s = publish(b, c, e);
    if (s != NATS_OK) {
        e->state = E_FAILED;
        c->errors++;
        b->total_errors++;
        c->need_resync = 1;
        set_error(c, "publish: %s", jsb_nats_error(s));
        jsb_log("channel %s: publish: %s", c->name, c->last_error);
        b->draining = 1;
        return -1;
    }
    e->state = E_INFLIGHT;
    b->next_pred++;
    c->next_send++;
    b->inflight++;
    c->inflight++;
    return 1;
}

/* Fill the window, one message per channel in turn. */
static void send_some(out_bridge *b)
{
    size_t idle = 0;
    while (b->nchans && idle < b->nchans && can_send(b)) {
        int r = send_next(b, b->chans[b->rr++ % b->nchans]);
        if (r < 0)
            return;
        idle = r ? 0 : idle + 1;
    }
}

/* ---- the stream itself ---- */

/* 1: ready; 0: retry later; -1: fatal. */
static int ensure_stream(out_bridge *b)
{
    const jsb_config *cfg = b->cfg;
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetStreamInfo(&si, b->conn.js, cfg->stream, NULL, &jerr);
    if (s == NATS_OK) {
        b->max_sseq = si->State.LastSeq;
        b->next_pred = b->max_sseq + 1;
        jsStreamInfo_Destroy(si);
        return 1;
    }
    if (jerr == JSNotEnabledErr) {
        jsb_log("JetStream is not enabled on %s", cfg->server);
        return -1;
    }
    if (jerr != JSStreamNotFoundErr && s != NATS_NOT_FOUND) {
        jsb_log("stream %s: %s; retrying", cfg->stream, jsb_nats_error(s));
        return 0;
    }
    if (!cfg->create_stream) {
        jsb_log("stream %s does not exist (use --create-stream to create it)", cfg->stream);
        return -1;
    }
    char subject[300];
    snprintf(subject, sizeof subject, "%s.>", b->prefix);
    const char *subjects[] = {subject};
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    sc.Name = cfg->stream;
    sc.Subjects = subjects;
    sc.SubjectsLen = 1;
    sc.Replicas = cfg->replicas;
    sc.MaxMsgs = cfg->max_msgs ? cfg->max_msgs : -1;
    sc.MaxBytes = cfg->max_bytes ? cfg->max_bytes : -1;
    sc.MaxAge = cfg->max_age_ms * 1000000;
    sc.Duplicates = cfg->duplicate_window_ms * 1000000;
    sc.Storage = cfg->memory_storage ? js_MemoryStorage : js_FileStorage;
    jerr = 0;
    s = js_AddStream(&si, b->conn.js, &sc, NULL, &jerr);
    if (s == NATS_OK || jerr == JSStreamNameExistErr) {
        jsStreamInfo_Destroy(si);
        jsb_log("created stream %s (subjects %s, %d replica(s), duplicate window %" PRId64 " ms)", cfg->stream,
                subject, cfg->replicas, cfg->duplicate_window_ms);
        return 1;
    }
    /* what no retry can change; anything else (a cluster still forming: no leader, not enough
     * peers yet) is retried */
    if (jerr == JSStreamInvalidConfig || jerr == JSStreamSubjectOverlapErr || jerr == JSStreamReplicasNotSupportedErr) {
        jsb_log("creating stream %s: %s (code %d)", cfg->stream, jsb_nats_error(s), (int)jerr);
        return -1;
    }
    jsb_log("creating stream %s: %s; retrying", cfg->stream, jsb_nats_error(s));
    return 0;
}

/* ---- status and exit conditions ---- */

static uint64_t channel_lag(chan *c)
{
    streamlog_channel_stats st;
    if (streamlog_channel_get_stats(c->ch, &st))
        return 0;
    uint64_t confirmed = c->len ? ring_at(c, 0)->seq - 1 : c->taken;
    return st.last_seq > confirmed ? st.last_seq - confirmed : 0;
}

/* A status line per channel on stderr, and/or the JSON status. */
static void report_status(out_bridge *b, int log_lines)
{
    int connected = natsConnection_Status(b->conn.nc) == NATS_CONN_STATUS_CONNECTED;
    json_t *chans = b->cfg->status ? json_array() : NULL;
    if (log_lines)
        jsb_log("status out stream=%s connected=%s inflight=%zu window=%zu/%d published=%" PRIu64
                " rate=%.0f/s errors=%" PRIu64 " resyncs=%" PRIu64,
                b->cfg->stream, connected ? "yes" : "no", b->inflight, b->window_cur, b->cfg->window,
                b->total_published, jsb_rate_take(&b->log_rate, b->total_published), b->total_errors, b->resyncs);
    for (size_t i = 0; i < b->nchans; i++) {
        chan *c = b->chans[i];
        uint64_t lag = channel_lag(c);
        if (log_lines)
            jsb_log("status channel=%s lag=%" PRIu64 " held=%zu published=%" PRIu64 " rate=%.0f/s duplicates=%" PRIu64
                    " skipped=%" PRIu64 " errors=%" PRIu64 "%s%s%s",
                    c->name, lag, c->len, c->published, jsb_rate_take(&c->log_rate, c->published), c->duplicates,
                    c->skipped, c->errors, c->last_error[0] ? " last_error=\"" : "", c->last_error,
                    c->last_error[0] ? "\"" : "");
        if (chans)
            json_array_append_new(
                chans, json_pack("{s:s, s:s, s:I, s:I, s:I, s:f, s:I, s:I, s:I, s:s}", "channel", c->name, "subject",
                                 c->subject, "lag", (json_int_t)lag, "held", (json_int_t)c->len, "published",
                                 (json_int_t)c->published, "rate", jsb_rate_take(&c->json_rate, c->published),
                                 "duplicates", (json_int_t)c->duplicates, "skipped", (json_int_t)c->skipped, "errors",
                                 (json_int_t)c->errors, "last_error", c->last_error));
    }
    if (chans)
        jsb_status_publish(
            b->cfg->status,
            json_pack("{s:s, s:s, s:b, s:I, s:I, s:i, s:I, s:f, s:I, s:I, s:o}", "direction", "out", "stream",
                      b->cfg->stream, "connected", connected, "inflight", (json_int_t)b->inflight, "window",
                      (json_int_t)b->window_cur, "max_window", b->cfg->window, "published",
                      (json_int_t)b->total_published, "rate", jsb_rate_take(&b->json_rate, b->total_published),
                      "errors", (json_int_t)b->total_errors, "resyncs", (json_int_t)b->resyncs, "channels", chans));
}

static int caught_up(out_bridge *b)
{
    if (b->inflight || b->draining)
        return 0;
    for (size_t i = 0; i < b->nchans; i++) {
        chan *c = b->chans[i];
        streamlog_channel_stats cs;
        streamlog_sub_stats ss;
        if (c->len || streamlog_channel_get_stats(c->ch, &cs) || streamlog_sub_get_stats(c->sub, &ss))
            return 0;
        if (ss.pending || ss.next_seq <= cs.last_seq)
            return 0;
    }
    return 1;
}

static int run(out_bridge *b)
{
    const jsb_config *cfg = b->cfg;
    int attempt = 0;
    int64_t next_try = 0, next_scan = 0;
    int has_pattern = 0;
    for (size_t i = 0; i < cfg->nchannels; i++) {
        if (is_pattern(cfg->channels[i]))
            has_pattern = 1;
        else if (add_channel(b, cfg->channels[i]))
            return JSB_EXIT_FAIL;
    }
    b->status_at = jsb_now_ms() + cfg->status_interval_ms;
    while (!*b->stop && !b->fatal) {
        int64_t now = jsb_now_ms();
        if (!b->ready && now >= next_try) {
            int r = ensure_stream(b);
            if (r < 0)
                return JSB_EXIT_FAIL;
            if (r == 0)
                next_try = now + jsb_backoff_ms(attempt++);
            b->ready = r;
        }
        if (has_pattern && now >= next_scan) {
            if (scan_channels(b))
                return JSB_EXIT_FAIL;
            next_scan = now + 1000;
        }
        drain_completions(b);
        /* A channel is refilled only when it holds less than a window: taking messages (and
         * writing the acks buffered since) once per batch, not once per PubAck. */
        for (size_t i = 0; i < b->nchans; i++)
            if (b->chans[i]->len < (size_t)cfg->window && take_messages(b, b->chans[i]))
                return JSB_EXIT_FAIL;
        if (b->ready && b->draining && !b->inflight)
            finish_drain(b);
        send_some(b);
        int log_due = cfg->status_interval_ms && now >= b->status_at, json_due = cfg->status && now >= b->json_at;
        if (log_due || json_due) {
            report_status(b, log_due);
            if (log_due)
                b->status_at = now + cfg->status_interval_ms;
            b->json_at = now + JSB_STATUS_REFRESH_MS;
        }
        if (cfg->until_caught_up && b->ready && caught_up(b)) {
            if (!has_pattern || (scan_channels(b) == 0 && caught_up(b))) {
                jsb_log("caught up: every message of the selected channels is in stream %s", cfg->stream);
                break;
            }
        }
        struct pollfd *pfd = calloc(b->nchans + 1, sizeof *pfd);
        if (!pfd)
            return JSB_EXIT_FAIL;
        pfd[0] = (struct pollfd){.fd = b->evfd, .events = POLLIN};
        nfds_t nfds = 1;
        for (size_t i = 0; i < b->nchans; i++)
            if (b->chans[i]->len < (size_t)cfg->window)
                pfd[nfds++] = (struct pollfd){.fd = streamlog_sub_fd(b->chans[i]->sub), .events = POLLIN};
        /* wake for retries, status and rescans; a full channel wakes with the PubAcks */
        int timeout = (!b->ready || b->draining || has_pattern || cfg->until_caught_up) ? 20 : 200;
        if (cfg->status && timeout > JSB_STATUS_REFRESH_MS)
            timeout = JSB_STATUS_REFRESH_MS;
        poll(pfd, nfds, timeout);
        free(pfd);
    }
    return b->fatal ? JSB_EXIT_FAIL : JSB_EXIT_OK;
}

int jsb_run_out(const jsb_config *cfg, volatile sig_atomic_t *stop)
{
    out_bridge b = {.cfg = cfg, .stop = stop, .evfd = -1, .window_cur = 1, .next_pred = 1, .shared = cfg->shared_stream};
    b.prefix = cfg->subject_prefix ? cfg->subject_prefix : cfg->stream;
    if (cfg->window < 1 || cfg->window > 65536 || cfg->nchannels == 0) {
        jsb_log("out: bad window or no channels");
        return JSB_EXIT_FAIL;
    }
    /* the durable name is per stream, so one channel can be mirrored to several streams */
    snprintf(b.durable, sizeof b.durable, "jetstream-bridge.%.180s", cfg->stream);
    pthread_mutex_init(&b.mu, NULL);
    int rc = JSB_EXIT_FAIL;
    b.evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (b.evfd < 0) {
        jsb_log("eventfd: %s", strerror(errno));
        goto out;
    }
    if (streamlog_open(cfg->store_dir, NULL, &b.st)) {
        jsb_log("store %s: %s", cfg->store_dir, streamlog_errmsg());
        goto out;
    }
    if (cfg->store_id)
        snprintf(b.store_id, sizeof b.store_id, "%s", cfg->store_id);
    else if (jsb_store_id(b.st, b.store_id, sizeof b.store_id)) {
        jsb_log("store %s: reading its identity: %s", cfg->store_dir, streamlog_errmsg());
        goto out;
    }
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = 3000;
    jo.PublishAsync.MaxPending = cfg->window + 64;
    jo.PublishAsync.AckHandler = on_puback;
    jo.PublishAsync.AckHandlerClosure = &b;
    if (jsb_connect(&b.conn, cfg, &jo, "streamlog-jetstream out"))
        goto out;
    rc = run(&b);
    /* Leave cleanly: wait a little for PubAcks of what is in flight, so it is acked locally. */
    int64_t deadline = jsb_now_ms() + cfg->ack_timeout_ms + 1000;
    while (b.inflight && jsb_now_ms() < deadline) {
        struct pollfd p = {.fd = b.evfd, .events = POLLIN};
        poll(&p, 1, 50);
        drain_completions(&b);
    }
    report_status(&b, cfg->status_interval_ms != 0);
out:
    /* the connection goes first, so no PubAck handler runs while the bridge is torn down */
    jsb_disconnect(&b.conn);
    for (size_t i = 0; i < b.ndone; i++)
        natsMsg_Destroy(b.done[i].msg);
    free(b.done);
    free(b.taken);
    for (size_t i = 0; i < b.nchans; i++)
        free_channel(b.chans[i]);
    free(b.chans);
    free(b.htab);
    if (b.st && streamlog_close(b.st)) {
        jsb_log("closing the store: %s", streamlog_errmsg());
        rc = JSB_EXIT_FAIL;
    }
    if (b.evfd >= 0)
        close(b.evfd);
    pthread_mutex_destroy(&b.mu);
    return rc;
}
