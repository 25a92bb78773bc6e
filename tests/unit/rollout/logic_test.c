/* Rollout decision library: every phase x command, every decision outcome,
 * every check type with pass / fail / inconclusive / no data / error, the
 * analysis limits, gates, the promotion guard, confirmation, stored state
 * and restarts, data requests and decision records.
 *
 * Data here is deterministic: each arm has a request rate and an error
 * rate, and a window of d seconds holds rate x d requests with
 * round(count x error rate) errors (struct traffic). */
#include <cjson/cJSON.h>

#include "harness.h"
#include "server/rollout/logic_internal.h"

#define S 1000LL /* ms per second */

/* ---- deterministic data --------------------------------------------------- */

struct traffic {
    double rps[2];            /* [baseline, canary] requests per second */
    double err[2];            /* error rate */
    double mean[2], sd[2];    /* values, for mean checks (default 1, 0) */
    bool unavailable[2];
    const roost_sketch *sketch[2];
};

static void traffic_fill(const struct traffic *t, const struct rollout_request *q,
                         struct rollout_window *w)
{
    int a = q->arm == ROLLOUT_ARM_CANARY;
    double secs = (double)(q->to_ms - q->from_ms) / 1000.0, n, m, sd;

    memset(w, 0, sizeof *w);
    if (t->unavailable[a]) {
        w->unavailable = true;
        return;
    }
    n = floor(t->rps[a] * secs + 0.5);
    w->count = (uint64_t)n;
    w->successes = w->count - (uint64_t)floor(n * t->err[a] + 0.5);
    m = t->mean[a] != 0 ? t->mean[a] : 1.0;
    sd = t->sd[a];
    w->sum = n * m;
    w->sum_squares = n * (m * m + sd * sd * (n > 1 ? (n - 1) / n : 0));
    w->sketch = t->sketch[a];
}

static struct traffic healthy(void)
{
    struct traffic t = {{90, 10}, {0.005, 0.005}, {0, 0}, {0, 0}, {false, false}, {NULL, NULL}};
    return t;
}

/* One decision at now with the given data and probe states. */
static struct rollout_decision *decide(const struct rollout_spec *spec, struct rollout_state *st,
                                       int64_t now, const struct traffic *t,
                                       const struct rollout_signals *sig)
{
    static struct rollout_decision d;
    struct rollout_request reqs[ROLLOUT_MAX_REQUESTS];
    struct rollout_window res[ROLLOUT_MAX_REQUESTS];
    struct rollout_state next;
    roost_error err = {0};
    size_t n = rollout_data_needed(spec, st, now, reqs, ROLLOUT_MAX_REQUESTS, &err);

    if (n == (size_t)-1)
        fail_msg("data_needed: %s", err.msg);
    for (size_t i = 0; i < n; i++)
        traffic_fill(t, &reqs[i], &res[i]);
    if (rollout_decide(spec, st, now, res, n, sig, &next, &d, &err) != ROOST_OK)
        fail_msg("decide: %s", err.msg);
    if (d.event == ROLLOUT_EV_NONE) {
        assert_memory_equal(&next, st, sizeof next);
        assert_int_equal(d.record_len, 0);
    } else {
        assert_int_equal(next.seq, st->seq + 1);
        assert_int_equal(d.record_len, strlen(d.record));
        assert_true(d.hooks & HOOK_EVENT);
    }
    *st = next;
    return &d;
}

/* Decides until nothing is left to do at now; returns the last decision
 * with a record (or the final NONE when there was none). */
static struct rollout_decision *settle(const struct rollout_spec *spec, struct rollout_state *st,
                                       int64_t now, const struct traffic *t,
                                       const struct rollout_signals *sig)
{
    static struct rollout_decision last;
    bool any = false;
    for (int i = 0; i < 50; i++) {
        struct rollout_decision *d = decide(spec, st, now, t, sig);
        if (d->event == ROLLOUT_EV_NONE) {
            if (!any)
                last = *d;
            return &last;
        }
        last = *d;
        any = true;
    }
    fail_msg("no quiet point after 50 decisions");
    return NULL;
}

/* Runs virtual time from *now to until, waking when the library says. */
static struct rollout_decision *run_until(const struct rollout_spec *spec, struct rollout_state *st,
                                          int64_t *now, int64_t until, const struct traffic *t,
                                          const struct rollout_signals *sig)
{
    static struct rollout_decision last;
    last.event = ROLLOUT_EV_NONE;
    for (;;) {
        struct rollout_decision *d = settle(spec, st, *now, t, sig);
        int64_t w;
        if (d->event != ROLLOUT_EV_NONE)
            last = *d;
        w = rollout_next_wakeup(spec, st, *now);
        if (w > until || w == ROLLOUT_NEVER) {
            *now = until;
            return &last;
        }
        assert_true(w > *now);
        *now = w;
    }
}

static struct rollout_decision *command(const struct rollout_spec *spec, struct rollout_state *st,
                                        enum rollout_command c, int64_t now)
{
    static struct rollout_decision d;
    struct rollout_state next;
    roost_error err = {0};
    if (rollout_command(spec, st, c, "alice", now, &next, &d, &err) != ROOST_OK)
        fail_msg("%s: %s", rollout_command_name(c), err.msg);
    assert_int_equal(next.seq, st->seq + 1);
    *st = next;
    return &d;
}

static void command_refused(const struct rollout_spec *spec, const struct rollout_state *st,
                            enum rollout_command c, const char *says)
{
    struct rollout_decision d;
    struct rollout_state next;
    roost_error err = {0};
    memset(&next, 0x77, sizeof next);
    assert_int_equal(rollout_command(spec, st, c, "alice", T0, &next, &d, &err), ROOST_ECONFLICT);
    if (!strstr(err.msg, says))
        fail_msg("%s: message \"%s\" does not say \"%s\"", rollout_command_name(c), err.msg, says);
    assert_int_equal(((unsigned char *)&next)[0], 0x77);
}

static void assert_says(const char *text, const char *needle)
{
    if (!strstr(text, needle))
        fail_msg("\"%s\" does not say \"%s\"", text, needle);
}

/* ---- specs used below ---------------------------------------------------- */

/* setWeight 10, analysis (2 runs), setWeight 100; one threshold check. */
#define BASIC_CHECKS                                                                       \
    "\"metrics\": [{\"name\": \"error-rate\", \"type\": \"threshold\", \"stat\": \"error_rate\", " \
    "\"max\": 0.02}]"

static struct rollout_spec *basic_spec(const char *analysis_extra, const char *top_extra)
{
    char doc[4096];
    snprintf(doc, sizeof doc,
             "{\"service\": \"checkout\", \"baseline\": \"v1\", \"canary\": \"v2\","
             " \"steps\": [{\"setWeight\": 10}, {\"analysis\": {\"count\": 2}}, {\"setWeight\": 100}],"
             " \"analysis\": {\"interval\": \"10s\", %s%s}%s%s}",
             BASIC_CHECKS, analysis_extra ? analysis_extra : "", top_extra ? ", " : "",
             top_extra ? top_extra : "");
    return spec_parse_ok(doc);
}

/* A spec with one check (JSON) and the given analysis limits. */
static struct rollout_spec *check_spec(const char *check, const char *limits)
{
    char doc[4096];
    snprintf(doc, sizeof doc,
             "{\"service\": \"checkout\", \"baseline\": \"v1\", \"canary\": \"v2\","
             " \"steps\": [{\"setWeight\": 10}, {\"analysis\": {\"count\": 3}}, {\"setWeight\": 100}],"
             " \"analysis\": {\"interval\": \"10s\"%s%s, \"metrics\": [%s]}}",
             limits ? ", " : "", limits ? limits : "", check);
    return spec_parse_ok(doc);
}

/* Started and settled at T0: weight 10, inside the analysis step. */
static struct rollout_state started(const struct rollout_spec *spec)
{
    struct rollout_state st;
    struct traffic t = healthy();
    rollout_state_init(&st);
    command(spec, &st, ROLLOUT_CMD_START, T0);
    settle(spec, &st, T0, &t, NULL);
    return st;
}

/* ---- commands in every phase -------------------------------------------- */

enum fixture_phase { F_PENDING, F_PROGRESSING, F_PAUSED_HUMAN, F_PAUSED_STEP, F_PAUSED_CONFIRM,
                     F_PAUSED_GATE, F_PROMOTED, F_ROLLED_BACK, F_COUNT };

static const char *const fixture_names[] = {"pending", "progressing", "paused(human)", "paused(step)",
                                            "paused(confirmation)", "paused(gate)", "promoted",
                                            "rolled_back"};

/* Spec: setWeight 10, analysis 1 run, pause {}, setWeight 100, with
 * requireConfirmation and a gate on payments-db. */
static struct rollout_spec *phase_spec(void)
{
    return spec_parse_ok(
        "{\"service\": \"checkout\", \"baseline\": \"v1\", \"canary\": \"v2\","
        " \"steps\": [{\"setWeight\": 10}, {\"analysis\": {\"count\": 1}}, {\"pause\": {}}, {\"setWeight\": 100}],"
        " \"analysis\": {\"interval\": \"10s\", " BASIC_CHECKS "},"
        " \"promotion\": {\"requireConfirmation\": true},"
        " \"gates\": {\"probes\": [\"payments-db\"]}}");
}

static struct rollout_state fixture(const struct rollout_spec *spec, enum fixture_phase f)
{
    struct rollout_state st;
    struct traffic t = healthy();
    struct rollout_probe_signal down = {"payments-db", ROLLOUT_PROBE_DOWN};
    struct rollout_signals sig = {&down, 1};
    int64_t now = T0;

    rollout_state_init(&st);
    if (f == F_PENDING)
        return st;
    command(spec, &st, ROLLOUT_CMD_START, T0);
    settle(spec, &st, T0, &t, NULL);
    switch (f) {
    case F_PROGRESSING:
        break;
    case F_PAUSED_HUMAN:
        command(spec, &st, ROLLOUT_CMD_PAUSE, T0);
        break;
    case F_PAUSED_STEP:
        run_until(spec, &st, &now, T0 + 10 * S, &t, NULL);
        assert_int_equal(st.pause_reason, ROLLOUT_PAUSE_STEP);
        break;
    case F_PAUSED_CONFIRM:
        run_until(spec, &st, &now, T0 + 10 * S, &t, NULL);
        command(spec, &st, ROLLOUT_CMD_PROMOTE, now);
        settle(spec, &st, now, &t, NULL);
        assert_int_equal(st.pause_reason, ROLLOUT_PAUSE_CONFIRMATION);
        break;
    case F_PAUSED_GATE:
        settle(spec, &st, T0, &t, &sig);
        assert_int_equal(st.pause_reason, ROLLOUT_PAUSE_GATE);
        break;
    case F_PROMOTED:
        run_until(spec, &st, &now, T0 + 10 * S, &t, NULL);
        command(spec, &st, ROLLOUT_CMD_PROMOTE, now);
        settle(spec, &st, now, &t, NULL);
        command(spec, &st, ROLLOUT_CMD_PROMOTE, now);
        break;
    case F_ROLLED_BACK:
        command(spec, &st, ROLLOUT_CMD_ABORT, T0);
        break;
    default:
        break;
    }
    return st;
}

struct cmd_case {
    enum rollout_command cmd;
    enum fixture_phase from;
    bool ok;
    enum rollout_phase to; /* when ok */
    const char *says;      /* when refused */
};

