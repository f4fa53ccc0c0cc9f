/* jsb-tool: what the bridge's tests need besides the bridge.
 *   jsb-tool append STORE CHANNEL COUNT [SIZE [RATE]]  append COUNT messages ("CHANNEL#seq", padded to SIZE),
 *                                                      RATE per second (0: as fast as possible)
 *   jsb-tool last STORE CHANNEL                        print the channel's last sequence
 *   jsb-tool publish URL STREAM SUBJECT COUNT [START]  create STREAM (subjects FIRSTTOKEN.>) if missing and
 *                                                      publish COUNT messages "msg-N", N from START (default 1)
 *   jsb-tool verify-out URL STREAM PREFIX STORE CH,... the stream holds exactly each channel's messages,
 *                                                      in order, once each, with their origin headers
 *   jsb-tool verify-in URL STREAM STORE CHANNEL [SUBJ] the channel holds exactly the stream's messages (on
 *                                                      SUBJ only, when given) in order
 *   jsb-tool consumer URL STREAM DURABLE FILTER        create a pull consumer with a subject filter
 *   jsb-tool stream-info URL STREAM                    print "MSGS LEADER key=value..." (LEADER: the cluster
 *                                                      leader, or -; then the stream's limits)
 * Exit 0 when it did it or the check holds, 1 otherwise (with the first difference on stderr). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <nats/nats.h>
#include <streamlog.h>

static int fail(const char *what)
{
    fprintf(stderr, "jsb-tool: %s\n", what);
    return 1;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmd_append(int argc, char **argv)
{
    if (argc < 5)
        return fail("append STORE CHANNEL COUNT [SIZE [RATE [HEADERS]]]");
    long count = atol(argv[4]), size = argc > 5 ? atol(argv[5]) : 0, rate = argc > 6 ? atol(argv[6]) : 0;
    int with_headers = argc > 7 && atoi(argv[7]);
    streamlog_store *st;
    streamlog_channel *ch;
    if (streamlog_open(argv[2], NULL, &st))
        return fail(streamlog_errmsg());
    if (streamlog_channel_open(st, argv[3], STREAMLOG_CREATE, NULL, &ch))
        return fail(streamlog_errmsg());
    streamlog_channel_stats cs;
    streamlog_channel_get_stats(ch, &cs);
    char *buf = malloc((size_t)size + 300);
    int64_t start = now_ns();
    int rc = 0;
    for (long i = 0; i < count && !rc; i++) {
        /* the payload names the sequence it should get, so a check can tell one from another */
        int n = snprintf(buf, 300, "%s#%" PRIu64, argv[3], cs.last_seq + 1 + (uint64_t)i);
        while (n < size)
            buf[n++] = 'x';
        if (rate > 0) {
            int64_t due = start + (int64_t)(1e9 * (double)i / (double)rate);
            while (now_ns() < due) {
                int64_t left = due - now_ns();
                if (left > 0)
                    nanosleep(&(struct timespec){0, left}, NULL);
            }
        }
        uint64_t seq;
        if (with_headers) {
            /* a header of its own, one name twice, and two the bridge must replace with its own */
            char hdrs[400];
            int hl = snprintf(hdrs, sizeof hdrs,
                              "NATS/1.0\r\nX-Trace: %s#%" PRIu64 "\r\nX-Multi: one\r\nX-Multi: two\r\n"
                              "Nats-Msg-Id: local\r\nStreamlog-Sequence: 0\r\n\r\n",
                              argv[3], cs.last_seq + 1 + (uint64_t)i);
            rc = streamlog_append_msg(ch, hdrs, (size_t)hl, buf, (size_t)n, &seq);
        } else {
            rc = streamlog_append_expect(ch, buf, (size_t)n, cs.last_seq + (uint64_t)i, &seq);
        }
    }
    free(buf);
    if (rc)
        fprintf(stderr, "jsb-tool: append: %s\n", streamlog_errmsg());
    streamlog_channel_close(ch);
    streamlog_close(st);
    return rc != 0;
}

