/* Rollouts and probes as stored records: staging a document's rollouts and
 * probes into the apply transaction, and reading them back.
 *
 * Like flags, a document is the whole desired state of its flag set: its
 * rollouts and probes are added, changed or removed together with its flags,
 * in the same transaction and under the same revision.
 *
 * A rollout's record keeps its canonical spec, the controller's state and
 * the view SDKs are sent. Applying a changed spec keeps the state (a
 * threshold tweak does not restart a rollout), except that a finished
 * rollout (promoted or rolled back) whose baseline or canary version
 * changed becomes pending again: it is a new release. A removed rollout
 * disappears from snapshots, so SDKs route everything to the baseline.
 *
 * An experiment applied for the first time is a draft. A changed spec keeps
 * its phase and its analysis (metrics and arms are matched by name).
 */
#ifndef ROOSTD_RESOURCES_H
#define ROOSTD_RESOURCES_H

#include <stdbool.h>
#include <stddef.h>

#include "flags.h"
#include "roost/status.h"
#include "roost/storage/v1/storage.pb-c.h"
#include "roost/v1/roost.pb-c.h"
#include "store.h"

/* What staging changed; owned, freed with resources_changes_free. */
struct resource_changes {
    char **rollouts_added, **rollouts_changed, **rollouts_removed;
    size_t n_rollouts_added, n_rollouts_changed, n_rollouts_removed;
    char **probes_added, **probes_changed, **probes_removed;
    size_t n_probes_added, n_probes_changed, n_probes_removed;
    char **experiments_added, **experiments_changed, **experiments_removed;
    size_t n_experiments_added, n_experiments_changed, n_experiments_removed;
    /* Views of added and changed rollouts and experiments, for the
     * ChangeEvent. */
    Roost__V1__Rollout **views;
    size_t nviews;
    Roost__V1__Experiment **experiment_views;
    size_t nexperiment_views;
};

/* For every experiment of doc whose flag gets its split rule from roostd,
 * serves the flag as the experiment's stored phase says: with the rule
 * while it runs, without it (its defaultVariant for everyone) as a draft
 * and once stopped or concluded. Rewrites the flag's definition and image
 * in doc before the flags are diffed. */
roost_status resources_serve_experiment_flags(struct store_txn *t, struct flag_doc *doc,
                                              roost_error *err);

/* Diffs doc's rollouts and probes against the store inside t and, unless
 * dry_run, writes the difference. ECONFLICT when a name belongs to another
 * flag set. */
roost_status resources_stage(struct store_txn *t, const struct flag_doc *doc, bool dry_run,
                             struct resource_changes *out, roost_error *err);
bool resources_changed(const struct resource_changes *c);
void resources_changes_free(struct resource_changes *c);

/* A rollout's record (caller frees with
 * roost__storage__v1__rollout_record__free_unpacked). ENOTFOUND when there
 * is none, with a message that says how to list rollouts. */
roost_status resources_get_rollout(struct store_txn *t, const char *name,
                                   Roost__Storage__V1__RolloutRecord **out, roost_error *err);
roost_status resources_put_rollout(struct store_txn *t, const Roost__Storage__V1__RolloutRecord *rec,
                                   roost_error *err);

/* The same for experiments. */
roost_status resources_get_experiment(struct store_txn *t, const char *name,
                                      Roost__Storage__V1__ExperimentRecord **out, roost_error *err);
roost_status resources_put_experiment(struct store_txn *t,
                                      const Roost__Storage__V1__ExperimentRecord *rec,
                                      roost_error *err);

/* Appends a decision record under the next global decision number, which
 * it sets in d->seq. */
roost_status resources_put_decision(struct store_txn *t, Roost__V1__Decision *d, roost_error *err);

/* Decisions about one subject (a rollout, an experiment), newest first: at
 * most limit (0: 100, at most 10000), older than before_seq (0: the
 * newest). The caller frees each with roost__v1__decision__free_unpacked
 * and the array with free. */
roost_status resources_history(struct store *st, uint8_t kind, const char *name, uint32_t limit,
                               uint64_t before_seq, Roost__V1__Decision ***out, size_t *n,
                               roost_error *err);

/* The keys of a table keyed by name (rollouts, experiments, probes), as a
 * malloc'd array of malloc'd strings. */
roost_status resources_names(struct store *st, enum store_table tbl, char ***names, size_t *n,
                             roost_error *err);

/* The hook outbox (TBL_HOOK_OUTBOX): u64 seq (big-endian, so LMDB's order
 * is the order decisions scheduled them) -> roost.storage.v1.HookJob. A
 * job is put in the transaction of the decision that schedules it and
 * deleted in the transaction of the decision record of its result, so a
 * crash in between leaves it here to run again at the next start.
 *
 * resources_put_hook_job stores job under the next outbox sequence number
 * (from 1, never reused: a counter in TBL_META, like decision numbers) and
 * sets *seq. Fails with the store's errors (EIO, ELIMIT when the store is
 * full) or ENOMEM; the caller then aborts the whole transaction, so a
 * decision is never committed without its hooks. */
roost_status resources_put_hook_job(struct store_txn *t, const Roost__Storage__V1__HookJob *job,
                                    uint64_t *seq, roost_error *err);
/* Deleting a job that is not there is not an error. */
roost_status resources_del_hook_job(struct store_txn *t, uint64_t seq, roost_error *err);
/* The first job at or after sequence number from: sets *seq and *out
 * (caller frees with roost__storage__v1__hook_job__free_unpacked).
 * ENOTFOUND when there is none; ECORRUPT (with *seq set, so the caller can
 * step over it) when the row cannot be decoded; EIO. */
roost_status resources_next_hook_job(struct store_txn *t, uint64_t from, uint64_t *seq,
                                     Roost__Storage__V1__HookJob **out, roost_error *err);

/* Keys of the decisions table: u8 scope kind | scope key '\0' | u64 seq. */
size_t resources_decision_prefix(uint8_t kind, const char *scope, uint8_t *out, size_t cap);

#endif
