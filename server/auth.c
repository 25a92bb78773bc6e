/* Token files and constant-time checks. See auth.h.
 *
 * The comparison touches every byte of every configured token whatever the
 * input, so response time says nothing about how much of a guess was right
 * or which token it was closest to. */
#include "auth.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static char *trim(char *s)
{
    char *end;

    while (*s && isspace((unsigned char)*s))
        s++;
    end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

/* Splits "NAME TOKEN" or "TOKEN"; returns false on three or more fields. */
static bool split_line(char *line, char **name, char **token)
{
    char *sp = line + strcspn(line, " \t");

    if (*sp == '\0') {
        *name = NULL;
        *token = line;
        return true;
    }
    *sp++ = '\0';
    sp = trim(sp);
    if (*sp == '\0' || sp[strcspn(sp, " \t")] != '\0')
        return false;
    *name = line;
    *token = sp;
    return true;
}

roost_status auth_load(const char *path, const char *default_name, struct auth_tokens *out,
                       roost_error *err)
{
    char buf[1024];
    FILE *f = fopen(path, "r");
    int lineno = 0;

    memset(out, 0, sizeof *out);
    if (!f)
        return roost_error_set(err, ROOST_EIO, "cannot read token file %s: %s", path,
                               strerror(errno));
    while (fgets(buf, sizeof buf, f)) {
        char *line, *name, *token;

        lineno++;
        if (!strchr(buf, '\n') && !feof(f)) {
            fclose(f);
            return roost_error_set(err, ROOST_EINVAL, "%s:%d: line too long", path, lineno);
        }
        line = trim(buf);
        if (*line == '\0' || *line == '#')
            continue;
        if (!split_line(line, &name, &token)) {
            fclose(f);
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s:%d: expected TOKEN or NAME TOKEN on each line", path,
                                   lineno);
        }
        if (strlen(token) >= AUTH_TOKEN_MAX || (name && strlen(name) >= AUTH_NAME_MAX)) {
            fclose(f);
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s:%d: token longer than %d or name longer than %d bytes",
                                   path, lineno, AUTH_TOKEN_MAX - 1, AUTH_NAME_MAX - 1);
        }
        if (out->count == AUTH_MAX_TOKENS) {
            fclose(f);
            return roost_error_set(err, ROOST_ELIMIT, "%s: more than %d tokens", path,
                                   AUTH_MAX_TOKENS);
        }
        snprintf(out->entry[out->count].name, AUTH_NAME_MAX, "%s", name ? name : default_name);
        out->entry[out->count].token_len = strlen(token);
        memcpy(out->entry[out->count].token, token, out->entry[out->count].token_len + 1);
        out->count++;
    }
    fclose(f);
    if (out->count == 0)
        return roost_error_set(err, ROOST_EINVAL, "%s holds no token", path);
    return ROOST_OK;
}

/* 0 when equal. Reads all of a (AUTH_TOKEN_MAX bytes) regardless of b. */
static unsigned ct_compare(const char *a, size_t alen, const char *b, size_t blen)
{
    unsigned diff = (unsigned)(alen ^ blen);

    for (size_t i = 0; i < AUTH_TOKEN_MAX; i++) {
        unsigned char ca = (unsigned char)a[i];
        unsigned char cb = i < blen ? (unsigned char)b[i] : 0;
        diff |= (unsigned)(ca ^ cb) & (unsigned)-(i < alen);
    }
    return diff;
}

bool auth_check(const struct auth_tokens *tokens, const char *header, size_t len,
                const char **name)
{
    static const char bearer[] = "Bearer ";
    const size_t blen = sizeof bearer - 1;
    size_t match = tokens->count;

    if (tokens->count == 0) {
        *name = "anonymous";
        return true;
    }
    if (!header || len < blen || strncasecmp(header, bearer, blen) != 0)
        return false;
    header += blen;
    len -= blen;
    for (size_t i = 0; i < tokens->count; i++) {
        unsigned d = ct_compare(tokens->entry[i].token, tokens->entry[i].token_len, header,
                                len < AUTH_TOKEN_MAX ? len : AUTH_TOKEN_MAX);
        if (d == 0 && len < AUTH_TOKEN_MAX)
            match = i;
    }
    if (match == tokens->count)
        return false;
    *name = tokens->entry[match].name;
    return true;
}

roost_status auth_read_client_token(const char *path, char *out, size_t out_size,
                                    roost_error *err)
{
    struct auth_tokens t;
    roost_status rc = auth_load(path, "client", &t, err);

    if (rc != ROOST_OK)
        return rc;
    if (t.entry[0].token_len >= out_size)
        return roost_error_set(err, ROOST_ELIMIT, "%s: token too long", path);
    memcpy(out, t.entry[0].token, t.entry[0].token_len + 1);
    return ROOST_OK;
}
