/*
 * bench.h - shared pieces of streamlog-bench.
 *
 * The benchmark runs the same workloads on several "engines": libstreamlog
 * itself, raw LMDB doing the same work by hand, and (when available) SQLite
 * in WAL mode. Each engine implements the operations below; the rows in
 * main.c are written once against this interface, so every engine does
 * exactly the same work in the same run.
 *
 * Every engine operation either succeeds or ends the program through die():
 * a benchmark that silently skips a failed write would report nonsense.
 */
#ifndef STREAMLOG_BENCH_H
#define STREAMLOG_BENCH_H

#include <stddef.h>
#include <stdint.h>

#define MSG_SIZE   128   /* payload bytes of every message */
#define BATCH_SIZE 1000  /* messages per commit in the batched rows */
#define CHANNEL_ID 1     /* channel id in raw LMDB and SQLite keys */

enum { DURABLE_NONE = 0, DURABLE_FULL = 1, DURABLE_LAZY = 2 };

typedef struct engine {
    const char *name;  /* column heading */

    /* Open (creating if needed) the store in directory dir, which exists.
     * durable: DURABLE_FULL, every commit is synced to disk before it
     * returns; DURABLE_LAZY, commits are not synced one by one but a power
     * loss cannot corrupt the store (streamlog SYNC_INTERVAL, LMDB
     * MDB_NOMETASYNC, SQLite WAL synchronous=NORMAL); 0, commits go to the
     * page cache only. */
    void *(*open)(const char *dir, int durable);
    /* Sync and close. */
    void  (*close)(void *db);

    /* One message in one commit. */
    void  (*append)(void *db, const void *data, size_t len);
    /* n messages in one commit. */
    void  (*append_batch)(void *db, const void *const *data, const size_t *lens, size_t n);

    /* A writer for one of several threads appending to the same channel at
     * once; opened and closed outside the timed section. */
    void *(*writer_open)(void *db);
    void  (*writer_append)(void *w, const void *data, size_t len);
    void  (*writer_close)(void *w);

    /* Read every message of the channel in order, touching each payload;
     * returns the count and adds a checksum of what was read to *sum. */
    uint64_t (*scan)(void *db, uint64_t *sum);

    /* Commit times (Unix ns) of the first and last message. */
    void  (*time_range)(void *db, int64_t *first, int64_t *last);
    /* Position at the first message at or after Unix time t (ns) and read
     * it, as a reader opening at a time would; *found gets its time. The
     * returned handle is released by seek_close, outside the timing. */
    void *(*seek_open)(void *db, int64_t t, int64_t *found);
    void  (*seek_close)(void *db, void *s);
} engine;

extern const engine engine_streamlog;
extern const engine engine_lmdb;
#ifdef HAVE_SQLITE3
extern const engine engine_sqlite;
#endif

/* subs.c: the subscription rows, printed after the table */
void bench_subs(const char *dir, int quick, int replay, int latency, int acks, int queue);
/* subs.c: row 13, n subscriptions on one channel, `runs` times */
void bench_subs_scale(const char *dir, int n, int runs);

/* util.c */
void     die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
int64_t  now_ns(void);        /* CLOCK_MONOTONIC, for timing */
int64_t  wall_ns(void);       /* CLOCK_REALTIME, for message times */
double   median(const double *v, int n);
double   percentile(double *v, size_t n, double p);  /* sorts v */
uint64_t rng_next(uint64_t *state);                   /* xorshift64* */

/* BATCH_SIZE distinct pseudo-random payloads of MSG_SIZE bytes. */
void payloads_init(void);
extern const void *payload_ptr[BATCH_SIZE];
extern size_t      payload_len[BATCH_SIZE];

void make_dir(const char *path);
void remove_tree(const char *path);     /* rm -rf */
void settle(void);                       /* flush dirty pages before a timed run */
void print_machine(const char *dir);

/* Big-endian helpers for raw LMDB keys and values. */
void     put_be64(unsigned char *p, uint64_t v);
uint64_t get_be64(const unsigned char *p);

#endif
