/* stan_append.c - appender threads (see stan_append.h). */
#include "stan_append.h"

#include <stdlib.h>

#define BATCH_MAX 1024   /* messages per streamlog_append_batch() */

struct stan_appender {
    uv_loop_t *loop;
    uv_async_t async;
    uv_mutex_t mu;
    uv_cond_t cond;
    uv_thread_t *threads;
    int nthreads, stop;
    stan_appq *ready_head, *ready_tail;
    stan_pub *done_head, *done_tail;
    void (*stored)(stan_pub *, void *);
    void (*done)(stan_pub *, void *);
    void *ud;
};

static void push_ready(stan_appender *a, stan_appq *q)
{
    q->ready = 1;
    q->ready_next = NULL;
    if (a->ready_tail)
        a->ready_tail->ready_next = q;
    else
        a->ready_head = q;
    a->ready_tail = q;
}

int stan_appq_deliverable(stan_appq *q, uint64_t seq)
{
    /* a visible message was committed while storing was set; storing is cleared only after its
     * batch's stored() ran, so seeing it clear (or acked past seq) means the PubAck is out */
    return !atomic_load(&q->storing) || seq <= atomic_load(&q->acked);
}

static void store_batch(stan_appender *a, stan_appq *q, stan_pub *list)
{
    uint64_t last = 0;
    atomic_store(&q->storing, 1);
    stan_pub *all = list;
    const void *data[BATCH_MAX];
    size_t lens[BATCH_MAX];
    while (list) {
        stan_pub *first = list;
        size_t n = 0;
        for (; list && n < BATCH_MAX; list = list->next, n++) {
            data[n] = list->data;
            lens[n] = list->len;
        }
        uint64_t seq = 0;
        int rc = streamlog_append_batch(q->ch, data, lens, n, &seq);
        if (rc == STREAMLOG_ELIMIT || rc == STREAMLOG_EINVAL) {
            /* one bad message must not fail the others: store them one by one */
            stan_pub *p = first;
            for (size_t i = 0; i < n; i++, p = p->next)
                if (!(p->rc = streamlog_append(q->ch, p->data, p->len, &seq)) && seq > last)
                    last = seq;
        } else {
            stan_pub *p = first;
            for (size_t i = 0; i < n; i++, p = p->next)
                p->rc = rc;
            if (!rc)
                last = seq + n - 1;
        }
    }
    a->stored(all, a->ud);
    if (last > atomic_load(&q->acked))
        atomic_store(&q->acked, last);
    atomic_store(&q->storing, 0);
}

static void worker(void *arg)
{
    stan_appender *a = arg;
    uv_mutex_lock(&a->mu);
    for (;;) {
        while (!a->ready_head && !a->stop)
            uv_cond_wait(&a->cond, &a->mu);
        if (!a->ready_head)
            break;
        stan_appq *q = a->ready_head;
        a->ready_head = q->ready_next;
        if (!a->ready_head)
            a->ready_tail = NULL;
        q->ready = 0;
        q->busy = 1;
        stan_pub *list = q->head, *tail = q->tail;
        q->head = q->tail = NULL;
        uv_mutex_unlock(&a->mu);

        store_batch(a, q, list);

        uv_mutex_lock(&a->mu);
        if (a->done_tail)
            a->done_tail->next = list;
        else
            a->done_head = list;
        a->done_tail = tail;
        q->busy = 0;
        if (q->head) {
            push_ready(a, q);
            uv_cond_signal(&a->cond);
        }
        uv_mutex_unlock(&a->mu);
        uv_async_send(&a->async);
        uv_mutex_lock(&a->mu);
    }
    uv_mutex_unlock(&a->mu);
}

static void deliver_done(stan_appender *a)
{
    uv_mutex_lock(&a->mu);
    stan_pub *list = a->done_head;
    a->done_head = a->done_tail = NULL;
    uv_mutex_unlock(&a->mu);
    if (list)
        a->done(list, a->ud);
}

static void on_async(uv_async_t *h) { deliver_done(h->data); }

int stan_appender_new(uv_loop_t *loop, int nthreads, void (*stored)(stan_pub *, void *),
                      void (*done)(stan_pub *, void *), void *ud, stan_appender **out)
{
    stan_appender *a = calloc(1, sizeof *a);
    if (!a)
        return UV_ENOMEM;
    a->threads = calloc((size_t)nthreads, sizeof *a->threads);
    if (!a->threads) {
        free(a);
        return UV_ENOMEM;
    }
    a->loop = loop;
    a->stored = stored;
    a->done = done;
    a->ud = ud;
    uv_mutex_init(&a->mu);
    uv_cond_init(&a->cond);
    uv_async_init(loop, &a->async, on_async);
    a->async.data = a;
    for (int i = 0; i < nthreads; i++) {
        int rc = uv_thread_create(&a->threads[i], worker, a);
        if (rc) {
            a->nthreads = i;
            stan_appender_free(a);
            return rc;
        }
        a->nthreads = i + 1;
    }
    *out = a;
    return 0;
}

void stan_appender_submit(stan_appender *a, stan_appq *q, stan_pub *p)
{
    p->next = NULL;
    p->rc = 0;
    uv_mutex_lock(&a->mu);
    if (q->tail)
        q->tail->next = p;
    else
        q->head = p;
    q->tail = p;
    if (!q->busy && !q->ready) {
        push_ready(a, q);
        uv_cond_signal(&a->cond);
    }
    uv_mutex_unlock(&a->mu);
}

static void async_closed(uv_handle_t *h) { free(h->data); }

void stan_appender_free(stan_appender *a)
{
    if (!a)
        return;
    uv_mutex_lock(&a->mu);
    a->stop = 1;
    uv_cond_broadcast(&a->cond);
    uv_mutex_unlock(&a->mu);
    for (int i = 0; i < a->nthreads; i++)
        uv_thread_join(&a->threads[i]);
    deliver_done(a);
    free(a->threads);
    uv_mutex_destroy(&a->mu);
    uv_cond_destroy(&a->cond);
    uv_close((uv_handle_t *)&a->async, async_closed);
}