static void run_cmd_cases(const struct cmd_case *cases, size_t n)
{
    struct rollout_spec *spec = phase_spec();
    for (size_t i = 0; i < n; i++) {
        struct rollout_state st = fixture(spec, cases[i].from);
        if (cases[i].ok) {
            struct rollout_decision *d = command(spec, &st, cases[i].cmd, T0 + 20 * S);
            if (st.phase != cases[i].to)
                fail_msg("%s from %s: phase %s, want %s", rollout_command_name(cases[i].cmd),
                         fixture_names[cases[i].from], rollout_phase_name(st.phase),
                         rollout_phase_name(cases[i].to));
            assert_non_null(strstr(d->record, "\"by\":\"alice\""));
        } else {
            command_refused(spec, &st, cases[i].cmd, cases[i].says);
        }
    }
    spec_release(spec);
}

static void start_only_starts_a_pending_rollout(void **state)
{
    static const struct cmd_case cases[] = {
        {ROLLOUT_CMD_START, F_PENDING, true, ROLLOUT_PROGRESSING, NULL},
        {ROLLOUT_CMD_START, F_PROGRESSING, false, 0, "checkout-v2 is progressing at step 1 of 4; it has already started"},
        {ROLLOUT_CMD_START, F_PAUSED_HUMAN, false, 0, "it has already started"},
        {ROLLOUT_CMD_START, F_PAUSED_STEP, false, 0, "it has already started"},
        {ROLLOUT_CMD_START, F_PAUSED_CONFIRM, false, 0, "it has already started"},
        {ROLLOUT_CMD_START, F_PAUSED_GATE, false, 0, "it has already started"},
        {ROLLOUT_CMD_START, F_PROMOTED, false, 0, "checkout-v2 is promoted; apply a new canary version"},
        {ROLLOUT_CMD_START, F_ROLLED_BACK, false, 0, "checkout-v2 is rolled back; use retry"},
    };
    (void)state;
    run_cmd_cases(cases, sizeof cases / sizeof cases[0]);
}

static void pause_holds_a_running_rollout(void **state)
{
    static const struct cmd_case cases[] = {
        {ROLLOUT_CMD_PAUSE, F_PENDING, false, 0, "checkout-v2 is pending (not started); nothing to pause"},
        {ROLLOUT_CMD_PAUSE, F_PROGRESSING, true, ROLLOUT_PAUSED, NULL},
        {ROLLOUT_CMD_PAUSE, F_PAUSED_HUMAN, false, 0, "checkout-v2 is already paused at step 1 (human: alice)"},
        {ROLLOUT_CMD_PAUSE, F_PAUSED_STEP, false, 0, "is already paused at step 2 (step)"},
        {ROLLOUT_CMD_PAUSE, F_PAUSED_CONFIRM, false, 0, "is already paused at step 4 (confirmation)"},
        {ROLLOUT_CMD_PAUSE, F_PAUSED_GATE, true, ROLLOUT_PAUSED, NULL},
        {ROLLOUT_CMD_PAUSE, F_PROMOTED, false, 0, "checkout-v2 is promoted; nothing to pause"},
        {ROLLOUT_CMD_PAUSE, F_ROLLED_BACK, false, 0, "checkout-v2 is rolled back; nothing to pause"},
    };
    (void)state;
    run_cmd_cases(cases, sizeof cases / sizeof cases[0]);
}

static void resume_continues_a_paused_step(void **state)
{
    static const struct cmd_case cases[] = {
        {ROLLOUT_CMD_RESUME, F_PENDING, false, 0, "checkout-v2 is pending (not started); start it first"},
        {ROLLOUT_CMD_RESUME, F_PROGRESSING, false, 0, "it is not paused"},
        {ROLLOUT_CMD_RESUME, F_PAUSED_HUMAN, true, ROLLOUT_PROGRESSING, NULL},
        {ROLLOUT_CMD_RESUME, F_PAUSED_STEP, false, 0, "checkout-v2 waits at step 2 (pause until promoted): promote it to continue"},
        {ROLLOUT_CMD_RESUME, F_PAUSED_CONFIRM, false, 0, "waits for promotion to be confirmed: promote it to confirm, or abort it"},
        {ROLLOUT_CMD_RESUME, F_PAUSED_GATE, true, ROLLOUT_PROGRESSING, NULL},
        {ROLLOUT_CMD_RESUME, F_PROMOTED, false, 0, "checkout-v2 is promoted; nothing to resume"},
        {ROLLOUT_CMD_RESUME, F_ROLLED_BACK, false, 0, "use retry to start it again"},
    };
    (void)state;
    run_cmd_cases(cases, sizeof cases / sizeof cases[0]);
}

static void promote_ends_the_current_step(void **state)
{
    static const struct cmd_case cases[] = {
        {ROLLOUT_CMD_PROMOTE, F_PENDING, false, 0, "checkout-v2 is pending (not started); start it first"},
        {ROLLOUT_CMD_PROMOTE, F_PROGRESSING, true, ROLLOUT_PROGRESSING, NULL},
        {ROLLOUT_CMD_PROMOTE, F_PAUSED_HUMAN, true, ROLLOUT_PROGRESSING, NULL},
        {ROLLOUT_CMD_PROMOTE, F_PAUSED_STEP, true, ROLLOUT_PROGRESSING, NULL},
        {ROLLOUT_CMD_PROMOTE, F_PAUSED_CONFIRM, true, ROLLOUT_PROMOTED, NULL},
        {ROLLOUT_CMD_PROMOTE, F_PAUSED_GATE, true, ROLLOUT_PROGRESSING, NULL},
        {ROLLOUT_CMD_PROMOTE, F_PROMOTED, false, 0, "checkout-v2 is promoted; it is already promoted"},
        {ROLLOUT_CMD_PROMOTE, F_ROLLED_BACK, false, 0, "checkout-v2 is rolled back; use retry"},
    };
    (void)state;
    run_cmd_cases(cases, sizeof cases / sizeof cases[0]);
}

static void abort_rolls_back_a_running_rollout(void **state)
{
    static const struct cmd_case cases[] = {
        {ROLLOUT_CMD_ABORT, F_PENDING, false, 0, "checkout-v2 is pending (not started); nothing to abort"},
        {ROLLOUT_CMD_ABORT, F_PROGRESSING, true, ROLLOUT_ROLLED_BACK, NULL},
        {ROLLOUT_CMD_ABORT, F_PAUSED_HUMAN, true, ROLLOUT_ROLLED_BACK, NULL},
        {ROLLOUT_CMD_ABORT, F_PAUSED_STEP, true, ROLLOUT_ROLLED_BACK, NULL},
        {ROLLOUT_CMD_ABORT, F_PAUSED_CONFIRM, true, ROLLOUT_ROLLED_BACK, NULL},
        {ROLLOUT_CMD_ABORT, F_PAUSED_GATE, true, ROLLOUT_ROLLED_BACK, NULL},
        {ROLLOUT_CMD_ABORT, F_PROMOTED, false, 0, "checkout-v2 is promoted; nothing to abort"},
        {ROLLOUT_CMD_ABORT, F_ROLLED_BACK, false, 0, "checkout-v2 is already rolled back; nothing to abort"},
    };
    (void)state;
    run_cmd_cases(cases, sizeof cases / sizeof cases[0]);
}

static void retry_restarts_only_a_rolled_back_rollout(void **state)
{
    static const struct cmd_case cases[] = {
        {ROLLOUT_CMD_RETRY, F_PENDING, false, 0, "only a rolled-back rollout can be retried; checkout-v2 is pending"},
        {ROLLOUT_CMD_RETRY, F_PROGRESSING, false, 0, "only a rolled-back rollout can be retried; checkout-v2 is progressing"},
        {ROLLOUT_CMD_RETRY, F_PAUSED_HUMAN, false, 0, "can be retried; checkout-v2 is paused"},
        {ROLLOUT_CMD_RETRY, F_PAUSED_STEP, false, 0, "can be retried"},
        {ROLLOUT_CMD_RETRY, F_PAUSED_CONFIRM, false, 0, "can be retried"},
        {ROLLOUT_CMD_RETRY, F_PAUSED_GATE, false, 0, "can be retried"},
        {ROLLOUT_CMD_RETRY, F_PROMOTED, false, 0, "checkout-v2 is promoted"},
        {ROLLOUT_CMD_RETRY, F_ROLLED_BACK, true, ROLLOUT_PROGRESSING, NULL},
    };
    (void)state;
    run_cmd_cases(cases, sizeof cases / sizeof cases[0]);
}

static void start_records_the_actor_and_runs_pre_rollout_hooks(void **state)
{
    struct rollout_spec *spec = basic_spec(NULL, NULL);
    struct rollout_state st;
    struct rollout_decision *d;
    (void)state;
    rollout_state_init(&st);
    d = command(spec, &st, ROLLOUT_CMD_START, T0);
    assert_int_equal(d->event, ROLLOUT_EV_STARTED);
    assert_int_equal(st.attempt, 1);
    assert_int_equal(st.weight, 0);
    assert_true(d->hooks & HOOK_PRE_ROLLOUT);
    assert_says(d->record, "\"by\":\"alice\"");
    assert_says(d->record, "\"event\":\"started\"");
    spec_release(spec);
}

static void retry_starts_a_new_attempt_from_step_zero(void **state)
{
    struct rollout_spec *spec = basic_spec(NULL, NULL);
    struct rollout_state st = started(spec);
    struct traffic t = healthy();
    (void)state;
    command(spec, &st, ROLLOUT_CMD_ABORT, T0 + 5 * S);
    command(spec, &st, ROLLOUT_CMD_RETRY, T0 + 60 * S);
    assert_int_equal(st.attempt, 2);
    assert_int_equal(st.step, 0);
    assert_int_equal(st.weight, 0);
    assert_int_equal(st.end_reason, ROLLOUT_END_NONE);
    settle(spec, &st, T0 + 60 * S, &t, NULL);
    assert_int_equal(st.weight, 10);
    assert_int_equal(st.next_analysis_ms, T0 + 70 * S);
    spec_release(spec);
}

static void command_names_parse_back(void **state)
{
    enum rollout_command c;
    (void)state;
    for (int i = ROLLOUT_CMD_START; i <= ROLLOUT_CMD_RETRY; i++) {
        assert_true(rollout_command_parse(rollout_command_name((enum rollout_command)i), &c));
        assert_int_equal(c, i);
    }
    assert_false(rollout_command_parse("rollback", &c));
}

/* ---- decisions ----------------------------------------------------------- */

static void nothing_happens_before_the_analysis_is_due(void **state)
{
    struct rollout_spec *spec = basic_spec(NULL, NULL);
    struct rollout_state st = started(spec), before = st;
    struct traffic t = healthy();
    struct rollout_decision *d;
    (void)state;
    d = decide(spec, &st, T0 + 9999, &t, NULL);
    assert_int_equal(d->event, ROLLOUT_EV_NONE);
    assert_memory_equal(&st, &before, sizeof st);
    assert_int_equal(rollout_next_wakeup(spec, &st, T0 + 9999), T0 + 10 * S);
    spec_release(spec);
}

static void set_weight_step_changes_the_weight_and_moves_on(void **state)
{
    struct rollout_spec *spec = basic_spec(NULL, NULL);
    struct rollout_state st;
    struct traffic t = healthy();
    struct rollout_decision *d;
    (void)state;
    rollout_state_init(&st);
    command(spec, &st, ROLLOUT_CMD_START, T0);
    d = decide(spec, &st, T0, &t, NULL);
    assert_int_equal(d->event, ROLLOUT_EV_WEIGHT);
    assert_int_equal(d->weight_from, 0);
    assert_int_equal(d->weight_to, 10);
    assert_int_equal(st.weight, 10);
    assert_int_equal(st.weight_since_ms, T0);
    assert_int_equal(st.step, 1);
    assert_false(st.step_entered);
    assert_true(d->hooks & HOOK_STEP);
    assert_says(d->summary, "step 0 setWeight 10: weight 0 -> 10");
    d = decide(spec, &st, T0, &t, NULL);
    assert_int_equal(d->event, ROLLOUT_EV_STEP);
    assert_true(st.step_entered);
    assert_int_equal(st.next_analysis_ms, T0 + 10 * S);
    assert_says(d->summary, "step 1 analysis: 2 passed runs, one every 10s");
    spec_release(spec);
}

