/* penalized.c: ridge, lasso and elastic net from summed Gram matrices,
 * with K-fold cross-validation over a lambda grid (see penalized.h). */
#include "algorithms/linear/penalized.h"
#include "algorithms/linear/qr.h"

#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void ch_pen_combine(void *ctx, size_t len, const double *left, const double *right, double *out)
{
    const ch_pen_ctx *c = ctx;
    size_t one = len / c->k;
    for (size_t f = 0; f < c->k; f++) {
        ch_qr_combine((void *)&c->m, one, left + f * one, right + f * one, out + f * one);
    }
}

void ch_pen_gram(const double *node, size_t m, double *g)
{
    const double *r = node + 2;
    for (size_t i = 0; i < m; i++) {
        for (size_t j = i; j < m; j++) {
            double s = 0;
            for (size_t l = 0; l <= i; l++) {
                s += r[i * m + l] * r[j * m + l];
            }
            g[j * m + i] = s;
            g[i * m + j] = s;
        }
    }
}

void ch_pen_fit_free(ch_pen_fit *f)
{
    if (f) {
        free(f->coef);
        free(f->path_lambda);
        free(f->path_cv);
        memset(f, 0, sizeof *f);
    }
}

/* A problem: the Gram matrix g (m x m, target last) of the rows in use with
 * weight sum w. */
typedef struct s_prob {
    size_t p, m, first; /* first penalized column (1 with an intercept) */
    const double *g;
    double w;
    double *c;  /* p x p centred Gram over columns first.. */
    double *cy; /* p centred X'y */
    double *mu; /* m: means (0 without intercept) */
    double *sd; /* p: penalty scale of each column (1 unless standardized) */
    double cyy;
} s_prob;

static void s_prob_free(s_prob *q)
{
    free(q->c);
    free(q->cy);
    free(q->mu);
    free(q->sd);
}

static int s_prob_init(s_prob *q, const double *g, size_t p, bool intercept, bool standardize,
                       double w)
{
    size_t m = p + 1;
    memset(q, 0, sizeof *q);
    q->p = p;
    q->m = m;
    q->g = g;
    q->w = w;
    q->first = intercept ? 1 : 0;
    q->c = calloc(p * p + 1, sizeof *q->c);
    q->cy = calloc(p + 1, sizeof *q->cy);
    q->mu = calloc(m, sizeof *q->mu);
    q->sd = calloc(p + 1, sizeof *q->sd);
    if (!q->c || !q->cy || !q->mu || !q->sd) {
        s_prob_free(q);
        return CH_ENOMEM;
    }
    for (size_t j = 0; j < m && intercept; j++) {
        q->mu[j] = g[j * m + 0] / w;
    }
    for (size_t j = q->first; j < p; j++) {
        for (size_t k = q->first; k < p; k++) {
            q->c[k * p + j] = g[k * m + j] - w * q->mu[j] * q->mu[k];
        }
        q->cy[j] = g[p * m + j] - w * q->mu[j] * q->mu[p];
    }
    q->cyy = g[p * m + p] - w * q->mu[p] * q->mu[p];
    for (size_t j = 0; j < p; j++) {
        double v = q->c[j * p + j] / w;
        q->sd[j] = standardize && v > 0 ? sqrt(v) : 1.0;
    }
    return 0;
}

/* Coordinate descent for (lambda, alpha) from the warm start b (p entries;
 * b[0] is set to the intercept). */
