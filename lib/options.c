/* The options object: every key has one type and a range, checked when set,
 * so a bad value is reported where the caller made it. */
#include <string.h>

#include "alloc.h"
#include "errors.h"
#include "options.h"

enum key_type { KEY_NONE, KEY_INT, KEY_STR };

struct key_info {
    const char *name;
    enum key_type type;
    int64_t min, max;   /* for KEY_INT; 0 also accepted where zero_ok */
    int zero_ok;
};

#define MiB ((int64_t)1 << 20)

static struct key_info key_info(int key)
{
    if (key < 0 || key >= SL_OPT_KEY_LIMIT)
        return (struct key_info){NULL, KEY_NONE, 0, 0, 0};
    switch (key) {
    case STREAMLOG_OPT_SYNC:
        return (struct key_info){"STREAMLOG_OPT_SYNC", KEY_INT, STREAMLOG_SYNC_ALWAYS, STREAMLOG_SYNC_NONE, 1};
    case STREAMLOG_OPT_SYNC_INTERVAL_MS:
        return (struct key_info){"STREAMLOG_OPT_SYNC_INTERVAL_MS", KEY_INT, 1, 3600000, 0};
    case STREAMLOG_OPT_MAX_STORE_BYTES:
        return (struct key_info){"STREAMLOG_OPT_MAX_STORE_BYTES", KEY_INT, MiB, (int64_t)1 << 62, 1};
    case STREAMLOG_OPT_MAX_CHANNELS:
        return (struct key_info){"STREAMLOG_OPT_MAX_CHANNELS", KEY_INT, 0, INT64_MAX, 1};
    case STREAMLOG_OPT_MAX_PAYLOAD:
        return (struct key_info){"STREAMLOG_OPT_MAX_PAYLOAD", KEY_INT, 0, STREAMLOG_PAYLOAD_HARD_MAX, 1};
    case STREAMLOG_OPT_READONLY:
        return (struct key_info){"STREAMLOG_OPT_READONLY", KEY_INT, 0, 1, 1};
    case STREAMLOG_OPT_DEDUP_WINDOW_MS:
        return (struct key_info){"STREAMLOG_OPT_DEDUP_WINDOW_MS", KEY_INT, 1, 7 * 86400000LL, 0};
    case STREAMLOG_OPT_MAX_READERS:
        return (struct key_info){"STREAMLOG_OPT_MAX_READERS", KEY_INT, 16, 65536, 0};
    case STREAMLOG_OPT_MAX_MSGS:
        return (struct key_info){"STREAMLOG_OPT_MAX_MSGS", KEY_INT, 0, INT64_MAX, 1};
    case STREAMLOG_OPT_MAX_BYTES:
        return (struct key_info){"STREAMLOG_OPT_MAX_BYTES", KEY_INT, 0, INT64_MAX, 1};
    case STREAMLOG_OPT_MAX_AGE_MS:
        return (struct key_info){"STREAMLOG_OPT_MAX_AGE_MS", KEY_INT, 0, INT64_MAX, 1};
    case STREAMLOG_OPT_MAX_SUBS:
        return (struct key_info){"STREAMLOG_OPT_MAX_SUBS", KEY_INT, 0, INT64_MAX, 1};
    case STREAMLOG_OPT_START:
        return (struct key_info){"STREAMLOG_OPT_START", KEY_INT, STREAMLOG_START_NEW_ONLY, STREAMLOG_START_TIME, 1};
    case STREAMLOG_OPT_START_VALUE:
        return (struct key_info){"STREAMLOG_OPT_START_VALUE", KEY_INT, 0, INT64_MAX, 1};
    case STREAMLOG_OPT_MAX_INFLIGHT:
        return (struct key_info){"STREAMLOG_OPT_MAX_INFLIGHT", KEY_INT, 1, 1 << 20, 0};
    case STREAMLOG_OPT_ACK_WAIT_MS:
        return (struct key_info){"STREAMLOG_OPT_ACK_WAIT_MS", KEY_INT, 1, 86400000, 0};
    case STREAMLOG_OPT_ACK_MODE:
        return (struct key_info){"STREAMLOG_OPT_ACK_MODE", KEY_INT, STREAMLOG_ACK_MANUAL, STREAMLOG_ACK_NONE, 1};
    case STREAMLOG_OPT_MAX_DELIVER:
        return (struct key_info){"STREAMLOG_OPT_MAX_DELIVER", KEY_INT, 0, INT32_MAX, 1};
    case STREAMLOG_OPT_DURABLE:
        return (struct key_info){"STREAMLOG_OPT_DURABLE", KEY_STR, 0, 0, 0};
    case STREAMLOG_OPT_QUEUE:
        return (struct key_info){"STREAMLOG_OPT_QUEUE", KEY_STR, 0, 0, 0};
    case STREAMLOG_OPT_DEAD_LETTER:
        return (struct key_info){"STREAMLOG_OPT_DEAD_LETTER", KEY_STR, 0, 0, 0};
    default:
        return (struct key_info){NULL, KEY_NONE, 0, 0, 0};
    }
}

