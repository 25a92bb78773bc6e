/* Snapshots: everything a client needs to evaluate, at one revision, encoded
 * once as a roost.v1.SyncResponse and shared by every subscriber that needs
 * it (a reference-counted gRPC slice). */
#ifndef ROOSTD_SNAPSHOT_H
#define ROOSTD_SNAPSHOT_H

#include <grpc/slice.h>
#include <stdint.h>

#include "roost/status.h"
#include "store.h"

/* Encodes a SyncResponse{snapshot} of the store as of one read transaction.
 * Fills *payload (caller unrefs) and *revision. */
roost_status snapshot_encode(struct store *st, grpc_slice *payload, uint64_t *revision,
                             roost_error *err);

/* Wraps an encoded roost.v1.ChangeEvent (as stored in the change log) into
 * an encoded SyncResponse{change} without decoding it: a SyncResponse with
 * only field 2 set is the field's tag, its length, then the bytes. */
grpc_slice snapshot_wrap_change(const void *event, size_t len);

#endif
