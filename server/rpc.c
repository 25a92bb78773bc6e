/* gRPC C core server. See rpc.h for the model.
 *
 * Every operation we start carries a tag: a `struct tag` embedded in the
 * object that owns the operation, so a completion finds its owner without a
 * lookup. Registered methods each keep one armed request slot, re-armed as
 * soon as a call arrives and before the call is handled, so a slow handler
 * never stops new calls from being accepted. Calls to methods nobody
 * registered are answered UNIMPLEMENTED instead of hanging until their
 * deadline.
 *
 * Stream lifetime: a stream holds one reference per batch in flight plus one
 * for its handler; whoever drops the last one unrefs the call and frees it.
 */
#include "rpc.h"

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"

#define RPC_MAX_METHODS 64
#define RPC_MAX_THREADS 64

enum tag_kind {
    TAG_METHOD_REQUEST, /* a registered call arrived */
    TAG_UNARY_DONE,     /* a unary reply went out */
    TAG_OTHER_REQUEST,  /* a call to an unregistered method arrived */
    TAG_OTHER_DONE,
    TAG_STREAM_META,
    TAG_STREAM_SEND,
    TAG_STREAM_CLOSE,
    TAG_STREAM_STATUS,
    TAG_SHUTDOWN
};

struct tag {
    enum tag_kind kind;
};

#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

struct registered {
    struct rpc_method m;
    void *handle; /* from grpc_server_register_method */
};

struct rpc_server {
    grpc_server *server;
    grpc_completion_queue *cq;
    struct rpc_options opt;
    struct registered methods[RPC_MAX_METHODS];
    int nmethods;
    pthread_t threads[RPC_MAX_THREADS];
    int nthreads;
    atomic_bool shutting_down;
    struct tag shutdown_tag;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool shutdown_done;
};

/* One armed request, then (for unary methods) the call it received. */
struct slot {
    struct tag tag;
    struct rpc_server *srv;
    int method;           /* index, or -1 for unregistered */
    grpc_call *call;
    gpr_timespec deadline;
    grpc_call_details details; /* unregistered calls only */
    grpc_metadata_array md;
    grpc_byte_buffer *payload;
    grpc_byte_buffer *reply_buf;
    grpc_slice status_details;
    int cancelled;
};

struct rpc_stream {
    struct tag meta_tag, send_tag, close_tag, status_tag;
    struct rpc_server *srv;
    grpc_call *call;
    pthread_mutex_t mu;
    int refs;
    bool finished;
    bool released;
    grpc_byte_buffer *send_buf;
    int cancelled;
    grpc_slice status_details;
    char *peer;
    void *user;
    rpc_sent_fn on_sent;
    rpc_closed_fn on_closed;
};

static void arm_method(struct rpc_server *srv, int method);
static void arm_other(struct rpc_server *srv);

/* ---- helpers ---------------------------------------------------------- */

void rpc_reply_error(struct rpc_reply *reply, grpc_status_code code, const char *fmt, ...)
{
    va_list ap;

    reply->code = code;
    va_start(ap, fmt);
    vsnprintf(reply->message, sizeof reply->message, fmt, ap);
    va_end(ap);
    free(reply->data);
    reply->data = NULL;
    reply->len = 0;
}

grpc_status_code rpc_code_from_status(roost_status st)
{
    switch (st) {
    case ROOST_OK: return GRPC_STATUS_OK;
    case ROOST_EINVAL: return GRPC_STATUS_INVALID_ARGUMENT;
    case ROOST_ENOTFOUND: return GRPC_STATUS_NOT_FOUND;
    case ROOST_ETYPE: return GRPC_STATUS_INVALID_ARGUMENT;
    case ROOST_ELIMIT: return GRPC_STATUS_RESOURCE_EXHAUSTED;
    case ROOST_ENOMEM: return GRPC_STATUS_RESOURCE_EXHAUSTED;
    case ROOST_EIO: return GRPC_STATUS_INTERNAL;
    case ROOST_ECORRUPT: return GRPC_STATUS_DATA_LOSS;
    case ROOST_EUNAVAIL: return GRPC_STATUS_UNAVAILABLE;
    case ROOST_EAUTH: return GRPC_STATUS_UNAUTHENTICATED;
    case ROOST_ECONFLICT: return GRPC_STATUS_FAILED_PRECONDITION;
    case ROOST_ETIMEOUT: return GRPC_STATUS_DEADLINE_EXCEEDED;
    case ROOST_EINTERNAL: return GRPC_STATUS_INTERNAL;
    }
    return GRPC_STATUS_UNKNOWN;
}

