/* Bearer tokens for the admin and SDK services.
 *
 * A token file holds one token per line; blank lines and lines starting
 * with '#' are ignored. A line "NAME TOKEN" names the token, so that
 * decision records and logs can say which admin acted without ever showing
 * the token itself; a line with a single field is named after its kind
 * ("admin" or "sdk").
 */
#ifndef ROOSTD_AUTH_H
#define ROOSTD_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "roost/status.h"

#define AUTH_MAX_TOKENS 64
#define AUTH_TOKEN_MAX 256
#define AUTH_NAME_MAX 64

struct auth_tokens {
    size_t count; /* 0 = no file given: every caller is accepted */
    struct {
        char name[AUTH_NAME_MAX];
        char token[AUTH_TOKEN_MAX];
        size_t token_len;
    } entry[AUTH_MAX_TOKENS];
};

/* Loads path; default_name names single-field lines. Fails with EIO when the
 * file cannot be read and EINVAL when it holds no token or a line is too
 * long; messages give the line number, never the token. */
roost_status auth_load(const char *path, const char *default_name, struct auth_tokens *out,
                       roost_error *err);

/* Checks an "authorization" header value ("Bearer TOKEN"). Returns true and
 * the token's name when it matches one token, comparing in constant time
 * with respect to the token contents. With no tokens configured, accepts
 * and names the caller "anonymous". */
bool auth_check(const struct auth_tokens *tokens, const char *header, size_t len,
                const char **name);

/* Reads the first token of a token file (the second field of a "NAME TOKEN"
 * line): what a client such as roostctl sends. */
roost_status auth_read_client_token(const char *path, char *out, size_t out_size,
                                    roost_error *err);

#endif
