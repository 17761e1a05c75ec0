/* qr.c: TSQR leaves, combination and the rank-revealing solve (see qr.h). */
#include "algorithms/linear/qr.h"

#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

size_t ch_qr_node_len(size_t p)
{
    return 2 + (p + 1) * (p + 1);
}

/* Copies the upper triangle of the k x m factor in a (lda) into r (m x m). */
static void s_take_r(const double *a, size_t lda, size_t k, size_t m, double *r)
{
    memset(r, 0, m * m * sizeof *r);
    for (size_t j = 0; j < m; j++) {
        size_t top = j + 1 < k ? j + 1 : k;
        for (size_t i = 0; i < top; i++) {
            r[j * m + i] = a[j * lda + i];
        }
    }
}

int ch_qr_leaf(double *a, size_t n, size_t m, double *node)
{
    return ch_qr_leaf_lda(a, n, n, m, node);
}

int ch_qr_leaf_lda(double *a, size_t n, size_t lda, size_t m, double *node)
{
    double *r = node + 2;
    if (n == 0) {
        memset(r, 0, m * m * sizeof *r);
        return 0;
    }
    size_t k = n < m ? n : m;
    double *tau = malloc(k * sizeof *tau);
    if (!tau) {
        return CH_ENOMEM;
    }
    lapack_int info =
        LAPACKE_dgeqrf(LAPACK_COL_MAJOR, (lapack_int)n, (lapack_int)m, a, (lapack_int)n, tau);
    free(tau);
    if (info != 0) {
        return CH_EINTERNAL;
    }
    s_take_r(a, n, k, m, r);
    return 0;
}

void ch_qr_combine(void *ctx, size_t len, const double *left, const double *right, double *out)
{
    size_t m = *(const size_t *)ctx;
    (void)len;
    out[0] = left[0] + right[0];
    out[1] = left[1] + right[1];
    size_t rows = 2 * m;
    double *a = malloc(rows * m * sizeof *a);
    double *tau = malloc(m * sizeof *tau);
    if (!a || !tau) {
        /* cannot happen for the sizes in use; poison the result so the solve
         * reports it instead of returning a wrong answer */
        free(a);
        free(tau);
        for (size_t i = 0; i < len; i++) {
            out[i] = NAN;
        }
        return;
    }
    for (size_t j = 0; j < m; j++) {
        memcpy(a + j * rows, left + 2 + j * m, m * sizeof *a);
        memcpy(a + j * rows + m, right + 2 + j * m, m * sizeof *a);
    }
    lapack_int info =
        LAPACKE_dgeqrf(LAPACK_COL_MAJOR, (lapack_int)rows, (lapack_int)m, a, (lapack_int)rows, tau);
    if (info != 0) {
        for (size_t i = 0; i < len; i++) {
            out[i] = NAN;
        }
    } else {
        s_take_r(a, rows, m, m, out + 2);
    }
    free(a);
    free(tau);
}

void ch_ols_free(ch_ols *o)
{
    if (o) {
        free(o->coef);
        free(o->aliased);
        free(o->std_error);
        free(o->t_value);
        free(o->cov_unscaled);
        memset(o, 0, sizeof *o);
    }
}

/* Reflects rows k..m-1 of the m x m column-major matrix a so that column k
 * becomes zero below row k, applying the same reflection to columns
 * first..m-1 (the columns not yet processed). Returns 0 or CH_ENOMEM. */
static int s_householder(double *a, size_t m, size_t k, size_t first)
{
    double *x = a + k * m;
    double norm = 0;
    for (size_t i = k; i < m; i++) {
        norm += x[i] * x[i];
    }
    norm = sqrt(norm);
    if (norm == 0) {
        return 0;
    }
    double alpha = x[k] > 0 ? -norm : norm;
    double *v = malloc((m - k) * sizeof *v);
    if (!v) {
        return CH_ENOMEM;
    }
    for (size_t i = k; i < m; i++) {
        v[i - k] = x[i];
    }
    v[0] -= alpha;
    double vv = 0;
    for (size_t i = 0; i < m - k; i++) {
        vv += v[i] * v[i];
    }
    for (size_t c = k; c < m; c++) {
        if (c != k && c < first) {
            continue;
        }
        double *col = a + c * m;
        double dot = 0;
        for (size_t i = k; i < m; i++) {
            dot += v[i - k] * col[i];
        }
        double f = 2 * dot / vv;
        for (size_t i = k; i < m; i++) {
            col[i] -= f * v[i - k];
        }
    }
    free(v);
    return 0;
}

int ch_qr_solve(const double *node, size_t p, bool intercept, ch_ols *out, ch_err *err)
{
    return ch_qr_solve_tol(node, p, intercept, 1e-7, out, err);
}

