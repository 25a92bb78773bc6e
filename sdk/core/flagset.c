/* Key -> flag lookup for a snapshot of loaded flags, in caller memory.
 *
 * An open-addressing table of flag indexes (slot value 0 = empty, i + 1 =
 * flags[i]) probed linearly from the key's hash (roost_key_hash), which
 * roost_flag_load already computed. The slot is chosen with a multiply-shift instead of a
 * modulo so any table size works without a division (slow on Cortex-M0).
 * The table is built once per snapshot and only read afterwards, so lookups
 * need no locks. With nslots >= 2 * count probes stay short; nslots > count
 * guarantees an empty slot, which ends every unsuccessful probe.
 */
#include <string.h>

#include "engine_internal.h"

static uint32_t home(uint32_t hash, uint32_t nslots)
{
    return (uint32_t)(((uint64_t)hash * nslots) >> 32);
}

roost_status roost_flagset_init(roost_flagset *set, const roost_flag *flags, size_t count,
                                uint32_t *slots, size_t nslots, roost_error *err)
{
    if (!set || (!flags && count > 0) || !slots)
        return roost_error_set(err, ROOST_EINVAL, "roost_flagset_init: NULL argument");
    if (count > UINT32_MAX / 2 || nslots <= count || nslots > UINT32_MAX)
        return roost_error_set(err, ROOST_EINVAL,
                               "roost_flagset_init: %zu slots for %zu flags (need more slots "
                               "than flags; use ROOST_FLAGSET_SLOTS)",
                               nslots, count);
    memset(slots, 0, nslots * sizeof *slots);
    for (uint32_t i = 0; i < count; i++) {
        const roost_flag *f = &flags[i];
        uint32_t s = home(f->key_hash, (uint32_t)nslots);
        while (slots[s] != 0) {
            const roost_flag *g = &flags[slots[s] - 1];
            if (g->key_hash == f->key_hash && g->key_len == f->key_len &&
                memcmp(g->key, f->key, f->key_len) == 0)
                return roost_error_set(err, ROOST_ECONFLICT,
                                       "two flags have the key '%s' (entries %u and %u)", f->key,
                                       (unsigned)(slots[s] - 1), (unsigned)i);
            if (++s == nslots)
                s = 0;
        }
        slots[s] = i + 1;
    }
    set->flags = flags;
    set->slots = slots;
    set->count = (uint32_t)count;
    set->nslots = (uint32_t)nslots;
    return ROOST_OK;
}

/* The probe loop. Inlined twice: for keys of at most 32 bytes, compared
 * with word loads and no call (so the common lookup saves no registers),
 * and for longer ones, which memcmp. */
static RI_HOT_INLINE const roost_flag *probe(const roost_flagset *set, const char *key,
                                             size_t key_len, bool short_key)
{
    uint32_t h = roost_key_hash(key, key_len);
    uint32_t s = home(h, set->nslots);
    for (;;) {
        uint32_t v = set->slots[s];
        if (v == 0)
            return NULL;
        const roost_flag *f = &set->flags[v - 1];
        if (f->key_hash == h && f->key_len == key_len &&
            (short_key ? roost_bytes_eq(f->key, key, key_len) : memcmp(f->key, key, key_len) == 0))
            return f;
        if (++s == set->nslots)
            s = 0;
    }
}

#if defined(__GNUC__)
__attribute__((noinline))
#endif
static const roost_flag *find_long(const roost_flagset *set, const char *key, size_t key_len)
{
    return probe(set, key, key_len, false);
}

const roost_flag *roost_flagset_find(const roost_flagset *set, const char *key, size_t key_len)
{
    if (!set || !key || set->nslots == 0)
        return NULL;
    if (key_len > 32)
        return find_long(set, key, key_len);
    return probe(set, key, key_len, true);
}
