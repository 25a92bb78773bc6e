/* The metrics store end to end: a real roostd on loopback, Report batches
 * shaped like the C SDK's sent over gRPC (and the real C SDK), read back
 * with `roostctl metrics --json` and through Admin.QueryMetrics. What an
 * operator or a controller relies on: the numbers that went in come out,
 * per step, with quantiles within 1 %; rollout outcomes come back to the
 * second; unknown scopes give no series; bad queries are refused with a
 * message naming the field; NaN never gets in; nothing is lost on restart. */
#include <cjson/cJSON.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "roost/client.h"
#include "roost/sketch.h"
#include "roost/v1/roost.pb-c.h"
#include "testmain.h"

static struct roostd_proc rd;
static int64_t ready_s; /* roostd was serving by then: recent rows start no later */

static int start(void **state)
{
    (void)state;
    memset(&rd, 0, sizeof rd);
    if (!roostd_start(&rd))
        return -1;
    ready_s = (int64_t)time(NULL);
    return 0;
}

static int stop(void **state)
{
    (void)state;
    return roostd_stop(&rd, SIGTERM) == 0 ? 0 : -1;
}

/* ---- sending reports ----------------------------------------------------- */

struct agg_spec {
    int kind;
    const char *scope, *arm, *metric;
    int64_t minute, end_ms;
    const double *values;
    size_t n;
    uint64_t successes;
};

/* One Report batch of aggregates, like the SDK's; returns the gRPC code
 * and copies the message into msg. */
static grpc_status_code report(const char *client, uint64_t seq, const char *service,
                               const char *version, const struct agg_spec *specs, size_t n,
                               char *msg, size_t msg_cap)
{
    static roost_sketch_bucket buckets[512];
    Roost__V1__ReportRequest req = ROOST__V1__REPORT_REQUEST__INIT;
    Roost__V1__ReportLabels labels = ROOST__V1__REPORT_LABELS__INIT;
    Roost__V1__OutcomeAggregate *aggs = calloc(n, sizeof *aggs), **ptrs = calloc(n, sizeof *ptrs);
    uint8_t *sketches = malloc(n * ROOST_SKETCH_ENCODED_MAX(512)), *buf, *resp = NULL;
    struct rc_channel *ch;
    struct rc_status stt;
    size_t len, resp_len;
    roost_error err;

    assert_true(aggs && ptrs && sketches);
    labels.service = (char *)service;
    labels.environment = (char *)"prod";
    labels.version = (char *)version;
    req.client_id = (char *)client;
    req.sequence = seq;
    req.labels = &labels;
    for (size_t i = 0; i < n; i++) {
        roost_sketch sk;
        size_t sl = 0;

        roost__v1__outcome_aggregate__init(&aggs[i]);
        aggs[i].scope_kind = (Roost__V1__ScopeKind)specs[i].kind;
        aggs[i].scope_key = (char *)specs[i].scope;
        aggs[i].arm = (char *)specs[i].arm;
        aggs[i].metric = (char *)specs[i].metric;
        aggs[i].minute = specs[i].minute;
        aggs[i].end_unix_ms = specs[i].end_ms;
        aggs[i].count = specs[i].n;
        aggs[i].successes = specs[i].successes;
        roost_sketch_init(&sk, buckets, 512);
        for (size_t j = 0; j < specs[i].n; j++) {
            double v = specs[i].values[j];
            aggs[i].sum += v;
            aggs[i].sum_squares += v * v;
            roost_sketch_add(&sk, isfinite(v) ? v : 0.0);
        }
        assert_int_equal(roost_sketch_encode(&sk, sketches + i * ROOST_SKETCH_ENCODED_MAX(512),
                                             ROOST_SKETCH_ENCODED_MAX(512), &sl),
                         ROOST_OK);
        aggs[i].sketch.data = sketches + i * ROOST_SKETCH_ENCODED_MAX(512);
        aggs[i].sketch.len = sl;
        ptrs[i] = &aggs[i];
    }
    req.n_aggregates = n;
    req.aggregates = ptrs;
    len = roost__v1__report_request__get_packed_size(&req);
    buf = malloc(len);
    roost__v1__report_request__pack(&req, buf);
    assert_int_equal(rc_channel_open(rd.addr, NULL, &ch, &err), ROOST_OK);
    rc_unary(ch, "/roost.v1.Sync/Report", buf, len, 10, &resp, &resp_len, &stt);
    rc_channel_close(ch);
    if (msg)
        snprintf(msg, msg_cap, "%s", stt.message);
    free(resp);
    free(buf);
    free(aggs);
    free(ptrs);
    free(sketches);
    return stt.code;
}

