/* Configuration snapshots. See snapshot.h for the model.
 *
 * Layout: one allocation per snapshot holds the struct, the sorted image
 * pointer array, the loaded flags (copied roost_flag structs: they point
 * into the images, which the snapshot keeps referenced) and the flag set's
 * slots. Images are separate, shared allocations. The resource tables, the
 * rollout series and the flag -> experiment map are one allocation each,
 * owned by the snapshot.
 */
#include "snapshot.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct sdk_image *sdk_image_new(const char *key, size_t key_len, uint64_t revision,
                                const uint8_t *bytes, size_t len, roost_error *why)
{
    struct sdk_image *img;
    const char *loaded_key;
    size_t loaded_len;

    roost_error_clear(why);
    if (key_len == 0 || key_len > ROOST_MAX_KEY_LEN) {
        roost_error_set(why, ROOST_EINVAL, "flag key of %zu bytes (1 to %d allowed)", key_len,
                        ROOST_MAX_KEY_LEN);
        return NULL;
    }
    img = malloc(sizeof *img + (len ? len : 1));
    if (!img) {
        roost_error_set(why, ROOST_ENOMEM, "out of memory for flag '%.*s' (%zu bytes)",
                        (int)key_len, key, len);
        return NULL;
    }
    img->refs = 1;
    img->revision = revision;
    img->len = len;
    memcpy(img->key, key, key_len);
    img->key[key_len] = '\0';
    if (len)
        memcpy(img->bytes, bytes, len);
    img->loaded = roost_flag_load(&img->flag, img->bytes, len, why) == ROOST_OK;
    if (img->loaded) {
        loaded_key = roost_flag_key(&img->flag, &loaded_len);
        if (loaded_len != key_len || memcmp(loaded_key, key, key_len) != 0) {
            img->loaded = false;
            roost_error_set(why, ROOST_ECORRUPT, "the image is for flag '%s'", loaded_key);
        }
    }
    if (!img->loaded)
        memset(&img->flag, 0, sizeof img->flag);
    return img;
}

void sdk_image_unref(struct sdk_image *img)
{
    if (img && --img->refs == 0)
        free(img);
}

struct ranked {
    struct sdk_image *img;
    size_t order;
};

