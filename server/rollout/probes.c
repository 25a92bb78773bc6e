/* Dependency probes. See probes.h and docs/rollouts.md (section Probes).
 *
 * One prober thread runs every check with non-blocking I/O and waits in a
 * single curl_multi_poll: libcurl's multi interface drives the HTTP checks,
 * the in-flight TCP connects are passed to it as extra descriptors, and
 * curl_multi_wakeup (thread-safe) is the doorbell everyone else rings:
 * prober_set, prober_destroy, the gRPC completion thread and the resolver
 * threads. A check never blocks the thread, so a dependency that accepts a
 * connection and never answers costs one idle socket until its timeout,
 * and every other probe keeps its schedule.
 *
 * Why a second thread for gRPC: gRPC C core reports completions on a
 * completion queue, which cannot be polled together with sockets. A small
 * thread blocks in grpc_completion_queue_next, marks the check done under
 * the prober's lock and rings the doorbell; the prober thread reads the
 * result. (tools/lib/rpcclient's rc_unary would block the prober for a whole
 * call, so it is not used here.) Each gRPC probe keeps its channel while
 * checks pass and drops it after a failure, so the next check makes a fresh
 * connection instead of waiting out gRPC's reconnect backoff (which grows to
 * two minutes): a dependency that comes back is seen at the next interval.
 * Channels use a local subchannel pool so probes never share a connection.
 *
 * Names: IP literals are used directly. A TCP target with a host name is
 * resolved by a short-lived detached thread running getaddrinfo (which can
 * block for as long as the system resolver likes), so a slow DNS server
 * never holds up the prober; the request is reference-counted, and a prober
 * that stops waiting (timeout, prober_set, prober_destroy) just drops its
 * reference. libcurl (Debian's is built with its threaded resolver) and
 * gRPC resolve names asynchronously on their own.
 *
 * HTTP checks use a fresh connection each time (a probe asks "can a client
 * get through now?", not "is my pooled connection alive?"), do not follow
 * redirects (a 3xx is compared with expectStatus), and stop reading a body
 * after 64 KiB: the status is what counts.
 *
 * Locking: one mutex guards the probe list and every probe. The prober
 * thread holds it for a whole pass over the probes (each step is
 * non-blocking) and releases it only to wait and to call on_change, so
 * callbacks may call back into the prober. prober_set never touches the
 * I/O state of a probe: it moves removed probes to a retired list, which
 * only the prober thread (or prober_destroy, after joining it) cleans up.
 * Invariant: the curl multi handle is used by the prober thread only
 * (curl_multi_wakeup excepted), and after it has been joined by
 * prober_destroy.
 */
#define _GNU_SOURCE /* SOCK_NONBLOCK, SOCK_CLOEXEC */

#include "probes.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "grpc/health/v1/health.pb-c.h"
#include "hooks.h" /* roost_duration_parse */
#include "server/clock.h"
#include "server/json_fields.h"

#define PROBE_PORT_MAX 8         /* "65535" and a NUL, rounded up */
#define HTTP_BODY_MAX (64 * 1024) /* read of a probed page before stopping */
#define WAIT_CAP_MS 1000         /* longest wait without a reason to wake */

/* ---- names ----------------------------------------------------------------- */

const char *probe_state_name(enum probe_state s)
{
    switch (s) {
    case PROBE_UNKNOWN: return "unknown";
    case PROBE_UP: return "up";
    case PROBE_DEGRADED: return "degraded";
    case PROBE_DOWN: return "down";
    }
    return "invalid";
}

const char *probe_circuit_name(enum probe_circuit c)
{
    switch (c) {
    case CIRCUIT_CLOSED: return "closed";
    case CIRCUIT_OPEN: return "open";
    case CIRCUIT_HALF_OPEN: return "half-open";
    }
    return "invalid";
}

const char *probe_type_name(enum probe_type t)
{
    switch (t) {
    case PROBE_TCP: return "tcp";
    case PROBE_HTTP: return "http";
    case PROBE_GRPC: return "grpc";
    }
    return "invalid";
}

/* ---- small helpers ------------------------------------------------------------ */

/* snprintf for messages that may be cut short on purpose. */
static void textf(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void textf(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
}

static void errno_text(int e, char *buf, size_t cap)
{
    /* GNU strerror_r (this file defines _GNU_SOURCE): may return a static string. */
    const char *s = strerror_r(e, buf, cap);

    if (s != buf)
        snprintf(buf, cap, "%s", s);
}

static char *dup_string(const char *s)
{
    size_t n;
    char *d;

    if (!s)
        return NULL;
    n = strlen(s) + 1;
    if ((d = malloc(n)))
        memcpy(d, s, n);
    return d;
}

static bool has_control_chars(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    }
    return false;
}

/* Splits "host:port" or "[v6 address]:port" into its parts (host without
 * brackets). Port 1-65535, host non-empty, no spaces or control characters. */
static bool split_target(const char *t, char *host, size_t hcap, char *port, size_t pcap)
{
    const char *h, *p;
    size_t hl;
    long v;
    char *end;

    if (!t || has_control_chars(t) || strchr(t, ' '))
        return false;
    if (t[0] == '[') {
        const char *close = strchr(t, ']');
        if (!close || close[1] != ':')
            return false;
        h = t + 1;
        hl = (size_t)(close - h);
        p = close + 2;
    } else {
        const char *colon = strrchr(t, ':');
        if (!colon || strchr(t, ':') != colon) /* IPv6 needs brackets */
            return false;
        h = t;
        hl = (size_t)(colon - t);
        p = colon + 1;
    }
    if (hl == 0 || hl >= hcap || !isdigit((unsigned char)p[0]) || strlen(p) >= pcap)
        return false;
    errno = 0;
    v = strtol(p, &end, 10);
    if (errno || *end || v < 1 || v > 65535)
        return false;
    memcpy(host, h, hl);
    host[hl] = '\0';
    snprintf(port, pcap, "%ld", v);
    return true;
}

static bool valid_url(const char *u)
{
    size_t skip;

    if (!u)
        return false;
    if (strncasecmp(u, "http://", 7) == 0)
        skip = 7;
    else if (strncasecmp(u, "https://", 8) == 0)
        skip = 8;
    else
        return false;
    return u[skip] && !strchr("/?#:", u[skip]) && !strchr(u, ' ') && !has_control_chars(u);
}

/* ---- parsing ----------------------------------------------------------------- */

/* Fields per type; index = enum probe_type. */
static const char *const tcp_fields[] = {"type",    "target",          "interval",
                                         "timeout", "degradedLatency", "failureThreshold",
                                         "successThreshold"};
static const char *const http_fields[] = {"type",     "url",     "expectStatus",
                                          "interval", "timeout", "degradedLatency",
                                          "failureThreshold", "successThreshold"};
static const char *const grpc_fields[] = {"type",     "target",  "service",
                                          "interval", "timeout", "degradedLatency",
                                          "failureThreshold", "successThreshold"};
