/* jetstream-bridge: libstreamlog channels to and from NATS JetStream, exactly once per message.
 *
 * bridge_out.c  local channels -> a JetStream stream (durable subscriptions, async publish)
 * bridge_in.c   a JetStream durable pull consumer -> one local channel
 * bridge_nats.c connection with reconnect and backoff, logging, the store identity
 * main.c        streamlog-jetstream, the command line
 *
 * Both directions run in the calling thread until *stop becomes non-zero (or, with
 * until_caught_up, until everything available has been forwarded), so an application may
 * run one on a thread of its own: fill a jsb_config, call jsb_run_out()/jsb_run_in() on that
 * thread, and set *stop from any thread to end it. */
#ifndef JSB_BRIDGE_H
#define JSB_BRIDGE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <nats/nats.h>
#include <streamlog.h>

typedef struct jsb_config {
    const char *store_dir;
    const char *server;          /* URL or comma-separated URLs */
    const char *stream;
    int until_caught_up;
    int status_interval_ms;      /* 0: no status lines */
    /* out */
    const char *const *channels; /* names, "X.>" for every channel under X., or ">" */
    size_t nchannels;
    const char *subject_prefix;  /* NULL: the stream name */
    int create_stream;
    int window;                  /* publishes in flight at once */
    int64_t ack_timeout_ms;      /* a PubAck not back by then counts as lost */
    const char *store_id;        /* NULL: the store's own (see jsb_store_id) */
    /* Optional: called on the bridge's thread for each message JetStream acknowledged, with its
     * channel, sequence and commit time (Unix ns); the benchmark measures latency with it. */
    void (*on_forwarded)(void *arg, const char *channel, uint64_t seq, int64_t time_ns);
    void *on_forwarded_arg;
    int replicas;                /* --create-stream limits */
    int64_t max_msgs, max_bytes, max_age_ms, duplicate_window_ms;
    int memory_storage;
    /* in */
    const char *consumer;
    const char *channel;
    int fetch_batch;
    int64_t consumer_ack_wait_ms;
} jsb_config;

/* Exit codes of the runs (and of the program). */
#define JSB_EXIT_OK     0
#define JSB_EXIT_FAIL   1   /* a bad argument, an unusable store, a refused stream or consumer */

void jsb_config_defaults(jsb_config *cfg);
int  jsb_run_out(const jsb_config *cfg, volatile sig_atomic_t *stop);
int  jsb_run_in(const jsb_config *cfg, volatile sig_atomic_t *stop);

/* ---- shared helpers (bridge_nats.c) ---- */
void    jsb_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int64_t jsb_now_ms(void);
/* Sleep up to ms, returning early when *stop is set. */
void    jsb_sleep(int64_t ms, volatile sig_atomic_t *stop);
/* Exponential backoff: 100 ms doubling up to 5 s. */
int64_t jsb_backoff_ms(int attempt);

typedef struct jsb_conn {
    natsConnection *nc;
    jsCtx *js;
} jsb_conn;

/* The text of the last NATS error of this thread, or of status s when there is none. */
const char *jsb_nats_error(natsStatus s);

/* For the tests: when the environment variable JSB_TEST_CRASH_POINT names this point, the
 * process kills itself with SIGKILL there, as a crash at exactly that moment would. */
void jsb_crash_point(const char *name);

/* Set the servers of a comma-separated URL list. */
natsStatus jsb_set_servers(natsOptions *o, const char *list);

/* Connect (retrying in the background for ever: an unreachable server is never an error),
 * and create the JetStream context with `jsopts` (may be NULL). */
int  jsb_connect(jsb_conn *c, const jsb_config *cfg, jsOptions *jsopts, const char *name);
void jsb_disconnect(jsb_conn *c);

/* The store's identity for Nats-Msg-Id: a random 128-bit id kept in the store itself (channel
 * _jsbridge.id), so it moves with the store and every bridge on that store agrees on it. */
int  jsb_store_id(streamlog_store *st, char *out, size_t cap);

/* Channels the bridge keeps for itself start with this prefix; a ">" selection skips them. */
#define JSB_OWN_PREFIX "_jsbridge."

#endif
