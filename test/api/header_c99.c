/* The public header must compile as strict C99 (built with -std=c99 -pedantic-errors -Werror). */
#include <streamlog.h>

/* the constants stay macros with their values, for #ifdef and #if */
#if !defined(STREAMLOG_EINVAL) || STREAMLOG_EINVAL != -1 || STREAMLOG_OPT_DEAD_LETTER != 40
#error "the constants must stay usable in #if"
#endif
#if STREAMLOG_PAYLOAD_HARD_MAX != 1073741824
#error "STREAMLOG_PAYLOAD_HARD_MAX must stay usable in #if"
#endif

int main(void)
{
    streamlog_channel_stats s = {0, 0, 0, 0, 0};
    streamlog_channel_stats_v2 v2 = {sizeof(streamlog_channel_stats_v2), 0, 0, 0, 0, 0, 0};
    enum streamlog_result rc = STREAMLOG_EINVAL;
    enum streamlog_start start = STREAMLOG_START_FIRST;
    (void)s;
    (void)v2;
    (void)start;
    return streamlog_strerror(rc)[0] == '\0';
}
