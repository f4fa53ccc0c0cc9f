/*
 * streamlog-bench - libstreamlog's throughput and latency for 128-byte
 * messages, side by side with raw LMDB doing the same work and SQLite in WAL
 * mode, all measured in one run in fresh directories on the same disk.
 *
 * Every row is run several times, engines interleaved within each run so
 * that drift hits them alike, and the median is reported. Ratios compare
 * numbers from this same run. Progress and per-run figures go to stderr; the
 * table goes to stdout.
 *
 *   streamlog-bench [--quick] [--dir DIR] [--rows LIST]
 */
#define _GNU_SOURCE
#include "bench.h"

#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lmdb.h>
#include <streamlog.h>
#ifdef HAVE_SQLITE3
#include <sqlite3.h>
#endif

#define NROWS 18
#define MAX_ENG    3    /* table columns: streamlog, raw LMDB, SQLite */
#define MAX_RUNS   9

/* ---------------------------------------------------------------- setup */

typedef struct config {
    int      runs;            /* repetitions of the fast rows */
    int      slow_runs;       /* repetitions of the durable and seek rows */
    uint64_t batch_msgs;      /* row 1 */
    uint64_t single_msgs;     /* row 2 */
    uint64_t durable_msgs;    /* row 3 */
    int      threads;         /* row 4 */
    uint64_t per_thread;      /* row 4, messages per thread */
    uint64_t replay_msgs;     /* row 5 */
    uint64_t big_msgs;        /* rows 6 and 7: size of the big channel */
    int      seeks;           /* row 6, seeks per run */
    uint64_t big_single_msgs; /* row 7, one per commit */
    uint64_t big_batch_msgs;  /* row 7, batched */
    uint64_t nosync_per_thread; /* row 11, messages per thread */
    uint64_t pipe_msgs;       /* row 14, durable pipelined appends */
    uint64_t cost_msgs;       /* rows 15-17: appends, reads and naks measured */
} config;

static const config full_config = {
    .runs = 5, .slow_runs = 3,
    .batch_msgs = 1000000, .single_msgs = 200000, .durable_msgs = 2000,
    .threads = 16, .per_thread = 500, .replay_msgs = 1000000,
    .big_msgs = 10000000, .seeks = 10000,
    .big_single_msgs = 100000, .big_batch_msgs = 500000,
    .nosync_per_thread = 20000,
    .pipe_msgs = 50000, .cost_msgs = 100000,
};

static const config quick_config = {
    .runs = 3, .slow_runs = 3,
    .batch_msgs = 100000, .single_msgs = 20000, .durable_msgs = 300,
    .threads = 16, .per_thread = 50, .replay_msgs = 100000,
    .big_msgs = 1000000, .seeks = 2000,
    .big_single_msgs = 10000, .big_batch_msgs = 100000,
    .nosync_per_thread = 2000,
    .pipe_msgs = 5000, .cost_msgs = 10000,
};

static const engine *engines[MAX_ENG] = {
    &engine_streamlog,
    &engine_lmdb,
#ifdef HAVE_SQLITE3
    &engine_sqlite,
#endif
};
static int neng;                /* engines present */

static char root_dir[PATH_MAX]; /* our temporary directory */
static int  dir_counter;

/* A new, empty directory under root_dir. */
static void new_dir(char out[PATH_MAX], const char *what)
{
    if (snprintf(out, PATH_MAX, "%s/%s-%d", root_dir, what, ++dir_counter) >= PATH_MAX)
        die("directory name too long under %s", root_dir);
    make_dir(out);
}

static void cleanup_root(void)
{
    if (root_dir[0])
        remove_tree(root_dir);
}

/* Interrupted: remove the stores (gigabytes in a full run), then die of the
 * same signal. Not async-signal-safe, but the program is ending anyway. */
static void on_signal(int sig)
{
    cleanup_root();
    signal(sig, SIG_DFL);
    raise(sig);
}

/* ---------------------------------------------------------------- table */

typedef struct trow {
    char label[48];
    char cell[MAX_ENG][32];
    char ratio[16];
    char target[48];
    char met[8];
} trow;

static trow table[40];
static int  ntable;

static trow *add_row(const char *label)
{
    trow *r;
    if (ntable == (int)(sizeof table / sizeof table[0]))
        die("too many table rows");
    r = &table[ntable++];
    memset(r, 0, sizeof *r);
    snprintf(r->label, sizeof r->label, "%s", label);
    for (int e = 0; e < MAX_ENG; e++)
        snprintf(r->cell[e], sizeof r->cell[e], "%s", e < neng ? "" : "n/a");
    return r;
}

static void fmt_rate(char *out, size_t size, double per_s)
{
    if (per_s >= 1e6)
        snprintf(out, size, "%.2f M/s", per_s / 1e6);
    else if (per_s >= 1e3)
        snprintf(out, size, "%.1f k/s", per_s / 1e3);
    else
        snprintf(out, size, "%.0f /s", per_s);
}

static const char *fmt_count(uint64_t n)
{
    static char buf[16][24];  /* a few may appear in one printf */
    static int next;
    char *b = buf[next++ % 16];
    if (n >= 1000000 && n % 1000000 == 0)
        snprintf(b, 24, "%lluM", (unsigned long long)(n / 1000000));
    else if (n >= 1000 && n % 1000 == 0)
        snprintf(b, 24, "%lluk", (unsigned long long)(n / 1000));
    else
        snprintf(b, 24, "%llu", (unsigned long long)n);
    return b;
}

/* Fill a row's cells with rates, and its ratio column with streamlog / LMDB. */
static void set_rates(trow *r, const double *rate)
{
    for (int e = 0; e < neng; e++)
        fmt_rate(r->cell[e], sizeof r->cell[e], rate[e]);
    snprintf(r->ratio, sizeof r->ratio, "%.2fx", rate[0] / rate[1]);
}

static void set_target(trow *r, int met, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_target(trow *r, int met, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->target, sizeof r->target, fmt, ap);
    va_end(ap);
    snprintf(r->met, sizeof r->met, "%s", met ? "yes" : "NO");
}

