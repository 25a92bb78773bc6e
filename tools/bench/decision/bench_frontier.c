/* The trade-off between speed and false rollbacks, and how close Roost is
 * to the best any policy could do on it.
 *
 *   bench_frontier [--runs N] [--healthy-runs M] [--seed S] [--alphas LIST]
 *                  [--ratio R] [--json] BAD.json HEALTHY.json
 *
 * A rollout's alpha moves it along one curve: a smaller alpha rolls back
 * fewer healthy canaries and takes longer to roll back a bad one. For each
 * alpha of LIST this runs BAD (a scenario that should be rolled back) N
 * times and HEALTHY (one that should be promoted) M times, under
 *   - Roost, the scenarios' own rollouts with that alpha on every compare
 *     of error rates at margin 0 (the rate-ratio e-process), and
 *   - the oracle (oracle.h): the SPRT told the regression's size R
 *     (default: BAD's canary error rate over its baseline's), looking
 *     every second, at the same alpha, and, when both scenarios have one
 *     steady baseline error rate, the SPRT told that rate too,
 * and prints each one's false rollbacks beside its time to roll back.
 * Flagger's default analysis runs once on the same traces, as the bar.
 * Reading across rows at equal false rollbacks shows the time no policy
 * reading the same error counts could beat, and Roost's distance from it.
 *
 * Deterministic like bench_decision: same files, runs and seed, same
 * output. docs/BENCHMARKS.md, "Decision quality", quotes it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/bench/decision/flagger.h"
#include "tools/bench/decision/oracle.h"
#include "tools/bench/decision/runs.h"
#include "tools/sim/controller.h"

#define MAX_ALPHAS 16

static const double DEFAULT_ALPHAS[] = {0.01, 0.005, 0.002, 0.001, 0.0005, 0.0002, 0.0001};

struct result {
    struct sim_summary bad, healthy;
};

static void usage(FILE *out)
{
    fputs("Usage: bench_frontier [--runs N] [--healthy-runs M] [--seed S] [--alphas LIST]\n"
          "                      [--ratio R] [--json] BAD.json HEALTHY.json\n"
          "\n"
          "For each alpha in LIST (comma-separated, default 0.01,0.005,0.002,0.001,0.0005,\n"
          "0.0002,0.0001), runs BAD N times (default 2000) and HEALTHY M times (default 20000)\n"
          "under Roost's rollout at that alpha and under an oracle SPRT told the regression's\n"
          "size R (default: BAD's canary error rate / its baseline's) -- and told the\n"
          "baseline's error rate too, when both scenarios have one steady rate -- and prints\n"
          "false rollbacks beside time to roll back. Flagger's default runs once, as the bar.\n",
          out);
}

static bool parse_u64(const char *opt, const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (!s || !*s || *s == '-' || (v = strtoull(s, &end, 10), *end) || v < lo || v > hi) {
        fprintf(stderr, "bench_frontier: %s: expected a whole number from %llu to %llu, got '%s'\n",
                opt, (unsigned long long)lo, (unsigned long long)hi, s ? s : "");
        return false;
    }
    *out = v;
    return true;
}

static bool parse_alphas(const char *s, double *alphas, size_t *n)
{
    *n = 0;
    while (s && *s) {
        char *end;
        double a = strtod(s, &end);
        if (end == s || !(a > 0 && a < 1) || (*end && *end != ',')) {
            fprintf(stderr, "bench_frontier: --alphas: expected numbers in (0, 1) separated by "
                            "commas, e.g. 0.01,0.001; got '%s'\n", s);
            return false;
        }
        if (*n == MAX_ALPHAS) {
            fprintf(stderr, "bench_frontier: --alphas: at most %d values\n", MAX_ALPHAS);
            return false;
        }
        alphas[(*n)++] = a;
        s = *end ? end + 1 : end;
    }
    if (!*n) {
        fprintf(stderr, "bench_frontier: --alphas needs at least one value\n");
        return false;
    }
    return true;
}

/* Sets alpha on every rate-ratio check of sc's rollout; false when it has
 * none, since then alpha would not move it. */
