/* The SDK's side of the wire contract (proto/roost/v1/roost.proto), in
 * nanopb: Sync.Subscribe requests and responses (flags, and the rollouts,
 * probe states and experiments beside them), Sync.Report requests and
 * responses, and the Snapshot message the offline cache stores.
 *
 * Decoding treats every byte as hostile: string fields have fixed bounds
 * (sdk/c/roost.options), images and repeated fields go through callbacks
 * that bound what they accept (wire_sync.max_* fields), and every flag
 * image is verified by the engine before anything can evaluate it
 * (snapshot.h). Nothing here keeps a pointer into the input buffer.
 */
#ifndef ROOST_SDK_WIRE_H
#define ROOST_SDK_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "roost/engine.h"
#include "roost/sketch.h"
#include "resources.h"
#include "roost/status.h"
#include "snapshot.h"

/* Called for each flag whose image the engine refused (kept unloaded). */
typedef void (*wire_refused_fn)(void *user, const char *key, const roost_error *why);

/* A decoded SyncResponse (or cached Snapshot). */
struct wire_sync {
    bool is_snapshot;            /* else a change event */
    bool partial;                /* flags only (a version-1 cache): not a whole state */
    uint64_t revision;
    struct sdk_store_id store_id; /* snapshot: the store it is from */
    struct sdk_image **flags;    /* snapshot: every flag; change: upserted */
    size_t nflags, flags_cap;
    char (*removed)[ROOST_MAX_KEY_LEN + 1]; /* change: removed keys */
    size_t nremoved, removed_cap;
    /* Rollouts, probe states, experiments (resources.h): snapshot: all of
     * them; change: added or changed, and removed names. */
    struct sdk_res_list res[SDK_RES_KINDS];
    size_t max_flags;            /* refuse messages with more (0 = 1,000,000) */
    size_t max_image_bytes;      /* refuse larger images (0 = 16 MiB) */
    size_t max_resources;        /* of each kind (0 = 100,000) */
    wire_refused_fn on_refused;
    void *user;
    roost_error *err;            /* set by callbacks that fail */
};

/* Prepares m (empty). */
void wire_sync_init(struct wire_sync *m, wire_refused_fn on_refused, void *user);
/* Releases whatever m still holds (images not taken by the caller). */
void wire_sync_clear(struct wire_sync *m);

/* Decodes a SyncResponse. Fails with ECORRUPT (malformed, neither snapshot
 * nor change, a field out of bounds), ELIMIT (more flags or larger images
 * than allowed), ENOMEM. m is cleared first. */
roost_status wire_decode_sync_response(const uint8_t *buf, size_t len, struct wire_sync *m,
                                       roost_error *err);
/* Decodes a Snapshot (the cache payload). Same errors. */
roost_status wire_decode_snapshot(const uint8_t *buf, size_t len, struct wire_sync *m,
                                  roost_error *err);

/* SyncRequest{revision, client_id, store_id} into buf; store_id may be
 * NULL (none). Fails with ELIMIT when cap is too small, EINVAL when
 * client_id is too long. */
roost_status wire_encode_sync_request(uint64_t revision, const struct sdk_store_id *store_id,
                                      const char *client_id, uint8_t *buf, size_t cap, size_t *len);

/* Snapshot{revision, store_id, flags, rollouts, probes, experiments} of s into a
 * malloc'd buffer (cache payload). Fails with ENOMEM. */
roost_status wire_encode_snapshot(const struct sdk_snapshot *s, uint8_t **out, size_t *len,
                                  roost_error *err);

/* One aggregate of a report. Strings are within the limits of
 * include/roost/client.h (checked when the series was created). */
struct wire_aggregate {
    uint8_t kind;
    const char *scope, *arm, *metric;
    int64_t minute;
    int64_t end_unix_ms; /* end of the aggregation interval; 0 = unknown */
    uint64_t count, successes;
    double sum, sum_squares;
    const roost_sketch *sketch; /* NULL or empty = none */
};

struct wire_report {
    const char *client_id;
    uint64_t sequence;
    const char *service, *environment, *version;
    const struct wire_aggregate *aggs;
    size_t naggs;
    uint64_t dropped_memory, dropped_series, dropped_rejected;
};

/* ReportRequest into a malloc'd buffer. Fails with ENOMEM, EINVAL (a string
 * over its limit). */
roost_status wire_encode_report(const struct wire_report *r, uint8_t **out, size_t *len,
                                roost_error *err);

/* Bytes a ReportRequest grows by for this aggregate (an upper bound). */
size_t wire_aggregate_size(const struct wire_aggregate *a);

/* ReportResponse. Fails with ECORRUPT. */
roost_status wire_decode_report_response(const uint8_t *buf, size_t len, bool *duplicate,
                                         uint32_t *stored, roost_error *err);

#endif
