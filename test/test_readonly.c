/*
 * test_readonly.c - STREAMLOG_OPT_READONLY: reading a store without writing
 * it (also one this process may not write), beside a live writer, and the
 * EPERM code for every refused write and for file-system permission errors.
 */
#define _GNU_SOURCE
#include "test_util.h"

#include <errno.h>
#include <libgen.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static streamlog_opts *readonly_opts(void)
{
    streamlog_opts *o = NULL;
    TU_OK(streamlog_opts_new(&o));
    TU_OK(streamlog_opts_set_int(o, STREAMLOG_OPT_READONLY, 1));
    return o;
}

/* A store with channel "a" holding n messages "m1".."mn". */
static void make_store(int n)
{
    streamlog_store *st;
    streamlog_channel *ch;
    TU_OK(streamlog_open(tu_store, NULL, &st));
    TU_OK(streamlog_channel_open(st, "a", STREAMLOG_CREATE, NULL, &ch));
    for (int i = 1; i <= n; i++) {
        char buf[16];
        int len = snprintf(buf, sizeof buf, "m%d", i);
        TU_OK(streamlog_append(ch, buf, (size_t)len, NULL));
    }
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}

/* Iterate channel "a" from the first message; returns how many were read,
 * checking each payload. */
static int read_all(streamlog_store *st)
{
    streamlog_channel *ch;
    streamlog_iter *it;
    const streamlog_msg *m;
    int n = 0, rc;
    TU_OK(streamlog_channel_open(st, "a", 0, NULL, &ch));
    TU_OK(streamlog_iter_open(ch, STREAMLOG_START_FIRST, 0, &it));
    while ((rc = streamlog_iter_next(it, &m)) == STREAMLOG_OK) {
        char exp[16];
        int len = snprintf(exp, sizeof exp, "m%d", ++n);
        size_t got_len;
        const void *data = streamlog_msg_data(m, &got_len);
        ck_assert_uint_eq(got_len, (size_t)len);
        ck_assert(memcmp(data, exp, got_len) == 0);
        ck_assert_uint_eq(streamlog_msg_seq(m), (uint64_t)n);
    }
    TU_RC(rc, STREAMLOG_EAGAIN);
    streamlog_iter_close(it);
    streamlog_channel_close(ch);
    return n;
}

START_TEST(missing_store_is_not_created)
{
    streamlog_opts *o = readonly_opts();
    streamlog_store *st = NULL;
    TU_RC(streamlog_open(tu_store, o, &st), STREAMLOG_ENOTFOUND);
    struct stat sb;
    ck_assert_int_eq(stat(tu_store, &sb), -1);
    ck_assert_int_eq(mkdir(tu_store, 0755), 0); /* an empty directory holds no store either */
    TU_RC(streamlog_open(tu_store, o, &st), STREAMLOG_ENOTFOUND);
    ck_assert_ptr_null(st);
    streamlog_opts_free(o);
}
END_TEST

START_TEST(reads_work_and_writes_get_eperm)
{
    make_store(5);
    streamlog_opts *o = readonly_opts();
    streamlog_store *st;
    TU_OK(streamlog_open(tu_store, o, &st));
    streamlog_opts_free(o);
    ck_assert_int_eq(read_all(st), 5);

    char name[256];
    TU_OK(streamlog_channel_list_next(st, NULL, name, sizeof name));
    ck_assert_str_eq(name, "a");
    TU_RC(streamlog_channel_list_next(st, "a", name, sizeof name), STREAMLOG_ENOTFOUND);

    streamlog_channel *ch;
    TU_OK(streamlog_channel_open(st, "a", 0, NULL, &ch));
    streamlog_channel_stats cs;
    TU_OK(streamlog_channel_get_stats(ch, &cs));
    ck_assert_uint_eq(cs.msgs, 5);
    ck_assert_uint_eq(cs.last_seq, 5);
    streamlog_msg *copy;
    TU_OK(streamlog_get(ch, 3, &copy));
    ck_assert_uint_eq(streamlog_msg_seq(copy), 3);
    streamlog_msg_free(copy);

    /* every write is refused with EPERM and a message saying why */
    TU_RC(streamlog_append(ch, "x", 1, NULL), STREAMLOG_EPERM);
    ck_assert_ptr_nonnull(strstr(streamlog_errmsg(), "read-only"));
    const void *d[] = {"x"};
    size_t l[] = {1};
    TU_RC(streamlog_append_batch(ch, d, l, 1, NULL), STREAMLOG_EPERM);
    TU_RC(streamlog_append_expect(ch, "x", 1, 5, NULL), STREAMLOG_EPERM);
    streamlog_sub *sub;
    TU_RC(streamlog_subscribe(ch, NULL, &sub), STREAMLOG_EPERM);
    streamlog_channel *other;
    TU_RC(streamlog_channel_open(st, "b", STREAMLOG_CREATE, NULL, &other), STREAMLOG_EPERM);
    streamlog_opts *lim;
    TU_OK(streamlog_opts_new(&lim));
    TU_OK(streamlog_opts_set_int(lim, STREAMLOG_OPT_MAX_MSGS, 2));
    TU_RC(streamlog_channel_open(st, "a", 0, lim, &other), STREAMLOG_EPERM);
    streamlog_opts_free(lim);
    TU_RC(streamlog_channel_delete(st, "a"), STREAMLOG_EPERM);
    TU_RC(streamlog_sync(st), STREAMLOG_EPERM);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));

    /* nothing changed: a writer sees the same five messages */
    TU_OK(streamlog_open(tu_store, NULL, &st));
    ck_assert_int_eq(read_all(st), 5);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(readonly_value_is_checked)
{
    streamlog_opts *o;
    TU_OK(streamlog_opts_new(&o));
    TU_RC(streamlog_opts_set_int(o, STREAMLOG_OPT_READONLY, 2), STREAMLOG_EINVAL);
    TU_RC(streamlog_opts_set_int(o, STREAMLOG_OPT_READONLY, -1), STREAMLOG_EINVAL);
    TU_RC(streamlog_opts_set_str(o, STREAMLOG_OPT_READONLY, "1"), STREAMLOG_EINVAL);
    TU_OK(streamlog_opts_set_int(o, STREAMLOG_OPT_READONLY, 0));
    streamlog_store *st;
    TU_OK(streamlog_open(tu_store, o, &st)); /* 0: an ordinary open, creating the store */
    TU_OK(streamlog_close(st));
    streamlog_channel *ch = NULL;
    TU_OK(streamlog_opts_set_int(o, STREAMLOG_OPT_READONLY, 1));
    TU_OK(streamlog_open(tu_store, NULL, &st));
    TU_RC(streamlog_channel_open(st, "a", STREAMLOG_CREATE, o, &ch), STREAMLOG_EINVAL); /* a store key */
    TU_OK(streamlog_close(st));
    streamlog_opts_free(o);
}
END_TEST

