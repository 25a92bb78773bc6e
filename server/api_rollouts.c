/* roost.v1.Admin rollout methods: commands from people and status (the
 * history is api_history.c's). The decisions themselves are the
 * controller's (rollouts.c). */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rollouts.h"
#include "roostd.h"

static void pack_info(const char *name, struct roostd *d, struct rpc_reply *reply)
{
    Roost__V1__RolloutInfo *info;
    roost_error err = {0};

    if (rollouts_info(d->rollouts, name, &info, &err) != ROOST_OK) {
        api_reply_error(reply, &err);
        return;
    }
    RPC_REPLY_PACK(reply, roost__v1__rollout_info, info);
    rollouts_info_free(info);
}

static void admin_rollout_command(void *ctx, const struct rpc_request *req, struct rpc_reply *reply)
{
    struct roostd *d = ctx;
    Roost__V1__RolloutCommandRequest *in =
        roost__v1__rollout_command_request__unpack(NULL, req->len, req->data);
    roost_error err = {0};
    struct log_line l;

    if (!in) {
        rpc_reply_error(reply, GRPC_STATUS_INVALID_ARGUMENT,
                        "RolloutCommandRequest cannot be decoded");
        return;
    }
    log_begin(&l, LOG_INFO, "rollout_command");
    log_str(&l, "rollout", in->name);
    log_str(&l, "command", in->command);
    log_str(&l, "actor", req->caller);
    log_end(&l);
    if (rollouts_command(d->rollouts, in->name, in->command, req->caller, in->reason, &err) !=
        ROOST_OK)
        api_reply_error(reply, &err);
    else
        pack_info(in->name, d, reply);
    roost__v1__rollout_command_request__free_unpacked(in, NULL);
}

static void admin_get_rollout(void *ctx, const struct rpc_request *req, struct rpc_reply *reply)
{
    Roost__V1__GetRolloutRequest *in =
        roost__v1__get_rollout_request__unpack(NULL, req->len, req->data);

    if (!in) {
        rpc_reply_error(reply, GRPC_STATUS_INVALID_ARGUMENT, "GetRolloutRequest cannot be decoded");
        return;
    }
    pack_info(in->name, ctx, reply);
    roost__v1__get_rollout_request__free_unpacked(in, NULL);
}

static void admin_list_rollouts(void *ctx, const struct rpc_request *req, struct rpc_reply *reply)
{
    struct roostd *d = ctx;
    Roost__V1__ListRolloutsResponse out = ROOST__V1__LIST_ROLLOUTS_RESPONSE__INIT;
    roost_error err = {0};
    char **names;
    size_t n;

    (void)req;
    if (rollouts_names(d->rollouts, &names, &n, &err) != ROOST_OK) {
        api_reply_error(reply, &err);
        return;
    }
    out.rollouts = calloc(n + 1, sizeof *out.rollouts);
    for (size_t i = 0; out.rollouts && i < n; i++) {
        if (rollouts_info(d->rollouts, names[i], &out.rollouts[out.n_rollouts], &err) == ROOST_OK)
            out.n_rollouts++;
    }
    if (!out.rollouts)
        rpc_reply_error(reply, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    else
        RPC_REPLY_PACK(reply, roost__v1__list_rollouts_response, &out);
    for (size_t i = 0; i < out.n_rollouts; i++)
        rollouts_info_free(out.rollouts[i]);
    free(out.rollouts);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

roost_status api_rollouts_register(struct roostd *d, roost_error *err)
{
    const struct rpc_method methods[] = {
        {"/roost.v1.Admin/RolloutCommand", RPC_AUTH_ADMIN, admin_rollout_command, NULL, d},
        {"/roost.v1.Admin/GetRollout", RPC_AUTH_ADMIN, admin_get_rollout, NULL, d},
        {"/roost.v1.Admin/ListRollouts", RPC_AUTH_ADMIN, admin_list_rollouts, NULL, d},
    };

    return rpc_server_add_methods(d->rpc, methods, sizeof methods / sizeof methods[0], err);
}
