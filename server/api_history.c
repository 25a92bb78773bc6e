/* roost.v1.Admin RolloutHistory and ExperimentHistory: the decision
 * records of one rollout or experiment, newest first, a page at a time.
 * Both kinds are stored alike (resources.c), so one handler serves both. */
#include <stdlib.h>

#include "experiments.h"
#include "resources.h"
#include "rollouts.h"
#include "roostd.h"

void api_reply_error(struct rpc_reply *reply, const roost_error *err)
{
    rpc_reply_error(reply, rpc_code_from_status(err->code), "%s", err->msg);
}

/* ROOST_OK when name is a rollout (or experiment) roostd has now;
 * ENOTFOUND, with a message naming it, when it has none. */
static roost_status exists(struct roostd *d, Roost__V1__ScopeKind kind, const char *name,
                           roost_error *err)
{
    roost_status rc;

    if (kind == ROOST__V1__SCOPE_KIND__SCOPE_KIND_ROLLOUT) {
        Roost__V1__RolloutInfo *info;
        if ((rc = rollouts_info(d->rollouts, name, &info, err)) == ROOST_OK)
            rollouts_info_free(info);
    } else {
        Roost__V1__ExperimentInfo *info;
        if ((rc = experiments_info(d->experiments, name, false, &info, err)) == ROOST_OK)
            experiments_info_free(info);
    }
    return rc;
}

static void history(struct roostd *d, Roost__V1__ScopeKind kind, const struct rpc_request *req,
                    struct rpc_reply *reply)
{
    Roost__V1__HistoryRequest *in = roost__v1__history_request__unpack(NULL, req->len, req->data);
    Roost__V1__HistoryResponse out = ROOST__V1__HISTORY_RESPONSE__INIT;
    roost_error err = {0};
    roost_status rc;

    if (!in) {
        rpc_reply_error(reply, GRPC_STATUS_INVALID_ARGUMENT, "HistoryRequest cannot be decoded");
        return;
    }
    rc = resources_history(d->store, kind, in->name, in->limit, in->before_seq, &out.decisions,
                           &out.n_decisions, &err);
    /* The history of a name that was never applied is an error, not an
     * empty list: a typo should not look like a quiet rollout. One that
     * was removed since keeps its history readable. */
    if (rc == ROOST_OK && out.n_decisions == 0 && in->before_seq == 0)
        rc = exists(d, kind, in->name, &err);
    if (rc != ROOST_OK)
        api_reply_error(reply, &err);
    else
        RPC_REPLY_PACK(reply, roost__v1__history_response, &out);
    for (size_t i = 0; i < out.n_decisions; i++)
        roost__v1__decision__free_unpacked(out.decisions[i], NULL);
    free(out.decisions);
    roost__v1__history_request__free_unpacked(in, NULL);
}

static void rollout_history(void *ctx, const struct rpc_request *req, struct rpc_reply *reply)
{
    history(ctx, ROOST__V1__SCOPE_KIND__SCOPE_KIND_ROLLOUT, req, reply);
}

static void experiment_history(void *ctx, const struct rpc_request *req, struct rpc_reply *reply)
{
    history(ctx, ROOST__V1__SCOPE_KIND__SCOPE_KIND_EXPERIMENT, req, reply);
}

roost_status api_history_register(struct roostd *d, roost_error *err)
{
    const struct rpc_method methods[] = {
        {"/roost.v1.Admin/RolloutHistory", RPC_AUTH_ADMIN, rollout_history, NULL, d},
        {"/roost.v1.Admin/ExperimentHistory", RPC_AUTH_ADMIN, experiment_history, NULL, d},
    };

    return rpc_server_add_methods(d->rpc, methods, sizeof methods / sizeof methods[0], err);
}
