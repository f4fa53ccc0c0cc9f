/* Mirror in: a JetStream durable pull consumer -> one local channel, exactly once, in stream order.
 *
 * Every local message carries, beside the JetStream message's own headers, the stream and the
 * stream sequence it came from (Streamlog-JetStream-Stream, Streamlog-JetStream-Sequence), and a
 * fetched batch is appended in one commit (all or none). So the channel's last message always
 * says how far the stream has been copied, X, whatever happened in between: a crash between
 * the append and the JetStream acks is recovered at any later time, with no second write per
 * batch. (streamlog_append_once would forget its ids after the store's dedup window and commits
 * one message at a time; the sequence stored with the batch never expires.) Each fetched batch:
 *   1. drop what is already appended (stream sequence <= X) and ack it;
 *   2. append the rest to the channel in one commit (streamlog_append_batch_msgs);
 *   3. ack them to JetStream (a lost ack only brings a redelivery, dropped by step 1).
 * A channel with no readable message (new, or everything expired by max_age) starts from the
 * consumer's ack floor.
 *
 * Order: JetStream may hand out newer messages before it redelivers ones a crashed run or a
 * dropped connection left unacknowledged. The bridge appends in stream order regardless: when a
 * fetched message is past X+1, the sequences in between are read from the stream directly
 * (JetStream's message get) and appended first if they exist and match the consumer's filter;
 * their redelivery later is acked as a duplicate.
 *
 * Limits: the channel must be written by this bridge only (a message without the bridge's
 * headers, or a batch landing at an unexpected sequence, stops the bridge); one bridge per
 * channel (a durable subscription on _jsbridge.in.<channel> is the cross-process lock, released
 * by a crash). JetStream headers are kept name by name; libnats does not keep the order of
 * different names. */
#include "bridge.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HDR_IN_STREAM "Streamlog-JetStream-Stream"
#define HDR_IN_SEQ    "Streamlog-JetStream-Sequence"

typedef struct item {
    uint64_t sseq;
    natsMsg *msg;     /* fetched (acked after the append) or read directly (no ack) */
    int fetched;
} item;

