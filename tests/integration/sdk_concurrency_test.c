/* The C SDK under concurrency: many threads evaluating flags and recording
 * outcomes while configuration changes stream in from a real roostd. Meant
 * to run under ThreadSanitizer (bazel test --config=tsan, tag "tsan") and
 * AddressSanitizer as well as plainly; what it checks holds in all three:
 *
 *  - every evaluation sees one consistent configuration (a value and its
 *    variant always belong together; the revision never goes backwards on
 *    one thread),
 *  - snapshots swapped under readers are never read after being freed
 *    (ASan) and never raced on (TSan),
 *  - every outcome recorded by any thread is stored by roostd exactly once,
 *  - routing stays sticky for every key while snapshots swap under it, and
 *    request outcomes and exposures logged from many threads (series
 *    resolved lazily into snapshots being replaced, the exposure set
 *    turning over every interval) all reach roostd.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sdk_support.h"
#include "testmain.h"

#define THREADS 8
#define CHANGES 40

struct worker {
    roost_client *c;
    atomic_bool *stop;
    int index;
    uint64_t evaluations;
    uint64_t observed;
    uint64_t successes;
    double sum;
    int inconsistencies;
    int regressions;
};

static void *evaluate_and_observe(void *arg)
{
    struct worker *w = arg;
    roost_series *s;
    roost_context *ctx;
    uint64_t last_rev = 0;
    char user[32], banner[64];

    if (roost_series_get(w->c, ROOST_SCOPE_EXPERIMENT, "banner-test", "any", "latency_ms", &s) !=
            ROOST_OK ||
        roost_context_new(4, 0, &ctx) != ROOST_OK)
        return NULL;
    for (uint64_t i = 0; !atomic_load(w->stop); i++) {
        roost_details d;
        bool on;
        size_t len;
        double v = (double)(i % 97) + 0.5;

        snprintf(user, sizeof user, "user-%d-%llu", w->index, (unsigned long long)(i % 1000));
        roost_context_clear(ctx);
        roost_context_set_targeting_key(ctx, user);
        roost_context_set_number(ctx, "age", (double)(i % 90));

        on = roost_client_bool(w->c, "new-checkout", roost_context_ctx(ctx), false, &d);
        if (d.error != ROOST_EVAL_OK || strcmp(d.variant, on ? "on" : "off") != 0)
            w->inconsistencies++;
        if (d.revision < last_rev)
            w->regressions++;
        last_rev = d.revision;

        len = roost_client_string(w->c, "banner", roost_context_ctx(ctx), "none", banner,
                                  sizeof banner, &d);
        if (d.error != ROOST_EVAL_OK || len != strlen(banner) ||
            strcmp(banner, strcmp(d.variant, "blue") == 0 ? "Blue banner" : "Green banner") != 0)
            w->inconsistencies++;
        w->evaluations += 2;

        /* Half through a resolved series, half by name. */
        if (i % 2 == 0) {
            if (roost_series_observe(s, v, on) == ROOST_OK) {
                w->observed++;
                w->successes += on;
                w->sum += v;
            }
        } else if (roost_observe(w->c, ROOST_SCOPE_EXPERIMENT, "banner-test", "any", "latency_ms",
                                 v, on) == ROOST_OK) {
            w->observed++;
            w->successes += on;
            w->sum += v;
        }
    }
    roost_context_free(ctx);
    return NULL;
}

