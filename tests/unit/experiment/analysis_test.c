/* The analysis on synthetic aggregates with known answers: effects,
 * intervals and p-values against scipy/statsmodels (vectors.h) and the
 * stats library, the adjustment families, the sample-ratio check, each
 * branch of the verdict, and the JSON with the state it carries. */
#include "experiment_test_util.h"
#include "server/experiment/plan.h"
#include "vectors.h"

#define MAX_AGGS (EXPERIMENT_MAX_METRICS * EXPERIMENT_MAX_ARMS)

static struct experiment_analysis *analyze(const struct experiment_spec *s,
                                           const uint64_t *exposures,
                                           const struct experiment_agg *aggs, int64_t elapsed_ms,
                                           const struct experiment_state *prev)
{
    struct experiment_analysis *a = calloc(1, sizeof *a);
    struct experiment_observations obs = {exposures, aggs, elapsed_ms};
    roost_error err = {0};

    assert_non_null(a);
    if (experiment_analyze(s, &obs, prev, a, &err))
        fail_msg("analyze: %s", err.msg);
    return a;
}

static bool has_reason(const struct experiment_analysis *a, const char *needle)
{
    for (size_t i = 0; i < a->nreasons; i++)
        if (strstr(a->reasons[i], needle))
            return true;
    return false;
}

#define assert_reason(a, needle)                                                            \
    do {                                                                                    \
        if (!has_reason((a), (needle))) {                                                   \
            for (size_t i_ = 0; i_ < (a)->nreasons; i_++)                                   \
                print_message("  reason: %s\n", (a)->reasons[i_]);                          \
            fail_msg("no reason mentions \"%s\"", (needle));                                \
        }                                                                                   \
    } while (0)

/* Two arms, one binomial primary (absolute MDE 0.01), optional extras. */
static void checkout(const char *extra, const char *primary_extra, struct experiment_spec *s)
{
    char json[2048];
    snprintf(json, sizeof json,
             "{\"hypothesis\": \"h\", \"flag\": \"checkout\", \"control\": \"control\", %s"
             " \"metrics\": {\"primary\": {\"name\": \"conversion\", \"type\": \"binomial\","
             " \"direction\": \"increase\", \"mde\": 0.01 %s}}}",
             extra, primary_extra);
    spec_from(json, s);
}

/* Two arms; primary conversion (binomial, +0.01) and guardrail latency (mean,
 * decrease is good, MDE 5). */
static void with_guardrail(const char *extra, struct experiment_spec *s)
{
    char json[2048];
    snprintf(json, sizeof json,
             "{\"hypothesis\": \"h\", \"flag\": \"checkout\", \"control\": \"control\", %s"
             " \"metrics\": {\"primary\": {\"name\": \"conversion\", \"type\": \"binomial\","
             " \"direction\": \"increase\", \"mde\": 0.01},"
             " \"guardrails\": [{\"name\": \"latency\", \"type\": \"mean\", \"direction\":"
             " \"decrease\", \"mde\": 5}]}}",
             extra);
    spec_from(json, s);
}

/* ------------------------------------------------- known answers: tests */

static void fixed_binomial_matches_scipy_and_statsmodels(void **state)
{
    struct experiment_spec s;
    (void)state;

    /* pricing: control "base", treatments "low", "high". */
    spec_from("{\"hypothesis\": \"h\", \"flag\": \"pricing\", \"control\": \"base\","
              " \"method\": \"fixed\", \"minSamplePerArm\": 10000,"
              " \"metrics\": {\"primary\": {\"name\": \"conversion\", \"type\": \"binomial\","
              " \"direction\": \"increase\", \"mde\": 0.01}}}",
              &s);
    uint64_t exposures[] = {10000, 10000, 10000};
    struct experiment_agg aggs[] = {agg_rate(10000, 1000), agg_rate(10000, 1100),
                                    agg_rate(10000, 1040)};
    struct experiment_analysis *a = analyze(&s, exposures, aggs, 0, NULL);
    const struct experiment_metric_result *r = &a->metrics[0];

    assert_int_equal(r->test, EXPERIMENT_TEST_TWO_PROPORTION);
    assert_int_equal(r->family_size, 2);
    for (size_t i = 0; i < 2; i++) {
        const struct experiment_comparison *c = &r->cmp[i + 1];
        const double *v = fixed_binomial_vectors[i];
        assert_true(c->testable);
        assert_false(c->provisional);
        assert_close(c->p, v[0], 1e-9);
        assert_close(c->p_adjusted, v[1], 1e-9);
        assert_close(c->absolute.estimate, v[2], 1e-12);
        assert_close(c->absolute.se, v[3], 1e-12);
        assert_close(c->absolute.lo, v[4], 1e-9);
        assert_close(c->absolute.hi, v[5], 1e-9);
        assert_true(c->has_relative);
        assert_close(c->relative.estimate, v[6], 1e-12);
        assert_close(c->relative.se, v[7], 1e-12);
        assert_close(c->relative.lo, v[8], 1e-9);
        assert_close(c->relative.hi, v[9], 1e-9);
    }
    /* Holm-adjusted 0.042 <= 0.05: "low" wins; "high" (0.35) does not. */
    assert_int_equal(r->cmp[1].outcome, EXPERIMENT_BETTER);
    assert_int_equal(r->cmp[2].outcome, EXPERIMENT_NEUTRAL);
    assert_int_equal(a->action, EXPERIMENT_STOP);
    assert_int_equal(a->conclusion, EXPERIMENT_SHIP);
    assert_int_equal(a->ship_arm, 1);
    assert_false(a->early_stop);
    assert_reason(a, "fixed-horizon test is read");
    free(a);
}

