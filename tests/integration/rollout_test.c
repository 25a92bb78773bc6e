/* Canary rollouts end to end: a real roostd, its controller, and traffic
 * reported through the real C SDK. The traffic generator sends requests at
 * a fixed rate through the SDK's request helpers, which route each one to
 * the baseline or the canary at the weight roostd streams and record its
 * outcome for that arm; each arm fails at its own error rate.
 *
 * Rollouts here use 3-second analysis intervals so that a whole rollout
 * takes seconds; the decisions are the ones roostd makes with any interval. */
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "roost/v1/roost.pb-c.h"
#include "sdk_support.h"
#include "server/store.h"
#include "testmain.h"

/* ---- traffic --------------------------------------------------------- */

struct traffic {
    struct roostd_proc *p;
    const char *rollout;
    int rate;                 /* requests per second */
    double baseline_errors, canary_errors;
    atomic_bool stop;
    atomic_ulong canary_requests;
    pthread_t thread;
    roost_client *client;
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static double uniform(void)
{
    /* xorshift64*: the generator thread is the only user. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

/* The rollout's current view, from roostd. */
static bool get_rollout(struct rc_channel *ch, const char *name, Roost__V1__RolloutInfo **out)
{
    Roost__V1__GetRolloutRequest req = ROOST__V1__GET_ROLLOUT_REQUEST__INIT;
    struct rc_status st;
    uint8_t buf[256], *resp;
    size_t len;

    req.name = (char *)name;
    rc_unary(ch, "/roost.v1.Admin/GetRollout", buf,
             roost__v1__get_rollout_request__pack(&req, buf), 5, &resp, &len, &st);
    if (st.code != GRPC_STATUS_OK)
        return false;
    *out = roost__v1__rollout_info__unpack(NULL, len, resp);
    free(resp);
    return *out && (*out)->rollout;
}

/* Each request is routed by the SDK (roost_request_begin: the weight comes
 * down the Sync stream), fails at its arm's error rate, and is recorded for
 * its arm by roost_request_end. */
static void *traffic_main(void *arg)
{
    struct traffic *t = arg;

    while (!atomic_load(&t->stop)) {
        int n = t->rate / 100;
        for (int i = 0; i < n; i++) {
            roost_request req;
            roost_arm arm = roost_request_begin(t->client, t->rollout, NULL, &req, NULL);
            bool canary = arm == ROOST_ARM_CANARY;
            double errors = canary ? t->canary_errors : t->baseline_errors;
            roost_request_end(&req, uniform() >= errors);
            if (canary)
                atomic_fetch_add(&t->canary_requests, 1);
        }
        sdk_sleep_ms(10);
    }
    return NULL;
}

static void traffic_start(struct traffic *t, struct roostd_proc *p, const char *rollout, int rate,
                          double baseline_errors, double canary_errors)
{
    roost_client_options o;
    roost_error err;

    memset(t, 0, sizeof *t);
    t->p = p;
    t->rollout = rollout;
    t->rate = rate;
    t->baseline_errors = baseline_errors;
    t->canary_errors = canary_errors;
    sdk_test_options(&o, p, NULL);
    assert_int_equal(roost_client_new(&o, &t->client, &err), ROOST_OK);
    assert_int_equal(roost_client_start(t->client, &err), ROOST_OK);
    assert_int_equal(pthread_create(&t->thread, NULL, traffic_main, t), 0);
}

static void traffic_stop(struct traffic *t)
{
    roost_error err;

    atomic_store(&t->stop, true);
    pthread_join(t->thread, NULL);
    roost_client_close(t->client, &err);
}

/* ---- helpers --------------------------------------------------------- */

static const char rollout_fmt[] =
    "{\"metadata\": {\"flagSetId\": \"shop\"},"
    " \"rollouts\": {\"checkout-v2\": {\"service\": \"checkout\", \"baseline\": \"v1\", "
    "\"canary\": \"v2\", %s"
    "  \"steps\": [{\"setWeight\": 20}, {\"analysis\": {\"count\": 2}}, {\"setWeight\": 50},"
    "              {\"analysis\": {\"count\": 2}}, {\"setWeight\": 100}],"
    "  \"analysis\": {\"interval\": \"3s\", \"inconclusiveLimit\": 2, \"metrics\": ["
    "    {\"name\": \"error-rate\", \"type\": \"threshold\", \"stat\": \"error_rate\", "
    "\"max\": 0.025, \"minSamples\": 100}]}}}%s}";

static void apply_rollout(struct roostd_proc *p, const char *extra_rollout, const char *extra_doc)
{
    char doc[4096], path[700], err[4096];
    const char *args[] = {"apply", "-f", path, NULL};

    snprintf(doc, sizeof doc, rollout_fmt, extra_rollout, extra_doc);
    snprintf(path, sizeof path, "%s/rollout.json", p->data_dir);
    harness_write_file(path, doc);
    if (roostctl_run(p, NULL, 0, err, sizeof err, args) != 0)
        fail_msg("apply failed: %s", err);
}

static void rollout_cmd(struct roostd_proc *p, const char *cmd)
{
    char err[4096];
    const char *args[] = {"rollout", cmd, "checkout-v2", NULL};

    if (roostctl_run(p, NULL, 0, err, sizeof err, args) != 0)
        fail_msg("rollout %s failed: %s", cmd, err);
}

/* Waits up to timeout_s for the rollout to reach phase; returns its info
 * (caller frees) or NULL. */
static Roost__V1__RolloutInfo *wait_phase(struct roostd_proc *p, const char *phase,
                                          double timeout_s)
{
    struct rc_channel *ch;
    roost_error err;
    double deadline = harness_now() + timeout_s;
    Roost__V1__RolloutInfo *in = NULL;

    assert_int_equal(rc_channel_open(p->addr, NULL, &ch, &err), ROOST_OK);
    while (harness_now() < deadline) {
        if (get_rollout(ch, "checkout-v2", &in)) {
            if (strcmp(in->rollout->phase, phase) == 0)
                break;
            roost__v1__rollout_info__free_unpacked(in, NULL);
        }
        in = NULL;
        sdk_sleep_ms(200);
    }
    rc_channel_close(ch);
    if (!in) {
        /* Say where it got stuck. */
        static char out[1 << 16];
        const char *args[] = {"rollout", "history", "checkout-v2", NULL};
        const char *st[] = {"rollout", "status", "checkout-v2", NULL};
        const char *server[] = {"status", NULL};
        roostctl_run(p, out, sizeof out, NULL, 0, server);
        fprintf(stderr, "%s", out);
        roostctl_run(p, out, sizeof out, NULL, 0, st);
        fprintf(stderr, "rollout did not reach %s within %.0f s:\n%s", phase, timeout_s, out);
        roostctl_run(p, out, sizeof out, NULL, 0, args);
        fprintf(stderr, "%s", out);
    }
    return in;
}

static void history(struct roostd_proc *p, char *out, size_t cap)
{
    const char *args[] = {"--json", "rollout", "history", "checkout-v2", NULL};

    assert_int_equal(roostctl_run(p, out, cap, NULL, 0, args), 0);
}

/* ---- tests ----------------------------------------------------------- */

static void healthy_canary_is_promoted_through_every_step(void **state)
{
    struct roostd_proc p = {0};
    struct traffic t;
    Roost__V1__RolloutInfo *in;
    static char hist[1 << 18];

    (void)state;
    assert_true(roostd_start(&p));
    apply_rollout(&p, "", "");
    traffic_start(&t, &p, "checkout-v2", 1000, 0.005, 0.005);
    rollout_cmd(&p, "start");
    in = wait_phase(&p, "promoted", 60);
    traffic_stop(&t);
    assert_non_null(in);
    assert_int_equal(in->rollout->canary_weight_bp, 10000);
    roost__v1__rollout_info__free_unpacked(in, NULL);
    history(&p, hist, sizeof hist);
    /* Every step left a record: weights 20, 50, 100 and passed analyses. */
    assert_non_null(strstr(hist, "weight 0 -> 20"));
    assert_non_null(strstr(hist, "weight 20 -> 50"));
    assert_non_null(strstr(hist, "weight 50 -> 100"));
    assert_non_null(strstr(hist, "analysis passed"));
    assert_null(strstr(hist, "FAILED"));
    assert_int_equal(roostd_stop(&p, SIGTERM), 0);
}

static void bad_canary_is_rolled_back_at_the_first_analysis(void **state)
{
    struct roostd_proc p = {0};
    struct traffic t;
    Roost__V1__RolloutInfo *in;
    static char hist[1 << 18];
    char *failed;

    (void)state;
    assert_true(roostd_start(&p));
    apply_rollout(&p, "", "");
    /* 5x the baseline's error rate. */
    traffic_start(&t, &p, "checkout-v2", 1000, 0.01, 0.05);
    rollout_cmd(&p, "start");
    in = wait_phase(&p, "rolled_back", 30);
    traffic_stop(&t);
    assert_non_null(in);
    assert_int_equal(in->rollout->canary_weight_bp, 0);
    roost__v1__rollout_info__free_unpacked(in, NULL);
    history(&p, hist, sizeof hist);
    /* One failed analysis is enough (failureLimit 0), and its record names
     * the check and carries the numbers. */
    failed = strstr(hist, "analysis failed (1 failed run");
    assert_non_null(failed);
    assert_null(strstr(hist, "weight 20 -> 50"));
    assert_non_null(strstr(hist, "\"name\":\"error-rate\""));
    assert_non_null(strstr(hist, "\"verdict\":\"failed\""));
    assert_non_null(strstr(hist, "\"canary\":"));
    assert_non_null(strstr(hist, "> 0.025 (canary "));
    assert_non_null(strstr(hist, "rolled_back"));
    assert_int_equal(roostd_stop(&p, SIGTERM), 0);
}

static void no_traffic_pauses_instead_of_failing(void **state)
{
    struct roostd_proc p = {0};
    Roost__V1__RolloutInfo *in;

    (void)state;
    assert_true(roostd_start(&p));
    apply_rollout(&p, "", "");
    rollout_cmd(&p, "start");
    in = wait_phase(&p, "paused", 30);
    assert_non_null(in);
    assert_non_null(strstr(in->paused_reason, "no_data"));
    assert_int_equal(in->rollout->canary_weight_bp, 2000);
    roost__v1__rollout_info__free_unpacked(in, NULL);
    assert_int_equal(roostd_stop(&p, SIGTERM), 0);
}

static void roostd_killed_mid_step_resumes_the_same_step(void **state)
{
    struct roostd_proc p = {0};
    struct traffic t;
    Roost__V1__RolloutInfo *in = NULL;
    struct rc_channel *ch;
    roost_error err;
    uint32_t step_before;
    double deadline;

    (void)state;
    assert_true(roostd_start(&p));
    /* A longer analysis so that the kill lands inside it. */
    apply_rollout(&p, "", "");
    traffic_start(&t, &p, "checkout-v2", 1000, 0.005, 0.005);
    rollout_cmd(&p, "start");
    assert_int_equal(rc_channel_open(p.addr, NULL, &ch, &err), ROOST_OK);
    deadline = harness_now() + 20;
    while (harness_now() < deadline) {
        if (get_rollout(ch, "checkout-v2", &in) && in->rollout->step == 1 &&
            strstr(in->step_description, "1/2"))
            break;
        if (in)
            roost__v1__rollout_info__free_unpacked(in, NULL);
        in = NULL;
        sdk_sleep_ms(100);
    }
    rc_channel_close(ch);
    assert_non_null(in);
    step_before = in->rollout->step;
    roost__v1__rollout_info__free_unpacked(in, NULL);
    assert_int_equal(roostd_stop(&p, SIGKILL), 128 + SIGKILL);
    assert_true(sdk_roostd_restart(&p));
    in = wait_phase(&p, "progressing", 5);
    assert_non_null(in);
    /* Same step, with the runs it had already passed. */
    assert_int_equal(in->rollout->step, step_before);
    assert_int_equal(in->rollout->canary_weight_bp, 2000);
    roost__v1__rollout_info__free_unpacked(in, NULL);
    in = wait_phase(&p, "promoted", 60);
    traffic_stop(&t);
    assert_non_null(in);
    roost__v1__rollout_info__free_unpacked(in, NULL);
    assert_int_equal(roostd_stop(&p, SIGTERM), 0);
}

static void failing_hook_is_retried_and_recorded(void **state)
{
    struct roostd_proc p = {0};
    struct traffic t;
    Roost__V1__RolloutInfo *in;
    static char hist[1 << 18];
    double deadline;

    (void)state;
    assert_true(roostd_start(&p));
    apply_rollout(&p,
                  "\"hooks\": [{\"on\": [\"step\"], \"exec\": [\"/bin/false\"], "
                  "\"retries\": 2, \"timeout\": \"2s\"}],",
                  "");
    traffic_start(&t, &p, "checkout-v2", 1000, 0.005, 0.005);
    rollout_cmd(&p, "start");
    in = wait_phase(&p, "promoted", 60);
    traffic_stop(&t);
    assert_non_null(in);
    roost__v1__rollout_info__free_unpacked(in, NULL);
    /* The hook failed every time: the rollout went on, every run recorded. */
    deadline = harness_now() + 20;
    do {
        history(&p, hist, sizeof hist);
        if (strstr(hist, "hook step") && strstr(hist, "FAILED"))
            break;
        sdk_sleep_ms(200);
    } while (harness_now() < deadline);
    assert_non_null(strstr(hist, "hook step"));
    assert_non_null(strstr(hist, "FAILED"));
    assert_non_null(strstr(hist, "\"attempts\":3"));
    assert_int_equal(roostd_stop(&p, SIGTERM), 0);
}

/* ---- hooks across a crash ---------------------------------------------- */

/* Lines of a file (0 when it does not exist yet); the first copied into
 * first. */
static int file_lines(const char *path, char *first, size_t cap)
{
    char line[512];
    int n = 0;
    FILE *f = fopen(path, "r");

    if (first && cap)
        first[0] = '\0';
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (n++ == 0 && first)
            snprintf(first, cap, "%s", line);
    }
    fclose(f);
    return n;
}

/* Every line of the file equals want. */
static bool file_lines_all(const char *path, const char *want)
{
    char line[512];
    bool ok = true;
    FILE *f = fopen(path, "r");

    if (!f)
        return false;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        ok = ok && strcmp(line, want) == 0;
    }
    fclose(f);
    return ok;
}

