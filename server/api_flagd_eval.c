/* flagd.evaluation.v1 and v2: OpenFeature flagd providers in RPC mode ask
 * roostd to evaluate. Evaluation runs the same compiled images and the same
 * interpreter as Roost's SDKs (evaluator.c), so a flag answers the same way
 * whichever client asks.
 *
 * Behaviour follows flagd: evaluation errors are gRPC errors
 * (FLAG_NOT_FOUND -> NOT_FOUND, TYPE_MISMATCH -> INVALID_ARGUMENT,
 * PARSE_ERROR -> DATA_LOSS, GENERAL -> UNKNOWN) whose message starts with
 * the error code; otherwise the response carries reason, variant and the
 * flag's metadata. In v2 value and variant are left unset when no variant
 * was chosen (a disabled flag, or a null rule result with no default), which
 * tells the provider to use the caller's default; v1 has no way to say
 * that and sends the type's zero value.
 *
 * The five typed requests of both versions share one layout (flag_key,
 * context), so one decoder serves them all; responses differ per type and
 * version and are filled by the small pack_* functions below. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compile/compile.h"
#include "evaluator.h"
#include "flagd/evaluation/v1/evaluation.pb-c.h"
#include "flagd/evaluation/v2/evaluation.pb-c.h"
#include "roostd.h"
#include "struct_json.h"

/* Context attributes and key bytes one evaluation can hold. */
#define CTX_ATTRS 256
#define CTX_KEYBUF 16384

enum kind { K_BOOL, K_STRING, K_FLOAT, K_INT, K_OBJECT };

struct method {
    const char *path;
    int version; /* 1 or 2 */
    enum kind kind;
    const ProtobufCMessageDescriptor *request;
    struct roostd *d;
};

/* One evaluation's outcome, ready to be packed in either version. */
struct outcome {
    roost_result res;
    bool has_value;   /* a variant was chosen: send value and variant */
    Google__Protobuf__Struct *metadata;
    Google__Protobuf__Struct *object; /* K_OBJECT */
};

static const char *reason_name(const roost_result *r)
{
    return roost_reason_name(r->reason);
}

static grpc_status_code error_code(roost_eval_error e)
{
    switch (e) {
    case ROOST_EVAL_FLAG_NOT_FOUND: return GRPC_STATUS_NOT_FOUND;
    case ROOST_EVAL_TYPE_MISMATCH: return GRPC_STATUS_INVALID_ARGUMENT;
    case ROOST_EVAL_PARSE_ERROR: return GRPC_STATUS_DATA_LOSS;
    default: return GRPC_STATUS_UNKNOWN;
    }
}

/* The flag's metadata as a Struct (NULL when it has none). */
static Google__Protobuf__Struct *metadata_struct(const roost_flag *flag)
{
    size_t n = flag ? roost_flag_metadata_count(flag) : 0;
    Google__Protobuf__Struct *s;
    cJSON *o;

    if (n == 0 || !(o = cJSON_CreateObject()))
        return NULL;
    for (size_t i = 0; i < n; i++) {
        roost_metadata m;
        if (!roost_flag_metadata_get(flag, i, &m))
            continue;
        if (m.type == ROOST_VALUE_BOOLEAN)
            cJSON_AddBoolToObject(o, m.key, m.boolean);
        else if (m.type == ROOST_VALUE_NUMBER)
            cJSON_AddNumberToObject(o, m.key, m.number);
        else
            cJSON_AddStringToObject(o, m.key, m.string);
    }
    s = struct_from_json(o);
    cJSON_Delete(o);
    return s;
}

/* Fills ctx from a request's context Struct. */
static bool context_of(const Google__Protobuf__Struct *context, roost_ctx *ctx, char *keybuf,
                       cJSON **json, struct rpc_reply *reply)
{
    roost_error err;

    *json = struct_to_json(context);
    if (!*json) {
        rpc_reply_error(reply, GRPC_STATUS_INVALID_ARGUMENT,
                        "GENERAL: the evaluation context is nested deeper than %d levels",
                        STRUCT_JSON_MAX_DEPTH);
        return false;
    }
    if (roost_ctx_from_json(*json, ctx, keybuf, CTX_KEYBUF, &err) != ROOST_OK) {
        rpc_reply_error(reply, GRPC_STATUS_INVALID_ARGUMENT, "GENERAL: evaluation context: %s",
                        err.msg);
        return false;
    }
    roost_ctx_set_timestamp(ctx, (int64_t)time(NULL));
    return true;
}