/* ---- reading them back --------------------------------------------------- */

/* Runs roostctl --json metrics with args; returns the parsed document (the
 * caller deletes it), failing the test when roostctl does not exit 0. */
static cJSON *metrics_json(const char *const *args)
{
    static char out[1 << 20];
    char err[4096];
    const char *argv[40] = {"--json", "metrics"};
    int n = 2, rc;
    cJSON *doc;

    for (int i = 0; args[i] && n < 39; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    rc = roostctl_run(&rd, out, sizeof out, err, sizeof err, argv);
    if (rc != 0)
        fail_msg("roostctl metrics exited %d: %s", rc, err);
    doc = cJSON_Parse(out);
    if (!doc)
        fail_msg("roostctl metrics printed no JSON: %s", out);
    return doc;
}

static cJSON *series_of(cJSON *doc, const char *arm, const char *metric)
{
    cJSON *s;

    cJSON_ArrayForEach(s, cJSON_GetObjectItem(doc, "series"))
    {
        if (strcmp(cJSON_GetObjectItem(s, "arm")->valuestring, arm) == 0 &&
            strcmp(cJSON_GetObjectItem(s, "metric")->valuestring, metric) == 0)
            return s;
    }
    fail_msg("no series %s/%s in the output", arm, metric);
    return NULL;
}

static double num(cJSON *o, const char *key)
{
    cJSON *v = cJSON_GetObjectItem(o, key);

    if (!cJSON_IsNumber(v))
        fail_msg("'%s' is not a number", key);
    return v->valuedouble;
}

static void unix_arg(char *out, size_t cap, int64_t t)
{
    snprintf(out, cap, "%lld", (long long)t);
}

static void rfc3339_arg(char *out, size_t cap, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;

    gmtime_r(&tt, &tm);
    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- data ---------------------------------------------------------------- */

struct rng {
    uint64_t s;
};

static double uniform(struct rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return ((double)(z >> 11) + 0.5) / 9007199254740992.0;
}

static double lognormal(struct rng *r, double median, double sigma)
{
    double u1 = uniform(r), u2 = uniform(r);
    return median * exp(sigma * sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static double exact_q(double *v, size_t n, double q)
{
    qsort(v, n, sizeof v[0], cmp_double);
    return v[(size_t)floor(q * (double)(n - 1))];
}

static void assert_within_1pct(double est, double exact, const char *what)
{
    if (fabs(est - exact) > 0.01 * fabs(exact) * (1 + 1e-9))
        fail_msg("%s: %g is not within 1 %% of %g", what, est, exact);
}

/* ---- tests --------------------------------------------------------------- */

enum { MINUTES = 10, PER = 40 };
static int64_t base_minute; /* first minute of the flag data */
/* Values of arm "on", per client (v1, v2) and minute, for exact quantiles. */
static double on_values[2][MINUTES][PER];

static void send_flag_data(void)
{
    struct rng r = {2024};
    const char *versions[2] = {"v1", "v2"};

    base_minute = (int64_t)time(NULL) / 60 - 30;
    for (int c = 0; c < 2; c++) {
        struct agg_spec specs[2 * MINUTES];
        static double off_values[MINUTES][PER / 2];
        char msg[512];

        for (int m = 0; m < MINUTES; m++) {
            for (int i = 0; i < PER; i++)
                on_values[c][m][i] = lognormal(&r, c ? 40.0 : 20.0, 0.5);
            for (int i = 0; i < PER / 2; i++)
                off_values[m][i] = lognormal(&r, 25.0, 0.3);
            specs[2 * m] = (struct agg_spec){1, "new-checkout", "on", "latency_ms",
                                             base_minute + m, 0, on_values[c][m], PER, PER - 1};
            specs[2 * m + 1] = (struct agg_spec){1, "new-checkout", "off", "latency_ms",
                                                 base_minute + m, 0, off_values[m], PER / 2,
                                                 PER / 2};
        }
        assert_int_equal(report(c ? "client-b" : "client-a", 1, "api", versions[c], specs,
                                2 * MINUTES, msg, sizeof msg),
                         GRPC_STATUS_OK);
    }
}

static void reports_in_come_back_out_of_roostctl_metrics_json(void **state)
{
    char from[40], to[40];
    const char *args[] = {"flag",   "new-checkout", "--from",     from,    "--to", to,
                          "--step", "5m",           "--quantile", "0.999", NULL};
    cJSON *doc, *on, *off, *p;
    int i = 0;

    (void)state;
    send_flag_data();
    rfc3339_arg(from, sizeof from, base_minute * 60);
    rfc3339_arg(to, sizeof to, (base_minute + MINUTES) * 60);
    doc = metrics_json(args);
    assert_int_equal(num(doc, "step_s"), 300);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "series")), 2);
    on = series_of(doc, "on", "latency_ms");
    off = series_of(doc, "off", "latency_ms");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(on, "points")), 2);

    cJSON_ArrayForEach(p, cJSON_GetObjectItem(on, "points"))
    {
        /* Both clients, five minutes each: the label sets are merged. */
        static double v[2 * 5 * PER];
        double sum = 0;
        size_t n = 0;

        for (int c = 0; c < 2; c++)
            for (int m = 5 * i; m < 5 * i + 5; m++)
                for (int k = 0; k < PER; k++) {
                    v[n++] = on_values[c][m][k];
                    sum += on_values[c][m][k];
                }
        assert_int_equal(num(p, "start_unix_s"), (base_minute + 5 * i) * 60);
        assert_int_equal(num(p, "count"), n);
        assert_int_equal(num(p, "successes"), 10 * (PER - 1));
        assert_true(fabs(num(p, "success_rate") - (double)(PER - 1) / PER) < 1e-12);
        assert_true(fabs(num(p, "mean") - sum / (double)n) < 1e-9 * sum / (double)n);
        assert_int_equal(num(p, "resolution_s"), 60);
        assert_false(cJSON_IsTrue(cJSON_GetObjectItem(p, "sketch_collapsed")));
        assert_within_1pct(num(p, "p50"), exact_q(v, n, 0.5), "p50");
        assert_within_1pct(num(p, "p90"), exact_q(v, n, 0.9), "p90");
        assert_within_1pct(num(p, "p99"), exact_q(v, n, 0.99), "p99");
        assert_within_1pct(num(cJSON_GetObjectItem(p, "quantiles"), "p99.9"),
                           exact_q(v, n, 0.999), "p99.9");
        i++;
    }
    cJSON_ArrayForEach(p, cJSON_GetObjectItem(off, "points"))
        assert_int_equal(num(p, "count"), 2 * 5 * (PER / 2));
    cJSON_Delete(doc);
}

