/*
 * test_subs_scale.c - many subscriptions on one channel: thousands fit under
 * a file limit that three descriptors each would exceed (a subscription
 * makes its fds only when streamlog_sub_fd() is asked), each is still woken
 * and delivers, running out of descriptors in streamlog_sub_fd() is
 * STREAMLOG_EMFILE and leaves the subscription working (as does a store's
 * first subscribe, which needs two for the watcher), and the members of
 * a killed process are seen dead at once and their records reaped by later
 * subscribes.
 *
 * Asserts behaviour, never time.
 */
#define _GNU_SOURCE
#include "subs_util.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/resource.h>

#include "encoding.h"
#include "store.h" /* the raw member records, to see reaping */

enum { MANY = 2400, FD_LIMIT = 512 };

static void lower_fd_limit(rlim_t soft)
{
    struct rlimit rl;
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    rl.rlim_cur = soft;
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
}

static streamlog_sub *plain_first(streamlog_channel *ch)
{
    streamlog_opts *o = su_opts();
    su_int(o, STREAMLOG_OPT_START, STREAMLOG_START_FIRST);
    streamlog_sub *s = su_subscribe(ch, o);
    streamlog_opts_free(o);
    return s;
}

/* Thousands of subscriptions (plain and durable) under a limit of 512 open
 * files; every one gets the stored message, and a new one too. */
START_TEST(thousands_of_subscriptions_under_a_low_fd_limit)
{
    lower_fd_limit(FD_LIMIT); /* 3 fds each would allow about 170 */
    struct su_fix f = su_fix_open(1);
    streamlog_sub **subs = calloc(MANY, sizeof *subs);
    ck_assert_ptr_nonnull(subs);
    for (int i = 0; i < MANY; i++) {
        streamlog_opts *o = su_opts();
        su_int(o, STREAMLOG_OPT_START, STREAMLOG_START_FIRST);
        if (i % 8 == 0) {
            char name[32];
            snprintf(name, sizeof name, "d%d", i);
            su_str(o, STREAMLOG_OPT_DURABLE, name);
        }
        subs[i] = su_subscribe(f.ch, o);
        streamlog_opts_free(o);
    }
    ck_assert_uint_eq(tu_stats(f.ch).subs, MANY);
    su_fill_to(f.ch, 2);
    for (int i = 0; i < MANY; i++) {
        SU_EXPECT(subs[i], 0, 1, 0);
        SU_EXPECT(subs[i], 0, 2, 0);
        TU_OK(streamlog_ack(subs[i], 1));
        TU_OK(streamlog_ack(subs[i], 2));
        SU_NOTHING(subs[i]); /* idle: holds no reader slot either */
    }
    /* a blocking wait without an fd is woken by the next append */
    su_fill_to(f.ch, 3);
    for (int i = 0; i < MANY; i += 97) {
        SU_EXPECT(subs[i], 60000, 3, 0);
        TU_OK(streamlog_ack(subs[i], 3));
    }
    for (int i = 0; i < MANY; i++)
        TU_OK(streamlog_sub_close(subs[i]));
    ck_assert_uint_eq(tu_stats(f.ch).subs, 0);
    free(subs);
    su_fix_close(&f);
}
END_TEST

/* Asking for fds until there are none: STREAMLOG_EMFILE (not EIO, nothing
 * latched), the subscription keeps delivering without one, and asks again
 * successfully once descriptors are free. */
START_TEST(sub_fd_out_of_descriptors_is_emfile)
{
    lower_fd_limit(FD_LIMIT);
    struct su_fix f = su_fix_open(1);
    enum { N = FD_LIMIT }; /* more than FD_LIMIT / 3 */
    streamlog_sub *subs[N];
    int with_fd = 0, rc = 0;
    for (int i = 0; i < N; i++)
        subs[i] = plain_first(f.ch);
    while (with_fd < N && (rc = streamlog_sub_fd(subs[with_fd])) >= 0)
        with_fd++;
    ck_assert_int_lt(with_fd, N);
    TU_RC(rc, STREAMLOG_EMFILE);
    ck_assert_int_gt(with_fd, 0);
    streamlog_sub *refused = subs[with_fd];
    SU_EXPECT(refused, 0, 1, 0); /* works without its fd */
    SU_NOTHING(refused);
    /* those with an fd: readable once a message comes */
    int fd0 = streamlog_sub_fd(subs[0]);
    ck_assert_int_ge(fd0, 0);
    SU_EXPECT(subs[0], 0, 1, 0);
    SU_NOTHING(subs[0]);
    ck_assert(!su_readable(fd0, 0));
    su_fill_to(f.ch, 2);
    ck_assert(su_readable(fd0, 60000));
    SU_EXPECT(refused, 60000, 2, 0);
    /* free descriptors, then it gets one, readable at once as a message waits */
    for (int i = 1; i < with_fd; i++) {
        TU_OK(streamlog_sub_close(subs[i]));
        subs[i] = NULL;
    }
    int fd = streamlog_sub_fd(subs[with_fd + 1]);
    ck_assert_int_ge(fd, 0);
    ck_assert(su_readable(fd, 60000));
    ck_assert_int_eq(streamlog_sub_fd(subs[with_fd + 1]), fd); /* the same fd from now on */
    /* the store is not latched: appends and new subscriptions work */
    su_fill_to(f.ch, 3);
    for (int i = 0; i < N; i++)
        if (subs[i])
            TU_OK(streamlog_sub_close(subs[i]));
    su_fix_close(&f);
}
END_TEST

