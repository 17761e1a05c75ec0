/* elkan.h: Elkan's exact bound-based assignment step of k-means for one
 * block of rows: per row an upper bound on the distance to its centroid and k
 * lower bounds (one per centroid), carried across rounds, so that most
 * distances are never computed. Plain functions over flat row-major arrays.
 *
 * The label of a row is always the exact argmin over j of ch_km_dist2(x, c_j)
 * (ties to the smaller index), whatever the bounds' history: a centroid is
 * skipped only when its lower bound exceeds the upper bound by a relative
 * margin (S_SAFE in elkan.c) far above the rounding error of the bounds, so a
 * skipped centroid is strictly farther than the chosen one in computed
 * distances too. The labels, and so the cluster sums, are therefore the same
 * for a block whose state was kept and one rebuilt from scratch (another
 * worker after a failure), and equal Lloyd's wherever Lloyd's distances have
 * no near-tie. */
#ifndef CH_KM_ELKAN_H
#define CH_KM_ELKAN_H

#include "algorithms/kmeans/lloyd.h"

#include <stddef.h>
#include <stdint.h>

/* Squared Euclidean distance of a and b (d values) in double, summed in a
 * fixed order (eight interleaved partial sums, then combined pairwise). The
 * reference distance of the Elkan labels and of the final inertia. */
double ch_km_dist2(const double *a, const double *b, size_t d);

/* ch_km_dist2 with the row in float: the same operations on the same
 * values (each float widened exactly to double), so the same result as
 * ch_km_dist2 on the row's double copy. Reads half the memory. */
double ch_km_dist2_f(const float *a, const double *b, size_t d);

/* Per-round centroid geometry: half[k*k] gets half the distance between
 * every pair of centroids, s[k] half the distance of each centroid to its
 * nearest other one (INFINITY when k = 1). When c_prev is not NULL, shift[k]
 * gets the distance each centroid moved from c_prev. Can't fail. */
void ch_km_elkan_geometry(const double *c, const double *c_prev, size_t k, size_t d, double *half,
                          double *s, double *shift);

/* Exact assignment of m rows of x (norms xn) to centroids c (norms cn): one
 * GEMM for all k distances (scratch holds m*k doubles), then the exact
 * distance (ch_km_dist2) to every centroid within the GEMM's rounding error
 * of the row's nearest one. Writes label[m] (the exact argmin, ties to the
 * smaller index); dist2[m] (may be NULL) the exact squared distance to it,
 * u[m] (may be NULL) its square root and l[m*k] (may be NULL) lower bounds
 * on the distance to every centroid (Elkan's initial bounds). Can't fail. */
void ch_km_elkan_init(const double *x, const double *xn, size_t m, size_t d, const double *c,
                      const double *cn, size_t k, double *scratch, int32_t *label, double *dist2,
                      double *u, double *l);

/* Moves the bounds of m rows to new centroids that moved by shift[k]:
 * u += shift[label], l[j] -= shift[j]. Can't fail. */
void ch_km_elkan_shift(size_t m, size_t k, const double *shift, const int32_t *label, double *u,
                       double *l);

/* One Elkan assignment step over m rows with the geometry of
 * ch_km_elkan_geometry: updates label, u and l in place. xf (may be NULL)
 * is a float copy of x whose every value equals x's exactly (the distances
 * are then read from it, the same values at half the memory traffic). Returns the number
 * of rows whose label changed; dirty[k] (may be NULL) gets 1 for every
 * cluster that lost or gained a row (and is otherwise left alone); *n_dist
 * (may be NULL) the number of distances computed. Can't fail. */
size_t ch_km_elkan_step(const double *x, const float *xf, size_t m, size_t d, const double *c,
                        size_t k, const double *half, const double *s, int32_t *label, double *u,
                        double *l, unsigned char *dirty, size_t *n_dist);

/* The head of a Lloyd node (sums[k*d], wsum[k], count[k], inertia; lloyd.h)
 * for m rows with labels `label`: the sums are accumulated in row order
 * exactly as ch_km_leaf does, so they are the same bytes as Lloyd's leaf for
 * the same labels. The inertia slot gets 0. Can't fail. */
void ch_km_sums(size_t k, size_t d, const double *x, const double *w, const int32_t *label,
                size_t m, double *head);

/* Recomputes, in a head written by ch_km_sums, only the clusters marked in
 * dirty[k] (their sums, weight and count, over their rows in row order):
 * the result is the same bytes as ch_km_sums over the current labels, since
 * a cluster's sums only ever involve its own rows. Can't fail. */
void ch_km_sums_update(size_t k, size_t d, const double *x, const double *w, const int32_t *label,
                       size_t m, const unsigned char *dirty, double *head);

#endif
