/*
 * streamlog-jetstream.h - libstreamlog-jetstream: libstreamlog channels to and from NATS
 * JetStream, exactly once per message, run inside an application.
 *
 * A bridge handle runs one direction against one store:
 *   STREAMLOG_JETSTREAM_OUT  local channels -> a JetStream stream: each channel C is published
 *                            on subject P.C, its messages' headers passed through, plus the
 *                            bridge's (Nats-Msg-Id, Streamlog-Channel, Streamlog-Sequence,
 *                            Streamlog-Time, Nats-Expected-Last-Sequence); a local message is
 *                            acknowledged only after JetStream's PubAck.
 *   STREAMLOG_JETSTREAM_IN   a durable pull consumer of a stream -> one local channel: each
 *                            message stored with its JetStream headers plus
 *                            Streamlog-JetStream-Stream and Streamlog-JetStream-Sequence, then
 *                            acknowledged to JetStream.
 * The command line streamlog-jetstream is this API; README.md is the guide.
 *
 * Conventions (as libstreamlog's, see streamlog.h): functions return int, 0 (STREAMLOG_OK) or a
 * negative code: STREAMLOG_E* of streamlog.h, or STREAMLOG_JETSTREAM_ERUN below;
 * streamlog_jetstream_strerror() names any of them and streamlog_jetstream_errmsg() gives the
 * handle's detailed message for its most recent failure. Bad arguments return STREAMLOG_EINVAL
 * and change nothing. Strings are UTF-8 and NUL-terminated; nothing here passes a struct or a
 * bool, so every function is callable through FFI (Python ctypes, Go cgo, ...).
 *
 * Copyright (c) 2026 the libstreamlog authors. MIT licence, see COPYING.
 */
#ifndef STREAMLOG_JETSTREAM_H
#define STREAMLOG_JETSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include <streamlog.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A run ended on an error that retrying cannot fix (an unusable store, a missing stream
 *  without create-stream, a refused consumer, a channel written by someone else):
 *  streamlog_jetstream_errmsg() says which. An unreachable server is never one: it is
 *  retried with backoff for as long as the run lasts. */
#define STREAMLOG_JETSTREAM_ERUN -100

/** Directions of streamlog_jetstream_new(). */
#define STREAMLOG_JETSTREAM_OUT 1
#define STREAMLOG_JETSTREAM_IN  2

/**
 * A bridge: its settings, at most one run at a time, its status.
 *
 * Lifecycle: streamlog_jetstream_new(), settings (streamlog_jetstream_set_str/_int), then
 * either streamlog_jetstream_run() in a thread of the caller's, or
 * streamlog_jetstream_start() on a thread of the handle's own with
 * streamlog_jetstream_wait() for its end; streamlog_jetstream_stop() ends a run early;
 * streamlog_jetstream_free() last. A handle may run again after a run ended.
 *
 * Threads: settings and run/start/wait/free are for one thread at a time (settings are
 * refused with STREAMLOG_EBUSY while a run goes on); stop, status and errmsg may be called
 * from any thread at any time, stop also from a signal handler.
 *
 * The handle opens the store itself (streamlog_open) for the length of a run: an application
 * that also has the store open in this process gets STREAMLOG_EBUSY from the run, so it runs
 * the bridge in a process or a period of its own, or closes its handle first.
 */
typedef struct streamlog_jetstream streamlog_jetstream;

/**
 * Create a bridge in @p direction (STREAMLOG_JETSTREAM_OUT or _IN) for the store in directory
 * @p store_dir (copied). Nothing is opened or connected until a run.
 * @return OK; EINVAL (unknown direction, NULL or empty store_dir, NULL out); ENOMEM.
 */
int streamlog_jetstream_new(int direction, const char *store_dir, streamlog_jetstream **out);

/**
 * Set a string setting (@p value is copied), or an integer setting given as decimal text.
 * Keys, as the command line's options:
 *   "server"          NATS URL or comma-separated URLs (required)
 *   "stream"          the JetStream stream (required)
 *   "http"            ADDR:PORT: serve the status (streamlog_jetstream_status) as JSON over
 *                     HTTP (GET /) while running; "" for none (default)
 *   out: "channels"   comma-separated: names, "X.>" for every channel under X., ">" for all
 *                     (required)
 *        "subject-prefix"  P of subject P.C (default: the stream name)
 *        "store-id"   the origin id in Nats-Msg-Id (default: the store's own random id)
 *   in:  "consumer"   the durable pull consumer, created when missing (required)
 *        "channel"    the local channel, created when missing (required)
 * @return OK; EINVAL (NULL handle or key, unknown key, a key of the other direction, a bad
 *         value: errmsg says which); EBUSY (running); ENOMEM.
 */
int streamlog_jetstream_set_str(streamlog_jetstream *b, const char *key, const char *value);