/* Several read-only processes read a store while this process appends. */
START_TEST(readers_beside_a_live_writer)
{
    make_store(0);
    streamlog_store *st;
    streamlog_channel *ch;
    enum { READERS = 3, MSGS = 200 };
    int go[2];
    ck_assert_int_eq(pipe(go), 0);
    pid_t pids[READERS];
    for (int r = 0; r < READERS; r++) {
        pids[r] = fork();
        ck_assert_int_ge(pids[r], 0);
        if (pids[r] == 0) {
            /* a child opens the store itself (never the parent's handle) */
            streamlog_opts *o = readonly_opts();
            streamlog_store *rst;
            if (streamlog_open(tu_store, o, &rst))
                _exit(10);
            char c;
            if (read(go[0], &c, 1) != 1)
                _exit(11);
            /* read while the writer appends, then until all MSGS are seen */
            int n = 0;
            for (int tries = 0; tries < 100000 && n < MSGS; tries++) {
                n = read_all(rst);
                if (n < MSGS)
                    usleep(1000);
            }
            streamlog_close(rst);
            streamlog_opts_free(o);
            _exit(n == MSGS ? 0 : 13);
        }
    }
    /* opened after the fork: a child must not inherit an open store */
    TU_OK(streamlog_open(tu_store, NULL, &st));
    TU_OK(streamlog_channel_open(st, "a", 0, NULL, &ch));
    for (int r = 0; r < READERS; r++)
        ck_assert_int_eq(write(go[1], "g", 1), 1);
    for (int i = 1; i <= MSGS; i++) {
        char buf[16];
        int len = snprintf(buf, sizeof buf, "m%d", i);
        TU_OK(streamlog_append(ch, buf, (size_t)len, NULL));
    }
    for (int r = 0; r < READERS; r++) {
        int status;
        ck_assert_int_eq(waitpid(pids[r], &status, 0), pids[r]);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "reader %d: status %d", r, status);
    }
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

/* A store this process may not write at all (another user's, or read-only
 * files): read-only open reads it; a writable open fails with EPERM, not EIO. */
START_TEST(store_of_another_user)
{
    make_store(4);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (geteuid() == 0) {
            /* become nobody; the directories above the store must let it in */
            char parent[4096];
            snprintf(parent, sizeof parent, "%s", tu_dir);
            if (chmod(tu_dir, 0755) || chmod(dirname(parent), 0755) || setgid(65534) || setuid(65534))
                _exit(20);
        } else {
            char p[4300];
            snprintf(p, sizeof p, "%s/data.mdb", tu_store);
            chmod(p, 0444);
            snprintf(p, sizeof p, "%s/lock.mdb", tu_store);
            chmod(p, 0444);
            chmod(tu_store, 0555);
        }
        streamlog_store *st;
        int rc = streamlog_open(tu_store, NULL, &st);
        if (rc != STREAMLOG_EPERM) {
            fprintf(stderr, "writable open: %s %s\n", streamlog_errname(rc), streamlog_errmsg());
            _exit(21);
        }
        streamlog_opts *o = readonly_opts();
        rc = streamlog_open(tu_store, o, &st);
        if (rc) {
            fprintf(stderr, "read-only open: %s %s\n", streamlog_errname(rc), streamlog_errmsg());
            _exit(22);
        }
        int n = read_all(st);
        streamlog_close(st);
        streamlog_opts_free(o);
        _exit(n == 4 ? 0 : 23);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("readonly");
    TCase *tc = tu_tcase("readonly", 0);
    tcase_add_test(tc, missing_store_is_not_created);
    tcase_add_test(tc, reads_work_and_writes_get_eperm);
    tcase_add_test(tc, readonly_value_is_checked);
    tcase_add_test(tc, readers_beside_a_live_writer);
    tcase_add_test(tc, store_of_another_user);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