static void analysis_pass_counts_toward_the_step(void **state)
{
    struct rollout_spec *spec = basic_spec(NULL, NULL);
    struct rollout_state st = started(spec);
    struct traffic t = healthy();
    struct rollout_decision *d;
    (void)state;
    d = decide(spec, &st, T0 + 10 * S, &t, NULL);
    assert_int_equal(d->event, ROLLOUT_EV_ANALYSIS);
    assert_int_equal(d->verdict, ROLLOUT_VERDICT_PASSED);
    assert_false(d->step_done);
    assert_int_equal(st.passed, 1);
    assert_int_equal(st.runs, 1);
    assert_int_equal(st.next_analysis_ms, T0 + 20 * S);
    assert_int_equal(d->checks[0].from_ms, T0);
    assert_int_equal(d->checks[0].to_ms, T0 + 10 * S);
    d = decide(spec, &st, T0 + 20 * S, &t, NULL);
    assert_true(d->step_done);
    assert_int_equal(st.step, 2);
    assert_false(st.step_entered);
    assert_says(d->summary, "step 1 done");
    spec_release(spec);
}

static void healthy_rollout_reaches_promoted_with_max_weight(void **state)
{
    struct rollout_spec *spec = basic_spec(NULL, NULL);
    struct rollout_state st = started(spec);
    struct traffic t = healthy();
    struct rollout_decision *d;
    int64_t now = T0;
    (void)state;
    d = run_until(spec, &st, &now, T0 + 60 * S, &t, NULL);
    assert_int_equal(st.phase, ROLLOUT_PROMOTED);
    assert_int_equal(st.weight, 100);
    assert_int_equal(d->event, ROLLOUT_EV_PROMOTED);
    assert_true(d->hooks & HOOK_PROMOTION);
    assert_int_equal(rollout_next_wakeup(spec, &st, now), ROLLOUT_NEVER);
    assert_int_equal(decide(spec, &st, now + 3600 * S, &t, NULL)->event, ROLLOUT_EV_NONE);
    spec_release(spec);
}

static void rollback_sets_weight_zero_before_hooks(void **state)
{
    struct rollout_spec *spec = basic_spec(NULL, NULL);
    struct rollout_state st = started(spec);
    struct traffic t = healthy();
    struct rollout_decision *d;
    (void)state;
    t.err[1] = 0.10;
    d = decide(spec, &st, T0 + 10 * S, &t, NULL);
    assert_int_equal(d->event, ROLLOUT_EV_ROLLED_BACK);
    /* The state that the controller commits with this record already has
     * weight 0; the rollback hook is only requested, to run after. */
    assert_int_equal(st.weight, 0);
    assert_int_equal(d->weight_from, 10);
    assert_int_equal(d->weight_to, 0);
    assert_true(d->hooks & HOOK_ROLLBACK);
    assert_int_equal(st.phase, ROLLOUT_ROLLED_BACK);
    assert_int_equal(st.end_reason, ROLLOUT_END_ANALYSIS);
    assert_string_equal(st.detail, "error-rate");
    assert_true(d->has_analysis);
    assert_says(d->summary, "rolled back: weight 10 -> 0: analysis failed (1 failed run, failureLimit 0): "
                            "error-rate 0.1 > 0.02 (canary 10 / 100)");
    spec_release(spec);
}

static void failure_limit_tolerates_that_many_failed_runs(void **state)
{
    struct rollout_spec *spec = basic_spec(", \"failureLimit\": 1", NULL);
    struct rollout_state st = started(spec);
    struct traffic bad = healthy(), good = healthy();
    struct rollout_decision *d;
    (void)state;
    bad.err[1] = 0.10;
    d = decide(spec, &st, T0 + 10 * S, &bad, NULL);
    assert_int_equal(d->event, ROLLOUT_EV_ANALYSIS);
    assert_int_equal(d->verdict, ROLLOUT_VERDICT_FAILED);
    assert_int_equal(st.failures, 1);
    assert_int_equal(st.phase, ROLLOUT_PROGRESSING);
    /* A failed run does not count toward the passed runs the step needs. */
    d = decide(spec, &st, T0 + 20 * S, &good, NULL);
    assert_int_equal(st.passed, 1);
    assert_false(d->step_done);
    d = decide(spec, &st, T0 + 30 * S, &bad, NULL);
    assert_int_equal(d->event, ROLLOUT_EV_ROLLED_BACK);
    assert_says(d->summary, "2 failed runs, failureLimit 1");
    spec_release(spec);
}

static void unreadable_data_aborts_after_consecutive_error_limit(void **state)
{
    struct rollout_spec *spec = basic_spec(", \"consecutiveErrorLimit\": 2", NULL);
    struct rollout_state st = started(spec);
    struct traffic t = healthy(), good = healthy();
    struct rollout_decision *d;
    (void)state;
    t.unavailable[1] = true;
    d = decide(spec, &st, T0 + 10 * S, &t, NULL);
    assert_int_equal(d->verdict, ROLLOUT_VERDICT_ERROR);
    assert_int_equal(st.consecutive_errors, 1);
    assert_says(d->checks[0].text, "could not be read");
    /* A judged run breaks the series. */
    decide(spec, &st, T0 + 20 * S, &good, NULL);
    assert_int_equal(st.consecutive_errors, 0);
    spec_release(spec);

    spec = basic_spec(", \"consecutiveErrorLimit\": 2", NULL);
    st = started(spec);
    decide(spec, &st, T0 + 10 * S, &t, NULL);
    decide(spec, &st, T0 + 20 * S, &t, NULL);
    assert_int_equal(st.phase, ROLLOUT_PROGRESSING);
    d = decide(spec, &st, T0 + 30 * S, &t, NULL);
    assert_int_equal(d->event, ROLLOUT_EV_ROLLED_BACK);
    assert_int_equal(st.end_reason, ROLLOUT_END_ERRORS);
    assert_int_equal(st.weight, 0);
    assert_says(d->summary, "could not be read in 3 runs in a row (consecutiveErrorLimit 2)");
    spec_release(spec);
}

static void inconclusive_runs_pause_after_the_limit(void **state)
{
    struct rollout_spec *spec = basic_spec(", \"inconclusiveLimit\": 1", NULL);
    struct rollout_state st = started(spec);
    struct traffic few = healthy();
    struct rollout_decision *d;
    (void)state;
    few.rps[1] = 5; /* 50 per interval, minSamples 100 */
    d = decide(spec, &st, T0 + 10 * S, &few, NULL);
    assert_int_equal(d->verdict, ROLLOUT_VERDICT_INCONCLUSIVE);
    assert_says(d->checks[0].text, "50 canary samples, needs 100");
    d = decide(spec, &st, T0 + 20 * S, &few, NULL);
    assert_int_equal(d->event, ROLLOUT_EV_PAUSED);
    assert_int_equal(st.phase, ROLLOUT_PAUSED);
    assert_int_equal(st.pause_reason, ROLLOUT_PAUSE_INCONCLUSIVE);
    assert_int_equal(st.weight, 10);
    assert_says(d->summary, "2 inconclusive runs (inconclusiveLimit 1)");
    /* A person's resume gives the step inconclusiveLimit more. */
    command(spec, &st, ROLLOUT_CMD_RESUME, T0 + 25 * S);
    assert_int_equal(st.inconclusive, 0);
    assert_int_equal(st.next_analysis_ms, T0 + 35 * S);
    d = decide(spec, &st, T0 + 35 * S, &few, NULL);
    assert_int_equal(d->event, ROLLOUT_EV_ANALYSIS);
    spec_release(spec);
}

static void no_traffic_pauses_instead_of_failing(void **state)
{
    struct rollout_spec *spec = basic_spec(NULL, NULL);
    struct rollout_state st = started(spec);
    struct traffic none = healthy();
    struct rollout_decision *d = NULL;
    (void)state;
    none.rps[1] = 0;
    for (int i = 1; i <= 7; i++)
        d = decide(spec, &st, T0 + i * 10 * S, &none, NULL);
    assert_int_equal(d->event, ROLLOUT_EV_PAUSED);
    assert_int_equal(st.pause_reason, ROLLOUT_PAUSE_NO_DATA);
    assert_int_equal(st.failures, 0);
    assert_int_equal(st.weight, 10);
    assert_says(d->summary, "no canary traffic in 7 runs (inconclusiveLimit 6)");
    assert_says(d->record, "\"reason\":\"no_data\"");
    spec_release(spec);
}

static void timed_pause_waits_its_duration(void **state)
{
    struct rollout_spec *spec = spec_parse_ok(
        "{\"service\": \"s\", \"baseline\": \"v1\", \"canary\": \"v2\","
        " \"steps\": [{\"setWeight\": 10}, {\"pause\": {\"duration\": \"2m\"}}, {\"setWeight\": 100}]}");
    struct rollout_state st;
    struct traffic t = healthy();
    struct rollout_decision *d;
    (void)state;
    rollout_state_init(&st);
    command(spec, &st, ROLLOUT_CMD_START, T0);
    d = settle(spec, &st, T0, &t, NULL);
    assert_int_equal(d->event, ROLLOUT_EV_STEP);
    assert_says(d->summary, "step 1 pause 2m");
    assert_int_equal(st.phase, ROLLOUT_PROGRESSING);
    assert_int_equal(st.pause_until_ms, T0 + 120 * S);
    assert_int_equal(rollout_next_wakeup(spec, &st, T0), T0 + 120 * S);
    assert_int_equal(decide(spec, &st, T0 + 119 * S, &t, NULL)->event, ROLLOUT_EV_NONE);
    d = decide(spec, &st, T0 + 120 * S, &t, NULL);
    assert_int_equal(d->event, ROLLOUT_EV_WEIGHT);
    assert_int_equal(st.weight, 100);
    spec_release(spec);
}

static void pause_without_duration_waits_for_promote(void **state)
{
    struct rollout_spec *spec = phase_spec();
    struct rollout_state st = fixture(spec, F_PAUSED_STEP);
    struct traffic t = healthy();
    (void)state;
    assert_int_equal(st.phase, ROLLOUT_PAUSED);
    assert_int_equal(rollout_next_wakeup(spec, &st, T0 + 11 * S), ROLLOUT_NEVER);
    assert_int_equal(decide(spec, &st, T0 + 3600 * S, &t, NULL)->event, ROLLOUT_EV_NONE);
    command(spec, &st, ROLLOUT_CMD_PROMOTE, T0 + 3600 * S);
    assert_int_equal(st.phase, ROLLOUT_PROGRESSING);
    assert_int_equal(st.step, 3);
    spec_release(spec);
}

static void require_confirmation_waits_for_a_yes(void **state)
{
    struct rollout_spec *spec = phase_spec();
    struct rollout_state st = fixture(spec, F_PAUSED_CONFIRM);
    struct rollout_decision *d;
    (void)state;
    assert_int_equal(st.weight, 100);
    assert_int_equal(st.phase, ROLLOUT_PAUSED);
    /* The confirm-promotion hook answers yes through promote. */
    d = command(spec, &st, ROLLOUT_CMD_PROMOTE, T0 + 30 * S);
    assert_int_equal(d->event, ROLLOUT_EV_PROMOTED);
    assert_int_equal(st.phase, ROLLOUT_PROMOTED);
    spec_release(spec);
}

