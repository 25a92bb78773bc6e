/* Evaluation engine benchmark: ns per evaluation on the flagd test-kit
 * flags, one thread and two threads, and heap allocations per evaluation.
 *
 *   engine_bench FLAGS.json [REPS [CASE]]
 *
 * Prints one JSON line per (case, threads) with the median, minimum and
 * maximum ns per evaluation over REPS repetitions (default 15), for
 * run.sh to put beside @openfeature/flagd-core's numbers from bench.js.
 * CASE runs only the case of that name (for profiling one of them).
 * Two clocks: wall time per evaluation in each thread (ns_*), and process
 * CPU time divided by all evaluations (cpu_ns_median). The machines are
 * shared and often oversubscribed; CPU time does not count the time a
 * thread spends descheduled, so it is the stable figure there.
 *
 * What one evaluation is, in both: look the flag up by key in the loaded
 * set and resolve it for a context built beforehand (flagd-core receives a
 * context object the same way). Cases: a static boolean, the $ref targeting
 * on email (a match), the semver if-chain (1.9.0: all three sem_ver run)
 * and the 4-way fractional (user.name "jack").
 *
 * Allocations are counted by interposing malloc/calloc/realloc on the whole
 * process (glibc's __libc_* do the work), so anything the engine or libc
 * allocates while evaluating is seen.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compile.h"
#include "roost/engine.h"

/* ------------------------------------------------------- alloc counting */

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
static atomic_ulong allocations;

void *malloc(size_t n)
{
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    return __libc_malloc(n);
}

void *calloc(size_t a, size_t b)
{
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    return __libc_calloc(a, b);
}

void *realloc(void *p, size_t n)
{
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    return __libc_realloc(p, n);
}

/* ------------------------------------------------------------------ cases */

enum kind { K_BOOL, K_STRING };

typedef struct bench_case {
    const char *name;
    const char *flag;
    enum kind kind;
    const char *ctx_json;
    const char *expect;
} bench_case;

static const bench_case CASES[] = {
    {"static-boolean", "boolean-flag", K_BOOL, "{}", "true"},
    {"ref-targeting-email", "some-email-targeted-flag", K_STRING,
     "{\"email\":\"ballmer@macrosoft.com\"}", "hi"},
    {"semver-if-chain", "equal-greater-lesser-version-flag", K_STRING, "{\"version\":\"1.9.0\"}",
     "lesser"},
    {"fractional-4-way", "fractional-flag", K_STRING, "{\"user\":{\"name\":\"jack\"}}", "hearts"},
};
#define NCASES (sizeof CASES / sizeof CASES[0])

static roost_loaded_set loaded;

typedef struct worker {
    const bench_case *c;
    uint64_t iterations;
    double ns_per_eval;
    unsigned sink;
    roost_ctx_attr attrs[16];
    roost_ctx ctx;
    char keys[256];
    cJSON *json;
    pthread_barrier_t *start;
} worker;

static double clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static double now_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

static unsigned eval_once(const bench_case *c, const roost_ctx *ctx, size_t key_len)
{
    const roost_flag *f = roost_flagset_find(&loaded.index, c->flag, key_len);
    if (c->kind == K_BOOL)
        return roost_eval_bool(f, ctx, false, NULL);
    return (unsigned char)roost_eval_string(f, ctx, "default", NULL)[0];
}

static void *run_worker(void *arg)
{
    worker *w = arg;
    size_t key_len = strlen(w->c->flag);
    unsigned sink = 0;
    if (w->start)
        pthread_barrier_wait(w->start);
    double t0 = now_ns();
    for (uint64_t i = 0; i < w->iterations; i++)
        sink += eval_once(w->c, &w->ctx, key_len);
    w->ns_per_eval = (now_ns() - t0) / (double)w->iterations;
    w->sink = sink;
    return NULL;
}

