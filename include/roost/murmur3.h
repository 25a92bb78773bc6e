/* MurmurHash3 x86_32 and the bucketing rule built on it.
 *
 * flagd's `fractional` operator, and Roost's traffic splitter, assign a
 * request to a bucket by hashing a key with MurmurHash3 x86_32 (seed 0) over
 * its UTF-8 bytes and scaling the 32-bit hash to the total weight:
 * bucket = (hash * total) >> 32. Both use these functions so a user lands in
 * the same arm wherever the decision is made.
 *
 * The streaming form hashes a key given in pieces (flag key, then targeting
 * key) without first copying it into one buffer; it gives the same hash as
 * the one-shot form over the concatenation.
 */
#ifndef ROOST_MURMUR3_H
#define ROOST_MURMUR3_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* MurmurHash3 x86_32 of len bytes at data (data may be NULL when len is 0). */
uint32_t roost_murmur3_32(const void *data, size_t len, uint32_t seed);

/* Streaming state; fields are private. */
typedef struct roost_murmur3 {
    uint32_t h;
    uint32_t tail;   /* pending bytes, little-endian */
    uint32_t ntail;  /* 0..3 */
    uint32_t total;  /* bytes hashed so far (mod 2^32, as the algorithm uses) */
} roost_murmur3;

void roost_murmur3_init(roost_murmur3 *m, uint32_t seed);
void roost_murmur3_update(roost_murmur3 *m, const void *data, size_t len);
uint32_t roost_murmur3_final(const roost_murmur3 *m);

/* The bucket in [0, total) for a 32-bit hash: (hash * total) >> 32.
 * total 0 gives 0. */
static inline uint32_t roost_bucket(uint32_t hash, uint32_t total)
{
    return (uint32_t)(((uint64_t)hash * total) >> 32);
}

#ifdef __cplusplus
}
#endif

#endif /* ROOST_MURMUR3_H */
