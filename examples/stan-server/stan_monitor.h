/* stan_monitor.h - monitoring over HTTP like nats-streaming-server's: a minimal HTTP/1.1 GET
 * server on the loop serving /streaming/serverz, /storez, /clientsz and /channelsz as JSON. */
#ifndef STAN_MONITOR_H
#define STAN_MONITOR_H

#include "stan_server.h"

typedef struct stan_monitor stan_monitor;

/* Listens on host:port (port 0 picks one). On failure returns a negative uv error. */
int stan_monitor_start(uv_loop_t *loop, stan_server *srv, const char *host, int port, stan_monitor **out);
int stan_monitor_port(const stan_monitor *m);
/* Stops listening and closes open connections; memory is freed by the loop. */
void stan_monitor_close(stan_monitor *m);

#endif
