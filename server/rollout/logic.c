/* The rollout state machine: which windows a decision needs, the decision
 * itself, people's commands, and when to look again. See logic.h for the
 * contract and the tick loop, docs/rollouts.md for the semantics.
 *
 * Structure of a decision (rollout_decide), first match wins:
 *   1. Only progressing and paused rollouts decide anything.
 *   2. Gates: a gate probe down aborts (onDown: abort) or pauses a
 *      progressing rollout; a gate pause clears by itself when no gate
 *      probe is down any more.
 *   3. Paused: nothing until a command.
 *   4. The promotion guard: the weight is not raised, and the rollout not
 *      promoted, before the canary has had minStepDuration and
 *      minSamplesPerStep at its current weight (not applied at weight 0:
 *      there is nothing to have observed yet).
 *   5. Every step done: promote, or wait for confirm-promotion.
 *   6. A step not entered yet is entered: setWeight sets the weight (and
 *      completes at once), analysis starts its runs, pause starts its timer
 *      or waits for a person.
 *   7. An analysis run that is due is judged.
 * One call makes one decision; the caller loops (logic.h).
 *
 * A timed pause that has elapsed is not a decision of its own: the step
 * after it is treated as current (effective_position) and entered with a
 * record of its own, so a guard holding that next step does not leave the
 * stored state half-advanced.
 *
 * Nothing here allocates: the request plan and the check inputs live on
 * the stack (a few KB), results and records in caller memory.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "server/rollout/logic_internal.h"

static const char CONTROLLER[] = "controller";

/* ---- where the rollout is ----------------------------------------------- */

struct position {
    uint32_t step;
    bool entered;
};

static struct position effective_position(const struct rollout_spec *spec,
                                          const struct rollout_state *st, int64_t now)
{
    struct position p = {st->step, st->step_entered};

    if (p.entered && p.step < spec->nsteps) {
        const struct rollout_step *s = &spec->steps[p.step];
        if (s->kind == ROLLOUT_STEP_PAUSE && s->duration_ms != ROLLOUT_PAUSE_UNTIL_PROMOTED &&
            now >= st->pause_until_ms) {
            p.step++;
            p.entered = false;
        }
    }
    return p;
}

/* The next action raises the weight or promotes, so the promotion guard
 * applies. */
static bool guard_applies(const struct rollout_spec *spec, const struct rollout_state *st,
                          struct position p)
{
    bool raises;

    if (st->weight == 0)
        return false;
    if (spec->promotion.min_step_ms <= 0 && spec->promotion.min_samples == 0)
        return false;
    raises = p.step >= spec->nsteps ||
             (!p.entered && spec->steps[p.step].kind == ROLLOUT_STEP_SET_WEIGHT &&
              spec->steps[p.step].weight > st->weight);
    return raises;
}

/* ---- the request plan ----------------------------------------------------- */

enum plan_kind { PLAN_NONE, PLAN_ANALYSIS, PLAN_GUARD };

struct plan {
    enum plan_kind kind;
    int64_t due; /* analysis: the run's scheduled time; it judges up to here */
    size_t n;
    bool overflow;
    struct rollout_request reqs[ROLLOUT_MAX_REQUESTS];
    struct {
        int canary, baseline;
        int burn_long[ROLLOUT_MAX_BURN_WINDOWS], burn_short[ROLLOUT_MAX_BURN_WINDOWS];
        int64_t from, to;
    } idx[ROLLOUT_MAX_CHECKS];
    int guard;
};

static int add_request(struct plan *p, enum rollout_arm arm, const char *metric, int64_t from,
                       int64_t to, bool sketch)
{
    for (size_t i = 0; i < p->n; i++) {
        struct rollout_request *r = &p->reqs[i];
        if (r->arm == arm && r->from_ms == from && r->to_ms == to && strcmp(r->metric, metric) == 0) {
            r->needs_sketch = r->needs_sketch || sketch;
            return (int)i;
        }
    }
    if (p->n == ROLLOUT_MAX_REQUESTS) {
        p->overflow = true; /* cannot happen within spec.h's limits */
        return -1;
    }
    p->reqs[p->n] = (struct rollout_request){arm, metric, from, to, sketch};
    return (int)p->n++;
}

/* The run due at or before now: the scheduled time, or, when the caller is
 * more than an interval late (roostd was down), the last time on the same
 * schedule that is not after now. Only that one interval is judged. */
static int64_t analysis_due(const struct rollout_spec *spec, const struct rollout_state *st,
                            int64_t now)
{
    int64_t d = st->next_analysis_ms, iv = spec->analysis.interval_ms;
    if (now - d >= iv)
        d += (now - d) / iv * iv;
    return d;
}

static void make_plan(const struct rollout_spec *spec, const struct rollout_state *st, int64_t now,
                      struct plan *p)
{
    struct position pos;

    p->kind = PLAN_NONE;
    p->n = 0;
    p->overflow = false;
    p->guard = -1;
    p->due = 0;
    if (st->phase != ROLLOUT_PROGRESSING)
        return;
    pos = effective_position(spec, st, now);
    if (guard_applies(spec, st, pos)) {
        if (spec->promotion.min_samples > 0 &&
            now >= st->weight_since_ms + spec->promotion.min_step_ms) {
            p->kind = PLAN_GUARD;
            p->guard = add_request(p, ROLLOUT_ARM_CANARY, ROLLOUT_DEFAULT_METRIC,
                                   st->weight_since_ms, now, false);
        }
        return;
    }
    if (!pos.entered || pos.step >= spec->nsteps ||
        spec->steps[pos.step].kind != ROLLOUT_STEP_ANALYSIS || now < st->next_analysis_ms)
        return;

