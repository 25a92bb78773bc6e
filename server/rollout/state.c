/* The stored rollout state: initial value, consistency check against a
 * spec, names, and the byte encoding roostd keeps in LMDB.
 *
 * Encoding, version 1 (all integers little-endian, fixed order, so the
 * same state always gives the same bytes):
 *
 *   "RLS" | u8 version (1)
 *   u8 phase | u8 pause_reason | u8 end_reason | u8 flags (bit 0: step_entered)
 *   u32 attempt | u32 step | u32 weight
 *   i64 started | step_started | weight_since | next_analysis | pause_until |
 *       paused_at | updated                                   (unix ms)
 *   u32 runs | passed | failures | consecutive_errors | inconclusive | no_data_runs
 *   u64 seq
 *   u8 N (ROLLOUT_MAX_CHECKS) | N x f64 compare_p (IEEE-754 binary64)
 *   u8 detail length L (<= ROLLOUT_DETAIL_MAX) | L bytes of detail
 *
 * Version 2 appends the rate-ratio e-process:
 *
 *   f64 share_attempt | share_weight | share_left
 *   u8 N (ROLLOUT_MAX_CHECKS) | u8 G (ROLLOUT_EVIDENCE_GRID) | N x (
 *       i64 until | G x f64 ll_attempt | G x f64 ll_weight | f64 e_banked |
 *       u64 canary_n | canary_x | baseline_n | baseline_x |
 *       w_canary_n | w_canary_x | w_baseline_n | w_baseline_x )
 *
 * A version 1 state (written before the e-process existed) decodes with an
 * empty e-process whose whole share is on one sequence from now on: a
 * rollout running across the upgrade keeps its step and timers, and its
 * error-rate evidence starts again, which costs detection time, never
 * validity (a test martingale may start at any time).
 *
 * A new field means a new version; decode keeps reading every older one.
 * decode checks every enum, the compare_p range and the lengths, so a
 * damaged record is refused (ECORRUPT) rather than resumed into nonsense.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "server/rollout/logic_internal.h"

#define STATE_MAGIC "RLS"
#define STATE_VERSION 2

void rollout_state_init(struct rollout_state *st)
{
    if (!st)
        return;
    memset(st, 0, sizeof *st);
    st->phase = ROLLOUT_PENDING;
    for (size_t i = 0; i < ROLLOUT_MAX_CHECKS; i++)
        st->compare_p[i] = 1.0;
    st->share_attempt = 1.0; /* start and retry set the shares the spec calls for */
}

const char *rollout_phase_name(enum rollout_phase p)
{
    switch (p) {
    case ROLLOUT_PENDING:
        return "pending";
    case ROLLOUT_PROGRESSING:
        return "progressing";
    case ROLLOUT_PAUSED:
        return "paused";
    case ROLLOUT_PROMOTED:
        return "promoted";
    case ROLLOUT_ROLLED_BACK:
        return "rolled_back";
    }
    return "?";
}

const char *rollout_pause_reason_name(enum rollout_pause_reason r)
{
    switch (r) {
    case ROLLOUT_PAUSE_NONE:
        return "none";
    case ROLLOUT_PAUSE_HUMAN:
        return "human";
    case ROLLOUT_PAUSE_STEP:
        return "step";
    case ROLLOUT_PAUSE_INCONCLUSIVE:
        return "inconclusive";
    case ROLLOUT_PAUSE_NO_DATA:
        return "no_data";
    case ROLLOUT_PAUSE_GATE:
        return "gate";
    case ROLLOUT_PAUSE_CONFIRMATION:
        return "confirmation";
    }
    return "?";
}

const char *rollout_end_reason_name(enum rollout_end_reason r)
{
    switch (r) {
    case ROLLOUT_END_NONE:
        return "none";
    case ROLLOUT_END_ANALYSIS:
        return "analysis";
    case ROLLOUT_END_ERRORS:
        return "errors";
    case ROLLOUT_END_GATE:
        return "gate";
    case ROLLOUT_END_HUMAN:
        return "human";
    }
    return "?";
}