static void setup_worker(worker *w, const bench_case *c, uint64_t iterations)
{
    roost_error err;
    memset(w, 0, sizeof *w);
    w->c = c;
    w->iterations = iterations;
    roost_ctx_init(&w->ctx, w->attrs, 16);
    roost_ctx_set_timestamp(&w->ctx, (int64_t)time(NULL));
    if (roost_json_parse(c->ctx_json, strlen(c->ctx_json), "ctx", &w->json, &err) != ROOST_OK ||
        roost_ctx_from_json(w->json, &w->ctx, w->keys, sizeof w->keys, &err) != ROOST_OK) {
        fprintf(stderr, "engine_bench: %s\n", err.msg);
        exit(1);
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* One repetition with `threads` threads; returns the mean wall ns/eval
 * over threads, stores process CPU ns per evaluation in *cpu_ns, and adds
 * the allocations seen to *allocs. */
static double repetition(const bench_case *c, int threads, uint64_t iterations, unsigned long *allocs,
                         double *cpu_ns)
{
    worker w[2];
    pthread_t tid[2];
    pthread_barrier_t start;
    for (int t = 0; t < threads; t++)
        setup_worker(&w[t], c, iterations);
    pthread_barrier_init(&start, NULL, (unsigned)threads);
    unsigned long before = atomic_load(&allocations);
    double cpu0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
    if (threads == 1) {
        run_worker(&w[0]);
    } else {
        for (int t = 0; t < threads; t++) {
            w[t].start = &start;
            pthread_create(&tid[t], NULL, run_worker, &w[t]);
        }
        for (int t = 0; t < threads; t++)
            pthread_join(tid[t], NULL);
    }
    *cpu_ns = (clock_ns(CLOCK_PROCESS_CPUTIME_ID) - cpu0) / ((double)iterations * threads);
    unsigned long after = atomic_load(&allocations);
    /* pthread_create itself allocates; count only single-thread runs. */
    *allocs += threads == 1 ? after - before : 0;
    pthread_barrier_destroy(&start);
    double sum = 0;
    for (int t = 0; t < threads; t++) {
        sum += w[t].ns_per_eval;
        if (w[t].sink == 0xdeadbeef)
            puts("");
        cJSON_Delete(w[t].json);
    }
    return sum / threads;
}

int main(int argc, char **argv)
{
    roost_error err;
    cJSON *doc;
    roost_compiled_set *set;
    int reps = argc > 2 ? atoi(argv[2]) : 15;
    const char *only = argc > 3 ? argv[3] : NULL;

    if (argc < 2 || reps < 1) {
        fprintf(stderr, "usage: %s FLAGS.json [REPS [CASE]]\n", argv[0]);
        return 2;
    }
    if (roost_json_parse_file(argv[1], &doc, &err) != ROOST_OK ||
        roost_compile_flagset(doc, &set, &err) != ROOST_OK ||
        roost_loaded_set_init(&loaded, set, &err) != ROOST_OK) {
        fprintf(stderr, "engine_bench: %s\n", err.msg);
        return 1;
    }
    for (size_t k = 0; k < NCASES; k++) {
        const bench_case *c = &CASES[k];
        if (only && strcmp(only, c->name) != 0)
            continue;
        /* Check the answer before timing it. */
        worker w;
        setup_worker(&w, c, 1);
        const roost_flag *f = roost_flagset_find(&loaded.index, c->flag, strlen(c->flag));
        roost_result r;
        const char *got = c->kind == K_BOOL ? (roost_eval_bool(f, &w.ctx, false, &r) ? "true" : "false")
                                            : roost_eval_string(f, &w.ctx, "default", &r);
        if (strcmp(got, c->expect) != 0) {
            fprintf(stderr, "engine_bench: %s gave %s, expected %s\n", c->name, got, c->expect);
            return 1;
        }
        cJSON_Delete(w.json);

        /* Calibrate to about 100 ms per repetition. */
        uint64_t iterations = 1000;
        unsigned long ignored = 0;
        double cpu;
        for (;;) {
            double ns = repetition(c, 1, iterations, &ignored, &cpu) * (double)iterations;
            if (ns > 5e7 || iterations > (1ull << 34))
                break;
            iterations *= 4;
        }
        for (int threads = 1; threads <= 2; threads++) {
            double *samples = __libc_calloc((size_t)reps, sizeof *samples);
            double *cpus = __libc_calloc((size_t)reps, sizeof *cpus);
            unsigned long allocs = 0;
            for (int i = 0; i < reps; i++)
                samples[i] = repetition(c, threads, iterations, &allocs, &cpus[i]);
            qsort(samples, (size_t)reps, sizeof *samples, cmp_double);
            qsort(cpus, (size_t)reps, sizeof *cpus, cmp_double);
            printf("{\"impl\":\"roost\",\"case\":\"%s\",\"threads\":%d,\"ns_median\":%.2f,"
                   "\"ns_min\":%.2f,\"ns_max\":%.2f,\"cpu_ns_median\":%.2f,\"allocs_per_eval\":%s,"
                   "\"reps\":%d,\"evals_per_rep\":%llu}\n",
                   c->name, threads, samples[reps / 2], samples[0], samples[reps - 1], cpus[reps / 2],
                   threads == 1 ? (allocs == 0 ? "0" : "\"nonzero\"") : "null", reps,
                   (unsigned long long)iterations);
            if (threads == 1 && allocs != 0)
                fprintf(stderr, "engine_bench: %s allocated %lu times in %llu evaluations\n",
                        c->name, allocs, (unsigned long long)iterations * (unsigned long long)reps);
            fflush(stdout);
            free(samples);
            free(cpus);
        }
    }
    roost_loaded_set_free(&loaded);
    roost_compiled_set_free(set);
    cJSON_Delete(doc);
    return 0;
}
