/* Suite "syncpoint": SYNC_INTERVAL's sync points (lib/syncpoint.h).
 *
 * A process that commits under SYNC_INTERVAL is killed, and the store is
 * opened again either in the same boot (the page cache kept everything: all
 * must be there) or as the first process after a reboot (a test boot id):
 * the store must then be exactly its last sync point, whatever was
 * committed after it. The power-loss simulation (test/powerloss) checks the
 * same against real crash images; these tests pin down the rules around it:
 * which commits a reboot may undo, and which it must not. */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "syncpoint.h"
#include "test_util.h"

#define HOUR_MS 3600000 /* no periodic sync point during a test */

static streamlog_store *open_policy(int policy)
{
    return tu_open2(STREAMLOG_OPT_SYNC, policy, STREAMLOG_OPT_SYNC_INTERVAL_MS, HOUR_MS);
}

static uint64_t last_seq(streamlog_store *st, const char *name)
{
    streamlog_channel *ch = tu_chan(st, name, NULL);
    uint64_t last = tu_stats(ch).last_seq;
    streamlog_channel_close(ch);
    return last;
}

static void append_n(streamlog_store *st, const char *name, int n)
{
    streamlog_channel *ch = tu_chan(st, name, NULL);
    for (int i = 0; i < n; i++)
        tu_append_str(ch, "m");
    streamlog_channel_close(ch);
}

/* A child that appends `synced` messages under INTERVAL, syncs, appends
 * `unsynced` more and is killed without closing. */
static void interval_writer_killed(int synced, int unsynced)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        streamlog_store *st = open_policy(STREAMLOG_SYNC_INTERVAL);
        append_n(st, "c", synced);
        if (streamlog_sync(st) != STREAMLOG_OK)
            _exit(1);
        append_n(st, "c", unsynced);
        raise(SIGKILL);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

START_TEST(process_kill_keeps_every_commit)
{
    interval_writer_killed(5, 7);
    streamlog_store *st = open_policy(STREAMLOG_SYNC_INTERVAL);
    ck_assert_uint_eq(last_seq(st, "c"), 12);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(reboot_returns_to_the_last_sync_point)
{
    interval_writer_killed(5, 7);
    sl_syncpoint_test_boot_id("next-boot");
    streamlog_store *st = open_policy(_i ? STREAMLOG_SYNC_ALWAYS : STREAMLOG_SYNC_INTERVAL);
    ck_assert_uint_eq(last_seq(st, "c"), 5); /* the 7 after the sync are undone */
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    ck_assert_uint_eq(tu_append_str(ch, "after"), 6); /* numbering goes on from there */
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
    st = open_policy(STREAMLOG_SYNC_ALWAYS); /* the rollback happens once */
    ck_assert_uint_eq(last_seq(st, "c"), 6);
    TU_OK(streamlog_close(st));
}
END_TEST

/* A SYNC_ALWAYS append made while a SYNC_INTERVAL process has unsynced
 * commits is durable when it returns: a reboot must not undo it. */
START_TEST(always_commit_survives_the_rollback)
{
    int go[2], done[2];
    ck_assert_int_eq(pipe(go), 0);
    ck_assert_int_eq(pipe(done), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        streamlog_store *st = open_policy(STREAMLOG_SYNC_INTERVAL);
        append_n(st, "interval", 3);
        char b = 1;
        if (tu_write_full(done[1], &b, 1) != 0 || tu_read_full(go[0], &b, 1) != 0)
            _exit(1);
        append_n(st, "interval", 4); /* after the ALWAYS appends, never synced */
        raise(SIGKILL);
    }
    char b;
    ck_assert_int_eq(tu_read_full(done[0], &b, 1), 0);
    pid_t always = fork(); /* killed too: only its appends' own commits may record them */
    ck_assert_int_ge(always, 0);
    if (always == 0) {
        streamlog_store *st = open_policy(STREAMLOG_SYNC_ALWAYS);
        append_n(st, "always", 6);
        raise(SIGKILL);
    }
    int status;
    ck_assert_int_eq(waitpid(always, &status, 0), always);
    ck_assert(WIFSIGNALED(status));
    ck_assert_int_eq(tu_write_full(go[1], &b, 1), 0);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFSIGNALED(status));

    sl_syncpoint_test_boot_id("next-boot");
    streamlog_store *st = open_policy(STREAMLOG_SYNC_ALWAYS);
    ck_assert_uint_eq(last_seq(st, "always"), 6);
    /* the interval appends before the ALWAYS ones are kept with them; the
     * 4 unsynced ones after them are undone */
    ck_assert_uint_eq(last_seq(st, "interval"), 3);
    TU_OK(streamlog_close(st));
}
END_TEST

