/* JsonLogic targeting rules -> Roost rule programs.
 *
 * The target semantics are @openfeature/flagd-core 4.0.1's, which compiles
 * rules with json-logic-engine 5.0.7. That engine has three behaviours that
 * show through in results, and this compiler reproduces each:
 *
 *  1. Constant folding at build time. Any sub-rule with no `var` and no
 *     flagd operator (sem_ver, fractional, starts_with, ends_with) is
 *     evaluated once when the flag is loaded, with the *interpreted*
 *     semantics; if that evaluation throws, the whole flag is a
 *     PARSE_ERROR. We fold the same sub-rules by running our own interpreter
 *     on them (so folding and evaluation cannot disagree) and turn a
 *     failure into an image that evaluates to PARSE_ERROR, plus a warning.
 *  2. Build-time checks of the compiled form: an unknown operator anywhere,
 *     `-` or `/` without operands, `%` with fewer than two, a literal array
 *     or non-numeric string as an arithmetic operand, a constant zero
 *     divisor. Same outcome: PARSE_ERROR and a warning.
 *  3. Interpreted regions. An `if` with fewer than three operands is not
 *     compiled by json-logic-engine; its operands are interpreted at run
 *     time, where `cat` skips nulls, unary `-` does not check for NaN,
 *     division checks differ and comparison chains use other rules. Code
 *     generated inside such a region carries the interpreted mode bits, and
 *     a folding failure there becomes a run-time error at that operand
 *     instead of a PARSE_ERROR.
 *
 * Everything else is structural: each operator becomes a few stack
 * instructions (engine_internal.h), constants are interned in a pool, and
 * the finished program is checked by the same verifier SDKs run on load.
 *
 * What Roost does not do (errors, with a message saying so): JsonLogic
 * operators outside flagd's documented set (map, reduce, merge, missing...),
 * and arrays whose elements are computed anywhere but in an `in` list or a
 * fractional bucket. Limits are checked here with messages that name them;
 * the verifier re-checks them for images from elsewhere.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile_internal.h"
#include "engine_internal.h"
#include "jsnum.h"

enum { R_OK = 0, R_ERR, R_FOLD, R_DYN };

enum opkind {
    K_VAR,
    K_IF,
    K_CMP,
    K_NOT,
    K_NOTNOT,
    K_AND,
    K_OR,
    K_IN,
    K_CAT,
    K_SUBSTR,
    K_ARITH,
    K_MINMAX,
    K_STRCMP,
    K_SEMVER,
    K_FRAC
};

typedef struct opdef {
    const char *name;
    uint8_t kind;
    uint8_t sub;
    bool custom; /* a flagd operator: never folded */
} opdef;

static const opdef OPS[] = {
    {"var", K_VAR, 0, false},           {"if", K_IF, 0, false},
    {"?:", K_IF, 0, false},             {"==", K_CMP, CMP_EQ, false},
    {"===", K_CMP, CMP_SEQ, false},     {"!=", K_CMP, CMP_NE, false},
    {"!==", K_CMP, CMP_SNE, false},     {"<", K_CMP, CMP_LT, false},
    {"<=", K_CMP, CMP_LE, false},       {">", K_CMP, CMP_GT, false},
    {">=", K_CMP, CMP_GE, false},       {"!", K_NOT, 0, false},
    {"not", K_NOT, 0, false},           {"!!", K_NOTNOT, 0, false},
    {"and", K_AND, 0, false},           {"or", K_OR, 0, false},
    {"in", K_IN, 0, false},             {"cat", K_CAT, 0, false},
    {"substr", K_SUBSTR, 0, false},     {"+", K_ARITH, ARITH_ADD, false},
    {"*", K_ARITH, ARITH_MUL, false},   {"-", K_ARITH, ARITH_SUB, false},
    {"/", K_ARITH, ARITH_DIV, false},   {"%", K_ARITH, ARITH_MOD, false},
    {"min", K_MINMAX, 0, false},        {"max", K_MINMAX, 1, false},
    {"starts_with", K_STRCMP, 0, true}, {"ends_with", K_STRCMP, 1, true},
    {"sem_ver", K_SEMVER, 0, true},     {"fractional", K_FRAC, 0, true},
};

/* JsonLogic operators json-logic-engine knows but Roost does not run. */
static const char *const UNSUPPORTED[] = {
    "throw", "preserve", "??",     "try",  "length", "exists",  "val",
    "map",   "some",     "all",    "every", "none",  "merge",   "filter",
    "reduce", "keys",    "pipe",   "eachKey", "get", "missing", "missing_some",
};

static const opdef *find_op(const char *name)
{
    for (size_t i = 0; i < sizeof OPS / sizeof OPS[0]; i++)
        if (strcmp(OPS[i].name, name) == 0)
            return &OPS[i];
    return NULL;
}

static bool is_unsupported(const char *name)
{
    for (size_t i = 0; i < sizeof UNSUPPORTED / sizeof UNSUPPORTED[0]; i++)
        if (strcmp(UNSUPPORTED[i], name) == 0)
            return true;
    return false;
}

/* ------------------------------------------------------------ state */

typedef struct rc {
    const rule_env *env;
    rule_out *out;
    roost_error *err;
    char path[768];
    size_t plen;
    bool folding; /* compiling a sub-rule that is being folded */
    /* Whether json-logic-engine's prev, as this code leaves it, can be read:
     * true inside the second (and later) operand of a compiled comparison,
     * until an assignment that always follows (and/or, var defaults, a
     * nested comparison's first operand) hides it. Where it cannot be
     * read, VARP/PREV are not emitted. */
    bool prev_live;
    /* The expression being compiled is the rule's result: it may end the
     * program itself (RET / RETC) instead of jumping to a shared RET. */
    bool tail;
    size_t last_op;    /* offset of the last instruction emitted */
    size_t last_label; /* the latest jump target patched */
    /* Where the operands of the OP_CMP just emitted start, when they are
     * one CONST or VAR each (an `if` then fuses all three into OP_CMPKJF);
     * SIZE_MAX otherwise. */
    size_t cmpk_at;
    char fold_msg[ROOST_ERROR_MSG_MAX];
} rc;

static void path_key(rc *c, const char *key)
{
    int n = snprintf(c->path + c->plen, sizeof c->path - c->plen, ".%s", key);
    if (n > 0 && (size_t)n < sizeof c->path - c->plen)
        c->plen += (size_t)n;
}

static void path_index(rc *c, int i)
{
    int n = snprintf(c->path + c->plen, sizeof c->path - c->plen, "[%d]", i);
    if (n > 0 && (size_t)n < sizeof c->path - c->plen)
        c->plen += (size_t)n;
}

static void path_restore(rc *c, size_t plen)
{
    c->plen = plen;
    c->path[plen] = '\0';
}

/* Records an error (the message starts with the JSON path) and returns
 * R_ERR, so that error paths read `return ERR(...)`. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int rc_err(rc *c, roost_status code, const char *fmt, ...)
{
    char msg[ROOST_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    roost_error_set(c->err, code, "%s", msg);
    return R_ERR;
}
#define ERR(code, ...) rc_err(c, (code), __VA_ARGS__)

static int nomem(rc *c)
{
    return ERR(ROOST_ENOMEM, "out of memory compiling %s", c->path);
}

/* A folding failure or build-time check: becomes PARSE_ERROR (or a run-time
 * error inside an interpreted region). */
static int fold_fail(rc *c, const char *what)
{
    snprintf(c->fold_msg, sizeof c->fold_msg, "%.200s: %.300s", c->path, what);
    return R_FOLD;
}

/* ------------------------------------------------------------ emitting */

static int emit(rc *c, const void *bytes, size_t n)
{
    if (c->out->code.len + n > 4u * ROOST_MAX_CODE)
        return ERR(ROOST_ELIMIT,
                   "%s: the targeting rule compiles to more than %u bytes of program "
                   "(ROOST_MAX_CODE); split it or simplify it",
                   c->path, (unsigned)ROOST_MAX_CODE);
    return rbuf_put(&c->out->code, bytes, n) ? R_OK : nomem(c);
}

static int emit_ins(rc *c, const uint8_t *bytes, size_t n)
{
    c->last_op = c->out->code.len;
    return emit(c, bytes, n);
}

