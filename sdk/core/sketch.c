/* Latency sketch (see include/roost/sketch.h for the contract).
 *
 * Representation: one sorted array of (key, count) pairs in caller memory.
 * A sorted sparse array beats the alternatives here:
 *   - a dense array indexed by key would need ~1000 slots to cover 1 us..1000 s
 *     even when the data spans two decades, and devices cannot afford that;
 *   - a hash map would need extra memory and would have to be sorted for
 *     every quantile, merge and encode.
 * Lookups are a binary search (about 9 steps for 400 buckets); inserting a
 * new bucket moves the tail of the array, but new buckets stop appearing
 * once the distribution's range has been seen, so the steady state is
 * search + increment.
 *
 * Keys: the zero bucket is 0; a positive value with log-index i has key
 * i + KEY_OFFSET (>= 1); a negative value has the negated key of its
 * magnitude. Sorting by key is therefore sorting by value, which is what
 * quantiles, Mann-Whitney on buckets and delta-encoding need.
 *
 * Collapse rule (shared by add, merge and decode): after combining, if more
 * than `capacity` distinct keys exist, let T be the capacity-th highest key;
 * all mass below T moves into T. Because T only depends on the union of
 * keys, the result of a sequence of merges does not depend on their order
 * (see the header). Insertion is just a merge with a one-bucket sketch.
 */
#include "roost/sketch.h"

#include <math.h>
#include <string.h>

/* ln(gamma) for gamma = (1 + 0.01) / (1 - 0.01). Written out rather than
 * computed so that every platform (and the encoding) agrees on it. */
#define LN_GAMMA 0.020000666706669435
/* ln(2 / (1 + gamma)) = ln(1 - alpha): bucket i is represented by
 * gamma^i * (1 - alpha), computed as exp(i ln gamma + LN_REP) so that the
 * top bucket does not overflow before the multiplication. */
#define LN_REP (-0.01005033585350145)
/* Smallest log-index is ceil(ln(1e-9) / LN_GAMMA) = -1036; one spare index
 * absorbs a log() that rounds differently on another libm. */
#define KEY_OFFSET 1037

int32_t roost_sketch_key(double value)
{
    double a = fabs(value);
    double idx;
    int32_t k;

    if (!(a >= ROOST_SKETCH_MIN_VALUE))
        return 0;
    idx = ceil(log(a) / LN_GAMMA);
    k = (int32_t)idx + KEY_OFFSET;
    if (k < 1)
        k = 1;
    if (k > ROOST_SKETCH_KEY_MAX)
        k = ROOST_SKETCH_KEY_MAX;
    return value < 0 ? -k : k;
}

double roost_sketch_key_value(int32_t key)
{
    int32_t k = key < 0 ? -key : key;
    double v;

    if (key == 0)
        return 0.0;
    v = exp((double)(k - KEY_OFFSET) * LN_GAMMA + LN_REP);
    return key < 0 ? -v : v;
}

roost_status roost_sketch_init(roost_sketch *s, roost_sketch_bucket *buckets, size_t capacity)
{
    if (!s || !buckets || capacity < 2 || capacity > ROOST_SKETCH_MAX_CAPACITY)
        return ROOST_EINVAL;
    s->buckets = buckets;
    s->capacity = capacity;
    roost_sketch_clear(s);
    return ROOST_OK;
}

void roost_sketch_clear(roost_sketch *s)
{
    if (!s)
        return;
    s->len = 0;
    s->count = 0;
    s->sum = 0.0;
    s->min = 0.0;
    s->max = 0.0;
    s->collapsed = 0;
}

