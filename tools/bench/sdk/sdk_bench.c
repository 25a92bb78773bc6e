/* C SDK benchmark (docs/BENCHMARKS.md, "C SDK"). One mode per run, one JSON
 * line of results per mode; tools/bench/sdk/run.sh runs them repeatedly
 * against real roostd processes and takes medians.
 *
 *   sdk_bench --mode eval    --target ADDR --flags FILE   evaluation: client API vs bare engine
 *   sdk_bench --mode observe --target ADDR                recording one outcome
 *   sdk_bench --mode deliver --target ADDR                outcomes/s one client aggregates and delivers
 *   sdk_bench --mode ingest  --target ADDR                Report batches/s roostd ingests
 *   sdk_bench --mode memory  --target ADDR                client memory (idle / with the server's flags)
 *
 * Single-thread timings use the thread's CPU clock (CLOCK_THREAD_CPUTIME_ID)
 * so that other jobs on a shared machine do not inflate them; each is the
 * median of 9 repetitions. Throughputs use the wall clock.
 *
 * The bare-engine baseline compiles the same flags document with roostd's
 * compiler, loads the images and builds a flag set exactly as the SDK does,
 * then times roostd_flagset_find + roost_eval_* with the same key and
 * context: the difference is what the client API adds (the hazard slot,
 * the NULL checks, copying details).
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compile.h"
#include "roost/client.h"
#include "roost/engine.h"
#include "roost/sketch.h"
#include "roost/v1/roost.pb-c.h"
#include "tools/lib/rpcclient.h"

#define REPS 9

static const char *target;
static const char *flags_path;
static double seconds = 3;
static int threads = 2;

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "sdk_bench: %s: %s\n", what, msg);
    exit(1);
}

static roost_client *connect_client(size_t memory_limit)
{
    roost_client_options o;
    roost_client *c;
    roost_error err;

    roost_client_options_init(&o);
    o.target = target;
    o.service = "bench";
    if (memory_limit)
        o.outcome_memory_limit = memory_limit;
    if (roost_client_new(&o, &c, &err) || roost_client_start(c, &err))
        die("client", err.msg);
    if (roost_client_wait_ready(c, 5000) != ROOST_OK)
        die("client", "not ready within 5 s");
    return c;
}

/* ---- evaluation ------------------------------------------------------- */

/* Sink so the compiler cannot drop the loops. */
static volatile int64_t sink;

struct engine_set {
    roost_compiled_set *set;
    roost_flag *flags;
    uint32_t *slots;
    roost_flagset fs;
};

static void engine_load(struct engine_set *e)
{
    roost_error err;
    cJSON *doc;
    size_t n;

    if (roost_json_parse_file(flags_path, &doc, &err) ||
        roost_compile_flagset(doc, &e->set, &err))
        die(flags_path, err.msg);
    cJSON_Delete(doc);
    n = roost_compiled_set_count(e->set);
    e->flags = calloc(n, sizeof *e->flags);
    e->slots = calloc(ROOST_FLAGSET_SLOTS(n), sizeof *e->slots);
    for (size_t i = 0; i < n; i++) {
        const roost_compiled_flag *f = roost_compiled_set_flag(e->set, i);
        if (roost_flag_load(&e->flags[i], f->image, f->image_len, &err))
            die("load", err.msg);
    }
    if (roost_flagset_init(&e->fs, e->flags, n, e->slots, ROOST_FLAGSET_SLOTS(n), &err))
        die("flagset", err.msg);
}

/* BARE_RESULT fills the engine's roost_result, the baseline for
 * CLIENT_DETAILS (which fills roost_details from it). */
enum eval_how { BARE, BARE_RESULT, CLIENT, CLIENT_DETAILS };

