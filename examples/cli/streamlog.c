/*
 * streamlog - look into and operate a libstreamlog store from the shell.
 *
 *   streamlog ls STORE [--json]
 *   streamlog stat STORE [CHANNEL] [--json]
 *   streamlog verify STORE [--json]
 *   streamlog durables STORE CHANNEL [--json]
 *   streamlog purge STORE CHANNEL [--upto SEQ] [--json]
 *   streamlog pub STORE CHANNEL [MESSAGE] [--header 'Name: value']... [--msg-id ID]
 *   streamlog cat STORE CHANNEL [--from SEQ | --since TIME | --last N] [--follow] [--format raw|json|hex]
 *   streamlog delete STORE CHANNEL
 *   streamlog export STORE [CHANNEL...] [--output FILE]
 *   streamlog import STORE [FILE] [--renumber]
 *
 * Read commands (ls, stat, cat, export) open the store read-only. Exit status:
 * 0, or the library's code negated (STREAMLOG_ENOTFOUND -> 2, ...), 64 for a
 * usage error, 65 for bad import input, 74 for a failed write of the output.
 * See streamlog.1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <streamlog.h>

#include "format.h"
#include "progress.h"

#define EXIT_USAGE 64
#define EXIT_DATAERR 65
#define EXIT_IOERR 74
#define IMPORT_BATCH_MSGS 1000
#define IMPORT_BATCH_BYTES ((size_t)8 << 20)
#define PUB_BATCH_MAX 1024

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* Report a library failure; the exit status is the code negated. */
static int fail(int rc, const char *what)
{
    const char *detail = streamlog_errmsg();
    fprintf(stderr, "streamlog: %s: %s: %s\n", what, streamlog_errname(rc),
            *detail ? detail : streamlog_strerror(rc));
    return -rc;
}

static int usage_error(const char *fmt, const char *arg)
{
    fputs("streamlog: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs(" (see streamlog --help)\n", stderr);
    return EXIT_USAGE;
}

static int output_error(void)
{
    fprintf(stderr, "streamlog: writing the output: %s\n", strerror(errno));
    return EXIT_IOERR;
}

/* --sync of a command that writes (default: the library's, SYNC_ALWAYS) */
static int write_sync = STREAMLOG_SYNC_ALWAYS;

static int open_store(const char *dir, int readonly, streamlog_store **st)
{
    streamlog_opts *o = NULL;
    int rc = streamlog_opts_new(&o);
    if (!rc && readonly)
        rc = streamlog_opts_set_int(o, STREAMLOG_OPT_READONLY, 1);
    if (!rc && !readonly)
        rc = streamlog_opts_set_int(o, STREAMLOG_OPT_SYNC, write_sync);
    if (!rc)
        rc = streamlog_open(dir, o, st);
    streamlog_opts_free(o);
    return rc ? fail(rc, dir) : 0;
}

/* Close what a command opened; a failed close matters only when the command succeeded. */
static int finish(int status, streamlog_store *st, streamlog_channel *ch)
{
    streamlog_channel_close(ch);
    if (st) {
        int rc = streamlog_close(st);
        if (rc && !status)
            status = fail(rc, "closing the store");
    }
    return status;
}

/* getopt_long over a subcommand's arguments; `positional` receives the rest. */
struct parsed {
    int json, follow, renumber, have_start;
    const char *from, *since, *last, *format, *output, *upto, *msg_id;
    char *hdrs; /* --header options as one NATS header block (malloc'd), or NULL */
    size_t hdrs_len;
    int npos;
    char **pos;
};

static void parsed_free(struct parsed *p)
{
    free(p->hdrs);
    p->hdrs = NULL;
}

/* Add a "Name: value" header to the block: a name of printable non-blank
 * characters other than ':', a value without CR or LF (leading blanks dropped). */
static int add_header(struct parsed *p, const char *arg)
{
    const char *colon = strchr(arg, ':');
    if (!colon || colon == arg)
        return usage_error("--header %s: use 'Name: value'", arg);
    for (const char *c = arg; c < colon; c++)
        if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 127)
            return usage_error("--header %s: a name holds no blank or control character", arg);
    const char *value = colon + 1 + strspn(colon + 1, " \t");
    if (strpbrk(value, "\r\n"))
        return usage_error("--header %s: a value holds no line break", arg);
    static const char start[] = "NATS/1.0\r\n";
    size_t name_len = (size_t)(colon - arg), value_len = strlen(value);
    size_t have = p->hdrs ? p->hdrs_len - 2 : sizeof start - 1; /* without the closing empty line */
    char *block = realloc(p->hdrs, have + name_len + 2 + value_len + 4);
    if (!block) {
        fprintf(stderr, "streamlog: out of memory\n");
        return -STREAMLOG_ENOMEM;
    }
    if (!p->hdrs)
        memcpy(block, start, sizeof start - 1);
    char *at = block + have;
    memcpy(at, arg, name_len);
    at += name_len;
    memcpy(at, ": ", 2);
    memcpy(at + 2, value, value_len);
    memcpy(at + 2 + value_len, "\r\n\r\n", 4);
    p->hdrs = block;
    p->hdrs_len = have + name_len + 2 + value_len + 4;
    return 0;
}

