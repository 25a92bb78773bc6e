/* The experiment controller. See experiments.h.
 *
 * Exposures are the "exposure" metric the SDKs report per arm (one per
 * unit per reporting interval, deduplicated in the SDK); outcomes are the
 * metrics the spec names, per arm. Both are read from the start of the
 * experiment to now, so every look sees all the data: the always-valid
 * tests are built for exactly that.
 *
 * One mutex serializes looks and commands, so a stopping rule and a
 * person's command never act on the same state twice.
 */
#include "experiments.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "change.h"
#include "clock.h"
#include "experiment/analysis.h"
#include "experiment/spec.h"
#include "flags.h"
#include "log.h"
#include "metrics_query.h"
#include "resources.h"
#include "roost/storage/v1/storage.pb-c.h"

#define EXPOSURE_METRIC "exposure"
#define RECENT_DECISIONS 20
/* Sketches are not read by the analysis; the smallest capacity will do. */
#define AGG_SKETCH_CAP 2

struct experiments {
    struct store *store;
    struct hub *hub;
    int64_t interval_ms;
    pthread_mutex_t mu;
    pthread_mutex_t wake_mu;
    pthread_cond_t wake_cv;
    bool stop;
    pthread_t thread;
    bool running;
};

static void log_error(const char *event, const char *name, const char *msg)
{
    struct log_line l;

    log_begin(&l, LOG_ERROR, event);
    log_str(&l, "experiment", name);
    log_str(&l, "error", msg);
    log_end(&l);
}

struct loaded {
    Roost__Storage__V1__ExperimentRecord *rec;
    struct experiment_spec spec;
};

static roost_status load(struct experiments *x, const char *name, struct loaded *l,
                         roost_error *err)
{
    struct store_txn t;
    roost_status rc;

    memset(l, 0, sizeof *l);
    if ((rc = store_begin(x->store, false, &t, err)) != ROOST_OK)
        return rc;
    rc = resources_get_experiment(&t, name, &l->rec, err);
    store_abort(&t);
    if (rc != ROOST_OK)
        return rc;
    if ((rc = experiment_spec_parse_text((const char *)l->rec->spec.data, l->rec->spec.len, name,
                                         NULL, 0, &l->spec, err)) != ROOST_OK) {
        roost__storage__v1__experiment_record__free_unpacked(l->rec, NULL);
        l->rec = NULL;
        roost_error_prefix(err, "stored experiment %s: ", name);
    }
    return rc;
}

static void unload(struct loaded *l)
{
    if (l->rec)
        roost__storage__v1__experiment_record__free_unpacked(l->rec, NULL);
    l->rec = NULL;
}

/* Where the window of everything observed since the start begins. A window
 * takes only the stored rows that begin inside it, and a row begins before
 * the start second in three ways:
 *  - the minute row of the start's minute;
 *  - a minute row of an earlier minute: rows are filed under the minute the
 *    SDK's reporting interval started in, and an interval (up to a minute,
 *    roost_client_options.flush_interval_ms) may have begun before the
 *    experiment did and hold exposures logged after it;
 *  - the hour row of the start's hour: minute rows older than the minute
 *    retention (14 days by default, less than the default maxDuration) are
 *    rolled into hour rows.
 * So the window begins at the hour that holds the minute before the start.
 * Nothing earlier in it is the experiment's: SDKs record exposures and
 * tracked outcomes only while it runs (unless an experiment of the same name
 * was removed and applied again within that hour). */
static int64_t window_start_s(int64_t started_unix_ms)
{
    int64_t s = started_unix_ms / 1000 - 60;

    return s > 0 ? s - s % 3600 : 0;
}

/* One look: the analysis of everything observed since the start. *json is
 * the analysis JSON (malloc'd); *a is filled when a is not NULL. */
static roost_status look(struct experiments *x, const struct loaded *l, int64_t now,
                         struct experiment_analysis *a, char **json, roost_error *err)
{
    const struct experiment_spec *spec = &l->spec;
    size_t narms = spec->narms, nm = spec->nmetrics;
    uint64_t exposures[EXPERIMENT_MAX_ARMS] = {0};
    struct experiment_agg *aggs = calloc(nm * narms + 1, sizeof *aggs);
    roost_sketch_bucket buckets[METRICS_AGG_BUCKETS(AGG_SKETCH_CAP)];
    struct experiment_observations obs;
    struct experiment_state prev, *prevp = NULL;
    struct metrics_agg agg;
    struct store_txn t;
    int64_t from_s = window_start_s(l->rec->started_unix_ms), to_s = now / 1000 + 1;
    cJSON *out = NULL;
    roost_status rc;

