/* What each targeting operator computes, including malformed uses: wrong
 * arity, wrong types, missing variables, huge numbers, invalid UTF-8 and
 * deep nesting. Every use either fails to compile with a message, or gives
 * a defined result -- a value, a run-time error (flagd's GENERAL) or
 * flagd's PARSE_ERROR -- and never crashes.
 *
 * Expected results are flagd-core 4.0.1's (check_ops_expectations.js
 * re-checks every EXPECT line against it), except where a comment says
 * Roost differs on purpose.
 */
#include "engine_test_util.h"
#include "roost/murmur3.h"

/* Contexts (check_ops_expectations.js reads these #defines too). */
#define NONE "{}"
#define USER                                                                                       \
    "{\"targetingKey\":\"user-1\",\"email\":\"ballmer@macrosoft.com\",\"age\":42,\"score\":0,"    \
    "\"on\":true,\"name\":\"\",\"num\":\"10\",\"ver\":\"1.2.3\",\"user\":{\"name\":\"jack\","      \
    "\"tier\":\"gold\",\"id\":7}}"
#define ODD                                                                                        \
    "{\"targetingKey\":\"\",\"age\":\"42\",\"big\":1e308,\"nan_s\":\"abc\",\"ver\":1.2,"          \
    "\"a.b\":\"dotted\",\"emoji\":\"\xf0\x9f\x98\x80x\"}"
#define BAD_UTF8 "{\"bad\":\"\xff\xfe\"}"

static void var_reads_dotted_paths_defaults_and_enrichment(void **state)
{
    (void)state;
    EXPECT("{\"var\":\"email\"}", USER, "s:ballmer@macrosoft.com");
    EXPECT("{\"var\":[\"email\"]}", USER, "s:ballmer@macrosoft.com");
    EXPECT("{\"var\":\"user.name\"}", USER, "s:jack");
    EXPECT("{\"var\":\"user.id\"}", USER, "n:7");
    EXPECT("{\"var\":\"user\"}", USER, "object");
    EXPECT("{\"var\":\"missing\"}", USER, "null");
    EXPECT("{\"var\":\"user.name.first\"}", USER, "null");
    EXPECT("{\"var\":[\"missing\",\"dflt\"]}", USER, "s:dflt");
    EXPECT("{\"var\":[\"name\",\"dflt\"]}", USER, "s:");
    EXPECT("{\"var\":[\"missing\",{\"var\":\"age\"}]}", USER, "n:42");
    EXPECT("{\"var\":\"$flagd.flagKey\"}", USER, "s:t");
    EXPECT("{\"var\":\"$flagd.timestamp\"}", NONE, "n:1700000000");
    EXPECT("{\"var\":\"$flagd\"}", NONE, "object");
    EXPECT("{\"var\":\"$flagd.other\"}", NONE, "null");
    EXPECT("{\"var\":\"a.b\"}", ODD, "null");
    EXPECT("{\"var\":\"a\\\\.b\"}", ODD, "s:dotted");
    EXPECT("{\"var\":\"\"}", NONE, "object");
    EXPECT("{\"var\":[]}", NONE, "object");
    EXPECT("{\"var\":{\"cat\":[\"user\",\".name\"]}}", USER, "s:jack");
    EXPECT("{\"var\":{\"if\":[{\"var\":\"on\"},\"email\",\"age\"]}}", USER, "s:ballmer@macrosoft.com");
}

