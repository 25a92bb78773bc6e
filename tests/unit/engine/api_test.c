/* The engine's public API as an SDK uses it: loading images from untrusted
 * bytes, resolving flags with flagd's reasons and error codes, metadata,
 * flag sets and contexts. */
#include "engine_test_util.h"

#define DOC                                                                                        \
    "{\"metadata\":{\"team\":\"core\",\"rev\":3},\"flags\":{"                                     \
    "\"b\":{\"state\":\"ENABLED\",\"variants\":{\"on\":true,\"off\":false},\"defaultVariant\":\"on\","  \
    "\"metadata\":{\"rev\":4,\"beta\":true}},"                                                     \
    "\"s\":{\"state\":\"ENABLED\",\"variants\":{\"hi\":\"hello\",\"bye\":\"ciao\"},\"defaultVariant\":\"hi\","  \
    "\"targeting\":{\"if\":[{\"==\":[{\"var\":\"tier\"},\"gold\"]},\"bye\",{\"var\":\"pick\"}]}},"      \
    "\"n\":{\"state\":\"ENABLED\",\"variants\":{\"x\":2.7,\"y\":-1e300},\"defaultVariant\":\"x\","    \
    "\"targeting\":{\"if\":[{\"var\":\"huge\"},\"y\"]}},"                                          \
    "\"o\":{\"state\":\"ENABLED\",\"variants\":{\"a\":{\"k\":[1,\"2\"]}},\"defaultVariant\":\"a\"},"    \
    "\"d\":{\"state\":\"DISABLED\",\"variants\":{\"on\":true},\"defaultVariant\":\"on\"},"           \
    "\"nodefault\":{\"state\":\"ENABLED\",\"variants\":{\"on\":true}},"                             \
    "\"parse\":{\"state\":\"ENABLED\",\"variants\":{\"on\":true},\"targeting\":{\"nope\":[]}},"       \
    "\"boom\":{\"state\":\"ENABLED\",\"variants\":{\"on\":true},\"targeting\":{\"/\":[1,{\"var\":\"z\"}]}}," \
    "\"frac\":{\"state\":\"ENABLED\",\"variants\":{\"a\":\"a\",\"b\":\"b\"},\"targeting\":{\"fractional\":["      \
    "{\"cat\":[{\"var\":\"$flagd.flagKey\"},{\"var\":\"tier\"}]},[\"a\",1],[\"b\",1]]}}"                 \
    "}}"

static loaded_doc doc;

static int setup(void **state)
{
    (void)state;
    return load_doc(&doc, DOC) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    free_doc(&doc);
    return 0;
}

static void eval_resolves_static_targeted_and_default_values(void **state)
{
    (void)state;
    roost_result r;
    roost_ctx_attr attrs[4];
    roost_ctx ctx;
    roost_ctx_init(&ctx, attrs, 4);

    assert_true(roost_eval_bool(find_flag(&doc, "b"), NULL, false, &r));
    assert_int_equal(r.reason, ROOST_REASON_STATIC);
    assert_int_equal(r.error, ROOST_EVAL_OK);
    assert_string_equal(r.variant, "on");
    assert_null(r.message);

    assert_string_equal(roost_eval_string(find_flag(&doc, "s"), &ctx, "dflt", &r), "hello");
    assert_int_equal(r.reason, ROOST_REASON_DEFAULT); /* {"var":"pick"} is null */
    assert_string_equal(r.variant, "hi");

    roost_ctx_set_string(&ctx, "tier", "gold");
    assert_string_equal(roost_eval_string(find_flag(&doc, "s"), &ctx, "dflt", &r), "ciao");
    assert_int_equal(r.reason, ROOST_REASON_TARGETING_MATCH);
    assert_int_equal(r.value.string.len, 4);

    roost_ctx_set_string(&ctx, "tier", "silver");
    roost_ctx_set_string(&ctx, "pick", "nope");
    assert_string_equal(roost_eval_string(find_flag(&doc, "s"), &ctx, "dflt", &r), "dflt");
    assert_int_equal(r.reason, ROOST_REASON_ERROR);
    assert_int_equal(r.error, ROOST_EVAL_GENERAL);
    assert_null(r.variant);
    assert_non_null(r.message);

    assert_string_equal(roost_eval_object(find_flag(&doc, "o"), NULL, "{}", &r), "{\"k\":[1,\"2\"]}");
    assert_int_equal(r.type, ROOST_VALUE_OBJECT);
}

