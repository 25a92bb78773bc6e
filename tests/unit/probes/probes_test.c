/* Dependency probes: parsing (messages checked word for word), then a real
 * prober against real peers on 127.0.0.1: TCP listeners that come and go,
 * an HTTP server with chosen statuses and delays, a peer that accepts and
 * never answers, and a real roostd for gRPC health checks. Every wait is
 * bounded; intervals are tens of milliseconds so the suite stays quick.
 *
 * Usage: probes_test ROOSTD (Bazel passes the path). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "server/rollout/probes.h"
#include "test_http_server.h"
#include "testmain.h"
#include "testutil.h"
#include "tests/integration/harness.h"

/* ---- helpers ----------------------------------------------------------------- */


/* Every on_change call, in order. */
#define MAX_EVENTS 256

struct recorder {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t n;
    struct probe_status ev[MAX_EVENTS];
};

static void record(void *user, const struct probe_status *st)
{
    struct recorder *r = user;

    pthread_mutex_lock(&r->mu);
    if (r->n < MAX_EVENTS)
        r->ev[r->n++] = *st;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static struct recorder *recorder_new(void)
{
    struct recorder *r = calloc(1, sizeof *r);

    assert_non_null(r);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    return r;
}

static void recorder_free(struct recorder *r)
{
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r);
}

/* Waits up to `seconds` for an event of probe `name` with this state and
 * circuit at index >= *from; returns its index (and moves *from past it),
 * or -1. */
static long wait_event(struct recorder *r, size_t *from, const char *name, enum probe_state state,
                       enum probe_circuit circuit, double seconds)
{
    double deadline = test_now_s() + seconds;
    long found = -1;

    pthread_mutex_lock(&r->mu);
    while (found < 0) {
        struct timespec ts;
        for (size_t i = *from; i < r->n && found < 0; i++) {
            if (strcmp(r->ev[i].name, name) == 0 && r->ev[i].state == state &&
                r->ev[i].circuit == circuit)
                found = (long)i;
        }
        if (found >= 0 || test_now_s() >= deadline)
            break;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&r->cv, &r->mu, &ts);
    }
    pthread_mutex_unlock(&r->mu);
    if (found >= 0)
        *from = (size_t)found + 1;
    return found;
}

/* The events of one probe from index `from`, as "state/circuit" words. */
static void events_of(struct recorder *r, size_t from, const char *name, char *out, size_t cap)
{
    size_t used = 0;

    out[0] = '\0';
    pthread_mutex_lock(&r->mu);
    for (size_t i = from; i < r->n; i++) {
        if (strcmp(r->ev[i].name, name) != 0)
            continue;
        used += (size_t)snprintf(out + used, cap - used, "%s%s/%s", used ? " " : "",
                                 probe_state_name(r->ev[i].state),
                                 probe_circuit_name(r->ev[i].circuit));
        if (used >= cap)
            break;
    }
    pthread_mutex_unlock(&r->mu);
}

static size_t event_count(struct recorder *r)
{
    size_t n;

    pthread_mutex_lock(&r->mu);
    n = r->n;
    pthread_mutex_unlock(&r->mu);
    return n;
}

static struct probe_status status_of(struct prober *p, const char *name)
{
    struct probe_status st;

    memset(&st, 0, sizeof st);
    assert_int_equal(prober_status(p, name, &st), ROOST_OK);
    return st;
}

/* Waits until the probe has ended at least `checks` checks. */
static bool wait_checks(struct prober *p, const char *name, uint64_t checks, double seconds)
{
    double deadline = test_now_s() + seconds;

    while (test_now_s() < deadline) {
        if (status_of(p, name).checks >= checks)
            return true;
        test_sleep_ms(10);
    }
    return false;
}

static struct probe_spec spec_tcp(const char *name, int port, int64_t interval_ms)
{
    struct probe_spec s;
    char target[64];

    memset(&s, 0, sizeof s);
    snprintf(s.name, sizeof s.name, "%s", name);
    snprintf(target, sizeof target, "127.0.0.1:%d", port);
    s.type = PROBE_TCP;
    s.target = strdup(target);
    s.interval_ms = interval_ms;
    s.timeout_ms = 500;
    s.failure_threshold = 3;
    s.success_threshold = 2;
    return s;
}

static struct probe_spec spec_http(const char *name, int port, const char *path,
                                   int64_t interval_ms, int64_t timeout_ms)
{
    struct probe_spec s;
    char url[128];

    memset(&s, 0, sizeof s);
    snprintf(s.name, sizeof s.name, "%s", name);
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    s.type = PROBE_HTTP;
    s.url = strdup(url);
    s.expect_status_min = 200;
    s.expect_status_max = 399;
    s.interval_ms = interval_ms;
    s.timeout_ms = timeout_ms;
    s.failure_threshold = 2;
    s.success_threshold = 2;
    return s;
}

