/*
 * test_store.c - opening and closing stores: directory creation, argument
 * checks, the one-open-per-process rule, EBUSY while children are open,
 * persistence across reopen, and foreign or damaged directories.
 */
#define _GNU_SOURCE
#include "test_util.h"
#include "checksum.h"
#include "chanrec.h"
#include "dedup.h"
#include "groups.h"
#include "process.h"
#include "store.h"

#include <errno.h>
#include <lmdb.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

START_TEST(open_creates_directory)
{
    umask(022);
    struct stat sb;
    ck_assert_int_ne(stat(tu_store, &sb), 0);
    streamlog_store *st = tu_open(NULL);
    ck_assert_int_eq(stat(tu_store, &sb), 0);
    ck_assert_msg(S_ISDIR(sb.st_mode), "store path is not a directory");
    ck_assert_msg((sb.st_mode & 0777) == 0755, "directory mode %o, expected 755",
                  (unsigned)(sb.st_mode & 0777));
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(open_existing_empty_directory)
{
    /* tu_dir exists and is empty. */
    streamlog_store *st = NULL;
    TU_OK(streamlog_open(tu_dir, NULL, &st));
    ck_assert_ptr_nonnull(st);
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    ck_assert_uint_eq(tu_append_str(ch, "x"), 1);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(open_bad_args)
{
    streamlog_store *st = (streamlog_store *)&st; /* sentinel */
    TU_RC(streamlog_open(NULL, NULL, &st), STREAMLOG_EINVAL);
    ck_assert_ptr_eq(st, (streamlog_store *)&st);
    TU_RC(streamlog_open(tu_store, NULL, NULL), STREAMLOG_EINVAL);
    /* Nothing must have been left open by the failure with NULL out: */
    st = NULL;
    TU_OK(streamlog_open(tu_store, NULL, &st));
    TU_OK(streamlog_close(st));
    /* "" is no directory name. */
    st = (streamlog_store *)&st;
    TU_RC2(streamlog_open("", NULL, &st), STREAMLOG_EINVAL, STREAMLOG_EIO);
    ck_assert_ptr_eq(st, (streamlog_store *)&st);
}
END_TEST

START_TEST(open_path_is_a_file)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/file", tu_dir);
    tu_write_file(path, "hello\n", 6);
    streamlog_store *st = (streamlog_store *)&st;
    TU_RC(streamlog_open(path, NULL, &st), STREAMLOG_EIO);
    ck_assert_ptr_eq(st, (streamlog_store *)&st);
    /* The file is untouched. */
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_size, 6);
}
END_TEST

START_TEST(open_uncreatable_directory)
{
    streamlog_store *st = (streamlog_store *)&st;
    /* Nobody (not even root) can create a directory inside /proc. */
    TU_RC(streamlog_open("/proc/streamlog-test-no-such-dir", NULL, &st), STREAMLOG_EIO);
    ck_assert_ptr_eq(st, (streamlog_store *)&st);
}
END_TEST

START_TEST(second_open_is_ebusy)
{
    streamlog_store *st = tu_open(NULL);
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    tu_append_str(ch, "one");

    streamlog_store *st2 = (streamlog_store *)&st2;
    TU_RC(streamlog_open(tu_store, NULL, &st2), STREAMLOG_EBUSY);
    ck_assert_ptr_eq(st2, (streamlog_store *)&st2);

    /* Other spellings of the same directory. */
    char path[4400];
    snprintf(path, sizeof path, "%s/", tu_store);
    TU_RC(streamlog_open(path, NULL, &st2), STREAMLOG_EBUSY);
    snprintf(path, sizeof path, "%s/../store", tu_store);
    TU_RC(streamlog_open(path, NULL, &st2), STREAMLOG_EBUSY);
    snprintf(path, sizeof path, "%s/link", tu_dir);
    ck_assert_int_eq(symlink(tu_store, path), 0);
    TU_RC(streamlog_open(path, NULL, &st2), STREAMLOG_EBUSY);
    ck_assert_int_eq(chdir(tu_dir), 0);
    TU_RC(streamlog_open("store", NULL, &st2), STREAMLOG_EBUSY);

    /* The first handle is unharmed. */
    ck_assert_uint_eq(tu_append_str(ch, "two"), 2);
    tu_expect_msg(ch, 1, "one", 3);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));

    /* Once closed, the store opens again. */
    st = NULL;
    TU_OK(streamlog_open(path, NULL, &st));
    ch = NULL;
    TU_OK(streamlog_channel_open(st, "c", 0, NULL, &ch));
    tu_expect_msg(ch, 2, "two", 3);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(two_stores_at_once)
{
    char p1[4200], p2[4200];
    snprintf(p1, sizeof p1, "%s/s1", tu_dir);
    snprintf(p2, sizeof p2, "%s/s2", tu_dir);
    streamlog_store *a = NULL, *b = NULL;
    TU_OK(streamlog_open(p1, NULL, &a));
    TU_OK(streamlog_open(p2, NULL, &b));
    streamlog_channel *ca = tu_chan(a, "c", NULL);
    streamlog_channel *cb = tu_chan(b, "c", NULL);
    ck_assert_uint_eq(tu_append_str(ca, "a1"), 1);
    ck_assert_uint_eq(tu_append_str(ca, "a2"), 2);
    ck_assert_uint_eq(tu_append_str(cb, "b1"), 1);
    ck_assert_uint_eq(tu_stats(ca).msgs, 2);
    ck_assert_uint_eq(tu_stats(cb).msgs, 1);
    tu_expect_msg(cb, 1, "b1", 2);
    streamlog_channel_close(ca);
    TU_OK(streamlog_close(a));
    /* b still works after a is closed. */
    ck_assert_uint_eq(tu_append_str(cb, "b2"), 2);
    streamlog_channel_close(cb);
    TU_OK(streamlog_close(b));
}
END_TEST

/* LMDB's map size is a size_t. A 32-bit build refuses a limit its address
 * space cannot map, rather than cut the size to its low bits (which left a
 * map of a few MiB, and EFULL almost at once); a 64-bit build maps it. */
