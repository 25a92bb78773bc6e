/* Latency sketch: error bound against exact quantiles on skewed data,
 * merging, the bucket cap, and the byte encoding on trusted and untrusted
 * input. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "roost/sketch.h"
#include "rng.h"
#include "testmain.h"

#define BIG_CAP 4096
#define ALPHA_SLACK (ROOST_SKETCH_ALPHA * (1 + 1e-9))

static roost_sketch_bucket g_b1[BIG_CAP], g_b2[BIG_CAP], g_b3[BIG_CAP];
static uint8_t g_buf[ROOST_SKETCH_ENCODED_MAX(BIG_CAP)];

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

typedef double (*gen_fn)(roost_rng *);

static double gen_lognormal(roost_rng *r)
{
    return roost_rng_lognormal(r, log(20.0), 1.0); /* median 20 ms */
}

static double gen_bimodal(roost_rng *r)
{
    /* cache hits around 2 ms, misses around 150 ms */
    return roost_rng_uniform(r) < 0.7 ? roost_rng_lognormal(r, log(2.0), 0.25)
                                      : roost_rng_lognormal(r, log(150.0), 0.4);
}

static double gen_pareto(roost_rng *r)
{
    return roost_rng_pareto(r, 1.0, 1.1); /* infinite variance */
}

/* Fills a sketch with n values from gen, checks every quantile on a fine
 * grid against the exact order statistic, returns the worst relative error. */
static double check_error_bound(gen_fn gen, uint64_t seed, size_t n)
{
    static const double extra[] = {0.0,    0.0001, 0.001, 0.999, 0.9999,
                                   0.99999, 1.0};
    double *xs = malloc(n * sizeof *xs), worst = 0.0;
    roost_sketch s;
    roost_rng r;
    size_t i;

    assert_non_null(xs);
    roost_rng_seed(&r, seed);
    assert_int_equal(roost_sketch_init(&s, g_b1, BIG_CAP), ROOST_OK);
    for (i = 0; i < n; i++) {
        xs[i] = gen(&r);
        assert_int_equal(roost_sketch_add(&s, xs[i]), ROOST_OK);
    }
    qsort(xs, n, sizeof *xs, cmp_double);
    assert_false(s.collapsed);
    assert_true(s.count == n);
    assert_true(s.min == xs[0] && s.max == xs[n - 1]);
    for (i = 0; i <= 1000 + sizeof extra / sizeof extra[0]; i++) {
        double q = i <= 1000 ? (double)i / 1000.0 : extra[i - 1001], est, exact, rel;
        assert_int_equal(roost_sketch_quantile(&s, q, &est), ROOST_OK);
        exact = xs[(size_t)floor(q * (double)(n - 1))];
        rel = fabs(est - exact) / fabs(exact);
        if (rel > worst)
            worst = rel;
        if (rel > ALPHA_SLACK)
            fail_msg("q=%g: sketch %.9g, exact %.9g, relative error %.5f", q, est, exact, rel);
    }
    free(xs);
    return worst;
}

static void quantiles_stay_within_one_percent_on_lognormal_latencies(void **state)
{
    (void)state;
    printf("  lognormal: worst relative error %.5f\n",
           check_error_bound(gen_lognormal, 1, 200000));
}

static void quantiles_stay_within_one_percent_on_bimodal_latencies(void **state)
{
    (void)state;
    printf("  bimodal: worst relative error %.5f\n", check_error_bound(gen_bimodal, 2, 200000));
}

static void quantiles_stay_within_one_percent_on_pareto_heavy_tail(void **state)
{
    (void)state;
    printf("  pareto(1.1): worst relative error %.5f\n",
           check_error_bound(gen_pareto, 3, 200000));
}

