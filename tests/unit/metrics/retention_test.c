/* Retention against a real LMDB store: minute rows rolled into hour rows
 * without changing a single count, sum or sketch bucket; late rows joining
 * their hour; expiry of hour and 1-second rows; the recent-rows mark; and a
 * pass in small batches while another thread keeps ingesting. */
#include <pthread.h>
#include <stdatomic.h>

#include "metrics_test_util.h"

/* An hour-aligned base far before T_NOW: hour H0 starts at minute H0M. */
static const int64_t H0 = T_NOW / 3600 - 100;
#define H0M (H0 * 60)

/* Two series, three hours of minutes, integer values (sums are exact in
 * any order), a sketch per aggregate. */
static void fill_three_hours(void)
{
    struct mrng r = {7};
    uint64_t seq = 1;

    for (int h = 0; h < 3; h++) {
        struct batch *b = batch_new("c", seq++, "api", "prod", "v1");
        for (int m = 0; m < 60; m++) {
            double v[8];
            for (int i = 0; i < 8; i++)
                v[i] = (double)(1 + mrng_next(&r) % 900);
            batch_add(b, KIND_FLAG, "f", "on", "latency_ms", H0M + h * 60 + m, 0, v, 8, 7);
            batch_add(b, KIND_FLAG, "f", "off", "latency_ms", H0M + h * 60 + m, 0, v, 1 + m % 8,
                      1);
        }
        batch_ingest(st, b, T_NOW);
        free(b);
    }
}

static void assert_same_window(const struct metrics_agg *a, const struct metrics_agg *b)
{
    assert_int_equal(a->count, b->count);
    assert_int_equal(a->successes, b->successes);
    assert_true(a->sum == b->sum);
    assert_true(a->sum_squares == b->sum_squares);
    assert_int_equal(a->sketch.count, b->sketch.count);
    assert_int_equal(a->sketch.len, b->sketch.len);
    assert_true(a->sketch.min == b->sketch.min && a->sketch.max == b->sketch.max);
    assert_int_equal(a->sketch.collapsed, b->sketch.collapsed);
    assert_memory_equal(a->sketch.buckets, b->sketch.buckets,
                        a->sketch.len * sizeof a->sketch.buckets[0]);
}

static void rollup_keeps_counts_sums_and_sketches_identical(void **state)
{
    const struct metrics_retention_options o = retention_opts(3600, 400 * 86400, 86400);
    struct window *before[2][4], *after = window_new();
    struct metrics_retention_stats s;
    const char *arms[2] = {"on", "off"};
    roost_error err = {0};

    (void)state;
    fill_three_hours();
    assert_int_equal(table_rows(st, TBL_METRICS), 360);
    /* Per series: each hour, and the three hours together. */
    for (int a = 0; a < 2; a++)
        for (int w = 0; w < 4; w++) {
            int64_t from = w < 3 ? (H0 + w) * 3600 : H0 * 3600, to = w < 3 ? from + 3600 : (H0 + 3) * 3600;
            before[a][w] = window_new();
            window_get(before[a][w], st, KIND_FLAG, "f", arms[a], "latency_ms", from, to);
            assert_int_equal(before[a][w]->agg.resolution_s, 60);
        }

    /* At (H0 + 3)h + 50 min, hours H0 and H0 + 1 ended more than the
     * retention (1 h) ago and roll up; H0 + 2 ended 50 minutes ago and
     * stays in minutes. */
    if (metrics_retention_pass(st, &o, (H0 + 3) * 3600 + 3000, NULL, &s, &err) != ROOST_OK)
        fail_msg("pass: %s", err.msg);
    assert_int_equal(s.rolled_minutes, 240);
    assert_int_equal(s.skipped, 0);
    assert_int_equal(table_rows(st, TBL_METRICS), 120);
    assert_int_equal(table_rows(st, TBL_METRICS_HOURS), 4);

    for (int a = 0; a < 2; a++)
        for (int w = 0; w < 4; w++) {
            int64_t from = w < 3 ? (H0 + w) * 3600 : H0 * 3600, to = w < 3 ? from + 3600 : (H0 + 3) * 3600;
            window_get(after, st, KIND_FLAG, "f", arms[a], "latency_ms", from, to);
            assert_same_window(&before[a][w]->agg, &after->agg);
            assert_int_equal(after->agg.resolution_s, w == 2 ? 60 : 3600);
        }

    /* The next hour's pass rolls the third hour too; nothing changes. */
    assert_int_equal(metrics_retention_pass(st, &o, (H0 + 4) * 3600 + 1, NULL, &s, &err), ROOST_OK);
    assert_int_equal(s.rolled_minutes, 120);
    assert_int_equal(table_rows(st, TBL_METRICS), 0);
    assert_int_equal(table_rows(st, TBL_METRICS_HOURS), 6);
    for (int a = 0; a < 2; a++) {
        window_get(after, st, KIND_FLAG, "f", arms[a], "latency_ms", H0 * 3600, (H0 + 3) * 3600);
        assert_same_window(&before[a][3]->agg, &after->agg);
        for (int w = 0; w < 4; w++)
            free(before[a][w]);
    }
    /* A pass with nothing to do commits nothing. */
    assert_int_equal(metrics_retention_pass(st, &o, (H0 + 4) * 3600 + 2, NULL, &s, &err), ROOST_OK);
    assert_int_equal(s.transactions, 0);
    free(after);
}

