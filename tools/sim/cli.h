/* roost-sim's command line: one file per mode (cmd_virtual.c,
 * cmd_live.c), main.c only dispatches. Shared here: the
 * exit codes and the option helpers, so every mode reads its options and
 * reports mistakes the same way. */
#ifndef ROOST_TOOLS_SIM_CLI_H
#define ROOST_TOOLS_SIM_CLI_H

#include <stdbool.h>
#include <stdint.h>

/* Exit codes, the same for every mode. */
#define SIM_EXIT_OK 0      /* done */
#define SIM_EXIT_FAILED 1  /* the simulation could not be carried out */
#define SIM_EXIT_USAGE 2   /* bad command line or scenario file */

/* Parses a whole decimal number in [lo, hi] for option opt; on error
 * prints "roost-sim: OPT: ..." to stderr and returns false. */
bool sim_cli_u64(const char *opt, const char *text, uint64_t lo, uint64_t hi, uint64_t *out);

/* Prints "roost-sim: MESSAGE" and a hint to run --help; returns
 * SIM_EXIT_USAGE. */
int sim_cli_usage_error(const char *mode, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* The modes. argv[0] is the mode's name. */
int sim_cmd_virtual(int argc, char **argv);
void sim_cmd_virtual_help(void);
int sim_cmd_live(int argc, char **argv);
void sim_cmd_live_help(void);

#endif
