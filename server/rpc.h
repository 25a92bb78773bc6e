/* roostd's gRPC server on the C core: method table, completion-queue
 * threads, authentication, unary and server-streaming calls.
 *
 * Services register their methods before start. A unary handler receives the
 * request bytes and fills a reply (status, message, response bytes); it runs
 * on a completion-queue thread, so it may block briefly (an LMDB commit) but
 * must not wait on other calls. A streaming handler takes over the call as
 * an rpc_stream and drives it with rpc_stream_send / rpc_stream_finish,
 * receiving completions through callbacks.
 *
 * Threads: `threads` workers all poll one completion queue; callbacks for
 * the same stream may run on different threads, never concurrently for the
 * same batch. Callers keep their own locks.
 */
#ifndef ROOSTD_RPC_H
#define ROOSTD_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <grpc/grpc.h>
#include <grpc/status.h>

#include "auth.h"
#include "roost/status.h"

enum rpc_auth {
    RPC_AUTH_NONE,  /* health checks */
    RPC_AUTH_ADMIN, /* Admin: --admin-token-file */
    RPC_AUTH_SDK    /* Sync, Report and flagd services: --sdk-token-file */
};

struct rpc_server;
struct rpc_stream;

struct rpc_request {
    const uint8_t *data;
    size_t len;
    const char *caller; /* the token's name, or "anonymous" */
    const grpc_metadata_array *metadata;
};

/* Reply of a unary handler. data is malloc'd by the handler and freed by
 * the rpc layer; it is sent only when code is GRPC_STATUS_OK. */
struct rpc_reply {
    grpc_status_code code;
    char message[ROOST_ERROR_MSG_MAX];
    uint8_t *data;
    size_t len;
};

typedef void (*rpc_unary_fn)(void *ctx, const struct rpc_request *req, struct rpc_reply *reply);
/* The handler owns s until it calls rpc_stream_release. */
typedef void (*rpc_stream_fn)(void *ctx, struct rpc_stream *s, const struct rpc_request *req);

struct rpc_method {
    const char *path; /* "/roost.v1.Admin/Apply" */
    enum rpc_auth auth;
    rpc_unary_fn unary;   /* exactly one of unary and stream */
    rpc_stream_fn stream;
    void *ctx;
};

struct rpc_options {
    int threads;                 /* completion-queue workers */
    size_t max_message_bytes;    /* largest request or response */
    const struct auth_tokens *admin_tokens;
    const struct auth_tokens *sdk_tokens;
};

roost_status rpc_server_create(const struct rpc_options *opt, struct rpc_server **out,
                               roost_error *err);
/* Before rpc_server_start: adds the n methods of m (copied). Fails with
 * ELIMIT past the method table size. */
roost_status rpc_server_add_methods(struct rpc_server *srv, const struct rpc_method *m, size_t n,
                                    roost_error *err);
/* Binds listen ("127.0.0.1:7070"; port 0 = any free port), starts the
 * workers, returns the bound port. */
roost_status rpc_server_start(struct rpc_server *srv, const char *listen, int *port,
                              roost_error *err);
/* Stops accepting calls and waits for calls in flight; after grace_ms the
 * remaining calls are cancelled. Streams should be finished by their owners
 * first (see hub_close_all). Joins the workers. */
void rpc_server_shutdown(struct rpc_server *srv, int grace_ms);
void rpc_server_destroy(struct rpc_server *srv);
bool rpc_server_shutting_down(const struct rpc_server *srv);

/* Fills reply with an error status and a formatted message. */
void rpc_reply_error(struct rpc_reply *reply, grpc_status_code code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Maps a roost_status to the gRPC code a client should see. */
grpc_status_code rpc_code_from_status(roost_status st);

/* Streams. on_sent runs once per rpc_stream_send (ok = false when the
 * client is gone); on_closed runs once, when the call ends for any reason
 * (client cancel, deadline, or after rpc_stream_finish). */
typedef void (*rpc_sent_fn)(void *user, bool ok);
typedef void (*rpc_closed_fn)(void *user);

void rpc_stream_set_callbacks(struct rpc_stream *s, void *user, rpc_sent_fn on_sent,
                              rpc_closed_fn on_closed);
/* Starts receiving the close notification: call once, after setting the
 * callbacks and before the first send. Returns false when the call is
 * already over; on_closed then never runs. */
bool rpc_stream_start(struct rpc_stream *s);
/* Sends one message; takes ownership of payload. At most one send may be in
 * flight (wait for on_sent). Returns false when the call is already over
 * (on_sent then never runs). */
bool rpc_stream_send(struct rpc_stream *s, grpc_slice payload);
/* Ends the stream with a status. No sends after this. Idempotent. */
void rpc_stream_finish(struct rpc_stream *s, grpc_status_code code, const char *message);
/* The handler lets go; the stream is freed when its batches are done. */
void rpc_stream_release(struct rpc_stream *s);
/* The peer address ("ipv4:127.0.0.1:5555"), for logs. Owned by the stream. */
const char *rpc_stream_peer(const struct rpc_stream *s);

#endif