static int cmd_last(int argc, char **argv)
{
    if (argc < 4)
        return fail("last STORE CHANNEL");
    streamlog_store *st;
    streamlog_channel *ch;
    streamlog_channel_stats cs;
    if (streamlog_open(argv[2], NULL, &st) || streamlog_channel_open(st, argv[3], 0, NULL, &ch) ||
        streamlog_channel_get_stats(ch, &cs))
        return fail(streamlog_errmsg());
    printf("%" PRIu64 "\n", cs.last_seq);
    streamlog_channel_close(ch);
    streamlog_close(st);
    return 0;
}

static int connect_js(const char *url, natsConnection **nc, jsCtx **js)
{
    natsOptions *o = NULL;
    natsOptions_Create(&o);
    char *copy = strdup(url);
    const char *urls[16];
    int n = 0;
    for (char *save = NULL, *t = strtok_r(copy, ",", &save); t && n < 16; t = strtok_r(NULL, ",", &save))
        urls[n++] = t;
    natsOptions_SetServers(o, urls, n);
    free(copy);
    natsOptions_SetTimeout(o, 5000);
    natsStatus s = natsConnection_Connect(nc, o);
    natsOptions_Destroy(o);
    if (s == NATS_OK) {
        jsOptions jo;
        jsOptions_Init(&jo);
        jo.Wait = 10000;
        s = natsConnection_JetStream(js, *nc, &jo);
    }
    if (s != NATS_OK)
        fprintf(stderr, "jsb-tool: %s: %s\n", url, nats_GetLastError(NULL));
    return s != NATS_OK;
}

static int cmd_publish(int argc, char **argv)
{
    if (argc < 6)
        return fail("publish URL STREAM SUBJECT COUNT [START]");
    natsConnection *nc;
    jsCtx *js;
    if (connect_js(argv[2], &nc, &js))
        return 1;
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    if (js_GetStreamInfo(&si, js, argv[3], NULL, &jerr) != NATS_OK) {
        /* the stream takes every subject under the first token: PREFIX.> */
        char subject[256];
        snprintf(subject, sizeof subject, "%.*s.>", (int)strcspn(argv[4], "."), argv[4]);
        const char *subjects[] = {subject};
        jsStreamConfig sc;
        jsStreamConfig_Init(&sc);
        sc.Name = argv[3];
        sc.Subjects = subjects;
        sc.SubjectsLen = 1;
        if (js_AddStream(&si, js, &sc, NULL, &jerr) != NATS_OK)
            return fail(nats_GetLastError(NULL));
    }
    jsStreamInfo_Destroy(si);
    long count = atol(argv[5]), start = argc > 6 ? atol(argv[6]) : 1;
    /* one publish at a time: the async path leaked a message now and then under ASan (libnats 3.4.1) */
    for (long i = 0; i < count; i++) {
        char buf[64];
        int n = snprintf(buf, sizeof buf, "msg-%ld", start + i);
        jsPubAck *pa = NULL;
        natsStatus s = js_Publish(&pa, js, argv[4], buf, n, NULL, NULL);
        jsPubAck_Destroy(pa);
        if (s != NATS_OK)
            return fail(nats_GetLastError(NULL));
    }
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    return 0;
}

/* Every message of the stream, in stream order, read one by one (a message get works on a
 * cluster that lost a node, where creating a consumer may time out). */
typedef int (*msg_fn)(void *ctx, natsMsg *m);

static int nats_fail(const char *what, natsStatus s)
{
    const char *t = nats_GetLastError(NULL);
    fprintf(stderr, "jsb-tool: %s: %s\n", what, t && *t ? t : natsStatus_GetText(s));
    return 1;
}

static int each_stream_msg(const char *url, const char *stream, msg_fn fn, void *ctx)
{
    natsConnection *nc;
    jsCtx *js;
    if (connect_js(url, &nc, &js))
        return 1;
    jsStreamInfo *si = NULL;
    natsStatus s = js_GetStreamInfo(&si, js, stream, NULL, NULL);
    int rc = 0;
    uint64_t first = 1, last = 0;
    if (s != NATS_OK)
        rc = nats_fail("stream info", s);
    else
        first = si->State.FirstSeq, last = si->State.LastSeq;
    jsStreamInfo_Destroy(si);
    for (uint64_t seq = first; seq <= last && rc == 0; seq++) {
        natsMsg *m = NULL;
        jsErrCode jerr = 0;
        s = js_GetMsg(&m, js, stream, seq, NULL, &jerr);
        if (s == NATS_OK)
            rc = fn(ctx, m);
        else if (jerr != JSNoMessageFoundErr)
            rc = nats_fail("message get", s);
        natsMsg_Destroy(m);
    }
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    return rc;
}

