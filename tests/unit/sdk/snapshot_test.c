/* Snapshots and their swap: building, applying changes (sharing unchanged
 * images), the keys a change reports, refused images, and hazard-slot
 * reclamation under concurrent readers. Run under ASan (a reader touching a
 * freed snapshot crashes) and TSan (tag "tsan"). */
#define _GNU_SOURCE /* pthread_tryjoin_np */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "hazard.h"
#include "sdk_unit_util.h"

static void snapshot_finds_every_loaded_flag(void **state)
{
    struct sdk_image *imgs[3] = {bool_image("b", "on", 1), bool_image("a", "off", 2),
                                 bool_image("c", "on", 3)};
    struct sdk_snapshot *s;
    roost_error err;

    (void)state;
    assert_int_equal(snapshot_build(imgs, 3, NULL, NULL, 3, &s, &err), ROOST_OK);
    assert_int_equal(s->count, 3);
    assert_int_equal(s->nloaded, 3);
    assert_string_equal(s->images[0]->key, "a"); /* sorted */
    assert_true(roost_eval_bool(roost_flagset_find(&s->set, "b", 1), NULL, false, NULL));
    assert_false(roost_eval_bool(roost_flagset_find(&s->set, "a", 1), NULL, true, NULL));
    assert_null(roost_flagset_find(&s->set, "d", 1));
    assert_non_null(snapshot_find(s, "c", 1));
    assert_null(snapshot_find(s, "cc", 2));
    snapshot_free(s);
}

static void change_shares_unchanged_images_and_names_changed_keys(void **state)
{
    struct sdk_image *imgs[3] = {bool_image("x", "on", 1), bool_image("y", "on", 1),
                                 bool_image("z", "on", 1)};
    struct sdk_image *ups[2] = {bool_image("y", "off", 2), bool_image("w", "on", 2)};
    char removed[1][ROOST_MAX_KEY_LEN + 1] = {"z"};
    struct sdk_snapshot *a, *b;
    const char **keys;
    size_t n;
    roost_error err;

    (void)state;
    assert_int_equal(snapshot_build(imgs, 3, NULL, NULL, 1, &a, &err), ROOST_OK);
    assert_int_equal(snapshot_apply(a, ups, 2, removed, 1, NULL, 2, &b, &err), ROOST_OK);
    assert_int_equal(b->count, 3); /* w, x, y */
    assert_ptr_equal(snapshot_find(b, "x", 1), snapshot_find(a, "x", 1)); /* shared */
    assert_false(roost_eval_bool(roost_flagset_find(&b->set, "y", 1), NULL, true, NULL));
    assert_true(roost_eval_bool(roost_flagset_find(&a->set, "y", 1), NULL, false, NULL));
    assert_null(snapshot_find(b, "z", 1));

    assert_int_equal(snapshot_diff(a, b, &keys, &n), ROOST_OK);
    assert_int_equal(n, 3);
    assert_string_equal(keys[0], "w");
    assert_string_equal(keys[1], "y");
    assert_string_equal(keys[2], "z");
    /* The keys are copies: they outlive both snapshots. */
    snapshot_free(a);
    snapshot_free(b);
    assert_string_equal(keys[2], "z");
    free(keys);
}

static void identical_snapshot_reports_no_change(void **state)
{
    struct sdk_image *i1[1] = {bool_image("x", "on", 1)}, *i2[1] = {bool_image("x", "on", 1)};
    struct sdk_snapshot *a, *b;
    const char **keys;
    size_t n;

    (void)state;
    assert_int_equal(snapshot_build(i1, 1, NULL, NULL, 1, &a, NULL), ROOST_OK);
    assert_int_equal(snapshot_build(i2, 1, NULL, NULL, 1, &b, NULL), ROOST_OK);
    assert_int_equal(snapshot_diff(a, b, &keys, &n), ROOST_OK);
    assert_int_equal(n, 0);
    assert_null(keys);
    snapshot_free(a);
    snapshot_free(b);
}

