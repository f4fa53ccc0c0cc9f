/* The public layer: every exported function validates its arguments here,
 * clears the thread's error message, dispatches to the module that does the
 * work, and returns through sl_result (which publishes a failure's message
 * for streamlog_errmsg_of). It also lists the handles callers open, for
 * close's EBUSY message. Nothing below this file needs to re-check caller
 * input. */
#include <stdio.h>
#include <string.h>

#include "append.h"
#include "channels.h"
#include "clock.h"
#include "dedup.h"
#include "errors.h"
#include "handles.h"
#include "headers.h"
#include "names.h"
#include "options.h"
#include "reader.h"
#include "retention.h"
#include "store.h"
#include "subs.h"
#include "verify.h"
#include "write.h"

#define SL_PUBLIC __attribute__((visibility("default")))

/* Helpers below return their failure to a public function, which passes it
 * through sl_result again: sl_result publishes a call's message once. */
#define REQUIRE(cond, ...)                                             \
    do {                                                               \
        if (!(cond))                                                   \
            return sl_result(sl_fail(STREAMLOG_EINVAL, __VA_ARGS__));  \
    } while (0)

SL_PUBLIC const char *streamlog_version(void)
{
    return STREAMLOG_VERSION_STRING;
}

SL_PUBLIC int streamlog_version_number(void)
{
    return STREAMLOG_VERSION_NUMBER;
}

SL_PUBLIC const char *streamlog_errmsg(void)
{
    return sl_last_error();
}

SL_PUBLIC int streamlog_errmsg_of(int id, char *buf, size_t cap)
{
    sl_clear_error();
    REQUIRE(id > 0, "streamlog_errmsg_of: id %d is not a failure's id (those are > 0)", id);
    REQUIRE(buf && cap > 0, "streamlog_errmsg_of: buf is NULL or cap is 0");
    return sl_result(sl_published_message(id, buf, cap));
}

/* ---- growable statistics (see "Growable statistics" in the header) ---- */

#define STATS_SIZE_MAX 4096

static int check_stats_size(uint32_t size, const char *fn)
{
    REQUIRE(size >= 8 && size <= STATS_SIZE_MAX, "%s: out->size is %u; set it to the sizeof of your struct", fn,
            (unsigned)size);
    return STREAMLOG_OK;
}

/* Copy the library's struct `full` (size field first) into the caller's of
 * `size` bytes: a prefix of ours, or ours and zeros after it. */
static void copy_stats(void *out, const void *full, uint32_t full_size, uint32_t size)
{
    uint32_t filled = size < full_size ? size : full_size;
    memcpy(out, full, filled);
    memset((char *)out + filled, 0, size - filled);
    memcpy(out, &filled, sizeof filled);
}

/* ---- options ---- */

SL_PUBLIC int streamlog_opts_new(streamlog_opts **out)
{
    sl_clear_error();
    REQUIRE(out, "streamlog_opts_new: out is NULL");
    return sl_result(sl_opts_new(out));
}

SL_PUBLIC void streamlog_opts_free(streamlog_opts *opts)
{
    sl_opts_free(opts);
}

SL_PUBLIC int streamlog_opts_set_int(streamlog_opts *opts, int key, int64_t value)
{
    sl_clear_error();
    REQUIRE(opts, "streamlog_opts_set_int: opts is NULL");
    return sl_result(sl_opts_set_int(opts, key, value));
}

SL_PUBLIC int streamlog_opts_set_str(streamlog_opts *opts, int key, const char *value)
{
    sl_clear_error();
    REQUIRE(opts, "streamlog_opts_set_str: opts is NULL");
    REQUIRE(value, "streamlog_opts_set_str: value is NULL");
    return sl_result(sl_opts_set_str(opts, key, value));
}

/* ---- store ---- */

SL_PUBLIC int streamlog_open(const char *dir, const streamlog_opts *opts, streamlog_store **out)
{
    sl_clear_error();
    REQUIRE(dir && *dir, "streamlog_open: dir is NULL or empty");
    REQUIRE(out, "streamlog_open: out is NULL");
    int rc = sl_opts_check_keys(opts, SL_KEYS_STORE | SL_KEYS_LIMITS, "streamlog_open");
    if (rc)
        return sl_result(rc);
    return sl_result(sl_store_open(dir, opts, out));
}

