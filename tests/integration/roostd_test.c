/* roostd end to end: a real server on loopback, real roostctl, real Sync
 * streams. Covers what issue-level promises say a user will observe:
 * changes reach watchers, restarts lose nothing, kill -9 loses no
 * acknowledged apply, many watchers are served, a stalled one holds back
 * nobody, bad documents and wrong tokens are refused with clear messages. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "roost/v1/roost.pb-c.h"
#include "testmain.h"

static const char flag_doc_fmt[] =
    "{\"flags\": {\"%s\": {\"state\": \"ENABLED\", \"variants\": {\"on\": true, \"off\": false},"
    " \"defaultVariant\": \"%s\"}}%s}";

/* A one-flag document; set NULL = the default flag set. */
static void write_doc(const char *path, const char *key, const char *variant, const char *set)
{
    char meta[256] = "";
    char doc[1024];

    if (set)
        snprintf(meta, sizeof meta, ", \"metadata\": {\"flagSetId\": \"%s\"}", set);
    snprintf(doc, sizeof doc, flag_doc_fmt, key, variant, meta);
    harness_write_file(path, doc);
}

static uint64_t apply(struct roostd_proc *p, const char *path)
{
    char out[4096], err[4096];
    const char *args[] = {"--json", "apply", "-f", path, NULL};
    int rc = roostctl_run(p, out, sizeof out, err, sizeof err, args);

    if (rc != 0)
        fprintf(stderr, "apply %s failed (%d): %s\n", path, rc, err);
    assert_int_equal(rc, 0);
    return harness_json_u64(out, "revision");
}

static uint64_t server_revision(struct roostd_proc *p)
{
    char out[4096];
    const char *args[] = {"--json", "status", NULL};

    assert_int_equal(roostctl_run(p, out, sizeof out, NULL, 0, args), 0);
    return harness_json_u64(out, "revision");
}

/* ---- Sync subscribers ---------------------------------------------- */

struct watcher {
    struct rc_stream *stream;
    uint64_t revision;   /* last revision received */
    int messages;
    int snapshots, changes;
    bool ended;
    grpc_status_code code;
    char message[512];
};

static void subscribe(struct rc_group *g, struct rc_channel *ch, struct watcher *w, uint64_t from)
{
    Roost__V1__SyncRequest req = ROOST__V1__SYNC_REQUEST__INIT;
    uint8_t buf[64];
    roost_error err;

    memset(w, 0, sizeof *w);
    req.revision = from;
    req.client_id = "integration-test";
    assert_int_equal(rc_stream_open(g, ch, "/roost.v1.Sync/Subscribe", buf,
                                    roost__v1__sync_request__pack(&req, buf), w, &w->stream, &err),
                     ROOST_OK);
}

/* Delivers events until every watcher in ws has reached revision `until`
 * (or ended), or timeout_s passes. Returns true when all reached it. */
static bool pump_until(struct rc_group *g, struct watcher *ws, size_t n, uint64_t until,
                       double timeout_s)
{
    double deadline = harness_now() + timeout_s;

    for (;;) {
        bool all = true;
        struct rc_event ev;

        for (size_t i = 0; i < n; i++)
            all = all && (ws[i].ended || (ws[i].messages > 0 && ws[i].revision >= until));
        if (all)
            return true;
        if (harness_now() >= deadline)
            return false;
        rc_group_next(g, deadline - harness_now(), &ev);
        if (ev.type == RC_MESSAGE) {
            struct watcher *w = ev.user;
            Roost__V1__SyncResponse *r = roost__v1__sync_response__unpack(NULL, ev.len, ev.data);
            assert_non_null(r);
            w->messages++;
            if (r->kind_case == ROOST__V1__SYNC_RESPONSE__KIND_SNAPSHOT) {
                w->snapshots++;
                w->revision = r->snapshot->revision;
            } else {
                /* Changes arrive in order, without gaps. */
                assert_int_equal(r->change->revision, w->revision + 1);
                w->changes++;
                w->revision = r->change->revision;
            }
            roost__v1__sync_response__free_unpacked(r, NULL);
            free(ev.data);
        } else if (ev.type == RC_END) {
            struct watcher *w = ev.user;
            w->ended = true;
            w->code = ev.status.code;
            snprintf(w->message, sizeof w->message, "%s", ev.status.message);
        }
    }
}