/* Evaluates flag for ctx as `kind`. */
static void evaluate(const roost_flag *flag, const roost_ctx *ctx, enum kind kind,
                     struct outcome *o)
{
    switch (kind) {
    case K_BOOL: roost_eval_bool(flag, ctx, false, &o->res); break;
    case K_STRING: roost_eval_string(flag, ctx, "", &o->res); break;
    case K_FLOAT: roost_eval_float(flag, ctx, 0, &o->res); break;
    case K_INT: roost_eval_int(flag, ctx, 0, &o->res); break;
    case K_OBJECT: roost_eval_object(flag, ctx, "{}", &o->res); break;
    }
    o->has_value = o->res.error == ROOST_EVAL_OK && o->res.variant != NULL;
}

/* Turns an object value (JSON text) into a Struct. */
static bool object_struct(struct outcome *o, struct rpc_reply *reply)
{
    cJSON *j = cJSON_ParseWithLength(o->res.value.string.ptr, o->res.value.string.len);

    o->object = j ? struct_from_json(j) : NULL;
    cJSON_Delete(j);
    if (!o->object) {
        rpc_reply_error(reply, GRPC_STATUS_UNKNOWN, "GENERAL: object value cannot be encoded");
        return false;
    }
    return true;
}

/* Oneof cases are numbered by field: use the generated names. */
#define SET_V2(msg, val, PREFIX)                                                                 \
    do {                                                                                         \
        if (o->has_value) {                                                                      \
            (msg)._value_case = PREFIX##___VALUE_VALUE;                                          \
            (msg).value = (val);                                                                 \
            (msg)._variant_case = PREFIX##___VARIANT_VARIANT;                                    \
            (msg).variant = (char *)o->res.variant;                                              \
        }                                                                                        \
        (msg).reason = (char *)reason_name(&o->res);                                             \
        (msg).metadata = o->metadata;                                                            \
    } while (0)

#define SET_V1(msg, val)                                                                         \
    do {                                                                                         \
        if (o->has_value) {                                                                      \
            (msg).value = (val);                                                                 \
            (msg).variant = (char *)o->res.variant;                                              \
        }                                                                                        \
        (msg).reason = (char *)reason_name(&o->res);                                             \
        (msg).metadata = o->metadata;                                                            \
    } while (0)