static void refused_image_is_kept_unloaded(void **state)
{
    static const uint8_t junk[] = "RSTF not really an image";
    struct sdk_image *imgs[2];
    struct sdk_snapshot *s;
    roost_error why;

    (void)state;
    imgs[0] = sdk_image_new("broken", 6, 1, junk, sizeof junk, &why);
    assert_non_null(imgs[0]);
    assert_false(imgs[0]->loaded);
    assert_int_equal(why.code, ROOST_ECORRUPT);
    imgs[1] = bool_image("fine", "on", 1);
    assert_int_equal(snapshot_build(imgs, 2, NULL, NULL, 1, &s, NULL), ROOST_OK);
    assert_int_equal(s->count, 2);
    assert_int_equal(s->nloaded, 1);
    assert_null(roost_flagset_find(&s->set, "broken", 6));
    assert_non_null(snapshot_find(s, "broken", 6));
    snapshot_free(s);
}

static void image_for_another_key_is_refused(void **state)
{
    struct sdk_image *good = bool_image("real-key", "on", 1), *img;
    roost_error why;

    (void)state;
    img = sdk_image_new("other-key", 9, 1, good->bytes, good->len, &why);
    assert_false(img->loaded);
    assert_non_null(strstr(why.msg, "real-key"));
    sdk_image_unref(img);
    sdk_image_unref(good);
}

/* ---- rollouts, probes, experiments -------------------------------------- */

static void resource_changes_upsert_remove_and_name_what_changed(void **state)
{
    struct sdk_res_list res[SDK_RES_KINDS] = {{0}}, delta[SDK_RES_KINDS] = {{0}};
    struct sdk_image *imgs[1] = {bool_image("flag-a", "on", 1)};
    struct sdk_snapshot *a, *b;
    const struct sdk_rollout *r;
    const char **names;
    size_t n;

    (void)state;
    unit_add_rollout(res, "r1", ROOST_ROLLOUT_PROGRESSING, 1000);
    unit_add_rollout(res, "r2", ROOST_ROLLOUT_PENDING, 0);
    unit_add_probe(res, "db", ROOST_PROBE_UP, "");
    unit_add_experiment(res, "e1", "flag-a", ROOST_EXPERIMENT_DRAFT);
    assert_int_equal(snapshot_build(imgs, 1, res, NULL, 1, &a, NULL), ROOST_OK);
    assert_int_equal(a->res[SDK_ROLLOUTS].n, 2);
    assert_int_equal(a->nrunning, 0);
    assert_null(a->flag_experiment); /* nothing runs: evaluations check nothing */

    /* r1 gets a new weight, r2 goes, r3 comes; the probe goes down; the
     * experiment starts. The flag is untouched. */
    unit_add_rollout(delta, "r1", ROOST_ROLLOUT_PROGRESSING, 2500);
    unit_add_rollout(delta, "r3", ROOST_ROLLOUT_PENDING, 0);
    assert_int_equal(sdk_res_list_remove(&delta[SDK_ROLLOUTS], "r2", 2, 10), ROOST_OK);
    unit_add_probe(delta, "db", ROOST_PROBE_DOWN, "refused");
    unit_add_experiment(delta, "e1", "flag-a", ROOST_EXPERIMENT_RUNNING);
    assert_int_equal(snapshot_apply(a, NULL, 0, NULL, 0, delta, 2, &b, NULL), ROOST_OK);
    assert_int_equal(b->res[SDK_ROLLOUTS].n, 2);
    r = sdk_res_find(SDK_ROLLOUTS, &b->res[SDK_ROLLOUTS], "r1", 2);
    assert_int_equal(r->weight_bp, 2500);
    assert_null(sdk_res_find(SDK_ROLLOUTS, &b->res[SDK_ROLLOUTS], "r2", 2));
    assert_non_null(sdk_res_find(SDK_ROLLOUTS, &b->res[SDK_ROLLOUTS], "r3", 2));
    /* a is unchanged: it is immutable. */
    r = sdk_res_find(SDK_ROLLOUTS, &a->res[SDK_ROLLOUTS], "r1", 2);
    assert_int_equal(r->weight_bp, 1000);
    assert_ptr_equal(snapshot_find(b, "flag-a", 6), snapshot_find(a, "flag-a", 6));
    /* The running experiment marks its flag. */
    assert_int_equal(b->nrunning, 1);
    assert_int_equal(b->flag_experiment[roost_flagset_find(&b->set, "flag-a", 6) - b->flags], 0);

    assert_int_equal(sdk_res_diff(SDK_ROLLOUTS, &a->res[SDK_ROLLOUTS], &b->res[SDK_ROLLOUTS],
                                  &names, &n),
                     ROOST_OK);
    assert_int_equal(n, 3);
    assert_string_equal(names[0], "r1");
    assert_string_equal(names[1], "r2");
    assert_string_equal(names[2], "r3");
    free(names);
    assert_int_equal(
        sdk_res_diff(SDK_PROBES, &a->res[SDK_PROBES], &b->res[SDK_PROBES], &names, &n), ROOST_OK);
    assert_int_equal(n, 1);
    assert_string_equal(names[0], "db");
    free(names);
    assert_int_equal(snapshot_diff(a, b, &names, &n), ROOST_OK);
    assert_int_equal(n, 0); /* no flag changed */
    /* The same record again is no change. */
    assert_int_equal(sdk_res_diff(SDK_EXPERIMENTS, &b->res[SDK_EXPERIMENTS],
                                  &b->res[SDK_EXPERIMENTS], &names, &n),
                     ROOST_OK);
    assert_int_equal(n, 0);
    unit_clear_resources(res);
    unit_clear_resources(delta);
    snapshot_free(a);
    snapshot_free(b);
}

