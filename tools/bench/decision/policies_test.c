/* The benchmark's models of Flagger and Argo Rollouts behave as their
 * sources say (flagger.h, argo.h): Flagger halts the weight on a failed
 * check and rolls back one interval after the fifth, promotes after
 * passing at maxWeight, and fails checks without traffic; Argo keeps
 * climbing while measurements fail, aborts at the fourth failure
 * (failureLimit 3), treats a query with no canary series as an error, not
 * a failure, and promotes when the last pause ends. The oracle (the SPRT
 * bench_frontier measures Roost against) follows the rollout's steps,
 * rolls back once its log likelihood ratio reaches ln(1 / alpha), and
 * refuses settings it could not test. */
#include <stdlib.h>
#include <string.h>

#include "testmain.h"
#include "tools/bench/decision/argo.h"
#include "tools/bench/decision/flagger.h"
#include "tools/bench/decision/oracle.h"
#include "tools/sim/virtual.h"

struct fixture {
    struct sim_scenario sc;
    struct sim_world world;
    char timeline[8192];
    size_t len;
};

static void on_event(void *user, const struct sim_event *ev)
{
    struct fixture *f = user;
    int w;

    if (f->len >= sizeof f->timeline)
        return;
    w = snprintf(f->timeline + f->len, sizeof f->timeline - f->len, "%lld w%u %s\n",
                 (long long)((ev->at_ms - SIM_T0_MS) / 1000), ev->weight_to, ev->summary);
    if (w > 0)
        f->len = (size_t)w >= sizeof f->timeline - f->len ? sizeof f->timeline : f->len + (size_t)w;
}

static struct fixture *setup_rates(double rate, double baseline_errors, double canary_errors)
{
    struct fixture *f = calloc(1, sizeof *f);
    char json[1024];
    roost_error err = {0};

    assert_non_null(f);
    snprintf(json, sizeof json,
             "{\"traffic\": {\"rate\": %g}, \"duration\": \"20m\", \"baseline\": {\"errorRate\": %g},"
             " \"canary\": {\"errorRate\": %g},"
             " \"rollouts\": {\"r\": {\"service\": \"s\", \"baseline\": \"a\", \"canary\": \"b\","
             "  \"steps\": [{\"setWeight\": 10}, {\"analysis\": {}}, {\"setWeight\": 100}]}}}",
             rate, baseline_errors, canary_errors);
    if (sim_scenario_parse(json, strlen(json), "test", &f->sc, &err) != ROOST_OK)
        fail_msg("scenario: %s", err.msg);
    assert_int_equal(sim_world_init(&f->world, &err), ROOST_OK);
    return f;
}

static struct fixture *setup(double rate, double canary_errors)
{
    return setup_rates(rate, 0, canary_errors);
}

static void teardown(struct fixture *f)
{
    sim_world_free(&f->world);
    sim_scenario_free(&f->sc);
    free(f);
}

static struct sim_outcome run_flagger(struct fixture *f)
{
    struct bench_flagger *fl;
    struct sim_policy p;
    struct sim_outcome o;
    roost_error err = {0};

    assert_int_equal(bench_flagger_new(&f->sc.flagger, on_event, f, &fl, &err), ROOST_OK);
    bench_flagger_policy(fl, &p);
    if (sim_run(&f->world, &f->sc, &p, 1, false, &o, &err) != ROOST_OK)
        fail_msg("run: %s", err.msg);
    bench_flagger_free(fl);
    return o;
}

static struct sim_outcome run_argo(struct fixture *f)
{
    struct bench_argo *a;
    struct sim_policy p;
    struct sim_outcome o;
    roost_error err = {0};

    assert_int_equal(bench_argo_new(&f->sc.argo, on_event, f, &a, &err), ROOST_OK);
    bench_argo_policy(a, &p);
    if (sim_run(&f->world, &f->sc, &p, 1, false, &o, &err) != ROOST_OK)
        fail_msg("run: %s", err.msg);
    bench_argo_free(a);
    return o;
}

