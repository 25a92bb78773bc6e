/* The rule interpreter: runs a verified flag program for one context.
 *
 * Design. A targeting rule is compiled to a stack program with forward
 * jumps only (engine_internal.h lists the instructions), so a run executes
 * each instruction at most once: the step count is bounded by the program
 * length, which the compiler caps at ROOST_MAX_STEPS. The value stack is a
 * fixed array in roost_vm (ROOST_EVAL_STACK entries) and the loader has
 * checked that no path through the program needs more, so the dispatch loop
 * does no bounds checks. Strings built while running (cat, substr, numbers
 * turned to text) go to a bump-allocated scratch buffer in the same struct;
 * running out of it is a GENERAL error, never a silent truncation.
 *
 * Semantics are json-logic-engine's as @openfeature/flagd-core runs it: the
 * compiled semantics by default, with the interpreted variants (instruction
 * mode bits) where flagd-core interprets instead of compiling. The
 * per-operator rules are written next to each case below; the JavaScript
 * coercions they use are in jsvalue.c.
 *
 * Errors: anything json-logic-engine would throw (a NaN in arithmetic, a
 * comparison of an object, .substr on a number...) stops the run with a
 * static message; the caller turns it into flagd's GENERAL error.
 */
#include <math.h>
#include <string.h>

#include "engine_internal.h"
#include "jsnum.h"
#include "roost/murmur3.h"
#include "semver.h"

#define FAIL(msg)                                                                                  \
    do {                                                                                           \
        vm->err = (msg);                                                                           \
        return false;                                                                              \
    } while (0)

/* For operators that return their value (in registers: writing it through
 * a pointer and copying it to the stack costs a store-forwarding stall):
 * record the error and return null; the loop checks vm->err. */
#define FAILV(msg)                                                                                 \
    do {                                                                                           \
        vm->err = (msg);                                                                           \
        return null_rv();                                                                          \
    } while (0)

static const char *const MSG_SCRATCH = "a string built by the rule exceeds the evaluation "
                                       "scratch buffer (ROOST_EVAL_SCRATCH)";
static const char *const MSG_NAN = "arithmetic or comparison on a value that is not a number";

static inline rv null_rv(void)
{
    rv v;
    v.t = RV_NULL;
    v.f = 0;
    v.vi = 0;
    v.len = 0;
    v.u.s = NULL;
    return v;
}

static inline rv bool_rv(bool b)
{
    rv v = null_rv();
    v.t = RV_BOOL;
    v.f = b;
    return v;
}

static inline rv str_rv(const char *s, uint32_t len)
{
    rv v = null_rv();
    v.t = RV_STR;
    v.u.s = s;
    v.len = len;
    return v;
}

static void set_null(rv *v)
{
    v->t = RV_NULL;
    v->f = 0;
    v->vi = 0;
}

static void set_bool(rv *v, bool b)
{
    v->t = RV_BOOL;
    v->f = b;
    v->vi = 0;
}

static void set_num(rv *v, double n)
{
    v->t = RV_NUM;
    v->f = 0;
    v->vi = 0;
    v->u.n = n;
}

static void set_str(rv *v, const char *s, uint32_t len)
{
    v->t = RV_STR;
    v->f = 0;
    v->vi = 0;
    v->u.s = s;
    v->len = len;
}

void roost_const_value(const roost_flag *flag, uint32_t k, rv *out)
{
    const uint8_t *e = roost_const_at(flag, k);
    out->f = 0;
    out->vi = 0;
    switch (e[0]) {
    case RK_TRUE: set_bool(out, true); return;
    case RK_FALSE: set_bool(out, false); return;
    case RK_NUM: set_num(out, ri_f64(e + 1)); return;
    case RK_STR:
        set_str(out, (const char *)e + 7, ri_u32(e + 1));
        out->vi = ri_u16(e + 5);
        return;
    case RK_PATH: set_str(out, (const char *)e + 9, ri_u32(e + 1)); return;
    case RK_ARR:
        out->t = RV_ARR;
        out->len = k;
        return;
    case RK_OBJ:
        out->t = RV_OBJ; /* {}: empty, falsy for JsonLogic, its own identity */
        return;
    case RK_BUCKETS:
        out->t = RV_TABLE;
        out->len = k;
        return;
    default: set_null(out); return;
    }
}

/* ------------------------------------------------------- context reads */

/* The value of a canonical path, with flagd's enrichment: $flagd is
 * replaced by {flagKey, timestamp} whatever the context holds. */
static RI_HOT_INLINE void lookup(roost_vm *vm, const char *path, uint32_t len, uint32_t hash,
                                 rv *out)
{
    if (len >= 6 && path[0] == '$' && memcmp(path, "$flagd", 6) == 0 &&
        (len == 6 || path[6] == '.')) {
        if (len == 6) {
            out->t = RV_OBJ;
            out->f = RV_OBJ_NONEMPTY | RV_OBJ_PATH;
            out->vi = 0;
            out->u.s = path;
            out->len = len;
        } else if (len == 14 && memcmp(path + 7, "flagKey", 7) == 0) {
            set_str(out, vm->flag->key, vm->flag->key_len);
        } else if (len == 16 && memcmp(path + 7, "timestamp", 9) == 0) {
            set_num(out, vm->ctx ? (double)vm->ctx->timestamp : 0.0);
        } else {
            set_null(out);
        }
        return;
    }
    if (!roost_ctx_lookup_attr(vm->ctx, path, len, hash, out))
        roost_ctx_lookup_object(vm->ctx, path, len, out);
}

/* An operand of OP_CMPKJF: the context value at constant k when it is a
 * path (as OP_VAR), else the constant itself (as OP_CONST). */
