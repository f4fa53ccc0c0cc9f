/* stan_server.h - the NATS Streaming protocol on top of a NATS connection (stan_bus), with
 * every message, channel, subscription and limit kept by libstreamlog.
 *
 * The server translates: a PubMsg becomes a streamlog_append() (on appender threads, PubAck
 * after it returns), a SubscriptionRequest a streamlog_subscribe() whose fd is watched on the
 * loop, an Ack a streamlog_ack(). Clients (ID, heartbeat inbox, connID) live in memory only.
 * Everything runs on the loop thread.
 */
#ifndef STAN_SERVER_H
#define STAN_SERVER_H

#include "stan_bus.h"

#include <stdint.h>
#include <uv.h>

#define STAN_SERVER_VERSION "0.1.0"

typedef struct stan_config {
    const char *cluster_id;     /* default "test-cluster" */
    const char *dir;            /* FILE store directory, or NULL for a MEMORY store (temp dir) */
    int sync;                   /* STREAMLOG_SYNC_* for a FILE store; MEMORY uses SYNC_NONE */
    int64_t max_channels, max_subs, max_msgs, max_bytes, max_age_ms;  /* 0 = unlimited */
    uint64_t hb_interval_ms, hb_timeout_ms;
    int hb_fail_count;
    int appender_threads;
    void (*log)(int level, const char *msg, void *ud);   /* NATS_LOG_* levels */
    void *log_ud;
    int log_level;
} stan_config;

/* Fills the defaults of nats-streaming-server: 100 channels, 1000 subs, 1,000,000 msgs, 1 GB
 * per channel, no age limit; heartbeats every 30 s, 10 s timeout, 10 failures. */
void stan_config_init(stan_config *cfg);

typedef struct stan_server stan_server;

/* Opens the store and subscribes the protocol subjects. On failure writes a message to err. */
int stan_server_new(uv_loop_t *loop, stan_bus *bus, const stan_config *cfg, stan_server **out,
                    char *err, size_t errcap);

/* Stores what is queued, answers its PubAcks, closes every subscription (durables are kept),
 * closes the store (removing a MEMORY store's directory) and frees the server. */
void stan_server_free(stan_server *s);

/* Monitoring: writes the JSON body for a /streaming/... path with its query string (may be
 * NULL) into a malloc'ed string; returns 200, or 404 for an unknown path/client/channel. */
int stan_server_monitor(stan_server *s, const char *path, const char *query, char **body);

#endif
