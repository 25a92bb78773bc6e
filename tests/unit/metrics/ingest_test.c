/* Ingest hardening from issue 5, against a real store: NaN and infinity are
 * refused with a message naming the aggregate and the field and nothing of
 * the batch is stored; huge counts (10^12 per aggregate) add up exactly;
 * counts that would pass 2^64 - 1 are refused at ingest, reported by
 * queries, and left at minute resolution by the roll-up. Also: recent rows
 * share the batch's fate (all or nothing, counted once). */
#include "metrics_test_util.h"

static const int64_t M = T_NOW / 60 - 30;

static void assert_nothing_stored(void)
{
    assert_int_equal(table_rows(st, TBL_METRICS), 0);
    assert_int_equal(table_rows(st, TBL_METRICS_RECENT), 0);
    assert_int_equal(table_rows(st, TBL_REPORTS_SEEN), 0);
}

static void nan_and_infinite_values_are_refused_and_nothing_is_stored(void **state)
{
    const struct {
        int field; /* 0 sum, 1 sum_squares */
        double value;
        const char *says;
    } cases[] = {
        {0, NAN, "aggregates[1] (rollout \"r\", arm \"canary\", metric \"latency_ms\"): sum is NaN"},
        {0, INFINITY, "sum is infinite"},
        {0, -INFINITY, "sum is infinite"},
        {1, NAN, "sum_squares is NaN"},
        {1, INFINITY, "sum_squares is infinite"},
    };
    const struct metrics_retention_options o = retention_opts(14 * 86400, 400 * 86400, 86400);

    (void)state;
    assert_int_equal(metrics_retention_init(st, &o, T_NOW - 3600, NULL), ROOST_OK);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct batch *b = batch_new("c", 1, "api", "prod", "v1");
        double v[2] = {1, 2};
        Roost__V1__OutcomeAggregate *a;
        const char *msg;

        batch_add(b, KIND_ROLLOUT, "r", "canary", "latency_ms", M, 0, v, 2, 2); /* valid */
        a = batch_add(b, KIND_ROLLOUT, "r", "canary", "latency_ms", M + 1, 0, v, 2, 2);
        if (cases[i].field == 0)
            a->sum = cases[i].value;
        else
            a->sum_squares = cases[i].value;
        msg = batch_refused(st, b, T_NOW, ROOST_EINVAL);
        if (!strstr(msg, cases[i].says))
            fail_msg("case %zu: message \"%s\" does not say \"%s\"", i, msg, cases[i].says);
        assert_non_null(strstr(msg, "finite"));
        assert_nothing_stored();
        free(b);
    }
}

static void a_sketch_holding_nan_is_refused(void **state)
{
    struct batch *b = batch_new("c", 1, "api", "prod", "v1");
    Roost__V1__OutcomeAggregate *a;
    uint8_t bytes[64];
    size_t n = 0;
    const double nan = NAN, one = 1.0;
    const char *msg;

    (void)state;
    /* Version 1, not collapsed, one bucket; min NaN, max 1, sum 1; key of 1
     * (zigzag), count 1. */
    bytes[n++] = 1;
    bytes[n++] = 0;
    bytes[n++] = 1;
    memcpy(bytes + n, &nan, 8), n += 8;
    memcpy(bytes + n, &one, 8), n += 8;
    memcpy(bytes + n, &one, 8), n += 8;
    bytes[n++] = 0; /* key 0 */
    bytes[n++] = 1;
    a = batch_add(b, KIND_FLAG, "f", "on", "latency_ms", M, 0, NULL, 0, 0);
    a->count = 1;
    a->sum = 1;
    a->sum_squares = 1;
    a->sketch.data = bytes;
    a->sketch.len = n;
    msg = batch_refused(st, b, T_NOW, ROOST_EINVAL);
    assert_non_null(strstr(msg, "aggregates[0] (flag \"f\""));
    assert_non_null(strstr(msg, "NaN and infinite values are refused"));
    assert_nothing_stored();
    free(b);
}

