/* Judging one analysis check from the windows the controller read.
 *
 * Each check type turns its windows into a verdict and the numbers behind
 * it (docs/rollouts.md, "Checks"). The rules shared by all of them, in
 * order:
 *   1. A window that could not be read makes the check ERROR: the run
 *      cannot be judged, which is different from a bad canary.
 *   2. No canary samples at all: the check's noData policy (pause =
 *      inconclusive, fail, ignore = pass). No traffic is not evidence.
 *   3. Fewer canary samples than minSamples: inconclusive.
 *   4. Otherwise the type's rule.
 *
 * compare is the statistical check. It tests H0: "the canary is worse than
 * the baseline by at most margin" with the mixture SPRT from server/stats
 * (always valid: it may be looked at every interval without inflating false
 * rollbacks), on all data since the canary got its current weight, and
 * fails when H0 is rejected at level alpha. The p-value is the running
 * minimum over the looks (state.compare_p), as the definition of an
 * always-valid p-value requires: evidence once shown stays shown.
 * How each stat is compared, and why:
 *
 *   error_rate  difference of proportions. The variance is the one the
 *               null implies (restricted MLE at the margin, Farrington &
 *               Manning; at margin 0 the pooled variance), not the
 *               canary's own: with a handful of canary errors the canary's
 *               own rate is too noisy to estimate its variance, and the
 *               unpooled Wald statistic rejects far too often on healthy
 *               canaries. A continuity correction of half an error (0.5/n)
 *               is taken off the canary's side for the same reason: in
 *               simulations of 0.1 %-5 % error rates at 10-50 % weight it
 *               brings the false rollback rate per step under alpha / 2
 *               while the test still catches a 0.5 % -> 2 % regression at
 *               10 req/s in about 50 s (docs/rollouts.md has the numbers).
 *   mean        difference of means, Welch variance (var_c/n_c +
 *               var_b/n_b) from count, sum and sum of squares.
 *   quantile    an exceedance test: T = baseline quantile + margin; under
 *               H0 no more of the canary lies above T than the baseline's
 *               share above its own quantile (about 1 - q). Both shares are
 *               counted from the sketches' buckets with the same rule (key
 *               above the key of T), so bucket rounding affects both arms
 *               alike, and they are compared like two error rates. Why not
 *               a difference of quantiles: its variance needs the density
 *               at the quantile, which a sketch gives only roughly, and why
 *               not Mann-Whitney: it tests the whole distribution's
 *               location, not the tail a p99 check is about, and it is not
 *               always valid under repeated looks. The effect reported is
 *               the difference of the quantiles in the stat's units; the
 *               interval and p-value are on the share scale.
 *
 * compare of error_rate at margin 0 (the default check) is judged instead
 * by an exact test on counts, the rate-ratio e-process. Given the errors E
 * of a window, each of them is the canary's with probability
 * p(theta) = n_c theta / (n_c theta + n_b), where n_c and n_b are the
 * window's requests per arm and theta the ratio of the arms' error rates
 * (exact for Poisson errors; for Bernoulli errors under theta = 1 the share
 * is hypergeometric, which is less spread than the binomial, so the
 * likelihood ratio below still has expectation <= 1). The window's
 * likelihood ratio of theta against 1 depends on its own split only, so
 * windows at different weights multiply into one test martingale: the
 * evidence of the first minute at 10 % carries over to 25 %, and alpha
 * bounds false rollbacks per attempt, not per weight. It is mixed over a
 * grid of ratios (EVIDENCE_RATIO) with equal prior weights, and over two
 * sequences: one from the start of the attempt, and one restarted at each
 * later weight (so a regression that appears only under more load is not
 * drowned by the clean minutes before it), each with a fixed share of the
 * prior (logic.c, evidence_new_weight). By Ville's inequality the mixture
 * exceeds 1/alpha with probability at most alpha under "the canary's error
 * rate is at most the baseline's", at every look. Conditioning on each
 * window's own split also keeps what the per-weight normal test had: a
 * shock that hits both arms (a dependency outage) changes both rates
 * alike and adds no evidence. Each run counts only the data since the
 * previous run that counted (never the same second twice), cut at the
 * last weight change. Against the per-weight normal approximation it
 * replaced, on the benchmark's 4x regression at 10 % of 100 req/s
 * (docs/BENCHMARKS.md, "Decision quality"), the runs not caught in the
 * first minute are caught at 25 % sooner (p90 92 s against 112 s) with
 * fewer excess errors, and healthy canaries are rolled back no more often;
 * the normal approximation on a handful of canary errors was where false
 * rollbacks came from.
 *
 * The mixing variance tau^2 follows GrowthBook's rule with N* = the
 * check's expectedSamples canary samples: tau^2 = sigma^2 (-2 ln alpha +
 * ln(1 - 2 ln alpha)) / N*, sigma^2 = V n_canary. The test is sharpest
 * around N* and within about 5 % of its best z-threshold from N* / 3 to 3 N*.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "server/rollout/logic_internal.h"
#include "server/stats/stats.h"

/* ---- small helpers ------------------------------------------------------ */

