/* gzip: the Content-Encoding of large JSON answers. Whether a client takes gzip (its
 * Accept-Encoding, q-values included) and the compression itself (zlib, one call). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "api/internal.h"

/* The q-value of one Accept-Encoding item's parameters (p after the coding): 1 if none. */
static double item_quality(const char *p, const char *end)
{
    while (p < end) {
        while (p < end && (*p == ';' || *p == ' ' || *p == '\t'))
            p++;
        if (end - p >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
            char num[16];
            size_t n = 0;
            for (p += 2; p < end && n < sizeof num - 1 && *p != ';' && *p != ' '; p++)
                num[n++] = *p;
            num[n] = '\0';
            char *stop;
            double q = strtod(num, &stop);
            return n && *stop == '\0' && q >= 0 && q <= 1 ? q : 0;
        }
        while (p < end && *p != ';')
            p++;
    }
    return 1;
}

bool api_gzip_accepted(const char *accept_encoding)
{
    if (!accept_encoding) return false;
    double gzip = -1, any = -1; /* -1: not named */
    const char *p = accept_encoding;
    while (*p) {
        while (*p == ',' || *p == ' ' || *p == '\t')
            p++;
        const char *end = p + strcspn(p, ",");
        size_t coding = strcspn(p, ",; \t");
        if (coding > (size_t)(end - p)) coding = (size_t)(end - p);
        double q = item_quality(p + coding, end);
        if ((coding == 4 && strncasecmp(p, "gzip", 4) == 0) ||
            (coding == 6 && strncasecmp(p, "x-gzip", 6) == 0))
            gzip = q > gzip ? q : gzip;
        else if (coding == 1 && *p == '*')
            any = q;
        p = end;
    }
    return gzip >= 0 ? gzip > 0 : any > 0;
}

int api_gzip(const char *in, size_t len, char **out, size_t *out_len)
{
    z_stream z = {0};
    /* 15 + 16: a gzip header and trailer, not zlib's; level 6 is zlib's own default balance */
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return -1;
    size_t cap = deflateBound(&z, (uLong)len);
    char *buf = malloc(cap);
    if (!buf) {
        deflateEnd(&z);
        return -1;
    }
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)buf;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    *out_len = z.total_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(buf);
        return -1;
    }
    *out = buf;
    return 0;
}
