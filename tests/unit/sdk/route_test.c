/* The traffic splitter and the request helpers, on a client that is never
 * started: configurations are published into it directly, as the
 * background thread would. What a service observes: the canary gets its
 * weight's share of keys; a key keeps its arm across calls, snapshot swaps
 * and weight raises, and lands where the engine's `fractional` would put
 * it; calls without a key are spread at random; anything not live goes to
 * the baseline; and a routed request's outcome is recorded for its arm. */
#define _GNU_SOURCE /* mallinfo2 */
#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <time.h>

#include "client_internal.h"
#include "sdk_unit_util.h"

#define ROLLOUT "checkout-v2"

static roost_client *offline_client(void)
{
    roost_client_options o;
    roost_client *c = NULL;
    roost_error err;

    roost_client_options_init(&o);
    o.target = "127.0.0.1:1"; /* never started: nothing connects */
    assert_int_equal(roost_client_new(&o, &c, &err), ROOST_OK);
    return c;
}

/* Publishes a configuration holding the rollouts in res (and no flags). */
static void publish(roost_client *c, struct sdk_res_list *res, uint64_t revision)
{
    struct sdk_snapshot *s;

    assert_int_equal(snapshot_build(NULL, 0, res, hazard_current(&c->hz), revision, &s, NULL),
                     ROOST_OK);
    sdk_publish(c, s);
}

static void publish_one(roost_client *c, roost_rollout_phase phase, uint32_t weight_bp,
                        uint64_t revision)
{
    struct sdk_res_list res[SDK_RES_KINDS] = {{0}};

    unit_add_rollout(res, ROLLOUT, phase, weight_bp);
    publish(c, res, revision);
    unit_clear_resources(res);
}

/* A context holding only a targeting key. */
struct key_ctx {
    roost_ctx ctx;
    roost_ctx_attr attr;
    char key[32];
};

static const roost_ctx *keyed(struct key_ctx *k, int i)
{
    snprintf(k->key, sizeof k->key, "user-%d", i);
    roost_ctx_init(&k->ctx, &k->attr, 1);
    roost_ctx_set_targeting_key(&k->ctx, k->key);
    return &k->ctx;
}

static void ten_percent_weight_sends_ten_percent_of_keys_to_the_canary(void **state)
{
    roost_client *c = offline_client();
    struct key_ctx k;
    int canary = 0;

    (void)state;
    publish_one(c, ROOST_ROLLOUT_PROGRESSING, 1000, 1);
    for (int i = 0; i < 100000; i++)
        canary += roost_route(c, ROLLOUT, keyed(&k, i), NULL) == ROOST_ARM_CANARY;
    /* Binomial standard deviation 0.095 %: 10 +- 0.5 % is over five. */
    fprintf(stderr, "canary: %.3f %% of 100000 keys at 10 %%\n", canary / 1000.0);
    assert_true(canary >= 9500 && canary <= 10500);
    roost_client_close(c, NULL);
}

/* The arm roostd's compiler + engine give a flag named like the rollout
 * whose rule is fractional [canary w, baseline 10000 - w]: routing must
 * agree key by key. */
static void routing_agrees_with_the_engines_fractional_key_by_key(void **state)
{
    static const char def[] =
        "{\"state\": \"ENABLED\", \"variants\": {\"canary\": \"canary\", \"baseline\": "
        "\"baseline\"}, \"defaultVariant\": \"baseline\", \"targeting\": {\"fractional\": "
        "[[\"canary\", 1234], [\"baseline\", 8766]]}}";
    struct sdk_image *img = json_image(ROLLOUT, def, 1);
    roost_client *c = offline_client();
    roost_ctx_attr attr;
    roost_ctx ctx;
    struct key_ctx k;
    roost_result r;

    (void)state;
    publish_one(c, ROOST_ROLLOUT_PROGRESSING, 1234, 1);
    for (int i = 0; i < 20000; i++) {
        const roost_ctx *x = keyed(&k, i);
        roost_eval_string(&img->flag, x, "", &r);
        assert_int_equal(roost_route(c, ROLLOUT, x, NULL),
                         strcmp(r.variant, "canary") == 0 ? ROOST_ARM_CANARY : ROOST_ARM_BASELINE);
    }
    /* An integral number key is hashed as its decimal text, like the
     * engine does (and like the same id given as a string). */
    roost_ctx_init(&ctx, &attr, 1);
    for (int i = 0; i < 2000; i++) {
        roost_ctx_set_number(&ctx, "targetingKey", 1000003.0 * i - 7000000.0);
        roost_eval_string(&img->flag, &ctx, "", &r);
        assert_int_equal(roost_route(c, ROLLOUT, &ctx, NULL),
                         strcmp(r.variant, "canary") == 0 ? ROOST_ARM_CANARY : ROOST_ARM_BASELINE);
    }
    sdk_image_unref(img);
    roost_client_close(c, NULL);
}

