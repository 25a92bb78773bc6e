/* Decision records: the JSON text and the one-line summary of a decision.
 *
 * Built here, not by the controller, so that roostd and the virtual-time
 * simulator write byte-identical records for the same decision, and a
 * record read back in six months says what was decided, by whom, and the
 * numbers behind it (docs/rollouts.md, "Decision records").
 *
 * Written with snprintf into the decision's fixed buffer (no allocation).
 * Numbers use %.6g: enough to recompute a verdict by hand, short enough to
 * read; integers are exact; NaN and infinities are null. If a record would
 * not fit ROLLOUT_RECORD_MAX (16 checks with long texts do not come close),
 * the checks are left out and "truncated": true says so, rather than
 * storing invalid JSON.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "server/rollout/logic_internal.h"

void rollout_fmt(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;

    if (!cap)
        return;
    va_start(ap, fmt);
    vsnprintf(out, cap, fmt, ap);
    va_end(ap);
}

void rollout_appendf(char *out, size_t cap, size_t *used, const char *fmt, ...)
{
    va_list ap;
    int w;

    if (*used >= cap)
        return;
    va_start(ap, fmt);
    w = vsnprintf(out + *used, cap - *used, fmt, ap);
    va_end(ap);
    if (w < 0)
        return;
    *used = (size_t)w >= cap - *used ? cap : *used + (size_t)w;
}

/* ---- a tiny JSON writer over a fixed buffer ----------------------------- */

struct jw {
    char *buf;
    size_t cap, len;
    bool overflow;
    bool need_comma;
};

static void jw_raw(struct jw *j, const char *s, size_t n)
{
    if (j->overflow || j->cap - j->len <= n) {
        j->overflow = true;
        return;
    }
    memcpy(j->buf + j->len, s, n);
    j->len += n;
    j->buf[j->len] = '\0';
}

static void jw_lit(struct jw *j, const char *s)
{
    jw_raw(j, s, strlen(s));
}

static void jw_fmt(struct jw *j, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void jw_fmt(struct jw *j, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    int w;

    va_start(ap, fmt);
    w = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (w < 0 || (size_t)w >= sizeof tmp) {
        j->overflow = true;
        return;
    }
    jw_raw(j, tmp, (size_t)w);
}

static void jw_string(struct jw *j, const char *s)
{
    jw_lit(j, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            char e[2] = {'\\', (char)*p};
            jw_raw(j, e, 2);
        } else if (*p < 0x20) {
            jw_fmt(j, "\\u%04x", *p);
        } else {
            jw_raw(j, (const char *)p, 1);
        }
    }
    jw_lit(j, "\"");
}

static void jw_sep(struct jw *j)
{
    if (j->need_comma)
        jw_lit(j, ",");
    j->need_comma = true;
}

static void jw_key(struct jw *j, const char *k)
{
    jw_sep(j);
    jw_string(j, k);
    jw_lit(j, ":");
    j->need_comma = false;
}

static void jw_open(struct jw *j, const char *k, char c)
{
    if (k)
        jw_key(j, k);
    else
        jw_sep(j);
    jw_raw(j, &c, 1);
    j->need_comma = false;
}

static void jw_close(struct jw *j, char c)
{
    jw_raw(j, &c, 1);
    j->need_comma = true;
}

static void kv_str(struct jw *j, const char *k, const char *v)
{
    jw_key(j, k);
    jw_string(j, v);
    j->need_comma = true;
}

/* An array element or (after jw_key) a value. */
static void jw_numval(struct jw *j, double v)
{
    if (j->need_comma)
        jw_lit(j, ",");
    if (isfinite(v))
        jw_fmt(j, "%.6g", v);
    else
        jw_lit(j, "null");
    j->need_comma = true;
}

static void kv_num(struct jw *j, const char *k, double v)
{
    jw_key(j, k);
    jw_numval(j, v);
}

static void kv_i64(struct jw *j, const char *k, int64_t v)
{
    jw_key(j, k);
    jw_fmt(j, "%lld", (long long)v);
    j->need_comma = true;
}

static void kv_u64(struct jw *j, const char *k, uint64_t v)
{
    jw_key(j, k);
    jw_fmt(j, "%llu", (unsigned long long)v);
    j->need_comma = true;
}

static void kv_bool(struct jw *j, const char *k, bool v)
{
    jw_key(j, k);
    jw_lit(j, v ? "true" : "false");
    j->need_comma = true;
}

static void kv_dur(struct jw *j, const char *k, int64_t ms)
{
    char b[48];
    rollout_duration_format(ms, b, sizeof b);
    kv_str(j, k, b);
}

/* ---- names -------------------------------------------------------------- */

