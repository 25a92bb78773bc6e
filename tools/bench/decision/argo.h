/* An Argo Rollouts canary with a background analysis, modelled for the
 * decision-quality benchmark.
 *
 * The Rollout: steps setWeight w1, pause d, setWeight w2, pause d, ...,
 * then full promotion (weight 100). The AnalysisTemplate: one metric
 * "success-rate" (the canary's non-5xx share over the last interval),
 * successCondition result[0] >= min, interval, failureLimit, and Argo's
 * default consecutiveErrorLimit 4; optionally a second metric, the
 * canary's p99 <= max. It runs in the background from the first step
 * (no startingStep) until the rollout completes.
 *
 * What Argo does with it (argoproj/argo-rollouts analysis/analysis.go,
 * assessMetricFailureInconclusiveOrError, and docs/features/analysis.md):
 *   - A metric with an interval takes its first measurement as soon as the
 *     AnalysisRun starts, then one every interval, with no end.
 *   - A measurement that does not meet successCondition is Failed. The
 *     metric fails when Failed > failureLimit, counted over the whole run,
 *     not in a row: with failureLimit 3, at the fourth failed measurement.
 *     (The docs' prose says "three such measurements"; the code says
 *     four, and the code is what runs.)
 *   - A measurement that cannot be evaluated is an Error: an empty query
 *     result (no canary series yet) makes result[0] fail to evaluate. The
 *     metric errors when more than consecutiveErrorLimit happen in a row.
 *     Once the canary has reported, a window without requests gives NaN,
 *     and NaN >= min is false: Failed.
 *   - One failed or errored metric fails the AnalysisRun, which aborts the
 *     rollout: canary weight 0 at once.
 *   - Background analysis does not hold the steps: the weight keeps
 *     climbing on schedule while measurements fail, until the run fails.
 *
 * Modelling choices: the query reads exactly the last interval of the same
 * per-second data Roost reads (no scrape lag); when a measurement and a
 * step fall due at the same instant the measurement is taken first (so a
 * failing last measurement still aborts rather than racing the
 * promotion).
 */
#ifndef ROOST_BENCH_DECISION_ARGO_H
#define ROOST_BENCH_DECISION_ARGO_H

#include "tools/sim/policy.h"
#include "tools/sim/scenario.h"

struct bench_argo;

/* cfg is borrowed. Errors: ROOST_EINVAL (no weights), ROOST_ENOMEM. */
roost_status bench_argo_new(const struct sim_argo_settings *cfg, sim_event_fn on_event, void *user,
                            struct bench_argo **out, roost_error *err);
void bench_argo_free(struct bench_argo *a);
void bench_argo_policy(struct bench_argo *a, struct sim_policy *p);

#endif
