/* Outcome metrics ingest. See metrics_ingest.h for the model, the key and
 * value layouts and the dedupe rules.
 *
 * One batch is one write transaction: the dedupe check, every row merge,
 * the marker and the marker housekeeping. A batch is validated field by
 * field before the transaction starts (cheap checks) and its sketches are
 * decoded inside it (decoding is the validation): any failure aborts the
 * transaction, so an invalid batch stores nothing, not even its valid part.
 * That is what lets the SDK treat INVALID_ARGUMENT as final.
 *
 * Merging a row costs one LMDB read, a sketch decode of the stored row and
 * of the incoming aggregate, a merge and an encode. Sketch memory is one
 * allocation per batch (two METRICS_SKETCH_CAP arrays and one value
 * buffer), reused for every row. A ROLLOUT aggregate costs a second merge,
 * into its 1-second row; the recent-rows mark is read once per batch.
 */
#include "metrics_ingest.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "roost/sketch.h"

static const char *const scope_names[] = {"sdk", "flag", "rollout", "experiment"};

/* ---- encoding helpers --------------------------------------------------- */

static void put_u64le(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64le(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static void put_f64le(uint8_t *p, double d)
{
    uint64_t u;

    memcpy(&u, &d, sizeof u);
    put_u64le(p, u);
}

static double get_f64le(const uint8_t *p)
{
    uint64_t u = get_u64le(p);
    double d;

    memcpy(&d, &u, sizeof d);
    return d;
}

/* Appends s and its NUL; false when s is longer than max. */
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

size_t metrics_key_encode(const struct metrics_series *s, int64_t minute,
                          uint8_t out[METRICS_KEY_MAX], size_t *prefix_len)
{
    size_t n = 0;

    out[n++] = s->scope_kind;
    if (!put_str(out, &n, s->scope_key, ROOST_SCOPE_KEY_MAX) ||
        !put_str(out, &n, s->arm, ROOST_ARM_MAX) ||
        !put_str(out, &n, s->metric, ROOST_METRIC_MAX) ||
        !put_str(out, &n, s->service, ROOST_LABEL_MAX) ||
        !put_str(out, &n, s->environment, ROOST_LABEL_MAX) ||
        !put_str(out, &n, s->version, ROOST_LABEL_MAX))
        return 0;
    if (prefix_len)
        *prefix_len = n;
    store_u64_key((uint64_t)minute, out + n);
    return n + 8;
}

bool metrics_key_decode(const void *key, size_t len, char *buf, struct metrics_series *s,
                        int64_t *minute)
{
    const char **fields[6] = {&s->scope_key, &s->arm,     &s->metric,
                              &s->service,   &s->environment, &s->version};
    size_t at = 1;

    if (len < 1 + 6 + 8)
        return false;
    memcpy(buf, key, len);
    s->scope_kind = (uint8_t)buf[0];
    for (int i = 0; i < 6; i++) {
        const char *nul = memchr(buf + at, '\0', len - 8 - at);
        if (!nul)
            return false;
        *fields[i] = buf + at;
        at = (size_t)(nul - buf) + 1;
    }
    if (at != len - 8)
        return false;
    *minute = (int64_t)store_u64_from_key(buf + at);
    return true;
}

roost_status metrics_row_decode(const void *val, size_t len, struct metrics_row *out,
                                roost_error *err)
{
    const uint8_t *p = val;

    if (len < METRICS_ROW_HEADER || p[0] != METRICS_ROW_FORMAT)
        return roost_error_set(err, ROOST_ECORRUPT,
                               "metrics row: %zu bytes, format %u; expected format %u "
                               "(written by a newer roostd?)",
                               len, len ? (unsigned)p[0] : 0u, (unsigned)METRICS_ROW_FORMAT);
    out->count = get_u64le(p + 1);
    out->successes = get_u64le(p + 9);
    out->sum = get_f64le(p + 17);
    out->sum_squares = get_f64le(p + 25);
    out->sketch = p + METRICS_ROW_HEADER;
    out->sketch_len = len - METRICS_ROW_HEADER;
    return ROOST_OK;
}

/* ---- validation --------------------------------------------------------- */

/* Names aggregate i in messages: aggregates[3] (flag "checkout", arm "on",
 * metric "latency_ms"). */
static void describe(char *out, size_t cap, size_t i, const Roost__V1__OutcomeAggregate *a)
{
    unsigned kind = (unsigned)a->scope_kind;

    snprintf(out, cap, "aggregates[%zu] (%s \"%.128s\", arm \"%.64s\", metric \"%.64s\")", i,
             kind < 4 ? scope_names[kind] : "scope", a->scope_key ? a->scope_key : "",
             a->arm ? a->arm : "", a->metric ? a->metric : "");
}

static roost_status check_len(const char *what, const char *s, size_t min, size_t max,
                              roost_error *err)
{
    size_t len = s ? strlen(s) : 0;

    if (len < min || len > max)
        return roost_error_set(err, ROOST_EINVAL, "%s is %zu bytes; it must be %zu to %zu bytes",
                               what, len, min, max);
    return ROOST_OK;
}

static const char *nonfinite_name(double d)
{
    return isnan(d) ? "NaN" : "infinite";
}

static roost_status validate(const Roost__V1__ReportRequest *req, int64_t now_unix,
                             roost_error *err)
{
    const Roost__V1__ReportLabels *lb = req->labels;
    char where[400];

    if (check_len("client_id", req->client_id, 1, ROOST_CLIENT_ID_MAX, err) != ROOST_OK)
        return ROOST_EINVAL;
    if (req->sequence == 0)
        return roost_error_set(err, ROOST_EINVAL, "sequence is 0; batches are numbered from 1");
    if (lb && (check_len("labels.service", lb->service, 0, ROOST_LABEL_MAX, err) != ROOST_OK ||
               check_len("labels.environment", lb->environment, 0, ROOST_LABEL_MAX, err) !=
                   ROOST_OK ||
               check_len("labels.version", lb->version, 0, ROOST_LABEL_MAX, err) != ROOST_OK))
        return ROOST_EINVAL;
    if (req->n_aggregates > METRICS_MAX_AGGREGATES)
        return roost_error_set(err, ROOST_EINVAL,
                               "%zu aggregates in one batch; at most %d are accepted",
                               req->n_aggregates, METRICS_MAX_AGGREGATES);

    for (size_t i = 0; i < req->n_aggregates; i++) {
        const Roost__V1__OutcomeAggregate *a = req->aggregates[i];

        describe(where, sizeof where, i, a);
        if (a->scope_kind < ROOST__V1__SCOPE_KIND__SCOPE_KIND_FLAG ||
            a->scope_kind > ROOST__V1__SCOPE_KIND__SCOPE_KIND_EXPERIMENT)
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s: scope_kind %d is not FLAG (1), ROLLOUT (2) or "
                                   "EXPERIMENT (3)",
                                   where, (int)a->scope_kind);
        if (check_len("scope_key", a->scope_key, 1, ROOST_SCOPE_KEY_MAX, err) != ROOST_OK ||
            check_len("arm", a->arm, 0, ROOST_ARM_MAX, err) != ROOST_OK ||
            check_len("metric", a->metric, 1, ROOST_METRIC_MAX, err) != ROOST_OK)
            return roost_error_prefix(err, "%s: ", where);
        if (a->minute < 0 || a->minute > now_unix / 60 + METRICS_MAX_FUTURE_MINUTES)
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s: minute %lld is not between 0 and a day after roostd's "
                                   "clock (minute %lld); check the client's clock",
                                   where, (long long)a->minute, (long long)(now_unix / 60));
        if (a->count == 0)
            return roost_error_set(err, ROOST_EINVAL, "%s: count is 0; an aggregate holds at "
                                                      "least one outcome",
                                   where);
        if (!isfinite(a->sum))
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s: sum is %s; outcomes must be finite numbers", where,
                                   nonfinite_name(a->sum));
        if (!isfinite(a->sum_squares))
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s: sum_squares is %s; outcomes must be finite numbers",
                                   where, nonfinite_name(a->sum_squares));
        if (a->sum_squares < 0)
            return roost_error_set(err, ROOST_EINVAL, "%s: sum_squares is negative (%g)", where,
                                   a->sum_squares);
        if (a->successes > a->count)
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s: successes (%llu) is more than count (%llu)", where,
                                   (unsigned long long)a->successes,
                                   (unsigned long long)a->count);
        if (a->end_unix_ms < 0)
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s: end_unix_ms is negative (%lld); it is the end of the "
                                   "aggregation interval in Unix milliseconds, or 0 if unknown",
                                   where, (long long)a->end_unix_ms);
    }
    return ROOST_OK;
}

