/*
 * test_pipeline.c - pipelined appends (streamlog_pipe_*): results in ticket
 * order with the sequences the commit gave, bad input, the depth, errors
 * reported per append (channel deleted, EFULL, a failed commit latching the
 * store), close with appends in flight, ordering from several threads and
 * several processes, and the fd.
 *
 * Where a test needs appends that are not stored yet, a child process holds
 * LMDB's write lock of the store (a raw write transaction), so the commit
 * cannot happen until the test lets it: nothing depends on timing.
 */
#define _GNU_SOURCE
#include "test_util.h"

#include <lmdb.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "storage.h"

/* Take the next result, waiting as long as needed; fails unless one is taken. */
static int take(streamlog_pipe *p, uint64_t *ticket, uint64_t *seq)
{
    int rc = -100;
    TU_OK(streamlog_pipe_next(p, -1, ticket, &rc, seq, NULL));
    return rc;
}

static int fd_readable(int fd, int timeout_ms)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int n = poll(&pfd, 1, timeout_ms);
    ck_assert_int_ge(n, 0);
    return n == 1 && (pfd.revents & POLLIN);
}

/* ---- a child process that takes the store's write lock on command ----
 *
 * Forked before the test opens its store, while the test process has one
 * thread (a child of a multi-threaded process may not do much, least of
 * all under ThreadSanitizer); it opens LMDB's environment only when first
 * told to lock. */

struct lock_holder {
    pid_t pid;
    int cmd_fd, reply_fd;
};

static struct lock_holder spawn_lock_holder(void)
{
    int cmd[2], reply[2];
    ck_assert_int_eq(pipe(cmd), 0);
    ck_assert_int_eq(pipe(reply), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        MDB_env *env = NULL;
        MDB_txn *txn = NULL;
        char c;
        close(cmd[1]);
        close(reply[0]);
        while (read(cmd[0], &c, 1) == 1) {
            if (c == 'l') {
                int rc = 0;
                if (!env && ((rc = mdb_env_create(&env)) || (rc = mdb_env_set_maxdbs(env, 16)) ||
                             /* a small map: sanitizers leave little address space */
                             (rc = mdb_env_set_mapsize(env, (size_t)1 << 30)) ||
                             (rc = mdb_env_open(env, tu_store, MDB_NOTLS, 0644)))) {
                    fprintf(stderr, "lock holder: opening %s: %s\n", tu_store, mdb_strerror(rc));
                    _exit(1);
                }
                if ((rc = mdb_txn_begin(env, NULL, 0, &txn))) {
                    fprintf(stderr, "lock holder: write transaction: %s\n", mdb_strerror(rc));
                    _exit(2);
                }
            } else {
                mdb_txn_abort(txn);
            }
            if (write(reply[1], "r", 1) != 1)
                _exit(3);
        }
        if (env)
            mdb_env_close(env);
        _exit(0);
    }
    close(cmd[0]);
    close(reply[1]);
    return (struct lock_holder){pid, cmd[1], reply[0]};
}

static void holder_do(struct lock_holder *h, char c)
{
    ck_assert_int_eq(tu_write_full(h->cmd_fd, &c, 1), 0);
    ck_assert_int_eq(tu_read_full(h->reply_fd, &c, 1), 0);
}

/* The holder takes the write lock: no commit can happen until unlock. */
static void hold_write_lock(struct lock_holder *h)
{
    holder_do(h, 'l');
}

static void release_write_lock(struct lock_holder *h)
{
    holder_do(h, 'u');
}

static void end_lock_holder(struct lock_holder *h)
{
    close(h->cmd_fd);
    close(h->reply_fd);
    int status;
    ck_assert_int_eq(waitpid(h->pid, &status, 0), h->pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "lock holder failed: status %d", status);
}

/* ---- tests ---- */

