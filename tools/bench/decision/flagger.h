/* Flagger's canary analysis, modelled for the decision-quality benchmark.
 *
 * What Flagger does (fluxcd/flagger, pkg/controller/scheduler.go,
 * advanceCanary, one call per analysis.interval, and docs.flagger.app
 * "Deployment Strategies: Canary Release"), in the order of one tick:
 *
 *   1. If the failed checks have reached analysis.threshold, roll back:
 *      all traffic to the primary. The count is checked at the start of
 *      the tick after the failure that reached it, so with threshold 5 the
 *      rollback comes one interval after the fifth failed check.
 *   2. The first tick of an analysis (weight 0, no iteration yet) runs
 *      only the pre-rollout hooks; every later one runs the metric checks.
 *      request-success-rate is the canary's non-5xx share over the metric
 *      interval, in percent; it fails below thresholdRange.min.
 *      request-duration is the canary's p99 in ms; it fails above
 *      thresholdRange.max. A query without data ("no values found",
 *      the canary got no traffic) fails the check too. A failed check adds
 *      one to the failed checks, which are never reset during the
 *      analysis, and holds the weight ("halt advancement").
 *   3. Checks passed: below maxWeight the canary weight goes up by
 *      stepWeight; at maxWeight the canary is promoted (its spec copied to
 *      the primary, which then gets all the traffic).
 *
 * Modelling choices, all in Flagger's favour or neutral: the analysis
 * starts with the weight already at stepWeight (the detection and
 * initialisation ticks before it are not counted), the metric interval is
 * the analysis interval (both 1m in the default), the query reads exactly
 * the last interval of the same per-second data Roost reads (no Prometheus
 * scrape lag, no rate() extrapolation), and promotion counts as done at
 * the tick that starts it (Flagger's promoting and finalising ticks, two
 * more intervals with the new version serving everything, are not
 * counted).
 */
#ifndef ROOST_BENCH_DECISION_FLAGGER_H
#define ROOST_BENCH_DECISION_FLAGGER_H

#include "tools/sim/policy.h"
#include "tools/sim/scenario.h"

struct bench_flagger;

/* cfg is borrowed. Errors: ROOST_ENOMEM. */
roost_status bench_flagger_new(const struct sim_flagger_settings *cfg, sim_event_fn on_event,
                               void *user, struct bench_flagger **out, roost_error *err);
void bench_flagger_free(struct bench_flagger *f);
void bench_flagger_policy(struct bench_flagger *f, struct sim_policy *p);

#endif
