/* Experiments end to end (issue 8): a real roostd analysing, every second
 * (--experiment-interval 1), the exposures and outcomes that synthetic
 * traffic reports through the real C SDK.
 *
 * The traffic generator plays many users, each with its own targeting key.
 * Each user evaluates the experiment's flag once through roost_client_string
 * (the SDK logs the exposure: the flag is a running experiment's and the
 * reason is TARGETING_MATCH), gets the variant that is its arm, and reports
 * its outcome with roost_track: converted or not (one outcome per user, as
 * docs/experiments.md asks for a rate), and for the guardrail test a
 * latency. Outcomes are drawn from each arm's true rate by a fixed-seed
 * generator keyed by the user's number, so every run sees the same data;
 * only the moments roostd looks at it vary. Traffic comes in rounds, each
 * flushed, with about one look between rounds.
 *
 *  - A true +5 % relative lift (40 % -> 42 %) is detected and the early-win
 *    rule stops the experiment by itself.
 *  - An A/A experiment stays not significant and keeps running.
 *  - A 52/48 split of exposures on a 50/50 plan raises the sample-ratio
 *    check (p < 0.001), which blocks a ship conclusion. How the split is
 *    skewed: the generator learns each user's arm from a twin flag that
 *    carries the same split rule roostd writes into the experiment's flag
 *    (the twin is no experiment's flag, so evaluating it logs nothing) and
 *    loses one control user in 13 before it evaluates the experiment's flag
 *    -- as a control code path that forgets to evaluate the flag would.
 *    Every kept user's arm is checked against the twin's answer. (A flag
 *    whose own targeting splits 52/48 cannot be applied at all: roostd's
 *    split check refuses it, tested with the bad documents.)
 *  - A guardrail 10 % worse stops the experiment at once (harm).
 *  - Decision records hold the analysis `results --json` shows.
 *  - Bad documents are refused at apply with precise messages and change
 *    nothing.
 *
 * Decision records are read from `roostctl --json experiment list`, whose
 * "recent" holds the last 20 records of each experiment with their details;
 * roostctl has no history command for older ones (none are needed here).
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sdk_support.h"
#include "testmain.h"

/* ---- roostd, roostctl and the client ------------------------------------ */

static void start_roostd(struct roostd_proc *p)
{
    memset(p, 0, sizeof *p);
    p->extra[0] = "--experiment-interval";
    p->extra[1] = "1";
    p->extra[2] = NULL;
    assert_true(roostd_start(p));
}

static roost_client *client_for(struct roostd_proc *p)
{
    roost_client_options o;
    roost_client *c = NULL;
    roost_error err;

    sdk_test_options(&o, p, NULL);
    /* A round's users in one reporting interval, none dropped. */
    o.exposure_units = 1u << 17;
    if (roost_client_new(&o, &c, &err) != ROOST_OK || roost_client_start(c, &err) != ROOST_OK)
        fail_msg("client: %s", err.msg);
    assert_int_equal(roost_client_wait_ready(c, 10000), ROOST_OK);
    return c;
}

/* roostctl ARGS... with exit status `want`; stdout and stderr in static
 * buffers (valid until the next call). */
static char ctl_out[1 << 21], ctl_err[8192];

static void ctl(struct roostd_proc *p, int want, const char *const *args)
{
    int rc = roostctl_run(p, ctl_out, sizeof ctl_out, ctl_err, sizeof ctl_err, args);

    if (rc != want)
        fail_msg("roostctl %s %s %s: exit %d, expected %d: %s%s", args[0], args[1] ? args[1] : "",
                 args[1] && args[2] ? args[2] : "", rc, want, ctl_err, ctl_out);
}

/* roostctl --json ARGS..., parsed (the caller deletes it). */
static cJSON *ctl_json(struct roostd_proc *p, const char *const *args)
{
    const char *argv[16] = {"--json"};
    cJSON *j;
    int n = 1;

    for (; args[n - 1] && n < 15; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    ctl(p, 0, argv);
    if (!(j = cJSON_Parse(ctl_out)))
        fail_msg("roostctl %s %s: not JSON: %s", args[0], args[1], ctl_out);
    return j;
}

/* `roostctl --json experiment results NAME`: the analysis. */
static cJSON *results(struct roostd_proc *p, const char *exp)
{
    const char *args[] = {"experiment", "results", exp, NULL};
    return ctl_json(p, args);
}

/* The experiment's entry of `roostctl --json experiment list`: phase,
 * conclusion, recent decision records with their details. */
static cJSON *listed(struct roostd_proc *p, const char *exp)
{
    const char *args[] = {"experiment", "list", NULL};
    cJSON *all = ctl_json(p, args), *e, *found = NULL;

    cJSON_ArrayForEach(e, all)
    {
        if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(e, "name")), exp) == 0) {
            found = cJSON_DetachItemViaPointer(all, e);
            break;
        }
    }
    cJSON_Delete(all);
    if (!found)
        fail_msg("experiment list does not show %s", exp);
    return found;
}

