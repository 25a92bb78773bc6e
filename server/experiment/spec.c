/* The experiment resource: strict parsing and canonical form. See spec.h and
 * docs/experiments.md.
 *
 * The parser walks the document once, top to bottom, and stops at the first
 * problem: one precise message is more useful than a list of consequences
 * of the same typo. Every message starts with the JSON path of the value it
 * is about. Unknown fields are refused with the same "expected one of ...;
 * did you mean" wording as rollouts (server/json_fields.h).
 *
 * Cross-checks against the flag happen in one place (resolve_arms), after
 * the experiment's own fields parsed, so that "unknown flag" is reported
 * even when the weights are also wrong (the flag is the cause).
 */
#include "server/experiment/spec.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/duration.h"
#include "server/json_fields.h"

#define PATH_MAX_LEN 384

/* ------------------------------------------------------------ small checks */

/* Formats a JSON path for messages. A path longer than the buffer is cut:
 * messages are for people and stay readable; nothing is decided on a path.
 * (vsnprintf, unlike snprintf, is not checked for truncation by the
 * compiler, which cannot know how long names in documents are.) */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void pathf(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(out, cap, fmt, ap);
    va_end(ap);
}

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-';
}


bool experiment_name_valid(const char *name)
{
    return name && json_name_valid(name, EXPERIMENT_NAME_MAX);
}

/* Valid UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF)
 * and, unless allow_newlines, no control characters at all; with it, tabs
 * and line breaks are fine (a hypothesis may be a paragraph). */
static bool text_valid(const char *s, bool allow_newlines)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p) {
        unsigned c = *p;
        if (c < 0x80) {
            if ((c < 0x20 || c == 0x7f) &&
                !(allow_newlines && (c == '\n' || c == '\r' || c == '\t')))
                return false;
            p++;
            continue;
        }
        size_t len;
        unsigned cp;
        if ((c & 0xe0) == 0xc0) {
            len = 2;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        for (size_t i = 1; i < len; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        p += len;
    }
    return true;
}

static bool unit_valid(const char *s)
{
    size_t n = 0;

    for (; s[n]; n++)
        if (!name_char(s[n]) && s[n] != '$')
            return false;
    /* A path segment may not be empty: "user..id" and ".id" read nothing. */
    if (n == 0 || s[0] == '.' || s[n - 1] == '.' || strstr(s, ".."))
        return false;
    return n <= EXPERIMENT_UNIT_MAX;
}

/* --------------------------------------------------------------- durations */

bool experiment_duration_parse(const char *text, int64_t *ms)
{
    return roost_duration_parse(text, ms);
}

void experiment_duration_format(int64_t ms, char *out, size_t cap)
{
    static const struct {
        char unit;
        int64_t ms;
    } units[] = {{'d', 86400000LL}, {'h', 3600000LL}, {'m', 60000LL}, {'s', 1000LL}};
    size_t used = 0;

    if (!cap)
        return;
    out[0] = '\0';
    if (ms < 1000) {
        snprintf(out, cap, "0s");
        return;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0] && used < cap; i++) {
        int64_t v = ms / units[i].ms;
        if (v) {
            int w = snprintf(out + used, cap - used, "%" PRId64 "%c", v, units[i].unit);
            if (w < 0)
                return;
            used += (size_t)w;
            ms -= v * units[i].ms;
        }
    }
}

void experiment_percent_format(uint32_t hundredths, char *out, size_t cap)
{
    uint32_t whole = hundredths / EXPERIMENT_PERCENT_SCALE;
    uint32_t frac = hundredths % EXPERIMENT_PERCENT_SCALE;

    if (frac == 0)
        snprintf(out, cap, "%" PRIu32, whole);
    else if (frac % 10 == 0)
        snprintf(out, cap, "%" PRIu32 ".%" PRIu32, whole, frac / 10);
    else
        snprintf(out, cap, "%" PRIu32 ".%02" PRIu32, whole, frac);
}

/* ------------------------------------------------------------ field access */

/* The member `field` of obj, NULL when absent. cJSON's lookup is
 * case-insensitive; documents are not. */
static const cJSON *member(const cJSON *obj, const char *field)
{
    return cJSON_GetObjectItemCaseSensitive(obj, field);
}

static roost_status need_object(const cJSON *v, const char *path, roost_error *err)
{
    if (!cJSON_IsObject(v))
        return roost_error_set(err, ROOST_EINVAL, "%s: expected an object", path);
    return ROOST_OK;
}

/* A required or optional string field copied into out[cap]. *found (may be
 * NULL) tells whether it was present. */
