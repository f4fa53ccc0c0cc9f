/*
 * streamlog.h - libstreamlog, persistent message logs embedded in your process.
 *
 * libstreamlog stores durable, ordered channels of messages in an LMDB
 * environment on local disk. A program appends messages to channels and
 * reads them back by sequence number or by time; retention limits bound a
 * channel's size and age. There is no server: everything happens inside the
 * calling process, and several processes may share one store.
 *
 * This header is the reference manual. README.md is the guide.
 *
 * Conventions that hold for every function below unless its comment says
 * otherwise:
 *   - Functions return int: STREAMLOG_OK (0) on success or a negative
 *     STREAMLOG_E* code. streamlog_strerror() names a code;
 *     streamlog_errmsg() gives the calling thread's detailed message for its
 *     most recent failure; streamlog_errmsg_of() gives it from any thread
 *     by the id the failed call leaves in errno.
 *   - Output parameters are written only on success.
 *   - A call that fails has changed nothing: no message, channel or setting
 *     is half-written.
 *   - Bad arguments (NULL handles, NULL outputs, out-of-range values) return
 *     STREAMLOG_EINVAL; they never crash.
 *   - Strings are UTF-8 and NUL-terminated. Payloads are (pointer, length)
 *     pairs and may contain any bytes; a zero-length payload is valid, and
 *     its pointer may then be NULL.
 *   - No function keeps an LMDB write transaction open after it returns, so
 *     a caller may move between threads freely between calls.
 *
 * Copyright (c) 2026 the libstreamlog authors. MIT licence, see COPYING.
 */
#ifndef STREAMLOG_H
#define STREAMLOG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @defgroup streamlog_version Version
 *
 * STREAMLOG_VERSION_MAJOR, _MINOR, _PATCH, _STRING and _NUMBER describe the
 * header compiled against (generated from meson.build into
 * streamlog_version.h, installed beside this header); the functions describe
 * the library loaded at run time. A program may compare the two.
 */
#include "streamlog_version.h"

/** Return the library's version as "MAJOR.MINOR.PATCH" (static string). */
const char *streamlog_version(void);

/** Return the library's version as MAJOR * 10000 + MINOR * 100 + PATCH
 *  (0.1.0 gives 100), comparable with STREAMLOG_VERSION_NUMBER. */
int streamlog_version_number(void);

/* ------------------------------------------------------------------------ */
/** @defgroup streamlog_constants Constants: enums and macros
 *
 * Every family of integer constants below is an enum type (enum
 * streamlog_result, streamlog_opt_key, streamlog_sync_policy,
 * streamlog_channel_flag, streamlog_start, streamlog_ack_mode,
 * streamlog_group_kind, and one small enum per size limit or capacity), so
 * bindgen, cgo and debuggers see each constant by name and its family by
 * type. Right
 * after each enum, every enumerator is also defined as a macro of the same
 * name and value, as in earlier versions, so `#ifdef STREAMLOG_EINVAL` and
 * `#if STREAMLOG_EINVAL < 0` keep working (the macro hides the enumerator
 * from later code; both have the same value, which test/abi checks for every
 * constant). Functions keep taking and returning int, as the size of an enum
 * type is the compiler's choice.
 *
 * The one constant wider than int, STREAMLOG_PAYLOAD_HARD_MAX, cannot be a
 * C99 enumerator: it is a plain integer literal with an LL suffix (no cast,
 * no shift, which bindgen would drop), so bindgen emits it as a constant
 * and cgo as an untyped one. test/abi runs bindgen on this header and checks
 * that every constant, enum, struct and function comes through.
 */

/* ------------------------------------------------------------------------ */
/** @defgroup streamlog_errors Result codes
 *
 * 0 is success; every error is a distinct negative constant. The values are
 * stable and part of the ABI.
 */
enum streamlog_result {
    STREAMLOG_OK = 0,          /**< success */
    STREAMLOG_EINVAL = -1,     /**< invalid argument or misuse */
    STREAMLOG_ENOTFOUND = -2,  /**< no such channel, message or state */
    STREAMLOG_EEXIST = -3,     /**< already exists / already open */
    STREAMLOG_ELIMIT = -4,     /**< a configured limit (payload size, channel count) refuses it */
    STREAMLOG_ECONFLICT = -5,  /**< expected last sequence did not match */
    STREAMLOG_EAGAIN = -6,     /**< nothing available now; try again later */
    STREAMLOG_ETIMEDOUT = -7,  /**< a wait ran out */
    STREAMLOG_EFULL = -8,      /**< store is full (size limit, map full or disk full) */
    STREAMLOG_ECORRUPT = -9,   /**< stored data failed validation */
    STREAMLOG_EBUSY = -10,     /**< in use (children still open, store open elsewhere in this process) */
    STREAMLOG_ENOMEM = -11,    /**< out of memory */
    STREAMLOG_EIO = -12,       /**< I/O error; after a failed sync the store refuses writes */
    STREAMLOG_ECLOSED = -13,   /**< the handle's store or channel is gone */
    STREAMLOG_EPERM = -14,     /**< permission denied by the file system, or a write to a read-only store */
    STREAMLOG_EREADERS = -15,  /**< too many read snapshots held at once (STREAMLOG_OPT_MAX_READERS) */
    STREAMLOG_EMFILE = -16     /**< out of file descriptors (EMFILE/ENFILE); nothing latched */
};
#define STREAMLOG_OK         0
#define STREAMLOG_EINVAL    -1
#define STREAMLOG_ENOTFOUND -2
#define STREAMLOG_EEXIST    -3
#define STREAMLOG_ELIMIT    -4
#define STREAMLOG_ECONFLICT -5
#define STREAMLOG_EAGAIN    -6
#define STREAMLOG_ETIMEDOUT -7
#define STREAMLOG_EFULL     -8
#define STREAMLOG_ECORRUPT  -9
#define STREAMLOG_EBUSY     -10
#define STREAMLOG_ENOMEM    -11
#define STREAMLOG_EIO       -12
#define STREAMLOG_ECLOSED   -13
#define STREAMLOG_EPERM     -14
#define STREAMLOG_EREADERS  -15
#define STREAMLOG_EMFILE    -16

/**
 * Return a static, human-readable description of a result code.
 * Never NULL; unknown codes give "unknown error".
 * @note Thread-safe.
 */
const char *streamlog_strerror(int rc);

/**
 * Return the symbolic name of a result code, such as "STREAMLOG_EINVAL"
 * (static string, never NULL; unknown codes give "STREAMLOG_EUNKNOWN").
 * @note Thread-safe.
 */
const char *streamlog_errname(int rc);

/**
 * Return a message describing the calling thread's most recent failed call,
 * e.g. "channel name 'a..b' has an empty token". The string belongs to the
 * library and stays valid until the calling thread's next libstreamlog call.
 * Returns "" when the thread's last call succeeded or made no call yet.
 * @note Per thread: it never reports another thread's failure. A caller
 *       whose OS thread may change between two calls (a Go goroutine) uses
 *       streamlog_errmsg_of() instead.
 */
const char *streamlog_errmsg(void);

enum streamlog_errmsg_cap {
    STREAMLOG_ERRMSG_CAP = 256  /**< room any detail message needs, NUL included */
};
#define STREAMLOG_ERRMSG_CAP 256

/**
 * The message of a failed call, read from any thread, by the id the failed
 * call left in errno.
 *
 * Every call that returns a negative result code sets errno before it
 * returns: to a positive id under which its detail message is kept, or to 0
 * when it has no message (EAGAIN, for instance). Copy errno right after the
 * call, on the thread that made it -- FFI runtimes do this for you: cgo's
 * `rc, err := C.streamlog_append(...)` (err is syscall.Errno(id)), Python
 * ctypes with use_errno=True and ctypes.get_errno(), Rust's
 * std::io::Error::last_os_error(), .NET's SetLastError. Then, from any
 * thread, this copies that call's message into @p buf.
 *
 * Why errno: the message must travel with the call, not with the thread,
 * and a call's only results are its return code (fixed) and its output
 * parameters (written only on success). errno is the one per-call value
 * that every FFI captures on the calling thread before a goroutine can move,
 * so no existing signature changes and no function needs a callback or a
 * struct. The messages of the process's last 256 failures are kept; ids are
 * not reused until 2^31 failures later. After a call that succeeded errno
 * is unspecified: look at it only after a failure. test/abi/go checks this
 * through cgo with goroutines that change threads between the two calls.
 *
 * @param id   the errno value a failed call left, > 0.
 * @param buf  receives the message, NUL-terminated.
 * @param cap  size of buf; STREAMLOG_ERRMSG_CAP always suffices.
 * @return OK; ENOTFOUND (id unknown, or its message was overwritten by 256
 *         later failures: nothing written); EINVAL (id <= 0, NULL buf, cap
 *         below the message's length + 1).
 * @note Thread-safe. Like every call, it replaces the calling thread's
 *       streamlog_errmsg().
 */
int streamlog_errmsg_of(int id, char *buf, size_t cap);

