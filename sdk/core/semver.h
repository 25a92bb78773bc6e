/* Semantic versions as flagd's sem_ver operator reads them. Internal to
 * sdk/core (the interpreter's sem_ver instruction is the only user). */
#ifndef ROOST_SDK_CORE_SEMVER_H
#define ROOST_SDK_CORE_SEMVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct roost_semver {
    uint64_t major, minor, patch; /* each <= 2^53 - 1 */
    const char *pre;              /* pre-release identifiers ("rc.1"), not copied */
    size_t pre_len;               /* 0: no pre-release */
} roost_semver;

/* Parses text the way flagd does: one leading 'v' or 'V' is dropped, then
 * the rest must be a SemVer 2.0.0 version (surrounding white space and one
 * more 'v' allowed, at most 256 UTF-16 units, build metadata ignored), or a
 * partial version "N" / "N.N" read as N.0.0 / N.N.0. Returns false when the
 * text is not a version. out->pre points into s. */
bool roost_semver_parse(const char *s, size_t len, roost_semver *out);

/* <0, 0, >0 as a orders before, with, after b (SemVer precedence: build
 * metadata ignored, a pre-release before its release). */
int roost_semver_compare(const roost_semver *a, const roost_semver *b);

#endif