static void fixed_mean_matches_scipy_welch(void **state)
{
    struct experiment_spec s;
    (void)state;

    spec_from("{\"hypothesis\": \"h\", \"flag\": \"checkout\", \"control\": \"control\","
              " \"method\": \"fixed\", \"minSamplePerArm\": 480,"
              " \"metrics\": {\"primary\": {\"name\": \"basket\", \"type\": \"mean\","
              " \"direction\": \"increase\", \"mde\": 0.5}}}",
              &s);
    uint64_t exposures[] = {500, 480};
    struct experiment_agg aggs[] = {agg_mean(500, 10, 3), agg_mean(480, 10.6, 3.4)};
    struct experiment_analysis *a = analyze(&s, exposures, aggs, 0, NULL);
    const struct experiment_comparison *c = &a->metrics[0].cmp[1];

    assert_int_equal(a->metrics[0].test, EXPERIMENT_TEST_WELCH);
    assert_close(c->p, welch_vector[0], 1e-9);
    assert_close(c->absolute.estimate, welch_vector[1], 1e-9);
    assert_close(c->absolute.lo, welch_vector[2], 1e-9);
    assert_close(c->absolute.hi, welch_vector[3], 1e-9);
    assert_close(a->metrics[0].arms[1].var, 3.4 * 3.4, 1e-9);
    assert_int_equal(c->outcome, EXPERIMENT_BETTER);
    free(a);
}

static void sequential_binomial_matches_the_msprt_formula(void **state)
{
    struct experiment_spec s;
    double p;
    (void)state;

    checkout("", "", &s);
    uint64_t exposures[] = {5000, 5000};
    struct experiment_agg aggs[] = {agg_rate(5000, 500), agg_rate(5000, 560)};
    struct experiment_analysis *a = analyze(&s, exposures, aggs, 0, NULL);
    const struct experiment_comparison *c = &a->metrics[0].cmp[1];
    const roost_stats_msprt *t = &a->state.seq[0][1].test;

    assert_int_equal(a->metrics[0].test, EXPERIMENT_TEST_MSPRT);
    assert_true(a->state.seq[0][1].started);
    assert_close(t->tau2, msprt_vector[0], 1e-12);
    assert_close(c->p, msprt_vector[1], 1e-10);
    assert_close(c->absolute.lo, msprt_vector[2], 1e-10);
    assert_close(c->absolute.hi, msprt_vector[3], 1e-10);
    /* ...and the stats library agrees, from the same estimate and variance. */
    assert_int_equal(roost_stats_msprt_pvalue(c->absolute.estimate,
                                              c->absolute.se * c->absolute.se, t->tau2, 0, &p,
                                              NULL),
                     ROOST_OK);
    assert_close(c->p, p, 1e-14);
    /* p = 0.51: not significant, and the experiment continues. */
    assert_int_equal(c->outcome, EXPERIMENT_NEUTRAL);
    assert_int_equal(a->action, EXPERIMENT_CONTINUE);
    assert_int_equal(a->conclusion, EXPERIMENT_INCONCLUSIVE);
    free(a);
}