/* One timed pass of `how` (ns per evaluation, thread CPU time). */
static double eval_pass(enum eval_how how, struct engine_set *e, roost_client *c, const char *key,
                        const roost_ctx *ctx, long iters)
{
    int64_t acc = 0;
    double t0 = cpu_now();
    roost_details d;
    roost_result res;

    switch (how) {
    case BARE:
        for (long i = 0; i < iters; i++)
            acc += roost_eval_bool(roost_flagset_find(&e->fs, key, strlen(key)), ctx, false, NULL);
        break;
    case BARE_RESULT:
        for (long i = 0; i < iters; i++)
            acc += roost_eval_bool(roost_flagset_find(&e->fs, key, strlen(key)), ctx, false, &res);
        break;
    case CLIENT:
        for (long i = 0; i < iters; i++)
            acc += roost_client_bool(c, key, ctx, false, NULL);
        break;
    case CLIENT_DETAILS:
        for (long i = 0; i < iters; i++)
            acc += roost_client_bool(c, key, ctx, false, &d);
        break;
    }
    sink += acc;
    return (cpu_now() - t0) / (double)iters * 1e9;
}

/* Medians of REPS rounds; each round runs the four ways back to back, so
 * that a noisy moment on a shared machine hits all of them alike. */
static void time_evals(struct engine_set *e, roost_client *c, const char *key,
                       const roost_ctx *ctx, long iters, double out[4])
{
    double t[4][REPS];

    for (int r = 0; r < REPS; r++)
        for (int how = 0; how < 4; how++)
            t[how][r] = eval_pass((enum eval_how)how, e, c, key, ctx, iters);
    for (int how = 0; how < 4; how++)
        out[how] = median(t[how], REPS);
}

static void mode_eval(void)
{
    struct engine_set e;
    roost_client *c = connect_client(0);
    roost_context *ctx;
    const long iters = 1000000;
    double st[4], tg[4];

    engine_load(&e);
    roost_context_new(4, 0, &ctx);
    roost_context_set_targeting_key(ctx, "user-12345");
    roost_context_set_string(ctx, "email", "someone@mail.test");
    /* flag-0: no targeting; flag-1: fractional split on the targeting key.
     * The client must serve the same flags and agree on the value, or the
     * comparison is void. */
    {
        roost_client_stats cs;
        roost_details d;
        roost_client_get_stats(c, &cs);
        roost_client_bool(c, "flag-1", roost_context_ctx(ctx), false, &d);
        if (cs.flags != roost_compiled_set_count(e.set) || d.error != ROOST_EVAL_OK)
            die("eval", "roostd does not serve the --flags document (apply it first)");
    }
    if (roost_eval_bool(roost_flagset_find(&e.fs, "flag-1", 6), roost_context_ctx(ctx), false,
                        NULL) != roost_client_bool(c, "flag-1", roost_context_ctx(ctx), false, NULL))
        die("eval", "the client and the bare engine disagree on flag-1");
    time_evals(&e, c, "flag-0", roost_context_ctx(ctx), iters, st);
    time_evals(&e, c, "flag-1", roost_context_ctx(ctx), iters, tg);
    printf("{\"mode\":\"eval\",\"flags\":%zu,\"static_bare_ns\":%.2f,\"static_client_ns\":%.2f,"
           "\"static_bare_result_ns\":%.2f,\"static_client_details_ns\":%.2f,"
           "\"targeted_bare_ns\":%.2f,\"targeted_client_ns\":%.2f,"
           "\"targeted_bare_result_ns\":%.2f,\"targeted_client_details_ns\":%.2f,"
           "\"static_overhead_ns\":%.2f,\"targeted_overhead_ns\":%.2f,"
           "\"static_details_overhead_ns\":%.2f,\"targeted_details_overhead_ns\":%.2f}\n",
           roost_compiled_set_count(e.set), st[BARE], st[CLIENT], st[BARE_RESULT],
           st[CLIENT_DETAILS], tg[BARE], tg[CLIENT], tg[BARE_RESULT], tg[CLIENT_DETAILS],
           st[CLIENT] - st[BARE], tg[CLIENT] - tg[BARE], st[CLIENT_DETAILS] - st[BARE_RESULT],
           tg[CLIENT_DETAILS] - tg[BARE_RESULT]);
    roost_context_free(ctx);
    roost_client_close(c, NULL);
}

/* ---- observe ---------------------------------------------------------- */

struct obs_thread {
    roost_series *s;
    long iters;
    double ns;
};

static void *observe_loop(void *arg)
{
    struct obs_thread *o = arg;
    double t0 = cpu_now();

    for (long i = 0; i < o->iters; i++)
        roost_series_observe(o->s, 10.0 + (double)(i & 1023) * 0.37, i & 1);
    o->ns = (cpu_now() - t0) / (double)o->iters * 1e9;
    return NULL;
}

