/* cluster.h: pieces shared by the clustering algorithms (kmeans,
 * hierarchical): numeric feature checks, standardisation statistics reduced
 * over the block tree, dense standardised row blocks, nearest-centroid
 * assignment through BLAS, exact silhouette in blocks, and cluster-quality
 * indices (Davies-Bouldin, Calinski-Harabasz, adjusted Rand index).
 *
 * Conventions: a feature matrix is row-major double, m rows by d columns.
 * Standardisation is (x - mean) / scale with the population standard
 * deviation (scikit-learn's StandardScaler); a constant column keeps scale 1.
 * Rows with a missing (NaN) feature are skipped by both algorithms and
 * counted; the model predicts NaN for them. */
#ifndef CH_CLUSTER_H
#define CH_CLUSTER_H

#include "common/buf.h"
#include "common/err.h"
#include "algorithms/algo.h"
#include "common/table.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest number of clusters or features the clustering algorithms accept
 * (bounds every size that arrives from a peer). */
#define CH_CL_MAX_K 100000
#define CH_CL_MAX_D 1000000

/* Checks that the schema has at least one feature and that every feature is
 * numeric. Returns 0, or CH_EINVAL naming the first categorical column and
 * the algorithm. */
int ch_cl_check_schema(const ch_schema *s, const char *algo, ch_err *err);

/* Length of a moments node for d features: [rows, skipped, mean[d], m2[d]]. */
size_t ch_cl_moments_len(size_t d);

/* Moments leaf over the given rows of t (indices into t): complete rows are
 * counted and their per-feature mean and sum of squared deviations computed
 * (two passes); rows with a NaN are counted as skipped. out has
 * ch_cl_moments_len(d) doubles. Can't fail. */
void ch_cl_moments_leaf(const ch_table *t, const size_t *rows, size_t n, double *out);

/* Combine function for moments nodes (Chan et al.'s pairwise update), in the
 * form of reduce.h; ctx is unused. */
void ch_cl_moments_combine(void *ctx, size_t len, const double *left, const double *right,
                           double *out);

/* From a reduced moments node: mean[d] and scale[d] (population standard
 * deviation, 1 where it is 0 or not finite). Can't fail. */
void ch_cl_moments_scale(const double *node, size_t d, double *mean, double *scale);

/* Whether row i of t has a NaN feature. */
bool ch_cl_row_missing(const ch_table *t, size_t i);

/* Writes the complete rows among rows[0..n) into x (row-major, m x d),
 * standardised with mean/scale (both NULL: as is), their indices into
 * kept[] and their weights (t->weights or 1) into w (may be NULL). Returns
 * the number m of rows kept. Can't fail. */
size_t ch_cl_gather(const ch_table *t, const size_t *rows, size_t n, const double *mean,
                    const double *scale, double *x, size_t *kept, double *w);

/* One row list of ch_cl_gather_many: rows[0..n) in, x (n x d), kept[n]
 * (may be NULL), w[n] (may be NULL) out, and m, the number of complete rows. */
typedef struct ch_cl_gather_job {
    const size_t *rows;
    size_t n;
    double *x;
    size_t *kept;
    double *w;
    size_t m;
} ch_cl_gather_job;

/* ch_cl_gather for n_jobs row lists at once, the same values: each column
 * is read once for all of them, meant to keep it in cache when the rows
 * are scattered over a large table (not measured against one call per
 * list). Returns 0 or CH_ENOMEM (nothing gathered). */
int ch_cl_gather_many(const ch_table *t, ch_cl_gather_job *jobs, size_t n_jobs, const double *mean,
                      const double *scale);

/* predict for a centroid model: out[i] is the index of the centroid (k x d,
 * standardised space) nearest to row i of t (Euclidean, the first on ties),
 * NaN for a row with a missing value. `algo` names the model in errors. */
int ch_cl_predict_nearest(const ch_table *t, const char *algo, const double *centroids, size_t k,
                          size_t d, const double *mean, const double *scale, double *out,
                          ch_err *err);

/* evaluate for a centroid model (`cohort predict` with a target column, a
 * held-out split): the rows assigned, and the adjusted Rand index of the
 * clusters against a categorical target or one of small non-negative
 * integer codes. */
int ch_cl_evaluate_nearest(const ch_table *t, const char *algo, const double *centroids, size_t k,
                           size_t d, const double *mean, const double *scale, ch_round_metrics *out,
                           ch_err *err);

/* Writes DIR/assignments.csv, "row,cluster": rows[i] (0-based training
 * row) and labels[i] for i < n (a negative label: "NA", a row skipped for a
 * missing value). A failure is logged, not fatal: the model is complete. */
void ch_cl_write_assignments(const char *dir, const char *algo, const uint64_t *rows,
                             const int32_t *labels, size_t n);

/* output_name for a clustering model: predict's column is "cluster". */
const char *ch_cl_output_name(const void *model, size_t k);

/* The model_metrics of a centroid clustering (k-means, hierarchical): its
 * quality on the training rows. This function can't fail. */
