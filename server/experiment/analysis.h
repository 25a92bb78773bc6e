/* The experiment analysis: from what has been observed so far to effects,
 * intervals, p-values, a sample-ratio check, power, stopping verdicts and a
 * recommended conclusion -- one pure function of its inputs.
 *
 * Inputs are plain numbers, not storage: per (metric, arm) the aggregate of
 * everything reported since the experiment started (count, successes, sum,
 * sum of squares -- what metrics_window in server/metrics_query.h merges),
 * and per arm the number of units exposed. The controller reads them, calls
 * experiment_analyze, stores the result's JSON with its decision, and passes
 * the result's `state` back at the next look. Nothing here reads a clock,
 * the store or a global.
 *
 * Statistical choices (docs/experiments.md has the long form):
 *
 *   Effects       absolute b - a and relative b / a - 1 (delta method), per
 *                 treatment vs the control, from the stats library.
 *   Tests         method "sequential": the always-valid mSPRT on the
 *                 absolute effect; p is the running minimum over looks and
 *                 the absolute interval the running intersection of the
 *                 confidence sequence (so "interval excludes 0" <=> "p <=
 *                 alpha", at every look). The relative interval is the
 *                 current look's confidence sequence of the lift (valid at
 *                 every look on its own). The mixing variance tau2 comes
 *                 from the MDE (plan.h, experiment_plan_tau2) and is fixed
 *                 at the first informative look (kept in the state).
 *                 method "fixed": pooled two-proportion z-test (binomial) or
 *                 Welch's t-test (mean), with normal intervals; read only
 *                 when every arm has minSamplePerArm observations of the
 *                 primary metric -- before that it is shown as provisional
 *                 and decides nothing (reading a fixed test early is
 *                 peeking). Guardrails always use the always-valid test,
 *                 whatever the method: they are watched continuously, and
 *                 "stop at once for harm" means looking before the horizon.
 *   Adjustment    primary: Holm across treatments (family-wise error of
 *                 "ship arm X"; with one treatment it changes nothing).
 *                 Guardrails: Holm across every guardrail x treatment (a
 *                 false harm alarm stops an experiment: family-wise).
 *                 Secondary: Benjamini-Hochberg across every secondary x
 *                 treatment (exploration: false discovery rate). A result is
 *                 significant when its adjusted p <= its metric's alpha.
 *                 Holm is valid for always-valid p-values at any stopping
 *                 time (it needs only valid marginal p-values); BH assumes
 *                 positive dependence, which comparisons sharing a control
 *                 have. Intervals are marginal (1 - alpha per comparison).
 *   Readability   a comparison is tested once both arms have at least
 *                 EXPERIMENT_MIN_TEST_N observations (and, for rates, the
 *                 arms together at least EXPERIMENT_MIN_EVENTS successes and
 *                 failures): the tests are normal approximations.
 *   SRM           chi-square of exposures against the planned weights;
 *                 p < EXPERIMENT_SRM_ALPHA flags the experiment and blocks
 *                 "ship" (assignment or exposure logging is broken, so no
 *                 effect can be trusted). Harm still stops: stopping is the
 *                 safe direction.
 *   Power/sample  per comparison, from plan.h with the observed control
 *                 value and variances, the spec's MDE and power, and the
 *                 metric's planning level alpha / (p-values in its family)
 *                 (Bonferroni: a lower bound on the power of Holm and BH).
 *   Verdict       see experiment_analyze below.
 *
 * Memory: struct experiment_analysis is large (about 68 kB with the fixed
 * limits of spec.h, 16 kB of it the state): allocate it, do not put it on a
 * small stack.
 */
#ifndef ROOSTD_EXPERIMENT_ANALYSIS_H
#define ROOSTD_EXPERIMENT_ANALYSIS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "roost/status.h"
#include "server/experiment/spec.h"
#include "server/stats/stats.h"

#define EXPERIMENT_SRM_ALPHA 0.001
#define EXPERIMENT_MIN_TEST_N 30 /* observations per arm before a test is read */
#define EXPERIMENT_MIN_EVENTS 5  /* rates: successes and failures, both arms together */
#define EXPERIMENT_MAX_REASONS 32
#define EXPERIMENT_REASON_MAX 320

