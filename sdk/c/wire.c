/* nanopb encoding and decoding of the SDK's messages. See wire.h.
 *
 * SyncResponse is walked by hand (tag by tag) rather than through the
 * generated oneof: the generated union would need nanopb's submsg_callback
 * machinery to set the callbacks of whichever member arrives, and walking
 * two fields is shorter and plainer. Inside each message the generated
 * descriptors do the work.
 *
 * Rollouts, probe states and experiments are decoded straight into the
 * records the snapshot keeps (resources.h): names and phases are
 * fixed-size fields (roost.options; a longer one is refused like a long
 * flag key), free texts are callbacks that keep what fits and cut at a
 * character boundary (a long version string must not make the whole
 * configuration unreadable).
 */
#include "wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pb_decode.h>
#include <pb_encode.h>

#include "roost/client.h"
#include "roost/v1/roost.pb.h"

#define DEFAULT_MAX_FLAGS 1000000u
#define DEFAULT_MAX_IMAGE (16u << 20)
#define DEFAULT_MAX_RESOURCES 100000u

void wire_sync_init(struct wire_sync *m, wire_refused_fn on_refused, void *user)
{
    memset(m, 0, sizeof *m);
    m->on_refused = on_refused;
    m->user = user;
}

void wire_sync_clear(struct wire_sync *m)
{
    for (size_t i = 0; i < m->nflags; i++)
        sdk_image_unref(m->flags[i]);
    for (int k = 0; k < SDK_RES_KINDS; k++)
        sdk_res_list_clear(&m->res[k]);
    free(m->flags);
    free(m->removed);
    m->flags = NULL;
    m->removed = NULL;
    m->nflags = m->flags_cap = m->nremoved = m->removed_cap = 0;
    m->revision = 0;
    m->is_snapshot = false;
    m->partial = false;
}

static bool fail(struct wire_sync *m, roost_status code, const char *fmt, const char *arg)
{
    if (m->err && m->err->code == ROOST_OK)
        roost_error_set(m->err, code, fmt, arg);
    return false;
}

/* ---- decoding ----------------------------------------------------------- */

struct bytes_sink {
    uint8_t *data;
    size_t len;
    size_t max;
    bool too_big;
};

static bool read_bytes(pb_istream_t *stream, const pb_field_t *field, void **arg)
{
    struct bytes_sink *b = *arg;
    size_t n = stream->bytes_left;

    (void)field;
    free(b->data);
    b->data = NULL;
    b->len = 0;
    if (n > b->max) {
        b->too_big = true;
        return false;
    }
    if (!(b->data = malloc(n ? n : 1)))
        return false;
    if (!pb_read(stream, b->data, n))
        return false;
    b->len = n;
    return true;
}

static bool push_image(struct wire_sync *m, struct sdk_image *img)
{
    if (m->nflags == m->flags_cap) {
        size_t cap = m->flags_cap ? 2 * m->flags_cap : 64;
        struct sdk_image **v = realloc(m->flags, cap * sizeof *v);
        if (!v) {
            sdk_image_unref(img);
            return fail(m, ROOST_ENOMEM, "out of memory decoding flags%s", "");
        }
        m->flags = v;
        m->flags_cap = cap;
    }
    m->flags[m->nflags++] = img;
    return true;
}

static bool decode_flag(pb_istream_t *stream, const pb_field_t *field, void **arg)
{
    struct wire_sync *m = *arg;
    roost_v1_Flag f = roost_v1_Flag_init_zero;
    struct bytes_sink prog = {NULL, 0, m->max_image_bytes ? m->max_image_bytes : DEFAULT_MAX_IMAGE,
                              false};
    struct sdk_image *img;
    roost_error why;

    (void)field;
    if (m->nflags >= (m->max_flags ? m->max_flags : DEFAULT_MAX_FLAGS))
        return fail(m, ROOST_ELIMIT, "more flags than this client accepts%s", "");
    f.program.funcs.decode = read_bytes;
    f.program.arg = &prog;
    if (!pb_decode(stream, roost_v1_Flag_fields, &f)) {
        free(prog.data);
        if (prog.too_big)
            return fail(m, ROOST_ELIMIT, "a flag image is larger than this client accepts%s", "");
        return fail(m, ROOST_ECORRUPT, "a Flag does not decode: %s", PB_GET_ERROR(stream));
    }
    img = sdk_image_new(f.key, strnlen(f.key, sizeof f.key), f.revision, prog.data, prog.len, &why);
    free(prog.data);
    if (!img)
        return fail(m, why.code == ROOST_ENOMEM ? ROOST_ENOMEM : ROOST_ECORRUPT, "%s", why.msg);
    if (!img->loaded && m->on_refused)
        m->on_refused(m->user, img->key, &why);
    return push_image(m, img);
}

