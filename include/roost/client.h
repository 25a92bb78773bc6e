/* libroost: the Roost C SDK.
 *
 * A client keeps a local copy of every flag, rollout, probe state and
 * experiment roostd holds, streamed over gRPC (Sync.Subscribe); evaluates
 * flags in-process with the evaluation engine (roost/engine.h); routes
 * requests between a rollout's baseline and canary (roost_route, the
 * request helpers); logs experiment exposures as flags are evaluated; and
 * sends the outcomes the service observes back to roostd in pre-aggregated
 * batches (Sync.Report). docs/sdk-c.md is the guide; this header is the
 * reference.
 *
 *     roost_client_options o;
 *     roost_client *c;
 *     roost_client_options_init(&o);
 *     o.target = "127.0.0.1:7070";
 *     o.cache_path = "/var/cache/myservice/roost.cache";
 *     if (roost_client_new(&o, &c, &err) || roost_client_start(c, &err)) ...
 *     roost_client_wait_ready(c, 1000);
 *     bool on = roost_client_bool(c, "new-checkout", &ctx, false, NULL);
 *     roost_observe(c, ROOST_SCOPE_FLAG, "new-checkout", on ? "on" : "off",
 *                   "latency_ms", 12.5, true);
 *     roost_client_close(c, &err);
 *
 * Threads. Evaluation, routing, request helpers, roost_track, observation
 * and the getters may be called from any number of threads at once. Each
 * client runs one background thread that owns the connection, applies
 * configuration changes, writes the cache and sends reports; nothing the
 * caller's threads do ever waits for it. roost_client_close must not run
 * concurrently with any other call on the same client, nor from an event
 * callback.
 *
 * Memory. Evaluation and routing never allocate and never block: the
 * configuration is an immutable snapshot swapped atomically by the
 * background thread, and an old snapshot is freed only after every
 * evaluation that was reading it has left (hazard slots, see
 * docs/sdk-c.md). Values handed out by evaluation are copied into the
 * caller's memory, so they stay valid after a change. Outcome memory is
 * bounded by roost_client_options.outcome_memory_limit, experiment
 * exposures by roost_client_options.exposure_units.
 *
 * Errors. Functions that can fail return a roost_status (roost/status.h) and
 * accept an optional roost_error for a message a person can act on.
 * Evaluation functions cannot fail: like the engine they return the
 * caller's default and say why in roost_details.
 *
 * Every function takes plain C types, opaque handles and caller-owned
 * structs, and every callback gets a void * user pointer, so the library can
 * be loaded through a foreign-function interface (Python ctypes).
 */
#ifndef ROOST_CLIENT_H
#define ROOST_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "roost/engine.h"
#include "roost/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- limits */

/* Limits of what outcomes are attributed to, shared with roostd's Report
 * handler (it refuses longer names). Lengths in bytes, without the NUL. */
#define ROOST_SCOPE_KEY_MAX 128 /* flag key, rollout or experiment name */
#define ROOST_ARM_MAX 64        /* arm or variant name (may be empty) */
#define ROOST_METRIC_MAX 64     /* metric name */
#define ROOST_LABEL_MAX 64      /* service, environment, version */
#define ROOST_CLIENT_ID_MAX 64

/* Variant names longer than this are truncated in roost_details.variant
 * (roost_details.variant_len still gives the full length). */
#define ROOST_DETAILS_VARIANT_MAX 127

/* Rollouts, probes and experiments as roostd streams them. Names are the
 * resources' names (1-128 bytes); longer service and version texts and
 * probe details are cut at a character boundary. */
#define ROOST_RESOURCE_NAME_MAX 128 /* rollout, probe or experiment name */
#define ROOST_ROLLOUT_TEXT_MAX 128  /* service, baseline and canary versions */
#define ROOST_PROBE_DETAIL_MAX 255  /* a probe's last error, for people */
#define ROOST_UNIT_MAX 128          /* an experiment's unit attribute path */

/* ---------------------------------------------------------------- client */

typedef struct roost_client roost_client;