/* One (metric, arm) aggregate since the experiment started. For binomial
 * metrics count and successes are read; for mean metrics count, sum and
 * sum_squares. */
struct experiment_agg {
    uint64_t count;
    uint64_t successes;
    double sum;
    double sum_squares;
};

/* Everything observed so far. Arrays follow the spec's order. */
struct experiment_observations {
    const uint64_t *exposures;         /* [narms]: units exposed per arm */
    const struct experiment_agg *aggs; /* [nmetrics * narms]: aggs[m * narms + a] */
    int64_t elapsed_ms;                /* since the experiment started (>= 0) */
};

/* What an always-valid test carries from one look to the next. */
struct experiment_seq_state {
    bool started;          /* false until the first informative look */
    roost_stats_msprt test; /* tau2, alpha, running-minimum p, running interval, looks */
};

/* Carried between looks: the result's `state`, passed back as `prev`. Also
 * rebuilt from a stored analysis JSON by experiment_state_from_json. */
struct experiment_state {
    uint64_t looks; /* analyses so far */
    /* [metric][arm], arm >= 1 (the control is not compared with itself) */
    struct experiment_seq_state seq[EXPERIMENT_MAX_METRICS][EXPERIMENT_MAX_ARMS];
};

enum experiment_test {
    EXPERIMENT_TEST_MSPRT,          /* always-valid */
    EXPERIMENT_TEST_TWO_PROPORTION, /* fixed horizon, binomial */
    EXPERIMENT_TEST_WELCH           /* fixed horizon, mean */
};

enum experiment_outcome {
    EXPERIMENT_INSUFFICIENT, /* not enough data to read a test */
    EXPERIMENT_NEUTRAL,      /* no significant difference (or provisional) */
    EXPERIMENT_BETTER,       /* significant, in the metric's good direction */
    EXPERIMENT_WORSE         /* significant, in the bad direction */
};

enum experiment_adjustment { EXPERIMENT_ADJUST_HOLM, EXPERIMENT_ADJUST_BH };

struct experiment_arm_stats {
    uint64_t n;         /* observations of the metric */
    uint64_t successes; /* binomial */
    double value;       /* rate or mean (0 without observations) */
    double var;         /* per-observation variance: p (1 - p), or the sample variance */
};

/* One treatment against the control on one metric. */
struct experiment_comparison {
    enum experiment_outcome outcome;
    bool testable;    /* enough data to read the test */
    bool provisional; /* fixed test before its horizon: shown, decides nothing */
    bool significant; /* p_adjusted <= alpha and read at a point where it may decide */
    bool has_effect;  /* both arms have the observations an estimate needs (2 each) */
    roost_stats_interval absolute; /* b - a (lo, hi: always-valid for the mSPRT) */
    bool has_relative;             /* false when the control's value is 0 */
    roost_stats_interval relative; /* b / a - 1 */
    double p;          /* two-sided; 1 when not testable */
    double p_adjusted; /* within the metric's family */
    double mde_absolute; /* the MDE in the metric's units; 0 when unknown (a relative
                            MDE of a control at 0) */
    double power;        /* against the MDE, if read now; -1 when unknown */
    uint64_t needed_control, needed_treatment; /* sample for the planned power; 0 = unknown */
};

struct experiment_metric_result {
    enum experiment_test test;
    enum experiment_adjustment adjustment;
    size_t family_size;    /* p-values adjusted together */
    double planning_alpha; /* alpha / family_size: the level power and sample use */
    struct experiment_arm_stats arms[EXPERIMENT_MAX_ARMS];
    struct experiment_comparison cmp[EXPERIMENT_MAX_ARMS]; /* [arm >= 1]; [0] unused */
};

enum experiment_action {
    EXPERIMENT_CONTINUE, /* keep collecting */
    EXPERIMENT_STOP,     /* stopping is allowed (clear result, or the end was reached) */
    EXPERIMENT_STOP_NOW  /* guardrail harm with harmStop: stop at once */
};

enum experiment_conclusion {
    EXPERIMENT_INCONCLUSIVE,
    EXPERIMENT_SHIP,     /* ship arm `ship_arm` */
    EXPERIMENT_ROLL_BACK /* keep the control */
};

