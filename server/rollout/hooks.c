/* Rollout hooks. See hooks.h and docs/rollouts.md (section Hooks).
 *
 * Parsing is strict: a hook that would never run as written (a misspelled
 * field, an event name that never fires, a relative program path) is a
 * rejected document, not a silent no-op discovered during an incident. Every
 * message starts with the JSON path of the offending value.
 *
 * Running an exec hook: fork + execve, no shell, so arguments are never
 * re-interpreted. Everything the child needs (argv, environment, pipes) is
 * prepared before fork, because between fork and execve a multi-threaded
 * process may only make async-signal-safe calls. Every pipe is created
 * close-on-exec, so a hook started by another worker thread at the same
 * moment never inherits our ends (an inherited stdin write end would keep
 * our child from ever seeing EOF). The child becomes the leader of its own
 * process group; on timeout the whole group gets SIGKILL, so a shell script
 * and the programs it started go together (a grandchild that moves itself
 * to another group or session escapes, as with any process-group kill).
 * There is no SIGTERM grace period: the hook has had its whole timeout, and
 * the bound in hooks.h must hold. The parent writes the event to stdin and
 * reads stdout/stderr with poll, never blocking on one pipe while another
 * fills; output beyond HOOK_OUTPUT_MAX is read and dropped, so a chatty hook
 * never stalls on a full pipe. Once the hook process itself has exited, the
 * attempt is over even if a background grandchild still holds the pipes.
 *
 * The hook inherits roostd's environment (PATH, HOME, proxies...) plus the
 * ROOST_* variables. ROOST_EVENT is left out for events over 64 KiB: Linux
 * refuses any single environment string over 128 KiB (execve fails with
 * E2BIG), and stdin carries the event anyway. stdin gets the event JSON
 * followed by one newline, then EOF.
 *
 * SIGPIPE: a hook that exits without reading stdin turns our write into
 * EPIPE plus a SIGPIPE for this thread. roostd's signal dispositions are not
 * ours to change, so the signal is blocked in this thread while a hook runs
 * and a SIGPIPE we caused is consumed before unblocking.
 *
 * HTTP hooks use one libcurl easy handle per hook_run (a retry may reuse the
 * connection), CURLOPT_NOSIGNAL (libcurl must not use signals in a
 * multi-threaded server; Debian's libcurl resolves names on its own thread,
 * so the timeout still bounds DNS), no redirects (a 3xx is not a success),
 * and only http/https. curl_global_init runs once, under pthread_once.
 *
 * Backoff doubles from spec->backoff_ms and is capped at 60 s; there is no
 * jitter, so the timing in decision records is predictable.
 *
 * Durations ("1h30m") are parsed here because hooks were the first user;
 * the rollout spec parser uses roost_duration_parse too.
 */
#define _GNU_SOURCE /* pipe2, NSIG */

#include "hooks.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "server/clock.h"
#include "server/json_fields.h"

extern char **environ;

/* ---- events --------------------------------------------------------------- */

/* Index = bit position in enum hook_event. */
static const char *const event_names[] = {"pre-rollout", "step",     "confirm-promotion",
                                          "promotion",   "rollback", "event"};
#define NEVENTS (sizeof event_names / sizeof event_names[0])

const char *hook_event_name(enum hook_event e)
{
    for (size_t i = 0; i < NEVENTS; i++) {
        if ((unsigned)e == 1u << i)
            return event_names[i];
    }
    return NULL;
}

/* ---- parsing helpers ------------------------------------------------------ */

static char *dup_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);

    if (d)
        memcpy(d, s, n);
    return d;
}

static bool has_control_chars(const char *s, bool allow_tab)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c < 0x20 && !(allow_tab && c == '\t')) || c == 0x7f)
            return true;
    }
    return false;
}

/* RFC 9110 token characters, the only ones allowed in a header name. */
static bool is_token(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (!isalnum(c) && !strchr("!#$%&'*+-.^_`|~", c))
            return false;
    }
    return true;
}

/* http:// or https://, a host, no spaces or control characters. libcurl
 * does the rest of the parsing when the hook runs. */
static bool valid_url(const char *u)
{
    size_t skip;

    if (strncasecmp(u, "http://", 7) == 0)
        skip = 7;
    else if (strncasecmp(u, "https://", 8) == 0)
        skip = 8;
    else
        return false;
    return u[skip] && !strchr("/?#:", u[skip]) && !strchr(u, ' ') && !has_control_chars(u, false);
}

