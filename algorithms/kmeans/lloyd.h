/* lloyd.h: the numerical core of k-means: the per-block leaf of a Lloyd
 * iteration (cluster sums, weights, counts, inertia and the farthest points),
 * its combine function for reduce.h, the centroid update with the empty
 * cluster rule, the mini-batch update, and k-means++ seeding on a weighted
 * sample. Plain functions over flat row-major arrays. */
#ifndef CH_KM_LLOYD_H
#define CH_KM_LLOYD_H

#include "common/rng.h"

#include <stddef.h>
#include <stdint.h>

/* Layout of a Lloyd node for k clusters, d features and `far` farthest
 * points: sums[k*d], wsum[k], count[k], inertia, then far entries of
 * (dist2, id, label, weight, x[d]) sorted by dist2 descending, id ascending
 * (unused entries have dist2 = -1). */
typedef struct ch_km_shape {
    size_t k, d, far;
} ch_km_shape;

size_t ch_km_node_len(const ch_km_shape *s);

/* Fills a node for m rows of x (standardised, row-major m x d) with weights
 * w, ids and the labels/dist2 of their nearest centroid (ch_cl_assign).
 * `use` (may be NULL) selects rows (mini-batch); out must hold
 * ch_km_node_len doubles. Can't fail. */
void ch_km_leaf(const ch_km_shape *s, const double *x, const double *w, const uint64_t *ids,
                const int32_t *label, const double *dist2, const unsigned char *use, size_t m,
                double *out);

/* reduce.h combine for Lloyd nodes; ctx is a const ch_km_shape *. */
void ch_km_combine(void *ctx, size_t len, const double *left, const double *right, double *out);

/* Lloyd update from a reduced node: new centroids into c_new (k x d) from
 * the node (which it modifies: the relocated points move between sums).
 * Empty-cluster rule: each cluster with no weight, in index order, takes the
 * next farthest point (largest squared distance to its own centroid, ties
 * to the smaller row id) as its centroid, and that point leaves its old
 * cluster's sums; when the farthest points run out, the cluster keeps its
 * old centroid. *shift gets sum ||c_new - c_old||^2, *n_empty the number
 * of empty clusters met. Can't fail. */
void ch_km_update(const ch_km_shape *s, double *node, const double *c_old, double *c_new,
                  double *shift, size_t *n_empty);

/* Mini-batch update (scikit-learn's): for each cluster with batch weight
 * wb, c = (c * W + sum_b) / (W + wb) and W += wb, W in wtotal[k]. */
void ch_km_minibatch_update(const ch_km_shape *s, const double *node, double *wtotal,
                            const double *c_old, double *c_new, double *shift);

/* Greedy k-means++ (scikit-learn's, 2 + floor(ln k) local trials) on m
 * weighted rows of x: writes k centroids to c. Returns the number of
 * distinct centres found (< k when the rows hold fewer distinct points). */
size_t ch_km_plusplus(const double *x, const double *w, size_t m, size_t d, size_t k, ch_rng *rng,
                      double *c);

/* Weighted Lloyd iterations on a small in-memory set (k-means|| reduces its
 * candidates this way): `iters` iterations from c. Returns 0 or CH_ENOMEM. */
int ch_km_local_lloyd(const double *x, const double *w, size_t m, size_t d, size_t k, int iters,
                      double *c);

#endif
