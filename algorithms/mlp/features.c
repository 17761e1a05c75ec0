/* features.c: one-hot and standardised inputs for the network. */
#include "algorithms/mlp/features.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Accepts NULL. */
void ch_features_destroy(ch_features **pf)
{
    if (!pf || !*pf) {
        return;
    }
    ch_features *f = *pf;
    free(f->offset);
    free(f->width);
    free(f->numeric);
    free(f->index);
    free(f->mean);
    free(f->scale);
    free(f);
    *pf = NULL;
}

ch_features *ch_features_new(const ch_schema *schema, ch_err *err)
{
    ch_features *f = calloc(1, sizeof *f);
    size_t n = schema->n_features ? schema->n_features : 1;
    if (f) {
        f->n_cols = schema->n_features;
        f->offset = calloc(n, sizeof *f->offset);
        f->width = calloc(n, sizeof *f->width);
        f->numeric = calloc(n, sizeof *f->numeric);
        f->index = calloc(n, sizeof *f->index);
        f->mean = calloc(n, sizeof *f->mean);
        f->scale = calloc(n, sizeof *f->scale);
    }
    if (!f || !f->offset || !f->width || !f->numeric || !f->index || !f->mean || !f->scale) {
        ch_features_destroy(&f);
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    for (size_t j = 0; j < f->n_cols; j++) {
        const ch_column *c = &schema->features[j];
        f->numeric[j] = c->kind == CH_COL_NUMERIC;
        f->width[j] = f->numeric[j] ? 1 : c->n_levels;
        f->offset[j] = f->d_in;
        f->scale[j] = 1;
        f->d_in += f->width[j];
    }
    f->regression = schema->target.kind == CH_COL_NUMERIC;
    f->y_scale = 1;
    if (f->d_in == 0) {
        ch_features_destroy(&f);
        ch_err_set(err, CH_EINVAL, "mlp: the data has no input columns");
        return NULL;
    }
    return f;
}

int ch_features_set_index(ch_features *f, size_t col)
{
    if (col >= f->n_cols || f->numeric[col]) {
        return CH_EINVAL;
    }
    f->index[col] = true;
    f->d_in = 0;
    for (size_t j = 0; j < f->n_cols; j++) {
        f->offset[j] = f->d_in;
        f->d_in += f->index[j] ? 1 : f->width[j];
    }
    return 0;
}

size_t ch_features_stats_len(const ch_features *f)
{
    return 3 * (f->n_cols + 1);
}

/* Sums are in double in row order; callers reduce per-block vectors over
 * the fixed tree, so the totals do not depend on the number of workers. */
void ch_features_stats_add(const ch_features *f, const ch_table *t, const size_t *rows, size_t n,
                           double *out)
{
    for (size_t j = 0; j <= f->n_cols; j++) {
        const double *v;
        if (j == f->n_cols) {
            if (!f->regression || !t->has_target) {
                continue;
            }
            v = t->target.values;
        } else {
            if (!f->numeric[j]) {
                continue;
            }
            v = t->cols[j].values;
        }
        double c = 0, s = 0, q = 0;
        for (size_t k = 0; k < n; k++) {
            double x = v[rows ? rows[k] : k];
            if (isfinite(x)) {
                c += 1;
                s += x;
                q += x * x;
            }
        }
        out[3 * j] += c;
        out[3 * j + 1] += s;
        out[3 * j + 2] += q;
    }
}

static void s_moments(const double *st, double *mean, double *scale)
{
    double c = st[0];
    *mean = 0;
    *scale = 1;
    if (c > 0) {
        double m = st[1] / c;
        double var = st[2] / c - m * m;
        *mean = m;
        *scale = var > 1e-24 ? 1 / sqrt(var) : 1;
    }
}

void ch_features_set_stats(ch_features *f, const double *stats)
{
    for (size_t j = 0; j < f->n_cols; j++) {
        if (f->numeric[j]) {
            s_moments(stats + 3 * j, &f->mean[j], &f->scale[j]);
        }
    }
    if (f->regression) {
        s_moments(stats + 3 * f->n_cols, &f->y_mean, &f->y_scale);
    }
}

/* Column by column, so the column-major table is read sequentially. */
void ch_features_encode(const ch_features *f, const ch_table *t, const size_t *rows, size_t n,
                        float *x, float *y)
{
    size_t d = f->d_in;
    memset(x, 0, n * d * sizeof *x);
    for (size_t j = 0; j < f->n_cols; j++) {
        const double *v = t->cols[j].values;
        size_t off = f->offset[j];
        if (f->numeric[j]) {
            double m = f->mean[j], s = f->scale[j];
            for (size_t k = 0; k < n; k++) {
                double a = v[rows ? rows[k] : k];
                x[k * d + off] = isfinite(a) ? (float)((a - m) * s) : 0.0f;
            }
        } else if (f->index[j]) {
            double levels = (double)f->width[j];
            for (size_t k = 0; k < n; k++) {
                double a = v[rows ? rows[k] : k];
                x[k * d + off] = (a >= 0 && a < levels) ? (float)a : -1.0f;
            }
        } else {
            size_t w = f->width[j];
            for (size_t k = 0; k < n; k++) {
                double a = v[rows ? rows[k] : k];
                if (a >= 0 && a < (double)w) {
                    x[k * d + off + (size_t)a] = 1.0f;
                }
            }
        }
    }
    if (!y) {
        return;
    }
    for (size_t k = 0; k < n; k++) {
        double a = t->has_target ? t->target.values[rows ? rows[k] : k] : NAN;
        if (f->regression && isfinite(a)) {
            a = (a - f->y_mean) * f->y_scale;
        }
        y[k] = (float)a;
    }
}
