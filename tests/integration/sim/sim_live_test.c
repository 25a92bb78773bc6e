/* roost-sim live end to end: the binary, against a real roostd started
 * here, on short scenarios (2-second analysis intervals, so a whole rollout
 * takes seconds). What a person running it would observe: a healthy canary
 * promoted through every step, a faulty one rolled back with the numbers,
 * the demo's example rollout and scenario agreeing, errors that say what to
 * do, and an interrupted run that reports what it did. Every run of the
 * binary is bounded by a timeout.
 *
 * Arguments: roostd, roostctl, roost-sim, examples/rollout.json,
 * examples/sim/healthy.json, examples/sim/faulty.json. */
#include <cjson/cJSON.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/integration/harness.h"
#include "testmain.h"

static const char *sim_bin, *example_rollout, *example_healthy, *example_faulty;

/* ---- running roost-sim --------------------------------------------------- */

struct run {
    int status;          /* exit code; -1 killed by the timeout */
    double seconds;      /* wall time */
    char out[1 << 17], err[1 << 14];
};

static void drain(int fd, char *buf, size_t cap, size_t *len, bool *open)
{
    char scratch[4096];
    ssize_t r = read(fd, scratch, sizeof scratch);

    if (r <= 0) {
        *open = false;
        return;
    }
    if (*len + 1 < cap) {
        size_t n = (size_t)r < cap - 1 - *len ? (size_t)r : cap - 1 - *len;
        memcpy(buf + *len, scratch, n);
        *len += n;
        buf[*len] = '\0';
    }
}

/* Runs roost-sim with args (NULL-terminated) and ROOST_SERVER unset; sends
 * SIGINT after interrupt_after_s (0: never); kills it after timeout_s. */
