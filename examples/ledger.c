/* An event-sourced ledger on libstreamlog.
 *
 * The channel "ledger" holds events; the balances are what folding them
 * gives. A command (a deposit, a transfer) rebuilds the state, checks it
 * (no overdraft), and appends its events -- with their type and the
 * command's id in headers -- all or none, and none if another writer
 * appended since the state was read (then it rebuilds and tries again).
 * A command retried under the same id finds its id in the state and stores
 * nothing twice. A snapshot of the balances goes to "ledger.snapshots", and
 * the events it covers are purged; rebuilding starts from the snapshot.
 *
 *   usage: ledger STORE_DIR      (exits 1 if a balance is not as expected)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "streamlog.h"

#define ACCOUNTS 3
#define MAX_IDS 64

struct state {
    uint64_t last_seq; /* of the last event folded in */
    int64_t balance[ACCOUNTS];
    char done[MAX_IDS][32]; /* ids of the commands applied */
    int ndone;
};

static void check(int rc, const char *what)
{
    if (rc) {
        fprintf(stderr, "ledger: %s: %s (%s)\n", what, streamlog_errname(rc), streamlog_errmsg());
        exit(1);
    }
}

static void fold(struct state *s, const streamlog_msg *m)
{
    const void *v;
    size_t vlen, len;
    char type[16] = "", id[32] = "";
    if (streamlog_msg_header(m, "Type", &v, &vlen) == STREAMLOG_OK && vlen < sizeof type)
        memcpy(type, v, vlen);
    if (streamlog_msg_header(m, "Command-Id", &v, &vlen) == STREAMLOG_OK && vlen < sizeof id)
        memcpy(id, v, vlen);
    const char *data = streamlog_msg_data(m, &len);
    int acct = 0;
    long long amount = 0;
    char buf[64] = "";
    memcpy(buf, data, len < sizeof buf - 1 ? len : sizeof buf - 1);
    sscanf(buf, "%d %lld", &acct, &amount);
    if (acct >= 0 && acct < ACCOUNTS)
        s->balance[acct] += strcmp(type, "Withdrawn") == 0 ? -amount : amount;
    if (id[0] && (s->ndone == 0 || strcmp(s->done[s->ndone - 1], id) != 0) && s->ndone < MAX_IDS)
        snprintf(s->done[s->ndone++], sizeof s->done[0], "%s", id);
    s->last_seq = streamlog_msg_seq(m);
}

/* The state: the last snapshot, then every event after it. */
static void rebuild(streamlog_channel *events, streamlog_channel *snapshots, struct state *s)
{
    memset(s, 0, sizeof *s);
    streamlog_iter *it;
    const streamlog_msg *m;
    check(streamlog_iter_open(snapshots, STREAMLOG_START_LAST_RECEIVED, 0, &it), "reading the last snapshot");
    if (streamlog_iter_next(it, &m) == STREAMLOG_OK) {
        size_t len;
        const void *data = streamlog_msg_data(m, &len);
        if (len == sizeof *s)
            memcpy(s, data, sizeof *s);
    }
    streamlog_iter_close(it);
    check(streamlog_iter_open(events, STREAMLOG_START_SEQUENCE, (int64_t)s->last_seq + 1, &it), "replaying");
    while (streamlog_iter_next(it, &m) == STREAMLOG_OK)
        fold(s, m);
    streamlog_iter_close(it);
}

/* Move `amount` from account `from` (-1: a deposit) to `to`, as command `id`.
 * Returns 0 when applied (now or by an earlier try), -1 when refused. */
