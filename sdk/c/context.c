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
 *
 * roost_context_load takes a whole map in one packed buffer (the format is
 * in client.h): a binding's call into C costs far more than setting an
 * attribute, so a Python dict converted per evaluation crosses once. The
 * buffer comes from another language's runtime and is checked completely,
 * within its length, before the context changes.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "roost/client.h"

#define CONTEXT_MAX_ATTRS 4096
#define CHUNK_MIN 1024

enum kind { K_STRING, K_NUMBER, K_BOOL };

struct record {
    const char *key; /* in the arena */
    size_t key_len;
    enum kind kind;
    const char *str; /* in the arena */
    size_t str_len;
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
    /* The arena fills only its head chunk, so chunks behind it would stay
     * unused after a clear, and every request as large as this one would
     * add chunks (a context reused per evaluation, as bindings do, would
     * grow without bound). One chunk of their total size serves the next
     * such request without allocating. If it cannot be had, the old chunks
     * stay: correct, only not reused. */
    if (b->chunks && b->chunks->next) {
        size_t total = 0;
        struct chunk *one;
        for (struct chunk *ch = b->chunks; ch; ch = ch->next)
            total += ch->cap;
        if ((one = chunk_new(total)) != NULL) {
            while (b->chunks) {
                struct chunk *next = b->chunks->next;
                free(b->chunks);
                b->chunks = next;
            }
            b->chunks = one;
        }
    }
    for (struct chunk *ch = b->chunks; ch; ch = ch->next)
        ch->used = 0;
    b->n = 0;
    roost_ctx_reset(&b->ctx);
}

