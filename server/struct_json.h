/* google.protobuf.Struct <-> cJSON, for flagd's protocols: evaluation
 * contexts arrive as Structs, and object values and metadata leave as them.
 *
 * Structs built here are allocated the way protobuf-c's unpack allocates
 * (every message, array and string with malloc), so one
 * protobuf_c_message_free_unpacked frees a built Struct whole. */
#ifndef ROOSTD_STRUCT_JSON_H
#define ROOSTD_STRUCT_JSON_H

#include <cjson/cJSON.h>

#include "google/protobuf/struct.pb-c.h"

/* Nesting deeper than this is refused both ways. */
#define STRUCT_JSON_MAX_DEPTH 32

/* NULL on allocation failure or past STRUCT_JSON_MAX_DEPTH. A NULL struct
 * gives an empty object. */
cJSON *struct_to_json(const Google__Protobuf__Struct *s);

/* obj must be a JSON object; NULL on failure. Free with struct_free. */
Google__Protobuf__Struct *struct_from_json(const cJSON *obj);
void struct_free(Google__Protobuf__Struct *s);

#endif