static void awaiting_confirmation_asks_the_confirm_hooks(void **state)
{
    struct rollout_spec *spec = spec_parse_ok(
        "{\"service\": \"s\", \"baseline\": \"v1\", \"canary\": \"v2\", \"steps\": [{\"setWeight\": 100}],"
        " \"promotion\": {\"requireConfirmation\": true},"
        " \"hooks\": [{\"on\": [\"confirm-promotion\"], \"http\": {\"url\": \"http://gate/ok\"}}]}");
    struct rollout_state st;
    struct traffic t = healthy();
    struct rollout_decision *d;
    (void)state;
    rollout_state_init(&st);
    command(spec, &st, ROLLOUT_CMD_START, T0);
    d = settle(spec, &st, T0, &t, NULL);
    assert_int_equal(d->event, ROLLOUT_EV_AWAITING_CONFIRMATION);
    assert_true(d->hooks & HOOK_CONFIRM_PROMOTION);
    assert_int_equal(st.pause_reason, ROLLOUT_PAUSE_CONFIRMATION);
    assert_says(d->summary, "waiting for the confirm-promotion hook or a person's promote");
    spec_release(spec);
}

static void promote_on_a_held_set_weight_sets_it_now(void **state)
{
    struct rollout_spec *spec = basic_spec(NULL, "\"promotion\": {\"minStepDuration\": \"10m\"}");
    struct rollout_state st = started(spec);
    struct traffic t = healthy();
    struct rollout_decision *d;
    int64_t now = T0;
    (void)state;
    run_until(spec, &st, &now, T0 + 30 * S, &t, NULL);
    assert_int_equal(st.step, 2); /* setWeight 100 held by minStepDuration */
    assert_int_equal(st.weight, 10);
    d = command(spec, &st, ROLLOUT_CMD_PROMOTE, now);
    assert_int_equal(d->event, ROLLOUT_EV_WEIGHT);
    assert_int_equal(st.weight, 100);
    spec_release(spec);
}

static void human_pause_stops_analysis_and_resume_restarts_the_interval(void **state)
{
    struct rollout_spec *spec = basic_spec(NULL, NULL);
    struct rollout_state st = started(spec);
    struct traffic t = healthy();
    (void)state;
    command(spec, &st, ROLLOUT_CMD_PAUSE, T0 + 5 * S);
    assert_int_equal(st.pause_reason, ROLLOUT_PAUSE_HUMAN);
    assert_string_equal(st.detail, "alice");
    assert_int_equal(rollout_next_wakeup(spec, &st, T0 + 5 * S), ROLLOUT_NEVER);
    assert_int_equal(decide(spec, &st, T0 + 60 * S, &t, NULL)->event, ROLLOUT_EV_NONE);
    command(spec, &st, ROLLOUT_CMD_RESUME, T0 + 63 * S);
    assert_int_equal(st.next_analysis_ms, T0 + 73 * S);
    assert_int_equal(st.runs, 0);
    spec_release(spec);
}

/* ---- gates --------------------------------------------------------------- */

static void gate_down_pauses_and_clears_by_itself(void **state)
{
    struct rollout_spec *spec = basic_spec(NULL, "\"gates\": {\"probes\": [\"payments-db\"]}");
    struct rollout_state st = started(spec);
    struct traffic t = healthy();
    struct rollout_probe_signal p = {"payments-db", ROLLOUT_PROBE_DOWN};
    struct rollout_signals sig = {&p, 1};
    struct rollout_decision *d;
    (void)state;
    d = decide(spec, &st, T0 + 3 * S, &t, &sig);
    assert_int_equal(d->event, ROLLOUT_EV_PAUSED);
    assert_int_equal(st.pause_reason, ROLLOUT_PAUSE_GATE);
    assert_string_equal(st.detail, "payments-db");
    assert_says(d->summary, "probe payments-db is down (gates.onDown: pause)");
    assert_int_equal(decide(spec, &st, T0 + 30 * S, &t, &sig)->event, ROLLOUT_EV_NONE);
    p.state = ROLLOUT_PROBE_UP;
    d = decide(spec, &st, T0 + 40 * S, &t, &sig);
    assert_int_equal(d->event, ROLLOUT_EV_RESUMED);
    assert_int_equal(st.phase, ROLLOUT_PROGRESSING);
    assert_int_equal(st.next_analysis_ms, T0 + 50 * S);
    assert_says(d->summary, "probe payments-db is no longer down");
    spec_release(spec);
}

static void gate_down_with_on_down_abort_rolls_back(void **state)
{
    struct rollout_spec *spec =
        basic_spec(NULL, "\"gates\": {\"probes\": [\"cache\", \"payments-db\"], \"onDown\": \"abort\"}");
    struct rollout_state st = started(spec);
    struct traffic t = healthy();
    struct rollout_probe_signal p[2] = {{"cache", ROLLOUT_PROBE_UP}, {"payments-db", ROLLOUT_PROBE_DOWN}};
    struct rollout_signals sig = {p, 2};
    struct rollout_decision *d;
    (void)state;
    d = decide(spec, &st, T0 + 3 * S, &t, &sig);
    assert_int_equal(d->event, ROLLOUT_EV_ROLLED_BACK);
    assert_int_equal(st.weight, 0);
    assert_int_equal(st.end_reason, ROLLOUT_END_GATE);
    assert_true(d->hooks & HOOK_ROLLBACK);
    assert_says(d->record, "\"end\":{\"reason\":\"gate\",\"detail\":\"payments-db\"}");
    spec_release(spec);
}

static void degraded_or_unknown_probes_do_not_stop_a_rollout(void **state)
{
    struct rollout_spec *spec = basic_spec(NULL, "\"gates\": {\"probes\": [\"cache\", \"payments-db\"]}");
    struct rollout_state st = started(spec);
    struct traffic t = healthy();
    struct rollout_probe_signal p[2] = {{"cache", ROLLOUT_PROBE_DEGRADED}, {"other", ROLLOUT_PROBE_DOWN}};
    struct rollout_signals sig = {p, 2};
    (void)state;
    /* payments-db is missing from the signals: unknown. "other" is not a gate. */
    assert_int_equal(decide(spec, &st, T0 + 10 * S, &t, &sig)->event, ROLLOUT_EV_ANALYSIS);
    assert_int_equal(st.phase, ROLLOUT_PROGRESSING);
    spec_release(spec);
}

static void person_pausing_a_gate_pause_holds_it_after_the_probe_recovers(void **state)
{
    struct rollout_spec *spec = basic_spec(NULL, "\"gates\": {\"probes\": [\"payments-db\"]}");
    struct rollout_state st = started(spec);
    struct traffic t = healthy();
    struct rollout_probe_signal p = {"payments-db", ROLLOUT_PROBE_DOWN};
    struct rollout_signals sig = {&p, 1};
    struct rollout_decision *d;
    (void)state;
    decide(spec, &st, T0 + 3 * S, &t, &sig);
    d = command(spec, &st, ROLLOUT_CMD_PAUSE, T0 + 4 * S);
    assert_says(d->summary, "paused by alice (was paused by probe payments-db)");
    p.state = ROLLOUT_PROBE_UP;
    assert_int_equal(decide(spec, &st, T0 + 30 * S, &t, &sig)->event, ROLLOUT_EV_NONE);
    assert_int_equal(st.pause_reason, ROLLOUT_PAUSE_HUMAN);
    spec_release(spec);
}

static void gate_down_while_waiting_for_promote_keeps_the_step_pause(void **state)
{
    struct rollout_spec *spec = phase_spec();
    struct rollout_state st = fixture(spec, F_PAUSED_STEP);
    struct traffic t = healthy();
    struct rollout_probe_signal p = {"payments-db", ROLLOUT_PROBE_DOWN};
    struct rollout_signals sig = {&p, 1};
    (void)state;
    assert_int_equal(decide(spec, &st, T0 + 30 * S, &t, &sig)->event, ROLLOUT_EV_NONE);
    assert_int_equal(st.pause_reason, ROLLOUT_PAUSE_STEP);
    /* Promoted past the pause while the probe is still down: the gate
     * pauses it on the next decision. */
    command(spec, &st, ROLLOUT_CMD_PROMOTE, T0 + 31 * S);
    assert_int_equal(decide(spec, &st, T0 + 31 * S, &t, &sig)->event, ROLLOUT_EV_PAUSED);
    assert_int_equal(st.pause_reason, ROLLOUT_PAUSE_GATE);
    spec_release(spec);
}

/* ---- promotion guard ------------------------------------------------------ */

static void min_step_duration_holds_the_next_weight(void **state)
{
    struct rollout_spec *spec = basic_spec(NULL, "\"promotion\": {\"minStepDuration\": \"1m\"}");
    struct rollout_state st = started(spec);
    struct traffic t = healthy();
    struct rollout_decision *d;
    int64_t now = T0;
    (void)state;
    d = run_until(spec, &st, &now, T0 + 59 * S, &t, NULL);
    assert_int_equal(st.weight, 10);
    assert_int_equal(st.step, 2);
    assert_int_equal(rollout_next_wakeup(spec, &st, now), T0 + 60 * S);
    d = decide(spec, &st, T0 + 59 * S, &t, NULL);
    assert_true(d->waiting);
    assert_int_equal(d->wait_until_ms, T0 + 60 * S);
    d = decide(spec, &st, T0 + 60 * S, &t, NULL);
    assert_int_equal(d->event, ROLLOUT_EV_WEIGHT);
    assert_int_equal(st.weight, 100);
    /* And the final promotion waits at 100 as well. */
    assert_int_equal(decide(spec, &st, T0 + 60 * S, &t, NULL)->event, ROLLOUT_EV_NONE);
    assert_int_equal(decide(spec, &st, T0 + 120 * S, &t, NULL)->event, ROLLOUT_EV_PROMOTED);
    spec_release(spec);
}

static void min_samples_per_step_holds_until_the_canary_served_enough(void **state)
{
    struct rollout_spec *spec = basic_spec(NULL, "\"promotion\": {\"minSamplesPerStep\": 500}");
    struct rollout_state st = started(spec);
    struct traffic t = healthy();
    struct rollout_decision *d;
    struct rollout_request reqs[ROLLOUT_MAX_REQUESTS];
    int64_t now = T0;
    (void)state;
    run_until(spec, &st, &now, T0 + 20 * S, &t, NULL);
    assert_int_equal(st.step, 2);
    /* The guard asks for the canary's requests since the weight was set. */
    assert_int_equal(rollout_data_needed(spec, &st, T0 + 20 * S, reqs, ROLLOUT_MAX_REQUESTS, NULL), 1);
    assert_int_equal(reqs[0].arm, ROLLOUT_ARM_CANARY);
    assert_string_equal(reqs[0].metric, "requests");
    assert_int_equal(reqs[0].from_ms, T0);
    assert_int_equal(reqs[0].to_ms, T0 + 20 * S);
    d = decide(spec, &st, T0 + 20 * S, &t, NULL);
    assert_true(d->waiting);
    assert_int_equal(d->samples, 200);
    assert_int_equal(d->samples_needed, 500);
    /* Polled every interval: 10 req/s reaches 500 at 50 s. */
    assert_int_equal(rollout_next_wakeup(spec, &st, T0 + 20 * S), T0 + 30 * S);
    d = run_until(spec, &st, &now, T0 + 50 * S, &t, NULL);
    assert_int_equal(st.weight, 100);
    spec_release(spec);
}

static void guard_does_not_hold_the_first_weight(void **state)
{
    struct rollout_spec *spec =
        basic_spec(NULL, "\"promotion\": {\"minStepDuration\": \"1h\", \"minSamplesPerStep\": 100000}");
    struct rollout_state st;
    struct traffic t = healthy();
    (void)state;
    rollout_state_init(&st);
    command(spec, &st, ROLLOUT_CMD_START, T0);
    settle(spec, &st, T0, &t, NULL);
    assert_int_equal(st.weight, 10); /* nothing could have been observed at weight 0 */
    spec_release(spec);
}

/* ---- checks ------------------------------------------------------------ */

/* Runs the first analysis of a one-check spec with traffic t; returns the
 * check's result. */
