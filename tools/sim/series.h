/* The metrics store in virtual time: what roostd's controller would read.
 *
 * The simulator produces one aggregate per arm per simulated second (count,
 * successes, sum and sum of squares of the latencies, and the latencies'
 * sketch buckets). This file keeps them and answers the windows the
 * decision library asks for the way roostd does, with the two effects that
 * move a real decision in time:
 *
 *   - Filing. An SDK aggregates outcomes over its flush interval F (aligned
 *     to the wall clock: flushes at multiples of F since the epoch) and
 *     sends them at the end of it; roostd files the aggregate under the
 *     second that holds the interval's last millisecond (docs/metrics.md,
 *     "Which second"). With F = 1 s that is the second itself; with 10 s,
 *     ten seconds of traffic land in one row.
 *   - Visibility. An aggregate is in the store from its flush on: a row
 *     filed under second v is visible at (v + 1) s. (Transit takes
 *     milliseconds; roostd's controller waits a settle time after each
 *     wakeup for it, which controller.c models.)
 *
 * A window [from_ms, to_ms) reads whole seconds exactly as roostd's
 * controller does (server/rollouts.c, read_windows): from_s = from_ms/1000,
 * to_s = to_ms/1000, rows filed in [from_s, to_s); an empty range is a
 * window without data, not an error. The store never fails to answer
 * (roostd's "unavailable" windows are not simulated).
 *
 * Costs. Counts and sums are prefix sums, so any window is O(log n); a
 * window's sketch is merged from per-second sparse buckets, so it costs
 * about one add per distinct latency bucket per second in the window, and
 * is only built when a quantile is read. Memory grows with the simulated
 * time (about 70 bytes per second plus 8 bytes per distinct latency bucket
 * per second and arm); sim_series_reset keeps it for the next run.
 */
#ifndef ROOST_TOOLS_SIM_SERIES_H
#define ROOST_TOOLS_SIM_SERIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "roost/sketch.h"
#include "roost/status.h"
#include "server/rollout/logic.h"

/* Buckets of a window's sketch: the same capacity as roostd's windows
 * (WINDOW_SKETCH_CAP in server/rollouts.c), so a sketch collapses in the
 * simulator exactly when it would in roostd. */
#define SIM_SKETCH_CAP 512

/* The only metric the simulated SDKs report: one outcome per request with
 * its latency in ms (the SDK request helpers' "requests"). */
#define SIM_METRIC "requests"

/* Longest simulated run: a day of seconds. */
#define SIM_MAX_SECONDS (24 * 3600)

/* One arm's traffic in one simulated second. */
struct sim_second {
    uint64_t count, successes; /* successes <= count */
    double sum, sum_squares;   /* of the latencies, ms */
    const roost_sketch_bucket *buckets; /* latency keys, sorted, no duplicates; NULL if none */
    size_t nbuckets;
};

struct sim_arm_series {
    /* prefix sums: cum_*[u] covers seconds [0, u) */
    uint64_t *cum_count, *cum_successes;
    double *cum_sum, *cum_sum_squares;
    size_t *lat_off;                 /* buckets of second u: lat[lat_off[u] .. lat_off[u+1]) */
    roost_sketch_bucket *lat;
    size_t lat_len, lat_cap;
};

struct sim_series {
    int64_t t0_s;      /* unix second of simulated second 0 */
    int64_t flush_s;   /* SDK flush interval, whole seconds >= 1 */
    int64_t n;         /* seconds appended */
    int64_t cap;       /* seconds allocated */
    struct sim_arm_series arm[2]; /* indexed by enum rollout_arm */
    /* Scratch for building window sketches: one count per key in
     * [key_lo, key_hi], the range of every latency key appended so far.
     * Written by sim_series_window although it takes a const series: a
     * series is used by one thread at a time. */
    int32_t key_lo, key_hi;   /* key_lo > key_hi: no latency yet */
    uint64_t *dense;
    size_t dense_cap;
};

/* Prepares an empty series starting at unix ms t0_ms (a whole second) with
 * SDK flush interval flush_ms (a whole number of seconds, >= 1 s).
 * Errors: ROOST_EINVAL (t0 or flush not whole seconds). */
roost_status sim_series_init(struct sim_series *s, int64_t t0_ms, int64_t flush_ms,
                             roost_error *err);

/* Empties it for a new run, keeping its memory. Same errors as init. */
roost_status sim_series_reset(struct sim_series *s, int64_t t0_ms, int64_t flush_ms,
                              roost_error *err);

void sim_series_free(struct sim_series *s);

/* Appends the next second (number s->n) for both arms (indexed by enum
 * rollout_arm). Errors: ROOST_EINVAL (successes > count, non-finite sums,
 * unsorted buckets), ROOST_ELIMIT (more than SIM_MAX_SECONDS),
 * ROOST_ENOMEM. Nothing is appended on error. */
roost_status sim_series_append(struct sim_series *s, const struct sim_second sec[2],
                               roost_error *err);

/* The second (0-based, relative to t0) whose aggregate is filed under
 * unix second v, for the first second filed at or after v. Exposed for the
 * tests of the filing rule. */
int64_t sim_series_first_second_filed_at(const struct sim_series *s, int64_t v);

/* Reads [from_ms, to_ms) of one arm as roostd would at now_ms (see the top
 * of this file). When sketch is not NULL it is cleared and receives the
 * window's latencies (init it with SIM_SKETCH_CAP buckets) and out->sketch
 * points to it; otherwise out->sketch is NULL. The per-second buckets are
 * first summed per key and then added in key order, one add per distinct
 * key, which is what makes quantile checks over minutes of traffic cheap.
 * Never fails: a window with nothing visible is empty. */
void sim_series_window(const struct sim_series *s, enum rollout_arm arm, int64_t from_ms,
                       int64_t to_ms, int64_t now_ms, roost_sketch *sketch,
                       struct rollout_window *out);

#endif
