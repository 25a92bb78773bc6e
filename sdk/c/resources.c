/* Rollout, probe and experiment tables. See resources.h for the model. */
#include "resources.h"

#include <stdlib.h>
#include <string.h>

#include "exposure.h"

size_t sdk_res_size(enum sdk_res_kind k)
{
    switch (k) {
    case SDK_ROLLOUTS: return sizeof(struct sdk_rollout);
    case SDK_PROBES: return sizeof(struct sdk_probe);
    case SDK_EXPERIMENTS: return sizeof(struct sdk_experiment);
    default: return 0;
    }
}

const char *sdk_res_kind_name(enum sdk_res_kind k)
{
    switch (k) {
    case SDK_ROLLOUTS: return "rollout";
    case SDK_PROBES: return "probe";
    case SDK_EXPERIMENTS: return "experiment";
    default: return "resource";
    }
}

/* ---- messages' lists ---------------------------------------------------- */

roost_status sdk_res_list_push(struct sdk_res_list *l, enum sdk_res_kind k, size_t max, void **out)
{
    size_t size = sdk_res_size(k);

    if (l->n >= max)
        return ROOST_ELIMIT;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        void *v = realloc(l->items, cap * size);
        if (!v)
            return ROOST_ENOMEM;
        l->items = v;
        l->cap = cap;
    }
    *out = (char *)l->items + l->n++ * size;
    memset(*out, 0, size); /* zero padding: records are compared with memcmp */
    return ROOST_OK;
}

roost_status sdk_res_list_remove(struct sdk_res_list *l, const char *name, size_t len, size_t max)
{
    if (l->nremoved >= max)
        return ROOST_ELIMIT;
    if (l->nremoved == l->removed_cap) {
        size_t cap = l->removed_cap ? 2 * l->removed_cap : 16;
        void *v = realloc(l->removed, cap * sizeof *l->removed);
        if (!v)
            return ROOST_ENOMEM;
        l->removed = v;
        l->removed_cap = cap;
    }
    memset(l->removed[l->nremoved], 0, sizeof *l->removed);
    memcpy(l->removed[l->nremoved], name, len);
    l->nremoved++;
    return ROOST_OK;
}

void sdk_res_list_clear(struct sdk_res_list *l)
{
    free(l->items);
    free(l->removed);
    memset(l, 0, sizeof *l);
}

/* ---- tables ------------------------------------------------------------- */

/* Sort key for merging: the name, then the order the record came in, so
 * that among equal names the last one can win. */
struct ranked {
    const char *rec;
    size_t order;
};

