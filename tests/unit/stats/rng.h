/* Deterministic random numbers for tests, simulations and benchmarks:
 * xoshiro256** (Blackman & Vigna) seeded through splitmix64. Not libc
 * rand(): its sequence differs between platforms and it has global state.
 * Same seed, same numbers, on every machine. */
#ifndef ROOST_TESTS_RNG_H
#define ROOST_TESTS_RNG_H

#include <math.h>
#include <stdint.h>

typedef struct roost_rng {
    uint64_t s[4];
    int have_spare;
    double spare;
} roost_rng;

static inline uint64_t roost_rng_splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline void roost_rng_seed(roost_rng *r, uint64_t seed)
{
    int i;
    for (i = 0; i < 4; i++)
        r->s[i] = roost_rng_splitmix(&seed);
    r->have_spare = 0;
    r->spare = 0.0;
}

static inline uint64_t roost_rng_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t roost_rng_next(roost_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = roost_rng_rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = roost_rng_rotl(s[3], 45);
    return result;
}

/* Uniform in (0, 1): never 0, so log() of it is finite. */
static inline double roost_rng_uniform(roost_rng *r)
{
    return ((double)(roost_rng_next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

/* Standard normal (Box-Muller, both values used). */
static inline double roost_rng_normal(roost_rng *r)
{
    double u, v, m;
    if (r->have_spare) {
        r->have_spare = 0;
        return r->spare;
    }
    u = roost_rng_uniform(r);
    v = roost_rng_uniform(r);
    m = sqrt(-2.0 * log(u));
    r->spare = m * sin(6.283185307179586 * v);
    r->have_spare = 1;
    return m * cos(6.283185307179586 * v);
}

static inline double roost_rng_lognormal(roost_rng *r, double mu, double sigma)
{
    return exp(mu + sigma * roost_rng_normal(r));
}

/* Pareto with scale xm and shape a (heavy tail; infinite variance for
 * a <= 2). */
static inline double roost_rng_pareto(roost_rng *r, double xm, double a)
{
    return xm / pow(roost_rng_uniform(r), 1.0 / a);
}

#endif
