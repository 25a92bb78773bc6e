/* Snapshot encoding. See snapshot.h.
 *
 * The flags are decoded from their stored records and re-encoded into one
 * message; snapshots are built once per revision and cached by the hub, so
 * the cost is paid once however many clients resync at that revision. */
#include "snapshot.h"

#include <stdlib.h>
#include <string.h>

#include "roost/storage/v1/storage.pb-c.h"
#include "roost/v1/roost.pb-c.h"

grpc_slice snapshot_wrap_change(const void *event, size_t len)
{
    unsigned char head[11];
    size_t n = 0;
    size_t v = len;
    grpc_slice out;

    head[n++] = (2 << 3) | 2; /* field 2 (change), wire type 2 (length-delimited) */
    do {
        unsigned char b = v & 0x7f;
        v >>= 7;
        head[n++] = v ? (unsigned char)(b | 0x80) : b;
    } while (v);
    out = grpc_slice_malloc(n + len);
    memcpy(GRPC_SLICE_START_PTR(out), head, n);
    memcpy(GRPC_SLICE_START_PTR(out) + n, event, len);
    return out;
}

roost_status snapshot_encode(struct store *st, grpc_slice *payload, uint64_t *revision,
                             roost_error *err)
{
    Roost__V1__SyncResponse resp = ROOST__V1__SYNC_RESPONSE__INIT;
    Roost__V1__Snapshot snap = ROOST__V1__SNAPSHOT__INIT;
    Roost__Storage__V1__FlagRecord **records = NULL;
    Roost__V1__Flag **flags = NULL;
    size_t n = 0, cap = 0;
    struct store_txn t;
    struct store_iter it;
    struct store_val k = {0}, v = {0};
    roost_status rc;

    if ((rc = store_begin(st, false, &t, err)) != ROOST_OK)
        return rc;
    snap.revision = store_txn_revision(&t);
    if ((rc = store_iter_open(&t, TBL_FLAGS, NULL, 0, &it, err)) != ROOST_OK) {
        store_abort(&t);
        return rc;
    }
    while (store_iter_next(&it, &k, &v)) {
        Roost__Storage__V1__FlagRecord *rec;

        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            void *r2 = realloc(records, ncap * sizeof *records);
            if (!r2) {
                rc = roost_error_set(err, ROOST_ENOMEM, "out of memory building a snapshot");
                goto out;
            }
            records = r2;
            cap = ncap;
        }
        rec = roost__storage__v1__flag_record__unpack(NULL, v.len, v.data);
        if (!rec || !rec->flag) {
            if (rec)
                roost__storage__v1__flag_record__free_unpacked(rec, NULL);
            rc = roost_error_set(err, ROOST_ECORRUPT, "stored flag %.*s cannot be decoded",
                                 (int)k.len, (const char *)k.data);
            goto out;
        }
        records[n++] = rec;
    }
    flags = malloc((n ? n : 1) * sizeof *flags);
    if (!flags) {
        rc = roost_error_set(err, ROOST_ENOMEM, "out of memory building a snapshot");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        flags[i] = records[i]->flag;
    snap.n_flags = n;
    snap.flags = flags;
    resp.kind_case = ROOST__V1__SYNC_RESPONSE__KIND_SNAPSHOT;
    resp.snapshot = &snap;
    *payload = grpc_slice_malloc(roost__v1__sync_response__get_packed_size(&resp));
    roost__v1__sync_response__pack(&resp, GRPC_SLICE_START_PTR(*payload));
    *revision = snap.revision;
    rc = ROOST_OK;
out:
    store_iter_close(&it);
    store_abort(&t);
    for (size_t i = 0; i < n; i++)
        roost__storage__v1__flag_record__free_unpacked(records[i], NULL);
    free(records);
    free(flags);
    return rc;
}