static void unknown_phases_and_states_read_as_unknown(void **state)
{
    (void)state;
    assert_int_equal(sdk_rollout_phase_parse("rolled_back"), ROOST_ROLLOUT_ROLLED_BACK);
    assert_int_equal(sdk_rollout_phase_parse("canarying"), ROOST_ROLLOUT_UNKNOWN);
    assert_int_equal(sdk_probe_state_parse("degraded"), ROOST_PROBE_DEGRADED);
    assert_int_equal(sdk_probe_state_parse(""), ROOST_PROBE_UNKNOWN);
    assert_int_equal(sdk_probe_circuit_parse("half_open"), ROOST_CIRCUIT_HALF_OPEN);
    assert_int_equal(sdk_experiment_phase_parse("concluded"), ROOST_EXPERIMENT_CONCLUDED);
    assert_int_equal(sdk_experiment_phase_parse("archived"), ROOST_EXPERIMENT_UNKNOWN);
    assert_string_equal(roost_rollout_phase_name((roost_rollout_phase)99), "unknown");
    assert_string_equal(roost_arm_name(ROOST_ARM_CANARY), "canary");
    assert_string_equal(roost_arm_name(ROOST_ARM_BASELINE), "baseline");
}

/* ---- hazard slots ------------------------------------------------------ */

#define ALIVE 0x600DF00Du
#define DEAD 0xDEADBEEFu

struct obj {
    _Atomic unsigned magic;
    uint64_t seq;
};

static _Atomic uint64_t freed;

static void free_obj(void *p, void *user)
{
    struct obj *o = p;

    (void)user;
    atomic_store(&o->magic, DEAD);
    atomic_fetch_add(&freed, 1);
    free(o);
}

static struct obj *obj_new(uint64_t seq)
{
    struct obj *o = malloc(sizeof *o);

    atomic_init(&o->magic, ALIVE);
    o->seq = seq;
    return o;
}

static void old_snapshot_waits_for_its_reader(void **state)
{
    struct hazard_domain d;
    struct obj *a = obj_new(1), *seen;
    unsigned slot;

    (void)state;
    atomic_store(&freed, 0);
    hazard_init(&d, free_obj, NULL);
    hazard_publish(&d, a);
    seen = hazard_acquire(&d, &slot);
    assert_ptr_equal(seen, a);
    hazard_publish(&d, obj_new(2)); /* a is retired, but held */
    assert_int_equal(hazard_reclaim(&d), 1);
    assert_int_equal(atomic_load(&freed), 0);
    assert_int_equal(atomic_load(&seen->magic), ALIVE);
    hazard_release(&d, slot);
    assert_int_equal(hazard_reclaim(&d), 0);
    assert_int_equal(atomic_load(&freed), 1);
    hazard_destroy(&d);
    assert_int_equal(atomic_load(&freed), 2);
}

/* ThreadSanitizer makes every atomic operation cost O(threads): keep the
 * oversubscribed test short there. */
