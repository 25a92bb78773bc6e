/* Traffic, service and incident models; see model.h. */
#include "tools/sim/model.h"

#include <math.h>
#include <stdlib.h>

static const double TWO_PI = 6.283185307179586;

const char *sim_shape_name(enum sim_shape s)
{
    switch (s) {
    case SIM_SHAPE_STEADY:
        return "steady";
    case SIM_SHAPE_DIURNAL:
        return "diurnal";
    case SIM_SHAPE_BURSTY:
        return "bursty";
    }
    return "?";
}

const char *sim_incident_kind_name(enum sim_incident_kind k)
{
    switch (k) {
    case SIM_ERROR_SPIKE:
        return "error_spike";
    case SIM_LATENCY_REGRESSION:
        return "latency_regression";
    case SIM_DEPENDENCY_OUTAGE:
        return "dependency_outage";
    }
    return "?";
}

bool sim_incident_active(const struct sim_incident *in, int64_t t_ms)
{
    if (t_ms < in->start_ms)
        return false;
    return in->duration_ms == SIM_FOREVER || t_ms - in->start_ms < in->duration_ms;
}

void sim_model_arm_at(const struct sim_model *m, int arm, int64_t t_ms, struct sim_arm_now *out)
{
    const struct sim_service *s = &m->arm[arm];
    unsigned bit = arm ? SIM_ARM_CANARY_BIT : SIM_ARM_BASELINE_BIT;

    out->error_p = s->error_rate;
    out->log_median = log(s->latency.median_ms);
    out->sigma = s->latency.sigma;
    out->tail_p = s->latency.tail_p;
    out->tail_mult = s->latency.tail_mult;
    for (size_t i = 0; i < m->nincidents; i++) {
        const struct sim_incident *in = &m->incidents[i];
        if (!(in->arms & bit) || !sim_incident_active(in, t_ms))
            continue;
        switch (in->kind) {
        case SIM_ERROR_SPIKE:
        case SIM_DEPENDENCY_OUTAGE:
            /* An extra, independent cause of failure. */
            out->error_p = 1.0 - (1.0 - out->error_p) * (1.0 - in->magnitude);
            break;
        case SIM_LATENCY_REGRESSION:
            out->log_median += log(in->magnitude);
            break;
        }
    }
}

/* ---- arrivals ------------------------------------------------------------- */

void sim_traffic_gen_init(struct sim_traffic_gen *g, const struct sim_traffic *t, uint64_t seed)
{
    g->t = t;
    sim_rng_derive(&g->rng, seed, 0x7472616666696364ull /* "trafficd" */, 0);
    g->in_burst = false;
    g->next_change_ms = 0;
    if (t->shape == SIM_SHAPE_BURSTY)
        g->next_change_ms = (int64_t)sim_exponential(&g->rng, (double)(t->burst_every_ms - t->burst_ms));
}

double sim_traffic_rate_at(struct sim_traffic_gen *g, int64_t t_ms)
{
    const struct sim_traffic *t = g->t;

    switch (t->shape) {
    case SIM_SHAPE_STEADY:
        return t->rate;
    case SIM_SHAPE_DIURNAL: {
        double x = TWO_PI * (double)(t_ms + t->offset_ms) / (double)t->period_ms;
        double r = t->rate * (1.0 + t->amplitude * sin(x));
        return r > 0 ? r : 0;
    }
    case SIM_SHAPE_BURSTY:
        while (t_ms >= g->next_change_ms) {
            g->in_burst = !g->in_burst;
            /* Invariant: burst_every_ms > burst_ms (the scenario parser
             * checks it), so quiet gaps have a positive mean. */
            g->next_change_ms += g->in_burst ? t->burst_ms
                                             : (int64_t)sim_exponential(&g->rng, (double)(t->burst_every_ms - t->burst_ms));
        }
        return g->in_burst ? t->burst_rate : t->quiet_rate;
    }
    return 0;
}

double sim_traffic_mean_rate(const struct sim_traffic *t)
{
    double f;

    switch (t->shape) {
    case SIM_SHAPE_STEADY:
    case SIM_SHAPE_DIURNAL:
        return t->rate;
    case SIM_SHAPE_BURSTY:
        f = (double)t->burst_ms / (double)t->burst_every_ms;
        return f * t->burst_rate + (1 - f) * t->quiet_rate;
    }
    return 0;
}

/* ---- latency -------------------------------------------------------------- */

double sim_latency_draw(sim_rng *r, const struct sim_arm_now *a)
{
    double x = exp(a->log_median + a->sigma * sim_normal(r));

    if (a->tail_p > 0 && sim_uniform(r) < a->tail_p)
        x *= a->tail_mult;
    return x;
}

static int cmp_key(const void *p, const void *q)
{
    int32_t a = *(const int32_t *)p, b = *(const int32_t *)q;
    return (a > b) - (a < b);
}

void sim_latency_aggregate(sim_rng *r, const struct sim_arm_now *a, uint64_t n, int32_t *keys,
                           roost_sketch_bucket *buckets, size_t *nb, double *sum,
                           double *sum_squares)
{
    double s = 0, s2 = 0;
    size_t m = 0;

    for (uint64_t i = 0; i < n; i++) {
        double x = sim_latency_draw(r, a);
        s += x;
        s2 += x * x;
        keys[i] = roost_sketch_key(x);
    }
    qsort(keys, (size_t)n, sizeof *keys, cmp_key);
    for (uint64_t i = 0; i < n; i++) {
        if (m && buckets[m - 1].key == keys[i]) {
            buckets[m - 1].count++;
        } else {
            buckets[m].key = keys[i];
            buckets[m].count = 1;
            m++;
        }
    }
    *nb = m;
    *sum = s;
    *sum_squares = s2;
}
