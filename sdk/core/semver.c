/* flagd's sem_ver version parsing and ordering.
 *
 * flagd-core (the reference evaluator) normalises a version by dropping one
 * leading v/V, parsing the rest with node-semver in strict mode, and falling
 * back to node-semver's coerce() for "1" and "1.2". This file reproduces
 * exactly that, including node-semver's details that show through: the
 * 256-unit length limit measured before trimming, trimming of JavaScript
 * white space, an optional second 'v', numbers above 2^53 - 1 being invalid,
 * coerce() taking at most 16 digits per part, and pre-release identifiers
 * that are all digits comparing as JavaScript numbers (so two identifiers
 * above 2^53 can compare equal and end the comparison).
 *
 * Parsing is a hand-written scanner over the bytes, not a regex engine: the
 * grammar is small, and the scanner needs no memory and runs in one pass.
 */
#include "semver.h"

#include <string.h>

#include "jsnum.h"

#define SEMVER_MAX_LENGTH 256
#define MAX_SAFE 9007199254740991ull

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool is_ident_char(unsigned char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

/* UTF-16 length of UTF-8 text: what JavaScript's .length reports. Invalid
 * bytes count one unit each. */
static size_t utf16_len(const unsigned char *s, size_t len)
{
    size_t units = 0;
    for (size_t i = 0; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            units++;
        if (s[i] >= 0xf0 && s[i] <= 0xf4)
            units++; /* a supplementary character is a surrogate pair */
    }
    return units;
}

/* A numeric identifier "0" or [1-9][0-9]* at s[*i]; value must be <= 2^53-1. */
static bool scan_number(const unsigned char *s, size_t len, size_t *i, uint64_t *out)
{
    size_t start = *i;
    uint64_t v = 0;

    while (*i < len && is_digit(s[*i])) {
        if (v > MAX_SAFE) /* keep scanning; the value is already invalid */
            v = MAX_SAFE + 1;
        else
            v = v * 10 + (uint64_t)(s[*i] - '0');
        (*i)++;
    }
    if (*i == start)
        return false;
    if (s[start] == '0' && *i - start > 1)
        return false; /* leading zero */
    if (v > MAX_SAFE)
        return false;
    *out = v;
    return true;
}

/* Dot-separated identifiers at s[*i]; `pre` also forbids leading zeros in
 * all-digit identifiers. */
static bool scan_idents(const unsigned char *s, size_t len, size_t *i, bool pre)
{
    for (;;) {
        size_t start = *i;
        bool all_digits = true;
        while (*i < len && is_ident_char(s[*i])) {
            if (!is_digit(s[*i]))
                all_digits = false;
            (*i)++;
        }
        if (*i == start)
            return false;
        if (pre && all_digits && s[start] == '0' && *i - start > 1)
            return false;
        if (*i < len && s[*i] == '.') {
            (*i)++;
            continue;
        }
        return true;
    }
}

/* A byte that is neither ASCII white space nor the start of a multi-byte
 * character: text that starts and ends with one needs no trimming. */
static bool plain_edge(unsigned char c)
{
    return c > ' ' && c < 0x80;
}

/* node-semver: new SemVer(text) in strict mode. */
static bool parse_strict(const unsigned char *s, size_t len, roost_semver *out)
{
    size_t n, i = 0;

    /* Up to 256 bytes is at most 256 UTF-16 units: only longer text needs
     * counting. Versions are short and untrimmed, so both scans are
     * skipped on the common path. */
    if (len > SEMVER_MAX_LENGTH && utf16_len(s, len) > SEMVER_MAX_LENGTH)
        return false;
    if (len > 0 && plain_edge(s[0]) && plain_edge(s[len - 1]))
        goto trimmed;
    while ((n = roost_js_space_len(s, len)) != 0) {
        s += n;
        len -= n;
    }
    for (;;) { /* trim the end */
        if (len >= 1 && roost_js_space_len(s + len - 1, 1) == 1)
            len -= 1;
        else if (len >= 2 && roost_js_space_len(s + len - 2, 2) == 2)
            len -= 2;
        else if (len >= 3 && roost_js_space_len(s + len - 3, 3) == 3)
            len -= 3;
        else
            break;
    }
trimmed:
    if (i < len && s[i] == 'v')
        i++;
    if (!scan_number(s, len, &i, &out->major) || i >= len || s[i++] != '.' ||
        !scan_number(s, len, &i, &out->minor) || i >= len || s[i++] != '.' ||
        !scan_number(s, len, &i, &out->patch))
        return false;
    out->pre = NULL;
    out->pre_len = 0;
    if (i < len && s[i] == '-') {
        size_t start = ++i;
        if (!scan_idents(s, len, &i, true))
            return false;
        out->pre = (const char *)s + start;
        out->pre_len = i - start;
    }
    if (i < len && s[i] == '+') {
        i++;
        if (!scan_idents(s, len, &i, false))
            return false;
    }
    return i == len;
}

/* flagd-core accepts /^\d+(\.\d+)?$/ and hands it to semver.coerce(), whose
 * regex takes 1..16 digits for each part; the result is then parsed
 * strictly (so leading zeros are still invalid). */
static bool parse_partial(const unsigned char *s, size_t len, roost_semver *out)
{
    size_t a = 0, dot, b_len = 0;
    char text[2 * 16 + 8];
    size_t o = 0;

    while (a < len && is_digit(s[a]))
        a++;
    if (a == 0)
        return false;
    dot = a;
    if (dot < len) {
        if (s[dot] != '.')
            return false;
        for (b_len = 0; dot + 1 + b_len < len; b_len++)
            if (!is_digit(s[dot + 1 + b_len]))
                return false;
        if (b_len == 0)
            return false;
    }
    const unsigned char *major, *minor = NULL;
    size_t major_len, minor_len = 0;
    if (a > 16) {
        /* No match at the start; the regex finds the fraction after '.'. */
        if (b_len == 0 || b_len > 16)
            return false;
        major = s + dot + 1;
        major_len = b_len;
    } else {
        major = s;
        major_len = a;
        if (b_len > 0 && b_len <= 16) {
            minor = s + dot + 1;
            minor_len = b_len;
        }
    }
    memcpy(text + o, major, major_len);
    o += major_len;
    text[o++] = '.';
    if (minor) {
        memcpy(text + o, minor, minor_len);
        o += minor_len;
    } else {
        text[o++] = '0';
    }
    memcpy(text + o, ".0", 2);
    o += 2;
    if (!parse_strict((const unsigned char *)text, o, out))
        return false;
    out->pre = NULL; /* coerce() never keeps a pre-release */
    out->pre_len = 0;
    return true;
}

bool roost_semver_parse(const char *text, size_t len, roost_semver *out)
{
    const unsigned char *s = (const unsigned char *)text;

    if (len > 0 && (s[0] == 'v' || s[0] == 'V')) {
        s++;
        len--;
    }
    if (parse_strict(s, len, out))
        return true;
    return parse_partial(s, len, out);
}

static int cmp_u64(uint64_t a, uint64_t b)
{
    return a < b ? -1 : a > b;
}

static bool all_digits(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!is_digit((unsigned char)s[i]))
            return false;
    return len > 0;
}

