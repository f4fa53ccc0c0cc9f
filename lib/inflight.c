#include <string.h>

#include "alloc.h"
#include "errors.h"
#include "inflight.h"

static size_t slot_of(const sl_inflight_set *s, uint64_t seq)
{
    /* Fibonacci hashing spreads consecutive sequences over the table */
    return (size_t)((seq * 0x9E3779B97F4A7C15ull) >> 20) & (s->cap - 1);
}

void sl_inflight_init(sl_inflight_set *s)
{
    memset(s, 0, sizeof *s);
    s->min_deadline = INT64_MAX;
}

void sl_inflight_free(sl_inflight_set *s)
{
    sl_free(s->slots);
    sl_inflight_init(s);
}

sl_inflight *sl_inflight_find(sl_inflight_set *s, uint64_t seq)
{
    if (!s->cap)
        return NULL;
    for (size_t i = slot_of(s, seq);; i = (i + 1) & (s->cap - 1)) {
        if (s->slots[i].seq == seq)
            return &s->slots[i];
        if (s->slots[i].seq == 0)
            return NULL;
    }
}

static int grow(sl_inflight_set *s)
{
    size_t cap = s->cap ? s->cap * 2 : 64;
    sl_inflight *slots = sl_calloc(cap, sizeof *slots);
    if (!slots)
        return sl_fail(STREAMLOG_ENOMEM, "out of memory tracking in-flight messages");
    sl_inflight *old = s->slots;
    size_t old_cap = s->cap;
    s->slots = slots;
    s->cap = cap;
    for (size_t i = 0; i < old_cap; i++) {
        if (!old[i].seq)
            continue;
        size_t j = slot_of(s, old[i].seq);
        while (slots[j].seq)
            j = (j + 1) & (cap - 1);
        slots[j] = old[i];
    }
    sl_free(old);
    return STREAMLOG_OK;
}

int sl_inflight_put(sl_inflight_set *s, uint64_t seq, uint32_t deliveries, int64_t deadline)
{
    sl_inflight *e = sl_inflight_find(s, seq);
    if (!e) {
        if ((s->len + 1) * 4 > s->cap * 3) { /* keep the load under 3/4 */
            int rc = grow(s);
            if (rc)
                return rc;
        }
        size_t i = slot_of(s, seq);
        while (s->slots[i].seq)
            i = (i + 1) & (s->cap - 1);
        e = &s->slots[i];
        s->len++;
    }
    *e = (sl_inflight){seq, deliveries, deadline};
    if (deadline < s->min_deadline)
        s->min_deadline = deadline;
    return STREAMLOG_OK;
}

int sl_inflight_del(sl_inflight_set *s, uint64_t seq)
{
    sl_inflight *e = sl_inflight_find(s, seq);
    if (!e)
        return 0;
    size_t mask = s->cap - 1, hole = (size_t)(e - s->slots);
    /* backward-shift: move later members of the cluster into the hole */
    for (size_t i = (hole + 1) & mask; s->slots[i].seq; i = (i + 1) & mask) {
        size_t home = slot_of(s, s->slots[i].seq);
        /* can the entry at i move to hole? only if its home is not in (hole, i] */
        if (((i - home) & mask) >= ((i - hole) & mask)) {
            s->slots[hole] = s->slots[i];
            hole = i;
        }
    }
    s->slots[hole].seq = 0;
    s->len--;
    return 1;
}

uint64_t sl_inflight_due(sl_inflight_set *s, int64_t now)
{
    if (s->len == 0 || now < s->min_deadline)
        return 0;
    uint64_t best = 0;
    int64_t min_future = INT64_MAX;
    for (size_t i = 0; i < s->cap; i++) {
        const sl_inflight *e = &s->slots[i];
        if (!e->seq)
            continue;
        if (e->deadline <= now) {
            if (!best || e->seq < best)
                best = e->seq;
        } else if (e->deadline < min_future) {
            min_future = e->deadline;
        }
    }
    /* while something is due, it stays the bound; otherwise the next deadline */
    s->min_deadline = best ? now : min_future;
    return best;
}