/* Starts the rollout and aborts it, which rolls it back and runs its
 * rollback hooks; returns once the rollback is stored. */
static void start_and_abort(struct roostd_proc *p)
{
    Roost__V1__RolloutInfo *in;

    rollout_cmd(p, "start");
    rollout_cmd(p, "abort");
    in = wait_phase(p, "rolled_back", 10);
    assert_non_null(in);
    roost__v1__rollout_info__free_unpacked(in, NULL);
}

/* Waits up to 10 s until path has at least n lines; first gets line one. */
static void wait_file_lines(const char *path, int n, char *first, size_t cap)
{
    double deadline = harness_now() + 10;

    while (file_lines(path, first, cap) < n && harness_now() < deadline)
        sdk_sleep_ms(50);
}

/* Hook runs decided but not finished, read from the stopped roostd's store. */
static uint64_t outbox_rows(const struct roostd_proc *p)
{
    struct store_options so = {0, 0};
    struct store *st;
    struct store_txn t;
    roost_error err;
    uint64_t n;

    if (store_open(p->data_dir, &so, &st, &err) != ROOST_OK)
        fail_msg("cannot open the store: %s", err.msg);
    assert_int_equal(store_begin(st, false, &t, &err), ROOST_OK);
    n = store_table_entries(&t, TBL_HOOK_OUTBOX);
    store_abort(&t);
    store_close(st);
    return n;
}

