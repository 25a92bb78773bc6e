/* Strict field checks for rollout documents. See json_fields.h.
 *
 * "Did you mean" uses the edit distance between the unknown name and each
 * allowed one; a name counts as close within two edits (for names longer
 * than four characters) or a third of the longer name, so "retry" suggests
 * "retries" but "x" suggests nothing. Names over 32 bytes are never close:
 * the table stays on the stack and the cost bounded.
 */
#include "server/json_fields.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Edit distance of short names, counting a swap of two neighbouring
 * letters as one edit ("tpc" is one edit from "tcp"): optimal string
 * alignment distance. */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), prev2[33], prev[33], cur[33];

    if (la > 32 || lb > 32)
        return SIZE_MAX;
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                prev2[j - 2] + 1 < cur[j])
                cur[j] = prev2[j - 2] + 1;
        }
        memcpy(prev2, prev, (lb + 1) * sizeof *prev);
        memcpy(prev, cur, (lb + 1) * sizeof *prev);
    }
    return prev[lb];
}

/* See json_fields.h. */
void json_fields_choices(const char *const *names, size_t n, const char *got, char *out, size_t cap)
{
    size_t used = 0, best = SIZE_MAX, best_i = 0;

    if (!cap)
        return;
    out[0] = '\0';
    for (size_t i = 0; i < n && used < cap; i++) {
        int w = snprintf(out + used, cap - used, "%s%s", i ? ", " : "", names[i]);
        if (w < 0)
            break;
        used += (size_t)w;
        if (got) {
            /* Close: two edits, or a third of the longer name ("retry" for
             * "retries"), never a short unrelated word. */
            size_t lg = strlen(got), ln = strlen(names[i]), d = distance(got, names[i]);
            size_t longer = lg > ln ? lg : ln;
            bool close = d != SIZE_MAX && ((d <= 2 && 2 * d < longer) || 3 * d <= longer + 2);
            if (close && d < best) {
                best = d;
                best_i = i;
            }
        }
    }
    if (got && best != SIZE_MAX && used < cap)
        snprintf(out + used, cap - used, "; did you mean '%s'?", names[best_i]);
}

/* See json_fields.h. */
roost_status json_fields_check(const cJSON *obj, const char *path, const char *const *allowed,
                               size_t n, roost_error *err)
{
    for (const cJSON *c = obj->child; c; c = c->next) {
        bool known = false;
        char list[256];

        for (size_t i = 0; i < n && !known; i++)
            known = strcmp(c->string, allowed[i]) == 0;
        if (!known) {
            json_fields_choices(allowed, n, c->string, list, sizeof list);
            return roost_error_set(err, ROOST_EINVAL, "%s: unknown field '%s' (expected one of %s)",
                                   path, c->string, list);
        }
        for (const cJSON *d = obj->child; d != c; d = d->next) {
            if (strcmp(d->string, c->string) == 0)
                return roost_error_set(err, ROOST_EINVAL, "%s: field '%s' is given twice", path,
                                       c->string);
        }
    }
    return ROOST_OK;
}


const char *json_type_name(const cJSON *v)
{
    if (cJSON_IsNull(v))
        return "null";
    if (cJSON_IsBool(v))
        return "a boolean";
    if (cJSON_IsNumber(v))
        return "a number";
    if (cJSON_IsString(v))
        return "a string";
    if (cJSON_IsArray(v))
        return "an array";
    return "an object";
}

bool json_name_valid(const char *s, size_t max)
{
    size_t n = 0;

    if (!s || !*s)
        return false;
    for (; s[n]; n++) {
        char c = s[n];
        if (n >= max || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                          (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}