/* ------------------------------------------------------------------------ */
/** @defgroup streamlog_handles Handle types
 *
 * streamlog_store:   one open store directory. Thread-safe. Created by
 *                    streamlog_open(), destroyed by streamlog_close(), which
 *                    refuses (EBUSY) while channels, iterators or
 *                    subscriptions are open.
 * streamlog_opts:    an options object: a set of (key, value) pairs with
 *                    typed setters. Not thread-safe; read only during the
 *                    call it is passed to, so it may be freed right after.
 * streamlog_channel: a handle to one channel. Thread-safe: any number of
 *                    threads may append and read through one handle.
 * streamlog_iter:    a zero-copy reader over one channel. One thread at a
 *                    time (it may move between threads between calls).
 * streamlog_msg:     a message, either a view owned by an iterator or an
 *                    owned copy from streamlog_get().
 */
typedef struct streamlog_store   streamlog_store;
typedef struct streamlog_opts    streamlog_opts;
typedef struct streamlog_channel streamlog_channel;
typedef struct streamlog_iter    streamlog_iter;
typedef struct streamlog_msg     streamlog_msg;

/* ------------------------------------------------------------------------ */
/** @defgroup streamlog_options Options
 *
 * Keys. Each key has one type (int or string) and applies to some calls;
 * passing a key to a call it does not apply to is STREAMLOG_EINVAL.
 * For every limit, 0 means unlimited.
 *
 * Store keys (streamlog_open):
 *   STREAMLOG_OPT_SYNC              int, a STREAMLOG_SYNC_* policy (default ALWAYS)
 *   STREAMLOG_OPT_SYNC_INTERVAL_MS  int, 1..3600000, period of SYNC_INTERVAL (default 100)
 *   STREAMLOG_OPT_MAX_STORE_BYTES   int, 0 or 1 MiB..2^62: live data the store may hold
 *                                   (default 0 = 1 TiB, or less when the process's
 *                                   address space cannot map that much, e.g. under
 *                                   `ulimit -v` or valgrind: then the largest that
 *                                   fits, down to 1 GiB). Appends that would exceed it
 *                                   fail with EFULL; reads and deletions keep working.
 *                                   The store file grows only as data is written.
 *                                   A 32-bit build has 4 GiB of address space for all
 *                                   its stores: its default is 512 MiB (down to 64 MiB),
 *                                   and a limit it cannot map fails with EINVAL.
 *   STREAMLOG_OPT_MAX_CHANNELS      int, >= 0, channels the store may hold (default 0)
 *   STREAMLOG_OPT_MAX_PAYLOAD       int, >= 0, largest payload in bytes
 *                                   (default 1 MiB; 0 = up to STREAMLOG_PAYLOAD_HARD_MAX)
 *   STREAMLOG_OPT_READONLY          int, 0 or 1 (default 0): open read-only (see
 *                                   streamlog_open)
 *   STREAMLOG_OPT_MAX_READERS       int, 16..65536 (default 1022): read snapshots all
 *                                   processes of the store may hold at once. Each
 *                                   iterator and message view holds one while it is
 *                                   valid, and each thread reading holds one during a
 *                                   call. Beyond it reads fail with STREAMLOG_EREADERS
 *                                   (slots of dead processes are freed first). LMDB
 *                                   fixes the table's size when a process opens the
 *                                   store while no other has it open; a value given
 *                                   later applies from the next such open.
 * Limit keys (streamlog_open: store-wide defaults for channels that have no
 * limit of their own; streamlog_channel_open: the channel's own limits):
 *   STREAMLOG_OPT_MAX_MSGS          int, >= 0, messages kept per channel
 *   STREAMLOG_OPT_MAX_BYTES         int, >= 0, payload bytes kept per channel
 *   STREAMLOG_OPT_MAX_AGE_MS        int, >= 0, age after which a message expires
 *   STREAMLOG_OPT_MAX_SUBS          int, >= 0, subscriptions per channel
 *   STREAMLOG_OPT_DEDUP_WINDOW_MS   int, 1..604800000 (default 120000): how long the
 *                                   message ids of streamlog_append_once() are
 *                                   remembered. A channel's own window is kept in
 *                                   the store; the store-wide default is each
 *                                   process's own value. (Library builds from
 *                                   before channels had their own window refuse
 *                                   a channel that has one as damaged.)
 */
enum streamlog_opt_key {
    STREAMLOG_OPT_SYNC = 1,
    STREAMLOG_OPT_SYNC_INTERVAL_MS = 2,
    STREAMLOG_OPT_MAX_STORE_BYTES = 3,
    STREAMLOG_OPT_MAX_CHANNELS = 4,
    STREAMLOG_OPT_MAX_PAYLOAD = 5,
    STREAMLOG_OPT_READONLY = 6,
    STREAMLOG_OPT_MAX_READERS = 7,
    STREAMLOG_OPT_DEDUP_WINDOW_MS = 8,
    STREAMLOG_OPT_MAX_MSGS = 16,
    STREAMLOG_OPT_MAX_BYTES = 17,
    STREAMLOG_OPT_MAX_AGE_MS = 18,
    STREAMLOG_OPT_MAX_SUBS = 19,
    /* subscription keys: see Subscriptions */
    STREAMLOG_OPT_START = 32,
    STREAMLOG_OPT_START_VALUE = 33,
    STREAMLOG_OPT_MAX_INFLIGHT = 34,
    STREAMLOG_OPT_ACK_WAIT_MS = 35,
    STREAMLOG_OPT_ACK_MODE = 36,
    STREAMLOG_OPT_MAX_DELIVER = 37,
    STREAMLOG_OPT_DURABLE = 38,
    STREAMLOG_OPT_QUEUE = 39,
    STREAMLOG_OPT_DEAD_LETTER = 40
};
#define STREAMLOG_OPT_SYNC              1
#define STREAMLOG_OPT_SYNC_INTERVAL_MS  2
#define STREAMLOG_OPT_MAX_STORE_BYTES   3
#define STREAMLOG_OPT_MAX_CHANNELS      4
#define STREAMLOG_OPT_MAX_PAYLOAD       5
#define STREAMLOG_OPT_READONLY          6
#define STREAMLOG_OPT_MAX_READERS       7
#define STREAMLOG_OPT_DEDUP_WINDOW_MS   8
#define STREAMLOG_OPT_MAX_MSGS          16
#define STREAMLOG_OPT_MAX_BYTES         17
#define STREAMLOG_OPT_MAX_AGE_MS        18
#define STREAMLOG_OPT_MAX_SUBS          19
#define STREAMLOG_OPT_START             32
#define STREAMLOG_OPT_START_VALUE       33
#define STREAMLOG_OPT_MAX_INFLIGHT      34
#define STREAMLOG_OPT_ACK_WAIT_MS       35
#define STREAMLOG_OPT_ACK_MODE          36
#define STREAMLOG_OPT_MAX_DELIVER       37
#define STREAMLOG_OPT_DURABLE           38
#define STREAMLOG_OPT_QUEUE             39
#define STREAMLOG_OPT_DEAD_LETTER       40

/** Largest payload the format can hold, whatever MAX_PAYLOAD says (1 GiB,
 *  2^30). A 64-bit constant, so a plain literal (see Constants): compare it
 *  with int64_t or size_t values. */
#define STREAMLOG_PAYLOAD_HARD_MAX  1073741824LL

/**
 * Sync policies (STREAMLOG_OPT_SYNC). What "stored" means when an append
 * returns STREAMLOG_OK:
 *
 * STREAMLOG_SYNC_ALWAYS (default): the commit holding the message has been
 *   written and fdatasync()ed, its pages and then its meta page, before the
 *   append returns. The message survives a process crash, an OS crash and a
 *   power loss (given a disk that honours flushes).
 * STREAMLOG_SYNC_INTERVAL: commits are not synced. Every SYNC_INTERVAL_MS
 *   (sooner after a burst of commits) and in every streamlog_sync() the
 *   library makes a sync point: it syncs the file and records the newest
 *   commit as the one to return to. The message survives a crash of the
 *   process. After an OS crash or power loss, the first streamlog_open()
 *   (which tells a reboot by the machine's boot id) returns the store to its
 *   last sync point: commits after it are lost, and the store is never
 *   corrupted. A read-only open that must do this needs write permission on
 *   data.mdb, or fails with STREAMLOG_EPERM. Without a boot id
 *   (/proc/sys/kernel/random/boot_id) every commit's pages are synced instead.
 *   Pages freed after a sync point are reused only after the next one, so
 *   the data file holds up to some 400 commits' worth of rewritten pages
 *   more than under the other policies.
 * STREAMLOG_SYNC_NONE: nothing is synced until streamlog_sync() or a clean
 *   streamlog_close(). Survives a process crash, with nothing lost. An OS
 *   crash or power loss may lose any commits since the last sync AND MAY
 *   CORRUPT THE STORE (LMDB's MDB_NOSYNC: the disk may keep a commit's meta
 *   page without its pages); use NONE only for data you can rebuild.
 *
 * Subscription state (claims and acks) is committed with the meta page left
 * to the next sync under ALWAYS too: an OS crash may undo the last such
 * commit, which can only cause redeliveries.
 *
 * Processes may open one store with different policies: while a SYNC_INTERVAL
 * process has commits that may not be on disk, each SYNC_ALWAYS commit and
 * each streamlog_sync() also makes a sync point (one more fdatasync), so an
 * OS crash never undoes what they reported durable.
 *
 * Under ALWAYS and INTERVAL no crash corrupts the store: after reopening it
 * is exactly the state of some commit no older than the last completed sync.
 * The test suite proves this with a power-loss simulation (test/powerloss)
 * that rebuilds the data file from the writes and syncs made before a crash,
 * in every order a disk may persist unsynced writes. Under every policy a
 * failed write or sync makes the store refuse further writes with
 * STREAMLOG_EIO until it is closed and reopened, so nothing is ever reported
 * stored that might not be.
 */
