/*
 * test_badinput.c - every public function with NULL and invalid arguments:
 * the documented code, no crash, outputs untouched, a detail message, and a
 * store that is still fully usable (and closable) afterwards.
 */
#define _GNU_SOURCE
#include "test_util.h"

#include <string.h>

/* Expect rc, and a non-empty errmsg for a failure. */
#define BAD(expr, expected)                                                        \
    do {                                                                           \
        TU_RC(expr, expected);                                                     \
        const char *m_ = streamlog_errmsg();                                       \
        ck_assert_msg(m_ && m_[0], "%s: no errmsg after the failure", #expr);      \
    } while (0)

static streamlog_store *st;
static streamlog_channel *ch;

static void open_fixture(void)
{
    st = tu_open(NULL);
    ch = tu_chan(st, "c", NULL);
    tu_append_str(ch, "one");
    tu_append_str(ch, "two");
}

/* The store still works and nothing was left open by the failures. */
static void check_and_close(void)
{
    uint64_t seq = tu_append_str(ch, "after");
    tu_expect_msg(ch, seq, "after", 5);
    streamlog_channel_stats s = tu_stats(ch);
    ck_assert_uint_eq(s.last_seq, seq);
    ck_assert_uint_eq(s.msgs, seq);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st)); /* EBUSY here = a failed call leaked a handle */
}

START_TEST(version_and_names)
{
    ck_assert_ptr_nonnull(streamlog_version());
    ck_assert_ptr_nonnull(streamlog_strerror(12345));
    ck_assert_ptr_nonnull(streamlog_errname(-12345));
    ck_assert_ptr_nonnull(streamlog_errmsg());
}
END_TEST

START_TEST(options_bad)
{
    BAD(streamlog_opts_new(NULL), STREAMLOG_EINVAL);
    streamlog_opts_free(NULL);
    BAD(streamlog_opts_set_int(NULL, STREAMLOG_OPT_MAX_MSGS, 1), STREAMLOG_EINVAL);
    BAD(streamlog_opts_set_str(NULL, STREAMLOG_OPT_MAX_MSGS, "1"), STREAMLOG_EINVAL);
    streamlog_opts *o = NULL;
    TU_OK(streamlog_opts_new(&o));
    BAD(streamlog_opts_set_int(o, -12345, 1), STREAMLOG_EINVAL);
    BAD(streamlog_opts_set_int(o, STREAMLOG_OPT_MAX_MSGS, -1), STREAMLOG_EINVAL);
    BAD(streamlog_opts_set_str(o, STREAMLOG_OPT_MAX_MSGS, NULL), STREAMLOG_EINVAL);
    BAD(streamlog_opts_set_str(o, 12345, "x"), STREAMLOG_EINVAL);
    streamlog_opts_free(o);
}
END_TEST

START_TEST(store_bad)
{
    streamlog_store *s = (streamlog_store *)&s;
    BAD(streamlog_open(NULL, NULL, &s), STREAMLOG_EINVAL);
    BAD(streamlog_open(tu_store, NULL, NULL), STREAMLOG_EINVAL);
    BAD(streamlog_open(NULL, NULL, NULL), STREAMLOG_EINVAL);
    ck_assert_ptr_eq(s, (streamlog_store *)&s);
    BAD(streamlog_close(NULL), STREAMLOG_EINVAL);
    BAD(streamlog_sync(NULL), STREAMLOG_EINVAL);
    /* A store can still be opened and closed normally. */
    open_fixture();
    check_and_close();
}
END_TEST

