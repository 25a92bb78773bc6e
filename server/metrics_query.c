/* Windows of the metrics store. See metrics_query.h for the semantics and
 * metrics_ingest.h for the key and value layouts.
 *
 * The walk. Keys of one (scope, arm, metric) are sorted by label set, then
 * by time; a window wants, for each matching label set, one contiguous run
 * of times. So the cursor alternates two seeks: to (label set, first time)
 * when it lands before the window, and just past the label set when it
 * lands after it (or on a label set that does not match). A label set is
 * the key minus its 8-byte time, and it ends with the version's NUL: the
 * smallest key after every key of a label set L is L with that NUL raised
 * to 0x01 (no string contains a NUL, so no other label set is skipped).
 */
#include "metrics_query.h"

#include <math.h>
#include <string.h>

#include "metrics_ingest.h"
#include "roost/v1/roost.pb-c.h"
#include "stats/stats.h"

/* ---- aggregates --------------------------------------------------------- */

roost_status metrics_agg_init(struct metrics_agg *a, roost_sketch_bucket *buckets, size_t cap,
                              roost_error *err)
{
    if (!a || !buckets || cap < 2 || cap > ROOST_SKETCH_MAX_CAPACITY)
        return roost_error_set(err, ROOST_EINVAL,
                               "metrics_agg_init: needs an aggregate and 2 x capacity buckets "
                               "(capacity %zu; 2 to %u)",
                               cap, ROOST_SKETCH_MAX_CAPACITY);
    memset(a, 0, sizeof *a);
    roost_sketch_init(&a->sketch, buckets, cap);
    roost_sketch_init(&a->scratch, buckets + cap, cap);
    return ROOST_OK;
}

void metrics_agg_clear(struct metrics_agg *a)
{
    a->count = a->successes = a->rows = 0;
    a->sum = a->sum_squares = 0.0;
    a->resolution_s = 0;
    a->recent = false;
    roost_sketch_clear(&a->sketch);
}

/* Adds one stored row. `unit` is the row's length in seconds. */
static roost_status add_row(struct metrics_agg *a, const struct metrics_row *r, uint32_t unit,
                            roost_error *err)
{
    if (a->count > UINT64_MAX - r->count)
        return roost_error_set(err, ROOST_ELIMIT,
                               "the window holds more than 2^64 - 1 outcomes; query shorter "
                               "windows (a smaller step)");
    if (r->sketch_len) {
        if (roost_sketch_decode(&a->scratch, r->sketch, r->sketch_len) != ROOST_OK)
            return roost_error_set(err, ROOST_ECORRUPT,
                                   "a stored metrics row has a sketch that does not decode; the "
                                   "metrics tables are damaged");
        if (roost_sketch_merge(&a->sketch, &a->scratch) != ROOST_OK)
            return roost_error_set(err, ROOST_ELIMIT,
                                   "the window's latency sketch would hold more than 2^64 - 1 "
                                   "values or a sum of values beyond a double; query shorter "
                                   "windows (a smaller step)");
    }
    a->count += r->count;
    a->successes += r->successes; /* <= count in every row, so <= a->count */
    a->sum += r->sum;
    a->sum_squares += r->sum_squares;
    if (!isfinite(a->sum) || !isfinite(a->sum_squares))
        return roost_error_set(err, ROOST_ELIMIT,
                               "the window's sum of values overflows a double; query shorter "
                               "windows (a smaller step)");
    a->rows++;
    if (unit > a->resolution_s)
        a->resolution_s = unit;
    return ROOST_OK;
}

/* ---- keys --------------------------------------------------------------- */

/* Appends s and its NUL; false when longer than max. */
static bool put_str(uint8_t *out, size_t *n, const char *s, size_t max)
{
    size_t len = s ? strlen(s) : 0;

    if (len > max)
        return false;
    memcpy(out + *n, s ? s : "", len);
    *n += len;
    out[(*n)++] = '\0';
    return true;
}

static bool is_any(const char *s)
{
    return !s || !s[0];
}

/* Ceiling of a / b for a >= 0, b > 0. */
static int64_t ceil_div(int64_t a, int64_t b)
{
    return a / b + (a % b != 0);
}

/* The label strings of a key after the (kind, scope, arm, metric) prefix of
 * length plen; false when the key does not parse. */
