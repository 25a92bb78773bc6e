/* Stored programs brought up to this build's flag image format.
 *
 * roostd keeps each flag's compiled image beside its normalized source
 * (flags.h), and each auto-split experiment keeps two more (running and
 * idle). An image written by a roostd whose engine had another
 * ROOST_IMAGE_VERSION does not load in this one: without this step such a
 * flag would answer FLAG_NOT_FOUND until someone applied its document
 * again. So at start, before anything is served, every stored program that
 * does not load is compiled again from its stored source and written back.
 * The flags go out as one change with a new revision, so an SDK that
 * resumes from its revision receives the new images like any other change.
 */
#ifndef ROOSTD_RECOMPILE_H
#define ROOSTD_RECOMPILE_H

#include <stddef.h>

#include "hub.h"
#include "roost/status.h"
#include "store.h"

struct recompile_result {
    size_t flags;       /* flag programs rewritten */
    size_t experiments; /* experiment records with a program rewritten */
    size_t failed;      /* programs whose source no longer compiles: left as they were */
};

/* Rewrites every stored program that does not load (one write transaction;
 * nothing is written when all load). A source that no longer compiles is
 * logged (flag_recompile_failed) and counted in out->failed, not an error:
 * the server still starts and the flag stays unknown, as before. Fails
 * only when the store cannot be read or written (nothing is then changed). */
roost_status recompile_stored(struct store *st, struct hub *hub, struct recompile_result *out,
                              roost_error *err);

#endif
