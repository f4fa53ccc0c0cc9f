/* The power-loss checker: opens one crash image with the library and checks
 * what the policy promises.
 *
 *   pl-check DIR POLICY EVENT_LOG KIND
 *
 * KIND is "powerloss" (an OS crash or power loss: under SYNC_ALWAYS every
 * event counts, under INTERVAL the events before the last completed
 * streamlog_sync (an "S" line), under NONE also those before an "F" line the
 * driver adds where the trace shows an fdatasync of data.mdb completed) or
 * "kill" (a process crash: the page cache survived, every event counts under
 * every policy). EVENT_LOG holds what the workload saw returned before the
 * crash (plcommon.h).
 *
 * Checks: the store opens; every channel that must exist does; every append
 * that must have survived is there with its payload intact (unless retention
 * removed it since, or a later delete of its channel may have committed);
 * every stored message is intact and in its place; a bounded iteration of
 * each channel ends with EAGAIN; the durable subscription resumes and
 * delivers every stored message the workload never acked; a new append gets
 * last + 1; listing channels ends; the store closes. Each broken promise is
 * one line "FAIL <kind>: <detail>" on stdout, and a last line
 * "STATS <messages read> <required appends found> <unacked messages the durable
 * had to deliver>" shows what was verified; the exit status is 0 when none
 * broke, PL_EXIT_FAIL otherwise. The driver runs this in a child process,
 * so a crash or a hang is reported too. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "plcommon.h"
#include "streamlog.h"

#define MAX_SEQ 100000 /* far above what a workload run appends */

struct expected {
    uint32_t crc;
    int inc;
    int required; /* its append returned 0 in the part of the log that must have survived */
    int deleted_after; /* a delete of its channel started after the append */
};

struct chan_expect {
    struct expected *msgs; /* indexed by sequence (current numbering of its incarnation) */
    int must_exist;
    uint64_t max_required;
};

static struct chan_expect chans[PL_NCHANS];
static unsigned char *acked; /* by sequence of PL_CHAN_SUB */
static int store_opened;      /* the workload's streamlog_open() had returned */
static int failures;
/* what was verified, printed as a STATS line so that a passing run shows it checked something */
static unsigned long stat_msgs, stat_required, stat_unacked;