    p->kind = PLAN_ANALYSIS;
    p->due = analysis_due(spec, st, now);
    for (size_t i = 0; i < spec->analysis.nchecks; i++) {
        const struct rollout_check *c = &spec->analysis.checks[i];
        bool sk = c->stat == ROLLOUT_STAT_QUANTILE;
        int64_t from = p->due - spec->analysis.interval_ms, to = p->due;

        p->idx[i].canary = p->idx[i].baseline = -1;
        for (size_t w = 0; w < ROLLOUT_MAX_BURN_WINDOWS; w++)
            p->idx[i].burn_long[w] = p->idx[i].burn_short[w] = -1;
        switch (c->type) {
        case ROLLOUT_CHECK_THRESHOLD:
        case ROLLOUT_CHECK_RELATIVE:
            break;
        case ROLLOUT_CHECK_COMPARE:
            if (rollout_check_is_rate_ratio(c)) {
                /* Only what the e-process has not counted yet, and not
                 * across the last weight change: within a window the
                 * arms share one split, so a shock that hits both (a
                 * dependency outage) adds no evidence. */
                from = st->evidence[i].until_ms > st->weight_since_ms ? st->evidence[i].until_ms
                                                                      : st->weight_since_ms;
                break;
            }
            /* All data at the current weight: one traffic split, so a shock
             * that hits both arms cancels out. */
            from = st->weight_since_ms;
            break;
        case ROLLOUT_CHECK_BURN_RATE:
            for (size_t w = 0; w < c->nwindows; w++) {
                p->idx[i].burn_long[w] = add_request(p, ROLLOUT_ARM_CANARY, c->metric,
                                                     p->due - c->windows[w].long_ms, p->due, false);
                p->idx[i].burn_short[w] = add_request(p, ROLLOUT_ARM_CANARY, c->metric,
                                                      p->due - c->windows[w].short_ms, p->due, false);
            }
            from = p->due - c->windows[0].short_ms;
            p->idx[i].from = from;
            p->idx[i].to = to;
            continue;
        }
        p->idx[i].from = from;
        p->idx[i].to = to;
        p->idx[i].canary = add_request(p, ROLLOUT_ARM_CANARY, c->metric, from, to, sk);
        p->idx[i].baseline = add_request(p, ROLLOUT_ARM_BASELINE, c->metric, from, to, sk);
    }
}

static roost_status check_args(const struct rollout_spec *spec, const struct rollout_state *st,
                               roost_error *err)
{
    if (!spec || !st)
        return roost_error_set(err, ROOST_EINVAL, "rollout: NULL spec or state");
    return rollout_state_check(spec, st, err);
}

size_t rollout_data_needed(const struct rollout_spec *spec, const struct rollout_state *st,
                           int64_t now_ms, struct rollout_request *reqs, size_t cap,
                           roost_error *err)
{
    struct plan p;

    if (check_args(spec, st, err) != ROOST_OK)
        return (size_t)-1;
    if (!reqs && cap) {
        roost_error_set(err, ROOST_EINVAL, "rollout_data_needed: reqs is NULL");
        return (size_t)-1;
    }
    make_plan(spec, st, now_ms, &p);
    if (p.overflow) {
        roost_error_set(err, ROOST_EINTERNAL, "rollout_data_needed: more than %d windows",
                        ROLLOUT_MAX_REQUESTS);
        return (size_t)-1;
    }
    if (p.n > cap) {
        roost_error_set(err, ROOST_ELIMIT,
                        "rollout_data_needed: %zu windows needed, room for %zu "
                        "(ROLLOUT_MAX_REQUESTS always suffices)",
                        p.n, cap);
        return (size_t)-1;
    }
    if (p.n)
        memcpy(reqs, p.reqs, p.n * sizeof *reqs);
    return p.n;
}

const char *rollout_arm_name(enum rollout_arm a)
{
    return a == ROLLOUT_ARM_CANARY ? "canary" : "baseline";
}

/* ---- building decisions ------------------------------------------------- */

static void decision_init(struct rollout_decision *d, const struct rollout_state *st, int64_t now)
{
    /* The record buffer is large; clear only what a reader may look at. */
    d->event = ROLLOUT_EV_NONE;
    d->seq = 0;
    d->at_ms = now;
    d->phase_from = d->phase_to = st->phase;
    d->weight_from = d->weight_to = st->weight;
    d->step = st->step;
    d->pause_reason = ROLLOUT_PAUSE_NONE;
    d->end_reason = ROLLOUT_END_NONE;
    d->hooks = 0;
    d->has_analysis = false;
    d->verdict = ROLLOUT_VERDICT_NONE;
    d->step_done = false;
    d->nchecks = 0;
    d->waiting = false;
    d->wait_until_ms = 0;
    d->samples = d->samples_needed = 0;
    d->summary[0] = '\0';
    d->record[0] = '\0';
    d->record_len = 0;
}

/* Finishes a decision: bumps seq, stamps the state, writes the record. */
static void emit(const struct rollout_spec *spec, const struct rollout_state *before,
                 struct rollout_state *n, enum rollout_event ev, unsigned hooks, const char *actor,
                 const char *reason, int64_t now, struct rollout_decision *d)
{
    n->seq = before->seq + 1;
    n->updated_ms = now;
    d->event = ev;
    d->seq = n->seq;
    d->phase_to = n->phase;
    d->weight_to = n->weight;
    d->hooks = hooks | HOOK_EVENT;
    if (ev == ROLLOUT_EV_PAUSED || ev == ROLLOUT_EV_AWAITING_CONFIRMATION)
        d->pause_reason = n->pause_reason;
    if (ev == ROLLOUT_EV_ROLLED_BACK)
        d->end_reason = n->end_reason;
    rollout_record_build(spec, before, n, actor, reason, d);
}

