/* stan_main.c - stan-server: a NATS Streaming compatible server on libstreamlog.
 *
 * Runs an embedded NATS server (or connects to an external one with -ns) and the streaming
 * protocol over it, with messages, channels and subscriptions kept by libstreamlog. The flags
 * follow nats-streaming-server's; `stan-server -h` lists them. Once serving it prints
 * "stan-server ready: nats 127.0.0.1:PORT" on stdout (with -p 0 a free port is chosen). SIGINT
 * and SIGTERM shut it down cleanly: queued publishes are stored and acknowledged, subscriptions
 * closed (durables kept) and the store closed. */
#include "nats_client.h"
#include "nats_server.h"
#include "stan_bus.h"
#include "stan_monitor.h"
#include "stan_server.h"

#include <ctype.h>
#include <signal.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <streamlog.h>
#include <time.h>

static uv_loop_t *loop;
static nats_server *nsrv;
static nats_client *ncli;
static stan_bus *bus;
static stan_server *ssrv;
static stan_monitor *mon;
static uv_signal_t sigint_h, sigterm_h;
static int exit_code;
static FILE *logf_;
static int log_level = NATS_LOG_INFO;
static const char *opt_host = "127.0.0.1";
static int opt_port = 4222, opt_http_port = -1;
static const char *opt_user, *opt_pass, *opt_token;
static stan_config scfg;

static void log_cb(int level, const char *msg, void *ud)
{
    static const char *names[] = {"ERR", "INF", "DBG", "TRC"};
    (void)ud;
    if (level > log_level)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    localtime_r(&ts.tv_sec, &tm);
    char t[32];
    strftime(t, sizeof t, "%Y/%m/%d %H:%M:%S", &tm);
    FILE *f = logf_ ? logf_ : stderr;
    fprintf(f, "[%d] %s.%06ld [%s] %s\n", (int)getpid(), t, ts.tv_nsec / 1000, names[level & 3], msg);
    fflush(f);
}

static void logmsg(int level, const char *fmt, const char *a, const char *b)
{
    char buf[1024];
    snprintf(buf, sizeof buf, fmt, a ? a : "", b ? b : "");
    log_cb(level, buf, NULL);
}

static void shutdown_all(void)
{
    uv_signal_stop(&sigint_h);
    uv_signal_stop(&sigterm_h);
    uv_close((uv_handle_t *)&sigint_h, NULL);
    uv_close((uv_handle_t *)&sigterm_h, NULL);
    stan_monitor_close(mon);
    mon = NULL;
    stan_server_free(ssrv);
    ssrv = NULL;
    stan_bus_free(bus);
    bus = NULL;
    if (nsrv)
        nats_server_close(nsrv, NULL, NULL);
    nsrv = NULL;
    if (ncli)
        nats_client_close(ncli, NULL, NULL);
    ncli = NULL;
}

static void on_signal(uv_signal_t *h, int signum)
{
    (void)h;
    char s[16];
    snprintf(s, sizeof s, "%d", signum);
    logmsg(NATS_LOG_INFO, "signal %s received, shutting down%s", s, NULL);
    shutdown_all();
}

static void announce_ready(void *ud);

static int start_streaming(void)
{
    char err[512];
    scfg.log = log_cb;
    scfg.log_level = log_level;
    if (stan_bus_new(loop, nsrv, ncli, &bus)) {
        logmsg(NATS_LOG_ERROR, "cannot set up the NATS connection%s%s", NULL, NULL);
        return -1;
    }
    if (stan_server_new(loop, bus, &scfg, &ssrv, err, sizeof err)) {
        logmsg(NATS_LOG_ERROR, "%s%s", err, NULL);
        return -1;
    }
    if (opt_http_port >= 0) {
        int rc = stan_monitor_start(loop, ssrv, opt_host, opt_http_port, &mon);
        if (rc) {
            logmsg(NATS_LOG_ERROR, "cannot listen for monitoring: %s%s", uv_strerror(rc), NULL);
            return -1;
        }
    }
    if (ncli) {
        /* ready once the external server has processed our subscriptions (a client connecting
         * right after the ready line must find them) */
        if (nats_client_flush(ncli, announce_ready, NULL)) {
            logmsg(NATS_LOG_ERROR, "lost the NATS server connection while starting%s%s", NULL, NULL);
            return -1;
        }
        return 0;
    }
    announce_ready(NULL);
    return 0;
}

