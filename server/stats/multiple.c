/* Multiple-comparison adjustments: Holm (family-wise error rate) and
 * Benjamini-Hochberg (false discovery rate).
 *
 * A canary is judged on several metrics and an experiment may have several
 * arms; testing each at alpha would raise a false alarm far more often than
 * alpha. Holm controls the chance of any false rejection and is uniformly
 * better than Bonferroni, so it is the default for rollback decisions (one
 * false rollback is a cost); BH controls the expected share of false
 * discoveries, the usual choice for exploring many experiment metrics.
 *
 * The arithmetic follows statsmodels' multipletests step by step (same
 * products, same comparisons), so adjusted p-values and reject flags agree
 * with it to the last bit on the reference vectors, ties included: tied
 * p-values get the same adjusted value and the same decision whatever their
 * order. Sorting is by (p, index), a total order, so the result does not
 * depend on the sort algorithm.
 */
#include <stdlib.h>

#include "server/stats/check.h"
#include "server/stats/stats.h"

/* Heap sort of indices by (p, index): in place in the caller's scratch,
 * O(m log m), no allocation and no recursion. */
static int before(const double *p, size_t i, size_t j)
{
    return p[i] < p[j] || (p[i] == p[j] && i < j);
}

static void sift(const double *p, size_t *idx, size_t root, size_t n)
{
    for (;;) {
        size_t child = 2 * root + 1, max = root;
        if (child < n && before(p, idx[max], idx[child]))
            max = child;
        if (child + 1 < n && before(p, idx[max], idx[child + 1]))
            max = child + 1;
        if (max == root)
            return;
        size_t t = idx[root];
        idx[root] = idx[max];
        idx[max] = t;
        root = max;
    }
}

static void order_by_p(const double *p, size_t m, size_t *idx)
{
    size_t i;

    for (i = 0; i < m; i++)
        idx[i] = i;
    for (i = m / 2; i-- > 0;)
        sift(p, idx, i, m);
    for (i = m; i-- > 1;) {
        size_t t = idx[0];
        idx[0] = idx[i];
        idx[i] = t;
        sift(p, idx, 0, i);
    }
}

static roost_status check_args(const char *fn, const double *p, size_t m, double alpha,
                               const double *adjusted, const bool *reject, const size_t *work,
                               roost_error *err)
{
    size_t i;
    roost_status st;

    if (m && (!p || !adjusted || !reject || !work))
        return roost_error_set(err, ROOST_EINVAL, "%s: NULL argument", fn);
    if ((st = stats_check_alpha(err, fn, alpha)) != ROOST_OK)
        return st;
    for (i = 0; i < m; i++)
        if (!(p[i] >= 0.0 && p[i] <= 1.0))
            return roost_error_set(err, ROOST_EINVAL, "%s: p[%zu] must be in [0, 1], got %g", fn,
                                   i, p[i]);
    return ROOST_OK;
}

roost_status roost_stats_holm(const double *p, size_t m, double alpha, double *adjusted,
                              bool *reject, size_t *work, roost_error *err)
{
    size_t k;
    double run = 0.0;
    bool stopped = false;
    roost_status st;

    if ((st = check_args("holm", p, m, alpha, adjusted, reject, work, err)) != ROOST_OK)
        return st;
    order_by_p(p, m, work);
    for (k = 0; k < m; k++) {
        size_t i = work[k];
        double v = p[i] * (double)(m - k);
        /* Step down: reject in order until the first p above alpha/(m-k);
         * everything after it is kept. */
        if (!stopped && p[i] > alpha / (double)(m - k))
            stopped = true;
        reject[i] = !stopped;
        if (v > run)
            run = v;
        adjusted[i] = run > 1.0 ? 1.0 : run;
    }
    return ROOST_OK;
}

roost_status roost_stats_benjamini_hochberg(const double *p, size_t m, double alpha,
                                            double *adjusted, bool *reject, size_t *work,
                                            roost_error *err)
{
    size_t k, last = 0;
    bool any = false;
    double run = 1.0;
    roost_status st;

    if ((st = check_args("benjamini_hochberg", p, m, alpha, adjusted, reject, work, err)) !=
        ROOST_OK)
        return st;
    order_by_p(p, m, work);
    /* Step up: the largest k with p_(k) <= (k/m) alpha, and all below it. */
    for (k = 0; k < m; k++) {
        double ecdf = (double)(k + 1) / (double)m;
        if (p[work[k]] <= ecdf * alpha) {
            any = true;
            last = k;
        }
    }
    for (k = m; k-- > 0;) {
        size_t i = work[k];
        double v = p[i] / ((double)(k + 1) / (double)m);
        if (v < run)
            run = v;
        adjusted[i] = run;
        reject[i] = any && k <= last;
    }
    return ROOST_OK;
}
