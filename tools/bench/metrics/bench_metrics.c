/* Metrics store benchmark: how many Report batches per second the store
 * takes while queries run, how long queries over 24 h of minute rows take,
 * how many bytes a stored row (one sketch) costs, and what a retention pass
 * costs ingest while it runs. In-process, against a real LMDB store in a
 * temporary directory: it measures the store (metrics_ingest,
 * metrics_window, metrics_retention_pass), not gRPC; run.sh adds the
 * end-to-end time of `roostctl metrics` against a real roostd.
 *
 *     bazel run //tools/bench/metrics:bench_metrics -- [--runs 5] [--seconds 3]
 *     bench_metrics --fill-24h DIR   (a 24 h data set for run.sh, then exit)
 *     bench_metrics --query-server HOST:PORT [--runs 5]
 *                                    (QueryMetrics over gRPC on that data set)
 *
 * Workload, shaped like a fleet of C SDKs: 100 clients (two label sets,
 * versions v1 and v2), each sending one batch per 10 s interval of virtual
 * time with 50 aggregates (10 rollout series, 40 flag series), each
 * aggregate a sketch of 200 latencies (lognormal, median 20 ms). So every
 * minute row merges up to 300 aggregates, and rollout aggregates also go to
 * their 1-second rows. Each phase runs on a fresh store; figures are
 * medians over the runs, printed as Markdown for docs/BENCHMARKS.md.
 */
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "roost/sketch.h"
#include "roost/v1/roost.pb-c.h"
#include "tools/lib/rpcclient.h"
#include "server/metrics_ingest.h"
#include "server/metrics_query.h"
#include "server/metrics_retention.h"
#include "server/store.h"

#define CLIENTS 100
#define SERIES 50
#define ROLLOUT_SERIES 10
#define VALUES 200
#define TEMPLATES 16
#define MAX_RUNS 15
#define MAX_SAMPLES 2000000

static const int64_t T0 = 1700000040; /* a minute boundary */

/* ---- small tools -------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of the calling thread: what an operation costs, without the time
 * spent waiting for a core on a shared, loaded machine. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The q-quantile of v[0..n) (sorts v). */
static double pct(double *v, size_t n, double q)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, cmp_double);
    return v[(size_t)floor(q * (double)(n - 1))];
}

static double median(double *v, int n)
{
    return pct(v, (size_t)n, 0.5);
}

static uint64_t rng_state = 12345;

static double uniform(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return ((double)(z >> 11) + 0.5) / 9007199254740992.0;
}