static int emit_op(rc *c, uint8_t op)
{
    return emit_ins(c, &op, 1);
}

static int emit_op1(rc *c, uint8_t op, uint8_t a)
{
    uint8_t b[2] = {op, a};
    return emit_ins(c, b, 2);
}

static int emit_op2(rc *c, uint8_t op, uint8_t a, uint8_t b2)
{
    uint8_t b[3] = {op, a, b2};
    return emit_ins(c, b, 3);
}

static int emit_op_u16(rc *c, uint8_t op, uint16_t v)
{
    uint8_t b[3] = {op, (uint8_t)v, (uint8_t)(v >> 8)};
    return emit_ins(c, b, 3);
}

/* A forward jump whose target is patched later: returns the offset of its
 * 16-bit operand in *at. */
static int emit_jump(rc *c, uint8_t op, size_t *at)
{
    int r = emit_op_u16(c, op, 0);
    *at = c->out->code.len - 2;
    return r;
}

static int emit_cmpc(rc *c, uint8_t cmp, uint8_t mode, size_t *at)
{
    uint8_t b[5] = {OP_CMPC, cmp, mode, 0, 0};
    int r = emit_ins(c, b, 5);
    *at = c->out->code.len - 2;
    return r;
}

/* Points the jump operand at `at` to the current end of the code. */
static void patch(rc *c, size_t at)
{
    c->last_label = c->out->code.len;
    size_t rel = c->out->code.len - (at + 2);
    ri_put16(c->out->code.data + at, (uint16_t)rel);
}

/* ----------------------------------------------------------- constants */

static int intern(rc *c, const uint8_t *entry, size_t len, uint16_t *idx)
{
    rule_out *o = c->out;
    for (uint32_t k = 0; k < o->n_consts; k++) {
        uint32_t off = ri_u32(o->ctab.data + 4 * k);
        uint32_t end = k + 1 < o->n_consts ? ri_u32(o->ctab.data + 4 * (k + 1)) : (uint32_t)o->cblob.len;
        if (end - off == len && memcmp(o->cblob.data + off, entry, len) == 0) {
            *idx = (uint16_t)k;
            return R_OK;
        }
    }
    if (o->n_consts >= ROOST_MAX_CONSTS)
        return ERR(ROOST_ELIMIT, "%s: the rule needs more than %u constants (ROOST_MAX_CONSTS)",
                   c->path, (unsigned)ROOST_MAX_CONSTS);
    uint8_t off[4];
    ri_put32(off, (uint32_t)o->cblob.len);
    if (!rbuf_put(&o->ctab, off, 4) || !rbuf_put(&o->cblob, entry, len))
        return nomem(c);
    *idx = (uint16_t)o->n_consts++;
    return R_OK;
}

static int const_simple(rc *c, uint8_t kind, uint16_t *idx)
{
    return intern(c, &kind, 1, idx);
}

static int const_num(rc *c, double d, uint16_t *idx)
{
    uint8_t e[9];
    e[0] = RK_NUM;
    ri_putf64(e + 1, d);
    return intern(c, e, 9, idx);
}

static int variant_index(rc *c, const char *s, size_t len)
{
    for (uint32_t i = 0; i < c->env->n_variants; i++)
        if (strlen(c->env->variant_names[i]) == len && memcmp(c->env->variant_names[i], s, len) == 0)
            return (int)i;
    return -1;
}

static int const_str_kind(rc *c, uint8_t kind, const char *s, size_t len, uint16_t *idx)
{
    size_t hdr = kind == RK_STR ? 7 : 9;
    if (len > UINT32_MAX - 16)
        return ERR(ROOST_ELIMIT, "%s: string too long", c->path);
    uint8_t *e = malloc(hdr + len + 1);
    if (!e)
        return nomem(c);
    e[0] = kind;
    ri_put32(e + 1, (uint32_t)len);
    if (kind == RK_STR) {
        int vi = variant_index(c, s, len);
        ri_put16(e + 5, (uint16_t)(vi + 1));
    } else {
        ri_put32(e + 5, roost_path_hash(s, len));
    }
    memcpy(e + hdr, s, len);
    e[hdr + len] = 0;
    int r = intern(c, e, hdr + len + 1, idx);
    free(e);
    return r;
}

static int const_str(rc *c, const char *s, size_t len, uint16_t *idx)
{
    return const_str_kind(c, RK_STR, s, len, idx);
}

/* A fake flag over the pool so far, to run the interpreter on fragments. */
static void pool_flag(rc *c, roost_flag *f)
{
    memset(f, 0, sizeof *f);
    f->key = c->env->flag_key;
    f->key_len = (uint32_t)strlen(c->env->flag_key);
    f->ctab = c->out->ctab.data;
    f->cblob = c->out->cblob.data;
    f->cblob_len = (uint32_t)c->out->cblob.len;
    f->n_consts = (uint16_t)c->out->n_consts;
}

/* Emits the instruction that pushes constant value v. */
static int emit_value(rc *c, const rv *v)
{
    uint16_t k;
    int r;
    switch (v->t) {
    case RV_NULL: return emit_op(c, OP_NULL);
    case RV_BOOL: return emit_op(c, v->f ? OP_TRUE : OP_FALSE);
    case RV_NUM: r = const_num(c, v->u.n, &k); break;
    case RV_STR: {
        /* v may point into the pool, which interning can move: copy. */
        char *copy = malloc(v->len + 1u);
        if (!copy)
            return nomem(c);
        memcpy(copy, v->u.s, v->len);
        r = const_str(c, copy, v->len, &k);
        free(copy);
        break;
    }
    case RV_ARR: k = (uint16_t)v->len; r = R_OK; break;
    default: r = const_simple(c, RK_OBJ, &k); break;
    }
    if (r != R_OK)
        return r;
    return emit_op_u16(c, OP_CONST, k);
}

/* When the code since `mark` is exactly one constant push, its value. */
static bool emitted_const(rc *c, size_t mark, rv *v)
{
    const uint8_t *p = c->out->code.data + mark;
    size_t n = c->out->code.len - mark;
    roost_flag f;
    if (n == 1 && (p[0] == OP_NULL || p[0] == OP_TRUE || p[0] == OP_FALSE)) {
        v->t = p[0] == OP_NULL ? RV_NULL : RV_BOOL;
        v->f = p[0] == OP_TRUE;
        return true;
    }
    if (n == 3 && p[0] == OP_CONST) {
        pool_flag(c, &f);
        roost_const_value(&f, ri_u16(p + 1), v);
        return true;
    }
    return false;
}

/* --------------------------------------------------------- pre-passes */

/* JSON nesting depth (an object or array is one level). */
static int depth_of(const cJSON *n, int limit)
{
    if (!cJSON_IsArray(n) && !cJSON_IsObject(n))
        return 0;
    if (limit <= 0)
        return 1;
    int max = 0;
    for (const cJSON *ch = n->child; ch; ch = ch->next) {
        int d = depth_of(ch, limit - 1);
        if (d > max)
            max = d;
    }
    return max + 1;
}

/* Copies n with every {"$ref": "name"} of a known evaluator replaced by the
 * evaluator's rule, as flagd does before parsing. Unknown refs stay and
 * become unknown operators. */
static cJSON *expand_refs(rc *c, const cJSON *n, int depth)
{
    if (depth > 4 * ROOST_MAX_DEPTH) {
        ERR(ROOST_ELIMIT, "%s: the targeting rule nests deeper than %d levels (ROOST_MAX_DEPTH)",
            c->path, ROOST_MAX_DEPTH);
        return NULL;
    }
    if (cJSON_IsObject(n) && n->child && !n->child->next && n->child->string &&
        strcmp(n->child->string, "$ref") == 0 && cJSON_IsString(n->child) && c->env->evaluators) {
        const cJSON *ev = cJSON_GetObjectItemCaseSensitive(c->env->evaluators, n->child->valuestring);
        if (ev) {
            cJSON *copy = cJSON_Duplicate(ev, true);
            if (!copy)
                nomem(c);
            return copy;
        }
    }
    cJSON *copy;
    if (cJSON_IsArray(n) || cJSON_IsObject(n)) {
        copy = cJSON_IsArray(n) ? cJSON_CreateArray() : cJSON_CreateObject();
        if (!copy) {
            nomem(c);
            return NULL;
        }
        for (const cJSON *ch = n->child; ch; ch = ch->next) {
            cJSON *cc = expand_refs(c, ch, depth + 1);
            if (!cc) {
                cJSON_Delete(copy);
                return NULL;
            }
            if (cJSON_IsArray(n))
                cJSON_AddItemToArray(copy, cc);
            else
                cJSON_AddItemToObject(copy, ch->string, cc);
        }
        return copy;
    }
    copy = cJSON_Duplicate(n, false);
    if (!copy)
        nomem(c);
    return copy;
}

