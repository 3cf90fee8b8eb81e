/* clock: wall and monotonic time in milliseconds, RFC 3339 formatting. */
#ifndef SPAWNPOOL_CLOCK_H
#define SPAWNPOOL_CLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Milliseconds since the Unix epoch (wall clock, for timestamps users see). */
int64_t clock_wall_ms(void);
/* Milliseconds of CLOCK_MONOTONIC (for deadlines and intervals). */
int64_t clock_mono_ms(void);
/* Microseconds of CLOCK_MONOTONIC (for latencies below a millisecond). */
int64_t clock_mono_us(void);
/* Writes ms as "2026-11-27T12:00:00.123Z" (UTC) into out (32 bytes at least); its length. */
size_t clock_format(int64_t ms, char out[32]);
/* Reads an RFC 3339 time, "2026-11-27T12:00:00Z" or "2026-11-27T12:00:00.5+02:00" (years
 * 0000-9999; 't' and 'z' too; a space for the 'T', and for the '+' of an offset, which a
 * query string turns into one) into *ms since the epoch, rounded down; *inexact says whether
 * that dropped digits below the millisecond. 0, or -1 if text is not such a time. */
int clock_parse(const char *text, int64_t *ms, bool *inexact);

#endif
