/* stan_child.h - the nats-server under stan-server: a child process that dies with its parent
 * (PR_SET_PDEATHSIG), whose output lines come to the loop thread, and which is stopped
 * synchronously so that its port is free when stan_child_stop() returns.
 */
#ifndef STAN_CHILD_H
#define STAN_CHILD_H

#include <uv.h>

typedef struct stan_child stan_child;

typedef struct stan_child_events {
    void (*line)(const char *line, void *ud);   /* each line of its stdout and stderr */
    void (*exited)(int status, void *ud);       /* it ended by itself (waitpid status) */
    void *ud;
} stan_child_events;

/* Starts bin with argv (argv[0] included, NULL-terminated). On failure writes why to err. */
int stan_child_start(uv_loop_t *loop, const char *bin, char *const argv[], const stan_child_events *ev,
                     stan_child **out, char *err, size_t errcap);

/* SIGTERM, up to timeout_ms for it to exit, then SIGKILL; reaps it, passes its last output lines,
 * and frees the handle (its uv handles close on the loop). Accepts NULL. */
void stan_child_stop(stan_child *c, int timeout_ms);

/* Waits up to timeout_ms until host:port can be bound (a server stopped just before us may still
 * hold it); returns 0 when it can, else the errno of the last try. waited_ms gets the time spent. */
int stan_wait_for_port(const char *host, int port, int timeout_ms, int *waited_ms);

#endif