static void labels_select_and_arms_narrow(void **state)
{
    char from[40], to[40];
    const char *args[] = {"flag", "new-checkout", "--from", from, "--to", to, "--arm", "on",
                          "--version", "v2", NULL};
    double total = 0;
    cJSON *doc, *p;

    (void)state;
    unix_arg(from, sizeof from, base_minute * 60);
    unix_arg(to, sizeof to, (base_minute + MINUTES) * 60);
    doc = metrics_json(args);
    /* --arm on: only that series; no --step: at most 60 rows (10 s each). */
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "series")), 1);
    assert_int_equal(num(doc, "step_s"), 10);
    cJSON_ArrayForEach(p, cJSON_GetObjectItem(series_of(doc, "on", "latency_ms"), "points"))
        total += num(p, "count");
    assert_int_equal(total, MINUTES * PER); /* client-b (version v2) only */
    cJSON_Delete(doc);
}

static void the_table_shows_the_same_numbers(void **state)
{
    static char out[1 << 16];
    char from[40], to[40], line[128];
    const char *args[] = {"metrics", "flag", "new-checkout", "--arm", "off", "--from", from,
                          "--to", to, "--step", "10m", NULL};

    (void)state;
    unix_arg(from, sizeof from, base_minute * 60);
    unix_arg(to, sizeof to, (base_minute + MINUTES) * 60);
    assert_int_equal(roostctl_run(&rd, out, sizeof out, NULL, 0, args), 0);
    assert_non_null(strstr(out, "flag new-checkout  arm off  metric latency_ms  (step 600s)"));
    assert_non_null(strstr(out, "TIME"));
    assert_non_null(strstr(out, "P99"));
    rfc3339_arg(from, sizeof from, base_minute * 60);
    snprintf(line, sizeof line, "%-20s %12d", from, 2 * MINUTES * (PER / 2));
    if (!strstr(out, line))
        fail_msg("no row \"%s\" in:\n%s", line, out);
    assert_non_null(strstr(out, "100.00%"));
}