static void eval_reads_numbers_as_float_or_truncated_integer(void **state)
{
    (void)state;
    roost_result r;
    roost_ctx_attr attrs[2];
    roost_ctx ctx;
    roost_ctx_init(&ctx, attrs, 2);
    assert_true(roost_eval_float(find_flag(&doc, "n"), NULL, 0, &r) == 2.7);
    assert_int_equal(roost_eval_int(find_flag(&doc, "n"), NULL, 0, &r), 2);
    roost_ctx_set_bool(&ctx, "huge", true);
    assert_int_equal(roost_eval_int(find_flag(&doc, "n"), &ctx, 5, &r), 5);
    assert_int_equal(r.error, ROOST_EVAL_TYPE_MISMATCH);
    assert_true(roost_eval_float(find_flag(&doc, "n"), &ctx, 0, &r) == -1e300);
}

static void eval_gives_the_callers_default_with_flagd_error_codes(void **state)
{
    (void)state;
    roost_result r;
    assert_false(roost_eval_bool(NULL, NULL, false, &r));
    assert_int_equal(r.reason, ROOST_REASON_ERROR);
    assert_int_equal(r.error, ROOST_EVAL_FLAG_NOT_FOUND);
    assert_null(r.flag);
    assert_string_equal(roost_eval_error_name(r.error), "FLAG_NOT_FOUND");

    assert_int_equal(roost_eval_int(find_flag(&doc, "b"), NULL, 13, &r), 13);
    assert_int_equal(r.error, ROOST_EVAL_TYPE_MISMATCH);

    /* Disabled wins over a type mismatch, as in flagd. */
    assert_string_equal(roost_eval_string(find_flag(&doc, "d"), NULL, "x", &r), "x");
    assert_int_equal(r.reason, ROOST_REASON_DISABLED);
    assert_int_equal(r.error, ROOST_EVAL_OK);

    assert_false(roost_eval_bool(find_flag(&doc, "nodefault"), NULL, false, &r));
    assert_int_equal(r.reason, ROOST_REASON_DEFAULT);
    assert_null(r.variant);

    assert_false(roost_eval_bool(find_flag(&doc, "parse"), NULL, false, &r));
    assert_int_equal(r.error, ROOST_EVAL_PARSE_ERROR);
    assert_string_equal(roost_reason_name(r.reason), "ERROR");

    assert_true(roost_eval_bool(find_flag(&doc, "boom"), NULL, true, &r));
    assert_int_equal(r.error, ROOST_EVAL_GENERAL);
    assert_string_equal(r.message, "division by zero");
    assert_null(roost_eval_error_name(ROOST_EVAL_OK));
    assert_int_equal(roost_eval_bool(find_flag(&doc, "b"), NULL, false, NULL), true);
}

static void metadata_is_merged_sorted_and_typed(void **state)
{
    (void)state;
    const roost_flag *f = find_flag(&doc, "b");
    roost_metadata m;
    assert_int_equal(roost_flag_metadata_count(f), 3);
    assert_true(roost_flag_metadata_get(f, 0, &m));
    assert_string_equal(m.key, "beta");
    assert_int_equal(m.type, ROOST_VALUE_BOOLEAN);
    assert_true(m.boolean);
    assert_true(roost_flag_metadata_get(f, 1, &m));
    assert_string_equal(m.key, "rev");
    assert_true(m.number == 4.0); /* the flag's own wins */
    assert_true(roost_flag_metadata_get(f, 2, &m));
    assert_string_equal(m.string, "core");
    assert_false(roost_flag_metadata_get(f, 3, &m));
    assert_int_equal(roost_flag_variant_count(f), 2);
    assert_string_equal(roost_flag_variant_name(f, 1), "off");
    assert_null(roost_flag_variant_name(f, 2));
    size_t len;
    assert_string_equal(roost_flag_key(f, &len), "b");
    assert_int_equal(len, 1);
    assert_true(roost_flag_enabled(f));
    assert_int_equal(roost_flag_type(f), ROOST_VALUE_BOOLEAN);
}

