/* Rollout spec parser: the documented example, defaults, every rejection
 * with its message (path and what was expected), and the canonical form. */
#include <cjson/cJSON.h>

#include "harness.h"

static const char *const PROBES[] = {"payments-db", "cache"};

/* The example from docs/rollouts.md, verbatim. */
static const char *const DOC_EXAMPLE =
    "{"
    "  \"service\": \"checkout\","
    "  \"baseline\": \"v1.4.2\","
    "  \"canary\": \"v1.5.0\","
    "  \"steps\": ["
    "    { \"setWeight\": 5 },"
    "    { \"analysis\": { \"count\": 4 } },"
    "    { \"setWeight\": 25 },"
    "    { \"pause\": { \"duration\": \"2m\" } },"
    "    { \"analysis\": {} },"
    "    { \"setWeight\": 50 },"
    "    { \"pause\": {} },"
    "    { \"setWeight\": 100 }"
    "  ],"
    "  \"analysis\": {"
    "    \"interval\": \"30s\","
    "    \"count\": 3,"
    "    \"failureLimit\": 0,"
    "    \"consecutiveErrorLimit\": 2,"
    "    \"inconclusiveLimit\": 3,"
    "    \"metrics\": ["
    "      { \"name\": \"error-rate\", \"type\": \"threshold\", \"stat\": \"error_rate\", \"max\": 0.01 },"
    "      { \"name\": \"latency\", \"type\": \"threshold\", \"stat\": \"p99\", \"max\": 300 },"
    "      { \"name\": \"latency-vs-baseline\", \"type\": \"relative\", \"stat\": \"p99\", \"maxRatio\": 1.25 },"
    "      { \"name\": \"errors-vs-baseline\", \"type\": \"compare\", \"stat\": \"error_rate\","
    "        \"margin\": 0.002, \"alpha\": 0.05 },"
    "      { \"name\": \"error-budget\", \"type\": \"burn_rate\", \"slo\": 0.999,"
    "        \"windows\": [ { \"long\": \"1h\", \"short\": \"5m\", \"factor\": 14.4 } ] }"
    "    ]"
    "  },"
    "  \"promotion\": { \"minStepDuration\": \"1m\", \"minSamplesPerStep\": 500, \"maxWeight\": 100 },"
    "  \"gates\": { \"probes\": [\"payments-db\"], \"onDown\": \"pause\" },"
    "  \"hooks\": ["
    "    { \"on\": [\"rollback\"], \"exec\": [\"/usr/local/bin/page-oncall\", \"checkout\"], \"timeout\": \"10s\" },"
    "    { \"on\": [\"confirm-promotion\"], \"http\": { \"url\": \"http://deploy-gate.internal/ok\" } }"
    "  ]"
    "}";

static const char *const MINIMAL =
    "{\"service\": \"checkout\", \"baseline\": \"v1\", \"canary\": \"v2\","
    " \"steps\": [{\"setWeight\": 50}, {\"analysis\": {}}, {\"setWeight\": 100}]}";

/* Parses text as rollout `name`; returns the status, message in err. */
static roost_status parse(const char *name, const char *json, struct rollout_spec *out,
                          roost_error *err)
{
    memset(err, 0, sizeof *err);
    return rollout_spec_parse_text(json, strlen(json), name, PROBES, 2, out, err);
}

/* The JSON of MINIMAL with one more member spliced in at the top level. */
static void with_top(char *buf, size_t cap, const char *member)
{
    snprintf(buf, cap,
             "{\"service\": \"checkout\", \"baseline\": \"v1\", \"canary\": \"v2\","
             " \"steps\": [{\"setWeight\": 50}, {\"analysis\": {}}, {\"setWeight\": 100}], %s}",
             member);
}

/* A document whose steps are `steps`. */
static void with_steps(char *buf, size_t cap, const char *steps, const char *extra)
{
    snprintf(buf, cap,
             "{\"service\": \"checkout\", \"baseline\": \"v1\", \"canary\": \"v2\", \"steps\": %s%s%s}",
             steps, extra ? ", " : "", extra ? extra : "");
}

/* A document with one check. */
static void with_check(char *buf, size_t cap, const char *check)
{
    snprintf(buf, cap,
             "{\"service\": \"checkout\", \"baseline\": \"v1\", \"canary\": \"v2\","
             " \"steps\": [{\"setWeight\": 50}, {\"analysis\": {}}, {\"setWeight\": 100}],"
             " \"analysis\": {\"metrics\": [{\"name\": \"ok\", \"type\": \"threshold\", \"stat\": "
             "\"mean\", \"max\": 1}, %s]}}",
             check);
}

static void expect_error(const char *json, roost_status code, const char *path, const char *says)
{
    struct rollout_spec s;
    roost_error err;
    roost_status st;

    memset(&s, 0x5a, sizeof s);
    st = parse("checkout-v2", json, &s, &err);
    if (st != code)
        fail_msg("status %d (%s), want %d, for %s", st, err.msg, code, json);
    if (strncmp(err.msg, path, strlen(path)) != 0)
        fail_msg("message \"%s\" does not start with the path \"%s\"", err.msg, path);
    if (!strstr(err.msg, says))
        fail_msg("message \"%s\" does not say \"%s\"", err.msg, says);
    /* A rejected document leaves the output untouched. */
    assert_int_equal(((unsigned char *)&s)[0], 0x5a);
}

