/* Rollout hooks: parsing (every message checked word for word), exec hooks
 * as real processes, HTTP hooks against a real HTTP server on 127.0.0.1.
 * Every wait is bounded by the hook's own timeout or an explicit deadline. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include "server/rollout/hooks.h"
#include "test_http_server.h"
#include "testmain.h"
#include "testutil.h"

/* ---- helpers -------------------------------------------------------------- */


/* A hook running `/bin/sh -c script`. The hook itself runs without a
 * shell; the test programs are shell scripts for brevity. */
static struct hook_spec sh_hook(const char *script, int64_t timeout_ms, uint32_t retries)
{
    struct hook_spec h;

    memset(&h, 0, sizeof h);
    h.on = HOOK_ROLLBACK;
    h.argv[0] = strdup("/bin/sh");
    h.argv[1] = strdup("-c");
    h.argv[2] = strdup(script);
    h.timeout_ms = timeout_ms;
    h.retries = retries;
    h.backoff_ms = 10;
    return h;
}

static struct hook_spec http_hook(int port, const char *path, int64_t timeout_ms, uint32_t retries)
{
    struct hook_spec h;
    char url[256];

    memset(&h, 0, sizeof h);
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    h.on = HOOK_ROLLBACK;
    h.is_http = true;
    h.url = strdup(url);
    h.method = strdup("POST");
    h.timeout_ms = timeout_ms;
    h.retries = retries;
    h.backoff_ms = 10;
    return h;
}

static void tmp_path(char *out, size_t cap, const char *name)
{
    const char *base = getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp";

    snprintf(out, cap, "%s/hooks-%d-%s", base, (int)getpid(), name);
    unlink(out);
}

static int count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    int n = 0, c;

    if (!f)
        return 0;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

/* True once pid is gone or a zombie nobody has reaped yet (it is dead
 * either way; an orphan's reaper is not ours to wait for). */
static bool process_dead(pid_t pid)
{
    char path[64], buf[512];
    FILE *f;
    char *close_paren;
    bool dead;

    if (kill(pid, 0) != 0 && errno == ESRCH)
        return true;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if (!(f = fopen(path, "r")))
        return true;
    dead = fgets(buf, sizeof buf, f) && (close_paren = strrchr(buf, ')')) &&
           (close_paren[2] == 'Z' || close_paren[2] == 'X');
    fclose(f);
    return dead;
}

static bool wait_dead(pid_t pid, double seconds)
{
    double deadline = test_now_s() + seconds;

    while (test_now_s() < deadline) {
        if (process_dead(pid))
            return true;
        test_sleep_ms(10);
    }
    return process_dead(pid);
}

static cJSON *parse_json(const char *text)
{
    cJSON *j = cJSON_Parse(text);

    assert_non_null(j);
    return j;
}

/* ---- durations ------------------------------------------------------------- */

static void duration_parse_accepts_documented_forms(void **state)
{
    static const struct {
        const char *text;
        int64_t ms;
    } ok[] = {{"500ms", 500},   {"30s", 30000},          {"2m", 120000},
              {"1h", 3600000},  {"1h30m", 5400000},      {"0", 0},
              {"0s", 0},        {"1h1m1s1ms", 3661001},  {"1m500ms", 60500},
              {"90s", 90000},   {"1d", 86400000},       {"2d12h", 216000000}};
    int64_t ms;

    (void)state;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        ms = -1;
        assert_true(roost_duration_parse(ok[i].text, &ms));
        assert_int_equal(ms, ok[i].ms);
    }
}

static void duration_parse_rejects_everything_else_and_leaves_output_alone(void **state)
{
    static const char *const bad[] = {"",    "10",  "s",    "1.5s", " 1s", "1s ", "-1s",
                                      "1h1d", "1m1h", "1s1s", "2mss", "1H", "ms",  "1h 30m",
                                      "99999999999999999999ms", "9999999999999999h"};
    int64_t ms = 42;

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (roost_duration_parse(bad[i], &ms))
            fail_msg("'%s' was accepted", bad[i]);
        assert_int_equal(ms, 42);
    }
    assert_false(roost_duration_parse(NULL, &ms));
}

/* ---- parsing ------------------------------------------------------------------ */

