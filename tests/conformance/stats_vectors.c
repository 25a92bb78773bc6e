/* Conformance runner for the statistics library: checks every case of a
 * vectors file (format of shared/testdata/stats_vectors.json: generator,
 * tolerance {relative, absolute}, cases [{fn, in, out}]) against
 * server/stats, prints one line per mismatch and ends with
 * "N passed, M failed". A number passes when
 * |got - want| <= absolute + relative * |want|; booleans must be equal.
 *
 *     stats_vectors path/to/stats_vectors.json [more.json ...]
 *
 * An unknown fn or a malformed case counts as a failure, so a newer vectors
 * file cannot pass by being skipped.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "server/stats/stats.h"

#define MAX_ITEMS (1 << 18) /* per array in one case; static, so no per-case allocation */

static double g_rel = 1e-6, g_abs = 1e-12;

typedef struct run {
    int index;
    const char *fn;
    int ok; /* cleared by the first mismatch */
} run;

static void fail(run *r, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void fail(run *r, const char *fmt, ...)
{
    va_list ap;

    printf("FAIL case %d (%s): ", r->index, r->fn);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    r->ok = 0;
}

static int close_enough(double got, double want)
{
    if (isnan(got) || isnan(want))
        return 0;
    if (isinf(want) || isinf(got))
        return got == want;
    return fabs(got - want) <= g_abs + g_rel * fabs(want);
}

static void expect_num(run *r, const cJSON *out, const char *name, double got)
{
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(out, name);

    if (!cJSON_IsNumber(w)) {
        fail(r, "expected output '%s' missing", name);
        return;
    }
    if (!close_enough(got, w->valuedouble))
        fail(r, "%s: got %.17g, want %.17g (rel err %.3g)", name, got, w->valuedouble,
             w->valuedouble != 0 ? fabs(got - w->valuedouble) / fabs(w->valuedouble) : fabs(got));
}

static int in_num(run *r, const cJSON *in, const char *name, double *v)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(in, name);

    if (!cJSON_IsNumber(x)) {
        fail(r, "input '%s' missing or not a number", name);
        return 0;
    }
    *v = x->valuedouble;
    return 1;
}

static int in_count(run *r, const cJSON *in, const char *name, uint64_t *v)
{
    double d;

    if (!in_num(r, in, name, &d))
        return 0;
    if (!(d >= 0 && d <= 9007199254740992.0) || floor(d) != d) {
        fail(r, "input '%s' is not a count (%g)", name, d);
        return 0;
    }
    *v = (uint64_t)d;
    return 1;
}

/* Reads a number array into buf (at most max). Returns its length or -1. */
static long in_array(run *r, const cJSON *in, const char *name, double *buf, long max)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(in, name), *e;
    long n = 0;

    if (!cJSON_IsArray(arr)) {
        fail(r, "input '%s' missing or not an array", name);
        return -1;
    }
    cJSON_ArrayForEach(e, arr)
    {
        if (!cJSON_IsNumber(e) || n >= max) {
            fail(r, "input '%s' has a non-number or more than %ld items", name, max);
            return -1;
        }
        buf[n++] = e->valuedouble;
    }
    return n;
}

static int call_ok(run *r, roost_status st, const roost_error *err)
{
    if (st != ROOST_OK) {
        fail(r, "returned %s: %s", roost_strerror(st), err->msg);
        return 0;
    }
    return 1;
}

static double g_x[MAX_ITEMS], g_y[MAX_ITEMS], g_work[2 * MAX_ITEMS];

