/* JavaScript number <-> text conversions (see jsnum.h for why).
 *
 * Both directions are exact, which takes big-integer arithmetic in the rare
 * cases: a fixed-size bignum of BN_WORDS 32-bit words on the stack (176
 * bytes each, at most four live at once), never allocated. Common inputs
 * take short paths first: integers below 2^53 print directly, and decimal
 * text with at most 15 significant digits and a small exponent converts with
 * one correctly rounded double operation (Clinger's fast path).
 *
 * Formatting uses Burger and Dybvig's free-format algorithm ("Printing
 * floating-point numbers quickly and accurately", 1996): it produces the
 * shortest digit string that reads back as the same double, taking the
 * digit closest to the value when two are possible and the even one on an
 * exact tie (as V8 does). Parsing computes D * 10^E exactly as a big integer
 * (E >= 0) or as a big quotient with enough bits (E < 0) and rounds once,
 * half to even, including into the subnormal range.
 *
 * Size bound: the largest quantity is D * 2^S with D < 10^41 and
 * S <= 68 + log2(10^365), about 1290 bits; formatting needs at most about
 * 1140 bits. BN_WORDS = 44 (1408 bits) covers both; operations that would
 * overflow set `ovf` instead of writing out of bounds, and callers fall back
 * to an approximate result (which no valid input reaches).
 */
#include "jsnum.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* ------------------------------------------------------------- bignum */

#define BN_WORDS 44

typedef struct bn {
    uint32_t w[BN_WORDS]; /* little-endian words */
    unsigned n;           /* words in use; w[n-1] != 0 unless n == 0 */
    bool ovf;
} bn;

static void bn_set_u64(bn *a, uint64_t v)
{
    a->ovf = false;
    a->n = 0;
    while (v != 0) {
        a->w[a->n++] = (uint32_t)v;
        v >>= 32;
    }
}

static void bn_trim(bn *a)
{
    while (a->n > 0 && a->w[a->n - 1] == 0)
        a->n--;
}

static void bn_mul_add(bn *a, uint32_t m, uint32_t add)
{
    uint64_t carry = add;
    for (unsigned i = 0; i < a->n; i++) {
        uint64_t t = (uint64_t)a->w[i] * m + carry;
        a->w[i] = (uint32_t)t;
        carry = t >> 32;
    }
    if (carry != 0) {
        if (a->n == BN_WORDS) {
            a->ovf = true;
            return;
        }
        a->w[a->n++] = (uint32_t)carry;
    }
}

static void bn_mul_pow10(bn *a, unsigned k)
{
    static const uint32_t p10[10] = {1,      10,      100,      1000,      10000,
                                     100000, 1000000, 10000000, 100000000, 1000000000};
    for (; k >= 9; k -= 9)
        bn_mul_add(a, p10[9], 0);
    if (k > 0)
        bn_mul_add(a, p10[k], 0);
}

static void bn_shl(bn *a, unsigned bits)
{
    unsigned words = bits / 32, sh = bits % 32;

    if (a->n == 0)
        return;
    if (a->n + words + 1 > BN_WORDS) {
        a->ovf = true;
        return;
    }
    a->w[a->n + words] = 0;
    for (unsigned i = a->n; i-- > 0;) {
        uint64_t v = (uint64_t)a->w[i] << sh;
        a->w[i + words + 1] |= (uint32_t)(v >> 32);
        a->w[i + words] = (uint32_t)v;
    }
    for (unsigned i = 0; i < words; i++)
        a->w[i] = 0;
    a->n += words + 1;
    bn_trim(a);
}

static int bn_cmp(const bn *a, const bn *b)
{
    if (a->n != b->n)
        return a->n < b->n ? -1 : 1;
    for (unsigned i = a->n; i-- > 0;)
        if (a->w[i] != b->w[i])
            return a->w[i] < b->w[i] ? -1 : 1;
    return 0;
}

/* r = a + b (r may alias a) */
static void bn_add(bn *r, const bn *a, const bn *b)
{
    unsigned n = a->n > b->n ? a->n : b->n;
    uint64_t carry = 0;

    r->ovf = a->ovf || b->ovf;
    for (unsigned i = 0; i < n; i++) {
        uint64_t t = carry;
        if (i < a->n)
            t += a->w[i];
        if (i < b->n)
            t += b->w[i];
        r->w[i] = (uint32_t)t;
        carry = t >> 32;
    }
    r->n = n;
    if (carry != 0) {
        if (n == BN_WORDS) {
            r->ovf = true;
            return;
        }
        r->w[r->n++] = (uint32_t)carry;
    }
}

