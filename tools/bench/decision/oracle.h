/* An oracle for the decision-quality benchmark: the sequential probability
 * ratio test (Wald's SPRT) that is told the regression's size.
 *
 * No policy can run it: it needs the ratio of the canary's error rate to
 * the baseline's before the data shows it. It is here because it bounds
 * what any policy reading the same error counts can do. Among tests whose
 * false rollback rate is at most alpha, the SPRT for the true alternative
 * has the smallest expected time to reject (Wald and Wolfowitz 1948), so
 * its time to roll back at a given false rollback rate is the frontier a
 * real policy's (Roost's, Flagger's) is measured against.
 *
 * What it does, every second from the start (more often than Roost's
 * analysis runs, in its favour): counts the errors of the seconds filed
 * since its last look, per arm, and adds each window's log likelihood
 * ratio of "the canary's error rate is ratio x the baseline's" against
 * "they are equal", conditional on the window's errors and traffic split
 * (rollout_rate_ratio_llr, the very term Roost's e-process sums per grid
 * ratio). It rolls back once the sum reaches ln(1 / alpha); by Ville's
 * inequality that happens to a healthy canary with probability at most
 * alpha. Otherwise it follows the rollout's own steps: a weight is held
 * for the analysis step after it (count x interval) or a timed pause, and
 * the canary is promoted after the last step. A pause until promoted ends
 * the run as paused.
 *
 * Told the baseline's error rate p0 as well, it is the SPRT of the
 * canary's own requests, p0 x ratio against p0, each request adding
 * ln(p1 / p0) if it failed and ln((1 - p1) / (1 - p0)) if not: no noise
 * from the baseline's arm at all, which no comparison with a live
 * baseline has. That is the bound for a policy that knew the baseline's
 * rate exactly (from its history before the rollout, say, and if it never
 * moved).
 */
#ifndef ROOST_BENCH_DECISION_ORACLE_H
#define ROOST_BENCH_DECISION_ORACLE_H

#include "server/rollout/spec.h"
#include "tools/sim/policy.h"

struct bench_oracle;

/* spec is borrowed (its steps and analysis interval). ratio > 1: the
 * alternative, canary error rate / baseline's. 0 < alpha < 1. baseline_rate:
 * 0 when the oracle compares with the live baseline, else the baseline's
 * error rate it is told (with baseline_rate x ratio < 1).
 * Errors: ROOST_EINVAL, ROOST_ENOMEM. */
roost_status bench_oracle_new(const struct rollout_spec *spec, double ratio, double alpha,
                              double baseline_rate, sim_event_fn on_event, void *user,
                              struct bench_oracle **out, roost_error *err);
void bench_oracle_free(struct bench_oracle *o);
void bench_oracle_policy(struct bench_oracle *o, struct sim_policy *p);

#endif