START_TEST(store_limit_beyond_a_32_bit_address_space)
{
    streamlog_opts *o = NULL;
    TU_OK(streamlog_opts_new(&o));
    TU_OK(streamlog_opts_set_int(o, STREAMLOG_OPT_MAX_STORE_BYTES, (int64_t)8 << 30));
    streamlog_store *st = NULL;
    int rc = streamlog_open(tu_store, o, &st);
    streamlog_opts_free(o);
    if (sizeof(size_t) == 4) {
        TU_RC(rc, STREAMLOG_EINVAL);
        ck_assert_ptr_null(st);
        ck_assert_ptr_nonnull(strstr(streamlog_errmsg(), "32-bit build"));
        ck_assert_ptr_nonnull(strstr(streamlog_errmsg(), "STREAMLOG_OPT_MAX_STORE_BYTES"));
        return;
    }
    TU_OK(rc);
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    ck_assert_uint_eq(tu_append_str(ch, "x"), 1);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(close_busy_with_channel)
{
    streamlog_store *st = tu_open(NULL);
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    tu_append_str(ch, "a");
    TU_RC(streamlog_close(st), STREAMLOG_EBUSY);
    /* Everything still works. */
    ck_assert_uint_eq(tu_append_str(ch, "b"), 2);
    tu_expect_msg(ch, 1, "a", 1);
    streamlog_channel *ch2 = tu_chan(st, "d", NULL);
    tu_append_str(ch2, "x");
    TU_RC(streamlog_close(st), STREAMLOG_EBUSY);
    streamlog_channel_close(ch);
    TU_RC(streamlog_close(st), STREAMLOG_EBUSY);
    streamlog_channel_close(ch2);
    TU_OK(streamlog_close(st));
}
END_TEST

/* close's EBUSY message counts each handle the caller has open once (a
 * subscription's own iterator and dead-letter channel are not the caller's)
 * and names them, within one bounded message. */
static void expect_busy(streamlog_store *st, const char *const *parts)
{
    TU_RC(streamlog_close(st), STREAMLOG_EBUSY);
    const char *m = streamlog_errmsg();
    ck_assert_uint_lt(strlen(m), STREAMLOG_ERRMSG_CAP);
    for (; *parts; parts++)
        ck_assert_msg(strstr(m, *parts), "close's message \"%s\" lacks \"%s\"", m, *parts);
}

static streamlog_sub *subscribe_as(streamlog_channel *ch, const char *durable, const char *queue,
                                   const char *dead_letter)
{
    streamlog_opts *o = NULL;
    streamlog_sub *sub = NULL;
    TU_OK(streamlog_opts_new(&o));
    if (durable)
        TU_OK(streamlog_opts_set_str(o, STREAMLOG_OPT_DURABLE, durable));
    if (queue)
        TU_OK(streamlog_opts_set_str(o, STREAMLOG_OPT_QUEUE, queue));
    if (dead_letter)
        TU_OK(streamlog_opts_set_str(o, STREAMLOG_OPT_DEAD_LETTER, dead_letter));
    TU_OK(streamlog_subscribe(ch, o, &sub));
    streamlog_opts_free(o);
    return sub;
}

START_TEST(close_busy_counts_and_names_handles)
{
    streamlog_store *st = tu_open(NULL);
    streamlog_channel *ch = tu_chan(st, "orders", NULL);
    streamlog_sub *plain = subscribe_as(ch, NULL, NULL, NULL);
    /* once: the old message said 2 for one subscription (it counted its iterator) */
    streamlog_channel_close(ch);
    expect_busy(st, (const char *const[]){"1 handle still open (1 subscription)", "subscription on 'orders'", NULL});

    ch = tu_chan(st, "orders", NULL);
    streamlog_iter *it;
    TU_OK(streamlog_iter_open(ch, STREAMLOG_START_FIRST, 0, &it));
    streamlog_sub *durable = subscribe_as(ch, "billing", NULL, "orders.dead");
    expect_busy(st, (const char *const[]){"4 handles still open (1 channel, 1 iterator, 2 subscriptions)",
                                          "channel 'orders'", "iterator on 'orders'", "subscription on 'orders'",
                                          "durable 'billing' on 'orders'", NULL});
    streamlog_sub *queue = subscribe_as(ch, NULL, "workers", NULL);
    streamlog_sub *durable_queue = subscribe_as(ch, "night", "workers", NULL);
    /* six handles do not all fit by name: the count stays exact */
    expect_busy(st, (const char *const[]){"6 handles still open (1 channel, 1 iterator, 4 subscriptions)", "more",
                                          NULL});
    TU_OK(streamlog_sub_close(plain));
    TU_OK(streamlog_sub_close(durable));
    TU_OK(streamlog_sub_close(queue));
    expect_busy(st, (const char *const[]){"3 handles still open (1 channel, 1 iterator, 1 subscription)",
                                          "queue 'workers:night' member on 'orders'", NULL});
    TU_OK(streamlog_sub_unsubscribe(durable_queue));
    streamlog_iter_close(it);
    expect_busy(st, (const char *const[]){"1 handle still open (1 channel), close them first: channel 'orders'",
                                          NULL});
    /* the refused closes changed nothing */
    ck_assert_uint_eq(tu_append_str(ch, "still works"), 1);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

/* 255-byte names: the descriptions are cut (at a UTF-8 boundary) and the message stays bounded. */
START_TEST(close_busy_message_is_bounded)
{
    streamlog_store *st = tu_open(NULL);
    char name[256];
    memset(name, 'n', 255);
    memcpy(name + 39, "\xc3\xa9\xc3\xa9\xc3\xa9", 6); /* the cut at byte 44 falls inside a character */
    name[255] = '\0';
    streamlog_channel *chs[20];
    for (int i = 0; i < 20; i++) {
        name[0] = (char)('a' + i);
        chs[i] = tu_chan(st, name, NULL);
    }
    expect_busy(st, (const char *const[]){"20 handles still open (20 channels)", "...'", "and ", NULL});
    const char *m = streamlog_errmsg();
    /* no character is cut in half: every lead byte has its continuation */
    for (const unsigned char *p = (const unsigned char *)m; *p; p++)
        if (*p == 0xc3)
            ck_assert_int_eq(p[1], 0xa9);
    for (int i = 0; i < 20; i++)
        streamlog_channel_close(chs[i]);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(close_busy_with_iterator)
{
    streamlog_store *st = tu_open(NULL);
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    tu_append_str(ch, "a");
    tu_append_str(ch, "b");
    streamlog_iter *it = NULL;
    TU_OK(streamlog_iter_open(ch, STREAMLOG_START_FIRST, 0, &it));
    streamlog_channel_close(ch); /* the iterator keeps working */
    TU_RC(streamlog_close(st), STREAMLOG_EBUSY);
    const streamlog_msg *m = NULL;
    TU_OK(streamlog_iter_next(it, &m));
    ck_assert_uint_eq(streamlog_msg_seq(m), 1);
    TU_RC(streamlog_close(st), STREAMLOG_EBUSY);
    TU_OK(streamlog_iter_next(it, &m));
    ck_assert_uint_eq(streamlog_msg_seq(m), 2);
    size_t len = 0;
    const void *d = streamlog_msg_data(m, &len);
    ck_assert_uint_eq(len, 1);
    ck_assert_int_eq(memcmp(d, "b", 1), 0);
    TU_RC(streamlog_iter_next(it, &m), STREAMLOG_EAGAIN);
    streamlog_iter_close(it);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(close_null)
{
    TU_RC(streamlog_close(NULL), STREAMLOG_EINVAL);
    TU_RC(streamlog_sync(NULL), STREAMLOG_EINVAL);
}
END_TEST

START_TEST(sync_works)
{
    streamlog_store *st = tu_open1(STREAMLOG_OPT_SYNC, STREAMLOG_SYNC_NONE);
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    tu_append_str(ch, "x");
    TU_OK(streamlog_sync(st));
    ck_assert_uint_eq(tu_append_str(ch, "y"), 2);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(reopen_persistence)
{
    unsigned char buf[5000];
    streamlog_store *st = tu_open(NULL);
    streamlog_channel *a = tu_chan(st, "orders", NULL);
    streamlog_channel *b = tu_chan(st, "orders.eu", NULL);
    for (uint64_t i = 1; i <= 50; i++) {
        size_t len = (size_t)(i * 97 % 5000);
        tu_fill(buf, len, 1, i);
        ck_assert_uint_eq(tu_append(a, buf, len), i);
        if (i % 5 == 0) {
            tu_fill(buf, 10, 2, i);
            tu_append(b, buf, 10);
        }
    }
    streamlog_channel_stats sa = tu_stats(a), sb = tu_stats(b);
    streamlog_channel_close(a);
    streamlog_channel_close(b);
    TU_OK(streamlog_close(st));

    for (int round = 0; round < 2; round++) {
        st = tu_open(NULL);
        a = b = NULL;
        TU_OK(streamlog_channel_open(st, "orders", 0, NULL, &a));
        TU_OK(streamlog_channel_open(st, "orders.eu", 0, NULL, &b));
        streamlog_channel_stats ra = tu_stats(a), rb = tu_stats(b);
        ck_assert_uint_eq(ra.first_seq, 1);
        ck_assert_uint_eq(ra.last_seq, sa.last_seq);
        ck_assert_uint_eq(ra.msgs, sa.msgs);
        ck_assert_uint_eq(ra.bytes, sa.bytes);
        ck_assert_uint_eq(rb.msgs, 10);
        ck_assert_uint_eq(rb.bytes, sb.bytes);
        for (uint64_t i = 1; i <= 50; i++) {
            size_t len = (size_t)(i * 97 % 5000);
            tu_fill(buf, len, 1, i);
            tu_expect_msg(a, i, buf, len);
        }
        for (uint64_t i = 1; i <= 10; i++) {
            tu_fill(buf, 10, 2, i * 5);
            tu_expect_msg(b, i, buf, 10);
        }
        /* Numbering continues. */
        uint64_t next = 51 + (uint64_t)round;
        ck_assert_uint_eq(tu_append_str(a, "more"), next);
        sa = tu_stats(a);
        ck_assert_uint_eq(sa.last_seq, next);
        streamlog_channel_close(a);
        streamlog_channel_close(b);
        TU_OK(streamlog_close(st));
        /* Keep the expectation for message 51 (round 0) in the loop above. */
        if (round == 0) {
            /* message 51 is "more", not a tu_fill payload: check it here */
            st = tu_open(NULL);
            a = NULL;
            TU_OK(streamlog_channel_open(st, "orders", 0, NULL, &a));
            tu_expect_msg(a, 51, "more", 4);
            streamlog_channel_close(a);
            TU_OK(streamlog_close(st));
        }
    }
}
END_TEST

START_TEST(reopen_keeps_channel_limits)
{
    streamlog_store *st = tu_open(NULL);
    streamlog_channel *ch = tu_chan1(st, "c", STREAMLOG_OPT_MAX_MSGS, 3);
    tu_append_str(ch, "a");
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));

    st = tu_open(NULL);
    ch = NULL;
    TU_OK(streamlog_channel_open(st, "c", 0, NULL, &ch));
    for (int i = 0; i < 6; i++)
        tu_append_str(ch, "b");
    streamlog_channel_stats s = tu_stats(ch);
    ck_assert_uint_eq(s.msgs, 3);
    ck_assert_uint_eq(s.first_seq, 5);
    ck_assert_uint_eq(s.last_seq, 7);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

/* Closing must release everything: threads, descriptors. */
START_TEST(open_close_releases_resources)
{
    /* Warm up once (lazy one-time initialisation is fine). */
    streamlog_store *st = tu_open(NULL);
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    tu_append_str(ch, "x");
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));

    int fds = tu_count_fds();
    int threads = tu_count_threads();
    for (int i = 0; i < 20; i++) {
        st = tu_open(NULL);
        ch = tu_chan(st, "c", NULL);
        streamlog_iter *it = NULL;
        TU_OK(streamlog_iter_open(ch, STREAMLOG_START_FIRST, 0, &it));
        const streamlog_msg *m;
        TU_OK(streamlog_iter_next(it, &m));
        tu_append_str(ch, "y");
        streamlog_iter_close(it);
        streamlog_channel_close(ch);
        TU_OK(streamlog_close(st));
    }
    ck_assert_int_eq(tu_count_fds(), fds);
    /* The background thread may take a moment to be reaped by the kernel. */
    for (int i = 0; i < 100 && tu_count_threads() != threads; i++)
        tu_sleep_ms(10);
    ck_assert_int_eq(tu_count_threads(), threads);
}
END_TEST

/* A data file cut short (a copy interrupted, a disk error) is ECORRUPT at
 * open, at every length that keeps LMDB's meta pages: never a SIGBUS on the
 * first read of a missing page. */
START_TEST(truncated_data_file)
{
    streamlog_store *st = tu_open1(STREAMLOG_OPT_SYNC, STREAMLOG_SYNC_NONE);
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    static unsigned char buf[1000];
    for (uint64_t i = 0; i < 2000; i++) {
        tu_fill(buf, sizeof buf, 1, i);
        tu_append(ch, buf, sizeof buf);
    }
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
    char path[4400];
    snprintf(path, sizeof path, "%s/data.mdb", tu_store);
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    for (off_t len = sb.st_size - 4096; len >= 3 * 4096; len -= sb.st_size / 7) {
        ck_assert_int_eq(truncate(path, len - len % 4096), 0);
        int rc = streamlog_open(tu_store, NULL, &st);
        if (rc == STREAMLOG_OK)
            TU_OK(streamlog_close(st));
        ck_assert_msg(rc == STREAMLOG_ECORRUPT, "open of data.mdb cut to %lld bytes: %s", (long long)len, tu_name(rc));
        ck_assert_ptr_nonnull(strstr(streamlog_errmsg(), "truncated"));
    }
}
END_TEST

START_TEST(garbage_data_file)
{
    ck_assert_int_eq(mkdir(tu_store, 0755), 0);
    char path[4400];
    snprintf(path, sizeof path, "%s/data.mdb", tu_store);
    static unsigned char junk[65536];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)(i * 131 + 7);
    tu_write_file(path, junk, sizeof junk);
    streamlog_store *st = (streamlog_store *)&st;
    TU_RC(streamlog_open(tu_store, NULL, &st), STREAMLOG_ECORRUPT);
    ck_assert_ptr_eq(st, (streamlog_store *)&st);
    /* It is refused again the same way (nothing half-open left behind). */
    TU_RC(streamlog_open(tu_store, NULL, &st), STREAMLOG_ECORRUPT);
    /* The user's file is not overwritten. */
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_size, (off_t)sizeof junk);
    /* Once the garbage is gone, the directory becomes a store. */
    ck_assert_int_eq(unlink(path), 0);
    snprintf(path, sizeof path, "%s/lock.mdb", tu_store);
    unlink(path);
    st = NULL;
    TU_OK(streamlog_open(tu_store, NULL, &st));
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(text_data_file)
{
    ck_assert_int_eq(mkdir(tu_store, 0755), 0);
    char path[4400];
    snprintf(path, sizeof path, "%s/data.mdb", tu_store);
    const char *text = "this is not an LMDB file, just a user's notes\n";
    tu_write_file(path, text, strlen(text));
    streamlog_store *st = (streamlog_store *)&st;
    TU_RC(streamlog_open(tu_store, NULL, &st), STREAMLOG_ECORRUPT);
    ck_assert_ptr_eq(st, (streamlog_store *)&st);
}
END_TEST

/* A valid LMDB environment written by someone else is not a libstreamlog
 * store: refuse it rather than write into it. */
START_TEST(foreign_lmdb_environment)
{
    ck_assert_int_eq(mkdir(tu_store, 0755), 0);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    ck_assert_int_eq(mdb_env_create(&env), 0);
    ck_assert_int_eq(mdb_env_set_maxdbs(env, 4), 0);
    ck_assert_int_eq(mdb_env_open(env, tu_store, 0, 0644), 0);
    ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    ck_assert_int_eq(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
    MDB_val k = { 5, "hello" }, v = { 5, "world" };
    ck_assert_int_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
    ck_assert_int_eq(mdb_dbi_open(txn, "accounts", MDB_CREATE, &dbi), 0);
    MDB_val k2 = { 3, "bob" }, v2 = { 3, "100" };
    ck_assert_int_eq(mdb_put(txn, dbi, &k2, &v2, 0), 0);
    ck_assert_int_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);

    streamlog_store *st = (streamlog_store *)&st;
    TU_RC(streamlog_open(tu_store, NULL, &st), STREAMLOG_ECORRUPT);
    ck_assert_ptr_eq(st, (streamlog_store *)&st);

    /* The foreign data is untouched. */
    ck_assert_int_eq(mdb_env_create(&env), 0);
    ck_assert_int_eq(mdb_env_set_maxdbs(env, 4), 0);
    ck_assert_int_eq(mdb_env_open(env, tu_store, MDB_RDONLY, 0644), 0);
    ck_assert_int_eq(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    ck_assert_int_eq(mdb_dbi_open(txn, "accounts", 0, &dbi), 0);
    MDB_val got;
    ck_assert_int_eq(mdb_get(txn, dbi, &k2, &got), 0);
    ck_assert_int_eq(got.mv_size, 3);
    ck_assert_int_eq(memcmp(got.mv_data, "100", 3), 0);
    mdb_txn_abort(txn);
    mdb_env_close(env);
}
END_TEST

/* Damaged records are reported as ECORRUPT, never crashed on. This test
 * knows the on-disk layout (named databases "msgs" and "channels", message
 * keys of channel id and sequence in order) and damages records with raw
 * LMDB while the store is closed. */
/* The closed store's LMDB environment, opened directly (to damage or count
 * what the library wrote), with a map valgrind can give. */
static MDB_env *raw_env(void)
{
    MDB_env *env;
    ck_assert_int_eq(mdb_env_create(&env), 0);
    ck_assert_int_eq(mdb_env_set_maxdbs(env, 16), 0);
    ck_assert_int_eq(mdb_env_set_mapsize(env, (size_t)1 << 30), 0);
    ck_assert_int_eq(mdb_env_open(env, tu_store, 0, 0644), 0);
    return env;
}

/* Every message record carries a CRC32C over its key, time and payload:
 * a flipped payload byte or a record found under another key is ECORRUPT on
 * every read path, never other bytes with OK; records written before
 * checksums (format 1) still read. */
START_TEST(checksums_catch_damage)
{
    streamlog_store *st = tu_open(NULL);
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    for (int i = 1; i <= 6; i++) {
        char p[16];
        snprintf(p, sizeof p, "payload-%d", i);
        tu_append_str(ch, p);
    }
    streamlog_channel_close(ch);
    streamlog_verify_report rep = { .size = sizeof rep };
    TU_OK(streamlog_verify(st, &rep));
    ck_assert_uint_eq(rep.size, sizeof rep);
    ck_assert_uint_eq(rep.channels, 1);
    ck_assert_uint_eq(rep.messages, 6);
    ck_assert_uint_eq(rep.bytes, 6 * 9);
    ck_assert_uint_eq(rep.damaged_messages + rep.orphan_messages + rep.counter_mismatches, 0);
    /* bad input, and a caller compiled against a shorter struct */
    TU_RC(streamlog_verify(NULL, &rep), STREAMLOG_EINVAL);
    TU_RC(streamlog_verify(st, NULL), STREAMLOG_EINVAL);
    rep.size = 0;
    TU_RC(streamlog_verify(st, &rep), STREAMLOG_EINVAL);
    union {
        streamlog_verify_report r;
        unsigned char bytes[sizeof(streamlog_verify_report)];
    } old_caller;
    memset(&old_caller, 0xab, sizeof old_caller);
    old_caller.r.size = 24; /* size, reserved, channels, damaged_channels */
    TU_OK(streamlog_verify(st, &old_caller.r));
    ck_assert_uint_eq(old_caller.r.channels, 1);
    for (size_t i = 24; i < sizeof old_caller; i++)
        ck_assert_uint_eq(old_caller.bytes[i], 0xab);
    TU_OK(streamlog_close(st));

    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi msgs;
    env = raw_env();
    ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    ck_assert_int_eq(mdb_dbi_open(txn, "msgs", 0, &msgs), 0);
    unsigned char key[6][16];
    unsigned char rec[6][64];
    size_t len[6];
    MDB_cursor *cur;
    MDB_val k, v;
    ck_assert_int_eq(mdb_cursor_open(txn, msgs, &cur), 0);
    int n = 0;
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && n < 6;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT), n++) {
        ck_assert_uint_le(v.mv_size, sizeof rec[n]);
        memcpy(key[n], k.mv_data, 16);
        memcpy(rec[n], v.mv_data, v.mv_size);
        len[n] = v.mv_size;
    }
    mdb_cursor_close(cur);
    ck_assert_int_eq(n, 6);
    ck_assert_int_eq(rec[0][0], 2); /* format 2: with a checksum */
    /* seq 2: one payload bit flipped */
    rec[1][len[1] - 1] ^= 0x04;
    MDB_val k2 = { 16, key[1] }, v2 = { len[1], rec[1] };
    ck_assert_int_eq(mdb_put(txn, msgs, &k2, &v2, 0), 0);
    /* seq 3: rewritten as a format-1 record (12-byte header, no checksum) */
    unsigned char old[64];
    memcpy(old, rec[2], 12);
    old[0] = 1;
    memcpy(old + 12, rec[2] + 16, len[2] - 16);
    MDB_val k3 = { 16, key[2] }, v3 = { len[2] - 4, old };
    ck_assert_int_eq(mdb_put(txn, msgs, &k3, &v3, 0), 0);
    /* seq 4: seq 5's intact record, stored under seq 4's key */
    MDB_val k4 = { 16, key[3] }, v4 = { len[4], rec[4] };
    ck_assert_int_eq(mdb_put(txn, msgs, &k4, &v4, 0), 0);
    ck_assert_int_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);

    st = tu_open(NULL);
    ch = NULL;
    TU_OK(streamlog_channel_open(st, "c", 0, NULL, &ch));
    tu_expect_msg(ch, 1, "payload-1", 9);
    streamlog_msg *m = NULL;
    TU_RC(streamlog_get(ch, 2, &m), STREAMLOG_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(streamlog_errmsg(), "seq 2"));
    tu_expect_msg(ch, 3, "payload-3", 9);
    TU_RC(streamlog_get(ch, 4, &m), STREAMLOG_ECORRUPT);
    tu_expect_msg(ch, 5, "payload-5", 9);
    /* the iterator stops at the damage with ECORRUPT, not with other bytes */
    streamlog_iter *it;
    const streamlog_msg *view;
    TU_OK(streamlog_iter_open(ch, STREAMLOG_START_FIRST, 0, &it));
    TU_OK(streamlog_iter_next(it, &view));
    ck_assert_uint_eq(streamlog_msg_seq(view), 1);
    TU_RC(streamlog_iter_next(it, &view), STREAMLOG_ECORRUPT);
    streamlog_iter_close(it);
    streamlog_channel_close(ch);
    /* verify counts both damaged records; the format-1 one is intact */
    rep = (streamlog_verify_report){ .size = sizeof rep };
    TU_RC(streamlog_verify(st, &rep), STREAMLOG_ECORRUPT);
    ck_assert_uint_eq(rep.messages, 6);
    ck_assert_uint_eq(rep.damaged_messages, 2);
    ck_assert_uint_eq(rep.orphan_messages, 0);
    ck_assert_uint_eq(rep.counter_mismatches, 1); /* its two damaged records no longer count */
    TU_OK(streamlog_close(st));
}
END_TEST

