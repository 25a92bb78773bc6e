/* Sync message application. See sync.h. */
#include "sync.h"

#include <stdlib.h>

void sync_log_refused(void *user, const char *key, const roost_error *why)
{
    struct roost_client *c = user;

    sdk_log(c, ROOST_LOG_WARN,
            "flag '%s' cannot be evaluated by this SDK (evaluations return the default with reason "
            "ERROR): %s",
            key, why->msg);
}

enum sync_result sync_apply(struct roost_client *c, struct wire_sync *m, bool from_cache)
{
    struct sdk_snapshot *cur = hazard_current(&c->hz), *next = NULL;
    bool had_config = cur != NULL;
    const char **keys = NULL;
    size_t nkeys = 0;
    roost_error err;
    roost_status rc;

    if (m->is_snapshot) {
        rc = snapshot_build(m->flags, m->nflags, m->revision, &next, &err);
        m->nflags = 0; /* taken, also on failure */
    } else {
        if (!cur) {
            sdk_log(c, ROOST_LOG_WARN,
                    "roostd sent a change (revision %llu) before any snapshot; asking for one",
                    (unsigned long long)m->revision);
            return SYNC_RESYNC;
        }
        if (m->revision <= cur->revision)
            return SYNC_UNCHANGED;
        if (m->revision != cur->revision + 1) {
            sdk_log(c, ROOST_LOG_WARN,
                    "roostd sent revision %llu after %llu; asking for a fresh snapshot",
                    (unsigned long long)m->revision, (unsigned long long)cur->revision);
            return SYNC_RESYNC;
        }
        rc = snapshot_apply(cur, m->flags, m->nflags, m->removed, m->nremoved, m->revision, &next,
                            &err);
        m->nflags = 0;
    }
    if (rc != ROOST_OK) {
        sdk_log(c, ROOST_LOG_ERROR, "cannot apply revision %llu: %s",
                (unsigned long long)m->revision, err.msg);
        return SYNC_FAILED;
    }
    next->from_cache = from_cache;
    if (snapshot_diff(cur, next, &keys, &nkeys) != ROOST_OK) {
        keys = NULL;
        nkeys = 0;
    }
    sdk_publish(c, next); /* may free cur: keys are copies */
    if (had_config && nkeys)
        sdk_emit(c, ROOST_EVENT_CONFIGURATION_CHANGED, ROOST_OK, keys, nkeys,
                 "revision %llu: %zu flag(s) changed", (unsigned long long)next->revision, nkeys);
    free(keys);
    return SYNC_APPLIED;
}
