/* Allocation for the library. Every internal allocation goes through here so
 * that tests can make the N-th one fail (SQLite-style fault injection). */
#ifndef SL_ALLOC_H
#define SL_ALLOC_H

#include <stddef.h>

void *sl_malloc(size_t n);
void *sl_calloc(size_t count, size_t size);
void *sl_realloc(void *p, size_t n);
void  sl_free(void *p);
char *sl_strdup(const char *s);

/* Test hook, for the calling thread only: make the allocation `n` calls from
 * now fail (n = 0: the next one), and every one after it when `sticky`;
 * n < 0 disables failures. LMDB's own allocations are not covered. */
void sl_alloc_fail_after(long n, int sticky);

#endif
