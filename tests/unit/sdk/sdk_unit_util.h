/* Helpers for the C SDK's unit tests: real flag images made by the flag
 * compiler (so the SDK is tested on what roostd sends, not on hand-made
 * bytes), rollout, probe and experiment records, and a temporary
 * directory. */
#ifndef ROOST_TESTS_SDK_UNIT_UTIL_H
#define ROOST_TESTS_SDK_UNIT_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "resources.h"
#include "snapshot.h"
#include "testmain.h"

/* Compiles a one-flag document {key: boolean flag with default variant
 * `variant` ("on"/"off")} and returns its image as an sdk_image at
 * `revision`. */
static inline struct sdk_image *bool_image(const char *key, const char *variant, uint64_t revision)
{
    char doc[512];
    cJSON *json = NULL;
    roost_compiled_set *set = NULL;
    const roost_compiled_flag *f;
    struct sdk_image *img;
    roost_error err;

    snprintf(doc, sizeof doc,
             "{\"flags\": {\"%s\": {\"state\": \"ENABLED\", \"variants\": {\"on\": true, "
             "\"off\": false}, \"defaultVariant\": \"%s\"}}}",
             key, variant);
    assert_int_equal(roost_json_parse(doc, strlen(doc), "doc", &json, &err), ROOST_OK);
    assert_int_equal(roost_compile_flagset(json, &set, &err), ROOST_OK);
    f = roost_compiled_set_find(set, key);
    assert_non_null(f);
    img = sdk_image_new(key, strlen(key), revision, f->image, f->image_len, &err);
    assert_non_null(img);
    assert_true(img->loaded);
    roost_compiled_set_free(set);
    cJSON_Delete(json);
    return img;
}

/* Compiles {key: definition} (a flagd flag definition, JSON text) and
 * returns its image as an sdk_image at `revision`. */
static inline struct sdk_image *json_image(const char *key, const char *definition,
                                           uint64_t revision)
{
    size_t cap = strlen(key) + strlen(definition) + 64;
    char *doc = malloc(cap);
    cJSON *json = NULL;
    roost_compiled_set *set = NULL;
    const roost_compiled_flag *f;
    struct sdk_image *img;
    roost_error err;

    snprintf(doc, cap, "{\"flags\": {\"%s\": %s}}", key, definition);
    if (roost_json_parse(doc, strlen(doc), "doc", &json, &err) != ROOST_OK ||
        roost_compile_flagset(json, &set, &err) != ROOST_OK)
        fprintf(stderr, "json_image(%s): %s\n", key, err.msg);
    assert_non_null(set);
    f = roost_compiled_set_find(set, key);
    assert_non_null(f);
    img = sdk_image_new(key, strlen(key), revision, f->image, f->image_len, &err);
    assert_non_null(img);
    assert_true(img->loaded);
    roost_compiled_set_free(set);
    cJSON_Delete(json);
    free(doc);
    return img;
}

/* Resource lists for snapshot_build / snapshot_apply (resources.h). */
static inline void unit_add_rollout(struct sdk_res_list *res, const char *name,
                                    roost_rollout_phase phase, uint32_t weight_bp)
{
    struct sdk_rollout *r;

    assert_int_equal(sdk_res_list_push(&res[SDK_ROLLOUTS], SDK_ROLLOUTS, 1000, (void **)&r),
                     ROOST_OK);
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->service, sizeof r->service, "checkout");
    snprintf(r->baseline, sizeof r->baseline, "v1");
    snprintf(r->canary, sizeof r->canary, "v2");
    r->phase = phase;
    r->weight_bp = weight_bp;
    r->revision = 1;
    sdk_rollout_prepare(r);
}

static inline void unit_add_probe(struct sdk_res_list *res, const char *name,
                                  roost_probe_state state, const char *detail)
{
    struct sdk_probe *p;

    assert_int_equal(sdk_res_list_push(&res[SDK_PROBES], SDK_PROBES, 1000, (void **)&p),
                     ROOST_OK);
    snprintf(p->name, sizeof p->name, "%s", name);
    snprintf(p->detail, sizeof p->detail, "%s", detail);
    p->state = state;
    p->circuit = state == ROOST_PROBE_DOWN ? ROOST_CIRCUIT_OPEN : ROOST_CIRCUIT_CLOSED;
    p->latency_ms = 1.5;
    p->consecutive_failures = state == ROOST_PROBE_DOWN ? 3 : 0;
    p->since_unix_ms = 1700000000000;
}

static inline void unit_add_experiment(struct sdk_res_list *res, const char *name,
                                       const char *flag, roost_experiment_phase phase)
{
    struct sdk_experiment *e;

    assert_int_equal(
        sdk_res_list_push(&res[SDK_EXPERIMENTS], SDK_EXPERIMENTS, 1000, (void **)&e), ROOST_OK);
    snprintf(e->name, sizeof e->name, "%s", name);
    snprintf(e->flag, sizeof e->flag, "%s", flag);
    e->phase = phase;
    e->revision = 1;
    sdk_experiment_prepare(e);
}

static inline void unit_clear_resources(struct sdk_res_list *res)
{
    for (int k = 0; k < SDK_RES_KINDS; k++)
        sdk_res_list_clear(&res[k]);
}

static inline void unit_tmpdir(char *out, size_t cap, const char *name)
{
    const char *base = getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp";

    snprintf(out, cap, "%s/%s-XXXXXX", base, name);
    assert_non_null(mkdtemp(out));
}

#endif
