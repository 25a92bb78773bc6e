/* Running a policy over seeded runs, and the tables' number formats. */
#include "tools/bench/decision/runs.h"

#include <math.h>
#include <stdio.h>

roost_status bench_run_policy(struct sim_world *w, const struct sim_scenario *sc,
                              const struct sim_policy *p, const char *name, uint64_t runs,
                              uint64_t seed, struct sim_summary *out, roost_error *err)
{
    bool latency = bench_needs_latency(sc);
    struct sim_stats st;
    roost_status rc = ROOST_OK;

    sim_stats_init(&st);
    for (uint64_t i = 0; i < runs; i++) {
        struct sim_outcome o;
        if ((rc = sim_run(w, sc, p, seed + i, latency, &o, err)) != ROOST_OK) {
            roost_error_prefix(err, "%s, seed %llu: ", name, (unsigned long long)(seed + i));
            goto done;
        }
        if ((rc = sim_stats_add(&st, &o, err)) != ROOST_OK)
            goto done;
    }
    rc = sim_stats_summarize(&st, sc, out, err);
done:
    sim_stats_free(&st);
    return rc;
}

bool bench_needs_latency(const struct sim_scenario *sc)
{
    return sc->needs_latency || sc->flagger.p99_max_ms > 0 || sc->argo.p99_max_ms > 0;
}

const char *bench_secs(char *buf, size_t cap, double s)
{
    if (!isfinite(s))
        snprintf(buf, cap, "–");
    else
        snprintf(buf, cap, "%.0f s", s);
    return buf;
}

const char *bench_num(char *buf, size_t cap, double x, int decimals)
{
    if (!isfinite(x)) {
        snprintf(buf, cap, "–");
        return buf;
    }
    if (fabs(x) < 0.5 * pow(10, -decimals))
        x = 0; /* no "-0.0" */
    snprintf(buf, cap, "%.*f", decimals, x);
    return buf;
}

double bench_pct(size_t x, size_t n)
{
    return n ? 100.0 * (double)x / (double)n : NAN;
}
