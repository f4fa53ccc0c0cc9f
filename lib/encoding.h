/* Key and record encoding. Keys are big-endian so that byte order is numeric
 * order; every record starts with a format byte and is validated on read. */
#ifndef SL_ENCODING_H
#define SL_ENCODING_H

#include <stdint.h>

#include "options.h"
#include "storage.h"

static inline void sl_be64_put(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static inline uint64_t sl_be64_get(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static inline void sl_be32_put(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static inline uint32_t sl_be32_get(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Message key: channel id then sequence, 8 bytes each. */
#define SL_MSG_KEY_LEN 16
static inline void sl_msg_key(uint8_t key[SL_MSG_KEY_LEN], uint64_t chan_id, uint64_t seq)
{
    sl_be64_put(key, chan_id);
    sl_be64_put(key + 8, seq);
}

/* Message record: format (1), flags (1), reserved (2, zero), time (8),
 * CRC32C (4, format 2 only), body. The body is the payload, or with flag
 * SL_MSG_HAS_HEADERS a 4-byte big-endian length, the header block (NATS
 * wire form) and then the payload. The CRC covers the key, the time and the
 * body, so a record that is damaged, torn or found under another key is
 * caught on read. Format 1 (no CRC, no flags) is still read: stores written
 * before checksums keep working. */
#define SL_MSG_FORMAT_V1 1
#define SL_MSG_HDR_LEN_V1 12
#define SL_MSG_FORMAT 2
#define SL_MSG_HDR_LEN 16
#define SL_MSG_HAS_HEADERS 0x01
/* Bytes of a record's body for a header block and a payload of these sizes. */
static inline size_t sl_msg_body_len(size_t hdrs_len, size_t len)
{
    return (hdrs_len ? 4 + hdrs_len : 0) + len;
}
/* Write a record's body (header block, if any, and payload) after its header. */
void sl_msg_body_write(uint8_t *rec, const void *hdrs, size_t hdrs_len, const void *data, size_t len);
/* Fill the header of a record whose body is already in place after it. */
void sl_msg_hdr_write(uint8_t *rec, const uint8_t key[SL_MSG_KEY_LEN], int64_t time_ns, int has_headers,
                      size_t body_len);

typedef struct sl_msg_rec {
    uint64_t chan_id, seq;
    int64_t time;
    const void *data;
    size_t len;
    const void *hdrs; /* the header block, NULL when there is none */
    size_t hdrs_len;
} sl_msg_rec;

/* STREAMLOG_OK, or STREAMLOG_ECORRUPT with a message. */
int sl_msg_decode(const sl_val *key, const sl_val *val, sl_msg_rec *out);

/* Channel record, stored under the channel's name. */
#define SL_OWN_MAX_MSGS  0x1u
#define SL_OWN_MAX_BYTES 0x2u
#define SL_OWN_MAX_AGE   0x4u
#define SL_OWN_MAX_SUBS  0x8u
#define SL_OWN_DEDUP     0x10u
typedef struct sl_chan_rec {
    uint64_t id;
    uint64_t first_seq, last_seq;  /* empty: first_seq == last_seq + 1 */
    uint64_t msgs, bytes;
    int64_t last_time;             /* time of the newest message ever appended */
    int64_t created;
    uint32_t own;                  /* SL_OWN_*: which limits are the channel's own */
    sl_limits limits;              /* the channel's own limits (where own says so) */
} sl_chan_rec;

#define SL_CHAN_FORMAT 1
/* A channel with its own dedup window stores it after the other limits;
 * others keep the shorter record, which libraries before it read. */
#define SL_CHAN_REC_LEN_SHORT (4 + 8 * 7 + 8 * 4)
#define SL_CHAN_REC_LEN (SL_CHAN_REC_LEN_SHORT + 8)
/* Encodes into buf (SL_CHAN_REC_LEN bytes); returns the record's length. */
size_t sl_chan_rec_encode(const sl_chan_rec *rec, uint8_t buf[SL_CHAN_REC_LEN]);
int  sl_chan_rec_decode(const sl_val *val, sl_chan_rec *out);

/* Meta keys. */
#define SL_META_FORMAT       "format"
#define SL_META_NEXT_CHAN_ID "next_channel_id"
#define SL_META_CHANNELS     "channel_count"
#define SL_META_NEXT_GROUP_ID  "next_group_id"
#define SL_META_NEXT_MEMBER_ID "next_member_id"
/* 2: message records with checksums and headers, idempotent appends. A
 * format-1 store still opens; its first writable open marks it 2, so an
 * older library refuses it plainly instead of misreading new records. */
#define SL_STORE_FORMAT 2
#define SL_STORE_FORMAT_V1 1

/* Read a 64-bit counter from the meta database (0 when absent). */
int sl_meta_get(const sl_txn *t, const char *key, uint64_t *out);
int sl_meta_put(sl_txn *t, const char *key, uint64_t value);
/* Allocate the next value of a meta counter (ids start at 1). */
int sl_meta_next(sl_txn *t, const char *key, uint64_t *out);

#endif
