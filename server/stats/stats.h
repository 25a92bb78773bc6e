/* Roost statistics library: the tests and estimates that canary analysis and
 * experiments decide from.
 *
 * Everything works from summary statistics (counts, means, variances,
 * sketches), because that is what SDKs report and roostd stores. Every
 * function is pure: no global state, no allocation (scratch memory, where
 * needed, is passed in), deterministic for the same inputs on the same
 * platform, safe to call from any thread.
 *
 * Conventions, for every function below:
 *   - Returns ROOST_OK and fills its out-parameters, or returns an error and
 *     leaves them untouched. On error the optional roost_error receives a
 *     message naming the function and the offending input.
 *   - ROOST_EINVAL for NULL pointers, NaN or infinite inputs, and inputs
 *     outside the documented domain. Inputs are never clamped silently.
 *   - Outputs are finite except where documented (a test statistic is
 *     ±infinity when the evidence is infinite, e.g. two constant arms with
 *     different values; its p-value is then 0).
 *   - "a" is control / baseline, "b" is treatment / canary; effects and
 *     differences are b - a unless a function says otherwise (Welch's t and
 *     the two-proportion z follow scipy/statsmodels: a - b).
 *
 * Accuracy: checked against scipy 1.10 / statsmodels 0.13 reference values
 * (tests/conformance:stats_vectors) and against 60-digit mpmath values for
 * the distribution functions, including far tails and huge degrees of
 * freedom (tests/conformance:stats_vectors_extreme). docs/statistics.md gives formulas and references.
 */
#ifndef ROOST_SERVER_STATS_H
#define ROOST_SERVER_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "roost/sketch.h"
#include "roost/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- distributions.c ---------------------------------------------------- */

/* Standard normal cdf P(Z <= z) and survival P(Z > z); accurate to a few
 * ulps in relative terms down to the smallest doubles (z of about ±38). */
roost_status roost_stats_normal_cdf(double z, double *out, roost_error *err);
roost_status roost_stats_normal_sf(double z, double *out, roost_error *err);

/* Standard normal quantile (Wichura's AS 241, relative error ~1e-16).
 * p in [0, 1]; p = 0 gives -HUGE_VAL and p = 1 +HUGE_VAL. */
roost_status roost_stats_normal_quantile(double p, double *out, roost_error *err);

/* Student t survival function P(T_df > t), df > 0 (need not be an integer).
 * Regularized incomplete beta by continued fraction for df < 1e5, Hill's
 * asymptotic expansion (ACM 395) above, where both agree to ~1e-13. */
roost_status roost_stats_student_t_sf(double t, double df, double *out, roost_error *err);

/* Chi-square survival function P(X_df > x), df > 0; x < 0 gives 1.
 * Regularized upper incomplete gamma Q(df/2, x/2): series / continued
 * fraction for df/2 < 1e5, Temme's uniform asymptotic expansion above. */
roost_status roost_stats_chi2_sf(double x, double df, double *out, roost_error *err);

/* ---- tests_means.c -------------------------------------------------------- */

/* Summary of one arm of a continuous metric: count, mean, sample variance
 * (denominator n - 1). */
typedef struct roost_stats_summary {
    uint64_t n;
    double mean;
    double var;
} roost_stats_summary;

/* Summary from the sums SDKs report (count, sum, sum of squares). The
 * textbook formula loses digits when the mean is large compared with the
 * spread (cancellation); a negative result of that rounding is reported as
 * variance 0. n = 0 is ROOST_EINVAL (no data); n = 1 gives variance 0. */
roost_status roost_stats_summary_from_sums(uint64_t n, double sum, double sumsq,
                                           roost_stats_summary *out, roost_error *err);

typedef struct roost_stats_ttest {
    double t;  /* (mean_a - mean_b) / se */
    double df; /* Welch-Satterthwaite degrees of freedom */
    double p;  /* two-sided */
} roost_stats_ttest;

/* Welch's unequal-variance t-test from two summaries. Each arm needs n >= 2
 * (a sample variance needs two observations: ROOST_EINVAL otherwise).
 * Zero variance in one arm is fine (df = n_other - 1). Zero variance in both:
 * t = 0, p = 1 if the means are equal, else t = ±infinity, p = 0; df is then
 * n_a + n_b - 2. */