struct experiment_analysis {
    uint64_t looks;      /* including this one */
    int64_t elapsed_ms;
    uint64_t exposures[EXPERIMENT_MAX_ARMS];
    uint64_t exposures_total;
    roost_stats_chi2test srm;
    bool srm_mismatch;        /* srm.p < EXPERIMENT_SRM_ALPHA */
    bool min_sample_reached;  /* every arm has minSamplePerArm observations of the primary */
    bool max_duration_reached;
    struct experiment_metric_result metrics[EXPERIMENT_MAX_METRICS];

    enum experiment_action action;
    enum experiment_conclusion conclusion; /* what to conclude if the experiment ends now */
    int ship_arm;                          /* arm index when conclusion is SHIP, else -1 */
    bool early_stop; /* the action is STOP for a clear result before the end */
    bool harm;       /* some guardrail is significantly worse in some treatment */
    char reasons[EXPERIMENT_MAX_REASONS][EXPERIMENT_REASON_MAX];
    size_t nreasons;

    struct experiment_state state; /* pass as `prev` to the next look */
};

/* Analyses one look. prev is the previous look's `state` (NULL at the first
 * look); it must come from the same spec (metric and arm indexes are
 * positions in it).
 *
 * Verdict, in order of precedence:
 *   1. A guardrail significantly worse (Holm-adjusted, always-valid) in any
 *      treatment: conclusion ROLL_BACK; action STOP_NOW when stopping.harmStop
 *      (CONTINUE otherwise: a person decides).
 *   2. Every treatment significantly worse on the primary, with
 *      minSamplePerArm reached: ROLL_BACK; STOP (when harmStop).
 *   3. Treatments significantly better on the primary, without guardrail
 *      harm, with minSamplePerArm reached in the arm and the control: SHIP
 *      the one with the largest estimated improvement -- unless SRM, which
 *      makes it INCONCLUSIVE. Sequential: STOP when stopping.earlyWin
 *      (early_stop), else CONTINUE to the end. Fixed: its horizon is reached
 *      by construction, STOP.
 *   4. Otherwise INCONCLUSIVE.
 * Whatever the case, reaching maxDuration, or for the fixed method the
 * horizon, turns CONTINUE into STOP: the experiment is over.
 * `reasons` explain the verdict in sentences with the numbers.
 *
 * Errors: ROOST_EINVAL (NULL arguments, negative elapsed time, an aggregate
 * with more successes than observations or non-finite sums; the message
 * names metric and arm), and a stats-library error prefixed with the metric
 * and arm (should not happen for valid inputs). *out is written only on
 * success. */
roost_status experiment_analyze(const struct experiment_spec *spec,
                                const struct experiment_observations *obs,
                                const struct experiment_state *prev,
                                struct experiment_analysis *out, roost_error *err);

/* The analysis as JSON (docs/experiments.md, "Analysis JSON"): what
 * `roostctl experiment results --json` prints and decision records hold.
 * Non-finite numbers never appear (intervals that are unbounded are null).
 * *out is a new tree the caller deletes. Errors: ROOST_EINVAL, ROOST_ENOMEM. */
roost_status experiment_analysis_to_json(const struct experiment_spec *spec,
                                         const struct experiment_analysis *a, cJSON **out,
                                         roost_error *err);

/* Rebuilds the state to pass as `prev` from a stored analysis JSON (the
 * output of experiment_analysis_to_json for the same spec). Metrics and arms
 * are matched by name; ones the JSON does not have start fresh. Errors:
 * ROOST_EINVAL (not an analysis object, or a malformed "sequential" entry;
 * the message gives its path). */
roost_status experiment_state_from_json(const struct experiment_spec *spec, const cJSON *analysis,
                                        struct experiment_state *out, roost_error *err);

/* Names used in the JSON: "msprt", "two-proportion", "welch"; "insufficient",
 * "neutral", "better", "worse"; "holm", "benjamini-hochberg"; "continue",
 * "stop", "stop_now"; "inconclusive", "ship", "roll_back". */
const char *experiment_test_name(enum experiment_test t);
const char *experiment_outcome_name(enum experiment_outcome o);
const char *experiment_adjustment_name(enum experiment_adjustment a);
const char *experiment_action_name(enum experiment_action a);
const char *experiment_conclusion_name(enum experiment_conclusion c);

#endif
