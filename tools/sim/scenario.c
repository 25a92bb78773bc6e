/* Scenario parser; see scenario.h for the format and docs/simulator.md for
 * every field.
 *
 * Every getter takes the parent's JSON path and the key, so each message
 * names the exact value ("canary.latency.sigma: expected a number from 0 to
 * 5, got -1"). Defaults are filled in here and nowhere else. The canary
 * starts as a copy of the baseline and overrides only what it states,
 * because "the same service, but 2 % errors" is the common case and
 * restating the baseline's latency would invite the two to drift apart.
 */
#include "tools/sim/scenario.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/rollout/hooks.h"
#include "server/json_fields.h"

#define PATH_CAP 256

/* ---- small helpers ------------------------------------------------------ */

/* snprintf that truncates on purpose: a path or name too long for its
 * buffer is cut, never overflowed, and a cut path still points at the
 * value. A function of its own so gcc's truncation warnings, which are
 * right about snprintf in general, do not fire on the intended cases. */
static void fmt(char *out, size_t cap, const char *f, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static void fmt(char *out, size_t cap, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    vsnprintf(out, cap, f, ap);
    va_end(ap);
}

static void path_join(char *out, const char *parent, const char *key)
{
    fmt(out, PATH_CAP, "%s%s%s", parent, *parent ? "." : "", key);
}


static const cJSON *field(const cJSON *obj, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(obj, key);
}

/* A number in [lo, hi] (lo excluded when lo_open). */
static roost_status get_num(const cJSON *obj, const char *parent, const char *key, double lo,
                            bool lo_open, double hi, const char *unit, double *out,
                            roost_error *err)
{
    const cJSON *v = field(obj, key);
    char p[PATH_CAP];
    double d;

    path_join(p, parent, key);
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return roost_error_set(err, ROOST_EINVAL, "%s: expected a number%s%s, got %s", p,
                               *unit ? " " : "", unit, v ? json_type_name(v) : "nothing");
    d = v->valuedouble;
    if ((lo_open ? d <= lo : d < lo) || d > hi)
        return roost_error_set(err, ROOST_EINVAL, "%s: expected a number %s %.15g %s %.15g%s%s, got %.15g", p,
                               lo_open ? "above" : "from", lo, lo_open ? "up to" : "to", hi,
                               *unit ? " " : "", unit, d);
    *out = d;
    return ROOST_OK;
}

static roost_status get_u32(const cJSON *obj, const char *parent, const char *key, uint32_t lo,
                            uint32_t hi, uint32_t *out, roost_error *err)
{
    const cJSON *v = field(obj, key);
    char p[PATH_CAP];
    double d;

    path_join(p, parent, key);
    if (!cJSON_IsNumber(v))
        return roost_error_set(err, ROOST_EINVAL, "%s: expected a whole number from %u to %u, got %s",
                               p, lo, hi, v ? json_type_name(v) : "nothing");
    d = v->valuedouble;
    if (d != floor(d) || d < lo || d > hi)
        return roost_error_set(err, ROOST_EINVAL, "%s: expected a whole number from %u to %u, got %g",
                               p, lo, hi, d);
    *out = (uint32_t)d;
    return ROOST_OK;
}

/* A duration string in [min_ms, max_ms]; whole seconds when whole_s. */
static roost_status get_duration(const cJSON *obj, const char *parent, const char *key,
                                 int64_t min_ms, int64_t max_ms, bool whole_s, int64_t *out,
                                 roost_error *err)
{
    const cJSON *v = field(obj, key);
    char p[PATH_CAP], lo[32], hi[32];
    int64_t ms;

    path_join(p, parent, key);
    rollout_duration_format(min_ms, lo, sizeof lo);
    rollout_duration_format(max_ms, hi, sizeof hi);
    if (!cJSON_IsString(v))
        return roost_error_set(err, ROOST_EINVAL,
                               "%s: expected a duration string such as \"30s\", \"2m\" or \"1h30m\", got %s",
                               p, v ? json_type_name(v) : "nothing");
    if (!roost_duration_parse(v->valuestring, &ms))
        return roost_error_set(err, ROOST_EINVAL,
                               "%s: '%.64s' is not a duration (a number and a unit, largest unit "
                               "first, such as \"500ms\", \"30s\", \"2m\" or \"1h30m\")",
                               p, v->valuestring);
    if (ms < min_ms || ms > max_ms)
        return roost_error_set(err, ROOST_EINVAL, "%s: expected a duration from %s to %s, got %s",
                               p, lo, hi, v->valuestring);
    if (whole_s && ms % 1000)
        return roost_error_set(err, ROOST_EINVAL, "%s: expected whole seconds, got %s", p,
                               v->valuestring);
    *out = ms;
    return ROOST_OK;
}

static roost_status get_text(const cJSON *obj, const char *parent, const char *key, char *out,
                             size_t max, roost_error *err)
{
    const cJSON *v = field(obj, key);
    char p[PATH_CAP];
    size_t n;

    path_join(p, parent, key);
    if (!cJSON_IsString(v))
        return roost_error_set(err, ROOST_EINVAL, "%s: expected a string, got %s", p,
                               v ? json_type_name(v) : "nothing");
    n = strlen(v->valuestring);
    if (n == 0 || n > max)
        return roost_error_set(err, ROOST_EINVAL, "%s: expected 1-%zu characters, got %zu", p, max, n);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v->valuestring[i] < 0x20)
            return roost_error_set(err, ROOST_EINVAL, "%s: control characters are not allowed", p);
    memcpy(out, v->valuestring, n + 1);
    return ROOST_OK;
}

