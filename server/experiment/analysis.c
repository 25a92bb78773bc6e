/* The experiment analysis: numbers in, verdict out. See analysis.h for the
 * statistical choices and docs/experiments.md for the reasoning.
 *
 * The function works in four passes over the (metric, treatment) grid:
 *   1. per-arm summaries from the aggregates (and input validation);
 *   2. per comparison: effect, test, p-value, power and sample still needed;
 *   3. per family (primary / secondary / guardrails): adjusted p-values, then
 *      significance and outcome;
 *   4. the verdict, with reasons in words.
 * The result is built in heap scratch and copied out at the end, so *out is
 * untouched on error, as every Roost function promises.
 */
#include "server/experiment/analysis.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/experiment/plan.h"

#define GRID (EXPERIMENT_MAX_METRICS * EXPERIMENT_MAX_ARMS)

/* ----------------------------------------------------------------- wording */

static void reason(struct experiment_analysis *a, const char *fmt, ...)
{
    va_list ap;

    if (a->nreasons == EXPERIMENT_MAX_REASONS) {
        /* Keep the first ones (the verdict's own) and say that more exist. */
        snprintf(a->reasons[EXPERIMENT_MAX_REASONS - 1], EXPERIMENT_REASON_MAX,
                 "(more reasons left out; the metrics hold every number)");
        return;
    }
    va_start(ap, fmt);
    vsnprintf(a->reasons[a->nreasons++], EXPERIMENT_REASON_MAX, fmt, ap);
    va_end(ap);
}

/* A metric's value: rates as percentages, means with 4 significant digits. */
static void fmt_value(const struct experiment_metric *m, double v, char *out, size_t cap)
{
    if (m->type == EXPERIMENT_BINOMIAL)
        snprintf(out, cap, "%.2f %%", 100 * v);
    else
        snprintf(out, cap, "%.4g", v);
}

/* An absolute effect: percentage points for rates. */
static void fmt_abs(const struct experiment_metric *m, double v, char *out, size_t cap)
{
    if (m->type == EXPERIMENT_BINOMIAL)
        snprintf(out, cap, "%+.2f pp", 100 * v);
    else
        snprintf(out, cap, "%+.4g", v);
}

/* "+0.51 pp (+5.1 %), p = 0.0031 (adjusted 0.0062)" */
static void fmt_effect(const struct experiment_metric *m, const struct experiment_comparison *c,
                       char *out, size_t cap)
{
    char abs[48], rel[48] = "";

    fmt_abs(m, c->absolute.estimate, abs, sizeof abs);
    if (c->has_relative)
        snprintf(rel, sizeof rel, " (%+.1f %%)", 100 * c->relative.estimate);
    if (c->p_adjusted != c->p)
        snprintf(out, cap, "%s%s, p = %.2g (adjusted %.2g)", abs, rel, c->p, c->p_adjusted);
    else
        snprintf(out, cap, "%s%s, p = %.2g", abs, rel, c->p);
}

static const char *group_label(enum experiment_role r)
{
    return r == EXPERIMENT_PRIMARY ? "primary" : r == EXPERIMENT_SECONDARY ? "secondary"
                                                                           : "guardrail";
}

/* ------------------------------------------------------------- pass 1: arms */

static roost_status arm_stats(const struct experiment_metric *m, const struct experiment_agg *g,
                              const char *arm, struct experiment_arm_stats *out, roost_error *err)
{
    memset(out, 0, sizeof *out);
    out->n = g->count;
    if (g->successes > g->count)
        return roost_error_set(err, ROOST_EINVAL,
                               "metric '%s', arm '%s': %llu successes out of %llu observations",
                               m->name, arm, (unsigned long long)g->successes,
                               (unsigned long long)g->count);
    if (g->count == 0)
        return ROOST_OK;
    if (m->type == EXPERIMENT_BINOMIAL) {
        out->successes = g->successes;
        out->value = (double)g->successes / (double)g->count;
        out->var = out->value * (1 - out->value);
        return ROOST_OK;
    }
    roost_stats_summary s;
    roost_status rc;
    if (!isfinite(g->sum) || !isfinite(g->sum_squares) || g->sum_squares < 0)
        return roost_error_set(err, ROOST_EINVAL,
                               "metric '%s', arm '%s': sums are not finite (sum %g, sum of "
                               "squares %g)",
                               m->name, arm, g->sum, g->sum_squares);
    if ((rc = roost_stats_summary_from_sums(g->count, g->sum, g->sum_squares, &s, err))) {
        roost_error_prefix(err, "metric '%s', arm '%s': ", m->name, arm);
        return rc;
    }
    out->value = s.mean;
    out->var = s.var;
    return ROOST_OK;
}

