/* Delivering outcome batches to roostd (Sync.Report), exactly once.
 *
 * One batch is in flight at a time. Batch n + 1 is taken only after batch
 * n was resolved, which is what lets roostd keep a small dedupe window per
 * client (server/metrics_ingest.h). A batch's fate depends on how its call
 * ended:
 *
 *  - OK: stored (or recognised as a duplicate): freed.
 *  - INVALID_ARGUMENT: roostd refused it and will always refuse it: freed,
 *    its outcomes counted as dropped (rejected) and reported as such, and
 *    logged with roostd's reason.
 *  - UNAUTHENTICATED, PERMISSION_DENIED, RESOURCE_EXHAUSTED, UNIMPLEMENTED,
 *    FAILED_PRECONDITION, NOT_FOUND, DATA_LOSS: roostd refused it before
 *    storing anything. Its outcomes are merged back into the open table and
 *    go out in the next batch, under a new sequence.
 *  - Anything else (UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED, INTERNAL,
 *    UNKNOWN, or a response that does not decode): ambiguous, roostd may
 *    have stored it. The batch is kept byte for byte and resent with the
 *    same sequence after a backoff, and again as soon as the Sync stream
 *    reconnects; roostd stores it or acknowledges it as a duplicate. Merging
 *    such a batch into the next one would count it twice if it had been
 *    stored, so outcomes recorded meanwhile wait in the open table instead.
 *
 * The fault hook (roost_client_inject_fault) discards successful responses
 * here, turning them into the ambiguous case after roostd committed.
 */
#ifndef ROOST_SDK_REPORTER_H
#define ROOST_SDK_REPORTER_H

#include <grpc/status.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aggregator.h"
#include "backoff.h"

struct roost_client;

struct reporter {
    struct roost_client *c;
    struct agg *agg;
    struct agg_batch inflight;
    bool have_inflight;
    bool call_active;
    uint64_t next_sequence;
    int64_t retry_at_ms; /* monotonic; when the in-flight batch may be resent */
    size_t max_batch_bytes;
    struct backoff backoff;
    _Atomic uint32_t drop_acks; /* fault injection */
    _Atomic uint64_t sent, acked, duplicates;
};

void reporter_init(struct reporter *r, struct roost_client *c, struct agg *agg,
                   size_t max_batch_bytes, uint32_t backoff_initial_ms, uint32_t backoff_max_ms,
                   uint64_t seed);
/* Frees a batch still held (close). */
void reporter_destroy(struct reporter *r);

/* Whether a Report call should start now; if so *bytes and *len are the request
 * (owned by the reporter, valid until reporter_done). */
bool reporter_next(struct reporter *r, int64_t now_ms, const uint8_t **bytes, size_t *len);

/* The call started by the last reporter_next ended. resp is the response
 * message on GRPC_STATUS_OK. */
void reporter_done(struct reporter *r, int64_t now_ms, grpc_status_code code, const char *details,
                   const uint8_t *resp, size_t len);

/* The stream reconnected: resend an in-flight batch now. */
void reporter_kick(struct reporter *r);

/* Nothing held: no batch in flight and nothing unsent. */
bool reporter_idle(const struct reporter *r);

#endif
