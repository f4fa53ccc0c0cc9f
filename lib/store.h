/* The store and channel handles, shared by the modules below the public layer. */
#ifndef SL_STORE_H
#define SL_STORE_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>

#include "append.h"
#include "names.h"
#include "notify.h"
#include "options.h"
#include "storage.h"

struct sl_maintenance {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    atomic_int running; /* read by committing threads (write.c) */
    int sync_now; /* SYNC_INTERVAL: sync without waiting for the interval */
};

struct streamlog_store {
    sl_env *env;
    dev_t dev;                  /* identity of the directory, for the in-process registry */
    ino_t ino;
    int readonly;               /* STREAMLOG_OPT_READONLY: no writes, no notifier, no background thread */
    int sync_policy;            /* STREAMLOG_SYNC_* */
    int64_t sync_interval_ms;
    uint64_t max_store_bytes;   /* limit on live data */
    uint64_t max_channels;      /* 0 = unlimited */
    uint64_t max_payload;
    sl_limits defaults;         /* for channels without limits of their own */
    atomic_int write_error;     /* 0, or STREAMLOG_EIO once a commit or sync failed */
    atomic_long children;       /* open channel handles, iterators and subscriptions */
    struct sl_committer committer;
    struct sl_maintenance maint;
    struct sl_notifier notifier;
};

struct streamlog_channel {
    streamlog_store *st;
    uint64_t id;
    size_t name_len;
    char name[SL_NAME_MAX + 1];
};

int  sl_store_open(const char *dir, const streamlog_opts *opts, streamlog_store **out);
int  sl_store_close(streamlog_store *st);





#endif