/* A header block's lines "Name: value", one by one: 1 while there is one. */
static int next_header(const char **p, const char *end, char *name, size_t ncap, char *value, size_t vcap)
{
    for (;;) {
        const char *eol = memmem(*p, (size_t)(end - *p), "\r\n", 2);
        if (!eol || eol == *p)
            return 0;
        const char *line = *p, *colon = memchr(line, ':', (size_t)(eol - line));
        *p = eol + 2;
        if (!colon)
            continue; /* the NATS/1.0 line */
        const char *v = colon + 1;
        while (v < eol && *v == ' ')
            v++;
        snprintf(name, ncap, "%.*s", (int)(colon - line), line);
        snprintf(value, vcap, "%.*s", (int)(eol - v), v);
        return 1;
    }
}

static int skipped_name(const char *name, const char *const *skip)
{
    for (; skip && *skip; skip++)
        if (strcasecmp(name, *skip) == 0)
            return 1;
    return 0;
}

/* Every header of block (except the names in skip) is in m with the same values in the same
 * order, and m has no other (except the names in extra). */
static int same_headers(const void *block, size_t len, natsMsg *m, const char *const *skip, const char *const *extra)
{
    const char *p = block, *end = p + len;
    char name[256], value[1024];
    int lines = 0;
    for (const char *line = p; len && next_header(&p, end, name, sizeof name, value, sizeof value); line = p) {
        if (skipped_name(name, skip))
            continue;
        const char **vals = NULL;
        int nv = 0, idx = 0;
        /* the k-th line of a name is its k-th value */
        char n2[256], v2[1024];
        for (const char *q = block; q < line && next_header(&q, end, n2, sizeof n2, v2, sizeof v2);)
            idx += strcmp(n2, name) == 0;
        if (natsMsgHeader_Values(m, name, &vals, &nv) != NATS_OK || idx >= nv || strcmp(vals[idx], value) != 0) {
            fprintf(stderr, "jsb-tool: header %s: %s lacks value '%s'\n", name, natsMsg_GetSubject(m), value);
            free((void *)vals);
            return 1;
        }
        free((void *)vals);
        lines++;
    }
    const char **keys = NULL;
    int nk = 0, others = 0;
    if (natsMsgHeader_Keys(m, &keys, &nk) == NATS_OK)
        for (int k = 0; k < nk; k++) {
            if (skipped_name(keys[k], skip) || skipped_name(keys[k], extra))
                continue;
            const char **vals = NULL;
            int nv = 0;
            if (natsMsgHeader_Values(m, keys[k], &vals, &nv) == NATS_OK)
                others += nv;
            free((void *)vals);
        }
    free((void *)keys);
    if (others != lines) {
        fprintf(stderr, "jsb-tool: %s has %d headers of the message's own, the local message %d\n",
                natsMsg_GetSubject(m), others, lines);
        return 1;
    }
    return 0;
}

static const char *const bridge_out_headers[] = {"Nats-Msg-Id", "Streamlog-Channel", "Streamlog-Sequence",
                                                 "Streamlog-Time", "Nats-Expected-Last-Sequence", NULL};
static const char *const bridge_in_headers[] = {"Streamlog-JetStream-Stream", "Streamlog-JetStream-Sequence", NULL};

typedef struct out_check {
    streamlog_store *st;
    const char *prefix;
    char **names;
    streamlog_channel **chs;
    uint64_t *next;
    size_t n;
    uint64_t total;
    const char *store_id; /* the origin id Nats-Msg-Id must carry, or NULL */
} out_check;