static const char *const type_names[] = {"tcp", "http", "grpc"};

static roost_status parse_duration_field(const cJSON *obj, const char *path, const char *field,
                                         int64_t min_ms, int64_t max_ms, const char *range,
                                         int64_t *out, roost_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, field);
    int64_t ms;

    if (!v)
        return ROOST_OK;
    if (!cJSON_IsString(v) || !roost_duration_parse(v->valuestring, &ms) || ms < min_ms ||
        ms > max_ms) {
        return roost_error_set(err, ROOST_EINVAL,
                               "%s.%s: expected a duration from %s such as \"10s\" or \"500ms\"",
                               path, field, range);
    }
    *out = ms;
    return ROOST_OK;
}

static roost_status parse_threshold(const cJSON *obj, const char *path, const char *field,
                                    const char *meaning, uint32_t *out, roost_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, field);
    double d;

    if (!v)
        return ROOST_OK;
    d = cJSON_IsNumber(v) ? v->valuedouble : 0;
    if (!(d >= 1 && d <= 100 && d == (double)(uint32_t)d)) {
        return roost_error_set(err, ROOST_EINVAL, "%s.%s: expected a whole number from 1 to 100 (%s)",
                               path, field, meaning);
    }
    *out = (uint32_t)d;
    return ROOST_OK;
}

static roost_status parse_expect_status(const cJSON *v, const char *path, struct probe_spec *s,
                                        roost_error *err)
{
    int lo = 0, hi = 0, used = 0;

    if (cJSON_IsNumber(v) && v->valuedouble >= 100 && v->valuedouble <= 599 &&
        v->valuedouble == (double)(int)v->valuedouble) {
        lo = hi = (int)v->valuedouble;
    } else if (cJSON_IsString(v) &&
               strspn(v->valuestring, "0123456789-") == strlen(v->valuestring) &&
               sscanf(v->valuestring, "%3d-%3d%n", &lo, &hi, &used) == 2 &&
               (size_t)used == strlen(v->valuestring)) {
        /* "200-299" */
    } else {
        lo = hi = 0;
    }
    if (lo < 100 || hi > 599 || lo > hi) {
        return roost_error_set(err, ROOST_EINVAL,
                               "%s.expectStatus: expected an HTTP status such as 200 or a range "
                               "such as \"200-299\", within 100-599",
                               path);
    }
    s->expect_status_min = lo;
    s->expect_status_max = hi;
    return ROOST_OK;
}

/* Rejects a field that belongs to another probe type with a message that
 * says so, before the generic unknown-field check. */
static roost_status check_type_fields(const cJSON *obj, const char *path, enum probe_type type,
                                      roost_error *err)
{
    static const struct {
        const char *field;
        const char *owner;
    } foreign[] = {{"target", "tcp and grpc"}, {"url", "http"}, {"expectStatus", "http"},
                   {"service", "grpc"}};
    static const char *const *const lists[] = {tcp_fields, http_fields, grpc_fields};
    static const size_t counts[] = {sizeof tcp_fields / sizeof tcp_fields[0],
                                    sizeof http_fields / sizeof http_fields[0],
                                    sizeof grpc_fields / sizeof grpc_fields[0]};

    for (const cJSON *c = obj->child; c; c = c->next) {
        bool allowed = false;
        for (size_t i = 0; i < counts[type] && !allowed; i++)
            allowed = strcmp(c->string, lists[type][i]) == 0;
        for (size_t i = 0; !allowed && i < sizeof foreign / sizeof foreign[0]; i++) {
            if (strcmp(c->string, foreign[i].field) == 0) {
                return roost_error_set(err, ROOST_EINVAL, "%s.%s: only for %s probes (this is a %s probe)",
                                       path, c->string, foreign[i].owner, type_names[type]);
            }
        }
    }
    return json_fields_check(obj, path, lists[type], counts[type], err);
}

static bool valid_name(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n > PROBE_NAME_MAX)
        return false;
    for (; *name; name++) {
        unsigned char c = (unsigned char)*name;
        if (!isalnum(c) && c != '-' && c != '_' && c != '.')
            return false;
    }
    return true;
}

roost_status probe_spec_parse(const cJSON *obj, const char *name, const char *path,
                              struct probe_spec *out, roost_error *err)
{
    struct probe_spec s;
    const cJSON *type, *target, *url, *service, *expect;
    bool timeout_given;
    char host[PROBE_STR_MAX + 1], port[PROBE_PORT_MAX];
    roost_status rc;

    memset(&s, 0, sizeof s);
    if (!path)
        path = "probe";
    if (!name || !valid_name(name)) {
        return roost_error_set(err, ROOST_EINVAL,
                               "%s: a probe name is 1-%d letters, digits, '-', '_' or '.'", path,
                               PROBE_NAME_MAX);
    }
    if (!cJSON_IsObject(obj)) {
        return roost_error_set(err, ROOST_EINVAL,
                               "%s: expected an object such as {\"type\": \"tcp\", \"target\": "
                               "\"10.0.0.5:5432\"}",
                               path);
    }
    type = cJSON_GetObjectItemCaseSensitive(obj, "type");
    if (!type)
        return roost_error_set(err, ROOST_EINVAL, "%s.type: missing (tcp, http or grpc)", path);
    if (!cJSON_IsString(type)) {
        return roost_error_set(err, ROOST_EINVAL, "%s.type: expected one of tcp, http, grpc", path);
    } else {
        size_t i;
        char list[128];
        for (i = 0; i < 3 && strcmp(type->valuestring, type_names[i]) != 0; i++)
            ;
        if (i == 3) {
            json_fields_choices(type_names, 3, type->valuestring, list, sizeof list);
            return roost_error_set(err, ROOST_EINVAL, "%s.type: unknown probe type '%s' (expected one of %s)",
                                   path, type->valuestring, list);
        }
        s.type = (enum probe_type)i;
    }
    if ((rc = check_type_fields(obj, path, s.type, err)) != ROOST_OK)
        return rc;

    snprintf(s.name, sizeof s.name, "%s", name);
    s.expect_status_min = 200;
    s.expect_status_max = 399;
    s.interval_ms = 10000;
    s.timeout_ms = 2000;
    s.failure_threshold = 3;
    s.success_threshold = 2;

    if ((rc = parse_duration_field(obj, path, "interval", 1000, 3600000, "\"1s\" to \"1h\"",
                                   &s.interval_ms, err)) != ROOST_OK)
        return rc;
    timeout_given = cJSON_GetObjectItemCaseSensitive(obj, "timeout") != NULL;
    if ((rc = parse_duration_field(obj, path, "timeout", 1, s.interval_ms,
                                   "\"1ms\" to the interval", &s.timeout_ms, err)) != ROOST_OK)
        return rc;
    if (!timeout_given && s.timeout_ms > s.interval_ms)
        s.timeout_ms = s.interval_ms; /* the default never outlasts the interval */
    if ((rc = parse_duration_field(obj, path, "degradedLatency", 1, s.timeout_ms - 1,
                                   "\"1ms\" to just under the timeout", &s.degraded_ms, err)) !=
        ROOST_OK)
        return rc;
    if ((rc = parse_threshold(obj, path, "failureThreshold",
                              "consecutive failed checks before the probe is down",
                              &s.failure_threshold, err)) != ROOST_OK ||
        (rc = parse_threshold(obj, path, "successThreshold",
                              "successful checks in a row that close the circuit again",
                              &s.success_threshold, err)) != ROOST_OK)
        return rc;

