/* Shared ending for cmocka test programs: every Roost test binary ends its
 * output with a line "N passed, M failed", which .ci/run sums across suites.
 *
 *     int main(void) { return roost_run_tests("store", tests); }
 */
#ifndef ROOST_TESTS_TESTMAIN_H
#define ROOST_TESTS_TESTMAIN_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#define roost_run_tests(name, tests)                                                     \
    roost_test_summary(cmocka_run_group_tests_name(name, tests, NULL, NULL),            \
                       sizeof(tests) / sizeof((tests)[0]))

#define roost_run_tests_setup(name, tests, setup, teardown)                              \
    roost_test_summary(cmocka_run_group_tests_name(name, tests, setup, teardown),       \
                       sizeof(tests) / sizeof((tests)[0]))

static inline int roost_test_summary(int failed, size_t total)
{
    size_t f = failed > 0 ? (size_t)failed : 0;
    printf("%zu passed, %zu failed\n", total >= f ? total - f : 0, f);
    return failed ? 1 : 0;
}

#endif
