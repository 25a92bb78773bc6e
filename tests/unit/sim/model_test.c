/* roost-sim's random numbers and models: the samplers have the moments
 * they claim, latencies have the median and tail the scenario asks for,
 * incidents act exactly inside their window and on their arms, and the
 * traffic shapes give the rates they describe. Sample sizes are chosen so
 * that each tolerance is at least four standard errors wide: the tests are
 * deterministic (fixed seeds) and would stay green under any seed. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testmain.h"
#include "tools/sim/model.h"
#include "tools/sim/rng.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void poisson_mean_and_variance_match_lambda(void **state)
{
    /* Inversion below 500, transformed rejection above. */
    static const double lambdas[] = {0.5, 5, 100, 499, 800, 5000};
    (void)state;

    for (size_t k = 0; k < sizeof lambdas / sizeof lambdas[0]; k++) {
        double lambda = lambdas[k], sum = 0, sum2 = 0, mean, var;
        const int n = 20000;
        sim_rng r;

        sim_rng_seed(&r, 42 + k);
        for (int i = 0; i < n; i++) {
            double x = (double)sim_poisson(&r, lambda);
            sum += x;
            sum2 += x * x;
        }
        mean = sum / n;
        var = sum2 / n - mean * mean;
        /* standard error of the mean: sqrt(lambda / n) */
        if (fabs(mean - lambda) > 4 * sqrt(lambda / n))
            fail_msg("Poisson(%g): mean %g", lambda, mean);
        if (fabs(var / lambda - 1) > 0.05)
            fail_msg("Poisson(%g): variance %g", lambda, var);
    }
}

static void poisson_of_zero_is_zero_and_still_advances_the_stream(void **state)
{
    sim_rng a, b;
    (void)state;

    sim_rng_seed(&a, 9);
    sim_rng_seed(&b, 9);
    assert_int_equal(sim_poisson(&a, 0), 0);
    (void)sim_uniform(&b); /* rng.h: one draw whatever the rate */
    assert_true(sim_rng_next(&a) == sim_rng_next(&b));
}

static void binomial_mean_matches_n_p(void **state)
{
    sim_rng r;
    double sum = 0;
    const int n = 5000;
    (void)state;

    sim_rng_seed(&r, 7);
    for (int i = 0; i < n; i++)
        sum += (double)sim_binomial(&r, 200, 0.02);
    /* mean 4, sd of the mean sqrt(200 * 0.02 * 0.98 / n) = 0.028 */
    assert_true(fabs(sum / n - 4.0) < 0.12);
    assert_int_equal(sim_binomial(&r, 50, 0.0), 0);
    assert_int_equal(sim_binomial(&r, 50, 1.0), 50);
}

static void same_seed_same_stream_and_derived_streams_differ(void **state)
{
    sim_rng a, b, c, d;
    (void)state;

    sim_rng_seed(&a, 123);
    sim_rng_seed(&b, 123);
    for (int i = 0; i < 100; i++)
        assert_true(sim_rng_next(&a) == sim_rng_next(&b));
    sim_rng_derive(&c, 123, 10, 1);
    sim_rng_derive(&d, 123, 10, 1);
    assert_true(sim_rng_next(&c) == sim_rng_next(&d));
    sim_rng_derive(&d, 123, 11, 1);
    sim_rng_derive(&c, 123, 10, 1);
    assert_true(sim_rng_next(&c) != sim_rng_next(&d));
    sim_rng_derive(&d, 123, 10, 2);
    sim_rng_derive(&c, 123, 10, 1);
    assert_true(sim_rng_next(&c) != sim_rng_next(&d));
}

/* n latencies of an arm, sorted. */
static double *draw_latencies(const struct sim_arm_now *a, int n, uint64_t seed)
{
    double *v = malloc((size_t)n * sizeof *v);
    sim_rng r;

    assert_non_null(v);
    sim_rng_seed(&r, seed);
    for (int i = 0; i < n; i++)
        v[i] = sim_latency_draw(&r, a);
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v;
}