static void if_chains_and_truthiness(void **state)
{
    (void)state;
    EXPECT("{\"if\":[]}", NONE, "null");
    EXPECT("{\"if\":[{\"var\":\"age\"}]}", USER, "n:42");
    EXPECT("{\"if\":[{\"var\":\"on\"},\"yes\"]}", USER, "s:yes");
    EXPECT("{\"if\":[{\"var\":\"name\"},\"yes\"]}", USER, "null");
    EXPECT("{\"if\":[{\"var\":\"on\"},\"a\",\"b\"]}", USER, "s:a");
    EXPECT("{\"if\":[{\"var\":\"score\"},\"a\",\"b\"]}", USER, "s:b");
    EXPECT("{\"if\":[false,\"a\",{\"var\":\"on\"},\"b\",\"c\"]}", USER, "s:b");
    EXPECT("{\"if\":[false,\"a\",{\"var\":\"score\"},\"b\"]}", USER, "null");
    /* JsonLogic truthiness: empty arrays are false, "0" is true. */
    EXPECT("{\"if\":[[],\"t\",\"f\"]}", NONE, "s:f");
    EXPECT("{\"if\":[\"0\",\"t\",\"f\"]}", NONE, "s:t");
    EXPECT("{\"if\":[{\"var\":\"user\"},\"t\",\"f\"]}", USER, "s:t");
    /* A non-array operand list is a run-time error (constant: PARSE_ERROR). */
    EXPECT("{\"if\":{\"var\":\"on\"}}", USER, "GENERAL: *");
    EXPECT("{\"if\":true}", NONE, "PARSE: *");
    /* Shapes the compiler fuses (compare-and-branch, returning from a
     * branch) next to shapes it must not fuse. */
    EXPECT("{\"if\":[{\"and\":[{\"var\":\"on\"},{\"==\":[{\"var\":\"age\"},42]}]},\"a\",\"b\"]}", USER, "s:a");
    EXPECT("{\"if\":[{\"and\":[{\"var\":\"name\"},{\"==\":[{\"var\":\"age\"},42]}]},\"a\",\"b\"]}", USER, "s:b");
    EXPECT("{\"if\":[{\"!=\":[{\"var\":\"age\"},42]},\"a\",{\"if\":[{\"var\":\"on\"},{\"var\":\"age\"},\"c\"]}]}", USER, "n:42");
    EXPECT("{\"if\":[{\"or\":[{\"var\":\"name\"},{\"<\":[{\"var\":\"age\"},1]}]},\"a\",{\"and\":[{\"var\":\"on\"},\"z\"]}]}", USER, "s:z");
    EXPECT("{\"if\":[{\"if\":[{\"var\":\"on\"},{\"==\":[1,1]},false]},{\"if\":[false,1]},2]}", USER, "null");
}

static void equality_follows_javascript_and_compare_check(void **state)
{
    (void)state;
    EXPECT("{\"==\":[1,\"1\"]}", NONE, "true");
    EXPECT("{\"==\":[\"ballmer@macrosoft.com\",{\"var\":\"email\"}]}", USER, "true");
    EXPECT("{\"===\":[1,\"1\"]}", NONE, "false");
    EXPECT("{\"!=\":[{\"var\":\"age\"},\"42\"]}", USER, "false");
    EXPECT("{\"!==\":[{\"var\":\"age\"},\"42\"]}", USER, "true");
    EXPECT("{\"==\":[null,0]}", NONE, "true");
    EXPECT("{\"==\":[0,null]}", NONE, "true");
    EXPECT("{\"==\":[null,\"\"]}", NONE, "false");
    EXPECT("{\"==\":[true,\"1\"]}", NONE, "true");
    EXPECT("{\"==\":[{\"var\":\"missing\"},null]}", USER, "true");
    /* A number against a non-numeric string fails... */
    EXPECT("{\"==\":[{\"var\":\"age\"},\"abc\"]}", USER, "GENERAL: *");
    /* ...unless the string comes second from a var: json-logic-engine's
     * compareCheck then sees the var's own value (its shared `prev`). */
    EXPECT("{\"==\":[42,{\"var\":\"nan_s\"}]}", ODD, "false");
    EXPECT("{\"!=\":[{\"var\":\"age\"},{\"var\":\"email\"}]}", USER, "true");
    EXPECT("{\"==\":[{\"var\":\"user\"},1]}", USER, "GENERAL: *");
    /* prev is whatever the second operand's code assigned last, however
     * deep: here the inner var (a non-numeric string), so the check fails. */
    EXPECT("{\"==\":[0,{\"!\":[{\"var\":\"email\"}]}]}", USER, "GENERAL: *");
    EXPECT("{\"==\":[0,{\"!\":[{\"==\":[1,{\"var\":\"email\"}]}]}]}", USER, "GENERAL: *");
    EXPECT("{\"==\":[0,{\"!\":[{\"==\":[{\"var\":\"email\"},\"x\"]}]}]}", USER, "GENERAL: *");
    EXPECT("{\"==\":[0,{\"!\":[{\"and\":[{\"var\":\"email\"}]}]}]}", USER, "GENERAL: *");
    EXPECT("{\"==\":[0,{\"!\":[{\"var\":[\"missing\",\"abc\"]}]}]}", USER, "GENERAL: *");
    /* ...and when nothing in it assigns, prev is the first operand. */
    EXPECT("{\"==\":[0,{\"!\":[\"abc\"]}]}", USER, "true");
    EXPECT("{\"==\":[0,{\"!\":[{\"var\":\"\"}]}]}", USER, "true");
    EXPECT("{\"==\":[0,{\"!\":[{\"if\":[{\"var\":\"email\"},1]}]}]}", USER, "true");
    EXPECT("{\"===\":[{\"var\":\"user\"},{\"var\":\"user\"}]}", USER, "true");
    EXPECT("{\"===\":[[1],[1]]}", NONE, "false");
    /* Fewer than two operands. */
    EXPECT("{\"==\":[{\"var\":\"age\"}]}", USER, "GENERAL: *");
    EXPECT("{\"==\":[1]}", NONE, "PARSE: *");
}