/* ------------------------------------------------------- pass 2: comparisons */

struct cmp_ctx {
    const struct experiment_spec *spec;
    const struct experiment_metric *m;
    struct experiment_metric_result *res;
    size_t arm;
    bool horizon; /* fixed: every arm reached minSamplePerArm */
    struct experiment_seq_state *seq;
};

static roost_status effect(const struct cmp_ctx *x, struct experiment_comparison *c,
                           roost_error *err)
{
    const struct experiment_arm_stats *a = &x->res->arms[0], *b = &x->res->arms[x->arm];
    roost_stats_effect e;
    roost_status rc;

    if (a->n < 2 || b->n < 2)
        return ROOST_OK; /* no estimate yet: has_effect stays false */
    if (x->m->type == EXPERIMENT_BINOMIAL) {
        rc = roost_stats_effect_proportions(a->successes, a->n, b->successes, b->n, x->m->alpha,
                                            &e, err);
    } else {
        roost_stats_summary sa = {a->n, a->value, a->var}, sb = {b->n, b->value, b->var};
        rc = roost_stats_effect_means(&sa, &sb, x->m->alpha, &e, err);
    }
    if (rc)
        return rc;
    c->has_effect = true;
    c->absolute = e.absolute;
    c->has_relative = e.has_relative;
    c->relative = e.relative;
    return ROOST_OK;
}

static void power_and_sample(const struct cmp_ctx *x, struct experiment_comparison *c,
                             double tau2)
{
    const struct experiment_arm_stats *a = &x->res->arms[0], *b = &x->res->arms[x->arm];
    struct experiment_plan plan;
    double pw;

    if (!(c->mde_absolute > 0) || a->n < 2 || b->n < 2)
        return;
    struct experiment_plan_input in = {
        .type = x->m->type,
        .baseline = a->value,
        .sd = sqrt(a->var),
        .sd_treatment = sqrt(b->var),
        .mde = c->mde_absolute,
        .relative = false,
        .direction = x->m->direction,
        .alpha = x->res->planning_alpha,
        .power = x->m->power,
        .arms = 2, /* planning_alpha is already per comparison */
        .ratio = (double)x->spec->arms[x->arm].weight / (double)x->spec->arms[0].weight,
        .correction = EXPERIMENT_BONFERRONI,
        .looks = 0,
    };
    /* Inputs the planner refuses (a rate of 0 so far, a constant control)
     * leave power and sample unknown: there is nothing to plan from yet. */
    if (experiment_plan_compute(&in, &plan, NULL) == ROOST_OK) {
        bool seq = x->res->test == EXPERIMENT_TEST_MSPRT;
        c->needed_control = seq ? plan.seq_control : plan.fixed_control;
        c->needed_treatment = seq ? plan.seq_treatment : plan.fixed_treatment;
        if (x->res->test == EXPERIMENT_TEST_MSPRT && !(tau2 > 0))
            tau2 = plan.tau2;
        if (experiment_plan_power(&in, a->n, b->n, seq ? tau2 : 0, &pw, NULL) == ROOST_OK)
            c->power = pw;
    }
}