/* errors / count, not 1 - successes / count: 10 of 200 must be exactly
 * the double 0.05, or "max": 0.05 would fail it. */
static double window_error_rate(const struct rollout_window *w)
{
    return (double)(w->count - w->successes) / (double)w->count;
}

/* The stat of a window with count > 0. false when a quantile is asked of a
 * window without a sketch. */
static bool window_stat(const struct rollout_check *c, const struct rollout_window *w, double *out)
{
    switch (c->stat) {
    case ROLLOUT_STAT_ERROR_RATE:
        *out = window_error_rate(w);
        return true;
    case ROLLOUT_STAT_MEAN:
        *out = w->sum / (double)w->count;
        return true;
    case ROLLOUT_STAT_QUANTILE:
        return w->sketch && w->sketch->count > 0 &&
               roost_sketch_quantile(w->sketch, c->quantile, out) == ROOST_OK;
    }
    return false;
}

/* "0.0261", "312", "1.5e+04": short and stable. */
static const char *fmt_val(char *buf, size_t cap, double v)
{
    if (!isfinite(v))
        rollout_fmt(buf, cap, "n/a");
    else
        rollout_fmt(buf, cap, "%.4g", v);
    return buf;
}

/* Texts name the stat unless it is the error rate, which the sample note
 * ("canary 13 / 498") already makes plain: "error-rate 0.0261 > 0.01",
 * "latency p99 312 > 300". */
static const char *stat_label(const struct rollout_check *c)
{
    return c->stat == ROLLOUT_STAT_ERROR_RATE ? "" : c->stat_name;
}

static const char *stat_sep(const struct rollout_check *c)
{
    return c->stat == ROLLOUT_STAT_ERROR_RATE ? "" : " ";
}

/* " (canary 13 / 498)" for error rates, " (498 samples)" otherwise. */
static void sample_note(const struct rollout_check *c, const struct rollout_window *w, char *buf,
                        size_t cap)
{
    if (c->stat == ROLLOUT_STAT_ERROR_RATE)
        rollout_fmt(buf, cap, "canary %llu / %llu", (unsigned long long)(w->count - w->successes),
                 (unsigned long long)w->count);
    else
        rollout_fmt(buf, cap, "%llu canary samples", (unsigned long long)w->count);
}

static void result_init(struct rollout_check_result *r, const struct check_inputs *in)
{
    memset(r, 0, sizeof *r);
    r->verdict = ROLLOUT_VERDICT_NONE;
    r->canary = r->baseline = r->bound = NAN;
    r->effect = r->ci_lo = r->ci_hi = r->p_value = NAN;
    r->ratio = r->e_value = r->weight_canary = r->weight_baseline = NAN;
    for (size_t i = 0; i < ROLLOUT_MAX_BURN_WINDOWS; i++)
        r->burn_long[i] = r->burn_short[i] = NAN;
    r->from_ms = in->from_ms;
    r->to_ms = in->to_ms;
}

/* Rule 2: no canary samples at all is judged by the check's noData policy,
 * not by its rule. */
static void no_data_verdict(const struct rollout_check *c, struct rollout_check_result *r)
{
    r->no_data = true;
    switch (c->no_data) {
    case ROLLOUT_NO_DATA_PAUSE:
        r->verdict = ROLLOUT_VERDICT_INCONCLUSIVE;
        break;
    case ROLLOUT_NO_DATA_FAIL:
        r->verdict = ROLLOUT_VERDICT_FAILED;
        break;
    case ROLLOUT_NO_DATA_IGNORE:
        r->verdict = ROLLOUT_VERDICT_PASSED;
        break;
    }
    rollout_fmt(r->text, sizeof r->text, "%s: no canary traffic (noData: %s)", c->name,
                rollout_no_data_name(c->no_data));
}

/* Rules 1-3 for the canary window. Returns true when they decided. */
static bool common_rules(const struct rollout_check *c, const struct rollout_window *w,
                         struct rollout_check_result *r)
{
    if (!w || w->unavailable) {
        r->verdict = ROLLOUT_VERDICT_ERROR;
        rollout_fmt(r->text, sizeof r->text, "%s: the canary's %s data could not be read", c->name,
                 c->metric);
        return true;
    }
    r->canary_samples = w->count;
    if (w->count == 0) {
        no_data_verdict(c, r);
        return true;
    }
    if (w->count < c->min_samples) {
        r->verdict = ROLLOUT_VERDICT_INCONCLUSIVE;
        rollout_fmt(r->text, sizeof r->text, "%s: %llu canary samples, needs %llu", c->name,
                 (unsigned long long)w->count, (unsigned long long)c->min_samples);
        return true;
    }
    return false;
}

