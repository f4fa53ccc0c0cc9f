/*
 * test_errors.c - result codes, their names and descriptions, the per-thread
 * detail message, and the version string.
 */
#define _GNU_SOURCE
#include "test_util.h"

#include <limits.h>
#include <pthread.h>
#include <string.h>

static const struct {
    int code;
    const char *name;
} codes[] = {
    { STREAMLOG_OK, "STREAMLOG_OK" },
    { STREAMLOG_EINVAL, "STREAMLOG_EINVAL" },
    { STREAMLOG_ENOTFOUND, "STREAMLOG_ENOTFOUND" },
    { STREAMLOG_EEXIST, "STREAMLOG_EEXIST" },
    { STREAMLOG_ELIMIT, "STREAMLOG_ELIMIT" },
    { STREAMLOG_ECONFLICT, "STREAMLOG_ECONFLICT" },
    { STREAMLOG_EAGAIN, "STREAMLOG_EAGAIN" },
    { STREAMLOG_ETIMEDOUT, "STREAMLOG_ETIMEDOUT" },
    { STREAMLOG_EFULL, "STREAMLOG_EFULL" },
    { STREAMLOG_ECORRUPT, "STREAMLOG_ECORRUPT" },
    { STREAMLOG_EBUSY, "STREAMLOG_EBUSY" },
    { STREAMLOG_ENOMEM, "STREAMLOG_ENOMEM" },
    { STREAMLOG_EIO, "STREAMLOG_EIO" },
    { STREAMLOG_ECLOSED, "STREAMLOG_ECLOSED" },
    { STREAMLOG_EPERM, "STREAMLOG_EPERM" },
    { STREAMLOG_EREADERS, "STREAMLOG_EREADERS" },
    { STREAMLOG_EMFILE, "STREAMLOG_EMFILE" },
};
#define NCODES (sizeof codes / sizeof codes[0])

static const int unknown_codes[] = { 1, 2, 100, -17, -18, -100, -1000, INT_MAX, INT_MIN };
#define NUNKNOWN (sizeof unknown_codes / sizeof unknown_codes[0])

/* The values are part of the ABI: programs compiled against 0.1 keep them. */
START_TEST(codes_have_stable_distinct_values)
{
    for (size_t i = 0; i < NCODES; i++) {
        ck_assert_int_eq(codes[i].code, -(int)i);
        for (size_t j = 0; j < i; j++)
            ck_assert_int_ne(codes[i].code, codes[j].code);
    }
}
END_TEST

START_TEST(strerror_distinct_nonempty)
{
    for (size_t i = 0; i < NCODES; i++) {
        const char *s = streamlog_strerror(codes[i].code);
        ck_assert_msg(s != NULL, "strerror(%s) is NULL", codes[i].name);
        ck_assert_msg(s[0] != '\0', "strerror(%s) is empty", codes[i].name);
        ck_assert_msg(strcmp(s, "unknown error") != 0, "strerror(%s) says unknown",
                      codes[i].name);
        for (size_t j = 0; j < i; j++)
            ck_assert_msg(strcmp(s, streamlog_strerror(codes[j].code)) != 0,
                          "strerror(%s) == strerror(%s) == \"%s\"", codes[i].name,
                          codes[j].name, s);
    }
}
END_TEST

START_TEST(strerror_unknown_codes)
{
    for (size_t i = 0; i < NUNKNOWN; i++) {
        const char *s = streamlog_strerror(unknown_codes[i]);
        ck_assert_msg(s != NULL, "strerror(%d) is NULL", unknown_codes[i]);
        ck_assert_str_eq(s, "unknown error");
    }
}
END_TEST

START_TEST(errname_matches_macro_names)
{
    for (size_t i = 0; i < NCODES; i++) {
        const char *s = streamlog_errname(codes[i].code);
        ck_assert_msg(s != NULL, "errname(%d) is NULL", codes[i].code);
        ck_assert_str_eq(s, codes[i].name);
    }
}
END_TEST

