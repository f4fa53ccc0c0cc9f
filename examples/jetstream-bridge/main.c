/* streamlog-jetstream: the command line of the JetStream bridge.
 *
 *   streamlog-jetstream out STORE --server URL --stream NAME --channels A,B,... [--subject-prefix P]
 *                           [--create-stream] [--until-caught-up]
 *   streamlog-jetstream in  STORE --server URL --stream NAME --consumer DURABLE --channel NAME
 *                           [--until-caught-up]
 * and the options around them listed in usage(). */
#include "bridge.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void usage(FILE *f)
{
    fputs("usage:\n"
          "  streamlog-jetstream out STORE --server URL --stream NAME --channels A,B,... [--subject-prefix P]\n"
          "                          [--create-stream] [--until-caught-up]\n"
          "  streamlog-jetstream in  STORE --server URL --stream NAME --consumer DURABLE --channel NAME\n"
          "                          [--until-caught-up]\n"
          "channels: names, X.> for every channel under X., or > for all channels\n"
          "options:\n"
          "  --status-interval MS   a status line per interval on stderr (default 10000, 0: none)\n"
          "  out: --window N (publishes in flight, default 256), --ack-timeout MS (default 5000),\n"
          "       --store-id ID (default: the store's own random id)\n"
          "       with --create-stream: --replicas N (1), --max-msgs N, --max-bytes N, --max-age MS,\n"
          "       --duplicate-window MS (default 120000), --memory-storage\n"
          "  in:  --batch N (messages per fetch, default 256), --ack-wait MS (for a consumer it creates,\n"
          "       default 10000)\n",
          f);
}

static int parse_int(const char *opt, const char *v, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || end == v || *end || n < lo || n > hi) {
        fprintf(stderr, "streamlog-jetstream: %s needs an integer in %lld..%lld, not '%s'\n", opt, (long long)lo,
                (long long)hi, v);
        return -1;
    }
    *out = n;
    return 0;
}

