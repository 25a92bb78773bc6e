/* Metrics retention and compaction. See metrics_retention.h for the policy
 * and metrics_ingest.h for the tables.
 *
 * Every job of a pass has the same shape: "rows of table T whose time is
 * below cutoff C" are found by a scan, then handled (deleted, or rolled into
 * an hour row and deleted) in a write transaction, batch by batch. Rows of
 * one label set are sorted by time, so old rows are at the front of each
 * label set: the scan takes them, then seeks straight past the rest of the
 * label set. A pass costs one seek per label set plus the rows it moves, not
 * a read of the whole table.
 *
 * Scans run in read transactions and stop after batch_rows rows or
 * 64 x batch_rows seeks, so neither kind of transaction is long. The next
 * scan resumes just after the last key handled; a row left in place (one
 * that cannot be rolled up) is therefore not met again in the same pass.
 */
#include "metrics_retention.h"

#include "duration.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "metrics_ingest.h"

void metrics_retention_defaults(struct metrics_retention_options *o)
{
    o->minute_keep_s = METRICS_DEFAULT_MINUTE_KEEP_S;
    o->hour_keep_s = METRICS_DEFAULT_HOUR_KEEP_S;
    o->recent_keep_s = METRICS_DEFAULT_RECENT_KEEP_S;
    o->batch_rows = METRICS_DEFAULT_BATCH_ROWS;
    o->interval_s = METRICS_DEFAULT_INTERVAL_S;
    o->pause_us = 500;
}

/* Ten thousand years: beyond it times in seconds stop being meaningful and
 * products of retentions could overflow. */
#define KEEP_MAX_S (10000LL * 366 * 86400)

/* "14d", "1d12h", "90s": a retention as people write it. */
static const char *fmt_duration(int64_t s, char *out, size_t cap)
{
    static const struct {
        char unit;
        int64_t s;
    } units[] = {{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}};
    size_t n = 0;

    out[0] = '\0';
    if (s <= 0) {
        snprintf(out, cap, "%lld", (long long)s);
        return out;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0] && n < cap; i++) {
        if (s >= units[i].s) {
            int w = snprintf(out + n, cap - n, "%lld%c", (long long)(s / units[i].s), units[i].unit);
            n += w > 0 ? (size_t)w : 0;
            s %= units[i].s;
        }
    }
    return out;
}

roost_status metrics_retention_check(const struct metrics_retention_options *o, roost_error *err)
{
    char a[48], b[48];

    if (o->minute_keep_s < 3600 || o->minute_keep_s > KEEP_MAX_S)
        return roost_error_set(err, ROOST_EINVAL,
                               "--metrics-minute-retention is %s; it must be at least 1h "
                               "(minute rows are rolled up by whole hours)",
                               fmt_duration(o->minute_keep_s, a, sizeof a));
    if (o->hour_keep_s < o->minute_keep_s || o->hour_keep_s > KEEP_MAX_S)
        return roost_error_set(err, ROOST_EINVAL,
                               "--metrics-hour-retention (%s) is shorter than "
                               "--metrics-minute-retention (%s): hour rows would be deleted as "
                               "soon as they are made; make it at least as long",
                               fmt_duration(o->hour_keep_s, a, sizeof a),
                               fmt_duration(o->minute_keep_s, b, sizeof b));
    if (o->recent_keep_s != 0 && (o->recent_keep_s < 60 || o->recent_keep_s > KEEP_MAX_S))
        return roost_error_set(err, ROOST_EINVAL,
                               "--metrics-recent-retention is %s; it must be 0 (no 1-second "
                               "rows) or at least 1m",
                               fmt_duration(o->recent_keep_s, a, sizeof a));
    if (o->batch_rows < 1 || o->batch_rows > 100000)
        return roost_error_set(err, ROOST_EINVAL,
                               "metrics compaction batch is %u rows; it must be 1 to 100000",
                               o->batch_rows);
    if (o->interval_s < 1)
        return roost_error_set(err, ROOST_EINVAL, "metrics compaction interval must be >= 1 s");
    return ROOST_OK;
}

bool metrics_duration_parse(const char *text, int64_t *seconds)
{
    int64_t ms;

    /* Retention is kept in whole seconds: "1500ms" is not a retention. */
    if (!roost_duration_parse(text, &ms) || ms % 1000 != 0)
        return false;
    *seconds = ms / 1000;
    return true;
}

/* ---- the recent-rows mark ---------------------------------------------- */

/* The mark a pass at now_s leaves (metrics_ingest.h): never lowered, except
 * from off. */