START_TEST(errname_unknown_codes)
{
    for (size_t i = 0; i < NUNKNOWN; i++) {
        const char *s = streamlog_errname(unknown_codes[i]);
        ck_assert_msg(s != NULL, "errname(%d) is NULL", unknown_codes[i]);
        ck_assert_str_eq(s, "STREAMLOG_EUNKNOWN");
    }
}
END_TEST

START_TEST(strerror_is_static)
{
    /* Static strings: the same text on every call, usable after others. */
    const char *a = streamlog_strerror(STREAMLOG_EINVAL);
    char copy[256];
    snprintf(copy, sizeof copy, "%s", a);
    for (size_t i = 0; i < NCODES; i++)
        (void)streamlog_strerror(codes[i].code);
    ck_assert_str_eq(a, copy);
}
END_TEST

START_TEST(errmsg_empty_before_any_call)
{
    const char *m = streamlog_errmsg();
    ck_assert_ptr_nonnull(m);
    ck_assert_str_eq(m, "");
}
END_TEST

START_TEST(errmsg_after_failure_and_success)
{
    streamlog_opts *o = NULL;

    /* Failure: NULL output. */
    TU_RC(streamlog_opts_new(NULL), STREAMLOG_EINVAL);
    const char *m = streamlog_errmsg();
    ck_assert_ptr_nonnull(m);
    ck_assert_msg(m[0] != '\0', "errmsg empty after opts_new(NULL)");

    /* Success clears it. */
    TU_OK(streamlog_opts_new(&o));
    m = streamlog_errmsg();
    ck_assert_ptr_nonnull(m);
    ck_assert_msg(strcmp(m, "") == 0, "errmsg after a success: \"%s\"", m);

    /* Failure: unknown key. */
    TU_RC(streamlog_opts_set_int(o, 9999, 1), STREAMLOG_EINVAL);
    m = streamlog_errmsg();
    ck_assert_msg(m && m[0], "errmsg empty after set_int(unknown key)");
    TU_OK(streamlog_opts_set_int(o, STREAMLOG_OPT_MAX_MSGS, 5));
    ck_assert_str_eq(streamlog_errmsg(), "");
    streamlog_opts_free(o);

    /* Failures deeper in the library: a bad channel name and a missing channel. */
    streamlog_store *st = tu_open(NULL);
    streamlog_channel *ch = NULL;
    TU_RC(streamlog_channel_open(st, "a..b", STREAMLOG_CREATE, NULL, &ch), STREAMLOG_EINVAL);
    m = streamlog_errmsg();
    ck_assert_msg(m && m[0], "errmsg empty after channel_open(\"a..b\")");

    TU_RC(streamlog_channel_open(st, "missing", 0, NULL, &ch), STREAMLOG_ENOTFOUND);
    m = streamlog_errmsg();
    ck_assert_msg(m && m[0], "errmsg empty after channel_open of a missing channel");

    ch = tu_chan(st, "orders", NULL);
    ck_assert_str_eq(streamlog_errmsg(), "");
    streamlog_msg *msg = NULL;
    TU_RC(streamlog_get(ch, 42, &msg), STREAMLOG_ENOTFOUND);
    m = streamlog_errmsg();
    ck_assert_msg(m && m[0], "errmsg empty after get of a missing message");
    uint64_t seq = 0;
    TU_OK(streamlog_append(ch, "x", 1, &seq));
    ck_assert_str_eq(streamlog_errmsg(), "");
    TU_RC(streamlog_append_expect(ch, "y", 1, 7, NULL), STREAMLOG_ECONFLICT);
    m = streamlog_errmsg();
    ck_assert_msg(m && m[0], "errmsg empty after ECONFLICT");

    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
    ck_assert_str_eq(streamlog_errmsg(), "");
}
END_TEST