static roost_status get_text(const cJSON *obj, const char *field, const char *path, bool required,
                             char *out, size_t cap, bool *found, roost_error *err)
{
    const cJSON *v = member(obj, field);
    size_t len;

    if (found)
        *found = v != NULL;
    if (!v) {
        if (required)
            return roost_error_set(err, ROOST_EINVAL, "%s.%s: missing (required)", path, field);
        return ROOST_OK;
    }
    if (!cJSON_IsString(v) || !v->valuestring)
        return roost_error_set(err, ROOST_EINVAL, "%s.%s: expected a string", path, field);
    len = strlen(v->valuestring);
    if (len == 0)
        return roost_error_set(err, ROOST_EINVAL, "%s.%s: must not be empty", path, field);
    if (len >= cap)
        return roost_error_set(err, ROOST_ELIMIT, "%s.%s: %zu bytes, at most %zu allowed", path,
                               field, len, cap - 1);
    memcpy(out, v->valuestring, len + 1);
    return ROOST_OK;
}

/* A finite number field. */
static roost_status get_number(const cJSON *obj, const char *field, const char *path,
                               double *out, bool *found, roost_error *err)
{
    const cJSON *v = member(obj, field);

    *found = v != NULL;
    if (!v)
        return ROOST_OK;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return roost_error_set(err, ROOST_EINVAL, "%s.%s: expected a number", path, field);
    *out = v->valuedouble;
    return ROOST_OK;
}

static roost_status get_bool(const cJSON *obj, const char *field, const char *path, bool *out,
                             roost_error *err)
{
    const cJSON *v = member(obj, field);

    if (!v)
        return ROOST_OK;
    if (!cJSON_IsBool(v))
        return roost_error_set(err, ROOST_EINVAL, "%s.%s: expected true or false", path, field);
    *out = cJSON_IsTrue(v);
    return ROOST_OK;
}

/* One of names[0..n) as a string; *index receives its position. */
static roost_status get_choice(const cJSON *obj, const char *field, const char *path,
                               const char *const *names, size_t n, bool required, int *index,
                               roost_error *err)
{
    const cJSON *v = member(obj, field);
    char list[256];

    if (!v) {
        if (required) {
            json_fields_choices(names, n, NULL, list, sizeof list);
            return roost_error_set(err, ROOST_EINVAL, "%s.%s: missing (required: one of %s)",
                                   path, field, list);
        }
        return ROOST_OK;
    }
    if (cJSON_IsString(v) && v->valuestring) {
        for (size_t i = 0; i < n; i++) {
            if (strcmp(v->valuestring, names[i]) == 0) {
                *index = (int)i;
                return ROOST_OK;
            }
        }
    }
    json_fields_choices(names, n, cJSON_IsString(v) ? v->valuestring : NULL, list, sizeof list);
    if (cJSON_IsString(v))
        return roost_error_set(err, ROOST_EINVAL, "%s.%s: unknown value '%s' (expected one of %s)",
                               path, field, v->valuestring, list);
    return roost_error_set(err, ROOST_EINVAL, "%s.%s: expected a string, one of %s", path, field,
                           list);
}

/* A percentage in (0, 100] with at most two decimals, in hundredths. */
static roost_status get_percent(const cJSON *v, const char *path, uint32_t *out, roost_error *err)
{
    double h, r;

    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return roost_error_set(err, ROOST_EINVAL, "%s: expected a percentage (a number)", path);
    if (v->valuedouble <= 0 || v->valuedouble > 100)
        return roost_error_set(err, ROOST_EINVAL,
                               "%s: %g is not a percentage above 0 and at most 100", path,
                               v->valuedouble);
    h = v->valuedouble * EXPERIMENT_PERCENT_SCALE;
    r = floor(h + 0.5);
    /* Hundredths of a percent are what flagd's integer fractional weights
     * can express (out of 10000); 33.333 would be silently rounded. */
    if (fabs(h - r) > 1e-6)
        return roost_error_set(err, ROOST_EINVAL,
                               "%s: %.10g has more than two decimals (percentages are kept in "
                               "hundredths: write e.g. 33.33)",
                               path, v->valuedouble);
    *out = (uint32_t)r;
    return ROOST_OK;
}

/* ----------------------------------------------------------------- metrics */

static const char *const metric_fields[] = {"name", "metric", "type",  "direction",
                                            "mde",  "mdeType", "alpha", "power"};
static const char *const type_names[] = {"binomial", "mean"};
static const char *const direction_names[] = {"increase", "decrease"};
static const char *const mde_type_names[] = {"absolute", "relative"};
static const char *const method_names[] = {"sequential", "fixed"};
static const char *const role_names[] = {"primary", "secondary", "guardrail"};

_Static_assert(EXPERIMENT_METRIC_NAME_MAX <= EXPERIMENT_METRIC_MAX,
               "a metric's name is its reported metric by default, so it must fit there");