static struct probe_spec spec_grpc(const char *name, const char *target, const char *service,
                                   int64_t interval_ms, int64_t timeout_ms)
{
    struct probe_spec s;

    memset(&s, 0, sizeof s);
    snprintf(s.name, sizeof s.name, "%s", name);
    s.type = PROBE_GRPC;
    s.target = strdup(target);
    s.service = service ? strdup(service) : NULL;
    s.interval_ms = interval_ms;
    s.timeout_ms = timeout_ms;
    s.failure_threshold = 2;
    s.success_threshold = 2;
    return s;
}

/* A listening socket on 127.0.0.1 (port 0 = any free port). */
static int listen_on(int port, int *bound)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    struct sockaddr_in a;
    socklen_t len = sizeof a;

    assert_true(fd >= 0);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0)
        fail_msg("bind 127.0.0.1:%d: %s", port, strerror(errno));
    assert_int_equal(listen(fd, 64), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    if (bound)
        *bound = ntohs(a.sin_port);
    return fd;
}

/* A port with nothing listening on it (it was free a moment ago). */
static int closed_port(void)
{
    int port, fd = listen_on(0, &port);

    close(fd);
    return port;
}

/* A TCP service: accepts and closes every connection on its own thread, so
 * its backlog never fills however many checks connect. */
struct tcp_server {
    int fd, port;
    atomic_int stop;
    pthread_t t;
};

static void *tcp_server_main(void *arg)
{
    struct tcp_server *s = arg;

    while (!atomic_load(&s->stop)) {
        struct pollfd pf = {s->fd, POLLIN, 0};
        if (poll(&pf, 1, 20) > 0) {
            int c = accept(s->fd, NULL, NULL);
            if (c >= 0)
                close(c);
        }
    }
    return NULL;
}

static void tcp_server_start(struct tcp_server *s, int port)
{
    atomic_store(&s->stop, 0);
    s->fd = listen_on(port, &s->port);
    assert_int_equal(pthread_create(&s->t, NULL, tcp_server_main, s), 0);
}

static void tcp_server_stop(struct tcp_server *s)
{
    atomic_store(&s->stop, 1);
    pthread_join(s->t, NULL);
    close(s->fd);
}

static void free_specs(struct probe_spec *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        probe_spec_free(&s[i]);
}

static struct prober *start_prober(struct recorder *r)
{
    struct prober *p = NULL;
    roost_error err = {0};

    if (prober_create(r ? record : NULL, r, &p, &err) != ROOST_OK)
        fail_msg("prober_create: %s", err.msg);
    return p;
}

static void set_probes(struct prober *p, const struct probe_spec *s, size_t n)
{
    roost_error err = {0};

    if (prober_set(p, s, n, &err) != ROOST_OK)
        fail_msg("prober_set: %s", err.msg);
}

static cJSON *parse_json(const char *text)
{
    cJSON *j = cJSON_Parse(text);

    assert_non_null(j);
    return j;
}

/* ---- parsing ------------------------------------------------------------------- */

static void probe_parse_tcp_fills_defaults(void **state)
{
    cJSON *j = parse_json("{\"type\": \"tcp\", \"target\": \"10.0.0.5:5432\", \"interval\": \"10s\"}");
    struct probe_spec s;
    roost_error err = {0};

    (void)state;
    assert_int_equal(probe_spec_parse(j, "payments-db", "probes.payments-db", &s, &err), ROOST_OK);
    assert_string_equal(s.name, "payments-db");
    assert_int_equal(s.type, PROBE_TCP);
    assert_string_equal(s.target, "10.0.0.5:5432");
    assert_null(s.url);
    assert_null(s.service);
    assert_int_equal(s.interval_ms, 10000);
    assert_int_equal(s.timeout_ms, 2000);
    assert_int_equal(s.degraded_ms, 0);
    assert_int_equal(s.failure_threshold, 3);
    assert_int_equal(s.success_threshold, 2);
    probe_spec_free(&s);
    cJSON_Delete(j);
}

