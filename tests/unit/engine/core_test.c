/* The engine's building blocks, checked against their references:
 * JavaScript number <-> text (glibc's correctly rounded printf/strtod and
 * Node's outputs), flagd's sem_ver parsing and ordering (node-semver, as
 * flagd-core calls it), MurmurHash3 x86_32 (the reference vectors) and the
 * bucketing rule. */
#include <float.h>
#include <math.h>

#include "engine_test_util.h"
#include "roost/murmur3.h"
#include "semver.h"

static const char *fmt(double x)
{
    static char buf[ROOST_JSNUM_MAX + 1];
    buf[roost_jsnum_format(x, buf)] = '\0';
    return buf;
}

static void numbers_print_as_javascript_prints_them(void **state)
{
    (void)state;
    /* Outputs of String(x) in Node 20. */
    assert_string_equal(fmt(0.1), "0.1");
    assert_string_equal(fmt(-0.0), "0");
    assert_string_equal(fmt(100), "100");
    assert_string_equal(fmt(1e21), "1e+21");
    assert_string_equal(fmt(123456789012345680000.0), "123456789012345680000");
    assert_string_equal(fmt(1e-7), "1e-7");
    assert_string_equal(fmt(0.000001), "0.000001");
    assert_string_equal(fmt(1.5e-7), "1.5e-7");
    assert_string_equal(fmt(0.1 + 0.2), "0.30000000000000004");
    assert_string_equal(fmt(5e-324), "5e-324");
    assert_string_equal(fmt(DBL_MAX), "1.7976931348623157e+308");
    assert_string_equal(fmt(9007199254740993.0), "9007199254740992");
    assert_string_equal(fmt(-2.5), "-2.5");
    assert_string_equal(fmt(INFINITY), "Infinity");
    assert_string_equal(fmt(-INFINITY), "-Infinity");
    assert_string_equal(fmt(NAN), "NaN");
}

/* For many doubles: the text reads back exactly (glibc strtod is correctly
 * rounded) and no shorter decimal does. */
static void number_text_is_shortest_and_round_trips(void **state)
{
    (void)state;
    uint64_t s = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 100000; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        double x;
        memcpy(&x, &s, sizeof x);
        if (x != x || x == INFINITY || x == -INFINITY)
            continue;
        const char *t = fmt(x);
        assert_true(strtod(t, NULL) == x);
        int digits = 0;
        for (const char *p = t; *p && *p != 'e'; p++)
            digits += *p >= '0' && *p <= '9';
        if (digits > 1) {
            char shorter[64];
            snprintf(shorter, sizeof shorter, "%.*e", digits - 2, x);
            if (strtod(shorter, NULL) == x) /* only equal when t had padding zeros */
                assert_true(fabs(x) >= 1e21 || strchr(t, 'e') == NULL);
        }
    }
}

static void strings_parse_as_javascript_number_does(void **state)
{
    (void)state;
#define P(s) roost_jsnum_parse((s), strlen(s))
    assert_true(P("") == 0 && P("  \t\n") == 0);
    assert_true(P(" 12 ") == 12);
    assert_true(P("\xc2\xa0" "7\xe3\x80\x80") == 7);
    assert_true(P("0x1F") == 31 && P("0b101") == 5 && P("0o17") == 15);
    assert_true(isnan(P("-0x1F")) && isnan(P("0x")) && isnan(P("1_000")) && isnan(P("1e")));
    assert_true(P(".5") == 0.5 && P("5.") == 5 && P("+5") == 5 && P("-.5e1") == -5);
    assert_true(isnan(P(".")) && isnan(P("abc")) && isnan(P("1.2.3")) && isnan(P("infinity")));
    assert_true(P("Infinity") == INFINITY && P("-Infinity") == -INFINITY);
    assert_true(P("1e400") == INFINITY && P("1e-400") == 0);
    assert_true(signbit(P("-0")));
    assert_true(P("2.4703282292062328e-324") == 5e-324 && P("2.4703282292062327e-324") == 0);
    assert_true(P("1.7976931348623158e308") == DBL_MAX && P("1.7976931348623159e308") == INFINITY);
    assert_true(P("9007199254740993") == 9007199254740992.0);
    assert_true(P("0.1000000000000000055511151231257827021181583404541015625") == 0.1);
    /* Every %.17g text reads back exactly, fast path or big-number path. */
    uint64_t s = 88172645463325252ull;
    for (int i = 0; i < 100000; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        double x;
        memcpy(&x, &s, sizeof x);
        if (x != x || x == INFINITY || x == -INFINITY)
            continue;
        char t[64];
        snprintf(t, sizeof t, "%.17g", x);
        assert_true(P(t) == x);
        snprintf(t, sizeof t, "%.25e", x);
        assert_true(P(t) == strtod(t, NULL));
    }
#undef P
}

