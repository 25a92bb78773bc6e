/* Conformance runner for flagd's evaluator test kit.
 *
 *     flagd_eval FLAGS.json CASES.json
 *
 * Compiles the flag set the way roostd does (so the whole file must be
 * accepted), loads every image the way an SDK does, then runs each case of
 * the test kit's expanded scenarios: resolve `flag` as `type` with the
 * case's `context` and `fallback`, and compare the value, reason, error
 * code and flag metadata that the case expects. Prints one line per failed
 * case and ends with "N passed, M failed"; exits 1 when anything failed.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "roost/engine.h"

#define CTX_CAP 64
#define KEYBUF 4096

static const char *str_or(const cJSON *j, const char *dflt)
{
    return cJSON_IsString(j) ? j->valuestring : dflt;
}

/* Checks the flag metadata against the expected object. */
static bool metadata_matches(const roost_result *r, const cJSON *want, char *why, size_t whylen)
{
    size_t n = r->flag ? roost_flag_metadata_count(r->flag) : 0;
    if ((size_t)cJSON_GetArraySize(want) != n) {
        snprintf(why, whylen, "metadata has %zu entries, expected %d", n, cJSON_GetArraySize(want));
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        roost_metadata m;
        roost_flag_metadata_get(r->flag, i, &m);
        const cJSON *w = cJSON_GetObjectItemCaseSensitive(want, m.key);
        bool ok = w && ((m.type == ROOST_VALUE_STRING && cJSON_IsString(w) &&
                         strcmp(w->valuestring, m.string) == 0) ||
                        (m.type == ROOST_VALUE_NUMBER && cJSON_IsNumber(w) && w->valuedouble == m.number) ||
                        (m.type == ROOST_VALUE_BOOLEAN && cJSON_IsBool(w) && cJSON_IsTrue(w) == m.boolean));
        if (!ok) {
            snprintf(why, whylen, "metadata \"%s\" differs", m.key);
            return false;
        }
    }
    return true;
}

/* Compares the resolved value with a JSON expectation. */
static bool value_matches(const char *type, const roost_result *r, const cJSON *want)
{
    if (strcmp(type, "Boolean") == 0)
        return cJSON_IsBool(want) && cJSON_IsTrue(want) == r->value.boolean;
    if (strcmp(type, "String") == 0)
        return cJSON_IsString(want) && strcmp(want->valuestring, r->value.string.ptr) == 0;
    if (strcmp(type, "Integer") == 0)
        return cJSON_IsNumber(want) && (double)r->value.integer == want->valuedouble;
    if (strcmp(type, "Float") == 0)
        return cJSON_IsNumber(want) && r->value.number == want->valuedouble;
    cJSON *got = cJSON_Parse(r->value.string.ptr);
    bool same = got && cJSON_Compare(got, want, true);
    cJSON_Delete(got);
    return same;
}

static void describe_value(const char *type, const roost_result *r, char *buf, size_t len)
{
    if (strcmp(type, "Boolean") == 0)
        snprintf(buf, len, "%s", r->value.boolean ? "true" : "false");
    else if (strcmp(type, "Integer") == 0)
        snprintf(buf, len, "%lld", (long long)r->value.integer);
    else if (strcmp(type, "Float") == 0)
        snprintf(buf, len, "%.17g", r->value.number);
    else
        snprintf(buf, len, "%s", r->value.string.ptr ? r->value.string.ptr : "(null)");
}