static void probe_parse_http_and_grpc_with_every_field(void **state)
{
    cJSON *h = parse_json("{\"type\": \"http\", \"url\": \"http://10.0.0.7:8080/healthz\", "
                          "\"expectStatus\": \"200-204\", \"interval\": \"5s\", \"timeout\": \"1s\", "
                          "\"degradedLatency\": \"250ms\", \"failureThreshold\": 5, "
                          "\"successThreshold\": 1}");
    cJSON *g = parse_json("{\"type\": \"grpc\", \"target\": \"[fd00::5]:50051\", "
                          "\"service\": \"payments.v1.Ledger\", \"interval\": \"1s\"}");
    cJSON *one = parse_json("{\"type\": \"http\", \"url\": \"https://x.example/\", \"expectStatus\": 204}");
    struct probe_spec s;
    roost_error err = {0};

    (void)state;
    assert_int_equal(probe_spec_parse(h, "web", "probes.web", &s, &err), ROOST_OK);
    assert_int_equal(s.type, PROBE_HTTP);
    assert_string_equal(s.url, "http://10.0.0.7:8080/healthz");
    assert_int_equal(s.expect_status_min, 200);
    assert_int_equal(s.expect_status_max, 204);
    assert_int_equal(s.interval_ms, 5000);
    assert_int_equal(s.timeout_ms, 1000);
    assert_int_equal(s.degraded_ms, 250);
    assert_int_equal(s.failure_threshold, 5);
    assert_int_equal(s.success_threshold, 1);
    probe_spec_free(&s);

    assert_int_equal(probe_spec_parse(g, "ledger", "probes.ledger", &s, &err), ROOST_OK);
    assert_int_equal(s.type, PROBE_GRPC);
    assert_string_equal(s.target, "[fd00::5]:50051");
    assert_string_equal(s.service, "payments.v1.Ledger");
    /* The default timeout (2s) never outlasts a shorter interval. */
    assert_int_equal(s.interval_ms, 1000);
    assert_int_equal(s.timeout_ms, 1000);
    probe_spec_free(&s);

    assert_int_equal(probe_spec_parse(one, "x", "probes.x", &s, &err), ROOST_OK);
    assert_int_equal(s.expect_status_min, 204);
    assert_int_equal(s.expect_status_max, 204);
    probe_spec_free(&s);
    cJSON_Delete(h);
    cJSON_Delete(g);
    cJSON_Delete(one);
}