SL_PUBLIC int streamlog_close(streamlog_store *st)
{
    sl_clear_error();
    REQUIRE(st, "streamlog_close: store is NULL");
    return sl_result(sl_store_close(st));
}

SL_PUBLIC int streamlog_sync(streamlog_store *st)
{
    sl_clear_error();
    REQUIRE(st, "streamlog_sync: store is NULL");
    int rc = sl_store_writable(st);
    return sl_result(rc ? rc : sl_store_sync(st));
}

SL_PUBLIC int streamlog_verify(streamlog_store *st, streamlog_verify_report *report)
{
    sl_clear_error();
    REQUIRE(st, "streamlog_verify: store is NULL");
    REQUIRE(report, "streamlog_verify: report is NULL");
    REQUIRE(report->size >= 8, "streamlog_verify: report->size is %u; set it to sizeof(streamlog_verify_report)",
            (unsigned)report->size);
    return sl_result(sl_verify(st, report));
}

/* ---- channels ---- */

SL_PUBLIC int streamlog_channel_open(streamlog_store *st, const char *name, uint32_t flags,
                                     const streamlog_opts *limits, streamlog_channel **out)
{
    sl_clear_error();
    REQUIRE(st, "streamlog_channel_open: store is NULL");
    REQUIRE(name, "streamlog_channel_open: name is NULL");
    REQUIRE(out, "streamlog_channel_open: out is NULL");
    REQUIRE(!(flags & ~STREAMLOG_CREATE), "streamlog_channel_open: unknown flag bits 0x%x",
            (unsigned)(flags & ~STREAMLOG_CREATE));
    sl_handle_note note;
    int rc = sl_channel_name_check(name);
    if (!rc)
        rc = sl_opts_check_keys(limits, SL_KEYS_LIMITS, "streamlog_channel_open");
    if (rc || (rc = sl_handles_reserve(&note, SL_HANDLE_CHANNEL, "", name)))
        return sl_result(rc);
    if ((rc = sl_channel_open(st, name, flags, limits, out)))
        sl_handles_cancel(&note);
    else
        sl_handles_add(&note, *out, st);
    return sl_result(rc);
}

SL_PUBLIC void streamlog_channel_close(streamlog_channel *ch)
{
    if (ch) {
        sl_handles_remove(ch);
        sl_channel_close(ch);
    }
}

SL_PUBLIC int streamlog_channel_delete(streamlog_store *st, const char *name)
{
    sl_clear_error();
    REQUIRE(st, "streamlog_channel_delete: store is NULL");
    REQUIRE(name, "streamlog_channel_delete: name is NULL");
    int rc = sl_channel_name_check(name);
    return sl_result(rc ? rc : sl_channel_delete(st, name));
}

SL_PUBLIC int streamlog_channel_list_next(streamlog_store *st, const char *after, char *buf, size_t cap)
{
    sl_clear_error();
    REQUIRE(st, "streamlog_channel_list_next: store is NULL");
    REQUIRE(buf, "streamlog_channel_list_next: buf is NULL");
    REQUIRE(cap >= SL_NAME_MAX + 1, "streamlog_channel_list_next: cap %zu is below %d", cap, SL_NAME_MAX + 1);
    return sl_result(sl_channel_list_next(st, after, buf, cap));
}

SL_PUBLIC int streamlog_channel_get_stats(streamlog_channel *ch, streamlog_channel_stats *out)
{
    sl_clear_error();
    REQUIRE(ch, "streamlog_channel_get_stats: channel is NULL");
    REQUIRE(out, "streamlog_channel_get_stats: out is NULL");
    streamlog_channel_stats_v2 s;
    int rc = sl_channel_stats(ch, &s);
    if (!rc)
        *out = (streamlog_channel_stats){
            .first_seq = s.first_seq, .last_seq = s.last_seq, .msgs = s.msgs, .bytes = s.bytes, .subs = s.subs};
    return sl_result(rc);
}

SL_PUBLIC int streamlog_channel_get_stats_v2(streamlog_channel *ch, streamlog_channel_stats_v2 *out)
{
    sl_clear_error();
    REQUIRE(ch, "streamlog_channel_get_stats_v2: channel is NULL");
    REQUIRE(out, "streamlog_channel_get_stats_v2: out is NULL");
    int rc = check_stats_size(out->size, "streamlog_channel_get_stats_v2");
    streamlog_channel_stats_v2 s = {0};
    if (!rc && !(rc = sl_channel_stats(ch, &s)))
        copy_stats(out, &s, sizeof s, out->size);
    return sl_result(rc);
}

