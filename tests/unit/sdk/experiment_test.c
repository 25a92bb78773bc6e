/* Experiments in the SDK, on a client that is never started: exposures
 * logged by ordinary evaluations (once per unit, arm and interval; only for
 * units in a running experiment), the bounded dedupe set and what happens
 * when it is full, roost_track's attribution, and many threads logging the
 * same units at once (tag "tsan"). */
#include <pthread.h>
#include <stdatomic.h>

#include "aggregator.h"
#include "client_internal.h"
#include "exposure.h"
#include "sdk_unit_util.h"
#include "wire.h"

#define EXP "green-button"
#define FLAG "checkout-button"

/* The rule roostd writes for allocation 50 %, weights 50/50
 * (server/experiment/split.h). */
static const char flag_def[] =
    "{\"state\": \"ENABLED\", \"variants\": {\"control\": \"blue\", \"green\": \"green\"}, "
    "\"defaultVariant\": \"control\", \"targeting\": {\"if\": [{\"and\": [{\"var\": "
    "\"targetingKey\"}, {\"==\": [{\"fractional\": [{\"cat\": [\"" EXP "/allocation/\", "
    "{\"var\": \"targetingKey\"}]}, [\"in\", 5000], [\"out\", 5000]]}, \"in\"]}]}, "
    "{\"fractional\": [{\"cat\": [\"" EXP "/arms/\", {\"var\": \"targetingKey\"}]}, "
    "[\"control\", 5000], [\"green\", 5000]]}, null]}}";

static roost_client *offline_client(uint32_t exposure_units)
{
    roost_client_options o;
    roost_client *c = NULL;

    roost_client_options_init(&o);
    o.target = "127.0.0.1:1"; /* never started */
    if (exposure_units)
        o.exposure_units = exposure_units;
    assert_int_equal(roost_client_new(&o, &c, NULL), ROOST_OK);
    return c;
}

/* Publishes the experiment's flag, an unrelated flag, and the experiment
 * in `phase`, as sync_apply would (allocating the exposure set). */
static void publish(roost_client *c, roost_experiment_phase phase, uint64_t revision)
{
    struct sdk_res_list res[SDK_RES_KINDS] = {{0}};
    struct sdk_image *imgs[2] = {json_image(FLAG, flag_def, 1), bool_image("other", "on", 1)};
    struct sdk_snapshot *s;

    unit_add_experiment(res, EXP, FLAG, phase);
    assert_int_equal(snapshot_build(imgs, 2, res, hazard_current(&c->hz), revision, &s, NULL),
                     ROOST_OK);
    if (s->nrunning)
        assert_int_equal(exposure_set_alloc(&c->exposures), ROOST_OK);
    sdk_publish(c, s);
    unit_clear_resources(res);
}

struct unit_ctx {
    roost_ctx ctx;
    roost_ctx_attr attr;
    char key[32];
};

static const roost_ctx *unit(struct unit_ctx *u, int i)
{
    snprintf(u->key, sizeof u->key, "unit-%d", i);
    roost_ctx_init(&u->ctx, &u->attr, 1);
    roost_ctx_set_targeting_key(&u->ctx, u->key);
    return &u->ctx;
}

/* Evaluates the experiment's flag for unit i; returns 0 control, 1 green,
 * -1 outside the experiment. */
static int arm_of(roost_client *c, int i, bool with_details)
{
    struct unit_ctx u;
    roost_details d;
    char buf[16];

    roost_client_string(c, FLAG, unit(&u, i), "none", buf, sizeof buf, with_details ? &d : NULL);
    if (!with_details)
        roost_client_string(c, FLAG, unit(&u, i), "none", buf, sizeof buf, &d);
    if (d.reason != ROOST_REASON_TARGETING_MATCH)
        return -1;
    return strcmp(d.variant, "green") == 0;
}

/* What the client would report for (EXPERIMENT, EXP, arm, metric), per
 * arm (0 control, 1 green): cuts the interval and takes (and acknowledges)
 * everything recorded so far. */
static void recorded(roost_client *c, const char *metric, uint64_t arms[2])
{
    struct agg_batch b;

    arms[0] = arms[1] = 0;
    agg_cut(c->agg, 1);
    while (agg_take(c->agg, 1u << 30, &b)) {
        for (size_t i = 0; i < b.n; i++) {
            struct wire_aggregate v;
            agg_batch_view(c->agg, &b, i, &v);
            if (v.kind == ROOST_SCOPE_EXPERIMENT && strcmp(v.scope, EXP) == 0 &&
                strcmp(v.metric, metric) == 0)
                arms[strcmp(v.arm, "green") == 0] += v.count;
        }
        agg_batch_acked(c->agg, &b);
    }
}

