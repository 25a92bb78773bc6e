/* Statistics library: behaviour at the edges (no data, n = 1, zero
 * variance, all successes, 10^12 counts, NaN and infinity), properties the
 * reference vectors cannot show (symmetry, continuity across algorithm
 * switches, running-minimum p-values), and the sketch-based rank test. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "rng.h"
#include "server/stats/stats.h"
#include "testmain.h"

#define assert_close(got, want, rel)                                                        \
    do {                                                                                    \
        double g_ = (got), w_ = (want);                                                     \
        if (!(fabs(g_ - w_) <= (rel) * fabs(w_) + 1e-300))                                  \
            fail_msg("%s = %.17g, want %.17g", #got, g_, w_);                               \
    } while (0)

/* The error path must say something a person can act on. */
static void assert_einval_says(roost_status st, const roost_error *err, const char *needle)
{
    assert_int_equal(st, ROOST_EINVAL);
    if (!strstr(err->msg, needle))
        fail_msg("message \"%s\" does not mention \"%s\"", err->msg, needle);
}

/* ---- Welch ------------------------------------------------------------ */

static void welch_rejects_nan_mean(void **state)
{
    roost_stats_summary a = {100, NAN, 1.0}, b = {100, 1.0, 1.0};
    roost_stats_ttest t = {7, 7, 7};
    roost_error err = {0};
    (void)state;
    assert_einval_says(roost_stats_welch(&a, &b, &t, &err), &err, "NaN");
    assert_true(t.t == 7 && t.p == 7); /* out untouched */
}

static void welch_rejects_infinite_variance(void **state)
{
    roost_stats_summary a = {100, 1.0, 1.0}, b = {100, 1.0, INFINITY};
    roost_stats_ttest t;
    roost_error err = {0};
    (void)state;
    assert_einval_says(roost_stats_welch(&a, &b, &t, &err), &err, "infinite");
}

static void welch_rejects_an_arm_with_a_single_observation(void **state)
{
    roost_stats_summary a = {1, 5.0, 0.0}, b = {100, 1.0, 1.0};
    roost_stats_ttest t;
    roost_error err = {0};
    (void)state;
    assert_einval_says(roost_stats_welch(&a, &b, &t, &err), &err, "n >= 2");
}

static void welch_with_zero_variance_in_one_arm_uses_the_other_arms_df(void **state)
{
    roost_stats_summary a = {50, 10.0, 0.0}, b = {20, 11.0, 4.0};
    roost_stats_ttest t;
    (void)state;
    assert_int_equal(roost_stats_welch(&a, &b, &t, NULL), ROOST_OK);
    assert_close(t.df, 19.0, 1e-12);
    assert_close(t.t, -1.0 / sqrt(4.0 / 20.0), 1e-12);
    assert_true(t.p > 0.0 && t.p < 1.0);
}

static void welch_with_zero_variance_in_both_arms_is_defined(void **state)
{
    roost_stats_summary a = {10, 3.0, 0.0}, b = {12, 3.0, 0.0};
    roost_stats_ttest t;
    (void)state;
    assert_int_equal(roost_stats_welch(&a, &b, &t, NULL), ROOST_OK);
    assert_true(t.t == 0.0 && t.p == 1.0 && t.df == 20.0);
    b.mean = 4.0;
    assert_int_equal(roost_stats_welch(&a, &b, &t, NULL), ROOST_OK);
    assert_true(isinf(t.t) && t.t < 0 && t.p == 0.0);
}

static void welch_with_a_trillion_observations_per_arm_stays_finite(void **state)
{
    roost_stats_summary a = {1000000000000ull, 100.0, 400.0}, b = {1000000000000ull, 100.0, 400.0};
    roost_stats_ttest t;
    (void)state;
    assert_int_equal(roost_stats_welch(&a, &b, &t, NULL), ROOST_OK);
    assert_true(t.t == 0.0 && t.p == 1.0);
    assert_close(t.df, 2e12 - 2, 1e-12);
    b.mean = 100.0001; /* t = -3.5355 */
    assert_int_equal(roost_stats_welch(&a, &b, &t, NULL), ROOST_OK);
    assert_close(t.t, -3.5355339059327378, 1e-6);
    assert_close(t.p, 4.069520174449578e-4, 1e-6);
}

