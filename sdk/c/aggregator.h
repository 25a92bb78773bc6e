/* Outcome aggregation: what roost_observe records, kept in bounded memory
 * until roostd acknowledges it.
 *
 * Three stages, each merging by addition (counts, sums, sums of squares,
 * successes, and latency sketches bucket by bucket):
 *
 *  1. Shards (current interval). A caller's thread records into the shard
 *     its thread index maps to (AGG_SHARDS of them), under that shard's spin
 *     lock, in a cell per series: no lock is shared by all threads, so
 *     threads recording the same series do not contend. Cells are created on
 *     the first outcome of a series in a shard and freed after
 *     AGG_IDLE_CUTS intervals without one.
 *  2. Open table (background thread only). Each flush interval the
 *     background thread "cuts": it moves every shard's cells into open
 *     entries keyed by (series, minute), the minute being the one the
 *     interval started in. Outcomes that could not be sent yet keep
 *     accumulating here, per minute, however long roostd is away.
 *  3. Batches. A batch takes open entries (up to a size bound), is encoded
 *     once with its (client id, sequence), and is then either acknowledged
 *     (freed), refused as invalid (freed, counted as dropped), refused before
 *     being stored (merged back into the open table: it goes out again in
 *     the next batch), or lost in an ambiguous failure (kept as it is and
 *     resent with the same sequence, so that roostd can recognise it if it
 *     had been stored). See reporter.h.
 *
 * Memory: every allocation for outcomes (series names, cells, sketches,
 * open entries, encoded batches) is charged to one counter checked against
 * the configured limit. When the limit is reached, an outcome that needs new
 * memory is not recorded and is counted in dropped_memory; a sketch that
 * cannot grow collapses its lowest buckets instead (roost/sketch.h), which
 * keeps every count and only coarsens the fastest latencies. Dropped counts
 * travel in the next batch (DroppedOutcomes), so nothing is lost silently.
 */
#ifndef ROOST_SDK_AGGREGATOR_H
#define ROOST_SDK_AGGREGATOR_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "roost/client.h"
#include "roost/sketch.h"
#include "roost/status.h"

#define AGG_SHARDS 16
#define AGG_SKETCH_INITIAL 16  /* buckets of a new sketch */
#define AGG_SKETCH_MAX 512     /* buckets at most: about 4.5 decades at 1 % */
#define AGG_IDLE_CUTS 6        /* cells unused this many intervals are freed */
/* Values beyond this magnitude are refused: their squares must stay finite
 * through any realistic number of additions, here and in roostd. */
#define AGG_VALUE_MAX 1e100

/* Whether roost_observe accepts value: finite, within AGG_VALUE_MAX. */
static inline bool agg_value_ok(double v)
{
    return v == v && v <= AGG_VALUE_MAX && v >= -AGG_VALUE_MAX;
}

struct agg;

/* A resolved series (the public roost_series). Immutable once published. */
struct roost_series {
    struct agg *agg;
    struct roost_series *_Atomic next; /* registry chain */
    uint32_t id;
    uint32_t hash;
    uint8_t kind;
    const char *scope, *arm, *metric;  /* in names */
    char names[];
};

struct agg_entry; /* open entry: (series, minute) aggregate */

struct agg_batch {
    struct agg_entry **entries;
    size_t n;
    uint64_t outcomes;        /* sum of the entries' counts */
    uint64_t dropped_memory;  /* dropped counts this batch reports */
    uint64_t dropped_series;
    uint64_t dropped_rejected;
    uint64_t sequence;
    uint8_t *bytes;           /* encoded ReportRequest */
    size_t len;
};

struct agg_stats {
    uint64_t observations;  /* outcomes recorded */
    uint64_t acked;         /* outcomes acknowledged by roostd */
    uint64_t lost;          /* recorded, then dropped (memory at a cut, or refused by roostd) */
    uint64_t dropped_memory, dropped_series, dropped_rejected;
    size_t memory;
    size_t open_entries;
};

/* Fails with ENOMEM. */
roost_status agg_new(size_t memory_limit, uint32_t max_series, struct agg **out);
void agg_free(struct agg *a);

/* Resolves (and on first use registers) a series. Thread-safe; lookups take
 * no lock. Fails with EINVAL (kind or a name out of range), ELIMIT (series
 * or memory limit; counted as dropped). */
roost_status agg_series(struct agg *a, roost_scope_kind kind, const char *scope, const char *arm,
                        const char *metric, struct roost_series **out);

/* agg_series through a small per-thread cache (same results; for
 * roost_observe by name). */
roost_status agg_series_cached(struct agg *a, roost_scope_kind kind, const char *scope,
                               const char *arm, const char *metric, struct roost_series **out);

/* Records one outcome (value already checked finite and within
 * AGG_VALUE_MAX). Thread-safe. Fails with ELIMIT (memory limit; counted as
 * dropped). */
roost_status agg_record(struct agg *a, uint32_t series_id, double value, bool success);

/* Counts n outcomes that were never recorded because a bound other than
 * the aggregator's was reached (the exposure set) as dropped for the
 * memory limit, so they travel in the next batch's DroppedOutcomes.
 * Thread-safe. */
void agg_drop(struct agg *a, uint64_t n);

/* Background thread only. Moves every shard's current interval into the
 * open table under `minute`; end_ms is when the interval ended (Unix ms,
 * 0 = unknown). An open entry that merges several intervals keeps the
 * latest end: it is sent as OutcomeAggregate.end_unix_ms, which roostd
 * uses to file rollout outcomes under a second (docs/metrics.md). */
void agg_cut_at(struct agg *a, int64_t minute, int64_t end_ms);
/* agg_cut_at with an unknown end. */
void agg_cut(struct agg *a, int64_t minute);

/* True when the open table holds outcomes or dropped counts not yet sent. */
bool agg_has_unsent(const struct agg *a);

/* Takes open entries (at most max_bytes of encoded aggregates) and the
 * dropped counts not reported yet into b (b->bytes is left for the caller
 * to encode). Returns false when there is nothing to send. */
bool agg_take(struct agg *a, size_t max_bytes, struct agg_batch *b);

/* Fills a wire_aggregate view of entry i of b (see wire.h). */
struct wire_aggregate;
void agg_batch_view(const struct agg *a, const struct agg_batch *b, size_t i,
                    struct wire_aggregate *out);

/* Batch outcomes. Each frees b's entries and bytes and clears b. */
void agg_batch_acked(struct agg *a, struct agg_batch *b);
void agg_batch_rejected(struct agg *a, struct agg_batch *b); /* counted as dropped */
void agg_batch_return(struct agg *a, struct agg_batch *b);   /* merged back into the open table */

/* Charges (or releases) memory for a batch's encoding. Charging always
 * succeeds: a batch is bounded in size and already encoded. */
void agg_charge(struct agg *a, size_t bytes);
void agg_release(struct agg *a, size_t bytes);

/* Thread-safe (counters read with relaxed atomics). */
void agg_get_stats(const struct agg *a, struct agg_stats *out);

#endif
