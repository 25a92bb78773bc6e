/* Rollout decisions: a pure library that turns (spec, state, metric data,
 * probe states, now) into (next state, decision).
 *
 * Pure means: no I/O, no clock reads, no global state, no allocation, no
 * randomness. Every entry point takes now_ms (unix milliseconds) from the
 * caller, so roostd drives it with the real clock and the simulator and the
 * tests drive it in virtual time, and both get the same decisions from the
 * same inputs. The caller owns every buffer; nothing here is kept between
 * calls except what is in struct rollout_state, which the caller stores.
 *
 * The tick loop (roostd's controller and roost-sim both do this):
 *
 *     for (;;) {
 *         n = rollout_data_needed(spec, &st, now, reqs, cap, &err);
 *         for (i = 0; i < n; i++) read window reqs[i] into results[i];
 *         rollout_decide(spec, &st, now, results, n, &signals, &next, &d, &err);
 *         if (d.event == ROLLOUT_EV_NONE)
 *             break;
 *         store next and d.record in one transaction (weight included);
 *         then run the hooks in d.hooks (after the commit: a rollback's
 *         weight 0 is stored and streamed before any hook runs);
 *         st = next;
 *     }
 *     sleep until rollout_next_wakeup(spec, &st, now), a command, or a
 *     change of a gate probe's state;
 *
 * A call to rollout_decide makes at most one decision (one record), so a
 * tick that has several things to do (an analysis passes, the step ends,
 * the next step sets a weight) takes several calls at the same now_ms;
 * the loop above runs them back to back. rollout_decide may be called at
 * any time: when nothing is due it returns ROLLOUT_EV_NONE and next == st.
 *
 * Windows are fixed by the state, not by when decide happens to run: an
 * analysis run due at T judges [T - interval, T), even when roostd calls
 * decide a few seconds late (reports arrive with the SDK's flush delay, so
 * calling a little after the wakeup is even better) or after a restart. A
 * controller that was down for several intervals judges only the last
 * complete interval, not every missed one.
 *
 * In virtual time the same loop runs at the times rollout_next_wakeup
 * gives (and whenever simulated probes change); tests/unit/rollout/harness.h
 * is a complete example driven by simulated per-second aggregates.
 *
 * Commands from people (start, pause, resume, promote, abort, retry) go
 * through rollout_command and produce a record with the actor's name. The
 * controller issues start itself (actor "controller") for a rollout with
 * autoStart, and promote (actor "hook") when a confirm-promotion hook
 * succeeds.
 *
 * Decision records are JSON built here, so the controller and the simulator
 * write identical records (docs/rollouts.md, "Decision records").
 */
#ifndef ROOSTD_ROLLOUT_LOGIC_H
#define ROOSTD_ROLLOUT_LOGIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "roost/sketch.h"
#include "roost/status.h"
#include "server/rollout/spec.h"

/* ---- state -------------------------------------------------------------- */

enum rollout_phase {
    ROLLOUT_PENDING,     /* applied, not started */
    ROLLOUT_PROGRESSING, /* running step `step` */
    ROLLOUT_PAUSED,      /* waiting (pause_reason); the weight is kept */
    ROLLOUT_PROMOTED,    /* final: the canary has maxWeight */
    ROLLOUT_ROLLED_BACK  /* weight 0; retry starts a new attempt */
};

enum rollout_pause_reason {
    ROLLOUT_PAUSE_NONE,
    ROLLOUT_PAUSE_HUMAN,        /* roostctl rollout pause */
    ROLLOUT_PAUSE_STEP,         /* a pause step without duration: waits for promote */
    ROLLOUT_PAUSE_INCONCLUSIVE, /* more inconclusive runs than inconclusiveLimit */
    ROLLOUT_PAUSE_NO_DATA,      /* the same, and every one of them saw no canary traffic */
    ROLLOUT_PAUSE_GATE,         /* a gate probe is down (onDown: pause); clears by itself */
    ROLLOUT_PAUSE_CONFIRMATION  /* requireConfirmation: waits for confirm-promotion or promote */
};

