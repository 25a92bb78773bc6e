/* The flag rule that implements an experiment's split, and the check that a
 * compiled flag implements it. See split.h for the rule and why it looks
 * the way it does. */
#include "server/experiment/split.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "server/stats/stats.h"

/* ---------------------------------------------------------------- the rule */

/* {"cat": ["<experiment>/<layer>/", {"var": unit}]} */
static cJSON *bucketing_key(const struct experiment_spec *s, const char *layer)
{
    char salt[EXPERIMENT_NAME_MAX + 16];
    cJSON *cat = cJSON_CreateObject(), *args, *var;

    snprintf(salt, sizeof salt, "%s/%s/", s->name, layer);
    if (!cat || !(args = cJSON_AddArrayToObject(cat, "cat")) ||
        !cJSON_AddItemToArray(args, cJSON_CreateString(salt)) ||
        !(var = cJSON_CreateObject()) || !cJSON_AddItemToArray(args, var) ||
        !cJSON_AddStringToObject(var, "var", s->unit)) {
        cJSON_Delete(cat);
        return NULL;
    }
    return cat;
}

/* ["name", weight] */
static bool add_bucket(cJSON *args, const char *name, uint32_t weight)
{
    cJSON *b = cJSON_CreateArray();

    if (!b || !cJSON_AddItemToArray(args, b))
        return cJSON_Delete(b), false;
    return cJSON_AddItemToArray(b, cJSON_CreateString(name)) &&
           cJSON_AddItemToArray(b, cJSON_CreateNumber(weight));
}

roost_status experiment_split_rule(const struct experiment_spec *s, cJSON **out, roost_error *err)
{
    cJSON *rule = NULL, *if_args, *cond, *arms, *arms_args, *var;
    uint32_t sum = 0;

    if (!s || !out)
        return roost_error_set(err, ROOST_EINVAL, "experiment_split_rule: NULL argument");
    for (size_t i = 0; i < s->narms; i++)
        sum += s->arms[i].weight;
    if (s->narms < 2 || sum != EXPERIMENT_WHOLE || s->allocation == 0 ||
        s->allocation > EXPERIMENT_WHOLE)
        return roost_error_set(err, ROOST_EINVAL,
                               "experiments.%s: not a parsed spec (arms or weights invalid)",
                               s->name);

    /* Arms: {"fractional": [key, ["control", W0], ...]} */
    if (!(arms = cJSON_CreateObject()) ||
        !(arms_args = cJSON_AddArrayToObject(arms, "fractional")) ||
        !cJSON_AddItemToArray(arms_args, bucketing_key(s, "arms")))
        goto nomem;
    for (size_t i = 0; i < s->narms; i++)
        if (!add_bucket(arms_args, s->arms[i].name, s->arms[i].weight))
            goto nomem;

    /* Condition: the unit is set, and (below 100 %) its allocation hash is
     * in the first A of 10000 buckets. */
    if (!(var = cJSON_CreateObject()) || !cJSON_AddStringToObject(var, "var", s->unit)) {
        cJSON_Delete(var);
        goto nomem;
    }
    if (s->allocation == EXPERIMENT_WHOLE) {
        cond = var;
    } else {
        cJSON *and_args, *eq, *eq_args, *frac, *frac_args;
        if (!(cond = cJSON_CreateObject())) {
            cJSON_Delete(var);
            goto nomem;
        }
        if (!(and_args = cJSON_AddArrayToObject(cond, "and")) ||
            !cJSON_AddItemToArray(and_args, var)) {
            cJSON_Delete(cond);
            goto nomem;
        }
        if (!(eq = cJSON_CreateObject()) || !cJSON_AddItemToArray(and_args, eq) ||
            !(eq_args = cJSON_AddArrayToObject(eq, "==")) || !(frac = cJSON_CreateObject()) ||
            !cJSON_AddItemToArray(eq_args, frac) ||
            !cJSON_AddItemToArray(eq_args, cJSON_CreateString("in")) ||
            !(frac_args = cJSON_AddArrayToObject(frac, "fractional")) ||
            !cJSON_AddItemToArray(frac_args, bucketing_key(s, "allocation")) ||
            !add_bucket(frac_args, "in", s->allocation) ||
            !add_bucket(frac_args, "out", EXPERIMENT_WHOLE - s->allocation)) {
            cJSON_Delete(cond);
            goto nomem;
        }
    }

    /* {"if": [cond, arms, null]} */
    if (!(rule = cJSON_CreateObject()) || !(if_args = cJSON_AddArrayToObject(rule, "if"))) {
        cJSON_Delete(cond);
        goto nomem;
    }
    if (!cJSON_AddItemToArray(if_args, cond)) {
        cJSON_Delete(cond);
        goto nomem;
    }
    if (!cJSON_AddItemToArray(if_args, arms)) {
        arms = NULL;
        goto nomem;
    }
    arms = NULL; /* owned by rule now */
    if (!cJSON_AddItemToArray(if_args, cJSON_CreateNull()))
        goto nomem;
    *out = rule;
    return ROOST_OK;
nomem:
    cJSON_Delete(arms);
    cJSON_Delete(rule);
    return roost_error_set(err, ROOST_ENOMEM, "experiments.%s: out of memory", s->name);
}

/* --------------------------------------------------------------- the check */

/* Evaluates the flag for one context with the evaluation its type needs;
 * only the variant and the reason matter here. */
static void evaluate(const roost_flag *flag, const roost_ctx *ctx, roost_result *r)
{
    switch (roost_flag_type(flag)) {
    case ROOST_VALUE_BOOLEAN: roost_eval_bool(flag, ctx, false, r); break;
    case ROOST_VALUE_NUMBER: roost_eval_float(flag, ctx, 0, r); break;
    case ROOST_VALUE_OBJECT: roost_eval_object(flag, ctx, "{}", r); break;
    case ROOST_VALUE_STRING:
    default: roost_eval_string(flag, ctx, "", r); break;
    }
}