static void hook_parse_exec_fills_defaults(void **state)
{
    cJSON *j = parse_json("{\"on\": [\"rollback\", \"event\"], "
                          "\"exec\": [\"/usr/local/bin/page-oncall\", \"checkout\"]}");
    struct hook_spec h;
    roost_error err = {0};
    char what[128];

    (void)state;
    assert_int_equal(hook_spec_parse(j, "rollouts.c.hooks[0]", &h, &err), ROOST_OK);
    assert_int_equal(h.on, HOOK_ROLLBACK | HOOK_EVENT);
    assert_false(h.is_http);
    assert_string_equal(h.argv[0], "/usr/local/bin/page-oncall");
    assert_string_equal(h.argv[1], "checkout");
    assert_null(h.argv[2]);
    assert_int_equal(h.timeout_ms, 10000);
    assert_int_equal(h.retries, 3);
    assert_int_equal(h.backoff_ms, 500);
    hook_describe(&h, what, sizeof what);
    assert_string_equal(what, "exec page-oncall");
    hook_spec_free(&h);
    cJSON_Delete(j);
}

static void hook_parse_http_with_method_headers_timeout_and_retries(void **state)
{
    cJSON *j = parse_json("{\"on\": [\"confirm-promotion\"], \"timeout\": \"1m30s\", \"retries\": 0,"
                          " \"http\": {\"url\": \"https://bot:secret@gate.example/ok?x=1\","
                          " \"method\": \"PUT\", \"headers\": {\"X-Team\": \"checkout\"}}}");
    struct hook_spec h;
    roost_error err = {0};
    char what[256];

    (void)state;
    assert_int_equal(hook_spec_parse(j, "rollouts.c.hooks[1]", &h, &err), ROOST_OK);
    assert_int_equal(h.on, HOOK_CONFIRM_PROMOTION);
    assert_true(h.is_http);
    assert_string_equal(h.url, "https://bot:secret@gate.example/ok?x=1");
    assert_string_equal(h.method, "PUT");
    assert_int_equal(h.nheaders, 1);
    assert_string_equal(h.headers[0], "X-Team: checkout");
    assert_int_equal(h.timeout_ms, 90000);
    assert_int_equal(h.retries, 0);
    hook_describe(&h, what, sizeof what);
    assert_string_equal(what, "http PUT https://gate.example/ok?x=1");
    hook_spec_free(&h);
    cJSON_Delete(j);
}

static void hook_event_names_match_the_document(void **state)
{
    (void)state;
    assert_string_equal(hook_event_name(HOOK_PRE_ROLLOUT), "pre-rollout");
    assert_string_equal(hook_event_name(HOOK_STEP), "step");
    assert_string_equal(hook_event_name(HOOK_CONFIRM_PROMOTION), "confirm-promotion");
    assert_string_equal(hook_event_name(HOOK_PROMOTION), "promotion");
    assert_string_equal(hook_event_name(HOOK_ROLLBACK), "rollback");
    assert_string_equal(hook_event_name(HOOK_EVENT), "event");
    assert_null(hook_event_name((enum hook_event)3));
}