static void effects_match_the_stats_library(void **state)
{
    struct experiment_spec s;
    roost_stats_effect e;
    (void)state;

    with_guardrail("", &s);
    uint64_t exposures[] = {4000, 4100};
    struct experiment_agg aggs[] = {agg_rate(4000, 412), agg_rate(4100, 455),
                                    agg_mean(4000, 120, 30), agg_mean(4100, 118, 29)};
    struct experiment_analysis *a = analyze(&s, exposures, aggs, 0, NULL);
    const struct experiment_comparison *c = &a->metrics[1].cmp[1];
    roost_stats_summary sa = {4000, 120, 900}, sb = {4100, 118, 841};

    assert_int_equal(roost_stats_effect_means(&sa, &sb, 0.05, &e, NULL), ROOST_OK);
    assert_close(c->absolute.estimate, e.absolute.estimate, 1e-9);
    assert_close(c->absolute.se, e.absolute.se, 1e-9);
    assert_close(c->relative.estimate, e.relative.estimate, 1e-9);
    assert_int_equal(roost_stats_effect_proportions(412, 4000, 455, 4100, 0.05, &e, NULL),
                     ROOST_OK);
    assert_close(a->metrics[0].cmp[1].relative.estimate, e.relative.estimate, 1e-14);
    free(a);
}

/* ------------------------------------------------------------------- SRM */

static void srm_flags_a_52_48_split_and_blocks_ship(void **state)
{
    struct experiment_spec s;
    double p;
    (void)state;

    checkout("", "", &s);
    /* 10,000 units, 52/48 on a 50/50 plan; a large, clear primary win. */
    uint64_t exposures[] = {5200, 4800};
    struct experiment_agg aggs[] = {agg_rate(5200, 520), agg_rate(4800, 720)};
    struct experiment_analysis *a = analyze(&s, exposures, aggs, 0, NULL);

    assert_close(a->srm.chi2, 16.0, 1e-12);
    assert_int_equal(roost_stats_chi2_sf(16.0, 1, &p, NULL), ROOST_OK);
    assert_close(a->srm.p, p, 1e-12);
    assert_true(a->srm.p < 0.001);
    assert_true(a->srm_mismatch);
    assert_int_equal(a->metrics[0].cmp[1].outcome, EXPERIMENT_BETTER);
    assert_int_equal(a->conclusion, EXPERIMENT_INCONCLUSIVE);
    assert_int_equal(a->ship_arm, -1);
    assert_reason(a, "sample ratio mismatch: exposures split 52.00/48.00 % against the planned "
                     "50/50 %");
    assert_reason(a, "'treatment' would ship, but the sample ratio mismatch blocks it");
    free(a);
}

static void srm_does_not_flag_a_50_50_split(void **state)
{
    struct experiment_spec s;
    (void)state;

    checkout("", "", &s);
    uint64_t exposures[] = {5000, 5000};
    struct experiment_agg aggs[] = {agg_rate(5000, 500), agg_rate(5000, 750)};
    struct experiment_analysis *a = analyze(&s, exposures, aggs, 0, NULL);

    assert_close(a->srm.chi2, 0, 0);
    assert_close(a->srm.p, 1, 0);
    assert_false(a->srm_mismatch);
    /* The same clear win now ships, early. */
    assert_int_equal(a->conclusion, EXPERIMENT_SHIP);
    assert_int_equal(a->ship_arm, 1);
    assert_int_equal(a->action, EXPERIMENT_STOP);
    assert_true(a->early_stop);
    assert_reason(a, "stopping.earlyWin: the always-valid test allows stopping now");
    free(a);
}

static void no_exposures_is_said_not_flagged(void **state)
{
    struct experiment_spec s;
    (void)state;

    checkout("", "", &s);
    uint64_t exposures[] = {0, 0};
    struct experiment_agg aggs[] = {agg_rate(0, 0), agg_rate(0, 0)};
    struct experiment_analysis *a = analyze(&s, exposures, aggs, 0, NULL);

    assert_false(a->srm_mismatch);
    assert_reason(a, "no exposures reported yet");
    assert_int_equal(a->metrics[0].cmp[1].outcome, EXPERIMENT_INSUFFICIENT);
    assert_int_equal(a->action, EXPERIMENT_CONTINUE);
    free(a);
}

/* ------------------------------------------------------------- guardrails */