#ifdef __SANITIZE_THREAD__
#define OVERSUBSCRIBED_READS 200
#else
#define OVERSUBSCRIBED_READS 20000
#endif

struct reader {
    struct hazard_domain *d;
    atomic_bool *stop;
    uint64_t reads;
    int bad;
    int went_back;
    uint64_t max_reads; /* 0 = until stop */
};

static void *read_loop(void *arg)
{
    struct reader *r = arg;
    uint64_t last = 0;

    while (!atomic_load_explicit(r->stop, memory_order_relaxed) &&
           (!r->max_reads || r->reads < r->max_reads)) {
        unsigned slot;
        struct obj *o = hazard_acquire(r->d, &slot);
        if (o) {
            if (atomic_load(&o->magic) != ALIVE)
                r->bad++;
            if (o->seq < last)
                r->went_back++;
            last = o->seq;
        }
        hazard_release(r->d, slot);
        if (++r->reads % 16 == 0)
            sched_yield(); /* let the writer and thread creation run on small machines */
    }
    return NULL;
}

static void readers_never_see_a_freed_snapshot(void **state)
{
    enum { READERS = 8, PUBLISHES = 20000 };
    struct hazard_domain d;
    struct reader r[READERS];
    pthread_t th[READERS];
    atomic_bool stop = false;

    (void)state;
    atomic_store(&freed, 0);
    hazard_init(&d, free_obj, NULL);
    hazard_publish(&d, obj_new(0));
    for (int i = 0; i < READERS; i++) {
        r[i] = (struct reader){&d, &stop, 0, 0, 0, 0};
        assert_int_equal(pthread_create(&th[i], NULL, read_loop, &r[i]), 0);
    }
    for (uint64_t s = 1; s <= PUBLISHES; s++) {
        hazard_publish(&d, obj_new(s));
        if (s % 64 == 0)
            sched_yield();
    }
    atomic_store(&stop, true);
    for (int i = 0; i < READERS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(r[i].bad, 0);
        assert_int_equal(r[i].went_back, 0);
    }
    while (hazard_reclaim(&d))
        ;
    /* Every replaced object was freed once no reader held it. */
    assert_int_equal(atomic_load(&freed), PUBLISHES);
    hazard_destroy(&d);
    assert_int_equal(atomic_load(&freed), PUBLISHES + 1);
}

static void more_readers_than_slots_still_get_through(void **state)
{
    enum { READERS = HAZARD_SLOTS + 16 };
    struct hazard_domain d;
    struct reader *r = calloc(READERS, sizeof *r);
    pthread_t *th = calloc(READERS, sizeof *th);
    atomic_bool stop = false;

    (void)state;
    atomic_store(&freed, 0);
    hazard_init(&d, free_obj, NULL);
    hazard_publish(&d, obj_new(0));
    uint64_t published = 0;
    for (int i = 0; i < READERS; i++) {
        r[i] = (struct reader){&d, &stop, 0, 0, 0, OVERSUBSCRIBED_READS};
        assert_int_equal(pthread_create(&th[i], NULL, read_loop, &r[i]), 0);
    }
    /* Publish while the readers run; each reader stops after its reads. */
    for (int done = 0; done < READERS;) {
        hazard_publish(&d, obj_new(++published));
        sched_yield();
        if (pthread_tryjoin_np(th[done], NULL) == 0) {
            assert_int_equal(r[done].bad, 0);
            done++;
        }
    }
    hazard_destroy(&d);
    assert_int_equal(atomic_load(&freed), published + 1);
    free(r);
    free(th);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(snapshot_finds_every_loaded_flag),
        cmocka_unit_test(change_shares_unchanged_images_and_names_changed_keys),
        cmocka_unit_test(identical_snapshot_reports_no_change),
        cmocka_unit_test(refused_image_is_kept_unloaded),
        cmocka_unit_test(image_for_another_key_is_refused),
        cmocka_unit_test(resource_changes_upsert_remove_and_name_what_changed),
        cmocka_unit_test(unknown_phases_and_states_read_as_unknown),
        cmocka_unit_test(old_snapshot_waits_for_its_reader),
        cmocka_unit_test(readers_never_see_a_freed_snapshot),
        cmocka_unit_test(more_readers_than_slots_still_get_through),
    };

    return roost_run_tests("sdk_snapshot", tests);
}
