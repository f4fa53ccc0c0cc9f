/* nats_parser.c - incremental NATS client protocol parser; see nats_parser.h. */
#include "nats_parser.h"

#include <stdlib.h>
#include <string.h>

enum { ST_LINE = 0, ST_PAYLOAD = 1 };

#define MAX_TOKENS 6

/* Keep a heap payload buffer this big or smaller between payloads; free bigger ones. */
#define KEEP_BUF 65536

void nats_parser_init(nats_parser *p, size_t max_payload)
{
    memset(p, 0, sizeof *p);
    p->max_payload = max_payload ? max_payload : NATS_DEFAULT_MAX_PAYLOAD;
    p->state = ST_LINE;
}

void nats_parser_free(nats_parser *p)
{
    if (!p)
        return;
    free(p->buf);
    p->buf = NULL;
    p->buf_cap = 0;
    p->have = 0;
}

const char *nats_parse_strerror(int rc)
{
    switch (rc) {
    case NATS_PARSE_NEED_MORE: return "need more input";
    case NATS_PARSE_OP: return "operation parsed";
    case NATS_PERR_UNKNOWN_OP: return "unknown protocol operation";
    case NATS_PERR_BAD_ARGS: return "malformed arguments";
    case NATS_PERR_CONTROL_LINE: return "maximum control line exceeded";
    case NATS_PERR_MAX_PAYLOAD: return "maximum payload exceeded";
    case NATS_PERR_PAYLOAD_END: return "payload not followed by CRLF (size mismatch)";
    case NATS_PERR_NOMEM: return "out of memory";
    default: return "unknown parser result";
    }
}

const char *nats_parse_client_error(int rc)
{
    switch (rc) {
    case NATS_PERR_CONTROL_LINE: return "maximum control line exceeded";
    case NATS_PERR_MAX_PAYLOAD: return "Maximum Payload Violation";
    case NATS_PERR_NOMEM: return "Out of Memory";
    default: return "Unknown Protocol Operation";
    }
}

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