static void guardrail_harm_stops_the_experiment(void **state)
{
    struct experiment_spec s;
    (void)state;

    with_guardrail("", &s);
    /* Conversion is up a bit, latency up 10 %: harm wins. */
    uint64_t exposures[] = {5000, 5000};
    struct experiment_agg aggs[] = {agg_rate(5000, 500), agg_rate(5000, 700),
                                    agg_mean(5000, 100, 20), agg_mean(5000, 110, 20)};
    struct experiment_analysis *a = analyze(&s, exposures, aggs, 0, NULL);

    assert_int_equal(a->metrics[1].test, EXPERIMENT_TEST_MSPRT);
    assert_int_equal(a->metrics[1].adjustment, EXPERIMENT_ADJUST_HOLM);
    assert_int_equal(a->metrics[1].cmp[1].outcome, EXPERIMENT_WORSE);
    assert_true(a->harm);
    assert_int_equal(a->action, EXPERIMENT_STOP_NOW);
    assert_int_equal(a->conclusion, EXPERIMENT_ROLL_BACK);
    assert_int_equal(a->ship_arm, -1);
    assert_reason(a, "guardrail 'latency' is worse in 'treatment': 110 against 100, +10 (+10.0 %)");
    assert_reason(a, "stop now and roll back to the control 'control'");
    assert_reason(a, "'treatment' cannot ship: it harms a guardrail");
    free(a);
}

static void guardrail_harm_without_harm_stop_only_recommends(void **state)
{
    struct experiment_spec s;
    (void)state;

    with_guardrail("\"stopping\": {\"harmStop\": false},", &s);
    uint64_t exposures[] = {5000, 5000};
    struct experiment_agg aggs[] = {agg_rate(5000, 500), agg_rate(5000, 500),
                                    agg_mean(5000, 100, 20), agg_mean(5000, 110, 20)};
    struct experiment_analysis *a = analyze(&s, exposures, aggs, 0, NULL);

    assert_true(a->harm);
    assert_int_equal(a->action, EXPERIMENT_CONTINUE);
    assert_int_equal(a->conclusion, EXPERIMENT_ROLL_BACK);
    assert_reason(a, "stopping.harmStop is off");
    free(a);
}

static void guardrail_improvement_is_not_harm(void **state)
{
    struct experiment_spec s;
    (void)state;

    with_guardrail("", &s);
    uint64_t exposures[] = {5000, 5000};
    struct experiment_agg aggs[] = {agg_rate(5000, 500), agg_rate(5000, 500),
                                    agg_mean(5000, 110, 20), agg_mean(5000, 100, 20)};
    struct experiment_analysis *a = analyze(&s, exposures, aggs, 0, NULL);

    /* Lower latency with "direction": "decrease" is better. */
    assert_int_equal(a->metrics[1].cmp[1].outcome, EXPERIMENT_BETTER);
    assert_false(a->harm);
    assert_int_equal(a->action, EXPERIMENT_CONTINUE);
    free(a);
}

static void guardrails_use_the_always_valid_test_under_the_fixed_method(void **state)
{
    struct experiment_spec s;
    (void)state;

    with_guardrail("\"method\": \"fixed\", \"minSamplePerArm\": 20000,", &s);
    uint64_t exposures[] = {5000, 5000};
    struct experiment_agg aggs[] = {agg_rate(5000, 500), agg_rate(5000, 600),
                                    agg_mean(5000, 100, 20), agg_mean(5000, 110, 20)};
    struct experiment_analysis *a = analyze(&s, exposures, aggs, 0, NULL);

    assert_int_equal(a->metrics[0].test, EXPERIMENT_TEST_TWO_PROPORTION);
    assert_int_equal(a->metrics[1].test, EXPERIMENT_TEST_MSPRT);
    assert_false(a->metrics[1].cmp[1].provisional);
    assert_int_equal(a->action, EXPERIMENT_STOP_NOW);
    free(a);
}

/* ------------------------------------------------------------ the verdict */

static void fixed_test_before_its_horizon_decides_nothing(void **state)
{
    struct experiment_spec s;
    (void)state;

    checkout("\"method\": \"fixed\", \"minSamplePerArm\": 20000,", "", &s);
    uint64_t exposures[] = {10000, 10000};
    struct experiment_agg aggs[] = {agg_rate(10000, 1000), agg_rate(10000, 1200)};
    struct experiment_analysis *a = analyze(&s, exposures, aggs, 0, NULL);
    const struct experiment_comparison *c = &a->metrics[0].cmp[1];

    assert_true(c->provisional);
    assert_true(c->p < 0.001); /* shown... */
    assert_false(c->significant); /* ...but not read */
    assert_int_equal(c->outcome, EXPERIMENT_NEUTRAL);
    assert_int_equal(a->action, EXPERIMENT_CONTINUE);
    assert_int_equal(a->conclusion, EXPERIMENT_INCONCLUSIVE);
    assert_reason(a, "provisional: the fixed-horizon test is read when every arm has 20000 "
                     "observations");
    free(a);
}