/* The last SYNC_INTERVAL process to close leaves every commit on disk and
 * its record no longer live, so SYNC_ALWAYS commits stop paying for sync
 * points and a reboot undoes nothing. */
START_TEST(clean_close_ends_the_live_record)
{
    /* a second INTERVAL process, forked before this one starts threads,
     * closes while this one is still open */
    int go[2];
    ck_assert_int_eq(pipe(go), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char b;
        if (tu_read_full(go[0], &b, 1) != 0)
            _exit(1);
        streamlog_store *other = open_policy(STREAMLOG_SYNC_INTERVAL);
        append_n(other, "c", 1);
        _exit(streamlog_close(other) == STREAMLOG_OK ? 0 : 1);
    }
    streamlog_store *a = open_policy(STREAMLOG_SYNC_INTERVAL);
    append_n(a, "c", 4);
    char b = 1;
    ck_assert_int_eq(tu_write_full(go[1], &b, 1), 0);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    struct sl_syncfile sf;
    int live;
    uint64_t txnid;
    TU_OK(sl_syncfile_open(tu_store, 0, &sf));
    ck_assert_int_ge(sf.fd, 0);
    TU_OK(sl_syncfile_live(&sf, &live, &txnid));
    ck_assert_int_eq(live, 1); /* the first process is still open */
    TU_OK(streamlog_close(a));
    TU_OK(sl_syncfile_live(&sf, &live, &txnid));
    ck_assert_int_eq(live, 0);
    sl_syncfile_close(&sf);

    sl_syncpoint_test_boot_id("next-boot");
    streamlog_store *st = open_policy(STREAMLOG_SYNC_ALWAYS);
    ck_assert_uint_eq(last_seq(st, "c"), 5);
    TU_OK(streamlog_close(st));
}
END_TEST

/* A read-only open after a reboot makes the rollback too (it may write the
 * file here), rather than read commits that may not be on disk. */
START_TEST(readonly_open_after_reboot_rolls_back)
{
    interval_writer_killed(2, 3);
    sl_syncpoint_test_boot_id("next-boot");
    streamlog_store *st = tu_open1(STREAMLOG_OPT_READONLY, 1);
    streamlog_channel *ch;
    TU_OK(streamlog_channel_open(st, "c", 0, NULL, &ch));
    streamlog_channel_stats s;
    TU_OK(streamlog_channel_get_stats(ch, &s));
    ck_assert_uint_eq(s.last_seq, 2);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

/* An INTERVAL store that sees no commits makes no sync points: its file is
 * not written while idle. */
START_TEST(idle_store_is_not_written)
{
    streamlog_store *st = tu_open2(STREAMLOG_OPT_SYNC, STREAMLOG_SYNC_INTERVAL, STREAMLOG_OPT_SYNC_INTERVAL_MS, 1);
    append_n(st, "c", 1);
    TU_OK(streamlog_sync(st));
    struct sl_syncfile sf;
    TU_OK(sl_syncfile_open(tu_store, 0, &sf));
    int live;
    uint64_t before, after;
    TU_OK(sl_syncfile_live(&sf, &live, &before));
    unsigned char meta[SL_META_BYTES];
    uint64_t t0, t1;
    TU_OK(sl_syncfile_read_meta(&sf, 0, meta, &t0));
    /* some 50 periods of the interval thread, measured rather than assumed */
    int64_t start = tu_mono_ms();
    while (tu_mono_ms() - start < 50)
        tu_sleep_ms(5);
    TU_OK(sl_syncfile_live(&sf, &live, &after));
    TU_OK(sl_syncfile_read_meta(&sf, 0, meta, &t1));
    ck_assert_uint_eq(before, after);
    ck_assert_uint_eq(t0, t1);
    sl_syncfile_close(&sf);
    TU_OK(streamlog_close(st));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("syncpoint");
    TCase *tc = tu_tcase("syncpoint", 0);
    tcase_add_test(tc, process_kill_keeps_every_commit);
    tcase_add_loop_test(tc, reboot_returns_to_the_last_sync_point, 0, 2);
    tcase_add_test(tc, always_commit_survives_the_rollback);
    tcase_add_test(tc, clean_close_ends_the_live_record);
    tcase_add_test(tc, readonly_open_after_reboot_rolls_back);
    tcase_add_test(tc, idle_store_is_not_written);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