/* The newest decision record of `kind` in an entry of the list. */
static const cJSON *decision(const cJSON *entry, const char *kind)
{
    const cJSON *d, *newest = NULL;

    cJSON_ArrayForEach(d, cJSON_GetObjectItem(entry, "recent"))
    {
        if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(d, "kind")), kind) == 0 &&
            (!newest || strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(d, "time")),
                               cJSON_GetStringValue(cJSON_GetObjectItem(newest, "time"))) >= 0))
            newest = d;
    }
    if (!newest)
        fail_msg("no '%s' decision record", kind);
    return newest;
}

static const char *str_at(const cJSON *o, const char *key)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(o, key));
    if (!s)
        fail_msg("no string '%s'", key);
    return s;
}

static double num_at(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItem(o, key);
    if (!cJSON_IsNumber(v))
        fail_msg("no number '%s'", key);
    return v->valuedouble;
}

static bool bool_at(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItem(o, key);
    if (!cJSON_IsBool(v))
        fail_msg("no boolean '%s'", key);
    return cJSON_IsTrue(v);
}

/* The metric `name` of an analysis, and its comparison of the treatment. */
static const cJSON *metric(const cJSON *analysis, const char *name)
{
    const cJSON *m;

    cJSON_ArrayForEach(m, cJSON_GetObjectItem(analysis, "metrics"))
        if (strcmp(str_at(m, "name"), name) == 0)
            return m;
    fail_msg("no metric '%s' in the analysis", name);
    return NULL;
}

static const cJSON *treatment_cmp(const cJSON *analysis, const char *name)
{
    const cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItem(metric(analysis, name), "comparisons"),
                                        0);
    assert_non_null(c);
    assert_string_equal(str_at(c, "arm"), "treatment");
    return c;
}

/* The exposures of an arm ("control", "treatment") in an analysis. */
static double exposures(const cJSON *analysis, const char *arm)
{
    const cJSON *a;

    cJSON_ArrayForEach(a, cJSON_GetObjectItem(analysis, "arms"))
        if (strcmp(str_at(a, "name"), arm) == 0)
            return num_at(a, "exposures");
    fail_msg("no arm '%s'", arm);
    return 0;
}

/* Whether any verdict reason contains text. */
static bool reason_says(const cJSON *analysis, const char *text)
{
    const cJSON *r;

    cJSON_ArrayForEach(r, cJSON_GetObjectItem(cJSON_GetObjectItem(analysis, "verdict"), "reasons"))
        if (strstr(cJSON_GetStringValue(r), text))
            return true;
    return false;
}

static void print_verdict(const char *exp, const cJSON *a)
{
    const cJSON *v = cJSON_GetObjectItem(a, "verdict"), *r;
    const cJSON *srm = cJSON_GetObjectItem(a, "srm");

    fprintf(stderr, "%s: look %.0f, exposures control %.0f treatment %.0f, srm p %.3g, %s: %s\n",
            exp, num_at(a, "looks"), exposures(a, "control"), exposures(a, "treatment"),
            num_at(srm, "p"), str_at(v, "action"), str_at(v, "conclusion"));
    cJSON_ArrayForEach(r, cJSON_GetObjectItem(v, "reasons"))
        fprintf(stderr, "  - %s\n", cJSON_GetStringValue(r));
}

/* The record of a decision holds, as its details, exactly the analysis
 * `results --json` shows. */
static void assert_record_holds_results(const cJSON *record, const cJSON *analysis)
{
    const cJSON *details = cJSON_GetObjectItem(record, "details");

    if (!cJSON_IsObject(details) || !cJSON_Compare(details, analysis, true)) {
        char *a = cJSON_PrintUnformatted(analysis), *d = cJSON_PrintUnformatted(details);
        fprintf(stderr, "record:  %s\nresults: %s\n", d, a);
        free(a);
        free(d);
        fail_msg("the decision record does not hold the numbers results shows");
    }
}

/* ---- documents ---------------------------------------------------------- */

#define FLAG(name)                                                                          \
    "\"" name "\": {\"state\": \"ENABLED\", \"variants\": {\"control\": \"blue\", \"treatment\": " \
    "\"green\"}, \"defaultVariant\": \"control\"}"
#define CONVERSION                                                                          \
    "\"primary\": {\"name\": \"conversion\", \"metric\": \"checkout.converted\", \"type\": "  \
    "\"binomial\", \"direction\": \"increase\", \"mde\": 0.05, \"mdeType\": \"relative\"}"
#define LATENCY_GUARDRAIL                                                                   \
    ", \"guardrails\": [{\"name\": \"latency\", \"metric\": \"http.latency_ms\", \"type\": "  \
    "\"mean\", \"direction\": \"decrease\", \"mde\": 0.05, \"mdeType\": \"relative\"}]"

