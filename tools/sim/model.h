/* The traffic and service models: how many requests arrive each second,
 * and how each arm (baseline, canary) answers them, incidents included.
 *
 * Shared by every driver: virtual time draws per-second aggregates from it
 * (virtual.c), and a live driver draws one request at a time from the same
 * functions, so a scenario means the same thing in both modes.
 *
 * Models, and why these:
 *   - Arrivals are Poisson per second around a rate that follows a shape:
 *     steady; diurnal, rate x (1 + amplitude sin(2 pi (t + offset) /
 *     period)); or bursty, a two-state (quiet / burst) modulated Poisson
 *     process: quiet gaps are exponential with mean burstEvery -
 *     burstLength, bursts last burstLength. Poisson is what independent
 *     users produce; the modulation is what a batch job or a retry storm
 *     adds on top, and is the case that trips up fixed-window checks.
 *   - A request fails with the arm's error rate (Bernoulli: binomial per
 *     second).
 *   - Latency is lognormal, ln L ~ N(ln median, sigma^2), the usual fit for
 *     service latency; with probability tail.probability a request is
 *     tail.multiplier times slower (GC pauses, cold caches), which is what
 *     moves a p99 without moving the median.
 *   - Incidents change an arm's model while active, [start, start +
 *     duration), evaluated at the start of each simulated second:
 *       error_spike          requests also fail with probability magnitude
 *                            (independent of the arm's own errors:
 *                            1 - (1 - e)(1 - magnitude));
 *       latency_regression   every latency is magnitude times larger;
 *       dependency_outage    like error_spike, on both arms by default,
 *                            and the named gate probe (if any) reads down.
 *     Overlapping incidents compose in the order they are listed.
 */
#ifndef ROOST_TOOLS_SIM_MODEL_H
#define ROOST_TOOLS_SIM_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "roost/sketch.h"
#include "tools/sim/rng.h"

#define SIM_FOREVER INT64_MAX
#define SIM_MAX_INCIDENTS 16
#define SIM_PROBE_NAME_MAX 128

enum sim_shape { SIM_SHAPE_STEADY, SIM_SHAPE_DIURNAL, SIM_SHAPE_BURSTY };

struct sim_traffic {
    enum sim_shape shape;
    double rate;               /* steady, diurnal: mean requests per second */
    int64_t period_ms;         /* diurnal */
    double amplitude;          /* diurnal: 0-1 */
    int64_t offset_ms;         /* diurnal: where in the period t = 0 falls */
    double burst_rate, quiet_rate; /* bursty: requests per second in each state */
    int64_t burst_ms;          /* bursty: length of a burst */
    int64_t burst_every_ms;    /* bursty: mean time between burst starts (> burst_ms) */
};

struct sim_latency {
    double median_ms;  /* > 0 */
    double sigma;      /* >= 0; 0: every request takes the median */
    double tail_p;     /* 0-1 */
    double tail_mult;  /* >= 1 */
};

struct sim_service {
    double error_rate; /* 0-1 */
    struct sim_latency latency;
};

enum sim_incident_kind { SIM_ERROR_SPIKE, SIM_LATENCY_REGRESSION, SIM_DEPENDENCY_OUTAGE };

/* Which arms an incident affects (bits). */
#define SIM_ARM_BASELINE_BIT 1u
#define SIM_ARM_CANARY_BIT 2u

struct sim_incident {
    enum sim_incident_kind kind;
    int64_t start_ms;    /* from the start of the rollout */
    int64_t duration_ms; /* SIM_FOREVER: until the end */
    double magnitude;    /* error probability, or latency factor */
    unsigned arms;       /* SIM_ARM_*_BIT */
    char probe[SIM_PROBE_NAME_MAX + 1]; /* dependency_outage: gate probe that reads down ("" none) */
};

struct sim_model {
    struct sim_traffic traffic;
    struct sim_service arm[2]; /* indexed by enum rollout_arm: baseline, canary */
    struct sim_incident incidents[SIM_MAX_INCIDENTS];
    size_t nincidents;
};

const char *sim_shape_name(enum sim_shape s);             /* "steady", ... */
const char *sim_incident_kind_name(enum sim_incident_kind k); /* "error_spike", ... */

/* True while the incident is active at t_ms (from the start). */
bool sim_incident_active(const struct sim_incident *in, int64_t t_ms);

/* One arm's behaviour at a moment, incidents applied. */
struct sim_arm_now {
    double error_p;  /* probability that a request fails */
    double log_median, sigma; /* ln of the median latency (ms), and sigma */
    double tail_p, tail_mult;
};

void sim_model_arm_at(const struct sim_model *m, int arm, int64_t t_ms, struct sim_arm_now *out);

/* The arrival rate as time passes. Bursty traffic has state (when the next
 * burst starts), drawn from the generator's own stream so that it depends
 * only on the seed. Times must be asked for in non-decreasing order. */
struct sim_traffic_gen {
    const struct sim_traffic *t;
    sim_rng rng;
    bool in_burst;
    int64_t next_change_ms; /* bursty: the state flips here */
};

void sim_traffic_gen_init(struct sim_traffic_gen *g, const struct sim_traffic *t, uint64_t seed);

/* Requests per second at t_ms. */
double sim_traffic_rate_at(struct sim_traffic_gen *g, int64_t t_ms);

/* The mean rate over a long run (bursty: weighted by the time in each
 * state), for reports. */
double sim_traffic_mean_rate(const struct sim_traffic *t);

/* One request's latency in ms, drawn from a (two draws, three with a tail). */
double sim_latency_draw(sim_rng *r, const struct sim_arm_now *a);

/* Per-arm aggregate of n requests' latencies for one second: sum, sum of
 * squares and sparse sketch buckets (sorted by key) in buckets[0..*nb).
 * keys is scratch for n keys. Draws n latencies from r. */
void sim_latency_aggregate(sim_rng *r, const struct sim_arm_now *a, uint64_t n, int32_t *keys,
                           roost_sketch_bucket *buckets, size_t *nb, double *sum,
                           double *sum_squares);

#endif
