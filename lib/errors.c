/* Result codes: static names and descriptions, and a per-thread detail message
 * so that callers (and FFI users) can see *why* a call failed. */
#include <stdarg.h>
#include <stdio.h>

#include "errors.h"

static _Thread_local char thread_errmsg[256];

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
    return rc;
}

void sl_clear_error(void)
{
    thread_errmsg[0] = '\0';
}

const char *sl_last_error(void)
{
    return thread_errmsg;
}
