/* metrics_window and metrics_list_series against a real LMDB store: what a
 * window holds, how label sets merge, how steps tile a range, how accurate
 * quantiles of merged sketches are, and when 1-second rollout rows answer
 * instead of minute rows. */
#include "metrics_test_util.h"

static const int64_t M0 = T_NOW / 60 - 180; /* three hours before now, in minutes */

/* ---- merging ------------------------------------------------------------ */

static void window_merges_every_minute_in_range(void **state)
{
    struct batch *b = batch_new("c1", 1, "checkout", "prod", "v1");
    struct window *w = window_new();
    struct metrics_agg *a;

    (void)state;
    for (int m = 0; m < 10; m++) {
        double v[3] = {10.0 + m, 20.0 + m, 30.0 + m};
        batch_add(b, KIND_FLAG, "new-checkout", "on", "latency_ms", M0 + m, 0, v, 3, 2);
    }
    batch_ingest(st, b, T_NOW);

    a = window_get(w, st, KIND_FLAG, "new-checkout", "on", "latency_ms", M0 * 60, (M0 + 10) * 60);
    assert_int_equal(a->count, 30);
    assert_int_equal(a->successes, 20);
    assert_int_equal(a->rows, 10);
    assert_int_equal(a->resolution_s, 60);
    assert_false(a->recent);
    /* sum of 10+m, 20+m, 30+m over m = 0..9 */
    assert_true(a->sum == 60.0 * 10 + 3 * 45);
    assert_int_equal(a->sketch.count, 30);
    assert_true(a->sketch.min == 10.0 && a->sketch.max == 39.0);

    /* [from, to) by row start: minute 3 starts inside [M0+3, M0+5) */
    a = window_get(w, st, KIND_FLAG, "new-checkout", "on", "latency_ms", (M0 + 3) * 60,
                   (M0 + 5) * 60);
    assert_int_equal(a->count, 6);
    /* A window that starts one second after a minute starts misses it. */
    a = window_get(w, st, KIND_FLAG, "new-checkout", "on", "latency_ms", (M0 + 3) * 60 + 1,
                   (M0 + 5) * 60);
    assert_int_equal(a->count, 3);
    /* Other arm, other metric, other scope: nothing. */
    assert_int_equal(window_get(w, st, KIND_FLAG, "new-checkout", "off", "latency_ms", 0, T_NOW)->count, 0);
    assert_int_equal(window_get(w, st, KIND_FLAG, "new-checkout", "on", "errors", 0, T_NOW)->count, 0);
    assert_int_equal(window_get(w, st, KIND_EXPERIMENT, "new-checkout", "on", "latency_ms", 0, T_NOW)->count, 0);
    free(w);
    free(b);
}

static void window_merges_label_sets_unless_one_is_named(void **state)
{
    const char *services[2] = {"checkout", "cart"}, *versions[2] = {"v1", "v2"};
    struct window *w = window_new();
    struct metrics_selector sel = {KIND_FLAG, "f", "on", "latency_ms", NULL, NULL, NULL};
    uint64_t seq = 1;
    roost_error err;

    (void)state;
    for (int s = 0; s < 2; s++) {
        for (int v = 0; v < 2; v++) {
            struct batch *b = batch_new("c", seq++, services[s], "prod", versions[v]);
            double x[1] = {100.0 * (s + 1) + (v + 1)}; /* 101, 102, 201, 202 */
            batch_add(b, KIND_FLAG, "f", "on", "latency_ms", M0, 0, x, 1, 1);
            batch_ingest(st, b, T_NOW);
            free(b);
        }
    }
    assert_int_equal(metrics_window(st, &sel, M0 * 60, M0 * 60 + 60, &w->agg, &err), ROOST_OK);
    assert_int_equal(w->agg.count, 4);
    assert_true(w->agg.sum == 606.0);

    sel.service = "cart";
    assert_int_equal(metrics_window(st, &sel, M0 * 60, M0 * 60 + 60, &w->agg, &err), ROOST_OK);
    assert_int_equal(w->agg.count, 2);
    assert_true(w->agg.sum == 403.0);

    sel.service = "";
    sel.version = "v2";
    assert_int_equal(metrics_window(st, &sel, M0 * 60, M0 * 60 + 60, &w->agg, &err), ROOST_OK);
    assert_int_equal(w->agg.count, 2);
    assert_true(w->agg.sum == 304.0);

    sel.service = "cart";
    sel.environment = "prod";
    assert_int_equal(metrics_window(st, &sel, M0 * 60, M0 * 60 + 60, &w->agg, &err), ROOST_OK);
    assert_int_equal(w->agg.count, 1);
    assert_true(w->agg.sum == 202.0);

    sel.environment = "staging";
    assert_int_equal(metrics_window(st, &sel, M0 * 60, M0 * 60 + 60, &w->agg, &err), ROOST_OK);
    assert_int_equal(w->agg.count, 0);
    assert_int_equal(w->agg.resolution_s, 0);
    free(w);
}

