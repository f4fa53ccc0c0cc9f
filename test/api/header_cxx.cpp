// The public header must compile as C++ (built with -pedantic-errors -Werror) and link from C++.
#include <streamlog.h>

int main()
{
    streamlog_sub_stats s = {};
    (void)s;
    return streamlog_strerror(STREAMLOG_EINVAL)[0] == '\0';
}