static roost_status compare(const struct cmp_ctx *x, roost_error *err)
{
    const struct experiment_metric *m = x->m;
    const struct experiment_arm_stats *a = &x->res->arms[0], *b = &x->res->arms[x->arm];
    struct experiment_comparison *c = &x->res->cmp[x->arm];
    roost_status rc;
    double v;

    memset(c, 0, sizeof *c);
    c->p = 1;
    c->power = -1;
    c->outcome = EXPERIMENT_INSUFFICIENT;
    c->mde_absolute = !m->mde_relative ? m->mde : a->n ? m->mde * fabs(a->value) : 0;
    if ((rc = effect(x, c, err)))
        return rc;
    if (x->seq->started)
        c->p = x->seq->test.p; /* evidence already gathered stays */

    /* Readable: enough observations for the normal approximation, and some
     * variance (two constant arms carry no information for these tests). */
    bool readable = c->has_effect && a->n >= EXPERIMENT_MIN_TEST_N && b->n >= EXPERIMENT_MIN_TEST_N;
    if (readable && m->type == EXPERIMENT_BINOMIAL) {
        uint64_t succ = a->successes + b->successes, all = a->n + b->n;
        readable = succ >= EXPERIMENT_MIN_EVENTS && all - succ >= EXPERIMENT_MIN_EVENTS;
    }
    v = c->absolute.se * c->absolute.se;
    if (readable && !(v > 0))
        readable = false;

    if (readable && x->res->test == EXPERIMENT_TEST_MSPRT) {
        roost_stats_msprt t;
        roost_stats_msprt_look look;
        if (x->seq->started) {
            t = x->seq->test;
        } else if (c->mde_absolute > 0) {
            /* tau2 from the MDE, fixed from here on (the state keeps it). */
            double tau2 = experiment_plan_tau2(c->mde_absolute, x->res->planning_alpha, m->power);
            if ((rc = roost_stats_msprt_init(&t, tau2, m->alpha, 0, err)))
                return rc;
        } else {
            readable = false; /* a relative MDE of a control at 0: nothing to tune to yet */
        }
        if (readable) {
            if ((rc = roost_stats_msprt_update(&t, c->absolute.estimate, v, &look, err)))
                return rc;
            if (look.informative) {
                x->seq->test = t;
                x->seq->started = true;
            }
            if (x->seq->started) {
                c->p = x->seq->test.p;
                c->absolute.lo = x->seq->test.lo;
                c->absolute.hi = x->seq->test.hi;
            } else {
                readable = false;
            }
        }
        if (readable && c->has_relative && a->value != 0 && c->relative.se > 0) {
            /* The lift's own confidence sequence, with the same prior on the
             * relative scale (tau2 / control^2). */
            double lo, hi;
            if ((rc = roost_stats_msprt_interval(c->relative.estimate,
                                                 c->relative.se * c->relative.se,
                                                 x->seq->test.tau2 / (a->value * a->value),
                                                 m->alpha, &lo, &hi, err)))
                return rc;
            c->relative.lo = lo;
            c->relative.hi = hi;
        }
    } else if (readable) {
        c->provisional = !x->horizon;
        if (m->type == EXPERIMENT_BINOMIAL) {
            roost_stats_ztest z;
            if ((rc = roost_stats_two_proportion(a->successes, a->n, b->successes, b->n, &z, err)))
                return rc;
            c->p = z.p;
        } else {
            roost_stats_summary sa = {a->n, a->value, a->var}, sb = {b->n, b->value, b->var};
            roost_stats_ttest t;
            if ((rc = roost_stats_welch(&sa, &sb, &t, err)))
                return rc;
            c->p = t.p;
        }
    }
    c->testable = readable;
    power_and_sample(x, c, x->seq->started ? x->seq->test.tau2 : 0);
    return ROOST_OK;
}

/* -------------------------------------------------------- pass 3: families */

struct family {
    struct experiment_comparison *c[GRID];
    size_t n;
};