/* No subscription-state damage in a report. */
static void expect_subs_clean(const streamlog_verify_report *r)
{
    ck_assert_uint_eq(r->damaged_groups + r->orphan_groups + r->groups_beyond_end, 0);
    ck_assert_uint_eq(r->damaged_pending + r->orphan_pending + r->out_of_range_pending, 0);
    ck_assert_uint_eq(r->damaged_members + r->orphan_members, 0);
}

/* Take n messages from a subscription, acking only the first `ack` of them. */
static void take(streamlog_sub *sub, int n, int ack)
{
    for (int i = 0; i < n; i++) {
        const streamlog_msg *m = NULL;
        TU_OK(streamlog_sub_next(sub, 30000, &m));
        if (i < ack)
            TU_OK(streamlog_ack(sub, streamlog_msg_seq(m)));
    }
}

/* A store with a durable, a queue group, a plain subscription and pending
 * messages verifies clean, and stays clean after retention and a purge
 * remove messages the durable still has pending (legitimate: the durable
 * drops them when it comes to them). */
START_TEST(verify_subscription_state_clean)
{
    streamlog_store *st = tu_open(NULL);
    streamlog_channel *ch = tu_chan1(st, "c", STREAMLOG_OPT_MAX_MSGS, 5);
    streamlog_sub *durable = subscribe_as(ch, "d", NULL, NULL);
    streamlog_sub *queue = subscribe_as(ch, NULL, "q", NULL);
    streamlog_sub *plain = subscribe_as(ch, NULL, NULL, NULL);
    for (int i = 0; i < 3; i++)
        tu_append_str(ch, "m");
    take(durable, 3, 1);
    take(queue, 2, 0);
    TU_OK(streamlog_sub_close(durable)); /* the durable keeps seqs 2 and 3 pending */

    streamlog_verify_report rep = { .size = sizeof rep };
    TU_OK(streamlog_verify(st, &rep));
    ck_assert_uint_eq(rep.size, sizeof rep);
    ck_assert_uint_eq(rep.groups, 2);
    ck_assert_uint_ge(rep.pending, 4); /* the durable's 2, the queue's 2 (and any it claimed ahead) */
    ck_assert_uint_eq(rep.members, 2); /* the queue member and the plain subscription */
    expect_subs_clean(&rep);

    /* retention (max 5 messages) removes seqs 1..5, the durable's pending 2 and 3 among them */
    for (int i = 0; i < 5; i++)
        tu_append_str(ch, "m");
    ck_assert_uint_eq(tu_stats(ch).first_seq, 4);
    for (int i = 0; i < 2; i++)
        tu_append_str(ch, "m");
    ck_assert_uint_eq(tu_stats(ch).first_seq, 6);
    rep = (streamlog_verify_report){ .size = sizeof rep };
    TU_OK(streamlog_verify(st, &rep));
    ck_assert_uint_ge(rep.pending, 4);
    expect_subs_clean(&rep);

    /* a purge of everything: the group positions stay within the channel's end */
    uint64_t removed = 0;
    TU_OK(streamlog_channel_purge(ch, UINT64_MAX, &removed));
    ck_assert_uint_eq(removed, 5);
    rep = (streamlog_verify_report){ .size = sizeof rep };
    TU_OK(streamlog_verify(st, &rep));
    ck_assert_uint_eq(rep.messages, 0);
    ck_assert_uint_ge(rep.pending, 4);
    expect_subs_clean(&rep);

    /* the durable resumes over that state: its removed pending messages are dropped */
    durable = subscribe_as(ch, "d", NULL, NULL);
    tu_append_str(ch, "new");
    const streamlog_msg *m = NULL;
    TU_OK(streamlog_sub_next(durable, 30000, &m));
    ck_assert_uint_ge(streamlog_msg_seq(m), 6);
    TU_OK(streamlog_sub_close(durable));
    TU_OK(streamlog_sub_close(queue));
    TU_OK(streamlog_sub_close(plain));
    rep = (streamlog_verify_report){ .size = sizeof rep };
    TU_OK(streamlog_verify(st, &rep));
    expect_subs_clean(&rep);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

/* Write one raw record into a store's database, through the storage layer. */
static void put_raw(streamlog_store *st, int db, const void *key, size_t klen, const void *val, size_t vlen)
{
    sl_txn t;
    TU_OK(sl_write_begin(st->env, &t));
    TU_OK(sl_put(&t, db, key, klen, val, vlen));
    TU_OK(sl_commit(&t));
}

static void del_raw(streamlog_store *st, int db, const void *key, size_t klen)
{
    sl_txn t;
    TU_OK(sl_write_begin(st->env, &t));
    TU_OK(sl_del(&t, db, key, klen));
    TU_OK(sl_commit(&t));
}

/* Damaged subscription state is found, each kind counted: records that do
 * not decode, records of no channel or group, positions and pending
 * sequences past the channel's end. A dead process's member of a removed
 * group is legitimate (reaped later); a live one is not. */
START_TEST(verify_finds_subscription_damage)
{
    streamlog_store *st = tu_open(NULL);
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    streamlog_sub *durable = subscribe_as(ch, "d", NULL, NULL);
    for (int i = 0; i < 3; i++)
        tu_append_str(ch, "m");
    take(durable, 1, 0);
    TU_OK(streamlog_sub_close(durable));

    sl_txn t;
    sl_chan_rec rec;
    sl_group_rec g;
    uint8_t gkey[SL_GROUP_KEY_MAX];
    TU_OK(sl_read_begin(st->env, &t));
    TU_OK(sl_chan_load(&t, "c", 1, &rec));
    size_t gklen = sl_group_key(gkey, rec.id, SL_GROUP_DURABLE, "d", NULL);
    TU_OK(sl_group_load(&t, gkey, gklen, &g));
    sl_read_end(&t);
    ck_assert_uint_eq(rec.last_seq, 3);
    const uint64_t no_group = g.id + 1000, no_chan = rec.id + 1000;

    /* a group record too short to decode; a group of no channel; a group past the end */
    uint8_t k1[SL_GROUP_KEY_MAX], k2[SL_GROUP_KEY_MAX], k3[SL_GROUP_KEY_MAX];
    size_t k1len = sl_group_key(k1, rec.id, SL_GROUP_DURABLE, "short", NULL);
    size_t k2len = sl_group_key(k2, no_chan, SL_GROUP_QUEUE, "q", NULL);
    size_t k3len = sl_group_key(k3, rec.id, SL_GROUP_DURABLE_QUEUE, "q", "d2");
    uint8_t junk[3] = {1, 0, 0};
    put_raw(st, SL_DB_GROUPS, k1, k1len, junk, sizeof junk);
    sl_txn w;
    TU_OK(sl_write_begin(st->env, &w));
    TU_OK(sl_group_save(&w, k2, k2len, &(sl_group_rec){.id = g.id + 1, .next_seq = 1}));
    TU_OK(sl_group_save(&w, k3, k3len, &(sl_group_rec){.id = g.id + 2, .next_seq = rec.last_seq + 2}));
    /* a pending record of no group; one past the channel's end and the group's position */
    TU_OK(sl_pending_save(&w, no_group, 1, &(sl_pending_rec){.deliveries = 1}));
    TU_OK(sl_pending_save(&w, g.id, rec.last_seq + 5, &(sl_pending_rec){.deliveries = 1}));
    /* members: of no channel; live and of no group; dead and of no group (legitimate) */
    uint32_t pid;
    uint64_t start;
    sl_process_identity(&pid, &start);
    TU_OK(sl_member_save(&w, no_chan, 1, &(sl_member_rec){.pid = pid, .start_ticks = start}));
    TU_OK(sl_member_save(&w, rec.id, 2, &(sl_member_rec){.group_id = no_group, .pid = pid, .start_ticks = start}));
    TU_OK(sl_member_save(&w, rec.id, 3,
                         &(sl_member_rec){.group_id = no_group, .pid = pid, .start_ticks = start + 1}));
    TU_OK(sl_commit(&w));
    /* a pending record and a member record that do not decode */
    uint8_t pkey[16], mkey[16];
    sl_be64_put(pkey, g.id);
    sl_be64_put(pkey + 8, 1); /* the durable's unacked seq 1, overwritten */
    sl_be64_put(mkey, rec.id);
    sl_be64_put(mkey + 8, 4);
    uint8_t bad_pending[24] = {9}; /* an unknown record format */
    put_raw(st, SL_DB_PENDING, pkey, sizeof pkey, bad_pending, sizeof bad_pending);
    put_raw(st, SL_DB_MEMBERS, mkey, sizeof mkey, junk, sizeof junk);

    streamlog_verify_report rep = { .size = sizeof rep };
    TU_RC(streamlog_verify(st, &rep), STREAMLOG_ECORRUPT);
    const char *msg = streamlog_errmsg();
    ck_assert_uint_eq(rep.groups, 4);
    ck_assert_uint_eq(rep.damaged_groups, 1);
    ck_assert_uint_eq(rep.orphan_groups, 1);
    ck_assert_uint_eq(rep.groups_beyond_end, 1);
    ck_assert_uint_eq(rep.pending, 3); /* the close gave back the unread claims: seq 1 was the only one */
    ck_assert_uint_eq(rep.damaged_pending, 1);
    ck_assert_uint_eq(rep.orphan_pending, 1);
    ck_assert_uint_eq(rep.out_of_range_pending, 1);
    ck_assert_uint_eq(rep.members, 4);
    ck_assert_uint_eq(rep.damaged_members, 1);
    ck_assert_uint_eq(rep.orphan_members, 2);
    /* the message and channel checks are unaffected */
    ck_assert_uint_eq(rep.messages, 3);
    ck_assert_uint_eq(rep.damaged_messages + rep.orphan_messages + rep.counter_mismatches, 0);
    const char *parts[] = {"1 damaged group record(s)", "1 orphaned group(s)", "1 group(s) past their channel's end",
                           "1 damaged pending record(s)", "1 orphaned pending record(s)",
                           "1 out-of-range pending record(s)", "1 damaged member record(s)",
                           "2 orphaned member(s)"};
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++)
        ck_assert_msg(strstr(msg, parts[i]), "verify's message \"%s\" lacks \"%s\"", msg, parts[i]);

    /* removing the damage makes the store clean again */
    del_raw(st, SL_DB_GROUPS, k1, k1len);
    del_raw(st, SL_DB_GROUPS, k2, k2len);
    del_raw(st, SL_DB_GROUPS, k3, k3len);
    TU_OK(sl_write_begin(st->env, &w));
    TU_OK(sl_pending_del(&w, no_group, 1));
    TU_OK(sl_pending_del(&w, g.id, rec.last_seq + 5));
    TU_OK(sl_member_del(&w, no_chan, 1));
    TU_OK(sl_member_del(&w, rec.id, 2));
    TU_OK(sl_commit(&w));
    del_raw(st, SL_DB_PENDING, pkey, sizeof pkey);
    del_raw(st, SL_DB_MEMBERS, mkey, sizeof mkey);
    rep = (streamlog_verify_report){ .size = sizeof rep };
    TU_OK(streamlog_verify(st, &rep));
    ck_assert_uint_eq(rep.members, 1); /* the dead process's member of no group */
    expect_subs_clean(&rep);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

/* Entries of one of the store's databases, read with raw LMDB (the store closed). */
static size_t count_entries(const char *db)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_stat s;
    env = raw_env();
    ck_assert_int_eq(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    ck_assert_int_eq(mdb_dbi_open(txn, db, 0, &dbi), 0);
    ck_assert_int_eq(mdb_stat(txn, dbi, &s), 0);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return s.ms_entries;
}

/* The background thread forgets message ids older than the dedup window:
 * with a 1 ms window, some second-long stretch of an open store empties both
 * of its databases (checked between opens, up to a minute). */
START_TEST(dedup_ids_expire)
{
    streamlog_store *st = tu_open1(STREAMLOG_OPT_DEDUP_WINDOW_MS, 1);
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    for (int i = 0; i < 50; i++) {
        char id[16];
        snprintf(id, sizeof id, "id-%d", i);
        TU_OK(streamlog_append_once(ch, id, NULL, 0, "x", 1, NULL, NULL));
    }
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
    ck_assert_uint_eq(count_entries("dedup"), 50);
    ck_assert_uint_eq(count_entries("dedup_expiry"), 50);
    int64_t deadline = tu_mono_ms() + 60000;
    size_t left;
    while ((left = count_entries("dedup") + count_entries("dedup_expiry")) > 0 && tu_mono_ms() < deadline) {
        st = tu_open1(STREAMLOG_OPT_DEDUP_WINDOW_MS, 1);
        tu_sleep_ms(1200); /* a maintenance period and a little */
        TU_OK(streamlog_close(st));
    }
    ck_assert_msg(left == 0, "%zu dedup entries left after a minute", left);
}
END_TEST

/* Ids are forgotten by the longest window in force: a channel's own longer
 * window keeps its ids; a channel's shorter one is judged at lookup. */
START_TEST(dedup_expiry_honours_channel_windows)
{
    streamlog_store *st = tu_open1(STREAMLOG_OPT_DEDUP_WINDOW_MS, 1);
    streamlog_channel *lasting = tu_chan1(st, "lasting", STREAMLOG_OPT_DEDUP_WINDOW_MS, 3600000);
    streamlog_channel *brief = tu_chan(st, "brief", NULL);
    TU_OK(streamlog_append_once(lasting, "x", NULL, 0, "a", 1, NULL, NULL));
    TU_OK(streamlog_append_once(brief, "x", NULL, 0, "a", 1, NULL, NULL));
    int64_t start = tu_mono_ms();
    while (tu_mono_ms() - start < 20) /* well past the 1 ms window */
        tu_sleep_ms(5);
    sl_dedup_expire(st); /* what the background thread does each second */
    uint64_t seq;
    int dup;
    TU_OK(streamlog_append_once(lasting, "x", NULL, 0, "b", 1, &seq, &dup));
    ck_assert_int_eq(dup, 1);
    ck_assert_uint_eq(seq, 1);
    TU_OK(streamlog_append_once(brief, "x", NULL, 0, "b", 1, &seq, &dup));
    ck_assert_int_eq(dup, 0);
    ck_assert_uint_eq(seq, 2);
    streamlog_channel_close(lasting);
    streamlog_channel_close(brief);
    TU_OK(streamlog_close(st));
    /* the brief channel's ids wait for the lasting window: 2 ids, 3 entries */
    ck_assert_uint_eq(count_entries("dedup"), 2);
    ck_assert_uint_eq(count_entries("dedup_expiry"), 3);
}
END_TEST

/* CRC32C's check value, and the hardware path equal to the table. */
START_TEST(crc32c_values)
{
    ck_assert_uint_eq(sl_crc32c(0, "123456789", 9), 0xE3069283u);
    ck_assert_uint_eq(sl_crc32c_portable(0, "123456789", 9), 0xE3069283u);
    unsigned char buf[300];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)(i * 37 + 11);
    for (size_t off = 0; off < 8; off++)
        for (size_t n = 0; n + off <= sizeof buf; n += 7)
            ck_assert_uint_eq(sl_crc32c(0, buf + off, n), sl_crc32c_portable(0, buf + off, n));
    /* feeding in pieces gives the same as at once */
    ck_assert_uint_eq(sl_crc32c(sl_crc32c(0, buf, 100), buf + 100, 200), sl_crc32c(0, buf, 300));
}
END_TEST

