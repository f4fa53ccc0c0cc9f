/*
 * engine_streamlog.c - the benchmark's workloads through libstreamlog's
 * public API, one store per directory and one channel "bench" in it.
 */
#include "bench.h"

#include <stdlib.h>

#include <streamlog.h>

typedef struct sl_db {
    streamlog_store   *st;
    streamlog_channel *ch;
} sl_db;

static void check(int rc, const char *what)
{
    if (rc != STREAMLOG_OK)
        die("streamlog: %s: %s (%s)", what, streamlog_strerror(rc), streamlog_errmsg());
}

static void *sl_open(const char *dir, int durable)
{
    sl_db *db = calloc(1, sizeof *db);
    streamlog_opts *opts;

    if (!db)
        die("out of memory");
    check(streamlog_opts_new(&opts), "opts_new");
    check(streamlog_opts_set_int(opts, STREAMLOG_OPT_SYNC,
                                 durable == DURABLE_FULL   ? STREAMLOG_SYNC_ALWAYS
                                 : durable == DURABLE_LAZY ? STREAMLOG_SYNC_INTERVAL
                                                           : STREAMLOG_SYNC_NONE),
          "opts_set_int SYNC");
    check(streamlog_open(dir, opts, &db->st), "open");
    streamlog_opts_free(opts);
    check(streamlog_channel_open(db->st, "bench", STREAMLOG_CREATE, NULL, &db->ch),
          "channel_open");
    return db;
}

static void sl_close(void *p)
{
    sl_db *db = p;
    streamlog_channel_close(db->ch);
    check(streamlog_close(db->st), "close");
    free(db);
}

static void sl_append(void *p, const void *data, size_t len)
{
    sl_db *db = p;
    check(streamlog_append(db->ch, data, len, NULL), "append");
}

static void sl_append_batch(void *p, const void *const *data, const size_t *lens, size_t n)
{
    sl_db *db = p;
    check(streamlog_append_batch(db->ch, data, lens, n, NULL), "append_batch");
}

/* The channel handle is thread-safe: every thread appends through it. */
static void *sl_writer_open(void *p)
{
    return p;
}

static void sl_writer_close(void *w)
{
    (void)w;
}

static uint64_t sl_scan(void *p, uint64_t *sum)
{
    sl_db *db = p;
    streamlog_iter *it;
    const streamlog_msg *m;
    uint64_t count = 0;
    int rc;

    check(streamlog_iter_open(db->ch, STREAMLOG_START_FIRST, 0, &it), "iter_open FIRST");
    while ((rc = streamlog_iter_next(it, &m)) == STREAMLOG_OK) {
        size_t len;
        const unsigned char *d = streamlog_msg_data(m, &len);
        *sum += streamlog_msg_seq(m) + len + (len ? d[0] + d[len - 1] : 0);
        count++;
    }
    if (rc != STREAMLOG_EAGAIN)
        check(rc, "iter_next");
    streamlog_iter_close(it);
    return count;
}

static int64_t first_time_at(sl_db *db, int start)
{
    streamlog_iter *it;
    const streamlog_msg *m;
    int64_t t;

    check(streamlog_iter_open(db->ch, start, 0, &it), "iter_open");
    check(streamlog_iter_next(it, &m), "iter_next");
    t = streamlog_msg_time(m);
    streamlog_iter_close(it);
    return t;
}

static void sl_time_range(void *p, int64_t *first, int64_t *last)
{
    sl_db *db = p;
    *first = first_time_at(db, STREAMLOG_START_FIRST);
    *last = first_time_at(db, STREAMLOG_START_LAST_RECEIVED);
}

static void *sl_seek_open(void *p, int64_t t, int64_t *found)
{
    sl_db *db = p;
    streamlog_iter *it;
    const streamlog_msg *m;
    int rc;

    check(streamlog_iter_open(db->ch, STREAMLOG_START_TIME, t, &it), "iter_open TIME");
    rc = streamlog_iter_next(it, &m);
    if (rc == STREAMLOG_EAGAIN)
        *found = -1;
    else {
        check(rc, "iter_next after seek");
        *found = streamlog_msg_time(m);
    }
    return it;
}

static void sl_seek_close(void *p, void *s)
{
    (void)p;
    streamlog_iter_close(s);
}

const engine engine_streamlog = {
    .name = "streamlog",
    .open = sl_open,
    .close = sl_close,
    .append = sl_append,
    .append_batch = sl_append_batch,
    .writer_open = sl_writer_open,
    .writer_append = sl_append,
    .writer_close = sl_writer_close,
    .scan = sl_scan,
    .time_range = sl_time_range,
    .seek_open = sl_seek_open,
    .seek_close = sl_seek_close,
};
