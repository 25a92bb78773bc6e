/* roost_status helpers. Messages are formatted into the caller's fixed
 * buffer: error paths never allocate, so they work on devices and when
 * memory is exhausted. */
#include "roost/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *roost_strerror(roost_status code)
{
    switch (code) {
    case ROOST_OK: return "ok";
    case ROOST_EINVAL: return "invalid argument";
    case ROOST_ENOTFOUND: return "not found";
    case ROOST_ETYPE: return "type mismatch";
    case ROOST_ELIMIT: return "limit exceeded";
    case ROOST_ENOMEM: return "out of memory";
    case ROOST_EIO: return "input/output error";
    case ROOST_ECORRUPT: return "corrupt data";
    case ROOST_EUNAVAIL: return "unavailable";
    case ROOST_EAUTH: return "unauthenticated";
    case ROOST_ECONFLICT: return "conflict";
    case ROOST_ETIMEOUT: return "timed out";
    case ROOST_EINTERNAL: return "internal error";
    }
    return "unknown status";
}

roost_status roost_error_set(roost_error *err, roost_status code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

roost_status roost_error_prefix(roost_error *err, const char *fmt, ...)
{
    char tail[ROOST_ERROR_MSG_MAX];
    size_t head_len, tail_len;
    int n;
    va_list ap;

    if (!err)
        return ROOST_OK;
    memcpy(tail, err->msg, sizeof tail);
    tail[sizeof tail - 1] = '\0';
    va_start(ap, fmt);
    n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    head_len = (size_t)n < sizeof err->msg - 1 ? (size_t)n : sizeof err->msg - 1;
    tail_len = strlen(tail);
    if (tail_len > sizeof err->msg - 1 - head_len)
        tail_len = sizeof err->msg - 1 - head_len;
    memcpy(err->msg + head_len, tail, tail_len);
    err->msg[head_len + tail_len] = '\0';
    return err->code;
}

void roost_error_clear(roost_error *err)
{
    if (err) {
        err->code = ROOST_OK;
        err->msg[0] = '\0';
    }
}