static bool key_labels(const uint8_t *key, size_t len, size_t plen, const char *labels[3],
                       size_t lens[3])
{
    size_t at = plen;

    if (len < plen + 3 + 8)
        return false;
    for (int i = 0; i < 3; i++) {
        const uint8_t *nul = memchr(key + at, '\0', len - 8 - at);
        if (!nul)
            return false;
        labels[i] = (const char *)key + at;
        lens[i] = (size_t)(nul - (key + at));
        at += lens[i] + 1;
    }
    return at == len - 8;
}

static bool label_matches(const char *want, const char *have, size_t have_len)
{
    return is_any(want) || (strlen(want) == have_len && memcmp(want, have, have_len) == 0);
}

/* Merges the rows of table tbl (rows `unit` seconds long) under prefix
 * whose start is in [from_s, to_s). */
static roost_status walk(struct store_txn *t, enum store_table tbl, uint32_t unit,
                         const struct metrics_selector *sel, const uint8_t *prefix, size_t plen,
                         size_t series_plen, int64_t from_s, int64_t to_s, struct metrics_agg *out,
                         roost_error *err)
{
    const uint64_t t0 = (uint64_t)ceil_div(from_s, unit), t1 = (uint64_t)ceil_div(to_s, unit);
    uint8_t seek[METRICS_KEY_MAX];
    struct store_iter it;
    struct store_val k, v;
    roost_status rc = ROOST_OK;

    if (t0 >= t1)
        return ROOST_OK;
    if ((rc = store_iter_open(t, tbl, prefix, plen, &it, err)) != ROOST_OK)
        return rc;
    while (store_iter_next(&it, &k, &v)) {
        const uint8_t *key = k.data;
        const char *labels[3];
        size_t lens[3], lset = k.len - 8;
        struct metrics_row row;
        uint64_t time;

        if (k.len > sizeof seek || !key_labels(key, k.len, series_plen, labels, lens)) {
            rc = roost_error_set(err, ROOST_ECORRUPT,
                                 "a stored metrics key does not parse (%zu bytes); the metrics "
                                 "tables are damaged",
                                 k.len);
            break;
        }
        memcpy(seek, key, lset);
        if (!label_matches(sel->service, labels[0], lens[0]) ||
            !label_matches(sel->environment, labels[1], lens[1]) ||
            !label_matches(sel->version, labels[2], lens[2])) {
            seek[lset - 1] = 0x01; /* past this label set (file comment) */
            store_iter_seek(&it, seek, lset);
            continue;
        }
        time = store_u64_from_key(key + lset);
        if (time < t0) {
            store_u64_key(t0, seek + lset);
            store_iter_seek(&it, seek, lset + 8);
            continue;
        }
        if (time >= t1) {
            seek[lset - 1] = 0x01;
            store_iter_seek(&it, seek, lset);
            continue;
        }
        if ((rc = metrics_row_decode(v.data, v.len, &row, err)) != ROOST_OK ||
            (rc = add_row(out, &row, unit, err)) != ROOST_OK)
            break;
    }
    store_iter_close(&it);
    return rc;
}

/* kind | scope \0 | arm \0 | metric \0 [| service \0]; 0 when too long. */
static size_t series_prefix(const struct metrics_selector *sel, uint8_t out[METRICS_KEY_MAX],
                            size_t *series_plen)
{
    size_t n = 0;

    out[n++] = sel->scope_kind;
    if (!put_str(out, &n, sel->scope_key, ROOST_SCOPE_KEY_MAX) ||
        !put_str(out, &n, sel->arm, ROOST_ARM_MAX) ||
        !put_str(out, &n, sel->metric, ROOST_METRIC_MAX))
        return 0;
    *series_plen = n;
    /* A service asked for narrows the walk to its label sets. */
    if (!is_any(sel->service) && !put_str(out, &n, sel->service, ROOST_LABEL_MAX))
        return 0;
    return n;
}

static roost_status check_selector(const struct metrics_selector *sel, int64_t from_s,
                                   int64_t to_s, roost_error *err)
{
    if (!sel || !sel->scope_key || !sel->arm || !sel->metric || !sel->metric[0])
        return roost_error_set(err, ROOST_EINVAL,
                               "a metrics window needs a scope key, an arm (\"\" for none) and "
                               "a metric");
    if (from_s < 0 || from_s >= to_s)
        return roost_error_set(err, ROOST_EINVAL,
                               "a metrics window [%lld, %lld) must start at 0 or later and end "
                               "after it starts",
                               (long long)from_s, (long long)to_s);
    if ((!is_any(sel->environment) && strlen(sel->environment) > ROOST_LABEL_MAX) ||
        (!is_any(sel->version) && strlen(sel->version) > ROOST_LABEL_MAX))
        return roost_error_set(err, ROOST_EINVAL, "a label is longer than %d bytes",
                               ROOST_LABEL_MAX);
    return ROOST_OK;
}

