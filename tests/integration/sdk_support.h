/* Support for the C SDK's integration suites: client options suited to
 * tests (short backoff and flush interval), an event recorder the test can
 * wait on, documents applied through roostctl, roostd's status counters,
 * and the outcome rows roostd stored (read from its LMDB store once it has
 * stopped). Every wait is bounded. */
#ifndef ROOST_TESTS_SDK_SUPPORT_H
#define ROOST_TESTS_SDK_SUPPORT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harness.h"
#include "roost/client.h"

/* Options for a client of p: 200 ms backoff (cap 1 s), 200 ms flush
 * interval, events into rec (may be NULL), logs to stderr at WARN. */
struct sdk_events;
void sdk_test_options(roost_client_options *o, const struct roostd_proc *p,
                      struct sdk_events *rec);

#define SDK_EVENTS_MAX 256

struct sdk_event_copy {
    roost_event_type type;
    roost_client_state state;
    uint64_t revision;
    bool from_cache;
    roost_status status;
    char message[256];
    char keys[512]; /* comma-separated */
    char rollouts[256], probes[256], experiments[256]; /* CONFIGURATION_CHANGED, likewise */
};

struct sdk_events {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct sdk_event_copy ev[SDK_EVENTS_MAX];
    size_t n;
};

void sdk_events_init(struct sdk_events *r);
void sdk_events_destroy(struct sdk_events *r);
/* The callback to put in roost_client_options.on_event (user = r). */
void sdk_events_record(void *user, const roost_event *ev);
/* Waits up to timeout_s for an event of this type at index >= from;
 * returns its index, or -1. */
int sdk_events_wait(struct sdk_events *r, roost_event_type type, size_t from, double timeout_s);
/* Waits for a CONFIGURATION_CHANGED event at index >= from whose list of
 * kind ("keys", "rollouts", "probes" or "experiments") names `name`;
 * returns its index, or -1. */
int sdk_events_wait_change(struct sdk_events *r, const char *kind, const char *name, size_t from,
                           double timeout_s);
size_t sdk_events_count(struct sdk_events *r);

/* The flags document used by the SDK suites: "new-checkout" (boolean,
 * default variant `checkout`: "on" or "off") and "banner" (string, default
 * variant `banner`: "blue" or "green"). Applies it; returns the revision. */
uint64_t sdk_apply_flags(struct roostd_proc *p, const char *checkout, const char *banner);

/* Applies a whole document (JSON text) with roostctl; returns the new
 * revision, 0 on failure (roostctl's message on stderr). */
uint64_t sdk_apply_document(struct roostd_proc *p, const char *doc);

/* roostd's status field (revision, snapshots_sent, changes_sent, resyncs...). */
uint64_t sdk_status_u64(struct roostd_proc *p, const char *field);

/* Restarts roostd on the same data directory and the same port (so a
 * client's target stays valid). */
bool sdk_roostd_restart(struct roostd_proc *p);

/* Sums of the stored rows of one series over every minute and label set.
 * Opens the store in p->data_dir: roostd must be stopped. */
struct sdk_stored {
    uint64_t rows, count, successes, sketch_count;
    double sum, sum_squares;
};
bool sdk_stored_series(const struct roostd_proc *p, int kind, const char *scope, const char *arm,
                       const char *metric, struct sdk_stored *out);

/* ThreadSanitizer cannot see the synchronization inside Debian's gRPC,
 * gpr and abseil libraries (they are not instrumented) and reports races
 * between their own threads. SDK_TSAN_SUPPRESSIONS ignores reports whose
 * accesses are made inside those libraries, and nothing else: a race
 * involving Roost's code (SDK, roostd, roostctl) is still reported.
 * sdk_tsan_children() passes the same suppressions to roostd and roostctl;
 * a test binary returns them to itself from __tsan_default_suppressions. */
#define SDK_TSAN_SUPPRESSIONS \
    "called_from_lib:libgrpc.so\n" \
    "called_from_lib:libgpr.so\n" \
    "called_from_lib:libcares.so\n" \
    "called_from_lib:libupb.so\n" \
    "called_from_lib:libabsl_bad_optional_access.so\n" \
    "called_from_lib:libabsl_bad_variant_access.so\n" \
    "called_from_lib:libabsl_base.so\n" \
    "called_from_lib:libabsl_city.so\n" \
    "called_from_lib:libabsl_cord.so\n" \
    "called_from_lib:libabsl_cord_internal.so\n" \
    "called_from_lib:libabsl_cordz_functions.so\n" \
    "called_from_lib:libabsl_cordz_handle.so\n" \
    "called_from_lib:libabsl_cordz_info.so\n" \
    "called_from_lib:libabsl_debugging_internal.so\n" \
    "called_from_lib:libabsl_demangle_internal.so\n" \
    "called_from_lib:libabsl_exponential_biased.so\n" \
    "called_from_lib:libabsl_graphcycles_internal.so\n" \
    "called_from_lib:libabsl_hash.so\n" \
    "called_from_lib:libabsl_int128.so\n" \
    "called_from_lib:libabsl_low_level_hash.so\n" \
    "called_from_lib:libabsl_malloc_internal.so\n" \
    "called_from_lib:libabsl_random_internal_platform.so\n" \
    "called_from_lib:libabsl_random_internal_pool_urbg.so\n" \
    "called_from_lib:libabsl_random_internal_randen.so\n" \
    "called_from_lib:libabsl_random_internal_randen_hwaes.so\n" \
    "called_from_lib:libabsl_random_internal_randen_hwaes_impl.so\n" \
    "called_from_lib:libabsl_random_internal_randen_slow.so\n" \
    "called_from_lib:libabsl_random_internal_seed_material.so\n" \
    "called_from_lib:libabsl_random_seed_gen_exception.so\n" \
    "called_from_lib:libabsl_raw_hash_set.so\n" \
    "called_from_lib:libabsl_raw_logging_internal.so\n" \
    "called_from_lib:libabsl_spinlock_wait.so\n" \
    "called_from_lib:libabsl_stacktrace.so\n" \
    "called_from_lib:libabsl_status.so\n" \
    "called_from_lib:libabsl_statusor.so\n" \
    "called_from_lib:libabsl_str_format_internal.so\n" \
    "called_from_lib:libabsl_strerror.so\n" \
    "called_from_lib:libabsl_strings.so\n" \
    "called_from_lib:libabsl_strings_internal.so\n" \
    "called_from_lib:libabsl_symbolize.so\n" \
    "called_from_lib:libabsl_synchronization.so\n" \
    "called_from_lib:libabsl_throw_delegate.so\n" \
    "called_from_lib:libabsl_time.so\n" \
    "called_from_lib:libabsl_time_zone.so\n" \
    "race:libgrpc.so\n" \
    "race:libgpr.so\n" \
    "race:libabsl_\n" \
    "deadlock:libgrpc.so\n" \
    "deadlock:libabsl_\n"
void sdk_tsan_children(void);

/* Milliseconds sleep. */
void sdk_sleep_ms(int ms);

#endif
