/* roost_context_load: a whole map of attributes from one packed buffer
 * (include/roost/client.h), the same context the setters build, and a
 * buffer from another runtime checked within its length before anything
 * changes. Run under AddressSanitizer, every buffer here is a heap copy of
 * exactly its length, so a read past it fails the test. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "roost/client.h"
#include "testmain.h"

/* Packed buffers are written as C literals with explicit \0 separators;
 * sizeof - 1 drops the literal's own terminator. */
#define PACKED(lit) (lit), sizeof(lit) - 1

/* A heap copy of exactly len bytes (no terminator after it). */
static char *exact(const char *data, size_t len)
{
    char *p = malloc(len ? len : 1);

    assert_non_null(p);
    if (len)
        memcpy(p, data, len);
    return p;
}

/* Records as the packer counts them: one per three NULs. */
static size_t records_in(const char *data, size_t len)
{
    size_t nuls = 0;

    for (size_t i = 0; i < len; i++)
        nuls += data[i] == '\0';
    return nuls / 3;
}

/* roost_context_load of a heap copy of exactly len bytes, with the record
 * count a packer would pass. */
static roost_status load(roost_context *b, const char *data, size_t len)
{
    char *copy = exact(data, len);
    roost_status rc = roost_context_load(b, copy, len, records_in(data, len));

    free(copy);
    return rc;
}

static roost_context *context(void)
{
    roost_context *b;

    assert_int_equal(roost_context_new(0, 0, &b), ROOST_OK);
    return b;
}

/* The engine's type tag of a string attribute (engine.h keeps the tags to
 * itself): the fields a type does not use hold whatever was there before. */
static uint8_t string_type(void)
{
    roost_ctx_attr attr;
    roost_ctx ctx;

    roost_ctx_init(&ctx, &attr, 1);
    assert_int_equal(roost_ctx_set_string(&ctx, "k", "v"), ROOST_OK);
    return attr.type;
}

/* Same attributes, in the same order, with the same values. */
static void assert_same_attributes(const roost_ctx *a, const roost_ctx *b)
{
    const uint8_t string = string_type();

    assert_int_equal(a->count, b->count);
    for (uint32_t i = 0; i < a->count; i++) {
        const roost_ctx_attr *x = &a->attrs[i], *y = &b->attrs[i];
        assert_int_equal(x->type, y->type);
        assert_int_equal(x->key_len, y->key_len);
        assert_memory_equal(x->key, y->key, x->key_len);
        assert_int_equal(x->hash, y->hash);
        if (x->type == string) {
            assert_int_equal(x->str_len, y->str_len);
            assert_memory_equal(x->str, y->str, x->str_len);
        } else {
            assert_memory_equal(&x->num, &y->num, sizeof x->num);
        }
    }
}

static void load_builds_what_the_setters_build(void **state)
{
    roost_context *packed = context(), *set = context();
    const roost_ctx *out;
    char *copy;
    static const char buf[] = "s\0targetingKey\0user-42\0"
                              "s\0user.email\0jack@mail.test\0"
                              "s\0a\\.b\0dotted key\0"
                              "s\0empty\0\0"
                              "n\0age\0" "41\0"
                              "n\0neg\0-9007199254740992\0"
                              "n\0ratio\0" "0x1.8000000000000p+1\0"
                              "n\0tenth\0-0x1.999999999999ap-4\0"
                              "n\0zero\0" "0x0.0p+0\0"
                              "n\0tiny\0" "0x0.0000000000001p-1022\0"
                              "n\0whole\0" "0x1p+0\0"
                              "n\0big\0inf\0"
                              "n\0small\0-inf\0"
                              "b\0beta\0" "1\0"
                              "b\0legacy\0" "0\0";
    time_t before = time(NULL);

    (void)state;
    copy = exact(PACKED(buf));
    out = roost_context_ctx(packed);
    assert_int_equal(roost_context_load(packed, copy, sizeof buf - 1, 15), ROOST_OK);
    free(copy);
    assert_ptr_equal(out, roost_context_ctx(packed)); /* the same for the builder's life */
    assert_true(out->timestamp >= (int64_t)before && out->timestamp <= (int64_t)time(NULL));

    roost_context_set_targeting_key(set, "user-42");
    roost_context_set_string(set, "user.email", "jack@mail.test");
    roost_context_set_string(set, "a\\.b", "dotted key");
    roost_context_set_string(set, "empty", "");
    roost_context_set_number(set, "age", 41);
    roost_context_set_number(set, "neg", -9007199254740992.0);
    roost_context_set_number(set, "ratio", 3.0);
    roost_context_set_number(set, "tenth", -0.1);
    roost_context_set_number(set, "zero", 0.0);
    roost_context_set_number(set, "tiny", 4.9406564584124654e-324);
    roost_context_set_number(set, "whole", 1.0);
    roost_context_set_number(set, "big", INFINITY);
    roost_context_set_number(set, "small", -INFINITY);
    roost_context_set_bool(set, "beta", true);
    roost_context_set_bool(set, "legacy", false);
    assert_same_attributes(roost_context_ctx(packed), roost_context_ctx(set));

    roost_context_free(packed);
    roost_context_free(set);
}