static roost_status parse_on(const cJSON *on, const char *path, unsigned *bits, roost_error *err)
{
    char list[256];
    int i = 0;

    if (!cJSON_IsArray(on) || !on->child) {
        return roost_error_set(err, ROOST_EINVAL,
                               "%s.on: expected a non-empty array of events such as "
                               "[\"rollback\"] (events: pre-rollout, step, confirm-promotion, "
                               "promotion, rollback, event)",
                               path);
    }
    *bits = 0;
    for (const cJSON *e = on->child; e; e = e->next, i++) {
        size_t k = NEVENTS;

        if (!cJSON_IsString(e)) {
            return roost_error_set(err, ROOST_EINVAL, "%s.on[%d]: expected an event name (a string)",
                                   path, i);
        }
        for (size_t j = 0; j < NEVENTS; j++) {
            if (strcmp(e->valuestring, event_names[j]) == 0)
                k = j;
        }
        if (k == NEVENTS) {
            json_fields_choices(event_names, NEVENTS, e->valuestring, list, sizeof list);
            return roost_error_set(err, ROOST_EINVAL, "%s.on[%d]: unknown event '%s' (expected one of %s)",
                                   path, i, e->valuestring, list);
        }
        if (*bits & (1u << k)) {
            return roost_error_set(err, ROOST_EINVAL, "%s.on[%d]: event '%s' is listed twice", path,
                                   i, e->valuestring);
        }
        *bits |= 1u << k;
    }
    return ROOST_OK;
}

static roost_status parse_exec(const cJSON *ex, const char *path, struct hook_spec *h,
                               roost_error *err)
{
    int n = 0;

    if (!cJSON_IsArray(ex) || !ex->child) {
        return roost_error_set(err, ROOST_EINVAL,
                               "%s.exec: expected a non-empty array of strings: the program's "
                               "absolute path, then its arguments",
                               path);
    }
    for (const cJSON *a = ex->child; a; a = a->next, n++) {
        if (n == HOOK_MAX_ARGS) {
            return roost_error_set(err, ROOST_ELIMIT, "%s.exec: more than %d arguments", path,
                                   HOOK_MAX_ARGS);
        }
        if (!cJSON_IsString(a))
            return roost_error_set(err, ROOST_EINVAL, "%s.exec[%d]: expected a string", path, n);
        if (strlen(a->valuestring) > HOOK_STR_MAX) {
            return roost_error_set(err, ROOST_ELIMIT, "%s.exec[%d]: longer than %d bytes", path, n,
                                   HOOK_STR_MAX);
        }
        if (n == 0 && a->valuestring[0] != '/') {
            /* execve without a shell does no PATH search, and roostd's
             * working directory is not something a document should depend on. */
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s.exec[0]: expected an absolute program path such as "
                                   "\"/usr/local/bin/notify\", got \"%s\" (hooks run without a "
                                   "shell or PATH search)",
                                   path, a->valuestring);
        }
        if (!(h->argv[n] = dup_string(a->valuestring)))
            return roost_error_set(err, ROOST_ENOMEM, "out of memory");
    }
    h->argv[n] = NULL;
    return ROOST_OK;
}

static roost_status parse_headers(const cJSON *hd, const char *path, struct hook_spec *h,
                                  roost_error *err)
{
    /* roostd sets these itself; letting a document override them would
     * break the idempotency contract or the framing of the request. */
    static const char *const reserved[] = {"Idempotency-Key", "Content-Length",
                                           "Transfer-Encoding", "Host"};

    if (!cJSON_IsObject(hd)) {
        return roost_error_set(err, ROOST_EINVAL,
                               "%s.http.headers: expected an object of header names to string "
                               "values, such as {\"Authorization\": \"Bearer ...\"}",
                               path);
    }
    for (const cJSON *c = hd->child; c; c = c->next) {
        size_t len;

        if (h->nheaders == HOOK_MAX_HEADERS) {
            return roost_error_set(err, ROOST_ELIMIT, "%s.http.headers: more than %d headers",
                                   path, HOOK_MAX_HEADERS);
        }
        if (!is_token(c->string)) {
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s.http.headers: '%s' is not a valid header name (letters, "
                                   "digits and !#$%%&'*+-.^_`|~ only)",
                                   path, c->string);
        }
        for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
            if (strcasecmp(c->string, reserved[i]) == 0) {
                return roost_error_set(err, ROOST_EINVAL,
                                       "%s.http.headers.%s: this header is set by roostd and "
                                       "cannot be given",
                                       path, c->string);
            }
        }
        for (const cJSON *d = hd->child; d != c; d = d->next) {
            if (strcasecmp(d->string, c->string) == 0) {
                return roost_error_set(err, ROOST_EINVAL, "%s.http.headers: '%s' is given twice",
                                       path, c->string);
            }
        }
        if (!cJSON_IsString(c) || has_control_chars(c->valuestring, true)) {
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s.http.headers.%s: expected a string without line breaks "
                                   "or control characters",
                                   path, c->string);
        }
        len = strlen(c->string) + 2 + strlen(c->valuestring);
        if (len > HOOK_STR_MAX) {
            return roost_error_set(err, ROOST_ELIMIT, "%s.http.headers.%s: longer than %d bytes",
                                   path, c->string, HOOK_STR_MAX);
        }
        {
            size_t ln = strlen(c->string), lv = strlen(c->valuestring);
            char *line = malloc(len + 1);

            if (!line)
                return roost_error_set(err, ROOST_ENOMEM, "out of memory");
            memcpy(line, c->string, ln);
            memcpy(line + ln, ": ", 2);
            memcpy(line + ln + 2, c->valuestring, lv + 1);
            h->headers[h->nheaders++] = line;
        }
    }
    return ROOST_OK;
}