static roost_status parse_metric(const cJSON *obj, const char *path, enum experiment_role role,
                                 struct experiment_metric *m, roost_error *err)
{
    roost_status rc;
    bool found;
    int type = -1, direction = -1, mde_type = 0;
    double v;

    memset(m, 0, sizeof *m);
    m->role = role;
    if ((rc = need_object(obj, path, err)) ||
        (rc = json_fields_check(obj, path, metric_fields,
                                sizeof metric_fields / sizeof metric_fields[0], err)))
        return rc;

    if ((rc = get_text(obj, "name", path, true, m->name, sizeof m->name, NULL, err)))
        return rc;
    if (!json_name_valid(m->name, EXPERIMENT_METRIC_NAME_MAX))
        return roost_error_set(err, ROOST_EINVAL,
                               "%s.name: '%s' is not a valid metric name (1-%d of A-Z a-z 0-9 "
                               ". _ -)",
                               path, m->name, EXPERIMENT_METRIC_NAME_MAX);
    if ((rc = get_text(obj, "metric", path, false, m->metric, sizeof m->metric, &found, err)))
        return rc;
    if (!found)
        memcpy(m->metric, m->name, strlen(m->name) + 1); /* fits: see the assertion above */
    else if (!text_valid(m->metric, false))
        return roost_error_set(err, ROOST_EINVAL,
                               "%s.metric: not valid UTF-8 text without control characters", path);

    if ((rc = get_choice(obj, "type", path, type_names, 2, true, &type, err)) ||
        (rc = get_choice(obj, "direction", path, direction_names, 2, true, &direction, err)) ||
        (rc = get_choice(obj, "mdeType", path, mde_type_names, 2, false, &mde_type, err)))
        return rc;
    m->type = (enum experiment_metric_type)type;
    m->direction = (enum experiment_direction)direction;
    m->mde_relative = mde_type == 1;

    if ((rc = get_number(obj, "mde", path, &m->mde, &found, err)))
        return rc;
    if (!found)
        return roost_error_set(err, ROOST_EINVAL,
                               "%s.mde: missing (required: the smallest effect worth detecting; it "
                               "sets the sample size and tunes the always-valid test)",
                               path);
    if (m->mde <= 0)
        return roost_error_set(err, ROOST_EINVAL,
                               "%s.mde: %g must be above 0 (it is a size; \"direction\" says which "
                               "way is good)",
                               path, m->mde);
    if (!m->mde_relative && m->type == EXPERIMENT_BINOMIAL && m->mde >= 1)
        return roost_error_set(err, ROOST_EINVAL,
                               "%s.mde: %g is not a difference of two rates (below 1); for a "
                               "relative effect set \"mdeType\": \"relative\" (0.05 = 5 %%)",
                               path, m->mde);
    if (m->mde_relative && m->direction == EXPERIMENT_DECREASE && m->mde >= 1)
        return roost_error_set(err, ROOST_EINVAL,
                               "%s.mde: a relative decrease of %g (%g %%) would take the metric "
                               "below zero; relative effects are fractions (0.05 = 5 %%)",
                               path, m->mde, m->mde * 100);

    m->alpha = EXPERIMENT_DEFAULT_ALPHA;
    if ((rc = get_number(obj, "alpha", path, &v, &found, err)))
        return rc;
    if (found) {
        if (!(v > 0 && v <= 0.5))
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s.alpha: %g is not a significance level in (0, 0.5] (0.05 "
                                   "is usual)",
                                   path, v);
        m->alpha = v;
    }
    m->power = EXPERIMENT_DEFAULT_POWER;
    if ((rc = get_number(obj, "power", path, &v, &found, err)))
        return rc;
    if (found) {
        if (!(v >= 0.5 && v <= 0.999))
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s.power: %g is not a power in [0.5, 0.999] (0.8 is usual)",
                                   path, v);
        m->power = v;
    }
    return ROOST_OK;
}

static roost_status add_metric(struct experiment_spec *s, const cJSON *obj, const char *path,
                               enum experiment_role role, roost_error *err)
{
    struct experiment_metric m;
    roost_status rc;

    if (s->nmetrics == EXPERIMENT_MAX_METRICS)
        return roost_error_set(err, ROOST_ELIMIT, "%s: more than %d metrics in one experiment",
                               path, EXPERIMENT_MAX_METRICS);
    if ((rc = parse_metric(obj, path, role, &m, err)))
        return rc;
    for (size_t i = 0; i < s->nmetrics; i++)
        if (strcmp(s->metrics[i].name, m.name) == 0)
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s.name: '%s' is already the name of the %s metric (names "
                                   "identify metrics in results: make them unique)",
                                   path, m.name, role_names[s->metrics[i].role]);
    s->metrics[s->nmetrics++] = m;
    return ROOST_OK;
}

