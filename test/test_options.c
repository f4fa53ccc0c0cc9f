/*
 * test_options.c - the options object: typed setters, key ranges, which keys
 * each call accepts, and that the values given take effect. (Subscription
 * keys are covered here only as far as the setters and their rejection by
 * streamlog_open / streamlog_channel_open go.)
 */
#define _GNU_SOURCE
#include "test_util.h"

#include <limits.h>
#include <string.h>

static const int all_keys[] = {
    STREAMLOG_OPT_SYNC, STREAMLOG_OPT_SYNC_INTERVAL_MS, STREAMLOG_OPT_MAX_STORE_BYTES,
    STREAMLOG_OPT_MAX_CHANNELS, STREAMLOG_OPT_MAX_PAYLOAD, STREAMLOG_OPT_MAX_MSGS,
    STREAMLOG_OPT_MAX_BYTES, STREAMLOG_OPT_MAX_AGE_MS, STREAMLOG_OPT_MAX_SUBS,
};
#define NKEYS (sizeof all_keys / sizeof all_keys[0])

static const int store_only_keys[] = {
    STREAMLOG_OPT_SYNC, STREAMLOG_OPT_SYNC_INTERVAL_MS, STREAMLOG_OPT_MAX_STORE_BYTES,
    STREAMLOG_OPT_MAX_CHANNELS, STREAMLOG_OPT_MAX_PAYLOAD, STREAMLOG_OPT_READONLY,
    STREAMLOG_OPT_MAX_READERS,
};
#define NSTOREONLY (sizeof store_only_keys / sizeof store_only_keys[0])

/* A valid value for each store-only key (for building a limits object). */
static int64_t valid_value(int key)
{
    switch (key) {
    case STREAMLOG_OPT_SYNC: return STREAMLOG_SYNC_NONE;
    case STREAMLOG_OPT_SYNC_INTERVAL_MS: return 50;
    case STREAMLOG_OPT_MAX_STORE_BYTES: return (int64_t)64 << 20;
    case STREAMLOG_OPT_MAX_CHANNELS: return 10;
    case STREAMLOG_OPT_MAX_PAYLOAD: return 1000;
    case STREAMLOG_OPT_READONLY: return 1;
    case STREAMLOG_OPT_MAX_READERS: return 64;
    default: return 5;
    }
}

static const int unknown_keys[] = { 0, -1, 9, 15, 20, 21, 31, 41, 100, 9999, INT_MAX, INT_MIN };

static const int string_keys[] = { STREAMLOG_OPT_DURABLE, STREAMLOG_OPT_QUEUE,
                                   STREAMLOG_OPT_DEAD_LETTER };
#define NSTRING (sizeof string_keys / sizeof string_keys[0])
#define NUNKNOWN (sizeof unknown_keys / sizeof unknown_keys[0])

struct range_case {
    int key;
    int64_t value;
    int expect;
};

