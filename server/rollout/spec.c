/* Rollout spec parser and canonical form. See spec.h and docs/rollouts.md.
 *
 * Shape of the parser: one function per JSON object of the resource
 * (steps, analysis, one check, promotion, gates), each given the JSON path
 * of its object so every message starts with the exact place to fix. The
 * sections are parsed in dependency order: promotion first (steps are
 * checked against maxWeight), analysis before steps (an analysis step takes
 * its default count from it), gates against the document's probe names.
 *
 * Everything is parsed into a local spec and copied to *out only when the
 * whole rollout is valid, so a rejected document leaves nothing half-built;
 * the only heap memory (hooks) is freed on every error path.
 *
 * Numbers: "whole number" fields must be integral doubles in range
 * (JSON has no integer type; 2.5 runs is a mistake, not 2). Bounds of
 * error-rate checks are fractions in [0, 1] because that is what the stat
 * is; a "max": 1 (meaning 1 %) would silently never fail, so it is allowed
 * (it is a valid fraction) but 2 is not.
 */
#include "server/rollout/spec.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/json_fields.h"

#define PATH_MAX_LEN 320

static const char *const event_names[] = {"pre-rollout", "step",     "confirm-promotion",
                                          "promotion",   "rollback", "event"};
#define NEVENTS (sizeof event_names / sizeof event_names[0])

/* ---- small helpers ------------------------------------------------------ */

/* JSON paths are built by appending to a parent path; one that would not
 * fit (a 128-character name nested deep) is truncated, never overflowed,
 * and a truncated path in a message is still a usable pointer. */
static void path_fmt(char *out, size_t cap, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static void path_fmt(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, cap, fmt, ap);
    va_end(ap);
}


bool rollout_name_valid(const char *name)
{
    return name && json_name_valid(name, ROLLOUT_NAME_MAX);
}


static const cJSON *field(const cJSON *obj, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(obj, key);
}

/* Whole number in [lo, hi]. */
static roost_status get_whole(const cJSON *v, const char *path, const char *key, double lo,
                              double hi, uint64_t *out, roost_error *err)
{
    double d;

    if (!cJSON_IsNumber(v)) {
        return roost_error_set(err, ROOST_EINVAL, "%s.%s: expected a whole number from %.0f to %.0f, got %s",
                               path, key, lo, hi, json_type_name(v));
    }
    d = v->valuedouble;
    if (!(d == floor(d)) || d < lo || d > hi) {
        return roost_error_set(err, ROOST_EINVAL, "%s.%s: expected a whole number from %.0f to %.0f, got %g",
                               path, key, lo, hi, d);
    }
    *out = (uint64_t)d;
    return ROOST_OK;
}

static roost_status get_u32(const cJSON *v, const char *path, const char *key, uint32_t lo,
                            uint32_t hi, uint32_t *out, roost_error *err)
{
    uint64_t x;
    roost_status rc = get_whole(v, path, key, lo, hi, &x, err);
    if (rc == ROOST_OK)
        *out = (uint32_t)x;
    return rc;
}

static roost_status get_number(const cJSON *v, const char *path, const char *key, double *out,
                               roost_error *err)
{
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
        return roost_error_set(err, ROOST_EINVAL, "%s.%s: expected a number, got %s", path, key,
                               json_type_name(v));
    }
    *out = v->valuedouble;
    return ROOST_OK;
}

static roost_status get_bool(const cJSON *v, const char *path, const char *key, bool *out,
                             roost_error *err)
{
    if (!cJSON_IsBool(v)) {
        return roost_error_set(err, ROOST_EINVAL, "%s.%s: expected true or false, got %s", path,
                               key, json_type_name(v));
    }
    *out = cJSON_IsTrue(v);
    return ROOST_OK;
}

/* A duration string within [min_ms, ROLLOUT_DURATION_MAX_MS]. */
static roost_status get_duration(const cJSON *v, const char *path, const char *key, int64_t min_ms,
                                 int64_t *out, roost_error *err)
{
    int64_t ms;
    char lo[32], hi[32];

    rollout_duration_format(min_ms, lo, sizeof lo);
    rollout_duration_format(ROLLOUT_DURATION_MAX_MS, hi, sizeof hi);
    if (!cJSON_IsString(v)) {
        return roost_error_set(err, ROOST_EINVAL,
                               "%s.%s: expected a duration string such as \"30s\", \"2m\" or "
                               "\"1h30m\", got %s",
                               path, key, json_type_name(v));
    }
    if (!roost_duration_parse(v->valuestring, &ms)) {
        return roost_error_set(err, ROOST_EINVAL,
                               "%s.%s: '%.64s' is not a duration (expected a number and a unit, "
                               "largest unit first, such as \"500ms\", \"30s\", \"2m\" or \"1h30m\")",
                               path, key, v->valuestring);
    }
    if (ms < min_ms || ms > ROLLOUT_DURATION_MAX_MS) {
        return roost_error_set(err, ROOST_EINVAL, "%s.%s: expected a duration from %s to %s, got %s",
                               path, key, lo, hi, v->valuestring);
    }
    *out = ms;
    return ROOST_OK;
}

/* Free text: 1-max bytes, no control characters. */
static roost_status get_text(const cJSON *v, const char *path, const char *key, char *out,
                             size_t max, roost_error *err)
{
    size_t n;

    if (!v) {
        return roost_error_set(err, ROOST_EINVAL, "%s.%s: missing (a string of 1-%zu characters)",
                               path, key, max);
    }
    if (!cJSON_IsString(v)) {
        return roost_error_set(err, ROOST_EINVAL, "%s.%s: expected a string, got %s", path, key,
                               json_type_name(v));
    }
    n = strlen(v->valuestring);
    if (n == 0 || n > max) {
        return roost_error_set(err, ROOST_EINVAL, "%s.%s: expected 1-%zu characters, got %zu", path,
                               key, max, n);
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)v->valuestring[i] < 0x20 || v->valuestring[i] == 0x7f) {
            return roost_error_set(err, ROOST_EINVAL, "%s.%s: control characters are not allowed",
                                   path, key);
        }
    }
    memcpy(out, v->valuestring, n + 1);
    return ROOST_OK;
}

static roost_status check_fields(const cJSON *obj, const char *path, const char *const *allowed,
                                 size_t n, roost_error *err)
{
    return json_fields_check(obj, path, allowed, n, err);
}

/* ---- durations ---------------------------------------------------------- */