static void summary_from_sums_with_no_data_is_rejected(void **state)
{
    roost_stats_summary s;
    roost_error err = {0};
    (void)state;
    assert_einval_says(roost_stats_summary_from_sums(0, 0.0, 0.0, &s, &err), &err, "no data");
    assert_einval_says(roost_stats_summary_from_sums(5, NAN, 1.0, &s, &err), &err, "NaN");
}

static void summary_of_a_constant_metric_has_zero_not_negative_variance(void **state)
{
    roost_stats_summary s;
    double v = 0.1, n = 1e7;
    (void)state;
    /* sum and sumsq of 1e7 copies of 0.1: cancellation would go negative */
    assert_int_equal(roost_stats_summary_from_sums(10000000, v * n, v * v * n * (1 + 1e-16), &s,
                                                   NULL),
                     ROOST_OK);
    assert_true(s.var >= 0.0 && s.var < 1e-12);
    assert_int_equal(roost_stats_summary_from_sums(1, 42.0, 1764.0, &s, NULL), ROOST_OK);
    assert_true(s.n == 1 && s.mean == 42.0 && s.var == 0.0);
}

/* ---- proportions -------------------------------------------------------- */

static void two_proportion_with_all_successes_in_both_arms_shows_no_difference(void **state)
{
    roost_stats_ztest z;
    (void)state;
    assert_int_equal(roost_stats_two_proportion(1000, 1000, 20, 20, &z, NULL), ROOST_OK);
    assert_true(z.z == 0.0 && z.p == 1.0);
    assert_int_equal(roost_stats_two_proportion(0, 1000, 0, 20, &z, NULL), ROOST_OK);
    assert_true(z.z == 0.0 && z.p == 1.0);
}

static void two_proportion_with_no_data_is_rejected(void **state)
{
    roost_stats_ztest z;
    roost_error err = {0};
    (void)state;
    assert_einval_says(roost_stats_two_proportion(0, 0, 1, 10, &z, &err), &err, "no data");
    assert_einval_says(roost_stats_two_proportion(11, 10, 1, 10, &z, &err), &err,
                       "more successes");
}

static void two_proportion_with_a_trillion_trials_keeps_precision(void **state)
{
    roost_stats_ztest z;
    (void)state;
    /* 1.0000 % vs 1.0001 % over 10^12 each (statsmodels: z = -7.106514679155048) */
    assert_int_equal(roost_stats_two_proportion(10000000000ull, 1000000000000ull, 10001000000ull,
                                                1000000000000ull, &z, NULL),
                     ROOST_OK);
    assert_close(z.z, -7.106514679155048, 1e-9);
    assert_close(z.p, 1.1901000597276626e-12, 1e-6);
}

/* ---- SRM ---------------------------------------------------------------- */

static void srm_with_zero_counts_is_not_a_mismatch(void **state)
{
    uint64_t obs[3] = {0, 0, 0};
    double w[3] = {1, 1, 2};
    roost_stats_chi2test c;
    (void)state;
    assert_int_equal(roost_stats_srm(obs, w, 3, &c, NULL), ROOST_OK);
    assert_true(c.chi2 == 0.0 && c.p == 1.0 && c.df == 2.0);
}

static void srm_with_traffic_into_a_zero_weight_arm_is_an_infinite_mismatch(void **state)
{
    uint64_t obs[3] = {500, 500, 1};
    double w[3] = {0.5, 0.5, 0.0};
    roost_stats_chi2test c;
    (void)state;
    assert_int_equal(roost_stats_srm(obs, w, 3, &c, NULL), ROOST_OK);
    assert_true(isinf(c.chi2) && c.p == 0.0);
    obs[2] = 0; /* planned off and off: a two-arm test */
    assert_int_equal(roost_stats_srm(obs, w, 3, &c, NULL), ROOST_OK);
    assert_true(c.chi2 == 0.0 && c.df == 1.0 && c.p == 1.0);
}

