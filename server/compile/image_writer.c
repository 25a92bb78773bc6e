/* Serializes a compiled flag into the image format of engine_internal.h
 * (docs/engine.md describes it for people).
 *
 * Layout, in order: the 68-byte header; a string area (flag key, variant
 * names and values, metadata keys and values, each followed by a NUL); the
 * variant table; the metadata table; the constant offset table; the constant
 * blob; the program. Offsets are absolute from the image start, so the
 * image is position-independent and loads straight from a network buffer.
 * The writer then loads what it wrote with roost_flag_load: a failure there
 * is a compiler bug, reported instead of shipping an image SDKs would
 * refuse.
 */
#include <stdlib.h>
#include <string.h>

#include "compile_internal.h"
#include "engine_internal.h"

typedef struct writer {
    rbuf b;
    bool ok;
} writer;

static uint32_t put_string(writer *w, const char *s, uint32_t *len_out)
{
    size_t len = strlen(s);
    uint32_t off = (uint32_t)w->b.len;
    if (!rbuf_put(&w->b, s, len + 1))
        w->ok = false;
    *len_out = (uint32_t)len;
    return off;
}

static void put_u32_at(writer *w, size_t at, uint32_t v)
{
    if (w->ok)
        ri_put32(w->b.data + at, v);
}

static size_t reserve(writer *w, size_t n)
{
    size_t at = w->b.len;
    if (!rbuf_reserve(&w->b, n)) {
        w->ok = false;
        return at;
    }
    memset(w->b.data + at, 0, n);
    w->b.len += n;
    return at;
}