/* ---- rows --------------------------------------------------------------- */

struct metrics_merger {
    roost_sketch stored, incoming;
    roost_sketch_bucket *buckets; /* 2 * METRICS_SKETCH_CAP */
    uint8_t *value;               /* METRICS_ROW_HEADER + encoded sketch */
    size_t value_cap;
};

roost_status metrics_merger_new(struct metrics_merger **out, roost_error *err)
{
    struct metrics_merger *w = calloc(1, sizeof *w);

    if (w) {
        w->buckets = malloc(2 * METRICS_SKETCH_CAP * sizeof *w->buckets);
        w->value_cap = METRICS_ROW_HEADER + ROOST_SKETCH_ENCODED_MAX(METRICS_SKETCH_CAP);
        w->value = malloc(w->value_cap);
    }
    if (!w || !w->buckets || !w->value) {
        metrics_merger_free(w);
        return roost_error_set(err, ROOST_ENOMEM, "roostd is out of memory merging metric rows");
    }
    roost_sketch_init(&w->stored, w->buckets, METRICS_SKETCH_CAP);
    roost_sketch_init(&w->incoming, w->buckets + METRICS_SKETCH_CAP, METRICS_SKETCH_CAP);
    *out = w;
    return ROOST_OK;
}

void metrics_merger_free(struct metrics_merger *w)
{
    if (!w)
        return;
    free(w->buckets);
    free(w->value);
    free(w);
}

