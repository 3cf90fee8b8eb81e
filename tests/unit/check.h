/* check: a tiny assertion helper for the unit tests. CHECK(cond) prints file:line and the
 * failed expression and counts the failure; the test keeps going. Each test program defines
 * its checks in functions, runs them from main, and ends with `return check_report();`. */
#ifndef SPAWNPOOL_TEST_CHECK_H
#define SPAWNPOOL_TEST_CHECK_H

#include <stdio.h>

static int check_failures;
static int check_count;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        check_count++;                                                                             \
        if (!(cond)) {                                                                             \
            check_failures++;                                                                      \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

/* Like CHECK, and also prints two integers that were compared. */
#define CHECK_EQ_INT(a, b)                                                                         \
    do {                                                                                           \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);                            \
        check_count++;                                                                             \
        if (check_a_ != check_b_) {                                                                \
            check_failures++;                                                                      \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld != %lld)\n", __FILE__, __LINE__,  \
                    #a, #b, check_a_, check_b_);                                                   \
        }                                                                                          \
    } while (0)

/* Prints the summary; returns the process exit status (non-zero if any check failed). */
static inline int check_report(void)
{
    if (check_failures) {
        fprintf(stderr, "%d of %d checks FAILED\n", check_failures, check_count);
        return 1;
    }
    printf("all %d checks passed\n", check_count);
    return 0;
}

#endif