SL_PUBLIC int streamlog_channel_name(streamlog_channel *ch, const char **out)
{
    sl_clear_error();
    REQUIRE(ch, "streamlog_channel_name: channel is NULL");
    REQUIRE(out, "streamlog_channel_name: out is NULL");
    *out = ch->name;
    return STREAMLOG_OK;
}

/* ---- appending ---- */

SL_PUBLIC int streamlog_append(streamlog_channel *ch, const void *data, size_t len, uint64_t *out_seq)
{
    sl_clear_error();
    REQUIRE(ch, "streamlog_append: channel is NULL");
    int rc = sl_append_check(ch->st, NULL, NULL, &data, &len, 1);
    return sl_result(rc ? rc : sl_append(ch, &data, &len, 1, 0, 0, out_seq));
}

SL_PUBLIC int streamlog_append_expect(streamlog_channel *ch, const void *data, size_t len,
                                      uint64_t expected_last_seq, uint64_t *out_seq)
{
    sl_clear_error();
    REQUIRE(ch, "streamlog_append_expect: channel is NULL");
    int rc = sl_append_check(ch->st, NULL, NULL, &data, &len, 1);
    return sl_result(rc ? rc : sl_append(ch, &data, &len, 1, 1, expected_last_seq, out_seq));
}

SL_PUBLIC int streamlog_append_batch(streamlog_channel *ch, const void *const *data, const size_t *lens, size_t n,
                                     uint64_t *out_first_seq)
{
    sl_clear_error();
    REQUIRE(ch, "streamlog_append_batch: channel is NULL");
    REQUIRE(n > 0, "streamlog_append_batch: n is 0");
    REQUIRE(data && lens, "streamlog_append_batch: data or lens is NULL");
    int rc = sl_append_check(ch->st, NULL, NULL, data, lens, n);
    return sl_result(rc ? rc : sl_append(ch, data, lens, n, 0, 0, out_first_seq));
}

SL_PUBLIC int streamlog_append_msg(streamlog_channel *ch, const void *hdrs, size_t hdrs_len, const void *data,
                                   size_t len, uint64_t *out_seq)
{
    sl_clear_error();
    REQUIRE(ch, "streamlog_append_msg: channel is NULL");
    int rc = sl_append_check(ch->st, &hdrs, &hdrs_len, &data, &len, 1);
    return sl_result(rc ? rc : sl_append_msgs(ch, hdrs_len ? &hdrs : NULL, &hdrs_len, &data, &len, 1, 0, 0, out_seq));
}

SL_PUBLIC int streamlog_import(streamlog_channel *ch, uint64_t first_seq, const int64_t *times_ns,
                               const void *const *hdrs, const size_t *hdrs_lens, const void *const *data,
                               const size_t *lens, size_t n)
{
    sl_clear_error();
    REQUIRE(ch, "streamlog_import: channel is NULL");
    REQUIRE(n > 0, "streamlog_import: n is 0");
    REQUIRE(times_ns && data && lens, "streamlog_import: times_ns, data or lens is NULL");
    REQUIRE(first_seq > 0 && first_seq <= UINT64_MAX - n, "streamlog_import: sequences must lie in 1..2^64-2");
    int64_t now = sl_now_ns();
    for (size_t i = 0; i < n; i++) {
        REQUIRE(times_ns[i] >= 0, "streamlog_import: time %zu is negative", i);
        REQUIRE(times_ns[i] <= now, "streamlog_import: time %zu (%lld) is %lld ns in the future", i,
                (long long)times_ns[i], (long long)(times_ns[i] - now));
        REQUIRE(i == 0 || times_ns[i] >= times_ns[i - 1], "streamlog_import: time %zu is before time %zu", i,
                i - 1);
    }
    int rc = sl_append_check(ch->st, hdrs, hdrs_lens, data, lens, n);
    return sl_result(rc ? rc : sl_import(ch, first_seq, times_ns, hdrs, hdrs_lens, data, lens, n));
}