/* One flag "EXP-flag" (control/treatment, no targeting: roostd writes the
 * split rule), one experiment EXP on it with the primary conversion metric,
 * `metrics` after it, `fields` after the metrics; `flags` after the flag. */
static void apply_experiment(struct roostd_proc *p, const char *exp, const char *metrics,
                             const char *fields, const char *flags)
{
    char doc[4096];

    snprintf(doc, sizeof doc,
             "{\"flags\": {\"%s-flag\": {\"state\": \"ENABLED\", \"variants\": {\"control\": "
             "\"blue\", \"treatment\": \"green\"}, \"defaultVariant\": \"control\"}%s},"
             " \"experiments\": {\"%s\": {\"hypothesis\": \"Green converts better.\","
             " \"flag\": \"%s-flag\", \"control\": \"control\", \"minSamplePerArm\": 1000,"
             " \"metrics\": {" CONVERSION "%s}%s}}}",
             exp, flags, exp, exp, metrics, fields);
    assert_true(sdk_apply_document(p, doc) > 0);
}

static void start_experiment(struct roostd_proc *p, roost_client *c, const char *exp)
{
    const char *args[] = {"experiment", "start", exp, "--reason", "test", NULL};
    double deadline;
    roost_experiment_info info;

    ctl(p, 0, args);
    for (deadline = harness_now() + 10; harness_now() < deadline; sdk_sleep_ms(10))
        if (roost_experiment_status(c, exp, &info) == ROOST_OK &&
            info.phase == ROOST_EXPERIMENT_RUNNING)
            return;
    fail_msg("the client did not see %s running within 10 s", exp);
}

/* ---- synthetic traffic -------------------------------------------------- */

/* splitmix64: the draws of user i depend only on (seed, i). */
static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static double uniform(uint64_t seed, uint64_t i, uint64_t k)
{
    return (double)(mix(seed ^ mix(i * 4 + k)) >> 11) / 9007199254740992.0;
}

struct traffic {
    roost_client *c;
    const char *exp;          /* the experiment; its flag is EXP-flag */
    uint64_t seed;
    double rate[2];           /* true conversion rate: control, treatment */
    double latency[2];        /* true mean latency (ms); 0: not reported */
    double latency_sd;
    const char *twin;         /* a flag splitting like the experiment's, or NULL */
    int lose_control_every;   /* with twin: every Nth control user is lost */
    /* what was generated */
    uint64_t next;            /* the next user's number */
    uint64_t exposed[2], converted[2], control_seen, lost, ignored;
};

static int arm_of(const char *variant)
{
    if (strcmp(variant, "treatment") == 0)
        return 1;
    if (strcmp(variant, "control") != 0)
        fail_msg("unexpected variant '%s'", variant);
    return 0;
}

/* n more users. Returns false once the client sees the experiment no
 * longer running (roost_track says ECONFLICT): the rest of the round is
 * not sent. */
static bool traffic_round(struct traffic *t, int n)
{
    char flag[160], key[160], buf[32];
    roost_ctx_attr attr;
    roost_ctx ctx;
    roost_details d;

    snprintf(flag, sizeof flag, "%s-flag", t->exp);
    roost_ctx_init(&ctx, &attr, 1);
    for (int k = 0; k < n; k++) {
        uint64_t i = t->next++;
        int arm, twin_arm = -1;
        bool converted;
        roost_status rc;

        snprintf(key, sizeof key, "%s-user-%llu", t->exp, (unsigned long long)i);
        roost_ctx_set_targeting_key(&ctx, key);
        if (t->twin) {
            roost_client_string(t->c, t->twin, &ctx, "none", buf, sizeof buf, &d);
            assert_int_equal(d.reason, ROOST_REASON_TARGETING_MATCH);
            twin_arm = arm_of(d.variant);
            if (twin_arm == 0 && t->lose_control_every &&
                t->control_seen++ % (uint64_t)t->lose_control_every == 0) {
                t->lost++;
                continue;
            }
        }
        roost_client_string(t->c, flag, &ctx, "none", buf, sizeof buf, &d);
        if (d.reason != ROOST_REASON_TARGETING_MATCH)
            fail_msg("%s: reason %d for %s (allocation is 100 %%)", flag, d.reason, key);
        arm = arm_of(d.variant);
        if (twin_arm >= 0 && twin_arm != arm)
            fail_msg("the twin flag put %s in another arm than %s did", key, flag);
        converted = uniform(t->seed, i, 0) < t->rate[arm];
        rc = roost_track(t->c, t->exp, &ctx, "checkout.converted", converted, converted);
        if (rc == ROOST_ECONFLICT) {
            t->ignored++;
            return false;
        }
        assert_int_equal(rc, ROOST_OK);
        t->exposed[arm]++;
        t->converted[arm] += converted;
        if (t->latency[arm] > 0) {
            /* Box-Muller */
            double u1 = uniform(t->seed, i, 1), u2 = uniform(t->seed, i, 2);
            double z = sqrt(-2 * log(u1 > 0 ? u1 : 1e-300)) * cos(2 * M_PI * u2);
            double ms = t->latency[arm] + t->latency_sd * z;
            assert_int_equal(
                roost_track(t->c, t->exp, &ctx, "http.latency_ms", ms > 1 ? ms : 1, true),
                ROOST_OK);
        }
    }
    return true;
}

