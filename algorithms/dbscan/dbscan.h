/* dbscan.h: the pieces of exact, linear-memory DBSCAN (model.algorithm
 * dbscan) and how they fit together.
 *
 * Definitions (scikit-learn's): a point's neighbourhood is every point within
 * eps of it, itself included (euclidean: sum of squared differences <= eps^2;
 * manhattan: sum of absolute differences <= eps; cosine: 1 - cos <= eps). A
 * point is core when the weights of its neighbourhood sum to at least
 * min_samples (weight 1 each without sample weights). Core points within eps
 * of each other are in the same cluster (union-find, never a stored
 * neighbourhood). A non-core point within eps of a core point is a border
 * point; everything else is noise (label -1).
 *
 * Deterministic numbering and border rule: clusters are numbered 0, 1, ...
 * in the order of their smallest core-point index; a border point takes the
 * smallest cluster number among its core neighbours. This is exactly what
 * scikit-learn's DBSCAN produces (it grows clusters from core points in
 * index order and a border point keeps the first cluster that reaches it),
 * so labels match scikit-learn's exactly, not only up to relabelling.
 *
 * Distributed by space (dbscan.c): the coordinator cuts space into slabs
 * along the dimension of greatest spread at quantiles (partition.c); a shard
 * owns the points of its slab and also reads the points within the halo
 * (eps, or sqrt(2 eps) in normalised coordinates for cosine) on both sides.
 * Three rounds: (1) core flags of owned points (count.c), (2) local
 * union-find over the cell's core points, returned as (point, local
 * representative) pairs and merged by the coordinator (merge.c), (3) labels
 * of owned border points (border.c). Every decision uses only exact
 * neighbourhoods, so the result is the same bytes for any number of shards.
 *
 * Memory: O(points in the cell + halo) per worker, O(n) at the coordinator
 * (a core flag, a union-find parent and a label per point). */
#ifndef CH_DBSCAN_H
#define CH_DBSCAN_H

#include "common/err.h"
#include "common/table.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { CH_DB_EUCLIDEAN = 0, CH_DB_MANHATTAN = 1, CH_DB_COSINE = 2 } ch_db_metric;

extern const char *const ch_db_metric_names[]; /* NULL-terminated, enum order */

/* Largest number of points DBSCAN accepts (indices travel as uint32). */
#define CH_DB_MAX_POINTS 0xFFFFFFF0u
/* Weights are summed exactly in fixed point with this many fraction bits,
 * so the core decision does not depend on summation order. */
#define CH_DB_WEIGHT_BITS 32

typedef struct ch_db_params {
    double eps;
    double min_samples; /* weight a neighbourhood needs (points counted with weight 1) */
    ch_db_metric metric;
    size_t brute_dims;          /* euclidean with more dimensions than this uses blocked BLAS */
    size_t kdist_sample;        /* points of the k-distance curve */
    size_t silhouette_max_rows; /* exact silhouette up to this many clustered points */
} ch_db_params;

/* --- metric.c: distances ---------------------------------------------------- */

/* The threshold a "distance value" is compared with: eps^2 (euclidean keeps
 * squared distances), eps (manhattan, cosine). */
double ch_db_threshold(const ch_db_params *p);
/* The distance value between two rows of d coordinates, computed directly
 * in coordinate order (cosine: rows already normalised). */
double ch_db_dist_value(ch_db_metric m, const double *a, const double *b, size_t d);
/* A distance value as a distance (sqrt for euclidean). */
double ch_db_value_to_dist(ch_db_metric m, double v);
/* Scales a row to unit length in place (cosine); a zero row stays zero. */
void ch_db_normalise(double *row, size_t d);
/* Half-width of the halo a cell needs along one coordinate (with a safety
 * margin: extra halo points never change a result). */
double ch_db_halo(const ch_db_params *p);
/* Row i of t as d coordinates (normalised for cosine). Returns false when a
 * coordinate is missing (NaN) or infinite. */
bool ch_db_row(const ch_table *t, size_t i, ch_db_metric m, double *out);
/* Weight of row i in fixed point (1 << CH_DB_WEIGHT_BITS without weights). */
int64_t ch_db_weight_fixed(const ch_table *t, size_t i);

/* --- index.c: spatial index (k-d tree, or blocked BLAS for high dimensions) */

typedef struct ch_db_index ch_db_index;