SL_PUBLIC int streamlog_append_once(streamlog_channel *ch, const char *msg_id, const void *hdrs, size_t hdrs_len,
                                    const void *data, size_t len, uint64_t *out_seq, int *out_duplicate)
{
    sl_clear_error();
    REQUIRE(ch, "streamlog_append_once: channel is NULL");
    REQUIRE(msg_id, "streamlog_append_once: msg_id is NULL");
    size_t id_len = strnlen(msg_id, SL_MSG_ID_MAX + 1);
    REQUIRE(id_len > 0 && id_len <= SL_MSG_ID_MAX, "streamlog_append_once: msg_id must be 1..%d bytes",
            SL_MSG_ID_MAX);
    int rc = sl_append_check(ch->st, &hdrs, &hdrs_len, &data, &len, 1);
    if (!rc)
        rc = sl_append_once(ch, msg_id, id_len, hdrs_len ? &hdrs : NULL, &hdrs_len, &data, &len, 1, 0, 0, out_seq,
                            out_duplicate);
    return sl_result(rc);
}

/* The checks and the append of both batch-with-headers calls. */
static int append_batch_msgs(const char *fn, streamlog_channel *ch, const void *const *hdrs, const size_t *hdrs_lens,
                             const void *const *data, const size_t *lens, size_t n, int has_expect, uint64_t expect,
                             uint64_t *out_first_seq)
{
    sl_clear_error();
    REQUIRE(ch, "%s: channel is NULL", fn);
    REQUIRE(n > 0, "%s: n is 0", fn);
    REQUIRE(data && lens, "%s: data or lens is NULL", fn);
    REQUIRE(!hdrs == !hdrs_lens, "%s: give both hdrs and hdrs_lens, or neither", fn);
    int rc = sl_append_check(ch->st, hdrs, hdrs_lens, data, lens, n);
    return sl_result(rc ? rc
                        : sl_append_msgs(ch, hdrs, hdrs_lens, data, lens, n, has_expect, expect, out_first_seq));
}

SL_PUBLIC int streamlog_append_batch_msgs(streamlog_channel *ch, const void *const *hdrs, const size_t *hdrs_lens,
                                          const void *const *data, const size_t *lens, size_t n,
                                          uint64_t *out_first_seq)
{
    return append_batch_msgs("streamlog_append_batch_msgs", ch, hdrs, hdrs_lens, data, lens, n, 0, 0,
                             out_first_seq);
}

SL_PUBLIC int streamlog_append_batch_msgs_expect(streamlog_channel *ch, const void *const *hdrs,
                                                 const size_t *hdrs_lens, const void *const *data,
                                                 const size_t *lens, size_t n, uint64_t expected_last_seq,
                                                 uint64_t *out_first_seq)
{
    return append_batch_msgs("streamlog_append_batch_msgs_expect", ch, hdrs, hdrs_lens, data, lens, n, 1,
                             expected_last_seq, out_first_seq);
}

SL_PUBLIC int streamlog_append_batch_expect(streamlog_channel *ch, const void *const *data, const size_t *lens,
                                            size_t n, uint64_t expected_last_seq, uint64_t *out_first_seq)
{
    sl_clear_error();
    REQUIRE(ch, "streamlog_append_batch_expect: channel is NULL");
    REQUIRE(n > 0, "streamlog_append_batch_expect: n is 0");
    REQUIRE(data && lens, "streamlog_append_batch_expect: data or lens is NULL");
    int rc = sl_append_check(ch->st, NULL, NULL, data, lens, n);
    return sl_result(rc ? rc : sl_append(ch, data, lens, n, 1, expected_last_seq, out_first_seq));
}

SL_PUBLIC int streamlog_channel_purge(streamlog_channel *ch, uint64_t upto_seq, uint64_t *out_removed)
{
    sl_clear_error();
    REQUIRE(ch, "streamlog_channel_purge: channel is NULL");
    uint64_t removed = 0;
    int rc = sl_retention_purge(ch->st, ch, upto_seq, &removed);
    if (!rc && out_removed)
        *out_removed = removed;
    return sl_result(rc);
}

/* ---- messages ---- */

SL_PUBLIC uint64_t streamlog_msg_seq(const streamlog_msg *m)
{
    return m ? m->seq : 0;
}

SL_PUBLIC const void *streamlog_msg_headers(const streamlog_msg *m, size_t *len)
{
    if (len)
        *len = m ? m->hdrs_len : 0;
    return m ? m->hdrs : NULL;
}