static void run_multiple(run *r, const cJSON *in, const cJSON *out, int holm)
{
    static double adj[MAX_ITEMS];
    static bool rej[MAX_ITEMS];
    static size_t work[MAX_ITEMS];
    const cJSON *wa = cJSON_GetObjectItemCaseSensitive(out, "adjusted");
    const cJSON *wr = cJSON_GetObjectItemCaseSensitive(out, "reject");
    roost_error err = {0};
    double alpha;
    long m, i;
    roost_status st;

    if ((m = in_array(r, in, "p", g_x, MAX_ITEMS)) < 0 || !in_num(r, in, "alpha", &alpha))
        return;
    st = holm ? roost_stats_holm(g_x, (size_t)m, alpha, adj, rej, work, &err)
              : roost_stats_benjamini_hochberg(g_x, (size_t)m, alpha, adj, rej, work, &err);
    if (!call_ok(r, st, &err))
        return;
    if (cJSON_GetArraySize(wa) != m || cJSON_GetArraySize(wr) != m) {
        fail(r, "expected outputs have the wrong length");
        return;
    }
    for (i = 0; i < m; i++) {
        const cJSON *a = cJSON_GetArrayItem(wa, (int)i), *b = cJSON_GetArrayItem(wr, (int)i);
        if (!cJSON_IsNumber(a) || !close_enough(adj[i], a->valuedouble))
            fail(r, "adjusted[%ld]: got %.17g, want %.17g", i, adj[i],
                 cJSON_IsNumber(a) ? a->valuedouble : NAN);
        if (!cJSON_IsBool(b) || (cJSON_IsTrue(b) != 0) != rej[i])
            fail(r, "reject[%ld]: got %s", i, rej[i] ? "true" : "false");
    }
}

static void run_case(run *r, const cJSON *in, const cJSON *out)
{
    roost_error err = {0};
    const char *fn = r->fn;

    if (!strcmp(fn, "welch_t_test")) {
        roost_stats_summary a, b;
        roost_stats_ttest t;
        uint64_t n1, n2;
        if (!in_count(r, in, "n1", &n1) || !in_num(r, in, "mean1", &a.mean) ||
            !in_num(r, in, "var1", &a.var) || !in_count(r, in, "n2", &n2) ||
            !in_num(r, in, "mean2", &b.mean) || !in_num(r, in, "var2", &b.var))
            return;
        a.n = n1;
        b.n = n2;
        if (!call_ok(r, roost_stats_welch(&a, &b, &t, &err), &err))
            return;
        expect_num(r, out, "t", t.t);
        expect_num(r, out, "df", t.df);
        expect_num(r, out, "p_two_sided", t.p);
    } else if (!strcmp(fn, "two_proportion_z_test")) {
        uint64_t x1, n1, x2, n2;
        roost_stats_ztest z;
        if (!in_count(r, in, "x1", &x1) || !in_count(r, in, "n1", &n1) ||
            !in_count(r, in, "x2", &x2) || !in_count(r, in, "n2", &n2))
            return;
        if (!call_ok(r, roost_stats_two_proportion(x1, n1, x2, n2, &z, &err), &err))
            return;
        expect_num(r, out, "z", z.z);
        expect_num(r, out, "p_two_sided", z.p);
    } else if (!strcmp(fn, "srm_chi_square")) {
        static uint64_t obs[MAX_ITEMS];
        roost_stats_chi2test c;
        long k, kw, i;
        if ((k = in_array(r, in, "observed", g_x, MAX_ITEMS)) < 0 ||
            (kw = in_array(r, in, "weights", g_y, MAX_ITEMS)) < 0)
            return;
        if (k != kw) {
            fail(r, "observed and weights differ in length");
            return;
        }
        for (i = 0; i < k; i++) {
            if (!(g_x[i] >= 0) || floor(g_x[i]) != g_x[i]) {
                fail(r, "observed[%ld] is not a count", i);
                return;
            }
            obs[i] = (uint64_t)g_x[i];
        }
        if (!call_ok(r, roost_stats_srm(obs, g_y, (size_t)k, &c, &err), &err))
            return;
        expect_num(r, out, "chi2", c.chi2);
        expect_num(r, out, "df", c.df);
        expect_num(r, out, "p", c.p);
    } else if (!strcmp(fn, "mann_whitney_u")) {
        roost_stats_mwu u;
        long nx, ny;
        if ((nx = in_array(r, in, "x", g_x, MAX_ITEMS)) < 0 ||
            (ny = in_array(r, in, "y", g_y, MAX_ITEMS)) < 0)
            return;
        if (!call_ok(r,
                     roost_stats_mann_whitney(g_x, (size_t)nx, g_y, (size_t)ny, g_work,
                                              2 * MAX_ITEMS, &u, &err),
                     &err))
            return;
        expect_num(r, out, "u_x", u.u_a);
        expect_num(r, out, "p_two_sided", u.p);
    } else if (!strcmp(fn, "student_t_sf")) {
        double t, df, sf;
        if (!in_num(r, in, "t", &t) || !in_num(r, in, "df", &df))
            return;
        if (!call_ok(r, roost_stats_student_t_sf(t, df, &sf, &err), &err))
            return;
        expect_num(r, out, "sf", sf);
    } else if (!strcmp(fn, "chi2_sf")) {
        double x, df, sf;
        if (!in_num(r, in, "x", &x) || !in_num(r, in, "df", &df))
            return;
        if (!call_ok(r, roost_stats_chi2_sf(x, df, &sf, &err), &err))
            return;
        expect_num(r, out, "sf", sf);
    } else if (!strcmp(fn, "normal_quantile")) {
        double p, z;
        if (!in_num(r, in, "p", &p))
            return;
        if (!call_ok(r, roost_stats_normal_quantile(p, &z, &err), &err))
            return;
        expect_num(r, out, "z", z);
    } else if (!strcmp(fn, "holm")) {
        run_multiple(r, in, out, 1);
    } else if (!strcmp(fn, "benjamini_hochberg")) {
        run_multiple(r, in, out, 0);
    } else {
        fail(r, "unknown fn");
    }
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long len;

    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)len + 1)) != NULL) {
        if (fread(buf, 1, (size_t)len, f) != (size_t)len) {
            free(buf);
            buf = NULL;
        } else {
            buf[len] = '\0';
        }
    }
    fclose(f);
    return buf;
}

