/* Argo Rollouts' canary steps and background analysis; see argo.h. */
#include "tools/bench/decision/argo.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

enum { M_SUCCESS, M_LATENCY, M_COUNT };

static const char *const METRIC_NAME[M_COUNT] = {"success-rate", "latency-p99"};

struct bench_argo {
    const struct sim_argo_settings *cfg;
    sim_event_fn on_event;
    void *user;
    enum sim_phase phase;
    uint32_t weight;
    size_t step;            /* index of the current setWeight in cfg->weights */
    int64_t step_end_ms;    /* its pause ends here */
    int64_t next_measure_ms;
    uint32_t failed[M_COUNT], errors_in_row[M_COUNT];
    roost_sketch sketch;
    roost_sketch_bucket buckets[SIM_SKETCH_CAP];
};

static void emit(struct bench_argo *a, int64_t now, uint32_t from, const char *summary)
{
    struct sim_event ev = {now, from, a->weight, a->phase, summary, NULL, 0, NULL};

    if (a->on_event)
        a->on_event(a->user, &ev);
}

roost_status bench_argo_new(const struct sim_argo_settings *cfg, sim_event_fn on_event, void *user,
                            struct bench_argo **out, roost_error *err)
{
    struct bench_argo *a;

    if (!cfg->nweights)
        return roost_error_set(err, ROOST_EINVAL, "argo: no setWeight steps");
    if (!(a = calloc(1, sizeof *a)))
        return roost_error_set(err, ROOST_ENOMEM, "out of memory");
    a->cfg = cfg;
    a->on_event = on_event;
    a->user = user;
    (void)roost_sketch_init(&a->sketch, a->buckets, SIM_SKETCH_CAP); /* capacity in range */
    *out = a;
    return ROOST_OK;
}

void bench_argo_free(struct bench_argo *a)
{
    free(a);
}

static roost_status a_start(void *self, int64_t now, roost_error *err)
{
    struct bench_argo *a = self;
    char line[128];

    (void)err;
    a->phase = SIM_RUNNING;
    a->step = 0;
    a->weight = a->cfg->weights[0];
    a->step_end_ms = now + a->cfg->pause_ms;
    a->next_measure_ms = now; /* the first measurement is taken at once */
    for (int m = 0; m < M_COUNT; m++)
        a->failed[m] = a->errors_in_row[m] = 0;
    snprintf(line, sizeof line, "step 0 setWeight %u; background analysis started", a->weight);
    emit(a, now, 0, line);
    return ROOST_OK;
}

/* Aborts the rollout: weight 0 at once. */
static void abort_rollout(struct bench_argo *a, int64_t now, const char *why)
{
    uint32_t from = a->weight;
    char line[256];

    a->weight = 0;
    a->phase = SIM_ROLLED_BACK;
    snprintf(line, sizeof line, "rollout aborted: %s; weight %u -> 0", why, from);
    emit(a, now, from, line);
}