static void same_buckets(const roost_sketch *a, const roost_sketch *b)
{
    size_t i;

    assert_int_equal(a->len, b->len);
    assert_true(a->count == b->count);
    assert_true(a->min == b->min);
    assert_true(a->max == b->max);
    assert_int_equal(a->collapsed, b->collapsed);
    for (i = 0; i < a->len; i++) {
        assert_int_equal(a->buckets[i].key, b->buckets[i].key);
        assert_true(a->buckets[i].count == b->buckets[i].count);
    }
    assert_true(fabs(a->sum - b->sum) <= 1e-9 * fabs(a->sum));
}

/* Five part-sketches of the same stream, merged in several orders, must
 * equal each other and (without a cap) the sketch of the whole stream. */
static void merge_order_does_not_change_the_result(size_t cap)
{
    static roost_sketch_bucket parts_mem[5][BIG_CAP];
    static const int orders[4][5] = {{0, 1, 2, 3, 4}, {4, 3, 2, 1, 0}, {2, 0, 4, 1, 3},
                                     {3, 4, 0, 2, 1}};
    roost_sketch parts[5], whole, merged[4];
    static roost_sketch_bucket merged_mem[4][BIG_CAP];
    roost_rng r;
    int i, o;

    roost_rng_seed(&r, 42);
    assert_int_equal(roost_sketch_init(&whole, g_b2, cap), ROOST_OK);
    for (i = 0; i < 5; i++)
        assert_int_equal(roost_sketch_init(&parts[i], parts_mem[i], cap), ROOST_OK);
    for (i = 0; i < 50000; i++) {
        /* each part sees a different range, so the union is wider than any */
        double v = gen_bimodal(&r) * pow(10.0, (double)(i % 5) - 2.0);
        assert_int_equal(roost_sketch_add(&parts[i % 5], v), ROOST_OK);
        assert_int_equal(roost_sketch_add(&whole, v), ROOST_OK);
    }
    for (o = 0; o < 4; o++) {
        assert_int_equal(roost_sketch_init(&merged[o], merged_mem[o], cap), ROOST_OK);
        for (i = 0; i < 5; i++)
            assert_int_equal(roost_sketch_merge(&merged[o], &parts[orders[o][i]]), ROOST_OK);
        same_buckets(&merged[o], &merged[0]);
    }
    /* Adding every value one at a time collapses by the same rule. */
    same_buckets(&merged[0], &whole);
}

static void merge_is_exact_and_order_independent(void **state)
{
    (void)state;
    merge_order_does_not_change_the_result(BIG_CAP);
}

static void merge_is_order_independent_when_the_cap_collapses_buckets(void **state)
{
    (void)state;
    merge_order_does_not_change_the_result(96);
}

static void merging_an_empty_sketch_changes_nothing(void **state)
{
    roost_sketch a, b;
    (void)state;
    assert_int_equal(roost_sketch_init(&a, g_b1, 16), ROOST_OK);
    assert_int_equal(roost_sketch_init(&b, g_b2, 16), ROOST_OK);
    assert_int_equal(roost_sketch_add(&a, 5.0), ROOST_OK);
    assert_int_equal(roost_sketch_merge(&a, &b), ROOST_OK);
    assert_true(a.count == 1 && a.min == 5.0 && a.max == 5.0);
    assert_int_equal(roost_sketch_merge(&b, &a), ROOST_OK);
    same_buckets(&a, &b);
    assert_int_equal(roost_sketch_merge(&a, &a), ROOST_EINVAL);
}