static void announce_ready(void *ud)
{
    (void)ud;
    logmsg(NATS_LOG_INFO, "Streaming Server is ready (cluster ID '%s', store %s)", scfg.cluster_id,
           scfg.dir ? scfg.dir : "MEMORY");
    if (nsrv)
        printf("stan-server ready: nats %s:%d", opt_host, nats_server_port(nsrv));
    else
        printf("stan-server ready: nats external");
    if (mon)
        printf(" monitor %s:%d", opt_host, stan_monitor_port(mon));
    printf("\n");
    fflush(stdout);
}

static void on_client_ready(nats_client *c, int err, const char *why, void *ud)
{
    (void)c;
    (void)ud;
    if (err) {
        logmsg(NATS_LOG_ERROR, "cannot connect to the NATS server: %s%s", why, NULL);
        exit_code = 1;
        ncli = NULL;
        nats_client_close(c, NULL, NULL);
        shutdown_all();
        return;
    }
    logmsg(NATS_LOG_INFO, "connected to the NATS server%s%s", NULL, NULL);
    if (start_streaming()) {
        exit_code = 1;
        shutdown_all();
    }
}

/* The external NATS server went away: nats_client reconnects with backoff and re-subscribes the
 * server's subjects; the streaming state (clients, subscriptions, store) stays as it is.
 * Replies and deliveries published meanwhile are lost like any core NATS message; unacked
 * deliveries come again after their ack wait. */
static void on_client_lost(nats_client *c, const char *why, void *ud)
{
    (void)c;
    (void)ud;
    logmsg(NATS_LOG_ERROR, "lost the NATS server connection (%s); reconnecting%s", why, NULL);
}

static void on_client_reconnected(nats_client *c, void *ud)
{
    (void)c;
    (void)ud;
    logmsg(NATS_LOG_INFO, "reconnected to the NATS server%s%s", NULL, NULL);
}