static void steps_tile_a_range_and_count_each_outcome_once(void **state)
{
    struct batch *b = batch_new("c", 1, "s", "e", "v");
    struct window *w = window_new();
    uint64_t total = 0, whole;

    (void)state;
    for (int m = 0; m < 120; m++) {
        double v[2] = {1.0, 2.0};
        batch_add(b, KIND_EXPERIMENT, "exp", "treatment", "conversion", M0 + m, 0, v, 1 + m % 2,
                  1);
    }
    batch_ingest(st, b, T_NOW);
    whole = window_get(w, st, KIND_EXPERIMENT, "exp", "treatment", "conversion", M0 * 60,
                       (M0 + 120) * 60)
                ->count;
    assert_int_equal(whole, 180);
    /* Steps of 7 minutes (not a divisor of the range), the last one short. */
    for (int64_t a = M0 * 60; a < (M0 + 120) * 60; a += 420) {
        int64_t e = a + 420 < (M0 + 120) * 60 ? a + 420 : (M0 + 120) * 60;
        total += window_get(w, st, KIND_EXPERIMENT, "exp", "treatment", "conversion", a, e)->count;
    }
    assert_int_equal(total, whole);
    /* Steps of 25 s: narrower than a minute row, which lands whole in the
     * step where it starts; still each outcome once. */
    total = 0;
    for (int64_t a = M0 * 60 + 10; a < (M0 + 120) * 60 + 10; a += 25)
        total += window_get(w, st, KIND_EXPERIMENT, "exp", "treatment", "conversion", a, a + 25)
                     ->count;
    assert_int_equal(total, whole - 1); /* the first minute starts before M0*60+10 */
    free(w);
    free(b);
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static void quantiles_of_merged_sketches_stay_within_one_percent(void **state)
{
    enum { MINUTES = 60, CLIENTS = 4, PER = 250 };
    static double all[MINUTES * CLIENTS * PER], v[PER];
    const double qs[] = {0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0};
    const char *versions[CLIENTS] = {"v1", "v2", "v1", "v3"};
    struct window *w = window_new();
    struct mrng r = {42};
    size_t n = 0;
    struct metrics_agg *a;

    (void)state;
    /* Four clients (three label sets) report a skewed latency every minute:
     * lognormal, median 20 ms, with a slow mode for one client. */
    for (int c = 0; c < CLIENTS; c++) {
        char client[32];
        snprintf(client, sizeof client, "client-%d", c);
        for (int m = 0; m < MINUTES; m += 30) {
            struct batch *b = batch_new(client, (uint64_t)(m / 30 + 1), "api", "prod",
                                        versions[c]);
            for (int mm = m; mm < m + 30; mm++) {
                for (int i = 0; i < PER; i++) {
                    v[i] = c == 3 && i % 5 == 0 ? mrng_lognormal(&r, log(400.0), 0.3)
                                                : mrng_lognormal(&r, log(20.0), 0.6);
                    all[n++] = v[i];
                }
                batch_add(b, KIND_ROLLOUT, "api-v2", "canary", "latency_ms", M0 + mm, 0, v, PER,
                          PER);
            }
            batch_ingest(st, b, T_NOW);
            free(b);
        }
    }
    qsort(all, n, sizeof all[0], cmp_double);
    a = window_get(w, st, KIND_ROLLOUT, "api-v2", "canary", "latency_ms", M0 * 60,
                   (M0 + MINUTES) * 60);
    assert_int_equal(a->count, n);
    assert_int_equal(a->rows, MINUTES * 3);
    assert_false(a->sketch.collapsed);
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        double exact = all[(size_t)floor(qs[i] * (double)(n - 1))];
        double est = quantile_of(a, qs[i]);
        if (fabs(est - exact) > 0.01 * exact * (1 + 1e-9))
            fail_msg("q %g: estimate %g, exact %g (%.3f %% off)", qs[i], est, exact,
                     100.0 * fabs(est - exact) / exact);
    }
    free(w);
}

