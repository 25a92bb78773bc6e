/* The public client facade (include/roost/client.h): lifecycle, state,
 * evaluation through the current snapshot, and outcome recording.
 * Routing lives in route.c, experiments in experiment.c, probes in probe.c.
 *
 * Evaluation path, on the caller's thread: claim a hazard slot for the
 * current snapshot (hazard.h), look the key up in the engine's flag set,
 * evaluate with the engine, copy whatever the caller keeps (variant name,
 * string values) out of the snapshot, release the slot. No lock, no
 * allocation, no wait on the background thread; the only shared write is
 * the slot's compare-and-swap. When an experiment runs, one more array
 * read tells whether the flag is its flag; only then does the evaluation
 * go on to exposure logging (experiment.c).
 *
 * Lifecycle: new (validate and copy options; nothing runs) -> start (load
 * the cache, start the background thread) -> close (the thread flushes
 * outcomes, writes the cache and exits; then everything is freed here).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <grpc/grpc.h>

#include "cache.h"
#include "client_internal.h"
#include "prims.h"
#include "sync.h"
#include "wire.h"

/* ---- names -------------------------------------------------------------- */

const char *roost_client_state_name(roost_client_state state)
{
    switch (state) {
    case ROOST_STATE_NOT_READY: return "NOT_READY";
    case ROOST_STATE_READY: return "READY";
    case ROOST_STATE_STALE: return "STALE";
    case ROOST_STATE_CLOSED: return "CLOSED";
    }
    return "UNKNOWN";
}

const char *roost_event_type_name(roost_event_type type)
{
    switch (type) {
    case ROOST_EVENT_READY: return "READY";
    case ROOST_EVENT_STALE: return "STALE";
    case ROOST_EVENT_ERROR: return "ERROR";
    case ROOST_EVENT_CONFIGURATION_CHANGED: return "CONFIGURATION_CHANGED";
    }
    return "UNKNOWN";
}

/* ---- internal helpers shared with the other files ----------------------- */

void sdk_log(const struct roost_client *c, roost_log_level level, const char *fmt, ...)
{
    static const char *const names[] = {"debug", "info", "warning", "error"};
    char line[1024];
    va_list ap;

    if (level < c->opt.log_level)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (c->opt.on_log)
        c->opt.on_log(c->opt.log_user, level, line);
    else
        fprintf(stderr, "roost: %s: %s\n", names[level <= ROOST_LOG_ERROR ? level : 3], line);
}