static void no_sketch(const struct rollout_check *c, const char *arm, struct rollout_check_result *r)
{
    r->verdict = ROLLOUT_VERDICT_ERROR;
    rollout_fmt(r->text, sizeof r->text, "%s: the %s's %s data has no latency sketch for %s", c->name,
             arm, c->metric, c->stat_name);
}

/* ---- threshold ---------------------------------------------------------- */

static void eval_threshold(const struct rollout_check *c, const struct check_inputs *in,
                           struct rollout_check_result *r)
{
    char a[32], b[32], note[64];
    double v;

    /* The baseline is context only: shown, never required. */
    if (in->baseline && !in->baseline->unavailable && in->baseline->count > 0) {
        double bv;
        if (window_stat(c, in->baseline, &bv))
            r->baseline = bv;
        r->baseline_samples = in->baseline->count;
    }
    if (common_rules(c, in->canary, r))
        return;
    if (!window_stat(c, in->canary, &v)) {
        no_sketch(c, "canary", r);
        return;
    }
    r->canary = v;
    sample_note(c, in->canary, note, sizeof note);
    if (c->has_max && v > c->max) {
        r->verdict = ROLLOUT_VERDICT_FAILED;
        r->bound = c->max;
        rollout_fmt(r->text, sizeof r->text, "%s%s%s %s > %s (%s)", c->name, stat_sep(c), stat_label(c),
                 fmt_val(a, sizeof a, v), fmt_val(b, sizeof b, c->max), note);
    } else if (c->has_min && v < c->min) {
        r->verdict = ROLLOUT_VERDICT_FAILED;
        r->bound = c->min;
        rollout_fmt(r->text, sizeof r->text, "%s%s%s %s < %s (%s)", c->name, stat_sep(c), stat_label(c),
                 fmt_val(a, sizeof a, v), fmt_val(b, sizeof b, c->min), note);
    } else {
        r->verdict = ROLLOUT_VERDICT_PASSED;
        r->bound = c->has_max ? c->max : c->min;
        rollout_fmt(r->text, sizeof r->text, "%s%s%s %s %s %s (%s)", c->name, stat_sep(c), stat_label(c),
                 fmt_val(a, sizeof a, v), c->has_max ? "\xe2\x89\xa4" : "\xe2\x89\xa5",
                 fmt_val(b, sizeof b, r->bound), note);
    }
}

/* ---- relative ----------------------------------------------------------- */

static void eval_relative(const struct rollout_check *c, const struct check_inputs *in,
                          uint32_t weight, struct rollout_check_result *r)
{
    char a[32], b[32], m[32];
    double cv, bv;

    if (weight >= 100) {
        r->verdict = ROLLOUT_VERDICT_SKIPPED;
        rollout_fmt(r->text, sizeof r->text, "%s: skipped, no baseline traffic at weight 100", c->name);
        return;
    }
    if (in->baseline && !in->baseline->unavailable)
        r->baseline_samples = in->baseline->count;
    if (common_rules(c, in->canary, r))
        return;
    if (!in->baseline || in->baseline->unavailable) {
        r->verdict = ROLLOUT_VERDICT_ERROR;
        rollout_fmt(r->text, sizeof r->text, "%s: the baseline's %s data could not be read", c->name,
                 c->metric);
        return;
    }
    if (in->baseline->count < c->min_samples || in->baseline->count == 0) {
        r->verdict = ROLLOUT_VERDICT_INCONCLUSIVE;
        rollout_fmt(r->text, sizeof r->text, "%s: %llu baseline samples, needs %llu", c->name,
                 (unsigned long long)in->baseline->count, (unsigned long long)c->min_samples);
        return;
    }
    if (!window_stat(c, in->canary, &cv)) {
        no_sketch(c, "canary", r);
        return;
    }
    if (!window_stat(c, in->baseline, &bv)) {
        no_sketch(c, "baseline", r);
        return;
    }
    r->canary = cv;
    r->baseline = bv;
    if (bv == 0) {
        if (!c->has_max_absolute) {
            r->verdict = ROLLOUT_VERDICT_PASSED;
            rollout_fmt(r->text, sizeof r->text, "%s %s %s: baseline is 0, no ratio (no maxAbsolute)",
                     c->name, c->stat_name, fmt_val(a, sizeof a, cv));
            return;
        }
        r->bound = c->max_absolute;
        r->verdict = cv <= c->max_absolute ? ROLLOUT_VERDICT_PASSED : ROLLOUT_VERDICT_FAILED;
        rollout_fmt(r->text, sizeof r->text, "%s %s %s %s maxAbsolute %s (baseline is 0)", c->name,
                 c->stat_name, fmt_val(a, sizeof a, cv),
                 r->verdict == ROLLOUT_VERDICT_PASSED ? "\xe2\x89\xa4" : ">",
                 fmt_val(b, sizeof b, c->max_absolute));
        return;
    }
    r->bound = c->max_ratio * bv;
    r->verdict = cv <= r->bound ? ROLLOUT_VERDICT_PASSED : ROLLOUT_VERDICT_FAILED;
    rollout_fmt(r->text, sizeof r->text, "%s %s %s %s %g \xc3\x97 baseline %s = %s", c->name,
             c->stat_name, fmt_val(a, sizeof a, cv),
             r->verdict == ROLLOUT_VERDICT_PASSED ? "\xe2\x89\xa4" : ">", c->max_ratio,
             fmt_val(b, sizeof b, bv), fmt_val(m, sizeof m, r->bound));
}

