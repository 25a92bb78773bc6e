/* Internals shared by the engine's own files and by the flag compiler
 * (server/compile), which writes the images this code reads and folds
 * constant sub-rules by running this interpreter. Not a public header: the
 * layout here is versioned by ROOST_IMAGE_VERSION and described for humans
 * in docs/engine.md; change both together.
 *
 * All multi-byte fields are little-endian and read byte by byte, so images
 * need no alignment and read the same on every target.
 */
#ifndef ROOST_SDK_CORE_ENGINE_INTERNAL_H
#define ROOST_SDK_CORE_ENGINE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "roost/engine.h"
#include "semver.h"

/* ------------------------------------------------------- image layout */

#define RI_MAGIC "RSTF"
#define RI_HEADER_LEN 68

/* Header field offsets. */
enum {
    RI_OFF_MAGIC = 0,      /* 4 bytes "RSTF" */
    RI_OFF_VERSION = 4,    /* u16 ROOST_IMAGE_VERSION */
    RI_OFF_HLEN = 6,       /* u16 RI_HEADER_LEN */
    RI_OFF_SIZE = 8,       /* u32 total image length */
    RI_OFF_CHECKSUM = 12,  /* u32 FNV-1a of bytes [16, size) */
    RI_OFF_STATE = 16,     /* u8 RI_STATE_* */
    RI_OFF_TYPE = 17,      /* u8 roost_value_type */
    RI_OFF_TARGETING = 18, /* u8 RI_TARGETING_* */
    RI_OFF_RESERVED1 = 19, /* u8 0 */
    RI_OFF_NVARIANTS = 20, /* u16 */
    RI_OFF_DEFAULT = 22,   /* u16 variant index, RI_NO_VARIANT for none */
    RI_OFF_NMETA = 24,     /* u16 */
    RI_OFF_NCONSTS = 26,   /* u16 */
    RI_OFF_MAXSTACK = 28,  /* u16 values the program needs */
    RI_OFF_RESERVED2 = 30, /* u16 0 */
    RI_OFF_KEY = 32,       /* u32 off, u32 len */
    RI_OFF_VARIANTS = 40,  /* u32 off of n_variants RI_VARIANT_LEN records */
    RI_OFF_META = 44,      /* u32 off of n_meta RI_META_LEN records */
    RI_OFF_CTAB = 48,      /* u32 off of n_consts u32 offsets into cblob */
    RI_OFF_CBLOB = 52,     /* u32 off, u32 len */
    RI_OFF_CODE = 60       /* u32 off, u32 len */
};

#define RI_STATE_ENABLED 0
#define RI_STATE_DISABLED 1
#define RI_TARGETING_NONE 0
#define RI_TARGETING_PROGRAM 1
#define RI_TARGETING_PARSE_ERROR 2 /* flagd reports PARSE_ERROR at evaluation */
#define RI_NO_VARIANT 0xFFFFu

/* roost_flag.shape: rules the evaluator resolves without the interpreter
 * when the context allows (see rule_shape in image.c). */
#define RI_SHAPE_NONE 0
#define RI_SHAPE_STR_EQ 1 /* CMPKJF ==/===/!=/!== of a path and a string, RETC, RETC */

/* A string is (u32 offset, u32 length) into the image, followed there by a
 * NUL byte that the length does not count. */

/* Variant record: name string, value string (string and object flags; JSON
 * text for objects), f64 number (number flags; 0/1 for boolean flags). */
#define RI_VARIANT_LEN 24
/* Metadata record: key string, u32 roost_value_type, value string, f64. */
#define RI_META_LEN 28

/* Constant entries (in cblob, found through ctab). */
enum {
    RK_NULL = 0,
    RK_TRUE = 1,
    RK_FALSE = 2,
    RK_NUM = 3,  /* f64 */
    RK_STR = 4,  /* u32 len, u16 variant index + 1 (0: not a variant name), bytes, NUL */
    RK_PATH = 5, /* u32 len, u32 roost_path_hash, canonical path bytes, NUL */
    RK_ARR = 6,  /* u8 depth (1..RI_MAX_ARRAY_DEPTH), u16 count, count x u16 index of an
                  * earlier constant (never a PATH) */
    RK_OBJ = 7,  /* the empty object literal {} */
    RK_BUCKETS = 8 /* fractional buckets checked by the compiler: u16 count, u32 total
                    * (<= 2^31-1), count x (u16 index of an earlier scalar constant,
                    * u32 weight); the weights sum to total */
};
#define RI_MAX_ARRAY_DEPTH 4