static struct rollout_check_result check_once(const char *check, const struct traffic *t,
                                              uint32_t weight_hint)
{
    struct rollout_spec *spec = check_spec(check, NULL);
    struct rollout_state st = started(spec);
    struct rollout_decision *d;
    struct rollout_check_result r;
    (void)weight_hint;
    d = decide(spec, &st, T0 + 10 * S, t, NULL);
    assert_true(d->has_analysis);
    r = d->checks[0];
    spec_release(spec);
    return r;
}

#define THRESHOLD_RATE "{\"name\": \"e\", \"type\": \"threshold\", \"stat\": \"error_rate\", \"max\": 0.02}"

static void threshold_check_verdicts(void **state)
{
    struct traffic t = healthy();
    struct rollout_check_result r;
    (void)state;
    r = check_once(THRESHOLD_RATE, &t, 10);
    assert_int_equal(r.verdict, ROLLOUT_VERDICT_PASSED);
    assert_true(fabs(r.canary - 0.01) < 1e-12); /* 1 of 100 */
    assert_int_equal(r.canary_samples, 100);
    assert_int_equal(r.baseline_samples, 900); /* context */
    t.err[1] = 0.05;
    r = check_once(THRESHOLD_RATE, &t, 10);
    assert_int_equal(r.verdict, ROLLOUT_VERDICT_FAILED);
    assert_string_equal(r.text, "e 0.05 > 0.02 (canary 5 / 100)");
    t.rps[1] = 9;
    r = check_once(THRESHOLD_RATE, &t, 10);
    assert_int_equal(r.verdict, ROLLOUT_VERDICT_INCONCLUSIVE);
    assert_false(r.no_data);
    t.rps[1] = 0;
    r = check_once(THRESHOLD_RATE, &t, 10);
    assert_int_equal(r.verdict, ROLLOUT_VERDICT_INCONCLUSIVE);
    assert_true(r.no_data);
    t = healthy();
    t.unavailable[1] = true;
    r = check_once(THRESHOLD_RATE, &t, 10);
    assert_int_equal(r.verdict, ROLLOUT_VERDICT_ERROR);
    /* An unreadable baseline is only missing context for a threshold. */
    t = healthy();
    t.unavailable[0] = true;
    assert_int_equal(check_once(THRESHOLD_RATE, &t, 10).verdict, ROLLOUT_VERDICT_PASSED);
}

static void threshold_min_bound_fails_below_it(void **state)
{
    struct traffic t = healthy();
    struct rollout_check_result r;
    (void)state;
    t.mean[1] = 3;
    r = check_once("{\"name\": \"m\", \"type\": \"threshold\", \"stat\": \"mean\", \"min\": 5}", &t, 10);
    assert_int_equal(r.verdict, ROLLOUT_VERDICT_FAILED);
    assert_string_equal(r.text, "m mean 3 < 5 (100 canary samples)");
}

static void no_data_policy_decides_an_empty_window(void **state)
{
    struct traffic t = healthy();
    (void)state;
    t.rps[1] = 0;
    assert_int_equal(check_once("{\"name\": \"e\", \"type\": \"threshold\", \"stat\": \"error_rate\", \"max\": 0.02, \"noData\": \"fail\"}", &t, 10).verdict,
                     ROLLOUT_VERDICT_FAILED);
    assert_int_equal(check_once("{\"name\": \"e\", \"type\": \"threshold\", \"stat\": \"error_rate\", \"max\": 0.02, \"noData\": \"ignore\"}", &t, 10).verdict,
                     ROLLOUT_VERDICT_PASSED);
    assert_int_equal(check_once("{\"name\": \"e\", \"type\": \"threshold\", \"stat\": \"error_rate\", \"max\": 0.02, \"noData\": \"pause\"}", &t, 10).verdict,
                     ROLLOUT_VERDICT_INCONCLUSIVE);
}

/* Sketch fixtures: lognormal-ish latencies by deterministic quantiles. */
static roost_sketch_bucket sk_buckets[2][2048];
static roost_sketch sk[2];

static void fill_sketch(int arm, double median, double tail_factor, uint64_t n)
{
    roost_sketch_init(&sk[arm], sk_buckets[arm], 2048);
    for (uint64_t i = 0; i < n; i++) {
        double u = ((double)i + 0.5) / (double)n;
        /* median at u = 0.5, the top 2 % stretched by tail_factor */
        double v = median * exp(1.2 * (u - 0.5)) * (u > 0.98 ? tail_factor : 1.0);
        roost_sketch_add(&sk[arm], v);
    }
}

static void quantile_threshold_reads_the_sketch(void **state)
{
    struct traffic t = healthy();
    struct rollout_check_result r;
    (void)state;
    fill_sketch(1, 100, 1.0, 100);
    t.sketch[1] = &sk[1];
    r = check_once("{\"name\": \"lat\", \"type\": \"threshold\", \"stat\": \"p99\", \"max\": 300}", &t, 10);
    assert_int_equal(r.verdict, ROLLOUT_VERDICT_PASSED);
    assert_true(r.canary > 170 && r.canary < 185);
    fill_sketch(1, 100, 3.0, 100);
    r = check_once("{\"name\": \"lat\", \"type\": \"threshold\", \"stat\": \"p99\", \"max\": 300}", &t, 10);
    assert_int_equal(r.verdict, ROLLOUT_VERDICT_FAILED);
    assert_says(r.text, "lat p99 ");
    t.sketch[1] = NULL;
    r = check_once("{\"name\": \"lat\", \"type\": \"threshold\", \"stat\": \"p99\", \"max\": 300}", &t, 10);
    assert_int_equal(r.verdict, ROLLOUT_VERDICT_ERROR);
    assert_says(r.text, "no latency sketch");
}

#define RELATIVE_P99 "{\"name\": \"rel\", \"type\": \"relative\", \"stat\": \"p99\", \"maxRatio\": 1.25}"

static void relative_check_verdicts(void **state)
{
    struct traffic t = healthy();
    struct rollout_check_result r;
    (void)state;
    fill_sketch(0, 100, 1.0, 1000);
    fill_sketch(1, 110, 1.0, 1000);
    t.sketch[0] = &sk[0];
    t.sketch[1] = &sk[1];
    r = check_once(RELATIVE_P99, &t, 10);
    assert_int_equal(r.verdict, ROLLOUT_VERDICT_PASSED);
    assert_true(fabs(r.bound - 1.25 * r.baseline) < 1e-9);
    fill_sketch(1, 140, 1.0, 1000);
    r = check_once(RELATIVE_P99, &t, 10);
    assert_int_equal(r.verdict, ROLLOUT_VERDICT_FAILED);
    t.rps[0] = 3; /* 30 baseline samples, minSamples 50 */
    r = check_once(RELATIVE_P99, &t, 10);
    assert_int_equal(r.verdict, ROLLOUT_VERDICT_INCONCLUSIVE);
    assert_says(r.text, "30 baseline samples, needs 50");
    t = healthy();
    t.sketch[0] = &sk[0];
    t.sketch[1] = &sk[1];
    t.unavailable[0] = true;
    assert_int_equal(check_once(RELATIVE_P99, &t, 10).verdict, ROLLOUT_VERDICT_ERROR);
    t.unavailable[0] = false;
    t.rps[1] = 0;
    assert_true(check_once(RELATIVE_P99, &t, 10).no_data);
}

static void relative_against_a_zero_baseline_uses_max_absolute(void **state)
{
    struct traffic t = healthy();
    (void)state;
    t.err[0] = 0;
    t.err[1] = 0.01;
    assert_int_equal(check_once("{\"name\": \"r\", \"type\": \"relative\", \"stat\": \"error_rate\", \"maxRatio\": 2}", &t, 10).verdict,
                     ROLLOUT_VERDICT_PASSED);
    assert_int_equal(check_once("{\"name\": \"r\", \"type\": \"relative\", \"stat\": \"error_rate\", \"maxRatio\": 2, \"maxAbsolute\": 0.005}", &t, 10).verdict,
                     ROLLOUT_VERDICT_FAILED);
    assert_int_equal(check_once("{\"name\": \"r\", \"type\": \"relative\", \"stat\": \"error_rate\", \"maxRatio\": 2, \"maxAbsolute\": 0.02}", &t, 10).verdict,
                     ROLLOUT_VERDICT_PASSED);
}

static void relative_and_compare_are_skipped_at_weight_100(void **state)
{
    struct rollout_spec *spec = spec_parse_ok(
        "{\"service\": \"s\", \"baseline\": \"v1\", \"canary\": \"v2\","
        " \"steps\": [{\"setWeight\": 100}, {\"analysis\": {\"count\": 1}}],"
        " \"analysis\": {\"metrics\": ["
        "   {\"name\": \"rel\", \"type\": \"relative\", \"stat\": \"error_rate\", \"maxRatio\": 1.5},"
        "   {\"name\": \"cmp\", \"type\": \"compare\", \"stat\": \"error_rate\"}]}}");
    struct rollout_state st;
    struct traffic t = healthy();
    struct rollout_decision *d;
    (void)state;
    t.rps[0] = 0;
    t.rps[1] = 100;
    rollout_state_init(&st);
    command(spec, &st, ROLLOUT_CMD_START, T0);
    settle(spec, &st, T0, &t, NULL);
    d = decide(spec, &st, T0 + 10 * S, &t, NULL);
    assert_int_equal(d->checks[0].verdict, ROLLOUT_VERDICT_SKIPPED);
    assert_int_equal(d->checks[1].verdict, ROLLOUT_VERDICT_SKIPPED);
    assert_int_equal(d->verdict, ROLLOUT_VERDICT_PASSED);
    assert_says(d->checks[0].text, "no baseline traffic at weight 100");
    spec_release(spec);
}

#define COMPARE_RATE "{\"name\": \"cmp\", \"type\": \"compare\", \"stat\": \"error_rate\"}"

static void compare_error_rate_fails_on_a_clear_regression(void **state)
{
    struct rollout_spec *spec = check_spec(COMPARE_RATE, NULL);
    struct rollout_state st = started(spec);
    struct traffic t = healthy();
    struct rollout_decision *d;
    const struct rollout_check_result *r;
    (void)state;
    t.rps[0] = 900;
    t.rps[1] = 100;
    t.err[0] = 0.005;
    t.err[1] = 0.02; /* 20 of 1000 vs 45 of 9000 */
    d = decide(spec, &st, T0 + 10 * S, &t, NULL);
    r = &d->checks[0];
    assert_int_equal(r->verdict, ROLLOUT_VERDICT_FAILED);
    assert_true(fabs(r->effect - 0.015) < 1e-12);
    assert_true(r->p_value <= spec->analysis.checks[0].alpha);
    /* Error rates at margin 0: the rate-ratio e-process, which fails
     * exactly when its e-value reaches 1 / alpha. */
    assert_true(r->rate_ratio);
    assert_true(fabs(r->ratio - 4.0) < 1e-9);
    assert_true(r->e_value >= 1.0 / spec->analysis.checks[0].alpha);
    assert_true(fabs(r->p_value - 1.0 / r->e_value) < 1e-12);
    /* The first run counts everything since the weight was set. */
    assert_int_equal(r->from_ms, T0);
    assert_int_equal(r->to_ms, T0 + 10 * S);
    assert_int_equal(st.evidence[0].until_ms, T0 + 10 * S);
    assert_says(d->record, "\"effect\":0.015");
    assert_says(d->record, "\"test\":\"rate_ratio\"");
    assert_says(d->record, "\"ratio\":4");
    spec_release(spec);
}

static void compare_error_rate_passes_a_healthy_canary(void **state)
{
    struct rollout_spec *spec = check_spec(COMPARE_RATE, NULL);
    struct rollout_state st = started(spec);
    struct traffic t = healthy();
    struct rollout_decision *d;
    (void)state;
    t.rps[0] = 900;
    t.rps[1] = 100;
    d = decide(spec, &st, T0 + 10 * S, &t, NULL);
    assert_int_equal(d->checks[0].verdict, ROLLOUT_VERDICT_PASSED);
    assert_true(d->checks[0].e_value < 2.0);
    assert_true(d->checks[0].p_value > 0.5);
    spec_release(spec);
}

