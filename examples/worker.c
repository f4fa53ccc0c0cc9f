/* worker: a pool of worker threads sharing a channel of jobs.
 *
 * The jobs go to channel "work". Three worker threads each subscribe to the
 * same DURABLE QUEUE GROUP ("workers", durable "work-processor"), so every
 * job goes to exactly one of them, and the group's position is kept in the
 * store: run the program again and it goes on after the last job it
 * processed. Acks are manual: a job is acknowledged after it is processed,
 * so a job whose worker dies unacked is redelivered to another worker
 * (at-least-once delivery: make processing idempotent).
 *
 *   usage: worker [STORE_DIR]      (default: ./worker-store)
 *
 * Build: cc worker.c $(pkg-config --cflags --libs streamlog) -pthread
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <streamlog.h>

#define NJOBS 10
#define NWORKERS 3

static int check(int rc, const char *what)
{
    if (rc != STREAMLOG_OK)
        fprintf(stderr, "%s failed: %s (%s): %s\n", what, streamlog_errname(rc), streamlog_strerror(rc),
                streamlog_errmsg());
    return rc;
}

/* Shared by the workers: this run's jobs are sequences first..first+NJOBS-1. */
static uint64_t first;
static atomic_int done_flag[NJOBS]; /* set when that job was processed */
static atomic_int remaining = NJOBS;

struct worker {
    streamlog_channel *work;
    int id, processed, failed;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    streamlog_opts *opts;
    streamlog_sub *sub;
    if (check(streamlog_opts_new(&opts), "streamlog_opts_new")) {
        w->failed = 1;
        return NULL;
    }
    /* Same QUEUE and DURABLE in every worker: one shared, persistent group.
     * START applies only when the group is first created. */
    streamlog_opts_set_str(opts, STREAMLOG_OPT_QUEUE, "workers");
    streamlog_opts_set_str(opts, STREAMLOG_OPT_DURABLE, "work-processor");
    streamlog_opts_set_int(opts, STREAMLOG_OPT_START, STREAMLOG_START_FIRST);
    streamlog_opts_set_int(opts, STREAMLOG_OPT_ACK_WAIT_MS, 5000); /* redeliver a job unacked for 5 s */
    streamlog_opts_set_int(opts, STREAMLOG_OPT_MAX_INFLIGHT, 4);   /* take few jobs at a time */
    int rc = streamlog_subscribe(w->work, opts, &sub);
    streamlog_opts_free(opts); /* options are read only during the call */
    if (check(rc, "streamlog_subscribe")) {
        w->failed = 1;
        return NULL;
    }

    while (atomic_load(&remaining) > 0) {
        const streamlog_msg *job;
        /* Wait up to 100 ms, then look whether the pool is done. */
        rc = streamlog_sub_next(sub, 100, &job);
        if (rc == STREAMLOG_ETIMEDOUT)
            continue;
        if (check(rc, "streamlog_sub_next")) {
            w->failed = 1;
            break;
        }
        /* "Process" the job. The view is valid until the next call on sub. */
        uint64_t seq = streamlog_msg_seq(job);
        size_t len;
        const char *text = streamlog_msg_data(job, &len);
        printf("worker %d: job #%llu%s: %.*s\n", w->id, (unsigned long long)seq,
               streamlog_msg_redelivery_count(job) ? " (redelivered)" : "", (int)len, text);
        struct timespec work = {0, 20 * 1000000}; /* pretend the job takes 20 ms */
        nanosleep(&work, NULL);
        w->processed++;
        /* Acknowledge only after processing: no ack, no loss. */
        if (check(streamlog_ack(sub, seq), "streamlog_ack")) {
            w->failed = 1;
            break;
        }
        /* Count each of this run's jobs once (jobs left over by an earlier,
         * interrupted run are processed too, but not counted). */
        if (seq >= first && seq < first + NJOBS && !atomic_exchange(&done_flag[seq - first], 1))
            atomic_fetch_sub(&remaining, 1);
    }
    /* Close, not unsubscribe: the group and its position stay in the store. */
    if (check(streamlog_sub_close(sub), "streamlog_sub_close"))
        w->failed = 1;
    return NULL;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "worker-store";
    streamlog_store *store;
    streamlog_channel *work;
    int failed = 0;

    if (check(streamlog_open(dir, NULL, &store), "streamlog_open"))
        return 1;
    if (check(streamlog_channel_open(store, "work", STREAMLOG_CREATE, NULL, &work), "streamlog_channel_open")) {
        streamlog_close(store);
        return 1;
    }

    /* Queue the jobs in one atomic batch. */
    static const char *items[NJOBS] = {"resize photo-1.jpg", "resize photo-2.jpg", "send invoice 1001",
                                       "send invoice 1002",  "index doc-7",        "index doc-8",
                                       "resize photo-3.jpg", "send invoice 1003",  "index doc-9",
                                       "compress logs"};
    const void *data[NJOBS];
    size_t lens[NJOBS];
    for (int i = 0; i < NJOBS; i++) {
        data[i] = items[i];
        lens[i] = strlen(items[i]);
    }
    if (check(streamlog_append_batch(work, data, lens, NJOBS, &first), "streamlog_append_batch")) {
        failed = 1;
        goto out;
    }
    printf("queued jobs #%llu..#%llu\n", (unsigned long long)first, (unsigned long long)(first + NJOBS - 1));

    struct worker workers[NWORKERS];
    pthread_t threads[NWORKERS];
    int started = 0;
    for (int i = 0; i < NWORKERS; i++) {
        workers[i] = (struct worker){.work = work, .id = i + 1};
        if (pthread_create(&threads[i], NULL, worker_main, &workers[i]) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            failed = 1;
            atomic_store(&remaining, 0); /* stop the others */
            break;
        }
        started++;
    }
    for (int i = 0; i < started; i++) {
        pthread_join(threads[i], NULL);
        failed |= workers[i].failed;
        printf("worker %d processed %d job(s)\n", workers[i].id, workers[i].processed);
    }
    if (!failed && atomic_load(&remaining) != 0) {
        fprintf(stderr, "%d job(s) not processed\n", atomic_load(&remaining));
        failed = 1;
    }
out:
    /* Subscriptions and channel handles are closed before the store. */
    streamlog_channel_close(work);
    if (check(streamlog_close(store), "streamlog_close"))
        failed = 1;
    if (!failed)
        printf("all %d jobs done\n", NJOBS);
    return failed;
}