/* ---- tests ----------------------------------------------------------- */

static void apply_reaches_a_watcher(void **state)
{
    struct roostd_proc p = {0};
    struct rc_channel *ch;
    struct rc_group *g;
    struct watcher w;
    roost_error err;
    char doc[600];
    uint64_t rev;

    (void)state;
    assert_true(roostd_start(&p));
    assert_int_equal(rc_channel_open(p.addr, NULL, &ch, &err), ROOST_OK);
    assert_int_equal(rc_group_new(&g, &err), ROOST_OK);
    subscribe(g, ch, &w, 0);
    assert_true(pump_until(g, &w, 1, 0, 5) && w.snapshots == 1);
    snprintf(doc, sizeof doc, "%s/flags.json", p.data_dir);
    write_doc(doc, "new-checkout", "on", NULL);
    rev = apply(&p, doc);
    assert_int_equal(rev, 1);
    assert_true(pump_until(g, &w, 1, rev, 5));
    assert_int_equal(w.changes, 1);
    rc_group_free(g);
    rc_channel_close(ch);
    assert_int_equal(roostd_stop(&p, SIGTERM), 0);
}

static void restart_keeps_state_and_watch_resumes_after_revision(void **state)
{
    struct roostd_proc p = {0};
    char doc[600], out[8192], err[4096];
    const char *list[] = {"--json", "flag", "list", NULL};
    const char *watch[] = {"watch", "--from-revision", "2", "--count", "3", "--for", "20", NULL};

    (void)state;
    assert_true(roostd_start(&p));
    snprintf(doc, sizeof doc, "%s/flags.json", p.data_dir);
    for (int i = 0; i < 5; i++) {
        char key[32];
        snprintf(key, sizeof key, "flag-%d", i);
        write_doc(doc, key, i % 2 ? "on" : "off", key);
        assert_int_equal(apply(&p, doc), (uint64_t)i + 1);
    }
    assert_int_equal(roostd_stop(&p, SIGTERM), 0);

    assert_true(roostd_start(&p));
    assert_int_equal(server_revision(&p), 5);
    assert_int_equal(roostctl_run(&p, out, sizeof out, err, sizeof err, list), 0);
    for (int i = 0; i < 5; i++) {
        char key[40];
        snprintf(key, sizeof key, "\"flag-%d\"", i);
        assert_non_null(strstr(out, key));
    }
    /* Exactly revisions 3, 4 and 5, as changes, in order. */
    assert_int_equal(roostctl_run(&p, out, sizeof out, err, sizeof err, watch), 0);
    assert_null(strstr(out, "snapshot"));
    assert_non_null(strstr(out, "{\"revision\":3,\"type\":\"change\""));
    assert_non_null(strstr(out, "{\"revision\":4,\"type\":\"change\""));
    assert_non_null(strstr(out, "{\"revision\":5,\"type\":\"change\""));
    assert_null(strstr(out, "\"revision\":2,"));
    assert_true(strstr(out, "\"revision\":3,") < strstr(out, "\"revision\":4,"));
    assert_int_equal(roostd_stop(&p, SIGTERM), 0);
}

struct burst {
    struct roostd_proc *p;
    atomic_int acked;
    uint64_t acked_rev[4096];
    int stop;
};

static void *burst_applier(void *arg)
{
    struct burst *b = arg;
    struct rc_channel *ch;
    roost_error err;

    if (rc_channel_open(b->p->addr, NULL, &ch, &err) != ROOST_OK)
        return NULL;
    for (int i = 0; i < 4096 && !b->stop; i++) {
        Roost__V1__ApplyRequest req = ROOST__V1__APPLY_REQUEST__INIT;
        char doc[600], key[32], meta[80];
        uint8_t *out;
        size_t outlen, len;
        uint8_t *buf;
        struct rc_status st;

        snprintf(key, sizeof key, "burst-%d", i);
        snprintf(meta, sizeof meta, ", \"metadata\": {\"flagSetId\": \"%s\"}", key);
        snprintf(doc, sizeof doc, flag_doc_fmt, key, "on", meta);
        req.document.data = (uint8_t *)doc;
        req.document.len = strlen(doc);
        len = roost__v1__apply_request__get_packed_size(&req);
        buf = malloc(len);
        roost__v1__apply_request__pack(&req, buf);
        rc_unary(ch, "/roost.v1.Admin/Apply", buf, len, 5, &out, &outlen, &st);
        free(buf);
        if (st.code != GRPC_STATUS_OK)
            break;
        Roost__V1__ApplyResponse *r = roost__v1__apply_response__unpack(NULL, outlen, out);
        b->acked_rev[i] = r ? r->revision : 0;
        if (r)
            roost__v1__apply_response__free_unpacked(r, NULL);
        free(out);
        atomic_store(&b->acked, i + 1);
    }
    rc_channel_close(ch);
    return NULL;
}

