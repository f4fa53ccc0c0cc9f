/* Channel records in a transaction (see chanrec.h). */
#include "chanrec.h"
#include "errors.h"

int sl_chan_load(const sl_txn *t, const char *name, size_t name_len, sl_chan_rec *out)
{
    sl_val v;
    int rc = sl_get(t, SL_DB_CHANNELS, name, name_len, &v);
    if (rc)
        return rc;
    return sl_chan_rec_decode(&v, out);
}

int sl_chan_load_handle(const sl_txn *t, const streamlog_channel *ch, sl_chan_rec *out)
{
    sl_chan_rec rec;
    int rc = sl_chan_load(t, ch->name, ch->name_len, &rec);
    if (rc == STREAMLOG_ENOTFOUND || (rc == STREAMLOG_OK && rec.id != ch->id))
        return sl_fail(STREAMLOG_ECLOSED, "channel '%s' has been deleted", ch->name);
    if (rc == STREAMLOG_OK)
        *out = rec;
    return rc;
}

int sl_chan_save(sl_txn *t, const char *name, size_t name_len, const sl_chan_rec *rec)
{
    uint8_t buf[SL_CHAN_REC_LEN];
    size_t len = sl_chan_rec_encode(rec, buf);
    return sl_put(t, SL_DB_CHANNELS, name, name_len, buf, len);
}

void sl_chan_limits(const streamlog_store *st, const sl_chan_rec *rec, sl_limits *out)
{
    out->max_msgs = (rec->own & SL_OWN_MAX_MSGS) ? rec->limits.max_msgs : st->defaults.max_msgs;
    out->max_bytes = (rec->own & SL_OWN_MAX_BYTES) ? rec->limits.max_bytes : st->defaults.max_bytes;
    out->max_age_ms = (rec->own & SL_OWN_MAX_AGE) ? rec->limits.max_age_ms : st->defaults.max_age_ms;
    out->max_subs = (rec->own & SL_OWN_MAX_SUBS) ? rec->limits.max_subs : st->defaults.max_subs;
    out->dedup_window_ms =
        (rec->own & SL_OWN_DEDUP) ? rec->limits.dedup_window_ms : st->defaults.dedup_window_ms;
}
