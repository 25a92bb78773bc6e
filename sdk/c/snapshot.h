/* The configuration a client evaluates: an immutable snapshot of every
 * flag at one revision.
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
 */
#ifndef ROOST_SDK_SNAPSHOT_H
#define ROOST_SDK_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

struct sdk_snapshot {
    uint64_t revision;
    bool from_cache;
    uint32_t count;              /* images, loaded or not */
    uint32_t nloaded;
    struct sdk_image **images;   /* sorted by key, unique keys */
    roost_flag *flags;           /* copies of the loaded images' flags */
    uint32_t *slots;
    roost_flagset set;
    size_t memory;               /* bytes, images included */
};

/* A new image holding a copy of bytes[0..len) for flag `key`, loaded by the
 * engine. When the engine refuses it (or its key differs from `key`) the
 * image is returned unloaded and *why says why. NULL only when memory runs
 * out (or key is longer than ROOST_MAX_KEY_LEN: *why says so). refs = 1. */
struct sdk_image *sdk_image_new(const char *key, size_t key_len, uint64_t revision,
                                const uint8_t *bytes, size_t len, roost_error *why);
void sdk_image_unref(struct sdk_image *img);

/* Builds a snapshot at `revision` from n images, taking over one reference
 * of each (also on failure). When a key occurs twice the later image wins.
 * Fails with ENOMEM. */
roost_status snapshot_build(struct sdk_image **imgs, size_t n, uint64_t revision,
                            struct sdk_snapshot **out, roost_error *err);

/* old + upserts - removed, at `revision`. Takes over one reference of each
 * upserted image; old is unchanged. Fails with ENOMEM. */
roost_status snapshot_apply(const struct sdk_snapshot *old, struct sdk_image **ups, size_t nups,
                            char (*removed)[ROOST_MAX_KEY_LEN + 1], size_t nremoved,
                            uint64_t revision, struct sdk_snapshot **out, roost_error *err);

void snapshot_free(struct sdk_snapshot *s);

/* The image with this key, loaded or not; NULL when absent. */
const struct sdk_image *snapshot_find(const struct sdk_snapshot *s, const char *key, size_t len);

/* Keys added, removed or changed between a and b (a may be NULL = empty),
 * sorted. *keys is one malloc'd block holding the pointers and copies of
 * the strings (caller frees it; NULL when none), so it outlives a and b.
 * Fails with ENOMEM. */
roost_status snapshot_diff(const struct sdk_snapshot *a, const struct sdk_snapshot *b,
                           const char ***keys, size_t *n);

#endif
