/* Outcome metrics: storing the aggregates SDKs send with Sync.Report.
 *
 * Every aggregate is merged by addition into one row per
 *   (scope kind, scope key, arm, metric, labels, minute)
 * of TBL_METRICS: counts, sums and successes add, latency sketches merge
 * bucket by bucket (include/roost/sketch.h), so any number of clients, and
 * any split of their intervals into batches, give the same row.
 *
 * Exactly once: a batch is identified by (client id, sequence). Its rows
 * and its dedupe marker in TBL_REPORTS_SEEN are written in one LMDB write
 * transaction, so either both are stored or neither; a batch whose marker
 * exists is acknowledged again without being added. Reports are not
 * configuration: they commit with store_commit and never bump the revision.
 *
 * Key layout of TBL_METRICS (all strings without NUL bytes, each followed by
 * one NUL, so byte order is (kind, scope, arm, metric, labels) order and a
 * string is never a prefix of another's encoding):
 *
 *   u8 scope_kind | scope_key \0 | arm \0 | metric \0 |
 *   service \0 | environment \0 | version \0 | u64 minute (big-endian)
 *
 * Everything before the minute is the series prefix: the rows of one
 * series are adjacent and sorted by minute, so "minutes [a, b] of one
 * series" is one cursor walk (store_iter_open on the prefix, then
 * store_iter_seek to the first minute). A prefix ending after the scope key
 * walks every arm, metric and label set of one scope.
 *
 * Value layout (little-endian, fixed header, then the sketch):
 *
 *   u8 format (METRICS_ROW_FORMAT) | u64 count | u64 successes |
 *   f64 sum | f64 sum_squares | sketch encoding (the rest; empty = none)
 *
 * Three resolutions, one key and value layout (docs/metrics.md):
 *
 *   TBL_METRICS         minute rows, as above: every aggregate, kept
 *                       --metrics-minute-retention (14 days), then rolled up.
 *   TBL_METRICS_HOURS   hour rows: the u64 is unix seconds / 3600. Minute
 *                       rows of whole hours older than the minute retention
 *                       are merged in and deleted in the same transaction
 *                       (metrics_retention.c), so every outcome is in exactly
 *                       one of TBL_METRICS and TBL_METRICS_HOURS at any time;
 *                       a query reads both.
 *   TBL_METRICS_RECENT  1-second rows of ROLLOUT scopes only: the u64 is the
 *                       unix second in which the SDK's aggregation interval
 *                       ended (OutcomeAggregate.end_unix_ms; unknown = the
 *                       last second of the minute; clamped into the minute
 *                       and the one after it). A copy, not a move: the same
 *                       aggregate is in the minute row too. Written by the
 *                       same transaction as the minute row.
 *
 * Recent-rows invariant: TBL_META "metrics_recent_from" (u64 BE unix
 * seconds) is the first second from which TBL_METRICS_RECENT is complete.
 * Ingest writes a recent row exactly when its second is >= the mark; the
 * retention thread only ever raises the mark (to now - retention) and only
 * deletes rows below it. So a window [from, to) with from >= the mark (read
 * in the same transaction) is answered exactly by recent rows alone. Absent
 * (a store from before recent rows) or METRICS_RECENT_OFF: none are written;
 * metrics_retention_start sets it to its start time.
 *
 * The SDK's own counters of outcomes it had to drop are rows too: scope
 * kind 0 (UNSPECIFIED), empty scope key and arm, metric "dropped.<reason>",
 * count = outcomes dropped, at the minute the batch arrived.
 *
 * Dedupe markers (TBL_REPORTS_SEEN) take two keys per batch:
 *   'c' | client id \0 | u64 sequence (BE)  -> u64 unix seconds stored (BE)
 *   't' | u64 unix seconds (BE) | client id \0 | u64 sequence (BE) -> empty
 * The 'c' keys answer "was this batch stored?"; the 't' keys, ordered by
 * time, let each ingest expire a bounded number of markers older than
 * METRICS_SEEN_TTL_S. An SDK sends batch n + 1 only after batch n was
 * acknowledged, so per client only the last METRICS_SEEN_WINDOW markers
 * are kept, and a sequence below the oldest kept marker is a stale retry
 * of a batch that was stored (acknowledged as a duplicate).
 */
#ifndef ROOSTD_METRICS_INGEST_H
#define ROOSTD_METRICS_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "roost/client.h"
#include "roost/status.h"
#include "roost/v1/roost.pb-c.h"
#include "store.h"

#define METRICS_ROW_FORMAT 1
#define METRICS_ROW_HEADER 33
/* Largest key: kind, scope, arm, metric, three labels (limits shared with
 * the SDK, include/roost/client.h), their NULs and the minute: 463 bytes,
 * within LMDB's 511-byte key limit. */
#define METRICS_KEY_MAX                                                                    \
    (1 + (ROOST_SCOPE_KEY_MAX + 1) + (ROOST_ARM_MAX + 1) + (ROOST_METRIC_MAX + 1) +       \
     3 * (ROOST_LABEL_MAX + 1) + 8)
/* Sketch capacity rows are merged at. SDKs send at most 512 buckets; the
 * server keeps more so that merging many clients rarely collapses. */
#define METRICS_SKETCH_CAP 2048
/* Dedupe markers: kept per client, and for how long at most. */
#define METRICS_SEEN_WINDOW 64
#define METRICS_SEEN_TTL_S (24 * 3600)
/* Markers expired per ingest (bounded work per transaction). */
#define METRICS_SEEN_SWEEP 32
/* Aggregates in one batch; the SDK cuts its batches well below this. */
#define METRICS_MAX_AGGREGATES 65536
/* Minutes more than this far ahead of roostd's clock are refused. */
#define METRICS_MAX_FUTURE_MINUTES (24 * 60)
/* The recent-rows mark when recent rows are switched off (or never were). */
#define METRICS_RECENT_OFF INT64_MAX
#define METRICS_RECENT_FROM_KEY "metrics_recent_from"

