/* Applying configuration documents to the store. See flags.h.
 *
 * The diff is computed inside the write transaction, against exactly the
 * state the change will replace, so two applies racing each other can never
 * produce a summary that disagrees with what was committed. */
#include "flags.h"

#include "change.h"
#include "resources.h"

#include <stdlib.h>
#include <string.h>

#include "roost/storage/v1/storage.pb-c.h"

#define FLAG_SET_MAX 128

void flag_doc_free(struct flag_doc *doc)
{
    if (!doc)
        return;
    for (size_t i = 0; i < doc->nflags; i++) {
        struct flag_def *f = &doc->flags[i];
        free(f->key);
        free(f->source_json);
        free(f->program);
        free(f->default_variant);
        for (size_t j = 0; j < f->nvariants; j++)
            free(f->variants[j]);
        free(f->variants);
    }
    free(doc->flags);
    for (size_t i = 0; i < doc->nrollouts; i++) {
        struct doc_rollout *r = &doc->rollouts[i];
        free(r->name);
        free(r->spec);
        free(r->service);
        free(r->baseline);
        free(r->canary);
    }
    free(doc->rollouts);
    for (size_t i = 0; i < doc->nprobes; i++) {
        free(doc->probes[i].name);
        free(doc->probes[i].spec_json);
    }
    free(doc->probes);
    for (size_t i = 0; i < doc->nexperiments; i++) {
        struct doc_experiment *e = &doc->experiments[i];
        free(e->name);
        free(e->spec);
        free(e->flag);
        free(e->unit);
        free(e->running_source);
        free(e->idle_source);
        free(e->running_program);
        free(e->idle_program);
    }
    free(doc->experiments);
    for (size_t i = 0; i < doc->nwarnings; i++)
        free(doc->warnings[i]);
    free(doc->warnings);
    free(doc->flag_set);
    memset(doc, 0, sizeof *doc);
}

/* Index key of the flag_sets table: set '\0' key. */
static size_t set_index_key(const char *set, const char *key, char *out, size_t cap)
{
    size_t sl = strlen(set), kl = key ? strlen(key) : 0;

    if (sl + 1 + kl > cap)
        return 0;
    memcpy(out, set, sl);
    out[sl] = '\0';
    if (kl)
        memcpy(out + sl + 1, key, kl);
    return sl + 1 + kl;
}

static void fill_flag(Roost__V1__Flag *pf, const struct flag_def *f, const char *set, uint64_t rev)
{
    roost__v1__flag__init(pf);
    pf->key = f->key;
    pf->flag_set = (char *)set;
    pf->source_json = f->source_json;
    pf->program.data = f->program;
    pf->program.len = f->program_len;
    pf->revision = rev;
}

static void fill_summary(Roost__V1__FlagSummary *ps, const struct flag_def *f, const char *set,
                         uint64_t rev)
{
    roost__v1__flag_summary__init(ps);
    ps->key = f->key;
    ps->flag_set = (char *)set;
    ps->enabled = f->enabled;
    ps->type = (char *)f->type;
    ps->default_variant = f->default_variant ? f->default_variant : "";
    ps->n_variants = f->nvariants;
    ps->variants = f->variants;
    ps->targeted = f->targeted;
    ps->revision = rev;
}

static roost_status put_flag(struct store_txn *t, const struct flag_def *f, const char *set,
                             roost_error *err)
{
    Roost__Storage__V1__FlagRecord rec = ROOST__STORAGE__V1__FLAG_RECORD__INIT;
    Roost__V1__Flag pf;
    Roost__V1__FlagSummary ps;
    char ikey[512];
    size_t ilen, len;
    uint8_t *buf;
    roost_status rc;

    fill_flag(&pf, f, set, t->next_revision);
    fill_summary(&ps, f, set, t->next_revision);
    rec.flag = &pf;
    rec.summary = &ps;
    len = roost__storage__v1__flag_record__get_packed_size(&rec);
    if (!(buf = malloc(len ? len : 1)))
        return roost_error_set(err, ROOST_ENOMEM, "out of memory storing flag %s", f->key);
    roost__storage__v1__flag_record__pack(&rec, buf);
    rc = store_put(t, TBL_FLAGS, f->key, strlen(f->key), buf, len, err);
    free(buf);
    if (rc != ROOST_OK)
        return rc;
    if (!(ilen = set_index_key(set, f->key, ikey, sizeof ikey)))
        return roost_error_set(err, ROOST_ELIMIT, "flag set and key too long");
    return store_put(t, TBL_FLAG_SETS, ikey, ilen, "", 0, err);
}

