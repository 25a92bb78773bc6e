/* roost.v1.Admin experiment methods: lifecycle commands and results. The
 * analysis and its records are the controller's (experiments.c). */
#include <stdlib.h>

#include "experiments.h"
#include "log.h"
#include "roostd.h"

static void pack_info(struct roostd *d, const char *name, bool analyze, struct rpc_reply *reply)
{
    Roost__V1__ExperimentInfo *info;
    roost_error err = {0};

    if (experiments_info(d->experiments, name, analyze, &info, &err) != ROOST_OK) {
        api_reply_error(reply, &err);
        return;
    }
    RPC_REPLY_PACK(reply, roost__v1__experiment_info, info);
    experiments_info_free(info);
}

static void admin_experiment_command(void *ctx, const struct rpc_request *req,
                                     struct rpc_reply *reply)
{
    struct roostd *d = ctx;
    Roost__V1__ExperimentCommandRequest *in =
        roost__v1__experiment_command_request__unpack(NULL, req->len, req->data);
    roost_error err = {0};
    struct log_line l;

    if (!in) {
        rpc_reply_error(reply, GRPC_STATUS_INVALID_ARGUMENT,
                        "ExperimentCommandRequest cannot be decoded");
        return;
    }
    log_begin(&l, LOG_INFO, "experiment_command");
    log_str(&l, "experiment", in->name);
    log_str(&l, "command", in->command);
    log_str(&l, "actor", req->caller);
    log_end(&l);
    if (experiments_command(d->experiments, in->name, in->command, in->conclusion, in->arm,
                            req->caller, in->reason, &err) != ROOST_OK)
        api_reply_error(reply, &err);
    else
        pack_info(d, in->name, false, reply);
    roost__v1__experiment_command_request__free_unpacked(in, NULL);
}

static void admin_get_experiment(void *ctx, const struct rpc_request *req, struct rpc_reply *reply)
{
    Roost__V1__GetExperimentRequest *in =
        roost__v1__get_experiment_request__unpack(NULL, req->len, req->data);

    if (!in) {
        rpc_reply_error(reply, GRPC_STATUS_INVALID_ARGUMENT,
                        "GetExperimentRequest cannot be decoded");
        return;
    }
    pack_info(ctx, in->name, in->analyze, reply);
    roost__v1__get_experiment_request__free_unpacked(in, NULL);
}

static void admin_list_experiments(void *ctx, const struct rpc_request *req,
                                   struct rpc_reply *reply)
{
    struct roostd *d = ctx;
    Roost__V1__ListExperimentsResponse out = ROOST__V1__LIST_EXPERIMENTS_RESPONSE__INIT;
    roost_error err = {0};
    char **names;
    size_t n;

    (void)req;
    if (experiments_names(d->experiments, &names, &n, &err) != ROOST_OK) {
        api_reply_error(reply, &err);
        return;
    }
    out.experiments = calloc(n + 1, sizeof *out.experiments);
    for (size_t i = 0; out.experiments && i < n; i++) {
        if (experiments_info(d->experiments, names[i], false, &out.experiments[out.n_experiments],
                             &err) == ROOST_OK)
            out.n_experiments++;
    }
    if (!out.experiments)
        rpc_reply_error(reply, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    else
        RPC_REPLY_PACK(reply, roost__v1__list_experiments_response, &out);
    for (size_t i = 0; i < out.n_experiments; i++)
        experiments_info_free(out.experiments[i]);
    free(out.experiments);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

roost_status api_experiments_register(struct roostd *d, roost_error *err)
{
    const struct rpc_method methods[] = {
        {"/roost.v1.Admin/ExperimentCommand", RPC_AUTH_ADMIN, admin_experiment_command, NULL, d},
        {"/roost.v1.Admin/GetExperiment", RPC_AUTH_ADMIN, admin_get_experiment, NULL, d},
        {"/roost.v1.Admin/ListExperiments", RPC_AUTH_ADMIN, admin_list_experiments, NULL, d},
    };

    return rpc_server_add_methods(d->rpc, methods, sizeof methods / sizeof methods[0], err);
}
