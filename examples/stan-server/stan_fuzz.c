/* stan_fuzz.c - fuzz target for the streaming protocol's request handlers (what stan-server still
 * parses itself: protobuf requests from clients), on a real store, without a NATS connection.
 *
 * An input is a series of requests, each: one byte choosing the handler (discover, ping, pub, sub,
 * unsub, subclose, close, ack), two bytes of length (big-endian), then that many payload bytes.
 * After each input the loop runs once, so appends finish and subscriptions deliver.
 *
 * libFuzzer (clang): built as fuzz-stan-requests. With -DSTAN_FUZZ_STANDALONE it is a program that
 * replays the files named on its command line (the seed corpus) and exits 0 if nothing crashed.
 */
#include "stan_internal.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static stan_server *srv;
static uv_loop_t *loop;
static char dir[] = "/tmp/stan-fuzz-XXXXXX";

static void (*const handlers[])(natsMsg *, void *) = {stan_on_discover, stan_on_client_ping, stan_on_pub,
                                                     stan_on_sub_request, stan_on_unsub, stan_on_subclose,
                                                     stan_on_close, stan_on_ack};

static int setup(void)
{
    if (srv)
        return 0;
    if (!mkdtemp(dir))
        return -1;
    stan_config cfg;
    stan_config_init(&cfg);
    cfg.dir = dir;
    cfg.sync = STREAMLOG_SYNC_NONE;
    cfg.appender_threads = 1;
    cfg.max_channels = 16;
    cfg.max_msgs = 1000;
    loop = uv_default_loop();
    char err[512];
    if (stan_server_new(loop, NULL, &cfg, &srv, err, sizeof err)) {
        fprintf(stderr, "fuzz setup: %s\n", err);
        return -1;
    }
    return 0;
}

/* The subject an ack arrives on: some subscription's ack inbox, so acks reach a subscription. */
static const char *ack_subject(void)
{
    for (stan_channel *ch = srv->chan_head; ch; ch = ch->next)
        if (ch->subs && ch->subs->ack_inbox)
            return ch->subs->ack_inbox;
    return "_STAN.acks.none";
}

static void run_input(const uint8_t *data, size_t size)
{
    while (size >= 3) {
        unsigned which = data[0] % (sizeof handlers / sizeof handlers[0]);
        size_t len = (size_t)data[1] << 8 | data[2];
        data += 3;
        size -= 3;
        if (len > size)
            len = size;
        natsMsg *m = NULL;
        const char *subject = which == 7 ? ack_subject() : "_STAN.fuzz";
        /* a request without a reply subject is a case of its own */
        const char *reply = len % 7 == 3 ? NULL : "_INBOX.fuzz";
        if (natsMsg_Create(&m, subject, reply, (const char *)data, (int)len) == NATS_OK) {
            handlers[which](m, srv);
            natsMsg_Destroy(m);
        }
        data += len;
        size -= len;
    }
    uv_run(loop, UV_RUN_NOWAIT);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (setup())
        abort();
    run_input(data, size);
    return 0;
}

#ifdef STAN_FUZZ_STANDALONE
static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int main(int argc, char **argv)
{
    if (setup())
        return 1;
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) {
            perror(argv[i]);
            return 1;
        }
        static uint8_t buf[1 << 16];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        run_input(buf, n);
        /* and every prefix, as a fuzzer would cut it */
        for (size_t cut = 1; cut < n; cut += 1 + n / 64)
            run_input(buf, cut);
        printf("%s: %zu bytes replayed\n", argv[i], n);
    }
    stan_server_finish_publishes(srv);
    stan_server_free(srv);
    uv_run(loop, UV_RUN_DEFAULT);   /* the closed handles' callbacks */
    uv_loop_close(loop);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
#endif