enum rollout_end_reason {
    ROLLOUT_END_NONE,
    ROLLOUT_END_ANALYSIS, /* more failed runs than failureLimit */
    ROLLOUT_END_ERRORS,   /* more unreadable runs in a row than consecutiveErrorLimit */
    ROLLOUT_END_GATE,     /* a gate probe is down (onDown: abort) */
    ROLLOUT_END_HUMAN     /* roostctl rollout abort */
};

#define ROLLOUT_DETAIL_MAX 128

/* Everything the decisions depend on besides the spec and the data. The
 * caller stores it (rollout_state_encode) after every decision and gives it
 * back unchanged; timers are absolute unix ms, so a restart resumes the
 * same step with the same deadlines.
 *
 * Invariants (rollout_state_check verifies them against a spec):
 *   - step <= spec->nsteps; step == nsteps means "every step is done":
 *     the rollout promotes (or asks for confirmation) once the promotion
 *     guard allows.
 *   - weight <= 100; weight == 0 when rolled back or pending.
 *   - step_entered: the current step's entry action ran (weight set, timers
 *     started). Steps are entered by rollout_decide, one per call.
 *   - run counters belong to the current analysis step and restart at 0
 *     when the next analysis step is entered.
 *   - compare_p[i]: running minimum of check i's always-valid p-value (1 =
 *     no evidence yet): since the attempt started for a compare of error
 *     rates at margin 0 (the rate-ratio e-process), since the weight was
 *     last changed for the other compare checks.
 *   - evidence[i]: check i's rate-ratio e-process (compare of error_rate at
 *     margin 0 only; zeros otherwise), rollout_evidence below. */

/* Points of the mixture over the rate ratio (checks.c has the grid). */
#define ROLLOUT_EVIDENCE_GRID 8

/* One compare check's sequential evidence on error rates, kept across
 * weight changes. Conditional on the errors of a window, the canary's share
 * of them is binomial with a probability set by the window's own traffic
 * split and the ratio of error rates, so each window's likelihood ratio is
 * valid whatever the weight was, and their product over the whole attempt
 * is an e-process (checks.c explains the test). */
struct rollout_evidence {
    int64_t until_ms;                       /* data before this has been counted (0: none) */
    double ll_attempt[ROLLOUT_EVIDENCE_GRID]; /* log LR of each grid ratio vs 1, since the start */
    double ll_weight[ROLLOUT_EVIDENCE_GRID];  /* the same since the weight was last changed */
    double e_banked;        /* mixture weight x final e-value of earlier weights' sequences */
    uint64_t canary_n, canary_x, baseline_n, baseline_x;       /* counted since the start */
    uint64_t w_canary_n, w_canary_x, w_baseline_n, w_baseline_x; /* counted at this weight */
};

/* compare of error_rate at margin 0: judged by the rate-ratio e-process
 * over the whole attempt, reading only the data it has not counted yet. */
bool rollout_check_is_rate_ratio(const struct rollout_check *c);

/* The log likelihood ratio of one window's split of errors for a rate
 * ratio theta against 1: x of nx requests failed in the arm that may be
 * worse, y of ny in the other. 0 for a window without errors or without
 * one of the arms. The e-process sums it per ratio of its grid; the
 * decision benchmark's oracle (tools/bench/decision/oracle.h) at the one
 * ratio it is told. */
double rollout_rate_ratio_llr(double theta, double x, double nx, double y, double ny);

struct rollout_state {
    enum rollout_phase phase;
    enum rollout_pause_reason pause_reason; /* PAUSED only */
    enum rollout_end_reason end_reason;     /* ROLLED_BACK only */
    uint32_t attempt;          /* 1 on start, +1 on each retry; 0 while pending */
    uint32_t step;             /* index of the current step */
    bool step_entered;
    uint32_t weight;           /* canary weight now, 0-100 */
    int64_t started_ms;        /* this attempt started */
    int64_t step_started_ms;   /* the current step was entered */
    int64_t weight_since_ms;   /* the weight was last changed */
    int64_t next_analysis_ms;  /* analysis step: the next run is due (0: none) */
    int64_t pause_until_ms;    /* timed pause step: it ends (0: none) */
    int64_t paused_at_ms;      /* PAUSED: since */
    int64_t updated_ms;        /* last decision */
    uint32_t runs;             /* analysis runs in this step */
    uint32_t passed;
    uint32_t failures;
    uint32_t consecutive_errors;
    uint32_t inconclusive;     /* since the step started or a person resumed */
    uint32_t no_data_runs;     /* inconclusive runs with no canary traffic at all */
    uint64_t seq;              /* decisions recorded so far (idempotency keys) */
    double compare_p[ROLLOUT_MAX_CHECKS];
    /* The e-value is a mixture of one sequence over the whole attempt and
     * one restarted at each later weight (a regression that shows only
     * under more load), with fixed shares that sum to at most 1. */
    double share_attempt;  /* the whole-attempt sequence's share */
    double share_weight;   /* the sequence restarted at the current weight's */
    double share_left;     /* what later weights may still take */
    struct rollout_evidence evidence[ROLLOUT_MAX_CHECKS];
    char detail[ROLLOUT_DETAIL_MAX + 1]; /* the probe, check or person behind the pause/end */
};

