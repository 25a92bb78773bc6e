/* Sync fan-out. See hub.h for the model.
 *
 * One mutex guards the subscriber list, the event cache and every
 * subscriber's state. Nothing under it blocks: starting a gRPC batch only
 * queues work, and the rare log read or snapshot build is an LMDB read.
 * Invariant: a subscriber has at most one message in flight (`sending`);
 * its next message is chosen only when that one completes, so messages
 * reach a client in revision order with no gaps.
 */
#include "hub.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "snapshot.h"

/* Recently published events, shared by all subscribers at the head. */
#define HUB_CACHE 64

struct sub {
    struct hub_sub pub;  /* what the format sees */
    struct hub *hub;
    const struct hub_format *fmt;
    struct rpc_stream *stream;
    struct sub *prev, *next;
    bool sending;
    bool closed;         /* the call is over; free when not sending */
    bool finishing;      /* finish the call once the message in flight is out */
    bool in_snapshot;    /* the message in flight is a snapshot */
    bool in_keepalive;   /* the message in flight is a keep-alive */
    char client_id[64];
};

struct cached_event {
    uint64_t revision;
    grpc_slice payload; /* encoded SyncResponse{change} */
};

struct hub {
    struct store *store;
    struct hub_options opt;
    pthread_mutex_t mu;
    struct sub *subs;
    uint32_t nsubs;
    uint64_t head;
    bool closing;
    grpc_status_code close_code;
    char close_message[128];
    struct cached_event cache[HUB_CACHE];
    uint64_t snap_rev;   /* revision of snap_payload; 0 = none */
    grpc_slice snap_payload;
    struct hub_stats stats;
    pthread_t ticker;
    bool ticker_running;
    pthread_cond_t tick_cv;
    bool stop_ticker;
};

static void *ticker_main(void *arg);

roost_status hub_create(struct store *st, const struct hub_options *opt, struct hub **out,
                        roost_error *err)
{
    struct hub *h = calloc(1, sizeof *h);

    if (!h)
        return roost_error_set(err, ROOST_ENOMEM, "out of memory creating the sync hub");
    h->store = st;
    h->opt = *opt;
    if (h->opt.max_lag == 0)
        h->opt.max_lag = HUB_DEFAULT_MAX_LAG;
    if (h->opt.keepalive_s <= 0)
        h->opt.keepalive_s = HUB_DEFAULT_KEEPALIVE_S;
    h->head = store_revision(st);
    h->snap_payload = grpc_empty_slice();
    for (int i = 0; i < HUB_CACHE; i++)
        h->cache[i].payload = grpc_empty_slice();
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->tick_cv, NULL);
    h->ticker_running = pthread_create(&h->ticker, NULL, ticker_main, h) == 0;
    *out = h;
    return ROOST_OK;
}

static void stop_ticker(struct hub *h)
{
    pthread_mutex_lock(&h->mu);
    h->stop_ticker = true;
    pthread_cond_broadcast(&h->tick_cv);
    pthread_mutex_unlock(&h->mu);
    if (h->ticker_running)
        pthread_join(h->ticker, NULL);
    h->ticker_running = false;
}

