/*
 * test_errors.c - result codes, their names and descriptions, the per-thread
 * detail message and the same message by id from any thread
 * (streamlog_errmsg_of), and the version string.
 */
#define _GNU_SOURCE
#include "test_util.h"

#include <errno.h>
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

/* ---- streamlog_errmsg_of: a failure's message by the id it left in errno ---- */

/* Fail with a message naming `tag`; return the id from errno (as an FFI
 * runtime copies it right after the call) and the thread's message. */
static int fail_with(streamlog_store *st, const char *tag, char *msg, size_t cap)
{
    char name[128];
    snprintf(name, sizeof name, "%s..bad", tag);
    streamlog_channel *ch = NULL;
    errno = 0;
    int rc = streamlog_channel_open(st, name, STREAMLOG_CREATE, NULL, &ch);
    int id = errno;
    ck_assert_int_eq(rc, STREAMLOG_EINVAL);
    snprintf(msg, cap, "%s", streamlog_errmsg());
    ck_assert_ptr_nonnull(strstr(msg, tag));
    return id;
}

START_TEST(errmsg_of_gives_the_failed_calls_message)
{
    streamlog_store *st = tu_open(NULL);
    char expect[STREAMLOG_ERRMSG_CAP], got[STREAMLOG_ERRMSG_CAP];
    int id = fail_with(st, "first", expect, sizeof expect);
    ck_assert_int_gt(id, 0);
    TU_OK(streamlog_errmsg_of(id, got, sizeof got));
    ck_assert_str_eq(got, expect);
    ck_assert_str_eq(streamlog_errmsg(), ""); /* that call succeeded */
    /* still there after later failures and successes */
    char other[STREAMLOG_ERRMSG_CAP];
    int id2 = fail_with(st, "second", other, sizeof other);
    ck_assert_int_ne(id2, id);
    TU_OK(streamlog_errmsg_of(id, got, sizeof got));
    ck_assert_str_eq(got, expect);
    TU_OK(streamlog_errmsg_of(id2, got, sizeof got));
    ck_assert_str_eq(got, other);

    /* a buffer of exactly the message's length + 1 works; one byte less is EINVAL, nothing written */
    size_t need = strlen(expect) + 1;
    TU_OK(streamlog_errmsg_of(id, got, need));
    ck_assert_str_eq(got, expect);
    memset(got, 'z', sizeof got);
    TU_RC(streamlog_errmsg_of(id, got, need - 1), STREAMLOG_EINVAL);
    ck_assert_int_eq(got[0], 'z');

    /* a failure without a detail message leaves errno 0 */
    streamlog_channel *ch = tu_chan(st, "empty", NULL);
    streamlog_iter *it;
    const streamlog_msg *m;
    TU_OK(streamlog_iter_open(ch, STREAMLOG_START_FIRST, 0, &it));
    errno = 12345;
    TU_RC(streamlog_iter_next(it, &m), STREAMLOG_EAGAIN);
    ck_assert_int_eq(errno, 0);
    streamlog_iter_close(it);
    streamlog_channel_close(ch);

    /* bad arguments, and ids never given */
    TU_RC(streamlog_errmsg_of(0, got, sizeof got), STREAMLOG_EINVAL);
    TU_RC(streamlog_errmsg_of(-1, got, sizeof got), STREAMLOG_EINVAL);
    TU_RC(streamlog_errmsg_of(id, NULL, sizeof got), STREAMLOG_EINVAL);
    TU_RC(streamlog_errmsg_of(id, got, 0), STREAMLOG_EINVAL);
    errno = 0;
    TU_RC(streamlog_errmsg_of(id2 + 1000, got, sizeof got), STREAMLOG_ENOTFOUND);
    ck_assert_int_gt(errno, 0); /* errmsg_of's own failure is published too */
    TU_OK(streamlog_close(st));
}
END_TEST

/* The messages of the last 256 failures are kept: an older id is ENOTFOUND,
 * never another failure's message. */
START_TEST(errmsg_of_old_id_is_notfound)
{
    streamlog_store *st = tu_open(NULL);
    char expect[STREAMLOG_ERRMSG_CAP], got[STREAMLOG_ERRMSG_CAP];
    int id = fail_with(st, "old", expect, sizeof expect);
    for (int i = 0; i < 255; i++) {
        char tag[32];
        snprintf(tag, sizeof tag, "filler%d", i);
        fail_with(st, tag, got, sizeof got);
    }
    TU_OK(streamlog_errmsg_of(id, got, sizeof got)); /* 255 later ones: still kept */
    ck_assert_str_eq(got, expect);
    fail_with(st, "the256th", got, sizeof got);
    TU_RC(streamlog_errmsg_of(id, got, sizeof got), STREAMLOG_ENOTFOUND);
    TU_OK(streamlog_close(st));
}
END_TEST