static void set_detail(struct rollout_state *n, const char *text)
{
    rollout_fmt(n->detail, sizeof n->detail, "%s", text ? text : "");
}

static void do_pause(struct rollout_state *n, enum rollout_pause_reason r, const char *detail,
                     int64_t now)
{
    n->phase = ROLLOUT_PAUSED;
    n->pause_reason = r;
    n->paused_at_ms = now;
    set_detail(n, detail);
}

static void do_resume(const struct rollout_spec *spec, struct rollout_state *n, int64_t now)
{
    n->phase = ROLLOUT_PROGRESSING;
    n->pause_reason = ROLLOUT_PAUSE_NONE;
    n->paused_at_ms = 0;
    n->detail[0] = '\0';
    /* Intervals spent paused are not judged: the next run judges the
     * interval after the resume. */
    if (n->step_entered && n->step < spec->nsteps &&
        spec->steps[n->step].kind == ROLLOUT_STEP_ANALYSIS)
        n->next_analysis_ms = now + spec->analysis.interval_ms;
}

/* Invariant kept here: the weight is 0 in the same state change that marks
 * the rollout rolled back, so the controller's one transaction stores and
 * streams weight 0 before it runs any hook. */
static void do_rollback(struct rollout_state *n, enum rollout_end_reason r, const char *detail,
                        int64_t now)
{
    n->phase = ROLLOUT_ROLLED_BACK;
    n->end_reason = r;
    n->pause_reason = ROLLOUT_PAUSE_NONE;
    if (n->weight != 0)
        n->weight_since_ms = now;
    n->weight = 0;
    n->next_analysis_ms = 0;
    n->pause_until_ms = 0;
    n->paused_at_ms = 0;
    set_detail(n, detail);
}

/* Share of the e-value mixture on the sequence over the whole attempt;
 * the rest is split among the sequences restarted at later weights.
 * Measured on the benchmark's scenarios (2,000 runs each): with 3/4 the
 * whole-attempt sequence catches a regression present from the start one
 * look sooner at the median than with 1/2, and the restarts still catch one
 * that begins at 25 % (incident-canary-errors) sooner than the per-weight
 * test did (53 s against 63 s at the median). */
#define EVIDENCE_SHARE_ATTEMPT 0.75

/* Weights in (0, 100) the steps set: the traffic splits a compare check can
 * be judged at. */
static uint32_t analysed_weights(const struct rollout_spec *spec)
{
    uint32_t k = 0, last = 0;
    for (size_t s = 0; s < spec->nsteps; s++) {
        const struct rollout_step *st = &spec->steps[s];
        if (st->kind == ROLLOUT_STEP_SET_WEIGHT && st->weight > 0 && st->weight < 100 &&
            st->weight != last) {
            k++;
            last = st->weight;
        }
    }
    return k;
}

/* A new attempt: every sequence starts from nothing. */
static void evidence_start(const struct rollout_spec *spec, struct rollout_state *n)
{
    uint32_t k = analysed_weights(spec);

    for (size_t i = 0; i < ROLLOUT_MAX_CHECKS; i++) {
        n->compare_p[i] = 1.0;
        memset(&n->evidence[i], 0, sizeof n->evidence[i]);
    }
    n->share_attempt = k > 1 ? EVIDENCE_SHARE_ATTEMPT : 1.0;
    n->share_left = 1.0 - n->share_attempt;
    n->share_weight = 0;
}

/* The weight changes from n->weight to w. The per-weight sequences end
 * (the rate-ratio one is banked with its share: a stopped test martingale
 * keeps its value) and new ones begin; the whole-attempt sequence goes on.
 * The first weight takes no share of its own: its sequence is the
 * whole-attempt one. */
static void evidence_new_weight(const struct rollout_spec *spec, struct rollout_state *n, uint32_t w)
{
    uint32_t k = analysed_weights(spec);
    bool restart = n->weight > 0 && w > 0 && w < 100;

    for (size_t i = 0; i < spec->analysis.nchecks && i < ROLLOUT_MAX_CHECKS; i++) {
        struct rollout_evidence *ev = &n->evidence[i];
        if (!rollout_check_is_rate_ratio(&spec->analysis.checks[i])) {
            n->compare_p[i] = 1.0; /* a new traffic split starts a new sequence */
            continue;
        }
        if (n->share_weight > 0) {
            double lm = rollout_evidence_log_mixture(ev->ll_weight);
            ev->e_banked += n->share_weight * exp(lm < 690 ? lm : 690);
        }
        memset(ev->ll_weight, 0, sizeof ev->ll_weight);
        ev->w_canary_n = ev->w_canary_x = ev->w_baseline_n = ev->w_baseline_x = 0;
    }
    n->share_weight = 0;
    if (restart && k > 1) {
        double s = (1.0 - EVIDENCE_SHARE_ATTEMPT) / (double)(k - 1);
        n->share_weight = s < n->share_left ? s : n->share_left;
        n->share_left -= n->share_weight;
    }
}

