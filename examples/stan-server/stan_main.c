/* stan_main.c - stan-server: a NATS Streaming compatible server on libstreamlog.
 *
 * Starts Debian's nats-server as a child process on the requested address (or connects to an
 * existing NATS server with -ns), connects to it with libnats and serves the streaming protocol,
 * with messages, channels and subscriptions kept by libstreamlog. The flags follow
 * nats-streaming-server's (`stan-server -h`); NATS flags go to the child. Once serving it prints
 * "stan-server ready: nats HOST:PORT monitor HOST:PORT" on stdout (-p 0: a free port).
 *
 * SIGINT and SIGTERM: input received from then on is dropped unanswered, publishes already
 * received are stored and acknowledged, the NATS port is released (the child stops), then the
 * subscriptions (durables are kept) and the store close. */
#include "stan_child.h"
#include "stan_monitor.h"
#include "stan_server.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <streamlog.h>
#include <time.h>
#include <unistd.h>

static uv_loop_t *loop;
static stan_child *child;
static stan_nats *_Atomic nats;   /* read by the signal handler */
static stan_server *ssrv;
static stan_monitor *mon;
static uv_async_t stop_async;
static int exit_code;
static atomic_int shutting_down;   /* read by libnats's threads */
static FILE *logf_;
static int log_level = STAN_LOG_INFO;
static stan_config scfg;

/* what the child reports, and what we were asked for */
static const char *opt_host = "127.0.0.1", *opt_user, *opt_pass, *opt_token, *opt_tlscacert, *opt_tlscert,
                  *opt_tlskey, *ns_url;
static int opt_port = 4222, opt_port_set, opt_http_port = -1, opt_tls, opt_tlsverify;
static char nats_host[256];
static int nats_port = -1, nats_mon_port = -1;

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
    fprintf(f, "[%d] %s.%06ld [%s] STREAM: %s\n", (int)getpid(), t, ts.tv_nsec / 1000, names[level & 3], msg);
    fflush(f);
}