static int check_out_msg(void *ctx, natsMsg *m)
{
    out_check *oc = ctx;
    const char *subj = natsMsg_GetSubject(m), *chv = NULL, *seqv = NULL, *tv = NULL;
    size_t pl = strlen(oc->prefix);
    if (strncmp(subj, oc->prefix, pl) != 0 || subj[pl] != '.') {
        fprintf(stderr, "jsb-tool: unexpected subject %s\n", subj);
        return 1;
    }
    size_t i;
    for (i = 0; i < oc->n && strcmp(oc->names[i], subj + pl + 1) != 0; i++)
        ;
    if (i == oc->n)
        return 0; /* a channel this check was not asked about */
    if (natsMsgHeader_Get(m, "Streamlog-Channel", &chv) != NATS_OK || strcmp(chv, oc->names[i]) != 0 ||
        natsMsgHeader_Get(m, "Streamlog-Sequence", &seqv) != NATS_OK ||
        natsMsgHeader_Get(m, "Streamlog-Time", &tv) != NATS_OK) {
        fprintf(stderr, "jsb-tool: %s: origin headers missing or wrong\n", subj);
        return 1;
    }
    uint64_t seq = strtoull(seqv, NULL, 10);
    if (seq != oc->next[i]) {
        fprintf(stderr, "jsb-tool: channel %s: stream holds sequence %" PRIu64 " where %" PRIu64 " was due (%s)\n",
                oc->names[i], seq, oc->next[i], seq < oc->next[i] ? "duplicate or out of order" : "gap");
        return 1;
    }
    streamlog_msg *lm;
    if (streamlog_get(oc->chs[i], seq, &lm)) {
        fprintf(stderr, "jsb-tool: channel %s has no message %" PRIu64 "\n", oc->names[i], seq);
        return 1;
    }
    size_t len, hlen;
    const void *data = streamlog_msg_data(lm, &len), *hdrs = streamlog_msg_headers(lm, &hlen);
    int same = len == (size_t)natsMsg_GetDataLength(m) && (len == 0 || memcmp(data, natsMsg_GetData(m), len) == 0) &&
               (uint64_t)streamlog_msg_time(lm) == strtoull(tv, NULL, 10);
    /* the local message's headers passed through; the bridge's own replace any of their names */
    if (same && same_headers(hdrs, hlen, m, bridge_out_headers, NULL))
        same = 0;
    const char *idv = NULL;
    char want_id[600];
    snprintf(want_id, sizeof want_id, "%s:%s:%" PRIu64, oc->store_id ? oc->store_id : "", oc->names[i], seq);
    if (same && (natsMsgHeader_Get(m, "Nats-Msg-Id", &idv) != NATS_OK ||
                 (oc->store_id ? strcmp(idv, want_id) != 0
                               : strlen(idv) < strlen(want_id) || strcmp(idv + strlen(idv) - strlen(want_id), want_id)))) {
        fprintf(stderr, "jsb-tool: Nats-Msg-Id '%s', wanted '%s'\n", idv ? idv : "", want_id);
        same = 0;
    }
    streamlog_msg_free(lm);
    if (!same) {
        fprintf(stderr, "jsb-tool: channel %s message %" PRIu64 " differs in the stream\n", oc->names[i], seq);
        return 1;
    }
    oc->next[i]++;
    oc->total++;
    return 0;
}

static int cmd_verify_out(int argc, char **argv)
{
    if (argc < 7)
        return fail("verify-out URL STREAM PREFIX STORE CH,... [STORE_ID]");
    out_check oc = {.prefix = argv[4], .store_id = argc > 7 ? argv[7] : NULL};
    char *list = strdup(argv[6]);
    oc.names = calloc(strlen(list) + 1, sizeof *oc.names);
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
        oc.names[oc.n++] = t;
    oc.chs = calloc(oc.n, sizeof *oc.chs);
    oc.next = calloc(oc.n, sizeof *oc.next);
    if (streamlog_open(argv[5], NULL, &oc.st))
        return fail(streamlog_errmsg());
    for (size_t i = 0; i < oc.n; i++) {
        oc.next[i] = 1;
        if (streamlog_channel_open(oc.st, oc.names[i], 0, NULL, &oc.chs[i]))
            return fail(streamlog_errmsg());
    }
    int rc = each_stream_msg(argv[2], argv[3], check_out_msg, &oc);
    for (size_t i = 0; i < oc.n && !rc; i++) {
        streamlog_channel_stats cs;
        streamlog_channel_get_stats(oc.chs[i], &cs);
        if (oc.next[i] != cs.last_seq + 1) {
            fprintf(stderr, "jsb-tool: channel %s: stream has %" PRIu64 " of its %" PRIu64 " messages\n", oc.names[i],
                    oc.next[i] - 1, cs.last_seq);
            rc = 1;
        }
    }
    if (!rc)
        printf("ok: %" PRIu64 " messages of %zu channels, each once and in order\n", oc.total, oc.n);
    for (size_t i = 0; i < oc.n; i++)
        streamlog_channel_close(oc.chs[i]);
    streamlog_close(oc.st);
    free(oc.chs);
    free(oc.next);
    free(oc.names);
    free(list);
    return rc;
}

