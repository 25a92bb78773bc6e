/* The analysis as JSON, and the sequential state read back from it.
 *
 * One JSON shape serves three readers: `roostctl experiment results`
 * (table or --json), decision records (the numbers behind a conclusion are
 * this object, verbatim) and the controller's next look (the "sequential"
 * entries carry the always-valid tests' state). Keeping the state inside
 * the record means the last decision is all a restarted roostd needs to
 * continue an experiment where it was.
 *
 * Numbers: cJSON prints doubles with up to 17 significant digits when 15
 * do not read back exactly, so a state read back from the JSON is the same
 * bits. Non-finite values cannot be JSON; they never reach here except as
 * "unknown", which is null.
 */
#include "server/experiment/analysis.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ output */

/* A number, or null when it is not finite. */
static bool add_num(cJSON *o, const char *key, double v)
{
    return isfinite(v) ? cJSON_AddNumberToObject(o, key, v) != NULL
                       : cJSON_AddNullToObject(o, key) != NULL;
}

static bool add_interval(cJSON *o, const char *key, const roost_stats_interval *iv, bool present)
{
    cJSON *i;

    if (!present)
        return cJSON_AddNullToObject(o, key) != NULL;
    if (!(i = cJSON_AddObjectToObject(o, key)))
        return false;
    return add_num(i, "estimate", iv->estimate) && add_num(i, "se", iv->se) &&
           add_num(i, "lo", iv->lo) && add_num(i, "hi", iv->hi);
}

static bool add_comparison(cJSON *list, const struct experiment_spec *s, size_t arm,
                           const struct experiment_comparison *c,
                           const struct experiment_seq_state *seq)
{
    cJSON *o = cJSON_CreateObject(), *n, *q;

    if (!o || !cJSON_AddItemToArray(list, o))
        return cJSON_Delete(o), false;
    if (!cJSON_AddStringToObject(o, "arm", s->arms[arm].name) ||
        !cJSON_AddStringToObject(o, "outcome", experiment_outcome_name(c->outcome)) ||
        !cJSON_AddBoolToObject(o, "testable", c->testable) ||
        !cJSON_AddBoolToObject(o, "provisional", c->provisional) ||
        !cJSON_AddBoolToObject(o, "significant", c->significant) ||
        !add_interval(o, "absolute", &c->absolute, c->has_effect) ||
        !add_interval(o, "relative", &c->relative, c->has_effect && c->has_relative) ||
        !add_num(o, "p", c->p) || !add_num(o, "pAdjusted", c->p_adjusted) ||
        !add_num(o, "mdeAbsolute", c->mde_absolute > 0 ? c->mde_absolute : NAN) ||
        !add_num(o, "power", c->power >= 0 ? c->power : NAN))
        return false;
    if (c->needed_control) {
        if (!(n = cJSON_AddObjectToObject(o, "needed")) ||
            !cJSON_AddNumberToObject(n, "control", (double)c->needed_control) ||
            !cJSON_AddNumberToObject(n, "treatment", (double)c->needed_treatment))
            return false;
    } else if (!cJSON_AddNullToObject(o, "needed")) {
        return false;
    }
    if (seq->started) {
        const roost_stats_msprt *t = &seq->test;
        if (!(q = cJSON_AddObjectToObject(o, "sequential")) || !add_num(q, "tau2", t->tau2) ||
            !add_num(q, "alpha", t->alpha) || !add_num(q, "theta0", t->theta0) ||
            !add_num(q, "p", t->p) || !add_num(q, "lo", t->lo) || !add_num(q, "hi", t->hi) ||
            !cJSON_AddNumberToObject(q, "looks", (double)t->looks))
            return false;
    }
    return true;
}

