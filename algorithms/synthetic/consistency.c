/* consistency.c: making noisy marginals a valid distribution: projection onto
 * the non-negative counts with a given total, and iterative proportional
 * fitting of a two-way table to one-way marginals that it must agree with. */
#include "algorithms/synthetic/synthetic.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int s_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Duchi et al. (2008): sort descending, find the threshold tau with
 * y = max(x - tau, 0) summing to total. O(n log n); a failed allocation
 * falls back to clipping and rescaling. */
void ch_syn_project_simplex(double *x, size_t n, double total)
{
    if (n == 0) {
        return;
    }
    if (!(total > 0)) {
        for (size_t i = 0; i < n; i++) {
            x[i] = 0;
        }
        return;
    }
    double *s = malloc(n * sizeof *s);
    if (!s) {
        double z = 0;
        for (size_t i = 0; i < n; i++) {
            x[i] = x[i] > 0 ? x[i] : 0;
            z += x[i];
        }
        for (size_t i = 0; i < n; i++) {
            x[i] = z > 0 ? x[i] * total / z : total / (double)n;
        }
        return;
    }
    memcpy(s, x, n * sizeof *s);
    qsort(s, n, sizeof *s, s_desc);
    double cum = 0, tau = 0;
    for (size_t k = 0; k < n; k++) {
        cum += s[k];
        double t = (cum - total) / (double)(k + 1);
        if (s[k] - t > 0) {
            tau = t;
        }
    }
    free(s);
    for (size_t i = 0; i < n; i++) {
        double v = x[i] - tau;
        x[i] = v > 0 ? v : 0;
    }
}

void ch_syn_ipf(double *t, size_t ra, size_t rb, const double *r, const double *c, int iters)
{
    double total = 0;
    for (size_t i = 0; i < ra; i++) {
        total += r[i];
    }
    /* a floor far below one row: rows and columns with target mass but no
     * measured mass can still receive it */
    double floor = total > 0 ? 1e-6 * total / (double)(ra * rb) : 0;
    for (size_t k = 0; k < ra * rb; k++) {
        t[k] = (t[k] > 0 ? t[k] : 0) + floor;
    }
    for (int it = 0; it < iters; it++) {
        for (size_t i = 0; i < ra; i++) {
            double s = 0;
            for (size_t j = 0; j < rb; j++) {
                s += t[i * rb + j];
            }
            double f = s > 0 ? r[i] / s : 0;
            for (size_t j = 0; j < rb; j++) {
                t[i * rb + j] *= f;
            }
        }
        for (size_t j = 0; j < rb; j++) {
            double s = 0;
            for (size_t i = 0; i < ra; i++) {
                s += t[i * rb + j];
            }
            double f = s > 0 ? c[j] / s : 0;
            for (size_t i = 0; i < ra; i++) {
                t[i * rb + j] *= f;
            }
        }
    }
}
