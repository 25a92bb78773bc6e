/* Decision-quality benchmark: how fast bad canaries are rolled back, how
 * much damage they do first, how often healthy ones are rolled back, and
 * how long a healthy one takes to go out, for Roost and for the policies
 * people run today (Flagger's default analysis, an Argo Rollouts
 * background analysis), on the same simulated traffic.
 *
 *   bench_decision [--runs N] [--seed S] [--json] SCENARIO.json...
 *
 * Every scenario file (tools/sim's format, docs/simulator.md) is run N
 * times per policy, seeds S .. S+N-1; a seed fixes the traffic and every
 * per-second draw (tools/sim/rng.h), so the three policies see the same
 * traces and differ only by their decisions. Roost runs the scenario's
 * own rollout through roostd's controller loop; Flagger and Argo run with
 * the scenario's "reference" settings (defaults: flagger.h, argo.h).
 *
 * Output: a Markdown table of bad canaries ("expect": "rollback") and one
 * of healthy canaries ("expect": "promote"), as docs/BENCHMARKS.md quotes
 * them; --json prints one statistics object per (scenario, policy)
 * instead. Deterministic: the same files, runs and seed give the same
 * output on every machine (the wall time, on stderr, aside).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/bench/decision/argo.h"
#include "tools/bench/decision/flagger.h"
#include "tools/bench/decision/runs.h"
#include "tools/sim/controller.h"
#include "tools/sim/report.h"
#include "tools/sim/scenario.h"
#include "tools/sim/virtual.h"

#define NPOLICIES 3
#define MAX_SCENARIOS 64

static const char *const POLICY_NAME[NPOLICIES] = {"Roost", "Flagger default", "Argo-style"};

struct row {
    struct sim_scenario *sc;
    struct sim_summary sum[NPOLICIES];
};

static void usage(FILE *out)
{
    fputs("Usage: bench_decision [--runs N] [--seed S] [--json] SCENARIO.json...\n"
          "\n"
          "Runs each scenario N times (default 500) under Roost's rollout, Flagger's default\n"
          "analysis and an Argo Rollouts-style background analysis, on the same seeded traffic,\n"
          "and prints time to roll back, blast radius, false rollbacks and time to promote.\n"
          "Scenarios need \"expect\": \"rollback\" or \"promote\" (docs/simulator.md).\n",
          out);
}

static bool parse_u64(const char *opt, const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (!s || !*s || *s == '-') {
        fprintf(stderr, "bench_decision: %s needs a whole number from %llu to %llu\n", opt,
                (unsigned long long)lo, (unsigned long long)hi);
        return false;
    }
    v = strtoull(s, &end, 10);
    if (*end || v < lo || v > hi) {
        fprintf(stderr, "bench_decision: %s: expected a whole number from %llu to %llu, got '%s'\n",
                opt, (unsigned long long)lo, (unsigned long long)hi, s);
        return false;
    }
    *out = v;
    return true;
}

/* Runs one scenario under every policy. */
static roost_status run_scenario(struct sim_world *w, struct row *r, uint64_t runs, uint64_t seed,
                                 roost_error *err)
{
    const struct sim_scenario *sc = r->sc;
    struct sim_roost *roost = NULL;
    struct bench_flagger *flagger = NULL;
    struct bench_argo *argo = NULL;
    struct sim_policy p[NPOLICIES];
    roost_status rc;

    if ((rc = sim_roost_new(&sc->spec, sc->settle_ms, NULL, NULL, &roost, err)) != ROOST_OK ||
        (rc = bench_flagger_new(&sc->flagger, NULL, NULL, &flagger, err)) != ROOST_OK ||
        (rc = bench_argo_new(&sc->argo, NULL, NULL, &argo, err)) != ROOST_OK)
        goto done;
    sim_roost_policy(roost, &p[0]);
    bench_flagger_policy(flagger, &p[1]);
    bench_argo_policy(argo, &p[2]);
    for (int k = 0; k < NPOLICIES; k++)
        if ((rc = bench_run_policy(w, sc, &p[k], POLICY_NAME[k], runs, seed, &r->sum[k], err)) !=
            ROOST_OK)
            goto done;
done:
    sim_roost_free(roost);
    bench_flagger_free(flagger);
    bench_argo_free(argo);
    return rc;
}

static void print_bad(const struct row *rows, size_t n)
{
    char a[32], b[32], c[32], d[32], e[32], g[32];

    puts("### Bad canaries (should be rolled back)\n");
    puts("| scenario | policy | rolled back | promoted (missed) | paused / unfinished | "
         "time to roll back p50 / p90 | vs Flagger (p50) | canary requests before rollback, mean | "
         "errors beyond the baseline's, mean / p90 |");
    puts("|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for (size_t i = 0; i < n; i++) {
        const struct sim_summary *f = &rows[i].sum[1];
        if (rows[i].sc->expect != SIM_EXPECT_ROLLBACK)
            continue;
        for (int k = 0; k < NPOLICIES; k++) {
            const struct sim_summary *s = &rows[i].sum[k];
            double speed = f->rollback_s.p50 / s->rollback_s.p50;
            printf("| %s | %s | %.2f %% | %zu | %zu | %s / %s | %s | %s | %s / %s |\n",
                   k ? "" : rows[i].sc->name, POLICY_NAME[k], bench_pct(s->rolled_back, s->runs), s->promoted,
                   s->paused + s->unfinished, bench_secs(a, sizeof a, s->rollback_s.p50),
                   bench_secs(b, sizeof b, s->rollback_s.p90),
                   k == 1 || !isfinite(speed) ? "" : (snprintf(c, sizeof c, "%.1f×", speed), c),
                   bench_num(d, sizeof d, s->blast_requests.mean, 0), bench_num(e, sizeof e, s->blast_excess.mean, 1),
                   bench_num(g, sizeof g, s->blast_excess.p90, 1));
        }
    }
    puts("");
}

