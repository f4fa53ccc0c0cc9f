/* test_nats.c - Check tests of the NATS layer: the protocol parser (valid, split and malformed
 * input, CONNECT JSON), the sublist (wildcards, queue groups, validation, removal) and the
 * in-process API of the server. */
#include "nats_parser.h"
#include "nats_server.h"
#include "nats_sublist.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- parser helpers ---------------------------------------------------------------------- */

#define MAXR 64

/* A parsed op flattened to a string, so sequences are easy to compare. */
typedef struct result {
    char ops[MAXR][256];
    int n;
    int err;
} result;

static void flatten(const nats_op *op, char *out, size_t cap)
{
    snprintf(out, cap, "%d|%.*s|%.*s|%.*s|%.*s|%.*s|%lld|%zu|%.*s", op->type,
             (int)op->subject.len, op->subject.p ? op->subject.p : "",
             (int)op->reply.len, op->reply.p ? op->reply.p : "",
             (int)op->queue.len, op->queue.p ? op->queue.p : "",
             (int)op->sid.len, op->sid.p ? op->sid.p : "",
             (int)op->json.len, op->json.p ? op->json.p : "",
             (long long)op->max_msgs, op->hdr_len,
             (int)op->payload.len, op->payload.p ? op->payload.p : "");
}

/* Feeds s in chunks of the given sizes (the last one repeats), each chunk in its own heap
 * copy so that a view into an old chunk would read freed memory under valgrind/ASan. */
static void parse_chunks(const char *s, size_t len, const size_t *sizes, size_t nsizes,
                         size_t max_payload, result *r)
{
    nats_parser p;
    size_t off = 0, k = 0;
    memset(r, 0, sizeof *r);
    nats_parser_init(&p, max_payload);
    while (off < len && !r->err) {
        size_t chunk = sizes[k < nsizes ? k : nsizes - 1];
        k++;
        if (chunk > len - off)
            chunk = len - off;
        char *buf = malloc(chunk);
        ck_assert_ptr_nonnull(buf);
        memcpy(buf, s + off, chunk);
        size_t pos = 0;
        while (pos < chunk) {
            nats_op op;
            size_t used;
            int rc = nats_parser_next(&p, buf + pos, chunk - pos, &used, &op);
            ck_assert_uint_le(used, chunk - pos);
            pos += used;
            if (rc == NATS_PARSE_NEED_MORE) {
                ck_assert_uint_eq(pos, chunk);
                break;
            }
            if (rc < 0) {
                r->err = rc;
                break;
            }
            ck_assert_int_eq(rc, NATS_PARSE_OP);
            ck_assert_int_lt(r->n, MAXR);
            flatten(&op, r->ops[r->n], sizeof r->ops[0]);
            r->n++;
        }
        free(buf);
        off += chunk;
    }
    nats_parser_free(&p);
}

static void parse_all(const char *s, result *r)
{
    size_t whole = strlen(s);
    parse_chunks(s, whole, &whole, 1, 0, r);
}

static void assert_same(const result *a, const result *b)
{
    ck_assert_int_eq(a->err, b->err);
    ck_assert_int_eq(a->n, b->n);
    for (int i = 0; i < a->n; i++)
        ck_assert_str_eq(a->ops[i], b->ops[i]);
}

static const char *valid_stream =
    "CONNECT {\"verbose\":false,\"pedantic\":false,\"name\":\"t\"}\r\n"
    "SUB foo.* 1\r\n"
    "sub foo.> workers 2\r\n"
    "PUB foo.bar 5\r\nhello\r\n"
    "pub foo.bar _INBOX.abc 0\r\n\r\n"
    "PUB  foo.baz\t_INBOX.x   3 \r\na\r\n\r\n"
    "HPUB foo.h 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"
    "UNSUB 1 10\r\n"
    "unsub 2\r\n"
    "PING\r\n"
    "pong\n"
    "Ping \r\n";

START_TEST(parser_valid_stream)
{
    result r;
    parse_all(valid_stream, &r);
    ck_assert_int_eq(r.err, 0);
    ck_assert_int_eq(r.n, 12);
    ck_assert_str_eq(r.ops[0], "1|||||{\"verbose\":false,\"pedantic\":false,\"name\":\"t\"}|-1|0|");
    ck_assert_str_eq(r.ops[1], "4|foo.*|||1||-1|0|");
    ck_assert_str_eq(r.ops[2], "4|foo.>||workers|2||-1|0|");
    ck_assert_str_eq(r.ops[3], "2|foo.bar|||||-1|0|hello");
    ck_assert_str_eq(r.ops[4], "2|foo.bar|_INBOX.abc||||-1|0|");
    ck_assert_str_eq(r.ops[5], "2|foo.baz|_INBOX.x||||-1|0|a\r\n");
    ck_assert_str_eq(r.ops[6], "3|foo.h|||||-1|12|NATS/1.0\r\n\r\nhi");
    ck_assert_str_eq(r.ops[7], "5||||1||10|0|");
    ck_assert_str_eq(r.ops[8], "5||||2||-1|0|");
    ck_assert_str_eq(r.ops[9], "6||||||-1|0|");
    ck_assert_str_eq(r.ops[10], "7||||||-1|0|");
    ck_assert_str_eq(r.ops[11], "6||||||-1|0|");
}
END_TEST