static void probe_parse_errors_name_the_path_and_what_is_expected(void **state)
{
    static const struct {
        const char *json;
        const char *msg;
    } cases[] = {
        {"[]", "p: expected an object such as {\"type\": \"tcp\", \"target\": \"10.0.0.5:5432\"}"},
        {"{\"target\": \"a:1\"}", "p.type: missing (tcp, http or grpc)"},
        {"{\"type\": \"tpc\", \"target\": \"a:1\"}",
         "p.type: unknown probe type 'tpc' (expected one of tcp, http, grpc; did you mean 'tcp'?)"},
        {"{\"type\": \"tcp\", \"target\": \"a:1\", \"intervall\": \"10s\"}",
         "p: unknown field 'intervall' (expected one of type, target, interval, timeout, "
         "degradedLatency, failureThreshold, successThreshold; did you mean 'interval'?)"},
        {"{\"type\": \"tcp\", \"target\": \"a:1\", \"url\": \"http://a/\"}",
         "p.url: only for http probes (this is a tcp probe)"},
        {"{\"type\": \"http\", \"url\": \"http://a/\", \"target\": \"a:1\"}",
         "p.target: only for tcp and grpc probes (this is a http probe)"},
        {"{\"type\": \"tcp\", \"target\": \"a:1\", \"service\": \"x\"}",
         "p.service: only for grpc probes (this is a tcp probe)"},
        {"{\"type\": \"tcp\", \"target\": \"a:1\", \"target\": \"b:2\"}",
         "p: field 'target' is given twice"},
        {"{\"type\": \"tcp\"}", "p.target: missing (HOST:PORT to connect to)"},
        {"{\"type\": \"grpc\"}", "p.target: missing (HOST:PORT to health-check)"},
        {"{\"type\": \"tcp\", \"target\": \"10.0.0.5\"}",
         "p.target: expected HOST:PORT such as \"10.0.0.5:5432\", \"db.internal:5432\" or "
         "\"[fd00::5]:5432\" (port 1-65535)"},
        {"{\"type\": \"tcp\", \"target\": \"10.0.0.5:70000\"}",
         "p.target: expected HOST:PORT such as \"10.0.0.5:5432\", \"db.internal:5432\" or "
         "\"[fd00::5]:5432\" (port 1-65535)"},
        {"{\"type\": \"tcp\", \"target\": \"fd00::5:80\"}",
         "p.target: expected HOST:PORT such as \"10.0.0.5:5432\", \"db.internal:5432\" or "
         "\"[fd00::5]:5432\" (port 1-65535)"},
        {"{\"type\": \"http\"}", "p.url: missing (the address to GET)"},
        {"{\"type\": \"http\", \"url\": \"10.0.0.7/healthz\"}",
         "p.url: expected an http:// or https:// URL of at most 1024 bytes without spaces, "
         "such as \"http://10.0.0.7:8080/healthz\""},
        {"{\"type\": \"http\", \"url\": \"http://a/\", \"expectStatus\": \"2xx\"}",
         "p.expectStatus: expected an HTTP status such as 200 or a range such as \"200-299\", "
         "within 100-599"},
        {"{\"type\": \"http\", \"url\": \"http://a/\", \"expectStatus\": \"299-200\"}",
         "p.expectStatus: expected an HTTP status such as 200 or a range such as \"200-299\", "
         "within 100-599"},
        {"{\"type\": \"http\", \"url\": \"http://a/\", \"expectStatus\": 1000}",
         "p.expectStatus: expected an HTTP status such as 200 or a range such as \"200-299\", "
         "within 100-599"},
        {"{\"type\": \"tcp\", \"target\": \"a:1\", \"interval\": \"500ms\"}",
         "p.interval: expected a duration from \"1s\" to \"1h\" such as \"10s\" or \"500ms\""},
        {"{\"type\": \"tcp\", \"target\": \"a:1\", \"interval\": 10}",
         "p.interval: expected a duration from \"1s\" to \"1h\" such as \"10s\" or \"500ms\""},
        {"{\"type\": \"tcp\", \"target\": \"a:1\", \"interval\": \"5s\", \"timeout\": \"6s\"}",
         "p.timeout: expected a duration from \"1ms\" to the interval such as \"10s\" or \"500ms\""},
        {"{\"type\": \"tcp\", \"target\": \"a:1\", \"degradedLatency\": \"2s\"}",
         "p.degradedLatency: expected a duration from \"1ms\" to just under the timeout such as "
         "\"10s\" or \"500ms\""},
        {"{\"type\": \"tcp\", \"target\": \"a:1\", \"failureThreshold\": 0}",
         "p.failureThreshold: expected a whole number from 1 to 100 (consecutive failed checks "
         "before the probe is down)"},
        {"{\"type\": \"tcp\", \"target\": \"a:1\", \"successThreshold\": 2.5}",
         "p.successThreshold: expected a whole number from 1 to 100 (successful checks in a row "
         "that close the circuit again)"},
        {"{\"type\": \"grpc\", \"target\": \"a:1\", \"service\": 3}",
         "p.service: expected the health service name as a string, such as "
         "\"payments.v1.Ledger\" (\"\" = the whole server)"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *j = parse_json(cases[i].json);
        struct probe_spec s;
        roost_error err = {0};

        memset(&s, 0x5a, sizeof s); /* untouched on failure */
        if (probe_spec_parse(j, "db", "p", &s, &err) != ROOST_EINVAL)
            fail_msg("case %zu (%s) was accepted", i, cases[i].json);
        if (strcmp(err.msg, cases[i].msg) != 0)
            fail_msg("case %zu (%s):\n  got      '%s'\n  expected '%s'", i, cases[i].json,
                     err.msg, cases[i].msg);
        assert_int_equal(s.interval_ms, (int64_t)0x5a5a5a5a5a5a5a5aLL);
        cJSON_Delete(j);
    }
}

static void probe_parse_rejects_unusable_names(void **state)
{
    cJSON *j = parse_json("{\"type\": \"tcp\", \"target\": \"a:1\"}");
    struct probe_spec s;
    roost_error err = {0};

    (void)state;
    assert_int_equal(probe_spec_parse(j, "payments db", "probes.payments db", &s, &err), ROOST_EINVAL);
    assert_string_equal(err.msg,
                        "probes.payments db: a probe name is 1-128 letters, digits, '-', '_' or '.'");
    assert_int_equal(probe_spec_parse(j, "", "probes.", &s, &err), ROOST_EINVAL);
    cJSON_Delete(j);
}

static void prober_set_rejects_bad_specs_and_keeps_the_old_set(void **state)
{
    struct prober *p = start_prober(NULL);
    struct probe_spec good[1], dup[2], bad[1];
    struct probe_status st[4];
    roost_error err = {0};

    (void)state;
    good[0] = spec_tcp("a", closed_port(), 1000);
    set_probes(p, good, 1);
    dup[0] = spec_tcp("b", 1, 1000);
    dup[1] = spec_tcp("b", 2, 1000);
    assert_int_equal(prober_set(p, dup, 2, &err), ROOST_EINVAL);
    assert_string_equal(err.msg, "probe 'b' is given twice");
    bad[0] = spec_tcp("c", 1, 1000);
    free(bad[0].target);
    bad[0].target = NULL;
    assert_int_equal(prober_set(p, bad, 1, &err), ROOST_EINVAL);
    assert_string_equal(err.msg, "probe 'c': needs a HOST:PORT target");
    assert_int_equal(prober_snapshot(p, st, 4), 1);
    assert_string_equal(st[0].name, "a");
    assert_int_equal(prober_status(p, "b", &st[1]), ROOST_ENOTFOUND);
    prober_destroy(p);
    free_specs(good, 1);
    free_specs(dup, 2);
    free_specs(bad, 1);
}

/* ---- TCP ---------------------------------------------------------------------- */

static void tcp_probe_goes_down_opens_the_circuit_and_recovers_through_half_open(void **state)
{
    struct recorder *r = recorder_new();
    struct prober *p = start_prober(r);
    struct tcp_server srv;
    struct probe_spec s[1];
    struct probe_status st;
    size_t at = 0;
    char seq[512];
    long up, down;

    (void)state;
    tcp_server_start(&srv, 0);
    s[0] = spec_tcp("db", srv.port, 40);
    set_probes(p, s, 1);

    up = wait_event(r, &at, "db", PROBE_UP, CIRCUIT_CLOSED, 5);
    assert_true(up >= 0);
    st = status_of(p, "db");
    assert_int_equal(st.consecutive_failures, 0);
    assert_string_equal(st.detail, "");

    tcp_server_stop(&srv); /* refused from now on */
    down = wait_event(r, &at, "db", PROBE_DOWN, CIRCUIT_OPEN, 5);
    assert_true(down >= 0);
    assert_int_equal(r->ev[down].consecutive_failures, 3);
    assert_non_null(strstr(r->ev[down].detail, "Connection refused"));
    assert_non_null(strstr(r->ev[down].detail, s[0].target));

    /* Open: probing goes on; failures keep counting, the circuit stays open. */
    assert_true(wait_checks(p, "db", status_of(p, "db").checks + 3, 5));
    st = status_of(p, "db");
    assert_int_equal(st.state, PROBE_DOWN);
    assert_int_equal(st.circuit, CIRCUIT_OPEN);
    assert_true(st.consecutive_failures > 3);

    tcp_server_start(&srv, srv.port); /* the dependency is back */
    assert_true(wait_event(r, &at, "db", PROBE_DOWN, CIRCUIT_HALF_OPEN, 5) >= 0);
    assert_true(wait_event(r, &at, "db", PROBE_UP, CIRCUIT_CLOSED, 5) >= 0);
    events_of(r, 0, "db", seq, sizeof seq);
    assert_string_equal(seq, "up/closed down/open down/half-open up/closed");
    st = status_of(p, "db");
    assert_int_equal(st.consecutive_failures, 0);
    assert_string_equal(st.detail, "");
    prober_destroy(p);
    tcp_server_stop(&srv);
    free_specs(s, 1);
    recorder_free(r);
}

static void a_failure_while_half_open_opens_the_circuit_again(void **state)
{
    struct recorder *r = recorder_new();
    struct prober *p = start_prober(r);
    struct tcp_server srv;
    struct probe_spec s[1];
    size_t at = 0;

    (void)state;
    tcp_server_start(&srv, 0);
    s[0] = spec_tcp("db", srv.port, 40);
    s[0].failure_threshold = 1;
    s[0].success_threshold = 1000; /* stays half-open while it passes */
    set_probes(p, s, 1);
    assert_true(wait_event(r, &at, "db", PROBE_UP, CIRCUIT_CLOSED, 5) >= 0);
    tcp_server_stop(&srv);
    assert_true(wait_event(r, &at, "db", PROBE_DOWN, CIRCUIT_OPEN, 5) >= 0);
    tcp_server_start(&srv, srv.port);
    assert_true(wait_event(r, &at, "db", PROBE_DOWN, CIRCUIT_HALF_OPEN, 5) >= 0);
    assert_true(wait_checks(p, "db", status_of(p, "db").checks + 2, 5));
    assert_non_null(strstr(status_of(p, "db").detail, "recovering: "));
    tcp_server_stop(&srv);
    assert_true(wait_event(r, &at, "db", PROBE_DOWN, CIRCUIT_OPEN, 5) >= 0);
    prober_destroy(p);
    free_specs(s, 1);
    recorder_free(r);
}

static void tcp_probe_resolves_host_names_and_tries_every_address(void **state)
{
    /* "localhost" may resolve to ::1 first; the listener is on 127.0.0.1
     * only, so the probe must move on to the next address. */
    struct recorder *r = recorder_new();
    struct prober *p = start_prober(r);
    struct tcp_server srv;
    struct probe_spec s[1];
    char target[64];
    size_t at = 0;

    (void)state;
    tcp_server_start(&srv, 0);
    s[0] = spec_tcp("by-name", srv.port, 50);
    snprintf(target, sizeof target, "localhost:%d", srv.port);
    free(s[0].target);
    s[0].target = strdup(target);
    set_probes(p, s, 1);
    assert_true(wait_event(r, &at, "by-name", PROBE_UP, CIRCUIT_CLOSED, 5) >= 0);
    prober_destroy(p);
    tcp_server_stop(&srv);
    free_specs(s, 1);
    recorder_free(r);
}

/* ---- HTTP --------------------------------------------------------------------------- */

static void http_probe_compares_the_status_with_the_expected_range(void **state)
{
    struct recorder *r = recorder_new();
    struct prober *p = start_prober(r);
    struct ths *srv = ths_start();
    struct probe_spec s[3];
    struct probe_status st;
    size_t at = 0;
    long down;

    (void)state;
    ths_respond(srv, 204, "", 0);
    s[0] = spec_http("default-range", ths_port(srv), "/healthz", 40, 1000);
    s[1] = spec_http("wants-5xx", ths_port(srv), "/healthz", 40, 1000);
    s[1].expect_status_min = 500;
    s[1].expect_status_max = 599;
    s[2] = spec_http("wants-200", ths_port(srv), "/healthz", 40, 1000);
    s[2].expect_status_min = s[2].expect_status_max = 200;
    set_probes(p, s, 3);
    assert_true(wait_event(r, &at, "default-range", PROBE_UP, CIRCUIT_CLOSED, 5) >= 0);
    at = 0;
    down = wait_event(r, &at, "wants-5xx", PROBE_DOWN, CIRCUIT_OPEN, 5);
    assert_true(down >= 0);
    {
        char expect[200];
        snprintf(expect, sizeof expect, "HTTP 204 from http://127.0.0.1:%d/healthz (expected 500-599)",
                 ths_port(srv));
        assert_string_equal(r->ev[down].detail, expect);
    }
    at = 0;
    assert_true(wait_event(r, &at, "wants-200", PROBE_DOWN, CIRCUIT_OPEN, 5) >= 0);

    ths_respond(srv, 503, "", 0);
    at = 0;
    assert_true(wait_event(r, &at, "default-range", PROBE_DOWN, CIRCUIT_OPEN, 5) >= 0);
    at = 0;
    assert_true(wait_event(r, &at, "wants-5xx", PROBE_UP, CIRCUIT_CLOSED, 5) >= 0);
    st = status_of(p, "default-range");
    assert_non_null(strstr(st.detail, "HTTP 503 from "));
    prober_destroy(p);
    ths_stop(srv);
    free_specs(s, 3);
    recorder_free(r);
}

static void http_probe_slower_than_degraded_latency_is_degraded(void **state)
{
    struct recorder *r = recorder_new();
    struct prober *p = start_prober(r);
    struct ths *srv = ths_start();
    struct probe_spec s[1];
    struct probe_status st;
    size_t at = 0;

    (void)state;
    ths_respond(srv, 200, "ok", 250);
    s[0] = spec_http("slow", ths_port(srv), "/", 100, 2000);
    s[0].degraded_ms = 100;
    set_probes(p, s, 1);
    assert_true(wait_event(r, &at, "slow", PROBE_DEGRADED, CIRCUIT_CLOSED, 5) >= 0);
    st = status_of(p, "slow");
    assert_true(st.latency_ms >= 250);
    assert_true(st.latency_ms < 2000);
    assert_non_null(strstr(st.detail, "above 100 ms"));
    /* Fast again: up. */
    ths_respond(srv, 200, "ok", 0);
    assert_true(wait_event(r, &at, "slow", PROBE_UP, CIRCUIT_CLOSED, 5) >= 0);
    assert_true(status_of(p, "slow").latency_ms < 100);
    prober_destroy(p);
    ths_stop(srv);
    free_specs(s, 1);
    recorder_free(r);
}

/* ---- gRPC ------------------------------------------------------------------------------ */

static void grpc_health_probe_sees_roostd_serving_and_a_closed_port_down(void **state)
{
    struct roostd_proc d;
    struct recorder *r = recorder_new();
    struct prober *p = start_prober(r);
    struct probe_spec s[3];
    char closed[64], addr[64];
    size_t at = 0;
    long ev;

    (void)state;
    memset(&d, 0, sizeof d);
    assert_true(roostd_start(&d));
    snprintf(closed, sizeof closed, "127.0.0.1:%d", closed_port());
    s[0] = spec_grpc("roostd", d.addr, NULL, 50, 2000);
    s[1] = spec_grpc("roostd-sync", d.addr, "roost.v1.Sync", 50, 2000);
    s[2] = spec_grpc("nothing-there", closed, NULL, 50, 1000);
    set_probes(p, s, 3);
    assert_true(wait_event(r, &at, "roostd", PROBE_UP, CIRCUIT_CLOSED, 10) >= 0);
    at = 0;
    assert_true(wait_event(r, &at, "roostd-sync", PROBE_UP, CIRCUIT_CLOSED, 10) >= 0);
    at = 0;
    ev = wait_event(r, &at, "nothing-there", PROBE_DOWN, CIRCUIT_OPEN, 10);
    assert_true(ev >= 0);
    assert_non_null(strstr(r->ev[ev].detail, "UNAVAILABLE"));

    /* roostd stops: its probe goes down. It comes back on the same port:
     * the probe sees it at its next checks (a fresh channel each time, not
     * gRPC's reconnect backoff, which would wait for seconds). */
    assert_true(roostd_stop(&d, SIGTERM) >= 0);
    at = 0;
    assert_true(wait_event(r, &at, "roostd", PROBE_DOWN, CIRCUIT_OPEN, 10) >= 0);
    snprintf(addr, sizeof addr, "%s", d.addr);
    d.extra[0] = "--listen";
    d.extra[1] = addr;
    d.extra[2] = NULL;
    assert_true(roostd_start(&d));
    assert_string_equal(d.addr, addr);
    assert_true(wait_event(r, &at, "roostd", PROBE_DOWN, CIRCUIT_HALF_OPEN, 5) >= 0);
    assert_true(wait_event(r, &at, "roostd", PROBE_UP, CIRCUIT_CLOSED, 5) >= 0);
    prober_destroy(p);
    roostd_stop(&d, SIGTERM);
    free_specs(s, 3);
    recorder_free(r);
}

static void grpc_health_probe_of_an_unknown_service_is_down(void **state)
{
    struct roostd_proc d;
    struct recorder *r = recorder_new();
    struct prober *p = start_prober(r);
    struct probe_spec s[1];
    size_t at = 0;
    long ev;

    (void)state;
    memset(&d, 0, sizeof d);
    assert_true(roostd_start(&d));
    s[0] = spec_grpc("ledger", d.addr, "payments.v1.Ledger", 50, 2000);
    set_probes(p, s, 1);
    ev = wait_event(r, &at, "ledger", PROBE_DOWN, CIRCUIT_OPEN, 10);
    assert_true(ev >= 0);
    assert_non_null(strstr(r->ev[ev].detail, "NOT_FOUND"));
    prober_destroy(p);
    roostd_stop(&d, SIGTERM);
    free_specs(s, 1);
    recorder_free(r);
}

/* ---- isolation, replacement, shutdown ---------------------------------------------------- */

static void hanging_dependency_does_not_delay_other_probes(void **state)
{
    /* The hanging peer's kernel completes the TCP handshake (it listens)
     * but nobody ever reads or answers: HTTP and gRPC checks against it
     * wait for their whole timeout (5 s). Meanwhile a fast probe, due every
     * 25 ms, must keep its schedule. */
    struct prober *p = start_prober(NULL);
    struct ths *srv = ths_start();
    int hang_port, hang_fd = listen_on(0, &hang_port);
    char hang[64];
    struct probe_spec s[3];
    int before, after;
    double t0;

    (void)state;
    snprintf(hang, sizeof hang, "127.0.0.1:%d", hang_port);
    s[0] = spec_http("hanging-http", hang_port, "/healthz", 5000, 5000);
    s[1] = spec_grpc("hanging-grpc", hang, NULL, 5000, 5000);
    s[2] = spec_http("fast", ths_port(srv), "/", 25, 1000);
    set_probes(p, s, 3);
    assert_true(wait_checks(p, "fast", 2, 5));
    t0 = test_now_s();
    before = ths_count(srv);
    test_sleep_ms(1000);
    after = ths_count(srv);
    /* About 40 checks in a second; a prober held up by the hanging checks
     * would manage none. Demand an eighth, for loaded machines. */
    if (after - before < 5)
        fail_msg("only %d checks of the fast probe in %.2f s while others hung", after - before,
                 test_now_s() - t0);
    /* The hanging checks are still in flight: none has ended. */
    assert_int_equal(status_of(p, "hanging-http").checks, 0);
    assert_int_equal(status_of(p, "hanging-grpc").checks, 0);
    /* ...and they do end, at their timeout, as failures. */
    assert_true(wait_checks(p, "hanging-http", 1, 8));
    assert_true(wait_checks(p, "hanging-grpc", 1, 8));
    assert_non_null(strstr(status_of(p, "hanging-http").detail, "within 5000 ms"));
    assert_non_null(strstr(status_of(p, "hanging-grpc").detail, "within 5000 ms"));
    prober_destroy(p);
    ths_stop(srv);
    close(hang_fd);
    free_specs(s, 3);
}

static void prober_set_keeps_the_state_of_unchanged_probes(void **state)
{
    struct recorder *r = recorder_new();
    struct prober *p = start_prober(r);
    struct tcp_server srv;
    struct probe_spec first[2], second[3];
    struct probe_status a_before, a_after, snap[4];
    size_t at = 0, events_before;
    char seq[256];

    (void)state;
    tcp_server_start(&srv, 0);
    first[0] = spec_tcp("a", srv.port, 30);
    first[1] = spec_tcp("b", srv.port, 30);
    set_probes(p, first, 2);
    assert_true(wait_event(r, &at, "a", PROBE_UP, CIRCUIT_CLOSED, 5) >= 0);
    at = 0;
    assert_true(wait_event(r, &at, "b", PROBE_UP, CIRCUIT_CLOSED, 5) >= 0);
    assert_true(wait_checks(p, "a", 5, 5));
    a_before = status_of(p, "a");
    events_before = event_count(r);

    /* a: same spec (a copy); b: interval changed; c: new. */
    second[0] = spec_tcp("a", srv.port, 30);
    second[1] = spec_tcp("b", srv.port, 31);
    second[2] = spec_tcp("c", srv.port, 30);
    set_probes(p, second, 3);
    a_after = status_of(p, "a");
    assert_int_equal(a_after.state, PROBE_UP);
    assert_int_equal(a_after.since_ms, a_before.since_ms);
    assert_true(a_after.checks >= a_before.checks);
    assert_int_equal(prober_snapshot(p, snap, 4), 3);
    assert_string_equal(snap[0].name, "a");
    assert_string_equal(snap[1].name, "b");
    assert_string_equal(snap[2].name, "c");
    /* A probe whose spec changed starts over. */
    assert_true(snap[1].checks < a_after.checks);
    at = events_before;
    assert_true(wait_event(r, &at, "b", PROBE_UP, CIRCUIT_CLOSED, 5) >= 0);
    at = events_before;
    assert_true(wait_event(r, &at, "c", PROBE_UP, CIRCUIT_CLOSED, 5) >= 0);
    assert_true(wait_checks(p, "a", a_after.checks + 5, 5));
    /* on_change fired for a only once, when it first came up: checks that
     * change nothing are not events. */
    events_of(r, 0, "a", seq, sizeof seq);
    assert_string_equal(seq, "up/closed");

    /* Removing probes: only the given ones remain. */
    set_probes(p, second + 2, 1);
    assert_int_equal(prober_snapshot(p, snap, 4), 1);
    assert_string_equal(snap[0].name, "c");
    assert_int_equal(prober_status(p, "a", snap), ROOST_ENOTFOUND);
    set_probes(p, NULL, 0);
    assert_int_equal(prober_snapshot(p, NULL, 0), 0);
    prober_destroy(p);
    tcp_server_stop(&srv);
    free_specs(first, 2);
    free_specs(second, 3);
    recorder_free(r);
}

static void prober_destroy_is_prompt_with_checks_in_flight(void **state)
{
    struct prober *p = start_prober(NULL);
    int hang_port, hang_fd = listen_on(0, &hang_port);
    char hang[64];
    struct probe_spec s[2];
    double t0;

    (void)state;
    snprintf(hang, sizeof hang, "127.0.0.1:%d", hang_port);
    s[0] = spec_http("hanging-http", hang_port, "/", 60000, 30000);
    s[1] = spec_grpc("hanging-grpc", hang, NULL, 60000, 30000);
    set_probes(p, s, 2);
    test_sleep_ms(200); /* both checks are in flight */
    t0 = test_now_s();
    prober_destroy(p);
    if (test_now_s() - t0 > 1.0)
        fail_msg("prober_destroy took %.2f s", test_now_s() - t0);
    close(hang_fd);
    free_specs(s, 2);
}

static void names_of_states_circuits_and_types(void **state)
{
    (void)state;
    assert_string_equal(probe_state_name(PROBE_UNKNOWN), "unknown");
    assert_string_equal(probe_state_name(PROBE_UP), "up");
    assert_string_equal(probe_state_name(PROBE_DEGRADED), "degraded");
    assert_string_equal(probe_state_name(PROBE_DOWN), "down");
    assert_string_equal(probe_circuit_name(CIRCUIT_CLOSED), "closed");
    assert_string_equal(probe_circuit_name(CIRCUIT_OPEN), "open");
    assert_string_equal(probe_circuit_name(CIRCUIT_HALF_OPEN), "half-open");
    assert_string_equal(probe_type_name(PROBE_GRPC), "grpc");
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(probe_parse_tcp_fills_defaults),
        cmocka_unit_test(probe_parse_http_and_grpc_with_every_field),
        cmocka_unit_test(probe_parse_errors_name_the_path_and_what_is_expected),
        cmocka_unit_test(probe_parse_rejects_unusable_names),
        cmocka_unit_test(names_of_states_circuits_and_types),
        cmocka_unit_test(prober_set_rejects_bad_specs_and_keeps_the_old_set),
        cmocka_unit_test(tcp_probe_goes_down_opens_the_circuit_and_recovers_through_half_open),
        cmocka_unit_test(a_failure_while_half_open_opens_the_circuit_again),
        cmocka_unit_test(tcp_probe_resolves_host_names_and_tries_every_address),
        cmocka_unit_test(http_probe_compares_the_status_with_the_expected_range),
        cmocka_unit_test(http_probe_slower_than_degraded_latency_is_degraded),
        cmocka_unit_test(grpc_health_probe_sees_roostd_serving_and_a_closed_port_down),
        cmocka_unit_test(grpc_health_probe_of_an_unknown_service_is_down),
        cmocka_unit_test(hanging_dependency_does_not_delay_other_probes),
        cmocka_unit_test(prober_set_keeps_the_state_of_unchanged_probes),
        cmocka_unit_test(prober_destroy_is_prompt_with_checks_in_flight),
    };

    if (argc < 2) {
        fprintf(stderr, "usage: %s ROOSTD\n", argv[0]);
        return 2;
    }
    /* harness_init wants roostctl too; only roostd is needed here. */
    harness_roostd_bin = argv[1];
    signal(SIGPIPE, SIG_IGN);
    return roost_run_tests("probes", tests);
}
