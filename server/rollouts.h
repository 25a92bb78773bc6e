/* The rollout controller: roostd's glue around the pure decision library
 * (server/rollout/logic.h).
 *
 * One controller thread drives every rollout: it sleeps until the earliest
 * wakeup any rollout asked for (or until an apply, a command or a probe
 * change kicks it), reads the metric windows each due rollout needs from
 * the metrics store, lets the library decide, and commits each decision in
 * one LMDB transaction together with the new state and the decision record
 * — and, when the canary weight changes, the change event that streams it
 * to the SDKs — and the hook outbox rows of the hooks it schedules. Hooks
 * run afterwards on a small pool of workers, so a rollback's weight 0 is
 * committed and streamed before any hook starts, and a slow webhook never
 * holds the controller. Their results are decision records too, each
 * committed with the deletion of its outbox row: delivery is at-least-once
 * across crashes and restarts (the idempotency key makes a repeat safe).
 *
 * Commands from people (roostctl rollout …) take the same path under the
 * same lock, so a command and a tick never decide from the same state.
 * Writes are also checked against the state read (a concurrent apply may
 * have reset a rollout): on a mismatch the decision is dropped and made
 * again from the new state.
 *
 * Dependency probes run in a prober (server/rollout/probes.h); a probe
 * that changes state is committed as a change (streamed to SDKs) and kicks
 * the controller, whose gates read the prober's current states.
 */
#ifndef ROOSTD_ROLLOUTS_H
#define ROOSTD_ROLLOUTS_H

#include <stddef.h>
#include <stdint.h>

#include "hub.h"
#include "roost/status.h"
#include "roost/v1/roost.pb-c.h"
#include "rollout/probes.h"
#include "store.h"

struct rollouts;

struct rollouts_options {
    int hook_workers;   /* threads running hooks (default 2) */
    int64_t settle_ms;  /* wait after a wakeup for reports still in flight (default 1000) */
    size_t hook_window; /* hook outbox rows held in memory, waiting for a worker
                           (0: 256); the rest wait in the store */
    int64_t hook_drain_ms; /* once stopping, how long hooks already in the
                              window may still start (< 0: 10 s; 0: none) */
};

roost_status rollouts_create(struct store *st, struct hub *hub, const struct rollouts_options *opt,
                             struct rollouts **out, roost_error *err);
/* Loads the stored probes and starts the controller, hook and probe
 * threads. Hooks left in the outbox by an earlier run (decided, not
 * finished) run again, with their original idempotency keys. */
roost_status rollouts_start(struct rollouts *r, roost_error *err);
/* Stops every thread and frees r. Hooks in flight finish; hooks waiting
 * in the window may still start for opt.hook_drain_ms; the rest stay in
 * the outbox and run after the next rollouts_start. */
void rollouts_destroy(struct rollouts *r);

/* Something changed (an apply): look again now; reload probes when asked. */
void rollouts_kick(struct rollouts *r, bool probes_changed);

/* A person's command ("start", "pause", "resume", "promote", "abort",
 * "retry") on rollout name, by actor (an admin token's name). Fails with
 * EINVAL (unknown command), ENOTFOUND (no such rollout), ECONFLICT (the
 * command makes no sense now; the message says why). */
roost_status rollouts_command(struct rollouts *r, const char *name, const char *command,
                              const char *actor, const char *reason, roost_error *err);

/* Everything about one rollout, for GetRollout / ListRollouts. The caller
 * frees *out with rollouts_info_free. */
roost_status rollouts_info(struct rollouts *r, const char *name, Roost__V1__RolloutInfo **out,
                           roost_error *err);
void rollouts_info_free(Roost__V1__RolloutInfo *info);
/* Names of every rollout (malloc'd array of malloc'd strings). */
roost_status rollouts_names(struct rollouts *r, char ***names, size_t *n, roost_error *err);

/* Decisions of one rollout, newest first: at most limit, older than
 * before_seq (0: the newest). Caller frees each with
 * roost__v1__decision__free_unpacked and the array with free. */
roost_status rollouts_history(struct store *st, const char *name, uint32_t limit,
                              uint64_t before_seq, Roost__V1__Decision ***out, size_t *n,
                              roost_error *err);

/* Current probe states (up to cap); returns how many probes there are. */
size_t rollouts_probe_states(struct rollouts *r, struct probe_status *out, size_t cap);

#endif
