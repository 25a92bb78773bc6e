/* roost-sim live: a scenario's traffic through the real C SDK against a
 * running roostd, in real time (the driver is live.c; live.h says what is
 * real and what is simulated).
 *
 * Output for a person: a header (the rollout, the traffic, the two
 * services), the decisions as roostd makes them (one line each, as virtual
 * mode prints them), a live progress line kept up to date below them on a
 * terminal (every 5 s as a plain line otherwise), then the outcome and
 * what was sent. With --json: the run object of virtual mode (the records
 * as roostd stores them, then the outcome), nothing else on stdout.
 */
#include <cjson/cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "server/auth.h"
#include "tools/sim/cli.h"
#include "tools/sim/live.h"
#include "tools/sim/report.h"
#include "tools/sim/scenario.h"

#define MAX_FOR_S (7LL * 24 * 3600)
#define PIPE_PROGRESS_MS 5000 /* progress lines when stdout is not a terminal */

void sim_cmd_live_help(void)
{
    puts("roost-sim live: a scenario's traffic through the C SDK against a running roostd\n"
         "\n"
         "Usage: roost-sim live SCENARIO.json --server HOST:PORT [--rollout NAME]\n"
         "                      [--token-file F] [--admin-token-file F] [--for SECONDS]\n"
         "                      [--seed S] [--json]\n"
         "\n"
         "Simulated service instances send requests at the scenario's rate and shape, in real\n"
         "time. The real C SDK routes each one to the baseline or the canary at the weight\n"
         "roostd streams; the arm's model (errors, latency, incidents) answers it, and the SDK\n"
         "reports the outcome (the simulated latency) every flushInterval. roostd's controller\n"
         "decides. A pending rollout is started; one already progressing is joined. The run\n"
         "ends when the rollout is promoted or rolled back, or after --for.\n"
         "\n"
         "Options:\n"
         "  --server HOST:PORT     roostd's gRPC address (default $ROOST_SERVER)\n"
         "  --rollout NAME         the rollout on roostd (default: the scenario's rollout's name)\n"
         "  --token-file F         token for roostd's --sdk-token-file, also sent on the admin\n"
         "                         calls unless --admin-token-file is given\n"
         "  --admin-token-file F   token for roostd's --admin-token-file (starting the rollout,\n"
         "                         reading its decisions; default $ROOST_TOKEN_FILE)\n"
         "  --for SECONDS          stop after this long (default: the scenario's duration)\n"
         "  --seed S               the simulated services' random numbers (default 1)\n"
         "  --json                 one JSON object: the decision records as roostd stores them,\n"
         "                         and the outcome (no progress line)\n"
         "\n"
         "Exit status: 0 the rollout was promoted or rolled back (or --for passed), 1 the run\n"
         "could not be carried out (roostd unreachable, no such rollout, interrupted),\n"
         "2 bad command line or scenario file.");
}

struct opts {
    const char *scenario, *server, *rollout, *token_file, *admin_token_file;
    uint64_t for_s, seed;
    bool json;
};

static int parse_opts(int argc, char **argv, struct opts *o)
{
    memset(o, 0, sizeof *o);
    o->seed = 1;
    o->server = getenv("ROOST_SERVER");
    o->admin_token_file = getenv("ROOST_TOKEN_FILE");
    if (o->server && !o->server[0])
        o->server = NULL;
    if (o->admin_token_file && !o->admin_token_file[0])
        o->admin_token_file = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **text = NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            sim_cmd_live_help();
            return -1;
        }
        if (strcmp(a, "--server") == 0)
            text = &o->server;
        else if (strcmp(a, "--rollout") == 0)
            text = &o->rollout;
        else if (strcmp(a, "--token-file") == 0)
            text = &o->token_file;
        else if (strcmp(a, "--admin-token-file") == 0)
            text = &o->admin_token_file;
        if (text || strcmp(a, "--for") == 0 || strcmp(a, "--seed") == 0) {
            if (i + 1 >= argc || !argv[i + 1][0])
                return sim_cli_usage_error("live", "%s needs a value", a);
            if (text)
                *text = argv[++i];
            else if (strcmp(a, "--for") == 0 ? !sim_cli_u64(a, argv[++i], 1, MAX_FOR_S, &o->for_s)
                                             : !sim_cli_u64(a, argv[++i], 0, UINT64_MAX, &o->seed))
                return SIM_EXIT_USAGE;
        } else if (strcmp(a, "--json") == 0) {
            o->json = true;
        } else if (a[0] == '-' && a[1]) {
            return sim_cli_usage_error("live", "unknown option '%s'", a);
        } else if (o->scenario) {
            return sim_cli_usage_error("live", "one scenario file at a time (got '%s' and '%s')",
                                       o->scenario, a);
        } else {
            o->scenario = a;
        }
    }
    if (!o->scenario)
        return sim_cli_usage_error("live", "missing the scenario file");
    if (!o->server)
        return sim_cli_usage_error("live", "which roostd? pass --server HOST:PORT (or set ROOST_SERVER)");
    return SIM_EXIT_OK;
}

