/* roostctl metrics: what roostd stored for one flag, rollout or experiment,
 * as a table per (arm, metric) series or as JSON (Admin.QueryMetrics).
 *
 * Times are what people type: RFC 3339, a Unix time, "now", or relative to
 * now ("-1h", "now-30m"). When both ends are relative (the default is the
 * last hour) they are aligned to the step, so that rows start on round
 * times and the last row is the step in progress; absolute times are used
 * as given. Without --step, the step is the roundest one that gives at most
 * 60 rows. The numbers are roostd's: nothing is recomputed here.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "roost/v1/roost.pb-c.h"
#include "roostctl.h"
#include "tools/lib/rpcclient.h"

static const char usage[] =
    "usage: roostctl metrics KIND SCOPE [--arm A] [--metric M] [--service S]\n"
    "                        [--environment E] [--version V] [--from T] [--to T]\n"
    "                        [--step D] [--quantile Q]...\n"
    "\n"
    "Prints the outcomes roostd stored for one flag, rollout or experiment: per\n"
    "step, the count, mean, success rate and p50 / p90 / p99 of every (arm, metric)\n"
    "series, or of the ones named. Label sets that match are merged.\n"
    "\n"
    "  KIND             flag, rollout or experiment (sdk with SCOPE \"\": the SDKs'\n"
    "                   dropped-outcome counters)\n"
    "  SCOPE            the flag, rollout or experiment name\n"
    "  --arm A          only this arm (a variant; baseline or canary)\n"
    "  --metric M       only this metric\n"
    "  --service S      only outcomes reported with this service label\n"
    "  --environment E  only this environment label\n"
    "  --version V      only this version label\n"
    "  --from T         start (default -1h): RFC 3339 (2024-05-01T12:00:00Z), a Unix\n"
    "                   time in seconds, now, or relative to now (-30m, -2h, now-7d)\n"
    "  --to T           end, exclusive (default now)\n"
    "  --step D         width of each row: 1s, 30s, 5m, 1h, 1d (default: at most\n"
    "                   60 rows)\n"
    "  --quantile Q     another quantile to show (0.999 or p99.9); repeatable\n"
    "\n"
    "Stored rows are 1 second (recent rows of rollouts), 1 minute, or 1 hour\n"
    "(older than the minute retention) long; a row counts in the step where it\n"
    "starts, so a step shorter than the rows shows them whole (docs/metrics.md).\n";

#define MAX_QUANTILES 16

struct when {
    int64_t t;
    bool relative; /* "now" or relative to it: may be aligned to the step */
};

/* "1d12h", "30s", "5m": seconds; false on anything else. */
static bool parse_duration(const char *s, int64_t *out)
{
    static const char units[] = "dhms";
    static const int64_t secs[] = {86400, 3600, 60, 1};
    size_t next = 0;
    int64_t total = 0;

    if (!*s)
        return false;
    while (*s) {
        int64_t n = 0;
        const char *u;

        if (*s < '0' || *s > '9')
            return false;
        for (; *s >= '0' && *s <= '9'; s++) {
            if (n > 1000000000000LL)
                return false;
            n = n * 10 + (*s - '0');
        }
        if (!*s || !(u = strchr(units + next, *s)))
            return false;
        total += n * secs[u - units];
        next = (size_t)(u - units) + 1;
        s++;
    }
    *out = total;
    return true;
}

/* YYYY-MM-DD[(T| )HH:MM[:SS[.frac]]][Z|(+|-)HH:MM]; false on anything
 * else. Without a zone the time is UTC. */
