/* Always-valid inference: the normal-mixture sequential probability ratio
 * test (mSPRT).
 *
 * Rollouts are watched continuously: the controller looks at the data every
 * minute and acts as soon as the evidence is there. A fixed-horizon test
 * read that way rejects a true null far more often than alpha (about 25 %
 * at 30 looks; tests/unit/stats:aa_simulation measures it). The mSPRT
 * (Robbins 1970; Johari, Koomen, Pekelis & Walsh, "Always valid inference",
 * Operations Research 2022) replaces the p-value by one that is valid at
 * every look simultaneously.
 *
 * Model: the effect estimate is approximately N(theta, V) at each look (a
 * difference of means or proportions, by the CLT). Mixing the alternative
 * over theta ~ N(theta0, tau2) gives the closed-form likelihood ratio
 *     Lambda_n = sqrt(V / (V + tau2)) exp(tau2 d^2 / (2 V (V + tau2))),
 *     d = estimate - theta0,
 * a nonnegative martingale under the null with mean 1, so by Ville's
 * inequality P(sup_n Lambda_n >= 1/alpha) <= alpha. Hence:
 *   - p_n = min(1, min_{k<=n} 1/Lambda_k) is an always-valid p-value. The
 *     running minimum is part of the definition: once the evidence has
 *     crossed a level it has crossed it, and the p-value never goes back up
 *     when later data is noisier. Stopping the first time p_n <= alpha keeps
 *     the false-positive rate <= alpha.
 *   - Inverting Lambda_n < 1/alpha in theta0 gives the confidence sequence
 *     est ± sqrt(V (V + tau2) / tau2 (log((V + tau2) / V) - 2 log alpha)),
 *     which covers the true effect at all looks simultaneously with
 *     probability >= 1 - alpha. Its running intersection is the interval
 *     dual to the running-minimum p-value.
 *
 * tau2 (the tuning parameter) sets at which sample size the test is most
 * sensitive: a small tau2 suits small effects and long experiments, a large
 * one big effects found early. Any tau2 keeps the error guarantee; it only
 * trades power between early and late. roost_stats_msprt_tau2 applies
 * GrowthBook's rule (narrowest interval at an expected sample size).
 *
 * Everything is computed in log space (log1p for the variance ratio) so
 * that a huge V/tau2 ratio or a tiny p does not overflow.
 */
#include <math.h>

#include "server/stats/check.h"
#include "server/stats/stats.h"

static double log_lambda(double est, double v, double tau2, double theta0)
{
    double d = est - theta0;
    return -0.5 * log1p(tau2 / v) + tau2 / (v + tau2) * (d * d / (2.0 * v));
}

static double half_width(double v, double tau2, double alpha)
{
    return sqrt(v * (1.0 + v / tau2) * (log1p(tau2 / v) - 2.0 * log(alpha)));
}

static roost_status check_look(const char *fn, double est, double v, double tau2,
                               roost_error *err)
{
    roost_status st;

    if ((st = stats_check_finite(err, fn, "estimate", est)) != ROOST_OK ||
        (st = stats_check_finite(err, fn, "variance", v)) != ROOST_OK ||
        (st = stats_check_finite(err, fn, "tau2", tau2)) != ROOST_OK)
        return st;
    if (v < 0)
        return roost_error_set(err, ROOST_EINVAL, "%s: variance is negative (%g)", fn, v);
    if (!(tau2 > 0))
        return roost_error_set(err, ROOST_EINVAL, "%s: tau2 must be positive, got %g", fn, tau2);
    return ROOST_OK;
}

roost_status roost_stats_msprt_pvalue(double estimate, double variance, double tau2,
                                      double theta0, double *p, roost_error *err)
{
    roost_status st;
    double ll;

    if (!p)
        return roost_error_set(err, ROOST_EINVAL, "msprt_pvalue: p is NULL");
    if ((st = check_look("msprt_pvalue", estimate, variance, tau2, err)) != ROOST_OK ||
        (st = stats_check_finite(err, "msprt_pvalue", "theta0", theta0)) != ROOST_OK)
        return st;
    if (variance == 0.0) {
        *p = 1.0; /* no information, no evidence */
        return ROOST_OK;
    }
    ll = log_lambda(estimate, variance, tau2, theta0);
    *p = ll <= 0.0 ? 1.0 : exp(-ll);
    return ROOST_OK;
}

