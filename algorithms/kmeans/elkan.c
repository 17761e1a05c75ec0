/* elkan.c: Elkan's exact bound-based k-means assignment step (see elkan.h). */
#include "algorithms/kmeans/elkan.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

/* Relative margin of every pruning test. The bounds are sums of distances
 * computed in double (relative error about d * DBL_EPSILON each, and a few
 * hundred rounds of additions); 1e-9 plus 8 d DBL_EPSILON is orders of
 * magnitude above that, and prunes no less in practice. */
static double s_safe(size_t d)
{
    return 1e-9 + 8.0 * (double)d * DBL_EPSILON;
}

/* Whether a distance known to be at most `up` is surely below one known to
 * be at least `low`, with the margin. */
static int s_below(double up, double low, double safe)
{
    return up * (1 + safe) < low * (1 - safe);
}

double ch_km_dist2(const double *a, const double *b, size_t d)
{
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t j = 0;
    for (; j + 8 <= d; j += 8) {
        for (size_t t = 0; t < 8; t++) {
            double v = a[j + t] - b[j + t];
            acc[t] += v * v;
        }
    }
    for (size_t t = 0; j < d; j++, t++) {
        double v = a[j] - b[j];
        acc[t] += v * v;
    }
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

double ch_km_dist2_f(const float *a, const double *b, size_t d)
{
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t j = 0;
    for (; j + 8 <= d; j += 8) {
        for (size_t t = 0; t < 8; t++) {
            double v = (double)a[j + t] - b[j + t];
            acc[t] += v * v;
        }
    }
    for (size_t t = 0; j < d; j++, t++) {
        double v = (double)a[j] - b[j];
        acc[t] += v * v;
    }
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

/* The exact squared distance of row i (from xf when there is one). */
static double s_row_dist2(const double *x, const float *xf, size_t i, size_t d, const double *c)
{
    return xf ? ch_km_dist2_f(xf + i * d, c, d) : ch_km_dist2(x + i * d, c, d);
}

void ch_km_elkan_geometry(const double *c, const double *c_prev, size_t k, size_t d, double *half,
                          double *s, double *shift)
{
    for (size_t a = 0; a < k; a++) {
        half[a * k + a] = 0;
        for (size_t j = a + 1; j < k; j++) {
            double h = 0.5 * sqrt(ch_km_dist2(c + a * d, c + j * d, d));
            half[a * k + j] = h;
            half[j * k + a] = h;
        }
    }
    for (size_t a = 0; a < k; a++) {
        double m = INFINITY;
        for (size_t j = 0; j < k; j++) {
            if (j != a && half[a * k + j] < m) {
                m = half[a * k + j];
            }
        }
        s[a] = m;
    }
    for (size_t j = 0; c_prev && j < k; j++) {
        shift[j] = sqrt(ch_km_dist2(c_prev + j * d, c + j * d, d));
    }
}

void ch_km_elkan_init(const double *x, const double *xn, size_t m, size_t d, const double *c,
                      const double *cn, size_t k, double *scratch, int32_t *label, double *dist2,
                      double *u, double *l)
{
    if (m == 0) {
        return;
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)k, (int)d, -2.0, x, (int)d, c,
                (int)d, 0.0, scratch, (int)k);
    /* the GEMM's squared distances are within rel * (|x|^2 + |c|^2) of the
     * exact ones (a generous bound on its rounding error) */
    double rel = 1e-9 + 16.0 * (double)d * DBL_EPSILON;
    for (size_t i = 0; i < m; i++) {
        const double *g = scratch + i * k;
        const double *xi = x + i * d;
        double *li = l ? l + i * k : NULL;
        double best = INFINITY;
        for (size_t j = 0; j < k; j++) {
            double v = g[j] + cn[j] + xn[i] + rel * (xn[i] + cn[j]);
            best = v < best ? v : best; /* the least upper bound */
        }
        int32_t a = -1;
        double a2 = INFINITY;
        for (size_t j = 0; j < k; j++) {
            double low = g[j] + cn[j] + xn[i] - rel * (xn[i] + cn[j]);
            if (low > best) {
                if (li) {
                    li[j] = low > 0 ? sqrt(low) : 0; /* surely farther than the nearest */
                }
                continue;
            }
            double e = ch_km_dist2(xi, c + j * d, d);
            if (li) {
                li[j] = sqrt(e);
            }
            if (e < a2) { /* ascending j: ties keep the smaller index */
                a2 = e;
                a = (int32_t)j;
            }
        }
        if (a < 0) { /* only a non-finite row or centroid gets here */
            a = 0;
            a2 = ch_km_dist2(xi, c, d);
        }
        label[i] = a;
        if (dist2) {
            dist2[i] = a2;
        }
        if (u) {
            u[i] = sqrt(a2);
        }
    }
}

void ch_km_elkan_shift(size_t m, size_t k, const double *shift, const int32_t *label, double *u,
                       double *l)
{
    for (size_t i = 0; i < m; i++) {
        u[i] += shift[label[i]];
        double *li = l + i * k;
        for (size_t j = 0; j < k; j++) {
            double v = li[j] - shift[j];
            li[j] = v > 0 ? v : 0;
        }
    }
}

size_t ch_km_elkan_step(const double *x, const float *xf, size_t m, size_t d, const double *c,
                        size_t k, const double *half, const double *s, int32_t *label, double *u,
                        double *l, unsigned char *dirty, size_t *n_dist)
{
    double safe = s_safe(d);
    size_t changed = 0, nd = 0;
    for (size_t i = 0; i < m; i++) {
        int32_t a = label[i], a0 = a;
        double ui = u[i];
        if (s_below(ui, s[a], safe)) {
            continue; /* every other centroid is at least 2 s[a] from c_a */
        }
        double *li = l + i * k;
        bool fresh = false;
        double a2 = 0, a02 = 0; /* exact squared distances to c_a and c_a0 */
        for (size_t j = 0; j < k; j++) {
            if ((int32_t)j == a) {
                continue;
            }
            double z = li[j] > half[(size_t)a * k + j] ? li[j] : half[(size_t)a * k + j];
            if (s_below(ui, z, safe)) {
                continue;
            }
            if (!fresh) {
                a2 = a02 = s_row_dist2(x, xf, i, d, c + (size_t)a * d);
                ui = sqrt(a2);
                li[a] = ui;
                fresh = true;
                nd++;
                if (s_below(ui, z, safe)) {
                    continue;
                }
            }
            double e;
            if ((int32_t)j == a0) {
                e = a02; /* the old label, measured already (a has moved on) */
            } else {
                e = s_row_dist2(x, xf, i, d, c + j * d);
                nd++;
                li[j] = sqrt(e);
            }
            if (e < a2 || (e == a2 && (int32_t)j < a)) {
                a = (int32_t)j;
                a2 = e;
                ui = li[j];
            }
        }
        u[i] = ui;
        label[i] = a;
        if (a != a0) {
            changed++;
            if (dirty) {
                dirty[a] = dirty[a0] = 1;
            }
        }
    }
    if (n_dist) {
        *n_dist = nd;
    }
    return changed;
}

void ch_km_sums(size_t k, size_t d, const double *x, const double *w, const int32_t *label,
                size_t m, double *head)
{
    memset(head, 0, (k * d + 2 * k + 1) * sizeof *head);
    double *sums = head, *wsum = head + k * d, *count = wsum + k;
    for (size_t i = 0; i < m; i++) {
        int32_t c = label[i];
        const double *xr = x + i * d;
        double *sc = sums + (size_t)c * d;
        for (size_t j = 0; j < d; j++) {
            sc[j] += w[i] * xr[j];
        }
        wsum[c] += w[i];
        count[c] += 1;
    }
}

void ch_km_sums_update(size_t k, size_t d, const double *x, const double *w, const int32_t *label,
                       size_t m, const unsigned char *dirty, double *head)
{
    double *sums = head, *wsum = head + k * d, *count = wsum + k;
    for (size_t c = 0; c < k; c++) {
        if (dirty[c]) {
            memset(sums + c * d, 0, d * sizeof *sums);
            wsum[c] = 0;
            count[c] = 0;
        }
    }
    for (size_t i = 0; i < m; i++) {
        int32_t c = label[i];
        if (!dirty[c]) {
            continue;
        }
        const double *xr = x + i * d;
        double *sc = sums + (size_t)c * d;
        for (size_t j = 0; j < d; j++) {
            sc[j] += w[i] * xr[j];
        }
        wsum[c] += w[i];
        count[c] += 1;
    }
}
