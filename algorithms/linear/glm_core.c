/* glm_core.c: IRLS leaves, combination and the coordinator's iteration for
 * binomial and Poisson GLMs (see glm.h). The link functions, starting
 * values, deviance residuals and convergence test are those of R's
 * binomial() and poisson() families and glm.fit. */
#include "algorithms/linear/glm.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

size_t ch_glm_node_len(size_t p)
{
    return CH_GLM_NSTATS + ch_qr_node_len(p);
}

void ch_glm_combine(void *ctx, size_t len, const double *left, const double *right, double *out)
{
    for (size_t i = 0; i < CH_GLM_NSTATS; i++) {
        out[i] = left[i] + right[i];
    }
    ch_qr_combine(ctx, len - CH_GLM_NSTATS, left + CH_GLM_NSTATS, right + CH_GLM_NSTATS,
                  out + CH_GLM_NSTATS);
}

void ch_glm_ws_free(ch_glm_ws *ws)
{
    if (ws) {
        free(ws->a);
        free(ws->keep);
        free(ws->row);
        memset(ws, 0, sizeof *ws);
    }
}

/* R's C_logit_linkinv, C_logit_mu_eta and the log link's pmax(exp(eta),
 * eps). */
static double s_linkinv(ch_glm_family fam, double eta)
{
    if (fam == CH_GLM_POISSON) {
        double e = exp(eta);
        return e > DBL_EPSILON ? e : DBL_EPSILON;
    }
    double tmp = eta < -30 ? DBL_EPSILON : eta > 30 ? 1 / DBL_EPSILON : exp(eta);
    return tmp / (1 + tmp);
}

static double s_mu_eta(ch_glm_family fam, double eta)
{
    if (fam == CH_GLM_POISSON) {
        double e = exp(eta);
        return e > DBL_EPSILON ? e : DBL_EPSILON;
    }
    double opexp = 1 + exp(eta);
    return (eta > 30 || eta < -30) ? DBL_EPSILON : exp(eta) / (opexp * opexp);
}

static double s_ylogy(double y, double mu)
{
    return y != 0 ? y * log(y / mu) : 0;
}

/* One row's deviance residual (R's dev.resids). */
static double s_dev(ch_glm_family fam, double y, double mu, double w)
{
    if (fam == CH_GLM_POISSON) {
        return y > 0 ? 2 * w * (y * log(y / mu) - (y - mu)) : 2 * mu * w;
    }
    return 2 * w * (s_ylogy(y, mu) + s_ylogy(1 - y, 1 - mu));
}