/* Finds the first unsupported operator (an error) or unknown operator (a
 * PARSE_ERROR, described in fold_msg). */
static int scan_ops(rc *c, const cJSON *n)
{
    size_t saved = c->plen;
    int r = R_OK;
    if (cJSON_IsArray(n)) {
        int i = 0;
        for (const cJSON *ch = n->child; ch && r == R_OK; ch = ch->next, i++) {
            path_index(c, i);
            r = scan_ops(c, ch);
            path_restore(c, saved);
        }
        return r;
    }
    if (!cJSON_IsObject(n) || !n->child)
        return R_OK;
    const char *name = n->child->string;
    if (n->child->next) {
        return fold_fail(c, "an object with more than one key is not a JsonLogic operation "
                            "(json-logic-engine: Unknown Operator); flagd evaluates this flag "
                            "to PARSE_ERROR");
    }
    if (is_unsupported(name))
        return ERR(ROOST_EINVAL,
                   "%s: operator \"%s\" is valid JsonLogic but Roost's engine does not support "
                   "it; supported: var if == === != !== < <= > >= ! !! and or in cat substr "
                   "+ - * / %% min max starts_with ends_with sem_ver fractional",
                   c->path, name);
    if (!find_op(name)) {
        char msg[ROOST_ERROR_MSG_MAX];
        if (strcmp(name, "$ref") == 0 && cJSON_IsString(n->child))
            snprintf(msg, sizeof msg,
                     "$ref to unknown evaluator \"%s\"; flagd evaluates this flag to PARSE_ERROR",
                     n->child->valuestring);
        else
            snprintf(msg, sizeof msg,
                     "unknown operator \"%s\"; flagd evaluates this flag to PARSE_ERROR", name);
        return fold_fail(c, msg);
    }
    path_key(c, name);
    r = scan_ops(c, n->child);
    path_restore(c, saved);
    return r;
}

/* json-logic-engine's isDeterministic: no var and no flagd operator. */
static bool is_det(const cJSON *n)
{
    if (cJSON_IsArray(n)) {
        for (const cJSON *ch = n->child; ch; ch = ch->next)
            if (!is_det(ch))
                return false;
        return true;
    }
    if (!cJSON_IsObject(n) || !n->child)
        return true;
    const opdef *op = find_op(n->child->string);
    if (!op || op->kind == K_VAR || op->custom)
        return false;
    return is_det(n->child);
}

/* Could this operand evaluate to an array at run time? (Context values are
 * never arrays, so only array literals can, through var defaults and the
 * branches of if/and/or.) */
static bool may_be_array(const cJSON *n)
{
    if (cJSON_IsArray(n))
        return true;
    if (!cJSON_IsObject(n) || !n->child)
        return false;
    const opdef *op = find_op(n->child->string);
    if (!op)
        return false;
    if (op->kind == K_VAR || op->kind == K_IF || op->kind == K_AND || op->kind == K_OR) {
        const cJSON *args = n->child;
        if (!cJSON_IsArray(args))
            return may_be_array(args);
        int i = 0;
        for (const cJSON *ch = args->child; ch; ch = ch->next, i++)
            if ((op->kind != K_VAR || i == 1) && may_be_array(ch))
                return true;
    }
    return false;
}

/* ------------------------------------------------------------- codegen */

static int compile_expr(rc *c, const cJSON *n, bool interp);
static int compile_op_body(rc *c, const opdef *op, const cJSON *lower, bool interp);

/* Runs the code emitted since `mark` (plus a RET) and replaces it with its
 * constant result. */
static int run_fragment(rc *c, size_t mark)
{
    roost_flag f;
    uint32_t need;
    const char *why;
    int r = emit_op(c, OP_RET);
    if (r != R_OK)
        return r;
    pool_flag(c, &f);
    const uint8_t *code = c->out->code.data + mark;
    uint32_t len = (uint32_t)(c->out->code.len - mark);
    if (!roost_code_verify(&f, code, len, ROOST_IMAGE_VERSION, &need, &why)) {
        if (strstr(why, "ROOST_EVAL_STACK") || strstr(why, "ROOST_MAX"))
            return ERR(ROOST_ELIMIT, "%s: %s", c->path, why);
        return ERR(ROOST_EINTERNAL, "%s: compiler produced an invalid fragment: %s", c->path, why);
    }
    roost_vm vm;
    const rv *result;
    vm.flag = &f;
    vm.ctx = NULL;
    vm.err = NULL;
    vm.scratch_used = 0;
    bool ok = roost_vm_run(&vm, code, len, &result);
    if (!ok) {
        c->out->code.len = mark;
        return fold_fail(c, vm.err);
    }
    /* The result may live in vm scratch or the pool; emit_value copies. */
    c->out->code.len = mark;
    rv value = *result;
    return emit_value(c, &value);
}

/* Folds a deterministic sub-rule: compile it with interpreted semantics and
 * run it now. */
static int fold(rc *c, const cJSON *n)
{
    size_t mark = c->out->code.len;
    bool was = c->folding, tail = c->tail;
    c->folding = true;
    c->tail = false; /* the fragment gets its own RET */
    int r = compile_expr(c, n, true);
    c->folding = was;
    c->tail = tail;
    if (r != R_OK) {
        c->out->code.len = mark;
        return r;
    }
    return run_fragment(c, mark);
}

/* An operand json-logic-engine evaluates lazily in an interpreted region: a
 * folding failure inside it fails only when it runs. */
static int compile_lazy(rc *c, const cJSON *n)
{
    size_t mark = c->out->code.len;
    int r = compile_expr(c, n, true);
    if (r == R_FOLD) {
        c->out->code.len = mark;
        return emit_op1(c, OP_THROW, THROW_INVALID_ARGS);
    }
    return r;
}

static int compile_child(rc *c, const cJSON *n, int i, bool interp, bool lazy)
{
    size_t saved = c->plen;
    if (i >= 0)
        path_index(c, i);
    int r = lazy ? compile_lazy(c, n) : compile_expr(c, n, interp);
    path_restore(c, saved);
    return r;
}

/* A constant array for a JSON array literal; R_DYN when an element is
 * computed at run time. */
static int const_array(rc *c, const cJSON *arr, uint16_t *idx, int level)
{
    int count = cJSON_GetArraySize(arr);
    if (count > 65535)
        return ERR(ROOST_ELIMIT, "%s: array of %d elements (the limit is 65535)", c->path, count);
    if (level > RI_MAX_ARRAY_DEPTH)
        return ERR(ROOST_ELIMIT, "%s: arrays nested more than %d deep are not supported", c->path,
                   RI_MAX_ARRAY_DEPTH);
    uint8_t *e = malloc(4 + 2 * (size_t)count);
    if (!e)
        return nomem(c);
    unsigned depth = 1;
    int i = 0, r = R_OK;
    for (const cJSON *ch = arr->child; ch && r == R_OK; ch = ch->next, i++) {
        uint16_t k;
        size_t saved = c->plen;
        path_index(c, i);
        if (cJSON_IsArray(ch)) {
            r = const_array(c, ch, &k, level + 1);
        } else if (cJSON_IsObject(ch) && ch->child && !is_det(ch)) {
            r = R_DYN;
        } else {
            size_t mark = c->out->code.len;
            rv v;
            r = cJSON_IsObject(ch) && ch->child ? fold(c, ch) : compile_expr(c, ch, true);
            if (r == R_OK) {
                if (!emitted_const(c, mark, &v)) {
                    r = ERR(ROOST_EINTERNAL, "%s: constant did not fold", c->path);
                } else if (v.t == RV_NULL || v.t == RV_BOOL) {
                    r = const_simple(c, v.t == RV_NULL ? RK_NULL : v.f ? RK_TRUE : RK_FALSE, &k);
                } else {
                    k = ri_u16(c->out->code.data + mark + 1);
                }
            }
            c->out->code.len = mark;
        }
        path_restore(c, (size_t)saved);
        if (r == R_OK) {
            ri_put16(e + 4 + 2 * i, k);
            const uint8_t *ce = c->out->cblob.data + ri_u32(c->out->ctab.data + 4 * k);
            if (ce[0] == RK_ARR && ce[1] + 1u > depth)
                depth = ce[1] + 1u;
        }
    }
    if (r == R_OK) {
        if (depth > RI_MAX_ARRAY_DEPTH)
            r = ERR(ROOST_ELIMIT, "%s: arrays nested more than %d deep are not supported", c->path,
                    RI_MAX_ARRAY_DEPTH);
        else {
            e[0] = RK_ARR;
            e[1] = (uint8_t)depth;
            ri_put16(e + 2, (uint16_t)count);
            r = intern(c, e, 4 + 2 * (size_t)count, idx);
        }
    }
    free(e);
    return r;
}

