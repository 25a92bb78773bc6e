/* Deterministic random numbers for the simulator and the rollout tests:
 * xoshiro256** (Blackman & Vigna) seeded through splitmix64, and the few
 * distributions the traffic model needs (uniform, normal, exponential,
 * Poisson, binomial).
 *
 * Not libc rand(): its sequence differs between platforms and it has global
 * state. Same seed, same numbers, on every machine, so a simulated rollout
 * is reproduced exactly from its seed.
 *
 * Streams. sim_rng_derive gives an independent stream for any (seed, a, b)
 * without drawing from another stream. The virtual driver uses one stream
 * per simulated second and purpose, so two policies run on the same seed
 * see the same arrivals and, as far as their different weights allow, the
 * same request outcomes ("the same traces"): a decision that changes the
 * weight at second 60 does not reshuffle the randomness of second 61.
 *
 * Stream positions matter for reproducibility, so every sampler documents
 * how many values it draws. sim_poisson and sim_binomial keep exactly the
 * draw pattern of the rollout tests' original harness (inversion up to a
 * mean of 500, one uniform per trial), so the figures docs/rollouts.md
 * quotes from //tests/unit/rollout:quality are unchanged.
 */
#ifndef ROOST_TOOLS_SIM_RNG_H
#define ROOST_TOOLS_SIM_RNG_H

#include <stdint.h>

typedef struct sim_rng {
    uint64_t s[4];
} sim_rng;

/* splitmix64: advances *x and returns the next output. Used to seed
 * xoshiro from a single 64-bit value, and to derive stream seeds. */
uint64_t sim_splitmix(uint64_t *x);

void sim_rng_seed(sim_rng *r, uint64_t seed);

/* An independent stream for (seed, a, b): e.g. (run seed, second, purpose). */
void sim_rng_derive(sim_rng *r, uint64_t seed, uint64_t a, uint64_t b);

uint64_t sim_rng_next(sim_rng *r);

/* Uniform in (0, 1): never 0 or 1, so log() of it is finite. One draw. */
double sim_uniform(sim_rng *r);

/* Standard normal (Box-Muller). Two draws; no cached spare, so a stream's
 * position depends only on how many values were asked for. */
double sim_normal(sim_rng *r);

/* Exponential with the given mean (> 0). One draw. */
double sim_exponential(sim_rng *r, double mean);

/* Poisson(lambda). lambda <= 500: inversion of the cumulative (one draw,
 * also for lambda <= 0, which returns 0); above: Hörmann's transformed
 * rejection (PTRS), exact, two or more draws. */
uint64_t sim_poisson(sim_rng *r, double lambda);

/* Binomial(n, p) as n Bernoulli trials: n draws, whatever p. Exact, and
 * cheap at the per-second counts the simulator deals with (a few thousand
 * at most). */
uint64_t sim_binomial(sim_rng *r, uint64_t n, double p);

#endif
