/* Mirror in: a JetStream durable pull consumer -> one local channel, exactly once, in stream order.
 *
 * The library has no idempotent append yet, so the bridge keeps its own record of what it
 * appended: a state channel (_jsbridge.in.<channel>) whose last message says which stream
 * sequences map to which local sequences. Each fetched batch is handled as:
 *   1. drop what is already appended (stream sequence <= X, the last one appended) and ack it;
 *   2. write an intent record to the state channel: js_prev=X js_last=S local_before=L n=N;
 *   3. append the N messages to the channel in one commit (streamlog_append_batch: all or none);
 *   4. ack them to JetStream.
 * After a crash the last record and the channel's last sequence tell which side of step 3 the
 * crash fell on: last == L+N means the batch is in (X becomes S), last == L means it is not
 * (X stays js_prev). Redeliveries of anything <= X are acked without appending.
 *
 * Order: JetStream may hand out newer messages before it redelivers ones a crashed run or a
 * dropped connection left unacknowledged. The bridge appends in stream order regardless: when a
 * fetched message is past X+1, the sequences in between are read from the stream directly
 * (JetStream's message get) and appended first if they exist and match the consumer's filter;
 * their redelivery later is acked as a duplicate.
 *
 * Limits: the channel must be written by this bridge only (another writer is detected and
 * stops the bridge); one bridge per channel (a durable subscription on the state channel is
 * the cross-process lock); JetStream headers are not kept (the library has no headers yet). */
#include "bridge.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct item {
    uint64_t sseq;
    natsMsg *msg;     /* fetched (acked after the append) or read directly (no ack) */
    int fetched;
} item;

typedef struct in_bridge {
    const jsb_config *cfg;
    volatile sig_atomic_t *stop;
    streamlog_store *st;
    streamlog_channel *ch, *state;
    streamlog_sub *lock;
    char state_name[300];
    jsb_conn conn;
    natsSubscription *sub;
    char *filter;
    uint64_t x, l;     /* last stream sequence appended, the channel's last local sequence */
    int have_state;
    uint64_t appended, duplicates, gap_filled, errors, appended_at_status;
    uint64_t lag;
    int64_t status_prev;
} in_bridge;

/* NATS subject matching: '*' is one token, '>' the rest. */
static int subject_matches(const char *filter, const char *subject)
{
    for (;;) {
        const char *fe = strchr(filter, '.'), *se = strchr(subject, '.');
        size_t fl = fe ? (size_t)(fe - filter) : strlen(filter), sl = se ? (size_t)(se - subject) : strlen(subject);
        if (fl == 1 && filter[0] == '>')
            return 1;
        if (!(fl == 1 && filter[0] == '*') && (fl != sl || memcmp(filter, subject, fl) != 0))
            return 0;
        if (!fe || !se)
            return !fe && !se;
        filter = fe + 1;
        subject = se + 1;
    }
}

static int write_state(in_bridge *b, uint64_t js_prev, uint64_t js_last, uint64_t local_before, uint64_t n)
{
    char rec[512];
    int len = snprintf(rec, sizeof rec,
                       "jetstream-bridge-in v1 stream=%s js_prev=%" PRIu64 " js_last=%" PRIu64
                       " local_before=%" PRIu64 " n=%" PRIu64,
                       b->cfg->stream, js_prev, js_last, local_before, n);
    int rc = streamlog_append(b->state, rec, (size_t)len, NULL);
    if (rc)
        jsb_log("state channel %s: %s", b->state_name, streamlog_errmsg());
    return rc;
}