enum streamlog_sync_policy {
    STREAMLOG_SYNC_ALWAYS = 0,
    STREAMLOG_SYNC_INTERVAL = 1,
    STREAMLOG_SYNC_NONE = 2
};
#define STREAMLOG_SYNC_ALWAYS    0
#define STREAMLOG_SYNC_INTERVAL  1
#define STREAMLOG_SYNC_NONE      2

/**
 * Create an empty options object in *out.
 * @return OK, EINVAL (out NULL), ENOMEM.
 * @note The caller owns it and frees it with streamlog_opts_free().
 */
int  streamlog_opts_new(streamlog_opts **out);

/** Free an options object. Accepts NULL. */
void streamlog_opts_free(streamlog_opts *opts);

/**
 * Set an integer option. Setting a key again replaces its value.
 * @return OK; EINVAL for an unknown key, a string key, or a value out of the
 *         key's range (see the key list); the object is then unchanged.
 */
int  streamlog_opts_set_int(streamlog_opts *opts, int key, int64_t value);

/**
 * Set a string option (the string is copied).
 * @return OK; EINVAL for an unknown key, an integer key, or a NULL value;
 *         ENOMEM. The object is unchanged on failure.
 * @note String keys: STREAMLOG_OPT_DURABLE, STREAMLOG_OPT_QUEUE,
 *       STREAMLOG_OPT_DEAD_LETTER (see Subscriptions).
 */
int  streamlog_opts_set_str(streamlog_opts *opts, int key, const char *value);

/* ------------------------------------------------------------------------ */
/** @defgroup streamlog_store Store */

/**
 * Open the store in directory @p dir, creating the directory (mode 0755) and
 * the store when they do not exist.
 *
 * @param dir   path of the store directory.
 * @param opts  store keys and store-wide default limits, or NULL for defaults.
 * @param out   receives the store handle.
 * @return OK; EINVAL (NULL dir or out, a key that is not a store or limit
 *         key); EBUSY (this process already has this store open: LMDB's
 *         locks do not survive a second open in one process, so share the
 *         first handle); ECORRUPT (the directory holds something that is not
 *         a libstreamlog store of a known format); EPERM (the file system
 *         refuses access to the directory or its files); EIO (the directory
 *         cannot be created or opened for another reason); ENOMEM.
 *         Read-only also: ENOTFOUND (no store in @p dir).
 * @note Read-only (STREAMLOG_OPT_READONLY 1): nothing is created or written,
 *       so the store may belong to another user, and any number of read-only
 *       processes may inspect a store that others are writing. Channel
 *       listing, statistics, streamlog_get() and iterators work; every call
 *       that writes (appends, creating or deleting channels, changing
 *       limits, subscriptions, streamlog_sync) fails with EPERM. Expired
 *       messages are not reclaimed, so statistics may still count them. When
 *       the process can write the store's lock.mdb, reads take LMDB reader
 *       slots as usual and are safe against concurrent writers. When it
 *       cannot (a store of another user), the store is read without LMDB's
 *       lock: a writer in another process may then reuse pages a read is
 *       looking at, and that read may fail with ECORRUPT or return wrong
 *       data; inspect such stores while no one writes, or ask the owner to
 *       make lock.mdb writable to you.
 * @note Several processes may open the same store at once (local file
 *       systems only, not NFS). Their appends are serialised and sequence
 *       numbers never collide; each reader sees all that is committed.
 *       Each process enforces its own MAX_STORE_BYTES on its appends; all
 *       map the same address space, so one growing the file never stops
 *       another (unless a process could map less than the file, e.g. under
 *       a tight `ulimit -v`: it then gets EBUSY and must reopen).
 * @note fork(): a child may open the store again (streamlog_open succeeds
 *       there even while the parent has it open) and use that new handle
 *       freely, also from several threads. Every handle the child inherited
 *       from the parent -- stores, channels, iterators, subscriptions and
 *       their fds, messages that are views -- belongs to the parent: the
 *       child must not call any function on them, close them included (LMDB
 *       environments must not cross fork()); they cost the child memory only.
 *       Owned messages (streamlog_get) are plain memory and stay usable.
 *       fork() may be called while other threads use the library.
 * @note Thread-safe. The store starts one background thread for expiry and
 *       periodic syncs, and, while it has subscriptions, one that watches for
 *       other processes' commits; streamlog_close() stops them. The store
 *       directory holds LMDB's data.mdb and lock.mdb and a procs/ directory
 *       with one entry per process that has the store open.
 */
int streamlog_open(const char *dir, const streamlog_opts *opts, streamlog_store **out);

/**
 * Close a store: sync it (under every policy) and free the handle.
 * @return OK; EBUSY while channel handles, iterators, subscriptions or pipelines of this
 *         store are open (nothing is closed then; streamlog_errmsg() counts
 *         them by kind and names the first few, e.g. "3 handles still open (1
 *         channel, 2 subscriptions), close them first: channel 'orders',
 *         durable 'billing' on 'orders', ..."); EINVAL for NULL; EIO when the
 *         final sync fails (the handle is freed all the same).
 * @note Garbage-collected hosts, whose finalizers run in no set order: let
 *       each child handle hold a reference to its store, so the store is
 *       finalized last, and close subscriptions and iterators, then channel
 *       handles, then the store. A forked child's inherited handles must not
 *       be closed at all (see fork() under streamlog_open).
 * @note No other thread may be using the store during the call.
 */
int streamlog_close(streamlog_store *st);

/**
 * Force a sync of everything committed so far to disk, whatever the policy.
 * @return OK; EINVAL; EPERM (read-only store); EIO (the store then refuses further writes).
 * @note Thread-safe.
 */
int streamlog_sync(streamlog_store *st);

/**
 * What streamlog_verify() found. Set `size` to sizeof(streamlog_verify_report)
 * before the call: the library fills at most that many bytes, so a program
 * compiled against this header keeps working when fields are added.
 */
typedef struct streamlog_verify_report {
    uint32_t size;                  /**< in: sizeof the caller's struct; out: bytes filled */
    uint32_t reserved;              /**< zero */
    uint64_t channels;              /**< channel records read */
    uint64_t damaged_channels;      /**< channel records that do not decode */
    uint64_t messages;              /**< message records read */
    uint64_t bytes;                 /**< payload bytes of the intact ones */
    uint64_t damaged_messages;      /**< malformed, or failing their CRC32C */
    uint64_t orphan_messages;       /**< of no channel (and no deletion in progress) */
    uint64_t out_of_range_messages; /**< outside their channel's first..last sequence */
    uint64_t counter_mismatches;    /**< channels whose message count or bytes disagree with their messages */
    /* Subscription state (durables and queue groups): */
    uint64_t groups;                /**< durable / queue group records read */
    uint64_t damaged_groups;        /**< group records (or keys) that do not decode */
    uint64_t orphan_groups;         /**< of no channel (and no deletion in progress) */
    uint64_t groups_beyond_end;     /**< whose position (next to hand out) is past their channel's last sequence + 1 */
    uint64_t pending;               /**< in-flight (pending) message records read */
    uint64_t damaged_pending;       /**< pending records (or keys) that do not decode */
    uint64_t orphan_pending;        /**< of no group */
    uint64_t out_of_range_pending;  /**< past their channel's last sequence or their group's position */
    uint64_t members;               /**< subscription member records read */
    uint64_t damaged_members;       /**< member records (or keys) that do not decode */
    uint64_t orphan_members;        /**< of no channel, or live members of no group */
} streamlog_verify_report;

/**
 * Check a whole store in one snapshot: every channel record decodes, every
 * message record decodes and passes its checksum (CRC32C over key, time and
 * payload; records written before checksums, format 1, have none to check),
 * belongs to a channel and lies within its range, and every channel's
 * counters match its messages. In the same snapshot it checks the persisted
 * subscription state: every group record decodes, belongs to a channel and
 * its position is not past the channel's last sequence; every pending
 * (in-flight) record decodes, belongs to a group and names a sequence the
 * group has handed out and the channel has reached (one that retention or a
 * purge has since removed is legitimate: the subscription drops it when it
 * comes to it); every member record decodes and belongs to a channel and, if
 * it is in a group, to that group (a member of a process that died is
 * allowed to outlive its group until it is reaped; telling costs a look at
 * /proc per other process). State of a channel whose deletion is still
 * being finished is not damage. Takes time in proportion
 * to the store's size and holds one read snapshot while it runs (writers go
 * on; the file may grow meanwhile).
 *
 * What it cannot see: damage to LMDB's own structure (branch pages, the free
 * list, the meta pages) that still parses as pages. LMDB reports some of it
 * as corruption (then this returns ECORRUPT with no report), some of it
 * only shows as records in the wrong place, and damage to the free list can
 * make a later commit overwrite live pages. Checksums cover the records, not
 * the tree around them.
 *
 * @param report  in: its `size`; out: the counts, written on OK and on ECORRUPT.
 * @return OK (nothing damaged); ECORRUPT (damage found: the report and
 *         streamlog_errmsg() say what); EINVAL (NULL, or size < 8); ENOMEM;
 *         EREADERS.
 * @note Thread-safe; may run beside writers in this and other processes.
 */
