/* What the flag compiler accepts and refuses, and what it says.
 *
 * Errors must name the flag, the JSON path and what was expected, because
 * the person reading them is editing a flag file under time pressure. The
 * top level is not the compiler's to police (roostd adds its own
 * resources there), but everything inside a flag is checked strictly.
 */
#include "engine_test_util.h"

#define FLAG(body) "{\"flags\":{\"beta\":" body "}}"
#define BOOLS "\"variants\":{\"on\":true,\"off\":false}"

static void expect_error(const char *doc, const char *want, const char *file, int line)
{
    const char *got = compile_error(doc);
    if (!star_match(want, got))
        _fail_msg(file, line, "document %s: error [%s], expected [%s]", doc, got, want);
}
#define EXPECT_ERROR(doc, want) expect_error((doc), (want), __FILE__, __LINE__)

static void apply_rejects_mixed_variant_types(void **state)
{
    (void)state;
    EXPECT_ERROR(FLAG("{\"state\":\"ENABLED\",\"variants\":{\"on\":true,\"off\":\"no\"}}"),
                 "flags.beta.variants: mixed types: 'on' is a boolean but 'off' is a string; all "
                 "variants of a flag must have one type");
    EXPECT_ERROR(FLAG("{\"state\":\"ENABLED\",\"variants\":{\"a\":1,\"b\":{}}}"),
                 "flags.beta.variants: mixed types: 'a' is a number but 'b' is an object*");
    EXPECT_ERROR(FLAG("{\"state\":\"ENABLED\",\"variants\":{\"a\":null}}"),
                 "flags.beta.variants.a: a variant value must be a boolean, string, number or "
                 "object, got null");
    EXPECT_ERROR(FLAG("{\"state\":\"ENABLED\",\"variants\":{\"a\":\"x\",\"b\":[1]}}"),
                 "flags.beta.variants.b: a variant value must be*, got an array");
}

static void apply_rejects_a_default_variant_that_is_not_a_variant(void **state)
{
    (void)state;
    EXPECT_ERROR(FLAG("{\"state\":\"ENABLED\"," BOOLS ",\"defaultVariant\":\"maybe\"}"),
                 "flags.beta.defaultVariant: \"maybe\" is not one of the variants (on, off); use "
                 "null for no default");
    EXPECT_ERROR(FLAG("{\"state\":\"ENABLED\"," BOOLS ",\"defaultVariant\":1}"),
                 "flags.beta.defaultVariant: expected a variant name or null, got a number");
    EXPECT_ERROR(FLAG("{\"state\":\"ENABLED\"," BOOLS ",\"defaultVariant\":null}"), "");
}

static void apply_rejects_bad_flag_keys(void **state)
{
    (void)state;
    EXPECT_ERROR("{\"flags\":{\"has space\":{\"state\":\"ENABLED\"," BOOLS "}}}",
                 "flags[\"has space\"]: a flag key must be 1-128 characters of A-Z a-z 0-9 . _ -");
    EXPECT_ERROR("{\"flags\":{\"\":{\"state\":\"ENABLED\"," BOOLS "}}}", "flags[\"\"]: a flag key*");
    char doc[512];
    snprintf(doc, sizeof doc, "{\"flags\":{\"%0129d\":{\"state\":\"ENABLED\"," BOOLS "}}}", 0);
    EXPECT_ERROR(doc, "flags[\"000*\"]: a flag key must be 1-128 characters*");
    snprintf(doc, sizeof doc, "{\"flags\":{\"%0128d\":{\"state\":\"ENABLED\"," BOOLS "}}}", 0);
    EXPECT_ERROR(doc, "");
    EXPECT_ERROR("{\"flags\":[{\"key\":\"a\",\"state\":\"ENABLED\"," BOOLS "},"
                 "{\"key\":\"a\",\"state\":\"ENABLED\"," BOOLS "}]}",
                 "flags.a: the flag key appears twice");
    EXPECT_ERROR("{\"flags\":[{\"state\":\"ENABLED\"," BOOLS "}]}",
                 "flags[0]: a flag in a flags array needs a string \"key\"");
}