typedef enum roost_client_state {
    ROOST_STATE_NOT_READY = 0, /* no configuration yet: evaluations give defaults */
    ROOST_STATE_READY = 1,     /* connected, configuration current */
    ROOST_STATE_STALE = 2,     /* serving the last configuration known (from the stream
                                  or the cache file) while (re)connecting */
    ROOST_STATE_CLOSED = 3
} roost_client_state;

/* "NOT_READY", "READY", "STALE", "CLOSED". */
const char *roost_client_state_name(roost_client_state state);

typedef enum roost_event_type {
    ROOST_EVENT_READY = 1,                  /* state became READY */
    ROOST_EVENT_STALE = 2,                  /* state became STALE */
    ROOST_EVENT_ERROR = 3,                  /* something needs attention; see status, message */
    ROOST_EVENT_CONFIGURATION_CHANGED = 4   /* flags, rollouts, probes or experiments
                                               changed; see keys, rollouts, probes,
                                               experiments */
} roost_event_type;

/* "READY", "STALE", "ERROR", "CONFIGURATION_CHANGED". */
const char *roost_event_type_name(roost_event_type type);

/* One event. Everything it points to is valid only during the callback. */
typedef struct roost_event {
    roost_event_type type;
    roost_client_state state;  /* the state after the event */
    uint64_t revision;         /* configuration revision the client holds (0 = none) */
    bool from_cache;           /* READY/STALE/CHANGED: the configuration came from the cache file */
    roost_status status;       /* ERROR: what failed */
    const char *message;       /* a sentence for people; never NULL */
    /* CONFIGURATION_CHANGED: what was added, changed or removed, one sorted
     * list per kind, so a flag and a rollout of the same name are never
     * confused. keys: flag keys. rollouts: rollouts (a new canary weight, a
     * new phase or step, new versions). probes: probes whose state (or any
     * other field) changed. experiments: experiments (a new phase...). Each
     * list may be empty (NULL, 0). */
    const char *const *keys;
    size_t nkeys;
    const char *const *rollouts;
    size_t nrollouts;
    const char *const *probes;
    size_t nprobes;
    const char *const *experiments;
    size_t nexperiments;
} roost_event;

/* Called on the client's background thread. Keep it short; it may call any
 * roost_* function except roost_client_close and roost_client_flush. */
typedef void (*roost_event_fn)(void *user, const roost_event *event);

typedef enum roost_log_level {
    ROOST_LOG_DEBUG = 0,
    ROOST_LOG_INFO = 1,
    ROOST_LOG_WARN = 2,
    ROOST_LOG_ERROR = 3
} roost_log_level;

/* Log sink: one line of text without a newline. Called from any thread that
 * has something to say (mostly the background thread). */
typedef void (*roost_log_fn)(void *user, roost_log_level level, const char *line);

/* Client options: fill with roost_client_options_init, then set fields.
 * Strings are copied by roost_client_new; the struct may be freed after. */
typedef struct roost_client_options {
    const char *target;        /* roostd's gRPC address "host:port" (required) */
    const char *token;         /* SDK bearer token (roostd --sdk-token-file), NULL = none */
    const char *cache_path;    /* offline cache file, NULL = no cache */
    /* Labels stored with every outcome (each at most ROOST_LABEL_MAX bytes). */
    const char *service;
    const char *environment;
    const char *version;

    uint32_t connect_timeout_ms;  /* one connection attempt (default 5000) */
    uint32_t flush_interval_ms;   /* outcomes are sent this often (default 10000) */
    uint32_t report_timeout_ms;   /* deadline of one Report call (default 10000) */
    uint32_t close_timeout_ms;    /* how long close tries to deliver outcomes (default 5000) */
    uint32_t backoff_initial_ms;  /* reconnect backoff: first wait (default 1000) */
    uint32_t backoff_max_ms;      /* cap (default 30000); waits double, +-50 % jitter, and
                                     reset after 60 s connected */
    uint32_t keepalive_ms;        /* HTTP/2 keepalive ping interval (default 30000) */
    size_t max_message_bytes;     /* largest Sync message accepted (default 64 MiB) */
    size_t outcome_memory_limit;  /* bytes for outcomes not yet acknowledged (default 8 MiB) */
    uint32_t max_series;          /* distinct (scope, arm, metric) (default 10000) */

    roost_event_fn on_event;      /* NULL = no events */
    void *event_user;
    roost_log_fn on_log;          /* NULL = warnings and errors to stderr */
    void *log_user;
    roost_log_level log_level;    /* lowest level passed to on_log (default WARN) */

    /* Fields added after the first release are appended here, so bindings
     * that mirror this struct (ctypes) keep their offsets. */
    uint32_t exposure_units;      /* experiment exposures deduplicated per reporting
                                     interval: distinct (experiment, arm, unit) kept
                                     (default 32768, rounded up to a power of two,
                                     64 to 2^24); exposures beyond it are counted as
                                     dropped (memory limit). Costs 16 bytes per unit,
                                     allocated when the first running experiment
                                     arrives (512 KiB by default) */
} roost_client_options;