static void reset_runs(struct rollout_state *n)
{
    n->runs = n->passed = n->failures = n->consecutive_errors = 0;
    n->inconclusive = n->no_data_runs = 0;
}

/* ---- gates -------------------------------------------------------------- */

static const char *gate_down(const struct rollout_spec *spec, const struct rollout_signals *sig)
{
    if (!sig)
        return NULL;
    for (size_t g = 0; g < spec->gates.nprobes; g++) {
        for (size_t i = 0; i < sig->nprobes; i++) {
            if (sig->probes[i].name && strcmp(sig->probes[i].name, spec->gates.probes[g]) == 0 &&
                sig->probes[i].state == ROLLOUT_PROBE_DOWN)
                return spec->gates.probes[g];
        }
    }
    return NULL;
}

/* ---- analysis runs ------------------------------------------------------ */

static void run_analysis(const struct rollout_spec *spec, const struct rollout_state *st,
                         const struct plan *p, const struct rollout_window *res, int64_t now,
                         struct rollout_state *n, struct rollout_decision *d)
{
    const struct rollout_step *step = &spec->steps[st->step];
    bool any_fail = false, any_error = false, any_inconc = false, all_inconc_no_data = true;
    char reason[400];
    size_t decisive = 0;
    enum rollout_verdict v;

    for (size_t i = 0; i < spec->analysis.nchecks; i++) {
        struct check_inputs in;
        struct rollout_check_result *r = &d->checks[i];

        memset(&in, 0, sizeof in);
        in.from_ms = p->idx[i].from;
        in.to_ms = p->idx[i].to;
        if (p->idx[i].canary >= 0)
            in.canary = &res[p->idx[i].canary];
        if (p->idx[i].baseline >= 0)
            in.baseline = &res[p->idx[i].baseline];
        for (size_t w = 0; w < ROLLOUT_MAX_BURN_WINDOWS; w++) {
            if (p->idx[i].burn_long[w] >= 0)
                in.burn_long[w] = &res[p->idx[i].burn_long[w]];
            if (p->idx[i].burn_short[w] >= 0)
                in.burn_short[w] = &res[p->idx[i].burn_short[w]];
        }
        rollout_check_eval(&spec->analysis.checks[i], i, &in, st, n, r);
        switch (r->verdict) {
        case ROLLOUT_VERDICT_FAILED:
            if (!any_fail)
                decisive = i;
            any_fail = true;
            break;
        case ROLLOUT_VERDICT_ERROR:
            if (!any_fail && !any_error)
                decisive = i;
            any_error = true;
            break;
        case ROLLOUT_VERDICT_INCONCLUSIVE:
            if (!any_fail && !any_error && !any_inconc)
                decisive = i;
            any_inconc = true;
            if (!r->no_data)
                all_inconc_no_data = false;
            break;
        default:
            break;
        }
    }
    d->nchecks = spec->analysis.nchecks;
    d->has_analysis = true;
    /* A failure is evidence even when another check could not be read. */
    v = any_fail    ? ROLLOUT_VERDICT_FAILED
        : any_error ? ROLLOUT_VERDICT_ERROR
        : any_inconc ? ROLLOUT_VERDICT_INCONCLUSIVE
                     : ROLLOUT_VERDICT_PASSED;
    d->verdict = v;
    d->step = st->step;
    n->runs++;
    n->next_analysis_ms = p->due + spec->analysis.interval_ms;

    switch (v) {
    case ROLLOUT_VERDICT_PASSED:
        n->passed++;
        n->consecutive_errors = 0;
        if (n->passed >= step->count) {
            d->step_done = true;
            n->step = st->step + 1;
            n->step_entered = false;
            n->next_analysis_ms = 0;
        }
        emit(spec, st, n, ROLLOUT_EV_ANALYSIS, 0, CONTROLLER, NULL, now, d);
        return;
    case ROLLOUT_VERDICT_FAILED:
        n->failures++;
        n->consecutive_errors = 0;
        if (n->failures > spec->analysis.failure_limit) {
            rollout_fmt(reason, sizeof reason, "analysis failed (%u failed run%s, failureLimit %u): %s",
                     n->failures, n->failures == 1 ? "" : "s", spec->analysis.failure_limit,
                     d->checks[decisive].text);
            do_rollback(n, ROLLOUT_END_ANALYSIS, spec->analysis.checks[decisive].name, now);
            emit(spec, st, n, ROLLOUT_EV_ROLLED_BACK, HOOK_ROLLBACK, CONTROLLER, reason, now, d);
            return;
        }
        break;
    case ROLLOUT_VERDICT_ERROR:
        n->consecutive_errors++;
        if (n->consecutive_errors > spec->analysis.consecutive_error_limit) {
            rollout_fmt(reason, sizeof reason,
                     "metric data could not be read in %u runs in a row (consecutiveErrorLimit "
                     "%u): %s",
                     n->consecutive_errors, spec->analysis.consecutive_error_limit,
                     d->checks[decisive].text);
            do_rollback(n, ROLLOUT_END_ERRORS, spec->analysis.checks[decisive].name, now);
            emit(spec, st, n, ROLLOUT_EV_ROLLED_BACK, HOOK_ROLLBACK, CONTROLLER, reason, now, d);
            return;
        }
        break;
    case ROLLOUT_VERDICT_INCONCLUSIVE:
        n->inconclusive++;
        n->consecutive_errors = 0;
        if (all_inconc_no_data)
            n->no_data_runs++;
        if (n->inconclusive > spec->analysis.inconclusive_limit) {
            bool no_data = n->no_data_runs == n->inconclusive;
            if (no_data) {
                rollout_fmt(reason, sizeof reason,
                         "no canary traffic in %u runs (inconclusiveLimit %u); no traffic is not "
                         "evidence of failure",
                         n->inconclusive, spec->analysis.inconclusive_limit);
            } else {
                rollout_fmt(reason, sizeof reason, "%u inconclusive runs (inconclusiveLimit %u): %s",
                         n->inconclusive, spec->analysis.inconclusive_limit,
                         d->checks[decisive].text);
            }
            do_pause(n, no_data ? ROLLOUT_PAUSE_NO_DATA : ROLLOUT_PAUSE_INCONCLUSIVE,
                     spec->analysis.checks[decisive].name, now);
            emit(spec, st, n, ROLLOUT_EV_PAUSED, 0, CONTROLLER, reason, now, d);
            return;
        }
        break;
    default:
        break;
    }
    emit(spec, st, n, ROLLOUT_EV_ANALYSIS, 0, CONTROLLER, NULL, now, d);
}