static void early_win_off_keeps_running_until_max_duration(void **state)
{
    struct experiment_spec s;
    (void)state;

    checkout("\"stopping\": {\"earlyWin\": false}, \"maxDuration\": \"14d\",", "", &s);
    uint64_t exposures[] = {5000, 5000};
    struct experiment_agg aggs[] = {agg_rate(5000, 500), agg_rate(5000, 750)};
    struct experiment_analysis *a = analyze(&s, exposures, aggs, 86400000LL, NULL);

    assert_int_equal(a->conclusion, EXPERIMENT_SHIP);
    assert_int_equal(a->action, EXPERIMENT_CONTINUE);
    assert_false(a->early_stop);
    assert_reason(a, "stopping.earlyWin is off");
    free(a);

    a = analyze(&s, exposures, aggs, 14 * 86400000LL, NULL);
    assert_true(a->max_duration_reached);
    assert_int_equal(a->action, EXPERIMENT_STOP);
    assert_int_equal(a->conclusion, EXPERIMENT_SHIP);
    assert_reason(a, "maxDuration (14d) reached");
    free(a);
}

static void min_sample_blocks_an_early_ship(void **state)
{
    struct experiment_spec s;
    (void)state;

    checkout("\"minSamplePerArm\": 100000,", "", &s);
    uint64_t exposures[] = {5000, 5000};
    struct experiment_agg aggs[] = {agg_rate(5000, 500), agg_rate(5000, 750)};
    struct experiment_analysis *a = analyze(&s, exposures, aggs, 0, NULL);

    assert_int_equal(a->metrics[0].cmp[1].outcome, EXPERIMENT_BETTER);
    assert_int_equal(a->conclusion, EXPERIMENT_INCONCLUSIVE);
    assert_int_equal(a->action, EXPERIMENT_CONTINUE);
    assert_reason(a, "'treatment' cannot ship yet: minSamplePerArm (100000) is not reached "
                     "(control 5000, 'treatment' 5000)");
    free(a);
}

static void every_treatment_worse_on_the_primary_rolls_back(void **state)
{
    struct experiment_spec s;
    (void)state;

    checkout("", "", &s);
    uint64_t exposures[] = {5000, 5000};
    struct experiment_agg aggs[] = {agg_rate(5000, 750), agg_rate(5000, 500)};
    struct experiment_analysis *a = analyze(&s, exposures, aggs, 0, NULL);

    assert_int_equal(a->metrics[0].cmp[1].outcome, EXPERIMENT_WORSE);
    assert_int_equal(a->conclusion, EXPERIMENT_ROLL_BACK);
    assert_int_equal(a->action, EXPERIMENT_STOP);
    assert_reason(a, "primary 'conversion': 'treatment' is significantly worse than the control, "
                     "-5.00 pp (-33.3 %)");
    free(a);
}

static void max_duration_ends_an_inconclusive_experiment(void **state)
{
    struct experiment_spec s;
    (void)state;

    checkout("", "", &s);
    uint64_t exposures[] = {5000, 5000};
    struct experiment_agg aggs[] = {agg_rate(5000, 500), agg_rate(5000, 505)};
    struct experiment_analysis *a = analyze(&s, exposures, aggs, 31 * 86400000LL, NULL);

    assert_int_equal(a->action, EXPERIMENT_STOP);
    assert_int_equal(a->conclusion, EXPERIMENT_INCONCLUSIVE);
    assert_reason(a, "maxDuration (30d) reached: the experiment is over");
    free(a);
}

static void too_little_data_is_insufficient_not_neutral(void **state)
{
    struct experiment_spec s;
    (void)state;

    checkout("", "", &s);
    uint64_t exposures[] = {20, 20};
    struct experiment_agg aggs[] = {agg_rate(20, 2), agg_rate(20, 9)};
    struct experiment_analysis *a = analyze(&s, exposures, aggs, 0, NULL);
    const struct experiment_comparison *c = &a->metrics[0].cmp[1];

    assert_false(c->testable);
    assert_true(c->has_effect); /* the estimate is shown */
    assert_close(c->p, 1, 0);
    assert_int_equal(c->outcome, EXPERIMENT_INSUFFICIENT);
    assert_false(a->state.seq[0][1].started);
    assert_reason(a, "not enough data to test yet (20 and 20 observations; at least 30 per arm");
    free(a);
}

