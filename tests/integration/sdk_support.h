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
size_t sdk_events_count(struct sdk_events *r);

/* The flags document used by the SDK suites: "new-checkout" (boolean,
 * default variant `checkout`: "on" or "off") and "banner" (string, default
 * variant `banner`: "blue" or "green"). Applies it; returns the revision. */
uint64_t sdk_apply_flags(struct roostd_proc *p, const char *checkout, const char *banner);

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

/* Milliseconds sleep. */
void sdk_sleep_ms(int ms);

#endif