static int transfer(streamlog_channel *events, streamlog_channel *snapshots, const char *id, int from, int to,
                    long long amount)
{
    for (;;) {
        struct state s;
        rebuild(events, snapshots, &s);
        for (int i = 0; i < s.ndone; i++)
            if (strcmp(s.done[i], id) == 0)
                return 0; /* a retry: applied before */
        if (from >= 0 && s.balance[from] < amount)
            return -1; /* no overdraft */
        /* the events: Withdrawn from `from` (not for a deposit), Deposited to `to` */
        static const char *const types[2] = {"Withdrawn", "Deposited"};
        const int accounts[2] = {from, to};
        char hdr[2][128], body[2][64];
        const void *hdrs[2], *data[2];
        size_t hlens[2], lens[2], n = 0;
        for (int k = from >= 0 ? 0 : 1; k < 2; k++, n++) {
            hlens[n] = (size_t)snprintf(hdr[n], sizeof hdr[n], "NATS/1.0\r\nType: %s\r\nCommand-Id: %s\r\n\r\n",
                                        types[k], id);
            lens[n] = (size_t)snprintf(body[n], sizeof body[n], "%d %lld", accounts[k], amount);
            hdrs[n] = hdr[n], data[n] = body[n];
        }
        int rc = streamlog_append_batch_msgs_expect(events, hdrs, hlens, data, lens, n, s.last_seq, NULL);
        if (rc == STREAMLOG_OK)
            return 0;
        if (rc != STREAMLOG_ECONFLICT)
            check(rc, "appending a command's events");
        /* ECONFLICT: another writer came first; decide again on the new state */
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: ledger STORE_DIR\n");
        return 2;
    }
    streamlog_store *st;
    streamlog_channel *events, *snapshots;
    check(streamlog_open(argv[1], NULL, &st), "opening the store");
    for (const char *const *name = (const char *const[]){"ledger", "ledger.snapshots", NULL}; *name; name++) {
        int gone = streamlog_channel_delete(st, *name); /* each run starts afresh */
        if (gone != STREAMLOG_ENOTFOUND)
            check(gone, "deleting an earlier run's channel");
    }
    check(streamlog_channel_open(st, "ledger", STREAMLOG_CREATE, NULL, &events), "opening ledger");
    check(streamlog_channel_open(st, "ledger.snapshots", STREAMLOG_CREATE, NULL, &snapshots), "opening snapshots");

    transfer(events, snapshots, "dep-1", -1, 0, 100);
    transfer(events, snapshots, "tx-1", 0, 1, 30);
    transfer(events, snapshots, "tx-1", 0, 1, 30); /* retried after a timeout: stored once */
    int refused = transfer(events, snapshots, "tx-2", 1, 2, 500) != 0;

    /* another writer appends between this command's read and its append */
    struct state seen;
    rebuild(events, snapshots, &seen);
    check(streamlog_append_batch_msgs_expect(events, NULL, NULL, (const void *[]){"2 5"}, (size_t[]){3}, 1,
                                             seen.last_seq, NULL), "the other writer's deposit");
    int rc = streamlog_append_batch_msgs_expect(events, NULL, NULL, (const void *[]){"2 7"}, (size_t[]){3}, 1,
                                                seen.last_seq, NULL);
    printf("an append on a stale state: %s\n", streamlog_errname(rc));

    /* snapshot, then drop the events it covers: rebuilding starts from it */
    struct state s;
    rebuild(events, snapshots, &s);
    check(streamlog_append(snapshots, &s, sizeof s, NULL), "writing a snapshot");
    uint64_t removed;
    check(streamlog_channel_purge(events, s.last_seq, &removed), "purging covered events");
    transfer(events, snapshots, "tx-3", 0, 2, 20);

    rebuild(events, snapshots, &s);
    printf("balances: %" PRId64 " %" PRId64 " %" PRId64 " after %" PRIu64 " events (%" PRIu64
           " folded into a snapshot); overdraft refused: %s\n",
           s.balance[0], s.balance[1], s.balance[2], s.last_seq, removed, refused ? "yes" : "no");
    streamlog_channel_close(snapshots);
    streamlog_channel_close(events);
    check(streamlog_close(st), "closing the store");
    int ok = s.balance[0] == 50 && s.balance[1] == 30 && s.balance[2] == 25 && refused && rc == STREAMLOG_ECONFLICT;
    return ok ? 0 : 1;
}
