/* gRPC core client. See rpcclient.h.
 *
 * Unary calls use their own pluck queue, so any thread may make them. A
 * stream has three operations in flight at most: the opening batch (send
 * request, receive headers), one RECV_MESSAGE at a time, and
 * RECV_STATUS_ON_CLIENT, which completes when the call ends. A stream ends
 * for the reader only when both "no more messages" and the status have
 * arrived, so a status is never reported while messages are still queued.
 */
#include "rpcclient.h"

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

struct rc_channel {
    grpc_channel *ch;
    char target[256];
    char auth[300];
    bool has_auth;
};

enum stream_tag { TAG_OPEN, TAG_MSG, TAG_STATUS };

struct rc_tag {
    enum stream_tag kind;
};

struct rc_stream {
    struct rc_tag open_tag, msg_tag, status_tag;
    struct rc_group *group;
    struct rc_stream *prev, *next;
    grpc_call *call;
    void *user;
    grpc_metadata auth_md;
    grpc_metadata_array initial_md;
    grpc_metadata_array trailing_md;
    grpc_byte_buffer *send_buf;
    grpc_byte_buffer *recv_buf;
    grpc_status_code code;
    grpc_slice details;
    int pending; /* operations in flight */
    bool no_more_messages;
    bool have_status;
    bool ended;  /* END was reported */
};

struct rc_group {
    grpc_completion_queue *cq;
    struct rc_stream *streams;
};

static gpr_timespec deadline_after(double seconds)
{
    if (seconds < 0)
        return gpr_inf_future(GPR_CLOCK_REALTIME);
    return gpr_time_add(gpr_now(GPR_CLOCK_REALTIME),
                        gpr_time_from_micros((int64_t)(seconds * 1e6), GPR_TIMESPAN));
}

roost_status rc_channel_open(const char *target, const char *token, struct rc_channel **out,
                             roost_error *err)
{
    return rc_channel_open_keepalive(target, token, 0, out, err);
}

roost_status rc_channel_open_keepalive(const char *target, const char *token, int keepalive_ms,
                                       struct rc_channel **out, roost_error *err)
{
    struct rc_channel *c = calloc(1, sizeof *c);
    grpc_channel_credentials *creds;
    grpc_arg args[5];
    grpc_channel_args chargs = {2, args};

    if (!c)
        return roost_error_set(err, ROOST_ENOMEM, "out of memory");
    snprintf(c->target, sizeof c->target, "%s", target);
    if (token) {
        if (strlen(token) > 256) {
            free(c);
            return roost_error_set(err, ROOST_EINVAL, "token longer than 256 bytes");
        }
        snprintf(c->auth, sizeof c->auth, "Bearer %s", token);
        c->has_auth = true;
    }
    memset(args, 0, sizeof args);
    args[0].type = GRPC_ARG_INTEGER;
    args[0].key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    args[0].value.integer = -1;
    /* Each channel gets its own connection, so that a load generator
     * holding many channels really opens many connections. */
    args[1].type = GRPC_ARG_INTEGER;
    args[1].key = (char *)GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL;
    args[1].value.integer = 1;
    if (keepalive_ms > 0) {
        args[2].type = GRPC_ARG_INTEGER;
        args[2].key = (char *)GRPC_ARG_KEEPALIVE_TIME_MS;
        args[2].value.integer = keepalive_ms;
        args[3].type = GRPC_ARG_INTEGER;
        args[3].key = (char *)GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS;
        args[3].value.integer = 1;
        /* Without this, core sends only two pings without data in between. */
        args[4].type = GRPC_ARG_INTEGER;
        args[4].key = (char *)GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA;
        args[4].value.integer = 0;
        chargs.num_args = 5;
    }
    creds = grpc_insecure_credentials_create();
    c->ch = grpc_channel_create(target, creds, &chargs);
    grpc_channel_credentials_release(creds);
    *out = c;
    return ROOST_OK;
}

