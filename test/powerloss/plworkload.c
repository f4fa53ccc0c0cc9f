/* The power-loss workload: a normal application of the public API that is
 * killed at a random moment.
 *
 *   pl-workload setup DIR POLICY
 *       create the store, its channels and the durable subscription, and
 *       close cleanly: the state every run starts from.
 *   pl-workload run DIR POLICY EVENT_LOG SEED MAX_OPS
 *       open the store (creating it and its channels when DIR is empty),
 *       append to every channel (single appends and batches), deliver and
 *       ack through the durable subscription (closing and resuming it now
 *       and then), sync, delete and re-create a channel, with retention
 *       pruning the capped channel; after MAX_OPS operations it SIGKILLs
 *       itself (the driver may kill it sooner). With
 *       STREAMLOG_POWERLOSS_NO_SUB=1 it leaves the subscription alone. Every call that returned 0
 *       and matters to the checker is written to EVENT_LOG (plcommon.h).
 *
 * POLICY is always, interval or none. The event log is written with one
 * write() per line and not fsynced: it must survive only the SIGKILL of this
 * process, and the page cache does. In a power-loss run the shim copies each
 * line into its trace, ordered with the store's I/O. */
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "plcommon.h"
#include "streamlog.h"

static int event_fd = -1;

static void fail(const char *what, int rc)
{
    fprintf(stderr, "pl-workload: %s: %s (%s)\n", what, streamlog_errname(rc), streamlog_errmsg());
    exit(PL_EXIT_HARNESS);
}