static void flush(roost_client *c)
{
    roost_error err;

    if (roost_client_flush(c, 15000, &err) != ROOST_OK)
        fail_msg("flush: %s", err.msg);
}

/* Whether the client sees the experiment stopped within timeout_ms. */
static bool sees_stopped(roost_client *c, const char *exp, int timeout_ms)
{
    double deadline = harness_now() + timeout_ms / 1000.0;
    roost_experiment_info info;

    for (;;) {
        if (roost_experiment_status(c, exp, &info) == ROOST_OK &&
            info.phase == ROOST_EXPERIMENT_STOPPED)
            return true;
        if (harness_now() >= deadline)
            return false;
        sdk_sleep_ms(20);
    }
}

/* Rounds of `per_round` users, each flushed and followed by up to 1.5 s
 * for a look, until the experiment stops or `rounds` rounds were sent.
 * Returns whether it stopped. */
static bool traffic_until_stopped(struct traffic *t, int per_round, int rounds)
{
    for (int r = 0; r < rounds; r++) {
        bool running = traffic_round(t, per_round);
        flush(t->c);
        fprintf(stderr, "%s: round %d, %llu users (control %llu, treatment %llu)\n", t->exp,
                r + 1, (unsigned long long)(t->exposed[0] + t->exposed[1]),
                (unsigned long long)t->exposed[0], (unsigned long long)t->exposed[1]);
        if (!running || sees_stopped(t->c, t->exp, 1500))
            return true;
    }
    /* One more look after the last round. */
    return sees_stopped(t->c, t->exp, 3000);
}

static void finish(struct roostd_proc *p, roost_client *c)
{
    roost_client_stats st;

    roost_client_get_stats(c, &st);
    assert_int_equal(st.exposures_dropped, 0);
    assert_int_equal(roost_client_close(c, NULL), ROOST_OK);
    assert_int_equal(roostd_stop(p, SIGTERM), 0);
}

/* ---- tests -------------------------------------------------------------- */

