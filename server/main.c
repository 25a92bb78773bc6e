/* roostd: flags and wiring only. The server's parts live in their own
 * files: store.c (LMDB), rpc.c (gRPC), hub.c (sync fan-out), flags.c and
 * document.c (applying configuration), api_*.c (one per service). */
#include <errno.h>
#include <getopt.h>
#include <grpc/grpc.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evaluator.h"
#include "experiments.h"
#include "rollouts.h"
#include "log.h"
#include "recompile.h"
#include "roost/version.h"
#include "roostd.h"

static const char usage[] =
    "usage: roostd [options]\n"
    "\n"
    "Roost's server: keeps flags in an embedded LMDB store and streams every\n"
    "change to SDKs over gRPC. It also serves flagd's evaluation (v1, v2) and\n"
    "sync (v1) protocols, so OpenFeature flagd providers work against it.\n"
    "\n"
    "options:\n"
    "  --data DIR                 data directory, created if missing (default ./roost-data)\n"
    "  --listen HOST:PORT         gRPC address (default 127.0.0.1:7070; port 0 picks a free one)\n"
    "  --admin-token-file FILE    require a bearer token from FILE on Admin calls\n"
    "                             (one token per line, or \"NAME TOKEN\"; NAME shows in logs)\n"
    "  --sdk-token-file FILE      require a bearer token from FILE on Sync, Report and\n"
    "                             flagd calls\n"
    "  --ready-file FILE          once serving, write the bound HOST:PORT to FILE\n"
    "  --log-level LEVEL          debug, info, warn or error (default info)\n"
    "  --max-document-bytes N     largest configuration document accepted (default 4194304)\n"
    "  --changelog-keep N         changes kept for clients to resume from (default 10000)\n"
    "  --subscriber-max-lag N     changes a slow subscriber may fall behind before it is\n"
    "                             sent a fresh snapshot instead (default 256)\n"
    "  --experiment-interval SECONDS  how often running experiments are analysed\n"
    "                             (default 60)\n"
    "  --stream-keepalive SECONDS period of keep_alive messages on flagd event streams\n"
    "                             (default 30)\n"
    "  --store-max-mb N           largest size the store may grow to (default 1024)\n"
    "  --metrics-minute-retention D\n"
    "                             keep minute rows of outcome metrics this long, then\n"
    "                             roll them up into hour rows (default 14d; durations\n"
    "                             like 14d, 36h, 90m, 1d12h)\n"
    "  --metrics-hour-retention D keep hour rows this long (default 400d)\n"
    "  --metrics-recent-retention D\n"
    "                             keep 1-second rows of rollout metrics, which canary\n"
    "                             analysis reads, this long (default 24h; 0 = none)\n"
    "  --threads N                gRPC worker threads (default 4)\n"
    "  --shutdown-grace SECONDS   on SIGINT/SIGTERM, time calls get to finish and queued\n"
    "                             rollout hooks may still start (default 10)\n"
    "  --version                  print the version and exit\n"
    "  -h, --help                 show this help\n"
    "\n"
    "Logs are JSON, one object per line, on stderr.\n";

enum {
    OPT_DATA = 256,
    OPT_LISTEN,
    OPT_ADMIN_TOKEN,
    OPT_SDK_TOKEN,
    OPT_READY,
    OPT_LOG_LEVEL,
    OPT_MAX_DOC,
    OPT_LOG_KEEP,
    OPT_MAX_LAG,
    OPT_STORE_MB,
    OPT_THREADS,
    OPT_GRACE,
    OPT_KEEPALIVE,
    OPT_EXP_INTERVAL,
    OPT_METRICS_MINUTE,
    OPT_METRICS_HOUR,
    OPT_METRICS_RECENT,
    OPT_VERSION
};

static bool parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    unsigned long long v;

    errno = 0;
    if (!s[0] || s[0] == '-')
        return false;
    v = strtoull(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "roostd: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nrun 'roostd --help' for the options\n");
    return 2;
}