/* ---- compare ------------------------------------------------------------ */

double rollout_fm_variance(double x1, double n1, double x2, double n2, double delta)
{
    double p1 = x1 / n1, p2 = x2 / n2, t1, t2;

    if (delta == 0.0) {
        double p = (x1 + x2) / (n1 + n2);
        return p * (1.0 - p) * (1.0 / n1 + 1.0 / n2);
    }
    /* Closed-form root of the likelihood equation (Farrington & Manning
     * 1990, eq. for the restricted MLE; Miettinen & Nurminen 1985). */
    {
        const double pi = 3.14159265358979323846;
        double th = n2 / n1, a = 1.0 + th;
        double b = -(1.0 + th + p1 + th * p2 + delta * (th + 2.0));
        double c = delta * delta + delta * (2.0 * p1 + th + 1.0) + p1 + th * p2;
        double d = -p1 * delta * (1.0 + delta);
        double v = b * b * b / (27.0 * a * a * a) - b * c / (6.0 * a * a) + d / (2.0 * a);
        double uu = b * b / (9.0 * a * a) - c / (3.0 * a);
        double u = (v >= 0 ? 1.0 : -1.0) * sqrt(uu > 0 ? uu : 0);
        double cosarg, w;

        if (u == 0.0) {
            t1 = -b / (3.0 * a);
        } else {
            cosarg = v / (u * u * u);
            if (cosarg > 1.0)
                cosarg = 1.0;
            if (cosarg < -1.0)
                cosarg = -1.0;
            w = (pi + acos(cosarg)) / 3.0;
            t1 = 2.0 * u * cos(w) - b / (3.0 * a);
        }
        t2 = t1 - delta;
    }
    /* Rounding may step a hair outside [0, 1]. */
    t1 = t1 < 0 ? 0 : t1 > 1 ? 1 : t1;
    t2 = t2 < 0 ? 0 : t2 > 1 ? 1 : t2;
    return t1 * (1.0 - t1) / n1 + t2 * (1.0 - t2) / n2;
}

/* Buckets of s strictly above (above = true) or below key k. */
static uint64_t sketch_beyond(const roost_sketch *s, int32_t k, bool above)
{
    uint64_t n = 0;
    for (size_t i = 0; i < s->len; i++) {
        if (above ? s->buckets[i].key > k : s->buckets[i].key < k)
            n += s->buckets[i].count;
    }
    return n;
}

/* The tested quantity t ("how much worse the canary is", in the direction
 * the check cares about), its continuity correction, and its variance at
 * the null boundary. Returns false (with r->text set) when it cannot be
 * computed; *informative is false when V is 0 (no spread: no evidence). */
struct compare_stat {
    double t;       /* worse-direction difference, margin not subtracted */
    double cc;      /* continuity correction, subtracted from t */
    double v;       /* variance at the null boundary */
    double n_c;     /* canary samples the test used */
    double effect;  /* canary - baseline, the stat's units */
    double canary, baseline;
    double share_c, share_b; /* quantile: exceedance shares */
};

static bool compare_stat(const struct rollout_check *c, const struct rollout_window *cw,
                         const struct rollout_window *bw, struct compare_stat *o,
                         struct rollout_check_result *r)
{
    double s = c->direction == ROLLOUT_LOWER_IS_BETTER ? 1.0 : -1.0;