static void print_healthy(const struct row *rows, size_t n)
{
    char a[32], b[32];

    puts("### Healthy canaries (should be promoted)\n");
    puts("| scenario | policy | false rollbacks | 95 % upper bound | promoted | paused / unfinished | "
         "time to promote p50 / p90 |");
    puts("|---|---|---:|---:|---:|---:|---:|");
    for (size_t i = 0; i < n; i++) {
        if (rows[i].sc->expect != SIM_EXPECT_PROMOTE)
            continue;
        for (int k = 0; k < NPOLICIES; k++) {
            const struct sim_summary *s = &rows[i].sum[k];
            printf("| %s | %s | %zu / %zu (%.2f %%) | %.2f %% | %zu | %zu | %s / %s |\n",
                   k ? "" : rows[i].sc->name, POLICY_NAME[k], s->rolled_back, s->runs,
                   bench_pct(s->rolled_back, s->runs), 100.0 * s->rollback_rate_hi95, s->promoted,
                   s->paused + s->unfinished, bench_secs(a, sizeof a, s->promote_s.p50),
                   bench_secs(b, sizeof b, s->promote_s.p90));
        }
    }
    puts("");
}

int main(int argc, char **argv)
{
    static struct row rows[MAX_SCENARIOS];
    uint64_t runs = 500, seed = 1;
    size_t n = 0;
    bool json = false;
    struct sim_world world;
    roost_error err = {0};
    struct timespec t0, t1;
    int rc = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--runs") == 0) {
            if (!parse_u64("--runs", i + 1 < argc ? argv[++i] : NULL, 1, 1000000, &runs))
                return 2;
        } else if (strcmp(argv[i], "--seed") == 0) {
            if (!parse_u64("--seed", i + 1 < argc ? argv[++i] : NULL, 0, UINT64_MAX / 2, &seed))
                return 2;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "bench_decision: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        } else if (n == MAX_SCENARIOS) {
            fprintf(stderr, "bench_decision: at most %d scenarios per run\n", MAX_SCENARIOS);
            return 2;
        } else {
            struct sim_scenario *sc = calloc(1, sizeof *sc);
            if (!sc || sim_scenario_load(argv[i], sc, &err) != ROOST_OK) {
                fprintf(stderr, "bench_decision: %s\n", sc ? err.msg : "out of memory");
                free(sc);
                rc = 2;
                goto out;
            }
            rows[n++].sc = sc;
            if (sc->expect == SIM_EXPECT_NONE) {
                fprintf(stderr, "bench_decision: %s: expect: the benchmark needs \"rollback\" or "
                                "\"promote\" to know what a right decision is\n",
                        argv[i]);
                rc = 2;
                goto out;
            }
        }
    }
    if (!n) {
        usage(stderr);
        return 2;
    }
    if (sim_world_init(&world, &err) != ROOST_OK) {
        fprintf(stderr, "bench_decision: %s\n", err.msg);
        rc = 1;
        goto out;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (size_t i = 0; i < n; i++) {
        if (run_scenario(&world, &rows[i], runs, seed, &err) != ROOST_OK) {
            fprintf(stderr, "bench_decision: %s: %s\n", rows[i].sc->name, err.msg);
            rc = 1;
            break;
        }
        if (json)
            for (int k = 0; k < NPOLICIES; k++)
                sim_print_summary(stdout, true, rows[i].sc, POLICY_NAME[k], seed, &rows[i].sum[k]);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    sim_world_free(&world);
    if (rc == 0 && !json) {
        printf("%zu scenarios x %d policies x %llu runs (seeds %llu-%llu)\n\n", n, NPOLICIES,
               (unsigned long long)runs, (unsigned long long)seed,
               (unsigned long long)(seed + runs - 1));
        print_bad(rows, n);
        print_healthy(rows, n);
    }
    if (rc == 0 && (fflush(stdout) != 0 || ferror(stdout))) {
        fprintf(stderr, "bench_decision: could not write the output\n");
        rc = 1;
    }
    if (rc == 0)
        fprintf(stderr, "bench_decision: %llu simulated rollouts in %.1f s\n",
                (unsigned long long)(n * NPOLICIES * runs),
                (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
out:
    for (size_t i = 0; i < n; i++) {
        sim_scenario_free(rows[i].sc);
        free(rows[i].sc);
    }
    return rc;
}
