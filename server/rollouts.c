/* The rollout controller. See rollouts.h for the model.
 *
 * Locks, in the order they may be taken: r->mu (decisions: the controller
 * thread's ticks and people's commands), then the store's own writer lock.
 * wake_mu and q_mu guard only their flags and queues and are never held
 * while deciding or writing.
 */
#include "rollouts.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "change.h"
#include "clock.h"
#include "log.h"
#include "metrics_query.h"
#include "resources.h"
#include "roost/storage/v1/storage.pb-c.h"
#include "rollout/hooks.h"
#include "rollout/logic.h"
#include "rollout/spec.h"

#define HOOK_WINDOW_DEFAULT 256
#define HOOK_WINDOW_MAX 4096
#define HOOK_WORKERS_MAX 8
#define HOOK_DRAIN_DEFAULT_MS 10000
/* How soon an idle worker reads the outbox again after a read failed. */
#define HOOK_RETRY_MS 1000
/* Sketch capacity of the windows the controller reads: enough for the
 * 1 % bound on every quantile of a typical latency distribution, small
 * enough that a decision reading many windows stays cheap. */
#define WINDOW_SKETCH_CAP 512
/* Decisions one tick may make back to back (a run passes, the step ends,
 * the next weight is set...), and how often a decision dropped because the
 * state moved under it is retried. */
#define TICK_DECISIONS 32
/* Longest sleep: a missed kick costs at most this. */
#define IDLE_WAKE_MS 30000
#define RECENT_DECISIONS 5

struct hook_job {
    uint64_t seq;       /* its row in the hook outbox */
    char *rollout;
    char *spec;         /* canonical spec text: the worker parses its own copy */
    size_t spec_len;
    size_t hook;        /* index in spec.hooks */
    unsigned event;     /* the hook_event bit this run is for */
    char *event_json;   /* the decision record */
    char *key;          /* idempotency key */
};

struct rollouts {
    struct store *store;
    struct hub *hub;
    struct rollouts_options opt;
    pthread_mutex_t mu;

    pthread_mutex_t wake_mu;
    pthread_cond_t wake_cv;
    bool kicked, reload_probes, stop;
    pthread_t thread;
    bool thread_running;

    struct prober *prober;

    pthread_mutex_t q_mu;
    pthread_cond_t q_cv;
    struct hook_job **queue;    /* ring of opt.hook_window jobs not started */
    struct hook_job **pull_buf; /* the puller's scratch, as large */
    size_t q_head, q_len;
    uint64_t q_cursor;          /* outbox rows before it are held, running or done */
    bool q_more;                /* rows at or after q_cursor may be waiting */
    bool q_pulling;
    bool q_stop;
    int64_t q_drain_until;      /* once stopping: no job starts after this */
    pthread_t workers[HOOK_WORKERS_MAX];
    int nworkers;
};

static void log_error(const char *event, const char *rollout, const char *msg)
{
    struct log_line l;

    log_begin(&l, LOG_ERROR, event);
    log_str(&l, "rollout", rollout);
    log_str(&l, "error", msg);
    log_end(&l);
}

/* ---- loading a rollout ------------------------------------------------ */

struct loaded {
    Roost__Storage__V1__RolloutRecord *rec;
    struct rollout_spec *spec;
    struct rollout_state st;
};

static void unload(struct loaded *l)
{
    if (l->rec)
        roost__storage__v1__rollout_record__free_unpacked(l->rec, NULL);
    if (l->spec) {
        rollout_spec_free(l->spec);
        free(l->spec);
    }
    memset(l, 0, sizeof *l);
}

static roost_status load(struct rollouts *r, const char *name, struct loaded *l, roost_error *err)
{
    struct store_txn t;
    roost_status rc;

    memset(l, 0, sizeof *l);
    if ((rc = store_begin(r->store, false, &t, err)) != ROOST_OK)
        return rc;
    rc = resources_get_rollout(&t, name, &l->rec, err);
    store_abort(&t);
    if (rc != ROOST_OK)
        return rc;
    if (!(l->spec = calloc(1, sizeof *l->spec))) {
        unload(l);
        return roost_error_set(err, ROOST_ENOMEM, "out of memory");
    }
    if ((rc = rollout_spec_parse_text((const char *)l->rec->spec.data, l->rec->spec.len, name,
                                      NULL, 0, l->spec, err)) != ROOST_OK ||
        (rc = rollout_state_decode(l->rec->state.data, l->rec->state.len, &l->st, err)) !=
            ROOST_OK) {
        free(l->spec);
        l->spec = NULL;
        unload(l);
        roost_error_prefix(err, "stored rollout %s: ", name);
        return rc;
    }
    return ROOST_OK;
}

/* ---- hooks ------------------------------------------------------------- */

/* Hook delivery is at-least-once. Every hook run a decision schedules is a
 * row of the hook outbox (TBL_HOOK_OUTBOX), written in the decision's own
 * transaction, so nothing decided can be lost to a crash; the row is
 * deleted in the transaction that records the hook's result. The queue
 * below is only a window over the outbox: it holds at most
 * opt.hook_window rows not yet started, and q_cursor says how far they
 * were read. Rows beyond a full window wait in LMDB and are pulled in as
 * workers take jobs, instead of being dropped. After a crash, whatever is
 * left is read again from the start: a hook that was running may run a
 * second time, with the same idempotency key, which is what lets its
 * receiver ignore the repeat. */

static void job_free(struct hook_job *j)
{
    if (!j)
        return;
    free(j->rollout);
    free(j->spec);
    free(j->event_json);
    free(j->key);
    free(j);
}

static struct hook_job *job_from_record(const Roost__Storage__V1__HookJob *rec, uint64_t seq)
{
    struct hook_job *j = calloc(1, sizeof *j);