static void full_sketch_collapses_lowest_buckets_and_keeps_tail_quantiles(void **state)
{
    enum { N = 100000, CAP = 160 };
    double *xs = malloc(N * sizeof *xs), reliable;
    roost_sketch s;
    roost_rng r;
    size_t i;
    (void)state;

    assert_non_null(xs);
    roost_rng_seed(&r, 7);
    assert_int_equal(roost_sketch_init(&s, g_b1, CAP), ROOST_OK);
    for (i = 0; i < N; i++) {
        xs[i] = gen_lognormal(&r);
        assert_int_equal(roost_sketch_add(&s, xs[i]), ROOST_OK);
    }
    qsort(xs, N, sizeof *xs, cmp_double);
    assert_true(s.collapsed);
    assert_int_equal(s.len, CAP);
    assert_true(s.count == N);
    assert_true(s.min == xs[0]); /* the exact minimum survives a collapse */
    reliable = roost_sketch_reliable_q(&s);
    assert_true(reliable > 0.0 && reliable < 1.0);
    printf("  cap %d over lognormal: guarantee holds from q = %.4f\n", CAP, reliable);
    for (i = 0; i <= 1000; i++) {
        double q = (double)i / 1000.0, est, exact;
        if (q < reliable)
            continue;
        assert_int_equal(roost_sketch_quantile(&s, q, &est), ROOST_OK);
        exact = xs[(size_t)floor(q * (N - 1))];
        if (fabs(est - exact) > ALPHA_SLACK * exact)
            fail_msg("collapsed sketch, q=%g: %.9g vs exact %.9g", q, est, exact);
    }
    /* below the reliable share the estimate is only an upper bound */
    for (i = 0; i < 1000 && (double)i / 1000.0 < reliable; i++) {
        double q = (double)i / 1000.0, est;
        assert_int_equal(roost_sketch_quantile(&s, q, &est), ROOST_OK);
        assert_true(est >= xs[(size_t)floor(q * (N - 1))] * (1 - ALPHA_SLACK));
    }
    free(xs);
}

static void adding_below_the_lowest_bucket_of_a_full_sketch_folds_into_it(void **state)
{
    roost_sketch s;
    (void)state;
    assert_int_equal(roost_sketch_init(&s, g_b1, 2), ROOST_OK);
    assert_int_equal(roost_sketch_add(&s, 10.0), ROOST_OK);
    assert_int_equal(roost_sketch_add(&s, 1000.0), ROOST_OK);
    assert_int_equal(roost_sketch_add(&s, 0.1), ROOST_OK); /* lowest: folds into 10's bucket */
    assert_int_equal(s.len, 2);
    assert_true(s.collapsed);
    assert_int_equal(s.buckets[0].key, roost_sketch_key(10.0));
    assert_true(s.buckets[0].count == 2);
    assert_int_equal(roost_sketch_add(&s, 50.0), ROOST_OK); /* 2nd lowest: takes 10's mass */
    assert_int_equal(s.buckets[0].key, roost_sketch_key(50.0));
    assert_true(s.buckets[0].count == 3);
    assert_int_equal(roost_sketch_add(&s, 5000.0), ROOST_OK); /* highest: 50 folds into 1000 */
    assert_int_equal(s.buckets[0].key, roost_sketch_key(1000.0));
    assert_true(s.buckets[0].count == 4);
    assert_int_equal(s.buckets[1].key, roost_sketch_key(5000.0));
    assert_true(s.count == 5 && s.min == 0.1 && s.max == 5000.0);
}

static void zero_and_negative_values_are_ordered_and_within_one_percent(void **state)
{
    static const double vals[] = {-1000.0, -5.0, -5.0, -1e-12, 0.0, 0.0, 1e-10, 3.0, 70.0};
    roost_sketch s;
    size_t i, n = sizeof vals / sizeof vals[0];
    (void)state;

    assert_int_equal(roost_sketch_init(&s, g_b1, 32), ROOST_OK);
    for (i = 0; i < n; i++)
        assert_int_equal(roost_sketch_add(&s, vals[i]), ROOST_OK);
    for (i = 1; i < s.len; i++)
        assert_true(s.buckets[i - 1].key < s.buckets[i].key);
    for (i = 0; i < n; i++) {
        double q = (double)i / (double)(n - 1), est, exact = vals[i];
        assert_int_equal(roost_sketch_quantile(&s, q, &est), ROOST_OK);
        if (fabs(exact) < ROOST_SKETCH_MIN_VALUE)
            assert_true(fabs(est) < ROOST_SKETCH_MIN_VALUE);
        else
            assert_true(fabs(est - exact) <= ALPHA_SLACK * fabs(exact));
    }
    assert_int_equal(roost_sketch_key(0.0), 0);
    assert_int_equal(roost_sketch_key(-3.0), -roost_sketch_key(3.0));
    assert_true(roost_sketch_key_value(0) == 0.0);
}