void sdk_set_state(struct roost_client *c, roost_client_state s)
{
    pthread_mutex_lock(&c->mu);
    atomic_store(&c->state, (int)s);
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

void sdk_emit(struct roost_client *c, roost_event_type type, roost_status status,
              const struct sdk_changes *changes, const char *fmt, ...)
{
    const struct sdk_snapshot *s = hazard_current(&c->hz);
    char message[ROOST_ERROR_MSG_MAX];
    roost_event ev;
    va_list ap;

    if (!c->opt.on_event)
        return;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    memset(&ev, 0, sizeof ev);
    ev.type = type;
    ev.state = (roost_client_state)atomic_load(&c->state);
    ev.revision = atomic_load(&c->revision);
    ev.from_cache = s && s->from_cache;
    ev.status = status;
    ev.message = message;
    if (changes) {
        ev.keys = changes->list[0];
        ev.nkeys = changes->n[0];
        ev.rollouts = changes->list[1 + SDK_ROLLOUTS];
        ev.nrollouts = changes->n[1 + SDK_ROLLOUTS];
        ev.probes = changes->list[1 + SDK_PROBES];
        ev.nprobes = changes->n[1 + SDK_PROBES];
        ev.experiments = changes->list[1 + SDK_EXPERIMENTS];
        ev.nexperiments = changes->n[1 + SDK_EXPERIMENTS];
    }
    c->opt.on_event(c->opt.event_user, &ev);
}

static void free_snapshot(void *obj, void *user)
{
    (void)user;
    snapshot_free(obj);
}

void sdk_publish(struct roost_client *c, struct sdk_snapshot *s)
{
    hazard_publish(&c->hz, s);
    atomic_store(&c->revision, s->revision);
    atomic_store(&c->nflags, s->count);
    atomic_store(&c->nrejected, s->count - s->nloaded);
    atomic_store(&c->nrollouts, s->res[SDK_ROLLOUTS].n);
    atomic_store(&c->nprobes, s->res[SDK_PROBES].n);
    atomic_store(&c->nexperiments, s->res[SDK_EXPERIMENTS].n);
    atomic_store(&c->nrunning, s->nrunning);
    atomic_store(&c->snapshot_memory, s->memory);
}

/* ---- lifecycle ---------------------------------------------------------- */

void roost_client_options_init(roost_client_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->connect_timeout_ms = 5000;
    o->flush_interval_ms = 10000;
    o->report_timeout_ms = 10000;
    o->close_timeout_ms = 5000;
    o->backoff_initial_ms = 1000;
    o->backoff_max_ms = 30000;
    o->keepalive_ms = 30000;
    o->max_message_bytes = 64u << 20;
    o->outcome_memory_limit = 8u << 20;
    o->max_series = 10000;
    o->exposure_units = EXPOSURE_UNITS_DEFAULT;
    o->log_level = ROOST_LOG_WARN;
}

static roost_status dup_opt(const char *in, size_t max, const char *what, char **out,
                            roost_error *err)
{
    *out = NULL;
    if (!in)
        return ROOST_OK;
    if (strlen(in) > max)
        return roost_error_set(err, ROOST_EINVAL, "%s is %zu bytes; at most %zu are allowed", what,
                               strlen(in), max);
    if (!(*out = strdup(in)))
        return roost_error_set(err, ROOST_ENOMEM, "out of memory creating the client");
    return ROOST_OK;
}

static void make_client_id(char out[ROOST_CLIENT_ID_MAX + 1])
{
    uint8_t r[16];
    size_t got = 0;

    while (got < sizeof r) {
        ssize_t n = getrandom(r + got, sizeof r - got, 0);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            break;
        }
        got += (size_t)n;
    }
    if (got < sizeof r) { /* no entropy source: time, pid and address still differ */
        uint64_t a = (uint64_t)sdk_wall_ms() ^ ((uint64_t)getpid() << 32);
        uint64_t b = (uint64_t)(uintptr_t)out ^ (uint64_t)sdk_mono_ms();
        memcpy(r, &a, 8);
        memcpy(r + 8, &b, 8);
    }
    for (size_t i = 0; i < sizeof r; i++)
        snprintf(out + 2 * i, 3, "%02x", r[i]);
}

static void free_client(struct roost_client *c)
{
    if (!c)
        return;
    hazard_destroy(&c->hz);
    exposure_set_free(&c->exposures);
    if (c->agg)
        reporter_destroy(&c->rep);
    agg_free(c->agg);
    free(c->target);
    free(c->auth_header);
    free(c->cache_path);
    free(c->service);
    free(c->environment);
    free(c->version);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c);
}

