/* The split: the rule experiment_split_rule builds, compiled by roostd's
 * compiler and evaluated by the SDK engine, implements the plan; the check
 * accepts any targeting that behaves right and explains any that does not. */
#include "experiment_test_util.h"
#include "roost/engine.h"
#include "server/compile/compile.h"
#include "server/experiment/split.h"

/* A compiled one-flag document, loaded as an SDK would. */
struct compiled {
    roost_compiled_set *set;
    roost_loaded_set loaded;
    const roost_flag *flag;
};

/* Compiles flag "key" with the variants of `spec`'s arms (or "control" and
 * "treatment"), default variant `dflt` and targeting `rule` (owned by the
 * function; NULL = none). */
static void compile_flag(const char *key, const char *const *variants, size_t n, const char *dflt,
                         cJSON *rule, struct compiled *out)
{
    cJSON *doc = cJSON_CreateObject(), *flags = cJSON_AddObjectToObject(doc, "flags");
    cJSON *f = cJSON_AddObjectToObject(flags, key), *vars;
    roost_error err = {0};

    cJSON_AddStringToObject(f, "state", "ENABLED");
    vars = cJSON_AddObjectToObject(f, "variants");
    for (size_t i = 0; i < n; i++)
        cJSON_AddStringToObject(vars, variants[i], variants[i]);
    cJSON_AddStringToObject(f, "defaultVariant", dflt);
    if (rule)
        cJSON_AddItemToObject(f, "targeting", rule);
    if (roost_compile_flagset(doc, &out->set, &err))
        fail_msg("compile: %s", err.msg);
    cJSON_Delete(doc);
    if (roost_compiled_set_warning_count(out->set))
        fail_msg("compile warning: %s", roost_compiled_set_warning(out->set, 0));
    if (roost_loaded_set_init(&out->loaded, out->set, &err))
        fail_msg("load: %s", err.msg);
    out->flag = &out->loaded.flags[0];
}

static void release(struct compiled *c)
{
    roost_loaded_set_free(&c->loaded);
    roost_compiled_set_free(c->set);
}

static cJSON *rule_of(const struct experiment_spec *s)
{
    cJSON *rule;
    roost_error err = {0};
    if (experiment_split_rule(s, &rule, &err))
        fail_msg("rule: %s", err.msg);
    return rule;
}

static const char checkout_doc[] =
    "{\"hypothesis\": \"h\", \"flag\": \"checkout\", \"control\": \"control\", %s"
    " \"metrics\": {\"primary\": {\"name\": \"c\", \"type\": \"binomial\", \"direction\": "
    "\"increase\", \"mde\": 0.01}}}";

static void checkout_spec(const char *extra, struct experiment_spec *s)
{
    char json[1024];
    snprintf(json, sizeof json, checkout_doc, extra);
    spec_from(json, s);
}

/* ------------------------------------------------------------------ tests */

static void split_rule_implements_the_plan(void **state)
{
    struct experiment_spec s;
    struct experiment_split_report r;
    struct compiled c;
    roost_error err = {0};
    (void)state;

    checkout_spec("\"weights\": {\"control\": 50, \"treatment\": 50},", &s);
    compile_flag("checkout", checkout_variants, 2, "control", rule_of(&s), &c);
    assert_int_equal(experiment_split_check(&s, c.flag, &r, &err), ROOST_OK);
    assert_true(r.matches);
    assert_int_equal(r.units, EXPERIMENT_SPLIT_CHECK_UNITS);
    assert_int_equal(r.in_experiment, r.units);
    assert_int_equal(r.per_arm[0] + r.per_arm[1], r.units);
    assert_true(fabs((double)r.per_arm[0] / r.units - 0.5) < 0.01);
    assert_true(r.p >= EXPERIMENT_SPLIT_CHECK_P);
    release(&c);
}

static void split_rule_with_allocation_leaves_the_rest_on_the_control(void **state)
{
    struct experiment_spec s;
    struct experiment_split_report r;
    struct compiled c;
    roost_error err = {0};
    (void)state;

    spec_from("{\"hypothesis\": \"h\", \"flag\": \"pricing\", \"control\": \"base\","
              " \"allocation\": 20, \"weights\": {\"low\": 30, \"base\": 20, \"high\": 50},"
              " \"metrics\": {\"primary\": {\"name\": \"c\", \"type\": \"binomial\","
              " \"direction\": \"increase\", \"mde\": 0.01}}}",
              &s);
    compile_flag("pricing", pricing_variants, 3, "base", rule_of(&s), &c);
    assert_int_equal(experiment_split_check(&s, c.flag, &r, &err), ROOST_OK);
    assert_true(fabs((double)r.in_experiment / r.units - 0.20) < 0.01);
    assert_int_equal(r.outside_control, r.units - r.in_experiment);
    assert_int_equal(r.outside_other, 0);
    /* arms[] is control first: base 20, low 30, high 50. */
    assert_true(fabs((double)r.per_arm[0] / r.in_experiment - 0.20) < 0.015);
    assert_true(fabs((double)r.per_arm[1] / r.in_experiment - 0.30) < 0.015);
    assert_true(fabs((double)r.per_arm[2] / r.in_experiment - 0.50) < 0.015);
    release(&c);
}