void rollout_duration_format(int64_t ms, char *out, size_t cap)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1}};
    size_t used = 0;

    if (!cap)
        return;
    out[0] = '\0';
    if (ms <= 0) {
        snprintf(out, cap, "0s");
        return;
    }
    for (size_t i = 0; i < 4 && ms > 0; i++) {
        int64_t n = ms / units[i].ms;
        if (n == 0)
            continue;
        int w = snprintf(out + used, cap - used, "%lld%s", (long long)n, units[i].unit);
        if (w < 0 || (size_t)w >= cap - used)
            return;
        used += (size_t)w;
        ms -= n * units[i].ms;
    }
}

/* ---- stats -------------------------------------------------------------- */

/* error_rate, mean, p50, p90, p95, p99, p999 (99.9), p9999 (99.99) and
 * pNN.N (1-2 digits, up to 3 decimals). The canonical name of a quantile
 * is "p" + its percentage in shortest form ("p99.9" for "p999"). */
static bool parse_stat(const char *s, enum rollout_stat *stat, double *q, char *canon, size_t cap)
{
    double pct;
    size_t n = strlen(s);

    if (strcmp(s, "error_rate") == 0 || strcmp(s, "mean") == 0) {
        *stat = s[0] == 'e' ? ROLLOUT_STAT_ERROR_RATE : ROLLOUT_STAT_MEAN;
        *q = 0;
        snprintf(canon, cap, "%s", s);
        return true;
    }
    if (n < 2 || s[0] != 'p')
        return false;
    if (strcmp(s, "p999") == 0) {
        pct = 99.9;
    } else if (strcmp(s, "p9999") == 0) {
        pct = 99.99;
    } else {
        const char *p = s + 1;
        size_t ip = 0, fp = 0;
        double whole = 0, frac = 0, scale = 1;

        while (*p >= '0' && *p <= '9' && ip < 3) {
            whole = whole * 10 + (*p - '0');
            p++;
            ip++;
        }
        if (ip == 0 || ip > 2 || s[1] == '0')
            return false;
        if (*p == '.') {
            p++;
            while (*p >= '0' && *p <= '9' && fp < 4) {
                scale /= 10;
                frac += (*p - '0') * scale;
                p++;
                fp++;
            }
            if (fp == 0 || fp > 3)
                return false;
        }
        if (*p)
            return false;
        pct = whole + frac;
        if (!(pct > 0 && pct < 100))
            return false;
    }
    *stat = ROLLOUT_STAT_QUANTILE;
    *q = pct / 100.0;
    path_fmt(canon, cap, "p%.6g", pct); /* at most "p99.999" */
    return true;
}

const char *rollout_check_type_name(enum rollout_check_type t)
{
    switch (t) {
    case ROLLOUT_CHECK_THRESHOLD:
        return "threshold";
    case ROLLOUT_CHECK_RELATIVE:
        return "relative";
    case ROLLOUT_CHECK_COMPARE:
        return "compare";
    case ROLLOUT_CHECK_BURN_RATE:
        return "burn_rate";
    }
    return "?";
}

const char *rollout_no_data_name(enum rollout_no_data p)
{
    switch (p) {
    case ROLLOUT_NO_DATA_PAUSE:
        return "pause";
    case ROLLOUT_NO_DATA_FAIL:
        return "fail";
    case ROLLOUT_NO_DATA_IGNORE:
        return "ignore";
    }
    return "?";
}

/* ---- checks ------------------------------------------------------------- */

/* Fields each check type accepts beyond the common ones. A field of another
 * type is named as such, because "max" on a compare check is a
 * misunderstanding worth explaining, not a typo. */
static const char *const common_fields[] = {"name", "type", "metric", "stat", "minSamples",
                                            "noData"};
static const char *const type_fields[4][4] = {
    {"min", "max", NULL, NULL},
    {"maxRatio", "maxAbsolute", NULL, NULL},
    {"margin", "alpha", "direction", "expectedSamples"},
    {"slo", "windows", NULL, NULL},
};

static roost_status check_check_fields(const cJSON *obj, const char *path,
                                       enum rollout_check_type type, roost_error *err)
{
    const char *allowed[16];
    size_t n = 0;

    for (size_t i = 0; i < sizeof common_fields / sizeof common_fields[0]; i++)
        allowed[n++] = common_fields[i];
    for (size_t i = 0; i < 4 && type_fields[type][i]; i++)
        allowed[n++] = type_fields[type][i];
    for (const cJSON *c = obj->child; c; c = c->next) {
        for (int t = 0; t < 4; t++) {
            if (t == (int)type)
                continue;
            for (size_t i = 0; i < 4 && type_fields[t][i]; i++) {
                if (strcmp(c->string, type_fields[t][i]) == 0) {
                    return roost_error_set(err, ROOST_EINVAL,
                                           "%s.%s: not a field of a %s check (%s belongs to %s "
                                           "checks)",
                                           path, c->string, rollout_check_type_name(type),
                                           c->string, rollout_check_type_name((enum rollout_check_type)t));
                }
            }
        }
    }
    return check_fields(obj, path, allowed, n, err);
}

static roost_status parse_windows(const cJSON *arr, const char *path, struct rollout_check *c,
                                  roost_error *err)
{
    static const char *const fields[] = {"long", "short", "factor"};
    char sub[PATH_MAX_LEN];
    size_t i = 0;
    roost_status rc;

    if (!cJSON_IsArray(arr) || !arr->child) {
        return roost_error_set(err, ROOST_EINVAL,
                               "%s.windows: expected a non-empty array of window pairs such as "
                               "[{\"long\": \"1h\", \"short\": \"5m\", \"factor\": 14.4}]",
                               path);
    }
    for (const cJSON *w = arr->child; w; w = w->next, i++) {
        struct rollout_burn_window *bw;
        const cJSON *v;

        path_fmt(sub, sizeof sub, "%s.windows[%zu]", path, i);
        if (i == ROLLOUT_MAX_BURN_WINDOWS) {
            return roost_error_set(err, ROOST_ELIMIT, "%s.windows: more than %d window pairs",
                                   path, ROLLOUT_MAX_BURN_WINDOWS);
        }
        if (!cJSON_IsObject(w)) {
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s: expected an object with long, short and factor", sub);
        }
        if ((rc = check_fields(w, sub, fields, 3, err)) != ROOST_OK)
            return rc;
        bw = &c->windows[i];
        if (!field(w, "long") || !field(w, "short") || !field(w, "factor")) {
            return roost_error_set(err, ROOST_EINVAL, "%s: missing %s (a window pair needs long, short and factor)",
                                   sub, !field(w, "long") ? "long" : !field(w, "short") ? "short" : "factor");
        }
        if ((rc = get_duration(field(w, "long"), sub, "long", 1000, &bw->long_ms, err)) != ROOST_OK ||
            (rc = get_duration(field(w, "short"), sub, "short", 1000, &bw->short_ms, err)) != ROOST_OK ||
            (rc = get_number(field(w, "factor"), sub, "factor", &bw->factor, err)) != ROOST_OK)
            return rc;
        if (bw->short_ms >= bw->long_ms) {
            v = field(w, "short");
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s.short: the short window (%s) must be shorter than the long "
                                   "one (%s)",
                                   sub, v->valuestring, field(w, "long")->valuestring);
        }
        if (!(bw->factor > 0)) {
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s.factor: expected a burn rate factor above 0, such as 14.4, got %g",
                                   sub, bw->factor);
        }
    }
    c->nwindows = i;
    return ROOST_OK;
}

