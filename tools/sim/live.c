/* The live driver; see live.h for what is real, what is simulated, and why
 * requests are recorded with roost_series_observe. */
#include "tools/sim/live.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "roost/v1/roost.pb-c.h"
#include "tools/lib/rpcclient.h"
#include "tools/sim/model.h"
#include "tools/sim/rng.h"

#define SLICE_NS 10000000LL        /* traffic is drawn per 10 ms of real time */
#define POLL_MS 200                /* roostd is asked for news this often */
#define PROGRESS_MS 100
#define CALL_TIMEOUT_S 5.0
#define HISTORY_LIMIT 100          /* decisions read per history call */
#define FLUSH_TIMEOUT_MS 5000
#define INTERRUPTED_FLUSH_TIMEOUT_MS 1000 /* a person (or a script) wants out */
#define CLOSE_TIMEOUT_MS 2000
#define DEFAULT_CONNECT_TIMEOUT_MS 10000

/* Stream purposes (rng.h). */
#define SALT_LIVE_TRAFFIC 0x6c69766574726166ull /* "livetraf" */
#define SALT_LIVE_OUTCOMES 0x6c6976656f757463ull /* "liveoutc" */

static const char *const METHOD_GET = "/roost.v1.Admin/GetRollout";
static const char *const METHOD_HISTORY = "/roost.v1.Admin/RolloutHistory";
static const char *const METHOD_COMMAND = "/roost.v1.Admin/RolloutCommand";

struct sim_live {
    const struct sim_scenario *sc;
    struct sim_live_options o;
    char server[256];
    struct sim_live_target target;
    struct rc_channel *admin;
    roost_client *client;
    roost_series *series[2];
    bool started;

    /* The SDK's last ERROR event, for "why is it not ready" (written on the
     * SDK's thread). */
    pthread_mutex_t mu;
    char sdk_error[256];

    /* roostd's view, from the last poll. */
    bool answers;
    char phase[32], step_description[128], paused_reason[256];
    uint32_t step, steps;

    /* Decisions. */
    uint64_t first_seq;  /* decisions with a lower seq belong to earlier runs */
    uint64_t last_seq;   /* the newest one handed to on_event */
    bool decided;        /* a promoted / rolled_back decision of this run was seen */
    int64_t end_at_ms;
    enum sim_phase end_phase;
    uint32_t weight, max_weight;
};

const char *sim_live_end_name(enum sim_live_end e)
{
    switch (e) {
    case SIM_LIVE_DECIDED:
        return "decided";
    case SIM_LIVE_TIME_UP:
        return "time_up";
    case SIM_LIVE_INTERRUPTED:
        return "interrupted";
    }
    return "?";
}

/* ---- clocks and small helpers ---------------------------------------------- */

