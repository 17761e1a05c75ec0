/* test_bigalloc.c: large arrays on huge pages: usable memory of the size
 * asked, 2 MiB aligned from CH_BIG_BYTES on, freed by free(), NULL when the
 * size overflows. */
#include "common/bigalloc.h"
#include "tests/check.h"

#include <stdint.h>

int main(void)
{
    /* small: plain malloc, still usable */
    double *s = ch_alloc_big(100, sizeof *s);
    CHECK(s != NULL);
    for (size_t i = 0; i < 100; i++) {
        s[i] = (double)i;
    }
    CHECK(s[99] == 99.0);
    free(s);

    /* large and not a multiple of 2 MiB: aligned, every byte writable */
    size_t n = (CH_BIG_BYTES + 12345) / sizeof(double);
    double *b = ch_alloc_big(n, sizeof *b);
    CHECK(b != NULL);
    CHECK(b && (uintptr_t)b % ((size_t)2 << 20) == 0);
    if (b) {
        for (size_t i = 0; i < n; i++) {
            b[i] = (double)i;
        }
        CHECK(b[n - 1] == (double)(n - 1));
    }
    free(b);

    /* overflow of n x size, and a size too large to round up */
    CHECK(ch_alloc_big(SIZE_MAX / 2, 4) == NULL);
    CHECK(ch_alloc_big(SIZE_MAX - 10, 1) == NULL);
    /* zero: a valid pointer to free */
    void *z = ch_alloc_big(0, 8);
    CHECK(z != NULL);
    free(z);
    CH_TEST_END();
}
