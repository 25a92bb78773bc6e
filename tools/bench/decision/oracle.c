/* The SPRT told the regression's size; see oracle.h for why it is here. */
#include "tools/bench/decision/oracle.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define LOOK_MS 1000

struct bench_oracle {
    const struct rollout_spec *spec;
    double ratio, threshold; /* threshold = ln(1 / alpha) */
    bool knows_baseline;
    double ln_fail, ln_pass;  /* knows_baseline: a canary request's log LR */
    sim_event_fn on_event;
    void *user;
    enum sim_phase phase;
    uint32_t weight;
    size_t step;         /* next step of spec to enter */
    int64_t hold_until;  /* the current weight is held until then */
    int64_t counted_ms;  /* seconds filed before this are in llr */
    int64_t next_ms;
    double llr;
};

static void emit(struct bench_oracle *o, int64_t now, uint32_t from, const char *summary)
{
    struct sim_event ev = {now, from, o->weight, o->phase, summary, NULL, 0, NULL};

    if (o->on_event)
        o->on_event(o->user, &ev);
}

roost_status bench_oracle_new(const struct rollout_spec *spec, double ratio, double alpha,
                              double baseline_rate, sim_event_fn on_event, void *user,
                              struct bench_oracle **out, roost_error *err)
{
    struct bench_oracle *o;

    if (!spec || !(ratio > 1) || !isfinite(ratio) || !(alpha > 0 && alpha < 1))
        return roost_error_set(err, ROOST_EINVAL,
                               "oracle: needs a rollout, a ratio above 1 and an alpha in (0, 1)");
    if (!(baseline_rate >= 0 && baseline_rate * ratio < 1))
        return roost_error_set(err, ROOST_EINVAL,
                               "oracle: the baseline's error rate times the ratio must be below 1");
    if (!(o = calloc(1, sizeof *o)))
        return roost_error_set(err, ROOST_ENOMEM, "out of memory");
    o->spec = spec;
    o->ratio = ratio;
    o->threshold = log(1.0 / alpha);
    if (baseline_rate > 0) {
        double p1 = baseline_rate * ratio;
        o->knows_baseline = true;
        o->ln_fail = log(p1 / baseline_rate);
        o->ln_pass = log((1 - p1) / (1 - baseline_rate));
    }
    o->on_event = on_event;
    o->user = user;
    *out = o;
    return ROOST_OK;
}

void bench_oracle_free(struct bench_oracle *o)
{
    free(o);
}

/* Enters the steps due at now: weights are set at once, an analysis step
 * or a timed pause holds the weight. */
static void advance(struct bench_oracle *o, int64_t now)
{
    uint32_t from = o->weight;
    char line[96];

    while (o->phase == SIM_RUNNING && now >= o->hold_until) {
        const struct rollout_step *s;
        if (o->step == o->spec->nsteps) {
            o->weight = 100;
            o->phase = SIM_PROMOTED;
            emit(o, now, from, "every step held without reaching the threshold: promoted");
            return;
        }
        s = &o->spec->steps[o->step++];
        switch (s->kind) {
        case ROLLOUT_STEP_SET_WEIGHT:
            o->weight = s->weight;
            snprintf(line, sizeof line, "weight %u", o->weight);
            emit(o, now, from, line);
            from = o->weight;
            break;
        case ROLLOUT_STEP_ANALYSIS:
            o->hold_until = now + (int64_t)s->count * o->spec->analysis.interval_ms;
            break;
        case ROLLOUT_STEP_PAUSE:
            if (s->duration_ms == ROLLOUT_PAUSE_UNTIL_PROMOTED) {
                o->phase = SIM_PAUSED;
                emit(o, now, from, "paused until a person promotes it");
                return;
            }
            o->hold_until = now + s->duration_ms;
            break;
        }
    }
}

static roost_status o_start(void *self, int64_t now, roost_error *err)
{
    struct bench_oracle *o = self;

    (void)err;
    o->phase = SIM_RUNNING;
    o->weight = 0;
    o->step = 0;
    o->hold_until = now;
    o->counted_ms = now;
    o->next_ms = now + LOOK_MS;
    o->llr = 0;
    advance(o, now);
    return ROOST_OK;
}

static roost_status o_tick(void *self, int64_t now, const struct sim_view *v, roost_error *err)
{
    struct bench_oracle *o = self;
    struct rollout_window c, b;
    char line[128];

    (void)err;
    if (o->phase != SIM_RUNNING || now < o->next_ms)
        return ROOST_OK;
    o->next_ms = now + LOOK_MS;
    /* Windows read by filing second partition the rows, so no second is
     * counted twice, and each window's split is its own. */
    sim_series_window(v->series, ROLLOUT_ARM_CANARY, o->counted_ms, now, now, NULL, &c);
    sim_series_window(v->series, ROLLOUT_ARM_BASELINE, o->counted_ms, now, now, NULL, &b);
    o->counted_ms = now / 1000 * 1000;
    if (o->knows_baseline)
        o->llr += (double)(c.count - c.successes) * o->ln_fail + (double)c.successes * o->ln_pass;
    else
        o->llr += rollout_rate_ratio_llr(o->ratio, (double)(c.count - c.successes), (double)c.count,
                                         (double)(b.count - b.successes), (double)b.count);
    if (o->llr >= o->threshold) {
        uint32_t from = o->weight;
        o->weight = 0;
        o->phase = SIM_ROLLED_BACK;
        snprintf(line, sizeof line, "log likelihood ratio %.2f >= %.2f: rolled back", o->llr,
                 o->threshold);
        emit(o, now, from, line);
        return ROOST_OK;
    }
    advance(o, now);
    return ROOST_OK;
}

static int64_t o_next_tick(const void *self, int64_t now)
{
    const struct bench_oracle *o = self;
    (void)now;
    return o->phase == SIM_RUNNING ? o->next_ms : SIM_NEVER;
}

static uint32_t o_weight(const void *self)
{
    return ((const struct bench_oracle *)self)->weight;
}

static enum sim_phase o_phase(const void *self)
{
    return ((const struct bench_oracle *)self)->phase;
}

static const struct sim_policy_ops ORACLE_OPS = {"oracle", o_start, o_tick, o_next_tick, o_weight,
                                                 o_phase};

void bench_oracle_policy(struct bench_oracle *o, struct sim_policy *p)
{
    p->ops = &ORACLE_OPS;
    p->self = o;
}
