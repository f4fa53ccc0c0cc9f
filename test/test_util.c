/* test_util.c - shared helpers for the Check suites (see test_util.h). */
#define _GNU_SOURCE
#include "test_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

char tu_dir[4096];
char tu_store[4200];
static char tu_base[3000];

const char *tu_name(int rc)
{
    return streamlog_errname(rc); /* itself checked by test_errors */
}

const char *tu_errmsg_safe(void)
{
    const char *m = streamlog_errmsg();
    return m ? m : "(null)";
}

void tu_setup(void)
{
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/t-XXXXXX", tu_base);
    ck_assert_msg(mkdtemp(tmpl) != NULL, "mkdtemp(%s): %s", tmpl, strerror(errno));
    snprintf(tu_dir, sizeof tu_dir, "%s", tmpl);
    snprintf(tu_store, sizeof tu_store, "%s/store", tu_dir);
}

void tu_teardown(void)
{
    if (tu_dir[0])
        tu_rm_rf(tu_dir);
}

TCase *tu_tcase(const char *name, double timeout_s)
{
    TCase *tc = tcase_create(name);
    tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
    /* 0 keeps CK_DEFAULT_TIMEOUT; CK_TIMEOUT_MULTIPLIER scales either. */
    if (timeout_s > 0)
        tcase_set_timeout(tc, timeout_s);
    return tc;
}

int tu_run(Suite *s)
{
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = "/tmp";
    snprintf(tu_base, sizeof tu_base, "%s/streamlog-test-XXXXXX", tmp);
    if (!mkdtemp(tu_base)) {
        fprintf(stderr, "mkdtemp(%s): %s\n", tu_base, strerror(errno));
        return 2;
    }
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_FORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    tu_rm_rf(tu_base);
    return failed == 0 ? 0 : 1;
}

streamlog_opts *tu_opts2(int k1, int64_t v1, int k2, int64_t v2)
{
    streamlog_opts *o = NULL;
    TU_OK(streamlog_opts_new(&o));
    ck_assert_ptr_nonnull(o);
    if (k1)
        TU_OK(streamlog_opts_set_int(o, k1, v1));
    if (k2)
        TU_OK(streamlog_opts_set_int(o, k2, v2));
    return o;
}

streamlog_opts *tu_opts1(int k1, int64_t v1)
{
    return tu_opts2(k1, v1, 0, 0);
}

streamlog_store *tu_open(const streamlog_opts *opts)
{
    streamlog_store *st = NULL;
    TU_OK(streamlog_open(tu_store, opts, &st));
    ck_assert_ptr_nonnull(st);
    return st;
}

streamlog_store *tu_open2(int k1, int64_t v1, int k2, int64_t v2)
{
    streamlog_opts *o = tu_opts2(k1, v1, k2, v2);
    streamlog_store *st = tu_open(o);
    streamlog_opts_free(o);
    return st;
}

streamlog_store *tu_open1(int k1, int64_t v1)
{
    return tu_open2(k1, v1, 0, 0);
}

streamlog_channel *tu_chan(streamlog_store *st, const char *name, const streamlog_opts *limits)
{
    streamlog_channel *ch = NULL;
    TU_OK(streamlog_channel_open(st, name, STREAMLOG_CREATE, limits, &ch));
    ck_assert_ptr_nonnull(ch);
    return ch;
}

streamlog_channel *tu_chan1(streamlog_store *st, const char *name, int k1, int64_t v1)
{
    streamlog_opts *o = tu_opts1(k1, v1);
    streamlog_channel *ch = tu_chan(st, name, o);
    streamlog_opts_free(o);
    return ch;
}

uint64_t tu_append(streamlog_channel *ch, const void *data, size_t len)
{
    uint64_t seq = 0;
    TU_OK(streamlog_append(ch, data, len, &seq));
    ck_assert_uint_ne(seq, 0);
    return seq;
}

uint64_t tu_append_str(streamlog_channel *ch, const char *s)
{
    return tu_append(ch, s, strlen(s));
}