static const roost_compiled_flag *compiled(const char *key)
{
    return roost_compiled_set_find(doc.set, key);
}

static void flag_load_refuses_truncated_foreign_and_corrupted_images(void **state)
{
    (void)state;
    const roost_compiled_flag *cf = compiled("s");
    uint8_t *img = malloc(cf->image_len);
    roost_flag f;
    roost_error err;

    memcpy(img, cf->image, cf->image_len);
    assert_int_equal(roost_flag_load(&f, img, cf->image_len, &err), ROOST_OK);
    assert_int_equal(roost_flag_load(&f, img, cf->image_len - 1, &err), ROOST_ECORRUPT);
    assert_true(star_match("flag image: image says * bytes but * were given (truncated or padded)",
                           err.msg));
    assert_int_equal(roost_flag_load(&f, img, 10, &err), ROOST_ECORRUPT);
    assert_true(star_match("flag image: not a Roost flag image (10 bytes*", err.msg));
    assert_int_equal(roost_flag_load(NULL, img, cf->image_len, &err), ROOST_EINVAL);

    img[RI_OFF_VERSION] = ROOST_IMAGE_VERSION + 1;
    assert_int_equal(roost_flag_load(&f, img, cf->image_len, &err), ROOST_ECORRUPT);
    assert_string_equal(err.msg, "flag image: format version 3, this engine reads versions 1 to 2; "
                                 "update the SDK");
    img[RI_OFF_VERSION] = ROOST_IMAGE_VERSION;
    img[cf->image_len - 1] ^= 0x40;
    assert_int_equal(roost_flag_load(&f, img, cf->image_len, &err), ROOST_ECORRUPT);
    assert_string_equal(err.msg, "flag image: checksum mismatch (corrupted in transit or storage)");
    free(img);
}

/* Loads a copy of flag `key`'s image with program byte `at` set to `v`
 * (checksum recomputed); returns the load status, message in err. */
static roost_status load_with_code_byte(const char *key, uint32_t at, uint8_t v, roost_error *err)
{
    const roost_compiled_flag *cf = compiled(key);
    uint8_t *img = malloc(cf->image_len);
    roost_flag f;
    memcpy(img, cf->image, cf->image_len);
    img[ri_u32(img + RI_OFF_CODE) + at] = v;
    ri_put32(img + RI_OFF_CHECKSUM, roost_fnv1a(img + 16, cf->image_len - 16, ROOST_FNV_BASIS));
    roost_status st = roost_flag_load(&f, img, cf->image_len, err);
    free(img);
    return st;
}

static void fused_instructions_are_verified_operand_by_operand(void **state)
{
    (void)state;
    roost_error err;
    /* "s": CMPKJF ==, interpreted, the path tier, the constant "gold". */
    const roost_compiled_flag *s = compiled("s");
    const uint8_t *code = s->image + ri_u32(s->image + RI_OFF_CODE);
    assert_int_equal(code[0], OP_CMPKJF);
    assert_int_equal(load_with_code_byte("s", 4, 0xff, &err), ROOST_ECORRUPT);
    assert_string_equal(err.msg, "flag image: program check failed: constant index out of range");
    assert_int_equal(load_with_code_byte("s", 6, 0xff, &err), ROOST_ECORRUPT);
    assert_string_equal(err.msg, "flag image: program check failed: constant index out of range");
    assert_int_equal(load_with_code_byte("s", 2, CMP_MODE__COUNT, &err), ROOST_ECORRUPT);
    assert_string_equal(err.msg, "flag image: program check failed: unknown comparison or mode");
    assert_int_equal(load_with_code_byte("s", 8, 0xff, &err), ROOST_ECORRUPT);
    assert_string_equal(err.msg, "flag image: program check failed: jump past the end of the program");

    /* "frac": VAR tier, CONST table, FRAC 2 [keyed, table], RET. */
    const roost_compiled_flag *fr = compiled("frac");
    code = fr->image + ri_u32(fr->image + RI_OFF_CODE);
    assert_int_equal(code[6], OP_FRAC);
    assert_int_equal(code[8], RI_FRAC_KEYED);
    assert_int_equal(load_with_code_byte("frac", 9, RI_FRAC_KEYED, &err), ROOST_ECORRUPT);
    assert_string_equal(err.msg, "flag image: program check failed: bad fractional operand shape");
    assert_int_equal(load_with_code_byte("frac", 8, 4, &err), ROOST_ECORRUPT);
    assert_string_equal(err.msg, "flag image: program check failed: bad fractional operand shape");
}