    if (!j || !(j->rollout = strdup(rec->rollout)) || !(j->spec = malloc(rec->spec.len + 1)) ||
        !(j->event_json = strdup(rec->event_json)) || !(j->key = strdup(rec->idempotency_key))) {
        job_free(j);
        return NULL;
    }
    memcpy(j->spec, rec->spec.data, rec->spec.len);
    j->spec[rec->spec.len] = '\0';
    j->spec_len = rec->spec.len;
    j->seq = seq;
    j->hook = rec->hook;
    j->event = rec->event;
    return j;
}

/* Writes an outbox row for each of the spec's hooks that listen to one of
 * d's events, inside the decision's transaction t; *n counts them. Any
 * failure fails the decision: committing it without its hooks would lose
 * them silently. */
static roost_status stage_hooks(struct store_txn *t, const struct loaded *l,
                                const struct rollout_decision *d, uint64_t decision,
                                size_t *n, roost_error *err)
{
    *n = 0;
    for (size_t i = 0; i < l->spec->nhooks; i++) {
        Roost__Storage__V1__HookJob rec = ROOST__STORAGE__V1__HOOK_JOB__INIT;
        unsigned match = l->spec->hooks[i].on & d->hooks;
        unsigned bit = 0;
        char key[192];
        uint64_t seq;
        roost_status rc;

        if (!match)
            continue;
        /* The most specific event the hook listens to; "event" last. */
        for (unsigned b = 1; b < HOOK_EVENT && !bit; b <<= 1)
            if (match & b)
                bit = b;
        if (!bit)
            bit = HOOK_EVENT;
        /* Stable across retries and restarts: the decision it belongs to,
         * by the store-wide number its record has in the history. Not the
         * rollout state's own count: that starts again with each new
         * release, and a second release's rollback must not share its key
         * (and so be deduplicated away) with the first one's. */
        snprintf(key, sizeof key, "%s/%llu/%llu/%zu/%s", l->rec->name,
                 (unsigned long long)l->st.attempt, (unsigned long long)decision, i,
                 hook_event_name((enum hook_event)bit));
        rec.rollout = l->rec->name;
        rec.spec = l->rec->spec;
        rec.hook = (uint32_t)i;
        rec.event = bit;
        rec.event_json = (char *)d->record;
        rec.idempotency_key = key;
        rec.decided_unix_ms = d->at_ms;
        if ((rc = resources_put_hook_job(t, &rec, &seq, err)) != ROOST_OK) {
            roost_error_prefix(err, "hook outbox: ");
            return rc;
        }
        (*n)++;
    }
    return ROOST_OK;
}

/* Reads up to room outbox rows from *cursor into jobs; returns how many
 * and moves *cursor past the last row read. *more is set when rows may
 * remain: the window filled, or a read failed (an idle worker tries again
 * after HOOK_RETRY_MS). */
static size_t outbox_read(struct rollouts *r, uint64_t *cursor, struct hook_job **jobs,
                          size_t room, bool *more)
{
    struct store_txn t;
    roost_error err;
    size_t n = 0;

    *more = false;
    if (store_begin(r->store, false, &t, &err) != ROOST_OK) {
        log_error("hook_outbox_unreadable", "", err.msg);
        *more = true;
        return 0;
    }
    while (n < room) {
        Roost__Storage__V1__HookJob *rec;
        uint64_t seq = 0;
        roost_status rc = resources_next_hook_job(&t, *cursor, &seq, &rec, &err);

        if (rc == ROOST_ENOTFOUND)
            break;
        if (rc == ROOST_ECORRUPT) {
            /* Left in place for a person to look at; it must not hold up
             * every hook decided after it. */
            log_error("hook_outbox_row_skipped", "", err.msg);
            *cursor = seq + 1;
            continue;
        }
        if (rc != ROOST_OK) {
            log_error("hook_outbox_unreadable", "", err.msg);
            *more = true;
            break;
        }
        jobs[n] = job_from_record(rec, seq);
        roost__storage__v1__hook_job__free_unpacked(rec, NULL);
        if (!jobs[n]) {
            log_error("hook_outbox_unreadable", "", "out of memory");
            *more = true;
            break;
        }
        *cursor = seq + 1;
        n++;
    }
    if (n == room)
        *more = true;
    store_abort(&t);
    return n;
}

/* Fills the window from the outbox. One thread pulls at a time; the others
 * return at once, and a row committed meanwhile is seen because q_more is
 * set again and the puller loops. Never called with q_mu held. */
static void hooks_pull(struct rollouts *r)
{
    pthread_mutex_lock(&r->q_mu);
    if (r->q_pulling || r->q_stop) {
        pthread_mutex_unlock(&r->q_mu);
        return;
    }
    r->q_pulling = true;
    while (r->q_more && r->q_len < r->opt.hook_window) {
        /* Only the puller adds to the queue, so the room cannot shrink
         * while the lock is released. */
        size_t room = r->opt.hook_window - r->q_len, n;
        uint64_t cursor = r->q_cursor;
        bool more;

        r->q_more = false;
        pthread_mutex_unlock(&r->q_mu);
        n = outbox_read(r, &cursor, r->pull_buf, room, &more);
        pthread_mutex_lock(&r->q_mu);
        for (size_t i = 0; i < n; i++)
            r->queue[(r->q_head + r->q_len++) % r->opt.hook_window] = r->pull_buf[i];
        r->q_cursor = cursor;
        r->q_more |= more;
        if (n)
            pthread_cond_broadcast(&r->q_cv);
        if (more && n < room)
            break; /* a read failed: looping now would only fail again */
    }
    r->q_pulling = false;
    pthread_mutex_unlock(&r->q_mu);
}

/* A decision with hooks was committed: its rows are in the outbox. */
static void hooks_wake(struct rollouts *r)
{
    pthread_mutex_lock(&r->q_mu);
    r->q_more = true;
    pthread_mutex_unlock(&r->q_mu);
    hooks_pull(r);
}

/* A decision record outside the decision library (hook results). When
 * outbox_seq is not 0, that outbox row is deleted in the same transaction:
 * a result is recorded exactly when its job stops being owed. */