const char *rollout_event_name(enum rollout_event e)
{
    switch (e) {
    case ROLLOUT_EV_NONE:
        return "none";
    case ROLLOUT_EV_STARTED:
        return "started";
    case ROLLOUT_EV_STEP:
        return "step";
    case ROLLOUT_EV_WEIGHT:
        return "weight";
    case ROLLOUT_EV_ANALYSIS:
        return "analysis";
    case ROLLOUT_EV_PAUSED:
        return "paused";
    case ROLLOUT_EV_RESUMED:
        return "resumed";
    case ROLLOUT_EV_AWAITING_CONFIRMATION:
        return "awaiting_confirmation";
    case ROLLOUT_EV_PROMOTED:
        return "promoted";
    case ROLLOUT_EV_ROLLED_BACK:
        return "rolled_back";
    }
    return "?";
}

const char *rollout_verdict_name(enum rollout_verdict v)
{
    switch (v) {
    case ROLLOUT_VERDICT_NONE:
        return "none";
    case ROLLOUT_VERDICT_PASSED:
        return "passed";
    case ROLLOUT_VERDICT_FAILED:
        return "failed";
    case ROLLOUT_VERDICT_INCONCLUSIVE:
        return "inconclusive";
    case ROLLOUT_VERDICT_ERROR:
        return "error";
    case ROLLOUT_VERDICT_SKIPPED:
        return "skipped";
    }
    return "?";
}

static const char *const hook_event_names[] = {"pre-rollout", "step",     "confirm-promotion",
                                               "promotion",   "rollback", "event"};

static const char *step_kind_name(enum rollout_step_kind k)
{
    switch (k) {
    case ROLLOUT_STEP_SET_WEIGHT:
        return "setWeight";
    case ROLLOUT_STEP_PAUSE:
        return "pause";
    case ROLLOUT_STEP_ANALYSIS:
        return "analysis";
    }
    return "?";
}

/* ---- the record --------------------------------------------------------- */

/* The check that explains a run: the first failed, else the first error,
 * else the first inconclusive, else the first one. */
static size_t decisive_check(const struct rollout_decision *d)
{
    static const enum rollout_verdict order[] = {ROLLOUT_VERDICT_FAILED, ROLLOUT_VERDICT_ERROR,
                                                 ROLLOUT_VERDICT_INCONCLUSIVE};
    for (size_t o = 0; o < 3; o++) {
        for (size_t i = 0; i < d->nchecks; i++) {
            if (d->checks[i].verdict == order[o])
                return i;
        }
    }
    return 0;
}

static void write_check(struct jw *j, const struct rollout_check *c,
                        const struct rollout_check_result *r)
{
    jw_open(j, NULL, '{');
    kv_str(j, "name", c->name);
    kv_str(j, "type", rollout_check_type_name(c->type));
    kv_str(j, "metric", c->metric);
    kv_str(j, "stat", c->stat_name);
    kv_str(j, "verdict", rollout_verdict_name(r->verdict));
    if (r->no_data)
        kv_bool(j, "noData", true);
    jw_open(j, "window", '{');
    kv_i64(j, "from", r->from_ms);
    kv_i64(j, "to", r->to_ms);
    jw_close(j, '}');
    jw_open(j, "canary", '{');
    kv_num(j, "value", r->canary);
    kv_u64(j, "samples", r->canary_samples);
    jw_close(j, '}');
    if (c->type != ROLLOUT_CHECK_BURN_RATE) {
        jw_open(j, "baseline", '{');
        kv_num(j, "value", r->baseline);
        kv_u64(j, "samples", r->baseline_samples);
        jw_close(j, '}');
    }
    kv_u64(j, "minSamples", c->min_samples);
    switch (c->type) {
    case ROLLOUT_CHECK_THRESHOLD:
        if (c->has_min)
            kv_num(j, "min", c->min);
        if (c->has_max)
            kv_num(j, "max", c->max);
        break;
    case ROLLOUT_CHECK_RELATIVE:
        kv_num(j, "maxRatio", c->max_ratio);
        if (c->has_max_absolute)
            kv_num(j, "maxAbsolute", c->max_absolute);
        kv_num(j, "bound", r->bound);
        break;
    case ROLLOUT_CHECK_COMPARE:
        kv_num(j, "margin", c->margin);
        kv_num(j, "alpha", c->alpha);
        kv_str(j, "direction",
               c->direction == ROLLOUT_LOWER_IS_BETTER ? "lower_is_better" : "higher_is_better");
        kv_num(j, "effect", r->effect);
        if (r->rate_ratio) {
            /* canary and baseline above are what the e-process counted
             * since the start; at this weight is what passing needs. */
            kv_str(j, "test", "rate_ratio");
            kv_num(j, "ratio", r->ratio);
            kv_num(j, "eValue", r->e_value);
            jw_open(j, "atWeight", '{');
            kv_num(j, "canary", r->weight_canary);
            kv_u64(j, "canarySamples", r->weight_canary_samples);
            kv_num(j, "baseline", r->weight_baseline);
            kv_u64(j, "baselineSamples", r->weight_baseline_samples);
            jw_close(j, '}');
        } else {
            kv_str(j, "test", c->stat == ROLLOUT_STAT_QUANTILE ? "exceedance" : "difference");
            jw_open(j, "ci", '[');
            jw_numval(j, r->ci_lo);
            jw_numval(j, r->ci_hi);
            jw_close(j, ']');
        }
        kv_num(j, "p", r->p_value);
        break;
    case ROLLOUT_CHECK_BURN_RATE:
        kv_num(j, "slo", c->slo);
        jw_open(j, "windows", '[');
        for (size_t i = 0; i < c->nwindows; i++) {
            jw_open(j, NULL, '{');
            kv_dur(j, "long", c->windows[i].long_ms);
            kv_dur(j, "short", c->windows[i].short_ms);
            kv_num(j, "factor", c->windows[i].factor);
            kv_num(j, "burnLong", r->burn_long[i]);
            kv_num(j, "burnShort", r->burn_short[i]);
            jw_close(j, '}');
        }
        jw_close(j, ']');
        break;
    }
    kv_str(j, "text", r->text);
    jw_close(j, '}');
}

