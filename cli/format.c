/* format: how the client shows jobs to a person: times, durations, colours, a command on
 * one line, and the exit status a job stands for. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"

double cli_time_parse(const char *s)
{
    if (!s) return -1;
    struct tm tm = {0};
    int ms = 0, used = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &used) != 6)
        return -1;
    const char *p = s + used;
    if (*p == '.') {
        int digits = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, digits++)
            if (digits < 3) ms = ms * 10 + (*p - '0');
        for (; digits < 3; digits++)
            ms *= 10;
    }
    if (*p != 'Z') return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    return t == (time_t)-1 ? -1 : (double)t + ms / 1000.0;
}

void cli_fmt_duration(double s, char *out, size_t n)
{
    if (s < 0 || isnan(s)) {
        snprintf(out, n, "-");
    } else if (s < 60) {
        snprintf(out, n, s < 10 ? "%.2fs" : "%.1fs", s);
    } else if (s < 3600) {
        long t = lround(s);
        snprintf(out, n, "%ldm%02lds", t / 60, t % 60);
    } else if (s < 86400) {
        long t = lround(s) / 60;
        snprintf(out, n, "%ldh%02ldm", t / 60, t % 60);
    } else {
        long t = lround(s) / 3600;
        snprintf(out, n, "%ldd%02ldh", t / 24, t % 24);
    }
}

void cli_fmt_time(const char *rfc3339, char *out, size_t n)
{
    double t = cli_time_parse(rfc3339);
    if (t < 0) {
        snprintf(out, n, "-");
        return;
    }
    time_t secs = (time_t)t, now = time(NULL);
    struct tm tm, today;
    localtime_r(&secs, &tm);
    localtime_r(&now, &today);
    bool same_day = tm.tm_year == today.tm_year && tm.tm_yday == today.tm_yday;
    strftime(out, n, same_day ? "%H:%M:%S" : "%b %d %H:%M", &tm);
}

const char *cli_color(const struct cli *c, const char *state)
{
    if (!c->color || !state) return "";
    if (strcmp(state, "succeeded") == 0) return "\033[32m";
    if (strcmp(state, "running") == 0) return "\033[36m";
    if (strcmp(state, "queued") == 0 || strcmp(state, "scheduled") == 0) return "\033[2m";
    if (strcmp(state, "canceled") == 0) return "\033[33m";
    return "\033[31m"; /* failed, terminated, timed_out, lost */
}

const char *cli_color_end(const struct cli *c)
{
    return c->color ? "\033[0m" : "";
}

bool cli_job_ended(json_t *job)
{
    const char *state = json_string_value(json_object_get(job, "state"));
    return state && strcmp(state, "queued") != 0 && strcmp(state, "running") != 0 &&
           strcmp(state, "scheduled") != 0;
}

int cli_job_status(json_t *job)
{
    const char *state = json_string_value(json_object_get(job, "state"));
    if (!state) return CLI_FAILED;
    if (strcmp(state, "lost") == 0) return CLI_JOB_LOST;
    if (strcmp(state, "canceled") == 0) return CLI_JOB_CANCELED;
    json_t *code = json_object_get(job, "exit_code"), *sig = json_object_get(job, "signal");
    if (strcmp(state, "timed_out") == 0) return CLI_JOB_TIMED_OUT;
    if (json_is_integer(sig)) return 128 + (int)(json_integer_value(sig) & 127);
    if (json_is_integer(code)) return (int)(json_integer_value(code) & 255);
    return strcmp(state, "succeeded") == 0 ? CLI_OK : CLI_FAILED;
}

/* Appends s to out (of n, at *at), quoted for a shell when it needs it. */
static void add_word(char *out, size_t n, size_t *at, const char *s)
{
    bool plain = *s != '\0';
    for (const char *p = s; *p && plain; p++)
        plain = strchr(" \t\n'\"\\$`*?[]{}()<>|&;#~!", *p) == NULL;
    const char *sep = *at ? " " : "";
    int w;
    if (plain) {
        w = snprintf(out + *at, n - *at, "%s%s", sep, s);
    } else {
        w = snprintf(out + *at, n - *at, "%s'", sep);
        for (const char *p = s; *p && w >= 0 && *at + (size_t)w < n; p++)
            w += snprintf(out + *at + w, n - *at - (size_t)w, *p == '\'' ? "'\\''" : "%c", *p);
        if (w >= 0 && *at + (size_t)w < n) w += snprintf(out + *at + w, n - *at - (size_t)w, "'");
    }
    if (w > 0) *at = *at + (size_t)w < n ? *at + (size_t)w : n - 1;
}

