/* stan_bus.h - the NATS connection of the streaming layer: either the embedded server
 * (in-process calls) or an external server through nats_client, behind one small API, plus
 * requests with a reply timeout (used for heartbeats and the duplicate client ID check).
 *
 * Callbacks run on the loop thread. With the embedded server they may run synchronously inside
 * stan_bus_publish() (a message to one of our own subscriptions); with an external server they
 * always run from the socket read.
 */
#ifndef STAN_BUS_H
#define STAN_BUS_H

#include "nats_client.h"
#include "nats_server.h"

typedef struct stan_bus stan_bus;
typedef struct stan_bus_sub stan_bus_sub;

typedef void (*stan_bus_cb)(const nats_server_msg *m, void *ud);
/* A request's outcome: m is the reply, or NULL when the timeout passed first. */
typedef void (*stan_bus_reply_cb)(const nats_server_msg *m, void *ud);

/* Exactly one of srv and cli is non-NULL. The bus does not own them. */
int stan_bus_new(uv_loop_t *loop, nats_server *srv, nats_client *cli, stan_bus **out);
/* Cancels pending requests (their callbacks do not run) and frees the bus. */
void stan_bus_free(stan_bus *bus);

int stan_bus_subscribe(stan_bus *bus, const char *subject, stan_bus_cb cb, void *ud,
                       stan_bus_sub **out);
/* Accepts NULL. */
void stan_bus_unsubscribe(stan_bus *bus, stan_bus_sub *s);
int stan_bus_publish(stan_bus *bus, const char *subject, const char *reply, const void *data,
                     size_t len);
/* A fresh unique "_INBOX.<22 chars>" in buf (cap >= 30). */
void stan_bus_new_inbox(stan_bus *bus, char *buf, size_t cap);

/* Publishes data to subject with a private reply subject; cb runs once, with the first reply or
 * with NULL after timeout_ms. Returns 0 and an id for stan_bus_cancel(), or an error. */
int stan_bus_request(stan_bus *bus, const char *subject, const void *data, size_t len,
                     uint64_t timeout_ms, stan_bus_reply_cb cb, void *ud, uint64_t *id);
/* Cancels a pending request: its callback will not run. Unknown ids are ignored. */
void stan_bus_cancel(stan_bus *bus, uint64_t id);

#endif