static void ordering_between_forms_and_strings(void **state)
{
    (void)state;
    EXPECT("{\"<\":[1,2]}", NONE, "true");
    EXPECT("{\"<\":[\"10\",9]}", NONE, "false");
    EXPECT("{\"<\":[\"10\",\"9\"]}", NONE, "true");
    EXPECT("{\">=\":[{\"var\":\"age\"},42]}", USER, "true");
    EXPECT("{\"<\":[1,{\"var\":\"age\"},100]}", USER, "true");
    EXPECT("{\"<\":[1,{\"var\":\"age\"},42]}", USER, "false");
    EXPECT("{\"<=\":[1,{\"var\":\"age\"},42]}", USER, "true");
    EXPECT("{\">\":[100,{\"var\":\"age\"},1]}", USER, "true");
    EXPECT("{\"<\":[null,1]}", NONE, "true");
    EXPECT("{\"<\":[\"a\",\"b\",\"c\"]}", NONE, "true");
    /* UTF-16 order: a supplementary character sorts before U+FFFD. */
    EXPECT("{\"<\":[\"\xf0\x9f\x98\x80\",\"\xef\xbf\xbd\"]}", NONE, "true");
    EXPECT("{\"<\":[{\"var\":\"big\"},{\"*\":[{\"var\":\"big\"},10]}]}", ODD, "true");
    EXPECT("{\"<\":[\"abc\",1]}", NONE, "PARSE: *");
}

static void not_and_double_not(void **state)
{
    (void)state;
    EXPECT("{\"!\":[true]}", NONE, "false");
    EXPECT("{\"!\":[[]]}", NONE, "true");
    EXPECT("{\"!\":[{\"var\":\"name\"}]}", USER, "true");
    EXPECT("{\"!\":{\"var\":\"name\"}}", USER, "true");
    EXPECT("{\"!\":[]}", NONE, "true");
    EXPECT("{\"!!\":[[0]]}", NONE, "true");
    EXPECT("{\"!!\":[\"0\"]}", NONE, "true");
    EXPECT("{\"!!\":[{\"var\":\"score\"},true]}", USER, "false");
    EXPECT("{\"not\":[{\"var\":\"on\"}]}", USER, "false");
    /* Folded (interpreted), `!!` of an array value tests its first element. */
    EXPECT("{\"!!\":{\"or\":[[null]]}}", NONE, "false");
    EXPECT("{\"!!\":[{\"or\":[[0,1]]}]}", NONE, "false");
    EXPECT("{\"!\":{\"if\":[true,[],1]}}", NONE, "true");
    EXPECT("{\"if\":[{\"var\":\"on\"},{\"!!\":{\"if\":[true,[0],1]}}]}", USER, "false");
    EXPECT("{\"!!\":{\"if\":[{\"var\":\"on\"},[0],1]}}", USER, "true");
}

static void and_or_return_operands(void **state)
{
    (void)state;
    EXPECT("{\"and\":[]}", NONE, "null");
    EXPECT("{\"and\":[{\"var\":\"on\"},{\"var\":\"age\"}]}", USER, "n:42");
    EXPECT("{\"and\":[{\"var\":\"score\"},{\"var\":\"age\"}]}", USER, "n:0");
    EXPECT("{\"or\":[{\"var\":\"name\"},{\"var\":\"missing\"},\"x\"]}", USER, "s:x");
    EXPECT("{\"or\":[{\"var\":\"name\"},{\"var\":\"missing\"}]}", USER, "null");
    /* Short-circuit: the failing operand is never evaluated. */
    EXPECT("{\"or\":[true,{\"/\":[1,{\"var\":\"score\"}]}]}", USER, "true");
    EXPECT("{\"and\":{\"var\":\"on\"}}", USER, "GENERAL: *");
}

static void in_tests_substrings_and_lists(void **state)
{
    (void)state;
    EXPECT("{\"in\":[\"macro\",{\"var\":\"email\"}]}", USER, "true");
    EXPECT("{\"in\":[{\"var\":\"user.tier\"},[\"gold\",\"silver\"]]}", USER, "true");
    EXPECT("{\"in\":[{\"var\":\"age\"},[\"42\"]]}", USER, "false");
    EXPECT("{\"in\":[{\"var\":\"age\"},[1,42]]}", USER, "true");
    EXPECT("{\"in\":[42,\"x42y\"]}", NONE, "true");
    EXPECT("{\"in\":[\"\",\"abc\"]}", NONE, "true");
    EXPECT("{\"in\":[\"a\",{\"var\":\"missing\"}]}", USER, "false");
    EXPECT("{\"in\":[\"a\",{\"var\":\"name\"}]}", USER, "false");
    EXPECT("{\"in\":[{\"var\":\"email\"},[{\"var\":\"user.name\"},{\"var\":\"email\"}]]}", USER, "true");
    EXPECT("{\"in\":[\"a\"]}", NONE, "false");
    /* A number or true as the haystack has no includes(). */
    EXPECT("{\"in\":[\"4\",{\"var\":\"age\"}]}", USER, "GENERAL: *");
}

