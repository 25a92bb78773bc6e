/* C SDK benchmark of the release paths (docs/BENCHMARKS.md, "C SDK"):
 * roost_route, the request helpers, and evaluating a running experiment's
 * flag (the exposure check) against the same rule without an experiment.
 *
 *   route_bench --target ADDR [--threads N]
 *
 * Sets roostd up through the Admin API: one document with 16 rollouts (one
 * started, at 10 %), an experiment on a flag and a copy of that flag with
 * the same split rule and no experiment; starts the rollout and the
 * experiment; waits until the client holds them. Prints one JSON line.
 *
 * Single-thread timings are thread CPU time (CLOCK_THREAD_CPUTIME_ID), the
 * median of 9 rounds; each round runs every variant back to back so that a
 * noisy moment on a shared machine hits all of them alike.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <grpc/grpc.h>

#include "roost/client.h"
#include "roost/v1/roost.pb-c.h"
#include "tools/lib/rpcclient.h"

#define REPS 9
#define ITERS 1000000L
#define UNITS 1024 /* distinct keys cycled through: all hot in cache */

static const char *target;
static int threads = 2;
static volatile int64_t sink;

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
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
    fprintf(stderr, "route_bench: %s: %s\n", what, msg);
    exit(1);
}

/* ---- setting roostd up -------------------------------------------------- */

/* The split rule roostd writes for an experiment "green-button" at 100 %,
 * 50/50 (server/experiment/split.h), spelled out for the copy. */
#define SPLIT_RULE                                                                                \
    "{\"if\": [{\"var\": \"targetingKey\"}, {\"fractional\": [{\"cat\": [\"green-button/arms/\", " \
    "{\"var\": \"targetingKey\"}]}, [\"control\", 5000], [\"green\", 5000]]}, null]}"

static char *release_document(void)
{
    size_t cap = 16384, used = 0;
    char *doc = malloc(cap);

    used += (size_t)snprintf(
        doc + used, cap - used,
        "{\"metadata\": {\"flagSetId\": \"bench\"}, \"flags\": {"
        "\"checkout-button\": {\"state\": \"ENABLED\", \"variants\": {\"control\": \"blue\", "
        "\"green\": \"green\"}, \"defaultVariant\": \"control\"},"
        "\"checkout-button-copy\": {\"state\": \"ENABLED\", \"variants\": {\"control\": \"blue\", "
        "\"green\": \"green\"}, \"defaultVariant\": \"control\", \"targeting\": " SPLIT_RULE "}},"
        "\"experiments\": {\"green-button\": {\"hypothesis\": \"bench\", \"flag\": "
        "\"checkout-button\", \"control\": \"control\", \"metrics\": {\"primary\": {\"name\": "
        "\"conversion\", \"type\": \"binomial\", \"direction\": \"increase\", \"mde\": 0.05}}}},"
        "\"rollouts\": {");
    for (int i = 0; i < 16; i++)
        used += (size_t)snprintf(doc + used, cap - used,
                                 "%s\"rollout-%02d\": {\"service\": \"svc-%02d\", \"baseline\": "
                                 "\"v1\", \"canary\": \"v2\", \"steps\": [{\"setWeight\": 10}, "
                                 "{\"pause\": {}}, {\"setWeight\": 100}]}",
                                 i ? ", " : "", i, i);
    snprintf(doc + used, cap - used, "}}");
    return doc;
}

static void admin(struct rc_channel *ch, const char *method, const ProtobufCMessage *req)
{
    size_t len = protobuf_c_message_get_packed_size(req);
    uint8_t *buf = malloc(len + 1), *resp = NULL;
    struct rc_status st;
    size_t rlen;

    protobuf_c_message_pack(req, buf);
    rc_unary(ch, method, buf, len, 60, &resp, &rlen, &st);
    free(buf);
    free(resp);
    if (st.code != GRPC_STATUS_OK)
        die(method, st.message);
}