/* Sets one record in the engine context. */
static roost_status apply(roost_ctx *ctx, const struct record *r)
{
    switch (r->kind) {
    case K_STRING: return roost_ctx_set_string_n(ctx, r->key, r->key_len, r->str, r->str_len);
    case K_NUMBER: return roost_ctx_set_number_n(ctx, r->key, r->key_len, r->num);
    case K_BOOL: return roost_ctx_set_bool_n(ctx, r->key, r->key_len, r->b);
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

/* Sets key[0..key_len) (and str[0..str_len) for a string), both followed
 * by a NUL, which the arena copies keep. */
static roost_status set_n(roost_context *b, const char *key, size_t key_len, enum kind kind,
                          const char *str, size_t str_len, double num, bool bv)
{
    struct record r;
    size_t i;
    roost_status rc;

    for (i = 0; i < b->n; i++)
        if (b->recs[i].key_len == key_len && memcmp(b->recs[i].key, key, key_len) == 0)
            break;
    r.key = i < b->n ? b->recs[i].key : arena_copy(b, key, key_len);
    r.key_len = key_len;
    r.kind = kind;
    r.str = kind == K_STRING ? arena_copy(b, str, str_len) : NULL;
    r.str_len = kind == K_STRING ? str_len : 0;
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

static roost_status set(roost_context *b, const char *key, enum kind kind, const char *str,
                        double num, bool bv)
{
    if (!b || !key || (kind == K_STRING && !str))
        return ROOST_EINVAL;
    return set_n(b, key, strlen(key), kind, str, kind == K_STRING ? strlen(str) : 0, num, bv);
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

/* ---- packed attributes (roost_context_load) ---------------------------- */

/* One record of a packed buffer. Its fields point into the buffer, each
 * followed by its NUL there. */
struct packed {
    const char *key;
    size_t key_len;
    enum kind kind;
    const char *str;
    size_t str_len;
    double num;
    bool b;
};

/* The first NUL in [p, end), or end. Eight bytes at a time where eight
 * remain (never reading past end): fields are names and short values, for
 * which a call to memchr costs more than the scan. */
static const char *find_nul(const char *p, const char *end)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t ones = UINT64_C(0x0101010101010101), highs = UINT64_C(0x8080808080808080);

    while (end - p >= 8) {
        uint64_t w, zero;
        memcpy(&w, p, sizeof w);
        /* The lowest flagged byte is the first zero byte (flags above it
         * can be false, never below). */
        if ((zero = (w - ones) & ~w & highs) != 0)
            return p + (__builtin_ctzll(zero) >> 3);
        p += 8;
    }
#endif
    while (p < end && *p)
        p++;
    return p;
}

/* The NUL-terminated field at *p, never reading at or past end. */
static bool packed_field(const char **p, const char *end, const char **field, size_t *len)
{
    const char *nul = find_nul(*p, end);

    if (nul == end)
        return false;
    *field = *p;
    *len = (size_t)(nul - *p);
    *p = nul + 1;
    return true;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* "1.8p+1" after "0x": a leading 0 or 1 and at most 13 hex digits after
 * the point hold at most 53 bits, so the mantissa is an exact double and
 * ldexp scales it exactly (or to infinity or a subnormal, as the text
 * says). */
static bool parse_hex(const char *s, size_t n, double *out)
{
    const char *end = s + n;
    uint64_t m;
    int frac = 0, exp = 0, exp_digits = 0, sign = 1;

    if (s == end || (*s != '0' && *s != '1'))
        return false;
    m = (uint64_t)(*s++ - '0');
    if (s < end && *s == '.')
        for (s++; s < end && hex_digit(*s) >= 0; s++) {
            if (++frac > 13)
                return false;
            m = m * 16 + (uint64_t)hex_digit(*s);
        }
    if (s == end || *s++ != 'p')
        return false;
    if (s < end && (*s == '+' || *s == '-'))
        sign = *s++ == '-' ? -1 : 1;
    for (; s < end; s++, exp_digits++) {
        if (*s < '0' || *s > '9' || exp_digits == 5)
            return false;
        exp = exp * 10 + (*s - '0');
    }
    if (exp_digits == 0)
        return false;
    *out = ldexp((double)m, sign * exp - 4 * frac);
    return true;
}

static bool parse_number(const char *s, size_t n, double *out)
{
    bool neg = n > 0 && s[0] == '-';
    uint64_t v = 0;

    if (n == 3 && !memcmp(s, "nan", 3)) {
        *out = NAN;
        return true;
    }
    if (neg) {
        s++;
        n--;
    }
    if (n == 3 && !memcmp(s, "inf", 3)) {
        *out = neg ? -INFINITY : INFINITY;
        return true;
    }
    if (n > 2 && s[0] == '0' && s[1] == 'x') {
        if (!parse_hex(s + 2, n - 2, out))
            return false;
        *out = neg ? -*out : *out;
        return true;
    }
    /* A decimal integer up to 2^53 (16 digits) converts exactly. */
    if (n == 0 || n > 16)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > (UINT64_C(1) << 53))
        return false;
    *out = neg ? -(double)v : (double)v;
    return true;
}

/* The record at *p (advanced past it), or false when it is malformed. */
static bool packed_next(const char **p, const char *end, struct packed *r)
{
    const char *type, *value;
    size_t type_len, value_len;

    if (!packed_field(p, end, &type, &type_len) || !packed_field(p, end, &r->key, &r->key_len) ||
        !packed_field(p, end, &value, &value_len) || type_len != 1)
        return false;
    r->str = NULL;
    r->str_len = 0;
    r->num = 0;
    r->b = false;
    switch (type[0]) {
    case 's':
        r->kind = K_STRING;
        r->str = value;
        r->str_len = value_len;
        return true;
    case 'n':
        r->kind = K_NUMBER;
        return parse_number(value, value_len, &r->num);
    case 'b':
        r->kind = K_BOOL;
        r->b = value[0] == '1';
        return value_len == 1 && (value[0] == '0' || value[0] == '1');
    default:
        return false;
    }
}

/* Records parsed in the one pass a typical context needs; a larger buffer
 * is checked to its end first and its other records parsed again as they
 * are set. */
#define LOAD_BATCH 32

roost_status roost_context_load(roost_context *b, const char *data, size_t len, size_t records)
{
    struct packed batch[LOAD_BATCH], r;
    const char *p, *end, *rest;
    size_t n = 0, total;
    roost_status rc = ROOST_OK;

    if (!b || (!data && len) || len > ROOST_CONTEXT_PACKED_MAX)
        return ROOST_EINVAL;
    /* No arithmetic on a NULL data (len 0): an empty buffer is no records. */
    p = end = len ? data : "";
    end += len;
    /* Everything is checked before b changes: a refused buffer leaves the
     * caller's context as it was. */
    for (; p < end && n < LOAD_BATCH; n++)
        if (!packed_next(&p, end, &batch[n]))
            return ROOST_EINVAL;
    for (rest = p, total = n; p < end; total++)
        if (!packed_next(&p, end, &r))
            return ROOST_EINVAL;
    /* A NUL inside a key or value adds a field: the records no longer
     * come out as the caller counted them (or the last one is cut short). */
    if (total != records)
        return ROOST_EINVAL;
    if (total > CONTEXT_MAX_ATTRS)
        return ROOST_ELIMIT;
    roost_context_clear(b);
    for (size_t i = 0; i < n && rc == ROOST_OK; i++)
        rc = set_n(b, batch[i].key, batch[i].key_len, batch[i].kind, batch[i].str,
                   batch[i].str_len, batch[i].num, batch[i].b);
    for (p = rest; p < end && rc == ROOST_OK;) {
        /* Checked above; the second parse cannot fail unless the caller
         * changed the buffer meanwhile. */
        if (!packed_next(&p, end, &r))
            rc = ROOST_EINVAL;
        else
            rc = set_n(b, r.key, r.key_len, r.kind, r.str, r.str_len, r.num, r.b);
    }
    if (rc != ROOST_OK) {
        roost_context_clear(b);
        return rc;
    }
    roost_context_stamp(b);
    return ROOST_OK;
}
