/* utility.c: is the synthetic table useful for training? A plain
 * L2-penalised logistic regression (one-hot categorical columns,
 * standardised numeric ones, one-vs-rest for more than two classes), fitted
 * by Newton's method on real, synthetic or augmented rows and scored on the
 * held-out real rows: AUC, accuracy, and per-class recall and precision. */
#include "algorithms/synthetic/synthetic.h"
#include "common/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define S_LAMBDA   1.0 /* the L2 penalty (scikit-learn's C = 1) */
#define S_ITERS    25  /* see README: Missing */
#define S_MAX_FEAT 2000

/* Column j of the domain in t (a generated table holds every column in
 * order; a real table holds the target apart), or NULL. */
static const double *s_vals(const ch_syn_domain *d, const ch_table *t, size_t j)
{
    if ((long)j == d->target && t->has_target) {
        return t->target.values;
    }
    return j < t->n_cols ? t->cols[j].values : NULL;
}

/* Solves the p x p system A x = b (A symmetric positive definite, changed)
 * by Cholesky; false when A is not positive definite. */
static bool s_chol_solve(double *A, double *b, size_t p)
{
    for (size_t j = 0; j < p; j++) {
        double s = A[j * p + j];
        for (size_t k = 0; k < j; k++) {
            s -= A[j * p + k] * A[j * p + k];
        }
        if (!(s > 0)) {
            return false;
        }
        A[j * p + j] = sqrt(s);
        for (size_t i = j + 1; i < p; i++) {
            double t = A[i * p + j];
            for (size_t k = 0; k < j; k++) {
                t -= A[i * p + k] * A[j * p + k];
            }
            A[i * p + j] = t / A[j * p + j];
        }
    }
    for (size_t i = 0; i < p; i++) {
        double t = b[i];
        for (size_t k = 0; k < i; k++) {
            t -= A[i * p + k] * b[k];
        }
        b[i] = t / A[i * p + i];
    }
    for (size_t i = p; i-- > 0;) {
        double t = b[i];
        for (size_t k = i + 1; k < p; k++) {
            t -= A[k * p + i] * b[k];
        }
        b[i] = t / A[i * p + i];
    }
    return true;
}

/* The penalised logistic loss at w (log(1 + e^z) computed stably). */
static double s_objective(const double *X, const double *y, size_t n, size_t p, double lambda,
                          const double *w)
{
    double f = 0;
    for (size_t k = 1; k <= p; k++) {
        f += 0.5 * lambda * w[k] * w[k];
    }
    for (size_t i = 0; i < n; i++) {
        double z = w[0];
        for (size_t k = 0; k < p; k++) {
            z += w[k + 1] * X[i * p + k];
        }
        f += (z > 0 ? z + log1p(exp(-z)) : log1p(exp(z))) - y[i] * z;
    }
    return f;
}

int ch_syn_logit_fit(const double *X, const double *y, size_t n, size_t p, double lambda, double *w)
{
    size_t q = p + 1; /* w[0] the intercept, not penalised */
    double *H = ch_alloc_array(q, q * sizeof(double));
    double *g = malloc(q * sizeof *g), *wn = malloc(q * sizeof *wn);
    size_t *idx = malloc(q * sizeof *idx);
    if (!H || !g || !wn || !idx) {
        free(H);
        free(g);
        free(wn);
        free(idx);
        return CH_ENOMEM;
    }
    memset(w, 0, q * sizeof *w);
    int rc = 0;
    for (int it = 0; it < S_ITERS; it++) {
        memset(H, 0, q * q * sizeof *H);
        for (size_t k = 1; k < q; k++) {
            g[k] = lambda * w[k];
            H[k * q + k] = lambda;
        }
        g[0] = 0;
        for (size_t i = 0; i < n; i++) {
            const double *x = X + i * p;
            double z = w[0];
            for (size_t k = 0; k < p; k++) {
                z += w[k + 1] * x[k];
            }
            double mu = 1 / (1 + exp(-z)), r = mu - y[i], v = mu * (1 - mu);
            g[0] += r;
            H[0] += v;
            /* the row's non-zero features (one-hot levels are mostly 0) */
            size_t nz = 0;
            for (size_t k = 0; k < p; k++) {
                if (x[k] != 0) {
                    idx[nz++] = k;
                }
            }
            for (size_t a = 0; a < nz; a++) {
                size_t k = idx[a];
                double vx = v * x[k];
                g[k + 1] += r * x[k];
                H[k + 1] += vx;
                for (size_t b = 0; b <= a; b++) {
                    H[(k + 1) * q + idx[b] + 1] += vx * x[idx[b]];
                }
            }
        }
        /* the intercept's cross terms were summed in row 0; the Cholesky
         * reads the lower triangle only (copying the upper triangle here
         * once zeroed row 0 before it reached column 0: an inexact Hessian
         * and linear convergence, caught by test_logit_onehot) */
        for (size_t k = 1; k < q; k++) {
            H[k * q] = H[k];
        }
        if (!s_chol_solve(H, g, q)) {
            rc = CH_EINVAL; /* no penalty on a separable intercept */
            break;
        }
        /* damped: halve the step until the objective does not rise */
        double f0 = s_objective(X, y, n, p, lambda, w), step = 0, t = 1;
        for (size_t k = 0; k < q; k++) {
            wn[k] = w[k] - g[k];
        }
        for (int h = 0; h < 30 && s_objective(X, y, n, p, lambda, wn) > f0; h++) {
            t /= 2;
            for (size_t k = 0; k < q; k++) {
                wn[k] = w[k] - t * g[k];
            }
        }
        for (size_t k = 0; k < q; k++) {
            step = fmax(step, fabs(wn[k] - w[k]));
            w[k] = wn[k];
        }
        if (step < 1e-10 || t < 1e-6) {
            break; /* converged, or no descent left at rounding level */
        }
    }
    free(H);
    free(g);
    free(wn);
    free(idx);
    return rc;
}