    target = cJSON_GetObjectItemCaseSensitive(obj, "target");
    url = cJSON_GetObjectItemCaseSensitive(obj, "url");
    service = cJSON_GetObjectItemCaseSensitive(obj, "service");
    expect = cJSON_GetObjectItemCaseSensitive(obj, "expectStatus");
    if (s.type == PROBE_HTTP) {
        if (!url)
            return roost_error_set(err, ROOST_EINVAL, "%s.url: missing (the address to GET)", path);
        if (!cJSON_IsString(url) || !valid_url(url->valuestring) ||
            strlen(url->valuestring) > PROBE_STR_MAX) {
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s.url: expected an http:// or https:// URL of at most %d "
                                   "bytes without spaces, such as \"http://10.0.0.7:8080/healthz\"",
                                   path, PROBE_STR_MAX);
        }
        if (expect && (rc = parse_expect_status(expect, path, &s, err)) != ROOST_OK)
            return rc;
        if (!(s.url = dup_string(url->valuestring)))
            return roost_error_set(err, ROOST_ENOMEM, "out of memory");
    } else {
        if (!target) {
            return roost_error_set(err, ROOST_EINVAL, "%s.target: missing (HOST:PORT to %s)", path,
                                   s.type == PROBE_TCP ? "connect to" : "health-check");
        }
        if (!cJSON_IsString(target) || strlen(target->valuestring) > PROBE_STR_MAX ||
            !split_target(target->valuestring, host, sizeof host, port, sizeof port)) {
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s.target: expected HOST:PORT such as \"10.0.0.5:5432\", "
                                   "\"db.internal:5432\" or \"[fd00::5]:5432\" (port 1-65535)",
                                   path);
        }
        if (service && (!cJSON_IsString(service) || strlen(service->valuestring) > PROBE_STR_MAX ||
                        has_control_chars(service->valuestring))) {
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s.service: expected the health service name as a string, "
                                   "such as \"payments.v1.Ledger\" (\"\" = the whole server)",
                                   path);
        }
        if (!(s.target = dup_string(target->valuestring)) ||
            (service && !(s.service = dup_string(service->valuestring)))) {
            probe_spec_free(&s);
            return roost_error_set(err, ROOST_ENOMEM, "out of memory");
        }
    }
    *out = s;
    return ROOST_OK;
}

void probe_spec_free(struct probe_spec *p)
{
    if (!p)
        return;
    free(p->target);
    free(p->url);
    free(p->service);
    memset(p, 0, sizeof *p);
}

/* Checks a spec handed to prober_set (which may not come from the parser). */
static roost_status spec_check(const struct probe_spec *s, roost_error *err)
{
    char host[PROBE_STR_MAX + 1], port[PROBE_PORT_MAX];
    const char *name = s->name;

    if (!memchr(s->name, '\0', sizeof s->name) || !s->name[0])
        return roost_error_set(err, ROOST_EINVAL, "a probe has an empty or unterminated name");
    if (s->type != PROBE_TCP && s->type != PROBE_HTTP && s->type != PROBE_GRPC)
        return roost_error_set(err, ROOST_EINVAL, "probe '%s': unknown type %d", name, (int)s->type);
    if (s->type == PROBE_HTTP &&
        (!valid_url(s->url) || strlen(s->url) > PROBE_STR_MAX))
        return roost_error_set(err, ROOST_EINVAL, "probe '%s': needs an http:// or https:// url", name);
    if (s->type != PROBE_HTTP &&
        (!s->target || strlen(s->target) > PROBE_STR_MAX ||
         !split_target(s->target, host, sizeof host, port, sizeof port)))
        return roost_error_set(err, ROOST_EINVAL, "probe '%s': needs a HOST:PORT target", name);
    if (s->service && (strlen(s->service) > PROBE_STR_MAX || has_control_chars(s->service)))
        return roost_error_set(err, ROOST_EINVAL, "probe '%s': service name is not usable", name);
    if (s->type == PROBE_HTTP && (s->expect_status_min < 100 || s->expect_status_max > 599 ||
                                  s->expect_status_min > s->expect_status_max))
        return roost_error_set(err, ROOST_EINVAL, "probe '%s': expected status range %d-%d is not valid",
                               name, s->expect_status_min, s->expect_status_max);
    if (s->interval_ms <= 0 || s->timeout_ms <= 0 || s->degraded_ms < 0 ||
        s->interval_ms > 86400000 || s->timeout_ms > 86400000)
        return roost_error_set(err, ROOST_EINVAL,
                               "probe '%s': interval and timeout must be positive (at most a day)",
                               name);
    if (s->failure_threshold < 1 || s->success_threshold < 1)
        return roost_error_set(err, ROOST_EINVAL, "probe '%s': thresholds must be at least 1", name);
    return ROOST_OK;
}

static bool str_equal(const char *a, const char *b)
{
    return (!a || !*a) ? (!b || !*b) : (b && strcmp(a, b) == 0);
}

static bool spec_equal(const struct probe_spec *a, const struct probe_spec *b)
{
    return strcmp(a->name, b->name) == 0 && a->type == b->type && str_equal(a->target, b->target) &&
           str_equal(a->url, b->url) && str_equal(a->service, b->service) &&
           a->expect_status_min == b->expect_status_min &&
           a->expect_status_max == b->expect_status_max && a->interval_ms == b->interval_ms &&
           a->timeout_ms == b->timeout_ms && a->degraded_ms == b->degraded_ms &&
           a->failure_threshold == b->failure_threshold &&
           a->success_threshold == b->success_threshold;
}

/* ---- the prober's data ---------------------------------------------------------- */

/* A host name being resolved on its own thread. Two references: the
 * prober's (dropped when it stops waiting) and the resolver thread's. */
struct resolve_req {
    pthread_mutex_t mu;
    int refs;
    bool abandoned; /* the prober dropped its reference: do not ring */
    bool done;
    int gai_err;
    struct addrinfo *res;
    CURLM *doorbell; /* valid while !abandoned */
    char host[PROBE_STR_MAX + 1];
    char port[PROBE_PORT_MAX];
};