int streamlog_verify(streamlog_store *st, streamlog_verify_report *report);

/* ------------------------------------------------------------------------ */
/** @defgroup streamlog_channels Channels
 *
 * A channel name follows NATS Streaming's subject rule: 1 to 255 bytes of
 * UTF-8, dot-separated tokens, no empty token, no wildcard character '*' or
 * '>', no '/', no whitespace or control characters. Anything else is EINVAL.
 */
enum streamlog_channel_flag {
    STREAMLOG_CREATE = 0x1  /**< streamlog_channel_open: create when missing */
};
#define STREAMLOG_CREATE 0x1u

/**
 * Open channel @p name.
 * @param flags   0 or STREAMLOG_CREATE; other bits are EINVAL.
 * @param limits  limit keys for this channel, or NULL. A new channel without
 *                limits follows the store-wide defaults. Limits given for an
 *                existing channel replace just the keys set in @p limits;
 *                lowering max_msgs or max_bytes removes the oldest messages
 *                before the call returns.
 * @return OK; EINVAL (bad name, flags or key); ENOTFOUND (missing and no
 *         CREATE); ELIMIT (creating it would exceed MAX_CHANNELS); EPERM
 *         (read-only store, and the call would create the channel or change
 *         its limits); EFULL; EIO; ENOMEM.
 * @note Thread-safe. Close the handle with streamlog_channel_close().
 */
int  streamlog_channel_open(streamlog_store *st, const char *name, uint32_t flags,
                            const streamlog_opts *limits, streamlog_channel **out);

/** Close a channel handle. Accepts NULL. Iterators opened on it must be
 *  closed first (they keep working until then, but the store cannot close). */
void streamlog_channel_close(streamlog_channel *ch);

/**
 * Delete channel @p name: its messages, limits and state are gone, and a
 * channel created later under the same name starts again at sequence 1.
 * Open handles to the deleted channel then fail with ECLOSED.
 * @return OK; EINVAL; ENOTFOUND; EPERM (read-only store); EIO.
 * @note Thread-safe. Large channels are removed in several bounded commits;
 *       an interruption (crash, or a disk too full to finish) is finished by
 *       the store's background thread or the next streamlog_open(), and never
 *       keeps the store from opening.
 */
int  streamlog_channel_delete(streamlog_store *st, const char *name);

/**
 * Remove the channel's messages with sequences up to @p upto_seq (all of
 * them when upto_seq >= the last sequence; UINT64_MAX says "all"), keeping
 * its numbering: the next append still gets last sequence + 1. For
 * snapshots ("events before this one are folded in") and erasure requests.
 * The freed pages take new appends. Iterators and subscriptions positioned
 * in the removed range go on at the first message kept, as after retention.
 * @param out_removed  when not NULL, how many messages were removed.
 * @return OK; EINVAL (NULL channel); ECLOSED (channel deleted); EPERM
 *         (read-only store); ECORRUPT (a damaged record in the range: the
 *         messages before it are removed); EIO.
 * @note Thread-safe. Removes in bounded commits (10,000 messages each): a
 *       crash part-way leaves a prefix removed, never a hole.
 */
int  streamlog_channel_purge(streamlog_channel *ch, uint64_t upto_seq, uint64_t *out_removed);

/**
 * List channels: write into @p buf the name of the first channel whose name
 * sorts (bytewise) after @p after, or the first channel when @p after is
 * NULL or "". Call again with the name received to walk all channels.
 * @param cap  size of buf; at least 256 (a name and its NUL).
 * @return OK; ENOTFOUND when no channel follows; EINVAL (NULL st or buf,
 *         cap < 256); EIO.
 * @note Thread-safe. Channels created or deleted meanwhile may or may not be seen.
 */
int  streamlog_channel_list_next(streamlog_store *st, const char *after, char *buf, size_t cap);

/**
 * Growable statistics. The _v2 statistics structs begin with a `size` the
 * caller sets to the sizeof of its struct before the call, as
 * streamlog_verify_report does; fields are only ever added at their end.
 *   - size below the library's struct (a program built against an older
 *     header): the library writes exactly the first `size` bytes, and sets
 *     `size` to that.
 *   - size above the library's struct (a program built against a newer
 *     header, run with an older library): the library writes its fields,
 *     zeroes the rest of the caller's `size` bytes, and sets `size` to its
 *     own struct's size, so the caller can tell which fields it knew.
 *   - size below 8 (the first two words) or above 4096 (larger than
 *     any statistics struct will grow; most often a size left unset): EINVAL,
 *     nothing written.
 * The structs without a size (streamlog_channel_stats, streamlog_sub_stats,
 * streamlog_group_stats) and their functions are kept, frozen as they were
 * in 0.1.0, for programs built against older headers; they never grow.
 */

/** Statistics of one channel, frozen layout (see streamlog_channel_stats_v2). */
typedef struct streamlog_channel_stats {
    uint64_t first_seq, last_seq, msgs, bytes, subs;
} streamlog_channel_stats;

/** As streamlog_channel_get_stats_v2(), into the frozen layout. */
int  streamlog_channel_get_stats(streamlog_channel *ch, streamlog_channel_stats *out);

/** Statistics of one channel. An empty channel has msgs 0 and
 *  first_seq == last_seq + 1. bytes counts payload bytes. subs counts the
 *  channel's active subscriptions in every process sharing the store. */
typedef struct streamlog_channel_stats_v2 {
    uint32_t size;       /**< in: sizeof the caller's struct; out: bytes holding values (see Growable statistics) */
    uint32_t reserved;   /**< 0 */
    uint64_t first_seq;
    uint64_t last_seq;
    uint64_t msgs;
    uint64_t bytes;
    uint64_t subs;
} streamlog_channel_stats_v2;

/**
 * Read a channel's statistics. Expired messages are reclaimed first, so the
 * figures count only readable messages.
 * @param out  in: its `size`; out: the statistics.
 * @return OK; EINVAL (NULL, or a size out of range: see Growable
 *         statistics); ECLOSED (channel deleted); EIO.
 * @note Thread-safe.
 */
int  streamlog_channel_get_stats_v2(streamlog_channel *ch, streamlog_channel_stats_v2 *out);

/**
 * Write the channel's name (static for the handle's life) into *out.
 * @return OK; EINVAL.
 */
int  streamlog_channel_name(streamlog_channel *ch, const char **out);

/* ------------------------------------------------------------------------ */
/** @defgroup streamlog_append Appending
 *
 * Every append is stored under the store's sync policy before it returns.
 * Appends from many threads are committed together (group commit): one LMDB
 * transaction and one sync serve all appends waiting at that moment, so
 * durable throughput grows with the number of appending threads while each
 * call still returns only when its own message is stored.
 *
 * Sequences start at 1 in each channel, increase by one per message and are
 * never reused, even after retention removes messages or the store reopens.
 * Each message gets the Unix time of its commit in nanoseconds; times never
 * decrease within a channel (if the clock steps back, the last time is
 * reused).
 *
 * Exceeding the channel's max_msgs or max_bytes removes its oldest messages
 * in the same commit; the newest message always stays.
 *
 * Errors common to all appends: EINVAL (NULL channel; data NULL with len > 0);
 * ELIMIT (payload larger than MAX_PAYLOAD; nothing written); EPERM (read-only
 * store); EFULL (store size limit, LMDB map or disk full; nothing written,
 * reads and deletions keep working); ECLOSED (channel deleted); EIO (a write or sync failed: the
 * store refuses writes until reopened).
 */

/** Append one message; its sequence goes to *out_seq when out_seq is not NULL.
 *  @note Thread-safe. */
int streamlog_append(streamlog_channel *ch, const void *data, size_t len, uint64_t *out_seq);

/**
 * Append one message only if the channel's last sequence is
 * @p expected_last_seq (0 for a channel that never held a message): an
 * optimistic-concurrency check for event sourcing.
 * @return as streamlog_append, plus ECONFLICT (nothing written) on mismatch.
 * @note Thread-safe; the check and the append are one atomic step, also
 *       across processes.
 */
int streamlog_append_expect(streamlog_channel *ch, const void *data, size_t len,
                            uint64_t expected_last_seq, uint64_t *out_seq);

/**
 * Append @p n messages in one commit: all of them or none. They get
 * consecutive sequences; the first goes to *out_first_seq when not NULL.
 * @param data  n payload pointers (an entry may be NULL when its length is 0).
 * @param lens  n payload lengths.
 * @return as streamlog_append; EINVAL also for n == 0 or NULL arrays.
 * @note Thread-safe. A very large batch may fail with EFULL if it does not
 *       fit one LMDB transaction (about 500 MB of pages).
 */
