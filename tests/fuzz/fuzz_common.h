/* fuzz_common.h: what the libFuzzer targets share. A broken invariant aborts, which
 * libFuzzer reports as a crash with the input that caused it. */
#ifndef SPAWNPOOL_FUZZ_COMMON_H
#define SPAWNPOOL_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>

/* Aborts with the failed condition when cond is false (also in builds without assert). */
#define FUZZ_REQUIRE(cond)                                                                         \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

#endif
