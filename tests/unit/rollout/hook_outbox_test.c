/* The rollout controller's hook outbox (server/rollouts.c) on a real LMDB
 * store, with exec hooks as real processes: every hook run a decision
 * schedules is delivered even when the in-memory window is far smaller
 * than the work, and a shutdown leaves the runs it did not start in the
 * store for the next start. Each hook appends its idempotency key to a
 * file, so the file says exactly which runs happened. Every wait is
 * bounded. */
#include <grpc/grpc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "roost/storage/v1/storage.pb-c.h"
#include "server/hub.h"
#include "server/resources.h"
#include "server/rollout/logic.h"
#include "server/rollouts.h"
#include "server/store.h"
#include "testmain.h"
#include "testutil.h"

#define NAME "checkout-v2"
#define NHOOKS 16 /* ROLLOUT_MAX_HOOKS: each decision schedules 16 runs */

struct fixture {
    char dir[512];
    char keys[700]; /* the file the hooks append to */
    struct store *st;
    struct hub *hub;
    struct rollouts *r;
};


/* A pause until promoted, so that nothing but the test's commands moves
 * the rollout; every hook listens to every decision. */
static void put_rollout_spec(struct fixture *f, const char *spec)
{
    Roost__Storage__V1__RolloutRecord rec = ROOST__STORAGE__V1__ROLLOUT_RECORD__INIT;
    Roost__V1__Rollout view = ROOST__V1__ROLLOUT__INIT;
    struct rollout_state rs;
    uint8_t state[ROLLOUT_STATE_ENCODED_MAX];
    size_t slen;
    struct store_txn t;
    roost_error err;

    rollout_state_init(&rs);
    assert_int_equal(rollout_state_encode(&rs, state, sizeof state, &slen, &err), ROOST_OK);
    view.name = NAME;
    view.flag_set = "shop";
    view.service = "checkout";
    view.baseline = "v1";
    view.canary = "v2";
    view.phase = "pending";
    rec.name = NAME;
    rec.flag_set = "shop";
    rec.spec.data = (uint8_t *)spec;
    rec.spec.len = strlen(spec);
    rec.state.data = state;
    rec.state.len = slen;
    rec.view = &view;
    assert_int_equal(store_begin(f->st, true, &t, &err), ROOST_OK);
    assert_int_equal(resources_put_rollout(&t, &rec, &err), ROOST_OK);
    assert_int_equal(store_commit(&t, &err), ROOST_OK);
}

static void put_rollout(struct fixture *f, const char *script)
{
    static char spec[16384];
    size_t n;

    n = (size_t)snprintf(spec, sizeof spec,
                         "{\"service\": \"checkout\", \"baseline\": \"v1\", \"canary\": \"v2\", "
                         "\"steps\": [{\"pause\": {}}, {\"setWeight\": 100}], \"hooks\": [");
    for (int i = 0; i < NHOOKS; i++)
        n += (size_t)snprintf(spec + n, sizeof spec - n,
                              "%s{\"on\": [\"event\"], \"exec\": [\"/bin/sh\", \"-c\", "
                              "\"%s echo \\\"$ROOST_IDEMPOTENCY_KEY\\\" >> %s\"], "
                              "\"retries\": 0}",
                              i ? ", " : "", script, f->keys);
    snprintf(spec + n, sizeof spec - n, "]}");
    put_rollout_spec(f, spec);
}

static void open_fixture(struct fixture *f, const char *script)
{
    const char *base = getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp";
    struct store_options so = {0, 0};
    struct hub_options ho = {HUB_DEFAULT_MAX_LAG, HUB_DEFAULT_KEEPALIVE_S};
    roost_error err;

    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "%s/hook-outbox-XXXXXX", base);
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->keys, sizeof f->keys, "%s/keys", f->dir);
    assert_int_equal(store_open(f->dir, &so, &f->st, &err), ROOST_OK);
    assert_int_equal(hub_create(f->st, &ho, &f->hub, &err), ROOST_OK);
    if (script)
        put_rollout(f, script);
}