static const struct range_case range_cases[] = {
    { STREAMLOG_OPT_SYNC, STREAMLOG_SYNC_ALWAYS, STREAMLOG_OK },
    { STREAMLOG_OPT_SYNC, STREAMLOG_SYNC_INTERVAL, STREAMLOG_OK },
    { STREAMLOG_OPT_SYNC, STREAMLOG_SYNC_NONE, STREAMLOG_OK },
    { STREAMLOG_OPT_SYNC, -1, STREAMLOG_EINVAL },
    { STREAMLOG_OPT_SYNC, 3, STREAMLOG_EINVAL },
    { STREAMLOG_OPT_SYNC, INT64_MAX, STREAMLOG_EINVAL },
    { STREAMLOG_OPT_SYNC, INT64_MIN, STREAMLOG_EINVAL },

    { STREAMLOG_OPT_SYNC_INTERVAL_MS, 1, STREAMLOG_OK },
    { STREAMLOG_OPT_SYNC_INTERVAL_MS, 100, STREAMLOG_OK },
    { STREAMLOG_OPT_SYNC_INTERVAL_MS, 3600000, STREAMLOG_OK },
    { STREAMLOG_OPT_SYNC_INTERVAL_MS, 0, STREAMLOG_EINVAL },
    { STREAMLOG_OPT_SYNC_INTERVAL_MS, -1, STREAMLOG_EINVAL },
    { STREAMLOG_OPT_SYNC_INTERVAL_MS, 3600001, STREAMLOG_EINVAL },
    { STREAMLOG_OPT_SYNC_INTERVAL_MS, INT64_MAX, STREAMLOG_EINVAL },
    /* A value that is valid only when truncated to 32 bits. */
    { STREAMLOG_OPT_SYNC_INTERVAL_MS, ((int64_t)1 << 32) + 100, STREAMLOG_EINVAL },

    { STREAMLOG_OPT_MAX_STORE_BYTES, 0, STREAMLOG_OK },
    { STREAMLOG_OPT_MAX_STORE_BYTES, (int64_t)1 << 20, STREAMLOG_OK },
    { STREAMLOG_OPT_MAX_STORE_BYTES, ((int64_t)1 << 20) + 1, STREAMLOG_OK },
    { STREAMLOG_OPT_MAX_STORE_BYTES, (int64_t)1 << 40, STREAMLOG_OK },
    { STREAMLOG_OPT_MAX_STORE_BYTES, 1, STREAMLOG_EINVAL },
    { STREAMLOG_OPT_MAX_STORE_BYTES, ((int64_t)1 << 20) - 1, STREAMLOG_EINVAL },
    { STREAMLOG_OPT_MAX_STORE_BYTES, -1, STREAMLOG_EINVAL },
    { STREAMLOG_OPT_MAX_STORE_BYTES, INT64_MIN, STREAMLOG_EINVAL },

    { STREAMLOG_OPT_MAX_CHANNELS, 0, STREAMLOG_OK },
    { STREAMLOG_OPT_MAX_CHANNELS, 1, STREAMLOG_OK },
    { STREAMLOG_OPT_MAX_CHANNELS, 1000000, STREAMLOG_OK },
    { STREAMLOG_OPT_MAX_CHANNELS, -1, STREAMLOG_EINVAL },
    { STREAMLOG_OPT_MAX_CHANNELS, INT64_MIN, STREAMLOG_EINVAL },

    { STREAMLOG_OPT_DEDUP_WINDOW_MS, 1, STREAMLOG_OK },
    { STREAMLOG_OPT_DEDUP_WINDOW_MS, 7 * 86400000LL, STREAMLOG_OK },
    { STREAMLOG_OPT_DEDUP_WINDOW_MS, 0, STREAMLOG_EINVAL },
    { STREAMLOG_OPT_DEDUP_WINDOW_MS, 7 * 86400000LL + 1, STREAMLOG_EINVAL },
    { STREAMLOG_OPT_MAX_READERS, 16, STREAMLOG_OK },
    { STREAMLOG_OPT_MAX_READERS, 65536, STREAMLOG_OK },
    { STREAMLOG_OPT_MAX_READERS, 15, STREAMLOG_EINVAL },
    { STREAMLOG_OPT_MAX_READERS, 0, STREAMLOG_EINVAL },
    { STREAMLOG_OPT_MAX_READERS, 65537, STREAMLOG_EINVAL },
    { STREAMLOG_OPT_MAX_PAYLOAD, 0, STREAMLOG_OK },
    { STREAMLOG_OPT_MAX_PAYLOAD, 1, STREAMLOG_OK },
    { STREAMLOG_OPT_MAX_PAYLOAD, 1 << 20, STREAMLOG_OK },
    { STREAMLOG_OPT_MAX_PAYLOAD, STREAMLOG_PAYLOAD_HARD_MAX, STREAMLOG_OK },
    { STREAMLOG_OPT_MAX_PAYLOAD, -1, STREAMLOG_EINVAL },
    { STREAMLOG_OPT_MAX_PAYLOAD, INT64_MIN, STREAMLOG_EINVAL },

    { STREAMLOG_OPT_MAX_MSGS, 0, STREAMLOG_OK },
    { STREAMLOG_OPT_MAX_MSGS, 1, STREAMLOG_OK },
    { STREAMLOG_OPT_MAX_MSGS, INT64_MAX, STREAMLOG_OK },
    { STREAMLOG_OPT_MAX_MSGS, -1, STREAMLOG_EINVAL },
    { STREAMLOG_OPT_MAX_MSGS, INT64_MIN, STREAMLOG_EINVAL },

    { STREAMLOG_OPT_MAX_BYTES, 0, STREAMLOG_OK },
    { STREAMLOG_OPT_MAX_BYTES, 1, STREAMLOG_OK },
    { STREAMLOG_OPT_MAX_BYTES, INT64_MAX, STREAMLOG_OK },
    { STREAMLOG_OPT_MAX_BYTES, -1, STREAMLOG_EINVAL },
    { STREAMLOG_OPT_MAX_BYTES, INT64_MIN, STREAMLOG_EINVAL },

    { STREAMLOG_OPT_MAX_AGE_MS, 0, STREAMLOG_OK },
    { STREAMLOG_OPT_MAX_AGE_MS, 1, STREAMLOG_OK },
    { STREAMLOG_OPT_MAX_AGE_MS, INT64_MAX, STREAMLOG_OK },
    { STREAMLOG_OPT_MAX_AGE_MS, -1, STREAMLOG_EINVAL },
    { STREAMLOG_OPT_MAX_AGE_MS, INT64_MIN, STREAMLOG_EINVAL },

    { STREAMLOG_OPT_MAX_SUBS, 0, STREAMLOG_OK },
    { STREAMLOG_OPT_MAX_SUBS, 1, STREAMLOG_OK },
    { STREAMLOG_OPT_MAX_SUBS, INT64_MAX, STREAMLOG_OK },
    { STREAMLOG_OPT_MAX_SUBS, -1, STREAMLOG_EINVAL },
    { STREAMLOG_OPT_MAX_SUBS, INT64_MIN, STREAMLOG_EINVAL },

    /* Subscription keys (streamlog_subscribe). */
    { STREAMLOG_OPT_START, STREAMLOG_START_NEW_ONLY, STREAMLOG_OK },
    { STREAMLOG_OPT_START, STREAMLOG_START_TIME, STREAMLOG_OK },
    { STREAMLOG_OPT_START, -1, STREAMLOG_EINVAL },
    { STREAMLOG_OPT_START, 6, STREAMLOG_EINVAL },
    { STREAMLOG_OPT_START_VALUE, 0, STREAMLOG_OK },
    { STREAMLOG_OPT_START_VALUE, INT64_MAX, STREAMLOG_OK },
    { STREAMLOG_OPT_MAX_INFLIGHT, 1, STREAMLOG_OK },
    { STREAMLOG_OPT_MAX_INFLIGHT, 1048576, STREAMLOG_OK },
    { STREAMLOG_OPT_MAX_INFLIGHT, 0, STREAMLOG_EINVAL },
    { STREAMLOG_OPT_MAX_INFLIGHT, 1048577, STREAMLOG_EINVAL },
    { STREAMLOG_OPT_MAX_INFLIGHT, -1, STREAMLOG_EINVAL },
    { STREAMLOG_OPT_ACK_WAIT_MS, 1, STREAMLOG_OK },
    { STREAMLOG_OPT_ACK_WAIT_MS, 86400000, STREAMLOG_OK },
    { STREAMLOG_OPT_ACK_WAIT_MS, 0, STREAMLOG_EINVAL },
    { STREAMLOG_OPT_ACK_WAIT_MS, 86400001, STREAMLOG_EINVAL },
    { STREAMLOG_OPT_ACK_MODE, STREAMLOG_ACK_MANUAL, STREAMLOG_OK },
    { STREAMLOG_OPT_ACK_MODE, STREAMLOG_ACK_AUTO, STREAMLOG_OK },
    { STREAMLOG_OPT_ACK_MODE, STREAMLOG_ACK_NONE, STREAMLOG_OK },
    { STREAMLOG_OPT_ACK_MODE, 3, STREAMLOG_EINVAL },
    { STREAMLOG_OPT_ACK_MODE, -1, STREAMLOG_EINVAL },
    { STREAMLOG_OPT_MAX_DELIVER, 0, STREAMLOG_OK },
    { STREAMLOG_OPT_MAX_DELIVER, 5, STREAMLOG_OK },
    { STREAMLOG_OPT_MAX_DELIVER, -1, STREAMLOG_EINVAL },
    /* String keys through the int setter. */
    { STREAMLOG_OPT_DURABLE, 1, STREAMLOG_EINVAL },
    { STREAMLOG_OPT_QUEUE, 1, STREAMLOG_EINVAL },
    { STREAMLOG_OPT_DEAD_LETTER, 1, STREAMLOG_EINVAL },
};
#define NRANGE (sizeof range_cases / sizeof range_cases[0])

