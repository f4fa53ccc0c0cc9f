/* The handles callers have open, for streamlog_close's EBUSY message.
 *
 * One table for the process, keyed by handle address (open addressing,
 * linear probing), so that adding and removing stay O(1) with many
 * subscriptions. Room is reserved before a handle is opened: once it exists,
 * listing it cannot fail. The mutex is held across fork() so a child never
 * inherits it locked; a child inherits its parent's entries, which name the
 * parent's stores and so are never reported for the child's own. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "errors.h"
#include "handles.h"

struct entry {
    const void *handle; /* NULL: free slot */
    const streamlog_store *st;
    enum sl_handle_kind kind;
    char *desc;
};

static struct entry *table;
static size_t table_cap; /* a power of two, or 0 */
static size_t used, reserved;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void lock(void)
{
    pthread_mutex_lock(&mu);
}

static void unlock(void)
{
    pthread_mutex_unlock(&mu);
}

static void register_atfork(void)
{
    pthread_atfork(lock, unlock, unlock);
}

static size_t slot_of(const void *handle, size_t cap)
{
    uint64_t h = (uint64_t)(uintptr_t)handle * 0x9E3779B97F4A7C15ull; /* Fibonacci hashing */
    return (size_t)(h >> 32) & (cap - 1);
}

static void place(struct entry *t, size_t cap, struct entry e)
{
    size_t i = slot_of(e.handle, cap);
    while (t[i].handle)
        i = (i + 1) & (cap - 1);
    t[i] = e;
}

/* Keep the table at most half full, counting reservations. */
static int grow_for(size_t n)
{
    if (n * 2 <= table_cap)
        return STREAMLOG_OK;
    size_t cap = table_cap ? table_cap : 64;
    while (n * 2 > cap)
        cap *= 2;
    struct entry *t = sl_calloc(cap, sizeof *t);
    if (!t)
        return sl_fail(STREAMLOG_ENOMEM, "out of memory listing an open handle");
    for (size_t i = 0; i < table_cap; i++)
        if (table[i].handle)
            place(t, cap, table[i]);
    sl_free(table);
    table = t;
    table_cap = cap;
    return STREAMLOG_OK;
}

/* Names may be 255 bytes: keep a description short enough that a few fit in
 * one message, cutting only between UTF-8 characters. */
static void clip(char *out, size_t cap, const char *name)
{
    size_t len = strlen(name);
    if (len < cap) {
        memcpy(out, name, len + 1);
        return;
    }
    len = cap - 4;
    while (len > 0 && ((unsigned char)name[len] & 0xC0) == 0x80)
        len--;
    memcpy(out, name, len);
    memcpy(out + len, "...", 4);
}

int sl_handles_reserve(sl_handle_note *n, enum sl_handle_kind kind, const char *what, const char *channel)
{
    char what_c[48], chan_c[48], desc[112];
    clip(what_c, sizeof what_c, what);
    clip(chan_c, sizeof chan_c, channel ? channel : "");
    if (!channel) /* a handle of the whole store (a pipeline) */
        snprintf(desc, sizeof desc, "%s", what_c);
    else if (kind == SL_HANDLE_CHANNEL)
        snprintf(desc, sizeof desc, "channel '%s'", chan_c);
    else
        snprintf(desc, sizeof desc, "%s on '%s'", what_c, chan_c);
    n->kind = kind;
    n->desc = sl_strdup(desc);
    if (!n->desc)
        return sl_fail(STREAMLOG_ENOMEM, "out of memory listing an open handle");
    pthread_once(&atfork_once, register_atfork);
    lock();
    int rc = grow_for(used + reserved + 1);
    if (!rc)
        reserved++;
    unlock();
    if (rc) {
        sl_free(n->desc);
        n->desc = NULL;
    }
    return rc;
}

void sl_handles_add(sl_handle_note *n, const void *handle, const streamlog_store *st)
{
    lock();
    reserved--;
    used++;
    place(table, table_cap, (struct entry){.handle = handle, .st = st, .kind = n->kind, .desc = n->desc});
    unlock();
    n->desc = NULL;
}

static void free_table_if_empty(void)
{
    if (!used && !reserved) {
        sl_free(table);
        table = NULL;
        table_cap = 0;
    }
}

void sl_handles_cancel(sl_handle_note *n)
{
    lock();
    reserved--;
    free_table_if_empty();
    unlock();
    sl_free(n->desc);
    n->desc = NULL;
}

void sl_handles_remove(const void *handle)
{
    char *desc = NULL;
    lock();
    if (table_cap) {
        size_t i = slot_of(handle, table_cap);
        while (table[i].handle && table[i].handle != handle)
            i = (i + 1) & (table_cap - 1);
        if (table[i].handle) {
            desc = table[i].desc;
            table[i].handle = NULL;
            used--;
            /* backward-shift deletion: move up the entries whose probe passed this slot */
            for (size_t j = (i + 1) & (table_cap - 1); table[j].handle; j = (j + 1) & (table_cap - 1)) {
                size_t home = slot_of(table[j].handle, table_cap);
                if (((j - home) & (table_cap - 1)) >= ((j - i) & (table_cap - 1))) {
                    table[i] = table[j];
                    table[j].handle = NULL;
                    i = j;
                }
            }
            free_table_if_empty();
        }
    }
    unlock();
    sl_free(desc);
}

int sl_handles_busy(const streamlog_store *st)
{
    static const char *const kind_names[SL_HANDLE_KINDS] = {"channel", "iterator", "subscription", "pipeline"};
    size_t count[SL_HANDLE_KINDS] = {0};
    size_t total = 0, named = 0;
    char names[120] = "";
    size_t len = 0;
    lock();
    for (size_t i = 0; i < table_cap; i++) {
        const struct entry *e = &table[i];
        if (!e->handle || e->st != st)
            continue;
        count[e->kind]++;
        total++;
        size_t dl = strlen(e->desc);
        if (len + dl + 2 < sizeof names) {
            len += (size_t)snprintf(names + len, sizeof names - len, "%s%s", named ? ", " : "", e->desc);
            named++;
        }
    }
    unlock();
    char kinds[96];
    size_t kl = 0;
    for (int k = 0; k < SL_HANDLE_KINDS; k++)
        if (count[k])
            kl += (size_t)snprintf(kinds + kl, sizeof kinds - kl, "%s%zu %s%s", kl ? ", " : "", count[k],
                                   kind_names[k], count[k] > 1 ? "s" : "");
    if (!total) /* only handles the library opened for itself: a bug, but say so */
        return sl_fail(STREAMLOG_EBUSY, "streamlog_close: the store still has internal handles open");
    char more[32] = "";
    if (named < total)
        snprintf(more, sizeof more, ", and %zu more", total - named);
    return sl_fail(STREAMLOG_EBUSY, "streamlog_close: %zu handle%s still open (%s), close them first: %s%s", total,
                   total > 1 ? "s" : "", kinds, names, more);
}
