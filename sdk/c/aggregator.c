/* Outcome aggregation. See aggregator.h for the three stages and the
 * memory rules.
 *
 * Series registry: an array of bucket heads (fixed count, chained) whose
 * chains are only ever prepended to, under a mutex, with release stores;
 * readers walk them with acquire loads and no lock. Series are never
 * removed before agg_free, so a reader can never see freed memory. Series
 * ids are dense (0, 1, 2...) and index two-level directories: one of series
 * pointers, and one per shard of cell pointers. Directory chunks hold
 * DIR_CHUNK entries and are allocated on first use, so an idle client with
 * a large max_series costs a few pointers, not max_series of them.
 *
 * Shard cells are touched by the thread that maps to the shard and by the
 * background thread's cut, both under the shard's spin lock. The cut walks
 * the shard's allocated chunks, merges every cell with outcomes into the
 * open table and clears it; holding the lock through the walk delays the
 * shard's recorders for the length of the merge (microseconds per series,
 * once per interval).
 */
#include "aggregator.h"

#include <math.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "prims.h"
#include "roost/murmur3.h"
#include "wire.h"

#define DIR_CHUNK 256u

struct cell {
    uint64_t count, successes;
    double sum, sum_squares;
    roost_sketch sketch;
    uint32_t idle; /* cuts since the last outcome */
};

struct shard {
    alignas(64) sdk_spin lock;
    struct cell ***dir; /* [nchunks] -> [DIR_CHUNK] cells */
    _Atomic uint64_t observations;
};

struct agg_entry {
    struct agg_entry *next; /* open-table chain */
    uint32_t id;
    int64_t minute;
    int64_t end_ms; /* latest end of the intervals merged in (0 = unknown) */
    uint64_t count, successes;
    double sum, sum_squares;
    roost_sketch sketch;
};

struct agg {
    uint64_t id; /* process-unique: keys the per-thread name cache */
    size_t limit;
    _Atomic size_t used;
    uint32_t max_series;
    uint32_t nchunks;

    /* Registry. */
    pthread_mutex_t reg_mu;
    struct roost_series *_Atomic *buckets;
    uint32_t bucket_mask;
    struct roost_series *_Atomic *_Atomic *series_dir; /* [nchunks] -> [DIR_CHUNK] */
    uint32_t nseries;                                  /* under reg_mu */

    struct shard shards[AGG_SHARDS];

    /* Open table: background thread only. */
    struct agg_entry **open;
    size_t open_nbuckets;
    size_t open_count;
    uint64_t open_outcomes;

    /* Dropped counts (outcomes), and how many of them batches carried. */
    _Atomic uint64_t dropped_memory;
    _Atomic uint64_t dropped_series;
    _Atomic uint64_t dropped_rejected;
    uint64_t reported_memory, reported_series, reported_rejected;
    _Atomic uint64_t acked;
    _Atomic uint64_t lost;
};

/* ---- memory ------------------------------------------------------------- */

static bool mem_take(struct agg *a, size_t n)
{
    size_t used = atomic_fetch_add_explicit(&a->used, n, memory_order_relaxed);

    if (used + n > a->limit) {
        atomic_fetch_sub_explicit(&a->used, n, memory_order_relaxed);
        return false;
    }
    return true;
}

static void mem_give(struct agg *a, size_t n)
{
    atomic_fetch_sub_explicit(&a->used, n, memory_order_relaxed);
}

void agg_charge(struct agg *a, size_t bytes)
{
    atomic_fetch_add_explicit(&a->used, bytes, memory_order_relaxed);
}

void agg_release(struct agg *a, size_t bytes)
{
    mem_give(a, bytes);
}

/* A sketch with AGG_SKETCH_INITIAL buckets, charged. */
static bool sketch_new(struct agg *a, roost_sketch *s)
{
    size_t bytes = AGG_SKETCH_INITIAL * sizeof(roost_sketch_bucket);
    roost_sketch_bucket *b;

    if (!mem_take(a, bytes))
        return false;
    if (!(b = malloc(bytes))) {
        mem_give(a, bytes);
        return false;
    }
    roost_sketch_init(s, b, AGG_SKETCH_INITIAL);
    return true;
}

