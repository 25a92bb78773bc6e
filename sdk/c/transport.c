/* The client's background thread: the gRPC connection to roostd, the Sync
 * stream with resume and backoff, the Report calls, the flush timer and the
 * cache writes. One thread, one completion queue, no locks of its own:
 * every piece of state here is touched by this thread only.
 *
 * The loop waits on the completion queue until the next timer (at most
 * LOOP_TICK_MS, which is also how quickly it notices roost_client_close and
 * roost_client_flush: gRPC's C core has no public way to post a wake-up to
 * a queue), then dispatches completions by tag.
 *
 * Connections. Every Sync attempt after a failure uses a new channel (with
 * its own subchannel pool): a channel that failed carries gRPC's internal
 * reconnect backoff (multiplier 1.6, 120 s cap), which would override ours.
 * With a fresh channel each attempt is exactly one connection attempt, and
 * the client's schedule (backoff.h: 1 s, x2, 30 s cap, 50 % jitter, reset
 * after 60 s up) is the one that applies. Calls are fail-fast: a call on a
 * channel that cannot connect ends with UNAVAILABLE instead of waiting. An
 * attempt that has not received roostd's response headers within
 * connect_timeout_ms is cancelled. Keepalive pings (keepalive_ms, 30 s by
 * default; roostd permits them) find a dead peer on an idle stream.
 *
 * Resume. A Sync request carries the revision the client holds (from the
 * stream or the cache); roostd answers with only the changes after it, or a
 * snapshot when its change log no longer reaches back.
 *
 * Reports. One Report call at a time, driven by reporter.c; the stream
 * coming up resends a pending batch at once.
 */
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "client_internal.h"
#include "prims.h"
#include "sync.h"
#include "wire.h"

#define LOOP_TICK_MS 100
#define CACHE_DEBOUNCE_MS 200 /* a burst of changes is written once */

enum tag_kind { TAG_STREAM_OPEN, TAG_STREAM_MSG, TAG_STREAM_STATUS, TAG_REPORT };

struct tag {
    enum tag_kind kind;
};

#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* A channel shared by the calls started on it. */
struct chan {
    grpc_channel *ch;
    int refs;
};

struct stream {
    struct tag open_tag, msg_tag, status_tag;
    struct chan *chan;
    grpc_call *call;
    grpc_metadata auth;
    grpc_metadata_array initial_md, trailing_md;
    grpc_byte_buffer *send_buf, *recv_buf;
    grpc_status_code code;
    grpc_slice details;
    int pending;            /* batches in flight */
    bool have_status;
    bool connected;
    bool cancelled;
    bool resync;            /* the stream is being dropped to ask for a snapshot */
    int64_t started_ms, connected_ms;
};

struct report_call {
    struct tag tag;
    struct chan *chan;
    grpc_call *call;
    grpc_metadata auth;
    grpc_metadata_array initial_md, trailing_md;
    grpc_byte_buffer *send_buf, *recv_buf;
    grpc_status_code code;
    grpc_slice details;
};

struct transport {
    grpc_completion_queue *cq;
    grpc_channel_args args;
    grpc_arg arg[8];
    struct chan *chan;       /* for new calls; NULL = make a fresh one */

    struct stream st;
    bool stream_active;
    bool next_from_zero;     /* the next Subscribe asks for a full snapshot */
    struct backoff backoff;
    int64_t reconnect_at;    /* monotonic ms */

    struct report_call rc;
    bool report_active;

    int64_t interval_start;  /* wall ms */
    int64_t next_cut;        /* wall ms, a multiple of the flush interval */
    uint64_t flush_cut_gen;

    bool cache_dirty;
    int64_t cache_due;       /* monotonic ms */
    char last_cache_error[ROOST_ERROR_MSG_MAX];
    char last_stream_error[ROOST_ERROR_MSG_MAX];

    bool close_started;
    int64_t close_deadline;
    struct wire_sync msg;
};

/* ---- channels ----------------------------------------------------------- */

static struct chan *chan_get(struct roost_client *c, struct transport *t)
{
    grpc_channel_credentials *creds;
    struct chan *ch;

    if (t->chan) {
        t->chan->refs++;
        return t->chan;
    }
    if (!(ch = calloc(1, sizeof *ch)))
        return NULL;
    creds = grpc_insecure_credentials_create();
    ch->ch = grpc_channel_create(c->target, creds, &t->args);
    grpc_channel_credentials_release(creds);
    ch->refs = 2; /* the transport's and the caller's */
    t->chan = ch;
    return ch;
}