/* Index of the first bucket with key >= key (len if none). */
static size_t lower_bound(const roost_sketch_bucket *b, size_t len, int32_t key)
{
    size_t lo = 0, hi = len;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (b[mid].key < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Adds the sorted buckets src[0..n) into s, collapsing the lowest keys if the
 * union does not fit. The caller has checked that counts cannot overflow.
 * src must not alias s->buckets. */
static void merge_buckets(roost_sketch *s, const roost_sketch_bucket *src, size_t n)
{
    roost_sketch_bucket *d = s->buckets;
    size_t i, j, u, w, drop, d0;
    uint64_t folded = 0;

    /* Distinct keys in the union. */
    for (i = 0, j = 0, u = 0; i < s->len || j < n; u++) {
        if (j >= n || (i < s->len && d[i].key < src[j].key))
            i++;
        else if (i >= s->len || src[j].key < d[i].key)
            j++;
        else
            i++, j++;
    }

    drop = u > s->capacity ? u - s->capacity : 0;
    d0 = 0;
    if (drop) {
        /* Walk the `drop` lowest union keys: their mass is folded into the
         * next key T. d0 counts dst buckets among them. */
        size_t k = 0;
        for (i = 0, j = 0; k < drop; k++) {
            if (j >= n || (i < s->len && d[i].key < src[j].key)) {
                folded += d[i++].count;
                d0++;
            } else if (i >= s->len || src[j].key < d[i].key) {
                folded += src[j++].count;
            } else {
                folded += d[i++].count + src[j++].count;
                d0++;
            }
        }
        /* Remove dst's folded buckets so the backward merge below never
         * writes over a bucket it has not read yet. */
        memmove(d, d + d0, (s->len - d0) * sizeof *d);
        s->len -= d0;
        src += j;
        n -= j;
        u -= drop;
        s->collapsed = 1;
    }

    /* Backward merge into d[0..u): the write index never passes the read
     * index because the union is at least as large as what is left of d. */
    i = s->len;
    j = n;
    w = u;
    while (j > 0) {
        if (i > 0 && d[i - 1].key > src[j - 1].key) {
            d[--w] = d[--i];
        } else if (i > 0 && d[i - 1].key == src[j - 1].key) {
            --w;
            --i;
            --j;
            d[w].key = d[i].key;
            d[w].count = d[i].count + src[j].count;
        } else {
            d[--w] = src[--j];
        }
    }
    s->len = u;
    if (drop)
        d[0].count += folded; /* d[0] holds T, the lowest surviving key */
}

roost_status roost_sketch_add_n(roost_sketch *s, double value, uint64_t n)
{
    roost_sketch_bucket one;
    size_t pos;

    if (!s || !s->buckets)
        return ROOST_EINVAL;
    if (!isfinite(value))
        return ROOST_EINVAL;
    if (n == 0)
        return ROOST_OK;
    if (s->count > UINT64_MAX - n)
        return ROOST_ELIMIT;
    /* A sum that overflows to infinity could not be encoded (decoders
     * reject non-finite numbers), so refuse the value instead. */
    if (!isfinite(s->sum + value * (double)n))
        return ROOST_ELIMIT;

    one.key = roost_sketch_key(value);
    one.count = n;
    pos = lower_bound(s->buckets, s->len, one.key);
    if (pos < s->len && s->buckets[pos].key == one.key) {
        s->buckets[pos].count += n;
    } else if (s->len < s->capacity) {
        memmove(s->buckets + pos + 1, s->buckets + pos, (s->len - pos) * sizeof *s->buckets);
        s->buckets[pos] = one;
        s->len++;
    } else {
        merge_buckets(s, &one, 1);
    }

    if (s->count == 0) {
        s->min = value;
        s->max = value;
    } else {
        if (value < s->min)
            s->min = value;
        if (value > s->max)
            s->max = value;
    }
    s->count += n;
    s->sum += value * (double)n;
    return ROOST_OK;
}

roost_status roost_sketch_add(roost_sketch *s, double value)
{
    return roost_sketch_add_n(s, value, 1);
}

roost_status roost_sketch_merge(roost_sketch *dst, const roost_sketch *src)
{
    if (!dst || !src || dst == src || !dst->buckets || (src->len && !src->buckets))
        return ROOST_EINVAL;
    if (src->buckets == dst->buckets)
        return ROOST_EINVAL;
    if (src->count == 0)
        return ROOST_OK;
    if (dst->count > UINT64_MAX - src->count || !isfinite(dst->sum + src->sum))
        return ROOST_ELIMIT;

    merge_buckets(dst, src->buckets, src->len);
    if (src->collapsed)
        dst->collapsed = 1;
    if (dst->count == 0) {
        dst->min = src->min;
        dst->max = src->max;
    } else {
        if (src->min < dst->min)
            dst->min = src->min;
        if (src->max > dst->max)
            dst->max = src->max;
    }
    dst->count += src->count;
    dst->sum += src->sum;
    return ROOST_OK;
}

roost_status roost_sketch_quantile(const roost_sketch *s, double q, double *out)
{
    double rank, v;
    uint64_t cum = 0;
    size_t i;

    if (!s || !out || !(q >= 0.0 && q <= 1.0))
        return ROOST_EINVAL;
    if (s->count == 0)
        return ROOST_ENOTFOUND;
    if (q == 0.0) {
        *out = s->min;
        return ROOST_OK;
    }
    if (q == 1.0) {
        *out = s->max;
        return ROOST_OK;
    }
    /* 0-based rank of the order statistic; the bucket holding it is the
     * first whose cumulative count exceeds it. */
    rank = floor(q * (double)(s->count - 1));
    for (i = 0; i < s->len; i++) {
        cum += s->buckets[i].count;
        if ((double)cum > rank)
            break;
    }
    if (i == s->len)
        i = s->len - 1;
    v = roost_sketch_key_value(s->buckets[i].key);
    /* The true order statistic lies in [min, max]; clamping can only move
     * the estimate towards it. */
    if (v < s->min)
        v = s->min;
    if (v > s->max)
        v = s->max;
    *out = v;
    return ROOST_OK;
}

double roost_sketch_reliable_q(const roost_sketch *s)
{
    double q;

    if (!s || !s->collapsed || s->len == 0 || s->count < 2)
        return 0.0;
    q = (double)s->buckets[0].count / (double)(s->count - 1);
    return q > 1.0 ? 1.0 : q;
}

roost_status roost_sketch_mean(const roost_sketch *s, double *out)
{
    if (!s || !out)
        return ROOST_EINVAL;
    if (s->count == 0)
        return ROOST_ENOTFOUND;
    *out = s->sum / (double)s->count;
    return ROOST_OK;
}

/* ---- encoding ---------------------------------------------------------- */

static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

static uint8_t *put_f64(uint8_t *p, double d)
{
    uint64_t u;
    int i;

    memcpy(&u, &d, sizeof u);
    for (i = 0; i < 8; i++)
        *p++ = (uint8_t)(u >> (8 * i));
    return p;
}

static uint64_t zigzag(int32_t k)
{
    return k < 0 ? ((uint64_t)(-(int64_t)k) << 1) - 1 : (uint64_t)k << 1;
}

static uint64_t key_gap(const roost_sketch *s, size_t i)
{
    return i == 0 ? zigzag(s->buckets[0].key)
                  : (uint64_t)((int64_t)s->buckets[i].key - s->buckets[i - 1].key - 1);
}

size_t roost_sketch_encoded_size(const roost_sketch *s)
{
    size_t n, i;

    if (!s)
        return 0;
    n = 2 + varint_len(s->len);
    if (s->len == 0)
        return n;
    n += 24;
    for (i = 0; i < s->len; i++)
        n += varint_len(key_gap(s, i)) + varint_len(s->buckets[i].count);
    return n;
}

roost_status roost_sketch_encode(const roost_sketch *s, uint8_t *buf, size_t cap, size_t *len)
{
    size_t need, i;
    uint8_t *p;

    if (!s || !buf || !len)
        return ROOST_EINVAL;
    need = roost_sketch_encoded_size(s);
    if (need > cap)
        return ROOST_ELIMIT;
    p = buf;
    *p++ = ROOST_SKETCH_ENCODING_VERSION;
    *p++ = (uint8_t)(s->collapsed ? 1 : 0);
    p = put_varint(p, s->len);
    if (s->len) {
        p = put_f64(p, s->min);
        p = put_f64(p, s->max);
        p = put_f64(p, s->sum);
        for (i = 0; i < s->len; i++) {
            p = put_varint(p, key_gap(s, i));
            p = put_varint(p, s->buckets[i].count);
        }
    }
    *len = (size_t)(p - buf);
    return ROOST_OK;
}

/* Reader over untrusted bytes: every get fails rather than read past end. */
typedef struct reader {
    const uint8_t *p, *end;
} reader;

static int get_varint(reader *r, uint64_t *out)
{
    uint64_t v = 0;
    unsigned shift = 0;

    while (r->p < r->end) {
        uint8_t b = *r->p++;
        if (shift == 63 && b > 1)
            return 0; /* more than 64 bits */
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 1;
        }
        shift += 7;
        if (shift > 63)
            return 0; /* 11th byte */
    }
    return 0;
}

static int get_f64(reader *r, double *out)
{
    uint64_t u = 0;
    int i;

    if (r->end - r->p < 8)
        return 0;
    for (i = 0; i < 8; i++)
        u |= (uint64_t)r->p[i] << (8 * i);
    r->p += 8;
    memcpy(out, &u, sizeof *out);
    return 1;
}

typedef struct header {
    int collapsed;
    uint64_t nbuckets;
    double min, max, sum;
    uint64_t count;
    int32_t first_key, last_key;
} header;

/* Parses buf. With s == NULL it only validates and fills h; with s it also
 * writes the buckets into s (the input has been validated before, so that
 * pass cannot fail). */
static roost_status parse(const uint8_t *buf, size_t len, header *h, roost_sketch *s)
{
    reader r;
    uint64_t i, v, cnt;
    int64_t key = 0;
    uint64_t fold_upto = 0; /* buckets [0, fold_upto) fold into bucket fold_upto */
    uint64_t folded = 0;

    r.p = buf;
    r.end = buf + len;
    if (len < 3 || buf[0] != ROOST_SKETCH_ENCODING_VERSION || (buf[1] & ~1u))
        return ROOST_ECORRUPT;
    h->collapsed = buf[1] & 1;
    r.p += 2;
    if (!get_varint(&r, &h->nbuckets))
        return ROOST_ECORRUPT;
    h->count = 0;
    h->min = h->max = h->sum = 0.0;
    if (h->nbuckets == 0)
        return r.p == r.end ? ROOST_OK : ROOST_ECORRUPT;
    /* Each bucket takes at least two bytes: refuse counts the input cannot
     * possibly hold before looping on them. */
    if (h->nbuckets > (uint64_t)(r.end - r.p) / 2 || h->nbuckets > 2u * ROOST_SKETCH_KEY_MAX + 1)
        return ROOST_ECORRUPT;
    if (!get_f64(&r, &h->min) || !get_f64(&r, &h->max) || !get_f64(&r, &h->sum))
        return ROOST_ECORRUPT;
    if (!isfinite(h->min) || !isfinite(h->max) || !isfinite(h->sum) || h->min > h->max)
        return ROOST_ECORRUPT;

    if (s && h->nbuckets > s->capacity)
        fold_upto = h->nbuckets - s->capacity;
    for (i = 0; i < h->nbuckets; i++) {
        if (!get_varint(&r, &v))
            return ROOST_ECORRUPT;
        if (i == 0) {
            if (v > 2u * ROOST_SKETCH_KEY_MAX)
                return ROOST_ECORRUPT;
            key = (v & 1) ? -(int64_t)((v + 1) >> 1) : (int64_t)(v >> 1);
        } else {
            if (v > 2u * ROOST_SKETCH_KEY_MAX)
                return ROOST_ECORRUPT;
            key += (int64_t)v + 1;
        }
        if (key > ROOST_SKETCH_KEY_MAX || key < -ROOST_SKETCH_KEY_MAX)
            return ROOST_ECORRUPT;
        if (!get_varint(&r, &cnt) || cnt == 0 || h->count > UINT64_MAX - cnt)
            return ROOST_ECORRUPT;
        h->count += cnt;
        if (i == 0)
            h->first_key = (int32_t)key;
        h->last_key = (int32_t)key;
        if (s) {
            if (i < fold_upto) {
                folded += cnt;
            } else {
                size_t at = (size_t)(i - fold_upto);
                s->buckets[at].key = (int32_t)key;
                s->buckets[at].count = cnt + (i == fold_upto ? folded : 0);
            }
        }
    }
    if (r.p != r.end)
        return ROOST_ECORRUPT;
    if (s)
        s->len = (size_t)(h->nbuckets - fold_upto);
    return ROOST_OK;
}

/* min and max must lie in the first and last buckets. A libm on another
 * platform may round log() differently at a bucket edge, so allow one key
 * of slack; after a collapse min may be anywhere below the first bucket. */
static int extremes_consistent(const header *h)
{
    int32_t kmin = roost_sketch_key(h->min), kmax = roost_sketch_key(h->max);

    if (kmax < h->last_key - 1 || kmax > h->last_key + 1)
        return 0;
    if (kmin > h->first_key + 1)
        return 0;
    if (!h->collapsed && kmin < h->first_key - 1)
        return 0;
    return 1;
}

roost_status roost_sketch_decode(roost_sketch *s, const uint8_t *buf, size_t len)
{
    header h;
    roost_status st;

    if (!s || !s->buckets || (!buf && len))
        return ROOST_EINVAL;
    if (!buf)
        return ROOST_ECORRUPT;
    st = parse(buf, len, &h, NULL);
    if (st != ROOST_OK)
        return st;
    if (h.nbuckets && !extremes_consistent(&h))
        return ROOST_ECORRUPT;

    roost_sketch_clear(s);
    if (h.nbuckets == 0) {
        s->collapsed = h.collapsed;
        return ROOST_OK;
    }
    st = parse(buf, len, &h, s);
    if (st != ROOST_OK) /* cannot happen: the same bytes passed above */
        return ROOST_EINTERNAL;
    s->count = h.count;
    s->sum = h.sum;
    s->min = h.min;
    s->max = h.max;
    s->collapsed = h.collapsed || h.nbuckets > s->capacity;
    return ROOST_OK;
}
