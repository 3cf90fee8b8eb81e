/* log: timestamped lines on stderr, as text or as JSON objects. One fprintf per line so
 * threads do not interleave; the settings are written once, before any thread. */
#include "server/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "server/clock.h"

static enum log_level least_level = LOG_LEVEL_INFO;
static bool json_lines;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

bool log_level_parse(const char *name, enum log_level *out)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return true;
        }
    return false;
}

void log_configure(enum log_level least, bool json)
{
    least_level = least;
    json_lines = json;
}

bool log_enabled(enum log_level level)
{
    return level >= least_level;
}

/* Appends s to out[*used..size) as the inside of a JSON string (cut short when full). */
static void add_json_text(char *out, size_t size, size_t *used, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    for (const unsigned char *p = (const unsigned char *)s; *p && *used + 7 < size; p++) {
        if (*p == '"' || *p == '\\') {
            out[(*used)++] = '\\';
            out[(*used)++] = (char)*p;
        } else if (*p < 0x20 || *p == 0x7f) {
            *used += (size_t)snprintf(out + *used, size - *used, "\\u00%c%c", hex[*p >> 4],
                                      hex[*p & 15]);
        } else {
            out[(*used)++] = (char)*p;
        }
    }
    out[*used] = '\0';
}

static void add_text(char *out, size_t size, size_t *used, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void add_text(char *out, size_t size, size_t *used, const char *fmt, ...)
{
    if (*used >= size - 1) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out + *used, size - *used, fmt, ap);
    va_end(ap);
    if (n > 0) *used = *used + (size_t)n < size - 1 ? *used + (size_t)n : size - 1;
}

void log_fields(enum log_level level, const char *msg, const struct log_field *fields, int n)
{
    if (!log_enabled(level)) return;
    char when[32], line[2048];
    size_t used = 0;
    clock_format(clock_wall_ms(), when);
    if (!json_lines) {
        add_text(line, sizeof line, &used, "%s %s %s", when, level_names[level], msg);
        for (int i = 0; i < n; i++) {
            if (fields[i].text)
                add_text(line, sizeof line, &used, " %s=%s", fields[i].name, fields[i].text);
            else
                add_text(line, sizeof line, &used, " %s=%lld", fields[i].name,
                         (long long)fields[i].number);
        }
        fprintf(stderr, "%s\n", line);
        return;
    }
    /* a JSON line: the message and each text are escaped, so any bytes stay one line */
    add_text(line, sizeof line, &used, "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":\"", when,
             level_names[level]);
    add_json_text(line, sizeof line - 256, &used, msg);
    add_text(line, sizeof line, &used, "\"");
    for (int i = 0; i < n; i++) {
        add_text(line, sizeof line, &used, ",\"%s\":", fields[i].name);
        if (fields[i].text) {
            add_text(line, sizeof line, &used, "\"");
            add_json_text(line, sizeof line - 8, &used, fields[i].text);
            add_text(line, sizeof line, &used, "\"");
        } else {
            add_text(line, sizeof line, &used, "%lld", (long long)fields[i].number);
        }
    }
    fprintf(stderr, "%s}\n", line);
}

__attribute__((format(printf, 2, 0))) static void log_line(enum log_level level, const char *fmt,
                                                           va_list ap)
{
    if (!log_enabled(level)) return;
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    log_fields(level, msg, NULL, 0);
}

void log_debug(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_line(LOG_LEVEL_DEBUG, fmt, ap);
    va_end(ap);
}

void log_info(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_line(LOG_LEVEL_INFO, fmt, ap);
    va_end(ap);
}

void log_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_line(LOG_LEVEL_WARN, fmt, ap);
    va_end(ap);
}

void log_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_line(LOG_LEVEL_ERROR, fmt, ap);
    va_end(ap);
}

bool log_every(struct log_every *l, int64_t ms, unsigned long *dropped)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    int64_t now = clock_mono_ms();
    pthread_mutex_lock(&lock);
    bool say = l->at == 0 || now - l->at >= ms;
    if (say) {
        *dropped = l->quiet;
        l->at = now;
        l->quiet = 0;
    } else {
        l->quiet++;
    }
    pthread_mutex_unlock(&lock);
    return say;
}