int streamlog_append_batch(streamlog_channel *ch, const void *const *data, const size_t *lens,
                           size_t n, uint64_t *out_first_seq);

/**
 * Append one message with a header block: an ordered list of name/value
 * pairs in the NATS wire form, "NATS/1.0\r\n" then "Name: value\r\n" lines
 * then an empty line "\r\n" (a status after "NATS/1.0" is kept as given).
 * The block is stored as it is, covered by the record's checksum, and
 * returned by every read path (streamlog_msg_headers), so NATS front-ends
 * pass it through unchanged.
 * @param hdrs  the block, or NULL with hdrs_len 0 for none (then this is
 *              streamlog_append).
 * @return as streamlog_append; EINVAL also for a block that is not in that
 *         form (the message says where); ELIMIT when the block and the
 *         payload together exceed MAX_PAYLOAD.
 * @note Thread-safe.
 */
int streamlog_append_msg(streamlog_channel *ch, const void *hdrs, size_t hdrs_len, const void *data, size_t len,
                         uint64_t *out_seq);

/**
 * Idempotent append: store one message (with an optional header block, as
 * streamlog_append_msg) under message id @p msg_id, unless that id was
 * appended to this channel within its dedup window (the channel's
 * STREAMLOG_OPT_DEDUP_WINDOW_MS, else the store's; default 2 minutes, as JetStream's
 * Nats-Msg-Id): then nothing is stored, *out_seq gets the sequence the
 * first append got, and *out_duplicate is set to 1 (0 otherwise). The ids
 * are kept in the store, so a retry after a crash or a restart is caught
 * too; ids older than the window are forgotten by the background thread.
 * @param msg_id  1..200 bytes, NUL-terminated.
 * @param out_seq, out_duplicate  may be NULL.
 * @return as streamlog_append_msg; EINVAL also for a NULL, empty or too
 *         long msg_id. A duplicate is OK, not an error.
 * @note Thread-safe: of concurrent appends with one id, one stores and the
 *       others are duplicates of it, also across processes.
 */
int streamlog_append_once(streamlog_channel *ch, const char *msg_id, const void *hdrs, size_t hdrs_len,
                          const void *data, size_t len, uint64_t *out_seq, int *out_duplicate);

/**
 * streamlog_append_batch() with a header block per message (hdrs[i] NULL
 * with hdrs_lens[i] 0 for none; hdrs and hdrs_lens may both be NULL).
 * @return as streamlog_append_batch and streamlog_append_msg.
 * @note Thread-safe.
 */
int streamlog_append_batch_msgs(streamlog_channel *ch, const void *const *hdrs, const size_t *hdrs_lens,
                                const void *const *data, const size_t *lens, size_t n, uint64_t *out_first_seq);

/**
 * streamlog_append_batch() only if the channel's last sequence is
 * @p expected_last_seq: a command that emits several events stores all of
 * them or none, and none if anyone appended since the caller read the
 * channel.
 * @return as streamlog_append_batch, plus ECONFLICT (nothing written) on
 *         mismatch.
 * @note Thread-safe; the check and the appends are one atomic step, also
 *       across processes.
 */
int streamlog_append_batch_expect(streamlog_channel *ch, const void *const *data, const size_t *lens,
                                  size_t n, uint64_t expected_last_seq, uint64_t *out_first_seq);

/**
 * streamlog_append_batch_expect() with a header block per message, as
 * streamlog_append_batch_msgs(): the events of one command with their
 * metadata (event type, correlation id), all or none, and none if the
 * channel moved on since the caller read it.
 * @return as streamlog_append_batch_msgs, plus ECONFLICT (nothing written).
 * @note Thread-safe; one atomic step, also across processes.
 */
int streamlog_append_batch_msgs_expect(streamlog_channel *ch, const void *const *hdrs, const size_t *hdrs_lens,
                                       const void *const *data, const size_t *lens, size_t n,
                                       uint64_t expected_last_seq, uint64_t *out_first_seq);

/* ------------------------------------------------------------------------ */
/**
 * Append messages with the sequences and times they had elsewhere: restoring
 * an export (`streamlog import`), copying a channel from another store. All
 * @p n messages or none, in one commit. They take sequences first_seq ..
 * first_seq + n - 1, and first_seq must be the channel's next sequence
 * (last + 1); a channel holding no messages accepts any first_seq beyond its
 * last, and its numbering then starts there (as if purged up to
 * first_seq - 1). @p times_ns (Unix ns, one per message) must not decrease,
 * the first must not be before the channel's last message's time (seeking
 * by time relies on that), and none may be in the future. @p hdrs and
 * @p hdrs_lens as for streamlog_append_batch_msgs() (both may be NULL).
 * Retention limits apply as for any append; max_age counts from the
 * imported times. Durable under the store's policy like an append.
 * @return OK; EINVAL (NULL arguments, n 0, sequences past 2^64-2, a negative,
 *         decreasing or future time, a bad header block); ELIMIT (a payload
 *         too large); ECONFLICT (first_seq is not the next one, or the first
 *         time is before the last message's); ECLOSED (channel deleted);
 *         EFULL; EPERM (read-only store); EIO.
 * @note Thread-safe. Appends to the same channel in between (any thread or
 *       process) make the next import ECONFLICT.
 */
int streamlog_import(streamlog_channel *ch, uint64_t first_seq, const int64_t *times_ns, const void *const *hdrs,
                     const size_t *hdrs_lens, const void *const *data, const size_t *lens, size_t n);

/** @defgroup streamlog_pipeline Pipelined appends
 *
 * A pipeline lets one thread keep many appends in flight: submitting an
 * append returns at once with a ticket, and the result of each append --
 * its sequence once it is stored under the store's sync policy, or its
 * error -- is taken later, in ticket order, by waiting or from an event loop
 * through a file descriptor. Appends of pipelines and of synchronous callers
 * share the same group commits (one LMDB transaction and one sync for all
 * appends waiting at that moment), so a single thread with N appends in
 * flight gets the throughput of N appending threads.
 *
 * Tickets number a pipeline's appends 1, 2, 3, ... in submission order.
 * Sequences are not known at submission: they are given in the commit, and
 * other threads and processes may append to the same channel in between.
 * Appends submitted through one pipeline are committed in ticket order, so
 * those to one channel get increasing sequences in ticket order (not
 * necessarily consecutive ones), and a result is never ready before the
 * results of all earlier tickets.
 *
 * What a result means, and what a crash loses: a result of STREAMLOG_OK
 * means exactly what streamlog_append() returning OK means under the
 * store's sync policy (see STREAMLOG_SYNC_*): it is given only after the
 * commit holding the append has been made with that policy's sync, never
 * before. An append that was submitted but whose result is not yet ready
 * may be lost by a crash of the process or the system (or may have been
 * stored: only the result tells); an append whose result is OK is kept as
 * the policy promises. After a crash, use streamlog_pipe_append()'s msg_id
 * (an idempotent append, see streamlog_append_once) to resubmit without
 * storing anything twice.
 *
 * Errors are reported per append, in its result: ECLOSED (channel
 * deleted), EFULL, EIO (a write or sync failed: the store is latched and
 * every later append of every pipeline fails with EIO until the store is
 * reopened), ENOMEM, ECORRUPT. One append failing does not affect the
 * others. Errors found without the store (bad arguments, a payload over
 * MAX_PAYLOAD, a read-only or already latched store) are returned by
 * streamlog_pipe_append() itself, and no ticket is used.
 *
 * A pipeline belongs to one store and may append to any of its channels.
 * It counts as a child of the store (streamlog_close() returns EBUSY while
 * it is open) and runs one thread, which commits its appends when no other
 * appender of this process does. The channel handle given to
 * streamlog_pipe_append() may be closed right after the call: the pipeline
 * keeps what it needs, and copies the payload and headers.
 */
typedef struct streamlog_pipe streamlog_pipe;

enum streamlog_pipe_limit {
    STREAMLOG_PIPE_DEPTH_MAX = 65536  /**< largest depth of a pipeline (appends outstanding at once) */
};
#define STREAMLOG_PIPE_DEPTH_MAX 65536

/**
 * Open a pipeline on store @p st.
 * @param depth  1..STREAMLOG_PIPE_DEPTH_MAX: how many appends may be
 *               outstanding at once (submitted, result not yet taken); each
 *               holds a copy of its message until its result is taken.
 * @return OK; EINVAL (NULL st or out, depth out of range); EPERM
 *         (read-only store); EMFILE (no file descriptor for the fd); ENOMEM
 *         (also when the thread cannot be started); EIO (another failure
 *         creating the fd).
 * @note Thread-safe. Every function on the pipeline is thread-safe except
 *       streamlog_pipe_close(). Close the pipeline before its store.
 * @note fork(): a child must not use a pipeline it inherited (its thread
 *       is not in the child), close included; it opens its own store and
 *       pipeline.
 */
int streamlog_pipe_open(streamlog_store *st, uint32_t depth, streamlog_pipe **out);

