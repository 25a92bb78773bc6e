/* Server-side evaluation, for clients that ask roostd to evaluate (flagd's
 * RPC evaluation protocol) instead of evaluating locally like Roost's SDKs.
 *
 * A view is every stored flag loaded into the engine at one revision — the
 * same images, the same interpreter the SDKs run. Views are immutable and
 * reference-counted: a request takes the current view, evaluates, and lets
 * go; the first request after a change builds the next view. */
#ifndef ROOSTD_EVALUATOR_H
#define ROOSTD_EVALUATOR_H

#include <stddef.h>
#include <stdint.h>

#include "roost/engine.h"
#include "roost/status.h"
#include "store.h"

struct evaluator;

struct eval_view {
    uint64_t revision;
    size_t count;
    const roost_flag *flags;  /* in key order */
    const char *const *flag_sets; /* flag set of flags[i] */
    roost_flagset index;
};

roost_status evaluator_create(struct store *st, struct evaluator **out, roost_error *err);
void evaluator_destroy(struct evaluator *ev);

/* The view at the store's current revision (built if needed). Release it
 * with evaluator_release. Fails on store errors. */
roost_status evaluator_acquire(struct evaluator *ev, const struct eval_view **out,
                               roost_error *err);
void evaluator_release(struct evaluator *ev, const struct eval_view *view);

#endif
