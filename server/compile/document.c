/* Flag-set documents: walks flagd's "flags", "$evaluators" and "metadata",
 * validates each flag strictly and compiles it (rule.c, image_writer.c).
 *
 * Validation is strict inside flags because a mistake there silently
 * changes what users get; every error names the flag, the JSON path and
 * what was expected, in the words of the flag format ("defaultVariant \"x\"
 * is not one of the variants (on, off)"). The top level is the caller's: any
 * key other than the four flagd ones is ignored, since roostd keeps its own
 * resources (rollouts, experiments) in the same file and validates the top
 * level itself.
 *
 * Everything a compiled flag exposes is copied into memory owned by the
 * set, so the caller may free the cJSON document right after compiling.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "server/json_fields.h"
#include "compile_internal.h"
#include "engine_internal.h"

#define MAX_VARIANT_NAME 255

struct roost_compiled_set {
    roost_compiled_flag *flags;
    size_t count;
    char **warnings;
    size_t nwarnings;
};

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static void free_flag(roost_compiled_flag *f)
{
    free((void *)f->key);
    cJSON_free((void *)f->source_json);
    free((void *)f->image);
    if (f->variant_names)
        for (size_t i = 0; i < f->n_variants; i++)
            free((void *)f->variant_names[i]);
    free((void *)f->variant_names);
}

void roost_compiled_set_free(roost_compiled_set *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->count; i++)
        free_flag(&set->flags[i]);
    free(set->flags);
    for (size_t i = 0; i < set->nwarnings; i++)
        free(set->warnings[i]);
    free(set->warnings);
    free(set);
}

size_t roost_compiled_set_count(const roost_compiled_set *set)
{
    return set ? set->count : 0;
}

const roost_compiled_flag *roost_compiled_set_flag(const roost_compiled_set *set, size_t i)
{
    return set && i < set->count ? &set->flags[i] : NULL;
}

const roost_compiled_flag *roost_compiled_set_find(const roost_compiled_set *set, const char *key)
{
    for (size_t i = 0; set && key && i < set->count; i++)
        if (strcmp(set->flags[i].key, key) == 0)
            return &set->flags[i];
    return NULL;
}

size_t roost_compiled_set_warning_count(const roost_compiled_set *set)
{
    return set ? set->nwarnings : 0;
}

const char *roost_compiled_set_warning(const roost_compiled_set *set, size_t i)
{
    return set && i < set->nwarnings ? set->warnings[i] : NULL;
}

static roost_status add_warning(roost_compiled_set *set, const char *text, roost_error *err)
{
    char **w = realloc(set->warnings, (set->nwarnings + 1) * sizeof *w);
    if (!w)
        return roost_error_set(err, ROOST_ENOMEM, "out of memory");
    set->warnings = w;
    if (!(w[set->nwarnings] = dup_str(text)))
        return roost_error_set(err, ROOST_ENOMEM, "out of memory");
    set->nwarnings++;
    return ROOST_OK;
}

/* -------------------------------------------------------------- checks */

static bool json_name_valid_key(const char *k)
{
    return json_name_valid(k, ROOST_MAX_KEY_LEN);
}



/* Every string and object key in v is valid UTF-8; else *bad names it. */
static bool utf8_deep(const cJSON *v, const char **bad)
{
    for (; v; v = v->next) {
        if (v->string && !roost_utf8_valid(v->string, strlen(v->string))) {
            *bad = "an object key";
            return false;
        }
        if (cJSON_IsString(v) && !roost_utf8_valid(v->valuestring, strlen(v->valuestring))) {
            *bad = "a string";
            return false;
        }
        if ((cJSON_IsArray(v) || cJSON_IsObject(v)) && !utf8_deep(v->child, bad))
            return false;
    }
    return true;
}

static bool utf8_tree(const cJSON *v, const char **bad)
{
    if (!v)
        return true;
    if (cJSON_IsString(v) && !roost_utf8_valid(v->valuestring, strlen(v->valuestring))) {
        *bad = "a string";
        return false;
    }
    return (!cJSON_IsArray(v) && !cJSON_IsObject(v)) || utf8_deep(v->child, bad);
}