static roost_status parse_http(const cJSON *http, const char *path, struct hook_spec *h,
                               roost_error *err)
{
    static const char *const fields[] = {"url", "method", "headers"};
    static const char *const methods[] = {"POST", "PUT", "PATCH"};
    char sub[300], list[128];
    const cJSON *url, *method, *headers;
    const char *m = "POST";
    roost_status rc;

    if (!cJSON_IsObject(http)) {
        return roost_error_set(err, ROOST_EINVAL,
                               "%s.http: expected an object such as {\"url\": "
                               "\"https://deploy.example/hook\"}",
                               path);
    }
    snprintf(sub, sizeof sub, "%s.http", path);
    if ((rc = json_fields_check(http, sub, fields, 3, err)) != ROOST_OK)
        return rc;
    url = cJSON_GetObjectItemCaseSensitive(http, "url");
    if (!url)
        return roost_error_set(err, ROOST_EINVAL, "%s.http.url: missing (the address to call)", path);
    if (!cJSON_IsString(url) || !valid_url(url->valuestring)) {
        return roost_error_set(err, ROOST_EINVAL,
                               "%s.http.url: expected an http:// or https:// URL without spaces, "
                               "such as \"https://deploy.example/hook\"",
                               path);
    }
    if (strlen(url->valuestring) > HOOK_STR_MAX) {
        return roost_error_set(err, ROOST_ELIMIT, "%s.http.url: longer than %d bytes", path,
                               HOOK_STR_MAX);
    }
    method = cJSON_GetObjectItemCaseSensitive(http, "method");
    if (method) {
        size_t i, n = sizeof methods / sizeof methods[0];
        for (i = 0; cJSON_IsString(method) && i < n; i++) {
            if (strcmp(method->valuestring, methods[i]) == 0)
                break;
        }
        if (!cJSON_IsString(method) || i == n) {
            json_fields_choices(methods, n, NULL, list, sizeof list);
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s.http.method: expected one of %s (the event is sent as the "
                                   "request body)",
                                   path, list);
        }
        m = methods[i];
    }
    if (!(h->url = dup_string(url->valuestring)) || !(h->method = dup_string(m)))
        return roost_error_set(err, ROOST_ENOMEM, "out of memory");
    headers = cJSON_GetObjectItemCaseSensitive(http, "headers");
    if (headers)
        return parse_headers(headers, path, h, err);
    return ROOST_OK;
}

roost_status hook_spec_parse(const cJSON *obj, const char *path, struct hook_spec *out,
                             roost_error *err)
{
    static const char *const fields[] = {"on", "exec", "http", "timeout", "retries"};
    struct hook_spec h;
    const cJSON *on, *ex, *http, *timeout, *retries;
    roost_status rc;

    memset(&h, 0, sizeof h);
    h.timeout_ms = 10000;
    h.retries = 3;
    h.backoff_ms = 500;
    if (!path)
        path = "hook";
    if (!cJSON_IsObject(obj)) {
        return roost_error_set(err, ROOST_EINVAL,
                               "%s: expected an object with \"on\" and either \"exec\" or \"http\"",
                               path);
    }
    if ((rc = json_fields_check(obj, path, fields, sizeof fields / sizeof fields[0], err)) != ROOST_OK)
        return rc;
    on = cJSON_GetObjectItemCaseSensitive(obj, "on");
    ex = cJSON_GetObjectItemCaseSensitive(obj, "exec");
    http = cJSON_GetObjectItemCaseSensitive(obj, "http");
    timeout = cJSON_GetObjectItemCaseSensitive(obj, "timeout");
    retries = cJSON_GetObjectItemCaseSensitive(obj, "retries");
    if (!on) {
        return roost_error_set(err, ROOST_EINVAL,
                               "%s.on: missing (the events that run this hook, such as "
                               "[\"rollback\"])",
                               path);
    }
    if ((rc = parse_on(on, path, &h.on, err)) != ROOST_OK)
        return rc;
    if (!ex == !http) {
        return roost_error_set(err, ROOST_EINVAL, "%s: expected exactly one of \"exec\" or \"http\"%s",
                               path, ex ? ", not both" : "");
    }
    if (timeout) {
        int64_t ms;
        if (!cJSON_IsString(timeout) || !roost_duration_parse(timeout->valuestring, &ms) ||
            ms <= 0 || ms > HOOK_MAX_TIMEOUT_MS) {
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s.timeout: expected a duration from \"1ms\" to \"1h\" such as "
                                   "\"10s\" or \"1m30s\"",
                                   path);
        }
        h.timeout_ms = ms;
    }
    if (retries) {
        double v = cJSON_IsNumber(retries) ? retries->valuedouble : -1;
        if (!(v >= 0 && v <= HOOK_MAX_RETRIES && v == (double)(uint32_t)v)) {
            return roost_error_set(err, ROOST_EINVAL,
                                   "%s.retries: expected a whole number from 0 to %d (attempts "
                                   "after the first failure)",
                                   path, HOOK_MAX_RETRIES);
        }
        h.retries = (uint32_t)v;
    }
    if (ex) {
        rc = parse_exec(ex, path, &h, err);
    } else {
        h.is_http = true;
        rc = parse_http(http, path, &h, err);
    }
    if (rc != ROOST_OK) {
        hook_spec_free(&h);
        return rc;
    }
    *out = h;
    return ROOST_OK;
}

