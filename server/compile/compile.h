/* The flag compiler: flagd flag-set documents -> Roost flag images.
 *
 * roostd calls this when a flag document is applied. The caller has parsed
 * the JSON (cJSON) and validated the document's top level; this compiler
 * reads only the flagd parts of it -- "$schema", "flags" (an object keyed by
 * flag key, or an array of flags with a "key"), "$evaluators" and
 * "metadata" -- and ignores every other top-level key, so Roost's own
 * resources can sit beside the flags in the same file.
 *
 * Inside flags it is strict: unknown fields, mixed variant types, a
 * defaultVariant that is not a variant, bad keys, invalid UTF-8, operators
 * Roost does not implement and rules beyond the engine's fixed limits are
 * errors, each naming the flag, the JSON path and what was expected.
 * Problems that flagd itself only reports when the flag is evaluated (an
 * unknown operator, a $ref to a missing evaluator, a constant division by
 * zero...) are not errors: the flag compiles to an image that evaluates to
 * flagd's result (PARSE_ERROR), and the set carries a warning saying why.
 *
 * Each compiled flag has its normalized definition (JSON text with $refs
 * inlined and metadata merged, so it stands alone) and its image, which
 * include/roost/engine.h loads. Everything is owned by the compiled set.
 */
#ifndef ROOST_SERVER_COMPILE_H
#define ROOST_SERVER_COMPILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "roost/engine.h"
#include "roost/status.h"

/* One compiled flag. All pointers are owned by the roost_compiled_set. */
typedef struct roost_compiled_flag {
    const char *key;
    const char *source_json;  /* normalized definition, NUL-terminated */
    const uint8_t *image;     /* load with roost_flag_load */
    size_t image_len;
    bool enabled;             /* state ENABLED */
    bool has_targeting;       /* a targeting rule (possibly one flagd rejects at evaluation) */
    roost_value_type type;
    size_t n_variants;
    const char *const *variant_names; /* in document order */
    const char *default_variant;      /* NULL when the flag has none */
} roost_compiled_flag;

typedef struct roost_compiled_set roost_compiled_set;

/* Compiles every flag of the document `root`. On success *out receives a
 * set the caller frees with roost_compiled_set_free.
 * Fails with: ROOST_EINVAL (the document or a flag is invalid; err names the
 * flag, the JSON path and what is expected), ROOST_ELIMIT (a rule exceeds a
 * fixed limit; the message names it), ROOST_ENOMEM, ROOST_EINTERNAL (a
 * compiler bug: an image failed its own verification). */
roost_status roost_compile_flagset(const cJSON *root, roost_compiled_set **out, roost_error *err);

void roost_compiled_set_free(roost_compiled_set *set);

/* Flags in document order. */
size_t roost_compiled_set_count(const roost_compiled_set *set);
const roost_compiled_flag *roost_compiled_set_flag(const roost_compiled_set *set, size_t i);
/* The flag with this key, or NULL. */
const roost_compiled_flag *roost_compiled_set_find(const roost_compiled_set *set, const char *key);

/* Warnings: flags that compiled to flagd's evaluation-time error, and why
 * ("flags.x.targeting.if[0]: $ref to unknown evaluator 'y'; flagd evaluates
 * this flag to PARSE_ERROR"). */
size_t roost_compiled_set_warning_count(const roost_compiled_set *set);
const char *roost_compiled_set_warning(const roost_compiled_set *set, size_t i);

/* Fills ctx from a JSON evaluation context object: nested objects become
 * dotted keys ({"user": {"name": "x"}} sets "user.name"), strings, numbers
 * and booleans are set, nulls are skipped (they read as null anyway).
 * Canonical keys are written into keybuf (which must outlive ctx); values
 * point into `json`. Arrays are not supported as context values yet.
 * Fails with: ROOST_EINVAL (not an object, or an array value; err gives the
 * path), ROOST_ELIMIT (ctx capacity or keybuf_len exhausted). */
roost_status roost_ctx_from_json(const cJSON *json, roost_ctx *ctx, char *keybuf, size_t keybuf_len,
                                 roost_error *err);

/* ------------------------------------------------- tools around the compiler */

/* Parses JSON text. On a syntax error the message gives `label`, the line
 * and column, and the text near the error ("--context: invalid JSON at line
 * 1, column 9 near '}'"). *out is freed with cJSON_Delete.
 * Fails with: ROOST_EINVAL (syntax error), ROOST_ENOMEM. */
roost_status roost_json_parse(const char *text, size_t len, const char *label, cJSON **out,
                              roost_error *err);

/* Reads and parses a JSON file. Fails with: ROOST_EIO (cannot read; the
 * message has the OS reason), ROOST_EINVAL (syntax error, with position),
 * ROOST_ENOMEM. */
roost_status roost_json_parse_file(const char *path, cJSON **out, roost_error *err);

/* Every flag of a compiled set loaded and indexed, as an SDK holds a
 * snapshot: flags[i] is the i-th flag of the set. */
typedef struct roost_loaded_set {
    roost_flag *flags;
    uint32_t *slots;
    size_t count;
    roost_flagset index;
} roost_loaded_set;

/* Loads every image of `set` (which must outlive `out`). Fails with the
 * errors of roost_flag_load and roost_flagset_init, or ROOST_ENOMEM. */
roost_status roost_loaded_set_init(roost_loaded_set *out, const roost_compiled_set *set,
                                   roost_error *err);
void roost_loaded_set_free(roost_loaded_set *ls);

#endif