static void record_note(struct rollouts *r, const char *name, const char *actor, const char *kind,
                        const char *summary, const char *details, uint64_t outbox_seq)
{
    Roost__V1__Decision d = ROOST__V1__DECISION__INIT;
    struct store_txn t;
    roost_error err;

    d.time_unix_ms = clock_wall_ms();
    d.scope_kind = ROOST__V1__SCOPE_KIND__SCOPE_KIND_ROLLOUT;
    d.scope_key = (char *)name;
    d.actor = (char *)actor;
    d.kind = (char *)kind;
    d.summary = (char *)summary;
    d.details_json = (char *)details;
    if (store_begin(r->store, true, &t, &err) != ROOST_OK)
        goto fail;
    if (resources_put_decision(&t, &d, &err) != ROOST_OK ||
        (outbox_seq && resources_del_hook_job(&t, outbox_seq, &err) != ROOST_OK) ||
        store_commit(&t, &err) != ROOST_OK) {
        store_abort(&t);
        goto fail;
    }
    return;
fail:
    /* The row stays in the outbox, so the hook runs again at the next
     * start and its result gets another chance to be recorded. */
    log_error("decision_not_recorded", name, err.msg);
}

static void run_job(struct rollouts *r, struct hook_job *j)
{
    struct rollout_spec *spec = calloc(1, sizeof *spec);
    struct hook_result res;
    char what[256], summary[1024], *details = NULL;
    cJSON *o;
    const char *event = hook_event_name((enum hook_event)j->event);
    roost_error err;

    if (!event)
        event = "unknown";
    if (!spec || rollout_spec_parse_text(j->spec, j->spec_len, j->rollout, NULL, 0, spec, &err) ||
        j->hook >= spec->nhooks) {
        const char *why = !spec ? "out of memory"
                          : j->hook >= spec->nhooks ? "the hook is not in the rollout's spec"
                                                    : err.msg;
        log_error("hook_not_run", j->rollout, why);
        /* Out of memory may pass: keep the row for the next start. A spec
         * that does not parse never will: record that, and stop owing it. */
        if (spec) {
            snprintf(summary, sizeof summary, "hook %s: not run: %s", event, why);
            if ((o = cJSON_CreateObject())) {
                cJSON_AddStringToObject(o, "event", event);
                cJSON_AddBoolToObject(o, "ok", false);
                cJSON_AddStringToObject(o, "idempotency_key", j->key);
                cJSON_AddStringToObject(o, "detail", why);
                details = cJSON_PrintUnformatted(o);
                cJSON_Delete(o);
            }
            if (details)
                record_note(r, j->rollout, "controller", "hook", summary, details, j->seq);
            cJSON_free(details);
            rollout_spec_free(spec);
        }
        free(spec);
        return;
    }
    hook_describe(&spec->hooks[j->hook], what, sizeof what);
    hook_run(&spec->hooks[j->hook], j->rollout, event, j->event_json, j->key, &res);
    snprintf(summary, sizeof summary, "hook %s: %s %s: %s", event, what,
             res.ok ? "succeeded" : "FAILED", res.detail);
    if ((o = cJSON_CreateObject())) {
        cJSON_AddStringToObject(o, "hook", what);
        cJSON_AddStringToObject(o, "event", event);
        cJSON_AddBoolToObject(o, "ok", res.ok);
        cJSON_AddNumberToObject(o, "attempts", res.attempts);
        cJSON_AddNumberToObject(o, "duration_ms", (double)res.duration_ms);
        cJSON_AddNumberToObject(o, "exit_status", res.exit_status);
        cJSON_AddNumberToObject(o, "http_status", (double)res.http_status);
        cJSON_AddStringToObject(o, "idempotency_key", j->key);
        cJSON_AddStringToObject(o, "detail", res.detail);
        cJSON_AddStringToObject(o, "output", res.output);
        details = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
    }
    /* A confirm-promotion hook is a gate: its yes promotes. Before the
     * result is recorded, which is what takes the run out of the outbox: a
     * crash in between repeats the hook (its second yes finds the rollout
     * promoted), where the other order could lose the promotion. */
    if (res.ok && j->event == HOOK_CONFIRM_PROMOTION &&
        rollouts_command(r, j->rollout, "promote", "hook", "confirm-promotion hook said yes",
                         &err) != ROOST_OK)
        log_error("confirm_promotion_not_applied", j->rollout, err.msg);
    record_note(r, j->rollout, "controller", "hook", summary, details ? details : "{}", j->seq);
    cJSON_free(details);
    {
        struct log_line l;
        log_begin(&l, res.ok ? LOG_INFO : LOG_WARN, "rollout_hook");
        log_str(&l, "rollout", j->rollout);
        log_str(&l, "event", event);
        log_str(&l, "hook", what);
        log_bool(&l, "ok", res.ok);
        log_u64(&l, "attempts", res.attempts);
        log_str(&l, "idempotency_key", j->key);
        log_str(&l, "detail", res.detail);
        log_end(&l);
    }
    rollout_spec_free(spec);
    free(spec);
}

/* Waits on q_cv (q_mu held) for at most ms. */
static void q_wait_ms(struct rollouts *r, int64_t ms)
{
    struct timespec ts = clock_deadline_ms(ms);

    pthread_cond_timedwait(&r->q_cv, &r->q_mu, &ts);
}

