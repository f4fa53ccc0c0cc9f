/*
 * test_diskfull.c - a store on a real, small file system that fills up: a
 * 6 MiB tmpfs and a 16 MiB loop-mounted ext4 image, mounted for each test
 * (needs root; what cannot be mounted is skipped with a message). A full disk is STREAMLOG_EFULL, never
 * EIO, and does not latch: reads keep working, deleting a channel frees
 * space for new appends, and the store opens again afterwards.
 */
#define _GNU_SOURCE
#include "test_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

enum { PAYLOAD = 4000 };

static char mnt[4096];

static void mount_point(void)
{
    tu_setup();
    ck_assert_int_lt(snprintf(mnt, sizeof mnt, "%.4000s/fs", tu_dir), (int)sizeof mnt);
    ck_assert_int_eq(mkdir(mnt, 0755), 0);
    snprintf(tu_store, sizeof tu_store, "%s/store", mnt);
}

static void tmpfs_setup(void)
{
    mount_point();
    ck_assert_msg(mount("tmpfs", mnt, "tmpfs", 0, "size=6m") == 0, "mount tmpfs: %s", strerror(errno));
}

/* mkfs.ext4 and mount -o loop on an image in dir; 0 when mounted. */
static int mount_ext4(const char *dir, const char *at)
{
    char cmd[10000];
    snprintf(cmd, sizeof cmd,
             "truncate -s 16M '%s/ext4.img' && mkfs.ext4 -q -F '%s/ext4.img' >/dev/null 2>&1 && "
             "mount -o loop '%s/ext4.img' '%s' 2>/dev/null",
             dir, dir, dir, at);
    return system(cmd);
}

static void ext4_setup(void)
{
    mount_point();
    ck_assert_msg(mount_ext4(tu_dir, mnt) == 0, "mkfs.ext4 and mount -o loop failed");
}

static void fs_teardown(void)
{
    umount2(mnt, MNT_DETACH);
    tu_teardown();
}

/* Append PAYLOAD-byte messages to ch until the first failure; returns it
 * and the count stored before it. */
static int fill(streamlog_channel *ch, uint64_t tag, uint64_t *stored)
{
    static unsigned char buf[PAYLOAD];
    for (uint64_t n = 0;; n++) {
        tu_fill(buf, sizeof buf, tag, n);
        int rc = streamlog_append(ch, buf, sizeof buf, NULL);
        if (rc) {
            *stored = n;
            return rc;
        }
        ck_assert_msg(n < 10000, "no failure after %llu appends to a small file system", (unsigned long long)n);
    }
}

static void expect_all(streamlog_channel *ch, uint64_t first_seq, uint64_t n, uint64_t tag)
{
    static unsigned char buf[PAYLOAD];
    for (uint64_t i = 0; i < n; i++) {
        tu_fill(buf, sizeof buf, tag, i);
        tu_expect_msg(ch, first_seq + i, buf, sizeof buf);
    }
}

static void disk_fills_then_recovers(int policy)
{
    streamlog_store *st = tu_open1(STREAMLOG_OPT_SYNC, policy);
    streamlog_channel *a = tu_chan(st, "a", NULL);
    uint64_t stored = 0;
    int rc = fill(a, 1, &stored);
    ck_assert_msg(rc == STREAMLOG_EFULL, "a full disk gave %s [%s], expected EFULL after %llu appends", tu_name(rc),
                  tu_errmsg_safe(), (unsigned long long)stored);
    ck_assert_uint_gt(stored, 100);
    /* not latched: reads work, and the failed append left nothing */
    expect_all(a, 1, stored, 1);
    streamlog_channel_stats s = tu_stats(a);
    ck_assert_uint_eq(s.last_seq, stored);
    /* deleting the channel frees its pages for new appends */
    streamlog_channel_close(a);
    TU_OK(streamlog_channel_delete(st, "a"));
    streamlog_channel *b = tu_chan(st, "b", NULL);
    static unsigned char buf[PAYLOAD];
    for (uint64_t i = 0; i < stored / 2; i++) {
        tu_fill(buf, sizeof buf, 2, i);
        TU_OK(streamlog_append(b, buf, sizeof buf, NULL));
    }
    streamlog_channel_close(b);
    TU_OK(streamlog_close(st));
    /* and the store opens again with exactly that */
    st = tu_open(NULL);
    TU_RC(streamlog_channel_open(st, "a", 0, NULL, &a), STREAMLOG_ENOTFOUND);
    b = tu_chan(st, "b", NULL);
    expect_all(b, 1, stored / 2, 2);
    streamlog_channel_close(b);
    TU_OK(streamlog_close(st));
}