static int64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_until_ns(int64_t t)
{
    struct timespec ts = {(time_t)(t / 1000000000LL), (long)(t % 1000000000LL)};

    /* EINTR (a signal) just ends the wait early: the caller looks at the
     * flag the handler set. */
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

static void sleep_ms(int ms)
{
    sleep_until_ns(mono_ns() + (int64_t)ms * 1000000LL);
}

static bool interrupted(const struct sim_live *l)
{
    return l->o.interrupted && *l->o.interrupted;
}

static void copy_text(char *out, size_t cap, const char *s)
{
    size_t n = s ? strlen(s) : 0;

    if (n >= cap)
        n = cap - 1;
    if (n)
        memcpy(out, s, n);
    out[n] = '\0';
}

static void note(const struct sim_live *l, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void note(const struct sim_live *l, const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    if (!l->o.on_note)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    l->o.on_note(l->o.note_user, line);
}

/* ---- admin calls ------------------------------------------------------------- */

/* An error for a failed admin call, with what to do about it. */
static roost_status call_error(const struct sim_live *l, const char *what, const struct rc_status *st,
                               roost_error *err)
{
    switch (st->code) {
    case GRPC_STATUS_UNAVAILABLE:
        if (strstr(st->message, "shutting down"))
            return roost_error_set(err, ROOST_EUNAVAIL, "roostd at %s is shutting down", l->server);
        return roost_error_set(err, ROOST_EUNAVAIL,
                               "cannot reach roostd at %s: is it running? (start it with "
                               "'roostd --listen %s', or point --server at it)",
                               l->server, l->server);
    case GRPC_STATUS_DEADLINE_EXCEEDED:
        return roost_error_set(err, ROOST_EUNAVAIL, "roostd at %s did not answer %s within %.0f s",
                               l->server, what, CALL_TIMEOUT_S);
    case GRPC_STATUS_UNAUTHENTICATED:
    case GRPC_STATUS_PERMISSION_DENIED:
        return roost_error_set(err, ROOST_EAUTH,
                               "roostd at %s refused the admin token (%s): pass --token-file or "
                               "--admin-token-file with a token from roostd's --admin-token-file",
                               l->server, st->message);
    case GRPC_STATUS_NOT_FOUND:
        return roost_error_set(err, ROOST_ENOTFOUND, "%s: %s", what, st->message);
    case GRPC_STATUS_FAILED_PRECONDITION:
        return roost_error_set(err, ROOST_ECONFLICT, "%s: %s", what, st->message);
    default:
        return roost_error_set(err, ROOST_EUNAVAIL, "%s at %s failed: %s", what, l->server,
                               st->message[0] ? st->message : "no reason given");
    }
}

static roost_status get_rollout(struct sim_live *l, Roost__V1__RolloutInfo **out, roost_error *err)
{
    Roost__V1__GetRolloutRequest req = ROOST__V1__GET_ROLLOUT_REQUEST__INIT;
    uint8_t buf[512], *resp = NULL;
    size_t len;
    struct rc_status st;

    req.name = l->target.name;
    rc_unary(l->admin, METHOD_GET, buf, roost__v1__get_rollout_request__pack(&req, buf),
             CALL_TIMEOUT_S, &resp, &len, &st);
    if (st.code != GRPC_STATUS_OK)
        return call_error(l, "reading the rollout", &st, err);
    *out = roost__v1__rollout_info__unpack(NULL, len, resp);
    free(resp);
    if (!*out || !(*out)->rollout) {
        if (*out)
            roost__v1__rollout_info__free_unpacked(*out, NULL);
        *out = NULL;
        return roost_error_set(err, ROOST_EUNAVAIL, "roostd at %s sent a rollout that cannot be decoded",
                               l->server);
    }
    return ROOST_OK;
}

static roost_status get_history(struct sim_live *l, Roost__V1__HistoryResponse **out,
                                roost_error *err)
{
    Roost__V1__HistoryRequest req = ROOST__V1__HISTORY_REQUEST__INIT;
    uint8_t buf[512], *resp = NULL;
    size_t len;
    struct rc_status st;

    req.name = l->target.name;
    req.limit = HISTORY_LIMIT;
    rc_unary(l->admin, METHOD_HISTORY, buf, roost__v1__history_request__pack(&req, buf),
             CALL_TIMEOUT_S, &resp, &len, &st);
    if (st.code != GRPC_STATUS_OK)
        return call_error(l, "reading the rollout's history", &st, err);
    *out = roost__v1__history_response__unpack(NULL, len, resp);
    free(resp);
    if (!*out)
        return roost_error_set(err, ROOST_EUNAVAIL, "roostd at %s sent a history that cannot be decoded",
                               l->server);
    return ROOST_OK;
}

static roost_status start_rollout(struct sim_live *l, roost_error *err)
{
    Roost__V1__RolloutCommandRequest req = ROOST__V1__ROLLOUT_COMMAND_REQUEST__INIT;
    Roost__V1__RolloutInfo *in;
    char reason[160];
    uint8_t buf[1024], *resp = NULL;
    size_t len;
    struct rc_status st;

    snprintf(reason, sizeof reason, "roost-sim live, scenario %s", l->sc->name);
    req.name = l->target.name;
    req.command = "start";
    req.reason = reason;
    rc_unary(l->admin, METHOD_COMMAND, buf, roost__v1__rollout_command_request__pack(&req, buf),
             CALL_TIMEOUT_S, &resp, &len, &st);
    if (st.code != GRPC_STATUS_OK)
        return call_error(l, "starting the rollout", &st, err);
    in = roost__v1__rollout_info__unpack(NULL, len, resp);
    free(resp);
    if (in)
        roost__v1__rollout_info__free_unpacked(in, NULL);
    return ROOST_OK;
}

/* ---- the scenario's rollout against roostd's -------------------------------- */

/* The canonical form of what decides (steps, analysis, promotion, gates),
 * as a cJSON object; service, versions and hooks left out. */
static cJSON *behaviour(const struct rollout_spec *spec)
{
    char *json = NULL;
    cJSON *all;

    if (rollout_spec_canonical(spec, &json, NULL, NULL) != ROOST_OK)
        return NULL;
    all = cJSON_Parse(json);
    free(json);
    return all;
}

/* A note when roostd's rollout would not decide like the scenario's. */
static void compare_specs(struct sim_live *l, const char *spec_json)
{
    static const char *const keys[] = {"steps", "analysis", "promotion", "gates"};
    struct rollout_spec *srv = calloc(1, sizeof *srv);
    cJSON *a = NULL, *b = NULL;
    roost_error err = {0};

    if (!srv)
        return;
    if (rollout_spec_parse_text(spec_json, strlen(spec_json), l->target.name, NULL, 0, srv, &err) !=
        ROOST_OK) {
        note(l, "note: roostd's rollout %s could not be compared with the scenario's (%s)",
             l->target.name, err.msg);
        free(srv);
        return;
    }
    a = behaviour(srv);
    b = behaviour(&l->sc->spec);
    rollout_spec_free(srv);
    free(srv);
    if (a && b) {
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
            const cJSON *x = cJSON_GetObjectItemCaseSensitive(a, keys[i]);
            const cJSON *y = cJSON_GetObjectItemCaseSensitive(b, keys[i]);
            if (!cJSON_Compare(x, y, true)) {
                note(l,
                     "note: roostd's rollout %s has other %s than the scenario's: roostd's decides, "
                     "and 'roost-sim virtual' of this scenario may decide differently",
                     l->target.name, keys[i]);
                break;
            }
        }
    }
    cJSON_Delete(a);
    cJSON_Delete(b);
}

/* ---- the SDK ------------------------------------------------------------------- */

static void on_sdk_event(void *user, const roost_event *ev)
{
    struct sim_live *l = user;

    if (ev->type != ROOST_EVENT_ERROR)
        return;
    pthread_mutex_lock(&l->mu);
    copy_text(l->sdk_error, sizeof l->sdk_error, ev->message);
    pthread_mutex_unlock(&l->mu);
}

static void on_sdk_log(void *user, roost_log_level level, const char *line)
{
    struct sim_live *l = user;

    (void)level;
    note(l, "sdk: %s", line);
}

static roost_status start_client(struct sim_live *l, roost_error *err)
{
    roost_client_options o;
    roost_rollout_info ri;
    uint32_t timeout = l->o.connect_timeout_ms ? l->o.connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
    int64_t deadline;
    roost_status rc;

    roost_client_options_init(&o);
    o.target = l->server;
    o.token = l->o.sdk_token;
    o.service = l->target.service[0] ? l->target.service : NULL;
    o.environment = "roost-sim";
    o.flush_interval_ms = (uint32_t)l->sc->flush_ms;
    o.close_timeout_ms = CLOSE_TIMEOUT_MS;
    o.backoff_initial_ms = 200;
    o.backoff_max_ms = 2000;
    o.on_event = on_sdk_event;
    o.event_user = l;
    o.on_log = on_sdk_log;
    o.log_user = l;
    o.log_level = ROOST_LOG_WARN;
    if ((rc = roost_client_new(&o, &l->client, err)) != ROOST_OK ||
        (rc = roost_client_start(l->client, err)) != ROOST_OK)
        return roost_error_prefix(err, "starting the C SDK: ");

    deadline = wall_ms() + timeout;
    while (roost_client_wait_ready(l->client, 100) != ROOST_OK) {
        if (interrupted(l))
            return roost_error_set(err, ROOST_ETIMEOUT, "interrupted while connecting");
        if (wall_ms() >= deadline) {
            char why[256];
            pthread_mutex_lock(&l->mu);
            copy_text(why, sizeof why, l->sdk_error[0] ? l->sdk_error : "no answer");
            pthread_mutex_unlock(&l->mu);
            return roost_error_set(err, ROOST_EUNAVAIL,
                                   "the C SDK got no configuration from roostd at %s within %.0f s "
                                   "(%s): if roostd runs with --sdk-token-file, pass --token-file "
                                   "with a token from it",
                                   l->server, timeout / 1000.0, why);
        }
    }
    /* The SDK's snapshot must hold the rollout as roostd has it now (not a
     * finished phase from before a re-apply). */
    for (;;) {
        rc = roost_rollout_status(l->client, l->target.name, &ri);
        if (rc == ROOST_OK && ri.phase != ROOST_ROLLOUT_PROMOTED && ri.phase != ROOST_ROLLOUT_ROLLED_BACK)
            break;
        if (interrupted(l))
            return roost_error_set(err, ROOST_ETIMEOUT, "interrupted while connecting");
        if (wall_ms() >= deadline)
            return roost_error_set(err, ROOST_EUNAVAIL,
                                   "the C SDK does not see rollout %s as runnable within %.0f s "
                                   "(%s)",
                                   l->target.name, timeout / 1000.0,
                                   rc == ROOST_OK ? roost_rollout_phase_name(ri.phase) : roost_strerror(rc));
        sleep_ms(20);
    }
    for (int a = 0; a < 2; a++) {
        rc = roost_series_get(l->client, ROOST_SCOPE_ROLLOUT, l->target.name,
                              roost_arm_name((roost_arm)a), "requests", &l->series[a]);
        if (rc != ROOST_OK)
            return roost_error_set(err, rc, "the C SDK refused the series of %s/%s: %s",
                                   l->target.name, roost_arm_name((roost_arm)a), roost_strerror(rc));
    }
    return ROOST_OK;
}

/* ---- open ------------------------------------------------------------------------ */

roost_status sim_live_open(const struct sim_scenario *sc, const struct sim_live_options *o,
                           struct sim_live **out, roost_error *err)
{
    struct sim_live *l;
    Roost__V1__RolloutInfo *in = NULL;
    const char *name;
    roost_status rc;

    *out = NULL;
    if (!sc || !o || !o->server || !o->server[0] || o->for_ms <= 0)
        return roost_error_set(err, ROOST_EINVAL, "sim_live_open: missing scenario, server or duration");
    name = o->rollout ? o->rollout : sc->spec.name;
    if (!rollout_name_valid(name))
        return roost_error_set(err, ROOST_EINVAL,
                               "--rollout: '%s' is not a rollout name (1-128 of A-Z a-z 0-9 . _ -)", name);
    if (strlen(o->server) >= sizeof l->server)
        return roost_error_set(err, ROOST_EINVAL, "--server: address too long");
    if (!(l = calloc(1, sizeof *l)))
        return roost_error_set(err, ROOST_ENOMEM, "out of memory");
    pthread_mutex_init(&l->mu, NULL);
    l->sc = sc;
    l->o = *o;
    copy_text(l->server, sizeof l->server, o->server);
    copy_text(l->target.name, sizeof l->target.name, name);
    l->end_phase = SIM_RUNNING;

    grpc_init();
    if ((rc = rc_channel_open(l->server, o->admin_token, &l->admin, err)) != ROOST_OK)
        goto fail;
    if ((rc = get_rollout(l, &in, err)) != ROOST_OK) {
        if (rc == ROOST_ENOTFOUND)
            roost_error_set(err, ROOST_ENOTFOUND,
                            "roostd at %s has no rollout '%s': apply the document that defines it "
                            "first (roostctl apply -f FILE)%s",
                            l->server, name, o->rollout ? "" : ", or name another with --rollout");
        goto fail;
    }
    copy_text(l->target.service, sizeof l->target.service, in->rollout->service);
    copy_text(l->target.baseline, sizeof l->target.baseline, in->rollout->baseline);
    copy_text(l->target.canary, sizeof l->target.canary, in->rollout->canary);
    copy_text(l->target.phase, sizeof l->target.phase, in->rollout->phase);
    copy_text(l->phase, sizeof l->phase, in->rollout->phase);
    l->target.steps = in->steps;
    l->target.attempt = in->attempt;
    if (strcmp(in->rollout->phase, "promoted") == 0 || strcmp(in->rollout->phase, "rolled_back") == 0) {
        rc = roost_error_set(err, ROOST_ECONFLICT,
                             "rollout %s on roostd at %s is already %s (%s -> %s): apply it with a "
                             "new canary version, or run 'roostctl rollout retry %s', then run "
                             "roost-sim again",
                             name, l->server,
                             strcmp(in->rollout->phase, "promoted") == 0 ? "promoted" : "rolled back",
                             in->rollout->baseline, in->rollout->canary, name);
        goto fail;
    }
    if (in->spec_json && in->spec_json[0])
        compare_specs(l, in->spec_json);
    roost__v1__rollout_info__free_unpacked(in, NULL);
    in = NULL;
    for (size_t i = 0; i < sc->model.nincidents; i++)
        if (sc->model.incidents[i].probe[0])
            note(l,
                 "note: live mode cannot take probe %s down: roostd probes it for real (the "
                 "outage's errors are simulated)",
                 sc->model.incidents[i].probe);
    if ((rc = start_client(l, err)) != ROOST_OK)
        goto fail;
    *out = l;
    return ROOST_OK;
fail:
    if (in)
        roost__v1__rollout_info__free_unpacked(in, NULL);
    sim_live_close(l);
    return rc;
}

const struct sim_live_target *sim_live_target(const struct sim_live *l)
{
    return &l->target;
}

/* ---- decisions ---------------------------------------------------------------------- */

static double json_num(const cJSON *o, const char *a, const char *b, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);

    v = v ? cJSON_GetObjectItemCaseSensitive(v, b) : NULL;
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

static enum sim_phase phase_of(const char *s)
{
    if (!s)
        return SIM_RUNNING;
    if (strcmp(s, "promoted") == 0)
        return SIM_PROMOTED;
    if (strcmp(s, "rolled_back") == 0)
        return SIM_ROLLED_BACK;
    if (strcmp(s, "paused") == 0)
        return SIM_PAUSED;
    return SIM_RUNNING;
}

static void handle_decision(struct sim_live *l, const Roost__V1__Decision *d)
{
    cJSON *rec = cJSON_Parse(d->details_json ? d->details_json : "");
    const cJSON *ph = rec ? cJSON_GetObjectItemCaseSensitive(rec, "phase") : NULL;
    const cJSON *to = ph ? cJSON_GetObjectItemCaseSensitive(ph, "to") : NULL;
    bool is_hook = strcmp(d->kind, "hook") == 0;
    struct sim_event ev;

    memset(&ev, 0, sizeof ev);
    ev.at_ms = d->time_unix_ms;
    ev.weight_from = (uint32_t)json_num(rec, "weight", "from", l->weight);
    ev.weight_to = (uint32_t)json_num(rec, "weight", "to", ev.weight_from);
    ev.phase = is_hook ? (l->decided ? l->end_phase : SIM_RUNNING)
                       : phase_of(cJSON_IsString(to) ? to->valuestring : NULL);
    ev.summary = d->summary;
    ev.record = d->details_json && d->details_json[0] ? d->details_json : NULL;
    ev.record_len = ev.record ? strlen(ev.record) : 0;
    if (!is_hook) {
        l->weight = ev.weight_to;
        if (ev.weight_to > l->max_weight)
            l->max_weight = ev.weight_to;
        if (strcmp(d->kind, "promoted") == 0 || strcmp(d->kind, "rolled_back") == 0) {
            l->decided = true;
            l->end_at_ms = d->time_unix_ms;
            l->end_phase = strcmp(d->kind, "promoted") == 0 ? SIM_PROMOTED : SIM_ROLLED_BACK;
        }
    }
    if (l->o.on_event)
        l->o.on_event(l->o.event_user, &ev);
    cJSON_Delete(rec);
}

/* Hands every decision newer than last_seq (and not older than first_seq)
 * to on_event, oldest first. */
static roost_status read_decisions(struct sim_live *l, roost_error *err)
{
    Roost__V1__HistoryResponse *h;
    roost_status rc;

    if ((rc = get_history(l, &h, err)) != ROOST_OK)
        return rc;
    for (size_t i = h->n_decisions; i-- > 0;) {
        const Roost__V1__Decision *d = h->decisions[i];
        if (d->seq <= l->last_seq || d->seq < l->first_seq)
            continue;
        handle_decision(l, d);
        l->last_seq = d->seq;
    }
    roost__v1__history_response__free_unpacked(h, NULL);
    return ROOST_OK;
}

/* One look at roostd: the rollout's state for progress, and any new
 * decisions. Failures only mark roostd as not answering. */
static void poll_roostd(struct sim_live *l)
{
    Roost__V1__RolloutInfo *in;
    roost_error err = {0};
    uint64_t newest;

    if (get_rollout(l, &in, &err) != ROOST_OK) {
        l->answers = false;
        return;
    }
    l->answers = true;
    copy_text(l->phase, sizeof l->phase, in->rollout->phase);
    copy_text(l->step_description, sizeof l->step_description, in->step_description);
    copy_text(l->paused_reason, sizeof l->paused_reason, in->paused_reason);
    l->step = in->rollout->step;
    l->steps = in->steps;
    newest = in->n_recent ? in->recent[0]->seq : 0;
    roost__v1__rollout_info__free_unpacked(in, NULL);
    if (newest > l->last_seq && read_decisions(l, &err) != ROOST_OK)
        l->answers = false;
}

/* ---- start ---------------------------------------------------------------------------- */

roost_status sim_live_start(struct sim_live *l, roost_error *err)
{
    Roost__V1__HistoryResponse *h;
    const Roost__V1__Decision *started = NULL;
    uint64_t newest = 0;
    roost_status rc;

    if (strcmp(l->target.phase, "pending") == 0) {
        if ((rc = start_rollout(l, err)) != ROOST_OK)
            return rc;
        l->target.started_here = true;
    }
    /* t = 0 is the newest "started" decision: the one just made, or the
     * start of the attempt being joined. */
    if ((rc = get_history(l, &h, err)) != ROOST_OK)
        return rc;
    for (size_t i = 0; i < h->n_decisions; i++) {
        const Roost__V1__Decision *d = h->decisions[i];
        if (d->seq > newest)
            newest = d->seq;
        if (!started && strcmp(d->kind, "started") == 0)
            started = d;
    }
    if (started) {
        l->target.t0_ms = started->time_unix_ms;
        l->first_seq = started->seq;
        l->last_seq = started->seq - 1;
    } else {
        /* Its start is further back than the history read: from now on. */
        l->target.t0_ms = wall_ms();
        l->first_seq = newest + 1;
        l->last_seq = newest;
    }
    roost__v1__history_response__free_unpacked(h, NULL);
    l->started = true;
    return ROOST_OK;
}

/* ---- the run ---------------------------------------------------------------------------- */

static void progress(struct sim_live *l, int64_t t_ms, const struct sim_live_result *r)
{
    struct sim_live_progress p;
    roost_rollout_info ri;

    if (!l->o.on_progress)
        return;
    memset(&p, 0, sizeof p);
    p.t_ms = t_ms;
    memcpy(p.requests, r->requests, sizeof p.requests);
    memcpy(p.errors, r->errors, sizeof p.errors);
    p.weight_bp = roost_rollout_status(l->client, l->target.name, &ri) == ROOST_OK ? ri.canary_weight_bp : 0;
    p.phase = l->phase;
    p.step = l->step;
    p.steps = l->steps;
    p.step_description = l->step_description;
    p.paused_reason = l->paused_reason;
    p.roostd_answers = l->answers;
    p.sdk_state = roost_client_get_state(l->client);
    l->o.on_progress(l->o.progress_user, &p);
}

/* True once the SDK routes on a finished rollout: the decision is made
 * (its record is read next). */
static bool sdk_sees_end(struct sim_live *l)
{
    roost_rollout_info ri;

    if (roost_rollout_status(l->client, l->target.name, &ri) != ROOST_OK)
        return false;
    return ri.phase == ROOST_ROLLOUT_PROMOTED || ri.phase == ROOST_ROLLOUT_ROLLED_BACK;
}

roost_status sim_live_run(struct sim_live *l, struct sim_live_result *out, roost_error *err)
{
    const struct sim_scenario *sc = l->sc;
    struct sim_traffic_gen gen;
    sim_rng traffic, outcomes;
    int64_t start_ns, last_ns, next_ns, next_poll_ns, next_progress_ns, deadline_ns;
    int64_t t0 = l->target.t0_ms, end_seen_ns = 0;
    roost_rollout_info ri;

    memset(out, 0, sizeof *out);
    if (!l->started)
        return roost_error_set(err, ROOST_EINVAL, "sim_live_run before sim_live_start");
    if (roost_rollout_status(l->client, l->target.name, &ri) == ROOST_OK)
        l->weight = l->max_weight = ri.canary_weight_bp / 100;
    sim_traffic_gen_init(&gen, &sc->model.traffic, l->o.seed);
    sim_rng_derive(&traffic, l->o.seed, 0, SALT_LIVE_TRAFFIC);
    sim_rng_derive(&outcomes, l->o.seed, 0, SALT_LIVE_OUTCOMES);

    /* Decisions made before the traffic began (the start itself, a joined
     * rollout's earlier steps). */
    poll_roostd(l);
    start_ns = last_ns = next_ns = mono_ns();
    next_poll_ns = start_ns + POLL_MS * 1000000LL;
    next_progress_ns = start_ns;
    deadline_ns = start_ns + l->o.for_ms * 1000000LL;
    out->end = SIM_LIVE_TIME_UP;

    for (;;) {
        int64_t now_ns = mono_ns(), t_ms = wall_ms() - t0;
        double dt = (double)(now_ns - last_ns) / 1e9;
        struct sim_arm_now arm[2];
        uint64_t n;

        if (interrupted(l)) {
            out->end = SIM_LIVE_INTERRUPTED;
            break;
        }
        if (l->decided) {
            out->end = SIM_LIVE_DECIDED;
            break;
        }
        if (now_ns >= deadline_ns)
            break;
        /* The traffic of the time since the last slice: Poisson arrivals
         * at the shape's rate now (at most a second's worth after a stall). */
        if (dt > 1.0)
            dt = 1.0;
        last_ns = now_ns;
        if (t_ms < 0)
            t_ms = 0;
        n = end_seen_ns ? 0 : sim_poisson(&traffic, sim_traffic_rate_at(&gen, t_ms) * dt);
        sim_model_arm_at(&sc->model, ROLLOUT_ARM_BASELINE, t_ms, &arm[ROLLOUT_ARM_BASELINE]);
        sim_model_arm_at(&sc->model, ROLLOUT_ARM_CANARY, t_ms, &arm[ROLLOUT_ARM_CANARY]);
        for (uint64_t i = 0; i < n; i++) {
            roost_arm a = roost_route(l->client, l->target.name, NULL, NULL);
            int k = a == ROOST_ARM_CANARY ? ROLLOUT_ARM_CANARY : ROLLOUT_ARM_BASELINE;
            bool failed = arm[k].error_p > 0 && sim_uniform(&outcomes) < arm[k].error_p;
            double latency = sim_latency_draw(&outcomes, &arm[k]);

            /* ELIMIT (the SDK's memory or series limit) is counted by the
             * SDK as dropped and shows in its stats. */
            (void)roost_series_observe(l->series[a], latency, !failed);
            out->requests[k]++;
            out->errors[k] += failed;
            out->outcome.requests++;
            if (k == ROLLOUT_ARM_CANARY && (sc->onset_ms < 0 || t_ms >= sc->onset_ms)) {
                out->outcome.canary_requests++;
                out->outcome.canary_errors += failed;
                out->outcome.excess_errors += (failed ? 1.0 : 0.0) - arm[ROLLOUT_ARM_BASELINE].error_p;
            }
        }
        /* The SDK hears of a promotion or rollback within milliseconds: stop
         * sending at once, and read the deciding record now. */
        if (!end_seen_ns && sdk_sees_end(l)) {
            end_seen_ns = now_ns;
            next_poll_ns = now_ns;
        }
        if (now_ns >= next_poll_ns) {
            poll_roostd(l);
            next_poll_ns = mono_ns() + POLL_MS * 1000000LL;
            /* The record normally follows the stream at once; if roostd's
             * history does not show it within 5 s, stop anyway. */
            if (end_seen_ns && !l->decided && now_ns - end_seen_ns > 5000000000LL) {
                out->end = SIM_LIVE_DECIDED;
                l->decided = true;
                l->end_at_ms = wall_ms();
                l->end_phase = roost_rollout_status(l->client, l->target.name, &ri) == ROOST_OK &&
                                       ri.phase == ROOST_ROLLOUT_PROMOTED
                                   ? SIM_PROMOTED
                                   : SIM_ROLLED_BACK;
            }
        }
        if (now_ns >= next_progress_ns) {
            progress(l, t_ms, out);
            next_progress_ns = now_ns + PROGRESS_MS * 1000000LL;
        }
        next_ns += SLICE_NS;
        if (next_ns < now_ns - 1000000000LL)
            next_ns = now_ns; /* far behind (the machine stalled): do not race to catch up */
        sleep_until_ns(next_ns);
    }
    out->traffic_ms = (mono_ns() - start_ns) / 1000000;

    /* Deliver what was observed, then one more look for the records that
     * follow a decision (hooks). */
    out->flushed = roost_client_flush(l->client,
                                      interrupted(l) ? INTERRUPTED_FLUSH_TIMEOUT_MS : FLUSH_TIMEOUT_MS,
                                      NULL) == ROOST_OK;
    if (!interrupted(l))
        poll_roostd(l);
    roost_client_get_stats(l->client, &out->sdk);

    /* Not decided: still running, or paused (for a person, or by a gate). */
    out->outcome.phase = l->decided ? l->end_phase : phase_of(l->phase);
    out->outcome.end_ms = l->decided ? l->end_at_ms - t0 : wall_ms() - t0;
    if (out->outcome.end_ms < 0)
        out->outcome.end_ms = 0;
    out->outcome.weight = l->weight;
    out->outcome.max_weight = l->max_weight > l->weight ? l->max_weight : l->weight;
    return ROOST_OK;
}

void sim_live_close(struct sim_live *l)
{
    if (!l)
        return;
    /* Outcomes it could not deliver are the SDK's own warning (on_note). */
    if (l->client)
        (void)roost_client_close(l->client, NULL);
    if (l->admin)
        rc_channel_close(l->admin);
    grpc_shutdown();
    pthread_mutex_destroy(&l->mu);
    free(l);
}