static void srm_rejects_nan_and_negative_weights_and_single_arms(void **state)
{
    uint64_t obs[2] = {5, 5};
    double w[2] = {0.5, NAN};
    roost_stats_chi2test c;
    roost_error err = {0};
    (void)state;
    assert_einval_says(roost_stats_srm(obs, w, 2, &c, &err), &err, "NaN");
    w[1] = -0.5;
    assert_einval_says(roost_stats_srm(obs, w, 2, &c, &err), &err, "negative");
    assert_einval_says(roost_stats_srm(obs, w, 1, &c, &err), &err, "2 arms");
    w[0] = w[1] = 0;
    assert_einval_says(roost_stats_srm(obs, w, 2, &c, &err), &err, "positive");
}

static void srm_detects_a_tiny_imbalance_at_a_trillion_requests(void **state)
{
    /* 0.0006 % off a 50/50 split (scipy: chi2 = 36, p = 1.97e-9) */
    uint64_t obs[2] = {500003000000ull, 499997000000ull};
    double w[2] = {1, 1};
    roost_stats_chi2test c;
    (void)state;
    assert_int_equal(roost_stats_srm(obs, w, 2, &c, NULL), ROOST_OK);
    assert_close(c.chi2, 36.0, 1e-9);
    assert_close(c.p, 1.9731752900753933e-09, 1e-6);
}

/* ---- Mann-Whitney ----------------------------------------------------- */

static void mann_whitney_with_every_value_tied_gives_p_one(void **state)
{
    double a[3] = {2, 2, 2}, b[2] = {2, 2}, work[5];
    roost_stats_mwu u;
    (void)state;
    assert_int_equal(roost_stats_mann_whitney(a, 3, b, 2, work, 5, &u, NULL), ROOST_OK);
    assert_true(u.p == 1.0 && u.z == 0.0 && u.u_a == 3.0);
}

static void mann_whitney_rejects_nan_samples_and_empty_arms(void **state)
{
    double a[2] = {1, NAN}, b[2] = {1, 2}, work[4];
    roost_stats_mwu u;
    roost_error err = {0};
    (void)state;
    assert_einval_says(roost_stats_mann_whitney(a, 2, b, 2, work, 4, &u, &err), &err, "a[1]");
    a[1] = 3;
    assert_einval_says(roost_stats_mann_whitney(a, 2, b, 0, work, 4, &u, &err), &err, "empty");
    assert_einval_says(roost_stats_mann_whitney(a, 2, b, 2, work, 3, &u, &err), &err, "scratch");
}

static void mann_whitney_on_sketches_equals_the_test_on_bucket_rounded_samples(void **state)
{
    enum { N = 3000 };
    static double a[N], b[N], work[2 * N];
    roost_sketch_bucket ba[1024], bb[1024];
    roost_sketch sa, sb;
    roost_stats_mwu from_samples, from_sketch;
    roost_rng r;
    int i;
    (void)state;

    roost_rng_seed(&r, 5);
    assert_int_equal(roost_sketch_init(&sa, ba, 1024), ROOST_OK);
    assert_int_equal(roost_sketch_init(&sb, bb, 1024), ROOST_OK);
    for (i = 0; i < N; i++) {
        double x = roost_rng_lognormal(&r, log(20.0), 0.6);
        double y = roost_rng_lognormal(&r, log(21.0), 0.6); /* canary 5 % slower */
        assert_int_equal(roost_sketch_add(&sa, x), ROOST_OK);
        assert_int_equal(roost_sketch_add(&sb, y), ROOST_OK);
        a[i] = roost_sketch_key_value(roost_sketch_key(x));
        b[i] = roost_sketch_key_value(roost_sketch_key(y));
    }
    assert_int_equal(roost_stats_mann_whitney(a, N, b, N, work, 2 * N, &from_samples, NULL),
                     ROOST_OK);
    assert_int_equal(roost_stats_mann_whitney_sketch(&sa, &sb, &from_sketch, NULL), ROOST_OK);
    assert_close(from_sketch.u_a, from_samples.u_a, 1e-12);
    assert_close(from_sketch.p, from_samples.p, 1e-9);
    assert_true(from_sketch.p < 0.01); /* the slower canary is found */
    printf("  canary 5%% slower, 3000 requests per arm: U = %.1f, p = %.3g\n", from_sketch.u_a,
           from_sketch.p);
}