static RI_HOT_INLINE void operand(roost_vm *vm, uint32_t k, rv *out)
{
    const uint8_t *e = roost_const_at(vm->flag, k);
    if (e[0] == RK_PATH) {
        lookup(vm, (const char *)e + 9, ri_u32(e + 1), ri_u32(e + 5), out);
    } else if (e[0] == RK_STR) {
        set_str(out, (const char *)e + 7, ri_u32(e + 1));
        out->vi = ri_u16(e + 5);
    } else {
        roost_const_value(vm->flag, k, out);
    }
}

/* {"var": <expression>}: json-logic-engine's var method on a computed key.
 * An array key is [path, default]; "" and null mean the whole context. */
static bool var_dynamic(roost_vm *vm, rv *v)
{
    rv key = *v, dflt;
    set_null(&dflt);
    if (key.t == RV_ARR) {
        const uint8_t *e = roost_const_at(vm->flag, key.len);
        uint16_t count = ri_u16(e + 2);
        if (count > 1)
            roost_const_value(vm->flag, ri_u16(e + 6), &dflt);
        if (count > 0)
            roost_const_value(vm->flag, ri_u16(e + 4), &key);
        else
            set_null(&key);
    }
    if (key.t == RV_NULL || (key.t == RV_STR && key.len == 0)) {
        v->t = RV_OBJ;
        v->f = RV_OBJ_NONEMPTY | RV_OBJ_ROOT; /* $flagd is always there */
        v->vi = 0;
        return true;
    }
    const char *s;
    uint32_t n;
    if (!roost_vm_to_string(vm, &key, &s, &n))
        FAIL(MSG_SCRATCH);
    /* Canonical form is at most twice as long (every byte escaped). */
    uint32_t cap = ROOST_EVAL_SCRATCH - vm->scratch_used;
    char *out = vm->scratch + vm->scratch_used;
    size_t clen = roost_path_canonical(s, n, out, cap);
    if (clen == SIZE_MAX)
        FAIL(MSG_SCRATCH);
    vm->scratch_used += (uint32_t)clen;
    lookup(vm, out, (uint32_t)clen, roost_path_hash(out, clen), v);
    if (v->t == RV_NULL)
        *v = dflt;
    return true;
}

/* --------------------------------------------------------- comparisons */

/* json-logic-engine's compareCheck(item, prev, strict): validates operands
 * of a non-strict comparison and maps null against falsy values so that
 * null == 0 and 0 == null hold. */
static bool compare_check(roost_vm *vm, const rv *item, const rv *prev, bool strict, rv *out)
{
    bool ok = true;
    *out = *item;
    if (strict)
        return true;
    if ((item->t == RV_STR || item->t == RV_NULL) && (prev->t == RV_STR || prev->t == RV_NULL))
        return true;
    if (!roost_js_precoerce_ok(item))
        FAIL(MSG_NAN);
    double x = roost_vm_to_number(vm, item, &ok);
    if (x != x && prev->t != RV_NULL)
        FAIL(MSG_NAN);
    if (!roost_js_precoerce_ok(prev))
        FAIL(MSG_NAN);
    double y = roost_vm_to_number(vm, prev, &ok);
    if (y != y)
        FAIL(MSG_NAN);
    if (prev->t == RV_NULL && !roost_js_truthy(item))
        set_null(out);
    else if (item->t == RV_NULL && !roost_js_truthy(prev))
        set_num(out, 0);
    if (!ok)
        FAIL(MSG_SCRATCH);
    return true;
}

static bool is_strict(int op)
{
    return op == CMP_SEQ || op == CMP_SNE;
}

/* json-logic-engine's interpreted comparisonFunc(a, b). */
static bool compare_interp(roost_vm *vm, int op, const rv *a, const rv *b, bool *res)
{
    bool ok = true;
    if (is_strict(op) || ((a->t == RV_STR || a->t == RV_NULL) && (b->t == RV_STR || b->t == RV_NULL))) {
        *res = roost_vm_js_compare(vm, op, a, b, &ok);
    } else {
        if (!roost_js_precoerce_ok(a))
            FAIL(MSG_NAN);
        double x = roost_vm_to_number(vm, a, &ok);
        if (x != x)
            FAIL(MSG_NAN);
        if (!roost_js_precoerce_ok(b))
            FAIL(MSG_NAN);
        double y = roost_vm_to_number(vm, b, &ok);
        if (y != y && a->t != RV_NULL)
            FAIL(MSG_NAN);
        rv na, nb;
        set_num(&na, x);
        set_num(&nb, y);
        *res = roost_vm_js_compare(vm, op, &na, &nb, &ok);
    }
    if (!ok)
        FAIL(MSG_SCRATCH);
    return true;
}

/* One step of a comparison chain. *pass is false when the chain fails here;
 * otherwise *next is the value the next step compares against. */