static void failf(const char *kind, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void failf(const char *kind, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (failures < 20) /* the first few tell the story */
        printf("FAIL %s: %s\n", kind, buf);
    failures++;
}

static int chan_index(const char *name)
{
    for (int i = 0; i < PL_NCHANS; i++)
        if (!strcmp(name, pl_chans[i]))
            return i;
    return -1;
}

static void harness_error(const char *what)
{
    fprintf(stderr, "pl-check: %s\n", what);
    exit(PL_EXIT_HARNESS);
}

/* Read the event log and derive what the image must show. */
static void load_expectations(const char *path, int whole_log, int fdatasync_counts)
{
    FILE *f = fopen(path, "r");
    if (!f)
        harness_error("cannot open the event log");
    char line[256];
    size_t n = 0, cap = 1024, last_sync = 0;
    char **lines = malloc(cap * sizeof *lines);
    while (fgets(line, sizeof line, f)) {
        if (!strchr(line, '\n'))
            break; /* a torn last line */
        if (n == cap)
            lines = realloc(lines, (cap *= 2) * sizeof *lines);
        lines[n++] = strdup(line);
        if (line[0] == 'S' || (line[0] == 'F' && fdatasync_counts))
            last_sync = n;
        store_opened |= line[0] == 'P';
    }
    fclose(f);
    size_t required_end = whole_log ? n : last_sync;
    for (int i = 0; i < PL_NCHANS; i++) {
        chans[i].msgs = calloc(MAX_SEQ, sizeof *chans[i].msgs);
        chans[i].must_exist = 0; /* until an O or C line says it was created */
    }
    acked = calloc(MAX_SEQ, 1);
    for (size_t i = 0; i < n; i++) {
        char name[64];
        unsigned long long seq;
        unsigned crc;
        int in;
        if (sscanf(lines[i], "A %63s %d %llu %x", name, &in, &seq, &crc) == 4) {
            int c = chan_index(name);
            if (c < 0 || seq == 0 || seq >= MAX_SEQ)
                harness_error("bad A line in the event log");
            chans[c].msgs[seq] = (struct expected){.crc = crc, .inc = in, .required = i < required_end};
        } else if (sscanf(lines[i], "K %llu", &seq) == 1) {
            if (seq == 0 || seq >= MAX_SEQ)
                harness_error("bad K line in the event log");
            acked[seq] = 1;
        } else if (sscanf(lines[i], "d %63s", name) == 1) {
            int c = chan_index(name);
            if (c < 0)
                harness_error("bad d line in the event log");
            /* the delete may have committed whether or not it returned: nothing
             * before it can be required, and the numbering starts again */
            for (uint64_t s = 1; s < MAX_SEQ; s++)
                if (chans[c].msgs[s].crc || chans[c].msgs[s].required)
                    chans[c].msgs[s].deleted_after = 1;
            chans[c].must_exist = 0;
        } else if (sscanf(lines[i], "C %63s %d", name, &in) == 2) {
            int c = chan_index(name);
            if (c < 0)
                harness_error("bad C line in the event log");
            /* a new incarnation reuses sequences: forget the old one's */
            memset(chans[c].msgs, 0, MAX_SEQ * sizeof *chans[c].msgs);
            chans[c].must_exist = i < required_end;
        } else if (sscanf(lines[i], "O %63s", name) == 1) {
            int c = chan_index(name);
            if (c < 0)
                harness_error("bad O line in the event log");
            chans[c].must_exist = 1; /* it was in the cleanly closed store the run started from */
        }
    }
    for (int c = 0; c < PL_NCHANS; c++) {
        for (uint64_t s = 1; s < MAX_SEQ; s++) {
            struct expected *e = &chans[c].msgs[s];
            if (e->deleted_after)
                e->required = 0;
            if (e->required) {
                chans[c].max_required = s;
                chans[c].must_exist = 1;
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
}

/* Check a stored payload on its own: its trailer crc, channel and sequence. */
static int payload_ok(const char *chan, uint64_t seq, const unsigned char *p, size_t len, int *inc_out)
{
    if (len < 8)
        return 0;
    uint32_t want = (uint32_t)p[len - 4] | (uint32_t)p[len - 3] << 8 | (uint32_t)p[len - 2] << 16 |
                    (uint32_t)p[len - 1] << 24;
    if ((uint32_t)crc32(0, p, (uInt)(len - 4)) != want)
        return 0;
    char name[64];
    int inc;
    unsigned long long s;
    char head[128];
    size_t hl = len < sizeof head - 1 ? len : sizeof head - 1;
    memcpy(head, p, hl);
    head[hl] = '\0';
    if (sscanf(head, "PL %63s %d %llu", name, &inc, &s) != 3)
        return 0;
    *inc_out = inc;
    return !strcmp(name, chan) && s == seq;
}

static int parse_policy(const char *s)
{
    if (!strcmp(s, "always"))
        return STREAMLOG_SYNC_ALWAYS;
    if (!strcmp(s, "interval"))
        return STREAMLOG_SYNC_INTERVAL;
    if (!strcmp(s, "none"))
        return STREAMLOG_SYNC_NONE;
    harness_error("unknown policy");
    return -1;
}

static void check_channel(streamlog_store *st, int c, unsigned char *present)
{
    const char *name = pl_chans[c];
    streamlog_channel *ch;
    int rc = streamlog_channel_open(st, name, 0, NULL, &ch);
    if (rc == STREAMLOG_ENOTFOUND && !chans[c].must_exist)
        return;
    if (rc) {
        failf("channel-open", "%s: %s (%s)", name, streamlog_errname(rc), streamlog_errmsg());
        return;
    }
    streamlog_channel_stats s;
    if ((rc = streamlog_channel_get_stats(ch, &s))) {
        failf("channel-stats", "%s: %s (%s)", name, streamlog_errname(rc), streamlog_errmsg());
        streamlog_channel_close(ch);
        return;
    }
    if (s.last_seq < chans[c].max_required)
        failf("lost-append", "%s: last sequence %llu, but %llu had returned 0", name, (unsigned long long)s.last_seq,
              (unsigned long long)chans[c].max_required);
    if (s.last_seq >= MAX_SEQ || s.first_seq > s.last_seq + 1 || s.msgs != s.last_seq + 1 - s.first_seq) {
        failf("bad-stats", "%s: first %llu last %llu msgs %llu", name, (unsigned long long)s.first_seq,
              (unsigned long long)s.last_seq, (unsigned long long)s.msgs);
    }

    /* A bounded iteration: it must end, in order, with intact payloads. */
    streamlog_iter *it;
    if ((rc = streamlog_iter_open(ch, STREAMLOG_START_FIRST, 0, &it))) {
        failf("iter-open", "%s: %s (%s)", name, streamlog_errname(rc), streamlog_errmsg());
    } else {
        uint64_t bound = (s.last_seq < MAX_SEQ ? s.last_seq : MAX_SEQ) + 2, steps = 0, prev = 0;
        const streamlog_msg *m;
        for (;;) {
            rc = streamlog_iter_next(it, &m);
            if (rc)
                break;
            uint64_t seq = streamlog_msg_seq(m);
            size_t len;
            const unsigned char *p = streamlog_msg_data(m, &len);
            int inc = 0;
            if (seq <= prev || seq > s.last_seq || seq >= MAX_SEQ) {
                failf("iter-order", "%s: sequence %llu after %llu (last %llu)", name, (unsigned long long)seq,
                      (unsigned long long)prev, (unsigned long long)s.last_seq);
                break;
            }
            if (!payload_ok(name, seq, p, len, &inc))
                failf("corrupt-payload", "%s: message %llu (%zu bytes) fails its own check", name,
                      (unsigned long long)seq, len);
            else if (chans[c].msgs[seq].crc && chans[c].msgs[seq].inc == inc &&
                     (uint32_t)crc32(0, p, (uInt)len) != chans[c].msgs[seq].crc)
                failf("wrong-payload", "%s: message %llu differs from what was appended", name,
                      (unsigned long long)seq);
            if (present)
                present[seq] = 1;
            stat_msgs++;
            prev = seq;
            if (++steps > bound) {
                failf("iter-endless", "%s: more than %llu messages from an iteration of a channel whose last is %llu",
                      name, (unsigned long long)bound, (unsigned long long)s.last_seq);
                break;
            }
        }
        if (rc && rc != STREAMLOG_EAGAIN)
            failf("iter-error", "%s: %s (%s) after sequence %llu", name, streamlog_errname(rc), streamlog_errmsg(),
                  (unsigned long long)prev);
        streamlog_iter_close(it);
    }

    /* Every required append: present and intact, unless retention removed it. */
    for (uint64_t seq = 1; seq <= chans[c].max_required; seq++) {
        struct expected *e = &chans[c].msgs[seq];
        if (!e->required)
            continue;
        if (c == 1 && s.last_seq >= seq + PL_CAPPED_MAX)
            continue; /* MAX_MSGS pruned it */
        stat_required++;
        streamlog_msg *m;
        rc = streamlog_get(ch, seq, &m);
        if (rc) {
            failf("lost-append", "%s: message %llu returned 0 but streamlog_get says %s (%s)", name,
                  (unsigned long long)seq, streamlog_errname(rc), streamlog_errmsg());
            continue;
        }
        size_t len;
        const void *p = streamlog_msg_data(m, &len);
        if ((uint32_t)crc32(0, p, (uInt)len) != e->crc)
            failf("wrong-payload", "%s: message %llu is not what was appended", name, (unsigned long long)seq);
        streamlog_msg_free(m);
    }

    /* Numbering continues. */
    unsigned char payload[64];
    uint64_t seq = 0;
    int n = snprintf((char *)payload, sizeof payload, "PL %s 0 %llu\n", name, (unsigned long long)s.last_seq + 1);
    uint32_t crc = (uint32_t)crc32(0, payload, (uInt)n);
    for (int i = 0; i < 4; i++)
        payload[n + i] = (unsigned char)(crc >> (8 * i));
    if ((rc = streamlog_append(ch, payload, (size_t)n + 4, &seq)))
        failf("append-after", "%s: %s (%s)", name, streamlog_errname(rc), streamlog_errmsg());
    else if (seq != s.last_seq + 1)
        failf("numbering", "%s: a new append got %llu after last %llu", name, (unsigned long long)seq,
              (unsigned long long)s.last_seq);
    streamlog_channel_close(ch);
}

/* The durable resumes and delivers every stored message never acked. */
static void check_durable(streamlog_store *st, const unsigned char *present)
{
    streamlog_channel *ch;
    int rc = streamlog_channel_open(st, PL_CHAN_SUB, 0, NULL, &ch);
    if (rc)
        return; /* reported by check_channel */
    streamlog_opts *o;
    /* the workload's start position: a durable whose creation a crash undid
     * starts again from the first message (a redelivery, allowed) */
    if (streamlog_opts_new(&o) || streamlog_opts_set_str(o, STREAMLOG_OPT_DURABLE, PL_DURABLE) ||
        streamlog_opts_set_int(o, STREAMLOG_OPT_START, STREAMLOG_START_FIRST) ||
        streamlog_opts_set_int(o, STREAMLOG_OPT_MAX_INFLIGHT, 1048576) ||
        streamlog_opts_set_int(o, STREAMLOG_OPT_ACK_WAIT_MS, 86400000))
        harness_error("options");
    streamlog_sub *sub;
    rc = streamlog_subscribe(ch, o, &sub);
    streamlog_opts_free(o);
    if (rc) {
        failf("durable-resume", "subscribe: %s (%s)", streamlog_errname(rc), streamlog_errmsg());
        streamlog_channel_close(ch);
        return;
    }
    unsigned char *got = calloc(MAX_SEQ, 1);
    uint64_t deliveries = 0;
    for (;;) {
        const streamlog_msg *m;
        rc = streamlog_sub_next(sub, 0, &m);
        if (rc)
            break;
        uint64_t seq = streamlog_msg_seq(m);
        if (seq < MAX_SEQ)
            got[seq] = 1;
        if (++deliveries > 2 * MAX_SEQ) {
            failf("durable-endless", "more than %d deliveries without an ack", 2 * MAX_SEQ);
            break;
        }
    }
    if (rc && rc != STREAMLOG_EAGAIN)
        failf("durable-next", "%s (%s)", streamlog_errname(rc), streamlog_errmsg());
    for (uint64_t seq = 1; seq < MAX_SEQ; seq++)
        stat_unacked += present[seq] && !acked[seq];
    for (uint64_t seq = 1; seq < MAX_SEQ; seq++)
        if (present[seq] && !acked[seq] && !got[seq])
            failf("durable-lost", "message %llu is stored and was never acked, but the durable does not deliver it",
                  (unsigned long long)seq);
    free(got);
    if ((rc = streamlog_sub_close(sub)))
        failf("durable-close", "%s (%s)", streamlog_errname(rc), streamlog_errmsg());
    streamlog_channel_close(ch);
}

/* "pl-check boot-id": print the boot id as read through fopen() and open(),
 * the two ways a library reads it; the driver checks that the shim serves a
 * new one. */
static int print_boot_id(void)
{
    char a[128] = "", b[128] = "";
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
    if (f) {
        if (!fgets(a, sizeof a, f))
            a[0] = '\0';
        fclose(f);
    }
    int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, b, sizeof b - 1);
        b[n > 0 ? n : 0] = '\0';
        close(fd);
    }
    printf("%s%s", a, b);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "boot-id"))
        return print_boot_id();
    if (argc != 5 || (strcmp(argv[4], "powerloss") && strcmp(argv[4], "kill"))) {
        fprintf(stderr, "usage: pl-check DIR always|interval|none EVENT_LOG powerloss|kill\n");
        return PL_EXIT_HARNESS;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    int policy = parse_policy(argv[2]);
    /* INTERVAL returns to its last recorded sync point, which an fdatasync
     * alone does not move (the record is written after it): only the
     * workload's completed streamlog_sync() calls count there. */
    load_expectations(argv[3], !strcmp(argv[4], "kill") || policy == STREAMLOG_SYNC_ALWAYS,
                      policy != STREAMLOG_SYNC_INTERVAL);

    streamlog_opts *o;
    if (streamlog_opts_new(&o) || streamlog_opts_set_int(o, STREAMLOG_OPT_SYNC, policy))
        harness_error("options");
    streamlog_store *st;
    int rc = streamlog_open(argv[1], o, &st);
    streamlog_opts_free(o);
    if (rc) {
        /* a crash while streamlog_open() created the store is told apart */
        failf(store_opened ? "open" : "open-new-store", "%s (%s)", streamlog_errname(rc), streamlog_errmsg());
        return PL_EXIT_FAIL;
    }
    unsigned char *present = calloc(MAX_SEQ, 1);
    /* the durable first: the appends of the channel checks would add to what it delivers */
    for (int c = 0; c < PL_NCHANS; c++)
        if (c != 0)
            check_channel(st, c, NULL);
    /* read PL_CHAN_SUB before resuming the durable, append to it after */
    {
        streamlog_channel *ch;
        if (streamlog_channel_open(st, PL_CHAN_SUB, 0, NULL, &ch) == 0) {
            streamlog_iter *it;
            if (streamlog_iter_open(ch, STREAMLOG_START_FIRST, 0, &it) == 0) {
                const streamlog_msg *m;
                uint64_t steps = 0;
                while (streamlog_iter_next(it, &m) == 0 && ++steps < MAX_SEQ)
                    if (streamlog_msg_seq(m) < MAX_SEQ)
                        present[streamlog_msg_seq(m)] = 1;
                streamlog_iter_close(it);
            }
            streamlog_channel_close(ch);
        }
    }
    check_durable(st, present);
    check_channel(st, 0, NULL);

    /* listing the channels ends and shows the ones that must exist */
    char name[256] = "", next[256];
    int seen[PL_NCHANS] = {0}, steps = 0;
    while ((rc = streamlog_channel_list_next(st, name, next, sizeof next)) == 0) {
        int c = chan_index(next);
        if (c >= 0)
            seen[c] = 1;
        if (strcmp(next, name) <= 0 || ++steps > 100) {
            failf("list-endless", "listing channels does not end (at '%s')", next);
            break;
        }
        memcpy(name, next, sizeof name);
    }
    if (rc && rc != STREAMLOG_ENOTFOUND)
        failf("list", "%s (%s)", streamlog_errname(rc), streamlog_errmsg());
    for (int c = 0; c < PL_NCHANS; c++)
        if (chans[c].must_exist && !seen[c])
            failf("list-missing", "channel %s is not listed", pl_chans[c]);

    if ((rc = streamlog_close(st)))
        failf("close", "%s (%s)", streamlog_errname(rc), streamlog_errmsg());
    printf("STATS %lu %lu %lu\n", stat_msgs, stat_required, stat_unacked);
    free(present);
    for (int c = 0; c < PL_NCHANS; c++)
        free(chans[c].msgs);
    free(acked);
    return failures ? PL_EXIT_FAIL : 0;
}
