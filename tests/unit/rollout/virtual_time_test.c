/* Whole rollouts in virtual time, from simulated per-second aggregates, the
 * way roost-sim runs them: a healthy canary goes through every step to
 * promoted; a canary with 5x the baseline's error rate is rolled back at
 * its first analysis run with a record naming the metric and its numbers;
 * a canary without traffic pauses instead of failing. */
#include "harness.h"

/* The documented example's shape with short intervals, as a demo would run
 * it: analysis with the default check plus a threshold. */
static const char *const EXAMPLE =
    "{\"service\": \"checkout\", \"baseline\": \"v1.4.2\", \"canary\": \"v1.5.0\","
    " \"steps\": [ {\"setWeight\": 10}, {\"analysis\": {\"count\": 3}}, {\"setWeight\": 25},"
    "   {\"pause\": {\"duration\": \"30s\"}}, {\"analysis\": {}}, {\"setWeight\": 50},"
    "   {\"analysis\": {}}, {\"setWeight\": 100} ],"
    " \"analysis\": {\"interval\": \"20s\", \"count\": 3, \"metrics\": ["
    "   {\"name\": \"error-rate\", \"type\": \"threshold\", \"stat\": \"error_rate\", \"max\": 0.02},"
    "   {\"name\": \"errors-vs-baseline\", \"type\": \"compare\", \"stat\": \"error_rate\"} ]},"
    " \"promotion\": {\"minStepDuration\": \"30s\"} }";

static struct sim *sim_new(void)
{
    struct sim *s = calloc(1, sizeof *s);
    assert_non_null(s);
    return s;
}

static void healthy_canary_is_promoted_through_every_step(void **state)
{
    struct rollout_spec *spec = spec_parse_ok(EXAMPLE);
    struct sim *s = sim_new();
    (void)state;

    sim_init(s, spec, 1, 100, 0.005, 0.005);
    sim_run(s, 3600, false);
    if (s->st.phase != ROLLOUT_PROMOTED)
        fail_msg("not promoted:\n%s", s->history);
    assert_int_equal(s->st.weight, 100);
    assert_int_equal(s->st.step, spec->nsteps);
    /* Every weight of the plan was visited, in order. */
    assert_non_null(strstr(s->history, "weight 0 -> 10"));
    assert_non_null(strstr(s->history, "weight 10 -> 25"));
    assert_non_null(strstr(s->history, "weight 25 -> 50"));
    assert_non_null(strstr(s->history, "weight 50 -> 100"));
    assert_non_null(strstr(s->last.record, "\"event\":\"promoted\""));
    sim_free(s);
    spec_release(spec);
}

static void five_times_error_rate_rolls_back_at_first_analysis(void **state)
{
    struct rollout_spec *spec = spec_parse_ok(EXAMPLE);
    struct sim *s = sim_new();
    (void)state;

    sim_init(s, spec, 2, 100, 0.01, 0.05);
    sim_run(s, 3600, false);
    if (s->st.phase != ROLLOUT_ROLLED_BACK)
        fail_msg("not rolled back:\n%s", s->history);
    assert_int_equal(s->st.weight, 0);
    assert_int_equal(s->rollback.weight_to, 0);
    assert_int_equal(s->rollback.weight_from, 10);
    /* First analysis run: one interval after the analysis step began. */
    assert_int_equal(s->rolled_back_at_s, 20);
    assert_true(s->rollback.has_analysis);
    assert_int_equal(s->rollback.verdict, ROLLOUT_VERDICT_FAILED);
    /* The record names the metric and the numbers. */
    assert_non_null(strstr(s->rollback.record, "\"name\":\"error-rate\""));
    assert_non_null(strstr(s->rollback.record, "\"verdict\":\"failed\""));
    assert_non_null(strstr(s->rollback.record, "\"max\":0.02"));
    assert_non_null(strstr(s->rollback.record, "\"samples\":"));
    assert_non_null(strstr(s->rollback.summary, "error-rate"));
    assert_true(s->rollback.hooks & HOOK_ROLLBACK);
    sim_free(s);
    spec_release(spec);
}

static void no_traffic_pauses_instead_of_failing(void **state)
{
    struct rollout_spec *spec = spec_parse_ok(EXAMPLE);
    struct sim *s = sim_new();
    (void)state;

    sim_init(s, spec, 3, 0, 0.0, 0.0);
    sim_run(s, 3600, true);
    if (s->st.phase != ROLLOUT_PAUSED)
        fail_msg("not paused:\n%s", s->history);
    assert_int_equal(s->st.pause_reason, ROLLOUT_PAUSE_NO_DATA);
    assert_int_equal(s->st.weight, 10); /* the weight is held, not rolled back */
    assert_int_equal(s->st.failures, 0);
    assert_non_null(strstr(s->last.summary, "no canary traffic"));
    sim_free(s);
    spec_release(spec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(healthy_canary_is_promoted_through_every_step),
        cmocka_unit_test(five_times_error_rate_rolls_back_at_first_analysis),
        cmocka_unit_test(no_traffic_pauses_instead_of_failing),
    };
    return roost_run_tests("rollout_virtual_time", tests);
}