/* One gRPC health call in flight. */
struct grpc_check {
    grpc_call *call;
    grpc_byte_buffer *send;
    grpc_byte_buffer *recv;
    grpc_metadata_array initial;
    grpc_metadata_array trailing;
    grpc_status_code code;
    grpc_slice details;
    int64_t ended_us; /* set by the completion thread */
    bool done;        /* prober mu */
    bool orphaned;    /* prober mu: no probe waits; the completion thread frees it */
};

struct probe {
    struct probe_spec spec;
    struct probe_status st;
    bool retired; /* removed by prober_set; freed by the prober thread */
    char host[PROBE_STR_MAX + 1]; /* tcp */
    char port[PROBE_PORT_MAX];

    int64_t next_due_us; /* next check start (monotonic) */
    int64_t started_us;
    int64_t deadline_us;
    uint32_t successes; /* in a row, for the circuit */
    bool in_flight;

    /* tcp */
    int fd;
    struct addrinfo *addrs, *next_addr;
    struct resolve_req *resolving;
    char tcp_err[160];

    /* http */
    CURL *easy;
    bool easy_added;
    size_t body_len;
    bool body_cut;
    char errbuf[CURL_ERROR_SIZE];

    /* grpc */
    grpc_channel *channel;
    struct grpc_check *gc;
};

struct prober {
    pthread_mutex_t mu;
    bool stop;
    struct probe **probes;
    size_t n;
    struct probe **retired;
    size_t nretired, retired_cap;

    probe_change_fn on_change;
    void *user;

    CURLM *multi;
    grpc_completion_queue *cq;
    pthread_t thread, grpc_thread;
    bool thread_started, grpc_thread_started, grpc_inited;

    /* Prober thread only. */
    struct probe_status *changes;
    size_t nchanges, changes_cap;
    struct curl_waitfd *wfds;
    struct pollfd *pfds;
    struct probe **wprobes;
    size_t wcap;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result = CURLE_FAILED_INIT;

static void curl_init_once(void)
{
    curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- the state machine ------------------------------------------------------------ */

/* Records one finished check and moves the state and circuit (probes.h).
 * Returns true when either changed. */
static bool apply_result(struct probe *pr, bool ok, double latency_ms, const char *detail)
{
    struct probe_status *st = &pr->st;
    enum probe_state old_state = st->state;
    enum probe_circuit old_circuit = st->circuit;

    st->latency_ms = latency_ms;
    st->checks++;
    st->last_check_ms = clock_wall_ms();
    if (ok) {
        bool slow = pr->spec.degraded_ms > 0 && latency_ms > (double)pr->spec.degraded_ms;
        enum probe_state quality = slow ? PROBE_DEGRADED : PROBE_UP;

        st->consecutive_failures = 0;
        pr->successes++;
        if (st->circuit != CIRCUIT_CLOSED && pr->successes >= pr->spec.success_threshold)
            st->circuit = CIRCUIT_CLOSED;
        else if (st->circuit == CIRCUIT_OPEN)
            st->circuit = CIRCUIT_HALF_OPEN; /* state stays down until the circuit closes */
        if (st->circuit == CIRCUIT_CLOSED)
            st->state = quality;
        if (st->circuit == CIRCUIT_HALF_OPEN)
            textf(st->detail, sizeof st->detail, "recovering: %u of %u checks in a row passed",
                  pr->successes, pr->spec.success_threshold);
        else if (slow)
            textf(st->detail, sizeof st->detail, "latency %.0f ms above %lld ms", latency_ms,
                  (long long)pr->spec.degraded_ms);
        else
            st->detail[0] = '\0';
    } else {
        pr->successes = 0;
        if (st->consecutive_failures < UINT32_MAX)
            st->consecutive_failures++;
        textf(st->detail, sizeof st->detail, "%s", detail);
        if (st->circuit == CIRCUIT_HALF_OPEN ||
            (st->circuit == CIRCUIT_CLOSED &&
             st->consecutive_failures >= pr->spec.failure_threshold)) {
            st->circuit = CIRCUIT_OPEN;
            st->state = PROBE_DOWN;
        }
    }
    if (st->state != old_state)
        st->since_ms = st->last_check_ms;
    return st->state != old_state || st->circuit != old_circuit;
}

/* Ends the check in flight: state machine, change notice, next due time. */
static void finish_check(struct prober *p, struct probe *pr, bool ok, double latency_ms,
                         const char *detail)
{
    int64_t now = clock_mono_us();

    pr->in_flight = false;
    pr->next_due_us = pr->started_us + pr->spec.interval_ms * 1000;
    if (pr->next_due_us < now)
        pr->next_due_us = now;
    if (!apply_result(pr, ok, latency_ms, detail))
        return;
    if (p->nchanges == p->changes_cap) {
        size_t cap = p->changes_cap ? p->changes_cap * 2 : 16;
        struct probe_status *c = realloc(p->changes, cap * sizeof *c);
        if (!c)
            return; /* out of memory: the notice is lost, the status is still right */
        p->changes = c;
        p->changes_cap = cap;
    }
    p->changes[p->nchanges++] = pr->st;
}

static double since_start_ms(const struct probe *pr, int64_t end_us)
{
    return (double)(end_us - pr->started_us) / 1000.0;
}

/* ---- tcp --------------------------------------------------------------------------- */

static void resolve_free(struct resolve_req *r)
{
    if (r->res)
        freeaddrinfo(r->res);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

/* Drops one reference; the prober's drop also stops the doorbell. */
static void resolve_release(struct resolve_req *r, bool from_prober)
{
    bool last;

    pthread_mutex_lock(&r->mu);
    if (from_prober)
        r->abandoned = true;
    last = --r->refs == 0;
    pthread_mutex_unlock(&r->mu);
    if (last)
        resolve_free(r);
}

static void *resolve_main(void *arg)
{
    struct resolve_req *r = arg;
    struct addrinfo hints, *res = NULL;
    int rc;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    rc = getaddrinfo(r->host, r->port, &hints, &res);
    pthread_mutex_lock(&r->mu);
    r->res = rc == 0 ? res : NULL;
    r->gai_err = rc;
    r->done = true;
    if (!r->abandoned)
        curl_multi_wakeup(r->doorbell);
    pthread_mutex_unlock(&r->mu);
    resolve_release(r, false);
    return NULL;
}

static void tcp_end(struct prober *p, struct probe *pr, bool ok, const char *detail)
{
    if (pr->fd >= 0) {
        close(pr->fd);
        pr->fd = -1;
    }
    if (pr->addrs) {
        freeaddrinfo(pr->addrs);
        pr->addrs = pr->next_addr = NULL;
    }
    if (pr->resolving) {
        resolve_release(pr->resolving, true);
        pr->resolving = NULL;
    }
    finish_check(p, pr, ok, since_start_ms(pr, clock_mono_us()), detail);
}

/* Starts a connect to the next address; ends the check when one connects
 * at once or none is left. */
static void tcp_connect_next(struct prober *p, struct probe *pr)
{
    char why[96];

    while (pr->next_addr) {
        struct addrinfo *ai = pr->next_addr;
        int fd;

        pr->next_addr = ai->ai_next;
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            errno_text(errno, why, sizeof why);
            textf(pr->tcp_err, sizeof pr->tcp_err, "cannot create a socket for %s: %s",
                  pr->spec.target, why);
            continue;
        }
        /* A non-blocking connect interrupted by a signal goes on in the
         * background, like EINPROGRESS. */
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            close(fd);
            tcp_end(p, pr, true, "");
            return;
        }
        if (errno == EINPROGRESS || errno == EINTR) {
            pr->fd = fd;
            return;
        }
        errno_text(errno, why, sizeof why);
        textf(pr->tcp_err, sizeof pr->tcp_err, "connect %s: %s", pr->spec.target, why);
        close(fd);
    }
    tcp_end(p, pr, false, pr->tcp_err[0] ? pr->tcp_err : "no address to connect to");
}

/* The socket became writable or failed. */
static void tcp_progress(struct prober *p, struct probe *pr)
{
    int soerr = 0;
    socklen_t len = sizeof soerr;
    char why[96];

    if (getsockopt(pr->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
        soerr = errno;
    if (soerr == 0) {
        tcp_end(p, pr, true, "");
        return;
    }
    errno_text(soerr, why, sizeof why);
    textf(pr->tcp_err, sizeof pr->tcp_err, "connect %s: %s", pr->spec.target, why);
    close(pr->fd);
    pr->fd = -1;
    tcp_connect_next(p, pr);
}

static void tcp_start(struct prober *p, struct probe *pr)
{
    struct addrinfo hints, *res = NULL;
    struct resolve_req *r;
    pthread_attr_t attr;
    pthread_t t;
    int rc;

    pr->tcp_err[0] = '\0';
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV; /* never blocks */
    rc = getaddrinfo(pr->host, pr->port, &hints, &res);
    if (rc == 0) {
        pr->addrs = pr->next_addr = res;
        tcp_connect_next(p, pr);
        return;
    }
    if (rc != EAI_NONAME) {
        char detail[200];
        textf(detail, sizeof detail, "cannot use address %s: %s", pr->spec.target,
              gai_strerror(rc));
        tcp_end(p, pr, false, detail);
        return;
    }
    /* A host name: resolve it off this thread. */
    if (!(r = calloc(1, sizeof *r))) {
        tcp_end(p, pr, false, "out of memory resolving the target");
        return;
    }
    pthread_mutex_init(&r->mu, NULL);
    r->refs = 2;
    r->doorbell = p->multi;
    snprintf(r->host, sizeof r->host, "%s", pr->host);
    snprintf(r->port, sizeof r->port, "%s", pr->port);
    if (pthread_attr_init(&attr) != 0) {
        resolve_free(r);
        tcp_end(p, pr, false, "cannot start a thread to resolve the target's host name");
        return;
    }
    rc = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (rc == 0)
        rc = pthread_create(&t, &attr, resolve_main, r);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        resolve_free(r);
        tcp_end(p, pr, false, "cannot start a thread to resolve the target's host name");
        return;
    }
    pr->resolving = r;
}

/* A resolution finished: connect, or fail. */
static void tcp_resolved(struct prober *p, struct probe *pr)
{
    struct resolve_req *r = pr->resolving;
    struct addrinfo *res;
    int gai_err;
    bool done;

    pthread_mutex_lock(&r->mu);
    done = r->done;
    res = r->res;
    gai_err = r->gai_err;
    if (done)
        r->res = NULL; /* ours now */
    pthread_mutex_unlock(&r->mu);
    if (!done)
        return;
    resolve_release(r, true);
    pr->resolving = NULL;
    if (gai_err != 0) {
        char detail[300];
        textf(detail, sizeof detail, "cannot resolve %s: %s", pr->host, gai_strerror(gai_err));
        tcp_end(p, pr, false, detail);
        return;
    }
    pr->addrs = pr->next_addr = res;
    tcp_connect_next(p, pr);
}

/* ---- http -------------------------------------------------------------------------- */

static size_t http_body(char *data, size_t size, size_t nmemb, void *user)
{
    struct probe *pr = user;
    size_t n = size * nmemb;

    (void)data;
    pr->body_len += n;
    if (pr->body_len > HTTP_BODY_MAX) {
        pr->body_cut = true;
        return 0; /* stop the transfer: the status is known */
    }
    return n;
}

static void http_start(struct prober *p, struct probe *pr)
{
    CURL *c = pr->easy;

    if (curl_init_result != CURLE_OK) {
        finish_check(p, pr, false, 0, "libcurl could not be initialised");
        return;
    }
    if (!c) {
        if (!(c = pr->easy = curl_easy_init())) {
            finish_check(p, pr, false, 0, "out of memory starting an HTTP check");
            return;
        }
        curl_easy_setopt(c, CURLOPT_URL, pr->spec.url);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
        curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)pr->spec.timeout_ms);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)pr->spec.timeout_ms);
        curl_easy_setopt(c, CURLOPT_USERAGENT, "roostd-probe");
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, pr);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, pr->errbuf);
        curl_easy_setopt(c, CURLOPT_PRIVATE, pr);
    }
    pr->body_len = 0;
    pr->body_cut = false;
    pr->errbuf[0] = '\0';
    if (curl_multi_add_handle(p->multi, c) != CURLM_OK) {
        finish_check(p, pr, false, 0, "cannot start an HTTP check (libcurl refused the handle)");
        return;
    }
    pr->easy_added = true;
}