static void pack(const struct method *m, struct outcome *o, struct rpc_reply *reply)
{
    const roost_result *r = &o->res;

    if (m->version == 2) {
        switch (m->kind) {
        case K_BOOL: {
            Flagd__Evaluation__V2__ResolveBooleanResponse msg =
                FLAGD__EVALUATION__V2__RESOLVE_BOOLEAN_RESPONSE__INIT;
            SET_V2(msg, r->value.boolean, FLAGD__EVALUATION__V2__RESOLVE_BOOLEAN_RESPONSE);
            RPC_REPLY_PACK(reply, flagd__evaluation__v2__resolve_boolean_response, &msg);
            return;
        }
        case K_STRING: {
            Flagd__Evaluation__V2__ResolveStringResponse msg =
                FLAGD__EVALUATION__V2__RESOLVE_STRING_RESPONSE__INIT;
            SET_V2(msg, (char *)r->value.string.ptr, FLAGD__EVALUATION__V2__RESOLVE_STRING_RESPONSE);
            RPC_REPLY_PACK(reply, flagd__evaluation__v2__resolve_string_response, &msg);
            return;
        }
        case K_FLOAT: {
            Flagd__Evaluation__V2__ResolveFloatResponse msg =
                FLAGD__EVALUATION__V2__RESOLVE_FLOAT_RESPONSE__INIT;
            SET_V2(msg, r->value.number, FLAGD__EVALUATION__V2__RESOLVE_FLOAT_RESPONSE);
            RPC_REPLY_PACK(reply, flagd__evaluation__v2__resolve_float_response, &msg);
            return;
        }
        case K_INT: {
            Flagd__Evaluation__V2__ResolveIntResponse msg =
                FLAGD__EVALUATION__V2__RESOLVE_INT_RESPONSE__INIT;
            SET_V2(msg, r->value.integer, FLAGD__EVALUATION__V2__RESOLVE_INT_RESPONSE);
            RPC_REPLY_PACK(reply, flagd__evaluation__v2__resolve_int_response, &msg);
            return;
        }
        case K_OBJECT: {
            Flagd__Evaluation__V2__ResolveObjectResponse msg =
                FLAGD__EVALUATION__V2__RESOLVE_OBJECT_RESPONSE__INIT;
            SET_V2(msg, o->object, FLAGD__EVALUATION__V2__RESOLVE_OBJECT_RESPONSE);
            RPC_REPLY_PACK(reply, flagd__evaluation__v2__resolve_object_response, &msg);
            return;
        }
        }
    }
    switch (m->kind) {
    case K_BOOL: {
        Flagd__Evaluation__V1__ResolveBooleanResponse msg =
            FLAGD__EVALUATION__V1__RESOLVE_BOOLEAN_RESPONSE__INIT;
        SET_V1(msg, r->value.boolean);
        RPC_REPLY_PACK(reply, flagd__evaluation__v1__resolve_boolean_response, &msg);
        return;
    }
    case K_STRING: {
        Flagd__Evaluation__V1__ResolveStringResponse msg =
            FLAGD__EVALUATION__V1__RESOLVE_STRING_RESPONSE__INIT;
        SET_V1(msg, (char *)r->value.string.ptr);
        RPC_REPLY_PACK(reply, flagd__evaluation__v1__resolve_string_response, &msg);
        return;
    }
    case K_FLOAT: {
        Flagd__Evaluation__V1__ResolveFloatResponse msg =
            FLAGD__EVALUATION__V1__RESOLVE_FLOAT_RESPONSE__INIT;
        SET_V1(msg, r->value.number);
        RPC_REPLY_PACK(reply, flagd__evaluation__v1__resolve_float_response, &msg);
        return;
    }
    case K_INT: {
        Flagd__Evaluation__V1__ResolveIntResponse msg =
            FLAGD__EVALUATION__V1__RESOLVE_INT_RESPONSE__INIT;
        SET_V1(msg, r->value.integer);
        RPC_REPLY_PACK(reply, flagd__evaluation__v1__resolve_int_response, &msg);
        return;
    }
    case K_OBJECT: {
        Flagd__Evaluation__V1__ResolveObjectResponse msg =
            FLAGD__EVALUATION__V1__RESOLVE_OBJECT_RESPONSE__INIT;
        SET_V1(msg, o->object);
        RPC_REPLY_PACK(reply, flagd__evaluation__v1__resolve_object_response, &msg);
        return;
    }
    }
}

/* The shared layout of every Resolve<Type>Request, v1 and v2. */
typedef Flagd__Evaluation__V2__ResolveBooleanRequest resolve_request;

static void flagd_resolve(void *ctx, const struct rpc_request *req, struct rpc_reply *reply)
{
    const struct method *m = ctx;
    ProtobufCMessage *msg = protobuf_c_message_unpack(m->request, NULL, req->len, req->data);
    const resolve_request *in = (const resolve_request *)(void *)msg;
    const struct eval_view *view = NULL;
    roost_ctx_attr attrs[CTX_ATTRS];
    static _Thread_local char keybuf[CTX_KEYBUF];
    struct outcome o = {0};
    roost_ctx rctx;
    roost_error err;
    cJSON *json = NULL;

    if (!msg) {
        rpc_reply_error(reply, GRPC_STATUS_INVALID_ARGUMENT, "the request cannot be decoded");
        return;
    }
    roost_ctx_init(&rctx, attrs, CTX_ATTRS);
    if (!context_of(in->context, &rctx, keybuf, &json, reply))
        goto out;
    if (evaluator_acquire(m->d->evaluator, &view, &err) != ROOST_OK) {
        rpc_reply_error(reply, GRPC_STATUS_UNKNOWN, "GENERAL: %s", err.msg);
        goto out;
    }
    evaluate(roost_flagset_find(&view->index, in->flag_key, strlen(in->flag_key)), &rctx, m->kind,
             &o);
    if (o.res.error != ROOST_EVAL_OK) {
        rpc_reply_error(reply, error_code(o.res.error), "%s: flag '%s': %s",
                        roost_eval_error_name(o.res.error), in->flag_key,
                        o.res.message ? o.res.message : "evaluation failed");
    } else if (o.has_value && m->kind == K_OBJECT && !object_struct(&o, reply)) {
        /* reply already says why */
    } else {
        o.metadata = metadata_struct(o.res.flag);
        pack(m, &o, reply);
    }
    struct_free(o.metadata);
    struct_free(o.object);
    evaluator_release(m->d->evaluator, view);
out:
    cJSON_Delete(json);
    protobuf_c_message_free_unpacked(msg, NULL);
}