static roost_status parse_metrics(const cJSON *obj, const char *path, struct experiment_spec *s,
                                  roost_error *err)
{
    static const char *const fields[] = {"primary", "secondary", "guardrails"};
    static const enum experiment_role roles[] = {EXPERIMENT_SECONDARY, EXPERIMENT_GUARDRAIL};
    char p[PATH_MAX_LEN], q[PATH_MAX_LEN];
    const cJSON *primary;
    roost_status rc;

    if (!obj)
        return roost_error_set(err, ROOST_EINVAL,
                               "%s: missing (required: {\"primary\": {...}} at least)", path);
    if ((rc = need_object(obj, path, err)) || (rc = json_fields_check(obj, path, fields, 3, err)))
        return rc;
    pathf(p, sizeof p, "%s.primary", path);
    primary = member(obj, "primary");
    if (!primary)
        return roost_error_set(err, ROOST_EINVAL,
                               "%s: missing: an experiment needs exactly one primary metric (the "
                               "one its conclusion is decided on)",
                               p);
    if (cJSON_IsArray(primary))
        return roost_error_set(err, ROOST_EINVAL,
                               "%s: expected one metric object, not a list: an experiment has "
                               "exactly one primary metric (put the others in \"secondary\")",
                               p);
    if ((rc = add_metric(s, primary, p, EXPERIMENT_PRIMARY, err)))
        return rc;
    for (size_t g = 0; g < 2; g++) {
        const cJSON *list = member(obj, fields[g + 1]), *el;
        size_t i = 0;

        pathf(p, sizeof p, "%s.%s", path, fields[g + 1]);
        if (!list)
            continue;
        if (!cJSON_IsArray(list))
            return roost_error_set(err, ROOST_EINVAL, "%s: expected a list of metric objects", p);
        cJSON_ArrayForEach(el, list)
        {
            pathf(q, sizeof q, "%s[%zu]", p, i++);
            if ((rc = add_metric(s, el, q, roles[g], err)))
                return rc;
        }
    }
    return ROOST_OK;
}

/* -------------------------------------------------------------------- arms */

/* Writes "'a', 'b'" of the names into out. */
static void quote_list(const char *const *names, size_t n, char *out, size_t cap)
{
    size_t used = 0;

    out[0] = '\0';
    for (size_t i = 0; i < n && used < cap; i++) {
        int w = snprintf(out + used, cap - used, "%s'%s'", i ? ", " : "", names[i]);
        if (w < 0)
            return;
        used += (size_t)w;
    }
}

static roost_status unknown_flag(const char *path, const char *key,
                                 const struct experiment_flag_info *flags, size_t nflags,
                                 roost_error *err)
{
    const char **names;
    char list[256];

    if (nflags == 0)
        return roost_error_set(err, ROOST_EINVAL,
                               "%s.flag: unknown flag '%s' (the document defines no flags; the "
                               "arms of an experiment are the variants of a flag of the same "
                               "document)",
                               path, key);
    names = malloc(nflags * sizeof *names);
    if (!names)
        return roost_error_set(err, ROOST_EINVAL, "%s.flag: unknown flag '%s'", path, key);
    for (size_t i = 0; i < nflags; i++)
        names[i] = flags[i].key ? flags[i].key : "";
    json_fields_choices(names, nflags, key, list, sizeof list);
    free(names);
    return roost_error_set(err, ROOST_EINVAL,
                           "%s.flag: unknown flag '%s' (the document's flags: %s)", path, key,
                           list);
}

static const char *type_label(roost_value_type t)
{
    switch (t) {
    case ROOST_VALUE_BOOLEAN: return "boolean";
    case ROOST_VALUE_STRING: return "string";
    case ROOST_VALUE_NUMBER: return "number";
    case ROOST_VALUE_OBJECT: return "object";
    }
    return "unknown";
}

/* Arms from the flag's variants (flag given) or from the weights (restoring
 * a canonical spec). `control` is the document's control variant. */
static roost_status resolve_arms(const cJSON *obj, const char *path, const char *control,
                                 const struct experiment_flag_info *flags, size_t nflags,
                                 struct experiment_spec *s, roost_error *err)
{
    const cJSON *weights = member(obj, "weights"), *w;
    char p[PATH_MAX_LEN], list[400];
    uint32_t given[EXPERIMENT_MAX_ARMS] = {0};
    bool has[EXPERIMENT_MAX_ARMS] = {false};
    const char *names[EXPERIMENT_MAX_ARMS];
    size_t n = 0;
    roost_status rc;