static void power_and_sample_still_needed_come_from_the_planner(void **state)
{
    struct experiment_spec s;
    struct experiment_plan p;
    (void)state;

    checkout("", "", &s);
    uint64_t exposures[] = {2000, 2000};
    struct experiment_agg aggs[] = {agg_rate(2000, 200), agg_rate(2000, 206)};
    struct experiment_analysis *a = analyze(&s, exposures, aggs, 0, NULL);
    const struct experiment_comparison *c = &a->metrics[0].cmp[1];
    struct experiment_plan_input in = {
        .type = EXPERIMENT_BINOMIAL, .baseline = 0.10, .mde = 0.01,
        .alpha = 0.05, .power = 0.8, .arms = 2,
    };

    assert_int_equal(experiment_plan_compute(&in, &p, NULL), ROOST_OK);
    assert_int_equal(c->needed_control, p.seq_control);
    assert_int_equal(c->needed_treatment, p.seq_treatment);
    /* Power "if read now": the always-valid bound for this V and the
     * experiment's tau2 -- small this early (|z| ~ 1 against a bound of 4.2). */
    double pw;
    in.baseline = 0.10;
    assert_int_equal(experiment_plan_power(&in, 2000, 2000, a->state.seq[0][1].test.tau2, &pw,
                                           NULL),
                     ROOST_OK);
    assert_close(c->power, pw, 1e-12);
    assert_true(c->power > 0 && c->power < 0.01);
    assert_reason(a, "no significant difference for 'treatment' yet");
    assert_reason(a, "more observations per arm give 80 %");
    free(a);
}

/* ------------------------------------------------------------ adjustment */

static void secondary_metrics_are_adjusted_together_with_benjamini_hochberg(void **state)
{
    struct experiment_spec s;
    double p[4], adj[4];
    bool reject[4];
    size_t work[4];
    (void)state;

    spec_from("{\"hypothesis\": \"h\", \"flag\": \"pricing\", \"control\": \"base\","
              " \"metrics\": {\"primary\": {\"name\": \"conversion\", \"type\": \"binomial\","
              " \"direction\": \"increase\", \"mde\": 0.01},"
              " \"secondary\": [{\"name\": \"basket\", \"type\": \"mean\", \"direction\":"
              " \"increase\", \"mde\": 1}, {\"name\": \"returns\", \"type\": \"binomial\","
              " \"direction\": \"decrease\", \"mde\": 0.01}]}}",
              &s);
    uint64_t exposures[] = {6000, 6000, 6000};
    struct experiment_agg aggs[] = {
        agg_rate(6000, 600),      agg_rate(6000, 610),      agg_rate(6000, 620),
        agg_mean(6000, 50, 10),   agg_mean(6000, 51, 10),   agg_mean(6000, 50.2, 10),
        agg_rate(6000, 300),      agg_rate(6000, 240),      agg_rate(6000, 305),
    };
    struct experiment_analysis *a = analyze(&s, exposures, aggs, 0, NULL);

    assert_int_equal(a->metrics[1].adjustment, EXPERIMENT_ADJUST_BH);
    assert_int_equal(a->metrics[1].family_size, 4);
    assert_close(a->metrics[1].planning_alpha, 0.05 / 4, 1e-15);
    for (size_t i = 0; i < 4; i++)
        p[i] = a->metrics[1 + i / 2].cmp[1 + i % 2].p;
    assert_int_equal(roost_stats_benjamini_hochberg(p, 4, 0.05, adj, reject, work, NULL),
                     ROOST_OK);
    for (size_t i = 0; i < 4; i++)
        assert_close(a->metrics[1 + i / 2].cmp[1 + i % 2].p_adjusted, adj[i], 1e-15);
    /* The primary's family is its two treatments only. */
    assert_int_equal(a->metrics[0].family_size, 2);
    /* Secondary findings are reported, never decisive. */
    assert_int_equal(a->metrics[1].cmp[1].outcome, EXPERIMENT_BETTER);
    assert_reason(a, "secondary 'basket': 'low' is significantly better");
    assert_int_equal(a->conclusion, EXPERIMENT_INCONCLUSIVE);
    free(a);
}

/* ----------------------------------------------------------------- errors */