static void apply_rejects_unknown_and_missing_fields(void **state)
{
    (void)state;
    EXPECT_ERROR(FLAG("{\"state\":\"ENABLED\"," BOOLS ",\"defaultvariant\":\"on\"}"),
                 "flags.beta: unknown field \"defaultvariant\" (a flag has state, variants, "
                 "defaultVariant, targeting and metadata)");
    EXPECT_ERROR(FLAG("{" BOOLS "}"),
                 "flags.beta: missing \"state\" (\"ENABLED\" or \"DISABLED\")");
    EXPECT_ERROR(FLAG("{\"state\":\"on\"," BOOLS "}"),
                 "flags.beta.state: expected \"ENABLED\" or \"DISABLED\"");
    EXPECT_ERROR(FLAG("{\"state\":\"ENABLED\"}"), "flags.beta: missing \"variants\"");
    EXPECT_ERROR(FLAG("{\"state\":\"ENABLED\",\"variants\":{}}"),
                 "flags.beta.variants: expected an object with at least one variant, got an empty "
                 "object");
    EXPECT_ERROR(FLAG("[]"), "flags.beta: expected a flag definition (an object), got an array");
}

static void apply_checks_metadata_types(void **state)
{
    (void)state;
    EXPECT_ERROR(FLAG("{\"state\":\"ENABLED\"," BOOLS ",\"metadata\":{\"team\":[\"a\"]}}"),
                 "flags.beta.metadata.team: metadata values must be strings, numbers or booleans, "
                 "got an array");
    EXPECT_ERROR("{\"metadata\":{\"x\":null},\"flags\":{}}",
                 "metadata.x: metadata values must be strings, numbers or booleans, got null");
}

static void apply_ignores_unknown_top_level_keys_but_checks_flagd_ones(void **state)
{
    (void)state;
    EXPECT_ERROR("{\"rollouts\":{\"r\":1},\"$schema\":\"https://flagd.dev/schema/v0/flags.json\","
                 "\"flags\":{}}",
                 "");
    EXPECT_ERROR("{\"rollouts\":[]}", "");
    EXPECT_ERROR("[]", "the flag document must be a JSON object with \"flags\", got an array");
    EXPECT_ERROR("{\"flags\":\"x\"}", "flags: expected an object of flags keyed by flag key (or "
                                      "an array of flags with \"key\"), got a string");
    EXPECT_ERROR("{\"$evaluators\":[],\"flags\":{}}",
                 "$evaluators: expected an object of named JsonLogic rules, got an array");
}

static void apply_rejects_evaluators_that_refer_to_evaluators(void **state)
{
    (void)state;
    EXPECT_ERROR("{\"$evaluators\":{\"a\":{\"!\":[{\"$ref\":\"b\"}]},\"b\":true},\"flags\":{}}",
                 "$evaluators.a: an evaluator cannot use $ref (found a $ref to \"b\"); inline the "
                 "other evaluator");
}

static void apply_rejects_targeting_that_is_not_a_rule(void **state)
{
    (void)state;
    EXPECT_ERROR(FLAG("{\"state\":\"ENABLED\"," BOOLS ",\"targeting\":\"on\"}"),
                 "flags.beta.targeting: expected a JsonLogic rule (an object) or null");
    EXPECT_ERROR(FLAG("{\"state\":\"ENABLED\"," BOOLS ",\"targeting\":{}}"), "");
}

static void apply_rejects_invalid_utf8(void **state)
{
    (void)state;
    EXPECT_ERROR(FLAG("{\"state\":\"ENABLED\",\"variants\":{\"a\":\"\xc3\x28\"}}"),
                 "flags.beta.variants.a: invalid UTF-8 in a string");
    EXPECT_ERROR(FLAG("{\"state\":\"ENABLED\"," BOOLS ",\"targeting\":{\"==\":[\"\xed\xa0\x80\",1]}}"),
                 "flags.beta.targeting: invalid UTF-8 in a string");
}

static void apply_names_the_limit_a_rule_exceeds(void **state)
{
    (void)state;
    /* Depth: ROOST_MAX_DEPTH. */
    char doc[1024] = FLAG("{\"state\":\"ENABLED\"," BOOLS ",\"targeting\":");
    doc[strlen(doc) - 2] = '\0';
    for (int i = 0; i < 20; i++)
        strcat(doc, "{\"!\":[");
    strcat(doc, "true");
    for (int i = 0; i < 20; i++)
        strcat(doc, "]}");
    strcat(doc, "}}}");
    EXPECT_ERROR(doc, "flags.beta.targeting: the targeting rule nests deeper than 32 levels "
                      "(ROOST_MAX_DEPTH); flatten it or move parts into $evaluators");
}

