/* Sync points: the record of a commit that is wholly on disk, and the
 * rollback to it after a reboot. See syncpoint.h for the design. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "checksum.h"
#include "errors.h"
#include "syncpoint.h"

#define BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"

/* LMDB 0.9's meta page, in words of LMDB_WORD bytes (a size_t): page header
 * (pgno 1 word, pad 2, flags 2, bounds 4), then MDB_meta (magic 4, version 4,
 * address 1 word, mapsize 1 word, two MDB_db of 8 bytes + 5 words, the
 * first's md_pad holding the page size, last_pg 1 word, txnid 1 word). A
 * 64-bit build's offsets are 10, 16, 40 and 144; a 32-bit build's 6, 12, 28
 * and 88. */
#define LMDB_WORD ((int)sizeof(size_t))
#define META_FLAGS_OFF (LMDB_WORD + 2)
#define META_MAGIC_OFF (LMDB_WORD + 8)
#define META_PSIZE_OFF (META_MAGIC_OFF + 8 + 2 * LMDB_WORD)
#define MDB_DB_BYTES (8 + 5 * LMDB_WORD)
#define META_TXNID_OFF (META_PSIZE_OFF + 2 * MDB_DB_BYTES + LMDB_WORD)
_Static_assert(SL_META_BYTES == META_TXNID_OFF + LMDB_WORD, "SL_META_BYTES ends with mm_txnid");
#define P_META 0x08
#define LMDB_MAGIC 0xBEEFC0DEu

/* One record, at RECORD_OFF in each meta page: magic, seq, txnid, live,
 * boot id, the meta page's first SL_META_BYTES, CRC32C of all that. It sits
 * in one 512-byte sector. */
#define RECORD_OFF 2048
#define R_SEQ 8
#define R_TXNID 16
#define R_LIVE 24
#define R_BOOT 28
#define R_META 68
#define R_CRC (R_META + SL_META_BYTES)
#define RECORD_BYTES (R_CRC + 4)
static const char record_magic[8] = "SLSYNC01";

/* Far beyond any data: a byte-range lock there never meets LMDB's I/O. */
#define PRESENCE_OFF ((off_t)1 << 62)

struct record {
    int valid;
    uint64_t seq, txnid;
    uint32_t live;
    char boot_id[40];
    unsigned char meta[SL_META_BYTES];
};

static uint64_t get64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static uint32_t get32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* EIO, whatever errno says: a failed sync latches the store (ENOSPC too). */
static int io_fail(const char *what)
{
    return sl_fail(STREAMLOG_EIO, "%s data.mdb's sync point: %s", what, strerror(errno));
}

static const char *test_boot_id;

void sl_syncpoint_test_boot_id(const char *id)
{
    test_boot_id = id;
}