/* ---- accepted documents --------------------------------------------------- */

static void documented_example_parses_with_every_field(void **state)
{
    struct rollout_spec *s = spec_parse_ok(DOC_EXAMPLE);
    (void)state;

    assert_string_equal(s->name, "checkout-v2");
    assert_string_equal(s->service, "checkout");
    assert_string_equal(s->canary, "v1.5.0");
    assert_int_equal(s->nsteps, 8);
    assert_int_equal(s->steps[0].kind, ROLLOUT_STEP_SET_WEIGHT);
    assert_int_equal(s->steps[0].weight, 5);
    assert_int_equal(s->steps[1].kind, ROLLOUT_STEP_ANALYSIS);
    assert_int_equal(s->steps[1].count, 4);
    assert_int_equal(s->steps[3].duration_ms, 120000);
    assert_int_equal(s->steps[4].count, 3); /* analysis.count */
    assert_int_equal(s->steps[6].duration_ms, ROLLOUT_PAUSE_UNTIL_PROMOTED);
    assert_int_equal(s->analysis.interval_ms, 30000);
    assert_int_equal(s->analysis.consecutive_error_limit, 2);
    assert_int_equal(s->analysis.nchecks, 5);
    assert_int_equal(s->analysis.checks[1].stat, ROLLOUT_STAT_QUANTILE);
    assert_true(fabs(s->analysis.checks[1].quantile - 0.99) < 1e-12);
    assert_int_equal(s->analysis.checks[2].type, ROLLOUT_CHECK_RELATIVE);
    assert_true(s->analysis.checks[3].alpha == 0.05);
    assert_true(s->analysis.checks[3].margin == 0.002);
    assert_int_equal(s->analysis.checks[4].nwindows, 1);
    assert_int_equal(s->analysis.checks[4].windows[0].long_ms, 3600000);
    assert_int_equal(s->analysis.checks[4].windows[0].short_ms, 300000);
    assert_int_equal(s->promotion.min_step_ms, 60000);
    assert_int_equal(s->promotion.min_samples, 500);
    assert_int_equal(s->gates.nprobes, 1);
    assert_string_equal(s->gates.probes[0], "payments-db");
    assert_int_equal(s->nhooks, 2);
    assert_int_equal(s->hook_events, HOOK_ROLLBACK | HOOK_CONFIRM_PROMOTION);
    spec_release(s);
}

static void omitted_fields_take_the_documented_defaults(void **state)
{
    struct rollout_spec *s = spec_parse_ok(MINIMAL);
    const struct rollout_check *c = &s->analysis.checks[0];
    (void)state;

    assert_false(s->auto_start);
    assert_int_equal(s->analysis.interval_ms, ROLLOUT_DEFAULT_INTERVAL_MS);
    assert_int_equal(s->analysis.count, ROLLOUT_DEFAULT_COUNT);
    assert_int_equal(s->steps[1].count, ROLLOUT_DEFAULT_COUNT);
    assert_int_equal(s->analysis.failure_limit, 0);
    assert_int_equal(s->analysis.consecutive_error_limit, 4);
    assert_int_equal(s->analysis.inconclusive_limit, 6);
    /* The default check: the always-valid comparison of error rates. */
    assert_int_equal(s->analysis.nchecks, 1);
    assert_string_equal(c->name, ROLLOUT_DEFAULT_CHECK_NAME);
    assert_int_equal(c->type, ROLLOUT_CHECK_COMPARE);
    assert_int_equal(c->stat, ROLLOUT_STAT_ERROR_RATE);
    assert_string_equal(c->metric, "requests");
    assert_true(c->alpha == ROLLOUT_DEFAULT_ALPHA_RATE_RATIO);
    assert_true(c->margin == 0);
    assert_int_equal(c->min_samples, 100);
    assert_int_equal(c->no_data, ROLLOUT_NO_DATA_PAUSE);
    assert_int_equal(c->expected_samples, ROLLOUT_DEFAULT_EXPECTED_SAMPLES);
    assert_int_equal(s->promotion.max_weight, 100);
    assert_int_equal(s->promotion.min_step_ms, 0);
    assert_false(s->promotion.require_confirmation);
    assert_int_equal(s->gates.on_down, ROLLOUT_ON_DOWN_PAUSE);
    assert_int_equal(s->nhooks, 0);
    spec_release(s);
}

