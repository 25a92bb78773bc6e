/* The sync hub: every streaming subscriber and the fan-out of changes to
 * them.
 *
 * The change log in the store is the queue. Each subscriber only remembers
 * the last revision it was sent; when its previous message has gone out it
 * is sent what comes next, from a small shared cache of recently published
 * events (or, when it lags, from the log). Memory per subscriber is
 * therefore constant, and a slow subscriber holds back nobody but itself.
 * The per-subscriber queue is the window between its revision and the head;
 * when that window grows past max_lag — or reaches behind the compacted
 * start of the log — the subscriber is moved to resync: its next message is
 * a snapshot of the current state instead of the backlog.
 *
 * What a subscriber is sent is decided by its format: Roost's own Sync
 * protocol (snapshot, then one change per revision), or one of flagd's
 * (whole configuration on every change; change notifications with the
 * changed keys). Formats share everything else: the one-message-in-flight
 * pump, shutdown, keep-alives.
 */
#ifndef ROOSTD_HUB_H
#define ROOSTD_HUB_H

#include <grpc/slice.h>
#include <grpc/status.h>
#include <stdbool.h>
#include <stdint.h>

#include "roost/status.h"
#include "rpc.h"
#include "store.h"

struct hub;

struct hub_options {
    uint64_t max_lag;      /* revisions a subscriber may fall behind before resync */
    int keepalive_s;       /* period of keep-alive messages for formats that send them */
};

#define HUB_DEFAULT_MAX_LAG 256
#define HUB_DEFAULT_KEEPALIVE_S 30

struct hub_stats {
    uint32_t subscribers;
    uint64_t snapshots_sent;
    uint64_t changes_sent;
    uint64_t resyncs;
};

/* One subscriber, as its format sees it. */
struct hub_sub {
    uint64_t sent_rev;  /* the client holds everything up to here */
    bool need_initial;  /* nothing sent yet: start with a snapshot/greeting */
    void *data;         /* the format's own state (freed with free_data) */
};

/* What the next message of a subscriber is. */
enum hub_next {
    HUB_IDLE,     /* up to date: nothing to send */
    HUB_SNAPSHOT, /* *payload is a snapshot (counted as such) */
    HUB_CHANGE,   /* *payload is a change */
    HUB_FAIL      /* the state could not be read: end the stream (INTERNAL) */
};

struct hub_format {
    const char *name;
    /* Picks the next message for s with the head at `head`, advancing
     * s->sent_rev. Runs with the hub lock held; may read the store and the
     * hub's caches (hub_change_payload, hub_snapshot_payload). */
    enum hub_next (*next)(struct hub *h, struct hub_sub *s, uint64_t head, grpc_slice *payload);
    /* A keep-alive message, or NULL when the format sends none. */
    bool (*keepalive)(grpc_slice *payload);
    void (*free_data)(void *data);
};

/* Roost's Sync protocol: roost.v1.SyncResponse snapshots and changes. */
extern const struct hub_format hub_format_roost;

roost_status hub_create(struct store *st, const struct hub_options *opt, struct hub **out,
                        roost_error *err);
void hub_destroy(struct hub *h);

/* Announces a committed revision. event is the encoded roost.v1.ChangeEvent
 * just written to the change log. Concurrent writers may publish out of
 * commit order: subscribers read any revision the cache lacks from the log. */
void hub_publish(struct hub *h, uint64_t revision, const void *event, size_t len);

/* Takes over stream s. from_revision = 0 starts with the format's initial
 * message; otherwise the subscriber resumes after that revision. data is
 * the format's state for this subscriber (owned by the hub from here on). */
void hub_subscribe(struct hub *h, struct rpc_stream *s, const struct hub_format *fmt,
                   uint64_t from_revision, void *data, const char *client_id);

/* Ends every stream with status (shutdown); new subscribers are refused. */
void hub_close_all(struct hub *h, grpc_status_code code, const char *message);

void hub_get_stats(struct hub *h, struct hub_stats *out);
struct store *hub_store(struct hub *h);

/* For formats, with the hub lock held. The encoded ChangeEvent of revision
 * rev wrapped as a roost.v1.SyncResponse (shared cache, then the log);
 * false when the log no longer has it. */
bool hub_change_payload(struct hub *h, uint64_t rev, grpc_slice *out);
/* The encoded roost.v1.SyncResponse snapshot at the head, built once per
 * revision; false on a store error (logged). */
bool hub_snapshot_payload(struct hub *h, grpc_slice *out, uint64_t *rev);
/* Whether the change log still holds every revision after rev. */
bool hub_log_covers(struct hub *h, uint64_t rev, uint64_t head);
/* Counts a resync (a lagging subscriber sent a snapshot instead). */
void hub_count_resync(struct hub *h);

#endif
