/* sha256: SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), self-contained: idempotency
 * fingerprints and the signature of notify_url callbacks, with no crypto library. */
#ifndef SPAWNPOOL_SHA256_H
#define SPAWNPOOL_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_SIZE 32

/* A running SHA-256: sha256_init, sha256_update any number of times, sha256_final. */
struct sha256 {
    uint32_t h[8];
    uint64_t bytes; /* hashed so far */
    uint8_t block[64];
    size_t fill; /* bytes waiting in block */
};

/* Starts a hash. */
void sha256_init(struct sha256 *c);
/* Adds n bytes. */
void sha256_update(struct sha256 *c, const void *data, size_t n);
/* Writes the digest; c must be initialized again before reuse. */
void sha256_final(struct sha256 *c, uint8_t out[SHA256_SIZE]);
/* The digest of n bytes, in one call. */
void sha256(const void *data, size_t n, uint8_t out[SHA256_SIZE]);

/* A running HMAC-SHA256: hmac_sha256_init with the key, _update, _final. */
struct hmac_sha256 {
    struct sha256 inner, outer;
};

/* Starts an HMAC under key (any length: a key over 64 bytes is hashed first). */
void hmac_sha256_init(struct hmac_sha256 *c, const void *key, size_t keylen);
/* Adds n bytes of the message. */
void hmac_sha256_update(struct hmac_sha256 *c, const void *data, size_t n);
/* Writes the MAC and wipes the key material from c. */
void hmac_sha256_final(struct hmac_sha256 *c, uint8_t out[SHA256_SIZE]);

/* Writes a digest as 64 lowercase hex digits and a NUL. */
void sha256_hex(const uint8_t digest[SHA256_SIZE], char out[2 * SHA256_SIZE + 1]);

#endif