static void write_record(struct jw *j, const struct rollout_spec *spec,
                         const struct rollout_state *before, const struct rollout_state *after,
                         const char *actor, const char *reason, const struct rollout_decision *d,
                         bool with_checks)
{
    (void)before;
    jw_open(j, NULL, '{');
    kv_str(j, "rollout", spec->name);
    kv_u64(j, "seq", d->seq);
    kv_u64(j, "attempt", after->attempt);
    kv_i64(j, "at", d->at_ms);
    kv_str(j, "by", actor);
    kv_str(j, "event", rollout_event_name(d->event));
    kv_str(j, "summary", d->summary);
    if (reason && *reason)
        kv_str(j, "reason", reason);
    jw_open(j, "phase", '{');
    kv_str(j, "from", rollout_phase_name(d->phase_from));
    kv_str(j, "to", rollout_phase_name(d->phase_to));
    jw_close(j, '}');
    jw_open(j, "step", '{');
    kv_u64(j, "index", d->step);
    kv_u64(j, "of", spec->nsteps);
    if (d->step < spec->nsteps)
        kv_str(j, "kind", step_kind_name(spec->steps[d->step].kind));
    jw_close(j, '}');
    jw_open(j, "weight", '{');
    kv_u64(j, "from", d->weight_from);
    kv_u64(j, "to", d->weight_to);
    jw_close(j, '}');
    if (d->event == ROLLOUT_EV_PAUSED || d->event == ROLLOUT_EV_AWAITING_CONFIRMATION) {
        jw_open(j, "pause", '{');
        kv_str(j, "reason", rollout_pause_reason_name(d->pause_reason));
        if (after->detail[0])
            kv_str(j, "detail", after->detail);
        jw_close(j, '}');
    }
    if (d->event == ROLLOUT_EV_ROLLED_BACK) {
        jw_open(j, "end", '{');
        kv_str(j, "reason", rollout_end_reason_name(d->end_reason));
        if (after->detail[0])
            kv_str(j, "detail", after->detail);
        jw_close(j, '}');
    }
    if (d->has_analysis) {
        jw_open(j, "analysis", '{');
        kv_str(j, "verdict", rollout_verdict_name(d->verdict));
        kv_u64(j, "run", after->runs);
        kv_u64(j, "passed", after->passed);
        if (d->step < spec->nsteps && spec->steps[d->step].kind == ROLLOUT_STEP_ANALYSIS)
            kv_u64(j, "needed", spec->steps[d->step].count);
        kv_u64(j, "failures", after->failures);
        kv_u64(j, "failureLimit", spec->analysis.failure_limit);
        kv_u64(j, "inconclusive", after->inconclusive);
        kv_u64(j, "inconclusiveLimit", spec->analysis.inconclusive_limit);
        kv_u64(j, "consecutiveErrors", after->consecutive_errors);
        kv_u64(j, "consecutiveErrorLimit", spec->analysis.consecutive_error_limit);
        kv_bool(j, "stepDone", d->step_done);
        if (with_checks) {
            jw_open(j, "checks", '[');
            for (size_t i = 0; i < d->nchecks; i++)
                write_check(j, &spec->analysis.checks[i], &d->checks[i]);
            jw_close(j, ']');
        } else {
            kv_bool(j, "truncated", true);
        }
        jw_close(j, '}');
    }
    jw_open(j, "hooks", '[');
    for (size_t i = 0; i < sizeof hook_event_names / sizeof hook_event_names[0]; i++) {
        if (d->hooks & (1u << i)) {
            jw_sep(j);
            jw_string(j, hook_event_names[i]);
        }
    }
    jw_close(j, ']');
    kv_str(j, "service", spec->service);
    kv_str(j, "baseline", spec->baseline);
    kv_str(j, "canary", spec->canary);
    jw_close(j, '}');
}