/* Runs one vectors file; adds its results to *passed / *failed. */
static void run_file(const char *path, int *passed, int *failed)
{
    char *text;
    cJSON *doc, *tol, *cases, *c;
    int index = 0;

    if (!(text = read_file(path))) {
        printf("FAIL %s: cannot read the file\n", path);
        (*failed)++;
        return;
    }
    doc = cJSON_Parse(text);
    free(text);
    cases = doc ? cJSON_GetObjectItemCaseSensitive(doc, "cases") : NULL;
    if (!cJSON_IsArray(cases)) {
        printf("FAIL %s: not a vectors file (no \"cases\" array)\n", path);
        cJSON_Delete(doc);
        (*failed)++;
        return;
    }
    g_rel = 1e-6;
    g_abs = 1e-12;
    tol = cJSON_GetObjectItemCaseSensitive(doc, "tolerance");
    if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(tol, "relative")))
        g_rel = cJSON_GetObjectItemCaseSensitive(tol, "relative")->valuedouble;
    if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(tol, "absolute")))
        g_abs = cJSON_GetObjectItemCaseSensitive(tol, "absolute")->valuedouble;

    cJSON_ArrayForEach(c, cases)
    {
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(c, "fn");
        run r = {index++, cJSON_IsString(fn) ? fn->valuestring : "?", 1};
        const cJSON *in = cJSON_GetObjectItemCaseSensitive(c, "in");
        const cJSON *out = cJSON_GetObjectItemCaseSensitive(c, "out");
        if (!cJSON_IsString(fn) || !cJSON_IsObject(in) || !cJSON_IsObject(out))
            fail(&r, "malformed case (needs fn, in, out)");
        else
            run_case(&r, in, out);
        if (r.ok)
            (*passed)++;
        else
            (*failed)++;
    }
    cJSON_Delete(doc);
}

int main(int argc, char **argv)
{
    int passed = 0, failed = 0, i;

    if (argc < 2) {
        fprintf(stderr, "usage: %s stats_vectors.json [more.json ...]\n", argv[0]);
        printf("0 passed, 1 failed\n");
        return 2;
    }
    /* Several files may be given (bazel run appends its arguments to the
     * default file); each uses its own tolerance. */
    for (i = 1; i < argc; i++)
        run_file(argv[i], &passed, &failed);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