static void min_samples_default_depends_on_the_stat(void **state)
{
    char doc[1024];
    struct rollout_spec s;
    roost_error err;
    (void)state;

    with_check(doc, sizeof doc,
               "{\"name\": \"p\", \"type\": \"threshold\", \"stat\": \"p95\", \"max\": 200}");
    assert_int_equal(parse("x", doc, &s, &err), ROOST_OK);
    assert_int_equal(s.analysis.checks[0].min_samples, 50);
    assert_int_equal(s.analysis.checks[1].min_samples, 50);
    assert_true(fabs(s.analysis.checks[1].quantile - 0.95) < 1e-12);
    rollout_spec_free(&s);
}

static void quantile_stats_accept_every_documented_spelling(void **state)
{
    static const struct {
        const char *stat;
        double q;
        const char *canon;
    } cases[] = {{"p50", 0.5, "p50"},     {"p90", 0.9, "p90"},     {"p95", 0.95, "p95"},
                 {"p99", 0.99, "p99"},    {"p999", 0.999, "p99.9"}, {"p99.9", 0.999, "p99.9"},
                 {"p99.5", 0.995, "p99.5"}, {"p9999", 0.9999, "p99.99"}, {"p1", 0.01, "p1"}};
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char doc[1024], chk[200];
        struct rollout_spec s;
        roost_error err;
        snprintf(chk, sizeof chk, "{\"name\": \"q\", \"type\": \"threshold\", \"stat\": \"%s\", \"max\": 1}",
                 cases[i].stat);
        with_check(doc, sizeof doc, chk);
        if (parse("x", doc, &s, &err) != ROOST_OK)
            fail_msg("%s: %s", cases[i].stat, err.msg);
        assert_true(fabs(s.analysis.checks[1].quantile - cases[i].q) < 1e-12);
        assert_string_equal(s.analysis.checks[1].stat_name, cases[i].canon);
        rollout_spec_free(&s);
    }
}

static void gates_are_not_cross_checked_without_probe_names(void **state)
{
    char doc[1024];
    struct rollout_spec s;
    roost_error err = {0};
    (void)state;
    with_top(doc, sizeof doc, "\"gates\": {\"probes\": [\"elsewhere\"]}");
    assert_int_equal(rollout_spec_parse_text(doc, strlen(doc), "x", NULL, 0, &s, &err), ROOST_OK);
    assert_string_equal(s.gates.probes[0], "elsewhere");
    rollout_spec_free(&s);
}

/* ---- rejected documents ------------------------------------------------- */

static void rollout_name_outside_the_flag_key_charset_is_rejected(void **state)
{
    struct rollout_spec s;
    roost_error err;
    char long_name[140];
    (void)state;
    assert_int_equal(parse("checkout v2", MINIMAL, &s, &err), ROOST_EINVAL);
    assert_non_null(strstr(err.msg, "rollouts[\"checkout v2\"]: a rollout name must be 1-128 characters"));
    assert_int_equal(parse("", MINIMAL, &s, &err), ROOST_EINVAL);
    memset(long_name, 'a', 129);
    long_name[129] = '\0';
    assert_int_equal(parse(long_name, MINIMAL, &s, &err), ROOST_EINVAL);
    memset(long_name, 'a', 128);
    long_name[128] = '\0';
    assert_int_equal(parse(long_name, MINIMAL, &s, &err), ROOST_OK);
    rollout_spec_free(&s);
    assert_true(rollout_name_valid("checkout-v2.canary_1"));
    assert_false(rollout_name_valid("checkout/v2"));
}

static void unknown_top_level_field_is_rejected_with_a_suggestion(void **state)
{
    char doc[1024];
    (void)state;
    with_top(doc, sizeof doc, "\"promotions\": {}");
    expect_error(doc, ROOST_EINVAL, "rollouts.checkout-v2: unknown field 'promotions'",
                 "did you mean 'promotion'?");
}

static void missing_service_is_rejected(void **state)
{
    (void)state;
    expect_error("{\"baseline\": \"v1\", \"canary\": \"v2\", \"steps\": [{\"setWeight\": 100}]}",
                 ROOST_EINVAL, "rollouts.checkout-v2.service", "missing");
}

static void text_fields_must_be_short_strings(void **state)
{
    char doc[1024], big[200];
    (void)state;
    memset(big, 'x', 129);
    big[129] = '\0';
    snprintf(doc, sizeof doc, "{\"service\": \"s\", \"baseline\": \"%s\", \"canary\": \"v2\", \"steps\": [{\"setWeight\": 100}]}", big);
    expect_error(doc, ROOST_EINVAL, "rollouts.checkout-v2.baseline", "expected 1-128 characters");
    expect_error("{\"service\": \"s\", \"baseline\": 1, \"canary\": \"v2\", \"steps\": [{\"setWeight\": 100}]}",
                 ROOST_EINVAL, "rollouts.checkout-v2.baseline", "expected a string, got a number");
}

static void weight_over_100_is_rejected(void **state)
{
    char doc[1024];
    (void)state;
    with_steps(doc, sizeof doc, "[{\"setWeight\": 50}, {\"setWeight\": 120}]", NULL);
    expect_error(doc, ROOST_EINVAL, "rollouts.checkout-v2.steps[1].setWeight", "weight 120 is over 100");
}

