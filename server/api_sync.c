/* roost.v1.Sync: hands each subscriber to the hub, which streams the
 * snapshot and changes (hub.c). */
#include <stdlib.h>

#include "hub.h"
#include "roost/v1/roost.pb-c.h"
#include "roostd.h"

static void sync_subscribe(void *ctx, struct rpc_stream *s, const struct rpc_request *req)
{
    struct roostd *d = ctx;
    Roost__V1__SyncRequest *in = roost__v1__sync_request__unpack(NULL, req->len, req->data);

    if (!in) {
        rpc_stream_finish(s, GRPC_STATUS_INVALID_ARGUMENT, "SyncRequest cannot be decoded");
        rpc_stream_release(s);
        return;
    }
    hub_subscribe(d->hub, s, &hub_format_roost, in->revision, NULL, in->client_id);
    roost__v1__sync_request__free_unpacked(in, NULL);
}

roost_status api_sync_register(struct roostd *d, roost_error *err)
{
    const struct rpc_method m = {"/roost.v1.Sync/Subscribe", RPC_AUTH_SDK, NULL, sync_subscribe, d};

    return rpc_server_add_method(d->rpc, &m, err);
}