static bool log_contains(const struct roostd_proc *p, const char *what)
{
    static char buf[1 << 20];
    FILE *f = fopen(p->log_file, "r");
    size_t n;

    if (!f)
        return false;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strstr(buf, what) != NULL;
}

static void rollback_hook_cut_off_by_a_crash_runs_again_after_restart(void **state)
{
    struct roostd_proc p = {0};
    static char hist[1 << 18];
    char hooks[2048], started[700], done[700], key[512], want[600];
    double deadline;

    (void)state;
    assert_true(roostd_start(&p));
    snprintf(started, sizeof started, "%s.hook-started", p.data_dir);
    snprintf(done, sizeof done, "%s.hook-done", p.data_dir);
    /* Slow enough that the kill lands while it runs. */
    snprintf(hooks, sizeof hooks,
             "\"hooks\": [{\"on\": [\"rollback\"], \"exec\": [\"/bin/sh\", \"-c\", "
             "\"echo \\\"$ROOST_IDEMPOTENCY_KEY\\\" >> %s; /bin/sleep 3; "
             "echo \\\"$ROOST_IDEMPOTENCY_KEY\\\" >> %s\"], \"timeout\": \"20s\", "
             "\"retries\": 0}],",
             started, done);
    apply_rollout(&p, hooks, "");
    start_and_abort(&p);
    wait_file_lines(started, 1, key, sizeof key);
    assert_int_equal(file_lines(started, key, sizeof key), 1);
    assert_non_null(strstr(key, "checkout-v2/"));
    assert_non_null(strstr(key, "/rollback"));
    {
        /* Owed until it finishes, and status says so. */
        const char *args[] = {"--json", "status", NULL};
        char out[8192], err[4096];
        assert_int_equal(roostctl_run(&p, out, sizeof out, err, sizeof err, args), 0);
        assert_int_equal(harness_json_u64(out, "hooks_pending"), 1);
    }

    /* Killed mid-hook: the rollback was decided, its hook not finished. */
    assert_int_equal(roostd_stop(&p, SIGKILL), 128 + SIGKILL);
    assert_int_equal(outbox_rows(&p), 1);
    assert_true(sdk_roostd_restart(&p));

    /* It runs again, with the same key, and its result is recorded. */
    snprintf(want, sizeof want, "\"idempotency_key\":\"%s\"", key);
    deadline = harness_now() + 20;
    do {
        history(&p, hist, sizeof hist);
        if (strstr(hist, want))
            break;
        sdk_sleep_ms(200);
    } while (harness_now() < deadline);
    assert_non_null(strstr(hist, want));
    assert_non_null(strstr(hist, "hook rollback"));
    assert_int_equal(file_lines(started, NULL, 0), 2);
    assert_true(file_lines_all(started, key));
    /* The killed roostd's hook process was not its to wait for any more
     * and may have finished too: one or two completions, never another key. */
    assert_true(file_lines(done, NULL, 0) >= 1);
    assert_true(file_lines_all(done, key));
    assert_true(log_contains(&p, "\"hook_outbox_resumed\""));
    assert_int_equal(roostd_stop(&p, SIGTERM), 0);

    /* Finished means no longer owed: a third start runs nothing. */
    assert_int_equal(outbox_rows(&p), 0);
    assert_true(sdk_roostd_restart(&p));
    sdk_sleep_ms(1500);
    assert_int_equal(file_lines(started, NULL, 0), 2);
    assert_int_equal(roostd_stop(&p, SIGTERM), 0);
}

