/* Rollout and probe records. See resources.h. */
#include "resources.h"

#include <stdlib.h>
#include <string.h>

#include "server/rollout/logic.h"

/* Growable list of owned strings. */
struct names {
    char **v;
    size_t n, cap;
    bool failed;
};

static void names_add(struct names *l, const char *s)
{
    char *d;

    if (l->failed)
        return;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        char **nv = realloc(l->v, cap * sizeof *nv);
        if (!nv) {
            l->failed = true;
            return;
        }
        l->v = nv;
        l->cap = cap;
    }
    if (!(d = strdup(s))) {
        l->failed = true;
        return;
    }
    l->v[l->n++] = d;
}

static void free_list(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void resources_changes_free(struct resource_changes *c)
{
    free_list(c->rollouts_added, c->n_rollouts_added);
    free_list(c->rollouts_changed, c->n_rollouts_changed);
    free_list(c->rollouts_removed, c->n_rollouts_removed);
    free_list(c->probes_added, c->n_probes_added);
    free_list(c->probes_changed, c->n_probes_changed);
    free_list(c->probes_removed, c->n_probes_removed);
    free_list(c->experiments_added, c->n_experiments_added);
    free_list(c->experiments_changed, c->n_experiments_changed);
    free_list(c->experiments_removed, c->n_experiments_removed);
    for (size_t i = 0; i < c->nviews; i++)
        roost__v1__rollout__free_unpacked(c->views[i], NULL);
    free(c->views);
    for (size_t i = 0; i < c->nexperiment_views; i++)
        roost__v1__experiment__free_unpacked(c->experiment_views[i], NULL);
    free(c->experiment_views);
    memset(c, 0, sizeof *c);
}

bool resources_changed(const struct resource_changes *c)
{
    return c->n_rollouts_added + c->n_rollouts_changed + c->n_rollouts_removed +
               c->n_probes_added + c->n_probes_changed + c->n_probes_removed +
               c->n_experiments_added + c->n_experiments_changed + c->n_experiments_removed >
           0;
}

roost_status resources_get_rollout(struct store_txn *t, const char *name,
                                   Roost__Storage__V1__RolloutRecord **out, roost_error *err)
{
    struct store_val v;
    roost_status rc = store_get(t, TBL_ROLLOUTS, name, strlen(name), &v, NULL);

    if (rc == ROOST_ENOTFOUND)
        return roost_error_set(err, ROOST_ENOTFOUND,
                               "rollout '%s' does not exist (roostctl rollout list shows them)",
                               name);
    if (rc != ROOST_OK)
        return roost_error_set(err, rc, "cannot read rollout %s", name);
    *out = roost__storage__v1__rollout_record__unpack(NULL, v.len, v.data);
    if (!*out || !(*out)->view) {
        if (*out)
            roost__storage__v1__rollout_record__free_unpacked(*out, NULL);
        return roost_error_set(err, ROOST_ECORRUPT, "stored rollout %s cannot be decoded", name);
    }
    return ROOST_OK;
}

roost_status resources_put_rollout(struct store_txn *t, const Roost__Storage__V1__RolloutRecord *rec,
                                   roost_error *err)
{
    size_t len = roost__storage__v1__rollout_record__get_packed_size(rec);
    uint8_t *buf = malloc(len ? len : 1);
    roost_status rc;

    if (!buf)
        return roost_error_set(err, ROOST_ENOMEM, "out of memory");
    roost__storage__v1__rollout_record__pack(rec, buf);
    rc = store_put(t, TBL_ROLLOUTS, rec->name, strlen(rec->name), buf, len, err);
    free(buf);
    return rc;
}

size_t resources_decision_prefix(uint8_t kind, const char *scope, uint8_t *out, size_t cap)
{
    size_t n = strlen(scope);

    if (n + 2 > cap)
        return 0;
    out[0] = kind;
    memcpy(out + 1, scope, n);
    out[n + 1] = '\0';
    return n + 2;
}

roost_status resources_put_decision(struct store_txn *t, Roost__V1__Decision *d, roost_error *err)
{
    uint8_t key[256];
    size_t klen = resources_decision_prefix((uint8_t)d->scope_kind, d->scope_key, key, sizeof key - 8);
    struct store_val v;
    uint64_t seq = 1;
    size_t len;
    uint8_t *buf, num[8];
    roost_status rc;

    if (klen == 0)
        return roost_error_set(err, ROOST_EINVAL, "decision scope too long");
    /* One counter for every subject: a rollout removed and applied again
     * under the same name continues its history instead of overwriting it. */
    if (store_get(t, TBL_META, "decision_seq", 12, &v, NULL) == ROOST_OK && v.len == 8)
        seq = store_u64_from_key(v.data) + 1;
    store_u64_key(seq, num);
    if ((rc = store_put(t, TBL_META, "decision_seq", 12, num, 8, err)) != ROOST_OK)
        return rc;
    d->seq = seq;
    memcpy(key + klen, num, 8);
    len = roost__v1__decision__get_packed_size(d);
    if (!(buf = malloc(len ? len : 1)))
        return roost_error_set(err, ROOST_ENOMEM, "out of memory");
    roost__v1__decision__pack(d, buf);
    rc = store_put(t, TBL_DECISIONS, key, klen + 8, buf, len, err);
    free(buf);
    return rc;
}

roost_status resources_put_hook_job(struct store_txn *t, const Roost__Storage__V1__HookJob *job,
                                    uint64_t *seq, roost_error *err)
{
    struct store_val v;
    uint64_t next = 1;
    uint8_t key[8], *buf;
    size_t len;
    roost_status rc;

    /* A counter rather than the last key + 1: once the outbox empties, the
     * last key is gone, and a reused number could be mistaken by a worker
     * for a job it already holds. */
    rc = store_get(t, TBL_META, "hook_seq", 8, &v, NULL);
    if (rc == ROOST_OK && v.len == 8)
        next = store_u64_from_key(v.data) + 1;
    else if (rc != ROOST_OK && rc != ROOST_ENOTFOUND)
        return roost_error_set(err, rc, "cannot read the hook outbox's sequence number");
    store_u64_key(next, key);
    if ((rc = store_put(t, TBL_META, "hook_seq", 8, key, 8, err)) != ROOST_OK)
        return rc;
    len = roost__storage__v1__hook_job__get_packed_size(job);
    if (!(buf = malloc(len ? len : 1)))
        return roost_error_set(err, ROOST_ENOMEM, "out of memory");
    roost__storage__v1__hook_job__pack(job, buf);
    rc = store_put(t, TBL_HOOK_OUTBOX, key, 8, buf, len, err);
    free(buf);
    if (rc == ROOST_OK)
        *seq = next;
    return rc;
}

roost_status resources_del_hook_job(struct store_txn *t, uint64_t seq, roost_error *err)
{
    uint8_t key[8];

    store_u64_key(seq, key);
    return store_del(t, TBL_HOOK_OUTBOX, key, 8, err);
}

roost_status resources_next_hook_job(struct store_txn *t, uint64_t from, uint64_t *seq,
                                     Roost__Storage__V1__HookJob **out, roost_error *err)
{
    struct store_iter it;
    struct store_val k, v;
    uint8_t key[8];
    roost_status rc;

    *out = NULL;
    if ((rc = store_iter_open(t, TBL_HOOK_OUTBOX, NULL, 0, &it, err)) != ROOST_OK)
        return rc;
    store_u64_key(from, key);
    store_iter_seek(&it, key, 8);
    /* Keys of another length are not ours to read; step over them. */
    while (store_iter_next(&it, &k, &v)) {
        if (k.len != 8)
            continue;
        *seq = store_u64_from_key(k.data);
        *out = roost__storage__v1__hook_job__unpack(NULL, v.len, v.data);
        store_iter_close(&it);
        if (!*out || !(*out)->rollout || !(*out)->event_json || !(*out)->idempotency_key) {
            if (*out)
                roost__storage__v1__hook_job__free_unpacked(*out, NULL);
            *out = NULL;
            return roost_error_set(err, ROOST_ECORRUPT, "hook outbox row %llu cannot be decoded",
                                   (unsigned long long)*seq);
        }
        return ROOST_OK;
    }
    store_iter_close(&it);
    return roost_error_set(err, ROOST_ENOTFOUND, "the hook outbox has no job from %llu",
                           (unsigned long long)from);
}

static const struct doc_rollout *doc_rollout(const struct flag_doc *doc, const char *name, size_t len)
{
    for (size_t i = 0; i < doc->nrollouts; i++) {
        if (strlen(doc->rollouts[i].name) == len && memcmp(doc->rollouts[i].name, name, len) == 0)
            return &doc->rollouts[i];
    }
    return NULL;
}

static const struct doc_probe *doc_probe(const struct flag_doc *doc, const char *name, size_t len)
{
    for (size_t i = 0; i < doc->nprobes; i++) {
        if (strlen(doc->probes[i].name) == len && memcmp(doc->probes[i].name, name, len) == 0)
            return &doc->probes[i];
    }
    return NULL;
}

static Roost__V1__Rollout *view_copy(const Roost__V1__Rollout *v)
{
    size_t len = roost__v1__rollout__get_packed_size(v);
    uint8_t *buf = malloc(len ? len : 1);
    Roost__V1__Rollout *c;

    if (!buf)
        return NULL;
    roost__v1__rollout__pack(v, buf);
    c = roost__v1__rollout__unpack(NULL, len, buf);
    free(buf);
    return c;
}

static bool push_view(struct resource_changes *c, const Roost__V1__Rollout *v)
{
    Roost__V1__Rollout **nv = realloc(c->views, (c->nviews + 1) * sizeof *nv);

    if (!nv)
        return false;
    c->views = nv;
    if (!(c->views[c->nviews] = view_copy(v)))
        return false;
    c->nviews++;
    return true;
}

/* A new rollout's record: pending, weight 0. */
static roost_status stage_new_rollout(struct store_txn *t, const struct doc_rollout *r,
                                      const char *set, bool dry_run, struct resource_changes *c,
                                      roost_error *err)
{
    Roost__Storage__V1__RolloutRecord rec = ROOST__STORAGE__V1__ROLLOUT_RECORD__INIT;
    Roost__V1__Rollout view = ROOST__V1__ROLLOUT__INIT;
    struct rollout_state st;
    uint8_t state[ROLLOUT_STATE_ENCODED_MAX];
    size_t slen;
    roost_status rc;

    rollout_state_init(&st);
    if ((rc = rollout_state_encode(&st, state, sizeof state, &slen, err)) != ROOST_OK)
        return rc;
    view.name = r->name;
    view.flag_set = (char *)set;
    view.service = r->service;
    view.baseline = r->baseline;
    view.canary = r->canary;
    view.phase = (char *)rollout_phase_name(ROLLOUT_PENDING);
    view.revision = t->next_revision;
    rec.name = r->name;
    rec.flag_set = (char *)set;
    rec.spec.data = (uint8_t *)r->spec;
    rec.spec.len = r->spec_len;
    rec.state.data = state;
    rec.state.len = slen;
    rec.view = &view;
    if (!push_view(c, &view))
        return roost_error_set(err, ROOST_ENOMEM, "out of memory");
    return dry_run ? ROOST_OK : resources_put_rollout(t, &rec, err);
}

/* An existing rollout whose spec changed. rec stays owned by the caller:
 * the fields pointed elsewhere for packing are put back before returning. */
static roost_status stage_changed_rollout(struct store_txn *t, Roost__Storage__V1__RolloutRecord *rec,
                                          const struct doc_rollout *r, bool dry_run,
                                          struct resource_changes *c, roost_error *err)
{
    Roost__V1__Rollout *v = rec->view;
    Roost__V1__Rollout saved_view = *v;
    ProtobufCBinaryData saved_spec = rec->spec, saved_state = rec->state;
    struct rollout_state st;
    uint8_t state[ROLLOUT_STATE_ENCODED_MAX];
    size_t slen;
    bool new_release = strcmp(v->baseline, r->baseline) != 0 || strcmp(v->canary, r->canary) != 0;
    roost_status rc;

    if (rollout_state_decode(rec->state.data, rec->state.len, &st, NULL) != ROOST_OK)
        rollout_state_init(&st);
    if (new_release && (st.phase == ROLLOUT_PROMOTED || st.phase == ROLLOUT_ROLLED_BACK)) {
        rollout_state_init(&st);
        v->canary_weight_bp = 0;
        v->step = 0;
        v->phase = (char *)rollout_phase_name(ROLLOUT_PENDING);
    }
    if ((rc = rollout_state_encode(&st, state, sizeof state, &slen, err)) != ROOST_OK)
        goto out;
    v->service = r->service;
    v->baseline = r->baseline;
    v->canary = r->canary;
    v->revision = t->next_revision;
    rec->spec.data = (uint8_t *)r->spec;
    rec->spec.len = r->spec_len;
    rec->state.data = state;
    rec->state.len = slen;
    if (!push_view(c, v))
        rc = roost_error_set(err, ROOST_ENOMEM, "out of memory");
    else if (!dry_run)
        rc = resources_put_rollout(t, rec, err);
out:
    *v = saved_view;
    rec->spec = saved_spec;
    rec->state = saved_state;
    return rc;
}

static roost_status stage_rollouts(struct store_txn *t, const struct flag_doc *doc, bool dry_run,
                                   struct resource_changes *c, roost_error *err)
{
    struct names added = {0}, changed = {0}, removed = {0};
    struct store_iter it;
    struct store_val k = {0}, v = {0};
    roost_status rc = ROOST_OK;

    for (size_t i = 0; i < doc->nrollouts && rc == ROOST_OK; i++) {
        const struct doc_rollout *r = &doc->rollouts[i];
        Roost__Storage__V1__RolloutRecord *rec = NULL;

        rc = resources_get_rollout(t, r->name, &rec, NULL);
        if (rc == ROOST_ENOTFOUND) {
            names_add(&added, r->name);
            rc = stage_new_rollout(t, r, doc->flag_set, dry_run, c, err);
            continue;
        }
        if (rc != ROOST_OK) {
            rc = roost_error_set(err, rc, "cannot read rollout %s", r->name);
            break;
        }
        if (strcmp(rec->flag_set, doc->flag_set) != 0) {
            rc = roost_error_set(err, ROOST_ECONFLICT,
                                 "rollouts.%s: this rollout belongs to flag set '%s', not '%s'; "
                                 "remove it from that set's document first",
                                 r->name, rec->flag_set, doc->flag_set);
        } else if (rec->spec.len != r->spec_len || memcmp(rec->spec.data, r->spec, r->spec_len) ||
                   strcmp(rec->view->service, r->service) != 0) {
            names_add(&changed, r->name);
            rc = stage_changed_rollout(t, rec, r, dry_run, c, err);
        }
        roost__storage__v1__rollout_record__free_unpacked(rec, NULL);
    }
    if (rc == ROOST_OK && (rc = store_iter_open(t, TBL_ROLLOUTS, NULL, 0, &it, err)) == ROOST_OK) {
        while (store_iter_next(&it, &k, &v)) {
            Roost__Storage__V1__RolloutRecord *rec =
                roost__storage__v1__rollout_record__unpack(NULL, v.len, v.data);
            if (rec && strcmp(rec->flag_set, doc->flag_set) == 0 &&
                !doc_rollout(doc, k.data, k.len))
                names_add(&removed, rec->name);
            if (rec)
                roost__storage__v1__rollout_record__free_unpacked(rec, NULL);
        }
        store_iter_close(&it);
    }
    for (size_t i = 0; rc == ROOST_OK && !dry_run && i < removed.n; i++)
        rc = store_del(t, TBL_ROLLOUTS, removed.v[i], strlen(removed.v[i]), err);
    if (rc == ROOST_OK && (added.failed || changed.failed || removed.failed))
        rc = roost_error_set(err, ROOST_ENOMEM, "out of memory");
    c->rollouts_added = added.v;
    c->n_rollouts_added = added.n;
    c->rollouts_changed = changed.v;
    c->n_rollouts_changed = changed.n;
    c->rollouts_removed = removed.v;
    c->n_rollouts_removed = removed.n;
    return rc;
}

static roost_status put_probe(struct store_txn *t, const struct doc_probe *p, const char *set,
                              Roost__V1__ProbeStatus *status, roost_error *err)
{
    Roost__Storage__V1__ProbeRecord rec = ROOST__STORAGE__V1__PROBE_RECORD__INIT;
    Roost__V1__ProbeStatus unknown = ROOST__V1__PROBE_STATUS__INIT;
    size_t len;
    uint8_t *buf;
    roost_status rc;

    if (!status) {
        unknown.name = p->name;
        unknown.state = "unknown";
        unknown.circuit = "closed";
        status = &unknown;
    }
    rec.name = p->name;
    rec.flag_set = (char *)set;
    rec.spec_json = p->spec_json;
    rec.status = status;
    len = roost__storage__v1__probe_record__get_packed_size(&rec);
    if (!(buf = malloc(len ? len : 1)))
        return roost_error_set(err, ROOST_ENOMEM, "out of memory");
    roost__storage__v1__probe_record__pack(&rec, buf);
    rc = store_put(t, TBL_PROBES, p->name, strlen(p->name), buf, len, err);
    free(buf);
    return rc;
}

static roost_status stage_probes(struct store_txn *t, const struct flag_doc *doc, bool dry_run,
                                 struct resource_changes *c, roost_error *err)
{
    struct names added = {0}, changed = {0}, removed = {0};
    struct store_iter it;
    struct store_val k = {0}, v = {0};
    roost_status rc = ROOST_OK;

    for (size_t i = 0; i < doc->nprobes && rc == ROOST_OK; i++) {
        const struct doc_probe *p = &doc->probes[i];
        Roost__Storage__V1__ProbeRecord *rec = NULL;
        struct store_val pv;

        if (store_get(t, TBL_PROBES, p->name, strlen(p->name), &pv, NULL) != ROOST_OK) {
            names_add(&added, p->name);
            if (!dry_run)
                rc = put_probe(t, p, doc->flag_set, NULL, err);
            continue;
        }
        if (!(rec = roost__storage__v1__probe_record__unpack(NULL, pv.len, pv.data))) {
            rc = roost_error_set(err, ROOST_ECORRUPT, "stored probe %s cannot be decoded", p->name);
            break;
        }
        if (strcmp(rec->flag_set, doc->flag_set) != 0) {
            rc = roost_error_set(err, ROOST_ECONFLICT,
                                 "probes.%s: this probe belongs to flag set '%s', not '%s'; "
                                 "remove it from that set's document first",
                                 p->name, rec->flag_set, doc->flag_set);
        } else if (strcmp(rec->spec_json, p->spec_json) != 0) {
            names_add(&changed, p->name);
            if (!dry_run)
                rc = put_probe(t, p, doc->flag_set, rec->status, err);
        }
        roost__storage__v1__probe_record__free_unpacked(rec, NULL);
    }
    if (rc == ROOST_OK && (rc = store_iter_open(t, TBL_PROBES, NULL, 0, &it, err)) == ROOST_OK) {
        while (store_iter_next(&it, &k, &v)) {
            Roost__Storage__V1__ProbeRecord *rec =
                roost__storage__v1__probe_record__unpack(NULL, v.len, v.data);
            if (rec && strcmp(rec->flag_set, doc->flag_set) == 0 && !doc_probe(doc, k.data, k.len))
                names_add(&removed, rec->name);
            if (rec)
                roost__storage__v1__probe_record__free_unpacked(rec, NULL);
        }
        store_iter_close(&it);
    }
    for (size_t i = 0; rc == ROOST_OK && !dry_run && i < removed.n; i++)
        rc = store_del(t, TBL_PROBES, removed.v[i], strlen(removed.v[i]), err);
    if (rc == ROOST_OK && (added.failed || changed.failed || removed.failed))
        rc = roost_error_set(err, ROOST_ENOMEM, "out of memory");
    c->probes_added = added.v;
    c->n_probes_added = added.n;
    c->probes_changed = changed.v;
    c->n_probes_changed = changed.n;
    c->probes_removed = removed.v;
    c->n_probes_removed = removed.n;
    return rc;
}

roost_status resources_get_experiment(struct store_txn *t, const char *name,
                                      Roost__Storage__V1__ExperimentRecord **out, roost_error *err)
{
    struct store_val v;
    roost_status rc = store_get(t, TBL_EXPERIMENTS, name, strlen(name), &v, NULL);

    if (rc == ROOST_ENOTFOUND)
        return roost_error_set(err, ROOST_ENOTFOUND,
                               "experiment '%s' does not exist (roostctl experiment list shows "
                               "them)",
                               name);
    if (rc != ROOST_OK)
        return roost_error_set(err, rc, "cannot read experiment %s", name);
    *out = roost__storage__v1__experiment_record__unpack(NULL, v.len, v.data);
    if (!*out || !(*out)->view) {
        if (*out)
            roost__storage__v1__experiment_record__free_unpacked(*out, NULL);
        return roost_error_set(err, ROOST_ECORRUPT, "stored experiment %s cannot be decoded", name);
    }
    return ROOST_OK;
}

roost_status resources_put_experiment(struct store_txn *t,
                                      const Roost__Storage__V1__ExperimentRecord *rec,
                                      roost_error *err)
{
    size_t len = roost__storage__v1__experiment_record__get_packed_size(rec);
    uint8_t *buf = malloc(len ? len : 1);
    roost_status rc;

    if (!buf)
        return roost_error_set(err, ROOST_ENOMEM, "out of memory");
    roost__storage__v1__experiment_record__pack(rec, buf);
    rc = store_put(t, TBL_EXPERIMENTS, rec->name, strlen(rec->name), buf, len, err);
    free(buf);
    return rc;
}

static bool push_experiment_view(struct resource_changes *c, const Roost__V1__Experiment *v)
{
    size_t len = roost__v1__experiment__get_packed_size(v);
    uint8_t *buf = malloc(len ? len : 1);
    Roost__V1__Experiment **nv;

    if (!buf)
        return false;
    roost__v1__experiment__pack(v, buf);
    nv = realloc(c->experiment_views, (c->nexperiment_views + 1) * sizeof *nv);
    if (nv)
        c->experiment_views = nv;
    if (!nv || !(nv[c->nexperiment_views] = roost__v1__experiment__unpack(NULL, len, buf))) {
        free(buf);
        return false;
    }
    free(buf);
    c->nexperiment_views++;
    return true;
}

static const struct doc_experiment *doc_experiment(const struct flag_doc *doc, const char *name,
                                                   size_t len)
{
    for (size_t i = 0; i < doc->nexperiments; i++) {
        if (strlen(doc->experiments[i].name) == len &&
            memcmp(doc->experiments[i].name, name, len) == 0)
            return &doc->experiments[i];
    }
    return NULL;
}

static struct flag_def *doc_flag(struct flag_doc *doc, const char *key)
{
    for (size_t i = 0; i < doc->nflags; i++) {
        if (strcmp(doc->flags[i].key, key) == 0)
            return &doc->flags[i];
    }
    return NULL;
}

roost_status resources_serve_experiment_flags(struct store_txn *t, struct flag_doc *doc,
                                              roost_error *err)
{
    for (size_t i = 0; i < doc->nexperiments; i++) {
        struct doc_experiment *e = &doc->experiments[i];
        Roost__Storage__V1__ExperimentRecord *rec = NULL;
        struct flag_def *f;
        bool running = false;
        char *src;
        uint8_t *prog;
        roost_status rc;

        if (!e->auto_split || !(f = doc_flag(doc, e->flag)))
            continue;
        rc = resources_get_experiment(t, e->name, &rec, NULL);
        if (rc == ROOST_OK) {
            running = strcmp(rec->view->phase, "running") == 0;
            roost__storage__v1__experiment_record__free_unpacked(rec, NULL);
        } else if (rc != ROOST_ENOTFOUND) {
            return roost_error_set(err, rc, "cannot read experiment %s", e->name);
        }
        if (running)
            continue; /* the document's flag was compiled with the rule */
        src = strdup(e->idle_source);
        prog = malloc(e->idle_len ? e->idle_len : 1);
        if (!src || !prog) {
            free(src);
            free(prog);
            return roost_error_set(err, ROOST_ENOMEM, "out of memory");
        }
        memcpy(prog, e->idle_program, e->idle_len);
        free(f->source_json);
        free(f->program);
        f->source_json = src;
        f->program = prog;
        f->program_len = e->idle_len;
        f->targeted = false;
    }
    return ROOST_OK;
}

static roost_status stage_experiments(struct store_txn *t, const struct flag_doc *doc, bool dry_run,
                                      struct resource_changes *c, roost_error *err)
{
    struct names added = {0}, changed = {0}, removed = {0};
    struct store_iter it;
    struct store_val k = {0}, v = {0};
    roost_status rc = ROOST_OK;

    for (size_t i = 0; i < doc->nexperiments && rc == ROOST_OK; i++) {
        const struct doc_experiment *e = &doc->experiments[i];
        Roost__Storage__V1__ExperimentRecord *rec = NULL, nrec = ROOST__STORAGE__V1__EXPERIMENT_RECORD__INIT;
        Roost__V1__Experiment view = ROOST__V1__EXPERIMENT__INIT;

        rc = resources_get_experiment(t, e->name, &rec, NULL);
        if (rc != ROOST_OK && rc != ROOST_ENOTFOUND) {
            rc = roost_error_set(err, rc, "cannot read experiment %s", e->name);
            break;
        }
        if (rc == ROOST_OK && strcmp(rec->flag_set, doc->flag_set) != 0) {
            rc = roost_error_set(err, ROOST_ECONFLICT,
                                 "experiments.%s: this experiment belongs to flag set '%s', not "
                                 "'%s'; remove it from that set's document first",
                                 e->name, rec->flag_set, doc->flag_set);
            roost__storage__v1__experiment_record__free_unpacked(rec, NULL);
            break;
        }
        if (rc == ROOST_OK && rec->spec.len == e->spec_len &&
            memcmp(rec->spec.data, e->spec, e->spec_len) == 0 && rec->auto_split == e->auto_split &&
            (!e->auto_split ||
             (rec->running_program.len == e->running_len &&
              memcmp(rec->running_program.data, e->running_program, e->running_len) == 0 &&
              rec->idle_program.len == e->idle_len &&
              memcmp(rec->idle_program.data, e->idle_program, e->idle_len) == 0))) {
            roost__storage__v1__experiment_record__free_unpacked(rec, NULL);
            continue;
        }
        if (rec)
            nrec = *rec;
        names_add(rec ? &changed : &added, e->name);
        view.name = e->name;
        view.flag_set = doc->flag_set;
        view.flag = e->flag;
        view.unit = e->unit;
        view.phase = rec ? rec->view->phase : "draft";
        view.revision = t->next_revision;
        nrec.name = e->name;
        nrec.flag_set = doc->flag_set;
        nrec.spec.data = (uint8_t *)e->spec;
        nrec.spec.len = e->spec_len;
        nrec.view = &view;
        nrec.auto_split = e->auto_split;
        nrec.running_source = e->auto_split ? e->running_source : "";
        nrec.running_program.data = e->running_program;
        nrec.running_program.len = e->auto_split ? e->running_len : 0;
        nrec.idle_source = e->auto_split ? e->idle_source : "";
        nrec.idle_program.data = e->idle_program;
        nrec.idle_program.len = e->auto_split ? e->idle_len : 0;
        if (!push_experiment_view(c, &view))
            rc = roost_error_set(err, ROOST_ENOMEM, "out of memory");
        else if (!dry_run)
            rc = resources_put_experiment(t, &nrec, err);
        else
            rc = ROOST_OK;
        if (rec)
            roost__storage__v1__experiment_record__free_unpacked(rec, NULL);
    }
    if (rc == ROOST_OK && (rc = store_iter_open(t, TBL_EXPERIMENTS, NULL, 0, &it, err)) == ROOST_OK) {
        while (store_iter_next(&it, &k, &v)) {
            Roost__Storage__V1__ExperimentRecord *rec =
                roost__storage__v1__experiment_record__unpack(NULL, v.len, v.data);
            if (rec && strcmp(rec->flag_set, doc->flag_set) == 0 &&
                !doc_experiment(doc, k.data, k.len))
                names_add(&removed, rec->name);
            if (rec)
                roost__storage__v1__experiment_record__free_unpacked(rec, NULL);
        }
        store_iter_close(&it);
    }
    for (size_t i = 0; rc == ROOST_OK && !dry_run && i < removed.n; i++)
        rc = store_del(t, TBL_EXPERIMENTS, removed.v[i], strlen(removed.v[i]), err);
    if (rc == ROOST_OK && (added.failed || changed.failed || removed.failed))
        rc = roost_error_set(err, ROOST_ENOMEM, "out of memory");
    c->experiments_added = added.v;
    c->n_experiments_added = added.n;
    c->experiments_changed = changed.v;
    c->n_experiments_changed = changed.n;
    c->experiments_removed = removed.v;
    c->n_experiments_removed = removed.n;
    return rc;
}

roost_status resources_stage(struct store_txn *t, const struct flag_doc *doc, bool dry_run,
                             struct resource_changes *out, roost_error *err)
{
    roost_status rc;

    memset(out, 0, sizeof *out);
    if ((rc = stage_probes(t, doc, dry_run, out, err)) != ROOST_OK ||
        (rc = stage_rollouts(t, doc, dry_run, out, err)) != ROOST_OK ||
        (rc = stage_experiments(t, doc, dry_run, out, err)) != ROOST_OK)
        resources_changes_free(out);
    return rc;
}

roost_status resources_history(struct store *st, uint8_t kind, const char *name, uint32_t limit,
                               uint64_t before_seq, Roost__V1__Decision ***out, size_t *n,
                               roost_error *err)
{
    uint8_t prefix[256];
    size_t plen = resources_decision_prefix(kind, name, prefix, sizeof prefix);
    Roost__V1__Decision **ring;
    struct store_txn t;
    struct store_iter it;
    struct store_val k = {0}, v = {0};
    size_t count = 0;
    roost_status rc;

    *out = NULL;
    *n = 0;
    if (limit == 0)
        limit = 100;
    if (limit > 10000)
        limit = 10000;
    if (plen == 0)
        return roost_error_set(err, ROOST_EINVAL, "name too long");
    if (!(ring = calloc(limit, sizeof *ring)))
        return roost_error_set(err, ROOST_ENOMEM, "out of memory");
    if ((rc = store_begin(st, false, &t, err)) != ROOST_OK) {
        free(ring);
        return rc;
    }
    /* Keys sort by sequence; keep the newest `limit` older than before_seq. */
    if ((rc = store_iter_open(&t, TBL_DECISIONS, prefix, plen, &it, err)) == ROOST_OK) {
        while (store_iter_next(&it, &k, &v)) {
            Roost__V1__Decision *d;
            if (k.len != plen + 8)
                continue;
            if (before_seq && store_u64_from_key((const uint8_t *)k.data + plen) >= before_seq)
                break;
            if (!(d = roost__v1__decision__unpack(NULL, v.len, v.data)))
                continue;
            if (ring[count % limit])
                roost__v1__decision__free_unpacked(ring[count % limit], NULL);
            ring[count % limit] = d;
            count++;
        }
        store_iter_close(&it);
    }
    store_abort(&t);
    if (rc != ROOST_OK) {
        for (size_t i = 0; i < limit; i++)
            if (ring[i])
                roost__v1__decision__free_unpacked(ring[i], NULL);
        free(ring);
        return rc;
    }
    /* Newest first. */
    {
        size_t have = count < limit ? count : limit;
        Roost__V1__Decision **res = calloc(have + 1, sizeof *res);
        if (!res) {
            for (size_t i = 0; i < limit; i++)
                if (ring[i])
                    roost__v1__decision__free_unpacked(ring[i], NULL);
            free(ring);
            return roost_error_set(err, ROOST_ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < have; i++)
            res[i] = ring[(count - 1 - i) % limit];
        free(ring);
        *out = res;
        *n = have;
    }
    return ROOST_OK;
}


roost_status resources_names(struct store *st, enum store_table tbl, char ***names, size_t *n,
                            roost_error *err)
{
    struct store_txn t;
    struct store_iter it;
    struct store_val k = {0}, v = {0};
    size_t cap = 0;
    roost_status rc;

    *names = NULL;
    *n = 0;
    if ((rc = store_begin(st, false, &t, err)) != ROOST_OK)
        return rc;
    if ((rc = store_iter_open(&t, tbl, NULL, 0, &it, err)) == ROOST_OK) {
        while (store_iter_next(&it, &k, &v)) {
            char *s;
            if (*n == cap) {
                char **nn = realloc(*names, (cap = cap ? cap * 2 : 16) * sizeof *nn);
                if (!nn) {
                    rc = roost_error_set(err, ROOST_ENOMEM, "out of memory");
                    break;
                }
                *names = nn;
            }
            if (!(s = malloc(k.len + 1))) {
                rc = roost_error_set(err, ROOST_ENOMEM, "out of memory");
                break;
            }
            memcpy(s, k.data, k.len);
            s[k.len] = '\0';
            (*names)[(*n)++] = s;
        }
        store_iter_close(&it);
    }
    store_abort(&t);
    return rc;
}

