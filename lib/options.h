/* The options object behind streamlog_opts: typed (key, value) pairs. */
#ifndef SL_OPTIONS_H
#define SL_OPTIONS_H

#include <stdint.h>

#include "streamlog.h"

#define SL_OPT_KEY_LIMIT 64 /* keys are < 64, so a set of keys fits a uint64_t */
#define SL_KEYBIT(k) ((uint64_t)1 << (k))

/* Which calls a key applies to. */
#define SL_KEYS_STORE (SL_KEYBIT(STREAMLOG_OPT_SYNC) | SL_KEYBIT(STREAMLOG_OPT_SYNC_INTERVAL_MS) | \
                       SL_KEYBIT(STREAMLOG_OPT_MAX_STORE_BYTES) | SL_KEYBIT(STREAMLOG_OPT_MAX_CHANNELS) | \
                       SL_KEYBIT(STREAMLOG_OPT_MAX_PAYLOAD) | SL_KEYBIT(STREAMLOG_OPT_READONLY) | \
                       SL_KEYBIT(STREAMLOG_OPT_MAX_READERS) | SL_KEYBIT(STREAMLOG_OPT_DEDUP_WINDOW_MS))
#define SL_KEYS_LIMITS (SL_KEYBIT(STREAMLOG_OPT_MAX_MSGS) | SL_KEYBIT(STREAMLOG_OPT_MAX_BYTES) | \
                        SL_KEYBIT(STREAMLOG_OPT_MAX_AGE_MS) | SL_KEYBIT(STREAMLOG_OPT_MAX_SUBS) | \
                        SL_KEYBIT(STREAMLOG_OPT_DEDUP_WINDOW_MS))

#define SL_KEYS_SUB (SL_KEYBIT(STREAMLOG_OPT_START) | SL_KEYBIT(STREAMLOG_OPT_START_VALUE) | \
                     SL_KEYBIT(STREAMLOG_OPT_MAX_INFLIGHT) | SL_KEYBIT(STREAMLOG_OPT_ACK_WAIT_MS) | \
                     SL_KEYBIT(STREAMLOG_OPT_ACK_MODE) | SL_KEYBIT(STREAMLOG_OPT_MAX_DELIVER) | \
                     SL_KEYBIT(STREAMLOG_OPT_DURABLE) | SL_KEYBIT(STREAMLOG_OPT_QUEUE) | \
                     SL_KEYBIT(STREAMLOG_OPT_DEAD_LETTER))

struct streamlog_opts {
    uint64_t set;                        /* SL_KEYBIT(key) for each key set */
    int64_t ival[SL_OPT_KEY_LIMIT];
    char *sval[SL_OPT_KEY_LIMIT];
};

/* Per-channel retention limits; 0 = unlimited. */
typedef struct sl_limits {
    int64_t max_msgs, max_bytes, max_age_ms, max_subs;
    int64_t dedup_window_ms; /* how long an idempotent append's message id is remembered */
} sl_limits;

/* EINVAL (with a message naming the key) when `opts` holds a key outside
 * `allowed`; `what` names the call for the message. NULL opts is fine. */
int sl_opts_check_keys(const streamlog_opts *opts, uint64_t allowed, const char *what);

int sl_opts_has(const streamlog_opts *opts, int key);
int64_t sl_opts_int(const streamlog_opts *opts, int key, int64_t dflt);
const char *sl_opts_str(const streamlog_opts *opts, int key); /* NULL when not set */

/* Copy the limit keys present in opts over *limits; returns the set of limit
 * keys present (SL_KEYBIT form). */
uint64_t sl_opts_apply_limits(const streamlog_opts *opts, sl_limits *limits);

int  sl_opts_new(streamlog_opts **out);
void sl_opts_free(streamlog_opts *opts);
int  sl_opts_set_int(streamlog_opts *opts, int key, int64_t value);
int  sl_opts_set_str(streamlog_opts *opts, int key, const char *value);

#endif
