/* roostctl eval on the flagd test kit: the JSON it prints, the words it
 * uses when something is wrong, and its exit codes.
 *
 *   cmd_eval_test FLAGS.json
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "roostctl.h"
#include "testmain.h"

/* main.c's helpers, which the command uses; the real ones print the same. */
int roostctl_fail(int code, const char *fmt, ...)
{
    va_list ap;
    fputs("roostctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

bool roostctl_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return true;
    return false;
}

static const char *flags_path;
static char out_buf[8192], err_buf[8192];

/* Runs `roostctl eval ARGS...`, capturing stdout and stderr. */
static int run(const char *first, ...)
{
    char *argv[32];
    int argc = 0;
    va_list ap;
    argv[argc++] = "eval";
    va_start(ap, first);
    for (const char *a = first; a; a = va_arg(ap, const char *))
        argv[argc++] = (char *)(strcmp(a, "FLAGS") == 0 ? flags_path : a);
    va_end(ap);
    argv[argc] = NULL;

    FILE *o = tmpfile(), *e = tmpfile();
    fflush(stdout);
    fflush(stderr);
    int so = dup(1), se = dup(2);
    dup2(fileno(o), 1);
    dup2(fileno(e), 2);
    struct roostctl g = {.server = "unused", .timeout_s = 1};
    int rc = roostctl_cmd_eval(&g, argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(so, 1);
    dup2(se, 2);
    close(so);
    close(se);
    rewind(o);
    rewind(e);
    out_buf[fread(out_buf, 1, sizeof out_buf - 1, o)] = '\0';
    err_buf[fread(err_buf, 1, sizeof err_buf - 1, e)] = '\0';
    fclose(o);
    fclose(e);
    return rc;
}

static void eval_prints_value_variant_reason_and_error_code(void **state)
{
    (void)state;
    assert_int_equal(run("--flags", "FLAGS", "string-flag", NULL), 0);
    assert_string_equal(out_buf,
                        "{\"value\":\"hi\",\"variant\":\"greeting\",\"reason\":\"STATIC\",\"error_code\":null}\n");
    assert_string_equal(err_buf, "");
    assert_int_equal(run("boolean-flag", "--flags", "FLAGS", NULL), 0);
    assert_string_equal(out_buf,
                        "{\"value\":true,\"variant\":\"on\",\"reason\":\"STATIC\",\"error_code\":null}\n");
    assert_int_equal(run("--flags", "FLAGS", "--type", "integer", "integer-flag", NULL), 0);
    assert_string_equal(out_buf,
                        "{\"value\":10,\"variant\":\"ten\",\"reason\":\"STATIC\",\"error_code\":null}\n");
    assert_int_equal(run("--flags", "FLAGS", "object-flag", NULL), 0);
    assert_string_equal(out_buf, "{\"value\":{\"showImages\":true,\"title\":\"Check out these pics!\","
                                 "\"imagesPerPage\":100},\"variant\":\"template\",\"reason\":\"STATIC\","
                                 "\"error_code\":null}\n");
}

static void eval_uses_the_context_for_targeting(void **state)
{
    (void)state;
    assert_int_equal(run("--flags", "FLAGS", "fractional-flag", "--context",
                         "{\"user\":{\"name\":\"jack\"}}", NULL), 0);
    assert_string_equal(out_buf, "{\"value\":\"hearts\",\"variant\":\"hearts\",\"reason\":"
                                 "\"TARGETING_MATCH\",\"error_code\":null}\n");
    assert_int_equal(run("--flags", "FLAGS", "some-email-targeted-flag", "-c",
                         "{\"email\":\"ballmer@macrosoft.com\"}", NULL), 0);
    assert_string_equal(out_buf, "{\"value\":\"hi\",\"variant\":\"hi\",\"reason\":\"TARGETING_MATCH\","
                                 "\"error_code\":null}\n");
}

static void eval_returns_the_default_with_flagd_error_codes(void **state)
{
    (void)state;
    assert_int_equal(run("--flags", "FLAGS", "--type", "integer", "--default", "13", "wrong-flag", NULL), 0);
    assert_string_equal(out_buf, "{\"value\":13,\"variant\":null,\"reason\":\"ERROR\",\"error_code\":"
                                 "\"TYPE_MISMATCH\"}\n");
    assert_string_equal(err_buf, "roostctl: note: TYPE_MISMATCH: flag 'wrong-flag' has string values, "
                                 "--type was integer\n");
    assert_int_equal(run("--flags", "FLAGS", "--default", "fallback", "ref-to-nonexistent-evaluator-flag",
                         NULL), 0);
    assert_string_equal(out_buf, "{\"value\":\"fallback\",\"variant\":null,\"reason\":\"ERROR\","
                                 "\"error_code\":\"PARSE_ERROR\"}\n");
    assert_non_null(strstr(err_buf, "roostctl: warning: flags.ref-to-nonexistent-evaluator-flag."
                                    "targeting.if[0]: $ref to unknown evaluator \"nonexistent_evaluator\""));
    assert_int_equal(run("--flags", "FLAGS", "disabled-float-flag", "--default", "0.25", NULL), 0);
    assert_string_equal(out_buf, "{\"value\":0.25,\"variant\":null,\"reason\":\"DISABLED\",\"error_code\":null}\n");
}

static void eval_suggests_close_keys_for_an_unknown_flag(void **state)
{
    (void)state;
    assert_int_equal(run("--flags", "FLAGS", "boolean-flg", NULL), 1);
    assert_string_equal(out_buf, "{\"value\":\"\",\"variant\":null,\"reason\":\"ERROR\",\"error_code\":"
                                 "\"FLAG_NOT_FOUND\"}\n");
    assert_true(strncmp(err_buf, "roostctl: eval: no flag 'boolean-flg' in ", 40) == 0);
    assert_non_null(strstr(err_buf, "; did you mean 'boolean-flag'"));
    assert_int_equal(run("--flags", "FLAGS", "zzzzzzzzzzzzzzzzzzzzz", NULL), 1);
    assert_non_null(strstr(err_buf, "(it has "));
}

static void eval_explains_bad_input_with_positions_and_usage_codes(void **state)
{
    (void)state;
    assert_int_equal(run("--flags", "FLAGS", "string-flag", "--context", "{\"email\": \"a\",}", NULL), 2);
    assert_string_equal(err_buf,
                        "roostctl: eval: --context: invalid JSON at line 1, column 15 near '}'\n");
    assert_int_equal(run("--flags", "FLAGS", "string-flag", "--context", "[1]", NULL), 2);
    assert_non_null(strstr(err_buf, "--context must be a JSON object"));
    assert_int_equal(run("--flags", "FLAGS", "string-flag", "--context", "{\"tags\":[1]}", NULL), 2);
    assert_string_equal(err_buf, "roostctl: eval: --context: context.tags: arrays are not supported as "
                                 "context values\n");
    assert_int_equal(run("--flags", "FLAGS", "--type", "integer", "--default", "x", "integer-flag", NULL), 2);
    assert_string_equal(err_buf, "roostctl: eval: --default 'x' is not an integer\n");
    assert_int_equal(run("--flags", "FLAGS", "--type", "decimal", "integer-flag", NULL), 2);
    assert_int_equal(run("string-flag", NULL), 2);
    assert_string_equal(err_buf, "roostctl: eval: --flags FILE is required (roostctl eval --help)\n");
    assert_int_equal(run("--flags", "FLAGS", NULL), 2);
    assert_int_equal(run("--flags", "FLAGS", "a", "b", NULL), 2);
    assert_int_equal(run("--flags", "FLAGS", "--bogus", "a", NULL), 2);
    assert_string_equal(err_buf, "roostctl: eval: unknown option '--bogus' (roostctl eval --help)\n");
    assert_int_equal(run("--flags", "/nonexistent/flags.json", "a", NULL), 1);
    assert_string_equal(err_buf,
                        "roostctl: eval: --flags /nonexistent/flags.json: No such file or directory\n");
}

static void eval_reports_files_that_do_not_compile(void **state)
{
    (void)state;
    char path[] = "/tmp/roost-eval-test-XXXXXX";
    int fd = mkstemp(path);
    const char *doc = "{\"flags\":{\"beta\":{\"state\":\"ENABLED\",\"variants\":{\"on\":true,"
                      "\"off\":\"no\"}}}}";
    assert_int_equal(write(fd, doc, strlen(doc)), (ssize_t)strlen(doc));
    close(fd);
    assert_int_equal(run("--flags", path, "beta", NULL), 1);
    assert_non_null(strstr(err_buf, "does not compile: flags.beta.variants: mixed types: 'on' is a "
                                    "boolean but 'off' is a string"));
    unlink(path);
}

static void eval_help_goes_to_stdout(void **state)
{
    (void)state;
    assert_int_equal(run("--help", NULL), 0);
    assert_true(strncmp(out_buf, "usage: roostctl eval --flags FILE KEY [options]", 47) == 0);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s FLAGS.json\n", argv[0]);
        return 2;
    }
    flags_path = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(eval_prints_value_variant_reason_and_error_code),
        cmocka_unit_test(eval_uses_the_context_for_targeting),
        cmocka_unit_test(eval_returns_the_default_with_flagd_error_codes),
        cmocka_unit_test(eval_suggests_close_keys_for_an_unknown_flag),
        cmocka_unit_test(eval_explains_bad_input_with_positions_and_usage_codes),
        cmocka_unit_test(eval_reports_files_that_do_not_compile),
        cmocka_unit_test(eval_help_goes_to_stdout),
    };
    return roost_run_tests("roostctl eval", tests);
}