static void event(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void event(const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    line[n++] = '\n';
    if (write(event_fd, line, (size_t)n) != n) {
        perror("pl-workload: writing the event log");
        exit(PL_EXIT_HARNESS);
    }
}

static int parse_policy(const char *s)
{
    if (!strcmp(s, "always"))
        return STREAMLOG_SYNC_ALWAYS;
    if (!strcmp(s, "interval"))
        return STREAMLOG_SYNC_INTERVAL;
    if (!strcmp(s, "none"))
        return STREAMLOG_SYNC_NONE;
    fprintf(stderr, "pl-workload: unknown policy '%s'\n", s);
    exit(PL_EXIT_HARNESS);
}

static streamlog_store *open_store(const char *dir, int policy)
{
    streamlog_opts *o;
    int rc;
    if ((rc = streamlog_opts_new(&o)) || (rc = streamlog_opts_set_int(o, STREAMLOG_OPT_SYNC, policy)) ||
        (rc = streamlog_opts_set_int(o, STREAMLOG_OPT_SYNC_INTERVAL_MS, 20)))
        fail("options", rc);
    streamlog_store *st;
    if ((rc = streamlog_open(dir, o, &st)))
        fail("streamlog_open", rc);
    streamlog_opts_free(o);
    return st;
}

static streamlog_channel *open_channel(streamlog_store *st, const char *name)
{
    streamlog_opts *o = NULL;
    int rc;
    if (!strcmp(name, PL_CHAN_CAPPED) &&
        ((rc = streamlog_opts_new(&o)) || (rc = streamlog_opts_set_int(o, STREAMLOG_OPT_MAX_MSGS, PL_CAPPED_MAX))))
        fail("options", rc);
    streamlog_channel *ch;
    if ((rc = streamlog_channel_open(st, name, STREAMLOG_CREATE, o, &ch)))
        fail("streamlog_channel_open", rc);
    streamlog_opts_free(o);
    return ch;
}

static streamlog_sub *subscribe(streamlog_channel *ch)
{
    streamlog_opts *o;
    int rc;
    if ((rc = streamlog_opts_new(&o)) || (rc = streamlog_opts_set_str(o, STREAMLOG_OPT_DURABLE, PL_DURABLE)) ||
        (rc = streamlog_opts_set_int(o, STREAMLOG_OPT_START, STREAMLOG_START_FIRST)) ||
        (rc = streamlog_opts_set_int(o, STREAMLOG_OPT_ACK_WAIT_MS, 500)) ||
        (rc = streamlog_opts_set_int(o, STREAMLOG_OPT_MAX_INFLIGHT, 64)))
        fail("options", rc);
    streamlog_sub *sub;
    if ((rc = streamlog_subscribe(ch, o, &sub)))
        fail("streamlog_subscribe", rc);
    streamlog_opts_free(o);
    return sub;
}

static int setup(const char *dir, int policy)
{
    streamlog_store *st = open_store(dir, policy);
    streamlog_channel *ch[PL_NCHANS];
    for (int i = 0; i < PL_NCHANS; i++)
        ch[i] = open_channel(st, pl_chans[i]);
    streamlog_sub *sub = subscribe(ch[0]);
    int rc;
    if ((rc = streamlog_sub_close(sub)))
        fail("streamlog_sub_close", rc);
    for (int i = 0; i < PL_NCHANS; i++)
        streamlog_channel_close(ch[i]);
    if ((rc = streamlog_close(st)))
        fail("streamlog_close", rc);
    return 0;
}

/* Fill buf with a self-checking payload for (chan, inc, seq); returns its length. */
static size_t make_payload(uint64_t *rng, unsigned char *buf, const char *chan, int inc, uint64_t seq)
{
    uint64_t r = pl_below(rng, 100);
    size_t len = r < 70 ? 16 + pl_below(rng, 400) : r < 95 ? 400 + pl_below(rng, 2600) : 3000 + pl_below(rng, 17000);
    int h = snprintf((char *)buf, 128, "PL %s %d %llu\n", chan, inc, (unsigned long long)seq);
    if (len < (size_t)h + 4)
        len = (size_t)h + 4;
    for (size_t i = (size_t)h; i < len - 4; i++)
        buf[i] = (unsigned char)pl_rand(rng);
    uint32_t crc = (uint32_t)crc32(0, buf, (uInt)(len - 4));
    for (int i = 0; i < 4; i++)
        buf[len - 4 + (size_t)i] = (unsigned char)(crc >> (8 * i));
    return len;
}

struct chan_state {
    streamlog_channel *ch;
    int inc;          /* incarnation: 1, then +1 per delete */
    uint64_t next;    /* the sequence the next append must get */
};

static uint64_t next_seq(streamlog_channel *ch)
{
    streamlog_channel_stats s;
    int rc = streamlog_channel_get_stats(ch, &s);
    if (rc)
        fail("streamlog_channel_get_stats", rc);
    return s.last_seq + 1;
}

static void append_some(uint64_t *rng, struct chan_state *c, const char *name, size_t n)
{
    static unsigned char bufs[8][20000];
    const void *data[8];
    size_t lens[8];
    for (size_t i = 0; i < n; i++) {
        lens[i] = make_payload(rng, bufs[i], name, c->inc, c->next + i);
        data[i] = bufs[i];
    }
    uint64_t seq;
    int rc = n == 1 ? streamlog_append(c->ch, data[0], lens[0], &seq)
                    : streamlog_append_batch(c->ch, data, lens, n, &seq);
    if (rc)
        fail("append", rc);
    if (seq != c->next) {
        fprintf(stderr, "pl-workload: %s got sequence %llu, expected %llu\n", name, (unsigned long long)seq,
                (unsigned long long)c->next);
        exit(PL_EXIT_HARNESS);
    }
    for (size_t i = 0; i < n; i++)
        event("A %s %d %llu %08x", name, c->inc, (unsigned long long)(seq + i),
              (unsigned)crc32(0, data[i], (uInt)lens[i]));
    c->next += n;
}

static int run(const char *dir, int policy, const char *event_log, uint64_t seed, long max_ops)
{
    event_fd = open(event_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (event_fd < 0) {
        perror("pl-workload: opening the event log");
        return PL_EXIT_HARNESS;
    }
    uint64_t rng = seed;
    streamlog_store *st = open_store(dir, policy);
    event("P");
    struct chan_state c[PL_NCHANS];
    int rc;
    for (int i = 0; i < PL_NCHANS; i++) {
        rc = streamlog_channel_open(st, pl_chans[i], 0, NULL, &c[i].ch);
        if (rc == STREAMLOG_OK) {
            event("O %s", pl_chans[i]);
        } else if (rc == STREAMLOG_ENOTFOUND) { /* a run from an empty directory */
            c[i].ch = open_channel(st, pl_chans[i]);
            event("C %s 1", pl_chans[i]);
        } else {
            fail("streamlog_channel_open", rc);
        }
        c[i].inc = 1;
        c[i].next = next_seq(c[i].ch);
    }
    /* STREAMLOG_POWERLOSS_NO_SUB=1: no subscription activity, to tell its
     * commits' share in a failure from the appends' */
    const char *no_sub_env = getenv("STREAMLOG_POWERLOSS_NO_SUB");
    int no_sub = no_sub_env && !strcmp(no_sub_env, "1");
    streamlog_sub *sub = no_sub ? NULL : subscribe(c[0].ch);
    for (long op = 0; op < max_ops; op++) {
        uint64_t r = pl_below(&rng, 100);
        if (no_sub && r >= 50 && r < 83)
            r = pl_below(&rng, 50);
        int k = (int)pl_below(&rng, PL_NCHANS);
        if (r < 40) {
            append_some(&rng, &c[k], pl_chans[k], 1);
        } else if (r < 50) {
            append_some(&rng, &c[k], pl_chans[k], 1 + pl_below(&rng, 8));
        } else if (r < 80) {
            const streamlog_msg *m;
            rc = streamlog_sub_next(sub, 0, &m);
            if (rc == STREAMLOG_OK) {
                uint64_t seq = streamlog_msg_seq(m);
                if (pl_below(&rng, 100) < 80) {
                    if ((rc = streamlog_ack(sub, seq)))
                        fail("streamlog_ack", rc);
                    event("K %llu", (unsigned long long)seq);
                }
            } else if (rc != STREAMLOG_EAGAIN) {
                fail("streamlog_sub_next", rc);
            }
        } else if (r < 83) {
            if ((rc = streamlog_sub_close(sub)))
                fail("streamlog_sub_close", rc);
            sub = subscribe(c[0].ch);
        } else if (r < 88) {
            if ((rc = streamlog_sync(st)))
                fail("streamlog_sync", rc);
            event("S");
        } else if (r < 92) {
            struct chan_state *t = &c[2];
            streamlog_channel_close(t->ch);
            event("d %s", PL_CHAN_TEMP);
            if ((rc = streamlog_channel_delete(st, PL_CHAN_TEMP)))
                fail("streamlog_channel_delete", rc);
            event("D %s", PL_CHAN_TEMP);
            t->ch = open_channel(st, PL_CHAN_TEMP);
            t->inc++;
            t->next = next_seq(t->ch);
            event("C %s %d", PL_CHAN_TEMP, t->inc);
        } else {
            /* a reader: one message by sequence, as an application would */
            streamlog_msg *m = NULL;
            rc = streamlog_get(c[k].ch, c[k].next > 1 ? c[k].next - 1 : 1, &m);
            if (rc && rc != STREAMLOG_ENOTFOUND)
                fail("streamlog_get", rc);
            streamlog_msg_free(m);
        }
    }
    raise(SIGKILL);
    return PL_EXIT_HARNESS;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "setup"))
        return setup(argv[2], parse_policy(argv[3]));
    if (argc == 7 && !strcmp(argv[1], "run"))
        return run(argv[2], parse_policy(argv[3]), argv[4], strtoull(argv[5], NULL, 0), strtol(argv[6], NULL, 0));
    fprintf(stderr, "usage: pl-workload setup DIR POLICY\n"
                    "       pl-workload run DIR POLICY EVENT_LOG SEED MAX_OPS\n");
    return PL_EXIT_HARNESS;
}