static void compare_is_inconclusive_below_min_samples(void **state)
{
    struct traffic t = healthy();
    struct rollout_check_result r;
    (void)state;
    t.rps[1] = 5;
    r = check_once(COMPARE_RATE, &t, 10);
    assert_int_equal(r.verdict, ROLLOUT_VERDICT_INCONCLUSIVE);
    t.rps[1] = 0;
    r = check_once(COMPARE_RATE, &t, 10);
    assert_true(r.no_data);
    t = healthy();
    t.rps[0] = 0;
    r = check_once(COMPARE_RATE, &t, 10);
    assert_int_equal(r.verdict, ROLLOUT_VERDICT_INCONCLUSIVE);
    assert_says(r.text, "0 baseline samples");
}

static void compare_p_value_is_a_running_minimum(void **state)
{
    struct rollout_spec *spec = check_spec(COMPARE_RATE, "\"failureLimit\": 5");
    struct rollout_state st = started(spec);
    struct traffic bad = healthy(), good = healthy();
    struct rollout_decision *d;
    double p1;
    (void)state;
    bad.rps[0] = good.rps[0] = 900;
    bad.rps[1] = good.rps[1] = 100;
    bad.err[1] = 0.03;
    d = decide(spec, &st, T0 + 10 * S, &bad, NULL);
    assert_int_equal(d->checks[0].verdict, ROLLOUT_VERDICT_FAILED);
    p1 = d->checks[0].p_value;
    assert_true(st.compare_p[0] == p1);
    /* Later data that looks healthy does not un-show the evidence. */
    d = decide(spec, &st, T0 + 20 * S, &good, NULL);
    assert_int_equal(d->checks[0].verdict, ROLLOUT_VERDICT_FAILED);
    assert_true(d->checks[0].p_value == p1);
    /* The rate-ratio test's evidence is over the whole attempt: a new
     * weight keeps it. */
    {
        struct rollout_state n = st;
        n.compare_p[0] = 0.001;
        command(spec, &n, ROLLOUT_CMD_PROMOTE, T0 + 21 * S); /* ends the analysis step */
        settle(spec, &n, T0 + 21 * S, &good, NULL);          /* setWeight 100 */
        assert_int_equal(n.weight, 100);
        assert_true(n.compare_p[0] == 0.001);
    }
    spec_release(spec);
}

/* Any other compare (here a margin) is judged per traffic split: a new
 * weight starts a new sequence. */
static void compare_with_a_margin_starts_again_at_a_new_weight(void **state)
{
    struct rollout_spec *spec = check_spec(
        "{\"name\": \"cmp\", \"type\": \"compare\", \"stat\": \"error_rate\", \"margin\": 0.001}",
        NULL);
    struct rollout_state st = started(spec);
    struct traffic good = healthy();
    (void)state;
    assert_true(spec->analysis.checks[0].alpha == ROLLOUT_DEFAULT_ALPHA);
    st.compare_p[0] = 0.001;
    command(spec, &st, ROLLOUT_CMD_PROMOTE, T0 + 1 * S);
    settle(spec, &st, T0 + 1 * S, &good, NULL);
    assert_int_equal(st.weight, 100);
    assert_true(st.compare_p[0] == 1.0);
    spec_release(spec);
}

/* Evidence gathered at 10 % still counts at 25 %: the attempt's counts go
 * on while those at the weight (what passing needs) start again. */
static void rate_ratio_evidence_carries_across_weights(void **state)
{
    struct rollout_spec *spec = spec_parse_ok(
        "{\"service\": \"s\", \"baseline\": \"v1\", \"canary\": \"v2\","
        " \"steps\": [{\"setWeight\": 10}, {\"analysis\": {\"count\": 1}}, {\"setWeight\": 25},"
        "   {\"analysis\": {\"count\": 1}}, {\"setWeight\": 50}, {\"analysis\": {}},"
        "   {\"setWeight\": 100}]}");
    struct rollout_state st = started(spec);
    struct traffic t = healthy();
    struct rollout_decision *d;
    uint64_t n10;
    (void)state;
    t.rps[0] = 900;
    t.rps[1] = 100;
    assert_true(st.share_attempt == 0.75);
    d = decide(spec, &st, T0 + 10 * S, &t, NULL);
    assert_int_equal(d->checks[0].verdict, ROLLOUT_VERDICT_PASSED);
    n10 = st.evidence[0].canary_n;
    assert_true(n10 > 0 && st.evidence[0].w_canary_n == n10);
    settle(spec, &st, T0 + 10 * S, &t, NULL); /* setWeight 25, next analysis */
    assert_int_equal(st.weight, 25);
    /* The sequence restarted at 25 % takes half of what is left. */
    assert_true(st.share_weight == 0.125 && st.share_left == 0.125);
    d = decide(spec, &st, T0 + 20 * S, &t, NULL);
    assert_true(d->checks[0].rate_ratio);
    assert_true(st.evidence[0].canary_n > n10);
    assert_true(st.evidence[0].w_canary_n == st.evidence[0].canary_n - n10);
    /* Every second is counted once: the window starts at the weight change. */
    assert_int_equal(d->checks[0].from_ms, T0 + 10 * S);
    assert_says(d->record, "\"atWeight\"");
    spec_release(spec);
}

static void compare_margin_tolerates_a_small_regression(void **state)
{
    struct traffic t = healthy();
    struct rollout_check_result r;
    (void)state;
    t.rps[0] = 900;
    t.rps[1] = 100;
    t.err[1] = 0.02;
    r = check_once("{\"name\": \"cmp\", \"type\": \"compare\", \"stat\": \"error_rate\", \"margin\": 0.02}", &t, 10);
    assert_int_equal(r.verdict, ROLLOUT_VERDICT_PASSED);
    assert_true(r.bound == 0.02);
}

static void compare_higher_is_better_fails_when_the_canary_drops(void **state)
{
    struct traffic t = healthy();
    struct rollout_check_result r;
    (void)state;
    t.rps[0] = 900;
    t.rps[1] = 100;
    t.mean[0] = 50;
    t.mean[1] = 40;
    t.sd[0] = t.sd[1] = 10;
    r = check_once("{\"name\": \"conv\", \"type\": \"compare\", \"stat\": \"mean\", \"direction\": \"higher_is_better\"}", &t, 10);
    assert_int_equal(r.verdict, ROLLOUT_VERDICT_FAILED);
    assert_true(fabs(r.effect + 10) < 1e-9);
    assert_true(r.ci_hi < 0); /* in canary - baseline terms */
    r = check_once("{\"name\": \"conv\", \"type\": \"compare\", \"stat\": \"mean\"}", &t, 10);
    assert_int_equal(r.verdict, ROLLOUT_VERDICT_PASSED); /* lower is better: 40 is fine */
}

static void compare_mean_uses_the_spread_of_both_arms(void **state)
{
    struct traffic t = healthy();
    struct rollout_check_result r;
    (void)state;
    t.rps[0] = 900;
    t.rps[1] = 100;
    t.mean[0] = 100;
    t.mean[1] = 101;
    t.sd[0] = t.sd[1] = 50; /* 1 ms in 50 ms of noise, 100 samples: no evidence */
    r = check_once("{\"name\": \"m\", \"type\": \"compare\", \"stat\": \"mean\"}", &t, 10);
    assert_int_equal(r.verdict, ROLLOUT_VERDICT_PASSED);
    t.sd[0] = t.sd[1] = 1; /* the same 1 ms with 1 ms of noise: clear */
    r = check_once("{\"name\": \"m\", \"type\": \"compare\", \"stat\": \"mean\"}", &t, 10);
    assert_int_equal(r.verdict, ROLLOUT_VERDICT_FAILED);
}

static void compare_quantile_uses_the_exceedance_test(void **state)
{
    struct traffic t = healthy();
    struct rollout_check_result r;
    (void)state;
    t.rps[0] = 900;
    t.rps[1] = 100;
    fill_sketch(0, 100, 1.0, 9000);
    fill_sketch(1, 100, 1.0, 1000);
    t.sketch[0] = &sk[0];
    t.sketch[1] = &sk[1];
    r = check_once("{\"name\": \"tail\", \"type\": \"compare\", \"stat\": \"p99\"}", &t, 10);
    assert_int_equal(r.verdict, ROLLOUT_VERDICT_PASSED);
    /* The canary's slowest 2 % triple: far more than 1 % above the baseline's p99. */
    fill_sketch(1, 100, 3.0, 1000);
    r = check_once("{\"name\": \"tail\", \"type\": \"compare\", \"stat\": \"p99\"}", &t, 10);
    assert_int_equal(r.verdict, ROLLOUT_VERDICT_FAILED);
    assert_true(r.effect > 100);
    assert_says(r.text, "of canary beyond baseline vs");
    /* With a margin larger than the regression it passes. */
    r = check_once("{\"name\": \"tail\", \"type\": \"compare\", \"stat\": \"p99\", \"margin\": 1000}", &t, 10);
    assert_int_equal(r.verdict, ROLLOUT_VERDICT_PASSED);
}

#define BURN                                                                               \
    "{\"name\": \"budget\", \"type\": \"burn_rate\", \"slo\": 0.99, \"minSamples\": 10,"  \
    " \"windows\": [{\"long\": \"1m\", \"short\": \"5s\", \"factor\": 2}]}"

static void burn_rate_fails_only_when_both_windows_burn(void **state)
{
    struct traffic t = healthy();
    struct rollout_check_result r;
    (void)state;
    t.err[1] = 0.04; /* burn 4x over both windows (2 of 50, 24 of 600) */
    r = check_once(BURN, &t, 10);
    assert_int_equal(r.verdict, ROLLOUT_VERDICT_FAILED);
    assert_true(fabs(r.burn_short[0] - 4.0) < 1e-9);
    assert_says(r.text, "budget burn 4x over 1m and 4x over 5s");
    t.err[1] = 0.01; /* burn 1x */
    r = check_once(BURN, &t, 10);
    assert_int_equal(r.verdict, ROLLOUT_VERDICT_PASSED);
    t.rps[1] = 0;
    r = check_once(BURN, &t, 10);
    assert_true(r.no_data);
    assert_int_equal(r.verdict, ROLLOUT_VERDICT_INCONCLUSIVE);
    t = healthy();
    t.rps[1] = 1; /* 5 in the short window, below minSamples 10 */
    t.err[1] = 0.2;
    r = check_once(BURN, &t, 10);
    assert_int_equal(r.verdict, ROLLOUT_VERDICT_INCONCLUSIVE);
    t.unavailable[1] = true;
    assert_int_equal(check_once(BURN, &t, 10).verdict, ROLLOUT_VERDICT_ERROR);
}

static void burn_rate_reads_its_long_and_short_windows(void **state)
{
    struct rollout_spec *spec = check_spec(BURN, NULL);
    struct rollout_state st = started(spec);
    struct rollout_request reqs[ROLLOUT_MAX_REQUESTS];
    (void)state;
    assert_int_equal(rollout_data_needed(spec, &st, T0 + 10 * S, reqs, ROLLOUT_MAX_REQUESTS, NULL), 2);
    assert_int_equal(reqs[0].from_ms, T0 + 10 * S - 60 * S);
    assert_int_equal(reqs[1].from_ms, T0 + 5 * S);
    assert_int_equal(reqs[0].to_ms, T0 + 10 * S);
    spec_release(spec);
}