/* One of names[0..n); *out is its index. */
static roost_status get_choice(const cJSON *obj, const char *parent, const char *key,
                               const char *const *names, size_t n, int *out, roost_error *err)
{
    const cJSON *v = field(obj, key);
    char p[PATH_CAP], list[256];

    path_join(p, parent, key);
    for (size_t i = 0; cJSON_IsString(v) && i < n; i++) {
        if (strcmp(v->valuestring, names[i]) == 0) {
            *out = (int)i;
            return ROOST_OK;
        }
    }
    json_fields_choices(names, n, cJSON_IsString(v) ? v->valuestring : NULL, list, sizeof list);
    if (!cJSON_IsString(v))
        return roost_error_set(err, ROOST_EINVAL, "%s: expected one of %s, got %s", p, list,
                               v ? json_type_name(v) : "nothing");
    return roost_error_set(err, ROOST_EINVAL, "%s: '%.64s' is not one of %s", p, v->valuestring, list);
}

static roost_status need_object(const cJSON *v, const char *path, const char *what,
                                roost_error *err)
{
    if (cJSON_IsObject(v))
        return ROOST_OK;
    return roost_error_set(err, ROOST_EINVAL, "%s: expected an object (%s), got %s", path, what,
                           v ? json_type_name(v) : "nothing");
}

#define FIELDS(obj, path, ...)                                                                    \
    do {                                                                                          \
        static const char *const f_[] = {__VA_ARGS__};                                            \
        roost_status rc_ = json_fields_check(obj, path, f_, sizeof f_ / sizeof f_[0], err);       \
        if (rc_ != ROOST_OK)                                                                      \
            return rc_;                                                                           \
    } while (0)

#define TRY(x)                                                                                    \
    do {                                                                                          \
        roost_status rc_ = (x);                                                                   \
        if (rc_ != ROOST_OK)                                                                      \
            return rc_;                                                                           \
    } while (0)

/* ---- traffic -------------------------------------------------------------- */

#define MAX_RATE 1e6 /* requests per second: beyond this a run takes minutes */

