/* Releases through the C SDK against a real roostd: what a service sees of
 * rollouts, probes and experiments, and what roostd gets back from it.
 *
 *  - A rollout applied and started with roostctl reaches the client as a
 *    change naming the rollout (not a flag); the client routes its share of
 *    keys to the canary; the request helpers' outcomes are what
 *    `roostctl metrics rollout` shows under baseline and canary; an abort
 *    sends everyone back to the baseline.
 *  - Probe states roostd measures reach roost_probe_status.
 *  - An experiment started with roostctl: evaluations of its flag log one
 *    exposure per unit, roost_track credits each unit's arm, and
 *    `roostctl experiment results` counts both per arm; a draft logs
 *    nothing and a stopped experiment ignores outcomes.
 */
#include <cjson/cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sdk_support.h"
#include "testmain.h"

#define ROLLOUT "checkout-v2"
#define EXP "green-button"
#define FLAG "checkout-button"

static roost_client *client_for(struct roostd_proc *p, struct sdk_events *rec,
                                uint32_t flush_interval_ms)
{
    roost_client_options o;
    roost_client *c = NULL;
    roost_error err;

    sdk_test_options(&o, p, rec);
    if (flush_interval_ms)
        o.flush_interval_ms = flush_interval_ms;
    if (roost_client_new(&o, &c, &err) != ROOST_OK || roost_client_start(c, &err) != ROOST_OK) {
        fprintf(stderr, "client: %s\n", err.msg);
        fail();
    }
    assert_int_equal(roost_client_wait_ready(c, 5000), ROOST_OK);
    return c;
}

/* roostctl --json ARGS..., parsed; NULL (and the output on stderr) when it
 * fails. */