static void a_key_keeps_its_arm_across_calls_swaps_and_weight_raises(void **state)
{
    static roost_arm first[20000];
    struct sdk_res_list res[SDK_RES_KINDS] = {{0}};
    roost_client *c = offline_client();
    roost_route_details d;
    struct key_ctx k;

    (void)state;
    publish_one(c, ROOST_ROLLOUT_PROGRESSING, 2500, 1);
    for (int i = 0; i < 20000; i++) {
        first[i] = roost_route(c, ROLLOUT, keyed(&k, i), &d);
        assert_true(d.sticky);
        assert_int_equal(roost_route(c, ROLLOUT, keyed(&k, i), NULL), first[i]);
    }
    /* A new configuration with the same weight (another step, another
     * rollout beside it, paused): every key stays. */
    unit_add_rollout(res, ROLLOUT, ROOST_ROLLOUT_PAUSED, 2500);
    ((struct sdk_rollout *)res[SDK_ROLLOUTS].items)[0].step = 3;
    unit_add_rollout(res, "another", ROOST_ROLLOUT_PROGRESSING, 9000);
    publish(c, res, 2);
    unit_clear_resources(res);
    for (int i = 0; i < 20000; i++)
        assert_int_equal(roost_route(c, ROLLOUT, keyed(&k, i), NULL), first[i]);
    /* The weight goes up: the canary only gains keys. */
    publish_one(c, ROOST_ROLLOUT_PROGRESSING, 5000, 3);
    for (int i = 0; i < 20000; i++)
        if (first[i] == ROOST_ARM_CANARY)
            assert_int_equal(roost_route(c, ROLLOUT, keyed(&k, i), NULL), ROOST_ARM_CANARY);
    roost_client_close(c, NULL);
}

struct spread {
    roost_client *c;
    int canary;
    roost_arm seq[64];
};

static void *route_without_key(void *arg)
{
    struct spread *s = arg;

    for (int i = 0; i < 50000; i++) {
        roost_arm a = roost_route(s->c, ROLLOUT, NULL, NULL);
        s->canary += a == ROOST_ARM_CANARY;
        if (i < 64)
            s->seq[i] = a;
    }
    return NULL;
}

static void calls_without_a_key_are_spread_at_random_per_call(void **state)
{
    roost_client *c = offline_client();
    struct spread s[2] = {{c, 0, {0}}, {c, 0, {0}}};
    roost_ctx_attr attr;
    roost_route_details d;
    roost_ctx empty;
    pthread_t t[2];
    int same = 0;

    (void)state;
    publish_one(c, ROOST_ROLLOUT_PROGRESSING, 3000, 1);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, route_without_key, &s[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 2; i++) {
        fprintf(stderr, "thread %d: %.2f %% canary without a key at 30 %%\n", i,
                s[i].canary / 500.0);
        assert_true(s[i].canary >= 14250 && s[i].canary <= 15750); /* 30 +- 1.5 % */
    }
    /* Each thread has its own generator: not the same sequence. */
    for (int i = 0; i < 64; i++)
        same += s[0].seq[i] == s[1].seq[i];
    assert_true(same < 64);
    /* An empty targeting key, or none, is no key. */
    roost_ctx_init(&empty, &attr, 1);
    roost_ctx_set_targeting_key(&empty, "");
    roost_route(c, ROLLOUT, &empty, &d);
    assert_false(d.sticky);
    roost_route(c, ROLLOUT, NULL, &d);
    assert_false(d.sticky);
    roost_client_close(c, NULL);
}