static double share(uint64_t part, uint64_t whole)
{
    return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

roost_status experiment_split_check(const struct experiment_spec *s, const roost_flag *flag,
                                    struct experiment_split_report *report, roost_error *err)
{
    struct experiment_split_report r;
    roost_ctx_attr attr[1];
    roost_ctx ctx;
    char unit[40];
    const char *key;
    roost_status rc;

    if (!s || !flag || !report)
        return roost_error_set(err, ROOST_EINVAL, "experiment_split_check: NULL argument");
    key = roost_flag_key(flag, NULL);
    if (strcmp(key, s->flag) != 0)
        return roost_error_set(err, ROOST_EINVAL,
                               "experiments.%s: checked against flag '%s', but its flag is '%s'",
                               s->name, key, s->flag);

    memset(&r, 0, sizeof r);
    roost_ctx_init(&ctx, attr, 1);
    for (uint32_t i = 0; i < EXPERIMENT_SPLIT_CHECK_UNITS; i++) {
        roost_result res;
        int arm = -1;

        snprintf(unit, sizeof unit, "roost-split-check-%" PRIu32, i);
        roost_ctx_reset(&ctx);
        if ((rc = roost_ctx_set_string(&ctx, s->unit, unit)) != ROOST_OK)
            return roost_error_set(err, ROOST_EINTERNAL,
                                   "experiments.%s: cannot set context attribute '%s' (%s)",
                                   s->name, s->unit, roost_strerror(rc));
        evaluate(flag, &ctx, &res);
        if (res.variant) {
            char name[EXPERIMENT_ARM_NAME_MAX + 1];
            if (res.variant_len <= EXPERIMENT_ARM_NAME_MAX) {
                memcpy(name, res.variant, res.variant_len);
                name[res.variant_len] = '\0';
                arm = experiment_spec_arm(s, name);
            }
        }
        r.units++;
        switch (res.reason) {
        case ROOST_REASON_TARGETING_MATCH:
            if (arm < 0) {
                r.errors++; /* a variant that is not an arm: the spec is stale */
                break;
            }
            r.in_experiment++;
            r.per_arm[arm]++;
            break;
        case ROOST_REASON_STATIC:
        case ROOST_REASON_DEFAULT:
            if (arm == 0)
                r.outside_control++;
            else
                r.outside_other++;
            break;
        case ROOST_REASON_DISABLED:
        case ROOST_REASON_ERROR:
        default:
            r.errors++;
            break;
        }
    }

    /* One goodness-of-fit over arms + "outside": it tests the allocation and
     * the weights at once, with one error rate. */
    uint64_t observed[EXPERIMENT_MAX_ARMS + 1];
    double weights[EXPERIMENT_MAX_ARMS + 1];
    roost_stats_chi2test t;
    for (size_t i = 0; i < s->narms; i++) {
        observed[i] = r.per_arm[i];
        weights[i] = (double)s->allocation * s->arms[i].weight;
    }
    observed[s->narms] = r.outside_control + r.outside_other + r.errors;
    weights[s->narms] = (double)(EXPERIMENT_WHOLE - s->allocation) * EXPERIMENT_WHOLE;
    if ((rc = roost_stats_srm(observed, weights, s->narms + 1, &t, err)) != ROOST_OK) {
        roost_error_prefix(err, "experiments.%s: split check: ", s->name);
        return rc;
    }
    r.chi2 = t.chi2;
    r.p = t.p;
    r.matches = r.errors == 0 && r.outside_other == 0 && t.p >= EXPERIMENT_SPLIT_CHECK_P;
    *report = r;
    if (r.matches)
        return ROOST_OK;

    /* Say what is wrong in the terms of the plan, most basic first. */
    char planned[16], msg[ROOST_ERROR_MSG_MAX];
    size_t used = 0;
    if (r.errors)
        return roost_error_set(err, ROOST_ECONFLICT,
                               "experiments.%s: flag '%s' does not assign arms: %" PRIu64
                               " of %" PRIu64 " units got an error, a disabled flag or a "
                               "variant that is not an arm; its targeting should be the rule "
                               "experiment_split_rule builds (docs/experiments.md)",
                               s->name, s->flag, r.errors, r.units);
    if (r.outside_other)
        return roost_error_set(err, ROOST_ECONFLICT,
                               "experiments.%s: flag '%s' gives %.1f %% of units outside the "
                               "experiment a variant other than the control '%s'; make '%s' the "
                               "flag's defaultVariant, so units outside keep the current behaviour",
                               s->name, s->flag, share(r.outside_other, r.units), s->arms[0].name,
                               s->arms[0].name);
    experiment_percent_format(s->allocation, planned, sizeof planned);
    used = (size_t)snprintf(msg, sizeof msg,
                            "flag '%s' does not split units as planned (chi-square %.1f, p = "
                            "%.2g): %.2f %% of units in the experiment (planned %s %%)",
                            s->flag, r.chi2, r.p, share(r.in_experiment, r.units), planned);
    for (size_t i = 0; i < s->narms && used < sizeof msg; i++) {
        experiment_percent_format(s->arms[i].weight, planned, sizeof planned);
        int w = snprintf(msg + used, sizeof msg - used, "%s'%s' %.2f %% of them (planned %s %%)",
                         i ? ", " : "; ", s->arms[i].name, share(r.per_arm[i], r.in_experiment),
                         planned);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    return roost_error_set(err, ROOST_ECONFLICT,
                           "experiments.%s: %s; its targeting should be the rule "
                           "experiment_split_rule builds (docs/experiments.md)",
                           s->name, msg);
}