static void cat_concatenates_string_forms(void **state)
{
    (void)state;
    EXPECT("{\"cat\":[\"v\",2,true,[1,2]]}", NONE, "s:v2true1,2");
    EXPECT("{\"cat\":[{\"var\":\"$flagd.flagKey\"},{\"var\":\"user.name\"}]}", USER, "s:tjack");
    /* Compiled cat prints null; constant cat skips it. */
    EXPECT("{\"cat\":[\"a\",{\"var\":\"missing\"}]}", USER, "s:anull");
    EXPECT("{\"cat\":[\"a\",null,\"b\"]}", NONE, "s:ab");
    EXPECT("{\"cat\":[0.1,1e21,1e-7,-0,100]}", NONE, "s:0.11e+211e-70100");
    EXPECT("{\"cat\":{\"var\":\"age\"}}", USER, "s:42");
    EXPECT("{\"cat\":{\"var\":\"missing\"}}", USER, "GENERAL: *");
    EXPECT("{\"cat\":[null]}", NONE, "PARSE: *");
    EXPECT("{\"cat\":[]}", NONE, "s:");
}

static void substr_counts_utf16_units(void **state)
{
    (void)state;
    EXPECT("{\"substr\":[{\"var\":\"email\"},0,7]}", USER, "s:ballmer");
    EXPECT("{\"substr\":[{\"var\":\"email\"},-3]}", USER, "s:com");
    EXPECT("{\"substr\":[{\"var\":\"email\"},8,-4]}", USER, "s:macrosoft");
    EXPECT("{\"substr\":[\"abc\",5]}", NONE, "s:");
    EXPECT("{\"substr\":[\"abc\",-10,2]}", NONE, "s:ab");
    EXPECT("{\"substr\":[\"abc\",\"1\"]}", NONE, "s:bc");
    EXPECT("{\"substr\":[{\"var\":\"emoji\"},2]}", ODD, "s:x");
    /* Cutting a surrogate pair: U+FFFD where JavaScript keeps half a pair. */
    EXPECT("{\"substr\":[{\"var\":\"emoji\"},1]}", ODD, "s:\xef\xbf\xbdx");
    EXPECT("{\"substr\":[{\"var\":\"age\"},1]}", USER, "GENERAL: *");
    EXPECT("{\"substr\":[{\"var\":\"missing\"}]}", USER, "GENERAL: *");
}

static void arithmetic_coerces_and_rejects_nan(void **state)
{
    (void)state;
    EXPECT("{\"+\":[1,\"2\",true,null]}", NONE, "n:4");
    EXPECT("{\"+\":[{\"var\":\"age\"},{\"var\":\"num\"}]}", USER, "n:52");
    EXPECT("{\"-\":[{\"var\":\"age\"}]}", USER, "n:-42");
    EXPECT("{\"-\":[{\"var\":\"age\"},2,10]}", USER, "n:30");
    EXPECT("{\"*\":[{\"var\":\"age\"},0.5]}", USER, "n:21");
    EXPECT("{\"/\":[{\"var\":\"age\"},4]}", USER, "n:10.5");
    EXPECT("{\"/\":[{\"var\":\"age\"}]}", USER, "n:0.023809523809523808");
    EXPECT("{\"%\":[{\"var\":\"age\"},5]}", USER, "n:2");
    EXPECT("{\"%\":[-7,{\"var\":\"user.id\"}]}", USER, "n:0"); /* -0 prints as 0 */
    EXPECT("{\"+\":[]}", NONE, "n:0");
    EXPECT("{\"*\":[]}", NONE, "n:1");
    EXPECT("{\"+\":{\"var\":\"age\"}}", USER, "n:42");
    /* Huge numbers overflow to Infinity like JavaScript. */
    EXPECT("{\"*\":[{\"var\":\"big\"},10]}", ODD, "n:Infinity");
    EXPECT("{\"+\":[{\"var\":\"big\"},{\"var\":\"big\"}]}", ODD, "n:Infinity");
    /* NaN, objects and division by a zero at run time are errors... */
    EXPECT("{\"+\":[{\"var\":\"nan_s\"},1]}", ODD, "GENERAL: *");
    EXPECT("{\"+\":[{\"var\":\"user\"},1]}", USER, "GENERAL: *");
    EXPECT("{\"/\":[1,{\"var\":\"score\"}]}", USER, "GENERAL: *");
    EXPECT("{\"%\":[1,{\"var\":\"score\"}]}", USER, "GENERAL: *");
    EXPECT("{\"*\":{\"var\":\"age\"}}", USER, "GENERAL: *");
    /* ...and flagd rejects the constant ones when it loads the flag. */
    EXPECT("{\"/\":[{\"var\":\"age\"},0]}", USER, "PARSE: *");
    EXPECT("{\"+\":[{\"var\":\"age\"},\"abc\"]}", USER, "PARSE: *");
    EXPECT("{\"+\":[{\"var\":\"age\"},[1]]}", USER, "PARSE: *");
    EXPECT("{\"-\":[]}", NONE, "PARSE: *");
    EXPECT("{\"%\":[{\"var\":\"age\"}]}", USER, "PARSE: *");
}

