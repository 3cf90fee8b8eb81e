/* tz: time zones without libc's TZ state: "UTC", or an IANA zone read from its TZif file
 * (RFC 8536, v1 and v2+ with the footer's POSIX TZ rule for times past the last transition).
 * A loaded zone is immutable: any number of threads may use it at once. */
#ifndef SPAWNPOOL_TZ_H
#define SPAWNPOOL_TZ_H

#include <stddef.h>
#include <stdint.h>

struct tz; /* a loaded zone: UTC or a TZif file */

/* The longest zone name tz_load accepts. */
#define TZ_NAME_MAX 255

/* Loads "UTC" (built in) or an IANA name ("Europe/Berlin") from $TZDIR or
 * /usr/share/zoneinfo; 0, or -1 with a message in err (unknown zone, bad name such as
 * "../x" or an absolute path, unreadable or malformed file). */
int tz_load(const char *name, struct tz **out, char *err, size_t errlen);
/* Parses the len bytes of a TZif file into a zone called name (any text; what tz_name
 * returns); 0, or -1 with what is malformed in err. */
int tz_parse(const void *data, size_t len, const char *name, struct tz **out, char *err,
             size_t errlen);
/* Whether name is one tz_load would look up: 1 to TZ_NAME_MAX letters, digits, '/', '_',
 * '-', '+', no leading, trailing or doubled '/' (so no absolute path and no ".."). */
int tz_name_ok(const char *name);
/* Frees a zone (NULL is fine). */
void tz_free(struct tz *z);
/* The name the zone was loaded as. */
const char *tz_name(const struct tz *z);
/* The zone's offset from UTC (seconds east) at UTC time t (seconds). */
int tz_offset(const struct tz *z, int64_t t);
/* The first instant after t at which the offset changes (tz_offset(z, *at - 1) !=
 * tz_offset(z, *at)): 0 with *at set, or -1 when it never changes again. */
int tz_next_change(const struct tz *z, int64_t t, int64_t *at);

#endif
