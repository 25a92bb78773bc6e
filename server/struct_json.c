/* google.protobuf.Struct <-> cJSON. See struct_json.h. */
#include "struct_json.h"

#include <stdlib.h>
#include <string.h>

static cJSON *value_to_json(const Google__Protobuf__Value *v, int depth);

static cJSON *struct_to_json_at(const Google__Protobuf__Struct *s, int depth)
{
    cJSON *o;

    if (depth > STRUCT_JSON_MAX_DEPTH || !(o = cJSON_CreateObject()))
        return NULL;
    for (size_t i = 0; s && i < s->n_fields; i++) {
        cJSON *v = value_to_json(s->fields[i]->value, depth + 1);
        if (!v) {
            cJSON_Delete(o);
            return NULL;
        }
        cJSON_AddItemToObject(o, s->fields[i]->key, v);
    }
    return o;
}

static cJSON *value_to_json(const Google__Protobuf__Value *v, int depth)
{
    cJSON *a;

    if (!v)
        return cJSON_CreateNull();
    switch (v->kind_case) {
    case GOOGLE__PROTOBUF__VALUE__KIND_NUMBER_VALUE:
        return cJSON_CreateNumber(v->number_value);
    case GOOGLE__PROTOBUF__VALUE__KIND_STRING_VALUE:
        return cJSON_CreateString(v->string_value);
    case GOOGLE__PROTOBUF__VALUE__KIND_BOOL_VALUE:
        return cJSON_CreateBool(v->bool_value);
    case GOOGLE__PROTOBUF__VALUE__KIND_STRUCT_VALUE:
        return struct_to_json_at(v->struct_value, depth);
    case GOOGLE__PROTOBUF__VALUE__KIND_LIST_VALUE:
        if (depth > STRUCT_JSON_MAX_DEPTH || !(a = cJSON_CreateArray()))
            return NULL;
        for (size_t i = 0; v->list_value && i < v->list_value->n_values; i++) {
            cJSON *e = value_to_json(v->list_value->values[i], depth + 1);
            if (!e) {
                cJSON_Delete(a);
                return NULL;
            }
            cJSON_AddItemToArray(a, e);
        }
        return a;
    default:
        return cJSON_CreateNull();
    }
}

cJSON *struct_to_json(const Google__Protobuf__Struct *s)
{
    return struct_to_json_at(s, 0);
}

static Google__Protobuf__Struct *struct_from_json_at(const cJSON *obj, int depth);

static Google__Protobuf__Value *value_from_json(const cJSON *j, int depth)
{
    Google__Protobuf__Value *v = malloc(sizeof *v);

    if (!v)
        return NULL;
    google__protobuf__value__init(v);
    if (cJSON_IsBool(j)) {
        v->kind_case = GOOGLE__PROTOBUF__VALUE__KIND_BOOL_VALUE;
        v->bool_value = cJSON_IsTrue(j);
    } else if (cJSON_IsNumber(j)) {
        v->kind_case = GOOGLE__PROTOBUF__VALUE__KIND_NUMBER_VALUE;
        v->number_value = j->valuedouble;
    } else if (cJSON_IsString(j)) {
        v->kind_case = GOOGLE__PROTOBUF__VALUE__KIND_STRING_VALUE;
        if (!(v->string_value = strdup(j->valuestring)))
            goto fail;
    } else if (cJSON_IsObject(j)) {
        v->kind_case = GOOGLE__PROTOBUF__VALUE__KIND_STRUCT_VALUE;
        if (!(v->struct_value = struct_from_json_at(j, depth + 1)))
            goto fail;
    } else if (cJSON_IsArray(j)) {
        Google__Protobuf__ListValue *l = malloc(sizeof *l);
        size_t n = (size_t)cJSON_GetArraySize(j), i = 0;
        const cJSON *e;

        if (!l)
            goto fail;
        google__protobuf__list_value__init(l);
        v->kind_case = GOOGLE__PROTOBUF__VALUE__KIND_LIST_VALUE;
        v->list_value = l;
        if (depth > STRUCT_JSON_MAX_DEPTH || (n && !(l->values = calloc(n, sizeof *l->values))))
            goto fail;
        cJSON_ArrayForEach(e, j)
        {
            if (!(l->values[i] = value_from_json(e, depth + 1)))
                goto fail;
            l->n_values = ++i;
        }
    } else {
        v->kind_case = GOOGLE__PROTOBUF__VALUE__KIND_NULL_VALUE;
        v->null_value = GOOGLE__PROTOBUF__NULL_VALUE__NULL_VALUE;
    }
    return v;
fail:
    protobuf_c_message_free_unpacked(&v->base, NULL);
    return NULL;
}

static Google__Protobuf__Struct *struct_from_json_at(const cJSON *obj, int depth)
{
    Google__Protobuf__Struct *s = malloc(sizeof *s);
    size_t n = (size_t)cJSON_GetArraySize(obj), i = 0;
    const cJSON *e;

    if (!s)
        return NULL;
    google__protobuf__struct__init(s);
    if (depth > STRUCT_JSON_MAX_DEPTH || (n && !(s->fields = calloc(n, sizeof *s->fields))))
        goto fail;
    cJSON_ArrayForEach(e, obj)
    {
        Google__Protobuf__Struct__FieldsEntry *f = malloc(sizeof *f);
        if (!f)
            goto fail;
        google__protobuf__struct__fields_entry__init(f);
        s->fields[i] = f;
        s->n_fields = ++i;
        if (!(f->key = strdup(e->string ? e->string : "")) ||
            !(f->value = value_from_json(e, depth)))
            goto fail;
    }
    return s;
fail:
    struct_free(s);
    return NULL;
}

Google__Protobuf__Struct *struct_from_json(const cJSON *obj)
{
    return cJSON_IsObject(obj) ? struct_from_json_at(obj, 0) : NULL;
}

void struct_free(Google__Protobuf__Struct *s)
{
    if (s)
        protobuf_c_message_free_unpacked(&s->base, NULL);
}
