/* clock: time sources and the one timestamp format of the API (written, and read back). */
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

/* Reads width digits at *p into *v and moves past them; false if they are not all digits. */
static bool get_digits(const char **p, int width, int *v)
{
    *v = 0;
    for (int i = 0; i < width; i++, (*p)++) {
        if (**p < '0' || **p > '9') return false;
        *v = *v * 10 + (**p - '0');
    }
    return true;
}

/* Reads what follows the digits at *p if it is the character c (or, when alt is not 0, alt). */
static bool get_char(const char **p, char c, char alt)
{
    if (**p != c && (!alt || **p != alt)) return false;
    (*p)++;
    return true;
}

/* Days from 1970-01-01 to a civil date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

int clock_parse(const char *text, int64_t *ms, bool *inexact)
{
    static const int month_days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const char *p = text;
    int y, mo, d, h, mi, s;
    if (!get_digits(&p, 4, &y) || !get_char(&p, '-', 0) || !get_digits(&p, 2, &mo) ||
        !get_char(&p, '-', 0) || !get_digits(&p, 2, &d) ||
        !(get_char(&p, 'T', 't') || get_char(&p, ' ', 0)) || !get_digits(&p, 2, &h) ||
        !get_char(&p, ':', 0) || !get_digits(&p, 2, &mi) || !get_char(&p, ':', 0) ||
        !get_digits(&p, 2, &s))
        return -1;
    bool leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    if (mo < 1 || mo > 12 || d < 1 || d > month_days[mo - 1] || (mo == 2 && d == 29 && !leap) ||
        h > 23 || mi > 59 || s > 60) /* (60: a leap second, read as the next one) */
        return -1;
    int frac = 0, digits = 0;
    bool dropped = false;
    if (get_char(&p, '.', 0)) {
        for (; *p >= '0' && *p <= '9'; p++, digits++) {
            if (digits < 3)
                frac = frac * 10 + (*p - '0');
            else
                dropped = dropped || *p != '0';
        }
        if (digits == 0) return -1;
        for (; digits < 3; digits++)
            frac *= 10;
    }
    int offset = 0; /* seconds east of UTC */
    if (!get_char(&p, 'Z', 'z')) {
        int sign = *p == '-' ? -1 : 1, oh, om;
        if (!get_char(&p, '+', '-') && !get_char(&p, ' ', 0)) return -1;
        if (!get_digits(&p, 2, &oh) || !get_char(&p, ':', 0) || !get_digits(&p, 2, &om) ||
            oh > 23 || om > 59)
            return -1;
        offset = sign * (oh * 3600 + om * 60);
    }
    if (*p) return -1;
    int64_t secs =
        days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + s - offset;
    *ms = secs * 1000 + frac;
    *inexact = dropped;
    return 0;
}
