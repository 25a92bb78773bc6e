/* The analysis looked at again and again, as the controller does, on
 * simulated units (deterministic: fixed seeds, our own generator):
 *   - a true +5 % relative lift on conversion is detected by the always-valid
 *     test and the early-stop verdict fires;
 *   - A/A experiments stay not significant however often they are read,
 *     where reading a fixed-horizon test at every look would not;
 *   - a harmed guardrail stops the experiment.
 * Each look feeds the cumulative aggregates and the previous look's state,
 * exactly the controller's loop. */
#include "experiment_test_util.h"

struct sim {
    struct experiment_spec spec;
    struct experiment_agg aggs[EXPERIMENT_MAX_METRICS * EXPERIMENT_MAX_ARMS];
    uint64_t exposures[EXPERIMENT_MAX_ARMS];
    struct experiment_analysis *a, *prev;
};

static void sim_init(struct sim *s, const char *json)
{
    memset(s, 0, sizeof *s);
    spec_from(json, &s->spec);
    s->a = calloc(1, sizeof *s->a);
    s->prev = calloc(1, sizeof *s->prev);
    assert_non_null(s->a);
    assert_non_null(s->prev);
}

static void sim_free(struct sim *s)
{
    free(s->a);
    free(s->prev);
}

/* One look: analyses the cumulative aggregates with the previous state. */
static const struct experiment_analysis *sim_look(struct sim *s, bool first, int64_t elapsed_ms)
{
    struct experiment_observations obs = {s->exposures, s->aggs, elapsed_ms};
    roost_error err = {0};
    struct experiment_analysis *t;

    if (experiment_analyze(&s->spec, &obs, first ? NULL : &s->prev->state, s->a, &err))
        fail_msg("analyze: %s", err.msg);
    t = s->prev;
    s->prev = s->a;
    s->a = t;
    return s->prev;
}

static const char conversion_doc[] =
    "{\"hypothesis\": \"The new checkout converts 5 %% better.\", \"flag\": \"checkout\","
    " \"control\": \"control\", \"minSamplePerArm\": 10000,"
    " \"metrics\": {\"primary\": {\"name\": \"conversion\", \"type\": \"binomial\","
    " \"direction\": \"increase\", \"mde\": %s, \"mdeType\": \"relative\"}}}";

static void five_percent_lift_is_detected_and_early_stop_fires(void **state)
{
    struct sim s;
    test_rng rng;
    char json[1024];
    const struct experiment_analysis *a = NULL;
    int look, stopped_at = 0;
    (void)state;

    snprintf(json, sizeof json, conversion_doc, "0.05");
    sim_init(&s, json);
    test_rng_seed(&rng, 20240605);
    /* 10,000 units per arm between looks, up to 40 looks; the planner's
     * always-valid bound for this MDE is about 110,600 per arm. */
    for (look = 1; look <= 40; look++) {
        add_conversions(&rng, &s.aggs[0], 10000, 0.100);
        add_conversions(&rng, &s.aggs[1], 10000, 0.105);
        s.exposures[0] = s.aggs[0].count;
        s.exposures[1] = s.aggs[1].count;
        a = sim_look(&s, look == 1, (int64_t)look * 3600000);
        if (a->action != EXPERIMENT_CONTINUE) {
            stopped_at = look;
            break;
        }
        assert_int_equal(a->conclusion, EXPERIMENT_INCONCLUSIVE);
    }
    print_message("  +5 %% lift: early stop at look %d, %llu units per arm, p = %.3g, "
                  "interval [%+.4f, %+.4f]\n",
                  stopped_at, (unsigned long long)s.aggs[0].count, a->metrics[0].cmp[1].p,
                  a->metrics[0].cmp[1].absolute.lo, a->metrics[0].cmp[1].absolute.hi);
    assert_true(stopped_at > 0);
    assert_int_equal(a->action, EXPERIMENT_STOP);
    assert_true(a->early_stop);
    assert_int_equal(a->conclusion, EXPERIMENT_SHIP);
    assert_int_equal(a->ship_arm, 1);
    assert_int_equal(a->looks, (uint64_t)stopped_at);
    /* The always-valid interval excludes 0 and covers the true +0.005. */
    assert_true(a->metrics[0].cmp[1].absolute.lo > 0);
    assert_true(a->metrics[0].cmp[1].absolute.hi > 0.005);
    assert_true(a->metrics[0].cmp[1].absolute.lo < 0.005);
    sim_free(&s);
}

/* One A/A experiment read 50 times: never significant, never stopped. */
static void aa_experiment_stays_not_significant_over_many_looks(void **state)
{
    struct sim s;
    test_rng rng;
    char json[1024];
    double p = 1;
    (void)state;

    snprintf(json, sizeof json, conversion_doc, "0.05");
    sim_init(&s, json);
    test_rng_seed(&rng, 7);
    for (int look = 1; look <= 50; look++) {
        add_conversions(&rng, &s.aggs[0], 4000, 0.10);
        add_conversions(&rng, &s.aggs[1], 4000, 0.10);
        s.exposures[0] = s.aggs[0].count;
        s.exposures[1] = s.aggs[1].count;
        const struct experiment_analysis *a = sim_look(&s, look == 1, 0);
        assert_false(a->metrics[0].cmp[1].significant);
        assert_int_equal(a->action, EXPERIMENT_CONTINUE);
        assert_int_equal(a->conclusion, EXPERIMENT_INCONCLUSIVE);
        assert_false(a->srm_mismatch);
        p = a->metrics[0].cmp[1].p; /* the running minimum */
    }
    print_message("  A/A, 50 looks, 200,000 units per arm: always-valid p = %.3f\n", p);
    sim_free(&s);
}

