/* roostctl experiment: the planner's output (human and --json), its usage
 * errors and exit codes, and the results table drawn from a real analysis. */
#include <stdarg.h>
#include <unistd.h>

#include "experiment_test_util.h"
#include "tools/roostctl/roostctl.h"

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

void roostctl_print_json(struct cJSON *v)
{
    char *s = cJSON_PrintUnformatted(v);
    if (s) {
        puts(s);
        fflush(stdout);
        cJSON_free(s);
    }
    cJSON_Delete(v);
}

static char out_buf[32768], err_buf[8192];

/* Runs fn with stdout and stderr captured into out_buf / err_buf. */
#define CAPTURE(rc, call)                                                                   \
    do {                                                                                    \
        FILE *o_ = tmpfile(), *e_ = tmpfile();                                              \
        fflush(stdout);                                                                     \
        fflush(stderr);                                                                     \
        int so_ = dup(1), se_ = dup(2);                                                     \
        dup2(fileno(o_), 1);                                                                \
        dup2(fileno(e_), 2);                                                                \
        (rc) = (call);                                                                      \
        fflush(stdout);                                                                     \
        fflush(stderr);                                                                     \
        dup2(so_, 1);                                                                       \
        dup2(se_, 2);                                                                       \
        close(so_);                                                                         \
        close(se_);                                                                         \
        rewind(o_);                                                                         \
        rewind(e_);                                                                         \
        out_buf[fread(out_buf, 1, sizeof out_buf - 1, o_)] = '\0';                          \
        err_buf[fread(err_buf, 1, sizeof err_buf - 1, e_)] = '\0';                          \
        fclose(o_);                                                                         \
        fclose(e_);                                                                         \
    } while (0)

/* `roostctl [--json] experiment ARGS...` */
static int run(bool json, const char *first, ...)
{
    char *argv[40];
    int argc = 0, rc;
    va_list ap;
    struct roostctl g = {.server = "unused", .timeout_s = 1, .json = json};

    argv[argc++] = "experiment";
    va_start(ap, first);
    for (const char *a = first; a && argc < 39; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc] = NULL;
    CAPTURE(rc, roostctl_cmd_experiment(&g, argc, argv));
    return rc;
}

#define assert_contains(hay, needle)                                                        \
    do {                                                                                    \
        if (!strstr((hay), (needle)))                                                       \
            fail_msg("output does not contain \"%s\":\n%s", (needle), (hay));               \
    } while (0)

/* ------------------------------------------------------------------- plan */

static void plan_prints_units_per_arm_for_both_methods(void **state)
{
    (void)state;
    assert_int_equal(run(false, "plan", "--baseline", "0.10", "--mde", "0.02", "--alpha", "0.05",
                         "--power", "0.8", NULL),
                     ROOSTCTL_EXIT_OK);
    print_message("%s", out_buf);
    assert_contains(out_buf, "7,350 units per arm (14,700 in total) for the always-valid "
                             "sequential test");
    assert_contains(out_buf, "baseline 10.00 % -> 12.00 % (+2.00 points)");
    assert_contains(out_buf, "2 arms (1 treatment vs the control)");
    assert_contains(out_buf, "fixed horizon");
    assert_contains(out_buf, "3,841       7,682");
    assert_contains(out_buf, "read 20 times, evenly");
    assert_string_equal(err_buf, "");
}

static void plan_method_fixed_makes_the_fixed_number_the_headline(void **state)
{
    (void)state;
    assert_int_equal(run(false, "plan", "--baseline", "0.10", "--mde", "0.02", "--arms", "3",
                         "--method", "fixed", NULL),
                     ROOSTCTL_EXIT_OK);
    assert_contains(out_buf, "4,652 units per arm (13,956 in total) for the fixed-horizon test");
    assert_contains(out_buf, "alpha 0.05 across 2 treatments = 0.025 per comparison "
                             "(Bonferroni)");
}

static void plan_json_is_one_object_with_both_methods(void **state)
{
    cJSON *o;
    (void)state;

    assert_int_equal(run(true, "plan", "--baseline", "0.10", "--mde", "0.05", "--relative", NULL),
                     ROOSTCTL_EXIT_OK);
    o = cJSON_Parse(out_buf);
    assert_non_null(o);
    assert_string_equal(cJSON_GetObjectItem(o, "method")->valuestring, "sequential");
    assert_int_equal(cJSON_GetObjectItem(o, "perArm")->valuedouble, 110605);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "fixed"), "control")->valuedouble,
                     57763);
    assert_close(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "metric"), "delta")->valuedouble,
                 0.005, 1e-12);
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetObjectItem(o, "metric"), "mdeType")->valuestring,
        "relative");
    assert_int_equal(cJSON_GetObjectItem(
                         cJSON_GetObjectItem(cJSON_GetObjectItem(o, "sequential"), "simulation"),
                         "looks")
                         ->valueint,
                     20);
    /* One line, nothing else on stdout. */
    assert_non_null(strchr(out_buf, '\n'));
    assert_int_equal(strchr(out_buf, '\n')[1], '\0');
    cJSON_Delete(o);

    /* --json after the command works too (main.c normally takes it). */
    assert_int_equal(run(false, "plan", "--baseline", "0.1", "--mde", "0.02", "--json", NULL),
                     ROOSTCTL_EXIT_OK);
    assert_int_equal(out_buf[0], '{');
}