static roost_status adjust(struct family *f, enum experiment_adjustment how, roost_error *err)
{
    double p[GRID], adj[GRID];
    bool reject[GRID];
    size_t work[GRID];
    roost_status rc;

    for (size_t i = 0; i < f->n; i++)
        p[i] = f->c[i]->p;
    /* The level only decides `reject`, which is not used: each metric
     * compares its adjusted p with its own alpha. */
    rc = how == EXPERIMENT_ADJUST_HOLM ? roost_stats_holm(p, f->n, 0.05, adj, reject, work, err)
                                       : roost_stats_benjamini_hochberg(p, f->n, 0.05, adj, reject,
                                                                        work, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < f->n; i++)
        f->c[i]->p_adjusted = adj[i];
    return ROOST_OK;
}

static void decide(const struct experiment_metric *m, struct experiment_comparison *c,
                   enum experiment_test test)
{
    c->significant = c->testable && !c->provisional && c->p_adjusted <= m->alpha;
    if (!c->testable) {
        c->outcome = EXPERIMENT_INSUFFICIENT;
        return;
    }
    if (!c->significant) {
        c->outcome = EXPERIMENT_NEUTRAL;
        return;
    }
    /* Direction: the side of zero the interval is on for the always-valid
     * test (its running interval excludes 0 exactly when p <= alpha), the
     * estimate's sign for the fixed tests. */
    double side = test == EXPERIMENT_TEST_MSPRT
                      ? (c->absolute.lo > 0 ? 1 : c->absolute.hi < 0 ? -1 : c->absolute.estimate)
                      : c->absolute.estimate;
    if (side == 0) {
        c->outcome = EXPERIMENT_NEUTRAL;
        c->significant = false;
        return;
    }
    bool up = side > 0;
    c->outcome = up == (m->direction == EXPERIMENT_INCREASE) ? EXPERIMENT_BETTER : EXPERIMENT_WORSE;
}

/* ---------------------------------------------------------- pass 4: verdict */

/* An improvement in the metric's good direction (larger is better). */
static double improvement(const struct experiment_metric *m, const struct experiment_comparison *c)
{
    double e = c->has_relative ? c->relative.estimate : c->absolute.estimate;
    return m->direction == EXPERIMENT_INCREASE ? e : -e;
}

static bool arm_min_sample(const struct experiment_spec *s, const struct experiment_analysis *a,
                           size_t arm)
{
    const struct experiment_arm_stats *p = a->metrics[0].arms;
    return p[0].n >= s->min_sample_per_arm && p[arm].n >= s->min_sample_per_arm;
}

