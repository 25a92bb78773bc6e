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
 *  - every outcome recorded by any thread is stored by roostd exactly once.
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
    };

    harness_init(argc, argv);
    sdk_tsan_children();
    return roost_run_tests("sdk_concurrency", tests);
}