static struct sim_outcome run_oracle(struct fixture *f, double ratio, double alpha,
                                     double baseline_rate)
{
    struct bench_oracle *o;
    struct sim_policy p;
    struct sim_outcome out;
    roost_error err = {0};

    assert_int_equal(bench_oracle_new(&f->sc.spec, ratio, alpha, baseline_rate, on_event, f, &o, &err),
                     ROOST_OK);
    bench_oracle_policy(o, &p);
    if (sim_run(&f->world, &f->sc, &p, 1, false, &out, &err) != ROOST_OK)
        fail_msg("run: %s", err.msg);
    bench_oracle_free(o);
    return out;
}

#define assert_timeline_has(f, text)                                                              \
    do {                                                                                          \
        if (!strstr((f)->timeline, text))                                                         \
            fail_msg("no '%s' in:\n%s", text, (f)->timeline);                                     \
    } while (0)

static void flagger_rolls_back_one_interval_after_the_fifth_failed_check(void **state)
{
    struct fixture *f = setup(100, 0.5);
    struct sim_outcome o = run_flagger(f);
    (void)state;

    assert_int_equal(o.phase, SIM_ROLLED_BACK);
    assert_int_equal(o.end_ms, 360000);
    assert_int_equal(o.max_weight, 10); /* failed checks halt the weight */
    assert_timeline_has(f, "60 w10 halt advancement: request-success-rate");
    assert_timeline_has(f, "(failed checks 5/5)");
    assert_timeline_has(f, "360 w0 rolling back: failed checks threshold reached 5");
    teardown(f);
}

static void flagger_promotes_after_passing_at_max_weight(void **state)
{
    struct fixture *f = setup(100, 0);
    struct sim_outcome o = run_flagger(f);
    (void)state;

    assert_int_equal(o.phase, SIM_PROMOTED);
    assert_int_equal(o.end_ms, 300000);
    assert_timeline_has(f, "0 w10 starting canary analysis");
    assert_timeline_has(f, "60 w20 advance canary weight 20");
    assert_timeline_has(f, "240 w50 advance canary weight 50");
    assert_timeline_has(f, "300 w100 checks passed at max weight");
    teardown(f);
}

static void flagger_fails_checks_without_traffic(void **state)
{
    struct fixture *f = setup(0, 0);
    struct sim_outcome o = run_flagger(f);
    (void)state;

    assert_int_equal(o.phase, SIM_ROLLED_BACK);
    assert_timeline_has(f, "no values found");
    teardown(f);
}

static void argo_aborts_at_the_fourth_failed_measurement_while_weights_climb(void **state)
{
    struct fixture *f = setup(100, 0.5);
    struct sim_outcome o = run_argo(f);
    (void)state;

    assert_int_equal(o.phase, SIM_ROLLED_BACK);
    assert_int_equal(o.end_ms, 240000);
    assert_int_equal(o.max_weight, 40); /* background analysis does not hold the steps */
    /* the first measurement, taken at once, finds no canary series: an error */
    assert_timeline_has(f, "0 w10 measurement success-rate: error (no data");
    assert_timeline_has(f, "180 w30 measurement success-rate 0.");
    assert_timeline_has(f, "(failed 3, failureLimit 3)");
    assert_timeline_has(f, "240 w0 rollout aborted: success-rate failed (4) > failureLimit (3)");
    teardown(f);
}

static void argo_promotes_when_the_last_pause_ends(void **state)
{
    struct fixture *f = setup(100, 0);
    struct sim_outcome o = run_argo(f);
    (void)state;

    assert_int_equal(o.phase, SIM_PROMOTED);
    assert_int_equal(o.end_ms, 300000);
    assert_timeline_has(f, "240 w50 step 8 setWeight 50");
    assert_timeline_has(f, "300 w100 all steps done: promoted");
    teardown(f);
}

static void argo_aborts_after_too_many_errors_in_a_row(void **state)
{
    struct fixture *f = setup(0, 0);
    struct sim_outcome o = run_argo(f);
    (void)state;

    /* errors at 0, 60, 120, 180, 240: the fifth exceeds the limit of 4 */
    assert_int_equal(o.phase, SIM_ROLLED_BACK);
    assert_int_equal(o.end_ms, 240000);
    assert_timeline_has(f, "consecutiveErrors (5) > consecutiveErrorLimit (4)");
    teardown(f);
}

