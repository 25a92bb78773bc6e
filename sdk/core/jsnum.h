/* JavaScript number <-> text conversions, exactly as ECMAScript defines them.
 *
 * flagd's reference evaluator is JavaScript, and its rules turn numbers into
 * text and back all the time: {"cat": ["v", 2]} is "v2", a numeric version
 * 1.2 in the context is compared as the string "1.2", "10" < 9 compares
 * numbers. To give the same answers the engine needs JavaScript's exact
 * conversions: Number::toString (shortest digits that round-trip, then
 * JavaScript's choice between fixed and exponent notation) and
 * StringToNumber (whitespace trimming, hex/octal/binary prefixes,
 * "Infinity", correct rounding). Internal to sdk/core.
 */
#ifndef ROOST_SDK_CORE_JSNUM_H
#define ROOST_SDK_CORE_JSNUM_H

#include <stddef.h>

/* Longest text roost_jsnum_format writes ("-1.2345678901234567e-308" and
 * "-0.0000012345678901234567" are the long cases), without a NUL. */
#define ROOST_JSNUM_MAX 26

/* Writes String(x) as JavaScript does into buf (at least ROOST_JSNUM_MAX
 * bytes, not NUL-terminated) and returns its length. */
size_t roost_jsnum_format(double x, char *buf);

/* JavaScript's ToNumber of a string: the UTF-8 text s[0..len) trimmed of
 * JavaScript white space; "" is 0; decimal literals (correctly rounded),
 * 0x/0o/0b integers, [+-]Infinity; anything else is NaN. Decimal inputs with
 * more than 40 significant digits are rounded from their first 40 digits and
 * a sticky digit (docs/engine.md). */
double roost_jsnum_parse(const char *s, size_t len);

/* Length in bytes of JavaScript white space or line terminator at s[0..len),
 * 0 when s does not start with one. Shared with semver's trimming. */
size_t roost_js_space_len(const unsigned char *s, size_t len);

#endif
