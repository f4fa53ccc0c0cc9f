/* quickstart: open a store, append to channel "orders", read the messages
 * back from sequence 1 and by time, and print the channel's statistics.
 *
 *   usage: quickstart [STORE_DIR]      (default: ./quickstart-store)
 */
#include <stdio.h>
#include <string.h>

#include <streamlog.h>

static int check(int rc, const char *what)
{
    if (rc != STREAMLOG_OK)
        fprintf(stderr, "%s failed: %s (%s): %s\n", what, streamlog_errname(rc), streamlog_strerror(rc),
                streamlog_errmsg());
    return rc;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "quickstart-store";
    streamlog_store *store;
    streamlog_channel *orders;
    int rc = STREAMLOG_OK;

    /* Default options: every append is fsynced before it returns. */
    if (check(streamlog_open(dir, NULL, &store), "streamlog_open"))
        return 1;
    if (check(streamlog_channel_open(store, "orders", STREAMLOG_CREATE, NULL, &orders), "streamlog_channel_open"))
        goto close_store;

    const char *items[] = {"order 1: 2 apples", "order 2: 1 pear", "order 3: 6 plums"};
    uint64_t seq = 0;
    for (int i = 0; i < 3; i++)
        if ((rc = check(streamlog_append(orders, items[i], strlen(items[i]), &seq), "streamlog_append")))
            goto close_channel;
    printf("appended 3 messages, the last is sequence %llu\n", (unsigned long long)seq);

    /* Replay from sequence 1. The views stay valid until the next call on the iterator. */
    streamlog_iter *it;
    const streamlog_msg *m;
    if ((rc = check(streamlog_iter_open(orders, STREAMLOG_START_SEQUENCE, 1, &it), "streamlog_iter_open")))
        goto close_channel;
    int64_t second_time = 0;
    printf("from sequence 1:\n");
    while ((rc = streamlog_iter_next(it, &m)) == STREAMLOG_OK) {
        size_t len;
        const char *data = streamlog_msg_data(m, &len);
        printf("  #%llu  %.*s\n", (unsigned long long)streamlog_msg_seq(m), (int)len, data);
        if (streamlog_msg_seq(m) == seq - 1)
            second_time = streamlog_msg_time(m);
    }
    streamlog_iter_close(it);
    if (rc != STREAMLOG_EAGAIN) { /* EAGAIN: caught up with the channel */
        check(rc, "streamlog_iter_next");
        goto close_channel;
    }

    /* Start at a time: the first message at or after the second-to-last one's time. */
    if ((rc = check(streamlog_iter_open(orders, STREAMLOG_START_TIME, second_time, &it), "streamlog_iter_open")))
        goto close_channel;
    printf("from time %lld:\n", (long long)second_time);
    while ((rc = streamlog_iter_next(it, &m)) == STREAMLOG_OK)
        printf("  #%llu\n", (unsigned long long)streamlog_msg_seq(m));
    streamlog_iter_close(it);

    streamlog_channel_stats_v2 stats = {.size = sizeof stats}; /* growable: say which struct you have */
    if ((rc = check(streamlog_channel_get_stats_v2(orders, &stats), "streamlog_channel_get_stats_v2")))
        goto close_channel;
    printf("channel orders: %llu messages, %llu bytes, sequences %llu..%llu\n", (unsigned long long)stats.msgs,
           (unsigned long long)stats.bytes, (unsigned long long)stats.first_seq, (unsigned long long)stats.last_seq);
    rc = STREAMLOG_OK;

close_channel:
    streamlog_channel_close(orders);
close_store:
    if (check(streamlog_close(store), "streamlog_close"))
        rc = 1;
    return rc == STREAMLOG_OK ? 0 : 1;
}
