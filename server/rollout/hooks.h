/* Rollout hooks: programs and webhooks run when a rollout changes.
 *
 * A hook is an `exec` (argv; the event JSON on stdin and in ROOST_EVENT,
 * with ROOST_ROLLOUT, ROOST_IDEMPOTENCY_KEY and ROOST_HOOK_EVENT in the
 * environment) or an `http` request (libcurl; the event JSON as body, the
 * idempotency key in the Idempotency-Key header). Success is exit status 0 /
 * an HTTP 2xx. Each attempt is bounded by the hook's timeout; failed attempts
 * are retried with exponential backoff up to `retries` times. See
 * docs/rollouts.md.
 *
 * hook_run blocks the calling thread for at most
 * (retries + 1) * timeout + the backoff between attempts; roostd calls it
 * from its hook workers, never from a gRPC thread or the controller loop.
 * Any number of threads may run hooks at the same time.
 */
#ifndef ROOSTD_ROLLOUT_HOOKS_H
#define ROOSTD_ROLLOUT_HOOKS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "roost/status.h"
#include "server/duration.h"

/* Events a hook can be attached to (bit flags). */
enum hook_event {
    HOOK_PRE_ROLLOUT = 1 << 0,
    HOOK_STEP = 1 << 1,
    HOOK_CONFIRM_PROMOTION = 1 << 2,
    HOOK_PROMOTION = 1 << 3,
    HOOK_ROLLBACK = 1 << 4,
    HOOK_EVENT = 1 << 5 /* every decision */
};

#define HOOK_MAX_ARGS 32
#define HOOK_MAX_HEADERS 16
#define HOOK_STR_MAX 1024          /* longest argument, URL or "Name: value" header */
#define HOOK_MAX_RETRIES 10        /* largest accepted "retries" */
#define HOOK_MAX_TIMEOUT_MS 3600000 /* largest accepted "timeout" (1h) */
#define HOOK_OUTPUT_MAX 4096       /* captured output kept per result */

struct hook_spec {
    unsigned on;               /* enum hook_event bits, never 0 after parsing */
    bool is_http;
    char *argv[HOOK_MAX_ARGS + 1]; /* exec: NULL-terminated, argv[0] absolute, owned */
    char *url;                 /* http: http:// or https://, owned */
    char *method;              /* http: POST (default), PUT or PATCH, owned */
    char *headers[HOOK_MAX_HEADERS]; /* "Name: value", owned */
    size_t nheaders;
    int64_t timeout_ms;        /* per attempt, default 10000 */
    uint32_t retries;          /* default 3 */
    int64_t backoff_ms;        /* first retry delay, doubled each time (capped at
                                  60 s); default 500. Not in the document format:
                                  set by code (tests use short delays). */
};

/* Parses one element of a rollout's "hooks" array. path ("rollouts.x.hooks[0]")
 * prefixes every message. Unknown fields are rejected. Fails with
 * ROOST_EINVAL naming the JSON path and what is expected there
 * ("rollouts.x.hooks[0].on[1]: unknown event 'rolback' (expected one of
 * ...; did you mean 'rollback'?)"), ROOST_ENOMEM. *out is filled only on
 * success and is then owned by the caller (hook_spec_free). */
roost_status hook_spec_parse(const cJSON *obj, const char *path, struct hook_spec *out,
                             roost_error *err);
/* Frees what a parsed spec owns and zeroes it. NULL and zeroed specs are fine. */
void hook_spec_free(struct hook_spec *h);


/* The document's name of one event bit ("confirm-promotion"), or NULL. */
const char *hook_event_name(enum hook_event e);

/* "exec page-oncall" / "http POST http://deploy-gate.internal/ok" (user
 * and password in the URL left out), for decision records. */
void hook_describe(const struct hook_spec *h, char *out, size_t cap);

struct hook_result {
    bool ok;
    uint32_t attempts;
    int64_t duration_ms;       /* all attempts, backoff included */
    int exit_status;           /* exec: last exit status (-1: did not exit normally) */
    long http_status;          /* http: last status (0: no response) */
    char detail[512];          /* what happened, for the decision record:
                                  "exit 0 in 120 ms", "exit 1 after 2 attempts:
                                  <first line of stderr>", "HTTP 503 from
                                  http://... after 4 attempts" */
    char output[HOOK_OUTPUT_MAX]; /* last attempt's output: exec stdout and
                                  stderr as they arrived, http response body;
                                  truncated, NUL-terminated */
};

/* Runs the hook for one event. event_json is the event; idempotency_key is
 * stable across retries and restarts (the decision it belongs to); rollout
 * and event_name ("rollback") go into the environment / headers. Never
 * fails as a function: the outcome is in *out (a NULL or empty spec is a
 * failed result with a detail saying so). */
void hook_run(const struct hook_spec *h, const char *rollout, const char *event_name,
              const char *event_json, const char *idempotency_key, struct hook_result *out);

#endif
