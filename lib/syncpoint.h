/* Sync points: what lets SYNC_INTERVAL commit without syncing and still
 * survive a power loss uncorrupted.
 *
 * Unsynced (MDB_NOSYNC) commits may reach the disk in any order, so after an
 * OS crash the newest meta page on disk may point at pages that never got
 * there. A sync point fixes a commit that is wholly on disk to return to:
 * the storage module pins a snapshot with a reader slot (so its pages are
 * never reused), fdatasyncs data.mdb, and then records that snapshot's meta
 * page here. After a reboot (a new boot id) the first open writes the
 * recorded meta page back over both of LMDB's meta pages before LMDB reads
 * them: the store is the recorded commit, and everything after it is free
 * space.
 *
 * The record lives in data.mdb itself, in the unused second half of LMDB's
 * two meta pages (LMDB writes only their first 152 bytes after creating
 * them), two copies written alternately, each with a CRC32C: a torn record
 * write leaves the other. Keeping it in data.mdb means it is copied,
 * traced and synced with the data it describes. Processes serialise record
 * writes with flock() on data.mdb (LMDB locks only lock.mdb).
 *
 * "Live" records say that commits after the recorded one may not be on disk
 * yet. While the record is live every durable commit (SYNC_ALWAYS, a
 * streamlog_sync) must move it forward before it is reported durable, or a
 * reboot would undo it. The last SYNC_INTERVAL process to close cleanly
 * (after a final sync point) clears it. */
#ifndef SL_SYNCPOINT_H
#define SL_SYNCPOINT_H

#include <stddef.h>
#include <stdint.h>

/* LMDB 0.9's meta page: the part of it that a commit writes, from the page
 * header through mm_txnid. Its fields of type size_t and pointer take a
 * machine word, so it is 152 bytes in a 64-bit build and 92 in a 32-bit one
 * (syncpoint.c spells the layout out). sl_syncfile_open checks the layout on
 * the file. */
#define SL_META_BYTES (15 * sizeof(size_t) + 32)

struct sl_syncfile {
    int fd;           /* data.mdb, read-write; -1 when sync points are unavailable */
    unsigned psize;   /* LMDB's page size, from the file */
    char boot_id[40]; /* this boot's id */
    uint64_t seq;     /* of the newest record this process read or wrote */
    int present;      /* holds the presence lock of a SYNC_INTERVAL process */
};

/* Opens data.mdb in `dir` before LMDB does and, when the newest record is
 * live and was written in an earlier boot, rolls the file back to the
 * recorded commit. With `readonly`, a rollback that is needed but cannot be
 * written fails with STREAMLOG_EPERM. sf->fd is -1 (and STREAMLOG_OK
 * returned) when the store has no data.mdb yet or the file or machine
 * cannot support sync points (no boot id, an unknown meta layout). */
int  sl_syncfile_open(const char *dir, int readonly, struct sl_syncfile *sf);
void sl_syncfile_close(struct sl_syncfile *sf);

/* Whether the newest record is live (a durable commit must then record
 * itself), and the commit it records. */
int  sl_syncfile_live(struct sl_syncfile *sf, int *live, uint64_t *txnid);

/* Records `meta` (SL_META_BYTES of the meta page of commit `txnid`, whose
 * pages the caller has pinned and synced) unless a record of a newer commit
 * exists, and syncs it. `live` as above. */
int  sl_syncfile_record(struct sl_syncfile *sf, uint64_t txnid, const unsigned char *meta, int live);

/* Reads meta page `slot` (0 or 1) of the file, as LMDB last wrote it, and
 * returns its transaction id in *txnid. */
int  sl_syncfile_read_meta(struct sl_syncfile *sf, int slot, unsigned char *meta, uint64_t *txnid);

/* The presence lock of SYNC_INTERVAL processes: taken shared at open;
 * sl_syncfile_last_out() tells whether the caller is the only holder. */
int  sl_syncfile_join(struct sl_syncfile *sf);
int  sl_syncfile_last_out(struct sl_syncfile *sf);

/* Tests: serve this boot id instead of the machine's (NULL: the machine's),
 * to open a store as the first process after a reboot. */
void sl_syncpoint_test_boot_id(const char *id);

#endif
