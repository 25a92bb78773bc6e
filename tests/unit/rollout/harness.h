/* Test harness for the rollout decision library: spec helpers, a
 * deterministic random generator, and a virtual-time traffic simulator that
 * drives rollout_decide exactly the way roostd's controller does (the tick
 * loop in server/rollout/logic.h), from per-second aggregates.
 *
 * The simulator keeps one row per (arm, second) with count and successes
 * and answers every requested window by summing whole seconds, which is
 * what the metrics store does with its 1-second rollout rows. Latency is
 * not simulated here (the check unit tests build sketches directly).
 */
#ifndef ROOST_TESTS_ROLLOUT_HARNESS_H
#define ROOST_TESTS_ROLLOUT_HARNESS_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/rollout/logic.h"
#include "testmain.h"

/* Unix ms of 2026-11-26T10:00:00Z: realistic magnitudes for every timer. */
#define T0 1795687200000LL

/* ---- specs -------------------------------------------------------------- */

/* Parses a rollout object (JSON text) named "checkout-v2"; fails the test
 * with the parser's message on error. probes: NULL-terminated names. */
static inline struct rollout_spec *spec_parse_ok(const char *json)
{
    static const char *const probes[] = {"payments-db", "cache"};
    struct rollout_spec *s = calloc(1, sizeof *s);
    roost_error err = {0};
    roost_status st;

    assert_non_null(s);
    st = rollout_spec_parse_text(json, strlen(json), "checkout-v2", probes, 2, s, &err);
    if (st != ROOST_OK)
        fail_msg("spec did not parse: %s", err.msg);
    return s;
}

static inline void spec_release(struct rollout_spec *s)
{
    rollout_spec_free(s);
    free(s);
}

/* ---- random numbers (xoshiro256**, seeded by splitmix64) ---------------- */

typedef struct {
    uint64_t s[4];
} sim_rng;

static inline uint64_t sim_splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline void sim_rng_seed(sim_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = sim_splitmix(&seed);
}

static inline uint64_t sim_rng_next(sim_rng *r)
{
    uint64_t *s = r->s, t = s[1] << 17;
    uint64_t x = s[1] * 5, result = ((x << 7) | (x >> 57)) * 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);
    return result;
}

