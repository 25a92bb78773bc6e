/* JSON input for the tools built on the compiler: parse with a position a
 * person can use ("line 3, column 14 near '...'") instead of cJSON's bare
 * failure, read whole files with the OS reason on failure, and load a
 * compiled set the way an SDK loads a snapshot. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"

roost_status roost_json_parse(const char *text, size_t len, const char *label, cJSON **out,
                              roost_error *err)
{
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(text, len, &end, false);
    if (!j) {
        const char *at = cJSON_GetErrorPtr();
        if (!at || at < text || at > text + len)
            at = end && end >= text && end <= text + len ? end : text + len;
        /* cJSON points near the last token when input runs out; say so
         * when the text ends inside a string or an open object/array. */
        int depth = 0;
        bool in_string = false, any = false;
        for (size_t i = 0; i < len; i++) {
            char ch = text[i];
            if (in_string) {
                if (ch == '\\')
                    i++;
                else if (ch == '"')
                    in_string = false;
                continue;
            }
            if (ch == '"')
                in_string = true;
            else if (ch == '{' || ch == '[')
                depth++;
            else if ((ch == '}' || ch == ']') && depth > 0)
                depth--;
            if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r')
                any = true;
        }
        if (in_string || depth > 0 || !any)
            at = text + len;
        size_t line = 1, col = 1;
        for (const char *p = text; p < at; p++) {
            if (*p == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        char near[24];
        size_t n = 0;
        for (const char *p = at; p < text + len && n < sizeof near - 1 && *p != '\n'; p++)
            near[n++] = *p;
        near[n] = '\0';
        if (at == text + len)
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s: invalid JSON: unexpected end of input at line %zu, column %zu",
                                   label, line, col);
        return roost_error_set(err, ROOST_EINVAL, "%s: invalid JSON at line %zu, column %zu near '%s'",
                               label, line, col, near);
    }
    /* Only white space may follow the value. */
    for (const char *p = end; p && p < text + len; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            cJSON_Delete(j);
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s: invalid JSON: unexpected text after the value at offset %zu",
                                   label, (size_t)(p - text));
        }
    }
    *out = j;
    return ROOST_OK;
}

roost_status roost_json_parse_file(const char *path, cJSON **out, roost_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return roost_error_set(err, ROOST_EIO, "%s: %s", path, strerror(errno));
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (len < cap)
            break;
        char *bigger = cap < (SIZE_MAX >> 1) ? realloc(buf, cap * 2) : NULL;
        if (!bigger) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    bool failed = ferror(f);
    int saved = errno;
    fclose(f);
    if (!buf)
        return roost_error_set(err, ROOST_ENOMEM, "%s: out of memory reading the file", path);
    if (failed) {
        free(buf);
        return roost_error_set(err, ROOST_EIO, "%s: %s", path, strerror(saved));
    }
    roost_status st = roost_json_parse(buf, len, path, out, err);
    free(buf);
    return st;
}

roost_status roost_loaded_set_init(roost_loaded_set *out, const roost_compiled_set *set,
                                   roost_error *err)
{
    size_t n = roost_compiled_set_count(set);
    memset(out, 0, sizeof *out);
    out->flags = calloc(n + 1, sizeof *out->flags);
    out->slots = calloc(ROOST_FLAGSET_SLOTS(n), sizeof *out->slots);
    if (!out->flags || !out->slots) {
        roost_loaded_set_free(out);
        return roost_error_set(err, ROOST_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        const roost_compiled_flag *cf = roost_compiled_set_flag(set, i);
        roost_status st = roost_flag_load(&out->flags[i], cf->image, cf->image_len, err);
        if (st != ROOST_OK) {
            roost_error_prefix(err, "flag '%s': ", cf->key);
            roost_loaded_set_free(out);
            return st;
        }
    }
    out->count = n;
    roost_status st =
        roost_flagset_init(&out->index, out->flags, n, out->slots, ROOST_FLAGSET_SLOTS(n), err);
    if (st != ROOST_OK)
        roost_loaded_set_free(out);
    return st;
}

void roost_loaded_set_free(roost_loaded_set *ls)
{
    free(ls->flags);
    free(ls->slots);
    memset(ls, 0, sizeof *ls);
}