static bool add_metric(cJSON *list, const struct experiment_spec *s, size_t mi,
                       const struct experiment_analysis *a)
{
    const struct experiment_metric *m = &s->metrics[mi];
    const struct experiment_metric_result *r = &a->metrics[mi];
    cJSON *o = cJSON_CreateObject(), *arms, *cmps;

    if (!o || !cJSON_AddItemToArray(list, o))
        return cJSON_Delete(o), false;
    if (!cJSON_AddStringToObject(o, "name", m->name) ||
        !cJSON_AddStringToObject(o, "metric", m->metric) ||
        !cJSON_AddStringToObject(o, "role", experiment_role_name(m->role)) ||
        !cJSON_AddStringToObject(o, "type", experiment_metric_type_name(m->type)) ||
        !cJSON_AddStringToObject(o, "direction", experiment_direction_name(m->direction)) ||
        !add_num(o, "mde", m->mde) ||
        !cJSON_AddStringToObject(o, "mdeType", m->mde_relative ? "relative" : "absolute") ||
        !add_num(o, "alpha", m->alpha) || !add_num(o, "power", m->power) ||
        !cJSON_AddStringToObject(o, "test", experiment_test_name(r->test)) ||
        !cJSON_AddStringToObject(o, "adjustment", experiment_adjustment_name(r->adjustment)) ||
        !cJSON_AddNumberToObject(o, "familySize", (double)r->family_size) ||
        !add_num(o, "planningAlpha", r->planning_alpha) ||
        !(arms = cJSON_AddArrayToObject(o, "arms")))
        return false;
    for (size_t i = 0; i < s->narms; i++) {
        const struct experiment_arm_stats *st = &r->arms[i];
        cJSON *e = cJSON_CreateObject();
        if (!e || !cJSON_AddItemToArray(arms, e))
            return cJSON_Delete(e), false;
        if (!cJSON_AddStringToObject(e, "name", s->arms[i].name) ||
            !cJSON_AddNumberToObject(e, "n", (double)st->n) ||
            (m->type == EXPERIMENT_BINOMIAL &&
             !cJSON_AddNumberToObject(e, "successes", (double)st->successes)) ||
            !add_num(e, "value", st->n ? st->value : NAN) ||
            !add_num(e, "variance", st->n ? st->var : NAN))
            return false;
    }
    if (!(cmps = cJSON_AddArrayToObject(o, "comparisons")))
        return false;
    for (size_t arm = 1; arm < s->narms; arm++)
        if (!add_comparison(cmps, s, arm, &r->cmp[arm], &a->state.seq[mi][arm]))
            return false;
    return true;
}

roost_status experiment_analysis_to_json(const struct experiment_spec *s,
                                         const struct experiment_analysis *a, cJSON **out,
                                         roost_error *err)
{
    cJSON *o, *arms, *srm, *metrics, *v, *reasons;

    if (!s || !a || !out)
        return roost_error_set(err, ROOST_EINVAL, "experiment_analysis_to_json: NULL argument");
    if (!(o = cJSON_CreateObject()))
        goto nomem;
    if (!cJSON_AddStringToObject(o, "experiment", s->name) ||
        !cJSON_AddStringToObject(o, "flag", s->flag) ||
        !cJSON_AddStringToObject(o, "method", experiment_method_name(s->method)) ||
        !cJSON_AddNumberToObject(o, "looks", (double)a->looks) ||
        !cJSON_AddNumberToObject(o, "elapsedMs", (double)a->elapsed_ms) ||
        !cJSON_AddNumberToObject(o, "minSamplePerArm", (double)s->min_sample_per_arm) ||
        !cJSON_AddBoolToObject(o, "minSampleReached", a->min_sample_reached) ||
        !cJSON_AddNumberToObject(o, "maxDurationMs", (double)s->max_duration_ms) ||
        !cJSON_AddBoolToObject(o, "maxDurationReached", a->max_duration_reached) ||
        !(arms = cJSON_AddArrayToObject(o, "arms")))
        goto nomem;
    for (size_t i = 0; i < s->narms; i++) {
        cJSON *e = cJSON_CreateObject();
        if (!e || !cJSON_AddItemToArray(arms, e)) {
            cJSON_Delete(e);
            goto nomem;
        }
        if (!cJSON_AddStringToObject(e, "name", s->arms[i].name) ||
            !cJSON_AddBoolToObject(e, "control", i == 0) ||
            !cJSON_AddNumberToObject(e, "weight", s->arms[i].weight / 100.0) ||
            !cJSON_AddNumberToObject(e, "exposures", (double)a->exposures[i]))
            goto nomem;
    }
    if (!(srm = cJSON_AddObjectToObject(o, "srm")) || !add_num(srm, "chi2", a->srm.chi2) ||
        !add_num(srm, "df", a->srm.df) || !add_num(srm, "p", a->srm.p) ||
        !add_num(srm, "alpha", EXPERIMENT_SRM_ALPHA) ||
        !cJSON_AddBoolToObject(srm, "mismatch", a->srm_mismatch) ||
        !(metrics = cJSON_AddArrayToObject(o, "metrics")))
        goto nomem;
    for (size_t mi = 0; mi < s->nmetrics; mi++)
        if (!add_metric(metrics, s, mi, a))
            goto nomem;
    if (!(v = cJSON_AddObjectToObject(o, "verdict")) ||
        !cJSON_AddStringToObject(v, "action", experiment_action_name(a->action)) ||
        !cJSON_AddStringToObject(v, "conclusion", experiment_conclusion_name(a->conclusion)) ||
        !(a->ship_arm > 0 ? cJSON_AddStringToObject(v, "arm", s->arms[a->ship_arm].name)
                          : cJSON_AddNullToObject(v, "arm")) ||
        !cJSON_AddBoolToObject(v, "earlyStop", a->early_stop) ||
        !cJSON_AddBoolToObject(v, "harm", a->harm) ||
        !cJSON_AddBoolToObject(v, "srmMismatch", a->srm_mismatch) ||
        !(reasons = cJSON_AddArrayToObject(v, "reasons")))
        goto nomem;
    for (size_t i = 0; i < a->nreasons; i++)
        if (!cJSON_AddItemToArray(reasons, cJSON_CreateString(a->reasons[i])))
            goto nomem;
    *out = o;
    return ROOST_OK;
nomem:
    cJSON_Delete(o);
    return roost_error_set(err, ROOST_ENOMEM, "experiments.%s: out of memory", s->name);
}

