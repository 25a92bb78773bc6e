/* Test harness for the rollout decision library: spec helpers and a
 * virtual-time traffic simulator that drives rollout_decide exactly the way
 * roostd's controller does (the tick loop in server/rollout/logic.h), from
 * per-second aggregates.
 *
 * The machinery is roost-sim's (tools/sim): its random numbers (rng.h), its
 * simulated metrics store that sums whole 1-second rows like roostd's
 * (series.h), and its controller loop (controller.h). What stays here is
 * the tests' own simple traffic model (one rate, one error rate per arm, an
 * optional error incident on the canary) with its draw order, so the
 * figures docs/rollouts.md quotes from //tests/unit/rollout:quality are
 * reproduced exactly. Two differences from roost-sim's scenarios, both
 * deliberate: decisions are made as soon as a wakeup falls due (settle time
 * 0) with every second before it visible, and latency is a stand-in
 * (1 per request, for mean checks); the check unit tests build sketches
 * directly.
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
#include "tools/sim/controller.h"
#include "tools/sim/rng.h"
#include "tools/sim/series.h"

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

#define SIM_HARNESS_MAX_SECONDS (4 * 3600)

struct sim {
    const struct rollout_spec *spec;
    struct rollout_state st;   /* the controller's state after the last tick */
    sim_rng rng;
    double rate;               /* requests per second, both arms together */
    double err_baseline, err_canary;
    int64_t incident_at_s;     /* from then on the canary's error rate is err_incident */
    double err_incident;
    int64_t seconds;           /* simulated so far */
    /* roost-sim's metrics store and controller; kept across sim_init calls
     * (sim_free releases them) */
    struct sim_series series;
    bool series_ready;
    struct sim_roost *ctl;
    const struct rollout_spec *ctl_spec;
    bool ticking;              /* decisions come from a tick, not the start command */
    /* gate probes */
    struct rollout_probe_signal probes[2];
    size_t nprobes;
    /* outcome */
    int64_t rolled_back_at_s;  /* -1 while not rolled back */
    int64_t promoted_at_s;
    int64_t paused_at_s;
    uint64_t canary_requests, canary_errors;
    double excess_errors;      /* canary errors beyond the baseline's rate */
    unsigned decisions;
    struct rollout_decision last;      /* the last decision a tick made */
    struct rollout_decision rollback;  /* the decision that rolled back, if any */
    char history[8192];        /* one summary line per decision */
    size_t history_len;
};

/* The controller's decisions, as they happen. */
static inline void sim_on_event(void *user, const struct sim_event *ev)
{
    struct sim *s = user;
    const struct rollout_decision *d = ev->decision;
    long long t = (ev->at_ms - T0) / 1000;

    hist_append(s->history, sizeof s->history, &s->history_len, t, ev->summary);
    if (!s->ticking || !d)
        return;
    s->decisions++;
    if (d->event == ROLLOUT_EV_ROLLED_BACK) {
        s->rolled_back_at_s = t;
        s->rollback = *d;
    }
    if (d->event == ROLLOUT_EV_PROMOTED)
        s->promoted_at_s = t;
    if (d->event == ROLLOUT_EV_PAUSED && s->paused_at_s < 0)
        s->paused_at_s = t;
    s->last = *d;
}

/* The controller's tick loop at now. */
static inline void sim_tick(struct sim *s, int64_t now)
{
    struct rollout_signals sig = {s->probes, s->nprobes};
    roost_error err = {0};

    s->ticking = true;
    if (sim_roost_tick(s->ctl, now, &s->series, &sig, &err) != ROOST_OK)
        fail_msg("tick at %llds: %s", (long long)((now - T0) / 1000), err.msg);
    s->ticking = false;
    s->st = *sim_roost_state(s->ctl);
}

/* Prepares a run. Keeps the metrics store and controller a previous run on
 * the same struct allocated (release them with sim_free). */
static inline void sim_init(struct sim *s, const struct rollout_spec *spec, uint64_t seed,
                            double rate, double err_baseline, double err_canary)
{
    struct sim_series series = s->series;
    bool series_ready = s->series_ready;
    struct sim_roost *ctl = s->ctl;
    const struct rollout_spec *ctl_spec = s->ctl_spec;
    roost_error err = {0};

    memset(s, 0, sizeof *s);
    s->series = series;
    s->series_ready = series_ready;
    if (ctl && ctl_spec != spec) {
        sim_roost_free(ctl);
        ctl = NULL;
    }
    if (!ctl && sim_roost_new(spec, 0, sim_on_event, s, &ctl, &err) != ROOST_OK)
        fail_msg("sim_roost_new: %s", err.msg);
    s->ctl = ctl;
    s->ctl_spec = spec;
    sim_roost_reset(s->ctl);
    if (!s->series_ready) {
        if (sim_series_init(&s->series, T0, 1000, &err) != ROOST_OK)
            fail_msg("sim_series_init: %s", err.msg);
        s->series_ready = true;
    } else if (sim_series_reset(&s->series, T0, 1000, &err) != ROOST_OK) {
        fail_msg("sim_series_reset: %s", err.msg);
    }
    s->spec = spec;
    rollout_state_init(&s->st);
    sim_rng_seed(&s->rng, seed);
    s->rate = rate;
    s->err_baseline = err_baseline;
    s->err_canary = err_canary;
    s->incident_at_s = -1;
    s->rolled_back_at_s = s->promoted_at_s = s->paused_at_s = -1;
}

/* Releases what sim_init allocated, and s itself (from calloc). */
static inline void sim_free(struct sim *s)
{
    if (!s)
        return;
    sim_roost_free(s->ctl);
    if (s->series_ready)
        sim_series_free(&s->series);
    free(s);
}

/* Starts the rollout at T0 and runs until it finishes, pauses (when
 * stop_on_pause), or max_s seconds pass. */
static inline void sim_run(struct sim *s, int64_t max_s, bool stop_on_pause)
{
    roost_error err = {0};
    int64_t wake;

    if (sim_roost_command(s->ctl, ROLLOUT_CMD_START, "alice", T0, &err) != ROOST_OK)
        fail_msg("start: %s", err.msg);
    s->st = *sim_roost_state(s->ctl);
    sim_tick(s, T0);
    wake = sim_roost_next_tick(s->ctl, T0);
    for (int64_t t = 0; t < max_s && t < SIM_HARNESS_MAX_SECONDS; t++) {
        uint32_t w = s->st.weight;
        uint64_t n = sim_poisson(&s->rng, s->rate), nc = sim_binomial(&s->rng, n, w / 100.0);
        double pc = (s->incident_at_s >= 0 && t >= s->incident_at_s) ? s->err_incident : s->err_canary;
        uint64_t ec = sim_binomial(&s->rng, nc, pc), eb = sim_binomial(&s->rng, n - nc, s->err_baseline);
        int64_t now = T0 + (t + 1) * 1000;
        /* Latency stand-in for mean checks: 1 per request. */
        struct sim_second sec[2] = {
            {n - nc, n - nc - eb, (double)(n - nc), (double)(n - nc), NULL, 0},
            {nc, nc - ec, (double)nc, (double)nc, NULL, 0},
        };

        if (sim_series_append(&s->series, sec, &err) != ROOST_OK)
            fail_msg("second %lld: %s", (long long)t, err.msg);
        s->seconds = t + 1;
        s->canary_requests += nc;
        s->canary_errors += ec;
        s->excess_errors += (double)ec - (double)nc * s->err_baseline;
        if (now >= wake) {
            sim_tick(s, now);
            wake = sim_roost_next_tick(s->ctl, now);
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