static void kill_9_mid_burst_loses_no_acknowledged_apply(void **state)
{
    struct roostd_proc p = {0};
    struct burst *b = calloc(1, sizeof *b);
    pthread_t th;
    double deadline;
    int acked;
    char out[1 << 16];
    const char *list[] = {"--json", "flag", "list", NULL};

    (void)state;
    assert_true(roostd_start(&p));
    b->p = &p;
    pthread_create(&th, NULL, burst_applier, b);
    deadline = harness_now() + 30;
    while (atomic_load(&b->acked) < 40 && harness_now() < deadline)
        usleep(1000);
    assert_true(atomic_load(&b->acked) >= 40);
    assert_int_equal(roostd_stop(&p, SIGKILL), 128 + SIGKILL);
    b->stop = 1;
    pthread_join(th, NULL);
    acked = atomic_load(&b->acked);

    assert_true(roostd_start(&p));
    assert_true(server_revision(&p) >= b->acked_rev[acked - 1]);
    assert_int_equal(roostctl_run(&p, out, sizeof out, NULL, 0, list), 0);
    for (int i = 0; i < acked; i++) {
        char key[40];
        snprintf(key, sizeof key, "\"burst-%d\"", i);
        if (!strstr(out, key))
            fail_msg("acknowledged apply %d (revision %llu) is missing after kill -9", i,
                     (unsigned long long)b->acked_rev[i]);
    }
    assert_int_equal(roostd_stop(&p, SIGTERM), 0);
    free(b);
}

static void hundred_watchers_all_see_a_change(void **state)
{
    enum { CHANNELS = 10, PER = 10, N = CHANNELS * PER };
    struct roostd_proc p = {0};
    struct rc_channel *ch[CHANNELS];
    struct watcher *w = calloc(N, sizeof *w);
    struct rc_group *g;
    roost_error err;
    char doc[600];
    uint64_t rev;

    (void)state;
    assert_true(roostd_start(&p));
    assert_int_equal(rc_group_new(&g, &err), ROOST_OK);
    for (int c = 0; c < CHANNELS; c++) {
        assert_int_equal(rc_channel_open(p.addr, NULL, &ch[c], &err), ROOST_OK);
        for (int i = 0; i < PER; i++)
            subscribe(g, ch[c], &w[c * PER + i], 0);
    }
    assert_true(pump_until(g, w, N, 0, 10));
    snprintf(doc, sizeof doc, "%s/flags.json", p.data_dir);
    write_doc(doc, "fanout", "on", NULL);
    rev = apply(&p, doc);
    assert_true(pump_until(g, w, N, rev, 10));
    for (int i = 0; i < N; i++) {
        assert_false(w[i].ended);
        assert_int_equal(w[i].revision, rev);
    }
    rc_group_free(g);
    for (int c = 0; c < CHANNELS; c++)
        rc_channel_close(ch[c]);
    assert_int_equal(roostd_stop(&p, SIGTERM), 0);
    free(w);
}

/* A document with one flag whose variants make it about `kb` KiB, so that a
 * few changes overflow a stalled client's HTTP/2 window. Few variants with
 * long values stay within the engine's variant limit. */
static void write_big_doc(const char *path, int version, int kb)
{
    size_t cap = (size_t)kb * 1024 + 8192, n = 0;
    size_t per = (size_t)kb * 1024 / 100 + 1;
    char *doc = malloc(cap);
    char *pad = malloc(per + 1);

    memset(pad, 'x', per);
    pad[per] = '\0';
    n += (size_t)snprintf(doc + n, cap - n,
                          "{\"flags\": {\"big\": {\"state\": \"ENABLED\", \"defaultVariant\": "
                          "\"v0\", \"variants\": {");
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(doc + n, cap - n, "%s\"v%d\": \"version %d %s\"", i ? ", " : "", i,
                              version, pad);
    snprintf(doc + n, cap - n, "}}}}");
    harness_write_file(path, doc);
    free(pad);
    free(doc);
}