START_TEST(new_and_free)
{
    TU_RC(streamlog_opts_new(NULL), STREAMLOG_EINVAL);
    streamlog_opts *o = NULL;
    TU_OK(streamlog_opts_new(&o));
    ck_assert_ptr_nonnull(o);
    streamlog_opts *o2 = NULL;
    TU_OK(streamlog_opts_new(&o2));
    ck_assert_ptr_ne(o, o2);
    streamlog_opts_free(o);
    streamlog_opts_free(o2);
    streamlog_opts_free(NULL); /* accepted */
}
END_TEST

START_TEST(set_int_ranges)
{
    /* Collect every mismatch, then fail once listing them all. */
    char report[2048] = "";
    size_t used = 0;
    int bad = 0;
    for (size_t i = 0; i < NRANGE; i++) {
        streamlog_opts *o = NULL;
        TU_OK(streamlog_opts_new(&o));
        int rc = streamlog_opts_set_int(o, range_cases[i].key, range_cases[i].value);
        if (rc != range_cases[i].expect) {
            bad++;
            if (used < sizeof report)
                used += (size_t)snprintf(report + used, sizeof report - used,
                                         " [set_int(key %d, %lld): expected %s, got %s]",
                                         range_cases[i].key, (long long)range_cases[i].value,
                                         tu_name(range_cases[i].expect), tu_name(rc));
        }
        streamlog_opts_free(o);
    }
    ck_assert_msg(bad == 0, "%d range case(s) wrong:%s", bad, report);
}
END_TEST