static void mode_observe(void)
{
    roost_client *c = connect_client(64u << 20);
    roost_series *s;
    const long iters = 2000000;
    double handle[REPS], named[REPS], par[REPS];
    roost_error err;

    if (roost_series_get(c, ROOST_SCOPE_ROLLOUT, "checkout-v2", "canary", "latency_ms", &s))
        die("series", "cannot create");
    for (int r = 0; r < REPS; r++) {
        double t0 = cpu_now();
        for (long i = 0; i < iters; i++)
            roost_series_observe(s, 10.0 + (double)(i & 1023) * 0.37, i & 1);
        handle[r] = (cpu_now() - t0) / (double)iters * 1e9;
        t0 = cpu_now();
        for (long i = 0; i < iters; i++)
            roost_observe(c, ROOST_SCOPE_ROLLOUT, "checkout-v2", "canary", "latency_ms",
                          10.0 + (double)(i & 1023) * 0.37, i & 1);
        named[r] = (cpu_now() - t0) / (double)iters * 1e9;
        /* `threads` threads on the same series at once (per-thread shards). */
        {
            pthread_t th[64];
            struct obs_thread ot[64];
            double sum = 0;
            for (int i = 0; i < threads; i++) {
                ot[i] = (struct obs_thread){s, iters / 2, 0};
                pthread_create(&th[i], NULL, observe_loop, &ot[i]);
            }
            for (int i = 0; i < threads; i++) {
                pthread_join(th[i], NULL);
                sum += ot[i].ns;
            }
            par[r] = sum / threads;
        }
    }
    roost_client_flush(c, 30000, &err);
    printf("{\"mode\":\"observe\",\"series_ns\":%.2f,\"by_name_ns\":%.2f,\"threads\":%d,"
           "\"series_ns_per_thread\":%.2f}\n",
           median(handle, REPS), median(named, REPS), threads, median(par, REPS));
    roost_client_close(c, NULL);
}

/* ---- deliver ---------------------------------------------------------- */

struct deliver_thread {
    roost_series **series;
    int nseries;
    double until;
    uint64_t recorded;
};

static void *deliver_loop(void *arg)
{
    struct deliver_thread *d = arg;
    uint64_t n = 0;

    while (wall_now() < d->until) {
        for (int k = 0; k < 1000; k++, n++)
            roost_series_observe(d->series[n % (uint64_t)d->nseries],
                                 5.0 + (double)(n & 4095) * 0.11, n % 7 != 0);
    }
    d->recorded = n;
    return NULL;
}

static void mode_deliver(void)
{
    enum { SCOPES = 10, ARMS = 2, METRICS = 5, NSERIES = SCOPES * ARMS * METRICS };
    roost_client *c = connect_client(64u << 20);
    roost_series *series[NSERIES];
    struct deliver_thread d[64];
    pthread_t th[64];
    roost_client_stats st;
    roost_error err;
    uint64_t total = 0;
    double t0, t_rec, t_done;
    int n = 0;

    for (int s = 0; s < SCOPES; s++)
        for (int a = 0; a < ARMS; a++)
            for (int m = 0; m < METRICS; m++) {
                char scope[32], metric[32];
                snprintf(scope, sizeof scope, "rollout-%d", s);
                snprintf(metric, sizeof metric, "metric-%d", m);
                if (roost_series_get(c, ROOST_SCOPE_ROLLOUT, scope, a ? "canary" : "baseline",
                                     metric, &series[n++]))
                    die("series", "cannot create");
            }
    t0 = wall_now();
    for (int i = 0; i < threads; i++) {
        d[i] = (struct deliver_thread){series, NSERIES, t0 + seconds, 0};
        pthread_create(&th[i], NULL, deliver_loop, &d[i]);
    }
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        total += d[i].recorded;
    }
    t_rec = wall_now();
    if (roost_client_flush(c, 60000, &err) != ROOST_OK)
        die("flush", err.msg);
    t_done = wall_now();
    roost_client_get_stats(c, &st);
    printf("{\"mode\":\"deliver\",\"threads\":%d,\"series\":%d,\"recorded\":%llu,"
           "\"recorded_per_s\":%.0f,\"delivered_per_s\":%.0f,\"flush_s\":%.3f,"
           "\"batches\":%llu,\"dropped\":%llu,\"pending\":%llu}\n",
           threads, NSERIES, (unsigned long long)total, (double)total / (t_rec - t0),
           (double)total / (t_done - t0), t_done - t_rec, (unsigned long long)st.batches_acked,
           (unsigned long long)(st.dropped_memory_limit + st.dropped_series_limit +
                                st.dropped_rejected),
           (unsigned long long)st.pending_outcomes);
    roost_client_close(c, NULL);
}

