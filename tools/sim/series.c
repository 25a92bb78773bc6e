/* Per-second aggregates and roostd's window reads; see series.h. */
#include "tools/sim/series.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static roost_status check_times(int64_t t0_ms, int64_t flush_ms, roost_error *err)
{
    if (t0_ms < 0 || t0_ms % 1000)
        return roost_error_set(err, ROOST_EINVAL,
                               "simulation start %lld ms is not a whole second", (long long)t0_ms);
    if (flush_ms < 1000 || flush_ms % 1000)
        return roost_error_set(err, ROOST_EINVAL,
                               "flush interval %lld ms: expected a whole number of seconds >= 1s",
                               (long long)flush_ms);
    return ROOST_OK;
}

roost_status sim_series_init(struct sim_series *s, int64_t t0_ms, int64_t flush_ms,
                             roost_error *err)
{
    memset(s, 0, sizeof *s);
    return sim_series_reset(s, t0_ms, flush_ms, err);
}

roost_status sim_series_reset(struct sim_series *s, int64_t t0_ms, int64_t flush_ms,
                              roost_error *err)
{
    roost_status rc = check_times(t0_ms, flush_ms, err);

    if (rc != ROOST_OK)
        return rc;
    s->t0_s = t0_ms / 1000;
    s->flush_s = flush_ms / 1000;
    s->n = 0;
    s->key_lo = 1;
    s->key_hi = 0;
    for (int a = 0; a < 2; a++) {
        s->arm[a].lat_len = 0;
        /* Slot 0 of every prefix array is the empty prefix; it exists as
         * soon as anything was allocated. */
        if (s->cap) {
            s->arm[a].cum_count[0] = s->arm[a].cum_successes[0] = 0;
            s->arm[a].cum_sum[0] = s->arm[a].cum_sum_squares[0] = 0;
            s->arm[a].lat_off[0] = 0;
        }
    }
    return ROOST_OK;
}

void sim_series_free(struct sim_series *s)
{
    if (!s)
        return;
    for (int a = 0; a < 2; a++) {
        free(s->arm[a].cum_count);
        free(s->arm[a].cum_successes);
        free(s->arm[a].cum_sum);
        free(s->arm[a].cum_sum_squares);
        free(s->arm[a].lat_off);
        free(s->arm[a].lat);
    }
    free(s->dense);
    memset(s, 0, sizeof *s);
}

/* realloc that leaves *p untouched on failure. */
static bool grow(void **p, size_t n, size_t size)
{
    void *q = realloc(*p, n * size);
    if (!q)
        return false;
    *p = q;
    return true;
}

static roost_status reserve_seconds(struct sim_series *s, int64_t need, roost_error *err)
{
    int64_t cap = s->cap ? s->cap : 1024;
    bool first = s->cap == 0;

    if (need <= s->cap)
        return ROOST_OK;
    while (cap < need)
        cap *= 2;
    if (cap > SIM_MAX_SECONDS)
        cap = SIM_MAX_SECONDS;
    for (int a = 0; a < 2; a++) {
        struct sim_arm_series *as = &s->arm[a];
        size_t n = (size_t)cap + 1;
        /* Each array grows on its own; a failure part-way leaves some
         * bigger than s->cap says, which is harmless. */
        if (!grow((void **)&as->cum_count, n, sizeof *as->cum_count) ||
            !grow((void **)&as->cum_successes, n, sizeof *as->cum_successes) ||
            !grow((void **)&as->cum_sum, n, sizeof *as->cum_sum) ||
            !grow((void **)&as->cum_sum_squares, n, sizeof *as->cum_sum_squares) ||
            !grow((void **)&as->lat_off, n, sizeof *as->lat_off))
            return roost_error_set(err, ROOST_ENOMEM, "out of memory for %lld simulated seconds",
                                   (long long)cap);
        if (first) {
            as->cum_count[0] = as->cum_successes[0] = 0;
            as->cum_sum[0] = as->cum_sum_squares[0] = 0;
            as->lat_off[0] = 0;
        }
    }
    s->cap = cap;
    return ROOST_OK;
}

static roost_status check_second(const struct sim_second *x, roost_error *err)
{
    if (x->successes > x->count)
        return roost_error_set(err, ROOST_EINVAL, "sim_series_append: %llu successes of %llu",
                               (unsigned long long)x->successes, (unsigned long long)x->count);
    if (!isfinite(x->sum) || !isfinite(x->sum_squares))
        return roost_error_set(err, ROOST_EINVAL, "sim_series_append: latency sums not finite");
    if (x->nbuckets && !x->buckets)
        return roost_error_set(err, ROOST_EINVAL, "sim_series_append: buckets missing");
    for (size_t i = 1; i < x->nbuckets; i++)
        if (x->buckets[i].key <= x->buckets[i - 1].key)
            return roost_error_set(err, ROOST_EINVAL, "sim_series_append: buckets not sorted");
    return ROOST_OK;
}

