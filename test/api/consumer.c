/* A program built against the *installed* library through pkg-config. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <streamlog.h>

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    streamlog_store *st;
    streamlog_channel *ch;
    streamlog_msg *m;
    uint64_t seq;
    if (streamlog_open(argv[1], NULL, &st) || streamlog_channel_open(st, "installed", STREAMLOG_CREATE, NULL, &ch) ||
        streamlog_append(ch, "hello", 5, &seq) || streamlog_get(ch, seq, &m)) {
        fprintf(stderr, "failed: %s\n", streamlog_errmsg());
        return 1;
    }
    size_t len;
    const char *data = streamlog_msg_data(m, &len);
    int ok = len == 5 && memcmp(data, "hello", 5) == 0;
    printf("installed library %s: read back '%.*s'\n", streamlog_version(), (int)len, data);
    streamlog_msg_free(m);
    streamlog_channel_close(ch);
    return streamlog_close(st) == STREAMLOG_OK && ok ? 0 : 1;
}