static void http_done(struct prober *p, struct probe *pr, CURLcode res)
{
    char detail[256];
    long status = 0;
    curl_off_t total_us = 0;
    double latency;

    curl_multi_remove_handle(p->multi, pr->easy);
    pr->easy_added = false;
    latency = since_start_ms(pr, clock_mono_us());
    if (res == CURLE_OK || (res == CURLE_WRITE_ERROR && pr->body_cut)) {
        curl_easy_getinfo(pr->easy, CURLINFO_RESPONSE_CODE, &status);
        /* libcurl's own clock excludes the time until this thread noticed. */
        if (curl_easy_getinfo(pr->easy, CURLINFO_TOTAL_TIME_T, &total_us) == CURLE_OK &&
            total_us > 0)
            latency = (double)total_us / 1000.0;
        if (status >= pr->spec.expect_status_min && status <= pr->spec.expect_status_max) {
            finish_check(p, pr, true, latency, "");
            return;
        }
        textf(detail, sizeof detail, "HTTP %ld from %s (expected %d-%d)", status, pr->spec.url,
              pr->spec.expect_status_min, pr->spec.expect_status_max);
    } else if (res == CURLE_OPERATION_TIMEDOUT) {
        textf(detail, sizeof detail, "no answer from %s within %lld ms", pr->spec.url,
              (long long)pr->spec.timeout_ms);
    } else {
        textf(detail, sizeof detail, "GET %s: %s", pr->spec.url,
              pr->errbuf[0] ? pr->errbuf : curl_easy_strerror(res));
    }
    finish_check(p, pr, false, latency, detail);
}