SL_PUBLIC int streamlog_msg_header(const streamlog_msg *m, const char *name, const void **value, size_t *value_len)
{
    sl_clear_error();
    REQUIRE(m && name && value && value_len, "streamlog_msg_header: NULL argument");
    const char *v;
    size_t vl;
    if (!m->hdrs || sl_headers_find(m->hdrs, m->hdrs_len, name, &v, &vl))
        return sl_result(
            sl_fail(STREAMLOG_ENOTFOUND, "message %llu has no header '%s'", (unsigned long long)m->seq, name));
    *value = v;
    *value_len = vl;
    return STREAMLOG_OK;
}

SL_PUBLIC int64_t streamlog_msg_time(const streamlog_msg *m)
{
    return m ? m->time : 0;
}

SL_PUBLIC const void *streamlog_msg_data(const streamlog_msg *m, size_t *len)
{
    if (len)
        *len = m ? m->len : 0;
    return m ? m->data : NULL;
}

SL_PUBLIC int streamlog_get(streamlog_channel *ch, uint64_t seq, streamlog_msg **out)
{
    sl_clear_error();
    REQUIRE(ch, "streamlog_get: channel is NULL");
    REQUIRE(out, "streamlog_get: out is NULL");
    return sl_result(sl_get_msg(ch, seq, out));
}

SL_PUBLIC int streamlog_msg_copy(const streamlog_msg *m, streamlog_msg **out)
{
    sl_clear_error();
    REQUIRE(m, "streamlog_msg_copy: message is NULL");
    REQUIRE(out, "streamlog_msg_copy: out is NULL");
    return sl_result(sl_msg_copy(m, out));
}

SL_PUBLIC void streamlog_msg_free(streamlog_msg *m)
{
    sl_msg_free(m);
}

/* ---- iterators ---- */

SL_PUBLIC int streamlog_iter_open(streamlog_channel *ch, int start, int64_t start_value, streamlog_iter **out)
{
    sl_clear_error();
    REQUIRE(ch, "streamlog_iter_open: channel is NULL");
    REQUIRE(out, "streamlog_iter_open: out is NULL");
    REQUIRE(start >= STREAMLOG_START_NEW_ONLY && start <= STREAMLOG_START_TIME,
            "streamlog_iter_open: unknown start position %d", start);
    REQUIRE(start_value >= 0 || start == STREAMLOG_START_NEW_ONLY || start == STREAMLOG_START_LAST_RECEIVED ||
                start == STREAMLOG_START_FIRST,
            "streamlog_iter_open: negative start value %lld", (long long)start_value);
    sl_handle_note note;
    int rc = sl_handles_reserve(&note, SL_HANDLE_ITERATOR, "iterator", ch->name);
    if (rc)
        return sl_result(rc);
    if ((rc = sl_iter_open(ch, start, start_value, out)))
        sl_handles_cancel(&note);
    else
        sl_handles_add(&note, *out, ch->st);
    return sl_result(rc);
}

SL_PUBLIC int streamlog_iter_next(streamlog_iter *it, const streamlog_msg **out)
{
    sl_clear_error();
    REQUIRE(it, "streamlog_iter_next: iterator is NULL");
    REQUIRE(out, "streamlog_iter_next: out is NULL");
    return sl_result(sl_iter_next(it, out));
}

SL_PUBLIC int streamlog_iter_position(streamlog_iter *it, uint64_t *out_seq)
{
    sl_clear_error();
    REQUIRE(it, "streamlog_iter_position: iterator is NULL");
    REQUIRE(out_seq, "streamlog_iter_position: out is NULL");
    *out_seq = sl_iter_position(it);
    return STREAMLOG_OK;
}

SL_PUBLIC void streamlog_iter_close(streamlog_iter *it)
{
    if (it) {
        sl_handles_remove(it);
        sl_iter_close(it);
    }
}

/* ---- subscriptions ---- */

