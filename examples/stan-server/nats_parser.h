/* nats_parser.h - incremental parser for the NATS client protocol (client -> server).
 *
 * The parser turns a byte stream, delivered in chunks split at any byte boundary, into
 * operations: CONNECT, PUB, HPUB, SUB, UNSUB, PING and PONG. Operation names are
 * case-insensitive and arguments are separated by spaces or tabs, as nats-server accepts.
 * Control lines end in "\r\n" (a bare "\n" is accepted too); a payload must be followed by
 * exactly "\r\n".
 *
 * Allocation: the control line is parsed in place when it arrives in one chunk and otherwise
 * gathered in a fixed buffer inside the parser; a payload is returned as a view into the
 * caller's chunk when it arrives whole, and only a payload split across chunks is copied into a
 * heap buffer (grown up to max_payload + 2 bytes).
 *
 * Errors are sticky: after a negative return the parser keeps returning the same error, since
 * the stream cannot be resynchronised. nats_parse_strerror() gives a description;
 * nats_parse_client_error() gives the text nats-server sends in -ERR for it.
 *
 * The parser holds no global state and is not thread-safe per instance.
 */
#ifndef NATS_PARSER_H
#define NATS_PARSER_H

#include <stddef.h>
#include <stdint.h>

/* Longest control line (without its line end) that is accepted, as nats-server's default. */
#define NATS_MAX_CONTROL_LINE 4096
/* Default maximum payload, as nats-server's default (1 MB). */
#define NATS_DEFAULT_MAX_PAYLOAD (1024 * 1024)

enum nats_op_type {
    NATS_OP_CONNECT = 1,
    NATS_OP_PUB,
    NATS_OP_HPUB,
    NATS_OP_SUB,
    NATS_OP_UNSUB,
    NATS_OP_PING,
    NATS_OP_PONG
};

/* Return codes of nats_parser_next(). */
#define NATS_PARSE_NEED_MORE 0          /* all input consumed, no complete operation yet */
#define NATS_PARSE_OP 1                 /* one operation written to *op */
#define NATS_PERR_UNKNOWN_OP (-1)       /* operation name not recognised, or empty line */
#define NATS_PERR_BAD_ARGS (-2)         /* wrong number or form of arguments */
#define NATS_PERR_CONTROL_LINE (-3)     /* control line longer than NATS_MAX_CONTROL_LINE */
#define NATS_PERR_MAX_PAYLOAD (-4)      /* announced payload size above max_payload */
#define NATS_PERR_PAYLOAD_END (-5)      /* payload not followed by "\r\n" (size mismatch) */
#define NATS_PERR_NOMEM (-6)            /* could not allocate the payload buffer */

/* A view of bytes; not NUL-terminated. len == 0 (and p possibly NULL) when absent. */
typedef struct nats_str {
    const char *p;
    size_t len;
} nats_str;

/* One parsed operation. All views are valid until the next call of nats_parser_next() or
 * nats_parser_free() on the same parser, and (for views into the caller's chunk) for as long
 * as that chunk is. */
typedef struct nats_op {
    int type;           /* enum nats_op_type */
    nats_str subject;   /* PUB, HPUB, SUB */
    nats_str reply;     /* PUB, HPUB: optional reply subject */
    nats_str queue;     /* SUB: optional queue group */
    nats_str sid;       /* SUB, UNSUB */
    nats_str json;      /* CONNECT: the JSON text after the operation name */
    int64_t max_msgs;   /* UNSUB: auto-unsubscribe count, or -1 when absent */
    size_t hdr_len;     /* HPUB: header bytes at the start of the payload */
    nats_str payload;   /* PUB, HPUB: the payload (headers included for HPUB) */
} nats_op;

/* Parser state. Embed it or allocate it; treat the fields as private. */
typedef struct nats_parser {
    size_t max_payload;
    int state;                          /* private */
    int error;                          /* sticky error, 0 when none */
    size_t line_len;                    /* bytes gathered in line[] */
    char line[NATS_MAX_CONTROL_LINE + 2];
    nats_op pending;                    /* PUB/HPUB waiting for its payload (views into line[]) */
    size_t need;                        /* payload bytes + 2 still expected in total */
    size_t have;                        /* bytes gathered in buf */
    char *buf;                          /* heap buffer for a split payload */
    size_t buf_cap;
} nats_parser;

/* Initialises *p. max_payload is the largest accepted payload (0 means the default).
 * Never fails; no memory is allocated until a payload is split across chunks. */
void nats_parser_init(nats_parser *p, size_t max_payload);

/* Frees the parser's buffers. Accepts NULL. The parser may be initialised again after. */
void nats_parser_free(nats_parser *p);

/* Parses input from data[0..len). Stores in *consumed how many bytes were used and returns:
 *  NATS_PARSE_OP: *op holds one operation; call again with data + *consumed for the rest.
 *  NATS_PARSE_NEED_MORE: every byte was consumed (*consumed == len) and the parser waits for
 *    more input; bytes of an incomplete operation are kept inside the parser.
 *  a negative NATS_PERR_* code: malformed input; *consumed is the bytes used before the error.
 * Any split of a valid stream into chunks yields the same sequence of operations. */
int nats_parser_next(nats_parser *p, const char *data, size_t len, size_t *consumed, nats_op *op);

/* Static description of a return code, never NULL. */
const char *nats_parse_strerror(int rc);

/* Static text nats-server puts in "-ERR '<text>'" for a parse error, never NULL. */
const char *nats_parse_client_error(int rc);

/* Options of a CONNECT operation that this server uses. */
typedef struct nats_connect_opts {
    int verbose;        /* default 1 before CONNECT, as nats-server */
    int pedantic;
    int echo;           /* default 1 */
    int headers;
    int protocol;
    char user[256];
    char pass[256];
    char auth_token[256];
    char name[256];
    int has_user, has_pass, has_token;
} nats_connect_opts;

/* Fills *o with defaults (verbose and pedantic on, echo on), then overrides them from the
 * CONNECT JSON object json[0..len). Unknown keys are ignored (clients send many); values of
 * known keys must have the right JSON type. Strings longer than the fields are rejected.
 * Returns 0, or -1 when the text is not a valid JSON object. */
int nats_connect_parse(const char *json, size_t len, nats_connect_opts *o);

#endif
