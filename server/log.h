/* log: one line per event on stderr, with a UTC timestamp and a level; text or JSON lines
 * (--log-format), below --log-level dropped. */
#ifndef SPAWNPOOL_LOG_H
#define SPAWNPOOL_LOG_H

#include <stdbool.h>
#include <stdint.h>

/* The levels, lowest first. */
enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };

/* One named value of a structured line: text (when text is not NULL) or number. */
struct log_field {
    const char *name;
    const char *text;
    int64_t number;
};

/* The level named name (debug, info, warn, error) into *out; false if it names none. */
bool log_level_parse(const char *name, enum log_level *out);
/* Sets the least level written and the format (json: one JSON object a line); call before
 * the first thread starts. Until then: info and text. */
void log_configure(enum log_level least, bool json);
/* True if a line of this level is written (to skip building one that would be dropped). */
bool log_enabled(enum log_level level);
/* Logs msg with fields: text `msg name=value...`, JSON `{"time","level","msg",name...}`. */
void log_fields(enum log_level level, const char *msg, const struct log_field *fields, int n);
/* Logs a debugging line: what an operator needs only when chasing a problem. */
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Logs an informational line. */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Logs a warning: something is wrong but the server goes on. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Logs an error: an operation failed. */
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* How often a line about a failure that recurs each moment (a database that is down) is
 * written: zero-initialized, one per kind of line. */
struct log_every {
    int64_t at;          /* monotonic ms the last line was written (0: none yet) */
    unsigned long quiet; /* lines dropped since */
};
/* True if a line limited by l may be written now (at most one per ms milliseconds; any
 * thread), with *dropped the number dropped since the last one written; false counts it. */
bool log_every(struct log_every *l, int64_t ms, unsigned long *dropped);

#endif