static void a_failed_check_outweighs_an_unreadable_one(void **state)
{
    struct rollout_spec *spec = spec_parse_ok(
        "{\"service\": \"s\", \"baseline\": \"v1\", \"canary\": \"v2\","
        " \"steps\": [{\"setWeight\": 10}, {\"analysis\": {}}, {\"setWeight\": 100}],"
        " \"analysis\": {\"metrics\": ["
        "   {\"name\": \"lat\", \"type\": \"threshold\", \"metric\": \"latency\", \"stat\": \"p99\", \"max\": 1},"
        "   {\"name\": \"e\", \"type\": \"threshold\", \"stat\": \"error_rate\", \"max\": 0.02}]}}");
    struct rollout_state st = started(spec);
    struct traffic t = healthy();
    struct rollout_decision *d;
    (void)state;
    t.err[1] = 0.1; /* and no sketch for the latency check: error */
    d = decide(spec, &st, T0 + 10 * S, &t, NULL);
    assert_int_equal(d->checks[0].verdict, ROLLOUT_VERDICT_ERROR);
    assert_int_equal(d->checks[1].verdict, ROLLOUT_VERDICT_FAILED);
    assert_int_equal(d->event, ROLLOUT_EV_ROLLED_BACK);
    assert_string_equal(st.detail, "e");
    spec_release(spec);
}

static void restricted_variance_matches_a_brute_force_maximum(void **state)
{
    static const double cases[][5] = {
        {20, 1000, 45, 9000, 0.002}, {3, 300, 10, 2700, 0.01}, {0, 100, 5, 900, 0.005}, {50, 100, 40, 100, 0.05}};
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double x1 = cases[i][0], n1 = cases[i][1], x2 = cases[i][2], n2 = cases[i][3], dl = cases[i][4];
        double best = -INFINITY, bp2 = 0, want, got;
        /* Maximize the log-likelihood over p2 with p1 = p2 + delta. */
        for (int k = 0; k <= 200000; k++) {
            double p2 = (1.0 - dl) * k / 200000.0, p1 = p2 + dl;
            double ll = (x1 ? x1 * log(p1) : 0) + (n1 - x1 ? (n1 - x1) * log1p(-p1) : 0) +
                        (x2 ? x2 * log(p2) : 0) + (n2 - x2 ? (n2 - x2) * log1p(-p2) : 0);
            if (p2 <= 0 && x2 > 0)
                continue;
            if (ll > best) {
                best = ll;
                bp2 = p2;
            }
        }
        want = (bp2 + dl) * (1 - bp2 - dl) / n1 + bp2 * (1 - bp2) / n2;
        got = rollout_fm_variance(x1, n1, x2, n2, dl);
        if (!(fabs(got - want) <= 1e-3 * want))
            fail_msg("case %zu: %.10g, brute force %.10g", i, got, want);
    }
    /* delta 0 is the pooled variance. */
    assert_true(fabs(rollout_fm_variance(20, 1000, 45, 9000, 0) -
                     (65.0 / 10000) * (1 - 65.0 / 10000) * (1.0 / 1000 + 1.0 / 9000)) < 1e-15);
}

/* ---- data requests --------------------------------------------------------- */

static void requests_are_deduplicated_and_stable(void **state)
{
    struct rollout_spec *spec = spec_parse_ok(
        "{\"service\": \"s\", \"baseline\": \"v1\", \"canary\": \"v2\","
        " \"steps\": [{\"setWeight\": 10}, {\"analysis\": {}}, {\"setWeight\": 100}],"
        " \"analysis\": {\"metrics\": ["
        "   {\"name\": \"a\", \"type\": \"threshold\", \"stat\": \"error_rate\", \"max\": 0.1},"
        "   {\"name\": \"b\", \"type\": \"threshold\", \"stat\": \"p99\", \"max\": 300},"
        "   {\"name\": \"c\", \"type\": \"compare\", \"stat\": \"error_rate\"}]}}");
    struct rollout_state st = started(spec);
    struct rollout_request r1[ROLLOUT_MAX_REQUESTS], r2[ROLLOUT_MAX_REQUESTS];
    roost_error err = {0};
    size_t n;
    (void)state;
    n = rollout_data_needed(spec, &st, T0 + 10 * S, r1, ROLLOUT_MAX_REQUESTS, NULL);
    /* a and b read the same two windows (b needs the sketch); c reads from
     * the weight change, which is also T0 here: 2 windows in all. */
    assert_int_equal(n, 2);
    assert_true(r1[0].needs_sketch);
    assert_int_equal(r1[0].arm, ROLLOUT_ARM_CANARY);
    assert_int_equal(r1[1].arm, ROLLOUT_ARM_BASELINE);
    assert_int_equal(rollout_data_needed(spec, &st, T0 + 10 * S, r2, ROLLOUT_MAX_REQUESTS, NULL), n);
    assert_memory_equal(r1, r2, n * sizeof r1[0]);
    assert_int_equal(rollout_data_needed(spec, &st, T0 + 10 * S, r2, 1, &err), (size_t)-1);
    assert_int_equal(err.code, ROOST_ELIMIT);
    assert_int_equal(rollout_data_needed(spec, &st, T0 + 9 * S, r2, ROLLOUT_MAX_REQUESTS, NULL), 0);
    spec_release(spec);
}

static void decide_rejects_results_that_do_not_match_the_requests(void **state)
{
    struct rollout_spec *spec = basic_spec(NULL, NULL);
    struct rollout_state st = started(spec), next;
    struct rollout_window w[2];
    struct rollout_decision d;
    roost_error err = {0};
    (void)state;
    memset(w, 0, sizeof w);
    assert_int_equal(rollout_decide(spec, &st, T0 + 10 * S, w, 1, NULL, &next, &d, &err), ROOST_EINVAL);
    assert_says(err.msg, "1 results for the 2 windows");
    w[0].count = 5;
    w[0].successes = 6;
    assert_int_equal(rollout_decide(spec, &st, T0 + 10 * S, w, 2, NULL, &next, &d, &err), ROOST_EINVAL);
    assert_says(err.msg, "6 successes of 5");
    spec_release(spec);
}

static void a_late_controller_judges_the_scheduled_window(void **state)
{
    struct rollout_spec *spec = check_spec(THRESHOLD_RATE, NULL); /* 3 runs */
    struct rollout_state st = started(spec);
    struct traffic t = healthy();
    struct rollout_decision *d;
    (void)state;
    /* 3 s late: the run due at 10 s still judges [0 s, 10 s). */
    d = decide(spec, &st, T0 + 13 * S, &t, NULL);
    assert_int_equal(d->checks[0].from_ms, T0);
    assert_int_equal(d->checks[0].to_ms, T0 + 10 * S);
    assert_int_equal(st.next_analysis_ms, T0 + 20 * S);
    /* 75 s late (roostd was down): only the last whole interval. */
    d = decide(spec, &st, T0 + 95 * S, &t, NULL);
    assert_int_equal(d->checks[0].from_ms, T0 + 80 * S);
    assert_int_equal(d->checks[0].to_ms, T0 + 90 * S);
    assert_int_equal(st.next_analysis_ms, T0 + 100 * S);
    spec_release(spec);
}

/* ---- state ---------------------------------------------------------------- */

static void state_round_trips_through_its_encoding(void **state)
{
    struct rollout_spec *spec = basic_spec(NULL, "\"gates\": {\"probes\": [\"payments-db\"]}");
    struct rollout_state st = started(spec), back;
    uint8_t buf[ROLLOUT_STATE_ENCODED_MAX];
    size_t len;
    (void)state;
    command(spec, &st, ROLLOUT_CMD_PAUSE, T0 + 5 * S);
    st.compare_p[3] = 0.0123;
    assert_int_equal(rollout_state_encode(&st, buf, sizeof buf, &len, NULL), ROOST_OK);
    assert_true(len <= ROLLOUT_STATE_ENCODED_MAX);
    memset(&back, 0, sizeof back);
    assert_int_equal(rollout_state_decode(buf, len, &back, NULL), ROOST_OK);
    assert_memory_equal(&back, &st, sizeof st);
    spec_release(spec);
}

static void corrupt_state_is_refused(void **state)
{
    struct rollout_spec *spec = basic_spec(NULL, NULL);
    struct rollout_state st = started(spec), back;
    uint8_t buf[ROLLOUT_STATE_ENCODED_MAX], bad[ROLLOUT_STATE_ENCODED_MAX + 1];
    roost_error err = {0};
    size_t len;
    (void)state;
    assert_int_equal(rollout_state_encode(&st, buf, sizeof buf, &len, NULL), ROOST_OK);
    memset(&back, 0x33, sizeof back);
    /* every truncation */
    for (size_t l = 0; l < len; l++)
        assert_int_equal(rollout_state_decode(buf, l, &back, &err), ROOST_ECORRUPT);
    assert_int_equal(((unsigned char *)&back)[0], 0x33);
    memcpy(bad, buf, len);
    bad[len] = 0;
    assert_int_equal(rollout_state_decode(bad, len + 1, &back, &err), ROOST_ECORRUPT);
    assert_says(err.msg, "trailing");
    memcpy(bad, buf, len);
    bad[3] = 9;
    assert_int_equal(rollout_state_decode(bad, len, &back, &err), ROOST_ECORRUPT);
    assert_says(err.msg, "version 9");
    memcpy(bad, buf, len);
    bad[4] = 17; /* phase */
    assert_int_equal(rollout_state_decode(bad, len, &back, &err), ROOST_ECORRUPT);
    memcpy(bad, buf, len);
    bad[0] = 'X';
    assert_int_equal(rollout_state_decode(bad, len, &back, &err), ROOST_ECORRUPT);
    assert_int_equal(rollout_state_encode(&st, buf, 10, &len, &err), ROOST_ELIMIT);
    /* evidence that could not have been computed */
    st.evidence[2].canary_x = st.evidence[2].canary_n + 1;
    assert_int_equal(rollout_state_encode(&st, buf, sizeof buf, &len, NULL), ROOST_OK);
    assert_int_equal(rollout_state_decode(buf, len, &back, &err), ROOST_ECORRUPT);
    assert_says(err.msg, "evidence");
    spec_release(spec);
}

/* A state stored before the e-process (version 1: the same bytes without
 * the version 2 tail) still loads, with the step and timers it had and the
 * error-rate evidence starting again on one sequence. */
static void a_version_1_state_still_loads(void **state)
{
    struct rollout_spec *spec = basic_spec(NULL, NULL);
    struct rollout_state st = started(spec), back;
    uint8_t buf[ROLLOUT_STATE_ENCODED_MAX];
    size_t len, tail = 3 * 8 + 2 + ROLLOUT_MAX_CHECKS * (8 + 2 * ROLLOUT_EVIDENCE_GRID * 8 + 8 + 8 * 8);
    (void)state;
    st.compare_p[0] = 0.25;
    st.evidence[0].canary_n = 7;
    assert_int_equal(rollout_state_encode(&st, buf, sizeof buf, &len, NULL), ROOST_OK);
    buf[3] = 1;
    assert_int_equal(rollout_state_decode(buf, len - tail, &back, NULL), ROOST_OK);
    assert_int_equal(back.step, st.step);
    assert_int_equal(back.next_analysis_ms, st.next_analysis_ms);
    assert_true(back.compare_p[0] == 0.25);
    assert_true(back.share_attempt == 1.0 && back.share_weight == 0 && back.share_left == 0);
    assert_int_equal(back.evidence[0].canary_n, 0);
    assert_int_equal(rollout_state_check(spec, &back, NULL), ROOST_OK);
    spec_release(spec);
}

