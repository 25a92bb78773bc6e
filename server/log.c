/* Structured JSON logging. See log.h for the line format.
 *
 * Appends are bounded by the line buffer: when a field does not fit, it is
 * dropped and the line ends with "truncated":true, because a log line that
 * is valid JSON is worth more than a complete but unparsable one. */
#include "log.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum log_level min_level = LOG_INFO;
static int log_fd = 2;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

/* Room kept at the end of the buffer for ',"truncated":true}\n'. */
#define LOG_TAIL_RESERVE 24

void log_configure(enum log_level level, int fd)
{
    min_level = level;
    log_fd = fd;
}

bool log_level_parse(const char *name, enum log_level *out)
{
    for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return true;
        }
    }
    return false;
}

static bool fits(struct log_line *l, size_t n)
{
    if (l->len + n + LOG_TAIL_RESERVE > sizeof l->buf) {
        l->truncated = true;
        return false;
    }
    return true;
}

static void put_raw(struct log_line *l, const char *s, size_t n)
{
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

/* Appends s as a JSON string (quotes included). Control characters and
 * invalid bytes are escaped so every line stays one line of valid JSON. */
static bool put_json_string(struct log_line *l, const char *s, size_t n)
{
    size_t start = l->len;

    if (!fits(l, 2))
        return false;
    put_raw(l, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        size_t elen;

        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            elen = 2;
        } else if (c == '\n') {
            memcpy(esc, "\\n", 2);
            elen = 2;
        } else if (c == '\t') {
            memcpy(esc, "\\t", 2);
            elen = 2;
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            elen = 6;
        } else {
            esc[0] = (char)c;
            elen = 1;
        }
        if (!fits(l, elen + 1)) {
            l->len = start;
            return false;
        }
        put_raw(l, esc, elen);
    }
    put_raw(l, "\"", 1);
    return true;
}

static bool put_key(struct log_line *l, const char *key)
{
    size_t start = l->len;

    if (!fits(l, 1))
        return false;
    put_raw(l, ",", 1);
    if (!put_json_string(l, key, strlen(key)) || !fits(l, 1)) {
        l->len = start;
        return false;
    }
    put_raw(l, ":", 1);
    return true;
}

static void put_field(struct log_line *l, const char *key, const char *raw, size_t n)
{
    size_t start = l->len;

    if (!l->enabled || !put_key(l, key))
        return;
    if (!fits(l, n)) {
        l->len = start;
        return;
    }
    put_raw(l, raw, n);
}

void log_begin(struct log_line *l, enum log_level level, const char *event)
{
    struct timespec ts;
    struct tm tm;
    char head[96];
    int n;

    l->len = 0;
    l->truncated = false;
    l->enabled = level >= min_level;
    if (!l->enabled)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = snprintf(head, sizeof head,
                 "{\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\",\"level\":\"%s\",\"event\":",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 ts.tv_nsec / 1000000L, level_names[level]);
    put_raw(l, head, (size_t)n);
    put_json_string(l, event, strlen(event));
}

void log_str(struct log_line *l, const char *key, const char *value)
{
    log_strn(l, key, value ? value : "", value ? strlen(value) : 0);
}

void log_strn(struct log_line *l, const char *key, const char *value, size_t n)
{
    size_t start = l->len;

    if (!l->enabled || !put_key(l, key))
        return;
    if (!put_json_string(l, value, n))
        l->len = start;
}

void log_u64(struct log_line *l, const char *key, uint64_t value)
{
    char num[24];
    int n = snprintf(num, sizeof num, "%llu", (unsigned long long)value);
    put_field(l, key, num, (size_t)n);
}

void log_i64(struct log_line *l, const char *key, int64_t value)
{
    char num[24];
    int n = snprintf(num, sizeof num, "%lld", (long long)value);
    put_field(l, key, num, (size_t)n);
}

void log_f64(struct log_line *l, const char *key, double value)
{
    char num[32];
    int n;

    if (!isfinite(value))
        n = snprintf(num, sizeof num, "null");  /* JSON has no NaN or infinity */
    else
        n = snprintf(num, sizeof num, "%.6g", value);
    put_field(l, key, num, (size_t)n);
}

void log_bool(struct log_line *l, const char *key, bool value)
{
    put_field(l, key, value ? "true" : "false", value ? 4 : 5);
}

void log_end(struct log_line *l)
{
    const char *p;
    size_t left;

    if (!l->enabled)
        return;
    if (l->truncated)
        put_raw(l, ",\"truncated\":true", 17);
    put_raw(l, "}\n", 2);
    /* One write per line; a short write to a pipe is retried so a line is
     * never lost halfway, but a failing stderr is not worth crashing for. */
    p = l->buf;
    left = l->len;
    while (left > 0) {
        ssize_t w = write(log_fd, p, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        p += w;
        left -= (size_t)w;
    }
}

void log_msg(enum log_level level, const char *event, const char *msg)
{
    struct log_line l;

    log_begin(&l, level, event);
    log_str(&l, "msg", msg);
    log_end(&l);
}