/* Decide X and L from the last state record and the channel's last sequence. */
static int recover(in_bridge *b)
{
    streamlog_channel_stats cs, ss;
    if (streamlog_channel_get_stats(b->ch, &cs) || streamlog_channel_get_stats(b->state, &ss)) {
        jsb_log("channel %s: %s", b->cfg->channel, streamlog_errmsg());
        return -1;
    }
    b->l = cs.last_seq;
    if (ss.msgs == 0)
        return 0;
    streamlog_msg *m;
    if (streamlog_get(b->state, ss.last_seq, &m)) {
        jsb_log("state channel %s: %s", b->state_name, streamlog_errmsg());
        return -1;
    }
    size_t len;
    const char *data = streamlog_msg_data(m, &len);
    char rec[512], stream[300];
    uint64_t js_prev, js_last, before, n;
    snprintf(rec, sizeof rec, "%.*s", (int)(len < sizeof rec ? len : sizeof rec - 1), data);
    streamlog_msg_free(m);
    if (sscanf(rec,
               "jetstream-bridge-in v1 stream=%299s js_prev=%" SCNu64 " js_last=%" SCNu64 " local_before=%" SCNu64
               " n=%" SCNu64,
               stream, &js_prev, &js_last, &before, &n) != 5) {
        jsb_log("state channel %s: unreadable record '%s'", b->state_name, rec);
        return -1;
    }
    if (strcmp(stream, b->cfg->stream) != 0) {
        jsb_log("channel %s is fed from stream %s, not %s", b->cfg->channel, stream, b->cfg->stream);
        return -1;
    }
    if (cs.last_seq == before + n)
        b->x = js_last;
    else if (cs.last_seq == before)
        b->x = js_prev;
    else {
        jsb_log("channel %s holds messages the bridge did not write (last sequence %" PRIu64 ", expected %" PRIu64
                " or %" PRIu64 "): only the bridge may append to it",
                b->cfg->channel, cs.last_seq, before, before + n);
        return -1;
    }
    b->have_state = 1;
    return 0;
}

/* 1: ready; 0: retry later; -1: fatal. */
static int ensure_consumer(in_bridge *b)
{
    const jsb_config *cfg = b->cfg;
    jsConsumerInfo *ci = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetConsumerInfo(&ci, b->conn.js, cfg->stream, cfg->consumer, NULL, &jerr);
    if (s != NATS_OK && jerr == JSConsumerNotFoundErr) {
        jsConsumerConfig cc;
        jsConsumerConfig_Init(&cc);
        cc.Durable = cfg->consumer;
        cc.DeliverPolicy = js_DeliverAll;
        cc.AckPolicy = js_AckExplicit;
        cc.AckWait = cfg->consumer_ack_wait_ms * 1000000;
        cc.MaxAckPending = cfg->fetch_batch * 4 > 1000 ? cfg->fetch_batch * 4 : 1000;
        jerr = 0;
        s = js_AddConsumer(&ci, b->conn.js, cfg->stream, &cc, NULL, &jerr);
        if (s == NATS_OK)
            jsb_log("created consumer %s on stream %s (from the first message)", cfg->consumer, cfg->stream);
    }
    if (s != NATS_OK) {
        if (jerr == JSStreamNotFoundErr) {
            jsb_log("stream %s does not exist", cfg->stream);
            return -1;
        }
        if (jerr == JSNotEnabledErr || (jerr && jerr != JSConsumerNotFoundErr)) {
            jsb_log("consumer %s on stream %s: %s (code %d)", cfg->consumer, cfg->stream, jsb_nats_error(s),
                    (int)jerr);
            return -1;
        }
        jsb_log("consumer %s: %s; retrying", cfg->consumer, jsb_nats_error(s));
        return 0;
    }
    if (ci->Config && (ci->Config->DeliverSubject || ci->Config->AckPolicy == js_AckNone)) {
        /* without acks a message fetched by a run that then crashed would never come again */
        jsb_log("consumer %s must be a pull consumer with acks (explicit or all)", cfg->consumer);
        jsConsumerInfo_Destroy(ci);
        return -1;
    }
    free(b->filter);
    b->filter = strdup(ci->Config && ci->Config->FilterSubject ? ci->Config->FilterSubject : "");
    if (!b->have_state) {
        /* first run on this channel: start where the consumer starts */
        b->x = ci->AckFloor.Stream;
        if (write_state(b, b->x, b->x, b->l, 0)) {
            jsConsumerInfo_Destroy(ci);
            return -1;
        }
        b->have_state = 1;
    }
    jsConsumerInfo_Destroy(ci);
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = cfg->stream;
    so.Consumer = cfg->consumer;
    jerr = 0;
    s = js_PullSubscribe(&b->sub, b->conn.js, b->filter[0] ? b->filter : NULL, cfg->consumer, NULL, &so, &jerr);
    if (s != NATS_OK) {
        jsb_log("pull subscription to %s: %s; retrying", cfg->consumer, jsb_nats_error(s));
        b->sub = NULL;
        return 0;
    }
    return 1;
}