static cJSON *roostctl_json(struct roostd_proc *p, const char *const *args)
{
    static char out[1 << 20], err[4096];
    const char *argv[16] = {"--json"};
    cJSON *j;
    int n = 1, rc;

    for (; args[n - 1] && n < 15; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    rc = roostctl_run(p, out, sizeof out, err, sizeof err, argv);
    if (rc != 0 || !(j = cJSON_Parse(out))) {
        fprintf(stderr, "roostctl %s %s failed (%d): %s%s\n", args[0], args[1] ? args[1] : "", rc,
                err, out);
        return NULL;
    }
    return j;
}

static bool roostctl_ok(struct roostd_proc *p, const char *const *args)
{
    char out[8192], err[4096];
    int rc = roostctl_run(p, out, sizeof out, err, sizeof err, args);

    if (rc != 0)
        fprintf(stderr, "roostctl %s %s failed (%d): %s\n", args[0], args[1], rc, err);
    return rc == 0;
}

/* ---- rollouts and probes ------------------------------------------------ */

/* One document: a flag, a rollout that holds at 20 % until promoted, and
 * two probes (roostd's own port: up; a closed port: down after one
 * failure). */
static void apply_rollout_doc(struct roostd_proc *p)
{
    char doc[2048];

    snprintf(doc, sizeof doc,
             "{\"metadata\": {\"flagSetId\": \"shop\"},"
             " \"flags\": {\"new-checkout\": {\"state\": \"ENABLED\", \"variants\": {\"on\": true,"
             " \"off\": false}, \"defaultVariant\": \"off\"}},"
             " \"rollouts\": {\"" ROLLOUT "\": {\"service\": \"checkout\","
             " \"baseline\": \"v1.4.2\", \"canary\": \"v1.5.0\","
             " \"steps\": [{\"setWeight\": 20}, {\"pause\": {}}, {\"setWeight\": 100}]}},"
             " \"probes\": {\"self\": {\"type\": \"tcp\", \"target\": \"%s\","
             " \"interval\": \"1s\"},"
             " \"nowhere\": {\"type\": \"tcp\", \"target\": \"127.0.0.1:1\", \"interval\": \"1s\","
             " \"timeout\": \"500ms\", \"failureThreshold\": 1}}}",
             p->addr);
    assert_true(sdk_apply_document(p, doc) > 0);
}

/* Waits until the client holds the rollout in `phase` (any phase: -1)
 * at `weight_bp`. */
static bool wait_rollout(roost_client *c, int phase, uint32_t weight_bp, double timeout_s,
                         roost_rollout_info *info)
{
    double deadline = harness_now() + timeout_s;

    while (harness_now() < deadline) {
        if (roost_rollout_status(c, ROLLOUT, info) == ROOST_OK &&
            (phase < 0 || (int)info->phase == phase) && info->canary_weight_bp == weight_bp)
            return true;
        sdk_sleep_ms(20);
    }
    fprintf(stderr, "rollout: %s at %u bp\n", roost_rollout_phase_name(info->phase),
            info->canary_weight_bp);
    return false;
}

/* The request count per arm ("baseline", "canary") roostd stored for the
 * rollout's "requests" metric, and its successes. */
static void stored_requests(struct roostd_proc *p, uint64_t count[2], uint64_t successes[2])
{
    const char *args[] = {"metrics", "rollout", ROLLOUT, "--metric", "requests", "--from", "-10m",
                          NULL};
    cJSON *j = roostctl_json(p, args), *series, *s;

    count[0] = count[1] = successes[0] = successes[1] = 0;
    assert_non_null(j);
    series = cJSON_GetObjectItem(j, "series");
    cJSON_ArrayForEach(s, series)
    {
        const char *arm = cJSON_GetStringValue(cJSON_GetObjectItem(s, "arm"));
        int a = strcmp(arm, "canary") == 0;
        cJSON *pt;
        assert_true(a || strcmp(arm, "baseline") == 0);
        cJSON_ArrayForEach(pt, cJSON_GetObjectItem(s, "points"))
        {
            count[a] += (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(pt, "count"));
            successes[a] += (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(pt, "successes"));
        }
    }
    cJSON_Delete(j);
}

static void started_rollout_routes_its_weight_and_reports_requests_per_arm(void **state)
{
    struct roostd_proc p = {0};
    struct sdk_events rec;
    roost_client *c;
    roost_rollout_info info;
    roost_route_details d;
    roost_request req;
    roost_error err;
    roost_ctx_attr attr;
    roost_ctx ctx;
    char key[32];
    uint64_t sent[2] = {0, 0}, ok[2] = {0, 0}, count[2], successes[2];
    size_t from;
    int canary = 0, i;

    (void)state;
    sdk_events_init(&rec);
    assert_true(roostd_start(&p));
    apply_rollout_doc(&p);
    c = client_for(&p, &rec, 0);

    /* Applied, not started: pending at weight 0, everyone on the baseline. */
    assert_int_equal(roost_rollout_status(c, ROLLOUT, &info), ROOST_OK);
    assert_int_equal(info.phase, ROOST_ROLLOUT_PENDING);
    assert_int_equal(info.canary_weight_bp, 0);
    assert_string_equal(info.baseline, "v1.4.2");
    assert_string_equal(info.canary, "v1.5.0");
    assert_string_equal(info.service, "checkout");
    assert_int_equal(roost_route(c, ROLLOUT, NULL, &d), ROOST_ARM_BASELINE);
    assert_string_equal(d.version, "v1.4.2");

    /* Started: the change names the rollout, and no flag. */
    from = sdk_events_count(&rec);
    {
        const char *args[] = {"rollout", "start", ROLLOUT, NULL};
        assert_true(roostctl_ok(&p, args));
    }
    i = sdk_events_wait_change(&rec, "rollouts", ROLLOUT, from, 10);
    assert_true(i >= 0);
    assert_string_equal(rec.ev[i].keys, "");
    /* At 20 %, then paused at the step that waits for a person. */
    assert_true(wait_rollout(c, -1, 2000, 10, &info));

    roost_ctx_init(&ctx, &attr, 1);
    for (int k = 0; k < 20000; k++) {
        snprintf(key, sizeof key, "user-%d", k);
        roost_ctx_set_targeting_key(&ctx, key);
        canary += roost_route(c, ROLLOUT, &ctx, NULL) == ROOST_ARM_CANARY;
    }
    fprintf(stderr, "20000 keys at 20 %%: %.2f %% on the canary\n", canary / 200.0);
    assert_true(canary > 3700 && canary < 4300);

    /* Requests through the helpers: one outcome each, for its arm. */
    for (int k = 0; k < 1000; k++) {
        bool success = k % 20 != 0;
        snprintf(key, sizeof key, "user-%d", k);
        roost_ctx_set_targeting_key(&ctx, key);
        roost_arm arm = roost_request_begin(c, ROLLOUT, &ctx, &req, &d);
        assert_string_equal(d.version, arm == ROOST_ARM_CANARY ? "v1.5.0" : "v1.4.2");
        assert_int_equal(roost_request_end(&req, success), ROOST_OK);
        sent[arm]++;
        ok[arm] += success;
    }
    assert_int_equal(roost_client_flush(c, 10000, &err), ROOST_OK);
    stored_requests(&p, count, successes);
    fprintf(stderr, "requests stored: baseline %llu (%llu ok), canary %llu (%llu ok)\n",
            (unsigned long long)count[0], (unsigned long long)successes[0],
            (unsigned long long)count[1], (unsigned long long)successes[1]);
    assert_int_equal(count[0], sent[0]);
    assert_int_equal(count[1], sent[1]);
    assert_int_equal(successes[0], ok[0]);
    assert_int_equal(successes[1], ok[1]);

    /* Aborted: weight 0, everyone back on the baseline. */
    {
        const char *args[] = {"rollout", "abort", ROLLOUT, "--reason", "test", NULL};
        assert_true(roostctl_ok(&p, args));
    }
    assert_true(wait_rollout(c, ROOST_ROLLOUT_ROLLED_BACK, 0, 10, &info));
    for (int k = 0; k < 2000; k++) {
        snprintf(key, sizeof key, "user-%d", k);
        roost_ctx_set_targeting_key(&ctx, key);
        assert_int_equal(roost_route(c, ROLLOUT, &ctx, NULL), ROOST_ARM_BASELINE);
    }
    assert_int_equal(roost_client_close(c, NULL), ROOST_OK);
    assert_int_equal(roostd_stop(&p, SIGTERM), 0);
    sdk_events_destroy(&rec);
}

static bool wait_probe(roost_client *c, const char *name, roost_probe_state state,
                       double timeout_s, roost_probe_info *out)
{
    double deadline = harness_now() + timeout_s;

    while (harness_now() < deadline) {
        if (roost_probe_status(c, name, out) == ROOST_OK && out->state == state)
            return true;
        sdk_sleep_ms(50);
    }
    return false;
}

static void probe_states_reach_roost_probe_status(void **state)
{
    struct roostd_proc p = {0};
    struct sdk_events rec;
    roost_probe_info info;
    roost_client *c;

    (void)state;
    sdk_events_init(&rec);
    assert_true(roostd_start(&p));
    c = client_for(&p, &rec, 0);
    assert_int_equal(roost_probe_status(c, "self", &info), ROOST_ENOTFOUND);
    apply_rollout_doc(&p);

    assert_true(wait_probe(c, "self", ROOST_PROBE_UP, 15, &info));
    assert_int_equal(info.circuit, ROOST_CIRCUIT_CLOSED);
    assert_int_equal(info.consecutive_failures, 0);
    assert_true(info.since_unix_ms > 0);
    assert_true(wait_probe(c, "nowhere", ROOST_PROBE_DOWN, 15, &info));
    fprintf(stderr, "nowhere: %s, circuit %s, %u failure(s): %s\n",
            roost_probe_state_name(info.state), roost_probe_circuit_name(info.circuit),
            info.consecutive_failures, info.detail);
    assert_int_equal(info.circuit, ROOST_CIRCUIT_OPEN);
    assert_true(info.consecutive_failures >= 1);
    assert_true(info.detail[0] != '\0');
    /* The change that carried it named the probe. */
    assert_true(sdk_events_wait_change(&rec, "probes", "nowhere", 0, 1) >= 0);
    assert_int_equal(roost_client_close(c, NULL), ROOST_OK);
    assert_int_equal(roostd_stop(&p, SIGTERM), 0);
    sdk_events_destroy(&rec);
}

/* ---- experiments -------------------------------------------------------- */

static const char experiment_doc[] =
    "{\"metadata\": {\"flagSetId\": \"shop\"},"
    " \"flags\": {\"" FLAG "\": {\"state\": \"ENABLED\", \"variants\": {\"control\": \"blue\","
    " \"green\": \"green\"}, \"defaultVariant\": \"control\"}},"
    " \"experiments\": {\"" EXP "\": {\"hypothesis\": \"A green button converts better.\","
    " \"flag\": \"" FLAG "\", \"control\": \"control\","
    " \"metrics\": {\"primary\": {\"name\": \"conversion\", \"metric\": \"checkout.converted\","
    " \"type\": \"binomial\", \"direction\": \"increase\", \"mde\": 0.05,"
    " \"mdeType\": \"relative\"}}}}}";

static bool wait_experiment(roost_client *c, roost_experiment_phase phase, double timeout_s)
{
    double deadline = harness_now() + timeout_s;
    roost_experiment_info info;

    while (harness_now() < deadline) {
        if (roost_experiment_status(c, EXP, &info) == ROOST_OK && info.phase == phase)
            return true;
        sdk_sleep_ms(20);
    }
    return false;
}

/* Evaluates the flag for units 0..n-1 (`rounds` times each); counts the
 * units per arm (0 control, 1 green) and outside. */
static void evaluate_units(roost_client *c, int n, int rounds, int arms[2], int *outside)
{
    roost_ctx_attr attr;
    roost_ctx ctx;
    roost_details d;
    char key[32], buf[16];

    arms[0] = arms[1] = *outside = 0;
    roost_ctx_init(&ctx, &attr, 1);
    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < n; i++) {
            snprintf(key, sizeof key, "unit-%d", i);
            roost_ctx_set_targeting_key(&ctx, key);
            roost_client_string(c, FLAG, &ctx, "none", buf, sizeof buf, &d);
            if (r)
                continue;
            if (d.reason != ROOST_REASON_TARGETING_MATCH)
                (*outside)++;
            else
                arms[strcmp(d.variant, "green") == 0]++;
        }
}

