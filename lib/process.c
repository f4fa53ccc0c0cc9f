#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "process.h"

/* Start time of a process (field 22 of /proc/PID/stat), 0 when unknown. */
static uint64_t proc_start_ticks(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
    if (!p)
        return 0;
    unsigned long long start = 0;
    /* after ") ": state is field 3; starttime is field 22 */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
               &start) != 1)
        return 0;
    return start;
}

/* This process's start time, read once per pid (a forked child reads its
 * own): subscribing and every walk over members ask for it. */
static _Atomic uint64_t own_start;
static _Atomic pid_t own_start_pid;

void sl_process_identity(uint32_t *pid, uint64_t *start_ticks)
{
    pid_t me = getpid();
    *pid = (uint32_t)me;
    if (atomic_load(&own_start_pid) == me) {
        *start_ticks = atomic_load(&own_start);
        return;
    }
    *start_ticks = proc_start_ticks(me);
    atomic_store(&own_start, *start_ticks);
    atomic_store(&own_start_pid, me); /* after own_start: a reader that sees the pid sees its start */
}

int sl_process_alive(uint32_t pid, uint64_t start_ticks)
{
    if (pid == 0 || pid > INT32_MAX)
        return 0;
    if (kill((pid_t)pid, 0) != 0 && errno == ESRCH)
        return 0;
    uint64_t start = proc_start_ticks((pid_t)pid);
    /* without /proc only kill() can tell; with it, a reused pid shows another start time */
    return start == 0 || start_ticks == 0 || start == start_ticks;
}