static bool chain_step(roost_vm *vm, int op, int mode, const rv *prev, const rv *cur, bool *pass,
                       rv *next)
{
    bool ok = true;
    switch (mode) {
    case CHAIN_COMPILED: {
        /* (left OP (prev = compareCheck(cur, prev))): the check sees the
         * register, which cur's own code may have just set. */
        rv c;
        if (!compare_check(vm, cur, &vm->prev, is_strict(op), &c))
            return false;
        vm->prev = c;
        *pass = roost_vm_js_compare(vm, op, prev, &c, &ok);
        *next = c;
        break;
    }
    case CHAIN_PAIRWISE:
        if (!compare_interp(vm, op, prev, cur, pass))
            return false;
        *next = *cur;
        break;
    default: { /* CHAIN_LEGACY, CHAIN_LEGACY_FIRST: createComparator's loop */
        if (is_strict(op) ||
            ((cur->t == RV_STR || cur->t == RV_NULL) && (prev->t == RV_STR || prev->t == RV_NULL))) {
            if (!roost_vm_js_compare(vm, op, prev, cur, &ok)) {
                *pass = false;
                break;
            }
        }
        if (!roost_js_precoerce_ok(cur))
            FAIL(MSG_NAN);
        double x = roost_vm_to_number(vm, cur, &ok);
        if (x != x && prev->t != RV_NULL)
            FAIL(MSG_NAN);
        double y = roost_vm_to_number(vm, prev, &ok);
        if (mode == CHAIN_LEGACY_FIRST && (!roost_js_precoerce_ok(prev) || y != y))
            FAIL(MSG_NAN);
        rv np, nc;
        set_num(&np, y);
        set_num(&nc, x);
        *pass = roost_vm_js_compare(vm, op, &np, &nc, &ok);
        *next = *cur;
        break;
    }
    }
    if (!ok)
        FAIL(MSG_SCRATCH);
    return true;
}

/* a OP b for OP_CMP, OP_CMPJF and OP_CMPKJF. Compiled mode: a OP
 * compareCheck(b, prev register); interpreted: comparisonFunc(a, b), which
 * is compareCheck(b, a); self: compareCheck(b, b). */
static RI_HOT_INLINE bool cmp_values(roost_vm *vm, int cmp, int mode, const rv *a, const rv *b, bool *r)
{
    const rv *against = mode == CMP_MODE_COMPILED ? &vm->prev : mode == CMP_MODE_SELF ? b : a;
    /* Two strings under ==, ===, != or !==: compareCheck passes the second
     * through when the value it checks against is a string or null too
     * (always, for the strict ones). */
    if (a->t == RV_STR && b->t == RV_STR && cmp <= CMP_SNE &&
        (is_strict(cmp) || against->t == RV_STR || against->t == RV_NULL)) {
        bool eq = a->len == b->len && roost_bytes_eq(a->u.s, b->u.s, a->len);
        *r = (cmp == CMP_EQ || cmp == CMP_SEQ) ? eq : !eq;
        return true;
    }
    rv c;
    bool ok = true;
    if (!compare_check(vm, b, against, is_strict(cmp), &c))
        return false;
    *r = roost_vm_js_compare(vm, cmp, a, &c, &ok);
    if (!ok)
        FAIL(MSG_SCRATCH);
    return true;
}

/* ----------------------------------------------------------- arithmetic */

static double js_mod(double a, double b)
{
    return fmod(a, b);
}

/* +, *, -, /, % over n operands (n >= 1; the compiler turns the other
 * arities into constants or errors the way json-logic-engine does). */
static bool arith(roost_vm *vm, int op, int n, unsigned mode, rv *args, rv *out)
{
    bool ok = true;
    double acc = 0;
    bool interp = (mode & MODE_INTERP) != 0;

    if (interp && (op == ARITH_SUB || op == ARITH_DIV || op == ARITH_MOD)) {
        /* Interpreted -, /, % reject an object first operand up front. */
        if (args[0].t == RV_ARR || args[0].t == RV_OBJ)
            FAIL(MSG_NAN);
    }
    if ((op == ARITH_SUB || op == ARITH_ADD) && n == 1) {
        if (interp && !roost_js_truthy(&args[0])) { /* '+'(x) / '-'(x): `if (!data) return 0` */
            set_num(out, 0);
        } else {
            if (!roost_js_precoerce_ok(&args[0]))
                FAIL(MSG_NAN);
            double x = roost_vm_to_number(vm, &args[0], &ok);
            if (x != x)
                FAIL(MSG_NAN);
            set_num(out, op == ARITH_SUB ? -x : x);
        }
        if (!ok)
            FAIL(MSG_SCRATCH);
        return true;
    }
    if (op == ARITH_DIV && interp) {
        double x = roost_vm_to_number(vm, &args[0], &ok);
        if (n == 1) {
            if (x == 0 || x != x)
                FAIL("division by zero");
            x = 1 / x;
        } else {
            for (int i = 1; i < n; i++) {
                if (args[i].t == RV_ARR || args[i].t == RV_OBJ || !roost_js_truthy(&args[i]))
                    FAIL("division by zero");
                x /= roost_vm_to_number(vm, &args[i], &ok);
            }
            if (x != x || x == INFINITY)
                FAIL(MSG_NAN);
        }
        if (!ok)
            FAIL(MSG_SCRATCH);
        set_num(out, x);
        return true;
    }
    for (int i = 0; i < n; i++) {
        if (interp) {
            if (args[i].t == RV_ARR || args[i].t == RV_OBJ)
                FAIL(MSG_NAN);
        } else if (!roost_js_precoerce_ok(&args[i])) {
            FAIL(MSG_NAN);
        }
        double x = roost_vm_to_number(vm, &args[i], &ok);
        if (i == 0) {
            acc = x;
            continue;
        }
        switch (op) {
        case ARITH_ADD: acc += x; break;
        case ARITH_MUL: acc *= x; break;
        case ARITH_SUB: acc -= x; break;
        case ARITH_DIV:
            if (x == 0 || x != x) /* precoerceNumber(x || NaN) */
                FAIL("division by zero");
            acc /= x;
            break;
        default: acc = js_mod(acc, x); break;
        }
    }
    if (!ok)
        FAIL(MSG_SCRATCH);
    if (acc != acc)
        FAIL(MSG_NAN);
    set_num(out, acc);
    return true;
}