static void say(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(int level, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    log_cb(level, buf, NULL);
}

/* ---- stopping ----------------------------------------------------------------------------- */

static void shutdown_all(void)
{
    if (shutting_down)
        return;
    shutting_down = 1;
    stan_nats *n = atomic_load(&nats);
    if (n)
        stan_nats_refuse_input(n);
    stan_monitor_close(mon);
    mon = NULL;
    /* what was published before the signal is stored and gets its PubAck */
    if (ssrv)
        stan_server_finish_publishes(ssrv);
    if (n) {
        stan_nats_flush(n, 1000);
        atomic_store(&nats, NULL);
        stan_nats_close(n);
    }
    /* the NATS port is free before the streaming state and the store close */
    stan_child_stop(child, 2000);
    child = NULL;
    stan_server_free(ssrv);
    ssrv = NULL;
    uv_close((uv_handle_t *)&stop_async, NULL);
}

static void on_stop(uv_async_t *a)
{
    (void)a;
    say(STAN_LOG_INFO, "stopping (signal received)");
    shutdown_all();
}

/* The signal handler itself, not a deferred libuv callback: from this moment no NATS message is
 * handled, also one already read (uv_async_send is async-signal-safe). */
static void on_signal(int sig)
{
    (void)sig;
    stan_nats *n = atomic_load(&nats);
    if (n)
        stan_nats_refuse_input(n);
    uv_async_send(&stop_async);
}

static void fail_and_stop(void)
{
    exit_code = 1;
    shutdown_all();
}

/* ---- starting ----------------------------------------------------------------------------- */

static void on_disconnected(natsConnection *nc, void *ud)
{
    (void)nc;
    (void)ud;
    if (!atomic_load(&shutting_down))
        say(STAN_LOG_ERROR, "lost the NATS server connection; reconnecting");
}

static void on_reconnected(natsConnection *nc, void *ud)
{
    (void)nc;
    (void)ud;
    say(STAN_LOG_INFO, "reconnected to the NATS server");
}

/* Connects to the NATS server (the child, or -ns), starts the streaming layer and monitoring. */
static int start_streaming(void)
{
    char err[512], url[600];
    natsOptions *o = NULL;
    natsStatus st = natsOptions_Create(&o);
    if (ns_url)
        snprintf(url, sizeof url, "%s", ns_url);
    else
        snprintf(url, sizeof url, "nats://%s:%d", nats_host, nats_port);
    if (st == NATS_OK)
        st = natsOptions_SetURL(o, url);
    if (st == NATS_OK)
        st = natsOptions_SetName(o, "stan-server");
    /* one delivery thread for every subscription: requests are handled in arrival order */
    if (st == NATS_OK)
        st = natsOptions_UseGlobalMessageDelivery(o, true);
    if (st == NATS_OK)
        st = natsOptions_SetMaxReconnect(o, -1);
    if (st == NATS_OK)
        st = natsOptions_SetReconnectWait(o, 100);
    if (st == NATS_OK)
        st = natsOptions_SetDisconnectedCB(o, on_disconnected, NULL);
    if (st == NATS_OK)
        st = natsOptions_SetReconnectedCB(o, on_reconnected, NULL);
    if (st == NATS_OK && opt_user)
        st = natsOptions_SetUserInfo(o, opt_user, opt_pass);
    if (st == NATS_OK && opt_token)
        st = natsOptions_SetToken(o, opt_token);
    if (st == NATS_OK && (opt_tls || opt_tlsverify)) {
        st = natsOptions_SetSecure(o, true);
        /* the child is our own process on the address we gave it; an external server is verified */
        if (st == NATS_OK && !ns_url)
            st = natsOptions_SkipServerVerification(o, true);
        else if (st == NATS_OK && opt_tlscacert)
            st = natsOptions_LoadCATrustedCertificates(o, opt_tlscacert);
        if (st == NATS_OK && opt_tlsverify && opt_tlscert && opt_tlskey)
            st = natsOptions_LoadCertificatesChain(o, opt_tlscert, opt_tlskey);
    }
    if (st != NATS_OK) {
        say(STAN_LOG_ERROR, "NATS connection options: %s", natsStatus_GetText(st));
        natsOptions_Destroy(o);
        return -1;
    }
    stan_nats *n;
    st = stan_nats_connect(loop, o, &n, err, sizeof err);
    natsOptions_Destroy(o);
    if (st != NATS_OK) {
        say(STAN_LOG_ERROR, "cannot connect to the NATS server at %s: %s", url, err);
        return -1;
    }
    atomic_store(&nats, n);
    say(STAN_LOG_INFO, "connected to the NATS server at %s", url);
    if (stan_server_new(loop, n, &scfg, &ssrv, err, sizeof err)) {
        say(STAN_LOG_ERROR, "%s", err);
        return -1;
    }
    if (opt_http_port >= 0) {
        if (stan_monitor_start(ssrv, opt_host, opt_http_port, nats_mon_port, &mon, err, sizeof err)) {
            say(STAN_LOG_ERROR, "cannot serve monitoring: %s", err);
            return -1;
        }
    }
    /* ready once the NATS server has our subscriptions: a client connecting after the ready line
     * must find them */
    if ((st = stan_nats_flush(n, 5000)) != NATS_OK) {
        say(STAN_LOG_ERROR, "NATS server did not answer: %s", natsStatus_GetText(st));
        return -1;
    }
    say(STAN_LOG_INFO, "Streaming Server is ready (cluster ID '%s', store %s)", scfg.cluster_id,
         scfg.dir ? scfg.dir : "MEMORY");
    if (ns_url)
        printf("stan-server ready: nats external");
    else
        printf("stan-server ready: nats %s:%d", nats_host, nats_port);
    if (mon)
        printf(" monitor %s:%d", opt_host, stan_monitor_port(mon));
    if (nats_mon_port >= 0)
        printf(" nats-monitor %s:%d", nats_host, nats_mon_port);
    printf("\n");
    fflush(stdout);
    return 0;
}

/* "... Listening for client connections on 127.0.0.1:4222": the address actually bound. */
static int parse_addr(const char *line, const char *what, char *host, size_t cap, int *port)
{
    const char *p = strstr(line, what);
    if (!p)
        return 0;
    p += strlen(what);
    const char *colon = strrchr(p, ':');
    if (!colon || (size_t)(colon - p) >= cap)
        return 0;
    memcpy(host, p, (size_t)(colon - p));
    host[colon - p] = '\0';
    *port = atoi(colon + 1);
    return 1;
}

static void on_child_line(const char *line, void *ud)
{
    (void)ud;
    FILE *f = logf_ ? logf_ : stderr;
    fprintf(f, "%s\n", line);
    fflush(f);
    char host[256];
    int port;
    if (parse_addr(line, "Listening for client connections on ", host, sizeof host, &port)) {
        /* a wildcard address is reached through loopback */
        snprintf(nats_host, sizeof nats_host, "%s",
                 !strcmp(host, "0.0.0.0") || !strcmp(host, "[::]") ? "127.0.0.1" : host);
        nats_port = port;
    } else if (parse_addr(line, "Starting http monitor on ", host, sizeof host, &port)) {
        nats_mon_port = port;
    } else if (strstr(line, "Server is ready") && !shutting_down && !ssrv) {
        if (nats_port < 0) {
            say(STAN_LOG_ERROR, "nats-server did not say where it listens");
            fail_and_stop();
        } else if (start_streaming()) {
            fail_and_stop();
        }
    }
}

static void on_child_exit(int status, void *ud)
{
    (void)ud;
    if (shutting_down)
        return;
    say(STAN_LOG_ERROR, "nats-server exited (%s %d)", WIFEXITED(status) ? "status" : "signal",
         WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    fail_and_stop();
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


/* ---- flags -------------------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: stan-server [options]   (-x, --x, -x=value and --x=value are the same)\n"
            "Streaming server options:\n"
            "  -cid, --cluster_id ID        cluster ID (default test-cluster)\n"
            "  -st,  --store MEMORY|FILE    store type (default MEMORY)\n"
            "  -dir, --dir DIR              FILE store directory\n"
            "        --file_sync=BOOL       fsync each publish batch before its PubAcks (default true)\n"
            "  -mc,  --max_channels N       (default 100; 0 unlimited)\n"
            "  -msu, --max_subs N           subscriptions per channel (default 1000)\n"
            "  -mm,  --max_msgs N           messages per channel (default 1000000)\n"
            "  -mb,  --max_bytes SIZE       bytes per channel, e.g. 1GB (default 1000MB)\n"
            "  -ma,  --max_age DURATION     e.g. 1h30m (default unlimited)\n"
            "  -mi,  --max_inactivity DURATION  delete a channel unused this long (default never)\n"
            "  -hbi, --hb_interval DURATION heartbeat interval (default 30s)\n"
            "  -hbt, --hb_timeout DURATION  heartbeat timeout (default 10s)\n"
            "  -hbf, --hb_fail_count N      failed heartbeats before a client is closed (default 10)\n"
            "  -ns,  --nats_server URL      use this NATS server instead of starting nats-server\n"
            "        --nats_bin PATH        the nats-server to start (default $NATS_SERVER_BIN, nats-server)\n"
            "  -SD, --stan_debug  -SV, --stan_trace  -SDV   streaming debug/trace logging\n"
            "  -l,  --log FILE              log (also nats-server's output) to FILE\n"
            "  -v,  --version  -h, --help\n"
            "NATS server options (given to nats-server):\n"
            "  -a, --addr, --net HOST       listen address (default 127.0.0.1)\n"
            "  -p, --port PORT              client port (default 4222; 0 = any free port)\n"
            "  -m, --http_port PORT         monitoring: /streaming/* here, other paths redirected to\n"
            "                               nats-server's own monitoring (/varz, /connz, ...)\n"
            "  -c, --config FILE            nats-server configuration file\n"
            "  --user USER --pass PASS, --auth TOKEN\n"
            "  --tls, --tlscert FILE, --tlskey FILE, --tlscacert FILE, --tlsverify\n"
            "  --cluster URL, --routes URLS, --cluster_name NAME\n"
            "  -D, -V, -DV                  nats-server debug / trace logging\n");
}

enum {
    O_CID = 256, O_STORE, O_DIR, O_FILE_SYNC, O_MC, O_MSU, O_MM, O_MB, O_MA, O_MI, O_HBI, O_HBT, O_HBF, O_NS,
    O_NATS_BIN, O_SD, O_SV, O_SDV, O_LOG, O_VERSION, O_HELP, O_ADDR, O_PORT, O_HTTP, O_CONFIG, O_USER, O_PASS,
    O_AUTH, O_TLS, O_TLSCERT, O_TLSKEY, O_TLSCACERT, O_TLSVERIFY, O_CLUSTER, O_ROUTES, O_CLUSTER_NAME, O_D, O_V,
    O_DV
};

static const struct option long_opts[] = {
    {"cid", required_argument, 0, O_CID}, {"cluster_id", required_argument, 0, O_CID},
    {"st", required_argument, 0, O_STORE}, {"store", required_argument, 0, O_STORE},
    {"dir", required_argument, 0, O_DIR}, {"file_sync", optional_argument, 0, O_FILE_SYNC},
    {"mc", required_argument, 0, O_MC}, {"max_channels", required_argument, 0, O_MC},
    {"msu", required_argument, 0, O_MSU}, {"max_subs", required_argument, 0, O_MSU},
    {"mm", required_argument, 0, O_MM}, {"max_msgs", required_argument, 0, O_MM},
    {"mb", required_argument, 0, O_MB}, {"max_bytes", required_argument, 0, O_MB},
    {"ma", required_argument, 0, O_MA}, {"max_age", required_argument, 0, O_MA},
    {"mi", required_argument, 0, O_MI}, {"max_inactivity", required_argument, 0, O_MI},
    {"hbi", required_argument, 0, O_HBI}, {"hb_interval", required_argument, 0, O_HBI},
    {"hbt", required_argument, 0, O_HBT}, {"hb_timeout", required_argument, 0, O_HBT},
    {"hbf", required_argument, 0, O_HBF}, {"hb_fail_count", required_argument, 0, O_HBF},
    {"ns", required_argument, 0, O_NS}, {"nats_server", required_argument, 0, O_NS},
    {"nats_bin", required_argument, 0, O_NATS_BIN},
    {"SD", no_argument, 0, O_SD}, {"stan_debug", no_argument, 0, O_SD},
    {"SV", no_argument, 0, O_SV}, {"stan_trace", no_argument, 0, O_SV}, {"SDV", no_argument, 0, O_SDV},
    {"l", required_argument, 0, O_LOG}, {"log", required_argument, 0, O_LOG},
    {"v", no_argument, 0, O_VERSION}, {"version", no_argument, 0, O_VERSION},
    {"h", no_argument, 0, O_HELP}, {"help", no_argument, 0, O_HELP},
    {"a", required_argument, 0, O_ADDR}, {"addr", required_argument, 0, O_ADDR},
    {"net", required_argument, 0, O_ADDR}, {"p", required_argument, 0, O_PORT},
    {"port", required_argument, 0, O_PORT}, {"m", required_argument, 0, O_HTTP},
    {"http_port", required_argument, 0, O_HTTP}, {"c", required_argument, 0, O_CONFIG},
    {"config", required_argument, 0, O_CONFIG}, {"user", required_argument, 0, O_USER},
    {"pass", required_argument, 0, O_PASS}, {"auth", required_argument, 0, O_AUTH},
    {"tls", no_argument, 0, O_TLS}, {"tlscert", required_argument, 0, O_TLSCERT},
    {"tlskey", required_argument, 0, O_TLSKEY}, {"tlscacert", required_argument, 0, O_TLSCACERT},
    {"tlsverify", no_argument, 0, O_TLSVERIFY}, {"cluster", required_argument, 0, O_CLUSTER},
    {"routes", required_argument, 0, O_ROUTES}, {"cluster_name", required_argument, 0, O_CLUSTER_NAME},
    {"D", no_argument, 0, O_D}, {"debug", no_argument, 0, O_D}, {"V", no_argument, 0, O_V},
    {"trace", no_argument, 0, O_V}, {"DV", no_argument, 0, O_DV},
    {0, 0, 0, 0}};

/* The nats-server binary: --nats_bin, $NATS_SERVER_BIN, or nats-server on PATH (Debian: /usr/sbin). */
static const char *find_nats_server(const char *given, char *buf, size_t cap)
{
    if (given)
        return given;
    const char *env = getenv("NATS_SERVER_BIN");
    if (env && *env)
        return env;
    const char *path = getenv("PATH");
    char dirs[4096];
    snprintf(dirs, sizeof dirs, "%s:/usr/sbin:/usr/bin", path ? path : "");
    for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        snprintf(buf, cap, "%s/nats-server", d);
        if (access(buf, X_OK) == 0)
            return buf;
    }
    return NULL;
}

#define MAX_CHILD_ARGS 64

int main(int argc, char **argv)
{
    const char *store = "MEMORY", *dir = NULL, *log_file = NULL, *nats_bin = NULL;
    const char *child_args[MAX_CHILD_ARGS];
    int nchild = 1, file_sync = 1, child_debug = 0, child_trace = 0, has_config = 0;
    int64_t v;
    char port_arg[16], http_arg[16];

    stan_config_init(&scfg);
#define CHILD(flag, val)                                                                                          \
    do {                                                                                                           \
        child_args[nchild++] = flag;                                                                               \
        if (val)                                                                                                   \
            child_args[nchild++] = val;                                                                            \
    } while (0)
    opterr = 0;
    for (;;) {
        int prev = optind;
        int o = getopt_long_only(argc, argv, "", long_opts, NULL);
        if (o == -1)
            break;
        const char *val = optarg;
        switch (o) {
        case O_CID:
            if (!*val) goto bad;
            scfg.cluster_id = val;
            break;
        case O_STORE:
            if (strcasecmp(val, "MEMORY") && strcasecmp(val, "FILE")) goto bad;
            store = val;
            break;
        case O_DIR: dir = val; break;
        case O_FILE_SYNC:
            if (val && parse_bool(val, &file_sync)) goto bad;
            break;
        case O_MC: if (parse_int(val, INT32_MAX, &v)) goto bad; scfg.max_channels = v; break;
        case O_MSU: if (parse_int(val, INT32_MAX, &v)) goto bad; scfg.max_subs = v; break;
        case O_MM: if (parse_int(val, INT64_MAX, &v)) goto bad; scfg.max_msgs = v; break;
        case O_MB: if (parse_size(val, &v)) goto bad; scfg.max_bytes = v; break;
        case O_MA: if (parse_duration(val, &v)) goto bad; scfg.max_age_ms = v; break;
        case O_MI: if (parse_duration(val, &v)) goto bad; scfg.max_inactivity_ms = v; break;
        case O_HBI: if (parse_duration(val, &v) || v < 1) goto bad; scfg.hb_interval_ms = (uint64_t)v; break;
        case O_HBT: if (parse_duration(val, &v) || v < 1) goto bad; scfg.hb_timeout_ms = (uint64_t)v; break;
        case O_HBF: if (parse_int(val, 1000000, &v) || v < 1) goto bad; scfg.hb_fail_count = (int)v; break;
        case O_NS: ns_url = val; break;
        case O_NATS_BIN: nats_bin = val; break;
        case O_SD: if (log_level < STAN_LOG_DEBUG) log_level = STAN_LOG_DEBUG; break;
        case O_SV: case O_SDV: log_level = STAN_LOG_TRACE; break;
        case O_LOG: log_file = val; break;
        case O_VERSION:
            printf("stan-server version %s (libstreamlog, NATS Streaming protocol; libnats %s)\n",
                   STAN_SERVER_VERSION, nats_GetVersion());
            return 0;
        case O_HELP: usage(stdout); return 0;
        case O_ADDR: opt_host = val; break;
        case O_PORT: if (parse_int(val, 65535, &v)) goto bad; opt_port = (int)v; opt_port_set = 1; break;
        case O_HTTP: if (parse_int(val, 65535, &v)) goto bad; opt_http_port = (int)v; break;
        case O_CONFIG: has_config = 1; CHILD("-c", val); break;
        case O_USER: opt_user = val; CHILD("--user", val); break;
        case O_PASS: opt_pass = val; CHILD("--pass", val); break;
        case O_AUTH: opt_token = val; CHILD("--auth", val); break;
        case O_TLS: opt_tls = 1; CHILD("--tls", NULL); break;
        case O_TLSCERT: opt_tlscert = val; CHILD("--tlscert", val); break;
        case O_TLSKEY: opt_tlskey = val; CHILD("--tlskey", val); break;
        case O_TLSCACERT: opt_tlscacert = val; CHILD("--tlscacert", val); break;
        case O_TLSVERIFY: opt_tlsverify = 1; CHILD("--tlsverify", NULL); break;
        case O_CLUSTER: CHILD("--cluster", val); break;
        case O_ROUTES: CHILD("--routes", val); break;
        case O_CLUSTER_NAME: CHILD("--cluster_name", val); break;
        case O_D: child_debug = 1; break;
        case O_V: child_trace = 1; break;
        case O_DV: child_debug = child_trace = 1; break;
        default:
            fprintf(stderr, "stan-server: unknown flag '%s' or missing value (see stan-server --help)\n",
                    argv[optind - 1 >= prev ? optind - 1 : prev]);
            return 2;
        }
        if (nchild > MAX_CHILD_ARGS - 12) {
            fprintf(stderr, "stan-server: too many flags\n");
            return 2;
        }
        continue;
bad:
        fprintf(stderr, "stan-server: bad value '%s' for flag '%s'\n", val ? val : "", argv[prev]);
        return 2;
    }
#undef CHILD
    if (optind < argc) {
        fprintf(stderr, "stan-server: unexpected argument '%s'\n", argv[optind]);
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
    scfg.log = log_cb;
    scfg.log_level = log_level;

    /* a write to a connection the peer closed must be an error, not a fatal signal */
    signal(SIGPIPE, SIG_IGN);
    loop = uv_default_loop();
    uv_async_init(loop, &stop_async, on_stop);
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    nats_Open(-1);
    nats_SetMessageDeliveryPoolSize(1);

    if (ns_url) {
        if (start_streaming())
            fail_and_stop();
    } else {
        char found[4096];
        const char *bin = find_nats_server(nats_bin, found, sizeof found);
        if (!bin) {
            fprintf(stderr, "stan-server: nats-server not found (Debian: apt-get install nats-server; "
                            "or --nats_bin PATH, or -ns URL for a running NATS server)\n");
            return 1;
        }
        child_args[0] = "nats-server";
        /* -p 0 means any free port, which nats-server spells -1; with -c, the file decides unless
         * -a/-p are given */
        if (!has_config || opt_port_set) {
            snprintf(port_arg, sizeof port_arg, "%d", opt_port ? opt_port : -1);
            child_args[nchild++] = "-p";
            child_args[nchild++] = port_arg;
        }
        if (!has_config || strcmp(opt_host, "127.0.0.1")) {
            child_args[nchild++] = "-a";
            child_args[nchild++] = opt_host;
        }
        if (opt_http_port >= 0) {
            /* nats-server's own monitoring on a free port; ours redirects its paths there */
            snprintf(http_arg, sizeof http_arg, "-1");
            child_args[nchild++] = "-m";
            child_args[nchild++] = http_arg;
        }
        if (child_debug)
            child_args[nchild++] = "-D";
        if (child_trace)
            child_args[nchild++] = "-V";
        child_args[nchild] = NULL;
        if (opt_port) {
            int waited;
            if (stan_wait_for_port(opt_host, opt_port, 0, &waited)) {
                say(STAN_LOG_INFO, "port %d is busy; waiting up to 2 s for it", opt_port);
                int rc = stan_wait_for_port(opt_host, opt_port, 2000, &waited);
                say(STAN_LOG_INFO, "port %d %s after %d ms", opt_port, rc ? "still busy" : "free", waited);
            }
        }
        char err[512];
        stan_child_events ev = {.line = on_child_line, .exited = on_child_exit};
        if (stan_child_start(loop, bin, (char *const *)child_args, &ev, &child, err, sizeof err)) {
            fprintf(stderr, "stan-server: %s\n", err);
            return 1;
        }
    }
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    if (logf_)
        fclose(logf_);
    return exit_code;
}
