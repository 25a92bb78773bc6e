/* The experiment resource: what a valid document becomes, every message a
 * wrong one gets, and the canonical form. */
#include "experiment_test_util.h"

#define REJECTS(want, needle, ...)                                                          \
    do {                                                                                    \
        struct experiment_spec s_;                                                          \
        roost_error e_ = {0};                                                               \
        memset(&s_, 0x5a, sizeof s_);                                                       \
        assert_status_says(parse_doc(&s_, &e_, __VA_ARGS__, NULL), &e_, want, needle);      \
        assert_int_equal(((unsigned char *)&s_)[0], 0x5a); /* out untouched */              \
    } while (0)

/* ------------------------------------------------------------------ valid */

static void spec_fills_every_default(void **state)
{
    struct experiment_spec s;
    roost_error err = {0};
    (void)state;

    assert_int_equal(parse_doc(&s, &err, NULL), ROOST_OK);
    assert_string_equal(s.name, "exp");
    assert_string_equal(s.flag, "checkout");
    assert_string_equal(s.unit, "targetingKey");
    assert_int_equal(s.allocation, 10000);
    assert_int_equal(s.narms, 2);
    assert_string_equal(s.arms[0].name, "control");
    assert_int_equal(s.arms[0].weight, 5000);
    assert_string_equal(s.arms[1].name, "treatment");
    assert_int_equal(s.method, EXPERIMENT_SEQUENTIAL);
    assert_int_equal(s.min_sample_per_arm, EXPERIMENT_DEFAULT_MIN_SAMPLE);
    assert_int_equal(s.max_duration_ms, 30LL * 24 * 3600 * 1000);
    assert_true(s.early_win);
    assert_true(s.harm_stop);

    assert_int_equal(s.nmetrics, 3);
    assert_string_equal(s.metrics[0].name, "conversion");
    assert_string_equal(s.metrics[0].metric, "checkout.converted");
    assert_int_equal(s.metrics[0].role, EXPERIMENT_PRIMARY);
    assert_true(s.metrics[0].mde_relative);
    assert_close(s.metrics[0].alpha, 0.05, 0);
    assert_close(s.metrics[0].power, 0.8, 0);
    /* "metric" defaults to the name; groups keep their order. */
    assert_string_equal(s.metrics[1].metric, "revenue");
    assert_int_equal(s.metrics[1].role, EXPERIMENT_SECONDARY);
    assert_false(s.metrics[1].mde_relative);
    assert_int_equal(s.metrics[2].role, EXPERIMENT_GUARDRAIL);
    assert_int_equal(s.metrics[2].direction, EXPERIMENT_DECREASE);
}

static void spec_without_weights_splits_evenly_with_the_remainder_to_the_control(void **state)
{
    struct experiment_spec s;
    roost_error err = {0};
    (void)state;

    assert_int_equal(parse_doc(&s, &err, "flag", "\"pricing\"", "control", "\"base\"", "weights",
                               NULL, NULL),
                     ROOST_OK);
    /* The control first, then the treatments in the flag's variant order. */
    assert_int_equal(s.narms, 3);
    assert_string_equal(s.arms[0].name, "base");
    assert_string_equal(s.arms[1].name, "low");
    assert_string_equal(s.arms[2].name, "high");
    assert_int_equal(s.arms[0].weight, 3334);
    assert_int_equal(s.arms[1].weight, 3333);
    assert_int_equal(s.arms[2].weight, 3333);
}

static void spec_accepts_percentages_with_two_decimals(void **state)
{
    struct experiment_spec s;
    roost_error err = {0};
    (void)state;

    assert_int_equal(parse_doc(&s, &err, "weights", "{\"control\": 33.33, \"treatment\": 66.67}",
                               "allocation", "12.5", NULL),
                     ROOST_OK);
    assert_int_equal(s.arms[0].weight, 3333);
    assert_int_equal(s.arms[1].weight, 6667);
    assert_int_equal(s.allocation, 1250);
}

static void spec_reads_every_optional_field(void **state)
{
    struct experiment_spec s;
    roost_error err = {0};
    (void)state;

    assert_int_equal(parse_doc(&s, &err, "unit", "\"user.id\"", "method", "\"fixed\"",
                               "minSamplePerArm", "40000", "maxDuration", "\"14d12h\"", "stopping",
                               "{\"earlyWin\": false, \"harmStop\": false}",
                               "metrics.primary.alpha", "0.01", "metrics.primary.power", "0.9",
                               NULL),
                     ROOST_OK);
    assert_string_equal(s.unit, "user.id");
    assert_int_equal(s.method, EXPERIMENT_FIXED);
    assert_int_equal(s.min_sample_per_arm, 40000);
    assert_int_equal(s.max_duration_ms, (14LL * 24 + 12) * 3600 * 1000);
    assert_false(s.early_win);
    assert_false(s.harm_stop);
    assert_close(s.metrics[0].alpha, 0.01, 0);
    assert_close(s.metrics[0].power, 0.9, 0);
}

