/* Virtual time: one simulated rollout, second by second, as fast as the
 * CPU allows.
 *
 * Each simulated second: the traffic model gives a rate, Poisson arrivals
 * are split between the arms at the policy's current weight (binomial),
 * each arm's failures are binomial at its error rate, latencies are drawn
 * when a check reads them, and the second's aggregates go into the
 * simulated metrics store (series.h) with the SDK's filing and report
 * delay. Between seconds the policy ticks whenever it asked to (for Roost:
 * the library's wakeup plus roostd's settle time) and whenever a gate
 * probe changes. A weight set by a tick applies from the next simulated
 * second (real SDKs get it by stream within milliseconds).
 *
 * The run ends when the policy promotes, rolls back or pauses for a
 * person, or at the scenario's duration.
 *
 * Same seed, same run. Randomness comes from streams derived from (seed,
 * second, purpose) (rng.h), so two policies run on one seed see the same
 * arrivals and the same per-second draws: their results differ because
 * their decisions differ, not because of luck.
 */
#ifndef ROOST_TOOLS_SIM_VIRTUAL_H
#define ROOST_TOOLS_SIM_VIRTUAL_H

#include <stdbool.h>
#include <stdint.h>

#include "roost/status.h"
#include "tools/sim/policy.h"
#include "tools/sim/scenario.h"
#include "tools/sim/series.h"

/* Unix ms of simulated t = 0: 2026-11-26T10:00:00Z, a realistic time for
 * every timer and record (and a multiple of every flush interval). */
#define SIM_T0_MS 1795687200000LL

/* What one run did. Times are ms from the start. */
struct sim_outcome {
    enum sim_phase phase;      /* at the end */
    int64_t end_ms;            /* the deciding tick (promoted, rolled back, paused), or the
                                  scenario's duration when still running */
    uint32_t weight;           /* canary weight at the end */
    uint32_t max_weight;       /* highest weight the canary had */
    uint64_t requests;         /* every request simulated */
    uint64_t canary_requests;  /* served by the canary from the onset (or the start, for a
                                  healthy canary) to the end: the blast radius */
    uint64_t canary_errors;    /* of those, failed */
    double excess_errors;      /* canary errors beyond the baseline's error probability at
                                  the same moments (an outage hitting both arms adds none) */
};

/* Buffers reused from run to run. */
struct sim_world {
    struct sim_series series;
    int32_t *keys;                  /* latency scratch, one per request in a second */
    roost_sketch_bucket *buckets[2];
    size_t scratch_cap;
    struct rollout_probe_signal probes[SIM_MAX_INCIDENTS];
};

roost_status sim_world_init(struct sim_world *w, roost_error *err);
void sim_world_free(struct sim_world *w);

/* Runs the scenario once under policy p with seed. latency: draw latencies
 * and sketches (needed when some policy reads a latency; costs about two
 * thirds of the run time). Errors: the policy's, ROOST_ENOMEM, ROOST_ELIMIT. */
roost_status sim_run(struct sim_world *w, const struct sim_scenario *sc, const struct sim_policy *p,
                     uint64_t seed, bool latency, struct sim_outcome *out, roost_error *err);

#endif