static bool decode_removed(pb_istream_t *stream, const pb_field_t *field, void **arg)
{
    struct wire_sync *m = *arg;
    size_t n = stream->bytes_left;

    (void)field;
    if (n == 0 || n > ROOST_MAX_KEY_LEN)
        return fail(m, ROOST_ECORRUPT, "a removed flag key is empty or too long%s", "");
    if (m->nremoved == m->removed_cap) {
        size_t cap = m->removed_cap ? 2 * m->removed_cap : 16;
        if (cap > (m->max_flags ? m->max_flags : DEFAULT_MAX_FLAGS))
            return fail(m, ROOST_ELIMIT, "more removed flags than this client accepts%s", "");
        void *v = realloc(m->removed, cap * sizeof *m->removed);
        if (!v)
            return fail(m, ROOST_ENOMEM, "out of memory decoding a change%s", "");
        m->removed = v;
        m->removed_cap = cap;
    }
    if (!pb_read(stream, (pb_byte_t *)m->removed[m->nremoved], n))
        return false;
    m->removed[m->nremoved][n] = '\0';
    m->nremoved++;
    return true;
}

/* ---- rollouts, probe states, experiments ---- */

static size_t max_resources(const struct wire_sync *m)
{
    return m->max_resources ? m->max_resources : DEFAULT_MAX_RESOURCES;
}

/* A free text: keeps at most cap - 1 bytes, cut before a character that
 * does not fit whole, skips the rest. */
struct text_sink {
    char *dst;
    size_t cap;
};

static bool read_text(pb_istream_t *stream, const pb_field_t *field, void **arg)
{
    struct text_sink *t = *arg;
    size_t n = stream->bytes_left, keep = n < t->cap - 1 ? n : t->cap - 1, got = keep;

    (void)field;
    if (!pb_read(stream, (pb_byte_t *)t->dst, keep))
        return false;
    if (keep < n) {
        /* Back to the start of the last character; drop it unless all of
         * its bytes are here. */
        size_t start = keep;
        while (start > 0 && ((uint8_t)t->dst[start - 1] & 0xC0) == 0x80)
            start--;
        if (start > 0) {
            uint8_t lead = (uint8_t)t->dst[start - 1];
            size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
            if (keep - (start - 1) < need)
                keep = start - 1;
        }
        if (!pb_read(stream, NULL, n - got))
            return false;
    }
    t->dst[keep] = '\0';
    return true;
}

static bool res_fail(struct wire_sync *m, roost_status rc, enum sdk_res_kind k)
{
    if (rc == ROOST_ELIMIT)
        return fail(m, rc, "more %ss than this client accepts", sdk_res_kind_name(k));
    return fail(m, ROOST_ENOMEM, "out of memory decoding %ss", sdk_res_kind_name(k));
}

static bool decode_rollout(pb_istream_t *stream, const pb_field_t *field, void **arg)
{
    struct wire_sync *m = *arg;
    roost_v1_Rollout v = roost_v1_Rollout_init_zero;
    struct text_sink service, baseline, canary;
    struct sdk_rollout *r;
    roost_status rc;

    (void)field;
    if ((rc = sdk_res_list_push(&m->res[SDK_ROLLOUTS], SDK_ROLLOUTS, max_resources(m),
                                (void **)&r)) != ROOST_OK)
        return res_fail(m, rc, SDK_ROLLOUTS);
    service = (struct text_sink){r->service, sizeof r->service};
    baseline = (struct text_sink){r->baseline, sizeof r->baseline};
    canary = (struct text_sink){r->canary, sizeof r->canary};
    v.service.funcs.decode = read_text;
    v.service.arg = &service;
    v.baseline.funcs.decode = read_text;
    v.baseline.arg = &baseline;
    v.canary.funcs.decode = read_text;
    v.canary.arg = &canary;
    if (!pb_decode(stream, roost_v1_Rollout_fields, &v))
        return fail(m, ROOST_ECORRUPT, "a Rollout does not decode: %s", PB_GET_ERROR(stream));
    if (!v.name[0])
        return fail(m, ROOST_ECORRUPT, "a Rollout has no name%s", "");
    memcpy(r->name, v.name, strlen(v.name));
    r->phase = sdk_rollout_phase_parse(v.phase);
    r->weight_bp = v.canary_weight_bp;
    r->step = v.step;
    r->revision = v.revision;
    sdk_rollout_prepare(r);
    return true;
}

