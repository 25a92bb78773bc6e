/* Sample-ratio mismatch: are arms receiving the traffic they were planned
 * to receive?
 *
 * Pearson's chi-square goodness of fit, sum (O - E)^2 / E with
 * E_i = N w_i / sum(w), df = k - 1 (scipy.stats.chisquare). An SRM alarm
 * means assignment or reporting is broken (a crashing canary reports less,
 * a bot hits one arm), so every other result of the experiment is suspect;
 * controllers check it first and at a strict threshold (p < 0.001 is usual).
 *
 * Edge cases are defined so that a controller never divides by zero: no
 * traffic is no mismatch yet, traffic into an arm planned at weight 0 is an
 * infinite mismatch.
 */
#include <math.h>

#include "server/stats/check.h"
#include "server/stats/stats.h"

roost_status roost_stats_srm(const uint64_t *observed, const double *weights, size_t k,
                             roost_stats_chi2test *out, roost_error *err)
{
    double wsum = 0.0, total = 0.0, chi2 = 0.0, p = 1.0, df;
    size_t i, arms = 0;
    int infinite = 0;
    roost_status st;

    if (!out || !observed || !weights)
        return roost_error_set(err, ROOST_EINVAL, "srm: NULL argument");
    if (k < 2)
        return roost_error_set(err, ROOST_EINVAL, "srm: needs at least 2 arms, got %zu", k);
    for (i = 0; i < k; i++) {
        if ((st = stats_check_finite(err, "srm", "a weight", weights[i])) != ROOST_OK)
            return roost_error_prefix(err, "arm %zu: ", i);
        if (weights[i] < 0)
            return roost_error_set(err, ROOST_EINVAL, "srm: arm %zu: weight %g is negative", i,
                                   weights[i]);
        wsum += weights[i];
        total += (double)observed[i];
    }
    if (!(wsum > 0.0) || !isfinite(wsum))
        return roost_error_set(err, ROOST_EINVAL, "srm: weights must have a positive finite sum");

    if (total == 0.0) {
        out->chi2 = 0.0;
        out->df = (double)(k - 1);
        out->p = 1.0;
        return ROOST_OK;
    }
    for (i = 0; i < k; i++) {
        double e = total * (weights[i] / wsum), o = (double)observed[i];
        if (weights[i] == 0.0) {
            if (observed[i] > 0)
                infinite = 1;
            else
                continue; /* planned off and off: not an arm of this test */
        } else {
            chi2 += (o - e) * (o - e) / e;
        }
        arms++;
    }
    df = arms > 1 ? (double)(arms - 1) : 0.0;
    if (infinite) {
        out->chi2 = HUGE_VAL;
        out->df = df;
        out->p = 0.0;
        return ROOST_OK;
    }
    if (arms < 2) {
        out->chi2 = 0.0;
        out->df = df;
        out->p = 1.0;
        return ROOST_OK;
    }
    if ((st = roost_stats_chi2_sf(chi2, df, &p, err)) != ROOST_OK)
        return roost_error_prefix(err, "srm: ");
    out->chi2 = chi2;
    out->df = df;
    out->p = p;
    return ROOST_OK;
}
