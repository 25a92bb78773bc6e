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

#include "log.h"
#include "snapshot.h"

/* Recently published events, shared by all subscribers at the head. */
#define HUB_CACHE 64

struct sub {
    struct hub *hub;
    struct rpc_stream *stream;
    struct sub *prev, *next;
    uint64_t sent_rev;   /* the client holds everything up to here */
    bool need_snapshot;
    bool sending;
    bool closed;         /* the call is over; free when not sending */
    bool finishing;      /* finish the call once the message in flight is out */
    bool in_snapshot;    /* the message in flight is a snapshot */
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
};

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
    h->head = store_revision(st);
    h->snap_payload = grpc_empty_slice();
    for (int i = 0; i < HUB_CACHE; i++)
        h->cache[i].payload = grpc_empty_slice();
    pthread_mutex_init(&h->mu, NULL);
    *out = h;
    return ROOST_OK;
}

void hub_destroy(struct hub *h)
{
    if (!h)
        return;
    for (int i = 0; i < HUB_CACHE; i++)
        grpc_slice_unref(h->cache[i].payload);
    grpc_slice_unref(h->snap_payload);
    pthread_mutex_destroy(&h->mu);
    free(h);
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
    free(s);
}

/* The payload for revision rev: from the cache, or from the change log. */
static bool change_payload(struct hub *h, uint64_t rev, grpc_slice *out)
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

static bool snapshot_payload(struct hub *h, grpc_slice *out, uint64_t *rev)
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

/* Sends the subscriber its next message, if it has one and nothing is in
 * flight. Called with h->mu held. */
static void pump_locked(struct hub *h, struct sub *s)
{
    grpc_slice payload;
    uint64_t rev;
    bool snapshot;

    if (s->sending || s->closed)
        return;
    if (s->finishing || h->closing) {
        s->finishing = true;
        rpc_stream_finish(s->stream, h->close_code, h->close_message);
        return;
    }
    if (!s->need_snapshot && s->sent_rev >= h->head)
        return; /* up to date */

    snapshot = s->need_snapshot || s->sent_rev > h->head ||
               s->sent_rev + 1 < store_log_first(h->store) || h->head - s->sent_rev > h->opt.max_lag;
    if (snapshot) {
        if (!s->need_snapshot)
            h->stats.resyncs++;
        if (!snapshot_payload(h, &payload, &rev))
            goto failed;
    } else {
        rev = s->sent_rev + 1;
        if (!change_payload(h, rev, &payload)) {
            /* Compacted between the check and the read: resync instead. */
            h->stats.resyncs++;
            if (!snapshot_payload(h, &payload, &rev))
                goto failed;
            snapshot = true;
        }
    }
    s->sending = true;
    s->in_snapshot = snapshot;
    s->need_snapshot = false;
    s->sent_rev = rev;
    if (!rpc_stream_send(s->stream, payload))
        s->sending = false; /* the call is over; on_closed follows */
    return;

failed:
    s->finishing = true;
    rpc_stream_finish(s->stream, GRPC_STATUS_INTERNAL,
                      "roostd could not read its store to build a snapshot; see its log");
}

static void on_sent(void *user, bool ok)
{
    struct sub *s = user;
    struct hub *h = s->hub;

    pthread_mutex_lock(&h->mu);
    s->sending = false;
    if (ok) {
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

void hub_subscribe(struct hub *h, struct rpc_stream *stream, uint64_t from_revision,
                   const char *client_id)
{
    struct sub *s = calloc(1, sizeof *s);
    struct log_line l;

    if (!s) {
        rpc_stream_finish(stream, GRPC_STATUS_RESOURCE_EXHAUSTED, "roostd is out of memory");
        rpc_stream_release(stream);
        return;
    }
    s->hub = h;
    s->stream = stream;
    s->sent_rev = from_revision;
    s->need_snapshot = from_revision == 0;
    snprintf(s->client_id, sizeof s->client_id, "%s", client_id ? client_id : "");
    rpc_stream_set_callbacks(stream, s, on_sent, on_closed);

    log_begin(&l, LOG_DEBUG, "subscribe");
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