static bool share_ok(double s)
{
    return s >= 0.0 && s <= 1.0;
}

/* The e-process's numbers are what it could have computed: shares that sum
 * to at most 1 (the mixture's prior), finite log ratios, no more errors
 * than requests. */
static bool evidence_ok(const struct rollout_state *st)
{
    if (!share_ok(st->share_attempt) || !share_ok(st->share_weight) || !share_ok(st->share_left) ||
        st->share_attempt + st->share_weight + st->share_left > 1.0 + 1e-9)
        return false;
    for (size_t i = 0; i < ROLLOUT_MAX_CHECKS; i++) {
        const struct rollout_evidence *ev = &st->evidence[i];
        for (size_t j = 0; j < ROLLOUT_EVIDENCE_GRID; j++) {
            if (!isfinite(ev->ll_attempt[j]) || !isfinite(ev->ll_weight[j]))
                return false;
        }
        if (!(ev->e_banked >= 0.0 && isfinite(ev->e_banked)) || ev->canary_x > ev->canary_n ||
            ev->baseline_x > ev->baseline_n || ev->w_canary_x > ev->w_canary_n ||
            ev->w_baseline_x > ev->w_baseline_n)
            return false;
    }
    return true;
}

/* Checks every state must pass, whatever the spec: enums, weight, p-values. */
roost_status rollout_state_check_basic(const struct rollout_spec *spec,
                                       const struct rollout_state *st, roost_error *err)
{
    if (!spec || !st)
        return roost_error_set(err, ROOST_EINVAL, "rollout_state_check: NULL argument");
    if ((unsigned)st->phase > ROLLOUT_ROLLED_BACK ||
        (unsigned)st->pause_reason > ROLLOUT_PAUSE_CONFIRMATION ||
        (unsigned)st->end_reason > ROLLOUT_END_HUMAN) {
        return roost_error_set(err, ROOST_ECONFLICT, "%s: the stored state has an unknown phase or reason",
                               spec->name);
    }
    if (st->weight > 100) {
        return roost_error_set(err, ROOST_ECONFLICT, "%s: the state has weight %u (over 100)",
                               spec->name, st->weight);
    }
    if (st->phase == ROLLOUT_PAUSED && st->pause_reason == ROLLOUT_PAUSE_NONE) {
        return roost_error_set(err, ROOST_ECONFLICT, "%s: the state is paused without a reason",
                               spec->name);
    }
    for (size_t i = 0; i < ROLLOUT_MAX_CHECKS; i++) {
        if (!(st->compare_p[i] >= 0.0 && st->compare_p[i] <= 1.0)) {
            return roost_error_set(err, ROOST_ECONFLICT, "%s: the state's p-value of check %zu is %g",
                                   spec->name, i, st->compare_p[i]);
        }
    }
    if (!evidence_ok(st)) {
        return roost_error_set(err, ROOST_ECONFLICT,
                               "%s: the state's error-rate evidence is out of range", spec->name);
    }
    return ROOST_OK;
}

roost_status rollout_state_check(const struct rollout_spec *spec, const struct rollout_state *st,
                                 roost_error *err)
{
    roost_status rc = rollout_state_check_basic(spec, st, err);

    if (rc != ROOST_OK)
        return rc;
    /* Where a finished or pending rollout stood does not matter: start and
     * retry begin at step 0, so a changed spec must not block them. */
    if (st->phase != ROLLOUT_PROGRESSING && st->phase != ROLLOUT_PAUSED)
        return ROOST_OK;
    if (st->step > spec->nsteps) {
        return roost_error_set(err, ROOST_ECONFLICT,
                               "%s: the state is at step %u but the rollout has %zu steps (apply "
                               "the rollout again as a new version, or abort it)",
                               spec->name, st->step, spec->nsteps);
    }
    if (st->step_entered && st->step == spec->nsteps) {
        return roost_error_set(err, ROOST_ECONFLICT, "%s: the state is inside step %u, past the last step",
                               spec->name, st->step);
    }
    if (st->step_entered && spec->steps[st->step].kind == ROLLOUT_STEP_SET_WEIGHT) {
        return roost_error_set(err, ROOST_ECONFLICT,
                               "%s: the state is inside step %u, which is now a setWeight step "
                               "(the steps changed under a running rollout; abort it)",
                               spec->name, st->step);
    }
    return ROOST_OK;
}

