/* Roost evaluation engine: loads compiled flag images and evaluates them
 * against an evaluation context, with flagd's resolution semantics.
 *
 * roostd compiles each flagd flag definition (state, variants, default
 * variant, JsonLogic targeting, metadata) into a flag image: a versioned,
 * position-independent byte string (docs/engine.md describes the format).
 * Every SDK receives images over the network and evaluates them here, so this
 * API is built around three rules:
 *
 *  - Untrusted bytes are checked once. roost_flag_load() verifies the whole
 *    image (bounds, checksum, every instruction, every jump, the stack depth
 *    of every path). After it succeeds, evaluation cannot read outside the
 *    image, loop, or overflow its stack, whatever the bytes were.
 *  - No allocation, no locks, no global state. The caller owns every struct
 *    (flag, context, flag set, result). Evaluation uses a bounded amount of
 *    stack (about 2 KiB, see ROOST_EVAL_STACK and ROOST_EVAL_SCRATCH) and
 *    may run on any number of threads at once against the same flags.
 *  - Deterministic. The same image, context and timestamp always give the
 *    same result; the engine never reads a clock (the caller supplies
 *    $flagd.timestamp).
 *
 * Ownership: the engine never copies strings. A roost_flag points into the
 * image bytes, a roost_ctx points at the caller's keys and values, and a
 * roost_result points into the image, the context or the default value the
 * caller passed. Each must stay alive (and unchanged) while anything that
 * points into it is used. Every string the engine hands out from an image is
 * NUL-terminated (its length is also given).
 *
 * Portable C11 (string.h and math.h only); builds for Cortex-M.
 */
#ifndef ROOST_ENGINE_H
#define ROOST_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "roost/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- limits */

/* Format version of the images roostd writes, the newest this engine reads.
 * Older formats down to ROOST_IMAGE_VERSION_MIN load too (each format only
 * adds instructions and operand shapes to the one before, and an image may
 * use only those of its own format), so an SDK can be upgraded before
 * roostd. An image of any other version is refused by roost_flag_load
 * (ROOST_ECORRUPT, with a message that names the versions). */
#define ROOST_IMAGE_VERSION 2
#define ROOST_IMAGE_VERSION_MIN 1

/* Fixed limits. The compiler refuses flags beyond them (ROOST_ELIMIT, with a
 * message that names the limit), so every image roostd produces evaluates
 * within them; roost_flag_load refuses images that break them. */
#define ROOST_MAX_KEY_LEN 128     /* flag key: 1..128 of [A-Za-z0-9._-] */
#define ROOST_MAX_VARIANTS 256    /* variants per flag */
#define ROOST_MAX_METADATA 256    /* metadata entries per flag */
#define ROOST_MAX_DEPTH 32        /* nesting depth of a targeting rule */
#define ROOST_MAX_CODE 16384      /* bytes of rule program per flag */
#define ROOST_MAX_STEPS 4096      /* instructions in (so executed by) a rule */
#define ROOST_MAX_CONSTS 4096     /* constants per rule */
#define ROOST_MAX_ARGS 255        /* arguments of one operator */

/* Evaluation working memory, on the caller's stack: ROOST_EVAL_STACK values
 * of 16 bytes plus ROOST_EVAL_SCRATCH bytes for strings built during one
 * evaluation (cat, substr, numbers turned into text). A rule whose strings
 * do not fit gives reason ERROR / GENERAL, never a truncated string. Both can
 * be changed at build time (-DROOST_EVAL_SCRATCH=4096); images record the
 * stack they need and are refused by an engine built with less. */
#ifndef ROOST_EVAL_STACK
#define ROOST_EVAL_STACK 64
#endif
#ifndef ROOST_EVAL_SCRATCH
#define ROOST_EVAL_SCRATCH 1024
#endif

/* ----------------------------------------------------------------- enums */

/* The type of a flag's variant values (all variants of a flag share one). */
typedef enum roost_value_type {
    ROOST_VALUE_BOOLEAN = 1,
    ROOST_VALUE_STRING = 2,
    ROOST_VALUE_NUMBER = 3, /* integer and float evaluations both read numbers */
    ROOST_VALUE_OBJECT = 4  /* a JSON object, handed out as JSON text */
} roost_value_type;

/* Why a value was chosen (OpenFeature / flagd reasons). */
typedef enum roost_reason {
    ROOST_REASON_STATIC = 0,      /* no targeting: the default variant */
    ROOST_REASON_TARGETING_MATCH, /* the targeting rule chose a variant */
    ROOST_REASON_DEFAULT,         /* the rule gave null: default variant or caller's default */
    ROOST_REASON_DISABLED,        /* the flag is DISABLED: caller's default */
    ROOST_REASON_ERROR            /* see roost_result.error: caller's default */
} roost_reason;