static void s_cd(const s_prob *q, double lambda, double alpha, double *b, double *grad)
{
    size_t p = q->p;
    double w = q->w;
    for (size_t j = q->first; j < p; j++) {
        double s = q->cy[j];
        for (size_t k = q->first; k < p; k++) {
            s -= q->c[k * p + j] * b[k];
        }
        grad[j] = s / w;
    }
    double scale = sqrt(q->cyy / w);
    double l1 = lambda * alpha, l2 = lambda * (1 - alpha);
    for (int sweep = 0; sweep < 100000; sweep++) {
        double worst = 0;
        for (size_t j = q->first; j < p; j++) {
            double cjj = q->c[j * p + j] / w;
            if (!(cjj > 0)) {
                b[j] = 0;
                continue;
            }
            double z = grad[j] + cjj * b[j];
            double l1j = l1 * q->sd[j], l2j = l2 * q->sd[j] * q->sd[j];
            double nb = z > l1j    ? (z - l1j) / (cjj + l2j)
                        : z < -l1j ? (z + l1j) / (cjj + l2j)
                                   : 0.0;
            double delta = nb - b[j];
            if (delta != 0) {
                for (size_t k = q->first; k < p; k++) {
                    grad[k] -= q->c[j * p + k] * delta / w;
                }
                b[j] = nb;
                double e = fabs(delta) * sqrt(cjj);
                worst = e > worst ? e : worst;
            }
        }
        if (worst <= 1e-13 * (scale > 0 ? scale : 1)) {
            break;
        }
    }
    if (q->first) {
        double b0 = q->mu[p];
        for (size_t j = 1; j < p; j++) {
            b0 -= q->mu[j] * b[j];
        }
        b[0] = b0;
    }
}

/* Ridge: (G_xx + lambda W D) b = G_xy, D the identity on penalized
 * columns. */
static int s_ridge(const s_prob *q, double lambda, double *b, ch_err *err)
{
    size_t p = q->p, m = q->m;
    double *a = malloc(p * p * sizeof *a);
    if (!a) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    for (size_t j = 0; j < p; j++) {
        for (size_t k = 0; k < p; k++) {
            a[k * p + j] = q->g[k * m + j];
        }
        a[j * p + j] += j >= q->first ? lambda * q->w * q->sd[j] * q->sd[j] : 0;
        b[j] = q->g[p * m + j];
    }
    lapack_int info =
        LAPACKE_dposv(LAPACK_COL_MAJOR, 'U', (lapack_int)p, 1, a, (lapack_int)p, b, (lapack_int)p);
    free(a);
    if (info != 0) {
        return ch_err_set(err, CH_EINVAL,
                          "ridge: the penalized Gram matrix is not positive definite (a "
                          "constant or all-missing column with model.intercept false?)");
    }
    return 0;
}

static int s_solve(const s_prob *q, const ch_pen_opts *o, double lambda, double *b, double *grad,
                   ch_err *err)
{
    if (o->kind == CH_PEN_RIDGE) {
        return s_ridge(q, lambda, b, err);
    }
    s_cd(q, lambda, o->kind == CH_PEN_LASSO ? 1.0 : o->l1_ratio, b, grad);
    return 0;
}

/* Weighted residual sum of squares of b on the rows of Gram g. */
static double s_sse(const double *g, size_t p, const double *b)
{
    size_t m = p + 1;
    double s = 0;
    for (size_t i = 0; i < m; i++) {
        double vi = i < p ? b[i] : -1.0;
        for (size_t j = 0; j < m; j++) {
            double vj = j < p ? b[j] : -1.0;
            s += vi * g[j * m + i] * vj;
        }
    }
    return s;
}

