/* roost_probe_status: a dependency probe's state as roostd last streamed
 * it. roostd runs the probes (docs/rollouts.md, Probes) and commits every
 * state change as a configuration change, so the client learns of a probe
 * going down within one Sync message, and reads it here like a flag: under
 * a hazard slot, no lock, a copy into the caller's struct. */
#include <string.h>

#include "client_internal.h"

roost_status roost_probe_status(roost_client *c, const char *name, roost_probe_info *out)
{
    const struct sdk_snapshot *s;
    const struct sdk_probe *p;
    roost_status rc = ROOST_OK;
    unsigned slot;

    if (!c || !name || !out)
        return ROOST_EINVAL;
    if (!(s = hazard_acquire(&c->hz, &slot)))
        return ROOST_EUNAVAIL;
    if (!(p = sdk_res_find(SDK_PROBES, &s->res[SDK_PROBES], name, strlen(name)))) {
        rc = ROOST_ENOTFOUND;
    } else {
        memset(out, 0, sizeof *out);
        out->state = p->state;
        out->circuit = p->circuit;
        out->latency_ms = p->latency_ms;
        out->consecutive_failures = p->consecutive_failures;
        out->since_unix_ms = p->since_unix_ms;
        memcpy(out->detail, p->detail, sizeof out->detail);
    }
    hazard_release(&c->hz, slot);
    return rc;
}
