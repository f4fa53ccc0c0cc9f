/* nats_server.h - an embeddable NATS server (core client protocol) on a libuv loop.
 *
 * Speaks the NATS client protocol to TCP clients: INFO, CONNECT (verbose, pedantic, echo,
 * user/password or token auth), PUB, SUB with queue groups, UNSUB with a maximum, MSG, PING/PONG,
 * +OK/-ERR, with `*` and `>` wildcards, a maximum payload and bounded per-connection output
 * buffers (a connection whose unsent output exceeds max_pending is closed as a slow consumer).
 * Headers (HPUB) are not supported: INFO says "headers":false.
 *
 * The same server can be used in-process, without sockets, by code that runs on its loop — the
 * NATS Streaming layer is such a client of its own server: see nats_server_subscribe() and
 * nats_server_publish(). In-process and TCP subscribers see each other's messages.
 *
 * Threads: everything runs on the uv loop given to nats_server_new(); no function may be called
 * from another thread.
 *
 * Lifecycle: nats_server_new() -> nats_server_start() -> ... -> nats_server_close(), whose
 * callback runs once every handle is closed; the server is freed right after that callback.
 */
#ifndef NATS_SERVER_H
#define NATS_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define NATS_SERVER_VERSION "0.1.0"

/* Result codes: 0 is success. */
#define NATS_SERVER_OK 0
#define NATS_SERVER_EINVAL (-1)     /* bad argument, invalid subject or queue name */
#define NATS_SERVER_ENOMEM (-2)     /* out of memory; nothing changed */
#define NATS_SERVER_ENOTFOUND (-3)  /* no such subscription */
#define NATS_SERVER_EPAYLOAD (-4)   /* payload larger than max_payload */
#define NATS_SERVER_ELISTEN (-5)    /* could not bind or listen; see the uv error */
#define NATS_SERVER_ECLOSED (-6)    /* the server is closing */
#define NATS_SERVER_EDEPTH (-7)     /* publish nested too deeply inside message callbacks */

/* Static description of a result code, never NULL. */
const char *nats_server_strerror(int rc);

/* Log levels for nats_server_config.log. */
#define NATS_LOG_ERROR 0
#define NATS_LOG_INFO 1
#define NATS_LOG_DEBUG 2
#define NATS_LOG_TRACE 3

typedef struct nats_server nats_server;

/* Configuration. Fill with nats_server_config_init(), then change fields. Strings are copied by
 * nats_server_new(). */
typedef struct nats_server_config {
    const char *host;          /* listen address; default "127.0.0.1" */
    int port;                  /* default 4222; 0 picks a free port (see nats_server_port()) */
    size_t max_payload;        /* default 1 MB */
    size_t max_pending;        /* unsent bytes per connection before it is a slow consumer;
                                  default 64 MB */
    const char *user;          /* with pass: require CONNECT user/pass; default none */
    const char *pass;
    const char *token;         /* require CONNECT auth_token; default none */
    uint64_t ping_interval_ms; /* server PINGs each client this often; default 120000 */
    int max_pings_out;         /* unanswered PINGs before 'Stale Connection'; default 2 */
    uint64_t auth_timeout_ms;  /* CONNECT deadline when auth is required; default 2000 */
    /* Optional log sink; level is NATS_LOG_*. msg is NUL-terminated, valid during the call. */
    void (*log)(int level, const char *msg, void *ud);
    void *log_ud;
    int log_level;             /* messages above this level are not produced; default INFO */
} nats_server_config;

void nats_server_config_init(nats_server_config *cfg);

/* Creates a server on loop. Returns 0 and stores the server in *out, or an error. Nothing is
 * bound until nats_server_start(). */
int nats_server_new(uv_loop_t *loop, const nats_server_config *cfg, nats_server **out);

/* Binds and listens. On NATS_SERVER_ELISTEN, *uv_err (when non-NULL) receives the libuv error
 * (use uv_strerror()). */
int nats_server_start(nats_server *srv, int *uv_err);

/* The port listened on (useful with port 0), or -1 before a successful start. */
int nats_server_port(const nats_server *srv);

/* The server's random server_id, as sent in INFO. Valid until the server is freed. */
const char *nats_server_id(const nats_server *srv);

/* Number of TCP client connections currently open. */
size_t nats_server_num_clients(const nats_server *srv);

/* Stops listening, closes every client connection and drops every in-process subscription.
 * done(ud) is called once all handles are closed (from the loop, never from inside this call);
 * the server is freed right after it returns. Calling any function on srv after
 * nats_server_close() other than waiting for done is a misuse. done may be NULL. */
void nats_server_close(nats_server *srv, void (*done)(void *ud), void *ud);

/* ---- In-process client API ------------------------------------------------------------- */

/* A message delivered to an in-process subscription. All pointers are valid only during the
 * callback; copy what you keep. subject and reply are NUL-terminated; reply is NULL when the
 * publisher set none. data is not NUL-terminated (may be NULL when len is 0). */
typedef struct nats_server_msg {
    uint64_t sid;
    const char *subject;
    const char *reply;
    const void *data;
    size_t len;
} nats_server_msg;

/* Called for each message matching an in-process subscription. Runs synchronously inside the
 * publish that produced the message (a client's PUB or a nats_server_publish() call). It may
 * call nats_server_publish(), nats_server_subscribe() and nats_server_unsubscribe() (even on its
 * own sid); nested publishes are limited to a depth of 16. */
typedef void (*nats_server_msg_cb)(nats_server *srv, const nats_server_msg *msg, void *ud);

/* Subscribes in-process to subject (wildcards allowed) with an optional queue group (NULL or ""
 * for none; members are in-process or TCP subscribers alike). On success stores a server-unique
 * subscription id (never 0) in *sid. Errors: NATS_SERVER_EINVAL (bad subject or queue, NULL cb),
 * NATS_SERVER_ENOMEM, NATS_SERVER_ECLOSED. */
int nats_server_subscribe(nats_server *srv, const char *subject, const char *queue,
                          nats_server_msg_cb cb, void *ud, uint64_t *sid);

/* Removes an in-process subscription now (no further callbacks, even for a publish in progress).
 * Returns 0 or NATS_SERVER_ENOTFOUND. */
int nats_server_unsubscribe(nats_server *srv, uint64_t sid);

/* Removes the subscription after it has received max messages in total (as UNSUB sid max);
 * when it already has, removes it now. Returns 0, NATS_SERVER_ENOTFOUND or NATS_SERVER_EINVAL
 * (max == 0). */
int nats_server_unsubscribe_after(nats_server *srv, uint64_t sid, uint64_t max);

/* Publishes data[0..len) on subject (no wildcards) with an optional reply subject (NULL for
 * none) to every matching subscriber, TCP or in-process. TCP deliveries are copied into the
 * connections' output buffers and sent when the loop runs; in-process callbacks run before this
 * returns. Errors: NATS_SERVER_EINVAL (bad subject or reply), NATS_SERVER_EPAYLOAD,
 * NATS_SERVER_EDEPTH, NATS_SERVER_ENOMEM (some subscribers may have been skipped),
 * NATS_SERVER_ECLOSED. */
int nats_server_publish(nats_server *srv, const char *subject, const char *reply,
                        const void *data, size_t len);

/* Writes a fresh unique inbox subject "_INBOX.<22 random chars>" (29 bytes + NUL) to buf.
 * Returns 0, or NATS_SERVER_EINVAL when cap < 30. */
int nats_server_new_inbox(nats_server *srv, char *buf, size_t cap);

#endif