int ch_qr_solve_tol(const double *node, size_t p, bool intercept, double tol, ch_ols *out,
                    ch_err *err)
{
    memset(out, 0, sizeof *out);
    size_t m = p + 1;
    double n = node[0];
    if (!(n > 0)) {
        return ch_err_set(err, CH_EINVAL,
                          "no complete rows to fit (every row has a missing value)");
    }
    for (size_t i = 0; i < 2 + m * m; i++) {
        if (!isfinite(node[i])) {
            return ch_err_set(err, CH_EINVAL,
                              "the data contain infinite values, or the "
                              "factorisation overflowed");
        }
    }
    double *a = malloc(m * m * sizeof *a);
    double *orig = malloc(m * sizeof *orig);
    size_t *kept = malloc(m * sizeof *kept);
    out->p = p;
    out->coef = malloc(p * sizeof *out->coef);
    out->aliased = calloc(p, sizeof *out->aliased);
    out->std_error = malloc(p * sizeof *out->std_error);
    out->t_value = malloc(p * sizeof *out->t_value);
    out->cov_unscaled = malloc((p ? p * p : 1) * sizeof *out->cov_unscaled);
    double *rinv = NULL;
    int rc = 0;
    if (!a || !orig || !kept || !out->coef || !out->aliased || !out->std_error || !out->t_value ||
        !out->cov_unscaled) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory solving %zu columns", p);
        goto done;
    }
    memcpy(a, node + 2, m * m * sizeof *a);
    for (size_t j = 0; j < m; j++) {
        double s = 0;
        for (size_t i = 0; i < m; i++) {
            s += a[j * m + i] * a[j * m + i];
        }
        orig[j] = sqrt(s);
    }
    /* Limited pivoting as in R's dqrdc2: a column whose norm, after removing
     * the columns kept before it, is below 1e-7 of its own norm is aliased.
     * Kept columns are compacted to the front so the factor stays
     * triangular. */
    size_t k = 0;
    for (size_t j = 0; j < p; j++) {
        double *col = a + j * m;
        double s = 0;
        for (size_t i = k; i < m; i++) {
            s += col[i] * col[i];
        }
        if (orig[j] == 0 || sqrt(s) < tol * orig[j]) {
            out->aliased[j] = true;
            continue;
        }
        if (j != k) {
            /* move column j into slot k (slots k..j-1 hold aliased columns,
             * which are never used again) */
            memcpy(a + k * m, col, m * sizeof *a);
        }
        kept[k] = j;
        if (s_householder(a, m, k, j + 1) != 0) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
            goto done;
        }
        k++;
    }
    out->rank = k;
    const double *qty = a + p * m; /* the y column after all reflections */
    double rss = 0, yy = 0;
    for (size_t i = k; i < m; i++) {
        rss += qty[i] * qty[i];
    }
    for (size_t i = 0; i < m; i++) {
        yy += qty[i] * qty[i];
    }
    bool centred = intercept && p > 0 && !out->aliased[0];
    out->rss = rss;
    out->tss = centred ? yy - qty[0] * qty[0] : yy;
    out->n = n;
    out->df_residual = n - (double)k;
    /* back substitution: R[0:k,0:k] beta = qty[0:k] */
    double *beta = calloc(k ? k : 1, sizeof *beta);
    rinv = calloc(k > 0 ? k * k : 1, sizeof *rinv);
    if (!beta || !rinv) {
        free(beta);
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t ii = k; ii-- > 0;) {
        double s = qty[ii];
        for (size_t c = ii + 1; c < k; c++) {
            s -= a[c * m + ii] * beta[c];
        }
        beta[ii] = s / a[ii * m + ii];
    }
    /* R^-1 (upper triangular), column by column */
    for (size_t c = 0; c < k; c++) {
        for (size_t ii = c + 1; ii-- > 0;) {
            double s = ii == c ? 1.0 : 0.0;
            for (size_t l = ii + 1; l <= c; l++) {
                s -= a[l * m + ii] * rinv[c * k + l];
            }
            rinv[c * k + ii] = s / a[ii * m + ii];
        }
    }
    out->sigma = out->df_residual > 0 ? sqrt(rss / out->df_residual) : NAN;
    for (size_t j = 0; j < p; j++) {
        out->coef[j] = NAN;
        out->std_error[j] = NAN;
        out->t_value[j] = NAN;
    }
    for (size_t j = 0; j < p * p; j++) {
        out->cov_unscaled[j] = NAN;
    }
    /* (R'R)^-1 = Rinv Rinv': entry (a, b) = sum over c >= max(a, b) */
    for (size_t ia = 0; ia < k; ia++) {
        for (size_t ib = 0; ib < k; ib++) {
            double s = 0;
            for (size_t c = ia > ib ? ia : ib; c < k; c++) {
                s += rinv[c * k + ia] * rinv[c * k + ib];
            }
            out->cov_unscaled[kept[ib] * p + kept[ia]] = s;
        }
    }
    for (size_t ii = 0; ii < k; ii++) {
        /* diag((R'R)^-1)_ii = sum_c rinv[ii, c]^2 over c >= ii */
        double d = 0;
        for (size_t c = ii; c < k; c++) {
            d += rinv[c * k + ii] * rinv[c * k + ii];
        }
        size_t j = kept[ii];
        out->coef[j] = beta[ii];
        out->std_error[j] = out->sigma * sqrt(d);
        out->t_value[j] = beta[ii] / out->std_error[j];
    }
    free(beta);
    out->r_squared = out->tss > 0 ? 1.0 - rss / out->tss : NAN;
    double df_int = centred ? 1.0 : 0.0;
    out->adj_r_squared = out->df_residual > 0 && out->tss > 0
                             ? 1.0 - (1.0 - out->r_squared) * ((n - df_int) / out->df_residual)
                             : NAN;
done:
    free(a);
    free(orig);
    free(kept);
    free(rinv);
    if (rc != 0) {
        ch_ols_free(out);
    }
    return rc;
}