static double lognormal(double median_v, double sigma)
{
    double u1 = uniform(), u2 = uniform();
    return median_v * exp(sigma * sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}

static void die(const char *what, const roost_error *err)
{
    fprintf(stderr, "bench_metrics: %s: %s\n", what, err ? err->msg : "");
    exit(1);
}

/* ---- stores ------------------------------------------------------------- */

static char g_base[256];

static struct store *fresh_store(const char *name, char *dir, size_t cap)
{
    struct store_options so = {16384, 1000};
    struct store *st;
    roost_error err;

    snprintf(dir, cap, "%s/%s", g_base, name);
    if (store_open(dir, &so, &st, &err) != ROOST_OK)
        die("store_open", &err);
    return st;
}

static void drop_store(struct store *st, const char *dir)
{
    char cmd[600];

    store_close(st);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_metrics: cannot remove %s\n", dir);
}

/* ---- SDK-shaped batches ------------------------------------------------- */

struct tmpl {
    uint8_t sketch[ROOST_SKETCH_ENCODED_MAX(512)];
    size_t len;
    uint64_t count, successes;
    double sum, sum_squares;
};

static struct tmpl g_tmpl[TEMPLATES];

static void make_templates(size_t values)
{
    static roost_sketch_bucket b[512];
    roost_sketch sk;

    for (int t = 0; t < TEMPLATES; t++) {
        struct tmpl *m = &g_tmpl[t];
        memset(m, 0, sizeof *m);
        roost_sketch_init(&sk, b, 512);
        for (size_t i = 0; i < values; i++) {
            double v = lognormal(20.0, 0.7);
            roost_sketch_add(&sk, v);
            m->sum += v;
            m->sum_squares += v * v;
        }
        m->count = values;
        m->successes = values - values / 100;
        if (roost_sketch_encode(&sk, m->sketch, sizeof m->sketch, &m->len) != ROOST_OK)
            die("sketch encode", NULL);
    }
}

struct batch {
    Roost__V1__ReportRequest req;
    Roost__V1__ReportLabels labels;
    Roost__V1__OutcomeAggregate aggs[SERIES];
    Roost__V1__OutcomeAggregate *ptrs[SERIES];
    char client[32];
    char scope[SERIES][32];
};

static void batch_init(struct batch *b)
{
    roost__v1__report_request__init(&b->req);
    roost__v1__report_labels__init(&b->labels);
    b->labels.service = (char *)"checkout";
    b->labels.environment = (char *)"prod";
    b->req.labels = &b->labels;
    b->req.client_id = b->client;
    b->req.aggregates = b->ptrs;
    b->req.n_aggregates = SERIES;
    for (int i = 0; i < SERIES; i++) {
        Roost__V1__OutcomeAggregate *a = &b->aggs[i];
        roost__v1__outcome_aggregate__init(a);
        if (i < ROLLOUT_SERIES) {
            a->scope_kind = ROOST__V1__SCOPE_KIND__SCOPE_KIND_ROLLOUT;
            snprintf(b->scope[i], sizeof b->scope[i], "rollout-%d", i / 2);
            a->arm = (char *)(i % 2 ? "canary" : "baseline");
        } else {
            a->scope_kind = ROOST__V1__SCOPE_KIND__SCOPE_KIND_FLAG;
            snprintf(b->scope[i], sizeof b->scope[i], "flag-%d", (i - ROLLOUT_SERIES) / 2);
            a->arm = (char *)(i % 2 ? "on" : "off");
        }
        a->scope_key = b->scope[i];
        a->metric = (char *)"latency_ms";
        b->ptrs[i] = a;
    }
}

/* Batch number n of the fleet: client n % CLIENTS, interval n / CLIENTS
 * (10 s each) from t0. Returns the virtual time the interval ended. */
static int64_t batch_fill(struct batch *b, uint64_t n, int64_t t0)
{
    const uint64_t client = n % CLIENTS, interval = n / CLIENTS;
    const int64_t end = t0 + (int64_t)(interval + 1) * 10;

    snprintf(b->client, sizeof b->client, "bench-client-%03llu", (unsigned long long)client);
    b->req.sequence = interval + 1;
    b->labels.version = (char *)(client % 2 ? "v2" : "v1");
    for (int i = 0; i < SERIES; i++) {
        Roost__V1__OutcomeAggregate *a = &b->aggs[i];
        const struct tmpl *m = &g_tmpl[(n + (uint64_t)i) % TEMPLATES];
        a->minute = (end - 10) / 60;
        a->end_unix_ms = end * 1000;
        a->count = m->count;
        a->successes = m->successes;
        a->sum = m->sum;
        a->sum_squares = m->sum_squares;
        a->sketch.data = (uint8_t *)m->sketch;
        a->sketch.len = m->len;
    }
    return end;
}

/* ---- phase 1: ingest, with or without queries --------------------------- */

struct ingest_ctx {
    struct store *st;
    double seconds;
    _Atomic int64_t vnow; /* virtual time of the last batch stored */
    atomic_bool done;
    /* results */
    uint64_t batches;
    double cpu; /* CPU seconds of the ingest thread */
    double *lat; /* per batch, seconds */
    size_t nlat;
    uint64_t queries;
    double *qlat;
    size_t nqlat;
};

static void *ingest_thread(void *arg)
{
    struct ingest_ctx *c = arg;
    struct batch *b = malloc(sizeof *b);
    double start = now_s(), cpu0 = cpu_s(), t;
    roost_error err;

    batch_init(b);
    for (uint64_t n = 0; (t = now_s()) - start < c->seconds; n++) {
        struct metrics_ingest_result res;
        int64_t vt = batch_fill(b, n, T0);
        if (metrics_ingest(c->st, &b->req, vt, &res, &err) != ROOST_OK)
            die("ingest", &err);
        if (c->nlat < MAX_SAMPLES)
            c->lat[c->nlat++] = now_s() - t;
        c->batches++;
        atomic_store(&c->vnow, vt);
    }
    c->cpu = cpu_s() - cpu0;
    atomic_store(&c->done, true);
    free(b);
    return NULL;
}

/* Alternates what a rollout controller and a dashboard ask: a 30 s canary
 * window (1-second rows) and the last hour of a flag (minute rows). */
static void *query_thread(void *arg)
{
    struct ingest_ctx *c = arg;
    static roost_sketch_bucket buckets[METRICS_AGG_BUCKETS(METRICS_SKETCH_CAP)];
    struct metrics_agg agg;
    roost_error err;

    metrics_agg_init(&agg, buckets, METRICS_SKETCH_CAP, NULL);
    for (uint64_t i = 0; !atomic_load(&c->done); i++) {
        int64_t vt = atomic_load(&c->vnow);
        struct metrics_selector rs = {ROOST__V1__SCOPE_KIND__SCOPE_KIND_ROLLOUT, "rollout-2",
                                      "canary", "latency_ms", NULL, NULL, NULL};
        struct metrics_selector fs = {ROOST__V1__SCOPE_KIND__SCOPE_KIND_FLAG, "flag-3", "on",
                                      "latency_ms", NULL, NULL, NULL};
        double t = now_s();
        roost_status rc = i % 2 ? metrics_window(c->st, &rs, vt - 30 > T0 ? vt - 30 : T0, vt + 1,
                                                 &agg, &err)
                                : metrics_window(c->st, &fs, vt - 3600 > 0 ? vt - 3600 : 0,
                                                 vt + 1, &agg, &err);
        if (rc != ROOST_OK)
            die("query", &err);
        if (c->nqlat < MAX_SAMPLES)
            c->qlat[c->nqlat++] = now_s() - t;
        c->queries++;
    }
    return NULL;
}

struct ingest_result {
    double batches_per_s, p50_ms, p99_ms, cpu_ms, queries_per_s, q50_ms, q99_ms;
    double bytes_value, bytes_key, bytes_file, buckets; /* per minute row */
};

static void row_sizes(struct store *st, struct ingest_result *r)
{
    static roost_sketch_bucket b[METRICS_SKETCH_CAP];
    struct store_txn t;
    struct store_iter it;
    struct store_val k, v;
    roost_sketch sk;
    uint64_t rows = 0, all = 0, kb = 0, vb = 0, buckets = 0;
    roost_error err;

    roost_sketch_init(&sk, b, METRICS_SKETCH_CAP);
    if (store_begin(st, false, &t, &err) != ROOST_OK ||
        store_iter_open(&t, TBL_METRICS, NULL, 0, &it, &err) != ROOST_OK)
        die("row sizes", &err);
    while (store_iter_next(&it, &k, &v)) {
        struct metrics_row row;
        if (metrics_row_decode(v.data, v.len, &row, &err) != ROOST_OK ||
            roost_sketch_decode(&sk, row.sketch, row.sketch_len) != ROOST_OK)
            die("row decode", &err);
        rows++;
        kb += k.len;
        vb += v.len;
        buckets += sk.len;
    }
    store_iter_close(&it);
    for (int tb = 0; tb < TBL_COUNT; tb++)
        all += store_table_entries(&t, (enum store_table)tb);
    store_abort(&t);
    r->bytes_key = (double)kb / (double)rows;
    r->bytes_value = (double)vb / (double)rows;
    r->buckets = (double)buckets / (double)rows;
    /* The file holds every table; rows of all kinds share it. */
    r->bytes_file = (double)store_size_bytes(st) / (double)all;
}

static void run_ingest(double seconds, bool with_queries, struct ingest_result *r)
{
    struct metrics_retention_options o;
    struct ingest_ctx *c = calloc(1, sizeof *c);
    pthread_t ti, tq;
    char dir[512];
    roost_error err;

    c->st = fresh_store("ingest", dir, sizeof dir);
    metrics_retention_defaults(&o);
    if (metrics_retention_init(c->st, &o, T0, &err) != ROOST_OK)
        die("retention init", &err);
    c->seconds = seconds;
    c->lat = malloc(MAX_SAMPLES * sizeof *c->lat);
    c->qlat = malloc(MAX_SAMPLES * sizeof *c->qlat);
    atomic_init(&c->vnow, T0);
    atomic_init(&c->done, false);
    pthread_create(&ti, NULL, ingest_thread, c);
    if (with_queries)
        pthread_create(&tq, NULL, query_thread, c);
    pthread_join(ti, NULL);
    if (with_queries)
        pthread_join(tq, NULL);
    r->batches_per_s = (double)c->batches / seconds;
    r->cpu_ms = 1e3 * c->cpu / (double)c->batches;
    r->p50_ms = 1e3 * pct(c->lat, c->nlat, 0.5);
    r->p99_ms = 1e3 * pct(c->lat, c->nlat, 0.99);
    r->queries_per_s = (double)c->queries / seconds;
    r->q50_ms = 1e3 * pct(c->qlat, c->nqlat, 0.5);
    r->q99_ms = 1e3 * pct(c->qlat, c->nqlat, 0.99);
    row_sizes(c->st, r);
    free(c->lat);
    free(c->qlat);
    drop_store(c->st, dir);
    free(c);
}

/* ---- phase 2: 24 h of minutes ------------------------------------------- */

#define DAY_VALUES 1000

/* 24 h of minute rows ending at `end` for one flag, arms on and off, one
 * aggregate of DAY_VALUES latencies per minute; and the last hour of one
 * rollout arm as 1-second rows (20 latencies each). */
static void fill_day(struct store *st, int64_t end)
{
    static roost_sketch_bucket b[512];
    const int64_t first = end / 60 - 1440;
    struct metrics_retention_options o;
    Roost__V1__ReportRequest req = ROOST__V1__REPORT_REQUEST__INIT;
    Roost__V1__ReportLabels labels = ROOST__V1__REPORT_LABELS__INIT;
    static Roost__V1__OutcomeAggregate aggs[120];
    static Roost__V1__OutcomeAggregate *ptrs[120];
    static uint8_t sk_bytes[120][ROOST_SKETCH_ENCODED_MAX(512)];
    struct metrics_ingest_result res;
    uint64_t seq = 1;
    roost_error err;

    metrics_retention_defaults(&o);
    if (metrics_retention_init(st, &o, end - 3700, &err) != ROOST_OK)
        die("retention init", &err);
    labels.service = (char *)"checkout";
    labels.environment = (char *)"prod";
    labels.version = (char *)"v1";
    req.client_id = (char *)"day-fill";
    req.labels = &labels;
    req.aggregates = ptrs;

    /* Minutes, 60 aggregates (30 minutes x 2 arms) per batch. */
    for (int64_t m0 = first; m0 < first + 1440; m0 += 30) {
        req.n_aggregates = 0;
        for (int64_t m = m0; m < m0 + 30; m++)
            for (int arm = 0; arm < 2; arm++) {
                Roost__V1__OutcomeAggregate *a = &aggs[req.n_aggregates];
                roost_sketch sk;
                size_t len;

                roost__v1__outcome_aggregate__init(a);
                a->scope_kind = ROOST__V1__SCOPE_KIND__SCOPE_KIND_FLAG;
                a->scope_key = (char *)"bench-flag";
                a->arm = (char *)(arm ? "on" : "off");
                a->metric = (char *)"latency_ms";
                a->minute = m;
                roost_sketch_init(&sk, b, 512);
                for (int i = 0; i < DAY_VALUES; i++) {
                    double v = lognormal(20.0, 0.7);
                    roost_sketch_add(&sk, v);
                    a->sum += v;
                    a->sum_squares += v * v;
                }
                a->count = a->successes = DAY_VALUES;
                roost_sketch_encode(&sk, sk_bytes[req.n_aggregates], sizeof sk_bytes[0], &len);
                a->sketch.data = sk_bytes[req.n_aggregates];
                a->sketch.len = len;
                ptrs[req.n_aggregates++] = a;
            }
        req.sequence = seq++;
        if (metrics_ingest(st, &req, end, &res, &err) != ROOST_OK)
            die("fill ingest", &err);
    }
    /* The last hour of one rollout arm, one aggregate per second. */
    for (int64_t s0 = end - 3600; s0 < end; s0 += 120) {
        req.n_aggregates = 0;
        for (int64_t s = s0; s < s0 + 120; s++) {
            Roost__V1__OutcomeAggregate *a = &aggs[req.n_aggregates];
            roost_sketch sk;
            size_t len;

            roost__v1__outcome_aggregate__init(a);
            a->scope_kind = ROOST__V1__SCOPE_KIND__SCOPE_KIND_ROLLOUT;
            a->scope_key = (char *)"bench-rollout";
            a->arm = (char *)"canary";
            a->metric = (char *)"latency_ms";
            a->minute = s / 60;
            a->end_unix_ms = s * 1000 + 500;
            roost_sketch_init(&sk, b, 512);
            for (int i = 0; i < 20; i++) {
                double v = lognormal(20.0, 0.7);
                roost_sketch_add(&sk, v);
                a->sum += v;
                a->sum_squares += v * v;
            }
            a->count = a->successes = 20;
            roost_sketch_encode(&sk, sk_bytes[req.n_aggregates], sizeof sk_bytes[0], &len);
            a->sketch.data = sk_bytes[req.n_aggregates];
            a->sketch.len = len;
            ptrs[req.n_aggregates++] = a;
        }
        req.sequence = seq++;
        if (metrics_ingest(st, &req, end, &res, &err) != ROOST_OK)
            die("fill ingest (seconds)", &err);
    }
}

struct day_result {
    double one_window_ms;  /* 24 h, one aggregate */
    double steps_1m_ms;    /* 1440 one-minute points in one transaction */
    double steps_1h_ms;    /* 24 one-hour points */
    double canary_30s_us;  /* 30 s window on 1-second rows */
    double canary_1h_ms;   /* 1 h window on 1-second rows */
    double rollup_s;       /* retention pass rolling the 24 h into hours */
    double rollup_rows_per_s;
    double ingest_p50_ms, ingest_p99_ms, ingest_max_ms; /* while the pass runs */
};

#define REPS 15

static double time_steps(struct store *st, const struct metrics_selector *sel, int64_t from,
                         int64_t step, int n, struct metrics_agg *agg)
{
    struct store_txn t;
    roost_error err;
    double t0 = cpu_s();

    if (store_begin(st, false, &t, &err) != ROOST_OK)
        die("begin", &err);
    for (int i = 0; i < n; i++) {
        struct metrics_summary s;
        double q;
        if (metrics_window_txn(&t, sel, from + i * step, from + (i + 1) * step, agg, &err) !=
                ROOST_OK ||
            metrics_agg_summarize(agg, &s, &err) != ROOST_OK)
            die("steps", &err);
        if (agg->sketch.count)
            for (int k = 0; k < 3; k++)
                roost_sketch_quantile(&agg->sketch, k == 0 ? 0.5 : k == 1 ? 0.9 : 0.99, &q);
    }
    store_abort(&t);
    return cpu_s() - t0;
}

struct pass_ctx {
    struct store *st;
    int64_t now;
    double seconds;
    uint64_t rows;
    atomic_bool done;
};

static void *pass_thread(void *arg)
{
    struct pass_ctx *p = arg;
    struct metrics_retention_options o;
    struct metrics_retention_stats s;
    roost_error err;
    double t0 = now_s();

    metrics_retention_defaults(&o);
    if (metrics_retention_pass(p->st, &o, p->now, NULL, &s, &err) != ROOST_OK)
        die("retention pass", &err);
    p->seconds = now_s() - t0;
    p->rows = s.rolled_minutes + s.deleted_recent;
    atomic_store(&p->done, true);
    return NULL;
}

static void run_day(struct day_result *r)
{
    static roost_sketch_bucket buckets[METRICS_AGG_BUCKETS(METRICS_SKETCH_CAP)];
    const int64_t end = (T0 / 3600 + 48) * 3600;
    struct metrics_selector flag = {ROOST__V1__SCOPE_KIND__SCOPE_KIND_FLAG, "bench-flag", "on",
                                    "latency_ms", NULL, NULL, NULL};
    struct metrics_selector canary = {ROOST__V1__SCOPE_KIND__SCOPE_KIND_ROLLOUT, "bench-rollout",
                                      "canary", "latency_ms", NULL, NULL, NULL};
    double one[REPS], s1m[REPS], s1h[REPS], c30[REPS], c1h[REPS];
    struct metrics_agg agg;
    struct pass_ctx p = {0};
    struct batch *b = malloc(sizeof *b);
    double *lat = malloc(MAX_SAMPLES * sizeof *lat);
    size_t nlat = 0;
    struct store *st;
    pthread_t th;
    char dir[512];
    roost_error err;

    st = fresh_store("day", dir, sizeof dir);
    fill_day(st, end);
    metrics_agg_init(&agg, buckets, METRICS_SKETCH_CAP, NULL);
    for (int i = 0; i < REPS; i++) {
        double t0 = cpu_s();
        if (metrics_window(st, &flag, end - 86400, end, &agg, &err) != ROOST_OK)
            die("24 h window", &err);
        one[i] = cpu_s() - t0;
        if (agg.count != 1440ull * DAY_VALUES)
            die("24 h window count", NULL);
        s1m[i] = time_steps(st, &flag, end - 86400, 60, 1440, &agg);
        s1h[i] = time_steps(st, &flag, end - 86400, 3600, 24, &agg);
        t0 = cpu_s();
        if (metrics_window(st, &canary, end - 30, end, &agg, &err) != ROOST_OK || !agg.recent)
            die("30 s window", &err);
        c30[i] = cpu_s() - t0;
        t0 = cpu_s();
        if (metrics_window(st, &canary, end - 3600, end, &agg, &err) != ROOST_OK || !agg.recent)
            die("1 h window", &err);
        c1h[i] = cpu_s() - t0;
    }
    r->one_window_ms = 1e3 * median(one, REPS);
    r->steps_1m_ms = 1e3 * median(s1m, REPS);
    r->steps_1h_ms = 1e3 * median(s1h, REPS);
    r->canary_30s_us = 1e6 * median(c30, REPS);
    r->canary_1h_ms = 1e3 * median(c1h, REPS);

    /* Fifteen days later every minute rolls up and every 1-second row
     * expires, while a client keeps reporting. */
    p.st = st;
    p.now = end + 15 * 86400 + 3600;
    atomic_init(&p.done, false);
    batch_init(b);
    pthread_create(&th, NULL, pass_thread, &p);
    for (uint64_t n = 0; !atomic_load(&p.done) && nlat < MAX_SAMPLES; n++) {
        struct metrics_ingest_result res;
        int64_t vt = batch_fill(b, n, p.now);
        double t0 = now_s();
        if (metrics_ingest(st, &b->req, vt, &res, &err) != ROOST_OK)
            die("ingest during the pass", &err);
        lat[nlat++] = now_s() - t0;
    }
    pthread_join(th, NULL);
    r->rollup_s = p.seconds;
    r->rollup_rows_per_s = (double)p.rows / p.seconds;
    r->ingest_p50_ms = 1e3 * pct(lat, nlat, 0.5);
    r->ingest_p99_ms = 1e3 * pct(lat, nlat, 0.99);
    r->ingest_max_ms = 1e3 * pct(lat, nlat, 1.0);
    free(lat);
    free(b);
    drop_store(st, dir);
}

/* ---- QueryMetrics over gRPC ------------------------------------------- */

/* Median wall milliseconds of n calls of one request on one channel. */
static double time_rpc(struct rc_channel *ch, const char *method, const void *req, size_t len,
                       int n)
{
    double v[64];
    struct rc_status st;

    if (n > 64)
        n = 64;
    for (int i = 0; i < n; i++) {
        uint8_t *resp = NULL;
        size_t rlen;
        double t0 = now_s();
        rc_unary(ch, method, req, len, 30, &resp, &rlen, &st);
        v[i] = 1e3 * (now_s() - t0);
        free(resp);
        if (st.code != GRPC_STATUS_OK) {
            fprintf(stderr, "bench_metrics: %s: %s\n", method, st.message);
            exit(1);
        }
    }
    return median(v, n);
}

/* The data set of --fill-24h, queried the way roostctl and a dashboard do:
 * a persistent channel, one call per query. */
static int query_server(const char *addr, int runs)
{
    static const struct {
        const char *arm;
        int64_t step;
        const char *what;
    } shapes[] = {
        {"on", 60, "one series, 1,440 one-minute points"},
        {"", 3600, "both arms, 24 one-hour points each"},
        {"", 0, "both arms, one 24 h point each"},
    };
    const int64_t end = (int64_t)time(NULL) / 60 * 60;
    Roost__V1__StatusRequest sreq = ROOST__V1__STATUS_REQUEST__INIT;
    struct rc_channel *ch;
    uint8_t buf[512];
    roost_error err;

    grpc_init();
    if (rc_channel_open(addr, NULL, &ch, &err) != ROOST_OK)
        die("channel", &err);
    printf("| QueryMetrics over gRPC, 24 h of minute rows (flag, 2 arms) | wall ms |\n"
           "|---|---:|\n");
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        Roost__V1__QueryMetricsRequest q = ROOST__V1__QUERY_METRICS_REQUEST__INIT;
        q.scope_kind = ROOST__V1__SCOPE_KIND__SCOPE_KIND_FLAG;
        q.scope_key = (char *)"bench-flag";
        q.arm = (char *)shapes[i].arm;
        q.metric = (char *)"latency_ms";
        q.from_unix_s = end - 86400;
        q.to_unix_s = end;
        q.step_s = shapes[i].step;
        printf("| %s | %.2f |\n", shapes[i].what,
               time_rpc(ch, "/roost.v1.Admin/QueryMetrics", buf,
                        roost__v1__query_metrics_request__pack(&q, buf), 3 * runs));
    }
    printf("| Admin.Status (the cost of a call alone) | %.2f |\n",
           time_rpc(ch, "/roost.v1.Admin/Status", buf,
                    roost__v1__status_request__pack(&sreq, buf), 3 * runs));
    rc_channel_close(ch);
    grpc_shutdown();
    return 0;
}