/**
 * Submit one append (with an optional header block, as streamlog_append_msg,
 * and an optional message id, as streamlog_append_once) without waiting for
 * it to be stored. The message, headers and id are copied.
 * @param ch          a channel of the pipeline's store; may be closed once
 *                    this returns.
 * @param msg_id      NULL, or 1..200 bytes NUL-terminated: an idempotent
 *                    append (a repeated id within the dedup window stores
 *                    nothing; its result gives the first append's sequence
 *                    and says duplicate).
 * @param out_ticket  receives the append's ticket; may be NULL.
 * @return OK; EAGAIN (depth appends are outstanding: take results first;
 *         nothing submitted); EINVAL (NULL pipe or ch, a channel of another
 *         store, data NULL with len > 0, a malformed header block or msg_id);
 *         ELIMIT (payload, or headers and payload, over MAX_PAYLOAD); EPERM
 *         (read-only store); EIO (the store is latched); ENOMEM. On failure
 *         nothing is submitted and no ticket is used.
 * @note Thread-safe. Appends submitted by one thread are committed in the
 *       order it submitted them.
 */
int streamlog_pipe_append(streamlog_pipe *p, streamlog_channel *ch, const char *msg_id, const void *hdrs,
                          size_t hdrs_len, const void *data, size_t len, uint64_t *out_ticket);

/**
 * Take the result of the pipeline's oldest outstanding append, once it is
 * ready (stored under the sync policy, or failed).
 * @param timeout_ms     0: do not wait; > 0: wait up to that long; -1: forever.
 * @param out_ticket     receives its ticket; may be NULL.
 * @param out_rc         receives the append's result: STREAMLOG_OK (stored)
 *                       or its error (see the group's text); then
 *                       streamlog_errmsg() describes that error.
 * @param out_seq        receives its sequence (0 when *out_rc is an
 *                       error); may be NULL.
 * @param out_duplicate  receives 1 when it was a duplicate message id (the
 *                       sequence is the first append's), else 0; may be NULL.
 * @return OK (a result was taken; outputs written); EAGAIN (timeout 0 and
 *         the oldest is not ready); ETIMEDOUT; ENOTFOUND (nothing
 *         outstanding: every result was taken); EINVAL (NULL p or out_rc,
 *         timeout below -1).
 * @note Thread-safe: with several takers, each result goes to one of them.
 */
int streamlog_pipe_next(streamlog_pipe *p, int64_t timeout_ms, uint64_t *out_ticket, int *out_rc,
                        uint64_t *out_seq, int *out_duplicate);

/**
 * A file descriptor that is readable while the oldest outstanding append's
 * result is ready, for poll/epoll in an event loop: when it is readable,
 * call streamlog_pipe_next(p, 0, ...) until EAGAIN or ENOTFOUND. Do not
 * read from or close it; it lives as long as the pipeline.
 * @return the fd (>= 0), or EINVAL.
 */
int streamlog_pipe_fd(streamlog_pipe *p);

/**
 * Close the pipeline and free it. Waits until every submitted append is
 * stored or failed -- none is left half-done or abandoned in the queue --
 * then discards the results not taken (to learn them, take them first with
 * streamlog_pipe_next until ENOTFOUND). On a latched store the appends still
 * queued fail with EIO, so close does not wait for the disk.
 * @return OK; EINVAL (NULL).
 * @note No other thread may use the pipeline during or after the call.
 */
int streamlog_pipe_close(streamlog_pipe *p);

/* ------------------------------------------------------------------------ */
/** @defgroup streamlog_messages Messages and reading
 *
 * A message seen through an iterator is a view into the store's memory map:
 * valid until the next call on that iterator or its close, never to be freed.
 * A message from streamlog_get() is an owned copy, freed with
 * streamlog_msg_free(). The accessors accept both.
 */

/** Sequence number of @p m (0 for NULL). */
uint64_t    streamlog_msg_seq(const streamlog_msg *m);
/** Commit time of @p m, Unix nanoseconds (0 for NULL). */
int64_t     streamlog_msg_time(const streamlog_msg *m);
/** Payload of @p m; its length goes to *len when len is not NULL. The pointer
 *  may be NULL for an empty payload; NULL m gives NULL and length 0. */
const void *streamlog_msg_data(const streamlog_msg *m, size_t *len);
/** Header block of @p m in the NATS wire form (see streamlog_append_msg),
 *  valid as long as the message; its length goes to *len when len is not
 *  NULL. NULL and length 0 when the message has none (or m is NULL). */
const void *streamlog_msg_headers(const streamlog_msg *m, size_t *len);
/**
 * Look up header @p name (ASCII case ignored) of @p m: the first value,
 * leading blanks skipped, not NUL-terminated, valid as long as the message.
 * @return OK; ENOTFOUND (no such header, or no header block); EINVAL (NULL
 *         m, name or output pointer).
 */
int streamlog_msg_header(const streamlog_msg *m, const char *name, const void **value, size_t *value_len);

/**
 * Copy message @p seq of the channel into a new owned message.
 * @return OK; EINVAL; ENOTFOUND (never stored, removed by limits, or
 *         expired); ECORRUPT (the stored record is malformed); ECLOSED; ENOMEM.
 * @note Thread-safe.
 */
int  streamlog_get(streamlog_channel *ch, uint64_t seq, streamlog_msg **out);

/**
 * Copy any message (a view or an owned message) into a new owned message.
 * @return OK; EINVAL; ENOMEM.
 */
int  streamlog_msg_copy(const streamlog_msg *m, streamlog_msg **out);

/** Free an owned message. Accepts NULL. Passing a view is a bug. */
void streamlog_msg_free(streamlog_msg *m);

/**
 * Start positions, numbered as NATS Streaming's StartPosition, plus an
 * absolute time. The meaning of start_value depends on the position:
 *   NEW_ONLY       messages appended after the iterator opens (value ignored)
 *   LAST_RECEIVED  the channel's last message, then newer ones (value ignored)
 *   TIME_DELTA     the first message no older than start_value ns before now
 *   SEQUENCE       message start_value; below the first stored, the first;
 *                  above the last, new messages only
 *   FIRST          the first message still stored (value ignored)
 *   TIME           the first message at or after Unix time start_value ns
 * A time after the last message starts at new messages.
 */
enum streamlog_start {
    STREAMLOG_START_NEW_ONLY = 0,
    STREAMLOG_START_LAST_RECEIVED = 1,
    STREAMLOG_START_TIME_DELTA = 2,
    STREAMLOG_START_SEQUENCE = 3,
    STREAMLOG_START_FIRST = 4,
    STREAMLOG_START_TIME = 5
};
#define STREAMLOG_START_NEW_ONLY       0
#define STREAMLOG_START_LAST_RECEIVED  1
#define STREAMLOG_START_TIME_DELTA     2
#define STREAMLOG_START_SEQUENCE       3
#define STREAMLOG_START_FIRST          4
#define STREAMLOG_START_TIME           5

/**
 * Open an iterator over @p ch at a start position.
 * @param start        a STREAMLOG_START_* position.
 * @param start_value  see the positions; negative values are EINVAL for
 *                     TIME_DELTA, SEQUENCE and TIME.
 * @return OK; EINVAL; ECLOSED; ENOMEM; EIO.
 * @note The iterator holds an LMDB read snapshot only while a returned view
 *       is live, and renews it regularly, so an open iterator does not make
 *       the file grow. Close it with streamlog_iter_close().
 */
int  streamlog_iter_open(streamlog_channel *ch, int start, int64_t start_value, streamlog_iter **out);

/**
 * Return the next message in sequence order as a view in *out.
 * @return OK; EAGAIN when it has caught up with the channel (a later call
 *         sees messages appended since, from any thread or process);
 *         EINVAL; ECLOSED (channel deleted); ECORRUPT; EIO.
 * @note Messages removed by limits or expired are skipped. The view in *out
 *       is valid until the next call on this iterator or its close.
 * @note One thread at a time per iterator.
 */
int  streamlog_iter_next(streamlog_iter *it, const streamlog_msg **out);

/**
 * The sequence the next streamlog_iter_next() will look for first.
 * @return OK; EINVAL.
 */
int  streamlog_iter_position(streamlog_iter *it, uint64_t *out_seq);

/** Close an iterator, releasing its read snapshot. Accepts NULL. */
void streamlog_iter_close(streamlog_iter *it);

