/* Rollouts, probe states and experiments as the client keeps them: the
 * part of a configuration snapshot that is not flags.
 *
 * roostd streams them beside the flags (roost.v1.Snapshot.rollouts,
 * .probes, .experiments; ChangeEvent upserts and removals). The client keeps
 * each kind as a table: a sorted array of fixed-size records, each starting
 * with its name, in one allocation owned by the snapshot. Records are plain
 * data (no pointers, zero-padded), so a table is copied with memcpy, two
 * records are compared with memcmp (which is how a change event's names are
 * found), and a reader under a hazard slot reads them like the flags.
 *
 * Why tables of copies and not reference-counted records like flag images:
 * a record is a few hundred bytes and a deployment has tens of rollouts,
 * not tens of thousands of flags; copying a table on a change costs less
 * than the bookkeeping sharing would need, and keeps lookups to a binary
 * search over one array.
 *
 * Records hold what routing and exposure logging need precomputed: a
 * rollout's MurmurHash3 state after its name (routing then hashes only the
 * targeting key), an experiment's 64-bit salt (exposure keys). Phases and
 * states arrive as strings and are kept as the public enums; a string this
 * SDK does not know becomes UNKNOWN, never a decoding error, so a newer
 * roostd cannot make the configuration unreadable.
 */
#ifndef ROOST_SDK_RESOURCES_H
#define ROOST_SDK_RESOURCES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "roost/client.h"
#include "roost/murmur3.h"
#include "roost/status.h"

enum sdk_res_kind { SDK_ROLLOUTS = 0, SDK_PROBES = 1, SDK_EXPERIMENTS = 2, SDK_RES_KINDS = 3 };

#define SDK_NAME_MAX ROOST_RESOURCE_NAME_MAX
#define SDK_WEIGHT_FULL 10000u /* basis points */

/* Every record starts with its name (NUL-terminated, zero-padded). */
struct sdk_rollout {
    char name[SDK_NAME_MAX + 1];
    roost_rollout_phase phase;
    uint32_t weight_bp;   /* clamped to SDK_WEIGHT_FULL */
    uint32_t step;
    uint64_t revision;
    roost_murmur3 salt;   /* MurmurHash3 (seed 0) after the name's bytes */
    char service[ROOST_ROLLOUT_TEXT_MAX + 1];
    char baseline[ROOST_ROLLOUT_TEXT_MAX + 1];
    char canary[ROOST_ROLLOUT_TEXT_MAX + 1];
};

struct sdk_probe {
    char name[SDK_NAME_MAX + 1];
    roost_probe_state state;
    roost_probe_circuit circuit;
    double latency_ms;
    uint32_t consecutive_failures;
    int64_t since_unix_ms;
    char detail[ROOST_PROBE_DETAIL_MAX + 1];
};

struct sdk_experiment {
    char name[SDK_NAME_MAX + 1];
    roost_experiment_phase phase;
    uint32_t unit_len;
    uint64_t revision;
    uint64_t salt;        /* sdk_hash64 of the name: seeds exposure keys */
    char flag[ROOST_SCOPE_KEY_MAX + 1];
    char unit[ROOST_UNIT_MAX + 1];
};

/* A kind's records in a snapshot: sorted by name, unique. */
struct sdk_res_table {
    void *items;
    uint32_t n;
};

/* What one message carries for a kind: full records (a snapshot: all of
 * them; a change: those added or changed) and, for a change, names
 * removed. */
struct sdk_res_list {
    void *items;
    size_t n, cap;
    char (*removed)[SDK_NAME_MAX + 1];
    size_t nremoved, removed_cap;
};

/* Record size of a kind; its name for messages ("rollout", "probe",
 * "experiment"). */
size_t sdk_res_size(enum sdk_res_kind k);
const char *sdk_res_kind_name(enum sdk_res_kind k);

static inline const void *sdk_res_at(enum sdk_res_kind k, const struct sdk_res_table *t, size_t i)
{
    return (const char *)t->items + i * sdk_res_size(k);
}

/* Appends a zeroed record to l (*out). Fails with ELIMIT (l holds max
 * records already), ENOMEM. */
roost_status sdk_res_list_push(struct sdk_res_list *l, enum sdk_res_kind k, size_t max, void **out);
/* Appends a removed name (len 1..SDK_NAME_MAX, checked by the caller).
 * Fails with ELIMIT, ENOMEM. */
roost_status sdk_res_list_remove(struct sdk_res_list *l, const char *name, size_t len, size_t max);
void sdk_res_list_clear(struct sdk_res_list *l);

/* The next table of kind k: with `full`, exactly l's records (a snapshot);
 * otherwise old's records, minus l's removed names, with l's records added
 * or replacing those of the same name (a change). A name both upserted and
 * removed in one message is upserted, like flags. When a name occurs twice
 * in l the later record wins. old may be NULL (empty). out->items is
 * malloc'd (NULL when empty). Fails with ENOMEM. */
roost_status sdk_res_merge(enum sdk_res_kind k, const struct sdk_res_table *old,
                           const struct sdk_res_list *l, bool full, struct sdk_res_table *out);
void sdk_res_table_free(struct sdk_res_table *t);

/* The record named name[0..len) in t, NULL when absent. Binary search;
 * reads nothing but t. */
const void *sdk_res_find(enum sdk_res_kind k, const struct sdk_res_table *t, const char *name,
                         size_t len);
/* Its index, -1 when absent. */
long sdk_res_index(enum sdk_res_kind k, const struct sdk_res_table *t, const char *name,
                   size_t len);

/* Names added, removed or changed between a and b (either may be NULL =
 * empty), sorted. *names is one malloc'd block holding the pointers and
 * copies of the strings (NULL when none). Fails with ENOMEM. */
roost_status sdk_res_diff(enum sdk_res_kind k, const struct sdk_res_table *a,
                          const struct sdk_res_table *b, const char ***names, size_t *n);

/* Phases and states from roostd's strings (UNKNOWN for anything else). */
roost_rollout_phase sdk_rollout_phase_parse(const char *s);
roost_probe_state sdk_probe_state_parse(const char *s);
roost_probe_circuit sdk_probe_circuit_parse(const char *s);
roost_experiment_phase sdk_experiment_phase_parse(const char *s);

/* Fill the derived fields once the decoded ones are in: clamps a
 * rollout's weight and computes its salt; computes an experiment's salt and
 * unit length (an empty unit becomes "targetingKey", roostd's default). */
void sdk_rollout_prepare(struct sdk_rollout *r);
void sdk_experiment_prepare(struct sdk_experiment *e);

#endif