    if (!aggs)
        return roost_error_set(err, ROOST_ENOMEM, "out of memory");
    if ((rc = metrics_agg_init(&agg, buckets, AGG_SKETCH_CAP, err)) != ROOST_OK ||
        (rc = store_begin(x->store, false, &t, err)) != ROOST_OK) {
        free(aggs);
        return rc;
    }
    for (size_t arm = 0; arm < narms && rc == ROOST_OK; arm++) {
        struct metrics_selector sel = {ROOST__V1__SCOPE_KIND__SCOPE_KIND_EXPERIMENT,
                                       spec->name, spec->arms[arm].name, EXPOSURE_METRIC,
                                       NULL, NULL, NULL};
        if (to_s > from_s && (rc = metrics_window_txn(&t, &sel, from_s, to_s, &agg, err)) == ROOST_OK)
            exposures[arm] = agg.count;
        for (size_t m = 0; m < nm && rc == ROOST_OK; m++) {
            struct experiment_agg *e = &aggs[m * narms + arm];
            sel.metric = spec->metrics[m].metric;
            if (to_s <= from_s)
                continue;
            if ((rc = metrics_window_txn(&t, &sel, from_s, to_s, &agg, err)) != ROOST_OK)
                break;
            e->count = agg.count;
            e->successes = agg.successes;
            e->sum = agg.sum;
            e->sum_squares = agg.sum_squares;
        }
    }
    store_abort(&t);
    if (rc == ROOST_OK && l->rec->analysis_json[0]) {
        cJSON *j = cJSON_Parse(l->rec->analysis_json);
        if (j && experiment_state_from_json(spec, j, &prev, NULL) == ROOST_OK)
            prevp = &prev;
        cJSON_Delete(j);
    }
    obs.exposures = exposures;
    obs.aggs = aggs;
    obs.elapsed_ms = now > l->rec->started_unix_ms ? now - l->rec->started_unix_ms : 0;
    if (rc == ROOST_OK && (rc = experiment_analyze(spec, &obs, prevp, a, err)) == ROOST_OK &&
        (rc = experiment_analysis_to_json(spec, a, &out, err)) == ROOST_OK) {
        *json = cJSON_PrintUnformatted(out);
        if (!*json)
            rc = roost_error_set(err, ROOST_ENOMEM, "out of memory");
    }
    cJSON_Delete(out);
    free(aggs);
    return rc;
}

/* Writes the record (phase, times, analysis) and, when the phase changed,
 * a decision record and the change SDKs see. */
static roost_status commit(struct experiments *x, struct loaded *l, const char *phase,
                           const char *analysis_json, const char *kind, const char *actor,
                           const char *summary, roost_error *err)
{
    Roost__Storage__V1__ExperimentRecord rec = *l->rec;
    Roost__V1__Experiment view = *l->rec->view;
    bool phase_changed = strcmp(phase, view.phase) != 0;
    struct store_txn t;
    roost_status rc;

    if ((rc = store_begin(x->store, true, &t, err)) != ROOST_OK)
        return rc;
    view.phase = (char *)phase;
    if (phase_changed)
        view.revision = t.next_revision;
    rec.view = &view;
    if (analysis_json)
        rec.analysis_json = (char *)analysis_json;
    if (kind) {
        Roost__V1__Decision d = ROOST__V1__DECISION__INIT;
        d.time_unix_ms = clock_wall_ms();
        d.scope_kind = ROOST__V1__SCOPE_KIND__SCOPE_KIND_EXPERIMENT;
        d.scope_key = rec.name;
        d.actor = (char *)actor;
        d.kind = (char *)kind;
        d.summary = (char *)summary;
        d.details_json = (char *)(analysis_json ? analysis_json : rec.analysis_json);
        d.revision = phase_changed ? t.next_revision : 0;
        if ((rc = resources_put_decision(&t, &d, err)) != ROOST_OK) {
            store_abort(&t);
            return rc;
        }
    }
    if ((rc = resources_put_experiment(&t, &rec, err)) != ROOST_OK) {
        store_abort(&t);
        return rc;
    }
    if (phase_changed) {
        Roost__V1__ChangeEvent ev = ROOST__V1__CHANGE_EVENT__INIT;
        Roost__V1__Experiment *views[1] = {&view};
        Roost__V1__Flag *flag = NULL;
        bool running = strcmp(phase, "running") == 0;

        /* The flag's split rule is served only while the experiment runs:
         * the flag changes in the same change as the phase, so no client
         * ever sees a running experiment without its split or a stopped one
         * still splitting. */
        if (rec.auto_split && running != (strcmp(l->rec->view->phase, "running") == 0) &&
            (rc = flags_put_program(&t, view.flag, running ? rec.running_source : rec.idle_source,
                                    running ? rec.running_program.data : rec.idle_program.data,
                                    running ? rec.running_program.len : rec.idle_program.len,
                                    running, &flag, err)) != ROOST_OK) {
            store_abort(&t);
            return rc;
        }
        ev.n_experiments = 1;
        ev.experiments = views;
        ev.n_upserted = flag ? 1 : 0;
        ev.upserted = &flag;
        ev.actor = (char *)actor;
        ev.flag_set = rec.flag_set;
        rc = change_commit(&t, x->hub, &ev, err);
        if (flag)
            roost__v1__flag__free_unpacked(flag, NULL);
    } else {
        rc = store_commit(&t, err);
    }
    if (rc == ROOST_OK && kind) {
        struct log_line lg;
        log_begin(&lg, LOG_INFO, "experiment_decision");
        log_str(&lg, "experiment", rec.name);
        log_str(&lg, "decision", kind);
        log_str(&lg, "actor", actor);
        log_str(&lg, "summary", summary);
        log_end(&lg);
    }
    return rc;
}

