/* Server-side evaluation views. See evaluator.h.
 *
 * A view owns copies of the images (LMDB memory is valid only inside a
 * transaction). Building one costs a store scan and a verification of every
 * image; it happens once per revision, on the first request that needs it,
 * under the evaluator's mutex, so concurrent requests wait for one build
 * instead of each doing their own. */
#include "evaluator.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "roost/storage/v1/storage.pb-c.h"

struct view {
    struct eval_view pub; /* first: views are handed out as &pub */
    int refs;             /* guarded by the evaluator's mutex */
    roost_flag *flags;
    char **flag_sets;
    uint8_t **images;
    uint32_t *slots;
};

struct evaluator {
    struct store *store;
    pthread_mutex_t mu;
    struct view *current;
};

static void view_free(struct view *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->pub.count; i++) {
        free(v->images[i]);
        free(v->flag_sets[i]);
    }
    free(v->images);
    free(v->flag_sets);
    free(v->flags);
    free(v->slots);
    free(v);
}

static roost_status view_build(struct store *st, struct view **out, roost_error *err)
{
    struct store_txn t;
    struct store_iter it;
    struct store_val k = {0}, val = {0};
    struct view *v = calloc(1, sizeof *v);
    size_t n, i = 0;
    roost_status rc;

    if (!v)
        return roost_error_set(err, ROOST_ENOMEM, "out of memory");
    if ((rc = store_begin(st, false, &t, err)) != ROOST_OK) {
        free(v);
        return rc;
    }
    v->pub.revision = store_txn_revision(&t);
    n = store_table_entries(&t, TBL_FLAGS);
    v->flags = calloc(n + 1, sizeof *v->flags);
    v->flag_sets = calloc(n + 1, sizeof *v->flag_sets);
    v->images = calloc(n + 1, sizeof *v->images);
    v->slots = calloc(ROOST_FLAGSET_SLOTS(n), sizeof *v->slots);
    if (!v->flags || !v->flag_sets || !v->images || !v->slots) {
        rc = roost_error_set(err, ROOST_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = store_iter_open(&t, TBL_FLAGS, NULL, 0, &it, err)) != ROOST_OK)
        goto out;
    while (i < n && store_iter_next(&it, &k, &val)) {
        Roost__Storage__V1__FlagRecord *rec =
            roost__storage__v1__flag_record__unpack(NULL, val.len, val.data);
        roost_error lerr;

        if (!rec || !rec->flag) {
            if (rec)
                roost__storage__v1__flag_record__free_unpacked(rec, NULL);
            rc = roost_error_set(err, ROOST_ECORRUPT, "stored flag %.*s cannot be decoded",
                                 (int)k.len, (const char *)k.data);
            break;
        }
        v->images[i] = malloc(rec->flag->program.len ? rec->flag->program.len : 1);
        v->flag_sets[i] = strdup(rec->flag->flag_set);
        if (!v->images[i] || !v->flag_sets[i]) {
            roost__storage__v1__flag_record__free_unpacked(rec, NULL);
            v->pub.count = i + 1;
            rc = roost_error_set(err, ROOST_ENOMEM, "out of memory");
            break;
        }
        memcpy(v->images[i], rec->flag->program.data, rec->flag->program.len);
        if (roost_flag_load(&v->flags[i], v->images[i], rec->flag->program.len, &lerr) != ROOST_OK) {
            /* An image this engine cannot load (written by a newer roostd,
             * say) makes that one flag unknown, not the server unusable. */
            struct log_line l;
            log_begin(&l, LOG_ERROR, "flag_image_rejected");
            log_str(&l, "flag", rec->flag->key);
            log_str(&l, "error", lerr.msg);
            log_end(&l);
            free(v->images[i]);
            free(v->flag_sets[i]);
            v->images[i] = NULL;
            v->flag_sets[i] = NULL;
            roost__storage__v1__flag_record__free_unpacked(rec, NULL);
            continue;
        }
        roost__storage__v1__flag_record__free_unpacked(rec, NULL);
        i++;
    }
    store_iter_close(&it);
    if (rc == ROOST_OK) {
        v->pub.count = i;
        v->pub.flags = v->flags;
        v->pub.flag_sets = (const char *const *)v->flag_sets;
        rc = roost_flagset_init(&v->pub.index, v->flags, i, v->slots, ROOST_FLAGSET_SLOTS(n), err);
    } else if (v->pub.count < i) {
        v->pub.count = i;
    }
out:
    store_abort(&t);
    if (rc != ROOST_OK) {
        view_free(v);
        return rc;
    }
    *out = v;
    return ROOST_OK;
}

roost_status evaluator_create(struct store *st, struct evaluator **out, roost_error *err)
{
    struct evaluator *ev = calloc(1, sizeof *ev);

    if (!ev)
        return roost_error_set(err, ROOST_ENOMEM, "out of memory");
    ev->store = st;
    pthread_mutex_init(&ev->mu, NULL);
    *out = ev;
    return ROOST_OK;
}

void evaluator_destroy(struct evaluator *ev)
{
    if (!ev)
        return;
    if (ev->current && --ev->current->refs == 0)
        view_free(ev->current);
    pthread_mutex_destroy(&ev->mu);
    free(ev);
}

roost_status evaluator_acquire(struct evaluator *ev, const struct eval_view **out,
                               roost_error *err)
{
    roost_status rc = ROOST_OK;

    pthread_mutex_lock(&ev->mu);
    if (!ev->current || ev->current->pub.revision != store_revision(ev->store)) {
        struct view *next;
        if ((rc = view_build(ev->store, &next, err)) == ROOST_OK) {
            if (ev->current && --ev->current->refs == 0)
                view_free(ev->current);
            next->refs = 1; /* the evaluator's own reference */
            ev->current = next;
        }
    }
    if (rc == ROOST_OK) {
        ev->current->refs++;
        *out = &ev->current->pub;
    }
    pthread_mutex_unlock(&ev->mu);
    return rc;
}

void evaluator_release(struct evaluator *ev, const struct eval_view *view)
{
    struct view *v = (struct view *)(void *)view;
    bool last;

    pthread_mutex_lock(&ev->mu);
    last = --v->refs == 0;
    pthread_mutex_unlock(&ev->mu);
    if (last)
        view_free(v);
}