static void fractional_or_negative_weight_is_rejected(void **state)
{
    char doc[1024];
    (void)state;
    with_steps(doc, sizeof doc, "[{\"setWeight\": 12.5}, {\"setWeight\": 100}]", NULL);
    expect_error(doc, ROOST_EINVAL, "rollouts.checkout-v2.steps[0].setWeight",
                 "expected a whole number from 0 to 100, got 12.5");
    with_steps(doc, sizeof doc, "[{\"setWeight\": -5}, {\"setWeight\": 100}]", NULL);
    expect_error(doc, ROOST_EINVAL, "rollouts.checkout-v2.steps[0].setWeight", "got -5");
}

static void decreasing_weights_are_rejected_naming_both_steps(void **state)
{
    char doc[1024];
    (void)state;
    with_steps(doc, sizeof doc,
               "[{\"setWeight\": 5}, {\"setWeight\": 25}, {\"analysis\": {}}, {\"setWeight\": 10}, {\"setWeight\": 100}]",
               NULL);
    expect_error(doc, ROOST_EINVAL, "rollouts.checkout-v2.steps[3].setWeight",
                 "weights must not decrease: step 3 sets 10 after step 1 set 25");
}

static void weight_above_max_weight_is_rejected(void **state)
{
    char doc[1024];
    (void)state;
    with_steps(doc, sizeof doc, "[{\"setWeight\": 10}, {\"setWeight\": 60}]",
               "\"promotion\": {\"maxWeight\": 50}");
    expect_error(doc, ROOST_EINVAL, "rollouts.checkout-v2.steps[1].setWeight",
                 "weight 60 is over promotion.maxWeight (50)");
}

static void steps_must_end_at_max_weight(void **state)
{
    char doc[1024];
    (void)state;
    with_steps(doc, sizeof doc, "[{\"setWeight\": 10}, {\"analysis\": {}}, {\"setWeight\": 50}]", NULL);
    expect_error(doc, ROOST_EINVAL, "rollouts.checkout-v2.steps",
                 "the last step must bring the weight to maxWeight (100); the steps end at weight 50");
    with_steps(doc, sizeof doc, "[{\"setWeight\": 10}, {\"setWeight\": 50}]",
               "\"promotion\": {\"maxWeight\": 50}");
    {
        struct rollout_spec s;
        roost_error err;
        assert_int_equal(parse("x", doc, &s, &err), ROOST_OK);
        rollout_spec_free(&s);
    }
}

static void max_weight_over_100_is_rejected(void **state)
{
    char doc[1024];
    (void)state;
    with_top(doc, sizeof doc, "\"promotion\": {\"maxWeight\": 150}");
    expect_error(doc, ROOST_EINVAL, "rollouts.checkout-v2.promotion.maxWeight", "weight 150 is over 100");
}

static void a_step_must_have_exactly_one_kind(void **state)
{
    char doc[1024];
    (void)state;
    with_steps(doc, sizeof doc, "[{\"setWeight\": 10, \"pause\": {}}, {\"setWeight\": 100}]", NULL);
    expect_error(doc, ROOST_EINVAL, "rollouts.checkout-v2.steps[0]",
                 "expected an object with exactly one of setWeight, pause or analysis");
    with_steps(doc, sizeof doc, "[{\"setweight\": 10}, {\"setWeight\": 100}]", NULL);
    expect_error(doc, ROOST_EINVAL, "rollouts.checkout-v2.steps[0]",
                 "unknown step 'setweight' (expected one of setWeight, pause, analysis; did you mean 'setWeight'?)");
    with_steps(doc, sizeof doc, "[]", NULL);
    expect_error(doc, ROOST_EINVAL, "rollouts.checkout-v2.steps", "expected a non-empty array of steps");
}

static void pause_and_analysis_steps_are_strict(void **state)
{
    char doc[1024];
    (void)state;
    with_steps(doc, sizeof doc, "[{\"pause\": {\"duration\": \"2 minutes\"}}, {\"setWeight\": 100}]", NULL);
    expect_error(doc, ROOST_EINVAL, "rollouts.checkout-v2.steps[0].pause.duration",
                 "'2 minutes' is not a duration");
    with_steps(doc, sizeof doc, "[{\"pause\": {\"for\": \"2m\"}}, {\"setWeight\": 100}]", NULL);
    expect_error(doc, ROOST_EINVAL, "rollouts.checkout-v2.steps[0].pause: unknown field 'for'",
                 "expected one of duration");
    with_steps(doc, sizeof doc, "[{\"analysis\": {\"count\": 0}}, {\"setWeight\": 100}]", NULL);
    expect_error(doc, ROOST_EINVAL, "rollouts.checkout-v2.steps[0].analysis.count",
                 "expected a whole number from 1 to 10000, got 0");
    with_steps(doc, sizeof doc, "[{\"analysis\": {\"interval\": \"5s\"}}, {\"setWeight\": 100}]", NULL);
    expect_error(doc, ROOST_EINVAL, "rollouts.checkout-v2.steps[0].analysis: unknown field 'interval'",
                 "expected one of count");
}