static void true_lift_is_detected_and_the_early_win_rule_stops_the_experiment(void **state)
{
    struct roostd_proc p;
    struct traffic t = {0};
    roost_client *c;
    cJSON *a, *entry;
    const cJSON *cmp, *abs, *rel, *rec, *v;

    (void)state;
    start_roostd(&p);
    apply_experiment(&p, "lift", "", "", "");
    c = client_for(&p);
    start_experiment(&p, c, "lift");

    /* 40 % -> 42 %: +5 % relative, the experiment's MDE. */
    t.c = c;
    t.exp = "lift";
    t.seed = 1;
    t.rate[0] = 0.40;
    t.rate[1] = 0.42;
    if (!traffic_until_stopped(&t, 8000, 12)) {
        cJSON *r = results(&p, "lift");
        print_verdict("lift", r);
        cJSON_Delete(r);
        fail_msg("the lift did not stop the experiment after %llu users",
                 (unsigned long long)t.next);
    }

    /* Stopped by the controller, by the early-win rule. */
    entry = listed(&p, "lift");
    assert_string_equal(str_at(entry, "phase"), "stopped");
    rec = decision(entry, "stopped");
    fprintf(stderr, "record: %s by %s: %s\n", str_at(rec, "kind"), str_at(rec, "actor"),
            str_at(rec, "summary"));
    assert_string_equal(str_at(rec, "actor"), "controller");
    assert_non_null(strstr(str_at(rec, "summary"), "by the early-win rule: stop: ship treatment"));

    /* The results: treatment better, interval above zero. */
    a = results(&p, "lift");
    print_verdict("lift", a);
    v = cJSON_GetObjectItem(a, "verdict");
    assert_string_equal(str_at(v, "action"), "stop");
    assert_string_equal(str_at(v, "conclusion"), "ship");
    assert_string_equal(str_at(v, "arm"), "treatment");
    assert_true(bool_at(v, "earlyStop"));
    assert_false(bool_at(v, "srmMismatch"));
    cmp = treatment_cmp(a, "conversion");
    abs = cJSON_GetObjectItem(cmp, "absolute");
    rel = cJSON_GetObjectItem(cmp, "relative");
    fprintf(stderr,
            "lift: %+.2f points [%+.2f, %+.2f], relative %+.2f %% [%+.2f %%, %+.2f %%], "
            "p = %.3g\n",
            100 * num_at(abs, "estimate"), 100 * num_at(abs, "lo"), 100 * num_at(abs, "hi"),
            100 * num_at(rel, "estimate"), 100 * num_at(rel, "lo"), 100 * num_at(rel, "hi"),
            num_at(cmp, "p"));
    assert_string_equal(str_at(cmp, "outcome"), "better");
    assert_true(bool_at(cmp, "significant"));
    assert_true(num_at(cmp, "pAdjusted") <= 0.05);
    /* The decision is the always-valid test's on the absolute effect: its
     * interval (the running intersection) excludes 0. The relative interval
     * is a confidence sequence of its own, read at this look only
     * (docs/experiments.md), and may still touch 0. */
    assert_true(num_at(abs, "lo") > 0);
    assert_true(num_at(rel, "estimate") > 0.02 && num_at(rel, "estimate") < 0.10);
    assert_true(bool_at(a, "minSampleReached"));

    /* The record holds those numbers. */
    assert_record_holds_results(rec, a);
    cJSON_Delete(a);
    cJSON_Delete(entry);

    /* The whole history, oldest first: the start by a person, then the
     * controller's stop with the same numbers; --limit keeps the newest. */
    {
        const char *all[] = {"experiment", "history", "lift", NULL};
        const char *newest[] = {"experiment", "history", "lift", "--limit", "1", NULL};
        const char *typo[] = {"experiment", "history", "lfit", NULL};
        cJSON *h = ctl_json(&p, all);
        int n = cJSON_GetArraySize(h);
        const cJSON *first = cJSON_GetArrayItem(h, 0), *last = cJSON_GetArrayItem(h, n - 1);

        assert_true(n >= 2);
        assert_string_equal(str_at(first, "kind"), "running");
        assert_string_equal(str_at(last, "kind"), "stopped");
        assert_string_equal(str_at(last, "actor"), "controller");
        assert_true(num_at(last, "seq") > num_at(first, "seq"));
        assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(last, "details"), "verdict"));
        cJSON_Delete(h);
        h = ctl_json(&p, newest);
        assert_int_equal(cJSON_GetArraySize(h), 1);
        assert_string_equal(str_at(cJSON_GetArrayItem(h, 0), "kind"), "stopped");
        cJSON_Delete(h);
        /* A name roostd never had is an error naming it, not an empty list. */
        ctl(&p, 1, typo);
        assert_non_null(strstr(ctl_err, "lfit"));
    }

    /* Stopped: the client ignores outcomes (the analysis is final). */
    {
        roost_ctx_attr attr;
        roost_ctx ctx;
        roost_ctx_init(&ctx, &attr, 1);
        roost_ctx_set_targeting_key(&ctx, "lift-user-0");
        assert_int_equal(roost_track(c, "lift", &ctx, "checkout.converted", 1, true),
                         ROOST_ECONFLICT);
    }
    finish(&p, c);
}

static void aa_experiment_stays_not_significant_and_keeps_running(void **state)
{
    struct roostd_proc p;
    struct traffic t = {0};
    roost_client *c;
    cJSON *a, *entry, *stop_out;
    const cJSON *cmp, *v, *m, *arm;
    double min_p = 1;

    (void)state;
    start_roostd(&p);
    apply_experiment(&p, "aa", "", "", "");
    c = client_for(&p);
    start_experiment(&p, c, "aa");

    /* Both arms convert at 40 %, as many users as the lift needed at most. */
    t.c = c;
    t.exp = "aa";
    t.seed = 2;
    t.rate[0] = t.rate[1] = 0.40;
    for (int r = 0; r < 6; r++) {
        assert_true(traffic_round(&t, 8000));
        flush(c);
        /* A look or so per round; none may stop it. */
        assert_false(sees_stopped(c, "aa", 1200));
        a = results(&p, "aa");
        cmp = treatment_cmp(a, "conversion");
        if (cJSON_IsNumber(cJSON_GetObjectItem(cmp, "p")) && num_at(cmp, "p") < min_p)
            min_p = num_at(cmp, "p");
        assert_false(bool_at(cmp, "significant"));
        assert_string_equal(str_at(cJSON_GetObjectItem(a, "verdict"), "action"), "continue");
        cJSON_Delete(a);
    }
    fprintf(stderr, "aa: %llu users, smallest always-valid p over the looks read: %.3f\n",
            (unsigned long long)t.next, min_p);

    a = results(&p, "aa");
    print_verdict("aa", a);
    entry = listed(&p, "aa");
    assert_string_equal(str_at(entry, "phase"), "running");
    cJSON_Delete(entry);
    v = cJSON_GetObjectItem(a, "verdict");
    assert_string_equal(str_at(v, "action"), "continue");
    assert_string_equal(str_at(v, "conclusion"), "inconclusive");
    assert_false(bool_at(v, "earlyStop"));
    assert_false(bool_at(v, "harm"));
    cmp = treatment_cmp(a, "conversion");
    assert_string_equal(str_at(cmp, "outcome"), "neutral");
    assert_true(num_at(cmp, "p") > 0.05);
    assert_false(bool_at(cJSON_GetObjectItem(a, "srm"), "mismatch"));
    /* Every exposure and outcome the SDK logged is in the analysis. */
    assert_true(exposures(a, "control") == (double)t.exposed[0]);
    assert_true(exposures(a, "treatment") == (double)t.exposed[1]);
    m = metric(a, "conversion");
    cJSON_ArrayForEach(arm, cJSON_GetObjectItem(m, "arms"))
    {
        int i = arm_of(str_at(arm, "name"));
        assert_true(num_at(arm, "n") == (double)t.exposed[i]);
        assert_true(num_at(arm, "successes") == (double)t.converted[i]);
    }
    cJSON_Delete(a);

    /* A person stops it: the record holds the look the stop was made on. */
    {
        const char *args[] = {"experiment", "stop", "aa", "--reason", "no difference", NULL};
        stop_out = ctl_json(&p, args);
    }
    assert_string_equal(str_at(stop_out, "phase"), "stopped");
    a = results(&p, "aa");
    assert_record_holds_results(decision(stop_out, "stopped"), a);
    assert_non_null(strstr(str_at(decision(stop_out, "stopped"), "summary"),
                           "the analysis says continue: inconclusive"));
    entry = listed(&p, "aa");
    assert_record_holds_results(decision(entry, "stopped"), a);
    cJSON_Delete(entry);
    cJSON_Delete(stop_out);
    cJSON_Delete(a);
    finish(&p, c);
}

