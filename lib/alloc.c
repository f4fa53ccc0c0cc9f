#include <stdlib.h>
#include <string.h>

#include "alloc.h"

/* Per thread, so that the store's background thread is never the victim of
 * a test's countdown. */
static _Thread_local long fail_countdown = -1; /* < 0: never fail */
static _Thread_local int fail_sticky;

static int should_fail(void)
{
    if (fail_countdown < 0)
        return 0;
    if (fail_countdown == 0) {
        if (!fail_sticky)
            fail_countdown = -1;
        return 1;
    }
    fail_countdown--;
    return 0;
}

void sl_alloc_fail_after(long n, int sticky)
{
    fail_sticky = sticky;
    fail_countdown = n;
}

void *sl_malloc(size_t n)
{
    return should_fail() ? NULL : malloc(n ? n : 1);
}

void *sl_calloc(size_t count, size_t size)
{
    return should_fail() ? NULL : calloc(count ? count : 1, size ? size : 1);
}

void *sl_realloc(void *p, size_t n)
{
    return should_fail() ? NULL : realloc(p, n ? n : 1);
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
