#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

static atomic_long fail_countdown = -1; /* < 0: never fail */
static atomic_int fail_sticky;

static int should_fail(void)
{
    long n = atomic_load_explicit(&fail_countdown, memory_order_relaxed);
    if (n < 0)
        return 0;
    if (n == 0) {
        if (!atomic_load(&fail_sticky))
            atomic_store(&fail_countdown, -1);
        return 1;
    }
    atomic_fetch_sub(&fail_countdown, 1);
    return 0;
}

void sl_alloc_fail_after(long n, int sticky)
{
    atomic_store(&fail_sticky, sticky);
    atomic_store(&fail_countdown, n);
}

void *sl_malloc(size_t n)
{
    return should_fail() ? NULL : malloc(n ? n : 1);
}

void *sl_calloc(size_t count, size_t size)
{
    return should_fail() ? NULL : calloc(count ? count : 1, size ? size : 1);
}

void sl_free(void *p)
{
    free(p);
}

char *sl_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = sl_malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}