roost_status metrics_window_txn(struct store_txn *t, const struct metrics_selector *sel,
                                int64_t from_s, int64_t to_s, struct metrics_agg *out,
                                roost_error *err)
{
    uint8_t prefix[METRICS_KEY_MAX];
    size_t plen, series_plen = 0;
    int64_t recent_from;
    roost_status rc;

    metrics_agg_clear(out);
    if ((rc = check_selector(sel, from_s, to_s, err)) != ROOST_OK)
        return rc;
    if ((plen = series_prefix(sel, prefix, &series_plen)) == 0)
        return roost_error_set(err, ROOST_EINVAL,
                               "scope key, arm, metric or service too long (at most %d, %d, %d "
                               "and %d bytes)",
                               ROOST_SCOPE_KEY_MAX, ROOST_ARM_MAX, ROOST_METRIC_MAX,
                               ROOST_LABEL_MAX);

    /* Recent rows answer exactly from the mark on (metrics_ingest.h); the
     * mark is read in this transaction, so no retention pass can move it
     * under us. */
    if (sel->scope_kind == ROOST__V1__SCOPE_KIND__SCOPE_KIND_ROLLOUT) {
        if ((rc = metrics_recent_from(t, &recent_from, err)) != ROOST_OK)
            return rc;
        if (from_s >= recent_from) {
            out->recent = true;
            return walk(t, TBL_METRICS_RECENT, 1, sel, prefix, plen, series_plen, from_s, to_s,
                        out, err);
        }
    }
    if ((rc = walk(t, TBL_METRICS, 60, sel, prefix, plen, series_plen, from_s, to_s, out, err)) !=
        ROOST_OK)
        return rc;
    return walk(t, TBL_METRICS_HOURS, 3600, sel, prefix, plen, series_plen, from_s, to_s, out,
                err);
}

roost_status metrics_window(struct store *st, const struct metrics_selector *sel, int64_t from_s,
                            int64_t to_s, struct metrics_agg *out, roost_error *err)
{
    struct store_txn t;
    roost_status rc;

    if ((rc = store_begin(st, false, &t, err)) != ROOST_OK) {
        metrics_agg_clear(out);
        return rc;
    }
    rc = metrics_window_txn(&t, sel, from_s, to_s, out, err);
    store_abort(&t);
    return rc;
}

roost_status metrics_agg_summarize(const struct metrics_agg *a, struct metrics_summary *out,
                                   roost_error *err)
{
    roost_stats_summary s;

    memset(out, 0, sizeof *out);
    out->count = a->count;
    out->successes = a->successes;
    if (a->count) {
        if (roost_stats_summary_from_sums(a->count, a->sum, a->sum_squares, &s, err) != ROOST_OK)
            return roost_error_set(err, ROOST_ELIMIT,
                                   "the window's sums cannot be summarized (sum %g, sum of "
                                   "squares %g); query shorter windows",
                                   a->sum, a->sum_squares);
        out->mean = s.mean;
        out->variance = s.var;
        out->success_rate = (double)a->successes / (double)a->count;
    }
    out->sketch_count = a->sketch.count;
    if (a->sketch.count) {
        out->min = a->sketch.min;
        out->max = a->sketch.max;
        out->collapsed = a->sketch.collapsed != 0;
        out->reliable_from_q = roost_sketch_reliable_q(&a->sketch);
    }
    return ROOST_OK;
}

/* ---- listing series ----------------------------------------------------- */