static roost_status parse_check(const cJSON *obj, const char *path, struct rollout_check *c,
                                roost_error *err)
{
    static const char *const types[] = {"threshold", "relative", "compare", "burn_rate"};
    static const char *const policies[] = {"pause", "fail", "ignore"};
    char list[128];
    const cJSON *v;
    roost_status rc;
    int t = -1;
    bool is_rate;

    memset(c, 0, sizeof *c);
    if (!cJSON_IsObject(obj)) {
        return roost_error_set(err, ROOST_EINVAL,
                               "%s: expected a check object such as {\"name\": \"error-rate\", "
                               "\"type\": \"threshold\", \"stat\": \"error_rate\", \"max\": 0.01}",
                               path);
    }
    v = field(obj, "type");
    if (v && cJSON_IsString(v)) {
        for (int i = 0; i < 4; i++) {
            if (strcmp(v->valuestring, types[i]) == 0)
                t = i;
        }
    }
    if (t < 0) {
        json_fields_choices(types, 4, v && cJSON_IsString(v) ? v->valuestring : NULL, list,
                            sizeof list);
        if (!v)
            return roost_error_set(err, ROOST_EINVAL, "%s.type: missing: expected threshold, relative, compare or burn_rate", path);
        if (!cJSON_IsString(v))
            return roost_error_set(err, ROOST_EINVAL, "%s.type: expected threshold, relative, compare or burn_rate, got %s", path, json_type_name(v));
        return roost_error_set(err, ROOST_EINVAL,
                               "%s.type: expected threshold, relative, compare or burn_rate, got "
                               "'%.64s' (%s)",
                               path, v->valuestring, list);
    }
    c->type = (enum rollout_check_type)t;
    if ((rc = check_check_fields(obj, path, c->type, err)) != ROOST_OK)
        return rc;

    v = field(obj, "name");
    if (!v) {
        return roost_error_set(err, ROOST_EINVAL,
                               "%s.name: missing (the name records and status show, such as "
                               "\"error-rate\")",
                               path);
    }
    if (!cJSON_IsString(v) || !json_name_valid(v->valuestring, ROLLOUT_CHECK_NAME_MAX)) {
        return roost_error_set(err, ROOST_EINVAL,
                               "%s.name: expected 1-%d characters of A-Z a-z 0-9 . _ -", path,
                               ROLLOUT_CHECK_NAME_MAX);
    }
    snprintf(c->name, sizeof c->name, "%s", v->valuestring);

    v = field(obj, "metric");
    if (v) {
        if (!cJSON_IsString(v) || !json_name_valid(v->valuestring, ROLLOUT_METRIC_MAX)) {
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s.metric: expected a metric name of 1-%d characters of A-Z "
                                   "a-z 0-9 . _ - (the name the SDKs report it under)",
                                   path, ROLLOUT_METRIC_MAX);
        }
        snprintf(c->metric, sizeof c->metric, "%s", v->valuestring);
    } else {
        snprintf(c->metric, sizeof c->metric, "%s", ROLLOUT_DEFAULT_METRIC);
    }

    v = field(obj, "stat");
    if (c->type == ROLLOUT_CHECK_BURN_RATE) {
        if (v && !(cJSON_IsString(v) && strcmp(v->valuestring, "error_rate") == 0)) {
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s.stat: a burn_rate check reads the error rate; stat must be "
                                   "error_rate or omitted",
                                   path);
        }
        c->stat = ROLLOUT_STAT_ERROR_RATE;
        snprintf(c->stat_name, sizeof c->stat_name, "error_rate");
    } else {
        if (!v) {
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s.stat: missing: expected error_rate, mean, or a quantile "
                                   "such as p50, p99, p999 or p99.5",
                                   path);
        }
        if (!cJSON_IsString(v) ||
            !parse_stat(v->valuestring, &c->stat, &c->quantile, c->stat_name, sizeof c->stat_name)) {
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s.stat: unknown stat '%.64s': expected error_rate, mean, or a "
                                   "quantile such as p50, p99, p999 or p99.5",
                                   path, cJSON_IsString(v) ? v->valuestring : json_type_name(v));
        }
    }
    is_rate = c->stat == ROLLOUT_STAT_ERROR_RATE;

    c->min_samples = is_rate ? ROLLOUT_DEFAULT_MIN_SAMPLES_ERROR_RATE : ROLLOUT_DEFAULT_MIN_SAMPLES;
    if ((v = field(obj, "minSamples")) &&
        (rc = get_whole(v, path, "minSamples", 0, 1e12, &c->min_samples, err)) != ROOST_OK)
        return rc;

    c->no_data = ROLLOUT_NO_DATA_PAUSE;
    if ((v = field(obj, "noData"))) {
        int p = -1;
        for (int i = 0; i < 3 && cJSON_IsString(v); i++) {
            if (strcmp(v->valuestring, policies[i]) == 0)
                p = i;
        }
        if (p < 0) {
            return roost_error_set(err, ROOST_EINVAL, "%s.noData: expected pause, fail or ignore",
                                   path);
        }
        c->no_data = (enum rollout_no_data)p;
    }

    switch (c->type) {
    case ROLLOUT_CHECK_THRESHOLD:
        if ((v = field(obj, "min"))) {
            if ((rc = get_number(v, path, "min", &c->min, err)) != ROOST_OK)
                return rc;
            c->has_min = true;
        }
        if ((v = field(obj, "max"))) {
            if ((rc = get_number(v, path, "max", &c->max, err)) != ROOST_OK)
                return rc;
            c->has_max = true;
        }
        if (!c->has_min && !c->has_max) {
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s: a threshold check needs max, min or both (the bounds the "
                                   "canary's %s must stay within)",
                                   path, c->stat_name);
        }
        if (is_rate && c->has_max && (c->max < 0 || c->max > 1)) {
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s.max: %g is not an error rate (a fraction from 0 to 1: "
                                   "0.01 is 1 %%)",
                                   path, c->max);
        }
        if (is_rate && c->has_min && (c->min < 0 || c->min > 1)) {
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s.min: %g is not an error rate (a fraction from 0 to 1)", path,
                                   c->min);
        }
        if (c->has_min && c->has_max && c->min > c->max) {
            return roost_error_set(err, ROOST_EINVAL, "%s.min: %g is above max (%g)", path, c->min,
                                   c->max);
        }
        break;
    case ROLLOUT_CHECK_RELATIVE:
        if (!(v = field(obj, "maxRatio"))) {
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s.maxRatio: missing (how many times the baseline's %s the "
                                   "canary may reach, such as 1.25)",
                                   path, c->stat_name);
        }
        if ((rc = get_number(v, path, "maxRatio", &c->max_ratio, err)) != ROOST_OK)
            return rc;
        if (!(c->max_ratio > 0)) {
            return roost_error_set(err, ROOST_EINVAL, "%s.maxRatio: expected a ratio above 0, got %g",
                                   path, c->max_ratio);
        }
        if ((v = field(obj, "maxAbsolute"))) {
            if ((rc = get_number(v, path, "maxAbsolute", &c->max_absolute, err)) != ROOST_OK)
                return rc;
            if (c->max_absolute < 0 || (is_rate && c->max_absolute > 1)) {
                return roost_error_set(err, ROOST_EINVAL, "%s.maxAbsolute: expected %s, got %g",
                                       path, is_rate ? "an error rate from 0 to 1" : "a value >= 0",
                                       c->max_absolute);
            }
            c->has_max_absolute = true;
        }
        break;
    case ROLLOUT_CHECK_COMPARE:
        c->alpha = ROLLOUT_DEFAULT_ALPHA;
        c->expected_samples = ROLLOUT_DEFAULT_EXPECTED_SAMPLES;
        c->direction = ROLLOUT_LOWER_IS_BETTER;
        if ((v = field(obj, "margin"))) {
            if ((rc = get_number(v, path, "margin", &c->margin, err)) != ROOST_OK)
                return rc;
            if (c->margin < 0 || (is_rate && c->margin >= 1)) {
                return roost_error_set(err, ROOST_EINVAL,
                                       "%s.margin: expected %s (how much worse than the baseline "
                                       "the canary may be), got %g",
                                       path, is_rate ? "a difference of error rates from 0 to 1" : "a value >= 0",
                                       c->margin);
            }
        }
        if (is_rate && c->margin == 0)
            c->alpha = ROLLOUT_DEFAULT_ALPHA_RATE_RATIO;
        if ((v = field(obj, "alpha"))) {
            if ((rc = get_number(v, path, "alpha", &c->alpha, err)) != ROOST_OK)
                return rc;
            if (!(c->alpha > 0 && c->alpha <= 0.5)) {
                return roost_error_set(err, ROOST_EINVAL,
                                       "%s.alpha: expected a level above 0 and at most 0.5, such as "
                                       "0.01, got %g",
                                       path, c->alpha);
            }
        }
        if ((v = field(obj, "direction"))) {
            if (cJSON_IsString(v) && strcmp(v->valuestring, "lower_is_better") == 0) {
                c->direction = ROLLOUT_LOWER_IS_BETTER;
            } else if (cJSON_IsString(v) && strcmp(v->valuestring, "higher_is_better") == 0) {
                c->direction = ROLLOUT_HIGHER_IS_BETTER;
            } else {
                return roost_error_set(err, ROOST_EINVAL,
                                       "%s.direction: expected lower_is_better or higher_is_better",
                                       path);
            }
        }
        if ((v = field(obj, "expectedSamples")) &&
            (rc = get_whole(v, path, "expectedSamples", 1, 1e12, &c->expected_samples, err)) != ROOST_OK)
            return rc;
        break;
    case ROLLOUT_CHECK_BURN_RATE:
        if (!(v = field(obj, "slo"))) {
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s.slo: missing (the SLO target as a fraction, such as 0.999)",
                                   path);
        }
        if ((rc = get_number(v, path, "slo", &c->slo, err)) != ROOST_OK)
            return rc;
        if (!(c->slo > 0 && c->slo < 1)) {
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s.slo: expected the SLO target as a fraction between 0 and 1 "
                                   "(0.999 for 99.9 %%), got %g",
                                   path, c->slo);
        }
        if (!(v = field(obj, "windows"))) {
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s.windows: missing (window pairs such as [{\"long\": \"1h\", "
                                   "\"short\": \"5m\", \"factor\": 14.4}])",
                                   path);
        }
        if ((rc = parse_windows(v, path, c, err)) != ROOST_OK)
            return rc;
        break;
    }
    return ROOST_OK;
}