static void add_rejects_nan_and_infinity_and_leaves_the_sketch_unchanged(void **state)
{
    roost_sketch s;
    double q;
    (void)state;
    assert_int_equal(roost_sketch_init(&s, g_b1, 8), ROOST_OK);
    assert_int_equal(roost_sketch_add(&s, 1.0), ROOST_OK);
    assert_int_equal(roost_sketch_add(&s, NAN), ROOST_EINVAL);
    assert_int_equal(roost_sketch_add(&s, INFINITY), ROOST_EINVAL);
    assert_int_equal(roost_sketch_add(&s, -INFINITY), ROOST_EINVAL);
    assert_true(s.count == 1 && s.sum == 1.0 && s.len == 1);
    assert_int_equal(roost_sketch_quantile(&s, NAN, &q), ROOST_EINVAL);
    assert_int_equal(roost_sketch_quantile(&s, 1.5, &q), ROOST_EINVAL);
}

static void empty_sketch_has_no_quantile(void **state)
{
    roost_sketch s;
    double q = 123.0;
    (void)state;
    assert_int_equal(roost_sketch_init(&s, g_b1, 8), ROOST_OK);
    assert_int_equal(roost_sketch_quantile(&s, 0.5, &q), ROOST_ENOTFOUND);
    assert_int_equal(roost_sketch_mean(&s, &q), ROOST_ENOTFOUND);
    assert_true(q == 123.0);
    assert_int_equal(roost_sketch_init(&s, g_b1, 1), ROOST_EINVAL);
    assert_int_equal(roost_sketch_init(&s, NULL, 8), ROOST_EINVAL);
}

static void counts_saturating_64_bits_are_refused(void **state)
{
    roost_sketch s;
    (void)state;
    assert_int_equal(roost_sketch_init(&s, g_b1, 8), ROOST_OK);
    assert_int_equal(roost_sketch_add_n(&s, 2.0, UINT64_MAX - 1), ROOST_OK);
    assert_int_equal(roost_sketch_add_n(&s, 2.0, 2), ROOST_ELIMIT);
    assert_true(s.count == UINT64_MAX - 1);
    assert_int_equal(roost_sketch_add_n(&s, 2.0, 1), ROOST_OK);
    assert_true(s.count == UINT64_MAX);
}

static void a_sum_overflowing_a_double_is_refused_so_the_sketch_stays_encodable(void **state)
{
    roost_sketch s;
    size_t len;
    (void)state;
    assert_int_equal(roost_sketch_init(&s, g_b1, 8), ROOST_OK);
    assert_int_equal(roost_sketch_add(&s, 1e308), ROOST_OK);
    assert_int_equal(roost_sketch_add(&s, 1e308), ROOST_ELIMIT);
    assert_int_equal(roost_sketch_add_n(&s, 1e300, 1000000000), ROOST_ELIMIT);
    assert_true(s.count == 1 && s.sum == 1e308);
    assert_int_equal(roost_sketch_encode(&s, g_buf, sizeof g_buf, &len), ROOST_OK);
    assert_int_equal(roost_sketch_decode(&s, g_buf, len), ROOST_OK);
}

static void fill_lognormal(roost_sketch *s, roost_sketch_bucket *mem, size_t cap, size_t n,
                           uint64_t seed)
{
    roost_rng r;
    size_t i;
    roost_rng_seed(&r, seed);
    assert_int_equal(roost_sketch_init(s, mem, cap), ROOST_OK);
    for (i = 0; i < n; i++)
        assert_int_equal(roost_sketch_add(s, gen_lognormal(&r)), ROOST_OK);
}

