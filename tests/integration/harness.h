/* Integration test support: a real roostd in a temporary data directory on
 * a free loopback port, roostctl run as a child process, and Sync
 * subscribers through the test client. Everything here is bounded: every
 * wait has a timeout, every child is reaped. */
#ifndef ROOST_TESTS_HARNESS_H
#define ROOST_TESTS_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tools/lib/rpcclient.h"

struct roostd_proc {
    pid_t pid;
    char data_dir[512];
    char ready_file[600];
    char log_file[600];
    char addr[64];
    const char *extra[16]; /* extra roostd arguments, NULL-terminated */
};

/* Paths of the binaries under test, from the test's arguments. */
extern const char *harness_roostd_bin;
extern const char *harness_roostctl_bin;

/* Reads argv[1] (roostd) and argv[2] (roostctl). */
void harness_init(int argc, char **argv);

/* A fresh directory under $TEST_TMPDIR. */
void harness_tmpdir(char *out, size_t cap, const char *name);

/* Starts roostd on 127.0.0.1:0 with data in p->data_dir (made when empty)
 * and waits up to 10 s for it to serve. Returns false (and prints its log)
 * when it did not come up. */
bool roostd_start(struct roostd_proc *p);
/* Sends sig and waits up to 15 s for exit; returns the exit status
 * (128+signal when killed), or -1 when it would not exit (then SIGKILLs). */
int roostd_stop(struct roostd_proc *p, int sig);
/* Prints roostd's log to stderr (on failures). */
void roostd_dump_log(const struct roostd_proc *p);

/* Runs roostctl --server p->addr with args (NULL-terminated), capturing
 * stdout into out and stderr into err (either may be NULL). Returns the
 * exit code, or -1 on a timeout of 30 s. */
int roostctl_run(const struct roostd_proc *p, char *out, size_t out_cap, char *err,
                 size_t err_cap, const char *const *args);

/* Writes text to path (a document for apply). */
void harness_write_file(const char *path, const char *text);
/* The unsigned number after "key": in compact JSON text (roostctl --json
 * output); 0 when the key is absent. */
uint64_t harness_json_u64(const char *json, const char *key);

/* Monotonic seconds. */
double harness_now(void);

#endif