static bool parse_rfc3339(const char *s, int64_t *out)
{
    struct tm tm = {0};
    int y, mo, d, h = 0, mi = 0, sec = 0, n = 0, zh, zm;
    int64_t t;

    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
        return false;
    s += n;
    if (*s == 'T' || *s == 't' || *s == ' ') {
        if (sscanf(s + 1, "%2d:%2d%n", &h, &mi, &n) != 2 || n != 5)
            return false;
        s += 1 + n;
        if (*s == ':') {
            if (sscanf(s + 1, "%2d%n", &sec, &n) != 1 || n != 2)
                return false;
            s += 1 + n;
            if (*s == '.')
                for (s++; *s >= '0' && *s <= '9'; s++)
                    ; /* fractions of a second: rows are whole seconds */
        }
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return false;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    t = (int64_t)timegm(&tm);
    if (*s == 'Z' || *s == 'z') {
        s++;
    } else if (*s == '+' || *s == '-') {
        int sign = *s == '+' ? 1 : -1;
        if (sscanf(s + 1, "%2d:%2d%n", &zh, &zm, &n) != 2 || n != 5 || zh > 23 || zm > 59)
            return false;
        t -= sign * (int64_t)(zh * 3600 + zm * 60);
        s += 1 + n;
    }
    if (*s)
        return false;
    *out = t;
    return true;
}

static bool parse_when(const char *s, int64_t now, struct when *out)
{
    int64_t d;
    char *end;

    out->relative = false;
    if (strncmp(s, "now", 3) == 0) {
        s += 3;
        out->relative = true;
        if (!*s) {
            out->t = now;
            return true;
        }
        if (*s != '-' && *s != '+')
            return false;
    }
    if ((*s == '-' || *s == '+') && parse_duration(s + 1, &d)) {
        out->t = *s == '-' ? now - d : now + d;
        out->relative = true;
        return true;
    }
    if (out->relative)
        return false;
    if (*s >= '0' && *s <= '9' && strlen(s) <= 12) {
        errno = 0;
        d = strtoll(s, &end, 10);
        if (!errno && !*end) {
            out->t = d;
            return true;
        }
    }
    return parse_rfc3339(s, &out->t);
}

/* "0.999", "p99.9", "99.9%" -> 0.999. */
static bool parse_quantile(const char *s, double *q)
{
    char *end;
    double v;
    bool pct = false;

    if (*s == 'p' || *s == 'P') {
        pct = true;
        s++;
    }
    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s)
        return false;
    if (*end == '%' && !end[1])
        pct = true;
    else if (*end)
        return false;
    if (pct)
        v /= 100.0;
    if (!(v >= 0.0 && v <= 1.0))
        return false;
    *q = v;
    return true;
}

/* The roundest step that gives at most 60 rows over span seconds. */
static int64_t default_step(int64_t span)
{
    static const int64_t steps[] = {1,    5,    10,   15,    30,    60,    120,   300,
                                    600,  900,  1800, 3600,  7200,  10800, 21600, 43200,
                                    86400, 604800};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
        if ((span + steps[i] - 1) / steps[i] <= 60)
            return steps[i];
    return (span + 59) / 60;
}

static void fmt_quantile_name(double q, char *out, size_t cap)
{
    snprintf(out, cap, "p%g", q * 100.0);
}

static const char *kind_name(Roost__V1__ScopeKind k)
{
    switch (k) {
    case ROOST__V1__SCOPE_KIND__SCOPE_KIND_FLAG: return "flag";
    case ROOST__V1__SCOPE_KIND__SCOPE_KIND_ROLLOUT: return "rollout";
    case ROOST__V1__SCOPE_KIND__SCOPE_KIND_EXPERIMENT: return "experiment";
    default: return "sdk";
    }
}

/* ---- output ------------------------------------------------------------- */

