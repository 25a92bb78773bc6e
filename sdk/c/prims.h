/* Small concurrency and time primitives shared by the SDK's files.
 *
 * Thread index: every thread that calls into the SDK gets a small number,
 * once, from a process-wide counter. It spreads threads over hazard slots
 * (hazard.c) and outcome shards (aggregator.c) without registration and
 * without anything to clean up when a thread exits: the number is only a
 * hint for where to look first, never an ownership claim.
 *
 * Spin lock: outcome shards are locked for a few dozen nanoseconds by the
 * thread that maps to them, and by the background thread once per flush
 * interval. An uncontended pthread mutex costs two atomic read-modify-writes;
 * this costs one, and yields the CPU after a short spin so a preempted
 * holder is not starved.
 */
#ifndef ROOST_SDK_PRIMS_H
#define ROOST_SDK_PRIMS_H

#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

unsigned sdk_thread_index_slow(void);

extern _Thread_local unsigned sdk_tl_thread_index; /* 0 = not assigned yet */

/* The calling thread's index (>= 1). */
static inline unsigned sdk_thread_index(void)
{
    unsigned i = sdk_tl_thread_index;
    return i ? i : sdk_thread_index_slow();
}

typedef struct sdk_spin {
    _Atomic int locked;
} sdk_spin;

static inline void sdk_spin_lock(sdk_spin *l)
{
    int spins = 0;

    while (atomic_exchange_explicit(&l->locked, 1, memory_order_acquire)) {
        while (atomic_load_explicit(&l->locked, memory_order_relaxed)) {
            if (++spins > 64) {
                sched_yield();
                spins = 0;
            }
        }
    }
}

static inline void sdk_spin_unlock(sdk_spin *l)
{
    atomic_store_explicit(&l->locked, 0, memory_order_release);
}

/* Zeroed memory aligned for types with alignas(64) members (hazard slots,
 * shards on their own cache lines): calloc only promises 16 bytes. Free
 * with free(). */
static inline void *sdk_zalloc_aligned(size_t size)
{
    size_t rounded = (size + 63) & ~(size_t)63;
    void *p = aligned_alloc(64, rounded);

    if (p)
        memset(p, 0, rounded);
    return p;
}

/* Milliseconds on the monotonic clock (timers) and the wall clock (minutes
 * outcomes are attributed to). */
static inline int64_t sdk_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Nanoseconds on the monotonic clock (request latencies). */
static inline int64_t sdk_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int64_t sdk_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
