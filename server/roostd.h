/* The running server: its configuration and the components every service
 * handler reaches. main.c builds one; the api_*.c files register their
 * methods against it. */
#ifndef ROOSTD_ROOSTD_H
#define ROOSTD_ROOSTD_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "auth.h"
#include "hub.h"
#include "metrics_group.h"
#include "metrics_retention.h"
#include "roost/status.h"
#include "rpc.h"
#include "store.h"

struct roostd_config {
    const char *data_dir;
    const char *listen;
    const char *admin_token_file;
    const char *sdk_token_file;
    const char *ready_file;
    const char *log_level;
    size_t max_document_bytes;
    uint64_t changelog_keep;
    size_t store_max_mb;
    uint64_t max_subscriber_lag;
    int threads;
    int shutdown_grace_ms;
    int stream_keepalive_s;
    int64_t experiment_interval_ms;
    /* --metrics-{minute,hour,recent}-retention (metrics_retention.h). */
    struct metrics_retention_options metrics;
};

struct roostd {
    struct roostd_config cfg;
    struct auth_tokens admin_tokens;
    struct auth_tokens sdk_tokens;
    struct store *store;
    struct hub *hub;
    struct evaluator *evaluator;
    struct rollouts *rollouts;
    struct experiments *experiments;
    struct rpc_server *rpc;
    struct metrics_retention *retention; /* background compaction of metric rows */
    struct metrics_group *reports;       /* Report batches, committed in groups */
    time_t started;
    _Atomic uint64_t applies;
};

roost_status api_admin_register(struct roostd *d, roost_error *err);
roost_status api_sync_register(struct roostd *d, roost_error *err);
/* Sync/Report: outcome aggregates from SDKs (api_report.c, metrics_ingest.c). */
roost_status api_report_register(struct roostd *d, roost_error *err);
/* Admin/QueryMetrics: stored outcome metrics (api_metrics.c, metrics_query.c). */
roost_status api_metrics_register(struct roostd *d, roost_error *err);
roost_status api_health_register(struct roostd *d, roost_error *err);
roost_status api_flagd_eval_register(struct roostd *d, roost_error *err);
roost_status api_flagd_sync_register(struct roostd *d, roost_error *err);
roost_status api_rollouts_register(struct roostd *d, roost_error *err);
roost_status api_experiments_register(struct roostd *d, roost_error *err);
/* Ends long-lived health watches (shutdown). */
void api_health_close_all(struct roostd *d);

/* Replies with err's message and the gRPC code for its status. */
void api_reply_error(struct rpc_reply *reply, const roost_error *err);

/* Admin.RolloutHistory and Admin.ExperimentHistory (api_history.c). */
roost_status api_history_register(struct roostd *d, roost_error *err);

/* Packs a protobuf-c message into reply->data. */
#define RPC_REPLY_PACK(reply, prefix, msg)                                                       \
    do {                                                                                         \
        (reply)->len = prefix##__get_packed_size(msg);                                           \
        (reply)->data = malloc((reply)->len ? (reply)->len : 1);                                 \
        if (!(reply)->data)                                                                      \
            rpc_reply_error((reply), GRPC_STATUS_RESOURCE_EXHAUSTED, "roostd is out of memory"); \
        else                                                                                     \
            prefix##__pack((msg), (reply)->data);                                                \
    } while (0)

#endif