static bool decode_probe(pb_istream_t *stream, const pb_field_t *field, void **arg)
{
    struct wire_sync *m = *arg;
    roost_v1_ProbeStatus v = roost_v1_ProbeStatus_init_zero;
    struct text_sink detail;
    struct sdk_probe *p;
    roost_status rc;

    (void)field;
    if ((rc = sdk_res_list_push(&m->res[SDK_PROBES], SDK_PROBES, max_resources(m), (void **)&p)) !=
        ROOST_OK)
        return res_fail(m, rc, SDK_PROBES);
    detail = (struct text_sink){p->detail, sizeof p->detail};
    v.detail.funcs.decode = read_text;
    v.detail.arg = &detail;
    if (!pb_decode(stream, roost_v1_ProbeStatus_fields, &v))
        return fail(m, ROOST_ECORRUPT, "a ProbeStatus does not decode: %s", PB_GET_ERROR(stream));
    if (!v.name[0])
        return fail(m, ROOST_ECORRUPT, "a ProbeStatus has no name%s", "");
    memcpy(p->name, v.name, strlen(v.name));
    p->state = sdk_probe_state_parse(v.state);
    p->circuit = sdk_probe_circuit_parse(v.circuit);
    /* A NaN would make two equal states compare unequal; it is no latency. */
    p->latency_ms = v.latency_ms == v.latency_ms ? v.latency_ms : 0;
    p->consecutive_failures = v.consecutive_failures;
    p->since_unix_ms = v.since_unix_ms;
    return true;
}

static bool decode_experiment(pb_istream_t *stream, const pb_field_t *field, void **arg)
{
    struct wire_sync *m = *arg;
    roost_v1_Experiment v = roost_v1_Experiment_init_zero;
    struct sdk_experiment *e;
    roost_status rc;

    (void)field;
    if ((rc = sdk_res_list_push(&m->res[SDK_EXPERIMENTS], SDK_EXPERIMENTS, max_resources(m),
                                (void **)&e)) != ROOST_OK)
        return res_fail(m, rc, SDK_EXPERIMENTS);
    if (!pb_decode(stream, roost_v1_Experiment_fields, &v))
        return fail(m, ROOST_ECORRUPT, "an Experiment does not decode: %s", PB_GET_ERROR(stream));
    if (!v.name[0])
        return fail(m, ROOST_ECORRUPT, "an Experiment has no name%s", "");
    memcpy(e->name, v.name, strlen(v.name));
    memcpy(e->flag, v.flag, strlen(v.flag));
    memcpy(e->unit, v.unit, strlen(v.unit));
    e->phase = sdk_experiment_phase_parse(v.phase);
    e->revision = v.revision;
    sdk_experiment_prepare(e);
    return true;
}

/* A removed rollout, probe or experiment name. */
struct removed_sink {
    struct wire_sync *m;
    enum sdk_res_kind kind;
};

static bool decode_res_removed(pb_istream_t *stream, const pb_field_t *field, void **arg)
{
    struct removed_sink *r = *arg;
    char name[SDK_NAME_MAX];
    size_t n = stream->bytes_left;
    roost_status rc;

    (void)field;
    if (n == 0 || n > SDK_NAME_MAX)
        return fail(r->m, ROOST_ECORRUPT, "a removed %s name is empty or too long",
                    sdk_res_kind_name(r->kind));
    if (!pb_read(stream, (pb_byte_t *)name, n))
        return false;
    if ((rc = sdk_res_list_remove(&r->m->res[r->kind], name, n, max_resources(r->m))) !=
        ROOST_OK)
        return res_fail(r->m, rc, r->kind);
    return true;
}