START_TEST(channel_bad)
{
    open_fixture();
    streamlog_channel *c = (streamlog_channel *)&c;
    BAD(streamlog_channel_open(NULL, "c", 0, NULL, &c), STREAMLOG_EINVAL);
    BAD(streamlog_channel_open(st, NULL, STREAMLOG_CREATE, NULL, &c), STREAMLOG_EINVAL);
    BAD(streamlog_channel_open(st, "c", 0, NULL, NULL), STREAMLOG_EINVAL);
    BAD(streamlog_channel_open(st, "new", STREAMLOG_CREATE, NULL, NULL), STREAMLOG_EINVAL);
    BAD(streamlog_channel_open(st, "c", 0x10, NULL, &c), STREAMLOG_EINVAL);
    BAD(streamlog_channel_open(st, "a..b", STREAMLOG_CREATE, NULL, &c), STREAMLOG_EINVAL);
    ck_assert_ptr_eq(c, (streamlog_channel *)&c);
    /* The failed open with NULL out created nothing. */
    BAD(streamlog_channel_open(st, "new", 0, NULL, &c), STREAMLOG_ENOTFOUND);
    streamlog_channel_close(NULL);

    BAD(streamlog_channel_delete(NULL, "c"), STREAMLOG_EINVAL);
    BAD(streamlog_channel_delete(st, NULL), STREAMLOG_EINVAL);
    BAD(streamlog_channel_delete(st, ""), STREAMLOG_EINVAL);

    streamlog_channel_stats s;
    memset(&s, 0x5a, sizeof s);
    streamlog_channel_stats s0 = s;
    BAD(streamlog_channel_get_stats(NULL, &s), STREAMLOG_EINVAL);
    ck_assert_int_eq(memcmp(&s, &s0, sizeof s), 0);
    BAD(streamlog_channel_get_stats(ch, NULL), STREAMLOG_EINVAL);

    const char *name = "sentinel";
    BAD(streamlog_channel_name(NULL, &name), STREAMLOG_EINVAL);
    ck_assert_str_eq(name, "sentinel");
    BAD(streamlog_channel_name(ch, NULL), STREAMLOG_EINVAL);
    check_and_close();
}
END_TEST

START_TEST(append_bad)
{
    open_fixture();
    uint64_t seq = 4242;
    BAD(streamlog_append(NULL, "x", 1, &seq), STREAMLOG_EINVAL);
    BAD(streamlog_append(NULL, NULL, 0, NULL), STREAMLOG_EINVAL);
    BAD(streamlog_append(ch, NULL, 1, &seq), STREAMLOG_EINVAL);
    BAD(streamlog_append_expect(NULL, "x", 1, 2, &seq), STREAMLOG_EINVAL);
    BAD(streamlog_append_expect(ch, NULL, 1, 2, &seq), STREAMLOG_EINVAL);
    const void *d[2] = { "a", "b" };
    size_t l[2] = { 1, 1 };
    BAD(streamlog_append_batch(NULL, d, l, 2, &seq), STREAMLOG_EINVAL);
    BAD(streamlog_append_batch(ch, NULL, l, 2, &seq), STREAMLOG_EINVAL);
    BAD(streamlog_append_batch(ch, d, NULL, 2, &seq), STREAMLOG_EINVAL);
    BAD(streamlog_append_batch(ch, d, l, 0, &seq), STREAMLOG_EINVAL);
    BAD(streamlog_append_batch(ch, NULL, NULL, 0, &seq), STREAMLOG_EINVAL);
    const void *dn[2] = { "a", NULL };
    BAD(streamlog_append_batch(ch, dn, l, 2, &seq), STREAMLOG_EINVAL);
    ck_assert_uint_eq(seq, 4242);
    /* Oversize lengths with tiny buffers: refused before reading. */
    char tiny[1] = { 0 };
    BAD(streamlog_append(ch, tiny, SIZE_MAX, &seq), STREAMLOG_ELIMIT);
    BAD(streamlog_append_expect(ch, tiny, SIZE_MAX, 2, &seq), STREAMLOG_ELIMIT);
    ck_assert_uint_eq(seq, 4242);
    streamlog_channel_stats s = tu_stats(ch);
    ck_assert_uint_eq(s.msgs, 2);
    check_and_close();
}
END_TEST