static void print_table(void)
{
    static const char *heads[MAX_ENG] = { "streamlog", "raw LMDB", "SQLite WAL" };
    char line[256];
    int width;

    width = snprintf(line, sizeof line, "%-36s | %-17s | %-17s | %-17s | %-8s | %-28s | %s",
                     "row", heads[0], heads[1], heads[2], "vs LMDB", "target", "met?");
    printf("\n%s\n", line);
    for (int i = 0; i < width; i++)
        putchar('-');
    putchar('\n');
    for (int i = 0; i < ntable; i++) {
        trow *r = &table[i];
        printf("%-36s | %-17s | %-17s | %-17s | %-8s | %-28s | %s\n", r->label, r->cell[0],
               r->cell[1], r->cell[2], r->ratio, r->target, r->met);
    }
}

/* ---------------------------------------------------------------- workloads */

static double seconds(int64_t ns)
{
    return (double)ns / 1e9;
}

/* Append n payloads to an open store, one per commit or BATCH_SIZE per
 * commit; returns messages per second. */
static double append_rate(const engine *e, void *db, uint64_t n, int batched)
{
    int64_t t0;

    settle();
    t0 = now_ns();
    if (batched) {
        for (uint64_t i = 0; i < n; i += BATCH_SIZE) {
            size_t k = n - i < BATCH_SIZE ? (size_t)(n - i) : BATCH_SIZE;
            e->append_batch(db, payload_ptr, payload_len, k);
        }
    } else {
        for (uint64_t i = 0; i < n; i++)
            e->append(db, payload_ptr[i % BATCH_SIZE], payload_len[i % BATCH_SIZE]);
    }
    return (double)n / seconds(now_ns() - t0);
}

/* The same on a store created for it in a fresh directory. */
static double fresh_append_rate(const engine *e, uint64_t n, int batched, int durable)
{
    char dir[PATH_MAX];
    void *db;
    double rate;

    new_dir(dir, "append");
    db = e->open(dir, durable);
    rate = append_rate(e, db, n, batched);
    e->close(db);
    remove_tree(dir);
    return rate;
}

static void progress_rates(const char *what, int run, const double *rate)
{
    char buf[32];
    fprintf(stderr, "  %s, run %d:", what, run + 1);
    for (int e = 0; e < neng; e++) {
        fmt_rate(buf, sizeof buf, rate[e]);
        fprintf(stderr, "  %s %s", engines[e]->name, buf);
    }
    fputc('\n', stderr);
}

/* Median rates of fresh-store appends over several runs. */
static void measure_appends(const char *what, uint64_t n, int batched, int durable, int runs,
                            double *med)
{
    double rate[MAX_ENG][MAX_RUNS];

    fprintf(stderr, "%s: %s messages x %d runs\n", what, fmt_count(n), runs);
    for (int run = 0; run < runs; run++) {
        double this_run[MAX_ENG];
        for (int e = 0; e < neng; e++)
            this_run[e] = rate[e][run] = fresh_append_rate(engines[e], n, batched, durable);
        progress_rates(what, run, this_run);
    }
    for (int e = 0; e < neng; e++)
        med[e] = median(rate[e], runs);
}

typedef struct writer_arg {
    const engine      *e;
    void              *w;
    uint64_t           n;
    pthread_barrier_t *start;
} writer_arg;

static void *writer_main(void *p)
{
    writer_arg *a = p;
    pthread_barrier_wait(a->start);
    for (uint64_t i = 0; i < a->n; i++)
        a->e->writer_append(a->w, payload_ptr[i % BATCH_SIZE], payload_len[i % BATCH_SIZE]);
    return NULL;
}

/* The id of the last commit of the closed LMDB environment in dir. */
static uint64_t lmdb_last_txnid(const char *dir)
{
    MDB_env *env;
    MDB_envinfo info;
    if (mdb_env_create(&env) || mdb_env_open(env, dir, MDB_RDONLY, 0644) || mdb_env_info(env, &info))
        die("cannot read the LMDB environment in %s", dir);
    mdb_env_close(env);
    return info.me_last_txnid;
}

/* Appends from several threads at once to one channel of a fresh store;
 * returns the total messages per second. With commits non-NULL (LMDB-based
 * engines only), also how many LMDB commits the appends took. */
static double threaded_append_rate(const engine *e, int threads, uint64_t per_thread, int durable,
                                   uint64_t *commits)
{
    char dir[PATH_MAX];
    pthread_t tid[64];
    writer_arg arg[64];
    pthread_barrier_t start;
    void *db;
    int64_t t0, t1;

    if (threads > 64)
        die("at most 64 threads");
    new_dir(dir, "threads");
    db = e->open(dir, durable);
    pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
    for (int i = 0; i < threads; i++) {
        arg[i] = (writer_arg){ e, e->writer_open(db), per_thread, &start };
        if (pthread_create(&tid[i], NULL, writer_main, &arg[i]) != 0)
            die("pthread_create failed");
    }
    settle();
    pthread_barrier_wait(&start);
    t0 = now_ns();
    for (int i = 0; i < threads; i++)
        pthread_join(tid[i], NULL);
    t1 = now_ns();
    for (int i = 0; i < threads; i++)
        e->writer_close(arg[i].w);
    pthread_barrier_destroy(&start);
    e->close(db);
    if (commits)
        *commits = lmdb_last_txnid(dir);
    remove_tree(dir);
    return (double)threads * (double)per_thread / seconds(t1 - t0);
}

/* Raw LMDB's rate for n appends in the given number of commits of as equal
 * sizes as can be, no sync. */
static double batched_append_rate(const engine *e, uint64_t n, uint64_t commits)
{
    char dir[PATH_MAX];
    void *db;
    int64_t t0, t1;

    new_dir(dir, "batched");
    db = e->open(dir, 0);
    settle();
    t0 = now_ns();
    if (n / commits >= BATCH_SIZE)
        die("batches of %llu are more than the %d payloads prepared", (unsigned long long)(n / commits),
            BATCH_SIZE);
    for (uint64_t c = 0; c < commits; c++)
        e->append_batch(db, payload_ptr, payload_len, (size_t)(n * (c + 1) / commits - n * c / commits));
    t1 = now_ns();
    e->close(db);
    remove_tree(dir);
    return (double)n / seconds(t1 - t0);
}

/* ---------------------------------------------------------------- rows */

