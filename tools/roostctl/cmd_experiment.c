/* roostctl experiment: planning experiments and showing their results.
 *
 *   roostctl experiment plan --baseline 0.10 --mde 0.02 [--alpha 0.05] [--power 0.8]
 *                            [--arms 2] [--relative] [--method sequential|fixed] [--json] ...
 *
 * `plan` works offline: it is server/experiment/plan.h with words around
 * it. It always prints both methods, because the choice between them is
 * the point of planning: the fixed-horizon test needs fewer units but may
 * be read only once, at the end; the always-valid test may be read at any
 * time and stopped early, and pays for that with a larger maximum sample.
 * The headline is the method asked for (sequential, the default of an
 * experiment document).
 *
 * roostctl_experiment_print_results draws the analysis JSON
 * (server/experiment/analysis.h, the same object decision records hold) as
 * a table with effects and intervals as text bars, or prints it as JSON.
 * The subcommands that talk to roostd (results, create, start, stop,
 * conclude) call it once their RPCs exist; nothing here pretends to reach
 * a server.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "roostctl.h"
#include "server/experiment/plan.h"

static const char usage[] =
    "usage: roostctl experiment plan --baseline X --mde X [options]\n"
    "       (create, list, start, stop, conclude, results: roostctl experiment start --help)\n"
    "\n"
    "Units needed per arm to detect an effect, for the always-valid sequential\n"
    "test (read any time, stop early) and the fixed-horizon test (read once).\n"
    "\n"
    "  --baseline X        the control's conversion rate (0.10), or its mean with\n"
    "                      --type mean\n"
    "  --mde X             the smallest effect worth detecting: absolute (0.02 = +2\n"
    "                      points on a rate), or a fraction of the baseline with\n"
    "                      --relative (0.05 = +5 %)\n"
    "  --relative          --mde is relative to the baseline\n"
    "  --decrease          the effect is a decrease (rates: the variance differs)\n"
    "  --type T            binomial (default) or mean\n"
    "  --sd X              mean metrics: the control's standard deviation (required)\n"
    "  --alpha A           significance level, two-sided, across treatments (0.05)\n"
    "  --power P           probability of detecting an effect of the MDE (0.8)\n"
    "  --arms N            arms including the control (2)\n"
    "  --correction C      bonferroni (default) or sidak, across treatments\n"
    "  --method M          sequential (default) or fixed: the headline number\n"
    "  --looks N           sequential: evenly spaced looks to simulate (20)\n"
    "  --json              the plan as one JSON object\n"
    "\n"
    "Exit status: 0 planned, 1 the effect is too small to plan for, 2 usage error\n"
    "(including values out of range).\n"
    "docs/experiments.md explains the formulas.\n";

/* ---------------------------------------------------------------- numbers */

/* 1234567 -> "1,234,567" */
static void fmt_count(uint64_t n, char *out, size_t cap)
{
    char digits[32], tmp[48];
    size_t len, j = 0;

    snprintf(digits, sizeof digits, "%" PRIu64, n);
    len = strlen(digits);
    for (size_t i = 0; i < len && j + 2 < sizeof tmp; i++) {
        if (i && (len - i) % 3 == 0)
            tmp[j++] = ',';
        tmp[j++] = digits[i];
    }
    tmp[j] = '\0';
    if (cap) {
        size_t n = j < cap - 1 ? j : cap - 1;
        memcpy(out, tmp, n);
        out[n] = '\0';
    }
}

static bool parse_double(const char *s, double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v))
        return false;
    *out = v;
    return true;
}

static bool parse_uint(const char *s, uint32_t max, uint32_t *out)
{
    char *end;
    unsigned long v;

    if (*s < '0' || *s > '9')
        return false;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || *end || v > max)
        return false;
    *out = (uint32_t)v;
    return true;
}

/* ------------------------------------------------------------------- plan */

