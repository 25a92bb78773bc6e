/* Live mode: a scenario's traffic sent through the real C SDK to a running
 * roostd, in real time, while roostd's own controller decides.
 *
 * What is real and what is simulated:
 *   - real: roostd, its store, its controller, probes and hooks; the C SDK
 *     (libroost) that streams the rollout's weight, routes every request
 *     and sends the outcomes in batches every flushInterval.
 *   - simulated: the service instances. Requests arrive as the scenario's
 *     traffic model says (Poisson, per 10 ms slice of real time); each is
 *     routed by the SDK and answered by its arm's model at that moment
 *     (error probability, lognormal latency, incidents), the same functions
 *     virtual mode draws from (model.h).
 *
 * Routing and recording. The SDK's request helpers (roost_request_begin /
 * roost_request_end) time the request themselves: end records the wall
 * time since begin, which here would be the few hundred nanoseconds of the
 * loop, not the simulated latency, and the SDK has no way to end a request
 * with a given latency. So each request is routed by roost_route (the
 * routing begin does: the same decision, the same per-thread random draw
 * without a targeting key) and recorded with roost_series_observe on the
 * (rollout, arm, "requests") series (roost_series_get), with the simulated
 * latency and success: the same outcome, on the same series, that
 * roost_request_end records (client.h documents end as exactly that
 * roost_observe call).
 *
 * The start. A pending rollout is started here (Admin.RolloutCommand
 * "start"), so t = 0 of the scenario (incidents, diurnal phase) is the
 * start, as in virtual mode. A rollout that is already progressing or
 * paused is joined: t = 0 is its last "started" decision. A finished one
 * (promoted, rolled back) is refused with what to do.
 *
 * The run ends when a decision promotes or rolls back the rollout (seen at
 * once through the SDK's stream, then read with its record from the
 * rollout's history), when `for_ms` has passed, or when *interrupted is set
 * (a signal). A rollout paused for a person keeps the traffic going: a
 * person may resume it.
 *
 * Decisions are read from roostd (Admin.GetRollout, then
 * Admin.RolloutHistory when there is something new) every 200 ms and
 * handed to on_event as sim_events whose record is the stored record
 * (details_json), so report.c prints them as it prints virtual mode's.
 *
 * Threads: one. The admin calls are made between traffic slices; a slow
 * answer delays the next slice, whose arrivals then cover the time missed
 * (at most a second's worth), so the rate holds on average.
 */
#ifndef ROOST_TOOLS_SIM_LIVE_H
#define ROOST_TOOLS_SIM_LIVE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "roost/client.h"
#include "roost/status.h"
#include "tools/sim/policy.h"
#include "tools/sim/scenario.h"
#include "tools/sim/virtual.h"

/* The live state of the run, for a progress line. Strings are valid during
 * the callback. */
struct sim_live_progress {
    int64_t t_ms;                /* since the start */
    uint64_t requests[2];        /* sent, per arm (enum rollout_arm order: baseline, canary) */
    uint64_t errors[2];          /* of those, failed */
    uint32_t weight_bp;          /* the canary weight the SDK routes at */
    const char *phase;           /* roostd's: "progressing", "paused", ... */
    uint32_t step, steps;        /* step index (0-based) and count */
    const char *step_description; /* "analysis 2/3", "setWeight 50" */
    const char *paused_reason;   /* "" unless paused */
    bool roostd_answers;         /* the last admin poll succeeded */
    roost_client_state sdk_state;
};

struct sim_live_options {
    const char *server;          /* roostd's gRPC address, HOST:PORT (required) */
    const char *rollout;         /* the rollout's name on roostd; NULL: the scenario's */
    const char *sdk_token;       /* bearer token of the simulated services (NULL: none) */
    const char *admin_token;     /* bearer token for the admin calls (NULL: none) */
    int64_t for_ms;              /* stop after this long (> 0) */
    uint64_t seed;               /* the simulated services' random numbers */
    uint32_t connect_timeout_ms; /* waiting for roostd and the SDK's configuration (0: 10 s) */
    const volatile sig_atomic_t *interrupted; /* set by a signal handler: stop (may be NULL) */
    sim_event_fn on_event;       /* each decision of this run, oldest first (may be NULL) */
    void *event_user;
    /* Called about every 100 ms while traffic runs (may be NULL). */
    void (*on_progress)(void *user, const struct sim_live_progress *p);
    void *progress_user;
    /* Notes and warnings for people (the SDK's warnings, a scenario rollout
     * that differs from roostd's); one line, no newline (may be NULL). */
    void (*on_note)(void *user, const char *line);
    void *note_user;
};

/* The rollout as roostd had it when the run began. */
struct sim_live_target {
    char name[ROLLOUT_NAME_MAX + 1];
    char service[ROLLOUT_TEXT_MAX + 1], baseline[ROLLOUT_TEXT_MAX + 1],
        canary[ROLLOUT_TEXT_MAX + 1];
    char phase[32];              /* at open */
    uint32_t steps, attempt;
    bool started_here;           /* sim_live_start started it (it was pending) */
    int64_t t0_ms;               /* unix ms of t = 0 (after sim_live_start) */
};

enum sim_live_end {
    SIM_LIVE_DECIDED,            /* promoted or rolled back */
    SIM_LIVE_TIME_UP,            /* for_ms passed first */
    SIM_LIVE_INTERRUPTED         /* *interrupted was set */
};

struct sim_live_result {
    struct sim_outcome outcome;  /* as virtual mode's; end_ms from t0 */
    enum sim_live_end end;
    uint64_t requests[2], errors[2]; /* every request sent, per arm */
    int64_t traffic_ms;          /* how long traffic ran */
    roost_client_stats sdk;      /* the SDK's counters at the end (after a flush) */
    bool flushed;                /* every outcome was acknowledged by roostd */
};

struct sim_live;

/* Connects: reads the rollout from roostd (Admin.GetRollout), compares it
 * with the scenario's (a difference is a note, roostd's rollout is what
 * runs), starts an SDK client (flush interval = the scenario's
 * flushInterval) and waits until it routes the rollout. sc is borrowed and
 * must outlive the run. Errors: EUNAVAIL (roostd cannot be reached, or the
 * SDK got no configuration in time), EAUTH (a token was refused),
 * ENOTFOUND (no such rollout), ECONFLICT (the rollout is finished: the
 * message says how to make it runnable again), EINVAL, ENOMEM; err says
 * what to do. */
roost_status sim_live_open(const struct sim_scenario *sc, const struct sim_live_options *o,
                           struct sim_live **out, roost_error *err);

/* What was found at open; t0_ms is set by sim_live_start. */
const struct sim_live_target *sim_live_target(const struct sim_live *l);

/* Starts the rollout if it is pending (reason: "roost-sim live"), or joins
 * it, and fixes t = 0. Errors: those of open's admin calls, ECONFLICT. */
roost_status sim_live_start(struct sim_live *l, roost_error *err);

/* Runs the traffic until the end (see above). Decisions of this run that
 * were made before it (a joined rollout) are passed to on_event first.
 * Errors: ENOMEM, EINVAL (run before start). An unreachable roostd during
 * the run is not an error: the SDK keeps routing at the last weight it
 * knows and keeps its outcomes, and progress says roostd does not answer. */
roost_status sim_live_run(struct sim_live *l, struct sim_live_result *out, roost_error *err);

/* Closes the SDK client (delivering what is left, up to 2 s) and the admin
 * channel, and frees l. NULL is a no-op. */
void sim_live_close(struct sim_live *l);

const char *sim_live_end_name(enum sim_live_end e); /* "decided", "time_up", "interrupted" */

#endif
