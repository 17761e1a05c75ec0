/* privacy.c: what the synthetic rows reveal about the real ones: each real
 * row's distance to the closest synthetic row (DCR), for training rows
 * (members) and held-out rows (non-members), as histograms that add up over
 * blocks and silos; from them the exact-match rates, DCR quantiles and the
 * AUC of the membership-inference attack that calls a row a member when a
 * synthetic row is close to it. */
#include "algorithms/synthetic/synthetic.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ch_syn_privacy_clear(ch_syn_privacy *p)
{
    p->n_synthetic = p->n_train = p->n_holdout = NAN;
    p->exact_train = p->exact_holdout = NAN;
    p->dcr_train_p05 = p->dcr_train_median = NAN;
    p->dcr_holdout_p05 = p->dcr_holdout_median = NAN;
    p->mia_auc = NAN;
}

/* Column j of the domain in t: a generated table holds every column in
 * order; a real table holds the target apart. NULL when t lacks it. */
static const double *s_vals(const ch_syn_domain *d, const ch_table *t, size_t j)
{
    if ((long)j == d->target && t->has_target) {
        return t->target.values;
    }
    return j < t->n_cols ? t->cols[j].values : NULL;
}

/* The factor that puts a numeric column's range on [0, 1] (the same
 * product for real and synthetic values, so copies are at distance 0). */
static double s_scale(const ch_syn_col *c)
{
    return c->hi > c->lo ? 1 / (c->hi - c->lo) : 1;
}

double *ch_syn_points(const ch_syn_domain *d, const ch_table *t, size_t n, ch_err *err)
{
    size_t nc = d->n_cols;
    double *x = ch_alloc_array(n ? n : 1, (nc ? nc : 1) * sizeof(double));
    if (!x) {
        ch_err_set(err, CH_ENOMEM, "out of memory for %zu rows of distances", n);
        return NULL;
    }
    for (size_t j = 0; j < nc; j++) {
        const ch_syn_col *c = &d->cols[j];
        const double *v = s_vals(d, t, j);
        if (!v) {
            free(x);
            ch_err_set(err, CH_EINVAL, "synthetic: the table lacks column '%s' for distances",
                       c->name);
            return NULL;
        }
        double scale = c->kind == CH_COL_NUMERIC ? s_scale(c) : 1;
        for (size_t i = 0; i < n; i++) {
            x[i * nc + j] = c->kind == CH_COL_NUMERIC ? v[i] * scale : v[i];
        }
    }
    return x;
}

/* Distance of a to b (points of nc columns), stopping once it exceeds
 * `stop` (the sum over columns, not yet divided by nc). */
static double s_dist(const ch_syn_domain *d, const double *a, const double *b, double stop)
{
    double s = 0;
    for (size_t j = 0; j < d->n_cols && s <= stop; j++) {
        double x = a[j], y = b[j];
        if (isnan(x) || isnan(y)) {
            s += isnan(x) && isnan(y) ? 0 : 1;
        } else if (d->cols[j].kind == CH_COL_CATEGORICAL) {
            s += x != y;
        } else {
            double g = fabs(x - y);
            s += g < 1 ? g : 1;
        }
    }
    return s;
}

double ch_syn_dcr(const ch_syn_domain *d, const double *syn, size_t n_syn, const double *row)
{
    size_t nc = d->n_cols;
    double best = INFINITY;
    for (size_t k = 0; k < n_syn && best > 0; k++) {
        double s = s_dist(d, row, syn + k * nc, best);
        best = s < best ? s : best;
    }
    return nc ? best / (double)nc : 0;
}

size_t ch_syn_dcr_cell(double dcr)
{
    if (!(dcr > 0)) {
        return 0;
    }
    double k = ceil(dcr * CH_SYN_DCR_BINS);
    return k < 1 ? 1 : k > CH_SYN_DCR_BINS ? CH_SYN_DCR_BINS : (size_t)k;
}

int ch_syn_dcr_hist(const ch_syn_domain *d, const double *syn, size_t n_syn, const ch_table *t,
                    const size_t *rows, size_t n, double *hist, ch_err *err)
{
    size_t nc = d->n_cols;
    double *row = malloc((nc ? nc : 1) * sizeof *row);
    if (!row) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    for (size_t j = 0; j < nc; j++) {
        if (!s_vals(d, t, j)) {
            free(row);
            return ch_err_set(err, CH_EINVAL,
                              "synthetic: the table lacks column '%s' for distances",
                              d->cols[j].name);
        }
    }
    for (size_t q = 0; q < n; q++) {
        size_t i = rows ? rows[q] : q;
        for (size_t j = 0; j < nc; j++) {
            const ch_syn_col *c = &d->cols[j];
            double v = s_vals(d, t, j)[i];
            row[j] = c->kind == CH_COL_NUMERIC ? v * s_scale(c) : v;
        }
        hist[ch_syn_dcr_cell(ch_syn_dcr(d, syn, n_syn, row))] += 1;
    }
    free(row);
    return 0;
}

/* The upper edge of the cell holding the q-quantile of histogram h. */
static double s_quantile(const double *h, double total, double q)
{
    double acc = 0;
    for (size_t k = 0; k < CH_SYN_DCR_CELLS; k++) {
        acc += h[k];
        if (acc >= q * total && acc > 0) {
            return (double)k / CH_SYN_DCR_BINS;
        }
    }
    return 1;
}

void ch_syn_privacy_from_hist(const double *train, const double *holdout, ch_syn_privacy *p)
{
    double nt = 0, nh = 0;
    for (size_t k = 0; k < CH_SYN_DCR_CELLS; k++) {
        nt += train[k];
        nh += holdout[k];
    }
    p->n_train = nt;
    p->n_holdout = nh;
    if (!(nt > 0) || !(nh > 0)) {
        return;
    }
    p->exact_train = train[0] / nt;
    p->exact_holdout = holdout[0] / nh;
    p->dcr_train_p05 = s_quantile(train, nt, 0.05);
    p->dcr_train_median = s_quantile(train, nt, 0.5);
    p->dcr_holdout_p05 = s_quantile(holdout, nh, 0.05);
    p->dcr_holdout_median = s_quantile(holdout, nh, 0.5);
    /* AUC of the score -DCR: P(a member is closer than a non-member), ties
     * (the same cell) counted half */
    double above = nh, auc = 0;
    for (size_t k = 0; k < CH_SYN_DCR_CELLS; k++) {
        above -= holdout[k];
        auc += train[k] * (above + 0.5 * holdout[k]);
    }
    p->mia_auc = auc / (nt * nh);
}