/* --------------------------------------------------------- instructions
 *
 * A stack machine with forward jumps only, so every program ends after at
 * most its instruction count. Operands follow the opcode; "rel" is a u16
 * forward distance from the end of the instruction. Stack effects are fixed
 * per instruction, which lets the loader check every path once.
 */
enum {
    OP_RET = 0,    /* stop; the single value on the stack is the result */
    OP_NULL,       /* push null */
    OP_TRUE,       /* push true */
    OP_FALSE,      /* push false */
    OP_CONST,      /* u16 k: push constant k (not a PATH) */
    OP_VAR,        /* u16 k: push the context value at PATH constant k */
    OP_VARP,       /* u16 k: OP_VAR, and set prev to the value (compiled var) */
    OP_PREV,       /* set prev to the top value (json-logic-engine's `prev = x`) */
    OP_VAR_DYN,    /* pop key; push the context value at String(key) */
    OP_VAR_ALL,    /* push the whole context (an object) */
    OP_FLAGKEY,    /* push $flagd.flagKey */
    OP_TIMESTAMP,  /* push $flagd.timestamp */
    OP_POP,        /* pop */
    OP_JMP,        /* u16 rel */
    OP_JF,         /* u16 rel: pop; jump if falsy */
    OP_JFK,        /* u16 rel: jump if top is falsy (keep it), else pop ("and") */
    OP_JTK,        /* u16 rel: jump if top is truthy (keep it), else pop ("or") */
    OP_COALESCE,   /* u16 rel: jump if top is not null (keep it), else pop (var default) */
    OP_NOT,        /* replace top by !truthy(top) */
    OP_NOTNOT,     /* replace top by truthy(top) */
    OP_CMP,        /* u8 cmp, u8 mode: pop b, a; push a OP b (mode CMP_MODE_*) */
    OP_CMPC,       /* u8 cmp, u8 mode, u16 rel: chain step; pop cur, left; if the step
                    * fails push false and jump, else push the next left operand */
    OP_CMPE,       /* end of a chain: pop; push true */
    OP_ARITH,      /* u8 op, u8 n, u8 mode: pop n, push the result */
    OP_MINMAX,     /* u8 is_max, u8 n */
    OP_IN,         /* pop needle, haystack; push membership */
    OP_INL,        /* u8 n: pop the needle and n listed items; push membership */
    OP_CAT,        /* u8 n, u8 mode */
    OP_SUBSTR,     /* u8 n */
    OP_STRCMP,     /* u8 which (0 starts_with, 1 ends_with), u8 n */
    OP_SEMVER,     /* u8 n */
    OP_FRAC,       /* u8 n, then n shape bytes: RI_FRAC_VALUE, RI_FRAC_TABLE or an entry's
                    * element count (at most 3: longer entries are invalid anyway) */
    OP_THROW,      /* u8 reason: fail with GENERAL (verified as if it pushed a value) */
    OP_SELECT,     /* pop else, then, cond; push truthy(cond) ? then : else (eager if) */
    OP_CMP3,       /* u8 cmp: pop c, b, a; push a OP b && b OP c, interpreted semantics */
    OP_RETC,       /* u16 k: stop with constant k as the result (stack must be empty) */
    OP_CMPJF,      /* u8 cmp, u8 mode, u16 rel: OP_CMP then OP_JF, fused (an if condition) */
    OP_NOTA,       /* u8 double: interpreted `!`/`!!` of one value: an array value stands
                    * for its first element (json-logic-engine's unary unwrapping) */
    OP_CMPKJF,     /* u8 cmp, u8 mode, u16 ka, u16 kb, u16 rel: CONST-or-VAR ka, CONST-or-VAR
                    * kb, CMPJF, fused (an if condition comparing a context value with a
                    * constant); a PATH constant reads the context as OP_VAR does, any
                    * other constant is pushed as OP_CONST does; nothing touches the stack */
    OP__COUNT
};