START_TEST(disk_full_always)
{
    disk_fills_then_recovers(STREAMLOG_SYNC_ALWAYS);
}
END_TEST

START_TEST(disk_full_interval)
{
    disk_fills_then_recovers(STREAMLOG_SYNC_INTERVAL);
}
END_TEST

START_TEST(disk_full_none)
{
    disk_fills_then_recovers(STREAMLOG_SYNC_NONE);
}
END_TEST

/* A channel deleted while the disk is full is still deleted, and the store
 * opens even if purging its messages could not finish. */
START_TEST(delete_on_full_disk_then_reopen)
{
    streamlog_store *st = tu_open(NULL);
    streamlog_channel *a = tu_chan(st, "a", NULL);
    streamlog_channel *b = tu_chan(st, "b", NULL);
    static unsigned char buf[PAYLOAD];
    enum { B_MSGS = 300 };
    for (uint64_t i = 0; i < B_MSGS; i++) {
        tu_fill(buf, sizeof buf, 2, i);
        TU_OK(streamlog_append(b, buf, sizeof buf, NULL));
    }
    uint64_t stored_a = 0;
    TU_RC(fill(a, 1, &stored_a), STREAMLOG_EFULL);
    streamlog_channel_close(a);
    TU_OK(streamlog_channel_delete(st, "a"));
    streamlog_channel_close(b);
    TU_OK(streamlog_close(st));
    for (int i = 0; i < 3; i++) {
        st = tu_open(NULL);
        b = tu_chan(st, "b", NULL);
        expect_all(b, 1, B_MSGS, 2);
        streamlog_channel_close(b);
        TU_OK(streamlog_close(st));
    }
}
END_TEST

/* Which file systems this process can mount, probed once before any test. */
static void probe(int *tmpfs, int *ext4)
{
    char dir[] = "/tmp/streamlog-mount-probe-XXXXXX";
    *tmpfs = *ext4 = 0;
    if (!mkdtemp(dir))
        return;
    char at[sizeof dir + 4];
    snprintf(at, sizeof at, "%s/fs", dir);
    if (mkdir(at, 0755) == 0) {
        *tmpfs = mount("tmpfs", at, "tmpfs", 0, "size=1m") == 0;
        if (*tmpfs)
            umount2(at, MNT_DETACH);
        else
            fprintf(stderr, "test_diskfull: cannot mount a tmpfs (%s): run as root to test a full disk\n",
                    strerror(errno));
        *ext4 = *tmpfs && mount_ext4(dir, at) == 0;
        if (*ext4)
            umount2(at, MNT_DETACH);
        else if (*tmpfs)
            fprintf(stderr, "test_diskfull: cannot mount an ext4 image (mkfs.ext4, loop devices): ext4 skipped\n");
    }
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "test_diskfull: could not remove %s\n", dir);
}

static TCase *fs_case(const char *name, void (*setup)(void))
{
    TCase *tc = tcase_create(name);
    tcase_add_checked_fixture(tc, setup, fs_teardown);
    tcase_add_test(tc, disk_full_always);
    tcase_add_test(tc, disk_full_interval);
    tcase_add_test(tc, disk_full_none);
    tcase_add_test(tc, delete_on_full_disk_then_reopen);
    return tc;
}

int main(void)
{
    int tmpfs, ext4;
    probe(&tmpfs, &ext4);
    if (!tmpfs)
        return 77;
    Suite *s = suite_create("diskfull");
    suite_add_tcase(s, fs_case("tmpfs", tmpfs_setup));
    if (ext4)
        suite_add_tcase(s, fs_case("ext4", ext4_setup));
    return tu_run(s);
}