static void a_sketch_sum_that_would_become_infinite_is_refused(void **state)
{
    struct window *w = window_new();
    double big = 1e308;
    struct batch *b;
    const char *msg;

    (void)state;
    b = batch_new("c", 1, "api", "prod", "v1");
    batch_add(b, KIND_FLAG, "f", "on", "x", M, 0, &big, 1, 1)->sum = 1.0;
    batch_add(b, KIND_FLAG, "f", "on", "x", M, 0, &big, 1, 1)->sum = 1.0;
    /* Each aggregate is finite; merged, the sketch's sum of 2e308 is not. A
     * row holding it would never decode again, so the batch is refused. */
    b->aggs[1].sum_squares = b->aggs[0].sum_squares = 1.0;
    msg = batch_refused(st, b, T_NOW, ROOST_EINVAL);
    assert_non_null(strstr(msg, "aggregates[1]"));
    assert_non_null(strstr(msg, "sketch's sum of values would become infinite"));
    assert_nothing_stored();
    /* One of them alone is stored and stays readable. */
    b->req.n_aggregates = 1;
    batch_ingest(st, b, T_NOW);
    assert_int_equal(window_get(w, st, KIND_FLAG, "f", "on", "x", M * 60, M * 60 + 60)->count, 1);
    free(b);
    free(w);
}

static void a_negative_interval_end_is_refused_by_name(void **state)
{
    struct batch *b = batch_new("c", 1, "api", "prod", "v1");
    double v = 1;
    const char *msg;

    (void)state;
    batch_add(b, KIND_ROLLOUT, "r", "canary", "latency_ms", M, -1000, &v, 1, 1);
    msg = batch_refused(st, b, T_NOW, ROOST_EINVAL);
    assert_non_null(strstr(msg, "end_unix_ms is negative (-1000)"));
    assert_nothing_stored();
    free(b);
}

static void counts_of_a_trillion_add_up_exactly(void **state)
{
    const uint64_t T = 1000000000000ull; /* 10^12 */
    const struct metrics_retention_options o = retention_opts(3600, 400 * 86400, 86400);
    const int64_t h = T_NOW / 3600 - 10;
    struct window *w = window_new(), *after = window_new();
    struct metrics_summary s;
    struct batch *b = batch_new("big", 1, "api", "prod", "v1");
    double v[2] = {10.0, 30.0};
    struct metrics_agg *a;

    (void)state;
    /* Each minute of an hour: 10^12 outcomes, half 10 ms, half 30 ms. */
    for (int m = 0; m < 60; m++)
        batch_add_n(b, KIND_FLAG, "f", "on", "latency_ms", h * 60 + m, 0, v, 2, T / 2, T - T / 1000);
    batch_ingest(st, b, T_NOW);
    a = window_get(w, st, KIND_FLAG, "f", "on", "latency_ms", h * 3600, h * 3600 + 3600);
    assert_int_equal(a->count, 60 * T);
    assert_int_equal(a->successes, 60 * (T - T / 1000));
    assert_int_equal(a->sketch.count, 60 * T);
    assert_true(a->sum == 60.0 * 2e13);
    assert_int_equal(metrics_agg_summarize(a, &s, NULL), ROOST_OK);
    assert_true(s.mean == 20.0);
    assert_true(fabs(s.variance - 100.0) < 1e-9 * 100.0);
    assert_true(fabs(s.success_rate - 0.999) < 1e-12);
    assert_true(fabs(quantile_of(a, 0.5) - 10.0) <= 0.1);
    assert_true(fabs(quantile_of(a, 0.9) - 30.0) <= 0.3);

    /* Rolled into one hour row: the same numbers. */
    assert_int_equal(metrics_retention_pass(st, &o, (h + 2) * 3600, NULL, NULL, NULL), ROOST_OK);
    assert_int_equal(table_rows(st, TBL_METRICS_HOURS), 1);
    window_get(after, st, KIND_FLAG, "f", "on", "latency_ms", h * 3600, h * 3600 + 3600);
    assert_int_equal(after->agg.count, a->count);
    assert_true(after->agg.sum == a->sum && after->agg.sum_squares == a->sum_squares);
    assert_memory_equal(after->agg.sketch.buckets, a->sketch.buckets,
                        a->sketch.len * sizeof a->sketch.buckets[0]);
    free(b);
    free(w);
    free(after);
}

static void a_count_that_would_pass_2_64_is_refused_at_ingest(void **state)
{
    struct window *w = window_new();
    struct batch *b;
    const char *msg;

    (void)state;
    b = batch_new("c", 1, "api", "prod", "v1");
    batch_add(b, KIND_FLAG, "f", "on", "x", M, 0, NULL, 0, 0)->count = UINT64_MAX - 5;
    batch_ingest(st, b, T_NOW);
    free(b);
    b = batch_new("c", 2, "api", "prod", "v1");
    batch_add(b, KIND_FLAG, "f", "on", "x", M, 0, NULL, 0, 0)->count = 10;
    msg = batch_refused(st, b, T_NOW, ROOST_EINVAL);
    assert_non_null(strstr(msg, "aggregates[0] (flag \"f\", arm \"on\", metric \"x\"): count would overflow"));
    free(b);
    assert_int_equal(window_get(w, st, KIND_FLAG, "f", "on", "x", M * 60, M * 60 + 60)->count,
                     UINT64_MAX - 5);
    free(w);
}

