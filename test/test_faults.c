/*
 * test_faults.c - fault injection: failed commits and syncs latch the store
 * read-only (EIO) without reporting anything stored that is not; allocation
 * failure at every point of a workload returns ENOMEM cleanly, leaks nothing
 * (ASan/valgrind) and leaves the store consistent.
 */
#include <errno.h>
#include <string.h>

#include "alloc.h"
#include "storage.h"
#include "test_util.h"

START_TEST(failed_commit_latches_eio)
{
    streamlog_store *st = tu_open(NULL);
    streamlog_channel *ch = tu_chan(st, "faults", NULL);
    ck_assert_uint_eq(tu_append_str(ch, "kept"), 1);

    sl_storage_fail_commit_after(0);
    uint64_t seq = 99;
    TU_RC(streamlog_append(ch, "lost", 4, &seq), STREAMLOG_EIO);
    ck_assert_uint_eq(seq, 99); /* output untouched on failure */
    ck_assert_str_ne(streamlog_errmsg(), "");
    /* latched: later writes refuse too, even though the hook is spent */
    TU_RC(streamlog_append(ch, "later", 5, NULL), STREAMLOG_EIO);
    TU_RC(streamlog_channel_delete(st, "faults"), STREAMLOG_EIO);
    streamlog_channel *other;
    TU_RC(streamlog_channel_open(st, "other", STREAMLOG_CREATE, NULL, &other), STREAMLOG_EIO);
    /* reads still work and show only what was committed */
    streamlog_channel_stats s = tu_stats(ch);
    ck_assert_uint_eq(s.msgs, 1);
    tu_expect_msg(ch, 1, "kept", 4);
    streamlog_channel_close(ch);
    TU_RC(streamlog_close(st), STREAMLOG_EIO);

    /* reopening clears the latch; nothing of the failed append is there */
    st = tu_open(NULL);
    ch = tu_chan(st, "faults", NULL);
    s = tu_stats(ch);
    ck_assert_uint_eq(s.msgs, 1);
    ck_assert_uint_eq(s.last_seq, 1);
    ck_assert_uint_eq(tu_append_str(ch, "again"), 2);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(failed_sync_latches_eio)
{
    streamlog_store *st = tu_open1(STREAMLOG_OPT_SYNC, STREAMLOG_SYNC_NONE);
    streamlog_channel *ch = tu_chan(st, "faults", NULL);
    tu_append_str(ch, "a");
    sl_storage_fail_sync(1);
    TU_RC(streamlog_sync(st), STREAMLOG_EIO);
    TU_RC(streamlog_append(ch, "b", 1, NULL), STREAMLOG_EIO);
    streamlog_channel_close(ch);
    TU_RC(streamlog_close(st), STREAMLOG_EIO);
}
END_TEST

/* LMDB reports a failed fdatasync in a commit with its errno: ENOSPC from
 * the sync must latch like EIO (the kernel may have dropped the pages). */
START_TEST(commit_sync_enospc_latches_eio)
{
    streamlog_store *st = tu_open1(STREAMLOG_OPT_SYNC, STREAMLOG_SYNC_ALWAYS);
    streamlog_channel *ch = tu_chan(st, "faults", NULL);
    tu_append_str(ch, "a");
    sl_storage_fail_commit_with(0, ENOSPC);
    TU_RC(streamlog_append(ch, "b", 1, NULL), STREAMLOG_EIO);
    TU_RC(streamlog_append(ch, "c", 1, NULL), STREAMLOG_EIO); /* latched */
    streamlog_channel_close(ch);
    TU_RC(streamlog_close(st), STREAMLOG_EIO);
}
END_TEST

START_TEST(interval_sync_failure_latches_eio)
{
    streamlog_store *st = tu_open2(STREAMLOG_OPT_SYNC, STREAMLOG_SYNC_INTERVAL, STREAMLOG_OPT_SYNC_INTERVAL_MS, 10);
    streamlog_channel *ch = tu_chan(st, "faults", NULL);
    tu_append_str(ch, "a");
    sl_storage_fail_sync(1); /* the background thread's next periodic sync fails */
    int rc = STREAMLOG_OK;
    for (int i = 0; i < 200 && rc == STREAMLOG_OK; i++) {
        tu_sleep_ms(5);
        rc = streamlog_append(ch, "b", 1, NULL);
    }
    TU_RC(rc, STREAMLOG_EIO);
    streamlog_channel_close(ch);
    TU_RC(streamlog_close(st), STREAMLOG_EIO);
}
END_TEST

/* One pass of a workload touching every allocating call; returns the first
 * failure (ENOMEM expected) or OK. Cleans up whatever it opened. */
static int workload(const char *dir)
{
    streamlog_opts *o = NULL;
    streamlog_store *st = NULL;
    streamlog_channel *ch = NULL;
    streamlog_iter *it = NULL;
    streamlog_msg *m = NULL, *copy = NULL;
    const streamlog_msg *view;
    int rc;
    if ((rc = streamlog_opts_new(&o)) || (rc = streamlog_opts_set_int(o, STREAMLOG_OPT_MAX_MSGS, 3)))
        goto out;
    if ((rc = streamlog_open(dir, NULL, &st)) || (rc = streamlog_channel_open(st, "w.x", STREAMLOG_CREATE, o, &ch)))
        goto out;
    const void *data[2] = {"one", "two"};
    size_t lens[2] = {3, 3};
    uint64_t first = 0;
    if ((rc = streamlog_append(ch, "zero", 4, NULL)) || (rc = streamlog_append_batch(ch, data, lens, 2, &first)))
        goto out;
    if ((rc = streamlog_get(ch, first, &m)) || (rc = streamlog_iter_open(ch, STREAMLOG_START_FIRST, 0, &it)) ||
        (rc = streamlog_iter_next(it, &view)) || (rc = streamlog_msg_copy(view, &copy)))
        goto out;
out:
    streamlog_msg_free(copy);
    streamlog_msg_free(m);
    streamlog_iter_close(it);
    streamlog_channel_close(ch);
    if (st)
        streamlog_close(st);
    streamlog_opts_free(o);
    return rc;
}

START_TEST(allocation_failure_at_every_point)
{
    int completed = 0;
    for (long n = 0; n < 400 && !completed; n++) {
        sl_alloc_fail_after(n, 0);
        int rc = workload(tu_store);
        sl_alloc_fail_after(-1, 0);
        if (rc == STREAMLOG_OK) {
            completed = 1;
            break;
        }
        ck_assert_msg(rc == STREAMLOG_ENOMEM, "failure %ld gave %s, not ENOMEM: %s", n, tu_name(rc), streamlog_errmsg());
        /* whatever was committed is consistent: contiguous sequences */
        streamlog_store *st = tu_open(NULL);
        streamlog_channel *ch;
        if (streamlog_channel_open(st, "w.x", 0, NULL, &ch) == STREAMLOG_OK) {
            streamlog_channel_stats s = tu_stats(ch);
            ck_assert_uint_eq(s.msgs, s.last_seq + 1 - s.first_seq);
            for (uint64_t q = s.first_seq; q <= s.last_seq; q++) {
                streamlog_msg *m;
                TU_OK(streamlog_get(ch, q, &m));
                streamlog_msg_free(m);
            }
            streamlog_channel_close(ch);
        }
        TU_OK(streamlog_close(st));
    }
    ck_assert_msg(completed, "the workload never completed without a failure");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("faults");
    TCase *tc = tu_tcase("faults", 0);
    tcase_add_test(tc, failed_commit_latches_eio);
    tcase_add_test(tc, failed_sync_latches_eio);
    tcase_add_test(tc, interval_sync_failure_latches_eio);
    tcase_add_test(tc, commit_sync_enospc_latches_eio);
    tcase_add_test(tc, allocation_failure_at_every_point);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
