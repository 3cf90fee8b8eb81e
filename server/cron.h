/* cron: 5-field cron expressions (Vixie/cronie syntax) and their next run time in a time zone,
 * through daylight-saving changes the way cronie runs them (the rule: the top of cron.c).
 * Pure: no I/O, no libc time zone state; a parsed expression may be shared by threads. */
#ifndef SPAWNPOOL_CRON_H
#define SPAWNPOOL_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/tz.h"

struct cron; /* a parsed expression */

/* The longest expression cron_parse accepts, in bytes. */
#define CRON_EXPR_MAX 1024

/* Parses a 5-field expression (minute hour day-of-month month day-of-week; ranges a-b, steps
 * a-b/n and a star then /n, lists, names JAN-DEC and SUN-SAT case-insensitive, 7 = Sunday) or
 * @yearly @annually @monthly @weekly @daily @midnight @hourly. 0, or -1 with a message in
 * err that names the field and what is wrong. */
int cron_parse(const char *expr, struct cron **out, char *err, size_t errlen);
/* Frees a parsed expression (NULL is fine). */
void cron_free(struct cron *c);
/* The first run time strictly after `after` (UTC seconds), in zone z; -1 if there is none
 * within the next 28 years (e.g. "0 0 30 2 *") and before the year 10000, or if `after` is
 * outside years 1-9999. */
int64_t cron_next(const struct cron *c, const struct tz *z, int64_t after);
/* Whether the local wall-clock time `local` (seconds since 1970-01-01 00:00 of the zone's
 * calendar, seconds ignored) is one the expression names. */
bool cron_matches(const struct cron *c, int64_t local);
/* Whether the minute or hour field starts with '*': such a job follows the wall clock through
 * DST changes; the others run skipped times at the change and repeated times once. */
bool cron_follows_wall_clock(const struct cron *c);

#endif
