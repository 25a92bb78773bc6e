/* The C SDK against a real roostd on loopback: what a service developer
 * linking libroost observes. READY within a second; changes arrive with
 * their keys; roostd stopping makes the client STALE while evaluations
 * continue; a new process with roostd down serves the cache; roostd coming
 * back is resumed from the client's revision, without a snapshot; outcomes
 * recorded while roostd is down arrive exactly once, also when an
 * acknowledgement is lost after roostd stored the batch.
 *
 * The "new process" cases re-execute this binary with --serve-cache, so
 * the second client really is a fresh process with nothing in memory. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "roost/v1/roost.pb-c.h"
#include "sdk_support.h"
#include "testmain.h"
#include "tools/lib/rpcclient.h"

static const char *self_path;

/* A started client of p with test options and events into rec. */
static roost_client *client_for(struct roostd_proc *p, struct sdk_events *rec,
                                const char *cache_path)
{
    roost_client_options o;
    roost_client *c = NULL;
    roost_error err;

    sdk_test_options(&o, p, rec);
    o.cache_path = cache_path;
    if (roost_client_new(&o, &c, &err) != ROOST_OK || roost_client_start(c, &err) != ROOST_OK) {
        fprintf(stderr, "client: %s\n", err.msg);
        fail();
    }
    return c;
}

static bool checkout_on(roost_client *c, roost_details *d)
{
    return roost_client_bool(c, "new-checkout", NULL, false, d);
}

/* Waits until the client holds revision rev. */
static bool wait_revision(roost_client *c, uint64_t rev, double timeout_s)
{
    double deadline = harness_now() + timeout_s;

    while (harness_now() < deadline) {
        if (roost_client_revision(c) >= rev)
            return true;
        sdk_sleep_ms(10);
    }
    return false;
}

static void client_is_ready_within_a_second_of_start(void **state)
{
    struct roostd_proc p = {0};
    struct sdk_events rec;
    roost_client *c;
    roost_details d;
    char banner[64];
    double t0;

    (void)state;
    sdk_events_init(&rec);
    assert_true(roostd_start(&p));
    assert_int_equal(sdk_apply_flags(&p, "on", "green"), 1);

    t0 = harness_now();
    c = client_for(&p, &rec, NULL);
    assert_int_equal(roost_client_wait_ready(c, 1000), ROOST_OK);
    assert_true(harness_now() - t0 < 1.0);
    assert_int_equal(roost_client_get_state(c), ROOST_STATE_READY);
    assert_true(sdk_events_wait(&rec, ROOST_EVENT_READY, 0, 1) >= 0);

    assert_true(checkout_on(c, &d));
    assert_int_equal(d.reason, ROOST_REASON_STATIC);
    assert_int_equal(d.error, ROOST_EVAL_OK);
    assert_string_equal(d.variant, "on");
    assert_int_equal(d.revision, 1);
    assert_int_equal(roost_client_string(c, "banner", NULL, "none", banner, sizeof banner, &d),
                     strlen("Green banner"));
    assert_string_equal(banner, "Green banner");
    /* A flag that does not exist gives the default and says so. */
    assert_true(roost_client_bool(c, "no-such-flag", NULL, true, &d));
    assert_int_equal(d.error, ROOST_EVAL_FLAG_NOT_FOUND);
    /* A string that does not fit is truncated, and the length says so. */
    assert_int_equal(roost_client_string(c, "banner", NULL, "none", banner, 6, NULL),
                     strlen("Green banner"));
    assert_string_equal(banner, "Green");

    assert_int_equal(roost_client_close(c, NULL), ROOST_OK);
    assert_int_equal(roostd_stop(&p, SIGTERM), 0);
    sdk_events_destroy(&rec);
}

/* Flag metadata as flagd merges it (the flag's own wins over the set's),
 * as JSON text, cut like strings when the buffer is short. */