/* --------------------------------------------------------------- strings */

/* Byte offset of UTF-16 code unit `unit` in UTF-8 text. *split is set when
 * the unit is the second half of a surrogate pair (the offset is then the
 * start of that 4-byte character). Invalid bytes count one unit each. */
static uint32_t unit_offset(const unsigned char *s, uint32_t len, double unit, bool *split)
{
    uint32_t i = 0;
    double u = 0;
    *split = false;
    while (i < len && u < unit) {
        unsigned char c = s[i];
        uint32_t n = c < 0x80 ? 1 : c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
        if (i + n > len)
            n = 1;
        double units = n == 4 ? 2 : 1;
        if (u + units > unit) { /* unit is inside this surrogate pair */
            *split = true;
            return i;
        }
        u += units;
        i += n;
    }
    return i;
}

static uint32_t utf16_length(const unsigned char *s, uint32_t len)
{
    uint32_t units = 0;
    for (uint32_t i = 0; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            units++;
        if (s[i] >= 0xf0 && s[i] <= 0xf4)
            units++;
    }
    return units;
}

static double to_integer_or_inf(roost_vm *vm, const rv *v, bool *ok)
{
    double d = roost_vm_to_number(vm, v, ok);
    if (d != d)
        return 0;
    if (d == INFINITY || d == -INFINITY || d >= 9.2e18 || d <= -9.2e18)
        return d;
    return (double)(int64_t)d;
}

/* String.prototype.substr(start, length) over UTF-16 units. length NULL
 * means undefined. A cut through a surrogate pair gives U+FFFD where
 * JavaScript would leave a lone surrogate (UTF-8 cannot hold one). */
static bool js_substr(roost_vm *vm, const char *str, uint32_t len, double start, const rv *length,
                      rv *out)
{
    bool ok = true;
    const unsigned char *s = (const unsigned char *)str;
    double size = utf16_length(s, len);
    double from = start == -INFINITY ? 0 : start < 0 ? (size + start > 0 ? size + start : 0)
                                                    : (start < size ? start : size);
    double count = length ? to_integer_or_inf(vm, length, &ok) : INFINITY;
    double end = from + count < size ? from + count : size;
    if (!ok)
        FAIL(MSG_SCRATCH);
    if (from >= end) {
        set_str(out, "", 0);
        return true;
    }
    bool split_a, split_b;
    uint32_t a = unit_offset(s, len, from, &split_a);
    uint32_t b = unit_offset(s, len, end, &split_b);
    if (!split_a && !split_b) {
        set_str(out, str + a, b - a);
        return true;
    }
    /* Rebuild with U+FFFD for each half pair. from < end, so two cuts are
     * never in the same pair. */
    uint32_t body_a = split_a ? a + 4 : a, body_b = b < body_a ? body_a : b;
    uint32_t n = (split_a ? 3 : 0) + (body_b - body_a) + (split_b ? 3 : 0);
    char *o = roost_vm_alloc(vm, n);
    if (!o)
        FAIL(MSG_SCRATCH);
    char *p = o;
    if (split_a) {
        memcpy(p, "\xef\xbf\xbd", 3);
        p += 3;
    }
    memcpy(p, str + body_a, body_b - body_a);
    p += body_b - body_a;
    if (split_b) {
        memcpy(p, "\xef\xbf\xbd", 3);
        p += 3;
    }
    set_str(out, o, (uint32_t)(p - o));
    return true;
}

/* json-logic-engine's substr([string, from, end]): end < 0 counts from the
 * end of the string; `string` must be a string (TypeError otherwise). */
static bool op_substr(roost_vm *vm, int n, rv *args, rv *out)
{
    bool ok = true;
    if (n < 1 || args[0].t != RV_STR)
        FAIL("substr needs a string");
    double from = n >= 2 ? to_integer_or_inf(vm, &args[1], &ok) : 0;
    const rv *end = n >= 3 ? &args[2] : NULL;
    bool end_negative = false;
    if (end) {
        rv zero;
        set_num(&zero, 0);
        end_negative = roost_vm_js_compare(vm, CMP_LT, end, &zero, &ok);
    }
    if (!ok)
        FAIL(MSG_SCRATCH);
    if (!end_negative)
        return js_substr(vm, args[0].u.s, args[0].len, from, end, out);

    rv head;
    if (!js_substr(vm, args[0].u.s, args[0].len, from, NULL, &head))
        return false;
    /* result.length + end: string concatenation when end is (or turns into)
     * a string, numeric addition otherwise. */
    double hlen = utf16_length((const unsigned char *)head.u.s, head.len);
    rv count;
    if (end->t == RV_STR || end->t == RV_ARR || end->t == RV_OBJ) {
        const char *es;
        uint32_t elen;
        char num[ROOST_JSNUM_MAX];
        size_t nl = roost_jsnum_format(hlen, num);
        if (!roost_vm_to_string(vm, end, &es, &elen))
            FAIL(MSG_SCRATCH);
        char *o = roost_vm_alloc(vm, (uint32_t)nl + elen);
        if (!o)
            FAIL(MSG_SCRATCH);
        memcpy(o, num, nl);
        memcpy(o + nl, es, elen);
        set_str(&count, o, (uint32_t)nl + elen);
    } else {
        set_num(&count, hlen + roost_vm_to_number(vm, end, &ok));
    }
    return js_substr(vm, head.u.s, head.len, 0, &count, out);
}

/* cat: '' + a + b ... in the compiled form (null prints "null"); the
 * interpreted form skips null; a single non-array operand calls its
 * toString() (TypeError on null). */