static void rollout_outcomes_come_back_to_the_second(void **state)
{
    const double v[3] = {12, 14, 90};
    char from[40], to[40];
    const char *args[] = {"rollout", "checkout-v2", "--arm", "canary", "--from", from,
                          "--to", to, "--step", "1s", NULL};
    struct agg_spec spec;
    int64_t s;
    cJSON *doc, *p;
    int nonempty = 0;

    (void)state;
    while ((int64_t)time(NULL) < ready_s + 2)
        usleep(100000);
    s = (int64_t)time(NULL);
    /* An SDK interval that ended half a second into second s. */
    spec = (struct agg_spec){2, "checkout-v2", "canary", "latency_ms", s / 60, s * 1000 + 500,
                             v, 3, 2};
    assert_int_equal(report("canary-pod", 1, "checkout", "v1.5.0", &spec, 1, NULL, 0),
                     GRPC_STATUS_OK);
    unix_arg(from, sizeof from, ready_s);
    unix_arg(to, sizeof to, s + 5);
    doc = metrics_json(args);
    cJSON_ArrayForEach(p, cJSON_GetObjectItem(series_of(doc, "canary", "latency_ms"), "points"))
    {
        if (num(p, "count") == 0)
            continue;
        nonempty++;
        assert_int_equal(num(p, "start_unix_s"), s);
        assert_int_equal(num(p, "count"), 3);
        assert_int_equal(num(p, "successes"), 2);
        assert_int_equal(num(p, "resolution_s"), 1);
        assert_within_1pct(num(p, "max"), 90, "max");
    }
    assert_int_equal(nonempty, 1);
    cJSON_Delete(doc);
}

static void the_c_sdk_files_rollout_outcomes_under_their_interval_end(void **state)
{
    roost_client_options o;
    roost_client *c = NULL;
    roost_error err;
    char from[40], to[40];
    const char *args[] = {"rollout", "sdk-rollout", "--arm", "canary", "--metric", "latency_ms",
                          "--from", from, "--to", to, "--step", "1s", NULL};
    int64_t t0, t1;
    double total = 0;
    cJSON *doc, *p;

    (void)state;
    roost_client_options_init(&o);
    o.target = rd.addr;
    o.flush_interval_ms = 200;
    o.close_timeout_ms = 5000;
    o.service = "checkout";
    o.environment = "prod";
    o.version = "v1.5.0";
    assert_int_equal(roost_client_new(&o, &c, &err), ROOST_OK);
    assert_int_equal(roost_client_start(c, &err), ROOST_OK);
    t0 = (int64_t)time(NULL);
    for (int i = 0; i < 500; i++) {
        assert_int_equal(roost_observe(c, ROOST_SCOPE_ROLLOUT, "sdk-rollout", "canary",
                                       "latency_ms", 10.0 + i % 50, i % 100 != 0),
                         ROOST_OK);
        if (i % 100 == 99)
            usleep(250000);
    }
    assert_int_equal(roost_client_close(c, &err), ROOST_OK); /* delivers what is left */
    t1 = (int64_t)time(NULL);
    unix_arg(from, sizeof from, t0 - 5);
    unix_arg(to, sizeof to, t1 + 5);
    doc = metrics_json(args);
    cJSON_ArrayForEach(p, cJSON_GetObjectItem(series_of(doc, "canary", "latency_ms"), "points"))
    {
        if (num(p, "count") == 0)
            continue;
        total += num(p, "count");
        assert_int_equal(num(p, "resolution_s"), 1);
        /* Filed under the second its interval ended, not the minute's end. */
        assert_true(num(p, "start_unix_s") >= t0 && num(p, "start_unix_s") <= t1 + 1);
    }
    assert_int_equal(total, 500);
    cJSON_Delete(doc);
}

