/* tz_internal: the POSIX TZ rule of a TZif footer (tz_rule.c), for tz.c and the tests. */
#ifndef SPAWNPOOL_TZ_INTERNAL_H
#define SPAWNPOOL_TZ_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The day a rule switches on: Jn (1-365, no Feb 29), n (0-365, with Feb 29) or Mm.w.d. */
enum tz_date_kind { TZ_DATE_JULIAN1, TZ_DATE_JULIAN0, TZ_DATE_MONTH_WEEK };
struct tz_rule_date {
    enum tz_date_kind kind;
    int day;         /* JULIAN1, JULIAN0: the day of the year */
    int month, week; /* MONTH_WEEK: 1-12, 1-5 (5: the last) */
    int weekday;     /* MONTH_WEEK: 0 = Sunday .. 6 */
    int32_t time;    /* seconds after local midnight, -167h to 167h (RFC 8536) */
};

/* "STDoff[DST[off],start[/time],end[/time]]" with offsets as seconds east of UTC. */
struct tz_rule {
    int32_t std_offset;
    bool has_dst;
    int32_t dst_offset;             /* has_dst: std_offset + 1 h unless the string says */
    struct tz_rule_date start, end; /* has_dst: start in standard time, end in DST */
};

/* Parses the len bytes of a POSIX TZ string; 0, or -1 with what is wrong in *why. A DST name
 * needs its rule: the implementation-defined default of POSIX is not guessed. */
int tz_rule_parse(const char *s, size_t len, struct tz_rule *r, const char **why);
/* The rule's offset (seconds east) at UTC time t. */
int32_t tz_rule_offset(const struct tz_rule *r, int64_t t);
/* The first instant after t at which the rule's offset changes: 0 with *at, or -1 if never. */
int tz_rule_next_change(const struct tz_rule *r, int64_t t, int64_t *at);

#endif