static roost_status del_flag(struct store_txn *t, const char *key, const char *set,
                             roost_error *err)
{
    char ikey[512];
    size_t ilen = set_index_key(set, key, ikey, sizeof ikey);
    roost_status rc = store_del(t, TBL_FLAGS, key, strlen(key), err);

    if (rc != ROOST_OK || ilen == 0)
        return rc;
    return store_del(t, TBL_FLAG_SETS, ikey, ilen, err);
}

/* Growable list of strings that point into memory owned elsewhere (the
 * document or the transaction), or owned copies when `owned`. */
struct strlist {
    char **v;
    size_t n, cap;
};

static bool strlist_push(struct strlist *l, char *s)
{
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 16;
        char **nv = realloc(l->v, ncap * sizeof *nv);
        if (!nv)
            return false;
        l->v = nv;
        l->cap = ncap;
    }
    l->v[l->n++] = s;
    return true;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static roost_status check_doc(const struct flag_doc *doc, roost_error *err)
{
    char **keys;

    if (!doc->flag_set || !doc->flag_set[0] || strlen(doc->flag_set) > FLAG_SET_MAX)
        return roost_error_set(err, ROOST_EINVAL,
                               "metadata.flagSetId must be 1 to %d characters", FLAG_SET_MAX);
    if (doc->nflags == 0)
        return ROOST_OK;
    if (!(keys = malloc(doc->nflags * sizeof *keys)))
        return roost_error_set(err, ROOST_ENOMEM, "out of memory");
    for (size_t i = 0; i < doc->nflags; i++)
        keys[i] = doc->flags[i].key;
    qsort(keys, doc->nflags, sizeof *keys, cmp_str);
    for (size_t i = 1; i < doc->nflags; i++) {
        if (strcmp(keys[i - 1], keys[i]) == 0) {
            roost_error_set(err, ROOST_EINVAL, "flags.%s: the key appears more than once", keys[i]);
            free(keys);
            return ROOST_EINVAL;
        }
    }
    free(keys);
    return ROOST_OK;
}

/* The state of one document flag against the store. */
enum flag_diff { DIFF_SAME, DIFF_ADDED, DIFF_CHANGED };

static roost_status diff_flag(struct store_txn *t, const struct flag_def *f, const char *set,
                              enum flag_diff *out, roost_error *err)
{
    struct store_val v;
    Roost__Storage__V1__FlagRecord *rec;
    roost_status rc = store_get(t, TBL_FLAGS, f->key, strlen(f->key), &v, NULL);

    if (rc == ROOST_ENOTFOUND) {
        *out = DIFF_ADDED;
        return ROOST_OK;
    }
    if (rc != ROOST_OK)
        return roost_error_set(err, rc, "cannot read flag %s from the store", f->key);
    rec = roost__storage__v1__flag_record__unpack(NULL, v.len, v.data);
    if (!rec || !rec->flag) {
        if (rec)
            roost__storage__v1__flag_record__free_unpacked(rec, NULL);
        return roost_error_set(err, ROOST_ECORRUPT, "stored flag %s cannot be decoded", f->key);
    }
    if (strcmp(rec->flag->flag_set, set) != 0) {
        rc = roost_error_set(err, ROOST_ECONFLICT,
                             "flags.%s: this key belongs to flag set '%s', not '%s'; remove it "
                             "from that set's document first, or give this document "
                             "metadata.flagSetId \"%s\"",
                             f->key, rec->flag->flag_set, set, rec->flag->flag_set);
    } else if (strcmp(rec->flag->source_json, f->source_json) != 0 ||
               rec->flag->program.len != f->program_len ||
               (f->program_len && memcmp(rec->flag->program.data, f->program, f->program_len))) {
        *out = DIFF_CHANGED;
    } else {
        *out = DIFF_SAME;
    }
    roost__storage__v1__flag_record__free_unpacked(rec, NULL);
    return rc;
}

static bool doc_has(const struct flag_doc *doc, const char *key, size_t len)
{
    for (size_t i = 0; i < doc->nflags; i++) {
        if (strlen(doc->flags[i].key) == len && memcmp(doc->flags[i].key, key, len) == 0)
            return true;
    }
    return false;
}

