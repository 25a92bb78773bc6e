/* roostctl: global options and command dispatch. Each command lives in its
 * own cmd_<name>.c. Global options may appear anywhere on the line, so
 * `roostctl flag list --json` and `roostctl --json flag list` both work. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <grpc/grpc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/auth.h"
#include "roost/version.h"
#include "roostctl.h"
#include "tools/lib/rpcclient.h"

static const char usage[] =
    "usage: roostctl [--server HOST:PORT] [--token-file FILE] [--json] [--timeout SECONDS]\n"
    "                <command> [args]\n"
    "\n"
    "commands:\n"
    "  apply -f FILE [--dry-run]     apply a configuration document (prints what changed)\n"
    "  flag get KEY                  show one flag\n"
    "  flag list [--flag-set NAME]   list flags\n"
    "  flag delete KEY               delete one flag\n"
    "  status                        server version, revision, subscribers, store size\n"
    "  watch [--from-revision N]     print one JSON line per change, as it happens\n"
    "  eval --flags FILE KEY ...     evaluate a flag locally, without a server\n"
    "  metrics KIND SCOPE [...]      stored outcome metrics of a flag, rollout or experiment\n"
    "  rollout ACTION [NAME]         list, status [--watch], history, start, pause, resume,\n"
    "                                promote, abort, retry\n"
    "  experiment plan [...]         units needed per arm for an experiment\n"
    "\n"
    "global options (anywhere on the line):\n"
    "  --server HOST:PORT   roostd's address (default $ROOST_SERVER or 127.0.0.1:7070)\n"
    "  --token-file FILE    file holding the admin token (default $ROOST_TOKEN_FILE)\n"
    "  --json               machine-readable output\n"
    "  --timeout SECONDS    per-call timeout (default 10)\n"
    "  --version            print the version\n"
    "\n"
    "'roostctl <command> --help' describes a command. Exit status: 0 ok, 1 failed, 2 usage.\n";

struct command {
    const char *name;
    roostctl_cmd_fn fn;
};

static const struct command commands[] = {
    {"apply", roostctl_cmd_apply}, {"flag", roostctl_cmd_flag},   {"status", roostctl_cmd_status},
    {"watch", roostctl_cmd_watch},
    {"rollout", roostctl_cmd_rollout},
    {"metrics", roostctl_cmd_metrics},
    {"experiment", roostctl_experiment_run},
    {"eval", roostctl_cmd_eval},
};

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
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return false;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return true;
    }
    return false;
}

void roostctl_print_json(cJSON *v)
{
    char *s = cJSON_PrintUnformatted(v);

    if (s) {
        puts(s);
        fflush(stdout);
        cJSON_free(s);
    }
    cJSON_Delete(v);
}

int roostctl_connect(const struct roostctl *g, struct rc_channel **out)
{
    char token[AUTH_TOKEN_MAX];
    roost_error err = {0};

    if (g->token_file && auth_read_client_token(g->token_file, token, sizeof token, &err))
        return roostctl_fail(ROOSTCTL_EXIT_FAIL, "%s", err.msg);
    if (rc_channel_open(g->server, g->token_file ? token : NULL, out, &err) != ROOST_OK)
        return roostctl_fail(ROOSTCTL_EXIT_FAIL, "%s", err.msg);
    return ROOSTCTL_EXIT_OK;
}

int roostctl_call(const struct roostctl *g, struct rc_channel *ch, const char *method,
                  const void *req, size_t len, uint8_t **resp, size_t *resp_len)
{
    struct rc_status st;
    char msg[1024];

    rc_unary(ch, method, req, len, g->timeout_s, resp, resp_len, &st);
    if (st.code == GRPC_STATUS_OK)
        return ROOSTCTL_EXIT_OK;
    rc_status_explain(ch, &st, msg, sizeof msg);
    return roostctl_fail(ROOSTCTL_EXIT_FAIL, "%s", msg);
}

/* Removes the global options from argv (wherever they are) into g.
 * Returns -1 to go on, or an exit code. */
static int take_globals(int *argc, char **argv, struct roostctl *g)
{
    int out = 1;

    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i];
        const char **target = NULL;

        if (strcmp(a, "--") == 0) {
            while (i < *argc)
                argv[out++] = argv[i++];
            break;
        }
        if (strcmp(a, "--json") == 0) {
            g->json = true;
            continue;
        }
        /* Before the command only: after it, --version is the command's
         * own (roostctl metrics --version V, the version label). */
        if (strcmp(a, "--version") == 0 && out == 1) {
            printf("roostctl %s\n", ROOST_VERSION);
            return ROOSTCTL_EXIT_OK;
        }
        if (strcmp(a, "--server") == 0)
            target = &g->server;
        else if (strcmp(a, "--token-file") == 0)
            target = &g->token_file;
        else if (strcmp(a, "--timeout") == 0) {
            char *end;
            if (i + 1 >= *argc)
                return roostctl_fail(ROOSTCTL_EXIT_USAGE, "--timeout needs a number of seconds");
            errno = 0;
            g->timeout_s = strtod(argv[++i], &end);
            if (errno || *end || g->timeout_s <= 0 || g->timeout_s > 86400)
                return roostctl_fail(ROOSTCTL_EXIT_USAGE,
                                     "--timeout: '%s' is not a number of seconds (0 to 86400)",
                                     argv[i]);
            continue;
        }
        if (target) {
            if (i + 1 >= *argc)
                return roostctl_fail(ROOSTCTL_EXIT_USAGE, "%s needs a value", a);
            *target = argv[++i];
            continue;
        }
        argv[out++] = argv[i];
    }
    *argc = out;
    argv[out] = NULL;
    return -1;
}

int main(int argc, char **argv)
{
    struct roostctl g = {
        .server = getenv("ROOST_SERVER") ? getenv("ROOST_SERVER") : "127.0.0.1:7070",
        .token_file = getenv("ROOST_TOKEN_FILE"),
        .timeout_s = 10,
    };
    int rc;

    if ((rc = take_globals(&argc, argv, &g)) >= 0)
        return rc;
    if (argc < 2) {
        fputs(usage, stderr);
        return ROOSTCTL_EXIT_USAGE;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage, stdout);
        return ROOSTCTL_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            /* eval runs offline; everything else talks to roostd. */
            /* eval runs offline: no gRPC to start. */
            bool online = commands[i].fn != roostctl_cmd_eval &&
                          !(commands[i].fn == roostctl_experiment_run && argc > 2 &&
                            strcmp(argv[2], "plan") == 0);
            if (online)
                grpc_init();
            rc = commands[i].fn(&g, argc - 1, argv + 1);
            if (online)
                grpc_shutdown();
            return rc;
        }
    }
    return roostctl_fail(ROOSTCTL_EXIT_USAGE,
                         "unknown command '%s'; commands: apply, flag, status, watch, rollout, metrics, "
                         "experiment, eval "
                         "(roostctl --help)",
                         argv[1]);
}