static rv op_cat(roost_vm *vm, int n, unsigned mode, rv *args)
{
    if (mode & MODE_UNARY) {
        /* cat.method(x): a string is itself, an array is concatenated with
         * nulls skipped, anything else is x.toString(). */
        if (args[0].t == RV_NULL)
            FAILV("cat of null"); /* null.toString() */
        if (args[0].t == RV_ARR) {
            const uint8_t *e = roost_const_at(vm->flag, args[0].len);
            uint16_t count = ri_u16(e + 2);
            uint32_t start = vm->scratch_used;
            for (uint16_t i = 0; i < count; i++) {
                rv el;
                const char *s;
                uint32_t len, mark = vm->scratch_used;
                roost_const_value(vm->flag, ri_u16(e + 4 + 2 * i), &el);
                if (el.t == RV_NULL)
                    continue;
                if (!roost_vm_to_string(vm, &el, &s, &len))
                    FAILV(MSG_SCRATCH);
                if (s == vm->scratch + mark && len == vm->scratch_used - mark)
                    continue;
                char *o = roost_vm_alloc(vm, len);
                if (!o)
                    FAILV(MSG_SCRATCH);
                memmove(o, s, len);
            }
            return str_rv(vm->scratch + start, vm->scratch_used - start);
        }
    }
    if (n == 0)
        return str_rv("", 0);
    if (n == 1 && args[0].t == RV_STR)
        return str_rv(args[0].u.s, args[0].len);
    uint32_t start = vm->scratch_used;
    for (int i = 0; i < n; i++) {
        if (args[i].t == RV_NULL && (mode & MODE_INTERP))
            continue;
        const char *s;
        uint32_t len;
        uint32_t mark = vm->scratch_used;
        if (!roost_vm_to_string(vm, &args[i], &s, &len))
            FAILV(MSG_SCRATCH);
        if (s == vm->scratch + mark && len == vm->scratch_used - mark)
            continue; /* formatted in place */
        char *o = roost_vm_alloc(vm, len);
        if (!o)
            FAILV(MSG_SCRATCH);
        memmove(o, s, len);
    }
    return str_rv(vm->scratch + start, vm->scratch_used - start);
}

/* in: (haystack || []).includes(needle). */
static rv op_in(roost_vm *vm, const rv *needle, const rv *hay)
{
    if (!roost_js_truthy(hay))
        return bool_rv(false);
    if (hay->t == RV_STR) {
        const char *s;
        uint32_t len;
        if (!roost_vm_to_string(vm, needle, &s, &len))
            FAILV(MSG_SCRATCH);
        bool found = len == 0;
        for (uint32_t i = 0; !found && len <= hay->len && i <= hay->len - len; i++)
            found = memcmp(hay->u.s + i, s, len) == 0;
        return bool_rv(found);
    }
    if (hay->t == RV_ARR) {
        const uint8_t *e = roost_const_at(vm->flag, hay->len);
        uint16_t count = ri_u16(e + 2);
        bool found = false;
        for (uint16_t i = 0; i < count && !found; i++) {
            rv el;
            roost_const_value(vm->flag, ri_u16(e + 4 + 2 * i), &el);
            found = roost_js_same_value_zero(&el, needle);
        }
        return bool_rv(found);
    }
    FAILV("in: the second operand is neither a string nor an array");
}

/* starts_with / ends_with: exactly two strings, else null. */
static rv op_strcmp(int which, int n, const rv *args)
{
    if (n != 2 || args[0].t != RV_STR || args[1].t != RV_STR)
        return null_rv();
    const rv *s = &args[0], *p = &args[1];
    return bool_rv(p->len <= s->len &&
                   memcmp(which == 0 ? s->u.s : s->u.s + (s->len - p->len), p->u.s, p->len) == 0);
}

/* roost_semver_parse through the run's two-entry cache. */
static bool parse_cached(roost_vm *vm, const char *s, uint32_t len, roost_semver *out)
{
    for (int i = 0; i < 2; i++) {
        if (vm->semver_cache[i].s == s && vm->semver_cache[i].len == len && s) {
            *out = vm->semver_cache[i].v;
            return vm->semver_cache[i].ok;
        }
    }
    bool ok = roost_semver_parse(s, len, out);
    int slot = vm->semver_next;
    vm->semver_next ^= 1;
    vm->semver_cache[slot].s = s;
    vm->semver_cache[slot].len = len;
    vm->semver_cache[slot].ok = ok;
    vm->semver_cache[slot].v = *out;
    return ok;
}

/* sem_ver [version, operator, version]: null unless both parse and the
 * operator is one of = != < <= >= > ^ ~. */
static rv op_semver(roost_vm *vm, int n, const rv *args)
{
    if (n != 3)
        return null_rv();
    const char *as, *os, *bs;
    uint32_t al, ol, bl;
    if (!roost_vm_to_string(vm, &args[0], &as, &al) ||
        !roost_vm_to_string(vm, &args[1], &os, &ol) || !roost_vm_to_string(vm, &args[2], &bs, &bl))
        FAILV(MSG_SCRATCH);
    roost_semver a, b;
    if (!parse_cached(vm, as, al, &a) || !parse_cached(vm, bs, bl, &b))
        return null_rv();
    int c = roost_semver_compare(&a, &b);
    bool r;
    if (ol == 1 && os[0] == '=')
        r = c == 0;
    else if (ol == 2 && os[0] == '!' && os[1] == '=')
        r = c != 0;
    else if (ol == 1 && os[0] == '<')
        r = c < 0;
    else if (ol == 2 && os[0] == '<' && os[1] == '=')
        r = c <= 0;
    else if (ol == 2 && os[0] == '>' && os[1] == '=')
        r = c >= 0;
    else if (ol == 1 && os[0] == '>')
        r = c > 0;
    else if (ol == 1 && os[0] == '^')
        r = a.major == b.major;
    else if (ol == 1 && os[0] == '~')
        r = a.major == b.major && a.minor == b.minor;
    else
        return null_rv();
    return bool_rv(r);
}

