/* Special functions behind the distributions (internal to server/stats).
 *
 * Kept apart from distributions.c because they are pure numerics with their
 * own accuracy arguments, and because input checking and error messages
 * belong to the public layer: these functions assume valid arguments. */
#ifndef ROOST_STATS_SPECIAL_H
#define ROOST_STATS_SPECIAL_H

/* log Gamma(x) for x > 0, without libm's lgamma (which writes the global
 * `signgam` and so races between threads). Absolute error ~1e-15. */
double roost_stats_lgamma(double x);

/* log Beta(a, b) for a, b > 0, accurate when one or both are huge. */
double roost_stats_lbeta(double a, double b);

/* x - 1 - log(x) for x > 0, accurate near x = 1. */
double roost_stats_xm1mlog(double x);

/* Regularized incomplete beta: *lower = I_x(a, b), *upper = 1 - I_x(a, b),
 * each with full relative accuracy (the small one is never computed as
 * 1 - the other). y must be 1 - x, passed separately so that callers can
 * compute it without cancellation. Returns 0 on success, -1 if the
 * continued fraction did not converge. */
int roost_stats_ibeta(double a, double b, double x, double y, double *lower, double *upper);

/* Regularized upper incomplete gamma Q(a, x) = Gamma(a, x) / Gamma(a) for
 * a > 0, x >= 0. Returns 0 on success, -1 on non-convergence. */
int roost_stats_gamma_q(double a, double x, double *q);

/* Standard normal upper tail P(Z > z). */
double roost_stats_norm_sf(double z);

#endif
