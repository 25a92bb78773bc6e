/* roostd's controller loop in virtual time; see controller.h. */
#include "tools/sim/controller.h"

#include <stdlib.h>
#include <string.h>

struct sim_roost {
    const struct rollout_spec *spec;
    struct rollout_state st;
    int64_t settle_ms;
    sim_event_fn on_event;
    void *user;
    /* Scratch, kept between ticks: a decision is about 18 KB and the
     * window sketches about 1 MB. */
    struct rollout_decision d;
    struct rollout_request reqs[ROLLOUT_MAX_REQUESTS];
    struct rollout_window windows[ROLLOUT_MAX_REQUESTS];
    roost_sketch sketches[ROLLOUT_MAX_REQUESTS];
    roost_sketch_bucket buckets[ROLLOUT_MAX_REQUESTS][SIM_SKETCH_CAP];
};

static enum sim_phase phase_of(const struct rollout_state *st)
{
    switch (st->phase) {
    case ROLLOUT_PROMOTED:
        return SIM_PROMOTED;
    case ROLLOUT_ROLLED_BACK:
        return SIM_ROLLED_BACK;
    case ROLLOUT_PAUSED:
        /* A gate pause ends by itself when the probe comes back; every
         * other pause waits for a person. */
        return st->pause_reason == ROLLOUT_PAUSE_GATE ? SIM_RUNNING : SIM_PAUSED;
    case ROLLOUT_PENDING:
    case ROLLOUT_PROGRESSING:
        return SIM_RUNNING;
    }
    return SIM_RUNNING;
}

static void emit(struct sim_roost *r)
{
    struct sim_event ev;

    if (!r->on_event)
        return;
    ev.at_ms = r->d.at_ms;
    ev.weight_from = r->d.weight_from;
    ev.weight_to = r->d.weight_to;
    ev.phase = phase_of(&r->st);
    ev.summary = r->d.summary;
    ev.record = r->d.record;
    ev.record_len = r->d.record_len;
    ev.decision = &r->d;
    r->on_event(r->user, &ev);
}

roost_status sim_roost_new(const struct rollout_spec *spec, int64_t settle_ms, sim_event_fn on_event,
                           void *user, struct sim_roost **out, roost_error *err)
{
    struct sim_roost *r;

    if (!spec || !out || settle_ms < 0)
        return roost_error_set(err, ROOST_EINVAL, "sim_roost_new: no spec, or a negative settle time");
    if (!(r = calloc(1, sizeof *r)))
        return roost_error_set(err, ROOST_ENOMEM, "out of memory for a rollout controller");
    r->spec = spec;
    r->settle_ms = settle_ms;
    r->on_event = on_event;
    r->user = user;
    for (size_t i = 0; i < ROLLOUT_MAX_REQUESTS; i++) {
        roost_status rc = roost_sketch_init(&r->sketches[i], r->buckets[i], SIM_SKETCH_CAP);
        if (rc != ROOST_OK) { /* cannot happen: the capacity is in range */
            free(r);
            return roost_error_set(err, rc, "sim_roost_new: sketch init failed");
        }
    }
    rollout_state_init(&r->st);
    *out = r;
    return ROOST_OK;
}

void sim_roost_reset(struct sim_roost *r)
{
    rollout_state_init(&r->st);
}

void sim_roost_free(struct sim_roost *r)
{
    free(r);
}

roost_status sim_roost_command(struct sim_roost *r, enum rollout_command cmd, const char *actor,
                               int64_t now_ms, roost_error *err)
{
    struct rollout_state next;
    roost_status rc = rollout_command(r->spec, &r->st, cmd, actor, now_ms, &next, &r->d, err);

    if (rc != ROOST_OK)
        return rc;
    r->st = next;
    emit(r);
    return ROOST_OK;
}

roost_status sim_roost_tick(struct sim_roost *r, int64_t now_ms, const struct sim_series *data,
                            const struct rollout_signals *signals, roost_error *err)
{
    for (int i = 0; i < SIM_TICK_DECISIONS; i++) {
        struct rollout_state next;
        size_t n = rollout_data_needed(r->spec, &r->st, now_ms, r->reqs, ROLLOUT_MAX_REQUESTS, err);
        roost_status rc;

        if (n == (size_t)-1)
            return err ? err->code : ROOST_EINTERNAL;
        for (size_t k = 0; k < n; k++) {
            const struct rollout_request *q = &r->reqs[k];
            if (strcmp(q->metric, SIM_METRIC) != 0) {
                /* Only "requests" is simulated (the scenario parser refuses
                 * others); another metric is a window without data, as in
                 * a store that never received it. */
                memset(&r->windows[k], 0, sizeof r->windows[k]);
                continue;
            }
            sim_series_window(data, q->arm, q->from_ms, q->to_ms, now_ms,
                              q->needs_sketch ? &r->sketches[k] : NULL, &r->windows[k]);
        }
        rc = rollout_decide(r->spec, &r->st, now_ms, r->windows, n, signals, &next, &r->d, err);
        if (rc != ROOST_OK)
            return rc;
        if (r->d.event == ROLLOUT_EV_NONE) {
            /* The library's promise (logic.h): no decision, no change. */
            if (memcmp(&next, &r->st, sizeof next) != 0)
                return roost_error_set(err, ROOST_EINTERNAL,
                                       "rollout_decide changed the state without a decision");
            return ROOST_OK;
        }
        r->st = next;
        emit(r);
    }
    return roost_error_set(err, ROOST_EINTERNAL, "more than %d decisions at one time",
                           SIM_TICK_DECISIONS);
}

int64_t sim_roost_next_tick(const struct sim_roost *r, int64_t now_ms)
{
    int64_t w = rollout_next_wakeup(r->spec, &r->st, now_ms);

    if (w == ROLLOUT_NEVER)
        return SIM_NEVER;
    return w > SIM_NEVER - r->settle_ms ? SIM_NEVER : w + r->settle_ms;
}

const struct rollout_state *sim_roost_state(const struct sim_roost *r)
{
    return &r->st;
}

/* ---- as a policy ------------------------------------------------------------ */

static roost_status p_start(void *self, int64_t now_ms, roost_error *err)
{
    struct sim_roost *r = self;
    sim_roost_reset(r);
    return sim_roost_command(r, ROLLOUT_CMD_START, "roost-sim", now_ms, err);
}

static roost_status p_tick(void *self, int64_t now_ms, const struct sim_view *v, roost_error *err)
{
    struct rollout_signals sig = {v->probes, v->nprobes};
    return sim_roost_tick(self, now_ms, v->series, &sig, err);
}

static int64_t p_next_tick(const void *self, int64_t now_ms)
{
    return sim_roost_next_tick(self, now_ms);
}

static uint32_t p_weight(const void *self)
{
    return ((const struct sim_roost *)self)->st.weight;
}

static enum sim_phase p_phase(const void *self)
{
    return phase_of(&((const struct sim_roost *)self)->st);
}

static const struct sim_policy_ops ROOST_OPS = {"roost", p_start, p_tick, p_next_tick, p_weight, p_phase};

void sim_roost_policy(struct sim_roost *r, struct sim_policy *p)
{
    p->ops = &ROOST_OPS;
    p->self = r;
}
