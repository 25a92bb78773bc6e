/* The planner: sample sizes and power. See plan.h for the formulas and the
 * choices behind them, docs/experiments.md for their derivation.
 *
 * Everything is in "control observations" n_c; treatments get k n_c
 * (k = ratio). Sizes are computed in doubles and rounded up once at the
 * end, so a plan is never short by the rounding.
 */
#include "server/experiment/plan.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "server/stats/stats.h"

/* ------------------------------------------------------------ inputs, rates */

/* Per-control-observation variance sums: under the alternative (S1, used by
 * every test's power and by the sequential test's critical value) and the
 * pooled one under the null (S0, the two-proportion test's critical
 * value), both for n_c = 1 and n_t = k. */
struct variances {
    double s0, s1;
};

static roost_status check_input(const struct experiment_plan_input *in, double *delta,
                                double *k, roost_error *err)
{
    if (!in)
        return roost_error_set(err, ROOST_EINVAL, "plan: NULL argument");
    if (!isfinite(in->baseline))
        return roost_error_set(err, ROOST_EINVAL, "baseline: expected a number");
    if (in->type == EXPERIMENT_BINOMIAL && !(in->baseline > 0 && in->baseline < 1))
        return roost_error_set(err, ROOST_EINVAL,
                               "baseline: a conversion rate must be above 0 and below 1, got %g "
                               "(write 10 %% as 0.10)",
                               in->baseline);
    if (in->type == EXPERIMENT_MEAN) {
        if (!(isfinite(in->sd) && in->sd > 0))
            return roost_error_set(err, ROOST_EINVAL,
                                   "sd: a mean metric needs the control's standard deviation "
                                   "(above 0), got %g",
                                   in->sd);
        if (!(isfinite(in->sd_treatment) && in->sd_treatment >= 0))
            return roost_error_set(err, ROOST_EINVAL,
                                   "sd (treatment): expected a standard deviation, got %g",
                                   in->sd_treatment);
    }
    if (!(isfinite(in->mde) && in->mde > 0))
        return roost_error_set(err, ROOST_EINVAL,
                               "mde: the minimum detectable effect must be above 0, got %g",
                               in->mde);
    if (!(in->alpha > 0 && in->alpha <= 0.5))
        return roost_error_set(err, ROOST_EINVAL,
                               "alpha: %g is not a significance level in (0, 0.5]", in->alpha);
    if (!(in->power >= 0.5 && in->power <= 0.999))
        return roost_error_set(err, ROOST_EINVAL, "power: %g is not a power in [0.5, 0.999]",
                               in->power);
    if (in->arms < 2 || in->arms > EXPERIMENT_MAX_ARMS)
        return roost_error_set(err, ROOST_EINVAL,
                               "arms: %u; an experiment has a control and 1 to %d treatments "
                               "(arms 2 to %d)",
                               in->arms, EXPERIMENT_MAX_ARMS - 1, EXPERIMENT_MAX_ARMS);
    *k = in->ratio == 0 ? 1.0 : in->ratio;
    if (!(isfinite(*k) && *k > 0 && *k <= 1000))
        return roost_error_set(err, ROOST_EINVAL,
                               "ratio: %g treatment units per control unit; expected above 0 "
                               "and at most 1000",
                               in->ratio);
    if (in->looks > EXPERIMENT_PLAN_MAX_LOOKS)
        return roost_error_set(err, ROOST_EINVAL, "looks: %u; at most %d", in->looks,
                               EXPERIMENT_PLAN_MAX_LOOKS);

    double d = in->relative ? in->mde * fabs(in->baseline) : in->mde;
    if (in->direction == EXPERIMENT_DECREASE)
        d = -d;
    if (!(d != 0 && isfinite(d)))
        return roost_error_set(err, ROOST_EINVAL,
                               "mde: a relative effect of a baseline of 0 is 0; give the mde in "
                               "the metric's units");
    if (in->type == EXPERIMENT_BINOMIAL) {
        double p2 = in->baseline + d;
        if (!(p2 > 0 && p2 < 1))
            return roost_error_set(err, ROOST_EINVAL,
                                   "baseline %g %s mde %g = %g is not a rate (it must stay above "
                                   "0 and below 1)",
                                   in->baseline, d > 0 ? "+" : "-", fabs(d), p2);
    }
    *delta = d;
    return ROOST_OK;
}