static int parse_args(int argc, char **argv, const char *allowed, struct parsed *p)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},       {"follow", no_argument, NULL, 'f'},
        {"from", required_argument, NULL, 'F'}, {"since", required_argument, NULL, 'S'},
        {"last", required_argument, NULL, 'L'}, {"format", required_argument, NULL, 'o'},
        {"output", required_argument, NULL, 'O'}, {"renumber", no_argument, NULL, 'r'},
        {"upto", required_argument, NULL, 'U'}, {"header", required_argument, NULL, 'H'},
        {"msg-id", required_argument, NULL, 'M'}, {"sync", required_argument, NULL, 'Y'},
        {NULL, 0, NULL, 0},
    };
    memset(p, 0, sizeof *p);
    optind = 1;
    opterr = 0;
    int c, rc = 0, longindex = -1;
    while (!rc && (c = getopt_long(argc, argv, ":f", longopts, &longindex)) != -1) {
        if (c == '?' || c == ':') {
            rc = usage_error("%s: unknown option or missing value", argv[optind - 1]);
        } else if (!strchr(allowed, c)) {
            /* argv[optind - 1] may be the option's value: name the option itself */
            const char *name = longindex >= 0 ? longopts[longindex].name : "follow";
            rc = usage_error("--%s does not apply to this command", name);
        } else {
            switch (c) {
            case 'j': p->json = 1; break;
            case 'f': p->follow = 1; break;
            case 'r': p->renumber = 1; break;
            case 'F': p->from = optarg; p->have_start++; break;
            case 'S': p->since = optarg; p->have_start++; break;
            case 'L': p->last = optarg; p->have_start++; break;
            case 'o': p->format = optarg; break;
            case 'O': p->output = optarg; break;
            case 'U': p->upto = optarg; break;
            case 'H': rc = add_header(p, optarg); break;
            case 'M': p->msg_id = optarg; break;
            case 'Y':
                if (!strcmp(optarg, "always"))
                    write_sync = STREAMLOG_SYNC_ALWAYS;
                else if (!strcmp(optarg, "interval"))
                    write_sync = STREAMLOG_SYNC_INTERVAL;
                else if (!strcmp(optarg, "none"))
                    write_sync = STREAMLOG_SYNC_NONE;
                else
                    rc = usage_error("--sync %s: give always, interval or none", optarg);
                break;
            }
        }
        longindex = -1;
    }
    if (rc) {
        parsed_free(p);
        return rc;
    }
    p->npos = argc - optind;
    p->pos = argv + optind;
    return 0;
}

static int print_json(json_t *doc)
{
    if (!doc) {
        fprintf(stderr, "streamlog: out of memory\n");
        return -STREAMLOG_ENOMEM;
    }
    int rc = json_dumpf(doc, stdout, JSON_COMPACT) == 0 && fputc('\n', stdout) != EOF ? 0 : output_error();
    json_decref(doc);
    return rc;
}

/* ---- ls / stat ---- */

/* The growable statistics, sized for this header (see streamlog.h). */
static int channel_stats(streamlog_channel *ch, streamlog_channel_stats_v2 *s)
{
    s->size = sizeof *s;
    return streamlog_channel_get_stats_v2(ch, s);
}

struct chan_info {
    streamlog_channel_stats_v2 s;
    int64_t first_time, last_time; /* 0 when empty */
};

static int channel_info(streamlog_channel *ch, struct chan_info *ci)
{
    memset(ci, 0, sizeof *ci);
    int rc = channel_stats(ch, &ci->s);
    if (rc || !ci->s.msgs)
        return rc;
    streamlog_msg *m;
    /* the first message may expire meanwhile; its time is then unknown (0) */
    if (streamlog_get(ch, ci->s.first_seq, &m) == 0) {
        ci->first_time = streamlog_msg_time(m);
        streamlog_msg_free(m);
    }
    if (streamlog_get(ch, ci->s.last_seq, &m) == 0) {
        ci->last_time = streamlog_msg_time(m);
        streamlog_msg_free(m);
    }
    return 0;
}

static json_t *chan_json(const char *name, const struct chan_info *ci)
{
    return json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:o, s:o}", "name", name, "msgs", (json_int_t)ci->s.msgs,
                     "bytes", (json_int_t)ci->s.bytes, "first_seq", (json_int_t)ci->s.first_seq, "last_seq",
                     (json_int_t)ci->s.last_seq, "subs", (json_int_t)ci->s.subs, "first_time",
                     ci->first_time ? json_integer(ci->first_time) : json_null(), "last_time",
                     ci->last_time ? json_integer(ci->last_time) : json_null());
}

static void print_chan_line(const char *name, const struct chan_info *ci)
{
    char t1[48] = "-", t2[48] = "-";
    if (ci->first_time)
        format_time(ci->first_time, t1, sizeof t1);
    if (ci->last_time)
        format_time(ci->last_time, t2, sizeof t2);
    printf("%-24s %10llu %12llu %10llu %10llu  %-30s  %s\n", name, (unsigned long long)ci->s.msgs,
           (unsigned long long)ci->s.bytes, (unsigned long long)ci->s.first_seq,
           (unsigned long long)ci->s.last_seq, t1, t2);
}

/* Call fn for every channel, in name order. */
static int each_channel(streamlog_store *st, int (*fn)(void *ctx, const char *name, const struct chan_info *ci),
                        void *ctx)
{
    char name[256] = "";
    int rc;
    while ((rc = streamlog_channel_list_next(st, name, name, sizeof name)) == 0) {
        streamlog_channel *ch;
        struct chan_info ci;
        rc = streamlog_channel_open(st, name, 0, NULL, &ch);
        if (rc == STREAMLOG_ENOTFOUND)
            continue; /* deleted since it was listed */
        if (rc)
            return fail(rc, name);
        rc = channel_info(ch, &ci);
        streamlog_channel_close(ch);
        if (rc == STREAMLOG_ECLOSED)
            continue;
        if (rc)
            return fail(rc, name);
        if ((rc = fn(ctx, name, &ci)))
            return rc;
    }
    return rc == STREAMLOG_ENOTFOUND ? 0 : fail(rc, "listing channels");
}

static int ls_line(void *ctx, const char *name, const struct chan_info *ci)
{
    json_t *arr = ctx;
    if (arr)
        return json_array_append_new(arr, chan_json(name, ci)) ? -STREAMLOG_ENOMEM : 0;
    print_chan_line(name, ci);
    return 0;
}

static int cmd_ls(int argc, char **argv)
{
    struct parsed a;
    int rc = parse_args(argc, argv, "j", &a);
    if (rc)
        return rc;
    if (a.npos != 1)
        return usage_error("%s: ls takes STORE", "usage");
    streamlog_store *st;
    if ((rc = open_store(a.pos[0], 1, &st)))
        return rc;
    json_t *arr = a.json ? json_array() : NULL;
    if (!a.json)
        printf("%-24s %10s %12s %10s %10s  %-30s  %s\n", "CHANNEL", "MSGS", "BYTES", "FIRST", "LAST", "FIRST_TIME",
               "LAST_TIME");
    rc = each_channel(st, ls_line, arr);
    if (!rc && a.json)
        rc = print_json(json_incref(arr));
    json_decref(arr);
    if (!rc && fflush(stdout))
        rc = output_error();
    return finish(rc, st, NULL);
}