/* Collects the keys of set's stored flags that doc no longer has (copies). */
static roost_status collect_removed(struct store_txn *t, const struct flag_doc *doc,
                                    struct strlist *removed, roost_error *err)
{
    char prefix[FLAG_SET_MAX + 2];
    size_t plen = set_index_key(doc->flag_set, NULL, prefix, sizeof prefix);
    struct store_iter it;
    struct store_val k = {0}, v = {0};
    roost_status rc;

    if ((rc = store_iter_open(t, TBL_FLAG_SETS, prefix, plen, &it, err)) != ROOST_OK)
        return rc;
    while (store_iter_next(&it, &k, &v)) {
        const char *key = (const char *)k.data + plen;
        size_t klen = k.len - plen;
        char *copy;

        if (doc_has(doc, key, klen))
            continue;
        if (!(copy = malloc(klen + 1)) || !strlist_push(removed, copy)) {
            free(copy);
            store_iter_close(&it);
            return roost_error_set(err, ROOST_ENOMEM, "out of memory");
        }
        memcpy(copy, key, klen);
        copy[klen] = '\0';
    }
    store_iter_close(&it);
    return ROOST_OK;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);

    if (d)
        memcpy(d, s, n);
    return d;
}

/* Copies list into a malloc'd array of owned strings for the response. */
static bool export_list(struct strlist *l, bool copy, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (l->n == 0)
        return true;
    if (!(*out = calloc(l->n, sizeof **out)))
        return false;
    for (size_t i = 0; i < l->n; i++) {
        (*out)[i] = copy ? xstrdup(l->v[i]) : l->v[i];
        if (!(*out)[i])
            return false;
        (*n)++;
    }
    qsort(*out, *n, sizeof **out, cmp_str);
    return true;
}

void flags_apply_response_free(Roost__V1__ApplyResponse *r)
{
    char **lists[] = {r->added,          r->changed,          r->removed,
                      r->warnings,       r->rollouts_added,   r->rollouts_changed,
                      r->rollouts_removed, r->probes_added,   r->probes_changed,
                      r->probes_removed, r->experiments_added, r->experiments_changed,
                      r->experiments_removed};
    size_t counts[] = {r->n_added,          r->n_changed,          r->n_removed,
                       r->n_warnings,       r->n_rollouts_added,   r->n_rollouts_changed,
                       r->n_rollouts_removed, r->n_probes_added,   r->n_probes_changed,
                       r->n_probes_removed, r->n_experiments_added, r->n_experiments_changed,
                       r->n_experiments_removed};

    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        for (size_t j = 0; j < counts[i]; j++)
            free(lists[i][j]);
        free(lists[i]);
    }
    free(r->flag_set);
    roost__v1__apply_response__init(r);
    r->flag_set = NULL; /* init points it at a shared empty string */
}