static void analysis_interval_below_one_second_is_rejected(void **state)
{
    char doc[1024];
    (void)state;
    with_top(doc, sizeof doc, "\"analysis\": {\"interval\": \"500ms\"}");
    expect_error(doc, ROOST_EINVAL, "rollouts.checkout-v2.analysis.interval",
                 "expected a duration from 1s to 168h, got 500ms");
    with_top(doc, sizeof doc, "\"analysis\": {\"interval\": 30}");
    expect_error(doc, ROOST_EINVAL, "rollouts.checkout-v2.analysis.interval",
                 "expected a duration string such as \"30s\"");
}

static void analysis_limits_must_be_whole_numbers(void **state)
{
    char doc[1024];
    (void)state;
    with_top(doc, sizeof doc, "\"analysis\": {\"failureLimit\": -1}");
    expect_error(doc, ROOST_EINVAL, "rollouts.checkout-v2.analysis.failureLimit",
                 "expected a whole number from 0 to 10000, got -1");
    with_top(doc, sizeof doc, "\"analysis\": {\"inconclusiveLimit\": \"3\"}");
    expect_error(doc, ROOST_EINVAL, "rollouts.checkout-v2.analysis.inconclusiveLimit", "got a string");
}

static void empty_metrics_array_is_rejected(void **state)
{
    char doc[1024];
    (void)state;
    with_top(doc, sizeof doc, "\"analysis\": {\"metrics\": []}");
    expect_error(doc, ROOST_EINVAL, "rollouts.checkout-v2.analysis.metrics",
                 "expected a non-empty array of checks (omit it for the default check");
}

static void unknown_check_type_is_rejected(void **state)
{
    char doc[1024];
    (void)state;
    with_check(doc, sizeof doc, "{\"name\": \"x\", \"type\": \"ratio\", \"stat\": \"mean\"}");
    expect_error(doc, ROOST_EINVAL, "rollouts.checkout-v2.analysis.metrics[1].type",
                 "expected threshold, relative, compare or burn_rate");
    with_check(doc, sizeof doc, "{\"name\": \"x\", \"stat\": \"mean\"}");
    expect_error(doc, ROOST_EINVAL, "rollouts.checkout-v2.analysis.metrics[1].type",
                 "missing: expected threshold, relative, compare or burn_rate");
}

static void unknown_stat_is_rejected(void **state)
{
    static const char *const bad[] = {"p1000", "p100", "p0", "p99.", "p99.1234", "median", "P99", "p-5"};
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char doc[1024], chk[200], want[64];
        snprintf(chk, sizeof chk, "{\"name\": \"x\", \"type\": \"threshold\", \"stat\": \"%s\", \"max\": 1}", bad[i]);
        with_check(doc, sizeof doc, chk);
        snprintf(want, sizeof want, "unknown stat '%s'", bad[i]);
        expect_error(doc, ROOST_EINVAL, "rollouts.checkout-v2.analysis.metrics[1].stat", want);
    }
}

static void field_of_another_check_type_is_named_as_such(void **state)
{
    char doc[1024];
    (void)state;
    with_check(doc, sizeof doc,
               "{\"name\": \"x\", \"type\": \"compare\", \"stat\": \"error_rate\", \"max\": 0.01}");
    expect_error(doc, ROOST_EINVAL, "rollouts.checkout-v2.analysis.metrics[1].max",
                 "not a field of a compare check (max belongs to threshold checks)");
    with_check(doc, sizeof doc,
               "{\"name\": \"x\", \"type\": \"threshold\", \"stat\": \"mean\", \"max\": 1, \"maximum\": 2}");
    expect_error(doc, ROOST_EINVAL, "rollouts.checkout-v2.analysis.metrics[1]: unknown field 'maximum'",
                 "expected one of name, type, metric, stat, minSamples, noData, min, max");
}

static void check_needs_a_unique_name(void **state)
{
    char doc[1024];
    (void)state;
    with_check(doc, sizeof doc, "{\"type\": \"threshold\", \"stat\": \"mean\", \"max\": 1}");
    expect_error(doc, ROOST_EINVAL, "rollouts.checkout-v2.analysis.metrics[1].name", "missing");
    with_check(doc, sizeof doc, "{\"name\": \"ok\", \"type\": \"threshold\", \"stat\": \"mean\", \"max\": 1}");
    expect_error(doc, ROOST_EINVAL, "rollouts.checkout-v2.analysis.metrics[1].name",
                 "'ok' is already the name of metrics[0]");
}

