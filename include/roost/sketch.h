/* Latency sketch: a mergeable histogram with logarithmic buckets.
 *
 * SDKs aggregate every latency they observe into a sketch per reporting
 * interval; roostd stores the encoded sketch and merges sketches across
 * intervals, instances and arms to answer quantile queries and to run
 * rank tests (Mann-Whitney on buckets). The design is DDSketch's (Masson,
 * Rim & Lee, VLDB 2019):
 *
 *   - A positive value x lands in bucket i = ceil(log(x) / log(gamma)) with
 *     gamma = (1 + alpha) / (1 - alpha), alpha = ROOST_SKETCH_ALPHA = 0.01.
 *     Bucket i covers (gamma^(i-1), gamma^i] and is represented by
 *     2 gamma^i / (gamma + 1), which is within alpha (1 %) of every value in
 *     the bucket. Because ranks are counted exactly, quantile(q) is within
 *     1 % of the exact sample quantile x_(floor(q (n - 1))) (0-based order
 *     statistic), whatever the distribution.
 *   - Values with |x| < ROOST_SKETCH_MIN_VALUE (1e-9 in the caller's unit,
 *     zero included) share one "zero" bucket represented by 0. Negative
 *     values use buckets mirrored around it (represented by the negated
 *     representative of |x|), so a sketch of signed data is still ordered
 *     and still within 1 %. Latencies are never negative; the mirror exists
 *     so that a buggy clock (negative duration) is counted and visible as a
 *     negative min, not silently dropped.
 *   - NaN and infinities are rejected (ROOST_EINVAL): a sketch never holds
 *     a value it cannot order.
 *
 * Memory is caller-owned and fixed: the caller passes an array of buckets
 * and its capacity; nothing is ever allocated. Buckets are stored sparse
 * (only non-empty ones) and sorted by value, so memory follows the spread of
 * the data, not its range: one decade of values needs about 115 buckets, a
 * typical service latency distribution 100-400.
 *
 * Hard cap: when a new bucket is needed and the array is full, the two
 * lowest buckets are merged into the higher of the two ("collapse the
 * lowest", as DDSketch's collapsing store does). The sketch then sets its
 * `collapsed` flag: the lowest bucket holds every value up to its upper edge
 * and quantiles that fall into it are only bounded above; every quantile
 * above it keeps the 1 % guarantee. roost_sketch_reliable_q() says from
 * which q on that holds. Slow outliers, which are what canary analysis looks
 * for, are never collapsed.
 *
 * Merging adds counts bucket by bucket: it is exact and does not depend on
 * the order in which sketches are merged (collapsing included, as long as
 * every sketch has the same capacity: the result is always "all data, with
 * every bucket below the capacity-th highest key folded into it"). The sum
 * is a double and may differ in its last bits with the order of merges.
 *
 * Encoding (roost_sketch_encode) is a compact, versioned byte string that
 * the wire protocol carries as `bytes`; roost_sketch_decode accepts
 * arbitrary untrusted input and either fills the sketch completely or leaves
 * it untouched.
 *
 * Portable C11; needs only <math.h> (log, exp, ceil) and <string.h>, so it
 * builds for Cortex-M. Not thread-safe: one writer per sketch.
 */
#ifndef ROOST_SKETCH_H
#define ROOST_SKETCH_H

#include <stddef.h>
#include <stdint.h>

#include "roost/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Relative accuracy of every quantile. Fixed by encoding version 1. */
#define ROOST_SKETCH_ALPHA 0.01

/* Values with |x| below this count as zero (bucket key 0). */
#define ROOST_SKETCH_MIN_VALUE 1e-9

/* Bucket keys are in [-ROOST_SKETCH_KEY_MAX, ROOST_SKETCH_KEY_MAX]; key 0 is
 * the zero bucket, positive keys positive values, negative keys negative
 * values, and key order is value order. */
#define ROOST_SKETCH_KEY_MAX 36600

/* Current encoding version (first byte of every encoding). */
#define ROOST_SKETCH_ENCODING_VERSION 1

/* Worst-case encoded size of a sketch with `cap` buckets: 2 header bytes,
 * a 10-byte bucket count, min/max/sum as 8 bytes each, then per bucket a key
 * (at most 3 bytes) and a count (at most 10 bytes). */
#define ROOST_SKETCH_ENCODED_MAX(cap) ((size_t)36 + (size_t)(cap) * 13u)

/* One non-empty bucket. The array belongs to the caller; the sketch keeps it
 * sorted by key with no duplicates and no zero counts. */
