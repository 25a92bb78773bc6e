/* JavaScript value semantics for the rule interpreter.
 *
 * flagd's reference evaluator runs JsonLogic in JavaScript
 * (json-logic-engine under @openfeature/flagd-core), so what a rule means on
 * mixed types is whatever JavaScript does: "10" < 9 compares numbers, "a" <
 * "b" compares UTF-16 code units, null == 0 is false in JavaScript but true
 * after json-logic-engine's compareCheck, an empty array is truthy in `x ||
 * y` but falsy in JsonLogic's `if`. This file is the one place those rules
 * live; the interpreter (vm.c) only sequences them.
 *
 * Values are never allocated: strings point into the image, the context, or
 * the evaluation's scratch buffer, and arrays are constants of the image.
 */
#include <math.h>
#include <string.h>

#include "engine_internal.h"
#include "jsnum.h"

char *roost_vm_alloc(roost_vm *vm, uint32_t n)
{
    if (n > ROOST_EVAL_SCRATCH - vm->scratch_used)
        return NULL;
    char *p = vm->scratch + vm->scratch_used;
    vm->scratch_used += n;
    return p;
}

bool roost_js_truthy(const rv *v)
{
    switch (v->t) {
    case RV_NULL: return false;
    case RV_BOOL: return v->f != 0;
    case RV_NUM: return v->u.n != 0 && v->u.n == v->u.n;
    case RV_STR: return v->len != 0;
    default: return true; /* arrays, objects, bucket tables */
    }
}

static uint16_t arr_count(const roost_flag *flag, const rv *v)
{
    const uint8_t *e = roost_const_at(flag, v->len);
    return ri_u16(e + 2);
}

bool roost_logic_truthy(const roost_flag *flag, const rv *v)
{
    if (v->t == RV_ARR)
        return arr_count(flag, v) != 0;
    if (v->t == RV_OBJ)
        return (v->f & RV_OBJ_NONEMPTY) != 0;
    return roost_js_truthy(v);
}

bool roost_js_precoerce_ok(const rv *v)
{
    if (v->t == RV_ARR || v->t == RV_OBJ || v->t == RV_TABLE)
        return false;
    return !(v->t == RV_NUM && v->u.n != v->u.n);
}

/* ------------------------------------------------------------ strings */

/* Array.prototype.join(",") of a constant array, nested arrays included;
 * null elements are empty. Appends at vm scratch top. Depth is bounded by
 * RI_MAX_ARRAY_DEPTH (checked at load), so the recursion is too. */
static bool join_array(roost_vm *vm, uint32_t k)
{
    const uint8_t *e = roost_const_at(vm->flag, k);
    uint16_t count = ri_u16(e + 2);

    for (uint16_t i = 0; i < count; i++) {
        if (i > 0) {
            char *c = roost_vm_alloc(vm, 1);
            if (!c)
                return false;
            *c = ',';
        }
        rv el;
        roost_const_value(vm->flag, ri_u16(e + 4 + 2 * i), &el);
        if (el.t == RV_NULL)
            continue;
        if (el.t == RV_ARR) {
            if (!join_array(vm, el.len))
                return false;
            continue;
        }
        const char *s;
        uint32_t n;
        uint32_t mark = vm->scratch_used;
        if (!roost_vm_to_string(vm, &el, &s, &n))
            return false;
        if (s == vm->scratch + mark) /* already in place (a formatted number) */
            continue;
        char *o = roost_vm_alloc(vm, n);
        if (!o)
            return false;
        memcpy(o, s, n);
    }
    return true;
}

bool roost_vm_to_string(roost_vm *vm, const rv *v, const char **s, uint32_t *len)
{
    switch (v->t) {
    case RV_NULL:
        *s = "null";
        *len = 4;
        return true;
    case RV_BOOL:
        *s = v->f ? "true" : "false";
        *len = v->f ? 4 : 5;
        return true;
    case RV_STR:
        *s = v->u.s;
        *len = v->len;
        return true;
    case RV_NUM: {
        char buf[ROOST_JSNUM_MAX];
        size_t n = roost_jsnum_format(v->u.n, buf);
        char *o = roost_vm_alloc(vm, (uint32_t)n);
        if (!o)
            return false;
        memcpy(o, buf, n);
        *s = o;
        *len = (uint32_t)n;
        return true;
    }
    case RV_ARR: {
        uint32_t start = vm->scratch_used;
        if (!join_array(vm, v->len))
            return false;
        *s = vm->scratch + start;
        *len = vm->scratch_used - start;
        return true;
    }
    default:
        *s = "[object Object]";
        *len = 15;
        return true;
    }
}

int roost_utf16_cmp(const char *a, uint32_t alen, const char *b, uint32_t blen)
{
    uint32_t n = alen < blen ? alen : blen, i = 0;
    while (i < n && a[i] == b[i])
        i++;
    if (i == n)
        return alen == blen ? 0 : alen < blen ? -1 : 1;
    unsigned char ca = (unsigned char)a[i], cb = (unsigned char)b[i];
    /* UTF-8 byte order is code point order. It differs from UTF-16 order
     * only between a supplementary character (a 4-byte sequence, a
     * surrogate pair D800-DBFF in UTF-16) and U+E000..U+FFFF (EE..EF lead
     * bytes). Both lead bytes differ here (the first difference of two
     * sequences sharing earlier bytes is at a lead byte or inside the same
     * sequence length), so check the leads. */
    bool a_sup = ca >= 0xf0 && ca <= 0xf4, b_sup = cb >= 0xf0 && cb <= 0xf4;
    bool a_hi = ca >= 0xee && ca <= 0xef, b_hi = cb >= 0xee && cb <= 0xef;
    if (a_sup && b_hi)
        return -1;
    if (b_sup && a_hi)
        return 1;
    return ca < cb ? -1 : 1;
}

