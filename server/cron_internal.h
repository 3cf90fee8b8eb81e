/* cron_internal: a parsed cron expression, shared by the parser (cron_parse.c) and the
 * next-time search (cron.c). */
#ifndef SPAWNPOOL_CRON_INTERNAL_H
#define SPAWNPOOL_CRON_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

/* One bit per allowed value of each field. */
struct cron {
    uint64_t minutes; /* bits 0-59 */
    uint32_t hours;   /* bits 0-23 */
    uint32_t days;    /* bits 1-31: days of the month */
    uint16_t months;  /* bits 1-12 */
    uint8_t weekdays; /* bits 0-6, 0 = Sunday (a 7 in the expression is bit 0) */
    bool minute_star; /* the field's text starts with '*' (cronie's MIN_STAR, ...) */
    bool hour_star;
    bool day_star;
    bool weekday_star;
};

#endif
