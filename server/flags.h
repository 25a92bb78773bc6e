/* Flags: the desired state a configuration document describes, applied to
 * the store as one change, and the read side (get, list).
 *
 * A configuration document is the whole desired state of its flag set (its
 * metadata.flagSetId, or "default"): applying it adds the flags that are
 * new, changes those that differ and removes the set's flags the document
 * no longer has. Documents of other sets are never touched, so teams can
 * keep one file each. A flag key belongs to one set at a time.
 */
#ifndef ROOSTD_FLAGS_H
#define ROOSTD_FLAGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hub.h"
#include "roost/status.h"
#include "roost/storage/v1/storage.pb-c.h"
#include "roost/v1/roost.pb-c.h"
#include "store.h"

#define FLAGS_DEFAULT_SET "default"

/* One compiled flag, as the document layer hands it over. */
struct flag_def {
    char *key;
    char *source_json;   /* normalized flagd JSON of the flag */
    uint8_t *program;    /* compiled flag image */
    size_t program_len;
    bool enabled;
    const char *type;    /* "boolean", "string", "number", "object" (static) */
    char *default_variant; /* NULL: the caller's default */
    char **variants;
    size_t nvariants;
    bool targeted;
};

/* One rollout of a document, parsed and checked (server/rollout/spec.h). */
struct doc_rollout {
    char *name;
    char *spec;        /* canonical spec (rollout_spec_canonical) */
    size_t spec_len;
    char *service, *baseline, *canary;
};

/* One dependency probe of a document (server/rollout/probes.h). */
struct doc_probe {
    char *name;
    char *spec_json;   /* the probe's definition, compact JSON */
};

/* One experiment of a document (server/experiment/spec.h). */
struct doc_experiment {
    char *name;
    char *spec;        /* canonical spec (experiment_spec_canonical) */
    size_t spec_len;
    char *flag, *unit;
    /* The flag had no targeting: roostd serves it with the experiment's
     * split rule while the experiment runs (running_*) and without it in
     * every other phase (idle_*). */
    bool auto_split;
    char *running_source, *idle_source;
    uint8_t *running_program, *idle_program;
    size_t running_len, idle_len;
};

/* A parsed and compiled configuration document: the desired state of one
 * flag set — its flags, rollouts, probes and experiments. */
struct flag_doc {
    char *flag_set;
    struct flag_def *flags;
    size_t nflags;
    struct doc_rollout *rollouts;
    size_t nrollouts;
    struct doc_probe *probes;
    size_t nprobes;
    struct doc_experiment *experiments;
    size_t nexperiments;
    char **warnings;
    size_t nwarnings;
};

void flag_doc_free(struct flag_doc *doc);

/* Applies doc (flags, rollouts and probes) as one change (or, with dry_run, reports what would change).
 * Fills out; the caller frees it with flags_apply_response_free. Fails with ECONFLICT when a key
 * belongs to another flag set, EINVAL on duplicate keys, and store errors. */
roost_status flags_apply(struct store *st, struct hub *hub, struct flag_doc *doc,
                         bool dry_run, const char *actor, Roost__V1__ApplyResponse *out,
                         roost_error *err);
void flags_apply_response_free(Roost__V1__ApplyResponse *resp);

/* Serves flag `key` with another definition and image inside t (an
 * experiment's phase change). *event_flag receives the flag as the change
 * event carries it (caller frees with roost__v1__flag__free_unpacked).
 * ENOTFOUND when the flag does not exist. */
roost_status flags_put_program(struct store_txn *t, const char *key, const char *source,
                               const uint8_t *program, size_t len, bool targeted,
                               Roost__V1__Flag **event_flag, roost_error *err);

/* Deletes one flag as one change. ENOTFOUND when it does not exist. */
roost_status flags_delete(struct store *st, struct hub *hub, const char *key, const char *actor,
                          uint64_t *revision, roost_error *err);

/* The stored record of key; caller frees with
 * roost__storage__v1__flag_record__free_unpacked. ENOTFOUND when absent. */
roost_status flags_get(struct store *st, const char *key, Roost__Storage__V1__FlagRecord **out,
                       roost_error *err);

/* Encodes a ListFlagsResponse (all sets, or one) into *buf (malloc'd). */
roost_status flags_list(struct store *st, const char *flag_set, uint8_t **buf, size_t *len,
                        uint32_t *count, roost_error *err);

/* Number of flags stored. */
uint32_t flags_count(struct store *st);

#endif
