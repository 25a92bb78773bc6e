/* Flag image loading and verification.
 *
 * SDKs receive images over the network, so roost_flag_load treats them as
 * hostile: it checks every byte it will later trust, once, and evaluation
 * then runs without bounds checks. The checks are:
 *
 *  - header: magic, format version, exact size, FNV-1a checksum (catches
 *    truncation and corruption in transit, not tampering: images are not
 *    signed), enumerations in range, counts within the engine's limits;
 *  - every string reference inside the image and NUL-terminated;
 *  - variants, metadata (sorted by key, as the API promises) and constants
 *    (kinds, sizes, a variant index only on a string equal to that variant's
 *    name, path hashes, arrays referring only to earlier constants with a
 *    recorded nesting depth of at most RI_MAX_ARRAY_DEPTH);
 *  - the program: known opcodes, operands in range, jumps forward onto
 *    instruction starts, the same stack depth on every path into an
 *    instruction, no unreachable code, one value at RET, and a maximum
 *    depth within ROOST_EVAL_STACK.
 *
 * Verification is linear in the image size (the program check keeps at most
 * MAX_PENDING pending jump targets, which bounds nesting; the compiler never
 * comes close) and uses no memory beyond a small stack frame.
 */
#include <string.h>

#include "engine_internal.h"
#include "roost/murmur3.h"

#define MAX_PENDING 64

static const int8_t operand_len[OP__COUNT] = {
    [OP_RET] = 0,    [OP_NULL] = 0,   [OP_TRUE] = 0,   [OP_FALSE] = 0,     [OP_CONST] = 2,
    [OP_VAR] = 2,    [OP_VARP] = 2,   [OP_PREV] = 0,   [OP_VAR_DYN] = 0, [OP_VAR_ALL] = 0, [OP_FLAGKEY] = 0, [OP_TIMESTAMP] = 0,
    [OP_POP] = 0,    [OP_JMP] = 2,    [OP_JF] = 2,     [OP_JFK] = 2,       [OP_JTK] = 2,
    [OP_COALESCE] = 2, [OP_NOT] = 0,  [OP_NOTNOT] = 0, [OP_CMP] = 2,       [OP_CMPC] = 4,
    [OP_CMPE] = 0,   [OP_ARITH] = 3,  [OP_MINMAX] = 2, [OP_IN] = 0,        [OP_INL] = 1,
    [OP_CAT] = 2,    [OP_SUBSTR] = 1, [OP_STRCMP] = 2, [OP_SEMVER] = 1,    [OP_FRAC] = -1,
    [OP_THROW] = 1,  [OP_SELECT] = 0, [OP_CMP3] = 1,  [OP_RETC] = 2,  [OP_CMPJF] = 4,  [OP_NOTA] = 1,
    [OP_CMPKJF] = 8,
};

static const char *const op_names[OP__COUNT] = {
    [OP_RET] = "RET",         [OP_NULL] = "NULL",       [OP_TRUE] = "TRUE",
    [OP_FALSE] = "FALSE",     [OP_CONST] = "CONST",     [OP_VAR] = "VAR",
    [OP_VARP] = "VARP",       [OP_PREV] = "PREV",       [OP_VAR_DYN] = "VAR_DYN", [OP_VAR_ALL] = "VAR_ALL", [OP_FLAGKEY] = "FLAGKEY",
    [OP_TIMESTAMP] = "TIMESTAMP", [OP_POP] = "POP",     [OP_JMP] = "JMP",
    [OP_JF] = "JF",           [OP_JFK] = "JFK",         [OP_JTK] = "JTK",
    [OP_COALESCE] = "COALESCE", [OP_NOT] = "NOT",       [OP_NOTNOT] = "NOTNOT",
    [OP_CMP] = "CMP",         [OP_CMPC] = "CMPC",       [OP_CMPE] = "CMPE",
    [OP_ARITH] = "ARITH",     [OP_MINMAX] = "MINMAX",   [OP_IN] = "IN",
    [OP_INL] = "INL",         [OP_CAT] = "CAT",         [OP_SUBSTR] = "SUBSTR",
    [OP_STRCMP] = "STRCMP",   [OP_SEMVER] = "SEMVER",   [OP_FRAC] = "FRAC",
    [OP_THROW] = "THROW",     [OP_SELECT] = "SELECT",   [OP_CMP3] = "CMP3",
    [OP_RETC] = "RETC",       [OP_CMPJF] = "CMPJF",     [OP_NOTA] = "NOTA",
    [OP_CMPKJF] = "CMPKJF",
};