/* ---- the set ------------------------------------------------------------ */

static void exposure_set_dedupes_within_an_interval_and_again_after_it(void **state)
{
    struct exposure_set x;
    uint64_t k1 = exposure_key(7, "green", 5, "unit-1", 6);

    (void)state;
    exposure_set_init(&x, 1000);
    assert_int_equal(x.capacity, 1024);
    assert_int_equal(exposure_set_add(&x, k1), EXPOSURE_FULL); /* no tables yet */
    assert_int_equal(exposure_set_memory(&x), 0);
    assert_int_equal(exposure_set_alloc(&x), ROOST_OK);
    assert_int_equal(exposure_set_add(&x, k1), EXPOSURE_NEW);
    assert_int_equal(exposure_set_add(&x, k1), EXPOSURE_SEEN);
    /* Another arm, unit or experiment is another key. */
    assert_int_equal(exposure_set_add(&x, exposure_key(7, "control", 7, "unit-1", 6)),
                     EXPOSURE_NEW);
    assert_int_equal(exposure_set_add(&x, exposure_key(7, "green", 5, "unit-2", 6)), EXPOSURE_NEW);
    assert_int_equal(exposure_set_add(&x, exposure_key(8, "green", 5, "unit-1", 6)), EXPOSURE_NEW);
    assert_true(exposure_key(7, "ab", 2, "c", 1) != exposure_key(7, "a", 1, "bc", 2));
    /* The next interval starts empty; two rotations later, too. */
    exposure_set_rotate(&x);
    assert_int_equal(exposure_set_add(&x, k1), EXPOSURE_NEW);
    assert_int_equal(exposure_set_add(&x, k1), EXPOSURE_SEEN);
    exposure_set_rotate(&x);
    assert_int_equal(exposure_set_add(&x, k1), EXPOSURE_NEW);
    exposure_set_free(&x);
}

static void exposure_set_never_grows_past_its_bound(void **state)
{
    struct exposure_set x;
    int added = 0, full = 0;

    (void)state;
    exposure_set_init(&x, 1); /* rounded up to the minimum, 64 */
    assert_int_equal(x.capacity, EXPOSURE_UNITS_MIN);
    assert_int_equal(exposure_set_alloc(&x), ROOST_OK);
    for (int i = 0; i < 1000; i++) {
        char u[16];
        int n = snprintf(u, sizeof u, "u%d", i);
        switch (exposure_set_add(&x, exposure_key(1, "a", 1, u, (size_t)n))) {
        case EXPOSURE_NEW: added++; break;
        case EXPOSURE_FULL: full++; break;
        default: fail();
        }
    }
    fprintf(stderr, "capacity 64: %d kept, %d refused\n", added, full);
    assert_int_equal(added, 64); /* every slot used before refusing */
    assert_int_equal(full, 1000 - 64);
    assert_int_equal(exposure_set_memory(&x), 2 * 64 * sizeof(uint64_t));
    exposure_set_free(&x);
}

/* ---- exposures through evaluation --------------------------------------- */

static void evaluations_log_one_exposure_per_unit_arm_and_interval(void **state)
{
    roost_client *c = offline_client(0);
    roost_client_stats st;
    int per_arm[2] = {0, 0}, outside = 0;
    uint64_t got[2];

    (void)state;
    publish(c, ROOST_EXPERIMENT_RUNNING, 1);
    for (int round = 0; round < 5; round++) {
        for (int i = 0; i < 2000; i++) {
            int a = arm_of(c, i, round % 2);
            if (round == 0) {
                if (a < 0)
                    outside++;
                else
                    per_arm[a]++;
            }
        }
    }
    fprintf(stderr, "2000 units: %d control, %d green, %d outside\n", per_arm[0], per_arm[1],
            outside);
    assert_true(outside > 800 && outside < 1200); /* allocation 50 % */
    roost_client_get_stats(c, &st);
    assert_int_equal(st.experiments_running, 1);
    assert_int_equal(st.exposures, (uint64_t)(per_arm[0] + per_arm[1]));
    assert_int_equal(st.exposures_dropped, 0);
    /* Reported as (EXPERIMENT, green-button, variant, "exposure"). */
    recorded(c, "exposure", got);
    assert_int_equal(got[0], (uint64_t)per_arm[0]);
    assert_int_equal(got[1], (uint64_t)per_arm[1]);

    /* The next reporting interval: each unit once more. */
    exposure_set_rotate(&c->exposures);
    for (int i = 0; i < 2000; i++)
        arm_of(c, i, false);
    roost_client_get_stats(c, &st);
    assert_int_equal(st.exposures, 2 * (uint64_t)(per_arm[0] + per_arm[1]));
    roost_client_close(c, NULL);
}

