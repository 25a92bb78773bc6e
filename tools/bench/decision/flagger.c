/* Flagger's analysis loop; see flagger.h for what is modelled and why. */
#include "tools/bench/decision/flagger.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

struct bench_flagger {
    const struct sim_flagger_settings *cfg;
    sim_event_fn on_event;
    void *user;
    enum sim_phase phase;
    uint32_t weight;
    uint32_t failed_checks;
    int64_t next_ms;
    roost_sketch sketch;
    roost_sketch_bucket buckets[SIM_SKETCH_CAP];
};

static void emit(struct bench_flagger *f, int64_t now, uint32_t from, const char *summary)
{
    struct sim_event ev = {now, from, f->weight, f->phase, summary, NULL, 0, NULL};

    if (f->on_event)
        f->on_event(f->user, &ev);
}

roost_status bench_flagger_new(const struct sim_flagger_settings *cfg, sim_event_fn on_event,
                               void *user, struct bench_flagger **out, roost_error *err)
{
    struct bench_flagger *f = calloc(1, sizeof *f);

    if (!f)
        return roost_error_set(err, ROOST_ENOMEM, "out of memory");
    f->cfg = cfg;
    f->on_event = on_event;
    f->user = user;
    (void)roost_sketch_init(&f->sketch, f->buckets, SIM_SKETCH_CAP); /* capacity in range */
    *out = f;
    return ROOST_OK;
}

void bench_flagger_free(struct bench_flagger *f)
{
    free(f);
}

static roost_status f_start(void *self, int64_t now, roost_error *err)
{
    struct bench_flagger *f = self;
    char line[128];

    (void)err;
    f->phase = SIM_RUNNING;
    f->failed_checks = 0;
    f->weight = f->cfg->step_weight;
    f->next_ms = now + f->cfg->interval_ms;
    snprintf(line, sizeof line, "starting canary analysis: advance canary weight %u", f->weight);
    emit(f, now, 0, line);
    return ROOST_OK;
}

/* Runs the builtin metric checks; false (and why, in why) when one fails. */
static bool checks_pass(struct bench_flagger *f, int64_t now, const struct sim_view *v, char *why,
                        size_t cap)
{
    const struct sim_flagger_settings *c = f->cfg;
    bool latency = c->p99_max_ms > 0;
    struct rollout_window w;
    double rate, p99;

    sim_series_window(v->series, ROLLOUT_ARM_CANARY, now - c->interval_ms, now, now,
                      latency ? &f->sketch : NULL, &w);
    if (w.count == 0) {
        snprintf(why, cap, "no values found for metric request-success-rate (no canary traffic)");
        return false;
    }
    rate = 100.0 * (double)w.successes / (double)w.count;
    if (rate < c->success_rate_min) {
        snprintf(why, cap, "request-success-rate %.2f < %g", rate, c->success_rate_min);
        return false;
    }
    if (latency) {
        if (roost_sketch_quantile(&f->sketch, 0.99, &p99) != ROOST_OK) {
            snprintf(why, cap, "no values found for metric request-duration");
            return false;
        }
        if (p99 > c->p99_max_ms) {
            snprintf(why, cap, "request-duration %.0f > %g", p99, c->p99_max_ms);
            return false;
        }
    }
    return true;
}

static roost_status f_tick(void *self, int64_t now, const struct sim_view *v, roost_error *err)
{
    struct bench_flagger *f = self;
    uint32_t from = f->weight;
    char why[160], line[256];

    (void)err;
    if (f->phase != SIM_RUNNING || now < f->next_ms)
        return ROOST_OK;
    f->next_ms += f->cfg->interval_ms;
    if (f->failed_checks >= f->cfg->threshold) {
        f->weight = 0;
        f->phase = SIM_ROLLED_BACK;
        snprintf(line, sizeof line, "rolling back: failed checks threshold reached %u; weight %u -> 0",
                 f->failed_checks, from);
        emit(f, now, from, line);
        return ROOST_OK;
    }
    if (!checks_pass(f, now, v, why, sizeof why)) {
        f->failed_checks++;
        snprintf(line, sizeof line, "halt advancement: %s (failed checks %u/%u)", why,
                 f->failed_checks, f->cfg->threshold);
        emit(f, now, from, line);
        return ROOST_OK;
    }
    if (f->weight < f->cfg->max_weight) {
        f->weight += f->cfg->step_weight;
        if (f->weight > 100)
            f->weight = 100;
        snprintf(line, sizeof line, "advance canary weight %u", f->weight);
    } else {
        f->weight = 100;
        f->phase = SIM_PROMOTED;
        snprintf(line, sizeof line, "checks passed at max weight: promoting the canary");
    }
    emit(f, now, from, line);
    return ROOST_OK;
}

static int64_t f_next_tick(const void *self, int64_t now)
{
    const struct bench_flagger *f = self;
    (void)now;
    return f->phase == SIM_RUNNING ? f->next_ms : SIM_NEVER;
}

static uint32_t f_weight(const void *self)
{
    return ((const struct bench_flagger *)self)->weight;
}

static enum sim_phase f_phase(const void *self)
{
    return ((const struct bench_flagger *)self)->phase;
}

static const struct sim_policy_ops FLAGGER_OPS = {"flagger", f_start, f_tick, f_next_tick, f_weight,
                                                  f_phase};

void bench_flagger_policy(struct bench_flagger *f, struct sim_policy *p)
{
    p->ops = &FLAGGER_OPS;
    p->self = f;
}
