/* Reconnect backoff: 1 s, doubling, 30 s cap, 50 % jitter, reset after a
 * connection stayed up for 60 s. */
#include "backoff.h"
#include "testmain.h"

static void waits_double_with_jitter_up_to_the_cap(void **state)
{
    struct backoff b;
    double base = 1000;

    (void)state;
    backoff_init(&b, 1000, 30000, 12345);
    for (int i = 0; i < 12; i++) {
        uint32_t w = backoff_next(&b);
        double lo = base * 0.5, hi = base * 1.5 > 30000 ? 30000 : base * 1.5;
        assert_true(w >= lo && w <= hi);
        base = base * 2 > 30000 ? 30000 : base * 2;
    }
}

static void jitter_spreads_clients_apart(void **state)
{
    uint32_t min = UINT32_MAX, max = 0;

    (void)state;
    for (uint64_t seed = 1; seed <= 200; seed++) {
        struct backoff b;
        uint32_t w;
        backoff_init(&b, 1000, 30000, seed * 7919);
        w = backoff_next(&b);
        min = w < min ? w : min;
        max = w > max ? w : max;
    }
    assert_true(min < 650 && max > 1350);
}

static void long_connection_resets_the_sequence(void **state)
{
    struct backoff b;

    (void)state;
    backoff_init(&b, 1000, 30000, 99);
    for (int i = 0; i < 10; i++)
        backoff_next(&b);
    backoff_connected_for(&b, 59999); /* not long enough */
    assert_true(backoff_next(&b) >= 15000);
    backoff_connected_for(&b, 60000);
    assert_true(backoff_next(&b) <= 1500);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(waits_double_with_jitter_up_to_the_cap),
        cmocka_unit_test(jitter_spreads_clients_apart),
        cmocka_unit_test(long_connection_resets_the_sequence),
    };

    return roost_run_tests("sdk_backoff", tests);
}