/* Comparison operators (OP_CMP, OP_CMPC). */
enum { CMP_EQ = 0, CMP_SEQ, CMP_NE, CMP_SNE, CMP_LT, CMP_LE, CMP_GT, CMP_GE, CMP__COUNT };

/* The `prev` register. json-logic-engine's compiled rules share one
 * variable, prev, between snippets: `var` assigns its value to it, and/or
 * assign each operand, a comparison assigns its first operand and then
 * calls compareCheck(second, prev) -- after the second operand's own code
 * has run, so prev is often the second operand itself. Results depend on
 * it ({"!=": [0, {"var": "s"}]} with s = "x" is true, not an error), so the
 * machine keeps the same register: OP_VARP and OP_PREV write it, compiled
 * comparisons read it. Interpreted regions never touch it. */
enum {
    CMP_MODE_COMPILED = 0, /* compareCheck(b, prev register) */
    CMP_MODE_INTERP,       /* comparisonFunc(a, b) = compareCheck(b, a): also a compiled
                            * comparison whose b leaves prev alone (a constant) */
    CMP_MODE_SELF,         /* compareCheck(b, b): a compiled comparison whose b is a var,
                            * which is the last thing to set prev */
    CMP_MODE__COUNT
};

/* OP_CMPC modes: how json-logic-engine chains three or more operands.
 * COMPILED: the compiled form (prev = compareCheck(cur, prev)).
 * PAIRWISE: the interpreted 3-operand form (a OP b && b OP c, raw values).
 * LEGACY:   the interpreted 4+-operand loop (numeric checks after every step;
 *           LEGACY_FIRST is its first step, which also checks the first operand). */
enum { CHAIN_COMPILED = 0, CHAIN_PAIRWISE, CHAIN_LEGACY, CHAIN_LEGACY_FIRST, CHAIN__COUNT };

enum { ARITH_ADD = 0, ARITH_MUL, ARITH_SUB, ARITH_DIV, ARITH_MOD, ARITH__COUNT };
/* ARITH/CAT mode bit: json-logic-engine's interpreted semantics (used when
 * flagd-core folds a constant sub-rule or runs an `if` with 1-2 operands).
 * With one operand, + and - then take the scalar form (falsy is 0). */
#define MODE_INTERP 1u
/* CAT mode bit: cat called on one value rather than a list ({"cat": {"var":
 * "x"}}, or one operand in an interpreted region): null throws, an array is
 * concatenated, anything else is String(x). */
#define MODE_UNARY 2u

#define RI_FRAC_VALUE 0xFFu /* FRAC shape: an operand that is one value */
#define RI_FRAC_TABLE 0xFEu /* FRAC shape: a RK_BUCKETS constant (literal buckets) */
/* FRAC shape, first operand only: one value v, and the bucketing key is the
 * flag key followed by String(v) (what {"cat": [{"var": "$flagd.flagKey"},
 * ...]} gives; the compiler drops the flag key so that evaluation starts
 * from the hash state the loader computed over it). */
#define RI_FRAC_KEYED 0xFDu

/* OP_THROW reasons (see roost_vm_throw_message). */
enum { THROW_INVALID_ARGS = 0, THROW_TYPE, THROW__COUNT };

/* ------------------------------------------------------------ helpers */

/* For the few hot helpers gcc declines to inline at -O2; devices building
 * for size keep one copy. */
#if defined(__GNUC__) && !defined(__OPTIMIZE_SIZE__)
#define RI_HOT_INLINE inline __attribute__((always_inline))
#else
#define RI_HOT_INLINE inline
#endif

