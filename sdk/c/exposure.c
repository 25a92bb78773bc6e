/* The exposure dedupe set. See exposure.h for the design.
 *
 * Memory ordering: a slot's only content is its key, and nothing else is
 * published through it, so slot loads and compare-and-swaps are relaxed.
 * The tables pointer is published with release (after they were zeroed)
 * and read with acquire. The generation is read relaxed by adders: an adder
 * that still uses the previous interval's table for a moment after a
 * rotation merely deduplicates against the interval that just ended.
 */
#include "exposure.h"

#include <stdlib.h>
#include <string.h>

#define K_GOLDEN 0x9E3779B97F4A7C15ull

/* MurmurHash3's 64-bit finalizer: every input bit affects every output bit. */
static inline uint64_t fmix64(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ull;
    k ^= k >> 33;
    return k;
}

uint64_t sdk_hash64(uint64_t seed, const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t h = seed ^ ((uint64_t)len * K_GOLDEN), w;

    /* A word at a time: a 36-byte unit id costs five rounds. */
    while (len >= 8) {
        memcpy(&w, p, 8);
        h = (h ^ fmix64(w)) * K_GOLDEN;
        h ^= h >> 29;
        p += 8;
        len -= 8;
    }
    if (len) {
        w = 0;
        memcpy(&w, p, len);
        h = (h ^ fmix64(w ^ ((uint64_t)len << 56))) * K_GOLDEN;
    }
    return fmix64(h);
}

uint64_t exposure_key(uint64_t salt, const char *variant, size_t variant_len, const char *unit,
                      size_t unit_len)
{
    /* Chained, so ("ab", "c") and ("a", "bc") differ: the length of each
     * part seeds its hash. */
    uint64_t k = sdk_hash64(sdk_hash64(salt, variant, variant_len), unit, unit_len);

    return k ? k : 1; /* 0 marks a free slot */
}

void exposure_set_init(struct exposure_set *x, uint32_t units)
{
    uint32_t cap = EXPOSURE_UNITS_MIN;

    if (units > EXPOSURE_UNITS_MAX)
        units = EXPOSURE_UNITS_MAX;
    while (cap < units)
        cap <<= 1;
    atomic_init(&x->tables, NULL);
    x->capacity = cap;
    atomic_init(&x->gen, 0);
    atomic_init(&x->logged, 0);
    atomic_init(&x->dropped, 0);
}

roost_status exposure_set_alloc(struct exposure_set *x)
{
    _Atomic(uint64_t) *t;

    if (atomic_load_explicit(&x->tables, memory_order_relaxed))
        return ROOST_OK;
    /* calloc's zeroes are free slots; nothing reads them before the
     * release store below. */
    if (!(t = calloc(2 * (size_t)x->capacity, sizeof *t)))
        return ROOST_ENOMEM;
    atomic_store_explicit(&x->tables, t, memory_order_release);
    return ROOST_OK;
}

void exposure_set_free(struct exposure_set *x)
{
    free((void *)atomic_load_explicit(&x->tables, memory_order_relaxed));
    atomic_store_explicit(&x->tables, NULL, memory_order_relaxed);
}

size_t exposure_set_memory(const struct exposure_set *x)
{
    return atomic_load_explicit(&((struct exposure_set *)x)->tables, memory_order_relaxed)
               ? 2 * (size_t)x->capacity * sizeof(uint64_t)
               : 0;
}

enum exposure_verdict exposure_set_add(struct exposure_set *x, uint64_t key)
{
    _Atomic(uint64_t) *t = atomic_load_explicit(&x->tables, memory_order_acquire);
    uint32_t mask = x->capacity - 1, i;

    if (!t)
        return EXPOSURE_FULL;
    t += (atomic_load_explicit(&x->gen, memory_order_relaxed) & 1u) * (size_t)x->capacity;
    i = (uint32_t)(key ^ (key >> 32)) & mask;
    for (int p = 0; p < EXPOSURE_PROBES; p++, i = (i + 1) & mask) {
        uint64_t v = atomic_load_explicit(&t[i], memory_order_relaxed);
        if (v == key)
            return EXPOSURE_SEEN;
        if (v == 0) {
            if (atomic_compare_exchange_strong_explicit(&t[i], &v, key, memory_order_relaxed,
                                                        memory_order_relaxed))
                return EXPOSURE_NEW;
            if (v == key) /* another thread logged the same unit just now */
                return EXPOSURE_SEEN;
        }
    }
    return EXPOSURE_FULL;
}

void exposure_set_rotate(struct exposure_set *x)
{
    _Atomic(uint64_t) *t = atomic_load_explicit(&x->tables, memory_order_relaxed);
    uint32_t next = atomic_load_explicit(&x->gen, memory_order_relaxed) + 1;

    if (t) {
        t += (next & 1u) * (size_t)x->capacity;
        for (uint32_t i = 0; i < x->capacity; i++)
            atomic_store_explicit(&t[i], 0, memory_order_relaxed);
    }
    atomic_store_explicit(&x->gen, next, memory_order_release);
}