static void start_controller(struct fixture *f, size_t window, int64_t drain_ms)
{
    struct rollouts_options o = {.hook_workers = 1,
                                 .settle_ms = 0,
                                 .hook_window = window,
                                 .hook_drain_ms = drain_ms};
    roost_error err;

    assert_int_equal(rollouts_create(f->st, f->hub, &o, &f->r, &err), ROOST_OK);
    assert_int_equal(rollouts_start(f->r, &err), ROOST_OK);
}

static void command(struct fixture *f, const char *cmd)
{
    roost_error err;

    if (rollouts_command(f->r, NAME, cmd, "test", "", &err) != ROOST_OK)
        fail_msg("%s: %s", cmd, err.msg);
}

static void close_fixture(struct fixture *f)
{
    rollouts_destroy(f->r);
    hub_destroy(f->hub);
    store_close(f->st);
}

static uint64_t outbox_rows(struct fixture *f)
{
    struct store_txn t;
    roost_error err;
    uint64_t n;

    assert_int_equal(store_begin(f->st, false, &t, &err), ROOST_OK);
    n = store_table_entries(&t, TBL_HOOK_OUTBOX);
    store_abort(&t);
    return n;
}

/* Decisions in the history: hook results and the rest. */
static void count_decisions(struct fixture *f, size_t *hooks, size_t *others)
{
    Roost__V1__Decision **d;
    size_t n;
    roost_error err;

    assert_int_equal(rollouts_history(f->st, NAME, 10000, 0, &d, &n, &err), ROOST_OK);
    *hooks = *others = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(d[i]->kind, "hook") == 0)
            (*hooks)++;
        else
            (*others)++;
        roost__v1__decision__free_unpacked(d[i], NULL);
    }
    free(d);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lines in the keys file; *dup when a key appears twice. */
static size_t key_lines(struct fixture *f, bool *dup)
{
    char line[512], *keys[1024];
    size_t n = 0;
    FILE *in = fopen(f->keys, "r");

    *dup = false;
    if (!in)
        return 0;
    while (n < 1024 && fgets(line, sizeof line, in))
        keys[n++] = strdup(line);
    fclose(in);
    qsort(keys, n, sizeof keys[0], cmp_str);
    for (size_t i = 1; i < n; i++)
        if (strcmp(keys[i - 1], keys[i]) == 0)
            *dup = true;
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
    return n;
}

/* Waits up to timeout_s until every decision's NHOOKS runs happened once
 * each, were recorded, and left the outbox. */
static void wait_all_delivered(struct fixture *f, double timeout_s)
{
    double deadline = test_now_s() + timeout_s;
    size_t hooks = 0, others = 0, lines = 0;
    uint64_t rows = 0;
    bool dup = false;

    while (test_now_s() < deadline) {
        count_decisions(f, &hooks, &others);
        lines = key_lines(f, &dup);
        rows = outbox_rows(f);
        if (others > 0 && hooks == others * NHOOKS && lines == hooks && rows == 0)
            break;
        test_sleep_ms(100);
    }
    if (!(others > 0 && hooks == others * NHOOKS && lines == hooks && rows == 0))
        fail_msg("after %.0f s: %zu decisions, %zu hook results (want %zu), %zu runs, %llu "
                 "outbox rows",
                 timeout_s, others, hooks, others * NHOOKS, lines, (unsigned long long)rows);
    assert_false(dup);
}

static void full_window_keeps_every_hook_until_a_worker_is_free(void **state)
{
    struct fixture f;

    (void)state;
    open_fixture(&f, "/bin/sleep 0.05;");
    /* Two jobs in memory, one worker, 16 runs per decision: nearly all of
     * them wait in the store. */
    start_controller(&f, 2, -1);
    command(&f, "start");
    command(&f, "abort");
    command(&f, "retry");
    command(&f, "abort");
    assert_true(outbox_rows(&f) > 2);
    wait_all_delivered(&f, 60);
    close_fixture(&f);
}