static void verdict(const struct experiment_spec *s, struct experiment_analysis *a)
{
    const struct experiment_metric *pm = &s->metrics[0];
    const struct experiment_metric_result *pr = &a->metrics[0];
    bool harm_arm[EXPERIMENT_MAX_ARMS] = {false};
    size_t losers = 0, best = 0;
    double best_gain = 0;
    bool fixed = s->method == EXPERIMENT_FIXED;
    char text[160], v1[32], v0[32], dur[32];

    a->action = EXPERIMENT_CONTINUE;
    a->conclusion = EXPERIMENT_INCONCLUSIVE;
    a->ship_arm = -1;

    /* Data quality first: it qualifies every other sentence. */
    if (a->exposures_total == 0) {
        reason(a, "no exposures reported yet: the sample-ratio check cannot run");
    } else if (a->srm_mismatch) {
        /* At most 8 arms of "/100.00": the buffers cannot overflow. */
        char got[EXPERIMENT_MAX_ARMS * 8 + 1] = "", want[EXPERIMENT_MAX_ARMS * 8 + 1] = "";
        size_t ug = 0, uw = 0;
        for (size_t i = 0; i < s->narms; i++) {
            char pct[16];
            int w;
            experiment_percent_format(s->arms[i].weight, pct, sizeof pct);
            w = snprintf(got + ug, sizeof got - ug, "%s%.2f", i ? "/" : "",
                         100.0 * (double)a->exposures[i] / (double)a->exposures_total);
            ug += w > 0 && (size_t)w < sizeof got - ug ? (size_t)w : 0;
            w = snprintf(want + uw, sizeof want - uw, "%s%s", i ? "/" : "", pct);
            uw += w > 0 && (size_t)w < sizeof want - uw ? (size_t)w : 0;
        }
        reason(a,
               "sample ratio mismatch: exposures split %s %% against the planned %s %% "
               "(chi-square %.1f, p = %.2g < %g): assignment or exposure logging is broken, no "
               "effect can be trusted and no arm can be shipped",
               got, want, a->srm.chi2, a->srm.p, EXPERIMENT_SRM_ALPHA);
    }

    /* 1. Guardrail harm. */
    for (size_t mi = 1; mi < s->nmetrics; mi++) {
        const struct experiment_metric *m = &s->metrics[mi];
        if (m->role != EXPERIMENT_GUARDRAIL)
            continue;
        for (size_t arm = 1; arm < s->narms; arm++) {
            const struct experiment_comparison *c = &a->metrics[mi].cmp[arm];
            if (c->outcome != EXPERIMENT_WORSE)
                continue;
            harm_arm[arm] = true;
            a->harm = true;
            fmt_effect(m, c, text, sizeof text);
            fmt_value(m, a->metrics[mi].arms[arm].value, v1, sizeof v1);
            fmt_value(m, a->metrics[mi].arms[0].value, v0, sizeof v0);
            reason(a, "guardrail '%s' is worse in '%s': %s against %s, %s (always-valid, Holm)",
                   m->name, s->arms[arm].name, v1, v0, text);
        }
    }
    if (a->harm) {
        a->conclusion = EXPERIMENT_ROLL_BACK;
        if (s->harm_stop) {
            a->action = EXPERIMENT_STOP_NOW;
            reason(a, "stopping.harmStop: stop now and roll back to the control '%s'",
                   s->arms[0].name);
        } else {
            reason(a, "stopping.harmStop is off: a person decides whether to stop; the "
                      "recommendation is to roll back");
        }
    }

    /* The primary, per treatment. */
    for (size_t arm = 1; arm < s->narms; arm++) {
        const struct experiment_comparison *c = &pr->cmp[arm];
        if (c->outcome == EXPERIMENT_INSUFFICIENT) {
            reason(a,
                   "primary '%s', '%s': not enough data to test yet (%llu and %llu observations; "
                   "at least %d per arm%s)",
                   pm->name, s->arms[arm].name, (unsigned long long)pr->arms[0].n,
                   (unsigned long long)pr->arms[arm].n, EXPERIMENT_MIN_TEST_N,
                   pm->type == EXPERIMENT_BINOMIAL ? " and 5 successes and failures" : "");
            continue;
        }
        fmt_effect(pm, c, text, sizeof text);
        if (c->outcome == EXPERIMENT_WORSE) {
            losers++;
            reason(a, "primary '%s': '%s' is significantly worse than the control, %s", pm->name,
                   s->arms[arm].name, text);
        } else if (c->outcome == EXPERIMENT_BETTER) {
            reason(a, "primary '%s': '%s' is significantly better than the control, %s", pm->name,
                   s->arms[arm].name, text);
            if (harm_arm[arm]) {
                reason(a, "'%s' cannot ship: it harms a guardrail", s->arms[arm].name);
            } else if (!arm_min_sample(s, a, arm)) {
                reason(a,
                       "'%s' cannot ship yet: minSamplePerArm (%llu) is not reached (control %llu, "
                       "'%s' %llu)",
                       s->arms[arm].name, (unsigned long long)s->min_sample_per_arm,
                       (unsigned long long)pr->arms[0].n, s->arms[arm].name,
                       (unsigned long long)pr->arms[arm].n);
            } else if (!best || improvement(pm, c) > best_gain) {
                best = arm;
                best_gain = improvement(pm, c);
            }
        } else if (c->provisional) {
            reason(a,
                   "primary '%s', '%s': %s -- provisional: the fixed-horizon test is read when "
                   "every arm has %llu observations (now control %llu, '%s' %llu)",
                   pm->name, s->arms[arm].name, text, (unsigned long long)s->min_sample_per_arm,
                   (unsigned long long)pr->arms[0].n, s->arms[arm].name,
                   (unsigned long long)pr->arms[arm].n);
        } else {
            char need[160] = "";
            if (c->power >= 0 && c->needed_control) {
                uint64_t have_c = pr->arms[0].n, have_t = pr->arms[arm].n;
                uint64_t more_c = c->needed_control > have_c ? c->needed_control - have_c : 0;
                uint64_t more_t = c->needed_treatment > have_t ? c->needed_treatment - have_t : 0;
                fmt_abs(pm, c->mde_absolute * (pm->direction == EXPERIMENT_INCREASE ? 1 : -1), v1,
                        sizeof v1);
                if (more_c || more_t)
                    snprintf(need, sizeof need,
                             "; power against the MDE (%s) is %.0f %% now, about %llu more "
                             "observations per arm give %.0f %%",
                             v1, 100 * c->power,
                             (unsigned long long)(more_c > more_t ? more_c : more_t),
                             100 * pm->power);
                else
                    snprintf(need, sizeof need,
                             "; the planned sample for the MDE (%s) is reached: an effect that "
                             "large would likely have shown",
                             v1);
            }
            reason(a, "primary '%s': no significant difference for '%s' yet, %s%s", pm->name,
                   s->arms[arm].name, text, need);
        }
    }

    a->max_duration_reached = a->elapsed_ms >= s->max_duration_ms;
    bool end = a->max_duration_reached || (fixed && a->min_sample_reached);

    if (!a->harm) {
        if (losers == s->narms - 1 && a->min_sample_reached) {
            /* 2. Every treatment loses on the primary. */
            a->conclusion = EXPERIMENT_ROLL_BACK;
            if (s->harm_stop || end)
                a->action = EXPERIMENT_STOP;
            reason(a, "every treatment is worse on the primary metric: roll back to the control "
                      "'%s'",
                   s->arms[0].name);
        } else if (best) {
            /* 3. A winner. */
            if (a->srm_mismatch) {
                reason(a, "'%s' would ship, but the sample ratio mismatch blocks it: find the "
                          "cause, fix it, and run the experiment again",
                       s->arms[best].name);
            } else {
                a->conclusion = EXPERIMENT_SHIP;
                a->ship_arm = (int)best;
                if (fixed || end) {
                    a->action = EXPERIMENT_STOP;
                } else if (s->early_win) {
                    a->action = EXPERIMENT_STOP;
                    a->early_stop = true;
                    reason(a, "stopping.earlyWin: the always-valid test allows stopping now and "
                              "shipping '%s'",
                           s->arms[best].name);
                } else {
                    reason(a, "stopping.earlyWin is off: the experiment runs until maxDuration; "
                              "'%s' leads",
                           s->arms[best].name);
                }
            }
        }
    }
    if (end && a->action == EXPERIMENT_CONTINUE)
        a->action = EXPERIMENT_STOP;
    if (a->max_duration_reached) {
        experiment_duration_format(s->max_duration_ms, dur, sizeof dur);
        reason(a, "maxDuration (%s) reached: the experiment is over", dur);
    } else if (fixed && a->min_sample_reached) {
        reason(a, "every arm reached minSamplePerArm (%llu): the fixed-horizon test is read",
               (unsigned long long)s->min_sample_per_arm);
    }

    /* Secondary findings: reported, never decisive. */
    for (size_t mi = 1; mi < s->nmetrics; mi++) {
        const struct experiment_metric *m = &s->metrics[mi];
        if (m->role != EXPERIMENT_SECONDARY)
            continue;
        for (size_t arm = 1; arm < s->narms; arm++) {
            const struct experiment_comparison *c = &a->metrics[mi].cmp[arm];
            if (c->outcome != EXPERIMENT_BETTER && c->outcome != EXPERIMENT_WORSE)
                continue;
            fmt_effect(m, c, text, sizeof text);
            reason(a, "%s '%s': '%s' is significantly %s, %s (Benjamini-Hochberg; informs, does "
                      "not decide)",
                   group_label(m->role), m->name, s->arms[arm].name,
                   c->outcome == EXPERIMENT_BETTER ? "better" : "worse", text);
        }
    }
}

