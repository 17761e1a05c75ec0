/* check.h: the minimal assertion kit for cohort's unit tests.
 * A failed CHECK prints file:line and the expression and the test goes on;
 * CH_TEST_END returns non-zero when any check failed. Each test binary
 * prints "N passed, N failed" as its closing line. */
#ifndef CH_CHECK_H
#define CH_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int ch_t_pass, ch_t_fail;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (cond) {                                                                                \
            ch_t_pass++;                                                                           \
        } else {                                                                                   \
            ch_t_fail++;                                                                           \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

/* |a - b| <= tol */
#define CHECK_NEAR(a, b, tol)                                                                      \
    do {                                                                                           \
        double ch_a_ = (a), ch_b_ = (b);                                                           \
        if (fabs(ch_a_ - ch_b_) <= (tol)) {                                                        \
            ch_t_pass++;                                                                           \
        } else {                                                                                   \
            ch_t_fail++;                                                                           \
            fprintf(stderr, "%s:%d: CHECK_NEAR failed: %s = %.17g, %s = %.17g, tol %g\n",          \
                    __FILE__, __LINE__, #a, ch_a_, #b, ch_b_, (double)(tol));                      \
        }                                                                                          \
    } while (0)

/* |a - b| <= rtol * max(|b|, floor) */
#define CHECK_REL(a, b, rtol, floor)                                                               \
    do {                                                                                           \
        double ch_a_ = (a), ch_b_ = (b);                                                           \
        double ch_s_ = fabs(ch_b_) > (floor) ? fabs(ch_b_) : (floor);                              \
        if (fabs(ch_a_ - ch_b_) <= (rtol) * ch_s_) {                                               \
            ch_t_pass++;                                                                           \
        } else {                                                                                   \
            ch_t_fail++;                                                                           \
            fprintf(stderr, "%s:%d: CHECK_REL failed: %s = %.17g, %s = %.17g, rtol %g\n",         \
                    __FILE__, __LINE__, #a, ch_a_, #b, ch_b_, (double)(rtol));                     \
        }                                                                                          \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *ch_a_ = (a), *ch_b_ = (b);                                                     \
        if (ch_a_ && ch_b_ && strcmp(ch_a_, ch_b_) == 0) {                                         \
            ch_t_pass++;                                                                           \
        } else {                                                                                   \
            ch_t_fail++;                                                                           \
            fprintf(stderr, "%s:%d: CHECK_STR failed: %s = \"%s\", expected \"%s\"\n", __FILE__,   \
                    __LINE__, #a, ch_a_ ? ch_a_ : "(null)", ch_b_ ? ch_b_ : "(null)");             \
        }                                                                                          \
    } while (0)

/* substring */
#define CHECK_HAS(hay, needle)                                                                     \
    do {                                                                                           \
        const char *ch_h_ = (hay), *ch_n_ = (needle);                                              \
        if (ch_h_ && strstr(ch_h_, ch_n_)) {                                                       \
            ch_t_pass++;                                                                           \
        } else {                                                                                   \
            ch_t_fail++;                                                                           \
            fprintf(stderr, "%s:%d: CHECK_HAS failed: \"%s\" does not contain \"%s\"\n", __FILE__, \
                    __LINE__, ch_h_ ? ch_h_ : "(null)", ch_n_);                                    \
        }                                                                                          \
    } while (0)

#define CH_TEST_END()                                                                              \
    do {                                                                                           \
        printf("%d passed, %d failed\n", ch_t_pass, ch_t_fail);                                    \
        return ch_t_fail ? 1 : 0;                                                                  \
    } while (0)

/* Path of a file under the source tree's data/ (COHORT_SRC is set by ctest). */
static inline const char *ch_test_path(const char *rel)
{
    static char buf[4096];
    const char *src = getenv("COHORT_SRC");
    snprintf(buf, sizeof buf, "%s/%s", src ? src : ".", rel);
    return buf;
}

#endif
