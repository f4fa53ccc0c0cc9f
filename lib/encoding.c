#include <stdint.h>
#include <string.h>

#include "checksum.h"
#include "encoding.h"
#include "errors.h"

static uint32_t msg_crc(const uint8_t *key, const uint8_t *time_be, const uint8_t *body, size_t len)
{
    uint32_t crc = sl_crc32c(0, key, SL_MSG_KEY_LEN);
    crc = sl_crc32c(crc, time_be, 8);
    return sl_crc32c(crc, body, len);
}

void sl_msg_body_write(uint8_t *rec, const void *hdrs, size_t hdrs_len, const void *data, size_t len)
{
    uint8_t *body = rec + SL_MSG_HDR_LEN;
    if (hdrs_len) {
        sl_be32_put(body, (uint32_t)hdrs_len);
        memcpy(body + 4, hdrs, hdrs_len);
        body += 4 + hdrs_len;
    }
    if (len)
        memcpy(body, data, len);
}

void sl_msg_hdr_write(uint8_t *rec, const uint8_t key[SL_MSG_KEY_LEN], int64_t time_ns, int has_headers,
                      size_t body_len)
{
    rec[0] = SL_MSG_FORMAT;
    rec[1] = has_headers ? SL_MSG_HAS_HEADERS : 0;
    rec[2] = rec[3] = 0;
    sl_be64_put(rec + 4, (uint64_t)time_ns);
    sl_be32_put(rec + 12, msg_crc(key, rec + 4, rec + SL_MSG_HDR_LEN, body_len));
}

int sl_msg_decode(const sl_val *key, const sl_val *val, sl_msg_rec *out)
{
    const uint8_t *k = key->data, *v = val->data;
    if (key->len != SL_MSG_KEY_LEN)
        return sl_fail(STREAMLOG_ECORRUPT, "message key of %zu bytes, expected %d", key->len, SL_MSG_KEY_LEN);
    unsigned long long chan = sl_be64_get(k), seq = sl_be64_get(k + 8);
    size_t hdr = val->len >= 1 && v[0] == SL_MSG_FORMAT_V1 ? SL_MSG_HDR_LEN_V1 : SL_MSG_HDR_LEN;
    unsigned flags_allowed = v[0] == SL_MSG_FORMAT ? SL_MSG_HAS_HEADERS : 0;
    if (val->len < hdr || (v[0] != SL_MSG_FORMAT && v[0] != SL_MSG_FORMAT_V1) || (v[1] & ~flags_allowed) || v[2] ||
        v[3])
        return sl_fail(STREAMLOG_ECORRUPT, "malformed message record (channel id %llu, seq %llu)", chan, seq);
    const uint8_t *body = v + hdr;
    size_t body_len = val->len - hdr;
    if (v[0] == SL_MSG_FORMAT) {
        uint32_t stored = sl_be32_get(v + 12), computed = msg_crc(k, v + 4, body, body_len);
        if (stored != computed)
            return sl_fail(STREAMLOG_ECORRUPT,
                           "message record (channel id %llu, seq %llu) fails its checksum (stored %08x, "
                           "computed %08x): the store is damaged", chan, seq, stored, computed);
    }
    out->hdrs = NULL;
    out->hdrs_len = 0;
    if (v[1] & SL_MSG_HAS_HEADERS) {
        size_t hl = body_len >= 4 ? sl_be32_get(body) : SIZE_MAX;
        if (hl == 0 || hl > body_len - 4)
            return sl_fail(STREAMLOG_ECORRUPT, "message record (channel id %llu, seq %llu): bad header block", chan,
                           seq);
        out->hdrs = body + 4;
        out->hdrs_len = hl;
        body += 4 + hl;
        body_len -= 4 + hl;
    }
    out->len = body_len;
    out->data = body_len ? body : NULL;
    out->chan_id = chan;
    out->seq = seq;
    out->time = (int64_t)sl_be64_get(v + 4);
    return STREAMLOG_OK;
}