static void check_rejects_a_flag_whose_weights_differ(void **state)
{
    struct experiment_spec plan, other;
    struct experiment_split_report r;
    struct compiled c;
    roost_error err = {0};
    (void)state;

    checkout_spec("\"weights\": {\"control\": 50, \"treatment\": 50},", &plan);
    checkout_spec("\"weights\": {\"control\": 49, \"treatment\": 51},", &other);
    compile_flag("checkout", checkout_variants, 2, "control", rule_of(&other), &c);
    assert_status_says(experiment_split_check(&plan, c.flag, &r, &err), &err, ROOST_ECONFLICT,
                       "experiments.exp: flag 'checkout' does not split units as planned");
    assert_non_null(strstr(err.msg, "(planned 50 %)"));
    print_message("  %s\n", err.msg);
    assert_false(r.matches); /* the report is filled on a mismatch too */
    assert_true(r.p < EXPERIMENT_SPLIT_CHECK_P);
    release(&c);
}

static void check_rejects_a_flag_without_the_allocation(void **state)
{
    struct experiment_spec plan, all;
    struct experiment_split_report r;
    struct compiled c;
    roost_error err = {0};
    (void)state;

    checkout_spec("\"allocation\": 10,", &plan);
    checkout_spec("", &all);
    compile_flag("checkout", checkout_variants, 2, "control", rule_of(&all), &c);
    assert_status_says(experiment_split_check(&plan, c.flag, &r, &err), &err, ROOST_ECONFLICT,
                       "100.00 % of units in the experiment (planned 10 %)");
    release(&c);
}

static void check_rejects_a_treatment_as_the_default_variant(void **state)
{
    struct experiment_spec s;
    struct experiment_split_report r;
    struct compiled c;
    roost_error err = {0};
    (void)state;

    checkout_spec("\"allocation\": 50,", &s);
    compile_flag("checkout", checkout_variants, 2, "treatment", rule_of(&s), &c);
    assert_status_says(experiment_split_check(&s, c.flag, &r, &err), &err, ROOST_ECONFLICT,
                       "a variant other than the control 'control'; make 'control' the flag's "
                       "defaultVariant");
    print_message("  %s\n", err.msg);
    release(&c);
}

static void check_rejects_a_flag_without_targeting(void **state)
{
    struct experiment_spec s;
    struct experiment_split_report r;
    struct compiled c;
    roost_error err = {0};
    (void)state;

    checkout_spec("", &s);
    compile_flag("checkout", checkout_variants, 2, "control", NULL, &c);
    assert_status_says(experiment_split_check(&s, c.flag, &r, &err), &err, ROOST_ECONFLICT,
                       "0.00 % of units in the experiment (planned 100 %)");
    assert_int_equal(r.outside_control, r.units);
    release(&c);
}

static void check_accepts_flagds_default_fractional(void **state)
{
    struct experiment_spec s;
    struct experiment_split_report r;
    struct compiled c;
    roost_error err = {0};
    (void)state;

    /* No bucketing key: flagd hashes flag key + targeting key. It behaves
     * right, so it passes, though it is not the rule Roost would build. */
    checkout_spec("", &s);
    compile_flag("checkout", checkout_variants, 2, "control",
                 cJSON_Parse("{\"fractional\": [[\"control\", 50], [\"treatment\", 50]]}"), &c);
    assert_int_equal(experiment_split_check(&s, c.flag, &r, &err), ROOST_OK);
    release(&c);
}

static void check_refuses_another_flag(void **state)
{
    struct experiment_spec s;
    struct experiment_split_report r;
    struct compiled c;
    roost_error err = {0};
    (void)state;

    checkout_spec("", &s);
    compile_flag("pricing", pricing_variants, 3, "base", NULL, &c);
    assert_status_says(experiment_split_check(&s, c.flag, &r, &err), &err, ROOST_EINVAL,
                       "checked against flag 'pricing', but its flag is 'checkout'");
    release(&c);
}