static void row_appends(const char *label, const char *what, uint64_t n, int batched,
                        int durable, int runs, double target, double *med)
{
    trow *r;
    double ratio;

    measure_appends(what, n, batched, durable, runs, med);
    r = add_row(label);
    set_rates(r, med);
    ratio = med[0] / med[1];
    set_target(r, ratio >= target, ">= %.1fx raw LMDB", target);
}

static double row4_med[MAX_ENG]; /* row 14 compares with row 4 of the same run */

static void row_threads(const config *cfg, const double *single)
{
    double rate[MAX_ENG][MAX_RUNS], med[MAX_ENG], ratio;
    char label[48];
    trow *r;

    fprintf(stderr, "row 4: %d threads x %s durable appends x %d runs\n", cfg->threads,
            fmt_count(cfg->per_thread), cfg->slow_runs);
    for (int run = 0; run < cfg->slow_runs; run++) {
        double this_run[MAX_ENG];
        for (int e = 0; e < neng; e++)
            this_run[e] = rate[e][run] = threaded_append_rate(engines[e], cfg->threads,
                                                              cfg->per_thread, 1, NULL);
        progress_rates("row 4", run, this_run);
    }
    for (int e = 0; e < neng; e++)
        row4_med[e] = med[e] = median(rate[e], cfg->slow_runs);
    snprintf(label, sizeof label, "4. durable, %d threads", cfg->threads);
    r = add_row(label);
    set_rates(r, med);
    ratio = med[0] / single[0];
    set_target(r, ratio >= 8.0, ">= 8x row 3: %.1fx", ratio);

    r = add_row("   (each vs its own row 3)");
    for (int e = 0; e < neng; e++)
        snprintf(r->cell[e], sizeof r->cell[e], "%.1fx", med[e] / single[e]);
}

/* Row 11: libstreamlog's group commit against raw LMDB committing batches
 * of the same size. Group commit forms batches as appenders arrive; the
 * number of commits is counted from LMDB's transaction ids (commits without
 * appends, made by opening the store, are counted by an empty run), and raw
 * LMDB then makes the same appends in as many commits from one thread,
 * which is what those batches cost LMDB itself. */
static void row_threads_nosync(const config *cfg)
{
    double rate[2][MAX_RUNS], med[MAX_ENG] = { 0 }, batch_sum = 0;
    uint64_t total = (uint64_t)cfg->threads * cfg->nosync_per_thread, setup, commits;
    char label[48];
    trow *r;

    fprintf(stderr, "row 11: %d threads x %s no-sync appends x %d runs\n", cfg->threads,
            fmt_count(cfg->nosync_per_thread), cfg->runs);
    threaded_append_rate(&engine_streamlog, cfg->threads, 0, 0, &setup);
    for (int run = 0; run < cfg->runs; run++) {
        rate[0][run] = threaded_append_rate(&engine_streamlog, cfg->threads, cfg->nosync_per_thread, 0,
                                            &commits);
        double batch = (double)total / (double)(commits - setup);
        batch_sum += batch;
        rate[1][run] = batched_append_rate(&engine_lmdb, total, commits - setup);
        fprintf(stderr, "  row 11, run %d: mean batch %.1f, streamlog %.0f/s, lmdb %.0f/s\n", run + 1,
                batch, rate[0][run], rate[1][run]);
    }
    med[0] = median(rate[0], cfg->runs);
    med[1] = median(rate[1], cfg->runs);
    snprintf(label, sizeof label, "11. %d threads, no sync", cfg->threads);
    r = add_row(label);
    set_rates(r, med);
    if (neng > 2)
        snprintf(r->cell[2], sizeof r->cell[2], "-");
    set_target(r, med[0] / med[1] >= 0.9, ">= 0.9x LMDB, batch %.1f", batch_sum / cfg->runs);
}

static void row_replay(const config *cfg)
{
    char dir[MAX_ENG][PATH_MAX], label[48];
    void *db[MAX_ENG];
    double rate[MAX_ENG][MAX_RUNS], med[MAX_ENG];
    uint64_t sums[MAX_ENG];
    trow *r;

    fprintf(stderr, "row 5: replay of %s messages x %d runs\n", fmt_count(cfg->replay_msgs),
            cfg->runs);
    for (int e = 0; e < neng; e++) {
        new_dir(dir[e], "replay");
        db[e] = engines[e]->open(dir[e], 0);
        append_rate(engines[e], db[e], cfg->replay_msgs, 1);
    }
    settle();
    for (int run = 0; run < cfg->runs; run++) {
        double this_run[MAX_ENG];
        for (int e = 0; e < neng; e++) {
            uint64_t sum = 0, count;
            int64_t t0 = now_ns();
            count = engines[e]->scan(db[e], &sum);
            this_run[e] = rate[e][run] = (double)count / seconds(now_ns() - t0);
            if (count != cfg->replay_msgs)
                die("%s replay read %llu messages, expected %llu", engines[e]->name,
                    (unsigned long long)count, (unsigned long long)cfg->replay_msgs);
            sums[e] = sum;
        }
        progress_rates("row 5", run, this_run);
    }
    for (int e = 1; e < neng; e++)
        if (sums[e] != sums[0])
            die("replay checksums differ: %s read other data than %s", engines[e]->name,
                engines[0]->name);
    for (int e = 0; e < neng; e++) {
        engines[e]->close(db[e]);
        remove_tree(dir[e]);
        med[e] = median(rate[e], cfg->runs);
    }
    snprintf(label, sizeof label, "5. replay %s (iterator / cursor)", fmt_count(cfg->replay_msgs));
    r = add_row(label);
    set_rates(r, med);
    set_target(r, med[0] / med[1] >= 0.5, ">= 0.5x raw LMDB scan");
}

/* Seeks by time in an open store: p50 and p99 latency in microseconds of
 * opening a reader at a random time and reading its first message. The
 * times are the same fractions of each store's time span for every engine. */
