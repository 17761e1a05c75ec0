/* forest.h: isolation trees (Liu, Ting and Zhou 2008) with optional
 * hyperplane splits (extended isolation forest, Hariri, Kind and Brunner
 * 2021): growing one tree from a random subsample, path lengths with the
 * c(n) correction, anomaly scores and the features that isolate a row.
 *
 * Rules the trees follow (algorithms/isolation_forest/README.md repeats them):
 *  - numeric split: a column drawn at random among the tree's columns that
 *    is not constant in the node (as scikit-learn's random splitter), the
 *    threshold uniform in (min, max); x <= threshold goes left.
 *  - categorical split: a level drawn uniformly among the levels present in
 *    the node; rows of that level go left, the others right (a rare level is
 *    isolated quickly). Hyperplanes use numeric columns only.
 *  - missing values (NaN) never take part in min/max; every split draws a
 *    fair coin for the side missing values take, in training and scoring.
 *  - a column constant in a node (or entirely missing) is never split on
 *    there; a node where every column is constant is a leaf.
 *  - leaves: one row, or depth ceil(log2(psi)); a leaf holding n training
 *    rows at depth d has path length d + c(n).
 * Everything a tree draws comes from ch_rng_stream(CH_STREAM_TREE, index),
 * so tree t is the same wherever it is grown. */
#ifndef CH_IFOREST_FOREST_H
#define CH_IFOREST_FOREST_H

#include "common/err.h"
#include "common/table.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { CH_IT_LEAF = -1, CH_IT_HYPER = -2 };
enum { CH_IT_MISSING_LEFT = 1u, CH_IT_CATEGORICAL = 2u };

typedef struct ch_itree {
    uint32_t index;
    uint32_t n_samples;
    size_t n_nodes;
    int32_t *feature;   /* n_nodes */
    double *value;      /* n_nodes */
    uint32_t *left;     /* n_nodes; right = left + 1 */
    uint32_t *flags;    /* n_nodes */
    uint32_t *hp_begin; /* n_nodes: a hyperplane node's terms are hp_*[hp_begin, hp_end) */
    uint32_t *hp_end;   /* n_nodes; both NULL when the tree has no hyperplane */
    size_t n_hp;
    uint32_t *hp_feature;
    double *hp_weight;
    double *reference; /* n_features subsample medians / modes, or NULL */
} ch_itree;

typedef struct ch_iforest_params {
    size_t psi;             /* rows per tree (<= candidate rows unless bootstrap) */
    size_t max_features;    /* columns drawn per tree, 1..n_features */
    bool bootstrap;         /* draw rows with replacement */
    size_t extension_level; /* 0: axis splits; k: hyperplanes over k + 1 numeric columns */
    uint64_t seed;
} ch_iforest_params;

/* Average path length of an unsuccessful search in a binary search tree of
 * n points: 0 for n <= 1, 1 for n = 2, else 2 (ln(n - 1) + gamma) -
 * 2 (n - 1) / n (scikit-learn's _average_path_length). Can't fail. */
double ch_iforest_c(double n);

/* Depth limit ceil(log2(max(psi, 2))). Can't fail. */
size_t ch_iforest_max_depth(size_t psi);

/* Grows tree `index` on t from a subsample of the candidate rows (rows[0..n)
 * indices into t, or all of t when rows is NULL). Fills *out (the caller
 * frees it with ch_itree_free). Returns 0, CH_EINVAL when there are fewer
 * than 2 candidate rows or psi is out of range, or CH_ENOMEM. */
int ch_itree_grow(const ch_table *t, const size_t *rows, size_t n, const ch_iforest_params *p,
                  uint32_t index, ch_itree *out, ch_err *err);

/* Releases the tree's arrays and zeroes it. Accepts a zeroed tree. */
void ch_itree_free(ch_itree *tr);

/* Checks a tree received from a peer against n_features columns of `cols`:
 * children after their parent and inside the tree, feature indices in
 * range, hyperplane offsets consistent, finite values. Returns 0 or
 * CH_EPROTO with a message. */
int ch_itree_check(const ch_itree *tr, const ch_column *cols, size_t n_features, ch_err *err);

/* Path length (depth + c(leaf size)) of row i of t in the tree. Can't fail. */
double ch_itree_path(const ch_itree *tr, const ch_table *t, size_t i);

/* Anomaly score of row i: 2^(-mean_t h_t(x) / c(psi_t)) in (0, 1]. */
double ch_iforest_score(const ch_itree *trees, size_t n_trees, const ch_table *t, size_t i);

/* The scores of rows rows[0..n) of t (or rows 0..n-1 when rows is NULL)
 * into out[0..n), the same bits as ch_iforest_score, computed tree by tree
 * over blocks of rows. Can't fail. */
void ch_iforest_score_rows(const ch_itree *trees, size_t n_trees, const ch_table *t,
                           const size_t *rows, size_t n, double *out);

/* Adds to share[0..n_cols) the credit of each column for isolating row i:
 * in every tree each split on the row's path gives 1 / h (h the path
 * length) to its column (shared equally among a hyperplane's columns), so
 * trees that isolate the row early weigh most; the result is normalised to
 * sum to 1. Can't fail. */
void ch_iforest_attribution(const ch_itree *trees, size_t n_trees, const ch_table *t, size_t i,
                            double *share, size_t n_cols);

/* Labels (1 anomaly, 0 normal, NaN skipped) against scores, as the model
 * reports them (isolation_forest.c): ROC AUC (ties count half), average
 * precision as scikit-learn's average_precision_score, and the precision
 * among the P highest scores (P the labelled anomalies). NaN when a class
 * is absent. Returns 0 or CH_ENOMEM. */
int ch_iforest_evaluate(const double *label, const double *score, size_t n, double threshold,
                        double *auc, double *ap, double *p_at_k);

#endif
