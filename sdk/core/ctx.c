/* Evaluation context: a flat list of (path, value) attributes in caller
 * memory.
 *
 * Nested context objects are flattened to dotted `var` paths when they are
 * set ("user.name"), so a lookup is one pass over a short array comparing a
 * precomputed hash first: no tree, no allocation, and the order of setting
 * does not matter. Contexts are small (tens of attributes), where a linear
 * scan beats hashing into a table and keeps the struct trivially copyable.
 * Setting an existing key replaces it, so `set` is O(n); building a context
 * of n attributes is O(n^2) comparisons, which is nothing at these sizes.
 */
#include <string.h>

#include "engine_internal.h"
#include "roost/engine.h"

void roost_ctx_init(roost_ctx *ctx, roost_ctx_attr *attrs, size_t capacity)
{
    ctx->attrs = attrs;
    ctx->capacity = capacity > UINT32_MAX ? UINT32_MAX : (uint32_t)capacity;
    ctx->count = 0;
    ctx->timestamp = 0;
}

void roost_ctx_reset(roost_ctx *ctx)
{
    ctx->count = 0;
    ctx->timestamp = 0;
}

void roost_ctx_set_timestamp(roost_ctx *ctx, int64_t unix_seconds)
{
    ctx->timestamp = unix_seconds;
}

/* The attribute to write for key: the existing one, or a new slot. */
static roost_status slot_for(roost_ctx *ctx, const char *key, size_t key_len,
                             roost_ctx_attr **out)
{
    if (!ctx || !key || key_len > UINT32_MAX)
        return ROOST_EINVAL;
    uint32_t h = roost_path_hash(key, key_len);
    for (uint32_t i = 0; i < ctx->count; i++) {
        roost_ctx_attr *a = &ctx->attrs[i];
        if (a->hash == h && a->key_len == key_len && memcmp(a->key, key, key_len) == 0) {
            *out = a;
            return ROOST_OK;
        }
    }
    if (ctx->count >= ctx->capacity)
        return ROOST_ELIMIT;
    roost_ctx_attr *a = &ctx->attrs[ctx->count++];
    a->key = key;
    a->key_len = (uint32_t)key_len;
    a->hash = h;
    *out = a;
    return ROOST_OK;
}

roost_status roost_ctx_set_string_n(roost_ctx *ctx, const char *key, size_t key_len,
                                    const char *value, size_t value_len)
{
    roost_ctx_attr *a;
    roost_status st;

    if (!value || value_len > UINT32_MAX)
        return ROOST_EINVAL;
    if ((st = slot_for(ctx, key, key_len, &a)) != ROOST_OK)
        return st;
    a->type = CTX_STRING;
    a->str = value;
    a->str_len = (uint32_t)value_len;
    return ROOST_OK;
}

roost_status roost_ctx_set_string(roost_ctx *ctx, const char *key, const char *value)
{
    if (!key || !value)
        return ROOST_EINVAL;
    return roost_ctx_set_string_n(ctx, key, strlen(key), value, strlen(value));
}

roost_status roost_ctx_set_number_n(roost_ctx *ctx, const char *key, size_t key_len, double value)
{
    roost_ctx_attr *a;
    roost_status st = slot_for(ctx, key, key_len, &a);
    if (st != ROOST_OK)
        return st;
    a->type = CTX_NUMBER;
    a->num = value;
    return ROOST_OK;
}

roost_status roost_ctx_set_number(roost_ctx *ctx, const char *key, double value)
{
    if (!key)
        return ROOST_EINVAL;
    return roost_ctx_set_number_n(ctx, key, strlen(key), value);
}

roost_status roost_ctx_set_bool_n(roost_ctx *ctx, const char *key, size_t key_len, bool value)
{
    roost_ctx_attr *a;
    roost_status st = slot_for(ctx, key, key_len, &a);
    if (st != ROOST_OK)
        return st;
    a->type = CTX_BOOL;
    a->num = value ? 1.0 : 0.0;
    return ROOST_OK;
}

roost_status roost_ctx_set_bool(roost_ctx *ctx, const char *key, bool value)
{
    if (!key)
        return ROOST_EINVAL;
    return roost_ctx_set_bool_n(ctx, key, strlen(key), value);
}

roost_status roost_ctx_set_targeting_key(roost_ctx *ctx, const char *targeting_key)
{
    return roost_ctx_set_string(ctx, "targetingKey", targeting_key);
}

/* ------------------------------------------------- lookups for the VM */

/* Reads the value at a canonical path into *out. A path that is a proper
 * prefix of attribute keys names a nested object (JavaScript would return
 * the object), anything else reads as null. */
void roost_ctx_lookup(const roost_ctx *ctx, const char *path, uint32_t len, uint32_t hash, rv *out)
{
    if (!roost_ctx_lookup_attr(ctx, path, len, hash, out))
        roost_ctx_lookup_object(ctx, path, len, out);
}

void roost_ctx_lookup_object(const roost_ctx *ctx, const char *path, uint32_t len, rv *out)
{
    out->t = RV_NULL;
    out->f = 0;
    out->vi = 0;
    if (!ctx)
        return;
    for (uint32_t i = 0; i < ctx->count; i++) {
        const roost_ctx_attr *a = &ctx->attrs[i];
        if (a->key_len > len && a->key[len] == '.' && memcmp(a->key, path, len) == 0) {
            out->t = RV_OBJ;
            out->f = RV_OBJ_NONEMPTY | RV_OBJ_PATH;
            out->u.s = path;
            out->len = len;
            return;
        }
    }
}

/* --------------------------------------------------------------- paths */

bool roost_path_append(char *out, size_t cap, size_t *used, bool first, const char *seg,
                       size_t seg_len)
{
    size_t o = *used;

    if (!first) {
        if (o >= cap)
            return false;
        out[o++] = '.';
    }
    for (size_t i = 0; i < seg_len; i++) {
        char c = seg[i];
        if (c == '.' || c == '\\') {
            if (o >= cap)
                return false;
            out[o++] = '\\';
        }
        if (o >= cap)
            return false;
        out[o++] = c;
    }
    *used = o;
    return true;
}

size_t roost_path_canonical(const char *path, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    bool all_dots = len > 0;

    for (size_t i = 0; i < len; i++)
        if (path[i] != '.')
            all_dots = false;
    if (all_dots) {
        /* splitPath gives len empty segments: len - 1 separators. */
        if (len - 1 > cap)
            return SIZE_MAX;
        memset(out, '.', len - 1);
        return len - 1;
    }
    /* Unescape splitPath-style and re-escape canonically, one character at
     * a time: a separator stays '.', a literal dot or backslash gets '\'. */
    for (size_t i = 0; i < len; i++) {
        char c = path[i];
        char lit;
        if (c == '\\') {
            char next = i + 1 < len ? path[i + 1] : '\0';
            if (next == '.' || next == '/' || next == '\\') {
                lit = next;
                i++;
            } else {
                lit = '\\';
            }
        } else if (c == '.') {
            if (o >= cap)
                return SIZE_MAX;
            out[o++] = '.';
            continue;
        } else {
            lit = c;
        }
        if (lit == '.' || lit == '\\') {
            if (o >= cap)
                return SIZE_MAX;
            out[o++] = '\\';
        }
        if (o >= cap)
            return SIZE_MAX;
        out[o++] = lit;
    }
    return o;
}