static void sketch_free(struct agg *a, roost_sketch *s)
{
    mem_give(a, s->capacity * sizeof(roost_sketch_bucket));
    free(s->buckets);
    s->buckets = NULL;
}

/* Grows s so it can hold `want` buckets (doubling, up to AGG_SKETCH_MAX).
 * When memory does not allow it the sketch stays as it is and collapses
 * its lowest buckets as needed: no value is lost. */
static void sketch_grow(struct agg *a, roost_sketch *s, size_t want)
{
    size_t cap = s->capacity, ncap = cap;
    roost_sketch_bucket *nb;
    roost_sketch ns;

    while (ncap < want && ncap < AGG_SKETCH_MAX)
        ncap *= 2;
    if (ncap == cap || !mem_take(a, (ncap - cap) * sizeof *nb))
        return;
    if (!(nb = malloc(ncap * sizeof *nb))) {
        mem_give(a, (ncap - cap) * sizeof *nb);
        return;
    }
    roost_sketch_init(&ns, nb, ncap);
    roost_sketch_merge(&ns, s); /* cannot fail: room for every bucket, same counts */
    free(s->buckets);
    *s = ns;
}

/* dst += src, growing dst first when the union may not fit. */
static void sketch_add(struct agg *a, roost_sketch *dst, const roost_sketch *src)
{
    if (src->len == 0)
        return;
    if (dst->len + src->len > dst->capacity)
        sketch_grow(a, dst, dst->len + src->len);
    roost_sketch_merge(dst, src);
}

/* ---- lifecycle ---------------------------------------------------------- */

roost_status agg_new(size_t memory_limit, uint32_t max_series, struct agg **out)
{
    static _Atomic uint64_t next_id = 1;
    struct agg *a;
    uint32_t nb = 64;

    if (max_series == 0)
        return ROOST_EINVAL;
    if (!(a = sdk_zalloc_aligned(sizeof *a)))
        return ROOST_ENOMEM;
    a->id = atomic_fetch_add(&next_id, 1);
    a->limit = memory_limit;
    a->max_series = max_series;
    a->nchunks = (max_series + DIR_CHUNK - 1) / DIR_CHUNK;
    /* Chains of a few series at most up to ~10,000 series; the array is
     * fixed so lock-free readers never see it move. */
    while (nb < max_series / 4 && nb < 2048)
        nb *= 2;
    a->bucket_mask = nb - 1;
    a->open_nbuckets = 64;
    a->buckets = calloc(nb, sizeof *a->buckets);
    a->series_dir = calloc(a->nchunks, sizeof *a->series_dir);
    a->open = calloc(a->open_nbuckets, sizeof *a->open);
    if (!a->buckets || !a->series_dir || !a->open)
        goto nomem;
    for (int i = 0; i < AGG_SHARDS; i++)
        if (!(a->shards[i].dir = calloc(a->nchunks, sizeof *a->shards[i].dir)))
            goto nomem;
    pthread_mutex_init(&a->reg_mu, NULL);
    /* Fixed overhead counts against the limit like everything else. */
    atomic_store(&a->used, sizeof *a + nb * sizeof *a->buckets +
                               (size_t)a->nchunks * sizeof *a->series_dir * (1 + AGG_SHARDS) +
                               a->open_nbuckets * sizeof *a->open);
    *out = a;
    return ROOST_OK;
nomem:
    for (int i = 0; i < AGG_SHARDS; i++)
        free(a->shards[i].dir);
    free(a->buckets);
    free(a->series_dir);
    free(a->open);
    free(a);
    return ROOST_ENOMEM;
}

static void entry_free(struct agg *a, struct agg_entry *e)
{
    sketch_free(a, &e->sketch);
    mem_give(a, sizeof *e);
    free(e);
}

