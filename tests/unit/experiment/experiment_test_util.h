/* Shared pieces of the experiment tests: a base document and a way to
 * change one field of it, assertions on messages, a deterministic random
 * generator, and aggregates built from simulated units.
 *
 * Header-only (static functions): each test binary includes it once. */
#ifndef ROOST_TESTS_EXPERIMENT_UTIL_H
#define ROOST_TESTS_EXPERIMENT_UTIL_H

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "server/experiment/analysis.h"
#include "server/experiment/spec.h"
#include "testmain.h"

#define assert_close(got, want, rel)                                                        \
    do {                                                                                    \
        double g_ = (got), w_ = (want);                                                     \
        if (!(fabs(g_ - w_) <= (rel) * fabs(w_) + 1e-300))                                  \
            fail_msg("%s = %.17g, want %.17g", #got, g_, w_);                               \
    } while (0)

/* The status is `want` and the message contains `needle`. */
#define assert_status_says(got, err, want, needle)                                          \
    do {                                                                                    \
        roost_status st_ = (got);                                                           \
        if (st_ != (want))                                                                  \
            fail_msg("status %s (%s), want %s", roost_strerror(st_), (err)->msg,            \
                     roost_strerror(want));                                                 \
        if (!strstr((err)->msg, (needle)))                                                  \
            fail_msg("message \"%s\"\n does not contain \"%s\"", (err)->msg, (needle));     \
    } while (0)

/* ----------------------------------------------------------- the document */

/* The document's flags: "checkout" (control, treatment), "pricing" (three
 * arms, the control in the middle) and "single" (one variant). */
static const char *const checkout_variants[] = {"control", "treatment"};
static const char *const pricing_variants[] = {"low", "base", "high"};
static const char *const single_variants[] = {"only"};
static const struct experiment_flag_info test_flags[] = {
    {"checkout", ROOST_VALUE_STRING, checkout_variants, 2},
    {"pricing", ROOST_VALUE_STRING, pricing_variants, 3},
    {"single", ROOST_VALUE_BOOLEAN, single_variants, 1},
};
#define TEST_NFLAGS (sizeof test_flags / sizeof test_flags[0])

static const char base_doc[] =
    "{\"hypothesis\": \"A green checkout button raises conversion.\","
    " \"flag\": \"checkout\", \"control\": \"control\","
    " \"weights\": {\"control\": 50, \"treatment\": 50},"
    " \"metrics\": {"
    "   \"primary\": {\"name\": \"conversion\", \"metric\": \"checkout.converted\","
    "                 \"type\": \"binomial\", \"direction\": \"increase\", \"mde\": 0.05,"
    "                 \"mdeType\": \"relative\"},"
    "   \"secondary\": [{\"name\": \"revenue\", \"type\": \"mean\", \"direction\": \"increase\","
    "                    \"mde\": 1.0}],"
    "   \"guardrails\": [{\"name\": \"latency\", \"metric\": \"http.latency_ms\","
    "                     \"type\": \"mean\","
    "                     \"direction\": \"decrease\", \"mde\": 5}]"
    " }}";

/* Sets the member at a dotted path ("metrics.primary.alpha") of root to the
 * JSON value `value`, or removes it when value is NULL. */
static inline void set_path(cJSON *root, const char *path, const char *value)
{
    char buf[256], *key, *dot;
    cJSON *o = root;

    snprintf(buf, sizeof buf, "%s", path);
    key = buf;
    while ((dot = strchr(key, '.'))) {
        *dot = '\0';
        o = cJSON_GetObjectItemCaseSensitive(o, key);
        if (!o)
            fail_msg("set_path: no '%s' in %s", key, path);
        key = dot + 1;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(o, key);
    if (value) {
        cJSON *v = cJSON_Parse(value);
        if (!v)
            fail_msg("set_path: bad JSON %s", value);
        cJSON_AddItemToObject(o, key, v);
    }
}

/* Parses base_doc as experiment "exp" after changes given as (path, value)
 * pairs, value NULL removing the field, ended by a NULL path:
 *     parse_doc(&s, &err, "weights", NULL, "flag", "\"pricing\"", NULL); */
static inline roost_status parse_doc(struct experiment_spec *out, roost_error *err, ...)
{
    cJSON *root = cJSON_Parse(base_doc);
    roost_status rc;
    const char *path;
    va_list ap;

    if (!root)
        fail_msg("base_doc does not parse");
    va_start(ap, err);
    while ((path = va_arg(ap, const char *))) {
        const char *value = va_arg(ap, const char *);
        set_path(root, path, value);
    }
    va_end(ap);
    rc = experiment_spec_parse(root, "exp", test_flags, TEST_NFLAGS, out, err);
    cJSON_Delete(root);
    return rc;
}

/* A spec from JSON text, which must parse. */
static inline void spec_from(const char *json, struct experiment_spec *out)
{
    roost_error err = {0};
    roost_status rc = experiment_spec_parse_text(json, strlen(json), "exp", test_flags,
                                                 TEST_NFLAGS, out, &err);
    if (rc)
        fail_msg("spec does not parse: %s", err.msg);
}

/* --------------------------------------------------------------- random */

/* xoshiro256** seeded through splitmix64, as tests/unit/stats/rng.h (whose
 * target is not visible here): the same numbers on every machine. */
typedef struct test_rng {
    uint64_t s[4];
} test_rng;

static inline void test_rng_seed(test_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) {
        uint64_t z = (seed += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        r->s[i] = z ^ (z >> 31);
    }
}

static inline uint64_t test_rng_next(test_rng *r)
{
    uint64_t *s = r->s, t = s[1] << 17;
    uint64_t x = s[1] * 5, out = ((x << 7) | (x >> 57)) * 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);
    return out;
}

static inline double test_rng_uniform(test_rng *r)
{
    return ((double)(test_rng_next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static inline double test_rng_normal(test_rng *r)
{
    double u = test_rng_uniform(r), v = test_rng_uniform(r);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* Adds n units that convert with probability p. */
static inline void add_conversions(test_rng *r, struct experiment_agg *g, uint64_t n, double p)
{
    for (uint64_t i = 0; i < n; i++)
        g->successes += test_rng_uniform(r) < p;
    g->count += n;
}

/* Adds n normal values. */
static inline void add_values(test_rng *r, struct experiment_agg *g, uint64_t n, double mean,
                              double sd)
{
    for (uint64_t i = 0; i < n; i++) {
        double x = mean + sd * test_rng_normal(r);
        g->sum += x;
        g->sum_squares += x * x;
    }
    g->count += n;
}

/* An aggregate with exactly this mean and sample standard deviation. */
static inline struct experiment_agg agg_mean(uint64_t n, double mean, double sd)
{
    struct experiment_agg g = {n, 0, mean * (double)n, 0};
    g.sum_squares = sd * sd * (double)(n - 1) + (double)n * mean * mean;
    return g;
}

static inline struct experiment_agg agg_rate(uint64_t n, uint64_t successes)
{
    struct experiment_agg g = {n, successes, 0, 0};
    return g;
}

#endif