/* ---- recent rows -------------------------------------------------------- */

static void rollout_windows_after_the_mark_are_answered_to_the_second(void **state)
{
    const struct metrics_retention_options o = retention_opts(14 * 86400, 400 * 86400, 86400);
    const int64_t m = T_NOW / 60 + 1; /* the minute after the mark */
    struct batch *b = batch_new("c", 1, "api", "prod", "v2");
    struct window *w = window_new();
    double v[4] = {5, 6, 7, 8};
    struct metrics_agg *a;

    (void)state;
    assert_int_equal(metrics_retention_init(st, &o, T_NOW, NULL), ROOST_OK);
    /* Intervals ending at :10.004, :20.000 and :30.5 of minute m: seconds
     * 10, 19 and 30 (the second holding the interval's last millisecond). */
    batch_add(b, KIND_ROLLOUT, "api-v2", "canary", "latency_ms", m, (m * 60 + 10) * 1000 + 4, v, 1, 1);
    batch_add(b, KIND_ROLLOUT, "api-v2", "canary", "latency_ms", m, (m * 60 + 20) * 1000, v + 1, 1, 1);
    batch_add(b, KIND_ROLLOUT, "api-v2", "canary", "latency_ms", m, (m * 60 + 30) * 1000 + 500, v + 2, 2, 2);
    batch_ingest(st, b, T_NOW + 120);

    a = window_get(w, st, KIND_ROLLOUT, "api-v2", "canary", "latency_ms", m * 60 + 10, m * 60 + 11);
    assert_true(a->recent);
    assert_int_equal(a->resolution_s, 1);
    assert_int_equal(a->count, 1);
    assert_true(a->sum == 5.0);
    a = window_get(w, st, KIND_ROLLOUT, "api-v2", "canary", "latency_ms", m * 60 + 11, m * 60 + 30);
    assert_int_equal(a->count, 1);
    assert_true(a->sum == 6.0);
    a = window_get(w, st, KIND_ROLLOUT, "api-v2", "canary", "latency_ms", m * 60, m * 60 + 30);
    assert_int_equal(a->count, 2);
    a = window_get(w, st, KIND_ROLLOUT, "api-v2", "canary", "latency_ms", m * 60 + 30, m * 60 + 60);
    assert_int_equal(a->count, 2);
    assert_int_equal(a->sketch.count, 2);

    /* From before the mark: minute rows, whole minutes. */
    a = window_get(w, st, KIND_ROLLOUT, "api-v2", "canary", "latency_ms", T_NOW - 60, m * 60 + 30);
    assert_false(a->recent);
    assert_int_equal(a->resolution_s, 60);
    assert_int_equal(a->count, 4);
    free(w);
    free(b);
}

