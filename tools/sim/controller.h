/* roostd's rollout controller in virtual time: the tick loop of
 * server/rollout/logic.h around the real decision library, reading its
 * windows from a simulated metrics store (series.h).
 *
 * It does what server/rollouts.c does, minus storage and threads:
 *   - a tick calls rollout_data_needed, reads each window with roostd's
 *     whole-second convention, calls rollout_decide, and repeats at the
 *     same time until the library has nothing more to decide;
 *   - the next tick is rollout_next_wakeup plus the settle time roostd
 *     waits for reports still in flight (rollouts_options.settle_ms,
 *     1 s in roostd);
 *   - gate probes are passed as signals; the driver ticks at once when one
 *     changes, as roostd's prober kicks its controller;
 *   - hooks are not run: each decision's record lists the hooks roostd
 *     would run.
 * So a scenario gets the decisions roostd would make from the same data,
 * record for record. The tests of the decision library use it directly
 * (tests/unit/rollout/harness.h) with a settle time of 0.
 */
#ifndef ROOST_TOOLS_SIM_CONTROLLER_H
#define ROOST_TOOLS_SIM_CONTROLLER_H

#include <stdint.h>

#include "roost/status.h"
#include "server/rollout/logic.h"
#include "tools/sim/policy.h"
#include "tools/sim/series.h"

/* Decisions one tick may make back to back before it is a bug (roostd
 * stops at 32 and goes on at its next wakeup; a rollout that needs more
 * than a few at one time is not converging). */
#define SIM_TICK_DECISIONS 100

struct sim_roost;

/* A controller for spec (borrowed: it must outlive the controller), in the
 * pending state. settle_ms: the wait after each wakeup (>= 0). on_event
 * (may be NULL) receives every decision. About 1 MB (window sketches).
 * Errors: ROOST_EINVAL, ROOST_ENOMEM. */
roost_status sim_roost_new(const struct rollout_spec *spec, int64_t settle_ms, sim_event_fn on_event,
                           void *user, struct sim_roost **out, roost_error *err);

/* Back to pending, for another run. */
void sim_roost_reset(struct sim_roost *r);

void sim_roost_free(struct sim_roost *r);

/* A person's (or the simulator's) command, as `roostctl rollout CMD`.
 * Errors: those of rollout_command (ECONFLICT when it makes no sense now). */
roost_status sim_roost_command(struct sim_roost *r, enum rollout_command cmd, const char *actor,
                               int64_t now_ms, roost_error *err);

/* Every decision due at now_ms. signals may be NULL. Errors: the library's
 * (EINVAL, ECONFLICT), ROOST_EINTERNAL when decide changed the state
 * without a decision or did not settle within SIM_TICK_DECISIONS. */
roost_status sim_roost_tick(struct sim_roost *r, int64_t now_ms, const struct sim_series *data,
                            const struct rollout_signals *signals, roost_error *err);

/* When the controller ticks next: the library's wakeup plus the settle
 * time, or SIM_NEVER. */
int64_t sim_roost_next_tick(const struct sim_roost *r, int64_t now_ms);

const struct rollout_state *sim_roost_state(const struct sim_roost *r);

/* The controller as a policy for the driver (start = the "start" command by
 * actor "roost-sim"). p stays valid while r does. */
void sim_roost_policy(struct sim_roost *r, struct sim_policy *p);

#endif