static void no_exposure_outside_a_running_experiment(void **state)
{
    roost_client *c = offline_client(0);
    roost_client_stats st;
    struct unit_ctx u;
    char buf[16];

    (void)state;
    /* Draft, stopped, concluded: the flag still splits, nothing is logged. */
    publish(c, ROOST_EXPERIMENT_DRAFT, 1);
    for (int i = 0; i < 500; i++)
        arm_of(c, i, true);
    publish(c, ROOST_EXPERIMENT_STOPPED, 2);
    for (int i = 0; i < 500; i++)
        arm_of(c, i, false);
    publish(c, ROOST_EXPERIMENT_CONCLUDED, 3);
    for (int i = 0; i < 500; i++)
        arm_of(c, i, true);
    roost_client_get_stats(c, &st);
    assert_int_equal(st.exposures, 0);
    assert_int_equal(st.observations, 0);
    assert_int_equal(exposure_set_memory(&c->exposures), 0); /* never needed */

    publish(c, ROOST_EXPERIMENT_RUNNING, 4);
    /* Other flags; the experiment's flag evaluated as another type (the
     * caller did not get the variant); a context without the unit. */
    for (int i = 0; i < 500; i++) {
        roost_client_bool(c, "other", unit(&u, i), false, NULL);
        roost_client_bool(c, FLAG, unit(&u, i), false, NULL);
        roost_client_string(c, FLAG, NULL, "none", buf, sizeof buf, NULL);
    }
    roost_client_get_stats(c, &st);
    assert_int_equal(st.exposures, 0);
    assert_int_equal(st.observations, 0);
    roost_client_close(c, NULL);
}

static void a_full_exposure_set_counts_the_overflow_as_dropped(void **state)
{
    roost_client *c = offline_client(64);
    roost_client_stats st;
    int in = 0;

    (void)state;
    publish(c, ROOST_EXPERIMENT_RUNNING, 1);
    for (int i = 0; i < 2000; i++)
        in += arm_of(c, i, true) >= 0;
    roost_client_get_stats(c, &st);
    fprintf(stderr, "%d units in, set of 64: %llu logged, %llu dropped\n", in,
            (unsigned long long)st.exposures, (unsigned long long)st.exposures_dropped);
    assert_int_equal(st.exposures, 64);
    assert_int_equal(st.exposures + st.exposures_dropped, (uint64_t)in);
    /* Reported like every other drop: roostd stores dropped.memory_limit. */
    assert_int_equal(st.dropped_memory_limit, st.exposures_dropped);
    roost_client_close(c, NULL);
}

/* ---- roost_track -------------------------------------------------------- */

static void track_credits_the_units_arm_only_while_running(void **state)
{
    roost_client *c = offline_client(0);
    roost_experiment_info info;
    struct unit_ctx u;
    uint64_t want[2] = {0, 0}, got[2];

    (void)state;
    assert_int_equal(roost_track(c, EXP, unit(&u, 1), "converted", 1, true), ROOST_ENOTFOUND);
    assert_int_equal(roost_experiment_status(c, EXP, &info), ROOST_EUNAVAIL);
    publish(c, ROOST_EXPERIMENT_RUNNING, 1);
    assert_int_equal(roost_experiment_status(c, EXP, &info), ROOST_OK);
    assert_int_equal(info.phase, ROOST_EXPERIMENT_RUNNING);
    assert_string_equal(info.flag, FLAG);
    assert_string_equal(info.unit, "targetingKey");
    assert_string_equal(roost_experiment_phase_name(info.phase), "running");

    for (int i = 0; i < 400; i++) {
        int a = arm_of(c, i, true);
        if (a < 0) {
            /* Outside the experiment: no arm to credit. */
            assert_int_equal(roost_track(c, EXP, unit(&u, i), "converted", 1, true),
                             ROOST_ECONFLICT);
            continue;
        }
        assert_int_equal(roost_track(c, EXP, unit(&u, i), "converted", 1, i % 3 == 0), ROOST_OK);
        want[a]++;
    }
    recorded(c, "converted", got);
    assert_int_equal(got[0], want[0]);
    assert_int_equal(got[1], want[1]);
    assert_true(want[0] > 50 && want[1] > 50);

    assert_int_equal(roost_track(c, "no-such", unit(&u, 1), "converted", 1, true),
                     ROOST_ENOTFOUND);
    assert_int_equal(roost_track(c, EXP, unit(&u, 1), "converted", 0.0 / 0.0, true),
                     ROOST_EINVAL);
    assert_int_equal(roost_track(c, EXP, unit(&u, 1), NULL, 1, true), ROOST_EINVAL);
    assert_int_equal(roost_track(NULL, EXP, unit(&u, 1), "m", 1, true), ROOST_EINVAL);
    assert_int_equal(roost_experiment_status(c, "no-such", &info), ROOST_ENOTFOUND);

    /* Stopped: outcomes are ignored, the analysis is final. */
    publish(c, ROOST_EXPERIMENT_STOPPED, 2);
    for (int i = 0; i < 50; i++)
        assert_int_equal(roost_track(c, EXP, unit(&u, i), "converted", 1, true),
                         ROOST_ECONFLICT);
    roost_client_close(c, NULL);
}