static void flag_metadata_is_handed_out_as_json(void **state)
{
    struct roostd_proc p = {0};
    struct sdk_events rec;
    roost_client *c;
    roost_error err;
    char buf[256];
    size_t len;
    const char *want = "{\"boolean\":true,\"float\":0.1,\"integer\":2,\"owner\":\"web \\\"team\\\"\","
                       "\"string\":\"1.0.2\"}";

    (void)state;
    sdk_events_init(&rec);
    assert_true(roostd_start(&p));
    assert_true(sdk_apply_document(
                    &p, "{\"metadata\": {\"owner\": \"web \\\"team\\\"\", \"string\": \"set\"},"
                        " \"flags\": {\"m\": {\"state\": \"ENABLED\", \"variants\": {\"on\": true},"
                        " \"defaultVariant\": \"on\", \"metadata\": {\"string\": \"1.0.2\","
                        " \"integer\": 2, \"boolean\": true, \"float\": 0.1}},"
                        " \"plain\": {\"state\": \"ENABLED\", \"variants\": {\"on\": true},"
                        " \"defaultVariant\": \"on\"}}}") > 0);
    c = client_for(&p, &rec, NULL);
    assert_int_equal(roost_client_wait_ready(c, 2000), ROOST_OK);

    assert_int_equal(roost_client_flag_metadata(c, "m", buf, sizeof buf, &len, &err), ROOST_OK);
    assert_string_equal(buf, want);
    assert_int_equal(len, strlen(want));
    /* The set's metadata reaches a flag without its own. */
    assert_int_equal(roost_client_flag_metadata(c, "plain", buf, sizeof buf, &len, &err), ROOST_OK);
    assert_string_equal(buf, "{\"owner\":\"web \\\"team\\\"\",\"string\":\"set\"}");
    /* Too small: cut and NUL-terminated, the full length returned. */
    assert_int_equal(roost_client_flag_metadata(c, "m", buf, 5, &len, &err), ROOST_OK);
    assert_string_equal(buf, "{\"bo");
    assert_int_equal(len, strlen(want));
    assert_int_equal(roost_client_flag_metadata(c, "m", NULL, 0, &len, &err), ROOST_OK);
    assert_int_equal(len, strlen(want));
    assert_int_equal(roost_client_flag_metadata(c, "no-such-flag", buf, sizeof buf, &len, &err),
                     ROOST_ENOTFOUND);
    assert_non_null(strstr(err.msg, "no-such-flag"));
    assert_int_equal(roost_client_flag_metadata(c, "m", NULL, 4, &len, &err), ROOST_EINVAL);

    assert_int_equal(roost_client_close(c, NULL), ROOST_OK);
    assert_int_equal(roostd_stop(&p, SIGTERM), 0);
    sdk_events_destroy(&rec);
}

static void a_change_reaches_the_client_with_its_key(void **state)
{
    struct roostd_proc p = {0};
    struct sdk_events rec;
    roost_client *c;
    size_t from;
    int i;

    (void)state;
    sdk_events_init(&rec);
    assert_true(roostd_start(&p));
    assert_int_equal(sdk_apply_flags(&p, "off", "blue"), 1);
    c = client_for(&p, &rec, NULL);
    assert_int_equal(roost_client_wait_ready(c, 2000), ROOST_OK);
    assert_false(checkout_on(c, NULL));

    from = sdk_events_count(&rec);
    assert_int_equal(sdk_apply_flags(&p, "on", "blue"), 2);
    i = sdk_events_wait(&rec, ROOST_EVENT_CONFIGURATION_CHANGED, from, 5);
    assert_true(i >= 0);
    /* Only the flag that changed, not the whole configuration. */
    assert_string_equal(rec.ev[i].keys, "new-checkout");
    assert_int_equal(rec.ev[i].revision, 2);
    assert_true(checkout_on(c, NULL));

    assert_int_equal(roost_client_close(c, NULL), ROOST_OK);
    assert_int_equal(roostd_stop(&p, SIGTERM), 0);
    sdk_events_destroy(&rec);
}