/* ---- output ----------------------------------------------------------------- */

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

struct ui {
    struct sim_printer pr;
    bool json, tty;
    bool line_shown;   /* a progress line is on the terminal without its newline */
    int64_t next_pipe_line_ms;
    unsigned width;
    char *analysis; /* the record of the latest decision with an analysis (malloc'd) */
};

static void clear_line(struct ui *u)
{
    if (u->line_shown) {
        fputs("\r\033[K", stdout);
        fflush(stdout);
        u->line_shown = false;
    }
}

static void on_event(void *user, const struct sim_event *ev)
{
    struct ui *u = user;
    struct sim_event e = *ev;

    clear_line(u);
    if (!u->json) {
        /* Whole seconds, as virtual mode prints them: roostd decides a few
         * ms after each wakeup, and "6s" reads better than "6.004s" beside
         * virtual mode's timeline. The JSON records keep the exact time. */
        int64_t rel = e.at_ms - u->pr.t0_ms;
        e.at_ms = u->pr.t0_ms + (rel + 500) / 1000 * 1000;
    }
    sim_print_event(&u->pr, &e);
    fflush(stdout);
    if (e.record && strstr(e.record, "\"analysis\":{")) {
        char *copy = malloc(e.record_len + 1);
        if (copy) {
            memcpy(copy, e.record, e.record_len);
            copy[e.record_len] = '\0';
            free(u->analysis);
            u->analysis = copy;
        }
    }
}

/* The checks of the analysis that decided (or the latest one), one line
 * each, from roostd's record. */
static void print_analysis(const char *record, int64_t t0_ms)
{
    cJSON *rec = cJSON_Parse(record);
    const cJSON *an = rec ? cJSON_GetObjectItemCaseSensitive(rec, "analysis") : NULL;
    const cJSON *checks = an ? cJSON_GetObjectItemCaseSensitive(an, "checks") : NULL;
    const cJSON *at = rec ? cJSON_GetObjectItemCaseSensitive(rec, "at") : NULL;
    const cJSON *c;

    if (cJSON_IsArray(checks) && cJSON_GetArraySize(checks) > 0) {
        printf("the last analysis, check by check (roostd's decision record, at %.0fs):\n",
               cJSON_IsNumber(at) ? (at->valuedouble - (double)t0_ms) / 1000.0 : 0.0);
        cJSON_ArrayForEach(c, checks)
        {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, "verdict");
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(c, "text");
            const char *verdict = cJSON_IsString(v) ? v->valuestring : "?";
            printf("  %-6s  %s\n", strcmp(verdict, "failed") == 0 ? "FAILED" : verdict,
                   cJSON_IsString(t) ? t->valuestring : "");
        }
    }
    cJSON_Delete(rec);
}

static void on_note(void *user, const char *line)
{
    struct ui *u = user;

    clear_line(u);
    fprintf(stderr, "roost-sim: %s\n", line);
}

static void pct(char *out, size_t cap, uint64_t x, uint64_t n)
{
    if (n)
        snprintf(out, cap, "%.2f%%", 100.0 * (double)x / (double)n);
    else
        snprintf(out, cap, "-");
}