void hook_spec_free(struct hook_spec *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < HOOK_MAX_ARGS && h->argv[i]; i++)
        free(h->argv[i]);
    for (size_t i = 0; i < h->nheaders && i < HOOK_MAX_HEADERS; i++)
        free(h->headers[i]);
    free(h->url);
    free(h->method);
    memset(h, 0, sizeof *h);
}

/* Copies url into out without "user:password@", which must not end up in
 * decision records. */
static void redact_url(const char *url, char *out, size_t cap)
{
    const char *scheme_end = strstr(url, "://");
    const char *host, *at, *end;

    if (!scheme_end) {
        snprintf(out, cap, "%s", url);
        return;
    }
    host = scheme_end + 3;
    end = host + strcspn(host, "/?#");
    at = memchr(host, '@', (size_t)(end - host));
    if (!at) {
        snprintf(out, cap, "%s", url);
        return;
    }
    snprintf(out, cap, "%.*s%s", (int)(host - url), url, at + 1);
}

void hook_describe(const struct hook_spec *h, char *out, size_t cap)
{
    char url[HOOK_STR_MAX + 1];

    if (!cap)
        return;
    if (!h) {
        snprintf(out, cap, "(no hook)");
    } else if (h->is_http) {
        redact_url(h->url ? h->url : "", url, sizeof url);
        snprintf(out, cap, "http %s %s", h->method ? h->method : "POST", url);
    } else {
        const char *prog = h->argv[0] ? h->argv[0] : "";
        const char *base = strrchr(prog, '/');
        snprintf(out, cap, "exec %s", base ? base + 1 : prog);
    }
}

/* ---- running: shared ------------------------------------------------------ */

#define BACKOFF_MAX_MS 60000
#define EVENT_ENV_MAX (64 * 1024)
#define FIRST_LINE_MAX 200
#define DRAIN_AFTER_EXIT_MAX (64 * 1024) /* read after the hook exited, per pipe */
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* The first non-empty line of a stream, built as the stream arrives. */
struct first_line {
    char text[FIRST_LINE_MAX + 1];
    size_t len;
    bool done;
};

/* What one attempt did. */
struct attempt {
    bool ok;
    int exit_status;
    long http_status;
    char what[400];            /* "exit 1", "HTTP 503 from ...", "timed out ..." */
    struct first_line err_line; /* stderr (exec) */
    struct first_line out_line; /* stdout (exec) or the response body (http) */
    char *out;                 /* = hook_result.output */
    size_t out_len;
    bool out_truncated;
};

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L}, rem;

    while (nanosleep(&ts, &rem) != 0 && errno == EINTR)
        ts = rem;
}

static void first_line_add(struct first_line *f, const char *data, size_t n)
{
    for (size_t i = 0; i < n && !f->done; i++) {
        char c = data[i];
        if (c == '\n' || c == '\r') {
            f->done = f->len > 0; /* leading blank lines are skipped */
            continue;
        }
        if (f->len == FIRST_LINE_MAX) {
            f->done = true;
            break;
        }
        /* Decision records are printed on terminals: no control characters. */
        f->text[f->len++] = ((unsigned char)c < 0x20 || c == 0x7f) ? ' ' : c;
        f->text[f->len] = '\0';
    }
}

static void output_add(struct attempt *a, const char *data, size_t n)
{
    size_t room = HOOK_OUTPUT_MAX - 1 - a->out_len;

    if (n > room) {
        a->out_truncated = true;
        n = room;
    }
    memcpy(a->out + a->out_len, data, n);
    a->out_len += n;
    a->out[a->out_len] = '\0';
}

/* Marks a cut-off output at its end, where a reader looks for it. */
static void output_finish(struct attempt *a)
{
    static const char marker[] = "\n[output truncated]\n";
    size_t at;

    if (!a->out_truncated)
        return;
    at = HOOK_OUTPUT_MAX - sizeof marker; /* the marker and its NUL fit */
    if (a->out_len < at)
        at = a->out_len;
    memcpy(a->out + at, marker, sizeof marker);
    a->out_len = at + sizeof marker - 1;
}