streamlog_channel_stats tu_stats(streamlog_channel *ch)
{
    streamlog_channel_stats s;
    memset(&s, 0xa5, sizeof s);
    TU_OK(streamlog_channel_get_stats(ch, &s));
    return s;
}

static uint64_t tu_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

void tu_fill(unsigned char *buf, size_t len, uint64_t tag, uint64_t index)
{
    uint64_t state = tu_mix(tag * 0x100000001b3ull ^ tu_mix(index));
    for (size_t i = 0; i < len; i++) {
        if ((i & 7) == 0)
            state = tu_mix(state);
        buf[i] = (unsigned char)(state >> ((i & 7) * 8));
    }
}

int tu_check_fill(const void *buf, size_t len, uint64_t tag, uint64_t index)
{
    if (len == 0)
        return 1;
    if (!buf)
        return 0;
    unsigned char *exp = malloc(len);
    ck_assert_ptr_nonnull(exp);
    tu_fill(exp, len, tag, index);
    int ok = memcmp(exp, buf, len) == 0;
    free(exp);
    return ok;
}

void tu_expect_msg(streamlog_channel *ch, uint64_t seq, const void *exp, size_t len)
{
    streamlog_msg *m = NULL;
    int rc = streamlog_get(ch, seq, &m);
    ck_assert_msg(rc == STREAMLOG_OK, "get(%llu): %s [%s]", (unsigned long long)seq,
                  tu_name(rc), tu_errmsg_safe());
    ck_assert_uint_eq(streamlog_msg_seq(m), seq);
    size_t got = 12345;
    const void *d = streamlog_msg_data(m, &got);
    ck_assert_msg(got == len, "get(%llu): length %zu, expected %zu", (unsigned long long)seq,
                  got, len);
    if (len)
        ck_assert_msg(d && memcmp(d, exp, len) == 0, "get(%llu): payload differs",
                      (unsigned long long)seq);
    streamlog_msg_free(m);
}

void tu_expect_header(const streamlog_msg *m, const char *name, const char *value)
{
    const void *v = NULL;
    size_t vlen = 0;
    int rc = streamlog_msg_header(m, name, &v, &vlen);
    ck_assert_msg(rc == STREAMLOG_OK, "header %s: %s [%s]", name, tu_name(rc), tu_errmsg_safe());
    ck_assert_msg(vlen == strlen(value) && memcmp(v, value, vlen) == 0, "header %s: '%.*s', expected '%s'", name,
                  (int)vlen, (const char *)v, value);
}

void tu_expect_header_at(streamlog_channel *ch, uint64_t seq, const char *name, const char *value)
{
    streamlog_msg *m = NULL;
    int rc = streamlog_get(ch, seq, &m);
    ck_assert_msg(rc == STREAMLOG_OK, "get(%llu): %s [%s]", (unsigned long long)seq, tu_name(rc), tu_errmsg_safe());
    tu_expect_header(m, name, value);
    streamlog_msg_free(m);
}

int64_t tu_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t tu_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void tu_sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int tu_rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    remove(path);
    return 0;
}

void tu_rm_rf(const char *path)
{
    nftw(path, tu_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

void tu_write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_msg(fd >= 0, "open(%s): %s", path, strerror(errno));
    ck_assert_int_eq(tu_write_full(fd, data, len), 0);
    close(fd);
}

int tu_count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the DIR's own descriptor */
}

int tu_count_threads(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    int n = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "Threads: %d", &n) == 1)
            break;
    fclose(f);
    return n;
}

int tu_read_full(int fd, void *buf, size_t n)
{
    unsigned char *p = buf;
    while (n) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

int tu_write_full(int fd, const void *buf, size_t n)
{
    const unsigned char *p = buf;
    while (n) {
        ssize_t r = write(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

long tu_env_long(const char *name, long def)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return def;
    char *end;
    long x = strtol(v, &end, 10);
    return *end ? def : x;
}