static void measure_seeks(const engine *e, void *db, int seeks, uint64_t seed, double *p50,
                          double *p99)
{
    double *lat = malloc((size_t)seeks * sizeof *lat);
    int64_t first, last;

    if (!lat)
        die("out of memory");
    e->time_range(db, &first, &last);
    for (int i = 0; i < seeks; i++) {
        double frac = (double)(rng_next(&seed) >> 11) / (double)(1ULL << 53);
        int64_t t = first + (int64_t)(frac * (double)(last - first));
        int64_t found, t0, t1;
        void *s;

        t0 = now_ns();
        s = e->seek_open(db, t, &found);
        t1 = now_ns();
        e->seek_close(db, s);
        if (found < t)
            die("%s: seek to time %lld found %lld", e->name, (long long)t, (long long)found);
        lat[i] = (double)(t1 - t0) / 1e3;
    }
    *p50 = percentile(lat, (size_t)seeks, 50);
    *p99 = percentile(lat, (size_t)seeks, 99);
    free(lat);
}

/*
 * Rows 6 and 7 on a channel of cfg->big_msgs messages, built with batched
 * appends. One engine at a time: its big store is built, measured and
 * deleted before the next is built. Holding all three (over 5 GB) at once
 * made every file write about five times slower on the sandboxed VM this was
 * written on, which would have measured that machine, not the libraries.
 * Row 7's empty-channel runs follow in fresh stores, engines interleaved.
 */
static void rows_big(const config *cfg, int seek_row, int append_row)
{
    static const char *what[2] = { "1/commit", "batch 1000" };
    uint64_t n[2] = { cfg->big_single_msgs, cfg->big_batch_msgs };
    double build[MAX_ENG];
    double p50[MAX_ENG][MAX_RUNS], p99[MAX_ENG][MAX_RUNS];
    double big[2][MAX_ENG][MAX_RUNS], empty[2][MAX_ENG][MAX_RUNS];
    char label[48];
    trow *r;

    for (int e = 0; e < neng; e++) {
        const engine *eng = engines[e];
        char dir[PATH_MAX];
        void *db;
        double ignore;

        fprintf(stderr, "%s: building a %s-message channel (batched, no sync)\n", eng->name,
                fmt_count(cfg->big_msgs));
        new_dir(dir, "big");
        db = eng->open(dir, 0);
        build[e] = append_rate(eng, db, cfg->big_msgs, 1);
        fprintf(stderr, "  built in %.1f s\n", (double)cfg->big_msgs / build[e]);
        settle();

        if (seek_row) {
            fprintf(stderr, "  row 6: %d seeks by time x %d runs (after one untimed warm-up)\n",
                    cfg->seeks, cfg->slow_runs);
            measure_seeks(eng, db, cfg->seeks, 1, &ignore, &ignore);
            for (int run = 0; run < cfg->slow_runs; run++) {
                measure_seeks(eng, db, cfg->seeks, 100 + (uint64_t)run, &p50[e][run],
                              &p99[e][run]);
                fprintf(stderr, "  row 6, %s, run %d: p50 %.1f us, p99 %.1f us\n", eng->name,
                        run + 1, p50[e][run], p99[e][run]);
            }
        }
        if (append_row) {
            fprintf(stderr, "  row 7: %s single and %s batched appends x %d runs\n",
                    fmt_count(n[0]), fmt_count(n[1]), cfg->runs);
            for (int run = 0; run < cfg->runs; run++) {
                char a[32], b[32];
                for (int k = 0; k < 2; k++)
                    big[k][e][run] = append_rate(eng, db, n[k], k);
                fmt_rate(a, sizeof a, big[0][e][run]);
                fmt_rate(b, sizeof b, big[1][e][run]);
                fprintf(stderr, "  row 7, %s, %s stored, run %d: 1/commit %s, batch %s\n",
                        eng->name, fmt_count(cfg->big_msgs), run + 1, a, b);
            }
        }
        eng->close(db);
        remove_tree(dir);
    }

    if (append_row) {
        fprintf(stderr, "row 7: the same appends on empty channels in fresh stores\n");
        for (int run = 0; run < cfg->runs; run++) {
            for (int k = 0; k < 2; k++) {
                double this_run[MAX_ENG];
                char name[40];
                for (int e = 0; e < neng; e++)
                    this_run[e] = empty[k][e][run] = fresh_append_rate(engines[e], n[k], k, 0);
                snprintf(name, sizeof name, "row 7 %s, empty", what[k]);
                progress_rates(name, run, this_run);
            }
        }
    }

    snprintf(label, sizeof label, "   (building %s, batch 1000, 1 run)", fmt_count(cfg->big_msgs));
    r = add_row(label);
    set_rates(r, build);

    if (seek_row) {
        double m50[MAX_ENG], m99[MAX_ENG];
        for (int e = 0; e < neng; e++) {
            m50[e] = median(p50[e], cfg->slow_runs);
            m99[e] = median(p99[e], cfg->slow_runs);
        }
        snprintf(label, sizeof label, "6. seek by time in %s, p50/p99", fmt_count(cfg->big_msgs));
        r = add_row(label);
        for (int e = 0; e < neng; e++)
            snprintf(r->cell[e], sizeof r->cell[e], "%.1f/%.1f us", m50[e], m99[e]);
        snprintf(r->ratio, sizeof r->ratio, "%.2fx", m50[1] / m50[0]);
        set_target(r, m99[0] <= 50.0, "p99 <= 50 us");
    }

    if (append_row) {
        for (int k = 0; k < 2; k++) {
            double mbig[MAX_ENG], mempty[MAX_ENG], ratio;
            for (int e = 0; e < neng; e++) {
                mbig[e] = median(big[k][e], cfg->runs);
                mempty[e] = median(empty[k][e], cfg->runs);
            }
            snprintf(label, sizeof label, "7%c. %s, %s stored", 'a' + k, what[k],
                     fmt_count(cfg->big_msgs));
            r = add_row(label);
            set_rates(r, mbig);
            ratio = mbig[0] / mempty[0];
            set_target(r, ratio >= 0.8, ">= 0.8x empty: %.2fx", ratio);
            snprintf(label, sizeof label, "    %s, empty channel", what[k]);
            r = add_row(label);
            set_rates(r, mempty);
            snprintf(label, sizeof label, "    (%s stored / empty)", fmt_count(cfg->big_msgs));
            r = add_row(label);
            for (int e = 0; e < neng; e++)
                snprintf(r->cell[e], sizeof r->cell[e], "%.2fx", mbig[e] / mempty[e]);
        }
    }
}

