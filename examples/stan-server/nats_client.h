/* nats_client.h - a small NATS client on libuv, for running the streaming layer against an
 * external NATS server (stan-server -ns nats://host:port).
 *
 * It speaks the client side of the core protocol: it sends CONNECT (with optional user/password
 * or token), SUB, UNSUB, PUB, PING/PONG, and parses INFO, MSG, PING, PONG, +OK and -ERR from the
 * server. Messages are delivered as nats_server_msg (the same view type the embedded server
 * uses), so the streaming layer handles both transports alike.
 *
 * Connection loss: without `reconnect` the lost() callback runs once and the client stays dead.
 * With it, lost() runs for each loss and the client reconnects to the same address with backoff
 * (reconnect_wait_ms, doubling up to reconnect_max_wait_ms, for ever), sends CONNECT and
 * re-subscribes every live subscription under its old sid, then runs reconnected(). While it is
 * disconnected, publishes fail with NATS_SERVER_ECLOSED (nothing is buffered: core NATS is
 * at-most-once), and subscribe/unsubscribe take effect at the reconnect.
 *
 * Threads: everything runs on the uv loop given to nats_client_connect().
 */
#ifndef NATS_CLIENT_H
#define NATS_CLIENT_H

#include "nats_server.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct nats_client nats_client;

typedef void (*nats_client_msg_cb)(nats_client *c, const nats_server_msg *msg, void *ud);

typedef struct nats_client_config {
    const char *url;        /* nats://[user:pass@]host:port, or host:port */
    const char *user, *pass, *token;  /* optional credentials (override the URL's) */
    const char *name;       /* client name sent in CONNECT */
    /* ready(c, err, ud): err is 0 once the server answered CONNECT+PING, else a negative uv
     * error or -1 for a protocol error (the client is then closed by the caller). */
    void (*ready)(nats_client *c, int err, const char *why, void *ud);
    /* lost(c, why, ud): the connection closed after being ready. */
    void (*lost)(nats_client *c, const char *why, void *ud);
    /* reconnected(c, ud): with reconnect, the connection is back and subscriptions re-sent. */
    void (*reconnected)(nats_client *c, void *ud);
    void *ud;
    int reconnect;                 /* reconnect after a loss (see above) */
    int reconnect_wait_ms;         /* first wait (default 100) */
    int reconnect_max_wait_ms;     /* longest wait (default 2000) */
} nats_client_config;

/* Starts connecting; returns 0 (ready() will follow) or a negative error (bad URL: -1,
 * resolution or socket error: a uv error code). */
int nats_client_connect(uv_loop_t *loop, const nats_client_config *cfg, nats_client **out);

int nats_client_subscribe(nats_client *c, const char *subject, const char *queue,
                          nats_client_msg_cb cb, void *ud, uint64_t *sid);
int nats_client_unsubscribe(nats_client *c, uint64_t sid);
int nats_client_publish(nats_client *c, const char *subject, const char *reply, const void *data,
                        size_t len);
/* Sends a PING; cb(ud) runs when its PONG arrives, so the server has processed everything sent
 * before (subscriptions included). A flush pending when the connection is lost is dropped (its
 * callback never runs). Returns 0 or NATS_SERVER_ECLOSED. */
int nats_client_flush(nats_client *c, void (*cb)(void *ud), void *ud);
/* The server's max_payload from INFO (1 MB until INFO arrives). */
size_t nats_client_max_payload(const nats_client *c);

/* Flushes what is buffered, closes the socket and frees the client once libuv is done with it.
 * done may be NULL. No callbacks run after this call. */
void nats_client_close(nats_client *c, void (*done)(void *ud), void *ud);

#endif