roost_status flags_apply(struct store *st, struct hub *hub, struct flag_doc *doc,
                         bool dry_run, const char *actor, Roost__V1__ApplyResponse *out,
                         roost_error *err)
{
    struct strlist added = {0}, changed = {0}, removed = {0};
    struct resource_changes res = {0};
    Roost__V1__Flag *upserted = NULL;
    Roost__V1__Flag **upserted_ptrs = NULL;
    size_t nup = 0;
    struct store_txn t = {0};
    roost_status rc;

    roost__v1__apply_response__init(out);
    out->flag_set = NULL; /* owned from here on; init points at a shared "" */
    if ((rc = check_doc(doc, err)) != ROOST_OK)
        return rc;
    if ((rc = store_begin(st, !dry_run, &t, err)) != ROOST_OK)
        return rc;
    if ((rc = resources_serve_experiment_flags(&t, doc, err)) != ROOST_OK)
        goto out;

    if (doc->nflags) {
        upserted = calloc(doc->nflags, sizeof *upserted);
        upserted_ptrs = calloc(doc->nflags, sizeof *upserted_ptrs);
        if (!upserted || !upserted_ptrs) {
            rc = roost_error_set(err, ROOST_ENOMEM, "out of memory");
            goto out;
        }
    }
    for (size_t i = 0; i < doc->nflags; i++) {
        const struct flag_def *f = &doc->flags[i];
        enum flag_diff d = DIFF_SAME;

        if ((rc = diff_flag(&t, f, doc->flag_set, &d, err)) != ROOST_OK)
            goto out;
        if (d == DIFF_SAME)
            continue;
        if (!strlist_push(d == DIFF_ADDED ? &added : &changed, f->key)) {
            rc = roost_error_set(err, ROOST_ENOMEM, "out of memory");
            goto out;
        }
        fill_flag(&upserted[nup], f, doc->flag_set, t.next_revision);
        upserted_ptrs[nup] = &upserted[nup];
        nup++;
        if (!dry_run && (rc = put_flag(&t, f, doc->flag_set, err)) != ROOST_OK)
            goto out;
    }
    if ((rc = collect_removed(&t, doc, &removed, err)) != ROOST_OK)
        goto out;
    for (size_t i = 0; i < removed.n && !dry_run; i++) {
        if ((rc = del_flag(&t, removed.v[i], doc->flag_set, err)) != ROOST_OK)
            goto out;
    }
    if ((rc = resources_stage(&t, doc, dry_run, &res, err)) != ROOST_OK)
        goto out;

    if (!export_list(&added, true, &out->added, &out->n_added) ||
        !export_list(&changed, true, &out->changed, &out->n_changed) ||
        !export_list(&removed, true, &out->removed, &out->n_removed) ||
        !(out->flag_set = xstrdup(doc->flag_set))) {
        rc = roost_error_set(err, ROOST_ENOMEM, "out of memory");
        goto out;
    }
    if (doc->nwarnings) {
        struct strlist w = {doc->warnings, doc->nwarnings, doc->nwarnings};
        if (!export_list(&w, true, &out->warnings, &out->n_warnings)) {
            rc = roost_error_set(err, ROOST_ENOMEM, "out of memory");
            goto out;
        }
    }

#define TAKE(field)                                                                              \
    do {                                                                                         \
        out->field = res.field;                                                                  \
        out->n_##field = res.n_##field;                                                          \
        res.field = NULL;                                                                        \
        res.n_##field = 0;                                                                       \
    } while (0)
    TAKE(rollouts_added);
    TAKE(rollouts_changed);
    TAKE(rollouts_removed);
    TAKE(probes_added);
    TAKE(probes_changed);
    TAKE(probes_removed);
    TAKE(experiments_added);
    TAKE(experiments_changed);
    TAKE(experiments_removed);
#undef TAKE

    if (dry_run || (nup == 0 && removed.n == 0 && out->n_rollouts_added + out->n_rollouts_changed +
                                                         out->n_rollouts_removed + out->n_probes_added +
                                                         out->n_probes_changed + out->n_probes_removed +
                                                         out->n_experiments_added +
                                                         out->n_experiments_changed +
                                                         out->n_experiments_removed ==
                                                     0)) {
        out->revision = store_txn_revision(&t);
        store_abort(&t);
        rc = ROOST_OK;
        goto out;
    }
    {
        Roost__V1__ChangeEvent ev = ROOST__V1__CHANGE_EVENT__INIT;
        ev.n_upserted = nup;
        ev.upserted = upserted_ptrs;
        ev.n_removed = removed.n;
        ev.removed = removed.v;
        ev.n_rollouts = res.nviews;
        ev.rollouts = res.views;
        ev.n_rollouts_removed = out->n_rollouts_removed;
        ev.rollouts_removed = out->rollouts_removed;
        ev.n_probes_removed = out->n_probes_removed;
        ev.probes_removed = out->probes_removed;
        ev.n_experiments = res.nexperiment_views;
        ev.experiments = res.experiment_views;
        ev.n_experiments_removed = out->n_experiments_removed;
        ev.experiments_removed = out->experiments_removed;
        ev.actor = (char *)(actor ? actor : "");
        ev.flag_set = doc->flag_set;
        rc = change_commit(&t, hub, &ev, err);
        if (rc == ROOST_OK)
            out->revision = ev.revision;
    }

out:
    store_abort(&t);
    resources_changes_free(&res);
    if (rc != ROOST_OK)
        flags_apply_response_free(out);
    for (size_t i = 0; i < removed.n; i++)
        free(removed.v[i]);
    free(removed.v);
    free(added.v);
    free(changed.v);
    free(upserted);
    free(upserted_ptrs);
    return rc;
}

