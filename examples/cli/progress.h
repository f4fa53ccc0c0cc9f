/* A progress line for long operations, drawn on stderr only when stderr is a
 * terminal, so pipes and logs stay clean. */
#ifndef CLI_PROGRESS_H
#define CLI_PROGRESS_H

#include <stdint.h>

struct progress {
    int enabled;
    const char *what;      /* "exported", "imported" */
    uint64_t total;        /* work units (messages, or bytes of input); 0 when unknown: no bar, no ETA */
    uint64_t done;         /* work units done */
    uint64_t msgs;         /* messages done, for the count and the rate */
    int64_t start_ns, last_draw_ns;
};

void progress_start(struct progress *p, const char *what, uint64_t total);
/* Add `units` of work and `msgs` messages done; redraws at most every 100 ms. */
void progress_add(struct progress *p, uint64_t units, uint64_t msgs);
/* Draw the final figures and end the line. */
void progress_end(struct progress *p);

#endif
