/* The I/O trace written by the power-loss shim (plshim.c) and read by the
 * image builder (powerloss.c).
 *
 * The trace is a sequence of records appended with O_APPEND, one writev()
 * per record: a header followed by `len` payload bytes. The traced process is
 * killed at any moment, so the last record may be cut short; a reader stops
 * at the first record whose header or checksum does not hold. */
#ifndef PLTRACE_H
#define PLTRACE_H

#include <stdint.h>

#define PL_TRACE_MAGIC 0x504c5431u /* "PLT1" */

enum pl_rec_type {
    PL_REC_WRITE = 1,    /* bytes about to be written to data.mdb at `off` */
    PL_REC_SYNC = 2,     /* fdatasync, fsync or syncfs on data.mdb returned 0 */
    PL_REC_TRUNCATE = 3, /* ftruncate of data.mdb to `off` bytes */
    PL_REC_MARK = 4,     /* bytes the workload wrote to its side log: a line of its event log */
    PL_REC_UNSUPPORTED = 5, /* I/O the builder cannot replay (dup, fallocate, sync_file_range...): text */
    PL_REC_DONE = 6,     /* the preceding PL_REC_WRITE returned `off` (as int64_t: bytes written or -1) */
    PL_REC_LINK = 7,     /* the data.mdb written so far, made (and synced) in a ".creating-*" directory of
                            the store, was linked into the store: before this record there is no data.mdb */
};

#define PL_WRITE_DURABLE 0x1u /* written through an O_DSYNC/O_SYNC descriptor: durable when it returned */

struct pl_rec {
    uint32_t magic;
    uint32_t type;
    uint32_t flags;
    uint32_t len;  /* payload bytes after the header */
    uint64_t off;
    uint32_t crc;  /* crc32 (zlib) of the payload */
    uint32_t hcrc; /* crc32 of this header with hcrc set to 0 */
};

#endif
