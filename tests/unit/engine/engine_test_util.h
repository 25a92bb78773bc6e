/* Helpers shared by the engine's unit tests.
 *
 * rule_result() compiles a targeting rule into a one-flag document, loads
 * the image, runs the rule program directly on the interpreter and
 * describes what it produced, so a test states a rule's meaning in one
 * line:
 *
 *     EXPECT("{\"+\": [1, \"2\"]}", "{}", "n:3");
 *
 * Descriptions: "null", "true"/"false", "n:<JavaScript number text>",
 * "s:<string>", "a:<array joined>", "object", "GENERAL: <message>" for a
 * run-time error, "PARSE: <warning>" for a rule flagd rejects at
 * evaluation, "COMPILE: <message>" for a compile error.
 *
 * The helpers keep their results in static buffers (tests are
 * single-threaded) and never leak: every run frees what it made.
 */
#ifndef ROOST_TESTS_ENGINE_TEST_UTIL_H
#define ROOST_TESTS_ENGINE_TEST_UTIL_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "engine_internal.h"
#include "jsnum.h"
#include "testmain.h"

#define TEST_TIMESTAMP 1700000000

/* Compiles `doc_json`; on success returns the set, else NULL with err. */
static inline roost_compiled_set *compile_text(const char *doc_json, roost_error *err)
{
    cJSON *doc = NULL;
    roost_compiled_set *set = NULL;
    if (roost_json_parse(doc_json, strlen(doc_json), "doc", &doc, err) != ROOST_OK)
        return NULL;
    if (roost_compile_flagset(doc, &set, err) != ROOST_OK)
        set = NULL;
    cJSON_Delete(doc);
    return set;
}

/* The message of the compile error for doc_json ("" when it compiles). */
static inline const char *compile_error(const char *doc_json)
{
    static roost_error err;
    roost_compiled_set *set = compile_text(doc_json, &err);
    if (set) {
        roost_compiled_set_free(set);
        return "";
    }
    return err.msg;
}

static inline void describe(roost_vm *vm, const rv *v, char *out, size_t len)
{
    const char *s;
    uint32_t n;
    switch (v->t) {
    case RV_NULL: snprintf(out, len, "null"); break;
    case RV_BOOL: snprintf(out, len, "%s", v->f ? "true" : "false"); break;
    case RV_NUM: {
        char b[ROOST_JSNUM_MAX + 1];
        b[roost_jsnum_format(v->u.n, b)] = '\0';
        snprintf(out, len, "n:%s", b);
        break;
    }
    case RV_STR: snprintf(out, len, "s:%.*s", (int)v->len, v->u.s); break;
    case RV_ARR:
        if (roost_vm_to_string(vm, v, &s, &n))
            snprintf(out, len, "a:%.*s", (int)n, s);
        else
            snprintf(out, len, "a:?");
        break;
    default: snprintf(out, len, "object"); break;
    }
}

/* Runs `rule` (JSON text) for the context `ctx_json` (JSON text). */
static inline const char *rule_result(const char *rule, const char *ctx_json)
{
    static char out[2048];
    char *doc = malloc(strlen(rule) + 256);
    roost_error err;
    sprintf(doc, "{\"flags\":{\"t\":{\"state\":\"ENABLED\",\"variants\":{\"a\":\"a\"},"
                 "\"targeting\":%s}}}", rule);
    roost_compiled_set *set = compile_text(doc, &err);
    free(doc);
    if (!set) {
        snprintf(out, sizeof out, "COMPILE: %s", err.msg);
        return out;
    }
    const roost_compiled_flag *cf = roost_compiled_set_flag(set, 0);
    roost_flag f;
    if (roost_flag_load(&f, cf->image, cf->image_len, &err) != ROOST_OK) {
        snprintf(out, sizeof out, "LOAD: %s", err.msg);
    } else if (f.targeting == RI_TARGETING_PARSE_ERROR) {
        snprintf(out, sizeof out, "PARSE: %s", roost_compiled_set_warning(set, 0));
    } else if (f.targeting == RI_TARGETING_NONE) {
        snprintf(out, sizeof out, "NONE");
    } else {
        roost_ctx_attr attrs[64];
        char keys[2048];
        roost_ctx ctx;
        cJSON *cj = NULL;
        roost_ctx_init(&ctx, attrs, 64);
        roost_ctx_set_timestamp(&ctx, TEST_TIMESTAMP);
        if (roost_json_parse(ctx_json, strlen(ctx_json), "ctx", &cj, &err) != ROOST_OK ||
            roost_ctx_from_json(cj, &ctx, keys, sizeof keys, &err) != ROOST_OK) {
            snprintf(out, sizeof out, "CTX: %s", err.msg);
        } else {
            roost_vm vm;
            const rv *v;
            vm.flag = &f;
            vm.ctx = &ctx;
            vm.err = NULL;
            vm.scratch_used = 0;
            if (roost_vm_run(&vm, f.code, f.code_len, &v))
                describe(&vm, v, out, sizeof out);
            else
                snprintf(out, sizeof out, "GENERAL: %s", vm.err);
        }
        cJSON_Delete(cj);
    }
    roost_compiled_set_free(set);
    return out;
}

static inline void _fail_msg(const char *file, int line, const char *fmt, ...)
{
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    print_error("%s:%d: %s\n", file, line, msg);
    _fail(file, line);
}

/* Glob match where only '*' is special (expected messages contain '['). */
static inline bool star_match(const char *pat, const char *s)
{
    if (*pat == '\0')
        return *s == '\0';
    if (*pat == '*') {
        for (;; s++) {
            if (star_match(pat + 1, s))
                return true;
            if (*s == '\0')
                return false;
        }
    }
    return *s == *pat && star_match(pat + 1, s + 1);
}

/* Checks a rule's result; on mismatch fails naming the rule. `want` may
 * use '*' for any text. */
static inline void expect_rule(const char *rule, const char *ctx, const char *want, const char *file,
                               int line)
{
    const char *got = rule_result(rule, ctx);
    bool ok = star_match(want, got);
    if (!ok)
        _fail_msg(file, line, "rule %s with context %s: got [%s], expected [%s]", rule, ctx, got,
                  want);
}

#define EXPECT(rule, ctx, want) expect_rule((rule), (ctx), (want), __FILE__, __LINE__)


/* A compiled and loaded document, for tests of the public evaluation API. */
typedef struct loaded_doc {
    roost_compiled_set *set;
    roost_loaded_set ls;
} loaded_doc;

static inline bool load_doc(loaded_doc *d, const char *doc_json)
{
    roost_error err;
    d->set = compile_text(doc_json, &err);
    if (!d->set) {
        print_error("compile: %s\n", err.msg);
        return false;
    }
    if (roost_loaded_set_init(&d->ls, d->set, &err) != ROOST_OK) {
        print_error("load: %s\n", err.msg);
        roost_compiled_set_free(d->set);
        return false;
    }
    return true;
}

static inline void free_doc(loaded_doc *d)
{
    roost_loaded_set_free(&d->ls);
    roost_compiled_set_free(d->set);
}

static inline const roost_flag *find_flag(const loaded_doc *d, const char *key)
{
    return roost_flagset_find(&d->ls.index, key, strlen(key));
}

#endif