roost_status flags_get(struct store *st, const char *key, Roost__Storage__V1__FlagRecord **out,
                       roost_error *err)
{
    struct store_txn t;
    struct store_val v;
    roost_status rc;

    if ((rc = store_begin(st, false, &t, err)) != ROOST_OK)
        return rc;
    rc = store_get(&t, TBL_FLAGS, key, strlen(key), &v, NULL);
    if (rc == ROOST_ENOTFOUND) {
        rc = roost_error_set(err, ROOST_ENOTFOUND,
                             "flag '%s' does not exist (roostctl flag list shows the flags)", key);
    } else if (rc != ROOST_OK) {
        rc = roost_error_set(err, rc, "cannot read flag %s", key);
    } else if (!(*out = roost__storage__v1__flag_record__unpack(NULL, v.len, v.data)) ||
               !(*out)->flag || !(*out)->summary) {
        if (*out)
            roost__storage__v1__flag_record__free_unpacked(*out, NULL);
        rc = roost_error_set(err, ROOST_ECORRUPT, "stored flag %s cannot be decoded", key);
    }
    store_abort(&t);
    return rc;
}

roost_status flags_put_program(struct store_txn *t, const char *key, const char *source,
                               const uint8_t *program, size_t len, bool targeted,
                               Roost__V1__Flag **event_flag, roost_error *err)
{
    Roost__Storage__V1__FlagRecord *rec;
    struct store_val v;
    char *saved_source;
    ProtobufCBinaryData saved_program;
    size_t plen;
    uint8_t *buf, *fbuf;
    roost_status rc = store_get(t, TBL_FLAGS, key, strlen(key), &v, NULL);

    if (rc != ROOST_OK)
        return roost_error_set(err, rc, "flag '%s' cannot be read", key);
    if (!(rec = roost__storage__v1__flag_record__unpack(NULL, v.len, v.data)) || !rec->flag ||
        !rec->summary) {
        if (rec)
            roost__storage__v1__flag_record__free_unpacked(rec, NULL);
        return roost_error_set(err, ROOST_ECORRUPT, "stored flag %s cannot be decoded", key);
    }
    saved_source = rec->flag->source_json;
    saved_program = rec->flag->program;
    rec->flag->source_json = (char *)source;
    rec->flag->program.data = (uint8_t *)program;
    rec->flag->program.len = len;
    rec->flag->revision = t->next_revision;
    rec->summary->revision = t->next_revision;
    rec->summary->targeted = targeted;
    plen = roost__storage__v1__flag_record__get_packed_size(rec);
    buf = malloc(plen ? plen : 1);
    fbuf = malloc(roost__v1__flag__get_packed_size(rec->flag) + 1);
    if (!buf || !fbuf) {
        rc = roost_error_set(err, ROOST_ENOMEM, "out of memory");
    } else {
        roost__storage__v1__flag_record__pack(rec, buf);
        rc = store_put(t, TBL_FLAGS, key, strlen(key), buf, plen, err);
        if (rc == ROOST_OK) {
            size_t flen = roost__v1__flag__pack(rec->flag, fbuf);
            if (!(*event_flag = roost__v1__flag__unpack(NULL, flen, fbuf)))
                rc = roost_error_set(err, ROOST_ENOMEM, "out of memory");
        }
    }
    free(buf);
    free(fbuf);
    rec->flag->source_json = saved_source;
    rec->flag->program = saved_program;
    roost__storage__v1__flag_record__free_unpacked(rec, NULL);
    return rc;
}

