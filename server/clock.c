/* clock: time sources and the one timestamp format of the API. */
#include "server/clock.h"

#include <stdio.h>
#include <time.h>

int64_t clock_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static char *put_digits(char *p, unsigned v, int width)
{
    for (int i = width - 1; i >= 0; i--, v /= 10)
        p[i] = (char)('0' + v % 10);
    return p + width;
}

/* By arithmetic, not gmtime_r + strftime: those take glibc's time zone lock, which every
 * HTTP thread writing a job's three timestamps would contend for. */
size_t clock_format(int64_t ms, char out[32])
{
    int64_t secs = ms / 1000, frac = ms % 1000;
    if (frac < 0) frac += 1000, secs--;
    int64_t days = secs / 86400, rem = secs % 86400;
    if (rem < 0) rem += 86400, days--;
    /* the civil date of a day count (H. Hinnant's days_from_civil, inverted) */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned day = doy - (153 * mp + 2) / 5 + 1, month = mp < 10 ? mp + 3 : mp - 9;
    int64_t year = (int64_t)yoe + era * 400 + (month <= 2);
    unsigned hms = (unsigned)rem;
    if (year < 0 || year > 9999) /* not a time this server stamps; still well-formed */
        return (size_t)snprintf(out, 32, "%lld-%02u-%02uT%02u:%02u:%02u.%03uZ", (long long)year,
                                month, day, hms / 3600, hms / 60 % 60, hms % 60, (unsigned)frac);
    char *p = put_digits(out, (unsigned)year, 4);
    *p++ = '-';
    p = put_digits(p, month, 2);
    *p++ = '-';
    p = put_digits(p, day, 2);
    *p++ = 'T';
    p = put_digits(p, hms / 3600, 2);
    *p++ = ':';
    p = put_digits(p, hms / 60 % 60, 2);
    *p++ = ':';
    p = put_digits(p, hms % 60, 2);
    *p++ = '.';
    p = put_digits(p, (unsigned)frac, 3);
    *p++ = 'Z';
    *p = '\0';
    return (size_t)(p - out);
}
