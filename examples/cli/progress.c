#define _POSIX_C_SOURCE 200809L
#include "progress.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define REDRAW_NS 100000000

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void draw(struct progress *p, int64_t now)
{
    double secs = (double)(now - p->start_ns) / 1e9;
    double rate = secs > 0 ? (double)p->msgs / secs : 0;
    double unit_rate = secs > 0 ? (double)p->done / secs : 0;
    char bar[32] = "";
    char eta[32] = "";
    if (p->total) {
        int width = 20, filled = (int)((double)p->done * width / (double)p->total);
        if (filled > width)
            filled = width;
        bar[0] = '[';
        memset(bar + 1, '#', (size_t)filled);
        memset(bar + 1 + filled, ' ', (size_t)(width - filled));
        snprintf(bar + 1 + width, sizeof bar - 1 - (size_t)width, "] %3d%% ",
                 (int)((double)p->done * 100 / (double)p->total));
        if (unit_rate > 0 && p->done < p->total)
            snprintf(eta, sizeof eta, " ETA %.0fs", (double)(p->total - p->done) / unit_rate);
    }
    /* \033[K clears what a longer earlier line left behind */
    fprintf(stderr, "\r%s%llu messages %s, %.0f msgs/s%s\033[K", bar, (unsigned long long)p->msgs, p->what,
            rate, eta);
    fflush(stderr);
    p->last_draw_ns = now;
}

void progress_start(struct progress *p, const char *what, uint64_t total)
{
    *p = (struct progress){
        .enabled = isatty(STDERR_FILENO),
        .what = what,
        .total = total,
        .start_ns = mono_ns(),
    };
    if (p->enabled)
        draw(p, p->start_ns);
}

void progress_add(struct progress *p, uint64_t units, uint64_t msgs)
{
    p->done += units;
    p->msgs += msgs;
    if (!p->enabled)
        return;
    int64_t now = mono_ns();
    if (now - p->last_draw_ns >= REDRAW_NS)
        draw(p, now);
}

void progress_end(struct progress *p)
{
    if (!p->enabled)
        return;
    draw(p, mono_ns());
    fputc('\n', stderr);
}