roost_status roost_stats_welch(const roost_stats_summary *a, const roost_stats_summary *b,
                               roost_stats_ttest *out, roost_error *err);

/* ---- proportions.c ---------------------------------------------------- */

typedef struct roost_stats_ztest {
    double z; /* (p_a - p_b) / pooled se */
    double p; /* two-sided */
} roost_stats_ztest;

/* Pooled two-proportion z-test (statsmodels proportions_ztest). x <= n and
 * n >= 1 in each arm. When both arms are all successes or all failures
 * there is no variance and no evidence: z = 0, p = 1. */
roost_status roost_stats_two_proportion(uint64_t x_a, uint64_t n_a, uint64_t x_b, uint64_t n_b,
                                        roost_stats_ztest *out, roost_error *err);

/* ---- srm.c -------------------------------------------------------------- */

typedef struct roost_stats_chi2test {
    double chi2;
    double df;
    double p;
} roost_stats_chi2test;

/* Sample-ratio mismatch: chi-square goodness of fit of observed arm counts
 * against planned weights (any positive scale; normalized here). k >= 2.
 * No traffic at all is not a mismatch: chi2 = 0, p = 1. An arm planned at
 * weight 0 that received traffic is an infinite mismatch (chi2 = +infinity,
 * p = 0); an arm at weight 0 with no traffic is left out (df drops by one).
 * Fewer than two arms left: chi2 = 0, df = 0, p = 1. */
roost_status roost_stats_srm(const uint64_t *observed, const double *weights, size_t k,
                             roost_stats_chi2test *out, roost_error *err);

/* ---- mann_whitney.c ----------------------------------------------------- */

typedef struct roost_stats_mwu {
    double u_a; /* U statistic of sample a: pairs (a > b) + half the ties */
    double z;   /* continuity-corrected, tie-corrected, from max(U_a, U_b) */
    double p;   /* two-sided, normal approximation, clipped to [0, 1] */
} roost_stats_mwu;

/* Mann-Whitney U on raw samples (scipy mannwhitneyu, method="asymptotic",
 * use_continuity=True). `work` is caller scratch of at least n_a + n_b
 * doubles (the samples are copied and sorted there). Both samples need at
 * least one value; when every value is tied: z = 0, p = 1. */
roost_status roost_stats_mann_whitney(const double *a, size_t n_a, const double *b, size_t n_b,
                                      double *work, size_t work_len, roost_stats_mwu *out,
                                      roost_error *err);

/* Mann-Whitney U on two latency sketches: each bucket is one group of tied
 * values (all values in a bucket are within 1 % of each other), so the test
 * is exact for data rounded to bucket resolution. No scratch needed. */
roost_status roost_stats_mann_whitney_sketch(const roost_sketch *a, const roost_sketch *b,
                                             roost_stats_mwu *out, roost_error *err);

/* ---- multiple.c ------------------------------------------------------- */

/* Holm step-down and Benjamini-Hochberg step-up adjustment of m p-values
 * (statsmodels multipletests "holm" / "fdr_bh"). adjusted[i] and reject[i]
 * belong to p[i]. `work` is caller scratch of m size_t. p in [0, 1],
 * alpha in (0, 1). m = 0 is allowed and does nothing. */
roost_status roost_stats_holm(const double *p, size_t m, double alpha, double *adjusted,
                              bool *reject, size_t *work, roost_error *err);
roost_status roost_stats_benjamini_hochberg(const double *p, size_t m, double alpha,
                                            double *adjusted, bool *reject, size_t *work,
                                            roost_error *err);

/* ---- effect.c ----------------------------------------------------------- */

typedef struct roost_stats_interval {
    double estimate;
    double se;
    double lo, hi; /* two-sided 1 - alpha normal interval */
} roost_stats_interval;

typedef struct roost_stats_effect {
    roost_stats_interval absolute; /* b - a */
    roost_stats_interval relative; /* b / a - 1, delta method */
    bool has_relative;             /* false when a's mean is 0: lift undefined
                                      (relative is then all zeros) */
} roost_stats_effect;

