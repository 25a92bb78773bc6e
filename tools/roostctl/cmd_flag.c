/* roostctl flag get | list | delete. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "roost/v1/roost.pb-c.h"
#include "roostctl.h"
#include "tools/lib/rpcclient.h"

static const char usage[] =
    "usage: roostctl flag get KEY\n"
    "       roostctl flag list [--flag-set NAME]\n"
    "       roostctl flag delete KEY\n"
    "\n"
    "get prints a flag's summary and its definition; list prints one line per flag;\n"
    "delete removes one flag now (applying its document again brings it back).\n";

static cJSON *summary_json(const Roost__V1__FlagSummary *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *v = cJSON_CreateArray();

    cJSON_AddStringToObject(o, "key", s->key);
    cJSON_AddStringToObject(o, "flag_set", s->flag_set);
    cJSON_AddStringToObject(o, "state", s->enabled ? "ENABLED" : "DISABLED");
    cJSON_AddStringToObject(o, "type", s->type);
    if (s->default_variant[0])
        cJSON_AddStringToObject(o, "default_variant", s->default_variant);
    else
        cJSON_AddNullToObject(o, "default_variant");
    for (size_t i = 0; i < s->n_variants; i++)
        cJSON_AddItemToArray(v, cJSON_CreateString(s->variants[i]));
    cJSON_AddItemToObject(o, "variants", v);
    cJSON_AddBoolToObject(o, "targeting", s->targeted);
    cJSON_AddNumberToObject(o, "revision", (double)s->revision);
    return o;
}

static int flag_get(const struct roostctl *g, struct rc_channel *ch, const char *key)
{
    Roost__V1__GetFlagRequest req = ROOST__V1__GET_FLAG_REQUEST__INIT;
    Roost__V1__GetFlagResponse *r;
    uint8_t *buf, *out;
    size_t len, outlen;
    int rc;

    req.key = (char *)key;
    len = roost__v1__get_flag_request__get_packed_size(&req);
    if (!(buf = malloc(len ? len : 1)))
        return roostctl_fail(ROOSTCTL_EXIT_FAIL, "out of memory");
    roost__v1__get_flag_request__pack(&req, buf);
    rc = roostctl_call(g, ch, "/roost.v1.Admin/GetFlag", buf, len, &out, &outlen);
    free(buf);
    if (rc != ROOSTCTL_EXIT_OK)
        return rc;
    r = roost__v1__get_flag_response__unpack(NULL, outlen, out);
    free(out);
    if (!r || !r->flag || !r->summary) {
        if (r)
            roost__v1__get_flag_response__free_unpacked(r, NULL);
        return roostctl_fail(ROOSTCTL_EXIT_FAIL, "roostd sent a GetFlagResponse that cannot be "
                                                 "decoded (a different version?)");
    }
    if (g->json) {
        cJSON *o = summary_json(r->summary);
        cJSON *def = cJSON_Parse(r->flag->source_json);
        cJSON_AddItemToObject(o, "definition", def ? def : cJSON_CreateNull());
        roostctl_print_json(o);
    } else {
        const Roost__V1__FlagSummary *s = r->summary;
        cJSON *def = cJSON_Parse(r->flag->source_json);
        char *pretty = def ? cJSON_Print(def) : NULL;
        printf("%s  (flag set \"%s\", revision %llu)\n", s->key, s->flag_set,
               (unsigned long long)s->revision);
        printf("  state     %s\n", s->enabled ? "ENABLED" : "DISABLED");
        printf("  type      %s\n", s->type);
        printf("  default   %s\n", s->default_variant[0] ? s->default_variant
                                                        : "(none: the caller's default)");
        printf("  variants ");
        for (size_t i = 0; i < s->n_variants; i++)
            printf(" %s", s->variants[i]);
        printf("\n  targeting %s\n", s->targeted ? "yes" : "no");
        printf("definition:\n%s\n", pretty ? pretty : r->flag->source_json);
        cJSON_free(pretty);
        cJSON_Delete(def);
    }
    roost__v1__get_flag_response__free_unpacked(r, NULL);
    return ROOSTCTL_EXIT_OK;
}

static int flag_list(const struct roostctl *g, struct rc_channel *ch, const char *set)
{
    Roost__V1__ListFlagsRequest req = ROOST__V1__LIST_FLAGS_REQUEST__INIT;
    Roost__V1__ListFlagsResponse *r;
    uint8_t *buf, *out;
    size_t len, outlen;
    int rc;

    req.flag_set = (char *)(set ? set : "");
    len = roost__v1__list_flags_request__get_packed_size(&req);
    if (!(buf = malloc(len ? len : 1)))
        return roostctl_fail(ROOSTCTL_EXIT_FAIL, "out of memory");
    roost__v1__list_flags_request__pack(&req, buf);
    rc = roostctl_call(g, ch, "/roost.v1.Admin/ListFlags", buf, len, &out, &outlen);
    free(buf);
    if (rc != ROOSTCTL_EXIT_OK)
        return rc;
    r = roost__v1__list_flags_response__unpack(NULL, outlen, out);
    free(out);
    if (!r)
        return roostctl_fail(ROOSTCTL_EXIT_FAIL, "roostd sent a ListFlagsResponse that cannot "
                                                 "be decoded (a different version?)");
    if (g->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON *a = cJSON_CreateArray();
        cJSON_AddNumberToObject(o, "revision", (double)r->revision);
        for (size_t i = 0; i < r->n_flags; i++)
            cJSON_AddItemToArray(a, summary_json(r->flags[i]));
        cJSON_AddItemToObject(o, "flags", a);
        roostctl_print_json(o);
    } else if (r->n_flags == 0) {
        printf("no flags%s%s%s (revision %llu); add some with 'roostctl apply -f FILE'\n",
               set ? " in flag set \"" : "", set ? set : "", set ? "\"" : "",
               (unsigned long long)r->revision);
    } else {
        int kw = 4;
        for (size_t i = 0; i < r->n_flags; i++) {
            int n = (int)strlen(r->flags[i]->key);
            kw = n > kw ? n : kw;
        }
        printf("%-*s  %-8s  %-7s  %-16s  %-9s  %s\n", kw, "KEY", "STATE", "TYPE", "DEFAULT",
               "TARGETING", "FLAG SET");
        for (size_t i = 0; i < r->n_flags; i++) {
            const Roost__V1__FlagSummary *s = r->flags[i];
            printf("%-*s  %-8s  %-7s  %-16s  %-9s  %s\n", kw, s->key,
                   s->enabled ? "ENABLED" : "DISABLED", s->type,
                   s->default_variant[0] ? s->default_variant : "-", s->targeted ? "yes" : "no",
                   s->flag_set);
        }
        printf("%zu flag%s at revision %llu\n", r->n_flags, r->n_flags == 1 ? "" : "s",
               (unsigned long long)r->revision);
    }
    roost__v1__list_flags_response__free_unpacked(r, NULL);
    return ROOSTCTL_EXIT_OK;
}

static int flag_delete(const struct roostctl *g, struct rc_channel *ch, const char *key)
{
    Roost__V1__DeleteFlagRequest req = ROOST__V1__DELETE_FLAG_REQUEST__INIT;
    Roost__V1__DeleteFlagResponse *r;
    uint8_t *buf, *out;
    size_t len, outlen;
    int rc;

    req.key = (char *)key;
    len = roost__v1__delete_flag_request__get_packed_size(&req);
    if (!(buf = malloc(len ? len : 1)))
        return roostctl_fail(ROOSTCTL_EXIT_FAIL, "out of memory");
    roost__v1__delete_flag_request__pack(&req, buf);
    rc = roostctl_call(g, ch, "/roost.v1.Admin/DeleteFlag", buf, len, &out, &outlen);
    free(buf);
    if (rc != ROOSTCTL_EXIT_OK)
        return rc;
    r = roost__v1__delete_flag_response__unpack(NULL, outlen, out);
    free(out);
    if (!r)
        return roostctl_fail(ROOSTCTL_EXIT_FAIL, "roostd sent a DeleteFlagResponse that cannot "
                                                 "be decoded (a different version?)");
    if (g->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "deleted", key);
        cJSON_AddNumberToObject(o, "revision", (double)r->revision);
        roostctl_print_json(o);
    } else {
        printf("deleted %s at revision %llu\n", key, (unsigned long long)r->revision);
    }
    roost__v1__delete_flag_response__free_unpacked(r, NULL);
    return ROOSTCTL_EXIT_OK;
}

int roostctl_cmd_flag(const struct roostctl *g, int argc, char **argv)
{
    struct rc_channel *ch;
    const char *sub, *set = NULL;
    int rc;

    if (roostctl_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return ROOSTCTL_EXIT_OK;
    }
    if (argc < 2)
        return roostctl_fail(ROOSTCTL_EXIT_USAGE, "flag: which action? get, list or delete\n%s",
                             usage);
    sub = argv[1];
    if (strcmp(sub, "list") == 0) {
        for (int i = 2; i < argc; i++) {
            if (strcmp(argv[i], "--flag-set") == 0 && i + 1 < argc)
                set = argv[++i];
            else
                return roostctl_fail(ROOSTCTL_EXIT_USAGE, "flag list: unexpected '%s'", argv[i]);
        }
    } else if (strcmp(sub, "get") == 0 || strcmp(sub, "delete") == 0) {
        if (argc != 3)
            return roostctl_fail(ROOSTCTL_EXIT_USAGE, "flag %s: expected exactly one KEY", sub);
    } else {
        return roostctl_fail(ROOSTCTL_EXIT_USAGE,
                             "flag: unknown action '%s'; expected get, list or delete", sub);
    }
    if ((rc = roostctl_connect(g, &ch)) != ROOSTCTL_EXIT_OK)
        return rc;
    if (strcmp(sub, "list") == 0)
        rc = flag_list(g, ch, set);
    else if (strcmp(sub, "get") == 0)
        rc = flag_get(g, ch, argv[2]);
    else
        rc = flag_delete(g, ch, argv[2]);
    rc_channel_close(ch);
    return rc;
}