/* A $ref anywhere inside an evaluator: flagd resolves references in an
 * unspecified order, so nested ones are refused. */
static const cJSON *find_ref(const cJSON *v)
{
    for (; v; v = v->next) {
        if (v->string && strcmp(v->string, "$ref") == 0)
            return v;
        if (cJSON_IsArray(v) || cJSON_IsObject(v)) {
            const cJSON *r = find_ref(v->child);
            if (r)
                return r;
        }
    }
    return NULL;
}

/* ------------------------------------------------------------ metadata */

typedef struct meta {
    const char *key;
    const cJSON *value;
} meta;

static int meta_cmp(const void *a, const void *b)
{
    return strcmp(((const meta *)a)->key, ((const meta *)b)->key);
}

static roost_status check_metadata(const cJSON *m, const char *path, roost_error *err)
{
    const char *bad;
    if (!cJSON_IsObject(m))
        return roost_error_set(err, ROOST_EINVAL,
                               "%s: expected an object of string, number or boolean values, got %s",
                               path, json_type_name(m));
    for (const cJSON *e = m->child; e; e = e->next) {
        if (!cJSON_IsString(e) && !cJSON_IsNumber(e) && !cJSON_IsBool(e))
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s.%s: metadata values must be strings, numbers or booleans, "
                                   "got %s",
                                   path, e->string, json_type_name(e));
        for (const cJSON *f = m->child; f != e; f = f->next)
            if (strcmp(f->string, e->string) == 0)
                return roost_error_set(err, ROOST_EINVAL, "%s: the key \"%s\" appears twice",
                                       path, e->string);
    }
    if (!utf8_deep(m->child, &bad))
        return roost_error_set(err, ROOST_EINVAL, "%s: invalid UTF-8 in %s", path, bad);
    return ROOST_OK;
}

/* ---------------------------------------------------------------- flags */

typedef struct doc {
    const cJSON *evaluators;
    const cJSON *metadata;
} doc;

static const char *const FLAG_FIELDS[] = {"state", "variants", "defaultVariant", "targeting",
                                          "metadata"};

