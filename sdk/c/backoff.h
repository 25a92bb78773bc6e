/* Reconnect backoff: the waits between attempts to reach roostd, shared by
 * the Sync stream and the Report retries.
 *
 * The n-th consecutive failure waits min(cap, initial * 2^(n-1)) scaled by
 * a uniformly random factor in [0.5, 1.5] (50 % jitter, so that a fleet of
 * clients that lost the same server does not come back in lockstep), never
 * more than cap. A connection that stayed up for BACKOFF_RESET_MS resets the
 * sequence, so one blip after a long healthy period retries after about
 * `initial`, not after whatever the last outage had grown to.
 */
#ifndef ROOST_SDK_BACKOFF_H
#define ROOST_SDK_BACKOFF_H

#include <stdint.h>

#define BACKOFF_RESET_MS 60000

struct backoff {
    uint32_t initial_ms;
    uint32_t max_ms;
    uint32_t base_ms;   /* next wait before jitter; 0 = start over */
    uint64_t rng;       /* xorshift state, never 0 */
};

void backoff_init(struct backoff *b, uint32_t initial_ms, uint32_t max_ms, uint64_t seed);
/* The wait before the next attempt; advances the sequence. */
uint32_t backoff_next(struct backoff *b);
/* A connection was up for `up_ms` before it was lost: resets the sequence
 * when that is at least BACKOFF_RESET_MS. */
void backoff_connected_for(struct backoff *b, int64_t up_ms);
/* Starts over (the next wait is about initial_ms). */
void backoff_reset(struct backoff *b);

#endif
