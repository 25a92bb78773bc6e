/* Reading the metrics store: the rows of one series over a time window,
 * merged into one aggregate.
 *
 * metrics_window is the one piece of code that reads outcome rows. The
 * Admin.QueryMetrics RPC (api_metrics.c) calls it once per step and series;
 * the rollout and experiment controllers call it in-process for the windows
 * they judge. Both therefore see the same numbers for the same window.
 *
 * What a window holds (docs/metrics.md has the long form):
 *
 *   - A stored row covers an interval: 1 second (recent rows, rollouts only),
 *     1 minute, or 1 hour (minute rows older than the minute retention are
 *     rolled into hours). A row belongs to [from, to) when the START of its
 *     interval is in it; a window never takes part of a row. Windows that
 *     tile a range therefore count every outcome exactly once, and a window
 *     narrower than the rows' resolution is empty or holds whole rows.
 *   - A ROLLOUT window whose `from` is at or after the recent-rows mark
 *     (metrics_ingest.h) is answered from 1-second rows alone: exact to the
 *     second, which is what 30-second canary analysis needs. A 1-second row
 *     holds the aggregates whose SDK interval ended in that second.
 *   - Every other window reads minute rows and hour rows. Every outcome is in
 *     exactly one of the two tables at any moment (the roll-up moves rows in
 *     one transaction), so nothing is counted twice or missed while the
 *     roll-up runs.
 *   - Labels (service, environment, version): an empty selector field
 *     matches any value, and every matching label set is merged. The empty
 *     label value itself cannot be selected on its own.
 *
 * Merging adds counts, successes and sums and merges sketches bucket by
 * bucket (exact and order-independent, include/roost/sketch.h), so a
 * window's quantiles carry the sketch's 1 % bound whatever the number of
 * rows, clients or label sets merged.
 *
 * Cost: one cursor per table read; per label set one seek to the window's
 * first row and one past the label set, then one sketch decode and merge
 * per row. No allocation: the caller owns every byte (struct metrics_agg).
 */
#ifndef ROOSTD_METRICS_QUERY_H
#define ROOSTD_METRICS_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "roost/client.h"
#include "roost/sketch.h"
#include "roost/status.h"
#include "store.h"

/* One series, or a set of label sets of it. Strings are NUL-terminated and
 * borrowed for the call. */
struct metrics_selector {
    uint8_t scope_kind;      /* roost.v1.ScopeKind (0 = the SDKs' dropped counters) */
    const char *scope_key;   /* exact */
    const char *arm;         /* exact ("" is the empty arm) */
    const char *metric;      /* exact, 1..ROOST_METRIC_MAX bytes */
    const char *service;     /* NULL or "" = any (merged) */
    const char *environment; /* NULL or "" = any (merged) */
    const char *version;     /* NULL or "" = any (merged) */
};

/* A merged window. The sketches live in the caller's bucket array. */
struct metrics_agg {
    uint64_t count;
    uint64_t successes;
    double sum;
    double sum_squares;
    roost_sketch sketch; /* merged latency sketch (values reported with a sketch) */
    uint64_t rows;       /* stored rows merged */
    /* The coarsest row length merged: 1, 60 or 3600 seconds; 0 = no rows. */
    uint32_t resolution_s;
    bool recent;          /* answered from 1-second rows */
    roost_sketch scratch; /* decoding space; not a result */
};

/* Buckets metrics_agg_init needs for sketches of capacity cap: the merged
 * sketch and its decoding space. */
#define METRICS_AGG_BUCKETS(cap) (2 * (size_t)(cap))

/* Prepares an empty aggregate over buckets[METRICS_AGG_BUCKETS(cap)], which
 * must outlive it. cap is the merged sketch's capacity: METRICS_SKETCH_CAP
 * (what rows are stored at) keeps every quantile the rows keep; a smaller
 * one collapses the lowest buckets sooner (roost/sketch.h).
 * Fails with EINVAL (NULL, cap below 2 or above ROOST_SKETCH_MAX_CAPACITY). */
roost_status metrics_agg_init(struct metrics_agg *a, roost_sketch_bucket *buckets, size_t cap,
                              roost_error *err);

/* Empties the aggregate, keeping its memory. */
void metrics_agg_clear(struct metrics_agg *a);

/* Merges the rows of sel in [from_s, to_s) (Unix seconds) into out, which it
 * clears first. Reads in its own read transaction.
 * Fails with: EINVAL (from_s negative or not before to_s, scope_key, arm or
 * metric missing or too long, a label longer than ROOST_LABEL_MAX), ELIMIT
 * (the window holds more than 2^64 - 1 outcomes, or its sums overflow a
 * double: ask for shorter windows), ECORRUPT (a stored row does not decode),
 * and the store's errors. On error *out holds a partial merge: discard it. */
roost_status metrics_window(struct store *st, const struct metrics_selector *sel, int64_t from_s,
                            int64_t to_s, struct metrics_agg *out, roost_error *err);

/* The same within the caller's transaction (read or write), so that many
 * windows see one consistent snapshot of the store. */
roost_status metrics_window_txn(struct store_txn *t, const struct metrics_selector *sel,
                                int64_t from_s, int64_t to_s, struct metrics_agg *out,
                                roost_error *err);

/* Summary statistics of an aggregate. */
struct metrics_summary {
    uint64_t count;
    uint64_t successes;
    double mean;         /* 0 when count = 0 */
    double variance;     /* sample variance (n - 1); 0 when count < 2 */
    double success_rate; /* successes / count; 0 when count = 0 */
    uint64_t sketch_count;
    double min, max;        /* from the sketch; 0 when sketch_count = 0 */
    bool collapsed;         /* the merged sketch folded its lowest buckets */
    double reliable_from_q; /* quantiles below this are upper bounds only */
};

/* Fills out from a. Variance comes from the stats library
 * (roost_stats_summary_from_sums: rounding below zero is reported as 0).
 * Fails with ELIMIT when the sums are not finite. */
roost_status metrics_agg_summarize(const struct metrics_agg *a, struct metrics_summary *out,
                                   roost_error *err);

/* A series name as listed by metrics_list_series. */
struct metrics_series_name {
    char arm[ROOST_ARM_MAX + 1];
    char metric[ROOST_METRIC_MAX + 1];
};

/* The distinct (arm, metric) pairs stored for one scope, sorted, from the
 * minute and hour tables (recent rows are copies of minute rows): arm and
 * metric NULL or "" list every one, otherwise only that one. Whether a pair
 * has rows in a given window is for metrics_window to say.
 * Fails with: EINVAL (scope_key, arm or metric too long), ELIMIT (more than
 * cap pairs: *n is then cap and out holds the first ones), ECORRUPT (a key
 * that does not parse), and the store's errors. */
roost_status metrics_list_series(struct store_txn *t, uint8_t scope_kind, const char *scope_key,
                                 const char *arm, const char *metric,
                                 struct metrics_series_name *out, size_t cap, size_t *n,
                                 roost_error *err);

#endif
