/* roost.v1.Admin/QueryMetrics: stored outcome metrics as series of
 * summaries per step. The handler validates the request (every refusal
 * names the field), lists the (arm, metric) series of the scope, and asks
 * metrics_window for each step of each series, all in one read transaction
 * so that every point comes from the same snapshot of the store. The
 * numbers are those the controllers see: they call metrics_window too.
 *
 * Bounds: at most METRICS_QUERY_MAX_STEPS points per series and
 * METRICS_QUERY_MAX_POINTS in a response (about 150 bytes each), so that
 * one query cannot hold a worker thread or the store's read snapshot for
 * long, nor build a reply larger than the gRPC message limit.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "metrics_ingest.h"
#include "metrics_query.h"
#include "roostd.h"

#define METRICS_QUERY_MAX_SERIES 64
#define METRICS_QUERY_MAX_STEPS 10080 /* a week of minutes */
#define METRICS_QUERY_MAX_POINTS 20000
#define METRICS_QUERY_MAX_QUANTILES 16

static const double fixed_q[3] = {0.5, 0.9, 0.99};

/* Everything a response points to, freed together. */
struct reply_mem {
    Roost__V1__MetricSeries *series;
    Roost__V1__MetricSeries **series_ptrs;
    Roost__V1__MetricPoint *points;
    Roost__V1__MetricPoint **point_ptrs;
    double *quantiles;
    struct metrics_series_name *names;
    roost_sketch_bucket *buckets;
};

static void reply_mem_free(struct reply_mem *m)
{
    free(m->series);
    free(m->series_ptrs);
    free(m->points);
    free(m->point_ptrs);
    free(m->quantiles);
    free(m->names);
    free(m->buckets);
}

static const char *str_or_empty(const char *s)
{
    return s ? s : "";
}

/* Checks the request; fills *to and *step as resolved. On error fills reply. */
static bool validate(const Roost__V1__QueryMetricsRequest *in, int64_t now, int64_t *to,
                     int64_t *step, struct rpc_reply *reply)
{
    const char *scope = str_or_empty(in->scope_key);
    const Roost__V1__ReportLabels *lb = in->labels;
    int64_t steps;

    if (in->scope_kind < ROOST__V1__SCOPE_KIND__SCOPE_KIND_UNSPECIFIED ||
        in->scope_kind > ROOST__V1__SCOPE_KIND__SCOPE_KIND_EXPERIMENT) {
        rpc_reply_error(reply, GRPC_STATUS_INVALID_ARGUMENT,
                        "scope_kind %d is not FLAG (1), ROLLOUT (2), EXPERIMENT (3) or "
                        "UNSPECIFIED (0, the SDKs' dropped counters)",
                        (int)in->scope_kind);
        return false;
    }
    if (in->scope_kind == ROOST__V1__SCOPE_KIND__SCOPE_KIND_UNSPECIFIED ? scope[0] != '\0'
                                                                          : scope[0] == '\0') {
        rpc_reply_error(reply, GRPC_STATUS_INVALID_ARGUMENT,
                        in->scope_kind ? "scope_key is empty; name the flag, rollout or experiment"
                                       : "scope_key must be empty with scope_kind UNSPECIFIED "
                                         "(the SDKs' dropped counters have no scope)");
        return false;
    }
    if (strlen(scope) > ROOST_SCOPE_KEY_MAX || strlen(str_or_empty(in->arm)) > ROOST_ARM_MAX ||
        strlen(str_or_empty(in->metric)) > ROOST_METRIC_MAX) {
        rpc_reply_error(reply, GRPC_STATUS_INVALID_ARGUMENT,
                        "%s is too long (scope_key at most %d bytes, arm %d, metric %d)",
                        strlen(scope) > ROOST_SCOPE_KEY_MAX               ? "scope_key"
                        : strlen(str_or_empty(in->arm)) > ROOST_ARM_MAX ? "arm"
                                                                          : "metric",
                        ROOST_SCOPE_KEY_MAX, ROOST_ARM_MAX, ROOST_METRIC_MAX);
        return false;
    }
    if (lb) {
        const char *names[3] = {"labels.service", "labels.environment", "labels.version"};
        const char *vals[3] = {lb->service, lb->environment, lb->version};
        for (int i = 0; i < 3; i++) {
            if (strlen(str_or_empty(vals[i])) > ROOST_LABEL_MAX) {
                rpc_reply_error(reply, GRPC_STATUS_INVALID_ARGUMENT,
                                "%s is %zu bytes; labels are at most %d", names[i],
                                strlen(vals[i]), ROOST_LABEL_MAX);
                return false;
            }
        }
    }
    *to = in->to_unix_s ? in->to_unix_s : now;
    if (in->from_unix_s < 0) {
        rpc_reply_error(reply, GRPC_STATUS_INVALID_ARGUMENT,
                        "from_unix_s is negative (%lld); it is a Unix time in seconds",
                        (long long)in->from_unix_s);
        return false;
    }
    if (in->from_unix_s >= *to) {
        rpc_reply_error(reply, GRPC_STATUS_INVALID_ARGUMENT,
                        "from_unix_s (%lld) is not before to_unix_s (%lld%s)",
                        (long long)in->from_unix_s, (long long)*to,
                        in->to_unix_s ? "" : ", now");
        return false;
    }
    *step = in->step_s ? in->step_s : *to - in->from_unix_s;
    if (*step < 1) {
        rpc_reply_error(reply, GRPC_STATUS_INVALID_ARGUMENT,
                        "step_s is %lld; it must be at least 1 second (0 = one point)",
                        (long long)in->step_s);
        return false;
    }
    steps = (*to - in->from_unix_s + *step - 1) / *step;
    if (steps > METRICS_QUERY_MAX_STEPS) {
        rpc_reply_error(reply, GRPC_STATUS_INVALID_ARGUMENT,
                        "step_s %llds gives %lld points over [from, to); at most %d: use a "
                        "larger step or a shorter range",
                        (long long)*step, (long long)steps, METRICS_QUERY_MAX_STEPS);
        return false;
    }
    if (in->n_quantiles > METRICS_QUERY_MAX_QUANTILES) {
        rpc_reply_error(reply, GRPC_STATUS_INVALID_ARGUMENT,
                        "%zu quantiles asked; at most %d (p50, p90 and p99 are always there)",
                        in->n_quantiles, METRICS_QUERY_MAX_QUANTILES);
        return false;
    }
    for (size_t i = 0; i < in->n_quantiles; i++) {
        if (!(in->quantiles[i] >= 0.0 && in->quantiles[i] <= 1.0)) {
            rpc_reply_error(reply, GRPC_STATUS_INVALID_ARGUMENT,
                            "quantiles[%zu] is %g; quantiles are between 0 and 1 (0.999 for "
                            "p99.9)",
                            i, in->quantiles[i]);
            return false;
        }
    }
    return true;
}