void agg_free(struct agg *a)
{
    if (!a)
        return;
    for (int i = 0; i < AGG_SHARDS; i++) {
        struct shard *sh = &a->shards[i];
        for (uint32_t c = 0; c < a->nchunks; c++) {
            if (!sh->dir[c])
                continue;
            for (uint32_t j = 0; j < DIR_CHUNK; j++) {
                if (sh->dir[c][j]) {
                    free(sh->dir[c][j]->sketch.buckets);
                    free(sh->dir[c][j]);
                }
            }
            free(sh->dir[c]);
        }
        free(sh->dir);
    }
    for (size_t i = 0; i < a->open_nbuckets; i++) {
        struct agg_entry *e = a->open[i], *next;
        for (; e; e = next) {
            next = e->next;
            free(e->sketch.buckets);
            free(e);
        }
    }
    free(a->open);
    for (uint32_t c = 0; c < a->nchunks; c++) {
        struct roost_series *_Atomic *chunk = atomic_load(&a->series_dir[c]);
        if (!chunk)
            continue;
        for (uint32_t j = 0; j < DIR_CHUNK; j++)
            free(atomic_load(&chunk[j]));
        free((void *)chunk);
    }
    free((void *)a->series_dir);
    free((void *)a->buckets);
    pthread_mutex_destroy(&a->reg_mu);
    free(a);
}

/* ---- registry ----------------------------------------------------------- */

static uint32_t series_hash(uint8_t kind, const char *scope, size_t ls, const char *arm,
                            size_t la, const char *metric, size_t lm)
{
    roost_murmur3 m;
    static const char nul = '\0';

    roost_murmur3_init(&m, kind);
    roost_murmur3_update(&m, scope, ls);
    roost_murmur3_update(&m, &nul, 1);
    roost_murmur3_update(&m, arm, la);
    roost_murmur3_update(&m, &nul, 1);
    roost_murmur3_update(&m, metric, lm);
    return roost_murmur3_final(&m);
}

static struct roost_series *find(struct agg *a, uint32_t h, uint8_t kind, const char *scope,
                                 const char *arm, const char *metric)
{
    struct roost_series *s =
        atomic_load_explicit(&a->buckets[h & a->bucket_mask], memory_order_acquire);

    for (; s; s = atomic_load_explicit(&s->next, memory_order_acquire))
        if (s->hash == h && s->kind == kind && strcmp(s->scope, scope) == 0 &&
            strcmp(s->arm, arm) == 0 && strcmp(s->metric, metric) == 0)
            return s;
    return NULL;
}

static struct roost_series *series_by_id(const struct agg *a, uint32_t id)
{
    struct roost_series *_Atomic *chunk =
        atomic_load_explicit(&a->series_dir[id / DIR_CHUNK], memory_order_acquire);

    return atomic_load_explicit(&chunk[id % DIR_CHUNK], memory_order_acquire);
}

