/* Contexts the fuzz targets evaluate every accepted flag with: empty, and
 * ones with every attribute type, nested keys, invalid UTF-8, extreme
 * numbers and the names the test kit uses, so fuzzed rules reach deep. */
#ifndef ROOST_TESTS_FUZZ_CONTEXTS_H
#define ROOST_TESTS_FUZZ_CONTEXTS_H

#include <stdlib.h>

#include "roost/engine.h"

#define FUZZ_NCTX 3

static void fuzz_contexts(roost_ctx ctx[FUZZ_NCTX], roost_ctx_attr attrs[FUZZ_NCTX][16])
{
    for (int i = 0; i < FUZZ_NCTX; i++)
        roost_ctx_init(&ctx[i], attrs[i], 16);
    roost_ctx_set_targeting_key(&ctx[1], "user-1");
    roost_ctx_set_string(&ctx[1], "email", "ballmer@macrosoft.com");
    roost_ctx_set_string(&ctx[1], "version", "2.0.0-rc.1");
    roost_ctx_set_number(&ctx[1], "age", 42);
    roost_ctx_set_bool(&ctx[1], "beta", true);
    roost_ctx_set_string(&ctx[1], "user.name", "jack");
    roost_ctx_set_number(&ctx[1], "user.id", -0.5);
    roost_ctx_set_string(&ctx[1], "a\\.b", "dotted");
    roost_ctx_set_timestamp(&ctx[1], 1700000000);
    roost_ctx_set_string(&ctx[2], "targetingKey", "");
    roost_ctx_set_string_n(&ctx[2], "email", 5, "\xff\xfe\xf0\x9f", 4);
    roost_ctx_set_number(&ctx[2], "age", 1e308);
    roost_ctx_set_number(&ctx[2], "version", 1.2);
    roost_ctx_set_string(&ctx[2], "user", "\xf0\x9f\x98\x80");
    roost_ctx_set_timestamp(&ctx[2], -1);
}

/* Evaluates f every way a caller can, touching every string handed out. */
static unsigned fuzz_eval_all(const roost_flag *f, const roost_ctx *ctx)
{
    roost_result r;
    unsigned sink = 0;
    const char *s = roost_eval_string(f, ctx, "d", &r);
    sink += (unsigned)s[r.value.string.len] + (r.variant ? (unsigned)r.variant[0] : 0);
    sink += roost_eval_bool(f, ctx, true, &r);
    sink += (unsigned)roost_eval_int(f, ctx, 1, &r);
    sink += roost_eval_float(f, ctx, 0.5, &r) > 0;
    s = roost_eval_object(f, ctx, "{}", &r);
    sink += (unsigned)s[r.value.string.len];
    for (size_t i = 0; i < roost_flag_metadata_count(f); i++) {
        roost_metadata m;
        roost_flag_metadata_get(f, i, &m);
        sink += (unsigned)m.key[m.key_len] + (m.string ? (unsigned)m.string[m.string_len] : 0);
    }
    return sink;
}

/* A flag the loader resolves without the interpreter (roost_flag.shape)
 * must give what its program gives, for every context. */
static void fuzz_check_shape(const roost_flag *f, const roost_ctx *ctx)
{
    if (!f->shape)
        return;
    roost_flag program = *f;
    program.shape = 0;
    roost_result a, b;
    const char *x = roost_eval_string(f, ctx, "d", &a);
    const char *y = roost_eval_string(&program, ctx, "d", &b);
    if (x != y || a.reason != b.reason || a.error != b.error || a.variant != b.variant)
        abort();
}

#endif