START_TEST(results_in_ticket_order_with_sequences)
{
    streamlog_store *st = tu_open(NULL);
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    ck_assert_uint_eq(tu_append_str(ch, "before"), 1);
    streamlog_pipe *p;
    TU_OK(streamlog_pipe_open(st, 256, &p));
    unsigned char buf[300];
    uint64_t submitted = 0, taken = 0;
    while (taken < 1000) {
        uint64_t ticket = 0;
        size_t len = (size_t)(submitted * 37 % 300);
        tu_fill(buf, len, 3, submitted);
        int rc = submitted < 1000 ? streamlog_pipe_append(p, ch, NULL, NULL, 0, buf, len, &ticket) : STREAMLOG_EAGAIN;
        if (rc == STREAMLOG_OK) {
            ck_assert_uint_eq(ticket, ++submitted);
            continue;
        }
        TU_RC(rc, STREAMLOG_EAGAIN);
        uint64_t seq = 0;
        TU_OK(take(p, &ticket, &seq));
        taken++;
        ck_assert_uint_eq(ticket, taken);
        ck_assert_uint_eq(seq, taken + 1); /* "before" holds sequence 1 */
    }
    int rc;
    TU_RC(streamlog_pipe_next(p, 0, NULL, &rc, NULL, NULL), STREAMLOG_ENOTFOUND);
    TU_RC(streamlog_pipe_next(p, -1, NULL, &rc, NULL, NULL), STREAMLOG_ENOTFOUND);
    for (uint64_t i = 0; i < 1000; i++) {
        size_t len = (size_t)(i * 37 % 300);
        tu_fill(buf, len, 3, i);
        tu_expect_msg(ch, i + 2, buf, len);
    }
    ck_assert_uint_eq(tu_stats(ch).msgs, 1001);
    /* A synchronous append after the pipeline's follows them. */
    ck_assert_uint_eq(tu_append_str(ch, "after"), 1002);
    TU_RC(streamlog_close(st), STREAMLOG_EBUSY); /* the pipeline is a child of the store */
    ck_assert_msg(strstr(streamlog_errmsg(), "1 pipeline") != NULL, "close names the pipeline: %s",
                  streamlog_errmsg());
    TU_OK(streamlog_pipe_close(p));
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

START_TEST(bad_input)
{
    streamlog_store *st = tu_open1(STREAMLOG_OPT_MAX_PAYLOAD, 1000);
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    streamlog_pipe *p = NULL;
    TU_RC(streamlog_pipe_open(NULL, 8, &p), STREAMLOG_EINVAL);
    TU_RC(streamlog_pipe_open(st, 8, NULL), STREAMLOG_EINVAL);
    TU_RC(streamlog_pipe_open(st, 0, &p), STREAMLOG_EINVAL);
    ck_assert_str_ne(streamlog_errmsg(), "");
    TU_RC(streamlog_pipe_open(st, STREAMLOG_PIPE_DEPTH_MAX + 1, &p), STREAMLOG_EINVAL);
    ck_assert_ptr_null(p);
    TU_OK(streamlog_pipe_open(st, STREAMLOG_PIPE_DEPTH_MAX, &p));
    TU_OK(streamlog_pipe_close(p));
    TU_OK(streamlog_pipe_open(st, 8, &p));

    /* a channel of another store */
    char other_dir[4300];
    snprintf(other_dir, sizeof other_dir, "%s/other", tu_dir);
    streamlog_store *st2;
    TU_OK(streamlog_open(other_dir, NULL, &st2));
    streamlog_channel *ch2 = tu_chan(st2, "c", NULL);

    uint64_t ticket = 77;
    char big_id[260];
    memset(big_id, 'i', sizeof big_id - 1);
    big_id[sizeof big_id - 1] = '\0';
    static const char good_hdrs[] = "NATS/1.0\r\nA: b\r\n\r\n";
    static char payload[1001];
    TU_RC(streamlog_pipe_append(NULL, ch, NULL, NULL, 0, "x", 1, &ticket), STREAMLOG_EINVAL);
    TU_RC(streamlog_pipe_append(p, NULL, NULL, NULL, 0, "x", 1, &ticket), STREAMLOG_EINVAL);
    TU_RC(streamlog_pipe_append(p, ch2, NULL, NULL, 0, "x", 1, &ticket), STREAMLOG_EINVAL);
    TU_RC(streamlog_pipe_append(p, ch, NULL, NULL, 0, NULL, 1, &ticket), STREAMLOG_EINVAL);
    TU_RC(streamlog_pipe_append(p, ch, NULL, NULL, 5, "x", 1, &ticket), STREAMLOG_EINVAL);
    TU_RC(streamlog_pipe_append(p, ch, NULL, "bogus", 5, "x", 1, &ticket), STREAMLOG_EINVAL);
    TU_RC(streamlog_pipe_append(p, ch, "", NULL, 0, "x", 1, &ticket), STREAMLOG_EINVAL);
    TU_RC(streamlog_pipe_append(p, ch, big_id, NULL, 0, "x", 1, &ticket), STREAMLOG_EINVAL);
    TU_RC(streamlog_pipe_append(p, ch, NULL, NULL, 0, payload, 1001, &ticket), STREAMLOG_ELIMIT);
    TU_RC(streamlog_pipe_append(p, ch, NULL, good_hdrs, strlen(good_hdrs), payload, 1000, &ticket),
          STREAMLOG_ELIMIT);
    ck_assert_uint_eq(ticket, 77); /* outputs untouched on failure */

    int rc = 5;
    TU_RC(streamlog_pipe_next(NULL, 0, NULL, &rc, NULL, NULL), STREAMLOG_EINVAL);
    TU_RC(streamlog_pipe_next(p, 0, NULL, NULL, NULL, NULL), STREAMLOG_EINVAL);
    TU_RC(streamlog_pipe_next(p, -2, NULL, &rc, NULL, NULL), STREAMLOG_EINVAL);
    ck_assert_int_eq(rc, 5);
    TU_RC(streamlog_pipe_fd(NULL), STREAMLOG_EINVAL);
    TU_RC(streamlog_pipe_close(NULL), STREAMLOG_EINVAL);

    /* Failed submissions used no ticket; a zero-length payload may be NULL. */
    TU_OK(streamlog_pipe_append(p, ch, NULL, NULL, 0, NULL, 0, &ticket));
    ck_assert_uint_eq(ticket, 1);
    TU_OK(streamlog_pipe_append(p, ch, NULL, good_hdrs, strlen(good_hdrs), payload, 1000 - strlen(good_hdrs),
                                NULL));
    uint64_t seq;
    TU_OK(take(p, &ticket, &seq));
    ck_assert_uint_eq(ticket, 1);
    ck_assert_uint_eq(seq, 1);
    TU_OK(take(p, &ticket, &seq));
    ck_assert_uint_eq(ticket, 2);
    ck_assert_uint_eq(seq, 2);
    ck_assert_uint_eq(tu_stats(ch).msgs, 2);
    TU_OK(streamlog_pipe_close(p));

    streamlog_channel_close(ch2);
    TU_OK(streamlog_close(st2));
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));

    /* read-only store */
    streamlog_store *ro = tu_open1(STREAMLOG_OPT_READONLY, 1);
    p = NULL;
    TU_RC(streamlog_pipe_open(ro, 8, &p), STREAMLOG_EPERM);
    ck_assert_ptr_null(p);
    TU_OK(streamlog_close(ro));
}
END_TEST

