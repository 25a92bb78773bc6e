/* C SDK integration support. See sdk_support.h. */
#include "sdk_support.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "roost/sketch.h"
#include "server/metrics_ingest.h"
#include "server/store.h"

void sdk_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

void sdk_tsan_children(void)
{
#ifdef __SANITIZE_THREAD__
    static char path[600], opts[700];
    const char *base = getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp";

    snprintf(path, sizeof path, "%s/sdk-tsan-%d.supp", base, (int)getpid());
    harness_write_file(path, SDK_TSAN_SUPPRESSIONS);
    /* roostd's worker threads hand calls to each other through gRPC's
     * completion queue, which TSan cannot see either, so it reports races
     * in server/rpc.c that are not. roostd is not what these suites test:
     * its reports stay in its log but do not change its exit status. */
    snprintf(opts, sizeof opts, "suppressions=%s exitcode=0", path);
    setenv("TSAN_OPTIONS", opts, 1);
#endif
}

void sdk_test_options(roost_client_options *o, const struct roostd_proc *p,
                      struct sdk_events *rec)
{
    roost_client_options_init(o);
    o->target = p->addr;
    o->backoff_initial_ms = 200;
    o->backoff_max_ms = 1000;
    o->flush_interval_ms = 200;
    o->connect_timeout_ms = 2000;
    o->report_timeout_ms = 3000;
    o->close_timeout_ms = 3000;
    o->service = "checkout-svc";
    o->environment = "test";
    o->version = "1.2.3";
    if (rec) {
        o->on_event = sdk_events_record;
        o->event_user = rec;
    }
}

void sdk_events_init(struct sdk_events *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
}

void sdk_events_destroy(struct sdk_events *r)
{
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
}

/* names[0..n) as "a,b,c" into out. */
static void join(char *out, size_t cap, const char *const *names, size_t n)
{
    size_t used = 0;

    out[0] = '\0';
    for (size_t i = 0; i < n && used + 1 < cap; i++) {
        int k = snprintf(out + used, cap - used, "%s%s", i ? "," : "", names[i]);
        if (k < 0)
            break;
        used += (size_t)k;
    }
}

void sdk_events_record(void *user, const roost_event *ev)
{
    struct sdk_events *r = user;
    struct sdk_event_copy *e;

    pthread_mutex_lock(&r->mu);
    if (r->n < SDK_EVENTS_MAX) {
        e = &r->ev[r->n];
        memset(e, 0, sizeof *e);
        e->type = ev->type;
        e->state = ev->state;
        e->revision = ev->revision;
        e->from_cache = ev->from_cache;
        e->status = ev->status;
        snprintf(e->message, sizeof e->message, "%s", ev->message);
        join(e->keys, sizeof e->keys, ev->keys, ev->nkeys);
        join(e->rollouts, sizeof e->rollouts, ev->rollouts, ev->nrollouts);
        join(e->probes, sizeof e->probes, ev->probes, ev->nprobes);
        join(e->experiments, sizeof e->experiments, ev->experiments, ev->nexperiments);
        r->n++;
        pthread_cond_broadcast(&r->cv);
    }
    pthread_mutex_unlock(&r->mu);
}

int sdk_events_wait(struct sdk_events *r, roost_event_type type, size_t from, double timeout_s)
{
    double deadline = harness_now() + timeout_s;
    int found = -1;

    pthread_mutex_lock(&r->mu);
    for (;;) {
        for (size_t i = from; i < r->n; i++) {
            if (r->ev[i].type == type) {
                found = (int)i;
                break;
            }
        }
        if (found >= 0 || harness_now() >= deadline)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&r->cv, &r->mu, &ts);
    }
    pthread_mutex_unlock(&r->mu);
    return found;
}

/* Whether the comma-separated list holds name. */
static bool listed(const char *list, const char *name)
{
    size_t n = strlen(name);

    for (const char *p = list; (p = strstr(p, name)); p += n)
        if ((p == list || p[-1] == ',') && (p[n] == '\0' || p[n] == ','))
            return true;
    return false;
}

int sdk_events_wait_change(struct sdk_events *r, const char *kind, const char *name, size_t from,
                           double timeout_s)
{
    double deadline = harness_now() + timeout_s;

    for (;;) {
        pthread_mutex_lock(&r->mu);
        for (size_t i = from; i < r->n; i++) {
            const struct sdk_event_copy *e = &r->ev[i];
            const char *list = strcmp(kind, "rollouts") == 0      ? e->rollouts
                               : strcmp(kind, "probes") == 0      ? e->probes
                               : strcmp(kind, "experiments") == 0 ? e->experiments
                                                                  : e->keys;
            if (e->type == ROOST_EVENT_CONFIGURATION_CHANGED && listed(list, name)) {
                pthread_mutex_unlock(&r->mu);
                return (int)i;
            }
        }
        pthread_mutex_unlock(&r->mu);
        if (harness_now() >= deadline)
            return -1;
        sdk_sleep_ms(10);
    }
}

