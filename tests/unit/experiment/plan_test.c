/* The planner against known formulas (scipy / statsmodels values in
 * vectors.h), the sequential approximation against its simulation, and the
 * messages for inputs that cannot be planned. */
#include "experiment_test_util.h"
#include "server/experiment/plan.h"
#include "vectors.h"

static struct experiment_plan_input binomial(double baseline, double mde)
{
    struct experiment_plan_input in = {
        .type = EXPERIMENT_BINOMIAL,
        .baseline = baseline,
        .mde = mde,
        .alpha = 0.05,
        .power = 0.8,
        .arms = 2,
    };
    return in;
}

static struct experiment_plan plan_of(const struct experiment_plan_input *in)
{
    struct experiment_plan p;
    roost_error err = {0};
    if (experiment_plan_compute(in, &p, &err))
        fail_msg("plan: %s", err.msg);
    return p;
}

/* The brief's example: baseline 10 %, +2 points, alpha 0.05, power 0.8. The
 * pooled-variance (Fleiss) formula gives 3840.85 -> 3,841 per arm; the
 * unpooled one would give 3,839 and statsmodels' arcsine (Cohen's h) 3,835.
 * Roost uses the pooled one because its test is the pooled z-test. */
static void plan_gives_3841_per_arm_for_10_percent_plus_2_points(void **state)
{
    struct experiment_plan_input in = binomial(0.10, 0.02);
    struct experiment_plan p = plan_of(&in);
    (void)state;

    assert_int_equal(p.fixed_control, 3841);
    assert_int_equal(p.fixed_treatment, 3841);
    assert_int_equal(p.fixed_total, 7682);
    assert_close(p.treatment_value, 0.12, 1e-12);
    assert_close(p.z_alpha, 1.959963984540054, 1e-12);
    /* Sequential bound: (3.0352 + 0.8416)^2 (0.09 + 0.1056) / 0.0004. */
    assert_close(p.boundary, 3.0352089903762534, 1e-12);
    assert_int_equal(p.seq_control, 7350);
    assert_close(p.seq_inflation, 7350.0 / 3841, 1e-12);
}

static void plan_matches_the_pooled_two_proportion_formula(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof plan_binomial_vectors / sizeof plan_binomial_vectors[0]; i++) {
        const struct plan_vector *v = &plan_binomial_vectors[i];
        struct experiment_plan_input in = binomial(v->baseline, fabs(v->mde));
        in.direction = v->mde < 0 ? EXPERIMENT_DECREASE : EXPERIMENT_INCREASE;
        in.alpha = v->alpha;
        in.power = v->power;
        in.arms = v->arms;
        struct experiment_plan p = plan_of(&in);
        if (p.fixed_control != (uint64_t)ceil(v->fixed_n) ||
            p.seq_control != (uint64_t)ceil(v->seq_n))
            fail_msg("vector %zu: fixed %llu (want ceil %.4f), sequential %llu (want ceil %.4f)",
                     i, (unsigned long long)p.fixed_control, v->fixed_n,
                     (unsigned long long)p.seq_control, v->seq_n);
        assert_int_equal(p.fixed_total, p.fixed_control * v->arms);
    }
}

static void plan_for_means_matches_statsmodels_normal_ind_power(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof plan_mean_vectors / sizeof plan_mean_vectors[0]; i++) {
        const struct plan_mean_vector *v = &plan_mean_vectors[i];
        struct experiment_plan_input in = {
            .type = EXPERIMENT_MEAN,
            .baseline = 100,
            .sd = v->sd,
            .mde = v->mde,
            .alpha = v->alpha,
            .power = v->power,
            .arms = 2,
        };
        struct experiment_plan p = plan_of(&in);
        assert_int_equal(p.fixed_control, (uint64_t)ceil(v->n));
    }
}

static void relative_mde_is_a_fraction_of_the_baseline(void **state)
{
    struct experiment_plan_input a = binomial(0.10, 0.02), r = binomial(0.10, 0.2);
    (void)state;

    r.relative = true;
    assert_int_equal(plan_of(&r).fixed_control, plan_of(&a).fixed_control);
    assert_close(plan_of(&r).delta, 0.02, 1e-12);
}

static void several_treatments_split_alpha_bonferroni_or_sidak(void **state)
{
    struct experiment_plan_input in = binomial(0.10, 0.02);
    struct experiment_plan b, s;
    (void)state;

    in.arms = 4;
    b = plan_of(&in);
    assert_close(b.alpha_comparison, 0.05 / 3, 1e-15);
    assert_int_equal(b.fixed_total, 4 * b.fixed_control);
    in.correction = EXPERIMENT_SIDAK;
    s = plan_of(&in);
    assert_close(s.alpha_comparison, 1 - pow(0.95, 1.0 / 3), 1e-12);
    /* Sidak's level is a little larger, so it needs a little less. */
    assert_true(s.fixed_control < b.fixed_control);
    assert_true(s.fixed_control > b.fixed_control * 0.99);
}

static void unequal_split_plans_each_arm_for_its_share(void **state)
{
    struct experiment_plan_input in = {
        .type = EXPERIMENT_MEAN, .baseline = 0, .sd = 1, .mde = 0.1,
        .alpha = 0.05, .power = 0.8, .arms = 2, .ratio = 3,
    };
    struct experiment_plan p = plan_of(&in);
    double z = 1.959963984540054 + 0.8416212335729143;
    (void)state;

    /* n_c = z^2 (1 + 1/3) / 0.01, n_t = 3 n_c */
    assert_int_equal(p.fixed_control, (uint64_t)ceil(z * z * (4.0 / 3) / 0.01));
    assert_int_equal(p.fixed_treatment, (uint64_t)ceil(3 * z * z * (4.0 / 3) / 0.01));
}