/* ---- entering steps and finishing --------------------------------------- */

static void enter_step(const struct rollout_spec *spec, const struct rollout_state *st,
                       struct position pos, int64_t now, struct rollout_state *n,
                       struct rollout_decision *d)
{
    const struct rollout_step *s = &spec->steps[pos.step];
    char reason[160];

    d->step = pos.step;
    n->step = pos.step;
    n->pause_until_ms = 0;
    switch (s->kind) {
    case ROLLOUT_STEP_SET_WEIGHT:
        if (s->weight != st->weight) {
            evidence_new_weight(spec, n, s->weight);
            n->weight = s->weight;
            n->weight_since_ms = now;
        }
        n->step = pos.step + 1;
        n->step_entered = false;
        n->next_analysis_ms = 0;
        emit(spec, st, n, ROLLOUT_EV_WEIGHT, HOOK_STEP, CONTROLLER, NULL, now, d);
        return;
    case ROLLOUT_STEP_ANALYSIS:
        n->step_entered = true;
        n->step_started_ms = now;
        reset_runs(n);
        n->next_analysis_ms = now + spec->analysis.interval_ms;
        emit(spec, st, n, ROLLOUT_EV_STEP, HOOK_STEP, CONTROLLER, NULL, now, d);
        return;
    case ROLLOUT_STEP_PAUSE:
        n->step_entered = true;
        n->step_started_ms = now;
        n->next_analysis_ms = 0;
        if (s->duration_ms == ROLLOUT_PAUSE_UNTIL_PROMOTED) {
            rollout_fmt(reason, sizeof reason, "step %u waits until a person promotes it", pos.step);
            do_pause(n, ROLLOUT_PAUSE_STEP, "", now);
            emit(spec, st, n, ROLLOUT_EV_PAUSED, HOOK_STEP, CONTROLLER, reason, now, d);
        } else {
            n->pause_until_ms = now + s->duration_ms;
            emit(spec, st, n, ROLLOUT_EV_STEP, HOOK_STEP, CONTROLLER, NULL, now, d);
        }
        return;
    }
}

static void finish(const struct rollout_spec *spec, const struct rollout_state *st, int64_t now,
                   const char *actor, struct rollout_state *n, struct rollout_decision *d)
{
    n->step = (uint32_t)spec->nsteps;
    n->step_entered = false;
    n->next_analysis_ms = 0;
    n->pause_until_ms = 0;
    d->step = n->step;
    if (spec->promotion.require_confirmation && strcmp(actor, CONTROLLER) == 0) {
        do_pause(n, ROLLOUT_PAUSE_CONFIRMATION, "", now);
        emit(spec, st, n, ROLLOUT_EV_AWAITING_CONFIRMATION, HOOK_CONFIRM_PROMOTION, actor,
             "every step is done; promotion needs a yes", now, d);
        return;
    }
    n->phase = ROLLOUT_PROMOTED;
    n->pause_reason = ROLLOUT_PAUSE_NONE;
    n->paused_at_ms = 0;
    n->detail[0] = '\0';
    emit(spec, st, n, ROLLOUT_EV_PROMOTED, HOOK_PROMOTION, actor,
         strcmp(actor, CONTROLLER) == 0 ? "every step is done" : "promoted by a person", now, d);
}

/* ---- decide ------------------------------------------------------------- */

static roost_status check_windows(const struct rollout_window *res, size_t n, roost_error *err)
{
    for (size_t i = 0; i < n; i++) {
        const struct rollout_window *w = &res[i];
        if (w->unavailable)
            continue;
        if (w->successes > w->count) {
            return roost_error_set(err, ROOST_EINVAL,
                                   "rollout_decide: results[%zu] has %llu successes of %llu", i,
                                   (unsigned long long)w->successes, (unsigned long long)w->count);
        }
        if (!isfinite(w->sum) || !isfinite(w->sum_squares) || w->sum_squares < 0) {
            return roost_error_set(err, ROOST_EINVAL,
                                   "rollout_decide: results[%zu] has a non-finite or negative sum",
                                   i);
        }
    }
    return ROOST_OK;
}

roost_status rollout_decide(const struct rollout_spec *spec, const struct rollout_state *st,
                            int64_t now, const struct rollout_window *results, size_t nresults,
                            const struct rollout_signals *signals, struct rollout_state *next,
                            struct rollout_decision *d, roost_error *err)
{
    struct rollout_state n;
    struct position pos;
    const char *down;
    char reason[200];
    struct plan p;
    roost_status rc;

