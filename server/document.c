/* Configuration documents. See document.h.
 *
 * Checks here are about the document as a whole — its size, JSON syntax
 * (server/compile's parser reports line and column), the known top-level
 * keys and the flag set it names. Each part has its own strict parser,
 * which names the JSON path in its messages: the flag compiler for "flags"
 * and "$evaluators", server/rollout for "rollouts" and "probes",
 * server/experiment for "experiments". */
#include "document.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile/compile.h"
#include "json_fields.h"
#include "experiment/spec.h"
#include "experiment/split.h"
#include "rollout/probes.h"
#include "rollout/spec.h"

static const char *const top_level_keys[] = {"$schema",  "flags",  "$evaluators", "metadata",
                                             "rollouts", "probes", "experiments"};

/* Unknown top-level keys are mistakes (a misspelt "flags" would otherwise
 * apply an empty flag set and remove every flag of the set). */
static roost_status check_top_level(const cJSON *root, roost_error *err)
{
    return json_fields_check(root, "top level", top_level_keys,
                             sizeof top_level_keys / sizeof top_level_keys[0], err);
}

static roost_status flag_set_of(const cJSON *root, char **out, roost_error *err)
{
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "metadata");
    const cJSON *id = cJSON_IsObject(meta) ? cJSON_GetObjectItemCaseSensitive(meta, "flagSetId") : NULL;
    const char *name = FLAGS_DEFAULT_SET;

    if (id) {
        if (!cJSON_IsString(id) || !id->valuestring[0])
            return roost_error_set(err, ROOST_EINVAL, "metadata.flagSetId: expected a non-empty string");
        name = id->valuestring;
    }
    if (!(*out = strdup(name)))
        return roost_error_set(err, ROOST_ENOMEM, "out of memory");
    return ROOST_OK;
}

static const char *type_name(roost_value_type t)
{
    switch (t) {
    case ROOST_VALUE_BOOLEAN: return "boolean";
    case ROOST_VALUE_STRING: return "string";
    case ROOST_VALUE_NUMBER: return "number";
    case ROOST_VALUE_OBJECT: return "object";
    }
    return "unknown";
}

static char *dup_bytes(const void *p, size_t n)
{
    char *d = malloc(n + 1);

    if (d) {
        memcpy(d, p, n);
        d[n] = '\0';
    }
    return d;
}

/* Copies the compiled set into the flag_doc the store layer applies. */
static roost_status take_compiled(const roost_compiled_set *set, struct flag_doc *out,
                                  roost_error *err)
{
    size_t n = roost_compiled_set_count(set), nw = roost_compiled_set_warning_count(set);

    out->flags = calloc(n ? n : 1, sizeof *out->flags);
    out->warnings = calloc(nw ? nw : 1, sizeof *out->warnings);
    if (!out->flags || !out->warnings)
        return roost_error_set(err, ROOST_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const roost_compiled_flag *cf = roost_compiled_set_flag(set, i);
        struct flag_def *f = &out->flags[out->nflags++];

        f->key = strdup(cf->key);
        f->source_json = strdup(cf->source_json);
        f->program = (uint8_t *)dup_bytes(cf->image, cf->image_len);
        f->program_len = cf->image_len;
        f->enabled = cf->enabled;
        f->type = type_name(cf->type);
        f->targeted = cf->has_targeting;
        f->default_variant = cf->default_variant ? strdup(cf->default_variant) : NULL;
        f->variants = calloc(cf->n_variants ? cf->n_variants : 1, sizeof *f->variants);
        if (!f->key || !f->source_json || !f->program || !f->variants ||
            (cf->default_variant && !f->default_variant))
            return roost_error_set(err, ROOST_ENOMEM, "out of memory");
        for (size_t v = 0; v < cf->n_variants; v++) {
            if (!(f->variants[v] = strdup(cf->variant_names[v])))
                return roost_error_set(err, ROOST_ENOMEM, "out of memory");
            f->nvariants++;
        }
    }
    for (size_t i = 0; i < nw; i++) {
        if (!(out->warnings[i] = strdup(roost_compiled_set_warning(set, i))))
            return roost_error_set(err, ROOST_ENOMEM, "out of memory");
        out->nwarnings++;
    }
    return ROOST_OK;
}

