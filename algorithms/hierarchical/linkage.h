/* linkage.h: agglomerative clustering on a condensed distance matrix, as
 * SciPy's scipy.cluster.hierarchy.linkage computes it: the nearest-neighbour
 * chain with Lance-Williams updates (ward, complete, average) and the
 * minimum spanning tree for single linkage, then the merges sorted by
 * distance (stable) and relabelled with a union-find, giving SciPy's
 * (n-1) x 4 format: idx1 < idx2, distance, size; cluster n + i is the one
 * merge i formed. O(n^2) time and the n(n-1)/2 doubles of the matrix. */
#ifndef CH_HC_LINKAGE_H
#define CH_HC_LINKAGE_H

#include <stddef.h>
#include <stdint.h>

typedef enum { CH_HC_WARD = 0, CH_HC_COMPLETE, CH_HC_AVERAGE, CH_HC_SINGLE } ch_hc_method;

/* Index of the pair (i, j), i != j, in a condensed matrix of n points. */
size_t ch_hc_condensed(size_t n, size_t i, size_t j);

/* Where row i (0 <= i <= n) of a condensed matrix of n points starts: the
 * number of pairs (a, b), a < b, a < i. Row i holds the pairs (i, j), j > i;
 * ch_hc_row_start(n, n) is n(n-1)/2. */
size_t ch_hc_row_start(size_t n, size_t i);

/* Euclidean distances of the n rows of x (n x d) into dist (n(n-1)/2), in
 * SciPy's pdist order and arithmetic, on all cores (up to 8 threads). */
void ch_hc_pdist(const double *x, size_t n, size_t d, double *dist);

/* A band of ch_hc_pdist's matrix: the rows i0 <= i < i1 (pairs (i, j),
 * j > i) into out, ch_hc_row_start(n, i1) - ch_hc_row_start(n, i0) doubles
 * in pdist order. Each entry is the same bits ch_hc_pdist gives that pair
 * (the same kernels; i1 is clipped to n, nothing is written when i0 >= i1). */
void ch_hc_pdist_rows(const double *x, size_t n, size_t d, size_t i0, size_t i1, double *out);

/* Cuts the rows of a condensed matrix of n points into n_bands >= 1 bands
 * of about equal pair counts, in row order: band b is the rows begin[b] <=
 * i < begin[b + 1] (begin: n_bands + 1 entries, begin[0] = 0,
 * begin[n_bands] = n; a band may be empty). Each band has fewer than
 * ceil(n(n-1)/2 / n_bands) + n - 1 pairs (the split falls between rows).
 * b * (n(n-1)/2 % n_bands) must fit a size_t. This function can't fail. */
void ch_hc_bands(size_t n, size_t n_bands, size_t *begin);

/* The linkage of n >= 2 points: z gets (n-1) x 4 doubles. dist is used as
 * scratch and overwritten (except for single linkage). Returns 0 or
 * CH_ENOMEM. */
int ch_hc_linkage(double *dist, size_t n, ch_hc_method method, double *z);

/* Flat clusters from a linkage: the first merges (in order) whose distance
 * is <= threshold (when n_clusters is 0), or the first n - n_clusters
 * merges. label[n] gets 0-based cluster ids numbered by first appearance in
 * observation order. Returns the number of clusters, or 0 when out of
 * memory. */
size_t ch_hc_cut(const double *z, size_t n, size_t n_clusters, double threshold, int32_t *label);

#endif