typedef struct in_check {
    const char *stream;
    streamlog_iter *it;
    const char *subject; /* only the stream's messages on this subject, or NULL for all */
    uint64_t n;
} in_check;

static int check_in_msg(void *ctx, natsMsg *m)
{
    in_check *ic = ctx;
    if (ic->subject && strcmp(natsMsg_GetSubject(m), ic->subject) != 0)
        return 0;
    const streamlog_msg *lm;
    int rc = streamlog_iter_next(ic->it, &lm);
    if (rc) {
        fprintf(stderr, "jsb-tool: the channel ends after %" PRIu64 " messages; the stream has more\n", ic->n);
        return 1;
    }
    size_t len, hlen;
    const void *data = streamlog_msg_data(lm, &len), *hdrs = streamlog_msg_headers(lm, &hlen);
    if (len != (size_t)natsMsg_GetDataLength(m) || (len && memcmp(data, natsMsg_GetData(m), len) != 0)) {
        fprintf(stderr, "jsb-tool: local message %" PRIu64 " is '%.*s', the stream's is '%.*s'\n",
                streamlog_msg_seq(lm), (int)len, (const char *)data, natsMsg_GetDataLength(m), natsMsg_GetData(m));
        return 1;
    }
    /* the stream message's headers are the local message's, beside where it came from */
    const void *sv, *qv;
    size_t sl, ql;
    char seq[24];
    snprintf(seq, sizeof seq, "%" PRIu64, natsMsg_GetSequence(m));
    if (same_headers(hdrs, hlen, m, bridge_in_headers, NULL) ||
        streamlog_msg_header(lm, "Streamlog-JetStream-Stream", &sv, &sl) ||
        streamlog_msg_header(lm, "Streamlog-JetStream-Sequence", &qv, &ql) || sl != strlen(ic->stream) ||
        memcmp(sv, ic->stream, sl) || ql != strlen(seq) || memcmp(qv, seq, ql)) {
        fprintf(stderr, "jsb-tool: local message %" PRIu64 ": headers differ from stream message %s\n",
                streamlog_msg_seq(lm), seq);
        return 1;
    }
    ic->n++;
    return 0;
}

static int cmd_verify_in(int argc, char **argv)
{
    if (argc < 6)
        return fail("verify-in URL STREAM STORE CHANNEL [SUBJECT]");
    streamlog_store *st;
    streamlog_channel *ch;
    in_check ic = {.subject = argc > 6 ? argv[6] : NULL, .stream = argv[3]};
    if (streamlog_open(argv[4], NULL, &st) || streamlog_channel_open(st, argv[5], 0, NULL, &ch) ||
        streamlog_iter_open(ch, STREAMLOG_START_FIRST, 0, &ic.it))
        return fail(streamlog_errmsg());
    int rc = each_stream_msg(argv[2], argv[3], check_in_msg, &ic);
    const streamlog_msg *extra;
    if (!rc && streamlog_iter_next(ic.it, &extra) == STREAMLOG_OK) {
        fprintf(stderr, "jsb-tool: the channel has more messages than the stream (next: %" PRIu64 ")\n",
                streamlog_msg_seq(extra));
        rc = 1;
    }
    if (!rc)
        printf("ok: %" PRIu64 " messages, each once and in order\n", ic.n);
    streamlog_iter_close(ic.it);
    streamlog_channel_close(ch);
    streamlog_close(st);
    return rc;
}