roost_status roost_client_new(const roost_client_options *o, roost_client **out, roost_error *err)
{
    struct roost_client *c;
    roost_status rc;
    char *token = NULL;

    if (!o || !out)
        return roost_error_set(err, ROOST_EINVAL, "roost_client_new: options and out are required");
    if (!o->target || !o->target[0])
        return roost_error_set(err, ROOST_EINVAL, "options.target (roostd's host:port) is required");
    if (o->flush_interval_ms < 10 || o->flush_interval_ms > 60000)
        return roost_error_set(err, ROOST_EINVAL,
                               "options.flush_interval_ms is %u; it must be 10 to 60000 (outcomes "
                               "are stored per minute)",
                               o->flush_interval_ms);
    if (!o->connect_timeout_ms || !o->report_timeout_ms || !o->backoff_initial_ms ||
        o->backoff_max_ms < o->backoff_initial_ms || o->keepalive_ms < 1000)
        return roost_error_set(err, ROOST_EINVAL,
                               "options: timeouts and backoff must be positive, backoff_max_ms at "
                               "least backoff_initial_ms, keepalive_ms at least 1000 (start from "
                               "roost_client_options_init)");
    if (o->outcome_memory_limit < (64u << 10) || o->max_series == 0 ||
        o->max_message_bytes < 4096)
        return roost_error_set(err, ROOST_EINVAL,
                               "options: outcome_memory_limit must be at least 65536, max_series "
                               "at least 1, max_message_bytes at least 4096");
    if (o->exposure_units < EXPOSURE_UNITS_MIN || o->exposure_units > EXPOSURE_UNITS_MAX)
        return roost_error_set(err, ROOST_EINVAL,
                               "options.exposure_units is %u; it must be %u to %u (start from "
                               "roost_client_options_init)",
                               o->exposure_units, EXPOSURE_UNITS_MIN, EXPOSURE_UNITS_MAX);
    if (!(c = sdk_zalloc_aligned(sizeof *c)))
        return roost_error_set(err, ROOST_ENOMEM, "out of memory creating the client");
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    hazard_init(&c->hz, free_snapshot, NULL);
    exposure_set_init(&c->exposures, o->exposure_units);
    c->opt = *o;
    if ((rc = dup_opt(o->target, CACHE_TARGET_MAX, "options.target", &c->target, err)) ||
        (rc = dup_opt(o->cache_path, 4000, "options.cache_path", &c->cache_path, err)) ||
        (rc = dup_opt(o->service ? o->service : "", ROOST_LABEL_MAX, "options.service",
                      &c->service, err)) ||
        (rc = dup_opt(o->environment ? o->environment : "", ROOST_LABEL_MAX,
                      "options.environment", &c->environment, err)) ||
        (rc = dup_opt(o->version ? o->version : "", ROOST_LABEL_MAX, "options.version",
                      &c->version, err)) ||
        (rc = dup_opt(o->token, 4096, "options.token", &token, err)))
        goto fail;
    if (token) {
        size_t n = strlen(token) + sizeof "Bearer ";
        if (!(c->auth_header = malloc(n))) {
            rc = roost_error_set(err, ROOST_ENOMEM, "out of memory creating the client");
            goto fail;
        }
        snprintf(c->auth_header, n, "Bearer %s", token);
        free(token);
        token = NULL;
    }
    c->opt.target = c->opt.token = c->opt.cache_path = NULL;
    c->opt.service = c->opt.environment = c->opt.version = NULL;
    if (agg_new(o->outcome_memory_limit, o->max_series, &c->agg) != ROOST_OK) {
        rc = roost_error_set(err, ROOST_ENOMEM, "out of memory creating the client");
        goto fail;
    }
    make_client_id(c->client_id);
    {
        size_t max_batch = o->outcome_memory_limit / 8;
        reporter_init(&c->rep, c, c->agg, max_batch < (1u << 20) ? max_batch : (1u << 20),
                      o->backoff_initial_ms, o->backoff_max_ms,
                      (uint64_t)sdk_mono_ms() * 2654435761u ^ (uint64_t)(uintptr_t)c);
    }
    atomic_init(&c->state, ROOST_STATE_NOT_READY);
    *out = c;
    return ROOST_OK;
fail:
    free(token);
    free_client(c);
    return rc;
}

/* Serves the cache file, if there is a usable one. */
static void load_cache(struct roost_client *c)
{
    struct wire_sync m;
    roost_error err;
    roost_status rc;
    double t0 = (double)sdk_mono_ms();

    if (!c->cache_path)
        return;
    wire_sync_init(&m, sync_log_refused, c);
    m.max_image_bytes = c->opt.max_message_bytes;
    rc = cache_load(c->cache_path, c->target, c->opt.max_message_bytes, &m, &err);
    if (rc == ROOST_ENOTFOUND) {
        sdk_log(c, ROOST_LOG_INFO, "no offline cache yet at %s", c->cache_path);
    } else if (rc != ROOST_OK) {
        sdk_log(c, ROOST_LOG_WARN, "ignoring the offline cache: %s", err.msg);
    } else if (sync_apply(c, &m, true) == SYNC_APPLIED) {
        if (m.partial)
            sdk_log(c, ROOST_LOG_WARN,
                    "the offline cache %s has format version 1 (written by an older SDK: flags "
                    "only); serving its flags, and asking roostd for the whole configuration "
                    "(rollouts, probes, experiments) instead of resuming from revision %llu",
                    c->cache_path, (unsigned long long)m.revision);
        c->cache_used = true;
        snprintf(c->cache_note, sizeof c->cache_note,
                 "serving %u flag(s) at revision %llu from the offline cache %s (%.0f ms)",
                 atomic_load(&c->nflags), (unsigned long long)atomic_load(&c->revision),
                 c->cache_path, (double)sdk_mono_ms() - t0);
        sdk_log(c, ROOST_LOG_INFO, "%s", c->cache_note);
        sdk_set_state(c, ROOST_STATE_STALE);
    }
    wire_sync_clear(&m);
}

