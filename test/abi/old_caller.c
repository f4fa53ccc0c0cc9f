/*
 * old_caller.c - a program built against the 0.1.0 header (commit 3018d89,
 * copied beside it), whose statistics structs have no size field, run with
 * this library: the old functions must fill exactly the old layouts, with
 * correct values, and write nothing past them. It works in a new directory
 * under $TMPDIR (or /tmp) and removes it.
 */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "streamlog-3018d89.h"

#define GUARD 64
static int failures;

#define CHECK(cond)                                                      \
    do {                                                                 \
        if (!(cond)) {                                                   \
            fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                  \
        }                                                                \
    } while (0)

#define CALL(expr)                                                       \
    do {                                                                 \
        int rc_ = (expr);                                                \
        if (rc_) {                                                       \
            fprintf(stderr, "%s:%d: %s: %s: %s\n", __FILE__, __LINE__, #expr, \
                    streamlog_errname(rc_), streamlog_errmsg());         \
            exit(1);                                                     \
        }                                                                \
    } while (0)

/* A struct inside a buffer whose bytes after it must stay as they were. */
#define GUARDED(type) \
    union {           \
        type s;       \
        unsigned char bytes[sizeof(type) + GUARD]; \
    }

static int guard_intact(const unsigned char *bytes, size_t size)
{
    for (size_t i = size; i < size + GUARD; i++)
        if (bytes[i] != 0xA5)
            return 0;
    return 1;
}

static int remove_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb, (void)type, (void)ftw;
    return remove(path);
}

int main(void)
{
    char dir[4096];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/streamlog-abi-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    streamlog_store *st;
    streamlog_channel *ch;
    streamlog_opts *o;
    streamlog_sub *sub;
    const streamlog_msg *m;
    CALL(streamlog_open(dir, NULL, &st));
    CALL(streamlog_channel_open(st, "abi.old", STREAMLOG_CREATE, NULL, &ch));
    CALL(streamlog_append(ch, "a", 1, NULL));
    CALL(streamlog_append(ch, "bb", 2, NULL));
    CALL(streamlog_append(ch, "ccc", 3, NULL));
    CALL(streamlog_opts_new(&o));
    CALL(streamlog_opts_set_str(o, STREAMLOG_OPT_DURABLE, "d"));
    CALL(streamlog_opts_set_int(o, STREAMLOG_OPT_START, STREAMLOG_START_FIRST));
    CALL(streamlog_opts_set_int(o, STREAMLOG_OPT_MAX_INFLIGHT, 7));
    CALL(streamlog_subscribe(ch, o, &sub));
    streamlog_opts_free(o);
    for (uint64_t seq = 1; seq <= 3; seq++) {
        CALL(streamlog_sub_next(sub, 10000, &m));
        CHECK(streamlog_msg_seq(m) == seq);
        if (seq < 3)
            CALL(streamlog_ack(sub, seq));
    }

    GUARDED(streamlog_channel_stats) cs;
    memset(&cs, 0xA5, sizeof cs);
    CALL(streamlog_channel_get_stats(ch, &cs.s));
    CHECK(cs.s.first_seq == 1 && cs.s.last_seq == 3 && cs.s.msgs == 3 && cs.s.bytes == 6 && cs.s.subs == 1);
    CHECK(guard_intact(cs.bytes, sizeof cs.s));

    GUARDED(streamlog_sub_stats) ss;
    memset(&ss, 0xA5, sizeof ss);
    CALL(streamlog_sub_get_stats(sub, &ss.s));
    CHECK(ss.s.pending == 1 && ss.s.last_delivered == 3 && ss.s.next_seq == 4);
    CHECK(ss.s.delivered == 3 && ss.s.redelivered == 0 && ss.s.acked == 2 && ss.s.dead_lettered == 0);
    CHECK(ss.s.stalled == 0 && ss.s.max_inflight == 7);
    CHECK(guard_intact(ss.bytes, sizeof ss.s));

    CALL(streamlog_ack(sub, 3));
    CALL(streamlog_sub_close(sub)); /* persists the acks */

    GUARDED(streamlog_group_stats) gs;
    memset(&gs, 0xA5, sizeof gs);
    CALL(streamlog_group_get_stats(ch, STREAMLOG_GROUP_DURABLE, "d", &gs.s));
    CHECK(gs.s.next_seq == 4 && gs.s.lag == 0 && gs.s.pending == 0 && gs.s.redelivered == 0);
    CHECK(gs.s.members == 0 && gs.s.kind == STREAMLOG_GROUP_DURABLE && gs.s.reserved == 0);
    CHECK(guard_intact(gs.bytes, sizeof gs.s));

    streamlog_channel_close(ch);
    CALL(streamlog_close(st));
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (failures)
        return 1;
    printf("a program built against the 0.1.0 header read correct statistics from library %s\n",
           streamlog_version());
    return 0;
}