static int64_t next_mark(int64_t current, const struct metrics_retention_options *o, int64_t now_s)
{
    int64_t target;

    if (o->recent_keep_s == 0)
        return METRICS_RECENT_OFF;
    if (current == METRICS_RECENT_OFF)
        return now_s;
    target = now_s - o->recent_keep_s;
    return target > current ? target : current;
}

static roost_status update_mark(struct store *st, const struct metrics_retention_options *o,
                                int64_t now_s, int64_t *mark, roost_error *err)
{
    struct store_txn t;
    int64_t cur, next;
    roost_status rc;

    if ((rc = store_begin(st, true, &t, err)) != ROOST_OK)
        return rc;
    if ((rc = metrics_recent_from(&t, &cur, err)) != ROOST_OK) {
        store_abort(&t);
        return rc;
    }
    next = next_mark(cur, o, now_s);
    *mark = next;
    if (next == cur) {
        store_abort(&t);
        return ROOST_OK;
    }
    if ((rc = metrics_recent_from_set(&t, next, err)) != ROOST_OK) {
        store_abort(&t);
        return rc;
    }
    return store_commit(&t, err);
}

roost_status metrics_retention_init(struct store *st, const struct metrics_retention_options *o,
                                    int64_t now_s, roost_error *err)
{
    int64_t mark;

    return update_mark(st, o, now_s, &mark, err);
}

/* ---- batches ------------------------------------------------------------ */

struct batch {
    uint8_t (*keys)[METRICS_KEY_MAX + 1];
    size_t *lens;
    size_t n, cap;
    /* Where the next scan starts (inclusive); empty = the table's start. */
    uint8_t resume[METRICS_KEY_MAX + 1];
    size_t resume_len;
    bool done; /* the scan reached the end of the table */
};

/* Finds up to b->cap keys of tbl whose time is below cutoff, from b->resume
 * on (see the file comment). */
static roost_status scan(struct store *st, enum store_table tbl, uint64_t cutoff, struct batch *b,
                         roost_error *err)
{
    uint8_t seek[METRICS_KEY_MAX + 1];
    size_t seeks = 0, seek_max = 64 * b->cap;
    struct store_txn t;
    struct store_iter it;
    struct store_val k, v;
    roost_status rc;

    b->n = 0;
    if ((rc = store_begin(st, false, &t, err)) != ROOST_OK)
        return rc;
    if ((rc = store_iter_open(&t, tbl, NULL, 0, &it, err)) != ROOST_OK) {
        store_abort(&t);
        return rc;
    }
    if (b->resume_len)
        store_iter_seek(&it, b->resume, b->resume_len);
    b->done = true;
    while (store_iter_next(&it, &k, &v)) {
        const uint8_t *key = k.data;

        /* Keys end with "...version \0 | u64 time"; anything else is not a
         * row key ingest wrote, and is left alone. */
        if (k.len < 1 + 6 + 8 || k.len > METRICS_KEY_MAX || key[k.len - 9] != '\0')
            continue;
        if (b->n == b->cap || seeks == seek_max) {
            /* Resume here next time: this key has not been looked at. */
            memcpy(b->resume, key, k.len);
            b->resume_len = k.len;
            b->done = false;
            break;
        }
        if (store_u64_from_key(key + k.len - 8) < cutoff) {
            memcpy(b->keys[b->n], key, k.len);
            b->lens[b->n++] = k.len;
            /* Just after this key: the smallest key greater than it. */
            memcpy(b->resume, key, k.len);
            b->resume[k.len] = '\0';
            b->resume_len = k.len + 1;
            continue;
        }
        /* The rest of this label set is newer: seek past it. */
        memcpy(seek, key, k.len - 8);
        seek[k.len - 9] = 0x01;
        store_iter_seek(&it, seek, k.len - 8);
        seeks++;
    }
    store_iter_close(&it);
    store_abort(&t);
    return ROOST_OK;
}

/* Names a minute row in messages. */
static void describe_key(const uint8_t *key, size_t len, char *out, size_t cap)
{
    char buf[METRICS_KEY_MAX];
    struct metrics_series s;
    int64_t minute;

    if (len <= sizeof buf && metrics_key_decode(key, len, buf, &s, &minute))
        snprintf(out, cap,
                 "minute row (scope kind %u, scope \"%.128s\", arm \"%.64s\", metric \"%.64s\", "
                 "minute %lld)",
                 (unsigned)s.scope_kind, s.scope_key, s.arm, s.metric, (long long)minute);
    else
        snprintf(out, cap, "a minute row (%zu-byte key)", len);
}

struct pass_ctx {
    struct store *st;
    const struct metrics_retention_options *o;
    struct metrics_merger *merger;
    struct metrics_retention_stats *stats;
    char first_skip[ROOST_ERROR_MSG_MAX];
};