static void set_up(void)
{
    Roost__V1__ApplyRequest apply = ROOST__V1__APPLY_REQUEST__INIT;
    Roost__V1__RolloutCommandRequest rollout = ROOST__V1__ROLLOUT_COMMAND_REQUEST__INIT;
    Roost__V1__ExperimentCommandRequest exp = ROOST__V1__EXPERIMENT_COMMAND_REQUEST__INIT;
    struct rc_channel *ch;
    roost_error err;
    char *doc = release_document();

    if (rc_channel_open(target, NULL, &ch, &err) != ROOST_OK)
        die("connect", err.msg);
    apply.document.data = (uint8_t *)doc;
    apply.document.len = strlen(doc);
    apply.source_name = "route_bench";
    admin(ch, "/roost.v1.Admin/Apply", &apply.base);
    rollout.name = "rollout-07";
    rollout.command = "start";
    admin(ch, "/roost.v1.Admin/RolloutCommand", &rollout.base);
    exp.name = "green-button";
    exp.command = "start";
    admin(ch, "/roost.v1.Admin/ExperimentCommand", &exp.base);
    rc_channel_close(ch);
    free(doc);
}

static roost_client *connect_client(void)
{
    roost_client_options o;
    roost_client *c;
    roost_error err;
    roost_rollout_info r;
    roost_experiment_info e;

    roost_client_options_init(&o);
    o.target = target;
    o.service = "bench";
    o.flush_interval_ms = 60000; /* one exposure interval per minute */
    o.outcome_memory_limit = 64u << 20;
    if (roost_client_new(&o, &c, &err) || roost_client_start(c, &err))
        die("client", err.msg);
    if (roost_client_wait_ready(c, 5000) != ROOST_OK)
        die("client", "not ready within 5 s");
    for (int i = 0; i < 500; i++) {
        if (roost_rollout_status(c, "rollout-07", &r) == ROOST_OK && r.canary_weight_bp == 1000 &&
            roost_experiment_status(c, "green-button", &e) == ROOST_OK &&
            e.phase == ROOST_EXPERIMENT_RUNNING)
            return c;
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    die("client", "the rollout and the experiment did not arrive within 5 s");
    return NULL;
}

/* ---- timed passes ------------------------------------------------------- */

struct keys {
    roost_ctx ctx[UNITS];
    roost_ctx_attr attr[UNITS];
    char key[UNITS][24];
};

static void keys_init(struct keys *k)
{
    for (int i = 0; i < UNITS; i++) {
        snprintf(k->key[i], sizeof k->key[i], "user-%d", i * 7919);
        roost_ctx_init(&k->ctx[i], &k->attr[i], 1);
        roost_ctx_set_targeting_key(&k->ctx[i], k->key[i]);
    }
}

enum pass {
    ROUTE_KEY,      /* roost_route, sticky on a targeting key */
    ROUTE_DETAILS,  /* ... filling roost_route_details (version copied out) */
    ROUTE_NO_KEY,   /* roost_route at random (per-thread generator) */
    ROUTE_UNKNOWN,  /* a rollout name not in the configuration */
    REQUEST,        /* roost_request_begin + roost_request_end */
    SERIES_OBSERVE, /* roost_series_observe: what end records, alone */
    EVAL_SPLIT,     /* the split rule, no experiment: plain evaluation */
    EVAL_EXPOSURE,  /* the experiment's flag: evaluation + exposure check (seen) */
    PASSES
};

static const char *const pass_names[PASSES] = {
    "route_key_ns",    "route_details_ns",  "route_no_key_ns",  "route_unknown_ns",
    "request_pair_ns", "series_observe_ns", "eval_split_ns",    "eval_exposure_ns"};

static double run_pass(enum pass p, roost_client *c, struct keys *k, roost_series *s, long iters)
{
    roost_route_details d;
    roost_request req;
    int64_t acc = 0;
    char buf[16];
    double t0 = cpu_now();

    for (long i = 0; i < iters; i++) {
        const roost_ctx *x = &k->ctx[i & (UNITS - 1)];
        switch (p) {
        case ROUTE_KEY: acc += roost_route(c, "rollout-07", x, NULL); break;
        case ROUTE_DETAILS: acc += roost_route(c, "rollout-07", x, &d); break;
        case ROUTE_NO_KEY: acc += roost_route(c, "rollout-07", NULL, NULL); break;
        case ROUTE_UNKNOWN: acc += roost_route(c, "rollout-99", x, NULL); break;
        case REQUEST:
            acc += roost_request_begin(c, "rollout-07", x, &req, NULL);
            acc += roost_request_end(&req, i & 1);
            break;
        case SERIES_OBSERVE: acc += roost_series_observe(s, 3.0 + (double)(i & 255), i & 1); break;
        case EVAL_SPLIT:
            acc += (int64_t)roost_client_string(c, "checkout-button-copy", x, "", buf, sizeof buf,
                                                NULL);
            break;
        case EVAL_EXPOSURE:
            acc += (int64_t)roost_client_string(c, "checkout-button", x, "", buf, sizeof buf, NULL);
            break;
        default: break;
        }
    }
    sink += acc;
    return (cpu_now() - t0) / (double)iters * 1e9;
}

struct request_thread {
    roost_client *c;
    struct keys *k;
    double ns;
};

static void *request_loop(void *arg)
{
    struct request_thread *t = arg;

    t->ns = run_pass(REQUEST, t->c, t->k, NULL, ITERS / 2);
    return NULL;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"target", required_argument, NULL, 't'},
                                         {"threads", required_argument, NULL, 'n'},
                                         {NULL, 0, NULL, 0}};
    static struct keys k;
    double t[PASSES][REPS], par[REPS];
    roost_client_stats st;
    roost_client *c;
    roost_series *s;
    int o;

    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (o == 't')
            target = optarg;
        else if (o == 'n')
            threads = atoi(optarg);
        else
            die("usage", "route_bench --target ADDR [--threads N]");
    }
    if (!target || threads < 1 || threads > 64)
        die("usage", "route_bench --target ADDR [--threads N]");
    grpc_init(); /* the Admin calls' channel; the client initializes its own */
    set_up();
    c = connect_client();
    keys_init(&k);
    if (roost_series_get(c, ROOST_SCOPE_ROLLOUT, "rollout-07", "canary", "latency_ms", &s))
        die("series", "cannot create");
    /* Warm-up: every unit's exposure logged, both series resolved. */
    for (int p = 0; p < PASSES; p++)
        run_pass((enum pass)p, c, &k, s, 4 * UNITS);
    for (int r = 0; r < REPS; r++) {
        pthread_t th[64];
        struct request_thread rt[64];
        double sum = 0;

        for (int p = 0; p < PASSES; p++)
            t[p][r] = run_pass((enum pass)p, c, &k, s, ITERS);
        for (int i = 0; i < threads; i++) {
            rt[i] = (struct request_thread){c, &k, 0};
            pthread_create(&th[i], NULL, request_loop, &rt[i]);
        }
        for (int i = 0; i < threads; i++) {
            pthread_join(th[i], NULL);
            sum += rt[i].ns;
        }
        par[r] = sum / threads;
    }
    roost_client_get_stats(c, &st);
    printf("{\"mode\":\"route\"");
    for (int p = 0; p < PASSES; p++)
        printf(",\"%s\":%.2f", pass_names[p], median(t[p], REPS));
    printf(",\"threads\":%d,\"request_pair_ns_per_thread\":%.2f,\"exposures\":%llu,"
           "\"exposures_dropped\":%llu}\n",
           threads, median(par, REPS), (unsigned long long)st.exposures,
           (unsigned long long)st.exposures_dropped);
    roost_client_close(c, NULL);
    grpc_shutdown();
    return 0;
}