static void load_reads_nan(void **state)
{
    roost_context *b = context();

    (void)state;
    assert_int_equal(load(b, PACKED("n\0x\0nan\0")), ROOST_OK);
    assert_int_equal(roost_context_ctx(b)->count, 1);
    assert_true(isnan(roost_context_ctx(b)->attrs[0].num));
    roost_context_free(b);
}

static void load_replaces_what_the_context_held_and_last_value_wins(void **state)
{
    roost_context *packed = context(), *set = context();

    (void)state;
    roost_context_set_string(packed, "old", "gone");
    assert_int_equal(load(packed, PACKED("s\0k\0first\0n\0k\0" "2\0s\0other\0x\0")), ROOST_OK);
    roost_context_set_number(set, "k", 2);
    roost_context_set_string(set, "other", "x");
    assert_same_attributes(roost_context_ctx(packed), roost_context_ctx(set));
    roost_context_free(packed);
    roost_context_free(set);
}

static void an_empty_buffer_is_an_empty_stamped_context(void **state)
{
    roost_context *b = context();

    (void)state;
    roost_context_set_string(b, "old", "gone");
    assert_int_equal(roost_context_load(b, NULL, 0, 0), ROOST_OK);
    assert_int_equal(roost_context_ctx(b)->count, 0);
    assert_true(roost_context_ctx(b)->timestamp > 0);
    roost_context_free(b);
}

static void refused_buffers_leave_the_context_unchanged(void **state)
{
    static const struct {
        const char *data;
        size_t len;
    } bad[] = {
        {PACKED("s\0k\0v")},                   /* value not terminated */
        {PACKED("s\0k")},                      /* no value */
        {PACKED("s")},                         /* no key */
        {PACKED("x\0k\0v\0")},                 /* unknown type */
        {PACKED("ss\0k\0v\0")},                /* type of two bytes */
        {PACKED("\0k\0v\0")},                  /* empty type */
        {PACKED("n\0k\0" "1.5\0")},            /* decimal fraction */
        {PACKED("n\0k\0" "1e3\0")},            /* exponent form */
        {PACKED("n\0k\0\0")},                  /* empty number */
        {PACKED("n\0k\0-\0")},                 /* sign only */
        {PACKED("n\0k\0 1\0")},                /* space */
        {PACKED("n\0k\0" "9007199254740993\0")},  /* above 2^53 */
        {PACKED("n\0k\0" "12345678901234567\0")}, /* 17 digits */
        {PACKED("n\0k\0" "0x2.0p+0\0")},       /* leading hex digit above 1 */
        {PACKED("n\0k\0" "0x1.00000000000000p+0\0")}, /* 14 hex digits: inexact */
        {PACKED("n\0k\0" "0x1.8\0")},          /* no exponent */
        {PACKED("n\0k\0" "0x1.8p\0")},         /* exponent without digits */
        {PACKED("n\0k\0" "0x1.8p+123456\0")},  /* exponent of six digits */
        {PACKED("n\0k\0" "0x1.gp+0\0")},       /* not a hex digit */
        {PACKED("n\0k\0" "-nan\0")},
        {PACKED("n\0k\0" "infinity\0")},
        {PACKED("b\0k\0" "2\0")},
        {PACKED("b\0k\0\0")},
        {PACKED("b\0k\0true\0")},
        {PACKED("s\0ok\0v\0n\0k\0x\0")},       /* good record before a bad one */
    };
    roost_context *b = context(), *want = context();

    (void)state;
    roost_context_set_string(b, "kept", "yes");
    roost_context_set_timestamp(b, 1234);
    roost_context_set_string(want, "kept", "yes");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(load(b, bad[i].data, bad[i].len), ROOST_EINVAL);
        assert_same_attributes(roost_context_ctx(b), roost_context_ctx(want));
        assert_int_equal(roost_context_ctx(b)->timestamp, 1234);
    }
    assert_int_equal(roost_context_load(NULL, PACKED("s\0k\0v\0"), 1), ROOST_EINVAL);
    assert_int_equal(roost_context_load(b, NULL, 3, 0), ROOST_EINVAL);
    assert_int_equal(roost_context_load(b, "", (size_t)ROOST_CONTEXT_PACKED_MAX + 1, 0),
                     ROOST_EINVAL);
    assert_same_attributes(roost_context_ctx(b), roost_context_ctx(want));
    roost_context_free(b);
    roost_context_free(want);
}

static void a_nul_inside_a_value_is_caught_by_the_record_count(void **state)
{
    /* {"k": "a\0s", "x": "y"} packed as is: the fields shift and the last
     * record is cut short. */
    static const char cut[] = "s\0k\0a\0s\0s\0x\0y\0";
    /* {"k": "a\0s\0k2\0v"}: shifted into two well-formed records. */
    static const char two[] = "s\0k\0a\0s\0k2\0v\0";
    roost_context *b = context();

    (void)state;
    assert_int_equal(roost_context_load(b, PACKED(cut), 2), ROOST_EINVAL);
    assert_int_equal(roost_context_load(b, PACKED(two), 1), ROOST_EINVAL);
    assert_int_equal(roost_context_ctx(b)->count, 0);
    /* Counted right, the same bytes are two attributes. */
    assert_int_equal(roost_context_load(b, PACKED(two), 2), ROOST_OK);
    assert_int_equal(roost_context_ctx(b)->count, 2);
    roost_context_free(b);
}