static void flags_flagd_only_rejects_at_evaluation_compile_with_a_warning(void **state)
{
    (void)state;
    roost_error err;
    roost_compiled_set *set =
        compile_text("{\"$evaluators\":{\"ok\":true},\"flags\":{"
                     "\"a\":{\"state\":\"ENABLED\"," BOOLS ",\"targeting\":{\"if\":[{\"$ref\":\"nope\"},\"on\"]}},"
                     "\"b\":{\"state\":\"ENABLED\"," BOOLS ",\"targeting\":{\"/\":[{\"var\":\"x\"},0]}},"
                     "\"c\":{\"state\":\"ENABLED\"," BOOLS ",\"targeting\":{\"if\":[{\"$ref\":\"ok\"},\"on\"]}}}}",
                     &err);
    assert_non_null(set);
    assert_int_equal(roost_compiled_set_warning_count(set), 2);
    assert_string_equal(roost_compiled_set_warning(set, 0),
                        "flags.a.targeting.if[0]: $ref to unknown evaluator \"nope\"; flagd "
                        "evaluates this flag to PARSE_ERROR");
    assert_string_equal(roost_compiled_set_warning(set, 1),
                        "flags.b.targeting./[1]: division by a constant zero; flagd evaluates this "
                        "flag to PARSE_ERROR");
    /* The normalized definition inlines known $refs. */
    assert_string_equal(roost_compiled_set_find(set, "c")->source_json,
                        "{\"state\":\"ENABLED\",\"variants\":{\"on\":true,\"off\":false},"
                        "\"targeting\":{\"if\":[true,\"on\"]}}");
    roost_compiled_set_free(set);
}

static void compiled_flags_expose_a_summary_for_listings(void **state)
{
    (void)state;
    roost_error err;
    roost_compiled_set *set = compile_text(
        "{\"metadata\":{\"team\":\"core\",\"v\":1},\"flags\":{\"s\":{\"state\":\"DISABLED\","
        "\"variants\":{\"x\":\"1\",\"y\":\"2\"},\"defaultVariant\":\"y\",\"metadata\":{\"v\":2}}}}",
        &err);
    assert_non_null(set);
    const roost_compiled_flag *f = roost_compiled_set_flag(set, 0);
    assert_string_equal(f->key, "s");
    assert_false(f->enabled);
    assert_false(f->has_targeting);
    assert_int_equal(f->type, ROOST_VALUE_STRING);
    assert_int_equal(f->n_variants, 2);
    assert_string_equal(f->variant_names[1], "y");
    assert_string_equal(f->default_variant, "y");
    /* Metadata merged, the flag's own winning, sorted by key. */
    assert_string_equal(f->source_json,
                        "{\"state\":\"DISABLED\",\"variants\":{\"x\":\"1\",\"y\":\"2\"},"
                        "\"defaultVariant\":\"y\",\"metadata\":{\"team\":\"core\",\"v\":2}}");
    assert_null(roost_compiled_set_find(set, "nope"));
    roost_compiled_set_free(set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(apply_rejects_mixed_variant_types),
        cmocka_unit_test(apply_rejects_a_default_variant_that_is_not_a_variant),
        cmocka_unit_test(apply_rejects_bad_flag_keys),
        cmocka_unit_test(apply_rejects_unknown_and_missing_fields),
        cmocka_unit_test(apply_checks_metadata_types),
        cmocka_unit_test(apply_ignores_unknown_top_level_keys_but_checks_flagd_ones),
        cmocka_unit_test(apply_rejects_evaluators_that_refer_to_evaluators),
        cmocka_unit_test(apply_rejects_targeting_that_is_not_a_rule),
        cmocka_unit_test(apply_rejects_invalid_utf8),
        cmocka_unit_test(apply_names_the_limit_a_rule_exceeds),
        cmocka_unit_test(flags_flagd_only_rejects_at_evaluation_compile_with_a_warning),
        cmocka_unit_test(compiled_flags_expose_a_summary_for_listings),
    };
    return roost_run_tests("flag compiler", tests);
}