START_TEST(depth_bounds_outstanding_appends)
{
    streamlog_store *st = tu_open(NULL);
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    streamlog_pipe *p;
    TU_OK(streamlog_pipe_open(st, 4, &p));
    for (int i = 0; i < 4; i++)
        TU_OK(streamlog_pipe_append(p, ch, NULL, NULL, 0, "x", 1, NULL));
    uint64_t ticket = 0;
    TU_RC(streamlog_pipe_append(p, ch, NULL, NULL, 0, "y", 1, &ticket), STREAMLOG_EAGAIN);
    ck_assert_uint_eq(ticket, 0);
    /* A result counts as outstanding until it is taken, stored or not. */
    uint64_t seq;
    TU_OK(take(p, &ticket, &seq));
    ck_assert_uint_eq(ticket, 1);
    TU_OK(streamlog_pipe_append(p, ch, NULL, NULL, 0, "z", 1, &ticket));
    ck_assert_uint_eq(ticket, 5);
    for (uint64_t t = 2; t <= 5; t++) {
        TU_OK(take(p, &ticket, &seq));
        ck_assert_uint_eq(ticket, t);
        ck_assert_uint_eq(seq, t);
    }
    tu_expect_msg(ch, 5, "z", 1);
    TU_OK(streamlog_pipe_close(p));
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

/* Not stored yet: EAGAIN, ETIMEDOUT, the fd not readable; then stored. */
START_TEST(fd_and_waiting)
{
    struct lock_holder h = spawn_lock_holder();
    streamlog_store *st = tu_open(NULL);
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    streamlog_pipe *p;
    TU_OK(streamlog_pipe_open(st, 64, &p));
    int fd = streamlog_pipe_fd(p);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(streamlog_pipe_fd(p), fd);
    ck_assert(!fd_readable(fd, 0));

    hold_write_lock(&h);
    for (int i = 0; i < 10; i++)
        TU_OK(streamlog_pipe_append(p, ch, NULL, NULL, 0, "m", 1, NULL));
    int rc = 99;
    uint64_t ticket = 99, seq = 99;
    TU_RC(streamlog_pipe_next(p, 0, &ticket, &rc, &seq, NULL), STREAMLOG_EAGAIN);
    TU_RC(streamlog_pipe_next(p, 20, &ticket, &rc, &seq, NULL), STREAMLOG_ETIMEDOUT);
    ck_assert_int_eq(rc, 99);
    ck_assert_uint_eq(ticket, 99);
    ck_assert(!fd_readable(fd, 0));
    /* Not stored: another reader sees nothing yet. */
    ck_assert_uint_eq(tu_stats(ch).msgs, 0);
    release_write_lock(&h);

    ck_assert_msg(fd_readable(fd, 60000), "the fd did not become readable once the appends were stored");
    uint64_t n = 0;
    for (;;) {
        int r = streamlog_pipe_next(p, 0, &ticket, &rc, &seq, NULL);
        if (r == STREAMLOG_EAGAIN) { /* stored in more than one commit: wait for the fd again */
            ck_assert(fd_readable(fd, 60000));
            continue;
        }
        if (r == STREAMLOG_ENOTFOUND)
            break;
        TU_OK(r);
        TU_OK(rc);
        n++;
        ck_assert_uint_eq(ticket, n);
        ck_assert_uint_eq(seq, n);
        /* A result is only given once its append is stored. */
        ck_assert_uint_ge(tu_stats(ch).last_seq, seq);
    }
    ck_assert_uint_eq(n, 10);
    ck_assert(!fd_readable(fd, 0)); /* nothing left to take */
    TU_OK(streamlog_pipe_close(p));
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
    end_lock_holder(&h);
}
END_TEST

struct closer {
    streamlog_pipe *p;
    int rc;
};

static void *close_main(void *arg)
{
    struct closer *c = arg;
    c->rc = streamlog_pipe_close(c->p);
    return NULL;
}

/* Close with appends in flight waits until they are stored; results not
 * taken are discarded (ASan sees no leak). The channel handle may be
 * closed right after submitting. */
START_TEST(close_with_appends_in_flight)
{
    struct lock_holder h = spawn_lock_holder();
    streamlog_store *st = tu_open(NULL);
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    streamlog_pipe *p;
    TU_OK(streamlog_pipe_open(st, 1000, &p));
    hold_write_lock(&h);
    unsigned char buf[100];
    for (uint64_t i = 0; i < 500; i++) {
        tu_fill(buf, sizeof buf, 9, i);
        TU_OK(streamlog_pipe_append(p, ch, NULL, NULL, 0, buf, sizeof buf, NULL));
    }
    streamlog_channel_close(ch);
    struct closer c = {p, -100};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, close_main, &c), 0);
    release_write_lock(&h);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    TU_OK(c.rc);
    ch = tu_chan(st, "c", NULL);
    ck_assert_uint_eq(tu_stats(ch).msgs, 500);
    for (uint64_t i = 0; i < 500; i++) {
        tu_fill(buf, sizeof buf, 9, i);
        tu_expect_msg(ch, i + 1, buf, sizeof buf);
    }
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
    end_lock_holder(&h);
}
END_TEST