static roost_status decode_snapshot_stream(pb_istream_t *s, struct wire_sync *m)
{
    roost_v1_Snapshot snap = roost_v1_Snapshot_init_zero;

    snap.flags.funcs.decode = decode_flag;
    snap.flags.arg = m;
    snap.rollouts.funcs.decode = decode_rollout;
    snap.rollouts.arg = m;
    snap.probes.funcs.decode = decode_probe;
    snap.probes.arg = m;
    snap.experiments.funcs.decode = decode_experiment;
    snap.experiments.arg = m;
    if (!pb_decode(s, roost_v1_Snapshot_fields, &snap)) {
        if (m->err->code == ROOST_OK)
            roost_error_set(m->err, ROOST_ECORRUPT, "a Snapshot does not decode: %s",
                            PB_GET_ERROR(s));
        return m->err->code;
    }
    m->is_snapshot = true;
    m->revision = snap.revision;
    m->store_id.len = (uint8_t)snap.store_id.size; /* <= 16: the decoder checks max_size */
    memcpy(m->store_id.bytes, snap.store_id.bytes, snap.store_id.size);
    return ROOST_OK;
}

static roost_status decode_change_stream(pb_istream_t *s, struct wire_sync *m)
{
    roost_v1_ChangeEvent ev = roost_v1_ChangeEvent_init_zero;
    struct removed_sink rollouts = {m, SDK_ROLLOUTS}, probes = {m, SDK_PROBES},
                        experiments = {m, SDK_EXPERIMENTS};

    ev.upserted.funcs.decode = decode_flag;
    ev.upserted.arg = m;
    ev.removed.funcs.decode = decode_removed;
    ev.removed.arg = m;
    ev.rollouts.funcs.decode = decode_rollout;
    ev.rollouts.arg = m;
    ev.rollouts_removed.funcs.decode = decode_res_removed;
    ev.rollouts_removed.arg = &rollouts;
    ev.probes.funcs.decode = decode_probe;
    ev.probes.arg = m;
    ev.probes_removed.funcs.decode = decode_res_removed;
    ev.probes_removed.arg = &probes;
    ev.experiments.funcs.decode = decode_experiment;
    ev.experiments.arg = m;
    ev.experiments_removed.funcs.decode = decode_res_removed;
    ev.experiments_removed.arg = &experiments;
    if (!pb_decode(s, roost_v1_ChangeEvent_fields, &ev)) {
        if (m->err->code == ROOST_OK)
            roost_error_set(m->err, ROOST_ECORRUPT, "a ChangeEvent does not decode: %s",
                            PB_GET_ERROR(s));
        return m->err->code;
    }
    m->is_snapshot = false;
    m->revision = ev.revision;
    return ROOST_OK;
}

static roost_status decode_sync_response(const uint8_t *buf, size_t len, struct wire_sync *m,
                                         roost_error *err)
{
    pb_istream_t s = pb_istream_from_buffer(buf, len);
    roost_error local;
    int kinds = 0;

    wire_sync_clear(m);
    m->err = err ? err : &local;
    roost_error_clear(m->err);
    for (;;) {
        pb_wire_type_t wt;
        uint32_t tag;
        bool eof;

        if (!pb_decode_tag(&s, &wt, &tag, &eof)) {
            if (eof)
                break;
            return roost_error_set(m->err, ROOST_ECORRUPT, "a SyncResponse does not decode: %s",
                                   PB_GET_ERROR(&s));
        }
        if ((tag == roost_v1_SyncResponse_snapshot_tag || tag == roost_v1_SyncResponse_change_tag) &&
            wt == PB_WT_STRING) {
            pb_istream_t sub;
            roost_status rc;
            if (kinds++)
                return roost_error_set(m->err, ROOST_ECORRUPT,
                                       "a SyncResponse holds more than one snapshot or change");
            if (!pb_make_string_substream(&s, &sub))
                return roost_error_set(m->err, ROOST_ECORRUPT, "a SyncResponse is truncated");
            rc = tag == roost_v1_SyncResponse_snapshot_tag ? decode_snapshot_stream(&sub, m)
                                                            : decode_change_stream(&sub, m);
            if (rc != ROOST_OK)
                return rc;
            if (!pb_close_string_substream(&s, &sub))
                return roost_error_set(m->err, ROOST_ECORRUPT, "a SyncResponse is truncated");
        } else if (!pb_skip_field(&s, wt)) {
            return roost_error_set(m->err, ROOST_ECORRUPT, "a SyncResponse does not decode: %s",
                                   PB_GET_ERROR(&s));
        }
    }
    if (!kinds)
        return roost_error_set(m->err, ROOST_ECORRUPT,
                               "a SyncResponse holds neither a snapshot nor a change");
    return ROOST_OK;
}