/* Fills o with the defaults above (target NULL). */
void roost_client_options_init(roost_client_options *o);

/* Creates a client. Nothing is started: no thread, no connection, no file
 * read. *out is owned by the caller until roost_client_close.
 * Fails with: EINVAL (NULL argument, no target, a label or option out of
 * range; the message names it), ENOMEM. */
roost_status roost_client_new(const roost_client_options *o, roost_client **out,
                              roost_error *err);

/* Starts the client without blocking on the network: reads the cache file
 * (a missing, corrupt or foreign one is skipped with a warning), starts the
 * background thread, which connects and subscribes. With a usable cache the
 * client is STALE (serving it) when this returns.
 * Fails with: EINVAL (already started or closed), ENOMEM, EINTERNAL (the
 * thread could not be started). */
roost_status roost_client_start(roost_client *c, roost_error *err);

/* Waits until the client has a configuration (READY, or STALE from the
 * cache) or timeout_ms passes. Returns OK, ETIMEOUT, or EINVAL when the
 * client is not started. */
roost_status roost_client_wait_ready(roost_client *c, uint32_t timeout_ms);

/* Cuts the current reporting interval and waits until every outcome
 * observed before the call is acknowledged by roostd (or was counted as
 * dropped), or timeout_ms passes. Returns OK or ETIMEOUT (the outcomes stay
 * queued and are retried). Not from an event callback. */
roost_status roost_client_flush(roost_client *c, uint32_t timeout_ms, roost_error *err);

/* Flushes outcomes (for up to close_timeout_ms), writes the cache, stops the
 * thread and frees the client. c is invalid afterwards, whatever the result.
 * Returns OK, or ETIMEOUT / EUNAVAIL when outcomes could not be delivered
 * (the message says how many; they are lost with the process). */
roost_status roost_client_close(roost_client *c, roost_error *err);

roost_client_state roost_client_get_state(const roost_client *c);
/* The configuration revision being served (0 = none). */
uint64_t roost_client_revision(const roost_client *c);
/* The random id this client sends with its reports (NUL-terminated). */
const char *roost_client_id(const roost_client *c);

typedef struct roost_client_stats {
    roost_client_state state;
    uint64_t revision;
    uint32_t flags;               /* flags in the configuration */
    uint32_t flags_rejected;      /* flags whose image the engine refused */
    uint64_t snapshots_received;  /* full snapshots from roostd */
    uint64_t changes_received;    /* change events from roostd */
    uint64_t connects;            /* streams established */
    uint64_t disconnects;         /* streams lost */
    uint64_t cache_writes;
    uint64_t observations;        /* outcomes recorded */
    uint64_t batches_sent;        /* Report calls, retries included */
    uint64_t batches_acked;       /* acknowledged (stored or duplicate) */
    uint64_t batches_duplicate;   /* acknowledged as already stored */
    uint64_t dropped_memory_limit;
    uint64_t dropped_series_limit;
    uint64_t dropped_rejected;
    uint64_t pending_outcomes;    /* recorded, not yet acknowledged */
    size_t outcome_memory;        /* bytes held for outcomes */
    size_t snapshot_memory;       /* bytes held by the current configuration */
    /* Appended after the first release (see roost_client_options). */
    uint32_t rollouts;            /* rollouts in the configuration */
    uint32_t probes;              /* probe states in the configuration */
    uint32_t experiments;         /* experiments in the configuration */
    uint32_t experiments_running; /* of those, running (exposures are logged) */
    uint64_t exposures;           /* exposures logged (one per unit, arm and interval) */
    uint64_t exposures_dropped;   /* exposures not logged: the interval's set of units
                                     was full (also in dropped_memory_limit) */
} roost_client_stats;

