/* Helpers shared by the metrics store tests: a fresh LMDB store per test,
 * Report batches shaped like the C SDK's (one aggregate per series and
 * minute, a sketch of at most 512 buckets, the interval's end), and a small
 * deterministic random generator. Everything runs against a real store. */
#ifndef ROOST_TESTS_METRICS_UTIL_H
#define ROOST_TESTS_METRICS_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "roost/sketch.h"
#include "roost/v1/roost.pb-c.h"
#include "server/metrics_ingest.h"
#include "server/metrics_query.h"
#include "server/metrics_retention.h"
#include "server/store.h"
#include "testmain.h"

#define KIND_FLAG ROOST__V1__SCOPE_KIND__SCOPE_KIND_FLAG
#define KIND_ROLLOUT ROOST__V1__SCOPE_KIND__SCOPE_KIND_ROLLOUT
#define KIND_EXPERIMENT ROOST__V1__SCOPE_KIND__SCOPE_KIND_EXPERIMENT

/* The SDK's sketch capacity (sdk/c/aggregator.h AGG_SKETCH_MAX). */
#define SDK_SKETCH_CAP 512
#define BATCH_MAX 256

/* A fixed "now" for the tests: 2023-11-14T22:13:20Z, minute 28333333. */
#define T_NOW 1700000000LL

/* ---- random ------------------------------------------------------------ */

struct mrng {
    uint64_t s;
};