static void mann_whitney_on_sketches_rejects_empty_sketches(void **state)
{
    roost_sketch_bucket ba[4], bb[4];
    roost_sketch sa, sb;
    roost_stats_mwu u;
    roost_error err = {0};
    (void)state;
    assert_int_equal(roost_sketch_init(&sa, ba, 4), ROOST_OK);
    assert_int_equal(roost_sketch_init(&sb, bb, 4), ROOST_OK);
    assert_int_equal(roost_sketch_add(&sa, 1.0), ROOST_OK);
    assert_einval_says(roost_stats_mann_whitney_sketch(&sa, &sb, &u, &err), &err, "empty");
}

/* ---- multiple testing --------------------------------------------------- */

static void holm_and_bh_reject_p_values_outside_zero_one(void **state)
{
    double p[2] = {0.01, 1.5}, adj[2];
    bool rej[2];
    size_t work[2];
    roost_error err = {0};
    (void)state;
    assert_einval_says(roost_stats_holm(p, 2, 0.05, adj, rej, work, &err), &err, "p[1]");
    p[1] = NAN;
    assert_einval_says(roost_stats_benjamini_hochberg(p, 2, 0.05, adj, rej, work, &err), &err,
                       "p[1]");
    p[1] = 0.5;
    assert_einval_says(roost_stats_holm(p, 2, 0.0, adj, rej, work, &err), &err, "alpha");
    assert_int_equal(roost_stats_holm(p, 0, 0.05, NULL, NULL, NULL, NULL), ROOST_OK);
}

static void holm_gives_tied_p_values_the_same_decision(void **state)
{
    double p[4] = {0.0125, 0.06, 0.0125, 0.0125}, adj[4];
    bool rej[4];
    size_t work[4];
    (void)state;
    assert_int_equal(roost_stats_holm(p, 4, 0.05, adj, rej, work, NULL), ROOST_OK);
    assert_true(adj[0] == adj[2] && adj[2] == adj[3]);
    assert_true(rej[0] == rej[2] && rej[2] == rej[3]);
    assert_close(adj[0], 0.05, 1e-15);
    assert_true(!rej[1]);
}

/* ---- effects -------------------------------------------------------------- */

static void effect_of_means_reports_lift_with_delta_method_interval(void **state)
{
    roost_stats_summary a = {10000, 100.0, 400.0}, b = {10000, 105.0, 900.0};
    roost_stats_effect e;
    double se_abs = sqrt(400.0 / 10000 + 900.0 / 10000);
    double se_rel = sqrt(900.0 / 10000 + 1.05 * 1.05 * 400.0 / 10000) / 100.0;
    (void)state;
    assert_int_equal(roost_stats_effect_means(&a, &b, 0.05, &e, NULL), ROOST_OK);
    assert_close(e.absolute.estimate, 5.0, 1e-12);
    assert_close(e.absolute.se, se_abs, 1e-12);
    assert_close(e.absolute.lo, 5.0 - 1.959963984540054 * se_abs, 1e-12);
    assert_true(e.has_relative);
    assert_close(e.relative.estimate, 0.05, 1e-12);
    assert_close(e.relative.se, se_rel, 1e-12);
    assert_close(e.relative.hi, 0.05 + 1.959963984540054 * se_rel, 1e-12);
}

static void effect_with_a_zero_control_mean_has_no_lift(void **state)
{
    roost_stats_effect e;
    (void)state;
    assert_int_equal(roost_stats_effect_proportions(0, 1000, 7, 1000, 0.05, &e, NULL), ROOST_OK);
    assert_false(e.has_relative);
    assert_close(e.absolute.estimate, 0.007, 1e-12);
    assert_true(e.relative.estimate == 0.0);
}

static void effect_of_proportions_with_all_successes_has_a_zero_width_interval(void **state)
{
    roost_stats_effect e;
    roost_error err = {0};
    (void)state;
    assert_int_equal(roost_stats_effect_proportions(50, 50, 80, 80, 0.05, &e, NULL), ROOST_OK);
    assert_true(e.absolute.estimate == 0.0 && e.absolute.lo == 0.0 && e.absolute.hi == 0.0);
    assert_einval_says(roost_stats_effect_proportions(1, 0, 1, 5, 0.05, &e, &err), &err,
                       "no data");
    assert_einval_says(roost_stats_effect_proportions(1, 5, 1, 5, 1.0, &e, &err), &err, "alpha");
}