    pathf(p, sizeof p, "%s.weights", path);
    if (weights && !cJSON_IsObject(weights))
        return roost_error_set(err, ROOST_EINVAL,
                               "%s: expected an object of variant name -> percentage, e.g. "
                               "{\"control\": 50, \"treatment\": 50}",
                               p);
    if (flags) {
        const struct experiment_flag_info *f = NULL;
        for (size_t i = 0; i < nflags && !f; i++)
            if (flags[i].key && strcmp(flags[i].key, s->flag) == 0)
                f = &flags[i];
        if (!f)
            return unknown_flag(path, s->flag, flags, nflags, err);
        if (f->nvariants < 2)
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s.flag: flag '%s' has %zu variant%s; an experiment needs at "
                                   "least two (a control and a treatment)",
                                   path, s->flag, f->nvariants, f->nvariants == 1 ? "" : "s");
        if (f->nvariants > EXPERIMENT_MAX_ARMS)
            return roost_error_set(err, ROOST_ELIMIT,
                                   "%s.flag: flag '%s' has %zu variants; an experiment compares "
                                   "at most %d arms (every variant is an arm)",
                                   path, s->flag, f->nvariants, EXPERIMENT_MAX_ARMS);
        for (size_t i = 0; i < f->nvariants; i++) {
            const char *v = f->variants[i] ? f->variants[i] : "";
            if (strlen(v) > EXPERIMENT_ARM_NAME_MAX)
                return roost_error_set(err, ROOST_EINVAL,
                                       "%s.flag: variant '%.40s...' of flag '%s' is longer than "
                                       "%d bytes: SDKs cannot report outcomes for it as an arm "
                                       "(rename the variant)",
                                       path, v, s->flag, EXPERIMENT_ARM_NAME_MAX);
            names[n++] = v;
        }
        /* The control first, then the treatments in the flag's order. */
        size_t ci = n;
        for (size_t i = 0; i < n; i++)
            if (strcmp(names[i], control) == 0)
                ci = i;
        if (ci == n) {
            quote_list(names, n, list, sizeof list);
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s.control: '%s' is not a variant of flag '%s' (%s; variants: "
                                   "%s)",
                                   path, control, s->flag, type_label(f->type), list);
        }
        const char *c = names[ci];
        memmove(names + 1, names, ci * sizeof *names);
        names[0] = c;
        if (weights) {
            /* Every weight must name a variant: collect all that do not. */
            const char *missing[EXPERIMENT_MAX_ARMS + 1];
            size_t nmissing = 0, more = 0;
            cJSON_ArrayForEach(w, weights)
            {
                bool found = false;
                for (size_t i = 0; i < n && !found; i++)
                    found = strcmp(w->string, names[i]) == 0;
                if (!found) {
                    if (nmissing < EXPERIMENT_MAX_ARMS)
                        missing[nmissing++] = w->string;
                    else
                        more++;
                }
            }
            if (nmissing) {
                char vl[400];
                quote_list(missing, nmissing, list, sizeof list);
                quote_list(names, n, vl, sizeof vl);
                return roost_error_set(err, ROOST_EINVAL,
                                       "%s: arms missing from the flag: %s%s %s not a variant of "
                                       "flag '%s' (its variants: %s)",
                                       p, list, more ? " and more" : "",
                                       nmissing + more == 1 ? "is" : "are", s->flag, vl);
            }
        }
    } else {
        if (!weights)
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s: missing (required when the flag's variants are not known)",
                                   p);
        n = 0;
        bool control_seen = false;
        cJSON_ArrayForEach(w, weights)
        {
            if (n == EXPERIMENT_MAX_ARMS)
                return roost_error_set(err, ROOST_ELIMIT, "%s: more than %d arms", p,
                                       EXPERIMENT_MAX_ARMS);
            if (strlen(w->string) > EXPERIMENT_ARM_NAME_MAX)
                return roost_error_set(err, ROOST_EINVAL, "%s: arm name longer than %d bytes", p,
                                       EXPERIMENT_ARM_NAME_MAX);
            if (strcmp(w->string, control) == 0) {
                control_seen = true;
                memmove(names + 1, names, n * sizeof *names);
                names[0] = w->string;
                n++;
            } else {
                names[n++] = w->string;
            }
        }
        if (!control_seen)
            return roost_error_set(err, ROOST_EINVAL, "%s: no weight for the control '%s'", p,
                                   control);
        if (n < 2)
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s: one arm; an experiment needs a control and a treatment", p);
    }

    /* Weights: given for every arm, or an even split. */
    if (weights) {
        uint32_t sum = 0;
        const char *absent[EXPERIMENT_MAX_ARMS];
        size_t nabsent = 0;
        cJSON_ArrayForEach(w, weights)
        {
            char wp[PATH_MAX_LEN];
            size_t i = 0;
            while (strcmp(names[i], w->string) != 0)
                i++; /* found: every weight names an arm (checked above) */
            pathf(wp, sizeof wp, "%s.%s", p, w->string);
            if (has[i])
                return roost_error_set(err, ROOST_EINVAL, "%s: given twice", wp);
            if ((rc = get_percent(w, wp, &given[i], err)))
                return rc;
            has[i] = true;
            sum += given[i];
        }
        for (size_t i = 0; i < n; i++)
            if (!has[i])
                absent[nabsent++] = names[i];
        if (nabsent) {
            quote_list(absent, nabsent, list, sizeof list);
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s: no weight for variant%s %s of flag '%s' (every variant is "
                                   "an arm: the control and one treatment per other variant; give "
                                   "each a weight, or leave \"weights\" out for an even split)",
                                   p, nabsent == 1 ? "" : "s", list, s->flag);
        }
        if (sum != EXPERIMENT_WHOLE) {
            char got[16];
            experiment_percent_format(sum, got, sizeof got);
            return roost_error_set(err, ROOST_EINVAL, "%s: weights sum to %s, expected 100", p,
                                   got);
        }
    } else {
        /* Even split; the indivisible remainder (100 / 3 = 33.33 + 0.01)
         * goes to the control, so the weights still sum to exactly 100. */
        uint32_t each = EXPERIMENT_WHOLE / (uint32_t)n;
        for (size_t i = 0; i < n; i++)
            given[i] = each;
        given[0] += EXPERIMENT_WHOLE - each * (uint32_t)n;
    }
    for (size_t i = 0; i < n; i++) {
        memcpy(s->arms[i].name, names[i], strlen(names[i]) + 1);
        s->arms[i].weight = given[i];
    }
    s->narms = n;
    return ROOST_OK;
}