static int cmd_consumer(int argc, char **argv)
{
    if (argc < 6)
        return fail("consumer URL STREAM DURABLE FILTER");
    natsConnection *nc;
    jsCtx *js;
    if (connect_js(argv[2], &nc, &js))
        return 1;
    jsConsumerConfig cc;
    jsConsumerConfig_Init(&cc);
    cc.Durable = argv[4];
    cc.FilterSubject = argv[5];
    cc.AckPolicy = js_AckExplicit;
    cc.AckWait = (int64_t)1000 * 1000000;
    jsConsumerInfo *ci = NULL;
    natsStatus s = js_AddConsumer(&ci, js, argv[3], &cc, NULL, NULL);
    int rc = s != NATS_OK ? nats_fail("add consumer", s) : 0;
    jsConsumerInfo_Destroy(ci);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    return rc;
}

static int cmd_stream_info(int argc, char **argv)
{
    if (argc < 4)
        return fail("stream-info URL STREAM");
    natsConnection *nc;
    jsCtx *js;
    if (connect_js(argv[2], &nc, &js))
        return 1;
    jsStreamInfo *si = NULL;
    int rc = 0;
    if (js_GetStreamInfo(&si, js, argv[3], NULL, NULL) != NATS_OK)
        rc = fail(nats_GetLastError(NULL));
    else
        printf("%" PRIu64 " %s max_msgs=%" PRId64 " max_bytes=%" PRId64 " max_age_ms=%" PRId64
               " duplicates_ms=%" PRId64 " replicas=%" PRId64 " storage=%s\n",
               si->State.Msgs, si->Cluster && si->Cluster->Leader ? si->Cluster->Leader : "-", si->Config->MaxMsgs,
               si->Config->MaxBytes, si->Config->MaxAge / 1000000, si->Config->Duplicates / 1000000,
               si->Config->Replicas, si->Config->Storage == js_MemoryStorage ? "memory" : "file");
    jsStreamInfo_Destroy(si);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    return rc;
}

/* Each message's first value of header NAME: "SEQ VALUE" lines ("-" when it has none). */
static int cmd_header(int argc, char **argv)
{
    if (argc < 5)
        return fail("header STORE CHANNEL NAME");
    streamlog_store *st;
    streamlog_channel *ch;
    streamlog_iter *it;
    if (streamlog_open(argv[2], NULL, &st) || streamlog_channel_open(st, argv[3], 0, NULL, &ch) ||
        streamlog_iter_open(ch, STREAMLOG_START_FIRST, 0, &it))
        return fail(streamlog_errmsg());
    const streamlog_msg *m;
    while (streamlog_iter_next(it, &m) == STREAMLOG_OK) {
        const void *v;
        size_t vl;
        if (streamlog_msg_header(m, argv[4], &v, &vl))
            v = "-", vl = 1;
        printf("%" PRIu64 " %.*s\n", streamlog_msg_seq(m), (int)vl, (const char *)v);
    }
    streamlog_iter_close(it);
    streamlog_channel_close(ch);
    streamlog_close(st);
    return 0;
}

int main(int argc, char **argv)
{
    int rc;
    if (argc < 2)
        rc = fail("append | last | publish | verify-out | verify-in");
    else if (strcmp(argv[1], "append") == 0)
        rc = cmd_append(argc, argv);
    else if (strcmp(argv[1], "last") == 0)
        rc = cmd_last(argc, argv);
    else if (strcmp(argv[1], "publish") == 0)
        rc = cmd_publish(argc, argv);
    else if (strcmp(argv[1], "verify-out") == 0)
        rc = cmd_verify_out(argc, argv);
    else if (strcmp(argv[1], "verify-in") == 0)
        rc = cmd_verify_in(argc, argv);
    else if (strcmp(argv[1], "consumer") == 0)
        rc = cmd_consumer(argc, argv);
    else if (strcmp(argv[1], "header") == 0)
        rc = cmd_header(argc, argv);
    else if (strcmp(argv[1], "stream-info") == 0)
        rc = cmd_stream_info(argc, argv);
    else
        rc = fail("unknown command");
    nats_Close();
    return rc;
}
