/* flagd's streaming side: flagd.sync.v1.FlagSyncService (in-process
 * providers receive the whole flag configuration and evaluate it
 * themselves) and the EventStream of flagd.evaluation.v1/v2 (RPC-mode
 * providers learn when to drop their caches).
 *
 * Both are hub formats, so they get the hub's guarantees — one message in
 * flight per subscriber, a slow one holds back nobody, clean shutdown — and
 * both coalesce: a subscriber that was busy while three changes landed gets
 * one configuration (or one notification listing every changed key), not
 * three.
 *
 * The configuration sent is flagd flag-definition JSON built from the stored
 * definitions, which are normalized at apply time ($refs inlined, flag-set
 * metadata merged), so each flag stands alone. A SyncFlags selector names a
 * flag set (metadata.flagSetId); empty means every flag. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flagd/evaluation/v2/evaluation.pb-c.h"
#include "flagd/sync/v1/sync.pb-c.h"
#include "log.h"
#include "roost/storage/v1/storage.pb-c.h"
#include "roost/v1/roost.pb-c.h"
#include "roost/version.h"
#include "roostd.h"
#include "struct_json.h"

/* ---- the flag configuration ------------------------------------------ */

struct buf {
    char *p;
    size_t len, cap;
    bool failed;
};

static void put(struct buf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        char *np;
        while (cap < b->len + n + 1)
            cap *= 2;
        if (!(np = realloc(b->p, cap))) {
            b->failed = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* {"flags": {"<key>": <definition>, ...}} of one flag set (selector) or all
 * sets, as of one read transaction. Flag keys need no JSON escaping: the
 * compiler allows only [A-Za-z0-9._-]. */
static roost_status config_json(struct store *st, const char *selector, char **out,
                                uint64_t *revision, roost_error *err)
{
    struct store_txn t;
    struct store_iter it;
    struct store_val k = {0}, v = {0};
    struct buf b = {0};
    bool first = true;
    roost_status rc;

    if ((rc = store_begin(st, false, &t, err)) != ROOST_OK)
        return rc;
    *revision = store_txn_revision(&t);
    if ((rc = store_iter_open(&t, TBL_FLAGS, NULL, 0, &it, err)) != ROOST_OK) {
        store_abort(&t);
        return rc;
    }
    put(&b, "{\"flags\":{", 10);
    while (store_iter_next(&it, &k, &v)) {
        Roost__Storage__V1__FlagRecord *rec =
            roost__storage__v1__flag_record__unpack(NULL, v.len, v.data);
        if (!rec || !rec->flag) {
            if (rec)
                roost__storage__v1__flag_record__free_unpacked(rec, NULL);
            rc = roost_error_set(err, ROOST_ECORRUPT, "stored flag %.*s cannot be decoded",
                                 (int)k.len, (const char *)k.data);
            break;
        }
        if (!selector || !selector[0] || strcmp(selector, rec->flag->flag_set) == 0) {
            if (!first)
                put(&b, ",", 1);
            first = false;
            put(&b, "\"", 1);
            put(&b, rec->flag->key, strlen(rec->flag->key));
            put(&b, "\":", 2);
            put(&b, rec->flag->source_json, strlen(rec->flag->source_json));
        }
        roost__storage__v1__flag_record__free_unpacked(rec, NULL);
    }
    put(&b, "}}", 2);
    store_iter_close(&it);
    store_abort(&t);
    if (rc == ROOST_OK && b.failed)
        rc = roost_error_set(err, ROOST_ENOMEM, "out of memory building the flag configuration");
    if (rc != ROOST_OK) {
        free(b.p);
        return rc;
    }
    *out = b.p;
    return ROOST_OK;
}

/* ---- SyncFlags: the whole configuration on connect and on change ----- */

static enum hub_next sync_next(struct hub *h, struct hub_sub *s, uint64_t head, grpc_slice *payload)
{
    Flagd__Sync__V1__SyncFlagsResponse r = FLAGD__SYNC__V1__SYNC_FLAGS_RESPONSE__INIT;
    roost_error err;
    uint64_t rev;
    char *json;

    if (!s->need_initial && s->sent_rev >= head)
        return HUB_IDLE;
    if (config_json(hub_store(h), s->data, &json, &rev, &err) != ROOST_OK) {
        log_msg(LOG_ERROR, "flagd_sync_failed", err.msg);
        return HUB_FAIL;
    }
    r.flag_configuration = json;
    *payload = grpc_slice_malloc(flagd__sync__v1__sync_flags_response__get_packed_size(&r));
    flagd__sync__v1__sync_flags_response__pack(&r, GRPC_SLICE_START_PTR(*payload));
    free(json);
    s->need_initial = false;
    s->sent_rev = rev > head ? rev : head;
    return HUB_SNAPSHOT;
}

static const struct hub_format flagd_sync_format = {"flagd-sync", sync_next, NULL, free};

static void flagd_sync_flags(void *ctx, struct rpc_stream *s, const struct rpc_request *req)
{
    struct roostd *d = ctx;
    Flagd__Sync__V1__SyncFlagsRequest *in =
        flagd__sync__v1__sync_flags_request__unpack(NULL, req->len, req->data);
    char *selector;

    if (!in) {
        rpc_stream_finish(s, GRPC_STATUS_INVALID_ARGUMENT, "SyncFlagsRequest cannot be decoded");
        rpc_stream_release(s);
        return;
    }
    selector = in->selector[0] ? strdup(in->selector) : NULL;
    hub_subscribe(d->hub, s, &flagd_sync_format, 0, selector,
                  in->provider_id[0] ? in->provider_id : "flagd-provider");
    flagd__sync__v1__sync_flags_request__free_unpacked(in, NULL);
}

static void flagd_fetch_all(void *ctx, const struct rpc_request *req, struct rpc_reply *reply)
{
    struct roostd *d = ctx;
    Flagd__Sync__V1__FetchAllFlagsRequest *in =
        flagd__sync__v1__fetch_all_flags_request__unpack(NULL, req->len, req->data);
    Flagd__Sync__V1__FetchAllFlagsResponse out = FLAGD__SYNC__V1__FETCH_ALL_FLAGS_RESPONSE__INIT;
    roost_error err;
    uint64_t rev;
    char *json;

    if (!in) {
        rpc_reply_error(reply, GRPC_STATUS_INVALID_ARGUMENT, "FetchAllFlagsRequest cannot be decoded");
        return;
    }
    if (config_json(d->store, in->selector, &json, &rev, &err) != ROOST_OK) {
        rpc_reply_error(reply, rpc_code_from_status(err.code), "%s", err.msg);
    } else {
        out.flag_configuration = json;
        RPC_REPLY_PACK(reply, flagd__sync__v1__fetch_all_flags_response, &out);
        free(json);
    }
    flagd__sync__v1__fetch_all_flags_request__free_unpacked(in, NULL);
}

static void flagd_get_metadata(void *ctx, const struct rpc_request *req, struct rpc_reply *reply)
{
    struct roostd *d = ctx;
    Flagd__Sync__V1__GetMetadataResponse out = FLAGD__SYNC__V1__GET_METADATA_RESPONSE__INIT;
    cJSON *o = cJSON_CreateObject();

    (void)req;
    cJSON_AddStringToObject(o, "server", "roostd");
    cJSON_AddStringToObject(o, "version", ROOST_VERSION);
    cJSON_AddNumberToObject(o, "revision", (double)store_revision(d->store));
    out.metadata = struct_from_json(o);
    cJSON_Delete(o);
    if (!out.metadata) {
        rpc_reply_error(reply, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    RPC_REPLY_PACK(reply, flagd__sync__v1__get_metadata_response, &out);
    struct_free(out.metadata);
}

/* ---- EventStream: provider_ready, configuration_change, keep_alive --- */

static grpc_slice event_payload(const char *type, cJSON *data)
{
    Flagd__Evaluation__V2__EventStreamResponse r = FLAGD__EVALUATION__V2__EVENT_STREAM_RESPONSE__INIT;
    grpc_slice out;

    r.type = (char *)type;
    r.data = data ? struct_from_json(data) : NULL;
    out = grpc_slice_malloc(flagd__evaluation__v2__event_stream_response__get_packed_size(&r));
    flagd__evaluation__v2__event_stream_response__pack(&r, GRPC_SLICE_START_PTR(out));
    struct_free(r.data);
    return out;
}

static void mark(cJSON *flags, const char *key, const char *type)
{
    cJSON *e = cJSON_CreateObject();

    cJSON_AddStringToObject(e, "type", type);
    cJSON_DeleteItemFromObjectCaseSensitive(flags, key);
    cJSON_AddItemToObject(flags, key, e);
}

/* The keys changed in (from, to], read from the change log. */
static bool changed_keys(struct store *st, uint64_t from, uint64_t to, cJSON *flags)
{
    struct store_txn t;
    bool ok = true;

    if (store_begin(st, false, &t, NULL) != ROOST_OK)
        return false;
    for (uint64_t r = from + 1; r <= to && ok; r++) {
        struct store_val v;
        Roost__V1__ChangeEvent *ev;

        if (store_log_get(&t, r, &v, NULL) != ROOST_OK ||
            !(ev = roost__v1__change_event__unpack(NULL, v.len, v.data))) {
            ok = false;
            break;
        }
        for (size_t i = 0; i < ev->n_upserted; i++)
            mark(flags, ev->upserted[i]->key, "update");
        for (size_t i = 0; i < ev->n_removed; i++)
            mark(flags, ev->removed[i], "delete");
        roost__v1__change_event__free_unpacked(ev, NULL);
    }
    store_abort(&t);
    return ok;
}

/* Every current key, for a subscriber the change log cannot catch up. */
static bool all_keys(struct store *st, cJSON *flags)
{
    struct store_txn t;
    struct store_iter it;
    struct store_val k = {0}, v = {0};
    char key[256];

    if (store_begin(st, false, &t, NULL) != ROOST_OK)
        return false;
    if (store_iter_open(&t, TBL_FLAGS, NULL, 0, &it, NULL) != ROOST_OK) {
        store_abort(&t);
        return false;
    }
    while (store_iter_next(&it, &k, &v)) {
        size_t n = k.len < sizeof key - 1 ? k.len : sizeof key - 1;
        memcpy(key, k.data, n);
        key[n] = '\0';
        mark(flags, key, "update");
    }
    store_iter_close(&it);
    store_abort(&t);
    return true;
}

/* flagd's protocol cannot resume: a provider that reconnects does not say
 * what it has, so whatever changed while it was away would go unannounced
 * and its cache would keep serving stale values. So every connection gets,
 * right after provider_ready, a configuration_change naming every flag;
 * providers evict those keys and re-evaluate. On a first connection the
 * cache is empty and the notice costs nothing. */
struct events_state {
    bool announced_all;
};

static enum hub_next events_next(struct hub *h, struct hub_sub *s, uint64_t head,
                                 grpc_slice *payload)
{
    struct events_state *st = s->data;
    cJSON *data, *flags;
    bool ok;

    if (s->need_initial) {
        s->need_initial = false;
        s->sent_rev = head;
        *payload = event_payload("provider_ready", NULL);
        return HUB_CHANGE;
    }
    if (st->announced_all && s->sent_rev >= head)
        return HUB_IDLE;
    data = cJSON_CreateObject();
    flags = cJSON_AddObjectToObject(data, "flags");
    ok = st->announced_all && hub_log_covers(h, s->sent_rev, head) &&
         changed_keys(hub_store(h), s->sent_rev, head, flags);
    if (!ok)
        ok = all_keys(hub_store(h), flags);
    if (!ok) {
        cJSON_Delete(data);
        return HUB_FAIL;
    }
    *payload = event_payload("configuration_change", data);
    cJSON_Delete(data);
    st->announced_all = true;
    s->sent_rev = head;
    return HUB_CHANGE;
}

static bool events_keepalive(grpc_slice *payload)
{
    *payload = event_payload("keep_alive", NULL);
    return true;
}

static const struct hub_format flagd_events_format = {"flagd-events", events_next,
                                                      events_keepalive, free};

static void flagd_event_stream(void *ctx, struct rpc_stream *s, const struct rpc_request *req)
{
    struct roostd *d = ctx;

    struct events_state *st = calloc(1, sizeof *st);

    (void)req; /* EventStreamRequest is empty */
    if (!st) {
        rpc_stream_finish(s, GRPC_STATUS_RESOURCE_EXHAUSTED, "roostd is out of memory");
        rpc_stream_release(s);
        return;
    }
    hub_subscribe(d->hub, s, &flagd_events_format, 0, st, "flagd-provider");
}

roost_status api_flagd_sync_register(struct roostd *d, roost_error *err)
{
    const struct rpc_method methods[] = {
        {"/flagd.sync.v1.FlagSyncService/SyncFlags", RPC_AUTH_SDK, NULL, flagd_sync_flags, d},
        {"/flagd.sync.v1.FlagSyncService/FetchAllFlags", RPC_AUTH_SDK, flagd_fetch_all, NULL, d},
        {"/flagd.sync.v1.FlagSyncService/GetMetadata", RPC_AUTH_SDK, flagd_get_metadata, NULL, d},
        {"/flagd.evaluation.v1.Service/EventStream", RPC_AUTH_SDK, NULL, flagd_event_stream, d},
        {"/flagd.evaluation.v2.Service/EventStream", RPC_AUTH_SDK, NULL, flagd_event_stream, d},
    };

    return rpc_server_add_methods(d->rpc, methods, sizeof methods / sizeof methods[0], err);
}
