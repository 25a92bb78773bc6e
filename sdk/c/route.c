/* The traffic splitter of canary rollouts (roost_route), the request
 * helpers that report each request's outcome for the arm it was routed to
 * (roost_request_begin / _end), and roost_rollout_status.
 *
 * Routing runs on the caller's thread like an evaluation: a hazard slot on
 * the current snapshot, a binary search of its rollout table, one
 * decision, the slot released. No lock, no allocation, no clock.
 *
 * The decision (docs/rollouts.md, docs/sdk-c.md):
 *  - pending, rolled back, weight 0, or unknown: baseline; weight 10000:
 *    canary. Any other phase (paused included) follows the weight, which
 *    roostd keeps authoritative: a rollback sets it to 0 in the same
 *    transaction as the phase.
 *  - With a targeting key: sticky. bucket = MurmurHash3 x86_32 (seed 0) of
 *    the rollout's name followed by the key, scaled to 10000 basis points
 *    (roost_bucket, as the engine's `fractional` does for a flag named like
 *    the rollout); canary when bucket < weight. The hash state after the
 *    name is precomputed per rollout (resources.h), so a call hashes only
 *    the key. A key that is on the canary at weight w stays there at every
 *    w' > w, so raising the weight only adds users to the canary.
 *  - Without a key: a draw from a per-thread xorshift64* generator, seeded
 *    once per thread (clock, thread index, address). A shared generator
 *    would be one more cache line every routing thread writes; a per-call
 *    clock read would cost more than the rest of the decision.
 *
 * Request helpers: begin routes, resolves the outcome series (ROLLOUT,
 * name, arm, "requests") and reads the monotonic clock; end reads it again
 * and records the latency through the series. Series are resolved once per
 * rollout and arm and kept in the snapshot's rollout_series (carried into
 * later snapshots), so a request never hashes a name.
 */
#include <stdatomic.h>
#include <string.h>

#include "client_internal.h"
#include "prims.h"
#include "roost/murmur3.h"

static const char tk_path[] = "targetingKey";

const char *roost_arm_name(roost_arm arm)
{
    return arm == ROOST_ARM_CANARY ? "canary" : "baseline";
}

/* ---- the per-thread generator ------------------------------------------- */

static _Thread_local uint64_t tl_rng;

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* 32 random bits. xorshift64* (Vigna): the high half of its output passes
 * BigCrush, and a bucket takes only the high bits of what it is given. */
static inline uint32_t rng32(void)
{
    uint64_t x = tl_rng;

    if (x == 0) {
        x = splitmix64((uint64_t)sdk_mono_ns() ^ ((uint64_t)sdk_thread_index() << 40) ^
                       (uint64_t)(uintptr_t)&tl_rng);
        if (x == 0)
            x = 1; /* the one state xorshift never leaves */
    }
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    tl_rng = x;
    return (uint32_t)((x * 0x2545F4914F6CDD1Dull) >> 32);
}

/* ---- the decision ------------------------------------------------------- */

struct route_scope {
    const struct sdk_snapshot *s;
    const struct sdk_rollout *r; /* NULL: unknown */
    long index;
    unsigned slot;
};

static inline void route_enter(roost_client *c, const char *rollout, struct route_scope *rs)
{
    rs->s = NULL;
    rs->r = NULL;
    rs->index = -1;
    rs->slot = HAZARD_NO_SLOT;
    if (!c || !rollout)
        return;
    rs->s = hazard_acquire(&c->hz, &rs->slot);
    if (rs->s && rs->s->res[SDK_ROLLOUTS].n &&
        (rs->index = sdk_res_index(SDK_ROLLOUTS, &rs->s->res[SDK_ROLLOUTS], rollout,
                                   strlen(rollout))) >= 0)
        rs->r = sdk_res_at(SDK_ROLLOUTS, &rs->s->res[SDK_ROLLOUTS], (size_t)rs->index);
}

static inline void route_leave(roost_client *c, struct route_scope *rs)
{
    if (c)
        hazard_release(&c->hz, rs->slot);
}

static roost_arm decide(const struct sdk_rollout *r, const roost_ctx *ctx, bool *sticky)
{
    char num[SDK_KEY_NUMBER_MAX];
    const char *key;
    size_t len;
    uint32_t bucket;

    *sticky = false;
    if (!r || r->phase == ROOST_ROLLOUT_PENDING || r->phase == ROOST_ROLLOUT_ROLLED_BACK ||
        r->weight_bp == 0)
        return ROOST_ARM_BASELINE;
    if (r->weight_bp >= SDK_WEIGHT_FULL)
        return ROOST_ARM_CANARY;
    if (sdk_ctx_key(ctx, tk_path, sizeof tk_path - 1, num, &key, &len)) {
        roost_murmur3 m = r->salt;
        roost_murmur3_update(&m, key, len);
        bucket = roost_bucket(roost_murmur3_final(&m), SDK_WEIGHT_FULL);
        *sticky = true;
    } else {
        bucket = roost_bucket(rng32(), SDK_WEIGHT_FULL);
    }
    return bucket < r->weight_bp ? ROOST_ARM_CANARY : ROOST_ARM_BASELINE;
}

