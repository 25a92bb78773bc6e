/* Durations as people write them in documents and on command lines:
 * "500ms", "30s", "2m", "1h30m", "14d". One parser for every place that
 * reads one (rollouts, hooks, probes, experiments, retention options,
 * roost-sim scenarios), so they all accept the same forms. */
#ifndef ROOSTD_DURATION_H
#define ROOSTD_DURATION_H

#include <stdbool.h>
#include <stdint.h>

/* Parses one or more <digits><unit> with units d, h, m, s, ms, each at
 * most once and from the largest to the smallest, into milliseconds; "0"
 * alone is zero. No sign, no spaces, no fractions; false (and *ms
 * untouched) on anything else or on overflow. */
bool roost_duration_parse(const char *text, int64_t *ms);

#endif