/* -------------------------------------------------------- the flag's arms */

static void weights_not_summing_to_100_are_rejected(void **state)
{
    (void)state;
    REJECTS(ROOST_EINVAL, "experiments.exp.weights: weights sum to 95, expected 100", "weights",
            "{\"control\": 50, \"treatment\": 45}");
    REJECTS(ROOST_EINVAL, "weights sum to 100.01, expected 100", "weights",
            "{\"control\": 50.01, \"treatment\": 50}");
}

static void unknown_flag_is_rejected_with_a_suggestion(void **state)
{
    (void)state;
    REJECTS(ROOST_EINVAL,
            "experiments.exp.flag: unknown flag 'chekout' (the document's flags: checkout, "
            "pricing, single; did you mean 'checkout'?)",
            "flag", "\"chekout\"");
}

static void unknown_flag_is_reported_before_the_weights(void **state)
{
    (void)state;
    /* The flag is the cause; its weights cannot be judged without it. */
    REJECTS(ROOST_EINVAL, "unknown flag 'x'", "flag", "\"x\"", "weights",
            "{\"control\": 1, \"treatment\": 2}");
}

static void arms_missing_from_the_flag_are_rejected(void **state)
{
    (void)state;
    REJECTS(ROOST_EINVAL,
            "experiments.exp.weights: arms missing from the flag: 'purple' is not a variant of "
            "flag 'checkout' (its variants: 'control', 'treatment')",
            "weights", "{\"control\": 50, \"treatment\": 25, \"purple\": 25}");
    REJECTS(ROOST_EINVAL, "arms missing from the flag: 'a', 'b' are not a variant", "weights",
            "{\"control\": 50, \"a\": 25, \"b\": 25}");
}

static void flag_variants_without_a_weight_are_rejected(void **state)
{
    (void)state;
    REJECTS(ROOST_EINVAL,
            "experiments.exp.weights: no weight for variant 'high' of flag 'pricing' (every "
            "variant is an arm",
            "flag", "\"pricing\"", "control", "\"base\"", "weights",
            "{\"base\": 50, \"low\": 50}");
}

static void control_that_is_not_a_variant_is_rejected(void **state)
{
    (void)state;
    REJECTS(ROOST_EINVAL,
            "experiments.exp.control: 'baseline' is not a variant of flag 'checkout' (string; "
            "variants: 'control', 'treatment')",
            "control", "\"baseline\"");
}

static void flag_with_one_variant_is_rejected(void **state)
{
    (void)state;
    REJECTS(ROOST_EINVAL,
            "experiments.exp.flag: flag 'single' has 1 variant; an experiment needs at least two",
            "flag", "\"single\"", "control", "\"only\"", "weights", NULL);
}

static void weights_with_zero_or_three_decimals_are_rejected(void **state)
{
    (void)state;
    REJECTS(ROOST_EINVAL, "experiments.exp.weights.control: 0 is not a percentage above 0",
            "weights", "{\"control\": 0, \"treatment\": 100}");
    REJECTS(ROOST_EINVAL, "experiments.exp.weights.control: 33.333 has more than two decimals",
            "weights", "{\"control\": 33.333, \"treatment\": 66.667}");
    REJECTS(ROOST_EINVAL, "experiments.exp.weights.treatment: expected a percentage", "weights",
            "{\"control\": 50, \"treatment\": \"50\"}");
}

static void allocation_outside_0_to_100_is_rejected(void **state)
{
    (void)state;
    REJECTS(ROOST_EINVAL,
            "experiments.exp.allocation: 0 is not a percentage above 0 and at most 100",
            "allocation", "0");
    REJECTS(ROOST_EINVAL, "experiments.exp.allocation: 150 is not a percentage", "allocation",
            "150");
}

/* ----------------------------------------------------------------- metrics */

static void missing_primary_metric_is_rejected(void **state)
{
    (void)state;
    REJECTS(ROOST_EINVAL,
            "experiments.exp.metrics.primary: missing: an experiment needs exactly one primary "
            "metric",
            "metrics.primary", NULL);
    REJECTS(ROOST_EINVAL, "experiments.exp.metrics: missing", "metrics", NULL);
}