static bool set_alpha(struct sim_scenario *sc, double alpha)
{
    bool any = false;

    for (size_t i = 0; i < sc->spec.analysis.nchecks; i++) {
        if (rollout_check_is_rate_ratio(&sc->spec.analysis.checks[i])) {
            sc->spec.analysis.checks[i].alpha = alpha;
            any = true;
        }
    }
    return any;
}

enum who { ROOST, ORACLE, FLAGGER };

/* Runs sc under one policy: Roost (the scenario's rollout, at the alpha
 * set on it), the oracle (ratio, alpha, baseline_rate: oracle.h) or
 * Flagger's default. */
static roost_status run(struct sim_world *w, const struct sim_scenario *sc, enum who who,
                        double ratio, double alpha, double baseline_rate, uint64_t runs,
                        uint64_t seed, struct sim_summary *out, roost_error *err)
{
    static const char *const NAME[] = {"Roost", "oracle", "Flagger default"};
    struct sim_roost *r = NULL;
    struct bench_oracle *o = NULL;
    struct bench_flagger *f = NULL;
    struct sim_policy p;
    roost_status rc;

    switch (who) {
    case ROOST:
        if ((rc = sim_roost_new(&sc->spec, sc->settle_ms, NULL, NULL, &r, err)) == ROOST_OK)
            sim_roost_policy(r, &p);
        break;
    case ORACLE:
        if ((rc = bench_oracle_new(&sc->spec, ratio, alpha, baseline_rate, NULL, NULL, &o, err)) ==
            ROOST_OK)
            bench_oracle_policy(o, &p);
        break;
    default:
        if ((rc = bench_flagger_new(&sc->flagger, NULL, NULL, &f, err)) == ROOST_OK)
            bench_flagger_policy(f, &p);
        break;
    }
    if (rc == ROOST_OK)
        rc = bench_run_policy(w, sc, &p, NAME[who], runs, seed, out, err);
    sim_roost_free(r);
    bench_oracle_free(o);
    bench_flagger_free(f);
    return rc;
}

/* One policy on both scenarios: bad runs times, healthy healthy_runs. */
static roost_status run_both(struct sim_world *w, const struct sim_scenario *bad,
                             const struct sim_scenario *healthy, enum who who, double ratio,
                             double alpha, double baseline_rate, uint64_t runs,
                             uint64_t healthy_runs, uint64_t seed, struct result *out,
                             roost_error *err)
{
    roost_status rc = run(w, bad, who, ratio, alpha, baseline_rate, runs, seed, &out->bad, err);

    return rc != ROOST_OK ? rc
                          : run(w, healthy, who, ratio, alpha, baseline_rate, healthy_runs, seed,
                                &out->healthy, err);
}

static void print_row(const char *policy, const char *alpha, const struct result *r)
{
    char a[32], b[32], c[32], d[32], e[32], f[32], g[32];

    printf("| %s | %s | %zu / %zu (%s %%) | %s %% | %s / %s | %s %% | %s / %s |\n", policy, alpha,
           r->healthy.rolled_back, r->healthy.runs,
           bench_num(a, sizeof a, bench_pct(r->healthy.rolled_back, r->healthy.runs), 3),
           bench_num(b, sizeof b, 100.0 * r->healthy.rollback_rate_hi95, 3),
           bench_secs(c, sizeof c, r->bad.rollback_s.p50), bench_secs(d, sizeof d, r->bad.rollback_s.p90),
           bench_num(e, sizeof e, bench_pct(r->bad.rolled_back, r->bad.runs), 2),
           bench_num(f, sizeof f, r->bad.blast_excess.mean, 1),
           bench_num(g, sizeof g, r->bad.blast_excess.p90, 1));
}

/* A JSON number, or null for what has no value (no alpha for Flagger, no
 * time to roll back when nothing was rolled back). */
static void json_num(const char *key, double v)
{
    if (isfinite(v))
        printf(",\"%s\":%.17g", key, v);
    else
        printf(",\"%s\":null", key);
}