    memset(o, 0, sizeof *o);
    o->share_c = o->share_b = NAN;
    switch (c->stat) {
    case ROLLOUT_STAT_ERROR_RATE: {
        double nc = (double)cw->count, nb = (double)bw->count;
        double xc = nc - (double)cw->successes, xb = nb - (double)bw->successes;
        o->canary = xc / nc;
        o->baseline = xb / nb;
        o->effect = o->canary - o->baseline;
        o->t = s * o->effect;
        o->cc = 0.5 / nc;
        o->n_c = nc;
        /* Worse-direction arm first: p1 - p2 = t under H0 at the margin. */
        o->v = s > 0 ? rollout_fm_variance(xc, nc, xb, nb, c->margin)
                     : rollout_fm_variance(xb, nb, xc, nc, c->margin);
        return true;
    }
    case ROLLOUT_STAT_MEAN: {
        roost_stats_summary a, b;
        if (cw->count < 2 || bw->count < 2 ||
            roost_stats_summary_from_sums(cw->count, cw->sum, cw->sum_squares, &b, NULL) != ROOST_OK ||
            roost_stats_summary_from_sums(bw->count, bw->sum, bw->sum_squares, &a, NULL) != ROOST_OK) {
            r->verdict = ROLLOUT_VERDICT_INCONCLUSIVE;
            rollout_fmt(r->text, sizeof r->text, "%s: a difference of means needs 2 samples per arm",
                     c->name);
            return false;
        }
        o->canary = b.mean;
        o->baseline = a.mean;
        o->effect = b.mean - a.mean;
        o->t = s * o->effect;
        o->v = b.var / (double)b.n + a.var / (double)a.n;
        o->n_c = (double)b.n;
        return true;
    }
    case ROLLOUT_STAT_QUANTILE: {
        const roost_sketch *sc = cw->sketch, *sb = bw->sketch;
        double qc, qb, thr, nc, nb, xc, xb;
        if (!sc || sc->count == 0) {
            no_sketch(c, "canary", r);
            return false;
        }
        if (!sb || sb->count == 0) {
            no_sketch(c, "baseline", r);
            return false;
        }
        if (roost_sketch_quantile(sc, c->quantile, &qc) != ROOST_OK ||
            roost_sketch_quantile(sb, c->quantile, &qb) != ROOST_OK) {
            no_sketch(c, "canary", r);
            return false;
        }
        o->canary = qc;
        o->baseline = qb;
        o->effect = qc - qb;
        thr = qb + s * c->margin;
        nc = (double)sc->count;
        nb = (double)sb->count;
        xc = (double)sketch_beyond(sc, roost_sketch_key(thr), s > 0);
        xb = (double)sketch_beyond(sb, roost_sketch_key(qb), s > 0);
        o->share_c = xc / nc;
        o->share_b = xb / nb;
        o->t = o->share_c - o->share_b; /* already in the worse direction */
        o->cc = 0.5 / nc;
        o->n_c = nc;
        o->v = rollout_fm_variance(xc, nc, xb, nb, 0.0);
        return true;
    }
    }
    return false;
}

static void eval_compare(const struct rollout_check *c, const struct check_inputs *in,
                         uint32_t weight, double prev_p, struct rollout_check_result *r,
                         double *new_p)
{
    struct compare_stat cs;
    double theta0, p_look = 1.0, tau2, hw = 0, la, t;
    char sc[32], sb[32], pc[32], pb[32], pv[32];

    *new_p = prev_p;
    r->p_value = prev_p;
    r->bound = c->margin;
    if (weight >= 100) {
        r->verdict = ROLLOUT_VERDICT_SKIPPED;
        rollout_fmt(r->text, sizeof r->text, "%s: skipped, no baseline traffic at weight 100", c->name);
        return;
    }
    if (in->baseline && !in->baseline->unavailable)
        r->baseline_samples = in->baseline->count;
    if (common_rules(c, in->canary, r))
        return;
    if (!in->baseline || in->baseline->unavailable) {
        r->verdict = ROLLOUT_VERDICT_ERROR;
        rollout_fmt(r->text, sizeof r->text, "%s: the baseline's %s data could not be read", c->name,
                 c->metric);
        return;
    }
    if (in->baseline->count == 0 || in->baseline->count < c->min_samples) {
        r->verdict = ROLLOUT_VERDICT_INCONCLUSIVE;
        rollout_fmt(r->text, sizeof r->text, "%s: %llu baseline samples, needs %llu", c->name,
                 (unsigned long long)in->baseline->count,
                 (unsigned long long)(c->min_samples ? c->min_samples : 1));
        return;
    }
    if (!compare_stat(c, in->canary, in->baseline, &cs, r))
        return;
    r->canary = cs.canary;
    r->baseline = cs.baseline;
    r->effect = cs.effect;
    /* The quantile test's null share difference is 0: the margin is in the
     * threshold T already. */
    theta0 = c->stat == ROLLOUT_STAT_QUANTILE ? 0.0 : c->margin;
    t = cs.t - cs.cc;
    if (cs.v > 0 && isfinite(cs.v)) {
        la = -2.0 * log(c->alpha);
        tau2 = cs.v * cs.n_c * (la + log1p(la)) / (double)c->expected_samples;
        if (t > theta0 &&
            roost_stats_msprt_pvalue(t, cs.v, tau2, theta0, &p_look, NULL) != ROOST_OK)
            p_look = 1.0;
        double lo0, hi0;
        hw = roost_stats_msprt_interval(0.0, cs.v, tau2, c->alpha, &lo0, &hi0, NULL) == ROOST_OK
                 ? hi0
                 : NAN;
    }
    /* Interval of the tested quantity, widened by the continuity
     * correction, in canary - baseline orientation for error rates and
     * means; on the share scale for quantiles. It lies above margin exactly
     * when p <= alpha at this look. */
    {
        double lo = cs.t - cs.cc - hw, hi = cs.t + cs.cc + hw;
        if (c->direction == ROLLOUT_HIGHER_IS_BETTER && c->stat != ROLLOUT_STAT_QUANTILE) {
            r->ci_lo = -hi;
            r->ci_hi = -lo;
        } else {
            r->ci_lo = lo;
            r->ci_hi = hi;
        }
    }
    if (p_look < *new_p)
        *new_p = p_look;
    r->p_value = *new_p;
    r->verdict = *new_p <= c->alpha ? ROLLOUT_VERDICT_FAILED : ROLLOUT_VERDICT_PASSED;
    fmt_val(pv, sizeof pv, r->p_value);
    if (c->stat == ROLLOUT_STAT_QUANTILE) {
        rollout_fmt(r->text, sizeof r->text,
                 "%s %s canary %s vs baseline %s (%s of canary beyond baseline%s vs %s), "
                 "always-valid p %s %s %g",
                 c->name, c->stat_name, fmt_val(pc, sizeof pc, cs.canary),
                 fmt_val(pb, sizeof pb, cs.baseline), fmt_val(sc, sizeof sc, cs.share_c),
                 c->margin > 0 ? " + margin" : "", fmt_val(sb, sizeof sb, cs.share_b), pv,
                 r->verdict == ROLLOUT_VERDICT_FAILED ? "\xe2\x89\xa4" : ">", c->alpha);
    } else {
        rollout_fmt(r->text, sizeof r->text,
                 "%s%s%s canary %s vs baseline %s (%+.3g, margin %g), always-valid p %s %s %g",
                 c->name, stat_sep(c), stat_label(c), fmt_val(pc, sizeof pc, cs.canary),
                 fmt_val(pb, sizeof pb, cs.baseline), cs.effect, c->margin, pv,
                 r->verdict == ROLLOUT_VERDICT_FAILED ? "\xe2\x89\xa4" : ">", c->alpha);
    }
}

