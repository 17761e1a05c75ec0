/* bigalloc.c: large arrays on huge pages (see bigalloc.h). */
#define _GNU_SOURCE /* MADV_HUGEPAGE */
#include "common/bigalloc.h"
#include "common/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#define S_HUGE ((size_t)2 << 20)

void *ch_alloc_big(size_t n, size_t size)
{
    size_t bytes;
    if (ch_mul_size(n, size, &bytes) != 0) {
        return NULL;
    }
    if (bytes > SIZE_MAX / 2) {
        return NULL; /* no machine has it; do not ask the allocator */
    }
    if (bytes < CH_BIG_BYTES) {
        return malloc(bytes ? bytes : 1);
    }
    size_t rounded = (bytes + S_HUGE - 1) / S_HUGE * S_HUGE; /* aligned_alloc wants a multiple */
    void *p = aligned_alloc(S_HUGE, rounded);
    if (!p) {
        return malloc(bytes);
    }
#ifdef MADV_HUGEPAGE
    (void)madvise(p, rounded, MADV_HUGEPAGE); /* advice: refused is fine */
#endif
    return p;
}
