/* roost-sim's simulated metrics store answers windows the way roostd's
 * controller reads them: whole seconds (from_ms/1000 .. to_ms/1000), rows
 * visible one SDK flush interval late, a 10 s flush filing ten seconds of
 * traffic under the interval's last second, and sketches that hold the
 * window's latencies. */
#include <math.h>
#include <string.h>

#include "testmain.h"
#include "tools/sim/series.h"

#define T0 1795687200000LL

/* Appends n seconds; second u has u + 1 baseline requests (u of them
 * successes) and 10 canary requests with 1 failure. */
static void fill(struct sim_series *s, int n)
{
    roost_error err = {0};

    for (int u = 0; u < n; u++) {
        struct sim_second sec[2];
        memset(sec, 0, sizeof sec);
        sec[ROLLOUT_ARM_BASELINE].count = (uint64_t)u + 1;
        sec[ROLLOUT_ARM_BASELINE].successes = (uint64_t)u;
        sec[ROLLOUT_ARM_CANARY].count = 10;
        sec[ROLLOUT_ARM_CANARY].successes = 9;
        sec[ROLLOUT_ARM_CANARY].sum = 100;
        sec[ROLLOUT_ARM_CANARY].sum_squares = 1000;
        if (sim_series_append(s, sec, &err) != ROOST_OK)
            fail_msg("append: %s", err.msg);
    }
}

static void windows_read_whole_seconds_like_roostd(void **state)
{
    struct sim_series s;
    struct rollout_window w;
    roost_error err = {0};
    (void)state;

    assert_int_equal(sim_series_init(&s, T0, 1000, &err), ROOST_OK);
    fill(&s, 60);
    /* [10.9 s, 20.5 s) reads seconds 10 .. 19 */
    sim_series_window(&s, ROLLOUT_ARM_BASELINE, T0 + 10900, T0 + 20500, T0 + 60000, NULL, &w);
    assert_int_equal(w.count, 11 + 12 + 13 + 14 + 15 + 16 + 17 + 18 + 19 + 20);
    assert_int_equal(w.successes, w.count - 10);
    assert_null(w.sketch);
    sim_series_window(&s, ROLLOUT_ARM_CANARY, T0, T0 + 30000, T0 + 60000, NULL, &w);
    assert_int_equal(w.count, 300);
    assert_int_equal(w.successes, 270);
    assert_true(fabs(w.sum - 3000) < 1e-9 && fabs(w.sum_squares - 30000) < 1e-9);
    /* an empty range is a window without data */
    sim_series_window(&s, ROLLOUT_ARM_CANARY, T0 + 5500, T0 + 5900, T0 + 60000, NULL, &w);
    assert_int_equal(w.count, 0);
    /* before the start there is nothing */
    sim_series_window(&s, ROLLOUT_ARM_CANARY, T0 - 3600000, T0 + 1000, T0 + 60000, NULL, &w);
    assert_int_equal(w.count, 10);
    sim_series_free(&s);
}

static void rows_become_visible_when_their_second_is_flushed(void **state)
{
    struct sim_series s;
    struct rollout_window w;
    roost_error err = {0};
    (void)state;

    assert_int_equal(sim_series_init(&s, T0, 1000, &err), ROOST_OK);
    fill(&s, 20);
    /* at 10.999 s only seconds 0 .. 9 have been flushed */
    sim_series_window(&s, ROLLOUT_ARM_CANARY, T0, T0 + 20000, T0 + 10999, NULL, &w);
    assert_int_equal(w.count, 100);
    sim_series_window(&s, ROLLOUT_ARM_CANARY, T0, T0 + 20000, T0 + 11000, NULL, &w);
    assert_int_equal(w.count, 110);
    sim_series_free(&s);
}