size_t sdk_events_count(struct sdk_events *r)
{
    size_t n;

    pthread_mutex_lock(&r->mu);
    n = r->n;
    pthread_mutex_unlock(&r->mu);
    return n;
}

uint64_t sdk_apply_flags(struct roostd_proc *p, const char *checkout, const char *banner)
{
    char path[700], doc[1024], out[4096], err[4096];
    const char *args[] = {"--json", "apply", "-f", path, NULL};
    int rc;

    snprintf(path, sizeof path, "%s.flags.json", p->data_dir);
    snprintf(doc, sizeof doc,
             "{\"flags\": {"
             "\"new-checkout\": {\"state\": \"ENABLED\", \"variants\": {\"on\": true, \"off\": "
             "false}, \"defaultVariant\": \"%s\"},"
             "\"banner\": {\"state\": \"ENABLED\", \"variants\": {\"blue\": \"Blue banner\", "
             "\"green\": \"Green banner\"}, \"defaultVariant\": \"%s\"}}}",
             checkout, banner);
    harness_write_file(path, doc);
    rc = roostctl_run(p, out, sizeof out, err, sizeof err, args);
    if (rc != 0) {
        fprintf(stderr, "apply failed (%d): %s\n", rc, err);
        return 0;
    }
    return harness_json_u64(out, "revision");
}

uint64_t sdk_apply_document(struct roostd_proc *p, const char *doc)
{
    char path[700], out[4096], err[4096];
    /* Generous: under ThreadSanitizer roostd's split check of an
     * experiment's flag takes seconds. */
    const char *args[] = {"--json", "--timeout", "60", "apply", "-f", path, NULL};
    int rc;

    snprintf(path, sizeof path, "%s.doc.json", p->data_dir);
    harness_write_file(path, doc);
    rc = roostctl_run(p, out, sizeof out, err, sizeof err, args);
    if (rc != 0) {
        fprintf(stderr, "apply failed (%d): %s\n", rc, err);
        return 0;
    }
    return harness_json_u64(out, "revision");
}

uint64_t sdk_status_u64(struct roostd_proc *p, const char *field)
{
    char out[8192];
    const char *args[] = {"--json", "status", NULL};

    if (roostctl_run(p, out, sizeof out, NULL, 0, args) != 0)
        return UINT64_MAX;
    return harness_json_u64(out, field);
}

bool sdk_roostd_restart(struct roostd_proc *p)
{
    static char listen[64];

    snprintf(listen, sizeof listen, "%s", p->addr);
    p->extra[0] = "--listen";
    p->extra[1] = listen;
    p->extra[2] = NULL;
    return roostd_start(p);
}

bool sdk_stored_series(const struct roostd_proc *p, int kind, const char *scope, const char *arm,
                       const char *metric, struct sdk_stored *out)
{
    struct store_options so = {0, 0};
    struct store *st;
    struct store_txn t;
    struct store_iter it;
    struct store_val k, v;
    uint8_t prefix[METRICS_KEY_MAX];
    size_t plen = 0;
    roost_error err;
    roost_sketch_bucket *buckets = malloc(METRICS_SKETCH_CAP * sizeof *buckets);
    roost_sketch sk;

    memset(out, 0, sizeof *out);
    if (!buckets || store_open(p->data_dir, &so, &st, &err) != ROOST_OK) {
        fprintf(stderr, "cannot open the store: %s\n", err.msg);
        free(buckets);
        return false;
    }
    roost_sketch_init(&sk, buckets, METRICS_SKETCH_CAP);
    prefix[0] = (uint8_t)kind;
    plen = 1;
    memcpy(prefix + plen, scope, strlen(scope) + 1);
    plen += strlen(scope) + 1;
    memcpy(prefix + plen, arm, strlen(arm) + 1);
    plen += strlen(arm) + 1;
    memcpy(prefix + plen, metric, strlen(metric) + 1);
    plen += strlen(metric) + 1;
    if (store_begin(st, false, &t, &err) == ROOST_OK &&
        store_iter_open(&t, TBL_METRICS, prefix, plen, &it, &err) == ROOST_OK) {
        while (store_iter_next(&it, &k, &v)) {
            struct metrics_row row;
            if (metrics_row_decode(v.data, v.len, &row, &err) != ROOST_OK)
                continue;
            out->rows++;
            out->count += row.count;
            out->successes += row.successes;
            out->sum += row.sum;
            out->sum_squares += row.sum_squares;
            if (row.sketch_len && roost_sketch_decode(&sk, row.sketch, row.sketch_len) == ROOST_OK)
                out->sketch_count += sk.count;
        }
        store_iter_close(&it);
        store_abort(&t);
    }
    store_close(st);
    free(buckets);
    return true;
}