static void restart_mid_step_resumes_the_same_timers_and_decisions(void **state)
{
    struct rollout_spec *spec = spec_parse_ok(
        "{\"service\": \"s\", \"baseline\": \"v1\", \"canary\": \"v2\","
        " \"steps\": [{\"setWeight\": 10}, {\"analysis\": {\"count\": 4}}, {\"setWeight\": 25},"
        "   {\"pause\": {\"duration\": \"1m\"}}, {\"setWeight\": 100}],"
        " \"analysis\": {\"interval\": \"10s\"}}");
    struct rollout_state a = started(spec), b;
    struct traffic t = healthy();
    uint8_t buf[ROLLOUT_STATE_ENCODED_MAX];
    size_t len;
    int64_t now_a = T0, now_b;
    (void)state;
    run_until(spec, &a, &now_a, T0 + 25 * S, &t, NULL); /* 2 runs passed, mid-step */
    assert_int_equal(a.passed, 2);
    /* "roostd restarts": the stored bytes are all that survives. */
    assert_int_equal(rollout_state_encode(&a, buf, sizeof buf, &len, NULL), ROOST_OK);
    assert_int_equal(rollout_state_decode(buf, len, &b, NULL), ROOST_OK);
    assert_int_equal(b.next_analysis_ms, T0 + 30 * S);
    assert_int_equal(b.step_started_ms, T0);
    assert_int_equal(rollout_next_wakeup(spec, &b, T0 + 25 * S), T0 + 30 * S);
    /* Both continue identically, through a timed pause. */
    now_b = now_a;
    for (int64_t until = T0 + 30 * S; until <= T0 + 200 * S; until += 10 * S) {
        struct rollout_decision *da = run_until(spec, &a, &now_a, until, &t, NULL), ra = *da;
        struct rollout_decision *db = run_until(spec, &b, &now_b, until, &t, NULL);
        assert_memory_equal(&a, &b, sizeof a);
        assert_string_equal(ra.record, db->record);
    }
    assert_int_equal(a.phase, ROLLOUT_PROMOTED);
    spec_release(spec);
}

static void a_state_that_does_not_fit_the_spec_is_a_conflict(void **state)
{
    struct rollout_spec *spec = basic_spec(NULL, NULL);
    struct rollout_state st = started(spec), next;
    struct rollout_decision d;
    roost_error err = {0};
    (void)state;
    st.step = 9;
    assert_int_equal(rollout_decide(spec, &st, T0, NULL, 0, NULL, &next, &d, &err), ROOST_ECONFLICT);
    assert_says(err.msg, "the state is at step 9 but the rollout has 3 steps");
    assert_int_equal(rollout_command(spec, &st, ROLLOUT_CMD_PAUSE, "x", T0, &next, &d, &err), ROOST_ECONFLICT);
    assert_int_equal(rollout_next_wakeup(spec, &st, T0), ROLLOUT_NEVER);
    /* Abort is the way out, and a rolled-back rollout can be retried. */
    assert_int_equal(rollout_command(spec, &st, ROLLOUT_CMD_ABORT, "x", T0, &next, &d, &err), ROOST_OK);
    assert_int_equal(next.weight, 0);
    st = next;
    assert_int_equal(rollout_command(spec, &st, ROLLOUT_CMD_RETRY, "x", T0, &next, &d, &err), ROOST_OK);
    assert_int_equal(next.step, 0);
    st.weight = 101;
    assert_int_equal(rollout_command(spec, &st, ROLLOUT_CMD_ABORT, "x", T0, &next, &d, &err), ROOST_ECONFLICT);
    spec_release(spec);
}

/* ---- records ------------------------------------------------------------ */

static void records_are_valid_json_with_the_numbers(void **state)
{
    struct rollout_spec *spec = spec_parse_ok(
        "{\"service\": \"check\\\"out\", \"baseline\": \"v1\", \"canary\": \"v2\","
        " \"steps\": [{\"setWeight\": 10}, {\"analysis\": {}}, {\"setWeight\": 100}],"
        " \"analysis\": {\"metrics\": ["
        "   {\"name\": \"e\", \"type\": \"threshold\", \"stat\": \"error_rate\", \"max\": 0.01},"
        "   {\"name\": \"c\", \"type\": \"compare\", \"stat\": \"error_rate\"},"
        "   {\"name\": \"b\", \"type\": \"burn_rate\", \"slo\": 0.999, \"windows\": [{\"long\": \"1h\", \"short\": \"5m\", \"factor\": 14.4}]}]}}");
    struct rollout_state st = started(spec);
    struct traffic t = healthy();
    struct rollout_decision *d;
    cJSON *rec, *checks, *c0, *c1;
    (void)state;
    t.err[1] = 0.05;
    d = decide(spec, &st, T0 + 10 * S, &t, NULL);
    assert_int_equal(d->event, ROLLOUT_EV_ROLLED_BACK);
    rec = cJSON_Parse(d->record);
    if (!rec)
        fail_msg("not JSON: %s", d->record);
    assert_string_equal(cJSON_GetObjectItem(rec, "rollout")->valuestring, "checkout-v2");
    assert_string_equal(cJSON_GetObjectItem(rec, "by")->valuestring, "controller");
    assert_string_equal(cJSON_GetObjectItem(rec, "event")->valuestring, "rolled_back");
    assert_string_equal(cJSON_GetObjectItem(rec, "service")->valuestring, "check\"out");
    assert_true(cJSON_GetObjectItem(rec, "at")->valuedouble == (double)(T0 + 10 * S));
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(rec, "weight"), "to")->valueint, 0);
    checks = cJSON_GetObjectItem(cJSON_GetObjectItem(rec, "analysis"), "checks");
    assert_int_equal(cJSON_GetArraySize(checks), 3);
    c0 = cJSON_GetArrayItem(checks, 0);
    assert_string_equal(cJSON_GetObjectItem(c0, "verdict")->valuestring, "failed");
    assert_true(cJSON_GetObjectItem(cJSON_GetObjectItem(c0, "canary"), "value")->valuedouble == 0.05);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(c0, "canary"), "samples")->valueint, 100);
    assert_true(cJSON_GetObjectItem(c0, "max")->valuedouble == 0.01);
    c1 = cJSON_GetArrayItem(checks, 1);
    assert_non_null(cJSON_GetObjectItem(c1, "p"));
    assert_non_null(cJSON_GetObjectItem(c1, "eValue"));
    assert_non_null(cJSON_GetObjectItem(c1, "ratio"));
    assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(c1, "atWeight"), "canarySamples"));
    assert_non_null(cJSON_GetObjectItem(cJSON_GetArrayItem(checks, 2), "windows"));
    assert_true(cJSON_IsArray(cJSON_GetObjectItem(rec, "hooks")));
    cJSON_Delete(rec);
    spec_release(spec);
}

static void same_inputs_give_byte_identical_records(void **state)
{
    struct rollout_spec *spec = basic_spec(NULL, NULL);
    struct rollout_state a = started(spec), b = started(spec);
    struct traffic t = healthy();
    char first[ROLLOUT_RECORD_MAX];
    (void)state;
    snprintf(first, sizeof first, "%s", decide(spec, &a, T0 + 10 * S, &t, NULL)->record);
    assert_string_equal(first, decide(spec, &b, T0 + 10 * S, &t, NULL)->record);
    spec_release(spec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(start_only_starts_a_pending_rollout),
        cmocka_unit_test(pause_holds_a_running_rollout),
        cmocka_unit_test(resume_continues_a_paused_step),
        cmocka_unit_test(promote_ends_the_current_step),
        cmocka_unit_test(abort_rolls_back_a_running_rollout),
        cmocka_unit_test(retry_restarts_only_a_rolled_back_rollout),
        cmocka_unit_test(start_records_the_actor_and_runs_pre_rollout_hooks),
        cmocka_unit_test(retry_starts_a_new_attempt_from_step_zero),
        cmocka_unit_test(command_names_parse_back),
        cmocka_unit_test(nothing_happens_before_the_analysis_is_due),
        cmocka_unit_test(set_weight_step_changes_the_weight_and_moves_on),
        cmocka_unit_test(analysis_pass_counts_toward_the_step),
        cmocka_unit_test(healthy_rollout_reaches_promoted_with_max_weight),
        cmocka_unit_test(rollback_sets_weight_zero_before_hooks),
        cmocka_unit_test(failure_limit_tolerates_that_many_failed_runs),
        cmocka_unit_test(unreadable_data_aborts_after_consecutive_error_limit),
        cmocka_unit_test(inconclusive_runs_pause_after_the_limit),
        cmocka_unit_test(no_traffic_pauses_instead_of_failing),
        cmocka_unit_test(timed_pause_waits_its_duration),
        cmocka_unit_test(pause_without_duration_waits_for_promote),
        cmocka_unit_test(require_confirmation_waits_for_a_yes),
        cmocka_unit_test(awaiting_confirmation_asks_the_confirm_hooks),
        cmocka_unit_test(promote_on_a_held_set_weight_sets_it_now),
        cmocka_unit_test(human_pause_stops_analysis_and_resume_restarts_the_interval),
        cmocka_unit_test(gate_down_pauses_and_clears_by_itself),
        cmocka_unit_test(gate_down_with_on_down_abort_rolls_back),
        cmocka_unit_test(degraded_or_unknown_probes_do_not_stop_a_rollout),
        cmocka_unit_test(person_pausing_a_gate_pause_holds_it_after_the_probe_recovers),
        cmocka_unit_test(gate_down_while_waiting_for_promote_keeps_the_step_pause),
        cmocka_unit_test(min_step_duration_holds_the_next_weight),
        cmocka_unit_test(min_samples_per_step_holds_until_the_canary_served_enough),
        cmocka_unit_test(guard_does_not_hold_the_first_weight),
        cmocka_unit_test(threshold_check_verdicts),
        cmocka_unit_test(threshold_min_bound_fails_below_it),
        cmocka_unit_test(no_data_policy_decides_an_empty_window),
        cmocka_unit_test(quantile_threshold_reads_the_sketch),
        cmocka_unit_test(relative_check_verdicts),
        cmocka_unit_test(relative_against_a_zero_baseline_uses_max_absolute),
        cmocka_unit_test(relative_and_compare_are_skipped_at_weight_100),
        cmocka_unit_test(compare_error_rate_fails_on_a_clear_regression),
        cmocka_unit_test(compare_error_rate_passes_a_healthy_canary),
        cmocka_unit_test(compare_is_inconclusive_below_min_samples),
        cmocka_unit_test(compare_p_value_is_a_running_minimum),
        cmocka_unit_test(compare_with_a_margin_starts_again_at_a_new_weight),
        cmocka_unit_test(rate_ratio_evidence_carries_across_weights),
        cmocka_unit_test(compare_margin_tolerates_a_small_regression),
        cmocka_unit_test(compare_higher_is_better_fails_when_the_canary_drops),
        cmocka_unit_test(compare_mean_uses_the_spread_of_both_arms),
        cmocka_unit_test(compare_quantile_uses_the_exceedance_test),
        cmocka_unit_test(burn_rate_fails_only_when_both_windows_burn),
        cmocka_unit_test(burn_rate_reads_its_long_and_short_windows),
        cmocka_unit_test(a_failed_check_outweighs_an_unreadable_one),
        cmocka_unit_test(restricted_variance_matches_a_brute_force_maximum),
        cmocka_unit_test(requests_are_deduplicated_and_stable),
        cmocka_unit_test(decide_rejects_results_that_do_not_match_the_requests),
        cmocka_unit_test(a_late_controller_judges_the_scheduled_window),
        cmocka_unit_test(state_round_trips_through_its_encoding),
        cmocka_unit_test(a_version_1_state_still_loads),
        cmocka_unit_test(corrupt_state_is_refused),
        cmocka_unit_test(restart_mid_step_resumes_the_same_timers_and_decisions),
        cmocka_unit_test(a_state_that_does_not_fit_the_spec_is_a_conflict),
        cmocka_unit_test(records_are_valid_json_with_the_numbers),
        cmocka_unit_test(same_inputs_give_byte_identical_records),
    };
    return roost_run_tests("rollout_logic", tests);
}