/* Appends to a deleted channel fail with ECLOSED in their own results. */
START_TEST(deleted_channel_reported_per_append)
{
    struct lock_holder h = spawn_lock_holder();
    streamlog_store *st = tu_open(NULL);
    streamlog_channel *a = tu_chan(st, "a", NULL);
    streamlog_channel *b = tu_chan(st, "b", NULL);
    streamlog_pipe *p;
    TU_OK(streamlog_pipe_open(st, 16, &p));
    hold_write_lock(&h);
    TU_OK(streamlog_pipe_append(p, a, NULL, NULL, 0, "a1", 2, NULL));
    TU_OK(streamlog_pipe_append(p, b, NULL, NULL, 0, "b1", 2, NULL));
    TU_OK(streamlog_pipe_append(p, a, NULL, NULL, 0, "a2", 2, NULL));
    release_write_lock(&h);
    TU_OK(streamlog_channel_delete(st, "b"));
    TU_OK(streamlog_pipe_append(p, b, NULL, NULL, 0, "b2", 2, NULL));
    TU_OK(streamlog_pipe_append(p, a, NULL, NULL, 0, "a3", 2, NULL));
    uint64_t ticket, seq;
    /* b1 may or may not have been stored before the deletion. */
    TU_OK(take(p, &ticket, &seq));
    ck_assert_uint_eq(seq, 1);
    int rc = take(p, &ticket, &seq);
    TU_RC2(rc, STREAMLOG_OK, STREAMLOG_ECLOSED);
    TU_OK(take(p, &ticket, &seq));
    ck_assert_uint_eq(seq, 2);
    TU_RC(take(p, &ticket, &seq), STREAMLOG_ECLOSED);
    ck_assert_uint_eq(ticket, 4);
    ck_assert_uint_eq(seq, 0);
    ck_assert_msg(strstr(streamlog_errmsg(), "b") != NULL, "errmsg \"%s\" does not name the channel",
                  streamlog_errmsg());
    TU_OK(take(p, &ticket, &seq));
    ck_assert_uint_eq(ticket, 5);
    ck_assert_uint_eq(seq, 3);
    tu_expect_msg(a, 3, "a3", 2);
    TU_OK(streamlog_pipe_close(p));
    streamlog_channel_close(a);
    streamlog_channel_close(b);
    TU_OK(streamlog_close(st));
    end_lock_holder(&h);
}
END_TEST

/* A full store fails some appends with EFULL, each in its own result; the
 * others are stored with increasing sequences. */