/* ------------------------------------------------------------------- parse */

static const char *const top_fields[] = {"hypothesis", "flag",     "control",         "allocation",
                                         "weights",    "unit",     "metrics",         "method",
                                         "minSamplePerArm", "maxDuration", "stopping"};

roost_status experiment_spec_parse(const cJSON *obj, const char *name,
                                   const struct experiment_flag_info *flags, size_t nflags,
                                   struct experiment_spec *out, roost_error *err)
{
    struct experiment_spec *s;
    char path[PATH_MAX_LEN], p[PATH_MAX_LEN];
    char control[EXPERIMENT_ARM_NAME_MAX + 1];
    const cJSON *v;
    roost_status rc;
    bool found;
    int method = 0;
    double d;

    if (!obj || !name || !out || (nflags && !flags))
        return roost_error_set(err, ROOST_EINVAL, "experiment_spec_parse: NULL argument");
    snprintf(path, sizeof path, "experiments.%s", name);
    if (!experiment_name_valid(name))
        return roost_error_set(err, ROOST_EINVAL,
                               "%s: not a valid experiment name (1-%d of A-Z a-z 0-9 . _ -)", path,
                               EXPERIMENT_NAME_MAX);
    if ((rc = need_object(obj, path, err)) ||
        (rc = json_fields_check(obj, path, top_fields, sizeof top_fields / sizeof top_fields[0],
                                err)))
        return rc;

    /* Parse into heap scratch: the struct is large and *out must stay
     * untouched on error. */
    s = calloc(1, sizeof *s);
    if (!s)
        return roost_error_set(err, ROOST_ENOMEM, "%s: out of memory", path);
    memcpy(s->name, name, strlen(name) + 1);

    if ((rc = get_text(obj, "hypothesis", path, true, s->hypothesis, sizeof s->hypothesis, NULL,
                       err)))
        goto out;
    if (!text_valid(s->hypothesis, true)) {
        rc = roost_error_set(err, ROOST_EINVAL,
                             "%s.hypothesis: not valid UTF-8 text (control characters other than "
                             "line breaks and tabs are not allowed)",
                             path);
        goto out;
    }
    if ((rc = get_text(obj, "flag", path, true, s->flag, sizeof s->flag, NULL, err)))
        goto out;
    if ((rc = get_text(obj, "control", path, true, control, sizeof control, NULL, err)))
        goto out;

    s->allocation = EXPERIMENT_WHOLE;
    if ((v = member(obj, "allocation"))) {
        pathf(p, sizeof p, "%s.allocation", path);
        if ((rc = get_percent(v, p, &s->allocation, err)))
            goto out;
    }

    memcpy(s->unit, EXPERIMENT_DEFAULT_UNIT, sizeof EXPERIMENT_DEFAULT_UNIT);
    if ((rc = get_text(obj, "unit", path, false, s->unit, sizeof s->unit, &found, err)))
        goto out;
    if (found && !unit_valid(s->unit)) {
        rc = roost_error_set(err, ROOST_EINVAL,
                             "%s.unit: '%s' is not a context attribute path (1-%d of A-Z a-z 0-9 "
                             "_ - $, segments separated by '.', e.g. \"userId\" or \"user.id\")",
                             path, s->unit, EXPERIMENT_UNIT_MAX);
        goto out;
    }

