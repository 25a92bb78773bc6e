/* Outcome aggregation and delivery decisions, without a network: what a
 * batch holds, how a failed batch is merged into the next one, what is
 * resent unchanged, and how the memory and series limits turn into dropped
 * counters that are themselves reported (never lost silently). */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>

#include "aggregator.h"
#include "client_internal.h"
#include "sdk_unit_util.h"
#include "wire.h"

static struct roost_series *series(struct agg *a, const char *arm)
{
    struct roost_series *s;

    assert_int_equal(agg_series(a, ROOST_SCOPE_ROLLOUT, "checkout-v2", arm, "latency_ms", &s),
                     ROOST_OK);
    return s;
}

/* Totals of one batch entry. */
static void view(struct agg *a, struct agg_batch *b, size_t i, struct wire_aggregate *v)
{
    assert_true(i < b->n);
    agg_batch_view(a, b, i, v);
}

static void outcomes_of_one_series_add_up(void **state)
{
    struct agg *a;
    struct agg_batch b;
    struct wire_aggregate v;
    struct roost_series *s;

    (void)state;
    assert_int_equal(agg_new(1u << 20, 100, &a), ROOST_OK);
    s = series(a, "canary");
    for (int i = 1; i <= 100; i++)
        assert_int_equal(agg_record(a, s->id, i, i % 4 != 0), ROOST_OK);
    assert_false(agg_has_unsent(a)); /* nothing until the interval is cut */
    agg_cut(a, 29000000);
    assert_true(agg_take(a, 1u << 20, &b));
    assert_int_equal(b.n, 1);
    view(a, &b, 0, &v);
    assert_string_equal(v.scope, "checkout-v2");
    assert_string_equal(v.arm, "canary");
    assert_int_equal(v.kind, ROOST_SCOPE_ROLLOUT);
    assert_int_equal(v.minute, 29000000);
    assert_int_equal(v.count, 100);
    assert_int_equal(v.successes, 75);
    assert_true(v.sum == 5050);
    assert_true(v.sum_squares == 338350);
    assert_int_equal(v.sketch->count, 100);
    agg_batch_acked(a, &b);
    assert_false(agg_has_unsent(a));
    agg_free(a);
}

static void intervals_of_different_minutes_stay_apart(void **state)
{
    struct agg *a;
    struct agg_batch b;
    struct wire_aggregate v0, v1;
    struct roost_series *s;

    (void)state;
    assert_int_equal(agg_new(1u << 20, 100, &a), ROOST_OK);
    s = series(a, "baseline");
    agg_record(a, s->id, 1, true);
    agg_cut(a, 100);
    agg_record(a, s->id, 2, true);
    agg_record(a, s->id, 3, true);
    agg_cut(a, 101);
    agg_record(a, s->id, 4, true);
    agg_cut(a, 101); /* same minute: merged */
    assert_true(agg_take(a, 1u << 20, &b));
    assert_int_equal(b.n, 2);
    view(a, &b, 0, &v0);
    view(a, &b, 1, &v1);
    if (v0.minute > v1.minute) {
        struct wire_aggregate t = v0;
        v0 = v1;
        v1 = t;
    }
    assert_int_equal(v0.minute, 100);
    assert_int_equal(v0.count, 1);
    assert_int_equal(v1.minute, 101);
    assert_int_equal(v1.count, 3);
    assert_true(v1.sum == 9);
    agg_batch_acked(a, &b);
    agg_free(a);
}

