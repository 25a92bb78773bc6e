/* roost.v1.Sync/Report: SDKs deliver pre-aggregated outcomes here. The
 * handler decodes the batch and hands it to metrics_ingest through the
 * group commit (metrics_group.h), which validates it and stores it exactly
 * once, sharing one fsync with the batches that arrive at the same time. A refused batch is
 * logged with the reason the SDK also receives, so an operator can tell a
 * misbehaving client from the server's side. */
#include <stdlib.h>
#include <time.h>

#include "log.h"
#include "metrics_group.h"
#include "roostd.h"

static void report(void *ctx, const struct rpc_request *req, struct rpc_reply *reply)
{
    struct roostd *d = ctx;
    Roost__V1__ReportRequest *in = roost__v1__report_request__unpack(NULL, req->len, req->data);
    Roost__V1__ReportResponse out = ROOST__V1__REPORT_RESPONSE__INIT;
    struct metrics_ingest_result res;
    roost_error err = {0};
    struct log_line l;

    if (!in) {
        rpc_reply_error(reply, GRPC_STATUS_INVALID_ARGUMENT, "ReportRequest cannot be decoded");
        return;
    }
    if (metrics_group_ingest(d->reports, in, (int64_t)time(NULL), &res, &err) != ROOST_OK) {
        log_begin(&l, err.code == ROOST_EINVAL ? LOG_WARN : LOG_ERROR, "report_rejected");
        log_str(&l, "client_id", in->client_id);
        log_u64(&l, "sequence", in->sequence);
        log_str(&l, "actor", req->caller);
        log_str(&l, "error", err.msg);
        log_end(&l);
        rpc_reply_error(reply, rpc_code_from_status(err.code), "%s", err.msg);
    } else {
        log_begin(&l, LOG_DEBUG, res.duplicate ? "report_duplicate" : "report");
        log_str(&l, "client_id", in->client_id);
        log_u64(&l, "sequence", in->sequence);
        log_u64(&l, "stored", res.stored);
        log_end(&l);
        out.duplicate = res.duplicate;
        out.stored = res.stored;
        RPC_REPLY_PACK(reply, roost__v1__report_response, &out);
    }
    roost__v1__report_request__free_unpacked(in, NULL);
}

roost_status api_report_register(struct roostd *d, roost_error *err)
{
    const struct rpc_method m = {"/roost.v1.Sync/Report", RPC_AUTH_SDK, report, NULL, d};

    return rpc_server_add_methods(d->rpc, &m, 1, err);
}