/* ------------------------------------------------------------------- input */

static bool read_num(const cJSON *o, const char *key, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return false;
    *out = v->valuedouble;
    return true;
}

static roost_status read_seq(const cJSON *q, const char *path, struct experiment_seq_state *out,
                             roost_error *err)
{
    roost_stats_msprt t;
    double looks;

    if (!cJSON_IsObject(q) || !read_num(q, "tau2", &t.tau2) || !read_num(q, "alpha", &t.alpha) ||
        !read_num(q, "theta0", &t.theta0) || !read_num(q, "p", &t.p) ||
        !read_num(q, "lo", &t.lo) || !read_num(q, "hi", &t.hi) || !read_num(q, "looks", &looks))
        return roost_error_set(err, ROOST_EINVAL,
                               "%s: expected {tau2, alpha, theta0, p, lo, hi, looks} numbers",
                               path);
    if (!(t.tau2 > 0) || !(t.alpha > 0 && t.alpha < 1) || !(t.p >= 0 && t.p <= 1) ||
        !(t.lo <= t.hi) || !(looks >= 1 && looks == floor(looks) && looks < 9007199254740992.0))
        return roost_error_set(err, ROOST_EINVAL,
                               "%s: not the state of an always-valid test (tau2 %g, alpha %g, p "
                               "%g, interval [%g, %g], looks %g)",
                               path, t.tau2, t.alpha, t.p, t.lo, t.hi, looks);
    t.looks = (uint64_t)looks;
    out->started = true;
    out->test = t;
    return ROOST_OK;
}

roost_status experiment_state_from_json(const struct experiment_spec *s, const cJSON *analysis,
                                        struct experiment_state *out, roost_error *err)
{
    struct experiment_state *st;
    const cJSON *metrics, *m;
    double looks;
    roost_status rc = ROOST_OK;
    size_t mi_json = 0;

    if (!s || !analysis || !out)
        return roost_error_set(err, ROOST_EINVAL, "experiment_state_from_json: NULL argument");
    metrics = cJSON_GetObjectItemCaseSensitive(analysis, "metrics");
    if (!cJSON_IsObject(analysis) || !read_num(analysis, "looks", &looks) ||
        !(looks >= 0 && looks == floor(looks) && looks < 9007199254740992.0) ||
        !cJSON_IsArray(metrics))
        return roost_error_set(err, ROOST_EINVAL,
                               "analysis: not an experiment analysis (expected \"looks\" and "
                               "\"metrics\")");
    st = calloc(1, sizeof *st);
    if (!st)
        return roost_error_set(err, ROOST_ENOMEM, "analysis: out of memory");
    st->looks = (uint64_t)looks;
    cJSON_ArrayForEach(m, metrics)
    {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(m, "name");
        const cJSON *cmps = cJSON_GetObjectItemCaseSensitive(m, "comparisons"), *c;
        size_t ci = 0;
        int mi = cJSON_IsString(name) ? experiment_spec_metric(s, name->valuestring) : -1;

        mi_json++;
        if (mi < 0 || !cJSON_IsArray(cmps))
            continue; /* a metric the spec no longer has starts nothing */
        cJSON_ArrayForEach(c, cmps)
        {
            const cJSON *arm = cJSON_GetObjectItemCaseSensitive(c, "arm");
            const cJSON *q = cJSON_GetObjectItemCaseSensitive(c, "sequential");
            int ai = cJSON_IsString(arm) ? experiment_spec_arm(s, arm->valuestring) : -1;
            char path[160];

            ci++;
            if (ai < 1 || !q)
                continue;
            snprintf(path, sizeof path, "analysis.metrics[%zu].comparisons[%zu].sequential",
                     mi_json - 1, ci - 1);
            if ((rc = read_seq(q, path, &st->seq[mi][ai], err)))
                goto out;
        }
    }
    *out = *st;
out:
    free(st);
    return rc;
}
