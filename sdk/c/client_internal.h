/* The client object shared by the SDK's files: client.c (the public
 * facade and evaluation), route.c (traffic splitting and request helpers),
 * experiment.c (exposures and roost_track), probe.c, transport.c (the
 * background thread), reporter.c and the logging helper. Not a public
 * header.
 *
 * Who writes what:
 *  - Immutable after roost_client_new: options, strings, client id.
 *  - Background thread only: the transport state, the reporter, snapshot
 *    publication (through the hazard domain).
 *  - Shared, atomic: state, revision, counters, flush and close requests.
 *  - Under mu: the condition variable handshakes (wait_ready, flush).
 */
#ifndef ROOST_SDK_CLIENT_INTERNAL_H
#define ROOST_SDK_CLIENT_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "aggregator.h"
#include "exposure.h"
#include "hazard.h"
#include "reporter.h"
#include "roost/client.h"
#include "snapshot.h"

struct transport;

struct roost_client {
    roost_client_options opt; /* strings below replace the caller's */
    char *target, *auth_header, *cache_path, *service, *environment, *version;
    char client_id[ROOST_CLIENT_ID_MAX + 1];

    struct hazard_domain hz; /* current struct sdk_snapshot */
    struct agg *agg;
    struct exposure_set exposures; /* units whose exposure was logged this interval */
    struct reporter rep;
    struct transport *tp;

    _Atomic int state;          /* roost_client_state */
    _Atomic uint64_t revision;  /* of the current snapshot */
    _Atomic uint32_t nflags, nrejected;
    _Atomic uint32_t nrollouts, nprobes, nexperiments, nrunning;
    _Atomic size_t snapshot_memory;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool started;               /* caller's thread only */
    _Atomic bool closing;
    _Atomic bool thread_done;
    _Atomic uint64_t flush_requested; /* generation asked for */
    uint64_t flush_done;              /* under mu: generation delivered */

    /* Set by start when the cache was loaded; the background thread emits
     * the matching events first thing. */
    bool cache_used;
    char cache_note[ROOST_ERROR_MSG_MAX];

    _Atomic uint64_t snapshots_received, changes_received, connects, disconnects, cache_writes;
};

/* Formats a line and hands it to on_log (or stderr) when level passes. */
void sdk_log(const struct roost_client *c, roost_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Sets the state and wakes waiters. */
void sdk_set_state(struct roost_client *c, roost_client_state s);

/* What a CONFIGURATION_CHANGED event names: flags, then rollouts, probes
 * and experiments (1 + enum sdk_res_kind). */
#define SDK_CHANGE_KINDS 4
struct sdk_changes {
    const char *const *list[SDK_CHANGE_KINDS];
    size_t n[SDK_CHANGE_KINDS];
};

/* Calls on_event (background thread). changes may be NULL. */
void sdk_emit(struct roost_client *c, roost_event_type type, roost_status status,
              const struct sdk_changes *changes, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

/* Publishes a new snapshot (background thread): swap, retire the old one,
 * update revision and counters. */
void sdk_publish(struct roost_client *c, struct sdk_snapshot *s);

/* Evaluation hook (experiment.c): the flag just evaluated under snapshot s
 * is the flag of running experiment `exp`; logs the exposure when r puts
 * the unit in it. Called under the evaluation's hazard slot. */
void sdk_exposure(struct roost_client *c, const struct sdk_snapshot *s, uint32_t exp,
                  const roost_ctx *ctx, const roost_result *r);

/* The bytes a context attribute contributes as a key (a targeting key for
 * routing, an experiment unit): a non-empty string as it is, an integral
 * number as its decimal text (as flagd's fractional turns it into a
 * string); false for anything else or an absent attribute. buf holds the
 * text of a number. */
#define SDK_KEY_NUMBER_MAX 24
bool sdk_ctx_key(const roost_ctx *ctx, const char *path, size_t path_len,
                 char buf[SDK_KEY_NUMBER_MAX], const char **key, size_t *key_len);

/* The background thread's body (transport.c). */
void *transport_main(void *arg);
/* Creates / frees the transport state (transport.c); called by start and
 * close on the caller's thread while the background thread is not
 * running. */
roost_status transport_new(struct roost_client *c, roost_error *err);
void transport_free(struct roost_client *c);

#endif
