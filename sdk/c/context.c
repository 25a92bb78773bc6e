/* Evaluation context builder (roost_context in include/roost/client.h).
 *
 * The engine's roost_ctx points at the caller's strings. A builder that
 * owns them is what a service (or a ctypes binding, whose strings move)
 * needs: every key and value set here is copied into an arena of chunks
 * that never move, so the roost_ctx pointers stay valid however much is
 * added. The builder keeps its own record of what was set, and rebuilds
 * the engine context from it when the attribute array has to grow, instead
 * of touching the engine's attribute fields.
 *
 * Memory: two growable arrays (records, engine attributes) and the arena;
 * roost_context_clear keeps all of it for the next request.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "roost/client.h"

#define CONTEXT_MAX_ATTRS 4096
#define CHUNK_MIN 1024

enum kind { K_STRING, K_NUMBER, K_BOOL };

struct record {
    const char *key; /* in the arena */
    enum kind kind;
    const char *str; /* in the arena */
    double num;
    bool b;
};

struct chunk {
    struct chunk *next;
    size_t cap, used;
    char data[];
};

struct roost_context {
    roost_ctx ctx;
    roost_ctx_attr *attrs;
    struct record *recs;
    size_t cap, n;
    struct chunk *chunks; /* head is the one being filled */
    size_t chunk_size;
};

static struct chunk *chunk_new(size_t cap)
{
    struct chunk *ch = malloc(sizeof *ch + cap);

    if (ch) {
        ch->next = NULL;
        ch->cap = cap;
        ch->used = 0;
    }
    return ch;
}

/* A copy of s[0..len) plus NUL in the arena. */
static const char *arena_copy(struct roost_context *b, const char *s, size_t len)
{
    struct chunk *ch = b->chunks;
    char *p;

    if (!ch || ch->cap - ch->used < len + 1) {
        size_t cap = len + 1 > b->chunk_size ? len + 1 : b->chunk_size;
        /* Keep filling the current chunk when the new one only holds this
         * string: push it behind the head. */
        struct chunk *nc = chunk_new(cap);
        if (!nc)
            return NULL;
        if (ch && cap > b->chunk_size) {
            nc->next = ch->next;
            ch->next = nc;
        } else {
            nc->next = ch;
            b->chunks = nc;
        }
        ch = nc;
    }
    p = ch->data + ch->used;
    memcpy(p, s, len);
    p[len] = '\0';
    ch->used += len + 1;
    return p;
}

roost_status roost_context_new(size_t capacity, size_t bytes, roost_context **out)
{
    roost_context *b;

    if (!out || capacity > CONTEXT_MAX_ATTRS)
        return ROOST_EINVAL;
    if (capacity == 0)
        capacity = 8;
    if (!(b = calloc(1, sizeof *b)))
        return ROOST_ENOMEM;
    b->chunk_size = bytes ? bytes : CHUNK_MIN;
    b->attrs = malloc(capacity * sizeof *b->attrs);
    b->recs = malloc(capacity * sizeof *b->recs);
    if (!b->attrs || !b->recs) {
        free(b->attrs);
        free(b->recs);
        free(b);
        return ROOST_ENOMEM;
    }
    b->cap = capacity;
    roost_ctx_init(&b->ctx, b->attrs, capacity);
    *out = b;
    return ROOST_OK;
}

void roost_context_free(roost_context *b)
{
    if (!b)
        return;
    while (b->chunks) {
        struct chunk *next = b->chunks->next;
        free(b->chunks);
        b->chunks = next;
    }
    free(b->attrs);
    free(b->recs);
    free(b);
}

void roost_context_clear(roost_context *b)
{
    if (!b)
        return;
    for (struct chunk *ch = b->chunks; ch; ch = ch->next)
        ch->used = 0;
    b->n = 0;
    roost_ctx_reset(&b->ctx);
}

/* Sets one record in the engine context. */
static roost_status apply(roost_ctx *ctx, const struct record *r)
{
    switch (r->kind) {
    case K_STRING: return roost_ctx_set_string(ctx, r->key, r->str);
    case K_NUMBER: return roost_ctx_set_number(ctx, r->key, r->num);
    case K_BOOL: return roost_ctx_set_bool(ctx, r->key, r->b);
    }
    return ROOST_EINTERNAL;
}

static roost_status grow(roost_context *b)
{
    size_t cap = b->cap * 2 > CONTEXT_MAX_ATTRS ? CONTEXT_MAX_ATTRS : b->cap * 2;
    roost_ctx_attr *attrs;
    struct record *recs;
    roost_ctx ctx;
    roost_status rc;

    if (cap <= b->cap)
        return ROOST_ELIMIT;
    if (!(recs = realloc(b->recs, cap * sizeof *recs)))
        return ROOST_ENOMEM;
    b->recs = recs;
    if (!(attrs = malloc(cap * sizeof *attrs)))
        return ROOST_ENOMEM;
    roost_ctx_init(&ctx, attrs, cap);
    ctx.timestamp = b->ctx.timestamp;
    for (size_t i = 0; i < b->n; i++)
        if ((rc = apply(&ctx, &b->recs[i])) != ROOST_OK) {
            free(attrs);
            return rc;
        }
    free(b->attrs);
    b->attrs = attrs;
    b->ctx = ctx;
    b->cap = cap;
    return ROOST_OK;
}

static roost_status set(roost_context *b, const char *key, enum kind kind, const char *str,
                        double num, bool bv)
{
    struct record r;
    size_t i;
    roost_status rc;

    if (!b || !key || (kind == K_STRING && !str))
        return ROOST_EINVAL;
    for (i = 0; i < b->n && strcmp(b->recs[i].key, key) != 0; i++)
        ;
    r.key = i < b->n ? b->recs[i].key : arena_copy(b, key, strlen(key));
    r.kind = kind;
    r.str = kind == K_STRING ? arena_copy(b, str, strlen(str)) : NULL;
    r.num = num;
    r.b = bv;
    if (!r.key || (kind == K_STRING && !r.str))
        return ROOST_ENOMEM;
    if (i == b->n && b->n == b->cap && (rc = grow(b)) != ROOST_OK)
        return rc;
    if ((rc = apply(&b->ctx, &r)) != ROOST_OK)
        return rc;
    b->recs[i] = r;
    if (i == b->n)
        b->n++;
    return ROOST_OK;
}

roost_status roost_context_set_targeting_key(roost_context *b, const char *targeting_key)
{
    return set(b, "targetingKey", K_STRING, targeting_key, 0, false);
}

roost_status roost_context_set_string(roost_context *b, const char *key, const char *value)
{
    return set(b, key, K_STRING, value, 0, false);
}

roost_status roost_context_set_number(roost_context *b, const char *key, double value)
{
    return set(b, key, K_NUMBER, NULL, value, false);
}

roost_status roost_context_set_bool(roost_context *b, const char *key, bool value)
{
    return set(b, key, K_BOOL, NULL, 0, value);
}

void roost_context_stamp(roost_context *b)
{
    if (b)
        roost_ctx_set_timestamp(&b->ctx, (int64_t)time(NULL));
}

void roost_context_set_timestamp(roost_context *b, int64_t unix_seconds)
{
    if (b)
        roost_ctx_set_timestamp(&b->ctx, unix_seconds);
}

const roost_ctx *roost_context_ctx(const roost_context *b)
{
    return b ? &b->ctx : NULL;
}