/* A copy of flag `key`'s image labelled format `version` (the version is
 * outside the checksum), loaded into *f; the caller frees the copy after
 * the last use of *f. */
static uint8_t *load_as_version(const char *key, unsigned version, roost_flag *f, roost_status *rc,
                                roost_error *err)
{
    const roost_compiled_flag *cf = compiled(key);
    uint8_t *img = malloc(cf->image_len);

    assert_non_null(img);
    memcpy(img, cf->image, cf->image_len);
    img[RI_OFF_VERSION] = (uint8_t)version;
    img[RI_OFF_VERSION + 1] = 0;
    *rc = roost_flag_load(f, img, cf->image_len, err);
    return img;
}

/* An SDK newer than roostd: format 1 images load and evaluate as before
 * when they use only format 1's instructions; a format 2 instruction in an
 * image that says format 1 is refused by name, and so is format 0. */
static void older_format_images_load_when_they_use_only_their_format(void **state)
{
    roost_ctx_attr attrs[2];
    roost_ctx ctx;
    roost_result r;
    roost_flag f;
    roost_status rc;
    roost_error err;
    uint8_t *img, *copy;

    (void)state;
    roost_ctx_init(&ctx, attrs, 2);
    roost_ctx_set_number(&ctx, "z", 4);
    for (int k = 0; k < 3; k++) {
        static const char *const keys[] = {"boom", "n", "o"};
        roost_flag now;
        roost_result r2;
        double v1, v2;

        img = load_as_version(keys[k], 1, &f, &rc, &err);
        assert_int_equal(rc, ROOST_OK);
        copy = load_as_version(keys[k], ROOST_IMAGE_VERSION, &now, &rc, &err);
        assert_int_equal(rc, ROOST_OK);
        v1 = roost_eval_float(&f, &ctx, -1, &r);
        v2 = roost_eval_float(&now, &ctx, -1, &r2);
        assert_true(v1 == v2);
        assert_int_equal(r.reason, r2.reason);
        assert_int_equal(r.error, r2.error);
        free(copy);
        free(img);
    }

    img = load_as_version("s", 1, &f, &rc, &err);
    assert_int_equal(rc, ROOST_ECORRUPT);
    assert_string_equal(err.msg, "flag image: program check failed: CMPKJF in a format 1 image (it is "
                                 "format 2)");
    free(img);
    img = load_as_version("frac", 1, &f, &rc, &err);
    assert_int_equal(rc, ROOST_ECORRUPT);
    assert_string_equal(err.msg, "flag image: program check failed: keyed fractional operand in a "
                                 "format 1 image (it is format 2)");
    free(img);
    img = load_as_version("boom", 0, &f, &rc, &err);
    assert_int_equal(rc, ROOST_ECORRUPT);
    assert_string_equal(err.msg, "flag image: format version 0, this engine reads versions 1 to 2; "
                                 "recompile it with a newer roostd");
    free(img);
}

/* Every byte changed, with the checksum recomputed so the structural
 * checks are what stands between the bytes and the interpreter: each image
 * is refused or evaluates without fault (ASan/UBSan builds check that). */