/* The design: per non-target column, its standardised value (missing: 0)
 * or one indicator per level; means and scales from the training table. */
typedef struct s_design {
    size_t p;
    double *mean, *scale; /* per column */
    size_t *off;          /* per column: first feature */
} s_design;

static void s_design_free(s_design *ds)
{
    free(ds->mean);
    free(ds->scale);
    free(ds->off);
}

static int s_design_make(const ch_syn_domain *d, const ch_table *t, size_t n, s_design *ds)
{
    size_t nc = d->n_cols;
    memset(ds, 0, sizeof *ds);
    ds->mean = calloc(nc, sizeof *ds->mean);
    ds->scale = calloc(nc, sizeof *ds->scale);
    ds->off = calloc(nc + 1, sizeof *ds->off);
    if (!ds->mean || !ds->scale || !ds->off) {
        return CH_ENOMEM;
    }
    for (size_t j = 0; j < nc; j++) {
        const ch_syn_col *c = &d->cols[j];
        ds->off[j] = ds->p;
        if ((long)j == d->target) {
            continue;
        }
        if (c->kind == CH_COL_CATEGORICAL) {
            ds->p += c->n_levels;
            continue;
        }
        const double *v = s_vals(d, t, j);
        double s = 0, ss = 0, k = 0;
        for (size_t i = 0; i < n; i++) {
            if (!isnan(v[i])) {
                s += v[i];
                k += 1;
            }
        }
        ds->mean[j] = k > 0 ? s / k : 0;
        for (size_t i = 0; i < n; i++) {
            if (!isnan(v[i])) {
                ss += (v[i] - ds->mean[j]) * (v[i] - ds->mean[j]);
            }
        }
        ds->scale[j] = k > 1 && ss > 0 ? sqrt(ss / k) : 1;
        ds->p += 1;
    }
    ds->off[nc] = ds->p;
    return 0;
}

/* Rows [0, n) of t as a design matrix (n x p, malloc'd), or NULL. */
static double *s_design_rows(const ch_syn_domain *d, const s_design *ds, const ch_table *t,
                             size_t n)
{
    size_t p = ds->p;
    double *X = ch_alloc_array(n ? n : 1, (p ? p : 1) * sizeof(double));
    if (!X) {
        return NULL;
    }
    memset(X, 0, (n ? n : 1) * (p ? p : 1) * sizeof(double));
    for (size_t j = 0; j < d->n_cols; j++) {
        if ((long)j == d->target) {
            continue;
        }
        const double *v = s_vals(d, t, j);
        const ch_syn_col *c = &d->cols[j];
        for (size_t i = 0; i < n; i++) {
            if (isnan(v[i])) {
                continue;
            }
            if (c->kind == CH_COL_CATEGORICAL) {
                size_t l = (size_t)v[i];
                if (l < c->n_levels) {
                    X[i * p + ds->off[j] + l] = 1;
                }
            } else {
                X[i * p + ds->off[j]] = (v[i] - ds->mean[j]) / ds->scale[j];
            }
        }
    }
    return X;
}

void ch_syn_fit_clear(ch_syn_fit *f)
{
    free(f->recall);
    free(f->precision);
    memset(f, 0, sizeof *f);
    f->auc = f->accuracy = NAN;
}