static void every_prefix_ending_inside_a_record_is_refused(void **state)
{
    static const char buf[] = "s\0targetingKey\0user-42\0n\0age\0" "0x1.4800000000000p+5\0b\0on\0"
                              "1\0";
    const size_t len = sizeof buf - 1;
    roost_context *b = context();
    size_t records = 0;

    (void)state;
    for (size_t i = 0; i <= len; i++) {
        /* Records end after every third NUL. */
        size_t nuls = 0;
        for (size_t j = 0; j < i; j++)
            nuls += buf[j] == '\0';
        if (i == 0 || (buf[i - 1] == '\0' && nuls % 3 == 0)) {
            assert_int_equal(load(b, buf, i), ROOST_OK);
            assert_int_equal(roost_context_ctx(b)->count, nuls / 3);
            records++;
        } else {
            assert_int_equal(load(b, buf, i), ROOST_EINVAL);
        }
    }
    assert_int_equal(records, 4);
    roost_context_free(b);
}

static void random_bytes_are_refused_or_loaded_never_overread(void **state)
{
    roost_context *b = context();
    uint64_t x = 0x9E3779B97F4A7C15u;
    /* Mostly the bytes a packed buffer is made of, so that some random
     * buffers get past the first record. */
    static const char alphabet[] = {'\0', '\0', '\0', 's', 'n', 'b', '0', '1', 'x', 'p',
                                    '.', '-', '+', 'a', 'f', '9', 'i', '\\', (char)0xff};

    (void)state;
    for (int round = 0; round < 20000; round++) {
        char buf[48];
        size_t len;
        roost_status rc;

        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        len = (size_t)(x % sizeof buf);
        for (size_t i = 0; i < len; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            buf[i] = alphabet[x % sizeof alphabet];
        }
        rc = load(b, buf, len);
        assert_true(rc == ROOST_OK || rc == ROOST_EINVAL);
    }
    roost_context_free(b);
}

static void more_than_4096_records_are_refused(void **state)
{
    const size_t n = 4097, rec = 11; /* "b" NUL "k01234" NUL "1" NUL */
    char *buf = malloc(n * rec + 1);
    roost_context *b = context();

    (void)state;
    assert_non_null(buf);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(snprintf(buf + i * rec, rec + 1, "b%ck%05zu%c1%c", '\0', i, '\0', '\0'),
                         (int)rec);
    assert_int_equal(roost_context_load(b, buf, n * rec, n), ROOST_ELIMIT);
    assert_int_equal(roost_context_ctx(b)->count, 0);
    assert_int_equal(roost_context_load(b, buf, (n - 1) * rec, n - 1), ROOST_OK);
    assert_int_equal(roost_context_ctx(b)->count, 4096);
    free(buf);
    roost_context_free(b);
}

static void reloading_a_large_context_reuses_its_memory(void **state)
{
    /* 40 strings of 100 bytes: four times the first arena chunk. */
    char buf[40 * 110];
    size_t len = 0;
    roost_context *b = context();
    const char *first = NULL;

    (void)state;
    for (int i = 0; i < 40; i++) {
        len += (size_t)snprintf(buf + len, sizeof buf - len, "s%ck%02d%c", '\0', i, '\0');
        memset(buf + len, 'v', 100);
        len += 100;
        buf[len++] = '\0';
    }
    for (int round = 0; round < 100; round++) {
        assert_int_equal(load(b, buf, len), ROOST_OK);
        assert_int_equal(roost_context_ctx(b)->count, 40);
        /* From the second load on, every string lands where it did: the
         * chunks were merged into one and nothing new was allocated. */
        if (round == 1)
            first = roost_context_ctx(b)->attrs[39].str;
        else if (round > 1)
            assert_ptr_equal(roost_context_ctx(b)->attrs[39].str, first);
    }
    roost_context_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(load_builds_what_the_setters_build),
        cmocka_unit_test(load_reads_nan),
        cmocka_unit_test(load_replaces_what_the_context_held_and_last_value_wins),
        cmocka_unit_test(an_empty_buffer_is_an_empty_stamped_context),
        cmocka_unit_test(refused_buffers_leave_the_context_unchanged),
        cmocka_unit_test(a_nul_inside_a_value_is_caught_by_the_record_count),
        cmocka_unit_test(every_prefix_ending_inside_a_record_is_refused),
        cmocka_unit_test(random_bytes_are_refused_or_loaded_never_overread),
        cmocka_unit_test(more_than_4096_records_are_refused),
        cmocka_unit_test(reloading_a_large_context_reuses_its_memory),
    };

    return roost_run_tests("sdk_context", tests);
}