/* ---- encoding ----------------------------------------------------------- */

struct wbuf {
    uint8_t *p;
    size_t cap, len;
    bool overflow;
};

static void put(struct wbuf *w, const void *src, size_t n)
{
    if (w->overflow || w->cap - w->len < n) {
        w->overflow = true;
        return;
    }
    memcpy(w->p + w->len, src, n);
    w->len += n;
}

static void put_u8(struct wbuf *w, uint8_t v)
{
    put(w, &v, 1);
}

static void put_u32(struct wbuf *w, uint32_t v)
{
    uint8_t b[4];
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    put(w, b, 4);
}

static void put_u64(struct wbuf *w, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    put(w, b, 8);
}

static void put_i64(struct wbuf *w, int64_t v)
{
    put_u64(w, (uint64_t)v);
}

static void put_f64(struct wbuf *w, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    put_u64(w, u);
}

roost_status rollout_state_encode(const struct rollout_state *st, uint8_t *buf, size_t cap,
                                  size_t *len, roost_error *err)
{
    struct wbuf w = {buf, cap, 0, false};
    size_t dl;

    if (!st || !buf || !len)
        return roost_error_set(err, ROOST_EINVAL, "rollout_state_encode: NULL argument");
    dl = strnlen(st->detail, ROLLOUT_DETAIL_MAX);
    put(&w, STATE_MAGIC, 3);
    put_u8(&w, STATE_VERSION);
    put_u8(&w, (uint8_t)st->phase);
    put_u8(&w, (uint8_t)st->pause_reason);
    put_u8(&w, (uint8_t)st->end_reason);
    put_u8(&w, st->step_entered ? 1 : 0);
    put_u32(&w, st->attempt);
    put_u32(&w, st->step);
    put_u32(&w, st->weight);
    put_i64(&w, st->started_ms);
    put_i64(&w, st->step_started_ms);
    put_i64(&w, st->weight_since_ms);
    put_i64(&w, st->next_analysis_ms);
    put_i64(&w, st->pause_until_ms);
    put_i64(&w, st->paused_at_ms);
    put_i64(&w, st->updated_ms);
    put_u32(&w, st->runs);
    put_u32(&w, st->passed);
    put_u32(&w, st->failures);
    put_u32(&w, st->consecutive_errors);
    put_u32(&w, st->inconclusive);
    put_u32(&w, st->no_data_runs);
    put_u64(&w, st->seq);
    put_u8(&w, ROLLOUT_MAX_CHECKS);
    for (size_t i = 0; i < ROLLOUT_MAX_CHECKS; i++)
        put_f64(&w, st->compare_p[i]);
    put_u8(&w, (uint8_t)dl);
    put(&w, st->detail, dl);
    put_f64(&w, st->share_attempt);
    put_f64(&w, st->share_weight);
    put_f64(&w, st->share_left);
    put_u8(&w, ROLLOUT_MAX_CHECKS);
    put_u8(&w, ROLLOUT_EVIDENCE_GRID);
    for (size_t i = 0; i < ROLLOUT_MAX_CHECKS; i++) {
        const struct rollout_evidence *ev = &st->evidence[i];
        put_i64(&w, ev->until_ms);
        for (size_t j = 0; j < ROLLOUT_EVIDENCE_GRID; j++)
            put_f64(&w, ev->ll_attempt[j]);
        for (size_t j = 0; j < ROLLOUT_EVIDENCE_GRID; j++)
            put_f64(&w, ev->ll_weight[j]);
        put_f64(&w, ev->e_banked);
        put_u64(&w, ev->canary_n);
        put_u64(&w, ev->canary_x);
        put_u64(&w, ev->baseline_n);
        put_u64(&w, ev->baseline_x);
        put_u64(&w, ev->w_canary_n);
        put_u64(&w, ev->w_canary_x);
        put_u64(&w, ev->w_baseline_n);
        put_u64(&w, ev->w_baseline_x);
    }
    if (w.overflow) {
        return roost_error_set(err, ROOST_ELIMIT,
                               "rollout_state_encode: buffer of %zu bytes is too small (use "
                               "ROLLOUT_STATE_ENCODED_MAX)",
                               cap);
    }
    *len = w.len;
    return ROOST_OK;
}