static void several_primary_metrics_are_rejected(void **state)
{
    (void)state;
    REJECTS(ROOST_EINVAL,
            "experiments.exp.metrics.primary: expected one metric object, not a list: an "
            "experiment has exactly one primary metric",
            "metrics.primary",
            "[{\"name\": \"a\", \"type\": \"mean\", \"direction\": \"increase\", \"mde\": 1}]");
}

static void bad_alpha_is_rejected(void **state)
{
    (void)state;
    REJECTS(ROOST_EINVAL,
            "experiments.exp.metrics.primary.alpha: 1.5 is not a significance level in (0, 0.5]",
            "metrics.primary.alpha", "1.5");
    REJECTS(ROOST_EINVAL, "metrics.primary.alpha: 0 is not a significance level",
            "metrics.primary.alpha", "0");
    REJECTS(ROOST_EINVAL, "metrics.primary.alpha: expected a number", "metrics.primary.alpha",
            "\"5%\"");
}

static void bad_power_is_rejected(void **state)
{
    (void)state;
    REJECTS(ROOST_EINVAL,
            "experiments.exp.metrics.primary.power: 0.3 is not a power in [0.5, 0.999]",
            "metrics.primary.power", "0.3");
}

static void metric_without_mde_type_or_direction_is_rejected(void **state)
{
    (void)state;
    REJECTS(ROOST_EINVAL,
            "experiments.exp.metrics.guardrails[0].mde: missing (required: the smallest effect "
            "worth detecting",
            "metrics.guardrails",
            "[{\"name\": \"errors\", \"type\": \"binomial\", \"direction\": \"decrease\"}]");
    REJECTS(ROOST_EINVAL,
            "experiments.exp.metrics.primary.type: missing (required: one of binomial, mean)",
            "metrics.primary.type", NULL);
    REJECTS(ROOST_EINVAL,
            "experiments.exp.metrics.primary.direction: unknown value 'up' (expected one of "
            "increase, decrease)",
            "metrics.primary.direction", "\"up\"");
    REJECTS(ROOST_EINVAL,
            "experiments.exp.metrics.primary.mdeType: unknown value 'relatve' (expected one of "
            "absolute, relative; did you mean 'relative'?)",
            "metrics.primary.mdeType", "\"relatve\"");
}

static void binomial_absolute_mde_of_1_or_more_is_rejected(void **state)
{
    (void)state;
    REJECTS(ROOST_EINVAL,
            "experiments.exp.metrics.primary.mde: 5 is not a difference of two rates (below 1); "
            "for a relative effect set \"mdeType\": \"relative\"",
            "metrics.primary.mdeType", NULL, "metrics.primary.mde", "5");
    REJECTS(ROOST_EINVAL, "metrics.primary.mde: -0.1 must be above 0", "metrics.primary.mde",
            "-0.1");
}

static void duplicate_metric_names_are_rejected(void **state)
{
    (void)state;
    REJECTS(ROOST_EINVAL,
            "experiments.exp.metrics.guardrails[0].name: 'revenue' is already the name of the "
            "secondary metric",
            "metrics.guardrails",
            "[{\"name\": \"revenue\", \"type\": \"mean\", \"direction\": \"increase\","
            " \"mde\": 1}]");
}

static void too_many_metrics_are_a_limit(void **state)
{
    char list[8192];
    size_t used = 0;
    (void)state;

    used += (size_t)snprintf(list + used, sizeof list - used, "[");
    for (int i = 0; i < EXPERIMENT_MAX_METRICS; i++)
        used += (size_t)snprintf(list + used, sizeof list - used,
                                 "%s{\"name\": \"m%d\", \"type\": \"mean\", \"direction\": "
                                 "\"increase\", \"mde\": 1}",
                                 i ? "," : "", i);
    snprintf(list + used, sizeof list - used, "]");
    REJECTS(ROOST_ELIMIT, "more than 32 metrics in one experiment", "metrics.secondary", list);
}

/* ------------------------------------------------------------ other fields */

static void unknown_fields_are_rejected_with_a_suggestion(void **state)
{
    (void)state;
    REJECTS(ROOST_EINVAL,
            "experiments.exp: unknown field 'hypotesis' (expected one of hypothesis, flag,",
            "hypotesis", "\"x\"");
    REJECTS(ROOST_EINVAL, "did you mean 'hypothesis'?", "hypotesis", "\"x\"");
    REJECTS(ROOST_EINVAL,
            "experiments.exp.stopping: unknown field 'earlywin' (expected one of earlyWin, "
            "harmStop; did you mean 'earlyWin'?)",
            "stopping", "{\"earlywin\": true}");
    REJECTS(ROOST_EINVAL, "experiments.exp.metrics.primary: unknown field 'alfa'",
            "metrics.primary.alfa", "0.1");
}

