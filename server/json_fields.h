/* Strict reading of configuration documents, shared by every parser (the
 * flag compiler, rollouts, hooks, probes, experiments, the top level of a
 * document, roost-sim's scenarios) so that they all reject the same
 * mistakes with the same kind of message:
 *
 *   rollouts.x.hooks[0]: unknown field 'retry' (expected one of on, exec,
 *   http, timeout, retries; did you mean 'retries'?)
 */
#ifndef ROOSTD_JSON_FIELDS_H
#define ROOSTD_JSON_FIELDS_H

#include <stdbool.h>

#include <cjson/cJSON.h>
#include <stddef.h>

#include "roost/status.h"

/* ROOST_EINVAL ("PATH: unknown field 'x' (expected one of ...)") for a
 * member of obj not in allowed[0..n), or ("PATH: field 'x' is given twice")
 * for a repeated member (cJSON keeps both; only the first would be read).
 * obj must be an object. */
roost_status json_fields_check(const cJSON *obj, const char *path, const char *const *allowed,
                               size_t n, roost_error *err);

/* Writes "a, b, c" into out (cap bytes, always terminated), followed by
 * "; did you mean 'b'?" when got (may be NULL) is close to one of names. */
void json_fields_choices(const char *const *names, size_t n, const char *got, char *out,
                         size_t cap);

/* "null", "a boolean", "a number", "a string", "an array", "an object":
 * for "expected a number, got a string". */
const char *json_type_name(const cJSON *v);

/* A name of 1..max characters from [A-Za-z0-9._-]: flag keys, rollout,
 * experiment, probe, check and metric names. */
bool json_name_valid(const char *s, size_t max);

#endif