/* --------------------------------------------------------------- the entry */

roost_status experiment_analyze(const struct experiment_spec *s,
                                const struct experiment_observations *obs,
                                const struct experiment_state *prev,
                                struct experiment_analysis *out, roost_error *err)
{
    struct experiment_analysis *a;
    struct family primary = {.n = 0}, secondary = {.n = 0}, guard = {.n = 0};
    double weights[EXPERIMENT_MAX_ARMS];
    size_t nsec = 0, nguard = 0, k;
    roost_status rc = ROOST_OK;

    if (!s || !obs || !out || !obs->exposures || !obs->aggs)
        return roost_error_set(err, ROOST_EINVAL, "experiment_analyze: NULL argument");
    if (s->narms < 2 || s->narms > EXPERIMENT_MAX_ARMS || s->nmetrics < 1 ||
        s->nmetrics > EXPERIMENT_MAX_METRICS || s->metrics[0].role != EXPERIMENT_PRIMARY)
        return roost_error_set(err, ROOST_EINVAL,
                               "experiments.%s: not a parsed spec (arms or metrics)", s->name);
    if (obs->elapsed_ms < 0)
        return roost_error_set(err, ROOST_EINVAL,
                               "experiments.%s: elapsed time is negative (%lld ms)", s->name,
                               (long long)obs->elapsed_ms);
    if (prev && prev->looks == UINT64_MAX)
        return roost_error_set(err, ROOST_EINVAL, "experiments.%s: too many looks", s->name);