static void encode_decode_round_trip_is_exact(void **state)
{
    roost_sketch a, b, c;
    size_t len, len2;
    (void)state;

    fill_lognormal(&a, g_b1, BIG_CAP, 10000, 11);
    assert_int_equal(roost_sketch_add(&a, -3.0), ROOST_OK);
    assert_int_equal(roost_sketch_add(&a, 0.0), ROOST_OK);
    assert_int_equal(roost_sketch_encode(&a, g_buf, sizeof g_buf, &len), ROOST_OK);
    assert_int_equal(len, roost_sketch_encoded_size(&a));
    assert_true(len <= ROOST_SKETCH_ENCODED_MAX(a.len));
    printf("  10000 lognormal latencies: %zu buckets, %zu bytes encoded\n", a.len, len);
    assert_int_equal(roost_sketch_init(&b, g_b2, BIG_CAP), ROOST_OK);
    assert_int_equal(roost_sketch_decode(&b, g_buf, len), ROOST_OK);
    same_buckets(&a, &b);
    assert_true(a.sum == b.sum);

    /* too small a buffer is refused, not truncated */
    assert_int_equal(roost_sketch_encode(&a, g_buf, len - 1, &len2), ROOST_ELIMIT);

    /* empty sketches round-trip too */
    assert_int_equal(roost_sketch_init(&c, g_b3, 4), ROOST_OK);
    assert_int_equal(roost_sketch_encode(&c, g_buf, sizeof g_buf, &len), ROOST_OK);
    assert_int_equal(len, 3);
    assert_int_equal(roost_sketch_decode(&b, g_buf, len), ROOST_OK);
    assert_true(b.count == 0 && b.len == 0);
}

static void decode_into_a_smaller_sketch_collapses_like_a_merge(void **state)
{
    roost_sketch a, small, merged;
    size_t len;
    (void)state;

    fill_lognormal(&a, g_b1, BIG_CAP, 20000, 12);
    assert_true(a.len > 64);
    assert_int_equal(roost_sketch_encode(&a, g_buf, sizeof g_buf, &len), ROOST_OK);
    assert_int_equal(roost_sketch_init(&small, g_b2, 64), ROOST_OK);
    assert_int_equal(roost_sketch_decode(&small, g_buf, len), ROOST_OK);
    assert_int_equal(roost_sketch_init(&merged, g_b3, 64), ROOST_OK);
    assert_int_equal(roost_sketch_merge(&merged, &a), ROOST_OK);
    same_buckets(&small, &merged);
    assert_true(small.collapsed);
}

static void check_invariants(const roost_sketch *s)
{
    uint64_t total = 0;
    size_t i;
    assert_true(s->len <= s->capacity);
    for (i = 0; i < s->len; i++) {
        assert_true(s->buckets[i].count > 0);
        assert_true(s->buckets[i].key >= -ROOST_SKETCH_KEY_MAX &&
                    s->buckets[i].key <= ROOST_SKETCH_KEY_MAX);
        if (i)
            assert_true(s->buckets[i - 1].key < s->buckets[i].key);
        total += s->buckets[i].count;
    }
    assert_true(total == s->count);
    if (s->count) {
        double q;
        assert_true(isfinite(s->min) && isfinite(s->max) && s->min <= s->max);
        assert_int_equal(roost_sketch_quantile(s, 0.5, &q), ROOST_OK);
        assert_true(q >= s->min && q <= s->max);
    }
}

