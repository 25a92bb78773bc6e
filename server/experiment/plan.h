/* The planner: how many observations per arm an experiment needs to detect
 * its minimum detectable effect (MDE) with the power it asks for, for the
 * fixed-horizon test and for the always-valid sequential test, and what
 * power the data collected so far gives.
 *
 * Formulas (docs/experiments.md derives them; z_x is the standard normal
 * quantile, p1/p2 the control/treatment rates, q = 1 - p, d the absolute
 * effect, k = treatment units per control unit):
 *
 *   fixed, binomial   n_c = (z_{1-a/2} sqrt(pbar qbar (1 + 1/k))
 *                           + z_{power} sqrt(p1 q1 + p2 q2 / k))^2 / d^2,
 *                     pbar = (p1 + k p2) / (1 + k).
 *                     The sample size of the pooled two-proportion z-test
 *                     the analysis runs (Fleiss, "Statistical Methods for
 *                     Rates and Proportions", without continuity
 *                     correction): variance under the null for the
 *                     critical value, under the alternative for the power.
 *                     Baseline 0.10, d = 0.02, a = 0.05, power 0.8: 3,841.
 *   fixed, mean       n_c = (z_{1-a/2} + z_{power})^2 (s_c^2 + s_t^2 / k) / d^2
 *                     (normal approximation of Welch's test: at the sample
 *                     sizes experiments need, t and z quantiles agree to
 *                     well under 1 %).
 *   sequential        n_c = (c + z_{power})^2 S / d^2, S = p1 q1 + p2 q2 / k
 *                     or s_c^2 + s_t^2 / k, where c is the |z| the mSPRT
 *                     needs at the planned sample when its mixing variance
 *                     tau2 is tuned there (GrowthBook's rule, stats.h):
 *                       g  = -2 ln a + ln(1 - 2 ln a),   tau2 / V = g,
 *                       c^2 = (1 + 1/g) (ln(1 + g) - 2 ln a).
 *                     a = 0.05: g = 7.94, c = 3.035 (against 1.960 for one
 *                     fixed test), so n is about 1.9 x the fixed sample.
 *
 * The sequential figure is a documented approximation and an upper bound:
 * it is the sample at which reading the test ONCE, at the end, has the
 * target power. Every earlier look is an extra chance to cross, so with
 * repeated looks the real power at that sample is higher. The planner
 * measures how much by simulation (deterministic: fixed seed, so the same
 * input always gives the same numbers): Brownian paths of the z-statistic
 * observed at `looks` evenly spaced looks, the exact mSPRT boundary at
 * each look. It reports the power with those looks at the planned sample,
 * the expected sample at stopping (as a fraction of it) when the true
 * effect is the MDE, and the smaller sample that would reach the target
 * power with those looks. The headline number stays the closed-form bound
 * because it does not depend on how often someone looks, and the analysis
 * (analysis.h) uses the same formula, so `plan` and `results` agree.
 *
 * Several treatments: each is compared with the control at
 * a' = a / (arms - 1) (Bonferroni; default) or 1 - (1 - a)^(1 / (arms - 1))
 * (Sidak). Bonferroni is the default because the analysis adjusts the
 * primary metric with Holm, whose first step is exactly Bonferroni: a
 * sample planned at a / (arms - 1) has at least the planned power under
 * Holm. Sidak is slightly less conservative and exact for independent
 * comparisons, which comparisons sharing one control are not.
 *
 * Pure functions: no global state; the simulation allocates its paths
 * (a few MB at most) and frees them before returning.
 */
#ifndef ROOSTD_EXPERIMENT_PLAN_H
#define ROOSTD_EXPERIMENT_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "roost/status.h"
#include "server/experiment/spec.h"

#define EXPERIMENT_PLAN_DEFAULT_LOOKS 20
#define EXPERIMENT_PLAN_MAX_LOOKS 1000
/* Simulated paths: as many as fit in EXPERIMENT_PLAN_SIM_VALUES z-values,
 * at most EXPERIMENT_PLAN_SIM_PATHS (20,000 paths: power within +-0.6 % at
 * 95 % confidence). */