roost_status wire_decode_sync_response(const uint8_t *buf, size_t len, struct wire_sync *m,
                                       roost_error *err)
{
    roost_status rc = decode_sync_response(buf, len, m, err);

    if (rc != ROOST_OK)
        wire_sync_clear(m); /* nothing half-decoded is ever handed on */
    return rc;
}

roost_status wire_decode_snapshot(const uint8_t *buf, size_t len, struct wire_sync *m,
                                  roost_error *err)
{
    pb_istream_t s = pb_istream_from_buffer(buf, len);
    roost_error local;
    roost_status rc;

    wire_sync_clear(m);
    m->err = err ? err : &local;
    roost_error_clear(m->err);
    if ((rc = decode_snapshot_stream(&s, m)) != ROOST_OK)
        wire_sync_clear(m);
    return rc;
}

/* ---- encoding ----------------------------------------------------------- */

/* Copies s (at most max bytes, checked) into a fixed nanopb string field. */
static bool copy_str(char *dst, size_t dst_size, const char *s)
{
    size_t n = s ? strlen(s) : 0;

    if (n >= dst_size)
        return false;
    memcpy(dst, s ? s : "", n);
    dst[n] = '\0';
    return true;
}

static void set_store_id(pb_size_t *size, pb_byte_t *bytes, const struct sdk_store_id *id)
{
    *size = id ? id->len : 0;
    if (*size)
        memcpy(bytes, id->bytes, *size);
}

roost_status wire_encode_sync_request(uint64_t revision, const struct sdk_store_id *store_id,
                                      const char *client_id, uint8_t *buf, size_t cap, size_t *len)
{
    roost_v1_SyncRequest r = roost_v1_SyncRequest_init_zero;
    pb_ostream_t o = pb_ostream_from_buffer(buf, cap);

    r.revision = revision;
    set_store_id(&r.store_id.size, r.store_id.bytes, store_id);
    if (!copy_str(r.client_id, sizeof r.client_id, client_id))
        return ROOST_EINVAL;
    if (!pb_encode(&o, roost_v1_SyncRequest_fields, &r))
        return ROOST_ELIMIT;
    *len = o.bytes_written;
    return ROOST_OK;
}

static bool enc_image_bytes(pb_ostream_t *o, const pb_field_t *field, void *const *arg)
{
    const struct sdk_image *img = *arg;

    return pb_encode_tag_for_field(o, field) && pb_encode_string(o, img->bytes, img->len);
}

static bool enc_flags(pb_ostream_t *o, const pb_field_t *field, void *const *arg)
{
    const struct sdk_snapshot *s = *arg;

    for (uint32_t i = 0; i < s->count; i++) {
        const struct sdk_image *img = s->images[i];
        roost_v1_Flag f = roost_v1_Flag_init_zero;

        if (!copy_str(f.key, sizeof f.key, img->key))
            return false;
        f.revision = img->revision;
        f.program.funcs.encode = enc_image_bytes;
        f.program.arg = (void *)img;
        if (!pb_encode_tag_for_field(o, field) || !pb_encode_submessage(o, roost_v1_Flag_fields, &f))
            return false;
    }
    return true;
}

static bool enc_text(pb_ostream_t *o, const pb_field_t *field, void *const *arg)
{
    const char *text = *arg;
    size_t n = strlen(text);

    return n == 0 || (pb_encode_tag_for_field(o, field) &&
                      pb_encode_string(o, (const pb_byte_t *)text, n));
}

static bool enc_rollouts(pb_ostream_t *o, const pb_field_t *field, void *const *arg)
{
    const struct sdk_res_table *t = *arg;

    for (uint32_t i = 0; i < t->n; i++) {
        const struct sdk_rollout *r = sdk_res_at(SDK_ROLLOUTS, t, i);
        roost_v1_Rollout v = roost_v1_Rollout_init_zero;

        if (!copy_str(v.name, sizeof v.name, r->name) ||
            !copy_str(v.phase, sizeof v.phase,
                      r->phase ? roost_rollout_phase_name(r->phase) : ""))
            return false;
        v.service.funcs.encode = enc_text;
        v.service.arg = (void *)r->service;
        v.baseline.funcs.encode = enc_text;
        v.baseline.arg = (void *)r->baseline;
        v.canary.funcs.encode = enc_text;
        v.canary.arg = (void *)r->canary;
        v.canary_weight_bp = r->weight_bp;
        v.step = r->step;
        v.revision = r->revision;
        if (!pb_encode_tag_for_field(o, field) ||
            !pb_encode_submessage(o, roost_v1_Rollout_fields, &v))
            return false;
    }
    return true;
}