/* Called for each indexed point j within eps of query q, with its distance
 * value. Return nonzero to stop this query. */
typedef int (*ch_db_hit_fn)(void *ctx, size_t q, size_t j, double value);

/* An index over m rows of d coordinates (row-major, borrowed: pts must
 * outlive the index). Cosine rows must be normalised. Returns NULL with err
 * set when out of memory. */
ch_db_index *ch_db_index_new(const double *pts, size_t m, size_t d, const ch_db_params *p,
                             ch_err *err);
void ch_db_index_destroy(ch_db_index **ix);
/* For each of the nq query rows, every indexed point within eps (distance
 * value <= threshold), each reported once, in no particular order. Returns 0
 * or CH_ENOMEM. */
int ch_db_index_radius(ch_db_index *ix, const double *q, size_t nq, ch_db_hit_fn fn, void *ctx,
                       ch_err *err);
/* The k smallest distances (not values) from each query row to indexed
 * points, ascending, into out[nq * k] (+inf where fewer than k points).
 * Returns 0 or CH_ENOMEM. */
int ch_db_index_knn(ch_db_index *ix, const double *q, size_t nq, size_t k, double *out,
                    ch_err *err);

/* --- partition.c: slabs with halos ----------------------------------------- */

typedef struct ch_db_slabs {
    uint32_t dim; /* the cut dimension */
    size_t n;     /* slabs */
    double *cuts; /* n + 1 values: slab s owns [cuts[s], cuts[s+1]); -inf, +inf at the ends */
    double halo;
} ch_db_slabs;

/* Cuts the rows of t into n slabs along the dimension of greatest spread, at
 * quantiles. Errors: a missing or infinite coordinate (names row and column),
 * fewer than two rows. */
int ch_db_slabs_make(const ch_table *t, const ch_db_params *p, size_t n, ch_db_slabs *out,
                     ch_err *err);
void ch_db_slabs_free(ch_db_slabs *s);

/* A cell: slab s's own points first, then its halo points, each part in
 * Morton order (partition.c; the order changes no result). */
typedef struct ch_db_cell {
    size_t m, m_own, d;
    double *pts;     /* m x d, row-major (normalised for cosine) */
    uint32_t *gidx;  /* global row index of each point */
    int64_t *wfix;   /* fixed-point weights */
    ch_db_index *ix; /* over all m points */
} ch_db_cell;

/* Gathers slab s of t with its halo and indexes it. Errors: a missing
 * coordinate, out of memory. */
int ch_db_cell_make(const ch_table *t, const ch_db_params *p, const ch_db_slabs *sl, size_t s,
                    ch_db_cell *out, ch_err *err);
/* The two steps of ch_db_cell_make: gather copies the points out of t (t is
 * not needed after it, so a worker can let its table go before the index
 * is built); index orders them (Morton) and builds the k-d tree. Each frees
 * the cell on failure. */
int ch_db_cell_gather(const ch_table *t, const ch_db_params *p, const ch_db_slabs *sl, size_t s,
                      ch_db_cell *out, ch_err *err);
int ch_db_cell_index(ch_db_cell *c, const ch_db_params *p, ch_err *err);
void ch_db_cell_free(ch_db_cell *c);

/* --- count.c: neighbour counting ------------------------------------------ */

/* core[k] for the cell's m_own owned points: the neighbourhood weight reaches
 * min_samples. Returns 0 or CH_ENOMEM. */
int ch_db_count_core(const ch_db_cell *c, const ch_db_params *p, uint8_t *core, ch_err *err);

/* --- unionfind.c ------------------------------------------------------------ */

/* Union-find with path halving; a root is the smallest index of its set, so
 * the structure is deterministic whatever the order of unions. */
typedef struct ch_uf {
    uint32_t *parent;
    size_t n;
} ch_uf;
int ch_uf_init(ch_uf *u, size_t n);
void ch_uf_free(ch_uf *u);
uint32_t ch_uf_find(ch_uf *u, uint32_t x);
void ch_uf_union(ch_uf *u, uint32_t a, uint32_t b);

/* --- merge.c: clusters of core points ------------------------------------ */

/* Local union over the cell: every owned core point joined with its core
 * neighbours (owned or halo). core_cell[m] are the core flags of all cell
 * points. Appends (global index, global index of the smallest member of its
 * local set) for each core cell point not alone in its set, as uint32 pairs
 * to *pairs (realloc'd; *n_pairs counts pairs). */
