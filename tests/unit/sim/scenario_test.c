/* Scenario files: every field lands where docs/simulator.md says, the
 * canary inherits what it does not state, and every mistake is refused
 * with the JSON path of the value and what was expected. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testmain.h"
#include "tools/sim/scenario.h"

#define ROLLOUT                                                                                   \
    "\"rollouts\": {\"checkout-v2\": {\"service\": \"checkout\", \"baseline\": \"v1\","          \
    " \"canary\": \"v2\", \"steps\": [{\"setWeight\": 10}, {\"analysis\": {}},"                  \
    " {\"setWeight\": 100}]}}"

static struct sim_scenario *parse_ok(const char *json)
{
    struct sim_scenario *sc = calloc(1, sizeof *sc);
    roost_error err = {0};

    assert_non_null(sc);
    if (sim_scenario_parse(json, strlen(json), "hint", sc, &err) != ROOST_OK)
        fail_msg("did not parse: %s", err.msg);
    return sc;
}

static void release(struct sim_scenario *sc)
{
    sim_scenario_free(sc);
    free(sc);
}

/* Parses json expecting failure; returns the message (static). */
static const char *parse_error(const char *json)
{
    static roost_error err;
    struct sim_scenario *sc = calloc(1, sizeof *sc);

    assert_non_null(sc);
    memset(&err, 0, sizeof err);
    if (sim_scenario_parse(json, strlen(json), "hint", sc, &err) == ROOST_OK)
        fail_msg("parsed, but should not have: %s", json);
    free(sc);
    return err.msg;
}

#define assert_error_has(json, text)                                                              \
    do {                                                                                          \
        const char *m_ = parse_error(json);                                                       \
        if (!strstr(m_, text))                                                                    \
            fail_msg("error '%s' does not contain '%s'", m_, text);                               \
    } while (0)

static void full_scenario_parses_every_field(void **state)
{
    struct sim_scenario *sc = parse_ok(
        "{\"name\": \"full\", \"description\": \"everything\", \"expect\": \"rollback\","
        " \"duration\": \"20m\", \"flushInterval\": \"10s\", \"settle\": \"2s\","
        " \"traffic\": {\"shape\": \"diurnal\", \"rate\": 80, \"period\": \"1h\", \"amplitude\": 0.3, \"offset\": \"15m\"},"
        " \"baseline\": {\"errorRate\": 0.005, \"latency\": {\"medianMs\": 40, \"sigma\": 0.4,"
        "   \"slowTail\": {\"probability\": 0.01, \"multiplier\": 8}}},"
        " \"canary\": {\"errorRate\": 0.02, \"latency\": {\"medianMs\": 60}},"
        " \"incidents\": [{\"type\": \"latency_regression\", \"start\": \"5m\", \"duration\": \"1m\", \"magnitude\": 3},"
        "   {\"type\": \"dependency_outage\", \"start\": \"2m\", \"magnitude\": 0.1, \"probe\": \"db\"}],"
        ROLLOUT ","
        " \"reference\": {\"flagger\": {\"interval\": \"30s\", \"threshold\": 3, \"stepWeight\": 5,"
        "   \"maxWeight\": 30, \"successRateMin\": 98, \"p99MaxMs\": 300},"
        "   \"argo\": {\"interval\": \"2m\", \"failureLimit\": 1, \"consecutiveErrorLimit\": 2,"
        "   \"successRateMin\": 95, \"weights\": [20, 60], \"pause\": \"5m\"}}}");
    (void)state;

    assert_string_equal(sc->name, "full");
    assert_int_equal(sc->expect, SIM_EXPECT_ROLLBACK);
    assert_int_equal(sc->duration_ms, 1200000);
    assert_int_equal(sc->flush_ms, 10000);
    assert_int_equal(sc->settle_ms, 2000);
    assert_int_equal(sc->model.traffic.shape, SIM_SHAPE_DIURNAL);
    assert_int_equal(sc->model.traffic.period_ms, 3600000);
    assert_int_equal(sc->model.traffic.offset_ms, 900000);
    assert_true(sc->model.traffic.amplitude == 0.3);
    /* the canary states its error rate and median; sigma and tail are the baseline's */
    assert_true(sc->model.arm[1].error_rate == 0.02);
    assert_true(sc->model.arm[1].latency.median_ms == 60);
    assert_true(sc->model.arm[1].latency.sigma == 0.4);
    assert_true(sc->model.arm[1].latency.tail_p == 0.01 && sc->model.arm[1].latency.tail_mult == 8);
    assert_int_equal(sc->model.nincidents, 2);
    assert_int_equal(sc->model.incidents[0].arms, SIM_ARM_CANARY_BIT); /* default arm */
    assert_int_equal(sc->model.incidents[1].arms, SIM_ARM_CANARY_BIT | SIM_ARM_BASELINE_BIT);
    assert_int_equal(sc->model.incidents[1].duration_ms, SIM_FOREVER);
    assert_string_equal(sc->model.incidents[1].probe, "db");
    assert_int_equal(sc->onset_ms, 0); /* the canary's own model is worse */
    assert_string_equal(sc->spec.name, "checkout-v2");
    assert_int_equal(sc->spec.nsteps, 3);
    assert_false(sc->needs_latency); /* the default check reads error rates only */
    assert_int_equal(sc->flagger.interval_ms, 30000);
    assert_int_equal(sc->flagger.threshold, 3);
    assert_true(sc->flagger.p99_max_ms == 300);
    assert_int_equal(sc->argo.nweights, 2);
    assert_int_equal(sc->argo.weights[1], 60);
    assert_int_equal(sc->argo.pause_ms, 300000);
    release(sc);
}

