/* Deterministic simulation of continuous monitoring (fixed seed, own PRNG).
 *
 * 2,000 A/A experiments (both arms N(0, 1)), each looked at 30 times, with
 * 100 new observations per arm between looks (3,000 per arm at the end).
 * At every look the controller sees only what roostd sees: per-arm count,
 * sum and sum of squares.
 *
 *   - naive: Welch's t-test at every look, stop at the first p < 0.05. Its
 *     false-positive rate is known to inflate far past 5 % (Armitage,
 *     McPherson & Rowe 1969: about 25 % for 20-30 looks).
 *   - always valid: the mSPRT, stop at the first always-valid p <= 0.05,
 *     tau2 from roost_stats_msprt_tau2 for the planned 6,000 observations
 *     (sigma2 = 2 (1 + 1) = 4, the design variance).
 *
 * Then the same 2,000 experiments with a true effect of 0.1 standard
 * deviations in arm b give the power of the always-valid test (and, for
 * comparison, of one fixed-horizon test at the end).
 */
#include <math.h>
#include <stdio.h>

#include "rng.h"
#include "server/stats/stats.h"
#include "testmain.h"

#define EXPERIMENTS 2000
#define LOOKS 30
#define BATCH 100
#define ALPHA 0.05
#define EFFECT 0.1
#define SEED 20240605u

typedef struct arm {
    uint64_t n;
    double sum, sumsq;
} arm;

typedef struct results {
    int naive_fp, avi_fp;           /* A/A: experiments stopped with a "difference" */
    int avi_power, fixed_power;     /* with EFFECT: always-valid and fixed-horizon detections */
    double avi_mean_stop;           /* mean look at which the always-valid test stopped */
} results;

static results g_res;

static void observe(roost_rng *r, arm *a, double mean)
{
    int i;
    for (i = 0; i < BATCH; i++) {
        double x = mean + roost_rng_normal(r);
        a->n++;
        a->sum += x;
        a->sumsq += x * x;
    }
}

/* Runs one experiment; reports whether the naive test, the always-valid test
 * and the final fixed-horizon test rejected, and when the always-valid test
 * stopped. */
static int run_experiment(roost_rng *r, double effect, double tau2, int *naive, int *avi,
                          int *fixed, int *stop_look)
{
    arm a = {0}, b = {0};
    roost_stats_msprt m;
    int look;

    *naive = *avi = *fixed = 0;
    *stop_look = LOOKS;
    if (roost_stats_msprt_init(&m, tau2, ALPHA, 0.0, NULL) != ROOST_OK)
        return -1;
    for (look = 1; look <= LOOKS; look++) {
        roost_stats_summary sa, sb;
        roost_stats_ttest t;
        roost_stats_msprt_look l;

        observe(r, &a, 0.0);
        observe(r, &b, effect);
        if (roost_stats_summary_from_sums(a.n, a.sum, a.sumsq, &sa, NULL) != ROOST_OK ||
            roost_stats_summary_from_sums(b.n, b.sum, b.sumsq, &sb, NULL) != ROOST_OK ||
            roost_stats_welch(&sa, &sb, &t, NULL) != ROOST_OK ||
            roost_stats_msprt_update(&m, sb.mean - sa.mean,
                                     sa.var / (double)sa.n + sb.var / (double)sb.n, &l,
                                     NULL) != ROOST_OK)
            return -1;
        if (t.p < ALPHA)
            *naive = 1; /* a peeker would have stopped here (or earlier) */
        if (l.reject && !*avi) {
            *avi = 1;
            *stop_look = look;
        }
        if (look == LOOKS)
            *fixed = t.p < ALPHA;
    }
    return 0;
}

static int simulate(void **state)
{
    roost_rng r;
    double tau2, stop_sum = 0;
    int e, naive, avi, fixed, stop;
    (void)state;

    if (roost_stats_msprt_tau2(4.0, 2.0 * LOOKS * BATCH, ALPHA, &tau2, NULL) != ROOST_OK)
        return -1;
    roost_rng_seed(&r, SEED);
    for (e = 0; e < EXPERIMENTS; e++) {
        if (run_experiment(&r, 0.0, tau2, &naive, &avi, &fixed, &stop) != 0)
            return -1;
        g_res.naive_fp += naive;
        g_res.avi_fp += avi;
    }
    for (e = 0; e < EXPERIMENTS; e++) {
        if (run_experiment(&r, EFFECT, tau2, &naive, &avi, &fixed, &stop) != 0)
            return -1;
        g_res.avi_power += avi;
        g_res.fixed_power += fixed;
        stop_sum += avi ? stop : 0;
    }
    g_res.avi_mean_stop = g_res.avi_power ? stop_sum / g_res.avi_power : 0;
    printf("A/A, %d experiments x %d looks x %d obs/arm/look, seed %u, tau2 %.6g:\n",
           EXPERIMENTS, LOOKS, BATCH, SEED, tau2);
    printf("  naive peeking (Welch p < 0.05 at any look): %.2f %% false positives\n",
           100.0 * g_res.naive_fp / EXPERIMENTS);
    printf("  always-valid mSPRT (p <= 0.05 at any look):  %.2f %% false positives\n",
           100.0 * g_res.avi_fp / EXPERIMENTS);
    printf("true effect %.2f sd:\n", EFFECT);
    printf("  always-valid power %.2f %% (mean stopping look %.1f of %d)\n",
           100.0 * g_res.avi_power / EXPERIMENTS, g_res.avi_mean_stop, LOOKS);
    printf("  fixed-horizon power at look %d: %.2f %%\n", LOOKS,
           100.0 * g_res.fixed_power / EXPERIMENTS);
    return 0;
}

static void naive_peeking_inflates_false_positives_to_about_25_percent(void **state)
{
    double rate = (double)g_res.naive_fp / EXPERIMENTS;
    (void)state;
    assert_true(rate > 0.18 && rate < 0.35);
}

static void always_valid_test_keeps_false_positives_at_or_below_5_percent(void **state)
{
    (void)state;
    assert_true((double)g_res.avi_fp / EXPERIMENTS <= ALPHA);
}

static void always_valid_test_finds_a_tenth_of_a_standard_deviation(void **state)
{
    (void)state;
    assert_true((double)g_res.avi_power / EXPERIMENTS >= 0.6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(naive_peeking_inflates_false_positives_to_about_25_percent),
        cmocka_unit_test(always_valid_test_keeps_false_positives_at_or_below_5_percent),
        cmocka_unit_test(always_valid_test_finds_a_tenth_of_a_standard_deviation),
    };
    return roost_run_tests_setup("aa_simulation", tests, simulate, NULL);
}