/* ---------------------------------------------------------------- rows 14-17
 *
 * libstreamlog only: pipelined appends, and what idempotent appends,
 * headers and naks cost. Rows 15-17 use SYNC_NONE stores, so that the CPU
 * cost shows instead of the disk's sync time. */

#define PIPE_DEPTH 256
#define BENCH_CHECK(expr, what)                                                                 \
    do {                                                                                        \
        int rc_ = (expr);                                                                       \
        if (rc_ != STREAMLOG_OK)                                                                \
            die("streamlog: %s: %s (%s)", what, streamlog_errname(rc_), streamlog_errmsg());    \
    } while (0)

static streamlog_store *bench_store(const char *dir, int sync)
{
    streamlog_opts *o;
    streamlog_store *st;
    BENCH_CHECK(streamlog_opts_new(&o), "opts_new");
    BENCH_CHECK(streamlog_opts_set_int(o, STREAMLOG_OPT_SYNC, sync), "opts_set_int SYNC");
    BENCH_CHECK(streamlog_open(dir, o, &st), "open");
    streamlog_opts_free(o);
    return st;
}

/* Take one pipelined result; it must be stored. */
static void pipe_take(streamlog_pipe *p, int64_t timeout_ms, int *got)
{
    int arc, rc = streamlog_pipe_next(p, timeout_ms, NULL, &arc, NULL, NULL);
    *got = rc == STREAMLOG_OK;
    if (rc == STREAMLOG_EAGAIN)
        return;
    BENCH_CHECK(rc, "pipe_next");
    BENCH_CHECK(arc, "pipelined append");
}

/* One thread keeps `depth` durable appends in flight in a fresh SYNC_ALWAYS
 * store: submit while there is room, else take a result (waiting for the
 * oldest, then every one that is ready). Messages per second, from the first
 * submission to the last result; *batch gets the mean appends per commit. */
static double pipelined_rate(uint64_t n, uint32_t depth, double *batch)
{
    char dir[PATH_MAX];
    streamlog_store *st;
    streamlog_channel *ch;
    streamlog_pipe *p;
    uint64_t submitted = 0, taken = 0, setup;
    int64_t t0, t1;
    int got;

    new_dir(dir, "pipe");
    st = bench_store(dir, STREAMLOG_SYNC_ALWAYS);
    BENCH_CHECK(streamlog_channel_open(st, "bench", STREAMLOG_CREATE, NULL, &ch), "channel_open");
    BENCH_CHECK(streamlog_pipe_open(st, depth, &p), "pipe_open");
    BENCH_CHECK(streamlog_sync(st), "sync");
    streamlog_channel_close(ch);
    BENCH_CHECK(streamlog_pipe_close(p), "pipe_close");
    BENCH_CHECK(streamlog_close(st), "close");
    setup = lmdb_last_txnid(dir);

    st = bench_store(dir, STREAMLOG_SYNC_ALWAYS);
    BENCH_CHECK(streamlog_channel_open(st, "bench", 0, NULL, &ch), "channel_open");
    BENCH_CHECK(streamlog_pipe_open(st, depth, &p), "pipe_open");
    settle();
    t0 = now_ns();
    while (taken < n) {
        if (submitted < n && submitted - taken < depth) {
            BENCH_CHECK(streamlog_pipe_append(p, ch, NULL, NULL, 0, payload_ptr[submitted % BATCH_SIZE],
                                              payload_len[submitted % BATCH_SIZE], NULL),
                        "pipe_append");
            submitted++;
            continue;
        }
        pipe_take(p, -1, &got);
        for (taken++; taken < submitted; taken++) {
            pipe_take(p, 0, &got);
            if (!got)
                break;
        }
    }
    t1 = now_ns();
    BENCH_CHECK(streamlog_pipe_close(p), "pipe_close");
    streamlog_channel_close(ch);
    BENCH_CHECK(streamlog_close(st), "close");
    *batch = (double)n / (double)(lmdb_last_txnid(dir) - setup);
    remove_tree(dir);
    return (double)n / seconds(t1 - t0);
}

/* Row 14: one thread, PIPE_DEPTH durable appends in flight, against row 4
 * (16 threads appending durably) and SQLite WAL's durable one row per
 * transaction (row 3's SQLite column), both measured in this run. */
static void row_pipelined(const config *cfg, const double *single)
{
    double rate[MAX_RUNS], med, batch_sum = 0, vs4, vssql = 0;
    char label[48];
    trow *r;

    fprintf(stderr, "row 14: %s durable pipelined appends, %d in flight, 1 thread x %d runs\n",
            fmt_count(cfg->pipe_msgs), PIPE_DEPTH, cfg->slow_runs);
    for (int run = 0; run < cfg->slow_runs; run++) {
        double batch;
        rate[run] = pipelined_rate(cfg->pipe_msgs, PIPE_DEPTH, &batch);
        batch_sum += batch;
        fprintf(stderr, "  row 14, run %d: %.0f/s, mean batch %.1f\n", run + 1, rate[run], batch);
    }
    med = median(rate, cfg->slow_runs);
    vs4 = med / row4_med[0];
    snprintf(label, sizeof label, "14. durable, 1 thread, %d in flight", PIPE_DEPTH);
    r = add_row(label);
    fmt_rate(r->cell[0], sizeof r->cell[0], med);
    snprintf(r->cell[1], sizeof r->cell[1], "-");
    if (neng > 2)
        snprintf(r->cell[2], sizeof r->cell[2], "-");
    snprintf(r->ratio, sizeof r->ratio, "-");
    set_target(r, vs4 >= 0.8, ">= 0.8x row 4: %.2fx", vs4);
    r = add_row("    (same, vs SQLite WAL row 3)");
    snprintf(r->cell[0], sizeof r->cell[0], "batch %.1f", batch_sum / cfg->slow_runs);
    if (neng > 2) {
        vssql = med / single[2];
        fmt_rate(r->cell[2], sizeof r->cell[2], single[2]);
        set_target(r, vssql >= 5.0, ">= 5x SQLite WAL: %.1fx", vssql);
    } else {
        set_target(r, 0, ">= 5x SQLite WAL: not built in");
    }
}

/* Appends of n messages to channel `name` of st, one per commit: plain,
 * idempotent (a fresh id each) or with a header block. Messages/s. */
