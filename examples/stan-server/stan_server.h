/* stan_server.h - the NATS Streaming protocol on top of a libnats connection (stan_nats), with
 * every message, channel, subscription and limit kept by libstreamlog.
 *
 * The server translates: a PubMsg becomes a streamlog_append() (on appender threads, which send
 * the PubAck as soon as it returns), a SubscriptionRequest a streamlog_subscribe() whose fd is
 * watched on the loop, an Ack a streamlog_ack(). Clients (ID, heartbeat inbox, connID) live in
 * memory only. Everything but storing and PubAcks runs on the loop thread.
 */
#ifndef STAN_SERVER_H
#define STAN_SERVER_H

#include "stan_nats.h"

#include <stdint.h>
#include <uv.h>

#define STAN_SERVER_VERSION "0.2.0"

enum { STAN_LOG_ERROR, STAN_LOG_INFO, STAN_LOG_DEBUG, STAN_LOG_TRACE };

typedef struct stan_config {
    const char *cluster_id;     /* default "test-cluster" */
    const char *dir;            /* FILE store directory, or NULL for a MEMORY store (temp dir) */
    int sync;                   /* STREAMLOG_SYNC_* for a FILE store; MEMORY uses SYNC_NONE */
    int64_t max_channels, max_subs, max_msgs, max_bytes, max_age_ms;  /* 0 = unlimited */
    int64_t max_inactivity_ms;  /* a channel without subscriptions or publishes this long is deleted; 0 = never */
    uint64_t hb_interval_ms, hb_timeout_ms;
    int hb_fail_count;
    int appender_threads;
    void (*log)(int level, const char *msg, void *ud);   /* STAN_LOG_* levels; called from any thread */
    void *log_ud;
    int log_level;
} stan_config;

/* Fills the defaults of nats-streaming-server: 100 channels, 1000 subs, 1,000,000 msgs, 1 GB
 * per channel, no age limit; heartbeats every 30 s, 10 s timeout, 10 failures. */
void stan_config_init(stan_config *cfg);

typedef struct stan_server stan_server;

/* Opens the store and subscribes the protocol subjects. On failure writes a message to err. */
int stan_server_new(uv_loop_t *loop, stan_nats *nats, const stan_config *cfg, stan_server **out,
                    char *err, size_t errcap);

/* First step of a stop, after stan_nats_refuse_input(): stores what was published and sends its
 * PubAcks (the connection must still be open). */
void stan_server_finish_publishes(stan_server *s);

/* Closes every subscription (durables are kept), closes the store (removing a MEMORY store's
 * directory) and frees the server; publishes not finished yet are finished first. Call after the
 * NATS connection is closed (stan_nats_close), or at least no longer handling input. */
void stan_server_free(stan_server *s);

#endif