/* snprintf for messages that may be cut short on purpose (a long URL in a
 * 512-byte detail); one place instead of a return-value check at every
 * call, which is what -Wformat-truncation asks for. */
static void textf(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void textf(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
}

static void errno_text(int e, char *buf, size_t cap)
{
    /* GNU strerror_r (this file defines _GNU_SOURCE): may return a static string. */
    const char *s = strerror_r(e, buf, cap);

    if (s != buf)
        snprintf(buf, cap, "%s", s);
}

/* Keeps a SIGPIPE caused by this thread from reaching roostd's dispositions. */
struct sigpipe_guard {
    sigset_t old;
    bool was_pending;
};

static void sigpipe_block(struct sigpipe_guard *g)
{
    sigset_t set, pending;

    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    sigemptyset(&pending);
    sigpending(&pending);
    g->was_pending = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &set, &g->old);
}

static void sigpipe_restore(struct sigpipe_guard *g)
{
    sigset_t set, pending;
    struct timespec zero = {0, 0};

    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    sigemptyset(&pending);
    sigpending(&pending);
    if (!g->was_pending && sigismember(&pending, SIGPIPE) == 1) {
        while (sigtimedwait(&set, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

/* ---- exec ------------------------------------------------------------------ */

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

/* A close-on-exec pipe whose ends are both >= 3: if roostd runs with stdin
 * closed, pipe2 could return 0, and dup2(fd, 0) in the child would then
 * keep the close-on-exec flag and lose the descriptor at execve. */
static int pipe_cloexec(int fds[2])
{
    if (pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        if (fds[i] < 3) {
            int d = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
            if (d < 0) {
                int e = errno;
                close(fds[0]);
                close(fds[1]);
                fds[0] = fds[1] = -1;
                errno = e;
                return -1;
            }
            close(fds[i]);
            fds[i] = d;
        }
    }
    return 0;
}

static int set_nonblocking(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* The environment of the hook: roostd's own minus any inherited ROOST_*
 * variables we set, then ours. The ROOST_ strings are malloc'd and sit from
 * index *first_owned to the end. */
static char **build_env(const char *rollout, const char *event_name, const char *event_json,
                        const char *key, size_t *first_owned)
{
    static const char *const ours[] = {"ROOST_EVENT=", "ROOST_ROLLOUT=", "ROOST_IDEMPOTENCY_KEY=",
                                       "ROOST_HOOK_EVENT="};
    const char *values[] = {event_json, rollout, key, event_name};
    size_t n = 0, k = 0;
    char **env;

    for (char **e = environ; e && *e; e++)
        n++;
    if (!(env = calloc(n + 5, sizeof *env)))
        return NULL;
    for (char **e = environ; e && *e; e++) {
        bool skip = false;
        for (size_t i = 0; i < 4 && !skip; i++)
            skip = strncmp(*e, ours[i], strlen(ours[i])) == 0;
        if (!skip)
            env[k++] = *e;
    }
    *first_owned = k;
    for (size_t i = 0; i < 4; i++) {
        size_t lp = strlen(ours[i]), lv;
        if (i == 0 && strlen(event_json) > EVENT_ENV_MAX)
            continue;
        lv = strlen(values[i]);
        if (!(env[k] = malloc(lp + lv + 1))) {
            for (size_t j = *first_owned; j < k; j++)
                free(env[j]);
            free(env);
            return NULL;
        }
        memcpy(env[k], ours[i], lp);
        memcpy(env[k] + lp, values[i], lv + 1);
        k++;
    }
    env[k] = NULL;
    return env;
}

static void free_env(char **env, size_t first_owned)
{
    if (!env)
        return;
    for (size_t i = first_owned; env[i]; i++)
        free(env[i]);
    free(env);
}

/* Runs in the child between fork and execve: async-signal-safe calls only. */
static void exec_child(int in, int out, int err, int status_fd, char *const argv[],
                       char *const envp[])
{
    struct sigaction dfl;
    sigset_t none;
    int e;

    setpgid(0, 0);
    /* Ignored signals (roostd ignores SIGPIPE) and the blocked mask survive
     * execve; the hook gets the defaults any program expects. */
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; s++)
        sigaction(s, &dfl, NULL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
        goto fail;
    /* Whatever roostd opened without O_CLOEXEC stays out of the hook. Older
     * kernels lack the flag; then only close-on-exec descriptors are closed. */
    syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
    execve(argv[0], argv, envp);
fail:
    e = errno;
    while (write(status_fd, &e, sizeof e) < 0 && errno == EINTR)
        ;
    _exit(127);
}

/* Reads what is available on *fd into the attempt; closes it at EOF or on
 * an error. limit bounds how much is read in this call (0 = one read). */
static void exec_read(int *fd, bool is_stderr, struct attempt *a, size_t limit)
{
    char buf[4096];
    size_t total = 0;

    for (;;) {
        ssize_t r = read(*fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno == EAGAIN)
            return;
        if (r <= 0) {
            close_fd(fd);
            return;
        }
        output_add(a, buf, (size_t)r);
        first_line_add(is_stderr ? &a->err_line : &a->out_line, buf, (size_t)r);
        total += (size_t)r;
        if (total >= limit)
            return;
    }
}

static void exec_attempt(const struct hook_spec *h, char *const envp[], const char *input,
                         size_t input_len, struct attempt *a)
{
    int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1}, st[2] = {-1, -1};
    int status = 0, exec_errno = 0;
    size_t written = 0;
    bool reaped = false, timed_out = false, status_known = true;
    int64_t deadline;
    char why[128];
    pid_t pid;

    a->exit_status = -1;
    if (pipe_cloexec(in) || pipe_cloexec(out) || pipe_cloexec(err) || pipe_cloexec(st)) {
        errno_text(errno, why, sizeof why);
        textf(a->what, sizeof a->what, "cannot create pipes for the hook: %s", why);
        goto done;
    }
    pid = fork();
    if (pid < 0) {
        errno_text(errno, why, sizeof why);
        textf(a->what, sizeof a->what, "cannot start a process: %s", why);
        goto done;
    }
    if (pid == 0)
        exec_child(in[0], out[1], err[1], st[1], h->argv, envp);
    /* Also here: killpg below must find the group even if the child has not
     * run yet. EACCES (the child already called execve) means it is done. */
    setpgid(pid, pid);
    close_fd(&in[0]);
    close_fd(&out[1]);
    close_fd(&err[1]);
    close_fd(&st[1]);
    if (set_nonblocking(in[1]) || set_nonblocking(out[0]) || set_nonblocking(err[0]) ||
        set_nonblocking(st[0])) {
        /* Only a bad descriptor makes F_SETFL fail; blocking reads would
         * defeat the timeout, so give up on this attempt. */
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        textf(a->what, sizeof a->what, "cannot set up the hook's pipes");
        goto done;
    }
    deadline = clock_mono_ms() + h->timeout_ms;
    while (!reaped) {
        struct pollfd pf[4];
        int np = 0, wait_ms;
        int64_t now;
        pid_t r = waitpid(pid, &status, WNOHANG);

        if (r == pid) {
            reaped = true;
            break;
        }
        if (r < 0 && errno == ECHILD) {
            /* Someone else reaped it (SIGCHLD set to SIG_IGN reaps
             * automatically): it is gone, how it ended is unknown. */
            reaped = true;
            status_known = false;
            break;
        }
        now = clock_mono_ms();
        if (now >= deadline) {
            timed_out = true;
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL); /* in case setpgid failed in both places */
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
            reaped = true;
            break;
        }
        if (in[1] >= 0)
            pf[np++] = (struct pollfd){in[1], POLLOUT, 0};
        if (out[0] >= 0)
            pf[np++] = (struct pollfd){out[0], POLLIN, 0};
        if (err[0] >= 0)
            pf[np++] = (struct pollfd){err[0], POLLIN, 0};
        if (st[0] >= 0)
            pf[np++] = (struct pollfd){st[0], POLLIN, 0};
        /* Exit is noticed by waitpid: poll wakes on EOF when the hook exits
         * with its pipes, and every 50 ms (10 ms once its pipes are closed)
         * for hooks that closed them early or left them to a grandchild. */
        wait_ms = out[0] >= 0 || err[0] >= 0 ? 50 : 10;
        if (deadline - now < wait_ms)
            wait_ms = (int)(deadline - now);
        if (poll(pf, (nfds_t)np, wait_ms) < 0) {
            if (errno == EINTR)
                continue;
            sleep_ms(wait_ms); /* EAGAIN/ENOMEM: back off, the deadline still holds */
            continue;
        }
        for (int i = 0; i < np; i++) {
            if (!pf[i].revents)
                continue;
            if (pf[i].fd == in[1]) {
                ssize_t w = write(in[1], input + written, input_len - written);
                if (w > 0)
                    written += (size_t)w;
                if (written == input_len || (w < 0 && errno != EAGAIN && errno != EINTR))
                    close_fd(&in[1]); /* done, or EPIPE: the hook does not read stdin */
            } else if (pf[i].fd == out[0]) {
                exec_read(&out[0], false, a, 0);
            } else if (pf[i].fd == err[0]) {
                exec_read(&err[0], true, a, 0);
            } else if (pf[i].fd == st[0]) {
                ssize_t n = read(st[0], &exec_errno, sizeof exec_errno);
                if (n != (ssize_t)sizeof exec_errno)
                    exec_errno = 0;
                if (n == 0 || n == (ssize_t)sizeof exec_errno)
                    close_fd(&st[0]); /* EOF: execve succeeded */
            }
        }
    }
    /* What the hook wrote before it exited is in the pipes; a grandchild
     * still writing does not keep us here. */
    if (out[0] >= 0)
        exec_read(&out[0], false, a, DRAIN_AFTER_EXIT_MAX);
    if (err[0] >= 0)
        exec_read(&err[0], true, a, DRAIN_AFTER_EXIT_MAX);
    if (st[0] >= 0 && read(st[0], &exec_errno, sizeof exec_errno) != (ssize_t)sizeof exec_errno)
        exec_errno = 0;

    if (exec_errno) {
        errno_text(exec_errno, why, sizeof why);
        textf(a->what, sizeof a->what, "cannot run %s: %s", h->argv[0], why);
    } else if (timed_out) {
        textf(a->what, sizeof a->what, "no exit within the %lld ms timeout (process group killed)",
                 (long long)h->timeout_ms);
    } else if (!status_known) {
        textf(a->what, sizeof a->what,
                 "exit status unknown (the process was reaped elsewhere: is SIGCHLD ignored?)");
    } else if (WIFEXITED(status)) {
        a->exit_status = WEXITSTATUS(status);
        a->ok = a->exit_status == 0;
        textf(a->what, sizeof a->what, "exit %d", a->exit_status);
    } else if (WIFSIGNALED(status)) {
        textf(a->what, sizeof a->what, "killed by signal %d", WTERMSIG(status));
    }
done:
    close_fd(&in[0]);
    close_fd(&in[1]);
    close_fd(&out[0]);
    close_fd(&out[1]);
    close_fd(&err[0]);
    close_fd(&err[1]);
    close_fd(&st[0]);
    close_fd(&st[1]);
}

/* ---- http ------------------------------------------------------------------ */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result = CURLE_FAILED_INIT;

static void curl_init_once(void)
{
    curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *user)
{
    struct attempt *a = user;
    size_t n = size * nmemb;

    output_add(a, data, n);
    first_line_add(&a->out_line, data, n);
    return n; /* everything is accepted; only the first HOOK_OUTPUT_MAX is kept */
}

struct http_hook {
    CURL *curl;
    struct curl_slist *headers;
    char errbuf[CURL_ERROR_SIZE];
    char url[HOOK_STR_MAX + 1]; /* redacted, for messages */
};

static bool header_value_ok(const char *v)
{
    return v && !has_control_chars(v, true) && strlen(v) <= HOOK_STR_MAX;
}

/* Adds "name: value" to h->headers. */
static bool add_header(struct http_hook *hh, const char *name, const char *value)
{
    char line[HOOK_STR_MAX + 64];
    struct curl_slist *l;

    snprintf(line, sizeof line, "%s: %s", name, value);
    if (!(l = curl_slist_append(hh->headers, line)))
        return false;
    hh->headers = l;
    return true;
}

/* Prepares the handle shared by all attempts. On failure, what says why. */
static bool http_setup(const struct hook_spec *h, const char *rollout, const char *event_name,
                       const char *event_json, const char *key, struct http_hook *hh,
                       char *what, size_t cap)
{
    bool has_content_type = false;
    CURL *c;

    pthread_once(&curl_once, curl_init_once);
    if (curl_init_result != CURLE_OK) {
        textf(what, cap, "libcurl could not be initialised: %s",
                 curl_easy_strerror(curl_init_result));
        return false;
    }
    /* These go into header lines: a line break would let them add headers. */
    if (!header_value_ok(key) || !header_value_ok(rollout) || !header_value_ok(event_name)) {
        textf(what, cap,
                 "idempotency key, rollout or event name contains control characters or is "
                 "too long for a header");
        return false;
    }
    for (size_t i = 0; i < h->nheaders; i++)
        has_content_type |= strncasecmp(h->headers[i], "Content-Type:", 13) == 0;
    if (!(hh->curl = c = curl_easy_init()) ||
        (!has_content_type && !add_header(hh, "Content-Type", "application/json")) ||
        !add_header(hh, "Idempotency-Key", key) || !add_header(hh, "Roost-Rollout", rollout) ||
        !add_header(hh, "Roost-Hook-Event", event_name) ||
        /* No "Expect: 100-continue" round trip for bodies over 1 KiB. */
        !(hh->headers = curl_slist_append(hh->headers, "Expect:"))) {
        textf(what, cap, "out of memory preparing the request");
        return false;
    }
    for (size_t i = 0; i < h->nheaders; i++) {
        struct curl_slist *l = curl_slist_append(hh->headers, h->headers[i]);
        if (!l) {
            textf(what, cap, "out of memory preparing the request");
            return false;
        }
        hh->headers = l;
    }
    redact_url(h->url, hh->url, sizeof hh->url);
    if (curl_easy_setopt(c, CURLOPT_URL, h->url) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK) {
        textf(what, cap, "libcurl does not accept the URL %s", hh->url);
        return false;
    }
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)h->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)h->timeout_ms);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, event_json);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(event_json));
    if (h->method && strcmp(h->method, "POST") != 0)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, h->method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hh->headers);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "roostd-hook");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, hh->errbuf);
    return true;
}