    if (!next || !d)
        return roost_error_set(err, ROOST_EINVAL, "rollout_decide: NULL next or decision");
    if ((rc = check_args(spec, st, err)) != ROOST_OK)
        return rc;
    make_plan(spec, st, now, &p);
    if (nresults != p.n) {
        return roost_error_set(err, ROOST_EINVAL,
                               "rollout_decide: %zu results for the %zu windows rollout_data_needed "
                               "asks for at this time",
                               nresults, p.n);
    }
    if (p.n && !results)
        return roost_error_set(err, ROOST_EINVAL, "rollout_decide: results is NULL");
    if ((rc = check_windows(results, p.n, err)) != ROOST_OK)
        return rc;

    n = *st;
    decision_init(d, st, now);
    if (st->phase != ROLLOUT_PROGRESSING && st->phase != ROLLOUT_PAUSED)
        goto nothing;

    down = gate_down(spec, signals);
    if (down) {
        if (spec->gates.on_down == ROLLOUT_ON_DOWN_ABORT) {
            rollout_fmt(reason, sizeof reason, "probe %s is down (gates.onDown: abort)", down);
            do_rollback(&n, ROLLOUT_END_GATE, down, now);
            emit(spec, st, &n, ROLLOUT_EV_ROLLED_BACK, HOOK_ROLLBACK, CONTROLLER, reason, now, d);
            goto done;
        }
        if (st->phase == ROLLOUT_PROGRESSING) {
            rollout_fmt(reason, sizeof reason, "probe %s is down (gates.onDown: pause)", down);
            do_pause(&n, ROLLOUT_PAUSE_GATE, down, now);
            emit(spec, st, &n, ROLLOUT_EV_PAUSED, 0, CONTROLLER, reason, now, d);
            goto done;
        }
    } else if (st->phase == ROLLOUT_PAUSED && st->pause_reason == ROLLOUT_PAUSE_GATE) {
        rollout_fmt(reason, sizeof reason, "probe %s is no longer down", st->detail);
        do_resume(spec, &n, now);
        emit(spec, st, &n, ROLLOUT_EV_RESUMED, 0, CONTROLLER, reason, now, d);
        goto done;
    }
    if (st->phase == ROLLOUT_PAUSED)
        goto nothing;

    pos = effective_position(spec, st, now);
    if (guard_applies(spec, st, pos)) {
        int64_t t_ok = st->weight_since_ms + spec->promotion.min_step_ms;
        d->wait_until_ms = t_ok;
        d->samples_needed = spec->promotion.min_samples;
        if (p.guard >= 0 && !results[p.guard].unavailable)
            d->samples = results[p.guard].count;
        if (now < t_ok || (spec->promotion.min_samples > 0 &&
                           (p.guard < 0 || results[p.guard].unavailable ||
                            results[p.guard].count < spec->promotion.min_samples))) {
            d->waiting = true;
            goto nothing;
        }
    }
    if (pos.step >= spec->nsteps) {
        finish(spec, st, now, CONTROLLER, &n, d);
        goto done;
    }
    if (!pos.entered) {
        enter_step(spec, st, pos, now, &n, d);
        goto done;
    }
    switch (spec->steps[pos.step].kind) {
    case ROLLOUT_STEP_ANALYSIS:
        if (p.kind != PLAN_ANALYSIS)
            goto nothing;
        run_analysis(spec, st, &p, results, now, &n, d);
        goto done;
    case ROLLOUT_STEP_PAUSE:
        if (spec->steps[pos.step].duration_ms == ROLLOUT_PAUSE_UNTIL_PROMOTED) {
            /* Progressing inside a wait-for-promote step (a state stored by
             * an older spec): wait again. */
            rollout_fmt(reason, sizeof reason, "step %u waits until a person promotes it", pos.step);
            do_pause(&n, ROLLOUT_PAUSE_STEP, "", now);
            emit(spec, st, &n, ROLLOUT_EV_PAUSED, 0, CONTROLLER, reason, now, d);
            goto done;
        }
        goto nothing; /* the timer has not run out (effective_position) */
    case ROLLOUT_STEP_SET_WEIGHT:
        break; /* never entered: completes on entry */
    }

nothing:
    *next = *st;
    return ROOST_OK;
done:
    *next = n;
    return ROOST_OK;
}

/* ---- commands ----------------------------------------------------------- */

const char *rollout_command_name(enum rollout_command c)
{
    switch (c) {
    case ROLLOUT_CMD_START:
        return "start";
    case ROLLOUT_CMD_PAUSE:
        return "pause";
    case ROLLOUT_CMD_RESUME:
        return "resume";
    case ROLLOUT_CMD_PROMOTE:
        return "promote";
    case ROLLOUT_CMD_ABORT:
        return "abort";
    case ROLLOUT_CMD_RETRY:
        return "retry";
    }
    return "?";
}

bool rollout_command_parse(const char *text, enum rollout_command *out)
{
    for (int c = ROLLOUT_CMD_START; c <= ROLLOUT_CMD_RETRY; c++) {
        if (text && strcmp(text, rollout_command_name((enum rollout_command)c)) == 0) {
            *out = (enum rollout_command)c;
            return true;
        }
    }
    return false;
}

/* "progressing at step 2", "paused (waiting for promote at step 6)": the
 * current situation, for command errors. */