static cJSON *num_or_null(bool present, double v)
{
    return present && isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

static void print_json(const Roost__V1__QueryMetricsRequest *req,
                       const Roost__V1__QueryMetricsResponse *r)
{
    cJSON *o = cJSON_CreateObject(), *series = cJSON_CreateArray();
    char buf[64];

    cJSON_AddStringToObject(o, "kind", kind_name(req->scope_kind));
    cJSON_AddStringToObject(o, "scope", req->scope_key);
    roostctl_fmt_time(r->from_unix_s * 1000, buf, sizeof buf);
    cJSON_AddStringToObject(o, "from", buf);
    roostctl_fmt_time(r->to_unix_s * 1000, buf, sizeof buf);
    cJSON_AddStringToObject(o, "to", buf);
    cJSON_AddNumberToObject(o, "from_unix_s", (double)r->from_unix_s);
    cJSON_AddNumberToObject(o, "to_unix_s", (double)r->to_unix_s);
    cJSON_AddNumberToObject(o, "step_s", (double)r->step_s);
    for (size_t s = 0; s < r->n_series; s++) {
        const Roost__V1__MetricSeries *ser = r->series[s];
        cJSON *so = cJSON_CreateObject(), *points = cJSON_CreateArray();

        cJSON_AddStringToObject(so, "arm", ser->arm);
        cJSON_AddStringToObject(so, "metric", ser->metric);
        for (size_t i = 0; i < ser->n_points; i++) {
            const Roost__V1__MetricPoint *p = ser->points[i];
            cJSON *po = cJSON_CreateObject(), *qs = cJSON_CreateObject();
            bool n = p->count > 0, sk = p->sketch_count > 0;

            roostctl_fmt_time(p->start_unix_s * 1000, buf, sizeof buf);
            cJSON_AddStringToObject(po, "time", buf);
            cJSON_AddNumberToObject(po, "start_unix_s", (double)p->start_unix_s);
            cJSON_AddNumberToObject(po, "end_unix_s", (double)p->end_unix_s);
            cJSON_AddNumberToObject(po, "count", (double)p->count);
            cJSON_AddNumberToObject(po, "successes", (double)p->successes);
            cJSON_AddNumberToObject(po, "sum", p->sum);
            cJSON_AddNumberToObject(po, "sum_squares", p->sum_squares);
            cJSON_AddItemToObject(po, "mean", num_or_null(n, p->mean));
            cJSON_AddItemToObject(po, "variance", num_or_null(n, p->variance));
            cJSON_AddItemToObject(po, "success_rate", num_or_null(n, p->success_rate));
            cJSON_AddNumberToObject(po, "sketch_count", (double)p->sketch_count);
            cJSON_AddItemToObject(po, "min", num_or_null(sk, p->min));
            cJSON_AddItemToObject(po, "max", num_or_null(sk, p->max));
            cJSON_AddItemToObject(po, "p50", num_or_null(sk, p->p50));
            cJSON_AddItemToObject(po, "p90", num_or_null(sk, p->p90));
            cJSON_AddItemToObject(po, "p99", num_or_null(sk, p->p99));
            for (size_t q = 0; q < p->n_quantiles && q < req->n_quantiles; q++) {
                fmt_quantile_name(req->quantiles[q], buf, sizeof buf);
                cJSON_AddItemToObject(qs, buf, num_or_null(sk, p->quantiles[q]));
            }
            cJSON_AddItemToObject(po, "quantiles", qs);
            cJSON_AddBoolToObject(po, "sketch_collapsed", p->sketch_collapsed);
            cJSON_AddNumberToObject(po, "reliable_from_q", p->reliable_from_q);
            cJSON_AddNumberToObject(po, "resolution_s", p->resolution_s);
            cJSON_AddItemToArray(points, po);
        }
        cJSON_AddItemToObject(so, "points", points);
        cJSON_AddItemToArray(series, so);
    }
    cJSON_AddItemToObject(o, "series", series);
    roostctl_print_json(o);
}

static void cell(double v, bool present)
{
    if (present && isfinite(v))
        printf(" %10.4g", v);
    else
        printf(" %10s", "-");
}

static void print_table(const Roost__V1__QueryMetricsRequest *req,
                        const Roost__V1__QueryMetricsResponse *r)
{
    char from[32], to[32], name[32];

    roostctl_fmt_time(r->from_unix_s * 1000, from, sizeof from);
    roostctl_fmt_time(r->to_unix_s * 1000, to, sizeof to);
    if (r->n_series == 0) {
        printf("no outcomes stored for %s \"%s\"%s%s%s%s from %s to %s\n",
               kind_name(req->scope_kind), req->scope_key, req->arm[0] ? ", arm " : "", req->arm,
               req->metric[0] ? ", metric " : "", req->metric, from, to);
        return;
    }
    for (size_t s = 0; s < r->n_series; s++) {
        const Roost__V1__MetricSeries *ser = r->series[s];

        if (s)
            putchar('\n');
        printf("%s %s  arm %s  metric %s  (step %llds)\n", kind_name(req->scope_kind),
               req->scope_key, ser->arm[0] ? ser->arm : "(none)", ser->metric,
               (long long)r->step_s);
        printf("%-20s %12s %10s %10s %10s %10s %10s", "TIME", "COUNT", "MEAN", "SUCCESS", "P50",
               "P90", "P99");
        for (size_t q = 0; q < req->n_quantiles; q++) {
            fmt_quantile_name(req->quantiles[q], name, sizeof name);
            for (char *c = name; *c; c++)
                *c = (char)(*c >= 'a' && *c <= 'z' ? *c - 32 : *c);
            printf(" %10s", name);
        }
        putchar('\n');
        for (size_t i = 0; i < ser->n_points; i++) {
            const Roost__V1__MetricPoint *p = ser->points[i];
            bool n = p->count > 0, sk = p->sketch_count > 0;
            char t[32], rate[16] = "-";

            roostctl_fmt_time(p->start_unix_s * 1000, t, sizeof t);
            if (n)
                snprintf(rate, sizeof rate, "%.2f%%", 100.0 * p->success_rate);
            printf("%-20s %12llu", t, (unsigned long long)p->count);
            cell(p->mean, n);
            printf(" %10s", rate);
            cell(p->p50, sk);
            cell(p->p90, sk);
            cell(p->p99, sk);
            for (size_t q = 0; q < p->n_quantiles; q++)
                cell(p->quantiles[q], sk);
            putchar(p->sketch_collapsed ? '*' : '\n');
            if (p->sketch_collapsed)
                printf(" (quantiles below p%g are upper bounds)\n", 100.0 * p->reliable_from_q);
        }
    }
}

/* ---- the command -------------------------------------------------------- */

int roostctl_cmd_metrics(const struct roostctl *g, int argc, char **argv)
{
    Roost__V1__QueryMetricsRequest req = ROOST__V1__QUERY_METRICS_REQUEST__INIT;
    Roost__V1__ReportLabels labels = ROOST__V1__REPORT_LABELS__INIT;
    Roost__V1__QueryMetricsResponse *resp;
    const char *pos[2] = {NULL, NULL};
    const char *from_s = "-1h", *to_s = "now";
    double quantiles[MAX_QUANTILES];
    struct when from, to;
    int64_t now = (int64_t)time(NULL), step = 0;
    size_t npos = 0, nq = 0, len, outlen;
    struct rc_channel *ch;
    uint8_t *buf, *out;
    int rc;

    if (roostctl_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return ROOSTCTL_EXIT_OK;
    }
    req.arm = (char *)"";
    req.metric = (char *)"";
    labels.service = labels.environment = labels.version = (char *)"";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char **target = NULL;

        if (a[0] != '-' || strcmp(a, "--") == 0 || (a[0] == '-' && !a[1])) {
            if (strcmp(a, "--") == 0)
                continue;
            if (npos == 2)
                return roostctl_fail(ROOSTCTL_EXIT_USAGE,
                                     "metrics: unexpected '%s' (roostctl metrics --help)", a);
            pos[npos++] = a;
            continue;
        }
        if (!v)
            return roostctl_fail(ROOSTCTL_EXIT_USAGE,
                                 "metrics: %s needs a value (roostctl metrics --help)", a);
        if (strcmp(a, "--arm") == 0)
            target = &req.arm;
        else if (strcmp(a, "--metric") == 0)
            target = &req.metric;
        else if (strcmp(a, "--service") == 0)
            target = &labels.service;
        else if (strcmp(a, "--environment") == 0)
            target = &labels.environment;
        else if (strcmp(a, "--version") == 0)
            target = &labels.version;
        else if (strcmp(a, "--from") == 0)
            from_s = v;
        else if (strcmp(a, "--to") == 0)
            to_s = v;
        else if (strcmp(a, "--step") == 0) {
            if (!parse_duration(v, &step) || step < 1)
                return roostctl_fail(ROOSTCTL_EXIT_USAGE,
                                     "metrics: --step '%s' is not a duration like 30s, 5m, 1h "
                                     "or 1d",
                                     v);
        } else if (strcmp(a, "--quantile") == 0) {
            if (nq == MAX_QUANTILES)
                return roostctl_fail(ROOSTCTL_EXIT_USAGE, "metrics: at most %d --quantile",
                                     MAX_QUANTILES);
            if (!parse_quantile(v, &quantiles[nq++]))
                return roostctl_fail(ROOSTCTL_EXIT_USAGE,
                                     "metrics: --quantile '%s' is not a quantile like 0.999, "
                                     "p99.9 or 99.9%%",
                                     v);
        } else {
            return roostctl_fail(ROOSTCTL_EXIT_USAGE,
                                 "metrics: unknown option '%s' (roostctl metrics --help)", a);
        }
        if (target)
            *target = (char *)v;
        i++;
    }
    if (npos < 2)
        return roostctl_fail(ROOSTCTL_EXIT_USAGE,
                             "metrics: name the KIND (flag, rollout, experiment) and the SCOPE, "
                             "e.g. roostctl metrics rollout checkout-v2");
    if (strcmp(pos[0], "flag") == 0)
        req.scope_kind = ROOST__V1__SCOPE_KIND__SCOPE_KIND_FLAG;
    else if (strcmp(pos[0], "rollout") == 0)
        req.scope_kind = ROOST__V1__SCOPE_KIND__SCOPE_KIND_ROLLOUT;
    else if (strcmp(pos[0], "experiment") == 0)
        req.scope_kind = ROOST__V1__SCOPE_KIND__SCOPE_KIND_EXPERIMENT;
    else if (strcmp(pos[0], "sdk") == 0)
        req.scope_kind = ROOST__V1__SCOPE_KIND__SCOPE_KIND_UNSPECIFIED;
    else
        return roostctl_fail(ROOSTCTL_EXIT_USAGE,
                             "metrics: KIND '%s' is not flag, rollout, experiment or sdk",
                             pos[0]);
    req.scope_key = (char *)pos[1];
    if (!parse_when(from_s, now, &from))
        return roostctl_fail(ROOSTCTL_EXIT_USAGE,
                             "metrics: --from '%s' is not a time like 2024-05-01T12:00:00Z, "
                             "1714564800, now or -1h",
                             from_s);
    if (!parse_when(to_s, now, &to))
        return roostctl_fail(ROOSTCTL_EXIT_USAGE,
                             "metrics: --to '%s' is not a time like 2024-05-01T12:00:00Z, "
                             "1714564800, now or -1h",
                             to_s);
    if (from.t < 0 || from.t >= to.t)
        return roostctl_fail(ROOSTCTL_EXIT_USAGE,
                             "metrics: --from (%s) must be before --to (%s)", from_s, to_s);
    if (step == 0)
        step = default_step(to.t - from.t);
    if (from.relative && to.relative) {
        from.t -= from.t % step;
        to.t += (step - to.t % step) % step;
    }
    req.from_unix_s = from.t;
    req.to_unix_s = to.t;
    req.step_s = step;
    req.labels = &labels;
    req.n_quantiles = nq;
    req.quantiles = quantiles;

    len = roost__v1__query_metrics_request__get_packed_size(&req);
    if (!(buf = malloc(len ? len : 1)))
        return roostctl_fail(ROOSTCTL_EXIT_FAIL, "out of memory");
    roost__v1__query_metrics_request__pack(&req, buf);
    if ((rc = roostctl_connect(g, &ch)) != ROOSTCTL_EXIT_OK) {
        free(buf);
        return rc;
    }
    rc = roostctl_call(g, ch, "/roost.v1.Admin/QueryMetrics", buf, len, &out, &outlen);
    rc_channel_close(ch);
    free(buf);
    if (rc != ROOSTCTL_EXIT_OK)
        return rc;
    resp = roost__v1__query_metrics_response__unpack(NULL, outlen, out);
    free(out);
    if (!resp)
        return roostctl_fail(ROOSTCTL_EXIT_FAIL, "roostd sent a QueryMetricsResponse that cannot "
                                                 "be decoded (a different version?)");
    if (g->json)
        print_json(&req, resp);
    else
        print_table(&req, resp);
    roost__v1__query_metrics_response__free_unpacked(resp, NULL);
    return ROOSTCTL_EXIT_OK;
}