static cJSON *plan_json(const struct experiment_plan_input *in, const struct experiment_plan *p,
                        bool fixed)
{
    cJSON *o = cJSON_CreateObject(), *m, *f, *s, *sim;

    if (!o || !(m = cJSON_AddObjectToObject(o, "metric")) ||
        !cJSON_AddStringToObject(m, "type", experiment_metric_type_name(in->type)) ||
        !cJSON_AddNumberToObject(m, "baseline", in->baseline) ||
        (in->type == EXPERIMENT_MEAN && !cJSON_AddNumberToObject(m, "sd", in->sd)) ||
        !cJSON_AddNumberToObject(m, "mde", in->mde) ||
        !cJSON_AddStringToObject(m, "mdeType", in->relative ? "relative" : "absolute") ||
        !cJSON_AddStringToObject(m, "direction", experiment_direction_name(in->direction)) ||
        !cJSON_AddNumberToObject(m, "delta", p->delta) ||
        !cJSON_AddNumberToObject(m, "treatment", p->treatment_value) ||
        !cJSON_AddNumberToObject(o, "alpha", in->alpha) ||
        !cJSON_AddNumberToObject(o, "power", in->power) ||
        !cJSON_AddNumberToObject(o, "arms", in->arms) ||
        !cJSON_AddStringToObject(o, "correction", experiment_correction_name(in->correction)) ||
        !cJSON_AddNumberToObject(o, "alphaPerComparison", p->alpha_comparison) ||
        !cJSON_AddStringToObject(o, "method", fixed ? "fixed" : "sequential") ||
        !cJSON_AddNumberToObject(o, "perArm",
                                 (double)(fixed ? p->fixed_control : p->seq_control)) ||
        !cJSON_AddNumberToObject(o, "total", (double)(fixed ? p->fixed_total : p->seq_total)) ||
        !(f = cJSON_AddObjectToObject(o, "fixed")) ||
        !cJSON_AddStringToObject(f, "test", in->type == EXPERIMENT_BINOMIAL ? "two-proportion"
                                                                            : "welch") ||
        !cJSON_AddNumberToObject(f, "control", (double)p->fixed_control) ||
        !cJSON_AddNumberToObject(f, "treatment", (double)p->fixed_treatment) ||
        !cJSON_AddNumberToObject(f, "total", (double)p->fixed_total) ||
        !(s = cJSON_AddObjectToObject(o, "sequential")) ||
        !cJSON_AddStringToObject(s, "test", "msprt") ||
        !cJSON_AddNumberToObject(s, "control", (double)p->seq_control) ||
        !cJSON_AddNumberToObject(s, "treatment", (double)p->seq_treatment) ||
        !cJSON_AddNumberToObject(s, "total", (double)p->seq_total) ||
        !cJSON_AddNumberToObject(s, "boundary", p->boundary) ||
        !cJSON_AddNumberToObject(s, "tau2", p->tau2) ||
        !cJSON_AddNumberToObject(s, "inflation", p->seq_inflation)) {
        cJSON_Delete(o);
        return NULL;
    }
    if (p->looks > 1) {
        if (!(sim = cJSON_AddObjectToObject(s, "simulation")) ||
            !cJSON_AddNumberToObject(sim, "looks", p->looks) ||
            !cJSON_AddNumberToObject(sim, "paths", p->sim_paths) ||
            !cJSON_AddNumberToObject(sim, "powerAtBound", p->sim_power) ||
            !cJSON_AddNumberToObject(sim, "expectedFraction", p->sim_expected_fraction) ||
            !cJSON_AddNumberToObject(sim, "control", (double)p->sim_control) ||
            !cJSON_AddNumberToObject(sim, "treatment", (double)p->sim_treatment)) {
            cJSON_Delete(o);
            return NULL;
        }
    }
    return o;
}