void rc_channel_close(struct rc_channel *ch)
{
    if (!ch)
        return;
    grpc_channel_destroy(ch->ch);
    free(ch);
}

const char *rc_channel_target(const struct rc_channel *ch)
{
    return ch->target;
}

static void copy_details(struct rc_status *st, grpc_status_code code, grpc_slice details)
{
    size_t n = GRPC_SLICE_LENGTH(details);

    st->code = code;
    if (n >= sizeof st->message)
        n = sizeof st->message - 1;
    memcpy(st->message, GRPC_SLICE_START_PTR(details), n);
    st->message[n] = '\0';
}

static uint8_t *read_buffer(grpc_byte_buffer *bb, size_t *len)
{
    grpc_byte_buffer_reader r;
    grpc_slice all;
    uint8_t *out;

    if (!grpc_byte_buffer_reader_init(&r, bb)) {
        *len = 0;
        return NULL;
    }
    all = grpc_byte_buffer_reader_readall(&r);
    grpc_byte_buffer_reader_destroy(&r);
    *len = GRPC_SLICE_LENGTH(all);
    out = malloc(*len ? *len : 1);
    if (out)
        memcpy(out, GRPC_SLICE_START_PTR(all), *len);
    grpc_slice_unref(all);
    return out;
}

void rc_unary(struct rc_channel *ch, const char *method, const void *req, size_t len,
              double timeout_s, uint8_t **resp, size_t *resp_len, struct rc_status *st)
{
    grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
    gpr_timespec deadline = deadline_after(timeout_s);
    grpc_slice method_slice = grpc_slice_from_static_string(method);
    grpc_slice body = grpc_slice_from_copied_buffer(req, len);
    grpc_byte_buffer *send = grpc_raw_byte_buffer_create(&body, 1);
    grpc_byte_buffer *recv = NULL;
    grpc_metadata_array initial, trailing;
    grpc_metadata md;
    grpc_status_code code = GRPC_STATUS_UNKNOWN;
    grpc_slice details = grpc_empty_slice();
    grpc_op ops[6];
    grpc_call *call;
    grpc_event ev;
    int tag = 1;

    *resp = NULL;
    *resp_len = 0;
    grpc_slice_unref(body);
    grpc_metadata_array_init(&initial);
    grpc_metadata_array_init(&trailing);
    call = grpc_channel_create_call(ch->ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, method_slice, NULL,
                                    deadline, NULL);
    memset(ops, 0, sizeof ops);
    memset(&md, 0, sizeof md);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    if (ch->has_auth) {
        md.key = grpc_slice_from_static_string("authorization");
        md.value = grpc_slice_from_static_string(ch->auth);
        ops[0].data.send_initial_metadata.count = 1;
        ops[0].data.send_initial_metadata.metadata = &md;
    }
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &initial;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &recv;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.status = &code;
    ops[5].data.recv_status_on_client.status_details = &details;
    ops[5].data.recv_status_on_client.trailing_metadata = &trailing;
    if (grpc_call_start_batch(call, ops, 6, &tag, NULL) != GRPC_CALL_OK) {
        st->code = GRPC_STATUS_INTERNAL;
        snprintf(st->message, sizeof st->message, "cannot start the call");
    } else {
        ev = grpc_completion_queue_pluck(cq, &tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        (void)ev; /* the status op reports failures, deadline included */
        copy_details(st, code, details);
        if (code == GRPC_STATUS_OK && recv) {
            *resp = read_buffer(recv, resp_len);
            if (!*resp) {
                st->code = GRPC_STATUS_RESOURCE_EXHAUSTED;
                snprintf(st->message, sizeof st->message, "out of memory reading the response");
            }
        } else if (code == GRPC_STATUS_OK) {
            st->code = GRPC_STATUS_INTERNAL;
            snprintf(st->message, sizeof st->message, "the server sent no response message");
        }
    }
    if (recv)
        grpc_byte_buffer_destroy(recv);
    grpc_byte_buffer_destroy(send);
    grpc_slice_unref(details);
    grpc_metadata_array_destroy(&initial);
    grpc_metadata_array_destroy(&trailing);
    grpc_call_unref(call);
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(cq);
}

/* ---- streams ---------------------------------------------------------- */

roost_status rc_group_new(struct rc_group **out, roost_error *err)
{
    struct rc_group *g = calloc(1, sizeof *g);

    if (!g)
        return roost_error_set(err, ROOST_ENOMEM, "out of memory");
    g->cq = grpc_completion_queue_create_for_next(NULL);
    *out = g;
    return ROOST_OK;
}

static void stream_free(struct rc_stream *s)
{
    struct rc_group *g = s->group;

    if (s->prev)
        s->prev->next = s->next;
    else
        g->streams = s->next;
    if (s->next)
        s->next->prev = s->prev;
    if (s->send_buf)
        grpc_byte_buffer_destroy(s->send_buf);
    if (s->recv_buf)
        grpc_byte_buffer_destroy(s->recv_buf);
    grpc_slice_unref(s->details);
    grpc_slice_unref(s->auth_md.value);
    grpc_metadata_array_destroy(&s->initial_md);
    grpc_metadata_array_destroy(&s->trailing_md);
    grpc_call_unref(s->call);
    free(s);
}

static bool arm_recv(struct rc_stream *s)
{
    grpc_op op;

    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_RECV_MESSAGE;
    op.data.recv_message.recv_message = &s->recv_buf;
    if (grpc_call_start_batch(s->call, &op, 1, &s->msg_tag, NULL) != GRPC_CALL_OK)
        return false;
    s->pending++;
    return true;
}

roost_status rc_stream_open(struct rc_group *g, struct rc_channel *ch, const char *method,
                            const void *req, size_t len, void *user, struct rc_stream **out,
                            roost_error *err)
{
    struct rc_stream *s = calloc(1, sizeof *s);
    grpc_slice body;
    grpc_op ops[4];

    if (!s)
        return roost_error_set(err, ROOST_ENOMEM, "out of memory");
    s->open_tag.kind = TAG_OPEN;
    s->msg_tag.kind = TAG_MSG;
    s->status_tag.kind = TAG_STATUS;
    s->group = g;
    s->user = user;
    s->details = grpc_empty_slice();
    grpc_metadata_array_init(&s->initial_md);
    grpc_metadata_array_init(&s->trailing_md);
    s->call = grpc_channel_create_call(ch->ch, NULL, GRPC_PROPAGATE_DEFAULTS, g->cq,
                                       grpc_slice_from_static_string(method), NULL,
                                       gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    body = grpc_slice_from_copied_buffer(req, len);
    s->send_buf = grpc_raw_byte_buffer_create(&body, 1);
    grpc_slice_unref(body);

    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    if (ch->has_auth) {
        s->auth_md.key = grpc_slice_from_static_string("authorization");
        s->auth_md.value = grpc_slice_from_copied_string(ch->auth);
        ops[0].data.send_initial_metadata.count = 1;
        ops[0].data.send_initial_metadata.metadata = &s->auth_md;
    }
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = s->send_buf;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &s->initial_md;
    if (grpc_call_start_batch(s->call, ops, 4, &s->open_tag, NULL) != GRPC_CALL_OK) {
        grpc_call_unref(s->call);
        grpc_byte_buffer_destroy(s->send_buf);
        free(s);
        return roost_error_set(err, ROOST_EINTERNAL, "cannot start the stream");
    }
    s->pending++;
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[0].data.recv_status_on_client.status = &s->code;
    ops[0].data.recv_status_on_client.status_details = &s->details;
    ops[0].data.recv_status_on_client.trailing_metadata = &s->trailing_md;
    if (grpc_call_start_batch(s->call, ops, 1, &s->status_tag, NULL) == GRPC_CALL_OK)
        s->pending++;
    arm_recv(s);
    s->next = g->streams;
    if (g->streams)
        g->streams->prev = s;
    g->streams = s;
    *out = s;
    return ROOST_OK;
}

void rc_stream_cancel(struct rc_stream *s)
{
    grpc_call_cancel(s->call, NULL);
}

/* Frees the stream once END was reported and no operation is in flight. */
static void maybe_free(struct rc_stream *s)
{
    if (s->ended && s->pending == 0)
        stream_free(s);
}

void rc_group_next(struct rc_group *g, double timeout_s, struct rc_event *ev)
{
    gpr_timespec deadline = deadline_after(timeout_s);

    memset(ev, 0, sizeof *ev);
    for (;;) {
        grpc_event e = grpc_completion_queue_next(g->cq, deadline, NULL);
        struct rc_tag *tag;
        struct rc_stream *s;

        if (e.type != GRPC_OP_COMPLETE) {
            ev->type = RC_TIMEOUT;
            return;
        }
        tag = e.tag;
        switch (tag->kind) {
        case TAG_OPEN:
            s = container_of(tag, struct rc_stream, open_tag);
            s->pending--;
            maybe_free(s);
            continue;
        case TAG_MSG:
            s = container_of(tag, struct rc_stream, msg_tag);
            s->pending--;
            if (e.success && s->recv_buf) {
                grpc_byte_buffer *bb = s->recv_buf;
                s->recv_buf = NULL;
                if (!arm_recv(s))
                    s->no_more_messages = true;
                ev->type = RC_MESSAGE;
                ev->stream = s;
                ev->user = s->user;
                ev->data = read_buffer(bb, &ev->len);
                grpc_byte_buffer_destroy(bb);
                return;
            }
            s->no_more_messages = true;
            break;
        case TAG_STATUS:
            s = container_of(tag, struct rc_stream, status_tag);
            s->pending--;
            s->have_status = true;
            break;
        default:
            continue;
        }
        if (s->no_more_messages && s->have_status && !s->ended) {
            s->ended = true;
            ev->type = RC_END;
            ev->stream = s;
            ev->user = s->user;
            copy_details(&ev->status, s->code, s->details);
            maybe_free(s);
            return;
        }
        maybe_free(s);
    }
}

void rc_group_free(struct rc_group *g)
{
    struct rc_event ev;

    if (!g)
        return;
    for (struct rc_stream *s = g->streams; s; s = s->next)
        grpc_call_cancel(s->call, NULL);
    while (g->streams) {
        rc_group_next(g, 5.0, &ev);
        if (ev.type == RC_MESSAGE)
            free(ev.data);
        if (ev.type == RC_TIMEOUT)
            break;
    }
    grpc_completion_queue_shutdown(g->cq);
    while (grpc_completion_queue_next(g->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(g->cq);
    free(g);
}

void rc_status_explain(const struct rc_channel *ch, const struct rc_status *st, char *out,
                       size_t cap)
{
    switch (st->code) {
    case GRPC_STATUS_UNAVAILABLE:
        if (strstr(st->message, "shutting down"))
            snprintf(out, cap, "roostd at %s is shutting down: %s", ch->target, st->message);
        else
            snprintf(out, cap,
                     "cannot reach roostd at %s: is it running? (start it with 'roostd', or "
                     "point --server at it)",
                     ch->target);
        break;
    case GRPC_STATUS_DEADLINE_EXCEEDED:
        snprintf(out, cap, "roostd at %s did not answer in time (raise --timeout if it is busy)",
                 ch->target);
        break;
    case GRPC_STATUS_UNAUTHENTICATED:
        snprintf(out, cap, "roostd at %s refused the token: %s (pass --token-file with a token "
                           "from its token file)",
                 ch->target, st->message);
        break;
    case GRPC_STATUS_UNIMPLEMENTED:
        snprintf(out, cap, "the server at %s does not speak this Roost API: %s", ch->target,
                 st->message);
        break;
    default:
        snprintf(out, cap, "%s", st->message[0] ? st->message : "the call failed");
        break;
    }
}