static int dyn_array_error(rc *c)
{
    return ERR(ROOST_EINVAL,
               "%s: an array whose elements are computed from the context is supported only as "
               "the list of \"in\" or as a fractional bucket; make its elements constants",
               c->path);
}

/* The operands of an operator: a JSON array's items, or one item. */
typedef struct args {
    const cJSON *item[ROOST_MAX_ARGS];
    int n;
    bool list; /* written as an array */
} args;

static int get_args(rc *c, const char *name, const cJSON *lower, args *a)
{
    a->n = 0;
    a->list = cJSON_IsArray(lower);
    if (!a->list) {
        a->item[a->n++] = lower;
        return R_OK;
    }
    for (const cJSON *ch = lower->child; ch; ch = ch->next) {
        if (a->n == ROOST_MAX_ARGS)
            return ERR(ROOST_ELIMIT, "%s: \"%s\" has %d operands; the limit is %d (ROOST_MAX_ARGS)",
                       c->path, name, cJSON_GetArraySize(lower), ROOST_MAX_ARGS);
        a->item[a->n++] = ch;
    }
    return R_OK;
}

/* A single non-array operand that is an expression: json-logic-engine
 * spreads it if it evaluates to an array; Roost requires a literal list. */
static int check_single(rc *c, const char *name, const args *a)
{
    if (!a->list && cJSON_IsObject(a->item[0]) && may_be_array(a->item[0]))
        return ERR(ROOST_EINVAL,
                   "%s: \"%s\" takes its operands as a JSON array; an expression that may "
                   "evaluate to an array is not supported as the operand list",
                   c->path, name);
    return R_OK;
}

static int compile_args(rc *c, const args *a, int from, int to, bool interp, bool lazy)
{
    for (int i = from; i < to; i++) {
        int r = compile_child(c, a->item[i], a->list ? i : -1, interp, lazy);
        if (r != R_OK)
            return r;
    }
    return R_OK;
}

/* True when {"var": lower} does not set prev to its value in compiled
 * code: a computed key (a method call) or the whole context. */
static bool var_is_dynamic_or_whole(const cJSON *lower)
{
    const cJSON *key = cJSON_IsArray(lower) ? cJSON_GetArrayItem(lower, 0) : lower;
    if (key && cJSON_IsObject(key) && key->child && !is_det(key))
        return true;
    if (!key || cJSON_IsNull(key) || (cJSON_IsString(key) && key->valuestring[0] == '\0'))
        return true;
    return false;
}

static int op_var(rc *c, const cJSON *lower, bool interp)
{
    const cJSON *key = lower, *dflt = NULL;
    if (cJSON_IsArray(lower)) {
        key = cJSON_GetArrayItem(lower, 0);
        dflt = cJSON_GetArrayItem(lower, 1);
    }
    int r;
    size_t mark = c->out->code.len;
    rv kv;
    bool live = !interp && c->prev_live;
    bool has_default = dflt && !cJSON_IsNull(dflt);
    if (key && cJSON_IsObject(key) && key->child && !is_det(key)) {
        /* A key computed at run time. */
        if ((r = compile_child(c, key, cJSON_IsArray(lower) ? 0 : -1, interp, false)) != R_OK ||
            (r = emit_op(c, OP_VAR_DYN)) != R_OK)
            return r;
    } else {
        if (!key || cJSON_IsNull(key) || (cJSON_IsString(key) && key->valuestring[0] == '\0'))
            return emit_op(c, OP_VAR_ALL); /* the whole context; a default is ignored */
        const char *s;
        uint32_t len;
        roost_vm vm;
        if (cJSON_IsString(key)) {
            s = key->valuestring;
            len = (uint32_t)strlen(s);
        } else {
            /* A constant key (possibly folded): its string form is the path. */
            if ((r = compile_child(c, key, cJSON_IsArray(lower) ? 0 : -1, interp, false)) != R_OK)
                return r;
            if (!emitted_const(c, mark, &kv))
                return ERR(ROOST_EINTERNAL, "%s: var key did not fold", c->path);
            c->out->code.len = mark;
            if (kv.t == RV_NULL || (kv.t == RV_STR && kv.len == 0))
                return emit_op(c, OP_VAR_ALL);
            roost_flag f;
            pool_flag(c, &f);
            vm.flag = &f;
            vm.ctx = NULL;
            vm.scratch_used = 0;
            if (!roost_vm_to_string(&vm, &kv, &s, &len))
                return ERR(ROOST_ELIMIT, "%s: var path too long", c->path);
        }
        char *canon = malloc(2 * (size_t)len + 1);
        if (!canon)
            return nomem(c);
        size_t clen = roost_path_canonical(s, len, canon, 2 * (size_t)len + 1);
        uint16_t k;
        /* A compiled var assigns json-logic-engine's prev (OP_VARP), when
         * that can be observed; with a default the PREV below does it. */
        bool set_prev = live && !has_default;
        if (clen == 14 && memcmp(canon, "$flagd.flagKey", 14) == 0) {
            r = emit_op(c, OP_FLAGKEY);
            if (r == R_OK && set_prev)
                r = emit_op(c, OP_PREV);
        } else if (clen == 16 && memcmp(canon, "$flagd.timestamp", 16) == 0) {
            r = emit_op(c, OP_TIMESTAMP);
            if (r == R_OK && set_prev)
                r = emit_op(c, OP_PREV);
        } else if ((r = const_str_kind(c, RK_PATH, canon, clen, &k)) == R_OK) {
            r = emit_op_u16(c, set_prev ? OP_VARP : OP_VAR, k);
        }
        free(canon);
        if (r != R_OK)
            return r;
    }
    if (has_default) {
        size_t at;
        bool saved = c->prev_live;
        if ((r = emit_jump(c, OP_COALESCE, &at)) != R_OK)
            return r;
        c->prev_live = false; /* hidden by the assignment below */
        r = compile_child(c, dflt, 1, interp, false);
        c->prev_live = saved;
        if (r != R_OK)
            return r;
        patch(c, at);
        /* prev = (context?.x ?? default): the final value, after the
         * default's own assignments. */
        if (live && (r = emit_op(c, OP_PREV)) != R_OK)
            return r;
    }
    return R_OK;
}

/* True when the last instruction emitted is `op`, ends the code, and no
 * jump lands right after it, so it can be fused or relied on. */
static bool ends_with(rc *c, uint8_t op, size_t len)
{
    size_t at = c->last_op, end = c->out->code.len;
    return at < end && at + len == end && c->out->code.data[at] == op && c->last_label != end;
}

/* Operand i of an `if`. In tail position it ends the program: a constant
 * becomes RETC, anything else is followed by RET (an `if` inside stays in
 * tail position and ends every branch itself). */
