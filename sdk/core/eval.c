/* Flag resolution: turns a loaded flag and a context into a value, a
 * variant, a reason and an error code, with flagd's rules:
 *
 *   missing flag            -> caller's default, ERROR / FLAG_NOT_FOUND
 *   DISABLED                -> caller's default, DISABLED (before any type check)
 *   invalid targeting       -> caller's default, ERROR / PARSE_ERROR
 *   no targeting            -> default variant, STATIC
 *   rule fails at run time  -> caller's default, ERROR / GENERAL
 *   rule gives null         -> default variant, DEFAULT
 *   rule gives a value      -> the variant named String(value), TARGETING_MATCH
 *   no variant to use       -> caller's default, DEFAULT (flag without defaultVariant)
 *   variant does not exist  -> caller's default, ERROR / GENERAL
 *   variant of another type -> caller's default, ERROR / TYPE_MISMATCH
 *
 * The typed entry points differ only in how they read the variant value and
 * the caller's default, so they share one resolver. Integer reads of number
 * flags truncate toward zero as flagd (Go) does.
 */
#include <string.h>

#include "engine_internal.h"

const char *roost_reason_name(roost_reason reason)
{
    switch (reason) {
    case ROOST_REASON_STATIC: return "STATIC";
    case ROOST_REASON_TARGETING_MATCH: return "TARGETING_MATCH";
    case ROOST_REASON_DEFAULT: return "DEFAULT";
    case ROOST_REASON_DISABLED: return "DISABLED";
    case ROOST_REASON_ERROR: return "ERROR";
    }
    return "UNKNOWN";
}

const char *roost_eval_error_name(roost_eval_error error)
{
    switch (error) {
    case ROOST_EVAL_OK: return NULL;
    case ROOST_EVAL_FLAG_NOT_FOUND: return "FLAG_NOT_FOUND";
    case ROOST_EVAL_TYPE_MISMATCH: return "TYPE_MISMATCH";
    case ROOST_EVAL_PARSE_ERROR: return "PARSE_ERROR";
    case ROOST_EVAL_GENERAL: return "GENERAL";
    }
    return "GENERAL";
}

/* What the caller asked for: a type plus how to read an integer. */
enum want { WANT_BOOL, WANT_STRING, WANT_INT, WANT_FLOAT, WANT_OBJECT };

static roost_value_type want_type(enum want w)
{
    switch (w) {
    case WANT_BOOL: return ROOST_VALUE_BOOLEAN;
    case WANT_STRING: return ROOST_VALUE_STRING;
    case WANT_OBJECT: return ROOST_VALUE_OBJECT;
    default: return ROOST_VALUE_NUMBER;
    }
}

/* Leaves r describing "caller's default" with the given reason and error;
 * the caller's default value is already in r->value. */
static void fallback(roost_result *r, roost_reason reason, roost_eval_error error, const char *msg)
{
    r->reason = reason;
    r->error = error;
    r->message = msg;
    r->variant = NULL;
    r->variant_len = 0;
}

/* Reads variant i of flag f into r as `want`; false on a type mismatch,
 * in which case nothing in r has been changed. */
#if defined(__GNUC__) && !defined(__OPTIMIZE_SIZE__)
__attribute__((always_inline))
#endif
static inline bool read_variant(const roost_flag *f, uint32_t i, enum want w, roost_result *r)
{
    const uint8_t *rec = f->variants + RI_VARIANT_LEN * i;

    if (f->type != want_type(w))
        return false;
    switch (w) {
    case WANT_BOOL:
        r->value.boolean = ri_f64(rec + 16) != 0.0;
        break;
    case WANT_INT: {
        double d = ri_f64(rec + 16);
        if (!(d > -9223372036854775808.0 && d < 9223372036854775808.0))
            return false; /* NaN or outside int64_t */
        r->value.integer = (int64_t)d;
        break;
    }
    case WANT_FLOAT:
        r->value.number = ri_f64(rec + 16);
        break;
    default: /* string, object */
        r->value.string.ptr = (const char *)f->image + ri_u32(rec + 8);
        r->value.string.len = ri_u32(rec + 12);
        break;
    }
    r->variant = (const char *)f->image + ri_u32(rec);
    r->variant_len = ri_u32(rec + 4);
    return true;
}

/* Runs the rule and names the chosen variant: -1 with *reason DEFAULT for
 * a null result, -2 for an error already recorded in r. Kept out of
 * resolve() so that static flags do not pay for the interpreter's frame. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static int run_rule(const roost_flag *f, const roost_ctx *ctx, roost_result *r, roost_reason *reason)
{
    roost_vm vm;
    const rv *result;
    vm.flag = f;
    vm.ctx = ctx;
    vm.err = NULL;
    vm.scratch_used = 0;
    if (!roost_vm_run(&vm, f->code, f->code_len, &result)) {
        fallback(r, ROOST_REASON_ERROR, ROOST_EVAL_GENERAL, vm.err);
        return -2;
    }
    if (result->t == RV_NULL) {
        *reason = ROOST_REASON_DEFAULT;
        return f->default_variant == RI_NO_VARIANT ? -1 : f->default_variant;
    }
    *reason = ROOST_REASON_TARGETING_MATCH;
    if (result->t == RV_STR && result->vi != 0)
        return result->vi - 1; /* a constant known to name a variant */
    bool full;
    int variant = roost_vm_variant_of(&vm, result, &full);
    if (variant < 0) {
        fallback(r, ROOST_REASON_ERROR, ROOST_EVAL_GENERAL,
                 full ? "the rule's result is too long to name a variant"
                      : "the rule chose a variant the flag does not have");
        return -2;
    }
    return variant;
}

