/* stan_nats.h - the streaming layer's NATS connection: libnats, with every received message handed
 * to the libuv loop thread, and requests with a reply timeout.
 *
 * libnats delivers messages on its own thread; the streaming state belongs to the loop thread, so
 * each message is queued and its handler runs there, in arrival order across all subjects (one
 * global delivery thread). After stan_nats_refuse_input() no message is handled any more, also none
 * already queued: a server that is stopping answers nothing.
 */
#ifndef STAN_NATS_H
#define STAN_NATS_H

#include <nats/nats.h>
#include <stdint.h>
#include <uv.h>

typedef struct stan_nats stan_nats;

/* A received message, on the loop thread; the message is destroyed after the handler returns. */
typedef void (*stan_nats_handler)(natsMsg *m, void *ud);
/* A request's outcome: the reply, or NULL when the timeout passed first or nobody listens. */
typedef void (*stan_nats_reply_handler)(natsMsg *reply, void *ud);

/* Connects with opts (its closed callback is set here; libnats clones them). On failure returns
 * the libnats status and writes its text to err. */
natsStatus stan_nats_connect(uv_loop_t *loop, natsOptions *opts, stan_nats **out, char *err, size_t errcap);

/* The connection, for publishing from any thread (natsConnection_Publish is thread-safe). */
natsConnection *stan_nats_conn(stan_nats *n);

/* Subscribes for the connection's life; h runs on the loop thread. */
natsStatus stan_nats_subscribe(stan_nats *n, const char *subject, stan_nats_handler h, void *ud);

/* From now on received messages are dropped unhandled. Async-signal-safe. */
void stan_nats_refuse_input(stan_nats *n);

/* Publishes data to subject with a private reply subject; h runs once on the loop thread, with the
 * first reply or with NULL after timeout_ms. Returns 0 and an id for stan_nats_cancel(). Loop thread. */
natsStatus stan_nats_request(stan_nats *n, const char *subject, uint64_t timeout_ms, stan_nats_reply_handler h,
                             void *ud, uint64_t *id);
/* A pending request's handler will not run. Unknown ids are ignored. Loop thread. */
void stan_nats_cancel(stan_nats *n, uint64_t id);

/* A fresh unique token (NUID, 22 characters) in buf (cap >= 23). */
void stan_nats_nuid(char *buf, size_t cap);

/* Waits up to timeout_ms for the server to have processed everything published so far. */
natsStatus stan_nats_flush(stan_nats *n, int64_t timeout_ms);

/* Refuses input, drains and closes the connection (up to 2 s), waits for libnats's threads to end
 * (so no handler is running), cancels pending requests and frees everything. Loop thread. Accepts
 * NULL. */
void stan_nats_close(stan_nats *n);

#endif