static int compile_tail_value(rc *c, const args *a, int i, bool interp, bool lazy)
{
    if (!c->tail)
        return compile_args(c, a, i, i + 1, interp, lazy);
    size_t mark = c->out->code.len;
    int r = compile_args(c, a, i, i + 1, interp, lazy);
    if (r != R_OK)
        return r;
    const uint8_t *code = c->out->code.data;
    if (c->out->code.len == mark + 3 && code[mark] == OP_CONST) {
        c->out->code.data[mark] = OP_RETC;
        c->last_op = mark;
        return R_OK;
    }
    if (ends_with(c, OP_RET, 1) || ends_with(c, OP_RETC, 3))
        return R_OK; /* a nested tail `if` ended its branches */
    return emit_op(c, OP_RET);
}

static int op_if(rc *c, const args *a, bool interp)
{
    if (!a->list)
        return emit_op1(c, OP_THROW, THROW_INVALID_ARGS);
    int n = a->n;
    if (n == 0)
        return emit_op(c, OP_NULL);
    /* json-logic-engine compiles `if` only with 3+ operands; otherwise, and
     * in interpreted regions with other than 3, operands run lazily. */
    bool run_interp = interp || n < 3;
    bool lazy = n < 3 || (interp && n != 3);
    if (n == 1)
        return compile_args(c, a, 0, 1, run_interp, lazy);
    if (n == 3 && c->folding) {
        /* When folding, the optimizer's idiom evaluates all three operands
         * (an error in the branch not taken still fails the build). */
        int r = compile_args(c, a, 0, 3, true, false);
        return r != R_OK ? r : emit_op(c, OP_SELECT);
    }
    size_t ends[ROOST_MAX_ARGS];
    int nends = 0, r, i;
    bool tail = c->tail;
    for (i = 0; i + 1 < n; i += 2) {
        size_t next;
        c->tail = false;
        r = compile_args(c, a, i, i + 1, run_interp, lazy);
        if (r != R_OK)
            return r;
        if (ends_with(c, OP_CMP, 3)) {
            /* The condition is a comparison: compare and branch at once,
             * reading the operands too when each is a constant or a
             * context value. */
            const uint8_t *code = c->out->code.data;
            uint8_t cmp = code[c->last_op + 1], mode = code[c->last_op + 2];
            if (c->cmpk_at != SIZE_MAX && c->cmpk_at + 6 == c->last_op) {
                size_t at = c->cmpk_at;
                uint8_t b[9] = {OP_CMPKJF, cmp, mode, code[at + 1], code[at + 2],
                                code[at + 4], code[at + 5], 0, 0};
                c->out->code.len = at;
                r = emit_ins(c, b, 9);
            } else {
                uint8_t b[5] = {OP_CMPJF, cmp, mode, 0, 0};
                c->out->code.len = c->last_op;
                r = emit_ins(c, b, 5);
            }
            next = c->out->code.len - 2;
        } else {
            r = emit_jump(c, OP_JF, &next);
        }
        if (r != R_OK)
            return r;
        c->tail = tail;
        if ((r = compile_tail_value(c, a, i + 1, run_interp, lazy)) != R_OK)
            return r;
        if (!tail && (r = emit_jump(c, OP_JMP, &ends[nends++])) != R_OK)
            return r;
        patch(c, next);
    }
    c->tail = tail;
    if (i < n)
        r = compile_tail_value(c, a, i, run_interp, lazy);
    else
        r = tail ? emit_op(c, OP_NULL) == R_OK ? emit_op(c, OP_RET) : R_ERR : emit_op(c, OP_NULL);
    if (r != R_OK)
        return r;
    for (int j = 0; j < nends; j++)
        patch(c, ends[j]);
    return R_OK;
}

/* True when code[at, at + 3) is one instruction pushing a constant or a
 * context value without touching prev. */
static bool plain_operand(rc *c, size_t at, size_t end)
{
    return end == at + 3 && (c->out->code.data[at] == OP_CONST || c->out->code.data[at] == OP_VAR);
}

/* OP_CMP of the operands compiled at a_at and b_at, noting for op_if
 * whether it can fuse them (OP_CMPKJF). */
static int emit_cmp(rc *c, uint8_t cmp, uint8_t mode, size_t a_at, size_t b_at)
{
    bool plain = plain_operand(c, a_at, b_at) && plain_operand(c, b_at, c->out->code.len);
    int r = emit_op2(c, OP_CMP, cmp, mode);
    c->cmpk_at = plain ? a_at : SIZE_MAX;
    return r;
}

static int op_cmp(rc *c, uint8_t cmp, const args *a, bool interp)
{
    if (!a->list || a->n < 2)
        return emit_op1(c, OP_THROW, THROW_INVALID_ARGS);
    bool lazy = interp && a->n >= 4;
    int r;
    if (a->n == 3 && c->folding) {
        /* The optimizer's idiom evaluates all three operands, then
         * cmp(a, b) && cmp(b, c). */
        if ((r = compile_args(c, a, 0, 3, true, false)) != R_OK)
            return r;
        return emit_op1(c, OP_CMP3, cmp);
    }
    bool live = c->prev_live;
    size_t a_at = c->out->code.len, b_at;
    if (!interp && a->n == 2) {
        /* Compiled: ((prev = a) OP compareCheck(b, prev)), where b's own
         * code runs between the assignment and the check. */
        const cJSON *b = a->item[1];
        bool b_var = cJSON_IsObject(b) && b->child && strcmp(b->child->string, "var") == 0 &&
                     !var_is_dynamic_or_whole(b->child);
        bool b_const = !b_var && is_det(b);
        c->prev_live = false; /* a is hidden by prev = a */
        r = compile_args(c, a, 0, 1, false, false);
        c->prev_live = live;
        if (r != R_OK)
            return r;
        uint8_t mode;
        if (b_var) {
            /* The var is the last assignment: the check sees b itself. */
            mode = CMP_MODE_SELF;
        } else if (b_const) {
            /* Nothing in b assigns: the check sees a. */
            mode = CMP_MODE_INTERP;
            if (live && (r = emit_op(c, OP_PREV)) != R_OK)
                return r;
        } else {
            mode = CMP_MODE_COMPILED;
            if ((r = emit_op(c, OP_PREV)) != R_OK)
                return r;
            c->prev_live = true;
        }
        b_at = c->out->code.len;
        r = compile_args(c, a, 1, 2, false, false);
        c->prev_live = live;
        if (r != R_OK)
            return r;
        return emit_cmp(c, cmp, mode, a_at, b_at);
    }
    if (a->n == 2) { /* interpreted: comparisonFunc(a, b) */
        if ((r = compile_args(c, a, 0, 1, interp, lazy)) != R_OK)
            return r;
        b_at = c->out->code.len;
        if ((r = compile_args(c, a, 1, 2, interp, lazy)) != R_OK)
            return r;
        return emit_cmp(c, cmp, CMP_MODE_INTERP, a_at, b_at);
    }
    /* Chains of 3+: every step reads and writes prev. */
    c->prev_live = false;
    r = compile_args(c, a, 0, 1, interp, lazy);
    c->prev_live = !interp;
    if (r == R_OK && !interp)
        r = emit_op(c, OP_PREV);
    if (r == R_OK)
        r = compile_args(c, a, 1, 2, interp, lazy);
    if (r != R_OK) {
        c->prev_live = live;
        return r;
    }
    size_t fails[ROOST_MAX_ARGS];
    int nf = 0;
    for (int i = 1; i < a->n; i++) {
        uint8_t mode = !interp ? CHAIN_COMPILED
                     : a->n == 3 ? CHAIN_PAIRWISE
                     : i == 1 ? CHAIN_LEGACY_FIRST : CHAIN_LEGACY;
        if (i > 1 && (r = compile_args(c, a, i, i + 1, interp, lazy)) != R_OK) {
            c->prev_live = live;
            return r;
        }
        if ((r = emit_cmpc(c, cmp, mode, &fails[nf++])) != R_OK) {
            c->prev_live = live;
            return r;
        }
    }
    c->prev_live = live;
    if ((r = emit_op(c, OP_CMPE)) != R_OK)
        return r;
    for (int j = 0; j < nf; j++)
        patch(c, fails[j]);
    return R_OK;
}