void roost_client_get_stats(const roost_client *c, roost_client_stats *out);

/* ------------------------------------------------------------ evaluation */

/* Why a value was returned. Filled by every roost_client_<type> call when
 * not NULL. Strings are copies (or static text), valid as long as the
 * struct. Before the client has a configuration, evaluations return the
 * default with reason ERROR, error GENERAL and message "not ready...". */
typedef struct roost_details {
    roost_reason reason;
    roost_eval_error error;
    const char *message;     /* static text explaining error, NULL when none */
    uint64_t revision;       /* configuration revision evaluated (0 = none) */
    size_t variant_len;      /* full length of the chosen variant's name; 0 = none */
    char variant[ROOST_DETAILS_VARIANT_MAX + 1]; /* chosen variant, "" when none */
} roost_details;

/* Evaluate flag `key` for `ctx` (the engine's caller-owned context; NULL =
 * empty; roost_context builds one). Never allocate, never block, never fail:
 * on any problem the default comes back and `details` says why.
 * `ctx->timestamp` is what {"var": "$flagd.timestamp"} reads; the client
 * does not read a clock on this path (roost_context_stamp sets it).
 *
 * Experiments: when the flag is the flag of a *running* experiment and the
 * result's reason is TARGETING_MATCH (the unit is in the experiment; see
 * docs/experiments.md), the evaluation also logs an exposure of the unit to
 * the variant it got, once per (experiment, variant, unit) per reporting
 * interval: roost_observe(EXPERIMENT, experiment, variant, "exposure", 1,
 * true). The unit is the experiment's unit attribute of ctx (targetingKey
 * unless the experiment says otherwise); a unit without it is not logged.
 * Evaluations of other flags do no extra work. */
bool roost_client_bool(roost_client *c, const char *key, const roost_ctx *ctx, bool default_value,
                       roost_details *details);
int64_t roost_client_int(roost_client *c, const char *key, const roost_ctx *ctx,
                         int64_t default_value, roost_details *details);
double roost_client_float(roost_client *c, const char *key, const roost_ctx *ctx,
                          double default_value, roost_details *details);
/* String and object (JSON text) values are copied into buf[0..cap) and
 * NUL-terminated (truncated when cap is too small; buf may be NULL when cap
 * is 0). Returns the full length of the value, as snprintf does, so a result
 * >= cap means it was truncated. */
size_t roost_client_string(roost_client *c, const char *key, const roost_ctx *ctx,
                           const char *default_value, char *buf, size_t cap,
                           roost_details *details);
size_t roost_client_object(roost_client *c, const char *key, const roost_ctx *ctx,
                           const char *default_json, char *buf, size_t cap,
                           roost_details *details);

/* The flag's metadata in the configuration being served (flag-set metadata
 * merged with the flag's own, the flag's winning, as flagd merges them), as
 * a JSON object text: {"team":"web","version":3}. Copied into buf[0..cap)
 * and NUL-terminated; *len (may be NULL) gets the full length, so *len >=
 * cap means it was cut: call again with more room. Without metadata the
 * text is {}. ENOTFOUND when the configuration has no such flag (or there
 * is no configuration yet), EINVAL for a NULL client, key or len/buf misuse
 * (buf NULL with cap > 0). Like evaluation, it never blocks on the sync
 * thread and never allocates. */
roost_status roost_client_flag_metadata(roost_client *c, const char *key, char *buf, size_t cap,
                                        size_t *len, roost_error *err);

/* --------------------------------------------------- evaluation context */