/* A fresh pending state. */
void rollout_state_init(struct rollout_state *st);

/* Checks that st is a state this spec can continue (after a restart, or
 * after a changed spec was applied to a running rollout): phase and reasons
 * in range, weight <= 100, p-values in [0, 1], and for a running rollout
 * step <= nsteps and not inside what is now a setWeight step. ROOST_OK or
 * ROOST_ECONFLICT with a message ("the state is at step 9 but the rollout
 * has 8 steps"). decide and every command but abort refuse such a state;
 * abort still works, so a rollout whose steps changed under it can always
 * be rolled back. */
roost_status rollout_state_check(const struct rollout_spec *spec, const struct rollout_state *st,
                                 roost_error *err);

/* Stable byte encoding for storage: versioned, little-endian, fixed field
 * order; at most ROLLOUT_STATE_ENCODED_MAX bytes. decode accepts untrusted
 * bytes and either fills *st completely or leaves it untouched
 * (ROOST_ECORRUPT: wrong magic, unknown version, truncated, trailing
 * bytes, out-of-range enum). */
#define ROLLOUT_STATE_ENCODED_MAX 4096
roost_status rollout_state_encode(const struct rollout_state *st, uint8_t *buf, size_t cap,
                                  size_t *len, roost_error *err);
roost_status rollout_state_decode(const uint8_t *buf, size_t len, struct rollout_state *st,
                                  roost_error *err);

const char *rollout_phase_name(enum rollout_phase p);          /* "pending", ... */
const char *rollout_pause_reason_name(enum rollout_pause_reason r); /* "human", "step", ... */
const char *rollout_end_reason_name(enum rollout_end_reason r);

/* ---- data --------------------------------------------------------------- */

enum rollout_arm { ROLLOUT_ARM_BASELINE, ROLLOUT_ARM_CANARY };

const char *rollout_arm_name(enum rollout_arm a); /* "baseline", "canary": the SDK's arm labels */

/* One window of one metric of one arm, [from_ms, to_ms). metric points into
 * the spec. Requests are deduplicated: a window several checks read is
 * asked for once. */
struct rollout_request {
    enum rollout_arm arm;
    const char *metric;
    int64_t from_ms, to_ms;
    bool needs_sketch; /* a quantile of it is read */
};

/* What the caller read for one request. */
struct rollout_window {
    bool unavailable;   /* the data could not be read (store error, query timeout) */
    uint64_t count;
    uint64_t successes; /* <= count */
    double sum, sum_squares;
    const roost_sketch *sketch; /* caller-owned; NULL or empty when there is none */
};

/* Most requests one decision can need: threshold and relative read two
 * windows per check, compare two, burn_rate one per window of each pair,
 * plus one for the promotion guard. */
#define ROLLOUT_MAX_REQUESTS (ROLLOUT_MAX_CHECKS * 2 * ROLLOUT_MAX_BURN_WINDOWS + 1)

/* Writes the windows the next rollout_decide at now_ms needs into
 * reqs[0..cap) and returns how many (0: decide needs no data). The same
 * (spec, state, now_ms) always gives the same list in the same order, and
 * rollout_decide expects results in that order.
 * Errors (returns (size_t)-1 and sets err): ROOST_ELIMIT (cap too small;
 * ROLLOUT_MAX_REQUESTS always suffices), ROOST_EINVAL (NULL),
 * ROOST_ECONFLICT (state does not fit the spec). */