START_TEST(set_int_unknown_keys)
{
    streamlog_opts *o = NULL;
    TU_OK(streamlog_opts_new(&o));
    for (size_t i = 0; i < NUNKNOWN; i++) {
        int rc = streamlog_opts_set_int(o, unknown_keys[i], 1);
        ck_assert_msg(rc == STREAMLOG_EINVAL, "set_int(unknown key %d): got %s",
                      unknown_keys[i], tu_name(rc));
    }
    streamlog_opts_free(o);
}
END_TEST

START_TEST(set_int_null_opts)
{
    for (size_t i = 0; i < NKEYS; i++)
        TU_RC(streamlog_opts_set_int(NULL, all_keys[i], 1), STREAMLOG_EINVAL);
}
END_TEST

START_TEST(set_str_rejects_everything)
{
    streamlog_opts *o = NULL;
    TU_OK(streamlog_opts_new(&o));
    /* Every store and limit key is an int key. */
    for (size_t i = 0; i < NKEYS; i++) {
        int rc = streamlog_opts_set_str(o, all_keys[i], "5");
        ck_assert_msg(rc == STREAMLOG_EINVAL, "set_str(int key %d): got %s", all_keys[i],
                      tu_name(rc));
        rc = streamlog_opts_set_str(o, all_keys[i], NULL);
        ck_assert_msg(rc == STREAMLOG_EINVAL, "set_str(key %d, NULL): got %s", all_keys[i],
                      tu_name(rc));
    }
    for (size_t i = 0; i < NUNKNOWN; i++) {
        int rc = streamlog_opts_set_str(o, unknown_keys[i], "x");
        ck_assert_msg(rc == STREAMLOG_EINVAL, "set_str(unknown key %d): got %s",
                      unknown_keys[i], tu_name(rc));
    }
    TU_RC(streamlog_opts_set_str(NULL, STREAMLOG_OPT_MAX_MSGS, "5"), STREAMLOG_EINVAL);
    TU_RC(streamlog_opts_set_str(NULL, 9999, NULL), STREAMLOG_EINVAL);
    /* Integer subscription keys too. */
    TU_RC(streamlog_opts_set_str(o, STREAMLOG_OPT_START, "1"), STREAMLOG_EINVAL);
    TU_RC(streamlog_opts_set_str(o, STREAMLOG_OPT_MAX_INFLIGHT, "1"), STREAMLOG_EINVAL);
    streamlog_opts_free(o);
}
END_TEST