START_TEST(efull_reported_per_append)
{
    struct lock_holder h = spawn_lock_holder();
    enum { N = 400, LEN = 4000 };
    streamlog_store *st = tu_open2(STREAMLOG_OPT_MAX_STORE_BYTES, 1 << 20, STREAMLOG_OPT_SYNC, STREAMLOG_SYNC_NONE);
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    streamlog_pipe *p;
    TU_OK(streamlog_pipe_open(st, N, &p));
    static unsigned char buf[LEN];
    hold_write_lock(&h); /* so that they share batches */
    for (uint64_t i = 0; i < N; i++) {
        tu_fill(buf, LEN, 4, i);
        TU_OK(streamlog_pipe_append(p, ch, NULL, NULL, 0, buf, LEN, NULL));
    }
    release_write_lock(&h);
    uint64_t ok = 0, full = 0, last_seq = 0;
    for (uint64_t i = 0; i < N; i++) {
        uint64_t ticket, seq;
        int rc = take(p, &ticket, &seq);
        ck_assert_uint_eq(ticket, i + 1);
        if (rc == STREAMLOG_OK) {
            ck_assert_uint_gt(seq, last_seq);
            last_seq = seq;
            tu_fill(buf, LEN, 4, i);
            tu_expect_msg(ch, seq, buf, LEN);
            ok++;
        } else {
            TU_RC(rc, STREAMLOG_EFULL);
            ck_assert_uint_eq(seq, 0);
            full++;
        }
    }
    ck_assert_uint_gt(ok, 0);
    ck_assert_uint_gt(full, 0);
    streamlog_channel_stats s = tu_stats(ch);
    ck_assert_uint_eq(s.msgs, ok);
    ck_assert_uint_eq(s.last_seq, last_seq);
    TU_OK(streamlog_pipe_close(p));
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
    end_lock_holder(&h);
}
END_TEST

/* A failed commit latches the store: its appends and every later one fail
 * with EIO, none is reported stored; submitting then fails at once. */
START_TEST(failed_commit_reported_and_latched)
{
    struct lock_holder h = spawn_lock_holder();
    streamlog_store *st = tu_open(NULL);
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    ck_assert_uint_eq(tu_append_str(ch, "kept"), 1);
    streamlog_pipe *p;
    TU_OK(streamlog_pipe_open(st, 64, &p));
    hold_write_lock(&h); /* one batch: the failing commit */
    for (int i = 0; i < 20; i++)
        TU_OK(streamlog_pipe_append(p, ch, NULL, NULL, 0, "lost", 4, NULL));
    sl_storage_fail_commit_after(0);
    release_write_lock(&h);
    for (int i = 0; i < 20; i++) {
        uint64_t ticket, seq = 7;
        TU_RC(take(p, &ticket, &seq), STREAMLOG_EIO);
        ck_assert_uint_eq(seq, 0);
    }
    TU_RC(streamlog_pipe_append(p, ch, NULL, NULL, 0, "later", 5, NULL), STREAMLOG_EIO);
    int rc;
    TU_RC(streamlog_pipe_next(p, 0, NULL, &rc, NULL, NULL), STREAMLOG_ENOTFOUND);
    TU_OK(streamlog_pipe_close(p));
    streamlog_channel_close(ch);
    TU_RC(streamlog_close(st), STREAMLOG_EIO); /* the handle is freed all the same */
    st = tu_open(NULL);
    ch = tu_chan(st, "c", NULL);
    ck_assert_uint_eq(tu_stats(ch).msgs, 1);
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
    end_lock_holder(&h);
}
END_TEST

