/* discretize.c: the generator's domain: categorical levels and numeric bins
 * (bounds given, or a coarse range found privately from a noisy histogram
 * over signed powers of two), value -> cell and cell -> value. */
#include "algorithms/synthetic/synthetic.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ch_syn_domain_free(ch_syn_domain *d)
{
    if (!d) {
        return;
    }
    for (size_t j = 0; d->cols && j < d->n_cols; j++) {
        ch_syn_col *c = &d->cols[j];
        free(c->name);
        for (size_t l = 0; c->levels && l < c->n_levels; l++) {
            free(c->levels[l]);
        }
        free(c->levels);
    }
    free(d->cols);
    memset(d, 0, sizeof *d);
}

int ch_syn_domain_copy(ch_syn_domain *dst, const ch_syn_domain *src)
{
    memset(dst, 0, sizeof *dst);
    dst->target = src->target;
    dst->cols = calloc(src->n_cols ? src->n_cols : 1, sizeof *dst->cols);
    if (!dst->cols) {
        return CH_ENOMEM;
    }
    dst->n_cols = src->n_cols;
    for (size_t j = 0; j < src->n_cols; j++) {
        const ch_syn_col *s = &src->cols[j];
        ch_syn_col *c = &dst->cols[j];
        *c = *s;
        c->name = NULL;
        c->levels = NULL;
        c->n_levels = 0;
        c->name = strdup(s->name);
        if (!c->name) {
            return CH_ENOMEM;
        }
        if (s->n_levels) {
            c->levels = calloc(s->n_levels, sizeof *c->levels);
            if (!c->levels) {
                return CH_ENOMEM;
            }
            for (size_t l = 0; l < s->n_levels; l++) {
                c->levels[l] = strdup(s->levels[l]);
                c->n_levels = l + 1;
                if (!c->levels[l]) {
                    return CH_ENOMEM;
                }
            }
        }
    }
    return 0;
}

void ch_syn_col_size(ch_syn_col *c)
{
    c->size = (c->kind == CH_COL_CATEGORICAL ? c->n_levels : c->bins) + (c->missing ? 1 : 0);
}

uint32_t ch_syn_cell(const ch_syn_col *c, double v)
{
    size_t k = c->kind == CH_COL_CATEGORICAL ? c->n_levels : c->bins;
    if (isnan(v)) {
        return (uint32_t)(c->missing ? k : 0);
    }
    if (c->kind == CH_COL_CATEGORICAL) {
        return v >= 0 && v < (double)k ? (uint32_t)v : 0;
    }
    double f = (v - c->lo) / (c->hi - c->lo) * (double)c->bins;
    if (!(f > 0)) {
        return 0;
    }
    return f >= (double)c->bins ? c->bins - 1 : (uint32_t)f;
}

double ch_syn_decode(const ch_syn_col *c, uint32_t k, ch_rng *r)
{
    if (c->kind == CH_COL_CATEGORICAL) {
        return k < c->n_levels ? (double)k : NAN;
    }
    if (k >= c->bins) {
        return NAN;
    }
    double w = (c->hi - c->lo) / (double)c->bins;
    double v = c->lo + ((double)k + ch_rng_uniform(r)) * w;
    if (c->integer) {
        /* the integers whose bin is k: ceil of the bin's lower edge up to
         * the upper edge; a bin narrower than 1 may hold none (nearest) */
        double a = ceil(c->lo + (double)k * w), b = c->lo + (double)(k + 1) * w;
        if (k + 1 < c->bins && b == floor(b)) {
            b -= 1; /* the upper edge belongs to the next bin */
        }
        b = floor(b);
        if (b >= a) {
            v = a + (double)ch_rng_below(r, (uint64_t)(b - a) + 1);
        } else {
            v = round(v);
        }
    }
    return v < c->lo ? c->lo : v > c->hi ? c->hi : v;
}

/* Cells: 0 .. n-1 negative magnitudes from the largest down, n zero
 * (|x| < 2^MAG_LO), n+1 .. 2n positive magnitudes from the smallest up;
 * magnitude cell m holds |x| in [2^(MAG_LO+m), 2^(MAG_LO+m+1)). */
uint32_t ch_syn_mag_cell(double x)
{
    const int n = CH_SYN_MAG_HI - CH_SYN_MAG_LO;
    double a = fabs(x);
    if (!(a >= ldexp(1, CH_SYN_MAG_LO))) {
        return (uint32_t)n;
    }
    int e;
    frexp(a, &e); /* a in [2^(e-1), 2^e) */
    int m = e - 1 - CH_SYN_MAG_LO;
    if (m >= n) {
        m = n - 1;
    }
    return (uint32_t)(x < 0 ? n - 1 - m : n + 1 + m);
}

/* Lower and upper edges of a magnitude cell. */
static void s_mag_edges(uint32_t cell, double *lo, double *hi)
{
    const int n = CH_SYN_MAG_HI - CH_SYN_MAG_LO;
    int c = (int)cell;
    if (c == n) {
        *lo = 0;
        *hi = 0;
    } else if (c > n) {
        int m = c - n - 1;
        *lo = ldexp(1, CH_SYN_MAG_LO + m);
        *hi = ldexp(1, CH_SYN_MAG_LO + m + 1);
    } else {
        int m = n - 1 - c;
        *lo = -ldexp(1, CH_SYN_MAG_LO + m + 1);
        *hi = -ldexp(1, CH_SYN_MAG_LO + m);
    }
}

bool ch_syn_mag_range(const double *noisy, double threshold, double *lo, double *hi)
{
    long first = -1, last = -1;
    for (long k = 0; k < CH_SYN_MAG_CELLS; k++) {
        if (noisy[k] > threshold) {
            if (first < 0) {
                first = k;
            }
            last = k;
        }
    }
    if (first < 0) {
        return false;
    }
    double a, b, c, d;
    s_mag_edges((uint32_t)first, &a, &b);
    s_mag_edges((uint32_t)last, &c, &d);
    *lo = a;
    *hi = d;
    if (*hi <= *lo) { /* only the zero cell */
        *lo = -1;
        *hi = 1;
    }
    return true;
}
