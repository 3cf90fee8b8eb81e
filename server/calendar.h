/* calendar: proleptic Gregorian date arithmetic on plain integers (days since 1970-01-01),
 * without libc's time zone state, so any thread may use it. */
#ifndef SPAWNPOOL_CALENDAR_H
#define SPAWNPOOL_CALENDAR_H

#include <stdbool.h>
#include <stdint.h>

/* A civil date and time of day. */
struct calendar_time {
    int64_t year;
    int month;  /* 1-12 */
    int day;    /* 1-31 */
    int hour;   /* 0-23 */
    int minute; /* 0-59 */
    int second; /* 0-59 */
};

/* Whether year is a leap year. */
bool calendar_is_leap(int64_t year);
/* The number of days in month (1-12) of year. */
int calendar_days_in_month(int64_t year, int month);
/* Days from 1970-01-01 to year-month-day (month 1-12, day 1-31; negative before 1970). */
int64_t calendar_days_from_civil(int64_t year, int month, int day);
/* The weekday of a day number from calendar_days_from_civil: 0 = Sunday .. 6 = Saturday. */
int calendar_weekday(int64_t days);
/* Splits seconds since the epoch (no leap seconds) into a civil date and time. */
void calendar_split(int64_t seconds, struct calendar_time *out);
/* The seconds since the epoch of a civil date and time (the inverse of calendar_split). */
int64_t calendar_join(const struct calendar_time *t);

#endif