enum append_kind { APPEND_PLAIN, APPEND_ONCE, APPEND_HEADERS };

static const char bench_headers[] = "NATS/1.0\r\nEvent-Type: order.created\r\n"
                                    "Correlation-Id: 7d3c9e2a-5b1f-4c8e-9a6d-2f0e1b3c4d5e\r\n\r\n";

static double kind_append_rate(streamlog_store *st, const char *name, uint64_t n, enum append_kind kind)
{
    streamlog_channel *ch;
    char id[32];
    int64_t t0;

    BENCH_CHECK(streamlog_channel_open(st, name, STREAMLOG_CREATE, NULL, &ch), "channel_open");
    t0 = now_ns();
    for (uint64_t i = 0; i < n; i++) {
        const void *d = payload_ptr[i % BATCH_SIZE];
        size_t len = payload_len[i % BATCH_SIZE];
        switch (kind) {
        case APPEND_PLAIN:
            BENCH_CHECK(streamlog_append(ch, d, len, NULL), "append");
            break;
        case APPEND_ONCE:
            snprintf(id, sizeof id, "msg-%llu", (unsigned long long)i);
            BENCH_CHECK(streamlog_append_once(ch, id, NULL, 0, d, len, NULL, NULL), "append_once");
            break;
        case APPEND_HEADERS:
            BENCH_CHECK(streamlog_append_msg(ch, bench_headers, sizeof bench_headers - 1, d, len, NULL),
                        "append_msg");
            break;
        }
    }
    double rate = (double)n / seconds(now_ns() - t0);
    streamlog_channel_close(ch);
    return rate;
}

/* Read channel `name` through an iterator, touching payloads and, with
 * lookup, looking up one header of each message. Messages/s, the median of
 * READ_PASSES passes (a read takes milliseconds: one pass is noise). */
#define READ_PASSES 5
static double kind_read_rate(streamlog_store *st, const char *name, uint64_t n, int lookup)
{
    streamlog_channel *ch;
    double rate[READ_PASSES + 1];

    BENCH_CHECK(streamlog_channel_open(st, name, 0, NULL, &ch), "channel_open");
    for (int pass = 0; pass <= READ_PASSES; pass++) { /* pass 0 maps the pages in, untimed */
        streamlog_iter *it;
        const streamlog_msg *m;
        uint64_t got = 0, sum = 0;
        int64_t t0 = now_ns();
        int rc;
        BENCH_CHECK(streamlog_iter_open(ch, STREAMLOG_START_FIRST, 0, &it), "iter_open");
        while ((rc = streamlog_iter_next(it, &m)) == STREAMLOG_OK) {
            size_t len;
            const unsigned char *d = streamlog_msg_data(m, &len);
            sum += len + (len ? d[0] : 0);
            if (lookup) {
                const void *v;
                size_t vlen;
                BENCH_CHECK(streamlog_msg_header(m, "Correlation-Id", &v, &vlen), "msg_header");
                sum += vlen;
            }
            got++;
        }
        if (rc != STREAMLOG_EAGAIN)
            BENCH_CHECK(rc, "iter_next");
        rate[pass] = (double)got / seconds(now_ns() - t0);
        streamlog_iter_close(it);
        if (got != n || sum == 0)
            die("read %llu of %llu messages", (unsigned long long)got, (unsigned long long)n);
    }
    streamlog_channel_close(ch);
    return median(rate + 1, READ_PASSES);
}

/* A row of one streamlog figure with a same-run comparison in the target
 * column (no target: these rows show a cost). */
static void add_cost_row(const char *label, double rate, const char *what, double base)
{
    trow *r = add_row(label);
    fmt_rate(r->cell[0], sizeof r->cell[0], rate);
    snprintf(r->cell[1], sizeof r->cell[1], "-");
    if (neng > 2)
        snprintf(r->cell[2], sizeof r->cell[2], "-");
    snprintf(r->ratio, sizeof r->ratio, "-");
    if (*what)
        snprintf(r->target, sizeof r->target, "%.2fx %s", rate / base, what);
    snprintf(r->met, sizeof r->met, "-");
}

/* Rows 15 and 16: the plain append, append_once with a fresh id, and
 * append_msg with a 2-header block (93 bytes), interleaved in each run, each
 * in a fresh SYNC_NONE store; then the plain and the header channels are
 * read back (after an untimed pass), the latter also looking up a header in
 * every message. */
static void rows_dedup_headers(const config *cfg, int dedup, int headers)
{
    double plain[MAX_RUNS], once[MAX_RUNS] = { 0 }, hdr[MAX_RUNS] = { 0 }, rd_plain[MAX_RUNS],
        rd_hdr[MAX_RUNS] = { 0 }, rd_lookup[MAX_RUNS] = { 0 };
    uint64_t n = cfg->cost_msgs;
    char dir[PATH_MAX], label[48];

    fprintf(stderr, "rows 15-16: %s appends, 1/commit, no sync, plain / append_once / headers x %d runs\n",
            fmt_count(n), cfg->runs);
    for (int run = 0; run < cfg->runs; run++) {
        /* each kind in a fresh store of its own, so that none pays for growing
         * the file more than another */
        for (int kind = APPEND_PLAIN; kind <= APPEND_HEADERS; kind++) {
            if ((kind == APPEND_ONCE && !dedup) || (kind == APPEND_HEADERS && !headers))
                continue;
            new_dir(dir, "cost");
            streamlog_store *st = bench_store(dir, STREAMLOG_SYNC_NONE);
            settle();
            double rate = kind_append_rate(st, "bench", n, (enum append_kind)kind);
            if (kind == APPEND_PLAIN) {
                plain[run] = rate;
                rd_plain[run] = kind_read_rate(st, "bench", n, 0);
            } else if (kind == APPEND_ONCE) {
                once[run] = rate;
            } else {
                hdr[run] = rate;
                rd_hdr[run] = kind_read_rate(st, "bench", n, 0);
                rd_lookup[run] = kind_read_rate(st, "bench", n, 1);
            }
            BENCH_CHECK(streamlog_close(st), "close");
            remove_tree(dir);
        }
        fprintf(stderr, "  rows 15-16, run %d: append %.0f/s, once %.0f/s, headers %.0f/s; read %.0f/s, "
                "with headers %.0f/s, + lookup %.0f/s\n", run + 1, plain[run], once[run], hdr[run], rd_plain[run],
                rd_hdr[run], rd_lookup[run]);
    }
    double m_plain = median(plain, cfg->runs), m_rd = median(rd_plain, cfg->runs);
    if (dedup) {
        add_cost_row("15. append_once, 1/commit, no sync", median(once, cfg->runs), "of plain append", m_plain);
        snprintf(label, sizeof label, "    (plain append, same run)");
        add_cost_row(label, m_plain, "", m_plain);
    }
    if (headers) {
        add_cost_row("16. append with headers, no sync", median(hdr, cfg->runs), "of plain append", m_plain);
        add_cost_row("    read with headers", median(rd_hdr, cfg->runs), "of plain read", m_rd);
        add_cost_row("    read with headers + 1 lookup", median(rd_lookup, cfg->runs), "of plain read", m_rd);
        add_cost_row("    (plain read, same run)", m_rd, "", m_rd);
    }
}

