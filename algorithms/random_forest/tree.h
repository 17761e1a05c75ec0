/* tree.h: one decision tree in flat arrays (node 0 is the root), as grown
 * by grow.h and saved in model.pb.
 *
 * An internal node sends a row left when its feature is missing and
 * missing_left is set, or, for a numeric split, when x <= threshold, or,
 * for a categorical split, when bit x of its level set is set (levels
 * never seen in the node go right). Leaves hold n_values values: class
 * probabilities, or the mean of the target. */
#ifndef CH_RF_TREE_H
#define CH_RF_TREE_H

#include "common/err.h"
#include "common/table.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rf_tree {
    uint32_t index;
    uint64_t rows;
    size_t n_nodes, cap;
    size_t n_values;
    int32_t *feature; /* -1: leaf */
    double *threshold;
    uint32_t *left, *right;
    uint8_t *missing_left;
    uint32_t *cat_offset; /* 0: numeric; else 1 + offset into cat */
    double *value;        /* n_nodes x n_values */
    double *impurity;
    double *weight;
    uint32_t *samples;
    uint64_t *cat;
    size_t n_cat, cap_cat;
} rf_tree;

/* A new empty tree with n_values values per node; NULL when out of memory. */
rf_tree *rf_tree_new(uint32_t index, size_t n_values);
void rf_tree_destroy(rf_tree **t);

/* Appends a leaf node; returns its index, or -1 when out of memory (or
 * beyond 2^31 nodes). The value row is zeroed for the caller to fill. */
long rf_tree_add_node(rf_tree *t);
/* Reserves n words of categorical level bits (zeroed); returns the word
 * offset or -1 when out of memory. */
long rf_tree_add_cat(rf_tree *t, size_t n);

/* The leaf that row i of table x falls in (x conformed to the schema). */
size_t rf_tree_leaf(const rf_tree *t, const ch_table *x, size_t i);

/* Checks a tree received from a peer or read from a file: child indices in
 * range and after their parent (so it has no cycle), features < n_features,
 * category offsets in range for the feature's level count (levels[f], 0 for
 * numeric features), finite values. Returns 0 or CH_EINVAL with err set. */
int rf_tree_check(const rf_tree *t, size_t n_features, const size_t *levels, ch_err *err);

/* Adds the tree's weighted impurity decrease per feature, normalized to
 * sum 1 over the tree (scikit-learn's feature_importances_ of one tree),
 * into imp[n_features]. */
void rf_tree_importance(const rf_tree *t, size_t n_features, double *imp);

#endif
