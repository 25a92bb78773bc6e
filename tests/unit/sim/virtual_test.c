/* The virtual-time driver: runs are reproducible from their seed, two
 * policies on one seed see the same arrivals, roostd's settle time moves
 * each analysis one second after its window, a gate probe taken down by a
 * dependency outage pauses the rollout and its return resumes it, and a
 * policy that never decides runs to the scenario's duration. */
#include <stdlib.h>
#include <string.h>

#include "testmain.h"
#include "tools/sim/controller.h"
#include "tools/sim/virtual.h"

static const char *const SCENARIO =
    "{\"traffic\": {\"rate\": 100}, \"duration\": \"10m\","
    " \"baseline\": {\"errorRate\": 0.01}, \"canary\": {\"errorRate\": %s},"
    " \"incidents\": [%s],"
    " \"rollouts\": {\"checkout-v2\": {\"service\": \"checkout\", \"baseline\": \"v1\", \"canary\": \"v2\","
    "  \"steps\": [{\"setWeight\": 10}, {\"analysis\": {}}, {\"setWeight\": 50}, {\"analysis\": {}},"
    "   {\"setWeight\": 100}],"
    "  \"analysis\": {\"interval\": \"10s\", \"count\": 3, \"metrics\": ["
    "   {\"name\": \"error-rate\", \"type\": \"threshold\", \"stat\": \"error_rate\", \"max\": 0.05, \"minSamples\": 50},"
    "   {\"name\": \"errors-vs-baseline\", \"type\": \"compare\", \"stat\": \"error_rate\"}]}%s}}}";

struct fixture {
    struct sim_scenario sc;
    struct sim_world world;
    struct sim_roost *ctl;
    struct sim_policy policy;
    char timeline[16384];
    size_t len;
};

static void on_event(void *user, const struct sim_event *ev)
{
    struct fixture *f = user;
    int w;

    if (f->len >= sizeof f->timeline)
        return;
    w = snprintf(f->timeline + f->len, sizeof f->timeline - f->len, "%lld %s\n",
                 (long long)(ev->at_ms - SIM_T0_MS), ev->summary);
    if (w > 0)
        f->len = (size_t)w >= sizeof f->timeline - f->len ? sizeof f->timeline : f->len + (size_t)w;
}

static struct fixture *setup(const char *canary_error, const char *incidents, const char *extra)
{
    struct fixture *f = calloc(1, sizeof *f);
    char json[4096];
    roost_error err = {0};

    assert_non_null(f);
    snprintf(json, sizeof json, SCENARIO, canary_error, incidents, extra);
    if (sim_scenario_parse(json, strlen(json), "test", &f->sc, &err) != ROOST_OK)
        fail_msg("scenario: %s", err.msg);
    assert_int_equal(sim_world_init(&f->world, &err), ROOST_OK);
    assert_int_equal(sim_roost_new(&f->sc.spec, f->sc.settle_ms, on_event, f, &f->ctl, &err), ROOST_OK);
    sim_roost_policy(f->ctl, &f->policy);
    return f;
}

static void teardown(struct fixture *f)
{
    sim_roost_free(f->ctl);
    sim_world_free(&f->world);
    sim_scenario_free(&f->sc);
    free(f);
}

static struct sim_outcome run(struct fixture *f, const struct sim_policy *p, uint64_t seed)
{
    struct sim_outcome o;
    roost_error err = {0};

    f->len = 0;
    f->timeline[0] = '\0';
    if (sim_run(&f->world, &f->sc, p, seed, false, &o, &err) != ROOST_OK)
        fail_msg("run: %s", err.msg);
    return o;
}

static void same_seed_gives_the_same_run(void **state)
{
    struct fixture *f = setup("0.01", "", "");
    struct sim_outcome a, b;
    char first[16384];
    (void)state;

    a = run(f, &f->policy, 77);
    memcpy(first, f->timeline, sizeof first);
    b = run(f, &f->policy, 77);
    assert_string_equal(first, f->timeline);
    assert_memory_equal(&a, &b, sizeof a);
    b = run(f, &f->policy, 78);
    assert_true(b.requests != a.requests);
    teardown(f);
}