roost_status roost_image_write(const image_flag *f, uint8_t **out, size_t *out_len,
                               roost_error *err)
{
    writer w = {{NULL, 0, 0}, true};
    const rule_out *rule = f->rule;
    uint32_t len;

    reserve(&w, RI_HEADER_LEN);

    /* Strings first; tables refer to them. */
    uint32_t key_off = put_string(&w, f->key, &len), key_len = len;
    uint32_t *vname = calloc(f->n_variants + 1, sizeof *vname);
    uint32_t *vname_len = calloc(f->n_variants + 1, sizeof *vname_len);
    uint32_t *vtext = calloc(f->n_variants + 1, sizeof *vtext);
    uint32_t *vtext_len = calloc(f->n_variants + 1, sizeof *vtext_len);
    uint32_t *mkey = calloc(f->n_meta + 1, sizeof *mkey);
    uint32_t *mkey_len = calloc(f->n_meta + 1, sizeof *mkey_len);
    uint32_t *mtext = calloc(f->n_meta + 1, sizeof *mtext);
    uint32_t *mtext_len = calloc(f->n_meta + 1, sizeof *mtext_len);
    if (!vname || !vname_len || !vtext || !vtext_len || !mkey || !mkey_len || !mtext || !mtext_len)
        w.ok = false;
    for (uint32_t i = 0; w.ok && i < f->n_variants; i++) {
        vname[i] = put_string(&w, f->variant_names[i], &vname_len[i]);
        if (f->variant_text && f->variant_text[i])
            vtext[i] = put_string(&w, f->variant_text[i], &vtext_len[i]);
    }
    for (uint32_t i = 0; w.ok && i < f->n_meta; i++) {
        mkey[i] = put_string(&w, f->meta_keys[i], &mkey_len[i]);
        if (f->meta_types[i] == ROOST_VALUE_STRING)
            mtext[i] = put_string(&w, f->meta_text[i], &mtext_len[i]);
    }

    size_t vtab = reserve(&w, (size_t)f->n_variants * RI_VARIANT_LEN);
    for (uint32_t i = 0; w.ok && i < f->n_variants; i++) {
        uint8_t *r = w.b.data + vtab + RI_VARIANT_LEN * i;
        ri_put32(r, vname[i]);
        ri_put32(r + 4, vname_len[i]);
        ri_put32(r + 8, vtext[i]);
        ri_put32(r + 12, vtext_len[i]);
        ri_putf64(r + 16, f->variant_num ? f->variant_num[i] : 0.0);
    }
    size_t mtab = reserve(&w, (size_t)f->n_meta * RI_META_LEN);
    for (uint32_t i = 0; w.ok && i < f->n_meta; i++) {
        uint8_t *r = w.b.data + mtab + RI_META_LEN * i;
        ri_put32(r, mkey[i]);
        ri_put32(r + 4, mkey_len[i]);
        ri_put32(r + 8, f->meta_types[i]);
        ri_put32(r + 12, mtext[i]);
        ri_put32(r + 16, mtext_len[i]);
        ri_putf64(r + 20, f->meta_num[i]);
    }
    bool program = rule && rule->targeting == RI_TARGETING_PROGRAM;
    size_t ctab = w.b.len;
    if (program && !rbuf_put(&w.b, rule->ctab.data, rule->ctab.len))
        w.ok = false;
    size_t cblob = w.b.len;
    if (program && !rbuf_put(&w.b, rule->cblob.data, rule->cblob.len))
        w.ok = false;
    size_t code = w.b.len;
    if (program && !rbuf_put(&w.b, rule->code.data, rule->code.len))
        w.ok = false;

    free(vname);
    free(vname_len);
    free(vtext);
    free(vtext_len);
    free(mkey);
    free(mkey_len);
    free(mtext);
    free(mtext_len);
    if (!w.ok || w.b.len > UINT32_MAX) {
        rbuf_free(&w.b);
        return roost_error_set(err, ROOST_ENOMEM, "out of memory writing the image of flag '%s'",
                               f->key);
    }

    uint8_t *h = w.b.data;
    memcpy(h + RI_OFF_MAGIC, RI_MAGIC, 4);
    ri_put16(h + RI_OFF_VERSION, ROOST_IMAGE_VERSION);
    ri_put16(h + RI_OFF_HLEN, RI_HEADER_LEN);
    ri_put32(h + RI_OFF_SIZE, (uint32_t)w.b.len);
    h[RI_OFF_STATE] = f->state;
    h[RI_OFF_TYPE] = f->type;
    h[RI_OFF_TARGETING] = rule ? rule->targeting : RI_TARGETING_NONE;
    ri_put16(h + RI_OFF_NVARIANTS, (uint16_t)f->n_variants);
    ri_put16(h + RI_OFF_DEFAULT, (uint16_t)f->default_variant);
    ri_put16(h + RI_OFF_NMETA, (uint16_t)f->n_meta);
    ri_put16(h + RI_OFF_NCONSTS, (uint16_t)(program ? rule->n_consts : 0));
    ri_put16(h + RI_OFF_MAXSTACK, (uint16_t)(program ? rule->max_stack : 0));
    put_u32_at(&w, RI_OFF_KEY, key_off);
    put_u32_at(&w, RI_OFF_KEY + 4, key_len);
    put_u32_at(&w, RI_OFF_VARIANTS, (uint32_t)vtab);
    put_u32_at(&w, RI_OFF_META, (uint32_t)mtab);
    put_u32_at(&w, RI_OFF_CTAB, (uint32_t)ctab);
    put_u32_at(&w, RI_OFF_CBLOB, (uint32_t)cblob);
    put_u32_at(&w, RI_OFF_CBLOB + 4, (uint32_t)(code - cblob));
    put_u32_at(&w, RI_OFF_CODE, (uint32_t)code);
    put_u32_at(&w, RI_OFF_CODE + 4, (uint32_t)(w.b.len - code));
    ri_put32(h + RI_OFF_CHECKSUM, roost_fnv1a(h + 16, w.b.len - 16, ROOST_FNV_BASIS));

    roost_flag check;
    roost_error why;
    if (roost_flag_load(&check, w.b.data, w.b.len, &why) != ROOST_OK) {
        rbuf_free(&w.b);
        return roost_error_set(err, ROOST_EINTERNAL,
                               "compiler bug: the image of flag '%s' fails verification: %s",
                               f->key, why.msg);
    }
    *out = w.b.data;
    *out_len = w.b.len;
    return ROOST_OK;
}
