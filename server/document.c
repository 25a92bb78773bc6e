/* Configuration documents. See document.h.
 *
 * Checks here are about the document as a whole — its size, JSON syntax
 * (server/compile's parser reports line and column), the known top-level
 * keys and the flag set it names. Each part has its own strict parser,
 * which names the JSON path in its messages: the flag compiler for "flags"
 * and "$evaluators", server/rollout for "rollouts" and "probes". */
#include "document.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile/compile.h"
#include "rollout/probes.h"
#include "rollout/spec.h"

static const char *const top_level_keys[] = {"$schema", "flags",    "$evaluators",
                                             "metadata", "rollouts", "probes"};

/* Edit distance, for "did you mean" on misspelled keys. */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), prev[64], cur[64];

    if (la >= 63 || lb >= 63)
        return 99;
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, (lb + 1) * sizeof *prev);
    }
    return prev[lb];
}

static roost_status check_top_level(const cJSON *root, roost_error *err)
{
    const size_t nkeys = sizeof top_level_keys / sizeof top_level_keys[0];

    for (const cJSON *item = root->child; item; item = item->next) {
        size_t best = 0, best_d = 99;

        for (size_t i = 0; i < nkeys; i++) {
            size_t d = distance(item->string, top_level_keys[i]);
            if (d < best_d) {
                best_d = d;
                best = i;
            }
        }
        if (best_d == 0)
            continue;
        if (best_d <= 2)
            return roost_error_set(err, ROOST_EINVAL, "unknown top-level key '%s' (did you mean '%s'?)",
                                   item->string, top_level_keys[best]);
        return roost_error_set(err, ROOST_EINVAL,
                               "unknown top-level key '%s'; expected flags, $evaluators, metadata, "
                               "rollouts, probes or $schema",
                               item->string);
    }
    return ROOST_OK;
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

roost_status document_parse(const uint8_t *data, size_t len, size_t max_bytes,
                            const char *source, struct flag_doc *out, roost_error *err)
{
    roost_compiled_set *set = NULL;
    cJSON *root = NULL;
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
             (rc = roost_compile_flagset(root, &set, err)) == ROOST_OK &&
             (rc = take_compiled(set, out, err)) == ROOST_OK &&
             (rc = take_probes(root, out, err)) == ROOST_OK)
        rc = take_rollouts(root, out, err);
    roost_compiled_set_free(set);
    cJSON_Delete(root);
    if (rc != ROOST_OK) {
        roost_error_prefix(err, "%s: ", source);
        flag_doc_free(out);
    }
    return rc;
}
