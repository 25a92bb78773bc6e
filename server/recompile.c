/* Stored programs brought up to this build's image format. See recompile.h.
 *
 * A stored program is stale when roost_flag_load refuses it (a version
 * mismatch is the expected reason, but any image this engine cannot load
 * is worth replacing when its source still compiles), or when it is of an
 * older format than this build writes: it still loads, but without the
 * newer format's instructions it runs slower. The source is the
 * normalized definition the compiler produced ($refs inlined, metadata
 * merged), so one flag compiles on its own, without its document.
 */
#include "recompile.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "change.h"
#include "flags.h"
#include "log.h"
#include "resources.h"
#include "roost/engine.h"
#include "roost/storage/v1/storage.pb-c.h"
#include "server/compile/compile.h"

/* The engine keeps pointers into the image it loads and may expect the
 * alignment malloc gives; protobuf-c's bytes carry no such promise. */
static bool program_is_current(const ProtobufCBinaryData *p, roost_error *why)
{
    roost_flag f;
    void *copy;
    bool ok;

    /* u16 format version at offset 4, little-endian (docs/engine.md) */
    if (p->len >= 6 && (unsigned)(p->data[4] | p->data[5] << 8) < ROOST_IMAGE_VERSION) {
        roost_error_set(why, ROOST_ECORRUPT, "image format %u, this roostd writes %u",
                        (unsigned)(p->data[4] | p->data[5] << 8), (unsigned)ROOST_IMAGE_VERSION);
        return false;
    }
    if (!(copy = malloc(p->len ? p->len : 1))) {
        roost_error_set(why, ROOST_ENOMEM, "out of memory");
        return true; /* not known to be stale: leave it */
    }
    memcpy(copy, p->data, p->len);
    ok = roost_flag_load(&f, copy, p->len, why) == ROOST_OK;
    free(copy);
    return ok;
}

/* Compiles one flag's normalized source alone. On success *set owns *cf. */
static roost_status compile_one(const char *key, const char *source, roost_compiled_set **set,
                                const roost_compiled_flag **cf, roost_error *err)
{
    cJSON *root = cJSON_CreateObject(), *flags = cJSON_CreateObject();
    cJSON *def = cJSON_Parse(source);
    roost_status rc;

    *set = NULL;
    if (!root || !flags || !def) {
        cJSON_Delete(root);
        cJSON_Delete(flags);
        cJSON_Delete(def);
        return def ? roost_error_set(err, ROOST_ENOMEM, "out of memory")
                   : roost_error_set(err, ROOST_ECORRUPT, "the stored source is not JSON");
    }
    cJSON_AddItemToObject(root, "flags", flags);
    cJSON_AddItemToObject(flags, key, def);
    rc = roost_compile_flagset(root, set, err);
    cJSON_Delete(root);
    if (rc != ROOST_OK)
        return rc;
    if (!(*cf = roost_compiled_set_find(*set, key))) {
        roost_compiled_set_free(*set);
        *set = NULL;
        return roost_error_set(err, ROOST_EINTERNAL, "the compiled set lost flag %s", key);
    }
    return ROOST_OK;
}

static void log_failed(const char *kind, const char *name, const roost_error *why)
{
    struct log_line l;

    log_begin(&l, LOG_ERROR, "flag_recompile_failed");
    log_str(&l, kind, name);
    log_str(&l, "error", why->msg);
    log_end(&l);
}

/* Replaces a stale program of an experiment record in place; the new
 * bytes are owned by *keep (freed with it). Returns true when replaced. */
static bool refresh_program(const char *exp, const char *flag, const char *source,
                            ProtobufCBinaryData *program, roost_compiled_set **keep,
                            struct recompile_result *out)
{
    const roost_compiled_flag *cf;
    roost_error why;