static void failed_batch_is_merged_into_the_next(void **state)
{
    struct agg *a;
    struct agg_batch b;
    struct wire_aggregate v;
    struct roost_series *s;

    (void)state;
    assert_int_equal(agg_new(1u << 20, 100, &a), ROOST_OK);
    s = series(a, "canary");
    for (int i = 0; i < 10; i++)
        agg_record(a, s->id, 10, false);
    agg_cut(a, 500);
    assert_true(agg_take(a, 1u << 20, &b));
    /* Meanwhile more outcomes of the same minute arrive. */
    for (int i = 0; i < 5; i++)
        agg_record(a, s->id, 20, true);
    agg_cut(a, 500);
    /* roostd refused the first batch before storing it: it goes back. */
    agg_batch_return(a, &b);
    assert_true(agg_take(a, 1u << 20, &b));
    assert_int_equal(b.n, 1);
    view(a, &b, 0, &v);
    assert_int_equal(v.count, 15);
    assert_int_equal(v.successes, 5);
    assert_true(v.sum == 200);
    assert_int_equal(v.sketch->count, 15);
    agg_batch_acked(a, &b);
    assert_false(agg_has_unsent(a));
    agg_free(a);
}

static void rejected_batch_is_counted_as_dropped_and_reported(void **state)
{
    struct agg *a;
    struct agg_batch b;
    struct agg_stats st;
    struct roost_series *s;

    (void)state;
    assert_int_equal(agg_new(1u << 20, 100, &a), ROOST_OK);
    s = series(a, "canary");
    for (int i = 0; i < 7; i++)
        agg_record(a, s->id, 1, true);
    agg_cut(a, 1);
    assert_true(agg_take(a, 1u << 20, &b));
    agg_batch_rejected(a, &b);
    agg_get_stats(a, &st);
    assert_int_equal(st.dropped_rejected, 7);
    assert_int_equal(st.observations - st.acked - st.lost, 0);
    /* The next batch carries the count, with no aggregates. */
    assert_true(agg_has_unsent(a));
    assert_true(agg_take(a, 1u << 20, &b));
    assert_int_equal(b.n, 0);
    assert_int_equal(b.dropped_rejected, 7);
    /* ...and if that batch is refused before being stored, the count goes
     * out again with the one after. */
    agg_batch_return(a, &b);
    assert_true(agg_take(a, 1u << 20, &b));
    assert_int_equal(b.dropped_rejected, 7);
    agg_batch_acked(a, &b);
    assert_false(agg_has_unsent(a));
    agg_free(a);
}

static void memory_limit_drops_and_counts_what_it_cannot_keep(void **state)
{
    struct agg *a;
    struct agg_batch b;
    struct agg_stats st;
    roost_status rc = ROOST_OK;
    int kept = 0, refused = 0;

    (void)state;
    assert_int_equal(agg_new(64u << 10, 1000, &a), ROOST_OK);
    for (int i = 0; i < 2000; i++) {
        char arm[32];
        struct roost_series *s;
        snprintf(arm, sizeof arm, "arm-%d", i);
        rc = agg_series(a, ROOST_SCOPE_FLAG, "f", arm, "m", &s);
        if (rc == ROOST_OK)
            rc = agg_record(a, s->id, 1.5, true);
        if (rc == ROOST_OK)
            kept++;
        else
            refused++;
        assert_true(rc == ROOST_OK || rc == ROOST_ELIMIT);
    }
    agg_get_stats(a, &st);
    assert_true(refused > 0);
    assert_true(st.memory <= (64u << 10));
    assert_int_equal(st.dropped_memory, (uint64_t)refused);
    assert_int_equal(st.observations, (uint64_t)kept);
    /* What was kept and what was dropped are both reported. */
    agg_cut(a, 7);
    agg_get_stats(a, &st);
    assert_true(agg_take(a, 1u << 30, &b));
    assert_int_equal(b.dropped_memory, st.dropped_memory);
    agg_batch_acked(a, &b);
    while (agg_take(a, 1u << 30, &b))
        agg_batch_acked(a, &b);
    agg_get_stats(a, &st);
    assert_int_equal(st.observations - st.acked - st.lost, 0);
    assert_int_equal(st.acked + st.dropped_memory, 2000);
    agg_free(a);
}

