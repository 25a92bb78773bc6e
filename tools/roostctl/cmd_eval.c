/* roostctl eval: "what would this flag give this user?", answered offline.
 *
 *   roostctl eval --flags FILE KEY [--type boolean|string|integer|float|object]
 *                 [--context JSON|@FILE] [--default VALUE] [--timestamp SECONDS]
 *
 * Compiles FILE exactly as roostd does when it is applied (same compiler,
 * same errors and warnings), loads the flag's image exactly as an SDK does,
 * evaluates it, and prints one JSON object:
 *
 *   {"value": ..., "variant": ..., "reason": ..., "error_code": ...}
 *
 * Because the answer must be trustworthy, nothing here re-implements the
 * engine: the only logic of its own is argument parsing and explaining
 * problems in words (JSON errors with a line and column, unknown flags with
 * the closest keys, compiler warnings for the flag asked about).
 *
 * Exit status: 0 when the flag was evaluated (even when the result carries
 * a flagd error code, which is the answer to the question), 1 when the
 * question cannot be answered (unreadable or invalid FILE, unknown flag),
 * 2 for usage errors (bad option, bad --context or --default).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compile.h"
#include "roost/engine.h"
#include "roostctl.h"

static const char eval_usage[] =
    "usage: roostctl eval --flags FILE KEY [options]\n"
    "\n"
    "Evaluates flag KEY from the flag file FILE locally, as an SDK would, and\n"
    "prints {\"value\", \"variant\", \"reason\", \"error_code\"} as one JSON object.\n"
    "\n"
    "options:\n"
    "  --flags FILE         flagd flag file to compile (required)\n"
    "  --type TYPE          boolean, string, integer, float or object\n"
    "                       (default: the flag's own type; numbers as float)\n"
    "  --context JSON       evaluation context, e.g. '{\"targetingKey\":\"u1\",\"email\":\"a@b.c\"}';\n"
    "                       @FILE reads it from a file\n"
    "  --default VALUE      the caller's default, returned on errors (default: false,\n"
    "                       \"\", 0 or {} by type)\n"
    "  --timestamp SECONDS  $flagd.timestamp (default: now)\n"
    "\n"
    "Exit status: 0 evaluated, 1 file or flag problem, 2 usage error.\n";

enum eval_type { T_DEFAULT, T_BOOLEAN, T_STRING, T_INTEGER, T_FLOAT, T_OBJECT };

#define CTX_CAP 256
#define KEYBUF (64 * 1024)

typedef struct eval_args {
    const char *flags;
    const char *key;
    const char *context;
    const char *dflt;
    enum eval_type type;
    bool have_ts;
    int64_t timestamp;
} eval_args;

static int parse_type(const char *s, enum eval_type *t)
{
    static const struct {
        const char *name;
        enum eval_type t;
    } names[] = {{"boolean", T_BOOLEAN}, {"bool", T_BOOLEAN}, {"string", T_STRING},
                 {"integer", T_INTEGER}, {"int", T_INTEGER},  {"float", T_FLOAT},
                 {"number", T_FLOAT},    {"object", T_OBJECT}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(s, names[i].name) == 0) {
            *t = names[i].t;
            return ROOSTCTL_EXIT_OK;
        }
    }
    return roostctl_fail(ROOSTCTL_EXIT_USAGE,
                         "eval: --type '%s' is not one of boolean, string, integer, float, object", s);
}

static int parse_args(int argc, char **argv, eval_args *a)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char **slot = NULL;
        if (strcmp(arg, "--flags") == 0 || strcmp(arg, "-f") == 0)
            slot = &a->flags;
        else if (strcmp(arg, "--context") == 0 || strcmp(arg, "-c") == 0)
            slot = &a->context;
        else if (strcmp(arg, "--default") == 0 || strcmp(arg, "-d") == 0)
            slot = &a->dflt;
        if (slot || strcmp(arg, "--type") == 0 || strcmp(arg, "-t") == 0 ||
            strcmp(arg, "--timestamp") == 0) {
            if (i + 1 >= argc)
                return roostctl_fail(ROOSTCTL_EXIT_USAGE, "eval: %s needs a value", arg);
            const char *v = argv[++i];
            if (slot) {
                *slot = v;
            } else if (strcmp(arg, "--timestamp") == 0) {
                char *end;
                errno = 0;
                long long ts = strtoll(v, &end, 10);
                if (errno || *end || end == v)
                    return roostctl_fail(ROOSTCTL_EXIT_USAGE,
                                         "eval: --timestamp '%s' is not a whole number of seconds", v);
                a->timestamp = ts;
                a->have_ts = true;
            } else {
                int rc = parse_type(v, &a->type);
                if (rc != ROOSTCTL_EXIT_OK)
                    return rc;
            }
            continue;
        }
        if (arg[0] == '-' && arg[1] != '\0')
            return roostctl_fail(ROOSTCTL_EXIT_USAGE,
                                 "eval: unknown option '%s' (roostctl eval --help)", arg);
        if (a->key)
            return roostctl_fail(ROOSTCTL_EXIT_USAGE,
                                 "eval: one flag key at a time ('%s' and '%s')", a->key, arg);
        a->key = arg;
    }
    if (!a->flags)
        return roostctl_fail(ROOSTCTL_EXIT_USAGE,
                             "eval: --flags FILE is required (roostctl eval --help)");
    if (!a->key)
        return roostctl_fail(ROOSTCTL_EXIT_USAGE, "eval: which flag? give its KEY after the options");
    return -1;
}

/* Edit distance, for suggesting keys close to a mistyped one. */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 256 || lb > 256)
        return SIZE_MAX;
    size_t row[257];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            if (up + 1 < best)
                best = up + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static int not_found(const roost_compiled_set *set, const char *key, const char *file)
{
    const char *best[3] = {NULL, NULL, NULL};
    size_t bd[3] = {SIZE_MAX, SIZE_MAX, SIZE_MAX};
    size_t limit = strlen(key) / 3 > 2 ? strlen(key) / 3 : 2;
    for (size_t i = 0; i < roost_compiled_set_count(set); i++) {
        const char *k = roost_compiled_set_flag(set, i)->key;
        size_t d = distance(key, k);
        if (strstr(k, key) || strstr(key, k))
            d = d < limit ? d : limit;
        if (d > limit)
            continue;
        for (int s = 0; s < 3; s++) {
            if (d < bd[s]) {
                for (int t = 2; t > s; t--) {
                    best[t] = best[t - 1];
                    bd[t] = bd[t - 1];
                }
                best[s] = k;
                bd[s] = d;
                break;
            }
        }
    }
    if (!best[0])
        return roostctl_fail(ROOSTCTL_EXIT_FAIL, "eval: no flag '%s' in %s (it has %zu flags)", key,
                             file, roost_compiled_set_count(set));
    return roostctl_fail(ROOSTCTL_EXIT_FAIL, "eval: no flag '%s' in %s; did you mean '%s'%s%s%s%s%s?",
                         key, file, best[0], best[1] ? ", '" : "", best[1] ? best[1] : "",
                         best[1] ? "'" : "", best[2] ? ", '" : "", best[2] ? best[2] : "");
}