static void single_byte_corruption_is_refused_or_harmless(void **state)
{
    (void)state;
    static const char *keys[] = {"s", "n", "boom", "b", "frac"};
    static const uint8_t deltas[] = {0x01, 0x80, 0xff, 0x10};
    roost_ctx_attr attrs[4];
    roost_ctx ctx;
    roost_ctx_init(&ctx, attrs, 4);
    roost_ctx_set_string(&ctx, "tier", "gold");
    roost_ctx_set_number(&ctx, "z", 2);
    size_t accepted = 0, refused = 0;
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        const roost_compiled_flag *cf = compiled(keys[k]);
        uint8_t *img = malloc(cf->image_len);
        for (size_t i = 16; i < cf->image_len; i++) {
            for (size_t d = 0; d < sizeof deltas; d++) {
                roost_flag f;
                roost_result r;
                memcpy(img, cf->image, cf->image_len);
                img[i] ^= deltas[d];
                ri_put32(img + RI_OFF_CHECKSUM, roost_fnv1a(img + 16, cf->image_len - 16, ROOST_FNV_BASIS));
                if (roost_flag_load(&f, img, cf->image_len, NULL) != ROOST_OK) {
                    refused++;
                    continue;
                }
                accepted++;
                roost_eval_string(&f, &ctx, "x", &r);
                roost_eval_bool(&f, NULL, true, &r);
                roost_eval_float(&f, &ctx, 0, &r);
            }
        }
        free(img);
    }
    assert_true(refused > 0);
    print_message("corrupted images: %zu refused, %zu accepted and evaluated\n", refused, accepted);
}

static void flagset_finds_by_key_and_refuses_duplicates(void **state)
{
    (void)state;
    for (size_t i = 0; i < doc.ls.count; i++) {
        size_t len;
        const char *key = roost_flag_key(&doc.ls.flags[i], &len);
        assert_ptr_equal(roost_flagset_find(&doc.ls.index, key, len), &doc.ls.flags[i]);
    }
    assert_null(roost_flagset_find(&doc.ls.index, "missing", 7));
    assert_null(roost_flagset_find(&doc.ls.index, "b", 0));

    roost_flag twice[2] = {doc.ls.flags[0], doc.ls.flags[0]};
    uint32_t slots[ROOST_FLAGSET_SLOTS(2)];
    roost_flagset set;
    roost_error err;
    assert_int_equal(roost_flagset_init(&set, twice, 2, slots, ROOST_FLAGSET_SLOTS(2), &err),
                     ROOST_ECONFLICT);
    assert_string_equal(err.msg, "two flags have the key 'b' (entries 0 and 1)");
    assert_int_equal(roost_flagset_init(&set, twice, 2, slots, 2, &err), ROOST_EINVAL);
    assert_int_equal(roost_flagset_init(&set, twice, 1, slots, 2, &err), ROOST_OK);
}

static void context_attributes_replace_and_respect_capacity(void **state)
{
    (void)state;
    roost_ctx_attr attrs[2];
    roost_ctx ctx;
    roost_ctx_init(&ctx, attrs, 2);
    assert_int_equal(roost_ctx_set_string(&ctx, "a", "1"), ROOST_OK);
    assert_int_equal(roost_ctx_set_number(&ctx, "a", 2), ROOST_OK);
    assert_int_equal(ctx.count, 1);
    assert_int_equal(roost_ctx_set_targeting_key(&ctx, "k"), ROOST_OK);
    assert_int_equal(roost_ctx_set_bool(&ctx, "c", true), ROOST_ELIMIT);
    assert_int_equal(roost_ctx_set_string(&ctx, NULL, "x"), ROOST_EINVAL);
    assert_int_equal(roost_ctx_set_string(&ctx, "a", NULL), ROOST_EINVAL);
    roost_ctx_reset(&ctx);
    assert_int_equal(ctx.count, 0);
}