/* The check used when analysis.metrics is omitted: the canary's error rate
 * must not be shown worse than the baseline's (docs/rollouts.md explains the
 * settings). */
static void default_check(struct rollout_check *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", ROLLOUT_DEFAULT_CHECK_NAME);
    c->type = ROLLOUT_CHECK_COMPARE;
    snprintf(c->metric, sizeof c->metric, "%s", ROLLOUT_DEFAULT_METRIC);
    c->stat = ROLLOUT_STAT_ERROR_RATE;
    snprintf(c->stat_name, sizeof c->stat_name, "error_rate");
    c->min_samples = ROLLOUT_DEFAULT_MIN_SAMPLES_ERROR_RATE;
    c->no_data = ROLLOUT_NO_DATA_PAUSE;
    c->margin = 0;
    c->alpha = ROLLOUT_DEFAULT_ALPHA_RATE_RATIO;
    c->direction = ROLLOUT_LOWER_IS_BETTER;
    c->expected_samples = ROLLOUT_DEFAULT_EXPECTED_SAMPLES;
}

/* ---- sections ----------------------------------------------------------- */

static roost_status parse_analysis(const cJSON *obj, const char *path, struct rollout_analysis *a,
                                   roost_error *err)
{
    static const char *const fields[] = {"interval", "count", "failureLimit",
                                         "consecutiveErrorLimit", "inconclusiveLimit", "metrics"};
    char sub[PATH_MAX_LEN];
    const cJSON *v;
    roost_status rc;
    size_t i = 0;

    a->interval_ms = ROLLOUT_DEFAULT_INTERVAL_MS;
    a->count = ROLLOUT_DEFAULT_COUNT;
    a->failure_limit = ROLLOUT_DEFAULT_FAILURE_LIMIT;
    a->consecutive_error_limit = ROLLOUT_DEFAULT_CONSECUTIVE_ERROR_LIMIT;
    a->inconclusive_limit = ROLLOUT_DEFAULT_INCONCLUSIVE_LIMIT;
    a->nchecks = 0;
    if (!obj) {
        default_check(&a->checks[0]);
        a->nchecks = 1;
        return ROOST_OK;
    }
    if (!cJSON_IsObject(obj))
        return roost_error_set(err, ROOST_EINVAL, "%s: expected an object, got %s", path, json_type_name(obj));
    if ((rc = check_fields(obj, path, fields, sizeof fields / sizeof fields[0], err)) != ROOST_OK)
        return rc;
    if ((v = field(obj, "interval")) &&
        (rc = get_duration(v, path, "interval", 1000, &a->interval_ms, err)) != ROOST_OK)
        return rc;
    if ((v = field(obj, "count")) && (rc = get_u32(v, path, "count", 1, 10000, &a->count, err)) != ROOST_OK)
        return rc;
    if ((v = field(obj, "failureLimit")) &&
        (rc = get_u32(v, path, "failureLimit", 0, 10000, &a->failure_limit, err)) != ROOST_OK)
        return rc;
    if ((v = field(obj, "consecutiveErrorLimit")) &&
        (rc = get_u32(v, path, "consecutiveErrorLimit", 0, 10000, &a->consecutive_error_limit, err)) != ROOST_OK)
        return rc;
    if ((v = field(obj, "inconclusiveLimit")) &&
        (rc = get_u32(v, path, "inconclusiveLimit", 0, 10000, &a->inconclusive_limit, err)) != ROOST_OK)
        return rc;
    v = field(obj, "metrics");
    if (!v) {
        default_check(&a->checks[0]);
        a->nchecks = 1;
        return ROOST_OK;
    }
    if (!cJSON_IsArray(v) || !v->child) {
        return roost_error_set(err, ROOST_EINVAL,
                               "%s.metrics: expected a non-empty array of checks (omit it for the "
                               "default check, %s)",
                               path, ROLLOUT_DEFAULT_CHECK_NAME);
    }
    for (const cJSON *c = v->child; c; c = c->next, i++) {
        if (i == ROLLOUT_MAX_CHECKS) {
            return roost_error_set(err, ROOST_ELIMIT, "%s.metrics: more than %d checks", path,
                                   ROLLOUT_MAX_CHECKS);
        }
        path_fmt(sub, sizeof sub, "%s.metrics[%zu]", path, i);
        if ((rc = parse_check(c, sub, &a->checks[i], err)) != ROOST_OK)
            return rc;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(a->checks[j].name, a->checks[i].name) == 0) {
                return roost_error_set(err, ROOST_EINVAL,
                                       "%s.name: '%s' is already the name of metrics[%zu]", sub,
                                       a->checks[i].name, j);
            }
        }
    }
    a->nchecks = i;
    return ROOST_OK;
}