/* Row 17: naks. n messages are delivered to a MANUAL subscription; each is
 * nak'ed (redeliver now) on its first delivery and acked on its second.
 * Redeliveries per second, against deliveries acked at once (no nak) in
 * the same run. */
static double nak_rate(const char *dir, uint64_t n, int nak)
{
    streamlog_store *st = bench_store(dir, STREAMLOG_SYNC_NONE);
    streamlog_channel *ch;
    streamlog_opts *o;
    streamlog_sub *sub;
    const streamlog_msg *m;
    uint64_t acked = 0, redelivered = 0;
    int64_t t0;
    int rc;

    BENCH_CHECK(streamlog_channel_open(st, "nak", STREAMLOG_CREATE, NULL, &ch), "channel_open");
    for (uint64_t i = 0; i < n; i += BATCH_SIZE) {
        size_t k = n - i < BATCH_SIZE ? (size_t)(n - i) : BATCH_SIZE;
        BENCH_CHECK(streamlog_append_batch(ch, payload_ptr, payload_len, k, NULL), "append_batch");
    }
    BENCH_CHECK(streamlog_opts_new(&o), "opts_new");
    BENCH_CHECK(streamlog_opts_set_int(o, STREAMLOG_OPT_START, STREAMLOG_START_FIRST), "opts START");
    BENCH_CHECK(streamlog_opts_set_int(o, STREAMLOG_OPT_ACK_MODE, STREAMLOG_ACK_MANUAL), "opts ACK_MODE");
    BENCH_CHECK(streamlog_subscribe(ch, o, &sub), "subscribe");
    streamlog_opts_free(o);
    t0 = now_ns();
    while (acked < n) {
        rc = streamlog_sub_next(sub, 1000, &m);
        BENCH_CHECK(rc, "sub_next");
        uint64_t seq = streamlog_msg_seq(m);
        if (nak && streamlog_msg_redelivery_count(m) == 0) {
            BENCH_CHECK(streamlog_nak(sub, seq, 0), "nak");
        } else {
            redelivered += streamlog_msg_redelivery_count(m) > 0;
            BENCH_CHECK(streamlog_ack(sub, seq), "ack");
            acked++;
        }
    }
    double rate = (double)n / seconds(now_ns() - t0);
    if (nak && redelivered != n)
        die("row 17: %llu of %llu messages redelivered", (unsigned long long)redelivered,
            (unsigned long long)n);
    BENCH_CHECK(streamlog_sub_close(sub), "sub_close");
    streamlog_channel_close(ch);
    BENCH_CHECK(streamlog_close(st), "close");
    return rate;
}

static void row_nak(const config *cfg)
{
    double nak[MAX_RUNS], plain[MAX_RUNS];
    uint64_t n = cfg->cost_msgs;
    char dir[PATH_MAX];

    fprintf(stderr, "row 17: %s messages nak'ed once then acked, vs acked at once, x %d runs\n", fmt_count(n),
            cfg->runs);
    for (int run = 0; run < cfg->runs; run++) {
        new_dir(dir, "nak");
        nak[run] = nak_rate(dir, n, 1);
        remove_tree(dir);
        new_dir(dir, "ack");
        plain[run] = nak_rate(dir, n, 0);
        remove_tree(dir);
        fprintf(stderr, "  row 17, run %d: nak+redelivery+ack %.0f msgs/s, deliver+ack %.0f msgs/s\n", run + 1,
                nak[run], plain[run]);
    }
    double m_plain = median(plain, cfg->runs);
    add_cost_row("17. nak, redelivery, ack (msgs/s)", median(nak, cfg->runs), "of deliver+ack", m_plain);
    add_cost_row("    (deliver + ack, same run)", m_plain, "", m_plain);
}

/* ---------------------------------------------------------------- main */

static void usage(FILE *f)
{
    fprintf(f,
        "usage: streamlog-bench [--quick] [--dir DIR] [--rows LIST]\n"
        "\n"
        "Measures libstreamlog with 128-byte messages against raw LMDB doing the\n"
        "same work and SQLite in WAL mode, and prints a table of medians.\n"
        "\n"
        "  --quick      small counts, a smoke run of well under a minute\n"
        "  --dir DIR    make the temporary stores under DIR (default /var/tmp);\n"
        "               it should be on the disk you care about, not tmpfs\n"
        "  --rows LIST  run only these rows, e.g. 1,2,5 or 1-3 (default all):\n"
        "                 1 batched append, 1000 per commit, no sync\n"
        "                 2 one append per commit, no sync\n"
        "                 3 one durable append per commit\n"
        "                 4 durable appends from 16 threads (also runs row 3)\n"
        "                 5 replay through an iterator\n"
        "                 6 seek by time in a 10M-message channel (1M with --quick)\n"
        "                 7 appends with 10M messages stored vs an empty channel\n"
        "                 8 replay through a subscription (AUTO and MANUAL acks) vs iterator\n"
        "                 9 append-to-delivery latency, other thread and other process\n"
        "                10 acks per second on a durable subscription\n"
        "                11 no-sync appends from 16 threads vs raw LMDB in batches of the same size\n"
        "                12 queue group of 3 processes: msgs/s and each member's share\n"
        "                13 10,000 subscriptions on one channel: create, deliver to all, close\n"
        "                14 durable appends from 1 thread, 256 in flight (also runs rows 3 and 4)\n"
        "                15 append_once (dedup) vs plain append, no sync\n"
        "                16 append and read with a header block vs without, no sync\n"
        "                17 nak + redelivery + ack vs deliver + ack, no sync\n"
        "                18 one append per commit, synced lazily but power-loss safe\n"
        "  --help       this text\n");
}