static roost_status parse_traffic(const cJSON *o, struct sim_traffic *t, roost_error *err)
{
    static const char *const shapes[] = {"steady", "diurnal", "bursty"};
    int shape = 0;

    TRY(need_object(o, "traffic", "shape and rate", err));
    if (field(o, "shape"))
        TRY(get_choice(o, "traffic", "shape", shapes, 3, &shape, err));
    t->shape = (enum sim_shape)shape;
    switch (t->shape) {
    case SIM_SHAPE_STEADY:
        FIELDS(o, "traffic", "shape", "rate");
        return get_num(o, "traffic", "rate", 0, false, MAX_RATE, "(requests per second)", &t->rate, err);
    case SIM_SHAPE_DIURNAL:
        FIELDS(o, "traffic", "shape", "rate", "period", "amplitude", "offset");
        TRY(get_num(o, "traffic", "rate", 0, false, MAX_RATE, "(mean requests per second)", &t->rate, err));
        TRY(get_duration(o, "traffic", "period", 1000, ROLLOUT_DURATION_MAX_MS, false, &t->period_ms, err));
        TRY(get_num(o, "traffic", "amplitude", 0, false, 1, "(share of the mean rate)", &t->amplitude, err));
        if (field(o, "offset"))
            TRY(get_duration(o, "traffic", "offset", 0, ROLLOUT_DURATION_MAX_MS, false, &t->offset_ms, err));
        return ROOST_OK;
    case SIM_SHAPE_BURSTY:
        FIELDS(o, "traffic", "shape", "burstRate", "burstLength", "quietRate", "burstEvery");
        TRY(get_num(o, "traffic", "burstRate", 0, false, MAX_RATE, "(requests per second in a burst)", &t->burst_rate, err));
        TRY(get_num(o, "traffic", "quietRate", 0, false, MAX_RATE, "(requests per second between bursts)", &t->quiet_rate, err));
        TRY(get_duration(o, "traffic", "burstLength", 1000, ROLLOUT_DURATION_MAX_MS, false, &t->burst_ms, err));
        TRY(get_duration(o, "traffic", "burstEvery", 1000, ROLLOUT_DURATION_MAX_MS, false, &t->burst_every_ms, err));
        if (t->burst_every_ms <= t->burst_ms)
            return roost_error_set(err, ROOST_EINVAL,
                                   "traffic.burstEvery: the mean time between burst starts must be "
                                   "longer than burstLength");
        return ROOST_OK;
    }
    return ROOST_OK;
}

/* ---- services ------------------------------------------------------------- */

static roost_status parse_service(const cJSON *o, const char *path, struct sim_service *s,
                                  roost_error *err)
{
    const cJSON *lat, *tail;
    char lp[PATH_CAP], tp[PATH_CAP];

    TRY(need_object(o, path, "errorRate and latency", err));
    FIELDS(o, path, "errorRate", "latency");
    if (field(o, "errorRate"))
        TRY(get_num(o, path, "errorRate", 0, false, 1, "(share of requests that fail)", &s->error_rate, err));
    if (!(lat = field(o, "latency")))
        return ROOST_OK;
    path_join(lp, path, "latency");
    TRY(need_object(lat, lp, "medianMs, sigma, slowTail", err));
    FIELDS(lat, lp, "medianMs", "sigma", "slowTail");
    if (field(lat, "medianMs"))
        TRY(get_num(lat, lp, "medianMs", 0, true, 1e7, "(ms)", &s->latency.median_ms, err));
    if (field(lat, "sigma"))
        TRY(get_num(lat, lp, "sigma", 0, false, 5, "(of ln latency)", &s->latency.sigma, err));
    if (!(tail = field(lat, "slowTail")))
        return ROOST_OK;
    path_join(tp, lp, "slowTail");
    TRY(need_object(tail, tp, "probability and multiplier", err));
    FIELDS(tail, tp, "probability", "multiplier");
    TRY(get_num(tail, tp, "probability", 0, false, 1, "", &s->latency.tail_p, err));
    TRY(get_num(tail, tp, "multiplier", 1, false, 1e4, "(times slower)", &s->latency.tail_mult, err));
    return ROOST_OK;
}

/* ---- incidents ------------------------------------------------------------ */

static roost_status parse_incident(const cJSON *o, const char *path, struct sim_incident *in,
                                   roost_error *err)
{
    static const char *const kinds[] = {"error_spike", "latency_regression", "dependency_outage"};
    static const char *const arms[] = {"canary", "baseline", "both"};
    static const unsigned arm_bits[] = {SIM_ARM_CANARY_BIT, SIM_ARM_BASELINE_BIT,
                                        SIM_ARM_CANARY_BIT | SIM_ARM_BASELINE_BIT};
    int kind, arm;
    char p[PATH_CAP];

    TRY(need_object(o, path, "type, start, magnitude", err));
    FIELDS(o, path, "type", "start", "duration", "magnitude", "arm", "probe");
    TRY(get_choice(o, path, "type", kinds, 3, &kind, err));
    in->kind = (enum sim_incident_kind)kind;
    TRY(get_duration(o, path, "start", 0, ROLLOUT_DURATION_MAX_MS, false, &in->start_ms, err));
    in->duration_ms = SIM_FOREVER;
    if (field(o, "duration"))
        TRY(get_duration(o, path, "duration", 1000, ROLLOUT_DURATION_MAX_MS, false, &in->duration_ms, err));
    if (in->kind == SIM_LATENCY_REGRESSION)
        TRY(get_num(o, path, "magnitude", 0, true, 1e4, "(latency factor, e.g. 1.5)", &in->magnitude, err));
    else
        TRY(get_num(o, path, "magnitude", 0, false, 1, "(probability that a request fails)", &in->magnitude, err));
    arm = in->kind == SIM_DEPENDENCY_OUTAGE ? 2 : 0;
    if (field(o, "arm"))
        TRY(get_choice(o, path, "arm", arms, 3, &arm, err));
    in->arms = arm_bits[arm];
    in->probe[0] = '\0';
    if (field(o, "probe")) {
        path_join(p, path, "probe");
        if (in->kind != SIM_DEPENDENCY_OUTAGE)
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s: only a dependency_outage takes a gate probe down", p);
        TRY(get_text(o, path, "probe", in->probe, SIM_PROBE_NAME_MAX, err));
    }
    return ROOST_OK;
}