/* The verdict in one line for records. */
static void verdict_line(const struct experiment_spec *spec, const struct experiment_analysis *a,
                         char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s: %s", experiment_action_name(a->action),
                     experiment_conclusion_name(a->conclusion));
    if (a->ship_arm >= 0 && (size_t)a->ship_arm < spec->narms && n > 0 && (size_t)n < cap)
        n += snprintf(out + n, cap - (size_t)n, " %s", spec->arms[a->ship_arm].name);
    if (a->nreasons && n > 0 && (size_t)n < cap)
        snprintf(out + n, cap - (size_t)n, " — %s", a->reasons[0]);
}

/* A look at a running experiment, stored; stops it when a stopping rule
 * says so. Holds x->mu. */
static void tick_one(struct experiments *x, const char *name)
{
    struct experiment_analysis *a = malloc(sizeof *a);
    struct loaded l;
    roost_error err;
    char *json = NULL, line[700], summary[800];

    if (!a)
        return;
    if (load(x, name, &l, &err) != ROOST_OK) {
        if (err.code != ROOST_ENOTFOUND)
            log_error("experiment_unreadable", name, err.msg);
        free(a);
        return;
    }
    if (strcmp(l.rec->view->phase, "running") != 0) {
        unload(&l);
        free(a);
        return;
    }
    if (look(x, &l, clock_wall_ms(), a, &json, &err) != ROOST_OK) {
        log_error("experiment_analysis_failed", name, err.msg);
    } else if (a->action == EXPERIMENT_STOP || a->action == EXPERIMENT_STOP_NOW) {
        verdict_line(&l.spec, a, line, sizeof line);
        snprintf(summary, sizeof summary, "by the %s rule: %s",
                 a->harm ? "harm" : a->early_stop ? "early-win" : "end", line);
        l.rec->stopped_unix_ms = clock_wall_ms();
        if (commit(x, &l, "stopped", json, "stopped", "controller", summary, &err) != ROOST_OK)
            log_error("experiment_not_stopped", name, err.msg);
    } else if (commit(x, &l, "running", json, NULL, NULL, NULL, &err) != ROOST_OK) {
        log_error("experiment_analysis_not_stored", name, err.msg);
    }
    free(json);
    unload(&l);
    free(a);
}

roost_status experiments_names(struct experiments *x, char ***names, size_t *n, roost_error *err)
{
    return resources_names(x->store, TBL_EXPERIMENTS, names, n, err);
}

static void *controller_main(void *arg)
{
    struct experiments *x = arg;

    for (;;) {
        struct timespec ts;
        char **names;
        size_t n;
        roost_error err;

        if (experiments_names(x, &names, &n, &err) == ROOST_OK) {
            for (size_t i = 0; i < n; i++) {
                pthread_mutex_lock(&x->mu);
                tick_one(x, names[i]);
                pthread_mutex_unlock(&x->mu);
                free(names[i]);
            }
            free(names);
        }
        pthread_mutex_lock(&x->wake_mu);
        ts = clock_deadline_ms(x->interval_ms);
        while (!x->stop && pthread_cond_timedwait(&x->wake_cv, &x->wake_mu, &ts) == 0)
            ;
        if (x->stop) {
            pthread_mutex_unlock(&x->wake_mu);
            return NULL;
        }
        pthread_mutex_unlock(&x->wake_mu);
    }
}