/* ---- ingest ----------------------------------------------------------- */

enum { INGEST_AGGS = 50 };

struct ingest_thread {
    int index;
    double until;
    uint64_t batches, failures;
    double ms[1 << 16];
    size_t nms;
};

static void *ingest_loop(void *arg)
{
    struct ingest_thread *it = arg;
    struct rc_channel *ch;
    roost_error err;
    Roost__V1__ReportRequest req = ROOST__V1__REPORT_REQUEST__INIT;
    Roost__V1__ReportLabels labels = ROOST__V1__REPORT_LABELS__INIT;
    Roost__V1__OutcomeAggregate aggs[INGEST_AGGS], *ap[INGEST_AGGS];
    roost_sketch_bucket buckets[512];
    roost_sketch sk;
    uint8_t sketch_bytes[ROOST_SKETCH_ENCODED_MAX(512)];
    size_t sketch_len;
    char client[40], scopes[INGEST_AGGS][32];
    uint8_t *buf;
    size_t len;

    if (rc_channel_open(target, NULL, &ch, &err))
        die("channel", err.msg);
    /* A latency-like sketch of ~150 buckets, as one SDK interval holds. */
    roost_sketch_init(&sk, buckets, 512);
    for (int i = 0; i < 2000; i++)
        roost_sketch_add(&sk, 8.0 * (1.0 + (double)((i * 7919) % 1000) / 120.0));
    roost_sketch_encode(&sk, sketch_bytes, sizeof sketch_bytes, &sketch_len);
    snprintf(client, sizeof client, "bench-%d-%ld", it->index, (long)getpid());
    labels.service = "bench";
    labels.environment = "bench";
    labels.version = "1";
    req.client_id = client;
    req.labels = &labels;
    req.n_aggregates = INGEST_AGGS;
    req.aggregates = ap;
    for (int i = 0; i < INGEST_AGGS; i++) {
        roost__v1__outcome_aggregate__init(&aggs[i]);
        snprintf(scopes[i], sizeof scopes[i], "rollout-%d", i / 10);
        aggs[i].scope_kind = ROOST__V1__SCOPE_KIND__SCOPE_KIND_ROLLOUT;
        aggs[i].scope_key = scopes[i];
        aggs[i].arm = i % 2 ? "canary" : "baseline";
        aggs[i].metric = (char *[]){"latency_ms", "errors", "bytes", "cpu_ms", "queue_ms"}[i % 5];
        aggs[i].count = 2000;
        aggs[i].sum = sk.sum;
        aggs[i].sum_squares = sk.sum * 30;
        aggs[i].successes = 1990;
        aggs[i].sketch.data = sketch_bytes;
        aggs[i].sketch.len = sketch_len;
        ap[i] = &aggs[i];
    }
    /* Room for the largest minute and sequence varints as well. */
    for (int i = 0; i < INGEST_AGGS; i++)
        aggs[i].minute = INT64_MAX;
    req.sequence = UINT64_MAX;
    buf = malloc(roost__v1__report_request__get_packed_size(&req));
    for (uint64_t seq = 1; wall_now() < it->until; seq++) {
        struct rc_status st;
        uint8_t *resp;
        size_t rlen;
        double t0 = wall_now();
        for (int i = 0; i < INGEST_AGGS; i++)
            aggs[i].minute = (int64_t)time(NULL) / 60;
        req.sequence = seq;
        len = roost__v1__report_request__pack(&req, buf);
        rc_unary(ch, "/roost.v1.Sync/Report", buf, len, 10, &resp, &rlen, &st);
        free(resp);
        if (st.code == GRPC_STATUS_OK)
            it->batches++;
        else
            it->failures++;
        if (it->nms < sizeof it->ms / sizeof it->ms[0])
            it->ms[it->nms++] = (wall_now() - t0) * 1000;
    }
    free(buf);
    rc_channel_close(ch);
    return NULL;
}