static roost_status parse_promotion(const cJSON *obj, const char *path, struct rollout_promotion *p,
                                    roost_error *err)
{
    static const char *const fields[] = {"minStepDuration", "minSamplesPerStep", "maxWeight",
                                         "requireConfirmation"};
    const cJSON *v;
    roost_status rc;

    p->min_step_ms = 0;
    p->min_samples = 0;
    p->max_weight = 100;
    p->require_confirmation = false;
    if (!obj)
        return ROOST_OK;
    if (!cJSON_IsObject(obj))
        return roost_error_set(err, ROOST_EINVAL, "%s: expected an object, got %s", path, json_type_name(obj));
    if ((rc = check_fields(obj, path, fields, sizeof fields / sizeof fields[0], err)) != ROOST_OK)
        return rc;
    if ((v = field(obj, "minStepDuration")) &&
        (rc = get_duration(v, path, "minStepDuration", 0, &p->min_step_ms, err)) != ROOST_OK)
        return rc;
    if ((v = field(obj, "minSamplesPerStep")) &&
        (rc = get_whole(v, path, "minSamplesPerStep", 0, 1e12, &p->min_samples, err)) != ROOST_OK)
        return rc;
    if ((v = field(obj, "maxWeight"))) {
        if (cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) && v->valuedouble > 100) {
            return roost_error_set(err, ROOST_EINVAL, "%s.maxWeight: weight %.0f is over 100",
                                   path, v->valuedouble);
        }
        if ((rc = get_u32(v, path, "maxWeight", 1, 100, &p->max_weight, err)) != ROOST_OK)
            return rc;
    }
    if ((v = field(obj, "requireConfirmation")) &&
        (rc = get_bool(v, path, "requireConfirmation", &p->require_confirmation, err)) != ROOST_OK)
        return rc;
    return ROOST_OK;
}

static roost_status parse_gates(const cJSON *obj, const char *path, const char *const *probe_names,
                                size_t nprobe_names, struct rollout_gates *g, roost_error *err)
{
    static const char *const fields[] = {"probes", "onDown"};
    const cJSON *v;
    roost_status rc;
    size_t i = 0;

    g->nprobes = 0;
    g->on_down = ROLLOUT_ON_DOWN_PAUSE;
    if (!obj)
        return ROOST_OK;
    if (!cJSON_IsObject(obj))
        return roost_error_set(err, ROOST_EINVAL, "%s: expected an object, got %s", path, json_type_name(obj));
    if ((rc = check_fields(obj, path, fields, 2, err)) != ROOST_OK)
        return rc;
    if ((v = field(obj, "onDown"))) {
        if (cJSON_IsString(v) && strcmp(v->valuestring, "pause") == 0) {
            g->on_down = ROLLOUT_ON_DOWN_PAUSE;
        } else if (cJSON_IsString(v) && strcmp(v->valuestring, "abort") == 0) {
            g->on_down = ROLLOUT_ON_DOWN_ABORT;
        } else {
            return roost_error_set(err, ROOST_EINVAL, "%s.onDown: expected pause or abort", path);
        }
    }
    v = field(obj, "probes");
    if (!v)
        return ROOST_OK;
    if (!cJSON_IsArray(v)) {
        return roost_error_set(err, ROOST_EINVAL,
                               "%s.probes: expected an array of probe names, got %s", path,
                               json_type_name(v));
    }
    for (const cJSON *p = v->child; p; p = p->next, i++) {
        bool found = probe_names == NULL;

        if (i == ROLLOUT_MAX_GATES) {
            return roost_error_set(err, ROOST_ELIMIT, "%s.probes: more than %d probes", path,
                                   ROLLOUT_MAX_GATES);
        }
        if (!cJSON_IsString(p) || !json_name_valid(p->valuestring, ROLLOUT_PROBE_NAME_MAX)) {
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s.probes[%zu]: expected a probe name (1-%d characters of "
                                   "A-Z a-z 0-9 . _ -)",
                                   path, i, ROLLOUT_PROBE_NAME_MAX);
        }
        for (size_t j = 0; !found && j < nprobe_names; j++)
            found = probe_names[j] && strcmp(probe_names[j], p->valuestring) == 0;
        if (!found) {
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s.probes[%zu]: no probe named '%s' in this document (define it "
                                   "under \"probes\")",
                                   path, i, p->valuestring);
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(g->probes[j], p->valuestring) == 0) {
                return roost_error_set(err, ROOST_EINVAL, "%s.probes[%zu]: '%s' is listed twice",
                                       path, i, p->valuestring);
            }
        }
        snprintf(g->probes[i], sizeof g->probes[i], "%s", p->valuestring);
    }
    g->nprobes = i;
    return ROOST_OK;
}