static void threads_evaluate_and_observe_while_changes_stream(void **state)
{
    struct roostd_proc p = {0};
    struct worker w[THREADS];
    pthread_t th[THREADS];
    atomic_bool stop = false;
    roost_client_options o;
    roost_client *c;
    roost_error err;
    uint64_t rev = 0, evaluations = 0, observed = 0, successes = 0;
    double sum = 0;
    struct sdk_stored s;

    (void)state;
    assert_true(roostd_start(&p));
    assert_int_equal(sdk_apply_flags(&p, "off", "blue"), 1);
    sdk_test_options(&o, &p, NULL);
    o.flush_interval_ms = 100; /* cuts race with recorders often */
    assert_int_equal(roost_client_new(&o, &c, &err), ROOST_OK);
    assert_int_equal(roost_client_start(c, &err), ROOST_OK);
    assert_int_equal(roost_client_wait_ready(c, 2000), ROOST_OK);

    for (int i = 0; i < THREADS; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].c = c;
        w[i].stop = &stop;
        w[i].index = i;
        assert_int_equal(pthread_create(&th[i], NULL, evaluate_and_observe, &w[i]), 0);
    }
    for (int i = 0; i < CHANGES; i++) {
        rev = sdk_apply_flags(&p, i % 2 ? "off" : "on", i % 3 ? "green" : "blue");
        assert_true(rev > 0);
        sdk_sleep_ms(20);
    }
    for (double deadline = harness_now() + 10;
         roost_client_revision(c) < rev && harness_now() < deadline;)
        sdk_sleep_ms(10);
    assert_int_equal(roost_client_revision(c), rev);
    sdk_sleep_ms(200);
    atomic_store(&stop, true);
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].inconsistencies, 0);
        assert_int_equal(w[i].regressions, 0);
        evaluations += w[i].evaluations;
        observed += w[i].observed;
        successes += w[i].successes;
        sum += w[i].sum;
    }
    fprintf(stderr, "%d threads: %llu evaluations, %llu outcomes over %llu revisions\n", THREADS,
            (unsigned long long)evaluations, (unsigned long long)observed,
            (unsigned long long)rev);
    assert_true(observed > 0);

    assert_int_equal(roost_client_flush(c, 20000, &err), ROOST_OK);
    assert_int_equal(roost_client_close(c, &err), ROOST_OK);
    assert_int_equal(roostd_stop(&p, SIGTERM), 0);
    assert_true(
        sdk_stored_series(&p, ROOST_SCOPE_EXPERIMENT, "banner-test", "any", "latency_ms", &s));
    assert_int_equal(s.count, observed);
    assert_int_equal(s.successes, successes);
    assert_int_equal(s.sketch_count, observed);
    /* Sums of the same values added in another order: equal to rounding. */
    assert_true(s.sum > sum * (1 - 1e-9) && s.sum < sum * (1 + 1e-9));
}

/* ---- routing, request helpers and exposures ------------------------------ */

#define ROUTE_KEYS 500

/* A rollout and an experiment with its flag, in their own flag set: the
 * changes that follow (sdk_apply_flags, the default set) swap snapshots
 * without touching them. */
static const char release_doc[] =
    "{\"metadata\": {\"flagSetId\": \"release\"},"
    " \"flags\": {\"checkout-button\": {\"state\": \"ENABLED\", \"variants\": {\"control\": "
    "\"blue\", \"green\": \"green\"}, \"defaultVariant\": \"control\"}},"
    " \"rollouts\": {\"checkout-v2\": {\"service\": \"checkout\", \"baseline\": \"v1\","
    " \"canary\": \"v2\", \"steps\": [{\"setWeight\": 30}, {\"pause\": {}},"
    " {\"setWeight\": 100}]}},"
    " \"experiments\": {\"green-button\": {\"hypothesis\": \"Green converts.\","
    " \"flag\": \"checkout-button\", \"control\": \"control\", \"metrics\": "
    "{\"primary\": {\"name\": \"conversion\", \"type\": \"binomial\", "
    "\"direction\": \"increase\", \"mde\": 0.05}}}}}";

struct router {
    roost_client *c;
    atomic_bool *stop;
    int index;
    roost_arm arms[ROUTE_KEYS]; /* the arm each key got first (when seen) */
    bool seen[ROUTE_KEYS];
    int flips;
    uint64_t requests[2];
};

static void *route_and_request(void *arg)
{
    struct router *w = arg;
    roost_ctx_attr attr;
    roost_ctx ctx;
    roost_request req;
    char key[32], buf[16];

    roost_ctx_init(&ctx, &attr, 1);
    for (uint64_t i = 0; !atomic_load(w->stop); i++) {
        int k = (int)((i * 7 + (uint64_t)w->index * 131) % ROUTE_KEYS);
        roost_arm arm;

        snprintf(key, sizeof key, "user-%d", k);
        roost_ctx_set_targeting_key(&ctx, key);
        arm = roost_request_begin(w->c, "checkout-v2", &ctx, &req, NULL);
        /* The experiment's flag: logs exposures from every thread. */
        roost_client_string(w->c, "checkout-button", &ctx, "none", buf, sizeof buf, NULL);
        if (roost_request_end(&req, i % 10 != 0) == ROOST_OK)
            w->requests[arm]++;
        if (!w->seen[k]) {
            w->seen[k] = true;
            w->arms[k] = arm;
        } else if (w->arms[k] != arm) {
            w->flips++;
        }
    }
    return NULL;
}