/* A quantile of a non-empty sketch; the sketch cannot refuse a q in [0, 1]. */
static double quantile(const roost_sketch *s, double q)
{
    double v = 0;

    roost_sketch_quantile(s, q, &v);
    return v;
}

static void fill_point(Roost__V1__MetricPoint *p, const struct metrics_agg *a,
                       const struct metrics_summary *s, const double *qs, size_t nq, double *qout)
{
    p->count = s->count;
    p->successes = s->successes;
    p->sum = a->sum;
    p->sum_squares = a->sum_squares;
    p->mean = s->mean;
    p->variance = s->variance;
    p->success_rate = s->success_rate;
    p->sketch_count = s->sketch_count;
    p->sketch_collapsed = s->collapsed;
    p->reliable_from_q = s->reliable_from_q;
    p->resolution_s = a->resolution_s;
    p->n_quantiles = nq;
    p->quantiles = qout;
    if (s->sketch_count) {
        p->min = s->min;
        p->max = s->max;
        p->p50 = quantile(&a->sketch, fixed_q[0]);
        p->p90 = quantile(&a->sketch, fixed_q[1]);
        p->p99 = quantile(&a->sketch, fixed_q[2]);
        for (size_t i = 0; i < nq; i++)
            qout[i] = quantile(&a->sketch, qs[i]);
    }
}

