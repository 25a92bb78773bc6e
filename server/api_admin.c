/* roost.v1.Admin: apply documents, read and delete flags, server status.
 * Every mutating call is logged with the caller's token name (never the
 * token) and the revision it produced. */
#include <stdlib.h>
#include <string.h>

#include "document.h"
#include "flags.h"
#include "log.h"
#include "roost/version.h"
#include "experiments.h"
#include "rollouts.h"
#include "roostd.h"

static void reply_status(struct rpc_reply *reply, const roost_error *err)
{
    rpc_reply_error(reply, rpc_code_from_status(err->code), "%s", err->msg);
}

static void admin_apply(void *ctx, const struct rpc_request *req, struct rpc_reply *reply)
{
    struct roostd *d = ctx;
    Roost__V1__ApplyRequest *in;
    Roost__V1__ApplyResponse out;
    struct flag_doc doc = {0};
    roost_error err = {0};
    struct log_line l;
    const char *source;

    if (!(in = roost__v1__apply_request__unpack(NULL, req->len, req->data))) {
        rpc_reply_error(reply, GRPC_STATUS_INVALID_ARGUMENT, "ApplyRequest cannot be decoded");
        return;
    }
    source = in->source_name && in->source_name[0] ? in->source_name : "document";
    if (document_parse(in->document.data, in->document.len, d->cfg.max_document_bytes, source,
                       &doc, &err) != ROOST_OK ||
        flags_apply(d->store, d->hub, &doc, in->dry_run, req->caller, &out, &err) != ROOST_OK) {
        log_begin(&l, LOG_WARN, "apply_rejected");
        log_str(&l, "source", source);
        log_str(&l, "actor", req->caller);
        log_str(&l, "error", err.msg);
        log_end(&l);
        reply_status(reply, &err);
        flag_doc_free(&doc);
        roost__v1__apply_request__free_unpacked(in, NULL);
        return;
    }
    if (!in->dry_run) {
        atomic_fetch_add(&d->applies, 1);
        if (out.n_rollouts_added + out.n_rollouts_changed + out.n_probes_added +
            out.n_probes_changed + out.n_probes_removed)
            rollouts_kick(d->rollouts, out.n_probes_added + out.n_probes_changed +
                                           out.n_probes_removed > 0);
    }
    log_begin(&l, LOG_INFO, in->dry_run ? "apply_dry_run" : "apply");
    log_str(&l, "source", source);
    log_str(&l, "flag_set", out.flag_set);
    log_str(&l, "actor", req->caller);
    log_u64(&l, "revision", out.revision);
    log_u64(&l, "added", out.n_added);
    log_u64(&l, "changed", out.n_changed);
    log_u64(&l, "removed", out.n_removed);
    log_u64(&l, "rollouts_added", out.n_rollouts_added);
    log_u64(&l, "rollouts_changed", out.n_rollouts_changed);
    log_u64(&l, "rollouts_removed", out.n_rollouts_removed);
    log_u64(&l, "probes_changed", out.n_probes_added + out.n_probes_changed + out.n_probes_removed);
    log_u64(&l, "warnings", out.n_warnings);
    log_end(&l);
    RPC_REPLY_PACK(reply, roost__v1__apply_response, &out);
    flags_apply_response_free(&out);
    flag_doc_free(&doc);
    roost__v1__apply_request__free_unpacked(in, NULL);
}

static void admin_get_flag(void *ctx, const struct rpc_request *req, struct rpc_reply *reply)
{
    struct roostd *d = ctx;
    Roost__V1__GetFlagRequest *in;
    Roost__V1__GetFlagResponse out = ROOST__V1__GET_FLAG_RESPONSE__INIT;
    Roost__Storage__V1__FlagRecord *rec;
    roost_error err = {0};

    if (!(in = roost__v1__get_flag_request__unpack(NULL, req->len, req->data))) {
        rpc_reply_error(reply, GRPC_STATUS_INVALID_ARGUMENT, "GetFlagRequest cannot be decoded");
        return;
    }
    if (flags_get(d->store, in->key, &rec, &err) != ROOST_OK) {
        reply_status(reply, &err);
    } else {
        out.flag = rec->flag;
        out.summary = rec->summary;
        RPC_REPLY_PACK(reply, roost__v1__get_flag_response, &out);
        roost__storage__v1__flag_record__free_unpacked(rec, NULL);
    }
    roost__v1__get_flag_request__free_unpacked(in, NULL);
}

static void admin_list_flags(void *ctx, const struct rpc_request *req, struct rpc_reply *reply)
{
    struct roostd *d = ctx;
    Roost__V1__ListFlagsRequest *in;
    roost_error err = {0};
    uint32_t count;

    if (!(in = roost__v1__list_flags_request__unpack(NULL, req->len, req->data))) {
        rpc_reply_error(reply, GRPC_STATUS_INVALID_ARGUMENT, "ListFlagsRequest cannot be decoded");
        return;
    }
    if (flags_list(d->store, in->flag_set, &reply->data, &reply->len, &count, &err) != ROOST_OK)
        reply_status(reply, &err);
    roost__v1__list_flags_request__free_unpacked(in, NULL);
}