/* Hook keys name the decision by its number in the store-wide history, so a
 * second release of the same rollout (its state starts afresh) does not
 * repeat the first release's keys, which a receiver would deduplicate
 * away: the second bad release would page nobody. */
static void a_new_release_gets_idempotency_keys_of_its_own(void **state)
{
    struct roostd_proc p = {0};
    char doc[2048], path[700], keys[700], err[4096], first[512];
    const char *args[] = {"apply", "-f", path, NULL};

    (void)state;
    assert_true(roostd_start(&p));
    snprintf(path, sizeof path, "%s/release.json", p.data_dir);
    snprintf(keys, sizeof keys, "%s.keys", p.data_dir);
    for (int release = 0; release < 2; release++) {
        snprintf(doc, sizeof doc,
                 "{\"metadata\": {\"flagSetId\": \"shop\"}, \"rollouts\": {\"checkout-v2\": {"
                 "\"service\": \"checkout\", \"baseline\": \"v1\", \"canary\": \"%s\", "
                 "\"hooks\": [{\"on\": [\"rollback\"], \"exec\": [\"/bin/sh\", \"-c\", "
                 "\"echo \\\"$ROOST_IDEMPOTENCY_KEY\\\" >> %s\"], \"retries\": 0}], "
                 "\"steps\": [{\"setWeight\": 20}, {\"pause\": {}}, {\"setWeight\": 100}]}}}",
                 release ? "v3" : "v2", keys);
        harness_write_file(path, doc);
        if (roostctl_run(&p, NULL, 0, err, sizeof err, args) != 0)
            fail_msg("apply of release %d failed: %s", release + 1, err);
        start_and_abort(&p);
        wait_file_lines(keys, release + 1, first, sizeof first);
        assert_int_equal(file_lines(keys, first, sizeof first), release + 1);
    }
    /* Two rollbacks, two keys: not every line is the first one's. */
    assert_false(file_lines_all(keys, first));
    assert_int_equal(roostd_stop(&p, SIGTERM), 0);
}

