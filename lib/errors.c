/* Result codes: static names and descriptions, and the detail message of a
 * failed call, kept per thread (streamlog_errmsg) and, for callers whose
 * thread changes between calls, published under an id that errno carries
 * (streamlog_errmsg_of). */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "errors.h"

static _Thread_local char thread_errmsg[STREAMLOG_ERRMSG_CAP];
/* id under which thread_errmsg was published in the current call, 0 if not yet */
static _Thread_local int thread_errid;

struct code_info {
    int code;
    const char *name;
    const char *text;
};

static const struct code_info codes[] = {
    {STREAMLOG_OK, "STREAMLOG_OK", "success"},
    {STREAMLOG_EINVAL, "STREAMLOG_EINVAL", "invalid argument"},
    {STREAMLOG_ENOTFOUND, "STREAMLOG_ENOTFOUND", "not found"},
    {STREAMLOG_EEXIST, "STREAMLOG_EEXIST", "already exists"},
    {STREAMLOG_ELIMIT, "STREAMLOG_ELIMIT", "limit exceeded"},
    {STREAMLOG_ECONFLICT, "STREAMLOG_ECONFLICT", "expected last sequence does not match"},
    {STREAMLOG_EAGAIN, "STREAMLOG_EAGAIN", "nothing available now, try again"},
    {STREAMLOG_ETIMEDOUT, "STREAMLOG_ETIMEDOUT", "timed out"},
    {STREAMLOG_EFULL, "STREAMLOG_EFULL", "store is full"},
    {STREAMLOG_ECORRUPT, "STREAMLOG_ECORRUPT", "stored data is corrupt"},
    {STREAMLOG_EBUSY, "STREAMLOG_EBUSY", "resource busy"},
    {STREAMLOG_ENOMEM, "STREAMLOG_ENOMEM", "out of memory"},
    {STREAMLOG_EIO, "STREAMLOG_EIO", "I/O error; the store refuses writes until reopened"},
    {STREAMLOG_ECLOSED, "STREAMLOG_ECLOSED", "channel or store is closed or deleted"},
    {STREAMLOG_EPERM, "STREAMLOG_EPERM", "permission denied, or the store is open read-only"},
    {STREAMLOG_EREADERS, "STREAMLOG_EREADERS", "too many read snapshots held at once"},
    {STREAMLOG_EMFILE, "STREAMLOG_EMFILE", "out of file descriptors"},
};

static const struct code_info *find_code(int rc)
{
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (codes[i].code == rc)
            return &codes[i];
    return NULL;
}

__attribute__((visibility("default"))) const char *streamlog_strerror(int rc)
{
    const struct code_info *ci = find_code(rc);
    return ci ? ci->text : "unknown error";
}

__attribute__((visibility("default"))) const char *streamlog_errname(int rc)
{
    const struct code_info *ci = find_code(rc);
    return ci ? ci->name : "STREAMLOG_EUNKNOWN";
}

int sl_fail(int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(thread_errmsg, sizeof thread_errmsg, fmt, ap);
    va_end(ap);
    thread_errid = 0; /* a new message: publish it afresh */
    return rc;
}

void sl_clear_error(void)
{
    thread_errmsg[0] = '\0';
    thread_errid = 0;
}

const char *sl_last_error(void)
{
    return thread_errmsg;
}

/* ---- published messages: the last SL_PUBLISHED failures of the process ---- */

#define SL_PUBLISHED 256

static struct {
    int id; /* 0: empty */
    char msg[STREAMLOG_ERRMSG_CAP];
} published[SL_PUBLISHED];
static int last_id;
static pthread_mutex_t published_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* A fork() while another thread holds the mutex would leave it locked in the
 * child forever: hold it across fork() instead, as the store registry does. */
static void published_lock(void)
{
    pthread_mutex_lock(&published_mu);
}

static void published_unlock(void)
{
    pthread_mutex_unlock(&published_mu);
}

static void register_atfork(void)
{
    pthread_atfork(published_lock, published_unlock, published_unlock);
}

int sl_result(int rc)
{
    if (rc >= 0)
        return rc;
    if (!thread_errmsg[0]) {
        errno = 0;
        return rc;
    }
    if (!thread_errid) {
        pthread_once(&atfork_once, register_atfork);
        published_lock();
        last_id = last_id == INT_MAX ? 1 : last_id + 1;
        thread_errid = last_id;
        published[last_id % SL_PUBLISHED].id = last_id;
        memcpy(published[last_id % SL_PUBLISHED].msg, thread_errmsg, sizeof thread_errmsg);
        published_unlock();
    }
    errno = thread_errid;
    return rc;
}

int sl_published_message(int id, char *buf, size_t cap)
{
    pthread_once(&atfork_once, register_atfork);
    published_lock();
    int rc = STREAMLOG_OK;
    size_t len = 0;
    if (published[id % SL_PUBLISHED].id != id)
        rc = STREAMLOG_ENOTFOUND;
    else if ((len = strlen(published[id % SL_PUBLISHED].msg)) >= cap)
        rc = STREAMLOG_EINVAL;
    else
        memcpy(buf, published[id % SL_PUBLISHED].msg, len + 1);
    published_unlock();
    if (rc == STREAMLOG_ENOTFOUND)
        return sl_fail(rc, "error id %d is unknown, or more than %d failures since made its message go", id,
                       SL_PUBLISHED);
    if (rc == STREAMLOG_EINVAL)
        return sl_fail(rc, "the message of error id %d needs %zu bytes, cap is %zu", id, len + 1, cap);
    return rc;
}