typedef struct roost_sketch_bucket {
    uint64_t count;
    int32_t key;
} roost_sketch_bucket;

/* A sketch. Fields are readable; change them only through the functions. */
typedef struct roost_sketch {
    roost_sketch_bucket *buckets; /* caller-owned, `capacity` entries */
    size_t capacity;
    size_t len;       /* buckets in use */
    uint64_t count;   /* values added (sum of bucket counts) */
    double sum;       /* sum of values added */
    double min, max;  /* exact extremes; 0 when count == 0 */
    int collapsed;    /* 1 once the lowest buckets were folded together */
} roost_sketch;

/* Prepares an empty sketch over the caller's `buckets` array (capacity >= 2,
 * at most ROOST_SKETCH_MAX_CAPACITY). The array must outlive the sketch.
 * Errors: ROOST_EINVAL (NULL pointer, capacity out of range). */
#define ROOST_SKETCH_MAX_CAPACITY 65536u
roost_status roost_sketch_init(roost_sketch *s, roost_sketch_bucket *buckets, size_t capacity);

/* Empties the sketch, keeping its memory. */
void roost_sketch_clear(roost_sketch *s);

/* Adds one value. Errors: ROOST_EINVAL (NaN or infinity: nothing added),
 * ROOST_ELIMIT (count would overflow 2^64 - 1, or the sum would overflow a
 * double: nothing added). */
roost_status roost_sketch_add(roost_sketch *s, double value);

/* Adds `n` copies of a value (n = 0 is a no-op). Same errors as add. */
roost_status roost_sketch_add_n(roost_sketch *s, double value, uint64_t n);

/* dst += src. src is unchanged; dst and src may not be the same sketch.
 * Errors: ROOST_EINVAL (NULL, dst == src), ROOST_ELIMIT (the count or the
 * sum would overflow): on error dst is unchanged. */
roost_status roost_sketch_merge(roost_sketch *dst, const roost_sketch *src);

/* Estimated q-quantile (0 <= q <= 1) into *out: within 1 % of the exact
 * order statistic x_(floor(q (n - 1))). q = 0 gives min, q = 1 max, exactly.
 * Errors: ROOST_EINVAL (q outside [0, 1] or NaN), ROOST_ENOTFOUND (empty). */
roost_status roost_sketch_quantile(const roost_sketch *s, double q, double *out);

/* Smallest q for which the 1 % guarantee holds: 0 unless collapsed, else the
 * share of values held by the collapsed lowest bucket. */
double roost_sketch_reliable_q(const roost_sketch *s);

/* Mean of the values (sum / count); ROOST_ENOTFOUND when empty. */
roost_status roost_sketch_mean(const roost_sketch *s, double *out);

/* Value that represents bucket `key` (the one quantile() reports). */
double roost_sketch_key_value(int32_t key);

/* Bucket key a value lands in (value must be finite). */
int32_t roost_sketch_key(double value);

/* Exact size of roost_sketch_encode's output for this sketch. */
size_t roost_sketch_encoded_size(const roost_sketch *s);

/* Encodes the sketch into buf[0..cap). *len receives the bytes written.
 * Layout (version 1), all integers unsigned LEB128 varints:
 *   u8 version (1) | u8 flags (bit 0: collapsed) | varint bucket count B |
 *   if B > 0: min, max, sum as IEEE-754 binary64 little-endian |
 *   B times: key (first: zigzag; then gap to the previous key minus 1) and
 *   count (>= 1).
 * The total count is the sum of bucket counts, so it is not repeated.
 * Errors: ROOST_EINVAL (NULL), ROOST_ELIMIT (cap too small: nothing useful
 * written; ROOST_SKETCH_ENCODED_MAX(capacity) always suffices). */
roost_status roost_sketch_encode(const roost_sketch *s, uint8_t *buf, size_t cap, size_t *len);

/* Replaces the content of s (initialized, any capacity) with the sketch
 * encoded in buf[0..len). The input is untrusted: every field is checked
 * (version, varint length, key range and order, zero counts, count
 * overflow, min/max consistent with the buckets, finite numbers, no trailing
 * bytes). If the encoding has more buckets than s can hold, the lowest are
 * collapsed exactly as merging would. On any error s is left unchanged.
 * Errors: ROOST_EINVAL (NULL), ROOST_ECORRUPT (malformed or inconsistent
 * bytes, unknown version, count overflow). */
roost_status roost_sketch_decode(roost_sketch *s, const uint8_t *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* ROOST_SKETCH_H */