/* ------------------------------------------------------------------------ */
/** @defgroup streamlog_subscriptions Subscriptions
 *
 * A subscription delivers a channel's messages in sequence order with
 * at-least-once semantics: a delivered message stays in flight until it is
 * acknowledged, and is delivered again (redelivered) when no ack arrives
 * within the ack wait. Kinds:
 *   plain        no DURABLE, no QUEUE: state in memory, gone at close.
 *   durable      DURABLE name: position and in-flight messages are stored in
 *                the store and resumed by the next subscribe with that name
 *                (after a close, a crash or a restart). One active
 *                subscription per (channel, durable name), across processes.
 *   queue group  QUEUE name: members with the same queue name on a channel
 *                share one position; each message goes to one member. A
 *                member that closes, or dies, hands its unacked messages to
 *                the others. Members may be in different processes sharing
 *                the store (the group's state is kept in the store).
 *                Delivery rule: a member takes new messages only inside
 *                streamlog_sub_next(), and only when no other waiting
 *                member of the group comes first: the next new message goes
 *                to the waiting member with the fewest unacked messages,
 *                ties to the one that took a new message least recently
 *                (NATS Streaming's "fewest unacked, ties rotate"), so idle
 *                members share a burst evenly. While another member waits,
 *                a member takes one message at a time; while none does, it
 *                may take up to 16 ahead (one commit for many messages), and
 *                it gives back those it has not delivered at its next
 *                streamlog_sub_next() call after another member starts
 *                waiting -- so a member holds undelivered messages while
 *                another waits at most until it next asks. Messages given
 *                back (or left unacked by a member that closes) are taken by
 *                the others when they next look for them, which a busy
 *                member does at most every 20 ms: meanwhile it may take
 *                newer messages first. Order across members is not kept. A
 *                member counts as waiting from the moment streamlog_sub_next()
 *                finds nothing for it (it returns EAGAIN or sleeps) until it
 *                takes a message, returns ETIMEDOUT, stalls (MAX_INFLIGHT) or
 *                closes: an event loop that got EAGAIN should keep watching
 *                streamlog_sub_fd(), as the others leave it its turn.
 *   durable queue group  QUEUE and DURABLE: the group outlives all its
 *                members closing, and is removed when its last member
 *                unsubscribes.
 *
 * Subscription keys (streamlog_subscribe):
 *   STREAMLOG_OPT_START         int, a STREAMLOG_START_* position (default NEW_ONLY);
 *                               ignored when resuming a durable or joining a group
 *   STREAMLOG_OPT_START_VALUE   int, as streamlog_iter_open's start_value
 *   STREAMLOG_OPT_MAX_INFLIGHT  int, 1..1048576 (default 1024): with this many
 *                               messages in flight, new deliveries pause until
 *                               acks arrive; redeliveries are not held back
 *   STREAMLOG_OPT_ACK_WAIT_MS   int, 1..86400000 (default 30000)
 *   STREAMLOG_OPT_ACK_MODE      int, STREAMLOG_ACK_* (default MANUAL)
 *   STREAMLOG_OPT_MAX_DELIVER   int, >= 0 (default 0 = no limit): after this many
 *                               deliveries without an ack, a message is appended
 *                               to the DEAD_LETTER channel (when set) and counts
 *                               as acked. In a durable or queue group only the
 *                               member that owns the message in the store
 *                               dead-letters it, so it is dead-lettered once
 *                               whatever the members' threads and processes; only
 *                               a crash of that member between the dead-letter
 *                               append and its ack can dead-letter it twice
 *   STREAMLOG_OPT_DURABLE       string, a durable name (1..200 bytes, no ':')
 *   STREAMLOG_OPT_QUEUE         string, a queue group name (1..200 bytes, no ':')
 *   STREAMLOG_OPT_DEAD_LETTER   string, a channel name; created when missing
 *
 * Durability of delivery state (durables and queue groups): new messages are
 * claimed in batches (up to 256 by a durable; up to 16 by a queue member
 * with acks while no other member waits, else one) in one commit whose
 * meta page is left to the next sync (see the sync policies), and
 * acks are buffered and written with the next
 * claim, whenever streamlog_sub_next() finds nothing to deliver, and at
 * close; subscribing (a durable's creation, a member joining) is committed
 * the same way. A lost ack or claim can only cause a redelivery, never a lost
 * message; a clean close keeps every ack. After a crash (process or OS):
 * messages acked since the last such write are delivered again, and
 * messages claimed but not yet delivered come with a redelivery count of 1,
 * as the store cannot tell them from delivered ones.
 */
typedef struct streamlog_sub streamlog_sub;

/* The subscription keys' values are in enum streamlog_opt_key (Options). */

enum streamlog_ack_mode {
    STREAMLOG_ACK_MANUAL = 0,  /**< the application calls streamlog_ack() */
    STREAMLOG_ACK_AUTO = 1,    /**< a message is acked when the next one is requested (or at close) */
    STREAMLOG_ACK_NONE = 2     /**< nothing is tracked: each message is delivered once */
};
#define STREAMLOG_ACK_MANUAL  0
#define STREAMLOG_ACK_AUTO    1
#define STREAMLOG_ACK_NONE    2

/**
 * Subscribe to a channel.
 * @param opts  subscription keys, or NULL for a plain subscription to new messages.
 * @return OK; EINVAL (bad key or value, bad dead-letter name, dead letter equal
 *         to the channel); EEXIST (the durable is already active, here or in
 *         another process); ELIMIT (the channel's max_subs is reached);
 *         ECLOSED (channel deleted); EPERM (read-only store); EFULL; EMFILE
 *         (the store's first subscription could not get its two descriptors);
 *         EIO; ENOMEM.
 * @note Thread-safe. Close the subscription before its store (it counts as a
 *       child of the store, like a channel handle).
 * @note File descriptors: a subscription holds none until streamlog_sub_fd()
 *       is called on it (then three, see there). A store holds two more (an
 *       inotify instance and an eventfd, with a watcher thread) while it has
 *       at least one subscription, for wake-ups by other processes; LMDB's
 *       own files are the store's from streamlog_open(). So a process may
 *       hold tens of thousands of subscriptions whatever its RLIMIT_NOFILE,
 *       as long as it asks for few of their fds. The cost of subscribing
 *       does not grow with the channel's subscriptions, except under a
 *       max_subs limit and when resuming a durable (one pass over them).
 */
int streamlog_subscribe(streamlog_channel *ch, const streamlog_opts *opts, streamlog_sub **out);

/**
 * Deliver the next message: a due redelivery first, else the next new message
 * unless the subscription is stalled (MAX_INFLIGHT in flight).
 * @param timeout_ms  0: do not wait; > 0: wait up to that long; -1: forever.
 * @return OK and a view in *out, valid until the next call on this
 *         subscription or its close; EAGAIN (timeout 0, nothing deliverable);
 *         ETIMEDOUT; EINVAL; ECLOSED (channel deleted); EIO.
 * @note In AUTO mode this call first acks the message it returned last time.
 *       Messages removed by limits or expiry while in flight are skipped.
 * @note One thread at a time per subscription.
 */
int streamlog_sub_next(streamlog_sub *sub, int64_t timeout_ms, const streamlog_msg **out);

/**
 * Acknowledge message @p seq. Idempotent: a sequence that is not in flight on
 * this subscription (never delivered, already acked, handed to another queue
 * member) changes nothing and returns OK.
 * @return OK; EINVAL (NULL sub, seq 0).
 * @note Callable from any thread, also while another thread waits in
 *       streamlog_sub_next(), which it wakes when the ack ends a stall.
 */
int streamlog_ack(streamlog_sub *sub, uint64_t seq);

enum streamlog_nak_limit {
    STREAMLOG_NAK_DELAY_MAX_MS = 86400000  /**< longest delay streamlog_nak() accepts: one day */
};
#define STREAMLOG_NAK_DELAY_MAX_MS  86400000

/**
 * Negative acknowledgement: message @p seq, in flight on this subscription,
 * could not be handled now; redeliver it after @p delay_ms (0: at once)
 * instead of waiting out the ack wait. The redelivery counts toward
 * MAX_DELIVER like any other. In a queue group, once the delay is over
 * another member may take it over, as when an ack wait runs out. A later
 * nak or streamlog_progress() replaces the delay.
 * @return OK; EINVAL (NULL sub, seq 0, delay not in 0..STREAMLOG_NAK_DELAY_MAX_MS);
 *         ENOTFOUND (seq is not in flight here: never delivered, acked,
 *         dead-lettered, or taken over by another queue member); EIO.
 * @note Callable from any thread, like streamlog_ack(); it wakes a thread
 *       waiting in streamlog_sub_next().
 */
int streamlog_nak(streamlog_sub *sub, uint64_t seq, int64_t delay_ms);

/**
 * Work in progress: restart the ack wait of message @p seq, in flight on
 * this subscription, so that it is not redelivered (nor, in a queue group,
 * taken over by another member) while it is still being handled.
 * @return OK; EINVAL (NULL sub, seq 0); ENOTFOUND (seq is not in flight here,
 *         e.g. its ack wait ran out and another queue member took it: stop
 *         working on it); EIO.
 * @note Callable from any thread, like streamlog_ack().
 */
int streamlog_progress(streamlog_sub *sub, uint64_t seq);

/**
 * Terminate: stop redelivering message @p seq, in flight on this
 * subscription, now: it is appended to the DEAD_LETTER channel (when the
 * subscription has one) and counts as acked and as dead-lettered, whatever
 * MAX_DELIVER says. In a durable or queue group it is dead-lettered once,
 * as with MAX_DELIVER.
 * @return OK; EINVAL (NULL sub, seq 0); ENOTFOUND (seq is not in flight
 *         here); EFULL, EIO (the dead-letter append failed: the message stays
 *         in flight).
 * @note Callable from any thread, like streamlog_ack(). The dead letter is
 *       the message's payload with its headers plus Streamlog-Origin-Channel,
 *       -Origin-Seq, -Origin-Time (Unix ns), Streamlog-Deliveries and
 *       Streamlog-Reason ("term" here, "max_deliver" after MAX_DELIVER).
 */