static const struct {
    const char *a, *b;
    int cmp; /* -1, 0, 1, or INVALID when either side is not a version */
} SEMVER[] = {
#define INVALID 2
        {"1.2.3", "1.2.3", 0},
        {"1.2.3", "1.2.4", -1},
        {"v1.2.3", "1.2.3", 0},
        {"V1.2.3", "1.2.3", 0},
        {"vv1.2.3", "1.2.3", 0},
        {"1", "1.0.0", 0},
        {"1.2", "1.2.0", 0},
        {"01", "1.0.0", INVALID},
        {"1.02", "1.2.0", INVALID},
        {"12345678901234567", "1.0.0", INVALID},
        {"12345678901234567.5", "5.0.0", 0},
        {"1.12345678901234567", "1.0.0", 0},
        {"1.2.3-alpha", "1.2.3", -1},
        {"1.2.3-alpha.1", "1.2.3-alpha.beta", -1},
        {"1.2.3-alpha.beta", "1.2.3-beta", -1},
        {"1.2.3-beta.2", "1.2.3-beta.11", -1},
        {"1.2.3-rc.1", "1.2.3-rc.1+build", 0},
        {"1.2.3+b1", "1.2.3+b2", 0},
        {"1.2.3-01", "1.2.3", INVALID},
        {"1.2.3-0a", "1.2.3-0b", -1},
        {"1.2.3-9007199254740993", "1.2.3-9007199254740992", 0},
        {"1.2.3-9007199254740993.1", "1.2.3-9007199254740992.2", 0},
        {" 1.2.3 ", "1.2.3", 0},
        {"\xe3""\x80""\x80""1.2.3", "1.2.3", 0},
        {"1.2.3.4", "1.2.3", INVALID},
        {"1.2", "1.2.3-rc", -1},
        {"9007199254740991.0.0", "1.0.0", 1},
        {"9007199254740992.0.0", "1.0.0", INVALID},
        {"1.2.3-", "1.2.3", INVALID},
        {"1.2.3+", "1.2.3", INVALID},
        {"1.2.3-a..b", "1.2.3", INVALID},
        {"1.2.3-a-b", "1.2.3-a", 1},
        {"", "1.0.0", INVALID},
        {"v", "1.0.0", INVALID},
        {"1.0.0-alpha", "1.0.0-alpha.1", -1},
        {"1.0.0-alpha.1", "1.0.0-alpha.beta", -1},
        {"1.0.0-beta", "1.0.0-beta.2", -1},
        {"1.0.0-beta.11", "1.0.0-rc.1", -1},
        {"1.0.0-rc.1", "1.0.0", -1},
};

/* Cases computed with node-semver through flagd-core's normalizeVersion. */
static void semver_parses_and_orders_like_flagd(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof SEMVER / sizeof SEMVER[0]; i++) {
        roost_semver a, b;
        bool ok = roost_semver_parse(SEMVER[i].a, strlen(SEMVER[i].a), &a) &&
                  roost_semver_parse(SEMVER[i].b, strlen(SEMVER[i].b), &b);
        int got = !ok ? INVALID : roost_semver_compare(&a, &b);
        if (got != SEMVER[i].cmp)
            _fail_msg(__FILE__, __LINE__, "sem_ver '%s' vs '%s': got %d, expected %d", SEMVER[i].a,
                      SEMVER[i].b, got, SEMVER[i].cmp);
    }
    char long_version[300];
    memset(long_version, '1', sizeof long_version);
    memcpy(long_version, "1.2.3-", 6);
    roost_semver v;
    assert_false(roost_semver_parse(long_version, 257, &v)); /* over 256 characters */
    assert_true(roost_semver_parse(long_version, 256, &v));
}

static void murmur3_matches_reference_vectors(void **state)
{
    (void)state;
    assert_int_equal(roost_murmur3_32("", 0, 0), 0);
    assert_int_equal(roost_murmur3_32("", 0, 1), 0x514e28b7);
    assert_int_equal(roost_murmur3_32("a", 1, 0), 0x3c2569b2);
    assert_int_equal(roost_murmur3_32("hello", 5, 0), 0x248bfa47);
    assert_int_equal(roost_murmur3_32("abcd", 4, 0), 0x43ed676a);
    assert_int_equal(roost_murmur3_32("abcde", 5, 0), 0xe89b9af6);
    const char *fox = "The quick brown fox jumps over the lazy dog";
    assert_int_equal(roost_murmur3_32(fox, strlen(fox), 0), 0x2e4ff723);
    assert_int_equal(roost_murmur3_32(fox, strlen(fox), 0x9747b28c), 0x2fa826cd);
    /* Streaming in any split gives the one-shot hash. */
    for (size_t i = 0; i <= strlen(fox); i++) {
        for (size_t j = i; j <= strlen(fox); j++) {
            roost_murmur3 m;
            roost_murmur3_init(&m, 0);
            roost_murmur3_update(&m, fox, i);
            roost_murmur3_update(&m, fox + i, j - i);
            roost_murmur3_update(&m, fox + j, strlen(fox) - j);
            assert_int_equal(roost_murmur3_final(&m), 0x2e4ff723);
        }
    }
}

static void buckets_scale_the_hash_to_the_total_weight(void **state)
{
    (void)state;
    assert_int_equal(roost_bucket(0, 100), 0);
    assert_int_equal(roost_bucket(0xffffffffu, 100), 99);
    assert_int_equal(roost_bucket(0x80000000u, 100), 50);
    assert_int_equal(roost_bucket(0x12345678u, 0), 0);
    assert_int_equal(roost_bucket(0xffffffffu, 2147483647u), 2147483646u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(numbers_print_as_javascript_prints_them),
        cmocka_unit_test(number_text_is_shortest_and_round_trips),
        cmocka_unit_test(strings_parse_as_javascript_number_does),
        cmocka_unit_test(semver_parses_and_orders_like_flagd),
        cmocka_unit_test(murmur3_matches_reference_vectors),
        cmocka_unit_test(buckets_scale_the_hash_to_the_total_weight),
    };
    return roost_run_tests("engine building blocks", tests);
}