static roost_status parse_steps(const cJSON *arr, const char *path, struct rollout_spec *s,
                                roost_error *err)
{
    static const char *const kinds[] = {"setWeight", "pause", "analysis"};
    static const char *const pause_fields[] = {"duration"};
    static const char *const analysis_fields[] = {"count"};
    char sub[PATH_MAX_LEN], list[128];
    size_t i = 0, last_set = 0;
    uint32_t weight = 0;
    bool any_set = false;
    roost_status rc;

    if (!arr) {
        return roost_error_set(err, ROOST_EINVAL,
                               "%s: missing (the steps of the rollout, such as [{\"setWeight\": "
                               "10}, {\"analysis\": {}}, {\"setWeight\": 100}])",
                               path);
    }
    if (!cJSON_IsArray(arr) || !arr->child) {
        return roost_error_set(err, ROOST_EINVAL, "%s: expected a non-empty array of steps", path);
    }
    for (const cJSON *st = arr->child; st; st = st->next, i++) {
        struct rollout_step *step;
        const cJSON *v;

        if (i == ROLLOUT_MAX_STEPS)
            return roost_error_set(err, ROOST_ELIMIT, "%s: more than %d steps", path, ROLLOUT_MAX_STEPS);
        path_fmt(sub, sizeof sub, "%s[%zu]", path, i);
        step = &s->steps[i];
        memset(step, 0, sizeof *step);
        if (!cJSON_IsObject(st) || !st->child || st->child->next) {
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s: expected an object with exactly one of setWeight, pause or "
                                   "analysis",
                                   sub);
        }
        v = st->child;
        if (strcmp(v->string, "setWeight") == 0) {
            uint64_t w;
            step->kind = ROLLOUT_STEP_SET_WEIGHT;
            if (cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) && v->valuedouble > 100) {
                return roost_error_set(err, ROOST_EINVAL, "%s.setWeight: weight %.0f is over 100",
                                       sub, v->valuedouble);
            }
            if ((rc = get_whole(v, sub, "setWeight", 0, 100, &w, err)) != ROOST_OK)
                return rc;
            if (w > s->promotion.max_weight) {
                return roost_error_set(err, ROOST_EINVAL,
                                       "%s.setWeight: weight %llu is over promotion.maxWeight (%u)",
                                       sub, (unsigned long long)w, s->promotion.max_weight);
            }
            if (any_set && w < weight) {
                return roost_error_set(err, ROOST_EINVAL,
                                       "%s.setWeight: weights must not decrease: step %zu sets %llu "
                                       "after step %zu set %u",
                                       sub, i, (unsigned long long)w, last_set, weight);
            }
            step->weight = (uint32_t)w;
            weight = (uint32_t)w;
            last_set = i;
            any_set = true;
        } else if (strcmp(v->string, "pause") == 0) {
            char psub[PATH_MAX_LEN];
            const cJSON *d;
            path_fmt(psub, sizeof psub, "%s.pause", sub);
            step->kind = ROLLOUT_STEP_PAUSE;
            step->duration_ms = ROLLOUT_PAUSE_UNTIL_PROMOTED;
            if (!cJSON_IsObject(v)) {
                return roost_error_set(err, ROOST_EINVAL,
                                       "%s: expected an object: {\"duration\": \"2m\"}, or {} to wait "
                                       "until a person promotes",
                                       psub);
            }
            if ((rc = check_fields(v, psub, pause_fields, 1, err)) != ROOST_OK)
                return rc;
            if ((d = field(v, "duration")) &&
                (rc = get_duration(d, psub, "duration", 0, &step->duration_ms, err)) != ROOST_OK)
                return rc;
        } else if (strcmp(v->string, "analysis") == 0) {
            char asub[PATH_MAX_LEN];
            const cJSON *c;
            path_fmt(asub, sizeof asub, "%s.analysis", sub);
            step->kind = ROLLOUT_STEP_ANALYSIS;
            step->count = s->analysis.count;
            if (!cJSON_IsObject(v)) {
                return roost_error_set(err, ROOST_EINVAL,
                                       "%s: expected an object: {} (analysis.count runs) or "
                                       "{\"count\": 4}",
                                       asub);
            }
            if ((rc = check_fields(v, asub, analysis_fields, 1, err)) != ROOST_OK)
                return rc;
            if ((c = field(v, "count")) &&
                (rc = get_u32(c, asub, "count", 1, 10000, &step->count, err)) != ROOST_OK)
                return rc;
        } else {
            json_fields_choices(kinds, 3, v->string, list, sizeof list);
            return roost_error_set(err, ROOST_EINVAL, "%s: unknown step '%s' (expected one of %s)",
                                   sub, v->string, list);
        }
    }
    s->nsteps = i;
    if (weight != s->promotion.max_weight) {
        return roost_error_set(err, ROOST_EINVAL,
                               "%s: the last step must bring the weight to maxWeight (%u); the "
                               "steps end at weight %u",
                               path, s->promotion.max_weight, weight);
    }
    return ROOST_OK;
}

static roost_status parse_hooks(const cJSON *arr, const char *path, struct rollout_spec *s,
                                roost_error *err)
{
    char sub[PATH_MAX_LEN];
    size_t i = 0;
    roost_status rc;

    if (!arr)
        return ROOST_OK;
    if (!cJSON_IsArray(arr)) {
        return roost_error_set(err, ROOST_EINVAL, "%s: expected an array of hooks, got %s", path,
                               json_type_name(arr));
    }
    for (const cJSON *h = arr->child; h; h = h->next, i++) {
        if (i == ROLLOUT_MAX_HOOKS)
            return roost_error_set(err, ROOST_ELIMIT, "%s: more than %d hooks", path, ROLLOUT_MAX_HOOKS);
        path_fmt(sub, sizeof sub, "%s[%zu]", path, i);
        if ((rc = hook_spec_parse(h, sub, &s->hooks[i], err)) != ROOST_OK)
            return rc;
        s->nhooks = i + 1;
        s->hook_events |= s->hooks[i].on;
    }
    return ROOST_OK;
}

