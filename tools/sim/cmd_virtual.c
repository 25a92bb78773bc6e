/* roost-sim virtual: a scenario's rollout in virtual time.
 *
 * One run prints its timeline (one line per decision, or the decision
 * records as JSON) and its outcome. --runs N runs seeds S .. S+N-1 and
 * prints statistics (time to roll back or promote, blast radius, false
 * rollbacks); --timelines adds every run's timeline. Output for a given
 * scenario, seed and run count is the same on every machine.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/sim/cli.h"
#include "tools/sim/controller.h"
#include "tools/sim/report.h"
#include "tools/sim/scenario.h"
#include "tools/sim/virtual.h"

#define MAX_RUNS 1000000

void sim_cmd_virtual_help(void)
{
    puts("roost-sim virtual: the rollout of a scenario in virtual time\n"
         "\n"
         "Usage: roost-sim virtual SCENARIO.json [--runs N] [--seed S] [--json] [--timelines]\n"
         "\n"
         "Simulates the scenario's traffic second by second and drives the rollout decision\n"
         "library exactly as roostd's controller does (same windows, report delay and settle\n"
         "time), so the decisions are the ones roostd would make.\n"
         "\n"
         "Options:\n"
         "  --runs N      simulate N rollouts, seeds S, S+1, ..., and print statistics\n"
         "                (default 1: one run's timeline and outcome)\n"
         "  --seed S      first seed (default 1); the same seed gives the same run\n"
         "  --json        machine-readable: one JSON object per line, a run's object holding\n"
         "                the decision records exactly as roostd stores them\n"
         "  --timelines   with --runs N > 1, print every run's timeline before the statistics\n"
         "\n"
         "Exit status: 0 done, 1 the simulation failed, 2 bad command line or scenario file.");
}

struct opts {
    const char *scenario;
    uint64_t runs, seed;
    bool json, timelines;
};

static int parse_opts(int argc, char **argv, struct opts *o)
{
    o->scenario = NULL;
    o->runs = 1;
    o->seed = 1;
    o->json = o->timelines = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            sim_cmd_virtual_help();
            return -1;
        } else if (strcmp(a, "--runs") == 0 || strcmp(a, "--seed") == 0) {
            if (i + 1 >= argc)
                return sim_cli_usage_error("virtual", "%s needs a value", a);
            if (strcmp(a, "--runs") == 0 ? !sim_cli_u64(a, argv[++i], 1, MAX_RUNS, &o->runs)
                                         : !sim_cli_u64(a, argv[++i], 0, UINT64_MAX - MAX_RUNS, &o->seed))
                return SIM_EXIT_USAGE;
        } else if (strcmp(a, "--json") == 0) {
            o->json = true;
        } else if (strcmp(a, "--timelines") == 0) {
            o->timelines = true;
        } else if (a[0] == '-' && a[1]) {
            return sim_cli_usage_error("virtual", "unknown option '%s'", a);
        } else if (o->scenario) {
            return sim_cli_usage_error("virtual", "one scenario file at a time (got '%s' and '%s')",
                                       o->scenario, a);
        } else {
            o->scenario = a;
        }
    }
    if (!o->scenario)
        return sim_cli_usage_error("virtual", "missing the scenario file");
    return SIM_EXIT_OK;
}

int sim_cmd_virtual(int argc, char **argv)
{
    struct sim_scenario *sc;
    struct sim_world world;
    struct sim_roost *ctl = NULL;
    struct sim_printer pr;
    struct sim_policy policy;
    struct sim_stats stats;
    struct sim_summary sum;
    roost_error err = {0};
    struct opts o;
    bool print_runs;
    int rc = parse_opts(argc, argv, &o);

    if (rc != SIM_EXIT_OK)
        return rc < 0 ? SIM_EXIT_OK : rc; /* -1: --help was answered */
    /* About 30 KB (the rollout spec's fixed arrays): on the heap. */
    if (!(sc = calloc(1, sizeof *sc))) {
        fprintf(stderr, "roost-sim: out of memory\n");
        return SIM_EXIT_FAILED;
    }
    if (sim_scenario_load(o.scenario, sc, &err) != ROOST_OK) {
        fprintf(stderr, "roost-sim: %s\n", err.msg);
        free(sc);
        return err.code == ROOST_ENOMEM ? SIM_EXIT_FAILED : SIM_EXIT_USAGE;
    }
    sim_stats_init(&stats);
    if (sim_world_init(&world, &err) != ROOST_OK) {
        fprintf(stderr, "roost-sim: %s\n", err.msg);
        sim_scenario_free(sc);
        free(sc);
        return SIM_EXIT_FAILED;
    }
    print_runs = o.runs == 1 || o.timelines;
    sim_printer_init(&pr, stdout, o.json, SIM_T0_MS);
    if (sim_roost_new(&sc->spec, sc->settle_ms, print_runs ? sim_print_event : NULL, &pr, &ctl, &err) != ROOST_OK)
        goto failed;
    sim_roost_policy(ctl, &policy);

    for (uint64_t i = 0; i < o.runs; i++) {
        struct sim_outcome out;
        if (print_runs)
            sim_print_run_begin(&pr, sc, "roost", o.seed + i);
        if (sim_run(&world, sc, &policy, o.seed + i, sc->needs_latency, &out, &err) != ROOST_OK) {
            if (print_runs && !o.json)
                fflush(stdout);
            roost_error_prefix(&err, "seed %llu: ", (unsigned long long)(o.seed + i));
            goto failed;
        }
        if (print_runs)
            sim_print_run_end(&pr, sc, &out);
        if (sim_stats_add(&stats, &out, &err) != ROOST_OK)
            goto failed;
    }
    if (o.runs > 1) {
        if (sim_stats_summarize(&stats, sc, &sum, &err) != ROOST_OK)
            goto failed;
        sim_print_summary(stdout, o.json, sc, "roost", o.seed, &sum);
    }
    /* Output is the product: a full disk or a closed pipe is a failure. */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "roost-sim: could not write the output\n");
        rc = SIM_EXIT_FAILED;
        goto done;
    }
    rc = SIM_EXIT_OK;
    goto done;
failed:
    fflush(stdout);
    fprintf(stderr, "roost-sim: %s: %s\n", sc->name, err.msg);
    rc = SIM_EXIT_FAILED;
done:
    sim_roost_free(ctl);
    sim_stats_free(&stats);
    sim_world_free(&world);
    sim_scenario_free(sc);
    free(sc);
    return rc;
}