typedef struct in_bridge {
    const jsb_config *cfg;
    volatile sig_atomic_t *stop;
    streamlog_store *st;
    streamlog_channel *ch, *lock_channel;
    streamlog_sub *lock;
    char lock_name[300];
    jsb_conn conn;
    natsSubscription *sub;
    char *filter;
    uint64_t x, l;     /* last stream sequence appended, the channel's last local sequence */
    int x_known;       /* from the channel's last message; else the consumer's ack floor */
    uint64_t appended, duplicates, gap_filled, errors;
    uint64_t lag;
    char last_error[160];
    jsb_rate log_rate, json_rate;
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

/* X from the channel's last message: the stream sequence it was copied from. */
static int recover(in_bridge *b)
{
    streamlog_channel_stats cs;
    if (streamlog_channel_get_stats(b->ch, &cs)) {
        jsb_log("channel %s: %s", b->cfg->channel, streamlog_errmsg());
        return -1;
    }
    b->l = cs.last_seq;
    if (cs.msgs == 0)
        return 0;
    streamlog_msg *m;
    int rc = streamlog_get(b->ch, cs.last_seq, &m);
    if (rc == STREAMLOG_ENOTFOUND)
        return 0; /* expired just now */
    if (rc) {
        jsb_log("channel %s: %s", b->cfg->channel, streamlog_errmsg());
        return -1;
    }
    const void *sv, *qv;
    size_t sl, ql;
    if (streamlog_msg_header(m, HDR_IN_STREAM, &sv, &sl) || streamlog_msg_header(m, HDR_IN_SEQ, &qv, &ql)) {
        jsb_log("channel %s holds messages the bridge did not write (its last, %" PRIu64
                ", has no %s header): only the bridge may append to it",
                b->cfg->channel, cs.last_seq, HDR_IN_SEQ);
        streamlog_msg_free(m);
        return -1;
    }
    if (sl != strlen(b->cfg->stream) || memcmp(sv, b->cfg->stream, sl) != 0) {
        jsb_log("channel %s is fed from stream %.*s, not %s", b->cfg->channel, (int)sl, (const char *)sv,
                b->cfg->stream);
        streamlog_msg_free(m);
        return -1;
    }
    char num[24];
    snprintf(num, sizeof num, "%.*s", (int)(ql < sizeof num ? ql : sizeof num - 1), (const char *)qv);
    b->x = strtoull(num, NULL, 10);
    b->x_known = 1;
    streamlog_msg_free(m);
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
        snprintf(b->last_error, sizeof b->last_error, "consumer: %s", jsb_nats_error(s));
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
    if (!b->x_known && ci->AckFloor.Stream > b->x)
        b->x = ci->AckFloor.Stream; /* nothing readable in the channel: start where the consumer stands */
    jsConsumerInfo_Destroy(ci);
    if (!b->filter)
        return -1;
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = cfg->stream;
    so.Consumer = cfg->consumer;
    jerr = 0;
    s = js_PullSubscribe(&b->sub, b->conn.js, b->filter[0] ? b->filter : NULL, cfg->consumer, NULL, &so, &jerr);
    if (s != NATS_OK) {
        snprintf(b->last_error, sizeof b->last_error, "pull subscription: %s", jsb_nats_error(s));
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
            snprintf(b->last_error, sizeof b->last_error, "reading stream sequence %" PRIu64 ": %s", s,
                     jsb_nats_error(st));
            jsb_log("%s", b->last_error);
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

/* Append `todo` in one commit, each with its JetStream headers plus where it came from.
 * 0 when appended; -1 when the store refused (it will refuse the next one too: stop). */
static int append_items(in_bridge *b, item *todo, size_t nt)
{
    const void **data = calloc(nt, sizeof *data), **hdrs = calloc(nt, sizeof *hdrs);
    size_t *lens = calloc(nt, sizeof *lens), *hlens = calloc(nt, sizeof *hlens);
    char **blocks = calloc(nt, sizeof *blocks);
    int rc = -1;
    if (!data || !hdrs || !lens || !hlens || !blocks)
        goto out;
    for (size_t i = 0; i < nt; i++) {
        char seq[24];
        snprintf(seq, sizeof seq, "%" PRIu64, todo[i].sseq);
        const char *names[] = {HDR_IN_STREAM, HDR_IN_SEQ}, *values[] = {b->cfg->stream, seq};
        if (jsb_headers_from_nats(todo[i].msg, names, values, 2, &blocks[i], &hlens[i])) {
            jsb_log("channel %s: out of memory building headers", b->cfg->channel);
            goto out;
        }
        hdrs[i] = blocks[i];
        data[i] = natsMsg_GetData(todo[i].msg);
        lens[i] = (size_t)natsMsg_GetDataLength(todo[i].msg);
    }
    jsb_crash_point("in-before-append");
    uint64_t first = 0;
    if (streamlog_append_batch_msgs(b->ch, hdrs, hlens, data, lens, nt, &first)) {
        snprintf(b->last_error, sizeof b->last_error, "append: %s", streamlog_errmsg());
        jsb_log("channel %s: %s", b->cfg->channel, b->last_error);
    } else if (first != b->l + 1) {
        jsb_log("channel %s: another writer appended to it (the batch landed at %" PRIu64 ", not %" PRIu64
                "): the bridge did not write %" PRIu64 "..%" PRIu64 "; only the bridge may append to it",
                b->cfg->channel, first, b->l + 1, b->l + 1, first - 1);
    } else {
        b->x = todo[nt - 1].sseq;
        b->x_known = 1;
        b->l += nt;
        b->appended += nt;
        rc = 0;
        jsb_crash_point("in-after-append");
    }
out:
    for (size_t i = 0; blocks && i < nt; i++)
        free(blocks[i]);
    free(blocks);
    free(data);
    free(hdrs);
    free(lens);
    free(hlens);
    return rc;
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
    if (nt && append_items(b, todo, nt)) {
        rc = -2;
        goto out;
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

static void report_status(in_bridge *b, int log_line)
{
    int drained;
    if (b->sub)
        consumer_drained(b, &drained);
    int connected = natsConnection_Status(b->conn.nc) == NATS_CONN_STATUS_CONNECTED;
    if (log_line)
        jsb_log("status in stream=%s consumer=%s channel=%s connected=%s lag=%" PRIu64 " appended=%" PRIu64
                " rate=%.0f/s duplicates=%" PRIu64 " gap_filled=%" PRIu64 " errors=%" PRIu64
                " last_stream_seq=%" PRIu64 " last_local_seq=%" PRIu64,
                b->cfg->stream, b->cfg->consumer, b->cfg->channel, connected ? "yes" : "no", b->lag, b->appended,
                jsb_rate_take(&b->log_rate, b->appended), b->duplicates, b->gap_filled, b->errors, b->x, b->l);
    if (!b->cfg->status)
        return;
    json_t *ch = json_pack("{s:s, s:I, s:I, s:f, s:I, s:I, s:I, s:I, s:I, s:s}", "channel", b->cfg->channel,
                           "lag", (json_int_t)b->lag, "appended", (json_int_t)b->appended, "rate",
                           jsb_rate_take(&b->json_rate, b->appended), "duplicates", (json_int_t)b->duplicates,
                           "gap_filled", (json_int_t)b->gap_filled, "errors", (json_int_t)b->errors,
                           "last_stream_seq", (json_int_t)b->x, "last_local_seq", (json_int_t)b->l, "last_error",
                           b->last_error);
    json_t *top = json_pack("{s:s, s:s, s:s, s:b, s:o}", "direction", "in", "stream", b->cfg->stream, "consumer",
                            b->cfg->consumer, "connected", connected, "channels", json_pack("[o]", ch));
    jsb_status_publish(b->cfg->status, top);
}

static int run(in_bridge *b)
{
    const jsb_config *cfg = b->cfg;
    int attempt = 0;
    int64_t status_at = jsb_now_ms() + cfg->status_interval_ms, json_at = 0;
    while (!*b->stop) {
        int64_t now = jsb_now_ms();
        int log_due = cfg->status_interval_ms && now >= status_at, json_due = cfg->status && now >= json_at;
        if (log_due || json_due) {
            report_status(b, log_due);
            if (log_due)
                status_at = now + cfg->status_interval_ms;
            json_at = now + JSB_STATUS_REFRESH_MS;
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
        natsStatus s = natsSubscription_Fetch(&list, b->sub, cfg->fetch_batch, 500, &jerr);
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
            snprintf(b->last_error, sizeof b->last_error, "fetch: %s", jsb_nats_error(s));
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
    if (!cfg->consumer || !cfg->channel) {
        jsb_log("in needs a consumer and a channel");
        return JSB_EXIT_FAIL;
    }
    if ((size_t)snprintf(b.lock_name, sizeof b.lock_name, JSB_OWN_PREFIX "in.%s", cfg->channel) > 255) {
        jsb_log("channel name '%s' is too long for the bridge's lock channel", cfg->channel);
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
    streamlog_opts *o = NULL;
    if (streamlog_channel_open(b.st, cfg->channel, STREAMLOG_CREATE, NULL, &b.ch)) {
        jsb_log("channel '%s': %s", cfg->channel, streamlog_errmsg());
        goto out;
    }
    if (streamlog_channel_open(b.st, b.lock_name, STREAMLOG_CREATE, NULL, &b.lock_channel)) {
        jsb_log("lock channel %s: %s", b.lock_name, streamlog_errmsg());
        goto out;
    }
    /* One bridge per channel: a durable on the lock channel is held while this one runs and is
     * released by a crash (the store notices dead processes). */
    int src = streamlog_opts_new(&o);
    if (!src)
        src = streamlog_opts_set_str(o, STREAMLOG_OPT_DURABLE, "lock");
    if (!src)
        src = streamlog_subscribe(b.lock_channel, o, &b.lock);
    if (src == STREAMLOG_EEXIST) {
        jsb_log("another streamlog-jetstream is already feeding channel %s", cfg->channel);
        goto out;
    }
    if (src) {
        jsb_log("lock channel %s: %s", b.lock_name, streamlog_errmsg());
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
    report_status(&b, cfg->status_interval_ms != 0);
out:
    if (b.sub)
        natsSubscription_Destroy(b.sub);
    jsb_disconnect(&b.conn);
    free(b.filter);
    streamlog_opts_free(o);
    if (b.lock)
        streamlog_sub_close(b.lock);
    streamlog_channel_close(b.lock_channel);
    streamlog_channel_close(b.ch);
    if (streamlog_close(b.st)) {
        jsb_log("closing the store: %s", streamlog_errmsg());
        rc = JSB_EXIT_FAIL;
    }
    return rc;
}