static void unknown_scopes_give_no_series(void **state)
{
    const char *args[] = {"experiment", "no-such-experiment", "--from", "-1d", NULL};
    cJSON *doc;

    (void)state;
    doc = metrics_json(args);
    assert_true(cJSON_IsArray(cJSON_GetObjectItem(doc, "series")));
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "series")), 0);
    cJSON_Delete(doc);
}

/* QueryMetrics straight over gRPC: code and message. */
static grpc_status_code query(Roost__V1__QueryMetricsRequest *req, char *msg, size_t cap)
{
    uint8_t buf[4096], *resp = NULL;
    size_t len = roost__v1__query_metrics_request__pack(req, buf), rlen;
    struct rc_channel *ch;
    struct rc_status st;
    roost_error err;

    assert_int_equal(rc_channel_open(rd.addr, NULL, &ch, &err), ROOST_OK);
    rc_unary(ch, "/roost.v1.Admin/QueryMetrics", buf, len, 10, &resp, &rlen, &st);
    rc_channel_close(ch);
    free(resp);
    snprintf(msg, cap, "%s", st.message);
    return st.code;
}

static void bad_queries_are_refused_naming_the_field(void **state)
{
    Roost__V1__ReportLabels labels = ROOST__V1__REPORT_LABELS__INIT;
    char long_label[100], msg[512];
    double qs[2] = {0.5, 1.5};
    const int64_t now = (int64_t)time(NULL);
    Roost__V1__QueryMetricsRequest r;

    (void)state;
    memset(long_label, 'x', sizeof long_label - 1);
    long_label[sizeof long_label - 1] = '\0';

#define BASE()                                                                                    \
    do {                                                                                          \
        roost__v1__query_metrics_request__init(&r);                                               \
        r.scope_kind = ROOST__V1__SCOPE_KIND__SCOPE_KIND_FLAG;                                    \
        r.scope_key = (char *)"new-checkout";                                                     \
        r.from_unix_s = now - 3600;                                                               \
        r.to_unix_s = now;                                                                        \
        r.step_s = 60;                                                                            \
    } while (0)
#define EXPECT(field)                                                                             \
    do {                                                                                          \
        assert_int_equal(query(&r, msg, sizeof msg), GRPC_STATUS_INVALID_ARGUMENT);              \
        if (strncmp(msg, field, strlen(field)) != 0)                                              \
            fail_msg("expected a message starting with %s, got: %s", field, msg);                 \
    } while (0)

    BASE();
    assert_int_equal(query(&r, msg, sizeof msg), GRPC_STATUS_OK);
    BASE();
    r.scope_kind = (Roost__V1__ScopeKind)9;
    EXPECT("scope_kind");
    BASE();
    r.scope_key = (char *)"";
    EXPECT("scope_key");
    BASE();
    r.arm = long_label;
    EXPECT("arm");
    BASE();
    labels.service = long_label;
    r.labels = &labels;
    EXPECT("labels.service");
    BASE();
    r.from_unix_s = now;
    r.to_unix_s = now - 60;
    EXPECT("from_unix_s");
    BASE();
    r.from_unix_s = -1;
    EXPECT("from_unix_s");
    BASE();
    r.step_s = -5;
    EXPECT("step_s");
    BASE();
    r.from_unix_s = now - 30 * 86400;
    r.step_s = 1;
    EXPECT("step_s");
    BASE();
    r.n_quantiles = 2;
    r.quantiles = qs;
    EXPECT("quantiles[1]");
#undef BASE
#undef EXPECT
}