static void roostd_stopped_makes_the_client_stale_and_evaluations_continue(void **state)
{
    struct roostd_proc p = {0};
    struct sdk_events rec;
    roost_client *c;
    roost_details d;
    int i;

    (void)state;
    sdk_events_init(&rec);
    assert_true(roostd_start(&p));
    assert_int_equal(sdk_apply_flags(&p, "on", "blue"), 1);
    c = client_for(&p, &rec, NULL);
    assert_int_equal(roost_client_wait_ready(c, 2000), ROOST_OK);

    assert_int_equal(roostd_stop(&p, SIGTERM), 0);
    i = sdk_events_wait(&rec, ROOST_EVENT_STALE, 0, 5);
    assert_true(i >= 0);
    assert_int_equal(rec.ev[i].state, ROOST_STATE_STALE);
    assert_int_equal(roost_client_get_state(c), ROOST_STATE_STALE);
    for (int k = 0; k < 1000; k++) {
        assert_true(checkout_on(c, &d));
        assert_int_equal(d.revision, 1);
    }
    assert_int_equal(roost_client_close(c, NULL), ROOST_OK);
    sdk_events_destroy(&rec);
}

/* ---- a fresh process serving the cache ----------------------------------- */

/* Child mode: a new client on the cache with roostd down; prints what it
 * sees as one line and exits 0. */
static int serve_cache_main(const char *target, const char *cache_path)
{
    struct roostd_proc fake = {0};
    struct sdk_events rec;
    roost_client_options o;
    roost_client *c;
    roost_details d;
    roost_error err;
    double t0 = harness_now(), ready_ms;
    bool on;
    int stale;

    sdk_events_init(&rec);
    snprintf(fake.addr, sizeof fake.addr, "%s", target);
    sdk_test_options(&o, &fake, &rec);
    o.cache_path = cache_path;
    if (roost_client_new(&o, &c, &err) || roost_client_start(c, &err)) {
        printf("error %s\n", err.msg);
        return 1;
    }
    if (roost_client_wait_ready(c, 1000) != ROOST_OK) {
        printf("not-ready\n");
        return 1;
    }
    ready_ms = (harness_now() - t0) * 1000;
    on = checkout_on(c, &d);
    stale = sdk_events_wait(&rec, ROOST_EVENT_STALE, 0, 1);
    printf("state=%s revision=%llu value=%d variant=%s ready_ms=%.1f stale_event=%d "
           "from_cache=%d\n",
           roost_client_state_name(roost_client_get_state(c)), (unsigned long long)d.revision, on,
           d.variant, ready_ms, stale >= 0, stale >= 0 && rec.ev[stale].from_cache);
    roost_client_close(c, NULL);
    sdk_events_destroy(&rec);
    return 0;
}