static void ten_second_flush_files_the_interval_under_its_last_second(void **state)
{
    struct sim_series s;
    struct rollout_window w;
    roost_error err = {0};
    (void)state;

    assert_int_equal(sim_series_init(&s, T0, 10000, &err), ROOST_OK);
    fill(&s, 30);
    /* seconds 0 .. 9 are all filed under second 9 */
    assert_int_equal(sim_series_first_second_filed_at(&s, T0 / 1000 + 9), 0);
    assert_int_equal(sim_series_first_second_filed_at(&s, T0 / 1000 + 10), 10);
    sim_series_window(&s, ROLLOUT_ARM_CANARY, T0, T0 + 9000, T0 + 30000, NULL, &w);
    assert_int_equal(w.count, 0);
    sim_series_window(&s, ROLLOUT_ARM_CANARY, T0 + 9000, T0 + 10000, T0 + 30000, NULL, &w);
    assert_int_equal(w.count, 100);
    /* and reach the store with the flush at 10 s, not before */
    sim_series_window(&s, ROLLOUT_ARM_CANARY, T0, T0 + 30000, T0 + 9999, NULL, &w);
    assert_int_equal(w.count, 0);
    sim_series_window(&s, ROLLOUT_ARM_CANARY, T0, T0 + 30000, T0 + 10000, NULL, &w);
    assert_int_equal(w.count, 100);
    /* a window that ends mid-interval misses the interval's traffic */
    sim_series_window(&s, ROLLOUT_ARM_CANARY, T0 + 10000, T0 + 25000, T0 + 30000, NULL, &w);
    assert_int_equal(w.count, 100);
    sim_series_free(&s);
}

static void window_sketch_holds_the_windows_latencies(void **state)
{
    struct sim_series s;
    struct rollout_window w;
    roost_sketch sk;
    roost_sketch_bucket buckets[SIM_SKETCH_CAP];
    roost_error err = {0};
    double q;
    (void)state;

    assert_int_equal(sim_series_init(&s, T0, 1000, &err), ROOST_OK);
    assert_int_equal(roost_sketch_init(&sk, buckets, SIM_SKETCH_CAP), ROOST_OK);
    /* second u: 100 canary requests, 99 at 10 ms and one at 100 + u ms */
    for (int u = 0; u < 10; u++) {
        struct sim_second sec[2];
        roost_sketch_bucket b[2] = {{99, roost_sketch_key(10)}, {1, roost_sketch_key(100 + u)}};
        memset(sec, 0, sizeof sec);
        sec[1].count = sec[1].successes = 100;
        sec[1].buckets = b;
        sec[1].nbuckets = 2;
        assert_int_equal(sim_series_append(&s, sec, &err), ROOST_OK);
    }
    sim_series_window(&s, ROLLOUT_ARM_CANARY, T0 + 5000, T0 + 10000, T0 + 10000, &sk, &w);
    assert_ptr_equal(w.sketch, &sk);
    assert_int_equal(sk.count, 500);
    assert_int_equal(roost_sketch_quantile(&sk, 0.5, &q), ROOST_OK);
    assert_true(fabs(q / 10 - 1) < 0.011);
    assert_int_equal(roost_sketch_quantile(&sk, 1.0, &q), ROOST_OK);
    assert_true(fabs(q / 109 - 1) < 0.011); /* second 9's slow request */
    /* reusing the sketch clears it */
    sim_series_window(&s, ROLLOUT_ARM_CANARY, T0, T0 + 1000, T0 + 10000, &sk, &w);
    assert_int_equal(sk.count, 100);
    sim_series_free(&s);
}

static void bad_input_is_refused_and_nothing_is_appended(void **state)
{
    struct sim_series s;
    struct sim_second sec[2];
    roost_sketch_bucket unsorted[2] = {{1, 5}, {1, 3}};
    roost_error err = {0};
    (void)state;

    assert_int_equal(sim_series_init(&s, T0 + 500, 1000, &err), ROOST_EINVAL);
    assert_int_equal(sim_series_init(&s, T0, 1500, &err), ROOST_EINVAL);
    assert_non_null(strstr(err.msg, "whole number of seconds"));
    assert_int_equal(sim_series_init(&s, T0, 1000, &err), ROOST_OK);
    memset(sec, 0, sizeof sec);
    sec[0].count = 1;
    sec[0].successes = 2;
    assert_int_equal(sim_series_append(&s, sec, &err), ROOST_EINVAL);
    sec[0].successes = 1;
    sec[1].buckets = unsorted;
    sec[1].nbuckets = 2;
    assert_int_equal(sim_series_append(&s, sec, &err), ROOST_EINVAL);
    assert_int_equal(s.n, 0);
    sim_series_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(windows_read_whole_seconds_like_roostd),
        cmocka_unit_test(rows_become_visible_when_their_second_is_flushed),
        cmocka_unit_test(ten_second_flush_files_the_interval_under_its_last_second),
        cmocka_unit_test(window_sketch_holds_the_windows_latencies),
        cmocka_unit_test(bad_input_is_refused_and_nothing_is_appended),
    };
    return roost_run_tests("sim_series", tests);
}