static void hook_parse_errors_name_the_path_and_what_is_expected(void **state)
{
    static const struct {
        const char *json;
        roost_status code;
        const char *msg;
    } cases[] = {
        {"[]", ROOST_EINVAL, "h: expected an object with \"on\" and either \"exec\" or \"http\""},
        {"{\"on\": [\"rollback\"], \"exec\": [\"/bin/true\"], \"retry\": 2}", ROOST_EINVAL,
         "h: unknown field 'retry' (expected one of on, exec, http, timeout, retries; did you "
         "mean 'retries'?)"},
        {"{\"on\": [\"rollback\"], \"on\": [\"step\"], \"exec\": [\"/bin/true\"]}", ROOST_EINVAL,
         "h: field 'on' is given twice"},
        {"{\"exec\": [\"/bin/true\"]}", ROOST_EINVAL,
         "h.on: missing (the events that run this hook, such as [\"rollback\"])"},
        {"{\"on\": \"rollback\", \"exec\": [\"/bin/true\"]}", ROOST_EINVAL,
         "h.on: expected a non-empty array of events such as [\"rollback\"] (events: "
         "pre-rollout, step, confirm-promotion, promotion, rollback, event)"},
        {"{\"on\": [\"step\", \"rolback\"], \"exec\": [\"/bin/true\"]}", ROOST_EINVAL,
         "h.on[1]: unknown event 'rolback' (expected one of pre-rollout, step, "
         "confirm-promotion, promotion, rollback, event; did you mean 'rollback'?)"},
        {"{\"on\": [\"step\", 3], \"exec\": [\"/bin/true\"]}", ROOST_EINVAL,
         "h.on[1]: expected an event name (a string)"},
        {"{\"on\": [\"step\", \"step\"], \"exec\": [\"/bin/true\"]}", ROOST_EINVAL,
         "h.on[1]: event 'step' is listed twice"},
        {"{\"on\": [\"step\"]}", ROOST_EINVAL, "h: expected exactly one of \"exec\" or \"http\""},
        {"{\"on\": [\"step\"], \"exec\": [\"/bin/true\"], \"http\": {\"url\": \"http://x\"}}",
         ROOST_EINVAL, "h: expected exactly one of \"exec\" or \"http\", not both"},
        {"{\"on\": [\"step\"], \"exec\": []}", ROOST_EINVAL,
         "h.exec: expected a non-empty array of strings: the program's absolute path, then its "
         "arguments"},
        {"{\"on\": [\"step\"], \"exec\": [\"page-oncall\"]}", ROOST_EINVAL,
         "h.exec[0]: expected an absolute program path such as \"/usr/local/bin/notify\", got "
         "\"page-oncall\" (hooks run without a shell or PATH search)"},
        {"{\"on\": [\"step\"], \"exec\": [\"/bin/echo\", 1]}", ROOST_EINVAL,
         "h.exec[1]: expected a string"},
        {"{\"on\": [\"step\"], \"exec\": [\"/bin/true\"], \"timeout\": \"10\"}", ROOST_EINVAL,
         "h.timeout: expected a duration from \"1ms\" to \"1h\" such as \"10s\" or \"1m30s\""},
        {"{\"on\": [\"step\"], \"exec\": [\"/bin/true\"], \"timeout\": \"2h\"}", ROOST_EINVAL,
         "h.timeout: expected a duration from \"1ms\" to \"1h\" such as \"10s\" or \"1m30s\""},
        {"{\"on\": [\"step\"], \"exec\": [\"/bin/true\"], \"timeout\": \"0s\"}", ROOST_EINVAL,
         "h.timeout: expected a duration from \"1ms\" to \"1h\" such as \"10s\" or \"1m30s\""},
        {"{\"on\": [\"step\"], \"exec\": [\"/bin/true\"], \"retries\": 1.5}", ROOST_EINVAL,
         "h.retries: expected a whole number from 0 to 10 (attempts after the first failure)"},
        {"{\"on\": [\"step\"], \"exec\": [\"/bin/true\"], \"retries\": 11}", ROOST_EINVAL,
         "h.retries: expected a whole number from 0 to 10 (attempts after the first failure)"},
        {"{\"on\": [\"step\"], \"http\": \"http://x\"}", ROOST_EINVAL,
         "h.http: expected an object such as {\"url\": \"https://deploy.example/hook\"}"},
        {"{\"on\": [\"step\"], \"http\": {\"url\": \"http://x\", \"mehtod\": \"PUT\"}}",
         ROOST_EINVAL,
         "h.http: unknown field 'mehtod' (expected one of url, method, headers; did you mean "
         "'method'?)"},
        {"{\"on\": [\"step\"], \"http\": {}}", ROOST_EINVAL,
         "h.http.url: missing (the address to call)"},
        {"{\"on\": [\"step\"], \"http\": {\"url\": \"ftp://x/y\"}}", ROOST_EINVAL,
         "h.http.url: expected an http:// or https:// URL without spaces, such as "
         "\"https://deploy.example/hook\""},
        {"{\"on\": [\"step\"], \"http\": {\"url\": \"http://\"}}", ROOST_EINVAL,
         "h.http.url: expected an http:// or https:// URL without spaces, such as "
         "\"https://deploy.example/hook\""},
        {"{\"on\": [\"step\"], \"http\": {\"url\": \"http://x\", \"method\": \"GET\"}}",
         ROOST_EINVAL,
         "h.http.method: expected one of POST, PUT, PATCH (the event is sent as the request "
         "body)"},
        {"{\"on\": [\"step\"], \"http\": {\"url\": \"http://x\", \"headers\": [\"A: b\"]}}",
         ROOST_EINVAL,
         "h.http.headers: expected an object of header names to string values, such as "
         "{\"Authorization\": \"Bearer ...\"}"},
        {"{\"on\": [\"step\"], \"http\": {\"url\": \"http://x\", \"headers\": {\"A b\": \"c\"}}}",
         ROOST_EINVAL,
         "h.http.headers: 'A b' is not a valid header name (letters, digits and "
         "!#$%&'*+-.^_`|~ only)"},
        {"{\"on\": [\"step\"], \"http\": {\"url\": \"http://x\", \"headers\": "
         "{\"idempotency-key\": \"k\"}}}",
         ROOST_EINVAL, "h.http.headers.idempotency-key: this header is set by roostd and cannot be given"},
        {"{\"on\": [\"step\"], \"http\": {\"url\": \"http://x\", \"headers\": "
         "{\"X-A\": \"line\\r\\nX-Evil: 1\"}}}",
         ROOST_EINVAL,
         "h.http.headers.X-A: expected a string without line breaks or control characters"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *j = parse_json(cases[i].json);
        struct hook_spec h;
        roost_error err = {0};

        memset(&h, 0x5a, sizeof h); /* untouched on failure */
        if (hook_spec_parse(j, "h", &h, &err) != cases[i].code)
            fail_msg("case %zu (%s): status %d, message '%s'", i, cases[i].json, err.code, err.msg);
        if (strcmp(err.msg, cases[i].msg) != 0)
            fail_msg("case %zu (%s):\n  got      '%s'\n  expected '%s'", i, cases[i].json,
                     err.msg, cases[i].msg);
        assert_int_equal(h.on, 0x5a5a5a5a);
        cJSON_Delete(j);
    }
}

static void hook_parse_limits_arguments_and_headers(void **state)
{
    char json[8192];
    size_t n = 0;
    cJSON *j;
    struct hook_spec h;
    roost_error err = {0};

    (void)state;
    n += (size_t)snprintf(json + n, sizeof json - n, "{\"on\": [\"step\"], \"exec\": [\"/bin/echo\"");
    for (int i = 0; i < HOOK_MAX_ARGS; i++)
        n += (size_t)snprintf(json + n, sizeof json - n, ", \"a%d\"", i);
    snprintf(json + n, sizeof json - n, "]}");
    j = parse_json(json);
    assert_int_equal(hook_spec_parse(j, "h", &h, &err), ROOST_ELIMIT);
    assert_string_equal(err.msg, "h.exec: more than 32 arguments");
    cJSON_Delete(j);

    n = 0;
    n += (size_t)snprintf(json + n, sizeof json - n,
                          "{\"on\": [\"step\"], \"http\": {\"url\": \"http://x\", \"headers\": {");
    for (int i = 0; i <= HOOK_MAX_HEADERS; i++)
        n += (size_t)snprintf(json + n, sizeof json - n, "%s\"X-%d\": \"v\"", i ? ", " : "", i);
    snprintf(json + n, sizeof json - n, "}}}");
    j = parse_json(json);
    assert_int_equal(hook_spec_parse(j, "h", &h, &err), ROOST_ELIMIT);
    assert_string_equal(err.msg, "h.http.headers: more than 16 headers");
    cJSON_Delete(j);
}

/* ---- exec ------------------------------------------------------------------------ */

static void exec_hook_success_reports_exit_0_and_one_attempt(void **state)
{
    struct hook_spec h = sh_hook("echo done", 5000, 3);
    struct hook_result r;

    (void)state;
    hook_run(&h, "checkout-v2", "rollback", "{}", "k1", &r);
    assert_true(r.ok);
    assert_int_equal(r.attempts, 1);
    assert_int_equal(r.exit_status, 0);
    assert_int_equal(r.http_status, 0);
    assert_string_equal(r.output, "done\n");
    assert_non_null(strstr(r.detail, "exit 0 in "));
    assert_non_null(strstr(r.detail, " ms"));
    hook_spec_free(&h);
}

static void exec_hook_gets_the_event_on_stdin_and_in_the_environment(void **state)
{
    /* Reads stdin to EOF, then prints what it got and its ROOST_* variables. */
    struct hook_spec h = sh_hook("cat; echo \"rollout=$ROOST_ROLLOUT\"; "
                                 "echo \"key=$ROOST_IDEMPOTENCY_KEY\"; "
                                 "echo \"event=$ROOST_HOOK_EVENT\"; echo \"json=$ROOST_EVENT\"",
                                 5000, 0);
    const char *event = "{\"type\":\"rollback\",\"weight\":0}";
    struct hook_result r;

    (void)state;
    setenv("ROOST_IDEMPOTENCY_KEY", "inherited-and-stale", 1);
    hook_run(&h, "checkout-v2", "rollback", event, "checkout-v2/17", &r);
    unsetenv("ROOST_IDEMPOTENCY_KEY");
    assert_true(r.ok);
    assert_string_equal(r.output, "{\"type\":\"rollback\",\"weight\":0}\n"
                                  "rollout=checkout-v2\n"
                                  "key=checkout-v2/17\n"
                                  "event=rollback\n"
                                  "json={\"type\":\"rollback\",\"weight\":0}\n");
    hook_spec_free(&h);
}

static void exec_hook_nonzero_exit_is_retried_then_recorded(void **state)
{
    char count[256], script[600];
    struct hook_spec h;
    struct hook_result r;

    (void)state;
    tmp_path(count, sizeof count, "attempts");
    snprintf(script, sizeof script,
             "echo attempt >> '%s'; echo progress; echo 'deploy API said: 409 conflict' >&2; "
             "echo more >&2; exit 1",
             count);
    h = sh_hook(script, 5000, 2);
    hook_run(&h, "checkout-v2", "rollback", "{}", "k", &r);
    assert_false(r.ok);
    assert_int_equal(r.attempts, 3);
    assert_int_equal(count_lines(count), 3);
    assert_int_equal(r.exit_status, 1);
    assert_string_equal(r.detail, "exit 1 after 3 attempts: deploy API said: 409 conflict");
    /* Backoff 10 ms then 20 ms. */
    assert_true(r.duration_ms >= 30);
    hook_spec_free(&h);
}

static void exec_hook_that_fails_once_succeeds_on_the_retry(void **state)
{
    char marker[256], script[600];
    struct hook_spec h;
    struct hook_result r;

    (void)state;
    tmp_path(marker, sizeof marker, "failed-once");
    snprintf(script, sizeof script,
             "if [ -e '%s' ]; then exit 0; fi; touch '%s'; echo flaky >&2; exit 3", marker,
             marker);
    h = sh_hook(script, 5000, 3);
    hook_run(&h, "r", "step", "{}", "k", &r);
    assert_true(r.ok);
    assert_int_equal(r.attempts, 2);
    assert_int_equal(r.exit_status, 0);
    assert_non_null(strstr(r.detail, "exit 0 in "));
    assert_non_null(strstr(r.detail, " after 2 attempts"));
    hook_spec_free(&h);
}

static void exec_hook_timeout_kills_the_process_group(void **state)
{
    /* The shell starts a background sleep (same process group), prints both
     * pids, and waits: only a process-group kill ends both. */
    struct hook_spec h = sh_hook("sleep 30 & echo $$ $!; wait", 300, 1);
    struct hook_result r;
    double start = test_now_s(), took;
    int shell = 0, child = 0;
    char expect[200];

    (void)state;
    hook_run(&h, "r", "rollback", "{}", "k", &r);
    took = test_now_s() - start;
    assert_false(r.ok);
    assert_int_equal(r.attempts, 2);
    assert_int_equal(r.exit_status, -1);
    /* Two attempts of 300 ms and a 10 ms backoff, well under a second. */
    assert_true(took < 2.0);
    assert_true(r.duration_ms >= 600);
    /* The output is the last attempt's: its shell and its background sleep. */
    assert_int_equal(sscanf(r.output, "%d %d", &shell, &child), 2);
    /* Without stderr, the detail quotes the first line of stdout. */
    snprintf(expect, sizeof expect,
             "no exit within the 300 ms timeout (process group killed) after 2 attempts: %d %d",
             shell, child);
    assert_string_equal(r.detail, expect);
    assert_true(wait_dead((pid_t)shell, 2.0));
    assert_true(wait_dead((pid_t)child, 2.0));
    hook_spec_free(&h);
}

static void exec_hook_missing_program_is_reported(void **state)
{
    struct hook_spec h;
    struct hook_result r;

    (void)state;
    memset(&h, 0, sizeof h);
    h.argv[0] = strdup("/nonexistent/page-oncall");
    h.timeout_ms = 2000;
    h.retries = 1;
    h.backoff_ms = 1;
    hook_run(&h, "r", "rollback", "{}", "k", &r);
    assert_false(r.ok);
    assert_int_equal(r.attempts, 2);
    assert_string_equal(r.detail,
                        "cannot run /nonexistent/page-oncall: No such file or directory after 2 attempts");
    hook_spec_free(&h);
}

static void exec_hook_that_ignores_a_large_event_does_not_hurt_roostd(void **state)
{
    /* 256 KiB of event: more than a pipe holds (so the write meets EPIPE and
     * a SIGPIPE when the hook exits without reading) and more than one
     * environment string may be (so ROOST_EVENT must be left out). */
    size_t n = 256 * 1024;
    char *event = malloc(n + 1);
    struct hook_spec h = sh_hook("echo \"env=${#ROOST_EVENT}\"; exit 0", 5000, 0);
    struct hook_result r;

    (void)state;
    assert_non_null(event);
    memset(event, 'x', n);
    event[0] = '"';
    event[n - 1] = '"';
    event[n] = '\0';
    hook_run(&h, "r", "event", event, "k", &r);
    assert_true(r.ok);
    assert_string_equal(r.output, "env=0\n");
    free(event);
    hook_spec_free(&h);
}

static void exec_hook_output_is_bounded(void **state)
{
    struct hook_spec h = sh_hook("i=0; while [ $i -lt 2000 ]; do "
                                 "echo 0123456789012345678901234567890123456789; i=$((i+1)); done",
                                 10000, 0);
    struct hook_result r;
    const char *marker = "\n[output truncated]\n";

    (void)state;
    hook_run(&h, "r", "event", "{}", "k", &r);
    assert_true(r.ok);
    assert_true(strlen(r.output) < HOOK_OUTPUT_MAX);
    assert_true(strlen(r.output) > HOOK_OUTPUT_MAX - 100);
    assert_string_equal(r.output + strlen(r.output) - strlen(marker), marker);
    hook_spec_free(&h);
}

struct concurrent_run {
    struct hook_spec *h;
    char event[64];
    struct hook_result r;
};

static void *run_one(void *arg)
{
    struct concurrent_run *c = arg;

    hook_run(c->h, "r", "event", c->event, c->event, &c->r);
    return NULL;
}

static void concurrent_exec_hooks_each_get_their_own_event(void **state)
{
    /* Hook workers run hooks in parallel: each child must see EOF on its
     * own stdin (no other child may inherit the write end) and only its
     * own event. */
    struct hook_spec h = sh_hook("cat; echo \"$ROOST_IDEMPOTENCY_KEY\"", 10000, 0);
    struct concurrent_run runs[8];
    pthread_t t[8];

    (void)state;
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 8; i++) {
            runs[i].h = &h;
            snprintf(runs[i].event, sizeof runs[i].event, "{\"n\":%d}", round * 8 + i);
            assert_int_equal(pthread_create(&t[i], NULL, run_one, &runs[i]), 0);
        }
        for (int i = 0; i < 8; i++) {
            char expect[160];
            pthread_join(t[i], NULL);
            snprintf(expect, sizeof expect, "%s\n%s\n", runs[i].event, runs[i].event);
            assert_true(runs[i].r.ok);
            assert_string_equal(runs[i].r.output, expect);
            /* An inherited stdin would hold a child until its timeout. */
            assert_true(runs[i].r.duration_ms < 5000);
        }
    }
    hook_spec_free(&h);
}

