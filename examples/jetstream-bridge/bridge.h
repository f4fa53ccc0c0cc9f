/* jetstream-bridge internals: libstreamlog channels to and from NATS JetStream, exactly once per
 * message. Applications use streamlog-jetstream.h (bridge_api.c), not this header; the benchmark
 * uses it to reach the runs directly.
 *
 * bridge_api.c     the installed API: settings into a jsb_config, runs on a thread, status
 * bridge_out.c     local channels -> a JetStream stream (durable subscriptions, async publish)
 * bridge_in.c      a JetStream durable pull consumer -> one local channel
 * bridge_headers.c header blocks between libstreamlog's wire form and libnats
 * bridge_http.c    the HTTP/JSON status endpoint
 * bridge_nats.c    connection with reconnect and backoff, logging, the store identity, status text
 * main.c           streamlog-jetstream, the command line, on the installed API
 *
 * Both directions run in the calling thread until *stop becomes non-zero (or, with
 * until_caught_up, until everything available has been forwarded). */
#ifndef JSB_BRIDGE_H
#define JSB_BRIDGE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <nats/nats.h>
#include <pthread.h>
#include <streamlog.h>

/* The latest status of a run as JSON text, read by other threads (the HTTP endpoint,
 * streamlog_jetstream_status). */
typedef struct jsb_status {
    pthread_mutex_t mu;
    char *json;   /* NULL until the run's first report */
} jsb_status;
/* How often a run refreshes its JSON status. */
#define JSB_STATUS_REFRESH_MS 500

typedef struct jsb_config {
    const char *store_dir;
    const char *server;          /* URL or comma-separated URLs */
    const char *stream;
    int until_caught_up;
    int status_interval_ms;      /* 0: no status lines */
    jsb_status *status;          /* NULL: no JSON status */
    int log;                     /* 0: nothing on stderr */
    /* out */
    const char *const *channels; /* names, "X.>" for every channel under X., or ">" */
    size_t nchannels;
    const char *subject_prefix;  /* NULL: the stream name */
    int create_stream;
    int shared_stream;           /* other publishers on the stream: no predictions (bridge_out.c) */
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
/* Replace the status with obj's JSON text; takes obj. */
void jsb_status_publish(jsb_status *s, json_t *obj);
/* Messages per second since the last call (0 on the first). */
typedef struct jsb_rate {
    int64_t at_ms;
    uint64_t count;
} jsb_rate;
double jsb_rate_take(jsb_rate *r, uint64_t count);

/* Log a line on stderr (unless this thread's run has logging off); the thread's last line is
 * kept for the run's error message. */
void    jsb_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void    jsb_log_begin(int enabled);   /* at the start of a run, on its thread */
const char *jsb_log_last(void);
int64_t jsb_now_ms(void);
/* Sleep up to ms, returning early when *stop is set. */
void    jsb_sleep(int64_t ms, volatile sig_atomic_t *stop);
/* Exponential backoff: 100 ms doubling up to 5 s. */
int64_t jsb_backoff_ms(int attempt);

typedef struct jsb_conn {
    natsConnection *nc;
    jsCtx *js;
    const char *name;   /* for the log lines of libnats's threads */
    int log;
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

/* ---- the HTTP/JSON status endpoint (bridge_http.c) ---- */
typedef struct jsb_http jsb_http;
/* Serve status's JSON at ADDR:PORT (GET any path) until jsb_http_stop. 0, or -1 logged. */
int  jsb_http_start(const char *addr_port, jsb_status *status, jsb_http **out);
void jsb_http_stop(jsb_http *h);   /* accepts NULL */

/* ---- header blocks (bridge_headers.c) ---- */
/* The wire-form block (see streamlog_append_msg) of m's headers, except the names given,
 * followed by those names with their values; *out is malloc'ed. 0, or -1 out of memory. */
int jsb_headers_from_nats(natsMsg *m, const char *const *names, const char *const *values, size_t n, char **out,
                          size_t *out_len);
/* Add the headers of a wire-form block to m, except the names in skip (ASCII case ignored). */
natsStatus jsb_headers_to_nats(natsMsg *m, const void *block, size_t len, const char *const *skip, size_t nskip);

#endif
