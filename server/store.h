/* The LMDB store: every piece of roostd's state, one file, one writer.
 *
 * Tables (LMDB named databases) hold records encoded as protobuf. A change a
 * client can see is written in one write transaction together with its
 * change-log entry and the new global revision, so after a crash the store
 * holds either all of a change or none of it, and the change log always
 * matches the state (invariant: meta.revision == last key of TBL_LOG, when
 * the log is not empty).
 *
 * Writers are serialized by LMDB. Readers never block and see a consistent
 * snapshot; read transactions may be used from any thread (MDB_NOTLS).
 */
#ifndef ROOSTD_STORE_H
#define ROOSTD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "roost/status.h"

enum store_table {
    TBL_META,       /* "revision", "log_first", "schema" -> fixed-width values;
                     * "store_id" -> STORE_ID_LEN random bytes */
    TBL_FLAGS,      /* flag key -> roost.storage.v1.FlagRecord */
    TBL_LOG,        /* revision (8 bytes big-endian) -> roost.v1.ChangeEvent */
    TBL_FLAG_SETS,  /* flag set + '\0' + flag key -> empty: the flags of each set */
    TBL_METRICS,    /* outcome aggregates per (scope, arm, metric, labels, minute):
                     * layout in metrics_ingest.h */
    TBL_REPORTS_SEEN, /* client id + '\0' + sequence -> time stored: Report dedupe */
    TBL_METRICS_RECENT, /* rollout aggregates per (..., second): 1-second rows, kept
                         * --metrics-recent-retention; layout in metrics_ingest.h */
    TBL_METRICS_HOURS,  /* aggregates per (..., hour): minute rows rolled up after
                         * --metrics-minute-retention; layout in metrics_ingest.h */
    TBL_ROLLOUTS,   /* rollout name -> roost.storage.v1.RolloutRecord */
    TBL_DECISIONS,  /* u8 scope kind | scope key '\0' | u64 seq (BE) -> roost.v1.Decision */
    TBL_PROBES,     /* probe name -> roost.storage.v1.ProbeRecord */
    TBL_EXPERIMENTS, /* experiment name -> roost.storage.v1.ExperimentRecord */
    TBL_HOOK_OUTBOX, /* u64 seq (BE) -> roost.storage.v1.HookJob: hooks decided, not
                      * finished; layout in resources.h */
    TBL_COUNT
};

struct store_options {
    size_t max_mb;     /* LMDB map size: the most the data file may grow to */
    uint64_t log_keep; /* change-log entries kept; older ones are compacted */
};

#define STORE_DEFAULT_MAX_MB 1024
#define STORE_DEFAULT_LOG_KEEP 10000

struct store;

struct store_txn {
    struct store *st;
    MDB_txn *txn;
    bool write;
    /* Write transactions: the revision a change committed by this
     * transaction gets (current revision + 1). */
    uint64_t next_revision;
};

struct store_val {
    const void *data; /* points into the map; valid until the transaction ends */
    size_t len;
};

/* Opens (creating if needed) the store in directory dir. Fails with EIO when
 * the directory cannot be created or LMDB cannot open it (another roostd
 * holding it is reported as such), ECORRUPT when the file is not a Roost
 * store or comes from a newer schema. */
roost_status store_open(const char *dir, const struct store_options *opt,
                        struct store **out, roost_error *err);
void store_close(struct store *st);

/* The store's identity: STORE_ID_LEN random bytes made when the store was
 * created (or first opened by a roostd that knew of them), the same for
 * the life of the data directory. A copied directory keeps it. */
#define STORE_ID_LEN 16
const uint8_t *store_id(const struct store *st);

/* The last committed revision (0 for a new store). Lock-free. */
uint64_t store_revision(const struct store *st);
/* The oldest revision still in the change log (1 when nothing was compacted;
 * revision+1 when the log is empty). */
uint64_t store_log_first(const struct store *st);
/* Bytes used by the data file. */
uint64_t store_size_bytes(struct store *st);
const char *store_dir(const struct store *st);

roost_status store_begin(struct store *st, bool write, struct store_txn *t, roost_error *err);
/* Ends a transaction without writing anything. Safe to call twice. */
void store_abort(struct store_txn *t);
/* Commits a write transaction that changes no revision (metrics, dedupe
 * markers). */
roost_status store_commit(struct store_txn *t, roost_error *err);
/* Appends the encoded change event for t->next_revision to the change log,
 * compacts the log to log_keep entries, records the revision and commits.
 * On failure nothing is written. */
roost_status store_commit_change(struct store_txn *t, const void *event, size_t len,
                                 roost_error *err);

/* The revision as seen by transaction t (a read transaction sees the
 * revision of its snapshot, not the latest). */
uint64_t store_txn_revision(struct store_txn *t);

/* Number of entries in a table. */
uint64_t store_table_entries(struct store_txn *t, enum store_table tbl);

/* ENOTFOUND when absent. */
roost_status store_get(struct store_txn *t, enum store_table tbl, const void *key, size_t klen,
                       struct store_val *out, roost_error *err);
roost_status store_put(struct store_txn *t, enum store_table tbl, const void *key, size_t klen,
                       const void *val, size_t vlen, roost_error *err);
/* Deleting an absent key is not an error. */
roost_status store_del(struct store_txn *t, enum store_table tbl, const void *key, size_t klen,
                       roost_error *err);

/* Ordered iteration over keys starting with prefix (NULL/0 = all keys). */
struct store_iter {
    MDB_cursor *cur;
    const void *prefix;
    size_t prefix_len;
    bool started;
    bool pending; /* the cursor is on an entry not yet returned */
};

roost_status store_iter_open(struct store_txn *t, enum store_table tbl, const void *prefix,
                             size_t prefix_len, struct store_iter *it, roost_error *err);
/* Positions at the first key >= start (with the iterator's prefix). */
void store_iter_seek(struct store_iter *it, const void *start, size_t start_len);
/* Returns false at the end. */
bool store_iter_next(struct store_iter *it, struct store_val *key, struct store_val *val);
void store_iter_close(struct store_iter *it);

/* The change-log entry for rev; ENOTFOUND when compacted away or not yet
 * written. */
roost_status store_log_get(struct store_txn *t, uint64_t rev, struct store_val *out,
                           roost_error *err);

/* Big-endian revision keys, so that LMDB's byte order is revision order. */
void store_u64_key(uint64_t v, unsigned char out[8]);
uint64_t store_u64_from_key(const void *key);

#endif
