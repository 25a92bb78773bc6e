/* Input checks shared by the statistics files (internal). Each returns
 * ROOST_OK or sets a message "<fn>: <what> ..." and returns ROOST_EINVAL, so
 * that every public function rejects NaN and infinity the same way. */
#ifndef ROOST_STATS_CHECK_H
#define ROOST_STATS_CHECK_H

#include <math.h>

#include "roost/status.h"

static inline roost_status stats_check_finite(roost_error *err, const char *fn, const char *what,
                                              double v)
{
    if (isnan(v))
        return roost_error_set(err, ROOST_EINVAL, "%s: %s is NaN", fn, what);
    if (isinf(v))
        return roost_error_set(err, ROOST_EINVAL, "%s: %s is infinite", fn, what);
    return ROOST_OK;
}

static inline roost_status stats_check_alpha(roost_error *err, const char *fn, double alpha)
{
    if (!(alpha > 0.0 && alpha < 1.0))
        return roost_error_set(err, ROOST_EINVAL, "%s: alpha must be in (0, 1), got %g", fn,
                               alpha);
    return ROOST_OK;
}

#endif