/* ------------------------------------------------------------ numbers */

double roost_vm_to_number(roost_vm *vm, const rv *v, bool *ok)
{
    switch (v->t) {
    case RV_NULL: return 0;
    case RV_BOOL: return v->f ? 1 : 0;
    case RV_NUM: return v->u.n;
    case RV_STR: return roost_jsnum_parse(v->u.s, v->len);
    case RV_ARR: {
        /* ToPrimitive of an array is its join(). */
        uint32_t mark = vm->scratch_used;
        const char *s;
        uint32_t n;
        if (!roost_vm_to_string(vm, v, &s, &n)) {
            *ok = false;
            vm->scratch_used = mark;
            return NAN;
        }
        double d = roost_jsnum_parse(s, n);
        vm->scratch_used = mark;
        return d;
    }
    default: return NAN;
    }
}

static bool obj_same(const rv *a, const rv *b)
{
    if (!(a->f & (RV_OBJ_PATH | RV_OBJ_ROOT)) || (a->f & (RV_OBJ_PATH | RV_OBJ_ROOT)) !=
                                                     (b->f & (RV_OBJ_PATH | RV_OBJ_ROOT)))
        return false; /* {} literals are distinct objects */
    if (a->f & RV_OBJ_ROOT)
        return true;
    return a->len == b->len && memcmp(a->u.s, b->u.s, a->len) == 0;
}

bool roost_js_strict_eq(const rv *a, const rv *b)
{
    if (a->t != b->t)
        return false;
    switch (a->t) {
    case RV_NULL: return true;
    case RV_BOOL: return a->f == b->f;
    case RV_NUM: return a->u.n == b->u.n;
    case RV_STR: return a->len == b->len && memcmp(a->u.s, b->u.s, a->len) == 0;
    case RV_OBJ: return obj_same(a, b);
    default: return false; /* every array literal is a distinct object */
    }
}

bool roost_js_same_value_zero(const rv *a, const rv *b)
{
    if (a->t == RV_NUM && b->t == RV_NUM && a->u.n != a->u.n && b->u.n != b->u.n)
        return true;
    return roost_js_strict_eq(a, b);
}

/* ToPrimitive for the loose and relational operators: arrays and objects
 * become their string form. */
static bool to_primitive(roost_vm *vm, const rv *v, rv *out)
{
    if (v->t != RV_ARR && v->t != RV_OBJ) {
        *out = *v;
        return true;
    }
    const char *s;
    uint32_t n;
    if (!roost_vm_to_string(vm, v, &s, &n))
        return false;
    out->t = RV_STR;
    out->vi = 0;
    out->u.s = s;
    out->len = n;
    return true;
}

static bool loose_eq(roost_vm *vm, const rv *a, const rv *b, bool *ok)
{
    if (a->t == RV_NULL || b->t == RV_NULL)
        return a->t == b->t;
    if ((a->t == RV_ARR || a->t == RV_OBJ) && (b->t == RV_ARR || b->t == RV_OBJ))
        return roost_js_strict_eq(a, b);
    rv pa, pb;
    if (!to_primitive(vm, a, &pa) || !to_primitive(vm, b, &pb)) {
        *ok = false;
        return false;
    }
    if (pa.t == RV_STR && pb.t == RV_STR)
        return pa.len == pb.len && memcmp(pa.u.s, pb.u.s, pa.len) == 0;
    if (pa.t == RV_BOOL && pb.t == RV_BOOL)
        return pa.f == pb.f;
    return roost_vm_to_number(vm, &pa, ok) == roost_vm_to_number(vm, &pb, ok);
}

bool roost_vm_js_compare(roost_vm *vm, int op, const rv *a, const rv *b, bool *ok)
{
    switch (op) {
    case CMP_SEQ: return roost_js_strict_eq(a, b);
    case CMP_SNE: return !roost_js_strict_eq(a, b);
    case CMP_EQ: return loose_eq(vm, a, b, ok);
    case CMP_NE: return !loose_eq(vm, a, b, ok);
    default: break;
    }
    rv pa, pb;
    if (!to_primitive(vm, a, &pa) || !to_primitive(vm, b, &pb)) {
        *ok = false;
        return false;
    }
    int c;
    if (pa.t == RV_STR && pb.t == RV_STR) {
        c = roost_utf16_cmp(pa.u.s, pa.len, pb.u.s, pb.len);
    } else {
        double x = roost_vm_to_number(vm, &pa, ok), y = roost_vm_to_number(vm, &pb, ok);
        if (x != x || y != y)
            return false; /* every relation with NaN is false */
        c = x < y ? -1 : x > y;
    }
    switch (op) {
    case CMP_LT: return c < 0;
    case CMP_LE: return c <= 0;
    case CMP_GT: return c > 0;
    default: return c >= 0;
    }
}
