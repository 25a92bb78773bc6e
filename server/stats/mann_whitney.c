/* Mann-Whitney U test (Wilcoxon rank-sum), two-sided, normal approximation
 * with tie and continuity correction: the same numbers as
 * scipy.stats.mannwhitneyu(method="asymptotic", use_continuity=True).
 *
 * Why a rank test: latency distributions are skewed and heavy-tailed, so a
 * t-test on means is dominated by a few slow requests; U asks whether a
 * random canary request tends to be slower than a random baseline request.
 *
 * Both entry points reduce the data to an ascending sequence of tied groups
 * (count from a, count from b) and share one accumulator:
 *   - raw samples: sort copies in caller scratch, group equal values;
 *   - sketches: each bucket is a group. Values in one bucket are within 1 %
 *     of each other, so this is the exact test on data rounded to 1 %, and
 *     it needs no raw data, which roostd never has.
 * U_a is accumulated as sum over groups of a_count * (b below + b_count/2)
 * rather than as rank sum minus n(n+1)/2, which would cancel badly with
 * counts of 10^12; the tie term sum(t^3 - t) is a double for the same
 * reason (t^3 overflows 64 bits at t = 2.6 million).
 */
#include <math.h>
#include <stdlib.h>

#include "server/stats/special.h"
#include "server/stats/stats.h"

typedef struct mw_acc {
    double na, nb;     /* totals */
    double b_below;    /* b values in groups below the current one */
    double u_a;        /* pairs (a > b) + half of tied pairs */
    double ties;       /* sum over groups of t^3 - t */
} mw_acc;

static void mw_group(mw_acc *m, double ca, double cb)
{
    double t = ca + cb;
    m->u_a += ca * (m->b_below + 0.5 * cb);
    m->ties += (t * t - 1.0) * t;
    m->b_below += cb;
}

static void mw_finish(const mw_acc *m, roost_stats_mwu *out)
{
    double n = m->na + m->nb, mu = m->na * m->nb / 2.0;
    double u = m->u_a > m->na * m->nb - m->u_a ? m->u_a : m->na * m->nb - m->u_a;
    double s2 = m->na * m->nb / 12.0 * ((n + 1.0) - m->ties / (n * (n - 1.0)));
    double z, p;

    if (!(s2 > 0.0)) {
        /* every value tied: no ordering, no evidence */
        z = 0.0;
        p = 1.0;
    } else {
        z = (u - mu - 0.5) / sqrt(s2);
        p = 2.0 * roost_stats_norm_sf(z);
        if (p > 1.0)
            p = 1.0;
    }
    out->u_a = m->u_a;
    out->z = z;
    out->p = p;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

roost_status roost_stats_mann_whitney(const double *a, size_t n_a, const double *b, size_t n_b,
                                      double *work, size_t work_len, roost_stats_mwu *out,
                                      roost_error *err)
{
    double *sa, *sb;
    size_t i, j;
    mw_acc m = {0};

    if (!out || (n_a && !a) || (n_b && !b))
        return roost_error_set(err, ROOST_EINVAL, "mann_whitney: NULL argument");
    if (n_a == 0 || n_b == 0)
        return roost_error_set(err, ROOST_EINVAL, "mann_whitney: sample %s is empty",
                               n_a == 0 ? "a" : "b");
    if (!work || work_len < n_a || work_len - n_a < n_b)
        return roost_error_set(err, ROOST_EINVAL,
                               "mann_whitney: scratch needs %zu doubles, got %zu", n_a + n_b,
                               work ? work_len : 0);
    for (i = 0; i < n_a; i++)
        if (!isfinite(a[i]))
            return roost_error_set(err, ROOST_EINVAL, "mann_whitney: a[%zu] is %s", i,
                                   isnan(a[i]) ? "NaN" : "infinite");
    for (i = 0; i < n_b; i++)
        if (!isfinite(b[i]))
            return roost_error_set(err, ROOST_EINVAL, "mann_whitney: b[%zu] is %s", i,
                                   isnan(b[i]) ? "NaN" : "infinite");

    sa = work;
    sb = work + n_a;
    for (i = 0; i < n_a; i++)
        sa[i] = a[i];
    for (i = 0; i < n_b; i++)
        sb[i] = b[i];
    qsort(sa, n_a, sizeof *sa, cmp_double);
    qsort(sb, n_b, sizeof *sb, cmp_double);

    m.na = (double)n_a;
    m.nb = (double)n_b;
    for (i = 0, j = 0; i < n_a || j < n_b;) {
        double v = j >= n_b || (i < n_a && sa[i] <= sb[j]) ? sa[i] : sb[j];
        size_t ca = 0, cb = 0;
        while (i < n_a && sa[i] == v)
            i++, ca++;
        while (j < n_b && sb[j] == v)
            j++, cb++;
        mw_group(&m, (double)ca, (double)cb);
    }
    mw_finish(&m, out);
    return ROOST_OK;
}

roost_status roost_stats_mann_whitney_sketch(const roost_sketch *a, const roost_sketch *b,
                                             roost_stats_mwu *out, roost_error *err)
{
    size_t i, j;
    mw_acc m = {0};

    if (!out || !a || !b)
        return roost_error_set(err, ROOST_EINVAL, "mann_whitney_sketch: NULL argument");
    if (a->count == 0 || b->count == 0)
        return roost_error_set(err, ROOST_EINVAL, "mann_whitney_sketch: sketch %s is empty",
                               a->count == 0 ? "a" : "b");

    m.na = (double)a->count;
    m.nb = (double)b->count;
    for (i = 0, j = 0; i < a->len || j < b->len;) {
        if (j >= b->len || (i < a->len && a->buckets[i].key < b->buckets[j].key)) {
            mw_group(&m, (double)a->buckets[i++].count, 0.0);
        } else if (i >= a->len || b->buckets[j].key < a->buckets[i].key) {
            mw_group(&m, 0.0, (double)b->buckets[j++].count);
        } else {
            mw_group(&m, (double)a->buckets[i].count, (double)b->buckets[j].count);
            i++;
            j++;
        }
    }
    mw_finish(&m, out);
    return ROOST_OK;
}