static void late_minutes_of_a_rolled_hour_join_its_hour_row(void **state)
{
    const struct metrics_retention_options o = retention_opts(3600, 400 * 86400, 86400);
    struct window *w = window_new();
    struct batch *b;
    double v[2] = {3, 4};
    uint64_t total;

    (void)state;
    fill_three_hours();
    assert_int_equal(metrics_retention_pass(st, &o, (H0 + 5) * 3600, NULL, NULL, NULL), ROOST_OK);
    total = window_get(w, st, KIND_FLAG, "f", "on", "latency_ms", H0 * 3600, (H0 + 1) * 3600)->count;

    /* An SDK that was away for days delivers minute 17 of hour H0. */
    b = batch_new("late", 1, "api", "prod", "v1");
    batch_add(b, KIND_FLAG, "f", "on", "latency_ms", H0M + 17, 0, v, 2, 2);
    batch_ingest(st, b, T_NOW);
    free(b);
    /* Counted at once (a minute row), and still after the next pass (in the
     * same hour row). */
    assert_int_equal(window_get(w, st, KIND_FLAG, "f", "on", "latency_ms", H0 * 3600, (H0 + 1) * 3600)->count, total + 2);
    assert_int_equal(metrics_retention_pass(st, &o, (H0 + 5) * 3600, NULL, NULL, NULL), ROOST_OK);
    assert_int_equal(table_rows(st, TBL_METRICS), 0);
    assert_int_equal(table_rows(st, TBL_METRICS_HOURS), 6);
    assert_int_equal(window_get(w, st, KIND_FLAG, "f", "on", "latency_ms", H0 * 3600, (H0 + 1) * 3600)->count, total + 2);
    free(w);
}

static void hour_rows_expire_after_the_hour_retention(void **state)
{
    const struct metrics_retention_options o = retention_opts(3600, 2 * 3600, 86400);
    struct metrics_retention_stats s;
    struct window *w = window_new();

    (void)state;
    fill_three_hours();
    /* At H0+4h: hours H0, H0+1 ended 3 h and 2 h ago (expired: retention
     * 2 h); H0+2 ended 1 h ago: rolled, kept. */
    assert_int_equal(metrics_retention_pass(st, &o, (H0 + 4) * 3600, NULL, &s, NULL), ROOST_OK);
    assert_int_equal(s.rolled_minutes, 360);
    assert_int_equal(s.deleted_hours, 4);
    assert_int_equal(table_rows(st, TBL_METRICS_HOURS), 2);
    assert_int_equal(window_get(w, st, KIND_FLAG, "f", "on", "latency_ms", 0, T_NOW)->count, 60 * 8);
    free(w);
}