static void mode_ingest(void)
{
    static struct ingest_thread it[16];
    pthread_t th[16];
    uint64_t batches = 0, failures = 0;
    double t0 = wall_now(), *all;
    size_t nall = 0;
    int n = threads > 16 ? 16 : threads;

    grpc_init();
    for (int i = 0; i < n; i++) {
        it[i].index = i;
        it[i].until = t0 + seconds;
        pthread_create(&th[i], NULL, ingest_loop, &it[i]);
    }
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        batches += it[i].batches;
        failures += it[i].failures;
        nall += it[i].nms;
    }
    all = malloc(nall * sizeof *all);
    nall = 0;
    for (int i = 0; i < n; i++) {
        memcpy(all + nall, it[i].ms, it[i].nms * sizeof *all);
        nall += it[i].nms;
    }
    printf("{\"mode\":\"ingest\",\"connections\":%d,\"aggregates_per_batch\":%d,"
           "\"batches_per_s\":%.0f,\"aggregates_per_s\":%.0f,\"p50_ms\":%.2f,\"failures\":%llu}\n",
           n, INGEST_AGGS, (double)batches / (wall_now() - t0),
           (double)batches * INGEST_AGGS / (wall_now() - t0), nall ? median(all, (int)nall) : 0,
           (unsigned long long)failures);
    free(all);
    grpc_shutdown();
}

/* ---- memory ----------------------------------------------------------- */

static long rss_kb(void)
{
    char line[256];
    long kb = -1;
    FILE *f = fopen("/proc/self/status", "r");

    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

static void mode_memory(void)
{
    struct mallinfo2 m0, m1;
    long r0, r1;
    roost_client *c;
    roost_client_stats st;

    m0 = mallinfo2();
    r0 = rss_kb();
    c = connect_client(0);
    usleep(500000); /* settle: the stream is up, the cache written */
    m1 = mallinfo2();
    r1 = rss_kb();
    roost_client_get_stats(c, &st);
    printf("{\"mode\":\"memory\",\"flags\":%u,\"heap_kib\":%.1f,\"rss_kib\":%ld,"
           "\"snapshot_kib\":%.1f,\"outcome_kib\":%.1f}\n",
           st.flags, (double)(m1.uordblks - m0.uordblks) / 1024, r1 - r0,
           (double)st.snapshot_memory / 1024, (double)st.outcome_memory / 1024);
    roost_client_close(c, NULL);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"mode", required_argument, NULL, 'm'},    {"target", required_argument, NULL, 't'},
        {"flags", required_argument, NULL, 'f'},   {"seconds", required_argument, NULL, 's'},
        {"threads", required_argument, NULL, 'n'}, {NULL, 0, NULL, 0},
    };
    const char *mode = NULL;
    int o;

    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'm': mode = optarg; break;
        case 't': target = optarg; break;
        case 'f': flags_path = optarg; break;
        case 's': seconds = atof(optarg); break;
        case 'n': threads = atoi(optarg); break;
        default: return 2;
        }
    }
    if (!mode || !target || threads < 1 || threads > 64) {
        fprintf(stderr, "usage: sdk_bench --mode eval|observe|deliver|ingest|memory --target "
                        "HOST:PORT [--flags FILE] [--seconds S] [--threads N]\n");
        return 2;
    }
    if (!strcmp(mode, "eval")) {
        if (!flags_path)
            die("eval", "--flags FILE (the document roostd was given) is required");
        mode_eval();
    } else if (!strcmp(mode, "observe")) {
        mode_observe();
    } else if (!strcmp(mode, "deliver")) {
        mode_deliver();
    } else if (!strcmp(mode, "ingest")) {
        mode_ingest();
    } else if (!strcmp(mode, "memory")) {
        mode_memory();
    } else {
        die("mode", mode);
    }
    return 0;
}
