/* The virtual-time driver; see virtual.h. */
#include "tools/sim/virtual.h"

#include <stdlib.h>
#include <string.h>

/* Stream purposes (rng.h): one stream per (seed, second, purpose). */
#define SALT_OUTCOMES 0x6f7574636f6d6573ull /* "outcomes" */
#define SALT_LATENCY 0x6c6174656e637921ull  /* "latency!" */

/* A policy that asks to tick again at the same moment this many times is
 * not converging; the run stops with an error instead of spinning. */
#define MAX_SAME_TIME_TICKS 1000

roost_status sim_world_init(struct sim_world *w, roost_error *err)
{
    memset(w, 0, sizeof *w);
    return sim_series_init(&w->series, SIM_T0_MS, 1000, err);
}

void sim_world_free(struct sim_world *w)
{
    if (!w)
        return;
    sim_series_free(&w->series);
    free(w->keys);
    free(w->buckets[0]);
    free(w->buckets[1]);
    memset(w, 0, sizeof *w);
}

static roost_status reserve_scratch(struct sim_world *w, uint64_t n, roost_error *err)
{
    size_t cap = w->scratch_cap ? w->scratch_cap : 1024;
    int32_t *k;
    roost_sketch_bucket *b0, *b1;

    if (n <= w->scratch_cap)
        return ROOST_OK;
    while (cap < n)
        cap *= 2;
    k = realloc(w->keys, cap * sizeof *k);
    if (k)
        w->keys = k;
    b0 = realloc(w->buckets[0], cap * sizeof *b0);
    if (b0)
        w->buckets[0] = b0;
    b1 = realloc(w->buckets[1], cap * sizeof *b1);
    if (b1)
        w->buckets[1] = b1;
    if (!k || !b0 || !b1)
        return roost_error_set(err, ROOST_ENOMEM, "out of memory for %llu latencies in one second",
                               (unsigned long long)n);
    w->scratch_cap = cap;
    return ROOST_OK;
}

/* ---- gate probes ------------------------------------------------------------ */

/* The state of every probe an incident names, at t_ms: down while one of
 * its outages is active, up otherwise. */
static size_t probe_signals(const struct sim_scenario *sc, int64_t t_ms,
                            struct rollout_probe_signal *sig)
{
    size_t n = 0;

    for (size_t i = 0; i < sc->model.nincidents; i++) {
        const struct sim_incident *in = &sc->model.incidents[i];
        size_t k;
        if (!in->probe[0])
            continue;
        for (k = 0; k < n && strcmp(sig[k].name, in->probe) != 0; k++)
            ;
        if (k == n) {
            sig[n].name = in->probe;
            sig[n].state = ROLLOUT_PROBE_UP;
            n++;
        }
        if (sim_incident_active(in, t_ms))
            sig[k].state = ROLLOUT_PROBE_DOWN;
    }
    return n;
}

/* The next time after t_ms (relative) at which a probe may change. */
static int64_t next_probe_change(const struct sim_scenario *sc, int64_t t_ms)
{
    int64_t best = SIM_NEVER;

    for (size_t i = 0; i < sc->model.nincidents; i++) {
        const struct sim_incident *in = &sc->model.incidents[i];
        if (!in->probe[0])
            continue;
        if (in->start_ms > t_ms && in->start_ms < best)
            best = in->start_ms;
        if (in->duration_ms != SIM_FOREVER && in->start_ms + in->duration_ms > t_ms &&
            in->start_ms + in->duration_ms < best)
            best = in->start_ms + in->duration_ms;
    }
    return best;
}

/* ---- one simulated second ---------------------------------------------------- */