static roost_status compile_flag(const doc *d, const char *key, const cJSON *def, bool array_form,
                                 roost_compiled_flag *out, roost_compiled_set *set,
                                 roost_error *err)
{
    char path[ROOST_MAX_KEY_LEN + 64];
    char tpath[sizeof path + 16];
    const char *bad;
    roost_status st = ROOST_OK;

    snprintf(path, sizeof path, "flags.%s", key);
    if (!cJSON_IsObject(def))
        return roost_error_set(err, ROOST_EINVAL, "%s: expected a flag definition (an object), got %s",
                               path, json_type_name(def));
    for (const cJSON *f = def->child; f; f = f->next) {
        bool known = array_form && strcmp(f->string, "key") == 0;
        for (size_t i = 0; !known && i < sizeof FLAG_FIELDS / sizeof FLAG_FIELDS[0]; i++)
            known = strcmp(f->string, FLAG_FIELDS[i]) == 0;
        if (!known)
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s: unknown field \"%s\" (a flag has state, variants, "
                                   "defaultVariant, targeting and metadata)",
                                   path, f->string);
        for (const cJSON *g = def->child; g != f; g = g->next)
            if (strcmp(g->string, f->string) == 0)
                return roost_error_set(err, ROOST_EINVAL, "%s: the field \"%s\" appears twice",
                                       path, f->string);
    }

    /* state */
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(def, "state");
    if (!state)
        return roost_error_set(err, ROOST_EINVAL, "%s: missing \"state\" (\"ENABLED\" or \"DISABLED\")",
                               path);
    if (!cJSON_IsString(state) ||
        (strcmp(state->valuestring, "ENABLED") != 0 && strcmp(state->valuestring, "DISABLED") != 0))
        return roost_error_set(err, ROOST_EINVAL, "%s.state: expected \"ENABLED\" or \"DISABLED\"",
                               path);

    /* variants */
    const cJSON *variants = cJSON_GetObjectItemCaseSensitive(def, "variants");
    if (!variants)
        return roost_error_set(err, ROOST_EINVAL, "%s: missing \"variants\"", path);
    if (!cJSON_IsObject(variants) || !variants->child)
        return roost_error_set(err, ROOST_EINVAL,
                               "%s.variants: expected an object with at least one variant, got %s",
                               path, cJSON_IsObject(variants) ? "an empty object" : json_type_name(variants));
    int nv = cJSON_GetArraySize(variants);
    if (nv > ROOST_MAX_VARIANTS)
        return roost_error_set(err, ROOST_ELIMIT, "%s.variants: %d variants; the limit is %d",
                               path, nv, ROOST_MAX_VARIANTS);
    const cJSON *first = variants->child;
    roost_value_type type;
    if (cJSON_IsBool(first))
        type = ROOST_VALUE_BOOLEAN;
    else if (cJSON_IsString(first))
        type = ROOST_VALUE_STRING;
    else if (cJSON_IsNumber(first))
        type = ROOST_VALUE_NUMBER;
    else if (cJSON_IsObject(first))
        type = ROOST_VALUE_OBJECT;
    else
        return roost_error_set(err, ROOST_EINVAL,
                               "%s.variants.%s: a variant value must be a boolean, string, number "
                               "or object, got %s",
                               path, first->string, json_type_name(first));
    for (const cJSON *v = variants->child; v; v = v->next) {
        size_t nl = strlen(v->string);
        if (nl == 0 || nl > MAX_VARIANT_NAME || !roost_utf8_valid(v->string, nl))
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s.variants: variant names must be 1-%d bytes of UTF-8 (\"%s\")",
                                   path, MAX_VARIANT_NAME, v->string);
        for (const cJSON *w = variants->child; w != v; w = w->next)
            if (strcmp(w->string, v->string) == 0)
                return roost_error_set(err, ROOST_EINVAL, "%s.variants: \"%s\" appears twice", path,
                                       v->string);
        bool same = (type == ROOST_VALUE_BOOLEAN && cJSON_IsBool(v)) ||
                    (type == ROOST_VALUE_STRING && cJSON_IsString(v)) ||
                    (type == ROOST_VALUE_NUMBER && cJSON_IsNumber(v)) ||
                    (type == ROOST_VALUE_OBJECT && cJSON_IsObject(v));
        if (!same) {
            if (cJSON_IsNull(v) || cJSON_IsArray(v))
                return roost_error_set(err, ROOST_EINVAL,
                                       "%s.variants.%s: a variant value must be a boolean, string, "
                                       "number or object, got %s",
                                       path, v->string, json_type_name(v));
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s.variants: mixed types: '%s' is %s but '%s' is %s; all "
                                   "variants of a flag must have one type",
                                   path, first->string, json_type_name(first), v->string,
                                   json_type_name(v));
        }
        if (!utf8_tree(v, &bad))
            return roost_error_set(err, ROOST_EINVAL, "%s.variants.%s: invalid UTF-8 in %s", path,
                                   v->string, bad);
    }

    /* defaultVariant */
    const cJSON *dv = cJSON_GetObjectItemCaseSensitive(def, "defaultVariant");
    int default_index = -1;
    if (dv && !cJSON_IsNull(dv)) {
        if (!cJSON_IsString(dv))
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s.defaultVariant: expected a variant name or null, got %s",
                                   path, json_type_name(dv));
        int i = 0;
        for (const cJSON *v = variants->child; v; v = v->next, i++)
            if (strcmp(v->string, dv->valuestring) == 0)
                default_index = i;
        if (default_index < 0) {
            char names[256];
            size_t o = 0;
            names[0] = '\0';
            for (const cJSON *v = variants->child; v && o < sizeof names - 8; v = v->next) {
                int n = snprintf(names + o, sizeof names - o, "%s%s", o ? ", " : "", v->string);
                o = n > 0 && (size_t)n < sizeof names - o ? o + (size_t)n : sizeof names - 1;
            }
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s.defaultVariant: \"%s\" is not one of the variants (%s); use "
                                   "null for no default",
                                   path, dv->valuestring, names);
        }
    }

    /* metadata: the flag set's, overridden by the flag's own */
    const cJSON *fmeta = cJSON_GetObjectItemCaseSensitive(def, "metadata");
    snprintf(tpath, sizeof tpath, "%s.metadata", path);
    if (fmeta && (st = check_metadata(fmeta, tpath, err)) != ROOST_OK)
        return st;
    size_t nmeta_max = (size_t)cJSON_GetArraySize(d->metadata) + (size_t)cJSON_GetArraySize(fmeta);
    meta *m = calloc(nmeta_max + 1, sizeof *m);
    if (!m)
        return roost_error_set(err, ROOST_ENOMEM, "out of memory");
    size_t nmeta = 0;
    for (const cJSON *e = fmeta ? fmeta->child : NULL; e; e = e->next)
        m[nmeta++] = (meta){e->string, e};
    for (const cJSON *e = d->metadata ? d->metadata->child : NULL; e; e = e->next) {
        bool overridden = false;
        for (size_t i = 0; i < nmeta && !overridden; i++)
            overridden = strcmp(m[i].key, e->string) == 0;
        if (!overridden)
            m[nmeta++] = (meta){e->string, e};
    }
    if (nmeta > ROOST_MAX_METADATA) {
        free(m);
        return roost_error_set(err, ROOST_ELIMIT, "%s.metadata: %zu entries after merging with the "
                               "flag set's; the limit is %d", path, nmeta, ROOST_MAX_METADATA);
    }
    qsort(m, nmeta, sizeof *m, meta_cmp);

    /* targeting */
    const cJSON *targeting = cJSON_GetObjectItemCaseSensitive(def, "targeting");
    snprintf(tpath, sizeof tpath, "%s.targeting", path);
    if (targeting && !utf8_tree(targeting, &bad)) {
        free(m);
        return roost_error_set(err, ROOST_EINVAL, "%s: invalid UTF-8 in %s", tpath, bad);
    }
    const char **names = calloc((size_t)nv, sizeof *names);
    const char **texts = calloc((size_t)nv, sizeof *texts);
    char **owned_texts = calloc((size_t)nv, sizeof *owned_texts);
    double *nums = calloc((size_t)nv, sizeof *nums);
    const char **mkeys = calloc(nmeta + 1, sizeof *mkeys);
    const char **mtext = calloc(nmeta + 1, sizeof *mtext);
    uint8_t *mtypes = calloc(nmeta + 1, 1);
    double *mnums = calloc(nmeta + 1, sizeof *mnums);
    rule_out rule;
    memset(&rule, 0, sizeof rule);
    cJSON *norm = NULL;
    if (!names || !texts || !owned_texts || !nums || !mkeys || !mtext || !mtypes || !mnums) {
        st = roost_error_set(err, ROOST_ENOMEM, "out of memory");
        goto done;
    }
    int i = 0;
    for (const cJSON *v = variants->child; v; v = v->next, i++) {
        names[i] = v->string;
        if (type == ROOST_VALUE_STRING) {
            texts[i] = v->valuestring;
        } else if (type == ROOST_VALUE_OBJECT) {
            if (!(owned_texts[i] = cJSON_PrintUnformatted(v))) {
                st = roost_error_set(err, ROOST_ENOMEM, "out of memory");
                goto done;
            }
            texts[i] = owned_texts[i];
        } else if (type == ROOST_VALUE_NUMBER) {
            nums[i] = v->valuedouble;
        } else {
            nums[i] = cJSON_IsTrue(v) ? 1.0 : 0.0;
        }
    }
    for (size_t k = 0; k < nmeta; k++) {
        const cJSON *v = m[k].value;
        mkeys[k] = m[k].key;
        if (cJSON_IsString(v)) {
            mtypes[k] = ROOST_VALUE_STRING;
            mtext[k] = v->valuestring;
        } else if (cJSON_IsNumber(v)) {
            mtypes[k] = ROOST_VALUE_NUMBER;
            mnums[k] = v->valuedouble;
        } else {
            mtypes[k] = ROOST_VALUE_BOOLEAN;
            mnums[k] = cJSON_IsTrue(v) ? 1.0 : 0.0;
        }
    }

    rule_env env = {key, names, (uint32_t)nv, d->evaluators, tpath};
    if ((st = roost_rule_compile(targeting, &env, &rule, err)) != ROOST_OK)
        goto done;
    if (rule.targeting == RI_TARGETING_PARSE_ERROR && (st = add_warning(set, rule.warning, err)) != ROOST_OK)
        goto done;

    image_flag img = {
        .key = key,
        .state = strcmp(state->valuestring, "ENABLED") == 0 ? RI_STATE_ENABLED : RI_STATE_DISABLED,
        .type = (uint8_t)type,
        .n_variants = (uint32_t)nv,
        .variant_names = names,
        .variant_text = texts,
        .variant_num = nums,
        .default_variant = default_index < 0 ? RI_NO_VARIANT : (uint32_t)default_index,
        .n_meta = (uint32_t)nmeta,
        .meta_keys = mkeys,
        .meta_types = mtypes,
        .meta_text = mtext,
        .meta_num = mnums,
        .rule = &rule,
    };
    uint8_t *image;
    size_t image_len;
    if ((st = roost_image_write(&img, &image, &image_len, err)) != ROOST_OK)
        goto done;
    out->image = image;
    out->image_len = image_len;

    /* The normalized definition: fixed field order, $refs inlined, merged
     * metadata. */
    norm = cJSON_CreateObject();
    cJSON *nmeta_obj = cJSON_CreateObject();
    bool ok = norm && nmeta_obj && cJSON_AddStringToObject(norm, "state", state->valuestring) &&
              cJSON_AddItemToObject(norm, "variants", cJSON_Duplicate(variants, true));
    if (ok && default_index >= 0)
        ok = cJSON_AddStringToObject(norm, "defaultVariant", dv->valuestring) != NULL;
    if (ok && rule.expanded)
        ok = cJSON_AddItemToObject(norm, "targeting", cJSON_Duplicate(rule.expanded, true));
    for (size_t k = 0; ok && k < nmeta; k++)
        ok = cJSON_AddItemToObject(nmeta_obj, m[k].key, cJSON_Duplicate(m[k].value, false));
    if (ok && nmeta > 0) {
        ok = cJSON_AddItemToObject(norm, "metadata", nmeta_obj);
        nmeta_obj = NULL;
    }
    cJSON_Delete(nmeta_obj);
    out->source_json = ok ? cJSON_PrintUnformatted(norm) : NULL;
    out->key = dup_str(key);
    out->n_variants = (size_t)nv;
    const char **vn = calloc((size_t)nv, sizeof *vn);
    out->variant_names = vn;
    for (int k = 0; vn && k < nv; k++)
        if (!(vn[k] = dup_str(names[k])))
            ok = false;
    if (!ok || !out->source_json || !out->key || !vn) {
        st = roost_error_set(err, ROOST_ENOMEM, "out of memory");
        goto done;
    }
    out->default_variant = default_index >= 0 ? out->variant_names[default_index] : NULL;
    out->enabled = img.state == RI_STATE_ENABLED;
    out->has_targeting = rule.targeting != RI_TARGETING_NONE;
    out->type = type;