/* An evaluation context that owns copies of its keys and values (the
 * engine's roost_ctx only points at the caller's strings). Build it once
 * per request, evaluate any number of flags with roost_context_ctx(b). Not
 * thread-safe while being changed; read-only use is. */
typedef struct roost_context roost_context;

/* capacity: attributes it can hold (at most 4096); bytes: room for copied
 * strings (0 = 1 KiB); both grow when exceeded. Fails with EINVAL, ENOMEM. */
roost_status roost_context_new(size_t capacity, size_t bytes, roost_context **out);
void roost_context_free(roost_context *b);
/* Removes every attribute and the timestamp; keeps the memory. */
void roost_context_clear(roost_context *b);
/* Setters copy key and value. Fail with EINVAL (NULL, bad length), ENOMEM,
 * ELIMIT (more than 4096 attributes). */
roost_status roost_context_set_targeting_key(roost_context *b, const char *targeting_key);
roost_status roost_context_set_string(roost_context *b, const char *key, const char *value);
roost_status roost_context_set_number(roost_context *b, const char *key, double value);
roost_status roost_context_set_bool(roost_context *b, const char *key, bool value);
/* Sets $flagd.timestamp to now (Unix seconds). */
void roost_context_stamp(roost_context *b);
void roost_context_set_timestamp(roost_context *b, int64_t unix_seconds);
/* The context to pass to roost_client_<type>: the same pointer for b's
 * whole life (what it points at changes with b), so it may be fetched once
 * (a binding does, to save a call per evaluation). Valid until
 * roost_context_free. */
const roost_ctx *roost_context_ctx(const roost_context *b);

/* Packed attributes for roost_context_load: a whole map of attributes in
 * one buffer, so that a binding (Python's ctypes, another FFI) crosses into
 * C once per context instead of once per attribute. Records follow one
 * another, each three NUL-terminated fields: a type, a key, a value.
 *
 *   "s" key value   a string (any bytes but NUL)
 *   "n" key number  a number: a decimal integer of at most 2^53 in
 *                   magnitude ("-42"), a C99 hexadecimal float as
 *                   printf's %a and Python's float.hex() write it
 *                   ("0x1.8p+1", "-0x1.999999999999ap-4"; at most 13 hex
 *                   digits after the point, so the value is exact), "inf",
 *                   "-inf" or "nan"
 *   "b" key bool    a boolean: "1" or "0"
 *
 * Keys are engine keys as roost_context_set_* take them (dots for nested
 * objects, '\\' escapes); a key set twice keeps its last value. Example,
 * {"targetingKey": "u-1", "age": 41, "beta": true}, 3 records, as C
 * literals (split where a digit follows a NUL):
 *   "s\0targetingKey\0u-1\0" "n\0age\0" "41\0" "b\0beta\0" "1\0"
 * Decimal fractions are refused: converting "0.1" exactly needs a correctly
 * rounded, locale-independent decimal parser; a hexadecimal float is exact
 * and as cheap to write. */
#define ROOST_CONTEXT_PACKED_MAX (1u << 20) /* bytes */

/* Replaces everything b holds with the `records` attributes packed in
 * data[0..len) (above) and sets $flagd.timestamp to now:
 * roost_context_clear, one roost_context_set_* per record and
 * roost_context_stamp in one call. Evaluate with roost_context_ctx(b).
 *
 * `records` is how many records the caller packed: a key or value with a
 * NUL inside would shift every field after it, and the count turns that
 * into an error instead of other attributes (so a binding need not scan
 * its strings for NULs first; it can fall back to the setters, which
 * refuse or truncate such strings as they always did).
 *
 * The whole buffer is checked before b changes; it is read only within
 * len, never past it, whatever it holds. Fails with:
 *   EINVAL  b or data NULL (data may be NULL when len is 0), len over
 *           ROOST_CONTEXT_PACKED_MAX, a record cut short (the buffer must
 *           end with the NUL of a value), an unknown type, a number or
 *           boolean not written as above, not exactly `records` records;
 *           b is unchanged
 *   ELIMIT  more than 4096 records; b is unchanged
 *   ENOMEM  copying the keys and values; b is left empty (cleared)
 * Not thread-safe, like the setters. */