static void hook_without_a_program_is_a_failed_result(void **state)
{
    struct hook_spec h;
    struct hook_result r;

    (void)state;
    memset(&h, 0, sizeof h);
    h.timeout_ms = 100;
    hook_run(&h, "r", "event", "{}", "k", &r);
    assert_false(r.ok);
    assert_int_equal(r.attempts, 0);
    assert_string_equal(r.detail, "hook not run: the hook has no program");
    hook_run(NULL, "r", "event", "{}", "k", &r);
    assert_false(r.ok);
    assert_string_equal(r.detail, "hook not run: the hook has no spec");
}

/* ---- http ------------------------------------------------------------------------ */

static void http_hook_2xx_is_success_and_carries_event_key_and_headers(void **state)
{
    struct ths *s = ths_start();
    struct hook_spec h = http_hook(ths_port(s), "/hooks/rollback", 5000, 3);
    struct ths_request req;
    struct hook_result r;
    char expect[256];

    (void)state;
    ths_respond(s, 204, "", 0);
    h.headers[h.nheaders++] = strdup("X-Team: checkout");
    hook_run(&h, "checkout-v2", "rollback", "{\"weight\":0}", "checkout-v2/17", &r);
    assert_true(r.ok);
    assert_int_equal(r.attempts, 1);
    assert_int_equal(r.http_status, 204);
    assert_int_equal(r.exit_status, -1);
    snprintf(expect, sizeof expect, "HTTP 204 from http://127.0.0.1:%d/hooks/rollback in ",
             ths_port(s));
    assert_memory_equal(r.detail, expect, strlen(expect));
    assert_int_equal(ths_count(s), 1);
    assert_true(ths_request(s, 0, &req));
    assert_string_equal(req.method, "POST");
    assert_string_equal(req.path, "/hooks/rollback");
    assert_string_equal(req.idempotency_key, "checkout-v2/17");
    assert_string_equal(req.content_type, "application/json");
    assert_string_equal(req.rollout, "checkout-v2");
    assert_string_equal(req.hook_event, "rollback");
    assert_string_equal(req.x_team, "checkout");
    assert_string_equal(req.body, "{\"weight\":0}");
    hook_spec_free(&h);
    ths_stop(s);
}