static void describe(const struct rollout_spec *spec, const struct rollout_state *st, char *out,
                     size_t cap)
{
    switch (st->phase) {
    case ROLLOUT_PENDING:
        rollout_fmt(out, cap, "pending (not started)");
        break;
    case ROLLOUT_PROGRESSING:
        rollout_fmt(out, cap, "progressing at step %u of %zu", st->step, spec->nsteps);
        break;
    case ROLLOUT_PAUSED:
        rollout_fmt(out, cap, "paused at step %u (%s%s%s)", st->step,
                 rollout_pause_reason_name(st->pause_reason), st->detail[0] ? ": " : "", st->detail);
        break;
    case ROLLOUT_PROMOTED:
        rollout_fmt(out, cap, "promoted");
        break;
    case ROLLOUT_ROLLED_BACK:
        rollout_fmt(out, cap, "rolled back");
        break;
    }
}

static void begin_attempt(const struct rollout_spec *spec, struct rollout_state *n, int64_t now)
{
    n->phase = ROLLOUT_PROGRESSING;
    n->pause_reason = ROLLOUT_PAUSE_NONE;
    n->end_reason = ROLLOUT_END_NONE;
    n->attempt++;
    n->step = 0;
    n->step_entered = false;
    n->weight = 0;
    n->started_ms = n->step_started_ms = n->weight_since_ms = now;
    n->next_analysis_ms = n->pause_until_ms = n->paused_at_ms = 0;
    reset_runs(n);
    evidence_start(spec, n);
    n->detail[0] = '\0';
}

roost_status rollout_command(const struct rollout_spec *spec, const struct rollout_state *st,
                             enum rollout_command cmd, const char *actor, int64_t now,
                             struct rollout_state *next, struct rollout_decision *d,
                             roost_error *err)
{
    char who[ROLLOUT_ACTOR_MAX + 1], where[200], reason[300];
    struct rollout_state n;
    struct position pos;
    roost_status rc;
    const char *name;

    if (!next || !d)
        return roost_error_set(err, ROOST_EINVAL, "rollout_command: NULL next or decision");
    /* Abort must work even when a changed spec no longer fits the state:
     * it is the way out of that situation. */
    rc = cmd == ROLLOUT_CMD_ABORT ? rollout_state_check_basic(spec, st, err) : check_args(spec, st, err);
    if (rc != ROOST_OK)
        return rc;
    if ((unsigned)cmd > ROLLOUT_CMD_RETRY)
        return roost_error_set(err, ROOST_EINVAL, "rollout_command: unknown command %d", (int)cmd);
    rollout_fmt(who, sizeof who, "%s", actor && *actor ? actor : "unknown");
    name = spec->name;
    describe(spec, st, where, sizeof where);
    n = *st;

    switch (cmd) {
    case ROLLOUT_CMD_START:
        if (st->phase != ROLLOUT_PENDING) {
            return roost_error_set(err, ROOST_ECONFLICT, "%s is %s; %s", name, where,
                                   st->phase == ROLLOUT_ROLLED_BACK ? "use retry to start it again"
                                   : st->phase == ROLLOUT_PROMOTED
                                       ? "apply a new canary version to roll out again"
                                       : "it has already started");
        }
        decision_init(d, st, now);
        begin_attempt(spec, &n, now);
        d->step = 0;
        rollout_fmt(reason, sizeof reason, "started by %s", who);
        emit(spec, st, &n, ROLLOUT_EV_STARTED, HOOK_PRE_ROLLOUT, who, reason, now, d);
        break;

    case ROLLOUT_CMD_RETRY:
        if (st->phase != ROLLOUT_ROLLED_BACK) {
            return roost_error_set(err, ROOST_ECONFLICT,
                                   "only a rolled-back rollout can be retried; %s is %s", name, where);
        }
        decision_init(d, st, now);
        begin_attempt(spec, &n, now);
        d->step = 0;
        rollout_fmt(reason, sizeof reason, "retried by %s", who);
        emit(spec, st, &n, ROLLOUT_EV_STARTED, HOOK_PRE_ROLLOUT, who, reason, now, d);
        break;

    case ROLLOUT_CMD_PAUSE:
        if (st->phase == ROLLOUT_PAUSED && st->pause_reason != ROLLOUT_PAUSE_GATE) {
            return roost_error_set(err, ROOST_ECONFLICT,
                                   "%s is already %s; resume or promote it to continue", name, where);
        }
        if (st->phase != ROLLOUT_PROGRESSING && st->phase != ROLLOUT_PAUSED) {
            return roost_error_set(err, ROOST_ECONFLICT, "%s is %s; nothing to pause", name, where);
        }
        /* Paused by a gate: a person's pause holds it even after the probe
         * comes back up. */
        decision_init(d, st, now);
        if (st->phase == ROLLOUT_PAUSED)
            rollout_fmt(reason, sizeof reason, "paused by %s (was paused by probe %s)", who, st->detail);
        else
            rollout_fmt(reason, sizeof reason, "paused by %s", who);
        do_pause(&n, ROLLOUT_PAUSE_HUMAN, who, now);
        emit(spec, st, &n, ROLLOUT_EV_PAUSED, 0, who, reason, now, d);
        break;

    case ROLLOUT_CMD_RESUME:
        if (st->phase != ROLLOUT_PAUSED) {
            return roost_error_set(err, ROOST_ECONFLICT, "%s is %s; %s", name, where,
                                   st->phase == ROLLOUT_PENDING    ? "start it first"
                                   : st->phase == ROLLOUT_PROMOTED ? "nothing to resume"
                                   : st->phase == ROLLOUT_ROLLED_BACK
                                       ? "use retry to start it again"
                                       : "it is not paused");
        }
        if (st->pause_reason == ROLLOUT_PAUSE_STEP) {
            return roost_error_set(err, ROOST_ECONFLICT,
                                   "%s waits at step %u (pause until promoted): promote it to "
                                   "continue",
                                   name, st->step);
        }
        if (st->pause_reason == ROLLOUT_PAUSE_CONFIRMATION) {
            return roost_error_set(err, ROOST_ECONFLICT,
                                   "%s waits for promotion to be confirmed: promote it to confirm, "
                                   "or abort it",
                                   name);
        }
        decision_init(d, st, now);
        if (st->pause_reason == ROLLOUT_PAUSE_INCONCLUSIVE ||
            st->pause_reason == ROLLOUT_PAUSE_NO_DATA) {
            /* The person accepts the inconclusive runs so far: the step
             * gets inconclusiveLimit more. */
            n.inconclusive = 0;
            n.no_data_runs = 0;
        }
        rollout_fmt(reason, sizeof reason, "resumed by %s (was paused: %s)", who,
                 rollout_pause_reason_name(st->pause_reason));
        do_resume(spec, &n, now);
        emit(spec, st, &n, ROLLOUT_EV_RESUMED, 0, who, reason, now, d);
        break;

    case ROLLOUT_CMD_PROMOTE:
        if (st->phase != ROLLOUT_PROGRESSING && st->phase != ROLLOUT_PAUSED) {
            return roost_error_set(err, ROOST_ECONFLICT, "%s is %s; %s", name, where,
                                   st->phase == ROLLOUT_PENDING    ? "start it first"
                                   : st->phase == ROLLOUT_PROMOTED ? "it is already promoted"
                                                                   : "use retry to start it again");
        }
        decision_init(d, st, now);
        pos = effective_position(spec, st, now);
        if (st->pause_reason == ROLLOUT_PAUSE_CONFIRMATION || pos.step >= spec->nsteps) {
            finish(spec, st, now, who, &n, d);
            break;
        }
        n.phase = ROLLOUT_PROGRESSING;
        n.pause_reason = ROLLOUT_PAUSE_NONE;
        n.paused_at_ms = 0;
        n.detail[0] = '\0';
        d->step = pos.step;
        if (!pos.entered && spec->steps[pos.step].kind == ROLLOUT_STEP_SET_WEIGHT) {
            /* A setWeight held by the promotion guard: a person's yes sets
             * the weight now. */
            const struct rollout_step *s = &spec->steps[pos.step];
            if (s->weight != st->weight) {
                evidence_new_weight(spec, &n, s->weight);
                n.weight = s->weight;
                n.weight_since_ms = now;
            }
            n.step = pos.step + 1;
            n.step_entered = false;
            n.next_analysis_ms = n.pause_until_ms = 0;
            rollout_fmt(reason, sizeof reason, "promoted by %s", who);
            emit(spec, st, &n, ROLLOUT_EV_WEIGHT, HOOK_STEP, who, reason, now, d);
            break;
        }
        n.step = pos.step + 1;
        n.step_entered = false;
        n.next_analysis_ms = n.pause_until_ms = 0;
        rollout_fmt(reason, sizeof reason, "ended by %s's promote", who);
        emit(spec, st, &n, ROLLOUT_EV_STEP, HOOK_STEP, who, reason, now, d);
        break;

    case ROLLOUT_CMD_ABORT:
        if (st->phase != ROLLOUT_PROGRESSING && st->phase != ROLLOUT_PAUSED) {
            return roost_error_set(err, ROOST_ECONFLICT, "%s is %s; nothing to abort", name,
                                   st->phase == ROLLOUT_ROLLED_BACK ? "already rolled back" : where);
        }
        decision_init(d, st, now);
        rollout_fmt(reason, sizeof reason, "aborted by %s", who);
        do_rollback(&n, ROLLOUT_END_HUMAN, who, now);
        emit(spec, st, &n, ROLLOUT_EV_ROLLED_BACK, HOOK_ROLLBACK, who, reason, now, d);
        break;
    }
    *next = n;
    return ROOST_OK;
}