static roost_status parse_incidents(const cJSON *arr, struct sim_model *m, roost_error *err)
{
    const cJSON *it;
    char p[PATH_CAP];

    if (!cJSON_IsArray(arr))
        return roost_error_set(err, ROOST_EINVAL, "incidents: expected an array, got %s", json_type_name(arr));
    m->nincidents = 0;
    cJSON_ArrayForEach(it, arr) {
        if (m->nincidents == SIM_MAX_INCIDENTS)
            return roost_error_set(err, ROOST_ELIMIT, "incidents: at most %d incidents", SIM_MAX_INCIDENTS);
        fmt(p, sizeof p, "incidents[%zu]", m->nincidents);
        TRY(parse_incident(it, p, &m->incidents[m->nincidents], err));
        m->nincidents++;
    }
    return ROOST_OK;
}

/* ---- reference policies ------------------------------------------------- */

static void reference_defaults(struct sim_flagger_settings *f, struct sim_argo_settings *a)
{
    /* Flagger's documented defaults and the "default" canary: check
     * every minute, success rate >= 99 %, roll back after 5 failed checks,
     * 10 % steps up to 50 %. */
    f->interval_ms = 60000;
    f->threshold = 5;
    f->step_weight = 10;
    f->max_weight = 50;
    f->success_rate_min = 99;
    f->p99_max_ms = 0;
    /* Argo Rollouts: the same weights, each held for the analysis interval,
     * with a background analysis (interval 1m, failureLimit 3, Argo's
     * default consecutiveErrorLimit 4). */
    a->interval_ms = 60000;
    a->failure_limit = 3;
    a->consecutive_error_limit = 4;
    a->success_rate_min = 99;
    a->p99_max_ms = 0;
    a->nweights = 5;
    for (size_t i = 0; i < 5; i++)
        a->weights[i] = (uint32_t)(10 * (i + 1));
    a->pause_ms = 60000;
}

static roost_status parse_flagger(const cJSON *o, struct sim_flagger_settings *f, roost_error *err)
{
    const char *p = "reference.flagger";

    TRY(need_object(o, p, "Flagger's analysis settings", err));
    FIELDS(o, p, "interval", "threshold", "stepWeight", "maxWeight", "successRateMin", "p99MaxMs");
    if (field(o, "interval"))
        TRY(get_duration(o, p, "interval", 1000, ROLLOUT_DURATION_MAX_MS, true, &f->interval_ms, err));
    if (field(o, "threshold"))
        TRY(get_u32(o, p, "threshold", 1, 1000, &f->threshold, err));
    if (field(o, "stepWeight"))
        TRY(get_u32(o, p, "stepWeight", 1, 100, &f->step_weight, err));
    if (field(o, "maxWeight"))
        TRY(get_u32(o, p, "maxWeight", 1, 100, &f->max_weight, err));
    if (field(o, "successRateMin"))
        TRY(get_num(o, p, "successRateMin", 0, false, 100, "(percent)", &f->success_rate_min, err));
    if (field(o, "p99MaxMs"))
        TRY(get_num(o, p, "p99MaxMs", 0, true, 1e7, "(ms)", &f->p99_max_ms, err));
    if (f->step_weight > f->max_weight)
        return roost_error_set(err, ROOST_EINVAL, "%s.stepWeight: %u is above maxWeight %u", p,
                               f->step_weight, f->max_weight);
    return ROOST_OK;
}