START_TEST(damaged_records_are_ecorrupt)
{
    streamlog_store *st = tu_open(NULL);
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    for (int i = 0; i < 5; i++)
        tu_append_str(ch, "intact payload");
    streamlog_channel *bad = tu_chan(st, "bad", NULL);
    tu_append_str(bad, "x");
    streamlog_channel_close(ch);
    streamlog_channel_close(bad);
    TU_OK(streamlog_close(st));

    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi msgs, chans;
    env = raw_env();
    ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    ck_assert_int_eq(mdb_dbi_open(txn, "msgs", 0, &msgs), 0);
    ck_assert_int_eq(mdb_dbi_open(txn, "channels", 0, &chans), 0);
    /* Messages 2 and 3 of "c" (the first channel's keys sort first; a key
     * is the big-endian channel id then the big-endian sequence). */
    MDB_cursor *cur;
    ck_assert_int_eq(mdb_cursor_open(txn, msgs, &cur), 0);
    MDB_val k, v;
    ck_assert_int_eq(mdb_cursor_get(cur, &k, &v, MDB_FIRST), 0);
    ck_assert_int_eq(k.mv_size, 16);
    unsigned char key2[16], key3[16];
    memcpy(key2, k.mv_data, 16);
    ck_assert_int_eq(key2[15], 1);
    mdb_cursor_close(cur);
    memcpy(key3, key2, 16);
    key2[15] = 2;
    key3[15] = 3;
    MDB_val k2 = { 16, key2 }, k3 = { 16, key3 };
    ck_assert_int_eq(mdb_get(txn, msgs, &k2, &v), 0);
    ck_assert_int_eq(mdb_get(txn, msgs, &k3, &v), 0);
    MDB_val shortv = { 3, "abc" };
    ck_assert_int_eq(mdb_put(txn, msgs, &k2, &shortv, 0), 0);
    unsigned char junk[40];
    memset(junk, 0xee, sizeof junk);
    MDB_val junkv = { sizeof junk, junk };
    ck_assert_int_eq(mdb_put(txn, msgs, &k3, &junkv, 0), 0);
    /* The channel record of "bad". */
    MDB_val name = { 3, "bad" };
    MDB_val garbage = { 5, "\x01\x02\x03\x04\x05" };
    ck_assert_int_eq(mdb_put(txn, chans, &name, &garbage, 0), 0);
    ck_assert_int_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);

    st = tu_open(NULL);
    ch = NULL;
    TU_OK(streamlog_channel_open(st, "c", 0, NULL, &ch));
    tu_expect_msg(ch, 1, "intact payload", 14);
    streamlog_msg *m = (streamlog_msg *)&m;
    TU_RC(streamlog_get(ch, 2, &m), STREAMLOG_ECORRUPT);
    TU_RC(streamlog_get(ch, 3, &m), STREAMLOG_ECORRUPT);
    ck_assert_ptr_eq(m, (streamlog_msg *)&m);
    tu_expect_msg(ch, 4, "intact payload", 14);
    streamlog_iter *it = NULL;
    TU_OK(streamlog_iter_open(ch, STREAMLOG_START_FIRST, 0, &it));
    const streamlog_msg *view;
    TU_OK(streamlog_iter_next(it, &view));
    ck_assert_uint_eq(streamlog_msg_seq(view), 1);
    TU_RC(streamlog_iter_next(it, &view), STREAMLOG_ECORRUPT);
    streamlog_iter_close(it);
    /* Seeking by time reads records too. */
    it = NULL;
    int rc = streamlog_iter_open(ch, STREAMLOG_START_TIME, 1, &it);
    ck_assert_msg(rc == STREAMLOG_OK || rc == STREAMLOG_ECORRUPT, "TIME seek: %s", tu_name(rc));
    streamlog_iter_close(it);
    streamlog_channel *b = (streamlog_channel *)&b;
    TU_RC(streamlog_channel_open(st, "bad", 0, NULL, &b), STREAMLOG_ECORRUPT);
    ck_assert_ptr_eq(b, (streamlog_channel *)&b);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