/* Reads --context: inline JSON, or @FILE. */
static int load_context(const char *text, cJSON **out)
{
    roost_error err;
    roost_status st;
    if (text[0] == '@')
        st = roost_json_parse_file(text + 1, out, &err);
    else
        st = roost_json_parse(text, strlen(text), "--context", out, &err);
    if (st != ROOST_OK)
        return roostctl_fail(ROOSTCTL_EXIT_USAGE, "eval: %s", err.msg);
    if (!cJSON_IsObject(*out))
        return roostctl_fail(ROOSTCTL_EXIT_USAGE,
                             "eval: --context must be a JSON object, e.g. '{\"targetingKey\":\"u1\"}'");
    return ROOSTCTL_EXIT_OK;
}

static enum eval_type flag_type(const roost_flag *f)
{
    switch (f ? roost_flag_type(f) : ROOST_VALUE_STRING) {
    case ROOST_VALUE_BOOLEAN: return T_BOOLEAN;
    case ROOST_VALUE_NUMBER: return T_FLOAT;
    case ROOST_VALUE_OBJECT: return T_OBJECT;
    default: return T_STRING;
    }
}

static const char *type_name(enum eval_type t)
{
    static const char *const n[] = {"", "boolean", "string", "integer", "float", "object"};
    return n[t];
}