static void http_hook_5xx_is_retried_with_the_same_idempotency_key_then_recorded(void **state)
{
    struct ths *s = ths_start();
    struct hook_spec h = http_hook(ths_port(s), "/hook", 5000, 2);
    struct hook_result r;
    struct ths_request req;
    char expect[256];

    (void)state;
    ths_respond(s, 503, "deploy service overloaded\nretry later\n", 0);
    hook_run(&h, "checkout-v2", "rollback", "{}", "checkout-v2/18", &r);
    assert_false(r.ok);
    assert_int_equal(r.attempts, 3);
    assert_int_equal(r.http_status, 503);
    snprintf(expect, sizeof expect,
             "HTTP 503 from http://127.0.0.1:%d/hook after 3 attempts: deploy service overloaded",
             ths_port(s));
    assert_string_equal(r.detail, expect);
    assert_string_equal(r.output, "deploy service overloaded\nretry later\n");
    assert_true(r.duration_ms >= 30); /* backoff 10 + 20 ms */
    assert_int_equal(ths_count(s), 3);
    for (int i = 0; i < 3; i++) {
        assert_true(ths_request(s, i, &req));
        assert_string_equal(req.idempotency_key, "checkout-v2/18");
    }
    hook_spec_free(&h);
    ths_stop(s);
}