    a = calloc(1, sizeof *a);
    if (!a)
        return roost_error_set(err, ROOST_ENOMEM, "experiments.%s: out of memory", s->name);
    if (prev)
        a->state = *prev;
    a->state.looks = a->looks = (prev ? prev->looks : 0) + 1;
    a->elapsed_ms = obs->elapsed_ms;
    k = s->narms - 1;

    /* Exposures and the sample-ratio check. */
    for (size_t i = 0; i < s->narms; i++) {
        a->exposures[i] = obs->exposures[i];
        if (a->exposures_total > UINT64_MAX - obs->exposures[i]) {
            rc = roost_error_set(err, ROOST_EINVAL, "experiments.%s: exposures overflow", s->name);
            goto out;
        }
        a->exposures_total += obs->exposures[i];
        weights[i] = s->arms[i].weight;
    }
    if ((rc = roost_stats_srm(a->exposures, weights, s->narms, &a->srm, err))) {
        roost_error_prefix(err, "experiments.%s: sample-ratio check: ", s->name);
        goto out;
    }
    a->srm_mismatch = a->exposures_total > 0 && a->srm.p < EXPERIMENT_SRM_ALPHA;

    /* Pass 1: arm summaries. */
    for (size_t mi = 0; mi < s->nmetrics; mi++) {
        nsec += s->metrics[mi].role == EXPERIMENT_SECONDARY;
        nguard += s->metrics[mi].role == EXPERIMENT_GUARDRAIL;
        for (size_t arm = 0; arm < s->narms; arm++) {
            if ((rc = arm_stats(&s->metrics[mi], &obs->aggs[mi * s->narms + arm],
                                s->arms[arm].name, &a->metrics[mi].arms[arm], err))) {
                roost_error_prefix(err, "experiments.%s: ", s->name);
                goto out;
            }
        }
    }
    a->min_sample_reached = true;
    for (size_t arm = 0; arm < s->narms; arm++)
        if (a->metrics[0].arms[arm].n < s->min_sample_per_arm)
            a->min_sample_reached = false;