int ch_pen_fit_nodes(const double *nodes, size_t k, size_t p, const ch_pen_opts *o, ch_pen_fit *out,
                     ch_err *err)
{
    memset(out, 0, sizeof *out);
    size_t m = p + 1, len = ch_qr_node_len(p), mm = m * m;
    double *g = calloc((k + 1) * mm, sizeof *g);
    double *b = calloc(p + 1, sizeof *b);
    double *grad = calloc(p + 1, sizeof *grad);
    double *gt = calloc(mm, sizeof *gt);
    s_prob q = {0};
    int rc = 0;
    out->p = p;
    out->coef = calloc(p + 1, sizeof *out->coef);
    size_t nl = o->lambda > 0 ? 1 : o->n_lambda;
    out->path_lambda = calloc(nl, sizeof *out->path_lambda);
    out->path_cv = calloc(nl, sizeof *out->path_cv);
    if (!g || !b || !grad || !gt || !out->coef || !out->path_lambda || !out->path_cv) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        goto done;
    }
    double *gall = g + k * mm;
    for (size_t f = 0; f < k; f++) {
        const double *node = nodes + f * len;
        for (size_t i = 0; i < len; i++) {
            if (!isfinite(node[i])) {
                rc = ch_err_set(err, CH_EINVAL, "the data contain infinite values");
                goto done;
            }
        }
        if (!(node[0] > 0)) {
            rc = k > 1 ? ch_err_set(err, CH_EINVAL,
                                    "cross-validation fold %zu has no rows (fewer blocks than "
                                    "model.folds, or no complete rows)",
                                    f + 1)
                       : ch_err_set(err, CH_EINVAL, "no complete rows to fit");
            goto done;
        }
        ch_pen_gram(node, m, g + f * mm);
        for (size_t i = 0; i < mm; i++) {
            gall[i] += g[f * mm + i];
        }
        out->n += node[0];
        out->sum_w += node[1];
    }
    double w = out->sum_w;
    if (s_prob_init(&q, gall, p, o->intercept, o->standardize, w) != 0) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        goto done;
    }
    /* the largest lambda that leaves every penalized coefficient at 0 */
    double alpha = o->kind == CH_PEN_RIDGE ? 0 : o->kind == CH_PEN_LASSO ? 1 : o->l1_ratio;
    double lmax = 0;
    for (size_t j = q.first; j < p; j++) {
        double v = fabs(q.cy[j]) / (w * q.sd[j]);
        lmax = v > lmax ? v : lmax;
    }
    lmax /= alpha > 1e-3 ? alpha : 1e-3;
    if (!(lmax > 0)) {
        lmax = 1;
    }
    if (o->lambda > 0) {
        out->path_lambda[0] = o->lambda;
        out->n_path = 1;
        out->best = 0;
        out->path_cv[0] = NAN;
    } else {
        out->n_path = nl;
        for (size_t i = 0; i < nl; i++) {
            double t = nl > 1 ? (double)i / (double)(nl - 1) : 0;
            out->path_lambda[i] = lmax * pow(o->min_ratio, t);
        }
        /* each fold: the path fitted on the other folds, scored on it */
        for (size_t f = 0; f < k && rc == 0; f++) {
            s_prob qt;
            double wf = nodes[f * len + 1];
            for (size_t i = 0; i < mm; i++) {
                gt[i] = gall[i] - g[f * mm + i];
            }
            if (s_prob_init(&qt, gt, p, o->intercept, o->standardize, w - wf) != 0) {
                rc = ch_err_set(err, CH_ENOMEM, "out of memory");
                break;
            }
            memset(b, 0, (p + 1) * sizeof *b);
            for (size_t i = 0; i < nl && rc == 0; i++) {
                rc = s_solve(&qt, o, out->path_lambda[i], b, grad, err);
                out->path_cv[i] += s_sse(g + f * mm, p, b);
            }
            s_prob_free(&qt);
        }
        if (rc != 0) {
            goto done;
        }
        out->best = 0;
        for (size_t i = 0; i < nl; i++) {
            out->path_cv[i] /= w;
            if (out->path_cv[i] < out->path_cv[out->best]) {
                out->best = i;
            }
        }
    }
    out->lambda = out->path_lambda[out->best];
    /* the full-data fit along the path down to the chosen lambda */
    memset(b, 0, (p + 1) * sizeof *b);
    for (size_t i = 0; i <= out->best && rc == 0; i++) {
        rc = s_solve(&q, o, out->path_lambda[i], b, grad, err);
    }
    if (rc != 0) {
        goto done;
    }
    memcpy(out->coef, b, p * sizeof *b);
    for (size_t j = q.first; j < p; j++) {
        out->nonzero += b[j] != 0;
    }
    out->rss = s_sse(gall, p, b);
    out->tss = q.cyy;
    if (!o->intercept) {
        out->tss = gall[p * m + p];
    }
done:
    s_prob_free(&q);
    free(g);
    free(b);
    free(grad);
    free(gt);
    if (rc != 0) {
        ch_pen_fit_free(out);
    }
    return rc;
}