int roost_op_operand_len(uint8_t op)
{
    return op < OP__COUNT ? operand_len[op] : -2;
}

const char *roost_op_name(uint8_t op)
{
    return op < OP__COUNT ? op_names[op] : "?";
}

/* --------------------------------------------------------------- program */

typedef struct pending {
    uint32_t target;
    uint32_t depth;
} pending;

static bool add_pending(pending *p, uint32_t *n, uint32_t target, uint32_t depth, const char **why)
{
    for (uint32_t i = 0; i < *n; i++) {
        if (p[i].target == target) {
            if (p[i].depth != depth) {
                *why = "two jumps reach one instruction with different stack depths";
                return false;
            }
            return true;
        }
    }
    if (*n == MAX_PENDING) {
        *why = "too many pending jump targets (rule nested too deeply)";
        return false;
    }
    p[*n].target = target;
    p[*n].depth = depth;
    (*n)++;
    return true;
}

static uint8_t const_kind(const roost_flag *f, uint32_t k)
{
    return roost_const_at(f, k)[0];
}

bool roost_code_verify(const roost_flag *f, const uint8_t *code, uint32_t len, unsigned format,
                       uint32_t *max_stack, const char **why)
{
    pending pend[MAX_PENDING];
    uint32_t npend = 0, depth = 0, max = 0, pc = 0, steps = 0;
    bool reachable = true;

#define BAD(msg)                                                                                   \
    do {                                                                                           \
        *why = (msg);                                                                              \
        return false;                                                                              \
    } while (0)
#define NEED(k)                                                                                    \
    do {                                                                                           \
        if (depth < (uint32_t)(k))                                                                 \
            BAD("an instruction pops more values than the stack holds");                          \
    } while (0)

    if (len == 0 || len > ROOST_MAX_CODE)
        BAD("program is empty or longer than ROOST_MAX_CODE");
    while (pc < len) {
        /* Jumps landing here. */
        for (uint32_t i = 0; i < npend;) {
            if (pend[i].target == pc) {
                if (reachable && depth != pend[i].depth)
                    BAD("a jump and the fall-through reach one instruction with different "
                        "stack depths");
                depth = pend[i].depth;
                reachable = true;
                pend[i] = pend[--npend];
            } else {
                i++;
            }
        }
        if (!reachable)
            BAD("unreachable instruction");
        if (++steps > ROOST_MAX_STEPS)
            BAD("more than ROOST_MAX_STEPS instructions");

        uint8_t op = code[pc];
        if (op >= OP__COUNT)
            BAD("unknown opcode");
        uint32_t olen = operand_len[op] >= 0 ? (uint32_t)operand_len[op] : 0;
        if (op == OP_FRAC) {
            if (pc + 2 > len)
                BAD("instruction runs past the end of the program");
            olen = 1u + code[pc + 1];
        }
        if (pc + 1 + olen > len)
            BAD("instruction runs past the end of the program");
        const uint8_t *o = code + pc + 1;
        uint32_t next = pc + 1 + olen;
        bool terminal = false;
        uint32_t jump_depth = 0;
        bool jumps = false;

        switch (op) {
        case OP_RET:
            if (depth != 1)
                BAD("RET with other than one value on the stack");
            terminal = true;
            break;
        case OP_NULL:
        case OP_TRUE:
        case OP_FALSE:
        case OP_VAR_ALL:
        case OP_FLAGKEY:
        case OP_TIMESTAMP:
            depth++;
            break;
        case OP_CONST:
        case OP_VAR:
        case OP_VARP: {
            uint16_t k = ri_u16(o);
            if (k >= f->n_consts)
                BAD("constant index out of range");
            if ((const_kind(f, k) == RK_PATH) != (op != OP_CONST))
                BAD("VAR needs a path constant and CONST a value constant");
            depth++;
            break;
        }
        case OP_VAR_DYN:
        case OP_PREV:
        case OP_NOT:
        case OP_NOTNOT:
        case OP_CMPE:
            NEED(1);
            break;
        case OP_POP:
            NEED(1);
            depth--;
            break;
        case OP_JMP:
            jumps = true;
            jump_depth = depth;
            terminal = true;
            break;
        case OP_JF:
            NEED(1);
            depth--;
            jumps = true;
            jump_depth = depth;
            break;
        case OP_JFK:
        case OP_JTK:
        case OP_COALESCE:
            NEED(1);
            jumps = true;
            jump_depth = depth;
            depth--;
            break;
        case OP_CMP:
            NEED(2);
            if (o[0] >= CMP__COUNT || o[1] >= CMP_MODE__COUNT)
                BAD("unknown comparison or mode");
            depth--;
            break;
        case OP_CMPC:
            NEED(2);
            if (o[0] >= CMP__COUNT || o[1] >= CHAIN__COUNT)
                BAD("unknown comparison or chain mode");
            depth--;
            jumps = true;
            jump_depth = depth;
            break;
        case OP_ARITH:
            if (o[0] >= ARITH__COUNT || o[1] == 0 || o[2] > (MODE_INTERP | MODE_UNARY))
                BAD("bad arithmetic operands");
            NEED(o[1]);
            depth = depth - o[1] + 1;
            break;
        case OP_MINMAX:
            if (o[0] > 1 || o[1] == 0)
                BAD("bad min/max operands");
            NEED(o[1]);
            depth = depth - o[1] + 1;
            break;
        case OP_IN:
            NEED(2);
            depth--;
            break;
        case OP_INL:
            NEED(o[0] + 1u);
            depth -= o[0];
            break;
        case OP_CAT:
            if (o[1] > (MODE_INTERP | MODE_UNARY) || ((o[1] & MODE_UNARY) && o[0] != 1))
                BAD("bad cat operands");
            NEED(o[0]);
            depth = depth - o[0] + 1;
            break;
        case OP_SUBSTR:
        case OP_SEMVER:
            NEED(o[0]);
            depth = depth - o[0] + 1;
            break;
        case OP_STRCMP:
            if (o[0] > 1)
                BAD("bad string comparison");
            NEED(o[1]);
            depth = depth - o[1] + 1;
            break;
        case OP_FRAC: {
            uint32_t slots = 0;
            for (uint32_t i = 0; i < o[0]; i++) {
                uint8_t shape = o[1 + i];
                if (shape == RI_FRAC_KEYED ? i != 0 : shape > 3 && shape < RI_FRAC_TABLE)
                    BAD("bad fractional operand shape");
                if (shape == RI_FRAC_KEYED && format < 2)
                    BAD("keyed fractional operand in a format 1 image (it is format 2)");
                slots += shape >= RI_FRAC_KEYED ? 1u : shape;
            }
            NEED(slots);
            depth = depth - slots + 1;
            break;
        }
        case OP_RETC: {
            uint16_t k = ri_u16(o);
            if (k >= f->n_consts || const_kind(f, k) == RK_PATH)
                BAD("RETC needs a value constant");
            if (depth != 0)
                BAD("RETC with values left on the stack");
            depth = 1; /* the result, for the maximum */
            terminal = true;
            break;
        }
        case OP_CMPJF:
            NEED(2);
            if (o[0] >= CMP__COUNT || o[1] >= CMP_MODE__COUNT)
                BAD("unknown comparison or mode");
            depth -= 2;
            jumps = true;
            jump_depth = depth;
            break;
        case OP_CMPKJF:
            if (format < 2)
                BAD("CMPKJF in a format 1 image (it is format 2)");
            /* Both operands come from the constant table, not the stack:
             * any kind will do (a PATH is read from the context). */
            if (o[0] >= CMP__COUNT || o[1] >= CMP_MODE__COUNT)
                BAD("unknown comparison or mode");
            if (ri_u16(o + 2) >= f->n_consts || ri_u16(o + 4) >= f->n_consts)
                BAD("constant index out of range");
            jumps = true;
            jump_depth = depth;
            break;
        case OP_NOTA:
            NEED(1);
            if (o[0] > 1)
                BAD("bad NOTA operand");
            break;
        case OP_SELECT:
            NEED(3);
            depth -= 2;
            break;
        case OP_CMP3:
            NEED(3);
            if (o[0] >= CMP__COUNT)
                BAD("unknown comparison");
            depth -= 2;
            break;
        case OP_THROW:
            /* Counted as producing a value: it stands for an operand whose
             * evaluation fails, so the code after it stays well-formed. */
            if (o[0] >= THROW__COUNT)
                BAD("unknown error reason");
            depth++;
            break;
        default:
            BAD("unknown opcode");
        }
        if (jumps) {
            uint32_t target =
                next + ri_u16(o + (op == OP_CMPKJF ? 6 : op == OP_CMPC || op == OP_CMPJF ? 2 : 0));
            if (target >= len)
                BAD("jump past the end of the program");
            if (!add_pending(pend, &npend, target, jump_depth, why))
                return false;
        }
        if (depth > max)
            max = depth;
        if (max > ROOST_EVAL_STACK)
            BAD("program needs more stack than ROOST_EVAL_STACK");
        for (uint32_t i = 0; i < npend; i++)
            if (pend[i].target > pc && pend[i].target < next)
                BAD("jump into the middle of an instruction");
        if (terminal)
            reachable = false;
        pc = next;
    }
    if (reachable || npend != 0)
        BAD("program does not end with RET or JMP on every path");
    *max_stack = max;
    return true;
#undef NEED
#undef BAD
}