roost_status agg_series(struct agg *a, roost_scope_kind kind, const char *scope, const char *arm,
                        const char *metric, struct roost_series **out)
{
    size_t ls, la, lm, size;
    struct roost_series *s;
    uint32_t h;

    if (!scope || !metric || kind < ROOST_SCOPE_FLAG || kind > ROOST_SCOPE_EXPERIMENT)
        return ROOST_EINVAL;
    if (!arm)
        arm = "";
    ls = strlen(scope);
    la = strlen(arm);
    lm = strlen(metric);
    if (ls == 0 || ls > ROOST_SCOPE_KEY_MAX || la > ROOST_ARM_MAX || lm == 0 ||
        lm > ROOST_METRIC_MAX)
        return ROOST_EINVAL;
    h = series_hash((uint8_t)kind, scope, ls, arm, la, metric, lm);
    if ((s = find(a, h, (uint8_t)kind, scope, arm, metric))) {
        *out = s;
        return ROOST_OK;
    }

    pthread_mutex_lock(&a->reg_mu);
    if ((s = find(a, h, (uint8_t)kind, scope, arm, metric))) {
        pthread_mutex_unlock(&a->reg_mu);
        *out = s;
        return ROOST_OK;
    }
    if (a->nseries == a->max_series) {
        pthread_mutex_unlock(&a->reg_mu);
        atomic_fetch_add_explicit(&a->dropped_series, 1, memory_order_relaxed);
        return ROOST_ELIMIT;
    }
    uint32_t id = a->nseries, c = id / DIR_CHUNK;
    struct roost_series *_Atomic *chunk = atomic_load(&a->series_dir[c]);
    size = sizeof *s + ls + la + lm + 3;
    if (!chunk) {
        size_t cbytes = DIR_CHUNK * sizeof *chunk;
        if (!mem_take(a, cbytes))
            goto limit;
        if (!(chunk = calloc(DIR_CHUNK, sizeof *chunk))) {
            mem_give(a, cbytes);
            goto limit;
        }
        atomic_store_explicit(&a->series_dir[c], chunk, memory_order_release);
    }
    if (!mem_take(a, size))
        goto limit;
    if (!(s = malloc(size))) {
        mem_give(a, size);
        goto limit;
    }
    s->agg = a;
    s->id = id;
    s->hash = h;
    s->kind = (uint8_t)kind;
    memcpy(s->names, scope, ls + 1);
    memcpy(s->names + ls + 1, arm, la + 1);
    memcpy(s->names + ls + la + 2, metric, lm + 1);
    s->scope = s->names;
    s->arm = s->names + ls + 1;
    s->metric = s->names + ls + la + 2;
    atomic_init(&s->next, atomic_load_explicit(&a->buckets[h & a->bucket_mask],
                                               memory_order_relaxed));
    atomic_store_explicit(&chunk[id % DIR_CHUNK], s, memory_order_release);
    atomic_store_explicit(&a->buckets[h & a->bucket_mask], s, memory_order_release);
    a->nseries++;
    pthread_mutex_unlock(&a->reg_mu);
    *out = s;
    return ROOST_OK;

limit:
    pthread_mutex_unlock(&a->reg_mu);
    atomic_fetch_add_explicit(&a->dropped_memory, 1, memory_order_relaxed);
    return ROOST_ELIMIT;
}

/* Per-thread cache in front of the registry for lookups by name: a service
 * records the same few series from the same call sites, with the same
 * string pointers. A hit costs three string compares (the pointers only
 * say where to look: a caller may reuse a buffer for other names, so the
 * names are always compared) instead of a hash and a chain walk. Entries
 * are keyed by the aggregator's process-unique id, never its address, so
 * an entry of a closed client can never be taken for a new one; a series
 * is only reached through an entry whose aggregator is the caller's. */
#define NAME_CACHE 4

struct name_cache {
    uint64_t agg_id;
    const char *scope, *arm, *metric;
    uint8_t kind;
    struct roost_series *s;
};

static _Thread_local struct name_cache tl_names[NAME_CACHE];

roost_status agg_series_cached(struct agg *a, roost_scope_kind kind, const char *scope,
                               const char *arm, const char *metric, struct roost_series **out)
{
    struct name_cache *e;
    roost_status rc;

    if (!arm)
        arm = "";
    e = &tl_names[(((uintptr_t)scope >> 4) ^ ((uintptr_t)arm >> 6) ^ ((uintptr_t)metric >> 8)) %
                  NAME_CACHE];
    if (e->agg_id == a->id && e->scope == scope && e->arm == arm && e->metric == metric &&
        e->kind == (uint8_t)kind && scope && metric && strcmp(e->s->scope, scope) == 0 &&
        strcmp(e->s->arm, arm) == 0 && strcmp(e->s->metric, metric) == 0) {
        *out = e->s;
        return ROOST_OK;
    }
    if ((rc = agg_series(a, kind, scope, arm, metric, out)) != ROOST_OK)
        return rc;
    e->agg_id = a->id;
    e->scope = scope;
    e->arm = arm;
    e->metric = metric;
    e->kind = (uint8_t)kind;
    e->s = *out;
    return ROOST_OK;
}

/* ---- recording ---------------------------------------------------------- */

/* The cell of series id in shard sh, created when missing. Under sh->lock. */
static struct cell *cell_get(struct agg *a, struct shard *sh, uint32_t id)
{
    struct cell **chunk = sh->dir[id / DIR_CHUNK], *c;