static void min_max_take_numbers_only(void **state)
{
    (void)state;
    EXPECT("{\"max\":[1,{\"var\":\"age\"},3]}", USER, "n:42");
    EXPECT("{\"min\":[1,{\"var\":\"age\"},-3]}", USER, "n:-3");
    EXPECT("{\"max\":[{\"var\":\"num\"}]}", USER, "GENERAL: *");
    EXPECT("{\"max\":[]}", NONE, "PARSE: *");
}

static void starts_with_and_ends_with_need_two_strings(void **state)
{
    (void)state;
    EXPECT("{\"starts_with\":[{\"var\":\"email\"},\"ballmer\"]}", USER, "true");
    EXPECT("{\"ends_with\":[{\"var\":\"email\"},\".com\"]}", USER, "true");
    EXPECT("{\"ends_with\":[{\"var\":\"email\"},\".org\"]}", USER, "false");
    EXPECT("{\"starts_with\":[{\"var\":\"age\"},\"4\"]}", USER, "null");
    EXPECT("{\"starts_with\":[\"abc\"]}", NONE, "null");
    EXPECT("{\"ends_with\":[\"abc\",\"c\",\"x\"]}", NONE, "null");
    EXPECT("{\"starts_with\":[{\"var\":\"missing\"},\"\"]}", USER, "null");
}

static void sem_ver_compares_like_flagd(void **state)
{
    (void)state;
    EXPECT("{\"sem_ver\":[{\"var\":\"ver\"},\">\",\"1.2.2\"]}", USER, "true");
    EXPECT("{\"sem_ver\":[{\"var\":\"ver\"},\"=\",\"v1.2.3+build.5\"]}", USER, "true");
    EXPECT("{\"sem_ver\":[\"1.2.3-rc.1\",\"<\",\"1.2.3\"]}", NONE, "true");
    EXPECT("{\"sem_ver\":[\"1.2.3-rc.2\",\">\",\"1.2.3-rc.10\"]}", NONE, "false");
    EXPECT("{\"sem_ver\":[\"1.2.3-beta\",\">\",\"1.2.3-alpha.9\"]}", NONE, "true");
    EXPECT("{\"sem_ver\":[{\"var\":\"ver\"},\"^\",\"1.9.0\"]}", USER, "true");
    EXPECT("{\"sem_ver\":[{\"var\":\"ver\"},\"~\",\"1.3.0\"]}", USER, "false");
    EXPECT("{\"sem_ver\":[{\"var\":\"ver\"},\"=\",\"1.2\"]}", ODD, "true");
    EXPECT("{\"sem_ver\":[\"01.2.3\",\"=\",\"1.2.3\"]}", NONE, "null");
    EXPECT("{\"sem_ver\":[\"1.2.3.4\",\"=\",\"1.2.3\"]}", NONE, "null");
    EXPECT("{\"sem_ver\":[\"9007199254740992.0.0\",\">\",\"1.0.0\"]}", NONE, "null");
    EXPECT("{\"sem_ver\":[\" v1.0.0 \",\"=\",\"1.0.0\"]}", NONE, "true");
    EXPECT("{\"sem_ver\":[\"1.0.0\",\"===\",\"1.0.0\"]}", NONE, "null");
    EXPECT("{\"sem_ver\":[\"1.0.0\",\"=\"]}", NONE, "null");
    EXPECT("{\"sem_ver\":[{\"var\":\"missing\"},\"=\",\"1.0.0\"]}", USER, "null");
}

