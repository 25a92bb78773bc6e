/* Experiments in the SDK: exposure logging on evaluation, outcome
 * attribution (roost_track), and roost_experiment_status.
 *
 * Assignment is the flag's (server/experiment/split.h): the variant a unit
 * gets is its arm, and the reason says whether it is in the experiment at
 * all (TARGETING_MATCH) or outside it (DEFAULT/STATIC: the control, by the
 * flag's default). So:
 *
 *  - Exposure: an evaluation of a running experiment's flag
 *    (snapshot.flag_experiment) with reason TARGETING_MATCH logs one
 *    outcome (EXPERIMENT, experiment, variant, "exposure", value 1,
 *    success) per (experiment, variant, unit) per reporting interval,
 *    deduplicated in the bounded exposure set (exposure.h). The dedupe
 *    check runs on every such evaluation: no lock, no allocation, a hash of
 *    the unit and a few loads. Recording (once per unit and interval) goes
 *    through the registry without the per-thread name cache, which belongs
 *    to the application's roost_observe call sites.
 *  - roost_track: evaluates the flag the same way (without logging an
 *    exposure: an exposure means the application used the variant) and
 *    records the outcome for the variant, only when the unit is in the
 *    experiment and the experiment runs. A draft has no arms yet; once
 *    stopped, roostd's analysis is final and a late outcome must not move
 *    it, and a unit outside the experiment has no arm to credit.
 */
#include <stdatomic.h>
#include <string.h>

#include "client_internal.h"

static const char exposure_metric[] = "exposure";

void sdk_exposure(struct roost_client *c, const struct sdk_snapshot *s, uint32_t exp,
                  const roost_ctx *ctx, const roost_result *r)
{
    const struct sdk_experiment *e = sdk_res_at(SDK_EXPERIMENTS, &s->res[SDK_EXPERIMENTS], exp);
    char num[SDK_KEY_NUMBER_MAX];
    roost_series *series;
    const char *unit;
    size_t unit_len;

    if (r->reason != ROOST_REASON_TARGETING_MATCH || !r->variant || r->variant_len == 0 ||
        r->variant_len > ROOST_ARM_MAX)
        return;
    if (!sdk_ctx_key(ctx, e->unit, e->unit_len, num, &unit, &unit_len))
        return; /* no unit: the split rule keeps such units out anyway */
    switch (exposure_set_add(&c->exposures,
                             exposure_key(e->salt, r->variant, r->variant_len, unit, unit_len))) {
    case EXPOSURE_SEEN:
        return;
    case EXPOSURE_FULL:
        atomic_fetch_add_explicit(&c->exposures.dropped, 1, memory_order_relaxed);
        agg_drop(c->agg, 1);
        return;
    case EXPOSURE_NEW:
        break;
    }
    /* Image strings are NUL-terminated, so the variant is a valid arm name
     * as it is. A limit reached here is counted as dropped by the
     * aggregator; the unit stays in the set, so it is counted once. */
    if (agg_series(c->agg, ROOST_SCOPE_EXPERIMENT, e->name, r->variant, exposure_metric,
                   &series) == ROOST_OK &&
        agg_record(c->agg, series->id, 1.0, true) == ROOST_OK)
        atomic_fetch_add_explicit(&c->exposures.logged, 1, memory_order_relaxed);
}

/* Evaluates f with the type its variants have: the variant and the reason
 * are what matter, and another type would be a TYPE_MISMATCH. */
static void evaluate(const roost_flag *f, const roost_ctx *ctx, roost_result *r)
{
    switch (f ? roost_flag_type(f) : ROOST_VALUE_BOOLEAN) {
    case ROOST_VALUE_STRING:
        roost_eval_string(f, ctx, "", r);
        break;
    case ROOST_VALUE_NUMBER:
        roost_eval_float(f, ctx, 0, r);
        break;
    case ROOST_VALUE_OBJECT:
        roost_eval_object(f, ctx, "{}", r);
        break;
    default:
        roost_eval_bool(f, ctx, false, r);
        break;
    }
}

roost_status roost_track(roost_client *c, const char *experiment, const roost_ctx *ctx,
                         const char *metric, double value, bool success)
{
    const struct sdk_snapshot *s;
    const struct sdk_experiment *e;
    roost_series *series;
    roost_result r;
    roost_status rc;
    unsigned slot;

    if (!c || !experiment || !metric || !agg_value_ok(value))
        return ROOST_EINVAL;
    if (!(s = hazard_acquire(&c->hz, &slot)))
        return ROOST_ENOTFOUND;
    if (!(e = sdk_res_find(SDK_EXPERIMENTS, &s->res[SDK_EXPERIMENTS], experiment,
                           strlen(experiment)))) {
        rc = ROOST_ENOTFOUND;
    } else if (e->phase != ROOST_EXPERIMENT_RUNNING) {
        rc = ROOST_ECONFLICT;
    } else {
        evaluate(roost_flagset_find(&s->set, e->flag, strlen(e->flag)), ctx, &r);
        if (r.reason != ROOST_REASON_TARGETING_MATCH || !r.variant)
            rc = ROOST_ECONFLICT;
        /* The variant points into the image, held by the slot: stable, so
         * the per-thread name cache hits on the next outcome of this arm. */
        else if ((rc = agg_series_cached(c->agg, ROOST_SCOPE_EXPERIMENT, experiment, r.variant,
                                         metric, &series)) == ROOST_OK)
            rc = agg_record(c->agg, series->id, value, success);
    }
    hazard_release(&c->hz, slot);
    return rc;
}

roost_status roost_experiment_status(roost_client *c, const char *name,
                                     roost_experiment_info *out)
{
    const struct sdk_snapshot *s;
    const struct sdk_experiment *e;
    roost_status rc = ROOST_OK;
    unsigned slot;

    if (!c || !name || !out)
        return ROOST_EINVAL;
    if (!(s = hazard_acquire(&c->hz, &slot)))
        return ROOST_EUNAVAIL;
    if (!(e = sdk_res_find(SDK_EXPERIMENTS, &s->res[SDK_EXPERIMENTS], name, strlen(name)))) {
        rc = ROOST_ENOTFOUND;
    } else {
        memset(out, 0, sizeof *out);
        out->phase = e->phase;
        out->revision = e->revision;
        memcpy(out->flag, e->flag, sizeof out->flag);
        memcpy(out->unit, e->unit, sizeof out->unit);
    }
    hazard_release(&c->hz, slot);
    return rc;
}