static int ieq(const char *a, size_t alen, const char *lit)
{
    size_t n = strlen(lit);
    if (alen != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = a[i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        if (c != lit[i])
            return 0;
    }
    return 1;
}

/* Parses a non-negative decimal; rejects empty, non-digits and values above limit. */
static int parse_size(nats_str s, uint64_t limit, uint64_t *out)
{
    uint64_t v = 0;
    if (s.len == 0 || s.len > 19)
        return -1;
    for (size_t i = 0; i < s.len; i++) {
        if (s.p[i] < '0' || s.p[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(s.p[i] - '0');
    }
    if (v > limit)
        return -1;
    *out = v;
    return 0;
}

static size_t tokenize(const char *s, size_t len, nats_str *tok, size_t max)
{
    size_t n = 0, i = 0;
    while (i < len) {
        while (i < len && is_space(s[i]))
            i++;
        if (i == len)
            break;
        size_t start = i;
        while (i < len && !is_space(s[i]))
            i++;
        if (n == max)
            return max + 1;
        tok[n].p = s + start;
        tok[n].len = i - start;
        n++;
    }
    return n;
}

/* Parses one control line (without its line end) into *op. Returns NATS_PARSE_OP for a
 * complete operation, 2 for PUB/HPUB that still need their payload, or an error. */
static int parse_line(nats_parser *p, const char *s, size_t len, nats_op *op)
{
    size_t i = 0;
    while (i < len && !is_space(s[i]))
        i++;
    const char *name = s;
    size_t nlen = i;
    const char *rest = s + i;
    size_t rlen = len - i;
    nats_str t[MAX_TOKENS];
    size_t n;
    uint64_t v;

    memset(op, 0, sizeof *op);
    op->max_msgs = -1;

    if (ieq(name, nlen, "PING") || ieq(name, nlen, "PONG")) {
        if (tokenize(rest, rlen, t, MAX_TOKENS) != 0)
            return NATS_PERR_BAD_ARGS;
        op->type = (name[1] == 'I' || name[1] == 'i') ? NATS_OP_PING : NATS_OP_PONG;
        return NATS_PARSE_OP;
    }
    if (ieq(name, nlen, "CONNECT")) {
        while (rlen && is_space(*rest)) {
            rest++;
            rlen--;
        }
        while (rlen && is_space(rest[rlen - 1]))
            rlen--;
        if (rlen == 0)
            return NATS_PERR_BAD_ARGS;
        op->type = NATS_OP_CONNECT;
        op->json.p = rest;
        op->json.len = rlen;
        return NATS_PARSE_OP;
    }
    if (ieq(name, nlen, "PUB")) {
        n = tokenize(rest, rlen, t, MAX_TOKENS);
        if (n != 2 && n != 3)
            return NATS_PERR_BAD_ARGS;
        op->type = NATS_OP_PUB;
        op->subject = t[0];
        if (n == 3)
            op->reply = t[1];
        if (parse_size(t[n - 1], UINT64_MAX / 2, &v) < 0)
            return NATS_PERR_BAD_ARGS;
        if (v > p->max_payload)
            return NATS_PERR_MAX_PAYLOAD;
        op->payload.len = (size_t)v;
        return 2;
    }
    if (ieq(name, nlen, "HPUB")) {
        uint64_t h;
        n = tokenize(rest, rlen, t, MAX_TOKENS);
        if (n != 3 && n != 4)
            return NATS_PERR_BAD_ARGS;
        op->type = NATS_OP_HPUB;
        op->subject = t[0];
        if (n == 4)
            op->reply = t[1];
        if (parse_size(t[n - 2], UINT64_MAX / 2, &h) < 0 ||
            parse_size(t[n - 1], UINT64_MAX / 2, &v) < 0 || h > v)
            return NATS_PERR_BAD_ARGS;
        if (v > p->max_payload)
            return NATS_PERR_MAX_PAYLOAD;
        op->hdr_len = (size_t)h;
        op->payload.len = (size_t)v;
        return 2;
    }
    if (ieq(name, nlen, "SUB")) {
        n = tokenize(rest, rlen, t, MAX_TOKENS);
        if (n != 2 && n != 3)
            return NATS_PERR_BAD_ARGS;
        op->type = NATS_OP_SUB;
        op->subject = t[0];
        if (n == 3)
            op->queue = t[1];
        op->sid = t[n - 1];
        return NATS_PARSE_OP;
    }
    if (ieq(name, nlen, "UNSUB")) {
        n = tokenize(rest, rlen, t, MAX_TOKENS);
        if (n != 1 && n != 2)
            return NATS_PERR_BAD_ARGS;
        op->type = NATS_OP_UNSUB;
        op->sid = t[0];
        if (n == 2) {
            if (parse_size(t[1], INT64_MAX, &v) < 0)
                return NATS_PERR_BAD_ARGS;
            op->max_msgs = (int64_t)v;
        }
        return NATS_PARSE_OP;
    }
    return NATS_PERR_UNKNOWN_OP;
}

/* Moves the views of p->pending that point into [base, base+len) into p->line. */
static void rebase_pending(nats_parser *p, const char *base, size_t len)
{
    if (base != p->line)
        memcpy(p->line, base, len);
    nats_str *v[] = { &p->pending.subject, &p->pending.reply };
    for (size_t i = 0; i < 2; i++)
        if (v[i]->len)
            v[i]->p = p->line + (v[i]->p - base);
}

static int fail(nats_parser *p, int rc)
{
    p->error = rc;
    return rc;
}

int nats_parser_next(nats_parser *p, const char *data, size_t len, size_t *consumed, nats_op *op)
{
    size_t used = 0;
    *consumed = 0;
    if (p->error)
        return p->error;
    /* The heap copy of the previous split payload is no longer referenced. */
    if (p->state == ST_LINE && p->buf && p->buf_cap > KEEP_BUF) {
        free(p->buf);
        p->buf = NULL;
        p->buf_cap = 0;
    }

    if (p->state == ST_LINE) {
        const char *line;
        size_t llen;
        size_t room = NATS_MAX_CONTROL_LINE + 2 - p->line_len;
        size_t scan = len < room ? len : room;
        const char *nl = scan ? memchr(data, '\n', scan) : NULL;
        if (!nl) {
            if (len >= room)
                return fail(p, NATS_PERR_CONTROL_LINE);
            memcpy(p->line + p->line_len, data, len);
            p->line_len += len;
            *consumed = len;
            return NATS_PARSE_NEED_MORE;
        }
        size_t take = (size_t)(nl - data);
        used = take + 1;
        if (p->line_len == 0) {
            line = data;
            llen = take;
        } else {
            memcpy(p->line + p->line_len, data, take);
            line = p->line;
            llen = p->line_len + take;
        }
        p->line_len = 0;
        if (llen && line[llen - 1] == '\r')
            llen--;
        if (llen > NATS_MAX_CONTROL_LINE)
            return fail(p, NATS_PERR_CONTROL_LINE);
        int rc = parse_line(p, line, llen, op);
        if (rc < 0) {
            *consumed = used;
            return fail(p, rc);
        }
        if (rc == NATS_PARSE_OP) {
            *consumed = used;
            return NATS_PARSE_OP;
        }
        /* PUB/HPUB: the payload and its CRLF follow. */
        size_t need = op->payload.len + 2;
        if (len - used >= need) {
            const char *pl = data + used;
            if (pl[need - 2] != '\r' || pl[need - 1] != '\n') {
                *consumed = used;
                return fail(p, NATS_PERR_PAYLOAD_END);
            }
            op->payload.p = pl;
            *consumed = used + need;
            return NATS_PARSE_OP;
        }
        p->pending = *op;
        rebase_pending(p, line, llen);
        p->need = need;
        p->have = 0;
        p->state = ST_PAYLOAD;
        data += used;
        len -= used;
    }

    /* ST_PAYLOAD: gather p->need bytes (payload + CRLF). */
    if (p->have == 0 && len >= p->need) {
        /* Whole payload in this chunk: return a view into it. */
        const char *pl = data;
        size_t need = p->need;
        if (pl[need - 2] != '\r' || pl[need - 1] != '\n') {
            *consumed = used;
            return fail(p, NATS_PERR_PAYLOAD_END);
        }
        *op = p->pending;
        op->payload.p = pl;
        p->state = ST_LINE;
        *consumed = used + need;
        return NATS_PARSE_OP;
    }
    if (p->buf_cap < p->need) {
        char *nb = realloc(p->buf, p->need);
        if (!nb)
            return fail(p, NATS_PERR_NOMEM);
        p->buf = nb;
        p->buf_cap = p->need;
    }
    size_t take = p->need - p->have;
    if (take > len)
        take = len;
    memcpy(p->buf + p->have, data, take);
    p->have += take;
    used += take;
    *consumed = used;
    if (p->have < p->need)
        return NATS_PARSE_NEED_MORE;
    if (p->buf[p->need - 2] != '\r' || p->buf[p->need - 1] != '\n')
        return fail(p, NATS_PERR_PAYLOAD_END);
    *op = p->pending;
    op->payload.p = p->buf;
    p->state = ST_LINE;
    p->have = 0;
    return NATS_PARSE_OP;
}

/* ---- CONNECT JSON ---------------------------------------------------------------------- */

typedef struct jcur {
    const char *s, *e;
    int depth;
} jcur;

static void jws(jcur *c)
{
    while (c->s < c->e && (*c->s == ' ' || *c->s == '\t' || *c->s == '\r' || *c->s == '\n'))
        c->s++;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Parses a JSON string at c->s (which must be '"'). When out is non-NULL the decoded UTF-8 is
 * written there (NUL-terminated, at most cap bytes with the NUL). Returns 0, -1 on a syntax
 * error, -2 when the decoded string does not fit. */
static int jstring(jcur *c, char *out, size_t cap)
{
    size_t n = 0;
    int toolong = 0;
    if (c->s >= c->e || *c->s != '"')
        return -1;
    c->s++;
    while (c->s < c->e) {
        unsigned char ch = (unsigned char)*c->s++;
        uint32_t cp;
        if (ch == '"') {
            if (out)
                out[n < cap ? n : cap - 1] = '\0';
            return toolong ? -2 : 0;
        }
        if (ch < 0x20)
            return -1;
        if (ch != '\\') {
            cp = ch; /* raw byte, copied as is (UTF-8 passes through) */
            if (out) {
                if (n + 1 < cap) out[n++] = (char)ch; else toolong = 1;
            }
            continue;
        }
        if (c->s >= c->e)
            return -1;
        ch = (unsigned char)*c->s++;
        switch (ch) {
        case '"': cp = '"'; break;
        case '\\': cp = '\\'; break;
        case '/': cp = '/'; break;
        case 'b': cp = '\b'; break;
        case 'f': cp = '\f'; break;
        case 'n': cp = '\n'; break;
        case 'r': cp = '\r'; break;
        case 't': cp = '\t'; break;
        case 'u': {
            if (c->e - c->s < 4)
                return -1;
            cp = 0;
            for (int k = 0; k < 4; k++) {
                int h = hexval(c->s[k]);
                if (h < 0)
                    return -1;
                cp = cp * 16 + (uint32_t)h;
            }
            c->s += 4;
            break;
        }
        default:
            return -1;
        }
        if (out) {
            /* Encode as UTF-8 (surrogates kept as individual code units; fine for names). */
            char u[4];
            size_t ul;
            if (cp < 0x80) { u[0] = (char)cp; ul = 1; }
            else if (cp < 0x800) { u[0] = (char)(0xC0 | (cp >> 6)); u[1] = (char)(0x80 | (cp & 0x3F)); ul = 2; }
            else { u[0] = (char)(0xE0 | (cp >> 12)); u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
                   u[2] = (char)(0x80 | (cp & 0x3F)); ul = 3; }
            if (n + ul < cap) { memcpy(out + n, u, ul); n += ul; } else toolong = 1;
        }
    }
    return -1;
}

static int jvalue(jcur *c);

static int jliteral(jcur *c, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(c->e - c->s) < n || memcmp(c->s, lit, n) != 0)
        return -1;
    c->s += n;
    return 0;
}

static int jnumber(jcur *c, long long *out)
{
    const char *st = c->s;
    long long v = 0;
    int neg = 0, digits = 0, frac = 0;
    if (c->s < c->e && *c->s == '-') { neg = 1; c->s++; }
    while (c->s < c->e && *c->s >= '0' && *c->s <= '9') {
        if (v < 100000000000000LL)
            v = v * 10 + (*c->s - '0');
        c->s++;
        digits++;
    }
    if (!digits)
        return -1;
    if (c->s < c->e && *c->s == '.') {
        c->s++;
        while (c->s < c->e && *c->s >= '0' && *c->s <= '9') { c->s++; frac++; }
        if (!frac) return -1;
    }
    if (c->s < c->e && (*c->s == 'e' || *c->s == 'E')) {
        c->s++;
        if (c->s < c->e && (*c->s == '+' || *c->s == '-')) c->s++;
        int ed = 0;
        while (c->s < c->e && *c->s >= '0' && *c->s <= '9') { c->s++; ed++; }
        if (!ed) return -1;
    }
    (void)st;
    if (out)
        *out = neg ? -v : v;
    return 0;
}

static int jcontainer(jcur *c, char open, char close)
{
    if (++c->depth > 32)
        return -1;
    c->s++; /* open */
    (void)open;
    jws(c);
    if (c->s < c->e && *c->s == close) {
        c->s++;
        c->depth--;
        return 0;
    }
    for (;;) {
        jws(c);
        if (close == '}') {
            if (jstring(c, NULL, 0) != 0)
                return -1;
            jws(c);
            if (c->s >= c->e || *c->s != ':')
                return -1;
            c->s++;
            jws(c);
        }
        if (jvalue(c) != 0)
            return -1;
        jws(c);
        if (c->s >= c->e)
            return -1;
        if (*c->s == ',') { c->s++; continue; }
        if (*c->s == close) { c->s++; c->depth--; return 0; }
        return -1;
    }
}

static int jvalue(jcur *c)
{
    if (c->s >= c->e)
        return -1;
    switch (*c->s) {
    case '"': return jstring(c, NULL, 0) == 0 ? 0 : -1;
    case '{': return jcontainer(c, '{', '}');
    case '[': return jcontainer(c, '[', ']');
    case 't': return jliteral(c, "true");
    case 'f': return jliteral(c, "false");
    case 'n': return jliteral(c, "null");
    default: return jnumber(c, NULL);
    }
}

static int jbool(jcur *c, int *out)
{
    if (jliteral(c, "true") == 0) { *out = 1; return 0; }
    if (jliteral(c, "false") == 0) { *out = 0; return 0; }
    return -1;
}

int nats_connect_parse(const char *json, size_t len, nats_connect_opts *o)
{
    jcur c = { json, json + len, 0 };
    memset(o, 0, sizeof *o);
    o->verbose = 1;
    o->pedantic = 1;
    o->echo = 1;

    jws(&c);
    if (c.s >= c.e || *c.s != '{')
        return -1;
    c.s++;
    c.depth = 1;
    jws(&c);
    if (c.s < c.e && *c.s == '}') {
        c.s++;
        goto end;
    }
    for (;;) {
        char key[32];
        int krc;
        jws(&c);
        krc = jstring(&c, key, sizeof key);
        if (krc == -1)
            return -1;
        if (krc == -2)
            key[0] = '\0'; /* a long key is no key we know */
        jws(&c);
        if (c.s >= c.e || *c.s != ':')
            return -1;
        c.s++;
        jws(&c);
        int rc;
        if (!strcmp(key, "verbose")) rc = jbool(&c, &o->verbose);
        else if (!strcmp(key, "pedantic")) rc = jbool(&c, &o->pedantic);
        else if (!strcmp(key, "echo")) rc = jbool(&c, &o->echo);
        else if (!strcmp(key, "headers")) rc = jbool(&c, &o->headers);
        else if (!strcmp(key, "protocol")) {
            long long v;
            rc = jnumber(&c, &v);
            o->protocol = (int)(v > 1000 ? 1000 : v < 0 ? 0 : v);
        }
        else if (!strcmp(key, "user")) { rc = jstring(&c, o->user, sizeof o->user); o->has_user = 1; }
        else if (!strcmp(key, "pass")) { rc = jstring(&c, o->pass, sizeof o->pass); o->has_pass = 1; }
        else if (!strcmp(key, "auth_token")) { rc = jstring(&c, o->auth_token, sizeof o->auth_token); o->has_token = 1; }
        else if (!strcmp(key, "name")) {
            if (c.s < c.e && *c.s == '"') {
                rc = jstring(&c, o->name, sizeof o->name);
                if (rc == -2) rc = 0; /* a long name is just cut */
            } else {
                rc = jvalue(&c);
            }
        }
        else rc = jvalue(&c);
        if (rc != 0)
            return -1;
        jws(&c);
        if (c.s >= c.e)
            return -1;
        if (*c.s == ',') { c.s++; continue; }
        if (*c.s == '}') { c.s++; break; }
        return -1;
    }
end:
    jws(&c);
    return c.s == c.e ? 0 : -1;
}