static void http_hook_succeeds_after_transient_failures(void **state)
{
    struct ths *s = ths_start();
    struct hook_spec h = http_hook(ths_port(s), "/hook", 5000, 3);
    struct hook_result r;

    (void)state;
    ths_fail_first(s, 2, 502);
    ths_respond(s, 200, "yes", 0);
    hook_run(&h, "r", "confirm-promotion", "{}", "k", &r);
    assert_true(r.ok);
    assert_int_equal(r.attempts, 3);
    assert_int_equal(r.http_status, 200);
    assert_non_null(strstr(r.detail, " after 3 attempts"));
    hook_spec_free(&h);
    ths_stop(s);
}

static void http_hook_timeout_bounds_each_attempt(void **state)
{
    struct ths *s = ths_start();
    struct hook_spec h = http_hook(ths_port(s), "/slow", 200, 1);
    struct hook_result r;
    double start = test_now_s();
    char expect[256];

    (void)state;
    ths_respond(s, 200, "late", 1000);
    hook_run(&h, "r", "rollback", "{}", "k", &r);
    assert_false(r.ok);
    assert_int_equal(r.attempts, 2);
    assert_int_equal(r.http_status, 0);
    assert_true(test_now_s() - start < 1.0);
    snprintf(expect, sizeof expect,
             "no answer from http://127.0.0.1:%d/slow within 200 ms after 2 attempts",
             ths_port(s));
    assert_string_equal(r.detail, expect);
    hook_spec_free(&h);
    ths_stop(s); /* waits for the sleeping handlers */
}