static void stalled_watcher_does_not_delay_the_others(void **state)
{
    struct roostd_proc p = {.extra = {"--subscriber-max-lag", "4", NULL}};
    struct rc_channel *ch;
    struct rc_group *g;
    struct watcher w[5];
    roost_error err;
    char doc[600], watch_out[600];
    pid_t stalled;
    double worst = 0;
    uint64_t rev = 0;

    (void)state;
    assert_true(roostd_start(&p));
    snprintf(doc, sizeof doc, "%s/big.json", p.data_dir);
    snprintf(watch_out, sizeof watch_out, "%s/stalled.out", p.data_dir);

    /* The stalled watcher: a real roostctl watch, stopped with SIGSTOP so
     * it reads nothing. */
    stalled = fork();
    if (stalled == 0) {
        int fd = open(watch_out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 1);
        execl(harness_roostctl_bin, harness_roostctl_bin, "--server", p.addr, "watch", "--for",
              "60", (char *)NULL);
        _exit(127);
    }
    usleep(500 * 1000);
    kill(stalled, SIGSTOP);

    assert_int_equal(rc_channel_open(p.addr, NULL, &ch, &err), ROOST_OK);
    assert_int_equal(rc_group_new(&g, &err), ROOST_OK);
    for (int i = 0; i < 5; i++)
        subscribe(g, ch, &w[i], 0);
    assert_true(pump_until(g, w, 5, 0, 5));
    for (int v = 1; v <= 16; v++) {
        double t0;
        write_big_doc(doc, v, 512);
        rev = apply(&p, doc);
        t0 = harness_now();
        assert_true(pump_until(g, w, 5, rev, 5));
        if (harness_now() - t0 > worst)
            worst = harness_now() - t0;
    }
    print_message("slowest delivery to the healthy watchers while one was stalled: %.1f ms\n",
                  worst * 1e3);
    assert_true(worst < 2.0);

    /* Released, the stalled watcher catches up through a snapshot. */
    kill(stalled, SIGCONT);
    {
        double deadline = harness_now() + 20;
        bool caught_up = false;
        char pat[64];
        snprintf(pat, sizeof pat, "{\"revision\":%llu,\"type\":\"snapshot\"",
                 (unsigned long long)rev);
        while (!caught_up && harness_now() < deadline) {
            FILE *f = fopen(watch_out, "r");
            static char buf[1 << 20];
            size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
            if (f)
                fclose(f);
            buf[n] = '\0';
            caught_up = strstr(buf, pat) != NULL;
            if (!caught_up)
                usleep(100 * 1000);
        }
        assert_true(caught_up);
    }
    kill(stalled, SIGTERM);
    waitpid(stalled, NULL, 0);
    {
        char out[4096];
        const char *args[] = {"--json", "status", NULL};
        assert_int_equal(roostctl_run(&p, out, sizeof out, NULL, 0, args), 0);
        assert_true(harness_json_u64(out, "resyncs") >= 1);
    }
    rc_group_free(g);
    rc_channel_close(ch);
    assert_int_equal(roostd_stop(&p, SIGTERM), 0);
}

struct bad_case {
    const char *name;
    const char *doc;
    const char *expect; /* substring of the error message */
};