/* a -= b; requires a >= b */
static void bn_sub(bn *a, const bn *b)
{
    int64_t borrow = 0;
    for (unsigned i = 0; i < a->n; i++) {
        int64_t t = (int64_t)a->w[i] - borrow - (i < b->n ? (int64_t)b->w[i] : 0);
        borrow = t < 0;
        a->w[i] = (uint32_t)(t + (borrow ? ((int64_t)1 << 32) : 0));
    }
    bn_trim(a);
}

static unsigned bn_bitlen(const bn *a)
{
    if (a->n == 0)
        return 0;
    uint32_t top = a->w[a->n - 1];
    unsigned bits = 0;
    while (top != 0) {
        bits++;
        top >>= 1;
    }
    return (a->n - 1) * 32 + bits;
}

static bool bn_bit(const bn *a, unsigned i)
{
    return i / 32 < a->n && ((a->w[i / 32] >> (i % 32)) & 1u);
}

/* ------------------------------------------------------ double helpers */

static uint64_t dbits(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static double from_bits(uint64_t u)
{
    double x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* Rounds the exact value (q + sticky*tiny) * 2^exp2 to the nearest double,
 * ties to even, handling subnormals and overflow. */
static double round_to_double(uint64_t q, bool sticky, int exp2)
{
    if (q == 0)
        return 0.0;
    int len = 64;
    while (!((q >> (len - 1)) & 1u))
        len--;
    /* Weight of the result's last mantissa bit: 53 bits below the top, but
     * never below the last subnormal bit. */
    int lsb = exp2 + len - 53;
    if (lsb < -1074)
        lsb = -1074;
    int drop = lsb - exp2; /* low bits of q that do not fit */
    uint64_t mant;
    if (drop <= 0) {
        mant = q << -drop; /* exact: len <= 53 here */
    } else if (drop > 64) {
        return 0.0; /* the value is below half the smallest subnormal */
    } else {
        uint64_t rest, half;
        if (drop == 64) {
            mant = 0;
            rest = q;
            half = (uint64_t)1 << 63;
        } else {
            mant = q >> drop;
            rest = q & (((uint64_t)1 << drop) - 1);
            half = (uint64_t)1 << (drop - 1);
        }
        if (rest > half || (rest == half && (sticky || (mant & 1u))))
            mant++;
    }
    if (mant >> 53) { /* rounding carried into a 54th bit */
        mant >>= 1;
        lsb++;
    }
    if (mant == 0)
        return 0.0;
    if (mant < ((uint64_t)1 << 52))
        return from_bits(mant); /* subnormal: lsb is -1074 */
    int64_t biased = (int64_t)lsb + 1075;
    if (biased >= 0x7ff)
        return from_bits(0x7ff0000000000000ull);
    return from_bits((uint64_t)biased << 52 | (mant & (((uint64_t)1 << 52) - 1)));
}

/* The top 64 bits of a (with the bits below folded into *sticky) and the
 * exponent of their lowest bit. */
static uint64_t bn_top64(const bn *a, bool *sticky, int *exp2)
{
    unsigned len = bn_bitlen(a);
    uint64_t q = 0;
    unsigned low = len > 64 ? len - 64 : 0;
    for (unsigned i = len; i-- > low;)
        q = q << 1 | (bn_bit(a, i) ? 1u : 0u);
    bool s = false;
    for (unsigned i = 0; i < low && !s; i++)
        s = bn_bit(a, i);
    *sticky = s;
    *exp2 = (int)low;
    return q;
}

/* -------------------------------------------------------------- format */

static size_t put_u64(char *out, uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

/* Shortest digits of x > 0 (finite) into d; returns the digit count and the
 * decimal exponent in *k (x = 0.d1d2... * 10^k). */
static size_t shortest_digits(double x, char *d, int *kout)
{
    uint64_t bits = dbits(x);
    int be = (int)(bits >> 52 & 0x7ff);
    uint64_t f = bits & (((uint64_t)1 << 52) - 1);
    int e;
    if (be == 0) {
        e = -1074;
    } else {
        f |= (uint64_t)1 << 52;
        e = be - 1075;
    }
    bool round_ok = (f & 1u) == 0;
    bool asym = be > 1 && f == ((uint64_t)1 << 52);
    bn r, s, mp, mm, t;

    /* r / s = x, mp / s and mm / s are half the gaps to the neighbours. */
    if (e >= 0) {
        bn_set_u64(&r, f);
        bn_shl(&r, (unsigned)e + (asym ? 2 : 1));
        bn_set_u64(&s, asym ? 4 : 2);
        bn_set_u64(&mp, 1);
        bn_shl(&mp, (unsigned)e + (asym ? 1 : 0));
        bn_set_u64(&mm, 1);
        bn_shl(&mm, (unsigned)e);
    } else {
        bn_set_u64(&r, f << (asym ? 2 : 1));
        bn_set_u64(&s, 1);
        bn_shl(&s, (unsigned)(-e + (asym ? 2 : 1)));
        bn_set_u64(&mp, asym ? 2 : 1);
        bn_set_u64(&mm, 1);
    }

    /* Estimate k = ceil(log10(x)) from below, then correct upwards. */
    int flen = 0;
    for (uint64_t g = f; g != 0; g >>= 1)
        flen++;
    int e2 = e + flen - 1; /* 2^e2 <= x < 2^(e2+1) */
    int k = (int)(((int64_t)e2 * 1292913986) >> 32); /* floor(e2*log10(2)) */
    if (e2 < 0)
        k--;
    if (k >= 0) {
        bn_mul_pow10(&s, (unsigned)k);
    } else {
        bn_mul_pow10(&r, (unsigned)-k);
        bn_mul_pow10(&mp, (unsigned)-k);
        bn_mul_pow10(&mm, (unsigned)-k);
    }
    for (;;) {
        bn_add(&t, &r, &mp);
        int c = bn_cmp(&t, &s);
        if (c > 0 || (c == 0 && round_ok)) {
            bn_mul_add(&s, 10, 0);
            k++;
        } else {
            break;
        }
    }

    size_t n = 0;
    for (;;) {
        bn_mul_add(&r, 10, 0);
        bn_mul_add(&mp, 10, 0);
        bn_mul_add(&mm, 10, 0);
        int digit = 0;
        while (bn_cmp(&r, &s) >= 0) {
            bn_sub(&r, &s);
            digit++;
        }
        int c1 = bn_cmp(&r, &mm);
        bool tc1 = round_ok ? c1 <= 0 : c1 < 0;
        bn_add(&t, &r, &mp);
        int c2 = bn_cmp(&t, &s);
        bool tc2 = round_ok ? c2 >= 0 : c2 > 0;
        if (r.ovf || s.ovf || mp.ovf || t.ovf || n >= 17) {
            /* Cannot happen for a double; emit what we have. */
            d[n++] = (char)('0' + (digit > 9 ? 9 : digit));
            break;
        }
        if (!tc1 && !tc2) {
            d[n++] = (char)('0' + digit);
            continue;
        }
        if (tc1 && tc2) {
            bn_add(&t, &r, &r);
            int c = bn_cmp(&t, &s);
            if (c > 0 || (c == 0 && (digit & 1)))
                digit++;
        } else if (tc2) {
            digit++;
        }
        d[n++] = (char)('0' + digit);
        break;
    }
    *kout = k;
    return n;
}

size_t roost_jsnum_format(double x, char *buf)
{
    uint64_t bits = dbits(x);
    size_t o = 0;

    if ((bits & 0x7ff0000000000000ull) == 0x7ff0000000000000ull) {
        if (bits & 0x000fffffffffffffull) {
            memcpy(buf, "NaN", 3);
            return 3;
        }
        if (bits >> 63)
            buf[o++] = '-';
        memcpy(buf + o, "Infinity", 8);
        return o + 8;
    }
    if (x == 0) {
        buf[0] = '0'; /* -0 prints as "0" too */
        return 1;
    }
    if (x < 0) {
        buf[o++] = '-';
        x = -x;
    }
    if (x < 9007199254740992.0 && x == (double)(uint64_t)x)
        return o + put_u64(buf + o, (uint64_t)x);

    char d[20];
    int n;
    size_t k = shortest_digits(x, d, &n);
    if ((int)k <= n && n <= 21) {
        memcpy(buf + o, d, k);
        o += k;
        for (int i = (int)k; i < n; i++)
            buf[o++] = '0';
    } else if (0 < n && n <= 21) {
        memcpy(buf + o, d, (size_t)n);
        o += (size_t)n;
        buf[o++] = '.';
        memcpy(buf + o, d + n, k - (size_t)n);
        o += k - (size_t)n;
    } else if (-6 < n && n <= 0) {
        buf[o++] = '0';
        buf[o++] = '.';
        for (int i = 0; i < -n; i++)
            buf[o++] = '0';
        memcpy(buf + o, d, k);
        o += k;
    } else {
        int e = n - 1;
        buf[o++] = d[0];
        if (k > 1) {
            buf[o++] = '.';
            memcpy(buf + o, d + 1, k - 1);
            o += k - 1;
        }
        buf[o++] = 'e';
        buf[o++] = e < 0 ? '-' : '+';
        o += put_u64(buf + o, (uint64_t)(e < 0 ? -e : e));
    }
    return o;
}

/* --------------------------------------------------------------- parse */

size_t roost_js_space_len(const unsigned char *s, size_t len)
{
    if (len == 0)
        return 0;
    if (s[0] == ' ' || (s[0] >= 0x09 && s[0] <= 0x0d))
        return 1;
    if (len >= 2 && s[0] == 0xc2 && s[1] == 0xa0)
        return 2; /* U+00A0 */
    if (len < 3)
        return 0;
    if (s[0] == 0xe1 && s[1] == 0x9a && s[2] == 0x80)
        return 3; /* U+1680 */
    if (s[0] == 0xe2 && s[1] == 0x80 &&
        (s[2] <= 0x8a || s[2] == 0xa8 || s[2] == 0xa9 || s[2] == 0xaf) && s[2] >= 0x80)
        return 3; /* U+2000..200A, U+2028, U+2029, U+202F */
    if (s[0] == 0xe2 && s[1] == 0x81 && s[2] == 0x9f)
        return 3; /* U+205F */
    if (s[0] == 0xe3 && s[1] == 0x80 && s[2] == 0x80)
        return 3; /* U+3000 */
    if (s[0] == 0xef && s[1] == 0xbb && s[2] == 0xbf)
        return 3; /* U+FEFF */
    return 0;
}

/* Length of white space ending s[0..len). */
static size_t space_len_at_end(const unsigned char *s, size_t len)
{
    if (len >= 1 && roost_js_space_len(s + len - 1, 1) == 1)
        return 1;
    if (len >= 2 && roost_js_space_len(s + len - 2, 2) == 2)
        return 2;
    if (len >= 3 && roost_js_space_len(s + len - 3, 3) == 3)
        return 3;
    return 0;
}

static double make_nan(void)
{
    return from_bits(0x7ff8000000000000ull);
}

static double make_inf(bool neg)
{
    return from_bits((neg ? 0x8000000000000000ull : 0) | 0x7ff0000000000000ull);
}

/* 0x / 0o / 0b integer literal digits (no sign allowed in JavaScript). */
static double parse_radix(const unsigned char *p, size_t len, unsigned radix)
{
    unsigned bits_per = radix == 16 ? 4 : radix == 8 ? 3 : 1;
    uint64_t q = 0;
    bool sticky = false;
    int exp2 = 0;

    if (len == 0)
        return make_nan();
    for (size_t i = 0; i < len; i++) {
        unsigned c = p[i], v;
        if (c >= '0' && c <= '9')
            v = c - '0';
        else if (c >= 'a' && c <= 'f')
            v = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v = c - 'A' + 10;
        else
            return make_nan();
        if (v >= radix)
            return make_nan();
        if (q >> (64 - bits_per)) {
            /* Keep the top 64 bits; what falls off only matters as sticky. */
            sticky = sticky || v != 0;
            exp2 += (int)bits_per;
            if (exp2 > 2000)
                return make_inf(false);
        } else {
            q = q << bits_per | v;
        }
    }
    return round_to_double(q, sticky, exp2);
}

#define MAX_DIGITS 40

double roost_jsnum_parse(const char *text, size_t len)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t n;

    while ((n = roost_js_space_len(s, len)) != 0) {
        s += n;
        len -= n;
    }
    while ((n = space_len_at_end(s, len)) != 0)
        len -= n;
    if (len == 0)
        return 0.0;
    if (len > 2 && s[0] == '0') {
        if (s[1] == 'x' || s[1] == 'X')
            return parse_radix(s + 2, len - 2, 16);
        if (s[1] == 'o' || s[1] == 'O')
            return parse_radix(s + 2, len - 2, 8);
        if (s[1] == 'b' || s[1] == 'B')
            return parse_radix(s + 2, len - 2, 2);
    }

    size_t i = 0;
    bool neg = false;
    if (s[0] == '+' || s[0] == '-') {
        neg = s[0] == '-';
        i = 1;
    }
    if (len - i == 8 && memcmp(s + i, "Infinity", 8) == 0)
        return make_inf(neg);

    /* Significant digits into dig[], with the decimal exponent adjusted so
     * that value = 0.dig * 10^dexp. */
    char dig[MAX_DIGITS + 1];
    size_t nd = 0;
    bool sticky = false, any = false, point = false;
    long dexp = 0;
    for (; i < len; i++) {
        unsigned c = s[i];
        if (c == '.') {
            if (point)
                return make_nan();
            point = true;
            continue;
        }
        if (c < '0' || c > '9')
            break;
        any = true;
        if (nd == 0 && c == '0') {
            if (point)
                dexp--; /* leading zero after the point */
            continue;
        }
        if (nd < MAX_DIGITS)
            dig[nd++] = (char)c;
        else if (c != '0')
            sticky = true;
        if (!point)
            dexp++;
    }
    if (!any)
        return make_nan();
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        bool eneg = false;
        if (i < len && (s[i] == '+' || s[i] == '-')) {
            eneg = s[i] == '-';
            i++;
        }
        if (i == len)
            return make_nan();
        long ev = 0;
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
            if (ev < 100000)
                ev = ev * 10 + (s[i] - '0');
        dexp += eneg ? -ev : ev;
    }
    if (i != len)
        return make_nan();
    if (nd == 0)
        return neg ? -0.0 : 0.0;
    if (dexp > 310)
        return make_inf(neg);
    if (dexp < -330)
        return neg ? -0.0 : 0.0;

    /* value = D * 10^E with D the integer of the nd digits. */
    long E = dexp - (long)nd;
    double result;
    if (nd <= 15 && E >= -22 && E <= 22 && !sticky) {
        static const double p10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
        uint64_t D = 0;
        for (size_t j = 0; j < nd; j++)
            D = D * 10 + (uint64_t)(dig[j] - '0');
        /* D < 10^15 < 2^53 and 10^|E| are exact: one rounding. */
        result = E >= 0 ? (double)D * p10[E] : (double)D / p10[-E];
    } else {
        bn a;
        bn_set_u64(&a, 0);
        for (size_t j = 0; j < nd; j++)
            bn_mul_add(&a, 10, (uint32_t)(dig[j] - '0'));
        if (sticky) {
            /* A digit 1 after the kept ones stands for the nonzero rest. */
            bn_mul_add(&a, 10, 1);
            E--;
        }
        if (E >= 0) {
            bn_mul_pow10(&a, (unsigned)E);
            bool st;
            int ex;
            uint64_t q = bn_top64(&a, &st, &ex);
            result = a.ovf ? make_inf(false) : round_to_double(q, st, ex);
        } else {
            /* q = floor(D * 2^S / 10^-E), scaled to 63..64 bits; the
             * remainder becomes the sticky bit. */
            bn p;
            bn_set_u64(&p, 1);
            bn_mul_pow10(&p, (unsigned)-E);
            int S = 63 + (int)bn_bitlen(&p) - (int)bn_bitlen(&a);
            if (S > 0)
                bn_shl(&a, (unsigned)S);
            else if (S < 0)
                bn_shl(&p, (unsigned)-S);
            if (a.ovf || p.ovf) {
                result = 0.0;
            } else {
                uint64_t q = 0;
                int top = (int)bn_bitlen(&a) - (int)bn_bitlen(&p);
                bn t;
                for (int bit = top; bit >= 0; bit--) {
                    t = p;
                    bn_shl(&t, (unsigned)bit);
                    q <<= 1;
                    if (bn_cmp(&a, &t) >= 0) {
                        bn_sub(&a, &t);
                        q |= 1;
                    }
                }
                result = round_to_double(q, a.n != 0, -S);
            }
        }
    }
    return neg ? -result : result;
}