/* The first subscription of a store starts its watcher (two descriptors):
 * with none left, subscribing is STREAMLOG_EMFILE, not EIO, and works once
 * descriptors are free again. */
START_TEST(subscribe_out_of_descriptors_is_emfile)
{
    struct su_fix f = su_fix_open(1);
    lower_fd_limit(64);
    int dummies[64], n = 0, fd;
    while (n < 64 && (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
        dummies[n++] = fd;
    ck_assert_int_eq(errno, EMFILE);
    streamlog_sub *s = NULL;
    TU_RC(streamlog_subscribe(f.ch, NULL, &s), STREAMLOG_EMFILE);
    ck_assert_ptr_null(s);
    ck_assert_uint_eq(tu_stats(f.ch).subs, 0); /* nothing half-done */
    close(dummies[--n]);
    close(dummies[--n]);
    s = plain_first(f.ch);
    SU_EXPECT(s, 0, 1, 0);
    TU_OK(streamlog_sub_close(s));
    while (n > 0)
        close(dummies[--n]);
    su_fix_close(&f);
}
END_TEST

/* ---- members of a killed process ---- */

static void holder_main(void *p)
{
    int ready_w = *(int *)p;
    streamlog_store *st = su_open_store_or_null();
    SU_CASSERT(st, "child cannot open the store");
    streamlog_channel *ch;
    SU_CCHECK(streamlog_channel_open(st, "c", 0, NULL, &ch));
    for (int i = 0; i < 150; i++) {
        streamlog_sub *s;
        SU_CCHECK(streamlog_subscribe(ch, NULL, &s));
    }
    su_send(ready_w, 1);
    pause(); /* killed here, holding its subscriptions */
}

/* Member records of channel chan_id in the store, dead or alive. */
static uint64_t member_records(streamlog_store *st, uint64_t chan_id)
{
    sl_txn t;
    sl_cursor *c;
    TU_OK(sl_read_begin(st->env, &t));
    TU_OK(sl_cursor_open(&t, SL_DB_MEMBERS, &c));
    uint8_t kb[16] = {0};
    sl_be64_put(kb, chan_id);
    sl_val k = {kb, sizeof kb};
    uint64_t n = 0;
    for (int rc = sl_cursor_get(c, SL_SEEK_GE, &k, NULL); rc == STREAMLOG_OK && k.len == 16 &&
                                                         sl_be64_get(k.data) == chan_id;
         rc = sl_cursor_get(c, SL_NEXT, &k, NULL))
        n++;
    sl_cursor_close(c);
    sl_read_end(&t);
    return n;
}

START_TEST(members_of_a_killed_process_are_dead_and_reaped)
{
    /* the channel exists before the child opens the store */
    streamlog_store *st = su_open_store();
    streamlog_channel_close(tu_chan(st, "c", NULL));
    TU_OK(streamlog_close(st));
    struct su_pipe ready = su_pipe_new();
    struct su_child c = su_spawn(holder_main, &ready.w, 120);
    uint64_t v;
    ck_assert_int_eq(su_recv(ready.r, &v), 0);
    su_kill(c);

    st = su_open_store();
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    ck_assert_uint_eq(tu_stats(ch).subs, 0); /* dead at once, before any reaping */
    ck_assert_uint_eq(member_records(st, ch->id), 150);
    /* each subscribe reaps a window of members: a few are enough */
    streamlog_sub *mine[20];
    int n = 0;
    while (n < 20 && member_records(st, ch->id) > (uint64_t)n)
        mine[n++] = su_subscribe(ch, NULL);
    ck_assert_msg(member_records(st, ch->id) == (uint64_t)n, "%llu member records left after %d subscribes",
                  (unsigned long long)member_records(st, ch->id), n);
    ck_assert_uint_eq(tu_stats(ch).subs, (uint64_t)n);
    for (int i = 0; i < n; i++)
        TU_OK(streamlog_sub_close(mine[i]));
    ck_assert_uint_eq(member_records(st, ch->id), 0);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

static Suite *subs_scale_suite(void)
{
    Suite *s = suite_create("subs-scale");
    TCase *tc = tu_tcase("scale", 300);
    tcase_add_test(tc, thousands_of_subscriptions_under_a_low_fd_limit);
    tcase_add_test(tc, sub_fd_out_of_descriptors_is_emfile);
    tcase_add_test(tc, subscribe_out_of_descriptors_is_emfile);
    tcase_add_test(tc, members_of_a_killed_process_are_dead_and_reaped);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    return tu_run(subs_scale_suite());
}
