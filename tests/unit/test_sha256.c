/* Unit tests for server/sha256: the FIPS 180-4 examples (empty, "abc", 448 bits, a million
 * 'a's), every split of a message over update calls, and HMAC-SHA256 against the seven
 * test cases of RFC 4231 (case 5 compares the first 128 bits, as the RFC does). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "server/sha256.h"

static void hex_of(const void *data, size_t n, char out[65])
{
    uint8_t d[SHA256_SIZE];
    sha256(data, n, d);
    sha256_hex(d, out);
}

static void test_fips_examples(void)
{
    char hex[65];
    hex_of("", 0, hex);
    CHECK(strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0);
    hex_of("abc", 3, hex);
    CHECK(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    hex_of(m448, strlen(m448), hex);
    CHECK(strcmp(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1") == 0);
    char *million = malloc(1000000);
    CHECK(million != NULL);
    if (!million) return;
    memset(million, 'a', 1000000);
    hex_of(million, 1000000, hex);
    CHECK(strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0);
    free(million);
}

/* Any way of cutting a message into update calls gives the one-call digest (the block
 * boundaries and the padding's two cases, 55 and 56+ bytes in the last block). */
static void test_splits(void)
{
    uint8_t msg[200], whole[SHA256_SIZE], parts[SHA256_SIZE];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i * 7 + 3);
    for (size_t len = 0; len <= sizeof msg; len++) {
        sha256(msg, len, whole);
        for (size_t cut = 0; cut <= len; cut += 1 + cut / 8) {
            struct sha256 c;
            sha256_init(&c);
            sha256_update(&c, msg, cut);
            sha256_update(&c, msg + cut, len - cut);
            sha256_final(&c, parts);
            if (memcmp(whole, parts, sizeof whole) != 0) {
                fprintf(stderr, "length %zu cut at %zu differs\n", len, cut);
                CHECK(0);
                return;
            }
        }
    }
    CHECK(1);
}

static void hmac_hex(const void *key, size_t keylen, const void *data, size_t n, char out[65])
{
    struct hmac_sha256 c;
    uint8_t mac[SHA256_SIZE];
    hmac_sha256_init(&c, key, keylen);
    hmac_sha256_update(&c, data, n / 2); /* in two parts: the API is incremental */
    hmac_sha256_update(&c, (const char *)data + n / 2, n - n / 2);
    hmac_sha256_final(&c, mac);
    sha256_hex(mac, out);
}

static void test_rfc4231(void)
{
    uint8_t key[131], data[50];
    char hex[65];

    memset(key, 0x0b, 20); /* test case 1 */
    hmac_hex(key, 20, "Hi There", 8, hex);
    CHECK(strcmp(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7") == 0);

    hmac_hex("Jefe", 4, "what do ya want for nothing?", 28, hex); /* 2: a short key */
    CHECK(strcmp(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843") == 0);

    memset(key, 0xaa, 20); /* 3 */
    memset(data, 0xdd, 50);
    hmac_hex(key, 20, data, 50, hex);
    CHECK(strcmp(hex, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe") == 0);

    for (int i = 0; i < 25; i++) /* 4 */
        key[i] = (uint8_t)(i + 1);
    memset(data, 0xcd, 50);
    hmac_hex(key, 25, data, 50, hex);
    CHECK(strcmp(hex, "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b") == 0);

    memset(key, 0x0c, 20); /* 5: truncated to 128 bits */
    hmac_hex(key, 20, "Test With Truncation", 20, hex);
    CHECK(strncmp(hex, "a3b6167473100ee06e0c796c2955552b", 32) == 0);

    memset(key, 0xaa, 131); /* 6: a key longer than a block is hashed first */
    const char *m6 = "Test Using Larger Than Block-Size Key - Hash Key First";
    hmac_hex(key, 131, m6, strlen(m6), hex);
    CHECK(strcmp(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54") == 0);

    const char *m7 = "This is a test using a larger than block-size key and a larger than "
                     "block-size data. The key needs to be hashed before being used by the "
                     "HMAC algorithm."; /* 7 */
    hmac_hex(key, 131, m7, strlen(m7), hex);
    CHECK(strcmp(hex, "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2") == 0);
}

int main(void)
{
    test_fips_examples();
    test_splits();
    test_rfc4231();
    return check_report();
}