/* ---- parse -------------------------------------------------------------- */

roost_status rollout_spec_parse(const cJSON *obj, const char *name,
                                const char *const *probe_names, size_t nprobe_names,
                                struct rollout_spec *out, roost_error *err)
{
    static const char *const fields[] = {"service", "baseline", "canary",  "autoStart", "steps",
                                         "analysis", "promotion", "gates", "hooks"};
    char path[PATH_MAX_LEN], sub[PATH_MAX_LEN];
    struct rollout_spec *s;
    const cJSON *v;
    roost_status rc;

    if (!obj || !out)
        return roost_error_set(err, ROOST_EINVAL, "rollout_spec_parse: NULL argument");
    if (!rollout_name_valid(name)) {
        return roost_error_set(err, ROOST_EINVAL,
                               "rollouts[\"%.200s\"]: a rollout name must be 1-%d characters of "
                               "A-Z a-z 0-9 . _ -",
                               name ? name : "", ROLLOUT_NAME_MAX);
    }
    path_fmt(path, sizeof path, "rollouts.%s", name);
    if (!cJSON_IsObject(obj)) {
        return roost_error_set(err, ROOST_EINVAL,
                               "%s: expected an object with service, baseline, canary and steps, got %s",
                               path, json_type_name(obj));
    }
    if ((rc = check_fields(obj, path, fields, sizeof fields / sizeof fields[0], err)) != ROOST_OK)
        return rc;

    /* About 20 KB: on the heap, parsers run on server threads. */
    if (!(s = calloc(1, sizeof *s)))
        return roost_error_set(err, ROOST_ENOMEM, "out of memory");
    snprintf(s->name, sizeof s->name, "%s", name);

    if ((rc = get_text(field(obj, "service"), path, "service", s->service, ROLLOUT_TEXT_MAX, err)) != ROOST_OK ||
        (rc = get_text(field(obj, "baseline"), path, "baseline", s->baseline, ROLLOUT_TEXT_MAX, err)) != ROOST_OK ||
        (rc = get_text(field(obj, "canary"), path, "canary", s->canary, ROLLOUT_TEXT_MAX, err)) != ROOST_OK)
        goto fail;
    if ((v = field(obj, "autoStart")) && (rc = get_bool(v, path, "autoStart", &s->auto_start, err)) != ROOST_OK)
        goto fail;

    path_fmt(sub, sizeof sub, "%s.promotion", path);
    if ((rc = parse_promotion(field(obj, "promotion"), sub, &s->promotion, err)) != ROOST_OK)
        goto fail;
    path_fmt(sub, sizeof sub, "%s.analysis", path);
    if ((rc = parse_analysis(field(obj, "analysis"), sub, &s->analysis, err)) != ROOST_OK)
        goto fail;
    path_fmt(sub, sizeof sub, "%s.steps", path);
    if ((rc = parse_steps(field(obj, "steps"), sub, s, err)) != ROOST_OK)
        goto fail;
    path_fmt(sub, sizeof sub, "%s.gates", path);
    if ((rc = parse_gates(field(obj, "gates"), sub, probe_names, nprobe_names, &s->gates, err)) != ROOST_OK)
        goto fail;
    path_fmt(sub, sizeof sub, "%s.hooks", path);
    if ((rc = parse_hooks(field(obj, "hooks"), sub, s, err)) != ROOST_OK)
        goto fail;

    *out = *s;
    free(s);
    return ROOST_OK;

fail:
    rollout_spec_free(s);
    free(s);
    return rc;
}

roost_status rollout_spec_parse_text(const char *json, size_t len, const char *name,
                                     const char *const *probe_names, size_t nprobe_names,
                                     struct rollout_spec *out, roost_error *err)
{
    cJSON *root;
    roost_status rc;

    if (!json)
        return roost_error_set(err, ROOST_EINVAL, "rollout_spec_parse_text: NULL argument");
    root = cJSON_ParseWithLength(json, len);
    if (!root) {
        return roost_error_set(err, ROOST_EINVAL, "rollouts.%.200s: not valid JSON",
                               name ? name : "");
    }
    rc = rollout_spec_parse(root, name, probe_names, nprobe_names, out, err);
    cJSON_Delete(root);
    return rc;
}

void rollout_spec_free(struct rollout_spec *spec)
{
    if (!spec)
        return;
    for (size_t i = 0; i < spec->nhooks && i < ROLLOUT_MAX_HOOKS; i++)
        hook_spec_free(&spec->hooks[i]);
    memset(spec, 0, sizeof *spec);
}

/* ---- canonical form ----------------------------------------------------- */

/* Adds to obj; returns false when cJSON could not allocate. Every adder
 * below funnels into these, so one `ok` flag tracks the whole build. */
static bool add_str(cJSON *obj, const char *k, const char *v)
{
    return cJSON_AddStringToObject(obj, k, v) != NULL;
}

static bool add_num(cJSON *obj, const char *k, double v)
{
    return cJSON_AddNumberToObject(obj, k, v) != NULL;
}

static bool add_bool(cJSON *obj, const char *k, bool v)
{
    return cJSON_AddBoolToObject(obj, k, v) != NULL;
}

static bool add_dur(cJSON *obj, const char *k, int64_t ms)
{
    char buf[48];
    rollout_duration_format(ms, buf, sizeof buf);
    return add_str(obj, k, buf);
}

static cJSON *add_obj(cJSON *parent, const char *k)
{
    return cJSON_AddObjectToObject(parent, k);
}

static cJSON *add_arr(cJSON *parent, const char *k)
{
    return cJSON_AddArrayToObject(parent, k);
}

static bool push(cJSON *arr, cJSON *item)
{
    if (!item)
        return false;
    if (!cJSON_AddItemToArray(arr, item)) {
        cJSON_Delete(item);
        return false;
    }
    return true;
}