struct totals {
    uint64_t channels, msgs, bytes, subs;
};

static int add_totals(void *ctx, const char *name, const struct chan_info *ci)
{
    (void)name;
    struct totals *t = ctx;
    t->channels++;
    t->msgs += ci->s.msgs;
    t->bytes += ci->s.bytes;
    t->subs += ci->s.subs;
    return 0;
}

static int cmd_stat(int argc, char **argv)
{
    struct parsed a;
    int rc = parse_args(argc, argv, "j", &a);
    if (rc)
        return rc;
    if (a.npos != 1 && a.npos != 2)
        return usage_error("%s: stat takes STORE [CHANNEL]", "usage");
    streamlog_store *st;
    streamlog_channel *ch = NULL;
    if ((rc = open_store(a.pos[0], 1, &st)))
        return rc;
    if (a.npos == 2) {
        struct chan_info ci;
        if ((rc = streamlog_channel_open(st, a.pos[1], 0, NULL, &ch)) || (rc = channel_info(ch, &ci)))
            return finish(fail(rc, a.pos[1]), st, ch);
        if (a.json) {
            rc = print_json(chan_json(a.pos[1], &ci));
        } else {
            char t1[48] = "-", t2[48] = "-";
            if (ci.first_time)
                format_time(ci.first_time, t1, sizeof t1);
            if (ci.last_time)
                format_time(ci.last_time, t2, sizeof t2);
            printf("channel     %s\nmessages    %llu\nbytes       %llu\nfirst seq   %llu\nlast seq    %llu\n"
                   "first time  %s\nlast time   %s\nsubs        %llu\n",
                   a.pos[1], (unsigned long long)ci.s.msgs, (unsigned long long)ci.s.bytes,
                   (unsigned long long)ci.s.first_seq, (unsigned long long)ci.s.last_seq, t1, t2,
                   (unsigned long long)ci.s.subs);
        }
        return finish(rc, st, ch);
    }
    struct totals t = {0};
    if ((rc = each_channel(st, add_totals, &t)))
        return finish(rc, st, NULL);
    char path[PATH_MAX];
    struct stat sb;
    snprintf(path, sizeof path, "%s/data.mdb", a.pos[0]);
    if (stat(path, &sb) != 0)
        memset(&sb, 0, sizeof sb);
    uint64_t file_bytes = (uint64_t)sb.st_size, disk_bytes = (uint64_t)sb.st_blocks * 512;
    if (a.json) {
        rc = print_json(json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "store", a.pos[0], "library_version",
                                  streamlog_version(), "channels", (json_int_t)t.channels, "msgs",
                                  (json_int_t)t.msgs, "bytes", (json_int_t)t.bytes, "subs", (json_int_t)t.subs,
                                  "file_bytes", (json_int_t)file_bytes, "disk_bytes", (json_int_t)disk_bytes));
    } else {
        printf("store       %s\nlibrary     libstreamlog %s\nchannels    %llu\nmessages    %llu\n"
               "bytes       %llu (payload)\nsubs        %llu\nfile        %llu bytes (data.mdb), %llu on disk\n",
               a.pos[0], streamlog_version(), (unsigned long long)t.channels, (unsigned long long)t.msgs,
               (unsigned long long)t.bytes, (unsigned long long)t.subs, (unsigned long long)file_bytes,
               (unsigned long long)disk_bytes);
    }
    return finish(rc, st, NULL);
}

/* ---- durables ---- */

static const char *group_kind_name(int kind)
{
    return kind == STREAMLOG_GROUP_DURABLE ? "durable" : kind == STREAMLOG_GROUP_QUEUE ? "queue" : "durable-queue";
}

static int cmd_durables(int argc, char **argv)
{
    struct parsed a;
    int rc = parse_args(argc, argv, "j", &a);
    if (rc)
        return rc;
    if (a.npos != 2)
        return usage_error("%s: durables takes STORE CHANNEL", "usage");
    streamlog_store *st;
    streamlog_channel *ch = NULL;
    if ((rc = open_store(a.pos[0], 1, &st)))
        return rc;
    if ((rc = streamlog_channel_open(st, a.pos[1], 0, NULL, &ch)))
        return finish(fail(rc, a.pos[1]), st, ch);
    json_t *arr = a.json ? json_array() : NULL;
    if (!a.json)
        printf("%-14s %-32s %12s %12s %10s %8s\n", "KIND", "NAME", "NEXT_SEQ", "LAG", "PENDING", "MEMBERS");
    char name[STREAMLOG_GROUP_NAME_CAP], after[STREAMLOG_GROUP_NAME_CAP] = "";
    int kind = 0, r;
    while ((r = streamlog_group_list_next(ch, kind, after, &kind, name, sizeof name)) == STREAMLOG_OK) {
        snprintf(after, sizeof after, "%s", name);
        streamlog_group_stats_v2 gs = {.size = sizeof gs};
        if ((r = streamlog_group_get_stats_v2(ch, kind, name, &gs)) == STREAMLOG_ENOTFOUND)
            continue; /* removed since it was listed */
        if (r)
            break;
        if (arr)
            json_array_append_new(arr, json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I}", "kind", group_kind_name(kind),
                                                 "name", name, "next_seq", (json_int_t)gs.next_seq, "lag",
                                                 (json_int_t)gs.lag, "pending", (json_int_t)gs.pending, "redelivered",
                                                 (json_int_t)gs.redelivered, "members", (json_int_t)gs.members));
        else
            printf("%-14s %-32s %12llu %12llu %10llu %8llu\n", group_kind_name(kind), name,
                   (unsigned long long)gs.next_seq, (unsigned long long)gs.lag, (unsigned long long)gs.pending,
                   (unsigned long long)gs.members);
    }
    if (r != STREAMLOG_ENOTFOUND)
        rc = fail(r, a.pos[1]);
    else if (arr)
        rc = print_json(json_incref(arr));
    json_decref(arr);
    return finish(rc, st, ch);
}

/* ---- verify ---- */