static void threshold_needs_a_bound_and_error_rates_are_fractions(void **state)
{
    char doc[1024];
    (void)state;
    with_check(doc, sizeof doc, "{\"name\": \"x\", \"type\": \"threshold\", \"stat\": \"mean\"}");
    expect_error(doc, ROOST_EINVAL, "rollouts.checkout-v2.analysis.metrics[1]",
                 "a threshold check needs max, min or both");
    with_check(doc, sizeof doc, "{\"name\": \"x\", \"type\": \"threshold\", \"stat\": \"error_rate\", \"max\": 2}");
    expect_error(doc, ROOST_EINVAL, "rollouts.checkout-v2.analysis.metrics[1].max",
                 "2 is not an error rate (a fraction from 0 to 1");
    with_check(doc, sizeof doc,
               "{\"name\": \"x\", \"type\": \"threshold\", \"stat\": \"mean\", \"min\": 5, \"max\": 1}");
    expect_error(doc, ROOST_EINVAL, "rollouts.checkout-v2.analysis.metrics[1].min", "5 is above max (1)");
}

static void relative_needs_a_positive_ratio(void **state)
{
    char doc[1024];
    (void)state;
    with_check(doc, sizeof doc, "{\"name\": \"x\", \"type\": \"relative\", \"stat\": \"p99\"}");
    expect_error(doc, ROOST_EINVAL, "rollouts.checkout-v2.analysis.metrics[1].maxRatio", "missing");
    with_check(doc, sizeof doc, "{\"name\": \"x\", \"type\": \"relative\", \"stat\": \"p99\", \"maxRatio\": 0}");
    expect_error(doc, ROOST_EINVAL, "rollouts.checkout-v2.analysis.metrics[1].maxRatio",
                 "expected a ratio above 0, got 0");
}

static void compare_settings_are_checked(void **state)
{
    char doc[1024];
    (void)state;
    with_check(doc, sizeof doc, "{\"name\": \"x\", \"type\": \"compare\", \"stat\": \"error_rate\", \"alpha\": 0.7}");
    expect_error(doc, ROOST_EINVAL, "rollouts.checkout-v2.analysis.metrics[1].alpha",
                 "expected a level above 0 and at most 0.5");
    with_check(doc, sizeof doc, "{\"name\": \"x\", \"type\": \"compare\", \"stat\": \"error_rate\", \"margin\": -0.01}");
    expect_error(doc, ROOST_EINVAL, "rollouts.checkout-v2.analysis.metrics[1].margin",
                 "how much worse than the baseline the canary may be");
    with_check(doc, sizeof doc, "{\"name\": \"x\", \"type\": \"compare\", \"stat\": \"mean\", \"direction\": \"up\"}");
    expect_error(doc, ROOST_EINVAL, "rollouts.checkout-v2.analysis.metrics[1].direction",
                 "expected lower_is_better or higher_is_better");
    with_check(doc, sizeof doc, "{\"name\": \"x\", \"type\": \"compare\", \"stat\": \"mean\", \"noData\": \"skip\"}");
    expect_error(doc, ROOST_EINVAL, "rollouts.checkout-v2.analysis.metrics[1].noData",
                 "expected pause, fail or ignore");
}

static void burn_rate_settings_are_checked(void **state)
{
    char doc[1024];
    (void)state;
    with_check(doc, sizeof doc, "{\"name\": \"b\", \"type\": \"burn_rate\", \"slo\": 99.9, \"windows\": []}");
    expect_error(doc, ROOST_EINVAL, "rollouts.checkout-v2.analysis.metrics[1].slo",
                 "expected the SLO target as a fraction between 0 and 1");
    with_check(doc, sizeof doc,
               "{\"name\": \"b\", \"type\": \"burn_rate\", \"slo\": 0.999, \"windows\": [{\"long\": \"5m\", \"short\": \"1h\", \"factor\": 14.4}]}");
    expect_error(doc, ROOST_EINVAL, "rollouts.checkout-v2.analysis.metrics[1].windows[0].short",
                 "the short window (1h) must be shorter than the long one (5m)");
    with_check(doc, sizeof doc, "{\"name\": \"b\", \"type\": \"burn_rate\", \"slo\": 0.999}");
    expect_error(doc, ROOST_EINVAL, "rollouts.checkout-v2.analysis.metrics[1].windows", "missing");
    with_check(doc, sizeof doc,
               "{\"name\": \"b\", \"type\": \"burn_rate\", \"stat\": \"p99\", \"slo\": 0.999, \"windows\": [{\"long\": \"1h\", \"short\": \"5m\", \"factor\": 14.4}]}");
    expect_error(doc, ROOST_EINVAL, "rollouts.checkout-v2.analysis.metrics[1].stat",
                 "a burn_rate check reads the error rate");
    with_check(doc, sizeof doc,
               "{\"name\": \"b\", \"type\": \"burn_rate\", \"slo\": 0.999, \"windows\": [{\"long\": \"1h\", \"short\": \"5m\"}]}");
    expect_error(doc, ROOST_EINVAL, "rollouts.checkout-v2.analysis.metrics[1].windows[0]", "missing factor");
}