START_TEST(set_str_string_keys)
{
    streamlog_opts *o = NULL;
    TU_OK(streamlog_opts_new(&o));
    for (size_t i = 0; i < NSTRING; i++) {
        TU_OK(streamlog_opts_set_str(o, string_keys[i], "worker.group"));
        TU_OK(streamlog_opts_set_str(o, string_keys[i], "replaced"));
        TU_RC(streamlog_opts_set_str(o, string_keys[i], NULL), STREAMLOG_EINVAL);
        TU_RC(streamlog_opts_set_str(NULL, string_keys[i], "x"), STREAMLOG_EINVAL);
    }
    /* The string is copied: the caller's buffer may change right after. */
    char buf[16] = "orig";
    TU_OK(streamlog_opts_set_str(o, STREAMLOG_OPT_DURABLE, buf));
    memset(buf, 0, sizeof buf);
    streamlog_opts_free(o);
}
END_TEST

/* Subscription keys do not apply to streamlog_open or channel_open. */
START_TEST(subscription_keys_rejected_by_open)
{
    static const int int_keys[] = { STREAMLOG_OPT_START, STREAMLOG_OPT_START_VALUE,
                                    STREAMLOG_OPT_MAX_INFLIGHT, STREAMLOG_OPT_ACK_WAIT_MS,
                                    STREAMLOG_OPT_ACK_MODE, STREAMLOG_OPT_MAX_DELIVER };
    for (size_t i = 0; i < sizeof int_keys / sizeof int_keys[0] + NSTRING; i++) {
        streamlog_opts *o = NULL;
        TU_OK(streamlog_opts_new(&o));
        int key;
        if (i < sizeof int_keys / sizeof int_keys[0]) {
            key = int_keys[i];
            TU_OK(streamlog_opts_set_int(o, key, 1));
        } else {
            key = string_keys[i - sizeof int_keys / sizeof int_keys[0]];
            TU_OK(streamlog_opts_set_str(o, key, "name"));
        }
        streamlog_store *st = (streamlog_store *)&o;
        int rc = streamlog_open(tu_store, o, &st);
        ck_assert_msg(rc == STREAMLOG_EINVAL, "open with subscription key %d: got %s", key,
                      tu_name(rc));
        ck_assert_ptr_eq(st, (streamlog_store *)&o);
        if (rc == STREAMLOG_OK)
            streamlog_close(st);
        st = tu_open(NULL);
        streamlog_channel *ch = NULL;
        rc = streamlog_channel_open(st, "c", STREAMLOG_CREATE, o, &ch);
        ck_assert_msg(rc == STREAMLOG_EINVAL, "channel_open with subscription key %d: got %s",
                      key, tu_name(rc));
        TU_RC(streamlog_channel_open(st, "c", 0, NULL, &ch), STREAMLOG_ENOTFOUND);
        TU_OK(streamlog_close(st));
        streamlog_opts_free(o);
    }
}
END_TEST