static int op_andor(rc *c, bool is_and, const args *a, bool interp)
{
    if (!a->list)
        return emit_op1(c, OP_THROW, THROW_INVALID_ARGS);
    if (a->n == 0)
        return emit_op(c, OP_NULL);
    size_t ends[ROOST_MAX_ARGS];
    int r;
    bool live = c->prev_live;
    for (int i = 0; i < a->n; i++) {
        c->prev_live = false; /* hidden by prev = x */
        r = compile_args(c, a, i, i + 1, interp, interp);
        c->prev_live = live;
        if (r != R_OK)
            return r;
        /* Compiled: !engine.truthy(prev = x) ? prev : ... */
        if (!interp && live && (r = emit_op(c, OP_PREV)) != R_OK)
            return r;
        if (i + 1 < a->n && (r = emit_jump(c, is_and ? OP_JFK : OP_JTK, &ends[i])) != R_OK)
            return r;
    }
    for (int i = 0; i + 1 < a->n; i++)
        patch(c, ends[i]);
    return R_OK;
}

static int op_in(rc *c, const args *a, bool interp)
{
    int r;
    /* Compiled: (haystack || []).includes(needle), so the haystack's code
     * runs first (which matters for prev). */
    if (!a->list) {
        if (!cJSON_IsObject(a->item[0]))
            return emit_op(c, OP_FALSE); /* {"in": "x"}: no haystack */
        if ((r = check_single(c, "in", a)) != R_OK || (r = compile_args(c, a, 0, 1, interp, false)) != R_OK)
            return r;
        return emit_op1(c, OP_INL, 0);
    }
    if (a->n == 0)
        return emit_op(c, OP_FALSE);
    if (a->n == 1) {
        if ((r = compile_args(c, a, 0, 1, interp, false)) != R_OK)
            return r;
        return emit_op1(c, OP_INL, 0);
    }
    const cJSON *hay = a->item[1];
    size_t saved = c->plen;
    uint8_t op = OP_IN, m = 0;
    path_index(c, 1);
    if (cJSON_IsArray(hay)) {
        uint16_t k;
        r = const_array(c, hay, &k, 1);
        if (r == R_OK) {
            r = emit_op_u16(c, OP_CONST, k);
        } else if (r == R_DYN) {
            /* A list with computed items: push them and test membership. */
            int count = cJSON_GetArraySize(hay), i = 0;
            if (count > ROOST_MAX_ARGS) {
                r = ERR(ROOST_ELIMIT, "%s: \"in\" list with %d computed items; the limit is %d",
                        c->path, count, ROOST_MAX_ARGS);
            } else {
                r = R_OK;
                for (const cJSON *ch = hay->child; ch && r == R_OK; ch = ch->next, i++)
                    r = compile_child(c, ch, i, interp, false);
                op = OP_INL;
                m = (uint8_t)count;
            }
        }
    } else {
        r = compile_expr(c, hay, interp);
    }
    path_restore(c, saved);
    if (r != R_OK || (r = compile_args(c, a, 0, 1, interp, false)) != R_OK)
        return r;
    return op == OP_IN ? emit_op(c, OP_IN) : emit_op1(c, OP_INL, m);
}

/* Build-time checks json-logic-engine applies to the operands of compiled
 * arithmetic (numberCoercion): literal arrays and objects, strings that are
 * not numbers, and a constant zero divisor fail the build. */
static int arith_operand_check(rc *c, const cJSON *json, size_t mark, bool divisor)
{
    if (cJSON_IsArray(json) || (cJSON_IsObject(json) && !json->child))
        return fold_fail(c, "an array or object as an arithmetic operand; flagd evaluates "
                            "this flag to PARSE_ERROR");
    rv v;
    if (!emitted_const(c, mark, &v))
        return R_OK;
    if (v.t == RV_STR) {
        double d = roost_jsnum_parse(v.u.s, v.len);
        if (d != d)
            return fold_fail(c, "a string that is not a number as an arithmetic operand; flagd "
                                "evaluates this flag to PARSE_ERROR");
        if (divisor && d == 0)
            return fold_fail(c, "division by a constant zero; flagd evaluates this flag to "
                                "PARSE_ERROR");
    }
    if (divisor && v.t == RV_NUM && v.u.n == 0)
        return fold_fail(c, "division by a constant zero; flagd evaluates this flag to PARSE_ERROR");
    return R_OK;
}

static int op_arith(rc *c, const opdef *op, const args *a, bool interp)
{
    int r;
    uint8_t aop = op->sub;
    uint8_t mode = interp ? MODE_INTERP : 0;
    if (!a->list && cJSON_IsObject(a->item[0])) {
        /* One expression operand: {"+": {"var": "x"}}. */
        if ((r = check_single(c, op->name, a)) != R_OK)
            return r;
        if (aop == ARITH_ADD || aop == ARITH_SUB) {
            /* Compiled: Array.isArray(prev = x) ? ... : precoerceNumber(+prev).
             * Interpreted: the scalar form '+'(x) / '-'(x). */
            bool live = c->prev_live;
            c->prev_live = false; /* hidden by prev = x */
            r = compile_args(c, a, 0, 1, interp, false);
            c->prev_live = live;
            if (r != R_OK || (!interp && live && (r = emit_op(c, OP_PREV)) != R_OK))
                return r;
            uint8_t b[4] = {OP_ARITH, aop, 1, mode};
            return emit(c, b, 4);
        }
        if (!interp || aop == ARITH_MOD) /* (x).reduce / assertSize on a non-array */
            return emit_op1(c, OP_THROW, THROW_TYPE);
        if ((r = compile_args(c, a, 0, 1, interp, false)) != R_OK)
            return r;
        uint8_t b[4] = {OP_ARITH, aop, 1, mode};
        return emit(c, b, 4);
    }
    int n = a->n;
    if (n == 0 && (aop == ARITH_ADD || aop == ARITH_MUL)) {
        uint16_t k;
        if ((r = const_num(c, aop == ARITH_ADD ? 0 : 1, &k)) != R_OK)
            return r;
        return emit_op_u16(c, OP_CONST, k);
    }
    if ((n == 0 && (aop == ARITH_SUB || aop == ARITH_DIV)) || (n < 2 && aop == ARITH_MOD)) {
        if (interp)
            return emit_op1(c, OP_THROW, THROW_INVALID_ARGS);
        return fold_fail(c, "too few operands for arithmetic; flagd evaluates this flag to "
                            "PARSE_ERROR");
    }
    int total = n;
    bool reciprocal = aop == ARITH_DIV && n == 1 && !interp;
    if (reciprocal) {
        /* Compiled {"/": [x]} is 1 / x. */
        uint16_t k;
        if ((r = const_num(c, 1, &k)) != R_OK || (r = emit_op_u16(c, OP_CONST, k)) != R_OK)
            return r;
        total = 2;
    }
    for (int i = 0; i < n; i++) {
        size_t mark = c->out->code.len, saved = c->plen;
        if ((r = compile_child(c, a->item[i], a->list ? i : -1, interp, false)) != R_OK)
            return r;
        if (!interp) {
            path_index(c, i);
            bool divisor = aop == ARITH_DIV && (i > 0 || reciprocal);
            r = arith_operand_check(c, a->item[i], mark, divisor);
            path_restore(c, saved);
            if (r != R_OK)
                return r;
        }
    }
    uint8_t b[4] = {OP_ARITH, aop, (uint8_t)total, mode};
    return emit(c, b, 4);
}

/* Operators whose operands are all evaluated and passed as a list: cat,
 * substr, min/max, starts_with/ends_with, sem_ver. */
static int op_list(rc *c, const opdef *op, const args *a, bool interp)
{
    int r;
    if ((r = check_single(c, op->name, a)) != R_OK)
        return r;
    if (op->kind == K_MINMAX && a->n == 0)
        return emit_op1(c, OP_THROW, THROW_INVALID_ARGS);
    if ((r = compile_args(c, a, 0, a->n, interp, false)) != R_OK)
        return r;
    uint8_t n = (uint8_t)a->n;
    switch (op->kind) {
    case K_CAT: {
        /* cat.method is called on one value, not a list, for an expression
         * operand ({"cat": {"var": "x"}}) and, in interpreted regions, for
         * any single operand that is not an array literal (the optimizer
         * unwraps [x] for unary operators). */
        bool unary = !a->list ? (interp || cJSON_IsObject(a->item[0]))
                              : (interp && a->n == 1 && !cJSON_IsArray(a->item[0]));
        uint8_t mode = (uint8_t)((interp ? MODE_INTERP : 0) | (unary ? MODE_UNARY : 0));
        return emit_op2(c, OP_CAT, n, mode);
    }
    case K_SUBSTR: return emit_op1(c, OP_SUBSTR, n);
    case K_MINMAX: return emit_op2(c, OP_MINMAX, op->sub, n);
    case K_STRCMP: return emit_op2(c, OP_STRCMP, op->sub, n);
    default: return emit_op1(c, OP_SEMVER, n);
    }
}