/* Effect of b over a for continuous metrics (n >= 2 each) and for
 * proportions (n >= 1 each, x <= n). alpha in (0, 1). */
roost_status roost_stats_effect_means(const roost_stats_summary *a, const roost_stats_summary *b,
                                      double alpha, roost_stats_effect *out, roost_error *err);
roost_status roost_stats_effect_proportions(uint64_t x_a, uint64_t n_a, uint64_t x_b,
                                            uint64_t n_b, double alpha, roost_stats_effect *out,
                                            roost_error *err);

/* ---- sequential.c ------------------------------------------------------- */

/* Always-valid inference with the normal-mixture sequential probability
 * ratio test (mSPRT; Johari, Pekelis & Walsh 2017/2022), the test behind
 * Optimizely's Stats Engine and GrowthBook's sequential testing.
 *
 * At each look the caller passes the current effect estimate (e.g. the
 * difference of means b - a) and its variance V (e.g. var_a/n_a +
 * var_b/n_b). With a N(theta0, tau2) mixture over the true effect the
 * likelihood ratio is
 *     Lambda = sqrt(V / (V + tau2)) * exp(tau2 (est - theta0)^2 / (2 V (V + tau2)))
 * and p = min over looks of min(1, 1 / Lambda) is an always-valid p-value:
 * P(p ever <= alpha) <= alpha under the null, however often one looks.
 * The dual confidence sequence is
 *     est ± sqrt(V (V + tau2) / tau2 * (log((V + tau2) / V) - 2 log alpha)).
 *
 * tau2 is the tuning parameter (variance of the effects one expects, in the
 * metric's units squared): see roost_stats_msprt_tau2. A look with V == 0
 * carries no information and leaves the state unchanged. */
typedef struct roost_stats_msprt {
    double tau2;   /* mixing variance */
    double alpha;  /* level of the confidence sequence and of `reject` */
    double theta0; /* null effect, usually 0 */
    double p;      /* always-valid p-value so far (running minimum), 1 at start */
    double lo, hi; /* running intersection of the confidence sequence */
    uint64_t looks;
} roost_stats_msprt;

typedef struct roost_stats_msprt_look {
    double log_lambda;    /* log likelihood ratio at this look */
    double p_look;        /* min(1, 1 / Lambda) at this look alone */
    double p;             /* always-valid p after this look (running min) */
    double lo_look, hi_look; /* this look's interval */
    double lo, hi;        /* running intersection */
    bool reject;          /* p <= alpha */
    bool informative;     /* false when V == 0 (state not updated) */
} roost_stats_msprt_look;

/* Starts a sequential test. tau2 > 0, alpha in (0, 1), theta0 finite. */
roost_status roost_stats_msprt_init(roost_stats_msprt *s, double tau2, double alpha,
                                    double theta0, roost_error *err);

/* Folds one look into the state. estimate finite, variance >= 0 finite.
 * `look` may be NULL. If the running intersection would become empty (which
 * has probability <= alpha when the model holds) it is kept as the single
 * point between the crossed bounds. */
roost_status roost_stats_msprt_update(roost_stats_msprt *s, double estimate, double variance,
                                      roost_stats_msprt_look *look, roost_error *err);

/* Stateless single-look pieces: 1 / Lambda capped at 1, and the interval. */
roost_status roost_stats_msprt_pvalue(double estimate, double variance, double tau2,
                                      double theta0, double *p, roost_error *err);
roost_status roost_stats_msprt_interval(double estimate, double variance, double tau2,
                                        double alpha, double *lo, double *hi, roost_error *err);

/* Picks tau2 so that the confidence sequence is narrowest when the total
 * sample size reaches expected_n (GrowthBook's rule, Waudby-Smith et al.
 * 2023 eq. 161): tau2 = sigma2 * (-2 log alpha + log(1 - 2 log alpha)) /
 * expected_n, where sigma2 = V * n is the variance of the effect estimate
 * times the sample size it was computed from (for a difference of means
 * with an even split, sigma2 = 2 (var_a + var_b)). */
roost_status roost_stats_msprt_tau2(double sigma2, double expected_n, double alpha, double *tau2,
                                    roost_error *err);

#ifdef __cplusplus
}
#endif

#endif /* ROOST_SERVER_STATS_H */