/* A failed set leaves the earlier value in place. */
START_TEST(failed_set_leaves_value)
{
    streamlog_store *st = tu_open(NULL);
    streamlog_opts *o = tu_opts1(STREAMLOG_OPT_MAX_MSGS, 3);
    TU_RC(streamlog_opts_set_int(o, STREAMLOG_OPT_MAX_MSGS, -1), STREAMLOG_EINVAL);
    TU_RC(streamlog_opts_set_str(o, STREAMLOG_OPT_MAX_MSGS, "7"), STREAMLOG_EINVAL);
    streamlog_channel *ch = tu_chan(st, "c", o);
    streamlog_opts_free(o);
    for (int i = 0; i < 10; i++)
        tu_append_str(ch, "m");
    streamlog_channel_stats s = tu_stats(ch);
    ck_assert_uint_eq(s.msgs, 3);
    ck_assert_uint_eq(s.first_seq, 8);
    ck_assert_uint_eq(s.last_seq, 10);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

/* A failed set of a key that was never set leaves it unset (unlimited). */
START_TEST(failed_set_leaves_key_unset)
{
    streamlog_store *st = tu_open(NULL);
    streamlog_opts *o = NULL;
    TU_OK(streamlog_opts_new(&o));
    TU_RC(streamlog_opts_set_int(o, STREAMLOG_OPT_MAX_MSGS, -5), STREAMLOG_EINVAL);
    streamlog_channel *ch = tu_chan(st, "c", o);
    streamlog_opts_free(o);
    for (int i = 0; i < 20; i++)
        tu_append_str(ch, "m");
    ck_assert_uint_eq(tu_stats(ch).msgs, 20);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(set_again_replaces)
{
    streamlog_store *st = tu_open(NULL);
    streamlog_opts *o = tu_opts1(STREAMLOG_OPT_MAX_MSGS, 2);
    TU_OK(streamlog_opts_set_int(o, STREAMLOG_OPT_MAX_MSGS, 4));
    streamlog_channel *ch = tu_chan(st, "c", o);
    streamlog_opts_free(o);
    for (int i = 0; i < 10; i++)
        tu_append_str(ch, "m");
    ck_assert_uint_eq(tu_stats(ch).msgs, 4);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

/* Opts are read only during the call: freeing them right after is fine and
 * the settings stay in force. */
START_TEST(opts_freed_after_open_keep_effect)
{
    streamlog_opts *o = tu_opts2(STREAMLOG_OPT_MAX_PAYLOAD, 10, STREAMLOG_OPT_MAX_MSGS, 2);
    streamlog_store *st = tu_open(o);
    streamlog_opts_free(o);
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    TU_OK(streamlog_append(ch, "0123456789", 10, NULL));
    TU_RC(streamlog_append(ch, "0123456789a", 11, NULL), STREAMLOG_ELIMIT);
    tu_append_str(ch, "b");
    tu_append_str(ch, "c");
    streamlog_channel_stats s = tu_stats(ch);
    ck_assert_uint_eq(s.msgs, 2);
    ck_assert_uint_eq(s.last_seq, 3);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

/* Store-only keys are not channel limits: channel_open rejects them and
 * creates nothing. */
START_TEST(store_keys_rejected_by_channel_open)
{
    streamlog_store *st = tu_open(NULL);
    for (size_t i = 0; i < NSTOREONLY; i++) {
        streamlog_opts *o = tu_opts1(store_only_keys[i], valid_value(store_only_keys[i]));
        streamlog_channel *ch = (streamlog_channel *)&o; /* sentinel */
        int rc = streamlog_channel_open(st, "newchan", STREAMLOG_CREATE, o, &ch);
        ck_assert_msg(rc == STREAMLOG_EINVAL, "channel_open with store key %d: got %s",
                      store_only_keys[i], tu_name(rc));
        ck_assert_msg(ch == (streamlog_channel *)&o, "output written on failure");
        streamlog_opts_free(o);
        TU_RC(streamlog_channel_open(st, "newchan", 0, NULL, &ch), STREAMLOG_ENOTFOUND);
    }
    streamlog_channel *ch = tu_chan(st, "newchan", NULL);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

/* On an existing channel, a rejected limits object changes nothing. */
START_TEST(store_keys_rejected_for_existing_channel)
{
    streamlog_store *st = tu_open(NULL);
    streamlog_channel *ch = tu_chan1(st, "c", STREAMLOG_OPT_MAX_MSGS, 5);
    for (int i = 0; i < 5; i++)
        tu_append_str(ch, "m");
    /* Mixed: a valid limit key plus a store key: all rejected. */
    streamlog_opts *o = tu_opts2(STREAMLOG_OPT_MAX_MSGS, 1, STREAMLOG_OPT_MAX_PAYLOAD, 100);
    streamlog_channel *ch2 = NULL;
    TU_RC(streamlog_channel_open(st, "c", 0, o, &ch2), STREAMLOG_EINVAL);
    streamlog_opts_free(o);
    streamlog_channel_stats s = tu_stats(ch);
    ck_assert_uint_eq(s.msgs, 5);
    tu_append_str(ch, "m");
    s = tu_stats(ch);
    ck_assert_uint_eq(s.msgs, 5); /* still max_msgs 5, not 1 */
    ck_assert_uint_eq(s.first_seq, 2);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

/* Every key is accepted by streamlog_open (store keys and limit defaults),
 * with an empty object equivalent to NULL. */
START_TEST(open_accepts_all_keys)
{
    streamlog_opts *o = NULL;
    TU_OK(streamlog_opts_new(&o));
    streamlog_store *st = tu_open(o); /* empty object */
    TU_OK(streamlog_close(st));
    for (size_t i = 0; i < NKEYS; i++)
        TU_OK(streamlog_opts_set_int(o, all_keys[i], valid_value(all_keys[i])));
    st = tu_open(o);
    streamlog_opts_free(o);
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    tu_append_str(ch, "x");
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(channel_open_accepts_limit_keys)
{
    streamlog_store *st = tu_open(NULL);
    streamlog_opts *o = NULL;
    TU_OK(streamlog_opts_new(&o));
    streamlog_channel *ch = tu_chan(st, "empty", o); /* empty limits object */
    streamlog_channel_close(ch);
    TU_OK(streamlog_opts_set_int(o, STREAMLOG_OPT_MAX_MSGS, 100));
    TU_OK(streamlog_opts_set_int(o, STREAMLOG_OPT_MAX_BYTES, 100000));
    TU_OK(streamlog_opts_set_int(o, STREAMLOG_OPT_MAX_AGE_MS, 3600000));
    TU_OK(streamlog_opts_set_int(o, STREAMLOG_OPT_MAX_SUBS, 3));
    ch = tu_chan(st, "limited", o);
    streamlog_opts_free(o);
    tu_append_str(ch, "x");
    ck_assert_uint_eq(tu_stats(ch).msgs, 1);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

/* Each sync policy opens, appends, and keeps its data across a clean close. */
START_TEST(sync_policies_work)
{
    static const int policies[] = { STREAMLOG_SYNC_ALWAYS, STREAMLOG_SYNC_INTERVAL,
                                    STREAMLOG_SYNC_NONE };
    for (int p = 0; p < 3; p++) {
        streamlog_store *st = tu_open2(STREAMLOG_OPT_SYNC, policies[p],
                                       STREAMLOG_OPT_SYNC_INTERVAL_MS, 10);
        streamlog_channel *ch = tu_chan(st, "c", NULL);
        char buf[32];
        snprintf(buf, sizeof buf, "policy %d", p);
        uint64_t seq = tu_append_str(ch, buf);
        ck_assert_uint_eq(seq, (uint64_t)p + 1);
        TU_OK(streamlog_sync(st));
        streamlog_channel_close(ch);
        TU_OK(streamlog_close(st));
    }
    streamlog_store *st = tu_open(NULL);
    streamlog_channel *ch = NULL;
    TU_OK(streamlog_channel_open(st, "c", 0, NULL, &ch));
    tu_expect_msg(ch, 1, "policy 0", 8);
    tu_expect_msg(ch, 2, "policy 1", 8);
    tu_expect_msg(ch, 3, "policy 2", 8);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

static Suite *options_suite(void)
{
    Suite *s = suite_create("options");
    TCase *tc = tu_tcase("setters", 0);
    tcase_add_test(tc, new_and_free);
    tcase_add_test(tc, set_int_ranges);
    tcase_add_test(tc, set_int_unknown_keys);
    tcase_add_test(tc, set_int_null_opts);
    tcase_add_test(tc, set_str_rejects_everything);
    tcase_add_test(tc, set_str_string_keys);
    suite_add_tcase(s, tc);

    tc = tu_tcase("effect", 0);
    tcase_add_test(tc, failed_set_leaves_value);
    tcase_add_test(tc, failed_set_leaves_key_unset);
    tcase_add_test(tc, set_again_replaces);
    tcase_add_test(tc, opts_freed_after_open_keep_effect);
    tcase_add_test(tc, store_keys_rejected_by_channel_open);
    tcase_add_test(tc, store_keys_rejected_for_existing_channel);
    tcase_add_test(tc, subscription_keys_rejected_by_open);
    tcase_add_test(tc, open_accepts_all_keys);
    tcase_add_test(tc, channel_open_accepts_limit_keys);
    tcase_add_test(tc, sync_policies_work);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(options_suite());
}