static void recent_rows_are_filed_by_interval_end_clamped_to_two_minutes(void **state)
{
    const struct metrics_retention_options o = retention_opts(14 * 86400, 400 * 86400, 86400);
    const int64_t m = T_NOW / 60 + 2;

    (void)state;
    assert_int_equal(metrics_recent_second(m, 0), m * 60 + 59);           /* unknown */
    assert_int_equal(metrics_recent_second(m, (m * 60 + 59) * 1000 + 999), m * 60 + 59);
    assert_int_equal(metrics_recent_second(m, (m * 60 + 60) * 1000 + 1), m * 60 + 60);
    assert_int_equal(metrics_recent_second(m, (m * 60 + 500) * 1000), m * 60 + 119); /* clock step */
    assert_int_equal(metrics_recent_second(m, 1000), m * 60);                       /* clock step */

    /* Only ROLLOUT aggregates at or after the mark get a recent row. */
    assert_int_equal(metrics_retention_init(st, &o, T_NOW, NULL), ROOST_OK);
    {
        struct batch *b = batch_new("c", 1, "api", "prod", "v2");
        double v = 1;
        batch_add(b, KIND_ROLLOUT, "r", "canary", "latency_ms", m, 0, &v, 1, 1);
        batch_add(b, KIND_ROLLOUT, "r", "canary", "latency_ms", T_NOW / 60 - 5, 0, &v, 1, 1);
        batch_add(b, KIND_FLAG, "f", "on", "latency_ms", m, 0, &v, 1, 1);
        batch_add(b, KIND_EXPERIMENT, "e", "a", "latency_ms", m, 0, &v, 1, 1);
        batch_ingest(st, b, T_NOW + 60);
        free(b);
    }
    assert_int_equal(table_rows(st, TBL_METRICS), 4);
    assert_int_equal(table_rows(st, TBL_METRICS_RECENT), 1);
}

static void no_recent_rows_without_a_mark_or_when_switched_off(void **state)
{
    struct metrics_retention_options o = retention_opts(14 * 86400, 400 * 86400, 0);
    struct window *w = window_new();
    struct batch *b;
    double v = 1;

    (void)state;
    /* A store nobody initialised (no mark): no recent rows, minute answers. */
    b = batch_new("c", 1, "api", "prod", "v2");
    batch_add(b, KIND_ROLLOUT, "r", "canary", "latency_ms", T_NOW / 60, 0, &v, 1, 1);
    batch_ingest(st, b, T_NOW);
    free(b);
    assert_int_equal(table_rows(st, TBL_METRICS_RECENT), 0);
    assert_false(window_get(w, st, KIND_ROLLOUT, "r", "canary", "latency_ms", T_NOW - 60, T_NOW + 60)->recent);

    /* Switched off: same. */
    assert_int_equal(metrics_retention_init(st, &o, T_NOW, NULL), ROOST_OK);
    b = batch_new("c", 2, "api", "prod", "v2");
    batch_add(b, KIND_ROLLOUT, "r", "canary", "latency_ms", T_NOW / 60 + 1, 0, &v, 1, 1);
    batch_ingest(st, b, T_NOW);
    free(b);
    assert_int_equal(table_rows(st, TBL_METRICS_RECENT), 0);
    assert_int_equal(window_get(w, st, KIND_ROLLOUT, "r", "canary", "latency_ms", T_NOW, T_NOW + 120)->count, 1);

    /* Switched back on at T_NOW + 600: recent rows from then on. */
    o.recent_keep_s = 3600;
    assert_int_equal(metrics_retention_init(st, &o, T_NOW + 600, NULL), ROOST_OK);
    b = batch_new("c", 3, "api", "prod", "v2");
    batch_add(b, KIND_ROLLOUT, "r", "canary", "latency_ms", (T_NOW + 600) / 60 + 1, 0, &v, 1, 1);
    batch_ingest(st, b, T_NOW + 600);
    free(b);
    assert_int_equal(table_rows(st, TBL_METRICS_RECENT), 1);
    assert_true(window_get(w, st, KIND_ROLLOUT, "r", "canary", "latency_ms", T_NOW + 600, T_NOW + 900)->recent);
    free(w);
}

/* ---- listing and arguments --------------------------------------------- */