static void add_argv(char *out, size_t n, size_t *at, json_t *argv)
{
    size_t i;
    json_t *a;
    json_array_foreach(argv, i, a)
    {
        const char *s = json_string_value(a);
        if (s) add_word(out, n, at, s);
    }
}

void cli_fmt_command(json_t *job, char *out, size_t n)
{
    if (!n) return;
    out[0] = '\0';
    size_t at = 0;
    const char *command = json_string_value(json_object_get(job, "command"));
    const char *task = json_string_value(json_object_get(job, "task"));
    json_t *pipeline = json_object_get(job, "pipeline");
    if (command) {
        snprintf(out, n, "%s", command);
    } else if (task) {
        snprintf(out, n, "task %s", task);
        at = strlen(out);
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(job, "params"), k, v)
        {
            char word[512];
            char *val = json_is_string(v) ? NULL : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
            snprintf(word, sizeof word, "%s=%s", k, val ? val : json_string_value(v));
            free(val);
            add_word(out, n, &at, word);
        }
    } else if (json_is_array(pipeline)) {
        size_t i;
        json_t *stage;
        json_array_foreach(pipeline, i, stage)
        {
            if (i && at + 2 < n) {
                memcpy(out + at, " |", 3);
                at += 2;
            }
            add_argv(out, n, &at, stage);
        }
    } else {
        add_argv(out, n, &at, json_object_get(job, "argv"));
    }
}

/* ---- tables, ids, signal names (cli/jobs.c, cli/pool.c) ----------------------------------- */

void cli_table_init(struct cli_table *t, size_t ncols, const char *const *header)
{
    memset(t, 0, sizeof *t);
    t->ncols = ncols;
    if (header) {
        t->header = true;
        for (size_t i = 0; i < ncols; i++)
            cli_table_cell(t, NULL, "%s", header[i]);
    }
}

void cli_table_cell(struct cli_table *t, const char *color, const char *fmt, ...)
{
    if (t->ncells == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        char **cells = realloc(t->cells, cap * sizeof *cells);
        if (cells) t->cells = cells;
        const char **colors = realloc(t->colors, cap * sizeof *colors);
        if (colors) t->colors = colors;
        if (!cells || !colors) return; /* out of memory: the cell is dropped */
        t->cap = cap;
    }
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0) s = NULL;
    va_end(ap);
    if (!s) return;
    for (char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = ' ';
    t->colors[t->ncells] = color && *color ? color : NULL;
    t->cells[t->ncells++] = s;
}

/* Characters (not bytes) of UTF-8 text: every byte but continuation bytes. */
size_t cli_text_width(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

void cli_table_print(const struct cli *c, struct cli_table *t)
{
    size_t *width = calloc(t->ncols ? t->ncols : 1, sizeof *width);
    for (size_t i = 0; width && i < t->ncells; i++) {
        size_t w = cli_text_width(t->cells[i]);
        if (w > width[i % t->ncols]) width[i % t->ncols] = w;
    }
    for (size_t i = 0; i < t->ncells; i++) {
        size_t col = i % t->ncols;
        bool last = col == t->ncols - 1 || i == t->ncells - 1;
        if (t->colors[i]) fputs(t->colors[i], stdout);
        fputs(t->cells[i], stdout);
        if (t->colors[i]) fputs(cli_color_end(c), stdout);
        if (!last && width) printf("%*s", (int)(width[col] - cli_text_width(t->cells[i]) + 2), "");
        if (last) putchar('\n');
        free(t->cells[i]);
    }
    free(width);
    free(t->cells);
    free(t->colors);
    memset(t, 0, sizeof *t);
}

bool cli_parse_id(const char *command, const char *s, long long *id)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < 1 || *s < '0' || *s > '9') {
        cli_usage_error(command, "a job id is a positive integer, got '%s'", s);
        return false;
    }
    *id = v;
    return true;
}

void cli_signal_name(int sig, char *out, size_t n)
{
    const char *name = sig > 0 && sig < 65 ? sigabbrev_np(sig) : NULL;
    if (name)
        snprintf(out, n, "SIG%s", name);
    else
        snprintf(out, n, "SIG%d", sig);
}