size_t sl_chan_rec_encode(const sl_chan_rec *rec, uint8_t buf[SL_CHAN_REC_LEN])
{
    buf[0] = SL_CHAN_FORMAT;
    buf[1] = 0;
    buf[2] = (uint8_t)(rec->own >> 8);
    buf[3] = (uint8_t)rec->own;
    uint64_t fields[] = {rec->id,
                         rec->first_seq,
                         rec->last_seq,
                         rec->msgs,
                         rec->bytes,
                         (uint64_t)rec->last_time,
                         (uint64_t)rec->created,
                         (uint64_t)rec->limits.max_msgs,
                         (uint64_t)rec->limits.max_bytes,
                         (uint64_t)rec->limits.max_age_ms,
                         (uint64_t)rec->limits.max_subs,
                         (uint64_t)rec->limits.dedup_window_ms};
    size_t n = sizeof fields / sizeof fields[0] - !(rec->own & SL_OWN_DEDUP);
    for (size_t i = 0; i < n; i++)
        sl_be64_put(buf + 4 + 8 * i, fields[i]);
    return 4 + 8 * n;
}

int sl_chan_rec_decode(const sl_val *val, sl_chan_rec *out)
{
    const uint8_t *b = val->data;
    if ((val->len != SL_CHAN_REC_LEN && val->len != SL_CHAN_REC_LEN_SHORT) || b[0] != SL_CHAN_FORMAT || b[1] != 0)
        return sl_fail(STREAMLOG_ECORRUPT, "malformed channel record (%zu bytes)", val->len);
    sl_chan_rec r;
    r.own = ((uint32_t)b[2] << 8) | b[3];
    r.id = sl_be64_get(b + 4);
    r.first_seq = sl_be64_get(b + 12);
    r.last_seq = sl_be64_get(b + 20);
    r.msgs = sl_be64_get(b + 28);
    r.bytes = sl_be64_get(b + 36);
    r.last_time = (int64_t)sl_be64_get(b + 44);
    r.created = (int64_t)sl_be64_get(b + 52);
    r.limits.max_msgs = (int64_t)sl_be64_get(b + 60);
    r.limits.max_bytes = (int64_t)sl_be64_get(b + 68);
    r.limits.max_age_ms = (int64_t)sl_be64_get(b + 76);
    r.limits.max_subs = (int64_t)sl_be64_get(b + 84);
    r.limits.dedup_window_ms = val->len == SL_CHAN_REC_LEN ? (int64_t)sl_be64_get(b + 92) : 0;
    /* invariants every reader relies on */
    if (r.id == 0 || r.first_seq == 0 || r.first_seq > r.last_seq + 1 || r.msgs != r.last_seq + 1 - r.first_seq ||
        (r.own & ~0x1Fu) || ((r.own & SL_OWN_DEDUP) != 0) != (val->len == SL_CHAN_REC_LEN))
        return sl_fail(STREAMLOG_ECORRUPT, "inconsistent channel record (id %llu)", (unsigned long long)r.id);
    *out = r;
    return STREAMLOG_OK;
}

int sl_meta_get(const sl_txn *t, const char *key, uint64_t *out)
{
    sl_val v;
    int rc = sl_get(t, SL_DB_META, key, strlen(key), &v);
    if (rc == STREAMLOG_ENOTFOUND) {
        *out = 0;
        return STREAMLOG_OK;
    }
    if (rc)
        return rc;
    if (v.len != 8)
        return sl_fail(STREAMLOG_ECORRUPT, "malformed store metadata '%s'", key);
    *out = sl_be64_get(v.data);
    return STREAMLOG_OK;
}

int sl_meta_put(sl_txn *t, const char *key, uint64_t value)
{
    uint8_t buf[8];
    sl_be64_put(buf, value);
    return sl_put(t, SL_DB_META, key, strlen(key), buf, sizeof buf);
}

int sl_meta_next(sl_txn *t, const char *key, uint64_t *out)
{
    uint64_t v;
    int rc = sl_meta_get(t, key, &v);
    if (rc)
        return rc;
    if (v == 0)
        v = 1;
    *out = v;
    return sl_meta_put(t, key, v + 1);
}