static void planned_sample_gives_the_planned_power(void **state)
{
    struct experiment_plan_input in = binomial(0.10, 0.02);
    struct experiment_plan p = plan_of(&in);
    roost_error err = {0};
    double pw;
    (void)state;

    /* Fixed: power at the (rounded-up) sample is just above 0.8. */
    assert_int_equal(experiment_plan_power(&in, p.fixed_control, p.fixed_treatment, 0, &pw, &err),
                     ROOST_OK);
    assert_true(pw >= 0.8 && pw < 0.8005);
    /* Sequential: read once at the bound, with the tau2 tuned there. */
    assert_int_equal(experiment_plan_power(&in, p.seq_control, p.seq_treatment, p.tau2, &pw, &err),
                     ROOST_OK);
    assert_true(pw >= 0.8 && pw < 0.8005);
    /* Half the data, less power. */
    assert_int_equal(experiment_plan_power(&in, p.fixed_control / 2, p.fixed_treatment / 2, 0,
                                           &pw, &err),
                     ROOST_OK);
    assert_true(pw > 0.4 && pw < 0.6);
}

/* The closed-form sequential figure is an upper bound; the simulation says
 * how conservative it is. With 20 looks: about 84 % power at the bound (a
 * Monte Carlo of real binomial counts with scipy/numpy gave 84.7 % and a
 * mean stop at 62 % of the sample), 80 % already at about 92 % of it. */
static void sequential_simulation_shows_the_bound_is_conservative(void **state)
{
    struct experiment_plan_input in = binomial(0.10, 0.02);
    struct experiment_plan p, again, many;
    (void)state;

    in.looks = 20;
    p = plan_of(&in);
    assert_int_equal(p.looks, 20);
    assert_int_equal(p.sim_paths, EXPERIMENT_PLAN_SIM_PATHS);
    assert_true(p.sim_power > 0.82 && p.sim_power < 0.87);
    assert_true(p.sim_expected_fraction > 0.58 && p.sim_expected_fraction < 0.66);
    assert_true(p.sim_control < p.seq_control);
    assert_true(p.sim_control > p.fixed_control);
    assert_true(p.sim_control > 0.88 * p.seq_control && p.sim_control < 0.96 * p.seq_control);

    /* Deterministic: same input, same numbers. */
    again = plan_of(&in);
    assert_memory_equal(&p, &again, sizeof p);

    /* More looks, more chances to stop: more power at the bound. */
    in.looks = 200;
    many = plan_of(&in);
    assert_true(many.sim_power > p.sim_power);

    /* One look is the closed form. */
    in.looks = 1;
    p = plan_of(&in);
    assert_close(p.sim_power, 0.8, 0);
    assert_int_equal(p.sim_control, p.seq_control);
}

static void plan_refuses_inputs_it_cannot_plan(void **state)
{
    struct experiment_plan_input in;
    struct experiment_plan p;
    roost_error err = {0};
    (void)state;

    in = binomial(1.5, 0.02);
    assert_status_says(experiment_plan_compute(&in, &p, &err), &err, ROOST_EINVAL,
                       "baseline: a conversion rate must be above 0 and below 1, got 1.5");
    in = binomial(0.9, 0.2);
    assert_status_says(experiment_plan_compute(&in, &p, &err), &err, ROOST_EINVAL,
                       "baseline 0.9 + mde 0.2 = 1.1 is not a rate");
    in = binomial(0.1, 0.02);
    in.arms = 1;
    assert_status_says(experiment_plan_compute(&in, &p, &err), &err, ROOST_EINVAL,
                       "arms: 1; an experiment has a control and 1 to 7 treatments");
    in.arms = 2;
    in.power = 0.3;
    assert_status_says(experiment_plan_compute(&in, &p, &err), &err, ROOST_EINVAL,
                       "power: 0.3 is not a power in [0.5, 0.999]");
    in = binomial(0.1, 1e-9);
    assert_status_says(experiment_plan_compute(&in, &p, &err), &err, ROOST_ELIMIT,
                       "more than 10^12 observations per arm needed");
    in = binomial(0.1, 0.02);
    in.type = EXPERIMENT_MEAN;
    assert_status_says(experiment_plan_compute(&in, &p, &err), &err, ROOST_EINVAL,
                       "sd: a mean metric needs the control's standard deviation");
}

static void tau2_follows_from_the_mde_alone(void **state)
{
    double g, c;
    (void)state;

    experiment_plan_boundary(0.05, &g, &c);
    assert_close(g, 7.936154601737565, 1e-12);
    /* GrowthBook's rule at the planned sample: tau2 = g V(n*) with
     * V(n*) = delta^2 / (c + z_power)^2. */
    assert_close(experiment_plan_tau2(0.01, 0.05, 0.8), msprt_vector[0], 1e-12);
    assert_close(experiment_plan_tau2(0.02, 0.05, 0.8), 4 * msprt_vector[0], 1e-12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plan_gives_3841_per_arm_for_10_percent_plus_2_points),
        cmocka_unit_test(plan_matches_the_pooled_two_proportion_formula),
        cmocka_unit_test(plan_for_means_matches_statsmodels_normal_ind_power),
        cmocka_unit_test(relative_mde_is_a_fraction_of_the_baseline),
        cmocka_unit_test(several_treatments_split_alpha_bonferroni_or_sidak),
        cmocka_unit_test(unequal_split_plans_each_arm_for_its_share),
        cmocka_unit_test(planned_sample_gives_the_planned_power),
        cmocka_unit_test(sequential_simulation_shows_the_bound_is_conservative),
        cmocka_unit_test(plan_refuses_inputs_it_cannot_plan),
        cmocka_unit_test(tau2_follows_from_the_mde_alone),
    };
    return roost_run_tests("experiment_plan", tests);
}