static void parse_rows(const char *list, int *sel)
{
    const char *p = list;
    memset(sel, 0, (NROWS + 1) * sizeof *sel);
    while (*p) {
        char *end;
        long a = strtol(p, &end, 10), b = a;
        if (end == p)
            goto bad;
        p = end;
        if (*p == '-') {
            b = strtol(p + 1, &end, 10);
            if (end == p + 1)
                goto bad;
            p = end;
        }
        if (a < 1 || b > NROWS || a > b)
            goto bad;
        for (long i = a; i <= b; i++)
            sel[i] = 1;
        if (*p == ',')
            p++;
        else if (*p)
            goto bad;
    }
    return;
bad:
    fprintf(stderr, "streamlog-bench: bad --rows list '%s'\n", list);
    usage(stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "quick", no_argument, NULL, 'q' },
        { "dir", required_argument, NULL, 'd' },
        { "rows", required_argument, NULL, 'r' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const config *cfg = &full_config;
    const char *parent = "/var/tmp";
    int sel[NROWS + 1] = { 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };
    double single[MAX_ENG] = { 0 }, med[MAX_ENG];
    char label[48];
    int64_t t_start = now_ns();
    int opt, major, minor, patch;

    while ((opt = getopt_long(argc, argv, "qd:r:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'q': cfg = &quick_config; break;
        case 'd': parent = optarg; break;
        case 'r': parse_rows(optarg, sel); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return 2;
    }
    if (sel[14])
        sel[4] = 1;  /* row 14's targets are ratios to rows 4 and 3 */
    if (sel[4])
        sel[3] = 1;  /* row 4's target is a ratio to row 3 */

    neng = 0;
    while (neng < MAX_ENG && engines[neng])
        neng++;
    payloads_init();

    snprintf(root_dir, sizeof root_dir, "%s/streamlog-bench.XXXXXX", parent);
    if (!mkdtemp(root_dir))
        die("cannot create a temporary directory under %s", parent);
    atexit(cleanup_root);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);

    mdb_version(&major, &minor, &patch);
    printf("streamlog-bench: libstreamlog %s, LMDB %d.%d.%d", streamlog_version(), major, minor,
           patch);
#ifdef HAVE_SQLITE3
    printf(", SQLite %s", sqlite3_libversion());
#else
    printf(", SQLite not built in");
#endif
    printf("\n");
    print_machine(root_dir);
    printf("workload:   %d-byte messages, %s mode; medians of %d runs (%d for durable rows and seeks)\n",
           MSG_SIZE, cfg == &quick_config ? "quick" : "full", cfg->runs, cfg->slow_runs);
    printf("counts:     row 1 %s, row 2 %s, row 3 %s, row 4 %dx%s, row 5 %s, rows 6-7 %s stored,\n"
           "            row 6 %d seeks/run, row 7 %s single + %s batched per run\n",
           fmt_count(cfg->batch_msgs), fmt_count(cfg->single_msgs), fmt_count(cfg->durable_msgs),
           cfg->threads, fmt_count(cfg->per_thread), fmt_count(cfg->replay_msgs),
           fmt_count(cfg->big_msgs), cfg->seeks, fmt_count(cfg->big_single_msgs),
           fmt_count(cfg->big_batch_msgs));
    printf("            row 14 %s, rows 15-17 %s per run\n", fmt_count(cfg->pipe_msgs), fmt_count(cfg->cost_msgs));
    fflush(stdout);

    if (sel[1]) {
        snprintf(label, sizeof label, "1. batch 1000/commit, no sync");
        row_appends(label, "row 1", cfg->batch_msgs, 1, 0, cfg->runs, 0.7, med);
    }
    if (sel[2]) {
        snprintf(label, sizeof label, "2. 1 append/commit, no sync");
        row_appends(label, "row 2", cfg->single_msgs, 0, 0, cfg->runs, 0.8, med);
    }
    if (sel[3]) {
        snprintf(label, sizeof label, "3. 1 durable append/commit");
        row_appends(label, "row 3", cfg->durable_msgs, 0, 1, cfg->slow_runs, 0.9, single);
    }
    if (sel[4])
        row_threads(cfg, single);
    if (sel[18]) {
        /* no target: SYNC_INTERVAL's peers are LMDB's MDB_NOMETASYNC (one
         * fdatasync per commit) and SQLite WAL's synchronous=NORMAL (syncs
         * at checkpoints), each losing recent commits to a power loss */
        double lazy[MAX_ENG];
        measure_appends("row 18", cfg->single_msgs / 4, 0, DURABLE_LAZY, cfg->slow_runs, lazy);
        trow *r = add_row("18. 1 append/commit, lazy sync");
        set_rates(r, lazy);
        snprintf(r->target, sizeof r->target, "- (%.2fx SQLite NORMAL)", lazy[0] / lazy[2]);
    }
    if (sel[5])
        row_replay(cfg);
    if (sel[6] || sel[7])
        rows_big(cfg, sel[6], sel[7]);
    if (sel[11])
        row_threads_nosync(cfg);
    if (sel[14])
        row_pipelined(cfg, single);
    if (sel[15] || sel[16])
        rows_dedup_headers(cfg, sel[15], sel[16]);
    if (sel[17])
        row_nak(cfg);

    print_table();
    if (sel[8] || sel[9] || sel[10] || sel[12])
        bench_subs(root_dir, cfg == &quick_config, sel[8], sel[9], sel[10], sel[12]);
    if (sel[13])
        bench_subs_scale(root_dir, cfg == &quick_config ? 2000 : 10000, cfg == &quick_config ? 1 : 3);
    printf("\nrates are messages per second; \"vs LMDB\" is streamlog / raw LMDB from this run\n"
           "(row 6: raw LMDB p50 / streamlog p50). Durable rows sync every commit (fdatasync).\n");
    printf("total time: %.0f s\n", seconds(now_ns() - t_start));
    return 0;
}