static void invalid_inputs_are_rejected_with_metric_and_arm(void **state)
{
    struct experiment_spec s;
    struct experiment_analysis *a = calloc(1, sizeof *a);
    roost_error err = {0};
    (void)state;

    checkout("", "", &s);
    uint64_t exposures[] = {10, 10};
    struct experiment_agg aggs[] = {agg_rate(10, 1), agg_rate(10, 11)};
    struct experiment_observations obs = {exposures, aggs, 0};
    assert_status_says(experiment_analyze(&s, &obs, NULL, a, &err), &err, ROOST_EINVAL,
                       "experiments.exp: metric 'conversion', arm 'treatment': 11 successes out "
                       "of 10 observations");
    aggs[1] = agg_rate(10, 1);
    obs.elapsed_ms = -1;
    assert_status_says(experiment_analyze(&s, &obs, NULL, a, &err), &err, ROOST_EINVAL,
                       "elapsed time is negative");
    assert_status_says(experiment_analyze(&s, NULL, NULL, a, &err), &err, ROOST_EINVAL,
                       "NULL argument");
    free(a);
}

/* ------------------------------------------------------- state and JSON */

static void always_valid_p_never_rises_between_looks(void **state)
{
    struct experiment_spec s;
    (void)state;

    checkout("", "", &s);
    uint64_t exposures[] = {3000, 3000};
    struct experiment_agg first[] = {agg_rate(3000, 300), agg_rate(3000, 350)};
    struct experiment_analysis *a = analyze(&s, exposures, first, 0, NULL);
    /* Later data dilutes the effect: the look alone would give a larger p. */
    uint64_t more[] = {6000, 6000};
    struct experiment_agg second[] = {agg_rate(6000, 600), agg_rate(6000, 610)};
    struct experiment_analysis *b = analyze(&s, more, second, 0, &a->state);

    assert_int_equal(b->looks, 2);
    assert_int_equal(b->state.seq[0][1].test.looks, 2);
    assert_close(b->metrics[0].cmp[1].p, a->metrics[0].cmp[1].p, 0);
    /* The running interval only narrows. */
    assert_true(b->metrics[0].cmp[1].absolute.lo >= a->metrics[0].cmp[1].absolute.lo);
    assert_true(b->metrics[0].cmp[1].absolute.hi <= a->metrics[0].cmp[1].absolute.hi);
    free(a);
    free(b);
}

static char *json_text(const struct experiment_spec *s, const struct experiment_analysis *a,
                       cJSON **tree)
{
    cJSON *j;
    roost_error err = {0};
    char *text;

    if (experiment_analysis_to_json(s, a, &j, &err))
        fail_msg("to_json: %s", err.msg);
    text = cJSON_PrintUnformatted(j);
    if (tree)
        *tree = j;
    else
        cJSON_Delete(j);
    return text;
}

static void state_survives_a_round_trip_through_the_json(void **state)
{
    struct experiment_spec s;
    struct experiment_state restored;
    roost_error err = {0};
    cJSON *tree;
    (void)state;

    with_guardrail("", &s);
    uint64_t exposures[] = {3000, 3000};
    struct experiment_agg look1[] = {agg_rate(3000, 300), agg_rate(3000, 330),
                                     agg_mean(3000, 100, 20), agg_mean(3000, 101, 20)};
    struct experiment_analysis *a = analyze(&s, exposures, look1, 0, NULL);
    char *text = json_text(&s, a, &tree);

    assert_int_equal(experiment_state_from_json(&s, tree, &restored, &err), ROOST_OK);
    assert_int_equal(restored.looks, a->state.looks);
    for (size_t m = 0; m < s.nmetrics; m++) {
        assert_int_equal(restored.seq[m][1].started, a->state.seq[m][1].started);
        assert_memory_equal(&restored.seq[m][1].test, &a->state.seq[m][1].test,
                            sizeof restored.seq[m][1].test);
    }

    /* The next look from the restored state is the same as from memory. */
    uint64_t more[] = {6000, 6000};
    struct experiment_agg look2[] = {agg_rate(6000, 600), agg_rate(6000, 650),
                                     agg_mean(6000, 100, 20), agg_mean(6000, 100.5, 20)};
    struct experiment_analysis *b = analyze(&s, more, look2, 0, &a->state);
    struct experiment_analysis *c = analyze(&s, more, look2, 0, &restored);
    char *tb = json_text(&s, b, NULL), *tc = json_text(&s, c, NULL);
    assert_string_equal(tb, tc);

    /* A damaged state is refused with its path. */
    cJSON *seq = cJSON_GetObjectItem(
        cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(tree,
                                                                                      "metrics"),
                                                                  0),
                                               "comparisons"),
                           0),
        "sequential");
    assert_non_null(seq);
    cJSON_ReplaceItemInObject(seq, "tau2", cJSON_CreateNumber(-1));
    assert_status_says(experiment_state_from_json(&s, tree, &restored, &err), &err, ROOST_EINVAL,
                       "analysis.metrics[0].comparisons[0].sequential: not the state of an "
                       "always-valid test");
    cJSON_Delete(tree);
    cJSON_free(text);
    cJSON_free(tb);
    cJSON_free(tc);
    free(a);
    free(b);
    free(c);
}