/* ---- distributions ---------------------------------------------------- */

static void distributions_reject_nan_and_infinity(void **state)
{
    double v = 0.25;
    roost_error err = {0};
    (void)state;
    assert_einval_says(roost_stats_normal_cdf(NAN, &v, &err), &err, "NaN");
    assert_einval_says(roost_stats_normal_sf(INFINITY, &v, &err), &err, "infinite");
    assert_einval_says(roost_stats_normal_quantile(1.5, &v, &err), &err, "[0, 1]");
    assert_einval_says(roost_stats_student_t_sf(1.0, 0.0, &v, &err), &err, "df");
    assert_einval_says(roost_stats_student_t_sf(NAN, 3.0, &v, &err), &err, "t must be");
    assert_einval_says(roost_stats_chi2_sf(1.0, INFINITY, &v, &err), &err, "df");
    assert_true(v == 0.25);
}

static void normal_quantile_at_zero_and_one_is_infinite(void **state)
{
    double z;
    (void)state;
    assert_int_equal(roost_stats_normal_quantile(0.0, &z, NULL), ROOST_OK);
    assert_true(isinf(z) && z < 0);
    assert_int_equal(roost_stats_normal_quantile(1.0, &z, NULL), ROOST_OK);
    assert_true(isinf(z) && z > 0);
    assert_int_equal(roost_stats_normal_quantile(0.975, &z, NULL), ROOST_OK);
    assert_close(z, 1.959963984540054, 1e-15);
}

static void normal_quantile_inverts_the_cdf_deep_in_the_tail(void **state)
{
    double p, z, back;
    (void)state;
    for (p = 1e-300; p < 0.5; p *= 1e3) {
        assert_int_equal(roost_stats_normal_quantile(p, &z, NULL), ROOST_OK);
        assert_int_equal(roost_stats_normal_cdf(z, &back, NULL), ROOST_OK);
        /* an error of one ulp in z moves the cdf by |z| ulps in relative
         * terms, so the round trip is held to that, not to one ulp */
        assert_close(back, p, 1e-15 * (1.0 + z * z));
    }
}

static void student_t_is_symmetric_and_continuous_across_the_large_df_switch(void **state)
{
    double lo, hi, up, down;
    double ts[] = {0.5, 2.0, 6.0, 15.0, 30.0};
    size_t i;
    (void)state;
    for (i = 0; i < sizeof ts / sizeof ts[0]; i++) {
        /* continued fraction just below 1e5, Hill's expansion at 1e5; the
         * 1e-5 change of df itself moves sf by up to 2e-10 at t = 30 */
        assert_int_equal(roost_stats_student_t_sf(ts[i], 99999.99999, &lo, NULL), ROOST_OK);
        assert_int_equal(roost_stats_student_t_sf(ts[i], 100000.0, &hi, NULL), ROOST_OK);
        assert_close(hi, lo, 1e-9);
        assert_int_equal(roost_stats_student_t_sf(ts[i], 12.5, &up, NULL), ROOST_OK);
        assert_int_equal(roost_stats_student_t_sf(-ts[i], 12.5, &down, NULL), ROOST_OK);
        assert_close(up + down, 1.0, 1e-15);
    }
}

static void student_t_and_chi2_of_enormous_statistics_are_zero_not_nan(void **state)
{
    double v;
    (void)state;
    assert_int_equal(roost_stats_student_t_sf(1e200, 5.0, &v, NULL), ROOST_OK);
    assert_true(v == 0.0);
    assert_int_equal(roost_stats_student_t_sf(1e200, 1e12, &v, NULL), ROOST_OK);
    assert_true(v == 0.0);
    assert_int_equal(roost_stats_student_t_sf(-1e200, 1e12, &v, NULL), ROOST_OK);
    assert_true(v == 1.0);
    assert_int_equal(roost_stats_chi2_sf(1e300, 3.0, &v, NULL), ROOST_OK);
    assert_true(v == 0.0);
    assert_int_equal(roost_stats_chi2_sf(1e300, 1e12, &v, NULL), ROOST_OK);
    assert_true(v == 0.0);
    assert_int_equal(roost_stats_chi2_sf(-4.0, 3.0, &v, NULL), ROOST_OK);
    assert_true(v == 1.0);
}

