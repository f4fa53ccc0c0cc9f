// The public header must compile as C++ (built with -pedantic-errors -Werror) and link from C++.
#include <streamlog.h>

#if !defined(STREAMLOG_EINVAL) || STREAMLOG_EINVAL != -1 || STREAMLOG_PAYLOAD_HARD_MAX != 1073741824
#error "the constants must stay usable in #if"
#endif

int main()
{
    streamlog_sub_stats s = {};
    streamlog_sub_stats_v2 v2 = {};
    v2.size = sizeof v2;
    streamlog_ack_mode mode = static_cast<streamlog_ack_mode>(STREAMLOG_ACK_AUTO);
    (void)s;
    (void)mode;
    return streamlog_strerror(static_cast<streamlog_result>(STREAMLOG_EINVAL))[0] == '\0' || v2.size == 0;
}