static void recent_rows_expire_and_the_mark_only_moves_forward(void **state)
{
    const struct metrics_retention_options o = retention_opts(14 * 86400, 400 * 86400, 600);
    const int64_t t0 = T_NOW;
    struct metrics_retention_stats s;
    struct store_txn t;
    int64_t mark;
    uint64_t seq = 1;

    (void)state;
    assert_int_equal(metrics_retention_init(st, &o, t0, NULL), ROOST_OK);
    /* One rollout aggregate per minute for 20 minutes from t0. */
    for (int m = 0; m < 20; m++) {
        struct batch *b = batch_new("c", seq++, "api", "prod", "v2");
        double v = 10;
        int64_t minute = t0 / 60 + 1 + m;
        batch_add(b, KIND_ROLLOUT, "r", "canary", "latency_ms", minute, (minute * 60 + 30) * 1000, &v, 1, 1);
        batch_ingest(st, b, minute * 60 + 31);
        free(b);
    }
    assert_int_equal(table_rows(st, TBL_METRICS_RECENT), 20);
    /* Ten minutes of retention at t0 + 21 min: rows older than t0 + 11 min go. */
    assert_int_equal(metrics_retention_pass(st, &o, t0 + 21 * 60, NULL, &s, NULL), ROOST_OK);
    assert_int_equal(store_begin(st, false, &t, NULL), ROOST_OK);
    assert_int_equal(metrics_recent_from(&t, &mark, NULL), ROOST_OK);
    store_abort(&t);
    assert_int_equal(mark, t0 + 11 * 60);
    assert_int_equal(s.deleted_recent, table_rows(st, TBL_METRICS) - table_rows(st, TBL_METRICS_RECENT));
    assert_true(s.deleted_recent >= 9 && s.deleted_recent <= 11);
    /* A pass with an earlier clock (a clock step back) does not lower it. */
    assert_int_equal(metrics_retention_pass(st, &o, t0, NULL, &s, NULL), ROOST_OK);
    assert_int_equal(store_begin(st, false, &t, NULL), ROOST_OK);
    assert_int_equal(metrics_recent_from(&t, &mark, NULL), ROOST_OK);
    store_abort(&t);
    assert_int_equal(mark, t0 + 11 * 60);
    /* Minute rows are untouched by the recent retention. */
    assert_int_equal(table_rows(st, TBL_METRICS), 20);
}

/* ---- compaction while ingest continues ---------------------------------- */

struct ingester {
    atomic_bool stop;
    uint64_t outcomes; /* stored by the thread; read after join */
    _Atomic uint64_t batches;
};

static void *ingest_loop(void *arg)
{
    struct ingester *in = arg;
    uint64_t seq = 1;

    while (!atomic_load(&in->stop)) {
        struct batch *b = batch_new("live", seq, "api", "prod", "v1");
        double v[3] = {1, 2, 3};
        roost_error err = {0};
        struct metrics_ingest_result res;

        /* Some aggregates for minutes the pass is rolling up right now. */
        for (int i = 0; i < 20; i++)
            batch_add(b, KIND_FLAG, "f", i % 2 ? "on" : "off", "latency_ms",
                      H0M + (int64_t)((seq * 7 + (uint64_t)i * 13) % 180), 0, v, 3, 3);
        if (metrics_ingest(st, &b->req, T_NOW, &res, &err) != ROOST_OK) {
            fprintf(stderr, "ingest failed: %s\n", err.msg);
            free(b);
            return NULL;
        }
        in->outcomes += 60;
        in->batches++;
        seq++;
        free(b);
    }
    return NULL;
}

static void compaction_runs_in_small_batches_while_ingest_continues(void **state)
{
    struct metrics_retention_options o = retention_opts(3600, 400 * 86400, 86400);
    struct ingester in = {0};
    struct metrics_retention_stats s;
    struct window *w = window_new();
    pthread_t th;
    uint64_t before, on, off;
    roost_error err = {0};

    (void)state;
    fill_three_hours();
    before = window_get(w, st, KIND_FLAG, "f", "on", "latency_ms", 0, T_NOW)->count +
             window_get(w, st, KIND_FLAG, "f", "off", "latency_ms", 0, T_NOW)->count;
    o.batch_rows = 16;
    o.pause_us = 200;
    atomic_init(&in.stop, false);
    assert_int_equal(pthread_create(&th, NULL, ingest_loop, &in), 0);
    /* Passes until the ingester got some batches in between. */
    for (int i = 0; i < 50 && in.batches < 20; i++) {
        if (metrics_retention_pass(st, &o, (H0 + 5) * 3600, NULL, &s, &err) != ROOST_OK)
            fail_msg("pass: %s", err.msg);
        assert_true(s.max_txn_rows <= 16);
        if (i == 0) {
            assert_true(s.rolled_minutes >= 360);
            assert_true(s.transactions >= 360 / 16);
        }
    }
    atomic_store(&in.stop, true);
    pthread_join(th, NULL);
    assert_true(in.batches > 0);
    /* Roll up whatever came in last, then count everything. */
    assert_int_equal(metrics_retention_pass(st, &o, (H0 + 5) * 3600, NULL, &s, &err), ROOST_OK);
    assert_int_equal(table_rows(st, TBL_METRICS), 0);
    on = window_get(w, st, KIND_FLAG, "f", "on", "latency_ms", 0, T_NOW)->count;
    off = window_get(w, st, KIND_FLAG, "f", "off", "latency_ms", 0, T_NOW)->count;
    assert_int_equal(on + off, before + in.outcomes);
    free(w);
}