static roost_status parse_argo(const cJSON *o, struct sim_argo_settings *a, roost_error *err)
{
    const char *p = "reference.argo";
    const cJSON *w, *it;

    TRY(need_object(o, p, "Argo Rollouts' analysis settings", err));
    FIELDS(o, p, "interval", "failureLimit", "consecutiveErrorLimit", "successRateMin", "p99MaxMs",
           "weights", "pause");
    if (field(o, "interval"))
        TRY(get_duration(o, p, "interval", 1000, ROLLOUT_DURATION_MAX_MS, true, &a->interval_ms, err));
    if (field(o, "failureLimit"))
        TRY(get_u32(o, p, "failureLimit", 0, 1000, &a->failure_limit, err));
    if (field(o, "consecutiveErrorLimit"))
        TRY(get_u32(o, p, "consecutiveErrorLimit", 0, 1000, &a->consecutive_error_limit, err));
    if (field(o, "successRateMin"))
        TRY(get_num(o, p, "successRateMin", 0, false, 100, "(percent)", &a->success_rate_min, err));
    if (field(o, "p99MaxMs"))
        TRY(get_num(o, p, "p99MaxMs", 0, true, 1e7, "(ms)", &a->p99_max_ms, err));
    if (field(o, "pause"))
        TRY(get_duration(o, p, "pause", 1000, ROLLOUT_DURATION_MAX_MS, true, &a->pause_ms, err));
    if (!(w = field(o, "weights")))
        return ROOST_OK;
    if (!cJSON_IsArray(w) || cJSON_GetArraySize(w) == 0)
        return roost_error_set(err, ROOST_EINVAL, "%s.weights: expected a non-empty array of weights, got %s",
                               p, json_type_name(w));
    a->nweights = 0;
    cJSON_ArrayForEach(it, w) {
        char ip[PATH_CAP];
        double d = cJSON_IsNumber(it) ? it->valuedouble : -1;
        fmt(ip, sizeof ip, "%s.weights[%zu]", p, a->nweights);
        if (a->nweights == SIM_MAX_REF_WEIGHTS)
            return roost_error_set(err, ROOST_ELIMIT, "%s.weights: at most %d weights", p, SIM_MAX_REF_WEIGHTS);
        if (d != floor(d) || d < 1 || d > 100)
            return roost_error_set(err, ROOST_EINVAL, "%s: expected a whole number from 1 to 100", ip);
        if (a->nweights && d <= a->weights[a->nweights - 1])
            return roost_error_set(err, ROOST_EINVAL, "%s: weights must increase", ip);
        a->weights[a->nweights++] = (uint32_t)d;
    }
    return ROOST_OK;
}

/* ---- the rollout ----------------------------------------------------------- */

static roost_status parse_rollout(const cJSON *rollouts, struct sim_scenario *sc, roost_error *err)
{
    const cJSON *entry;
    roost_status rc;

    if (!cJSON_IsObject(rollouts))
        return roost_error_set(err, ROOST_EINVAL,
                               "rollouts: expected an object with one rollout (\"rollouts\": "
                               "{\"NAME\": {...}}, as in a Roost document), got %s",
                               json_type_name(rollouts));
    if (cJSON_GetArraySize(rollouts) != 1)
        return roost_error_set(err, ROOST_EINVAL,
                               "rollouts: a scenario simulates one rollout, this one has %d",
                               cJSON_GetArraySize(rollouts));
    entry = rollouts->child;
    /* Gate probes are not cross-checked against a document's "probes": in
     * a scenario a gate probe exists when an incident takes it down. */
    if ((rc = rollout_spec_parse(entry, entry->string, NULL, 0, &sc->spec, err)) != ROOST_OK)
        return rc;
    for (size_t i = 0; i < sc->spec.analysis.nchecks; i++) {
        const struct rollout_check *c = &sc->spec.analysis.checks[i];
        if (strcmp(c->metric, SIM_METRIC) != 0)
            return roost_error_set(err, ROOST_EINVAL,
                                   "rollouts.%s.analysis.metrics[%zu].metric: roost-sim simulates only "
                                   "the \"%s\" metric (one outcome per request, with its latency in "
                                   "ms), not \"%s\"",
                                   sc->spec.name, i, SIM_METRIC, c->metric);
        if (c->stat != ROLLOUT_STAT_ERROR_RATE)
            sc->needs_latency = true;
    }
    return ROOST_OK;
}