static int cmp_item(const void *a, const void *b)
{
    uint64_t x = ((const item *)a)->sseq, y = ((const item *)b)->sseq;
    return x < y ? -1 : x > y;
}

static int stream_first_seq(in_bridge *b, uint64_t *out)
{
    jsStreamInfo *si = NULL;
    if (js_GetStreamInfo(&si, b->conn.js, b->cfg->stream, NULL, NULL) != NATS_OK)
        return -1;
    *out = si->State.FirstSeq;
    jsStreamInfo_Destroy(si);
    return 0;
}

static int push_item(item **v, size_t *n, size_t *cap, item it)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        item *nv = realloc(*v, nc * sizeof *nv);
        if (!nv)
            return -1;
        *v = nv;
        *cap = nc;
    }
    (*v)[(*n)++] = it;
    return 0;
}

/* Read stream sequences [from, to] directly; those for this consumer join `out`. */
static int fill_gap(in_bridge *b, uint64_t from, uint64_t to, item **out, size_t *n, size_t *cap)
{
    uint64_t first;
    if (stream_first_seq(b, &first))
        return -1;
    if (from < first)
        from = first;
    for (uint64_t s = from; s <= to; s++) {
        natsMsg *m = NULL;
        jsErrCode jerr = 0;
        natsStatus st = js_GetMsg(&m, b->conn.js, b->cfg->stream, s, NULL, &jerr);
        if (st != NATS_OK) {
            if (jerr == JSNoMessageFoundErr || st == NATS_NOT_FOUND)
                continue;
            jsb_log("reading stream sequence %" PRIu64 ": %s", s, jsb_nats_error(st));
            return -1;
        }
        if (b->filter[0] && !subject_matches(b->filter, natsMsg_GetSubject(m))) {
            natsMsg_Destroy(m);
            continue;
        }
        if (push_item(out, n, cap, (item){.sseq = s, .msg = m})) {
            natsMsg_Destroy(m);
            return -1;
        }
        b->gap_filled++;
    }
    return 0;
}

/* Append a fetched batch in stream order; 0 also when nothing was new; -1: retry later
 * (nothing acked); -2: fatal. */
static int handle_batch(in_bridge *b, natsMsgList *list)
{
    size_t nf = (size_t)list->Count;
    item *fetched = calloc(nf, sizeof *fetched);
    item *todo = NULL;
    size_t nt = 0, tcap = 0;
    int rc = -1;
    if (!fetched)
        return -2;
    for (size_t i = 0; i < nf; i++) {
        jsMsgMetaData *meta = NULL;
        fetched[i] = (item){.msg = list->Msgs[i], .fetched = 1};
        if (natsMsg_GetMetaData(&meta, list->Msgs[i]) == NATS_OK) {
            fetched[i].sseq = meta->Sequence.Stream;
            jsMsgMetaData_Destroy(meta);
        }
    }
    qsort(fetched, nf, sizeof *fetched, cmp_item);
    uint64_t next = b->x + 1;
    for (size_t i = 0; i < nf; i++) {
        item *it = &fetched[i];
        if (it->sseq == 0 || it->sseq < next) {
            b->duplicates += it->sseq != 0;
            continue;
        }
        if (it->sseq > next && fill_gap(b, next, it->sseq - 1, &todo, &nt, &tcap))
            goto out;
        if (push_item(&todo, &nt, &tcap, *it))
            goto out;
        next = it->sseq + 1;
    }
    if (nt) {
        const void **data = calloc(nt, sizeof *data);
        size_t *lens = calloc(nt, sizeof *lens);
        uint64_t first = 0;
        int appended = 0;
        if (data && lens) {
            for (size_t i = 0; i < nt; i++) {
                data[i] = natsMsg_GetData(todo[i].msg);
                lens[i] = (size_t)natsMsg_GetDataLength(todo[i].msg);
            }
            uint64_t js_last = todo[nt - 1].sseq;
            if (write_state(b, b->x, js_last, b->l, nt) == 0) {
                jsb_crash_point("in-after-intent");
                if (streamlog_append_batch(b->ch, data, lens, nt, &first))
                    jsb_log("channel %s: append: %s", b->cfg->channel, streamlog_errmsg());
                else if (first != b->l + 1)
                    jsb_log("channel %s: another writer appended to it (the batch landed at %" PRIu64
                            ", not %" PRIu64 "); only the bridge may append to it",
                            b->cfg->channel, first, b->l + 1);
                else {
                    b->x = js_last;
                    b->l += nt;
                    b->appended += nt;
                    appended = 1;
                    jsb_crash_point("in-after-append");
                }
            }
        }
        free(data);
        free(lens);
        if (!appended) {
            rc = -2; /* a store that refused this append refuses the next one too: stop */
            goto out;
        }
    }
    /* Everything fetched is now in the channel (appended now or before): ack it. */
    for (size_t i = 0; i < nf; i++)
        if (fetched[i].sseq && natsMsg_Ack(fetched[i].msg, NULL) != NATS_OK)
            b->errors++; /* a lost ack only brings a redelivery, recognised as a duplicate */
    rc = 0;
out:
    for (size_t i = 0; i < nt; i++)
        if (!todo[i].fetched)
            natsMsg_Destroy(todo[i].msg); /* read directly, owned here */
    free(todo);
    free(fetched);
    return rc;
}