/* Evaluates and builds the result JSON; the default is checked against the
 * type first. */
static int evaluate(const roost_flag *f, const roost_ctx *ctx, const eval_args *a, enum eval_type t,
                    cJSON *out, roost_result *r)
{
    const char *d = a->dflt;
    cJSON *value;
    switch (t) {
    case T_BOOLEAN: {
        bool dv = false;
        if (d && strcmp(d, "true") == 0)
            dv = true;
        else if (d && strcmp(d, "false") != 0)
            return roostctl_fail(ROOSTCTL_EXIT_USAGE, "eval: --default '%s' is not true or false", d);
        value = cJSON_CreateBool(roost_eval_bool(f, ctx, dv, r));
        break;
    }
    case T_STRING:
        value = cJSON_CreateString(roost_eval_string(f, ctx, d ? d : "", r));
        break;
    case T_INTEGER: {
        int64_t dv = 0;
        if (d) {
            char *end;
            errno = 0;
            dv = strtoll(d, &end, 10);
            if (errno || *end || end == d)
                return roostctl_fail(ROOSTCTL_EXIT_USAGE, "eval: --default '%s' is not an integer", d);
        }
        char num[32];
        snprintf(num, sizeof num, "%" PRId64, roost_eval_int(f, ctx, dv, r));
        value = cJSON_CreateRaw(num); /* exact beyond 2^53 */
        break;
    }
    case T_FLOAT: {
        double dv = 0;
        if (d) {
            char *end;
            errno = 0;
            dv = strtod(d, &end);
            if (errno || *end || end == d)
                return roostctl_fail(ROOSTCTL_EXIT_USAGE, "eval: --default '%s' is not a number", d);
        }
        value = cJSON_CreateNumber(roost_eval_float(f, ctx, dv, r));
        break;
    }
    default: {
        const char *dv = d ? d : "{}";
        cJSON *check = NULL;
        roost_error err;
        if (roost_json_parse(dv, strlen(dv), "--default", &check, &err) != ROOST_OK) {
            return roostctl_fail(ROOSTCTL_EXIT_USAGE, "eval: %s", err.msg);
        }
        bool is_object = cJSON_IsObject(check);
        cJSON_Delete(check);
        if (!is_object)
            return roostctl_fail(ROOSTCTL_EXIT_USAGE,
                                 "eval: --default for an object flag must be a JSON object");
        value = cJSON_CreateRaw(roost_eval_object(f, ctx, dv, r));
        break;
    }
    }
    const char *err_name = roost_eval_error_name(r->error);
    cJSON_AddItemToObject(out, "value", value);
    cJSON_AddItemToObject(out, "variant",
                          r->variant ? cJSON_CreateString(r->variant) : cJSON_CreateNull());
    cJSON_AddStringToObject(out, "reason", roost_reason_name(r->reason));
    cJSON_AddItemToObject(out, "error_code", err_name ? cJSON_CreateString(err_name) : cJSON_CreateNull());
    return ROOSTCTL_EXIT_OK;
}

