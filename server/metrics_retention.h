/* Retention of the metrics store: how long each resolution is kept, and the
 * background compaction that enforces it.
 *
 *   recent rows (1 s, rollouts)  kept recent_keep_s (default 24 h), then
 *                                deleted (they are copies of minute rows).
 *   minute rows                  kept minute_keep_s (default 14 days); then
 *                                every whole hour older than that is merged
 *                                into one hour row and its minute rows are
 *                                deleted, in the same transaction.
 *   hour rows                    kept hour_keep_s (default 400 days), then
 *                                deleted.
 *
 * LMDB has one writer, and Report ingest needs it every flush interval of
 * every SDK. So compaction never holds it for long: rows are found in READ
 * transactions (which block nobody), then handled in write transactions of at
 * most batch_rows rows each, with a short pause between them. A write
 * transaction re-reads every row it changes, so an aggregate that arrived
 * between the scan and the write is rolled up too, never lost. A late
 * aggregate for an hour already rolled up lands in a new minute row and is
 * rolled into the same hour row by the next pass.
 *
 * A pass also raises the recent-rows mark (metrics_ingest.h) to now -
 * recent_keep_s before deleting recent rows below it, which is what lets a
 * query trust recent rows from the mark on.
 *
 * Rows that cannot be merged into their hour row (the hour's count would
 * pass 2^64 - 1, its sums would overflow, or the row does not decode) stay
 * minute rows: still counted by queries, reported in the pass's `skipped`
 * and logged.
 */
#ifndef ROOSTD_METRICS_RETENTION_H
#define ROOSTD_METRICS_RETENTION_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "roost/status.h"
#include "store.h"

#define METRICS_DEFAULT_MINUTE_KEEP_S (14 * 86400)
#define METRICS_DEFAULT_HOUR_KEEP_S (400 * 86400)
#define METRICS_DEFAULT_RECENT_KEEP_S 86400
#define METRICS_DEFAULT_BATCH_ROWS 256
#define METRICS_DEFAULT_INTERVAL_S 60

struct metrics_retention_options {
    int64_t minute_keep_s; /* >= 1 h */
    int64_t hour_keep_s;   /* >= minute_keep_s */
    int64_t recent_keep_s; /* 0 (no recent rows) or >= 60 s */
    uint32_t batch_rows;   /* rows per write transaction, 1..100000 */
    uint32_t interval_s;   /* between passes of the background thread */
    uint32_t pause_us;     /* between two write transactions of a pass */
};

/* Fills o with the defaults above (pause 500 us). */
void metrics_retention_defaults(struct metrics_retention_options *o);

/* Fails with EINVAL and a message naming the roostd option to change. */
roost_status metrics_retention_check(const struct metrics_retention_options *o, roost_error *err);

/* What one pass did. */
struct metrics_retention_stats {
    uint64_t rolled_minutes;  /* minute rows merged into hour rows (and deleted) */
    uint64_t deleted_recent;  /* 1-second rows deleted */
    uint64_t deleted_hours;   /* hour rows deleted */
    uint64_t skipped;         /* minute rows that could not be rolled up */
    uint64_t transactions;    /* write transactions committed */
    uint64_t max_txn_rows;    /* most rows one write transaction changed */
};

/* Sets the recent-rows mark for a store: to now_s when recent rows are on
 * and it is absent or off (a new store, an upgraded one, or recent rows
 * switched back on), to METRICS_RECENT_OFF when recent_keep_s is 0.
 * Fails with the store's errors. */
roost_status metrics_retention_init(struct store *st, const struct metrics_retention_options *o,
                                    int64_t now_s, roost_error *err);

/* Runs one whole pass at time now_s, in batches (see above), in the calling
 * thread; stats (may be NULL) says what it did. *stop (may be NULL) is
 * checked between batches: when it becomes true the pass ends early, having
 * left the store consistent. Fails with the store's errors (the batch in
 * progress is aborted; every committed batch stays).
 * Not to be run by two threads at once on one store. */
roost_status metrics_retention_pass(struct store *st, const struct metrics_retention_options *o,
                                    int64_t now_s, const atomic_bool *stop,
                                    struct metrics_retention_stats *stats, roost_error *err);

/* The background thread: init, then one pass at start and every interval_s.
 * Failures of a pass are logged and retried at the next interval. */
struct metrics_retention;

/* Fails with EINVAL (options), ENOMEM, EINTERNAL (no thread), and
 * metrics_retention_init's errors. */
roost_status metrics_retention_start(struct store *st, const struct metrics_retention_options *o,
                                     struct metrics_retention **out, roost_error *err);
/* Stops the thread (a pass in progress ends after its current batch) and
 * frees it. NULL is fine. Call before store_close. */
void metrics_retention_stop(struct metrics_retention *r);

/* Parses a retention like "14d", "24h", "90m", "3600s", "1d12h" (units d, h,
 * m, s, each at most once, largest first) or "0" into seconds. false on
 * anything else or on overflow. */
bool metrics_duration_parse(const char *text, int64_t *seconds);

#endif