static int cmp_ranked(const void *a, const void *b)
{
    const struct ranked *x = a, *y = b;
    int c = strcmp(x->img->key, y->img->key);

    if (c)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* The flag part of a snapshot (resource fields empty). */
static roost_status build_flags(struct sdk_image **imgs, size_t n, uint64_t revision,
                                struct sdk_snapshot **out, roost_error *err)
{
    struct ranked *r = NULL;
    struct sdk_snapshot *s;
    size_t count = 0, nloaded = 0, nslots, size, i;
    char *p;

    if (n > UINT32_MAX / 4) {
        for (i = 0; i < n; i++)
            sdk_image_unref(imgs[i]);
        return roost_error_set(err, ROOST_ELIMIT, "%zu flags in one configuration", n);
    }
    if (n && !(r = malloc(n * sizeof *r))) {
        for (i = 0; i < n; i++)
            sdk_image_unref(imgs[i]);
        return roost_error_set(err, ROOST_ENOMEM, "out of memory building a configuration");
    }
    for (i = 0; i < n; i++) {
        r[i].img = imgs[i];
        r[i].order = i;
    }
    if (n)
        qsort(r, n, sizeof *r, cmp_ranked);
    /* Unique keys, last one wins: keep r[i] when the next has another key. */
    for (i = 0; i < n; i++) {
        if (i + 1 < n && strcmp(r[i].img->key, r[i + 1].img->key) == 0) {
            sdk_image_unref(r[i].img);
            continue;
        }
        r[count++] = r[i];
        nloaded += r[count - 1].img->loaded;
    }
    nslots = ROOST_FLAGSET_SLOTS(nloaded);

    /* struct | images[count] | flags[nloaded] | slots[nslots], each aligned
     * for its type (pointer, then roost_flag, then uint32_t). */
    size = sizeof *s + count * sizeof(struct sdk_image *) + nloaded * sizeof(roost_flag) +
           nslots * sizeof(uint32_t);
    s = malloc(size);
    if (!s) {
        for (i = 0; i < count; i++)
            sdk_image_unref(r[i].img);
        free(r);
        return roost_error_set(err, ROOST_ENOMEM, "out of memory building a configuration");
    }
    memset(s, 0, sizeof *s);
    p = (char *)(s + 1);
    s->images = (struct sdk_image **)(void *)p;
    p += count * sizeof(struct sdk_image *);
    s->flags = (roost_flag *)(void *)p;
    p += nloaded * sizeof(roost_flag);
    s->slots = (uint32_t *)(void *)p;
    s->revision = revision;
    s->from_cache = false;
    s->count = (uint32_t)count;
    s->nloaded = (uint32_t)nloaded;
    s->memory = size;
    nloaded = 0;
    for (i = 0; i < count; i++) {
        s->images[i] = r[i].img;
        s->memory += sizeof(struct sdk_image) + r[i].img->len;
        if (r[i].img->loaded)
            s->flags[nloaded++] = r[i].img->flag;
    }
    free(r);
    /* Keys are unique (deduplicated above, and each loaded image's key was
     * checked against its entry's key), so this cannot fail. */
    if (roost_flagset_init(&s->set, s->flags, nloaded, s->slots, nslots, err) != ROOST_OK) {
        snapshot_free(s);
        return ROOST_EINTERNAL;
    }
    *out = s;
    return ROOST_OK;
}

/* Resource tables of s: base's tables changed by res (or replaced by it,
 * with full), the rollout series already resolved in prev, and the
 * experiment map. On failure s is left for snapshot_free. */
static roost_status attach_resources(struct sdk_snapshot *s, const struct sdk_snapshot *base,
                                     const struct sdk_res_list *res, bool full,
                                     const struct sdk_snapshot *prev, roost_error *err)
{
    static const struct sdk_res_list none;
    const struct sdk_res_table *rollouts = &s->res[SDK_ROLLOUTS], *exps;

    for (int k = 0; k < SDK_RES_KINDS; k++) {
        if (sdk_res_merge((enum sdk_res_kind)k, base ? &base->res[k] : NULL, res ? &res[k] : &none,
                          full, &s->res[k]) != ROOST_OK)
            return roost_error_set(err, ROOST_ENOMEM, "out of memory building a configuration");
        s->memory += s->res[k].n * sdk_res_size((enum sdk_res_kind)k);
    }
    if (rollouts->n) {
        size_t nseries = 2 * (size_t)rollouts->n;
        if (!(s->rollout_series = malloc(nseries * sizeof *s->rollout_series)))
            return roost_error_set(err, ROOST_ENOMEM, "out of memory building a configuration");
        s->memory += nseries * sizeof *s->rollout_series;
        for (uint32_t i = 0; i < rollouts->n; i++) {
            const struct sdk_rollout *r = sdk_res_at(SDK_ROLLOUTS, rollouts, i);
            long j = prev && prev->rollout_series
                         ? sdk_res_index(SDK_ROLLOUTS, &prev->res[SDK_ROLLOUTS], r->name,
                                         strlen(r->name))
                         : -1;
            for (int arm = 0; arm < 2; arm++)
                atomic_init(&s->rollout_series[2 * i + arm],
                            j < 0 ? NULL
                                  : atomic_load_explicit(&prev->rollout_series[2 * j + arm],
                                                         memory_order_acquire));
        }
    }
    exps = &s->res[SDK_EXPERIMENTS];
    for (uint32_t i = 0; i < exps->n; i++) {
        const struct sdk_experiment *e = sdk_res_at(SDK_EXPERIMENTS, exps, i);
        const roost_flag *f;
        size_t idx;

        if (e->phase != ROOST_EXPERIMENT_RUNNING)
            continue;
        s->nrunning++;
        if (!(f = roost_flagset_find(&s->set, e->flag, strlen(e->flag))))
            continue; /* no such flag (or refused): nothing to log */
        if (!s->flag_experiment) {
            if (!(s->flag_experiment = malloc(s->nloaded * sizeof *s->flag_experiment)))
                return roost_error_set(err, ROOST_ENOMEM,
                                       "out of memory building a configuration");
            memset(s->flag_experiment, 0xff, s->nloaded * sizeof *s->flag_experiment);
            s->memory += s->nloaded * sizeof *s->flag_experiment;
        }
        /* roostd runs one experiment per flag; were there two, the first
         * by name would get the exposures. */
        idx = (size_t)(f - s->flags);
        if (s->flag_experiment[idx] == SNAPSHOT_NONE)
            s->flag_experiment[idx] = i;
    }
    return ROOST_OK;
}

roost_status snapshot_build(struct sdk_image **imgs, size_t n, const struct sdk_res_list *res,
                            const struct sdk_snapshot *prev, uint64_t revision,
                            struct sdk_snapshot **out, roost_error *err)
{
    struct sdk_snapshot *s;
    roost_status rc;

    if ((rc = build_flags(imgs, n, revision, &s, err)) != ROOST_OK)
        return rc;
    if ((rc = attach_resources(s, NULL, res, true, prev, err)) != ROOST_OK) {
        snapshot_free(s);
        return rc;
    }
    *out = s;
    return ROOST_OK;
}

static int cmp_key(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

roost_status snapshot_apply(const struct sdk_snapshot *old, struct sdk_image **ups, size_t nups,
                            char (*removed)[ROOST_MAX_KEY_LEN + 1], size_t nremoved,
                            const struct sdk_res_list *res, uint64_t revision,
                            struct sdk_snapshot **out, roost_error *err)
{
    struct sdk_snapshot *s;
    size_t nold = old ? old->count : 0, n = 0, i;
    struct sdk_image **all = malloc((nold + nups ? nold + nups : 1) * sizeof *all);

    if (!all) {
        for (i = 0; i < nups; i++)
            sdk_image_unref(ups[i]);
        return roost_error_set(err, ROOST_ENOMEM, "out of memory applying a change");
    }
    if (nremoved)
        qsort(removed, nremoved, sizeof *removed, cmp_key);
    for (i = 0; i < nold; i++) {
        struct sdk_image *img = old->images[i];
        if (nremoved && bsearch(img->key, removed, nremoved, sizeof *removed, cmp_key))
            continue;
        img->refs++;
        all[n++] = img;
    }
    /* Upserts come after the old images, so they win on equal keys. A key
     * both upserted and removed in one event is upserted (roostd never
     * sends that; this is the safe reading). */
    for (i = 0; i < nups; i++)
        all[n++] = ups[i];
    roost_status rc = build_flags(all, n, revision, &s, err);
    free(all);
    if (rc != ROOST_OK)
        return rc;
    if ((rc = attach_resources(s, old, res, false, old, err)) != ROOST_OK) {
        snapshot_free(s);
        return rc;
    }
    *out = s;
    return ROOST_OK;
}

void snapshot_free(struct sdk_snapshot *s)
{
    if (!s)
        return;
    for (uint32_t i = 0; i < s->count; i++)
        sdk_image_unref(s->images[i]);
    for (int k = 0; k < SDK_RES_KINDS; k++)
        sdk_res_table_free(&s->res[k]);
    free((void *)s->rollout_series);
    free(s->flag_experiment);
    free(s);
}

const struct sdk_image *snapshot_find(const struct sdk_snapshot *s, const char *key, size_t len)
{
    size_t lo = 0, hi = s ? s->count : 0;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *k = s->images[mid]->key;
        int c = strncmp(k, key, len);
        if (c == 0)
            c = k[len] ? 1 : 0;
        if (c == 0)
            return s->images[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static bool same_image(const struct sdk_image *a, const struct sdk_image *b)
{
    return a == b ||
           (a->len == b->len && a->revision == b->revision && memcmp(a->bytes, b->bytes, a->len) == 0);
}

/* Walks a and b in key order; calls out(key) for each key that differs. */
static void diff_walk(const struct sdk_snapshot *a, const struct sdk_snapshot *b,
                      void (*out)(void *, const char *), void *user)
{
    size_t na = a ? a->count : 0, nb = b ? b->count : 0, i = 0, j = 0;

    while (i < na || j < nb) {
        int c = i >= na ? 1 : j >= nb ? -1 : strcmp(a->images[i]->key, b->images[j]->key);
        if (c < 0) {
            out(user, a->images[i++]->key); /* removed */
        } else if (c > 0) {
            out(user, b->images[j++]->key); /* added */
        } else {
            if (!same_image(a->images[i], b->images[j]))
                out(user, b->images[j]->key);
            i++;
            j++;
        }
    }
}

struct diff_out {
    size_t n, bytes;
    const char **keys;
    char *p;
};

static void diff_count(void *user, const char *key)
{
    struct diff_out *d = user;

    d->n++;
    d->bytes += strlen(key) + 1;
}

static void diff_copy(void *user, const char *key)
{
    struct diff_out *d = user;
    size_t len = strlen(key) + 1;

    memcpy(d->p, key, len);
    d->keys[d->n++] = d->p;
    d->p += len;
}

roost_status snapshot_diff(const struct sdk_snapshot *a, const struct sdk_snapshot *b,
                           const char ***keys, size_t *n)
{
    struct diff_out d = {0, 0, NULL, NULL};

    *keys = NULL;
    *n = 0;
    diff_walk(a, b, diff_count, &d);
    if (d.n == 0)
        return ROOST_OK;
    if (!(d.keys = malloc(d.n * sizeof *d.keys + d.bytes)))
        return ROOST_ENOMEM;
    d.p = (char *)(d.keys + d.n);
    d.n = 0;
    diff_walk(a, b, diff_copy, &d);
    *keys = d.keys;
    *n = d.n;
    return ROOST_OK;
}