static void roostctl_refuses_what_it_cannot_read(void **state)
{
    char err[1024];
    const char *missing[] = {"metrics", "rollout", NULL};
    const char *kind[] = {"metrics", "service", "x", NULL};
    const char *when[] = {"metrics", "rollout", "x", "--from", "yesterday", NULL};
    const char *q[] = {"metrics", "rollout", "x", "--quantile", "1.5", NULL};
    const char *step[] = {"metrics", "rollout", "x", "--step", "5 minutes", NULL};

    (void)state;
    assert_int_equal(roostctl_run(&rd, NULL, 0, err, sizeof err, missing), 2);
    assert_non_null(strstr(err, "KIND"));
    assert_int_equal(roostctl_run(&rd, NULL, 0, err, sizeof err, kind), 2);
    assert_non_null(strstr(err, "flag, rollout, experiment"));
    assert_int_equal(roostctl_run(&rd, NULL, 0, err, sizeof err, when), 2);
    assert_non_null(strstr(err, "--from 'yesterday'"));
    assert_int_equal(roostctl_run(&rd, NULL, 0, err, sizeof err, q), 2);
    assert_non_null(strstr(err, "--quantile '1.5'"));
    assert_int_equal(roostctl_run(&rd, NULL, 0, err, sizeof err, step), 2);
    assert_non_null(strstr(err, "--step"));
}

static void nan_in_a_report_is_refused_and_never_stored(void **state)
{
    const double v[2] = {5, NAN};
    struct agg_spec spec = {1, "nan-flag", "on", "latency_ms", (int64_t)time(NULL) / 60, 0, v, 2,
                            2};
    const char *args[] = {"flag", "nan-flag", "--from", "-1h", NULL};
    char msg[512];
    cJSON *doc;

    (void)state;
    assert_int_equal(report("nan-client", 1, "api", "v1", &spec, 1, msg, sizeof msg),
                     GRPC_STATUS_INVALID_ARGUMENT);
    if (!strstr(msg, "sum is NaN"))
        fail_msg("message: %s", msg);
    doc = metrics_json(args);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "series")), 0);
    cJSON_Delete(doc);
}

static void stored_metrics_survive_a_restart(void **state)
{
    char from[40], to[40];
    const char *args[] = {"flag", "new-checkout", "--from", from, "--to", to, "--step", "10m",
                          NULL};
    cJSON *doc, *p;

    (void)state;
    assert_int_equal(roostd_stop(&rd, SIGTERM), 0);
    assert_true(roostd_start(&rd));
    unix_arg(from, sizeof from, base_minute * 60);
    unix_arg(to, sizeof to, (base_minute + MINUTES) * 60);
    doc = metrics_json(args);
    p = cJSON_GetArrayItem(cJSON_GetObjectItem(series_of(doc, "on", "latency_ms"), "points"), 0);
    assert_int_equal(num(p, "count"), 2 * MINUTES * PER);
    cJSON_Delete(doc);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reports_in_come_back_out_of_roostctl_metrics_json),
        cmocka_unit_test(labels_select_and_arms_narrow),
        cmocka_unit_test(the_table_shows_the_same_numbers),
        cmocka_unit_test(rollout_outcomes_come_back_to_the_second),
        cmocka_unit_test(the_c_sdk_files_rollout_outcomes_under_their_interval_end),
        cmocka_unit_test(unknown_scopes_give_no_series),
        cmocka_unit_test(bad_queries_are_refused_naming_the_field),
        cmocka_unit_test(roostctl_refuses_what_it_cannot_read),
        cmocka_unit_test(nan_in_a_report_is_refused_and_never_stored),
        cmocka_unit_test(stored_metrics_survive_a_restart),
    };

    harness_init(argc, argv);
    grpc_init();
    return roost_run_tests_setup("metrics", tests, start, stop);
}
