/* What the decision benchmarks share: running one policy over a scenario's
 * seeded runs, and the numbers as their tables print them. */
#ifndef ROOST_BENCH_DECISION_RUNS_H
#define ROOST_BENCH_DECISION_RUNS_H

#include <stddef.h>
#include <stdint.h>

#include "tools/sim/report.h"
#include "tools/sim/virtual.h"

/* Runs sc under p with seeds seed .. seed + runs - 1 and summarizes the
 * outcomes into *out. Errors: sim_run's (prefixed with the policy's name
 * and the seed), ROOST_ENOMEM. */
roost_status bench_run_policy(struct sim_world *w, const struct sim_scenario *sc,
                              const struct sim_policy *p, const char *name, uint64_t runs,
                              uint64_t seed, struct sim_summary *out, roost_error *err);

/* True when a policy reading sc needs latencies drawn. */
bool bench_needs_latency(const struct sim_scenario *sc);

/* "51 s", or "–" when there is nothing to show. */
const char *bench_secs(char *buf, size_t cap, double s);

/* x with that many decimals, or "–"; never "-0.0". */
const char *bench_num(char *buf, size_t cap, double x, int decimals);

/* 100 x / n, NaN when n is 0. */
double bench_pct(size_t x, size_t n);

#endif