static void bad_documents_are_rejected_and_change_nothing(void **state)
{
    static const struct bad_case cases[] = {
        {"invalid JSON", "{\"flags\": {\"a\": {\"state\": \"ENABLED\",, }}}", "line 1"},
        {"unknown top-level key", "{\"flagz\": {}}", "flagz"},
        {"bad flag key",
         "{\"flags\": {\"no spaces\": {\"state\": \"ENABLED\", \"variants\": {\"on\": true}, "
         "\"defaultVariant\": \"on\"}}}",
         "no spaces"},
        {"mixed variant types",
         "{\"flags\": {\"mixed\": {\"state\": \"ENABLED\", \"variants\": {\"on\": true, \"off\": "
         "\"no\"}, \"defaultVariant\": \"on\"}}}",
         "mixed"},
        {"default variant that is not a variant",
         "{\"flags\": {\"dv\": {\"state\": \"ENABLED\", \"variants\": {\"on\": true}, "
         "\"defaultVariant\": \"nope\"}}}",
         "nope"},
        {"unknown key in a flag",
         "{\"flags\": {\"uk\": {\"state\": \"ENABLED\", \"variants\": {\"on\": true}, "
         "\"defaultVariant\": \"on\", \"targetting\": {}}}}",
         "targetting"},
    };
    struct roostd_proc p = {.extra = {"--max-document-bytes", "4096", NULL}};
    char doc[600], out[4096], err[4096];
    uint64_t before;

    (void)state;
    assert_true(roostd_start(&p));
    snprintf(doc, sizeof doc, "%s/flags.json", p.data_dir);
    write_doc(doc, "good", "on", NULL);
    before = apply(&p, doc);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *args[] = {"apply", "-f", doc, NULL};
        harness_write_file(doc, cases[i].doc);
        assert_int_equal(roostctl_run(&p, out, sizeof out, err, sizeof err, args), 1);
        if (!strstr(err, cases[i].expect) || !strstr(err, "flags.json"))
            fail_msg("%s: message '%s' does not name '%s' and the file", cases[i].name, err,
                     cases[i].expect);
        assert_int_equal(server_revision(&p), before);
    }
    {
        /* Over the size limit. */
        const char *args[] = {"apply", "-f", doc, NULL};
        write_big_doc(doc, 1, 8);
        assert_int_equal(roostctl_run(&p, out, sizeof out, err, sizeof err, args), 1);
        assert_non_null(strstr(err, "4096"));
        assert_int_equal(server_revision(&p), before);
    }
    assert_int_equal(roostd_stop(&p, SIGTERM), 0);
}

static void wrong_token_is_unauthenticated(void **state)
{
    struct roostd_proc p = {0};
    char admin[600], sdk[600], wrong[600], out[4096], err[4096];
    struct rc_channel *ch;
    struct rc_group *g;
    struct watcher w;
    roost_error e;

    (void)state;
    harness_tmpdir(p.data_dir, sizeof p.data_dir, "roostd-auth");
    snprintf(admin, sizeof admin, "%s/admin.tokens", p.data_dir);
    snprintf(sdk, sizeof sdk, "%s/sdk.tokens", p.data_dir);
    snprintf(wrong, sizeof wrong, "%s/wrong.token", p.data_dir);
    harness_write_file(admin, "# admins\nalice s3cret-alice\n");
    harness_write_file(sdk, "sdk-token-1\n");
    harness_write_file(wrong, "not-the-token\n");
    p.extra[0] = "--admin-token-file";
    p.extra[1] = admin;
    p.extra[2] = "--sdk-token-file";
    p.extra[3] = sdk;
    assert_true(roostd_start(&p));
    {
        const char *args[] = {"--token-file", wrong, "status", NULL};
        assert_int_equal(roostctl_run(&p, out, sizeof out, err, sizeof err, args), 1);
        assert_non_null(strstr(err, "refused the token"));
    }
    {
        const char *args[] = {"status", NULL};
        assert_int_equal(roostctl_run(&p, out, sizeof out, err, sizeof err, args), 1);
        assert_non_null(strstr(err, "token"));
    }
    {
        const char *args[] = {"--token-file", admin, "status", NULL};
        assert_int_equal(roostctl_run(&p, out, sizeof out, err, sizeof err, args), 0);
    }
    /* Sync with a wrong SDK token ends UNAUTHENTICATED; the right one works. */
    assert_int_equal(rc_group_new(&g, &e), ROOST_OK);
    assert_int_equal(rc_channel_open(p.addr, "wrong", &ch, &e), ROOST_OK);
    subscribe(g, ch, &w, 0);
    pump_until(g, &w, 1, 1, 5);
    assert_true(w.ended);
    assert_int_equal(w.code, GRPC_STATUS_UNAUTHENTICATED);
    rc_channel_close(ch);
    assert_int_equal(rc_channel_open(p.addr, "sdk-token-1", &ch, &e), ROOST_OK);
    subscribe(g, ch, &w, 0);
    assert_true(pump_until(g, &w, 1, 0, 5));
    assert_false(w.ended);
    assert_int_equal(w.snapshots, 1);
    rc_group_free(g);
    rc_channel_close(ch);
    {
        /* Tokens never reach the log. */
        FILE *f = fopen(p.log_file, "r");
        static char log[1 << 16];
        size_t n = fread(log, 1, sizeof log - 1, f);
        fclose(f);
        log[n] = '\0';
        assert_null(strstr(log, "s3cret-alice"));
        assert_null(strstr(log, "not-the-token"));
        assert_null(strstr(log, "sdk-token-1"));
    }
    assert_int_equal(roostd_stop(&p, SIGTERM), 0);
}

