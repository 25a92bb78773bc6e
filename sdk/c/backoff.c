/* Reconnect backoff. See backoff.h. */
#include "backoff.h"

void backoff_init(struct backoff *b, uint32_t initial_ms, uint32_t max_ms, uint64_t seed)
{
    b->initial_ms = initial_ms ? initial_ms : 1;
    b->max_ms = max_ms < b->initial_ms ? b->initial_ms : max_ms;
    b->base_ms = 0;
    /* splitmix64 of the seed: nearby seeds (clients started together)
     * must not give nearby jitter. */
    seed += 0x9E3779B97F4A7C15ull;
    seed = (seed ^ (seed >> 30)) * 0xBF58476D1CE4E5B9ull;
    seed = (seed ^ (seed >> 27)) * 0x94D049BB133111EBull;
    seed ^= seed >> 31;
    b->rng = seed ? seed : 1;
}

void backoff_reset(struct backoff *b)
{
    b->base_ms = 0;
}

static double uniform(struct backoff *b)
{
    uint64_t x = b->rng;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    b->rng = x;
    return (double)(x >> 11) / 9007199254740992.0; /* [0, 1) */
}

uint32_t backoff_next(struct backoff *b)
{
    double wait;

    if (b->base_ms == 0)
        b->base_ms = b->initial_ms;
    wait = b->base_ms * (0.5 + uniform(b));
    if (wait > b->max_ms)
        wait = b->max_ms;
    b->base_ms = b->base_ms > b->max_ms / 2 ? b->max_ms : b->base_ms * 2;
    return (uint32_t)wait;
}

void backoff_connected_for(struct backoff *b, int64_t up_ms)
{
    if (up_ms >= BACKOFF_RESET_MS)
        b->base_ms = 0;
}