/* ---- always-valid (mSPRT) ------------------------------------------------ */

static void msprt_p_value_never_increases(void **state)
{
    roost_stats_msprt s;
    roost_stats_msprt_look l;
    double est[] = {0.5, 0.3, 0.35, 0.25, 0.3, 0.28}, prev = 1.0;
    size_t i;
    (void)state;
    assert_int_equal(roost_stats_msprt_init(&s, 0.04, 0.05, 0.0, NULL), ROOST_OK);
    for (i = 0; i < sizeof est / sizeof est[0]; i++) {
        assert_int_equal(roost_stats_msprt_update(&s, est[i], 0.04 / (double)(i + 1), &l, NULL),
                         ROOST_OK);
        assert_true(l.p <= prev && l.p <= l.p_look);
        assert_true(l.lo <= l.hi && l.lo >= l.lo_look && l.hi <= l.hi_look);
        prev = l.p;
    }
    assert_true(s.looks == 6);
}

static void msprt_contradictory_looks_leave_a_single_point_not_an_empty_interval(void **state)
{
    roost_stats_msprt s;
    roost_stats_msprt_look l;
    (void)state;
    assert_int_equal(roost_stats_msprt_init(&s, 1.0, 0.05, 0.0, NULL), ROOST_OK);
    assert_int_equal(roost_stats_msprt_update(&s, 10.0, 1e-4, &l, NULL), ROOST_OK);
    assert_int_equal(roost_stats_msprt_update(&s, -10.0, 1e-4, &l, NULL), ROOST_OK);
    assert_true(l.lo == l.hi && isfinite(l.lo));
    assert_true(l.reject && l.p == 0.0);
}

static void msprt_look_without_variance_changes_nothing(void **state)
{
    roost_stats_msprt s;
    roost_stats_msprt_look l;
    (void)state;
    assert_int_equal(roost_stats_msprt_init(&s, 1.0, 0.05, 0.0, NULL), ROOST_OK);
    assert_int_equal(roost_stats_msprt_update(&s, 3.0, 0.0, &l, NULL), ROOST_OK);
    assert_false(l.informative);
    assert_true(l.p == 1.0 && s.p == 1.0 && s.looks == 0 && !l.reject);
}

static void msprt_rejects_nan_estimate_and_uninitialized_state(void **state)
{
    roost_stats_msprt s;
    roost_error err = {0};
    double p;
    (void)state;
    assert_einval_says(roost_stats_msprt_init(&s, 0.0, 0.05, 0.0, &err), &err, "tau2");
    assert_int_equal(roost_stats_msprt_init(&s, 1.0, 0.05, 0.0, NULL), ROOST_OK);
    assert_einval_says(roost_stats_msprt_update(&s, NAN, 1.0, NULL, &err), &err, "NaN");
    assert_einval_says(roost_stats_msprt_update(&s, 1.0, -1.0, NULL, &err), &err, "negative");
    assert_einval_says(roost_stats_msprt_pvalue(1.0, 1.0, 1.0, INFINITY, &p, &err), &err,
                       "theta0");
    memset(&s, 0, sizeof s);
    s.tau2 = 1.0;
    assert_einval_says(roost_stats_msprt_update(&s, 1.0, 1.0, NULL, &err), &err,
                       "not initialized");
}

static void msprt_interval_edge_has_p_value_alpha(void **state)
{
    double lo, hi, p;
    (void)state;
    /* Duality: theta0 on the edge of the 1 - alpha sequence has p = alpha. */
    assert_int_equal(roost_stats_msprt_interval(2.0, 0.3, 0.5, 0.05, &lo, &hi, NULL), ROOST_OK);
    assert_int_equal(roost_stats_msprt_pvalue(2.0, 0.3, 0.5, lo, &p, NULL), ROOST_OK);
    assert_close(p, 0.05, 1e-12);
    assert_int_equal(roost_stats_msprt_pvalue(2.0, 0.3, 0.5, hi, &p, NULL), ROOST_OK);
    assert_close(p, 0.05, 1e-12);
}