static void missing_hypothesis_flag_or_control_is_rejected(void **state)
{
    (void)state;
    REJECTS(ROOST_EINVAL, "experiments.exp.hypothesis: missing (required)", "hypothesis", NULL);
    REJECTS(ROOST_EINVAL, "experiments.exp.hypothesis: must not be empty", "hypothesis", "\"\"");
    REJECTS(ROOST_EINVAL, "experiments.exp.flag: missing (required)", "flag", NULL);
    REJECTS(ROOST_EINVAL, "experiments.exp.control: missing (required)", "control", NULL);
}

static void fixed_method_needs_its_horizon(void **state)
{
    (void)state;
    REJECTS(ROOST_EINVAL,
            "experiments.exp.minSamplePerArm: missing (required with \"method\": \"fixed\"): a "
            "fixed-horizon test is read once",
            "method", "\"fixed\"");
    REJECTS(ROOST_EINVAL, "experiments.exp.method: unknown value 'bayesian' (expected one of "
                          "sequential, fixed)",
            "method", "\"bayesian\"");
}

static void bad_durations_units_and_samples_are_rejected(void **state)
{
    (void)state;
    REJECTS(ROOST_EINVAL,
            "experiments.exp.maxDuration: expected a duration above 0 and at most 366d, like "
            "\"14d\"",
            "maxDuration", "\"2 weeks\"");
    REJECTS(ROOST_EINVAL, "maxDuration: expected a duration", "maxDuration", "\"0s\"");
    REJECTS(ROOST_EINVAL, "maxDuration: expected a duration", "maxDuration", "\"400d\"");
    REJECTS(ROOST_EINVAL, "experiments.exp.unit: 'user..id' is not a context attribute path",
            "unit", "\"user..id\"");
    REJECTS(ROOST_EINVAL,
            "experiments.exp.minSamplePerArm: 1.5 is not a whole number of observations",
            "minSamplePerArm", "1.5");
}

static void bad_experiment_name_is_rejected(void **state)
{
    struct experiment_spec s;
    roost_error err = {0};
    (void)state;

    assert_status_says(experiment_spec_parse_text(base_doc, strlen(base_doc), "new checkout",
                                                  test_flags, TEST_NFLAGS, &s, &err),
                       &err, ROOST_EINVAL,
                       "experiments.new checkout: not a valid experiment name (1-128 of A-Z a-z "
                       "0-9 . _ -)");
    assert_status_says(experiment_spec_parse_text("{", 1, "exp", test_flags, TEST_NFLAGS, &s, &err),
                       &err, ROOST_EINVAL, "experiments.exp: not valid JSON");
}

/* --------------------------------------------------------------- canonical */

static char *canonical_of(const struct experiment_spec *s)
{
    char *json = NULL;
    roost_error err = {0};
    if (experiment_spec_canonical(s, &json, NULL, &err))
        fail_msg("canonical: %s", err.msg);
    return json;
}

static void canonical_form_reads_back_to_the_same_spec(void **state)
{
    struct experiment_spec a, b;
    roost_error err = {0};
    char *json, *again;
    size_t len;
    (void)state;

    assert_int_equal(parse_doc(&a, &err, "flag", "\"pricing\"", "control", "\"base\"", "weights",
                               "{\"high\": 20, \"base\": 50.5, \"low\": 29.5}", "allocation",
                               "12.25", NULL),
                     ROOST_OK);
    assert_int_equal(experiment_spec_canonical(&a, &json, &len, &err), ROOST_OK);
    assert_int_equal(strlen(json), len);
    /* Without the flag list: the canonical form carries the arms. */
    assert_int_equal(experiment_spec_parse_text(json, len, "exp", NULL, 0, &b, &err), ROOST_OK);
    assert_memory_equal(&a, &b, sizeof a);
    again = canonical_of(&b);
    assert_string_equal(json, again);
    assert_non_null(strstr(json, "\"weights\":{\"base\":50.5,\"low\":29.5,\"high\":20}"));
    assert_non_null(strstr(json, "\"allocation\":12.25"));
    free(json);
    free(again);
}