static void plan_for_a_mean_metric_needs_its_standard_deviation(void **state)
{
    (void)state;
    assert_int_equal(run(false, "plan", "--type", "mean", "--baseline", "120", "--mde", "2", NULL),
                     ROOSTCTL_EXIT_USAGE);
    assert_contains(err_buf, "roostctl: experiment plan: sd: a mean metric needs the control's "
                             "standard deviation");
    assert_int_equal(run(false, "plan", "--type", "mean", "--baseline", "120", "--sd", "40",
                         "--mde", "2", NULL),
                     ROOSTCTL_EXIT_OK);
    assert_contains(out_buf, "6,280");
    assert_contains(out_buf, "one Welch t-test at the end");
}

static void plan_usage_errors_say_what_to_do(void **state)
{
    (void)state;
    assert_int_equal(run(false, "plan", "--baseline", "0.10", NULL), ROOSTCTL_EXIT_USAGE);
    assert_contains(err_buf, "--baseline and --mde are required (e.g. --baseline 0.10 --mde "
                             "0.02)");
    assert_int_equal(run(false, "plan", "--baseline", "ten", "--mde", "0.02", NULL),
                     ROOSTCTL_EXIT_USAGE);
    assert_contains(err_buf, "experiment plan: --baseline: 'ten' is not a number");
    assert_int_equal(run(false, "plan", "--baseline", "1.5", "--mde", "0.02", NULL),
                     ROOSTCTL_EXIT_USAGE);
    assert_contains(err_buf, "a conversion rate must be above 0 and below 1, got 1.5");
    assert_int_equal(run(false, "plan", "--baseline", "0.1", "--mde", "0.02", "--method",
                         "bayes", NULL),
                     ROOSTCTL_EXIT_USAGE);
    assert_contains(err_buf, "--method: 'bayes' is not sequential or fixed");
    assert_int_equal(run(false, "plan", "--baseline", "0.1", "--mde", "0.02", "--alfa", "0.1",
                         NULL),
                     ROOSTCTL_EXIT_USAGE);
    assert_contains(err_buf, "unknown option '--alfa'");
    assert_int_equal(run(false, "plan", "--baseline", NULL), ROOSTCTL_EXIT_USAGE);
    assert_contains(err_buf, "--baseline needs a value");
    assert_int_equal(run(false, "nothing", NULL), ROOSTCTL_EXIT_USAGE);
    assert_contains(err_buf, "experiment: unknown subcommand 'nothing' (roostctl experiment --help)");
    assert_int_equal(run(false, "plan", "--help", NULL), ROOSTCTL_EXIT_OK);
    assert_contains(out_buf, "usage: roostctl experiment plan --baseline X --mde X");
}

static void plan_of_an_undetectable_effect_fails(void **state)
{
    (void)state;
    assert_int_equal(run(false, "plan", "--baseline", "0.1", "--mde", "1e-9", NULL),
                     ROOSTCTL_EXIT_FAIL);
    assert_contains(err_buf, "more than 10^12 observations per arm needed");
}

/* ---------------------------------------------------------------- results */

static cJSON *harm_analysis(void)
{
    struct experiment_spec s;
    struct experiment_analysis *a = calloc(1, sizeof *a);
    roost_error err = {0};
    cJSON *j;

    spec_from("{\"hypothesis\": \"h\", \"flag\": \"checkout\", \"control\": \"control\","
              " \"metrics\": {\"primary\": {\"name\": \"conversion\", \"type\": \"binomial\","
              " \"direction\": \"increase\", \"mde\": 0.01},"
              " \"guardrails\": [{\"name\": \"latency\", \"type\": \"mean\", \"direction\":"
              " \"decrease\", \"mde\": 5}]}}",
              &s);
    uint64_t exposures[] = {5000, 5000};
    struct experiment_agg aggs[] = {agg_rate(5000, 500), agg_rate(5000, 560),
                                    agg_mean(5000, 100, 20), agg_mean(5000, 110, 20)};
    struct experiment_observations obs = {exposures, aggs, 26 * 3600000LL};
    assert_int_equal(experiment_analyze(&s, &obs, NULL, a, &err), ROOST_OK);
    assert_int_equal(experiment_analysis_to_json(&s, a, &j, &err), ROOST_OK);
    free(a);
    return j;
}

