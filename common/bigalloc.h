/* bigalloc.h: arrays of many megabytes (a condensed distance matrix, a
 * copy of one) that are written once from end to end. With the kernel's
 * transparent huge pages in `madvise` mode (Debian's default), such an
 * array from malloc takes a page fault, and a zeroed 4 KiB page, every 4
 * KiB: about 3,200 faults for the 13 MB matrix of 1,797 rows, several
 * milliseconds. ch_alloc_big asks for 2 MiB pages (aligned_alloc +
 * madvise(MADV_HUGEPAGE)) when the array is at least CH_BIG_BYTES; where
 * the kernel says no, or below that size, it is malloc. The memory is
 * released with free() either way. */
#ifndef CH_BIGALLOC_H
#define CH_BIGALLOC_H

#include <stddef.h>

/* Arrays from this size on are given huge pages. */
#define CH_BIG_BYTES ((size_t)4 << 20)

/* n x size bytes, uninitialised, or NULL (overflow, out of memory). */
void *ch_alloc_big(size_t n, size_t size);

#endif
