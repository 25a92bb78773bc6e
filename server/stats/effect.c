/* Effect sizes with confidence intervals: how big is the difference, not
 * only whether there is one.
 *
 * Absolute effect b - a with the unpooled standard error
 * sqrt(var_a/n_a + var_b/n_b) (Welch's), and relative effect (lift)
 * b/a - 1 with the delta-method standard error
 *     se(b/a) = (1/|m_a|) sqrt(var_b/n_b + (m_b/m_a)^2 var_a/n_a),
 * the first-order Taylor expansion of the ratio of two independent means
 * (as GrowthBook and Optimizely report lift). Intervals are normal
 * (z_{1-alpha/2}): these are large-sample quantities, and the delta method
 * is only first-order anyway. A lift is undefined when the control mean is
 * 0; the absolute effect is still reported and has_relative says so.
 *
 * For proportions the per-arm variance is p (1 - p) (Bernoulli), unpooled.
 */
#include <math.h>

#include "server/stats/check.h"
#include "server/stats/stats.h"

static void interval(double est, double se, double z, roost_stats_interval *out)
{
    out->estimate = est;
    out->se = se;
    out->lo = est - z * se;
    out->hi = est + z * se;
}

/* ma, va_n: mean of a and var_a / n_a; same for b. */
static roost_status effect(const char *fn, double ma, double va_n, double mb, double vb_n,
                           double alpha, roost_stats_effect *out, roost_error *err)
{
    double z, diff, se;
    roost_stats_effect e = {0};
    roost_status st;

    if ((st = stats_check_alpha(err, fn, alpha)) != ROOST_OK)
        return st;
    if ((st = roost_stats_normal_quantile(1.0 - alpha / 2.0, &z, err)) != ROOST_OK)
        return st;
    diff = mb - ma;
    se = sqrt(va_n + vb_n);
    if (!isfinite(diff) || !isfinite(se))
        return roost_error_set(err, ROOST_EINVAL, "%s: effect overflows a double", fn);
    interval(diff, se, z, &e.absolute);
    if (ma != 0.0) {
        double ratio = mb / ma;
        double rse = sqrt(vb_n + ratio * ratio * va_n) / fabs(ma);
        if (isfinite(ratio) && isfinite(rse)) {
            interval(ratio - 1.0, rse, z, &e.relative);
            e.has_relative = true;
        }
    }
    *out = e;
    return ROOST_OK;
}

static roost_status check_summary(const char *fn, const char *arm, const roost_stats_summary *s,
                                  roost_error *err)
{
    roost_status st;

    if (!s)
        return roost_error_set(err, ROOST_EINVAL, "%s: summary %s is NULL", fn, arm);
    if ((st = stats_check_finite(err, fn, "a mean", s->mean)) != ROOST_OK ||
        (st = stats_check_finite(err, fn, "a variance", s->var)) != ROOST_OK)
        return roost_error_prefix(err, "arm %s: ", arm);
    if (s->var < 0)
        return roost_error_set(err, ROOST_EINVAL, "%s: variance of %s is negative", fn, arm);
    if (s->n < 2)
        return roost_error_set(err, ROOST_EINVAL,
                               "%s: %s has n = %llu; a sample variance needs n >= 2", fn, arm,
                               (unsigned long long)s->n);
    return ROOST_OK;
}

roost_status roost_stats_effect_means(const roost_stats_summary *a, const roost_stats_summary *b,
                                      double alpha, roost_stats_effect *out, roost_error *err)
{
    roost_status st;

    if (!out)
        return roost_error_set(err, ROOST_EINVAL, "effect_means: out is NULL");
    if ((st = check_summary("effect_means", "a", a, err)) != ROOST_OK ||
        (st = check_summary("effect_means", "b", b, err)) != ROOST_OK)
        return st;
    return effect("effect_means", a->mean, a->var / (double)a->n, b->mean, b->var / (double)b->n,
                  alpha, out, err);
}

roost_status roost_stats_effect_proportions(uint64_t x_a, uint64_t n_a, uint64_t x_b,
                                            uint64_t n_b, double alpha, roost_stats_effect *out,
                                            roost_error *err)
{
    double pa, pb;

    if (!out)
        return roost_error_set(err, ROOST_EINVAL, "effect_proportions: out is NULL");
    if (n_a == 0 || n_b == 0)
        return roost_error_set(err, ROOST_EINVAL, "effect_proportions: no data in arm %s (n = 0)",
                               n_a == 0 ? "a" : "b");
    if (x_a > n_a || x_b > n_b)
        return roost_error_set(err, ROOST_EINVAL,
                               "effect_proportions: more successes than trials in arm %s",
                               x_a > n_a ? "a" : "b");
    pa = (double)x_a / (double)n_a;
    pb = (double)x_b / (double)n_b;
    return effect("effect_proportions", pa, pa * (1.0 - pa) / (double)n_a, pb,
                  pb * (1.0 - pb) / (double)n_b, alpha, out, err);
}