roost_status metrics_row_add(struct store_txn *t, struct metrics_merger *w, enum store_table tbl,
                             const uint8_t *key, size_t klen, const struct metrics_row *add,
                             const char *where, roost_error *err)
{
    const uint64_t count = add->count, successes = add->successes;
    const double sum = add->sum, sum_squares = add->sum_squares;
    const uint8_t *sketch = add->sketch;
    const size_t sketch_len = add->sketch_len;
    struct store_val old;
    struct metrics_row row = {0};
    size_t slen = 0;
    bool have_sketch = false;
    roost_status rc;

    roost_sketch_clear(&w->stored);
    rc = store_get(t, tbl, key, klen, &old, err);
    if (rc == ROOST_OK) {
        if ((rc = metrics_row_decode(old.data, old.len, &row, err)) != ROOST_OK)
            return rc;
        if (row.sketch_len) {
            if (roost_sketch_decode(&w->stored, row.sketch, row.sketch_len) != ROOST_OK)
                return roost_error_set(err, ROOST_ECORRUPT,
                                       "%s: the stored sketch does not decode; the metrics table "
                                       "is damaged",
                                       where);
            have_sketch = true;
        }
    } else if (rc != ROOST_ENOTFOUND) {
        return rc;
    }

    if (sketch_len) {
        if (roost_sketch_decode(&w->incoming, sketch, sketch_len) != ROOST_OK)
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s: sketch is not a valid sketch encoding (version %u "
                                   "expected; NaN and infinite values are refused)",
                                   where, (unsigned)ROOST_SKETCH_ENCODING_VERSION);
        if (w->incoming.count > count)
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s: the sketch holds %llu values but count is %llu", where,
                                   (unsigned long long)w->incoming.count,
                                   (unsigned long long)count);
        if (w->stored.count > UINT64_MAX - w->incoming.count)
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s: the sketch's count of values would overflow", where);
        /* An infinite sketch sum would encode, then never decode again:
         * the row would be lost for good, so it is refused here (the merge
         * refuses it too). */
        if (roost_sketch_merge(&w->stored, &w->incoming) != ROOST_OK || !isfinite(w->stored.sum))
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s: the sketch's sum of values would become infinite; values "
                                   "this large cannot be aggregated",
                                   where);
        have_sketch = true;
    }

    if (row.count > UINT64_MAX - count)
        return roost_error_set(err, ROOST_EINVAL, "%s: count would overflow", where);
    row.count += count;
    row.successes += successes;
    row.sum += sum;
    row.sum_squares += sum_squares;
    if (!isfinite(row.sum) || !isfinite(row.sum_squares))
        return roost_error_set(err, ROOST_EINVAL,
                               "%s: the stored sum would become infinite; values this large "
                               "cannot be aggregated",
                               where);

    w->value[0] = METRICS_ROW_FORMAT;
    put_u64le(w->value + 1, row.count);
    put_u64le(w->value + 9, row.successes);
    put_f64le(w->value + 17, row.sum);
    put_f64le(w->value + 25, row.sum_squares);
    if (have_sketch &&
        roost_sketch_encode(&w->stored, w->value + METRICS_ROW_HEADER,
                            w->value_cap - METRICS_ROW_HEADER, &slen) != ROOST_OK)
        return roost_error_set(err, ROOST_EINTERNAL, "%s: cannot encode the merged sketch", where);
    return store_put(t, tbl, key, klen, w->value, METRICS_ROW_HEADER + slen, err);
}