START_TEST(headers_and_message_ids)
{
    streamlog_store *st = tu_open(NULL);
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    streamlog_pipe *p;
    TU_OK(streamlog_pipe_open(st, 8, &p));
    static const char hdrs[] = "NATS/1.0\r\nEvent: created\r\n\r\n";
    TU_OK(streamlog_pipe_append(p, ch, "id-1", hdrs, strlen(hdrs), "one", 3, NULL));
    TU_OK(streamlog_pipe_append(p, ch, "id-2", NULL, 0, "two", 3, NULL));
    TU_OK(streamlog_pipe_append(p, ch, "id-1", NULL, 0, "again", 5, NULL));
    uint64_t ticket, seq;
    int rc, dup = 5;
    TU_OK(streamlog_pipe_next(p, -1, &ticket, &rc, &seq, &dup));
    TU_OK(rc);
    ck_assert_uint_eq(seq, 1);
    ck_assert_int_eq(dup, 0);
    TU_OK(streamlog_pipe_next(p, -1, &ticket, &rc, &seq, &dup));
    ck_assert_uint_eq(seq, 2);
    ck_assert_int_eq(dup, 0);
    TU_OK(streamlog_pipe_next(p, -1, &ticket, &rc, &seq, &dup));
    TU_OK(rc);
    ck_assert_uint_eq(ticket, 3);
    ck_assert_uint_eq(seq, 1);
    ck_assert_int_eq(dup, 1);
    ck_assert_uint_eq(tu_stats(ch).msgs, 2);
    /* the synchronous idempotent append sees the pipeline's id */
    TU_OK(streamlog_append_once(ch, "id-2", NULL, 0, "x", 1, &seq, &dup));
    ck_assert_uint_eq(seq, 2);
    ck_assert_int_eq(dup, 1);

    tu_expect_header_at(ch, 1, "event", "created");
    TU_OK(streamlog_pipe_close(p));
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

/* ---- several threads ---- */

enum { SUBMITTERS = 4, PER_THREAD = 300, SYNC_APPENDS = 100 };

struct mt {
    streamlog_pipe *p;
    streamlog_channel *ch[2];
    int index;
};

/* payload: thread index, per-thread counter */
static void *submit_main(void *arg)
{
    struct mt *m = arg;
    for (uint32_t i = 0; i < PER_THREAD; i++) {
        uint32_t rec[2] = {(uint32_t)m->index, i};
        int rc;
        while ((rc = streamlog_pipe_append(m->p, m->ch[i % 2], NULL, NULL, 0, rec, sizeof rec, NULL)) ==
               STREAMLOG_EAGAIN)
            sched_yield(); /* the taker thread frees room */
        if (rc)
            return (void *)(intptr_t)rc;
    }
    return NULL;
}

static void *sync_main(void *arg)
{
    struct mt *m = arg;
    for (uint32_t i = 0; i < SYNC_APPENDS; i++) {
        uint32_t rec[2] = {(uint32_t)m->index, i};
        int rc = streamlog_append(m->ch[i % 2], rec, sizeof rec, NULL);
        if (rc)
            return (void *)(intptr_t)rc;
    }
    return NULL;
}

struct taker {
    streamlog_pipe *p;
    uint64_t n, bad, last_ticket;
};

static void *take_main(void *arg)
{
    struct taker *t = arg;
    for (uint64_t i = 0; i < t->n;) {
        int rc;
        uint64_t ticket;
        int r = streamlog_pipe_next(t->p, -1, &ticket, &rc, NULL, NULL);
        if (r == STREAMLOG_ENOTFOUND) { /* the submitters have not caught up */
            sched_yield();
            continue;
        }
        if (r || rc || ticket != t->last_ticket + 1)
            t->bad++;
        t->last_ticket = ticket;
        i++;
    }
    return NULL;
}

/* Several threads submit to one pipeline (two channels) while another takes
 * the results and a third appends synchronously: everything is stored once,
 * and each thread's appends to a channel have increasing sequences in the
 * order it submitted them. */
START_TEST(threads_share_a_pipeline)
{
    streamlog_store *st = tu_open(NULL);
    streamlog_pipe *p;
    TU_OK(streamlog_pipe_open(st, 64, &p));
    struct mt m[SUBMITTERS + 1];
    pthread_t t[SUBMITTERS + 2];
    streamlog_channel *chs[2] = {tu_chan(st, "c0", NULL), tu_chan(st, "c1", NULL)};
    struct taker tk = {p, (uint64_t)SUBMITTERS * PER_THREAD, 0, 0};
    ck_assert_int_eq(pthread_create(&t[SUBMITTERS + 1], NULL, take_main, &tk), 0);
    for (int i = 0; i <= SUBMITTERS; i++) {
        m[i] = (struct mt){p, {chs[0], chs[1]}, i};
        ck_assert_int_eq(pthread_create(&t[i], NULL, i < SUBMITTERS ? submit_main : sync_main, &m[i]), 0);
    }
    for (int i = 0; i <= SUBMITTERS + 1; i++) {
        void *ret;
        ck_assert_int_eq(pthread_join(t[i], &ret), 0);
        ck_assert_msg(ret == NULL, "thread %d: %s", i, tu_name((int)(intptr_t)ret));
    }
    ck_assert_uint_eq(tk.bad, 0);
    ck_assert_uint_eq(tk.last_ticket, (uint64_t)SUBMITTERS * PER_THREAD);

    for (int c = 0; c < 2; c++) {
        int64_t next[SUBMITTERS + 1];
        for (int i = 0; i <= SUBMITTERS; i++)
            next[i] = c;
        streamlog_iter *it;
        const streamlog_msg *msg;
        TU_OK(streamlog_iter_open(chs[c], STREAMLOG_START_FIRST, 0, &it));
        uint64_t n = 0;
        while (streamlog_iter_next(it, &msg) == STREAMLOG_OK) {
            size_t len;
            const uint32_t *rec = streamlog_msg_data(msg, &len);
            ck_assert_uint_eq(len, 8);
            ck_assert_uint_le(rec[0], SUBMITTERS);
            ck_assert_int_eq(rec[1], next[rec[0]]); /* in submission order, nothing twice or lost */
            next[rec[0]] += 2;
            n++;
        }
        streamlog_iter_close(it);
        ck_assert_uint_eq(n, (SUBMITTERS * PER_THREAD + SYNC_APPENDS) / 2);
        streamlog_channel_close(chs[c]);
    }
    TU_OK(streamlog_pipe_close(p));
    TU_OK(streamlog_close(st));
}
END_TEST

/* ---- several processes ---- */

enum { PROCS = 3, PER_PROC = 400 };

/* In a child: open the store, append PER_PROC through a pipeline of depth
 * 32; exit 0 when every result was OK with sequences increasing by ticket. */
static int child_appends(int index)
{
    streamlog_store *st;
    streamlog_channel *ch;
    streamlog_pipe *p;
    if (streamlog_open(tu_store, NULL, &st) || streamlog_channel_open(st, "c", STREAMLOG_CREATE, NULL, &ch) ||
        streamlog_pipe_open(st, 32, &p))
        return 10;
    uint64_t submitted = 0, taken = 0, last_seq = 0;
    while (taken < PER_PROC) {
        uint32_t rec[2] = {(uint32_t)index, (uint32_t)submitted};
        int rc = submitted < PER_PROC ? streamlog_pipe_append(p, ch, NULL, NULL, 0, rec, sizeof rec, NULL)
                                      : STREAMLOG_EAGAIN;
        if (rc == STREAMLOG_OK) {
            submitted++;
            continue;
        }
        if (rc != STREAMLOG_EAGAIN)
            return 11;
        uint64_t ticket, seq;
        int arc;
        if (streamlog_pipe_next(p, -1, &ticket, &arc, &seq, NULL) || arc || ticket != taken + 1 || seq <= last_seq)
            return 12;
        last_seq = seq;
        taken++;
    }
    if (streamlog_pipe_close(p))
        return 13;
    streamlog_channel_close(ch);
    return streamlog_close(st) ? 14 : 0;
}

START_TEST(processes_pipeline_into_one_channel)
{
    pid_t pids[PROCS];
    for (int i = 0; i < PROCS; i++) {
        pids[i] = fork();
        ck_assert_int_ge(pids[i], 0);
        if (pids[i] == 0)
            _exit(child_appends(i));
    }
    for (int i = 0; i < PROCS; i++) {
        int status;
        ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d: status %d", i, status);
    }
    streamlog_store *st = tu_open(NULL);
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    streamlog_channel_stats s = tu_stats(ch);
    ck_assert_uint_eq(s.msgs, PROCS * PER_PROC);
    ck_assert_uint_eq(s.last_seq, PROCS * PER_PROC);
    uint32_t next[PROCS] = {0};
    for (uint64_t seq = 1; seq <= s.last_seq; seq++) {
        streamlog_msg *m;
        TU_OK(streamlog_get(ch, seq, &m));
        size_t len;
        const uint32_t *rec = streamlog_msg_data(m, &len);
        ck_assert_uint_eq(len, 8);
        ck_assert_uint_lt(rec[0], PROCS);
        ck_assert_uint_eq(rec[1], next[rec[0]]);
        next[rec[0]]++;
        streamlog_msg_free(m);
    }
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

/* Every sync policy: results come, and the messages are there. */
START_TEST(every_sync_policy)
{
    static const int policies[] = {STREAMLOG_SYNC_ALWAYS, STREAMLOG_SYNC_INTERVAL, STREAMLOG_SYNC_NONE};
    for (int k = 0; k < 3; k++) {
        streamlog_store *st = tu_open1(STREAMLOG_OPT_SYNC, policies[k]);
        char name[16];
        snprintf(name, sizeof name, "c%d", k);
        streamlog_channel *ch = tu_chan(st, name, NULL);
        streamlog_pipe *p;
        TU_OK(streamlog_pipe_open(st, 100, &p));
        for (int i = 0; i < 100; i++)
            TU_OK(streamlog_pipe_append(p, ch, NULL, NULL, 0, "x", 1, NULL));
        for (uint64_t i = 1; i <= 100; i++) {
            uint64_t ticket, seq;
            TU_OK(take(p, &ticket, &seq));
            ck_assert_uint_eq(seq, i);
        }
        TU_OK(streamlog_pipe_close(p));
        ck_assert_uint_eq(tu_stats(ch).msgs, 100);
        streamlog_channel_close(ch);
        TU_OK(streamlog_close(st));
    }
}
END_TEST

/* Allocation failure at each allocation of open, append and close: ENOMEM,
 * nothing submitted, nothing leaked (ASan), and the pipeline goes on. */
START_TEST(out_of_memory)
{
    streamlog_store *st = tu_open(NULL);
    streamlog_channel *ch = tu_chan(st, "c", NULL);
    streamlog_pipe *p = NULL;
    int rc, opened = 0;
    for (long k = 0; k < 50 && !opened; k++) {
        sl_alloc_fail_after(k, 0);
        rc = streamlog_pipe_open(st, 8, &p);
        sl_alloc_fail_after(-1, 0);
        if (rc == STREAMLOG_OK)
            opened = 1;
        else
            TU_RC(rc, STREAMLOG_ENOMEM);
    }
    ck_assert(opened);
    uint64_t submitted = 0;
    for (long k = 0; k < 5; k++) {
        sl_alloc_fail_after(k, 0);
        rc = streamlog_pipe_append(p, ch, NULL, NULL, 0, "x", 1, NULL);
        sl_alloc_fail_after(-1, 0);
        if (rc == STREAMLOG_OK)
            submitted++;
        else
            TU_RC(rc, STREAMLOG_ENOMEM);
    }
    ck_assert_uint_ge(submitted, 1);
    for (uint64_t i = 1; i <= submitted; i++) {
        uint64_t ticket, seq;
        TU_OK(take(p, &ticket, &seq));
        ck_assert_uint_eq(ticket, i);
        ck_assert_uint_eq(seq, i);
    }
    ck_assert_uint_eq(tu_stats(ch).msgs, submitted);
    TU_OK(streamlog_pipe_close(p));
    streamlog_channel_close(ch);
    TU_OK(streamlog_close(st));
}
END_TEST

/* A process killed with appends in flight: every append whose result it
 * had reported as stored is in the store, intact, at the sequence reported
 * (a result is never given before the commit); the rest may be lost. */
static void killed_child(int round, int report_fd)
{
    streamlog_store *st;
    streamlog_channel *ch;
    streamlog_pipe *p;
    if (streamlog_open(tu_store, NULL, &st) || streamlog_channel_open(st, "c", STREAMLOG_CREATE, NULL, &ch) ||
        streamlog_pipe_open(st, 128, &p))
        _exit(10);
    for (uint32_t i = 0;;) {
        uint32_t rec[2] = {(uint32_t)round, i};
        int rc = streamlog_pipe_append(p, ch, NULL, NULL, 0, rec, sizeof rec, NULL);
        if (rc == STREAMLOG_OK) {
            i++;
            continue;
        }
        if (rc != STREAMLOG_EAGAIN)
            _exit(11);
        uint64_t ticket, seq;
        int arc;
        if (streamlog_pipe_next(p, -1, &ticket, &arc, &seq, NULL) || arc)
            _exit(12);
        uint64_t report[2] = {ticket - 1, seq}; /* ticket - 1 is the index it submitted */
        if (tu_write_full(report_fd, report, sizeof report))
            _exit(13);
    }
}

START_TEST(killed_process_keeps_every_reported_append)
{
    for (int round = 0; round < 4; round++) {
        int fds[2];
        ck_assert_int_eq(pipe(fds), 0);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            close(fds[0]);
            killed_child(round, fds[1]);
        }
        close(fds[1]);
        uint64_t (*reported)[2] = malloc(sizeof *reported * 100000);
        ck_assert_ptr_nonnull(reported);
        size_t n = 0, kill_after = 300 + 200 * (size_t)round;
        while (n < 100000 && tu_read_full(fds[0], reported[n], sizeof reported[n]) == 0)
            if (++n == kill_after)
                kill(pid, SIGKILL);
        close(fds[0]);
        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "child ended otherwise: status %d",
                      status);
        ck_assert_uint_ge(n, kill_after);

        streamlog_store *st = tu_open(NULL);
        streamlog_channel *ch = tu_chan(st, "c", NULL);
        for (size_t k = 0; k < n; k++) {
            ck_assert_uint_eq(reported[k][0], k); /* results in submission order */
            streamlog_msg *m;
            TU_OK(streamlog_get(ch, reported[k][1], &m));
            size_t len;
            const uint32_t *rec = streamlog_msg_data(m, &len);
            ck_assert_uint_eq(len, 8);
            ck_assert_uint_eq(rec[0], (uint32_t)round);
            ck_assert_uint_eq(rec[1], (uint32_t)k);
            streamlog_msg_free(m);
        }
        streamlog_channel_close(ch);
        TU_OK(streamlog_close(st));
        free(reported);
    }
}
END_TEST

static Suite *pipeline_suite(void)
{
    Suite *s = suite_create("pipeline");
    TCase *tc = tu_tcase("pipeline", 0);
    tcase_add_test(tc, results_in_ticket_order_with_sequences);
    tcase_add_test(tc, bad_input);
    tcase_add_test(tc, depth_bounds_outstanding_appends);
    tcase_add_test(tc, fd_and_waiting);
    tcase_add_test(tc, close_with_appends_in_flight);
    tcase_add_test(tc, deleted_channel_reported_per_append);
    tcase_add_test(tc, efull_reported_per_append);
    tcase_add_test(tc, failed_commit_reported_and_latched);
    tcase_add_test(tc, headers_and_message_ids);
    tcase_add_test(tc, threads_share_a_pipeline);
    tcase_add_test(tc, processes_pipeline_into_one_channel);
    tcase_add_test(tc, every_sync_policy);
    tcase_add_test(tc, out_of_memory);
    tcase_add_test(tc, killed_process_keeps_every_reported_append);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(pipeline_suite());
}