static int consumer_drained(in_bridge *b, int *drained)
{
    jsConsumerInfo *ci = NULL;
    if (js_GetConsumerInfo(&ci, b->conn.js, b->cfg->stream, b->cfg->consumer, NULL, NULL) != NATS_OK)
        return -1;
    b->lag = ci->NumPending + (uint64_t)ci->NumAckPending;
    *drained = ci->NumPending == 0 && ci->NumAckPending == 0;
    jsConsumerInfo_Destroy(ci);
    return 0;
}

static void print_status(in_bridge *b)
{
    int64_t now = jsb_now_ms();
    double secs = b->status_prev ? (double)(now - b->status_prev) / 1000.0 : 0;
    int drained;
    if (b->sub)
        consumer_drained(b, &drained);
    natsConnStatus cs = natsConnection_Status(b->conn.nc);
    jsb_log("status in stream=%s consumer=%s channel=%s connected=%s lag=%" PRIu64 " appended=%" PRIu64
            " rate=%.0f/s duplicates=%" PRIu64 " gap_filled=%" PRIu64 " errors=%" PRIu64
            " last_stream_seq=%" PRIu64 " last_local_seq=%" PRIu64,
            b->cfg->stream, b->cfg->consumer, b->cfg->channel, cs == NATS_CONN_STATUS_CONNECTED ? "yes" : "no",
            b->lag, b->appended, secs > 0 ? (double)(b->appended - b->appended_at_status) / secs : 0.0,
            b->duplicates, b->gap_filled, b->errors, b->x, b->l);
    b->appended_at_status = b->appended;
    b->status_prev = now;
}