/* ----------------------------------------------------------- fractional */

/* The entry behind a fractional operand of `shape` at `slot`: its first
 * two elements (copied only when they come from a constant) and its
 * length. False for an operand that is not an entry at all ("Invalid
 * bucket entries"). */
static bool frac_entry(roost_vm *vm, uint8_t shape, const rv *slot, rv tmp[2], const rv **elems,
                       uint32_t *count)
{
    if (shape != RI_FRAC_VALUE) {
        *elems = slot;
        *count = shape;
        return true;
    }
    if (slot->t != RV_ARR)
        return false;
    const uint8_t *arr = roost_const_at(vm->flag, slot->len);
    *count = ri_u16(arr + 2);
    for (uint32_t k = 0; k < *count && k < 2; k++)
        roost_const_value(vm->flag, ri_u16(arr + 4 + 2 * k), &tmp[k]);
    *elems = tmp;
    return true;
}

/* The bucket table a TABLE operand holds (the compiler checked its
 * buckets), or NULL when the operand is not one. */
static const uint8_t *frac_table(roost_vm *vm, const rv *slot)
{
    return slot->t == RV_TABLE ? roost_const_at(vm->flag, slot->len) : NULL;
}

/* An entry's weight (default 1, negatives count as 0), or -1 when the entry
 * makes the whole operator null: not 1-2 elements, a variant that is an
 * array or object, or a weight that is not an integer number. */
static double frac_weight(const rv *e, uint32_t count)
{
    if (count == 0 || count > 2 || e[0].t == RV_ARR || e[0].t == RV_OBJ)
        return -1;
    if (count == 1)
        return 1;
    double w = e[1].u.n;
    if (e[1].t != RV_NUM || w != w || w == INFINITY || w == -INFINITY)
        return -1;
    if (w > -9.2e18 && w < 9.2e18 && w != (double)(int64_t)w)
        return -1; /* Number.isInteger (larger doubles are all integers) */
    return w < 0 ? 0 : w;
}

/* The hash state after the flag key: the blocks as roost_flag_load mixed
 * them, the pending bytes read again from the key. */
static inline void murmur_after_key(const roost_flag *f, roost_murmur3 *m)
{
    uint32_t n = f->key_len & 3, tail = 0;
    const uint8_t *t = (const uint8_t *)f->key + (f->key_len - n);
    for (uint32_t i = 0; i < n; i++)
        tail |= (uint32_t)t[i] << (8 * i);
    m->h = f->key_murmur_h;
    m->tail = tail;
    m->ntail = n;
    m->total = f->key_len;
}

/* flagd's fractional: [bucketing key?, [variant, weight?]...]. */
static rv op_frac(roost_vm *vm, int n, const uint8_t *shapes, rv *base)
{
    if (n < 1)
        return null_rv();

    roost_murmur3 m;
    int first = 0;
    if (shapes[0] == RI_FRAC_KEYED) {
        const char *s;
        uint32_t len;
        if (!roost_vm_to_string(vm, &base[0], &s, &len))
            FAILV(MSG_SCRATCH);
        murmur_after_key(vm->flag, &m);
        roost_murmur3_update(&m, s, len);
        first = 1;
    } else if (shapes[0] == RI_FRAC_VALUE && base[0].t == RV_STR) {
        roost_murmur3_init(&m, 0);
        roost_murmur3_update(&m, base[0].u.s, base[0].len);
        first = 1;
    } else {
        static const char tk_path[] = "targetingKey";
        rv tk;
        roost_ctx_lookup(vm->ctx, tk_path, sizeof tk_path - 1,
                         roost_path_hash(tk_path, sizeof tk_path - 1), &tk);
        if (!roost_js_truthy(&tk))
            return null_rv();
        const char *s;
        uint32_t len;
        if (!roost_vm_to_string(vm, &tk, &s, &len))
            FAILV(MSG_SCRATCH);
        murmur_after_key(vm->flag, &m);
        roost_murmur3_update(&m, s, len);
    }

    /* Pass 1: validate every entry and total the weights. */
    double total = 0;
    rv tmp[2];
    const rv *e;
    uint32_t count;
    const rv *slot = base + first;
    for (int i = first; i < n; i++) {
        if (shapes[i] == RI_FRAC_TABLE) {
            const uint8_t *t = frac_table(vm, slot++);
            if (!t)
                return null_rv();
            total += ri_u32(t + 4);
            continue;
        }
        double w = frac_entry(vm, shapes[i], slot, tmp, &e, &count) ? frac_weight(e, count) : -1;
        if (w < 0)
            return null_rv();
        total += w;
        slot += shapes[i] == RI_FRAC_VALUE ? 1 : shapes[i];
    }
    if (total > 2147483647.0)
        return null_rv();
    uint32_t bucket = roost_bucket(roost_murmur3_final(&m), (uint32_t)total);

    /* Pass 2: the first entry whose cumulative weight exceeds the bucket. */
    double sum = 0;
    slot = base + first;
    for (int i = first; i < n; i++) {
        if (shapes[i] == RI_FRAC_TABLE) {
            const uint8_t *t = frac_table(vm, slot++);
            uint16_t entries = ri_u16(t + 2);
            for (uint16_t j = 0; j < entries; j++) {
                sum += ri_u32(t + 8 + 6 * j + 2);
                if (sum > (double)bucket) {
                    rv v;
                    roost_const_value(vm->flag, ri_u16(t + 8 + 6 * j), &v);
                    return v;
                }
            }
            continue;
        }
        frac_entry(vm, shapes[i], slot, tmp, &e, &count);
        sum += frac_weight(e, count);
        if (sum > (double)bucket)
            return e[0];
        slot += shapes[i] == RI_FRAC_VALUE ? 1 : shapes[i];
    }
    return null_rv();
}