static void decode_rejects_every_truncation_and_leaves_the_sketch_unchanged(void **state)
{
    roost_sketch a, b;
    size_t len, cut;
    (void)state;

    fill_lognormal(&a, g_b1, BIG_CAP, 2000, 13);
    assert_int_equal(roost_sketch_encode(&a, g_buf, sizeof g_buf, &len), ROOST_OK);
    assert_int_equal(roost_sketch_init(&b, g_b2, BIG_CAP), ROOST_OK);
    assert_int_equal(roost_sketch_add(&b, 42.0), ROOST_OK);
    for (cut = 0; cut < len; cut++) {
        assert_int_equal(roost_sketch_decode(&b, g_buf, cut), ROOST_ECORRUPT);
        assert_true(b.count == 1 && b.len == 1 && b.min == 42.0);
    }
    /* and a trailing byte */
    g_buf[len] = 0;
    assert_int_equal(roost_sketch_decode(&b, g_buf, len + 1), ROOST_ECORRUPT);
    assert_int_equal(roost_sketch_decode(&b, NULL, 0), ROOST_ECORRUPT);
}

static void decode_of_garbage_never_crashes_and_never_yields_a_broken_sketch(void **state)
{
    roost_sketch a, b;
    roost_rng r;
    size_t len, i, ok = 0;
    uint8_t junk[256];
    (void)state;

    roost_rng_seed(&r, 99);
    fill_lognormal(&a, g_b1, BIG_CAP, 500, 14);
    assert_int_equal(roost_sketch_encode(&a, g_buf, sizeof g_buf, &len), ROOST_OK);
    assert_int_equal(roost_sketch_init(&b, g_b2, 32), ROOST_OK);
    for (i = 0; i < 200000; i++) {
        roost_status st;
        if (i % 2) {
            /* random bytes behind a valid version byte */
            size_t n = (size_t)(roost_rng_next(&r) % sizeof junk), k;
            for (k = 0; k < n; k++)
                junk[k] = (uint8_t)roost_rng_next(&r);
            if (n)
                junk[0] = ROOST_SKETCH_ENCODING_VERSION;
            if (n > 1)
                junk[1] &= 1;
            st = roost_sketch_decode(&b, junk, n);
        } else {
            /* a valid encoding with one to three flipped bits */
            static uint8_t copy[ROOST_SKETCH_ENCODED_MAX(BIG_CAP)];
            int flips = 1 + (int)(roost_rng_next(&r) % 3), f;
            memcpy(copy, g_buf, len);
            for (f = 0; f < flips; f++) {
                size_t at = (size_t)(roost_rng_next(&r) % len);
                copy[at] ^= (uint8_t)(1u << (roost_rng_next(&r) % 8));
            }
            st = roost_sketch_decode(&b, copy, len);
        }
        assert_true(st == ROOST_OK || st == ROOST_ECORRUPT);
        if (st == ROOST_OK)
            ok++;
        check_invariants(&b);
    }
    printf("  %zu of 200000 mutated inputs decoded as valid sketches\n", ok);
}

