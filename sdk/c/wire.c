/* nanopb encoding and decoding of the SDK's messages. See wire.h.
 *
 * SyncResponse is walked by hand (tag by tag) rather than through the
 * generated oneof: the generated union would need nanopb's submsg_callback
 * machinery to set the callbacks of whichever member arrives, and walking
 * two fields is shorter and plainer. Inside each message the generated
 * descriptors do the work.
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
    free(m->flags);
    free(m->removed);
    m->flags = NULL;
    m->removed = NULL;
    m->nflags = m->flags_cap = m->nremoved = m->removed_cap = 0;
    m->revision = 0;
    m->is_snapshot = false;
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

static roost_status decode_snapshot_stream(pb_istream_t *s, struct wire_sync *m)
{
    roost_v1_Snapshot snap = roost_v1_Snapshot_init_zero;

    snap.flags.funcs.decode = decode_flag;
    snap.flags.arg = m;
    if (!pb_decode(s, roost_v1_Snapshot_fields, &snap)) {
        if (m->err->code == ROOST_OK)
            roost_error_set(m->err, ROOST_ECORRUPT, "a Snapshot does not decode: %s",
                            PB_GET_ERROR(s));
        return m->err->code;
    }
    m->is_snapshot = true;
    m->revision = snap.revision;
    return ROOST_OK;
}

static roost_status decode_change_stream(pb_istream_t *s, struct wire_sync *m)
{
    roost_v1_ChangeEvent ev = roost_v1_ChangeEvent_init_zero;

    ev.upserted.funcs.decode = decode_flag;
    ev.upserted.arg = m;
    ev.removed.funcs.decode = decode_removed;
    ev.removed.arg = m;
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

roost_status wire_encode_sync_request(uint64_t revision, const char *client_id, uint8_t *buf,
                                      size_t cap, size_t *len)
{
    roost_v1_SyncRequest r = roost_v1_SyncRequest_init_zero;
    pb_ostream_t o = pb_ostream_from_buffer(buf, cap);

    r.revision = revision;
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
    m.flags.funcs.encode = enc_flags;
    m.flags.arg = (void *)s;
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