/* ------------------------------------------------------------- constants */

bool roost_consts_verify(const roost_flag *f, const char **why)
{
    for (uint32_t k = 0; k < f->n_consts; k++) {
        uint32_t off = ri_u32(f->ctab + 4 * k);
        if (off >= f->cblob_len) {
            *why = "constant offset outside the constant area";
            return false;
        }
        const uint8_t *e = f->cblob + off;
        uint32_t room = f->cblob_len - off;
        switch (e[0]) {
        case RK_NULL:
        case RK_TRUE:
        case RK_FALSE:
        case RK_OBJ:
            break;
        case RK_NUM:
            if (room < 9)
                goto truncated;
            break;
        case RK_STR: {
            if (room < 8) /* header and the NUL; keeps room - 8 from wrapping */
                goto truncated;
            uint32_t len = ri_u32(e + 1);
            uint16_t vi = ri_u16(e + 5);
            if (len > room - 8 || e[7 + len] != 0)
                goto truncated;
            if (vi > f->n_variants) {
                *why = "string constant names a variant that does not exist";
                return false;
            }
            if (vi != 0) {
                const uint8_t *r = f->variants + RI_VARIANT_LEN * (vi - 1u);
                if (ri_u32(r + 4) != len || memcmp(f->image + ri_u32(r), e + 7, len) != 0) {
                    *why = "string constant is marked as a variant name it does not match";
                    return false;
                }
            }
            break;
        }
        case RK_PATH: {
            if (room < 10)
                goto truncated;
            uint32_t len = ri_u32(e + 1);
            if (len > room - 10 || e[9 + len] != 0)
                goto truncated;
            if (ri_u32(e + 5) != roost_path_hash((const char *)e + 9, len)) {
                *why = "path constant has a wrong hash";
                return false;
            }
            break;
        }
        case RK_ARR: {
            if (room < 4)
                goto truncated;
            uint16_t count = ri_u16(e + 2);
            if ((uint32_t)count * 2 > room - 4)
                goto truncated;
            unsigned depth = 1;
            for (uint16_t i = 0; i < count; i++) {
                uint16_t el = ri_u16(e + 4 + 2 * i);
                if (el >= k) {
                    *why = "array constant refers to a later constant";
                    return false;
                }
                const uint8_t *c = roost_const_at(f, el);
                if (c[0] == RK_PATH || c[0] == RK_BUCKETS) {
                    *why = "array constant holds a path or a bucket table";
                    return false;
                }
                if (c[0] == RK_ARR && c[1] + 1u > depth)
                    depth = c[1] + 1u;
            }
            if (e[1] != depth || depth > RI_MAX_ARRAY_DEPTH) {
                *why = "array constant nested too deeply or with a wrong depth";
                return false;
            }
            break;
        }
        case RK_BUCKETS: {
            if (room < 8)
                goto truncated;
            uint16_t count = ri_u16(e + 2);
            uint32_t total = ri_u32(e + 4);
            uint64_t sum = 0;
            if ((uint32_t)count * 6 > room - 8)
                goto truncated;
            for (uint16_t i = 0; i < count; i++) {
                uint16_t v = ri_u16(e + 8 + 6 * i);
                if (v >= k) {
                    *why = "bucket table refers to a later constant";
                    return false;
                }
                uint8_t vk = roost_const_at(f, v)[0];
                if (vk == RK_PATH || vk == RK_ARR || vk == RK_OBJ || vk == RK_BUCKETS) {
                    *why = "bucket table variant is not a string, number, boolean or null";
                    return false;
                }
                sum += ri_u32(e + 8 + 6 * i + 2);
            }
            if (sum != total || total > 2147483647u) {
                *why = "bucket table weights do not add up to its total (at most 2^31-1)";
                return false;
            }
            break;
        }
        default:
            *why = "unknown constant kind";
            return false;
        }
        continue;
    truncated:
        *why = "constant runs past the end of the constant area";
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------ load */

/* A string reference at p: inside the image, followed by a NUL. */
static bool str_ok(const uint8_t *img, uint32_t size, const uint8_t *p)
{
    uint32_t off = ri_u32(p), len = ri_u32(p + 4);
    return off < size && len < size - off && img[off + len] == 0;
}

static bool range_ok(uint32_t size, uint32_t off, uint64_t len)
{
    return off <= size && len <= (uint64_t)(size - off);
}

static bool key_char(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-';
}

/* Recognizes a verified program that is exactly
 *
 *     CMPKJF cmp mode ka kb 3; RETC k1; RETC k2
 *
 * with cmp one of ==, ===, !=, !==, one of ka and kb a PATH outside
 * $flagd and the other a string constant, and k1 and k2 string constants
 * naming variants: the compiled form of {"if": [{"==": [s, {"var": p}]},
 * v1, v2]}. When the context value at p is a string, that program's
 * result is v1 or v2 by byte equality alone: cmp_values takes its
 * string-string branch whatever the mode (the value compareCheck looks at
 * is an operand, both strings, or the prev register, null at the start),
 * so the evaluator may compare here and skip the interpreter. Any other
 * context value still runs the program. */
static void rule_shape(roost_flag *f)
{
    const uint8_t *c = f->code;
    if (f->targeting != RI_TARGETING_PROGRAM || f->code_len < 15 || c[0] != OP_CMPKJF ||
        c[1] > CMP_SNE || ri_u16(c + 7) != 3 || c[9] != OP_RETC || c[12] != OP_RETC)
        return;
    const uint8_t *ka = roost_const_at(f, ri_u16(c + 3)), *kb = roost_const_at(f, ri_u16(c + 5));
    const uint8_t *path = ka[0] == RK_PATH ? ka : kb, *str = ka[0] == RK_PATH ? kb : ka;
    const uint8_t *r1 = roost_const_at(f, ri_u16(c + 10)), *r2 = roost_const_at(f, ri_u16(c + 13));
    if (path[0] != RK_PATH || str[0] != RK_STR || r1[0] != RK_STR || r2[0] != RK_STR ||
        ri_u16(r1 + 5) == 0 || ri_u16(r2 + 5) == 0)
        return;
    uint32_t plen = ri_u32(path + 1);
    if (plen >= 6 && memcmp(path + 9, "$flagd", 6) == 0 && (plen == 6 || path[15] == '.'))
        return; /* enriched by the interpreter, not read from the context */
    bool ne = c[1] == CMP_NE || c[1] == CMP_SNE;
    f->shape_variant[ne] = (uint16_t)(ri_u16(r1 + 5) - 1);
    f->shape_variant[!ne] = (uint16_t)(ri_u16(r2 + 5) - 1);
    f->shape_path = (const char *)path + 9;
    f->shape_path_len = plen;
    f->shape_path_hash = ri_u32(path + 5);
    f->shape_str = (const char *)str + 7;
    f->shape_str_len = ri_u32(str + 1);
    f->shape = RI_SHAPE_STR_EQ;
}

roost_status roost_flag_load(roost_flag *flag, const void *image, size_t len, roost_error *err)
{
    const uint8_t *img = image;
    roost_flag f;
    const char *why = NULL;

    if (!flag || !image)
        return roost_error_set(err, ROOST_EINVAL, "roost_flag_load: NULL flag or image");
#define CORRUPT(...) return roost_error_set(err, ROOST_ECORRUPT, "flag image: " __VA_ARGS__)
    if (len < RI_HEADER_LEN || memcmp(img, RI_MAGIC, 4) != 0)
        CORRUPT("not a Roost flag image (%zu bytes, no RSTF header)", len);
    unsigned format = ri_u16(img + RI_OFF_VERSION);
    if (format < ROOST_IMAGE_VERSION_MIN || format > ROOST_IMAGE_VERSION)
        CORRUPT("format version %u, this engine reads versions %u to %u; %s", format,
                (unsigned)ROOST_IMAGE_VERSION_MIN, (unsigned)ROOST_IMAGE_VERSION,
                format > ROOST_IMAGE_VERSION ? "update the SDK" : "recompile it with a newer roostd");
    if (ri_u16(img + RI_OFF_HLEN) != RI_HEADER_LEN)
        CORRUPT("header length %u, expected %u", (unsigned)ri_u16(img + RI_OFF_HLEN),
                (unsigned)RI_HEADER_LEN);
    uint32_t size = ri_u32(img + RI_OFF_SIZE);
    if (size != len)
        CORRUPT("image says %u bytes but %zu were given (truncated or padded)", (unsigned)size,
                len);
    if (roost_fnv1a(img + 16, size - 16, ROOST_FNV_BASIS) != ri_u32(img + RI_OFF_CHECKSUM))
        CORRUPT("checksum mismatch (corrupted in transit or storage)");

    memset(&f, 0, sizeof f);
    f.image = img;
    f.image_len = size;
    f.state = img[RI_OFF_STATE];
    f.type = img[RI_OFF_TYPE];
    f.targeting = img[RI_OFF_TARGETING];
    f.n_variants = ri_u16(img + RI_OFF_NVARIANTS);
    f.default_variant = ri_u16(img + RI_OFF_DEFAULT);
    f.n_metadata = ri_u16(img + RI_OFF_NMETA);
    f.n_consts = ri_u16(img + RI_OFF_NCONSTS);
    f.max_stack = ri_u16(img + RI_OFF_MAXSTACK);
    if (f.state > RI_STATE_DISABLED || f.type < ROOST_VALUE_BOOLEAN ||
        f.type > ROOST_VALUE_OBJECT || f.targeting > RI_TARGETING_PARSE_ERROR ||
        img[RI_OFF_RESERVED1] != 0 || ri_u16(img + RI_OFF_RESERVED2) != 0)
        CORRUPT("state, type or targeting kind out of range");
    if (f.n_variants == 0 || f.n_variants > ROOST_MAX_VARIANTS || f.n_metadata > ROOST_MAX_METADATA ||
        f.n_consts > ROOST_MAX_CONSTS)
        CORRUPT("variant, metadata or constant count out of range");
    if (f.default_variant != RI_NO_VARIANT && f.default_variant >= f.n_variants)
        CORRUPT("default variant %u does not exist", (unsigned)f.default_variant);
    if (f.max_stack > ROOST_EVAL_STACK)
        return roost_error_set(err, ROOST_ELIMIT,
                               "flag image: program needs %u stack values, this engine was built "
                               "with ROOST_EVAL_STACK %u",
                               (unsigned)f.max_stack, (unsigned)ROOST_EVAL_STACK);

    if (!str_ok(img, size, img + RI_OFF_KEY))
        CORRUPT("flag key outside the image");
    f.key = (const char *)img + ri_u32(img + RI_OFF_KEY);
    f.key_len = ri_u32(img + RI_OFF_KEY + 4);
    if (f.key_len == 0 || f.key_len > ROOST_MAX_KEY_LEN)
        CORRUPT("flag key length %u outside 1..%u", (unsigned)f.key_len,
                (unsigned)ROOST_MAX_KEY_LEN);
    for (uint32_t i = 0; i < f.key_len; i++)
        if (!key_char((uint8_t)f.key[i]))
            CORRUPT("flag key has a character outside [A-Za-z0-9._-]");
    f.key_hash = roost_key_hash(f.key, f.key_len);
    roost_murmur3 km;
    roost_murmur3_init(&km, 0);
    roost_murmur3_update(&km, f.key, f.key_len);
    f.key_murmur_h = km.h;

    uint32_t voff = ri_u32(img + RI_OFF_VARIANTS);
    if (!range_ok(size, voff, (uint64_t)f.n_variants * RI_VARIANT_LEN))
        CORRUPT("variant table outside the image");
    f.variants = img + voff;
    for (uint32_t i = 0; i < f.n_variants; i++) {
        const uint8_t *r = f.variants + RI_VARIANT_LEN * i;
        if (!str_ok(img, size, r))
            CORRUPT("variant %u name outside the image", (unsigned)i);
        if ((f.type == ROOST_VALUE_STRING || f.type == ROOST_VALUE_OBJECT) && !str_ok(img, size, r + 8))
            CORRUPT("variant %u value outside the image", (unsigned)i);
        if (f.type == ROOST_VALUE_BOOLEAN && ri_f64(r + 16) != 0.0 && ri_f64(r + 16) != 1.0)
            CORRUPT("variant %u is not a boolean", (unsigned)i);
        for (uint32_t j = 0; j < i; j++) {
            const uint8_t *q = f.variants + RI_VARIANT_LEN * j;
            if (ri_u32(q + 4) == ri_u32(r + 4) &&
                memcmp(img + ri_u32(q), img + ri_u32(r), ri_u32(r + 4)) == 0)
                CORRUPT("variant name repeated");
        }
    }

    uint32_t moff = ri_u32(img + RI_OFF_META);
    if (!range_ok(size, moff, (uint64_t)f.n_metadata * RI_META_LEN))
        CORRUPT("metadata table outside the image");
    f.metadata = img + moff;
    for (uint32_t i = 0; i < f.n_metadata; i++) {
        const uint8_t *r = f.metadata + RI_META_LEN * i;
        uint32_t t = ri_u32(r + 8);
        if (!str_ok(img, size, r) || t < ROOST_VALUE_BOOLEAN || t > ROOST_VALUE_NUMBER ||
            (t == ROOST_VALUE_STRING && !str_ok(img, size, r + 12)) ||
            (t == ROOST_VALUE_BOOLEAN && ri_f64(r + 20) != 0.0 && ri_f64(r + 20) != 1.0))
            CORRUPT("metadata entry %u is malformed", (unsigned)i);
        if (i > 0) {
            const uint8_t *q = r - RI_META_LEN;
            uint32_t ql = ri_u32(q + 4), rl = ri_u32(r + 4);
            int c = memcmp(img + ri_u32(q), img + ri_u32(r), ql < rl ? ql : rl);
            if (c > 0 || (c == 0 && ql >= rl))
                CORRUPT("metadata keys not sorted and unique");
        }
    }

    uint32_t ctoff = ri_u32(img + RI_OFF_CTAB), cboff = ri_u32(img + RI_OFF_CBLOB);
    f.cblob_len = ri_u32(img + RI_OFF_CBLOB + 4);
    if (!range_ok(size, ctoff, (uint64_t)f.n_consts * 4) || !range_ok(size, cboff, f.cblob_len))
        CORRUPT("constant area outside the image");
    f.ctab = img + ctoff;
    f.cblob = img + cboff;
    if (!roost_consts_verify(&f, &why))
        CORRUPT("%s", why);

    uint32_t coff = ri_u32(img + RI_OFF_CODE);
    f.code_len = ri_u32(img + RI_OFF_CODE + 4);
    if (!range_ok(size, coff, f.code_len))
        CORRUPT("program outside the image");
    f.code = img + coff;
    if (f.targeting == RI_TARGETING_PROGRAM) {
        uint32_t need;
        if (!roost_code_verify(&f, f.code, f.code_len, format, &need, &why))
            CORRUPT("program check failed: %s", why);
        if (need > f.max_stack)
            CORRUPT("program needs %u stack values but the header says %u", (unsigned)need,
                    (unsigned)f.max_stack);
    } else if (f.code_len != 0) {
        CORRUPT("program present on a flag without targeting");
    }
    rule_shape(&f);
#undef CORRUPT
    *flag = f;
    return ROOST_OK;
}

/* ------------------------------------------------------------- accessors */

const char *roost_flag_key(const roost_flag *flag, size_t *len)
{
    if (len)
        *len = flag->key_len;
    return flag->key;
}

roost_value_type roost_flag_type(const roost_flag *flag)
{
    return (roost_value_type)flag->type;
}

bool roost_flag_enabled(const roost_flag *flag)
{
    return flag->state == RI_STATE_ENABLED;
}

size_t roost_flag_variant_count(const roost_flag *flag)
{
    return flag->n_variants;
}

const char *roost_flag_variant_name(const roost_flag *flag, size_t i)
{
    if (i >= flag->n_variants)
        return NULL;
    return (const char *)flag->image + ri_u32(flag->variants + RI_VARIANT_LEN * i);
}

size_t roost_flag_metadata_count(const roost_flag *flag)
{
    return flag->n_metadata;
}

bool roost_flag_metadata_get(const roost_flag *flag, size_t i, roost_metadata *out)
{
    if (i >= flag->n_metadata)
        return false;
    const uint8_t *r = flag->metadata + RI_META_LEN * i;
    out->key = (const char *)flag->image + ri_u32(r);
    out->key_len = ri_u32(r + 4);
    out->type = (roost_value_type)ri_u32(r + 8);
    out->string = out->type == ROOST_VALUE_STRING ? (const char *)flag->image + ri_u32(r + 12) : NULL;
    out->string_len = out->type == ROOST_VALUE_STRING ? ri_u32(r + 16) : 0;
    out->number = ri_f64(r + 20);
    out->boolean = out->type == ROOST_VALUE_BOOLEAN && out->number != 0.0;
    return true;
}
