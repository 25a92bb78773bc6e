/* Snapshot encoding. See snapshot.h.
 *
 * Flags, rollouts, probe states and experiments are decoded from their stored records
 * and re-encoded into one message; snapshots are built once per revision and cached by the hub, so
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

/* Reads every record of tbl, keeping what `take` extracts (records stay
 * owned by *recs, to be freed with `unpacked_free`). */
struct rows {
    ProtobufCMessage **recs;
    void **items;
    size_t n, cap;
};

static roost_status collect(struct store_txn *t, enum store_table tbl,
                            const ProtobufCMessageDescriptor *desc,
                            void *(*take)(ProtobufCMessage *), struct rows *out, roost_error *err)
{
    struct store_iter it;
    struct store_val k = {0}, v = {0};
    roost_status rc;

    if ((rc = store_iter_open(t, tbl, NULL, 0, &it, err)) != ROOST_OK)
        return rc;
    while (store_iter_next(&it, &k, &v)) {
        ProtobufCMessage *rec;
        void *item;

        if (out->n == out->cap) {
            size_t ncap = out->cap ? out->cap * 2 : 64;
            void *r = realloc(out->recs, ncap * sizeof *out->recs);
            void *i = r ? realloc(out->items, ncap * sizeof *out->items) : NULL;
            if (r)
                out->recs = r;
            if (!i) {
                rc = roost_error_set(err, ROOST_ENOMEM, "out of memory building a snapshot");
                break;
            }
            out->items = i;
            out->cap = ncap;
        }
        rec = protobuf_c_message_unpack(desc, NULL, v.len, v.data);
        if (!rec || !(item = take(rec))) {
            if (rec)
                protobuf_c_message_free_unpacked(rec, NULL);
            rc = roost_error_set(err, ROOST_ECORRUPT, "stored record %.*s cannot be decoded",
                                 (int)k.len, (const char *)k.data);
            break;
        }
        out->recs[out->n] = rec;
        out->items[out->n++] = item;
    }
    store_iter_close(&it);
    return rc;
}

static void rows_free(struct rows *r)
{
    for (size_t i = 0; i < r->n; i++)
        protobuf_c_message_free_unpacked(r->recs[i], NULL);
    free(r->recs);
    free(r->items);
}

static void *take_flag(ProtobufCMessage *m)
{
    return ((Roost__Storage__V1__FlagRecord *)(void *)m)->flag;
}

static void *take_rollout(ProtobufCMessage *m)
{
    return ((Roost__Storage__V1__RolloutRecord *)(void *)m)->view;
}

static void *take_experiment(ProtobufCMessage *m)
{
    return ((Roost__Storage__V1__ExperimentRecord *)(void *)m)->view;
}

static void *take_probe(ProtobufCMessage *m)
{
    return ((Roost__Storage__V1__ProbeRecord *)(void *)m)->status;
}

roost_status snapshot_encode(struct store *st, grpc_slice *payload, uint64_t *revision,
                             roost_error *err)
{
    Roost__V1__SyncResponse resp = ROOST__V1__SYNC_RESPONSE__INIT;
    Roost__V1__Snapshot snap = ROOST__V1__SNAPSHOT__INIT;
    struct rows flags = {0}, rollouts = {0}, probes = {0}, experiments = {0};
    struct store_txn t;
    roost_status rc;

    if ((rc = store_begin(st, false, &t, err)) != ROOST_OK)
        return rc;
    snap.revision = store_txn_revision(&t);
    snap.store_id.data = (uint8_t *)store_id(st);
    snap.store_id.len = STORE_ID_LEN;
    if ((rc = collect(&t, TBL_FLAGS, &roost__storage__v1__flag_record__descriptor, take_flag,
                      &flags, err)) == ROOST_OK &&
        (rc = collect(&t, TBL_ROLLOUTS, &roost__storage__v1__rollout_record__descriptor,
                      take_rollout, &rollouts, err)) == ROOST_OK &&
        (rc = collect(&t, TBL_PROBES, &roost__storage__v1__probe_record__descriptor, take_probe,
                      &probes, err)) == ROOST_OK &&
        (rc = collect(&t, TBL_EXPERIMENTS, &roost__storage__v1__experiment_record__descriptor,
                      take_experiment, &experiments, err)) == ROOST_OK) {
        snap.n_flags = flags.n;
        snap.flags = (Roost__V1__Flag **)flags.items;
        snap.n_rollouts = rollouts.n;
        snap.rollouts = (Roost__V1__Rollout **)rollouts.items;
        snap.n_probes = probes.n;
        snap.probes = (Roost__V1__ProbeStatus **)probes.items;
        snap.n_experiments = experiments.n;
        snap.experiments = (Roost__V1__Experiment **)experiments.items;
        resp.kind_case = ROOST__V1__SYNC_RESPONSE__KIND_SNAPSHOT;
        resp.snapshot = &snap;
        *payload = grpc_slice_malloc(roost__v1__sync_response__get_packed_size(&resp));
        roost__v1__sync_response__pack(&resp, GRPC_SLICE_START_PTR(*payload));
        *revision = snap.revision;
    }
    store_abort(&t);
    rows_free(&flags);
    rows_free(&rollouts);
    rows_free(&probes);
    rows_free(&experiments);
    return rc;
}