static bool wait_weight(roost_client *c, uint32_t weight_bp, double timeout_s)
{
    double deadline = harness_now() + timeout_s;
    roost_rollout_info info;

    while (harness_now() < deadline) {
        if (roost_rollout_status(c, "checkout-v2", &info) == ROOST_OK &&
            info.canary_weight_bp == weight_bp)
            return true;
        sdk_sleep_ms(10);
    }
    return false;
}

static void threads_route_request_and_log_exposures_while_snapshots_swap(void **state)
{
    struct roostd_proc p = {0};
    struct router w[THREADS];
    pthread_t th[THREADS];
    atomic_bool stop = false;
    roost_client_options o;
    roost_client_stats st;
    roost_client *c;
    roost_error err;
    char out[4096];
    uint64_t rev = 0, requests[2] = {0, 0}, exposures = 0;
    struct sdk_stored s;

    (void)state;
    assert_true(roostd_start(&p));
    assert_int_equal(sdk_apply_flags(&p, "off", "blue"), 1);
    assert_true(sdk_apply_document(&p, release_doc) > 0);
    {
        const char *start_rollout[] = {"rollout", "start", "checkout-v2", NULL};
        const char *start_experiment[] = {"experiment", "start", "green-button", NULL};
        assert_int_equal(roostctl_run(&p, out, sizeof out, NULL, 0, start_rollout), 0);
        assert_int_equal(roostctl_run(&p, out, sizeof out, NULL, 0, start_experiment), 0);
    }
    sdk_test_options(&o, &p, NULL);
    o.flush_interval_ms = 100; /* intervals (and the exposure set) turn over often */
    assert_int_equal(roost_client_new(&o, &c, &err), ROOST_OK);
    assert_int_equal(roost_client_start(c, &err), ROOST_OK);
    assert_int_equal(roost_client_wait_ready(c, 2000), ROOST_OK);
    assert_true(wait_weight(c, 3000, 10));

    for (int i = 0; i < THREADS; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].c = c;
        w[i].stop = &stop;
        w[i].index = i;
        assert_int_equal(pthread_create(&th[i], NULL, route_and_request, &w[i]), 0);
    }
    /* Every apply swaps the snapshot under the routing threads; the
     * rollout keeps its weight, so no key may change arm. */
    for (int i = 0; i < CHANGES; i++) {
        rev = sdk_apply_flags(&p, i % 2 ? "off" : "on", i % 3 ? "green" : "blue");
        assert_true(rev > 0);
        sdk_sleep_ms(20);
    }
    for (double deadline = harness_now() + 10;
         roost_client_revision(c) < rev && harness_now() < deadline;)
        sdk_sleep_ms(10);
    assert_int_equal(roost_client_revision(c), rev);
    sdk_sleep_ms(200);
    atomic_store(&stop, true);
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].flips, 0);
        requests[0] += w[i].requests[0];
        requests[1] += w[i].requests[1];
    }
    assert_int_equal(roost_client_flush(c, 20000, &err), ROOST_OK);
    roost_client_get_stats(c, &st);
    fprintf(stderr, "%d threads: %llu baseline and %llu canary requests, %llu exposures\n",
            THREADS, (unsigned long long)requests[0], (unsigned long long)requests[1],
            (unsigned long long)st.exposures);
    assert_true(requests[1] > 0 && requests[0] > requests[1]);
    assert_true(st.exposures >= ROUTE_KEYS / 2);
    assert_int_equal(st.exposures_dropped, 0);
    assert_int_equal(roost_client_close(c, &err), ROOST_OK);
    assert_int_equal(roostd_stop(&p, SIGTERM), 0);

    assert_true(
        sdk_stored_series(&p, ROOST_SCOPE_ROLLOUT, "checkout-v2", "baseline", "requests", &s));
    assert_int_equal(s.count, requests[0]);
    assert_true(
        sdk_stored_series(&p, ROOST_SCOPE_ROLLOUT, "checkout-v2", "canary", "requests", &s));
    assert_int_equal(s.count, requests[1]);
    assert_true(sdk_stored_series(&p, ROOST_SCOPE_EXPERIMENT, "green-button", "control", "exposure",
                                  &s));
    exposures = s.count;
    assert_true(
        sdk_stored_series(&p, ROOST_SCOPE_EXPERIMENT, "green-button", "green", "exposure", &s));
    exposures += s.count;
    assert_int_equal(exposures, st.exposures);
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
        cmocka_unit_test(threads_evaluate_and_observe_while_changes_stream),
        cmocka_unit_test(threads_route_request_and_log_exposures_while_snapshots_swap),
    };

    harness_init(argc, argv);
    sdk_tsan_children();
    return roost_run_tests("sdk_concurrency", tests);
}