/* ---- flags -------------------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: stan-server [options]\n"
            "Streaming server options:\n"
            "  -cid, --cluster_id ID        cluster ID (default test-cluster)\n"
            "  -st,  --store MEMORY|FILE    store type (default MEMORY)\n"
            "  -dir, --dir DIR              FILE store directory\n"
            "        --file_sync=BOOL       fsync each publish before its ack (default true)\n"
            "  -mc,  --max_channels N       (default 100; 0 unlimited)\n"
            "  -msu, --max_subs N           subscriptions per channel (default 1000)\n"
            "  -mm,  --max_msgs N           messages per channel (default 1000000)\n"
            "  -mb,  --max_bytes SIZE       bytes per channel, e.g. 1GB (default 1000MB)\n"
            "  -ma,  --max_age DURATION     e.g. 1h30m (default unlimited)\n"
            "  -hbi, --hb_interval DURATION heartbeat interval (default 30s)\n"
            "  -hbt, --hb_timeout DURATION  heartbeat timeout (default 10s)\n"
            "  -hbf, --hb_fail_count N      failed heartbeats before a client is closed (default 10)\n"
            "  -ns,  --nats_server URL      use an external NATS server, nats://host:port\n"
            "  -SD, --stan_debug  -SV, --stan_trace  -SDV   streaming debug/trace logging\n"
            "NATS server options:\n"
            "  -a, --addr, --net HOST       listen address (default 127.0.0.1)\n"
            "  -p, --port PORT              client port (default 4222; 0 = any free port)\n"
            "  -m, --http_port PORT         monitoring port (HTTP)\n"
            "  --user USER --pass PASS      require a user and password\n"
            "  --auth TOKEN                 require a token\n"
            "  -D, -V, -DV                  debug / trace logging\n"
            "  -l, --log FILE               log to FILE\n"
            "  -h, --help\n");
}

static int parse_int(const char *s, int64_t max, int64_t *out)
{
    char *end;
    errno = 0;
    if (!s || !*s)
        return -1;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < 0 || v > max)
        return -1;
    *out = v;
    return 0;
}

/* 1024, 10KB, 100MB, 1GB, 1TB (powers of 1024, as nats-streaming-server). */
static int parse_size(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    if (!s || !*s || *s == '-')
        return -1;
    double v = strtod(s, &end);
    if (errno || end == s)
        return -1;
    double mul = 1;
    if (!strcasecmp(end, "") || !strcasecmp(end, "b"))
        mul = 1;
    else if (!strcasecmp(end, "k") || !strcasecmp(end, "kb"))
        mul = 1024.0;
    else if (!strcasecmp(end, "m") || !strcasecmp(end, "mb"))
        mul = 1024.0 * 1024;
    else if (!strcasecmp(end, "g") || !strcasecmp(end, "gb"))
        mul = 1024.0 * 1024 * 1024;
    else if (!strcasecmp(end, "t") || !strcasecmp(end, "tb"))
        mul = 1024.0 * 1024 * 1024 * 1024;
    else
        return -1;
    v *= mul;
    if (v < 0 || v > 9e18)
        return -1;
    *out = (int64_t)v;
    return 0;
}

/* Go durations: 500ms, 10s, 1h30m, 2h; a bare number is seconds. Result in ms. */
static int parse_duration(const char *s, int64_t *out_ms)
{
    if (!s || !*s)
        return -1;
    double total = 0;
    const char *p = s;
    char *end;
    if (!strcmp(s, "0")) {
        *out_ms = 0;
        return 0;
    }
    while (*p) {
        errno = 0;
        double v = strtod(p, &end);
        if (errno || end == p || v < 0)
            return -1;
        p = end;
        double unit;
        if (!strncmp(p, "ms", 2)) {
            unit = 1;
            p += 2;
        } else if (!strncmp(p, "us", 2) || !strncmp(p, "ns", 2)) {
            unit = p[0] == 'u' ? 0.001 : 0.000001;
            p += 2;
        } else if (*p == 's') {
            unit = 1000;
            p++;
        } else if (*p == 'm') {
            unit = 60000;
            p++;
        } else if (*p == 'h') {
            unit = 3600000;
            p++;
        } else if (*p == 'd') {
            unit = 86400000;
            p++;
        } else if (!*p && p == end && s != p) {
            unit = 1000;
        } else {
            return -1;
        }
        total += v * unit;
    }
    if (total > 9e15)
        return -1;
    *out_ms = (int64_t)total;
    return 0;
}

