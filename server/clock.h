/* clock: wall and monotonic time in milliseconds, RFC 3339 formatting. */
#ifndef SPAWNPOOL_CLOCK_H
#define SPAWNPOOL_CLOCK_H

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

#endif
