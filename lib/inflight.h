/* The in-flight set of one subscription: sequence -> delivery count and
 * redelivery deadline, as an open-addressing hash table (linear probing,
 * backward-shift deletion), with a cheap lower bound on the earliest deadline
 * so that finding due redeliveries is not a scan on every delivery. */
#ifndef SL_INFLIGHT_H
#define SL_INFLIGHT_H

#include <stddef.h>
#include <stdint.h>

typedef struct sl_inflight {
    uint64_t seq;        /* 0: empty slot */
    uint32_t deliveries; /* deliveries made so far */
    int64_t deadline;    /* CLOCK_MONOTONIC ns at which it is redelivered */
} sl_inflight;

typedef struct sl_inflight_set {
    sl_inflight *slots;
    size_t cap, len;     /* cap is a power of two */
    int64_t min_deadline; /* no entry is due before this */
} sl_inflight_set;

void sl_inflight_init(sl_inflight_set *s);
void sl_inflight_free(sl_inflight_set *s);
sl_inflight *sl_inflight_find(sl_inflight_set *s, uint64_t seq);
/* Insert or replace; STREAMLOG_ENOMEM when the table cannot grow. */
int  sl_inflight_put(sl_inflight_set *s, uint64_t seq, uint32_t deliveries, int64_t deadline);
/* 1 when seq was in the set. */
int  sl_inflight_del(sl_inflight_set *s, uint64_t seq);
/* The smallest sequence due at `now` (0 when none); refreshes min_deadline. */
uint64_t sl_inflight_due(sl_inflight_set *s, int64_t now);

#endif