/* Adds (count, successes, sum, sum_squares, sketch) into the row of
 * (series, time) of tbl. `where` names the aggregate in messages. */
static roost_status merge_row(struct store_txn *t, struct metrics_merger *w,
                              enum store_table tbl, const struct metrics_series *series,
                              int64_t time, uint64_t count, uint64_t successes, double sum,
                              double sum_squares, const uint8_t *sketch, size_t sketch_len,
                              const char *where, roost_error *err)
{
    const struct metrics_row add = {count, successes, sum, sum_squares, sketch, sketch_len};
    uint8_t key[METRICS_KEY_MAX];
    size_t klen;

    if ((klen = metrics_key_encode(series, time, key, NULL)) == 0)
        return roost_error_set(err, ROOST_EINVAL, "%s: a name is too long", where);
    return metrics_row_add(t, w, tbl, key, klen, &add, where, err);
}

/* ---- recent rows -------------------------------------------------------- */

int64_t metrics_recent_second(int64_t minute, int64_t end_unix_ms)
{
    /* The interval started in `minute` and lasts at most a minute (the
     * SDK's longest flush interval), so it ends in this minute or the next;
     * anything else is a clock step on the client, clamped rather than
     * refused: the minute row, which is authoritative, is right anyway. */
    const int64_t first = minute * 60, last = first + 119;
    int64_t s;

    if (end_unix_ms <= 0)
        return first + 59;
    s = (end_unix_ms - 1) / 1000; /* the second holding the last millisecond */
    return s < first ? first : s > last ? last : s;
}

roost_status metrics_recent_from(struct store_txn *t, int64_t *out, roost_error *err)
{
    const char *key = METRICS_RECENT_FROM_KEY;
    struct store_val v;
    roost_status rc = store_get(t, TBL_META, key, strlen(key), &v, err);
    uint64_t u;

    if (rc == ROOST_ENOTFOUND) {
        *out = METRICS_RECENT_OFF;
        return ROOST_OK;
    }
    if (rc != ROOST_OK)
        return rc;
    if (v.len != 8 || (u = store_u64_from_key(v.data)) > (uint64_t)INT64_MAX)
        return roost_error_set(err, ROOST_ECORRUPT,
                               "the store's %s entry is damaged (%zu bytes)", key, v.len);
    *out = (int64_t)u;
    return ROOST_OK;
}

roost_status metrics_recent_from_set(struct store_txn *t, int64_t second, roost_error *err)
{
    const char *key = METRICS_RECENT_FROM_KEY;
    uint8_t v[8];

    store_u64_key((uint64_t)(second < 0 ? 0 : second), v);
    return store_put(t, TBL_META, key, strlen(key), v, sizeof v, err);
}

/* ---- dedupe markers ----------------------------------------------------- */

static size_t seen_key(uint8_t *out, const char *client, uint64_t seq)
{
    size_t n = strlen(client);

    out[0] = 'c';
    memcpy(out + 1, client, n + 1);
    store_u64_key(seq, out + 2 + n);
    return n + 10;
}