START_TEST(parser_every_split_point)
{
    result whole, split;
    size_t len = strlen(valid_stream);
    parse_all(valid_stream, &whole);
    for (size_t cut = 1; cut < len; cut++) {
        size_t sizes[2] = { cut, len };
        parse_chunks(valid_stream, len, sizes, 2, 0, &split);
        assert_same(&whole, &split);
    }
    /* Every two split points too. */
    for (size_t a = 1; a < len; a += 3) {
        for (size_t b = 1; a + b < len; b += 5) {
            size_t sizes[3] = { a, b, len };
            parse_chunks(valid_stream, len, sizes, 3, 0, &split);
            assert_same(&whole, &split);
        }
    }
    /* One byte at a time. */
    size_t one = 1;
    parse_chunks(valid_stream, len, &one, 1, 0, &split);
    assert_same(&whole, &split);
}
END_TEST

START_TEST(parser_payload_zero_copy_and_split_copy)
{
    const char *s = "PUB a 3\r\nxyz\r\n";
    nats_parser p;
    nats_op op;
    size_t used;
    nats_parser_init(&p, 0);
    ck_assert_int_eq(nats_parser_next(&p, s, strlen(s), &used, &op), NATS_PARSE_OP);
    ck_assert_uint_eq(used, strlen(s));
    ck_assert_ptr_eq(op.payload.p, s + 9); /* a view into the input, no copy */
    ck_assert_ptr_eq(op.subject.p, s + 4);
    /* A payload larger than any chunk is gathered. */
    size_t big = 300000;
    char *msg = malloc(big + 64);
    int hl = sprintf(msg, "PUB big.subject %zu\r\n", big);
    for (size_t i = 0; i < big; i++)
        msg[hl + i] = (char)('a' + i % 26);
    memcpy(msg + hl + big, "\r\n", 2);
    size_t total = (size_t)hl + big + 2, off = 0;
    int got = 0;
    while (off < total) {
        size_t chunk = total - off < 4093 ? total - off : 4093;
        int rc = nats_parser_next(&p, msg + off, chunk, &used, &op);
        ck_assert_int_ge(rc, 0);
        off += used;
        if (rc == NATS_PARSE_OP) {
            got++;
            ck_assert_uint_eq(op.payload.len, big);
            ck_assert_int_eq(memcmp(op.payload.p, msg + hl, big), 0);
            ck_assert_int_eq(op.subject.len, 11);
            ck_assert_int_eq(memcmp(op.subject.p, "big.subject", 11), 0);
        }
    }
    ck_assert_int_eq(got, 1);
    free(msg);
    nats_parser_free(&p);
}
END_TEST

static const struct {
    const char *in;
    int err;
    int ops_before;
} malformed[] = {
    { "FOO\r\n", NATS_PERR_UNKNOWN_OP, 0 },
    { "\r\n", NATS_PERR_UNKNOWN_OP, 0 },
    { "PINGPONG\r\n", NATS_PERR_UNKNOWN_OP, 0 },
    { "PING x\r\n", NATS_PERR_BAD_ARGS, 0 },
    { "PUB a\r\n", NATS_PERR_BAD_ARGS, 0 },
    { "PUB a x\r\n", NATS_PERR_BAD_ARGS, 0 },
    { "PUB a -1\r\n", NATS_PERR_BAD_ARGS, 0 },
    { "PUB a b c 3\r\n", NATS_PERR_BAD_ARGS, 0 },
    { "PUB a 99999999999999999999999\r\n", NATS_PERR_BAD_ARGS, 0 },
    { "PUB a 3\r\nabcd\r\n", NATS_PERR_PAYLOAD_END, 0 },
    { "PUB a 1\r\nx\nPING\r\n", NATS_PERR_PAYLOAD_END, 0 },
    { "PING\r\nPUB a 2000000\r\n", NATS_PERR_MAX_PAYLOAD, 1 },
    { "HPUB a 5 3\r\nabc\r\n", NATS_PERR_BAD_ARGS, 0 },
    { "HPUB a 3\r\nabc\r\n", NATS_PERR_BAD_ARGS, 0 },
    { "SUB a\r\n", NATS_PERR_BAD_ARGS, 0 },
    { "SUB a b c d\r\n", NATS_PERR_BAD_ARGS, 0 },
    { "UNSUB\r\n", NATS_PERR_BAD_ARGS, 0 },
    { "UNSUB 1 x\r\n", NATS_PERR_BAD_ARGS, 0 },
    { "UNSUB 1 2 3\r\n", NATS_PERR_BAD_ARGS, 0 },
    { "CONNECT\r\n", NATS_PERR_BAD_ARGS, 0 },
    { "CONNECT   \r\n", NATS_PERR_BAD_ARGS, 0 },
    { "PING\r\nPONG\r\nBOGUS 1 2\r\nPING\r\n", NATS_PERR_UNKNOWN_OP, 2 },
};

