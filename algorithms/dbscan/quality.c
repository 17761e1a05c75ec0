/* quality.c: how good a DBSCAN clustering looks, noise left out: the
 * silhouette and the Davies-Bouldin index, as scikit-learn's
 * silhouette_score and davies_bouldin_score on X[labels != -1] (euclidean,
 * on the coordinates as read). The arithmetic is the clustering module's
 * (algorithms/cluster_common), shared with kmeans and hierarchical. */
#include "algorithms/cluster_common/cluster.h"
#include "algorithms/dbscan/dbscan.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Sample point j of s: the clustered point whose rank among the m clustered
 * points is floor(j * m / s) (j < s <= 10^6 and m < 2^32: no overflow). */
static size_t s_rank(size_t j, size_t m, size_t s)
{
    return (size_t)((uint64_t)j * (uint64_t)m / (uint64_t)s);
}

/* The silhouette over the clustered points (all of them, or the evenly
 * spaced sample of max_rows). */
static int s_silhouette(const ch_table *t, const int32_t *label, size_t k, size_t m,
                        size_t max_rows, ch_db_quality *out, ch_err *err)
{
    size_t n = t->n_rows, d = t->n_cols;
    size_t s = m <= max_rows ? m : max_rows, sd;
    out->silhouette_rows = s;
    if (ch_mul_size(s, d, &sd) != 0) {
        return ch_err_set(err, CH_ENOMEM, "the silhouette sample is too large");
    }
    double *x = ch_alloc_array(sd + 1, sizeof *x);
    double *cnt = ch_calloc_array(k + 1, sizeof *cnt);
    double *sil = ch_alloc_array(s + 1, sizeof *sil);
    int32_t *lab = ch_alloc_array(s + 1, sizeof *lab);
    if (!x || !cnt || !sil || !lab) {
        free(x);
        free(cnt);
        free(sil);
        free(lab);
        return ch_err_set(err, CH_ENOMEM, "out of memory for the silhouette of %zu points", s);
    }
    /* walk the clustered points in row order, taking ranks s_rank(j) */
    size_t j = 0, rank = 0;
    for (size_t i = 0; i < n && j < s; i++) {
        if (label[i] < 0) {
            continue;
        }
        if (rank == s_rank(j, m, s)) {
            for (size_t f = 0; f < d; f++) {
                x[j * d + f] = t->cols[f].values[i];
            }
            lab[j] = label[i];
            cnt[label[i]] += 1;
            j++;
        }
        rank++;
    }
    size_t used = 0;
    for (size_t c = 0; c < k; c++) {
        used += cnt[c] > 0;
    }
    int rc = 0;
    /* scikit-learn needs 2 <= labels <= samples - 1 */
    if (used >= 2 && used < s) {
        long *self = ch_alloc_array(s + 1, sizeof *self);
        if (!self) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory for the silhouette");
        } else {
            for (size_t i = 0; i < s; i++) {
                self[i] = (long)i;
            }
            rc = ch_cl_silhouette(x, s, lab, self, x, s, lab, cnt, k, d, sil, err);
            double tot = 0;
            for (size_t i = 0; i < s; i++) {
                tot += sil[i];
            }
            out->silhouette = rc == 0 ? tot / (double)s : NAN;
            free(self);
        }
    }
    free(x);
    free(cnt);
    free(sil);
    free(lab);
    return rc;
}

/* The Davies-Bouldin index over every clustered point (two passes over the
 * table: centroids, then each point's distance to its centroid). */
static int s_davies_bouldin(const ch_table *t, const int32_t *label, size_t k, ch_db_quality *out,
                            ch_err *err)
{
    size_t n = t->n_rows, d = t->n_cols, kd;
    if (ch_mul_size(k, d, &kd) != 0) {
        return ch_err_set(err, CH_ENOMEM, "too many clusters for Davies-Bouldin");
    }
    double *c = ch_calloc_array(kd + 1, sizeof *c);
    double *cnt = ch_calloc_array(k + 1, sizeof *cnt);
    double *spread = ch_calloc_array(k + 1, sizeof *spread);
    if (!c || !cnt || !spread) {
        free(c);
        free(cnt);
        free(spread);
        return ch_err_set(err, CH_ENOMEM, "out of memory for Davies-Bouldin (%zu clusters)", k);
    }
    for (size_t i = 0; i < n; i++) {
        if (label[i] >= 0) {
            cnt[label[i]] += 1;
        }
    }
    for (size_t f = 0; f < d; f++) {
        const double *v = t->cols[f].values;
        for (size_t i = 0; i < n; i++) {
            if (label[i] >= 0) {
                c[(size_t)label[i] * d + f] += v[i];
            }
        }
    }
    for (size_t q = 0; q < k; q++) {
        for (size_t f = 0; f < d && cnt[q] > 0; f++) {
            c[q * d + f] /= cnt[q];
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (label[i] < 0) {
            continue;
        }
        const double *ci = c + (size_t)label[i] * d;
        double s2 = 0;
        for (size_t f = 0; f < d; f++) {
            double v = t->cols[f].values[i] - ci[f];
            s2 += v * v;
        }
        spread[label[i]] += sqrt(s2);
    }
    for (size_t q = 0; q < k; q++) {
        spread[q] = cnt[q] > 0 ? spread[q] / cnt[q] : 0;
    }
    out->davies_bouldin = ch_cl_davies_bouldin(c, spread, cnt, k, d);
    free(c);
    free(cnt);
    free(spread);
    return 0;
}

/* Fills out (see dbscan.h). NaN where scikit-learn would refuse: fewer than
 * two clusters, or (silhouette) as many clusters as sampled points. */
int ch_db_quality_of(const ch_table *t, const int32_t *label, size_t n_clusters, size_t max_rows,
                     ch_db_quality *out, ch_err *err)
{
    out->silhouette = NAN;
    out->davies_bouldin = NAN;
    out->silhouette_rows = 0;
    out->clustered = 0;
    for (size_t i = 0; i < t->n_rows; i++) {
        out->clustered += label[i] >= 0;
    }
    if (n_clusters < 2 || out->clustered < 3) {
        return 0;
    }
    int rc = s_davies_bouldin(t, label, n_clusters, out, err);
    if (rc == 0 && max_rows >= 2) {
        rc = s_silhouette(t, label, n_clusters, out->clustered, max_rows, out, err);
    }
    return rc;
}