bool rpc_server_shutting_down(const struct rpc_server *srv)
{
    return atomic_load(&srv->shutting_down);
}

static const char *auth_kind_name(enum rpc_auth a)
{
    return a == RPC_AUTH_ADMIN ? "admin" : "SDK";
}

/* Finds the caller's token name, or returns false when the call must be
 * refused. */
static bool authenticate(struct rpc_server *srv, enum rpc_auth kind, const grpc_metadata_array *md,
                         const char **caller)
{
    const struct auth_tokens *tokens;
    const char *value = NULL;
    size_t len = 0;

    *caller = "anonymous";
    if (kind == RPC_AUTH_NONE)
        return true;
    tokens = kind == RPC_AUTH_ADMIN ? srv->opt.admin_tokens : srv->opt.sdk_tokens;
    if (!tokens || tokens->count == 0)
        return true;
    for (size_t i = 0; i < md->count; i++) {
        if (grpc_slice_str_cmp(md->metadata[i].key, "authorization") == 0) {
            value = (const char *)GRPC_SLICE_START_PTR(md->metadata[i].value);
            len = GRPC_SLICE_LENGTH(md->metadata[i].value);
            break;
        }
    }
    return auth_check(tokens, value, len, caller);
}

/* Copies a received message into one contiguous malloc'd buffer. */
static uint8_t *read_payload(grpc_byte_buffer *bb, size_t *len)
{
    grpc_byte_buffer_reader reader;
    grpc_slice all;
    uint8_t *out;

    *len = 0;
    if (!bb || !grpc_byte_buffer_reader_init(&reader, bb))
        return NULL;
    all = grpc_byte_buffer_reader_readall(&reader);
    grpc_byte_buffer_reader_destroy(&reader);
    *len = GRPC_SLICE_LENGTH(all);
    out = malloc(*len ? *len : 1);
    if (out)
        memcpy(out, GRPC_SLICE_START_PTR(all), *len);
    grpc_slice_unref(all);
    return out;
}

static void log_call_error(const char *event, const char *method, grpc_call_error e)
{
    struct log_line l;

    log_begin(&l, LOG_ERROR, event);
    log_str(&l, "method", method);
    log_i64(&l, "grpc_call_error", e);
    log_end(&l);
}

/* ---- unary calls ------------------------------------------------------ */

static void slot_free(struct slot *s)
{
    if (s->call)
        grpc_call_unref(s->call);
    grpc_metadata_array_destroy(&s->md);
    if (s->method < 0)
        grpc_call_details_destroy(&s->details);
    if (s->payload)
        grpc_byte_buffer_destroy(s->payload);
    if (s->reply_buf)
        grpc_byte_buffer_destroy(s->reply_buf);
    grpc_slice_unref(s->status_details);
    free(s);
}

static void send_unary_reply(struct slot *s, struct rpc_reply *reply, enum tag_kind done_kind)
{
    grpc_op ops[4];
    size_t n = 0;
    grpc_call_error e;

    memset(ops, 0, sizeof ops);
    ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
    n++;
    if (reply->code == GRPC_STATUS_OK) {
        grpc_slice body = grpc_slice_from_copied_buffer((const char *)reply->data, reply->len);
        s->reply_buf = grpc_raw_byte_buffer_create(&body, 1);
        grpc_slice_unref(body);
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n].data.send_message.send_message = s->reply_buf;
        n++;
    }
    s->status_details = grpc_slice_from_copied_string(reply->message);
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = reply->code;
    ops[n].data.send_status_from_server.status_details = &s->status_details;
    n++;
    ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[n].data.recv_close_on_server.cancelled = &s->cancelled;
    n++;
    s->tag.kind = done_kind;
    e = grpc_call_start_batch(s->call, ops, n, &s->tag, NULL);
    if (e != GRPC_CALL_OK) {
        log_call_error("rpc_reply_failed", "unary", e);
        slot_free(s);
    }
}