int streamlog_term(streamlog_sub *sub, uint64_t seq);

/**
 * A file descriptor that is readable when streamlog_sub_next() may have
 * something to deliver: a new message (from this or another process), an
 * ack ending a stall, or a redelivery deadline. Use it with poll/epoll in
 * your event loop, then call streamlog_sub_next(sub, 0, ...) until EAGAIN.
 * Do not read from or close it; it lives as long as the subscription.
 * The first call makes it: three descriptors (an epoll set holding an
 * eventfd and a timerfd), kept until the subscription is closed; later
 * calls return the same fd. A subscription whose fd is never asked for
 * holds no descriptor and is woken and delivers all the same
 * (streamlog_sub_next() with a timeout sleeps without one).
 * @return the fd (>= 0); EINVAL; EMFILE (out of descriptors, EMFILE or
 *         ENFILE: nothing changes, the subscription works on without an fd
 *         and a later call may succeed); ENOMEM; EIO.
 * @note Thread-safe.
 */
int streamlog_sub_fd(streamlog_sub *sub);

/**
 * Close the subscription and free the handle. A durable's position and
 * unacked messages are kept for its next subscribe; a queue member's unacked
 * messages go to the other members. Acks are persisted first.
 * @return OK; EINVAL; EIO (state could not be written; the handle is freed).
 */
int streamlog_sub_close(streamlog_sub *sub);

/**
 * As streamlog_sub_close(), but remove a durable's state; a queue group's
 * state goes when its last member unsubscribes.
 * @return as streamlog_sub_close().
 */
int streamlog_sub_unsubscribe(streamlog_sub *sub);

/** Times @p m was delivered before this delivery: 0 on first delivery. */
uint32_t streamlog_msg_redelivery_count(const streamlog_msg *m);

/** A subscription's state, frozen layout (see streamlog_sub_stats_v2). */
typedef struct streamlog_sub_stats {
    uint64_t pending;         /**< messages in flight on this subscription */
    uint64_t last_delivered;  /**< highest sequence delivered, 0 when none */
    uint64_t next_seq;        /**< next new sequence it will deliver */
    uint64_t delivered;       /**< deliveries since subscribe, redeliveries included */
    uint64_t redelivered;     /**< redeliveries since subscribe */
    uint64_t acked;           /**< acks that ended an in-flight message */
    uint64_t dead_lettered;   /**< messages that reached MAX_DELIVER */
    uint32_t stalled;         /**< 1 when pending >= max_inflight */
    uint32_t max_inflight;
} streamlog_sub_stats;

/** As streamlog_sub_get_stats_v2(), into the frozen layout. */
int streamlog_sub_get_stats(streamlog_sub *sub, streamlog_sub_stats *out);

/** A subscription's state, for monitoring (growable: see Growable statistics). */
typedef struct streamlog_sub_stats_v2 {
    uint32_t size;            /**< in: sizeof the caller's struct; out: bytes holding values */
    uint32_t reserved;        /**< 0 */
    uint64_t pending;         /**< messages in flight on this subscription */
    uint64_t last_delivered;  /**< highest sequence delivered, 0 when none */
    uint64_t next_seq;        /**< next new sequence it will deliver */
    uint64_t delivered;       /**< deliveries since subscribe, redeliveries included */
    uint64_t redelivered;     /**< redeliveries since subscribe */
    uint64_t acked;           /**< acks that ended an in-flight message */
    uint64_t dead_lettered;   /**< messages that reached MAX_DELIVER */
    uint32_t stalled;         /**< 1 when pending >= max_inflight */
    uint32_t max_inflight;
} streamlog_sub_stats_v2;

/**
 * Read a subscription's state.
 * @param out  in: its `size`; out: the state.
 * @return OK; EINVAL (NULL, or a size out of range).
 * @note Callable from any thread.
 */
int streamlog_sub_get_stats_v2(streamlog_sub *sub, streamlog_sub_stats_v2 *out);

/**
 * Durables and queue groups seen from outside, without subscribing: for
 * monitoring (lag), for tools, and to remove a durable nobody will resume.
 * A group is named by its kind and a name: the durable name, the queue
 * name, or "queue:durable" for a durable queue group.
 */
enum streamlog_group_kind {
    STREAMLOG_GROUP_DURABLE = 1,       /**< DURABLE without QUEUE */
    STREAMLOG_GROUP_QUEUE = 2,         /**< QUEUE without DURABLE (exists while it has members) */
    STREAMLOG_GROUP_DURABLE_QUEUE = 3  /**< QUEUE and DURABLE, named "queue:durable" */
};
#define STREAMLOG_GROUP_DURABLE        1
#define STREAMLOG_GROUP_QUEUE          2
#define STREAMLOG_GROUP_DURABLE_QUEUE  3
enum streamlog_group_name_cap {
    STREAMLOG_GROUP_NAME_CAP = 402  /**< room a group name needs in streamlog_group_list_next()'s buffer, NUL included */
};
#define STREAMLOG_GROUP_NAME_CAP  402

/**
 * List a channel's durables and queue groups: write the kind of the first
 * group after (@p after_kind, @p after_name) to *out_kind and its name to
 * @p buf; after_kind 0 starts at the first group (after_name is then
 * ignored). Call again with what you received to walk them all.
 * @return OK; ENOTFOUND when no group follows; EINVAL (NULL ch, buf or
 *         out_kind; cap below the name's length + 1 -- STREAMLOG_GROUP_NAME_CAP
 *         always suffices; after_kind not 0 or a STREAMLOG_GROUP_* kind, or
 *         after_name NULL or malformed with one); ECLOSED (channel deleted);
 *         ECORRUPT; EIO.
 * @note Thread-safe. Groups created or removed meanwhile may or may not be
 *       seen. The order is stable (by kind, then name bytewise) but unspecified.
 */
int streamlog_group_list_next(streamlog_channel *ch, int after_kind, const char *after_name, int *out_kind,
                              char *buf, size_t cap);

/** State of a durable or queue group, frozen layout (see streamlog_group_stats_v2). */
typedef struct streamlog_group_stats {
    uint64_t next_seq;     /**< position: the next new sequence the group hands out */
    uint64_t lag;          /**< stored messages at or after the position (channel's last sequence minus position, plus one) */
    uint64_t pending;      /**< messages in flight: claimed by a member (or waiting for one), not acked */
    uint64_t redelivered;  /**< of those, messages delivered more than once */
    uint64_t members;      /**< active subscriptions of the group, in every process */
    uint32_t kind;         /**< STREAMLOG_GROUP_* */
    uint32_t reserved;     /**< 0 */
} streamlog_group_stats;

/** As streamlog_group_get_stats_v2(), into the frozen layout. */
int streamlog_group_get_stats(streamlog_channel *ch, int kind, const char *name, streamlog_group_stats *out);

/** State of a durable or queue group, from the store (growable: see Growable statistics). */
typedef struct streamlog_group_stats_v2 {
    uint32_t size;         /**< in: sizeof the caller's struct; out: bytes holding values */
    uint32_t kind;         /**< STREAMLOG_GROUP_* */
    uint64_t next_seq;     /**< position: the next new sequence the group hands out */
    uint64_t lag;          /**< stored messages at or after the position (channel's last sequence minus position, plus one) */
    uint64_t pending;      /**< messages in flight: claimed by a member (or waiting for one), not acked */
    uint64_t redelivered;  /**< of those, messages delivered more than once */
    uint64_t members;      /**< active subscriptions of the group, in every process */
} streamlog_group_stats_v2;

/**
 * Read the state of group (@p kind, @p name) of the channel.
 * @param out  in: its `size`; out: the state.
 * @return OK; EINVAL (NULL argument, size out of range, unknown kind,
 *         malformed name); ENOTFOUND (no such group); ECLOSED; ECORRUPT; EIO.
 * @note Thread-safe. Acks that members still buffer (see "Durability of
 *       delivery state") are not yet seen: pending may count them.
 */
int streamlog_group_get_stats_v2(streamlog_channel *ch, int kind, const char *name, streamlog_group_stats_v2 *out);

/**
 * Delete group (@p kind, @p name): its position and pending messages are
 * gone; a later subscribe with that name starts afresh.
 * @return OK; EINVAL; ENOTFOUND; EBUSY (the group has active
 *         subscriptions, in this or another process: nothing is deleted);
 *         ECLOSED; EIO.
 * @note Thread-safe.
 */
int streamlog_group_delete(streamlog_channel *ch, int kind, const char *name);

/* ------------------------------------------------------------------------ */
/** @defgroup streamlog_retention Retention and expiry
 *
 * max_msgs and max_bytes are enforced in the commit of each append.
 * max_age: a message older than max_age is no longer returned by
 * streamlog_get() or iterators from the moment it expires. Its space is
 * reclaimed by the store's background thread (at least once a second while
 * any channel has max_age), and before streamlog_channel_get_stats() answers;
 * the application calls nothing. A store that is not open reclaims nothing
 * until it is opened again.
 */

#ifdef __cplusplus
}
#endif

#endif /* STREAMLOG_H */