size_t rollout_data_needed(const struct rollout_spec *spec, const struct rollout_state *st,
                           int64_t now_ms, struct rollout_request *reqs, size_t cap,
                           roost_error *err);

/* Probe states as the prober reports them (same order as enum probe_state
 * in probes.h, so the controller can cast). UNKNOWN (not probed yet) and
 * DEGRADED do not stop a rollout; only DOWN does. A gate probe missing from
 * the signals is UNKNOWN. */
enum rollout_probe_state {
    ROLLOUT_PROBE_UNKNOWN,
    ROLLOUT_PROBE_UP,
    ROLLOUT_PROBE_DEGRADED,
    ROLLOUT_PROBE_DOWN
};

struct rollout_probe_signal {
    const char *name;
    enum rollout_probe_state state;
};

struct rollout_signals {
    const struct rollout_probe_signal *probes;
    size_t nprobes;
};

/* ---- decisions ---------------------------------------------------------- */

enum rollout_event {
    ROLLOUT_EV_NONE,        /* nothing to do yet: next == state, no record */
    ROLLOUT_EV_STARTED,     /* start or retry */
    ROLLOUT_EV_STEP,        /* an analysis or timed pause step began, or a person ended a step */
    ROLLOUT_EV_WEIGHT,      /* a setWeight step changed the canary weight */
    ROLLOUT_EV_ANALYSIS,    /* an analysis run was judged (it may also end the step) */
    ROLLOUT_EV_PAUSED,
    ROLLOUT_EV_RESUMED,
    ROLLOUT_EV_AWAITING_CONFIRMATION, /* every step done; confirm-promotion must say yes */
    ROLLOUT_EV_PROMOTED,
    ROLLOUT_EV_ROLLED_BACK  /* weight -> 0 (an analysis in the record when it caused it) */
};

enum rollout_verdict {
    ROLLOUT_VERDICT_NONE,
    ROLLOUT_VERDICT_PASSED,
    ROLLOUT_VERDICT_FAILED,
    ROLLOUT_VERDICT_INCONCLUSIVE,
    ROLLOUT_VERDICT_ERROR, /* data could not be read */
    ROLLOUT_VERDICT_SKIPPED /* a check: not applicable now (compare/relative at weight 100); counts as passed */
};

const char *rollout_event_name(enum rollout_event e);     /* "started", "weight", ... */
const char *rollout_verdict_name(enum rollout_verdict v); /* "passed", "failed", ... */

/* One check of one analysis run. Values are NAN when not available (no
 * data); the record prints them as null. */
struct rollout_check_result {
    enum rollout_verdict verdict;
    bool no_data;                  /* no canary samples in the window */
    double canary, baseline;       /* the stat (burn_rate: the burn rate of the worst pair) */
    double bound;                  /* max / min (threshold), maxRatio x baseline (relative),
                                      margin (compare), factor (burn_rate) */
    uint64_t canary_samples, baseline_samples;
    int64_t from_ms, to_ms;        /* the window judged */
    /* compare only */
    double effect;                 /* canary - baseline, in the stat's units */
    double ci_lo, ci_hi;           /* always-valid interval of the tested quantity */
    double p_value;                /* always-valid p (running minimum) */
    bool rate_ratio;               /* error rates at margin 0: the rate-ratio e-process; canary,
                                      baseline and samples are what it counted since the start */
    double ratio;                  /* rate_ratio: canary error rate / baseline's */
    double e_value;                /* rate_ratio: the mixture e-value at this look */
    uint64_t weight_canary_samples, weight_baseline_samples; /* rate_ratio: at this weight */
    double weight_canary, weight_baseline;                   /* rate_ratio: rates at this weight */
    /* burn_rate only: per window pair, long and short burn (NAN: not judged) */
    double burn_long[ROLLOUT_MAX_BURN_WINDOWS], burn_short[ROLLOUT_MAX_BURN_WINDOWS];
    char text[192];                /* "error-rate 0.0261 > 0.01 (canary 13 / 498)" */
};

#define ROLLOUT_RECORD_MAX 16384
#define ROLLOUT_ACTOR_MAX 64

