/* log: one line per event on stderr, with a UTC timestamp and a level. */
#ifndef SPAWNPOOL_LOG_H
#define SPAWNPOOL_LOG_H

/* Logs an informational line. */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Logs a warning: something is wrong but the server goes on. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Logs an error: an operation failed. */
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