static void http_hook_sends_the_configured_method(void **state)
{
    struct ths *s = ths_start();
    struct hook_spec h = http_hook(ths_port(s), "/hook", 5000, 0);
    struct hook_result r;
    struct ths_request req;

    (void)state;
    free(h.method);
    h.method = strdup("PATCH");
    hook_run(&h, "r", "step", "{\"step\":2}", "k", &r);
    assert_true(r.ok);
    assert_true(ths_request(s, 0, &req));
    assert_string_equal(req.method, "PATCH");
    assert_string_equal(req.body, "{\"step\":2}");
    hook_spec_free(&h);
    ths_stop(s);
}

static void http_hook_to_a_closed_port_says_it_cannot_connect(void **state)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    struct hook_spec h;
    struct hook_result r;
    char expect[128];

    (void)state;
    /* A port that was free a moment ago and has no listener now. */
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    port = ntohs(a.sin_port);
    close(fd);
    h = http_hook(port, "/", 2000, 1);
    hook_run(&h, "r", "rollback", "{}", "k", &r);
    assert_false(r.ok);
    assert_int_equal(r.http_status, 0);
    snprintf(expect, sizeof expect, "cannot call http://127.0.0.1:%d/: ", port);
    assert_memory_equal(r.detail, expect, strlen(expect));
    assert_non_null(strstr(r.detail, "after 2 attempts"));
    hook_spec_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(duration_parse_accepts_documented_forms),
        cmocka_unit_test(duration_parse_rejects_everything_else_and_leaves_output_alone),
        cmocka_unit_test(hook_parse_exec_fills_defaults),
        cmocka_unit_test(hook_parse_http_with_method_headers_timeout_and_retries),
        cmocka_unit_test(hook_event_names_match_the_document),
        cmocka_unit_test(hook_parse_errors_name_the_path_and_what_is_expected),
        cmocka_unit_test(hook_parse_limits_arguments_and_headers),
        cmocka_unit_test(exec_hook_success_reports_exit_0_and_one_attempt),
        cmocka_unit_test(exec_hook_gets_the_event_on_stdin_and_in_the_environment),
        cmocka_unit_test(exec_hook_nonzero_exit_is_retried_then_recorded),
        cmocka_unit_test(exec_hook_that_fails_once_succeeds_on_the_retry),
        cmocka_unit_test(exec_hook_timeout_kills_the_process_group),
        cmocka_unit_test(exec_hook_missing_program_is_reported),
        cmocka_unit_test(exec_hook_that_ignores_a_large_event_does_not_hurt_roostd),
        cmocka_unit_test(exec_hook_output_is_bounded),
        cmocka_unit_test(concurrent_exec_hooks_each_get_their_own_event),
        cmocka_unit_test(hook_without_a_program_is_a_failed_result),
        cmocka_unit_test(http_hook_2xx_is_success_and_carries_event_key_and_headers),
        cmocka_unit_test(http_hook_5xx_is_retried_with_the_same_idempotency_key_then_recorded),
        cmocka_unit_test(http_hook_succeeds_after_transient_failures),
        cmocka_unit_test(http_hook_timeout_bounds_each_attempt),
        cmocka_unit_test(http_hook_sends_the_configured_method),
        cmocka_unit_test(http_hook_to_a_closed_port_says_it_cannot_connect),
    };

    /* roostd ignores SIGPIPE; the test does not, so a SIGPIPE escaping
     * hook_run would kill it. */
    signal(SIGPIPE, SIG_DFL);
    return roost_run_tests("hooks", tests);
}