    pathf(p, sizeof p, "%s.metrics", path);
    if ((rc = parse_metrics(member(obj, "metrics"), p, s, err)))
        goto out;

    if ((rc = get_choice(obj, "method", path, method_names, 2, false, &method, err)))
        goto out;
    s->method = (enum experiment_method)method;

    s->min_sample_per_arm = EXPERIMENT_DEFAULT_MIN_SAMPLE;
    if ((rc = get_number(obj, "minSamplePerArm", path, &d, &found, err)))
        goto out;
    if (found) {
        if (d < 0 || d != floor(d) || d > (double)EXPERIMENT_MAX_SAMPLE) {
            rc = roost_error_set(err, ROOST_EINVAL,
                                 "%s.minSamplePerArm: %g is not a whole number of observations "
                                 "from 0 to 10^12",
                                 path, d);
            goto out;
        }
        s->min_sample_per_arm = (uint64_t)d;
    }
    if (s->method == EXPERIMENT_FIXED && (!found || s->min_sample_per_arm == 0)) {
        rc = roost_error_set(err, ROOST_EINVAL,
                             "%s.minSamplePerArm: %s: a fixed-horizon test is read once, when "
                             "every arm has this many observations of the primary metric "
                             "(`roostctl experiment plan --method fixed` computes it)",
                             path,
                             found ? "must be above 0"
                                   : "missing (required with \"method\": \"fixed\")");
        goto out;
    }

    s->max_duration_ms = EXPERIMENT_DEFAULT_MAX_DURATION_MS;
    if ((v = member(obj, "maxDuration"))) {
        int64_t ms;
        if (!cJSON_IsString(v) || !experiment_duration_parse(v->valuestring, &ms) || ms <= 0 ||
            ms > EXPERIMENT_DURATION_MAX_MS) {
            rc = roost_error_set(err, ROOST_EINVAL,
                                 "%s.maxDuration: expected a duration above 0 and at most 366d, "
                                 "like \"14d\", \"36h\" or \"1d12h\"",
                                 path);
            goto out;
        }
        s->max_duration_ms = ms;
    }

    s->early_win = true;
    s->harm_stop = true;
    if ((v = member(obj, "stopping"))) {
        static const char *const stop_fields[] = {"earlyWin", "harmStop"};
        pathf(p, sizeof p, "%s.stopping", path);
        if ((rc = need_object(v, p, err)) || (rc = json_fields_check(v, p, stop_fields, 2, err)) ||
            (rc = get_bool(v, "earlyWin", p, &s->early_win, err)) ||
            (rc = get_bool(v, "harmStop", p, &s->harm_stop, err)))
            goto out;
    }

    /* Last: everything that depends on the flag. */
    if ((rc = resolve_arms(obj, path, control, flags, nflags, s, err)))
        goto out;

    *out = *s;
out:
    free(s);
    return rc;
}

roost_status experiment_spec_parse_text(const char *json, size_t len, const char *name,
                                        const struct experiment_flag_info *flags, size_t nflags,
                                        struct experiment_spec *out, roost_error *err)
{
    cJSON *root;
    roost_status rc;

    if (!json)
        return roost_error_set(err, ROOST_EINVAL, "experiment_spec_parse_text: NULL argument");
    root = cJSON_ParseWithLength(json, len);
    if (!root) {
        /* cJSON reports allocation failure and syntax errors alike; a
         * stored canonical form is small, so a syntax error is the likely
         * cause. */
        return roost_error_set(err, ROOST_EINVAL, "experiments.%s: not valid JSON",
                               name ? name : "?");
    }
    rc = experiment_spec_parse(root, name, flags, nflags, out, err);
    cJSON_Delete(root);
    return rc;
}

/* --------------------------------------------------------------- canonical */

static cJSON *percent_json(uint32_t hundredths)
{
    /* hundredths / 100 is the double closest to the decimal; cJSON prints
     * it with 15 significant digits, which reads back as the same. */
    return cJSON_CreateNumber((double)hundredths / EXPERIMENT_PERCENT_SCALE);
}