int main(int argc, char **argv)
{
    roost_error err;
    cJSON *flags_doc = NULL, *cases_doc = NULL;
    roost_compiled_set *set = NULL;
    roost_loaded_set ls;

    if (argc != 3) {
        fprintf(stderr, "usage: %s FLAGS.json CASES.json\n", argv[0]);
        return 2;
    }
    if (roost_json_parse_file(argv[1], &flags_doc, &err) != ROOST_OK ||
        roost_json_parse_file(argv[2], &cases_doc, &err) != ROOST_OK) {
        fprintf(stderr, "flagd_eval: %s\n", err.msg);
        printf("0 passed, 1 failed\n");
        return 1;
    }
    if (roost_compile_flagset(flags_doc, &set, &err) != ROOST_OK ||
        roost_loaded_set_init(&ls, set, &err) != ROOST_OK) {
        fprintf(stderr, "flagd_eval: the flag set does not compile: %s\n", err.msg);
        printf("0 passed, 1 failed\n");
        return 1;
    }
    for (size_t i = 0; i < roost_compiled_set_warning_count(set); i++)
        fprintf(stderr, "warning: %s\n", roost_compiled_set_warning(set, i));

    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(cases_doc, "cases");
    int passed = 0, failed = 0, index = 0;
    for (const cJSON *c = cases ? cases->child : NULL; c; c = c->next, index++) {
        const char *flag = str_or(cJSON_GetObjectItemCaseSensitive(c, "flag"), "");
        const char *type = str_or(cJSON_GetObjectItemCaseSensitive(c, "type"), "");
        const cJSON *fallback = cJSON_GetObjectItemCaseSensitive(c, "fallback");
        const cJSON *context = cJSON_GetObjectItemCaseSensitive(c, "context");
        roost_ctx_attr attrs[CTX_CAP];
        char keys[KEYBUF];
        roost_ctx ctx;
        roost_result r;
        char why[512] = "";
        char *fallback_text = NULL;

        roost_ctx_init(&ctx, attrs, CTX_CAP);
        roost_ctx_set_timestamp(&ctx, 1700000000);
        if (context && roost_ctx_from_json(context, &ctx, keys, sizeof keys, &err) != ROOST_OK) {
            snprintf(why, sizeof why, "bad context: %.400s", err.msg);
            goto verdict;
        }
        const roost_flag *f = roost_flagset_find(&ls.index, flag, strlen(flag));
        if (strcmp(type, "Boolean") == 0) {
            roost_eval_bool(f, &ctx, cJSON_IsTrue(fallback), &r);
        } else if (strcmp(type, "String") == 0) {
            roost_eval_string(f, &ctx, str_or(fallback, ""), &r);
        } else if (strcmp(type, "Integer") == 0) {
            roost_eval_int(f, &ctx, (int64_t)cJSON_GetNumberValue(fallback), &r);
        } else if (strcmp(type, "Float") == 0) {
            roost_eval_float(f, &ctx, cJSON_GetNumberValue(fallback), &r);
        } else if (strcmp(type, "Object") == 0) {
            fallback_text = cJSON_PrintUnformatted(fallback);
            roost_eval_object(f, &ctx, fallback_text, &r);
        } else {
            snprintf(why, sizeof why, "unknown type \"%s\"", type);
            goto verdict;
        }

        const cJSON *want_value = cJSON_GetObjectItemCaseSensitive(c, "expect_value");
        const cJSON *want_reason = cJSON_GetObjectItemCaseSensitive(c, "expect_reason");
        const cJSON *want_error = cJSON_GetObjectItemCaseSensitive(c, "expect_error");
        const cJSON *want_meta = cJSON_GetObjectItemCaseSensitive(c, "expect_metadata");
        const char *got_error = roost_eval_error_name(r.error);
        char got[256];
        describe_value(type, &r, got, sizeof got);
        if (want_value && !value_matches(type, &r, want_value)) {
            char *w = cJSON_PrintUnformatted(want_value);
            snprintf(why, sizeof why, "value %s, expected %s", got, w ? w : "?");
            cJSON_free(w);
        } else if (want_reason && strcmp(str_or(want_reason, ""), roost_reason_name(r.reason)) != 0) {
            snprintf(why, sizeof why, "reason %s, expected %s", roost_reason_name(r.reason),
                     str_or(want_reason, "?"));
        } else if (want_error && !cJSON_IsNull(want_error) &&
                   (!got_error || strcmp(got_error, str_or(want_error, "")) != 0)) {
            snprintf(why, sizeof why, "error %s, expected %s", got_error ? got_error : "none",
                     str_or(want_error, "?"));
        } else if (want_error && cJSON_IsNull(want_error) && got_error) {
            snprintf(why, sizeof why, "error %s, expected none", got_error);
        } else if (want_error && !cJSON_IsNull(want_error) && !value_matches(type, &r, fallback)) {
            snprintf(why, sizeof why, "value %s on error, expected the fallback", got);
        } else if (want_meta && !metadata_matches(&r, want_meta, why, sizeof why)) {
            /* why filled in */
        }
    verdict:
        cJSON_free(fallback_text);
        if (why[0]) {
            char *ctxt = context ? cJSON_PrintUnformatted(context) : NULL;
            printf("FAIL #%d %s / %s: flag %s as %s, context %s: %s\n", index,
                   str_or(cJSON_GetObjectItemCaseSensitive(c, "feature"), "?"),
                   str_or(cJSON_GetObjectItemCaseSensitive(c, "scenario"), "?"), flag, type,
                   ctxt ? ctxt : "{}", why);
            cJSON_free(ctxt);
            failed++;
        } else {
            passed++;
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    roost_loaded_set_free(&ls);
    roost_compiled_set_free(set);
    cJSON_Delete(flags_doc);
    cJSON_Delete(cases_doc);
    return failed ? 1 : 0;
}