static void shutdown_ends_streams_with_unavailable(void **state)
{
    struct roostd_proc p = {0};
    struct rc_channel *ch;
    struct rc_group *g;
    struct watcher w;
    roost_error err;

    (void)state;
    assert_true(roostd_start(&p));
    assert_int_equal(rc_channel_open(p.addr, NULL, &ch, &err), ROOST_OK);
    assert_int_equal(rc_group_new(&g, &err), ROOST_OK);
    subscribe(g, ch, &w, 0);
    assert_true(pump_until(g, &w, 1, 0, 5));
    kill(p.pid, SIGTERM);
    pump_until(g, &w, 1, 1000, 10);
    assert_true(w.ended);
    assert_int_equal(w.code, GRPC_STATUS_UNAVAILABLE);
    if (!strstr(w.message, "shutting down"))
        fail_msg("stream ended with '%s'", w.message);
    assert_int_equal(roostd_stop(&p, SIGTERM), 0);
    rc_group_free(g);
    rc_channel_close(ch);
}

/* SDKs ping idle streams every 30 s; roostd must take pings that often
 * (here every 10 s, three times over) without answering with GOAWAY. */
static void idle_stream_survives_client_keepalive_pings(void **state)
{
    struct roostd_proc p = {0};
    struct rc_channel *ch;
    struct rc_group *g;
    struct watcher w;
    roost_error err;
    char doc[600];
    uint64_t rev;

    (void)state;
    assert_true(roostd_start(&p));
    assert_int_equal(rc_channel_open_keepalive(p.addr, NULL, 10000, &ch, &err), ROOST_OK);
    assert_int_equal(rc_group_new(&g, &err), ROOST_OK);
    subscribe(g, ch, &w, 0);
    assert_true(pump_until(g, &w, 1, 0, 5));
    pump_until(g, &w, 1, 1, 35); /* idle: only pings cross the connection */
    assert_false(w.ended);
    snprintf(doc, sizeof doc, "%s/flags.json", p.data_dir);
    write_doc(doc, "after-idle", "on", NULL);
    rev = apply(&p, doc);
    assert_true(pump_until(g, &w, 1, rev, 5));
    assert_false(w.ended);
    rc_group_free(g);
    rc_channel_close(ch);
    assert_int_equal(roostd_stop(&p, SIGTERM), 0);
}

static void roostctl_says_what_to_do_when_roostd_is_down(void **state)
{
    struct roostd_proc p = {0};
    char out[4096], err[4096];
    const char *args[] = {"status", NULL};
    const char *bad[] = {"frobnicate", NULL};

    (void)state;
    snprintf(p.addr, sizeof p.addr, "127.0.0.1:1");
    assert_int_equal(roostctl_run(&p, out, sizeof out, err, sizeof err, args), 1);
    assert_non_null(strstr(err, "cannot reach roostd at 127.0.0.1:1: is it running?"));
    assert_int_equal(roostctl_run(&p, out, sizeof out, err, sizeof err, bad), 2);
    assert_non_null(strstr(err, "unknown command"));
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(apply_reaches_a_watcher),
        cmocka_unit_test(restart_keeps_state_and_watch_resumes_after_revision),
        cmocka_unit_test(kill_9_mid_burst_loses_no_acknowledged_apply),
        cmocka_unit_test(hundred_watchers_all_see_a_change),
        cmocka_unit_test(stalled_watcher_does_not_delay_the_others),
        cmocka_unit_test(bad_documents_are_rejected_and_change_nothing),
        cmocka_unit_test(wrong_token_is_unauthenticated),
        cmocka_unit_test(shutdown_ends_streams_with_unavailable),
        cmocka_unit_test(idle_stream_survives_client_keepalive_pings),
        cmocka_unit_test(roostctl_says_what_to_do_when_roostd_is_down),
    };

    harness_init(argc, argv);
    grpc_init();
    return roost_run_tests("roostd", tests);
}