static inline double sim_uniform(sim_rng *r)
{
    return ((double)(sim_rng_next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

/* Poisson(lambda) by inversion of the cumulative (lambda up to a few
 * hundred, which is all the simulations use). */
static inline uint64_t sim_poisson(sim_rng *r, double lambda)
{
    double u = sim_uniform(r), p = exp(-lambda), c = p;
    uint64_t k = 0;

    if (lambda <= 0)
        return 0;
    if (lambda > 500) /* normal approximation, never used by the tests */
        return (uint64_t)fmax(0, floor(lambda + sqrt(lambda) * (sqrt(-2 * log(u)) *
                                                                 cos(6.283185307179586 * sim_uniform(r))) + 0.5));
    while (u > c && k < 100000) {
        k++;
        p *= lambda / (double)k;
        c += p;
    }
    return k;
}

static inline uint64_t sim_binomial(sim_rng *r, uint64_t n, double p)
{
    uint64_t x = 0;
    for (uint64_t i = 0; i < n; i++)
        x += sim_uniform(r) < p;
    return x;
}

/* ---- virtual-time simulator ------------------------------------------- */

static inline void hist_append(char *out, size_t cap, size_t *used, long long t, const char *line)
{
    int w;
    if (*used >= cap)
        return;
    w = snprintf(out + *used, cap - *used, "%6llds  %.240s\n", t, line);
    if (w > 0)
        *used = (size_t)w >= cap - *used ? cap : *used + (size_t)w;
}

#define SIM_MAX_SECONDS (4 * 3600)

struct sim_row {
    uint32_t count, successes;
};

struct sim {
    const struct rollout_spec *spec;
    struct rollout_state st;
    sim_rng rng;
    double rate;               /* requests per second, both arms together */
    double err_baseline, err_canary;
    int64_t incident_at_s;     /* from then on the canary's error rate is err_incident */
    double err_incident;
    int64_t seconds;           /* simulated so far */
    struct sim_row rows[2][SIM_MAX_SECONDS];
    /* gate probes */
    struct rollout_probe_signal probes[2];
    size_t nprobes;
    /* outcome */
    int64_t rolled_back_at_s;  /* -1 while not rolled back */
    int64_t promoted_at_s;
    int64_t paused_at_s;
    uint64_t canary_requests, canary_errors, canary_excess_errors_x1000;
    double excess_errors;      /* canary errors beyond the baseline's rate */
    unsigned decisions;
    struct rollout_decision last;      /* the last decision with a record */
    struct rollout_decision rollback;  /* the decision that rolled back, if any */
    char history[8192];        /* one summary line per decision */
    size_t history_len;
};

static inline void sim_fill(const struct sim *s, const struct rollout_request *q,
                            struct rollout_window *w)
{
    int64_t from = (q->from_ms - T0) / 1000, to = (q->to_ms - T0) / 1000;
    int arm = q->arm == ROLLOUT_ARM_CANARY;

    memset(w, 0, sizeof *w);
    if (from < 0)
        from = 0;
    for (int64_t t = from; t < to && t < s->seconds; t++) {
        w->count += s->rows[arm][t].count;
        w->successes += s->rows[arm][t].successes;
    }
    /* Latency stand-in for mean checks: 1 per request. */
    w->sum = (double)w->count;
    w->sum_squares = (double)w->count;
}

/* The controller's tick loop at now. */
static inline void sim_tick(struct sim *s, int64_t now)
{
    for (int guard = 0; guard < 100; guard++) {
        struct rollout_request reqs[ROLLOUT_MAX_REQUESTS];
        struct rollout_window res[ROLLOUT_MAX_REQUESTS];
        struct rollout_signals sig = {s->probes, s->nprobes};
        static struct rollout_decision d;
        struct rollout_state next;
        roost_error err = {0};
        size_t n = rollout_data_needed(s->spec, &s->st, now, reqs, ROLLOUT_MAX_REQUESTS, &err);

        if (n == (size_t)-1)
            fail_msg("rollout_data_needed: %s", err.msg);
        for (size_t i = 0; i < n; i++)
            sim_fill(s, &reqs[i], &res[i]);
        if (rollout_decide(s->spec, &s->st, now, res, n, &sig, &next, &d, &err) != ROOST_OK)
            fail_msg("rollout_decide: %s", err.msg);
        if (d.event == ROLLOUT_EV_NONE) {
            assert_memory_equal(&next, &s->st, sizeof next);
            return;
        }
        s->decisions++;
        hist_append(s->history, sizeof s->history, &s->history_len, (now - T0) / 1000, d.summary);
        if (d.event == ROLLOUT_EV_ROLLED_BACK) {
            s->rolled_back_at_s = (now - T0) / 1000;
            s->rollback = d;
        }
        if (d.event == ROLLOUT_EV_PROMOTED)
            s->promoted_at_s = (now - T0) / 1000;
        if (d.event == ROLLOUT_EV_PAUSED && s->paused_at_s < 0)
            s->paused_at_s = (now - T0) / 1000;
        s->last = d;
        s->st = next;
    }
    fail_msg("more than 100 decisions in one tick");
}

static inline void sim_init(struct sim *s, const struct rollout_spec *spec, uint64_t seed,
                            double rate, double err_baseline, double err_canary)
{
    memset(s, 0, sizeof *s);
    s->spec = spec;
    rollout_state_init(&s->st);
    sim_rng_seed(&s->rng, seed);
    s->rate = rate;
    s->err_baseline = err_baseline;
    s->err_canary = err_canary;
    s->incident_at_s = -1;
    s->rolled_back_at_s = s->promoted_at_s = s->paused_at_s = -1;
}

/* Starts the rollout at T0 and runs until it finishes, pauses (when
 * stop_on_pause), or max_s seconds pass. */
static inline void sim_run(struct sim *s, int64_t max_s, bool stop_on_pause)
{
    struct rollout_decision d;
    struct rollout_state next;
    roost_error err = {0};
    int64_t wake;

    if (rollout_command(s->spec, &s->st, ROLLOUT_CMD_START, "alice", T0, &next, &d, &err) != ROOST_OK)
        fail_msg("start: %s", err.msg);
    s->st = next;
    hist_append(s->history, sizeof s->history, &s->history_len, 0, d.summary);
    sim_tick(s, T0);
    wake = rollout_next_wakeup(s->spec, &s->st, T0);
    for (int64_t t = 0; t < max_s && t < SIM_MAX_SECONDS; t++) {
        uint32_t w = s->st.weight;
        uint64_t n = sim_poisson(&s->rng, s->rate), nc = sim_binomial(&s->rng, n, w / 100.0);
        double pc = (s->incident_at_s >= 0 && t >= s->incident_at_s) ? s->err_incident : s->err_canary;
        uint64_t ec = sim_binomial(&s->rng, nc, pc), eb = sim_binomial(&s->rng, n - nc, s->err_baseline);
        int64_t now = T0 + (t + 1) * 1000;

        s->rows[1][t] = (struct sim_row){(uint32_t)nc, (uint32_t)(nc - ec)};
        s->rows[0][t] = (struct sim_row){(uint32_t)(n - nc), (uint32_t)(n - nc - eb)};
        s->seconds = t + 1;
        s->canary_requests += nc;
        s->canary_errors += ec;
        s->excess_errors += (double)ec - (double)nc * s->err_baseline;
        if (now >= wake) {
            sim_tick(s, now);
            wake = rollout_next_wakeup(s->spec, &s->st, now);
        }
        if (s->st.phase == ROLLOUT_PROMOTED || s->st.phase == ROLLOUT_ROLLED_BACK)
            break;
        if (stop_on_pause && s->st.phase == ROLLOUT_PAUSED)
            break;
    }
    /* ROLLOUT_SHOW=1 prints the timeline of every simulated rollout. */
    if (getenv("ROLLOUT_SHOW"))
        printf("---- seed timeline\n%s", s->history);
}

#endif