/* Rewrites the 'c' key of a client marker as its time index key. */
static size_t time_key_of(uint8_t *out, const void *ckey, size_t clen, uint64_t when)
{
    out[0] = 't';
    store_u64_key(when, out + 1);
    memcpy(out + 9, (const uint8_t *)ckey + 1, clen - 1);
    return clen + 8;
}

/* true when (client, seq) was stored: its marker exists, or seq is below
 * the oldest marker kept for the client (a stale retry of a batch that was
 * acknowledged long ago). */
static roost_status already_seen(struct store_txn *t, const char *client, uint64_t seq,
                                 bool *seen, roost_error *err)
{
    uint8_t key[ROOST_CLIENT_ID_MAX + 16];
    size_t klen = seen_key(key, client, seq);
    struct store_val v, k;
    struct store_iter it;
    roost_status rc;

    rc = store_get(t, TBL_REPORTS_SEEN, key, klen, &v, err);
    if (rc == ROOST_OK) {
        *seen = true;
        return ROOST_OK;
    }
    if (rc != ROOST_ENOTFOUND)
        return rc;
    /* The oldest marker of this client: the prefix is the key without the
     * sequence. */
    if ((rc = store_iter_open(t, TBL_REPORTS_SEEN, key, klen - 8, &it, err)) != ROOST_OK)
        return rc;
    *seen = store_iter_next(&it, &k, &v) && k.len == klen &&
            seq < store_u64_from_key((const uint8_t *)k.data + klen - 8);
    store_iter_close(&it);
    return ROOST_OK;
}

/* Deletes the marker with this 'c' key and its time twin, if present. */
static roost_status drop_marker(struct store_txn *t, const uint8_t *ckey, size_t clen,
                                roost_error *err)
{
    uint8_t tkey[ROOST_CLIENT_ID_MAX + 32];
    struct store_val v;
    roost_status rc = store_get(t, TBL_REPORTS_SEEN, ckey, clen, &v, err);

    if (rc == ROOST_ENOTFOUND)
        return ROOST_OK;
    if (rc != ROOST_OK)
        return rc;
    if (v.len == 8) {
        size_t tlen = time_key_of(tkey, ckey, clen, store_u64_from_key(v.data));
        if ((rc = store_del(t, TBL_REPORTS_SEEN, tkey, tlen, err)) != ROOST_OK)
            return rc;
    }
    return store_del(t, TBL_REPORTS_SEEN, ckey, clen, err);
}

/* Writes the marker of this batch, forgets the client's marker that fell
 * out of the window, and expires up to METRICS_SEEN_SWEEP markers older
 * than the TTL (clients that went away). */
static roost_status mark_seen(struct store_txn *t, const char *client, uint64_t seq,
                              uint64_t now, roost_error *err)
{
    uint8_t ckey[ROOST_CLIENT_ID_MAX + 16], tkey[ROOST_CLIENT_ID_MAX + 32], when[8];
    uint8_t expired[METRICS_SEEN_SWEEP][ROOST_CLIENT_ID_MAX + 32];
    size_t expired_len[METRICS_SEEN_SWEEP];
    size_t clen = seen_key(ckey, client, seq), tlen = time_key_of(tkey, ckey, clen, now);
    struct store_iter it;
    struct store_val k, v;
    uint64_t cutoff = now > METRICS_SEEN_TTL_S ? now - METRICS_SEEN_TTL_S : 0;
    int n = 0;
    roost_status rc;

    store_u64_key(now, when);
    if ((rc = store_put(t, TBL_REPORTS_SEEN, ckey, clen, when, sizeof when, err)) != ROOST_OK ||
        (rc = store_put(t, TBL_REPORTS_SEEN, tkey, tlen, "", 0, err)) != ROOST_OK)
        return rc;
    if (seq > METRICS_SEEN_WINDOW) {
        uint8_t old[ROOST_CLIENT_ID_MAX + 16];
        size_t olen = seen_key(old, client, seq - METRICS_SEEN_WINDOW);
        if ((rc = drop_marker(t, old, olen, err)) != ROOST_OK)
            return rc;
    }

    /* Collect first, delete after: the cursor is not walked while its
     * table changes. */
    if ((rc = store_iter_open(t, TBL_REPORTS_SEEN, "t", 1, &it, err)) != ROOST_OK)
        return rc;
    while (n < METRICS_SEEN_SWEEP && store_iter_next(&it, &k, &v)) {
        if (k.len < 9 + 1 + 8 || k.len > sizeof expired[0] ||
            store_u64_from_key((const uint8_t *)k.data + 1) >= cutoff)
            break;
        memcpy(expired[n], k.data, k.len);
        expired_len[n++] = k.len;
    }
    store_iter_close(&it);
    for (int i = 0; i < n; i++) {
        /* 'c' twin: the time key without its 8-byte time. */
        uint8_t twin[ROOST_CLIENT_ID_MAX + 16];
        twin[0] = 'c';
        memcpy(twin + 1, expired[i] + 9, expired_len[i] - 9);
        if ((rc = store_del(t, TBL_REPORTS_SEEN, twin, expired_len[i] - 8, err)) != ROOST_OK ||
            (rc = store_del(t, TBL_REPORTS_SEEN, expired[i], expired_len[i], err)) != ROOST_OK)
            return rc;
    }
    return ROOST_OK;
}

