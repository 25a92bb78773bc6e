/* Safe reclamation of the configuration snapshot: hazard slots.
 *
 * One writer (the client's background thread) publishes immutable objects;
 * any number of reader threads use the current one for the length of one
 * evaluation. A reader claims a free slot by compare-and-swap from NULL to
 * the pointer it read, then checks the pointer is still current (else it
 * lets go and tries again). The writer swaps the pointer, keeps the old
 * object on a retired list, and frees a retired object once no slot holds
 * it. Both sides use sequentially consistent operations on the slot and on
 * the current pointer, which is what makes "the reader saw the new pointer,
 * or the writer sees the reader's slot" hold (Michael, 2004).
 *
 * Why this scheme and not the alternatives:
 *  - A shared reference count costs an atomic add on one cache line that
 *    every evaluating thread writes: it bounces between cores and
 *    evaluation slows down as threads are added.
 *  - Epoch or RCU schemes need each reader thread registered (and
 *    unregistered when it exits), or a grace-period thread; a library that
 *    is called from threads it never sees start, including through ctypes,
 *    cannot guarantee either.
 *  - Here a reader costs one compare-and-swap on a slot line it usually has
 *    to itself (threads start probing at their own index, slots are a cache
 *    line apart), one load and one release store: no registration, nothing
 *    to clean up when a thread exits, bounded memory (HAZARD_SLOTS slots;
 *    with more concurrent readers than slots a reader probes on until one is
 *    free).
 *
 * Readers hold a slot only for one evaluation (no callback runs while it is
 * held), so retired objects are freed within microseconds of the next
 * reclaim. The retired list is bounded: a writer whose list is full waits
 * for readers to leave before publishing more.
 */
#ifndef ROOST_SDK_HAZARD_H
#define ROOST_SDK_HAZARD_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>

#include "prims.h"

#define HAZARD_SLOTS 64
#define HAZARD_MAX_RETIRED 32
#define HAZARD_NO_SLOT ((unsigned)-1)

struct hazard_slot {
    alignas(64) void *_Atomic ptr;
};

struct hazard_domain {
    void *_Atomic current;
    struct hazard_slot slots[HAZARD_SLOTS];
    /* Writer only. */
    void *retired[HAZARD_MAX_RETIRED];
    size_t nretired;
    void (*free_fn)(void *obj, void *user);
    void *free_user;
};

void hazard_init(struct hazard_domain *d, void (*free_fn)(void *, void *), void *user);

/* Reader, when the fast path below did not get a slot: probes the slots
 * from the thread's own, yields when all are taken, retries while the
 * current object keeps changing. */
void *hazard_acquire_slow(struct hazard_domain *d, unsigned *slot);

/* Reader: the current object (NULL when none), protected until
 * hazard_release(d, *slot).
 *
 * Inline because it is on every evaluation and routing call: the call and
 * the registers the out-of-line loop saves were about 1 ns of the 6 ns the
 * client adds to an evaluation. The fast path is the slow path's first
 * iteration (the same operations in the same order, so the same argument
 * holds): the thread's own slot is free and the object did not change. */
static inline void *hazard_acquire(struct hazard_domain *d, unsigned *slot)
{
    unsigned i = sdk_thread_index() % HAZARD_SLOTS;
    void *p = atomic_load_explicit(&d->current, memory_order_acquire);
    void *expected = NULL;

    /* The relaxed read first: a failed compare-and-swap would still take
     * the line away from the thread that holds the slot. */
    if (p && atomic_load_explicit(&d->slots[i].ptr, memory_order_relaxed) == NULL &&
        atomic_compare_exchange_strong(&d->slots[i].ptr, &expected, p)) {
        if (atomic_load(&d->current) == p) {
            *slot = i;
            return p;
        }
        atomic_store_explicit(&d->slots[i].ptr, NULL, memory_order_release);
    }
    return hazard_acquire_slow(d, slot);
}

static inline void hazard_release(struct hazard_domain *d, unsigned slot)
{
    if (slot != HAZARD_NO_SLOT)
        atomic_store_explicit(&d->slots[slot].ptr, NULL, memory_order_release);
}

/* Writer: the current object without protection (the writer never frees
 * the current one, so it may read it freely). */
static inline void *hazard_current(struct hazard_domain *d)
{
    return atomic_load_explicit(&d->current, memory_order_relaxed);
}

/* Writer: makes obj current and retires the previous one. */
void hazard_publish(struct hazard_domain *d, void *obj);

/* Writer: frees retired objects no reader holds. Returns how many remain. */
size_t hazard_reclaim(struct hazard_domain *d);

/* Writer, when no reader can be running (close): frees everything,
 * the current object included. */
void hazard_destroy(struct hazard_domain *d);

#endif