static void fractional_buckets_with_murmur3(void **state)
{
    (void)state;
    /* Test-kit vectors (the test kit's flag key + targeting key, written as
     * an explicit bucketing key because this flag is called "t"). */
#define SHORTHAND "{\"fractional\":[{\"cat\":[\"fractional-flag-shorthand\",{\"var\":\"targetingKey\"}]},[\"heads\"],[\"tails\",1]]}"
    EXPECT(SHORTHAND, "{\"targetingKey\":\"jon@company.com\"}", "s:heads");
    EXPECT(SHORTHAND, "{\"targetingKey\":\"jane@company.com\"}", "s:tails");
    EXPECT("{\"fractional\":[{\"var\":\"targetingKey\"},[\"lower\",50],[\"upper\",50]]}",
           "{\"targetingKey\":\"6LvT0\"}", "s:upper");
    /* Variants keep their type; a null variant gives null. */
    EXPECT("{\"fractional\":[\"k\",[true,1]]}", NONE, "true");
    EXPECT("{\"fractional\":[\"k\",[null,1]]}", NONE, "null");
    /* No targeting key (or an empty one): null. */
    EXPECT("{\"fractional\":[[\"a\",1]]}", NONE, "null");
    EXPECT("{\"fractional\":[[\"a\",1]]}", ODD, "null");
    /* Invalid buckets make the whole operator null. */
    EXPECT("{\"fractional\":[\"k\",[\"a\",1.5]]}", NONE, "null");
    EXPECT("{\"fractional\":[\"k\",[\"a\",\"1\"]]}", NONE, "null");
    EXPECT("{\"fractional\":[\"k\",[\"a\",1,2]]}", NONE, "null");
    EXPECT("{\"fractional\":[\"k\",\"a\"]}", NONE, "null");
    EXPECT("{\"fractional\":[\"k\",[\"a\",0],[\"b\",0]]}", NONE, "null");
    EXPECT("{\"fractional\":[\"k\",[\"a\",2147483647],[\"b\",1]]}", NONE, "null");
    EXPECT("{\"fractional\":[\"k\",[\"a\",-5],[\"b\",1]]}", NONE, "s:b");
    EXPECT("{\"fractional\":[\"k\",[\"a\",-1e300],[\"b\",1]]}", NONE, "s:b");
    EXPECT("{\"fractional\":[\"k\",[\"a\",1e300],[\"b\",1]]}", NONE, "null");
    EXPECT("{\"fractional\":[\"k\",[\"a\",1],[[1],1]]}", NONE, "null");
    /* The key still runs when the buckets make the result null anyway. */
    EXPECT("{\"fractional\":[{\"/\":[1,{\"var\":\"score\"}]},[\"a\",1.5]]}", USER, "GENERAL: *");
    /* A computed first operand that is not a string is a bucket too. */
    EXPECT("{\"fractional\":[{\"if\":[{\"var\":\"on\"},[\"x\",0],0]},[\"y\",1]]}", USER, "s:y");
    EXPECT("{\"fractional\":[{\"if\":[{\"var\":\"on\"},[\"x\",1,2],0]},[\"y\",1]]}", USER, "null");
    EXPECT("{\"fractional\":[]}", NONE, "null");
    /* Operands are computed: weights, variants and the key. */
    EXPECT("{\"fractional\":[\"k\",[{\"var\":\"user.tier\"},{\"var\":\"user.id\"}]]}", USER, "s:gold");
    EXPECT("{\"fractional\":[{\"cat\":[\"a\",{\"var\":\"user.name\"}]},[\"x\",1],[\"y\",1]]}", USER,
           "s:x");
}

/* {"cat": [{"var": "$flagd.flagKey"}, ...]} as the bucketing key compiles
 * to a hash that starts from the state the loader computed over the flag
 * key: it must bucket exactly as hashing the whole key does, for keys that
 * end mid-block and on a block boundary, and for values of every type. */