static void print_json(const char *policy, double alpha, double ratio, const struct result *r)
{
    printf("{\"policy\":\"%s\"", policy);
    json_num("alpha", alpha);
    json_num("ratio", ratio);
    printf(",\"healthy_runs\":%zu,\"false_rollbacks\":%zu", r->healthy.runs, r->healthy.rolled_back);
    json_num("false_rollback_hi95", r->healthy.rollback_rate_hi95);
    printf(",\"bad_runs\":%zu,\"rolled_back\":%zu", r->bad.runs, r->bad.rolled_back);
    json_num("rollback_p50_s", r->bad.rollback_s.p50);
    json_num("rollback_p90_s", r->bad.rollback_s.p90);
    json_num("excess_errors_mean", r->bad.blast_excess.mean);
    printf("}\n");
}

int main(int argc, char **argv)
{
    double alphas[MAX_ALPHAS], ratio = 0, baseline_rate = 0;
    size_t nalphas = sizeof DEFAULT_ALPHAS / sizeof DEFAULT_ALPHAS[0];
    uint64_t runs = 2000, healthy_runs = 20000, seed = 1;
    const char *files[2] = {NULL, NULL};
    size_t nfiles = 0;
    bool json = false, worlds = false;
    static struct sim_scenario bad, healthy;
    struct sim_world world;
    struct result flagger, roost, oracle, oracle_b;
    roost_error err = {0};
    struct timespec t0, t1;
    int rc = 0;

    memcpy(alphas, DEFAULT_ALPHAS, sizeof DEFAULT_ALPHAS);
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--runs") == 0) {
            if (!parse_u64("--runs", v, 1, 1000000, &runs))
                return 2;
            i++;
        } else if (strcmp(argv[i], "--healthy-runs") == 0) {
            if (!parse_u64("--healthy-runs", v, 1, 10000000, &healthy_runs))
                return 2;
            i++;
        } else if (strcmp(argv[i], "--seed") == 0) {
            if (!parse_u64("--seed", v, 0, UINT64_MAX / 2, &seed))
                return 2;
            i++;
        } else if (strcmp(argv[i], "--alphas") == 0) {
            if (!parse_alphas(v, alphas, &nalphas))
                return 2;
            i++;
        } else if (strcmp(argv[i], "--ratio") == 0) {
            char *end;
            ratio = v ? strtod(v, &end) : 0;
            if (!v || *end || !(ratio > 1) || !isfinite(ratio)) {
                fprintf(stderr, "bench_frontier: --ratio: expected a number above 1 (the canary's "
                                "error rate over the baseline's), got '%s'\n", v ? v : "");
                return 2;
            }
            i++;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "bench_frontier: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        } else if (nfiles == 2) {
            fprintf(stderr, "bench_frontier: expected two scenario files, BAD and HEALTHY; '%s' is "
                            "a third\n", argv[i]);
            return 2;
        } else {
            files[nfiles++] = argv[i];
        }
    }
    if (nfiles != 2) {
        usage(stderr);
        return 2;
    }
    if (sim_scenario_load(files[0], &bad, &err) != ROOST_OK ||
        sim_scenario_load(files[1], &healthy, &err) != ROOST_OK) {
        fprintf(stderr, "bench_frontier: %s\n", err.msg);
        rc = 2;
        goto out;
    }
    if (bad.expect != SIM_EXPECT_ROLLBACK || healthy.expect != SIM_EXPECT_PROMOTE) {
        fprintf(stderr, "bench_frontier: the first scenario must expect \"rollback\" and the second "
                        "\"promote\" (%s expects %s, %s expects %s)\n",
                files[0], bad.expect == SIM_EXPECT_ROLLBACK ? "rollback" : "no rollback", files[1],
                healthy.expect == SIM_EXPECT_PROMOTE ? "promote" : "no promotion");
        rc = 2;
        goto out;
    }
    if (ratio == 0) {
        double b = bad.model.arm[ROLLOUT_ARM_BASELINE].error_rate;
        double c = bad.model.arm[ROLLOUT_ARM_CANARY].error_rate;
        if (!(b > 0 && c > b)) {
            fprintf(stderr, "bench_frontier: %s: its canary's error rate (%g) is not above a "
                            "baseline's above 0 (%g), so the regression's size is not known; "
                            "give it with --ratio\n", files[0], c, b);
            rc = 2;
            goto out;
        }
        ratio = c / b;
    }
    /* The second oracle is told the baseline's error rate: only meaningful
     * when it is one number, the same in both scenarios and at all times. */
    if (bad.model.nincidents == 0 && healthy.model.nincidents == 0 &&
        bad.model.arm[ROLLOUT_ARM_BASELINE].error_rate ==
            healthy.model.arm[ROLLOUT_ARM_BASELINE].error_rate &&
        bad.model.arm[ROLLOUT_ARM_BASELINE].error_rate * ratio < 1)
        baseline_rate = bad.model.arm[ROLLOUT_ARM_BASELINE].error_rate;
    {
        bool bad_ok = set_alpha(&bad, alphas[0]), healthy_ok = set_alpha(&healthy, alphas[0]);
        if (!bad_ok || !healthy_ok) {
            fprintf(stderr, "bench_frontier: %s has no compare of error rates at margin 0 (the "
                            "default check), so alpha does not move it\n",
                    bad_ok ? files[1] : files[0]);
            rc = 2;
            goto out;
        }
    }
    if (sim_world_init(&world, &err) != ROOST_OK) {
        fprintf(stderr, "bench_frontier: %s\n", err.msg);
        rc = 1;
        goto out;
    }
    worlds = true;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (run_both(&world, &bad, &healthy, FLAGGER, 0, 0, 0, runs, healthy_runs, seed, &flagger,
                 &err) != ROOST_OK)
        goto failed;
    if (json) {
        print_json("Flagger default", NAN, ratio, &flagger);
    } else {
        printf("%s (%llu runs) and %s (%llu runs), seeds from %llu; oracle ratio %g\n\n",
               bad.name, (unsigned long long)runs, healthy.name, (unsigned long long)healthy_runs,
               (unsigned long long)seed, ratio);
        puts("| policy | alpha | healthy canaries rolled back | 95 % upper bound | "
             "time to roll back p50 / p90 | bad canaries rolled back | "
             "errors beyond the baseline's, mean / p90 |");
        puts("|---|---:|---:|---:|---:|---:|---:|");
        print_row("Flagger default", "–", &flagger);
    }
    for (size_t k = 0; k < nalphas; k++) {
        char a[32];
        set_alpha(&bad, alphas[k]);
        set_alpha(&healthy, alphas[k]);
        if (run_both(&world, &bad, &healthy, ROOST, 0, 0, 0, runs, healthy_runs, seed, &roost,
                     &err) != ROOST_OK ||
            run_both(&world, &bad, &healthy, ORACLE, ratio, alphas[k], 0, runs, healthy_runs, seed,
                     &oracle, &err) != ROOST_OK ||
            (baseline_rate > 0 && run_both(&world, &bad, &healthy, ORACLE, ratio, alphas[k],
                                           baseline_rate, runs, healthy_runs, seed, &oracle_b,
                                           &err) != ROOST_OK))
            goto failed;
        snprintf(a, sizeof a, "%g", alphas[k]);
        if (json) {
            print_json("Roost", alphas[k], ratio, &roost);
            print_json("oracle", alphas[k], ratio, &oracle);
            if (baseline_rate > 0)
                print_json("oracle, baseline known", alphas[k], ratio, &oracle_b);
        } else {
            print_row("Roost", a, &roost);
            print_row("*oracle SPRT*", a, &oracle);
            if (baseline_rate > 0)
                print_row("*oracle SPRT, baseline known*", a, &oracle_b);
        }
        fflush(stdout);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "bench_frontier: could not write the output\n");
        rc = 1;
        goto out;
    }
    fprintf(stderr, "bench_frontier: %llu simulated rollouts in %.1f s\n",
            (unsigned long long)((runs + healthy_runs) * (1 + nalphas * (baseline_rate > 0 ? 3 : 2))),
            (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    goto out;
failed:
    fprintf(stderr, "bench_frontier: %s\n", err.msg);
    rc = 1;
out:
    if (worlds)
        sim_world_free(&world);
    sim_scenario_free(&bad);
    sim_scenario_free(&healthy);
    return rc;
}