static void oracle_rolls_back_a_bad_canary_within_seconds(void **state)
{
    struct fixture *f = setup(100, 0.5);
    struct sim_outcome o = run_oracle(f, 4, 0.01, 0);
    (void)state;

    /* About 5 canary errors a second, each adding ln 4 + ln(100 / 130)
     * = 1.12: past ln 100 = 4.6 at the look at 1 s or the next. */
    assert_int_equal(o.phase, SIM_ROLLED_BACK);
    assert_true(o.end_ms == 1000 || o.end_ms == 2000);
    assert_int_equal(o.max_weight, 10);
    assert_timeline_has(f, "0 w10 weight 10");
    assert_timeline_has(f, " w0 log likelihood ratio");
    assert_timeline_has(f, ">= 4.61: rolled back");
    teardown(f);
}

static void oracle_holds_each_analysis_step_then_promotes(void **state)
{
    struct fixture *f = setup(100, 0);
    struct sim_outcome o = run_oracle(f, 4, 0.01, 0);
    (void)state;

    /* No errors in either arm: no evidence either way. The one analysis
     * step holds 10 % for its 6 runs of 10 s. */
    assert_int_equal(o.phase, SIM_PROMOTED);
    assert_int_equal(o.end_ms, 60000);
    assert_timeline_has(f, "60 w100 weight 100");
    assert_timeline_has(f, "60 w100 every step held without reaching the threshold: promoted");
    teardown(f);
}

static void oracle_told_the_baseline_rate_reads_the_canary_alone(void **state)
{
    struct fixture *f = setup_rates(100, 0.01, 0.01);
    struct sim_outcome o = run_oracle(f, 4, 0.001, 0.01);
    (void)state;

    /* Each request that passes takes ln(0.96 / 0.99) = -0.031 off: a canary
     * as good as the baseline drifts away from the threshold. */
    assert_int_equal(o.phase, SIM_PROMOTED);
    teardown(f);

    f = setup_rates(100, 0.01, 0.2);
    o = run_oracle(f, 4, 0.001, 0.01);
    assert_int_equal(o.phase, SIM_ROLLED_BACK);
    assert_true(o.end_ms <= 3000);
    teardown(f);
}

static void oracle_refuses_what_it_cannot_test(void **state)
{
    struct fixture *f = setup(100, 0);
    struct bench_oracle *o = NULL;
    roost_error err = {0};
    (void)state;

    assert_int_equal(bench_oracle_new(&f->sc.spec, 1, 0.01, 0, NULL, NULL, &o, &err), ROOST_EINVAL);
    assert_non_null(strstr(err.msg, "ratio above 1"));
    assert_int_equal(bench_oracle_new(&f->sc.spec, 4, 0, 0, NULL, NULL, &o, &err), ROOST_EINVAL);
    assert_int_equal(bench_oracle_new(&f->sc.spec, 4, 1, 0, NULL, NULL, &o, &err), ROOST_EINVAL);
    assert_int_equal(bench_oracle_new(&f->sc.spec, 4, 0.01, 0.3, NULL, NULL, &o, &err), ROOST_EINVAL);
    assert_non_null(strstr(err.msg, "below 1"));
    assert_null(o);
    teardown(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(flagger_rolls_back_one_interval_after_the_fifth_failed_check),
        cmocka_unit_test(flagger_promotes_after_passing_at_max_weight),
        cmocka_unit_test(flagger_fails_checks_without_traffic),
        cmocka_unit_test(argo_aborts_at_the_fourth_failed_measurement_while_weights_climb),
        cmocka_unit_test(argo_promotes_when_the_last_pause_ends),
        cmocka_unit_test(argo_aborts_after_too_many_errors_in_a_row),
        cmocka_unit_test(oracle_rolls_back_a_bad_canary_within_seconds),
        cmocka_unit_test(oracle_holds_each_analysis_step_then_promotes),
        cmocka_unit_test(oracle_told_the_baseline_rate_reads_the_canary_alone),
        cmocka_unit_test(oracle_refuses_what_it_cannot_test),
    };
    return roost_run_tests("bench_reference_policies", tests);
}