static bool enc_probes(pb_ostream_t *o, const pb_field_t *field, void *const *arg)
{
    const struct sdk_res_table *t = *arg;

    for (uint32_t i = 0; i < t->n; i++) {
        const struct sdk_probe *p = sdk_res_at(SDK_PROBES, t, i);
        roost_v1_ProbeStatus v = roost_v1_ProbeStatus_init_zero;

        if (!copy_str(v.name, sizeof v.name, p->name) ||
            !copy_str(v.state, sizeof v.state, roost_probe_state_name(p->state)) ||
            !copy_str(v.circuit, sizeof v.circuit,
                      p->circuit ? roost_probe_circuit_name(p->circuit) : ""))
            return false;
        v.latency_ms = p->latency_ms;
        v.consecutive_failures = p->consecutive_failures;
        v.since_unix_ms = p->since_unix_ms;
        v.detail.funcs.encode = enc_text;
        v.detail.arg = (void *)p->detail;
        if (!pb_encode_tag_for_field(o, field) ||
            !pb_encode_submessage(o, roost_v1_ProbeStatus_fields, &v))
            return false;
    }
    return true;
}

static bool enc_experiments(pb_ostream_t *o, const pb_field_t *field, void *const *arg)
{
    const struct sdk_res_table *t = *arg;

    for (uint32_t i = 0; i < t->n; i++) {
        const struct sdk_experiment *e = sdk_res_at(SDK_EXPERIMENTS, t, i);
        roost_v1_Experiment v = roost_v1_Experiment_init_zero;

        if (!copy_str(v.name, sizeof v.name, e->name) ||
            !copy_str(v.flag, sizeof v.flag, e->flag) ||
            !copy_str(v.unit, sizeof v.unit, e->unit) ||
            !copy_str(v.phase, sizeof v.phase,
                      e->phase ? roost_experiment_phase_name(e->phase) : ""))
            return false;
        v.revision = e->revision;
        if (!pb_encode_tag_for_field(o, field) ||
            !pb_encode_submessage(o, roost_v1_Experiment_fields, &v))
            return false;
    }
    return true;
}

/* Sizes, allocates and encodes msg. */
static roost_status encode_alloc(const pb_msgdesc_t *fields, const void *msg, uint8_t **out,
                                 size_t *len, const char *what, roost_error *err)
{
    size_t size;
    pb_ostream_t o;
    uint8_t *buf;

    if (!pb_get_encoded_size(&size, fields, msg))
        return roost_error_set(err, ROOST_EINVAL, "cannot encode the %s", what);
    if (!(buf = malloc(size ? size : 1)))
        return roost_error_set(err, ROOST_ENOMEM, "out of memory encoding the %s (%zu bytes)",
                               what, size);
    o = pb_ostream_from_buffer(buf, size);
    if (!pb_encode(&o, fields, msg)) {
        free(buf);
        return roost_error_set(err, ROOST_EINTERNAL, "cannot encode the %s: %s", what,
                               PB_GET_ERROR(&o));
    }
    *out = buf;
    *len = o.bytes_written;
    return ROOST_OK;
}

roost_status wire_encode_snapshot(const struct sdk_snapshot *s, uint8_t **out, size_t *len,
                                  roost_error *err)
{
    roost_v1_Snapshot m = roost_v1_Snapshot_init_zero;

    m.revision = s->revision;
    set_store_id(&m.store_id.size, m.store_id.bytes, &s->store_id);
    m.flags.funcs.encode = enc_flags;
    m.flags.arg = (void *)s;
    m.rollouts.funcs.encode = enc_rollouts;
    m.rollouts.arg = (void *)&s->res[SDK_ROLLOUTS];
    m.probes.funcs.encode = enc_probes;
    m.probes.arg = (void *)&s->res[SDK_PROBES];
    m.experiments.funcs.encode = enc_experiments;
    m.experiments.arg = (void *)&s->res[SDK_EXPERIMENTS];
    return encode_alloc(roost_v1_Snapshot_fields, &m, out, len, "configuration snapshot", err);
}

