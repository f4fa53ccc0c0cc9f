/* nats_main.c - nats-lite: runs only the embedded NATS server (development and tests).
 *
 *   nats-lite [-a ADDR] [-p PORT] [--user U --pass P] [--auth TOKEN] [--max_payload N]
 *             [--max_pending N] [-D] [-V]
 *
 * With -p 0 a free port is chosen. Once listening it prints "nats-lite listening on ADDR:PORT"
 * on stdout (the integration tests wait for that line). SIGINT and SIGTERM shut it down. */
#include "nats_server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static nats_server *server;
static uv_signal_t sigint_h, sigterm_h;

static void log_cb(int level, const char *msg, void *ud)
{
    static const char *names[] = { "ERR", "INF", "DBG", "TRC" };
    (void)ud;
    fprintf(stderr, "[nats-lite] [%s] %s\n", names[level & 3], msg);
}

static void closed(void *ud)
{
    (void)ud;
    uv_close((uv_handle_t *)&sigint_h, NULL);
    uv_close((uv_handle_t *)&sigterm_h, NULL);
}

static void on_signal(uv_signal_t *h, int signum)
{
    (void)h;
    fprintf(stderr, "[nats-lite] [INF] signal %d, shutting down\n", signum);
    uv_signal_stop(&sigint_h);
    uv_signal_stop(&sigterm_h);
    if (server) {
        nats_server_close(server, closed, NULL);
        server = NULL;
    }
}

static void usage(FILE *f)
{
    fprintf(f, "usage: nats-lite [-a ADDR] [-p PORT] [--user U --pass P] [--auth TOKEN]\n"
               "                 [--max_payload BYTES] [--max_pending BYTES] [-D] [-V]\n");
}

static int parse_num(const char *s, unsigned long long max, unsigned long long *out)
{
    char *end;
    errno = 0;
    if (!s || !*s || *s == '-')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    nats_server_config cfg;
    uv_loop_t *loop = uv_default_loop();
    unsigned long long v;

    nats_server_config_init(&cfg);
    cfg.log = log_cb;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1;
        if (!strcmp(a, "-a") || !strcmp(a, "--addr")) {
            if (!val) goto missing;
            cfg.host = val;
        } else if (!strcmp(a, "-p") || !strcmp(a, "--port")) {
            if (parse_num(val, 65535, &v) < 0) goto bad;
            cfg.port = (int)v;
        } else if (!strcmp(a, "--user")) {
            if (!val) goto missing;
            cfg.user = val;
        } else if (!strcmp(a, "--pass")) {
            if (!val) goto missing;
            cfg.pass = val;
        } else if (!strcmp(a, "--auth")) {
            if (!val) goto missing;
            cfg.token = val;
        } else if (!strcmp(a, "--max_payload")) {
            if (parse_num(val, 64ull << 20, &v) < 0 || v == 0) goto bad;
            cfg.max_payload = (size_t)v;
        } else if (!strcmp(a, "--max_pending")) {
            if (parse_num(val, 1ull << 40, &v) < 0 || v == 0) goto bad;
            cfg.max_pending = (size_t)v;
        } else if (!strcmp(a, "-D")) {
            cfg.log_level = NATS_LOG_DEBUG;
            takes = 0;
        } else if (!strcmp(a, "-V")) {
            cfg.log_level = NATS_LOG_TRACE;
            takes = 0;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "nats-lite: unknown flag '%s'\n", a);
            usage(stderr);
            return 2;
        }
        i += takes;
        continue;
missing:
        fprintf(stderr, "nats-lite: flag '%s' needs a value\n", a);
        return 2;
bad:
        fprintf(stderr, "nats-lite: bad value for '%s'\n", a);
        return 2;
    }
    if (!!cfg.user != !!cfg.pass) {
        fprintf(stderr, "nats-lite: --user and --pass go together\n");
        return 2;
    }
    if (cfg.max_pending < cfg.max_payload)
        cfg.max_pending = cfg.max_payload;

    int rc = nats_server_new(loop, &cfg, &server);
    if (rc != 0) {
        fprintf(stderr, "nats-lite: %s\n", nats_server_strerror(rc));
        return 1;
    }
    int uverr = 0;
    rc = nats_server_start(server, &uverr);
    if (rc != 0) {
        fprintf(stderr, "nats-lite: cannot listen on %s:%d: %s\n", cfg.host, cfg.port,
                uv_strerror(uverr));
        nats_server_close(server, NULL, NULL);
        uv_run(loop, UV_RUN_DEFAULT);
        return 1;
    }
    uv_signal_init(loop, &sigint_h);
    uv_signal_init(loop, &sigterm_h);
    uv_signal_start(&sigint_h, on_signal, SIGINT);
    uv_signal_start(&sigterm_h, on_signal, SIGTERM);
    printf("nats-lite listening on %s:%d\n", cfg.host, nats_server_port(server));
    fflush(stdout);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    return 0;
}