static void print_plan(const struct experiment_plan_input *in, const struct experiment_plan *p,
                       bool fixed)
{
    char a[32], b[32], c[32], d[32];
    bool rate = in->type == EXPERIMENT_BINOMIAL;
    uint32_t k = in->arms - 1;

    fmt_count(fixed ? p->fixed_control : p->seq_control, a, sizeof a);
    fmt_count(fixed ? p->fixed_total : p->seq_total, b, sizeof b);
    printf("%s units per arm (%s in total) for the %s\n\n", a, b,
           fixed ? "fixed-horizon test" : "always-valid sequential test");

    char rel[48] = "";
    if (in->relative)
        snprintf(rel, sizeof rel, "%+g %% relative = ",
                 100 * in->mde * (in->direction == EXPERIMENT_DECREASE ? -1 : 1));
    if (rate)
        printf("  metric     conversion rate, baseline %.2f %% -> %.2f %% (%s%+.2f points)\n",
               100 * in->baseline, 100 * p->treatment_value, rel, 100 * p->delta);
    else
        printf("  metric     mean, baseline %g (sd %g) -> %g (%s%+g)\n", in->baseline, in->sd,
               p->treatment_value, rel, p->delta);
    if (k == 1)
        printf("  test       two-sided, alpha %g, power %g %%, 2 arms (1 treatment vs the "
               "control)\n\n",
               in->alpha, 100 * in->power);
    else
        printf("  test       two-sided, alpha %g across %u treatments = %.4g per comparison "
               "(%s), power %g %%, %u arms\n\n",
               in->alpha, k, p->alpha_comparison,
               in->correction == EXPERIMENT_SIDAK ? "Sidak" : "Bonferroni", 100 * in->power,
               in->arms);

    printf("  %-30s %10s %11s\n", "method", "per arm", "total");
    fmt_count(p->seq_control, a, sizeof a);
    fmt_count(p->seq_total, b, sizeof b);
    printf("  %-30s %10s %11s   %g %% power even if read only once, at the end\n",
           "sequential (always-valid)", a, b, 100 * in->power);
    if (p->looks > 1) {
        char label[40];
        fmt_count(p->sim_control, a, sizeof a);
        fmt_count(p->sim_control + (uint64_t)k * p->sim_treatment, b, sizeof b);
        fmt_count(p->seq_control, c, sizeof c);
        snprintf(label, sizeof label, "  read %u times, evenly", p->looks);
        printf("  %-30s %10s %11s   simulated: %.1f %% power at %s, stops at %.0f %% of it on "
               "average\n",
               label, a, b, 100 * p->sim_power, c, 100 * p->sim_expected_fraction);
    }
    fmt_count(p->fixed_control, a, sizeof a);
    fmt_count(p->fixed_total, b, sizeof b);
    snprintf(d, sizeof d, "%.2f", p->seq_inflation);
    printf("  %-30s %10s %11s   one %s at the end (sequential needs %sx)\n", "fixed horizon", a,
           b, rate ? "pooled two-proportion z-test" : "Welch t-test", d);
}

static int cmd_plan(const struct roostctl *g, int argc, char **argv)
{
    struct experiment_plan_input in = {
        .type = EXPERIMENT_BINOMIAL,
        .alpha = 0.05,
        .power = 0.8,
        .arms = 2,
        .looks = EXPERIMENT_PLAN_DEFAULT_LOOKS,
    };
    struct experiment_plan p;
    roost_error err = {0};
    bool have_baseline = false, have_mde = false, fixed = false, json = g->json;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true;

        if (strcmp(a, "--relative") == 0) {
            in.relative = true;
            continue;
        }
        if (strcmp(a, "--decrease") == 0) {
            in.direction = EXPERIMENT_DECREASE;
            continue;
        }
        if (strcmp(a, "--json") == 0) {
            json = true;
            continue;
        }
        if (strncmp(a, "--", 2) != 0)
            return roostctl_fail(ROOSTCTL_EXIT_USAGE,
                                 "experiment plan: unexpected argument '%s' (options start with "
                                 "--; roostctl experiment plan --help)",
                                 a);
        if (!v)
            return roostctl_fail(ROOSTCTL_EXIT_USAGE, "experiment plan: %s needs a value", a);
        i++;
        if (strcmp(a, "--baseline") == 0)
            ok = have_baseline = parse_double(v, &in.baseline);
        else if (strcmp(a, "--mde") == 0)
            ok = have_mde = parse_double(v, &in.mde);
        else if (strcmp(a, "--sd") == 0)
            ok = parse_double(v, &in.sd);
        else if (strcmp(a, "--alpha") == 0)
            ok = parse_double(v, &in.alpha);
        else if (strcmp(a, "--power") == 0)
            ok = parse_double(v, &in.power);
        else if (strcmp(a, "--arms") == 0)
            ok = parse_uint(v, 1000, &in.arms);
        else if (strcmp(a, "--looks") == 0)
            ok = parse_uint(v, EXPERIMENT_PLAN_MAX_LOOKS, &in.looks) && in.looks >= 1;
        else if (strcmp(a, "--type") == 0) {
            if (strcmp(v, "binomial") == 0)
                in.type = EXPERIMENT_BINOMIAL;
            else if (strcmp(v, "mean") == 0)
                in.type = EXPERIMENT_MEAN;
            else
                ok = false;
        } else if (strcmp(a, "--method") == 0) {
            if (strcmp(v, "sequential") == 0 || strcmp(v, "fixed") == 0)
                fixed = strcmp(v, "fixed") == 0;
            else
                ok = false;
        } else if (strcmp(a, "--correction") == 0) {
            if (strcmp(v, "bonferroni") == 0)
                in.correction = EXPERIMENT_BONFERRONI;
            else if (strcmp(v, "sidak") == 0)
                in.correction = EXPERIMENT_SIDAK;
            else
                ok = false;
        } else {
            return roostctl_fail(ROOSTCTL_EXIT_USAGE,
                                 "experiment plan: unknown option '%s' (roostctl experiment plan "
                                 "--help)",
                                 a);
        }
        if (!ok)
            return roostctl_fail(ROOSTCTL_EXIT_USAGE,
                                 "experiment plan: %s: '%s' is not %s", a, v,
                                 strcmp(a, "--type") == 0     ? "binomial or mean"
                                 : strcmp(a, "--method") == 0 ? "sequential or fixed"
                                 : strcmp(a, "--correction") == 0 ? "bonferroni or sidak"
                                 : strcmp(a, "--arms") == 0       ? "a whole number"
                                 : strcmp(a, "--looks") == 0      ? "a whole number from 1 to 1000"
                                                                  : "a number");
    }
    if (!have_baseline || !have_mde)
        return roostctl_fail(ROOSTCTL_EXIT_USAGE,
                             "experiment plan: --baseline and --mde are required (e.g. "
                             "--baseline 0.10 --mde 0.02)");
    /* A value out of range is a usage error; an effect too small to plan
     * for (or no memory for the simulation) is a failure. */
    if (experiment_plan_compute(&in, &p, &err) != ROOST_OK)
        return roostctl_fail(err.code == ROOST_EINVAL ? ROOSTCTL_EXIT_USAGE : ROOSTCTL_EXIT_FAIL,
                             "experiment plan: %s", err.msg);
    if (json) {
        cJSON *o = plan_json(&in, &p, fixed);
        if (!o)
            return roostctl_fail(ROOSTCTL_EXIT_FAIL, "experiment plan: out of memory");
        roostctl_print_json(o);
    } else {
        print_plan(&in, &p, fixed);
    }
    return ROOSTCTL_EXIT_OK;
}