static void gate_must_name_a_probe_of_the_document(void **state)
{
    char doc[1024];
    (void)state;
    with_top(doc, sizeof doc, "\"gates\": {\"probes\": [\"payments-db\", \"db\"]}");
    expect_error(doc, ROOST_EINVAL, "rollouts.checkout-v2.gates.probes[1]",
                 "no probe named 'db' in this document");
    with_top(doc, sizeof doc, "\"gates\": {\"probes\": [\"cache\", \"cache\"]}");
    expect_error(doc, ROOST_EINVAL, "rollouts.checkout-v2.gates.probes[1]", "'cache' is listed twice");
    with_top(doc, sizeof doc, "\"gates\": {\"probes\": [\"cache\"], \"onDown\": \"rollback\"}");
    expect_error(doc, ROOST_EINVAL, "rollouts.checkout-v2.gates.onDown", "expected pause or abort");
}

static void hook_errors_carry_the_rollout_path(void **state)
{
    char doc[1024];
    (void)state;
    with_top(doc, sizeof doc, "\"hooks\": [{\"on\": [\"rollback\"], \"exec\": [\"page-oncall\"]}]");
    expect_error(doc, ROOST_EINVAL, "rollouts.checkout-v2.hooks[0].exec[0]",
                 "expected an absolute program path");
    with_top(doc, sizeof doc, "\"hooks\": [{\"on\": [\"rollbak\"], \"exec\": [\"/bin/true\"]}]");
    expect_error(doc, ROOST_EINVAL, "rollouts.checkout-v2.hooks[0].on[0]", "unknown event 'rollbak'");
}

static void auto_start_must_be_a_boolean(void **state)
{
    char doc[1024];
    struct rollout_spec s;
    roost_error err;
    (void)state;
    with_top(doc, sizeof doc, "\"autoStart\": \"yes\"");
    expect_error(doc, ROOST_EINVAL, "rollouts.checkout-v2.autoStart", "expected true or false");
    with_top(doc, sizeof doc, "\"autoStart\": true");
    assert_int_equal(parse("x", doc, &s, &err), ROOST_OK);
    assert_true(s.auto_start);
    rollout_spec_free(&s);
}

static void too_many_steps_is_a_limit_error(void **state)
{
    char steps[2048], doc[2560];
    size_t used = 0;
    (void)state;
    used += (size_t)snprintf(steps, sizeof steps, "[");
    for (int i = 0; i < ROLLOUT_MAX_STEPS; i++)
        used += (size_t)snprintf(steps + used, sizeof steps - used, "{\"analysis\": {}},");
    snprintf(steps + used, sizeof steps - used, "{\"setWeight\": 100}]");
    with_steps(doc, sizeof doc, steps, NULL);
    expect_error(doc, ROOST_ELIMIT, "rollouts.checkout-v2.steps", "more than 64 steps");
}

static void invalid_json_text_is_rejected(void **state)
{
    struct rollout_spec s;
    roost_error err;
    (void)state;
    assert_int_equal(parse("x", "{\"service\": ", &s, &err), ROOST_EINVAL);
    assert_non_null(strstr(err.msg, "not valid JSON"));
    assert_int_equal(parse("x", "[1, 2]", &s, &err), ROOST_EINVAL);
    assert_non_null(strstr(err.msg, "rollouts.x: expected an object"));
}

/* ---- canonical form ----------------------------------------------------- */

static char *canonical_of(const char *json)
{
    struct rollout_spec *s = spec_parse_ok(json);
    roost_error err = {0};
    char *text = NULL;
    size_t len = 0;
    if (rollout_spec_canonical(s, &text, &len, &err) != ROOST_OK)
        fail_msg("canonical: %s", err.msg);
    assert_int_equal(len, strlen(text));
    spec_release(s);
    return text;
}

static void canonical_form_reads_back_to_the_same_spec(void **state)
{
    char *a = canonical_of(DOC_EXAMPLE), *b;
    struct rollout_spec s1, s2;
    roost_error err = {0};
    (void)state;

    /* Stored specs are restored without the document: no probe names. */
    assert_int_equal(rollout_spec_parse_text(a, strlen(a), "checkout-v2", NULL, 0, &s1, &err), ROOST_OK);
    assert_int_equal(rollout_spec_canonical(&s1, &b, NULL, &err), ROOST_OK);
    assert_string_equal(a, b);
    assert_int_equal(rollout_spec_parse_text(b, strlen(b), "checkout-v2", PROBES, 2, &s2, &err), ROOST_OK);
    assert_int_equal(s2.nsteps, 8);
    assert_int_equal(s2.nhooks, 2);
    assert_string_equal(s2.hooks[0].argv[1], "checkout");
    assert_string_equal(s2.hooks[1].url, "http://deploy-gate.internal/ok");
    assert_memory_equal(&s1.analysis, &s2.analysis, sizeof s1.analysis);
    assert_memory_equal(&s1.steps, &s2.steps, sizeof s1.steps);
    rollout_spec_free(&s1);
    rollout_spec_free(&s2);
    free(a);
    free(b);
}