static void query_metrics(void *ctx, const struct rpc_request *req, struct rpc_reply *reply)
{
    struct roostd *d = ctx;
    Roost__V1__QueryMetricsRequest *in;
    Roost__V1__QueryMetricsResponse out = ROOST__V1__QUERY_METRICS_RESPONSE__INIT;
    const Roost__V1__ReportLabels *lb;
    struct reply_mem m = {0};
    struct metrics_agg agg;
    struct store_txn t;
    roost_error err = {0};
    int64_t to, step, from;
    size_t nseries = 0, npoints, kept = 0;
    struct log_line l;
    roost_status rc;

    if (!(in = roost__v1__query_metrics_request__unpack(NULL, req->len, req->data))) {
        rpc_reply_error(reply, GRPC_STATUS_INVALID_ARGUMENT,
                        "QueryMetricsRequest cannot be decoded");
        return;
    }
    if (!validate(in, (int64_t)time(NULL), &to, &step, reply))
        goto done;
    from = in->from_unix_s;
    npoints = (size_t)((to - from + step - 1) / step);
    lb = in->labels;

    m.names = malloc(METRICS_QUERY_MAX_SERIES * sizeof *m.names);
    m.buckets = malloc(METRICS_AGG_BUCKETS(METRICS_SKETCH_CAP) * sizeof *m.buckets);
    if (!m.names || !m.buckets ||
        metrics_agg_init(&agg, m.buckets, METRICS_SKETCH_CAP, &err) != ROOST_OK) {
        rpc_reply_error(reply, GRPC_STATUS_RESOURCE_EXHAUSTED, "roostd is out of memory");
        goto done;
    }
    if ((rc = store_begin(d->store, false, &t, &err)) != ROOST_OK) {
        rpc_reply_error(reply, rpc_code_from_status(rc), "%s", err.msg);
        goto done;
    }
    rc = metrics_list_series(&t, (uint8_t)in->scope_kind, str_or_empty(in->scope_key),
                             in->arm, in->metric, m.names, METRICS_QUERY_MAX_SERIES, &nseries,
                             &err);
    if (rc == ROOST_ELIMIT) {
        store_abort(&t);
        rpc_reply_error(reply, GRPC_STATUS_INVALID_ARGUMENT,
                        "arm, metric: %s (or use several queries)", err.msg);
        goto done;
    }
    if (rc == ROOST_OK && nseries * npoints > METRICS_QUERY_MAX_POINTS) {
        store_abort(&t);
        rpc_reply_error(reply, GRPC_STATUS_INVALID_ARGUMENT,
                        "step_s: %zu series x %zu points is more than %d points in one reply; "
                        "use a larger step, a shorter range, or name an arm or a metric",
                        nseries, npoints, METRICS_QUERY_MAX_POINTS);
        goto done;
    }
    if (rc == ROOST_OK && nseries) {
        m.series = calloc(nseries, sizeof *m.series);
        m.series_ptrs = calloc(nseries, sizeof *m.series_ptrs);
        m.points = calloc(nseries * npoints, sizeof *m.points);
        m.point_ptrs = calloc(nseries * npoints, sizeof *m.point_ptrs);
        m.quantiles = calloc(nseries * npoints * (in->n_quantiles ? in->n_quantiles : 1),
                             sizeof *m.quantiles);
        if (!m.series || !m.series_ptrs || !m.points || !m.point_ptrs || !m.quantiles) {
            store_abort(&t);
            rpc_reply_error(reply, GRPC_STATUS_RESOURCE_EXHAUSTED, "roostd is out of memory");
            goto done;
        }
    }
    for (size_t s = 0; rc == ROOST_OK && s < nseries; s++) {
        Roost__V1__MetricSeries *ser = &m.series[kept];
        struct metrics_selector sel = {
            .scope_kind = (uint8_t)in->scope_kind,
            .scope_key = str_or_empty(in->scope_key),
            .arm = m.names[s].arm,
            .metric = m.names[s].metric,
            .service = lb ? lb->service : NULL,
            .environment = lb ? lb->environment : NULL,
            .version = lb ? lb->version : NULL,
        };
        bool any = false;

        roost__v1__metric_series__init(ser);
        ser->arm = m.names[s].arm;
        ser->metric = m.names[s].metric;
        ser->n_points = npoints;
        ser->points = m.point_ptrs + kept * npoints;
        for (size_t i = 0; rc == ROOST_OK && i < npoints; i++) {
            Roost__V1__MetricPoint *p = &m.points[kept * npoints + i];
            double *qout = m.quantiles + (kept * npoints + i) * in->n_quantiles;
            int64_t a = from + (int64_t)i * step, b = a + step < to ? a + step : to;
            struct metrics_summary sum;

            roost__v1__metric_point__init(p);
            p->start_unix_s = a;
            p->end_unix_s = b;
            ser->points[i] = p;
            if ((rc = metrics_window_txn(&t, &sel, a, b, &agg, &err)) != ROOST_OK ||
                (rc = metrics_agg_summarize(&agg, &sum, &err)) != ROOST_OK)
                break;
            fill_point(p, &agg, &sum, in->quantiles, in->n_quantiles, qout);
            any = any || agg.rows > 0;
        }
        /* Series without data in the range are left out. */
        if (rc == ROOST_OK && any)
            m.series_ptrs[kept++] = ser;
    }
    store_abort(&t);
    if (rc != ROOST_OK) {
        /* Limits are the caller's to adjust; anything else is roostd's. */
        log_begin(&l, rc == ROOST_ELIMIT ? LOG_WARN : LOG_ERROR, "query_metrics_failed");
        log_str(&l, "scope_key", str_or_empty(in->scope_key));
        log_str(&l, "error", err.msg);
        log_end(&l);
        rpc_reply_error(reply, rpc_code_from_status(rc), "%s", err.msg);
        goto done;
    }
    out.from_unix_s = from;
    out.to_unix_s = to;
    out.step_s = step;
    out.n_series = kept;
    out.series = m.series_ptrs;
    RPC_REPLY_PACK(reply, roost__v1__query_metrics_response, &out);

done:
    reply_mem_free(&m);
    roost__v1__query_metrics_request__free_unpacked(in, NULL);
}

roost_status api_metrics_register(struct roostd *d, roost_error *err)
{
    const struct rpc_method m = {"/roost.v1.Admin/QueryMetrics", RPC_AUTH_ADMIN, query_metrics,
                                 NULL, d};

    return rpc_server_add_methods(d->rpc, &m, 1, err);
}