/* node-semver's compareIdentifiers for two identifiers that differ. */
static int compare_idents(const char *a, size_t alen, const char *b, size_t blen)
{
    bool anum = all_digits(a, alen), bnum = all_digits(b, blen);

    if (anum && bnum) {
        if (alen <= 15 && blen <= 15) /* exact as doubles; no leading zeros */
            return alen != blen ? (alen < blen ? -1 : 1) : (memcmp(a, b, alen) < 0 ? -1 : 1);
        double x = roost_jsnum_parse(a, alen), y = roost_jsnum_parse(b, blen);
        return x == y ? 0 : x < y ? -1 : 1;
    }
    if (anum)
        return -1;
    if (bnum)
        return 1;
    size_t n = alen < blen ? alen : blen;
    int c = memcmp(a, b, n);
    if (c != 0)
        return c < 0 ? -1 : 1;
    return alen == blen ? 0 : alen < blen ? -1 : 1;
}

int roost_semver_compare(const roost_semver *a, const roost_semver *b)
{
    int c;

    if ((c = cmp_u64(a->major, b->major)) != 0 || (c = cmp_u64(a->minor, b->minor)) != 0 ||
        (c = cmp_u64(a->patch, b->patch)) != 0)
        return c;
    if (a->pre_len == 0 || b->pre_len == 0)
        return a->pre_len == b->pre_len ? 0 : a->pre_len == 0 ? 1 : -1;

    size_t i = 0, j = 0;
    for (;;) {
        bool aend = i > a->pre_len, bend = j > b->pre_len;
        if (aend && bend)
            return 0;
        if (bend)
            return 1;
        if (aend)
            return -1;
        size_t ai = i, bj = j;
        while (ai < a->pre_len && a->pre[ai] != '.')
            ai++;
        while (bj < b->pre_len && b->pre[bj] != '.')
            bj++;
        if (ai - i != bj - j || memcmp(a->pre + i, b->pre + j, ai - i) != 0)
            return compare_idents(a->pre + i, ai - i, b->pre + j, bj - j);
        i = ai + 1; /* past the '.', or past the end */
        j = bj + 1;
    }
}