static void hooks_not_started_at_shutdown_run_at_the_next_start(void **state)
{
    struct fixture f;
    size_t hooks, others, lines;
    bool dup;

    (void)state;
    open_fixture(&f, "/bin/sleep 0.2;");
    /* No drain: a stop starts nothing new. */
    start_controller(&f, 4, 0);
    command(&f, "start");
    rollouts_destroy(f.r);
    f.r = NULL;
    count_decisions(&f, &hooks, &others);
    lines = key_lines(&f, &dup);
    /* At most the one run in flight finished; the rest are still owed. */
    assert_true(lines <= 1);
    assert_int_equal(hooks, lines);
    assert_int_equal(outbox_rows(&f), others * NHOOKS - lines);
    start_controller(&f, 4, 0);
    wait_all_delivered(&f, 60);
    close_fixture(&f);
}

static bool phase_is(struct fixture *f, const char *phase)
{
    Roost__Storage__V1__RolloutRecord *rec = NULL;
    struct store_txn t;
    roost_error err;
    bool is;

    assert_int_equal(store_begin(f->st, false, &t, &err), ROOST_OK);
    assert_int_equal(resources_get_rollout(&t, NAME, &rec, &err), ROOST_OK);
    is = rec->view && strcmp(rec->view->phase, phase) == 0;
    roost__storage__v1__rollout_record__free_unpacked(rec, NULL);
    store_abort(&t);
    return is;
}

/* The gate's yes promotes, and the promotion is recorded before the hook's
 * result: once the row leaves the outbox nothing is owed, so a crash in
 * between can repeat the hook (a second yes finds the rollout promoted),
 * never lose the promotion. */
static void a_confirm_promotion_hook_that_says_yes_promotes(void **state)
{
    static char spec[2048];
    struct fixture f;
    Roost__V1__Decision **d = NULL;
    size_t n = 0;
    uint64_t promoted_at = 0, hook_at = 0;
    double deadline;
    roost_error err;

    (void)state;
    open_fixture(&f, NULL);
    snprintf(spec, sizeof spec,
             "{\"service\": \"checkout\", \"baseline\": \"v1\", \"canary\": \"v2\", "
             "\"steps\": [{\"setWeight\": 50}, {\"setWeight\": 100}], \"promotion\": {\"requireConfirmation\": true}, "
             "\"hooks\": [{\"on\": [\"confirm-promotion\"], \"exec\": [\"/bin/sh\", \"-c\", "
             "\"echo \\\"$ROOST_IDEMPOTENCY_KEY\\\" >> %s\"], \"retries\": 0}]}",
             f.keys);
    put_rollout_spec(&f, spec);
    start_controller(&f, 4, -1);
    command(&f, "start");
    deadline = test_now_s() + 30;
    while (!(phase_is(&f, "promoted") && outbox_rows(&f) == 0) && test_now_s() < deadline)
        test_sleep_ms(50);
    assert_true(phase_is(&f, "promoted"));
    assert_int_equal(outbox_rows(&f), 0);
    assert_int_equal(rollouts_history(f.st, NAME, 1000, 0, &d, &n, &err), ROOST_OK);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(d[i]->kind, "hook") == 0 && strstr(d[i]->summary, "confirm-promotion"))
            hook_at = d[i]->seq;
        if (strcmp(d[i]->actor, "hook") == 0 && strstr(d[i]->summary, "promot"))
            promoted_at = d[i]->seq;
    }
    if (!hook_at || !promoted_at)
        fail_msg("history of %zu decisions lacks the hook's result (%llu) or the promotion (%llu)",
                 n, (unsigned long long)hook_at, (unsigned long long)promoted_at);
    assert_true(promoted_at < hook_at);
    for (size_t i = 0; i < n; i++)
        roost__v1__decision__free_unpacked(d[i], NULL);
    free(d);
    close_fixture(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_window_keeps_every_hook_until_a_worker_is_free),
        cmocka_unit_test(hooks_not_started_at_shutdown_run_at_the_next_start),
        cmocka_unit_test(a_confirm_promotion_hook_that_says_yes_promotes),
    };
    int rc;

    grpc_init();
    rc = roost_run_tests("hook_outbox", tests);
    grpc_shutdown();
    return rc;
}
