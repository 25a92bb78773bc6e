/* Dependency probes: roostd checks the services a rollout depends on (TCP
 * connect, HTTP GET, gRPC health check) on their own schedule, tracks each
 * one's state and circuit, and tells its owner when a state changes.
 *
 * Probing runs on the prober's own thread with non-blocking I/O, so a slow
 * or hanging dependency never delays anything else (including other
 * probes). See docs/rollouts.md for the states and the circuit.
 *
 * States and circuit, per probe (docs/rollouts.md, section Probes):
 *   - UNKNOWN until the first check ends; a failing probe stays UNKNOWN
 *     (or UP / DEGRADED) until failure_threshold failures in a row.
 *   - Each successful check while the circuit is closed sets UP, or
 *     DEGRADED when its latency is above degraded_ms.
 *   - failure_threshold failures in a row: DOWN, circuit OPEN. Probing
 *     goes on at the same interval.
 *   - While OPEN, one success makes the circuit HALF_OPEN; the state stays
 *     DOWN (a gate keeps holding), and the next failure opens it again.
 *   - success_threshold successes in a row (the first one included) close
 *     the circuit; the state becomes UP or DEGRADED again.
 * on_change is called only when the state or the circuit changes.
 */
#ifndef ROOSTD_ROLLOUT_PROBES_H
#define ROOSTD_ROLLOUT_PROBES_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "roost/status.h"

enum probe_type { PROBE_TCP, PROBE_HTTP, PROBE_GRPC };
enum probe_state { PROBE_UNKNOWN, PROBE_UP, PROBE_DEGRADED, PROBE_DOWN };
enum probe_circuit { CIRCUIT_CLOSED, CIRCUIT_OPEN, CIRCUIT_HALF_OPEN };

#define PROBE_NAME_MAX 128
#define PROBE_MAX 1024          /* probes per prober */
#define PROBE_STR_MAX 1024      /* longest target, URL or service name */

struct probe_spec {
    char name[PROBE_NAME_MAX + 1];
    enum probe_type type;
    char *target;            /* tcp, grpc: HOST:PORT ("[::1]:50051" for IPv6), owned */
    char *url;               /* http: http:// or https://, owned */
    char *service;           /* grpc: health service name, default "" (NULL = ""), owned */
    int expect_status_min;   /* http: default 200 */
    int expect_status_max;   /* http: default 399 */
    int64_t interval_ms;     /* default 10000 */
    int64_t timeout_ms;      /* default 2000 (or the interval, if shorter); <= interval */
    int64_t degraded_ms;     /* latency above this is degraded; 0 = never */
    uint32_t failure_threshold; /* consecutive failures before down, default 3 */
    uint32_t success_threshold; /* successes to close a half-open circuit, default 2 */
};

/* Parses one entry of a document's "probes" object (name = its key).
 * path ("probes.payments-db") prefixes messages. Strict: unknown fields,
 * fields of another probe type and out-of-range values are ROOST_EINVAL
 * with the JSON path and what is expected; ROOST_ENOMEM. *out is filled
 * only on success and is then owned by the caller (probe_spec_free).
 * Document limits: interval 1s-1h, timeout 1ms-interval, thresholds 1-100,
 * expectStatus a status (200) or a range ("200-299") within 100-599. */
roost_status probe_spec_parse(const cJSON *obj, const char *name, const char *path,
                              struct probe_spec *out, roost_error *err);
/* Frees what a spec owns and zeroes it. NULL and zeroed specs are fine. */
void probe_spec_free(struct probe_spec *p);

struct probe_status {
    char name[PROBE_NAME_MAX + 1];
    enum probe_state state;
    enum probe_circuit circuit;
    double latency_ms;        /* last check (successful or not) */
    uint32_t consecutive_failures;
    int64_t since_ms;         /* unix ms of the last state change (or of the probe's creation) */
    int64_t last_check_ms;    /* unix ms when the last check ended; 0 = none yet */
    uint64_t checks;          /* checks ended since the probe was created */
    char detail[256];         /* last error ("connect 10.0.0.5:5432: Connection
                                 refused"), or why it is degraded; "" when up */
};

const char *probe_state_name(enum probe_state s);
const char *probe_circuit_name(enum probe_circuit c);
const char *probe_type_name(enum probe_type t);

struct prober;

/* Called on the prober's thread when a probe changes state or circuit (not
 * on every check), without the prober's lock held: it may call
 * prober_snapshot, prober_status and prober_set, but not prober_destroy.
 * Must not block for long: probing waits for it. */
typedef void (*probe_change_fn)(void *user, const struct probe_status *st);

/* Starts the prober thread (with no probes). on_change may be NULL. Fails
 * with ROOST_ENOMEM or ROOST_EINTERNAL (a thread or libcurl could not be
 * started; the message says which). */
roost_status prober_create(probe_change_fn on_change, void *user, struct prober **out,
                           roost_error *err);
/* Replaces the set of probes (after an apply). Probes that keep their name
 * and spec keep their state and any check in flight; the others start
 * over as UNKNOWN and are checked at once. specs are copied. All or
 * nothing: on ROOST_EINVAL (a spec that could not be probed: missing
 * target, zero interval, a name given twice; the message names the probe),
 * ROOST_ELIMIT (more than PROBE_MAX) or ROOST_ENOMEM the old set stays. */
roost_status prober_set(struct prober *p, const struct probe_spec *specs, size_t n,
                        roost_error *err);
/* Copies the status of the first min(count, cap) probes, in the order of
 * the last prober_set, and returns the count. Thread-safe. */
size_t prober_snapshot(struct prober *p, struct probe_status *out, size_t cap);
/* The status of one probe; ROOST_ENOTFOUND when there is none by that name.
 * Thread-safe. For rollout gates. */
roost_status prober_status(struct prober *p, const char *name, struct probe_status *out);
/* Stops the thread promptly (checks in flight are abandoned, not awaited)
 * and frees everything. NULL is fine. Not from on_change. */
void prober_destroy(struct prober *p);

#endif