static void json_contexts_flatten_to_escaped_paths(void **state)
{
    (void)state;
    EXPECT("{\"var\":\"u.a\\\\.b\"}", "{\"u\":{\"a.b\":\"nested-dotted\"}}", "s:nested-dotted");
    EXPECT("{\"var\":\"x\"}", "{\"x\":null}", "null");
    EXPECT("{\"var\":\"x\"}", "{\"x\":[1]}", "CTX: context.x: arrays are not supported as context values");
    EXPECT("{\"var\":\"x\"}", "[1]", "CTX: the evaluation context must be a JSON object");
    EXPECT("{\"var\":\"x\"}", "{\"x\":", "CTX: ctx: invalid JSON: unexpected end of input at line 1, column 6");
    EXPECT("{\"var\":\"x\"}", "{\"x\" 1}", "CTX: ctx: invalid JSON at line 1, column 6 near '1}'");
}

/* Rules that are one string comparison choosing between two variants are
 * resolved without the interpreter when the context holds a string there
 * (roost_flag.shape). Every such flag must resolve exactly as its program
 * does, for strings and for every other kind of context value. */
#define SHAPE_VARIANTS "\"variants\":{\"yes\":\"Y\",\"no\":\"N\"},\"defaultVariant\":\"no\""
#define SHAPE_FLAG(key, rule) "\"" key "\":{\"state\":\"ENABLED\"," SHAPE_VARIANTS ",\"targeting\":" rule "}"
#define LONG_TEXT "a-string-over-thirty-two-bytes-long-x"