static void copy_text(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1);

    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void fill_details(roost_route_details *d, const struct route_scope *rs, roost_arm arm,
                         bool sticky)
{
    d->arm = arm;
    d->found = rs->r != NULL;
    d->sticky = sticky;
    d->phase = rs->r ? rs->r->phase : ROOST_ROLLOUT_UNKNOWN;
    d->canary_weight_bp = rs->r ? rs->r->weight_bp : 0;
    d->revision = rs->s ? rs->s->revision : 0;
    if (rs->r)
        copy_text(d->version, sizeof d->version,
                  arm == ROOST_ARM_CANARY ? rs->r->canary : rs->r->baseline);
    else
        d->version[0] = '\0';
}

roost_arm roost_route(roost_client *c, const char *rollout, const roost_ctx *ctx,
                      roost_route_details *details)
{
    struct route_scope rs;
    roost_arm arm;
    bool sticky;

    route_enter(c, rollout, &rs);
    arm = decide(rs.r, ctx, &sticky);
    if (details)
        fill_details(details, &rs, arm, sticky);
    route_leave(c, &rs);
    return arm;
}

/* ---- request helpers ---------------------------------------------------- */

roost_arm roost_request_begin(roost_client *c, const char *rollout, const roost_ctx *ctx,
                              roost_request *req, roost_route_details *details)
{
    struct route_scope rs;
    roost_series *series = NULL;
    roost_status status = ROOST_ENOTFOUND;
    roost_arm arm;
    bool sticky;

    route_enter(c, rollout, &rs);
    arm = decide(rs.r, ctx, &sticky);
    if (details)
        fill_details(details, &rs, arm, sticky);
    if (!c || !rollout) {
        status = ROOST_EINVAL;
    } else if (rs.r) {
        roost_series *_Atomic *cached = &rs.s->rollout_series[2 * rs.index + (long)arm];
        series = atomic_load_explicit(cached, memory_order_acquire);
        status = ROOST_OK;
        if (!series) {
            /* The rollout's first request on this arm (in this client):
             * register the series once; every later request reads it. */
            status = agg_series(c->agg, ROOST_SCOPE_ROLLOUT, rs.r->name, roost_arm_name(arm),
                                "requests", &series);
            if (status == ROOST_OK)
                atomic_store_explicit(cached, series, memory_order_release);
            else
                series = NULL;
        }
    }
    route_leave(c, &rs);
    if (req) {
        req->arm = arm;
        req->status = status;
        req->series = series;
        req->latency_ms = 0;
        req->start_ns = sdk_mono_ns(); /* last: routing is not the request's time */
    }
    return arm;
}

roost_status roost_request_end(roost_request *req, bool success)
{
    roost_status rc;

    if (!req)
        return ROOST_EINVAL;
    req->latency_ms = (double)(sdk_mono_ns() - req->start_ns) / 1e6;
    rc = req->status;
    if (req->series)
        rc = agg_record(req->series->agg, req->series->id, req->latency_ms, success);
    /* Ended: a second end records nothing. */
    req->series = NULL;
    req->status = ROOST_EINVAL;
    return rc;
}

/* ---- status ------------------------------------------------------------- */

roost_status roost_rollout_status(roost_client *c, const char *name, roost_rollout_info *out)
{
    struct route_scope rs;
    roost_status rc = ROOST_OK;

    if (!c || !name || !out)
        return ROOST_EINVAL;
    route_enter(c, name, &rs);
    if (!rs.s) {
        rc = ROOST_EUNAVAIL;
    } else if (!rs.r) {
        rc = ROOST_ENOTFOUND;
    } else {
        memset(out, 0, sizeof *out);
        out->phase = rs.r->phase;
        out->canary_weight_bp = rs.r->weight_bp;
        out->step = rs.r->step;
        out->revision = rs.r->revision;
        copy_text(out->service, sizeof out->service, rs.r->service);
        copy_text(out->baseline, sizeof out->baseline, rs.r->baseline);
        copy_text(out->canary, sizeof out->canary, rs.r->canary);
    }
    route_leave(c, &rs);
    return rc;
}