static void on_progress(void *user, const struct sim_live_progress *p)
{
    struct ui *u = user;
    char line[512], state[320], eb[32], ec[32];
    int n;

    if (u->json)
        return;
    if (!u->tty) {
        if (p->t_ms < u->next_pipe_line_ms)
            return;
        u->next_pipe_line_ms = p->t_ms - p->t_ms % PIPE_PROGRESS_MS + PIPE_PROGRESS_MS;
    }
    if (!p->roostd_answers) {
        snprintf(state, sizeof state, "roostd does not answer (SDK %s)",
                 roost_client_state_name(p->sdk_state));
    } else if (p->paused_reason[0]) {
        snprintf(state, sizeof state, "%s (%s)", p->phase, p->paused_reason);
    } else if (p->steps) {
        /* "analysis 1/3 passed (0 failed, 0 inconclusive)": the counts
         * before the parenthesis are what a glance needs. */
        char step[128];
        size_t len;
        snprintf(step, sizeof step, "%s", p->step_description);
        len = strcspn(step, "(");
        while (len > 0 && step[len - 1] == ' ')
            len--;
        step[len] = '\0';
        snprintf(state, sizeof state, "%s  step %u/%u %s", p->phase,
                 p->step + (p->step < p->steps ? 1 : 0), p->steps, step);
    } else {
        snprintf(state, sizeof state, "%s", p->phase);
    }
    pct(eb, sizeof eb, p->errors[ROLLOUT_ARM_BASELINE], p->requests[ROLLOUT_ARM_BASELINE]);
    pct(ec, sizeof ec, p->errors[ROLLOUT_ARM_CANARY], p->requests[ROLLOUT_ARM_CANARY]);
    n = snprintf(line, sizeof line,
                 "%7.1fs  %s  weight %.4g%%  |  sent %llu  failed: baseline %llu/%llu (%s)  canary "
                 "%llu/%llu (%s)",
                 (double)p->t_ms / 1000.0, state, p->weight_bp / 100.0,
                 (unsigned long long)(p->requests[0] + p->requests[1]),
                 (unsigned long long)p->errors[ROLLOUT_ARM_BASELINE],
                 (unsigned long long)p->requests[ROLLOUT_ARM_BASELINE], eb,
                 (unsigned long long)p->errors[ROLLOUT_ARM_CANARY],
                 (unsigned long long)p->requests[ROLLOUT_ARM_CANARY], ec);
    if (!u->tty) {
        printf("%s\n", line);
        fflush(stdout);
        return;
    }
    /* One terminal row: a wrapped line could not be redrawn in place. */
    if (n > 0 && u->width > 1 && (unsigned)n >= u->width)
        line[u->width - 1] = '\0';
    printf("\r\033[K%s", line);
    fflush(stdout);
    u->line_shown = true;
}

static void print_header(const struct sim_scenario *sc, const struct sim_live_target *t,
                         const char *server, uint64_t seed)
{
    const struct sim_service *b = &sc->model.arm[ROLLOUT_ARM_BASELINE];
    const struct sim_service *c = &sc->model.arm[ROLLOUT_ARM_CANARY];
    const struct sim_traffic *tr = &sc->model.traffic;

    printf("%s (roost, live against roostd at %s), seed %llu\n", sc->name, server,
           (unsigned long long)seed);
    printf("  rollout %s: %s %s -> %s, %u steps, %s\n", t->name, t->service, t->baseline, t->canary,
           t->steps, t->started_here ? "started by roost-sim" : "joined (it was already running)");
    if (tr->shape == SIM_SHAPE_BURSTY)
        printf("  traffic: bursty, %g requests/s quiet, %g in bursts\n", tr->quiet_rate, tr->burst_rate);
    else
        printf("  traffic: %s, %g requests/s\n", sim_shape_name(tr->shape), tr->rate);
    printf("  baseline: %.2f %% errors, latency median %g ms; canary: %.2f %% errors, median %g ms",
           100.0 * b->error_rate, b->latency.median_ms, 100.0 * c->error_rate, c->latency.median_ms);
    if (sc->model.nincidents)
        printf("; %zu incident%s", sc->model.nincidents, sc->model.nincidents == 1 ? "" : "s");
    printf("\n");
    fflush(stdout);
}

static void print_summary(const struct sim_live_result *r)
{
    uint64_t sent = r->requests[0] + r->requests[1];
    uint64_t dropped = r->sdk.dropped_memory_limit + r->sdk.dropped_series_limit + r->sdk.dropped_rejected;

    printf("sent %llu requests in %.1fs: baseline %llu (%llu failed), canary %llu (%llu failed); "
           "the SDK sent %llu batches, %llu acknowledged, %llu outcomes dropped%s\n",
           (unsigned long long)sent, (double)r->traffic_ms / 1000.0,
           (unsigned long long)r->requests[ROLLOUT_ARM_BASELINE],
           (unsigned long long)r->errors[ROLLOUT_ARM_BASELINE],
           (unsigned long long)r->requests[ROLLOUT_ARM_CANARY],
           (unsigned long long)r->errors[ROLLOUT_ARM_CANARY], (unsigned long long)r->sdk.batches_sent,
           (unsigned long long)r->sdk.batches_acked, (unsigned long long)dropped,
           r->flushed ? "" : " (some outcomes were not acknowledged)");
}

/* ---- the command ---------------------------------------------------------------- */