static void write_summary(const struct rollout_spec *spec, const struct rollout_state *before,
                          const struct rollout_state *after, const char *actor, const char *reason,
                          struct rollout_decision *d)
{
    char *s = d->summary;
    size_t cap = sizeof d->summary, used = 0;
    bool human = strcmp(actor, "controller") != 0;

    switch (d->event) {
    case ROLLOUT_EV_NONE:
        break;
    case ROLLOUT_EV_STARTED:
        rollout_appendf(s, cap, &used, "started attempt %u: %s %s -> %s in %zu steps",
                        after->attempt, spec->service, spec->baseline, spec->canary, spec->nsteps);
        break;
    case ROLLOUT_EV_WEIGHT:
        rollout_appendf(s, cap, &used, "step %u setWeight %u: weight %u -> %u", d->step,
                        d->weight_to, d->weight_from, d->weight_to);
        break;
    case ROLLOUT_EV_STEP: {
        const struct rollout_step *st = &spec->steps[d->step];
        char dur[48];
        if (reason && *reason) {
            rollout_appendf(s, cap, &used, "step %u %s: %s", d->step, step_kind_name(st->kind), reason);
        } else if (st->kind == ROLLOUT_STEP_ANALYSIS) {
            rollout_duration_format(spec->analysis.interval_ms, dur, sizeof dur);
            rollout_appendf(s, cap, &used, "step %u analysis: %u passed runs, one every %s", d->step,
                            st->count, dur);
        } else {
            rollout_duration_format(st->duration_ms, dur, sizeof dur);
            rollout_appendf(s, cap, &used, "step %u pause %s", d->step, dur);
        }
        break;
    }
    case ROLLOUT_EV_ANALYSIS:
        rollout_appendf(s, cap, &used, "analysis %s", d->verdict == ROLLOUT_VERDICT_FAILED ? "FAILED" : rollout_verdict_name(d->verdict));
        if (d->nchecks)
            rollout_appendf(s, cap, &used, "  %s", d->checks[decisive_check(d)].text);
        if (d->step_done)
            rollout_appendf(s, cap, &used, "; step %u done", d->step);
        break;
    case ROLLOUT_EV_PAUSED:
        rollout_appendf(s, cap, &used, "paused at step %u: %s", d->step, reason ? reason : "");
        break;
    case ROLLOUT_EV_RESUMED:
        rollout_appendf(s, cap, &used, "resumed at step %u: %s", d->step, reason ? reason : "");
        break;
    case ROLLOUT_EV_AWAITING_CONFIRMATION:
        rollout_appendf(s, cap, &used, "every step done at weight %u; waiting for %s",
                        after->weight,
                        (spec->hook_events & HOOK_CONFIRM_PROMOTION) ? "the confirm-promotion hook or a person's promote"
                                                                     : "a person's promote");
        break;
    case ROLLOUT_EV_PROMOTED:
        rollout_appendf(s, cap, &used, "promoted: %s %s at weight %u%s%s", spec->service,
                        spec->canary, after->weight, human ? " by " : "", human ? actor : "");
        break;
    case ROLLOUT_EV_ROLLED_BACK:
        rollout_appendf(s, cap, &used, "rolled back: weight %u -> 0: %s", d->weight_from,
                        reason ? reason : "");
        break;
    }
    (void)before;
}

void rollout_record_build(const struct rollout_spec *spec, const struct rollout_state *before,
                          const struct rollout_state *after, const char *actor, const char *reason,
                          struct rollout_decision *d)
{
    struct jw j = {d->record, sizeof d->record, 0, false, false};

    d->summary[0] = '\0';
    d->record[0] = '\0';
    d->record_len = 0;
    if (d->event == ROLLOUT_EV_NONE)
        return;
    write_summary(spec, before, after, actor, reason, d);
    write_record(&j, spec, before, after, actor, reason, d, true);
    if (j.overflow) {
        j.len = 0;
        j.overflow = false;
        j.need_comma = false;
        write_record(&j, spec, before, after, actor, reason, d, false);
    }
    if (j.overflow) {
        /* Cannot happen with the limits in spec.h; keep the record valid. */
        j.len = 0;
        j.overflow = false;
        j.need_comma = false;
        jw_open(&j, NULL, '{');
        kv_str(&j, "rollout", spec->name);
        kv_u64(&j, "seq", d->seq);
        kv_str(&j, "event", rollout_event_name(d->event));
        kv_bool(&j, "truncated", true);
        jw_close(&j, '}');
    }
    d->record_len = j.len;
}
