/* JSON evaluation contexts -> roost_ctx, for the tools that take a context
 * as JSON (roostctl eval, the conformance runner, the fuzzers, roostd's
 * flagd-compatible evaluation API). Nested objects flatten to the dotted
 * keys the engine reads (engine.h: "user.name"; a '.' or '\' inside a JSON
 * key is escaped), so {"var": "user.name"} finds {"user": {"name": ...}}.
 *
 * The context stores pointers, not copies: keys are written once into the
 * caller's keybuf and values point into the cJSON tree, both of which must
 * outlive the context.
 */
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "engine_internal.h"

typedef struct walker {
    roost_ctx *ctx;
    char *keybuf;
    size_t keybuf_len;
    size_t used;
    char *path; /* the key being built */
    size_t path_cap;
    roost_error *err;
} walker;

static roost_status walk(walker *w, const cJSON *obj, size_t plen, bool top)
{
    for (const cJSON *e = obj->child; e; e = e->next) {
        size_t len = plen;
        if (!roost_path_append(w->path, w->path_cap, &len, top, e->string, strlen(e->string)))
            return roost_error_set(w->err, ROOST_ELIMIT, "context: key path too long (%.*s...)",
                                   (int)(plen > 64 ? 64 : plen), w->path);
        if (cJSON_IsNull(e))
            continue;
        if (cJSON_IsObject(e)) {
            roost_status st = walk(w, e, len, false);
            if (st != ROOST_OK)
                return st;
            continue;
        }
        if (cJSON_IsArray(e))
            return roost_error_set(w->err, ROOST_EINVAL,
                                   "context.%.*s: arrays are not supported as context values",
                                   (int)len, w->path);
        if (len > w->keybuf_len - w->used)
            return roost_error_set(w->err, ROOST_ELIMIT, "context: too many or too long keys");
        char *key = w->keybuf + w->used;
        memcpy(key, w->path, len);
        w->used += len;
        roost_status st;
        if (cJSON_IsString(e))
            st = roost_ctx_set_string_n(w->ctx, key, len, e->valuestring, strlen(e->valuestring));
        else if (cJSON_IsNumber(e))
            st = roost_ctx_set_number_n(w->ctx, key, len, e->valuedouble);
        else
            st = roost_ctx_set_bool_n(w->ctx, key, len, cJSON_IsTrue(e));
        if (st == ROOST_ELIMIT)
            return roost_error_set(w->err, ROOST_ELIMIT,
                                   "context: more than %u attributes", (unsigned)w->ctx->capacity);
        if (st != ROOST_OK)
            return roost_error_set(w->err, st, "context.%.*s: cannot be set", (int)len, w->path);
    }
    return ROOST_OK;
}

roost_status roost_ctx_from_json(const cJSON *json, roost_ctx *ctx, char *keybuf, size_t keybuf_len,
                                 roost_error *err)
{
    if (!json || !ctx || !keybuf)
        return roost_error_set(err, ROOST_EINVAL, "roost_ctx_from_json: NULL argument");
    if (!cJSON_IsObject(json))
        return roost_error_set(err, ROOST_EINVAL, "the evaluation context must be a JSON object");
    walker w = {ctx, keybuf, keybuf_len, 0, malloc(keybuf_len + 1), keybuf_len, err};
    if (!w.path)
        return roost_error_set(err, ROOST_ENOMEM, "out of memory");
    roost_status st = walk(&w, json, 0, true);
    free(w.path);
    return st;
}
