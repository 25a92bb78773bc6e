/* Status codes shared by every Roost library.
 *
 * Every public function that can fail returns a roost_status (ROOST_OK = 0)
 * and fills its out-parameters only on success. Functions that can explain a
 * failure in more detail also take a caller-owned roost_error, which receives
 * a message a person can act on ("flags.beta.variants: mixed types: 'on' is
 * a boolean but 'off' is a string"). Passing NULL for the roost_error is
 * always allowed.
 */
#ifndef ROOST_STATUS_H
#define ROOST_STATUS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum roost_status {
    ROOST_OK = 0,
    ROOST_EINVAL,    /* an argument or an input document is not valid */
    ROOST_ENOTFOUND, /* the named flag, file or resource does not exist */
    ROOST_ETYPE,     /* a value has a different type than the one asked for */
    ROOST_ELIMIT,    /* a fixed or configured limit would be exceeded */
    ROOST_ENOMEM,    /* memory could not be allocated */
    ROOST_EIO,       /* a file or the store could not be read or written */
    ROOST_ECORRUPT,  /* stored or received data failed a format or checksum check */
    ROOST_EUNAVAIL,  /* the server cannot be reached or is shutting down */
    ROOST_EAUTH,     /* a token is missing or wrong */
    ROOST_ECONFLICT, /* the request conflicts with the current state */
    ROOST_ETIMEOUT,  /* a deadline passed before the operation finished */
    ROOST_EINTERNAL  /* a bug: an invariant did not hold */
} roost_status;

/* Size of roost_error.msg, including the terminating NUL. Longer messages are
 * truncated, never overflowed. */
#define ROOST_ERROR_MSG_MAX 512

typedef struct roost_error {
    roost_status code;
    char msg[ROOST_ERROR_MSG_MAX];
} roost_error;

/* A short, static description of a status code ("invalid argument"). */
const char *roost_strerror(roost_status code);

/* Records code and a printf-style message in err (when err is not NULL) and
 * returns code, so that error paths read `return roost_error_set(err, ...)`. */
roost_status roost_error_set(roost_error *err, roost_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Prefixes the message already in err with a printf-style context
 * ("flags.beta: " + existing message). Returns err->code. */
roost_status roost_error_prefix(roost_error *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Clears err to ROOST_OK with an empty message. */
void roost_error_clear(roost_error *err);

#ifdef __cplusplus
}
#endif

#endif /* ROOST_STATUS_H */