static const char *variant_for(const roost_flag *f, const char *attr, const char *unit,
                               roost_reason *reason)
{
    roost_ctx_attr a[2];
    roost_ctx ctx;
    roost_result res;
    const char *v;

    roost_ctx_init(&ctx, a, 2);
    if (attr)
        roost_ctx_set_string(&ctx, attr, unit);
    v = roost_eval_string(f, &ctx, "", &res);
    *reason = res.reason;
    return v;
}

static void raising_the_allocation_keeps_units_in_their_arms(void **state)
{
    struct experiment_spec small, large;
    struct compiled a, b;
    uint32_t in_small = 0;
    (void)state;

    checkout_spec("\"allocation\": 10,", &small);
    checkout_spec("\"allocation\": 50,", &large);
    compile_flag("checkout", checkout_variants, 2, "control", rule_of(&small), &a);
    compile_flag("checkout", checkout_variants, 2, "control", rule_of(&large), &b);
    for (int i = 0; i < 20000; i++) {
        char unit[32];
        roost_reason ra, rb;
        snprintf(unit, sizeof unit, "user-%d", i);
        const char *va = variant_for(a.flag, "targetingKey", unit, &ra);
        const char *vb = variant_for(b.flag, "targetingKey", unit, &rb);
        if (ra == ROOST_REASON_TARGETING_MATCH) {
            in_small++;
            assert_int_equal(rb, ROOST_REASON_TARGETING_MATCH);
            assert_string_equal(va, vb);
        } else {
            assert_int_equal(ra, ROOST_REASON_DEFAULT);
            assert_string_equal(va, "control");
        }
    }
    assert_true(in_small > 1800 && in_small < 2200);
    release(&a);
    release(&b);
}

static void units_without_the_unit_attribute_stay_outside(void **state)
{
    struct experiment_spec s;
    struct experiment_split_report r;
    struct compiled c;
    roost_error err = {0};
    roost_reason reason;
    (void)state;

    checkout_spec("\"unit\": \"user.id\",", &s);
    compile_flag("checkout", checkout_variants, 2, "control", rule_of(&s), &c);
    /* The check sets the unit attribute itself. */
    assert_int_equal(experiment_split_check(&s, c.flag, &r, &err), ROOST_OK);
    /* A context with only a targeting key is not in the experiment. */
    assert_string_equal(variant_for(c.flag, "targetingKey", "u1", &reason), "control");
    assert_int_equal(reason, ROOST_REASON_DEFAULT);
    variant_for(c.flag, "user.id", "u1", &reason);
    assert_int_equal(reason, ROOST_REASON_TARGETING_MATCH);
    variant_for(c.flag, "user.id", "", &reason);
    assert_int_equal(reason, ROOST_REASON_DEFAULT);
    release(&c);
}

static void split_rule_is_the_documented_json(void **state)
{
    struct experiment_spec s;
    cJSON *rule;
    char *text;
    (void)state;

    checkout_spec("\"allocation\": 12.5, \"weights\": {\"control\": 40, \"treatment\": 60},", &s);
    rule = rule_of(&s);
    text = cJSON_PrintUnformatted(rule);
    assert_string_equal(
        text,
        "{\"if\":[{\"and\":[{\"var\":\"targetingKey\"},{\"==\":[{\"fractional\":[{\"cat\":["
        "\"exp/allocation/\",{\"var\":\"targetingKey\"}]},[\"in\",1250],[\"out\",8750]]},\"in\"]}"
        "]},{\"fractional\":[{\"cat\":[\"exp/arms/\",{\"var\":\"targetingKey\"}]},[\"control\","
        "4000],[\"treatment\",6000]]},null]}");
    cJSON_free(text);
    cJSON_Delete(rule);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(split_rule_implements_the_plan),
        cmocka_unit_test(split_rule_with_allocation_leaves_the_rest_on_the_control),
        cmocka_unit_test(check_rejects_a_flag_whose_weights_differ),
        cmocka_unit_test(check_rejects_a_flag_without_the_allocation),
        cmocka_unit_test(check_rejects_a_treatment_as_the_default_variant),
        cmocka_unit_test(check_rejects_a_flag_without_targeting),
        cmocka_unit_test(check_accepts_flagds_default_fractional),
        cmocka_unit_test(check_refuses_another_flag),
        cmocka_unit_test(raising_the_allocation_keeps_units_in_their_arms),
        cmocka_unit_test(units_without_the_unit_attribute_stay_outside),
        cmocka_unit_test(split_rule_is_the_documented_json),
    };
    return roost_run_tests("experiment_split", tests);
}