static void http_cleanup(struct http_hook *hh)
{
    if (hh->curl)
        curl_easy_cleanup(hh->curl);
    curl_slist_free_all(hh->headers);
}

static void http_attempt(const struct hook_spec *h, struct http_hook *hh, struct attempt *a)
{
    CURLcode res;

    hh->errbuf[0] = '\0';
    curl_easy_setopt(hh->curl, CURLOPT_WRITEDATA, a);
    res = curl_easy_perform(hh->curl);
    if (res == CURLE_OK) {
        curl_easy_getinfo(hh->curl, CURLINFO_RESPONSE_CODE, &a->http_status);
        a->ok = a->http_status >= 200 && a->http_status <= 299;
        textf(a->what, sizeof a->what, "HTTP %ld from %s", a->http_status, hh->url);
    } else if (res == CURLE_OPERATION_TIMEDOUT) {
        textf(a->what, sizeof a->what, "no answer from %s within %lld ms", hh->url,
                 (long long)h->timeout_ms);
    } else {
        textf(a->what, sizeof a->what, "cannot call %s: %s", hh->url,
                 hh->errbuf[0] ? hh->errbuf : curl_easy_strerror(res));
    }
}

/* ---- hook_run --------------------------------------------------------------- */

static void attempt_reset(struct attempt *a, char *output)
{
    memset(a, 0, sizeof *a);
    a->exit_status = -1;
    a->out = output;
    a->out[0] = '\0';
}