roost_status roost_context_load(roost_context *b, const char *data, size_t len, size_t records);

/* -------------------------------------------------------------- outcomes */

typedef enum roost_scope_kind {
    ROOST_SCOPE_FLAG = 1,       /* scope: flag key; arm: variant */
    ROOST_SCOPE_ROLLOUT = 2,    /* scope: rollout; arm: "baseline", "canary"... */
    ROOST_SCOPE_EXPERIMENT = 3  /* scope: experiment; arm: variant */
} roost_scope_kind;

/* Records one outcome of (kind, scope, arm, metric): count += 1,
 * sum += value, sum of squares += value^2, successes += success, and value
 * into the latency sketch (1 % relative error). For a latency, value is the
 * duration in the unit of your choice (the metric name should say which:
 * "latency_ms"); for a conversion, value 1 or 0 and success likewise.
 * Outcomes are aggregated per minute and sent every flush interval.
 * Fails with: EINVAL (NULL or over-long name, value NaN, infinite or above
 * 1e100 in magnitude: nothing recorded), ELIMIT (the series or memory limit
 * was reached: the outcome is counted as dropped and reported as such). */
roost_status roost_observe(roost_client *c, roost_scope_kind kind, const char *scope,
                           const char *arm, const char *metric, double value, bool success);

/* A series resolved once, for hot paths: roost_series_observe skips the
 * name lookup. Handles belong to the client and stay valid until
 * roost_client_close (there is no free). The same names give the same
 * handle. Fails like roost_observe. */
typedef struct roost_series roost_series;
roost_status roost_series_get(roost_client *c, roost_scope_kind kind, const char *scope,
                              const char *arm, const char *metric, roost_series **out);
roost_status roost_series_observe(roost_series *s, double value, bool success);

/* ------------------------------------------------- rollouts and routing */

/* The arm of a canary rollout a request goes to. */
typedef enum roost_arm {
    ROOST_ARM_BASELINE = 0,
    ROOST_ARM_CANARY = 1
} roost_arm;

/* "baseline", "canary": the arm names roostd's analysis reads. */
const char *roost_arm_name(roost_arm arm);

/* A rollout's phase (docs/rollouts.md, Lifecycle). UNKNOWN is a phase this
 * SDK does not know (a newer roostd); routing then follows the weight. */
typedef enum roost_rollout_phase {
    ROOST_ROLLOUT_UNKNOWN = 0,
    ROOST_ROLLOUT_PENDING = 1,
    ROOST_ROLLOUT_PROGRESSING = 2,
    ROOST_ROLLOUT_PAUSED = 3,
    ROOST_ROLLOUT_PROMOTED = 4,
    ROOST_ROLLOUT_ROLLED_BACK = 5
} roost_rollout_phase;

/* "unknown", "pending", "progressing", "paused", "promoted", "rolled_back". */
const char *roost_rollout_phase_name(roost_rollout_phase phase);

/* A rollout as the client holds it (a copy). */
typedef struct roost_rollout_info {
    roost_rollout_phase phase;
    uint32_t canary_weight_bp;  /* the canary's share of traffic, 0..10000 basis points */
    uint32_t step;              /* index of the step it is in */
    uint64_t revision;          /* the revision that last changed it */
    char service[ROOST_ROLLOUT_TEXT_MAX + 1];
    char baseline[ROOST_ROLLOUT_TEXT_MAX + 1];  /* baseline version */
    char canary[ROOST_ROLLOUT_TEXT_MAX + 1];    /* canary version */
} roost_rollout_info;

/* Copies rollout `name` into *out. Fails with: EINVAL (NULL argument),
 * EUNAVAIL (no configuration yet), ENOTFOUND (no such rollout). */
roost_status roost_rollout_status(roost_client *c, const char *name, roost_rollout_info *out);

