/* Report delivery state machine. See reporter.h for the rules.
 *
 * Runs on the background thread only (the counters are atomic so that
 * roost_client_get_stats may read them from anywhere).
 */
#include "reporter.h"

#include <stdlib.h>
#include <string.h>

#include "client_internal.h"
#include "wire.h"

void reporter_init(struct reporter *r, struct roost_client *c, struct agg *agg,
                   size_t max_batch_bytes, uint32_t backoff_initial_ms, uint32_t backoff_max_ms,
                   uint64_t seed)
{
    memset(r, 0, sizeof *r);
    r->c = c;
    r->agg = agg;
    r->next_sequence = 1;
    r->max_batch_bytes = max_batch_bytes;
    backoff_init(&r->backoff, backoff_initial_ms, backoff_max_ms, seed);
}

void reporter_destroy(struct reporter *r)
{
    if (r->have_inflight)
        agg_batch_return(r->agg, &r->inflight);
    r->have_inflight = false;
}

bool reporter_idle(const struct reporter *r)
{
    return !r->have_inflight && !r->call_active && !agg_has_unsent(r->agg);
}

void reporter_kick(struct reporter *r)
{
    r->retry_at_ms = 0;
}

/* Takes the next batch from the open table and encodes it. */
static bool take_batch(struct reporter *r)
{
    struct roost_client *c = r->c;
    struct agg_batch *b = &r->inflight;
    struct wire_aggregate *v = NULL;
    struct wire_report rep;
    roost_error err;

    if (!agg_take(r->agg, r->max_batch_bytes, b))
        return false;
    if (b->n && !(v = malloc(b->n * sizeof *v))) {
        agg_batch_return(r->agg, b);
        return false;
    }
    for (size_t i = 0; i < b->n; i++)
        agg_batch_view(r->agg, b, i, &v[i]);
    b->sequence = r->next_sequence++;
    rep.client_id = c->client_id;
    rep.sequence = b->sequence;
    rep.service = c->service;
    rep.environment = c->environment;
    rep.version = c->version;
    rep.aggs = v;
    rep.naggs = b->n;
    rep.dropped_memory = b->dropped_memory;
    rep.dropped_series = b->dropped_series;
    rep.dropped_rejected = b->dropped_rejected;
    if (wire_encode_report(&rep, &b->bytes, &b->len, &err) != ROOST_OK) {
        free(v);
        sdk_log(c, ROOST_LOG_ERROR, "cannot encode an outcome report: %s", err.msg);
        agg_batch_return(r->agg, b);
        return false;
    }
    free(v);
    agg_charge(r->agg, b->len);
    r->have_inflight = true;
    return true;
}

bool reporter_next(struct reporter *r, int64_t now_ms, const uint8_t **bytes, size_t *len)
{
    /* retry_at_ms gates new batches too: after a refusal the next batch
     * waits out the backoff instead of being refused in a tight loop. */
    if (r->call_active || now_ms < r->retry_at_ms)
        return false;
    if (!r->have_inflight && !take_batch(r))
        return false;
    r->call_active = true;
    atomic_fetch_add_explicit(&r->sent, 1, memory_order_relaxed);
    *bytes = r->inflight.bytes;
    *len = r->inflight.len;
    return true;
}

/* roostd refused the batch before storing anything. */
static bool refused_before_commit(grpc_status_code code)
{
    switch (code) {
    case GRPC_STATUS_UNAUTHENTICATED:
    case GRPC_STATUS_PERMISSION_DENIED:
    case GRPC_STATUS_RESOURCE_EXHAUSTED:
    case GRPC_STATUS_UNIMPLEMENTED:
    case GRPC_STATUS_FAILED_PRECONDITION:
    case GRPC_STATUS_NOT_FOUND:
    case GRPC_STATUS_DATA_LOSS:
        return true;
    default:
        return false;
    }
}

void reporter_done(struct reporter *r, int64_t now_ms, grpc_status_code code, const char *details,
                   const uint8_t *resp, size_t len)
{
    struct roost_client *c = r->c;
    struct agg_batch *b = &r->inflight;
    roost_error err;
    bool duplicate = false;
    uint32_t stored = 0;

    r->call_active = false;
    if (code == GRPC_STATUS_OK &&
        wire_decode_report_response(resp, len, &duplicate, &stored, &err) != ROOST_OK) {
        sdk_log(c, ROOST_LOG_WARN, "report %llu: %s; resending it",
                (unsigned long long)b->sequence, err.msg);
        code = GRPC_STATUS_UNKNOWN;
    }
    if (code == GRPC_STATUS_OK) {
        uint32_t n = atomic_load(&r->drop_acks);
        while (n && !atomic_compare_exchange_weak(&r->drop_acks, &n, n - 1))
            ;
        if (n) {
            sdk_log(c, ROOST_LOG_INFO,
                    "report %llu: acknowledgement discarded (fault injection); resending it",
                    (unsigned long long)b->sequence);
            code = GRPC_STATUS_UNAVAILABLE;
            details = "acknowledgement discarded by fault injection";
        }
    }

    if (code == GRPC_STATUS_OK) {
        atomic_fetch_add_explicit(&r->acked, 1, memory_order_relaxed);
        if (duplicate)
            atomic_fetch_add_explicit(&r->duplicates, 1, memory_order_relaxed);
        sdk_log(c, ROOST_LOG_DEBUG, "report %llu acknowledged (%u rows%s)",
                (unsigned long long)b->sequence, stored, duplicate ? ", duplicate" : "");
        agg_batch_acked(r->agg, b);
        r->have_inflight = false;
        backoff_reset(&r->backoff);
        return;
    }
    if (code == GRPC_STATUS_INVALID_ARGUMENT) {
        sdk_log(c, ROOST_LOG_ERROR,
                "roostd refused outcome report %llu (%llu outcomes, now counted as dropped): %s",
                (unsigned long long)b->sequence, (unsigned long long)b->outcomes, details);
        sdk_emit(c, ROOST_EVENT_ERROR, ROOST_EINVAL, NULL,
                 "roostd refused an outcome report: %s", details);
        agg_batch_rejected(r->agg, b);
        r->have_inflight = false;
        return;
    }
    r->retry_at_ms = now_ms + backoff_next(&r->backoff);
    if (refused_before_commit(code)) {
        sdk_log(c, ROOST_LOG_WARN,
                "roostd refused outcome report %llu (status %d: %s); its outcomes go out with "
                "the next report",
                (unsigned long long)b->sequence, (int)code, details);
        if (code == GRPC_STATUS_UNAUTHENTICATED || code == GRPC_STATUS_PERMISSION_DENIED ||
            code == GRPC_STATUS_UNIMPLEMENTED)
            sdk_emit(c, ROOST_EVENT_ERROR,
                     code == GRPC_STATUS_UNIMPLEMENTED ? ROOST_EUNAVAIL : ROOST_EAUTH, NULL,
                     "outcome reports are refused: %s", details);
        agg_batch_return(r->agg, b);
        r->have_inflight = false;
        return;
    }
    sdk_log(c, ROOST_LOG_DEBUG, "report %llu not acknowledged (status %d: %s); resending it",
            (unsigned long long)b->sequence, (int)code, details);
}