static cJSON *metric_json(const struct experiment_metric *m)
{
    cJSON *o = cJSON_CreateObject();

    if (!o)
        return NULL;
    if (!cJSON_AddStringToObject(o, "name", m->name) ||
        !cJSON_AddStringToObject(o, "metric", m->metric) ||
        !cJSON_AddStringToObject(o, "type", type_names[m->type]) ||
        !cJSON_AddStringToObject(o, "direction", direction_names[m->direction]) ||
        !cJSON_AddNumberToObject(o, "mde", m->mde) ||
        !cJSON_AddStringToObject(o, "mdeType", mde_type_names[m->mde_relative ? 1 : 0]) ||
        !cJSON_AddNumberToObject(o, "alpha", m->alpha) ||
        !cJSON_AddNumberToObject(o, "power", m->power)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

roost_status experiment_spec_to_json(const struct experiment_spec *s, cJSON **out, roost_error *err)
{
    cJSON *o, *weights, *metrics, *sec, *guard, *stop, *m;
    char dur[32];

    if (!s || !out)
        return roost_error_set(err, ROOST_EINVAL, "experiment_spec_to_json: NULL argument");
    o = cJSON_CreateObject();
    if (!o)
        goto nomem;
    if (!cJSON_AddStringToObject(o, "hypothesis", s->hypothesis) ||
        !cJSON_AddStringToObject(o, "flag", s->flag) ||
        !cJSON_AddStringToObject(o, "control", s->arms[0].name) ||
        !cJSON_AddItemToObject(o, "allocation", percent_json(s->allocation)))
        goto nomem;
    if (!(weights = cJSON_AddObjectToObject(o, "weights")))
        goto nomem;
    for (size_t i = 0; i < s->narms; i++)
        if (!cJSON_AddItemToObject(weights, s->arms[i].name, percent_json(s->arms[i].weight)))
            goto nomem;
    if (!cJSON_AddStringToObject(o, "unit", s->unit) ||
        !(metrics = cJSON_AddObjectToObject(o, "metrics")))
        goto nomem;
    if (!(m = metric_json(&s->metrics[0])) || !cJSON_AddItemToObject(metrics, "primary", m))
        goto nomem;
    if (!(sec = cJSON_AddArrayToObject(metrics, "secondary")) ||
        !(guard = cJSON_AddArrayToObject(metrics, "guardrails")))
        goto nomem;
    for (size_t i = 1; i < s->nmetrics; i++) {
        if (!(m = metric_json(&s->metrics[i])) ||
            !cJSON_AddItemToArray(s->metrics[i].role == EXPERIMENT_GUARDRAIL ? guard : sec, m))
            goto nomem;
    }
    experiment_duration_format(s->max_duration_ms, dur, sizeof dur);
    if (!cJSON_AddStringToObject(o, "method", method_names[s->method]) ||
        !cJSON_AddNumberToObject(o, "minSamplePerArm", (double)s->min_sample_per_arm) ||
        !cJSON_AddStringToObject(o, "maxDuration", dur) ||
        !(stop = cJSON_AddObjectToObject(o, "stopping")) ||
        !cJSON_AddBoolToObject(stop, "earlyWin", s->early_win) ||
        !cJSON_AddBoolToObject(stop, "harmStop", s->harm_stop))
        goto nomem;
    *out = o;
    return ROOST_OK;
nomem:
    cJSON_Delete(o);
    return roost_error_set(err, ROOST_ENOMEM, "experiments.%s: out of memory", s->name);
}

roost_status experiment_spec_canonical(const struct experiment_spec *spec, char **json,
                                       size_t *len, roost_error *err)
{
    cJSON *o;
    char *text;
    roost_status rc;

    if (!spec || !json)
        return roost_error_set(err, ROOST_EINVAL, "experiment_spec_canonical: NULL argument");
    if ((rc = experiment_spec_to_json(spec, &o, err)))
        return rc;
    text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text)
        return roost_error_set(err, ROOST_ENOMEM, "experiments.%s: out of memory", spec->name);
    /* cJSON allocates with malloc unless hooks were installed; hand the
     * caller memory it can free() whatever cJSON uses. */
    size_t n = strlen(text);
    char *copy = malloc(n + 1);
    if (!copy) {
        cJSON_free(text);
        return roost_error_set(err, ROOST_ENOMEM, "experiments.%s: out of memory", spec->name);
    }
    memcpy(copy, text, n + 1);
    cJSON_free(text);
    *json = copy;
    if (len)
        *len = n;
    return ROOST_OK;
}

/* ------------------------------------------------------------------ lookup */

int experiment_spec_arm(const struct experiment_spec *spec, const char *name)
{
    for (size_t i = 0; i < spec->narms; i++)
        if (strcmp(spec->arms[i].name, name) == 0)
            return (int)i;
    return -1;
}

int experiment_spec_metric(const struct experiment_spec *spec, const char *name)
{
    for (size_t i = 0; i < spec->nmetrics; i++)
        if (strcmp(spec->metrics[i].name, name) == 0)
            return (int)i;
    return -1;
}

const char *experiment_method_name(enum experiment_method m)
{
    return (unsigned)m < 2 ? method_names[m] : "?";
}

const char *experiment_metric_type_name(enum experiment_metric_type t)
{
    return (unsigned)t < 2 ? type_names[t] : "?";
}

const char *experiment_direction_name(enum experiment_direction d)
{
    return (unsigned)d < 2 ? direction_names[d] : "?";
}

const char *experiment_role_name(enum experiment_role r)
{
    return (unsigned)r < 3 ? role_names[r] : "?";
}
