/* Group commit for Report batches: concurrent Sync.Report calls share one
 * durable LMDB commit.
 *
 * Each batch's commit waits for an fsync, which is what bounds ingest on a
 * disk (docs/BENCHMARKS.md, "Report batches roostd ingests"). A caller
 * queues its batch; if no commit is in progress it becomes the leader and
 * stores everything queued so far in one transaction (metrics_ingest_many),
 * and the batches that arrive meanwhile form the next group. Nobody waits
 * for a group to fill: a lone batch is committed at once, as before; under
 * load each fsync carries as many batches as arrived during the previous
 * one. Every caller returns only after its own batch is durable (or
 * refused), so the exactly-once contract of metrics_ingest.h is unchanged.
 *
 * Bounded: at most METRICS_GROUP_MAX batches per commit and in the queue;
 * a caller finding the queue full waits for room. Callers are gRPC worker
 * threads, so in practice the queue holds at most one batch per worker.
 */
#ifndef ROOSTD_METRICS_GROUP_H
#define ROOSTD_METRICS_GROUP_H

#include <stdint.h>

#include "metrics_ingest.h"

#define METRICS_GROUP_MAX 64

struct metrics_group;

struct metrics_group_stats {
    uint64_t batches; /* stored or refused through the group */
    uint64_t commits; /* transactions they took */
};

/* st is borrowed and must outlive the group. Errors: ENOMEM, EINTERNAL. */
roost_status metrics_group_new(struct store *st, struct metrics_group **out, roost_error *err);
/* After every caller has returned. */
void metrics_group_free(struct metrics_group *g);

/* metrics_ingest through the group: same results, same errors. */
roost_status metrics_group_ingest(struct metrics_group *g, const Roost__V1__ReportRequest *req,
                                  int64_t now_unix, struct metrics_ingest_result *out,
                                  roost_error *err);

void metrics_group_get_stats(struct metrics_group *g, struct metrics_group_stats *out);

#endif
