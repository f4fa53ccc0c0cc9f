/* The handles callers have open (channels, iterators, subscriptions, pipelines), so that
 * closing a store that still has some can say which. Kept by the public
 * layer: the handles a subscription opens for itself are not listed. */
#ifndef SL_HANDLES_H
#define SL_HANDLES_H

#include "streamlog.h"

enum sl_handle_kind { SL_HANDLE_CHANNEL, SL_HANDLE_ITERATOR, SL_HANDLE_SUB, SL_HANDLE_PIPE, SL_HANDLE_KINDS };

/* A handle about to be opened: its description, and room reserved for it. */
typedef struct sl_handle_note {
    enum sl_handle_kind kind;
    char *desc;
} sl_handle_note;

/* Before opening: describe the handle (`what` on channel `channel`, e.g.
 * "durable 'billing'"; channel NULL for a handle of the whole store) and reserve its place, so that sl_handles_add() cannot
 * fail after the handle exists. STREAMLOG_OK or ENOMEM. */
int  sl_handles_reserve(sl_handle_note *n, enum sl_handle_kind kind, const char *what, const char *channel);
/* After a successful open. */
void sl_handles_add(sl_handle_note *n, const void *handle, const streamlog_store *st);
/* After a failed open. */
void sl_handles_cancel(sl_handle_note *n);
/* Before closing a handle. A handle that is not listed is ignored. */
void sl_handles_remove(const void *handle);

/* STREAMLOG_EBUSY, with a message that counts and names the store's open
 * handles (bounded: the first few by name, then how many more). */
int  sl_handles_busy(const streamlog_store *st);

#endif
