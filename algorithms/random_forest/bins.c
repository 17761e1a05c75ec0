/* bins.c: quantile binning of the training features (see bins.h). */
#include "algorithms/random_forest/bins.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int s_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Upper bounds of at most max_value_bins bins over the sorted values v[0..n):
 * every distinct value when they fit, else the values at evenly spaced ranks
 * (ties collapsed). Returns the number of bounds written to out. */
static size_t s_bounds(const double *v, size_t n, size_t max_value_bins, double *out)
{
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || v[i] != v[i - 1]) {
            distinct++;
        }
    }
    size_t k = 0;
    if (distinct <= max_value_bins) {
        for (size_t i = 0; i < n; i++) {
            if (i + 1 == n || v[i + 1] != v[i]) {
                out[k++] = v[i];
            }
        }
        return k;
    }
    for (size_t j = 1; j <= max_value_bins; j++) {
        size_t rank = (size_t)(((double)j * (double)n) / (double)max_value_bins);
        if (rank > 0) {
            rank--;
        }
        if (rank >= n) {
            rank = n - 1;
        }
        double x = v[rank];
        if (k == 0 || x > out[k - 1]) {
            out[k++] = x;
        }
    }
    if (out[k - 1] < v[n - 1]) {
        out[k - 1] = v[n - 1];
    }
    return k;
}

/* Bin (1-based) of value x among bounds u[0..k): the first b with x <= u[b]. */
static uint32_t s_find(const double *u, size_t k, double x)
{
    size_t lo = 0, hi = k - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (x <= u[mid]) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return (uint32_t)lo + 1;
}

rf_bins *rf_bins_new(const ch_table *t, size_t max_bins, bool exact, ch_err *err)
{
    size_t n = t->n_rows, p = t->n_cols;
    size_t limit = exact ? 65535 : (max_bins < 2 ? 2 : max_bins > 256 ? 256 : max_bins);
    rf_bins *b = calloc(1, sizeof *b);
    double *sorted = ch_alloc_array(n ? n : 1, sizeof(double));
    if (!b || !sorted) {
        free(b);
        free(sorted);
        ch_err_set(err, CH_ENOMEM, "out of memory binning %zu rows", n);
        return NULL;
    }
    b->n_rows = n;
    b->n_features = p;
    b->n_bins = calloc(p ? p : 1, sizeof *b->n_bins);
    b->upper = calloc(p ? p : 1, sizeof *b->upper);
    b->categorical = calloc(p ? p : 1, sizeof *b->categorical);
    if (!b->n_bins || !b->upper || !b->categorical) {
        goto oom;
    }
    size_t n_sorted = 0;
    bool wide = false;
    for (size_t f = 0; f < p; f++) {
        const ch_column *c = &t->cols[f];
        if (c->kind == CH_COL_CATEGORICAL && c->n_levels + 1 <= limit && c->n_levels <= 65535) {
            b->categorical[f] = true;
            b->n_bins[f] = (uint32_t)c->n_levels + 1;
        } else {
            n_sorted = 0;
            for (size_t i = 0; i < n; i++) {
                if (!isnan(c->values[i])) {
                    sorted[n_sorted++] = c->values[i];
                }
            }
            qsort(sorted, n_sorted, sizeof *sorted, s_cmp_double);
            b->upper[f] = malloc((n_sorted ? n_sorted : 1) * sizeof(double));
            if (!b->upper[f]) {
                goto oom;
            }
            size_t k = n_sorted ? s_bounds(sorted, n_sorted, limit - 1, b->upper[f]) : 0;
            b->n_bins[f] = (uint32_t)k + 1;
        }
        if (b->n_bins[f] > 256) {
            wide = true;
        }
    }
    b->wide = wide;
    size_t cells;
    if (ch_mul_size(n, p, &cells) != 0) {
        goto oom;
    }
    if (wide) {
        b->code16 = ch_alloc_array(cells ? cells : 1, sizeof(uint16_t));
    } else {
        b->code8 = ch_alloc_array(cells ? cells : 1, sizeof(uint8_t));
    }
    if (!b->code16 && !b->code8) {
        goto oom;
    }
    for (size_t f = 0; f < p; f++) {
        const double *x = t->cols[f].values;
        size_t k = b->n_bins[f] - 1;
        for (size_t i = 0; i < n; i++) {
            uint32_t bin = 0;
            if (!isnan(x[i]) && k > 0) {
                if (b->categorical[f]) {
                    double code = x[i];
                    bin = code >= 0 && code < (double)k ? (uint32_t)code + 1 : 0;
                } else {
                    bin = s_find(b->upper[f], k, x[i]);
                }
            }
            if (wide) {
                b->code16[f * n + i] = (uint16_t)bin;
            } else {
                b->code8[f * n + i] = (uint8_t)bin;
            }
        }
    }
    free(sorted);
    return b;
oom:
    free(sorted);
    rf_bins_destroy(&b);
    ch_err_set(err, CH_ENOMEM, "out of memory binning %zu rows x %zu features", n, p);
    return NULL;
}

void rf_bins_destroy(rf_bins **pb)
{
    if (!pb || !*pb) {
        return;
    }
    rf_bins *b = *pb;
    if (b->upper) {
        for (size_t f = 0; f < b->n_features; f++) {
            free(b->upper[f]);
        }
    }
    free(b->upper);
    free(b->n_bins);
    free(b->categorical);
    free(b->code8);
    free(b->code16);
    free(b);
    *pb = NULL;
}