static void sim_run(struct run *r, double timeout_s, double interrupt_after_s, const char *const *args)
{
    const char *argv[40];
    int opipe[2], epipe[2], n = 0, status;
    size_t olen = 0, elen = 0;
    bool oopen = true, eopen = true, interrupted = false;
    double start = harness_now();
    pid_t pid;

    memset(r, 0, sizeof *r);
    argv[n++] = sim_bin;
    for (int i = 0; args[i] && n < 39; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    assert_int_equal(pipe(opipe), 0);
    assert_int_equal(pipe(epipe), 0);
    pid = fork();
    if (pid == 0) {
        dup2(opipe[1], 1);
        dup2(epipe[1], 2);
        close(opipe[0]);
        close(epipe[0]);
        unsetenv("ROOST_SERVER");
        unsetenv("ROOST_TOKEN_FILE");
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(opipe[1]);
    close(epipe[1]);
    while ((oopen || eopen) && harness_now() - start < timeout_s) {
        struct pollfd fds[2] = {{opipe[0], POLLIN, 0}, {epipe[0], POLLIN, 0}};
        if (interrupt_after_s > 0 && !interrupted && harness_now() - start >= interrupt_after_s) {
            kill(pid, SIGINT);
            interrupted = true;
        }
        if (poll(fds, 2, 100) <= 0)
            continue;
        if (oopen && fds[0].revents)
            drain(opipe[0], r->out, sizeof r->out, &olen, &oopen);
        if (eopen && fds[1].revents)
            drain(epipe[0], r->err, sizeof r->err, &elen, &eopen);
    }
    close(opipe[0]);
    close(epipe[0]);
    if (oopen || eopen) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        r->status = -1;
    } else {
        waitpid(pid, &status, 0);
        r->status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    r->seconds = harness_now() - start;
    if (r->status == -1)
        fprintf(stderr, "roost-sim did not finish within %.0f s\nstdout:\n%s\nstderr:\n%s\n", timeout_s,
                r->out, r->err);
}

static void expect_status(const struct run *r, int status)
{
    if (r->status != status)
        fail_msg("roost-sim exited %d, expected %d\nstdout:\n%s\nstderr:\n%s", r->status, status, r->out,
                 r->err);
}

static void expect_text(const char *where, const char *text, const char *needle)
{
    if (!strstr(text, needle))
        fail_msg("'%s' not in %s:\n%s", needle, where, text);
}

/* ---- documents and scenarios ------------------------------------------------ */

/* A rollout that decides in seconds: 2-second analyses, two passed runs at
 * 20 % and at 50 %. The same object goes into roostd's document and into
 * the scenario, as docs/simulator.md asks. */
static const char short_rollout[] =
    "{\"checkout-v2\": {\"service\": \"checkout\", \"baseline\": \"v1\", \"canary\": \"%s\","
    " \"steps\": [{\"setWeight\": 20}, {\"analysis\": {\"count\": 2}}, {\"setWeight\": 50},"
    "            {\"analysis\": {\"count\": 2}}, {\"setWeight\": 100}],"
    " \"analysis\": {\"interval\": \"2s\", \"metrics\": ["
    "   {\"name\": \"errors-vs-baseline\", \"type\": \"compare\", \"stat\": \"error_rate\"},"
    "   {\"name\": \"error-rate\", \"type\": \"threshold\", \"stat\": \"error_rate\", \"max\": 0.05,"
    "    \"minSamples\": 50},"
    "   {\"name\": \"latency-vs-baseline\", \"type\": \"relative\", \"stat\": \"p99\", \"maxRatio\": 2}]}}}";

static void apply_short_rollout(struct roostd_proc *p, const char *canary)
{
    char rollouts[2048], doc[2600], path[700], err[4096];
    const char *args[] = {"apply", "-f", path, NULL};

    snprintf(rollouts, sizeof rollouts, short_rollout, canary);
    snprintf(doc, sizeof doc, "{\"metadata\": {\"flagSetId\": \"shop\"}, \"rollouts\": %s}", rollouts);
    snprintf(path, sizeof path, "%s/doc-%s.json", p->data_dir, canary);
    harness_write_file(path, doc);
    if (roostctl_run(p, NULL, 0, err, sizeof err, args) != 0)
        fail_msg("apply failed: %s", err);
}

/* Writes a scenario with the short rollout; canary: the canary's model. */
static void write_scenario(const struct roostd_proc *p, const char *path, const char *name,
                           const char *expect, const char *canary_version, const char *canary)
{
    char rollouts[2048], doc[4096];

    snprintf(rollouts, sizeof rollouts, short_rollout, canary_version);
    snprintf(doc, sizeof doc,
             "{\"name\": \"%s\", \"expect\": \"%s\", \"duration\": \"1m\", \"flushInterval\": \"1s\","
             " \"traffic\": {\"shape\": \"steady\", \"rate\": 400},"
             " \"baseline\": {\"errorRate\": 0.005, \"latency\": {\"medianMs\": 40, \"sigma\": 0.4}},"
             " \"canary\": %s, \"rollouts\": %s}",
             name, expect, canary, rollouts);
    (void)p;
    harness_write_file(path, doc);
}

static cJSON *parse_run(const struct run *r)
{
    cJSON *j = cJSON_Parse(r->out);

    if (!j)
        fail_msg("roost-sim --json printed no JSON object:\n%s", r->out);
    return j;
}

static const char *outcome_phase(const cJSON *run)
{
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(run, "outcome");
    const cJSON *ph = o ? cJSON_GetObjectItemCaseSensitive(o, "phase") : NULL;

    return cJSON_IsString(ph) ? ph->valuestring : "";
}

static double outcome_num(const cJSON *run, const char *key)
{
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(run, "outcome");
    const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;

    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* The decision records of a run whose "event" is event, in order. */
static size_t records(const cJSON *run, const char *event, const cJSON **out, size_t cap)
{
    const cJSON *d, *all = cJSON_GetObjectItemCaseSensitive(run, "decisions");
    size_t n = 0;

    cJSON_ArrayForEach(d, all)
    {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(d, "event");
        if (cJSON_IsString(e) && strcmp(e->valuestring, event) == 0 && n < cap)
            out[n++] = d;
    }
    return n;
}

static double weight_to(const cJSON *rec)
{
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(rec, "weight");
    const cJSON *to = w ? cJSON_GetObjectItemCaseSensitive(w, "to") : NULL;

    return cJSON_IsNumber(to) ? to->valuedouble : -1;
}

/* ---- tests ------------------------------------------------------------------- */

static void healthy_canary_is_promoted_through_every_step(void **state)
{
    struct roostd_proc p = {0};
    static struct run r;
    char scen[700];
    const cJSON *w[8], *promoted[2];
    const char *args[] = {"live", scen, "--server", p.addr, "--for", "60", "--json", NULL};
    cJSON *run;

    (void)state;
    assert_true(roostd_start(&p));
    args[3] = p.addr;
    apply_short_rollout(&p, "v2");
    snprintf(scen, sizeof scen, "%s/healthy.json", p.data_dir);
    write_scenario(&p, scen, "healthy", "promote", "v2", "{}");
    sim_run(&r, 90, 0, args);
    expect_status(&r, 0);
    run = parse_run(&r);
    assert_string_equal(outcome_phase(run), "promoted");
    assert_int_equal((int)outcome_num(run, "weight"), 100);
    /* Every setWeight step left its record, in order, and the promotion. */
    assert_int_equal(records(run, "weight", w, 8), 3);
    assert_int_equal((int)weight_to(w[0]), 20);
    assert_int_equal((int)weight_to(w[1]), 50);
    assert_int_equal((int)weight_to(w[2]), 100);
    assert_int_equal(records(run, "promoted", promoted, 2), 1);
    assert_true(records(run, "analysis", w, 8) >= 4);
    /* Outcomes went through the SDK: the canary got traffic at each weight. */
    assert_true(outcome_num(run, "canary_requests") > 400);
    /* Four 2-second analyses and three settle seconds: well under the bound. */
    assert_true(r.seconds < 45);
    cJSON_Delete(run);

    /* The rollout is finished now: running it again says what to do. */
    sim_run(&r, 30, 0, args);
    expect_status(&r, 1);
    expect_text("stderr", r.err, "already promoted");
    expect_text("stderr", r.err, "roostctl rollout retry checkout-v2");
    assert_int_equal(roostd_stop(&p, SIGTERM), 0);
}

static void faulty_canary_is_rolled_back_with_the_numbers(void **state)
{
    struct roostd_proc p = {0};
    static struct run r;
    static char hist[1 << 17];
    char scen[700];
    const char *args[] = {"live", scen, "--server", p.addr, "--for", "60", NULL};
    const char *hargs[] = {"rollout", "history", "checkout-v2", NULL};

    (void)state;
    assert_true(roostd_start(&p));
    args[3] = p.addr;
    apply_short_rollout(&p, "v2");
    snprintf(scen, sizeof scen, "%s/faulty.json", p.data_dir);
    /* 12 % errors (24x the baseline), twice as slow. */
    write_scenario(&p, scen, "faulty", "rollback", "v2",
                   "{\"errorRate\": 0.12, \"latency\": {\"medianMs\": 80}}");
    sim_run(&r, 60, 0, args);
    expect_status(&r, 0);
    /* The text timeline, the outcome, and the checks of the deciding record. */
    expect_text("stdout", r.out, "started by roost-sim");
    expect_text("stdout", r.out, "weight 0 -> 20");
    expect_text("stdout", r.out, "rolled back: weight 20 -> 0: analysis failed");
    expect_text("stdout", r.out, "outcome: rolled back at ");
    expect_text("stdout", r.out, "FAILED  error-rate");
    expect_text("stdout", r.out, "the SDK sent ");
    assert_null(strstr(r.out, "weight 20 -> 50"));
    /* roostd's own history has the same decision. */
    assert_int_equal(roostctl_run(&p, hist, sizeof hist, NULL, 0, hargs), 0);
    expect_text("history", hist, "rolled back: weight 20 -> 0: analysis failed");
    expect_text("history", hist, "roost-sim live, scenario faulty");
    assert_true(r.seconds < 30);
    assert_int_equal(roostd_stop(&p, SIGTERM), 0);
}

/* The demo's pair: examples/rollout.json applied as the demo applies it,
 * and examples/sim/faulty.json. They agree (no "differs" note), and the
 * faulty canary is rolled back at its first analyses. */
static void example_rollout_and_faulty_scenario_agree(void **state)
{
    struct roostd_proc p = {0};
    static struct run r;
    static char doc[1 << 14];
    char path[700], err[4096], *at;
    const char *args[] = {"live", example_faulty, "--server", p.addr, "--for", "60", "--json", NULL};
    const char *apply[] = {"apply", "-f", path, NULL};
    FILE *f;
    size_t n;
    cJSON *run;

    (void)state;
    assert_true(roostd_start(&p));
    args[3] = p.addr;
    /* The demo points the probe at roostd and applies a new canary version. */
    assert_non_null(f = fopen(example_rollout, "r"));
    n = fread(doc, 1, sizeof doc - 1, f);
    fclose(f);
    doc[n] = '\0';
    assert_non_null(at = strstr(doc, "127.0.0.1:7070"));
    {
        char rest[1 << 14];
        snprintf(rest, sizeof rest, "%s", at + strlen("127.0.0.1:7070"));
        snprintf(at, sizeof doc - (size_t)(at - doc), "%s%s", p.addr, rest);
    }
    assert_non_null(at = strstr(doc, "\"v1.5.0\""));
    memcpy(at, "\"v1.5.1\"", 8);
    snprintf(path, sizeof path, "%s/rollout.json", p.data_dir);
    harness_write_file(path, doc);
    if (roostctl_run(&p, NULL, 0, err, sizeof err, apply) != 0)
        fail_msg("apply failed: %s", err);
    sim_run(&r, 90, 0, args);
    expect_status(&r, 0);
    if (strstr(r.err, "note:"))
        fail_msg("the example scenario and rollout disagree:\n%s", r.err);
    run = parse_run(&r);
    assert_string_equal(outcome_phase(run), "rolled_back");
    assert_int_equal((int)outcome_num(run, "max_weight"), 10);
    assert_true(outcome_num(run, "at_s") < 25);
    cJSON_Delete(run);
    assert_int_equal(roostd_stop(&p, SIGTERM), 0);
}

/* The examples decide as the demo says in virtual time too: the healthy
 * canary is promoted (a false rollback is rare), the faulty one never is. */
static void example_scenarios_decide_as_expected_in_virtual_time(void **state)
{
    static struct run r;
    const char *healthy[] = {"virtual", example_healthy, "--runs", "300", "--json", NULL};
    const char *faulty[] = {"virtual", example_faulty, "--runs", "300", "--json", NULL};
    cJSON *s;

    (void)state;
    sim_run(&r, 60, 0, healthy);
    expect_status(&r, 0);
    s = parse_run(&r);
    assert_true(cJSON_GetObjectItemCaseSensitive(s, "promoted")->valueint >= 295);
    cJSON_Delete(s);
    sim_run(&r, 60, 0, faulty);
    expect_status(&r, 0);
    s = parse_run(&r);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(s, "rolled_back")->valueint, 300);
    cJSON_Delete(s);
}

static void unreachable_roostd_is_an_error_that_says_what_to_do(void **state)
{
    static struct run r;
    const char *args[] = {"live", example_healthy, "--server", "127.0.0.1:1", NULL};

    (void)state;
    sim_run(&r, 30, 0, args);
    expect_status(&r, 1);
    expect_text("stderr", r.err, "cannot reach roostd at 127.0.0.1:1: is it running?");
    assert_true(r.seconds < 15);
}

static void unknown_rollout_is_an_error_that_says_what_to_do(void **state)
{
    struct roostd_proc p = {0};
    static struct run r;
    const char *args[] = {"live", example_healthy, "--server", p.addr, "--rollout", "nope", NULL};

    (void)state;
    assert_true(roostd_start(&p));
    args[3] = p.addr;
    sim_run(&r, 30, 0, args);
    expect_status(&r, 1);
    expect_text("stderr", r.err, "has no rollout 'nope': apply the document that defines it first");
    assert_int_equal(roostd_stop(&p, SIGTERM), 0);
}

static void mistakes_on_the_command_line_exit_2(void **state)
{
    static struct run r;
    const char *no_server[] = {"live", example_healthy, NULL};
    const char *no_file[] = {"live", "--server", "127.0.0.1:1", NULL};
    const char *bad_for[] = {"live", example_healthy, "--server", "127.0.0.1:1", "--for", "0", NULL};
    const char *missing[] = {"live", "/nonexistent.json", "--server", "127.0.0.1:1", NULL};
    const char *token[] = {"live", example_healthy, "--server", "127.0.0.1:1", "--token-file",
                           "/nonexistent-token", NULL};
    const char *help[] = {"live", "--help", NULL};

    (void)state;
    sim_run(&r, 10, 0, no_server);
    expect_status(&r, 2);
    expect_text("stderr", r.err, "pass --server HOST:PORT");
    sim_run(&r, 10, 0, no_file);
    expect_status(&r, 2);
    expect_text("stderr", r.err, "missing the scenario file");
    sim_run(&r, 10, 0, bad_for);
    expect_status(&r, 2);
    expect_text("stderr", r.err, "--for");
    sim_run(&r, 10, 0, missing);
    expect_status(&r, 2);
    expect_text("stderr", r.err, "/nonexistent.json");
    sim_run(&r, 10, 0, token);
    expect_status(&r, 2);
    expect_text("stderr", r.err, "--token-file");
    sim_run(&r, 10, 0, help);
    expect_status(&r, 0);
    expect_text("stdout", r.out, "Usage: roost-sim live SCENARIO.json --server HOST:PORT");
}

static void interrupted_run_reports_what_it_did_and_exits_1(void **state)
{
    struct roostd_proc p = {0};
    static struct run r;
    char scen[700];
    const char *args[] = {"live", scen, "--server", p.addr, NULL};

    (void)state;
    assert_true(roostd_start(&p));
    args[3] = p.addr;
    apply_short_rollout(&p, "v2");
    snprintf(scen, sizeof scen, "%s/healthy.json", p.data_dir);
    write_scenario(&p, scen, "healthy", "promote", "v2", "{}");
    sim_run(&r, 30, 2.5, args);
    expect_status(&r, 1);
    expect_text("stdout", r.out, "outcome: still running");
    expect_text("stdout", r.out, "sent ");
    expect_text("stderr", r.err, "interrupted after");
    expect_text("stderr", r.err, "roostctl rollout abort checkout-v2");
    assert_int_equal(roostd_stop(&p, SIGTERM), 0);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(healthy_canary_is_promoted_through_every_step),
        cmocka_unit_test(faulty_canary_is_rolled_back_with_the_numbers),
        cmocka_unit_test(example_rollout_and_faulty_scenario_agree),
        cmocka_unit_test(example_scenarios_decide_as_expected_in_virtual_time),
        cmocka_unit_test(unreachable_roostd_is_an_error_that_says_what_to_do),
        cmocka_unit_test(unknown_rollout_is_an_error_that_says_what_to_do),
        cmocka_unit_test(mistakes_on_the_command_line_exit_2),
        cmocka_unit_test(interrupted_run_reports_what_it_did_and_exits_1),
    };

    if (argc < 7) {
        fprintf(stderr, "usage: %s ROOSTD ROOSTCTL ROOST-SIM ROLLOUT.json HEALTHY.json FAULTY.json\n",
                argv[0]);
        return 2;
    }
    harness_init(argc, argv);
    sim_bin = argv[3];
    example_rollout = argv[4];
    example_healthy = argv[5];
    example_faulty = argv[6];
    return roost_run_tests("sim_live", tests);
}