static void windows_and_hours_beyond_2_64_outcomes_are_reported_not_wrapped(void **state)
{
    const struct metrics_retention_options o = retention_opts(3600, 400 * 86400, 86400);
    const int64_t h = T_NOW / 3600 - 10;
    struct window *w = window_new();
    struct metrics_selector sel = {KIND_FLAG, "f", "on", "x", NULL, NULL, NULL};
    struct metrics_retention_stats s;
    struct batch *b = batch_new("c", 1, "api", "prod", "v1");
    roost_error err = {0};

    (void)state;
    batch_add(b, KIND_FLAG, "f", "on", "x", h * 60, 0, NULL, 0, 0)->count = (1ull << 63) + 1;
    batch_add(b, KIND_FLAG, "f", "on", "x", h * 60 + 1, 0, NULL, 0, 0)->count = 1ull << 63;
    batch_ingest(st, b, T_NOW);
    free(b);
    /* Each minute is fine; both together do not fit in 64 bits. */
    assert_int_equal(metrics_window(st, &sel, h * 3600, h * 3600 + 60, &w->agg, &err), ROOST_OK);
    assert_int_equal(metrics_window(st, &sel, h * 3600, h * 3600 + 120, &w->agg, &err),
                     ROOST_ELIMIT);
    assert_non_null(strstr(err.msg, "more than 2^64 - 1 outcomes"));
    /* The roll-up cannot merge them either: the second stays a minute row,
     * and the pass says so instead of failing. */
    assert_int_equal(metrics_retention_pass(st, &o, (h + 2) * 3600, NULL, &s, &err), ROOST_OK);
    assert_int_equal(s.rolled_minutes, 1);
    assert_int_equal(s.skipped, 1);
    assert_int_equal(table_rows(st, TBL_METRICS), 1);
    assert_int_equal(table_rows(st, TBL_METRICS_HOURS), 1);
    assert_int_equal(metrics_retention_pass(st, &o, (h + 2) * 3600, NULL, &s, &err), ROOST_OK);
    assert_int_equal(s.skipped, 1);
    free(w);
}

static void recent_rows_share_the_batch_fate_and_count_once(void **state)
{
    const struct metrics_retention_options o = retention_opts(14 * 86400, 400 * 86400, 86400);
    const int64_t m = T_NOW / 60 + 1;
    struct window *w = window_new();
    struct batch *b = batch_new("c", 1, "api", "prod", "v2");
    struct metrics_ingest_result res;
    double v[3] = {1, 2, 3};

    (void)state;
    assert_int_equal(metrics_retention_init(st, &o, T_NOW, NULL), ROOST_OK);
    batch_add(b, KIND_ROLLOUT, "r", "canary", "latency_ms", m, (m * 60 + 15) * 1000, v, 3, 3);
    batch_add(b, KIND_ROLLOUT, "r", "canary", "errors", m, (m * 60 + 15) * 1000, v, 3, 3)->count = 0;
    assert_non_null(strstr(batch_refused(st, b, T_NOW + 60, ROOST_EINVAL), "count is 0"));
    assert_nothing_stored();
    b->req.n_aggregates = 1;
    batch_ingest(st, b, T_NOW + 60);
    /* The SDK retries after a lost acknowledgement: a duplicate. */
    assert_int_equal(metrics_ingest(st, &b->req, T_NOW + 61, &res, NULL), ROOST_OK);
    assert_true(res.duplicate);
    assert_int_equal(window_get(w, st, KIND_ROLLOUT, "r", "canary", "latency_ms", m * 60, m * 60 + 60)->count, 3);
    assert_true(w->agg.recent);
    free(b);
    free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            nan_and_infinite_values_are_refused_and_nothing_is_stored, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(a_sketch_holding_nan_is_refused, store_setup,
                                        store_teardown),
        cmocka_unit_test_setup_teardown(
            a_sketch_sum_that_would_become_infinite_is_refused, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(a_negative_interval_end_is_refused_by_name, store_setup,
                                        store_teardown),
        cmocka_unit_test_setup_teardown(counts_of_a_trillion_add_up_exactly, store_setup,
                                        store_teardown),
        cmocka_unit_test_setup_teardown(
            a_count_that_would_pass_2_64_is_refused_at_ingest, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(
            windows_and_hours_beyond_2_64_outcomes_are_reported_not_wrapped,
            store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(
            recent_rows_share_the_batch_fate_and_count_once, store_setup, store_teardown),
    };
    return roost_run_tests("metrics_ingest", tests);
}
