/* Two-proportion z-test (pooled), for error rates and conversions.
 *
 * The pooled variance p (1 - p) (1/n_a + 1/n_b) is the variance of the
 * difference under the null hypothesis that both arms share one rate, which
 * is what a test of "did the canary change the error rate" assumes; it
 * matches statsmodels' proportions_ztest, the reference in the vectors. The
 * unpooled variance belongs to confidence intervals (effect.c).
 *
 * Counts are uint64_t: 10^12 requests are fine; x + n sums are checked for
 * overflow.
 */
#include <math.h>

#include "server/stats/special.h"
#include "server/stats/stats.h"

roost_status roost_stats_two_proportion(uint64_t x_a, uint64_t n_a, uint64_t x_b, uint64_t n_b,
                                        roost_stats_ztest *out, roost_error *err)
{
    double pa, pb, pool, var, diff, z;

    if (!out)
        return roost_error_set(err, ROOST_EINVAL, "two_proportion: out is NULL");
    if (n_a == 0 || n_b == 0)
        return roost_error_set(err, ROOST_EINVAL, "two_proportion: no data in arm %s (n = 0)",
                               n_a == 0 ? "a" : "b");
    if (x_a > n_a || x_b > n_b)
        return roost_error_set(err, ROOST_EINVAL,
                               "two_proportion: more successes than trials in arm %s (%llu > %llu)",
                               x_a > n_a ? "a" : "b",
                               (unsigned long long)(x_a > n_a ? x_a : x_b),
                               (unsigned long long)(x_a > n_a ? n_a : n_b));
    if (n_a > UINT64_MAX - n_b)
        return roost_error_set(err, ROOST_EINVAL, "two_proportion: total trials overflow");

    pa = (double)x_a / (double)n_a;
    pb = (double)x_b / (double)n_b;
    pool = ((double)x_a + (double)x_b) / ((double)n_a + (double)n_b);
    var = pool * (1.0 - pool) * (1.0 / (double)n_a + 1.0 / (double)n_b);
    diff = pa - pb;
    if (!(var > 0.0)) {
        /* Both arms all successes or all failures: nothing varies. */
        out->z = 0.0;
        out->p = 1.0;
        return ROOST_OK;
    }
    z = diff / sqrt(var);
    out->z = z;
    out->p = 2.0 * roost_stats_norm_sf(fabs(z));
    if (out->p > 1.0)
        out->p = 1.0;
    return ROOST_OK;
}