roost_status flags_delete(struct store *st, struct hub *hub, const char *key, const char *actor,
                          uint64_t *revision, roost_error *err)
{
    Roost__V1__ChangeEvent ev = ROOST__V1__CHANGE_EVENT__INIT;
    Roost__Storage__V1__FlagRecord *rec = NULL;
    struct store_txn t;
    struct store_val v;
    char *removed[1] = {(char *)key};
    roost_status rc;

    if ((rc = store_begin(st, true, &t, err)) != ROOST_OK)
        return rc;
    rc = store_get(&t, TBL_FLAGS, key, strlen(key), &v, NULL);
    if (rc == ROOST_ENOTFOUND) {
        store_abort(&t);
        return roost_error_set(err, ROOST_ENOTFOUND,
                               "flag '%s' does not exist (roostctl flag list shows the flags)",
                               key);
    }
    if (rc != ROOST_OK || !(rec = roost__storage__v1__flag_record__unpack(NULL, v.len, v.data)) ||
        !rec->flag) {
        store_abort(&t);
        if (rec)
            roost__storage__v1__flag_record__free_unpacked(rec, NULL);
        return roost_error_set(err, rc ? rc : ROOST_ECORRUPT, "cannot read flag %s", key);
    }
    if ((rc = del_flag(&t, key, rec->flag->flag_set, err)) != ROOST_OK) {
        store_abort(&t);
        roost__storage__v1__flag_record__free_unpacked(rec, NULL);
        return rc;
    }
    ev.n_removed = 1;
    ev.removed = removed;
    ev.actor = (char *)(actor ? actor : "");
    ev.flag_set = rec->flag->flag_set;
    rc = change_commit(&t, hub, &ev, err);
    roost__storage__v1__flag_record__free_unpacked(rec, NULL);
    if (rc == ROOST_OK)
        *revision = ev.revision;
    return rc;
}

roost_status flags_list(struct store *st, const char *flag_set, uint8_t **buf, size_t *len,
                        uint32_t *count, roost_error *err)
{
    Roost__V1__ListFlagsResponse resp = ROOST__V1__LIST_FLAGS_RESPONSE__INIT;
    Roost__Storage__V1__FlagRecord **recs = NULL;
    Roost__V1__FlagSummary **sums = NULL;
    size_t n = 0, cap = 0;
    struct store_txn t;
    struct store_iter it;
    struct store_val k = {0}, v = {0};
    roost_status rc;

    if ((rc = store_begin(st, false, &t, err)) != ROOST_OK)
        return rc;
    resp.revision = store_txn_revision(&t);
    if ((rc = store_iter_open(&t, TBL_FLAGS, NULL, 0, &it, err)) != ROOST_OK) {
        store_abort(&t);
        return rc;
    }
    rc = ROOST_OK;
    while (store_iter_next(&it, &k, &v)) {
        Roost__Storage__V1__FlagRecord *rec =
            roost__storage__v1__flag_record__unpack(NULL, v.len, v.data);
        if (!rec || !rec->summary) {
            if (rec)
                roost__storage__v1__flag_record__free_unpacked(rec, NULL);
            rc = roost_error_set(err, ROOST_ECORRUPT, "stored flag %.*s cannot be decoded",
                                 (int)k.len, (const char *)k.data);
            break;
        }
        if (flag_set && flag_set[0] && strcmp(rec->summary->flag_set, flag_set) != 0) {
            roost__storage__v1__flag_record__free_unpacked(rec, NULL);
            continue;
        }
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            void *nr = realloc(recs, ncap * sizeof *recs);
            if (!nr) {
                roost__storage__v1__flag_record__free_unpacked(rec, NULL);
                rc = roost_error_set(err, ROOST_ENOMEM, "out of memory listing flags");
                break;
            }
            recs = nr;
            cap = ncap;
        }
        recs[n++] = rec;
    }
    store_iter_close(&it);
    store_abort(&t);
    if (rc == ROOST_OK && !(sums = malloc((n ? n : 1) * sizeof *sums)))
        rc = roost_error_set(err, ROOST_ENOMEM, "out of memory listing flags");
    if (rc == ROOST_OK) {
        for (size_t i = 0; i < n; i++)
            sums[i] = recs[i]->summary;
        resp.n_flags = n;
        resp.flags = sums;
        *len = roost__v1__list_flags_response__get_packed_size(&resp);
        if (!(*buf = malloc(*len ? *len : 1)))
            rc = roost_error_set(err, ROOST_ENOMEM, "out of memory listing flags");
        else
            roost__v1__list_flags_response__pack(&resp, *buf);
        *count = (uint32_t)n;
    }
    for (size_t i = 0; i < n; i++)
        roost__storage__v1__flag_record__free_unpacked(recs[i], NULL);
    free(recs);
    free(sums);
    return rc;
}

uint32_t flags_count(struct store *st)
{
    struct store_txn t;
    uint32_t n;
    if (store_begin(st, false, &t, NULL) != ROOST_OK)
        return 0;
    n = (uint32_t)store_table_entries(&t, TBL_FLAGS);
    store_abort(&t);
    return n;
}
