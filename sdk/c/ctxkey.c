/* Keys read from an evaluation context: the targeting key a rollout routes
 * on, the unit an experiment deduplicates exposures by (sdk_ctx_key in
 * client_internal.h).
 *
 * The same bytes flagd's `fractional` hashes: a string as it is, and an
 * integral number as its decimal text (JavaScript's String(n) for integers
 * below 2^53, so a numeric user id routes like its string form and like
 * the engine's fractional on it). Other values (booleans, fractions,
 * objects, empty strings) are no key: every request carrying one would
 * hash alike.
 *
 * The engine keeps the type codes of a roost_ctx_attr private; they are
 * learned once through its public setters instead of being copied here,
 * so this file cannot drift from sdk/core/ctx.c.
 */
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "client_internal.h"

static _Atomic int type_string = -1, type_number = -1;

static void learn_types(void)
{
    roost_ctx_attr a;
    roost_ctx x;

    /* Racing threads store the same values; the string code is stored
     * last, with release, and marks both as known. */
    roost_ctx_init(&x, &a, 1);
    roost_ctx_set_number(&x, "k", 1);
    atomic_store_explicit(&type_number, a.type, memory_order_relaxed);
    roost_ctx_reset(&x);
    roost_ctx_set_string(&x, "k", "v");
    atomic_store_explicit(&type_string, a.type, memory_order_release);
}

/* Decimal text of an integer of magnitude below 2^53, without a library
 * call (no locale, no lock). */
static size_t int_text(int64_t v, char buf[SDK_KEY_NUMBER_MAX])
{
    char tmp[SDK_KEY_NUMBER_MAX];
    uint64_t u = v < 0 ? (uint64_t)-v : (uint64_t)v;
    size_t n = 0, len = 0;

    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        buf[len++] = '-';
    while (n)
        buf[len++] = tmp[--n];
    return len;
}

bool sdk_ctx_key(const roost_ctx *ctx, const char *path, size_t path_len,
                 char buf[SDK_KEY_NUMBER_MAX], const char **key, size_t *key_len)
{
    const roost_ctx_attr *a = NULL;
    int ts, tn;

    if (!ctx)
        return false;
    for (uint32_t i = 0; i < ctx->count; i++) {
        if (ctx->attrs[i].key_len == path_len && memcmp(ctx->attrs[i].key, path, path_len) == 0) {
            a = &ctx->attrs[i];
            break;
        }
    }
    if (!a)
        return false;
    if ((ts = atomic_load_explicit(&type_string, memory_order_acquire)) < 0) {
        learn_types();
        ts = atomic_load_explicit(&type_string, memory_order_acquire);
    }
    tn = atomic_load_explicit(&type_number, memory_order_relaxed);
    if (a->type == ts) {
        if (a->str_len == 0)
            return false;
        *key = a->str;
        *key_len = a->str_len;
        return true;
    }
    if (a->type == tn && a->num == trunc(a->num) && fabs(a->num) < 9007199254740992.0) {
        *key_len = int_text((int64_t)a->num, buf);
        *key = buf;
        return true;
    }
    return false;
}