/* Waits until the wall clock is a second into the next minute. roostd's
 * experiment analysis (server/experiments.c) reads outcome rows from the
 * start's second on, and a minute row counts only when its minute starts at
 * or after that: outcomes of the minute the experiment started in are not
 * in its results. */
static void wait_for_next_minute(void)
{
    time_t now = time(NULL);
    int wait = 61 - (int)(now % 60);

    fprintf(stderr, "waiting %d s for the next minute\n", wait);
    sdk_sleep_ms(wait * 1000);
}

static void experiment_exposures_and_tracked_outcomes_reach_the_results(void **state)
{
    struct roostd_proc p = {0};
    struct sdk_events rec;
    roost_client_stats st;
    roost_client *c;
    roost_error err;
    roost_ctx_attr attr;
    roost_ctx ctx;
    char key[32];
    int arms[2], outside;
    uint64_t conversions[2] = {0, 0}, tracked[2] = {0, 0};
    cJSON *res, *a;

    (void)state;
    sdk_events_init(&rec);
    assert_true(roostd_start(&p));
    assert_true(sdk_apply_document(&p, experiment_doc) > 0);
    /* One reporting interval per minute: flushes cut the intervals here. */
    c = client_for(&p, &rec, 60000);

    /* A draft splits nothing into the experiment's data. */
    assert_true(wait_experiment(c, ROOST_EXPERIMENT_DRAFT, 5));
    evaluate_units(c, 200, 1, arms, &outside);
    roost_client_get_stats(c, &st);
    assert_int_equal(st.exposures, 0);
    roost_ctx_init(&ctx, &attr, 1);
    roost_ctx_set_targeting_key(&ctx, "unit-1");
    assert_int_equal(roost_track(c, EXP, &ctx, "checkout.converted", 1, true), ROOST_ECONFLICT);

    {
        const char *args[] = {"experiment", "start", EXP, NULL};
        size_t from = sdk_events_count(&rec);
        assert_true(roostctl_ok(&p, args));
        assert_true(sdk_events_wait_change(&rec, "experiments", EXP, from, 10) >= 0);
    }
    assert_true(wait_experiment(c, ROOST_EXPERIMENT_RUNNING, 5));
    wait_for_next_minute();
    assert_int_equal(roost_client_flush(c, 10000, &err), ROOST_OK); /* a fresh interval */

    /* 1000 units, each evaluated three times: 1000 exposures. */
    evaluate_units(c, 1000, 3, arms, &outside);
    fprintf(stderr, "1000 units: control %d, green %d, outside %d\n", arms[0], arms[1], outside);
    assert_int_equal(outside, 0); /* allocation 100 % */
    roost_client_get_stats(c, &st);
    assert_int_equal(st.exposures, 1000);
    /* Every unit converts or not once; a quarter do. */
    for (int i = 0; i < 1000; i++) {
        roost_details d;
        char buf[16];
        bool converted = i % 4 == 0;
        int arm;
        snprintf(key, sizeof key, "unit-%d", i);
        roost_ctx_set_targeting_key(&ctx, key);
        roost_client_string(c, FLAG, &ctx, "none", buf, sizeof buf, &d);
        arm = strcmp(d.variant, "green") == 0;
        assert_int_equal(roost_track(c, EXP, &ctx, "checkout.converted", converted, converted),
                         ROOST_OK);
        tracked[arm]++;
        conversions[arm] += converted;
    }
    assert_int_equal(roost_client_flush(c, 10000, &err), ROOST_OK);

    {
        const char *args[] = {"experiment", "results", EXP, NULL};
        res = roostctl_json(&p, args);
    }
    assert_non_null(res);
    cJSON_ArrayForEach(a, cJSON_GetObjectItem(res, "arms"))
    {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(a, "name"));
        double exposures = cJSON_GetNumberValue(cJSON_GetObjectItem(a, "exposures"));
        fprintf(stderr, "results: %s exposures %.0f\n", name, exposures);
        assert_true(exposures == arms[strcmp(name, "green") == 0]);
    }
    {
        cJSON *m = cJSON_GetArrayItem(cJSON_GetObjectItem(res, "metrics"), 0);
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(m, "metric")),
                            "checkout.converted");
        cJSON_ArrayForEach(a, cJSON_GetObjectItem(m, "arms"))
        {
            int arm = strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(a, "name")), "green") == 0;
            assert_true(cJSON_GetNumberValue(cJSON_GetObjectItem(a, "n")) == tracked[arm]);
            assert_true(cJSON_GetNumberValue(cJSON_GetObjectItem(a, "successes")) ==
                        conversions[arm]);
        }
    }
    cJSON_Delete(res);

    /* Stopped: outcomes are ignored, evaluations log no exposures. */
    {
        const char *args[] = {"experiment", "stop", EXP, "--reason", "test", NULL};
        assert_true(roostctl_ok(&p, args));
    }
    assert_true(wait_experiment(c, ROOST_EXPERIMENT_STOPPED, 10));
    assert_int_equal(roost_track(c, EXP, &ctx, "checkout.converted", 1, true), ROOST_ECONFLICT);
    assert_int_equal(roost_client_flush(c, 10000, &err), ROOST_OK);
    evaluate_units(c, 1000, 1, arms, &outside);
    roost_client_get_stats(c, &st);
    assert_int_equal(st.exposures, 1000);

    assert_int_equal(roost_client_close(c, NULL), ROOST_OK);
    assert_int_equal(roostd_stop(&p, SIGTERM), 0);
    sdk_events_destroy(&rec);
}

/* Read by ThreadSanitizer at start-up (see sdk_support.h). */
const char *__tsan_default_suppressions(void);
const char *__tsan_default_suppressions(void)
{
    return SDK_TSAN_SUPPRESSIONS;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(started_rollout_routes_its_weight_and_reports_requests_per_arm),
        cmocka_unit_test(probe_states_reach_roost_probe_status),
        cmocka_unit_test(experiment_exposures_and_tracked_outcomes_reach_the_results),
    };

    harness_init(argc, argv);
    sdk_tsan_children();
    return roost_run_tests("sdk_release", tests);
}