static void canonical_form_ignores_spelling_and_explicit_defaults(void **state)
{
    struct experiment_spec a, b;
    roost_error err = {0};
    char *ja, *jb;
    (void)state;

    assert_int_equal(parse_doc(&a, &err, "maxDuration", "\"720h\"", NULL), ROOST_OK);
    assert_int_equal(parse_doc(&b, &err, "method", "\"sequential\"", "unit", "\"targetingKey\"",
                               "allocation", "100", "stopping", "{\"earlyWin\": true}",
                               "metrics.primary.alpha", "0.05", "minSamplePerArm", "100", NULL),
                     ROOST_OK);
    ja = canonical_of(&a);
    jb = canonical_of(&b);
    assert_string_equal(ja, jb);
    assert_non_null(strstr(ja, "\"maxDuration\":\"30d\""));
    free(ja);
    free(jb);

    /* ...and differs when behaviour differs. */
    assert_int_equal(parse_doc(&b, &err, "metrics.primary.power", "0.9", NULL), ROOST_OK);
    ja = canonical_of(&a);
    jb = canonical_of(&b);
    assert_string_not_equal(ja, jb);
    free(ja);
    free(jb);
}

static void durations_parse_and_format_in_the_largest_units(void **state)
{
    int64_t ms = -1;
    char out[32];
    (void)state;

    assert_true(experiment_duration_parse("14d", &ms));
    assert_int_equal(ms, 14LL * 86400000);
    assert_true(experiment_duration_parse("1d12h30m5s", &ms));
    assert_int_equal(ms, 86400000LL + 12 * 3600000LL + 30 * 60000LL + 5000);
    assert_true(experiment_duration_parse("0", &ms));
    assert_int_equal(ms, 0);
    ms = 7;
    assert_false(experiment_duration_parse("12h1d", &ms)); /* largest unit first */
    assert_false(experiment_duration_parse("1h1h", &ms));
    assert_false(experiment_duration_parse("h", &ms));
    assert_false(experiment_duration_parse("1w", &ms));
    assert_false(experiment_duration_parse("", &ms));
    assert_false(experiment_duration_parse("99999999999999999999d", &ms));
    assert_int_equal(ms, 7);

    experiment_duration_format(36LL * 3600000, out, sizeof out);
    assert_string_equal(out, "1d12h");
    experiment_duration_format(90 * 60000LL, out, sizeof out);
    assert_string_equal(out, "1h30m");
    experiment_duration_format(0, out, sizeof out);
    assert_string_equal(out, "0s");
    experiment_percent_format(3333, out, sizeof out);
    assert_string_equal(out, "33.33");
    experiment_percent_format(1250, out, sizeof out);
    assert_string_equal(out, "12.5");
    experiment_percent_format(10000, out, sizeof out);
    assert_string_equal(out, "100");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(spec_fills_every_default),
        cmocka_unit_test(spec_without_weights_splits_evenly_with_the_remainder_to_the_control),
        cmocka_unit_test(spec_accepts_percentages_with_two_decimals),
        cmocka_unit_test(spec_reads_every_optional_field),
        cmocka_unit_test(weights_not_summing_to_100_are_rejected),
        cmocka_unit_test(unknown_flag_is_rejected_with_a_suggestion),
        cmocka_unit_test(unknown_flag_is_reported_before_the_weights),
        cmocka_unit_test(arms_missing_from_the_flag_are_rejected),
        cmocka_unit_test(flag_variants_without_a_weight_are_rejected),
        cmocka_unit_test(control_that_is_not_a_variant_is_rejected),
        cmocka_unit_test(flag_with_one_variant_is_rejected),
        cmocka_unit_test(weights_with_zero_or_three_decimals_are_rejected),
        cmocka_unit_test(allocation_outside_0_to_100_is_rejected),
        cmocka_unit_test(missing_primary_metric_is_rejected),
        cmocka_unit_test(several_primary_metrics_are_rejected),
        cmocka_unit_test(bad_alpha_is_rejected),
        cmocka_unit_test(bad_power_is_rejected),
        cmocka_unit_test(metric_without_mde_type_or_direction_is_rejected),
        cmocka_unit_test(binomial_absolute_mde_of_1_or_more_is_rejected),
        cmocka_unit_test(duplicate_metric_names_are_rejected),
        cmocka_unit_test(too_many_metrics_are_a_limit),
        cmocka_unit_test(unknown_fields_are_rejected_with_a_suggestion),
        cmocka_unit_test(missing_hypothesis_flag_or_control_is_rejected),
        cmocka_unit_test(fixed_method_needs_its_horizon),
        cmocka_unit_test(bad_durations_units_and_samples_are_rejected),
        cmocka_unit_test(bad_experiment_name_is_rejected),
        cmocka_unit_test(canonical_form_reads_back_to_the_same_spec),
        cmocka_unit_test(canonical_form_ignores_spelling_and_explicit_defaults),
        cmocka_unit_test(durations_parse_and_format_in_the_largest_units),
    };
    return roost_run_tests("experiment_spec", tests);
}