static bool canon_check(cJSON *arr, const struct rollout_check *c)
{
    cJSON *o = cJSON_CreateObject(), *ws;
    bool ok;

    if (!push(arr, o))
        return false;
    ok = add_str(o, "name", c->name) && add_str(o, "type", rollout_check_type_name(c->type)) &&
         add_str(o, "metric", c->metric) && add_str(o, "stat", c->stat_name) &&
         add_num(o, "minSamples", (double)c->min_samples) &&
         add_str(o, "noData", rollout_no_data_name(c->no_data));
    switch (c->type) {
    case ROLLOUT_CHECK_THRESHOLD:
        if (c->has_min)
            ok = ok && add_num(o, "min", c->min);
        if (c->has_max)
            ok = ok && add_num(o, "max", c->max);
        break;
    case ROLLOUT_CHECK_RELATIVE:
        ok = ok && add_num(o, "maxRatio", c->max_ratio);
        if (c->has_max_absolute)
            ok = ok && add_num(o, "maxAbsolute", c->max_absolute);
        break;
    case ROLLOUT_CHECK_COMPARE:
        ok = ok && add_num(o, "margin", c->margin) && add_num(o, "alpha", c->alpha) &&
             add_str(o, "direction",
                     c->direction == ROLLOUT_LOWER_IS_BETTER ? "lower_is_better" : "higher_is_better") &&
             add_num(o, "expectedSamples", (double)c->expected_samples);
        break;
    case ROLLOUT_CHECK_BURN_RATE:
        ok = ok && add_num(o, "slo", c->slo) && (ws = add_arr(o, "windows")) != NULL;
        for (size_t i = 0; ok && i < c->nwindows; i++) {
            cJSON *w = cJSON_CreateObject();
            ok = push(ws, w) && add_dur(w, "long", c->windows[i].long_ms) &&
                 add_dur(w, "short", c->windows[i].short_ms) && add_num(w, "factor", c->windows[i].factor);
        }
        break;
    }
    return ok;
}

static bool canon_hook(cJSON *arr, const struct hook_spec *h)
{
    cJSON *o = cJSON_CreateObject(), *on, *x;
    bool ok;

    if (!push(arr, o))
        return false;
    ok = (on = add_arr(o, "on")) != NULL;
    for (size_t i = 0; ok && i < NEVENTS; i++) {
        if (h->on & (1u << i))
            ok = push(on, cJSON_CreateString(event_names[i]));
    }
    if (!ok)
        return false;
    if (h->is_http) {
        ok = (x = add_obj(o, "http")) != NULL && add_str(x, "url", h->url ? h->url : "") &&
             add_str(x, "method", h->method ? h->method : "POST");
        if (ok && h->nheaders) {
            cJSON *hd = add_obj(x, "headers");
            ok = hd != NULL;
            for (size_t i = 0; ok && i < h->nheaders; i++) {
                /* Stored as "Name: value" (hooks.c); split it back. */
                const char *line = h->headers[i], *colon = strchr(line, ':');
                char name[HOOK_STR_MAX + 1];
                size_t n = colon ? (size_t)(colon - line) : strlen(line);
                const char *val = colon ? colon + 1 : "";
                if (n > HOOK_STR_MAX)
                    n = HOOK_STR_MAX;
                memcpy(name, line, n);
                name[n] = '\0';
                if (*val == ' ')
                    val++;
                ok = add_str(hd, name, val);
            }
        }
    } else {
        ok = (x = add_arr(o, "exec")) != NULL;
        for (size_t i = 0; ok && i < HOOK_MAX_ARGS && h->argv[i]; i++)
            ok = push(x, cJSON_CreateString(h->argv[i]));
    }
    return ok && add_dur(o, "timeout", h->timeout_ms) && add_num(o, "retries", h->retries);
}

roost_status rollout_spec_canonical(const struct rollout_spec *s, char **json, size_t *len,
                                    roost_error *err)
{
    cJSON *root, *steps, *an, *metrics, *pr, *gates, *probes, *hooks;
    char *text;
    bool ok;

    if (!s || !json)
        return roost_error_set(err, ROOST_EINVAL, "rollout_spec_canonical: NULL argument");
    if (!(root = cJSON_CreateObject()))
        return roost_error_set(err, ROOST_ENOMEM, "out of memory");
    ok = add_str(root, "service", s->service) && add_str(root, "baseline", s->baseline) &&
         add_str(root, "canary", s->canary) && add_bool(root, "autoStart", s->auto_start) &&
         (steps = add_arr(root, "steps")) != NULL;
    for (size_t i = 0; ok && i < s->nsteps; i++) {
        const struct rollout_step *st = &s->steps[i];
        cJSON *o = cJSON_CreateObject(), *inner;
        ok = push(steps, o);
        if (!ok)
            break;
        switch (st->kind) {
        case ROLLOUT_STEP_SET_WEIGHT:
            ok = add_num(o, "setWeight", st->weight);
            break;
        case ROLLOUT_STEP_PAUSE:
            ok = (inner = add_obj(o, "pause")) != NULL &&
                 (st->duration_ms == ROLLOUT_PAUSE_UNTIL_PROMOTED || add_dur(inner, "duration", st->duration_ms));
            break;
        case ROLLOUT_STEP_ANALYSIS:
            ok = (inner = add_obj(o, "analysis")) != NULL && add_num(inner, "count", st->count);
            break;
        }
    }
    ok = ok && (an = add_obj(root, "analysis")) != NULL && add_dur(an, "interval", s->analysis.interval_ms) &&
         add_num(an, "count", s->analysis.count) && add_num(an, "failureLimit", s->analysis.failure_limit) &&
         add_num(an, "consecutiveErrorLimit", s->analysis.consecutive_error_limit) &&
         add_num(an, "inconclusiveLimit", s->analysis.inconclusive_limit) &&
         (metrics = add_arr(an, "metrics")) != NULL;
    for (size_t i = 0; ok && i < s->analysis.nchecks; i++)
        ok = canon_check(metrics, &s->analysis.checks[i]);
    ok = ok && (pr = add_obj(root, "promotion")) != NULL &&
         add_dur(pr, "minStepDuration", s->promotion.min_step_ms) &&
         add_num(pr, "minSamplesPerStep", (double)s->promotion.min_samples) &&
         add_num(pr, "maxWeight", s->promotion.max_weight) &&
         add_bool(pr, "requireConfirmation", s->promotion.require_confirmation) &&
         (gates = add_obj(root, "gates")) != NULL && (probes = add_arr(gates, "probes")) != NULL;
    for (size_t i = 0; ok && i < s->gates.nprobes; i++)
        ok = push(probes, cJSON_CreateString(s->gates.probes[i]));
    ok = ok && add_str(gates, "onDown", s->gates.on_down == ROLLOUT_ON_DOWN_ABORT ? "abort" : "pause") &&
         (hooks = add_arr(root, "hooks")) != NULL;
    for (size_t i = 0; ok && i < s->nhooks; i++)
        ok = canon_hook(hooks, &s->hooks[i]);
    text = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!text)
        return roost_error_set(err, ROOST_ENOMEM, "out of memory");
    *json = text;
    if (len)
        *len = strlen(text);
    return ROOST_OK;
}
