/* The configuration a client evaluates: an immutable snapshot of every
 * flag, rollout, probe state and experiment at one revision.
 *
 * Each flag's image (the compiled flag roostd sends) is verified once by the
 * engine (roost_flag_load) when it arrives and kept in a reference-counted
 * sdk_image. A snapshot is an array of images sorted by key plus the
 * engine's key -> flag table over the ones that loaded. A change event
 * builds a new snapshot that shares the images of every unchanged flag, so
 * applying a change costs one verification per changed flag and a rebuild
 * of the table, never a copy of the other images.
 *
 * Snapshots and images are created, shared and freed only by the client's
 * background thread (reference counts need no atomics); evaluating threads
 * read a published snapshot under a hazard slot (hazard.h) and never touch
 * the counts.
 *
 * A flag whose image the engine refuses (another image version, a corrupt
 * image) is kept, unloaded: evaluating it gives the caller's default with
 * reason ERROR instead of FLAG_NOT_FOUND, and the refusal is logged once.
 *
 * Rollouts, probe states and experiments are tables of plain records
 * (resources.h), rebuilt from the previous snapshot's on every change.
 * Two things are derived for the hot paths:
 *  - flag_experiment: for each loaded flag, the running experiment it
 *    assigns (or none), so an evaluation finds out "log an exposure?" with
 *    one array read, and evaluations of other flags with none at all when
 *    no experiment runs (the array is then absent).
 *  - rollout_series: per rollout and arm, the outcome series
 *    (ROLLOUT, name, arm, "requests") of the request helpers, resolved on a
 *    rollout's first request and carried into every later snapshot, so a
 *    request never hashes names. The only field of a published snapshot
 *    that is ever written, with atomic stores of a value that never
 *    changes once set (series live as long as the client).
 */
#ifndef ROOST_SDK_SNAPSHOT_H
#define ROOST_SDK_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "resources.h"
#include "roost/client.h"
#include "roost/engine.h"
#include "roost/status.h"

struct sdk_image {
    uint32_t refs;        /* background thread only */
    bool loaded;          /* flag is valid */
    uint64_t revision;    /* revision that last changed the flag */
    roost_flag flag;      /* points into bytes */
    size_t len;
    char key[ROOST_MAX_KEY_LEN + 1];
    uint8_t bytes[];
};

/* Which store a revision belongs to (Snapshot.store_id in the protocol):
 * revisions count from 1 again in a new data directory, so the client
 * resumes with both. len 0: unknown (an older roostd or cache). */
#define SDK_STORE_ID_MAX 16
struct sdk_store_id {
    uint8_t len;
    uint8_t bytes[SDK_STORE_ID_MAX];
};

struct sdk_snapshot {
    uint64_t revision;
    struct sdk_store_id store_id; /* of the snapshot this revision descends from */
    bool from_cache;
    uint32_t count;              /* images, loaded or not */
    uint32_t nloaded;
    struct sdk_image **images;   /* sorted by key, unique keys */
    roost_flag *flags;           /* copies of the loaded images' flags */
    uint32_t *slots;
    roost_flagset set;
    size_t memory;               /* bytes, images included */
    struct sdk_res_table res[SDK_RES_KINDS]; /* rollouts, probes, experiments */
    roost_series *_Atomic *rollout_series;   /* [2 * rollout + arm]; NULL when no rollouts */
    uint32_t *flag_experiment;   /* [loaded flag]: running experiment or SNAPSHOT_NONE;
                                    NULL when no experiment runs */
    uint32_t nrunning;           /* running experiments */
    bool partial;                /* flags only (a version-1 cache): resubscribe from 0 */
};

#define SNAPSHOT_NONE UINT32_MAX

/* A new image holding a copy of bytes[0..len) for flag `key`, loaded by the
 * engine. When the engine refuses it (or its key differs from `key`) the
 * image is returned unloaded and *why says why. NULL only when memory runs
 * out (or key is longer than ROOST_MAX_KEY_LEN: *why says so). refs = 1. */
struct sdk_image *sdk_image_new(const char *key, size_t key_len, uint64_t revision,
                                const uint8_t *bytes, size_t len, roost_error *why);
void sdk_image_unref(struct sdk_image *img);

/* Builds a snapshot at `revision` from n images, taking over one reference
 * of each (also on failure). When a key occurs twice the later image wins.
 * res (NULL = none) is an array of SDK_RES_KINDS lists: every rollout,
 * probe state and experiment (copied; the lists stay the caller's). prev
 * (may be NULL) is the snapshot being replaced: only the rollout series
 * resolved so far are taken from it. Fails with ENOMEM. */
roost_status snapshot_build(struct sdk_image **imgs, size_t n, const struct sdk_res_list *res,
                            const struct sdk_snapshot *prev, uint64_t revision,
                            struct sdk_snapshot **out, roost_error *err);

/* old + upserts - removed, at `revision`, for flags and (res, NULL = no
 * change; SDK_RES_KINDS lists of upserts and removed names) rollouts,
 * probes and experiments. Takes over one reference of each upserted image;
 * old is unchanged. Fails with ENOMEM. */
roost_status snapshot_apply(const struct sdk_snapshot *old, struct sdk_image **ups, size_t nups,
                            char (*removed)[ROOST_MAX_KEY_LEN + 1], size_t nremoved,
                            const struct sdk_res_list *res, uint64_t revision,
                            struct sdk_snapshot **out, roost_error *err);

void snapshot_free(struct sdk_snapshot *s);

/* The image with this key, loaded or not; NULL when absent. */
const struct sdk_image *snapshot_find(const struct sdk_snapshot *s, const char *key, size_t len);

/* Flag keys added, removed or changed between a and b (a may be NULL =
 * empty), sorted (sdk_res_diff does the same for the other kinds). *keys
 * is one malloc'd block holding the pointers and copies of the strings
 * (caller frees it; NULL when none), so it outlives a and b. Fails with
 * ENOMEM. */
roost_status snapshot_diff(const struct sdk_snapshot *a, const struct sdk_snapshot *b,
                           const char ***keys, size_t *n);

#endif