static inline uint64_t mrng_next(struct mrng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline double mrng_uniform(struct mrng *r)
{
    return ((double)(mrng_next(r) >> 11) + 0.5) / 9007199254740992.0;
}

static inline double mrng_lognormal(struct mrng *r, double mu, double sigma)
{
    double u1 = mrng_uniform(r), u2 = mrng_uniform(r);
    return exp(mu + sigma * sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}

/* ---- store ------------------------------------------------------------- */

static inline struct store *test_store_open(char *dir, size_t cap)
{
    const char *base = getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp";
    struct store_options opt = {512, 1000};
    struct store *st = NULL;
    roost_error err = {0};

    snprintf(dir, cap, "%s/roost-metrics-XXXXXX", base);
    assert_non_null(mkdtemp(dir));
    if (store_open(dir, &opt, &st, &err) != ROOST_OK)
        fail_msg("store_open: %s", err.msg);
    return st;
}

static inline void test_store_close(struct store *st, const char *dir)
{
    char cmd[600];

    store_close(st);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* The fixture of the tests here: a fresh store in st for each test. */
static char st_dir[512];
static struct store *st;

static inline int store_setup(void **state)
{
    (void)state;
    st = test_store_open(st_dir, sizeof st_dir);
    return 0;
}

static inline int store_teardown(void **state)
{
    (void)state;
    test_store_close(st, st_dir);
    return 0;
}

static inline uint64_t table_rows(struct store *st, enum store_table tbl)
{
    struct store_txn t;
    uint64_t n;

    assert_int_equal(store_begin(st, false, &t, NULL), ROOST_OK);
    n = store_table_entries(&t, tbl);
    store_abort(&t);
    return n;
}

/* ---- batches ----------------------------------------------------------- */

struct batch {
    Roost__V1__ReportRequest req;
    Roost__V1__ReportLabels labels;
    Roost__V1__OutcomeAggregate aggs[BATCH_MAX];
    Roost__V1__OutcomeAggregate *ptrs[BATCH_MAX];
    uint8_t sketch[BATCH_MAX][ROOST_SKETCH_ENCODED_MAX(SDK_SKETCH_CAP)];
    char client[64];
    char service[65], environment[65], version[65];
};

static inline struct batch *batch_new(const char *client, uint64_t seq, const char *service,
                                      const char *environment, const char *version)
{
    struct batch *b = calloc(1, sizeof *b);

    assert_non_null(b);
    roost__v1__report_request__init(&b->req);
    roost__v1__report_labels__init(&b->labels);
    snprintf(b->client, sizeof b->client, "%s", client);
    snprintf(b->service, sizeof b->service, "%s", service);
    snprintf(b->environment, sizeof b->environment, "%s", environment);
    snprintf(b->version, sizeof b->version, "%s", version);
    b->labels.service = b->service;
    b->labels.environment = b->environment;
    b->labels.version = b->version;
    b->req.client_id = b->client;
    b->req.sequence = seq;
    b->req.labels = &b->labels;
    b->req.aggregates = b->ptrs;
    return b;
}

/* Adds an aggregate of n copies of each values[i] (n = 1 for plain
 * samples); successes of them succeeded. Returns it for tweaks. */
static inline Roost__V1__OutcomeAggregate *batch_add_n(struct batch *b, int kind, const char *scope,
                                                       const char *arm, const char *metric,
                                                       int64_t minute, int64_t end_ms,
                                                       const double *values, size_t nvalues,
                                                       uint64_t copies, uint64_t successes)
{
    static roost_sketch_bucket buckets[SDK_SKETCH_CAP];
    Roost__V1__OutcomeAggregate *a;
    roost_sketch sk;
    size_t len = 0;

    assert_true(b->req.n_aggregates < BATCH_MAX);
    a = &b->aggs[b->req.n_aggregates];
    roost__v1__outcome_aggregate__init(a);
    a->scope_kind = (Roost__V1__ScopeKind)kind;
    a->scope_key = (char *)scope;
    a->arm = (char *)arm;
    a->metric = (char *)metric;
    a->minute = minute;
    a->end_unix_ms = end_ms;
    roost_sketch_init(&sk, buckets, SDK_SKETCH_CAP);
    for (size_t i = 0; i < nvalues; i++) {
        assert_int_equal(roost_sketch_add_n(&sk, values[i], copies), ROOST_OK);
        a->sum += values[i] * (double)copies;
        a->sum_squares += values[i] * values[i] * (double)copies;
    }
    a->count = (uint64_t)nvalues * copies;
    a->successes = successes;
    if (nvalues) {
        assert_int_equal(roost_sketch_encode(&sk, b->sketch[b->req.n_aggregates],
                                             sizeof b->sketch[0], &len),
                         ROOST_OK);
        a->sketch.data = b->sketch[b->req.n_aggregates];
        a->sketch.len = len;
    }
    b->ptrs[b->req.n_aggregates++] = a;
    return a;
}

static inline Roost__V1__OutcomeAggregate *batch_add(struct batch *b, int kind, const char *scope,
                                                     const char *arm, const char *metric,
                                                     int64_t minute, int64_t end_ms,
                                                     const double *values, size_t n,
                                                     uint64_t successes)
{
    return batch_add_n(b, kind, scope, arm, metric, minute, end_ms, values, n, 1, successes);
}

/* Stores b at now; fails the test on error. */
static inline void batch_ingest(struct store *st, struct batch *b, int64_t now)
{
    struct metrics_ingest_result res;
    roost_error err = {0};

    if (metrics_ingest(st, &b->req, now, &res, &err) != ROOST_OK)
        fail_msg("metrics_ingest: %s", err.msg);
    assert_false(res.duplicate);
}

/* Stores b at now expecting a refusal; returns the message. */
static inline const char *batch_refused(struct store *st, struct batch *b, int64_t now,
                                        roost_status expect)
{
    static roost_error err;
    struct metrics_ingest_result res;

    memset(&err, 0, sizeof err);
    assert_int_equal(metrics_ingest(st, &b->req, now, &res, &err), expect);
    return err.msg;
}

/* ---- windows ----------------------------------------------------------- */

struct window {
    struct metrics_agg agg;
    roost_sketch_bucket buckets[METRICS_AGG_BUCKETS(METRICS_SKETCH_CAP)];
};

static inline struct window *window_new(void)
{
    struct window *w = calloc(1, sizeof *w);

    assert_non_null(w);
    assert_int_equal(metrics_agg_init(&w->agg, w->buckets, METRICS_SKETCH_CAP, NULL), ROOST_OK);
    return w;
}

static inline struct metrics_agg *window_get(struct window *w, struct store *st, int kind,
                                             const char *scope, const char *arm,
                                             const char *metric, int64_t from, int64_t to)
{
    struct metrics_selector sel = {(uint8_t)kind, scope, arm, metric, NULL, NULL, NULL};
    roost_error err = {0};

    if (metrics_window(st, &sel, from, to, &w->agg, &err) != ROOST_OK)
        fail_msg("metrics_window: %s", err.msg);
    return &w->agg;
}

static inline double quantile_of(const struct metrics_agg *a, double q)
{
    double v = 0;

    assert_int_equal(roost_sketch_quantile(&a->sketch, q, &v), ROOST_OK);
    return v;
}

/* Options with the defaults and no pause between batches. */
static inline struct metrics_retention_options retention_opts(int64_t minute_keep,
                                                              int64_t hour_keep,
                                                              int64_t recent_keep)
{
    struct metrics_retention_options o;

    metrics_retention_defaults(&o);
    o.minute_keep_s = minute_keep;
    o.hour_keep_s = hour_keep;
    o.recent_keep_s = recent_keep;
    o.pause_us = 0;
    return o;
}

#endif