static void http_collect(struct prober *p)
{
    CURLMsg *m;
    int left;

    while ((m = curl_multi_info_read(p->multi, &left))) {
        CURL *easy = m->easy_handle;
        CURLcode res = m->data.result;
        struct probe *pr;
        char *priv = NULL;

        if (m->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
        pr = (struct probe *)(void *)priv;
        if (pr && pr->easy == easy && pr->easy_added)
            http_done(p, pr, res);
    }
}

/* ---- grpc -------------------------------------------------------------------------- */

static void grpc_check_free(struct grpc_check *gc)
{
    if (gc->call)
        grpc_call_unref(gc->call);
    if (gc->send)
        grpc_byte_buffer_destroy(gc->send);
    if (gc->recv)
        grpc_byte_buffer_destroy(gc->recv);
    grpc_metadata_array_destroy(&gc->initial);
    grpc_metadata_array_destroy(&gc->trailing);
    grpc_slice_unref(gc->details);
    free(gc);
}

static void *grpc_main(void *arg)
{
    struct prober *p = arg;

    for (;;) {
        grpc_event ev = grpc_completion_queue_next(p->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        struct grpc_check *gc;
        bool orphaned;

        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        if (ev.type != GRPC_OP_COMPLETE)
            continue;
        gc = ev.tag;
        pthread_mutex_lock(&p->mu);
        gc->ended_us = clock_mono_us();
        gc->done = true;
        orphaned = gc->orphaned;
        pthread_mutex_unlock(&p->mu);
        if (orphaned)
            grpc_check_free(gc);
        else
            curl_multi_wakeup(p->multi);
    }
    return NULL;
}

static void grpc_start(struct prober *p, struct probe *pr)
{
    Grpc__Health__V1__HealthCheckRequest req = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
    uint8_t buf[PROBE_STR_MAX + 16];
    grpc_slice body;
    struct grpc_check *gc;
    grpc_op ops[6];
    gpr_timespec deadline;
    size_t len;

    if (!pr->channel) {
        grpc_arg args[1];
        grpc_channel_args chargs = {1, args};
        grpc_channel_credentials *creds = grpc_insecure_credentials_create();

        memset(args, 0, sizeof args);
        args[0].type = GRPC_ARG_INTEGER;
        args[0].key = (char *)GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL;
        args[0].value.integer = 1;
        pr->channel = grpc_channel_create(pr->spec.target, creds, &chargs);
        grpc_channel_credentials_release(creds);
        if (!pr->channel) {
            finish_check(p, pr, false, 0, "cannot create a gRPC channel");
            return;
        }
    }
    req.service = pr->spec.service ? pr->spec.service : (char *)"";
    /* service is at most PROBE_STR_MAX bytes: tag + 2-byte length + text. */
    len = grpc__health__v1__health_check_request__pack(&req, buf);
    if (!(gc = calloc(1, sizeof *gc))) {
        finish_check(p, pr, false, 0, "out of memory starting a gRPC health check");
        return;
    }
    grpc_metadata_array_init(&gc->initial);
    grpc_metadata_array_init(&gc->trailing);
    gc->details = grpc_empty_slice();
    gc->code = GRPC_STATUS_UNKNOWN;
    body = grpc_slice_from_copied_buffer((const char *)buf, len);
    gc->send = grpc_raw_byte_buffer_create(&body, 1);
    grpc_slice_unref(body);
    deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                            gpr_time_from_millis(pr->spec.timeout_ms, GPR_TIMESPAN));
    gc->call = grpc_channel_create_call(pr->channel, NULL, GRPC_PROPAGATE_DEFAULTS, p->cq,
                                        grpc_slice_from_static_string("/grpc.health.v1.Health/Check"),
                                        NULL, deadline, NULL);
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = gc->send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &gc->initial;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &gc->recv;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.status = &gc->code;
    ops[5].data.recv_status_on_client.status_details = &gc->details;
    ops[5].data.recv_status_on_client.trailing_metadata = &gc->trailing;
    if (!gc->call || grpc_call_start_batch(gc->call, ops, 6, gc, NULL) != GRPC_CALL_OK) {
        grpc_check_free(gc);
        finish_check(p, pr, false, 0, "cannot start a gRPC health check call");
        return;
    }
    pr->gc = gc;
}

static const char *grpc_code_name(grpc_status_code c)
{
    static const char *const names[] = {
        "OK",           "CANCELLED",         "UNKNOWN",        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED", "NOT_FOUND",     "ALREADY_EXISTS", "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
        "UNIMPLEMENTED", "INTERNAL",         "UNAVAILABLE",    "DATA_LOSS",
        "UNAUTHENTICATED"};

    return (unsigned)c < sizeof names / sizeof names[0] ? names[c] : "unknown status";
}

static void grpc_done(struct prober *p, struct probe *pr)
{
    struct grpc_check *gc = pr->gc;
    double latency = since_start_ms(pr, gc->ended_us);
    char detail[256];
    bool ok = false;

    pr->gc = NULL;
    if (gc->code == GRPC_STATUS_OK && gc->recv) {
        grpc_byte_buffer_reader r;
        Grpc__Health__V1__HealthCheckResponse *resp = NULL;

        if (grpc_byte_buffer_reader_init(&r, gc->recv)) {
            grpc_slice all = grpc_byte_buffer_reader_readall(&r);
            resp = grpc__health__v1__health_check_response__unpack(
                NULL, GRPC_SLICE_LENGTH(all), GRPC_SLICE_START_PTR(all));
            grpc_slice_unref(all);
            grpc_byte_buffer_reader_destroy(&r);
        }
        if (!resp) {
            textf(detail, sizeof detail, "health check of %s: the answer cannot be decoded",
                  pr->spec.target);
        } else {
            ok = resp->status == GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
            textf(detail, sizeof detail, "health check of %s: status %s", pr->spec.target,
                  resp->status == GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING
                      ? "NOT_SERVING"
                  : resp->status ==
                          GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN
                      ? "SERVICE_UNKNOWN"
                      : "UNKNOWN");
            grpc__health__v1__health_check_response__free_unpacked(resp, NULL);
        }
    } else if (gc->code == GRPC_STATUS_DEADLINE_EXCEEDED) {
        textf(detail, sizeof detail, "health check of %s: no answer within %lld ms",
              pr->spec.target, (long long)pr->spec.timeout_ms);
    } else {
        textf(detail, sizeof detail, "health check of %s: %s%s%.*s", pr->spec.target,
              grpc_code_name(gc->code), GRPC_SLICE_LENGTH(gc->details) ? ": " : "",
              (int)(GRPC_SLICE_LENGTH(gc->details) > 160 ? 160 : GRPC_SLICE_LENGTH(gc->details)),
              (const char *)GRPC_SLICE_START_PTR(gc->details));
    }
    grpc_check_free(gc);
    if (!ok && pr->channel) {
        /* Next time, a fresh connection rather than gRPC's reconnect backoff. */
        grpc_channel_destroy(pr->channel);
        pr->channel = NULL;
    }
    finish_check(p, pr, ok, latency, ok ? "" : detail);
}

/* ---- probes: start, cancel, free ---------------------------------------------------- */

static void start_check(struct prober *p, struct probe *pr, int64_t now)
{
    pr->in_flight = true;
    pr->started_us = now;
    pr->deadline_us = now + pr->spec.timeout_ms * 1000;
    switch (pr->spec.type) {
    case PROBE_TCP: tcp_start(p, pr); break;
    case PROBE_HTTP: http_start(p, pr); break;
    case PROBE_GRPC: grpc_start(p, pr); break;
    }
}

/* Abandons the check in flight without recording a result. Caller holds mu. */
static void cancel_check(struct prober *p, struct probe *pr)
{
    if (pr->fd >= 0) {
        close(pr->fd);
        pr->fd = -1;
    }
    if (pr->addrs) {
        freeaddrinfo(pr->addrs);
        pr->addrs = pr->next_addr = NULL;
    }
    if (pr->resolving) {
        resolve_release(pr->resolving, true);
        pr->resolving = NULL;
    }
    if (pr->easy_added) {
        curl_multi_remove_handle(p->multi, pr->easy);
        pr->easy_added = false;
    }
    if (pr->gc) {
        /* Its completion may already be queued: whoever sees it last frees it. */
        if (pr->gc->done) {
            grpc_check_free(pr->gc);
        } else {
            grpc_call_cancel(pr->gc->call, NULL);
            pr->gc->orphaned = true;
        }
        pr->gc = NULL;
    }
    pr->in_flight = false;
}

static void probe_free(struct prober *p, struct probe *pr)
{
    cancel_check(p, pr);
    if (pr->easy)
        curl_easy_cleanup(pr->easy);
    if (pr->channel)
        grpc_channel_destroy(pr->channel);
    probe_spec_free(&pr->spec);
    free(pr);
}

static struct probe *probe_new(const struct probe_spec *s)
{
    struct probe *pr = calloc(1, sizeof *pr);

    if (!pr)
        return NULL;
    pr->spec = *s;
    pr->spec.target = pr->spec.url = pr->spec.service = NULL;
    if ((s->target && !(pr->spec.target = dup_string(s->target))) ||
        (s->url && !(pr->spec.url = dup_string(s->url))) ||
        (s->service && !(pr->spec.service = dup_string(s->service)))) {
        probe_spec_free(&pr->spec);
        free(pr);
        return NULL;
    }
    if (s->type != PROBE_HTTP)
        split_target(s->target, pr->host, sizeof pr->host, pr->port, sizeof pr->port);
    pr->fd = -1;
    snprintf(pr->st.name, sizeof pr->st.name, "%s", s->name);
    pr->st.state = PROBE_UNKNOWN;
    pr->st.circuit = CIRCUIT_CLOSED;
    pr->st.since_ms = clock_wall_ms();
    pr->next_due_us = 0; /* checked at once */
    return pr;
}

/* ---- the prober thread ----------------------------------------------------------------- */

/* Makes room for n waited-on descriptors. */
static bool wait_room(struct prober *p, size_t n)
{
    struct curl_waitfd *w;
    struct pollfd *f;
    struct probe **q;
    size_t cap = p->wcap ? p->wcap : 16;

    if (n <= p->wcap)
        return true;
    while (cap < n)
        cap *= 2;
    if (!(w = realloc(p->wfds, cap * sizeof *w)))
        return false;
    p->wfds = w;
    if (!(f = realloc(p->pfds, cap * sizeof *f)))
        return false;
    p->pfds = f;
    if (!(q = realloc(p->wprobes, cap * sizeof *q)))
        return false;
    p->wprobes = q;
    p->wcap = cap;
    return true;
}

static void *prober_main(void *arg)
{
    struct prober *p = arg;
    unsigned nw = 0;

    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        int64_t now, wait_us = (int64_t)WAIT_CAP_MS * 1000;
        int running;

        /* 1. Results. TCP: libcurl does not report POLLERR/POLLHUP on extra
         * descriptors, so ask poll directly (without waiting) which
         * connects have finished, refused ones included. */
        if (nw > 0) {
            for (unsigned i = 0; i < nw; i++)
                p->pfds[i] = (struct pollfd){p->wfds[i].fd, POLLOUT, 0};
            if (poll(p->pfds, nw, 0) > 0) {
                for (unsigned i = 0; i < nw; i++) {
                    struct probe *pr = p->wprobes[i];
                    /* Still the same connect (not retired, not timed out). */
                    if (p->pfds[i].revents && !pr->retired && pr->in_flight &&
                        pr->fd == p->pfds[i].fd)
                        tcp_progress(p, pr);
                }
            }
        }
        curl_multi_perform(p->multi, &running);
        http_collect(p);
        for (size_t i = 0; i < p->n; i++) {
            struct probe *pr = p->probes[i];
            if (pr->gc && pr->gc->done)
                grpc_done(p, pr);
            if (pr->resolving)
                tcp_resolved(p, pr);
        }

        /* 2. Probes removed by prober_set. */
        for (size_t i = 0; i < p->nretired; i++)
            probe_free(p, p->retired[i]);
        p->nretired = 0;

        /* 3. Timeouts (TCP; libcurl and gRPC keep their own) and new checks. */
        now = clock_mono_us();
        nw = 0;
        for (size_t i = 0; i < p->n; i++) {
            struct probe *pr = p->probes[i];

            if (pr->in_flight && pr->spec.type == PROBE_TCP && now >= pr->deadline_us) {
                char detail[200];
                textf(detail, sizeof detail, "%s %s within %lld ms",
                      pr->resolving ? "cannot resolve the host of" : "no connection to",
                      pr->spec.target, (long long)pr->spec.timeout_ms);
                tcp_end(p, pr, false, detail);
            }
            if (!pr->in_flight && now >= pr->next_due_us)
                start_check(p, pr, now);
            if (pr->in_flight && pr->spec.type == PROBE_TCP) {
                if (pr->deadline_us - now < wait_us)
                    wait_us = pr->deadline_us - now;
                if (pr->fd >= 0) {
                    if (wait_room(p, nw + 1)) {
                        p->wfds[nw] = (struct curl_waitfd){pr->fd, CURL_WAIT_POLLOUT, 0};
                        p->wprobes[nw++] = pr;
                    } else if (wait_us > 10000) {
                        wait_us = 10000; /* no room to wait on it: look again soon */
                    }
                }
            } else if (!pr->in_flight && pr->next_due_us - now < wait_us) {
                wait_us = pr->next_due_us - now;
            }
        }
        if (wait_us < 0)
            wait_us = 0;

        /* 4. Tell, then wait. */
        pthread_mutex_unlock(&p->mu);
        for (size_t i = 0; i < p->nchanges; i++) {
            if (p->on_change)
                p->on_change(p->user, &p->changes[i]);
        }
        p->nchanges = 0;
        /* Round up so a check due in 0.4 ms is not polled for in a loop. */
        curl_multi_poll(p->multi, p->wfds, nw, (int)((wait_us + 999) / 1000), NULL);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* ---- API ----------------------------------------------------------------------------- */

roost_status prober_create(probe_change_fn on_change, void *user, struct prober **out,
                           roost_error *err)
{
    struct prober *p;
    int rc;

    pthread_once(&curl_once, curl_init_once);
    if (curl_init_result != CURLE_OK) {
        return roost_error_set(err, ROOST_EINTERNAL, "libcurl could not be initialised: %s",
                               curl_easy_strerror(curl_init_result));
    }
    if (!(p = calloc(1, sizeof *p)))
        return roost_error_set(err, ROOST_ENOMEM, "out of memory");
    pthread_mutex_init(&p->mu, NULL);
    p->on_change = on_change;
    p->user = user;
    if (!(p->multi = curl_multi_init())) {
        prober_destroy(p);
        return roost_error_set(err, ROOST_ENOMEM, "out of memory creating the probe scheduler");
    }
    grpc_init();
    p->grpc_inited = true;
    p->cq = grpc_completion_queue_create_for_next(NULL);
    if ((rc = pthread_create(&p->grpc_thread, NULL, grpc_main, p)) != 0) {
        char why[96];
        errno_text(rc, why, sizeof why);
        prober_destroy(p);
        return roost_error_set(err, ROOST_EINTERNAL, "cannot start the gRPC probe thread: %s", why);
    }
    p->grpc_thread_started = true;
    if ((rc = pthread_create(&p->thread, NULL, prober_main, p)) != 0) {
        char why[96];
        errno_text(rc, why, sizeof why);
        prober_destroy(p);
        return roost_error_set(err, ROOST_EINTERNAL, "cannot start the prober thread: %s", why);
    }
    p->thread_started = true;
    *out = p;
    return ROOST_OK;
}

roost_status prober_set(struct prober *p, const struct probe_spec *specs, size_t n,
                        roost_error *err)
{
    struct probe **next = NULL, **fresh = NULL;
    bool *kept = NULL;
    size_t nfresh = 0;
    roost_status rc;

    if (n > PROBE_MAX)
        return roost_error_set(err, ROOST_ELIMIT, "%zu probes: at most %d are supported", n, PROBE_MAX);
    for (size_t i = 0; i < n; i++) {
        if ((rc = spec_check(&specs[i], err)) != ROOST_OK)
            return rc;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(specs[i].name, specs[j].name) == 0)
                return roost_error_set(err, ROOST_EINVAL, "probe '%s' is given twice", specs[i].name);
        }
    }
    pthread_mutex_lock(&p->mu);
    /* Everything that can fail happens before the set changes. */
    if ((n && !(next = calloc(n, sizeof *next))) || (n && !(fresh = calloc(n, sizeof *fresh))) ||
        (p->n && !(kept = calloc(p->n, sizeof *kept)))) {
        rc = roost_error_set(err, ROOST_ENOMEM, "out of memory");
        goto out;
    }
    if (p->nretired + p->n > p->retired_cap) {
        size_t cap = p->nretired + p->n;
        struct probe **r = realloc(p->retired, cap * sizeof *r);
        if (!r) {
            rc = roost_error_set(err, ROOST_ENOMEM, "out of memory");
            goto out;
        }
        p->retired = r;
        p->retired_cap = cap;
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < p->n && !next[i]; j++) {
            if (!kept[j] && spec_equal(&p->probes[j]->spec, &specs[i])) {
                kept[j] = true;
                next[i] = p->probes[j];
            }
        }
        if (!next[i]) {
            if (!(next[i] = fresh[nfresh] = probe_new(&specs[i]))) {
                for (size_t k = 0; k < nfresh; k++)
                    probe_free(p, fresh[k]);
                rc = roost_error_set(err, ROOST_ENOMEM, "out of memory");
                goto out;
            }
            nfresh++;
        }
    }
    for (size_t j = 0; j < p->n; j++) {
        if (!kept[j]) {
            p->probes[j]->retired = true;
            p->retired[p->nretired++] = p->probes[j];
        }
    }
    free(p->probes);
    p->probes = next;
    p->n = n;
    next = NULL;
    rc = ROOST_OK;