static int cmp_ranked(const void *a, const void *b)
{
    const struct ranked *x = a, *y = b;
    int c = strcmp(x->rec, y->rec);

    if (c)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

roost_status sdk_res_merge(enum sdk_res_kind k, const struct sdk_res_table *old,
                           const struct sdk_res_list *l, bool full, struct sdk_res_table *out)
{
    size_t size = sdk_res_size(k), nold = full || !old ? 0 : old->n, total = nold + l->n;
    size_t count = 0, i;
    struct ranked *r = NULL;
    char (*removed)[SDK_NAME_MAX + 1] = NULL;
    char *items = NULL;

    out->items = NULL;
    out->n = 0;
    if (total == 0)
        return ROOST_OK;
    if (total > UINT32_MAX / 2 || !(r = malloc(total * sizeof *r)))
        return ROOST_ENOMEM;
    /* Removed names, sorted, for bsearch (a copy: l is const). */
    if (!full && l->nremoved) {
        if (!(removed = malloc(l->nremoved * sizeof *removed))) {
            free(r);
            return ROOST_ENOMEM;
        }
        memcpy(removed, l->removed, l->nremoved * sizeof *removed);
        qsort(removed, l->nremoved, sizeof *removed, cmp_name);
    }
    for (i = 0; i < nold; i++) {
        const char *rec = sdk_res_at(k, old, i);
        if (removed && bsearch(rec, removed, l->nremoved, sizeof *removed, cmp_name))
            continue;
        r[count].rec = rec;
        r[count].order = count;
        count++;
    }
    /* Upserts after the old records: they win on equal names. */
    for (i = 0; i < l->n; i++) {
        r[count].rec = (const char *)l->items + i * size;
        r[count].order = count;
        count++;
    }
    free(removed);
    qsort(r, count, sizeof *r, cmp_ranked);
    if (!(items = malloc(count * size))) {
        free(r);
        return ROOST_ENOMEM;
    }
    total = 0;
    for (i = 0; i < count; i++) {
        if (i + 1 < count && strcmp(r[i].rec, r[i + 1].rec) == 0)
            continue; /* a later record of the same name follows */
        memcpy(items + total++ * size, r[i].rec, size);
    }
    free(r);
    out->items = items;
    out->n = (uint32_t)total;
    return ROOST_OK;
}

void sdk_res_table_free(struct sdk_res_table *t)
{
    free(t->items);
    t->items = NULL;
    t->n = 0;
}

long sdk_res_index(enum sdk_res_kind k, const struct sdk_res_table *t, const char *name,
                   size_t len)
{
    size_t lo = 0, hi = t ? t->n : 0;

    if (len > SDK_NAME_MAX)
        return -1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *n = sdk_res_at(k, t, mid);
        int c = strncmp(n, name, len);
        if (c == 0)
            c = n[len] ? 1 : 0;
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

const void *sdk_res_find(enum sdk_res_kind k, const struct sdk_res_table *t, const char *name,
                         size_t len)
{
    long i = sdk_res_index(k, t, name, len);

    return i < 0 ? NULL : sdk_res_at(k, t, (size_t)i);
}

/* Walks a and b in name order; calls out(name) for each name that differs. */
static void diff_walk(enum sdk_res_kind k, const struct sdk_res_table *a,
                      const struct sdk_res_table *b, void (*out)(void *, const char *), void *user)
{
    size_t na = a ? a->n : 0, nb = b ? b->n : 0, i = 0, j = 0, size = sdk_res_size(k);

    while (i < na || j < nb) {
        const char *x = i < na ? sdk_res_at(k, a, i) : NULL;
        const char *y = j < nb ? sdk_res_at(k, b, j) : NULL;
        int c = !x ? 1 : !y ? -1 : strcmp(x, y);
        if (c < 0) {
            out(user, x); /* removed */
            i++;
        } else if (c > 0) {
            out(user, y); /* added */
            j++;
        } else {
            if (memcmp(x, y, size) != 0)
                out(user, y);
            i++;
            j++;
        }
    }
}

struct diff_out {
    size_t n, bytes;
    const char **names;
    char *p;
};

static void diff_count(void *user, const char *name)
{
    struct diff_out *d = user;

    d->n++;
    d->bytes += strlen(name) + 1;
}

static void diff_copy(void *user, const char *name)
{
    struct diff_out *d = user;
    size_t len = strlen(name) + 1;

    memcpy(d->p, name, len);
    d->names[d->n++] = d->p;
    d->p += len;
}

roost_status sdk_res_diff(enum sdk_res_kind k, const struct sdk_res_table *a,
                          const struct sdk_res_table *b, const char ***names, size_t *n)
{
    struct diff_out d = {0, 0, NULL, NULL};

    *names = NULL;
    *n = 0;
    diff_walk(k, a, b, diff_count, &d);
    if (d.n == 0)
        return ROOST_OK;
    if (!(d.names = malloc(d.n * sizeof *d.names + d.bytes)))
        return ROOST_ENOMEM;
    d.p = (char *)(d.names + d.n);
    d.n = 0;
    diff_walk(k, a, b, diff_copy, &d);
    *names = d.names;
    *n = d.n;
    return ROOST_OK;
}

/* ---- phases and states -------------------------------------------------- */

static int lookup(const char *s, const char *const *names, int n)
{
    for (int i = 1; i < n; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return 0;
}

static const char *const rollout_phases[] = {"unknown",  "pending",  "progressing",
                                             "paused",   "promoted", "rolled_back"};
static const char *const probe_states[] = {"unknown", "up", "degraded", "down"};
static const char *const probe_circuits[] = {"unknown", "closed", "open", "half_open"};
static const char *const experiment_phases[] = {"unknown", "draft", "running", "stopped",
                                                "concluded"};
#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

roost_rollout_phase sdk_rollout_phase_parse(const char *s)
{
    return (roost_rollout_phase)lookup(s, rollout_phases, COUNT(rollout_phases));
}

roost_probe_state sdk_probe_state_parse(const char *s)
{
    return (roost_probe_state)lookup(s, probe_states, COUNT(probe_states));
}

roost_probe_circuit sdk_probe_circuit_parse(const char *s)
{
    return (roost_probe_circuit)lookup(s, probe_circuits, COUNT(probe_circuits));
}

roost_experiment_phase sdk_experiment_phase_parse(const char *s)
{
    return (roost_experiment_phase)lookup(s, experiment_phases, COUNT(experiment_phases));
}

const char *roost_rollout_phase_name(roost_rollout_phase phase)
{
    return (int)phase >= 0 && (int)phase < COUNT(rollout_phases) ? rollout_phases[phase]
                                                                  : "unknown";
}

const char *roost_probe_state_name(roost_probe_state state)
{
    return (int)state >= 0 && (int)state < COUNT(probe_states) ? probe_states[state] : "unknown";
}

const char *roost_probe_circuit_name(roost_probe_circuit circuit)
{
    return (int)circuit >= 0 && (int)circuit < COUNT(probe_circuits) ? probe_circuits[circuit]
                                                                      : "unknown";
}

const char *roost_experiment_phase_name(roost_experiment_phase phase)
{
    return (int)phase >= 0 && (int)phase < COUNT(experiment_phases) ? experiment_phases[phase]
                                                                     : "unknown";
}

/* ---- derived fields ----------------------------------------------------- */

void sdk_rollout_prepare(struct sdk_rollout *r)
{
    if (r->weight_bp > SDK_WEIGHT_FULL)
        r->weight_bp = SDK_WEIGHT_FULL;
    roost_murmur3_init(&r->salt, 0);
    roost_murmur3_update(&r->salt, r->name, strlen(r->name));
}

void sdk_experiment_prepare(struct sdk_experiment *e)
{
    static const char tk[] = "targetingKey";

    if (!e->unit[0])
        memcpy(e->unit, tk, sizeof tk);
    e->unit_len = (uint32_t)strlen(e->unit);
    e->salt = sdk_hash64(0x726f6f7374u /* "roost" */, e->name, strlen(e->name));
}
