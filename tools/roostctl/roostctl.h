/* roostctl: the admin command line. main.c parses the global options and
 * hands the rest of argv to one command function per file (cmd_<name>.c).
 *
 * Exit codes every command keeps: 0 ok, 1 the operation failed, 2 usage
 * error (unknown option, missing argument). Errors go to stderr as one line
 * that says what was wrong and what to do; with --json, results go to stdout
 * as one JSON document (or one per line for streams).
 */
#ifndef ROOSTCTL_H
#define ROOSTCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rc_channel;
struct cJSON;

#define ROOSTCTL_EXIT_OK 0
#define ROOSTCTL_EXIT_FAIL 1
#define ROOSTCTL_EXIT_USAGE 2

struct roostctl {
    const char *server;     /* --server, default 127.0.0.1:7070 or $ROOST_SERVER */
    const char *token_file; /* --token-file, or NULL */
    bool json;              /* --json: machine-readable output */
    double timeout_s;       /* --timeout, per RPC */
};

/* A command: argv[0] is the command name; returns an exit code. */
typedef int (*roostctl_cmd_fn)(const struct roostctl *g, int argc, char **argv);

int roostctl_cmd_eval(const struct roostctl *g, int argc, char **argv);
int roostctl_cmd_apply(const struct roostctl *g, int argc, char **argv);
int roostctl_cmd_flag(const struct roostctl *g, int argc, char **argv);
int roostctl_cmd_status(const struct roostctl *g, int argc, char **argv);
int roostctl_cmd_watch(const struct roostctl *g, int argc, char **argv);
int roostctl_cmd_rollout(const struct roostctl *g, int argc, char **argv);
int roostctl_cmd_metrics(const struct roostctl *g, int argc, char **argv);
int roostctl_cmd_experiment(const struct roostctl *g, int argc, char **argv);
/* `experiment`: the lifecycle on roostd, and plan (roostctl_cmd_experiment). */
int roostctl_experiment_run(const struct roostctl *g, int argc, char **argv);
/* `experiment results`: an analysis (server/experiment/analysis.h JSON) as a
 * table with text bars, or as JSON with g->json. Returns an exit code. */
int roostctl_experiment_print_results(const struct roostctl *g, const struct cJSON *analysis);

/* Opens a channel to g->server with g's token. Returns an exit code;
 * prints the reason on failure. */
int roostctl_connect(const struct roostctl *g, struct rc_channel **out);

/* One unary call. On success *resp is malloc'd and the result is
 * ROOSTCTL_EXIT_OK; on failure the reason is printed (with advice) and
 * ROOSTCTL_EXIT_FAIL returned. */
int roostctl_call(const struct roostctl *g, struct rc_channel *ch, const char *method,
                  const void *req, size_t len, uint8_t **resp, size_t *resp_len);

/* ---- decisions.c: decision records, for rollouts and experiments ---- */

struct Roost__V1__Decision;

/* "2026-11-26T10:00:00Z" (UTC), or "-" for 0. */
void roostctl_fmt_time(int64_t unix_ms, char *out, size_t cap);
/* The record as JSON: seq, time, actor, kind, summary, revision, details. */
struct cJSON *roostctl_decision_json(const struct Roost__V1__Decision *d);
/* One line: time, actor, summary. */
void roostctl_print_decision(const struct Roost__V1__Decision *d);
/* `rollout history` and `experiment history`: method's decisions about
 * name, oldest first, as lines or (g->json) a JSON array. limit 0: 100. */
int roostctl_history(const struct roostctl *g, struct rc_channel *ch, const char *method,
                     const char *name, uint32_t limit);

/* Prints a cJSON value on one line to stdout and frees it. */
void roostctl_print_json(struct cJSON *v);

/* True when argv[i] is -h or --help anywhere in the command's arguments. */
bool roostctl_wants_help(int argc, char **argv);

/* Prints "roostctl: <message>\n" to stderr; returns ROOSTCTL_EXIT_USAGE or
 * ROOSTCTL_EXIT_FAIL as the caller chooses. */
int roostctl_fail(int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#endif