static void msprt_tau2_helper_makes_the_interval_narrowest_at_the_expected_n(void **state)
{
    double sigma2 = 4.0, n_star = 5000.0, tau2, best_w = HUGE_VAL, best_n = 0, n;
    (void)state;
    assert_int_equal(roost_stats_msprt_tau2(sigma2, n_star, 0.05, &tau2, NULL), ROOST_OK);
    /* width relative to the fixed-horizon width is minimal at n_star */
    for (n = 500; n <= 50000; n *= 1.01) {
        double v = sigma2 / n, lo, hi, w;
        assert_int_equal(roost_stats_msprt_interval(0.0, v, tau2, 0.05, &lo, &hi, NULL),
                         ROOST_OK);
        w = (hi - lo) / sqrt(v);
        if (w < best_w) {
            best_w = w;
            best_n = n;
        }
    }
    printf("  tau2 = %.6g; narrowest relative width at n = %.0f (expected %.0f)\n", tau2, best_n,
           n_star);
    assert_true(best_n > 0.8 * n_star && best_n < 1.25 * n_star);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(welch_rejects_nan_mean),
        cmocka_unit_test(welch_rejects_infinite_variance),
        cmocka_unit_test(welch_rejects_an_arm_with_a_single_observation),
        cmocka_unit_test(welch_with_zero_variance_in_one_arm_uses_the_other_arms_df),
        cmocka_unit_test(welch_with_zero_variance_in_both_arms_is_defined),
        cmocka_unit_test(welch_with_a_trillion_observations_per_arm_stays_finite),
        cmocka_unit_test(summary_from_sums_with_no_data_is_rejected),
        cmocka_unit_test(summary_of_a_constant_metric_has_zero_not_negative_variance),
        cmocka_unit_test(two_proportion_with_all_successes_in_both_arms_shows_no_difference),
        cmocka_unit_test(two_proportion_with_no_data_is_rejected),
        cmocka_unit_test(two_proportion_with_a_trillion_trials_keeps_precision),
        cmocka_unit_test(srm_with_zero_counts_is_not_a_mismatch),
        cmocka_unit_test(srm_with_traffic_into_a_zero_weight_arm_is_an_infinite_mismatch),
        cmocka_unit_test(srm_rejects_nan_and_negative_weights_and_single_arms),
        cmocka_unit_test(srm_detects_a_tiny_imbalance_at_a_trillion_requests),
        cmocka_unit_test(mann_whitney_with_every_value_tied_gives_p_one),
        cmocka_unit_test(mann_whitney_rejects_nan_samples_and_empty_arms),
        cmocka_unit_test(mann_whitney_on_sketches_equals_the_test_on_bucket_rounded_samples),
        cmocka_unit_test(mann_whitney_on_sketches_rejects_empty_sketches),
        cmocka_unit_test(holm_and_bh_reject_p_values_outside_zero_one),
        cmocka_unit_test(holm_gives_tied_p_values_the_same_decision),
        cmocka_unit_test(effect_of_means_reports_lift_with_delta_method_interval),
        cmocka_unit_test(effect_with_a_zero_control_mean_has_no_lift),
        cmocka_unit_test(effect_of_proportions_with_all_successes_has_a_zero_width_interval),
        cmocka_unit_test(distributions_reject_nan_and_infinity),
        cmocka_unit_test(normal_quantile_at_zero_and_one_is_infinite),
        cmocka_unit_test(normal_quantile_inverts_the_cdf_deep_in_the_tail),
        cmocka_unit_test(student_t_is_symmetric_and_continuous_across_the_large_df_switch),
        cmocka_unit_test(student_t_and_chi2_of_enormous_statistics_are_zero_not_nan),
        cmocka_unit_test(msprt_p_value_never_increases),
        cmocka_unit_test(msprt_contradictory_looks_leave_a_single_point_not_an_empty_interval),
        cmocka_unit_test(msprt_look_without_variance_changes_nothing),
        cmocka_unit_test(msprt_rejects_nan_estimate_and_uninitialized_state),
        cmocka_unit_test(msprt_interval_edge_has_p_value_alpha),
        cmocka_unit_test(msprt_tau2_helper_makes_the_interval_narrowest_at_the_expected_n),
    };
    return roost_run_tests("stats", tests);
}