static void omitted_fields_take_the_documented_defaults(void **state)
{
    struct sim_scenario *sc = parse_ok("{\"traffic\": {\"rate\": 50}, \"baseline\": {}, " ROLLOUT "}");
    (void)state;

    assert_string_equal(sc->name, "hint");
    assert_int_equal(sc->expect, SIM_EXPECT_NONE);
    assert_int_equal(sc->duration_ms, 3600000);
    assert_int_equal(sc->flush_ms, 1000);
    assert_int_equal(sc->settle_ms, 1000);
    assert_int_equal(sc->model.traffic.shape, SIM_SHAPE_STEADY);
    assert_true(sc->model.arm[0].error_rate == 0);
    assert_true(sc->model.arm[0].latency.median_ms == 50 && sc->model.arm[0].latency.sigma == 0.5);
    assert_int_equal(sc->onset_ms, -1); /* the canary is the baseline */
    /* Flagger's and Argo's defaults, as the benchmark describes them */
    assert_int_equal(sc->flagger.interval_ms, 60000);
    assert_int_equal(sc->flagger.threshold, 5);
    assert_int_equal(sc->flagger.step_weight, 10);
    assert_int_equal(sc->flagger.max_weight, 50);
    assert_true(sc->flagger.success_rate_min == 99);
    assert_int_equal(sc->argo.failure_limit, 3);
    assert_int_equal(sc->argo.consecutive_error_limit, 4);
    assert_int_equal(sc->argo.nweights, 5);
    release(sc);
}

static void onset_is_the_first_incident_on_the_canary_alone(void **state)
{
    struct sim_scenario *sc = parse_ok(
        "{\"traffic\": {\"rate\": 50}, \"baseline\": {\"errorRate\": 0.01}, \"incidents\": ["
        " {\"type\": \"dependency_outage\", \"start\": \"30s\", \"magnitude\": 0.1},"
        " {\"type\": \"error_spike\", \"start\": \"3m\", \"magnitude\": 0.1},"
        " {\"type\": \"latency_regression\", \"start\": \"2m\", \"magnitude\": 2}], " ROLLOUT "}");
    (void)state;

    assert_int_equal(sc->onset_ms, 120000); /* the outage hits both arms: not an onset */
    release(sc);
}

static void a_quantile_check_turns_on_latency(void **state)
{
    struct sim_scenario *sc = parse_ok(
        "{\"traffic\": {\"rate\": 50}, \"baseline\": {},"
        " \"rollouts\": {\"r\": {\"service\": \"s\", \"baseline\": \"a\", \"canary\": \"b\","
        "  \"steps\": [{\"setWeight\": 10}, {\"analysis\": {}}, {\"setWeight\": 100}],"
        "  \"analysis\": {\"metrics\": [{\"name\": \"lat\", \"type\": \"compare\", \"stat\": \"p99\"}]}}}}");
    (void)state;

    assert_true(sc->needs_latency);
    release(sc);
}