static void *hook_worker(void *arg)
{
    struct rollouts *r = arg;

    for (;;) {
        struct hook_job *j;
        bool pulled = false, pull;

        pthread_mutex_lock(&r->q_mu);
        for (;;) {
            /* Stopping: jobs already in the window may still start until
             * the drain deadline; the rest stay in the outbox for the next
             * start, so a long queue cannot hold a shutdown for many hook
             * timeouts. */
            if (r->q_stop && (r->q_len == 0 || clock_wall_ms() >= r->q_drain_until)) {
                pthread_mutex_unlock(&r->q_mu);
                return NULL;
            }
            if (r->q_len > 0)
                break;
            if (r->q_more && !r->q_pulling && !r->q_stop && !pulled) {
                pthread_mutex_unlock(&r->q_mu);
                hooks_pull(r);
                pulled = true;
                pthread_mutex_lock(&r->q_mu);
                continue;
            }
            pulled = false;
            if (r->q_more)
                q_wait_ms(r, HOOK_RETRY_MS);
            else
                pthread_cond_wait(&r->q_cv, &r->q_mu);
        }
        j = r->queue[r->q_head];
        r->q_head = (r->q_head + 1) % r->opt.hook_window;
        r->q_len--;
        pull = r->q_more && !r->q_stop;
        pthread_mutex_unlock(&r->q_mu);
        /* The slot just freed goes to the next row waiting in the outbox. */
        if (pull)
            hooks_pull(r);
        run_job(r, j);
        job_free(j);
    }
}

/* Rows in the outbox (0 when it cannot be read; the caller only logs). */
static uint64_t outbox_rows(struct rollouts *r)
{
    struct store_txn t;
    uint64_t n;

    if (store_begin(r->store, false, &t, NULL) != ROOST_OK)
        return 0;
    n = store_table_entries(&t, TBL_HOOK_OUTBOX);
    store_abort(&t);
    return n;
}

/* ---- committing decisions ---------------------------------------------- */

/* Commits next and d for the rollout loaded in l, if its stored state is
 * still the one l was read with (ECONFLICT otherwise: decide again),
 * together with the outbox rows of the hooks d schedules, and hands those
 * to the hook workers. */
static roost_status commit_decision(struct rollouts *r, struct loaded *l,
                                    const struct rollout_state *next,
                                    const struct rollout_decision *d, const char *actor,
                                    const char *reason, roost_error *err)
{
    Roost__Storage__V1__RolloutRecord *cur = NULL;
    Roost__Storage__V1__RolloutRecord rec = *l->rec;
    Roost__V1__Rollout view = *l->rec->view;
    Roost__V1__Decision dec = ROOST__V1__DECISION__INIT;
    uint8_t state[ROLLOUT_STATE_ENCODED_MAX];
    char summary[512];
    size_t slen;
    struct store_txn t;
    bool view_changed;
    size_t nhooks = 0;
    roost_status rc;

    if ((rc = rollout_state_encode(next, state, sizeof state, &slen, err)) != ROOST_OK)
        return rc;
    if ((rc = store_begin(r->store, true, &t, err)) != ROOST_OK)
        return rc;
    if ((rc = resources_get_rollout(&t, l->rec->name, &cur, err)) != ROOST_OK) {
        store_abort(&t);
        return rc;
    }
    if (cur->state.len != l->rec->state.len ||
        memcmp(cur->state.data, l->rec->state.data, cur->state.len) != 0 ||
        cur->spec.len != l->rec->spec.len ||
        memcmp(cur->spec.data, l->rec->spec.data, cur->spec.len) != 0) {
        roost__storage__v1__rollout_record__free_unpacked(cur, NULL);
        store_abort(&t);
        return roost_error_set(err, ROOST_ECONFLICT, "rollout %s changed while deciding; retry",
                               l->rec->name);
    }
    roost__storage__v1__rollout_record__free_unpacked(cur, NULL);

    view.canary_weight_bp = next->weight * 100;
    view.phase = (char *)rollout_phase_name(next->phase);
    view.step = next->step;
    view_changed = view.canary_weight_bp != l->rec->view->canary_weight_bp ||
                   strcmp(view.phase, l->rec->view->phase) != 0 || view.step != l->rec->view->step;
    if (view_changed)
        view.revision = t.next_revision;
    rec.view = &view;
    rec.state.data = state;
    rec.state.len = slen;

    if (reason && reason[0])
        snprintf(summary, sizeof summary, "%s (%s)", d->summary, reason);
    else
        snprintf(summary, sizeof summary, "%s", d->summary);
    dec.time_unix_ms = d->at_ms;
    dec.scope_kind = ROOST__V1__SCOPE_KIND__SCOPE_KIND_ROLLOUT;
    dec.scope_key = l->rec->name;
    dec.actor = (char *)actor;
    dec.kind = (char *)rollout_event_name(d->event);
    dec.summary = summary;
    dec.details_json = (char *)d->record;
    dec.revision = view_changed ? t.next_revision : 0;

    if ((rc = resources_put_decision(&t, &dec, err)) != ROOST_OK ||
        (rc = resources_put_rollout(&t, &rec, err)) != ROOST_OK ||
        (rc = stage_hooks(&t, l, d, dec.seq, &nhooks, err)) != ROOST_OK) {
        store_abort(&t);
        return rc;
    }
    if (view_changed) {
        Roost__V1__ChangeEvent ev = ROOST__V1__CHANGE_EVENT__INIT;
        Roost__V1__Rollout *views[1] = {&view};
        ev.n_rollouts = 1;
        ev.rollouts = views;
        ev.actor = (char *)actor;
        ev.flag_set = l->rec->flag_set;
        rc = change_commit(&t, r->hub, &ev, err);
    } else {
        rc = store_commit(&t, err);
    }
    if (rc == ROOST_OK) {
        struct log_line lg;
        log_begin(&lg, LOG_INFO, "rollout_decision");
        log_str(&lg, "rollout", l->rec->name);
        log_str(&lg, "decision", rollout_event_name(d->event));
        log_str(&lg, "actor", actor);
        log_u64(&lg, "weight", next->weight);
        log_str(&lg, "phase", rollout_phase_name(next->phase));
        log_str(&lg, "summary", summary);
        log_end(&lg);
        if (nhooks)
            hooks_wake(r);
    }
    return rc;
}

/* ---- ticks ------------------------------------------------------------- */

/* Reads the windows of reqs in one read transaction. aggs and the bucket
 * memory they use are the caller's. */