static void lognormal_latency_has_the_median_and_p99_asked_for(void **state)
{
    struct sim_model m;
    struct sim_arm_now a;
    const int n = 40001;
    double *v;
    (void)state;

    memset(&m, 0, sizeof m);
    m.arm[0].latency = (struct sim_latency){40, 0.5, 0, 1};
    sim_model_arm_at(&m, 0, 0, &a);
    v = draw_latencies(&a, n, 5);
    /* median 40; its sd is about 1.2533 sigma median / sqrt(n) = 0.125 ms */
    assert_true(fabs(v[n / 2] - 40.0) < 0.6);
    /* p99 = 40 exp(0.5 * 2.3263) = 127.9 ms, within 3 % */
    assert_true(fabs(v[(int)(0.99 * (n - 1))] / 127.9 - 1) < 0.03);
    free(v);
}

static void slow_tail_moves_the_p99_and_not_the_median(void **state)
{
    struct sim_model m;
    struct sim_arm_now a;
    const int n = 40001;
    double *v;
    (void)state;

    memset(&m, 0, sizeof m);
    m.arm[0].latency = (struct sim_latency){40, 0.5, 0.02, 10};
    sim_model_arm_at(&m, 0, 0, &a);
    v = draw_latencies(&a, n, 6);
    assert_true(fabs(v[n / 2] / 40.0 - 1) < 0.04); /* 2 % moved: the median shifts a little */
    /* without the tail p99 is 128 ms; with it about 400 (2 % at 10x the median) */
    assert_true(v[(int)(0.99 * (n - 1))] > 300);
    free(v);
}

static void latency_aggregate_counts_every_request_once(void **state)
{
    struct sim_model m;
    struct sim_arm_now a;
    int32_t keys[300];
    roost_sketch_bucket b[300];
    size_t nb;
    uint64_t total = 0;
    double sum, sum2;
    sim_rng r;
    (void)state;

    memset(&m, 0, sizeof m);
    m.arm[0].latency = (struct sim_latency){40, 0.5, 0, 1};
    sim_model_arm_at(&m, 0, 0, &a);
    sim_rng_seed(&r, 3);
    sim_latency_aggregate(&r, &a, 300, keys, b, &nb, &sum, &sum2);
    assert_true(nb > 10 && nb <= 300);
    for (size_t i = 0; i < nb; i++) {
        total += b[i].count;
        if (i)
            assert_true(b[i].key > b[i - 1].key);
    }
    assert_int_equal(total, 300);
    assert_true(sum / 300 > 30 && sum / 300 < 60);
    assert_true(sum2 >= sum * sum / 300);
}

static void incidents_act_only_inside_their_window_and_on_their_arms(void **state)
{
    struct sim_model m;
    struct sim_arm_now b, c;
    (void)state;

    memset(&m, 0, sizeof m);
    m.arm[0] = (struct sim_service){0.01, {40, 0.5, 0, 1}};
    m.arm[1] = m.arm[0];
    m.incidents[0] = (struct sim_incident){SIM_ERROR_SPIKE, 60000, 30000, 0.5, SIM_ARM_CANARY_BIT, ""};
    m.incidents[1] = (struct sim_incident){SIM_LATENCY_REGRESSION, 120000, SIM_FOREVER, 2.0,
                                           SIM_ARM_CANARY_BIT, ""};
    m.incidents[2] = (struct sim_incident){SIM_DEPENDENCY_OUTAGE, 200000, 10000, 0.2,
                                           SIM_ARM_CANARY_BIT | SIM_ARM_BASELINE_BIT, "db"};
    m.nincidents = 3;

    /* the start is inside, the end outside */
    assert_false(sim_incident_active(&m.incidents[0], 59999));
    assert_true(sim_incident_active(&m.incidents[0], 60000));
    assert_true(sim_incident_active(&m.incidents[0], 89999));
    assert_false(sim_incident_active(&m.incidents[0], 90000));
    assert_true(sim_incident_active(&m.incidents[1], 10 * 3600 * 1000LL)); /* until the end */

    sim_model_arm_at(&m, 1, 59000, &c);
    assert_true(c.error_p == 0.01);
    sim_model_arm_at(&m, 1, 60000, &c);
    sim_model_arm_at(&m, 0, 60000, &b);
    assert_true(fabs(c.error_p - (1 - 0.99 * 0.5)) < 1e-12); /* an extra, independent cause */
    assert_true(b.error_p == 0.01);                          /* the baseline is untouched */
    sim_model_arm_at(&m, 1, 90000, &c);
    assert_true(c.error_p == 0.01);

    sim_model_arm_at(&m, 1, 120000, &c);
    assert_true(fabs(exp(c.log_median) - 80.0) < 1e-9); /* 2x slower */
    sim_model_arm_at(&m, 0, 120000, &b);
    assert_true(fabs(exp(b.log_median) - 40.0) < 1e-9);

    sim_model_arm_at(&m, 0, 205000, &b);
    sim_model_arm_at(&m, 1, 205000, &c);
    assert_true(fabs(b.error_p - (1 - 0.99 * 0.8)) < 1e-12); /* both arms */
    assert_true(fabs(c.error_p - b.error_p) < 1e-12);
    sim_model_arm_at(&m, 0, 210000, &b);
    assert_true(b.error_p == 0.01);
}