/* Inserts (arm, metric) into the sorted, distinct out[0..*n). */
static roost_status insert_name(struct metrics_series_name *out, size_t cap, size_t *n,
                                const char *arm, size_t arm_len, const char *metric,
                                size_t metric_len, roost_error *err)
{
    struct metrics_series_name nm;
    size_t lo = 0, hi = *n;

    memcpy(nm.arm, arm, arm_len);
    nm.arm[arm_len] = '\0';
    memcpy(nm.metric, metric, metric_len);
    nm.metric[metric_len] = '\0';
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(out[mid].arm, nm.arm);
        if (c == 0)
            c = strcmp(out[mid].metric, nm.metric);
        if (c == 0)
            return ROOST_OK;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (*n == cap)
        return roost_error_set(err, ROOST_ELIMIT,
                               "more than %zu series (arm, metric) match; name an arm or a "
                               "metric",
                               cap);
    memmove(out + lo + 1, out + lo, (*n - lo) * sizeof *out);
    out[lo] = nm;
    (*n)++;
    return ROOST_OK;
}

static roost_status list_table(struct store_txn *t, enum store_table tbl, const uint8_t *prefix,
                               size_t plen, size_t scope_plen, const char *metric,
                               struct metrics_series_name *out, size_t cap, size_t *n,
                               roost_error *err)
{
    uint8_t seek[METRICS_KEY_MAX];
    struct store_iter it;
    struct store_val k, v;
    roost_status rc = ROOST_OK;

    if ((rc = store_iter_open(t, tbl, prefix, plen, &it, err)) != ROOST_OK)
        return rc;
    while (store_iter_next(&it, &k, &v)) {
        const uint8_t *key = k.data;
        const uint8_t *arm_end, *metric_end;
        size_t slen;

        /* The arm and the metric follow the scope. */
        if (k.len > sizeof seek || k.len < scope_plen + 2 + 8 ||
            !(arm_end = memchr(key + scope_plen, '\0', k.len - 8 - scope_plen)) ||
            !(metric_end = memchr(arm_end + 1, '\0', (size_t)(key + k.len - 8 - (arm_end + 1)))) ||
            (size_t)(arm_end - (key + scope_plen)) > ROOST_ARM_MAX ||
            (size_t)(metric_end - (arm_end + 1)) > ROOST_METRIC_MAX) {
            rc = roost_error_set(err, ROOST_ECORRUPT,
                                 "a stored metrics key does not parse (%zu bytes); the metrics "
                                 "tables are damaged",
                                 k.len);
            break;
        }
        if (label_matches(metric, (const char *)arm_end + 1, (size_t)(metric_end - (arm_end + 1))) &&
            (rc = insert_name(out, cap, n, (const char *)key + scope_plen,
                              (size_t)(arm_end - (key + scope_plen)), (const char *)arm_end + 1,
                              (size_t)(metric_end - (arm_end + 1)), err)) != ROOST_OK)
            break;
        /* Past every label set and time of this (arm, metric). */
        slen = (size_t)(metric_end - key) + 1;
        memcpy(seek, key, slen);
        seek[slen - 1] = 0x01;
        store_iter_seek(&it, seek, slen);
    }
    store_iter_close(&it);
    return rc;
}

roost_status metrics_list_series(struct store_txn *t, uint8_t scope_kind, const char *scope_key,
                                 const char *arm, const char *metric,
                                 struct metrics_series_name *out, size_t cap, size_t *n,
                                 roost_error *err)
{
    uint8_t prefix[METRICS_KEY_MAX];
    size_t plen = 0, scope_plen;
    roost_status rc;

    *n = 0;
    prefix[plen++] = scope_kind;
    if (!put_str(prefix, &plen, scope_key, ROOST_SCOPE_KEY_MAX))
        return roost_error_set(err, ROOST_EINVAL, "scope key is longer than %d bytes",
                               ROOST_SCOPE_KEY_MAX);
    scope_plen = plen;
    if (!is_any(metric) && strlen(metric) > ROOST_METRIC_MAX)
        return roost_error_set(err, ROOST_EINVAL, "metric is longer than %d bytes",
                               ROOST_METRIC_MAX);
    /* An arm narrows the walk (and then a metric too); a metric without an
     * arm is matched key by key. */
    if (!is_any(arm)) {
        if (!put_str(prefix, &plen, arm, ROOST_ARM_MAX))
            return roost_error_set(err, ROOST_EINVAL, "arm is longer than %d bytes",
                                   ROOST_ARM_MAX);
        if (!is_any(metric))
            put_str(prefix, &plen, metric, ROOST_METRIC_MAX);
    }
    if ((rc = list_table(t, TBL_METRICS, prefix, plen, scope_plen, metric, out, cap, n, err)) !=
        ROOST_OK)
        return rc;
    return list_table(t, TBL_METRICS_HOURS, prefix, plen, scope_plen, metric, out, cap, n, err);
}
