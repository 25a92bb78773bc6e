/* The sync hub: every Sync subscriber and the fan-out of changes to them.
 *
 * The change log in the store is the queue. Each subscriber only remembers
 * the last revision it was sent; when its previous message has gone out it
 * is sent the next revision, from a small shared cache of recently published
 * events (or, when it lags, from the log). Memory per subscriber is
 * therefore constant, and a slow subscriber holds back nobody but itself.
 * The per-subscriber queue is the window between its revision and the head;
 * when that window grows past max_lag — or reaches behind the compacted
 * start of the log — the subscriber is moved to resync: its next message is
 * a snapshot of the current state instead of the backlog.
 */
#ifndef ROOSTD_HUB_H
#define ROOSTD_HUB_H

#include <grpc/status.h>
#include <stdint.h>

#include "roost/status.h"
#include "rpc.h"
#include "store.h"

struct hub;

struct hub_options {
    uint64_t max_lag; /* revisions a subscriber may fall behind before resync */
};

#define HUB_DEFAULT_MAX_LAG 256

struct hub_stats {
    uint32_t subscribers;
    uint64_t snapshots_sent;
    uint64_t changes_sent;
    uint64_t resyncs;
};

roost_status hub_create(struct store *st, const struct hub_options *opt, struct hub **out,
                        roost_error *err);
void hub_destroy(struct hub *h);

/* Announces a committed revision. event is the encoded roost.v1.ChangeEvent
 * just written to the change log. Concurrent writers may publish out of
 * commit order: subscribers read any revision the cache lacks from the log. */
void hub_publish(struct hub *h, uint64_t revision, const void *event, size_t len);

/* Takes over stream s: sends a snapshot, or the changes after from_revision
 * when the log still holds them, then every new change. */
void hub_subscribe(struct hub *h, struct rpc_stream *s, uint64_t from_revision,
                   const char *client_id);

/* Ends every stream with status (shutdown); new subscribers are refused. */
void hub_close_all(struct hub *h, grpc_status_code code, const char *message);

void hub_get_stats(struct hub *h, struct hub_stats *out);

#endif
