/* Pieces of the decision library shared between its files (logic.c: the
 * state machine; checks.c: judging one check; record.c: decision records;
 * state.c: the stored state). Not for use outside server/rollout. */
#ifndef ROOSTD_ROLLOUT_LOGIC_INTERNAL_H
#define ROOSTD_ROLLOUT_LOGIC_INTERNAL_H

#include "server/rollout/logic.h"

/* ---- checks.c ----------------------------------------------------------- */

/* The windows one check reads, resolved from the request plan. NULL when
 * the check does not read that window. */
struct check_inputs {
    const struct rollout_window *canary, *baseline;
    const struct rollout_window *burn_long[ROLLOUT_MAX_BURN_WINDOWS];
    const struct rollout_window *burn_short[ROLLOUT_MAX_BURN_WINDOWS];
    int64_t from_ms, to_ms;
};

/* Judges check i of the spec, c. st->weight is the canary weight the data
 * was collected at (compare and relative are skipped at 100: there is no
 * baseline traffic). A compare check reads its running-minimum p-value
 * (st->compare_p[i]) and, for error rates at margin 0, its e-process
 * (st->evidence[i], st->share_*), and writes the updated ones to n (which
 * may not be st). Fills *r completely. */
void rollout_check_eval(const struct rollout_check *c, size_t i, const struct check_inputs *in,
                        const struct rollout_state *st, struct rollout_state *n,
                        struct rollout_check_result *r);

/* The e-process's mixture e-value of one sequence (sum over the grid of
 * prior x exp(ll)), as a natural log. */
double rollout_evidence_log_mixture(const double ll[ROLLOUT_EVIDENCE_GRID]);

/* Restricted maximum-likelihood variance of p1 - p2 under
 * H0: p1 - p2 = delta (Farrington & Manning 1990), for x1 of n1 and x2 of
 * n2. delta = 0 gives the pooled variance. Exposed for the unit tests. */
double rollout_fm_variance(double x1, double n1, double x2, double n2, double delta);

/* ---- state.c ------------------------------------------------------------ */

/* The part of rollout_state_check that does not depend on where the state
 * stands in the spec's steps: enough to abort a rollout whose spec changed
 * under it. */
roost_status rollout_state_check_basic(const struct rollout_spec *spec,
                                       const struct rollout_state *st, roost_error *err);

/* ---- record.c ----------------------------------------------------------- */

/* Writes d->summary and d->record for a decision already filled in (event,
 * phases, weights, checks...). before/after are the states around it. */
void rollout_record_build(const struct rollout_spec *spec, const struct rollout_state *before,
                          const struct rollout_state *after, const char *actor,
                          const char *reason, struct rollout_decision *d);

/* snprintf for messages and texts: truncates (always NUL-terminated) where
 * a long name would not fit, which is the intended behaviour, so it does
 * not go through gcc's truncation warnings. */
void rollout_fmt(char *out, size_t cap, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Appends "text" to out[cap] at *used, truncating safely. */
void rollout_appendf(char *out, size_t cap, size_t *used, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

#endif