/* One series: what a row is about, without the minute. */
struct metrics_series {
    uint8_t scope_kind;
    const char *scope_key;
    const char *arm;
    const char *metric;
    const char *service;
    const char *environment;
    const char *version;
};

/* A decoded row. sketch points into the value (valid as long as it is). */
struct metrics_row {
    uint64_t count;
    uint64_t successes;
    double sum;
    double sum_squares;
    const uint8_t *sketch;
    size_t sketch_len;
};

/* Writes the key of (series, minute) into out (METRICS_KEY_MAX bytes) and
 * returns its length; *prefix_len receives the length of the series prefix
 * (the key without the minute). Returns 0 when a string is too long. */
size_t metrics_key_encode(const struct metrics_series *s, int64_t minute,
                          uint8_t out[METRICS_KEY_MAX], size_t *prefix_len);

/* Splits a key into its series (strings point into a copy the caller
 * provides: buf of at least len bytes) and minute. false when malformed. */
bool metrics_key_decode(const void *key, size_t len, char *buf, struct metrics_series *s,
                        int64_t *minute);

/* Decodes a value. ECORRUPT when it is not a row of a known format. */
roost_status metrics_row_decode(const void *val, size_t len, struct metrics_row *out,
                                roost_error *err);

/* Scratch memory for merging rows: two METRICS_SKETCH_CAP sketches and a
 * value buffer. One per thread; reused for every row. */
struct metrics_merger;

/* Fails with ENOMEM. */
roost_status metrics_merger_new(struct metrics_merger **out, roost_error *err);
void metrics_merger_free(struct metrics_merger *m);

/* Adds `add` (counts, sums, and its encoded sketch, if any) into the row
 * stored under key in tbl, creating it when absent. `where` names the data
 * in messages ("aggregates[3] (...)", a row key). On any error nothing is
 * written. Fails with: EINVAL (add's sketch does not decode or holds more
 * values than its count; the merged count, a sum or the sketch's sum would
 * overflow), ECORRUPT (the stored row does not decode), and the store's
 * errors. */
roost_status metrics_row_add(struct store_txn *t, struct metrics_merger *m, enum store_table tbl,
                             const uint8_t *key, size_t klen, const struct metrics_row *add,
                             const char *where, roost_error *err);

/* The recent-rows mark (see above) as seen by t: METRICS_RECENT_OFF when
 * absent. Fails with the store's errors, ECORRUPT when malformed. */
roost_status metrics_recent_from(struct store_txn *t, int64_t *out, roost_error *err);
/* Sets it (write transaction). Callers keep it non-decreasing, except from
 * METRICS_RECENT_OFF (when every recent row is gone or below it). */
roost_status metrics_recent_from_set(struct store_txn *t, int64_t second, roost_error *err);

/* The second a ROLLOUT aggregate is filed under in TBL_METRICS_RECENT (see
 * above). a->minute must be valid. */
int64_t metrics_recent_second(int64_t minute, int64_t end_unix_ms);

struct metrics_ingest_result {
    bool duplicate;  /* already stored: nothing was added */
    uint32_t stored; /* rows written (aggregates + dropped counters) */
};

/* Validates and stores one batch in one write transaction (see above).
 * now_unix is roostd's clock (seconds), used for dropped counters, dedupe
 * marker times and the future-minute check.
 * ROLLOUT aggregates are also added to their 1-second row when its second is
 * at or after the recent-rows mark.
 * Fails with: EINVAL (the batch is malformed: a missing client id or
 * sequence, a string too long or with a NUL, an unknown scope kind, a count
 * of 0, successes above count, a NaN or infinite sum, a negative
 * end_unix_ms, a sketch that does not decode, a count, sum or sketch sum
 * that would overflow when merged; the message names the aggregate and the
 * field, and nothing is stored), and the store's errors (EIO, ELIMIT when
 * the store is full). */
roost_status metrics_ingest(struct store *st, const Roost__V1__ReportRequest *req, int64_t now_unix,
                            struct metrics_ingest_result *out, roost_error *err);

/* The checks metrics_ingest makes before it touches the store (EINVAL,
 * with the message it would give). CPU only: callers that queue batches
 * run them in parallel first (metrics_group.c). */
roost_status metrics_ingest_check(const Roost__V1__ReportRequest *req, int64_t now_unix,
                                  roost_error *err);

/* One batch of several stored together: req, now_unix and checked in, the
 * rest out (rc and err are metrics_ingest's return value and error for it). */
struct metrics_ingest_job {
    const Roost__V1__ReportRequest *req;
    int64_t now_unix;
    bool checked; /* metrics_ingest_check passed already */
    struct metrics_ingest_result out;
    roost_status rc;
    roost_error err;
};

/* Stores n batches in one write transaction, so one fsync serves them all
 * (metrics_group.h queues concurrent Report calls into such groups). Each
 * job ends as metrics_ingest would have left it alone: a batch that fails
 * validation is refused by itself; when one fails in the store (a merge
 * that would overflow), nothing of the transaction is kept and every batch
 * is stored on its own, so the failure stays that batch's; a store error
 * (EIO, a full map) is every batch's. A batch repeated within the group is
 * a duplicate from its second copy on, as it would be one after another. */
void metrics_ingest_many(struct store *st, struct metrics_ingest_job *const *jobs, size_t n);

#endif