static void read_windows(struct rollouts *r, const char *name, const struct rollout_request *reqs,
                         size_t n, struct metrics_agg *aggs, roost_sketch_bucket *buckets,
                         struct rollout_window *out)
{
    struct store_txn t;
    bool txn = store_begin(r->store, false, &t, NULL) == ROOST_OK;

    for (size_t i = 0; i < n; i++) {
        struct metrics_selector sel = {ROOST__V1__SCOPE_KIND__SCOPE_KIND_ROLLOUT, name,
                                       rollout_arm_name(reqs[i].arm), reqs[i].metric,
                                       NULL, NULL, NULL};
        int64_t from_s = reqs[i].from_ms / 1000, to_s = reqs[i].to_ms / 1000;
        roost_error err;

        memset(&out[i], 0, sizeof out[i]);
        if (!txn ||
            metrics_agg_init(&aggs[i], buckets + i * METRICS_AGG_BUCKETS(WINDOW_SKETCH_CAP),
                             WINDOW_SKETCH_CAP, &err) != ROOST_OK) {
            out[i].unavailable = true;
            continue;
        }
        if (to_s <= from_s)
            continue; /* an empty window: no data, not an error */
        if (metrics_window_txn(&t, &sel, from_s, to_s, &aggs[i], &err) != ROOST_OK) {
            log_error("rollout_window_unreadable", name, err.msg);
            out[i].unavailable = true;
            continue;
        }
        out[i].count = aggs[i].count;
        out[i].successes = aggs[i].successes;
        out[i].sum = aggs[i].sum;
        out[i].sum_squares = aggs[i].sum_squares;
        out[i].sketch = reqs[i].needs_sketch ? &aggs[i].sketch : NULL;
    }
    if (txn)
        store_abort(&t);
}

/* The states of the rollout's gate probes. */
static size_t gate_signals(struct rollouts *r, const struct rollout_spec *spec,
                           struct rollout_probe_signal *sig)
{
    size_t n = 0;

    for (size_t i = 0; i < spec->gates.nprobes; i++) {
        struct probe_status ps;
        sig[n].name = spec->gates.probes[i];
        sig[n].state = ROLLOUT_PROBE_UNKNOWN;
        if (r->prober && prober_status(r->prober, spec->gates.probes[i], &ps) == ROOST_OK)
            sig[n].state = (enum rollout_probe_state)ps.state;
        n++;
    }
    return n;
}

/* Makes every decision due for one rollout; returns its next wakeup. Holds
 * r->mu. */
static int64_t tick_one(struct rollouts *r, const char *name)
{
    struct rollout_request reqs[ROLLOUT_MAX_REQUESTS];
    struct rollout_window windows[ROLLOUT_MAX_REQUESTS];
    struct rollout_probe_signal sig[ROLLOUT_MAX_GATES];
    struct rollout_signals signals;
    struct metrics_agg *aggs = NULL;
    roost_sketch_bucket *buckets = NULL;
    struct rollout_decision *d = malloc(sizeof *d);
    struct rollout_state next;
    int64_t wake = ROLLOUT_NEVER;
    roost_error err;

    if (!d)
        return clock_wall_ms() + 1000;
    for (int i = 0; i < TICK_DECISIONS; i++) {
        struct loaded l;
        int64_t now = clock_wall_ms();
        size_t n;
        roost_status rc;

        if (load(r, name, &l, &err) != ROOST_OK) {
            if (err.code != ROOST_ENOTFOUND)
                log_error("rollout_unreadable", name, err.msg);
            break;
        }
        if (l.st.phase == ROLLOUT_PENDING) {
            if (l.spec->auto_start &&
                rollout_command(l.spec, &l.st, ROLLOUT_CMD_START, "controller", now, &next, d,
                                &err) == ROOST_OK) {
                rc = commit_decision(r, &l, &next, d, "controller", "autoStart", &err);
                unload(&l);
                if (rc == ROOST_OK || rc == ROOST_ECONFLICT)
                    continue;
                log_error("rollout_decision_not_committed", name, err.msg);
                wake = now + 1000; /* a store error: try again shortly */
                break;
            }
            unload(&l);
            break;
        }
        n = rollout_data_needed(l.spec, &l.st, now, reqs, ROLLOUT_MAX_REQUESTS, &err);
        if (n == (size_t)-1) {
            log_error("rollout_stuck", name, err.msg);
            unload(&l);
            break;
        }
        free(aggs);
        free(buckets);
        aggs = calloc(n + 1, sizeof *aggs);
        buckets = calloc((n + 1) * METRICS_AGG_BUCKETS(WINDOW_SKETCH_CAP), sizeof *buckets);
        if (!aggs || !buckets) {
            unload(&l);
            wake = now + 1000;
            break;
        }
        read_windows(r, name, reqs, n, aggs, buckets, windows);
        signals.probes = sig;
        signals.nprobes = gate_signals(r, l.spec, sig);
        rc = rollout_decide(l.spec, &l.st, now, windows, n, &signals, &next, d, &err);
        if (rc != ROOST_OK) {
            log_error("rollout_stuck", name, err.msg);
            unload(&l);
            break;
        }
        if (d->event == ROLLOUT_EV_NONE) {
            wake = rollout_next_wakeup(l.spec, &l.st, now);
            unload(&l);
            break;
        }
        rc = commit_decision(r, &l, &next, d, "controller", NULL, &err);
        if (rc != ROOST_OK && rc != ROOST_ECONFLICT)
            log_error("rollout_decision_not_committed", name, err.msg);
        unload(&l);
        if (rc != ROOST_OK && rc != ROOST_ECONFLICT) {
            wake = now + 1000; /* a store error: try again shortly */
            break;
        }
    }
    free(aggs);
    free(buckets);
    free(d);
    return wake;
}