roost_status sim_series_append(struct sim_series *s, const struct sim_second sec[2],
                               roost_error *err)
{
    roost_status rc;

    if (s->n >= SIM_MAX_SECONDS)
        return roost_error_set(err, ROOST_ELIMIT, "a simulated run is limited to %d seconds",
                               SIM_MAX_SECONDS);
    for (int a = 0; a < 2; a++)
        if ((rc = check_second(&sec[a], err)) != ROOST_OK)
            return rc;
    if ((rc = reserve_seconds(s, s->n + 1, err)) != ROOST_OK)
        return rc;
    for (int a = 0; a < 2; a++) {
        struct sim_arm_series *as = &s->arm[a];
        size_t need = as->lat_len + sec[a].nbuckets;
        if (need > as->lat_cap) {
            size_t cap = as->lat_cap ? as->lat_cap : 4096;
            while (cap < need)
                cap *= 2;
            if (!grow((void **)&as->lat, cap, sizeof *as->lat))
                return roost_error_set(err, ROOST_ENOMEM, "out of memory for latency buckets");
            as->lat_cap = cap;
        }
    }
    {
        /* The key range grows to cover this second's buckets (sorted, so
         * the first and last of each arm are its extremes). */
        int32_t lo = s->key_lo, hi = s->key_hi;
        for (int a = 0; a < 2; a++) {
            if (!sec[a].nbuckets)
                continue;
            if (lo > hi) {
                lo = sec[a].buckets[0].key;
                hi = sec[a].buckets[sec[a].nbuckets - 1].key;
            }
            if (sec[a].buckets[0].key < lo)
                lo = sec[a].buckets[0].key;
            if (sec[a].buckets[sec[a].nbuckets - 1].key > hi)
                hi = sec[a].buckets[sec[a].nbuckets - 1].key;
        }
        if (lo <= hi && (size_t)(hi - lo) + 1 > s->dense_cap) {
            size_t cap = (size_t)(hi - lo) + 1 + 256;
            if (!grow((void **)&s->dense, cap, sizeof *s->dense))
                return roost_error_set(err, ROOST_ENOMEM, "out of memory for window sketches");
            s->dense_cap = cap;
        }
        s->key_lo = lo;
        s->key_hi = hi;
    }
    /* Nothing can fail from here on: both arms are appended or neither. */
    for (int a = 0; a < 2; a++) {
        struct sim_arm_series *as = &s->arm[a];
        int64_t u = s->n;
        as->cum_count[u + 1] = as->cum_count[u] + sec[a].count;
        as->cum_successes[u + 1] = as->cum_successes[u] + sec[a].successes;
        as->cum_sum[u + 1] = as->cum_sum[u] + sec[a].sum;
        as->cum_sum_squares[u + 1] = as->cum_sum_squares[u] + sec[a].sum_squares;
        if (sec[a].nbuckets)
            memcpy(as->lat + as->lat_len, sec[a].buckets, sec[a].nbuckets * sizeof *as->lat);
        as->lat_len += sec[a].nbuckets;
        as->lat_off[u + 1] = as->lat_len;
    }
    s->n++;
    return ROOST_OK;
}

/* Unix second A's outcomes go out with the flush at the first multiple of
 * F after it, so they are filed under filed(A) = ceil((A + 1) / F) F - 1,
 * which never decreases with A. The first A filed at or after v is
 * (ceil((v + 1) / F) - 1) F. */
int64_t sim_series_first_second_filed_at(const struct sim_series *s, int64_t v)
{
    int64_t f = s->flush_s, k, u;

    if (v < 0)
        return 0;
    k = (v + f) / f; /* ceil((v + 1) / F) */
    u = (k - 1) * f - s->t0_s;
    return u < 0 ? 0 : u;
}

void sim_series_window(const struct sim_series *s, enum rollout_arm arm, int64_t from_ms,
                       int64_t to_ms, int64_t now_ms, roost_sketch *sketch,
                       struct rollout_window *out)
{
    const struct sim_arm_series *as = &s->arm[arm == ROLLOUT_ARM_CANARY];
    int64_t from_s = from_ms / 1000, to_s = to_ms / 1000, now_s = now_ms / 1000;
    int64_t lo, hi;

    memset(out, 0, sizeof *out);
    if (sketch) {
        roost_sketch_clear(sketch);
        out->sketch = sketch;
    }
    /* A row filed under v is visible from (v + 1) s on: v < now_s. */
    if (to_s > now_s)
        to_s = now_s;
    if (to_s <= from_s || s->n == 0)
        return;
    lo = sim_series_first_second_filed_at(s, from_s);
    hi = sim_series_first_second_filed_at(s, to_s);
    if (hi > s->n)
        hi = s->n;
    if (lo >= hi)
        return;
    out->count = as->cum_count[hi] - as->cum_count[lo];
    out->successes = as->cum_successes[hi] - as->cum_successes[lo];
    out->sum = as->cum_sum[hi] - as->cum_sum[lo];
    /* Differences of prefix sums can come out a hair below zero where the
     * window's true sum of squares is tiny; the library wants >= 0. */
    out->sum_squares = fmax(0.0, as->cum_sum_squares[hi] - as->cum_sum_squares[lo]);
    if (out->sum < 0)
        out->sum = 0;
    if (!sketch || s->key_lo > s->key_hi)
        return;
    /* Sum per key, then add in key order: each add lands at the end of the
     * sketch's sorted buckets (no shifting), once per distinct key. */
    {
        size_t range = (size_t)(s->key_hi - s->key_lo) + 1;
        memset(s->dense, 0, range * sizeof *s->dense);
        for (size_t i = as->lat_off[lo]; i < as->lat_off[hi]; i++)
            s->dense[as->lat[i].key - s->key_lo] += as->lat[i].count;
        for (size_t k = 0; k < range; k++) {
            if (!s->dense[k])
                continue;
            /* Cannot fail: finite representative values, counts far from
             * 2^64. */
            (void)roost_sketch_add_n(sketch, roost_sketch_key_value(s->key_lo + (int32_t)k),
                                     s->dense[k]);
        }
    }
}