static void series_limit_is_counted(void **state)
{
    struct agg *a;
    struct roost_series *s;
    struct agg_stats st;

    (void)state;
    assert_int_equal(agg_new(1u << 20, 2, &a), ROOST_OK);
    assert_int_equal(agg_series(a, ROOST_SCOPE_FLAG, "f", "a", "m", &s), ROOST_OK);
    assert_int_equal(agg_series(a, ROOST_SCOPE_FLAG, "f", "b", "m", &s), ROOST_OK);
    assert_int_equal(agg_series(a, ROOST_SCOPE_FLAG, "f", "a", "m", &s), ROOST_OK); /* known */
    assert_int_equal(agg_series(a, ROOST_SCOPE_FLAG, "f", "c", "m", &s), ROOST_ELIMIT);
    agg_get_stats(a, &st);
    assert_int_equal(st.dropped_series, 1);
    agg_free(a);
}

static void names_out_of_range_are_refused(void **state)
{
    struct agg *a;
    struct roost_series *s;
    char long_name[ROOST_SCOPE_KEY_MAX + 2];

    (void)state;
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    assert_int_equal(agg_new(1u << 20, 10, &a), ROOST_OK);
    assert_int_equal(agg_series(a, ROOST_SCOPE_FLAG, long_name, "a", "m", &s), ROOST_EINVAL);
    assert_int_equal(agg_series(a, ROOST_SCOPE_FLAG, "", "a", "m", &s), ROOST_EINVAL);
    assert_int_equal(agg_series(a, ROOST_SCOPE_FLAG, "f", "a", "", &s), ROOST_EINVAL);
    assert_int_equal(agg_series(a, (roost_scope_kind)9, "f", "a", "m", &s), ROOST_EINVAL);
    agg_free(a);
}

static void batches_are_cut_at_the_size_bound(void **state)
{
    struct agg *a;
    struct agg_batch b;
    size_t total = 0;
    int batches = 0;

    (void)state;
    assert_int_equal(agg_new(8u << 20, 1000, &a), ROOST_OK);
    for (int i = 0; i < 300; i++) {
        char arm[32];
        struct roost_series *s;
        snprintf(arm, sizeof arm, "arm-%d", i);
        assert_int_equal(agg_series(a, ROOST_SCOPE_FLAG, "f", arm, "m", &s), ROOST_OK);
        for (int k = 0; k < 50; k++)
            agg_record(a, s->id, 1 + k * 7.3, true);
    }
    agg_cut(a, 1);
    while (agg_take(a, 16 << 10, &b)) {
        total += b.n;
        batches++;
        agg_batch_acked(a, &b);
    }
    assert_int_equal(total, 300);
    assert_true(batches > 1);
    agg_free(a);
}

static void name_cache_never_confuses_reused_buffers(void **state)
{
    struct agg *a, *b;
    struct roost_series *s1, *s2, *s3, *s4;
    char scope[16];

    (void)state;
    assert_int_equal(agg_new(1u << 20, 10, &a), ROOST_OK);
    assert_int_equal(agg_new(1u << 20, 10, &b), ROOST_OK);
    strcpy(scope, "first");
    assert_int_equal(agg_series_cached(a, ROOST_SCOPE_FLAG, scope, "on", "m", &s1), ROOST_OK);
    assert_int_equal(agg_series_cached(a, ROOST_SCOPE_FLAG, scope, "on", "m", &s2), ROOST_OK);
    assert_ptr_equal(s1, s2);
    /* Same pointer, other content: another series. */
    strcpy(scope, "second");
    assert_int_equal(agg_series_cached(a, ROOST_SCOPE_FLAG, scope, "on", "m", &s3), ROOST_OK);
    assert_ptr_not_equal(s3, s1);
    assert_string_equal(s3->scope, "second");
    /* Same pointers, another client: its own series. */
    assert_int_equal(agg_series_cached(b, ROOST_SCOPE_FLAG, scope, "on", "m", &s4), ROOST_OK);
    assert_ptr_equal(s4->agg, b);
    /* Another kind with the same names: another series. */
    assert_int_equal(agg_series_cached(a, ROOST_SCOPE_EXPERIMENT, scope, "on", "m", &s4),
                     ROOST_OK);
    assert_ptr_not_equal(s4, s3);
    agg_free(a);
    agg_free(b);
}

