/* tz: TZif files (RFC 8536) read into a table of transitions and offsets, the footer's POSIX
 * rule past the table's end, and zone names checked before any path is opened. */
#include "server/tz.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/tz_internal.h"

#define TZ_DEFAULT_DIR "/usr/share/zoneinfo"
#define TZ_FILE_MAX (1 << 20)  /* real ones are under 4 KiB */
#define TZ_OFFSET_MIN (-89999) /* RFC 8536 3.2: -25:59:59 to +25:59:59 */
#define TZ_OFFSET_MAX 93599

struct tz {
    char name[TZ_NAME_MAX + 1];
    size_t n_transitions;
    int64_t *transition_at; /* ascending */
    uint8_t *transition_type;
    size_t n_types;
    int32_t *type_offset; /* seconds east; type 0 is the time before the first transition */
    bool has_rule;        /* the footer's rule, from the last transition on */
    struct tz_rule rule;
};

/* ------------------------------------------------------------------ reading TZif bytes */

struct tzif_reader {
    const uint8_t *p;
    size_t left;
};

struct tzif_header {
    int version; /* 0, or '2', '3', ... */
    uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
};

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t get_i64(const uint8_t *p)
{
    return (int64_t)((uint64_t)get_u32(p) << 32 | get_u32(p + 4));
}

static int read_header(struct tzif_reader *r, struct tzif_header *h, const char **why)
{
    if (r->left < 44 || memcmp(r->p, "TZif", 4) != 0) return *why = "no TZif header", -1;
    h->version = r->p[4];
    if (h->version != 0 && h->version < '2') return *why = "unknown TZif version", -1;
    h->isutcnt = get_u32(r->p + 20);
    h->isstdcnt = get_u32(r->p + 24);
    h->leapcnt = get_u32(r->p + 28);
    h->timecnt = get_u32(r->p + 32);
    h->typecnt = get_u32(r->p + 36);
    h->charcnt = get_u32(r->p + 40);
    r->p += 44, r->left -= 44;
    if (h->typecnt < 1 || h->typecnt > 256) return *why = "typecnt out of range", -1;
    if (h->charcnt < 1) return *why = "charcnt is zero", -1;
    if ((h->isutcnt && h->isutcnt != h->typecnt) || (h->isstdcnt && h->isstdcnt != h->typecnt))
        return *why = "isutcnt or isstdcnt differs from typecnt", -1;
    if (h->leapcnt) return *why = "leap-second zones (right/...) are not supported", -1;
    return 0;
}

/* The size of the data block after h, with times of tsize bytes (4 in v1, 8 after). */
static uint64_t block_size(const struct tzif_header *h, unsigned tsize)
{
    return (uint64_t)h->timecnt * (tsize + 1) + (uint64_t)h->typecnt * 6 + h->charcnt +
           (uint64_t)h->leapcnt * (tsize + 4) + h->isstdcnt + h->isutcnt;
}

/* Reads a data block into z's table. */
static int read_block(struct tzif_reader *r, const struct tzif_header *h, unsigned tsize,
                      struct tz *z, const char **why)
{
    if (block_size(h, tsize) > r->left) return *why = "truncated data block", -1;
    const uint8_t *times = r->p, *idx = times + (size_t)h->timecnt * tsize;
    const uint8_t *types = idx + h->timecnt;
    z->n_transitions = h->timecnt;
    z->n_types = h->typecnt;
    z->transition_at = malloc((h->timecnt ? h->timecnt : 1) * sizeof *z->transition_at);
    z->transition_type = malloc(h->timecnt ? h->timecnt : 1);
    z->type_offset = malloc(h->typecnt * sizeof *z->type_offset);
    if (!z->transition_at || !z->transition_type || !z->type_offset)
        return *why = "out of memory", -1;
    for (uint32_t i = 0; i < h->timecnt; i++) {
        const uint8_t *t = times + (size_t)i * tsize;
        z->transition_at[i] = tsize == 4 ? (int32_t)get_u32(t) : get_i64(t);
        if (i > 0 && z->transition_at[i] <= z->transition_at[i - 1])
            return *why = "transition times are not ascending", -1;
        if (idx[i] >= h->typecnt) return *why = "a transition names an unknown type", -1;
        z->transition_type[i] = idx[i];
    }
    for (uint32_t i = 0; i < h->typecnt; i++) {
        const uint8_t *t = types + (size_t)i * 6;
        int32_t off = (int32_t)get_u32(t);
        if (off < TZ_OFFSET_MIN || off > TZ_OFFSET_MAX) return *why = "offset out of range", -1;
        if (t[4] > 1) return *why = "isdst is neither 0 nor 1", -1;
        if (t[5] >= h->charcnt) return *why = "abbreviation index out of range", -1;
        z->type_offset[i] = off;
    }
    size_t n = (size_t)block_size(h, tsize);
    r->p += n, r->left -= n;
    return 0;
}