START_TEST(read_bad)
{
    open_fixture();
    streamlog_msg *m = (streamlog_msg *)&m;
    BAD(streamlog_get(NULL, 1, &m), STREAMLOG_EINVAL);
    BAD(streamlog_get(ch, 1, NULL), STREAMLOG_EINVAL);
    ck_assert_ptr_eq(m, (streamlog_msg *)&m);
    BAD(streamlog_msg_copy(NULL, &m), STREAMLOG_EINVAL);
    ck_assert_ptr_eq(m, (streamlog_msg *)&m);
    streamlog_msg *real = NULL;
    TU_OK(streamlog_get(ch, 1, &real));
    BAD(streamlog_msg_copy(real, NULL), STREAMLOG_EINVAL);
    streamlog_msg_free(real);
    streamlog_msg_free(NULL);
    ck_assert_uint_eq(streamlog_msg_seq(NULL), 0);
    ck_assert_int_eq(streamlog_msg_time(NULL), 0);
    size_t len = 77;
    ck_assert_ptr_null(streamlog_msg_data(NULL, &len));
    ck_assert_uint_eq(len, 0);

    streamlog_iter *it = (streamlog_iter *)&it;
    BAD(streamlog_iter_open(NULL, STREAMLOG_START_FIRST, 0, &it), STREAMLOG_EINVAL);
    BAD(streamlog_iter_open(ch, STREAMLOG_START_FIRST, 0, NULL), STREAMLOG_EINVAL);
    BAD(streamlog_iter_open(ch, 99, 0, &it), STREAMLOG_EINVAL);
    BAD(streamlog_iter_open(ch, -1, 0, &it), STREAMLOG_EINVAL);
    BAD(streamlog_iter_open(ch, STREAMLOG_START_SEQUENCE, -1, &it), STREAMLOG_EINVAL);
    BAD(streamlog_iter_open(ch, STREAMLOG_START_TIME, -1, &it), STREAMLOG_EINVAL);
    BAD(streamlog_iter_open(ch, STREAMLOG_START_TIME_DELTA, -1, &it), STREAMLOG_EINVAL);
    ck_assert_ptr_eq(it, (streamlog_iter *)&it);

    const streamlog_msg *v = (const streamlog_msg *)&v;
    BAD(streamlog_iter_next(NULL, &v), STREAMLOG_EINVAL);
    ck_assert_ptr_eq(v, (const streamlog_msg *)&v);
    uint64_t pos = 4242;
    BAD(streamlog_iter_position(NULL, &pos), STREAMLOG_EINVAL);
    ck_assert_uint_eq(pos, 4242);
    streamlog_iter_close(NULL);

    streamlog_iter *real_it = NULL;
    TU_OK(streamlog_iter_open(ch, STREAMLOG_START_FIRST, 0, &real_it));
    BAD(streamlog_iter_next(real_it, NULL), STREAMLOG_EINVAL);
    BAD(streamlog_iter_position(real_it, NULL), STREAMLOG_EINVAL);
    /* The iterator is unharmed by the bad calls. */
    TU_OK(streamlog_iter_next(real_it, &v));
    ck_assert_uint_eq(streamlog_msg_seq(v), 1);
    streamlog_iter_close(real_it);
    check_and_close();
}
END_TEST

/* Many failing calls in a row leave no handle, reader slot or lock behind. */
START_TEST(failures_leak_nothing)
{
    open_fixture();
    for (int i = 0; i < 500; i++) {
        streamlog_channel *c = NULL;
        TU_RC(streamlog_channel_open(st, "missing", 0, NULL, &c), STREAMLOG_ENOTFOUND);
        TU_RC(streamlog_channel_open(st, "bad name", STREAMLOG_CREATE, NULL, &c),
              STREAMLOG_EINVAL);
        streamlog_iter *it = NULL;
        TU_RC(streamlog_iter_open(ch, 42, 0, &it), STREAMLOG_EINVAL);
        streamlog_msg *m = NULL;
        TU_RC(streamlog_get(ch, 1000 + (uint64_t)i, &m), STREAMLOG_ENOTFOUND);
        TU_RC(streamlog_append_expect(ch, "x", 1, 999, NULL), STREAMLOG_ECONFLICT);
        TU_RC(streamlog_channel_delete(st, "missing"), STREAMLOG_ENOTFOUND);
    }
    check_and_close();
}
END_TEST

static Suite *badinput_suite(void)
{
    Suite *s = suite_create("badinput");
    TCase *tc = tu_tcase("badinput", 0);
    tcase_add_test(tc, version_and_names);
    tcase_add_test(tc, options_bad);
    tcase_add_test(tc, store_bad);
    tcase_add_test(tc, channel_bad);
    tcase_add_test(tc, append_bad);
    tcase_add_test(tc, read_bad);
    tcase_add_test(tc, failures_leak_nothing);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(badinput_suite());
}