static int parse_args(int argc, char **argv, struct roostd_config *c)
{
    static const struct option opts[] = {
        {"data", required_argument, NULL, OPT_DATA},
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"admin-token-file", required_argument, NULL, OPT_ADMIN_TOKEN},
        {"sdk-token-file", required_argument, NULL, OPT_SDK_TOKEN},
        {"ready-file", required_argument, NULL, OPT_READY},
        {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
        {"max-document-bytes", required_argument, NULL, OPT_MAX_DOC},
        {"changelog-keep", required_argument, NULL, OPT_LOG_KEEP},
        {"subscriber-max-lag", required_argument, NULL, OPT_MAX_LAG},
        {"store-max-mb", required_argument, NULL, OPT_STORE_MB},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"shutdown-grace", required_argument, NULL, OPT_GRACE},
        {"stream-keepalive", required_argument, NULL, OPT_KEEPALIVE},
        {"experiment-interval", required_argument, NULL, OPT_EXP_INTERVAL},
        {"metrics-minute-retention", required_argument, NULL, OPT_METRICS_MINUTE},
        {"metrics-hour-retention", required_argument, NULL, OPT_METRICS_HOUR},
        {"metrics-recent-retention", required_argument, NULL, OPT_METRICS_RECENT},
        {"version", no_argument, NULL, OPT_VERSION},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    enum log_level lvl;
    roost_error err;
    uint64_t v;
    int o;

    opterr = 0;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case OPT_DATA: c->data_dir = optarg; break;
        case OPT_LISTEN: c->listen = optarg; break;
        case OPT_ADMIN_TOKEN: c->admin_token_file = optarg; break;
        case OPT_SDK_TOKEN: c->sdk_token_file = optarg; break;
        case OPT_READY: c->ready_file = optarg; break;
        case OPT_LOG_LEVEL:
            if (!log_level_parse(optarg, &lvl))
                return usage_error("--log-level: '%s' is not one of debug, info, warn, error",
                                   optarg);
            c->log_level = optarg;
            break;
        case OPT_MAX_DOC:
            if (!parse_u64(optarg, 1024, 1u << 30, &v))
                return usage_error("--max-document-bytes: '%s' is not a number from 1024 to "
                                   "1073741824",
                                   optarg);
            c->max_document_bytes = v;
            break;
        case OPT_LOG_KEEP:
            if (!parse_u64(optarg, 1, 100000000, &v))
                return usage_error("--changelog-keep: '%s' is not a number from 1 to 100000000",
                                   optarg);
            c->changelog_keep = v;
            break;
        case OPT_MAX_LAG:
            if (!parse_u64(optarg, 1, 1000000, &v))
                return usage_error("--subscriber-max-lag: '%s' is not a number from 1 to 1000000",
                                   optarg);
            c->max_subscriber_lag = v;
            break;
        case OPT_STORE_MB:
            if (!parse_u64(optarg, 1, 1u << 24, &v))
                return usage_error("--store-max-mb: '%s' is not a number from 1 to 16777216",
                                   optarg);
            c->store_max_mb = v;
            break;
        case OPT_THREADS:
            if (!parse_u64(optarg, 1, 64, &v))
                return usage_error("--threads: '%s' is not a number from 1 to 64", optarg);
            c->threads = (int)v;
            break;
        case OPT_GRACE:
            if (!parse_u64(optarg, 0, 3600, &v))
                return usage_error("--shutdown-grace: '%s' is not a number of seconds (0 to 3600)",
                                   optarg);
            c->shutdown_grace_ms = (int)v * 1000;
            break;
        case OPT_EXP_INTERVAL:
            if (!parse_u64(optarg, 1, 86400, &v))
                return usage_error("--experiment-interval: '%s' is not a number of seconds (1 to "
                                   "86400)",
                                   optarg);
            c->experiment_interval_ms = (int64_t)v * 1000;
            break;
        case OPT_KEEPALIVE:
            if (!parse_u64(optarg, 1, 3600, &v))
                return usage_error("--stream-keepalive: '%s' is not a number of seconds (1 to 3600)",
                                   optarg);
            c->stream_keepalive_s = (int)v;
            break;
        case OPT_METRICS_MINUTE:
        case OPT_METRICS_HOUR:
        case OPT_METRICS_RECENT: {
            int64_t *keep = o == OPT_METRICS_MINUTE ? &c->metrics.minute_keep_s
                            : o == OPT_METRICS_HOUR ? &c->metrics.hour_keep_s
                                                    : &c->metrics.recent_keep_s;
            if (!metrics_duration_parse(optarg, keep))
                return usage_error(o == OPT_METRICS_MINUTE
                                       ? "--metrics-minute-retention: '%s' is not a duration "
                                         "like 14d, 36h, 90m or 1d12h"
                                   : o == OPT_METRICS_HOUR
                                       ? "--metrics-hour-retention: '%s' is not a duration like "
                                         "400d, 36h or 1d12h"
                                       : "--metrics-recent-retention: '%s' is not a duration "
                                         "like 24h, 90m or 1d12h (0 = none)",
                                   optarg);
            break;
        }
        case OPT_VERSION:
            printf("roostd %s\n", ROOST_VERSION);
            return 0;
        case 'h':
            fputs(usage, stdout);
            return 0;
        default:
            return usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    if (metrics_retention_check(&c->metrics, &err) != ROOST_OK)
        return usage_error("%s", err.msg);
    return -1;
}