/* When every bucket from `start` on is a literal array of constants, the
 * compiler checks them as flagd would at run time and writes one bucket
 * table (RK_BUCKETS): evaluation then only hashes and scans. Returns R_DYN
 * when some bucket is computed, R_OK with *table set, or R_OK with
 * *always_null when the buckets make fractional null whatever the key
 * (an invalid bucket, or weights above 2^31-1). */
static int bucket_table(rc *c, const args *a, int start, uint16_t *table, bool *always_null)
{
    uint16_t entry[ROOST_MAX_ARGS];
    *always_null = false;
    if (a->n - start < 1)
        return R_DYN;
    for (int i = start; i < a->n; i++)
        if (!cJSON_IsArray(a->item[i]))
            return R_DYN;
    for (int i = start; i < a->n; i++) {
        size_t saved = c->plen;
        path_index(c, i);
        int r = const_array(c, a->item[i], &entry[i - start], 2);
        path_restore(c, saved);
        if (r != R_OK)
            return r;
    }
    size_t n = (size_t)(a->n - start);
    uint8_t *e = malloc(8 + 6 * n);
    if (!e)
        return nomem(c);
    double total = 0;
    roost_flag f;
    pool_flag(c, &f);
    for (size_t i = 0; i < n && !*always_null; i++) {
        const uint8_t *arr = roost_const_at(&f, entry[i]);
        uint16_t count = ri_u16(arr + 2);
        rv v, w;
        if (count == 0 || count > 2) {
            *always_null = true;
            break;
        }
        uint16_t vk = ri_u16(arr + 4);
        roost_const_value(&f, vk, &v);
        if (v.t == RV_ARR || v.t == RV_OBJ) {
            *always_null = true;
            break;
        }
        double weight = 1;
        if (count == 2) {
            roost_const_value(&f, ri_u16(arr + 6), &w);
            weight = w.u.n;
            if (w.t != RV_NUM || weight != weight || weight == INFINITY || weight == -INFINITY ||
                (weight > -9.2e18 && weight < 9.2e18 && weight != (double)(int64_t)weight)) {
                *always_null = true; /* not an integer: Number.isInteger */
                break;
            }
            if (weight < 0)
                weight = 0; /* negative weights count as 0 */
            if (weight > 2147483647.0) {
                *always_null = true; /* the total would exceed 2^31-1 */
                break;
            }
        }
        total += weight;
        ri_put16(e + 8 + 6 * i, vk);
        ri_put32(e + 8 + 6 * i + 2, (uint32_t)weight);
    }
    int r = R_OK;
    if (total > 2147483647.0)
        *always_null = true;
    if (!*always_null) {
        e[0] = RK_BUCKETS;
        e[1] = 0;
        ri_put16(e + 2, (uint16_t)n);
        ri_put32(e + 4, (uint32_t)total);
        r = intern(c, e, 8 + 6 * n, table);
    }
    free(e);
    return r;
}

/* {"cat": [{"var": "$flagd.flagKey"}, x, ...]}: flagd's documented way to
 * bucket per flag on an attribute other than the targeting key. */
static bool cat_of_flag_key(const cJSON *n)
{
    const cJSON *list = cJSON_IsObject(n) && n->child && !n->child->next &&
                                strcmp(n->child->string, "cat") == 0
                            ? n->child
                            : NULL;
    if (!list || !cJSON_IsArray(list) || cJSON_GetArraySize(list) < 2)
        return false;
    const cJSON *v = list->child;
    if (!cJSON_IsObject(v) || !v->child || v->child->next || strcmp(v->child->string, "var") != 0)
        return false;
    const cJSON *key = v->child;
    if (cJSON_IsArray(key) && cJSON_GetArraySize(key) == 1)
        key = key->child;
    return cJSON_IsString(key) && strcmp(key->valuestring, "$flagd.flagKey") == 0;
}

/* The bucketing key compiled at key_at is FLAGKEY, the other items, CAT n
 * (compiled form): drop the FLAGKEY, and the CAT when one item is left
 * (FRAC's RI_FRAC_KEYED takes its string form, as cat would), so that
 * evaluation hashes on from the state after the flag key instead of
 * building the key. False (nothing changed) for any other code. */
static bool drop_flag_key(rc *c, size_t key_at)
{
    uint8_t *code = c->out->code.data;
    size_t end = c->out->code.len;
    if (code[key_at] != OP_FLAGKEY || !ends_with(c, OP_CAT, 3) || code[c->last_op + 2] != 0 ||
        code[c->last_op + 1] < 2)
        return false;
    /* Jumps are relative and none crosses the key's bounds, so moving the
     * items down one byte keeps them right. */
    uint8_t n = code[c->last_op + 1];
    memmove(code + key_at, code + key_at + 1, end - key_at - 1);
    end--;
    if (n == 2)
        end -= 3;
    else
        code[end - 2] = (uint8_t)(n - 1);
    c->out->code.len = end;
    /* Nothing after this may fuse with what is left. */
    c->last_op = end;
    c->last_label = end;
    return true;
}

static int op_frac(rc *c, const args *a, bool interp)
{
    int r;
    uint8_t shapes[ROOST_MAX_ARGS];
    if ((r = check_single(c, "fractional", a)) != R_OK)
        return r;
    /* The first operand is the bucketing key when it evaluates to a
     * string, so only a literal array can be packed with the buckets. */
    int start = a->list && a->n > 0 && cJSON_IsArray(a->item[0]) ? 0 : 1;
    uint16_t table;
    bool always_null;
    if (a->list && (r = bucket_table(c, a, start, &table, &always_null)) != R_DYN) {
        if (r != R_OK)
            return r;
        /* The key (when there is one) still runs, for its errors. */
        size_t key_at = c->out->code.len;
        bool keyed = false;
        if (start == 1 && (r = compile_child(c, a->item[0], 0, interp, false)) != R_OK)
            return r;
        if (always_null)
            return start == 1 && (r = emit_op(c, OP_POP)) != R_OK ? r : emit_op(c, OP_NULL);
        if (start == 1 && !interp && !c->prev_live && cat_of_flag_key(a->item[0]))
            keyed = drop_flag_key(c, key_at);
        uint8_t ins[5] = {OP_CONST, (uint8_t)table, (uint8_t)(table >> 8), OP_FRAC,
                          (uint8_t)(start + 1)};
        uint8_t shapes2[2] = {keyed ? RI_FRAC_KEYED : RI_FRAC_VALUE, RI_FRAC_TABLE};
        if ((r = emit(c, ins, 5)) != R_OK)
            return r;
        return emit(c, start == 1 ? shapes2 : shapes2 + 1, (size_t)(start == 1 ? 2 : 1));
    }
    r = R_OK;
    for (int i = 0; i < a->n; i++) {
        const cJSON *arg = a->item[i];
        size_t saved = c->plen;
        if (a->list)
            path_index(c, i);
        if (cJSON_IsArray(arg)) {
            /* A bucket written in place: its items go on the stack. Items
             * past the third only matter for their errors: such a bucket is
             * invalid anyway, so keep three slots. */
            int m = 0;
            for (const cJSON *ch = arg->child; ch && r == R_OK; ch = ch->next, m++) {
                r = compile_child(c, ch, m, interp, false);
                if (r == R_OK && m >= 3)
                    r = emit_op(c, OP_POP);
            }
            shapes[i] = (uint8_t)(m > 3 ? 3 : m);
        } else {
            r = compile_expr(c, arg, interp);
            shapes[i] = RI_FRAC_VALUE;
        }
        path_restore(c, saved);
        if (r != R_OK)
            return r;
    }
    uint8_t hdr[2] = {OP_FRAC, (uint8_t)a->n};
    if ((r = emit(c, hdr, 2)) != R_OK)
        return r;
    return emit(c, shapes, (size_t)a->n);
}

