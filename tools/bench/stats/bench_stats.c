/* Benchmarks for the latency sketch and the statistics library: memory per
 * stored sketch and nanoseconds per operation. Every timing is the median of
 * RUNS repeated runs (the machines are shared and noisy); inputs come from a
 * fixed seed, so two runs measure the same work.
 *
 *     bazel run //tools/bench/stats:bench_stats
 *
 * Output is Markdown, pasted into docs/BENCHMARKS.md. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rng.h"
#include "roost/sketch.h"
#include "server/stats/stats.h"

#define RUNS 9
#define CAP 2048

static volatile double g_sink;

/* CPU time of this thread, not wall time: the machines are shared with
 * other builds, and waiting for a core is not the cost of an operation. */
static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

typedef double (*gen_fn)(roost_rng *);

static double gen_api(roost_rng *r) /* typical API latency, ms: median 20, p99 ~100 */
{
    return roost_rng_lognormal(r, log(20.0), 0.7);
}

static double gen_wide(roost_rng *r) /* lognormal with sigma 1.5: 0.1 ms .. 10 s */
{
    return roost_rng_lognormal(r, log(20.0), 1.5);
}

static double gen_bimodal(roost_rng *r)
{
    return roost_rng_uniform(r) < 0.7 ? roost_rng_lognormal(r, log(2.0), 0.25)
                                      : roost_rng_lognormal(r, log(150.0), 0.4);
}

static double gen_pareto(roost_rng *r)
{
    return roost_rng_pareto(r, 1.0, 1.1);
}

static roost_sketch_bucket g_mem[4][CAP];
static uint8_t g_buf[ROOST_SKETCH_ENCODED_MAX(CAP)];

static void fill(roost_sketch *s, roost_sketch_bucket *mem, gen_fn gen, size_t n, uint64_t seed)
{
    roost_rng r;
    size_t i;
    roost_rng_seed(&r, seed);
    roost_sketch_init(s, mem, CAP);
    for (i = 0; i < n; i++)
        roost_sketch_add(s, gen(&r));
}

static void memory_table(void)
{
    static const struct {
        const char *name;
        gen_fn gen;
    } dists[] = {{"API latency, lognormal(ln 20 ms, 0.7)", gen_api},
                 {"wide lognormal(ln 20 ms, 1.5)", gen_wide},
                 {"bimodal 2 ms / 150 ms (70/30)", gen_bimodal},
                 {"Pareto(1, 1.1), heavy tail", gen_pareto}};
    static const size_t counts[] = {100, 1000, 10000, 100000, 1000000};
    size_t d, c;

    printf("| distribution | values | buckets | encoded bytes | in memory (bytes) |\n");
    printf("|---|---:|---:|---:|---:|\n");
    for (d = 0; d < sizeof dists / sizeof dists[0]; d++) {
        for (c = 0; c < sizeof counts / sizeof counts[0]; c++) {
            roost_sketch s;
            fill(&s, g_mem[0], dists[d].gen, counts[c], 100 + d);
            printf("| %s | %zu | %zu | %zu | %zu |\n", dists[d].name, counts[c], s.len,
                   roost_sketch_encoded_size(&s),
                   sizeof(roost_sketch) + s.len * sizeof(roost_sketch_bucket));
        }
    }
    printf("\nsizeof(roost_sketch) = %zu, sizeof(roost_sketch_bucket) = %zu\n\n",
           sizeof(roost_sketch), sizeof(roost_sketch_bucket));
}

#define TIME_LOOP(label, iters, ...)                                                      \
    do {                                                                                   \
        double runs_[RUNS];                                                                \
        int r_;                                                                            \
        for (r_ = 0; r_ < RUNS; r_++) {                                                    \
            double t0_ = now_ns();                                                         \
            long i_;                                                                       \
            for (i_ = 0; i_ < (long)(iters); i_++) {                                       \
                __VA_ARGS__;                                                               \
            }                                                                              \
            runs_[r_] = (now_ns() - t0_) / (double)(iters);                                \
        }                                                                                  \
        printf("| %s | %.1f |\n", label, median(runs_, RUNS));                             \
    } while (0)