static int cmd_verify(int argc, char **argv)
{
    struct parsed a;
    int rc = parse_args(argc, argv, "j", &a);
    if (rc)
        return rc;
    if (a.npos != 1)
        return usage_error("%s: verify takes STORE", "usage");
    streamlog_store *st;
    if ((rc = open_store(a.pos[0], 1, &st)))
        return rc;
    streamlog_verify_report r = {.size = sizeof r};
    int vrc = streamlog_verify(st, &r);
    if (vrc && vrc != STREAMLOG_ECORRUPT)
        return finish(fail(vrc, "verify"), st, NULL);
    if (a.json) {
        const struct {
            const char *key;
            uint64_t n;
        } counts[] = {
            {"channels", r.channels},
            {"damaged_channels", r.damaged_channels},
            {"messages", r.messages},
            {"bytes", r.bytes},
            {"damaged_messages", r.damaged_messages},
            {"orphan_messages", r.orphan_messages},
            {"out_of_range_messages", r.out_of_range_messages},
            {"counter_mismatches", r.counter_mismatches},
            {"groups", r.groups},
            {"damaged_groups", r.damaged_groups},
            {"orphan_groups", r.orphan_groups},
            {"groups_beyond_end", r.groups_beyond_end},
            {"pending", r.pending},
            {"damaged_pending", r.damaged_pending},
            {"orphan_pending", r.orphan_pending},
            {"out_of_range_pending", r.out_of_range_pending},
            {"members", r.members},
            {"damaged_members", r.damaged_members},
            {"orphan_members", r.orphan_members},
        };
        json_t *obj = json_pack("{s:b}", "ok", vrc == 0);
        for (size_t i = 0; obj && i < sizeof counts / sizeof *counts; i++)
            json_object_set_new(obj, counts[i].key, json_integer((json_int_t)counts[i].n));
        rc = print_json(obj);
    } else {
        printf("channels              %llu (%llu damaged)\nmessages              %llu (%llu damaged)\n"
               "payload bytes         %llu\norphan messages       %llu\nout-of-range messages %llu\n"
               "counter mismatches    %llu\n"
               "groups                %llu (%llu damaged, %llu orphaned, %llu past the end)\n"
               "pending messages      %llu (%llu damaged, %llu orphaned, %llu out of range)\n"
               "members               %llu (%llu damaged, %llu orphaned)\n%s\n",
               (unsigned long long)r.channels, (unsigned long long)r.damaged_channels, (unsigned long long)r.messages,
               (unsigned long long)r.damaged_messages, (unsigned long long)r.bytes,
               (unsigned long long)r.orphan_messages, (unsigned long long)r.out_of_range_messages,
               (unsigned long long)r.counter_mismatches, (unsigned long long)r.groups,
               (unsigned long long)r.damaged_groups, (unsigned long long)r.orphan_groups,
               (unsigned long long)r.groups_beyond_end, (unsigned long long)r.pending,
               (unsigned long long)r.damaged_pending, (unsigned long long)r.orphan_pending,
               (unsigned long long)r.out_of_range_pending, (unsigned long long)r.members,
               (unsigned long long)r.damaged_members, (unsigned long long)r.orphan_members, vrc ? "DAMAGED" : "ok");
    }
    if (!rc && vrc)
        rc = fail(vrc, "verify");
    return finish(rc, st, NULL);
}

/* ---- pub ---- */

/* Append each line of stdin (without its newline), with the header block on each. */
static int pub_lines(streamlog_channel *ch, const char *name, const struct parsed *a, uint64_t *first,
                     uint64_t *last, uint64_t *count)
{
    /* each read()'s complete lines go in one commit, so a pipe is fast and an
     * interactive line is stored at once */
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    const void *data[PUB_BATCH_MAX], *hdrs[PUB_BATCH_MAX];
    size_t lens[PUB_BATCH_MAX], hdrs_lens[PUB_BATCH_MAX];
    for (size_t i = 0; i < PUB_BATCH_MAX; i++) {
        hdrs[i] = a->hdrs;
        hdrs_lens[i] = a->hdrs_len;
    }
    int rc = 0, eof = 0;
    while (!rc && buf && !eof) {
        if (len == cap) { /* one line longer than the buffer */
            char *bigger = realloc(buf, cap * 2);
            if (!bigger)
                break;
            buf = bigger;
            cap *= 2;
        }
        ssize_t n = read(STDIN_FILENO, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fprintf(stderr, "streamlog: reading stdin: %s\n", strerror(errno));
            rc = EXIT_IOERR;
            break;
        }
        eof = n == 0;
        len += (size_t)n;
        size_t start = 0;
        while (!rc) {
            size_t nmsg = 0, pos = start;
            while (nmsg < PUB_BATCH_MAX && pos < len) {
                char *nl = memchr(buf + pos, '\n', len - pos);
                if (!nl && !eof)
                    break;
                size_t end = nl ? (size_t)(nl - buf) : len;
                data[nmsg] = buf + pos;
                lens[nmsg++] = end - pos;
                pos = nl ? end + 1 : len;
            }
            if (!nmsg)
                break;
            uint64_t seq;
            if ((rc = streamlog_append_batch_msgs(ch, hdrs, hdrs_lens, data, lens, nmsg, &seq))) {
                rc = fail(rc, name);
                break;
            }
            if (!*count)
                *first = seq;
            *last = seq + nmsg - 1;
            *count += nmsg;
            start = pos;
        }
        memmove(buf, buf + start, len - start);
        len -= start;
    }
    if (!buf || (!rc && !eof)) {
        fprintf(stderr, "streamlog: out of memory reading stdin\n");
        rc = -STREAMLOG_ENOMEM;
    }
    free(buf);
    return rc;
}