/* ---- wakeup ------------------------------------------------------------- */

int64_t rollout_next_wakeup(const struct rollout_spec *spec, const struct rollout_state *st,
                            int64_t now)
{
    struct position pos;

    if (!spec || !st || rollout_state_check(spec, st, NULL) != ROOST_OK)
        return ROLLOUT_NEVER;
    if (st->phase != ROLLOUT_PROGRESSING)
        return ROLLOUT_NEVER;
    pos = effective_position(spec, st, now);
    if (guard_applies(spec, st, pos)) {
        int64_t t_ok = st->weight_since_ms + spec->promotion.min_step_ms;
        int64_t iv = spec->analysis.interval_ms;
        if (t_ok > now)
            return t_ok;
        if (spec->promotion.min_samples == 0)
            return now;
        /* Sample counts are polled every interval from the moment the time
         * is met: the next poll strictly after now. */
        return t_ok + ((now - t_ok) / iv + 1) * iv;
    }
    if (pos.step >= spec->nsteps || !pos.entered)
        return now;
    switch (spec->steps[pos.step].kind) {
    case ROLLOUT_STEP_ANALYSIS:
        return st->next_analysis_ms;
    case ROLLOUT_STEP_PAUSE:
        return spec->steps[pos.step].duration_ms == ROLLOUT_PAUSE_UNTIL_PROMOTED ? now
                                                                               : st->pause_until_ms;
    case ROLLOUT_STEP_SET_WEIGHT:
        break;
    }
    return now;
}