START_TEST(parser_malformed)
{
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
        result whole, split;
        size_t len = strlen(malformed[i].in);
        parse_all(malformed[i].in, &whole);
        ck_assert_msg(whole.err == malformed[i].err, "input %zu: err %d, want %d", i, whole.err,
                      malformed[i].err);
        ck_assert_int_eq(whole.n, malformed[i].ops_before);
        ck_assert_str_ne(nats_parse_strerror(whole.err), "unknown parser result");
        /* Same error at every split point. */
        for (size_t cut = 1; cut < len; cut++) {
            size_t sizes[2] = { cut, len };
            parse_chunks(malformed[i].in, len, sizes, 2, 0, &split);
            assert_same(&whole, &split);
        }
    }
}
END_TEST

START_TEST(parser_errors_are_sticky)
{
    nats_parser p;
    nats_op op;
    size_t used;
    nats_parser_init(&p, 0);
    ck_assert_int_eq(nats_parser_next(&p, "XX\r\n", 4, &used, &op), NATS_PERR_UNKNOWN_OP);
    ck_assert_int_eq(nats_parser_next(&p, "PING\r\n", 6, &used, &op), NATS_PERR_UNKNOWN_OP);
    ck_assert_uint_eq(used, 0);
    nats_parser_free(&p);
    ck_assert_str_eq(nats_parse_client_error(NATS_PERR_UNKNOWN_OP), "Unknown Protocol Operation");
    ck_assert_str_eq(nats_parse_client_error(NATS_PERR_MAX_PAYLOAD), "Maximum Payload Violation");
}
END_TEST

START_TEST(parser_control_line_limit)
{
    size_t n = NATS_MAX_CONTROL_LINE + 100;
    char *s = malloc(n + 16);
    ck_assert_ptr_nonnull(s);
    result whole, split;
    /* Exactly at the limit: accepted. */
    memcpy(s, "SUB ", 4);
    memset(s + 4, 'a', NATS_MAX_CONTROL_LINE - 6);
    memcpy(s + NATS_MAX_CONTROL_LINE - 2, " 1\r\n", 5);
    ck_assert_uint_eq(strlen(s), NATS_MAX_CONTROL_LINE + 2);
    parse_all(s, &whole);
    ck_assert_int_eq(whole.err, 0);
    ck_assert_int_eq(whole.n, 1);
    /* One byte over: refused, whole or split, also without any line end at all. */
    memcpy(s, "SUB ", 4);
    memset(s + 4, 'a', NATS_MAX_CONTROL_LINE - 5);
    memcpy(s + NATS_MAX_CONTROL_LINE - 1, " 1\r\n", 5);
    parse_all(s, &whole);
    ck_assert_int_eq(whole.err, NATS_PERR_CONTROL_LINE);
    size_t sizes[2] = { 100, 1 };
    parse_chunks(s, strlen(s), sizes, 2, 0, &split);
    assert_same(&whole, &split);
    memset(s, 'P', n);
    s[n] = '\0';
    parse_all(s, &whole);
    ck_assert_int_eq(whole.err, NATS_PERR_CONTROL_LINE);
    size_t one = 1;
    parse_chunks(s, n, &one, 1, 0, &split);
    ck_assert_int_eq(split.err, NATS_PERR_CONTROL_LINE);
    free(s);
}
END_TEST

START_TEST(parser_max_payload_option)
{
    result r;
    size_t len = strlen("PUB a 10\r\n0123456789\r\n");
    parse_chunks("PUB a 10\r\n0123456789\r\n", len, &len, 1, 10, &r);
    ck_assert_int_eq(r.err, 0);
    ck_assert_int_eq(r.n, 1);
    len = strlen("PUB a 11\r\n0123456789a\r\n");
    parse_chunks("PUB a 11\r\n0123456789a\r\n", len, &len, 1, 10, &r);
    ck_assert_int_eq(r.err, NATS_PERR_MAX_PAYLOAD);
}
END_TEST