static void a_pass_stops_between_batches_when_asked(void **state)
{
    struct metrics_retention_options o = retention_opts(3600, 400 * 86400, 86400);
    struct metrics_retention_stats s;
    atomic_bool stop;

    (void)state;
    fill_three_hours();
    o.batch_rows = 8;
    atomic_init(&stop, true);
    assert_int_equal(metrics_retention_pass(st, &o, (H0 + 5) * 3600, &stop, &s, NULL), ROOST_OK);
    assert_int_equal(s.transactions, 0);
    assert_int_equal(table_rows(st, TBL_METRICS), 360);
}

/* ---- options ------------------------------------------------------------ */

static void durations_parse_like_people_write_them(void **state)
{
    int64_t s;

    (void)state;
    assert_true(metrics_duration_parse("14d", &s) && s == 14 * 86400);
    assert_true(metrics_duration_parse("24h", &s) && s == 86400);
    assert_true(metrics_duration_parse("1d12h", &s) && s == 36 * 3600);
    assert_true(metrics_duration_parse("90m", &s) && s == 5400);
    assert_true(metrics_duration_parse("3600s", &s) && s == 3600);
    assert_true(metrics_duration_parse("0", &s) && s == 0);
    assert_false(metrics_duration_parse("", &s));
    assert_false(metrics_duration_parse("14", &s));
    assert_false(metrics_duration_parse("h", &s));
    assert_false(metrics_duration_parse("-1d", &s));
    assert_false(metrics_duration_parse("1h1d", &s));
    assert_false(metrics_duration_parse("1d1d", &s));
    assert_false(metrics_duration_parse("1.5d", &s));
    assert_false(metrics_duration_parse("99999999999999999999d", &s));
    assert_false(metrics_duration_parse("9999999999999999d", &s));
}

static void retention_options_that_cannot_work_are_refused(void **state)
{
    struct metrics_retention_options o;
    roost_error err = {0};

    (void)state;
    metrics_retention_defaults(&o);
    assert_int_equal(metrics_retention_check(&o, &err), ROOST_OK);
    assert_int_equal(o.minute_keep_s, 14 * 86400);
    assert_int_equal(o.hour_keep_s, 400 * 86400);
    assert_int_equal(o.recent_keep_s, 86400);
    o.hour_keep_s = 7 * 86400;
    assert_int_equal(metrics_retention_check(&o, &err), ROOST_EINVAL);
    assert_non_null(strstr(err.msg, "--metrics-hour-retention (7d)"));
    metrics_retention_defaults(&o);
    o.minute_keep_s = 1800;
    assert_int_equal(metrics_retention_check(&o, &err), ROOST_EINVAL);
    assert_non_null(strstr(err.msg, "--metrics-minute-retention is 30m"));
    metrics_retention_defaults(&o);
    o.recent_keep_s = 30;
    assert_int_equal(metrics_retention_check(&o, &err), ROOST_EINVAL);
    assert_non_null(strstr(err.msg, "--metrics-recent-retention"));
    o.recent_keep_s = 0;
    assert_int_equal(metrics_retention_check(&o, &err), ROOST_OK);
}

static void the_background_thread_starts_and_stops_promptly(void **state)
{
    struct metrics_retention_options o = retention_opts(3600, 400 * 86400, 86400);
    struct metrics_retention *r = NULL;
    struct store_txn t;
    int64_t mark;

    (void)state;
    o.interval_s = 3600;
    assert_int_equal(metrics_retention_start(st, &o, &r, NULL), ROOST_OK);
    /* The mark is set before start returns. */
    assert_int_equal(store_begin(st, false, &t, NULL), ROOST_OK);
    assert_int_equal(metrics_recent_from(&t, &mark, NULL), ROOST_OK);
    store_abort(&t);
    assert_true(mark != METRICS_RECENT_OFF && mark > T_NOW);
    metrics_retention_stop(r); /* does not wait for the hour */
    metrics_retention_stop(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            rollup_keeps_counts_sums_and_sketches_identical, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(
            late_minutes_of_a_rolled_hour_join_its_hour_row, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(hour_rows_expire_after_the_hour_retention, store_setup,
                                        store_teardown),
        cmocka_unit_test_setup_teardown(
            recent_rows_expire_and_the_mark_only_moves_forward, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(
            compaction_runs_in_small_batches_while_ingest_continues, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(a_pass_stops_between_batches_when_asked, store_setup,
                                        store_teardown),
        cmocka_unit_test(durations_parse_like_people_write_them),
        cmocka_unit_test(retention_options_that_cannot_work_are_refused),
        cmocka_unit_test_setup_teardown(
            the_background_thread_starts_and_stops_promptly, store_setup, store_teardown),
    };
    return roost_run_tests("metrics_retention", tests);
}