/* What roost_route decided and why. */
typedef struct roost_route_details {
    roost_arm arm;
    bool found;                /* the rollout is in the configuration */
    bool sticky;               /* decided by the targeting key (false: drawn at random,
                                  or no decision to make) */
    roost_rollout_phase phase; /* UNKNOWN when not found */
    uint32_t canary_weight_bp;
    uint64_t revision;         /* configuration revision routed on (0 = none) */
    char version[ROOST_ROLLOUT_TEXT_MAX + 1]; /* the chosen arm's version, "" when
                                                 the rollout is not found */
} roost_route_details;

/* Routes a request of rollout `rollout` to the baseline or the canary.
 *
 * With a targeting key in ctx (the string attribute "targetingKey", or an
 * integral number, as flagd's fractional reads it) the choice is sticky:
 * bucket = MurmurHash3 x86_32 of rollout name + targeting key, scaled to
 * 10000 basis points exactly as the engine's `fractional` does
 * (roost/murmur3.h); canary when bucket < canary_weight_bp. A key keeps its
 * arm across calls, clients, languages and configuration changes that keep
 * the weight, and a key on the canary stays there while the weight grows.
 * Without a key (ctx NULL, no targetingKey, an empty one) each call draws
 * at random from a per-thread generator, so the canary gets its weight's
 * share of calls.
 *
 * Baseline when the rollout is unknown (or the client has no configuration
 * yet), pending, rolled back, or at weight 0; canary for everything at
 * 10000 (promoted). Paused rollouts keep their weight.
 *
 * Never allocates, never blocks, never fails; reads the configuration like
 * an evaluation (a hazard slot, no lock). details may be NULL. */
roost_arm roost_route(roost_client *c, const char *rollout, const roost_ctx *ctx,
                      roost_route_details *details);

/* A request routed by roost_request_begin: caller-owned (on the stack, in a
 * request object), plain fields. Read arm and, after roost_request_end,
 * latency_ms; leave the rest alone. */
typedef struct roost_request {
    roost_arm arm;            /* where the request goes */
    roost_status status;      /* what roost_request_end will return if nothing
                                 else goes wrong (EINVAL once ended) */
    int64_t start_ns;         /* monotonic clock at begin */
    double latency_ms;        /* set by roost_request_end */
    roost_series *series;     /* (rollout, arm, "requests"); NULL = nothing to record */
} roost_request;

/* Routes like roost_route and starts a monotonic timer. Returns the arm
 * (also in req->arm). details may be NULL. Never blocks; never allocates
 * after a rollout's first request on each arm (which registers its series,
 * like roost_series_get). */
roost_arm roost_request_begin(roost_client *c, const char *rollout, const roost_ctx *ctx,
                              roost_request *req, roost_route_details *details);

/* Ends the request: records one outcome of metric "requests" for the arm it
 * was routed to, with its latency in milliseconds and success, i.e.
 * roost_observe(c, ROOST_SCOPE_ROLLOUT, rollout, "baseline" | "canary",
 * "requests", latency_ms, success) — what roostd's rollout analysis reads
 * by default (docs/rollouts.md) — through the series resolved at begin, so
 * no name is hashed. Must be called before roost_client_close, at most once
 * per begin. Fails with: EINVAL (req NULL, or already ended), ENOTFOUND
 * (the rollout was not in the configuration at begin: nothing recorded;
 * the request went to the baseline), ELIMIT (series or memory limit:
 * counted as dropped). */
roost_status roost_request_end(roost_request *req, bool success);

/* ---------------------------------------------------------------- probes */

typedef enum roost_probe_state {
    ROOST_PROBE_UNKNOWN = 0,   /* not probed yet (or a state this SDK does not know) */
    ROOST_PROBE_UP = 1,
    ROOST_PROBE_DEGRADED = 2,  /* answering, slower than its degradedLatency */
    ROOST_PROBE_DOWN = 3
} roost_probe_state;

typedef enum roost_probe_circuit {
    ROOST_CIRCUIT_UNKNOWN = 0,
    ROOST_CIRCUIT_CLOSED = 1,
    ROOST_CIRCUIT_OPEN = 2,
    ROOST_CIRCUIT_HALF_OPEN = 3
} roost_probe_circuit;

