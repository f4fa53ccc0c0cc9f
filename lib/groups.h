/* Persisted subscription state: durable and queue groups, their in-flight
 * (pending) messages, and the members (active subscriptions) of every process.
 *
 * A group record holds the shared position (next sequence to hand out). A
 * pending record is one in-flight message: its owner (a member id, 0 when
 * orphaned), delivery count and redelivery deadline (Unix ns). A member
 * record names the process (pid and start time) so other processes can tell
 * a dead member from a live one. */
#ifndef SL_GROUPS_H
#define SL_GROUPS_H

#include <stddef.h>
#include <stdint.h>

#include "storage.h"

#define SL_GROUP_NAME_MAX 200
#define SL_GROUP_KEY_MAX (9 + 2 * SL_GROUP_NAME_MAX + 1)

/* Group kinds, the byte after the channel id in a group key. */
#define SL_GROUP_DURABLE 'D'        /* durable name */
#define SL_GROUP_QUEUE 'Q'          /* queue name */
#define SL_GROUP_DURABLE_QUEUE 'B'  /* queue name ':' durable name */

typedef struct sl_group_rec {
    uint64_t id;
    uint64_t next_seq;     /* the next new message to hand out */
} sl_group_rec;

typedef struct sl_pending_rec {
    uint64_t owner;        /* member id; 0: orphaned, for any member to take */
    uint32_t deliveries;
    int64_t deadline;      /* Unix ns after which another member may take it */
} sl_pending_rec;

typedef struct sl_member_rec {
    uint64_t group_id;     /* 0 for a plain subscription */
    uint32_t pid;
    uint64_t start_ticks;  /* the process's start time, so a reused pid is not taken for it */
    /* Queue members, for the delivery rule (subs.c): */
    uint32_t waiting;      /* 1 while it waits for a new message and could take one */
    uint32_t unacked;      /* its messages in flight when it last wrote this record */
    uint64_t last_claim;   /* the last new sequence it took, 0 before its first */
} sl_member_rec;

/* Decode one record's value (as read by a cursor): ECORRUPT when malformed. */
int sl_group_decode(const sl_val *v, sl_group_rec *out);
int sl_pending_decode(const sl_val *v, sl_pending_rec *out);
int sl_member_decode(const sl_val *v, sl_member_rec *out);

size_t sl_group_key(uint8_t *buf, uint64_t chan_id, char kind, const char *name, const char *durable);

int sl_group_load(const sl_txn *t, const uint8_t *key, size_t klen, sl_group_rec *out);
int sl_group_save(sl_txn *t, const uint8_t *key, size_t klen, const sl_group_rec *rec);
/* Remove a group record and all its pending records. */
int sl_group_remove(sl_txn *t, const uint8_t *key, size_t klen, uint64_t group_id);

int sl_pending_load(const sl_txn *t, uint64_t group_id, uint64_t seq, sl_pending_rec *out);
int sl_pending_save(sl_txn *t, uint64_t group_id, uint64_t seq, const sl_pending_rec *rec);
int sl_pending_del(sl_txn *t, uint64_t group_id, uint64_t seq);
/* Cursor walk over one group's pending records from seq `from`:
 * STREAMLOG_ENOTFOUND past the last one. */
int sl_pending_seek(sl_cursor *c, uint64_t group_id, uint64_t from, uint64_t *seq, sl_pending_rec *out);
int sl_pending_next(sl_cursor *c, uint64_t group_id, uint64_t *seq, sl_pending_rec *out);

/* Hand a member's pending messages back to its group: owner 0, due now. */
int sl_pending_orphan(sl_txn *t, uint64_t group_id, uint64_t member_id);

int sl_member_load(const sl_txn *t, uint64_t chan_id, uint64_t member_id, sl_member_rec *out);
int sl_member_save(sl_txn *t, uint64_t chan_id, uint64_t member_id, const sl_member_rec *rec);
int sl_member_del(sl_txn *t, uint64_t chan_id, uint64_t member_id);
/* Live members of a channel (all, or of one group when group_id != 0). */
int sl_members_count(const sl_txn *t, uint64_t chan_id, uint64_t group_id, uint64_t *out);
/* In a write transaction, one walk over a channel's members: delete those
 * of dead processes (up to 64 a call), orphaning their pending messages, and
 * count the live ones: *live of the channel, *group_live of group_id (0 when
 * group_id is 0). Costs one look at /proc per other process, not per member. */
int sl_members_reap(sl_txn *t, uint64_t chan_id, uint64_t group_id, uint64_t *live, uint64_t *group_live);
/* The same reaping over a window of at most 64 members from member id
 * `from` on (wrapping around to the channel's first ones): a subscribe
 * that needs no count starts it at a pseudo-random id, so a channel's dead
 * members are found in time at a cost that does not grow with the channel. */
int sl_members_reap_some(sl_txn *t, uint64_t chan_id, uint64_t from);

/* Remove every group, pending and member record of a channel. */
int sl_subs_purge_channel(sl_txn *t, uint64_t chan_id);

/* Queue groups, the delivery rule: the next new message goes to the waiting
 * member with the fewest unacked messages; ties go to the one that took a
 * new message least recently (then the lower member id). `me` is the asking
 * member's record as it stands now. *turn: 1 when no other live waiting
 * member of the group comes before it; *others_waiting: whether any other
 * live member of the group waits. */
int sl_queue_turn(const sl_txn *t, uint64_t chan_id, uint64_t member_id, const sl_member_rec *me, int *turn,
                  int *others_waiting);

/* Whether a member's process is alive. */
int  sl_member_alive(const sl_member_rec *m);

#endif