static int compile_op(rc *c, const opdef *op, const cJSON *lower, bool interp)
{
    int r;
    bool tail = c->tail;
    if (op->kind != K_IF || !cJSON_IsArray(lower)) {
        /* Only an if's branches can end the program themselves. */
        c->tail = false;
        r = compile_op_body(c, op, lower, interp);
        c->tail = tail;
        return r;
    }
    return compile_op_body(c, op, lower, interp);
}

static int compile_op_body(rc *c, const opdef *op, const cJSON *lower, bool interp)
{
    args a;
    int r;
    if (op->kind == K_VAR)
        return op_var(c, lower, interp);
    if ((r = get_args(c, op->name, lower, &a)) != R_OK)
        return r;
    switch (op->kind) {
    case K_IF: return op_if(c, &a, interp);
    case K_CMP: return op_cmp(c, op->sub, &a, interp);
    case K_NOT:
    case K_NOTNOT:
        if (a.list && a.n == 0)
            return emit_op(c, op->kind == K_NOT ? OP_TRUE : OP_FALSE);
        if ((r = compile_args(c, &a, 0, 1, interp, false)) != R_OK)
            return r;
        /* Interpreted, one operand that is not an array literal is passed
         * as the value itself, and an array value then reads as its first
         * element; compiled code tests the operand as it is. */
        if (interp && (a.list ? a.n == 1 && !cJSON_IsArray(a.item[0]) : cJSON_IsObject(a.item[0])))
            return emit_op1(c, OP_NOTA, op->kind == K_NOTNOT);
        return emit_op(c, op->kind == K_NOT ? OP_NOT : OP_NOTNOT);
    case K_AND: return op_andor(c, true, &a, interp);
    case K_OR: return op_andor(c, false, &a, interp);
    case K_IN: return op_in(c, &a, interp);
    case K_ARITH: return op_arith(c, op, &a, interp);
    case K_FRAC: return op_frac(c, &a, interp);
    default: return op_list(c, op, &a, interp);
    }
}

static int compile_expr(rc *c, const cJSON *n, bool interp)
{
    uint16_t k;
    int r;
    switch (n->type & 0xff) {
    case cJSON_NULL: return emit_op(c, OP_NULL);
    case cJSON_True: return emit_op(c, OP_TRUE);
    case cJSON_False: return emit_op(c, OP_FALSE);
    case cJSON_Number:
        if ((r = const_num(c, n->valuedouble, &k)) != R_OK)
            return r;
        return emit_op_u16(c, OP_CONST, k);
    case cJSON_String:
        if ((r = const_str(c, n->valuestring, strlen(n->valuestring), &k)) != R_OK)
            return r;
        return emit_op_u16(c, OP_CONST, k);
    case cJSON_Array:
        r = const_array(c, n, &k, 1);
        if (r == R_DYN)
            return dyn_array_error(c);
        if (r != R_OK)
            return r;
        return emit_op_u16(c, OP_CONST, k);
    case cJSON_Object:
        break;
    default:
        return ERR(ROOST_EINVAL, "%s: unexpected JSON value", c->path);
    }
    if (!n->child) {
        if ((r = const_simple(c, RK_OBJ, &k)) != R_OK)
            return r;
        return emit_op_u16(c, OP_CONST, k);
    }
    const opdef *op = find_op(n->child->string); /* scan_ops vetted every name */
    if (!op)
        return ERR(ROOST_EINTERNAL, "%s: unvetted operator", c->path);
    if (!c->folding && is_det(n))
        return fold(c, n);
    size_t saved = c->plen;
    path_key(c, op->name);
    r = compile_op(c, op, n->child, interp);
    path_restore(c, saved);
    return r;
}

/* ---------------------------------------------------------------- entry */

void roost_rule_out_free(rule_out *out)
{
    rbuf_free(&out->code);
    rbuf_free(&out->ctab);
    rbuf_free(&out->cblob);
    cJSON_Delete(out->expanded);
    out->expanded = NULL;
}

static void reset_program(rule_out *out)
{
    out->code.len = 0;
    out->ctab.len = 0;
    out->cblob.len = 0;
    out->n_consts = 0;
    out->max_stack = 0;
}

roost_status roost_rule_compile(const cJSON *targeting, const rule_env *env, rule_out *out,
                                roost_error *err)
{
    rc *c;
    memset(out, 0, sizeof *out);
    out->targeting = RI_TARGETING_NONE;
    /* flagd: no targeting when it is absent, null or {}. */
    if (!targeting || cJSON_IsNull(targeting) || (cJSON_IsObject(targeting) && !targeting->child))
        return ROOST_OK;
    if (!cJSON_IsObject(targeting))
        return roost_error_set(err, ROOST_EINVAL,
                               "%s: expected a JsonLogic rule (an object) or null", env->path);
    c = calloc(1, sizeof *c);
    if (!c)
        return roost_error_set(err, ROOST_ENOMEM, "out of memory compiling %s", env->path);
    c->env = env;
    c->out = out;
    c->err = err;
    snprintf(c->path, sizeof c->path, "%s", env->path);
    c->plen = strlen(c->path);
    c->cmpk_at = SIZE_MAX;

    int r = R_OK;
    out->expanded = expand_refs(c, targeting, 0);
    if (!out->expanded)
        r = R_ERR;
    if (r == R_OK && depth_of(out->expanded, ROOST_MAX_DEPTH + 1) > ROOST_MAX_DEPTH)
        r = ERR(ROOST_ELIMIT,
                "%s: the targeting rule nests deeper than %d levels (ROOST_MAX_DEPTH); flatten it "
                "or move parts into $evaluators",
                c->path, ROOST_MAX_DEPTH);
    if (r == R_OK)
        r = scan_ops(c, out->expanded);
    size_t start = out->code.len;
    if (r == R_OK) {
        c->tail = true;
        r = compile_expr(c, out->expanded, false);
        c->tail = false;
    }
    if (r == R_OK) {
        const uint8_t *code = out->code.data;
        if (out->code.len == start + 3 && code[start] == OP_CONST)
            out->code.data[start] = OP_RETC; /* a constant rule */
        else if (!ends_with(c, OP_RET, 1) && !ends_with(c, OP_RETC, 3))
            r = emit_op(c, OP_RET);
    }
    if (r == R_OK) {
        roost_flag f;
        const char *why;
        pool_flag(c, &f);
        if (out->code.len > ROOST_MAX_CODE) {
            r = ERR(ROOST_ELIMIT,
                    "%s: the targeting rule compiles to %zu bytes of program; the limit is %u "
                    "(ROOST_MAX_CODE)",
                    c->path, out->code.len, (unsigned)ROOST_MAX_CODE);
        } else if (!roost_code_verify(&f, out->code.data, (uint32_t)out->code.len,
                                      ROOST_IMAGE_VERSION, &out->max_stack, &why)) {
            if (strstr(why, "ROOST_"))
                r = ERR(ROOST_ELIMIT,
                        "%s: the targeting rule is too large for the engine: %s (limits: %u "
                        "instructions, %u stack values)",
                        c->path, why, (unsigned)ROOST_MAX_STEPS, (unsigned)ROOST_EVAL_STACK);
            else
                r = ERR(ROOST_EINTERNAL, "%s: compiler produced an invalid program: %s", c->path,
                        why);
        }
    }
    roost_status st = ROOST_OK;
    if (r == R_FOLD) {
        reset_program(out);
        out->targeting = RI_TARGETING_PARSE_ERROR;
        snprintf(out->warning, sizeof out->warning, "%s", c->fold_msg);
    } else if (r == R_OK) {
        out->targeting = RI_TARGETING_PROGRAM;
    } else {
        st = err ? err->code : ROOST_EINVAL;
        if (st == ROOST_OK)
            st = ROOST_EINTERNAL;
        roost_rule_out_free(out);
    }
    free(c);
    return st;
}
