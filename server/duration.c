/* Durations in documents and on command lines. See duration.h. */
#include "duration.h"

#include <ctype.h>
#include <string.h>

bool roost_duration_parse(const char *text, int64_t *ms)
{
    /* Units from the largest to the smallest; a unit may only follow a
     * larger one, so "30m1h" and "1s1s" are rejected rather than guessed. */
    static const struct {
        const char *name;
        int64_t ms;
    } units[] = {{"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1}};
    const size_t nunits = sizeof units / sizeof units[0];
    size_t next_unit = 0; /* the smallest index still allowed */
    int64_t total = 0;
    const char *p = text;

    if (!text || !*text)
        return false;
    if (strcmp(text, "0") == 0) {
        *ms = 0;
        return true;
    }
    while (*p) {
        int64_t n = 0;
        size_t u, len;

        if (!isdigit((unsigned char)*p))
            return false;
        while (isdigit((unsigned char)*p)) {
            if (n > (INT64_MAX - (*p - '0')) / 10)
                return false;
            n = n * 10 + (*p - '0');
            p++;
        }
        /* Longest unit name first: "ms" must not be read as "m" + "s". */
        len = 0;
        u = nunits;
        for (size_t i = next_unit; i < nunits; i++) {
            size_t l = strlen(units[i].name);
            if (strncmp(p, units[i].name, l) == 0 && l > len) {
                len = l;
                u = i;
            }
        }
        if (u == nunits)
            return false;
        if (n > (INT64_MAX - total) / units[u].ms)
            return false;
        total += n * units[u].ms;
        p += len;
        next_unit = u + 1;
    }
    *ms = total;
    return true;
}