roost_status roost_client_start(roost_client *c, roost_error *err)
{
    roost_status rc;

    if (!c)
        return roost_error_set(err, ROOST_EINVAL, "roost_client_start: client is NULL");
    if (c->started || atomic_load(&c->closing))
        return roost_error_set(err, ROOST_EINVAL, "the client was already started");
    grpc_init();
    /* The background thread does not run yet: this thread may publish. */
    load_cache(c);
    if ((rc = transport_new(c, err)) != ROOST_OK) {
        grpc_shutdown();
        return rc;
    }
    if (pthread_create(&c->thread, NULL, transport_main, c) != 0) {
        transport_free(c);
        grpc_shutdown();
        return roost_error_set(err, ROOST_EINTERNAL, "cannot start the client's thread: %s",
                               strerror(errno));
    }
    c->started = true;
    return ROOST_OK;
}

/* Absolute CLOCK_REALTIME time timeout_ms from now, for condition waits. */
static struct timespec deadline_in(uint32_t timeout_ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

roost_status roost_client_wait_ready(roost_client *c, uint32_t timeout_ms)
{
    struct timespec until = deadline_in(timeout_ms);
    roost_status rc = ROOST_OK;

    if (!c || !c->started)
        return ROOST_EINVAL;
    pthread_mutex_lock(&c->mu);
    while (atomic_load(&c->state) == ROOST_STATE_NOT_READY) {
        if (pthread_cond_timedwait(&c->cv, &c->mu, &until) == ETIMEDOUT) {
            rc = atomic_load(&c->state) == ROOST_STATE_NOT_READY ? ROOST_ETIMEOUT : ROOST_OK;
            break;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

roost_status roost_client_flush(roost_client *c, uint32_t timeout_ms, roost_error *err)
{
    struct timespec until = deadline_in(timeout_ms);
    roost_status rc = ROOST_OK;
    uint64_t gen;

    if (!c || !c->started)
        return roost_error_set(err, ROOST_EINVAL, "roost_client_flush: the client is not started");
    gen = atomic_fetch_add(&c->flush_requested, 1) + 1;
    pthread_mutex_lock(&c->mu);
    while (c->flush_done < gen && !atomic_load(&c->thread_done)) {
        if (pthread_cond_timedwait(&c->cv, &c->mu, &until) == ETIMEDOUT) {
            if (c->flush_done < gen)
                rc = ROOST_ETIMEOUT;
            break;
        }
    }
    pthread_mutex_unlock(&c->mu);
    if (rc == ROOST_ETIMEOUT) {
        struct agg_stats st;
        agg_get_stats(c->agg, &st);
        return roost_error_set(err, ROOST_ETIMEOUT,
                               "%llu outcome(s) not acknowledged by roostd at %s within %u ms; they "
                               "stay queued and are retried",
                               (unsigned long long)(st.observations - st.acked - st.lost),
                               c->target, timeout_ms);
    }
    return ROOST_OK;
}

roost_status roost_client_close(roost_client *c, roost_error *err)
{
    roost_status rc = ROOST_OK;

    if (!c)
        return ROOST_OK;
    roost_error_clear(err);
    if (c->started) {
        struct agg_stats st;
        uint64_t pending;

        atomic_store(&c->closing, true);
        pthread_join(c->thread, NULL);
        transport_free(c);
        agg_get_stats(c->agg, &st);
        pending = st.observations - st.acked - st.lost;
        if (pending)
            rc = roost_error_set(err, ROOST_ETIMEOUT,
                                 "%llu outcome(s) could not be delivered to roostd at %s within "
                                 "close_timeout_ms (%u ms) and are lost with this client",
                                 (unsigned long long)pending, c->target, c->opt.close_timeout_ms);
        if (pending)
            sdk_log(c, ROOST_LOG_ERROR, "%s", err ? err->msg : "outcomes lost at close");
        atomic_store(&c->state, ROOST_STATE_CLOSED);
        free_client(c);
        grpc_shutdown();
        return rc;
    }
    free_client(c);
    return rc;
}

roost_client_state roost_client_get_state(const roost_client *c)
{
    return c ? (roost_client_state)atomic_load(&c->state) : ROOST_STATE_CLOSED;
}

uint64_t roost_client_revision(const roost_client *c)
{
    return c ? atomic_load(&c->revision) : 0;
}

const char *roost_client_id(const roost_client *c)
{
    return c ? c->client_id : "";
}

void roost_client_get_stats(const roost_client *c, roost_client_stats *out)
{
    struct agg_stats a;

    if (!out)
        return;
    memset(out, 0, sizeof *out);
    if (!c)
        return;
    agg_get_stats(c->agg, &a);
    out->state = (roost_client_state)atomic_load(&c->state);
    out->revision = atomic_load(&c->revision);
    out->flags = atomic_load(&c->nflags);
    out->flags_rejected = atomic_load(&c->nrejected);
    out->snapshots_received = atomic_load(&c->snapshots_received);
    out->changes_received = atomic_load(&c->changes_received);
    out->connects = atomic_load(&c->connects);
    out->disconnects = atomic_load(&c->disconnects);
    out->cache_writes = atomic_load(&c->cache_writes);
    out->observations = a.observations;
    out->batches_sent = atomic_load(&c->rep.sent);
    out->batches_acked = atomic_load(&c->rep.acked);
    out->batches_duplicate = atomic_load(&c->rep.duplicates);
    out->dropped_memory_limit = a.dropped_memory;
    out->dropped_series_limit = a.dropped_series;
    out->dropped_rejected = a.dropped_rejected;
    out->pending_outcomes = a.observations - a.acked - a.lost;
    out->outcome_memory = a.memory;
    out->snapshot_memory = atomic_load(&c->snapshot_memory);
    out->rollouts = atomic_load(&c->nrollouts);
    out->probes = atomic_load(&c->nprobes);
    out->experiments = atomic_load(&c->nexperiments);
    out->experiments_running = atomic_load(&c->nrunning);
    out->exposures = atomic_load_explicit(&c->exposures.logged, memory_order_relaxed);
    out->exposures_dropped = atomic_load_explicit(&c->exposures.dropped, memory_order_relaxed);
}

roost_status roost_client_inject_fault(roost_client *c, roost_fault fault, uint32_t count)
{
    if (!c || fault != ROOST_FAULT_DROP_REPORT_ACK)
        return ROOST_EINVAL;
    atomic_store(&c->rep.drop_acks, count);
    return ROOST_OK;
}

/* ---- evaluation --------------------------------------------------------- */

struct eval_scope {
    const struct sdk_snapshot *s;
    const roost_flag *f;
    unsigned slot;
    uint32_t exp; /* the running experiment f assigns, SNAPSHOT_NONE when none */
};

static inline void eval_enter(roost_client *c, const char *key, struct eval_scope *e)
{
    e->s = NULL;
    e->f = NULL;
    e->slot = HAZARD_NO_SLOT;
    e->exp = SNAPSHOT_NONE;
    if (!c || !key)
        return;
    e->s = hazard_acquire(&c->hz, &e->slot);
    if (e->s) {
        e->f = roost_flagset_find(&e->s->set, key, strlen(key));
        if (e->f && e->s->flag_experiment)
            e->exp = e->s->flag_experiment[e->f - e->s->flags];
    }
}

/* An experiment's flag: the result is needed whether or not the caller
 * asked for details, to know the unit's arm. */
static inline roost_result *result_for(const struct eval_scope *e, roost_details *details,
                                       roost_result *r)
{
    return details || e->exp != SNAPSHOT_NONE ? r : NULL;
}

static inline void eval_exposure(roost_client *c, const struct eval_scope *e,
                                 const roost_ctx *ctx, const roost_result *r)
{
    if (e->exp != SNAPSHOT_NONE)
        sdk_exposure(c, e->s, e->exp, ctx, r);
}

static inline void eval_leave(roost_client *c, struct eval_scope *e)
{
    if (c)
        hazard_release(&c->hz, e->slot);
}

/* Why no flag was evaluated, for details: kept out of line so that the
 * common case (the flag was found) carries none of it. */
__attribute__((noinline, cold)) static void details_missing(roost_client *c, roost_details *d,
                                                            const struct eval_scope *e,
                                                            const char *key)
{
    const struct sdk_image *img;

    if (!c) {
        d->error = ROOST_EVAL_GENERAL;
        d->message = "no client (NULL)";
    } else if (!key) {
        d->message = "no flag key (NULL)";
    } else if (!e->s) {
        d->error = ROOST_EVAL_GENERAL;
        d->message = "not ready: the client has no configuration yet";
    } else if ((img = snapshot_find(e->s, key, strlen(key))) && !img->loaded) {
        d->error = ROOST_EVAL_GENERAL;
        d->message = "this SDK refused the flag's compiled image (see the client log)";
    }
}

/* Fills d from the engine's result (still under the hazard slot: the
 * variant name points into the snapshot). Inline in each evaluation
 * function: this is all a details request adds to an evaluation, and a
 * call with its saved registers was half of it. */
static inline void fill_details(roost_client *c, roost_details *d, const struct eval_scope *e,
                                const char *key, const roost_result *r)
{
    size_t len = r->variant ? r->variant_len : 0;
    size_t n = len > ROOST_DETAILS_VARIANT_MAX ? ROOST_DETAILS_VARIANT_MAX : len;

    d->reason = r->reason;
    /* The engine stores reason and error one at a time, and gcc would read
     * both with one 8-byte load: a load that spans two pending stores
     * cannot be forwarded from them and waits until both reach the cache
     * (about 4 ns on the benchmark machine, most of what details cost; see
     * docs/BENCHMARKS.md, "C SDK"). The compiler-only fence keeps the two
     * reads apart. */
    atomic_signal_fence(memory_order_seq_cst);
    d->error = r->error;
    d->message = r->message;
    d->revision = e->s ? e->s->revision : 0;
    d->variant_len = len;
    /* Variant names are short ("on", "control"): a byte loop beats a call
     * to memcpy on this path. */
    if (n <= 16) {
        for (size_t i = 0; i < n; i++)
            d->variant[i] = r->variant[i];
    } else {
        memcpy(d->variant, r->variant, n);
    }
    d->variant[n] = '\0';
    if (!e->f)
        details_missing(c, d, e, key);
}

bool roost_client_bool(roost_client *c, const char *key, const roost_ctx *ctx, bool default_value,
                       roost_details *details)
{
    struct eval_scope e;
    roost_result r;
    bool v;

    eval_enter(c, key, &e);
    v = roost_eval_bool(e.f, ctx, default_value, result_for(&e, details, &r));
    eval_exposure(c, &e, ctx, &r);
    if (details)
        fill_details(c, details, &e, key, &r);
    eval_leave(c, &e);
    return v;
}

int64_t roost_client_int(roost_client *c, const char *key, const roost_ctx *ctx,
                         int64_t default_value, roost_details *details)
{
    struct eval_scope e;
    roost_result r;
    int64_t v;

    eval_enter(c, key, &e);
    v = roost_eval_int(e.f, ctx, default_value, result_for(&e, details, &r));
    eval_exposure(c, &e, ctx, &r);
    if (details)
        fill_details(c, details, &e, key, &r);
    eval_leave(c, &e);
    return v;
}

double roost_client_float(roost_client *c, const char *key, const roost_ctx *ctx,
                          double default_value, roost_details *details)
{
    struct eval_scope e;
    roost_result r;
    double v;

    eval_enter(c, key, &e);
    v = roost_eval_float(e.f, ctx, default_value, result_for(&e, details, &r));
    eval_exposure(c, &e, ctx, &r);
    if (details)
        fill_details(c, details, &e, key, &r);
    eval_leave(c, &e);
    return v;
}

static size_t copy_out(const roost_result *r, char *buf, size_t cap)
{
    size_t len = r->value.string.ptr ? r->value.string.len : 0;

    if (buf && cap) {
        size_t n = len < cap - 1 ? len : cap - 1;
        if (n)
            memcpy(buf, r->value.string.ptr, n);
        buf[n] = '\0';
    }
    return len;
}

size_t roost_client_string(roost_client *c, const char *key, const roost_ctx *ctx,
                           const char *default_value, char *buf, size_t cap,
                           roost_details *details)
{
    struct eval_scope e;
    roost_result r;
    size_t len;

    eval_enter(c, key, &e);
    roost_eval_string(e.f, ctx, default_value, &r);
    eval_exposure(c, &e, ctx, &r);
    len = copy_out(&r, buf, cap);
    if (details)
        fill_details(c, details, &e, key, &r);
    eval_leave(c, &e);
    return len;
}

size_t roost_client_object(roost_client *c, const char *key, const roost_ctx *ctx,
                           const char *default_json, char *buf, size_t cap, roost_details *details)
{
    struct eval_scope e;
    roost_result r;
    size_t len;

    eval_enter(c, key, &e);
    roost_eval_object(e.f, ctx, default_json, &r);
    eval_exposure(c, &e, ctx, &r);
    len = copy_out(&r, buf, cap);
    if (details)
        fill_details(c, details, &e, key, &r);
    eval_leave(c, &e);
    return len;
}

/* ---- flag metadata ------------------------------------------------------ */

/* A bounded JSON writer: counts every byte it would write, stores those
 * that fit, so one pass gives both the text and its full length. */
struct json_out {
    char *buf;
    size_t cap, len;
};

static void jo_bytes(struct json_out *o, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++, o->len++)
        if (o->len + 1 < o->cap)
            o->buf[o->len] = p[i];
}

static void jo_string(struct json_out *o, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";

    jo_bytes(o, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') {
            char e[2] = {'\\', (char)ch};
            jo_bytes(o, e, 2);
        } else if (ch < 0x20) {
            char e[6] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15]};
            jo_bytes(o, e, 6);
        } else {
            jo_bytes(o, (const char *)&ch, 1);
        }
    }
    jo_bytes(o, "\"", 1);
}

