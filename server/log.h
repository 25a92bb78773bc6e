/* Structured logs: one JSON object per line on stderr.
 *
 *     struct log_line l;
 *     log_begin(&l, LOG_INFO, "apply");
 *     log_str(&l, "flag_set", set);
 *     log_u64(&l, "revision", rev);
 *     log_end(&l);
 *
 * Every line has "time" (RFC 3339, UTC, milliseconds), "level" and "event";
 * the fields follow in the order given. A line is built in a fixed buffer and
 * written with one write(2), so lines from different threads never
 * interleave; a line longer than the buffer is cut and marked
 * "truncated": true, never split. Secrets (tokens) are never passed here.
 */
#ifndef ROOSTD_LOG_H
#define ROOSTD_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

#define LOG_LINE_MAX 4096

struct log_line {
    char buf[LOG_LINE_MAX];
    size_t len;
    bool enabled;   /* false when the level is filtered out: all calls are no-ops */
    bool truncated;
};

/* Sets the lowest level written (default LOG_INFO) and the file descriptor
 * (default 2). Call before starting threads. */
void log_configure(enum log_level min_level, int fd);

/* Parses "debug", "info", "warn", "error". Returns false when unknown. */
bool log_level_parse(const char *name, enum log_level *out);

void log_begin(struct log_line *l, enum log_level level, const char *event);
void log_str(struct log_line *l, const char *key, const char *value);
void log_strn(struct log_line *l, const char *key, const char *value, size_t n);
void log_u64(struct log_line *l, const char *key, uint64_t value);
void log_i64(struct log_line *l, const char *key, int64_t value);
void log_f64(struct log_line *l, const char *key, double value);
void log_bool(struct log_line *l, const char *key, bool value);
void log_end(struct log_line *l);

/* One-field shorthand for the common "event + message" line. */
void log_msg(enum log_level level, const char *event, const char *msg);

#endif
