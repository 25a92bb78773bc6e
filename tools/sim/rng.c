/* Random numbers; see rng.h for the guarantees. */
#include "tools/sim/rng.h"

#include <math.h>

uint64_t sim_splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void sim_rng_seed(sim_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = sim_splitmix(&seed);
}

void sim_rng_derive(sim_rng *r, uint64_t seed, uint64_t a, uint64_t b)
{
    /* Each input goes through a full splitmix round before it is mixed
     * with the next, so nearby (a, b) give unrelated streams. */
    uint64_t x = seed;
    uint64_t h = sim_splitmix(&x);
    x = h ^ a;
    h = sim_splitmix(&x);
    x = h ^ b;
    sim_rng_seed(r, sim_splitmix(&x));
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t sim_rng_next(sim_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double sim_uniform(sim_rng *r)
{
    return ((double)(sim_rng_next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

double sim_normal(sim_rng *r)
{
    double u1 = sim_uniform(r), u2 = sim_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

double sim_exponential(sim_rng *r, double mean)
{
    return -mean * log(sim_uniform(r));
}

/* PTRS (W. Hörmann, "The transformed rejection method for generating
 * Poisson random variables", 1993), for large means where inversion would
 * walk hundreds of terms and exp(-lambda) underflows. */
static uint64_t poisson_ptrs(sim_rng *r, double lambda)
{
    double slam = sqrt(lambda), loglam = log(lambda);
    double b = 0.931 + 2.53 * slam, a = -0.059 + 0.02483 * b;
    double invalpha = 1.1239 + 1.1328 / (b - 3.4), vr = 0.9277 - 3.6224 / (b - 2);

    for (;;) {
        double u = sim_uniform(r) - 0.5, v = sim_uniform(r);
        double us = 0.5 - fabs(u);
        double k = floor((2 * a / us + b) * u + lambda + 0.43);

        if (us >= 0.07 && v <= vr)
            return (uint64_t)k;
        if (k < 0 || (us < 0.013 && v > us))
            continue;
        if (log(v) + log(invalpha) - log(a / (us * us) + b) <= -lambda + k * loglam - lgamma(k + 1))
            return (uint64_t)k;
    }
}

uint64_t sim_poisson(sim_rng *r, double lambda)
{
    double u, p, c;
    uint64_t k = 0;

    if (lambda > 500)
        return poisson_ptrs(r, lambda);
    /* The uniform is drawn before the lambda <= 0 test on purpose: the
     * stream advances by one value whatever the rate (rng.h). */
    u = sim_uniform(r);
    p = exp(-lambda);
    c = p;
    if (lambda <= 0)
        return 0;
    while (u > c && k < 100000) {
        k++;
        p *= lambda / (double)k;
        c += p;
    }
    return k;
}

uint64_t sim_binomial(sim_rng *r, uint64_t n, double p)
{
    uint64_t x = 0;

    for (uint64_t i = 0; i < n; i++)
        x += sim_uniform(r) < p;
    return x;
}