/* Written to a temporary name and renamed, so a reader never sees half an
 * address. */
static bool write_ready_file(const char *path, const char *host, int port)
{
    char tmp[PATH_MAX];
    FILE *f;

    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    if (!(f = fopen(tmp, "w")))
        return false;
    fprintf(f, "%s:%d\n", host, port);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return false;
    }
    return true;
}

/* "HOST:PORT" -> HOST, for the address actually bound. */
static void listen_host(const char *listen, char *out, size_t cap)
{
    const char *colon = strrchr(listen, ':');
    size_t n = colon ? (size_t)(colon - listen) : strlen(listen);

    if (n >= cap)
        n = cap - 1;
    memcpy(out, listen, n);
    out[n] = '\0';
    if (n == 0)
        snprintf(out, cap, "0.0.0.0");
}

static int fail(const char *event, const roost_error *err)
{
    struct log_line l;

    log_begin(&l, LOG_ERROR, event);
    log_str(&l, "error", err->msg);
    log_end(&l);
    fprintf(stderr, "roostd: %s\n", err->msg);
    return 1;
}

static int run(struct roostd *d)
{
    struct store_options so = {d->cfg.store_max_mb, d->cfg.changelog_keep};
    struct hub_options ho = {d->cfg.max_subscriber_lag, d->cfg.stream_keepalive_s};
    struct rpc_options ro = {0};
    roost_error err = {0};
    sigset_t sigs;
    char host[256];
    int port = 0, sig = 0;
    struct log_line l;

    /* Signals are taken by sigwait in this thread only. Blocked before any
     * thread exists (the hub's ticker, gRPC's own), so that every thread
     * inherits the mask and a second SIGTERM during shutdown cannot kill
     * the process halfway through it. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (d->cfg.admin_token_file &&
        auth_load(d->cfg.admin_token_file, "admin", &d->admin_tokens, &err) != ROOST_OK)
        return fail("config_error", &err);
    if (d->cfg.sdk_token_file &&
        auth_load(d->cfg.sdk_token_file, "sdk", &d->sdk_tokens, &err) != ROOST_OK)
        return fail("config_error", &err);
    if (store_open(d->cfg.data_dir, &so, &d->store, &err) != ROOST_OK)
        return fail("store_open_failed", &err);
    if (hub_create(d->store, &ho, &d->hub, &err) != ROOST_OK) {
        store_close(d->store);
        return fail("startup_failed", &err);
    }
    {
        /* Before the evaluator loads the images and before any client can
         * see one: an image format this engine cannot run is compiled again
         * from its source (an upgrade), rather than its flag going missing. */
        struct recompile_result rr;
        if (recompile_stored(d->store, d->hub, &rr, &err) != ROOST_OK) {
            hub_destroy(d->hub);
            store_close(d->store);
            return fail("startup_failed", &err);
        }
        if (rr.flags || rr.experiments || rr.failed) {
            struct log_line l;
            log_begin(&l, rr.failed ? LOG_WARN : LOG_INFO, "programs_recompiled");
            log_u64(&l, "flags", rr.flags);
            log_u64(&l, "experiments", rr.experiments);
            log_u64(&l, "failed", rr.failed);
            log_u64(&l, "image_version", ROOST_IMAGE_VERSION);
            log_u64(&l, "revision", store_revision(d->store));
            log_end(&l);
        }
    }
    if (evaluator_create(d->store, &d->evaluator, &err) != ROOST_OK) {
        hub_destroy(d->hub);
        store_close(d->store);
        return fail("startup_failed", &err);
    }
    {
        /* Hooks waiting to start get the same grace as calls in flight. */
        struct rollouts_options rop = {.hook_workers = 2,
                                       .settle_ms = 1000,
                                       .hook_window = 0,
                                       .hook_drain_ms = d->cfg.shutdown_grace_ms};
        if (rollouts_create(d->store, d->hub, &rop, &d->rollouts, &err) != ROOST_OK ||
            experiments_create(d->store, d->hub, d->cfg.experiment_interval_ms, &d->experiments,
                               &err) != ROOST_OK) {
            rollouts_destroy(d->rollouts);
            evaluator_destroy(d->evaluator);
            hub_destroy(d->hub);
            store_close(d->store);
            return fail("startup_failed", &err);
        }
    }
    /* Before the first Report can arrive: it sets the recent-rows mark. */
    if (metrics_retention_start(d->store, &d->cfg.metrics, &d->retention, &err) != ROOST_OK) {
        rollouts_destroy(d->rollouts);
        experiments_destroy(d->experiments);
        evaluator_destroy(d->evaluator);
        hub_destroy(d->hub);
        store_close(d->store);
        return fail("startup_failed", &err);
    }

    grpc_init();
    ro.threads = d->cfg.threads;
    ro.max_message_bytes = d->cfg.max_document_bytes + 64 * 1024;
    ro.admin_tokens = &d->admin_tokens;
    ro.sdk_tokens = &d->sdk_tokens;
    if (metrics_group_new(d->store, &d->reports, &err) != ROOST_OK ||
        rpc_server_create(&ro, &d->rpc, &err) != ROOST_OK ||
        api_admin_register(d, &err) != ROOST_OK || api_sync_register(d, &err) != ROOST_OK ||
        api_report_register(d, &err) != ROOST_OK || api_metrics_register(d, &err) != ROOST_OK ||
        api_health_register(d, &err) != ROOST_OK ||
        api_flagd_eval_register(d, &err) != ROOST_OK ||
        api_flagd_sync_register(d, &err) != ROOST_OK ||
        api_rollouts_register(d, &err) != ROOST_OK ||
        api_experiments_register(d, &err) != ROOST_OK ||
        api_history_register(d, &err) != ROOST_OK ||
        rpc_server_start(d->rpc, d->cfg.listen, &port, &err) != ROOST_OK ||
        rollouts_start(d->rollouts, &err) != ROOST_OK ||
        experiments_start(d->experiments, &err) != ROOST_OK) {
        rpc_server_destroy(d->rpc);
        metrics_group_free(d->reports);
        rollouts_destroy(d->rollouts);
        experiments_destroy(d->experiments);
        metrics_retention_stop(d->retention);
        evaluator_destroy(d->evaluator);
        hub_destroy(d->hub);
        store_close(d->store);
        grpc_shutdown();
        return fail("startup_failed", &err);
    }
    d->started = time(NULL);
    listen_host(d->cfg.listen, host, sizeof host);

    log_begin(&l, LOG_INFO, "listening");
    log_str(&l, "version", ROOST_VERSION);
    log_str(&l, "host", host);
    log_i64(&l, "port", port);
    log_str(&l, "data", d->cfg.data_dir);
    log_u64(&l, "revision", store_revision(d->store));
    log_bool(&l, "admin_auth", d->admin_tokens.count > 0);
    log_bool(&l, "sdk_auth", d->sdk_tokens.count > 0);
    log_end(&l);
    if (d->admin_tokens.count == 0 && strncmp(host, "127.", 4) != 0 && strcmp(host, "localhost"))
        log_msg(LOG_WARN, "no_admin_token",
                "Admin calls are not authenticated and roostd listens beyond loopback: anyone "
                "who can reach it can change flags; pass --admin-token-file");
    if (d->cfg.ready_file && !write_ready_file(d->cfg.ready_file, host, port))
        log_msg(LOG_WARN, "ready_file_failed", "cannot write the --ready-file");

    while (sigwait(&sigs, &sig) != 0)
        ;
    log_begin(&l, LOG_INFO, "shutdown_begin");
    log_str(&l, "signal", sig == SIGINT ? "SIGINT" : "SIGTERM");
    log_end(&l);

    /* Streams end with a status the SDKs understand as "reconnect"; unary
     * calls in flight (an apply mid-commit) finish within the grace. */
    hub_close_all(d->hub, GRPC_STATUS_UNAVAILABLE, "roostd is shutting down; reconnect later");
    api_health_close_all(d);
    rpc_server_shutdown(d->rpc, d->cfg.shutdown_grace_ms);
    rpc_server_destroy(d->rpc);
    {
        /* How much the group commit saved: Report batches per fsync. */
        struct metrics_group_stats gs;
        metrics_group_get_stats(d->reports, &gs);
        log_begin(&l, LOG_INFO, "reports_stored");
        log_u64(&l, "batches", gs.batches);
        log_u64(&l, "commits", gs.commits);
        log_end(&l);
        metrics_group_free(d->reports);
    }
    rollouts_destroy(d->rollouts);
    experiments_destroy(d->experiments);
    metrics_retention_stop(d->retention);
    evaluator_destroy(d->evaluator);
    hub_destroy(d->hub);
    log_begin(&l, LOG_INFO, "shutdown_complete");
    log_u64(&l, "revision", store_revision(d->store));
    log_end(&l);
    store_close(d->store);
    if (d->cfg.ready_file)
        unlink(d->cfg.ready_file);
    grpc_shutdown();
    return 0;
}

int main(int argc, char **argv)
{
    static struct roostd d;
    enum log_level lvl = LOG_INFO;
    int rc;

    d.cfg = (struct roostd_config){
        .data_dir = "./roost-data",
        .listen = "127.0.0.1:7070",
        .log_level = "info",
        .max_document_bytes = 4u << 20,
        .changelog_keep = STORE_DEFAULT_LOG_KEEP,
        .store_max_mb = STORE_DEFAULT_MAX_MB,
        .max_subscriber_lag = HUB_DEFAULT_MAX_LAG,
        .threads = 4,
        .shutdown_grace_ms = 10000,
        .stream_keepalive_s = HUB_DEFAULT_KEEPALIVE_S,
        .experiment_interval_ms = 60000,
    };
    metrics_retention_defaults(&d.cfg.metrics);
    if ((rc = parse_args(argc, argv, &d.cfg)) >= 0)
        return rc;
    log_level_parse(d.cfg.log_level, &lvl);
    log_configure(lvl, 2);
    return run(&d);
}
