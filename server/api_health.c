/* grpc.health.v1.Health, as the standard health-checking protocol defines
 * it: Check answers SERVING for the whole server ("") and for each Roost
 * service, NOT_FOUND for others; Watch sends the status now and again when
 * it changes (to NOT_SERVING at shutdown). */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "grpc/health/v1/health.pb-c.h"
#include "roostd.h"

static const char *const known_services[] = {
    "",
    "roost.v1.Sync",
    "roost.v1.Admin",
    "grpc.health.v1.Health",
    "flagd.evaluation.v1.Service",
    "flagd.evaluation.v2.Service",
    "flagd.sync.v1.FlagSyncService",
};

struct watch {
    struct watch *next;
    struct rpc_stream *stream;
    bool sending, closed;
};

static pthread_mutex_t watch_mu = PTHREAD_MUTEX_INITIALIZER;
static struct watch *watches;
static bool serving = true;

static bool known(const char *service)
{
    for (size_t i = 0; i < sizeof known_services / sizeof known_services[0]; i++) {
        if (strcmp(service, known_services[i]) == 0)
            return true;
    }
    return false;
}

static grpc_slice encode_status(bool up)
{
    Grpc__Health__V1__HealthCheckResponse r = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
    grpc_slice out;

    r.status = up ? GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
                  : GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING;
    out = grpc_slice_malloc(grpc__health__v1__health_check_response__get_packed_size(&r));
    grpc__health__v1__health_check_response__pack(&r, GRPC_SLICE_START_PTR(out));
    return out;
}

static void health_check(void *ctx, const struct rpc_request *req, struct rpc_reply *reply)
{
    Grpc__Health__V1__HealthCheckRequest *in;
    Grpc__Health__V1__HealthCheckResponse out = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
    struct roostd *d = ctx;

    if (!(in = grpc__health__v1__health_check_request__unpack(NULL, req->len, req->data))) {
        rpc_reply_error(reply, GRPC_STATUS_INVALID_ARGUMENT, "HealthCheckRequest cannot be decoded");
        return;
    }
    if (!known(in->service)) {
        rpc_reply_error(reply, GRPC_STATUS_NOT_FOUND, "unknown service '%s'", in->service);
    } else {
        out.status = rpc_server_shutting_down(d->rpc)
                         ? GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING
                         : GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
        RPC_REPLY_PACK(reply, grpc__health__v1__health_check_response, &out);
    }
    grpc__health__v1__health_check_request__free_unpacked(in, NULL);
}

static void unlink_watch_locked(struct watch *w)
{
    for (struct watch **p = &watches; *p; p = &(*p)->next) {
        if (*p == w) {
            *p = w->next;
            break;
        }
    }
    rpc_stream_release(w->stream);
    free(w);
}

static void watch_sent(void *user, bool ok)
{
    struct watch *w = user;

    (void)ok;
    pthread_mutex_lock(&watch_mu);
    w->sending = false;
    if (w->closed)
        unlink_watch_locked(w);
    else if (!serving)
        rpc_stream_finish(w->stream, GRPC_STATUS_UNAVAILABLE, "roostd is shutting down");
    pthread_mutex_unlock(&watch_mu);
}

static void watch_closed(void *user)
{
    struct watch *w = user;

    pthread_mutex_lock(&watch_mu);
    w->closed = true;
    if (!w->sending)
        unlink_watch_locked(w);
    pthread_mutex_unlock(&watch_mu);
}

static void health_watch(void *ctx, struct rpc_stream *s, const struct rpc_request *req)
{
    Grpc__Health__V1__HealthCheckRequest *in;
    struct watch *w;

    (void)ctx;
    in = grpc__health__v1__health_check_request__unpack(NULL, req->len, req->data);
    if (!in || !known(in->service) || !(w = calloc(1, sizeof *w))) {
        rpc_stream_finish(s, in ? GRPC_STATUS_NOT_FOUND : GRPC_STATUS_INVALID_ARGUMENT,
                          in ? "unknown service" : "HealthCheckRequest cannot be decoded");
        rpc_stream_release(s);
        if (in)
            grpc__health__v1__health_check_request__free_unpacked(in, NULL);
        return;
    }
    grpc__health__v1__health_check_request__free_unpacked(in, NULL);
    w->stream = s;
    rpc_stream_set_callbacks(s, w, watch_sent, watch_closed);
    pthread_mutex_lock(&watch_mu);
    w->next = watches;
    watches = w;
    if (!rpc_stream_start(s)) {
        unlink_watch_locked(w);
    } else {
        w->sending = rpc_stream_send(s, encode_status(serving));
    }
    pthread_mutex_unlock(&watch_mu);
}

void api_health_close_all(struct roostd *d)
{
    (void)d;
    pthread_mutex_lock(&watch_mu);
    serving = false;
    for (struct watch *w = watches; w; w = w->next) {
        if (w->closed || w->sending)
            continue; /* watch_sent finishes it */
        w->sending = rpc_stream_send(w->stream, encode_status(false));
    }
    pthread_mutex_unlock(&watch_mu);
}

roost_status api_health_register(struct roostd *d, roost_error *err)
{
    const struct rpc_method methods[] = {
        {"/grpc.health.v1.Health/Check", RPC_AUTH_NONE, health_check, NULL, d},
        {"/grpc.health.v1.Health/Watch", RPC_AUTH_NONE, NULL, health_watch, d},
    };

    return rpc_server_add_methods(d->rpc, methods, sizeof methods / sizeof methods[0], err);
}
