/* knn.h: neighbourhood models: pair statistics over common raters, the
 * similarity measures (cosine, adjusted cosine, Pearson, Jaccard) with
 * min_support and shrinkage, the top-k neighbour lists, baselines and the
 * predictions of Surprise's KNNBasic, KNNWithMeans and KNNBaseline.
 *
 * Terms: the "rows" are what neighbours are found among (users for
 * user_knn, items for item_knn); the "columns" are what pair statistics
 * are summed over (items, resp. users). Statistics of pairs (x, y), x in a
 * row block, are summed over column blocks on the block tree (tree.h) with
 * key (x - r0) * n_rows + y; the coordinator turns each row block into
 * neighbour lists and drops the statistics, so no process ever holds the
 * dense similarity matrix. */
#ifndef CH_CF_KNN_H
#define CH_CF_KNN_H

#include "algorithms/cf/data.h"
#include "algorithms/cf/tree.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum { CH_KNN_COSINE = 0, CH_KNN_ADJ_COSINE, CH_KNN_PEARSON, CH_KNN_JACCARD } ch_knn_sim;
typedef enum { CH_KNN_MEANS = 0, CH_KNN_BASELINE, CH_KNN_BASIC } ch_knn_pred;

extern const char *const ch_knn_sim_names[];
extern const char *const ch_knn_pred_names[];

typedef struct ch_knn_params {
    ch_knn_sim sim;
    ch_knn_pred pred;
    double shrinkage;
    long min_support;
    long k, min_k, keep;
    double reg_u, reg_i; /* baselines (Surprise's ALS defaults 15, 10) */
    long bsl_epochs;
} ch_knn_params;

/* Statistics per pair: 1 (Jaccard), 4 (cosine), 6 (Pearson). */
size_t ch_knn_nstat(ch_knn_sim s);

/* The matrix the statistics are computed on: rows x columns with the values
 * the similarity uses (adjusted cosine: centred by the column's mean). */
typedef struct ch_knn_view {
    ch_cf_csr cols; /* columns x rows (each column's rows ascending) */
    size_t n_rows;
    size_t *row_count; /* entries per row (Jaccard) */
} ch_knn_view;

/* Builds the view for user_knn (user_based) or item_knn from the data.
 * Returns 0 or CH_ENOMEM. */
int ch_knn_view_make(const ch_cf_data *d, bool user_based, ch_knn_sim s, ch_knn_view *v);
void ch_knn_view_free(ch_knn_view *v);

/* Leaf context: pair statistics of rows [r0, r1) over columns [c0, c1). */
typedef struct ch_knn_leaf {
    const ch_knn_view *v;
    ch_knn_sim sim;
    size_t r0, r1;
    size_t n_col_blocks;
    double *acc;   /* (r1 - r0) * n_rows * nstat scratch, zero between leaves */
    uint8_t *mark; /* (r1 - r0) * n_rows */
    uint64_t *touched;
} ch_knn_leaf;

/* ch_cf_leaf_fn for ch_cf_tree_range: block b covers the columns
 * [C b / B, C (b + 1) / B). */
int ch_knn_leaf_fn(void *ctx, size_t block, ch_cf_node *out, ch_err *err);

/* Similarity of a pair from its statistics s (nstat values); nx, ny: the
 * rows' entry counts (Jaccard). */
double ch_knn_similarity(const ch_knn_params *p, const double *s, size_t nx, size_t ny);

/* Neighbour lists of rows [r0, r1) from the root of their statistics:
 * positive similarities only, best first (ties by index), at most keep.
 * Appends to nb/sim at *len (realloc'd) and sets ptr[x + 1] for each row.
 * Returns 0 or CH_ENOMEM. */
int ch_knn_select(const ch_knn_params *p, const ch_knn_view *v, size_t r0, size_t r1,
                  const ch_cf_node *root, size_t *ptr, uint32_t **nb, double **sim, size_t *len,
                  size_t *cap);

/* Surprise's baseline ALS (items then users each epoch). bu, bi written. */
void ch_knn_baselines(const ch_cf_data *d, double mu, const ch_knn_params *p, double *bu,
                      double *bi);

#endif