/* A TCP listener the probe can reach; closing it makes the probe fail. */
static int listen_any(int *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1; /* not inherited by roostd */

    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (*port)
        a.sin_port = htons((uint16_t)*port);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 64), 0);
    getsockname(fd, (struct sockaddr *)&a, &len);
    *port = ntohs(a.sin_port);
    return fd;
}

static void probe_going_down_pauses_the_rollout(void **state)
{
    struct roostd_proc p = {0};
    struct traffic t;
    Roost__V1__RolloutInfo *in;
    char gates[128], probes[256];
    int port = 0, fd = listen_any(&port);

    (void)state;
    assert_true(roostd_start(&p));
    snprintf(gates, sizeof gates, "\"gates\": {\"probes\": [\"payments-db\"], \"onDown\": \"pause\"},");
    snprintf(probes, sizeof probes,
             ", \"probes\": {\"payments-db\": {\"type\": \"tcp\", \"target\": \"127.0.0.1:%d\", "
             "\"interval\": \"1s\", \"timeout\": \"500ms\", \"failureThreshold\": 2}}",
             port);
    apply_rollout(&p, gates, probes);
    traffic_start(&t, &p, "checkout-v2", 1000, 0.005, 0.005);
    rollout_cmd(&p, "start");
    sdk_sleep_ms(1500);
    close(fd); /* the dependency goes away */
    in = wait_phase(&p, "paused", 20);
    assert_non_null(in);
    assert_non_null(strstr(in->paused_reason, "payments-db"));
    roost__v1__rollout_info__free_unpacked(in, NULL);
    fd = listen_any(&port); /* and comes back: the gate pause clears by itself */
    in = wait_phase(&p, "promoted", 60);
    traffic_stop(&t);
    close(fd);
    assert_non_null(in);
    roost__v1__rollout_info__free_unpacked(in, NULL);
    assert_int_equal(roostd_stop(&p, SIGTERM), 0);
}