static void fractional_keyed_by_the_flag_key_hashes_the_whole_key(void **state)
{
    (void)state;
    static const char *const flag_keys[] = {"f", "flag", "flag-07", "flagkey-9"};
    static const char *const names[] = {"", "j", "ja", "jac", "jack", "jack1", "jack12", "jack123",
                                        "a-much-longer-name@example.com"};
    static const char *const rules[] = {
        "{\"cat\":[{\"var\":\"$flagd.flagKey\"},{\"var\":\"n\"}]}",
        "{\"cat\":[{\"var\":[\"$flagd.flagKey\"]},{\"var\":\"n\"},\"-\",{\"var\":\"n\"}]}",
    };
    char doc_json[4096], expect_key[256];
    for (size_t k = 0; k < sizeof flag_keys / sizeof flag_keys[0]; k++) {
        for (size_t ru = 0; ru < 2; ru++) {
            int o = snprintf(doc_json, sizeof doc_json,
                             "{\"flags\":{\"%s\":{\"state\":\"ENABLED\",\"variants\":{",
                             flag_keys[k]);
            for (int b = 0; b < 100; b++)
                o += snprintf(doc_json + o, sizeof doc_json - (size_t)o, "%s\"b%d\":\"b%d\"",
                              b ? "," : "", b, b);
            o += snprintf(doc_json + o, sizeof doc_json - (size_t)o,
                          "},\"targeting\":{\"fractional\":[%s", rules[ru]);
            for (int b = 0; b < 100; b++)
                o += snprintf(doc_json + o, sizeof doc_json - (size_t)o, ",[\"b%d\",1]", b);
            snprintf(doc_json + o, sizeof doc_json - (size_t)o, "]}}}}");
            loaded_doc d;
            assert_true(load_doc(&d, doc_json));
            const roost_flag *f = find_flag(&d, flag_keys[k]);
            assert_non_null(f);
            for (size_t i = 0; i < sizeof names / sizeof names[0] + 3; i++) {
                roost_ctx_attr attrs[2];
                roost_ctx ctx;
                roost_result r;
                const char *text;
                roost_ctx_init(&ctx, attrs, 2);
                if (i < sizeof names / sizeof names[0]) {
                    text = names[i];
                    roost_ctx_set_string(&ctx, "n", text);
                } else if (i == sizeof names / sizeof names[0]) {
                    text = "42.5";
                    roost_ctx_set_number(&ctx, "n", 42.5);
                } else if (i == sizeof names / sizeof names[0] + 1) {
                    text = "true";
                    roost_ctx_set_bool(&ctx, "n", true);
                } else {
                    text = "null"; /* unset: compiled cat prints null */
                }
                if (ru == 0)
                    snprintf(expect_key, sizeof expect_key, "%s%s", flag_keys[k], text);
                else
                    snprintf(expect_key, sizeof expect_key, "%s%s-%s", flag_keys[k], text, text);
                char want[8];
                snprintf(want, sizeof want, "b%u",
                         (unsigned)roost_bucket(roost_murmur3_32(expect_key, strlen(expect_key), 0),
                                                100));
                assert_string_equal(roost_eval_string(f, &ctx, "dflt", &r), want);
                assert_int_equal(r.reason, ROOST_REASON_TARGETING_MATCH);
            }
            free_doc(&d);
        }
    }
}

static void invalid_utf8_in_context_is_data_not_a_crash(void **state)
{
    (void)state;
    EXPECT("{\"var\":\"bad\"}", BAD_UTF8, "s:\xff\xfe");
    EXPECT("{\"==\":[{\"var\":\"bad\"},\"x\"]}", BAD_UTF8, "false");
    EXPECT("{\"substr\":[{\"var\":\"bad\"},1]}", BAD_UTF8, "s:\xfe");
    EXPECT("{\"<\":[{\"var\":\"bad\"},\"a\"]}", BAD_UTF8, "false");
    EXPECT("{\"in\":[{\"var\":\"bad\"},{\"var\":\"bad\"}]}", BAD_UTF8, "true");
    /* In a rule, invalid UTF-8 is the author's mistake: a compile error. */
    EXPECT("{\"in\":[\"\xfe\",{\"var\":\"bad\"}]}", BAD_UTF8, "COMPILE: *invalid UTF-8*");
    EXPECT("{\"fractional\":[{\"var\":\"bad\"},[\"a\",1],[\"b\",1]]}", BAD_UTF8, "s:b"); /* hash of ff fe */
    EXPECT("{\"sem_ver\":[{\"var\":\"bad\"},\"=\",\"1.0.0\"]}", BAD_UTF8, "null");
}

static void unknown_operators_are_parse_errors_and_unsupported_ones_compile_errors(void **state)
{
    (void)state;
    EXPECT("{\"bogus\":[1]}", NONE, "PARSE: flags.t.targeting: unknown operator \"bogus\"*");
    EXPECT("{\"if\":[{\"$ref\":\"nope\"},1,2]}", NONE,
           "PARSE: flags.t.targeting.if[0]: $ref to unknown evaluator \"nope\"*");
    EXPECT("{\"==\":[1,1],\"extra\":2}", NONE, "PARSE: *more than one key*");
    EXPECT("{\"map\":[[1],{\"var\":\"\"}]}", NONE,
           "COMPILE: flags.t.targeting: operator \"map\" is valid JsonLogic but Roost's engine does "
           "not support it*");
    /* Roost requires constant arrays outside `in` lists and fractional buckets. */
    EXPECT("{\"cat\":[[{\"var\":\"email\"}]]}", USER,
           "COMPILE: flags.t.targeting.cat[0]: an array whose elements are computed*");
}

