/* Shared by the power-loss workload, checker and driver: the store's layout,
 * the payload format and the workload's event log.
 *
 * Event log lines (one write() each, so a killed process leaves whole lines):
 *   A <chan> <inc> <seq> <crc>   an append returned 0 (crc32 of the payload, hex)
 *   K <seq>                      streamlog_ack() of the durable on PL_CHAN_SUB returned 0
 *   S                            streamlog_sync() returned 0
 *   d <chan>                     streamlog_channel_delete() is about to be called
 *   D <chan>                     ... and returned 0
 *   P                            streamlog_open() returned 0 (it may have created the store)
 *   O <chan>                     the channel was in the (cleanly closed) store the run started from
 *   C <chan> <inc>               the channel was created (incarnation inc: 1 in a run that
 *                                started from an empty directory, then +1 per delete)
 *   F                            (added by the driver from the trace) an fdatasync of
 *                                data.mdb completed, whoever called it
 *
 * Payload: "PL <chan> <inc> <seq>\n", filler bytes, then the crc32 of all
 * the bytes before it (4 bytes, little endian): every stored message can be
 * checked on its own, whether or not its append was seen to return. */
#ifndef PLCOMMON_H
#define PLCOMMON_H

#include <stddef.h>
#include <stdint.h>

#define PL_CHAN_SUB "pl.sub"       /* no limit; the durable subscription reads it */
#define PL_CHAN_CAPPED "pl.capped" /* MAX_MSGS = PL_CAPPED_MAX: retention prunes it */
#define PL_CHAN_TEMP "pl.temp"     /* deleted and created again */
#define PL_CAPPED_MAX 20
#define PL_DURABLE "d1"
#define PL_NCHANS 3

static const char *const pl_chans[PL_NCHANS] = {PL_CHAN_SUB, PL_CHAN_CAPPED, PL_CHAN_TEMP};

#define PL_EXIT_FAIL 1     /* the checker found the guarantees broken */
#define PL_EXIT_HARNESS 70 /* the harness itself failed (bad arguments, I/O) */

/* splitmix64: a small seeded generator, so a seed replays a run */
static inline uint64_t pl_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint64_t pl_below(uint64_t *state, uint64_t n)
{
    return n ? pl_rand(state) % n : 0;
}

#endif