void hook_run(const struct hook_spec *h, const char *rollout, const char *event_name,
              const char *event_json, const char *idempotency_key, struct hook_result *out)
{
    struct attempt a;
    struct sigpipe_guard guard;
    struct http_hook hh;
    char **env = NULL, *input = NULL;
    size_t first_owned = 0, input_len = 0;
    int64_t start = clock_mono_ms(), delay;
    bool ready;
    const char *line;

    memset(out, 0, sizeof *out);
    memset(&hh, 0, sizeof hh);
    attempt_reset(&a, out->output);
    out->exit_status = -1;
    rollout = rollout ? rollout : "";
    event_name = event_name ? event_name : "";
    event_json = event_json ? event_json : "{}";
    idempotency_key = idempotency_key ? idempotency_key : "";
    if (!h || (h->is_http ? !h->url : !h->argv[0]) || h->timeout_ms <= 0) {
        textf(out->detail, sizeof out->detail, "hook not run: the hook has no %s",
                 !h ? "spec" : h->timeout_ms <= 0 ? "timeout" : h->is_http ? "url" : "program");
        return;
    }
    sigpipe_block(&guard);
    if (h->is_http) {
        ready = http_setup(h, rollout, event_name, event_json, idempotency_key, &hh, a.what,
                           sizeof a.what);
    } else {
        input_len = strlen(event_json) + 1;
        env = build_env(rollout, event_name, event_json, idempotency_key, &first_owned);
        ready = env && (input = malloc(input_len + 1));
        if (ready) {
            memcpy(input, event_json, input_len - 1);
            input[input_len - 1] = '\n';
            input[input_len] = '\0';
        } else {
            snprintf(a.what, sizeof a.what, "out of memory preparing the hook");
        }
    }
    delay = h->backoff_ms <= 0 ? 0 : h->backoff_ms > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : h->backoff_ms;
    for (uint32_t i = 0; ready && i <= h->retries; i++) {
        if (i > 0) {
            sleep_ms(delay);
            delay = delay > BACKOFF_MAX_MS / 2 ? BACKOFF_MAX_MS : delay * 2;
        }
        attempt_reset(&a, out->output);
        out->attempts = i + 1;
        if (h->is_http)
            http_attempt(h, &hh, &a);
        else
            exec_attempt(h, env, input, input_len, &a);
        if (a.ok)
            break;
    }
    sigpipe_restore(&guard);
    output_finish(&a);
    out->ok = a.ok;
    out->exit_status = a.exit_status;
    out->http_status = a.http_status;
    out->duration_ms = clock_mono_ms() - start;
    line = a.err_line.len ? a.err_line.text : a.out_line.len ? a.out_line.text : NULL;
    if (a.ok && out->attempts <= 1) {
        textf(out->detail, sizeof out->detail, "%s in %lld ms", a.what,
                 (long long)out->duration_ms);
    } else if (a.ok) {
        textf(out->detail, sizeof out->detail, "%s in %lld ms after %u attempts", a.what,
                 (long long)out->duration_ms, out->attempts);
    } else if (out->attempts == 0) {
        textf(out->detail, sizeof out->detail, "not run: %s", a.what);
    } else {
        textf(out->detail, sizeof out->detail, "%s after %u attempt%s%s%s", a.what,
                 out->attempts, out->attempts == 1 ? "" : "s", line ? ": " : "",
                 line ? line : "");
    }
    http_cleanup(&hh);
    free_env(env, first_owned);
    free(input);
}