static void anything_not_live_goes_to_the_baseline_and_full_weight_to_the_canary(void **state)
{
    roost_client *c = offline_client();
    roost_route_details d;
    struct key_ctx k;

    (void)state;
    /* No configuration yet. */
    assert_int_equal(roost_route(c, ROLLOUT, keyed(&k, 1), &d), ROOST_ARM_BASELINE);
    assert_false(d.found);
    assert_int_equal(d.revision, 0);
    assert_string_equal(d.version, "");
    publish_one(c, ROOST_ROLLOUT_PROGRESSING, 5000, 1);
    /* Unknown rollout; NULL arguments. */
    assert_int_equal(roost_route(c, "no-such-rollout", NULL, &d), ROOST_ARM_BASELINE);
    assert_false(d.found);
    assert_int_equal(roost_route(c, NULL, NULL, NULL), ROOST_ARM_BASELINE);
    assert_int_equal(roost_route(NULL, ROLLOUT, NULL, NULL), ROOST_ARM_BASELINE);
    /* Pending and rolled back: baseline whatever the weight says. */
    publish_one(c, ROOST_ROLLOUT_PENDING, 5000, 2);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(roost_route(c, ROLLOUT, keyed(&k, i), NULL), ROOST_ARM_BASELINE);
    publish_one(c, ROOST_ROLLOUT_ROLLED_BACK, 5000, 3);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(roost_route(c, ROLLOUT, i % 2 ? keyed(&k, i) : NULL, NULL),
                         ROOST_ARM_BASELINE);
    publish_one(c, ROOST_ROLLOUT_PROGRESSING, 0, 4);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(roost_route(c, ROLLOUT, i % 2 ? keyed(&k, i) : NULL, NULL),
                         ROOST_ARM_BASELINE);
    /* Promoted (10000): everyone on the canary, with its version. */
    publish_one(c, ROOST_ROLLOUT_PROMOTED, 10000, 5);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(roost_route(c, ROLLOUT, i % 2 ? keyed(&k, i) : NULL, &d),
                         ROOST_ARM_CANARY);
    assert_true(d.found);
    assert_int_equal(d.phase, ROOST_ROLLOUT_PROMOTED);
    assert_int_equal(d.canary_weight_bp, 10000);
    assert_int_equal(d.revision, 5);
    assert_string_equal(d.version, "v2");
    /* A phase this SDK does not know follows the weight. */
    publish_one(c, ROOST_ROLLOUT_UNKNOWN, 10000, 6);
    assert_int_equal(roost_route(c, ROLLOUT, NULL, NULL), ROOST_ARM_CANARY);
    roost_client_close(c, NULL);
}

static void routing_allocates_nothing(void **state)
{
    roost_client *c = offline_client();
    struct key_ctx k;
    size_t before, after;
    roost_route_details d;

    (void)state;
    publish_one(c, ROOST_ROLLOUT_PROGRESSING, 1000, 1);
    roost_route(c, ROLLOUT, keyed(&k, 0), &d); /* first call: thread index, generator */
    roost_route(c, ROLLOUT, NULL, &d);
    before = mallinfo2().uordblks;
    for (int i = 0; i < 10000; i++)
        roost_route(c, ROLLOUT, i % 2 ? keyed(&k, i) : NULL, &d);
    after = mallinfo2().uordblks;
    assert_int_equal(before, after);
    roost_client_close(c, NULL);
}

static void rollout_status_copies_what_the_client_holds(void **state)
{
    roost_client *c = offline_client();
    roost_rollout_info info;

    (void)state;
    assert_int_equal(roost_rollout_status(c, ROLLOUT, &info), ROOST_EUNAVAIL);
    publish_one(c, ROOST_ROLLOUT_PAUSED, 2500, 1);
    assert_int_equal(roost_rollout_status(c, ROLLOUT, &info), ROOST_OK);
    assert_int_equal(info.phase, ROOST_ROLLOUT_PAUSED);
    assert_int_equal(info.canary_weight_bp, 2500);
    assert_string_equal(info.service, "checkout");
    assert_string_equal(info.baseline, "v1");
    assert_string_equal(info.canary, "v2");
    assert_string_equal(roost_rollout_phase_name(info.phase), "paused");
    assert_int_equal(roost_rollout_status(c, "nope", &info), ROOST_ENOTFOUND);
    assert_int_equal(roost_rollout_status(c, NULL, &info), ROOST_EINVAL);
    roost_client_close(c, NULL);
}

/* ---- request helpers ---------------------------------------------------- */