/**
 * Set an integer setting. Keys (flags are 0 or 1):
 *   "until-caught-up"   flag: the run ends (with OK) once everything available is forwarded
 *                       and acknowledged on both sides (default 0: until stopped)
 *   "status-interval"   ms between status lines on stderr, 0 for none (default 10000)
 *   "log"               flag: log to stderr at all (default 1)
 *   out: "window" 1..65536 publishes in flight (256); "ack-timeout" 10..3600000 ms a PubAck
 *        may take (5000); "shared-stream" flag: others publish to the stream too (another
 *        bridge, an application): one publish in flight per channel instead of a window,
 *        without which another publisher can make a channel's messages land out of order; "create-stream" flag: create a missing stream (subjects P.>) with
 *        "replicas" 1..5 (1), "max-msgs", "max-bytes", "max-age" (ms), all >= 0 (0: none),
 *        "duplicate-window" ms >= 1 (120000), "memory-storage" flag (0: file storage)
 *   in:  "batch" 1..10000 messages per fetch (256); "ack-wait" 100..86400000 ms for a
 *        consumer the bridge creates (10000)
 * @return as streamlog_jetstream_set_str.
 */
int streamlog_jetstream_set_int(streamlog_jetstream *b, const char *key, int64_t value);

/**
 * Optional: call @p fn on the run's thread for each message JetStream acknowledged (out
 * only), with its channel (valid during the call), sequence and local commit time (Unix ns).
 * NULL fn removes it. A callback must return quickly and must not call into this handle.
 * @return OK; EINVAL (NULL handle, or an in bridge); EBUSY (running).
 */
int streamlog_jetstream_set_on_forwarded(streamlog_jetstream *b,
                                         void (*fn)(void *arg, const char *channel, uint64_t seq,
                                                    int64_t time_ns),
                                         void *arg);

/**
 * Run the bridge in the calling thread until streamlog_jetstream_stop() (then OK, after the
 * publishes in flight are confirmed or time out) or, with until-caught-up, until caught up.
 * @return OK; EINVAL (a required setting missing: errmsg says which); EBUSY (already
 *         running); STREAMLOG_JETSTREAM_ERUN (the run failed: errmsg says why).
 */
int streamlog_jetstream_run(streamlog_jetstream *b);

/**
 * streamlog_jetstream_run() on a new thread owned by the handle; returns at once.
 * @return OK; EINVAL (as run); EBUSY (already running); ENOMEM (no thread).
 */
int streamlog_jetstream_start(streamlog_jetstream *b);

/**
 * Ask the run to end; returns at once (streamlog_jetstream_wait waits for the end).
 * @return OK (also when nothing runs); EINVAL (NULL).
 * @note Async-signal-safe; any thread.
 */
int streamlog_jetstream_stop(streamlog_jetstream *b);

/**
 * Wait up to @p timeout_ms (< 0: for ever) for the run streamlog_jetstream_start() began to
 * end, and collect its thread.
 * @return the run's result (as streamlog_jetstream_run); ETIMEDOUT (still running);
 *         EINVAL (NULL, or nothing was started).
 */
int streamlog_jetstream_wait(streamlog_jetstream *b, int timeout_ms);

/**
 * Copy the latest status, JSON text refreshed every half second during a run, into @p buf
 * (NUL-terminated) and its length to *len when len is not NULL:
 *   {"direction":"out","stream":..,"connected":true,"inflight":..,"window":..,
 *    "max_window":..,"published":..,"rate":..,"errors":..,"resyncs":..,
 *    "channels":[{"channel":..,"subject":..,"lag":..,"held":..,"published":..,"rate":..,
 *                 "duplicates":..,"skipped":..,"errors":..,"last_error":".."}, ...]}
 *   {"direction":"in","stream":..,"consumer":..,"connected":..,
 *    "channels":[{"channel":..,"lag":..,"appended":..,"rate":..,"duplicates":..,
 *                 "gap_filled":..,"errors":..,"last_stream_seq":..,"last_local_seq":..,
 *                 "last_error":".."}]}
 * lag: messages not yet confirmed on the other side; rate: per second since the refresh
 * before. It stays after a run ends, until the next run's first refresh.
 * @return OK; EINVAL (NULL handle or buf); ENOTFOUND (no status yet); ELIMIT (cap too small:
 *         *len gets the length needed, without the NUL).
 * @note Any thread.
 */
int streamlog_jetstream_status(streamlog_jetstream *b, char *buf, size_t cap, size_t *len);

/** The handle's message for its most recent failure ("" when none; "no handle" for NULL),
 *  valid until the handle's next call that fails or its free. */
const char *streamlog_jetstream_errmsg(const streamlog_jetstream *b);

/** A static name of code @p rc: STREAMLOG_JETSTREAM_ERUN's, or streamlog_strerror's. */
const char *streamlog_jetstream_strerror(int rc);

/** Stop and wait for a run started with streamlog_jetstream_start(), then free the handle.
 *  Accepts NULL. Not while streamlog_jetstream_run() is running on another thread. */
void streamlog_jetstream_free(streamlog_jetstream *b);

/** Release the NATS client library's global state (its nats_Close()), once, after every
 *  handle is freed, at exit; not when the application uses libnats itself. */
void streamlog_jetstream_cleanup(void);

#ifdef __cplusplus
}
#endif

#endif