/* The footer of v2+: "\n" POSIX-TZ-string "\n" (an empty string: no rule). */
static int read_footer(struct tzif_reader *r, struct tz *z, const char **why)
{
    if (r->left < 2 || r->p[0] != '\n') return *why = "no footer", -1;
    const uint8_t *end = memchr(r->p + 1, '\n', r->left - 1);
    if (!end) return *why = "unterminated footer", -1;
    size_t len = (size_t)(end - r->p - 1);
    if (len == 0) return 0;
    if (tz_rule_parse((const char *)r->p + 1, len, &z->rule, why) < 0) return -1;
    if (z->rule.std_offset < TZ_OFFSET_MIN || z->rule.std_offset > TZ_OFFSET_MAX ||
        z->rule.dst_offset < TZ_OFFSET_MIN || z->rule.dst_offset > TZ_OFFSET_MAX)
        return *why = "footer offset out of range", -1;
    z->has_rule = true;
    return 0;
}

static int parse_tzif(struct tzif_reader *r, struct tz *z, const char **why)
{
    struct tzif_header h;
    if (read_header(r, &h, why) < 0) return -1;
    if (h.version == 0) return read_block(r, &h, 4, z, why);
    if (block_size(&h, 4) > r->left) return *why = "truncated v1 data block", -1;
    r->p += block_size(&h, 4), r->left -= block_size(&h, 4); /* the 64-bit data follows */
    int version = h.version;
    if (read_header(r, &h, why) < 0) return -1;
    if (h.version != version) return *why = "the two headers' versions differ", -1;
    if (read_block(r, &h, 8, z, why) < 0) return -1;
    return read_footer(r, z, why);
}

/* ------------------------------------------------------------------ the public calls */

static struct tz *tz_new(const char *name)
{
    struct tz *z = calloc(1, sizeof *z);
    if (z) snprintf(z->name, sizeof z->name, "%s", name ? name : "");
    return z;
}

int tz_parse(const void *data, size_t len, const char *name, struct tz **out, char *err,
             size_t errlen)
{
    const char *why = "malformed";
    struct tzif_reader r = {data, len};
    struct tz *z = tz_new(name);
    if (!z) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (parse_tzif(&r, z, &why) < 0) {
        snprintf(err, errlen, "malformed TZif data: %s", why);
        tz_free(z);
        return -1;
    }
    *out = z;
    return 0;
}

int tz_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > TZ_NAME_MAX || name[0] == '/' || name[n - 1] == '/') return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '/' || c == '_' || c == '-' || c == '+';
        if (!ok || (c == '/' && name[i + 1] == '/')) return 0; /* also no '.', so no ".." */
    }
    return 1;
}

