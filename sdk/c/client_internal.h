/* The client object shared by the SDK's files: client.c (the public
 * facade and evaluation), transport.c (the background thread), reporter.c
 * and the logging helper. Not a public header.
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
    struct reporter rep;
    struct transport *tp;

    _Atomic int state;          /* roost_client_state */
    _Atomic uint64_t revision;  /* of the current snapshot */
    _Atomic uint32_t nflags, nrejected;
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

/* Calls on_event (background thread). */
void sdk_emit(struct roost_client *c, roost_event_type type, roost_status status,
              const char *const *keys, size_t nkeys, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 6, 7)))
#endif
    ;

/* Publishes a new snapshot (background thread): swap, retire the old one,
 * update revision and counters. */
void sdk_publish(struct roost_client *c, struct sdk_snapshot *s);

/* The background thread's body (transport.c). */
void *transport_main(void *arg);
/* Creates / frees the transport state (transport.c); called by start and
 * close on the caller's thread while the background thread is not
 * running. */
roost_status transport_new(struct roost_client *c, roost_error *err);
void transport_free(struct roost_client *c);

#endif