static void steady_and_diurnal_rates_follow_their_shape(void **state)
{
    struct sim_traffic t = {0};
    struct sim_traffic_gen g;
    (void)state;

    t.shape = SIM_SHAPE_STEADY;
    t.rate = 100;
    sim_traffic_gen_init(&g, &t, 1);
    assert_true(sim_traffic_rate_at(&g, 0) == 100 && sim_traffic_rate_at(&g, 3600000) == 100);

    t.shape = SIM_SHAPE_DIURNAL;
    t.period_ms = 24 * 3600 * 1000LL;
    t.amplitude = 0.5;
    sim_traffic_gen_init(&g, &t, 1);
    assert_true(fabs(sim_traffic_rate_at(&g, 0) - 100) < 1e-9);
    assert_true(fabs(sim_traffic_rate_at(&g, 6 * 3600 * 1000LL) - 150) < 1e-9);  /* peak */
    assert_true(fabs(sim_traffic_rate_at(&g, 18 * 3600 * 1000LL) - 50) < 1e-9);  /* trough */
    t.offset_ms = 6 * 3600 * 1000LL;
    sim_traffic_gen_init(&g, &t, 1);
    assert_true(fabs(sim_traffic_rate_at(&g, 0) - 150) < 1e-9);
}

static void bursty_traffic_alternates_and_averages_to_its_mean(void **state)
{
    struct sim_traffic t = {0};
    struct sim_traffic_gen g;
    double sum = 0;
    int bursts = 0, prev_burst = 0;
    const int64_t seconds = 200000;
    (void)state;

    t.shape = SIM_SHAPE_BURSTY;
    t.quiet_rate = 20;
    t.burst_rate = 300;
    t.burst_ms = 20000;
    t.burst_every_ms = 120000;
    sim_traffic_gen_init(&g, &t, 11);
    for (int64_t s = 0; s < seconds; s++) {
        double r = sim_traffic_rate_at(&g, s * 1000);
        assert_true(r == 20 || r == 300);
        if (r == 300 && !prev_burst)
            bursts++;
        prev_burst = r == 300;
        sum += r;
    }
    /* about one burst per 2 minutes: 1,667 expected, sd about 37 */
    assert_true(bursts > 1500 && bursts < 1830);
    /* mean 20 + 280 / 6 = 66.7 */
    assert_true(fabs(sum / (double)seconds / sim_traffic_mean_rate(&t) - 1) < 0.05);
    /* the same seed gives the same bursts */
    {
        struct sim_traffic_gen a, b;
        sim_traffic_gen_init(&a, &t, 5);
        sim_traffic_gen_init(&b, &t, 5);
        for (int64_t s = 0; s < 5000; s++)
            assert_true(sim_traffic_rate_at(&a, s * 1000) == sim_traffic_rate_at(&b, s * 1000));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(poisson_mean_and_variance_match_lambda),
        cmocka_unit_test(poisson_of_zero_is_zero_and_still_advances_the_stream),
        cmocka_unit_test(binomial_mean_matches_n_p),
        cmocka_unit_test(same_seed_same_stream_and_derived_streams_differ),
        cmocka_unit_test(lognormal_latency_has_the_median_and_p99_asked_for),
        cmocka_unit_test(slow_tail_moves_the_p99_and_not_the_median),
        cmocka_unit_test(latency_aggregate_counts_every_request_once),
        cmocka_unit_test(incidents_act_only_inside_their_window_and_on_their_arms),
        cmocka_unit_test(steady_and_diurnal_rates_follow_their_shape),
        cmocka_unit_test(bursty_traffic_alternates_and_averages_to_its_mean),
    };
    return roost_run_tests("sim_model", tests);
}