static Suite *store_suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tu_tcase("open", 0);
    tcase_add_test(tc, open_creates_directory);
    tcase_add_test(tc, open_existing_empty_directory);
    tcase_add_test(tc, open_bad_args);
    tcase_add_test(tc, open_path_is_a_file);
    tcase_add_test(tc, open_uncreatable_directory);
    tcase_add_test(tc, second_open_is_ebusy);
    tcase_add_test(tc, two_stores_at_once);
    tcase_add_test(tc, store_limit_beyond_a_32_bit_address_space);
    suite_add_tcase(s, tc);

    tc = tu_tcase("close", 0);
    tcase_add_test(tc, close_busy_with_channel);
    tcase_add_test(tc, close_busy_with_iterator);
    tcase_add_test(tc, close_busy_counts_and_names_handles);
    tcase_add_test(tc, close_busy_message_is_bounded);
    tcase_add_test(tc, close_null);
    tcase_add_test(tc, sync_works);
    tcase_add_test(tc, open_close_releases_resources);
    suite_add_tcase(s, tc);

    tc = tu_tcase("persistence", 0);
    tcase_add_test(tc, reopen_persistence);
    tcase_add_test(tc, reopen_keeps_channel_limits);
    suite_add_tcase(s, tc);

    tc = tu_tcase("foreign", 0);
    tcase_add_test(tc, garbage_data_file);
    tcase_add_test(tc, truncated_data_file);
    tcase_add_test(tc, text_data_file);
    tcase_add_test(tc, foreign_lmdb_environment);
    tcase_add_test(tc, damaged_records_are_ecorrupt);
    tcase_add_test(tc, checksums_catch_damage);
    tcase_add_test(tc, verify_subscription_state_clean);
    tcase_add_test(tc, verify_finds_subscription_damage);
    tcase_add_test(tc, crc32c_values);
    tcase_add_test(tc, dedup_ids_expire);
    tcase_add_test(tc, dedup_expiry_honours_channel_windows);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(store_suite());
}
