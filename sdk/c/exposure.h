/* Experiment exposures: which units already had their exposure logged in
 * the current reporting interval. A bounded, lock-free set of 64-bit keys.
 *
 * An evaluation of a running experiment's flag that puts a unit in the
 * experiment (reason TARGETING_MATCH) logs one exposure of that unit to its
 * variant per reporting interval (roostd counts them per arm, metric
 * "exposure", and checks the split against the plan). A service evaluates
 * the same flag for the same user many times, so the check "already
 * logged?" runs on every such evaluation and must be cheap and never block;
 * recording the exposure itself happens once per unit and interval.
 *
 * Design:
 *  - A key is a 64-bit hash of (experiment salt, variant, unit value). Two
 *    units collide with probability about n^2 / 2^65 per interval (1e-10 at
 *    65,536 units): a collision loses one exposure, never adds one.
 *  - Two open-addressing tables of `capacity` slots each, double-buffered
 *    by interval: the current one takes inserts; at each interval cut the
 *    background thread clears the other (idle for a whole interval, so no
 *    reader is still in it) and makes it current. No reader ever waits for
 *    a clear, and memory never grows: 16 bytes per unit of capacity.
 *  - Insert: linear probing from the key's slot, at most EXPOSURE_PROBES
 *    slots; the key found = already logged; an empty slot claimed by
 *    compare-and-swap = log it now; a racing thread that claims the slot
 *    with the same key is seen as "already logged" by the other. No
 *    shared counter on this path: "full" is "no free slot within the probe
 *    limit", which at the default limit happens only above ~90 % load.
 *  - Full: the exposure is not logged and is counted as dropped (memory
 *    limit), so roostd's stored dropped counters show it: the bound is
 *    never silent. Size the set with roost_client_options.exposure_units.
 *  - The tables are allocated by the background thread when the first
 *    running experiment arrives, before that configuration is published:
 *    clients without experiments pay nothing.
 */
#ifndef ROOST_SDK_EXPOSURE_H
#define ROOST_SDK_EXPOSURE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "roost/status.h"

#define EXPOSURE_PROBES 32
#define EXPOSURE_UNITS_DEFAULT 32768u
#define EXPOSURE_UNITS_MIN 64u
#define EXPOSURE_UNITS_MAX (1u << 24)

/* A 64-bit hash of len bytes for in-process keys (not stable across
 * machines of another byte order; never stored or sent). */
uint64_t sdk_hash64(uint64_t seed, const void *data, size_t len);

/* The dedupe key of (experiment salt, variant, unit bytes); never 0. */
uint64_t exposure_key(uint64_t salt, const char *variant, size_t variant_len, const char *unit,
                      size_t unit_len);

struct exposure_set {
    _Atomic(uint64_t) *_Atomic tables; /* 2 x capacity slots; NULL until allocated */
    uint32_t capacity;                 /* slots per table: a power of two */
    _Atomic uint32_t gen;              /* table (gen & 1) is the current interval's */
    _Atomic uint64_t logged, dropped;  /* statistics */
};

enum exposure_verdict {
    EXPOSURE_NEW,  /* first time this interval: log it */
    EXPOSURE_SEEN, /* already logged this interval */
    EXPOSURE_FULL  /* no room (or no tables): count it as dropped */
};

/* Prepares x for `units` keys per interval (rounded up to a power of two
 * within EXPOSURE_UNITS_MIN..MAX). Allocates nothing. */
void exposure_set_init(struct exposure_set *x, uint32_t units);
/* Writer (background thread): allocates the tables when not done yet.
 * Fails with ENOMEM (the set stays without tables: every add is FULL). */
roost_status exposure_set_alloc(struct exposure_set *x);
/* When nothing can use x any more. */
void exposure_set_free(struct exposure_set *x);
/* Bytes the tables take (0 before allocation). */
size_t exposure_set_memory(const struct exposure_set *x);

/* Any thread: records key in the current interval. Lock-free, wait-free
 * up to EXPOSURE_PROBES compare-and-swaps. */
enum exposure_verdict exposure_set_add(struct exposure_set *x, uint64_t key);

/* Writer: starts the next interval (an empty table becomes current). */
void exposure_set_rotate(struct exposure_set *x);

#endif
