/* A change: what clients can see move. One revision, one ChangeEvent in the
 * change log, written in the same LMDB write transaction as the state it
 * describes, then announced to every subscriber. Applies, flag deletes,
 * rollout weight changes and probe state changes all commit through here. */
#ifndef ROOSTD_CHANGE_H
#define ROOSTD_CHANGE_H

#include <stdint.h>

#include "hub.h"
#include "roost/status.h"
#include "roost/v1/roost.pb-c.h"
#include "store.h"

/* Stamps ev with t->next_revision and the current time (when unset),
 * appends it to the change log, commits t and publishes ev to hub (which may
 * be NULL in tests). On failure nothing is written and t is closed. */
roost_status change_commit(struct store_txn *t, struct hub *hub, Roost__V1__ChangeEvent *ev,
                           roost_error *err);

#endif