static int pub(const struct parsed *a)
{
    if (a->npos != 2 && a->npos != 3)
        return usage_error("%s: pub takes STORE CHANNEL [MESSAGE]", "usage");
    if (a->msg_id && a->npos != 3)
        return usage_error("%s: --msg-id applies to one MESSAGE, not to lines of stdin", "usage");
    streamlog_store *st;
    streamlog_channel *ch = NULL;
    int rc;
    if ((rc = open_store(a->pos[0], 0, &st)))
        return rc;
    if ((rc = streamlog_channel_open(st, a->pos[1], STREAMLOG_CREATE, NULL, &ch)))
        return finish(fail(rc, a->pos[1]), st, ch);
    uint64_t first = 0, last = 0, count = 0;
    int duplicate = 0;
    if (a->npos == 3) {
        const char *msg = a->pos[2];
        if (a->msg_id)
            rc = streamlog_append_once(ch, a->msg_id, a->hdrs, a->hdrs_len, msg, strlen(msg), &first, &duplicate);
        else
            rc = streamlog_append_msg(ch, a->hdrs, a->hdrs_len, msg, strlen(msg), &first);
        if (rc)
            return finish(fail(rc, a->pos[1]), st, ch);
        last = first;
        count = !duplicate;
        if (duplicate)
            fprintf(stderr, "streamlog: message id %s was already stored as sequence %llu; nothing appended\n",
                    a->msg_id, (unsigned long long)first);
    } else if ((rc = pub_lines(ch, a->pos[1], a, &first, &last, &count))) {
        return finish(rc, st, ch);
    }
    if (a->json) {
        json_t *o = json_pack("{s:I, s:I, s:I}", "count", (json_int_t)count, "first_seq", (json_int_t)first,
                              "last_seq", (json_int_t)last);
        if (o && a->msg_id && json_object_set_new(o, "duplicate", json_boolean(duplicate))) {
            json_decref(o);
            o = NULL;
        }
        rc = print_json(o);
    }
    else if (first == last && (count || duplicate))
        printf("%llu\n", (unsigned long long)first);
    else if (count)
        printf("%llu-%llu\n", (unsigned long long)first, (unsigned long long)last);
    if (!rc && fflush(stdout))
        rc = output_error();
    return finish(rc, st, ch);
}

static int cmd_pub(int argc, char **argv)
{
    struct parsed a;
    int rc = parse_args(argc, argv, "jHMY", &a);
    if (rc)
        return rc;
    rc = pub(&a);
    parsed_free(&a);
    return rc;
}

/* ---- cat ---- */

enum format { FORMAT_RAW, FORMAT_JSON, FORMAT_HEX };

static int print_msg(enum format fmt, const streamlog_msg *m)
{
    size_t len;
    const void *data = streamlog_msg_data(m, &len);
    switch (fmt) {
    case FORMAT_RAW:
        if ((len && fwrite(data, 1, len, stdout) != len) || fputc('\n', stdout) == EOF)
            return output_error();
        return 0;
    case FORMAT_JSON: {
        size_t hdrs_len;
        const void *hdrs = streamlog_msg_headers(m, &hdrs_len);
        return print_json(msg_to_json(NULL, streamlog_msg_seq(m), streamlog_msg_time(m), hdrs, hdrs_len, data, len));
    }
    case FORMAT_HEX:
        print_hex(stdout, streamlog_msg_seq(m), streamlog_msg_time(m), data, len);
        return ferror(stdout) ? output_error() : 0;
    }
    return 0;
}

/* Wait until the store's data file changes (a commit by any process), a
 * signal arrives, or a second passes (a safety net should a change be missed). */
static void wait_for_commit(int inotify_fd)
{
    struct pollfd pfd = {.fd = inotify_fd, .events = POLLIN};
    if (poll(&pfd, 1, 1000) > 0) {
        char buf[4096];
        while (read(inotify_fd, buf, sizeof buf) > 0) {
        }
    }
}

static int cmd_cat(int argc, char **argv)
{
    struct parsed a;
    int rc = parse_args(argc, argv, "jfFSLo", &a);
    if (rc)
        return rc;
    if (a.npos != 2)
        return usage_error("%s: cat takes STORE CHANNEL", "usage");
    if (a.have_start > 1)
        return usage_error("%s: give at most one of --from, --since and --last", "usage");
    enum format fmt = a.json ? FORMAT_JSON : FORMAT_RAW;
    if (a.format) {
        if (strcmp(a.format, "raw") == 0 && !a.json)
            fmt = FORMAT_RAW;
        else if (strcmp(a.format, "json") == 0)
            fmt = FORMAT_JSON;
        else if (strcmp(a.format, "hex") == 0 && !a.json)
            fmt = FORMAT_HEX;
        else
            return usage_error("--format %s: use raw, json or hex (--json is --format json)", a.format);
    }
    int start = STREAMLOG_START_FIRST;
    int64_t value = 0;
    uint64_t n;
    if (a.from) {
        if (parse_u64(a.from, &n) || n > INT64_MAX)
            return usage_error("--from %s: not a sequence number", a.from);
        start = STREAMLOG_START_SEQUENCE;
        value = (int64_t)n;
    } else if (a.since) {
        int delta;
        if (parse_since(a.since, &value, &delta))
            return usage_error("--since %s: use Unix ns, 2026-12-04T10:00:00Z or a duration such as 90s, 15m, 2h, 1d",
                               a.since);
        start = delta ? STREAMLOG_START_TIME_DELTA : STREAMLOG_START_TIME;
    } else if (a.last && parse_u64(a.last, &n)) {
        return usage_error("--last %s: not a count", a.last);
    }

    streamlog_store *st;
    streamlog_channel *ch = NULL;
    streamlog_iter *it = NULL;
    if ((rc = open_store(a.pos[0], 1, &st)))
        return rc;
    if ((rc = streamlog_channel_open(st, a.pos[1], 0, NULL, &ch)))
        return finish(fail(rc, a.pos[1]), st, ch);
    if (a.last) {
        streamlog_channel_stats_v2 s;
        if ((rc = channel_stats(ch, &s)))
            return finish(fail(rc, a.pos[1]), st, ch);
        start = n ? STREAMLOG_START_SEQUENCE : STREAMLOG_START_NEW_ONLY;
        value = n && n <= s.last_seq ? (int64_t)(s.last_seq - n + 1) : 1;
    }
    int inotify_fd = -1;
    if (a.follow) {
        /* set up before the iterator opens, so no commit falls between */
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/data.mdb", a.pos[0]);
        inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (inotify_fd < 0 || inotify_add_watch(inotify_fd, path, IN_MODIFY) < 0) {
            fprintf(stderr, "streamlog: cannot watch %s: %s\n", path, strerror(errno));
            if (inotify_fd >= 0)
                close(inotify_fd);
            return finish(EXIT_IOERR, st, ch);
        }
        struct sigaction sa = {.sa_handler = on_signal};
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
    }
    if ((rc = streamlog_iter_open(ch, start, value, &it))) {
        rc = fail(rc, a.pos[1]);
    } else {
        const streamlog_msg *m;
        while (!interrupted) {
            int r = streamlog_iter_next(it, &m);
            if (r == 0) {
                if ((rc = print_msg(fmt, m)))
                    break;
                continue;
            }
            if (r != STREAMLOG_EAGAIN) {
                rc = fail(r, a.pos[1]);
                break;
            }
            if (!a.follow)
                break;
            if (fflush(stdout)) {
                rc = output_error();
                break;
            }
            wait_for_commit(inotify_fd);
        }
    }
    if (!rc && fflush(stdout))
        rc = output_error();
    streamlog_iter_close(it);
    if (inotify_fd >= 0)
        close(inotify_fd);
    return finish(rc, st, ch);
}