/* ---------------------------------------------------------------- results */

static double num(const cJSON *o, const char *key, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

static const char *str(const cJSON *o, const char *key, const char *dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) && v->valuestring ? v->valuestring : dflt;
}

static bool flag(const cJSON *o, const char *key)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

#define BAR_WIDTH 31

/* [lo, hi] around est on an axis from -range to +range, with 0 marked:
 *   [...........|...====#====.....]
 * Out-of-range ends are clipped with '<' / '>'. */
static void bar(double lo, double est, double hi, double range, char *out)
{
    int mid = BAR_WIDTH / 2;

    for (int i = 0; i < BAR_WIDTH; i++)
        out[i] = '.';
    out[BAR_WIDTH] = '\0';
    out[mid] = '|';
    if (!(range > 0) || !isfinite(lo) || !isfinite(hi) || !isfinite(est))
        return;
#define POS(x) ((int)floor(((x) / range) * mid + mid + 0.5))
    int a = POS(lo), b = POS(hi), e = POS(est);
#undef POS
    bool clip_lo = a < 0, clip_hi = b > BAR_WIDTH - 1;
    if (a < 0)
        a = 0;
    if (b > BAR_WIDTH - 1)
        b = BAR_WIDTH - 1;
    for (int i = a; i <= b; i++)
        out[i] = '=';
    out[mid] = '|'; /* zero stays visible inside an interval that covers it */
    if (e >= 0 && e < BAR_WIDTH)
        out[e] = '#';
    if (clip_lo)
        out[0] = '<';
    if (clip_hi)
        out[BAR_WIDTH - 1] = '>';
}

/* The interval a row shows: relative when there is one (comparable across
 * metrics), else absolute. *pct: print as percentages. */
static const cJSON *shown_interval(const cJSON *cmp, bool *relative)
{
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(cmp, "relative");
    *relative = cJSON_IsObject(r);
    return *relative ? r : cJSON_GetObjectItemCaseSensitive(cmp, "absolute");
}

static void fmt_effect(double v, bool relative, bool rate, char *out, size_t cap)
{
    if (!isfinite(v))
        snprintf(out, cap, "?");
    else if (relative)
        snprintf(out, cap, "%+.1f%%", 100 * v);
    else if (rate)
        snprintf(out, cap, "%+.2fpp", 100 * v);
    else
        snprintf(out, cap, "%+.3g", v);
}