static void admin_delete_flag(void *ctx, const struct rpc_request *req, struct rpc_reply *reply)
{
    struct roostd *d = ctx;
    Roost__V1__DeleteFlagRequest *in;
    Roost__V1__DeleteFlagResponse out = ROOST__V1__DELETE_FLAG_RESPONSE__INIT;
    roost_error err = {0};
    struct log_line l;

    if (!(in = roost__v1__delete_flag_request__unpack(NULL, req->len, req->data))) {
        rpc_reply_error(reply, GRPC_STATUS_INVALID_ARGUMENT, "DeleteFlagRequest cannot be decoded");
        return;
    }
    if (flags_delete(d->store, d->hub, in->key, req->caller, &out.revision, &err) != ROOST_OK) {
        reply_status(reply, &err);
    } else {
        log_begin(&l, LOG_INFO, "flag_delete");
        log_str(&l, "key", in->key);
        log_str(&l, "actor", req->caller);
        log_u64(&l, "revision", out.revision);
        log_end(&l);
        RPC_REPLY_PACK(reply, roost__v1__delete_flag_response, &out);
    }
    roost__v1__delete_flag_request__free_unpacked(in, NULL);
}

static void admin_status(void *ctx, const struct rpc_request *req, struct rpc_reply *reply)
{
    struct roostd *d = ctx;
    Roost__V1__StatusResponse out = ROOST__V1__STATUS_RESPONSE__INIT;
    struct hub_stats hs;
    char store_hex[2 * STORE_ID_LEN + 1];

    (void)req;
    hub_get_stats(d->hub, &hs);
    out.version = (char *)ROOST_VERSION;
    out.revision = store_revision(d->store);
    out.uptime_seconds = (uint64_t)(time(NULL) - d->started);
    out.subscribers = hs.subscribers;
    out.store_bytes = store_size_bytes(d->store);
    out.log_first_revision = store_log_first(d->store);
    out.flags = flags_count(d->store);
    out.snapshots_sent = hs.snapshots_sent;
    out.changes_sent = hs.changes_sent;
    out.resyncs = hs.resyncs;
    out.applies = atomic_load(&d->applies);
    out.data_dir = (char *)d->cfg.data_dir;
    {
        static const char hex[] = "0123456789abcdef";
        const uint8_t *id = store_id(d->store);
        struct metrics_group_stats gs;
        for (int i = 0; i < STORE_ID_LEN; i++) {
            store_hex[2 * i] = hex[id[i] >> 4];
            store_hex[2 * i + 1] = hex[id[i] & 15];
        }
        store_hex[2 * STORE_ID_LEN] = '\0';
        out.store_id = store_hex;
        metrics_group_get_stats(d->reports, &gs);
        out.report_batches = gs.batches;
        out.report_commits = gs.commits;
    }
    {
        struct store_txn t;
        roost_error err;
        if (store_begin(d->store, false, &t, &err) == ROOST_OK) {
            out.hooks_pending = store_table_entries(&t, TBL_HOOK_OUTBOX);
            store_abort(&t);
        }
    }
    {
        struct probe_status ps[64];
        Roost__V1__ProbeStatus pm[64], *pp[64];
        size_t n = rollouts_probe_states(d->rollouts, ps, 64);
        char **names;
        size_t nr;
        roost_error err;

        if (n > 64)
            n = 64;
        for (size_t i = 0; i < n; i++) {
            roost__v1__probe_status__init(&pm[i]);
            pm[i].name = ps[i].name;
            pm[i].state = (char *)probe_state_name(ps[i].state);
            pm[i].circuit = (char *)probe_circuit_name(ps[i].circuit);
            pm[i].latency_ms = ps[i].latency_ms;
            pm[i].consecutive_failures = ps[i].consecutive_failures;
            pm[i].since_unix_ms = ps[i].since_ms;
            pm[i].detail = ps[i].detail;
            pp[i] = &pm[i];
        }
        out.n_probes = n;
        out.probes = pp;
        if (rollouts_names(d->rollouts, &names, &nr, &err) == ROOST_OK) {
            out.rollouts = (uint32_t)nr;
            for (size_t i = 0; i < nr; i++)
                free(names[i]);
            free(names);
        }
        if (experiments_names(d->experiments, &names, &nr, &err) == ROOST_OK) {
            out.experiments = (uint32_t)nr;
            for (size_t i = 0; i < nr; i++)
                free(names[i]);
            free(names);
        }
        RPC_REPLY_PACK(reply, roost__v1__status_response, &out);
    }
}

roost_status api_admin_register(struct roostd *d, roost_error *err)
{
    const struct rpc_method methods[] = {
        {"/roost.v1.Admin/Apply", RPC_AUTH_ADMIN, admin_apply, NULL, d},
        {"/roost.v1.Admin/GetFlag", RPC_AUTH_ADMIN, admin_get_flag, NULL, d},
        {"/roost.v1.Admin/ListFlags", RPC_AUTH_ADMIN, admin_list_flags, NULL, d},
        {"/roost.v1.Admin/DeleteFlag", RPC_AUTH_ADMIN, admin_delete_flag, NULL, d},
        {"/roost.v1.Admin/Status", RPC_AUTH_ADMIN, admin_status, NULL, d},
    };

    return rpc_server_add_methods(d->rpc, methods, sizeof methods / sizeof methods[0], err);
}