struct rollout_decision {
    enum rollout_event event;
    uint64_t seq;                    /* state.seq of this decision (idempotency key part) */
    int64_t at_ms;
    enum rollout_phase phase_from, phase_to;
    uint32_t weight_from, weight_to; /* weight_to != weight_from: stream the new weight */
    uint32_t step;                   /* the step the decision is about */
    enum rollout_pause_reason pause_reason; /* EV_PAUSED */
    enum rollout_end_reason end_reason;     /* EV_ROLLED_BACK */
    unsigned hooks;                  /* enum hook_event bits: run every spec hook whose
                                        `on` shares a bit (HOOK_EVENT is set on every
                                        decision with a record) */
    /* EV_ANALYSIS, or EV_ROLLED_BACK / EV_PAUSED caused by an analysis */
    bool has_analysis;
    enum rollout_verdict verdict;
    bool step_done;                  /* the analysis ended its step */
    struct rollout_check_result checks[ROLLOUT_MAX_CHECKS];
    size_t nchecks;
    /* EV_NONE while the promotion guard holds the next weight: progress */
    bool waiting;
    int64_t wait_until_ms;           /* minStepDuration is met at */
    uint64_t samples, samples_needed; /* canary requests at this weight / minSamplesPerStep */
    char summary[256];               /* one line for history: "analysis FAILED error-rate ..." */
    char record[ROLLOUT_RECORD_MAX]; /* JSON, NUL-terminated; "" for EV_NONE */
    size_t record_len;
};

/* Makes the next decision at now_ms. results[0..nresults) answer the
 * requests rollout_data_needed gave for the same (spec, *st, now_ms).
 * signals may be NULL (no probe known). On success *next is the new state
 * (== *st when d->event == ROLLOUT_EV_NONE) and *d the decision; next may
 * be st. Phases other than progressing and paused decide nothing.
 * Errors (nothing written): ROOST_EINVAL (NULL argument, nresults not what
 * rollout_data_needed asked for, a window with successes > count or NaN
 * sums), ROOST_ECONFLICT (state does not fit the spec). A window marked
 * unavailable is not an error: it makes the checks that read it ERROR. */
roost_status rollout_decide(const struct rollout_spec *spec, const struct rollout_state *st,
                            int64_t now_ms, const struct rollout_window *results, size_t nresults,
                            const struct rollout_signals *signals, struct rollout_state *next,
                            struct rollout_decision *d, roost_error *err);

enum rollout_command {
    ROLLOUT_CMD_START,   /* pending -> progressing (step 0) */
    ROLLOUT_CMD_PAUSE,   /* progressing -> paused (human) */
    ROLLOUT_CMD_RESUME,  /* paused -> progressing: continues the current step */
    ROLLOUT_CMD_PROMOTE, /* ends the current step (a person's or confirm hook's yes) */
    ROLLOUT_CMD_ABORT,   /* progressing / paused -> rolled back */
    ROLLOUT_CMD_RETRY    /* rolled back -> progressing (step 0, attempt + 1) */
};

const char *rollout_command_name(enum rollout_command c); /* "start", ... */
/* Parses "start", "pause", ...; false when unknown. */
bool rollout_command_parse(const char *text, enum rollout_command *out);

/* Applies a command from actor (an admin token's name, or "controller" /
 * "hook" for automatic ones; at most ROLLOUT_ACTOR_MAX bytes are kept).
 * A command that makes no sense in the current phase fails with
 * ROOST_ECONFLICT and a message for the person who typed it ("checkout-v2
 * is promoted; nothing to abort"), and writes nothing. */
roost_status rollout_command(const struct rollout_spec *spec, const struct rollout_state *st,
                             enum rollout_command cmd, const char *actor, int64_t now_ms,
                             struct rollout_state *next, struct rollout_decision *d,
                             roost_error *err);

#define ROLLOUT_NEVER INT64_MAX

/* When rollout_decide can next do something, given that it returned
 * ROLLOUT_EV_NONE at now_ms (or was never called): an analysis run falls
 * due, a timed pause ends, minStepDuration is met, or the next sample count
 * check of minSamplesPerStep (every analysis interval). Returns a time
 * > now_ms when nothing is due at now_ms, <= now_ms when decide should run
 * now, and ROLLOUT_NEVER when only a command or a probe change can move the
 * rollout (pending, paused, finished). */
int64_t rollout_next_wakeup(const struct rollout_spec *spec, const struct rollout_state *st,
                            int64_t now_ms);

#endif