static void constant_sub_rules_fold_like_flagd_core(void **state)
{
    (void)state;
    /* Folding evaluates both branches of a 3-operand if and every operand
     * of a 3-operand comparison: an error anywhere there is PARSE_ERROR... */
    EXPECT("{\"if\":[true,1,{\"%\":[]}]}", NONE, "PARSE: *");
    EXPECT("{\"<\":[2,1,{\"%\":[]}]}", NONE, "PARSE: *");
    /* ...but operands of and/or, and of an if with 2 operands, only when
     * they run. */
    EXPECT("{\"and\":[false,{\"if\":[true,1,{\"%\":[]}]}]}", NONE, "false");
    EXPECT("{\"and\":[true,{\"if\":[true,1,{\"%\":[]}]}]}", NONE, "PARSE: *");
    EXPECT("{\"if\":[{\"var\":\"name\"},{\"%\":[]}]}", USER, "null");
    EXPECT("{\"if\":[{\"var\":\"on\"},{\"%\":[]}]}", USER, "GENERAL: *");
    /* A folded unary minus checks for NaN; a falsy operand is 0. */
    EXPECT("{\"-\":[\"a\"]}", NONE, "PARSE: *");
    EXPECT("{\"-\":[null]}", NONE, "n:0");
    EXPECT("{\"cat\":[{\"-\":[1,1]},\"x\"]}", NONE, "s:0x");
}

static void nesting_beyond_the_depth_limit_is_a_compile_error(void **state)
{
    (void)state;
    char rule[512] = "";
    /* 32 levels compile... */
    for (int i = 0; i < 16; i++)
        strcat(rule, "{\"!\":[");
    strcat(rule, "true");
    for (int i = 0; i < 16; i++)
        strcat(rule, "]}");
    EXPECT(rule, NONE, "true");
    /* ...33 do not. */
    char deeper[600];
    snprintf(deeper, sizeof deeper, "{\"!\":%s}", rule);
    EXPECT(deeper, NONE,
           "COMPILE: flags.t.targeting: the targeting rule nests deeper than 32 levels "
           "(ROOST_MAX_DEPTH)*");
}

static void operand_and_program_limits_are_compile_errors(void **state)
{
    (void)state;
    /* 256 operands: over ROOST_MAX_ARGS. */
    char *rule = malloc(8192);
    strcpy(rule, "{\"cat\":[");
    for (int i = 0; i < 256; i++)
        strcat(rule, i ? ",{\"var\":\"a\"}" : "{\"var\":\"a\"}");
    strcat(rule, "]}");
    EXPECT(rule, NONE, "COMPILE: flags.t.targeting.cat: \"cat\" has 256 operands; the limit is 255*");
    /* 65 values at once: over ROOST_EVAL_STACK. */
    strcpy(rule, "{\"cat\":[");
    for (int i = 0; i < 65; i++)
        strcat(rule, i ? ",{\"var\":\"a\"}" : "{\"var\":\"a\"}");
    strcat(rule, "]}");
    EXPECT(rule, NONE, "COMPILE: *ROOST_EVAL_STACK*");
    free(rule);
    /* A long if-chain: over ROOST_MAX_STEPS instructions. */
    size_t cap = 200000;
    char *chain = malloc(cap);
    strcpy(chain, "{\"if\":[");
    for (int i = 0; i < 900; i++) {
        char piece[96];
        snprintf(piece, sizeof piece, "%s{\"==\":[{\"var\":\"a\"},%d]},\"v%d\"", i ? "," : "", i, i);
        strcat(chain, piece);
    }
    strcat(chain, "]}");
    EXPECT(chain, NONE, "COMPILE: *ROOST_MAX_*");
    free(chain);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(var_reads_dotted_paths_defaults_and_enrichment),
        cmocka_unit_test(if_chains_and_truthiness),
        cmocka_unit_test(equality_follows_javascript_and_compare_check),
        cmocka_unit_test(ordering_between_forms_and_strings),
        cmocka_unit_test(not_and_double_not),
        cmocka_unit_test(and_or_return_operands),
        cmocka_unit_test(in_tests_substrings_and_lists),
        cmocka_unit_test(cat_concatenates_string_forms),
        cmocka_unit_test(substr_counts_utf16_units),
        cmocka_unit_test(arithmetic_coerces_and_rejects_nan),
        cmocka_unit_test(min_max_take_numbers_only),
        cmocka_unit_test(starts_with_and_ends_with_need_two_strings),
        cmocka_unit_test(sem_ver_compares_like_flagd),
        cmocka_unit_test(fractional_buckets_with_murmur3),
        cmocka_unit_test(fractional_keyed_by_the_flag_key_hashes_the_whole_key),
        cmocka_unit_test(invalid_utf8_in_context_is_data_not_a_crash),
        cmocka_unit_test(unknown_operators_are_parse_errors_and_unsupported_ones_compile_errors),
        cmocka_unit_test(constant_sub_rules_fold_like_flagd_core),
        cmocka_unit_test(nesting_beyond_the_depth_limit_is_a_compile_error),
        cmocka_unit_test(operand_and_program_limits_are_compile_errors),
    };
    return roost_run_tests("engine operators", tests);
}