#define EXPERIMENT_PLAN_SIM_PATHS 20000u
#define EXPERIMENT_PLAN_SIM_VALUES 2000000u
#define EXPERIMENT_PLAN_SEED 0x526f6f7374ULL /* "Roost" */
/* Largest planned sample per arm (beyond it: "more than 10^12"). */
#define EXPERIMENT_PLAN_MAX_N 1000000000000ULL

enum experiment_correction {
    EXPERIMENT_BONFERRONI, /* a / (arms - 1) */
    EXPERIMENT_SIDAK       /* 1 - (1 - a)^(1 / (arms - 1)) */
};

struct experiment_plan_input {
    enum experiment_metric_type type;
    double baseline;     /* control: a rate in (0, 1) (binomial) or a mean */
    double sd;           /* mean: the control's standard deviation (> 0) */
    double sd_treatment; /* mean: the treatment's; 0 = same as sd */
    double mde;          /* > 0; a fraction of baseline when `relative` */
    bool relative;
    enum experiment_direction direction; /* the effect's sign (matters for rates) */
    double alpha;        /* (0, 0.5]: two-sided, family-wise over the treatments */
    double power;        /* [0.5, 0.999] */
    uint32_t arms;       /* >= 2: the control and arms - 1 treatments */
    double ratio;        /* treatment units per control unit (> 0; 0 means 1) */
    enum experiment_correction correction;
    uint32_t looks;      /* sequential simulation with this many looks; 0 = skip,
                            1 = exact (no simulation needed) */
};

struct experiment_plan {
    double delta;           /* absolute effect planned for (negative for a decrease) */
    double treatment_value; /* baseline + delta */
    double alpha_comparison; /* per treatment-vs-control comparison */
    double z_alpha;          /* z_{1 - a'/2} */
    double z_power;          /* z_{power} */

    /* Fixed horizon: one test when every arm has its sample. */
    uint64_t fixed_control, fixed_treatment, fixed_total;

    /* Sequential (always-valid mSPRT): the closed-form bound above. */
    double boundary;    /* c: the |z| needed at the planned sample */
    double tau2;        /* mixing variance tuned at the planned sample, metric units^2 */
    uint64_t seq_control, seq_treatment, seq_total;
    double seq_inflation; /* seq_control / fixed_control */

    /* Sequential, simulated with `looks` evenly spaced looks (looks = 0: not
     * run, fields 0). */
    uint32_t looks;
    uint32_t sim_paths;
    double sim_power;             /* power at seq_control with those looks */
    double sim_expected_fraction; /* E[observations at stop] / seq_control, true effect = MDE */
    uint64_t sim_control;         /* smallest control sample reaching the target power */
    uint64_t sim_treatment;
};

/* Computes the plan. Errors: ROOST_EINVAL with a message naming the input
 * ("baseline: a rate must be above 0 and below 1, got 1.5"; "baseline 0.9
 * + mde 0.2 = 1.1 is not a rate"), ROOST_ELIMIT (more than 10^12 per arm:
 * the effect is too small to detect), ROOST_ENOMEM (simulation paths). */
roost_status experiment_plan_compute(const struct experiment_plan_input *in,
                                     struct experiment_plan *out, roost_error *err);

/* The sequential boundary pieces for level a' in (0, 1): g (tau2 / V at
 * the planned sample) and c (|z| needed there). */
void experiment_plan_boundary(double alpha, double *g, double *c);

/* The mixing variance the analysis uses for an absolute effect delta at
 * level a' and the given power: tau2 = g delta^2 / (c + z_power)^2, which is
 * GrowthBook's rule with the planned sample -- the variances cancel, so
 * tau2 follows from the MDE alone. */
double experiment_plan_tau2(double delta, double alpha, double power);

/* The power the data so far gives against the MDE: the probability that
 * the test, read now with n_control and n_treatment observations, rejects
 * in the right direction when the true effect is the MDE. in->looks,
 * in->arms and in->correction are ignored: in->alpha is the level per
 * comparison. tau2 > 0: the sequential test with that mixing variance;
 * tau2 = 0: the fixed test. Errors: ROOST_EINVAL (as experiment_plan_compute,
 * or a zero sample). */
roost_status experiment_plan_power(const struct experiment_plan_input *in, uint64_t n_control,
                                   uint64_t n_treatment, double tau2, double *power,
                                   roost_error *err);

/* Names: "bonferroni", "sidak". */
const char *experiment_correction_name(enum experiment_correction c);

#endif
