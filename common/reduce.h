/* reduce.h: deterministic reduction of per-block vectors over a fixed tree.
 *
 * The training rows are cut into blocks that do not depend on the number of
 * workers (partition.h). Each block yields a vector of `len` doubles (a leaf:
 * partial sums, a QR factor, a histogram). Leaves are combined pairwise over
 * the complete binary tree on block indices 0..n_blocks-1, left before
 * right, by a combine function. A worker that owns blocks [b0, b1) computes
 * the maximal tree nodes inside its range and sends them; the coordinator
 * completes the tree. Because every node is combined from the same children
 * in the same order wherever it is computed, the root is the same bytes for
 * any number of workers and any assignment of shards to workers. */
#ifndef CH_REDUCE_H
#define CH_REDUCE_H

#include "common/buf.h"
#include "common/err.h"

#include <stddef.h>
#include <stdint.h>

/* Fills out[len] with block b's leaf (out is zeroed first). */
typedef int (*ch_leaf_fn)(void *ctx, size_t block, double *out, ch_err *err);
/* out = combine(left, right); out never aliases left or right. */
typedef void (*ch_combine_fn)(void *ctx, size_t len, const double *left, const double *right,
                              double *out);

/* The combine function for sums: out[i] = left[i] + right[i]. */
void ch_combine_sum(void *ctx, size_t len, const double *left, const double *right, double *out);

/* One node of the block tree: covers blocks [index << level, (index+1) << level). */
typedef struct ch_rnode {
    uint32_t level;
    uint64_t index;
} ch_rnode;

/* Worker side: computes the nodes covering blocks [b0, b1) of a tree over
 * n_blocks leaves and appends them to `out` in the wire form read by
 * ch_reduce_add (a small header, then per node level, index, len doubles).
 * Returns 0, or the leaf function's error. */
int ch_reduce_range(size_t n_blocks, size_t b0, size_t b1, size_t len, ch_leaf_fn leaf,
                    void *leaf_ctx, ch_combine_fn combine, void *combine_ctx, ch_buf *out,
                    ch_err *err);

typedef struct ch_reduce ch_reduce;

/* Coordinator side: a tree over n_blocks leaves of len doubles. */
ch_reduce *ch_reduce_new(size_t n_blocks, size_t len, ch_combine_fn combine, void *ctx);
void ch_reduce_destroy(ch_reduce **r);
/* Adds the nodes a worker sent (the bytes ch_reduce_range wrote). Untrusted
 * input: a truncated buffer, a wrong len, a node out of range or overlapping
 * blocks already covered is an error (CH_EPROTO) and changes nothing. */
int ch_reduce_add(ch_reduce *r, const uint8_t *data, size_t size, ch_err *err);
/* Number of blocks covered so far. */
size_t ch_reduce_covered(const ch_reduce *r);
/* Completes the tree; out gets the root's len doubles. CH_EINVAL if some
 * block is not covered. */
int ch_reduce_finish(ch_reduce *r, double *out, ch_err *err);

#endif
