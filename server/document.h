/* Configuration documents: the JSON files users keep in git and apply.
 *
 * A document is flagd's flag-definition format (flags, $evaluators,
 * metadata) with Roost's own resources beside "flags". This layer checks
 * the document as a whole — valid JSON, its size, the known top-level keys —
 * and hands the flags to the engine's compiler. Every error says where
 * (line:column for syntax, a JSON path for content) and what was expected.
 */
#ifndef ROOSTD_DOCUMENT_H
#define ROOSTD_DOCUMENT_H

#include <stddef.h>
#include <stdint.h>

#include "flags.h"
#include "roost/status.h"

/* Parses and compiles a document. source_name ("flags.json") prefixes
 * messages. Fails with EINVAL (bad JSON, unknown keys, invalid flags) or
 * ELIMIT (over max_bytes, or an engine limit). */
roost_status document_parse(const uint8_t *data, size_t len, size_t max_bytes,
                            const char *source_name, struct flag_doc *out, roost_error *err);

#endif