/* ---- delete ---- */

static int cmd_delete(int argc, char **argv)
{
    struct parsed a;
    int rc = parse_args(argc, argv, "Y", &a);
    if (rc)
        return rc;
    if (a.npos != 2)
        return usage_error("%s: delete takes STORE CHANNEL", "usage");
    streamlog_store *st;
    if ((rc = open_store(a.pos[0], 0, &st)))
        return rc;
    if ((rc = streamlog_channel_delete(st, a.pos[1])))
        rc = fail(rc, a.pos[1]);
    return finish(rc, st, NULL);
}

static int cmd_purge(int argc, char **argv)
{
    struct parsed a;
    int rc = parse_args(argc, argv, "jUY", &a);
    if (rc)
        return rc;
    if (a.npos != 2)
        return usage_error("%s: purge takes STORE CHANNEL [--upto SEQ]", "usage");
    uint64_t upto = UINT64_MAX, removed = 0;
    if (a.upto && parse_u64(a.upto, &upto))
        return usage_error("--upto %s: not a sequence number", a.upto);
    streamlog_store *st;
    streamlog_channel *ch = NULL;
    if ((rc = open_store(a.pos[0], 0, &st)))
        return rc;
    if ((rc = streamlog_channel_open(st, a.pos[1], 0, NULL, &ch)) ||
        (rc = streamlog_channel_purge(ch, upto, &removed)))
        return finish(fail(rc, a.pos[1]), st, ch);
    if (a.json)
        rc = print_json(json_pack("{s:I}", "removed", (json_int_t)removed));
    else
        printf("%llu\n", (unsigned long long)removed);
    return finish(rc, st, ch);
}

/* ---- export / import ---- */

static int export_channel(streamlog_store *st, const char *name, FILE *out, struct progress *pr)
{
    streamlog_channel *ch;
    streamlog_iter *it;
    const streamlog_msg *m;
    int rc = streamlog_channel_open(st, name, 0, NULL, &ch);
    if (rc)
        return fail(rc, name);
    if ((rc = streamlog_iter_open(ch, STREAMLOG_START_FIRST, 0, &it))) {
        streamlog_channel_close(ch);
        return fail(rc, name);
    }
    /* up to the last message when the export started, even if writers go on */
    streamlog_channel_stats_v2 s;
    if ((rc = channel_stats(ch, &s)))
        rc = fail(rc, name);
    while (!rc && !interrupted) {
        int r = streamlog_iter_next(it, &m);
        if (r == STREAMLOG_EAGAIN)
            break;
        if (r) {
            rc = fail(r, name);
            break;
        }
        size_t len, hdrs_len;
        const void *data = streamlog_msg_data(m, &len), *hdrs = streamlog_msg_headers(m, &hdrs_len);
        json_t *o = msg_to_json(name, streamlog_msg_seq(m), streamlog_msg_time(m), hdrs, hdrs_len, data, len);
        if (!o) {
            rc = fail(STREAMLOG_ENOMEM, name);
            break;
        }
        int werr = json_dumpf(o, out, JSON_COMPACT) || fputc('\n', out) == EOF;
        json_decref(o);
        if (werr) {
            rc = output_error();
            break;
        }
        progress_add(pr, 1, 1);
        if (streamlog_msg_seq(m) >= s.last_seq)
            break;
    }
    streamlog_iter_close(it);
    streamlog_channel_close(ch);
    return rc;
}

static int cmd_export(int argc, char **argv)
{
    struct parsed a;
    int rc = parse_args(argc, argv, "O", &a);
    if (rc)
        return rc;
    if (a.npos < 1)
        return usage_error("%s: export takes STORE [CHANNEL...]", "usage");
    streamlog_store *st;
    if ((rc = open_store(a.pos[0], 1, &st)))
        return rc;
    FILE *out = stdout;
    if (a.output && !(out = fopen(a.output, "w"))) {
        fprintf(stderr, "streamlog: %s: %s\n", a.output, strerror(errno));
        return finish(EXIT_IOERR, st, NULL);
    }
    /* the channels to export: those named, or all of them */
    char **names = NULL;
    size_t count = 0;
    uint64_t total = 0;
    char name[256] = "";
    if (a.npos > 1) {
        names = calloc((size_t)a.npos - 1, sizeof *names);
        for (int i = 1; names && i < a.npos; i++)
            names[count++] = strdup(a.pos[i]);
    } else {
        while ((rc = streamlog_channel_list_next(st, name, name, sizeof name)) == 0) {
            char **more = realloc(names, (count + 1) * sizeof *names);
            if (!more)
                break;
            names = more;
            names[count++] = strdup(name);
        }
        rc = rc == STREAMLOG_ENOTFOUND ? 0 : rc ? fail(rc, "listing channels") : fail(STREAMLOG_ENOMEM, "export");
    }
    for (size_t i = 0; !rc && i < count; i++) {
        streamlog_channel *ch;
        streamlog_channel_stats_v2 s;
        if (!names[i]) {
            rc = fail(STREAMLOG_ENOMEM, "export");
        } else if ((rc = streamlog_channel_open(st, names[i], 0, NULL, &ch)) == 0) {
            if (channel_stats(ch, &s) == 0)
                total += s.msgs;
            streamlog_channel_close(ch);
        } else {
            rc = fail(rc, names[i]);
        }
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    struct progress pr;
    progress_start(&pr, "exported", total);
    for (size_t i = 0; !rc && i < count; i++)
        rc = export_channel(st, names[i], out, &pr);
    progress_end(&pr);
    if (!rc && interrupted) {
        fprintf(stderr, "streamlog: export interrupted\n");
        rc = 128 + SIGINT;
    }
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
    if ((out != stdout ? fclose(out) : fflush(out)) && !rc)
        rc = output_error();
    return finish(rc, st, NULL);
}

/* Messages of one channel read from the import file, appended in one commit. */
struct batch {
    char channel[256];
    uint64_t first_seq; /* the file's sequence of the first message */
    size_t first_line;  /* the input line of the first message */
    size_t n, bytes;
    int64_t times[IMPORT_BATCH_MSGS];
    void *hdrs[IMPORT_BATCH_MSGS]; /* NULL when the message has no header block */
    size_t hdrs_lens[IMPORT_BATCH_MSGS];
    void *data[IMPORT_BATCH_MSGS];
    size_t lens[IMPORT_BATCH_MSGS];
};

static void batch_clear(struct batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free(b->hdrs[i]);
        free(b->data[i]);
    }
    b->n = b->bytes = 0;
}