static void mistakes_are_refused_with_their_json_path(void **state)
{
    (void)state;

    assert_error_has("{\"traffic\": {\"rate\": -1}, \"baseline\": {}, " ROLLOUT "}",
                     "traffic.rate: expected a number from 0");
    assert_error_has("{\"traffic\": {\"rate\": 1, \"shape\": \"spiky\"}, \"baseline\": {}, " ROLLOUT "}",
                     "traffic.shape: 'spiky' is not one of steady, diurnal, bursty");
    assert_error_has("{\"traffic\": {\"rate\": 1, \"period\": \"1h\"}, \"baseline\": {}, " ROLLOUT "}",
                     "traffic: unknown field 'period'");
    assert_error_has("{\"traffic\": {\"shape\": \"bursty\", \"burstRate\": 100, \"quietRate\": 5,"
                     " \"burstLength\": \"1m\", \"burstEvery\": \"30s\"}, \"baseline\": {}, " ROLLOUT "}",
                     "traffic.burstEvery: the mean time between burst starts must be longer");
    assert_error_has("{\"traffic\": {\"rate\": 1}, \"baseline\": {\"errorRate\": 1.5}, " ROLLOUT "}",
                     "baseline.errorRate: expected a number from 0 to 1");
    assert_error_has("{\"traffic\": {\"rate\": 1}, \"baseline\": {}, \"canary\": {\"latency\": {\"sigma\": \"wide\"}}, " ROLLOUT "}",
                     "canary.latency.sigma: expected a number");
    assert_error_has("{\"traffic\": {\"rate\": 1}, \"baseline\": {\"latency\": {\"slowTail\": {\"probability\": 0.1}}}, " ROLLOUT "}",
                     "baseline.latency.slowTail.multiplier: expected a number");
    assert_error_has("{\"traffic\": {\"rate\": 1}, \"baseline\": {}, \"incidents\": [{\"type\": \"error_spike\","
                     " \"start\": \"soon\", \"magnitude\": 0.1}], " ROLLOUT "}",
                     "incidents[0].start: 'soon' is not a duration");
    assert_error_has("{\"traffic\": {\"rate\": 1}, \"baseline\": {}, \"incidents\": [{}, {\"type\": \"error_spike\","
                     " \"start\": \"1m\", \"magnitude\": 0.1, \"probe\": \"db\"}], " ROLLOUT "}",
                     "incidents[0].type: expected one of");
    assert_error_has("{\"traffic\": {\"rate\": 1}, \"baseline\": {}, \"incidents\": [{\"type\": \"error_spike\","
                     " \"start\": \"1m\", \"magnitude\": 0.1, \"probe\": \"db\"}], " ROLLOUT "}",
                     "incidents[0].probe: only a dependency_outage takes a gate probe down");
    assert_error_has("{\"traffic\": {\"rate\": 1}, \"baseline\": {}, \"flushInterval\": \"7s\", " ROLLOUT "}",
                     "flushInterval: expected a divisor of a minute");
    assert_error_has("{\"traffic\": {\"rate\": 1}, \"baseline\": {}, \"expect\": \"rollback\", " ROLLOUT "}",
                     "expect: \"rollback\", but the canary is never worse");
    assert_error_has("{\"traffic\": {\"rate\": 1}, \"baseline\": {}, \"canary\": {\"errorRate\": 0.1},"
                     " \"expect\": \"promote\", " ROLLOUT "}",
                     "expect: \"promote\", but the canary is worse");
    assert_error_has("{\"traffic\": {\"rate\": 1}, \"baseline\": {}, \"rolouts\": {}}",
                     "unknown field 'rolouts'");
    assert_error_has("{\"traffic\": {\"rate\": 1}, \"baseline\": {}, \"rollouts\": {}}",
                     "rollouts: a scenario simulates one rollout, this one has 0");
    assert_error_has("{\"traffic\": {\"rate\": 1}, \"baseline\": {}, \"rollouts\": {\"r\": {\"service\": \"s\","
                     " \"baseline\": \"a\", \"canary\": \"b\", \"steps\": [{\"setWeight\": 120}]}}}",
                     "rollouts.r.steps[0].setWeight");
    assert_error_has("{\"traffic\": {\"rate\": 1}, \"baseline\": {}, \"rollouts\": {\"r\": {\"service\": \"s\","
                     " \"baseline\": \"a\", \"canary\": \"b\", \"steps\": [{\"setWeight\": 10}, {\"analysis\": {}},"
                     " {\"setWeight\": 100}], \"analysis\": {\"metrics\": [{\"name\": \"c\", \"type\": \"compare\","
                     " \"metric\": \"checkout_latency\", \"stat\": \"mean\"}]}}}}",
                     "rollouts.r.analysis.metrics[0].metric: roost-sim simulates only the \"requests\" metric");
    assert_error_has("{\"traffic\": {\"rate\": 1}, \"baseline\": {}, " ROLLOUT ", \"reference\": {\"argo\":"
                     " {\"weights\": [30, 20]}}}",
                     "reference.argo.weights[1]: weights must increase");
    assert_error_has("{\"traffic\": {\"rate\": 1}, \"baseline\": {}, " ROLLOUT ", \"reference\": {\"flagger\":"
                     " {\"stepWeight\": 60}}}",
                     "reference.flagger.stepWeight: 60 is above maxWeight 50");
    assert_error_has("{\"baseline\": {}, " ROLLOUT "}", "traffic: missing");
    assert_error_has("{\"traffic\": {\"rate\": 1},\n \"baseline\": {},\n \"rollouts\": [}", "line 3, column");
}

static void a_missing_file_names_the_path(void **state)
{
    struct sim_scenario *sc = calloc(1, sizeof *sc);
    roost_error err = {0};
    (void)state;

    assert_non_null(sc);
    assert_int_equal(sim_scenario_load("/nonexistent/scenario.json", sc, &err), ROOST_ENOTFOUND);
    assert_non_null(strstr(err.msg, "/nonexistent/scenario.json"));
    free(sc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_scenario_parses_every_field),
        cmocka_unit_test(omitted_fields_take_the_documented_defaults),
        cmocka_unit_test(onset_is_the_first_incident_on_the_canary_alone),
        cmocka_unit_test(a_quantile_check_turns_on_latency),
        cmocka_unit_test(mistakes_are_refused_with_their_json_path),
        cmocka_unit_test(a_missing_file_names_the_path),
    };
    return roost_run_tests("sim_scenario", tests);
}