/* "probes": each checked by the prober's parser; stored as compact JSON. */
static roost_status take_probes(const cJSON *root, struct flag_doc *out, roost_error *err)
{
    const cJSON *probes = cJSON_GetObjectItemCaseSensitive(root, "probes"), *p;
    size_t n = 0;

    if (!probes)
        return ROOST_OK;
    if (!cJSON_IsObject(probes))
        return roost_error_set(err, ROOST_EINVAL, "probes: expected an object of probes by name");
    if (!(out->probes = calloc((size_t)cJSON_GetArraySize(probes) + 1, sizeof *out->probes)))
        return roost_error_set(err, ROOST_ENOMEM, "out of memory");
    cJSON_ArrayForEach(p, probes)
    {
        struct probe_spec spec;
        char path[PROBE_NAME_MAX + 16];
        roost_status rc;

        snprintf(path, sizeof path, "probes.%s", p->string);
        if ((rc = probe_spec_parse(p, p->string, path, &spec, err)) != ROOST_OK)
            return rc;
        probe_spec_free(&spec);
        out->probes[n].name = strdup(p->string);
        out->probes[n].spec_json = cJSON_PrintUnformatted(p);
        out->nprobes = ++n;
        if (!out->probes[n - 1].name || !out->probes[n - 1].spec_json)
            return roost_error_set(err, ROOST_ENOMEM, "out of memory");
    }
    return ROOST_OK;
}

/* "rollouts": each parsed strictly (gates must name this document's
 * probes) and stored in canonical form, so an unchanged rollout is
 * recognised whatever its formatting. */
