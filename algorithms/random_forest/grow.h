/* grow.h: growing one CART tree (gini, entropy, squared error) on binned
 * features with histograms.
 *
 * A tree's randomness comes only from (seed, tree index): the stream
 * ch_rng_stream(CH_STREAM_TREE, index) draws the bootstrap first (the
 * coordinator replays those draws to find the out-of-bag rows), then the
 * features tried at each node. So a tree is the same bytes whichever worker
 * grows it.
 *
 * Split search: a node's histogram per tried feature (bin 0 = missing)
 * holds the number of distinct rows and the weighted class sums (or the
 * weight and weighted target sum). When a node is split, the smaller child's
 * histograms are built from its rows and the larger child's are the parent's
 * minus the smaller's for every feature both tried; nodes with fewer rows
 * than a feature has bins sort their rows' bins instead. Numeric features
 * split at a bin boundary, with the threshold placed midway between the
 * node's largest value on the left and smallest on the right (as
 * scikit-learn); categorical features order their levels by the target
 * statistic (the positive-class rate, the mean, or the node's majority-class
 * rate with more classes) and split a prefix of that order. Missing values
 * go to the child that scores best (learned direction), or to the child with
 * more rows when the node has none. */
#ifndef CH_RF_GROW_H
#define CH_RF_GROW_H

#include "algorithms/random_forest/bins.h"
#include "algorithms/random_forest/params.h"
#include "algorithms/random_forest/tree.h"
#include "common/table.h"

typedef struct rf_grow_data {
    const rf_bins *bins;
    const ch_table *table; /* raw values, for thresholds */
    const rf_params *p;
    size_t n_classes;   /* 0: regression */
    const size_t *rows; /* rows a tree may use (finite target), ascending */
    size_t n_rows;
    const double *class_weight; /* n_classes weights, or NULL (all 1); not for balanced_subsample */
    uint64_t seed;
} rf_grow_data;

/* Draws tree `index`'s bootstrap over n rows into counts[n] (how many times
 * each row is drawn): all ones without bootstrap. Returns 0, or CH_EINVAL
 * when max_samples asks for more rows than n. */
int rf_bootstrap(const rf_params *p, uint64_t seed, uint32_t index, size_t n, uint32_t *counts,
                 ch_err *err);

/* Number of bootstrap draws for n rows. */
size_t rf_bootstrap_draws(const rf_params *p, size_t n);

/* Grows tree `index`. Returns a new tree or NULL with err set. */
rf_tree *rf_grow(const rf_grow_data *d, uint32_t index, ch_err *err);

#endif