/* A goroutine's view: the call fails on thread A, the caller reads its message
 * on thread B, while other threads fail with their own messages. Each round
 * the noise threads fail NOISE_FAILS times each, so fewer than 256 failures
 * happen between A's and B's read and the message is always still kept. */
#define ROUNDS 60
#define NOISE_THREADS 3
#define NOISE_FAILS 20

struct hop {
    streamlog_store *st;
    pthread_barrier_t round_start, round_end;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int id;                                /* A's failure id this round, 0 until set */
    char expect[STREAMLOG_ERRMSG_CAP];     /* A's message, as A saw it */
    int mismatches;
};

static void *hop_thread_a(void *p)
{
    struct hop *h = p;
    for (int r = 0; r < ROUNDS; r++) {
        pthread_barrier_wait(&h->round_start);
        char tag[32], msg[STREAMLOG_ERRMSG_CAP];
        snprintf(tag, sizeof tag, "call-a-round-%d", r);
        int id = fail_with(h->st, tag, msg, sizeof msg);
        pthread_mutex_lock(&h->mu);
        h->id = id;
        memcpy(h->expect, msg, sizeof msg);
        pthread_cond_signal(&h->cv);
        pthread_mutex_unlock(&h->mu);
        pthread_barrier_wait(&h->round_end);
    }
    return NULL;
}

static void *hop_thread_b(void *p)
{
    struct hop *h = p;
    for (int r = 0; r < ROUNDS; r++) {
        pthread_barrier_wait(&h->round_start);
        pthread_mutex_lock(&h->mu);
        while (!h->id)
            pthread_cond_wait(&h->cv, &h->mu);
        int id = h->id;
        char expect[STREAMLOG_ERRMSG_CAP];
        memcpy(expect, h->expect, sizeof expect);
        h->id = 0; /* A sets the next one only after the next round starts */
        pthread_mutex_unlock(&h->mu);
        char got[STREAMLOG_ERRMSG_CAP];
        int rc = streamlog_errmsg_of(id, got, sizeof got);
        if (rc != STREAMLOG_OK || strcmp(got, expect) != 0) {
            fprintf(stderr, "round %d: id %d gave %s '%s', expected '%s'\n", r, id, tu_name(rc),
                    rc ? "" : got, expect);
            __atomic_add_fetch(&h->mismatches, 1, __ATOMIC_SEQ_CST);
        }
        pthread_barrier_wait(&h->round_end);
    }
    return NULL;
}

struct noise {
    struct hop *h;
    int n;
};

static void *hop_noise(void *p)
{
    struct noise *nz = p;
    struct hop *h = nz->h;
    for (int r = 0; r < ROUNDS; r++) {
        pthread_barrier_wait(&h->round_start);
        for (int i = 0; i < NOISE_FAILS; i++) {
            char tag[48], msg[STREAMLOG_ERRMSG_CAP], got[STREAMLOG_ERRMSG_CAP];
            snprintf(tag, sizeof tag, "noise-%d-round-%d-call-%d", nz->n, r, i);
            int id = fail_with(h->st, tag, msg, sizeof msg);
            /* its own message, read back at once, is its own too */
            if (streamlog_errmsg_of(id, got, sizeof got) != STREAMLOG_OK || strcmp(got, msg) != 0)
                __atomic_add_fetch(&h->mismatches, 1, __ATOMIC_SEQ_CST);
        }
        pthread_barrier_wait(&h->round_end);
    }
    return NULL;
}

START_TEST(errmsg_of_across_threads)
{
    struct hop h = {.st = tu_open(NULL)};
    unsigned parties = 2 + NOISE_THREADS;
    pthread_barrier_init(&h.round_start, NULL, parties);
    pthread_barrier_init(&h.round_end, NULL, parties);
    pthread_mutex_init(&h.mu, NULL);
    pthread_cond_init(&h.cv, NULL);
    pthread_t a, b, nt[NOISE_THREADS];
    struct noise nz[NOISE_THREADS];
    ck_assert_int_eq(pthread_create(&a, NULL, hop_thread_a, &h), 0);
    ck_assert_int_eq(pthread_create(&b, NULL, hop_thread_b, &h), 0);
    for (int i = 0; i < NOISE_THREADS; i++) {
        nz[i] = (struct noise){.h = &h, .n = i};
        ck_assert_int_eq(pthread_create(&nt[i], NULL, hop_noise, &nz[i]), 0);
    }
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    for (int i = 0; i < NOISE_THREADS; i++)
        pthread_join(nt[i], NULL);
    ck_assert_int_eq(h.mismatches, 0);
    pthread_barrier_destroy(&h.round_start);
    pthread_barrier_destroy(&h.round_end);
    TU_OK(streamlog_close(h.st));
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
    tcase_add_test(tc, errmsg_of_gives_the_failed_calls_message);
    tcase_add_test(tc, errmsg_of_old_id_is_notfound);
    tcase_add_test(tc, errmsg_of_across_threads);
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
