/* roost.v1.Sync: hands each subscriber to the hub, which streams the
 * snapshot and changes (hub.c). */
#include <stdlib.h>
#include <string.h>

#include "hub.h"
#include "log.h"
#include "roost/v1/roost.pb-c.h"
#include "roostd.h"

/* The revision to resume the client from: its own, unless it numbers
 * another store's history (this data directory replaced a wiped one, and
 * its revisions have caught up with the client's). Changes from there
 * would be laid over a configuration this store never had; 0 makes the
 * hub send a whole snapshot instead. A client without a store id (an older
 * SDK, or a configuration from an older roostd) is resumed as before: a
 * client ahead of this store still gets a snapshot (hub.c). */
static uint64_t resume_from(struct roostd *d, const Roost__V1__SyncRequest *in)
{
    struct log_line l;

    if (in->revision == 0 || in->store_id.len == 0 ||
        (in->store_id.len == STORE_ID_LEN &&
         memcmp(in->store_id.data, store_id(d->store), STORE_ID_LEN) == 0))
        return in->revision;
    log_begin(&l, LOG_INFO, "sync_other_store");
    log_str(&l, "client_id", in->client_id);
    log_u64(&l, "client_revision", in->revision);
    log_u64(&l, "revision", store_revision(d->store));
    log_str(&l, "action", "sending a whole snapshot: the client's revision is from another data "
                          "directory");
    log_end(&l);
    return 0;
}

static void sync_subscribe(void *ctx, struct rpc_stream *s, const struct rpc_request *req)
{
    struct roostd *d = ctx;
    Roost__V1__SyncRequest *in = roost__v1__sync_request__unpack(NULL, req->len, req->data);

    if (!in) {
        rpc_stream_finish(s, GRPC_STATUS_INVALID_ARGUMENT, "SyncRequest cannot be decoded");
        rpc_stream_release(s);
        return;
    }
    hub_subscribe(d->hub, s, &hub_format_roost, resume_from(d, in), NULL, in->client_id);
    roost__v1__sync_request__free_unpacked(in, NULL);
}

roost_status api_sync_register(struct roostd *d, roost_error *err)
{
    const struct rpc_method m = {"/roost.v1.Sync/Subscribe", RPC_AUTH_SDK, NULL, sync_subscribe, d};

    return rpc_server_add_methods(d->rpc, &m, 1, err);
}