static void handle_unary(struct slot *s, const char *caller)
{
    struct rpc_server *srv = s->srv;
    const struct rpc_method *m = &srv->methods[s->method].m;
    struct rpc_reply reply = {.code = GRPC_STATUS_OK};
    struct rpc_request req = {.caller = caller, .metadata = &s->md};
    uint8_t *data = NULL;

    if (!s->payload) {
        rpc_reply_error(&reply, GRPC_STATUS_INVALID_ARGUMENT, "%s: the request message is missing",
                        m->path);
    } else if (!(data = read_payload(s->payload, &req.len))) {
        rpc_reply_error(&reply, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory reading request");
    } else {
        req.data = data;
        m->unary(m->ctx, &req, &reply);
    }
    free(data);
    send_unary_reply(s, &reply, TAG_UNARY_DONE);
    free(reply.data);
}

/* ---- streams ---------------------------------------------------------- */

static void stream_unref(struct rpc_stream *st)
{
    bool last;

    pthread_mutex_lock(&st->mu);
    last = --st->refs == 0;
    pthread_mutex_unlock(&st->mu);
    if (!last)
        return;
    if (st->send_buf)
        grpc_byte_buffer_destroy(st->send_buf);
    grpc_slice_unref(st->status_details);
    grpc_call_unref(st->call);
    gpr_free(st->peer);
    pthread_mutex_destroy(&st->mu);
    free(st);
}

/* Starts a batch holding a reference; drops it again if the batch could not
 * start (the call is over). Caller holds st->mu. */
static bool stream_batch_locked(struct rpc_stream *st, const grpc_op *ops, size_t n, struct tag *tag)
{
    grpc_call_error e;

    st->refs++;
    e = grpc_call_start_batch(st->call, ops, n, tag, NULL);
    if (e != GRPC_CALL_OK) {
        st->refs--;
        return false;
    }
    return true;
}

static struct rpc_stream *stream_new(struct rpc_server *srv, grpc_call *call)
{
    struct rpc_stream *st = calloc(1, sizeof *st);
    grpc_op op;

    if (!st)
        return NULL;
    st->meta_tag.kind = TAG_STREAM_META;
    st->send_tag.kind = TAG_STREAM_SEND;
    st->close_tag.kind = TAG_STREAM_CLOSE;
    st->status_tag.kind = TAG_STREAM_STATUS;
    st->srv = srv;
    st->call = call;
    st->refs = 1; /* the handler's */
    st->status_details = grpc_empty_slice();
    st->peer = grpc_call_get_peer(call);
    pthread_mutex_init(&st->mu, NULL);
    /* Headers go out at once so the client sees the stream established
     * even before the first message. */
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_SEND_INITIAL_METADATA;
    pthread_mutex_lock(&st->mu);
    stream_batch_locked(st, &op, 1, &st->meta_tag);
    pthread_mutex_unlock(&st->mu);
    return st;
}

void rpc_stream_set_callbacks(struct rpc_stream *st, void *user, rpc_sent_fn on_sent,
                              rpc_closed_fn on_closed)
{
    st->user = user;
    st->on_sent = on_sent;
    st->on_closed = on_closed;
}

bool rpc_stream_start(struct rpc_stream *st)
{
    grpc_op op;
    bool ok;

    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    op.data.recv_close_on_server.cancelled = &st->cancelled;
    pthread_mutex_lock(&st->mu);
    ok = stream_batch_locked(st, &op, 1, &st->close_tag);
    pthread_mutex_unlock(&st->mu);
    return ok;
}

bool rpc_stream_send(struct rpc_stream *st, grpc_slice payload)
{
    grpc_op op;
    bool ok;

    pthread_mutex_lock(&st->mu);
    if (st->finished || st->send_buf) {
        pthread_mutex_unlock(&st->mu);
        grpc_slice_unref(payload);
        return false;
    }
    st->send_buf = grpc_raw_byte_buffer_create(&payload, 1);
    grpc_slice_unref(payload);
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_SEND_MESSAGE;
    op.data.send_message.send_message = st->send_buf;
    ok = stream_batch_locked(st, &op, 1, &st->send_tag);
    if (!ok) {
        grpc_byte_buffer_destroy(st->send_buf);
        st->send_buf = NULL;
    }
    pthread_mutex_unlock(&st->mu);
    return ok;
}

void rpc_stream_finish(struct rpc_stream *st, grpc_status_code code, const char *message)
{
    grpc_op op;

    pthread_mutex_lock(&st->mu);
    if (st->finished) {
        pthread_mutex_unlock(&st->mu);
        return;
    }
    st->finished = true;
    grpc_slice_unref(st->status_details);
    st->status_details = grpc_slice_from_copied_string(message ? message : "");
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    op.data.send_status_from_server.status = code;
    op.data.send_status_from_server.status_details = &st->status_details;
    stream_batch_locked(st, &op, 1, &st->status_tag);
    pthread_mutex_unlock(&st->mu);
}

void rpc_stream_release(struct rpc_stream *st)
{
    stream_unref(st);
}

const char *rpc_stream_peer(const struct rpc_stream *st)
{
    return st->peer ? st->peer : "unknown";
}

static void stream_completed(struct tag *tag, bool ok)
{
    struct rpc_stream *st;

    switch (tag->kind) {
    case TAG_STREAM_META:
        st = container_of(tag, struct rpc_stream, meta_tag);
        break;
    case TAG_STREAM_SEND:
        st = container_of(tag, struct rpc_stream, send_tag);
        pthread_mutex_lock(&st->mu);
        grpc_byte_buffer_destroy(st->send_buf);
        st->send_buf = NULL;
        pthread_mutex_unlock(&st->mu);
        if (st->on_sent)
            st->on_sent(st->user, ok);
        break;
    case TAG_STREAM_CLOSE:
        st = container_of(tag, struct rpc_stream, close_tag);
        if (st->on_closed)
            st->on_closed(st->user);
        break;
    case TAG_STREAM_STATUS:
        st = container_of(tag, struct rpc_stream, status_tag);
        break;
    default:
        return;
    }
    stream_unref(st);
}

static void handle_stream(struct slot *s, const char *caller)
{
    const struct rpc_method *m = &s->srv->methods[s->method].m;
    struct rpc_request req = {.caller = caller, .metadata = &s->md};
    struct rpc_stream *st;
    uint8_t *data = NULL;

    if (!s->payload || !(data = read_payload(s->payload, &req.len))) {
        struct rpc_reply reply = {0};
        rpc_reply_error(&reply, GRPC_STATUS_INVALID_ARGUMENT, "%s: the request message is missing",
                        m->path);
        send_unary_reply(s, &reply, TAG_UNARY_DONE);
        return;
    }
    req.data = data;
    st = stream_new(s->srv, s->call);
    if (!st) {
        struct rpc_reply reply = {0};
        free(data);
        rpc_reply_error(&reply, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        send_unary_reply(s, &reply, TAG_UNARY_DONE);
        return;
    }
    s->call = NULL; /* the stream owns it now */
    m->stream(m->ctx, st, &req);
    free(data);
    slot_free(s);
}

/* ---- request slots ---------------------------------------------------- */

static void method_request_done(struct slot *s, bool ok)
{
    struct rpc_server *srv = s->srv;
    const struct rpc_method *m;
    const char *caller;

    if (!ok) { /* server shutting down */
        slot_free(s);
        return;
    }
    m = &srv->methods[s->method].m;
    if (!atomic_load(&srv->shutting_down))
        arm_method(srv, s->method);
    if (!authenticate(srv, m->auth, &s->md, &caller)) {
        struct rpc_reply reply = {0};
        rpc_reply_error(&reply, GRPC_STATUS_UNAUTHENTICATED,
                        "%s: missing or wrong %s token; send \"authorization: Bearer <token>\" "
                        "with a token from roostd's --%s-token-file",
                        m->path, auth_kind_name(m->auth), m->auth == RPC_AUTH_ADMIN ? "admin" : "sdk");
        struct log_line l;
        log_begin(&l, LOG_WARN, "unauthenticated");
        log_str(&l, "method", m->path);
        log_end(&l);
        send_unary_reply(s, &reply, TAG_UNARY_DONE);
        return;
    }
    if (m->unary)
        handle_unary(s, caller);
    else
        handle_stream(s, caller);
}

static void other_request_done(struct slot *s, bool ok)
{
    struct rpc_reply reply = {0};
    char method[256];
    size_t n;

    if (!ok) {
        slot_free(s);
        return;
    }
    if (!atomic_load(&s->srv->shutting_down))
        arm_other(s->srv);
    n = GRPC_SLICE_LENGTH(s->details.method);
    if (n >= sizeof method)
        n = sizeof method - 1;
    memcpy(method, GRPC_SLICE_START_PTR(s->details.method), n);
    method[n] = '\0';
    rpc_reply_error(&reply, GRPC_STATUS_UNIMPLEMENTED, "roostd does not serve %s", method);
    send_unary_reply(s, &reply, TAG_OTHER_DONE);
}

static struct slot *slot_new(struct rpc_server *srv, int method)
{
    struct slot *s = calloc(1, sizeof *s);

    if (!s)
        return NULL;
    s->srv = srv;
    s->method = method;
    s->status_details = grpc_empty_slice();
    grpc_metadata_array_init(&s->md);
    if (method < 0)
        grpc_call_details_init(&s->details);
    return s;
}

static void arm_method(struct rpc_server *srv, int method)
{
    struct slot *s = slot_new(srv, method);
    grpc_call_error e;

    if (!s) {
        log_msg(LOG_ERROR, "rpc_out_of_memory", "cannot accept more calls");
        return;
    }
    s->tag.kind = TAG_METHOD_REQUEST;
    e = grpc_server_request_registered_call(srv->server, srv->methods[method].handle, &s->call,
                                            &s->deadline, &s->md, &s->payload, srv->cq, srv->cq,
                                            &s->tag);
    if (e != GRPC_CALL_OK) {
        log_call_error("rpc_request_failed", srv->methods[method].m.path, e);
        slot_free(s);
    }
}

static void arm_other(struct rpc_server *srv)
{
    struct slot *s = slot_new(srv, -1);
    grpc_call_error e;

    if (!s)
        return;
    s->tag.kind = TAG_OTHER_REQUEST;
    e = grpc_server_request_call(srv->server, &s->call, &s->details, &s->md, srv->cq, srv->cq,
                                 &s->tag);
    if (e != GRPC_CALL_OK) {
        log_call_error("rpc_request_failed", "*", e);
        slot_free(s);
    }
}

/* ---- workers ---------------------------------------------------------- */

static void dispatch(struct tag *tag, bool ok)
{
    switch (tag->kind) {
    case TAG_METHOD_REQUEST:
        method_request_done(container_of(tag, struct slot, tag), ok);
        break;
    case TAG_OTHER_REQUEST:
        other_request_done(container_of(tag, struct slot, tag), ok);
        break;
    case TAG_UNARY_DONE:
    case TAG_OTHER_DONE:
        slot_free(container_of(tag, struct slot, tag));
        break;
    case TAG_SHUTDOWN: {
        struct rpc_server *srv = container_of(tag, struct rpc_server, shutdown_tag);
        pthread_mutex_lock(&srv->mu);
        srv->shutdown_done = true;
        pthread_cond_broadcast(&srv->cv);
        pthread_mutex_unlock(&srv->mu);
        break;
    }
    default:
        stream_completed(tag, ok);
        break;
    }
}

static void *worker(void *arg)
{
    struct rpc_server *srv = arg;

    for (;;) {
        grpc_event ev =
            grpc_completion_queue_next(srv->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        if (ev.type == GRPC_OP_COMPLETE)
            dispatch(ev.tag, ev.success != 0);
    }
    return NULL;
}

/* ---- lifecycle -------------------------------------------------------- */

roost_status rpc_server_create(const struct rpc_options *opt, struct rpc_server **out,
                               roost_error *err)
{
    struct rpc_server *srv = calloc(1, sizeof *srv);
    grpc_arg args[8];
    grpc_channel_args chargs = {.num_args = 0, .args = args};
    int max_msg = opt->max_message_bytes > (size_t)0x7fffffff ? 0x7fffffff
                                                                 : (int)opt->max_message_bytes;

    if (!srv)
        return roost_error_set(err, ROOST_ENOMEM, "out of memory creating the gRPC server");
    srv->opt = *opt;
    if (srv->opt.threads <= 0)
        srv->opt.threads = 4;
    if (srv->opt.threads > RPC_MAX_THREADS)
        srv->opt.threads = RPC_MAX_THREADS;
    pthread_mutex_init(&srv->mu, NULL);
    pthread_cond_init(&srv->cv, NULL);
    srv->shutdown_tag.kind = TAG_SHUTDOWN;

    memset(args, 0, sizeof args);
#define INT_ARG(k, v)                                                                             \
    do {                                                                                          \
        args[chargs.num_args].type = GRPC_ARG_INTEGER;                                            \
        args[chargs.num_args].key = (char *)(k);                                                  \
        args[chargs.num_args].value.integer = (v);                                                \
        chargs.num_args++;                                                                        \
    } while (0)
    INT_ARG(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, max_msg);
    INT_ARG(GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, -1);
    /* SDKs ping every 30 s on idle streams to keep NATs open; accept pings
     * down to 10 s apart, without calls, and never answer them with GOAWAY. */
    INT_ARG(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
    INT_ARG(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    INT_ARG(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
    /* Our own pings find dead subscribers (a host that vanished) within
     * about 2.5 minutes instead of holding their streams forever. */
    INT_ARG(GRPC_ARG_KEEPALIVE_TIME_MS, 120000);
    /* Nothing reads channelz; its per-connection bookkeeping is memory
     * every idle subscriber would pay for. */
    INT_ARG(GRPC_ARG_ENABLE_CHANNELZ, 0);
#undef INT_ARG

    srv->cq = grpc_completion_queue_create_for_next(NULL);
    srv->server = grpc_server_create(&chargs, NULL);
    grpc_server_register_completion_queue(srv->server, srv->cq, NULL);
    *out = srv;
    return ROOST_OK;
}

roost_status rpc_server_add_methods(struct rpc_server *srv, const struct rpc_method *m, size_t n,
                                    roost_error *err)
{
    for (size_t i = 0; i < n; i++) {
        struct registered *r;
        if (srv->nmethods == RPC_MAX_METHODS)
            return roost_error_set(err, ROOST_ELIMIT, "more than %d gRPC methods", RPC_MAX_METHODS);
        r = &srv->methods[srv->nmethods];
        r->m = m[i];
        r->handle = grpc_server_register_method(srv->server, m[i].path, NULL,
                                                GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
        if (!r->handle)
            return roost_error_set(err, ROOST_EINTERNAL, "cannot register gRPC method %s",
                                   m[i].path);
        srv->nmethods++;
    }
    return ROOST_OK;
}

roost_status rpc_server_start(struct rpc_server *srv, const char *listen, int *port,
                              roost_error *err)
{
    grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
    int bound = grpc_server_add_http2_port(srv->server, listen, creds);

    grpc_server_credentials_release(creds);
    if (bound == 0)
        return roost_error_set(err, ROOST_EIO,
                               "cannot listen on %s: the address is in use or not valid "
                               "(expected HOST:PORT, e.g. 127.0.0.1:7070)",
                               listen);
    grpc_server_start(srv->server);
    for (int i = 0; i < srv->nmethods; i++)
        arm_method(srv, i);
    arm_other(srv);
    for (int i = 0; i < srv->opt.threads; i++) {
        if (pthread_create(&srv->threads[i], NULL, worker, srv) != 0)
            break;
        srv->nthreads++;
    }
    if (srv->nthreads == 0)
        return roost_error_set(err, ROOST_ENOMEM, "cannot start gRPC worker threads");
    *port = bound;
    return ROOST_OK;
}

static bool wait_shutdown(struct rpc_server *srv, int ms)
{
    struct timespec deadline = clock_deadline_ms(ms);
    bool done;

    pthread_mutex_lock(&srv->mu);
    while (!srv->shutdown_done) {
        if (pthread_cond_timedwait(&srv->cv, &srv->mu, &deadline) != 0)
            break;
    }
    done = srv->shutdown_done;
    pthread_mutex_unlock(&srv->mu);
    return done;
}

void rpc_server_shutdown(struct rpc_server *srv, int grace_ms)
{
    if (atomic_exchange(&srv->shutting_down, true))
        return;
    grpc_server_shutdown_and_notify(srv->server, srv->cq, &srv->shutdown_tag);
    if (!wait_shutdown(srv, grace_ms)) {
        log_msg(LOG_WARN, "shutdown_cancel_calls", "calls still running after the grace period");
        grpc_server_cancel_all_calls(srv->server);
        wait_shutdown(srv, 60000);
    }
    grpc_completion_queue_shutdown(srv->cq);
    for (int i = 0; i < srv->nthreads; i++)
        pthread_join(srv->threads[i], NULL);
    srv->nthreads = 0;
}

void rpc_server_destroy(struct rpc_server *srv)
{
    if (!srv)
        return;
    if (srv->nthreads)
        rpc_server_shutdown(srv, 0);
    grpc_server_destroy(srv->server);
    grpc_completion_queue_destroy(srv->cq);
    pthread_cond_destroy(&srv->cv);
    pthread_mutex_destroy(&srv->mu);
    free(srv);
}