#define R "\"service\": \"s\", \"baseline\": \"v1\", \"canary\": \"v2\", "

static void bad_rollout_documents_are_rejected_with_their_path(void **state)
{
    static const struct {
        const char *doc, *expect;
    } cases[] = {
        {"{\"rollouts\": {\"r\": {" R "\"steps\": [{\"setWeight\": 120}]}}}",
         "rollouts.r.steps[0].setWeight"},
        {"{\"rollouts\": {\"r\": {" R "\"steps\": [{\"setWeight\": 50}, {\"setWeight\": 10}, "
         "{\"setWeight\": 100}]}}}",
         "must not decrease"},
        {"{\"rollouts\": {\"r\": {" R "\"steps\": [{\"setWeight\": 100}], \"analysis\": "
         "{\"metrics\": [{\"name\": \"x\", \"type\": \"threshold\", \"stat\": \"p1000\", "
         "\"max\": 1}]}}}}",
         "p1000"},
        {"{\"rollouts\": {\"r\": {" R "\"steps\": [{\"setWeight\": 100}], \"gates\": "
         "{\"probes\": [\"db\"]}}}}",
         "gates.probes[0]"},
    };
    struct roostd_proc p = {0};
    char path[700], out[4096], err[4096];

    (void)state;
    assert_true(roostd_start(&p));
    snprintf(path, sizeof path, "%s/bad.json", p.data_dir);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *args[] = {"apply", "-f", path, NULL};
        harness_write_file(path, cases[i].doc);
        assert_int_equal(roostctl_run(&p, out, sizeof out, err, sizeof err, args), 1);
        if (!strstr(err, cases[i].expect))
            fail_msg("case %zu: '%s' does not mention '%s'", i, err, cases[i].expect);
    }
    assert_int_equal(sdk_status_u64(&p, "revision"), 0);
    assert_int_equal(roostd_stop(&p, SIGTERM), 0);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(healthy_canary_is_promoted_through_every_step),
        cmocka_unit_test(bad_canary_is_rolled_back_at_the_first_analysis),
        cmocka_unit_test(no_traffic_pauses_instead_of_failing),
        cmocka_unit_test(roostd_killed_mid_step_resumes_the_same_step),
        cmocka_unit_test(failing_hook_is_retried_and_recorded),
        cmocka_unit_test(rollback_hook_cut_off_by_a_crash_runs_again_after_restart),
        cmocka_unit_test(a_new_release_gets_idempotency_keys_of_its_own),
        cmocka_unit_test(probe_going_down_pauses_the_rollout),
        cmocka_unit_test(bad_rollout_documents_are_rejected_with_their_path),
    };

    harness_init(argc, argv);
    grpc_init();
    return roost_run_tests("rollout", tests);
}
