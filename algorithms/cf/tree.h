/* tree.h: a sparse deterministic reduction over the fixed block tree.
 *
 * Like common/reduce.h, per-block leaves are combined pairwise over the
 * complete binary tree on block indices, left before right, so the root is
 * the same bytes for any number of workers. Unlike reduce.h a leaf is
 * sparse: sorted 64-bit keys, each with `len` doubles (an item's ALS
 * statistics, a pair's similarity sums), and a combine merges keys, adding
 * the values of keys on both sides. Leaves cost what their blocks touch,
 * not the whole key space. */
#ifndef CH_CF_TREE_H
#define CH_CF_TREE_H

#include "common/buf.h"
#include "common/err.h"

#include <stddef.h>
#include <stdint.h>

typedef struct ch_cf_node {
    size_t n;      /* keys */
    uint64_t *key; /* ascending */
    double *val;   /* n x len */
} ch_cf_node;

void ch_cf_node_free(ch_cf_node *nd);

/* Fills out (empty on entry) with block b's leaf: keys ascending, len
 * values each, malloc'd. Returns 0 or a negative code with err set. */
typedef int (*ch_cf_leaf_fn)(void *ctx, size_t block, ch_cf_node *out, ch_err *err);

/* Worker side: the maximal tree nodes inside blocks [b0, b1) of a tree over
 * n_blocks leaves, appended to out in the form ch_cf_tree_add reads. */
int ch_cf_tree_range(size_t n_blocks, size_t b0, size_t b1, size_t len, ch_cf_leaf_fn leaf,
                     void *ctx, ch_buf *out, ch_err *err);

typedef struct ch_cf_tree ch_cf_tree;

/* Coordinator side: a tree over n_blocks leaves of len values per key. NULL
 * when out of memory. */
ch_cf_tree *ch_cf_tree_new(size_t n_blocks, size_t len, uint64_t max_key);
void ch_cf_tree_destroy(ch_cf_tree **t);
/* Adds the nodes a worker sent; untrusted: a truncated buffer, a wrong len,
 * keys out of order or beyond max_key, nodes out of range or overlapping
 * blocks already covered give CH_EPROTO and change nothing. */
int ch_cf_tree_add(ch_cf_tree *t, const uint8_t *data, size_t size, ch_err *err);
/* Completes the tree into root (the caller frees it with ch_cf_node_free).
 * CH_EINVAL if some block is not covered. */
int ch_cf_tree_finish(ch_cf_tree *t, ch_cf_node *root, ch_err *err);

#endif
