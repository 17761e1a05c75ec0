/* quality.c: how close the synthetic rows are to held-out real rows (total
 * variation, Kolmogorov-Smirnov, correlations, the model as a classifier)
 * and the model's predictions. */
#include "algorithms/synthetic/synthetic.h"
#include "common/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define S_EVAL_ROWS 20000

/* Column j of the domain in t, or NULL when t lacks it (the target). */
static const double *s_col(const ch_syn_model *m, const ch_table *t, size_t j)
{
    if ((long)j == m->dom.target) {
        return t->has_target ? t->target.values : NULL;
    }
    return j < t->n_cols ? t->cols[j].values : NULL;
}

static int s_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Sorted non-missing values of x[0..n) into a new array; *k the count. */
static double *s_sorted(const double *x, size_t n, size_t *k)
{
    double *v = malloc((n ? n : 1) * sizeof *v);
    if (!v) {
        return NULL;
    }
    *k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isnan(x[i])) {
            v[(*k)++] = x[i];
        }
    }
    qsort(v, *k, sizeof *v, s_cmp);
    return v;
}

/* Two-sample Kolmogorov-Smirnov statistic of sorted a[na], b[nb]. */
static double s_ks(const double *a, size_t na, const double *b, size_t nb)
{
    size_t i = 0, j = 0;
    double d = 0;
    while (i < na && j < nb) {
        double x = a[i] < b[j] ? a[i] : b[j];
        while (i < na && a[i] <= x) {
            i++;
        }
        while (j < nb && b[j] <= x) {
            j++;
        }
        double g = fabs((double)i / (double)na - (double)j / (double)nb);
        d = g > d ? g : d;
    }
    return d;
}

/* Pearson correlation of x and y over rows where both are present. */
static double s_corr(const double *x, const double *y, size_t n)
{
    double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0, k = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(x[i]) || isnan(y[i])) {
            continue;
        }
        sx += x[i];
        sy += y[i];
        sxx += x[i] * x[i];
        syy += y[i] * y[i];
        sxy += x[i] * y[i];
        k += 1;
    }
    if (k < 2) {
        return 0;
    }
    double vx = sxx - sx * sx / k, vy = syy - sy * sy / k;
    return vx > 0 && vy > 0 ? (sxy - sx * sy / k) / sqrt(vx * vy) : 0;
}