/* ---- ingest ------------------------------------------------------------- */

static roost_status store_dropped(struct store_txn *t, struct metrics_merger *w,
                                  const Roost__V1__ReportRequest *req,
                                  const struct metrics_series *labels, int64_t minute,
                                  uint32_t *stored, roost_error *err)
{
    static const char *const names[3] = {"dropped.memory_limit", "dropped.series_limit",
                                         "dropped.rejected"};
    const Roost__V1__DroppedOutcomes *d = req->dropped;
    uint64_t counts[3];
    roost_status rc;

    if (!d)
        return ROOST_OK;
    counts[0] = d->memory_limit;
    counts[1] = d->series_limit;
    counts[2] = d->rejected;
    for (int i = 0; i < 3; i++) {
        struct metrics_series s = *labels;
        if (counts[i] == 0)
            continue;
        s.scope_kind = ROOST__V1__SCOPE_KIND__SCOPE_KIND_UNSPECIFIED;
        s.scope_key = "";
        s.arm = "";
        s.metric = names[i];
        if ((rc = merge_row(t, w, TBL_METRICS, &s, minute, counts[i], 0, 0.0, 0.0, NULL, 0,
                            names[i], err)) != ROOST_OK)
            return rc;
        (*stored)++;
    }
    return ROOST_OK;
}

/* Stores one validated batch in t (or finds it stored already). On error
 * t holds part of the batch: the caller aborts it. */
static roost_status ingest_in_txn(struct store_txn *t, struct metrics_merger *w,
                                  int64_t recent_from, const Roost__V1__ReportRequest *req,
                                  int64_t now_unix, struct metrics_ingest_result *out,
                                  roost_error *err)
{
    const Roost__V1__ReportLabels *lb = req->labels;
    struct metrics_series labels = {0};
    char where[400];
    bool seen = false;
    roost_status rc;

    out->duplicate = false;
    out->stored = 0;
    labels.service = lb && lb->service ? lb->service : "";
    labels.environment = lb && lb->environment ? lb->environment : "";
    labels.version = lb && lb->version ? lb->version : "";
    if ((rc = already_seen(t, req->client_id, req->sequence, &seen, err)) != ROOST_OK)
        return rc;
    if (seen) {
        out->duplicate = true;
        return ROOST_OK;
    }
    for (size_t i = 0; i < req->n_aggregates; i++) {
        const Roost__V1__OutcomeAggregate *a = req->aggregates[i];
        struct metrics_series s = labels;

        s.scope_kind = (uint8_t)a->scope_kind;
        s.scope_key = a->scope_key;
        s.arm = a->arm ? a->arm : "";
        s.metric = a->metric;
        describe(where, sizeof where, i, a);
        if ((rc = merge_row(t, w, TBL_METRICS, &s, a->minute, a->count, a->successes, a->sum,
                            a->sum_squares, a->sketch.data, a->sketch.len, where, err)) != ROOST_OK)
            return rc;
        if (a->scope_kind == ROOST__V1__SCOPE_KIND__SCOPE_KIND_ROLLOUT) {
            int64_t second = metrics_recent_second(a->minute, a->end_unix_ms);
            if (second >= recent_from &&
                (rc = merge_row(t, w, TBL_METRICS_RECENT, &s, second, a->count, a->successes,
                                a->sum, a->sum_squares, a->sketch.data, a->sketch.len, where,
                                err)) != ROOST_OK)
                return rc;
        }
        out->stored++;
    }
    if ((rc = store_dropped(t, w, req, &labels, now_unix / 60, &out->stored, err)) != ROOST_OK)
        return rc;
    return mark_seen(t, req->client_id, req->sequence, (uint64_t)now_unix, err);
}

