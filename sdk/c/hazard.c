/* Hazard slots. See hazard.h for the scheme and why it was chosen.
 *
 * Invariants:
 *  - A slot is NULL (free) or holds the pointer its reader validated; only
 *    that reader clears it.
 *  - An object is freed only after it stopped being current and a scan of
 *    every slot (after the swap, in the single order of seq_cst operations)
 *    found no slot holding it.
 */
#include "hazard.h"

#include <sched.h>

#include "prims.h"

void hazard_init(struct hazard_domain *d, void (*free_fn)(void *, void *), void *user)
{
    atomic_init(&d->current, NULL);
    for (unsigned i = 0; i < HAZARD_SLOTS; i++)
        atomic_init(&d->slots[i].ptr, NULL);
    d->nretired = 0;
    d->free_fn = free_fn;
    d->free_user = user;
}

void *hazard_acquire_slow(struct hazard_domain *d, unsigned *slot)
{
    unsigned start = sdk_thread_index() % HAZARD_SLOTS;

    for (;;) {
        void *p = atomic_load_explicit(&d->current, memory_order_acquire);
        unsigned i = start;

        if (!p) {
            *slot = HAZARD_NO_SLOT;
            return NULL;
        }
        for (;;) {
            void *expected = NULL;
            if (atomic_load_explicit(&d->slots[i].ptr, memory_order_relaxed) == NULL &&
                atomic_compare_exchange_strong(&d->slots[i].ptr, &expected, p))
                break;
            i = (i + 1) % HAZARD_SLOTS;
            if (i == start)
                sched_yield(); /* more readers than slots right now */
        }
        /* Validate: if p is still current, the writer's scan (which follows
         * its swap) will see our slot. */
        if (atomic_load(&d->current) == p) {
            *slot = i;
            return p;
        }
        atomic_store_explicit(&d->slots[i].ptr, NULL, memory_order_release);
    }
}

static int held(struct hazard_domain *d, void *obj)
{
    for (unsigned i = 0; i < HAZARD_SLOTS; i++)
        if (atomic_load(&d->slots[i].ptr) == obj)
            return 1;
    return 0;
}

size_t hazard_reclaim(struct hazard_domain *d)
{
    size_t keep = 0;

    for (size_t i = 0; i < d->nretired; i++) {
        if (held(d, d->retired[i]))
            d->retired[keep++] = d->retired[i];
        else
            d->free_fn(d->retired[i], d->free_user);
    }
    d->nretired = keep;
    return keep;
}

void hazard_publish(struct hazard_domain *d, void *obj)
{
    void *old;

    /* Bounded retired list: wait (briefly: readers hold slots for one
     * evaluation) until there is room. */
    while (d->nretired == HAZARD_MAX_RETIRED && hazard_reclaim(d) == HAZARD_MAX_RETIRED)
        sched_yield();
    old = atomic_exchange(&d->current, obj);
    if (old)
        d->retired[d->nretired++] = old;
    hazard_reclaim(d);
}

void hazard_destroy(struct hazard_domain *d)
{
    void *cur = atomic_exchange(&d->current, NULL);

    for (size_t i = 0; i < d->nretired; i++)
        d->free_fn(d->retired[i], d->free_user);
    d->nretired = 0;
    if (cur)
        d->free_fn(cur, d->free_user);
}