static void chan_put(struct chan *ch)
{
    if (ch && --ch->refs == 0) {
        grpc_channel_destroy(ch->ch);
        free(ch);
    }
}

/* The next call gets a fresh channel (the current one failed). */
static void chan_retire(struct transport *t)
{
    struct chan *ch = t->chan;

    t->chan = NULL;
    chan_put(ch);
}

static void set_auth(struct roost_client *c, grpc_metadata *md, grpc_op *op)
{
    memset(md, 0, sizeof *md);
    if (!c->auth_header)
        return;
    md->key = grpc_slice_from_static_string("authorization");
    md->value = grpc_slice_from_static_string(c->auth_header);
    op->data.send_initial_metadata.count = 1;
    op->data.send_initial_metadata.metadata = md;
}

static uint8_t *read_all(grpc_byte_buffer *bb, size_t *len)
{
    grpc_byte_buffer_reader r;
    grpc_slice all;
    uint8_t *out;

    *len = 0;
    if (!grpc_byte_buffer_reader_init(&r, bb))
        return NULL;
    all = grpc_byte_buffer_reader_readall(&r);
    grpc_byte_buffer_reader_destroy(&r);
    *len = GRPC_SLICE_LENGTH(all);
    out = malloc(*len ? *len : 1);
    if (out)
        memcpy(out, GRPC_SLICE_START_PTR(all), *len);
    grpc_slice_unref(all);
    return out;
}

static void details_text(grpc_slice details, char *out, size_t cap)
{
    size_t n = GRPC_SLICE_LENGTH(details);

    if (n >= cap)
        n = cap - 1;
    memcpy(out, GRPC_SLICE_START_PTR(details), n);
    out[n] = '\0';
}

/* ---- the Sync stream ---------------------------------------------------- */