static void one_string_comparison_resolves_as_its_program_does(void **state)
{
    (void)state;
    static const char *const shaped[] = {"eq", "eq_var_first", "seq", "ne", "sne", "nested", "ref",
                                         "empty", "long"};
    static const char *const contexts[] = {
        "{}", "{\"email\":\"ballmer@macrosoft.com\"}", "{\"email\":\"ballmer@macrosoft.coM\"}",
        "{\"email\":\"ballmer@macrosoft.co\"}", "{\"email\":\"\"}", "{\"email\":\"x\"}",
        "{\"email\":0}", "{\"email\":1}", "{\"email\":true}", "{\"email\":false}",
        "{\"email\":null}", "{\"email\":{\"a\":\"b\"}}", "{\"user\":{\"name\":\"jack\"}}",
        "{\"user\":\"jack\"}", "{\"user\":{\"name\":0}}", "{\"email\":\"" LONG_TEXT "\"}",
        "{\"email\":\"" LONG_TEXT "y\"}", "{\"email\":\"b\",\"user\":{\"name\":\"jack\"}}",
    };
    loaded_doc d;
    assert_true(load_doc(&d, "{\"$evaluators\":{\"is_b\":{\"==\":[\"b\",{\"var\":[\"email\"]}]}},"
        "\"flags\":{"
        SHAPE_FLAG("eq", "{\"if\":[{\"==\":[\"ballmer@macrosoft.com\",{\"var\":\"email\"}]},\"yes\",\"no\"]}") ","
        SHAPE_FLAG("eq_var_first", "{\"if\":[{\"==\":[{\"var\":\"email\"},\"ballmer@macrosoft.com\"]},\"yes\",\"no\"]}") ","
        SHAPE_FLAG("seq", "{\"if\":[{\"===\":[{\"var\":\"email\"},\"x\"]},\"yes\",\"no\"]}") ","
        SHAPE_FLAG("ne", "{\"if\":[{\"!=\":[\"x\",{\"var\":\"email\"}]},\"yes\",\"no\"]}") ","
        SHAPE_FLAG("sne", "{\"if\":[{\"!==\":[{\"var\":\"email\"},\"\"]},\"no\",\"yes\"]}") ","
        SHAPE_FLAG("nested", "{\"if\":[{\"==\":[{\"var\":\"user.name\"},\"jack\"]},\"no\",\"yes\"]}") ","
        SHAPE_FLAG("ref", "{\"if\":[{\"$ref\":\"is_b\"},\"yes\",\"no\"]}") ","
        SHAPE_FLAG("empty", "{\"if\":[{\"==\":[{\"var\":\"email\"},\"\"]},\"yes\",\"no\"]}") ","
        SHAPE_FLAG("long", "{\"if\":[{\"==\":[{\"var\":\"email\"},\"" LONG_TEXT "\"]},\"yes\",\"no\"]}") ","
        SHAPE_FLAG("flagkey", "{\"if\":[{\"==\":[{\"var\":\"$flagd.flagKey\"},\"flagkey\"]},\"yes\",\"no\"]}") ","
        SHAPE_FLAG("null_branch", "{\"if\":[{\"==\":[{\"var\":\"email\"},\"x\"]},\"yes\",null]}")
        "}}"));
    for (size_t i = 0; i < sizeof shaped / sizeof shaped[0]; i++) {
        if (find_flag(&d, shaped[i])->shape != RI_SHAPE_STR_EQ)
            fail_msg("flag %s is not resolved without the interpreter", shaped[i]);
    }
    assert_int_equal(find_flag(&d, "flagkey")->shape, RI_SHAPE_NONE);
    assert_int_equal(find_flag(&d, "null_branch")->shape, RI_SHAPE_NONE);

    for (size_t c = 0; c < sizeof contexts / sizeof contexts[0]; c++) {
        roost_ctx_attr attrs[8];
        char keys[256];
        roost_ctx ctx;
        roost_error err;
        cJSON *cj = NULL;
        roost_ctx_init(&ctx, attrs, 8);
        assert_int_equal(roost_json_parse(contexts[c], strlen(contexts[c]), "ctx", &cj, &err), ROOST_OK);
        assert_int_equal(roost_ctx_from_json(cj, &ctx, keys, sizeof keys, &err), ROOST_OK);
        for (size_t i = 0; i < d.ls.index.count; i++) {
            const roost_flag *f = &d.ls.index.flags[i];
            roost_flag program = *f;
            program.shape = RI_SHAPE_NONE;
            roost_result fast, slow;
            const char *got = roost_eval_string(f, &ctx, "dflt", &fast);
            const char *want = roost_eval_string(&program, &ctx, "dflt", &slow);
            if (strcmp(got, want) != 0 || fast.reason != slow.reason || fast.error != slow.error ||
                (fast.variant == NULL) != (slow.variant == NULL) ||
                (fast.variant && strcmp(fast.variant, slow.variant) != 0))
                fail_msg("flag %.*s with context %s: got %s (reason %d), the program gives %s "
                         "(reason %d)", (int)f->key_len, f->key, contexts[c], got, fast.reason, want,
                         slow.reason);
        }
        /* And the one the benchmark and the test kit use, by value. */
        if (c == 1) {
            roost_result r;
            assert_string_equal(roost_eval_string(find_flag(&d, "eq"), &ctx, "dflt", &r), "Y");
            assert_int_equal(r.reason, ROOST_REASON_TARGETING_MATCH);
            assert_string_equal(roost_eval_string(find_flag(&d, "ne"), &ctx, "dflt", &r), "Y");
            assert_string_equal(roost_eval_string(find_flag(&d, "sne"), &ctx, "dflt", &r), "N");
        }
        cJSON_Delete(cj);
    }
    free_doc(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(eval_resolves_static_targeted_and_default_values),
        cmocka_unit_test(eval_reads_numbers_as_float_or_truncated_integer),
        cmocka_unit_test(eval_gives_the_callers_default_with_flagd_error_codes),
        cmocka_unit_test(metadata_is_merged_sorted_and_typed),
        cmocka_unit_test(flag_load_refuses_truncated_foreign_and_corrupted_images),
        cmocka_unit_test(single_byte_corruption_is_refused_or_harmless),
        cmocka_unit_test(fused_instructions_are_verified_operand_by_operand),
        cmocka_unit_test(older_format_images_load_when_they_use_only_their_format),
        cmocka_unit_test(flagset_finds_by_key_and_refuses_duplicates),
        cmocka_unit_test(context_attributes_replace_and_respect_capacity),
        cmocka_unit_test(json_contexts_flatten_to_escaped_paths),
        cmocka_unit_test(one_string_comparison_resolves_as_its_program_does),
    };
    return roost_run_tests_setup("engine API", tests, setup, teardown);
}