/* "unknown", "up", "degraded", "down" / "unknown", "closed", "open",
 * "half_open". */
const char *roost_probe_state_name(roost_probe_state state);
const char *roost_probe_circuit_name(roost_probe_circuit circuit);

/* A dependency probe's state as roostd last streamed it (docs/rollouts.md,
 * Probes). */
typedef struct roost_probe_info {
    roost_probe_state state;
    roost_probe_circuit circuit;
    double latency_ms;              /* of the last probe */
    uint32_t consecutive_failures;
    int64_t since_unix_ms;          /* when it entered this state */
    char detail[ROOST_PROBE_DETAIL_MAX + 1]; /* the last error, "" when none */
} roost_probe_info;

/* Copies probe `name`'s state into *out. Never blocks. Fails with: EINVAL
 * (NULL argument), EUNAVAIL (no configuration yet), ENOTFOUND (no such
 * probe). */
roost_status roost_probe_status(roost_client *c, const char *name, roost_probe_info *out);

/* ----------------------------------------------------------- experiments */

typedef enum roost_experiment_phase {
    ROOST_EXPERIMENT_UNKNOWN = 0,
    ROOST_EXPERIMENT_DRAFT = 1,
    ROOST_EXPERIMENT_RUNNING = 2,   /* the only phase that logs exposures and outcomes */
    ROOST_EXPERIMENT_STOPPED = 3,
    ROOST_EXPERIMENT_CONCLUDED = 4
} roost_experiment_phase;

/* "unknown", "draft", "running", "stopped", "concluded". */
const char *roost_experiment_phase_name(roost_experiment_phase phase);

typedef struct roost_experiment_info {
    roost_experiment_phase phase;
    uint64_t revision;                          /* that last changed it */
    char flag[ROOST_SCOPE_KEY_MAX + 1];         /* the flag whose variants are the arms */
    char unit[ROOST_UNIT_MAX + 1];              /* context attribute units are hashed on */
} roost_experiment_info;

/* Copies experiment `name` into *out. Fails with: EINVAL (NULL argument),
 * EUNAVAIL (no configuration yet), ENOTFOUND (no such experiment). */
roost_status roost_experiment_status(roost_client *c, const char *name,
                                     roost_experiment_info *out);

/* Attributes an outcome to the arm of the unit in ctx: evaluates the
 * experiment's flag for ctx (like roost_client_*, without logging an
 * exposure) and, when the unit is in the experiment (reason
 * TARGETING_MATCH), records roost_observe(c, ROOST_SCOPE_EXPERIMENT,
 * experiment, variant, metric, value, success). For a conversion rate,
 * track one outcome per unit (success = converted); see docs/experiments.md.
 *
 * Outcomes for an experiment that is not running (draft, stopped,
 * concluded) are ignored: once stopped, the analysis is final and later
 * outcomes must not change it.
 *
 * Returns OK when recorded. Fails with: EINVAL (NULL argument, metric name
 * empty or over ROOST_METRIC_MAX, value NaN, infinite or above 1e100),
 * ENOTFOUND (no such experiment in the configuration, or none yet),
 * ECONFLICT (ignored: the experiment is not running, or the unit is not in
 * it), ELIMIT (series or memory limit: counted as dropped). Never blocks. */
roost_status roost_track(roost_client *c, const char *experiment, const roost_ctx *ctx,
                         const char *metric, double value, bool success);

/* ------------------------------------------------------- testing only */

/* Fault injection for tests of the delivery guarantees; never use it in a
 * service. ROOST_FAULT_DROP_REPORT_ACK: the next `count` Report responses
 * that roostd sends after storing a batch are discarded by the client as if
 * the connection had failed, so the client retries a batch roostd already
 * committed (which roostd must recognise as a duplicate). */
typedef enum roost_fault {
    ROOST_FAULT_DROP_REPORT_ACK = 1
} roost_fault;

roost_status roost_client_inject_fault(roost_client *c, roost_fault fault, uint32_t count);

#ifdef __cplusplus
}
#endif

#endif /* ROOST_CLIENT_H */