static inline uint16_t ri_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t ri_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline double ri_f64(const uint8_t *p)
{
    uint64_t u = (uint64_t)ri_u32(p) | (uint64_t)ri_u32(p + 4) << 32;
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static inline void ri_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void ri_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void ri_putf64(uint8_t *p, double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    ri_put32(p, (uint32_t)u);
    ri_put32(p + 4, (uint32_t)(u >> 32));
}

/* FNV-1a, 32 bits: image checksum and context key hashes. */
static inline uint32_t roost_fnv1a(const void *data, size_t len, uint32_t h)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}
#define ROOST_FNV_BASIS 2166136261u

static inline uint32_t roost_path_hash(const char *path, size_t len)
{
    return roost_fnv1a(path, len, ROOST_FNV_BASIS);
}

/* Hash of a flag key for roost_flagset_find. Keys up to 32 bytes (nearly
 * all of them) are read as at most four overlapping words, each multiplied
 * by its own constant independently of the others, so the hash costs one
 * multiply's latency plus an add tree rather than a chain of one multiply
 * per word (the slot load, and so the whole lookup, waits for it). Every
 * byte counts: keys that share a prefix and a suffix ("feature-a-enabled",
 * "feature-b-enabled") must not collide. Computed when an image loads and
 * when a key is looked up; never stored in images. */
