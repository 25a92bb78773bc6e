/* A small blocking gRPC client on the C core, for roostctl, the test suites
 * and the benchmarks: unary calls, and server streams read one event at a
 * time from a group that can hold thousands of streams on one completion
 * queue. (The SDKs have their own transport: nanopb messages and a
 * background thread.)
 */
#ifndef ROOST_RPCCLIENT_H
#define ROOST_RPCCLIENT_H

#include <grpc/grpc.h>
#include <grpc/status.h>
#include <stddef.h>
#include <stdint.h>

#include "roost/status.h"

struct rc_channel;
struct rc_group;
struct rc_stream;

struct rc_status {
    grpc_status_code code;
    char message[512];
};

/* target: "HOST:PORT". token: bearer token sent on every call, or NULL. */
roost_status rc_channel_open(const char *target, const char *token, struct rc_channel **out,
                             roost_error *err);
/* Same, with HTTP/2 keepalive pings every keepalive_ms (0 = none), also
 * while no call is active: what an SDK holding an idle stream does. */
roost_status rc_channel_open_keepalive(const char *target, const char *token, int keepalive_ms,
                                       struct rc_channel **out, roost_error *err);
void rc_channel_close(struct rc_channel *ch);
const char *rc_channel_target(const struct rc_channel *ch);

/* One request, one response. On GRPC_STATUS_OK *resp is malloc'd (caller
 * frees); otherwise st says why. timeout_s bounds the whole call. */
void rc_unary(struct rc_channel *ch, const char *method, const void *req, size_t len,
              double timeout_s, uint8_t **resp, size_t *resp_len, struct rc_status *st);

roost_status rc_group_new(struct rc_group **out, roost_error *err);
/* Cancels and frees every stream still open, then the group. */
void rc_group_free(struct rc_group *g);

/* Starts a server-streaming call with one request message. user is handed
 * back with every event of this stream. */
roost_status rc_stream_open(struct rc_group *g, struct rc_channel *ch, const char *method,
                            const void *req, size_t len, void *user, struct rc_stream **out,
                            roost_error *err);
/* Asks the server to stop; an END event follows. */
void rc_stream_cancel(struct rc_stream *s);

enum rc_event_type {
    RC_TIMEOUT, /* nothing arrived within the timeout */
    RC_MESSAGE, /* data/len hold one message (malloc'd, caller frees) */
    RC_END      /* the stream is over: status holds why; the stream is freed */
};

struct rc_event {
    enum rc_event_type type;
    struct rc_stream *stream;
    void *user;
    uint8_t *data;
    size_t len;
    struct rc_status status;
};

/* Waits up to timeout_s (negative = forever) for the next event of any
 * stream in the group. */
void rc_group_next(struct rc_group *g, double timeout_s, struct rc_event *ev);

/* Human text for a failed call, with advice for the usual causes
 * ("cannot reach roostd at 127.0.0.1:7070: is it running?"). */
void rc_status_explain(const struct rc_channel *ch, const struct rc_status *st, char *out,
                       size_t cap);

#endif