void hub_destroy(struct hub *h)
{
    if (!h)
        return;
    stop_ticker(h);
    for (int i = 0; i < HUB_CACHE; i++)
        grpc_slice_unref(h->cache[i].payload);
    grpc_slice_unref(h->snap_payload);
    pthread_cond_destroy(&h->tick_cv);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

struct store *hub_store(struct hub *h)
{
    return h->store;
}

static void unlink_sub(struct hub *h, struct sub *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else if (h->subs == s)
        h->subs = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->prev = s->next = NULL;
    h->nsubs--;
}

static void free_sub_locked(struct hub *h, struct sub *s)
{
    unlink_sub(h, s);
    rpc_stream_release(s->stream);
    if (s->fmt->free_data && s->pub.data)
        s->fmt->free_data(s->pub.data);
    free(s);
}

bool hub_change_payload(struct hub *h, uint64_t rev, grpc_slice *out)
{
    struct cached_event *c = &h->cache[rev % HUB_CACHE];
    struct store_txn t;
    struct store_val v;
    bool found = false;

    if (c->revision == rev) {
        *out = grpc_slice_ref(c->payload);
        return true;
    }
    if (store_begin(h->store, false, &t, NULL) != ROOST_OK)
        return false;
    if (store_log_get(&t, rev, &v, NULL) == ROOST_OK) {
        *out = snapshot_wrap_change(v.data, v.len);
        found = true;
    }
    store_abort(&t);
    return found;
}

bool hub_snapshot_payload(struct hub *h, grpc_slice *out, uint64_t *rev)
{
    roost_error err;

    if (h->snap_rev == 0 || h->snap_rev != h->head) {
        grpc_slice fresh;
        uint64_t fresh_rev;

        if (snapshot_encode(h->store, &fresh, &fresh_rev, &err) != ROOST_OK) {
            struct log_line l;
            log_begin(&l, LOG_ERROR, "snapshot_failed");
            log_str(&l, "error", err.msg);
            log_end(&l);
            return false;
        }
        grpc_slice_unref(h->snap_payload);
        h->snap_payload = fresh;
        h->snap_rev = fresh_rev;
    }
    *out = grpc_slice_ref(h->snap_payload);
    *rev = h->snap_rev;
    return true;
}

bool hub_log_covers(struct hub *h, uint64_t rev, uint64_t head)
{
    return rev + 1 >= store_log_first(h->store) && head - rev <= h->opt.max_lag;
}

void hub_count_resync(struct hub *h)
{
    h->stats.resyncs++;
}

/* Roost's protocol: a snapshot first (or whenever the log cannot replay the
 * gap), then every revision in order. */
static enum hub_next roost_next(struct hub *h, struct hub_sub *s, uint64_t head,
                                grpc_slice *payload)
{
    uint64_t rev;

    if (!s->need_initial && s->sent_rev == head)
        return HUB_IDLE;
    if (!s->need_initial && s->sent_rev < head && hub_log_covers(h, s->sent_rev, head) &&
        hub_change_payload(h, s->sent_rev + 1, payload)) {
        s->sent_rev++;
        return HUB_CHANGE;
    }
    /* First message, a client ahead of us (a wiped data directory), or a
     * gap the log cannot fill: a snapshot of the current state. */
    if (!s->need_initial)
        hub_count_resync(h);
    if (!hub_snapshot_payload(h, payload, &rev))
        return HUB_FAIL;
    s->need_initial = false;
    s->sent_rev = rev;
    return HUB_SNAPSHOT;
}

const struct hub_format hub_format_roost = {"roost", roost_next, NULL, NULL};

/* Sends the subscriber its next message, if it has one and nothing is in
 * flight. Called with h->mu held. */
static void pump_locked(struct hub *h, struct sub *s)
{
    grpc_slice payload;
    enum hub_next next;

    if (s->sending || s->closed)
        return;
    if (s->finishing || h->closing) {
        s->finishing = true;
        rpc_stream_finish(s->stream, h->close_code, h->close_message);
        return;
    }
    next = s->fmt->next(h, &s->pub, h->head, &payload);
    if (next == HUB_IDLE)
        return;
    if (next == HUB_FAIL) {
        s->finishing = true;
        rpc_stream_finish(s->stream, GRPC_STATUS_INTERNAL,
                          "roostd could not read its store to build a snapshot; see its log");
        return;
    }
    s->sending = true;
    s->in_snapshot = next == HUB_SNAPSHOT;
    s->in_keepalive = false;
    if (!rpc_stream_send(s->stream, payload))
        s->sending = false; /* the call is over; on_closed follows */
}

static void on_sent(void *user, bool ok)
{
    struct sub *s = user;
    struct hub *h = s->hub;

    pthread_mutex_lock(&h->mu);
    s->sending = false;
    if (ok && !s->in_keepalive) {
        if (s->in_snapshot)
            h->stats.snapshots_sent++;
        else
            h->stats.changes_sent++;
    }
    if (s->closed)
        free_sub_locked(h, s);
    else if (ok)
        pump_locked(h, s);
    pthread_mutex_unlock(&h->mu);
}

static void on_closed(void *user)
{
    struct sub *s = user;
    struct hub *h = s->hub;

    pthread_mutex_lock(&h->mu);
    s->closed = true;
    if (!s->sending)
        free_sub_locked(h, s);
    pthread_mutex_unlock(&h->mu);
}

void hub_subscribe(struct hub *h, struct rpc_stream *stream, const struct hub_format *fmt,
                   uint64_t from_revision, void *data, const char *client_id)
{
    struct sub *s = calloc(1, sizeof *s);
    struct log_line l;

    if (!s) {
        rpc_stream_finish(stream, GRPC_STATUS_RESOURCE_EXHAUSTED, "roostd is out of memory");
        rpc_stream_release(stream);
        if (fmt->free_data && data)
            fmt->free_data(data);
        return;
    }
    s->hub = h;
    s->fmt = fmt;
    s->stream = stream;
    s->pub.sent_rev = from_revision;
    s->pub.need_initial = from_revision == 0;
    s->pub.data = data;
    snprintf(s->client_id, sizeof s->client_id, "%s", client_id ? client_id : "");
    rpc_stream_set_callbacks(stream, s, on_sent, on_closed);

    log_begin(&l, LOG_DEBUG, "subscribe");
    log_str(&l, "format", fmt->name);
    log_str(&l, "client_id", s->client_id);
    log_str(&l, "peer", rpc_stream_peer(stream));
    log_u64(&l, "from_revision", from_revision);
    log_end(&l);

    /* Held across rpc_stream_start so that on_closed, which may run on
     * another thread as soon as the close op is armed, waits until s is
     * fully set up. */
    pthread_mutex_lock(&h->mu);
    s->next = h->subs;
    if (h->subs)
        h->subs->prev = s;
    h->subs = s;
    h->nsubs++;
    if (!rpc_stream_start(stream)) {
        s->closed = true;
        free_sub_locked(h, s);
    } else {
        pump_locked(h, s);
    }
    pthread_mutex_unlock(&h->mu);
}

void hub_publish(struct hub *h, uint64_t revision, const void *event, size_t len)
{
    struct cached_event *c = &h->cache[revision % HUB_CACHE];
    grpc_slice payload = snapshot_wrap_change(event, len);

    pthread_mutex_lock(&h->mu);
    grpc_slice_unref(c->payload);
    c->payload = payload;
    c->revision = revision;
    if (revision > h->head)
        h->head = revision;
    for (struct sub *s = h->subs; s; s = s->next)
        pump_locked(h, s);
    pthread_mutex_unlock(&h->mu);
}

/* Sends a keep-alive to every idle subscriber whose format has one. */
static void tick_locked(struct hub *h)
{
    for (struct sub *s = h->subs; s; s = s->next) {
        grpc_slice payload;

        if (s->sending || s->closed || s->finishing || !s->fmt->keepalive ||
            s->pub.need_initial || !s->fmt->keepalive(&payload))
            continue;
        s->sending = true;
        s->in_snapshot = false;
        s->in_keepalive = true;
        if (!rpc_stream_send(s->stream, payload))
            s->sending = false;
    }
}

static void *ticker_main(void *arg)
{
    struct hub *h = arg;
    struct timespec next;

    pthread_mutex_lock(&h->mu);
    while (!h->stop_ticker) {
        next = clock_deadline_ms((int64_t)h->opt.keepalive_s * 1000);
        while (!h->stop_ticker &&
               pthread_cond_timedwait(&h->tick_cv, &h->mu, &next) == 0)
            ;
        if (!h->stop_ticker && !h->closing)
            tick_locked(h);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

void hub_close_all(struct hub *h, grpc_status_code code, const char *message)
{
    pthread_mutex_lock(&h->mu);
    h->closing = true;
    h->close_code = code;
    snprintf(h->close_message, sizeof h->close_message, "%s", message);
    for (struct sub *s = h->subs; s; s = s->next)
        pump_locked(h, s);
    pthread_mutex_unlock(&h->mu);
}

void hub_get_stats(struct hub *h, struct hub_stats *out)
{
    pthread_mutex_lock(&h->mu);
    *out = h->stats;
    out->subscribers = h->nsubs;
    pthread_mutex_unlock(&h->mu);
}
