/* The public header must compile as strict C99 (built with -std=c99 -pedantic-errors -Werror). */
#include <streamlog.h>

int main(void)
{
    streamlog_channel_stats s = {0, 0, 0, 0, 0};
    (void)s;
    return streamlog_strerror(STREAMLOG_EINVAL)[0] == '\0';
}