/* Evaluation error codes (OpenFeature / flagd error codes). */
typedef enum roost_eval_error {
    ROOST_EVAL_OK = 0,
    ROOST_EVAL_FLAG_NOT_FOUND, /* no such flag (flag pointer was NULL) */
    ROOST_EVAL_TYPE_MISMATCH,  /* the flag's values are not of the requested type */
    ROOST_EVAL_PARSE_ERROR,    /* the targeting rule is invalid (flagd reports this at evaluation) */
    ROOST_EVAL_GENERAL         /* the rule failed at run time, or chose a variant that does not exist */
} roost_eval_error;

/* "STATIC", "TARGETING_MATCH", "DEFAULT", "DISABLED", "ERROR". */
const char *roost_reason_name(roost_reason reason);
/* "FLAG_NOT_FOUND", "TYPE_MISMATCH", "PARSE_ERROR", "GENERAL"; NULL for ROOST_EVAL_OK. */
const char *roost_eval_error_name(roost_eval_error error);

/* --------------------------------------------------------------- context */

/* One context attribute. The fields are the engine's: set them only through
 * roost_ctx_set_*. */
typedef struct roost_ctx_attr {
    const char *key;
    const char *str;
    double num;
    uint32_t key_len;
    uint32_t str_len;
    uint32_t hash;
    uint8_t type;
} roost_ctx_attr;

/* An evaluation context: attributes in caller-provided storage, plus the
 * timestamp used for $flagd.timestamp. Keys are `var` paths: nested objects
 * are written with dots ("user.name" is what {"var": "user.name"} reads), and
 * a '.' or '\' that belongs to a key is escaped with '\' ("a\.b" is the
 * top-level key "a.b"). The targeting key is the attribute "targetingKey".
 * Attributes that are not set read as null. */
typedef struct roost_ctx {
    roost_ctx_attr *attrs;
    uint32_t capacity;
    uint32_t count;
    int64_t timestamp;
} roost_ctx;

/* Makes ctx an empty context that can hold `capacity` attributes in `attrs`
 * (caller-owned, must outlive ctx). Timestamp starts at 0. */
void roost_ctx_init(roost_ctx *ctx, roost_ctx_attr *attrs, size_t capacity);

/* Removes every attribute and resets the timestamp to 0; keeps the storage. */
void roost_ctx_reset(roost_ctx *ctx);

/* Sets attribute `key` (replacing an existing value of any type). The
 * context keeps the key and value pointers, not copies.
 * Fails with: ROOST_EINVAL (NULL ctx/key/value, or a key or value longer
 * than UINT32_MAX), ROOST_ELIMIT (capacity reached; nothing changed). */
roost_status roost_ctx_set_string(roost_ctx *ctx, const char *key, const char *value);
roost_status roost_ctx_set_string_n(roost_ctx *ctx, const char *key, size_t key_len,
                                    const char *value, size_t value_len);
roost_status roost_ctx_set_number(roost_ctx *ctx, const char *key, double value);
roost_status roost_ctx_set_number_n(roost_ctx *ctx, const char *key, size_t key_len, double value);
roost_status roost_ctx_set_bool(roost_ctx *ctx, const char *key, bool value);
roost_status roost_ctx_set_bool_n(roost_ctx *ctx, const char *key, size_t key_len, bool value);
/* Same as roost_ctx_set_string(ctx, "targetingKey", targeting_key). */
roost_status roost_ctx_set_targeting_key(roost_ctx *ctx, const char *targeting_key);
/* Seconds since the Unix epoch, read by {"var": "$flagd.timestamp"}. */
void roost_ctx_set_timestamp(roost_ctx *ctx, int64_t unix_seconds);

/* ------------------------------------------------------------------ flag */

/* A loaded flag image. Filled by roost_flag_load; the fields are the
 * engine's. Points into the image bytes, which must outlive it. */
typedef struct roost_flag {
    /* What a lookup and a static evaluation touch comes first (one cache
     * line on 64-bit targets). */
    const char *key;
    uint32_t key_len;
    uint32_t key_hash;
    uint8_t state;
    uint8_t type;
    uint8_t targeting;
    uint16_t default_variant; /* 0xFFFF: none */
    uint16_t n_variants;
    const uint8_t *image;
    const uint8_t *variants;
    const uint8_t *code;
    uint32_t code_len;
    /* MurmurHash3 x86_32 state after the flag key's whole 4-byte blocks
     * (its last key_len % 4 bytes are still to be mixed): fractional's
     * bucketing keys start with the flag key, so evaluation hashes only
     * what follows it. */
    uint32_t key_murmur_h;
    const uint8_t *ctab;  /* constant offset table */
    const uint8_t *cblob; /* constant entries */
    const uint8_t *metadata;
    uint32_t image_len;
    uint32_t cblob_len;
    uint16_t n_metadata;
    uint16_t n_consts;
    uint16_t max_stack;
    /* Set by the loader when the whole rule compares one context value
     * with a string constant under ==, ===, != or !== and returns one of
     * two variant names (an `if` over a `$ref` like {"==": ["x", {"var":
     * "email"}]}): when the context holds a string there, evaluation
     * compares it here without running the program. shape_variant[0] is
     * the variant when the strings are equal, [1] when they differ. */
    uint8_t shape; /* 0: none */
    uint16_t shape_variant[2];
    uint32_t shape_path_len;
    uint32_t shape_path_hash;
    uint32_t shape_str_len;
    const char *shape_path;
    const char *shape_str;
} roost_flag;

