/* kdist.c: the k-distance curve that helps choose eps: for a sample of
 * points, the distance to the k-th nearest point (k = min_samples, the point
 * itself counted, as scikit-learn's kneighbors on the training data), sorted
 * ascending, and its knee.
 *
 * Distributed: each cell returns, for every sample point, the k smallest
 * distances to the points it OWNS; the coordinator keeps the k smallest of
 * all cells' lists, which are the k smallest overall (each point is owned by
 * exactly one cell). Distances are computed directly (index.c), so the curve
 * is the same for any number of cells. */
#include "algorithms/dbscan/dbscan.h"

#include <math.h>
#include <stdlib.h>

/* Returns the number of sample points (0 when disabled). Can't fail. */
size_t ch_db_kdist_n(size_t n, const ch_db_params *p)
{
    return n < p->kdist_sample ? n : p->kdist_sample;
}

/* Returns the row of sample point j: evenly spaced, the first row first. */
size_t ch_db_kdist_row(size_t n, size_t n_sample, size_t j)
{
    return (size_t)((double)j * (double)n / (double)n_sample);
}

/* The sample points' coordinates (see dbscan.h). */
int ch_db_kdist_queries(const ch_table *t, const ch_db_params *p, double **out, ch_err *err)
{
    size_t ns = ch_db_kdist_n(t->n_rows, p), d = t->n_cols;
    size_t nq;
    *out = NULL;
    if (ch_mul_size(ns, d, &nq) != 0) {
        return ch_err_set(err, CH_ENOMEM, "k-distance sample too large");
    }
    double *q = ch_alloc_array(nq + 1, sizeof *q);
    if (!q) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    for (size_t j = 0; j < ns; j++) {
        if (!ch_db_row(t, ch_db_kdist_row(t->n_rows, ns, j), p->metric, q + j * d)) {
            free(q);
            return ch_err_set(err, CH_EINVAL, "dbscan: a missing coordinate in the sample");
        }
    }
    *out = q;
    return 0;
}

/* The partial lists of one cell (see dbscan.h). The owned points are indexed
 * separately (the cell's index also holds the halo). */
int ch_db_kdist_partial(const double *q, size_t ns, const ch_db_cell *c, const ch_db_params *p,
                        size_t k, double *out, ch_err *err)
{
    if (ns == 0 || k == 0) {
        return 0;
    }
    ch_db_index *own = ch_db_index_new(c->pts, c->m_own, c->d, p, err);
    int rc = own ? ch_db_index_knn(own, q, ns, k, out, err) : (err ? err->code : CH_ENOMEM);
    ch_db_index_destroy(&own);
    return rc;
}

/* Keeps in acc the k smallest of acc and part, ascending, per sample point.
 * Can't fail. */
void ch_db_kdist_merge(double *acc, const double *part, size_t n_sample, size_t k)
{
    double tmp[128]; /* k <= 128: dbscan.c skips the curve beyond */
    for (size_t j = 0; j < n_sample; j++) {
        double *a = acc + j * k;
        const double *b = part + j * k;
        size_t ia = 0, ib = 0;
        for (size_t t = 0; t < k; t++) {
            double v;
            if (ib >= k || (ia < k && a[ia] <= b[ib])) {
                v = a[ia++];
            } else {
                v = b[ib++];
            }
            if (t < sizeof tmp / sizeof tmp[0]) {
                tmp[t] = v;
            }
        }
        for (size_t t = 0; t < k && t < sizeof tmp / sizeof tmp[0]; t++) {
            a[t] = tmp[t];
        }
    }
}

/* Returns the knee index of an ascending curve (0 for fewer than three
 * points or a flat curve). Can't fail. */
size_t ch_db_knee(const double *y, size_t n)
{
    if (n < 3 || !(y[n - 1] > y[0]) || !isfinite(y[n - 1])) {
        return 0;
    }
    size_t best = 0;
    double best_gap = -1;
    for (size_t i = 0; i < n; i++) {
        double xn = (double)i / (double)(n - 1);
        double yn = (y[i] - y[0]) / (y[n - 1] - y[0]);
        if (xn - yn > best_gap) {
            best_gap = xn - yn;
            best = i;
        }
    }
    return best;
}