roost_status roost_client_flag_metadata(roost_client *c, const char *key, char *buf, size_t cap,
                                        size_t *len, roost_error *err)
{
    struct json_out o = {buf, cap, 0};
    struct eval_scope e;
    size_t n;

    if (!c || !key || (!buf && cap))
        return roost_error_set(err, ROOST_EINVAL,
                               "roost_client_flag_metadata: NULL client or key, or NULL buf "
                               "with cap > 0");
    eval_enter(c, key, &e);
    if (!e.f) {
        eval_leave(c, &e);
        return roost_error_set(err, ROOST_ENOTFOUND,
                               e.s ? "flag '%s' is not in the configuration (revision %llu)"
                                   : "flag '%s': the client has no configuration yet",
                               key, (unsigned long long)(e.s ? e.s->revision : 0));
    }
    /* Under the hazard slot: the entries point into the snapshot. */
    n = roost_flag_metadata_count(e.f);
    jo_bytes(&o, "{", 1);
    for (size_t i = 0; i < n; i++) {
        roost_metadata m;
        char num[32];
        int k;

        if (!roost_flag_metadata_get(e.f, i, &m))
            break;
        if (i)
            jo_bytes(&o, ",", 1);
        jo_string(&o, m.key, m.key_len);
        jo_bytes(&o, ":", 1);
        switch (m.type) {
        case ROOST_VALUE_BOOLEAN:
            jo_bytes(&o, m.boolean ? "true" : "false", m.boolean ? 4 : 5);
            break;
        case ROOST_VALUE_STRING:
            jo_string(&o, m.string, m.string_len);
            break;
        default:
            /* Metadata numbers come from JSON, so they are finite. The
             * shortest of 15 or 17 digits that reads back as the same
             * double: 0.1, not 0.10000000000000001. */
            k = snprintf(num, sizeof num, "%.15g", m.number);
            if (strtod(num, NULL) != m.number)
                k = snprintf(num, sizeof num, "%.17g", m.number);
            jo_bytes(&o, num, k > 0 ? (size_t)k : 0);
            break;
        }
    }
    jo_bytes(&o, "}", 1);
    eval_leave(c, &e);
    if (cap)
        buf[o.len < cap ? o.len : cap - 1] = '\0';
    if (len)
        *len = o.len;
    return ROOST_OK;
}

/* ---- outcomes ----------------------------------------------------------- */

roost_status roost_series_get(roost_client *c, roost_scope_kind kind, const char *scope,
                              const char *arm, const char *metric, roost_series **out)
{
    if (!c || !out)
        return ROOST_EINVAL;
    return agg_series(c->agg, kind, scope, arm, metric, out);
}

roost_status roost_series_observe(roost_series *s, double value, bool success)
{
    if (!s || !agg_value_ok(value))
        return ROOST_EINVAL;
    return agg_record(s->agg, s->id, value, success);
}

roost_status roost_observe(roost_client *c, roost_scope_kind kind, const char *scope,
                           const char *arm, const char *metric, double value, bool success)
{
    roost_series *s;
    roost_status rc;

    if (!c || !agg_value_ok(value))
        return ROOST_EINVAL;
    if ((rc = agg_series_cached(c->agg, kind, scope, arm, metric, &s)) != ROOST_OK)
        return rc;
    return agg_record(c->agg, s->id, value, success);
}