struct importer {
    streamlog_store *st;
    streamlog_channel *ch; /* the channel of the last batch */
    int renumber;
    uint64_t msgs, renumbered, untimed;
};

static int import_flush(struct importer *im, struct batch *b)
{
    if (!b->n)
        return 0;
    int rc;
    const char *cur = NULL;
    if (im->ch)
        streamlog_channel_name(im->ch, &cur);
    if (!cur || strcmp(cur, b->channel) != 0) {
        streamlog_channel_close(im->ch);
        im->ch = NULL;
        if ((rc = streamlog_channel_open(im->st, b->channel, STREAMLOG_CREATE, NULL, &im->ch)))
            return fail(rc, b->channel);
    }
    const void *const *hdrs = (const void *const *)b->hdrs, *const *data = (const void *const *)b->data;
    /* the library names what is wrong (a header block, a payload's size) but not which message */
    char what[sizeof b->channel + 64];
    snprintf(what, sizeof what, "import: channel %s, input lines %zu-%zu", b->channel, b->first_line,
             b->first_line + b->n - 1);
    if (im->renumber) {
        uint64_t first;
        if ((rc = streamlog_append_batch_msgs(im->ch, hdrs, b->hdrs_lens, data, b->lens, b->n, &first)))
            return fail(rc, what);
        if (first != b->first_seq)
            im->renumbered += b->n;
    } else {
        /* the library refuses this too (ECONFLICT); checked first to name the way out */
        streamlog_channel_stats_v2 s;
        if ((rc = channel_stats(im->ch, &s)))
            return fail(rc, b->channel);
        if (s.msgs ? b->first_seq != s.last_seq + 1 : b->first_seq <= s.last_seq) {
            if (s.msgs)
                fprintf(stderr,
                        "streamlog: %s: the input starts at sequence %llu but the channel's next is %llu; sequences "
                        "are kept from the next one or in a channel holding no messages (--renumber appends anyway)\n",
                        what, (unsigned long long)b->first_seq, (unsigned long long)(s.last_seq + 1));
            else
                fprintf(stderr,
                        "streamlog: %s: the input starts at sequence %llu, not above the channel's last, %llu "
                        "(its messages were removed); --renumber appends anyway\n",
                        what, (unsigned long long)b->first_seq, (unsigned long long)s.last_seq);
            return -STREAMLOG_ECONFLICT;
        }
        if ((rc = streamlog_import(im->ch, b->first_seq, b->times, hdrs, b->hdrs_lens, data, b->lens, b->n)))
            return fail(rc, what);
    }
    im->msgs += b->n;
    batch_clear(b);
    return 0;
}