out:
    pthread_mutex_unlock(&p->mu);
    if (rc == ROOST_OK)
        curl_multi_wakeup(p->multi);
    free(next);
    free(fresh);
    free(kept);
    return rc;
}

size_t prober_snapshot(struct prober *p, struct probe_status *out, size_t cap)
{
    size_t n;

    pthread_mutex_lock(&p->mu);
    n = p->n;
    for (size_t i = 0; i < n && i < cap; i++)
        out[i] = p->probes[i]->st;
    pthread_mutex_unlock(&p->mu);
    return n;
}

roost_status prober_status(struct prober *p, const char *name, struct probe_status *out)
{
    roost_status rc = ROOST_ENOTFOUND;

    pthread_mutex_lock(&p->mu);
    for (size_t i = 0; i < p->n; i++) {
        if (strcmp(p->probes[i]->st.name, name) == 0) {
            *out = p->probes[i]->st;
            rc = ROOST_OK;
            break;
        }
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

void prober_destroy(struct prober *p)
{
    if (!p)
        return;
    if (p->thread_started) {
        pthread_mutex_lock(&p->mu);
        p->stop = true;
        pthread_mutex_unlock(&p->mu);
        curl_multi_wakeup(p->multi);
        pthread_join(p->thread, NULL);
    }
    /* The prober thread is gone: this thread owns the probes now. gRPC
     * calls in flight are cancelled and freed by the completion thread. */
    pthread_mutex_lock(&p->mu);
    for (size_t i = 0; i < p->n; i++)
        probe_free(p, p->probes[i]);
    for (size_t i = 0; i < p->nretired; i++)
        probe_free(p, p->retired[i]);
    p->n = p->nretired = 0;
    pthread_mutex_unlock(&p->mu);
    if (p->cq) {
        grpc_completion_queue_shutdown(p->cq);
        if (p->grpc_thread_started) {
            pthread_join(p->grpc_thread, NULL); /* it drains the queue to SHUTDOWN */
        } else {
            while (grpc_completion_queue_next(p->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL)
                       .type != GRPC_QUEUE_SHUTDOWN)
                ;
        }
        grpc_completion_queue_destroy(p->cq);
    }
    if (p->grpc_inited)
        grpc_shutdown();
    if (p->multi)
        curl_multi_cleanup(p->multi);
    free(p->probes);
    free(p->retired);
    free(p->changes);
    free(p->wfds);
    free(p->pfds);
    free(p->wprobes);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