static void skewed_exposures_raise_srm_and_block_a_ship_conclusion(void **state)
{
    struct roostd_proc p;
    struct traffic t = {0};
    roost_client *c;
    cJSON *a, *entry, *out;
    const cJSON *srm, *v, *cmp;
    double share;

    (void)state;
    start_roostd(&p);
    /* The twin flag: the rule roostd writes into srm-flag (experiment
     * "srm", allocation 100 %, 50/50), on a flag no experiment uses.
     * earlyWin off: the treatment really is better, and the point is what
     * the sample-ratio check does to a ship, not when the rule fires. */
    apply_experiment(&p, "srm", "", ", \"stopping\": {\"earlyWin\": false}",
                     ", \"srm-twin\": {\"state\": \"ENABLED\", \"variants\": {\"control\": "
                     "\"blue\", \"treatment\": \"green\"}, \"defaultVariant\": \"control\","
                     " \"targeting\": {\"if\": [{\"var\": \"targetingKey\"}, {\"fractional\": "
                     "[{\"cat\": [\"srm/arms/\", {\"var\": \"targetingKey\"}]}, [\"control\", "
                     "5000], [\"treatment\", 5000]]}, null]}}");
    c = client_for(&p);
    start_experiment(&p, c, "srm");

    /* One control user in 13 is lost: 48/52. */
    t.c = c;
    t.exp = "srm";
    t.seed = 3;
    t.rate[0] = 0.40;
    t.rate[1] = 0.46;
    t.twin = "srm-twin";
    t.lose_control_every = 13;
    assert_true(traffic_round(&t, 20000));
    flush(c);
    share = (double)t.exposed[0] / (double)(t.exposed[0] + t.exposed[1]);
    fprintf(stderr, "srm: control %llu, treatment %llu (control %.2f %%), %llu lost\n",
            (unsigned long long)t.exposed[0], (unsigned long long)t.exposed[1], 100 * share,
            (unsigned long long)t.lost);
    assert_true(share > 0.475 && share < 0.485);

    a = results(&p, "srm");
    print_verdict("srm", a);
    assert_true(exposures(a, "control") == (double)t.exposed[0]);
    assert_true(exposures(a, "treatment") == (double)t.exposed[1]);
    srm = cJSON_GetObjectItem(a, "srm");
    assert_true(bool_at(srm, "mismatch"));
    assert_true(num_at(srm, "p") < 0.001);
    v = cJSON_GetObjectItem(a, "verdict");
    assert_true(bool_at(v, "srmMismatch"));
    /* The treatment wins on the numbers, and still cannot ship. */
    cmp = treatment_cmp(a, "conversion");
    assert_string_equal(str_at(cmp, "outcome"), "better");
    assert_string_equal(str_at(v, "conclusion"), "inconclusive");
    assert_true(reason_says(a, "sample ratio mismatch"));
    assert_true(reason_says(a, "would ship, but the sample ratio mismatch blocks it"));
    cJSON_Delete(a);

    /* conclude --ship is refused and changes nothing. */
    {
        const char *args[] = {"experiment", "conclude", "srm", "--ship", "treatment", NULL};
        ctl(&p, 1, args);
        fprintf(stderr, "conclude --ship: %s", ctl_err);
        assert_non_null(strstr(ctl_err, "srm has a sample-ratio mismatch (p < 0.001)"));
    }
    entry = listed(&p, "srm");
    assert_string_equal(str_at(entry, "phase"), "running");
    assert_null(cJSON_GetObjectItem(entry, "conclusion"));
    cJSON_Delete(entry);

    /* Rolling back is allowed; the record keeps the mismatch. */
    {
        const char *args[] = {"experiment", "conclude", "srm", "--roll-back", NULL};
        out = ctl_json(&p, args);
    }
    assert_string_equal(str_at(out, "phase"), "concluded");
    assert_string_equal(str_at(out, "conclusion"), "roll_back");
    assert_true(bool_at(cJSON_GetObjectItem(cJSON_GetObjectItem(decision(out, "concluded"),
                                                                "details"),
                                            "srm"),
                        "mismatch"));
    a = results(&p, "srm");
    assert_record_holds_results(decision(out, "concluded"), a);
    cJSON_Delete(a);
    cJSON_Delete(out);
    finish(&p, c);
}