static inline uint64_t roost_key_word(const char *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

static inline uint32_t roost_key_hash(const char *key, size_t len)
{
    const uint64_t k = 0x9E3779B97F4A7C15ull, m = 0xBF58476D1CE4E5B9ull;
    uint64_t h;
    if (len >= 8 && len <= 32) {
        /* Head and tail words; for more than 16 bytes also the two inner
         * ones (overlapping the outer ones when shorter than 32). */
        h = (roost_key_word(key) ^ k) * m + (roost_key_word(key + len - 8) + len) * k;
        if (len > 16)
            h += (roost_key_word(key + 8) ^ m) * 0x94D049BB133111EBull +
                 (roost_key_word(key + len - 16) ^ k) * 0xD6E8FEB86659FD93ull;
    } else if (len < 8) {
        /* Bytes one by one: a variable-length memcpy here costs a
         * store-forwarding stall. */
        uint64_t w = 0;
        for (size_t j = 0; j < len; j++)
            w |= (uint64_t)(uint8_t)key[j] << (8 * j);
        h = (w ^ k) * m + len;
    } else {
        h = (uint64_t)len * k;
        size_t i = 0;
        for (; i + 8 <= len; i += 8) {
            h = (h ^ roost_key_word(key + i)) * k;
            h ^= h >> 29;
        }
        if (i < len) /* the last 8 bytes, overlapping the previous word */
            h = (h ^ roost_key_word(key + len - 8)) * k;
        h *= m;
    }
    return (uint32_t)(h ^ (h >> 32));
}

/* a[0..len) == b[0..len) for the short keys, paths and values of hot
 * lookups, without a call: word compares (overlapping at the tail), memcmp
 * only past 32 bytes. Words are loaded straight into registers (no copy
 * through a stack array, which made callers keep a frame). */
static inline bool roost_bytes_eq(const char *a, const char *b, size_t len)
{
    if (len >= 8) {
        if (len > 32)
            return memcmp(a, b, len) == 0;
        uint64_t d = (roost_key_word(a) ^ roost_key_word(b)) |
                     (roost_key_word(a + len - 8) ^ roost_key_word(b + len - 8));
        if (len > 16)
            d |= (roost_key_word(a + 8) ^ roost_key_word(b + 8)) |
                 (roost_key_word(a + len - 16) ^ roost_key_word(b + len - 16));
        return d == 0;
    }
    if (len >= 4) {
        uint32_t x0, y0, x1, y1;
        memcpy(&x0, a, 4);
        memcpy(&y0, b, 4);
        memcpy(&x1, a + len - 4, 4);
        memcpy(&y1, b + len - 4, 4);
        return ((x0 ^ y0) | (x1 ^ y1)) == 0;
    }
    for (size_t i = 0; i < len; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

/* Operand bytes after each opcode; -1 for OP_FRAC (1 + its n). */
int roost_op_operand_len(uint8_t op);
/* Name of an opcode, for disassembly and error messages. */
const char *roost_op_name(uint8_t op);

/* ------------------------------------------------------ runtime values */

/* RV_TABLE is a RK_BUCKETS constant: only fractional reads it; to every
 * other operator it is an opaque object. */
enum { RV_NULL = 0, RV_BOOL, RV_NUM, RV_STR, RV_ARR, RV_OBJ, RV_TABLE };

/* RV_OBJ flags */
#define RV_OBJ_NONEMPTY 1u /* truthy: a context object, not {} */
#define RV_OBJ_PATH 2u     /* a context object; u.s/len name it (identity) */
#define RV_OBJ_ROOT 4u     /* the whole context ({"var": ""}) */

typedef struct rv {
    uint8_t t;
    uint8_t f;   /* BOOL: value; OBJ: RV_OBJ_* */
    uint16_t vi; /* STR: variant index + 1 when known, else 0 */
    uint32_t len; /* STR: bytes; ARR, TABLE: constant index; OBJ with PATH: path bytes */
    union {
        double n;
        const char *s;
    } u;
} rv;

/* The interpreter's working memory for one evaluation. */
typedef struct roost_vm {
    const roost_flag *flag;
    const roost_ctx *ctx;
    const char *err; /* static message when run fails */
    rv prev;         /* json-logic-engine's prev (see CMP_MODE_COMPILED) */
    uint32_t scratch_used;
    /* sem_ver parses of this run, by text address: an if-chain compares one
     * context string with one interned constant again and again. Strings
     * do not change during a run (scratch is never reused), so the address
     * and length identify the text. */
    struct {
        const char *s;
        uint32_t len;
        bool ok;
        roost_semver v;
    } semver_cache[2];
    uint8_t semver_next;
    rv stack[ROOST_EVAL_STACK];
    char scratch[ROOST_EVAL_SCRATCH];
} roost_vm;

/* Runs the program code[0..len) of vm->flag (whose constants it reads) for
 * vm->ctx. Returns true with *out pointing at the result (a slot of
 * vm->stack: valid while vm is), or false with vm->err set (flagd's GENERAL
 * error). The program must have passed roost_code_verify (or come from
 * the compiler, which emits only verified shapes). A pointer rather than a
 * copy: the result was just written, and copying it whole would stall on
 * store forwarding at the end of every evaluation. */
bool roost_vm_run(roost_vm *vm, const uint8_t *code, uint32_t len, const rv **out);

/* Checks that code[0..len) is safe to run against constants of `flag`:
 * known opcodes of image format `format` (format 1 has neither OP_CMPKJF
 * nor keyed fractional operands), operands in range, forward jumps to
 * instruction starts, consistent stack depth on every path, one value at
 * OP_RET. On success stores the deepest stack use in *max_stack. On failure
 * returns false and points *why at a static description. */
bool roost_code_verify(const roost_flag *flag, const uint8_t *code, uint32_t len, unsigned format,
                       uint32_t *max_stack, const char **why);

/* Checks the constant table and blob of `flag` (kinds, bounds, variant
 * indexes, path hashes, array ordering and depth). */
bool roost_consts_verify(const roost_flag *flag, const char **why);

/* Entry k of the constant blob (k < flag->n_consts, verified). */
static inline const uint8_t *roost_const_at(const roost_flag *flag, uint32_t k)
{
    return flag->cblob + ri_u32(flag->ctab + 4 * k);
}

/* Loads constant k as a runtime value (PATH constants load as strings). */
void roost_const_value(const roost_flag *flag, uint32_t k, rv *out);

/* String(v) as JavaScript computes it. The text is in the image, the
 * context, or vm scratch. Returns false when scratch is exhausted. */
bool roost_vm_to_string(roost_vm *vm, const rv *v, const char **s, uint32_t *len);

/* The variant a rule result names (String(result) matched against the
 * variant names), or -1. */
int roost_vm_variant_of(roost_vm *vm, const rv *v, bool *scratch_full);


/* ------------------------------------------------- context and paths */

/* roost_ctx_attr.type */
enum { CTX_STRING = 1, CTX_NUMBER = 2, CTX_BOOL = 3 };

/* Reads the context value at a canonical path (see roost_path_canonical):
 * the attribute's value, an object when the path is a proper prefix of
 * attribute keys, else null. ctx may be NULL. */
void roost_ctx_lookup(const roost_ctx *ctx, const char *path, uint32_t len, uint32_t hash,
                      rv *out);

/* The two halves of roost_ctx_lookup, so the interpreter can inline the
 * common one. The attribute at exactly this path: true with *out set, or
 * false with *out untouched. */
static RI_HOT_INLINE bool roost_ctx_lookup_attr(const roost_ctx *ctx, const char *path, uint32_t len,
                                         uint32_t hash, rv *out)
{
    if (!ctx)
        return false;
    for (uint32_t i = 0; i < ctx->count; i++) {
        const roost_ctx_attr *a = &ctx->attrs[i];
        if (a->hash != hash || a->key_len != len || !roost_bytes_eq(a->key, path, len))
            continue;
        out->f = 0;
        out->vi = 0;
        switch (a->type) {
        case CTX_STRING:
            out->t = RV_STR;
            out->u.s = a->str;
            out->len = a->str_len;
            return true;
        case CTX_NUMBER:
            out->t = RV_NUM;
            out->u.n = a->num;
            return true;
        case CTX_BOOL:
            out->t = RV_BOOL;
            out->f = a->num != 0.0;
            return true;
        default:
            out->t = RV_NULL;
            return true;
        }
    }
    return false;
}

/* An object when the path is a proper prefix of attribute keys, else null. */
void roost_ctx_lookup_object(const roost_ctx *ctx, const char *path, uint32_t len, rv *out);

/* Turns a `var` path as JsonLogic writes it ("a.b", "a\.b") into the
 * canonical form context keys use: json-logic-engine's splitPath segments
 * ('\.' is a dot inside a segment, '\\' a backslash, '\/' a slash; a path of
 * only dots is that many empty segments) joined by '.', with '.' and '\'
 * inside segments escaped by '\'. Writes at most cap bytes to out; returns
 * the length, or SIZE_MAX when out is too small. */
size_t roost_path_canonical(const char *path, size_t len, char *out, size_t cap);

/* Appends one segment, escaped, to a canonical path being built in
 * out[0..*used) (adding the '.' separator when *used > 0 or `first` is
 * false). Returns false when cap would be exceeded. */
bool roost_path_append(char *out, size_t cap, size_t *used, bool first, const char *seg,
                       size_t seg_len);

/* ------------------------------------------------ JavaScript semantics */

/* JavaScript truthiness (`if (x)`, `x || y`): objects and arrays are true. */
bool roost_js_truthy(const rv *v);
/* json-logic-engine's truthy(): like JavaScript, but empty arrays and empty
 * objects are false. Used by if, and, or, !, !!. */
bool roost_logic_truthy(const roost_flag *flag, const rv *v);
/* ToNumber. Arrays go through their string form (which may need scratch;
 * on exhaustion *ok becomes false). */
double roost_vm_to_number(roost_vm *vm, const rv *v, bool *ok);
/* precoerceNumber(): false for NaN, arrays and objects (json-logic-engine
 * throws). */
bool roost_js_precoerce_ok(const rv *v);
/* a === b, and SameValueZero(a, b) (Array.prototype.includes). */
bool roost_js_strict_eq(const rv *a, const rv *b);
bool roost_js_same_value_zero(const rv *a, const rv *b);
/* a OP b with JavaScript's own operator semantics (loose ==, relational
 * comparison of strings or numbers, ===). */
bool roost_vm_js_compare(roost_vm *vm, int op, const rv *a, const rv *b, bool *ok);
/* Compares UTF-8 strings in UTF-16 code unit order (JavaScript's <). */
int roost_utf16_cmp(const char *a, uint32_t alen, const char *b, uint32_t blen);
/* Bump allocation in vm scratch; NULL when exhausted. */
char *roost_vm_alloc(roost_vm *vm, uint32_t n);

#endif