SL_PUBLIC int streamlog_subscribe(streamlog_channel *ch, const streamlog_opts *opts, streamlog_sub **out)
{
    sl_clear_error();
    REQUIRE(ch, "streamlog_subscribe: channel is NULL");
    REQUIRE(out, "streamlog_subscribe: out is NULL");
    if (ch->st->readonly) /* delivery state and wake-ups need a writable store */
        return sl_result(sl_fail(STREAMLOG_EPERM, "streamlog_subscribe: the store is open read-only"));
    int rc = sl_opts_check_keys(opts, SL_KEYS_SUB, "streamlog_subscribe");
    if (rc)
        return sl_result(rc);
    /* named for close's EBUSY message: its kind and group */
    const char *durable = sl_opts_str(opts, STREAMLOG_OPT_DURABLE), *queue = sl_opts_str(opts, STREAMLOG_OPT_QUEUE);
    char what[96];
    if (queue)
        snprintf(what, sizeof what, "queue '%.40s%s%.40s' member", queue, durable ? ":" : "", durable ? durable : "");
    else if (durable)
        snprintf(what, sizeof what, "durable '%.40s'", durable);
    else
        snprintf(what, sizeof what, "subscription");
    sl_handle_note note;
    if ((rc = sl_handles_reserve(&note, SL_HANDLE_SUB, what, ch->name)))
        return sl_result(rc);
    if ((rc = sl_subscribe(ch, opts, out)))
        sl_handles_cancel(&note);
    else
        sl_handles_add(&note, *out, ch->st);
    return sl_result(rc);
}

SL_PUBLIC int streamlog_sub_next(streamlog_sub *sub, int64_t timeout_ms, const streamlog_msg **out)
{
    sl_clear_error();
    REQUIRE(sub, "streamlog_sub_next: subscription is NULL");
    REQUIRE(out, "streamlog_sub_next: out is NULL");
    REQUIRE(timeout_ms >= -1, "streamlog_sub_next: timeout %lld is below -1", (long long)timeout_ms);
    return sl_result(sl_sub_next(sub, timeout_ms, out));
}

SL_PUBLIC int streamlog_ack(streamlog_sub *sub, uint64_t seq)
{
    sl_clear_error();
    REQUIRE(sub, "streamlog_ack: subscription is NULL");
    REQUIRE(seq > 0, "streamlog_ack: sequence 0 is never a message");
    return sl_result(sl_sub_ack(sub, seq));
}

SL_PUBLIC int streamlog_nak(streamlog_sub *sub, uint64_t seq, int64_t delay_ms)
{
    sl_clear_error();
    REQUIRE(sub, "streamlog_nak: subscription is NULL");
    REQUIRE(seq > 0, "streamlog_nak: sequence 0 is never a message");
    REQUIRE(delay_ms >= 0 && delay_ms <= STREAMLOG_NAK_DELAY_MAX_MS, "streamlog_nak: delay %lld ms is not in 0..%lld",
            (long long)delay_ms, (long long)STREAMLOG_NAK_DELAY_MAX_MS);
    return sl_result(sl_sub_nak(sub, seq, delay_ms));
}

SL_PUBLIC int streamlog_progress(streamlog_sub *sub, uint64_t seq)
{
    sl_clear_error();
    REQUIRE(sub, "streamlog_progress: subscription is NULL");
    REQUIRE(seq > 0, "streamlog_progress: sequence 0 is never a message");
    return sl_result(sl_sub_progress(sub, seq));
}

SL_PUBLIC int streamlog_term(streamlog_sub *sub, uint64_t seq)
{
    sl_clear_error();
    REQUIRE(sub, "streamlog_term: subscription is NULL");
    REQUIRE(seq > 0, "streamlog_term: sequence 0 is never a message");
    return sl_result(sl_sub_term(sub, seq));
}

SL_PUBLIC int streamlog_sub_fd(streamlog_sub *sub)
{
    sl_clear_error();
    REQUIRE(sub, "streamlog_sub_fd: subscription is NULL");
    return sl_result(sl_sub_fd(sub));
}

SL_PUBLIC int streamlog_sub_close(streamlog_sub *sub)
{
    sl_clear_error();
    REQUIRE(sub, "streamlog_sub_close: subscription is NULL");
    sl_handles_remove(sub);
    return sl_result(sl_sub_close(sub, 0));
}

SL_PUBLIC int streamlog_sub_unsubscribe(streamlog_sub *sub)
{
    sl_clear_error();
    REQUIRE(sub, "streamlog_sub_unsubscribe: subscription is NULL");
    sl_handles_remove(sub);
    return sl_result(sl_sub_close(sub, 1));
}