roost_status experiments_create(struct store *st, struct hub *hub, int64_t interval_ms,
                                struct experiments **out, roost_error *err)
{
    struct experiments *x = calloc(1, sizeof *x);

    if (!x)
        return roost_error_set(err, ROOST_ENOMEM, "out of memory");
    x->store = st;
    x->hub = hub;
    x->interval_ms = interval_ms > 0 ? interval_ms : 60000;
    pthread_mutex_init(&x->mu, NULL);
    pthread_mutex_init(&x->wake_mu, NULL);
    pthread_cond_init(&x->wake_cv, NULL);
    *out = x;
    return ROOST_OK;
}

roost_status experiments_start(struct experiments *x, roost_error *err)
{
    if (pthread_create(&x->thread, NULL, controller_main, x) != 0)
        return roost_error_set(err, ROOST_EINTERNAL, "cannot start the experiment controller");
    x->running = true;
    return ROOST_OK;
}

void experiments_destroy(struct experiments *x)
{
    if (!x)
        return;
    pthread_mutex_lock(&x->wake_mu);
    x->stop = true;
    pthread_cond_broadcast(&x->wake_cv);
    pthread_mutex_unlock(&x->wake_mu);
    if (x->running)
        pthread_join(x->thread, NULL);
    pthread_cond_destroy(&x->wake_cv);
    pthread_mutex_destroy(&x->wake_mu);
    pthread_mutex_destroy(&x->mu);
    free(x);
}

/* The last analysis says a sample-ratio mismatch. */
static bool srm_flagged(const char *analysis_json)
{
    cJSON *j = cJSON_Parse(analysis_json);
    const cJSON *srm = j ? cJSON_GetObjectItemCaseSensitive(j, "srm") : NULL;
    bool flagged = srm && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(srm, "mismatch"));

    cJSON_Delete(j);
    return flagged;
}

roost_status experiments_command(struct experiments *x, const char *name, const char *command,
                                 const char *conclusion, const char *arm, const char *actor,
                                 const char *reason, roost_error *err)
{
    struct experiment_analysis *a = malloc(sizeof *a);
    struct loaded l;
    const char *phase, *next = NULL;
    char summary[1400], line[700], *json = NULL, *saved_conclusion, *saved_arm;
    bool running;
    roost_status rc;

    if (!a)
        return roost_error_set(err, ROOST_ENOMEM, "out of memory");
    pthread_mutex_lock(&x->mu);
    if ((rc = load(x, name, &l, err)) != ROOST_OK)
        goto out_unlocked_free;
    saved_conclusion = l.rec->conclusion;
    saved_arm = l.rec->ship_arm;
    phase = l.rec->view->phase;
    running = strcmp(phase, "running") == 0;
    if (strcmp(command, "start") == 0) {
        if (strcmp(phase, "draft") != 0 && strcmp(phase, "stopped") != 0) {
            rc = roost_error_set(err, ROOST_ECONFLICT, "%s is %s; only a draft or stopped "
                                 "experiment can start", name, phase);
            goto out;
        }
        if (l.rec->started_unix_ms == 0)
            l.rec->started_unix_ms = clock_wall_ms();
        l.rec->stopped_unix_ms = 0;
        next = "running";
        snprintf(summary, sizeof summary, "%s (flag %s, %zu arms)", l.spec.hypothesis,
                 l.spec.flag, l.spec.narms);
    } else if (strcmp(command, "stop") == 0 || strcmp(command, "conclude") == 0) {
        bool conclude = command[0] == 'c';
        if (strcmp(phase, "concluded") == 0 || strcmp(phase, "draft") == 0 ||
            (!conclude && !running)) {
            rc = roost_error_set(err, ROOST_ECONFLICT, "%s is %s; nothing to %s", name, phase,
                                 command);
            goto out;
        }
        /* The record holds the numbers the decision was made on: a fresh
         * look when the data is still coming in. */
        if (running && (rc = look(x, &l, clock_wall_ms(), a, &json, err)) != ROOST_OK)
            goto out;
        if (running)
            l.rec->stopped_unix_ms = clock_wall_ms();
        if (!conclude) {
            next = "stopped";
            verdict_line(&l.spec, a, line, sizeof line);
            snprintf(summary, sizeof summary, "the analysis says %s", line);
        } else {
            const char *c = conclusion ? conclusion : "";
            if (strcmp(c, "ship") == 0) {
                if (!arm || experiment_spec_arm(&l.spec, arm) < 0) {
                    rc = roost_error_set(err, ROOST_EINVAL,
                                         "conclude ship: which arm? give --arm with one of the "
                                         "experiment's arms");
                    goto out;
                }
                if (srm_flagged(json ? json : l.rec->analysis_json)) {
                    rc = roost_error_set(err, ROOST_ECONFLICT,
                                         "%s has a sample-ratio mismatch (p < 0.001): the split "
                                         "is broken and its results cannot be trusted; conclude "
                                         "inconclusive or roll_back, and fix the assignment",
                                         name);
                    goto out;
                }
            } else if (strcmp(c, "roll_back") != 0 && strcmp(c, "inconclusive") != 0) {
                rc = roost_error_set(err, ROOST_EINVAL,
                                     "conclude: '%s' is not a conclusion; expected ship, "
                                     "roll_back or inconclusive",
                                     c);
                goto out;
            }
            l.rec->conclusion = (char *)c;
            l.rec->ship_arm = (char *)(strcmp(c, "ship") == 0 ? arm : "");
            next = "concluded";
            if (c[0] == 's')
                snprintf(summary, sizeof summary,
                         "ship %s (the flag serves the control until %s's defaultVariant is "
                         "\"%s\" in the document: change it and apply)",
                         arm, l.spec.flag, arm);
            else
                snprintf(summary, sizeof summary, "%s", c);
        }
    } else {
        rc = roost_error_set(err, ROOST_EINVAL,
                             "unknown experiment command '%s'; expected start, stop or conclude",
                             command);
        goto out;
    }
    if (reason && reason[0]) {
        size_t n = strlen(summary);
        snprintf(summary + n, sizeof summary - n, " (%s)", reason);
    }
    rc = commit(x, &l, next, json, next, actor, summary, err);
out:
    /* conclusion and ship_arm may point at the caller's strings now: put
     * back the record's own before it is freed. */
    l.rec->conclusion = saved_conclusion;
    l.rec->ship_arm = saved_arm;
    unload(&l);
out_unlocked_free:
    pthread_mutex_unlock(&x->mu);
    free(json);
    free(a);
    return rc;
}