/* ---- main --------------------------------------------------------------- */

static double med_of(const void *arr, size_t stride, size_t offset, int runs, double *v)
{
    for (int i = 0; i < runs; i++)
        memcpy(&v[i], (const char *)arr + (size_t)i * stride + offset, sizeof(double));
    return median(v, runs);
}

int main(int argc, char **argv)
{
    struct ingest_result ia[MAX_RUNS], iq[MAX_RUNS];
    struct day_result dr[MAX_RUNS];
    double v[MAX_RUNS];
    int runs = 5;
    double seconds = 3;
    const char *server = NULL;
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (strcmp(argv[i], "--query-server") == 0 && i + 1 < argc)
            server = argv[++i];
        else if (strcmp(argv[i], "--fill-24h") == 0 && i + 1 < argc) {
            struct store_options so = {4096, 1000};
            struct store *st;
            roost_error err;
            if (store_open(argv[++i], &so, &st, &err) != ROOST_OK)
                die("store_open", &err);
            fill_day(st, (int64_t)time(NULL) / 60 * 60);
            store_close(st);
            return 0;
        } else {
            fprintf(stderr, "usage: bench_metrics [--runs N] [--seconds S] | --fill-24h DIR | "
                            "--query-server HOST:PORT [--runs N]\n");
            return 2;
        }
    }
    if (runs < 1 || runs > MAX_RUNS || !(seconds > 0)) {
        fprintf(stderr, "bench_metrics: --runs 1..%d, --seconds > 0\n", MAX_RUNS);
        return 2;
    }
    if (server)
        return query_server(server, runs);
    snprintf(g_base, sizeof g_base, "%s/bench-metrics-XXXXXX", tmp);
    if (!mkdtemp(g_base)) {
        perror("bench_metrics: mkdtemp");
        return 1;
    }
    make_templates(VALUES);
    for (int r = 0; r < runs; r++) {
        run_ingest(seconds, false, &ia[r]);
        run_ingest(seconds, true, &iq[r]);
        run_day(&dr[r]);
        fprintf(stderr,
                "run %d: ingest %.0f batches/s; with queries %.0f batches/s, %.0f queries/s; "
                "24 h window %.2f ms, 1440 steps %.1f ms; roll-up %.2f s\n",
                r + 1, ia[r].batches_per_s, iq[r].batches_per_s, iq[r].queries_per_s,
                dr[r].one_window_ms, dr[r].steps_1m_ms, dr[r].rollup_s);
    }
    rmdir(g_base);

    /* The median over the runs of one field of a result array. */