/* Runs this binary in --serve-cache mode; its output line into out. */
static int run_serve_cache(const char *target, const char *cache_path, char *out, size_t cap)
{
    int fds[2], status;
    ssize_t n;
    size_t len = 0;
    pid_t pid;

    assert_int_equal(pipe(fds), 0);
    pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        execl("/proc/self/exe", self_path, "--serve-cache", target, cache_path, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    while (len + 1 < cap && (n = read(fds[0], out + len, cap - 1 - len)) > 0)
        len += (size_t)n;
    out[len] = '\0';
    close(fds[0]);
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void new_process_with_roostd_down_serves_the_cache(void **state)
{
    struct roostd_proc p = {0};
    char cache[700], out[1024], target[64];
    roost_client *c;
    double ready_ms;

    (void)state;
    assert_true(roostd_start(&p));
    snprintf(cache, sizeof cache, "%s.cache", p.data_dir);
    assert_int_equal(sdk_apply_flags(&p, "on", "blue"), 1);
    c = client_for(&p, NULL, cache);
    assert_int_equal(roost_client_wait_ready(c, 2000), ROOST_OK);
    assert_int_equal(sdk_apply_flags(&p, "on", "green"), 2);
    assert_true(wait_revision(c, 2, 5));
    assert_int_equal(roost_client_close(c, NULL), ROOST_OK); /* writes the cache */
    snprintf(target, sizeof target, "%s", p.addr);
    assert_int_equal(roostd_stop(&p, SIGTERM), 0);

    assert_int_equal(run_serve_cache(target, cache, out, sizeof out), 0);
    fprintf(stderr, "child: %s", out);
    assert_non_null(strstr(out, "state=STALE revision=2 value=1 variant=on"));
    assert_non_null(strstr(out, "stale_event=1 from_cache=1"));
    ready_ms = atof(strstr(out, "ready_ms=") + 9);
    assert_true(ready_ms < 100); /* milliseconds, not a connect timeout */

    /* A corrupt cache is ignored with a warning: the process starts without
     * it (NOT_READY) instead of crashing. */
    {
        FILE *f = fopen(cache, "r+b");
        assert_non_null(f);
        fseek(f, -3, SEEK_END);
        fputc('X', f);
        fclose(f);
    }
    assert_int_equal(run_serve_cache(target, cache, out, sizeof out), 1);
    assert_non_null(strstr(out, "not-ready"));
}

/* roostd with revisions 1 and 2 (new-checkout off), a client that has
 * revision 2, then roostd stopped and the client stale. */
static roost_client *client_at_revision_2_then_roostd_stopped(struct roostd_proc *p,
                                                              struct sdk_events *rec)
{
    roost_client *c;

    sdk_events_init(rec);
    assert_true(roostd_start(p));
    assert_int_equal(sdk_apply_flags(p, "off", "blue"), 1);
    assert_int_equal(sdk_apply_flags(p, "off", "green"), 2);
    c = client_for(p, rec, NULL);
    assert_int_equal(roost_client_wait_ready(c, 2000), ROOST_OK);
    assert_int_equal(roost_client_revision(c), 2);
    assert_false(checkout_on(c, NULL));
    assert_int_equal(roostd_stop(p, SIGTERM), 0);
    assert_true(sdk_events_wait(rec, ROOST_EVENT_STALE, 0, 5) >= 0);
    return c;
}

static void roostd_back_client_resumes_from_its_revision_without_a_snapshot(void **state)
{
    struct roostd_proc p = {0};
    struct sdk_events rec;
    roost_client_stats st;
    roost_client *c;
    size_t from;

    (void)state;
    c = client_at_revision_2_then_roostd_stopped(&p, &rec);
    /* roostd comes back on the same data and port, and a change is made
     * while (or just before) the client reconnects. */
    assert_true(sdk_roostd_restart(&p));
    from = sdk_events_count(&rec);
    assert_int_equal(sdk_apply_flags(&p, "on", "green"), 3);
    assert_true(sdk_events_wait(&rec, ROOST_EVENT_READY, from, 10) >= 0 ||
                roost_client_get_state(c) == ROOST_STATE_READY);
    assert_true(wait_revision(c, 3, 10));
    assert_true(checkout_on(c, NULL));

    /* The restarted roostd sent this client only the change it missed. */
    assert_int_equal(sdk_status_u64(&p, "snapshots_sent"), 0);
    assert_int_equal(sdk_status_u64(&p, "resyncs"), 0);
    assert_int_equal(sdk_status_u64(&p, "changes_sent"), 1);
    roost_client_get_stats(c, &st);
    assert_int_equal(st.snapshots_received, 1);
    assert_int_equal(st.changes_received, 1);
    assert_true(st.connects >= 2);

    assert_int_equal(roost_client_close(c, NULL), ROOST_OK);
    assert_int_equal(roostd_stop(&p, SIGTERM), 0);
    sdk_events_destroy(&rec);
}

/* The store id `roostctl status --json` shows: 32 hex digits. */
static void status_store_id(struct roostd_proc *p, char *out, size_t cap)
{
    char json[8192];
    const char *args[] = {"--json", "status", NULL}, *at;

    assert_int_equal(roostctl_run(p, json, sizeof json, NULL, 0, args), 0);
    assert_non_null(at = strstr(json, "\"store_id\":\""));
    at += strlen("\"store_id\":\"");
    assert_true(strspn(at, "0123456789abcdef") == 32 && at[32] == '"');
    snprintf(out, cap, "%.32s", at);
}

/* The store id of p's (stopped) data directory, read by serving it again
 * on the same address for a moment; the same before and after a restart. */
static void restart_store_id(struct roostd_proc *p, char *out, size_t cap)
{
    char again[40];

    assert_true(sdk_roostd_restart(p));
    status_store_id(p, out, cap);
    assert_int_equal(roostd_stop(p, SIGTERM), 0);
    assert_true(sdk_roostd_restart(p));
    status_store_id(p, again, sizeof again);
    assert_string_equal(again, out);
    assert_int_equal(roostd_stop(p, SIGTERM), 0);
}

static void a_replaced_data_directory_is_not_resumed_as_the_same_history(void **state)
{
    struct roostd_proc p = {0}, other = {0};
    char first_id[40], other_id[40];
    struct sdk_events rec;
    roost_client_stats st;
    roost_client *c;
    char log[16384];
    FILE *f;
    size_t n;

    (void)state;
    c = client_at_revision_2_then_roostd_stopped(&p, &rec);
    restart_store_id(&p, first_id, sizeof first_id);

    /* Another data directory gets a history of its own, out of the
     * client's reach (another port): new-checkout turns on at its revision
     * 1, so its revision 3 alone (banner back to green) does not carry it. */
    assert_true(roostd_start(&other));
    assert_int_equal(sdk_apply_flags(&other, "on", "green"), 1);
    assert_int_equal(sdk_apply_flags(&other, "on", "blue"), 2);
    assert_int_equal(sdk_apply_flags(&other, "on", "green"), 3);
    status_store_id(&other, other_id, sizeof other_id);
    assert_string_not_equal(other_id, first_id);
    assert_int_equal(roostd_stop(&other, SIGTERM), 0);

    /* That directory is now served at the client's address (a container
     * restarted without its volume, re-applied by CI). Resumed from its
     * revision 2 the client would get revision 3 only and keep the old
     * directory's "off"; the store id makes roostd send a snapshot. */
    snprintf(p.data_dir, sizeof p.data_dir, "%s", other.data_dir);
    assert_true(sdk_roostd_restart(&p));
    assert_true(wait_revision(c, 3, 10));
    assert_true(checkout_on(c, NULL));
    roost_client_get_stats(c, &st);
    assert_int_equal(st.snapshots_received, 2);
    assert_int_equal(st.changes_received, 0);

    f = fopen(p.log_file, "r");
    assert_non_null(f);
    n = fread(log, 1, sizeof log - 1, f);
    log[n] = '\0';
    fclose(f);
    if (!strstr(log, "sync_other_store"))
        fail_msg("roostd's log does not say why it sent a snapshot:\n%s", log);

    assert_int_equal(roost_client_close(c, NULL), ROOST_OK);
    assert_int_equal(roostd_stop(&p, SIGTERM), 0);
    sdk_events_destroy(&rec);
}

/* ---- outcomes ---------------------------------------------------------- */

/* Records n outcomes on (flag new-checkout, arm on, metric latency_ms):
 * values 1..n, every third one a failure. */
static void record_outcomes(roost_client *c, int n, double *sum, uint64_t *successes)
{
    roost_series *s;

    assert_int_equal(
        roost_series_get(c, ROOST_SCOPE_FLAG, "new-checkout", "on", "latency_ms", &s), ROOST_OK);
    for (int i = 1; i <= n; i++) {
        bool ok = i % 3 != 0;
        if (i % 2)
            assert_int_equal(roost_series_observe(s, (double)i, ok), ROOST_OK);
        else
            assert_int_equal(roost_observe(c, ROOST_SCOPE_FLAG, "new-checkout", "on",
                                           "latency_ms", (double)i, ok),
                             ROOST_OK);
        *sum += i;
        *successes += ok;
    }
}

static void check_stored_once(struct roostd_proc *p, int n, double sum, uint64_t successes)
{
    struct sdk_stored s;

    assert_true(sdk_stored_series(p, ROOST_SCOPE_FLAG, "new-checkout", "on", "latency_ms", &s));
    fprintf(stderr, "stored: %llu rows, count %llu, sum %.0f, successes %llu, sketch %llu\n",
            (unsigned long long)s.rows, (unsigned long long)s.count, s.sum,
            (unsigned long long)s.successes, (unsigned long long)s.sketch_count);
    assert_true(s.rows >= 1);
    assert_int_equal(s.count, (uint64_t)n);
    assert_true(s.sum == sum);
    assert_int_equal(s.successes, successes);
    assert_int_equal(s.sketch_count, (uint64_t)n);
}

static void outcomes_recorded_while_roostd_is_down_arrive_exactly_once(void **state)
{
    struct roostd_proc p = {0};
    roost_client_stats st;
    roost_client *c;
    roost_error err;
    double sum = 0;
    uint64_t successes = 0;

    (void)state;
    assert_true(roostd_start(&p));
    assert_int_equal(sdk_apply_flags(&p, "on", "blue"), 1);
    c = client_for(&p, NULL, NULL);
    assert_int_equal(roost_client_wait_ready(c, 2000), ROOST_OK);
    assert_int_equal(roostd_stop(&p, SIGTERM), 0);

    record_outcomes(c, 3000, &sum, &successes);
    /* Several flush intervals go by with roostd away: batches fail, their
     * outcomes wait. */
    assert_int_equal(roost_client_flush(c, 1500, &err), ROOST_ETIMEOUT);
    roost_client_get_stats(c, &st);
    assert_int_equal(st.pending_outcomes, 3000);
    assert_true(st.batches_sent >= 1);
    assert_int_equal(st.batches_acked, 0);

    assert_true(sdk_roostd_restart(&p));
    assert_int_equal(roost_client_flush(c, 10000, &err), ROOST_OK);
    roost_client_get_stats(c, &st);
    assert_int_equal(st.pending_outcomes, 0);
    assert_int_equal(st.dropped_memory_limit + st.dropped_rejected + st.dropped_series_limit, 0);
    assert_int_equal(roost_client_close(c, NULL), ROOST_OK);
    assert_int_equal(roostd_stop(&p, SIGTERM), 0);
    check_stored_once(&p, 3000, sum, successes);
}

static void lost_acknowledgement_is_retried_and_counted_once(void **state)
{
    struct roostd_proc p = {0};
    roost_client_stats st;
    roost_client *c;
    roost_error err;
    double sum = 0;
    uint64_t successes = 0;

    (void)state;
    assert_true(roostd_start(&p));
    assert_int_equal(sdk_apply_flags(&p, "on", "blue"), 1);
    c = client_for(&p, NULL, NULL);
    assert_int_equal(roost_client_wait_ready(c, 2000), ROOST_OK);
    assert_int_equal(roostd_stop(&p, SIGTERM), 0);

    /* Recorded while roostd is down; when it is back, the first
     * acknowledgement after it stored the batch is lost. */
    record_outcomes(c, 500, &sum, &successes);
    assert_int_equal(roost_client_flush(c, 500, &err), ROOST_ETIMEOUT);
    assert_int_equal(roost_client_inject_fault(c, ROOST_FAULT_DROP_REPORT_ACK, 1), ROOST_OK);
    assert_true(sdk_roostd_restart(&p));
    assert_int_equal(roost_client_flush(c, 10000, &err), ROOST_OK);
    roost_client_get_stats(c, &st);
    /* The batch was sent again and roostd recognised it. */
    assert_int_equal(st.batches_duplicate, 1);
    assert_int_equal(st.pending_outcomes, 0);

    /* More outcomes after that go through normally. */
    record_outcomes(c, 100, &sum, &successes);
    assert_int_equal(roost_client_flush(c, 10000, &err), ROOST_OK);
    assert_int_equal(roost_client_close(c, NULL), ROOST_OK);
    assert_int_equal(roostd_stop(&p, SIGTERM), 0);

    {
        struct sdk_stored s;
        assert_true(
            sdk_stored_series(&p, ROOST_SCOPE_FLAG, "new-checkout", "on", "latency_ms", &s));
        /* 1..500 then 1..100 again. */
        assert_int_equal(s.count, 600);
        assert_true(s.sum == sum);
        assert_int_equal(s.successes, successes);
    }
}

static void outcomes_are_flushed_on_close(void **state)
{
    struct roostd_proc p = {0};
    roost_client *c;
    double sum = 0;
    uint64_t successes = 0;

    (void)state;
    assert_true(roostd_start(&p));
    c = client_for(&p, NULL, NULL);
    assert_int_equal(roost_client_wait_ready(c, 2000), ROOST_OK);
    record_outcomes(c, 42, &sum, &successes);
    assert_int_equal(roost_client_close(c, NULL), ROOST_OK);
    /* status counts the batches and the commits they took (group commit:
     * never more commits than batches). */
    assert_true(sdk_status_u64(&p, "report_batches") >= 1);
    assert_true(sdk_status_u64(&p, "report_commits") >= 1);
    assert_true(sdk_status_u64(&p, "report_commits") <= sdk_status_u64(&p, "report_batches"));
    assert_int_equal(roostd_stop(&p, SIGTERM), 0);
    check_stored_once(&p, 42, sum, successes);
}

/* ---- roostd's Report handler, directly ---------------------------------- */

static void report_call(struct rc_channel *ch, Roost__V1__ReportRequest *req,
                        struct rc_status *st, Roost__V1__ReportResponse **resp)
{
    size_t len = roost__v1__report_request__get_packed_size(req), rlen;
    uint8_t *buf = malloc(len + 1), *out = NULL;

    roost__v1__report_request__pack(req, buf);
    rc_unary(ch, "/roost.v1.Sync/Report", buf, len, 10, &out, &rlen, st);
    *resp = st->code == GRPC_STATUS_OK ? roost__v1__report_response__unpack(NULL, rlen, out) : NULL;
    free(buf);
    free(out);
}

static void report_dedupes_and_refuses_nan_with_a_clear_message(void **state)
{
    struct roostd_proc p = {0};
    Roost__V1__ReportRequest req = ROOST__V1__REPORT_REQUEST__INIT;
    Roost__V1__ReportLabels labels = ROOST__V1__REPORT_LABELS__INIT;
    Roost__V1__OutcomeAggregate agg = ROOST__V1__OUTCOME_AGGREGATE__INIT, *aggs[1] = {&agg};
    Roost__V1__ReportResponse *resp;
    struct rc_channel *ch;
    struct rc_status st;
    struct sdk_stored s;
    roost_error err;

    (void)state;
    assert_true(roostd_start(&p));
    assert_int_equal(rc_channel_open(p.addr, NULL, &ch, &err), ROOST_OK);
    labels.service = "svc";
    labels.environment = "prod";
    labels.version = "9";
    req.client_id = "test-client";
    req.sequence = 1;
    req.labels = &labels;
    req.n_aggregates = 1;
    req.aggregates = aggs;
    agg.scope_kind = ROOST__V1__SCOPE_KIND__SCOPE_KIND_EXPERIMENT;
    agg.scope_key = "exp-1";
    agg.arm = "b";
    agg.metric = "conversion";
    agg.minute = (int64_t)time(NULL) / 60;
    agg.count = 10;
    agg.sum = 4;
    agg.sum_squares = 4;
    agg.successes = 4;

    report_call(ch, &req, &st, &resp);
    assert_int_equal(st.code, GRPC_STATUS_OK);
    assert_false(resp->duplicate);
    assert_int_equal(resp->stored, 1);
    roost__v1__report_response__free_unpacked(resp, NULL);
    /* The same batch again: acknowledged, not counted. */
    report_call(ch, &req, &st, &resp);
    assert_int_equal(st.code, GRPC_STATUS_OK);
    assert_true(resp->duplicate);
    roost__v1__report_response__free_unpacked(resp, NULL);

    /* NaN: refused, and the message says what and where. */
    req.sequence = 2;
    agg.sum = 0.0 / 0.0;
    report_call(ch, &req, &st, &resp);
    assert_int_equal(st.code, GRPC_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(st.message, "sum is NaN"));
    assert_non_null(strstr(st.message, "exp-1"));
    agg.sum = 4;
    agg.sum_squares = 1.0 / 0.0;
    report_call(ch, &req, &st, &resp);
    assert_int_equal(st.code, GRPC_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(st.message, "sum_squares is infinite"));
    /* A sketch that does not decode is refused too. */
    agg.sum_squares = 4;
    agg.sketch.data = (uint8_t *)"\x07garbage";
    agg.sketch.len = 8;
    report_call(ch, &req, &st, &resp);
    assert_int_equal(st.code, GRPC_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(st.message, "sketch"));

    rc_channel_close(ch);
    /* Reports never change the configuration revision. */
    assert_int_equal(sdk_status_u64(&p, "revision"), 0);
    assert_int_equal(roostd_stop(&p, SIGTERM), 0);
    assert_true(sdk_stored_series(&p, ROOST_SCOPE_EXPERIMENT, "exp-1", "b", "conversion", &s));
    assert_int_equal(s.rows, 1);
    assert_int_equal(s.count, 10);
    assert_int_equal(s.successes, 4);
}

static void wrong_token_is_an_error_event(void **state)
{
    struct roostd_proc p = {0};
    struct sdk_events rec;
    roost_client_options o;
    roost_client *c;
    roost_error err;
    char tokens[700];
    int i;

    (void)state;
    sdk_events_init(&rec);
    snprintf(tokens, sizeof tokens, "/tmp/sdk-tokens-%d", (int)getpid());
    harness_write_file(tokens, "svc right-token\n");
    p.extra[0] = "--sdk-token-file";
    p.extra[1] = tokens;
    assert_true(roostd_start(&p));
    sdk_test_options(&o, &p, &rec);
    o.token = "wrong-token";
    o.log_level = ROOST_LOG_ERROR + 1; /* quiet */
    assert_int_equal(roost_client_new(&o, &c, &err), ROOST_OK);
    assert_int_equal(roost_client_start(c, &err), ROOST_OK);
    i = sdk_events_wait(&rec, ROOST_EVENT_ERROR, 0, 5);
    assert_true(i >= 0);
    assert_int_equal(rec.ev[i].status, ROOST_EAUTH);
    assert_non_null(strstr(rec.ev[i].message, "token"));
    assert_int_equal(roost_client_wait_ready(c, 100), ROOST_ETIMEOUT);
    roost_client_close(c, NULL);
    assert_int_equal(roostd_stop(&p, SIGTERM), 0);
    unlink(tokens);
    sdk_events_destroy(&rec);
}

/* Read by ThreadSanitizer at start-up (see sdk_support.h). */
const char *__tsan_default_suppressions(void);
const char *__tsan_default_suppressions(void)
{
    return SDK_TSAN_SUPPRESSIONS;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(client_is_ready_within_a_second_of_start),
        cmocka_unit_test(flag_metadata_is_handed_out_as_json),
        cmocka_unit_test(a_change_reaches_the_client_with_its_key),
        cmocka_unit_test(roostd_stopped_makes_the_client_stale_and_evaluations_continue),
        cmocka_unit_test(new_process_with_roostd_down_serves_the_cache),
        cmocka_unit_test(roostd_back_client_resumes_from_its_revision_without_a_snapshot),
        cmocka_unit_test(a_replaced_data_directory_is_not_resumed_as_the_same_history),
        cmocka_unit_test(outcomes_recorded_while_roostd_is_down_arrive_exactly_once),
        cmocka_unit_test(lost_acknowledgement_is_retried_and_counted_once),
        cmocka_unit_test(outcomes_are_flushed_on_close),
        cmocka_unit_test(report_dedupes_and_refuses_nan_with_a_clear_message),
        cmocka_unit_test(wrong_token_is_an_error_event),
    };

    self_path = argv[0];
    if (argc >= 4 && strcmp(argv[1], "--serve-cache") == 0)
        return serve_cache_main(argv[2], argv[3]);
    harness_init(argc, argv);
    sdk_tsan_children();
    return roost_run_tests("sdk", tests);
}
