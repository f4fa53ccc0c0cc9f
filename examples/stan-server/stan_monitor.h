/* stan_monitor.h - monitoring over HTTP like nats-streaming-server's: /streaming/serverz, storez,
 * clientsz and channelsz as JSON (libmicrohttpd on the loop thread through its epoll fd, jansson for
 * the JSON). Other paths (/varz, /connz, /subsz, /healthz, ...) are nats-server's own: they are
 * redirected (307) to the child's monitoring port when there is one. */
#ifndef STAN_MONITOR_H
#define STAN_MONITOR_H

#include "stan_server.h"

typedef struct stan_monitor stan_monitor;

/* Listens on host:port (port 0 picks one); nats_mon_port is nats-server's monitoring port, or -1.
 * On failure returns -1 and writes why to err. */
int stan_monitor_start(stan_server *srv, const char *host, int port, int nats_mon_port, stan_monitor **out,
                       char *err, size_t errcap);
int stan_monitor_port(const stan_monitor *m);
/* Stops listening and closes open connections; memory is freed by the loop. Accepts NULL. */
void stan_monitor_close(stan_monitor *m);

#endif