roost_status metrics_ingest_check(const Roost__V1__ReportRequest *req, int64_t now_unix,
                                  roost_error *err)
{
    return validate(req, now_unix, err);
}

roost_status metrics_ingest(struct store *st, const Roost__V1__ReportRequest *req, int64_t now_unix,
                            struct metrics_ingest_result *out, roost_error *err)
{
    struct metrics_ingest_job job = {req, now_unix, false, {false, 0}, ROOST_OK, {0}};
    struct metrics_ingest_job *jobs[1] = {&job};

    metrics_ingest_many(st, jobs, 1);
    *out = job.out;
    if (job.rc != ROOST_OK)
        *err = job.err;
    return job.rc;
}

/* Stores the jobs that passed validation (rc ROOST_OK) in one write
 * transaction: every job's result, or the first error, which is that job's
 * own when ingest_in_txn failed (the others are then kept out of t). */
static roost_status ingest_together(struct store *st, struct metrics_ingest_job *const *jobs,
                                    size_t n, size_t *failed, roost_error *err)
{
    struct store_txn t;
    struct metrics_merger *w;
    int64_t recent_from;
    roost_status rc;

    *failed = n;
    if ((rc = metrics_merger_new(&w, err)) != ROOST_OK)
        return rc;
    if ((rc = store_begin(st, true, &t, err)) != ROOST_OK) {
        metrics_merger_free(w);
        return rc;
    }
    if ((rc = metrics_recent_from(&t, &recent_from, err)) != ROOST_OK)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        struct metrics_ingest_job *j = jobs[i];
        if (j->rc != ROOST_OK)
            continue;
        if ((rc = ingest_in_txn(&t, w, recent_from, j->req, j->now_unix, &j->out, &j->err)) !=
            ROOST_OK) {
            *failed = i;
            *err = j->err;
            goto fail;
        }
    }
    metrics_merger_free(w);
    return store_commit(&t, err);

fail:
    store_abort(&t);
    metrics_merger_free(w);
    return rc;
}

void metrics_ingest_many(struct store *st, struct metrics_ingest_job *const *jobs, size_t n)
{
    size_t failed, valid = 0;
    roost_error err = {0};
    roost_status rc;

    for (size_t i = 0; i < n; i++) {
        struct metrics_ingest_job *j = jobs[i];
        j->out.duplicate = false;
        j->out.stored = 0;
        j->rc = ROOST_OK;
        j->err.code = ROOST_OK;
        j->err.msg[0] = '\0';
        if (j->checked || (j->rc = validate(j->req, j->now_unix, &j->err)) == ROOST_OK)
            valid++;
    }
    if (valid == 0)
        return;
    rc = ingest_together(st, jobs, n, &failed, &err);
    if (rc == ROOST_OK)
        return;
    if (failed == n || valid == 1) {
        /* The store failed (or the only batch did): the same for every
         * batch of the transaction, none of which is stored. */
        for (size_t i = 0; i < n; i++) {
            if (jobs[i]->rc == ROOST_OK || i == failed) {
                jobs[i]->rc = rc;
                jobs[i]->err = i == failed ? jobs[i]->err : err;
                jobs[i]->out.duplicate = false;
                jobs[i]->out.stored = 0;
            }
        }
        return;
    }
    /* One batch failed (a merge that would overflow, say): nothing of the
     * transaction is kept, and each batch is stored on its own, so the
     * failure is that batch's alone. Rare: validation catches what it can
     * without reading the store. */
    for (size_t i = 0; i < n; i++) {
        if (jobs[i]->rc == ROOST_OK)
            metrics_ingest_many(st, &jobs[i], 1);
    }
}
