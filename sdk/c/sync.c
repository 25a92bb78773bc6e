/* Sync message application. See sync.h. */
#include "sync.h"

#include <stdio.h>
#include <stdlib.h>

void sync_log_refused(void *user, const char *key, const roost_error *why)
{
    struct roost_client *c = user;

    sdk_log(c, ROOST_LOG_WARN,
            "flag '%s' cannot be evaluated by this SDK (evaluations return the default with reason "
            "ERROR): %s",
            key, why->msg);
}

/* "3 flag(s), 1 rollout(s) changed": the kinds that changed. */
static void describe(const struct sdk_changes *ch, char *out, size_t cap)
{
    static const char *const kinds[SDK_CHANGE_KINDS] = {"flag", "rollout", "probe", "experiment"};
    size_t used = 0;

    out[0] = '\0';
    for (int k = 0; k < SDK_CHANGE_KINDS; k++) {
        int n;
        if (!ch->n[k] || used >= cap)
            continue;
        n = snprintf(out + used, cap - used, "%s%zu %s(s)", used ? ", " : "", ch->n[k], kinds[k]);
        if (n > 0)
            used += (size_t)n;
    }
}

enum sync_result sync_apply(struct roost_client *c, struct wire_sync *m, bool from_cache)
{
    struct sdk_snapshot *cur = hazard_current(&c->hz), *next = NULL;
    bool had_config = cur != NULL, changed = false;
    const char **names[SDK_CHANGE_KINDS] = {NULL};
    struct sdk_changes ch = {{NULL}, {0}};
    char what[160];
    roost_error err;
    roost_status rc;

    if (m->is_snapshot) {
        rc = snapshot_build(m->flags, m->nflags, m->res, cur, m->revision, &next, &err);
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
        rc = snapshot_apply(cur, m->flags, m->nflags, m->removed, m->nremoved, m->res, m->revision,
                            &next, &err);
        m->nflags = 0;
    }
    if (rc != ROOST_OK) {
        sdk_log(c, ROOST_LOG_ERROR, "cannot apply revision %llu: %s",
                (unsigned long long)m->revision, err.msg);
        return SYNC_FAILED;
    }
    next->from_cache = from_cache;
    /* Flags only (a version-1 cache) until roostd sends a whole snapshot. */
    next->partial = m->is_snapshot ? m->partial : cur->partial;
    next->store_id = m->is_snapshot ? m->store_id : cur->store_id;
    /* The exposure set must exist before an evaluation can see a running
     * experiment; allocated once, on the first one. */
    if (next->nrunning && exposure_set_memory(&c->exposures) == 0 &&
        exposure_set_alloc(&c->exposures) != ROOST_OK)
        sdk_log(c, ROOST_LOG_ERROR,
                "out of memory for the experiment exposure set (%u units): exposures are counted "
                "as dropped",
                c->exposures.capacity);

    /* What changed, as copies that outlive both snapshots (publishing may
     * free cur). A failed diff only loses the event's lists. */
    if (snapshot_diff(cur, next, &names[0], &ch.n[0]) != ROOST_OK)
        ch.n[0] = 0;
    for (int k = 0; k < SDK_RES_KINDS; k++)
        if (sdk_res_diff((enum sdk_res_kind)k, cur ? &cur->res[k] : NULL, &next->res[k],
                         &names[1 + k], &ch.n[1 + k]) != ROOST_OK)
            ch.n[1 + k] = 0;
    for (int k = 0; k < SDK_CHANGE_KINDS; k++) {
        ch.list[k] = names[k];
        changed |= ch.n[k] > 0;
    }
    sdk_publish(c, next);
    if (had_config && changed) {
        describe(&ch, what, sizeof what);
        sdk_emit(c, ROOST_EVENT_CONFIGURATION_CHANGED, ROOST_OK, &ch, "revision %llu: %s changed",
                 (unsigned long long)next->revision, what);
    }
    for (int k = 0; k < SDK_CHANGE_KINDS; k++)
        free(names[k]);
    return SYNC_APPLIED;
}