/* Deletes the batch's keys from tbl, or (roll_up) merges each minute row
 * into its hour row and deletes it. One write transaction. */
static roost_status handle(struct pass_ctx *c, enum store_table tbl, bool roll_up,
                           const struct batch *b, roost_error *err)
{
    uint64_t changed = 0;
    struct store_txn t;
    roost_status rc;

    if ((rc = store_begin(c->st, true, &t, err)) != ROOST_OK)
        return rc;
    for (size_t i = 0; i < b->n; i++) {
        const uint8_t *key = b->keys[i];
        const size_t len = b->lens[i];

        if (roll_up) {
            uint8_t hour_key[METRICS_KEY_MAX];
            struct store_val v;
            struct metrics_row row;
            roost_error why = {0};
            char where[400];

            rc = store_get(&t, tbl, key, len, &v, err);
            if (rc == ROOST_ENOTFOUND)
                continue; /* gone since the scan */
            if (rc != ROOST_OK)
                goto fail;
            describe_key(key, len, where, sizeof where);
            memcpy(hour_key, key, len - 8);
            store_u64_key(store_u64_from_key(key + len - 8) / 60, hour_key + len - 8);
            rc = metrics_row_decode(v.data, v.len, &row, &why);
            if (rc == ROOST_OK)
                rc = metrics_row_add(&t, c->merger, TBL_METRICS_HOURS, hour_key, len, &row, where,
                                     &why);
            if (rc == ROOST_EINVAL || rc == ROOST_ECORRUPT) {
                /* Nothing was written for it: it stays a minute row. */
                if (!c->stats->skipped++)
                    snprintf(c->first_skip, sizeof c->first_skip, "%s", why.msg);
                continue;
            }
            if (rc != ROOST_OK) {
                roost_error_set(err, rc, "%s", why.msg);
                goto fail;
            }
            c->stats->rolled_minutes++;
        } else if (tbl == TBL_METRICS_RECENT) {
            c->stats->deleted_recent++;
        } else {
            c->stats->deleted_hours++;
        }
        if ((rc = store_del(&t, tbl, key, len, err)) != ROOST_OK)
            goto fail;
        changed++;
    }
    if (changed == 0) {
        store_abort(&t);
        return ROOST_OK;
    }
    if ((rc = store_commit(&t, err)) != ROOST_OK)
        return rc;
    c->stats->transactions++;
    if (changed > c->stats->max_txn_rows)
        c->stats->max_txn_rows = changed;
    return ROOST_OK;

fail:
    store_abort(&t);
    return rc;
}

static void pause_between(const struct metrics_retention_options *o)
{
    struct timespec ts = {0, (long)o->pause_us * 1000};

    if (o->pause_us == 0)
        return;
    ts.tv_sec = o->pause_us / 1000000;
    ts.tv_nsec = (long)(o->pause_us % 1000000) * 1000;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* One job: every row of tbl with time below cutoff. */
static roost_status job(struct pass_ctx *c, enum store_table tbl, uint64_t cutoff, bool roll_up,
                        struct batch *b, const atomic_bool *stop, roost_error *err)
{
    roost_status rc;

    b->resume_len = 0;
    do {
        if (stop && atomic_load(stop))
            return ROOST_OK;
        if ((rc = scan(c->st, tbl, cutoff, b, err)) != ROOST_OK)
            return rc;
        if (b->n) {
            uint64_t before = c->stats->transactions;
            if ((rc = handle(c, tbl, roll_up, b, err)) != ROOST_OK)
                return rc;
            if (c->stats->transactions != before && !b->done)
                pause_between(c->o);
        }
    } while (!b->done);
    return ROOST_OK;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && a < 0);
}

roost_status metrics_retention_pass(struct store *st, const struct metrics_retention_options *o,
                                    int64_t now_s, const atomic_bool *stop,
                                    struct metrics_retention_stats *stats, roost_error *err)
{
    struct metrics_retention_stats local;
    struct pass_ctx c = {st, o, NULL, stats ? stats : &local, ""};
    struct batch b = {0};
    int64_t mark, hours_before, minutes_before;
    roost_status rc;

    memset(c.stats, 0, sizeof *c.stats);
    if ((rc = metrics_retention_check(o, err)) != ROOST_OK)
        return rc;
    b.cap = o->batch_rows;
    b.keys = malloc(b.cap * sizeof *b.keys);
    b.lens = malloc(b.cap * sizeof *b.lens);
    if (!b.keys || !b.lens || metrics_merger_new(&c.merger, err) != ROOST_OK) {
        free(b.keys);
        free(b.lens);
        return roost_error_set(err, ROOST_ENOMEM, "out of memory compacting the metrics store");
    }