struct rbuf {
    const uint8_t *p;
    size_t len, at;
    bool short_read;
};

static void get(struct rbuf *r, void *dst, size_t n)
{
    if (r->short_read || r->len - r->at < n) {
        r->short_read = true;
        memset(dst, 0, n);
        return;
    }
    memcpy(dst, r->p + r->at, n);
    r->at += n;
}

static uint8_t get_u8(struct rbuf *r)
{
    uint8_t v;
    get(r, &v, 1);
    return v;
}

static uint32_t get_u32(struct rbuf *r)
{
    uint8_t b[4];
    uint32_t v = 0;
    get(r, b, 4);
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)b[i] << (8 * i);
    return v;
}

static uint64_t get_u64(struct rbuf *r)
{
    uint8_t b[8];
    uint64_t v = 0;
    get(r, b, 8);
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)b[i] << (8 * i);
    return v;
}

static double get_f64(struct rbuf *r)
{
    uint64_t u = get_u64(r);
    double v;
    memcpy(&v, &u, 8);
    return v;
}

roost_status rollout_state_decode(const uint8_t *buf, size_t len, struct rollout_state *out,
                                  roost_error *err)
{
    struct rbuf r = {buf, len, 0, false};
    struct rollout_state st;
    char magic[3];
    uint8_t version, phase, pause, end, flags, n, dl;

    if (!buf || !out)
        return roost_error_set(err, ROOST_EINVAL, "rollout_state_decode: NULL argument");
    memset(&st, 0, sizeof st);
    get(&r, magic, 3);
    if (r.short_read || memcmp(magic, STATE_MAGIC, 3) != 0)
        return roost_error_set(err, ROOST_ECORRUPT, "rollout state: not a rollout state record");
    version = get_u8(&r);
    if (version < 1 || version > STATE_VERSION) {
        return roost_error_set(err, ROOST_ECORRUPT,
                               "rollout state: encoding version %u is not known to this roostd "
                               "(it reads version %d)",
                               version, STATE_VERSION);
    }
    phase = get_u8(&r);
    pause = get_u8(&r);
    end = get_u8(&r);
    flags = get_u8(&r);
    if (phase > ROLLOUT_ROLLED_BACK || pause > ROLLOUT_PAUSE_CONFIRMATION || end > ROLLOUT_END_HUMAN ||
        (flags & ~1u)) {
        return roost_error_set(err, ROOST_ECORRUPT,
                               "rollout state: phase %u, pause reason %u, end reason %u or flags "
                               "0x%x out of range",
                               phase, pause, end, flags);
    }
    st.phase = (enum rollout_phase)phase;
    st.pause_reason = (enum rollout_pause_reason)pause;
    st.end_reason = (enum rollout_end_reason)end;
    st.step_entered = flags & 1;
    st.attempt = get_u32(&r);
    st.step = get_u32(&r);
    st.weight = get_u32(&r);
    st.started_ms = (int64_t)get_u64(&r);
    st.step_started_ms = (int64_t)get_u64(&r);
    st.weight_since_ms = (int64_t)get_u64(&r);
    st.next_analysis_ms = (int64_t)get_u64(&r);
    st.pause_until_ms = (int64_t)get_u64(&r);
    st.paused_at_ms = (int64_t)get_u64(&r);
    st.updated_ms = (int64_t)get_u64(&r);
    st.runs = get_u32(&r);
    st.passed = get_u32(&r);
    st.failures = get_u32(&r);
    st.consecutive_errors = get_u32(&r);
    st.inconclusive = get_u32(&r);
    st.no_data_runs = get_u32(&r);
    st.seq = get_u64(&r);
    n = get_u8(&r);
    if (!r.short_read && n != ROLLOUT_MAX_CHECKS) {
        return roost_error_set(err, ROOST_ECORRUPT, "rollout state: %u p-values, expected %d", n,
                               ROLLOUT_MAX_CHECKS);
    }
    for (size_t i = 0; i < ROLLOUT_MAX_CHECKS; i++) {
        st.compare_p[i] = get_f64(&r);
        if (!r.short_read && !(st.compare_p[i] >= 0.0 && st.compare_p[i] <= 1.0)) {
            return roost_error_set(err, ROOST_ECORRUPT, "rollout state: p-value %zu is %g", i,
                                   st.compare_p[i]);
        }
    }
    dl = get_u8(&r);
    if (dl > ROLLOUT_DETAIL_MAX)
        return roost_error_set(err, ROOST_ECORRUPT, "rollout state: detail of %u bytes", dl);
    get(&r, st.detail, dl);
    st.detail[dl] = '\0';
    if (version >= 2) {
        uint8_t g;
        st.share_attempt = get_f64(&r);
        st.share_weight = get_f64(&r);
        st.share_left = get_f64(&r);
        n = get_u8(&r);
        g = get_u8(&r);
        if (!r.short_read && (n != ROLLOUT_MAX_CHECKS || g != ROLLOUT_EVIDENCE_GRID)) {
            return roost_error_set(err, ROOST_ECORRUPT,
                                   "rollout state: evidence for %u checks on %u ratios, expected %d "
                                   "on %d",
                                   n, g, ROLLOUT_MAX_CHECKS, ROLLOUT_EVIDENCE_GRID);
        }
        for (size_t i = 0; i < ROLLOUT_MAX_CHECKS; i++) {
            struct rollout_evidence *ev = &st.evidence[i];
            ev->until_ms = (int64_t)get_u64(&r);
            for (size_t j = 0; j < ROLLOUT_EVIDENCE_GRID; j++)
                ev->ll_attempt[j] = get_f64(&r);
            for (size_t j = 0; j < ROLLOUT_EVIDENCE_GRID; j++)
                ev->ll_weight[j] = get_f64(&r);
            ev->e_banked = get_f64(&r);
            ev->canary_n = get_u64(&r);
            ev->canary_x = get_u64(&r);
            ev->baseline_n = get_u64(&r);
            ev->baseline_x = get_u64(&r);
            ev->w_canary_n = get_u64(&r);
            ev->w_canary_x = get_u64(&r);
            ev->w_baseline_n = get_u64(&r);
            ev->w_baseline_x = get_u64(&r);
        }
    } else {
        st.share_attempt = 1.0; /* see the version 1 note above */
    }
    if (r.short_read)
        return roost_error_set(err, ROOST_ECORRUPT, "rollout state: truncated at %zu bytes", len);
    if (r.at != len) {
        return roost_error_set(err, ROOST_ECORRUPT, "rollout state: %zu trailing bytes",
                               len - r.at);
    }
    if (memchr(st.detail, '\0', dl))
        return roost_error_set(err, ROOST_ECORRUPT, "rollout state: NUL byte in detail");
    if (st.weight > 100)
        return roost_error_set(err, ROOST_ECORRUPT, "rollout state: weight %u", st.weight);
    if (!evidence_ok(&st))
        return roost_error_set(err, ROOST_ECORRUPT, "rollout state: error-rate evidence out of range");
    *out = st;
    return ROOST_OK;
}