static int import_error(const char *src, size_t line, const char *why)
{
    fprintf(stderr, "streamlog: import: %s:%zu: %s\n", src, line, why);
    return EXIT_DATAERR;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* One line's message, checked; its buffers move into the batch or are freed. */
struct import_line {
    const char *channel;
    uint64_t seq;
    int64_t time; /* -1: the line has none */
    void *hdrs, *data;
    size_t hdrs_len, len;
};

static int parse_import_line(json_t *o, struct import_line *l, char *why, size_t whycap)
{
    const json_t *jch = json_object_get(o, "channel"), *jseq = json_object_get(o, "seq"),
                 *jtime = json_object_get(o, "time");
    if (!json_is_object(o) || !json_is_string(jch) || json_string_length(jch) >= sizeof ((struct batch *)0)->channel ||
        !json_is_integer(jseq) || json_integer_value(jseq) < 1) {
        snprintf(why, whycap, "needs an object with \"channel\" (a name) and \"seq\" (>= 1)");
        return -1;
    }
    if (jtime && (!json_is_integer(jtime) || json_integer_value(jtime) < 0)) {
        snprintf(why, whycap, "\"time\" must be Unix nanoseconds (an integer >= 0)");
        return -1;
    }
    l->channel = json_string_value(jch);
    l->seq = (uint64_t)json_integer_value(jseq);
    l->time = jtime ? (int64_t)json_integer_value(jtime) : -1;
    if (json_bytes(o, "headers", "headers_base64", 0, &l->hdrs, &l->hdrs_len, why, whycap))
        return -1;
    if (json_bytes(o, "data", "data_base64", 1, &l->data, &l->len, why, whycap)) {
        free(l->hdrs);
        return -1;
    }
    if (l->hdrs && !l->hdrs_len) { /* an empty block is no block */
        free(l->hdrs);
        l->hdrs = NULL;
    }
    return 0;
}

static int cmd_import(int argc, char **argv)
{
    struct parsed a;
    int rc = parse_args(argc, argv, "rY", &a);
    if (rc)
        return rc;
    if (a.npos != 1 && a.npos != 2)
        return usage_error("%s: import takes STORE [FILE]", "usage");
    const char *src = a.npos == 2 ? a.pos[1] : "-";
    FILE *in = strcmp(src, "-") == 0 ? stdin : fopen(src, "r");
    if (!in) {
        fprintf(stderr, "streamlog: %s: %s\n", src, strerror(errno));
        return EXIT_IOERR;
    }
    struct importer im = {.renumber = a.renumber};
    if ((rc = open_store(a.pos[0], 0, &im.st))) {
        if (in != stdin)
            fclose(in);
        return rc;
    }
    struct batch *b = calloc(1, sizeof *b);
    struct stat sb;
    /* a regular file's size gives the progress bar its end */
    uint64_t total = fstat(fileno(in), &sb) == 0 && S_ISREG(sb.st_mode) ? (uint64_t)sb.st_size : 0;
    struct progress pr;
    progress_start(&pr, "imported", total);
    char *line = NULL, last_channel[sizeof b->channel] = "";
    size_t cap = 0, lineno = 0;
    ssize_t len;
    int64_t last_time = 0; /* of the previous line of last_channel */
    if (!b)
        rc = fail(STREAMLOG_ENOMEM, "import");
    while (!rc && (len = getline(&line, &cap, in)) >= 0) {
        lineno++;
        json_error_t jerr;
        json_t *o = json_loadb(line, (size_t)len, 0, &jerr);
        struct import_line l;
        char why[128];
        if (!o) {
            rc = import_error(src, lineno, jerr.text);
        } else if (parse_import_line(o, &l, why, sizeof why)) {
            rc = import_error(src, lineno, why);
        } else {
            if (strcmp(last_channel, l.channel) != 0) {
                snprintf(last_channel, sizeof last_channel, "%s", l.channel);
                last_time = 0;
            }
            /* the library keeps times (without --renumber) only in order and not in the future */
            int64_t now = now_ns();
            if (l.time < 0) {
                l.time = now > last_time ? now : last_time;
                im.untimed++;
            } else if (!im.renumber && l.time < last_time) {
                rc = import_error(src, lineno, "\"time\" is before the previous message's of this channel");
            } else if (!im.renumber && l.time > now) {
                rc = import_error(src, lineno, "\"time\" is in the future");
            }
            last_time = l.time;
            /* a new channel, a gap in sequences or a full batch starts a new batch */
            if (!rc && b->n &&
                (strcmp(b->channel, l.channel) != 0 || l.seq != b->first_seq + b->n || b->n == IMPORT_BATCH_MSGS ||
                 b->bytes + l.len + l.hdrs_len > IMPORT_BATCH_BYTES))
                rc = import_flush(&im, b);
            if (!rc) {
                if (!b->n) {
                    snprintf(b->channel, sizeof b->channel, "%s", l.channel);
                    b->first_seq = l.seq;
                    b->first_line = lineno;
                }
                b->times[b->n] = l.time;
                b->hdrs[b->n] = l.hdrs;
                b->hdrs_lens[b->n] = l.hdrs_len;
                b->data[b->n] = l.data;
                b->lens[b->n++] = l.len;
                b->bytes += l.len + l.hdrs_len;
            } else {
                free(l.hdrs);
                free(l.data);
            }
        }
        json_decref(o);
        progress_add(&pr, (uint64_t)len, 1);
    }
    if (!rc && ferror(in)) {
        fprintf(stderr, "streamlog: reading %s: %s\n", src, strerror(errno));
        rc = EXIT_IOERR;
    }
    if (!rc && b)
        rc = import_flush(&im, b);
    progress_end(&pr);
    if (b)
        batch_clear(b);
    free(b);
    free(line);
    if (in != stdin)
        fclose(in);
    if (!rc && im.renumber)
        fprintf(stderr, "streamlog: imported %llu message(s)%s; headers as in the input, times those of the import\n",
                (unsigned long long)im.msgs,
                im.renumbered ? ", some under new sequences" : ", sequences as in the input");
    else if (!rc && im.untimed)
        fprintf(stderr, "streamlog: imported %llu message(s), sequences, times and headers as in the input; "
                        "%llu line(s) without \"time\" got the time of the import\n",
                (unsigned long long)im.msgs, (unsigned long long)im.untimed);
    else if (!rc)
        fprintf(stderr, "streamlog: imported %llu message(s), sequences, times and headers as in the input\n",
                (unsigned long long)im.msgs);
    return finish(rc, im.st, im.ch);
}

/* ---- main ---- */

static const char usage_text[] =
    "usage: streamlog COMMAND STORE [ARGS]\n"
    "  ls STORE [--json]                      channels: messages, bytes, first/last sequence and time\n"
    "  stat STORE [CHANNEL] [--json]          store or channel statistics\n"
    "  pub STORE CHANNEL [MESSAGE] [--header 'Name: value']... [--msg-id ID] [--json]\n"
    "                                         append MESSAGE, or each line of stdin; --msg-id: once\n"
    "  cat STORE CHANNEL [--from SEQ | --since TIME | --last N] [--follow] [--format raw|json|hex] [--json]\n"
    "  delete STORE CHANNEL                   delete a channel and its messages\n"
    "  verify STORE [--json]                  check every record (checksums, counters)\n"
    "  durables STORE CHANNEL [--json]        durables and queue groups: position, lag, pending, members\n"
    "  purge STORE CHANNEL [--upto SEQ] [--json]  remove messages up to SEQ (all), numbering kept\n"
    "  export STORE [CHANNEL...] [--output FILE]   JSON lines: channel, seq, time, headers, data\n"
    "  import STORE [FILE] [--renumber]       append JSON lines written by export, keeping seq, time, headers\n"
    "Writing commands take --sync always|interval|none (default always). Read commands open the\n"
    "store read-only. Exit status: 0, the library's error code negated\n"
    "(2 = STREAMLOG_ENOTFOUND ...), 64 usage, 65 bad import input, 74 output error. See streamlog(1).\n";

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage_error("%s: no command", "usage");
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("streamlog (libstreamlog %s)\n", streamlog_version());
        return 0;
    }
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = {{"ls", cmd_ls},         {"stat", cmd_stat},     {"pub", cmd_pub},     {"cat", cmd_cat},
                {"delete", cmd_delete}, {"export", cmd_export}, {"import", cmd_import},
                {"verify", cmd_verify}, {"purge", cmd_purge}, {"durables", cmd_durables}};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (strcmp(cmd, cmds[i].name) == 0)
            return cmds[i].fn(argc - 1, argv + 1);
    return usage_error("unknown command '%s'", cmd);
}