SL_PUBLIC uint32_t streamlog_msg_redelivery_count(const streamlog_msg *m)
{
    return m ? m->redeliveries : 0;
}

SL_PUBLIC int streamlog_sub_get_stats(streamlog_sub *sub, streamlog_sub_stats *out)
{
    sl_clear_error();
    REQUIRE(sub, "streamlog_sub_get_stats: subscription is NULL");
    REQUIRE(out, "streamlog_sub_get_stats: out is NULL");
    streamlog_sub_stats_v2 s;
    int rc = sl_sub_stats(sub, &s);
    if (!rc)
        *out = (streamlog_sub_stats){.pending = s.pending,
                                     .last_delivered = s.last_delivered,
                                     .next_seq = s.next_seq,
                                     .delivered = s.delivered,
                                     .redelivered = s.redelivered,
                                     .acked = s.acked,
                                     .dead_lettered = s.dead_lettered,
                                     .stalled = s.stalled,
                                     .max_inflight = s.max_inflight};
    return sl_result(rc);
}

SL_PUBLIC int streamlog_sub_get_stats_v2(streamlog_sub *sub, streamlog_sub_stats_v2 *out)
{
    sl_clear_error();
    REQUIRE(sub, "streamlog_sub_get_stats_v2: subscription is NULL");
    REQUIRE(out, "streamlog_sub_get_stats_v2: out is NULL");
    int rc = check_stats_size(out->size, "streamlog_sub_get_stats_v2");
    streamlog_sub_stats_v2 s = {0};
    if (!rc && !(rc = sl_sub_stats(sub, &s)))
        copy_stats(out, &s, sizeof s, out->size);
    return sl_result(rc);
}

SL_PUBLIC int streamlog_group_list_next(streamlog_channel *ch, int after_kind, const char *after_name, int *out_kind,
                                        char *buf, size_t cap)
{
    sl_clear_error();
    REQUIRE(ch, "streamlog_group_list_next: channel is NULL");
    REQUIRE(out_kind, "streamlog_group_list_next: out_kind is NULL");
    REQUIRE(buf, "streamlog_group_list_next: buffer is NULL");
    REQUIRE(!after_kind || after_name, "streamlog_group_list_next: after_name is NULL with after_kind %d",
            after_kind);
    return sl_result(sl_group_list_next(ch, after_kind, after_name, out_kind, buf, cap));
}

SL_PUBLIC int streamlog_group_get_stats(streamlog_channel *ch, int kind, const char *name, streamlog_group_stats *out)
{
    sl_clear_error();
    REQUIRE(ch, "streamlog_group_get_stats: channel is NULL");
    REQUIRE(name, "streamlog_group_get_stats: name is NULL");
    REQUIRE(out, "streamlog_group_get_stats: out is NULL");
    streamlog_group_stats_v2 s;
    int rc = sl_group_stats(ch, kind, name, &s);
    if (!rc)
        *out = (streamlog_group_stats){.next_seq = s.next_seq,
                                       .lag = s.lag,
                                       .pending = s.pending,
                                       .redelivered = s.redelivered,
                                       .members = s.members,
                                       .kind = s.kind};
    return sl_result(rc);
}

SL_PUBLIC int streamlog_group_get_stats_v2(streamlog_channel *ch, int kind, const char *name,
                                           streamlog_group_stats_v2 *out)
{
    sl_clear_error();
    REQUIRE(ch, "streamlog_group_get_stats_v2: channel is NULL");
    REQUIRE(name, "streamlog_group_get_stats_v2: name is NULL");
    REQUIRE(out, "streamlog_group_get_stats_v2: out is NULL");
    int rc = check_stats_size(out->size, "streamlog_group_get_stats_v2");
    streamlog_group_stats_v2 s = {0};
    if (!rc && !(rc = sl_group_stats(ch, kind, name, &s)))
        copy_stats(out, &s, sizeof s, out->size);
    return sl_result(rc);
}

SL_PUBLIC int streamlog_group_delete(streamlog_channel *ch, int kind, const char *name)
{
    sl_clear_error();
    REQUIRE(ch, "streamlog_group_delete: channel is NULL");
    REQUIRE(name, "streamlog_group_delete: name is NULL");
    return sl_result(sl_group_delete(ch, kind, name));
}
