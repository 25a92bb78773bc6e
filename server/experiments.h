/* The experiment controller: roostd's glue around the experiment analysis
 * (server/experiment/analysis.h).
 *
 * Lifecycle (docs/experiments.md): draft (applied) -> running (start) ->
 * stopped (stop, or a stopping rule) -> concluded (ship an arm / roll back /
 * inconclusive). Each transition is one LMDB transaction holding the new
 * state, the phase SDKs are sent (they log exposures only while running),
 * and a decision record whose details are the analysis it was made on.
 *
 * While an experiment runs, a thread takes a look every interval: it reads
 * exposures and outcomes per arm from the metrics store since the start,
 * runs the analysis (always-valid tests carry their state from the previous
 * look, stored in the record), stores the result, and applies the stopping
 * rules (early win, harm) by stopping the experiment with a record.
 */
#ifndef ROOSTD_EXPERIMENTS_H
#define ROOSTD_EXPERIMENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "hub.h"
#include "roost/status.h"
#include "roost/v1/roost.pb-c.h"
#include "store.h"

struct experiments;

roost_status experiments_create(struct store *st, struct hub *hub, int64_t interval_ms,
                                struct experiments **out, roost_error *err);
roost_status experiments_start(struct experiments *x, roost_error *err);
void experiments_destroy(struct experiments *x);

/* "start", "stop" or "conclude" (conclusion "ship" + arm, "roll_back",
 * "inconclusive") by actor. EINVAL for an unknown command or conclusion,
 * ENOTFOUND, ECONFLICT when it makes no sense now or a sample-ratio
 * mismatch blocks shipping (the message says which). */
roost_status experiments_command(struct experiments *x, const char *name, const char *command,
                                 const char *conclusion, const char *arm, const char *actor,
                                 const char *reason, roost_error *err);

/* Everything about one experiment; with analyze, a fresh look first (only
 * while running). Free with experiments_info_free. */
roost_status experiments_info(struct experiments *x, const char *name, bool analyze,
                              Roost__V1__ExperimentInfo **out, roost_error *err);
void experiments_info_free(Roost__V1__ExperimentInfo *info);
roost_status experiments_names(struct experiments *x, char ***names, size_t *n, roost_error *err);

#endif