int ch_db_local_union(const ch_db_cell *c, const uint8_t *core_cell, uint32_t **pairs,
                      size_t *n_pairs, ch_err *err);
/* Coordinator: numbers the clusters of core points from a global union-find
 * (clusters in the order of their smallest core index); label[i] for core
 * points, -1 for the others. Returns the number of clusters. */
size_t ch_db_number_clusters(ch_uf *u, const uint8_t *core, size_t n, int32_t *label);

/* --- border.c: the border rule ---------------------------------------------- */

/* For each owned non-core point: the smallest cluster label among its core
 * neighbours, or -1 (noise). label_cell[m] are the labels of all cell points
 * (-1 for non-core). Writes out[m_own] (owned core points copy their label). */
int ch_db_border(const ch_db_cell *c, const int32_t *label_cell, int32_t *out, ch_err *err);

/* --- kdist.c: the k-distance curve ---------------------------------------- */

/* Number of sample points of the curve for n points and index i of sample j
 * (evenly spaced rows). */
size_t ch_db_kdist_n(size_t n, const ch_db_params *p);
size_t ch_db_kdist_row(size_t n, size_t n_sample, size_t j);
/* The coordinates of the sample points (ch_db_kdist_row of t, normalised
 * for cosine): *out, ch_db_kdist_n x t->n_cols doubles the caller frees, so
 * a worker can let the table go once its cell is built. */
int ch_db_kdist_queries(const ch_table *t, const ch_db_params *p, double **out, ch_err *err);
/* The k smallest distances from each of the ns sample points q to the
 * cell's OWNED points: out[ns * k]. */
int ch_db_kdist_partial(const double *q, size_t ns, const ch_db_cell *c, const ch_db_params *p,
                        size_t k, double *out, ch_err *err);
/* Merges one shard's lists into acc (k smallest of both, ascending). */
void ch_db_kdist_merge(double *acc, const double *part, size_t n_sample, size_t k);
/* The knee of an ascending curve: the point farthest below the chord from
 * the first to the last point, both axes scaled to [0, 1]. */
size_t ch_db_knee(const double *y, size_t n);

/* --- quality.c: silhouette and Davies-Bouldin, noise left out ---------- */

typedef struct ch_db_quality {
    double silhouette;      /* mean silhouette; NaN when undefined */
    double davies_bouldin;  /* NaN when fewer than two clusters */
    size_t silhouette_rows; /* clustered points it was computed over */
    size_t clustered;       /* points not noise */
} ch_db_quality;

/* The silhouette and the Davies-Bouldin index of the clustering label[n]
 * (labels 0..n_clusters-1, -1 noise) of t's rows, over the non-noise points
 * only, euclidean on the coordinates as read: scikit-learn's
 * silhouette_score(X[m], l[m]) and davies_bouldin_score(X[m], l[m]) with
 * m = l != -1. Davies-Bouldin is exact (O(n d + k^2 d)). The silhouette is
 * exact when at most max_rows (<= 10^6) points are clustered; otherwise it
 * is the silhouette of a deterministic sample of max_rows of them, the
 * clustered points of ranks floor(j * clustered / max_rows) in row order
 * (scikit-learn's sample_size does the same with a random sample), in
 * O(max_rows^2 d) time and O(max_rows d) memory. NaN where scikit-learn
 * raises: fewer than two clusters (in the sample). Returns 0 or CH_ENOMEM. */
int ch_db_quality_of(const ch_table *t, const int32_t *label, size_t n_clusters, size_t max_rows,
                     ch_db_quality *out, ch_err *err);

/* --- local.c: the whole pipeline in one process --------------------------- */

typedef struct ch_db_result {
    size_t n, n_clusters, n_core, n_noise;
    int32_t *label; /* n labels, -1 noise */
    uint8_t *core;  /* n core flags */
    double *kdist;  /* ascending k-distance sample */
    size_t n_kdist;
} ch_db_result;

/* Runs DBSCAN on every row of t (features only) with the same three steps as
 * the distributed run, over n_cells slabs in turn. The result does not
 * depend on n_cells. Errors: NaN coordinates, fewer than two rows, memory. */
int ch_db_fit(const ch_table *t, const ch_db_params *p, size_t n_cells, ch_db_result *out,
              ch_err *err);
void ch_db_result_free(ch_db_result *r);

#endif