static void sleep_ms(int ms)
{
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

static void a_request_is_recorded_for_the_arm_it_was_routed_to(void **state)
{
    roost_client *c = offline_client();
    roost_series *baseline, *canary;
    roost_client_stats st;
    roost_route_details d;
    roost_request req;
    struct key_ctx k;
    int n[2] = {0, 0};

    (void)state;
    publish_one(c, ROOST_ROLLOUT_PROGRESSING, 5000, 1);
    assert_int_equal(
        roost_series_get(c, ROOST_SCOPE_ROLLOUT, ROLLOUT, "baseline", "requests", &baseline),
        ROOST_OK);
    assert_int_equal(
        roost_series_get(c, ROOST_SCOPE_ROLLOUT, ROLLOUT, "canary", "requests", &canary),
        ROOST_OK);
    for (int i = 0; i < 200; i++) {
        roost_arm arm = roost_request_begin(c, ROLLOUT, keyed(&k, i), &req, &d);
        assert_int_equal(arm, req.arm);
        assert_int_equal(arm, d.arm);
        assert_int_equal(arm, roost_route(c, ROLLOUT, keyed(&k, i), NULL)); /* same decision */
        /* The series roostd's analysis reads: (rollout, arm, "requests"). */
        assert_ptr_equal(req.series, arm == ROOST_ARM_CANARY ? canary : baseline);
        assert_int_equal(roost_request_end(&req, i % 10 != 0), ROOST_OK);
        assert_true(req.latency_ms >= 0);
        n[arm]++;
    }
    assert_true(n[0] > 50 && n[1] > 50);
    roost_client_get_stats(c, &st);
    assert_int_equal(st.observations, 200);

    /* The latency is the time between begin and end. */
    roost_request_begin(c, ROLLOUT, NULL, &req, NULL);
    sleep_ms(5);
    assert_int_equal(roost_request_end(&req, true), ROOST_OK);
    assert_true(req.latency_ms >= 5 && req.latency_ms < 1000);
    /* Ending twice records nothing the second time. */
    assert_int_equal(roost_request_end(&req, true), ROOST_EINVAL);
    roost_client_get_stats(c, &st);
    assert_int_equal(st.observations, 201);

    /* An unknown rollout: baseline, nothing recorded, and end says why. */
    assert_int_equal(roost_request_begin(c, "no-such", NULL, &req, NULL), ROOST_ARM_BASELINE);
    assert_int_equal(roost_request_end(&req, true), ROOST_ENOTFOUND);
    assert_int_equal(roost_request_end(NULL, true), ROOST_EINVAL);
    roost_client_get_stats(c, &st);
    assert_int_equal(st.observations, 201);
    roost_client_close(c, NULL);
}

static void resolved_series_are_carried_into_the_next_configuration(void **state)
{
    roost_client *c = offline_client();
    const struct sdk_snapshot *s;
    roost_series *used;
    roost_request req;

    (void)state;
    publish_one(c, ROOST_ROLLOUT_PROGRESSING, 10000, 1);
    roost_request_begin(c, ROLLOUT, NULL, &req, NULL);
    used = req.series;
    assert_non_null(used);
    assert_int_equal(roost_request_end(&req, true), ROOST_OK);
    publish_one(c, ROOST_ROLLOUT_PROGRESSING, 10000, 2);
    s = hazard_current(&c->hz);
    assert_int_equal(s->revision, 2);
    /* Already resolved: the next request hashes no name. */
    assert_ptr_equal(atomic_load(&s->rollout_series[ROOST_ARM_CANARY]), used);
    assert_null(atomic_load(&s->rollout_series[ROOST_ARM_BASELINE])); /* none routed there */
    roost_request_begin(c, ROLLOUT, NULL, &req, NULL);
    assert_ptr_equal(req.series, used);
    roost_request_end(&req, true);
    roost_client_close(c, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ten_percent_weight_sends_ten_percent_of_keys_to_the_canary),
        cmocka_unit_test(routing_agrees_with_the_engines_fractional_key_by_key),
        cmocka_unit_test(a_key_keeps_its_arm_across_calls_swaps_and_weight_raises),
        cmocka_unit_test(calls_without_a_key_are_spread_at_random_per_call),
        cmocka_unit_test(anything_not_live_goes_to_the_baseline_and_full_weight_to_the_canary),
        cmocka_unit_test(routing_allocates_nothing),
        cmocka_unit_test(rollout_status_copies_what_the_client_holds),
        cmocka_unit_test(a_request_is_recorded_for_the_arm_it_was_routed_to),
        cmocka_unit_test(resolved_series_are_carried_into_the_next_configuration),
    };

    return roost_run_tests("sdk_route", tests);
}
