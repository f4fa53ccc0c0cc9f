/* nats_sublist.h - subject to subscription matching for the NATS layer.
 *
 * Subjects are dot-separated tokens. In a subscription subject the token "*" matches exactly
 * one token and the token ">" (last token only) matches one or more tokens; a token that merely
 * contains '*' or '>' (such as "a*") is literal, as in nats-server.
 *
 * The sublist stores opaque item pointers (the caller's subscriptions) under a subject and an
 * optional queue group name. A match returns every plain item whose subject matches, plus one
 * member of each matching queue group, chosen round-robin among the members the caller's filter
 * accepts. The sublist copies the subject and queue strings it is given; it never frees items.
 *
 * Not thread-safe: one sublist belongs to one event loop.
 */
#ifndef NATS_SUBLIST_H
#define NATS_SUBLIST_H

#include <stddef.h>

typedef struct nats_sublist nats_sublist;

/* Result of a match: an array of items, reused across matches to avoid allocation. */
typedef struct nats_sublist_result {
    void **items;
    size_t count;
    size_t cap;
} nats_sublist_result;

/* Filter for nats_sublist_match(): return nonzero to accept item. */
typedef int (*nats_sublist_filter)(void *item, void *ud);

/* Subject checks. len is the byte length; no NUL needed. A valid subject is non-empty, has no
 * empty token and no space, tab, CR or LF. nats_subject_valid_publish() also refuses the
 * wildcard tokens "*" and ">"; nats_subject_valid_subscribe() allows them, ">" only last. */
int nats_subject_valid_publish(const char *s, size_t len);
int nats_subject_valid_subscribe(const char *s, size_t len);
/* A queue group name: non-empty, no space, tab, CR or LF. */
int nats_queue_name_valid(const char *s, size_t len);

/* Creates an empty sublist; NULL when out of memory. */
nats_sublist *nats_sublist_new(void);
/* Frees the sublist (not the items). Accepts NULL. */
void nats_sublist_free(nats_sublist *sl);

/* Adds item under subject (a valid subscribe subject) and queue (NULL or "" for none).
 * The same item may not be inserted twice. Returns 0, -1 for an invalid subject or queue,
 * -2 when out of memory (nothing changed). */
int nats_sublist_insert(nats_sublist *sl, const char *subject, const char *queue, void *item);

/* Removes item inserted with exactly this subject and queue. Returns 0, or -1 when not found. */
int nats_sublist_remove(nats_sublist *sl, const char *subject, const char *queue, void *item);

/* Number of items stored. */
size_t nats_sublist_count(const nats_sublist *sl);

/* Collects the items matching the literal subject s[0..len) into *res (res->count is reset
 * first). filter may be NULL; items it rejects are left out, and a queue group whose members
 * are all rejected contributes nothing. Returns 0, or -2 when out of memory (res may hold a
 * partial result). The items stay owned by the caller; the sublist must not be modified while
 * the caller relies on the result's order, but the result array itself stays valid. */
int nats_sublist_match(nats_sublist *sl, const char *s, size_t len, nats_sublist_filter filter,
                       void *ud, nats_sublist_result *res);

/* Frees the result's array. Accepts NULL. */
void nats_sublist_result_free(nats_sublist_result *res);

#endif