/* ---- compare: the rate-ratio e-process ---------------------------------- */

/* Rate ratios the mixture puts equal weight on. A rollout's minutes hold
 * enough errors to tell 2x-8x apart from 1x; more mass there than on a
 * wide grid (1.5x-20x) rolled back the benchmark's 4x canary one look
 * sooner at the median, and a larger one is caught early anyway. */
static const double EVIDENCE_RATIO[ROLLOUT_EVIDENCE_GRID] = {2, 2.5, 3, 3.5, 4, 5, 6, 8};

bool rollout_check_is_rate_ratio(const struct rollout_check *c)
{
    return c->type == ROLLOUT_CHECK_COMPARE && c->stat == ROLLOUT_STAT_ERROR_RATE &&
           c->margin == 0.0;
}

double rollout_evidence_log_mixture(const double ll[ROLLOUT_EVIDENCE_GRID])
{
    double m = -HUGE_VAL, s = 0;

    for (size_t j = 0; j < ROLLOUT_EVIDENCE_GRID; j++)
        m = ll[j] > m ? ll[j] : m;
    for (size_t j = 0; j < ROLLOUT_EVIDENCE_GRID; j++)
        s += exp(ll[j] - m);
    return m + log(s / ROLLOUT_EVIDENCE_GRID);
}

/* The window's likelihood of theta over that of 1 is
 * p(theta)^x (1 - p(theta))^y / (p(1)^x (1 - p(1))^y) with
 * p(theta) = nx theta / (nx theta + ny), which simplifies to
 * x ln theta + (x + y) ln((nx + ny) / (nx theta + ny)). */
double rollout_rate_ratio_llr(double theta, double x, double nx, double y, double ny)
{
    if (nx <= 0 || ny <= 0 || x + y <= 0)
        return 0;
    return x * log(theta) + (x + y) * log((nx + ny) / (nx * theta + ny));
}

/* Adds one window to ll, for each ratio of the grid. */
static void evidence_add(double ll[ROLLOUT_EVIDENCE_GRID], double x, double nx, double y, double ny)
{
    for (size_t j = 0; j < ROLLOUT_EVIDENCE_GRID; j++)
        ll[j] += rollout_rate_ratio_llr(EVIDENCE_RATIO[j], x, nx, y, ny);
}

static double rate_or_nan(uint64_t x, uint64_t n)
{
    return n ? (double)x / (double)n : NAN;
}

static void eval_rate_ratio(const struct rollout_check *c, size_t i, const struct check_inputs *in,
                            const struct rollout_state *st, struct rollout_state *n,
                            struct rollout_check_result *r)
{
    const struct rollout_window *cw = in->canary, *bw = in->baseline;
    struct rollout_evidence *ev = &n->evidence[i];
    bool lower = c->direction == ROLLOUT_LOWER_IS_BETTER;
    double terms[3], m = -HUGE_VAL, sum = 0, log_e, p_look;
    char pc[32], pb[32], pv[32], ev_txt[32];