static void fmt_p(double p, char *out, size_t cap)
{
    if (!isfinite(p))
        snprintf(out, cap, "-");
    else if (p < 0.0001)
        snprintf(out, cap, "<0.0001");
    else
        snprintf(out, cap, "%.4f", p);
}

static void print_metric(const cJSON *m)
{
    const cJSON *arms = cJSON_GetObjectItemCaseSensitive(m, "arms");
    const cJSON *cmps = cJSON_GetObjectItemCaseSensitive(m, "comparisons"), *c, *arm;
    bool rate = strcmp(str(m, "type", ""), "binomial") == 0;
    bool seq = strcmp(str(m, "test", ""), "msprt") == 0;
    double range = 0;
    char level[32];

    snprintf(level, sizeof level, "%g %% interval", 100 * (1 - num(m, "alpha", 0.05)));
    printf("\n%s  %s %s, %s is better, %s test, %s-adjusted\n", str(m, "name", "?"),
           str(m, "role", "?"), str(m, "type", "?"),
           strcmp(str(m, "direction", ""), "decrease") == 0 ? "lower" : "higher",
           seq ? "always-valid" : str(m, "test", "?"), str(m, "adjustment", "?"));

    /* One scale for the metric's rows, so bars compare. */
    cJSON_ArrayForEach(c, cmps)
    {
        bool rel;
        const cJSON *iv = shown_interval(c, &rel);
        double lo = num(iv, "lo", NAN), hi = num(iv, "hi", NAN), e = num(iv, "estimate", NAN);
        if (isfinite(lo) && fabs(lo) > range)
            range = fabs(lo);
        if (isfinite(hi) && fabs(hi) > range)
            range = fabs(hi);
        if (!isfinite(lo) && isfinite(e) && fabs(e) > range)
            range = fabs(e);
    }
    range *= 1.1;

    printf("  %-14s %10s %10s  %-26s %-*s  %7s %7s %6s  %s\n", "arm", "n", "value",
           seq ? "effect [always-valid CI]" : "effect [CI]", BAR_WIDTH, level, "p", "adj.p",
           "power", "outcome");
    cJSON_ArrayForEach(arm, arms)
    {
        const char *name = str(arm, "name", "?");
        double n = num(arm, "n", 0), v = num(arm, "value", NAN);
        char cnt[32], val[32];

        fmt_count((uint64_t)n, cnt, sizeof cnt);
        if (!isfinite(v))
            snprintf(val, sizeof val, "-");
        else if (rate)
            snprintf(val, sizeof val, "%.2f%%", 100 * v);
        else
            snprintf(val, sizeof val, "%.4g", v);
        const cJSON *match = NULL;
        cJSON_ArrayForEach(c, cmps)
        {
            if (strcmp(str(c, "arm", ""), name) == 0)
                match = c;
        }
        if (!match) {
            printf("  %-14s %10s %10s  (control)\n", name, cnt, val);
            continue;
        }
        bool rel;
        const cJSON *iv = shown_interval(match, &rel);
        char eff[80] = "-", e[24], lo[24], hi[24], b[BAR_WIDTH + 1], p[16], pa[16], pw[16];
        const char *outcome = str(match, "outcome", "?");
        if (cJSON_IsObject(iv)) {
            fmt_effect(num(iv, "estimate", NAN), rel, rate, e, sizeof e);
            fmt_effect(num(iv, "lo", NAN), rel, rate, lo, sizeof lo);
            fmt_effect(num(iv, "hi", NAN), rel, rate, hi, sizeof hi);
            snprintf(eff, sizeof eff, "%s [%s, %s]", e, lo, hi);
            bar(num(iv, "lo", NAN), num(iv, "estimate", NAN), num(iv, "hi", NAN), range, b);
        } else {
            bar(NAN, NAN, NAN, 0, b);
        }
        fmt_p(num(match, "p", NAN), p, sizeof p);
        fmt_p(num(match, "pAdjusted", NAN), pa, sizeof pa);
        if (num(match, "power", -1) >= 0)
            snprintf(pw, sizeof pw, "%.0f%%", 100 * num(match, "power", 0));
        else
            snprintf(pw, sizeof pw, "-");
        printf("  %-14s %10s %10s  %-26s %s  %7s %7s %6s  %s%s\n", name, cnt, val, eff, b, p, pa,
               pw, strcmp(outcome, "worse") == 0 ? "WORSE" : outcome,
               flag(match, "provisional") ? " (provisional)" : "");
    }
}