static void analysis_json_has_the_documented_shape(void **state)
{
    struct experiment_spec s;
    cJSON *j, *m, *c, *v;
    (void)state;

    with_guardrail("", &s);
    uint64_t exposures[] = {5000, 5000};
    struct experiment_agg aggs[] = {agg_rate(5000, 500), agg_rate(5000, 700),
                                    agg_mean(5000, 100, 20), agg_mean(5000, 110, 20)};
    struct experiment_analysis *a = analyze(&s, exposures, aggs, 3600000, NULL);
    char *text = json_text(&s, a, &j);

    assert_null(strstr(text, "nan"));
    assert_null(strstr(text, "inf"));
    assert_string_equal(cJSON_GetObjectItem(j, "experiment")->valuestring, "exp");
    assert_string_equal(cJSON_GetObjectItem(j, "method")->valuestring, "sequential");
    assert_int_equal(cJSON_GetObjectItem(j, "looks")->valueint, 1);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "arms")), 2);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "srm"), "mismatch")));
    m = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "metrics"), 1);
    assert_string_equal(cJSON_GetObjectItem(m, "role")->valuestring, "guardrail");
    assert_string_equal(cJSON_GetObjectItem(m, "test")->valuestring, "msprt");
    assert_string_equal(cJSON_GetObjectItem(m, "adjustment")->valuestring, "holm");
    c = cJSON_GetArrayItem(cJSON_GetObjectItem(m, "comparisons"), 0);
    assert_string_equal(cJSON_GetObjectItem(c, "arm")->valuestring, "treatment");
    assert_string_equal(cJSON_GetObjectItem(c, "outcome")->valuestring, "worse");
    assert_close(cJSON_GetObjectItem(cJSON_GetObjectItem(c, "absolute"), "estimate")->valuedouble,
                 10, 1e-9);
    assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(c, "sequential"), "tau2"));
    v = cJSON_GetObjectItem(j, "verdict");
    assert_string_equal(cJSON_GetObjectItem(v, "action")->valuestring, "stop_now");
    assert_string_equal(cJSON_GetObjectItem(v, "conclusion")->valuestring, "roll_back");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(v, "arm")));
    assert_true(cJSON_GetArraySize(cJSON_GetObjectItem(v, "reasons")) >= 2);
    cJSON_Delete(j);
    cJSON_free(text);
    free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fixed_binomial_matches_scipy_and_statsmodels),
        cmocka_unit_test(fixed_mean_matches_scipy_welch),
        cmocka_unit_test(sequential_binomial_matches_the_msprt_formula),
        cmocka_unit_test(effects_match_the_stats_library),
        cmocka_unit_test(srm_flags_a_52_48_split_and_blocks_ship),
        cmocka_unit_test(srm_does_not_flag_a_50_50_split),
        cmocka_unit_test(no_exposures_is_said_not_flagged),
        cmocka_unit_test(guardrail_harm_stops_the_experiment),
        cmocka_unit_test(guardrail_harm_without_harm_stop_only_recommends),
        cmocka_unit_test(guardrail_improvement_is_not_harm),
        cmocka_unit_test(guardrails_use_the_always_valid_test_under_the_fixed_method),
        cmocka_unit_test(fixed_test_before_its_horizon_decides_nothing),
        cmocka_unit_test(early_win_off_keeps_running_until_max_duration),
        cmocka_unit_test(min_sample_blocks_an_early_ship),
        cmocka_unit_test(every_treatment_worse_on_the_primary_rolls_back),
        cmocka_unit_test(max_duration_ends_an_inconclusive_experiment),
        cmocka_unit_test(too_little_data_is_insufficient_not_neutral),
        cmocka_unit_test(power_and_sample_still_needed_come_from_the_planner),
        cmocka_unit_test(secondary_metrics_are_adjusted_together_with_benjamini_hochberg),
        cmocka_unit_test(invalid_inputs_are_rejected_with_metric_and_arm),
        cmocka_unit_test(always_valid_p_never_rises_between_looks),
        cmocka_unit_test(state_survives_a_round_trip_through_the_json),
        cmocka_unit_test(analysis_json_has_the_documented_shape),
    };
    return roost_run_tests("experiment_analysis", tests);
}