int ch_syn_fit_eval(const ch_syn_domain *d, const ch_table *train, size_t n_train,
                    const ch_table *test, ch_syn_fit *out, ch_err *err)
{
    ch_syn_fit_clear(out);
    long tj = d->target;
    if (tj < 0 || d->cols[tj].kind != CH_COL_CATEGORICAL || !test || !test->has_target ||
        test->n_rows == 0 || n_train == 0) {
        return 0;
    }
    size_t k = d->cols[tj].n_levels, nt = test->n_rows;
    const double *ytr = s_vals(d, train, (size_t)tj), *yte = test->target.values;
    for (size_t j = 0; j < d->n_cols; j++) {
        if (!s_vals(d, train, j) || !s_vals(d, test, j)) {
            return ch_err_set(err, CH_EINVAL, "synthetic: a table lacks column '%s'",
                              d->cols[j].name);
        }
    }
    s_design ds;
    int rc = s_design_make(d, train, n_train, &ds);
    if (rc == 0 && ds.p > S_MAX_FEAT) {
        s_design_free(&ds);
        return 0; /* too wide for a dense Newton step: not computed (NaN) */
    }
    size_t fits = k == 2 ? 1 : k;
    double *X = rc == 0 ? s_design_rows(d, &ds, train, n_train) : NULL;
    double *Xt = rc == 0 ? s_design_rows(d, &ds, test, nt) : NULL;
    double *yb = malloc(n_train * sizeof *yb);
    double *w = malloc((ds.p + 1) * sizeof *w);
    double *prob = ch_alloc_array(nt, k * sizeof(double));
    out->recall = calloc(k, sizeof *out->recall);
    out->precision = calloc(k, sizeof *out->precision);
    if (!X || !Xt || !yb || !w || !prob || !out->recall || !out->precision) {
        rc = CH_ENOMEM;
    }
    for (size_t c = 0; rc == 0 && c < fits; c++) {
        size_t cls = k == 2 ? 1 : c;
        for (size_t i = 0; i < n_train; i++) {
            yb[i] = ytr[i] == (double)cls;
        }
        rc = ch_syn_logit_fit(X, yb, n_train, ds.p, S_LAMBDA, w);
        for (size_t i = 0; rc == 0 && i < nt; i++) {
            double z = w[0];
            for (size_t l = 0; l < ds.p; l++) {
                z += w[l + 1] * Xt[i * ds.p + l];
            }
            double mu = 1 / (1 + exp(-z));
            if (k == 2) {
                prob[i * 2] = 1 - mu;
                prob[i * 2 + 1] = mu;
            } else {
                prob[i * k + c] = mu;
            }
        }
    }
    if (rc == 0) {
        out->k = k;
        out->n_train = (double)n_train;
        out->accuracy = ch_metric_accuracy(yte, prob, nt, k);
        double *tp = calloc(k, sizeof *tp), *np = calloc(k, sizeof *np),
               *ny = calloc(k, sizeof *ny);
        if (!tp || !np || !ny) {
            rc = CH_ENOMEM;
        }
        for (size_t i = 0; rc == 0 && i < nt; i++) {
            size_t best = 0;
            for (size_t c = 1; c < k; c++) {
                best = prob[i * k + c] > prob[i * k + best] ? c : best;
            }
            np[best] += 1;
            if (!isnan(yte[i]) && (size_t)yte[i] < k) {
                ny[(size_t)yte[i]] += 1;
                tp[best] += (size_t)yte[i] == best;
            }
        }
        for (size_t c = 0; rc == 0 && c < k; c++) {
            out->recall[c] = ny[c] > 0 ? tp[c] / ny[c] : NAN;
            out->precision[c] = np[c] > 0 ? tp[c] / np[c] : NAN;
        }
        free(tp);
        free(np);
        free(ny);
        if (rc == 0 && k == 2) {
            for (size_t i = 0; i < nt; i++) {
                prob[i] = prob[i * 2 + 1];
            }
            out->auc = ch_metric_auc(yte, prob, nt);
        }
    }
    bool fitted = rc == 0;
    if (rc == CH_EINVAL) {
        rc = 0; /* a Newton step failed: no fit, NaN */
    }
    free(X);
    free(Xt);
    free(yb);
    free(w);
    free(prob);
    s_design_free(&ds);
    if (rc != 0) {
        ch_syn_fit_clear(out);
        return ch_err_set(err, rc, "out of memory fitting the utility model");
    }
    if (!fitted) {
        ch_syn_fit_clear(out);
    }
    out->done = fitted;
    return 0;
}
