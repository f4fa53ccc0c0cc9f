/*
 * test_util.h - shared helpers for the Check suites of libstreamlog.
 *
 * Every test runs (in Check's fork mode) with a fresh empty directory in
 * tu_dir, created by the checked fixture tu_setup() under a per-run base
 * directory that tu_run() removes at the end, so a failing test (which exits
 * without running its teardown) leaves nothing behind either.
 */
#ifndef STREAMLOG_TEST_UTIL_H
#define STREAMLOG_TEST_UTIL_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "streamlog.h"

/* TU_ASAN / TU_TSAN: 1 in a build under AddressSanitizer / ThreadSanitizer
 * (gcc names them with __SANITIZE_*__, clang with __has_feature). */
#if defined(__SANITIZE_ADDRESS__)
#define TU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TU_ASAN 1
#endif
#endif
#ifndef TU_ASAN
#define TU_ASAN 0
#endif
#if defined(__SANITIZE_THREAD__)
#define TU_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TU_TSAN 1
#endif
#endif
#ifndef TU_TSAN
#define TU_TSAN 0
#endif

/* The current test's private directory (exists, empty at test start). */
extern char tu_dir[4096];
/* tu_dir "/store": the default store path (does not exist at test start). */
extern char tu_store[4200];

/* Checked fixtures: create / remove tu_dir. */
void tu_setup(void);
void tu_teardown(void);

/* Create a test case with the fixtures and a timeout in seconds (0: the
 * CK_DEFAULT_TIMEOUT default). */
TCase *tu_tcase(const char *name, double timeout_s);

/* Run a suite (CK_NORMAL, fork mode), remove the base directory, return the
 * process exit status (0 when everything passed). */
int tu_run(Suite *s);

/* Fail the test unless rc equals expected; names both codes and the errmsg. */
#define TU_RC(expr, expected)                                                  \
    do {                                                                       \
        int tu_rc_ = (expr);                                                   \
        int tu_exp_ = (expected);                                              \
        if (tu_rc_ != tu_exp_) {                                               \
            char tu_m_[512];                                                   \
            snprintf(tu_m_, sizeof tu_m_, "%s", tu_errmsg_safe());             \
            ck_abort_msg("%s: expected %s, got %s (%d) [errmsg: \"%s\"]",      \
                         #expr, tu_name(tu_exp_), tu_name(tu_rc_), tu_rc_,     \
                         tu_m_);                                               \
        }                                                                      \
    } while (0)

#define TU_OK(expr) TU_RC(expr, STREAMLOG_OK)

/* Like TU_RC but accepts either of two codes (documented ambiguity). */
#define TU_RC2(expr, e1, e2)                                                   \
    do {                                                                       \
        int tu_rc_ = (expr);                                                   \
        if (tu_rc_ != (e1) && tu_rc_ != (e2)) {                                \
            char tu_m_[512];                                                   \
            snprintf(tu_m_, sizeof tu_m_, "%s", tu_errmsg_safe());             \
            ck_abort_msg("%s: expected %s or %s, got %s (%d) [errmsg: \"%s\"]", \
                         #expr, tu_name(e1), tu_name(e2), tu_name(tu_rc_),     \
                         tu_rc_, tu_m_);                                       \
        }                                                                      \
    } while (0)

/* Symbolic name of a code, computed by the test itself (not the library). */
const char *tu_name(int rc);
/* streamlog_errmsg(), or "(null)" if the library returned NULL. */
const char *tu_errmsg_safe(void);

/* Build an options object with one or two (key, value) pairs; fails the
 * test if a setter fails. The caller frees it. */
streamlog_opts *tu_opts1(int k1, int64_t v1);
streamlog_opts *tu_opts2(int k1, int64_t v1, int k2, int64_t v2);

/* Open tu_store with the given options (may be NULL); fails on error. */
streamlog_store *tu_open(const streamlog_opts *opts);
/* Open tu_store with one or two options set. */
streamlog_store *tu_open1(int k1, int64_t v1);
streamlog_store *tu_open2(int k1, int64_t v1, int k2, int64_t v2);
/* Open or create a channel; fails on error. */
streamlog_channel *tu_chan(streamlog_store *st, const char *name, const streamlog_opts *limits);
/* Open or create a channel with one limit set. */
streamlog_channel *tu_chan1(streamlog_store *st, const char *name, int k1, int64_t v1);

/* Append and return the sequence; fails on error. */
uint64_t tu_append(streamlog_channel *ch, const void *data, size_t len);
uint64_t tu_append_str(streamlog_channel *ch, const char *s);
/* Statistics; fails on error. */
streamlog_channel_stats tu_stats(streamlog_channel *ch);

/* Deterministic payload bytes for (tag, index): fills buf[0..len). */
void tu_fill(unsigned char *buf, size_t len, uint64_t tag, uint64_t index);
/* Check a buffer against tu_fill; returns 1 when equal. */
int tu_check_fill(const void *buf, size_t len, uint64_t tag, uint64_t index);

/* Fetch message seq with streamlog_get and compare its payload to exp/len. */
void tu_expect_msg(streamlog_channel *ch, uint64_t seq, const void *exp, size_t len);
/* Check that message m's header `name` (its first value) is the string `value`. */
void tu_expect_header(const streamlog_msg *m, const char *name, const char *value);
/* The same for message seq of ch, fetched with streamlog_get. */
void tu_expect_header_at(streamlog_channel *ch, uint64_t seq, const char *name, const char *value);

/* Wall clock (CLOCK_REALTIME) in Unix ns, and sleeping. */
int64_t tu_now_ns(void);
void tu_sleep_ms(long ms);
/* Monotonic clock in ms. */
int64_t tu_mono_ms(void);

/* Remove a directory tree (ignores errors). */
void tu_rm_rf(const char *path);
/* Write bytes to a file (creating it); fails on error. */
void tu_write_file(const char *path, const void *data, size_t len);
/* Number of open file descriptors / threads of this process. */
int tu_count_fds(void);
int tu_count_threads(void);

/* Read/write exactly n bytes (retrying on EINTR); return 0 or -1 (EOF/err). */
int tu_read_full(int fd, void *buf, size_t n);
int tu_write_full(int fd, const void *buf, size_t n);

/* Environment variable as a long, or a default. */
long tu_env_long(const char *name, long def);

#endif