    /* 1. Recent rows: raise the mark, then delete below it. */
    if ((rc = update_mark(st, o, now_s, &mark, err)) != ROOST_OK ||
        (rc = job(&c, TBL_METRICS_RECENT, (uint64_t)(mark < 0 ? 0 : mark), false, &b, stop,
                  err)) != ROOST_OK)
        goto out;
    /* 2. Minute rows of whole hours older than the minute retention. */
    minutes_before = floor_div(now_s - o->minute_keep_s, 3600) * 60;
    if (minutes_before > 0 &&
        (rc = job(&c, TBL_METRICS, (uint64_t)minutes_before, true, &b, stop, err)) != ROOST_OK)
        goto out;
    /* 3. Hour rows that ended before the hour retention. */
    hours_before = floor_div(now_s - o->hour_keep_s, 3600);
    if (hours_before > 0 &&
        (rc = job(&c, TBL_METRICS_HOURS, (uint64_t)hours_before, false, &b, stop, err)) !=
            ROOST_OK)
        goto out;

out:
    if (c.stats->skipped) {
        struct log_line l;
        log_begin(&l, LOG_WARN, "metrics_rollup_skipped");
        log_u64(&l, "rows", c.stats->skipped);
        log_str(&l, "first_error", c.first_skip);
        log_str(&l, "effect", "these rows stay at minute resolution; queries still count them");
        log_end(&l);
    }
    metrics_merger_free(c.merger);
    free(b.keys);
    free(b.lens);
    return rc;
}

/* ---- the background thread --------------------------------------------- */

struct metrics_retention {
    struct store *st;
    struct metrics_retention_options o;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* signalled on stop */
    atomic_bool stopping;
};

static void *retention_main(void *arg)
{
    struct metrics_retention *r = arg;

    for (;;) {
        struct metrics_retention_stats s;
        struct timespec t0, t1, until;
        roost_error err = {0};
        struct log_line l;
        roost_status rc;

        clock_gettime(CLOCK_MONOTONIC, &t0);
        rc = metrics_retention_pass(r->st, &r->o, (int64_t)time(NULL), &r->stopping, &s, &err);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (rc != ROOST_OK) {
            log_begin(&l, LOG_ERROR, "metrics_retention_failed");
            log_str(&l, "error", err.msg);
            log_u64(&l, "retry_in_s", r->o.interval_s);
            log_end(&l);
        } else if (s.transactions) {
            log_begin(&l, LOG_INFO, "metrics_retention");
            log_u64(&l, "rolled_minutes", s.rolled_minutes);
            log_u64(&l, "deleted_recent", s.deleted_recent);
            log_u64(&l, "deleted_hours", s.deleted_hours);
            log_u64(&l, "transactions", s.transactions);
            log_f64(&l, "ms", (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
                                  (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
            log_end(&l);
        }

        until = t1;
        until.tv_sec += r->o.interval_s;
        pthread_mutex_lock(&r->mu);
        while (!atomic_load(&r->stopping) &&
               pthread_cond_timedwait(&r->cv, &r->mu, &until) != ETIMEDOUT)
            ;
        pthread_mutex_unlock(&r->mu);
        if (atomic_load(&r->stopping))
            return NULL;
    }
}

roost_status metrics_retention_start(struct store *st, const struct metrics_retention_options *o,
                                     struct metrics_retention **out, roost_error *err)
{
    struct metrics_retention *r;
    pthread_condattr_t ca;
    roost_status rc;

    if ((rc = metrics_retention_check(o, err)) != ROOST_OK ||
        (rc = metrics_retention_init(st, o, (int64_t)time(NULL), err)) != ROOST_OK)
        return rc;
    if (!(r = calloc(1, sizeof *r)))
        return roost_error_set(err, ROOST_ENOMEM, "out of memory starting metrics retention");
    r->st = st;
    r->o = *o;
    atomic_init(&r->stopping, false);
    pthread_mutex_init(&r->mu, NULL);
    /* Timed waits on the monotonic clock: a wall-clock step neither stalls
     * nor races the passes. */
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&r->thread, NULL, retention_main, r) != 0) {
        pthread_cond_destroy(&r->cv);
        pthread_mutex_destroy(&r->mu);
        free(r);
        return roost_error_set(err, ROOST_EINTERNAL, "cannot start the metrics retention thread");
    }
    *out = r;
    return ROOST_OK;
}

void metrics_retention_stop(struct metrics_retention *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    atomic_store(&r->stopping, true);
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r);
}
