/* Applying what the Sync stream (or the cache) delivers to the client's
 * configuration: builds the next snapshot, publishes it, and tells the
 * application what changed. Background thread only.
 *
 * Revisions must follow each other: a change event is applied only on top
 * of the revision just before it. An event for a revision already held is
 * ignored (it can only be a repeat); a gap means the stream and the client
 * disagree, and the client asks for a fresh snapshot rather than guess.
 */
#ifndef ROOST_SDK_SYNC_H
#define ROOST_SDK_SYNC_H

#include <stdbool.h>

#include "client_internal.h"
#include "wire.h"

enum sync_result {
    SYNC_APPLIED,   /* a new snapshot was published */
    SYNC_UNCHANGED, /* nothing to do (a repeat) */
    SYNC_RESYNC,    /* the message cannot be applied: resubscribe from revision 0 */
    SYNC_FAILED     /* out of memory: resubscribe later */
};

/* Applies a decoded message. Takes the images out of m. */
enum sync_result sync_apply(struct roost_client *c, struct wire_sync *m, bool from_cache);

/* Logs a flag the engine refused (wire_refused_fn). */
void sync_log_refused(void *user, const char *key, const roost_error *why);

#endif