static void timing_table(void)
{
    enum { NV = 1 << 20 };
    static double vals[NV];
    roost_sketch a, b, m, d;
    roost_rng r;
    roost_stats_msprt ms;
    roost_stats_summary sa = {500000, 20.1, 49.0}, sb = {480000, 20.4, 52.0};
    size_t len = 0, i;
    double acc = 0;

    roost_rng_seed(&r, 1);
    for (i = 0; i < NV; i++)
        vals[i] = gen_api(&r);
    fill(&a, g_mem[0], gen_api, 100000, 2);
    fill(&b, g_mem[1], gen_api, 100000, 3);
    roost_sketch_init(&m, g_mem[2], CAP);
    roost_sketch_init(&d, g_mem[3], CAP);
    roost_sketch_encode(&a, g_buf, sizeof g_buf, &len);
    roost_stats_msprt_init(&ms, 0.01, 0.05, 0.0, NULL);

    printf("| operation | ns (median of %d runs) |\n|---|---:|\n", RUNS);
    TIME_LOOP("sketch insert (API latency stream)", NV, {
        if ((i_ & (NV - 1)) == 0)
            roost_sketch_clear(&m);
        roost_sketch_add(&m, vals[i_ & (NV - 1)]);
    });
    TIME_LOOP("sketch merge (two ~270-bucket sketches)", 20000, {
        roost_sketch_clear(&m);
        roost_sketch_merge(&m, &a);
        roost_sketch_merge(&m, &b);
    });
    TIME_LOOP("sketch quantile p99 (~270 buckets)", 200000, {
        double q;
        roost_sketch_quantile(&a, 0.99, &q);
        acc += q;
    });
    TIME_LOOP("sketch encode (~270 buckets)", 100000, {
        size_t l;
        roost_sketch_encode(&a, g_buf, sizeof g_buf, &l);
        acc += (double)l;
    });
    TIME_LOOP("sketch decode (~270 buckets, untrusted)", 100000, {
        roost_sketch_decode(&d, g_buf, len);
        acc += (double)d.len;
    });
    TIME_LOOP("always-valid p-value (msprt_pvalue)", 2000000, {
        double p;
        roost_stats_msprt_pvalue(0.001 * (double)(i_ & 63), 0.0004, 0.01, 0.0, &p, NULL);
        acc += p;
    });
    TIME_LOOP("always-valid look (msprt_update: p + interval)", 2000000, {
        roost_stats_msprt_look l;
        roost_stats_msprt_update(&ms, 0.001 * (double)(i_ & 63), 0.0004, &l, NULL);
        acc += l.p;
    });
    TIME_LOOP("Welch t-test (df ~ 980,000: Hill branch)", 1000000, {
        roost_stats_ttest t;
        sb.mean = 20.4 + 1e-6 * (double)(i_ & 63);
        roost_stats_welch(&sa, &sb, &t, NULL);
        acc += t.p;
    });
    TIME_LOOP("Student t sf (df = 500, continued fraction)", 1000000, {
        double p;
        roost_stats_student_t_sf(2.0 + 1e-3 * (double)(i_ & 63), 500.0, &p, NULL);
        acc += p;
    });
    TIME_LOOP("two-proportion z-test", 2000000, {
        roost_stats_ztest z;
        roost_stats_two_proportion(500 + (uint64_t)(i_ & 63), 100000, 560, 100000, &z, NULL);
        acc += z.p;
    });
    TIME_LOOP("SRM chi-square, 3 arms", 1000000, {
        uint64_t o[3] = {33000 + (uint64_t)(i_ & 63), 33300, 33500};
        double w[3] = {1, 1, 1};
        roost_stats_chi2test c;
        roost_stats_srm(o, w, 3, &c, NULL);
        acc += c.p;
    });
    TIME_LOOP("Mann-Whitney on two ~270-bucket sketches", 100000, {
        roost_stats_mwu u;
        roost_stats_mann_whitney_sketch(&a, &b, &u, NULL);
        acc += u.p;
    });
    g_sink = acc;
}

int main(void)
{
    printf("## memory per stored sketch\n\n");
    memory_table();
    printf("## time per operation\n\n");
    timing_table();
    return 0;
}