START_TEST(connect_json)
{
    nats_connect_opts o;
    const char *j = "{\"verbose\":false,\"pedantic\":true,\"user\":\"al\\\"ice\",\"pass\":\"p\\u00e9\","
                    "\"auth_token\":\"t\",\"echo\":false,\"protocol\":1,\"lang\":\"node\","
                    "\"tls_required\":false,\"nested\":{\"a\":[1,-2.5e3,null,true]},\"name\":null}";
    ck_assert_int_eq(nats_connect_parse(j, strlen(j), &o), 0);
    ck_assert_int_eq(o.verbose, 0);
    ck_assert_int_eq(o.pedantic, 1);
    ck_assert_int_eq(o.echo, 0);
    ck_assert_int_eq(o.protocol, 1);
    ck_assert_str_eq(o.user, "al\"ice");
    ck_assert_str_eq(o.pass, "p\xc3\xa9");
    ck_assert_str_eq(o.auth_token, "t");
    ck_assert(o.has_user && o.has_pass && o.has_token);

    ck_assert_int_eq(nats_connect_parse("{}", 2, &o), 0);
    ck_assert_int_eq(o.verbose, 1); /* nats-server's defaults */
    ck_assert_int_eq(o.echo, 1);
    ck_assert(!o.has_user);

    static const char *bad[] = { "", "{", "[]", "{\"verbose\":1}", "{\"user\":5}",
                                 "{\"a\":}", "{\"a\":1,}", "{\"a\" 1}", "{} x", "{\"a\":tru}",
                                 "{\"a\":\"\\q\"}", "{\"a\":\"\\u12\"}", "nul", "{\"a\":01x}" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(nats_connect_parse(bad[i], strlen(bad[i]), &o) < 0, "accepted %s", bad[i]);
    /* Deep nesting is refused rather than recursing without bound. */
    char deep[200];
    strcpy(deep, "{\"a\":");
    for (int i = 0; i < 60; i++)
        strcat(deep, "[");
    ck_assert_int_lt(nats_connect_parse(deep, strlen(deep), &o), 0);
}
END_TEST

/* ---- sublist ------------------------------------------------------------------------------- */

static int contains(const nats_sublist_result *r, void *item)
{
    for (size_t i = 0; i < r->count; i++)
        if (r->items[i] == item)
            return 1;
    return 0;
}

static size_t match(nats_sublist *sl, const char *subj, nats_sublist_result *r)
{
    ck_assert_int_eq(nats_sublist_match(sl, subj, strlen(subj), NULL, NULL, r), 0);
    return r->count;
}

START_TEST(sublist_wildcards)
{
    nats_sublist *sl = nats_sublist_new();
    nats_sublist_result r = { 0 };
    int a, b, c, d, e, f;
    ck_assert_int_eq(nats_sublist_insert(sl, "foo.bar", NULL, &a), 0);
    ck_assert_int_eq(nats_sublist_insert(sl, "foo.*", "", &b), 0);
    ck_assert_int_eq(nats_sublist_insert(sl, "foo.>", NULL, &c), 0);
    ck_assert_int_eq(nats_sublist_insert(sl, ">", NULL, &d), 0);
    ck_assert_int_eq(nats_sublist_insert(sl, "*.bar.*", NULL, &e), 0);
    ck_assert_int_eq(nats_sublist_insert(sl, "foo.bar*", NULL, &f), 0); /* literal token */
    ck_assert_uint_eq(nats_sublist_count(sl), 6);

    ck_assert_uint_eq(match(sl, "foo.bar", &r), 4);
    ck_assert(contains(&r, &a) && contains(&r, &b) && contains(&r, &c) && contains(&r, &d));
    ck_assert_uint_eq(match(sl, "foo", &r), 1); /* "foo.>" needs at least one more token */
    ck_assert(contains(&r, &d));
    ck_assert_uint_eq(match(sl, "foo.bar.baz", &r), 3);
    ck_assert(contains(&r, &c) && contains(&r, &d) && contains(&r, &e));
    ck_assert_uint_eq(match(sl, "x.bar.y", &r), 2);
    ck_assert_uint_eq(match(sl, "x.bar", &r), 1);
    ck_assert_uint_eq(match(sl, "foo.bar*", &r), 4);
    ck_assert(contains(&r, &f) && contains(&r, &b) && !contains(&r, &a));

    ck_assert_int_eq(nats_sublist_remove(sl, "foo.*", NULL, &b), 0);
    ck_assert_int_eq(nats_sublist_remove(sl, "foo.*", NULL, &b), -1);
    ck_assert_int_eq(nats_sublist_remove(sl, "foo.bar", NULL, &c), -1);
    ck_assert_uint_eq(match(sl, "foo.bar", &r), 3);
    ck_assert(!contains(&r, &b));
    ck_assert_int_eq(nats_sublist_remove(sl, "foo.bar", NULL, &a), 0);
    ck_assert_int_eq(nats_sublist_remove(sl, "foo.>", NULL, &c), 0);
    ck_assert_int_eq(nats_sublist_remove(sl, ">", NULL, &d), 0);
    ck_assert_int_eq(nats_sublist_remove(sl, "*.bar.*", NULL, &e), 0);
    ck_assert_int_eq(nats_sublist_remove(sl, "foo.bar*", NULL, &f), 0);
    ck_assert_uint_eq(nats_sublist_count(sl), 0);
    ck_assert_uint_eq(match(sl, "foo.bar", &r), 0);

    /* Invalid subscribe subjects are refused. */
    ck_assert_int_eq(nats_sublist_insert(sl, "foo..bar", NULL, &a), -1);
    ck_assert_int_eq(nats_sublist_insert(sl, "foo.>.bar", NULL, &a), -1);
    ck_assert_int_eq(nats_sublist_insert(sl, "foo", "bad queue", &a), -1);
    nats_sublist_result_free(&r);
    nats_sublist_free(sl);
}
END_TEST

START_TEST(sublist_queue_groups)
{
    nats_sublist *sl = nats_sublist_new();
    nats_sublist_result r = { 0 };
    int plain, q1[3], q2[2];
    int hits1[3] = { 0 }, hits2[2] = { 0 };
    ck_assert_int_eq(nats_sublist_insert(sl, "orders.*", NULL, &plain), 0);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(nats_sublist_insert(sl, "orders.new", "workers", &q1[i]), 0);
    ck_assert_int_eq(nats_sublist_insert(sl, "orders.*", "audit", &q2[0]), 0);
    ck_assert_int_eq(nats_sublist_insert(sl, "orders.>", "audit", &q2[1]), 0);
    for (int n = 0; n < 300; n++) {
        ck_assert_uint_eq(match(sl, "orders.new", &r), 3); /* plain + one per group */
        ck_assert(contains(&r, &plain));
        int in1 = 0, in2 = 0;
        for (int i = 0; i < 3; i++)
            if (contains(&r, &q1[i])) { hits1[i]++; in1++; }
        for (int i = 0; i < 2; i++)
            if (contains(&r, &q2[i])) { hits2[i]++; in2++; }
        ck_assert_int_eq(in1, 1);
        ck_assert_int_eq(in2, 1); /* same group name across two subjects: still one */
    }
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(hits1[i], 100); /* round-robin */
    ck_assert_int_eq(hits2[0] + hits2[1], 300);
    ck_assert_int_gt(hits2[0], 0);
    ck_assert_int_gt(hits2[1], 0);
    ck_assert_uint_eq(match(sl, "orders.old", &r), 2);

    ck_assert_int_eq(nats_sublist_remove(sl, "orders.new", "workers", &q1[0]), 0);
    ck_assert_int_eq(nats_sublist_remove(sl, "orders.new", "other", &q1[1]), -1);
    for (int n = 0; n < 10; n++) {
        match(sl, "orders.new", &r);
        ck_assert(!contains(&r, &q1[0]));
        ck_assert(contains(&r, &q1[1]) || contains(&r, &q1[2]));
    }
    nats_sublist_result_free(&r);
    nats_sublist_free(sl);
}
END_TEST

static int reject_first(void *item, void *ud)
{
    return item != ud;
}

START_TEST(sublist_filter)
{
    nats_sublist *sl = nats_sublist_new();
    nats_sublist_result r = { 0 };
    int a, b, c;
    nats_sublist_insert(sl, "x", NULL, &a);
    nats_sublist_insert(sl, "x", "g", &b);
    nats_sublist_insert(sl, "x", "g", &c);
    for (int i = 0; i < 6; i++) {
        ck_assert_int_eq(nats_sublist_match(sl, "x", 1, reject_first, &b, &r), 0);
        ck_assert_uint_eq(r.count, 2);
        ck_assert(contains(&r, &a) && contains(&r, &c));
    }
    ck_assert_int_eq(nats_sublist_match(sl, "x", 1, reject_first, &a, &r), 0);
    ck_assert(!contains(&r, &a));
    nats_sublist_result_free(&r);
    nats_sublist_free(sl);
}
END_TEST

START_TEST(sublist_many_subjects)
{
    nats_sublist *sl = nats_sublist_new();
    nats_sublist_result r = { 0 };
    enum { N = 5000 };
    static int items[N];
    char subj[64];
    for (int i = 0; i < N; i++) {
        snprintf(subj, sizeof subj, "_INBOX.%d.%d", i % 50, i);
        ck_assert_int_eq(nats_sublist_insert(sl, subj, NULL, &items[i]), 0);
    }
    for (int i = 0; i < N; i += 7) {
        snprintf(subj, sizeof subj, "_INBOX.%d.%d", i % 50, i);
        ck_assert_uint_eq(match(sl, subj, &r), 1);
        ck_assert_ptr_eq(r.items[0], &items[i]);
    }
    for (int i = 0; i < N; i++) {
        snprintf(subj, sizeof subj, "_INBOX.%d.%d", i % 50, i);
        ck_assert_int_eq(nats_sublist_remove(sl, subj, NULL, &items[i]), 0);
    }
    ck_assert_uint_eq(nats_sublist_count(sl), 0);
    nats_sublist_result_free(&r);
    nats_sublist_free(sl);
}
END_TEST

START_TEST(subject_validation)
{
    static const char *pub_ok[] = { "a", "foo.bar", "_INBOX.x1", "a*", "a>.b", "$SYS.x" };
    static const char *pub_bad[] = { "", ".", "a.", ".a", "a..b", "*", "a.*", "a.>", "a b", "a\tb" };
    static const char *sub_ok[] = { "a", "*", ">", "a.*.c", "a.>", "*.*", "a*" };
    static const char *sub_bad[] = { "", "a.>.c", ">.a", "a..b", "a.", "a b", "a\r\n" };
    for (size_t i = 0; i < sizeof pub_ok / sizeof *pub_ok; i++)
        ck_assert_msg(nats_subject_valid_publish(pub_ok[i], strlen(pub_ok[i])), "%s", pub_ok[i]);
    for (size_t i = 0; i < sizeof pub_bad / sizeof *pub_bad; i++)
        ck_assert_msg(!nats_subject_valid_publish(pub_bad[i], strlen(pub_bad[i])), "%s", pub_bad[i]);
    for (size_t i = 0; i < sizeof sub_ok / sizeof *sub_ok; i++)
        ck_assert_msg(nats_subject_valid_subscribe(sub_ok[i], strlen(sub_ok[i])), "%s", sub_ok[i]);
    for (size_t i = 0; i < sizeof sub_bad / sizeof *sub_bad; i++)
        ck_assert_msg(!nats_subject_valid_subscribe(sub_bad[i], strlen(sub_bad[i])), "%s", sub_bad[i]);
    ck_assert(nats_queue_name_valid("q1", 2));
    ck_assert(!nats_queue_name_valid("", 0));
    ck_assert(!nats_queue_name_valid("a b", 3));
}
END_TEST

/* ---- in-process server API ----------------------------------------------------------------- */

typedef struct rec {
    nats_server *srv;
    int count;
    char last_subject[128];
    char last_reply[128];
    char last_data[128];
    uint64_t sid;
    int unsub_self_after;
    int reply_to_requests;
} rec;

static void on_msg(nats_server *srv, const nats_server_msg *m, void *ud)
{
    rec *r = ud;
    r->count++;
    snprintf(r->last_subject, sizeof r->last_subject, "%s", m->subject);
    snprintf(r->last_reply, sizeof r->last_reply, "%s", m->reply ? m->reply : "(none)");
    snprintf(r->last_data, sizeof r->last_data, "%.*s", (int)m->len, (const char *)m->data);
    if (r->unsub_self_after && r->count == r->unsub_self_after)
        ck_assert_int_eq(nats_server_unsubscribe(srv, m->sid), 0);
    if (r->reply_to_requests && m->reply)
        ck_assert_int_eq(nats_server_publish(srv, m->reply, NULL, "pong", 4), 0);
}

static int closed_flag;
static void on_closed(void *ud)
{
    (void)ud;
    closed_flag = 1;
}

static void on_closed_count(void *ud)
{
    (*(int *)ud)++;
}

static nats_server *make_server(uv_loop_t *loop)
{
    nats_server_config cfg;
    nats_server *srv = NULL;
    nats_server_config_init(&cfg);
    cfg.port = 0;
    cfg.max_payload = 1000;
    ck_assert_int_eq(nats_server_new(loop, &cfg, &srv), 0);
    return srv;
}

static void close_server(uv_loop_t *loop, nats_server *srv)
{
    closed_flag = 0;
    nats_server_close(srv, on_closed, NULL);
    ck_assert_int_eq(closed_flag, 0); /* never from inside the call */
    uv_run(loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(closed_flag, 1);
}

START_TEST(server_inprocess_pubsub)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    nats_server *srv = make_server(&loop);
    rec wild = { 0 }, exact = { 0 }, q[2] = { { 0 } };
    uint64_t s1, s2, s3, s4;
    ck_assert_int_eq(nats_server_subscribe(srv, "stan.>", NULL, on_msg, &wild, &s1), 0);
    ck_assert_int_eq(nats_server_subscribe(srv, "stan.pub.x", "", on_msg, &exact, &s2), 0);
    ck_assert_int_eq(nats_server_subscribe(srv, "stan.pub.*", "g", on_msg, &q[0], &s3), 0);
    ck_assert_int_eq(nats_server_subscribe(srv, "stan.pub.*", "g", on_msg, &q[1], &s4), 0);
    ck_assert(s1 && s2 && s3 && s4 && s1 != s2);

    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(nats_server_publish(srv, "stan.pub.x", "_INBOX.r", "hello", 5), 0);
    ck_assert_int_eq(wild.count, 10);
    ck_assert_int_eq(exact.count, 10);
    ck_assert_int_eq(q[0].count + q[1].count, 10);
    ck_assert_int_eq(q[0].count, 5);
    ck_assert_str_eq(exact.last_subject, "stan.pub.x");
    ck_assert_str_eq(exact.last_reply, "_INBOX.r");
    ck_assert_str_eq(exact.last_data, "hello");

    ck_assert_int_eq(nats_server_publish(srv, "stan.other", NULL, NULL, 0), 0);
    ck_assert_int_eq(wild.count, 11);
    ck_assert_str_eq(wild.last_reply, "(none)");
    ck_assert_str_eq(wild.last_data, "");

    /* Argument checks. */
    ck_assert_int_eq(nats_server_publish(srv, "stan.*", NULL, "x", 1), NATS_SERVER_EINVAL);
    ck_assert_int_eq(nats_server_publish(srv, "a..b", NULL, "x", 1), NATS_SERVER_EINVAL);
    ck_assert_int_eq(nats_server_publish(srv, "a", "bad reply", "x", 1), NATS_SERVER_EINVAL);
    char big[1001] = { 0 };
    ck_assert_int_eq(nats_server_publish(srv, "a", NULL, big, sizeof big), NATS_SERVER_EPAYLOAD);
    uint64_t bad;
    ck_assert_int_eq(nats_server_subscribe(srv, "a.>.b", NULL, on_msg, &wild, &bad), NATS_SERVER_EINVAL);
    ck_assert_int_eq(nats_server_subscribe(srv, "a", "q q", on_msg, &wild, &bad), NATS_SERVER_EINVAL);
    ck_assert_int_eq(nats_server_subscribe(srv, "a", NULL, NULL, &wild, &bad), NATS_SERVER_EINVAL);

    /* Unsubscribe, then nothing more arrives. */
    ck_assert_int_eq(nats_server_unsubscribe(srv, s2), 0);
    ck_assert_int_eq(nats_server_unsubscribe(srv, s2), NATS_SERVER_ENOTFOUND);
    nats_server_publish(srv, "stan.pub.x", NULL, "x", 1);
    ck_assert_int_eq(exact.count, 10);
    ck_assert_int_eq(wild.count, 12);

    /* Auto-unsubscribe after a count. */
    ck_assert_int_eq(nats_server_unsubscribe_after(srv, s1, 14), 0);
    for (int i = 0; i < 5; i++)
        nats_server_publish(srv, "stan.y", NULL, "x", 1);
    ck_assert_int_eq(wild.count, 14);
    ck_assert_int_eq(nats_server_unsubscribe(srv, s1), NATS_SERVER_ENOTFOUND);
    ck_assert_int_eq(nats_server_unsubscribe_after(srv, s3, 0), NATS_SERVER_EINVAL);

    char inbox[32], inbox2[32];
    ck_assert_int_eq(nats_server_new_inbox(srv, inbox, sizeof inbox), 0);
    ck_assert_int_eq(nats_server_new_inbox(srv, inbox2, sizeof inbox2), 0);
    ck_assert_uint_eq(strlen(inbox), 29);
    ck_assert_int_eq(strncmp(inbox, "_INBOX.", 7), 0);
    ck_assert_str_ne(inbox, inbox2);
    ck_assert_int_eq(nats_server_new_inbox(srv, inbox, 10), NATS_SERVER_EINVAL);

    close_server(&loop, srv);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

START_TEST(server_inprocess_reentrant)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    nats_server *srv = make_server(&loop);
    rec responder = { 0 }, requester = { 0 }, self = { 0 }, other = { 0 };
    uint64_t sid, rsid;
    responder.reply_to_requests = 1;
    self.unsub_self_after = 1;
    ck_assert_int_eq(nats_server_subscribe(srv, "svc.echo", NULL, on_msg, &responder, &sid), 0);
    ck_assert_int_eq(nats_server_subscribe(srv, "_INBOX.req.*", NULL, on_msg, &requester, &rsid), 0);
    /* Request/reply entirely in-process: the reply is published from inside the callback. */
    ck_assert_int_eq(nats_server_publish(srv, "svc.echo", "_INBOX.req.1", "ping", 4), 0);
    ck_assert_int_eq(responder.count, 1);
    ck_assert_int_eq(requester.count, 1);
    ck_assert_str_eq(requester.last_data, "pong");
    ck_assert_str_eq(requester.last_subject, "_INBOX.req.1");

    /* A callback removing its own subscription mid-publish, beside another subscriber. */
    ck_assert_int_eq(nats_server_subscribe(srv, "t", NULL, on_msg, &self, &sid), 0);
    ck_assert_int_eq(nats_server_subscribe(srv, "t", NULL, on_msg, &other, &sid), 0);
    nats_server_publish(srv, "t", NULL, "1", 1);
    nats_server_publish(srv, "t", NULL, "2", 1);
    ck_assert_int_eq(self.count, 1);
    ck_assert_int_eq(other.count, 2);
    close_server(&loop, srv);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

static void on_msg_republish(nats_server *srv, const nats_server_msg *m, void *ud)
{
    int *depth_errors = ud;
    int rc = nats_server_publish(srv, m->subject, NULL, "x", 1);
    if (rc == NATS_SERVER_EDEPTH)
        (*depth_errors)++;
}

START_TEST(server_inprocess_depth_limit)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    nats_server *srv = make_server(&loop);
    int depth_errors = 0;
    uint64_t sid;
    ck_assert_int_eq(nats_server_subscribe(srv, "loop", NULL, on_msg_republish, &depth_errors, &sid), 0);
    ck_assert_int_eq(nats_server_publish(srv, "loop", NULL, "x", 1), 0);
    ck_assert_int_eq(depth_errors, 1);
    close_server(&loop, srv);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

START_TEST(server_listen_and_config)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    nats_server_config cfg;
    nats_server *srv = NULL;
    nats_server_config_init(&cfg);
    ck_assert_str_eq(cfg.host, "127.0.0.1");
    ck_assert_int_eq(cfg.port, 4222);
    cfg.user = "u";
    ck_assert_int_eq(nats_server_new(&loop, &cfg, &srv), NATS_SERVER_EINVAL); /* user w/o pass */
    ck_assert_ptr_null(srv);
    cfg.pass = "p";
    cfg.port = 0;
    ck_assert_int_eq(nats_server_new(&loop, &cfg, &srv), 0);
    ck_assert_int_eq(nats_server_port(srv), -1);
    int uverr = 0;
    ck_assert_int_eq(nats_server_start(srv, &uverr), 0);
    ck_assert_int_gt(nats_server_port(srv), 0);
    ck_assert_uint_eq(strlen(nats_server_id(srv)), 22);
    ck_assert_uint_eq(nats_server_num_clients(srv), 0);

    /* A second server on the same port fails with the uv error. */
    nats_server *srv2 = NULL;
    cfg.port = nats_server_port(srv);
    ck_assert_int_eq(nats_server_new(&loop, &cfg, &srv2), 0);
    ck_assert_int_eq(nats_server_start(srv2, &uverr), NATS_SERVER_ELISTEN);
    ck_assert_int_eq(uverr, UV_EADDRINUSE);
    /* Close both, then run the loop (the listening one keeps it alive until closed). */
    int done2 = 0;
    nats_server_close(srv2, on_closed_count, &done2);
    closed_flag = 0;
    nats_server_close(srv, on_closed, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(done2, 1);
    ck_assert_int_eq(closed_flag, 1);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    ck_assert_str_eq(nats_server_strerror(NATS_SERVER_ENOTFOUND), "no such subscription");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("nats");
    TCase *tc = tcase_create("parser");
    tcase_add_test(tc, parser_valid_stream);
    tcase_add_test(tc, parser_every_split_point);
    tcase_add_test(tc, parser_payload_zero_copy_and_split_copy);
    tcase_add_test(tc, parser_malformed);
    tcase_add_test(tc, parser_errors_are_sticky);
    tcase_add_test(tc, parser_control_line_limit);
    tcase_add_test(tc, parser_max_payload_option);
    tcase_add_test(tc, connect_json);
    suite_add_tcase(s, tc);
    tc = tcase_create("sublist");
    tcase_add_test(tc, sublist_wildcards);
    tcase_add_test(tc, sublist_queue_groups);
    tcase_add_test(tc, sublist_filter);
    tcase_add_test(tc, sublist_many_subjects);
    tcase_add_test(tc, subject_validation);
    suite_add_tcase(s, tc);
    tc = tcase_create("server");
    tcase_add_test(tc, server_inprocess_pubsub);
    tcase_add_test(tc, server_inprocess_reentrant);
    tcase_add_test(tc, server_inprocess_depth_limit);
    tcase_add_test(tc, server_listen_and_config);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