static roost_status take_rollouts(const cJSON *root, struct flag_doc *out, roost_error *err)
{
    const cJSON *rollouts = cJSON_GetObjectItemCaseSensitive(root, "rollouts"), *r;
    const char **probe_names = NULL;
    struct rollout_spec *spec = NULL;
    roost_status rc = ROOST_OK;
    size_t n = 0;

    if (!rollouts)
        return ROOST_OK;
    if (!cJSON_IsObject(rollouts))
        return roost_error_set(err, ROOST_EINVAL, "rollouts: expected an object of rollouts by name");
    out->rollouts = calloc((size_t)cJSON_GetArraySize(rollouts) + 1, sizeof *out->rollouts);
    probe_names = calloc(out->nprobes + 1, sizeof *probe_names);
    spec = malloc(sizeof *spec);
    if (!out->rollouts || !probe_names || !spec) {
        rc = roost_error_set(err, ROOST_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < out->nprobes; i++)
        probe_names[i] = out->probes[i].name;
    cJSON_ArrayForEach(r, rollouts)
    {
        struct doc_rollout *d = &out->rollouts[n];

        if ((rc = rollout_spec_parse(r, r->string, probe_names, out->nprobes, spec, err)) != ROOST_OK)
            break;
        rc = rollout_spec_canonical(spec, &d->spec, &d->spec_len, err);
        d->name = strdup(spec->name);
        d->service = strdup(spec->service);
        d->baseline = strdup(spec->baseline);
        d->canary = strdup(spec->canary);
        out->nrollouts = ++n;
        rollout_spec_free(spec);
        if (rc != ROOST_OK)
            break;
        if (!d->name || !d->service || !d->baseline || !d->canary) {
            rc = roost_error_set(err, ROOST_ENOMEM, "out of memory");
            break;
        }
    }
done:
    free(probe_names);
    free(spec);
    return rc;
}

/* The flags of the document as the experiment parser sees them, straight
 * from the JSON (the compiler has not run yet: experiments may add the
 * targeting their flag needs). */
struct flag_infos {
    struct experiment_flag_info *info;
    const char **names; /* all variant names, info[i].variants point in here */
    size_t n;
};

static void flag_infos_free(struct flag_infos *fi)
{
    free(fi->info);
    free(fi->names);
}

static const cJSON *flag_object(const cJSON *root, const char *key)
{
    const cJSON *flags = cJSON_GetObjectItemCaseSensitive(root, "flags"), *f;

    if (cJSON_IsObject(flags))
        return cJSON_GetObjectItemCaseSensitive(flags, key);
    cJSON_ArrayForEach(f, flags)
    {
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(f, "key");
        if (cJSON_IsString(k) && strcmp(k->valuestring, key) == 0)
            return f;
    }
    return NULL;
}

static roost_status flag_infos_of(const cJSON *root, struct flag_infos *fi, roost_error *err)
{
    const cJSON *flags = cJSON_GetObjectItemCaseSensitive(root, "flags"), *f;
    size_t nflags = (size_t)cJSON_GetArraySize(flags), nvars = 0, used = 0;

    memset(fi, 0, sizeof *fi);
    cJSON_ArrayForEach(f, flags)
        nvars += (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(f, "variants"));
    fi->info = calloc(nflags + 1, sizeof *fi->info);
    fi->names = calloc(nvars + 1, sizeof *fi->names);
    if (!fi->info || !fi->names)
        return roost_error_set(err, ROOST_ENOMEM, "out of memory");
    cJSON_ArrayForEach(f, flags)
    {
        const cJSON *k = cJSON_IsObject(flags) ? NULL : cJSON_GetObjectItemCaseSensitive(f, "key");
        const cJSON *vars = cJSON_GetObjectItemCaseSensitive(f, "variants"), *v;
        struct experiment_flag_info *info = &fi->info[fi->n];

        info->key = cJSON_IsObject(flags) ? f->string : (cJSON_IsString(k) ? k->valuestring : "");
        info->variants = &fi->names[used];
        info->type = ROOST_VALUE_STRING;
        cJSON_ArrayForEach(v, vars)
        {
            if (info->nvariants == 0)
                info->type = cJSON_IsBool(v)     ? ROOST_VALUE_BOOLEAN
                             : cJSON_IsNumber(v) ? ROOST_VALUE_NUMBER
                             : cJSON_IsObject(v) ? ROOST_VALUE_OBJECT
                                                 : ROOST_VALUE_STRING;
            fi->names[used++] = v->string;
            info->nvariants++;
        }
        fi->n++;
    }
    return ROOST_OK;
}

/* "experiments": each parsed against its flag. A flag without targeting
 * gets the split rule that implements the experiment's plan (roostd writes
 * it, so the allocation and weights live in one place), and is served with
 * it only while the experiment runs (resources_serve_experiment_flags). A
 * flag with its own targeting keeps it, whatever the phase, and is checked
 * after compilation (check_splits). */
static roost_status take_experiments(cJSON *root, struct flag_doc *out, roost_error *err)
{
    const cJSON *exps = cJSON_GetObjectItemCaseSensitive(root, "experiments"), *e;
    struct experiment_spec *spec = NULL;
    struct flag_infos fi = {0};
    roost_status rc = ROOST_OK;

    if (!exps)
        return ROOST_OK;
    if (!cJSON_IsObject(exps))
        return roost_error_set(err, ROOST_EINVAL,
                               "experiments: expected an object of experiments by name");
    out->experiments = calloc((size_t)cJSON_GetArraySize(exps) + 1, sizeof *out->experiments);
    spec = malloc(sizeof *spec);
    if (!out->experiments || !spec) {
        free(spec);
        return roost_error_set(err, ROOST_ENOMEM, "out of memory");
    }
    if ((rc = flag_infos_of(root, &fi, err)) != ROOST_OK)
        goto done;
    cJSON_ArrayForEach(e, exps)
    {
        struct doc_experiment *d = &out->experiments[out->nexperiments];
        cJSON *flag;

        if ((rc = experiment_spec_parse(e, e->string, fi.info, fi.n, spec, err)) != ROOST_OK)
            break;
        for (size_t i = 0; i < out->nexperiments; i++) {
            if (strcmp(out->experiments[i].flag, spec->flag) == 0) {
                rc = roost_error_set(err, ROOST_EINVAL,
                                     "experiments.%s.flag: flag '%s' already runs experiment "
                                     "'%s'; one experiment per flag at a time",
                                     e->string, spec->flag, out->experiments[i].name);
                goto done;
            }
        }
        flag = (cJSON *)flag_object(root, spec->flag);
        d->auto_split = flag && !cJSON_GetObjectItemCaseSensitive(flag, "targeting");
        if ((rc = experiment_spec_canonical(spec, &d->spec, &d->spec_len, err)) != ROOST_OK)
            break;
        d->name = strdup(spec->name);
        d->flag = strdup(spec->flag);
        d->unit = strdup(spec->unit);
        out->nexperiments++;
        if (!d->name || !d->flag || !d->unit) {
            rc = roost_error_set(err, ROOST_ENOMEM, "out of memory");
            break;
        }
    }
done:
    flag_infos_free(&fi);
    free(spec);
    return rc;
}

/* Writes the split rule into the flags of the experiments that get theirs
 * from roostd. */
static roost_status inject_split_rules(cJSON *root, const struct flag_doc *doc, bool *any,
                                       roost_error *err)
{
    *any = false;
    for (size_t i = 0; i < doc->nexperiments; i++) {
        const struct doc_experiment *d = &doc->experiments[i];
        struct experiment_spec spec;
        cJSON *rule, *flag;
        roost_status rc;

        if (!d->auto_split || !(flag = (cJSON *)flag_object(root, d->flag)))
            continue;
        if ((rc = experiment_spec_parse_text(d->spec, d->spec_len, d->name, NULL, 0, &spec, err)) ||
            (rc = experiment_split_rule(&spec, &rule, err)))
            return rc;
        cJSON_AddItemToObject(flag, "targeting", rule);
        *any = true;
    }
    return ROOST_OK;
}

static roost_status copy_flag(const roost_compiled_set *set, const char *key, char **source,
                              uint8_t **program, size_t *len, roost_error *err)
{
    const roost_compiled_flag *cf = roost_compiled_set_find(set, key);

    if (!cf)
        return roost_error_set(err, ROOST_EINTERNAL, "flag %s vanished between compilations", key);
    *source = strdup(cf->source_json);
    *program = malloc(cf->image_len ? cf->image_len : 1);
    if (!*source || !*program)
        return roost_error_set(err, ROOST_ENOMEM, "out of memory");
    memcpy(*program, cf->image, cf->image_len);
    *len = cf->image_len;
    return ROOST_OK;
}

/* Keeps both forms of every auto-split experiment's flag: as compiled
 * without the rule (idle) and with it (running). */
static roost_status take_split_forms(const roost_compiled_set *idle,
                                     const roost_compiled_set *running, struct flag_doc *doc,
                                     roost_error *err)
{
    for (size_t i = 0; i < doc->nexperiments; i++) {
        struct doc_experiment *d = &doc->experiments[i];
        roost_status rc;

        if (!d->auto_split)
            continue;
        if ((rc = copy_flag(idle, d->flag, &d->idle_source, &d->idle_program, &d->idle_len,
                            err)) != ROOST_OK ||
            (rc = copy_flag(running, d->flag, &d->running_source, &d->running_program,
                            &d->running_len, err)) != ROOST_OK)
            return rc;
    }
    return ROOST_OK;
}

/* Every experiment's flag, as compiled, must split units as planned. */
static roost_status check_splits(const roost_compiled_set *set, const struct flag_doc *doc,
                                 roost_error *err)
{
    for (size_t i = 0; i < doc->nexperiments; i++) {
        const struct doc_experiment *d = &doc->experiments[i];
        const roost_compiled_flag *cf = roost_compiled_set_find(set, d->flag);
        struct experiment_split_report report;
        struct experiment_spec spec;
        roost_flag flag;
        roost_status rc;

        if (d->auto_split)
            continue; /* roostd's own rule: right by construction */
        if (!cf)
            return roost_error_set(err, ROOST_EINVAL, "experiments.%s.flag: no flag '%s'", d->name,
                                   d->flag);
        if ((rc = experiment_spec_parse_text(d->spec, d->spec_len, d->name, NULL, 0, &spec, err)) ||
            (rc = roost_flag_load(&flag, cf->image, cf->image_len, err)))
            return rc;
        /* Its messages start with the experiment's path already. */
        if ((rc = experiment_split_check(&spec, &flag, &report, err)) != ROOST_OK) {
            if (rc == ROOST_ECONFLICT && err) {
                size_t n = strlen(err->msg);
                snprintf(err->msg + n, sizeof err->msg - n,
                         " (remove the flag's targeting and roostd writes the rule that "
                         "implements the plan)");
            }
            return rc;
        }
    }
    return ROOST_OK;
}

roost_status document_parse(const uint8_t *data, size_t len, size_t max_bytes,
                            const char *source, struct flag_doc *out, roost_error *err)
{
    roost_compiled_set *set = NULL, *idle = NULL;
    cJSON *root = NULL;
    bool injected = false;
    roost_status rc;

    memset(out, 0, sizeof *out);
    if (len > max_bytes)
        return roost_error_set(err, ROOST_ELIMIT,
                               "%s: the document is %zu bytes; roostd accepts at most %zu "
                               "(--max-document-bytes): split it into several flag sets",
                               source, len, max_bytes);
    if (len == 0)
        return roost_error_set(err, ROOST_EINVAL, "%s: the document is empty", source);
    if ((rc = roost_json_parse((const char *)data, len, source, &root, err)) != ROOST_OK)
        return rc;
    if (!cJSON_IsObject(root))
        rc = roost_error_set(err, ROOST_EINVAL, "expected a JSON object with \"flags\" at the top");
    else if ((rc = check_top_level(root, err)) == ROOST_OK &&
             (rc = flag_set_of(root, &out->flag_set, err)) == ROOST_OK &&
             (rc = take_experiments(root, out, err)) == ROOST_OK &&
             (rc = roost_compile_flagset(root, &idle, err)) == ROOST_OK &&
             (rc = inject_split_rules(root, out, &injected, err)) == ROOST_OK &&
             (rc = injected ? roost_compile_flagset(root, &set, err) : ROOST_OK) == ROOST_OK &&
             (rc = take_split_forms(idle, injected ? set : idle, out, err)) == ROOST_OK &&
             (rc = check_splits(injected ? set : idle, out, err)) == ROOST_OK &&
             (rc = take_compiled(injected ? set : idle, out, err)) == ROOST_OK &&
             (rc = take_probes(root, out, err)) == ROOST_OK)
        rc = take_rollouts(root, out, err);
    roost_compiled_set_free(set);
    roost_compiled_set_free(idle);
    cJSON_Delete(root);
    if (rc != ROOST_OK) {
        roost_error_prefix(err, "%s: ", source);
        flag_doc_free(out);
    }
    return rc;
}