void ch_cl_model_metrics(ch_round_metrics *out, double inertia, double silhouette,
                         double davies_bouldin, double calinski_harabasz);

/* Squared Euclidean norms of the m rows of x (m x d). */
void ch_cl_row_norms(const double *x, size_t m, size_t d, double *norms);

/* Nearest centroid of each of the m rows of x among the k rows of c, through
 * one dgemm: ||x||^2 - 2 x.c + ||c||^2 (the same arithmetic as scikit-learn's
 * Lloyd). xn and cn are the squared row norms; scratch holds m*k doubles.
 * label[i] gets the first index of the minimum, dist2[i] the squared
 * distance (clamped at 0). The result depends only on the inputs' values and
 * shapes, so a block gives the same labels wherever it is computed. */
void ch_cl_assign(const double *x, const double *xn, size_t m, size_t d, const double *c,
                  const double *cn, size_t k, double *scratch, int32_t *label, double *dist2);

/* The same in single precision (sgemm) on float data. */
void ch_cl_assign_f(const float *x, const float *xn, size_t m, size_t d, const float *c,
                    const float *cn, size_t k, float *scratch, int32_t *label, double *dist2);

/* Silhouette of the query rows q (mq x d) against the reference rows r
 * (mr x d) with labels lq and lr in 0..k-1, count[k] the cluster sizes among
 * the reference rows. self[i] is the index in r of query row i (its distance
 * to itself is taken as 0 and it is not counted), or -1 when the query row is
 * not among the reference rows. Distances come blockwise from dgemm as in
 * scikit-learn's silhouette_samples. s[i] gets the silhouette of query row i
 * (0 for a row alone in its cluster, as scikit-learn). Returns 0 or
 * CH_ENOMEM. */
/* One row's silhouette from acc[c], the sum of its distances to the rows
 * of cluster c (k of them), its own cluster and whether it is among them
 * (then one fewer counts in its own mean): (b - a) / max(a, b), 0 for a row
 * alone in its cluster, as scikit-learn. */
double ch_cl_silhouette_of(const double *acc, size_t own, bool self_in, const double *count,
                           size_t k);

int ch_cl_silhouette(const double *q, size_t mq, const int32_t *lq, const long *self,
                     const double *r, size_t mr, const int32_t *lr, const double *count, size_t k,
                     size_t d, double *s, ch_err *err);

/* Davies-Bouldin index from the centroids (k x d), the per-cluster mean
 * distance of members to their centroid (spread[k]) and sizes (count[k]);
 * empty clusters are left out. NaN when fewer than 2 clusters are used. */
double ch_cl_davies_bouldin(const double *c, const double *spread, const double *count, size_t k,
                            size_t d);

/* Calinski-Harabasz index from the centroids, sizes, the overall mean
 * (d), the within-cluster sum of squares and the number of rows n. NaN when
 * it is undefined (k < 2 or n == k). */
double ch_cl_calinski_harabasz(const double *c, const double *count, const double *mean,
                               double within, size_t k, size_t d, double n);

/* Adjusted Rand index of a k x q contingency table (row-major counts). */
double ch_cl_adjusted_rand(const double *table, size_t k, size_t q);

/* A uniform double in [0, 1) that depends only on (seed, stream, index):
 * used to sample rows the same way whatever worker holds them. */
double ch_cl_hash_uniform(uint64_t seed, uint64_t stream, uint64_t index);

/* --- Gathering rows from workers in block order -------------------------- */

/* Appends one block's rows to out in the form ch_cl_rows_add reads:
 * u64 block, u64 m, then m times (u64 id, d doubles). Returns 0 or
 * CH_ENOMEM. */
int ch_cl_rows_put(ch_buf *out, uint64_t block, size_t m, const uint64_t *ids, const double *x,
                   size_t d);

/* Rows gathered per block, assembled in block order whatever worker sent
 * them (so the result does not depend on the number of workers). */
typedef struct ch_cl_rows {
    size_t n_blocks, d;
    size_t *count;  /* per block */
    uint64_t **ids; /* per block */
    double **x;     /* per block, count x d */
    bool *seen;
} ch_cl_rows;

/* Prepares an empty gather over n_blocks blocks of d-wide rows. 0 or
 * CH_ENOMEM. */
int ch_cl_rows_init(ch_cl_rows *g, size_t n_blocks, size_t d);
void ch_cl_rows_free(ch_cl_rows *g);
/* Reads the blocks of one worker's bytes (untrusted: truncation, a block
 * out of range or seen twice, a row count that does not fit is CH_EPROTO). */
int ch_cl_rows_add(ch_cl_rows *g, const uint8_t *data, size_t len, ch_err *err);
/* Concatenates the rows in block order into new arrays (x: m x d, ids: m);
 * every block must have been seen. The caller frees *x and *ids. */
int ch_cl_rows_finish(ch_cl_rows *g, double **x, uint64_t **ids, size_t *m, ch_err *err);

#endif