/* ---- the whole scenario ---------------------------------------------------- */

static bool same_service(const struct sim_service *a, const struct sim_service *b)
{
    return a->error_rate == b->error_rate && a->latency.median_ms == b->latency.median_ms &&
           a->latency.sigma == b->latency.sigma && a->latency.tail_p == b->latency.tail_p &&
           a->latency.tail_mult == b->latency.tail_mult;
}

static int64_t onset(const struct sim_model *m)
{
    int64_t t = -1;

    if (!same_service(&m->arm[0], &m->arm[1]))
        return 0;
    for (size_t i = 0; i < m->nincidents; i++) {
        const struct sim_incident *in = &m->incidents[i];
        if (in->arms == SIM_ARM_CANARY_BIT && (t < 0 || in->start_ms < t))
            t = in->start_ms;
    }
    return t;
}

static roost_status parse_root(const cJSON *root, const char *name_hint, struct sim_scenario *sc,
                               roost_error *err)
{
    static const char *const expects[] = {"none", "rollback", "promote"};
    const cJSON *v, *ref;
    int expect = 0;

    TRY(need_object(root, "(top level)", "a scenario", err));
    FIELDS(root, "(top level)", "name", "description", "expect", "duration", "flushInterval",
           "settle", "traffic", "baseline", "canary", "incidents", "rollouts", "reference");
    fmt(sc->name, sizeof sc->name, "%s", name_hint && *name_hint ? name_hint : "scenario");
    if (field(root, "name"))
        TRY(get_text(root, "", "name", sc->name, SIM_NAME_MAX, err));
    if (field(root, "description"))
        TRY(get_text(root, "", "description", sc->description, SIM_TEXT_MAX, err));
    if (field(root, "expect"))
        TRY(get_choice(root, "", "expect", expects, 3, &expect, err));
    sc->expect = (enum sim_expect)expect;
    sc->duration_ms = 3600 * 1000;
    if (field(root, "duration"))
        TRY(get_duration(root, "", "duration", 1000, (int64_t)SIM_MAX_SECONDS * 1000, true, &sc->duration_ms, err));
    sc->flush_ms = 1000;
    if (field(root, "flushInterval"))
        TRY(get_duration(root, "", "flushInterval", 1000, 60000, true, &sc->flush_ms, err));
    if (60000 % sc->flush_ms)
        return roost_error_set(err, ROOST_EINVAL,
                               "flushInterval: expected a divisor of a minute (1s, 2s, 5s, 10s, 30s, "
                               "1m...): SDK intervals never straddle a minute");
    sc->settle_ms = 1000;
    if (field(root, "settle"))
        TRY(get_duration(root, "", "settle", 0, 60000, false, &sc->settle_ms, err));

    if (!(v = field(root, "traffic")))
        return roost_error_set(err, ROOST_EINVAL, "traffic: missing (e.g. {\"shape\": \"steady\", \"rate\": 100})");
    TRY(parse_traffic(v, &sc->model.traffic, err));

    /* A service that states nothing: 50 ms median, sigma 0.5 (p99 about
     * 160 ms), no errors, no slow tail. */
    sc->model.arm[0].error_rate = 0;
    sc->model.arm[0].latency = (struct sim_latency){50, 0.5, 0, 1};
    if (!(v = field(root, "baseline")))
        return roost_error_set(err, ROOST_EINVAL, "baseline: missing (e.g. {\"errorRate\": 0.005})");
    TRY(parse_service(v, "baseline", &sc->model.arm[0], err));
    sc->model.arm[1] = sc->model.arm[0];
    if ((v = field(root, "canary")))
        TRY(parse_service(v, "canary", &sc->model.arm[1], err));
    if ((v = field(root, "incidents")))
        TRY(parse_incidents(v, &sc->model, err));

    if (!(v = field(root, "rollouts")))
        return roost_error_set(err, ROOST_EINVAL, "rollouts: missing (one rollout, as in a Roost document)");
    TRY(parse_rollout(v, sc, err));

    reference_defaults(&sc->flagger, &sc->argo);
    if ((ref = field(root, "reference"))) {
        TRY(need_object(ref, "reference", "flagger and argo", err));
        FIELDS(ref, "reference", "flagger", "argo");
        if ((v = field(ref, "flagger")))
            TRY(parse_flagger(v, &sc->flagger, err));
        if ((v = field(ref, "argo")))
            TRY(parse_argo(v, &sc->argo, err));
    }

    sc->onset_ms = onset(&sc->model);
    if (sc->expect == SIM_EXPECT_ROLLBACK && sc->onset_ms < 0)
        return roost_error_set(err, ROOST_EINVAL,
                               "expect: \"rollback\", but the canary is never worse than the baseline "
                               "(same model, and no incident on the canary alone)");
    if (sc->expect == SIM_EXPECT_PROMOTE && sc->onset_ms >= 0)
        return roost_error_set(err, ROOST_EINVAL,
                               "expect: \"promote\", but the canary is worse than the baseline (its "
                               "model differs, or an incident hits it alone)");
    return ROOST_OK;
}