int roostctl_cmd_eval(const struct roostctl *g, int argc, char **argv)
{
    eval_args a;
    roost_error err;
    cJSON *doc = NULL, *ctx_json = NULL, *out = NULL;
    roost_compiled_set *set = NULL;
    roost_loaded_set ls = {0};
    roost_ctx_attr *attrs = NULL;
    char *keys = NULL;
    int rc;

    (void)g; /* offline: no server, no token; output is JSON either way */
    if (roostctl_wants_help(argc, argv)) {
        fputs(eval_usage, stdout);
        return ROOSTCTL_EXIT_OK;
    }
    memset(&a, 0, sizeof a);
    if ((rc = parse_args(argc, argv, &a)) >= 0)
        return rc;
    rc = ROOSTCTL_EXIT_OK;
    if (a.context && (rc = load_context(a.context, &ctx_json)) != ROOSTCTL_EXIT_OK)
        goto done;

    if (roost_json_parse_file(a.flags, &doc, &err) != ROOST_OK) {
        rc = roostctl_fail(ROOSTCTL_EXIT_FAIL, "eval: --flags %s", err.msg);
        goto done;
    }
    if (roost_compile_flagset(doc, &set, &err) != ROOST_OK) {
        rc = roostctl_fail(ROOSTCTL_EXIT_FAIL, "eval: %s does not compile: %s", a.flags, err.msg);
        goto done;
    }
    if (roost_loaded_set_init(&ls, set, &err) != ROOST_OK) {
        rc = roostctl_fail(ROOSTCTL_EXIT_FAIL, "eval: %s: %s", a.flags, err.msg);
        goto done;
    }
    char prefix[ROOST_MAX_KEY_LEN + 16];
    snprintf(prefix, sizeof prefix, "flags.%s.", a.key);
    for (size_t i = 0; i < roost_compiled_set_warning_count(set); i++) {
        const char *w = roost_compiled_set_warning(set, i);
        if (strncmp(w, prefix, strlen(prefix)) == 0)
            fprintf(stderr, "roostctl: warning: %s\n", w);
    }

    attrs = calloc(CTX_CAP, sizeof *attrs);
    keys = malloc(KEYBUF);
    if (!attrs || !keys) {
        rc = roostctl_fail(ROOSTCTL_EXIT_FAIL, "eval: out of memory");
        goto done;
    }
    roost_ctx ctx;
    roost_ctx_init(&ctx, attrs, CTX_CAP);
    roost_ctx_set_timestamp(&ctx, a.have_ts ? a.timestamp : (int64_t)time(NULL));
    if (ctx_json && roost_ctx_from_json(ctx_json, &ctx, keys, KEYBUF, &err) != ROOST_OK) {
        rc = roostctl_fail(ROOSTCTL_EXIT_USAGE, "eval: --context: %s", err.msg);
        goto done;
    }

    const roost_flag *f = roost_flagset_find(&ls.index, a.key, strlen(a.key));
    enum eval_type t = a.type != T_DEFAULT ? a.type : flag_type(f);
    roost_result r;
    out = cJSON_CreateObject();
    if (!out || (rc = evaluate(f, &ctx, &a, t, out, &r)) != ROOSTCTL_EXIT_OK)
        goto done;
    char *text = cJSON_PrintUnformatted(out);
    if (text) {
        puts(text);
        fflush(stdout);
        cJSON_free(text);
    }
    if (!f) {
        rc = not_found(set, a.key, a.flags);
    } else if (r.error == ROOST_EVAL_TYPE_MISMATCH) {
        fprintf(stderr, "roostctl: note: TYPE_MISMATCH: flag '%s' has %s values, --type was %s\n",
                a.key, type_name(flag_type(f)), type_name(t));
    } else if (r.error != ROOST_EVAL_OK) {
        fprintf(stderr, "roostctl: note: %s: %s\n", roost_eval_error_name(r.error),
                r.message ? r.message : "see the flag definition");
    }

done:
    cJSON_Delete(out);
    cJSON_Delete(ctx_json);
    cJSON_Delete(doc);
    roost_loaded_set_free(&ls);
    roost_compiled_set_free(set);
    free(attrs);
    free(keys);
    return rc;
}
