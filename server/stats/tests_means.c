/* Tests on means: Welch's unequal-variance t-test from summaries.
 *
 * Welch rather than Student's pooled test because canary and baseline
 * rarely have equal variances (a regression often shows first as a wider
 * spread) or equal sizes (a canary at 5 % of traffic); Welch costs nothing
 * when they are equal. Inputs are summaries because SDKs report sums, not
 * raw observations.
 *
 * Numerics: the Welch-Satterthwaite df is computed with the two variance
 * terms scaled by the larger one, so variances near DBL_MAX or counts near
 * 10^12 neither overflow nor underflow.
 */
#include <math.h>

#include "server/stats/check.h"
#include "server/stats/stats.h"

roost_status roost_stats_summary_from_sums(uint64_t n, double sum, double sumsq,
                                           roost_stats_summary *out, roost_error *err)
{
    double mean, var;
    roost_status st;

    if (!out)
        return roost_error_set(err, ROOST_EINVAL, "summary: out is NULL");
    if ((st = stats_check_finite(err, "summary", "sum", sum)) ||
        (st = stats_check_finite(err, "summary", "sum of squares", sumsq)))
        return st;
    if (n == 0)
        return roost_error_set(err, ROOST_EINVAL, "summary: no data (n = 0)");
    if (sumsq < 0)
        return roost_error_set(err, ROOST_EINVAL, "summary: sum of squares is negative (%g)",
                               sumsq);
    mean = sum / (double)n;
    var = n > 1 ? (sumsq - sum * mean) / (double)(n - 1) : 0.0;
    if (!(var > 0.0))
        var = 0.0; /* rounding of a constant metric, not a real negative */
    if (!isfinite(var))
        return roost_error_set(err, ROOST_EINVAL, "summary: variance overflows (sumsq %g)",
                               sumsq);
    out->n = n;
    out->mean = mean;
    out->var = var;
    return ROOST_OK;
}

static roost_status check_summary(const roost_stats_summary *s, const char *arm, roost_error *err)
{
    roost_status st;

    if (!s)
        return roost_error_set(err, ROOST_EINVAL, "welch: summary %s is NULL", arm);
    if ((st = stats_check_finite(err, "welch", arm[0] == 'a' ? "mean of a" : "mean of b",
                                 s->mean)) ||
        (st = stats_check_finite(err, "welch", arm[0] == 'a' ? "variance of a" : "variance of b",
                                 s->var)))
        return st;
    if (s->var < 0)
        return roost_error_set(err, ROOST_EINVAL, "welch: variance of %s is negative (%g)", arm,
                               s->var);
    if (s->n < 2)
        return roost_error_set(err, ROOST_EINVAL,
                               "welch: %s has n = %llu; a sample variance needs n >= 2", arm,
                               (unsigned long long)s->n);
    return ROOST_OK;
}

roost_status roost_stats_welch(const roost_stats_summary *a, const roost_stats_summary *b,
                               roost_stats_ttest *out, roost_error *err)
{
    double na, nb, sa, sb, m, ra, rb, se, diff, t, df, p;
    roost_status st;

    if (!out)
        return roost_error_set(err, ROOST_EINVAL, "welch: out is NULL");
    if ((st = check_summary(a, "a", err)) || (st = check_summary(b, "b", err)))
        return st;

    na = (double)a->n;
    nb = (double)b->n;
    sa = a->var / na;
    sb = b->var / nb;
    diff = a->mean - b->mean;
    m = sa > sb ? sa : sb;
    if (m == 0.0) {
        out->t = diff == 0.0 ? 0.0 : (diff > 0 ? HUGE_VAL : -HUGE_VAL);
        out->df = na + nb - 2.0;
        out->p = diff == 0.0 ? 1.0 : 0.0;
        return ROOST_OK;
    }
    if (!isfinite(diff))
        return roost_error_set(err, ROOST_EINVAL, "welch: difference of means overflows");
    ra = sa / m;
    rb = sb / m;
    se = sqrt(m) * sqrt(ra + rb);
    t = diff / se;
    df = (ra + rb) * (ra + rb) / (ra * ra / (na - 1.0) + rb * rb / (nb - 1.0));
    if (isinf(t)) {
        p = 0.0;
    } else if ((st = roost_stats_student_t_sf(fabs(t), df, &p, err)) != ROOST_OK) {
        return roost_error_prefix(err, "welch: ");
    } else {
        p = 2.0 * p;
        if (p > 1.0)
            p = 1.0;
    }
    out->t = t;
    out->df = df;
    out->p = p;
    return ROOST_OK;
}