    if (!source || !source[0] || program_is_current(program, &why))
        return false;
    if (compile_one(flag, source, keep, &cf, &why) != ROOST_OK) {
        log_failed("experiment", exp, &why);
        out->failed++;
        return false;
    }
    program->data = (uint8_t *)cf->image;
    program->len = cf->image_len;
    return true;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Rewrites the stale flags in t; their change-event copies go to ev. */
static roost_status recompile_flags(struct store_txn *t, char **keys, size_t n,
                                    Roost__V1__ChangeEvent *ev, struct recompile_result *out,
                                    roost_error *err)
{
    for (size_t i = 0; i < n; i++) {
        Roost__Storage__V1__FlagRecord *rec;
        const roost_compiled_flag *cf;
        roost_compiled_set *set;
        struct store_val v;
        roost_error why;
        roost_status rc;

        if ((rc = store_get(t, TBL_FLAGS, keys[i], strlen(keys[i]), &v, err)) != ROOST_OK)
            return rc;
        if (!(rec = roost__storage__v1__flag_record__unpack(NULL, v.len, v.data)) || !rec->flag) {
            if (rec)
                roost__storage__v1__flag_record__free_unpacked(rec, NULL);
            return roost_error_set(err, ROOST_ECORRUPT, "stored flag %s cannot be decoded",
                                   keys[i]);
        }
        if (program_is_current(&rec->flag->program, &why)) {
            roost__storage__v1__flag_record__free_unpacked(rec, NULL);
            continue;
        }
        if (compile_one(keys[i], rec->flag->source_json, &set, &cf, &why) != ROOST_OK) {
            log_failed("flag", keys[i], &why);
            out->failed++;
            roost__storage__v1__flag_record__free_unpacked(rec, NULL);
            continue;
        }
        roost__storage__v1__flag_record__free_unpacked(rec, NULL);
        rc = flags_put_program(t, keys[i], cf->source_json, cf->image, cf->image_len,
                               cf->has_targeting, &ev->upserted[ev->n_upserted], err);
        roost_compiled_set_free(set);
        if (rc != ROOST_OK)
            return rc;
        ev->n_upserted++;
        out->flags++;
    }
    return ROOST_OK;
}

static roost_status recompile_experiments(struct store_txn *t, char **names, size_t n,
                                          struct recompile_result *out, roost_error *err)
{
    for (size_t i = 0; i < n; i++) {
        Roost__Storage__V1__ExperimentRecord *rec;
        roost_compiled_set *running = NULL, *idle = NULL;
        ProtobufCBinaryData orig_running, orig_idle;
        bool changed;
        roost_status rc;

        if ((rc = resources_get_experiment(t, names[i], &rec, err)) != ROOST_OK)
            return rc == ROOST_ENOTFOUND ? ROOST_OK : rc;
        if (!rec->auto_split || !rec->view) {
            roost__storage__v1__experiment_record__free_unpacked(rec, NULL);
            continue;
        }
        orig_running = rec->running_program;
        orig_idle = rec->idle_program;
        changed = refresh_program(names[i], rec->view->flag, rec->running_source,
                                  &rec->running_program, &running, out);
        changed |= refresh_program(names[i], rec->view->flag, rec->idle_source,
                                   &rec->idle_program, &idle, out);
        rc = changed ? resources_put_experiment(t, rec, err) : ROOST_OK;
        /* The record's program fields may point into the compiled sets:
         * give protobuf-c back what it allocated before it frees. */
        rec->running_program = orig_running;
        rec->idle_program = orig_idle;
        roost__storage__v1__experiment_record__free_unpacked(rec, NULL);
        roost_compiled_set_free(running);
        roost_compiled_set_free(idle);
        if (rc != ROOST_OK)
            return rc;
        out->experiments += changed;
    }
    return ROOST_OK;
}

roost_status recompile_stored(struct store *st, struct hub *hub, struct recompile_result *out,
                              roost_error *err)
{
    Roost__V1__ChangeEvent ev = ROOST__V1__CHANGE_EVENT__INIT;
    char **keys = NULL, **exps = NULL;
    size_t nkeys = 0, nexps = 0;
    struct store_txn t;
    roost_status rc;

    memset(out, 0, sizeof *out);
    if ((rc = resources_names(st, TBL_FLAGS, &keys, &nkeys, err)) != ROOST_OK)
        return rc;
    if ((rc = resources_names(st, TBL_EXPERIMENTS, &exps, &nexps, err)) != ROOST_OK) {
        free_names(keys, nkeys);
        return rc;
    }
    if (nkeys && !(ev.upserted = calloc(nkeys, sizeof *ev.upserted))) {
        free_names(keys, nkeys);
        free_names(exps, nexps);
        return roost_error_set(err, ROOST_ENOMEM, "out of memory");
    }
    if ((rc = store_begin(st, true, &t, err)) == ROOST_OK) {
        if ((rc = recompile_flags(&t, keys, nkeys, &ev, out, err)) == ROOST_OK)
            rc = recompile_experiments(&t, exps, nexps, out, err);
        if (rc != ROOST_OK) {
            store_abort(&t);
        } else if (ev.n_upserted) {
            ev.actor = (char *)"roostd";
            rc = change_commit(&t, hub, &ev, err);
        } else if (out->experiments) {
            rc = store_commit(&t, err);
        } else {
            store_abort(&t);
        }
    }
    if (rc != ROOST_OK) {
        size_t failed = out->failed;
        memset(out, 0, sizeof *out);
        out->failed = failed;
    }
    for (size_t i = 0; i < ev.n_upserted; i++)
        roost__v1__flag__free_unpacked(ev.upserted[i], NULL);
    free(ev.upserted);
    free_names(keys, nkeys);
    free_names(exps, nexps);
    return rc;
}