/* One measurement of every metric. */
static void measure(struct bench_argo *a, int64_t now, const struct sim_view *v)
{
    const struct sim_argo_settings *c = a->cfg;
    bool latency = c->p99_max_ms > 0;
    struct rollout_window w, ever;
    char why[160], line[256];

    sim_series_window(v->series, ROLLOUT_ARM_CANARY, now - c->interval_ms, now, now,
                      latency ? &a->sketch : NULL, &w);
    sim_series_window(v->series, ROLLOUT_ARM_CANARY, 0, now, now, NULL, &ever);
    for (int m = 0; m < (latency ? M_COUNT : 1); m++) {
        double value = 0;
        bool error = false, ok;

        if (w.count == 0 && ever.count == 0) {
            error = true; /* no canary series yet: result[0] cannot be evaluated */
        } else if (m == M_SUCCESS) {
            value = w.count ? (double)w.successes / (double)w.count : NAN;
        } else if (roost_sketch_quantile(&a->sketch, 0.99, &value) != ROOST_OK) {
            value = NAN; /* no requests in the window */
        }
        if (error) {
            a->errors_in_row[m]++;
            snprintf(line, sizeof line, "measurement %s: error (no data; %u in a row, limit %u)",
                     METRIC_NAME[m], a->errors_in_row[m], c->consecutive_error_limit);
            emit(a, now, a->weight, line);
            if (a->errors_in_row[m] > c->consecutive_error_limit) {
                snprintf(why, sizeof why, "%s consecutiveErrors (%u) > consecutiveErrorLimit (%u)",
                         METRIC_NAME[m], a->errors_in_row[m], c->consecutive_error_limit);
                abort_rollout(a, now, why);
                return;
            }
            continue;
        }
        a->errors_in_row[m] = 0;
        /* NaN compares false: a window without requests fails, as in Argo. */
        ok = m == M_SUCCESS ? value >= c->success_rate_min / 100.0 : value <= c->p99_max_ms;
        if (!ok)
            a->failed[m]++;
        if (m == M_SUCCESS)
            snprintf(line, sizeof line, "measurement %s %.4f %s %g: %s (failed %u, failureLimit %u)",
                     METRIC_NAME[m], value, ok ? ">=" : "<", c->success_rate_min / 100.0,
                     ok ? "successful" : "failed", a->failed[m], c->failure_limit);
        else
            snprintf(line, sizeof line, "measurement %s %.0f ms %s %g: %s (failed %u, failureLimit %u)",
                     METRIC_NAME[m], value, ok ? "<=" : ">", c->p99_max_ms,
                     ok ? "successful" : "failed", a->failed[m], c->failure_limit);
        emit(a, now, a->weight, line);
        if (a->failed[m] > c->failure_limit) {
            snprintf(why, sizeof why, "%s failed (%u) > failureLimit (%u)", METRIC_NAME[m],
                     a->failed[m], c->failure_limit);
            abort_rollout(a, now, why);
            return;
        }
    }
}

static roost_status a_tick(void *self, int64_t now, const struct sim_view *v, roost_error *err)
{
    struct bench_argo *a = self;
    char line[128];

    (void)err;
    if (a->phase != SIM_RUNNING)
        return ROOST_OK;
    if (now >= a->next_measure_ms) {
        a->next_measure_ms += a->cfg->interval_ms;
        measure(a, now, v);
        if (a->phase != SIM_RUNNING)
            return ROOST_OK;
    }
    if (now >= a->step_end_ms) {
        uint32_t from = a->weight;
        if (++a->step == a->cfg->nweights) {
            a->weight = 100;
            a->phase = SIM_PROMOTED;
            snprintf(line, sizeof line, "all steps done: promoted (weight %u -> 100)", from);
        } else {
            a->weight = a->cfg->weights[a->step];
            a->step_end_ms = now + a->cfg->pause_ms;
            snprintf(line, sizeof line, "step %zu setWeight %u", 2 * a->step, a->weight);
        }
        emit(a, now, from, line);
    }
    return ROOST_OK;
}

static int64_t a_next_tick(const void *self, int64_t now)
{
    const struct bench_argo *a = self;
    (void)now;
    if (a->phase != SIM_RUNNING)
        return SIM_NEVER;
    return a->next_measure_ms < a->step_end_ms ? a->next_measure_ms : a->step_end_ms;
}

static uint32_t a_weight(const void *self)
{
    return ((const struct bench_argo *)self)->weight;
}

static enum sim_phase a_phase(const void *self)
{
    return ((const struct bench_argo *)self)->phase;
}

static const struct sim_policy_ops ARGO_OPS = {"argo", a_start, a_tick, a_next_tick, a_weight, a_phase};

void bench_argo_policy(struct bench_argo *a, struct sim_policy *p)
{
    p->ops = &ARGO_OPS;
    p->self = a;
}