/* The characters of the bar column on the row that starts with `arm`. */
static void bar_of(const char *out, const char *metric, const char *arm, char *bar)
{
    const char *m = strstr(out, metric), *row;
    char needle[64];

    assert_non_null(m);
    snprintf(needle, sizeof needle, "\n  %s ", arm);
    row = strstr(m, needle);
    assert_non_null(row);
    const char *b = strchr(row + 1, '.');
    assert_non_null(b);
    /* The bar is the first run of 31 characters from . | = # < > */
    while (b && strspn(b, ".|=#<>") < 31)
        b = strchr(b + 1, '.');
    assert_non_null(b);
    memcpy(bar, b, 31);
    bar[31] = '\0';
}

static void results_table_draws_effects_and_intervals_as_bars(void **state)
{
    cJSON *j = harm_analysis();
    struct roostctl g = {.server = "unused", .timeout_s = 1};
    char bar[32];
    int rc;
    (void)state;

    CAPTURE(rc, roostctl_experiment_print_results(&g, j));
    assert_int_equal(rc, ROOSTCTL_EXIT_OK);
    print_message("%s", out_buf);
    assert_contains(out_buf, "experiment exp  (flag checkout, sequential, look 1, running 1d2h)");
    assert_contains(out_buf, "exposures  control 5,000 (50.0%, planned 50%)");
    assert_contains(out_buf, "sample ratio ok (p = 1)");
    assert_contains(out_buf, "latency  guardrail mean, lower is better, always-valid test, "
                             "holm-adjusted");
    assert_contains(out_buf, "WORSE");
    assert_contains(out_buf, "verdict  STOP NOW -- roll back");
    assert_contains(out_buf, "  - guardrail 'latency' is worse in 'treatment'");

    /* Latency +10 %: the interval is right of zero, the estimate inside it. */
    bar_of(out_buf, "latency", "treatment", bar);
    const char *zero = strchr(bar, '|'), *lo = strchr(bar, '='), *est = strchr(bar, '#');
    assert_non_null(zero);
    assert_non_null(lo);
    assert_non_null(est);
    assert_true(zero < lo && lo < est);
    assert_int_equal(zero - bar, 15);

    /* Conversion's interval covers zero: zero stays marked inside it. */
    bar_of(out_buf, "conversion", "treatment", bar);
    assert_int_equal(bar[15], '|');
    assert_true(bar[14] == '=' && bar[16] == '=');
    cJSON_Delete(j);
}

static void results_json_is_the_analysis_unchanged(void **state)
{
    cJSON *j = harm_analysis();
    struct roostctl g = {.server = "unused", .timeout_s = 1, .json = true};
    char *want = cJSON_PrintUnformatted(j);
    int rc;
    (void)state;

    CAPTURE(rc, roostctl_experiment_print_results(&g, j));
    assert_int_equal(rc, ROOSTCTL_EXIT_OK);
    assert_int_equal(strlen(out_buf), strlen(want) + 1);
    assert_memory_equal(out_buf, want, strlen(want));
    cJSON_free(want);
    cJSON_Delete(j);
}

static void results_refuse_something_that_is_not_an_analysis(void **state)
{
    cJSON *j = cJSON_Parse("{\"flags\": {}}");
    struct roostctl g = {.server = "unused", .timeout_s = 1};
    int rc;
    (void)state;

    CAPTURE(rc, roostctl_experiment_print_results(&g, j));
    assert_int_equal(rc, ROOSTCTL_EXIT_FAIL);
    assert_contains(err_buf, "the server's answer is not an experiment analysis");
    cJSON_Delete(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plan_prints_units_per_arm_for_both_methods),
        cmocka_unit_test(plan_method_fixed_makes_the_fixed_number_the_headline),
        cmocka_unit_test(plan_json_is_one_object_with_both_methods),
        cmocka_unit_test(plan_for_a_mean_metric_needs_its_standard_deviation),
        cmocka_unit_test(plan_usage_errors_say_what_to_do),
        cmocka_unit_test(plan_of_an_undetectable_effect_fails),
        cmocka_unit_test(results_table_draws_effects_and_intervals_as_bars),
        cmocka_unit_test(results_json_is_the_analysis_unchanged),
        cmocka_unit_test(results_refuse_something_that_is_not_an_analysis),
    };
    return roost_run_tests("roostctl_experiment", tests);
}