    r->rate_ratio = true;
    r->bound = 0;
    n->compare_p[i] = st->compare_p[i];
    r->p_value = st->compare_p[i];
    if (st->weight >= 100) {
        r->verdict = ROLLOUT_VERDICT_SKIPPED;
        rollout_fmt(r->text, sizeof r->text, "%s: skipped, no baseline traffic at weight 100", c->name);
        return;
    }
    if (!cw || cw->unavailable || !bw || bw->unavailable) {
        /* Nothing is counted, so the next run reads this data again. */
        r->verdict = ROLLOUT_VERDICT_ERROR;
        rollout_fmt(r->text, sizeof r->text, "%s: the %s's %s data could not be read", c->name,
                    !cw || cw->unavailable ? "canary" : "baseline", c->metric);
        return;
    }
    {
        uint64_t xc = cw->count - cw->successes, xb = bw->count - bw->successes;
        if (lower)
            evidence_add(ev->ll_attempt, (double)xc, (double)cw->count, (double)xb, (double)bw->count);
        else
            evidence_add(ev->ll_attempt, (double)xb, (double)bw->count, (double)xc, (double)cw->count);
        if (lower)
            evidence_add(ev->ll_weight, (double)xc, (double)cw->count, (double)xb, (double)bw->count);
        else
            evidence_add(ev->ll_weight, (double)xb, (double)bw->count, (double)xc, (double)cw->count);
        ev->canary_n += cw->count;
        ev->canary_x += xc;
        ev->baseline_n += bw->count;
        ev->baseline_x += xb;
        ev->w_canary_n += cw->count;
        ev->w_canary_x += xc;
        ev->w_baseline_n += bw->count;
        ev->w_baseline_x += xb;
        ev->until_ms = in->to_ms;
    }
    /* e = share_attempt M(attempt) + banked + share_weight M(weight), in
     * logs: a strong regression makes e overflow a double. */
    terms[0] = n->share_attempt > 0 ? log(n->share_attempt) + rollout_evidence_log_mixture(ev->ll_attempt)
                                    : -HUGE_VAL;
    terms[1] = ev->e_banked > 0 ? log(ev->e_banked) : -HUGE_VAL;
    terms[2] = n->share_weight > 0 ? log(n->share_weight) + rollout_evidence_log_mixture(ev->ll_weight)
                                   : -HUGE_VAL;
    for (int k = 0; k < 3; k++)
        m = terms[k] > m ? terms[k] : m;
    if (m == -HUGE_VAL) {
        log_e = -HUGE_VAL;
    } else {
        for (int k = 0; k < 3; k++)
            sum += exp(terms[k] - m);
        log_e = m + log(sum);
    }
    p_look = log_e <= 0 ? 1.0 : exp(-log_e);
    if (p_look < n->compare_p[i])
        n->compare_p[i] = p_look;
    r->p_value = n->compare_p[i];
    r->e_value = log_e > 690 ? exp(690) : exp(log_e);

    r->canary = rate_or_nan(ev->canary_x, ev->canary_n);
    r->baseline = rate_or_nan(ev->baseline_x, ev->baseline_n);
    r->canary_samples = ev->canary_n;
    r->baseline_samples = ev->baseline_n;
    r->effect = r->canary - r->baseline;
    r->ratio = ev->baseline_x ? r->canary / r->baseline : NAN;
    r->weight_canary = rate_or_nan(ev->w_canary_x, ev->w_canary_n);
    r->weight_baseline = rate_or_nan(ev->w_baseline_x, ev->w_baseline_n);
    r->weight_canary_samples = ev->w_canary_n;
    r->weight_baseline_samples = ev->w_baseline_n;
    fmt_val(pv, sizeof pv, r->p_value);
    fmt_val(ev_txt, sizeof ev_txt, r->e_value);

    /* Evidence shown stays shown, and is evidence even on a window without
     * traffic: the e-process is valid at every look, however few samples. */
    if (n->compare_p[i] <= c->alpha) {
        r->verdict = ROLLOUT_VERDICT_FAILED;
    } else if (ev->w_canary_n == 0) {
        no_data_verdict(c, r);
        return;
    } else if (ev->w_canary_n < c->min_samples || ev->w_baseline_n < c->min_samples) {
        /* Passing needs minSamples at this weight. */
        r->verdict = ROLLOUT_VERDICT_INCONCLUSIVE;
        rollout_fmt(r->text, sizeof r->text,
                    "%s: %llu canary and %llu baseline samples at this weight, needs %llu; "
                    "e-value %s, always-valid p %s",
                    c->name, (unsigned long long)ev->w_canary_n,
                    (unsigned long long)ev->w_baseline_n, (unsigned long long)c->min_samples,
                    ev_txt, pv);
        return;
    } else {
        r->verdict = ROLLOUT_VERDICT_PASSED;
    }
    rollout_fmt(r->text, sizeof r->text,
                "%s canary %s vs baseline %s (%llu / %llu vs %llu / %llu since the start), "
                "e-value %s, always-valid p %s %s %g",
                c->name, fmt_val(pc, sizeof pc, r->canary), fmt_val(pb, sizeof pb, r->baseline),
                (unsigned long long)ev->canary_x, (unsigned long long)ev->canary_n,
                (unsigned long long)ev->baseline_x, (unsigned long long)ev->baseline_n, ev_txt, pv,
                r->verdict == ROLLOUT_VERDICT_FAILED ? "\xe2\x89\xa4" : ">", c->alpha);
}