/* ---- many threads ------------------------------------------------------- */

#define THREADS 4
#define UNITS 3000

struct worker {
    roost_client *c;
    int offset;
};

static void *evaluate_all_units(void *arg)
{
    struct worker *w = arg;
    struct unit_ctx u;
    char buf[16];

    for (int round = 0; round < 3; round++)
        for (int j = 0; j < UNITS; j++) {
            int i = (j + w->offset) % UNITS;
            roost_client_string(w->c, FLAG, unit(&u, i), "none", buf, sizeof buf, NULL);
        }
    return NULL;
}

static void threads_logging_the_same_units_log_each_once(void **state)
{
    roost_client *c = offline_client(0);
    struct worker w[THREADS];
    pthread_t t[THREADS];
    roost_client_stats st;
    uint64_t in = 0;

    (void)state;
    publish(c, ROOST_EXPERIMENT_RUNNING, 1);
    for (int i = 0; i < THREADS; i++) {
        w[i].c = c;
        w[i].offset = i * 997;
        assert_int_equal(pthread_create(&t[i], NULL, evaluate_all_units, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < UNITS; i++)
        in += arm_of(c, i, true) >= 0;
    roost_client_get_stats(c, &st);
    assert_int_equal(st.exposures, in);
    assert_int_equal(st.observations, in);
    roost_client_close(c, NULL);
}

static _Atomic bool stop_rotating;

static void *rotate_loop(void *arg)
{
    roost_client *c = arg;

    while (!atomic_load(&stop_rotating)) {
        exposure_set_rotate(&c->exposures);
        sched_yield();
    }
    return NULL;
}

/* Intervals turning over while threads log: every exposure is logged at
 * most once per interval, so between one and (rotations + 1) times. */
static void interval_turnover_while_logging_is_safe(void **state)
{
    roost_client *c = offline_client(0);
    struct worker w[THREADS];
    pthread_t t[THREADS], r;
    roost_client_stats st;

    (void)state;
    publish(c, ROOST_EXPERIMENT_RUNNING, 1);
    atomic_store(&stop_rotating, false);
    assert_int_equal(pthread_create(&r, NULL, rotate_loop, c), 0);
    for (int i = 0; i < THREADS; i++) {
        w[i].c = c;
        w[i].offset = i * 31;
        assert_int_equal(pthread_create(&t[i], NULL, evaluate_all_units, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    atomic_store(&stop_rotating, true);
    pthread_join(r, NULL);
    roost_client_get_stats(c, &st);
    assert_true(st.exposures > 0);
    assert_int_equal(st.exposures_dropped, 0);
    assert_true(st.exposures <= (uint64_t)THREADS * 3 * UNITS);
    roost_client_close(c, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exposure_set_dedupes_within_an_interval_and_again_after_it),
        cmocka_unit_test(exposure_set_never_grows_past_its_bound),
        cmocka_unit_test(evaluations_log_one_exposure_per_unit_arm_and_interval),
        cmocka_unit_test(no_exposure_outside_a_running_experiment),
        cmocka_unit_test(a_full_exposure_set_counts_the_overflow_as_dropped),
        cmocka_unit_test(track_credits_the_units_arm_only_while_running),
        cmocka_unit_test(threads_logging_the_same_units_log_each_once),
        cmocka_unit_test(interval_turnover_while_logging_is_safe),
    };

    return roost_run_tests("sdk_experiment", tests);
}
