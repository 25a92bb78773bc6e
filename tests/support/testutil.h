/* Small helpers the unit tests share: a monotonic clock, sleeping, and a
 * temporary directory under Bazel's TEST_TMPDIR that is removed afterwards.
 * Header-only: each test binary gets its own static copies. */
#ifndef ROOST_TESTS_TESTUTIL_H
#define ROOST_TESTS_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static inline double test_now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline void test_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* Creates a fresh directory named after name in dir[0..cap); 0 on success,
 * as cmocka's setup functions return. */
static inline int test_mkdtemp(char *dir, size_t cap, const char *name)
{
    const char *base = getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp";

    snprintf(dir, cap, "%s/%s-XXXXXX", base, name);
    return mkdtemp(dir) ? 0 : -1;
}

/* Removes dir and everything in it; 0 on success. */
static inline int test_rmtree(const char *dir)
{
    char cmd[600];

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

#endif