static struct variances variances(const struct experiment_plan_input *in, double delta,
                                  double k)
{
    struct variances v;

    if (in->type == EXPERIMENT_BINOMIAL) {
        double p1 = in->baseline, p2 = in->baseline + delta;
        double pbar = (p1 + k * p2) / (1 + k);
        v.s1 = p1 * (1 - p1) + p2 * (1 - p2) / k;
        v.s0 = pbar * (1 - pbar) * (1 + 1 / k);
    } else {
        double st = in->sd_treatment > 0 ? in->sd_treatment : in->sd;
        v.s1 = in->sd * in->sd + st * st / k;
        v.s0 = v.s1;
    }
    return v;
}

static double quantile(double p)
{
    double z = 0;
    /* p is in (0, 1) here (checked inputs), where the quantile cannot fail. */
    (void)roost_stats_normal_quantile(p, &z, NULL);
    return z;
}

static double cdf(double z)
{
    double p = 0;
    (void)roost_stats_normal_cdf(z, &p, NULL);
    return p;
}

static double alpha_per_comparison(const struct experiment_plan_input *in)
{
    double m = (double)(in->arms - 1);
    if (m <= 1)
        return in->alpha;
    /* 1 - (1 - a)^(1/m) computed without cancellation for small a. */
    return in->correction == EXPERIMENT_SIDAK ? -expm1(log1p(-in->alpha) / m) : in->alpha / m;
}

void experiment_plan_boundary(double alpha, double *g, double *c)
{
    double la = -2 * log(alpha);
    double gg = la + log1p(la);
    if (g)
        *g = gg;
    if (c)
        *c = sqrt((1 + 1 / gg) * (log1p(gg) + la));
}

double experiment_plan_tau2(double delta, double alpha, double power)
{
    double g, c, m;

    experiment_plan_boundary(alpha, &g, &c);
    m = c + quantile(power);
    return g * delta * delta / (m * m);
}

/* ceil(x) as a sample size; false when it is beyond the planner's range. */
static bool to_n(double x, uint64_t *n)
{
    if (!(x < (double)EXPERIMENT_PLAN_MAX_N))
        return false;
    *n = x <= 1 ? 1 : (uint64_t)ceil(x - 1e-9 * x); /* 3841.0000000001 is 3841 */
    return true;
}

/* -------------------------------------------------------------- simulation */

/* xoshiro256** seeded by splitmix64: the same numbers on every machine
 * (libc rand() differs between platforms). */