int sl_opts_new(streamlog_opts **out)
{
    streamlog_opts *o = sl_calloc(1, sizeof *o);
    if (!o)
        return sl_fail(STREAMLOG_ENOMEM, "out of memory allocating an options object");
    *out = o;
    return STREAMLOG_OK;
}

void sl_opts_free(streamlog_opts *opts)
{
    if (!opts)
        return;
    for (int k = 0; k < SL_OPT_KEY_LIMIT; k++)
        sl_free(opts->sval[k]);
    sl_free(opts);
}

int sl_opts_set_int(streamlog_opts *opts, int key, int64_t value)
{
    struct key_info ki = key_info(key);
    if (ki.type == KEY_NONE)
        return sl_fail(STREAMLOG_EINVAL, "unknown option key %d", key);
    if (ki.type != KEY_INT)
        return sl_fail(STREAMLOG_EINVAL, "option %s takes a string, not an integer", ki.name);
    if (!(ki.zero_ok && value == 0) && (value < ki.min || value > ki.max))
        return sl_fail(STREAMLOG_EINVAL, "option %s: value %lld is out of range [%lld, %lld]%s", ki.name,
                       (long long)value, (long long)ki.min, (long long)ki.max, ki.zero_ok ? " (or 0)" : "");
    opts->ival[key] = value;
    opts->set |= SL_KEYBIT(key);
    return STREAMLOG_OK;
}

int sl_opts_set_str(streamlog_opts *opts, int key, const char *value)
{
    struct key_info ki = key_info(key);
    if (ki.type == KEY_NONE)
        return sl_fail(STREAMLOG_EINVAL, "unknown option key %d", key);
    if (ki.type != KEY_STR)
        return sl_fail(STREAMLOG_EINVAL, "option %s takes an integer, not a string", ki.name);
    char *copy = sl_strdup(value);
    if (!copy)
        return sl_fail(STREAMLOG_ENOMEM, "out of memory copying option %s", ki.name);
    sl_free(opts->sval[key]);
    opts->sval[key] = copy;
    opts->set |= SL_KEYBIT(key);
    return STREAMLOG_OK;
}

int sl_opts_check_keys(const streamlog_opts *opts, uint64_t allowed, const char *what)
{
    if (!opts)
        return STREAMLOG_OK;
    uint64_t extra = opts->set & ~allowed;
    if (!extra)
        return STREAMLOG_OK;
    int key = __builtin_ctzll(extra);
    return sl_fail(STREAMLOG_EINVAL, "option %s does not apply to %s", key_info(key).name, what);
}

int sl_opts_has(const streamlog_opts *opts, int key)
{
    return opts && (opts->set & SL_KEYBIT(key));
}

int64_t sl_opts_int(const streamlog_opts *opts, int key, int64_t dflt)
{
    return sl_opts_has(opts, key) ? opts->ival[key] : dflt;
}

uint64_t sl_opts_apply_limits(const streamlog_opts *opts, sl_limits *limits)
{
    if (!opts)
        return 0;
    if (sl_opts_has(opts, STREAMLOG_OPT_MAX_MSGS))
        limits->max_msgs = opts->ival[STREAMLOG_OPT_MAX_MSGS];
    if (sl_opts_has(opts, STREAMLOG_OPT_MAX_BYTES))
        limits->max_bytes = opts->ival[STREAMLOG_OPT_MAX_BYTES];
    if (sl_opts_has(opts, STREAMLOG_OPT_MAX_AGE_MS))
        limits->max_age_ms = opts->ival[STREAMLOG_OPT_MAX_AGE_MS];
    if (sl_opts_has(opts, STREAMLOG_OPT_MAX_SUBS))
        limits->max_subs = opts->ival[STREAMLOG_OPT_MAX_SUBS];
    if (sl_opts_has(opts, STREAMLOG_OPT_DEDUP_WINDOW_MS))
        limits->dedup_window_ms = opts->ival[STREAMLOG_OPT_DEDUP_WINDOW_MS];
    return opts->set & SL_KEYS_LIMITS;
}

const char *sl_opts_str(const streamlog_opts *opts, int key)
{
    return sl_opts_has(opts, key) ? opts->sval[key] : NULL;
}