/* Verifies `len` bytes at `image` and makes `flag` refer to them. On success
 * the image may be evaluated any number of times, from any thread.
 * Fails with: ROOST_EINVAL (NULL argument), ROOST_ECORRUPT (not an image, a
 * different format version, bad checksum, or any structural or program check
 * failed: the message says which), ROOST_ELIMIT (the program needs more
 * evaluation stack than ROOST_EVAL_STACK). `flag` is unchanged on failure. */
roost_status roost_flag_load(roost_flag *flag, const void *image, size_t len, roost_error *err);

/* The flag key (NUL-terminated; length in *len when len is not NULL). */
const char *roost_flag_key(const roost_flag *flag, size_t *len);
roost_value_type roost_flag_type(const roost_flag *flag);
bool roost_flag_enabled(const roost_flag *flag);
/* Number of variants, and the name of variant i (NULL when i is out of range). */
size_t roost_flag_variant_count(const roost_flag *flag);
const char *roost_flag_variant_name(const roost_flag *flag, size_t i);

/* One metadata entry: flag-set metadata merged with the flag's own (the
 * flag's wins). Strings point into the image. */
typedef struct roost_metadata {
    const char *key;
    size_t key_len;
    roost_value_type type; /* BOOLEAN, STRING or NUMBER */
    bool boolean;
    double number;
    const char *string;
    size_t string_len;
} roost_metadata;

size_t roost_flag_metadata_count(const roost_flag *flag);
/* Fills *out with entry i; returns false (and leaves *out alone) when i is
 * out of range. Entries are sorted by key. */
bool roost_flag_metadata_get(const roost_flag *flag, size_t i, roost_metadata *out);

/* ------------------------------------------------------------ evaluation */

/* The outcome of one evaluation. Strings point into the flag image or to the
 * default the caller passed; none of them is owned by the result. */
typedef struct roost_result {
    roost_value_type type; /* type of `value`: what was requested */
    union {
        bool boolean;
        int64_t integer;
        double number;
        struct {
            const char *ptr; /* NUL-terminated; JSON text for objects */
            size_t len;
        } string;
    } value;
    const char *variant;  /* chosen variant name, NULL when none was chosen */
    size_t variant_len;
    roost_reason reason;
    roost_eval_error error;
    const char *message;   /* static text explaining `error`, NULL when none */
    const roost_flag *flag; /* the flag evaluated (for metadata), NULL if not found */
} roost_result;

/* Evaluate `flag` for `ctx` and return the resolved value. `flag` NULL means
 * the flag does not exist (FLAG_NOT_FOUND); `ctx` NULL is an empty context;
 * `out` NULL is allowed when only the value matters. On any error, and when
 * the flag is disabled or has no default for a null rule result, the value
 * is `default_value`. These functions cannot fail otherwise.
 *
 * Integer evaluation of a number flag truncates toward zero (as flagd does);
 * a value outside int64_t range is a TYPE_MISMATCH. Object values and the
 * object default are JSON text. */
bool roost_eval_bool(const roost_flag *flag, const roost_ctx *ctx, bool default_value,
                     roost_result *out);
const char *roost_eval_string(const roost_flag *flag, const roost_ctx *ctx,
                              const char *default_value, roost_result *out);
int64_t roost_eval_int(const roost_flag *flag, const roost_ctx *ctx, int64_t default_value,
                       roost_result *out);
double roost_eval_float(const roost_flag *flag, const roost_ctx *ctx, double default_value,
                        roost_result *out);
const char *roost_eval_object(const roost_flag *flag, const roost_ctx *ctx,
                              const char *default_json, roost_result *out);

/* -------------------------------------------------------------- flag set */

/* Key -> flag lookup over an array of loaded flags, in caller memory: an
 * open-addressing table of `nslots` uint32_t slots (nslots > count; 2*count
 * keeps lookups short). The set points at `flags` and `slots`, which must
 * outlive it. Build one per snapshot; lookups are read-only and thread-safe. */
typedef struct roost_flagset {
    const roost_flag *flags;
    uint32_t *slots;
    uint32_t count;
    uint32_t nslots;
} roost_flagset;

/* Slots to give roost_flagset_init for n flags. */
#define ROOST_FLAGSET_SLOTS(n) (2u * (uint32_t)(n) + 1u)

/* Fails with: ROOST_EINVAL (NULL argument, nslots <= count, or count above
 * UINT32_MAX / 2), ROOST_ECONFLICT (two flags share a key; the message names
 * it). */
roost_status roost_flagset_init(roost_flagset *set, const roost_flag *flags, size_t count,
                                uint32_t *slots, size_t nslots, roost_error *err);

/* The flag with this key, or NULL (pass NULL on to roost_eval_* to get
 * FLAG_NOT_FOUND). */
const roost_flag *roost_flagset_find(const roost_flagset *set, const char *key, size_t key_len);

#ifdef __cplusplus
}
#endif

#endif /* ROOST_ENGINE_H */
