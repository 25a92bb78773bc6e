/* What roost-sim prints: a run's timeline of decisions, its outcome, and
 * statistics over many runs. Shared by every mode (a live driver feeds the
 * same events and outcomes) and by the decision-quality benchmark.
 *
 * Text is for people: one line per decision, "    41s  <summary>", then a
 * summary line. JSON is for programs: one object per run with the
 * decision records exactly as roostd stores them, or one object of
 * statistics. Output is written as it happens (a run's JSON is streamed),
 * so a long live run shows progress and a crash leaves what was decided.
 *
 * Percentiles are the lower order statistic x_(floor(q (n - 1))), the same
 * rule as the rollout quality test, so figures can be compared with it.
 */
#ifndef ROOST_TOOLS_SIM_REPORT_H
#define ROOST_TOOLS_SIM_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "roost/status.h"
#include "tools/sim/policy.h"
#include "tools/sim/scenario.h"
#include "tools/sim/virtual.h"

/* ---- one run ---------------------------------------------------------------- */

struct sim_printer {
    FILE *out;
    bool json;
    bool first;      /* no decision printed yet in this run */
    int64_t t0_ms;   /* times are printed relative to this */
    unsigned decisions;
};

void sim_printer_init(struct sim_printer *pr, FILE *out, bool json, int64_t t0_ms);

/* Starts a run: a header line, or the run object's opening. */
void sim_print_run_begin(struct sim_printer *pr, const struct sim_scenario *sc, const char *policy,
                         uint64_t seed);

/* An event sink (sim_event_fn) that prints each decision. user: the printer. */
void sim_print_event(void *user, const struct sim_event *ev);

/* Ends the run with its outcome. */
void sim_print_run_end(struct sim_printer *pr, const struct sim_scenario *sc,
                       const struct sim_outcome *o);

/* One line describing an outcome ("rolled back at 41s (weight 10 -> 0);
 * canary served 402 requests, 9 errors, 6.9 beyond the baseline's"). */
void sim_outcome_text(const struct sim_scenario *sc, const struct sim_outcome *o, char *out,
                      size_t cap);

/* ---- many runs ---------------------------------------------------------------- */

struct sim_stats {
    struct sim_outcome *runs;
    size_t n, cap;
};

void sim_stats_init(struct sim_stats *st);
void sim_stats_free(struct sim_stats *st);
/* Errors: ROOST_ENOMEM. */
roost_status sim_stats_add(struct sim_stats *st, const struct sim_outcome *o, roost_error *err);

/* Distribution of one quantity over runs; NAN fields when n == 0. */
struct sim_dist {
    size_t n;
    double mean, p50, p90, max;
};

struct sim_summary {
    size_t runs, promoted, rolled_back, paused, unfinished;
    struct sim_dist rollback_s;   /* time from the onset (or the start) to the rollback */
    struct sim_dist promote_s;    /* time from the start to the promotion */
    struct sim_dist blast_requests; /* canary requests from the onset to the rollback */
    struct sim_dist blast_excess;   /* canary errors beyond the baseline's, same span */
    double rollback_rate;         /* rolled_back / runs */
    double rollback_rate_hi95;    /* upper end of its 95 % Wilson interval */
};

/* Errors: ROOST_ENOMEM (scratch for the percentiles). */
roost_status sim_stats_summarize(const struct sim_stats *st, const struct sim_scenario *sc,
                                 struct sim_summary *out, roost_error *err);

/* Prints a summary: text lines, or one JSON object (a line). */
void sim_print_summary(FILE *out, bool json, const struct sim_scenario *sc, const char *policy,
                       uint64_t seed, const struct sim_summary *s);

#endif