#define MED(arr, field) med_of((arr), sizeof(arr)[0], offsetof(__typeof__((arr)[0]), field), runs, v)
    printf("Medians of %d runs (%.0f s of ingest per run).\n\n", runs, seconds);
    printf("| ingest (%d aggregates per batch) | batches/s | aggregates/s | batch p50 ms | batch "
           "p99 ms | CPU ms per batch |\n|---|---:|---:|---:|---:|---:|\n",
           SERIES);
    printf("| alone | %.0f | %.0f | %.2f | %.2f | %.2f |\n", MED(ia, batches_per_s),
           SERIES * MED(ia, batches_per_s), MED(ia, p50_ms), MED(ia, p99_ms), MED(ia, cpu_ms));
    printf("| while queries run | %.0f | %.0f | %.2f | %.2f | %.2f |\n\n",
           MED(iq, batches_per_s), SERIES * MED(iq, batches_per_s), MED(iq, p50_ms),
           MED(iq, p99_ms), MED(iq, cpu_ms));
    printf("Queries during ingest: %.0f per second, p50 %.3f ms, p99 %.3f ms.\n\n",
           MED(iq, queries_per_s), MED(iq, q50_ms), MED(iq, q99_ms));
    printf("| query (one series, in-process) | CPU time |\n|---|---:|\n");
    printf("| 24 h of minute rows, one aggregate | %.2f ms |\n", MED(dr, one_window_ms));
    printf("| 24 h as 1440 one-minute points (summary + p50/p90/p99 each) | %.1f ms |\n",
           MED(dr, steps_1m_ms));
    printf("| 24 h as 24 one-hour points | %.2f ms |\n", MED(dr, steps_1h_ms));
    printf("| rollout: 30 s window on 1-second rows | %.0f us |\n", MED(dr, canary_30s_us));
    printf("| rollout: 1 h window on 1-second rows | %.2f ms |\n\n", MED(dr, canary_1h_ms));
    printf("Bytes per minute row after ingest: key %.0f, value %.0f (33-byte header + "
           "sketch of %.0f buckets); LMDB file size / entries of all tables: %.0f.\n\n",
           MED(iq, bytes_key), MED(iq, bytes_value), MED(iq, buckets), MED(iq, bytes_file));
    printf("Retention pass rolling 24 h of minutes (2,880 rows) into hours and expiring "
           "3,600 1-second rows: %.2f s (%.0f rows/s); a client ingesting meanwhile: batch "
           "p50 %.2f ms, p99 %.2f ms, max %.2f ms.\n",
           MED(dr, rollup_s), MED(dr, rollup_rows_per_s), MED(dr, ingest_p50_ms),
           MED(dr, ingest_p99_ms), MED(dr, ingest_max_ms));
    return 0;
}