    if (!chunk) {
        size_t cbytes = DIR_CHUNK * sizeof *chunk;
        if (!mem_take(a, cbytes))
            return NULL;
        if (!(chunk = calloc(DIR_CHUNK, sizeof *chunk))) {
            mem_give(a, cbytes);
            return NULL;
        }
        sh->dir[id / DIR_CHUNK] = chunk;
    }
    if ((c = chunk[id % DIR_CHUNK]))
        return c;
    if (!mem_take(a, sizeof *c))
        return NULL;
    if (!(c = calloc(1, sizeof *c))) {
        mem_give(a, sizeof *c);
        return NULL;
    }
    if (!sketch_new(a, &c->sketch)) {
        mem_give(a, sizeof *c);
        free(c);
        return NULL;
    }
    chunk[id % DIR_CHUNK] = c;
    return c;
}

roost_status agg_record(struct agg *a, uint32_t id, double value, bool success)
{
    struct shard *sh = &a->shards[sdk_thread_index() % AGG_SHARDS];
    struct cell *c;

    sdk_spin_lock(&sh->lock);
    if (!(c = cell_get(a, sh, id))) {
        sdk_spin_unlock(&sh->lock);
        atomic_fetch_add_explicit(&a->dropped_memory, 1, memory_order_relaxed);
        return ROOST_ELIMIT;
    }
    c->count++;
    c->successes += success;
    c->sum += value;
    c->sum_squares += value * value;
    if (c->sketch.len == c->sketch.capacity)
        sketch_grow(a, &c->sketch, c->sketch.capacity + 1);
    roost_sketch_add(&c->sketch, value); /* cannot fail: finite, count far from 2^64 */
    /* Only this shard's lock holders write it; relaxed atomics let stats
     * read it from anywhere. */
    atomic_store_explicit(&sh->observations,
                          atomic_load_explicit(&sh->observations, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    sdk_spin_unlock(&sh->lock);
    return ROOST_OK;
}

void agg_drop(struct agg *a, uint64_t n)
{
    atomic_fetch_add_explicit(&a->dropped_memory, n, memory_order_relaxed);
}

/* ---- open table --------------------------------------------------------- */

static size_t open_slot(const struct agg *a, uint32_t id, int64_t minute)
{
    uint64_t h = ((uint64_t)id * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)minute * 0xC2B2AE3D27D4EB4Full);

    return (size_t)(h >> 17) & (a->open_nbuckets - 1);
}

static void open_grow(struct agg *a)
{
    size_t n = a->open_nbuckets * 2;
    struct agg_entry **v;

    if (!mem_take(a, (n - a->open_nbuckets) * sizeof *v))
        return; /* longer chains, same results */
    if (!(v = calloc(n, sizeof *v))) {
        mem_give(a, (n - a->open_nbuckets) * sizeof *v);
        return;
    }
    for (size_t i = 0; i < a->open_nbuckets; i++) {
        struct agg_entry *e = a->open[i], *next;
        for (; e; e = next) {
            size_t s;
            next = e->next;
            s = (size_t)((((uint64_t)e->id * 0x9E3779B97F4A7C15ull) ^
                          ((uint64_t)e->minute * 0xC2B2AE3D27D4EB4Full)) >>
                         17) &
                (n - 1);
            e->next = v[s];
            v[s] = e;
        }
    }
    free(a->open);
    a->open = v;
    a->open_nbuckets = n;
}

/* The open entry for (id, minute), created when missing; NULL when memory
 * does not allow it. */
static struct agg_entry *open_get(struct agg *a, uint32_t id, int64_t minute)
{
    size_t s = open_slot(a, id, minute);
    struct agg_entry *e;

    for (e = a->open[s]; e; e = e->next)
        if (e->id == id && e->minute == minute)
            return e;
    if (!mem_take(a, sizeof *e))
        return NULL;
    if (!(e = calloc(1, sizeof *e))) {
        mem_give(a, sizeof *e);
        return NULL;
    }
    if (!sketch_new(a, &e->sketch)) {
        mem_give(a, sizeof *e);
        free(e);
        return NULL;
    }
    e->id = id;
    e->minute = minute;
    e->next = a->open[s];
    a->open[s] = e;
    a->open_count++;
    if (a->open_count > 2 * a->open_nbuckets)
        open_grow(a);
    return e;
}

/* Adds an aggregate to the open table; false when it had to be dropped. */
static bool open_add(struct agg *a, uint32_t id, int64_t minute, int64_t end_ms, uint64_t count,
                     uint64_t successes, double sum, double sum_squares, const roost_sketch *sketch)
{
    struct agg_entry *e = open_get(a, id, minute);

    if (!e)
        return false;
    if (end_ms > e->end_ms)
        e->end_ms = end_ms;
    e->count += count;
    e->successes += successes;
    e->sum += sum;
    e->sum_squares += sum_squares;
    sketch_add(a, &e->sketch, sketch);
    a->open_outcomes += count;
    return true;
}

static void drop_lost(struct agg *a, uint64_t count)
{
    atomic_fetch_add_explicit(&a->dropped_memory, count, memory_order_relaxed);
    atomic_fetch_add_explicit(&a->lost, count, memory_order_relaxed);
}

void agg_cut(struct agg *a, int64_t minute)
{
    agg_cut_at(a, minute, 0);
}

void agg_cut_at(struct agg *a, int64_t minute, int64_t end_ms)
{
    for (int i = 0; i < AGG_SHARDS; i++) {
        struct shard *sh = &a->shards[i];

        sdk_spin_lock(&sh->lock);
        for (uint32_t ch = 0; ch < a->nchunks; ch++) {
            struct cell **chunk = sh->dir[ch];
            if (!chunk)
                continue;
            for (uint32_t j = 0; j < DIR_CHUNK; j++) {
                struct cell *c = chunk[j];
                if (!c)
                    continue;
                if (c->count == 0) {
                    if (++c->idle >= AGG_IDLE_CUTS) {
                        sketch_free(a, &c->sketch);
                        mem_give(a, sizeof *c);
                        free(c);
                        chunk[j] = NULL;
                    }
                    continue;
                }
                if (!open_add(a, ch * DIR_CHUNK + j, minute, end_ms, c->count, c->successes,
                              c->sum, c->sum_squares, &c->sketch))
                    drop_lost(a, c->count);
                c->count = c->successes = 0;
                c->sum = c->sum_squares = 0;
                c->idle = 0;
                roost_sketch_clear(&c->sketch);
            }
        }
        sdk_spin_unlock(&sh->lock);
    }
}

bool agg_has_unsent(const struct agg *a)
{
    return a->open_count > 0 ||
           atomic_load_explicit(&a->dropped_memory, memory_order_relaxed) != a->reported_memory ||
           atomic_load_explicit(&a->dropped_series, memory_order_relaxed) != a->reported_series ||
           atomic_load_explicit(&a->dropped_rejected, memory_order_relaxed) != a->reported_rejected;
}

/* ---- batches ------------------------------------------------------------ */

void agg_batch_view(const struct agg *a, const struct agg_batch *b, size_t i,
                    struct wire_aggregate *out)
{
    const struct agg_entry *e = b->entries[i];
    const struct roost_series *s = series_by_id(a, e->id);

    out->kind = s->kind;
    out->scope = s->scope;
    out->arm = s->arm;
    out->metric = s->metric;
    out->minute = e->minute;
    out->end_unix_ms = e->end_ms;
    out->count = e->count;
    out->successes = e->successes;
    out->sum = e->sum;
    out->sum_squares = e->sum_squares;
    out->sketch = &e->sketch;
}

bool agg_take(struct agg *a, size_t max_bytes, struct agg_batch *b)
{
    size_t bytes = 0, cap = 0;

    memset(b, 0, sizeof *b);
    if (!agg_has_unsent(a))
        return false;
    for (size_t i = 0; i < a->open_nbuckets; i++) {
        while (a->open[i]) {
            struct agg_entry *e = a->open[i];
            struct wire_aggregate v;
            size_t sz;

            v.scope = series_by_id(a, e->id)->scope;
            v.arm = series_by_id(a, e->id)->arm;
            v.metric = series_by_id(a, e->id)->metric;
            v.sketch = &e->sketch;
            sz = wire_aggregate_size(&v);
            if (b->n && bytes + sz > max_bytes)
                goto done;
            if (b->n == cap) {
                size_t ncap = cap ? 2 * cap : 64;
                struct agg_entry **nv = realloc(b->entries, ncap * sizeof *nv);
                if (!nv)
                    goto done; /* send what we have; the rest waits */
                b->entries = nv;
                cap = ncap;
            }
            a->open[i] = e->next;
            e->next = NULL;
            a->open_count--;
            a->open_outcomes -= e->count;
            b->entries[b->n++] = e;
            b->outcomes += e->count;
            bytes += sz;
        }
    }
done:
    b->dropped_memory = atomic_load(&a->dropped_memory) - a->reported_memory;
    b->dropped_series = atomic_load(&a->dropped_series) - a->reported_series;
    b->dropped_rejected = atomic_load(&a->dropped_rejected) - a->reported_rejected;
    a->reported_memory += b->dropped_memory;
    a->reported_series += b->dropped_series;
    a->reported_rejected += b->dropped_rejected;
    return b->n || b->dropped_memory || b->dropped_series || b->dropped_rejected;
}

static void batch_clear(struct agg *a, struct agg_batch *b)
{
    if (b->bytes)
        agg_release(a, b->len);
    free(b->bytes);
    free(b->entries);
    memset(b, 0, sizeof *b);
}

void agg_batch_acked(struct agg *a, struct agg_batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        entry_free(a, b->entries[i]);
    atomic_fetch_add_explicit(&a->acked, b->outcomes, memory_order_relaxed);
    batch_clear(a, b);
}

void agg_batch_rejected(struct agg *a, struct agg_batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        entry_free(a, b->entries[i]);
    atomic_fetch_add_explicit(&a->dropped_rejected, b->outcomes, memory_order_relaxed);
    atomic_fetch_add_explicit(&a->lost, b->outcomes, memory_order_relaxed);
    /* The dropped counts it carried were not stored either. */
    a->reported_memory -= b->dropped_memory;
    a->reported_series -= b->dropped_series;
    a->reported_rejected -= b->dropped_rejected;
    batch_clear(a, b);
}

void agg_batch_return(struct agg *a, struct agg_batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        struct agg_entry *e = b->entries[i];
        struct agg_entry *into;
        size_t s = open_slot(a, e->id, e->minute);

        for (into = a->open[s]; into; into = into->next)
            if (into->id == e->id && into->minute == e->minute)
                break;
        if (!into) {
            /* Re-link the entry itself: no new memory needed. */
            e->next = a->open[s];
            a->open[s] = e;
            a->open_count++;
            a->open_outcomes += e->count;
            continue;
        }
        if (e->end_ms > into->end_ms)
            into->end_ms = e->end_ms;
        into->count += e->count;
        into->successes += e->successes;
        into->sum += e->sum;
        into->sum_squares += e->sum_squares;
        sketch_add(a, &into->sketch, &e->sketch);
        a->open_outcomes += e->count;
        entry_free(a, e);
    }
    a->reported_memory -= b->dropped_memory;
    a->reported_series -= b->dropped_series;
    a->reported_rejected -= b->dropped_rejected;
    batch_clear(a, b);
}

void agg_get_stats(const struct agg *a, struct agg_stats *out)
{
    uint64_t obs = 0;

    for (int i = 0; i < AGG_SHARDS; i++)
        obs += atomic_load_explicit(&a->shards[i].observations, memory_order_relaxed);
    out->observations = obs;
    out->acked = atomic_load_explicit(&a->acked, memory_order_relaxed);
    out->lost = atomic_load_explicit(&a->lost, memory_order_relaxed);
    out->dropped_memory = atomic_load_explicit(&a->dropped_memory, memory_order_relaxed);
    out->dropped_series = atomic_load_explicit(&a->dropped_series, memory_order_relaxed);
    out->dropped_rejected = atomic_load_explicit(&a->dropped_rejected, memory_order_relaxed);
    out->memory = atomic_load_explicit(&a->used, memory_order_relaxed);
    out->open_entries = 0; /* background-thread data; not read from other threads */
}