static int run(in_bridge *b)
{
    const jsb_config *cfg = b->cfg;
    int attempt = 0;
    int64_t status_at = jsb_now_ms() + cfg->status_interval_ms;
    while (!*b->stop) {
        if (cfg->status_interval_ms && jsb_now_ms() >= status_at) {
            print_status(b);
            status_at = jsb_now_ms() + cfg->status_interval_ms;
        }
        if (!b->sub) {
            int r = ensure_consumer(b);
            if (r < 0)
                return JSB_EXIT_FAIL;
            if (r == 0) {
                jsb_sleep(jsb_backoff_ms(attempt++), b->stop);
                continue;
            }
        }
        natsMsgList list = {0};
        jsErrCode jerr = 0;
        natsStatus s = natsSubscription_Fetch(&list, b->sub, cfg->fetch_batch, 1000, &jerr);
        if (s == NATS_OK && list.Count > 0) {
            int r = handle_batch(b, &list);
            natsMsgList_Destroy(&list);
            if (r == -2)
                return JSB_EXIT_FAIL;
            if (r < 0) {
                b->errors++;
                jsb_sleep(jsb_backoff_ms(attempt++), b->stop);
            } else {
                attempt = 0;
            }
            continue;
        }
        natsMsgList_Destroy(&list);
        if (s != NATS_OK && s != NATS_TIMEOUT) {
            b->errors++;
            if (attempt < 3 || attempt % 10 == 0)
                jsb_log("fetch from %s: %s; retrying", cfg->consumer, jsb_nats_error(s));
            jsb_sleep(jsb_backoff_ms(attempt++), b->stop);
            continue;
        }
        if (cfg->until_caught_up) {
            int drained = 0;
            natsConnection_FlushTimeout(b->conn.nc, 2000);
            if (consumer_drained(b, &drained) == 0 && drained) {
                jsb_log("caught up: consumer %s has nothing pending or unacknowledged", cfg->consumer);
                break;
            }
        }
    }
    natsConnection_FlushTimeout(b->conn.nc, 2000); /* send the last acks */
    return JSB_EXIT_OK;
}

int jsb_run_in(const jsb_config *cfg, volatile sig_atomic_t *stop)
{
    in_bridge b = {.cfg = cfg, .stop = stop};
    int rc = JSB_EXIT_FAIL;
    if ((size_t)snprintf(b.state_name, sizeof b.state_name, JSB_OWN_PREFIX "in.%s", cfg->channel) > 255) {
        jsb_log("channel name '%s' is too long for the bridge's state channel", cfg->channel);
        return JSB_EXIT_FAIL;
    }
    if (cfg->fetch_batch < 1) {
        jsb_log("in: bad batch size");
        return JSB_EXIT_FAIL;
    }
    if (streamlog_open(cfg->store_dir, NULL, &b.st)) {
        jsb_log("store %s: %s", cfg->store_dir, streamlog_errmsg());
        return JSB_EXIT_FAIL;
    }
    streamlog_opts *lim = NULL, *o = NULL;
    if (streamlog_channel_open(b.st, cfg->channel, STREAMLOG_CREATE, NULL, &b.ch)) {
        jsb_log("channel '%s': %s", cfg->channel, streamlog_errmsg());
        goto out;
    }
    if (streamlog_opts_new(&lim) || streamlog_opts_set_int(lim, STREAMLOG_OPT_MAX_MSGS, 64) ||
        streamlog_channel_open(b.st, b.state_name, STREAMLOG_CREATE, lim, &b.state)) {
        jsb_log("state channel %s: %s", b.state_name, streamlog_errmsg());
        goto out;
    }
    /* One bridge per channel: a durable on the state channel is held while this one runs and is
     * released by a crash (the store notices dead processes). */
    int src = streamlog_opts_new(&o);
    if (!src)
        src = streamlog_opts_set_str(o, STREAMLOG_OPT_DURABLE, "lock");
    if (!src)
        src = streamlog_subscribe(b.state, o, &b.lock);
    if (src == STREAMLOG_EEXIST) {
        jsb_log("another streamlog-jetstream is already feeding channel %s", cfg->channel);
        goto out;
    }
    if (src) {
        jsb_log("state channel %s: %s", b.state_name, streamlog_errmsg());
        goto out;
    }
    if (recover(&b))
        goto out;
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = 3000;
    if (jsb_connect(&b.conn, cfg, &jo, "streamlog-jetstream in"))
        goto out;
    rc = run(&b);
    if (cfg->status_interval_ms)
        print_status(&b);
out:
    if (b.sub)
        natsSubscription_Destroy(b.sub);
    jsb_disconnect(&b.conn);
    free(b.filter);
    streamlog_opts_free(lim);
    streamlog_opts_free(o);
    if (b.lock)
        streamlog_sub_close(b.lock);
    streamlog_channel_close(b.state);
    streamlog_channel_close(b.ch);
    if (streamlog_close(b.st)) {
        jsb_log("closing the store: %s", streamlog_errmsg());
        rc = JSB_EXIT_FAIL;
    }
    return rc;
}