/* ----------------------------------------------------------- the loop */

bool roost_vm_run(roost_vm *vm, const uint8_t *code, uint32_t len, const rv **out)
{
    rv *sp = vm->stack; /* next free slot */
    uint32_t pc = 0;

    vm->err = NULL;        /* operators returning values report errors here */
    set_null(&vm->prev); /* compiled rules assign prev before reading it */
    vm->semver_cache[0].s = vm->semver_cache[1].s = NULL;
    vm->semver_next = 0;
    (void)len; /* bounds were verified when the image was loaded */
    for (;;) {
        uint8_t op = code[pc++];
        switch (op) {
        case OP_RET:
            *out = &sp[-1];
            return true;
        case OP_NULL:
            set_null(sp++);
            break;
        case OP_TRUE:
            set_bool(sp++, true);
            break;
        case OP_FALSE:
            set_bool(sp++, false);
            break;
        case OP_CONST: {
            uint16_t k = ri_u16(code + pc);
            const uint8_t *e = roost_const_at(vm->flag, k);
            pc += 2;
            if (e[0] == RK_STR) { /* the common case, inline */
                set_str(sp, (const char *)e + 7, ri_u32(e + 1));
                sp->vi = ri_u16(e + 5);
                sp++;
            } else {
                roost_const_value(vm->flag, k, sp++);
            }
            break;
        }
        case OP_VAR: {
            const uint8_t *e = roost_const_at(vm->flag, ri_u16(code + pc));
            pc += 2;
            lookup(vm, (const char *)e + 9, ri_u32(e + 1), ri_u32(e + 5), sp++);
            break;
        }
        case OP_VARP: {
            const uint8_t *e = roost_const_at(vm->flag, ri_u16(code + pc));
            pc += 2;
            lookup(vm, (const char *)e + 9, ri_u32(e + 1), ri_u32(e + 5), sp);
            vm->prev = *sp++;
            break;
        }
        case OP_PREV:
            vm->prev = sp[-1];
            break;
        case OP_VAR_DYN:
            if (!var_dynamic(vm, &sp[-1]))
                return false;
            break;
        case OP_VAR_ALL:
            sp->t = RV_OBJ;
            sp->f = RV_OBJ_NONEMPTY | RV_OBJ_ROOT;
            sp->vi = 0;
            sp++;
            break;
        case OP_FLAGKEY:
            set_str(sp++, vm->flag->key, vm->flag->key_len);
            break;
        case OP_TIMESTAMP:
            set_num(sp++, vm->ctx ? (double)vm->ctx->timestamp : 0.0);
            break;
        case OP_POP:
            sp--;
            break;
        case OP_JMP:
            pc += 2 + ri_u16(code + pc);
            break;
        case OP_JF: {
            --sp;
            bool t = sp->t == RV_BOOL ? sp->f != 0 : roost_logic_truthy(vm->flag, sp);
            pc += 2 + (t ? 0 : ri_u16(code + pc));
            break;
        }
        case OP_JFK:
            if (!roost_logic_truthy(vm->flag, &sp[-1])) {
                pc += 2 + ri_u16(code + pc);
            } else {
                sp--;
                pc += 2;
            }
            break;
        case OP_JTK:
            if (roost_logic_truthy(vm->flag, &sp[-1])) {
                pc += 2 + ri_u16(code + pc);
            } else {
                sp--;
                pc += 2;
            }
            break;
        case OP_COALESCE:
            if (sp[-1].t != RV_NULL) {
                pc += 2 + ri_u16(code + pc);
            } else {
                sp--;
                pc += 2;
            }
            break;
        case OP_NOT:
            set_bool(&sp[-1], !roost_logic_truthy(vm->flag, &sp[-1]));
            break;
        case OP_NOTNOT:
            set_bool(&sp[-1], roost_logic_truthy(vm->flag, &sp[-1]));
            break;
        case OP_NOTA: {
            bool dbl = code[pc++] != 0;
            rv v = sp[-1];
            if (v.t == RV_ARR) { /* '!'(array) reads value[0] */
                const uint8_t *e = roost_const_at(vm->flag, v.len);
                if (ri_u16(e + 2) == 0)
                    set_null(&v);
                else
                    roost_const_value(vm->flag, ri_u16(e + 4), &v);
            }
            bool t = roost_logic_truthy(vm->flag, &v);
            set_bool(&sp[-1], dbl ? t : !t);
            break;
        }
        case OP_CMP:
        case OP_CMPJF: {
            int cmp = code[pc], mode = code[pc + 1];
            bool r;
            pc += 2;
            sp--;
            if (!cmp_values(vm, cmp, mode, &sp[-1], &sp[0], &r))
                return false;
            if (op == OP_CMP) {
                set_bool(&sp[-1], r);
            } else { /* CMPJF: the bool would be popped and tested at once */
                sp--;
                pc += 2 + (r ? 0 : ri_u16(code + pc));
            }
            break;
        }
        case OP_CMPKJF: {
            int cmp = code[pc], mode = code[pc + 1];
            rv a, b;
            bool r;
            operand(vm, ri_u16(code + pc + 2), &a);
            operand(vm, ri_u16(code + pc + 4), &b);
            pc += 8;
            if (!cmp_values(vm, cmp, mode, &a, &b, &r))
                return false;
            if (!r)
                pc += ri_u16(code + pc - 2);
            break;
        }
        case OP_RETC: {
            uint16_t k = ri_u16(code + pc);
            const uint8_t *e = roost_const_at(vm->flag, k);
            if (e[0] == RK_STR) { /* a variant name, nearly always */
                set_str(sp, (const char *)e + 7, ri_u32(e + 1));
                sp->vi = ri_u16(e + 5);
            } else {
                roost_const_value(vm->flag, k, sp);
            }
            *out = sp;
            return true;
        }
        case OP_CMPC: {
            int cmp = code[pc], mode = code[pc + 1];
            uint16_t rel = ri_u16(code + pc + 2);
            pc += 4;
            bool pass;
            rv next;
            sp--;
            if (!chain_step(vm, cmp, mode, &sp[-1], &sp[0], &pass, &next))
                return false;
            if (pass) {
                sp[-1] = next;
            } else {
                set_bool(&sp[-1], false);
                pc += rel;
            }
            break;
        }
        case OP_CMPE:
            set_bool(&sp[-1], true);
            break;
        case OP_ARITH: {
            int aop = code[pc], n = code[pc + 1];
            unsigned mode = code[pc + 2];
            pc += 3;
            sp -= n;
            if (!arith(vm, aop, n, mode, sp, sp))
                return false;
            sp++;
            break;
        }
        case OP_MINMAX: {
            int is_max = code[pc], n = code[pc + 1];
            pc += 2;
            sp -= n;
            for (int i = 0; i < n; i++)
                if (sp[i].t != RV_NUM)
                    FAIL("min/max need numbers");
            double m = sp[0].u.n;
            for (int i = 1; i < n; i++)
                if (is_max ? sp[i].u.n > m : sp[i].u.n < m)
                    m = sp[i].u.n;
            set_num(sp++, m);
            break;
        }
        case OP_IN: { /* (haystack || []).includes(needle): haystack runs first */
            sp--;
            rv r = op_in(vm, &sp[0], &sp[-1]);
            if (vm->err)
                return false;
            sp[-1] = r;
            break;
        }
        case OP_INL: { /* [items...].includes(needle) */
            int n = code[pc++];
            rv *needle = &sp[-1];
            sp -= n + 1;
            bool found = false;
            for (int i = 0; i < n && !found; i++)
                found = roost_js_same_value_zero(&sp[i], needle);
            set_bool(sp++, found);
            break;
        }
        case OP_CAT: {
            int n = code[pc];
            unsigned mode = code[pc + 1];
            pc += 2;
            sp -= n;
            rv r = op_cat(vm, n, mode, sp);
            if (vm->err)
                return false;
            *sp++ = r;
            break;
        }
        case OP_SUBSTR: {
            int n = code[pc++];
            sp -= n;
            rv r;
            if (!op_substr(vm, n, sp, &r))
                return false;
            *sp++ = r;
            break;
        }
        case OP_STRCMP: {
            int which = code[pc], n = code[pc + 1];
            pc += 2;
            sp -= n;
            rv r = op_strcmp(which, n, sp);
            *sp++ = r;
            break;
        }
        case OP_SEMVER: {
            int n = code[pc++];
            sp -= n;
            rv r = op_semver(vm, n, sp);
            if (vm->err)
                return false;
            *sp++ = r;
            break;
        }
        case OP_FRAC: {
            int n = code[pc];
            const uint8_t *shapes = code + pc + 1;
            uint32_t slots = 0;
            for (int i = 0; i < n; i++)
                slots += shapes[i] >= RI_FRAC_KEYED ? 1 : shapes[i];
            pc += 1 + (uint32_t)n;
            sp -= slots;
            rv r = op_frac(vm, n, shapes, sp);
            if (vm->err)
                return false;
            *sp++ = r;
            break;
        }
        case OP_SELECT: /* the optimizer's if idiom when folding: all three evaluated */
            sp -= 2;
            sp[-1] = roost_logic_truthy(vm->flag, &sp[-1]) ? sp[0] : sp[1];
            break;
        case OP_CMP3: { /* the optimizer's 3-operand comparison idiom when folding */
            int cmp = code[pc++];
            bool r;
            sp -= 2;
            if (!compare_interp(vm, cmp, &sp[-1], &sp[0], &r))
                return false;
            if (r && !compare_interp(vm, cmp, &sp[0], &sp[1], &r))
                return false;
            set_bool(&sp[-1], r);
            break;
        }
        case OP_THROW:
            FAIL(code[pc] == THROW_TYPE ? "a value of the wrong type for this operator"
                                        : "invalid arguments for this operator");
        default:
            FAIL("unknown instruction"); /* unreachable after verification */
        }
    }
}

int roost_vm_variant_of(roost_vm *vm, const rv *v, bool *scratch_full)
{
    const roost_flag *f = vm->flag;
    *scratch_full = false;
    if (v->t == RV_STR && v->vi != 0)
        return v->vi - 1;
    const char *s;
    uint32_t len;
    if (!roost_vm_to_string(vm, v, &s, &len)) {
        *scratch_full = true;
        return -1;
    }
    for (uint32_t i = 0; i < f->n_variants; i++) {
        const uint8_t *r = f->variants + RI_VARIANT_LEN * i;
        if (ri_u32(r + 4) == len && memcmp(f->image + ri_u32(r), s, len) == 0)
            return (int)i;
    }
    return -1;
}