static roost_status simulate_second(struct sim_world *w, const struct sim_scenario *sc,
                                    struct sim_traffic_gen *gen, uint64_t seed, int64_t s,
                                    uint32_t weight, bool latency, struct sim_outcome *out,
                                    roost_error *err)
{
    int64_t t_ms = s * 1000;
    double rate = sim_traffic_rate_at(gen, t_ms);
    struct sim_arm_now arm[2];
    struct sim_second sec[2];
    uint64_t n, nc, nb, ec, eb;
    sim_rng r;
    roost_status rc;

    /* Draw order is part of the determinism contract: arrivals, split,
     * canary failures, baseline failures, all from the second's stream. */
    sim_rng_derive(&r, seed, (uint64_t)s, SALT_OUTCOMES);
    n = sim_poisson(&r, rate);
    nc = sim_binomial(&r, n, weight / 100.0);
    nb = n - nc;
    sim_model_arm_at(&sc->model, ROLLOUT_ARM_BASELINE, t_ms, &arm[ROLLOUT_ARM_BASELINE]);
    sim_model_arm_at(&sc->model, ROLLOUT_ARM_CANARY, t_ms, &arm[ROLLOUT_ARM_CANARY]);
    ec = sim_binomial(&r, nc, arm[ROLLOUT_ARM_CANARY].error_p);
    eb = sim_binomial(&r, nb, arm[ROLLOUT_ARM_BASELINE].error_p);

    memset(sec, 0, sizeof sec);
    sec[ROLLOUT_ARM_BASELINE].count = nb;
    sec[ROLLOUT_ARM_BASELINE].successes = nb - eb;
    sec[ROLLOUT_ARM_CANARY].count = nc;
    sec[ROLLOUT_ARM_CANARY].successes = nc - ec;
    if (latency) {
        sim_rng lr;
        if ((rc = reserve_scratch(w, nb > nc ? nb : nc, err)) != ROOST_OK)
            return rc;
        sim_rng_derive(&lr, seed, (uint64_t)s, SALT_LATENCY);
        for (int a = 0; a < 2; a++) {
            sim_latency_aggregate(&lr, &arm[a], sec[a].count, w->keys, w->buckets[a],
                                  &sec[a].nbuckets, &sec[a].sum, &sec[a].sum_squares);
            sec[a].buckets = w->buckets[a];
        }
    }
    if ((rc = sim_series_append(&w->series, sec, err)) != ROOST_OK)
        return rc;

    out->requests += n;
    if (sc->onset_ms < 0 || t_ms >= sc->onset_ms) {
        out->canary_requests += nc;
        out->canary_errors += ec;
        out->excess_errors += (double)ec - (double)nc * arm[ROLLOUT_ARM_BASELINE].error_p;
    }
    return ROOST_OK;
}

/* ---- the run ------------------------------------------------------------------ */

static roost_status tick_at(struct sim_world *w, const struct sim_scenario *sc,
                            const struct sim_policy *p, int64_t now, roost_error *err)
{
    struct sim_view v;

    v.series = &w->series;
    v.probes = w->probes;
    v.nprobes = probe_signals(sc, now - SIM_T0_MS, w->probes);
    return p->ops->tick(p->self, now, &v, err);
}

static int64_t abs_time(int64_t rel)
{
    return rel == SIM_NEVER ? SIM_NEVER : SIM_T0_MS + rel;
}

roost_status sim_run(struct sim_world *w, const struct sim_scenario *sc, const struct sim_policy *p,
                     uint64_t seed, bool latency, struct sim_outcome *out, roost_error *err)
{
    int64_t dur_s = sc->duration_ms / 1000, last = SIM_T0_MS, wake, probe_next;
    struct sim_traffic_gen gen;
    int same_time = 0;
    roost_status rc;

    memset(out, 0, sizeof *out);
    if ((rc = sim_series_reset(&w->series, SIM_T0_MS, sc->flush_ms, err)) != ROOST_OK)
        return rc;
    sim_traffic_gen_init(&gen, &sc->model.traffic, seed);
    if ((rc = p->ops->start(p->self, SIM_T0_MS, err)) != ROOST_OK ||
        (rc = tick_at(w, sc, p, SIM_T0_MS, err)) != ROOST_OK)
        return rc;
    wake = p->ops->next_tick(p->self, SIM_T0_MS);
    probe_next = abs_time(next_probe_change(sc, 0));

    for (int64_t s = 0; s <= dur_s; s++) {
        int64_t boundary = SIM_T0_MS + s * 1000;
        uint32_t weight;

        /* Every tick due before second s is simulated, in time order. */
        while (p->ops->phase(p->self) == SIM_RUNNING) {
            int64_t t = wake < probe_next ? wake : probe_next;
            if (t > boundary)
                break;
            if (t < last)
                t = last; /* a tick asked for "now" after a later one ran */
            if (probe_next <= t)
                probe_next = abs_time(next_probe_change(sc, t - SIM_T0_MS));
            if ((rc = tick_at(w, sc, p, t, err)) != ROOST_OK)
                return rc;
            same_time = t == last ? same_time + 1 : 0;
            if (same_time > MAX_SAME_TIME_TICKS)
                return roost_error_set(err, ROOST_EINTERNAL,
                                       "policy %s asks to decide again and again at %llds",
                                       p->ops->name, (long long)((t - SIM_T0_MS) / 1000));
            last = t;
            wake = p->ops->next_tick(p->self, t);
        }
        if (p->ops->phase(p->self) != SIM_RUNNING) {
            out->end_ms = last - SIM_T0_MS;
            break;
        }
        if (s == dur_s) {
            out->end_ms = sc->duration_ms;
            break;
        }
        weight = p->ops->weight(p->self);
        if (weight > out->max_weight)
            out->max_weight = weight;
        if ((rc = simulate_second(w, sc, &gen, seed, s, weight, latency, out, err)) != ROOST_OK)
            return rc;
    }
    out->phase = p->ops->phase(p->self);
    out->weight = p->ops->weight(p->self);
    if (out->weight > out->max_weight)
        out->max_weight = out->weight; /* promoted: 100, if only for an instant */
    return ROOST_OK;
}
