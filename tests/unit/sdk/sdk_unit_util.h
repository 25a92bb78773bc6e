/* Helpers for the C SDK's unit tests: real flag images made by the flag
 * compiler (so the SDK is tested on what roostd sends, not on hand-made
 * bytes), and a temporary directory. */
#ifndef ROOST_TESTS_SDK_UNIT_UTIL_H
#define ROOST_TESTS_SDK_UNIT_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
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

static inline void unit_tmpdir(char *out, size_t cap, const char *name)
{
    const char *base = getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp";

    snprintf(out, cap, "%s/%s-XXXXXX", base, name);
    assert_non_null(mkdtemp(out));
}

#endif
