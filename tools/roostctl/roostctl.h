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

/* Prints "roostctl: <message>\n" to stderr; returns ROOSTCTL_EXIT_USAGE or
 * ROOSTCTL_EXIT_FAIL as the caller chooses. */
int roostctl_fail(int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#endif