int ch_syn_quality(ch_syn_model *m, const ch_table *test, ch_err *err)
{
    size_t n = m->dom.n_cols;
    if (!test || test->n_rows == 0) {
        return 0;
    }
    free(m->tv);
    free(m->ks);
    m->tv = malloc(n * sizeof *m->tv);
    m->ks = malloc(n * sizeof *m->ks);
    ch_table *s =
        m->tv && m->ks ? ch_syn_generate(m, S_EVAL_ROWS, 0, CH_SYN_STREAM_EVAL, err) : NULL;
    if (!s) {
        return err && err->code ? err->code : ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    int rc = 0;
    double tv_sum = 0, tv_max = 0, tv_n = 0;
    for (size_t j = 0; j < n && rc == 0; j++) {
        const ch_syn_col *c = &m->dom.cols[j];
        const double *x = s_col(m, test, j);
        m->tv[j] = m->ks[j] = NAN;
        if (!x) {
            continue;
        }
        double *pa = calloc(c->size, sizeof *pa), *pb = calloc(c->size, sizeof *pb);
        if (!pa || !pb) {
            free(pa);
            free(pb);
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
            break;
        }
        for (size_t i = 0; i < test->n_rows; i++) {
            pa[ch_syn_cell(c, x[i])] += 1.0 / (double)test->n_rows;
        }
        for (size_t i = 0; i < s->n_rows; i++) {
            pb[ch_syn_cell(c, s->cols[j].values[i])] += 1.0 / (double)s->n_rows;
        }
        double tv = 0;
        for (size_t k = 0; k < c->size; k++) {
            tv += fabs(pa[k] - pb[k]) / 2;
        }
        free(pa);
        free(pb);
        m->tv[j] = tv;
        tv_sum += tv;
        tv_n += 1;
        tv_max = tv > tv_max ? tv : tv_max;
        if (c->kind == CH_COL_NUMERIC) {
            size_t na = 0, nb = 0;
            double *a = s_sorted(x, test->n_rows, &na);
            double *b = s_sorted(s->cols[j].values, s->n_rows, &nb);
            if (a && b && na && nb) {
                m->ks[j] = s_ks(a, na, b, nb);
            }
            free(a);
            free(b);
        }
    }
    m->mean_tv = tv_n ? tv_sum / tv_n : NAN;
    m->max_tv = tv_n ? tv_max : NAN;
    double cd = 0, cn = 0;
    for (size_t a = 0; a < n && rc == 0; a++) {
        for (size_t b = a + 1; b < n; b++) {
            const double *xa = s_col(m, test, a), *xb = s_col(m, test, b);
            if (m->dom.cols[a].kind != CH_COL_NUMERIC || m->dom.cols[b].kind != CH_COL_NUMERIC ||
                !xa || !xb) {
                continue;
            }
            cd += fabs(s_corr(xa, xb, test->n_rows) -
                       s_corr(s->cols[a].values, s->cols[b].values, s->n_rows));
            cn += 1;
        }
    }
    m->corr_diff = cn ? cd / cn : NAN;
    ch_table_destroy(&s);
    long tj = m->dom.target;
    if (rc == 0 && tj >= 0 && test->has_target && m->dom.cols[tj].kind == CH_COL_CATEGORICAL) {
        size_t k = m->dom.cols[tj].n_levels;
        double *p = ch_alloc_array(test->n_rows, k * sizeof(double));
        rc = p ? ch_syn_predict(m, test, p, err) : ch_err_set(err, CH_ENOMEM, "out of memory");
        if (rc == 0) {
            m->test_accuracy = ch_metric_accuracy(test->target.values, p, test->n_rows, k);
            m->n_test = (double)test->n_rows;
            if (k == 2) {
                for (size_t i = 0; i < test->n_rows; i++) {
                    p[i] = p[i * 2 + 1];
                }
                m->test_auc = ch_metric_auc(test->target.values, p, test->n_rows);
            }
        }
        free(p);
    }
    return rc;
}

int ch_syn_predict(const ch_syn_model *m, const ch_table *t, double *out, ch_err *err)
{
    size_t n = m->dom.n_cols;
    long tj = m->dom.target;
    size_t nf = n - (tj >= 0 ? 1 : 0);
    if (t->n_cols != nf) {
        return ch_err_set(err, CH_EINVAL, "synthetic: the data have %zu columns, the model %zu",
                          t->n_cols, nf);
    }
    ch_syn_sampler *s = ch_syn_sampler_new(m, -1);
    if (!s) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    bool classes = tj >= 0 && m->dom.cols[tj].kind == CH_COL_CATEGORICAL;
    uint32_t cell[CH_SYN_MAX_COLS];
    for (size_t i = 0; i < t->n_rows; i++) {
        for (size_t j = 0; j < nf; j++) {
            cell[j] = ch_syn_cell(&m->dom.cols[j], t->cols[j].values[i]);
        }
        if (!classes) {
            if (tj >= 0) {
                cell[tj] = ch_syn_cell(&m->dom.cols[tj], t->has_target ? t->target.values[i] : NAN);
            }
            out[i] = ch_syn_log_prob(s, cell);
            continue;
        }
        size_t k = m->dom.cols[tj].n_levels;
        double *o = out + i * k, mx = -INFINITY, z = 0;
        for (size_t y = 0; y < k; y++) {
            cell[tj] = (uint32_t)y;
            o[y] = ch_syn_log_prob(s, cell);
            mx = o[y] > mx ? o[y] : mx;
        }
        for (size_t y = 0; y < k; y++) {
            o[y] = exp(o[y] - mx);
            z += o[y];
        }
        for (size_t y = 0; y < k; y++) {
            o[y] /= z;
        }
    }
    ch_syn_sampler_destroy(&s);
    return 0;
}
