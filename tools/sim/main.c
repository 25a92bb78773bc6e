/* roost-sim: synthetic traffic for Roost's rollouts (docs/simulator.md).
 * Dispatch only; each mode lives in its own cmd_*.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

#include "tools/sim/cli.h"

static void help(void)
{
    puts("roost-sim: runs Roost rollouts against simulated traffic described in a scenario file\n"
         "\n"
         "Usage:\n"
         "  roost-sim virtual SCENARIO.json [--runs N] [--seed S] [--json] [--timelines]\n"
         "  roost-sim live SCENARIO.json --server HOST:PORT [--rollout NAME] [--token-file F]\n"
         "                 [--admin-token-file F] [--for SECONDS] [--seed S] [--json]\n"
         "  roost-sim MODE --help\n"
         "\n"
         "Modes:\n"
         "  virtual   the rollout decision library in virtual time, on simulated per-second\n"
         "            aggregates: the decisions roostd would make, hundreds of rollouts a second\n"
         "  live      the same traffic in real time through the real C SDK against a running\n"
         "            roostd, whose controller decides; a progress line while it runs\n"
         "\n"
         "The scenario format (traffic, baseline and canary models, incidents, the rollout)\n"
         "is described in docs/simulator.md.\n"
         "\n"
         "Exit status: 0 done, 1 the simulation failed, 2 bad command line or scenario file.");
}

bool sim_cli_u64(const char *opt, const char *text, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end;
    unsigned long long v;

    errno = 0;
    if (!text || !*text || *text == '-' || *text == '+') {
        fprintf(stderr, "roost-sim: %s: expected a whole number from %llu to %llu, got '%s'\n", opt,
                (unsigned long long)lo, (unsigned long long)hi, text ? text : "");
        return false;
    }
    v = strtoull(text, &end, 10);
    if (errno || *end || v < lo || v > hi) {
        fprintf(stderr, "roost-sim: %s: expected a whole number from %llu to %llu, got '%s'\n", opt,
                (unsigned long long)lo, (unsigned long long)hi, text);
        return false;
    }
    *out = v;
    return true;
}

int sim_cli_usage_error(const char *mode, const char *fmt, ...)
{
    va_list ap;

    fputs("roost-sim: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(roost-sim %s --help shows the usage)\n", mode ? mode : "");
    return SIM_EXIT_USAGE;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        help();
        return SIM_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        help();
        return SIM_EXIT_OK;
    }
    if (strcmp(argv[1], "virtual") == 0)
        return sim_cmd_virtual(argc - 1, argv + 1);
    if (strcmp(argv[1], "live") == 0)
        return sim_cmd_live(argc - 1, argv + 1);
    fprintf(stderr, "roost-sim: unknown mode '%s' (expected: virtual or live)\n(roost-sim --help shows the usage)\n",
            argv[1]);
    return SIM_EXIT_USAGE;
}
