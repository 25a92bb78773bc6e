/* Pieces of the flag compiler shared between its files: the rule compiler
 * (rule.c), the image writer (image_writer.c) and the document walker
 * (document.c). Not installed; server/compile only. */
#ifndef ROOST_SERVER_COMPILE_INTERNAL_H
#define ROOST_SERVER_COMPILE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "roost/status.h"

/* A growable byte buffer. */
typedef struct rbuf {
    uint8_t *data;
    size_t len;
    size_t cap;
} rbuf;

bool rbuf_reserve(rbuf *b, size_t more);
bool rbuf_put(rbuf *b, const void *data, size_t len);
void rbuf_free(rbuf *b);

/* What the rule compiler needs to know about the flag. */
typedef struct rule_env {
    const char *flag_key;
    const char *const *variant_names;
    uint32_t n_variants;
    const cJSON *evaluators; /* "$evaluators" object, or NULL */
    const char *path;        /* JSON path of the targeting, for messages */
} rule_env;

/* The compiled rule. */
typedef struct rule_out {
    uint8_t targeting;     /* RI_TARGETING_* */
    rbuf code;
    rbuf ctab;             /* n_consts little-endian u32 offsets into cblob */
    rbuf cblob;
    uint32_t n_consts;
    uint32_t max_stack;
    cJSON *expanded;       /* the rule with $refs inlined (owned), NULL without targeting */
    char warning[ROOST_ERROR_MSG_MAX]; /* set when targeting is PARSE_ERROR */
} rule_out;

/* Compiles a flag's "targeting" value (NULL when absent). Errors as
 * roost_compile_flagset; a rule flagd rejects at evaluation time is not an
 * error: out->targeting becomes RI_TARGETING_PARSE_ERROR with a warning. */
roost_status roost_rule_compile(const cJSON *targeting, const rule_env *env, rule_out *out,
                                roost_error *err);
void roost_rule_out_free(rule_out *out);

/* A flag to serialize. */
typedef struct image_flag {
    const char *key;
    uint8_t state;
    uint8_t type;
    uint32_t n_variants;
    const char *const *variant_names;
    const char *const *variant_text; /* string value, or object JSON text */
    const double *variant_num;       /* number value, or 0/1 for booleans */
    uint32_t default_variant;        /* RI_NO_VARIANT for none */
    uint32_t n_meta;                 /* sorted by key */
    const char *const *meta_keys;
    const uint8_t *meta_types;       /* roost_value_type */
    const char *const *meta_text;
    const double *meta_num;
    const rule_out *rule;
} image_flag;

/* Serializes and then loads the image to check it (a failure there is a
 * compiler bug: ROOST_EINTERNAL). *out is malloc'd. */
roost_status roost_image_write(const image_flag *f, uint8_t **out, size_t *out_len,
                               roost_error *err);

/* True when s[0..len) is valid UTF-8 (no overlongs, surrogates or code
 * points above U+10FFFF). */
bool roost_utf8_valid(const char *s, size_t len);

#endif