void experiments_info_free(Roost__V1__ExperimentInfo *info)
{
    if (!info)
        return;
    for (size_t i = 0; i < info->n_recent; i++)
        roost__v1__decision__free_unpacked(info->recent[i], NULL);
    free(info->recent);
    if (info->experiment)
        roost__v1__experiment__free_unpacked(info->experiment, NULL);
    free(info->hypothesis);
    free(info->conclusion);
    free(info->ship_arm);
    free(info->analysis_json);
    free(info->spec_json);
    free(info);
}

roost_status experiments_info(struct experiments *x, const char *name, bool analyze,
                              Roost__V1__ExperimentInfo **out, roost_error *err)
{
    Roost__V1__ExperimentInfo *info = calloc(1, sizeof *info);
    struct loaded l;
    roost_status rc;

    if (!info)
        return roost_error_set(err, ROOST_ENOMEM, "out of memory");
    if (analyze) {
        pthread_mutex_lock(&x->mu);
        tick_one(x, name); /* a fresh look (and the stopping rules) when running */
        pthread_mutex_unlock(&x->mu);
    }
    if ((rc = load(x, name, &l, err)) != ROOST_OK) {
        free(info);
        return rc;
    }
    roost__v1__experiment_info__init(info);
    info->experiment = l.rec->view;
    l.rec->view = NULL;
    info->hypothesis = strdup(l.spec.hypothesis);
    info->started_unix_ms = l.rec->started_unix_ms;
    info->stopped_unix_ms = l.rec->stopped_unix_ms;
    info->conclusion = strdup(l.rec->conclusion);
    info->ship_arm = strdup(l.rec->ship_arm);
    info->analysis_json = strdup(l.rec->analysis_json);
    info->spec_json = malloc(l.rec->spec.len + 1);
    if (info->spec_json) {
        memcpy(info->spec_json, l.rec->spec.data, l.rec->spec.len);
        info->spec_json[l.rec->spec.len] = '\0';
    }
    unload(&l);
    if (!info->hypothesis || !info->conclusion || !info->ship_arm || !info->analysis_json ||
        !info->spec_json) {
        experiments_info_free(info);
        return roost_error_set(err, ROOST_ENOMEM, "out of memory");
    }
    if ((rc = resources_history(x->store, ROOST__V1__SCOPE_KIND__SCOPE_KIND_EXPERIMENT, name,
                                RECENT_DECISIONS, 0, &info->recent, &info->n_recent, err)) !=
        ROOST_OK) {
        experiments_info_free(info);
        return rc;
    }
    *out = info;
    return ROOST_OK;
}