int roostctl_experiment_print_results(const struct roostctl *g, const struct cJSON *analysis)
{
    const cJSON *a = analysis, *arms, *arm, *srm, *v, *m, *r;
    char line[512];
    size_t used = 0;
    double total = 0;

    if (!cJSON_IsObject(a) || !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(a, "metrics")) ||
        !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(a, "verdict")))
        return roostctl_fail(ROOSTCTL_EXIT_FAIL,
                             "experiment results: the server's answer is not an experiment "
                             "analysis (a newer roostd? update roostctl)");
    if (g->json) {
        char *text = cJSON_PrintUnformatted(a);
        if (!text)
            return roostctl_fail(ROOSTCTL_EXIT_FAIL, "experiment results: out of memory");
        puts(text);
        fflush(stdout);
        cJSON_free(text);
        return ROOSTCTL_EXIT_OK;
    }

    char dur[32];
    double ms = num(a, "elapsedMs", 0);
    experiment_duration_format((int64_t)ms, dur, sizeof dur);
    printf("experiment %s  (flag %s, %s, look %.0f, running %s)\n", str(a, "experiment", "?"),
           str(a, "flag", "?"), str(a, "method", "?"), num(a, "looks", 0), dur);

    arms = cJSON_GetObjectItemCaseSensitive(a, "arms");
    cJSON_ArrayForEach(arm, arms)
    {
        total += num(arm, "exposures", 0);
    }
    cJSON_ArrayForEach(arm, arms)
    {
        char cnt[32];
        int w;
        fmt_count((uint64_t)num(arm, "exposures", 0), cnt, sizeof cnt);
        w = snprintf(line + used, sizeof line - used, "%s%s %s (%.1f%%, planned %g%%)",
                     used ? "   " : "", str(arm, "name", "?"), cnt,
                     total > 0 ? 100 * num(arm, "exposures", 0) / total : 0.0,
                     num(arm, "weight", 0));
        if (w < 0 || (size_t)w >= sizeof line - used)
            break;
        used += (size_t)w;
    }
    printf("exposures  %s\n", line);
    srm = cJSON_GetObjectItemCaseSensitive(a, "srm");
    if (flag(srm, "mismatch"))
        printf("sample ratio MISMATCH (chi-square %.1f, p = %.2g < %g): results cannot be "
               "trusted\n",
               num(srm, "chi2", NAN), num(srm, "p", NAN), num(srm, "alpha", 0.001));
    else
        printf("sample ratio ok (p = %.2g)\n", num(srm, "p", 1));

    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(a, "metrics"))
    {
        print_metric(m);
    }

    v = cJSON_GetObjectItemCaseSensitive(a, "verdict");
    const char *action = str(v, "action", "?"), *conclusion = str(v, "conclusion", "?");
    printf("\nverdict  %s -- %s%s%s%s\n",
           strcmp(action, "stop_now") == 0 ? "STOP NOW"
           : strcmp(action, "stop") == 0   ? "STOP"
                                           : "CONTINUE",
           strcmp(conclusion, "ship") == 0        ? "ship '"
           : strcmp(conclusion, "roll_back") == 0 ? "roll back"
                                                  : "inconclusive",
           strcmp(conclusion, "ship") == 0 ? str(v, "arm", "?") : "",
           strcmp(conclusion, "ship") == 0 ? "'" : "",
           strcmp(action, "continue") == 0 ? " if it ended now" : "");
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(v, "reasons"))
    {
        if (cJSON_IsString(r))
            printf("  - %s\n", r->valuestring);
    }
    fflush(stdout);
    return ROOSTCTL_EXIT_OK;
}

/* ------------------------------------------------------------------ entry */

int roostctl_cmd_experiment(const struct roostctl *g, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? ROOSTCTL_EXIT_USAGE : ROOSTCTL_EXIT_OK;
    }
    if (strcmp(argv[1], "plan") == 0) {
        if (roostctl_wants_help(argc - 1, argv + 1)) {
            fputs(usage, stdout);
            return ROOSTCTL_EXIT_OK;
        }
        return cmd_plan(g, argc - 1, argv + 1);
    }
    return roostctl_fail(ROOSTCTL_EXIT_USAGE,
                         "experiment: unknown subcommand '%s' (roostctl experiment --help)",
                         argv[1]);
}