roost_status roost_stats_msprt_interval(double estimate, double variance, double tau2,
                                        double alpha, double *lo, double *hi, roost_error *err)
{
    roost_status st;
    double w;

    if (!lo || !hi)
        return roost_error_set(err, ROOST_EINVAL, "msprt_interval: NULL argument");
    if ((st = check_look("msprt_interval", estimate, variance, tau2, err)) != ROOST_OK ||
        (st = stats_check_alpha(err, "msprt_interval", alpha)) != ROOST_OK)
        return st;
    w = variance == 0.0 ? 0.0 : half_width(variance, tau2, alpha);
    *lo = estimate - w;
    *hi = estimate + w;
    return ROOST_OK;
}

roost_status roost_stats_msprt_init(roost_stats_msprt *s, double tau2, double alpha,
                                    double theta0, roost_error *err)
{
    roost_status st;

    if (!s)
        return roost_error_set(err, ROOST_EINVAL, "msprt_init: state is NULL");
    if ((st = stats_check_finite(err, "msprt_init", "tau2", tau2)) != ROOST_OK ||
        (st = stats_check_finite(err, "msprt_init", "theta0", theta0)) != ROOST_OK ||
        (st = stats_check_alpha(err, "msprt_init", alpha)) != ROOST_OK)
        return st;
    if (!(tau2 > 0))
        return roost_error_set(err, ROOST_EINVAL, "msprt_init: tau2 must be positive, got %g",
                               tau2);
    s->tau2 = tau2;
    s->alpha = alpha;
    s->theta0 = theta0;
    s->p = 1.0;
    s->lo = -HUGE_VAL;
    s->hi = HUGE_VAL;
    s->looks = 0;
    return ROOST_OK;
}

roost_status roost_stats_msprt_update(roost_stats_msprt *s, double estimate, double variance,
                                      roost_stats_msprt_look *look, roost_error *err)
{
    roost_stats_msprt_look l = {0};
    roost_status st;
    double w;

    if (!s)
        return roost_error_set(err, ROOST_EINVAL, "msprt_update: state is NULL");
    if ((st = check_look("msprt_update", estimate, variance, s->tau2, err)) != ROOST_OK)
        return st;
    if (!(s->alpha > 0.0 && s->alpha < 1.0) || !(s->p >= 0.0 && s->p <= 1.0))
        return roost_error_set(err, ROOST_EINVAL, "msprt_update: state was not initialized");

    if (variance == 0.0) {
        /* One observation per arm, or a constant metric: nothing to learn. */
        l.p_look = 1.0;
        l.lo_look = -HUGE_VAL;
        l.hi_look = HUGE_VAL;
        l.informative = false;
    } else {
        l.log_lambda = log_lambda(estimate, variance, s->tau2, s->theta0);
        l.p_look = l.log_lambda <= 0.0 ? 1.0 : exp(-l.log_lambda);
        w = half_width(variance, s->tau2, s->alpha);
        l.lo_look = estimate - w;
        l.hi_look = estimate + w;
        l.informative = true;

        if (l.p_look < s->p)
            s->p = l.p_look;
        if (l.lo_look > s->lo)
            s->lo = l.lo_look;
        if (l.hi_look < s->hi)
            s->hi = l.hi_look;
        if (s->lo > s->hi) {
            double mid = s->lo / 2.0 + s->hi / 2.0;
            s->lo = s->hi = mid;
        }
        s->looks++;
    }
    l.p = s->p;
    l.lo = s->lo;
    l.hi = s->hi;
    l.reject = s->p <= s->alpha;
    if (look)
        *look = l;
    return ROOST_OK;
}

roost_status roost_stats_msprt_tau2(double sigma2, double expected_n, double alpha, double *tau2,
                                    roost_error *err)
{
    roost_status st;
    double la;

    if (!tau2)
        return roost_error_set(err, ROOST_EINVAL, "msprt_tau2: tau2 is NULL");
    if ((st = stats_check_finite(err, "msprt_tau2", "sigma2", sigma2)) != ROOST_OK ||
        (st = stats_check_finite(err, "msprt_tau2", "expected_n", expected_n)) != ROOST_OK ||
        (st = stats_check_alpha(err, "msprt_tau2", alpha)) != ROOST_OK)
        return st;
    if (!(sigma2 > 0) || !(expected_n > 0))
        return roost_error_set(err, ROOST_EINVAL,
                               "msprt_tau2: sigma2 and expected_n must be positive (%g, %g)",
                               sigma2, expected_n);
    la = -2.0 * log(alpha);
    *tau2 = sigma2 * (la + log1p(la)) / expected_n;
    return ROOST_OK;
}