static int read_token(const char *opt, const char *path, char *out, size_t cap)
{
    roost_error err = {0};

    if (auth_read_client_token(path, out, cap, &err) != ROOST_OK) {
        fprintf(stderr, "roost-sim: %s: %s\n", opt, err.msg);
        return SIM_EXIT_USAGE;
    }
    return SIM_EXIT_OK;
}

static int exit_for(roost_status s)
{
    switch (s) {
    case ROOST_EINVAL:
        return SIM_EXIT_USAGE;
    default:
        return SIM_EXIT_FAILED;
    }
}

int sim_cmd_live(int argc, char **argv)
{
    struct sim_scenario *sc;
    struct sim_live_options lo;
    struct sim_live *live = NULL;
    struct sim_live_result res;
    struct sigaction sa, old_int, old_term;
    struct ui u;
    struct winsize ws;
    char sdk_token[AUTH_TOKEN_MAX], admin_token[AUTH_TOKEN_MAX];
    roost_error err = {0};
    struct opts o;
    int rc = parse_opts(argc, argv, &o);

    if (rc != SIM_EXIT_OK)
        return rc < 0 ? SIM_EXIT_OK : rc; /* -1: --help was answered */
    if (o.token_file && (rc = read_token("--token-file", o.token_file, sdk_token, sizeof sdk_token)))
        return rc;
    if (o.admin_token_file &&
        (rc = read_token("--admin-token-file", o.admin_token_file, admin_token, sizeof admin_token)))
        return rc;
    if (!(sc = calloc(1, sizeof *sc))) {
        fprintf(stderr, "roost-sim: out of memory\n");
        return SIM_EXIT_FAILED;
    }
    if (sim_scenario_load(o.scenario, sc, &err) != ROOST_OK) {
        fprintf(stderr, "roost-sim: %s\n", err.msg);
        free(sc);
        return err.code == ROOST_ENOMEM ? SIM_EXIT_FAILED : SIM_EXIT_USAGE;
    }

    memset(&u, 0, sizeof u);
    u.json = o.json;
    u.tty = !o.json && isatty(STDOUT_FILENO);
    u.width = u.tty && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col ? ws.ws_col : 0;
    sim_printer_init(&u.pr, stdout, o.json, 0);

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);

    memset(&lo, 0, sizeof lo);
    lo.server = o.server;
    lo.rollout = o.rollout;
    lo.sdk_token = o.token_file ? sdk_token : NULL;
    lo.admin_token = o.admin_token_file ? admin_token : lo.sdk_token;
    lo.for_ms = o.for_s ? (int64_t)o.for_s * 1000 : sc->duration_ms;
    lo.seed = o.seed;
    lo.interrupted = &stop_requested;
    lo.on_event = on_event;
    lo.event_user = &u;
    lo.on_progress = on_progress;
    lo.progress_user = &u;
    lo.on_note = on_note;
    lo.note_user = &u;

    if (sim_live_open(sc, &lo, &live, &err) != ROOST_OK || sim_live_start(live, &err) != ROOST_OK) {
        clear_line(&u);
        fprintf(stderr, "roost-sim: %s\n", err.msg);
        rc = stop_requested ? SIM_EXIT_FAILED : exit_for(err.code);
        goto done;
    }
    u.pr.t0_ms = sim_live_target(live)->t0_ms;
    if (o.json)
        sim_print_run_begin(&u.pr, sc, "roost", o.seed);
    else
        print_header(sc, sim_live_target(live), o.server, o.seed);

    if (sim_live_run(live, &res, &err) != ROOST_OK) {
        clear_line(&u);
        fprintf(stderr, "roost-sim: %s: %s\n", sc->name, err.msg);
        rc = SIM_EXIT_FAILED;
        goto done;
    }
    clear_line(&u);
    sim_print_run_end(&u.pr, sc, &res.outcome);
    if (!o.json) {
        if (u.analysis)
            print_analysis(u.analysis, u.pr.t0_ms);
        print_summary(&res);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "roost-sim: could not write the output\n");
        rc = SIM_EXIT_FAILED;
        goto done;
    }
    rc = SIM_EXIT_OK;
    if (res.end == SIM_LIVE_INTERRUPTED) {
        fprintf(stderr,
                "roost-sim: interrupted after %.1fs; rollout %s goes on in roostd without this "
                "traffic ('roostctl rollout abort %s' stops it)\n",
                (double)res.traffic_ms / 1000.0, sim_live_target(live)->name,
                sim_live_target(live)->name);
        rc = SIM_EXIT_FAILED;
    }
done:
    sim_live_close(live);
    free(u.analysis);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sim_scenario_free(sc);
    free(sc);
    return rc;
}