static void series_are_listed_once_sorted_and_filtered(void **state)
{
    struct metrics_series_name names[8];
    struct batch *b = batch_new("c", 1, "api", "prod", "v2");
    struct store_txn t;
    double v = 1;
    size_t n;

    (void)state;
    batch_add(b, KIND_FLAG, "f", "on", "latency_ms", M0, 0, &v, 1, 1);
    batch_add(b, KIND_FLAG, "f", "on", "latency_ms", M0 + 1, 0, &v, 1, 1);
    batch_add(b, KIND_FLAG, "f", "on", "errors", M0, 0, &v, 1, 1);
    batch_add(b, KIND_FLAG, "f", "off", "latency_ms", M0, 0, &v, 1, 1);
    batch_add(b, KIND_FLAG, "f2", "on", "latency_ms", M0, 0, &v, 1, 1);
    batch_add(b, KIND_FLAG, "", "x", "y", M0, 0, &v, 1, 1)->scope_key = "f-";
    batch_ingest(st, b, T_NOW);
    free(b);
    {
        /* another label set of f/on/latency_ms */
        struct batch *b2 = batch_new("c", 2, "web", "prod", "v2");
        batch_add(b2, KIND_FLAG, "f", "on", "latency_ms", M0, 0, &v, 1, 1);
        batch_ingest(st, b2, T_NOW);
        free(b2);
    }

    assert_int_equal(store_begin(st, false, &t, NULL), ROOST_OK);
    assert_int_equal(metrics_list_series(&t, KIND_FLAG, "f", NULL, NULL, names, 8, &n, NULL), ROOST_OK);
    assert_int_equal(n, 3);
    assert_string_equal(names[0].arm, "off");
    assert_string_equal(names[1].arm, "on");
    assert_string_equal(names[1].metric, "errors");
    assert_string_equal(names[2].metric, "latency_ms");
    assert_int_equal(metrics_list_series(&t, KIND_FLAG, "f", "", "latency_ms", names, 8, &n, NULL), ROOST_OK);
    assert_int_equal(n, 2);
    assert_int_equal(metrics_list_series(&t, KIND_FLAG, "f", "on", "", names, 8, &n, NULL), ROOST_OK);
    assert_int_equal(n, 2);
    assert_int_equal(metrics_list_series(&t, KIND_FLAG, "f", "on", "errors", names, 8, &n, NULL), ROOST_OK);
    assert_int_equal(n, 1);
    assert_int_equal(metrics_list_series(&t, KIND_FLAG, "nope", NULL, NULL, names, 8, &n, NULL), ROOST_OK);
    assert_int_equal(n, 0);
    assert_int_equal(metrics_list_series(&t, KIND_FLAG, "f", NULL, NULL, names, 2, &n, NULL), ROOST_ELIMIT);
    store_abort(&t);
}

static void bad_windows_are_refused_with_a_reason(void **state)
{
    struct window *w = window_new();
    struct metrics_selector sel = {KIND_FLAG, "f", "on", "latency_ms", NULL, NULL, NULL};
    char long_name[200];
    roost_error err = {0};

    (void)state;
    assert_int_equal(metrics_window(st, &sel, 100, 100, &w->agg, &err), ROOST_EINVAL);
    assert_non_null(strstr(err.msg, "end after it starts"));
    assert_int_equal(metrics_window(st, &sel, -5, 100, &w->agg, &err), ROOST_EINVAL);
    sel.metric = "";
    assert_int_equal(metrics_window(st, &sel, 0, 100, &w->agg, &err), ROOST_EINVAL);
    assert_non_null(strstr(err.msg, "metric"));
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    sel.metric = "latency_ms";
    sel.scope_key = long_name;
    assert_int_equal(metrics_window(st, &sel, 0, 100, &w->agg, &err), ROOST_EINVAL);
    assert_non_null(strstr(err.msg, "too long"));
    free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(window_merges_every_minute_in_range, store_setup,
                                        store_teardown),
        cmocka_unit_test_setup_teardown(window_merges_label_sets_unless_one_is_named, store_setup,
                                        store_teardown),
        cmocka_unit_test_setup_teardown(steps_tile_a_range_and_count_each_outcome_once, store_setup,
                                        store_teardown),
        cmocka_unit_test_setup_teardown(
            quantiles_of_merged_sketches_stay_within_one_percent, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(
            rollout_windows_after_the_mark_are_answered_to_the_second, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(
            recent_rows_are_filed_by_interval_end_clamped_to_two_minutes,
            store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(
            no_recent_rows_without_a_mark_or_when_switched_off, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(series_are_listed_once_sorted_and_filtered, store_setup,
                                        store_teardown),
        cmocka_unit_test_setup_teardown(bad_windows_are_refused_with_a_reason, store_setup,
                                        store_teardown),
    };
    return roost_run_tests("metrics_query", tests);
}