/* Recorders on many threads while the interval is cut under them. */
struct recorder {
    struct agg *a;
    uint32_t id;
    int n;
};

static void *record_many(void *arg)
{
    struct recorder *r = arg;

    for (int i = 0; i < r->n; i++)
        agg_record(r->a, r->id, 2.0, i % 2);
    return NULL;
}

static void concurrent_recording_and_cuts_lose_nothing(void **state)
{
    enum { THREADS = 8, PER = 50000 };
    struct agg *a;
    struct agg_batch b;
    struct recorder r[THREADS];
    pthread_t th[THREADS];
    uint64_t count = 0, successes = 0;
    double sum = 0;
    struct roost_series *s;

    (void)state;
    assert_int_equal(agg_new(8u << 20, 10, &a), ROOST_OK);
    s = series(a, "x");
    for (int i = 0; i < THREADS; i++) {
        r[i] = (struct recorder){a, s->id, PER};
        pthread_create(&th[i], NULL, record_many, &r[i]);
    }
    for (int cuts = 0; cuts < 200; cuts++) {
        agg_cut(a, 42);
        while (agg_take(a, 1u << 20, &b)) {
            for (size_t i = 0; i < b.n; i++) {
                struct wire_aggregate v;
                agg_batch_view(a, &b, i, &v);
                count += v.count;
                successes += v.successes;
                sum += v.sum;
            }
            agg_batch_acked(a, &b);
        }
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    agg_cut(a, 43);
    while (agg_take(a, 1u << 20, &b)) {
        for (size_t i = 0; i < b.n; i++) {
            struct wire_aggregate v;
            agg_batch_view(a, &b, i, &v);
            count += v.count;
            successes += v.successes;
            sum += v.sum;
        }
        agg_batch_acked(a, &b);
    }
    assert_int_equal(count, THREADS * PER);
    assert_int_equal(successes, THREADS * PER / 2);
    assert_true(sum == 2.0 * THREADS * PER);
    agg_free(a);
}

/* ---- delivery decisions (reporter) -------------------------------------- */

static roost_client *offline_client(void)
{
    roost_client_options o;
    roost_client *c;

    roost_client_options_init(&o);
    o.target = "127.0.0.1:1";
    o.log_level = ROOST_LOG_ERROR + 1;
    assert_int_equal(roost_client_new(&o, &c, NULL), ROOST_OK);
    return c;
}

static uint64_t request_sequence(const uint8_t *bytes, size_t len)
{
    /* ReportRequest field 2 (sequence) follows field 1 (client id). */
    size_t i = 2 + bytes[1];

    assert_true(i + 1 < len && bytes[i] == 0x10);
    return bytes[i + 1];
}

static void ambiguous_failure_resends_the_same_batch(void **state)
{
    roost_client *c = offline_client();
    const uint8_t *p1, *p2;
    size_t l1, l2;
    uint8_t *copy;
    struct roost_series *s;

    (void)state;
    assert_int_equal(roost_series_get(c, ROOST_SCOPE_FLAG, "f", "on", "m", &s), ROOST_OK);
    roost_series_observe(s, 1, true);
    agg_cut(c->agg, 10);
    assert_true(reporter_next(&c->rep, 0, &p1, &l1));
    copy = malloc(l1);
    memcpy(copy, p1, l1);
    assert_int_equal(request_sequence(p1, l1), 1);
    reporter_done(&c->rep, 0, GRPC_STATUS_UNAVAILABLE, "connection reset", NULL, 0);
    /* Outcomes recorded meanwhile wait: they are not merged into a batch
     * that roostd may already have stored. */
    roost_series_observe(s, 2, true);
    agg_cut(c->agg, 10);
    assert_false(reporter_next(&c->rep, 0, &p2, &l2)); /* backoff */
    assert_true(reporter_next(&c->rep, 60000, &p2, &l2));
    assert_int_equal(l2, l1);
    assert_memory_equal(p2, copy, l1);
    reporter_done(&c->rep, 60000, GRPC_STATUS_OK, "", (const uint8_t *)"", 0);
    /* Then the next batch, with the next sequence. */
    assert_true(reporter_next(&c->rep, 60000, &p2, &l2));
    assert_int_equal(request_sequence(p2, l2), 2);
    reporter_done(&c->rep, 60000, GRPC_STATUS_OK, "", (const uint8_t *)"", 0);
    assert_true(reporter_idle(&c->rep));
    free(copy);
    roost_client_close(c, NULL);
}

static void refusal_before_commit_merges_into_the_next_batch(void **state)
{
    roost_client *c = offline_client();
    const uint8_t *p;
    size_t l;
    struct roost_series *s;
    roost_client_stats st;

    (void)state;
    assert_int_equal(roost_series_get(c, ROOST_SCOPE_FLAG, "f", "on", "m", &s), ROOST_OK);
    roost_series_observe(s, 1, true);
    agg_cut(c->agg, 10);
    assert_true(reporter_next(&c->rep, 0, &p, &l));
    reporter_done(&c->rep, 0, GRPC_STATUS_UNAUTHENTICATED, "missing or wrong SDK token", NULL, 0);
    roost_series_observe(s, 2, true);
    agg_cut(c->agg, 10);
    assert_true(reporter_next(&c->rep, 60000, &p, &l));
    assert_int_equal(request_sequence(p, l), 2); /* a new batch... */
    reporter_done(&c->rep, 60000, GRPC_STATUS_OK, "", (const uint8_t *)"", 0);
    roost_client_get_stats(c, &st);
    assert_int_equal(st.pending_outcomes, 0); /* ...that carried both outcomes */
    assert_int_equal(st.observations, 2);
    roost_client_close(c, NULL);
}

static void invalid_batch_is_dropped_counted_and_reported(void **state)
{
    roost_client *c = offline_client();
    const uint8_t *p;
    size_t l;
    struct roost_series *s;
    roost_client_stats st;

    (void)state;
    assert_int_equal(roost_series_get(c, ROOST_SCOPE_FLAG, "f", "on", "m", &s), ROOST_OK);
    roost_series_observe(s, 1, true);
    roost_series_observe(s, 1, true);
    agg_cut(c->agg, 10);
    assert_true(reporter_next(&c->rep, 0, &p, &l));
    reporter_done(&c->rep, 0, GRPC_STATUS_INVALID_ARGUMENT, "sum is NaN", NULL, 0);
    roost_client_get_stats(c, &st);
    assert_int_equal(st.dropped_rejected, 2);
    assert_int_equal(st.pending_outcomes, 0);
    /* The drop itself is reported in the next batch. */
    assert_true(reporter_next(&c->rep, 1, &p, &l));
    reporter_done(&c->rep, 1, GRPC_STATUS_OK, "", (const uint8_t *)"", 0);
    assert_true(reporter_idle(&c->rep));
    roost_client_close(c, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(outcomes_of_one_series_add_up),
        cmocka_unit_test(intervals_of_different_minutes_stay_apart),
        cmocka_unit_test(failed_batch_is_merged_into_the_next),
        cmocka_unit_test(rejected_batch_is_counted_as_dropped_and_reported),
        cmocka_unit_test(memory_limit_drops_and_counts_what_it_cannot_keep),
        cmocka_unit_test(series_limit_is_counted),
        cmocka_unit_test(names_out_of_range_are_refused),
        cmocka_unit_test(name_cache_never_confuses_reused_buffers),
        cmocka_unit_test(batches_are_cut_at_the_size_bound),
        cmocka_unit_test(concurrent_recording_and_cuts_lose_nothing),
        cmocka_unit_test(ambiguous_failure_resends_the_same_batch),
        cmocka_unit_test(refusal_before_commit_merges_into_the_next_batch),
        cmocka_unit_test(invalid_batch_is_dropped_counted_and_reported),
    };

    return roost_run_tests("sdk_aggregator", tests);
}
