/* MurmurHash3 x86_32 (Austin Appleby's public-domain algorithm), one-shot
 * and streaming. The streaming form keeps up to three pending bytes so that
 * pieces of any length hash exactly like their concatenation; the one-shot
 * form is the streaming form with a single update, so the two cannot drift
 * apart. Blocks are read byte by byte as little-endian words, which is what
 * the reference does on x86 and keeps the result the same on big-endian
 * targets and at unaligned addresses. */
#include "roost/murmur3.h"

#define C1 0xcc9e2d51u
#define C2 0x1b873593u

static inline uint32_t rotl32(uint32_t x, int r)
{
    return (x << r) | (x >> (32 - r));
}

static inline uint32_t mix_k(uint32_t k)
{
    k *= C1;
    k = rotl32(k, 15);
    return k * C2;
}

static inline uint32_t mix_h(uint32_t h, uint32_t k)
{
    h ^= mix_k(k);
    h = rotl32(h, 13);
    return h * 5 + 0xe6546b64u;
}

void roost_murmur3_init(roost_murmur3 *m, uint32_t seed)
{
    m->h = seed;
    m->tail = 0;
    m->ntail = 0;
    m->total = 0;
}

void roost_murmur3_update(roost_murmur3 *m, const void *data, size_t len)
{
    const uint8_t *p = data;
    uint32_t h = m->h;

    m->total += (uint32_t)len;
    /* Finish a block started by an earlier update. */
    while (len > 0 && m->ntail != 0) {
        m->tail |= (uint32_t)*p++ << (8 * m->ntail);
        len--;
        if (++m->ntail == 4) {
            h = mix_h(h, m->tail);
            m->tail = 0;
            m->ntail = 0;
        }
    }
    for (; len >= 4; len -= 4, p += 4) {
        uint32_t k = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                     (uint32_t)p[3] << 24;
        h = mix_h(h, k);
    }
    for (; len > 0; len--)
        m->tail |= (uint32_t)*p++ << (8 * m->ntail++);
    m->h = h;
}

uint32_t roost_murmur3_final(const roost_murmur3 *m)
{
    uint32_t h = m->h;

    if (m->ntail != 0)
        h ^= mix_k(m->tail);
    h ^= m->total;
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

uint32_t roost_murmur3_32(const void *data, size_t len, uint32_t seed)
{
    roost_murmur3 m;

    roost_murmur3_init(&m, seed);
    if (len != 0)
        roost_murmur3_update(&m, data, len);
    return roost_murmur3_final(&m);
}