struct thr_arg {
    char msg_at_start[256];
    int start_was_null;
    char msg_after_fail[256];
    int rc;
};

static void *thr_fresh(void *p)
{
    struct thr_arg *a = p;
    const char *m = streamlog_errmsg();
    a->start_was_null = m == NULL;
    snprintf(a->msg_at_start, sizeof a->msg_at_start, "%s", m ? m : "");
    /* Fail in this thread. */
    a->rc = streamlog_opts_set_int(NULL, STREAMLOG_OPT_MAX_MSGS, 1);
    m = streamlog_errmsg();
    snprintf(a->msg_after_fail, sizeof a->msg_after_fail, "%s", m ? m : "");
    return NULL;
}

START_TEST(errmsg_is_per_thread)
{
    /* Fail in the main thread; another thread must not see it. */
    TU_RC(streamlog_opts_new(NULL), STREAMLOG_EINVAL);
    char mine[256];
    snprintf(mine, sizeof mine, "%s", tu_errmsg_safe());
    ck_assert_msg(mine[0], "errmsg empty after failure");

    struct thr_arg a;
    memset(&a, 0, sizeof a);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, thr_fresh, &a), 0);
    pthread_join(t, NULL);
    ck_assert_msg(!a.start_was_null, "errmsg NULL in a new thread");
    ck_assert_msg(a.msg_at_start[0] == '\0', "new thread sees another thread's errmsg \"%s\"",
                  a.msg_at_start);
    ck_assert_int_eq(a.rc, STREAMLOG_EINVAL);
    ck_assert_msg(a.msg_after_fail[0], "errmsg empty in the thread after its failure");

    /* The other thread's failure did not replace ours. */
    ck_assert_str_eq(tu_errmsg_safe(), mine);

    /* And our success does not clear a message in another thread (the
     * thread is gone, but this must not crash either). */
    streamlog_opts *o = NULL;
    TU_OK(streamlog_opts_new(&o));
    ck_assert_str_eq(tu_errmsg_safe(), "");
    streamlog_opts_free(o);
}
END_TEST

START_TEST(version_matches_macros)
{
    char exp[64];
    snprintf(exp, sizeof exp, "%d.%d.%d", STREAMLOG_VERSION_MAJOR, STREAMLOG_VERSION_MINOR,
             STREAMLOG_VERSION_PATCH);
    const char *v = streamlog_version();
    ck_assert_ptr_nonnull(v);
    ck_assert_str_eq(v, exp);
    ck_assert_str_eq(v, STREAMLOG_VERSION_STRING);
    ck_assert_int_eq(streamlog_version_number(), STREAMLOG_VERSION_NUMBER);
    ck_assert_int_eq(STREAMLOG_VERSION_NUMBER,
                     STREAMLOG_VERSION_MAJOR * 10000 + STREAMLOG_VERSION_MINOR * 100 + STREAMLOG_VERSION_PATCH);
}
END_TEST

static Suite *errors_suite(void)
{
    Suite *s = suite_create("errors");
    TCase *tc = tu_tcase("codes", 0);
    tcase_add_test(tc, codes_have_stable_distinct_values);
    tcase_add_test(tc, strerror_distinct_nonempty);
    tcase_add_test(tc, strerror_unknown_codes);
    tcase_add_test(tc, errname_matches_macro_names);
    tcase_add_test(tc, errname_unknown_codes);
    tcase_add_test(tc, strerror_is_static);
    suite_add_tcase(s, tc);

    tc = tu_tcase("errmsg", 0);
    tcase_add_test(tc, errmsg_empty_before_any_call);
    tcase_add_test(tc, errmsg_after_failure_and_success);
    tcase_add_test(tc, errmsg_is_per_thread);
    suite_add_tcase(s, tc);

    tc = tu_tcase("version", 0);
    tcase_add_test(tc, version_matches_macros);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(errors_suite());
}