static int s_grow(ch_glm_ws *ws, size_t rows, size_t m, ch_err *err)
{
    if (!ws->row) {
        ws->row = malloc(m * sizeof *ws->row);
        if (!ws->row) {
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
    }
    if (rows <= ws->a_rows) {
        return 0;
    }
    size_t n;
    if (ch_mul_size(rows, m, &n) != 0) {
        return ch_err_set(err, CH_ENOMEM, "block too large");
    }
    free(ws->a);
    free(ws->keep);
    ws->a = ch_alloc_array(n, sizeof(double));
    ws->keep = ch_alloc_array(rows, sizeof(size_t));
    if (!ws->a || !ws->keep) {
        free(ws->a);
        free(ws->keep);
        ws->a = NULL;
        ws->keep = NULL;
        ws->a_rows = 0;
        return ch_err_set(err, CH_ENOMEM, "out of memory for a %zu x %zu block", rows, m);
    }
    ws->a_rows = rows;
    return 0;
}

int ch_glm_leaf(ch_glm_family fam, const ch_design *d, const ch_table *t, const size_t *rows,
                size_t n, const double *beta, ch_glm_ws *ws, double *node, ch_err *err)
{
    size_t p = d->p, m = p + 1;
    memset(node, 0, ch_glm_node_len(p) * sizeof *node);
    int rc = s_grow(ws, n ? n : 1, m, err);
    if (rc != 0) {
        return rc;
    }
    /* one pass over the rows (they are in plan order, scattered over the
     * table): each row is written once into slot `used` of a block with
     * leading dimension n */
    double *st = node;
    double *qr = node + CH_GLM_NSTATS;
    double *a = ws->a;
    size_t lda = n ? n : 1, used = 0;
    const double eps10 = 10 * DBL_EPSILON;
    for (size_t r = 0; r < n; r++) {
        size_t i = rows[r];
        double y = t->target.values[i];
        double w = t->weights ? t->weights[i] : 1.0;
        if (isnan(y) || !(w > 0) || !ch_design_row(d, t, i, a + used, lda)) {
            continue;
        }
        if (fam == CH_GLM_POISSON && y < 0) {
            return ch_err_set(err, CH_EINVAL,
                              "row %zu: target value %g is negative; the Poisson family needs "
                              "counts >= 0",
                              i + 1, y);
        }
        size_t k = used++;
        double eta;
        if (!beta) {
            double mustart = fam == CH_GLM_POISSON ? y + 0.1 : (w * y + 0.5) / (w + 1);
            eta = fam == CH_GLM_POISSON ? log(mustart) : log(mustart / (1 - mustart));
        } else {
            eta = 0;
            for (size_t j = 0; j < p; j++) {
                eta += a[j * lda + k] * beta[j];
            }
        }
        double mu = s_linkinv(fam, eta);
        double mu_eta = s_mu_eta(fam, eta);
        double var = fam == CH_GLM_POISSON ? mu : mu * (1 - mu);
        double z = eta + (y - mu) / mu_eta;
        double ww = sqrt((w * mu_eta * mu_eta) / var);
        for (size_t j = 0; j < p; j++) {
            a[j * lda + k] *= ww;
        }
        a[p * lda + k] = z * ww;
        st[CH_GLM_DEV] += s_dev(fam, y, mu, w);
        if (fam == CH_GLM_POISSON) {
            st[CH_GLM_LOGLIK] += w * (y * log(mu) - mu - lgamma(y + 1));
            st[CH_GLM_SWYLOGY] += y > 0 ? w * y * log(y) : 0;
            st[CH_GLM_NBOUNDARY] += mu < eps10;
        } else {
            st[CH_GLM_LOGLIK] += w * (y != 0 ? log(mu) : log(1 - mu));
            st[CH_GLM_NBOUNDARY] += mu < eps10 || mu > 1 - eps10;
        }
        st[CH_GLM_SWY] += w * y;
        st[CH_GLM_SW] += w;
        st[CH_GLM_NROWS] += 1;
    }
    qr[0] = (double)used;
    qr[1] = st[CH_GLM_SW];
    rc = ch_qr_leaf_lda(a, used, lda, m, qr);
    return rc == 0 ? 0 : ch_err_set(err, rc, "QR factorisation of a block failed");
}

size_t ch_glm_devres(ch_glm_family fam, const ch_design *d, const ch_table *t, const size_t *rows,
                     size_t n, const double *beta, double *x, double *e)
{
    size_t p = d->p, used = 0;
    for (size_t r = 0; r < n; r++) {
        size_t i = rows[r];
        double y = t->target.values[i];
        double w = t->weights ? t->weights[i] : 1.0;
        if (isnan(y) || !(w > 0) || !ch_design_row(d, t, i, x, 1)) {
            continue;
        }
        double eta = 0;
        for (size_t j = 0; j < p; j++) {
            eta += x[j] * beta[j];
        }
        double mu = s_linkinv(fam, eta);
        double dr = s_dev(fam, y, mu, w);
        dr = sqrt(dr > 0 ? dr : 0);
        e[used++] = y > mu ? dr : -dr;
    }
    return used;
}

size_t ch_glm_hc_rows(ch_glm_family fam, const ch_design *d, const ch_table *t, const size_t *rows,
                      size_t n, const double *beta, const double *beta_prev, double *a, double *e)
{
    size_t p = d->p, used = 0, lda = n ? n : 1;
    for (size_t r = 0; r < n; r++) {
        size_t i = rows[r];
        double y = t->target.values[i];
        double w = t->weights ? t->weights[i] : 1.0;
        if (isnan(y) || !(w > 0) || !ch_design_row(d, t, i, a + used, lda)) {
            continue;
        }
        size_t k = used++;
        double eta = 0, eta0 = 0;
        for (size_t j = 0; j < p; j++) {
            eta += a[j * lda + k] * beta[j];
            eta0 += beta_prev ? a[j * lda + k] * beta_prev[j] : 0;
        }
        if (!beta_prev) {
            double mustart = fam == CH_GLM_POISSON ? y + 0.1 : (w * y + 0.5) / (w + 1);
            eta0 = fam == CH_GLM_POISSON ? log(mustart) : log(mustart / (1 - mustart));
        }
        double mu0 = s_linkinv(fam, eta0), me0 = s_mu_eta(fam, eta0);
        double var0 = fam == CH_GLM_POISSON ? mu0 : mu0 * (1 - mu0);
        double sw = sqrt((w * me0 * me0) / var0);
        for (size_t j = 0; j < p; j++) {
            a[j * lda + k] *= sw;
        }
        e[k] = sw * (y - s_linkinv(fam, eta)) / s_mu_eta(fam, eta);
    }
    /* compact to leading dimension `used` (each column moves down) */
    for (size_t j = 1; j < p && used < lda; j++) {
        memmove(a + j * used, a + j * lda, used * sizeof *a);
    }
    return used;
}

int ch_glm_iter_init(ch_glm_iter *it, ch_glm_family fam, size_t p, bool intercept, double tol,
                     uint32_t max_iter)
{
    memset(it, 0, sizeof *it);
    it->fam = fam;
    it->p = p;
    it->intercept = intercept;
    it->tol = tol;
    it->max_iter = max_iter;
    it->start = true;
    it->beta = calloc(p ? p : 1, sizeof *it->beta);
    it->beta_prev = calloc(p ? p : 1, sizeof *it->beta_prev);
    it->path = calloc((size_t)max_iter + 1, sizeof *it->path);
    if (!it->beta || !it->beta_prev || !it->path) {
        ch_glm_iter_free(it);
        return CH_ENOMEM;
    }
    return 0;
}

void ch_glm_iter_free(ch_glm_iter *it)
{
    if (it) {
        free(it->beta);
        free(it->beta_prev);
        free(it->path);
        ch_ols_free(&it->fit);
        memset(it, 0, sizeof *it);
    }
}

bool ch_glm_iter_beta(const ch_glm_iter *it, double *out)
{
    for (size_t j = 0; j < it->p; j++) {
        out[j] = isnan(it->beta[j]) ? 0.0 : it->beta[j];
    }
    return !it->start;
}

/* The null deviance from the sums: the deviance of the constant mean (with
 * an intercept) or of eta = 0 (without), as glm.fit computes it. */
static double s_null_deviance(ch_glm_family fam, bool intercept, const double *st)
{
    double sw = st[CH_GLM_SW], swy = st[CH_GLM_SWY];
    double mu = intercept ? swy / sw : (fam == CH_GLM_POISSON ? 1.0 : 0.5);
    if (fam == CH_GLM_POISSON) {
        return 2 * (st[CH_GLM_SWYLOGY] - swy * log(mu) - swy + mu * sw);
    }
    double d = 0;
    if (swy > 0) {
        d -= swy * log(mu);
    }
    if (sw - swy > 0) {
        d -= (sw - swy) * log(1 - mu);
    }
    return 2 * d;
}

/* Solves the weighted least squares problem of the root's QR part for the
 * next coefficients, with glm.fit's tolerance min(1e-7, epsilon / 1000). */
static int s_solve(ch_glm_iter *it, const double *root, ch_err *err)
{
    ch_ols fit;
    double tol = it->tol / 1000 < 1e-7 ? it->tol / 1000 : 1e-7;
    int rc = ch_qr_solve_tol(root + CH_GLM_NSTATS, it->p, it->intercept, tol, &fit, err);
    if (rc != 0) {
        return rc;
    }
    ch_ols_free(&it->fit);
    it->fit = fit;
    memcpy(it->beta, fit.coef, it->p * sizeof *it->beta);
    it->iter++;
    it->halvings = 0;
    return 0;
}

int ch_glm_iter_step(ch_glm_iter *it, const double *root, ch_err *err)
{
    const double *st = root;
    if (!(st[CH_GLM_NROWS] > 0)) {
        return ch_err_set(err, CH_EINVAL,
                          "no complete rows to fit (every row has a missing "
                          "value or a zero weight)");
    }
    if (it->start) {
        it->devold = st[CH_GLM_DEV];
        it->null_deviance = s_null_deviance(it->fam, it->intercept, st);
        memcpy(it->stats, st, sizeof it->stats);
        it->start = false;
        return s_solve(it, root, err);
    }
    double dev = st[CH_GLM_DEV];
    if (!isfinite(dev)) {
        /* glm.fit's step halving towards the last accepted coefficients */
        if (it->iter <= 1) {
            return ch_err_set(err, CH_EINVAL,
                              "no valid set of coefficients has been found: the deviance is "
                              "not finite at the first iterate");
        }
        if (++it->halvings > it->max_iter) {
            return ch_err_set(err, CH_EINVAL,
                              "inner loop 1; cannot correct step size (the deviance stays "
                              "infinite)");
        }
        for (size_t j = 0; j < it->p; j++) {
            it->beta[j] = (it->beta[j] + it->beta_prev[j]) / 2;
        }
        return 0;
    }
    if (it->n_path <= it->max_iter) {
        it->path[it->n_path++] = dev;
    }
    memcpy(it->stats, st, sizeof it->stats);
    if (fabs(dev - it->devold) / (fabs(dev) + 0.1) < it->tol) {
        it->converged = true;
        it->done = true;
        return 0;
    }
    if (it->iter >= it->max_iter) {
        it->done = true;
        return 0;
    }
    it->devold = dev;
    memcpy(it->beta_prev, it->beta, it->p * sizeof *it->beta);
    return s_solve(it, root, err);
}
