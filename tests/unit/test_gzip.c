/* test_gzip: api/gzip.c. Which Accept-Encoding values take gzip (RFC 9110 q-values and the
 * wildcard), and that a compressed answer inflates back to the same bytes. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "api/internal.h"
#include "check.h"

static void accepted(void)
{
    CHECK(api_gzip_accepted("gzip"));
    CHECK(api_gzip_accepted("gzip, deflate, br"));
    CHECK(api_gzip_accepted("br;q=1.0, GZIP;q=0.5"));
    CHECK(api_gzip_accepted("x-gzip"));
    CHECK(api_gzip_accepted("*"));
    CHECK(api_gzip_accepted("br, *;q=0.1"));
    CHECK(api_gzip_accepted("gzip ; q=0.8"));
    CHECK(!api_gzip_accepted(NULL));
    CHECK(!api_gzip_accepted(""));
    CHECK(!api_gzip_accepted("identity"));
    CHECK(!api_gzip_accepted("gzip;q=0"));
    CHECK(!api_gzip_accepted("gzip;q=0.000"));
    CHECK(!api_gzip_accepted("*, gzip;q=0")); /* named beats the wildcard */
    CHECK(!api_gzip_accepted("*;q=0"));
    CHECK(!api_gzip_accepted("gzipper, deflate"));
    CHECK(!api_gzip_accepted("gzip;q=bogus"));
    CHECK(!api_gzip_accepted("gzip;q=2"));
}

static void round_trip(void)
{
    size_t len = 100000;
    char *in = malloc(len);
    for (size_t i = 0; i < len; i++)
        in[i] = "{\"id\":1,\"state\":\"succeeded\"},"[i % 29];
    char *out = NULL;
    size_t out_len = 0;
    CHECK(api_gzip(in, len, &out, &out_len) == 0);
    CHECK(out_len > 18 && out_len < len / 20);
    CHECK((unsigned char)out[0] == 0x1f && (unsigned char)out[1] == 0x8b); /* a gzip member */
    char *back = malloc(len);
    z_stream z = {0};
    CHECK(inflateInit2(&z, 15 + 16) == Z_OK);
    z.next_in = (Bytef *)out;
    z.avail_in = (uInt)out_len;
    z.next_out = (Bytef *)back;
    z.avail_out = (uInt)len;
    CHECK(inflate(&z, Z_FINISH) == Z_STREAM_END);
    CHECK_EQ_INT(z.total_out, len);
    CHECK(memcmp(in, back, len) == 0);
    inflateEnd(&z);
    free(in);
    free(out);
    free(back);
}

int main(void)
{
    accepted();
    round_trip();
    return check_report();
}