/* Reads the regular file at path (up to TZ_FILE_MAX bytes) into *buf; errno on failure. */
static int read_small_file(const char *path, uint8_t **buf, size_t *len)
{
    int saved, fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    struct stat st;
    if (fstat(fd, &st) < 0) goto fail;
    if (S_ISDIR(st.st_mode)) {
        errno = EISDIR;
        goto fail;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > TZ_FILE_MAX) {
        errno = EINVAL;
        goto fail;
    }
    *buf = malloc((size_t)st.st_size + 1);
    if (!*buf) goto fail;
    size_t got = 0;
    for (;;) { /* to EOF, not to st_size: the file may be replaced meanwhile */
        ssize_t n = read(fd, *buf + got, (size_t)st.st_size + 1 - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) goto fail_buf;
        if (n == 0) break;
        got += (size_t)n;
        if (got > (size_t)st.st_size) {
            errno = EINVAL; /* grew while we read */
            goto fail_buf;
        }
    }
    close(fd);
    *len = got;
    return 0;
fail_buf:
    free(*buf);
    *buf = NULL;
fail:
    saved = errno;
    close(fd);
    errno = saved;
    return -1;
}

int tz_load(const char *name, struct tz **out, char *err, size_t errlen)
{
    if (!tz_name_ok(name)) {
        snprintf(err, errlen,
                 "bad time zone name '%.64s': use an IANA name such as Europe/Berlin (letters, "
                 "digits, '/', '_', '-', '+')",
                 name);
        return -1;
    }
    if (strcmp(name, "UTC") == 0) {
        struct tz *z = tz_new(name);
        if (z) z->type_offset = calloc(1, sizeof *z->type_offset);
        if (!z || !z->type_offset) {
            tz_free(z);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        z->n_types = 1;
        *out = z;
        return 0;
    }
    const char *dir = getenv("TZDIR");
    if (!dir || !*dir) dir = TZ_DEFAULT_DIR;
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path) {
        snprintf(err, errlen, "time zone '%s': the path under %s is too long", name, dir);
        return -1;
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    if (read_small_file(path, &buf, &len) < 0) {
        if (errno == ENOENT || errno == ENOTDIR || errno == EISDIR)
            snprintf(err, errlen, "unknown time zone '%s' (no zone file %s)", name, path);
        else if (errno == EINVAL)
            snprintf(err, errlen, "time zone '%s': %s is not a zone file", name, path);
        else
            snprintf(err, errlen, "time zone '%s': cannot read %s: %s", name, path,
                     strerror(errno));
        return -1;
    }
    char why[200];
    int rc = tz_parse(buf, len, name, out, why, sizeof why);
    free(buf);
    if (rc < 0) snprintf(err, errlen, "time zone '%s': %s: %s", name, path, why);
    return rc;
}

void tz_free(struct tz *z)
{
    if (!z) return;
    free(z->transition_at);
    free(z->transition_type);
    free(z->type_offset);
    free(z);
}

const char *tz_name(const struct tz *z)
{
    return z->name;
}

int tz_offset(const struct tz *z, int64_t t)
{
    size_t n = z->n_transitions;
    if (n == 0) return z->has_rule ? tz_rule_offset(&z->rule, t) : z->type_offset[0];
    if (t < z->transition_at[0]) return z->type_offset[0]; /* RFC 8536 3.2 */
    if (z->has_rule && t >= z->transition_at[n - 1]) return tz_rule_offset(&z->rule, t);
    size_t lo = 0, hi = n; /* the last transition at or before t: in [lo, hi) */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->transition_at[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return z->type_offset[z->transition_type[lo]];
}

int tz_next_change(const struct tz *z, int64_t t, int64_t *at)
{
    size_t n = z->n_transitions, lo = 0, hi = n; /* the first transition after t: lo */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->transition_at[mid] <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < n; i++) { /* skip those that change only isdst or the name */
        int64_t c = z->transition_at[i];
        if (tz_offset(z, c - 1) != tz_offset(z, c)) {
            *at = c;
            return 0;
        }
    }
    if (!z->has_rule) return -1;
    int64_t from = n && z->transition_at[n - 1] > t ? z->transition_at[n - 1] : t;
    return tz_rule_next_change(&z->rule, from, at);
}
