/*
 * util.c - timing, statistics, payloads, directories and machine details
 * for streamlog-bench.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

void die(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "streamlog-bench: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double median(const double *v, int n)
{
    double s[64];
    if (n <= 0 || n > 64)
        die("median of %d values", n);
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* Nearest-rank percentile: the smallest value with at least p% of the
 * values at or below it. */
double percentile(double *v, size_t n, double p)
{
    size_t rank;
    if (n == 0)
        die("percentile of no values");
    qsort(v, n, sizeof *v, cmp_double);
    rank = (size_t)((p / 100.0) * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return v[rank - 1];
}

uint64_t rng_next(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

const void *payload_ptr[BATCH_SIZE];
size_t      payload_len[BATCH_SIZE];
static unsigned char payload_buf[BATCH_SIZE][MSG_SIZE];

void payloads_init(void)
{
    uint64_t seed = 0x5eed5eed5eedULL;
    for (int i = 0; i < BATCH_SIZE; i++) {
        for (int j = 0; j < MSG_SIZE; j++)
            payload_buf[i][j] = (unsigned char)rng_next(&seed);
        payload_ptr[i] = payload_buf[i];
        payload_len[i] = MSG_SIZE;
    }
}

void make_dir(const char *path)
{
    if (mkdir(path, 0755) != 0)
        die("mkdir %s: %s", path, strerror(errno));
}

static int remove_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb; (void)type; (void)ftw;
    if (remove(path) != 0 && errno != ENOENT)
        fprintf(stderr, "streamlog-bench: remove %s: %s\n", path, strerror(errno));
    return 0;
}

void remove_tree(const char *path)
{
    nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Write back dirty pages left by earlier work (untimed), so that kernel
 * writeback does not compete with the next measurement. Directories of
 * finished runs are removed before this, so their pages are simply dropped. */
void settle(void)
{
    sync();
}

void put_be64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)v;
        v >>= 8;
    }
}

uint64_t get_be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static void cpu_model(char *out, size_t size)
{
    char line[512];
    FILE *f = fopen("/proc/cpuinfo", "r");
    snprintf(out, size, "unknown");
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (colon && strncmp(line, "model name", 10) == 0) {
            colon++;
            colon += strspn(colon, " \t");
            colon[strcspn(colon, "\n")] = '\0';
            snprintf(out, size, "%s", colon);
            break;
        }
    }
    fclose(f);
}

/* The mount holding dir: the longest mount point that prefixes its real path. */
static void dir_filesystem(const char *dir, char *out, size_t size)
{
    char real[PATH_MAX], line[4096];
    size_t best = 0;
    FILE *f;

    snprintf(out, size, "unknown");
    if (!realpath(dir, real) || !(f = fopen("/proc/self/mounts", "r")))
        return;
    while (fgets(line, sizeof line, f)) {
        char dev[1024], mnt[1024], type[64];
        size_t len;
        if (sscanf(line, "%1023s %1023s %63s", dev, mnt, type) != 3)
            continue;
        len = strlen(mnt);
        if (strncmp(real, mnt, len) == 0 &&
            (real[len] == '/' || real[len] == '\0' || strcmp(mnt, "/") == 0) &&
            len >= best) {
            best = len;
            if (snprintf(out, size, "%s on %s (%s)", type, mnt, dev) >= (int)size)
                snprintf(out, size, "%s on %s", type, mnt);
        }
    }
    fclose(f);
}

void print_machine(const char *dir)
{
    char cpu[256], fs[2200];
    struct utsname u;

    cpu_model(cpu, sizeof cpu);
    dir_filesystem(dir, fs, sizeof fs);
    if (uname(&u) != 0)
        snprintf(u.release, sizeof u.release, "unknown");
    printf("machine:    %ld CPUs (nproc), %s\n", sysconf(_SC_NPROCESSORS_ONLN), cpu);
    printf("kernel:     %s %s\n", u.sysname, u.release);
    printf("directory:  %s, %s\n", dir, fs);
    if (strncmp(fs, "tmpfs", 5) == 0)
        printf("WARNING:    %s is on tmpfs: sync costs nothing there, durable rows are meaningless\n", dir);
}
