/* A rollout policy as the virtual-time driver sees it: something that is
 * started, looks at the metrics when it asks to, and sets the canary's
 * weight until it promotes or rolls back.
 *
 * Roost's own policy is roostd's controller around the decision library
 * (controller.h). The decision-quality benchmark plugs Flagger's and Argo
 * Rollouts' analysis loops in through the same interface
 * (tools/bench/decision), so every policy is driven over the same
 * simulated traffic by the same code, and the only thing that differs
 * between them is how they decide.
 *
 * Decisions are reported as events, one per decision, to a sink given when
 * the policy is made; the driver itself does not look at them.
 */
#ifndef ROOST_TOOLS_SIM_POLICY_H
#define ROOST_TOOLS_SIM_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "roost/status.h"
#include "server/rollout/logic.h"
#include "tools/sim/series.h"

#define SIM_NEVER INT64_MAX

enum sim_phase {
    SIM_RUNNING,     /* deciding (or waiting for a gate probe to come back) */
    SIM_PROMOTED,
    SIM_ROLLED_BACK,
    SIM_PAUSED       /* waiting for a person: the simulation of this run ends */
};

const char *sim_phase_name(enum sim_phase p); /* "running", "promoted", ... */

/* What a policy can see when it decides. */
struct sim_view {
    const struct sim_series *series; /* the metrics, as roostd's store has them */
    const struct rollout_probe_signal *probes; /* gate probe states now */
    size_t nprobes;
};

/* One decision, for the timeline. Pointers are valid during the call. */
struct sim_event {
    int64_t at_ms;                   /* unix ms */
    uint32_t weight_from, weight_to;
    enum sim_phase phase;            /* after the decision */
    const char *summary;             /* one line */
    const char *record;              /* the decision record (JSON object), or NULL */
    size_t record_len;
    const struct rollout_decision *decision; /* Roost's decisions; NULL for other policies */
};

typedef void (*sim_event_fn)(void *user, const struct sim_event *ev);

struct sim_policy_ops {
    const char *name; /* "roost", "flagger", "argo" */
    /* Starts the rollout at now (the simulation's t = 0). */
    roost_status (*start)(void *self, int64_t now_ms, roost_error *err);
    /* Makes every decision due at now from what view shows. */
    roost_status (*tick)(void *self, int64_t now_ms, const struct sim_view *view,
                         roost_error *err);
    /* When tick should run next (after now), or SIM_NEVER. */
    int64_t (*next_tick)(const void *self, int64_t now_ms);
    uint32_t (*weight)(const void *self); /* canary weight now, 0-100 */
    enum sim_phase (*phase)(const void *self);
};

struct sim_policy {
    const struct sim_policy_ops *ops;
    void *self;
};

#endif