/* How many of n fresh users the flag gives the treatment ("green"). */
static int treatment_served(roost_client *c, const char *flag, int n, uint64_t first)
{
    int green = 0;

    for (int i = 0; i < n; i++) {
        roost_ctx_attr attrs[2];
        roost_ctx ctx;
        char key[32], value[16];

        snprintf(key, sizeof key, "fresh-user-%llu", (unsigned long long)(first + (uint64_t)i));
        roost_ctx_init(&ctx, attrs, 2);
        roost_ctx_set_targeting_key(&ctx, key);
        roost_client_string(c, flag, &ctx, "none", value, sizeof value, NULL);
        green += strcmp(value, "green") == 0;
    }
    return green;
}

/* Waits until the client sees exp in phase. */
static void wait_client_phase(roost_client *c, const char *exp, roost_experiment_phase phase)
{
    roost_experiment_info info;
    double deadline;

    for (deadline = harness_now() + 10; harness_now() < deadline; sdk_sleep_ms(10))
        if (roost_experiment_status(c, exp, &info) == ROOST_OK && info.phase == phase)
            return;
    fail_msg("the client did not see %s reach phase %d within 10 s", exp, (int)phase);
}

static void harmed_guardrail_stops_the_experiment_at_once(void **state)
{
    struct roostd_proc p;
    struct traffic t = {0};
    roost_client *c;
    cJSON *a, *entry;
    const cJSON *v, *cmp, *rec;

    (void)state;
    start_roostd(&p);
    apply_experiment(&p, "harm", LATENCY_GUARDRAIL, "", "");
    c = client_for(&p);
    /* A draft splits nobody: everyone gets the flag's default (control). */
    wait_client_phase(c, "harm", ROOST_EXPERIMENT_DRAFT);
    assert_int_equal(treatment_served(c, "harm-flag", 1000, 0), 0);
    start_experiment(&p, c, "harm");
    /* Running: about half of them get the treatment. */
    {
        int green = treatment_served(c, "harm-flag", 1000, 0);
        assert_true(green > 400 && green < 600);
    }

    /* Same conversion; the treatment is 10 % slower (100 ms -> 110 ms). */
    t.c = c;
    t.exp = "harm";
    t.seed = 4;
    t.rate[0] = t.rate[1] = 0.40;
    t.latency[0] = 100;
    t.latency[1] = 110;
    t.latency_sd = 20;
    if (!traffic_until_stopped(&t, 2000, 10)) {
        cJSON *r = results(&p, "harm");
        print_verdict("harm", r);
        cJSON_Delete(r);
        fail_msg("the guardrail's harm did not stop the experiment");
    }

    entry = listed(&p, "harm");
    assert_string_equal(str_at(entry, "phase"), "stopped");
    rec = decision(entry, "stopped");
    fprintf(stderr, "record: %s by %s: %s\n", str_at(rec, "kind"), str_at(rec, "actor"),
            str_at(rec, "summary"));
    assert_string_equal(str_at(rec, "actor"), "controller");
    assert_non_null(strstr(str_at(rec, "summary"), "by the harm rule: stop_now: roll_back"));
    assert_non_null(strstr(str_at(rec, "summary"), "guardrail 'latency' is worse in 'treatment'"));

    a = results(&p, "harm");
    print_verdict("harm", a);
    v = cJSON_GetObjectItem(a, "verdict");
    assert_string_equal(str_at(v, "action"), "stop_now");
    assert_string_equal(str_at(v, "conclusion"), "roll_back");
    assert_true(bool_at(v, "harm"));
    assert_false(bool_at(v, "earlyStop"));
    cmp = treatment_cmp(a, "latency");
    assert_string_equal(str_at(metric(a, "latency"), "role"), "guardrail");
    assert_string_equal(str_at(cmp, "outcome"), "worse");
    assert_true(num_at(cJSON_GetObjectItem(cmp, "relative"), "lo") > 0);
    assert_record_holds_results(rec, a);
    cJSON_Delete(a);
    cJSON_Delete(entry);
    /* Stopped for harm: nobody gets the harmful treatment any more. */
    wait_client_phase(c, "harm", ROOST_EXPERIMENT_STOPPED);
    assert_int_equal(treatment_served(c, "harm-flag", 1000, 1000000), 0);
    finish(&p, c);
}

