/* Scenario files: what roost-sim simulates, in one JSON document.
 *
 *   {
 *     "name": "error-2pct", "description": "...",
 *     "expect": "rollback",          // or "promote": what a good policy does
 *     "duration": "1h",              // longest simulated run
 *     "flushInterval": "1s",         // SDK flush interval (report delay)
 *     "settle": "1s",                // roostd's wait after a wakeup
 *     "traffic":  { "shape": "steady", "rate": 100 },
 *     "baseline": { "errorRate": 0.005,
 *                   "latency": { "medianMs": 40, "sigma": 0.5,
 *                                "slowTail": { "probability": 0.01, "multiplier": 8 } } },
 *     "canary":   { "errorRate": 0.02 },           // omitted fields: the baseline's
 *     "incidents": [ { "type": "error_spike", "start": "2m", "duration": "5m",
 *                      "magnitude": 0.02, "arm": "canary" } ],
 *     "rollouts": { "checkout-v2": { ...the same object as in a Roost document... } },
 *     "reference": { "flagger": {...}, "argo": {...} }   // the benchmark's other policies
 *   }
 *
 * docs/simulator.md is the reference for every field. The parser is as
 * strict as roostd's: unknown fields ("did you mean"), wrong types and
 * out-of-range values are rejected with the JSON path of the value and what
 * was expected, and the rollout goes through rollout_spec_parse itself, so
 * a scenario's rollout is exactly what `roostctl apply` would accept (its
 * messages start with "rollouts.NAME...", the same path as in the file).
 *
 * Checks the simulator could not answer honestly are refused too: the
 * simulated SDKs report only the "requests" metric, so a check reading any
 * other metric is an error rather than a silent "no data".
 */
#ifndef ROOST_TOOLS_SIM_SCENARIO_H
#define ROOST_TOOLS_SIM_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "roost/status.h"
#include "server/rollout/spec.h"
#include "tools/sim/model.h"
#include "tools/sim/series.h"

#define SIM_NAME_MAX 64
#define SIM_TEXT_MAX 256
#define SIM_MAX_REF_WEIGHTS 20
/* Largest scenario file read: far above any real one, small enough that a
 * wrong path (a log file) is refused rather than parsed. */
#define SIM_SCENARIO_MAX_BYTES (1024 * 1024)

enum sim_expect { SIM_EXPECT_NONE, SIM_EXPECT_ROLLBACK, SIM_EXPECT_PROMOTE };

/* Flagger's canary analysis (docs/simulator.md: how it is modelled). */
struct sim_flagger_settings {
    int64_t interval_ms;      /* analysis.interval, also the metric query range */
    uint32_t threshold;       /* failed checks before rollback */
    uint32_t step_weight, max_weight;
    double success_rate_min;  /* percent: request-success-rate thresholdRange.min */
    double p99_max_ms;        /* request-duration thresholdRange.max; 0: not checked */
};

/* An Argo Rollouts canary with a background AnalysisRun. */
struct sim_argo_settings {
    int64_t interval_ms;            /* metric interval, also the query range */
    uint32_t failure_limit;         /* failed measurements tolerated */
    uint32_t consecutive_error_limit; /* measurements without data tolerated in a row */
    double success_rate_min;        /* percent: successCondition result[0] >= min / 100 */
    double p99_max_ms;              /* a second metric, p99 <= max; 0: none */
    uint32_t weights[SIM_MAX_REF_WEIGHTS]; /* setWeight steps, each followed by a pause */
    size_t nweights;
    int64_t pause_ms;               /* the pause after each setWeight */
};

struct sim_scenario {
    char name[SIM_NAME_MAX + 1];
    char description[SIM_TEXT_MAX + 1];
    enum sim_expect expect;
    int64_t duration_ms, flush_ms, settle_ms;
    struct sim_model model;
    /* When the canary starts being worse than the baseline: 0 when its own
     * model is worse, else the first incident that hits the canary alone;
     * -1 when it never is (a healthy canary). Blast radius and time to
     * detect count from here. */
    int64_t onset_ms;
    bool needs_latency;       /* a check of the rollout reads latencies */
    struct rollout_spec spec; /* owns its hooks: sim_scenario_free */
    struct sim_flagger_settings flagger;
    struct sim_argo_settings argo;
};

/* Parses a scenario from JSON text (len bytes). name_hint names the
 * scenario when it has no "name" (roost-sim passes the file's base name).
 * On error *out is freed and zeroed and err says "PATH: what was wrong".
 * Errors: ROOST_EINVAL, ROOST_ELIMIT, ROOST_ENOMEM. */
roost_status sim_scenario_parse(const char *json, size_t len, const char *name_hint,
                                struct sim_scenario *out, roost_error *err);

/* Reads and parses a file; error messages start with the file's path.
 * Errors: those of parse, and ROOST_EIO / ROOST_ENOTFOUND for the file. */
roost_status sim_scenario_load(const char *path, struct sim_scenario *out, roost_error *err);

void sim_scenario_free(struct sim_scenario *sc);

const char *sim_expect_name(enum sim_expect e); /* "none", "rollback", "promote" */

#endif
