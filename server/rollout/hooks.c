/* Rollout hooks. See hooks.h and docs/rollouts.md (section Hooks).
 *
 * Parsing is strict: a hook that would never run as written (a misspelled
 * field, an event name that never fires, a relative program path) is a
 * rejected document, not a silent no-op discovered during an incident. Every
 * message starts with the JSON path of the offending value.
 *
 * Durations ("1h30m") are parsed here because hooks were the first user;
 * the rollout spec parser uses roost_duration_parse too.
 */
#include "hooks.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- durations ---------------------------------------------------------- */

bool roost_duration_parse(const char *text, int64_t *ms)
{
    /* Units from the largest to the smallest; a unit may only follow a
     * larger one, so "30m1h" and "1s1s" are rejected rather than guessed. */
    static const struct {
        const char *name;
        int64_t ms;
    } units[] = {{"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1}};
    const size_t nunits = sizeof units / sizeof units[0];
    size_t next_unit = 0; /* the smallest index still allowed */
    int64_t total = 0;
    const char *p = text;

    if (!text || !*text)
        return false;
    if (strcmp(text, "0") == 0) {
        *ms = 0;
        return true;
    }
    while (*p) {
        int64_t n = 0;
        size_t u, len;

        if (!isdigit((unsigned char)*p))
            return false;
        while (isdigit((unsigned char)*p)) {
            if (n > (INT64_MAX - (*p - '0')) / 10)
                return false;
            n = n * 10 + (*p - '0');
            p++;
        }
        /* Longest unit name first: "ms" must not be read as "m" + "s". */
        len = 0;
        u = nunits;
        for (size_t i = next_unit; i < nunits; i++) {
            size_t l = strlen(units[i].name);
            if (strncmp(p, units[i].name, l) == 0 && l > len) {
                len = l;
                u = i;
            }
        }
        if (u == nunits)
            return false;
        if (n > (INT64_MAX - total) / units[u].ms)
            return false;
        total += n * units[u].ms;
        p += len;
        next_unit = u + 1;
    }
    *ms = total;
    return true;
}

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

/* Edit distance of short names, for "did you mean". */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), prev[33], cur[33];

    if (la > 32 || lb > 32)
        return SIZE_MAX;
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, (lb + 1) * sizeof *prev);
    }
    return prev[lb];
}

/* "a, b, c" and, when one of the names is close to got, "; did you mean 'b'?" */
static void choices(const char *const *names, size_t n, const char *got, char *out, size_t cap)
{
    size_t used = 0, best = SIZE_MAX, best_i = 0;

    out[0] = '\0';
    for (size_t i = 0; i < n && used < cap; i++) {
        int w = snprintf(out + used, cap - used, "%s%s", i ? ", " : "", names[i]);
        if (w < 0)
            break;
        used += (size_t)w;
        if (got) {
            size_t d = distance(got, names[i]);
            if (d < best) {
                best = d;
                best_i = i;
            }
        }
    }
    if (got && best <= 2 && used < cap)
        snprintf(out + used, cap - used, "; did you mean '%s'?", names[best_i]);
}

/* Rejects fields not in allowed and fields given twice (cJSON keeps both,
 * and only the first would be read). */
static roost_status check_fields(const cJSON *obj, const char *path, const char *const *allowed,
                                 size_t n, roost_error *err)
{
    for (const cJSON *c = obj->child; c; c = c->next) {
        bool known = false;
        char list[256];

        for (size_t i = 0; i < n && !known; i++)
            known = strcmp(c->string, allowed[i]) == 0;
        if (!known) {
            choices(allowed, n, c->string, list, sizeof list);
            return roost_error_set(err, ROOST_EINVAL, "%s: unknown field '%s' (expected one of %s)",
                                   path, c->string, list);
        }
        for (const cJSON *d = obj->child; d != c; d = d->next) {
            if (strcmp(d->string, c->string) == 0)
                return roost_error_set(err, ROOST_EINVAL, "%s: field '%s' is given twice", path,
                                       c->string);
        }
    }
    return ROOST_OK;
}

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
            choices(event_names, NEVENTS, e->valuestring, list, sizeof list);
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
    if ((rc = check_fields(http, sub, fields, 3, err)) != ROOST_OK)
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
            choices(methods, n, NULL, list, sizeof list);
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
    if ((rc = check_fields(obj, path, fields, sizeof fields / sizeof fields[0], err)) != ROOST_OK)
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