static void bad_experiment_documents_are_rejected_and_change_nothing(void **state)
{
    /* Each: the good document's flag and experiment (with another
     * hypothesis, so a partial apply would show) plus one mistake. */
#define GOOD_EXP(hyp)                                                                      \
    "\"good\": {\"hypothesis\": \"" hyp "\", \"flag\": \"checkout-button\", \"control\": " \
    "\"control\", \"metrics\": {" CONVERSION "}}"
#define BAD_EXP(flag, fields)                                                              \
    ", \"bad\": {\"hypothesis\": \"h\", \"flag\": \"" flag "\", \"control\": \"control\"" \
    fields ", \"metrics\": {" CONVERSION "}}"
#define WEIGHTS(a, b) ", \"weights\": {\"control\": 50, \"" a "\": " b "}"
#define DOC(flags, exps)                                                                   \
    "{\"flags\": {" FLAG("checkout-button") flags "}, \"experiments\": {" exps "}}"
    static const struct {
        const char *what, *doc, *expect;
    } cases[] = {
        {"weights not summing to 100",
         DOC(", " FLAG("pricing"),
             GOOD_EXP("changed") BAD_EXP("pricing", WEIGHTS("treatment", "45"))),
         "roostctl: bad.json: experiments.bad.weights: weights sum to 95, expected 100\n"},
        {"an unknown flag",
         DOC(", " FLAG("pricing"), GOOD_EXP("changed") BAD_EXP("chekout-button", "")),
         "roostctl: bad.json: experiments.bad.flag: unknown flag 'chekout-button' (the "
         "document's flags: checkout-button, pricing; did you mean 'checkout-button'?)\n"},
        {"arms missing from the flag",
         DOC(", " FLAG("pricing"),
             GOOD_EXP("changed") BAD_EXP("pricing", WEIGHTS("purple", "50"))),
         "roostctl: bad.json: experiments.bad.weights: arms missing from the flag: 'purple' is "
         "not a variant of flag 'pricing' (its variants: 'control', 'treatment')\n"},
        {"a flag whose own targeting splits 48/52",
         DOC(", \"pricing\": {\"state\": \"ENABLED\", \"variants\": {\"control\": \"a\", "
             "\"treatment\": \"b\"}, \"defaultVariant\": \"control\", \"targeting\": "
             "{\"fractional\": [{\"var\": \"targetingKey\"}, [\"control\", 48], "
             "[\"treatment\", 52]]}}",
             GOOD_EXP("changed") BAD_EXP("pricing", "")),
         "roostctl: bad.json: experiments.bad: flag 'pricing' does not split units as planned "
         "(chi-square "},
    };
    struct roostd_proc p;
    char path[700];
    uint64_t revision;
    cJSON *before, *after;

    (void)state;
    start_roostd(&p);
    revision = sdk_apply_document(&p, DOC("", GOOD_EXP("Green converts better.")));
    assert_true(revision > 0);
    {
        const char *args[] = {"experiment", "list", NULL};
        before = ctl_json(&p, args);
    }
    snprintf(path, sizeof path, "%s/bad.json", p.data_dir);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *args[] = {"--timeout", "60", "apply", "-f", path, NULL};
        harness_write_file(path, cases[i].doc);
        ctl(&p, 1, args);
        fprintf(stderr, "%s: %s", cases[i].what, ctl_err);
        if (!strstr(ctl_err, cases[i].expect))
            fail_msg("%s: '%s' does not say '%s'", cases[i].what, ctl_err, cases[i].expect);
    }
    /* Nothing changed: same revision, same experiments. */
    assert_int_equal(sdk_status_u64(&p, "revision"), revision);
    {
        const char *args[] = {"experiment", "list", NULL};
        after = ctl_json(&p, args);
    }
    assert_int_equal(cJSON_GetArraySize(after), 1);
    assert_true(cJSON_Compare(before, after, true));
    assert_string_equal(str_at(cJSON_GetArrayItem(after, 0), "hypothesis"),
                        "Green converts better.");
    cJSON_Delete(before);
    cJSON_Delete(after);
    assert_int_equal(roostd_stop(&p, SIGTERM), 0);
#undef GOOD_EXP
#undef BAD_EXP
#undef WEIGHTS
#undef DOC
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(true_lift_is_detected_and_the_early_win_rule_stops_the_experiment),
        cmocka_unit_test(aa_experiment_stays_not_significant_and_keeps_running),
        cmocka_unit_test(skewed_exposures_raise_srm_and_block_a_ship_conclusion),
        cmocka_unit_test(harmed_guardrail_stops_the_experiment_at_once),
        cmocka_unit_test(bad_experiment_documents_are_rejected_and_change_nothing),
    };

    harness_init(argc, argv);
    return roost_run_tests("experiment", tests);
}