static int parse_bool(const char *s, int *out)
{
    if (!strcmp(s, "true") || !strcmp(s, "1") || !strcmp(s, "t") || !strcmp(s, "TRUE"))
        *out = 1;
    else if (!strcmp(s, "false") || !strcmp(s, "0") || !strcmp(s, "f") || !strcmp(s, "FALSE"))
        *out = 0;
    else
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    const char *store = "MEMORY", *dir = NULL, *ns_url = NULL, *log_file = NULL;
    int file_sync = 1;
    int64_t v;
    nats_server_config ncfg;

    stan_config_init(&scfg);
    nats_server_config_init(&ncfg);
    for (int i = 1; i < argc; i++) {
        char name[64];
        const char *a = argv[i], *val = NULL;
        const char *eq = strchr(a, '=');
        if (a[0] != '-') {
            fprintf(stderr, "stan-server: unexpected argument '%s'\n", a);
            return 2;
        }
        size_t nl = eq ? (size_t)(eq - a) : strlen(a);
        if (nl >= sizeof name) {
            fprintf(stderr, "stan-server: unknown flag '%s'\n", a);
            return 2;
        }
        memcpy(name, a, nl);
        name[nl] = '\0';
        const char *n = name + (name[1] == '-' ? 2 : 1);   /* -x and --x are the same flag */
#define IS(x) (!strcmp(n, x))
        int is_bool = IS("SD") || IS("stan_debug") || IS("SV") || IS("stan_trace") || IS("SDV") || IS("D") ||
                      IS("debug") || IS("V") || IS("trace") || IS("DV") || IS("h") || IS("help") || IS("file_sync");
        static const char *const known[] = {
            "p", "port", "a", "addr", "net", "m", "http_port", "cid", "cluster_id", "st", "store", "dir",
            "file_sync", "mc", "max_channels", "msu", "max_subs", "mm", "max_msgs", "mb", "max_bytes", "ma",
            "max_age", "hbi", "hb_interval", "hbt", "hb_timeout", "hbf", "hb_fail_count", "ns", "nats_server",
            "user", "pass", "auth", "l", "log", "SD", "stan_debug", "SV", "stan_trace", "SDV", "D", "debug",
            "V", "trace", "DV", "h", "help", NULL};
        int found = 0;
        for (const char *const *k = known; *k; k++)
            found |= IS(*k);
        if (!found) {
            fprintf(stderr, "stan-server: unknown flag '%s' (see stan-server --help)\n", name);
            return 2;
        }
        if (eq)
            val = eq + 1;
        else if (!is_bool) {
            if (i + 1 >= argc) {
                fprintf(stderr, "stan-server: flag '%s' needs a value\n", a);
                return 2;
            }
            val = argv[++i];
        }
        if (IS("p") || IS("port")) {
            if (parse_int(val, 65535, &v)) goto bad;
            opt_port = (int)v;
        } else if (IS("a") || IS("addr") || IS("net")) {
            opt_host = val;
        } else if (IS("m") || IS("http_port")) {
            if (parse_int(val, 65535, &v)) goto bad;
            opt_http_port = (int)v;
        } else if (IS("cid") || IS("cluster_id")) {
            if (!*val) goto bad;
            scfg.cluster_id = val;
        } else if (IS("st") || IS("store")) {
            if (strcasecmp(val, "MEMORY") && strcasecmp(val, "FILE")) goto bad;
            store = val;
        } else if (IS("dir")) {
            dir = val;
        } else if (IS("file_sync")) {
            if (val && parse_bool(val, &file_sync)) goto bad;
        } else if (IS("mc") || IS("max_channels")) {
            if (parse_int(val, INT32_MAX, &v)) goto bad;
            scfg.max_channels = v;
        } else if (IS("msu") || IS("max_subs")) {
            if (parse_int(val, INT32_MAX, &v)) goto bad;
            scfg.max_subs = v;
        } else if (IS("mm") || IS("max_msgs")) {
            if (parse_int(val, INT64_MAX, &v)) goto bad;
            scfg.max_msgs = v;
        } else if (IS("mb") || IS("max_bytes")) {
            if (parse_size(val, &v)) goto bad;
            scfg.max_bytes = v;
        } else if (IS("ma") || IS("max_age")) {
            if (parse_duration(val, &v)) goto bad;
            scfg.max_age_ms = v;
        } else if (IS("hbi") || IS("hb_interval")) {
            if (parse_duration(val, &v) || v < 1) goto bad;
            scfg.hb_interval_ms = (uint64_t)v;
        } else if (IS("hbt") || IS("hb_timeout")) {
            if (parse_duration(val, &v) || v < 1) goto bad;
            scfg.hb_timeout_ms = (uint64_t)v;
        } else if (IS("hbf") || IS("hb_fail_count")) {
            if (parse_int(val, 1000000, &v) || v < 1) goto bad;
            scfg.hb_fail_count = (int)v;
        } else if (IS("ns") || IS("nats_server")) {
            ns_url = val;
        } else if (IS("user")) {
            opt_user = val;
        } else if (IS("pass")) {
            opt_pass = val;
        } else if (IS("auth")) {
            opt_token = val;
        } else if (IS("l") || IS("log")) {
            log_file = val;
        } else if (IS("SD") || IS("stan_debug") || IS("D") || IS("debug")) {
            if (log_level < NATS_LOG_DEBUG)
                log_level = NATS_LOG_DEBUG;
        } else if (IS("SV") || IS("stan_trace") || IS("V") || IS("trace") || IS("SDV") || IS("DV")) {
            log_level = NATS_LOG_TRACE;
        } else if (IS("h") || IS("help")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "stan-server: unknown flag '%s'\n", name);
            usage(stderr);
            return 2;
        }
#undef IS
        continue;
bad:
        fprintf(stderr, "stan-server: bad value '%s' for flag '%s'\n", val ? val : "", name);
        return 2;
    }
    if (!strcasecmp(store, "FILE")) {
        if (!dir || !*dir) {
            fprintf(stderr, "stan-server: the FILE store needs -dir DIR\n");
            return 2;
        }
        scfg.dir = dir;
    } else if (dir) {
        fprintf(stderr, "stan-server: -dir needs --store FILE\n");
        return 2;
    }
    scfg.sync = file_sync ? STREAMLOG_SYNC_ALWAYS : STREAMLOG_SYNC_NONE;
    if (!!opt_user != !!opt_pass) {
        fprintf(stderr, "stan-server: --user and --pass go together\n");
        return 2;
    }
    if (log_file) {
        logf_ = fopen(log_file, "a");
        if (!logf_) {
            fprintf(stderr, "stan-server: cannot open log file %s: %s\n", log_file, strerror(errno));
            return 1;
        }
    }

    /* a write to a connection the peer closed must be an error, not a fatal signal */
    signal(SIGPIPE, SIG_IGN);
    loop = uv_default_loop();
    uv_signal_init(loop, &sigint_h);
    uv_signal_init(loop, &sigterm_h);
    uv_signal_start(&sigint_h, on_signal, SIGINT);
    uv_signal_start(&sigterm_h, on_signal, SIGTERM);

    if (ns_url) {
        nats_client_config cc = {.url = ns_url, .user = opt_user, .pass = opt_pass, .token = opt_token,
                                 .name = "stan-server", .ready = on_client_ready, .lost = on_client_lost,
                                 .reconnected = on_client_reconnected, .reconnect = 1,
                                 .reconnect_wait_ms = 100, .reconnect_max_wait_ms = 2000};
        int rc = nats_client_connect(loop, &cc, &ncli);
        if (rc) {
            fprintf(stderr, "stan-server: bad NATS server URL '%s'\n", ns_url);
            return 2;
        }
    } else {
        ncfg.host = opt_host;
        ncfg.port = opt_port;
        ncfg.user = opt_user;
        ncfg.pass = opt_pass;
        ncfg.token = opt_token;
        ncfg.log = log_cb;
        ncfg.log_level = log_level;
        int rc = nats_server_new(loop, &ncfg, &nsrv);
        if (rc) {
            fprintf(stderr, "stan-server: %s\n", nats_server_strerror(rc));
            return 1;
        }
        int uverr = 0;
        if (nats_server_start(nsrv, &uverr)) {
            fprintf(stderr, "stan-server: cannot listen on %s:%d: %s\n", opt_host, opt_port, uv_strerror(uverr));
            exit_code = 1;
            shutdown_all();
        } else if (start_streaming()) {
            exit_code = 1;
            shutdown_all();
        }
    }
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    if (logf_)
        fclose(logf_);
    return exit_code;
}