/* ResolveAll: every enabled flag that evaluates without error, each as its
 * own type. The v1 and v2 messages have the same layout but for v2's
 * optional variant. */
static void flagd_resolve_all(void *ctx, const struct rpc_request *req, struct rpc_reply *reply)
{
    const struct method *m = ctx;
    Flagd__Evaluation__V2__ResolveAllRequest *in =
        flagd__evaluation__v2__resolve_all_request__unpack(NULL, req->len, req->data);
    const struct eval_view *view = NULL;
    roost_ctx_attr attrs[CTX_ATTRS];
    static _Thread_local char keybuf[CTX_KEYBUF];
    roost_ctx rctx;
    roost_error err;
    cJSON *json = NULL;
    Flagd__Evaluation__V2__ResolveAllResponse out = FLAGD__EVALUATION__V2__RESOLVE_ALL_RESPONSE__INIT;
    Flagd__Evaluation__V2__ResolveAllResponse__FlagsEntry *entries = NULL, **eptrs = NULL;
    Flagd__Evaluation__V2__AnyFlag *flags = NULL;
    struct outcome *outs = NULL;
    size_t n = 0;

    if (!in) {
        rpc_reply_error(reply, GRPC_STATUS_INVALID_ARGUMENT, "the request cannot be decoded");
        return;
    }
    roost_ctx_init(&rctx, attrs, CTX_ATTRS);
    if (!context_of(in->context, &rctx, keybuf, &json, reply))
        goto out;
    if (evaluator_acquire(m->d->evaluator, &view, &err) != ROOST_OK) {
        rpc_reply_error(reply, GRPC_STATUS_UNKNOWN, "GENERAL: %s", err.msg);
        goto out;
    }
    entries = calloc(view->count + 1, sizeof *entries);
    eptrs = calloc(view->count + 1, sizeof *eptrs);
    flags = calloc(view->count + 1, sizeof *flags);
    outs = calloc(view->count + 1, sizeof *outs);
    if (!entries || !eptrs || !flags || !outs) {
        rpc_reply_error(reply, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        goto release;
    }
    for (size_t i = 0; i < view->count; i++) {
        const roost_flag *f = &view->flags[i];
        static const enum kind kinds[] = {[ROOST_VALUE_BOOLEAN] = K_BOOL,
                                          [ROOST_VALUE_STRING] = K_STRING,
                                          [ROOST_VALUE_NUMBER] = K_FLOAT,
                                          [ROOST_VALUE_OBJECT] = K_OBJECT};
        struct outcome *o = &outs[n];
        Flagd__Evaluation__V2__AnyFlag *af = &flags[n];

        if (!roost_flag_enabled(f))
            continue;
        evaluate(f, &rctx, kinds[roost_flag_type(f)], o);
        if (o->res.error != ROOST_EVAL_OK || !o->has_value)
            continue;
        if (roost_flag_type(f) == ROOST_VALUE_OBJECT && !object_struct(o, reply))
            goto release;
        flagd__evaluation__v2__any_flag__init(af);
        af->reason = (char *)reason_name(&o->res);
        af->_variant_case = FLAGD__EVALUATION__V2__ANY_FLAG___VARIANT_VARIANT;
        af->variant = (char *)o->res.variant;
        af->metadata = o->metadata = metadata_struct(f);
        switch (roost_flag_type(f)) {
        case ROOST_VALUE_BOOLEAN:
            af->value_case = FLAGD__EVALUATION__V2__ANY_FLAG__VALUE_BOOL_VALUE;
            af->bool_value = o->res.value.boolean;
            break;
        case ROOST_VALUE_STRING:
            af->value_case = FLAGD__EVALUATION__V2__ANY_FLAG__VALUE_STRING_VALUE;
            af->string_value = (char *)o->res.value.string.ptr;
            break;
        case ROOST_VALUE_NUMBER:
            af->value_case = FLAGD__EVALUATION__V2__ANY_FLAG__VALUE_DOUBLE_VALUE;
            af->double_value = o->res.value.number;
            break;
        case ROOST_VALUE_OBJECT:
            af->value_case = FLAGD__EVALUATION__V2__ANY_FLAG__VALUE_OBJECT_VALUE;
            af->object_value = o->object;
            break;
        }
        flagd__evaluation__v2__resolve_all_response__flags_entry__init(&entries[n]);
        entries[n].key = (char *)roost_flag_key(f, NULL);
        entries[n].value = af;
        eptrs[n] = &entries[n];
        n++;
    }
    out.n_flags = n;
    out.flags = eptrs;
    /* v1's ResolveAllResponse is the same bytes: its variant is a plain
     * string, which the wire cannot tell from v2's optional one. */
    RPC_REPLY_PACK(reply, flagd__evaluation__v2__resolve_all_response, &out);
release:
    for (size_t i = 0; outs && i <= view->count; i++) {
        struct_free(outs[i].metadata);
        struct_free(outs[i].object);
    }
    free(outs);
    free(flags);
    free(entries);
    free(eptrs);
    evaluator_release(m->d->evaluator, view);
out:
    cJSON_Delete(json);
    flagd__evaluation__v2__resolve_all_request__free_unpacked(in, NULL);
}

#define TYPED(ver, Name, kind, desc)                                                             \
    {"/flagd.evaluation.v" #ver ".Service/Resolve" #Name, ver, kind, &desc, NULL}

static struct method methods[] = {
    TYPED(1, Boolean, K_BOOL, flagd__evaluation__v1__resolve_boolean_request__descriptor),
    TYPED(1, String, K_STRING, flagd__evaluation__v1__resolve_string_request__descriptor),
    TYPED(1, Float, K_FLOAT, flagd__evaluation__v1__resolve_float_request__descriptor),
    TYPED(1, Int, K_INT, flagd__evaluation__v1__resolve_int_request__descriptor),
    TYPED(1, Object, K_OBJECT, flagd__evaluation__v1__resolve_object_request__descriptor),
    TYPED(2, Boolean, K_BOOL, flagd__evaluation__v2__resolve_boolean_request__descriptor),
    TYPED(2, String, K_STRING, flagd__evaluation__v2__resolve_string_request__descriptor),
    TYPED(2, Float, K_FLOAT, flagd__evaluation__v2__resolve_float_request__descriptor),
    TYPED(2, Int, K_INT, flagd__evaluation__v2__resolve_int_request__descriptor),
    TYPED(2, Object, K_OBJECT, flagd__evaluation__v2__resolve_object_request__descriptor),
};

static struct method all_methods[] = {
    {"/flagd.evaluation.v1.Service/ResolveAll", 1, K_BOOL, NULL, NULL},
    {"/flagd.evaluation.v2.Service/ResolveAll", 2, K_BOOL, NULL, NULL},
};

roost_status api_flagd_eval_register(struct roostd *d, roost_error *err)
{
    roost_status rc;

    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        struct rpc_method rm = {methods[i].path, RPC_AUTH_SDK, flagd_resolve, NULL, &methods[i]};
        methods[i].d = d;
        if ((rc = rpc_server_add_methods(d->rpc, &rm, 1, err)) != ROOST_OK)
            return rc;
    }
    for (size_t i = 0; i < sizeof all_methods / sizeof all_methods[0]; i++) {
        struct rpc_method rm = {all_methods[i].path, RPC_AUTH_SDK, flagd_resolve_all, NULL,
                                &all_methods[i]};
        all_methods[i].d = d;
        if ((rc = rpc_server_add_methods(d->rpc, &rm, 1, err)) != ROOST_OK)
            return rc;
    }
    return ROOST_OK;
}
