/* streamlog-jetstream: the command line of the JetStream bridge, on libstreamlog-jetstream.
 *
 *   streamlog-jetstream out STORE --server URL --stream NAME --channels A,B,... [--subject-prefix P]
 *                           [--create-stream] [--until-caught-up]
 *   streamlog-jetstream in  STORE --server URL --stream NAME --consumer DURABLE --channel NAME
 *                           [--until-caught-up]
 * Every option --KEY VALUE (or --KEY=VALUE) is the setting KEY of streamlog-jetstream.h. */
#include "streamlog-jetstream.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static streamlog_jetstream *bridge;

static void on_signal(int sig)
{
    (void)sig;
    streamlog_jetstream_stop(bridge); /* async-signal-safe */
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
          "  --http ADDR:PORT       serve the status as JSON over HTTP (GET /)\n"
          "  out: --window N (publishes in flight, default 256), --ack-timeout MS (default 5000),\n"
          "       --store-id ID (default: the store's own random id)\n"
          "       --shared-stream (others publish to the stream too: one publish in flight per channel)\n"
          "       with --create-stream: --replicas N (1), --max-msgs N, --max-bytes N, --max-age MS,\n"
          "       --duplicate-window MS (default 120000), --memory-storage\n"
          "  in:  --batch N (messages per fetch, default 256), --ack-wait MS (for a consumer it creates,\n"
          "       default 10000)\n",
          f);
}

static int is_flag(const char *key)
{
    static const char *const flags[] = {"create-stream", "shared-stream", "until-caught-up", "memory-storage", NULL};
    for (int k = 0; flags[k]; k++)
        if (strcmp(key, flags[k]) == 0)
            return 1;
    return 0;
}

static int fail(const char *what)
{
    if (what)
        fprintf(stderr, "streamlog-jetstream: %s\n", what);
    streamlog_jetstream_free(bridge);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc < 3 || (strcmp(argv[1], "out") != 0 && strcmp(argv[1], "in") != 0) || argv[2][0] == '-') {
        usage(stderr);
        return 1;
    }
    int direction = strcmp(argv[1], "out") == 0 ? STREAMLOG_JETSTREAM_OUT : STREAMLOG_JETSTREAM_IN;
    if (streamlog_jetstream_new(direction, argv[2], &bridge))
        return fail("out of memory");
    /* every option --KEY VALUE is the library's setting KEY, so the two cannot drift apart */
    for (int i = 3; i < argc; i++) {
        char *opt = argv[i], *val = NULL;
        if (strncmp(opt, "--", 2) != 0) {
            usage(stderr);
            fprintf(stderr, "streamlog-jetstream: unexpected argument '%s'\n", opt);
            return fail(NULL);
        }
        char *eq = strchr(opt, '=');
        if (eq) {
            *eq = 0;
            val = eq + 1;
        }
        const char *key = opt + 2;
        if (is_flag(key)) {
            if (val) {
                fprintf(stderr, "streamlog-jetstream: %s takes no value\n", opt);
                return fail(NULL);
            }
            val = "1";
        } else if (!val && i + 1 < argc) {
            val = argv[++i];
        } /* else: the library says whether the key is unknown or needs a value */
        if (streamlog_jetstream_set_str(bridge, key, val))
            return fail(streamlog_jetstream_errmsg(bridge));
    }

    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int rc = streamlog_jetstream_run(bridge);
    if (rc == STREAMLOG_EINVAL) /* a required setting missing; a failed run has logged why */
        fprintf(stderr, "streamlog-jetstream: %s\n", streamlog_jetstream_errmsg(bridge));
    streamlog_jetstream_free(bridge);
    streamlog_jetstream_cleanup();
    return rc == 0 ? 0 : 1;
}