static void stream_start(struct roost_client *c, struct transport *t, int64_t now)
{
    struct stream *s = &t->st;
    uint8_t req[128];
    size_t len = 0;
    grpc_slice body;
    grpc_op ops[4];
    const struct sdk_snapshot *held = hazard_current(&c->hz);
    /* A flags-only configuration (a version-1 cache) is no base to resume
     * from: the rollouts and experiments of its revision are missing. */
    uint64_t rev = t->next_from_zero || (held && held->partial) ? 0 : atomic_load(&c->revision);

    memset(s, 0, sizeof *s);
    s->open_tag.kind = TAG_STREAM_OPEN;
    s->msg_tag.kind = TAG_STREAM_MSG;
    s->status_tag.kind = TAG_STREAM_STATUS;
    s->details = grpc_empty_slice();
    s->started_ms = now;
    if (!(s->chan = chan_get(c, t)) ||
        wire_encode_sync_request(rev, rev && held ? &held->store_id : NULL, c->client_id, req,
                                 sizeof req, &len) != ROOST_OK) {
        chan_put(s->chan);
        t->reconnect_at = now + backoff_next(&t->backoff);
        return;
    }
    grpc_metadata_array_init(&s->initial_md);
    grpc_metadata_array_init(&s->trailing_md);
    s->call = grpc_channel_create_call(s->chan->ch, NULL, GRPC_PROPAGATE_DEFAULTS, t->cq,
                                       grpc_slice_from_static_string("/roost.v1.Sync/Subscribe"),
                                       NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    body = grpc_slice_from_copied_buffer((const char *)req, len);
    s->send_buf = grpc_raw_byte_buffer_create(&body, 1);
    grpc_slice_unref(body);

    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    set_auth(c, &s->auth, &ops[0]);
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = s->send_buf;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &s->initial_md;
    if (grpc_call_start_batch(s->call, ops, 4, &s->open_tag, NULL) == GRPC_CALL_OK)
        s->pending++;
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[0].data.recv_status_on_client.status = &s->code;
    ops[0].data.recv_status_on_client.status_details = &s->details;
    ops[0].data.recv_status_on_client.trailing_metadata = &s->trailing_md;
    if (grpc_call_start_batch(s->call, ops, 1, &s->status_tag, NULL) == GRPC_CALL_OK)
        s->pending++;
    t->stream_active = true;
    t->next_from_zero = false;
    sdk_log(c, ROOST_LOG_DEBUG, "subscribing to %s from revision %llu", c->target,
            (unsigned long long)rev);
}

static void stream_recv(struct transport *t)
{
    struct stream *s = &t->st;
    grpc_op op;

    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_RECV_MESSAGE;
    op.data.recv_message.recv_message = &s->recv_buf;
    if (grpc_call_start_batch(s->call, &op, 1, &s->msg_tag, NULL) == GRPC_CALL_OK)
        s->pending++;
}

static void stream_cancel(struct transport *t)
{
    if (t->stream_active && !t->st.cancelled) {
        t->st.cancelled = true;
        grpc_call_cancel(t->st.call, NULL);
    }
}

static void become_ready(struct roost_client *c)
{
    if (!hazard_current(&c->hz) || atomic_load(&c->state) == ROOST_STATE_READY)
        return;
    sdk_set_state(c, ROOST_STATE_READY);
    sdk_emit(c, ROOST_EVENT_READY, ROOST_OK, NULL, "connected to roostd at %s, revision %llu",
             c->target, (unsigned long long)atomic_load(&c->revision));
}

static void on_stream_message(struct roost_client *c, struct transport *t, const uint8_t *data,
                              size_t len)
{
    roost_error err;
    enum sync_result r;

    if (wire_decode_sync_response(data, len, &t->msg, &err) != ROOST_OK) {
        sdk_log(c, ROOST_LOG_ERROR, "cannot use a message from roostd (%s); resubscribing",
                err.msg);
        wire_sync_clear(&t->msg);
        t->st.resync = true;
        stream_cancel(t);
        return;
    }
    if (t->msg.is_snapshot)
        atomic_fetch_add(&c->snapshots_received, 1);
    else
        atomic_fetch_add(&c->changes_received, 1);
    r = sync_apply(c, &t->msg, false);
    wire_sync_clear(&t->msg);
    if (r == SYNC_RESYNC || r == SYNC_FAILED) {
        t->st.resync = r == SYNC_RESYNC;
        stream_cancel(t);
        return;
    }
    if (r == SYNC_APPLIED) {
        t->cache_dirty = true;
        t->cache_due = sdk_mono_ms() + CACHE_DEBOUNCE_MS;
    }
    become_ready(c);
}

/* The stream is over (status received, nothing in flight). */
static void stream_finished(struct roost_client *c, struct transport *t, int64_t now)
{
    struct stream *s = &t->st;
    char details[ROOST_ERROR_MSG_MAX];
    bool was_connected = s->connected;

    details_text(s->details, details, sizeof details);
    grpc_call_unref(s->call);
    grpc_metadata_array_destroy(&s->initial_md);
    grpc_metadata_array_destroy(&s->trailing_md);
    grpc_slice_unref(s->details);
    if (s->send_buf)
        grpc_byte_buffer_destroy(s->send_buf);
    chan_put(s->chan);
    t->stream_active = false;
    /* Whatever ended the stream, the next attempt connects afresh. */
    chan_retire(t);

    if (was_connected) {
        atomic_fetch_add(&c->disconnects, 1);
        backoff_connected_for(&t->backoff, now - s->connected_ms);
    }
    if (s->resync)
        t->next_from_zero = true;
    if (atomic_load(&c->closing))
        return;
    t->reconnect_at = now + (s->resync ? 0 : backoff_next(&t->backoff));

    if (atomic_load(&c->state) == ROOST_STATE_READY) {
        sdk_set_state(c, ROOST_STATE_STALE);
        sdk_emit(c, ROOST_EVENT_STALE, ROOST_EUNAVAIL, NULL,
                 "lost the stream from roostd at %s (%s); serving revision %llu until it is back",
                 c->target, details[0] ? details : "no details",
                 (unsigned long long)atomic_load(&c->revision));
    }
    /* Errors other than "cannot reach it" need a person: say so once per
     * distinct message. */
    if (s->code != GRPC_STATUS_OK && s->code != GRPC_STATUS_UNAVAILABLE &&
        s->code != GRPC_STATUS_CANCELLED && s->code != GRPC_STATUS_DEADLINE_EXCEEDED &&
        strcmp(details, t->last_stream_error) != 0) {
        snprintf(t->last_stream_error, sizeof t->last_stream_error, "%s", details);
        sdk_log(c, ROOST_LOG_ERROR, "roostd at %s refused the Sync stream (status %d): %s",
                c->target, (int)s->code, details);
        sdk_emit(c, ROOST_EVENT_ERROR,
                 s->code == GRPC_STATUS_UNAUTHENTICATED || s->code == GRPC_STATUS_PERMISSION_DENIED
                     ? ROOST_EAUTH
                     : ROOST_EUNAVAIL,
                 NULL, "roostd at %s refused the Sync stream: %s", c->target, details);
    } else {
        sdk_log(c, ROOST_LOG_INFO, "Sync stream to %s ended (status %d: %s); retrying in %lld ms",
                c->target, (int)s->code, details, (long long)(t->reconnect_at - now));
    }
}

static void on_stream_event(struct roost_client *c, struct transport *t, struct tag *tag, bool ok,
                            int64_t now)
{
    struct stream *s = &t->st;

    s->pending--;
    switch (tag->kind) {
    case TAG_STREAM_OPEN:
        if (ok && !s->cancelled) {
            s->connected = true;
            s->connected_ms = now;
            t->last_stream_error[0] = '\0';
            atomic_fetch_add(&c->connects, 1);
            sdk_log(c, ROOST_LOG_INFO, "Sync stream to %s is up", c->target);
            become_ready(c);
            reporter_kick(&c->rep);
            stream_recv(t);
        }
        break;
    case TAG_STREAM_MSG:
        if (s->recv_buf) {
            size_t len;
            uint8_t *data = read_all(s->recv_buf, &len);
            grpc_byte_buffer_destroy(s->recv_buf);
            s->recv_buf = NULL;
            if (data)
                on_stream_message(c, t, data, len);
            free(data);
            if (!s->cancelled)
                stream_recv(t);
        }
        break;
    case TAG_STREAM_STATUS:
        s->have_status = true;
        break;
    default:
        break;
    }
    if (s->pending == 0 && s->have_status)
        stream_finished(c, t, now);
}

/* ---- Report calls ------------------------------------------------------- */

static void report_start(struct roost_client *c, struct transport *t, const uint8_t *bytes,
                         size_t len)
{
    struct report_call *r = &t->rc;
    grpc_slice body;
    grpc_op ops[6];
    gpr_timespec deadline =
        gpr_time_add(gpr_now(GPR_CLOCK_REALTIME),
                     gpr_time_from_millis((int64_t)c->opt.report_timeout_ms, GPR_TIMESPAN));

    memset(r, 0, sizeof *r);
    r->tag.kind = TAG_REPORT;
    r->details = grpc_empty_slice();
    if (!(r->chan = chan_get(c, t))) {
        reporter_done(&c->rep, sdk_mono_ms(), GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory",
                      NULL, 0);
        return;
    }
    grpc_metadata_array_init(&r->initial_md);
    grpc_metadata_array_init(&r->trailing_md);
    r->call = grpc_channel_create_call(r->chan->ch, NULL, GRPC_PROPAGATE_DEFAULTS, t->cq,
                                       grpc_slice_from_static_string("/roost.v1.Sync/Report"), NULL,
                                       deadline, NULL);
    body = grpc_slice_from_copied_buffer((const char *)bytes, len);
    r->send_buf = grpc_raw_byte_buffer_create(&body, 1);
    grpc_slice_unref(body);
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    set_auth(c, &r->auth, &ops[0]);
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = r->send_buf;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &r->initial_md;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &r->recv_buf;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.status = &r->code;
    ops[5].data.recv_status_on_client.status_details = &r->details;
    ops[5].data.recv_status_on_client.trailing_metadata = &r->trailing_md;
    if (grpc_call_start_batch(r->call, ops, 6, &r->tag, NULL) != GRPC_CALL_OK) {
        grpc_call_unref(r->call);
        grpc_byte_buffer_destroy(r->send_buf);
        grpc_metadata_array_destroy(&r->initial_md);
        grpc_metadata_array_destroy(&r->trailing_md);
        chan_put(r->chan);
        reporter_done(&c->rep, sdk_mono_ms(), GRPC_STATUS_INTERNAL, "cannot start the call", NULL,
                      0);
        return;
    }
    t->report_active = true;
}

static void on_report_done(struct roost_client *c, struct transport *t, int64_t now)
{
    struct report_call *r = &t->rc;
    char details[ROOST_ERROR_MSG_MAX];
    uint8_t *resp = NULL;
    size_t len = 0;

    details_text(r->details, details, sizeof details);
    if (r->code == GRPC_STATUS_OK && r->recv_buf)
        resp = read_all(r->recv_buf, &len);
    if (r->recv_buf)
        grpc_byte_buffer_destroy(r->recv_buf);
    grpc_byte_buffer_destroy(r->send_buf);
    grpc_metadata_array_destroy(&r->initial_md);
    grpc_metadata_array_destroy(&r->trailing_md);
    grpc_slice_unref(r->details);
    grpc_call_unref(r->call);
    if (r->code == GRPC_STATUS_UNAVAILABLE && t->chan == r->chan)
        chan_retire(t); /* connect afresh next time */
    chan_put(r->chan);
    t->report_active = false;
    reporter_done(&c->rep, now, r->code == GRPC_STATUS_OK && !resp ? GRPC_STATUS_UNKNOWN : r->code,
                  details, resp, len);
    free(resp);
}

/* ---- timers ------------------------------------------------------------- */

static int64_t aligned_next(int64_t now_wall, uint32_t interval)
{
    return (now_wall / interval + 1) * (int64_t)interval;
}

static void cut(struct roost_client *c, struct transport *t)
{
    int64_t now = sdk_wall_ms(), end = now;

    /* A scheduled cut runs a little after its boundary (the loop ticks).
     * Reporting the boundary itself as the interval's end files it under
     * the second it covers, not the next one: roostd files an aggregate
     * under the second holding its last millisecond, and rollout analysis
     * judges windows to the second. The few milliseconds past the boundary
     * ride along in this interval. */
    if (t->next_cut && now >= t->next_cut && now - t->next_cut < (int64_t)c->opt.flush_interval_ms)
        end = t->next_cut;
    agg_cut_at(c->agg, t->interval_start / 60000, end);
    /* Exposures are logged once per unit per reporting interval. */
    exposure_set_rotate(&c->exposures);
    t->interval_start = now;
    t->next_cut = aligned_next(now, c->opt.flush_interval_ms);
}

static void write_cache(struct roost_client *c, struct transport *t)
{
    struct sdk_snapshot *s = hazard_current(&c->hz);
    roost_error err;

    t->cache_dirty = false;
    if (!c->cache_path || !s)
        return;
    if (cache_store(c->cache_path, c->target, s, &err) != ROOST_OK) {
        if (strcmp(err.msg, t->last_cache_error) != 0) {
            snprintf(t->last_cache_error, sizeof t->last_cache_error, "%s", err.msg);
            sdk_log(c, ROOST_LOG_WARN, "cannot write the offline cache: %s", err.msg);
        }
        return;
    }
    t->last_cache_error[0] = '\0';
    atomic_fetch_add(&c->cache_writes, 1);
}

static void flush_progress(struct roost_client *c, struct transport *t)
{
    uint64_t want = atomic_load(&c->flush_requested);

    if (want > t->flush_cut_gen) {
        cut(c, t);
        t->flush_cut_gen = want;
    }
    if (reporter_idle(&c->rep)) {
        pthread_mutex_lock(&c->mu);
        if (c->flush_done < t->flush_cut_gen) {
            c->flush_done = t->flush_cut_gen;
            pthread_cond_broadcast(&c->cv);
        }
        pthread_mutex_unlock(&c->mu);
    }
}

/* ---- the loop ----------------------------------------------------------- */

roost_status transport_new(struct roost_client *c, roost_error *err)
{
    struct transport *t = calloc(1, sizeof *t);
    int n = 0;

    if (!t)
        return roost_error_set(err, ROOST_ENOMEM, "out of memory starting the client");
#define INT_ARG(k, v)                                                                             \
    do {                                                                                          \
        t->arg[n].type = GRPC_ARG_INTEGER;                                                        \
        t->arg[n].key = (char *)(k);                                                              \
        t->arg[n].value.integer = (v);                                                            \
        n++;                                                                                      \
    } while (0)
    INT_ARG(GRPC_ARG_KEEPALIVE_TIME_MS, (int)c->opt.keepalive_ms);
    INT_ARG(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, (int)(c->opt.keepalive_ms < 10000 ? c->opt.keepalive_ms
                                                                                : 10000));
    INT_ARG(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    INT_ARG(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
    INT_ARG(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
            c->opt.max_message_bytes > 0x7fffffff ? 0x7fffffff : (int)c->opt.max_message_bytes);
    INT_ARG(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    INT_ARG(GRPC_ARG_ENABLE_RETRIES, 0);
    INT_ARG(GRPC_ARG_ENABLE_CHANNELZ, 0);
#undef INT_ARG
    t->args.num_args = (size_t)n;
    t->args.args = t->arg;
    t->cq = grpc_completion_queue_create_for_next(NULL);
    backoff_init(&t->backoff, c->opt.backoff_initial_ms, c->opt.backoff_max_ms,
                 (uint64_t)sdk_wall_ms() ^ (uint64_t)(uintptr_t)c);
    wire_sync_init(&t->msg, sync_log_refused, c);
    t->msg.max_image_bytes = c->opt.max_message_bytes;
    c->tp = t;
    return ROOST_OK;
}

void transport_free(struct roost_client *c)
{
    struct transport *t = c->tp;

    if (!t)
        return;
    grpc_completion_queue_shutdown(t->cq);
    while (grpc_completion_queue_next(t->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(t->cq);
    chan_retire(t);
    wire_sync_clear(&t->msg);
    free(t);
    c->tp = NULL;
}

/* Events queued by roost_client_start for this thread to deliver. */
static void start_events(struct roost_client *c)
{
    if (!c->cache_used)
        return;
    sdk_emit(c, ROOST_EVENT_READY, ROOST_OK, NULL, "%s", c->cache_note);
    sdk_emit(c, ROOST_EVENT_STALE, ROOST_OK, NULL,
             "serving the cached configuration until roostd at %s is reachable", c->target);
}

void *transport_main(void *arg)
{
    struct roost_client *c = arg;
    struct transport *t = c->tp;
    int64_t now = sdk_mono_ms();

    t->interval_start = sdk_wall_ms();
    t->next_cut = aligned_next(t->interval_start, c->opt.flush_interval_ms);
    start_events(c);

    for (;;) {
        const uint8_t *bytes;
        size_t len;
        int64_t wait, wall;
        grpc_event ev;

        now = sdk_mono_ms();
        wall = sdk_wall_ms();
        if (atomic_load(&c->closing) && !t->close_started) {
            t->close_started = true;
            t->close_deadline = now + c->opt.close_timeout_ms;
            cut(c, t);
            reporter_kick(&c->rep);
        }
        if (t->close_started && (reporter_idle(&c->rep) || now >= t->close_deadline)) {
            stream_cancel(t);
            if (t->report_active)
                grpc_call_cancel(t->rc.call, NULL);
            if (!t->stream_active && !t->report_active)
                break;
        }

        if (!t->close_started) {
            if (!t->stream_active && now >= t->reconnect_at)
                stream_start(c, t, now);
            if (t->stream_active && !t->st.connected &&
                now - t->st.started_ms >= (int64_t)c->opt.connect_timeout_ms)
                stream_cancel(t);
            if (wall >= t->next_cut)
                cut(c, t);
            flush_progress(c, t);
        }
        if (!t->report_active && (!t->close_started || now < t->close_deadline) &&
            reporter_next(&c->rep, now, &bytes, &len))
            report_start(c, t, bytes, len);
        if (t->cache_dirty && now >= t->cache_due)
            write_cache(c, t);
        hazard_reclaim(&c->hz);

        wait = LOOP_TICK_MS;
        if (!t->stream_active && !t->close_started && t->reconnect_at - now < wait)
            wait = t->reconnect_at - now;
        if (t->next_cut - wall < wait)
            wait = t->next_cut - wall;
        if (wait < 0)
            wait = 0;
        ev = grpc_completion_queue_next(
            t->cq,
            gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(wait, GPR_TIMESPAN)),
            NULL);
        if (ev.type != GRPC_OP_COMPLETE)
            continue;
        now = sdk_mono_ms();
        struct tag *tag = ev.tag;
        if (tag->kind == TAG_REPORT)
            on_report_done(c, t, now);
        else
            on_stream_event(c, t, tag, ev.success != 0, now);
    }

    if (t->cache_dirty)
        write_cache(c, t);
    pthread_mutex_lock(&c->mu);
    atomic_store(&c->thread_done, true);
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return NULL;
}