done:
    cJSON_Delete(norm);
    roost_rule_out_free(&rule);
    for (int k = 0; owned_texts && k < nv; k++)
        cJSON_free(owned_texts[k]);
    free(owned_texts);
    free(names);
    free(texts);
    free(nums);
    free(mkeys);
    free(mtext);
    free(mtypes);
    free(mnums);
    free(m);
    return st;
}

roost_status roost_compile_flagset(const cJSON *root, roost_compiled_set **out, roost_error *err)
{
    roost_status st;
    doc d = {NULL, NULL};

    if (!root || !out)
        return roost_error_set(err, ROOST_EINVAL, "roost_compile_flagset: NULL argument");
    if (!cJSON_IsObject(root))
        return roost_error_set(err, ROOST_EINVAL,
                               "the flag document must be a JSON object with \"flags\", got %s",
                               json_type_name(root));
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(root, "$schema");
    if (schema && !cJSON_IsString(schema))
        return roost_error_set(err, ROOST_EINVAL, "$schema: expected a string (a URL), got %s",
                               json_type_name(schema));
    d.evaluators = cJSON_GetObjectItemCaseSensitive(root, "$evaluators");
    if (d.evaluators) {
        const char *bad;
        if (!cJSON_IsObject(d.evaluators))
            return roost_error_set(err, ROOST_EINVAL,
                                   "$evaluators: expected an object of named JsonLogic rules, got %s",
                                   json_type_name(d.evaluators));
        for (const cJSON *e = d.evaluators->child; e; e = e->next) {
            const cJSON *ref = cJSON_IsObject(e) || cJSON_IsArray(e) ? find_ref(e->child) : NULL;
            if (ref)
                return roost_error_set(err, ROOST_EINVAL,
                                       "$evaluators.%s: an evaluator cannot use $ref (found a $ref "
                                       "to %s%s%s); inline the other evaluator",
                                       e->string, cJSON_IsString(ref) ? "\"" : "",
                                       cJSON_IsString(ref) ? ref->valuestring : "a non-string",
                                       cJSON_IsString(ref) ? "\"" : "");
            if (!utf8_tree(e, &bad) || !roost_utf8_valid(e->string, strlen(e->string)))
                return roost_error_set(err, ROOST_EINVAL, "$evaluators.%s: invalid UTF-8", e->string);
        }
    }
    d.metadata = cJSON_GetObjectItemCaseSensitive(root, "metadata");
    if (d.metadata && (st = check_metadata(d.metadata, "metadata", err)) != ROOST_OK)
        return st;

    roost_compiled_set *set = calloc(1, sizeof *set);
    if (!set)
        return roost_error_set(err, ROOST_ENOMEM, "out of memory");
    const cJSON *flags = cJSON_GetObjectItemCaseSensitive(root, "flags");
    if (flags && !cJSON_IsObject(flags) && !cJSON_IsArray(flags)) {
        roost_compiled_set_free(set);
        return roost_error_set(err, ROOST_EINVAL,
                               "flags: expected an object of flags keyed by flag key (or an array "
                               "of flags with \"key\"), got %s",
                               json_type_name(flags));
    }
    int n = flags ? cJSON_GetArraySize(flags) : 0;
    set->flags = calloc((size_t)n + 1, sizeof *set->flags);
    if (!set->flags) {
        roost_compiled_set_free(set);
        return roost_error_set(err, ROOST_ENOMEM, "out of memory");
    }
    int i = 0;
    for (const cJSON *f = flags ? flags->child : NULL; f; f = f->next, i++) {
        bool array_form = cJSON_IsArray(flags);
        const char *key;
        if (array_form) {
            const cJSON *k = cJSON_IsObject(f) ? cJSON_GetObjectItemCaseSensitive(f, "key") : NULL;
            if (!k || !cJSON_IsString(k)) {
                roost_compiled_set_free(set);
                return roost_error_set(err, ROOST_EINVAL,
                                       "flags[%d]: a flag in a flags array needs a string \"key\"", i);
            }
            key = k->valuestring;
        } else {
            key = f->string;
        }
        if (!json_name_valid_key(key)) {
            roost_compiled_set_free(set);
            return roost_error_set(err, ROOST_EINVAL,
                                   "flags[\"%.200s\"]: a flag key must be 1-%d characters of "
                                   "A-Z a-z 0-9 . _ -",
                                   key, ROOST_MAX_KEY_LEN);
        }
        for (size_t j = 0; j < set->count; j++) {
            if (strcmp(set->flags[j].key, key) == 0) {
                roost_compiled_set_free(set);
                return roost_error_set(err, ROOST_EINVAL, "flags.%s: the flag key appears twice", key);
            }
        }
        st = compile_flag(&d, key, f, array_form, &set->flags[set->count], set, err);
        if (st != ROOST_OK) {
            free_flag(&set->flags[set->count]);
            roost_compiled_set_free(set);
            return st;
        }
        set->count++;
    }
    *out = set;
    return ROOST_OK;
}