static bool enc_sketch(pb_ostream_t *o, const pb_field_t *field, void *const *arg)
{
    const roost_sketch *sk = *arg;
    uint8_t buf[ROOST_SKETCH_ENCODED_MAX(512)];
    uint8_t *p = buf;
    size_t n = 0;
    bool ok;

    if (!sk || sk->count == 0)
        return true;
    if (roost_sketch_encoded_size(sk) > sizeof buf && !(p = malloc(roost_sketch_encoded_size(sk))))
        return false;
    ok = roost_sketch_encode(sk, p, p == buf ? sizeof buf : roost_sketch_encoded_size(sk), &n) ==
             ROOST_OK &&
         pb_encode_tag_for_field(o, field) && pb_encode_string(o, p, n);
    if (p != buf)
        free(p);
    return ok;
}

static bool enc_aggregates(pb_ostream_t *o, const pb_field_t *field, void *const *arg)
{
    const struct wire_report *r = *arg;

    for (size_t i = 0; i < r->naggs; i++) {
        const struct wire_aggregate *a = &r->aggs[i];
        roost_v1_OutcomeAggregate m = roost_v1_OutcomeAggregate_init_zero;

        m.scope_kind = (roost_v1_ScopeKind)a->kind;
        if (!copy_str(m.scope_key, sizeof m.scope_key, a->scope) ||
            !copy_str(m.arm, sizeof m.arm, a->arm) || !copy_str(m.metric, sizeof m.metric, a->metric))
            return false;
        m.minute = a->minute;
        m.end_unix_ms = a->end_unix_ms;
        m.count = a->count;
        m.successes = a->successes;
        m.sum = a->sum;
        m.sum_squares = a->sum_squares;
        m.sketch.funcs.encode = enc_sketch;
        m.sketch.arg = (void *)a->sketch;
        if (!pb_encode_tag_for_field(o, field) ||
            !pb_encode_submessage(o, roost_v1_OutcomeAggregate_fields, &m))
            return false;
    }
    return true;
}

size_t wire_aggregate_size(const struct wire_aggregate *a)
{
    /* Tags, lengths and varints: at most 11 bytes per field, 11 fields; the
     * strings; the sketch. */
    return 121 + strlen(a->scope) + strlen(a->arm) + strlen(a->metric) +
           (a->sketch ? roost_sketch_encoded_size(a->sketch) : 0);
}

roost_status wire_encode_report(const struct wire_report *r, uint8_t **out, size_t *len,
                                roost_error *err)
{
    roost_v1_ReportRequest m = roost_v1_ReportRequest_init_zero;

    if (!copy_str(m.client_id, sizeof m.client_id, r->client_id) ||
        !copy_str(m.labels.service, sizeof m.labels.service, r->service) ||
        !copy_str(m.labels.environment, sizeof m.labels.environment, r->environment) ||
        !copy_str(m.labels.version, sizeof m.labels.version, r->version))
        return roost_error_set(err, ROOST_EINVAL, "a report label or the client id is too long");
    m.sequence = r->sequence;
    m.has_labels = true;
    m.aggregates.funcs.encode = enc_aggregates;
    m.aggregates.arg = (void *)r;
    if (r->dropped_memory || r->dropped_series || r->dropped_rejected) {
        m.has_dropped = true;
        m.dropped.memory_limit = r->dropped_memory;
        m.dropped.series_limit = r->dropped_series;
        m.dropped.rejected = r->dropped_rejected;
    }
    return encode_alloc(roost_v1_ReportRequest_fields, &m, out, len, "outcome report", err);
}

roost_status wire_decode_report_response(const uint8_t *buf, size_t len, bool *duplicate,
                                         uint32_t *stored, roost_error *err)
{
    roost_v1_ReportResponse r = roost_v1_ReportResponse_init_zero;
    pb_istream_t s = pb_istream_from_buffer(buf, len);

    if (!pb_decode(&s, roost_v1_ReportResponse_fields, &r))
        return roost_error_set(err, ROOST_ECORRUPT, "a ReportResponse does not decode: %s",
                               PB_GET_ERROR(&s));
    *duplicate = r.duplicate;
    *stored = r.stored;
    return ROOST_OK;
}