static int read_boot_id(char out[40])
{
    if (test_boot_id) {
        snprintf(out, 40, "%s", test_boot_id);
        return 0;
    }
    int fd = open(BOOT_ID_PATH, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    memset(out, 0, 40);
    ssize_t n = read(fd, out, 39);
    close(fd);
    if (n < 32)
        return -1;
    out[strcspn(out, "\n")] = 0;
    return 0;
}

static void read_records(struct sl_syncfile *sf, struct record *best)
{
    memset(best, 0, sizeof *best);
    for (int slot = 0; slot < 2; slot++) {
        unsigned char b[RECORD_BYTES];
        if (pread(sf->fd, b, sizeof b, (off_t)slot * sf->psize + RECORD_OFF) != (ssize_t)sizeof b ||
            memcmp(b, record_magic, 8) != 0 || get32(b + R_CRC) != sl_crc32c(0, b, R_CRC))
            continue;
        uint64_t seq = get64(b + R_SEQ);
        if (best->valid && seq <= best->seq)
            continue;
        best->valid = 1;
        best->seq = seq;
        best->txnid = get64(b + R_TXNID);
        best->live = get32(b + R_LIVE);
        memcpy(best->boot_id, b + R_BOOT, 40);
        best->boot_id[39] = 0;
        memcpy(best->meta, b + R_META, SL_META_BYTES);
    }
    if (best->valid && best->seq > sf->seq)
        sf->seq = best->seq;
}

/* Writes a record over the older copy and syncs it; under the flock. */
static int write_record(struct sl_syncfile *sf, uint64_t txnid, const unsigned char *meta, int live)
{
    unsigned char b[RECORD_BYTES] = {0};
    uint64_t seq = sf->seq + 1;
    uint32_t l = live ? 1 : 0;
    memcpy(b, record_magic, 8);
    memcpy(b + R_SEQ, &seq, 8);
    memcpy(b + R_TXNID, &txnid, 8);
    memcpy(b + R_LIVE, &l, 4);
    memcpy(b + R_BOOT, sf->boot_id, 40);
    memcpy(b + R_META, meta, SL_META_BYTES);
    uint32_t crc = sl_crc32c(0, b, R_CRC);
    memcpy(b + R_CRC, &crc, 4);
    if (pwrite(sf->fd, b, sizeof b, (off_t)(seq & 1) * sf->psize + RECORD_OFF) != (ssize_t)sizeof b)
        return io_fail("writing");
    if (fdatasync(sf->fd) != 0)
        return io_fail("syncing");
    sf->seq = seq;
    return STREAMLOG_OK;
}

int sl_syncfile_read_meta(struct sl_syncfile *sf, int slot, unsigned char *meta, uint64_t *txnid)
{
    if (pread(sf->fd, meta, SL_META_BYTES, (off_t)slot * sf->psize) != (ssize_t)SL_META_BYTES)
        return io_fail("reading");
    *txnid = LMDB_WORD == 8 ? get64(meta + META_TXNID_OFF) : get32(meta + META_TXNID_OFF);
    return STREAMLOG_OK;
}

/* After a reboot: make both meta pages the recorded commit's. */
static int roll_back(struct sl_syncfile *sf, const struct record *r)
{
    for (int slot = 0; slot < 2; slot++) {
        unsigned char page[SL_META_BYTES], now[SL_META_BYTES];
        uint64_t txnid;
        size_t pgno = (size_t)slot; /* LMDB's pgno_t */
        memcpy(page, r->meta, SL_META_BYTES);
        memcpy(page, &pgno, sizeof pgno); /* the page header names its own page */
        int rc = sl_syncfile_read_meta(sf, slot, now, &txnid);
        if (rc)
            return rc;
        if (memcmp(now, page, SL_META_BYTES) != 0 &&
            pwrite(sf->fd, page, SL_META_BYTES, (off_t)slot * sf->psize) != (ssize_t)SL_META_BYTES)
            return io_fail("restoring");
    }
    if (fdatasync(sf->fd) != 0)
        return io_fail("syncing");
    return write_record(sf, r->txnid, r->meta, 0);
}

int sl_syncfile_open(const char *dir, int readonly, struct sl_syncfile *sf)
{
    char path[4096];
    memset(sf, 0, sizeof *sf);
    sf->fd = -1;
    if (snprintf(path, sizeof path, "%s/data.mdb", dir) >= (int)sizeof path)
        return STREAMLOG_OK; /* LMDB reports the path */
    int writable = 1;
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0 && readonly && (errno == EACCES || errno == EPERM || errno == EROFS)) {
        fd = open(path, O_RDONLY | O_CLOEXEC);
        writable = 0;
    }
    if (fd < 0)
        return STREAMLOG_OK; /* no store yet, or one LMDB will refuse and say why */
    unsigned char head[SL_META_BYTES];
    uint16_t flags;
    if (read_boot_id(sf->boot_id) != 0 || pread(fd, head, sizeof head, 0) != (ssize_t)sizeof head) {
        close(fd);
        return STREAMLOG_OK;
    }
    memcpy(&flags, head + META_FLAGS_OFF, 2);
    sf->psize = get32(head + META_PSIZE_OFF);
    if (!(flags & P_META) || get32(head + META_MAGIC_OFF) != LMDB_MAGIC || sf->psize < 4096 ||
        (sf->psize & (sf->psize - 1))) {
        close(fd);
        return STREAMLOG_OK;
    }
    sf->fd = fd;
    struct record r;
    int rc = STREAMLOG_OK;
    flock(fd, LOCK_EX);
    read_records(sf, &r);
    if (r.valid && r.live && strcmp(r.boot_id, sf->boot_id) != 0)
        rc = writable ? roll_back(sf, &r)
                      : sl_fail(STREAMLOG_EPERM, "'%s' must return to its last sync point after a system crash, "
                                                 "which needs a process that may write data.mdb", dir);
    flock(fd, LOCK_UN);
    if (rc || readonly)
        sl_syncfile_close(sf);
    return rc;
}

void sl_syncfile_close(struct sl_syncfile *sf)
{
    if (sf->fd >= 0)
        close(sf->fd); /* also drops the presence lock */
    sf->fd = -1;
}

int sl_syncfile_live(struct sl_syncfile *sf, int *live, uint64_t *txnid)
{
    struct record r;
    flock(sf->fd, LOCK_SH);
    read_records(sf, &r);
    flock(sf->fd, LOCK_UN);
    *live = r.valid && r.live && strcmp(r.boot_id, sf->boot_id) == 0;
    *txnid = r.txnid;
    return STREAMLOG_OK;
}

int sl_syncfile_record(struct sl_syncfile *sf, uint64_t txnid, const unsigned char *meta, int live)
{
    struct record r;
    int rc = STREAMLOG_OK;
    flock(sf->fd, LOCK_EX);
    read_records(sf, &r);
    if (!r.valid || (uint32_t)live != r.live || txnid > r.txnid || strcmp(r.boot_id, sf->boot_id) != 0)
        rc = write_record(sf, txnid, meta, live);
    flock(sf->fd, LOCK_UN);
    return rc;
}

static int presence_lock(struct sl_syncfile *sf, short type, int wait)
{
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = PRESENCE_OFF, .l_len = 1};
    return fcntl(sf->fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl);
}

int sl_syncfile_join(struct sl_syncfile *sf)
{
    if (presence_lock(sf, F_RDLCK, 1) != 0)
        return sl_fail(STREAMLOG_EIO, "locking data.mdb: %s", strerror(errno));
    sf->present = 1;
    return STREAMLOG_OK;
}

int sl_syncfile_last_out(struct sl_syncfile *sf)
{
    return sf->present && presence_lock(sf, F_WRLCK, 0) == 0;
}