static void canonical_form_states_every_default(void **state)
{
    char *c = canonical_of(MINIMAL);
    (void)state;
    assert_non_null(strstr(c, "\"interval\":\"10s\""));
    assert_non_null(strstr(c, "\"count\":6"));
    assert_non_null(strstr(c, "\"name\":\"errors-vs-baseline\",\"type\":\"compare\""));
    assert_non_null(strstr(c, "\"alpha\":0.01"));
    assert_non_null(strstr(c, "\"minStepDuration\":\"0s\""));
    assert_non_null(strstr(c, "\"onDown\":\"pause\""));
    assert_non_null(strstr(c, "\"autoStart\":false"));
    free(c);
}

static void equivalent_spellings_have_the_same_canonical_form(void **state)
{
    char a[1024], b[1024];
    char *ca, *cb;
    (void)state;
    with_steps(a, sizeof a, "[{\"setWeight\": 10}, {\"pause\": {\"duration\": \"90s\"}}, {\"setWeight\": 100}]",
               "\"analysis\": {\"interval\": \"60s\"}");
    with_steps(b, sizeof b, "[{\"setWeight\": 10}, {\"pause\": {\"duration\": \"1m30s\"}}, {\"setWeight\": 100}]",
               "\"analysis\": {\"interval\": \"1m\", \"count\": 6, \"failureLimit\": 0}, \"promotion\": {\"maxWeight\": 100}");
    ca = canonical_of(a);
    cb = canonical_of(b);
    assert_string_equal(ca, cb);
    assert_non_null(strstr(ca, "\"duration\":\"1m30s\""));
    free(ca);
    free(cb);
}

static void a_new_canary_version_changes_the_canonical_form(void **state)
{
    char *a = canonical_of(MINIMAL), *b;
    char other[1024];
    (void)state;
    snprintf(other, sizeof other, "%s", MINIMAL);
    memcpy(strstr(other, "\"v2\""), "\"v3\"", 4);
    b = canonical_of(other);
    assert_string_not_equal(a, b);
    free(a);
    free(b);
}

static void durations_format_in_the_largest_exact_units(void **state)
{
    char b[32];
    (void)state;
    rollout_duration_format(0, b, sizeof b);
    assert_string_equal(b, "0s");
    rollout_duration_format(250, b, sizeof b);
    assert_string_equal(b, "250ms");
    rollout_duration_format(5400000, b, sizeof b);
    assert_string_equal(b, "1h30m");
    rollout_duration_format(61500, b, sizeof b);
    assert_string_equal(b, "1m1s500ms");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(documented_example_parses_with_every_field),
        cmocka_unit_test(omitted_fields_take_the_documented_defaults),
        cmocka_unit_test(min_samples_default_depends_on_the_stat),
        cmocka_unit_test(quantile_stats_accept_every_documented_spelling),
        cmocka_unit_test(gates_are_not_cross_checked_without_probe_names),
        cmocka_unit_test(rollout_name_outside_the_flag_key_charset_is_rejected),
        cmocka_unit_test(unknown_top_level_field_is_rejected_with_a_suggestion),
        cmocka_unit_test(missing_service_is_rejected),
        cmocka_unit_test(text_fields_must_be_short_strings),
        cmocka_unit_test(weight_over_100_is_rejected),
        cmocka_unit_test(fractional_or_negative_weight_is_rejected),
        cmocka_unit_test(decreasing_weights_are_rejected_naming_both_steps),
        cmocka_unit_test(weight_above_max_weight_is_rejected),
        cmocka_unit_test(steps_must_end_at_max_weight),
        cmocka_unit_test(max_weight_over_100_is_rejected),
        cmocka_unit_test(a_step_must_have_exactly_one_kind),
        cmocka_unit_test(pause_and_analysis_steps_are_strict),
        cmocka_unit_test(analysis_interval_below_one_second_is_rejected),
        cmocka_unit_test(analysis_limits_must_be_whole_numbers),
        cmocka_unit_test(empty_metrics_array_is_rejected),
        cmocka_unit_test(unknown_check_type_is_rejected),
        cmocka_unit_test(unknown_stat_is_rejected),
        cmocka_unit_test(field_of_another_check_type_is_named_as_such),
        cmocka_unit_test(check_needs_a_unique_name),
        cmocka_unit_test(threshold_needs_a_bound_and_error_rates_are_fractions),
        cmocka_unit_test(relative_needs_a_positive_ratio),
        cmocka_unit_test(compare_settings_are_checked),
        cmocka_unit_test(burn_rate_settings_are_checked),
        cmocka_unit_test(gate_must_name_a_probe_of_the_document),
        cmocka_unit_test(hook_errors_carry_the_rollout_path),
        cmocka_unit_test(auto_start_must_be_a_boolean),
        cmocka_unit_test(too_many_steps_is_a_limit_error),
        cmocka_unit_test(invalid_json_text_is_rejected),
        cmocka_unit_test(canonical_form_reads_back_to_the_same_spec),
        cmocka_unit_test(canonical_form_states_every_default),
        cmocka_unit_test(equivalent_spellings_have_the_same_canonical_form),
        cmocka_unit_test(a_new_canary_version_changes_the_canonical_form),
        cmocka_unit_test(durations_format_in_the_largest_exact_units),
    };
    return roost_run_tests("rollout_spec", tests);
}