    /* Pass 2: comparisons. */
    for (size_t mi = 0; mi < s->nmetrics; mi++) {
        const struct experiment_metric *m = &s->metrics[mi];
        struct experiment_metric_result *r = &a->metrics[mi];
        bool seq = s->method == EXPERIMENT_SEQUENTIAL || m->role == EXPERIMENT_GUARDRAIL;
        r->test = seq ? EXPERIMENT_TEST_MSPRT
                      : m->type == EXPERIMENT_BINOMIAL ? EXPERIMENT_TEST_TWO_PROPORTION
                                                       : EXPERIMENT_TEST_WELCH;
        r->adjustment = m->role == EXPERIMENT_SECONDARY ? EXPERIMENT_ADJUST_BH
                                                        : EXPERIMENT_ADJUST_HOLM;
        r->family_size = m->role == EXPERIMENT_PRIMARY     ? k
                         : m->role == EXPERIMENT_SECONDARY ? nsec * k
                                                           : nguard * k;
        r->planning_alpha = m->alpha / (double)r->family_size;
        for (size_t arm = 1; arm < s->narms; arm++) {
            struct cmp_ctx x = {
                .spec = s,
                .m = m,
                .res = r,
                .arm = arm,
                .horizon = a->min_sample_reached,
                .seq = &a->state.seq[mi][arm],
            };
            if ((rc = compare(&x, err))) {
                roost_error_prefix(err, "experiments.%s: metric '%s', arm '%s': ", s->name,
                                   m->name, s->arms[arm].name);
                goto out;
            }
            struct family *f = m->role == EXPERIMENT_PRIMARY     ? &primary
                               : m->role == EXPERIMENT_SECONDARY ? &secondary
                                                                 : &guard;
            f->c[f->n++] = &r->cmp[arm];
        }
    }

    /* Pass 3: adjustment within each family, then the outcome. */
    if ((rc = adjust(&primary, EXPERIMENT_ADJUST_HOLM, err)) ||
        (rc = adjust(&secondary, EXPERIMENT_ADJUST_BH, err)) ||
        (rc = adjust(&guard, EXPERIMENT_ADJUST_HOLM, err))) {
        roost_error_prefix(err, "experiments.%s: ", s->name);
        goto out;
    }
    for (size_t mi = 0; mi < s->nmetrics; mi++)
        for (size_t arm = 1; arm < s->narms; arm++)
            decide(&s->metrics[mi], &a->metrics[mi].cmp[arm], a->metrics[mi].test);

    /* Pass 4. */
    verdict(s, a);
    *out = *a;
out:
    free(a);
    return rc;
}

/* ------------------------------------------------------------------- names */

const char *experiment_test_name(enum experiment_test t)
{
    switch (t) {
    case EXPERIMENT_TEST_MSPRT: return "msprt";
    case EXPERIMENT_TEST_TWO_PROPORTION: return "two-proportion";
    case EXPERIMENT_TEST_WELCH: return "welch";
    }
    return "?";
}

const char *experiment_outcome_name(enum experiment_outcome o)
{
    switch (o) {
    case EXPERIMENT_INSUFFICIENT: return "insufficient";
    case EXPERIMENT_NEUTRAL: return "neutral";
    case EXPERIMENT_BETTER: return "better";
    case EXPERIMENT_WORSE: return "worse";
    }
    return "?";
}

const char *experiment_adjustment_name(enum experiment_adjustment a)
{
    return a == EXPERIMENT_ADJUST_BH ? "benjamini-hochberg" : "holm";
}

const char *experiment_action_name(enum experiment_action a)
{
    switch (a) {
    case EXPERIMENT_CONTINUE: return "continue";
    case EXPERIMENT_STOP: return "stop";
    case EXPERIMENT_STOP_NOW: return "stop_now";
    }
    return "?";
}

const char *experiment_conclusion_name(enum experiment_conclusion c)
{
    switch (c) {
    case EXPERIMENT_INCONCLUSIVE: return "inconclusive";
    case EXPERIMENT_SHIP: return "ship";
    case EXPERIMENT_ROLL_BACK: return "roll_back";
    }
    return "?";
}