/* ---- burn rate ---------------------------------------------------------- */

static void eval_burn(const struct rollout_check *c, const struct check_inputs *in,
                      struct rollout_check_result *r)
{
    bool any_data = false, any_fail = false, any_inconclusive = false;
    double worst = -1;
    size_t worst_i = 0;
    char a[32], b[32], l[32], s[32];

    for (size_t i = 0; i < c->nwindows; i++) {
        const struct rollout_window *wl = in->burn_long[i], *ws = in->burn_short[i];
        if (!wl || !ws || wl->unavailable || ws->unavailable) {
            r->verdict = ROLLOUT_VERDICT_ERROR;
            rollout_fmt(r->text, sizeof r->text, "%s: the canary's %s data could not be read",
                     c->name, c->metric);
            return;
        }
        if (wl->count || ws->count)
            any_data = true;
    }
    r->canary_samples = in->burn_short[0]->count;
    if (!any_data) {
        no_data_verdict(c, r);
        return;
    }
    for (size_t i = 0; i < c->nwindows; i++) {
        const struct rollout_window *wl = in->burn_long[i], *ws = in->burn_short[i];
        double f = c->windows[i].factor, budget = 1.0 - c->slo;
        uint64_t need = c->min_samples ? c->min_samples : 1;
        bool jl = wl->count >= need, js = ws->count >= need;
        double bl = jl ? window_error_rate(wl) / budget : NAN;
        double bs = js ? window_error_rate(ws) / budget : NAN;
        double eff;

        r->burn_long[i] = bl;
        r->burn_short[i] = bs;
        if ((jl && bl < f) || (js && bs < f)) {
            eff = jl && js ? fmin(bl, bs) : jl ? bl : bs;
        } else if (jl && js) {
            any_fail = true;
            eff = fmin(bl, bs);
        } else {
            any_inconclusive = true;
            eff = jl ? bl : js ? bs : NAN;
        }
        /* Report the pair closest to failing: the highest burn both
         * windows share, relative to its factor. */
        if (isfinite(eff) && eff / f > worst) {
            worst = eff / f;
            worst_i = i;
        }
    }
    r->canary = isfinite(r->burn_long[worst_i]) && isfinite(r->burn_short[worst_i])
                    ? fmin(r->burn_long[worst_i], r->burn_short[worst_i])
                    : NAN;
    r->bound = c->windows[worst_i].factor;
    r->verdict = any_fail           ? ROLLOUT_VERDICT_FAILED
                 : any_inconclusive ? ROLLOUT_VERDICT_INCONCLUSIVE
                                    : ROLLOUT_VERDICT_PASSED;
    rollout_duration_format(c->windows[worst_i].long_ms, l, sizeof l);
    rollout_duration_format(c->windows[worst_i].short_ms, s, sizeof s);
    if (r->verdict == ROLLOUT_VERDICT_INCONCLUSIVE && !any_fail) {
        rollout_fmt(r->text, sizeof r->text, "%s: fewer than %llu canary samples in a burn window",
                 c->name, (unsigned long long)(c->min_samples ? c->min_samples : 1));
        return;
    }
    rollout_fmt(r->text, sizeof r->text, "%s burn %sx over %s and %sx over %s %s %gx", c->name,
             fmt_val(a, sizeof a, r->burn_long[worst_i]), l,
             fmt_val(b, sizeof b, r->burn_short[worst_i]), s,
             r->verdict == ROLLOUT_VERDICT_FAILED ? "\xe2\x89\xa5" : "<",
             c->windows[worst_i].factor);
}

/* ---- entry -------------------------------------------------------------- */

void rollout_check_eval(const struct rollout_check *c, size_t i, const struct check_inputs *in,
                        const struct rollout_state *st, struct rollout_state *n,
                        struct rollout_check_result *r)
{
    result_init(r, in);
    n->compare_p[i] = st->compare_p[i];
    switch (c->type) {
    case ROLLOUT_CHECK_THRESHOLD:
        eval_threshold(c, in, r);
        break;
    case ROLLOUT_CHECK_RELATIVE:
        eval_relative(c, in, st->weight, r);
        break;
    case ROLLOUT_CHECK_COMPARE:
        if (rollout_check_is_rate_ratio(c))
            eval_rate_ratio(c, i, in, st, n, r);
        else
            eval_compare(c, in, st->weight, st->compare_p[i], r, &n->compare_p[i]);
        break;
    case ROLLOUT_CHECK_BURN_RATE:
        eval_burn(c, in, r);
        break;
    }
}