static void decode_rejects_wrong_version_zero_counts_and_overlong_varints(void **state)
{
    roost_sketch b;
    /* version 2 */
    static const uint8_t v2[] = {2, 0, 0};
    /* flags with unknown bit */
    static const uint8_t flags[] = {1, 2, 0};
    /* header of one bucket with min = max = sum = 1.0; key and count follow */
    uint8_t zero[2 + 1 + 24], over[2 + 11];
    double one = 1.0;
    uint64_t u;
    int i;
    (void)state;

    assert_int_equal(roost_sketch_init(&b, g_b2, 8), ROOST_OK);
    assert_int_equal(roost_sketch_decode(&b, v2, sizeof v2), ROOST_ECORRUPT);
    assert_int_equal(roost_sketch_decode(&b, flags, sizeof flags), ROOST_ECORRUPT);

    memcpy(&u, &one, 8);
    zero[0] = 1;
    zero[1] = 0;
    zero[2] = 1;
    for (i = 0; i < 24; i++)
        zero[3 + i] = (uint8_t)(u >> (8 * (i % 8)));
    {
        /* key of 1.0, zigzag, as a varint */
        uint64_t zz = (uint64_t)roost_sketch_key(1.0) << 1;
        uint8_t ok_enc[64];
        size_t n = 27, k;
        memcpy(ok_enc, zero, 27);
        while (zz >= 0x80) {
            ok_enc[n++] = (uint8_t)(zz | 0x80);
            zz >>= 7;
        }
        ok_enc[n++] = (uint8_t)zz;
        k = n;
        ok_enc[n++] = 1; /* count 1: valid */
        assert_int_equal(roost_sketch_decode(&b, ok_enc, n), ROOST_OK);
        assert_true(b.count == 1 && b.min == 1.0);
        ok_enc[k] = 0; /* count 0 */
        assert_int_equal(roost_sketch_decode(&b, ok_enc, n), ROOST_ECORRUPT);
        ok_enc[k] = 1;
        {
            /* min 0.995 is still inside 1.0's bucket (0.980, 1]: fine */
            double m = 0.995;
            uint64_t mu;
            memcpy(&mu, &m, 8);
            for (i = 0; i < 8; i++)
                ok_enc[3 + i] = (uint8_t)(mu >> (8 * i));
            assert_int_equal(roost_sketch_decode(&b, ok_enc, n), ROOST_OK);
            assert_true(b.min == 0.995);
            m = 0.5; /* two buckets below: inconsistent with the bucket list */
            memcpy(&mu, &m, 8);
            for (i = 0; i < 8; i++)
                ok_enc[3 + i] = (uint8_t)(mu >> (8 * i));
            assert_int_equal(roost_sketch_decode(&b, ok_enc, n), ROOST_ECORRUPT);
        }
        memset(ok_enc + 3, 0xff, 8); /* min = NaN */
        assert_int_equal(roost_sketch_decode(&b, ok_enc, n), ROOST_ECORRUPT);
    }

    /* an 11-byte varint as the bucket count */
    over[0] = 1;
    over[1] = 0;
    for (i = 0; i < 10; i++)
        over[2 + i] = 0x80;
    over[12] = 0x01;
    assert_int_equal(roost_sketch_decode(&b, over, sizeof over), ROOST_ECORRUPT);
    assert_true(b.count == 1); /* still the last good decode */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(quantiles_stay_within_one_percent_on_lognormal_latencies),
        cmocka_unit_test(quantiles_stay_within_one_percent_on_bimodal_latencies),
        cmocka_unit_test(quantiles_stay_within_one_percent_on_pareto_heavy_tail),
        cmocka_unit_test(merge_is_exact_and_order_independent),
        cmocka_unit_test(merge_is_order_independent_when_the_cap_collapses_buckets),
        cmocka_unit_test(merging_an_empty_sketch_changes_nothing),
        cmocka_unit_test(full_sketch_collapses_lowest_buckets_and_keeps_tail_quantiles),
        cmocka_unit_test(adding_below_the_lowest_bucket_of_a_full_sketch_folds_into_it),
        cmocka_unit_test(zero_and_negative_values_are_ordered_and_within_one_percent),
        cmocka_unit_test(add_rejects_nan_and_infinity_and_leaves_the_sketch_unchanged),
        cmocka_unit_test(empty_sketch_has_no_quantile),
        cmocka_unit_test(counts_saturating_64_bits_are_refused),
        cmocka_unit_test(a_sum_overflowing_a_double_is_refused_so_the_sketch_stays_encodable),
        cmocka_unit_test(encode_decode_round_trip_is_exact),
        cmocka_unit_test(decode_into_a_smaller_sketch_collapses_like_a_merge),
        cmocka_unit_test(decode_rejects_every_truncation_and_leaves_the_sketch_unchanged),
        cmocka_unit_test(decode_of_garbage_never_crashes_and_never_yields_a_broken_sketch),
        cmocka_unit_test(decode_rejects_wrong_version_zero_counts_and_overlong_varints),
    };
    return roost_run_tests("sketch", tests);
}
