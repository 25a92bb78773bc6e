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

struct metrics_ingest_result {
    bool duplicate;  /* already stored: nothing was added */
    uint32_t stored; /* rows written (aggregates + dropped counters) */
};

/* Validates and stores one batch in one write transaction (see above).
 * now_unix is roostd's clock (seconds), used for dropped counters, dedupe
 * marker times and the future-minute check.
 * Fails with: EINVAL (the batch is malformed: a missing client id or
 * sequence, a string too long or with a NUL, an unknown scope kind, a count
 * of 0, successes above count, a NaN or infinite sum, a sketch that does not
 * decode, a sum that would overflow when merged; the message names the
 * aggregate and the field, and nothing is stored), and the store's errors
 * (EIO, ELIMIT when the store is full). */
roost_status metrics_ingest(struct store *st, const Roost__V1__ReportRequest *req, int64_t now_unix,
                            struct metrics_ingest_result *out, roost_error *err);

#endif