roost_status rollouts_names(struct rollouts *r, char ***names, size_t *n, roost_error *err)
{
    return resources_names(r->store, TBL_ROLLOUTS, names, n, err);
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Ticks every rollout; returns the earliest wakeup. */
static int64_t tick_all(struct rollouts *r)
{
    char **names;
    size_t n;
    int64_t wake = ROLLOUT_NEVER;
    roost_error err;

    if (rollouts_names(r, &names, &n, &err) != ROOST_OK) {
        log_error("rollouts_unreadable", "", err.msg);
        return clock_wall_ms() + 1000;
    }
    for (size_t i = 0; i < n; i++) {
        int64_t w;
        pthread_mutex_lock(&r->mu);
        w = tick_one(r, names[i]);
        pthread_mutex_unlock(&r->mu);
        if (w < wake)
            wake = w;
    }
    free_names(names, n);
    return wake;
}

/* ---- probes -------------------------------------------------------------- */

static void fill_probe_status(Roost__V1__ProbeStatus *ps, const struct probe_status *st)
{
    roost__v1__probe_status__init(ps);
    ps->name = (char *)st->name;
    ps->state = (char *)probe_state_name(st->state);
    ps->circuit = (char *)probe_circuit_name(st->circuit);
    ps->latency_ms = st->latency_ms;
    ps->consecutive_failures = st->consecutive_failures;
    ps->since_unix_ms = st->since_ms;
    ps->detail = (char *)st->detail;
}

/* On the prober's thread: a probe changed state. Commit it as a change, so
 * SDKs and `roostctl status` see it, and let gates react. */
static void on_probe_change(void *user, const struct probe_status *st)
{
    struct rollouts *r = user;
    Roost__Storage__V1__ProbeRecord *rec;
    Roost__V1__ProbeStatus ps, *saved, *list[1];
    Roost__V1__ChangeEvent ev = ROOST__V1__CHANGE_EVENT__INIT;
    struct store_txn t;
    struct store_val v;
    roost_error err;
    roost_status rc;
    struct log_line l;

    log_begin(&l, st->state == PROBE_DOWN ? LOG_WARN : LOG_INFO, "probe_state");
    log_str(&l, "probe", st->name);
    log_str(&l, "state", probe_state_name(st->state));
    log_str(&l, "circuit", probe_circuit_name(st->circuit));
    log_f64(&l, "latency_ms", st->latency_ms);
    log_str(&l, "detail", st->detail);
    log_end(&l);

    if (store_begin(r->store, true, &t, &err) != ROOST_OK)
        return;
    if (store_get(&t, TBL_PROBES, st->name, strlen(st->name), &v, NULL) != ROOST_OK ||
        !(rec = roost__storage__v1__probe_record__unpack(NULL, v.len, v.data))) {
        store_abort(&t); /* removed by an apply meanwhile */
        return;
    }
    fill_probe_status(&ps, st);
    saved = rec->status;
    rec->status = &ps;
    {
        size_t len = roost__storage__v1__probe_record__get_packed_size(rec);
        uint8_t *buf = malloc(len ? len : 1);
        rc = buf ? ROOST_OK : ROOST_ENOMEM;
        if (buf) {
            roost__storage__v1__probe_record__pack(rec, buf);
            rc = store_put(&t, TBL_PROBES, st->name, strlen(st->name), buf, len, &err);
            free(buf);
        }
    }
    list[0] = &ps;
    ev.n_probes = 1;
    ev.probes = list;
    ev.actor = "prober";
    ev.flag_set = rec->flag_set;
    if (rc == ROOST_OK)
        rc = change_commit(&t, r->hub, &ev, &err);
    else
        store_abort(&t);
    rec->status = saved;
    roost__storage__v1__probe_record__free_unpacked(rec, NULL);
    if (rc != ROOST_OK)
        log_error("probe_state_not_recorded", st->name, err.msg);
    rollouts_kick(r, false);
}

/* Gives the prober the stored probes. */
static void reload_probes(struct rollouts *r)
{
    struct store_txn t;
    struct store_iter it;
    struct store_val k = {0}, v = {0};
    struct probe_spec *specs = NULL;
    size_t n = 0, cap = 0;
    roost_error err;

    if (store_begin(r->store, false, &t, &err) != ROOST_OK)
        return;
    if (store_iter_open(&t, TBL_PROBES, NULL, 0, &it, &err) == ROOST_OK) {
        while (store_iter_next(&it, &k, &v)) {
            Roost__Storage__V1__ProbeRecord *rec =
                roost__storage__v1__probe_record__unpack(NULL, v.len, v.data);
            cJSON *j = rec ? cJSON_Parse(rec->spec_json) : NULL;
            char path[PROBE_NAME_MAX + 16];

            if (n == cap) {
                struct probe_spec *ns = realloc(specs, (cap = cap ? cap * 2 : 8) * sizeof *ns);
                if (!ns) {
                    cJSON_Delete(j);
                    if (rec)
                        roost__storage__v1__probe_record__free_unpacked(rec, NULL);
                    break;
                }
                specs = ns;
            }
            if (j) {
                snprintf(path, sizeof path, "probes.%s", rec->name);
                if (probe_spec_parse(j, rec->name, path, &specs[n], &err) == ROOST_OK)
                    n++;
                else
                    log_error("probe_not_loaded", rec->name, err.msg);
            }
            cJSON_Delete(j);
            if (rec)
                roost__storage__v1__probe_record__free_unpacked(rec, NULL);
        }
        store_iter_close(&it);
    }
    store_abort(&t);
    if (prober_set(r->prober, specs, n, &err) != ROOST_OK)
        log_error("probes_not_loaded", "", err.msg);
    for (size_t i = 0; i < n; i++)
        probe_spec_free(&specs[i]);
    free(specs);
}

size_t rollouts_probe_states(struct rollouts *r, struct probe_status *out, size_t cap)
{
    return r->prober ? prober_snapshot(r->prober, out, cap) : 0;
}

/* ---- the controller thread ------------------------------------------------ */

static void *controller_main(void *arg)
{
    struct rollouts *r = arg;

    for (;;) {
        bool probes;
        int64_t wake, now;

        pthread_mutex_lock(&r->wake_mu);
        if (r->stop) {
            pthread_mutex_unlock(&r->wake_mu);
            return NULL;
        }
        probes = r->reload_probes;
        r->reload_probes = false;
        r->kicked = false;
        pthread_mutex_unlock(&r->wake_mu);

        if (probes)
            reload_probes(r);
        wake = tick_all(r);

        pthread_mutex_lock(&r->wake_mu);
        now = clock_wall_ms();
        if (wake != ROLLOUT_NEVER)
            wake += r->opt.settle_ms; /* let reports of the window land first */
        if (wake > now + IDLE_WAKE_MS)
            wake = now + IDLE_WAKE_MS;
        while (!r->kicked && !r->stop && clock_wall_ms() < wake) {
            struct timespec ts = {(time_t)(wake / 1000), (long)(wake % 1000) * 1000000L};
            if (pthread_cond_timedwait(&r->wake_cv, &r->wake_mu, &ts) != 0)
                break;
        }
        pthread_mutex_unlock(&r->wake_mu);
    }
}

void rollouts_kick(struct rollouts *r, bool probes_changed)
{
    pthread_mutex_lock(&r->wake_mu);
    r->kicked = true;
    r->reload_probes |= probes_changed;
    pthread_cond_broadcast(&r->wake_cv);
    pthread_mutex_unlock(&r->wake_mu);
}

roost_status rollouts_create(struct store *st, struct hub *hub, const struct rollouts_options *opt,
                             struct rollouts **out, roost_error *err)
{
    struct rollouts *r = calloc(1, sizeof *r);

    if (!r)
        return roost_error_set(err, ROOST_ENOMEM, "out of memory");
    r->store = st;
    r->hub = hub;
    r->opt = *opt;
    if (r->opt.hook_workers <= 0)
        r->opt.hook_workers = 2;
    if (r->opt.hook_workers > HOOK_WORKERS_MAX)
        r->opt.hook_workers = HOOK_WORKERS_MAX;
    if (r->opt.settle_ms < 0)
        r->opt.settle_ms = 1000;
    if (r->opt.hook_window == 0)
        r->opt.hook_window = HOOK_WINDOW_DEFAULT;
    if (r->opt.hook_window > HOOK_WINDOW_MAX)
        r->opt.hook_window = HOOK_WINDOW_MAX;
    if (r->opt.hook_drain_ms < 0)
        r->opt.hook_drain_ms = HOOK_DRAIN_DEFAULT_MS;
    if (!(r->queue = calloc(r->opt.hook_window, sizeof *r->queue)) ||
        !(r->pull_buf = calloc(r->opt.hook_window, sizeof *r->pull_buf))) {
        free(r->queue);
        free(r);
        return roost_error_set(err, ROOST_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&r->mu, NULL);
    pthread_mutex_init(&r->wake_mu, NULL);
    pthread_cond_init(&r->wake_cv, NULL);
    pthread_mutex_init(&r->q_mu, NULL);
    pthread_cond_init(&r->q_cv, NULL);
    r->reload_probes = true;
    *out = r;
    return ROOST_OK;
}

roost_status rollouts_start(struct rollouts *r, roost_error *err)
{
    roost_status rc;

    uint64_t owed;

    if ((rc = prober_create(on_probe_change, r, &r->prober, err)) != ROOST_OK)
        return rc;
    /* Rows left in the outbox were decided before roostd stopped (or
     * crashed) and never finished: they run again now. */
    if ((owed = outbox_rows(r)) > 0) {
        struct log_line l;
        log_begin(&l, LOG_INFO, "hook_outbox_resumed");
        log_u64(&l, "hooks", owed);
        log_end(&l);
    }
    pthread_mutex_lock(&r->q_mu);
    r->q_more = true;
    pthread_mutex_unlock(&r->q_mu);
    for (int i = 0; i < r->opt.hook_workers; i++) {
        if (pthread_create(&r->workers[i], NULL, hook_worker, r) != 0)
            break;
        r->nworkers++;
    }
    if (r->nworkers == 0 || pthread_create(&r->thread, NULL, controller_main, r) != 0)
        return roost_error_set(err, ROOST_EINTERNAL, "cannot start the rollout controller threads");
    r->thread_running = true;
    return ROOST_OK;
}

void rollouts_destroy(struct rollouts *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->wake_mu);
    r->stop = true;
    pthread_cond_broadcast(&r->wake_cv);
    pthread_mutex_unlock(&r->wake_mu);
    if (r->thread_running)
        pthread_join(r->thread, NULL);
    /* Hooks in the window may still start for opt.hook_drain_ms, so a
     * rollback's page usually goes out before roostd stops; those left
     * stay in the outbox and run at the next start. A hook already
     * running is not interrupted (its own timeouts bound it): cutting it
     * off would only make it run twice. */
    pthread_mutex_lock(&r->q_mu);
    r->q_stop = true;
    r->q_drain_until = clock_wall_ms() + r->opt.hook_drain_ms;
    pthread_cond_broadcast(&r->q_cv);
    pthread_mutex_unlock(&r->q_mu);
    for (int i = 0; i < r->nworkers; i++)
        pthread_join(r->workers[i], NULL);
    for (size_t i = 0; i < r->q_len; i++)
        job_free(r->queue[(r->q_head + i) % r->opt.hook_window]);
    if (r->nworkers > 0) {
        uint64_t owed = outbox_rows(r);
        if (owed > 0) {
            struct log_line l;
            log_begin(&l, LOG_INFO, "hook_outbox_kept");
            log_u64(&l, "hooks", owed);
            log_end(&l);
        }
    }
    free(r->queue);
    free(r->pull_buf);
    prober_destroy(r->prober);
    pthread_cond_destroy(&r->q_cv);
    pthread_mutex_destroy(&r->q_mu);
    pthread_cond_destroy(&r->wake_cv);
    pthread_mutex_destroy(&r->wake_mu);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

/* ---- commands and reading ------------------------------------------------- */

roost_status rollouts_command(struct rollouts *r, const char *name, const char *command,
                              const char *actor, const char *reason, roost_error *err)
{
    struct rollout_decision *d;
    struct rollout_state next;
    enum rollout_command cmd;
    struct loaded l;
    roost_status rc;

    if (!rollout_command_parse(command, &cmd))
        return roost_error_set(err, ROOST_EINVAL,
                               "unknown rollout command '%s'; expected start, pause, resume, "
                               "promote, abort or retry",
                               command);
    if (!(d = malloc(sizeof *d)))
        return roost_error_set(err, ROOST_ENOMEM, "out of memory");
    pthread_mutex_lock(&r->mu);
    for (int attempt = 0; attempt < 4; attempt++) {
        if ((rc = load(r, name, &l, err)) != ROOST_OK)
            break;
        rc = rollout_command(l.spec, &l.st, cmd, actor, clock_wall_ms(), &next, d, err);
        if (rc == ROOST_OK)
            rc = commit_decision(r, &l, &next, d, actor, reason, err);
        unload(&l);
        if (rc != ROOST_ECONFLICT || !strstr(err->msg, "changed while deciding"))
            break;
    }
    pthread_mutex_unlock(&r->mu);
    free(d);
    if (rc == ROOST_OK)
        rollouts_kick(r, false);
    return rc;
}

roost_status rollouts_history(struct store *st, const char *name, uint32_t limit,
                              uint64_t before_seq, Roost__V1__Decision ***out, size_t *n,
                              roost_error *err)
{
    return resources_history(st, ROOST__V1__SCOPE_KIND__SCOPE_KIND_ROLLOUT, name, limit,
                             before_seq, out, n, err);
}

static void describe_step(const struct rollout_spec *spec, const struct rollout_state *st,
                          char *out, size_t cap)
{
    const struct rollout_step *s;
    char dur[32];

    if (st->phase == ROLLOUT_PENDING) {
        snprintf(out, cap, "not started");
        return;
    }
    if (st->phase == ROLLOUT_PROMOTED || st->phase == ROLLOUT_ROLLED_BACK ||
        st->step >= spec->nsteps) {
        snprintf(out, cap, "%s", st->step >= spec->nsteps ? "all steps done" : "finished");
        return;
    }
    s = &spec->steps[st->step];
    switch (s->kind) {
    case ROLLOUT_STEP_SET_WEIGHT:
        snprintf(out, cap, "setWeight %u", s->weight);
        break;
    case ROLLOUT_STEP_PAUSE:
        if (s->duration_ms == ROLLOUT_PAUSE_UNTIL_PROMOTED) {
            snprintf(out, cap, "pause until promoted");
        } else {
            rollout_duration_format(s->duration_ms, dur, sizeof dur);
            snprintf(out, cap, "pause %s", dur);
        }
        break;
    case ROLLOUT_STEP_ANALYSIS:
        snprintf(out, cap, "analysis %u/%u passed (%u failed, %u inconclusive)", st->passed,
                 s->count, st->failures, st->inconclusive);
        break;
    }
}

void rollouts_info_free(Roost__V1__RolloutInfo *info)
{
    if (!info)
        return;
    for (size_t i = 0; i < info->n_recent; i++)
        roost__v1__decision__free_unpacked(info->recent[i], NULL);
    free(info->recent);
    if (info->rollout)
        roost__v1__rollout__free_unpacked(info->rollout, NULL);
    free(info->paused_reason);
    free(info->step_description);
    free(info->spec_json);
    free(info);
}

roost_status rollouts_info(struct rollouts *r, const char *name, Roost__V1__RolloutInfo **out,
                           roost_error *err)
{
    Roost__V1__RolloutInfo *info = calloc(1, sizeof *info);
    char buf[256];
    struct loaded l;
    roost_status rc;
    int64_t wake;

    if (!info)
        return roost_error_set(err, ROOST_ENOMEM, "out of memory");
    roost__v1__rollout_info__init(info);
    info->paused_reason = info->step_description = info->spec_json = NULL;
    if ((rc = load(r, name, &l, err)) != ROOST_OK) {
        free(info);
        return rc;
    }
    info->rollout = l.rec->view;
    l.rec->view = NULL;
    if (l.st.phase == ROLLOUT_PAUSED)
        snprintf(buf, sizeof buf, "%s%s%s", rollout_pause_reason_name(l.st.pause_reason),
                 l.st.detail[0] ? ": " : "", l.st.detail);
    else if (l.st.phase == ROLLOUT_ROLLED_BACK)
        snprintf(buf, sizeof buf, "%s%s%s", rollout_end_reason_name(l.st.end_reason),
                 l.st.detail[0] ? ": " : "", l.st.detail);
    else
        buf[0] = '\0';
    info->paused_reason = strdup(buf);
    info->step_started_unix_ms = l.st.step_started_ms;
    wake = rollout_next_wakeup(l.spec, &l.st, clock_wall_ms());
    info->next_decision_unix_ms = wake == ROLLOUT_NEVER ? 0 : wake;
    info->steps = (uint32_t)l.spec->nsteps;
    describe_step(l.spec, &l.st, buf, sizeof buf);
    info->step_description = strdup(buf);
    info->attempt = l.st.attempt;
    info->spec_json = malloc(l.rec->spec.len + 1);
    if (info->spec_json) {
        memcpy(info->spec_json, l.rec->spec.data, l.rec->spec.len);
        info->spec_json[l.rec->spec.len] = '\0';
    }
    unload(&l);
    if (!info->paused_reason || !info->step_description || !info->spec_json) {
        rollouts_info_free(info);
        return roost_error_set(err, ROOST_ENOMEM, "out of memory");
    }
    if ((rc = rollouts_history(r->store, name, RECENT_DECISIONS, 0, &info->recent,
                               &info->n_recent, err)) != ROOST_OK) {
        rollouts_info_free(info);
        return rc;
    }
    *out = info;
    return ROOST_OK;
}