/* Line and column of byte offset off in json, for syntax errors. */
static void line_col(const char *json, size_t off, size_t *line, size_t *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off; i++) {
        if (json[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

roost_status sim_scenario_parse(const char *json, size_t len, const char *name_hint,
                                struct sim_scenario *out, roost_error *err)
{
    const char *end = NULL;
    cJSON *root;
    roost_status rc;

    if (!json || !out)
        return roost_error_set(err, ROOST_EINVAL, "sim_scenario_parse: NULL argument");
    memset(out, 0, sizeof *out);
    root = cJSON_ParseWithLengthOpts(json, len, &end, false);
    if (!root) {
        size_t line, col, off = end && end >= json && end <= json + len ? (size_t)(end - json) : 0;
        const char *at = cJSON_GetErrorPtr();
        if (at && at >= json && at <= json + len)
            off = (size_t)(at - json);
        line_col(json, off, &line, &col);
        return roost_error_set(err, ROOST_EINVAL, "line %zu, column %zu: not valid JSON", line, col);
    }
    rc = parse_root(root, name_hint, out, err);
    cJSON_Delete(root);
    if (rc != ROOST_OK)
        sim_scenario_free(out);
    return rc;
}

roost_status sim_scenario_load(const char *path, struct sim_scenario *out, roost_error *err)
{
    char hint[SIM_NAME_MAX + 1];
    const char *base = strrchr(path, '/');
    char *buf;
    size_t n;
    FILE *f;
    roost_status rc;

    memset(out, 0, sizeof *out);
    if (!(f = fopen(path, "rb")))
        return roost_error_set(err, errno == ENOENT ? ROOST_ENOTFOUND : ROOST_EIO, "%s: %s", path,
                               strerror(errno));
    if (!(buf = malloc(SIM_SCENARIO_MAX_BYTES + 1))) {
        fclose(f);
        return roost_error_set(err, ROOST_ENOMEM, "out of memory");
    }
    n = fread(buf, 1, SIM_SCENARIO_MAX_BYTES + 1, f);
    if (ferror(f)) {
        rc = roost_error_set(err, ROOST_EIO, "%s: read error: %s", path, strerror(errno));
        goto done;
    }
    if (n > SIM_SCENARIO_MAX_BYTES) {
        rc = roost_error_set(err, ROOST_ELIMIT, "%s: larger than %d bytes; is this a scenario file?",
                             path, SIM_SCENARIO_MAX_BYTES);
        goto done;
    }
    /* The file's base name without ".json" names an unnamed scenario. */
    fmt(hint, sizeof hint, "%s", base ? base + 1 : path);
    if (strlen(hint) > 5 && strcmp(hint + strlen(hint) - 5, ".json") == 0)
        hint[strlen(hint) - 5] = '\0';
    if ((rc = sim_scenario_parse(buf, n, hint, out, err)) != ROOST_OK)
        roost_error_prefix(err, "%s: ", path);
done:
    free(buf);
    fclose(f);
    return rc;
}

void sim_scenario_free(struct sim_scenario *sc)
{
    if (!sc)
        return;
    rollout_spec_free(&sc->spec);
    memset(sc, 0, sizeof *sc);
}

const char *sim_expect_name(enum sim_expect e)
{
    switch (e) {
    case SIM_EXPECT_NONE:
        return "none";
    case SIM_EXPECT_ROLLBACK:
        return "rollback";
    case SIM_EXPECT_PROMOTE:
        return "promote";
    }
    return "?";
}