struct rng {
    uint64_t s[4];
    bool have;
    double spare;
};

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t next(struct rng *r)
{
    uint64_t *s = r->s, out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

static double normal(struct rng *r)
{
    if (r->have) {
        r->have = false;
        return r->spare;
    }
    double u = ((double)(next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
    double v = ((double)(next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
    double m = sqrt(-2 * log(u));
    r->spare = m * sin(6.283185307179586 * v);
    r->have = true;
    return m * cos(6.283185307179586 * v);
}

struct sim {
    double *z;      /* paths x looks: W(t_k) / sqrt(t_k), the null z-statistics */
    uint32_t paths, looks;
    double alpha, mu, g; /* mu: standardized effect at the planned sample, c + z_power */
    double *drift, *bound; /* per look, for the current f */
};

/* The test run on every path with the maximum sample f x planned: looks at
 * t_k f, drift mu sqrt(f t_k), boundary from tau2 / V_k = g f t_k (tau2
 * stays the one tuned at the planned sample, as in the analysis).
 * Returns the power; *fraction (may be NULL) the mean stopping time as a
 * fraction of f x planned. */
static double sim_power(struct sim *s, double f, double *fraction)
{
    uint64_t hits = 0;
    double stop_sum = 0;
    double la = -2 * log(s->alpha);

    for (uint32_t k = 0; k < s->looks; k++) {
        double t = (double)(k + 1) / s->looks, r = s->g * f * t;
        s->drift[k] = s->mu * sqrt(f * t);
        s->bound[k] = sqrt((1 + 1 / r) * (log1p(r) + la));
    }
    for (uint32_t p = 0; p < s->paths; p++) {
        const double *z = s->z + (size_t)p * s->looks;
        double stop = 1;
        for (uint32_t k = 0; k < s->looks; k++) {
            double x = s->drift[k] + z[k];
            if (fabs(x) >= s->bound[k]) {
                hits += x > 0; /* a crossing on the wrong side stops without power */
                stop = (double)(k + 1) / s->looks;
                break;
            }
        }
        stop_sum += stop;
    }
    if (fraction)
        *fraction = stop_sum / s->paths;
    return (double)hits / s->paths;
}

static roost_status simulate(const struct experiment_plan_input *in, double alpha_c,
                             struct experiment_plan *out, roost_error *err)
{
    struct sim s;
    struct rng r;
    uint64_t seed = EXPERIMENT_PLAN_SEED;
    double c, lo, hi;

    s.looks = in->looks;
    s.paths = EXPERIMENT_PLAN_SIM_VALUES / s.looks;
    if (s.paths > EXPERIMENT_PLAN_SIM_PATHS)
        s.paths = EXPERIMENT_PLAN_SIM_PATHS;
    s.alpha = alpha_c;
    experiment_plan_boundary(alpha_c, &s.g, &c);
    s.mu = c + out->z_power;
    s.z = malloc((size_t)s.paths * s.looks * sizeof *s.z);
    s.drift = malloc(2 * (size_t)s.looks * sizeof *s.drift);
    if (!s.z || !s.drift) {
        free(s.z);
        free(s.drift);
        return roost_error_set(err, ROOST_ENOMEM, "plan: out of memory for the simulation");
    }
    s.bound = s.drift + s.looks;
    for (int i = 0; i < 4; i++)
        r.s[i] = splitmix(&seed);
    r.have = false;
    r.spare = 0;
    /* Brownian motion at t_k = k / looks, standardized: Z_k = W(t_k) / sqrt(t_k). */
    for (uint32_t p = 0; p < s.paths; p++) {
        double w = 0, step = sqrt(1.0 / s.looks);
        for (uint32_t k = 0; k < s.looks; k++) {
            w += step * normal(&r);
            s.z[(size_t)p * s.looks + k] = w / sqrt((double)(k + 1) / s.looks);
        }
    }

    out->looks = s.looks;
    out->sim_paths = s.paths;
    out->sim_power = sim_power(&s, 1.0, &out->sim_expected_fraction);

    /* Smallest f with power >= target, by bisection on common paths (power
     * is monotone in f up to simulation noise, which bisection tolerates).
     * If even f = 1 falls short (only possible through simulation noise),
     * the bound stands. */
    lo = 0.01;
    hi = 1.0;
    if (out->sim_power >= in->power) {
        for (int i = 0; i < 40; i++) {
            double mid = 0.5 * (lo + hi);
            if (sim_power(&s, mid, NULL) >= in->power)
                hi = mid;
            else
                lo = mid;
        }
    }
    free(s.z);
    free(s.drift);
    double nc = hi * (double)out->seq_control;
    double k = in->ratio == 0 ? 1.0 : in->ratio;
    out->sim_control = nc <= 1 ? 1 : (uint64_t)ceil(nc);
    out->sim_treatment = (uint64_t)ceil(k * (double)out->sim_control - 1e-9);
    return ROOST_OK;
}

/* ------------------------------------------------------------------- plans */

roost_status experiment_plan_compute(const struct experiment_plan_input *in,
                                     struct experiment_plan *out, roost_error *err)
{
    struct experiment_plan p;
    struct variances v;
    double delta, k, nc, g, c;
    roost_status rc;

    if (!out)
        return roost_error_set(err, ROOST_EINVAL, "plan: NULL argument");
    if ((rc = check_input(in, &delta, &k, err)))
        return rc;
    memset(&p, 0, sizeof p);
    p.delta = delta;
    p.treatment_value = in->baseline + delta;
    p.alpha_comparison = alpha_per_comparison(in);
    p.z_alpha = quantile(1 - p.alpha_comparison / 2);
    p.z_power = quantile(in->power);
    v = variances(in, delta, k);

    /* Fixed horizon. */
    nc = in->type == EXPERIMENT_BINOMIAL
             ? pow(p.z_alpha * sqrt(v.s0) + p.z_power * sqrt(v.s1), 2) / (delta * delta)
             : pow(p.z_alpha + p.z_power, 2) * v.s1 / (delta * delta);
    if (!to_n(nc, &p.fixed_control) || !to_n(k * nc, &p.fixed_treatment))
        goto too_many;
    p.fixed_total = p.fixed_control + (uint64_t)(in->arms - 1) * p.fixed_treatment;

    /* Sequential bound: power at the planned sample alone. */
    experiment_plan_boundary(p.alpha_comparison, &g, &c);
    p.boundary = c;
    nc = pow(c + p.z_power, 2) * v.s1 / (delta * delta);
    if (!to_n(nc, &p.seq_control) || !to_n(k * nc, &p.seq_treatment))
        goto too_many;
    p.seq_total = p.seq_control + (uint64_t)(in->arms - 1) * p.seq_treatment;
    p.seq_inflation = (double)p.seq_control / (double)p.fixed_control;
    p.tau2 = experiment_plan_tau2(delta, p.alpha_comparison, in->power);

    if (in->looks == 1) {
        /* One look at the end is the closed form itself. */
        p.looks = 1;
        p.sim_power = in->power;
        p.sim_expected_fraction = 1;
        p.sim_control = p.seq_control;
        p.sim_treatment = p.seq_treatment;
    } else if (in->looks > 1) {
        if ((rc = simulate(in, p.alpha_comparison, &p, err)))
            return rc;
    }
    *out = p;
    return ROOST_OK;
too_many:
    return roost_error_set(err, ROOST_ELIMIT,
                           "more than 10^12 observations per arm needed: an effect of %g on a "
                           "baseline of %g is too small to detect",
                           fabs(delta), in->baseline);
}

roost_status experiment_plan_power(const struct experiment_plan_input *in, uint64_t n_control,
                                   uint64_t n_treatment, double tau2, double *power,
                                   roost_error *err)
{
    double delta, k, nc, nt, z;
    roost_status rc;

    if (!power)
        return roost_error_set(err, ROOST_EINVAL, "plan: NULL argument");
    if ((rc = check_input(in, &delta, &k, err)))
        return rc;
    if (n_control == 0 || n_treatment == 0)
        return roost_error_set(err, ROOST_EINVAL, "power: an arm without observations");
    if (!(isfinite(tau2) && tau2 >= 0))
        return roost_error_set(err, ROOST_EINVAL, "power: tau2 %g is not a variance", tau2);
    nc = (double)n_control;
    nt = (double)n_treatment;

    /* The variance of the estimate at these sizes: the same per-observation
     * pieces as the plan, with k = nt / nc. */
    struct variances v = variances(in, delta, nt / nc);
    double v1 = v.s1 / nc, v0 = v.s0 / nc, d = fabs(delta);
    if (tau2 > 0) {
        /* The always-valid test read now: |z| must exceed the mSPRT bound
         * for this V and tau2. */
        double r = tau2 / v1;
        double c = sqrt((1 + 1 / r) * (log1p(r) - 2 * log(in->alpha)));
        z = d / sqrt(v1) - c;
    } else {
        z = (d - quantile(1 - in->alpha / 2) * sqrt(v0)) / sqrt(v1);
    }
    *power = cdf(z);
    return ROOST_OK;
}

const char *experiment_correction_name(enum experiment_correction c)
{
    return c == EXPERIMENT_SIDAK ? "sidak" : "bonferroni";
}