/* Split "A,B,C" into its names; empty names are errors. */
static char **split_channels(char *list, size_t *n)
{
    size_t cap = 1;
    for (const char *p = list; *p; p++)
        cap += *p == ',';
    char **out = calloc(cap, sizeof *out);
    if (!out)
        return NULL;
    *n = 0;
    for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        out[(*n)++] = tok;
    return out;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc < 3 || (strcmp(argv[1], "out") != 0 && strcmp(argv[1], "in") != 0) || argv[2][0] == '-') {
        usage(stderr);
        return JSB_EXIT_FAIL;
    }
    int out_mode = strcmp(argv[1], "out") == 0;
    jsb_config cfg;
    jsb_config_defaults(&cfg);
    cfg.store_dir = argv[2];
    char *channels = NULL;
    for (int i = 3; i < argc; i++) {
        char *opt = argv[i], *val = NULL;
        char *eq = strncmp(opt, "--", 2) == 0 ? strchr(opt, '=') : NULL;
        if (eq) {
            *eq = 0;
            val = eq + 1;
        }
        int64_t n;
        static const char *const flags[] = {"--create-stream", "--until-caught-up", "--memory-storage", NULL};
        static const char *const valued[] = {"--server", "--stream", "--status-interval", "--channels",
                                             "--subject-prefix", "--store-id", "--window", "--ack-timeout",
                                             "--replicas", "--max-msgs", "--max-bytes", "--max-age",
                                             "--duplicate-window", "--consumer", "--channel", "--batch",
                                             "--ack-wait", NULL};
        int is_flag = 0, known = 0;
        for (int k = 0; flags[k]; k++)
            if (strcmp(opt, flags[k]) == 0)
                is_flag = known = 1;
        for (int k = 0; valued[k]; k++)
            if (strcmp(opt, valued[k]) == 0)
                known = 1;
        if (!known) {
            fprintf(stderr, "streamlog-jetstream: unknown option '%s'\n", opt);
            usage(stderr);
            return JSB_EXIT_FAIL;
        }
        if (!is_flag && !val) {
            if (i + 1 >= argc) {
                fprintf(stderr, "streamlog-jetstream: %s needs a value\n", opt);
                return JSB_EXIT_FAIL;
            }
            val = argv[++i];
        }
        if (is_flag && val) {
            fprintf(stderr, "streamlog-jetstream: %s takes no value\n", opt);
            return JSB_EXIT_FAIL;
        }
        const char *only = NULL; /* "out" or "in" for a mode's own options */
        if (strcmp(opt, "--server") == 0)
            cfg.server = val;
        else if (strcmp(opt, "--stream") == 0)
            cfg.stream = val;
        else if (strcmp(opt, "--until-caught-up") == 0)
            cfg.until_caught_up = 1;
        else if (strcmp(opt, "--status-interval") == 0) {
            if (parse_int(opt, val, 0, INT_MAX, &n))
                return JSB_EXIT_FAIL;
            cfg.status_interval_ms = (int)n;
        } else if (strcmp(opt, "--channels") == 0)
            only = "out", channels = val;
        else if (strcmp(opt, "--subject-prefix") == 0)
            only = "out", cfg.subject_prefix = val;
        else if (strcmp(opt, "--create-stream") == 0)
            only = "out", cfg.create_stream = 1;
        else if (strcmp(opt, "--memory-storage") == 0)
            only = "out", cfg.memory_storage = 1;
        else if (strcmp(opt, "--store-id") == 0)
            only = "out", cfg.store_id = val;
        else if (strcmp(opt, "--window") == 0) {
            only = "out";
            if (parse_int(opt, val, 1, 65536, &n))
                return JSB_EXIT_FAIL;
            cfg.window = (int)n;
        } else if (strcmp(opt, "--ack-timeout") == 0) {
            only = "out";
            if (parse_int(opt, val, 10, 3600000, &cfg.ack_timeout_ms))
                return JSB_EXIT_FAIL;
        } else if (strcmp(opt, "--replicas") == 0) {
            only = "out";
            if (parse_int(opt, val, 1, 5, &n))
                return JSB_EXIT_FAIL;
            cfg.replicas = (int)n;
        } else if (strcmp(opt, "--max-msgs") == 0) {
            only = "out";
            if (parse_int(opt, val, 0, INT64_MAX, &cfg.max_msgs))
                return JSB_EXIT_FAIL;
        } else if (strcmp(opt, "--max-bytes") == 0) {
            only = "out";
            if (parse_int(opt, val, 0, INT64_MAX, &cfg.max_bytes))
                return JSB_EXIT_FAIL;
        } else if (strcmp(opt, "--max-age") == 0) {
            only = "out";
            if (parse_int(opt, val, 0, INT64_MAX / 1000000, &cfg.max_age_ms))
                return JSB_EXIT_FAIL;
        } else if (strcmp(opt, "--duplicate-window") == 0) {
            only = "out";
            if (parse_int(opt, val, 1, INT64_MAX / 1000000, &cfg.duplicate_window_ms))
                return JSB_EXIT_FAIL;
        } else if (strcmp(opt, "--consumer") == 0)
            only = "in", cfg.consumer = val;
        else if (strcmp(opt, "--channel") == 0)
            only = "in", cfg.channel = val;
        else if (strcmp(opt, "--batch") == 0) {
            only = "in";
            if (parse_int(opt, val, 1, 10000, &n))
                return JSB_EXIT_FAIL;
            cfg.fetch_batch = (int)n;
        } else if (strcmp(opt, "--ack-wait") == 0) {
            only = "in";
            if (parse_int(opt, val, 100, 86400000, &cfg.consumer_ack_wait_ms))
                return JSB_EXIT_FAIL;
        }
        if (only && strcmp(only, argv[1]) != 0) {
            fprintf(stderr, "streamlog-jetstream: %s is an option of '%s', not '%s'\n", opt, only, argv[1]);
            return JSB_EXIT_FAIL;
        }
    }
    if (!cfg.server || !cfg.stream) {
        fprintf(stderr, "streamlog-jetstream: --server and --stream are required\n");
        return JSB_EXIT_FAIL;
    }
    if (out_mode && !channels) {
        fprintf(stderr, "streamlog-jetstream: out needs --channels\n");
        return JSB_EXIT_FAIL;
    }
    if (!out_mode && (!cfg.consumer || !cfg.channel)) {
        fprintf(stderr, "streamlog-jetstream: in needs --consumer and --channel\n");
        return JSB_EXIT_FAIL;
    }
    char **names = NULL;
    if (out_mode) {
        names = split_channels(channels, &cfg.nchannels);
        if (!names || cfg.nchannels == 0) {
            fprintf(stderr, "streamlog-jetstream: --channels lists no channel\n");
            free(names);
            return JSB_EXIT_FAIL;
        }
        cfg.channels = (const char *const *)names;
    }

    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int rc = out_mode ? jsb_run_out(&cfg, &stop_flag) : jsb_run_in(&cfg, &stop_flag);
    free(names);
    nats_Close();
    return rc;
}