static void healthy_canary_is_promoted_and_bad_one_rolled_back(void **state)
{
    struct fixture *f = setup("0.01", "", "");
    struct fixture *g = setup("0.05", "", "");
    struct sim_outcome o;
    (void)state;

    o = run(f, &f->policy, 1);
    if (o.phase != SIM_PROMOTED)
        fail_msg("not promoted:\n%s", f->timeline);
    assert_int_equal(o.weight, 100);
    o = run(g, &g->policy, 1);
    if (o.phase != SIM_ROLLED_BACK)
        fail_msg("not rolled back:\n%s", g->timeline);
    assert_int_equal(o.weight, 0);
    assert_int_equal(o.max_weight, 10);
    assert_true(o.excess_errors > 0);
    teardown(f);
    teardown(g);
}

static void analyses_run_one_settle_time_after_their_window(void **state)
{
    struct fixture *f = setup("0.01", "", "");
    (void)state;

    (void)run(f, &f->policy, 1);
    /* the run due at 10 s judges [0 s, 10 s) and is made at 11 s */
    if (!strstr(f->timeline, "\n11000 analysis "))
        fail_msg("no analysis at 11 s:\n%s", f->timeline);
    teardown(f);
}

/* A policy that holds a fixed weight and never decides. */
struct fixed {
    uint32_t weight;
};
static roost_status fx_start(void *s, int64_t now, roost_error *e)
{
    (void)s, (void)now, (void)e;
    return ROOST_OK;
}
static roost_status fx_tick(void *s, int64_t now, const struct sim_view *v, roost_error *e)
{
    (void)s, (void)now, (void)v, (void)e;
    return ROOST_OK;
}
static int64_t fx_next(const void *s, int64_t now)
{
    (void)s, (void)now;
    return SIM_NEVER;
}
static uint32_t fx_weight(const void *s)
{
    return ((const struct fixed *)s)->weight;
}
static enum sim_phase fx_phase(const void *s)
{
    (void)s;
    return SIM_RUNNING;
}
static const struct sim_policy_ops FIXED = {"fixed", fx_start, fx_tick, fx_next, fx_weight, fx_phase};

static void policies_on_one_seed_see_the_same_arrivals(void **state)
{
    struct fixture *f = setup("0.01", "", "");
    struct fixed w0 = {0}, w50 = {50};
    struct sim_policy p0 = {&FIXED, &w0}, p50 = {&FIXED, &w50};
    struct sim_outcome a, b;
    (void)state;

    a = run(f, &p0, 5);
    b = run(f, &p50, 5);
    /* a policy that never decides runs to the scenario's duration */
    assert_int_equal(a.phase, SIM_RUNNING);
    assert_int_equal(a.end_ms, 600000);
    assert_int_equal(a.requests, b.requests);
    assert_int_equal(a.canary_requests, 0);
    assert_true(b.canary_requests > 25000 && b.canary_requests < 35000);
    teardown(f);
}

static void gate_probe_down_pauses_and_its_return_resumes(void **state)
{
    struct fixture *f = setup("0.01",
                              "{\"type\": \"dependency_outage\", \"start\": \"15s\", \"duration\": \"1m\","
                              " \"magnitude\": 0.2, \"probe\": \"payments-db\"}",
                              ", \"gates\": {\"probes\": [\"payments-db\"]}");
    struct sim_outcome o;
    (void)state;

    o = run(f, &f->policy, 2);
    if (!strstr(f->timeline, "\n15000 paused") || !strstr(f->timeline, "\n75000 resumed"))
        fail_msg("no gate pause at 15 s and resume at 75 s:\n%s", f->timeline);
    if (o.phase != SIM_PROMOTED)
        fail_msg("not promoted after the outage:\n%s", f->timeline);
    teardown(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_seed_gives_the_same_run),
        cmocka_unit_test(healthy_canary_is_promoted_and_bad_one_rolled_back),
        cmocka_unit_test(analyses_run_one_settle_time_after_their_window),
        cmocka_unit_test(policies_on_one_seed_see_the_same_arrivals),
        cmocka_unit_test(gate_probe_down_pauses_and_its_return_resumes),
    };
    return roost_run_tests("sim_virtual", tests);
}
