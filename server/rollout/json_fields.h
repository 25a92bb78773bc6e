/* Strict checking of JSON objects in rollout documents: the fields an
 * object may have, with "did you mean" for misspellings. Shared by the hook
 * and probe parsers (and available to the rollout spec parser), so every
 * resource rejects unknown fields with the same kind of message:
 *
 *   rollouts.x.hooks[0]: unknown field 'retry' (expected one of on, exec,
 *   http, timeout, retries; did you mean 'retries'?)
 */
#ifndef ROOSTD_ROLLOUT_JSON_FIELDS_H
#define ROOSTD_ROLLOUT_JSON_FIELDS_H

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

#endif