/* 200 A/A experiments x 20 looks: how many would have concluded something.
 * Always-valid: at most alpha (about 1 % in practice: the bound is
 * conservative between looks). Reading a fixed test at every look, on the
 * same data, concludes far more often. */
static void aa_false_positive_rate_stays_below_alpha(void **state)
{
    struct sim s;
    test_rng rng;
    char json[1024];
    int always_valid = 0, naive = 0;
    const int runs = 200, looks = 20;
    (void)state;

    snprintf(json, sizeof json, conversion_doc, "0.1");
    sim_init(&s, json);
    test_rng_seed(&rng, 20240606);
    for (int run = 0; run < runs; run++) {
        bool av = false, nv = false;
        memset(s.aggs, 0, sizeof s.aggs);
        for (int look = 1; look <= looks; look++) {
            roost_stats_ztest z;
            add_conversions(&rng, &s.aggs[0], 1000, 0.10);
            add_conversions(&rng, &s.aggs[1], 1000, 0.10);
            s.exposures[0] = s.aggs[0].count;
            s.exposures[1] = s.aggs[1].count;
            const struct experiment_analysis *a = sim_look(&s, look == 1, 0);
            av = av || a->conclusion != EXPERIMENT_INCONCLUSIVE;
            assert_int_equal(roost_stats_two_proportion(s.aggs[0].successes, s.aggs[0].count,
                                                        s.aggs[1].successes, s.aggs[1].count, &z,
                                                        NULL),
                             ROOST_OK);
            nv = nv || z.p < 0.05;
        }
        always_valid += av;
        naive += nv;
    }
    print_message("  A/A x %d, %d looks: always-valid %.1f %% concluded, fixed test read at "
                  "every look %.1f %%\n",
                  runs, looks, 100.0 * always_valid / runs, 100.0 * naive / runs);
    assert_true(always_valid <= runs * 5 / 100);
    assert_true(naive > 2 * always_valid);
    assert_true(naive >= runs * 10 / 100);
    sim_free(&s);
}

static void harmed_guardrail_stops_the_experiment_within_looks(void **state)
{
    struct sim s;
    test_rng rng;
    const struct experiment_analysis *a = NULL;
    int stopped_at = 0;
    (void)state;

    sim_init(&s, "{\"hypothesis\": \"h\", \"flag\": \"checkout\", \"control\": \"control\","
                 " \"metrics\": {\"primary\": {\"name\": \"conversion\", \"type\": \"binomial\","
                 " \"direction\": \"increase\", \"mde\": 0.05, \"mdeType\": \"relative\"},"
                 " \"guardrails\": [{\"name\": \"latency\", \"metric\": \"http.latency_ms\","
                 " \"type\": \"mean\", \"direction\": \"decrease\", \"mde\": 0.05,"
                 " \"mdeType\": \"relative\"}]}}");
    test_rng_seed(&rng, 99);
    /* The treatment converts the same but is 4 % slower (120 ms -> 124.8 ms,
     * sd 40 ms): about 1.2 sqrt(look) standard errors at each look. */
    for (int look = 1; look <= 30; look++) {
        add_conversions(&rng, &s.aggs[0], 200, 0.10);
        add_conversions(&rng, &s.aggs[1], 200, 0.10);
        add_values(&rng, &s.aggs[2], 200, 120.0, 40.0);
        add_values(&rng, &s.aggs[3], 200, 124.8, 40.0);
        s.exposures[0] = s.aggs[0].count;
        s.exposures[1] = s.aggs[1].count;
        a = sim_look(&s, look == 1, 0);
        if (a->action != EXPERIMENT_CONTINUE) {
            stopped_at = look;
            break;
        }
    }
    print_message("  guardrail +4 %%: stop at look %d (%llu units per arm)\n", stopped_at,
                  (unsigned long long)s.aggs[0].count);
    assert_true(stopped_at > 1);
    assert_int_equal(a->action, EXPERIMENT_STOP_NOW);
    assert_int_equal(a->conclusion, EXPERIMENT_ROLL_BACK);
    assert_true(a->harm);
    assert_int_equal(a->metrics[1].cmp[1].outcome, EXPERIMENT_WORSE);
    sim_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(five_percent_lift_is_detected_and_early_stop_fires),
        cmocka_unit_test(aa_experiment_stays_not_significant_over_many_looks),
        cmocka_unit_test(aa_false_positive_rate_stays_below_alpha),
        cmocka_unit_test(harmed_guardrail_stops_the_experiment_within_looks),
    };
    return roost_run_tests("experiment_simulation", tests);
}