/* The variant a RI_SHAPE_STR_EQ rule chooses, or -1 when the context
 * value is not a string and the program has to run (see rule_shape in
 * image.c for why the two agree). */
static RI_HOT_INLINE int run_shape(const roost_flag *f, const roost_ctx *ctx)
{
    rv v;
    if (!roost_ctx_lookup_attr(ctx, f->shape_path, f->shape_path_len, f->shape_path_hash, &v) ||
        v.t != RV_STR)
        return -1;
    bool eq = v.len == f->shape_str_len && roost_bytes_eq(v.u.s, f->shape_str, v.len);
    return f->shape_variant[!eq];
}

/* Inlined into each typed entry point, where `w` is a constant: the type
 * checks and the variant read fold away, which is most of what a static
 * flag costs besides its lookup. Not when optimizing for size (devices
 * keep one copy). */
#if defined(__GNUC__) && !defined(__OPTIMIZE_SIZE__)
__attribute__((always_inline))
#endif
static inline void resolve(const roost_flag *f, const roost_ctx *ctx, enum want w, roost_result *r)
{
    int variant;
    roost_reason reason;

    r->flag = f;
    r->type = want_type(w);
    if (!f) {
        fallback(r, ROOST_REASON_ERROR, ROOST_EVAL_FLAG_NOT_FOUND, "flag not found");
        return;
    }
    if (f->state == RI_STATE_DISABLED) {
        fallback(r, ROOST_REASON_DISABLED, ROOST_EVAL_OK, NULL);
        return;
    }
    if (f->targeting == RI_TARGETING_NONE) {
        variant = f->default_variant == RI_NO_VARIANT ? -1 : f->default_variant;
        reason = variant < 0 ? ROOST_REASON_DEFAULT : ROOST_REASON_STATIC;
    } else if (f->targeting == RI_TARGETING_PARSE_ERROR) {
        fallback(r, ROOST_REASON_ERROR, ROOST_EVAL_PARSE_ERROR,
                 "the flag's targeting rule is invalid (see the compiler's warning)");
        return;
    } else if (f->shape == RI_SHAPE_STR_EQ && (variant = run_shape(f, ctx)) >= 0) {
        reason = ROOST_REASON_TARGETING_MATCH;
    } else if ((variant = run_rule(f, ctx, r, &reason)) == -2) {
        return;
    }
    if (variant < 0) {
        fallback(r, ROOST_REASON_DEFAULT, ROOST_EVAL_OK, NULL);
        return;
    }
    /* read_variant writes nothing when it fails: the default stays. */
    if (!read_variant(f, (uint32_t)variant, w, r)) {
        fallback(r, ROOST_REASON_ERROR, ROOST_EVAL_TYPE_MISMATCH,
                 "the flag's values are not of the requested type");
        return;
    }
    r->reason = reason;
    r->error = ROOST_EVAL_OK;
    r->message = NULL;
}

bool roost_eval_bool(const roost_flag *flag, const roost_ctx *ctx, bool default_value,
                     roost_result *out)
{
    roost_result local;
    roost_result *r = out ? out : &local;
    r->value.boolean = default_value;
    resolve(flag, ctx, WANT_BOOL, r);
    return r->value.boolean;
}

/* The caller's default string stays in r unless a variant was read (which
 * sets its own value and length): only then is it measured, so an
 * evaluation that picks a variant does not pay for strlen. */
static void default_string_len(roost_result *r)
{
    if (!r->variant)
        r->value.string.len = r->value.string.ptr ? strlen(r->value.string.ptr) : 0;
}

const char *roost_eval_string(const roost_flag *flag, const roost_ctx *ctx,
                              const char *default_value, roost_result *out)
{
    roost_result local;
    roost_result *r = out ? out : &local;
    r->value.string.ptr = default_value;
    resolve(flag, ctx, WANT_STRING, r);
    default_string_len(r);
    return r->value.string.ptr;
}

int64_t roost_eval_int(const roost_flag *flag, const roost_ctx *ctx, int64_t default_value,
                       roost_result *out)
{
    roost_result local;
    roost_result *r = out ? out : &local;
    r->value.integer = default_value;
    resolve(flag, ctx, WANT_INT, r);
    return r->value.integer;
}

double roost_eval_float(const roost_flag *flag, const roost_ctx *ctx, double default_value,
                        roost_result *out)
{
    roost_result local;
    roost_result *r = out ? out : &local;
    r->value.number = default_value;
    resolve(flag, ctx, WANT_FLOAT, r);
    return r->value.number;
}

const char *roost_eval_object(const roost_flag *flag, const roost_ctx *ctx,
                              const char *default_json, roost_result *out)
{
    roost_result local;
    roost_result *r = out ? out : &local;
    r->value.string.ptr = default_json;
    resolve(flag, ctx, WANT_OBJECT, r);
    default_string_len(r);
    return r->value.string.ptr;
}
