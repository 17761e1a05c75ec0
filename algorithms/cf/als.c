/* als.c: the ALS row solves (see als.h). */
#include "algorithms/cf/als.h"

#include "common/err.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

size_t ch_als_q(const ch_als_params *p)
{
    return p->f + (p->biased && !p->implicit ? 1 : 0);
}

void ch_als_gram(const double *Y, size_t n, size_t f, double *G)
{
    memset(G, 0, f * f * sizeof *G);
    for (size_t i = 0; i < n; i++) {
        const double *y = Y + i * f;
        for (size_t a = 0; a < f; a++) {
            for (size_t b = a; b < f; b++) {
                G[a * f + b] += y[a] * y[b];
            }
        }
    }
    for (size_t a = 0; a < f; a++) {
        for (size_t b = 0; b < a; b++) {
            G[a * f + b] = G[b * f + a];
        }
    }
}

/* Conjugate gradient on A x = b (A q x q) from the x given, `steps` steps,
 * stopping when the residual norm squared drops below 1e-20 (as implicit). */
static void s_cg(const double *A, const double *b, double *x, size_t q, long steps, double *w)
{
    double *r = w, *pv = w + q, *Ap = w + 2 * q;
    for (size_t i = 0; i < q; i++) {
        double s = b[i];
        for (size_t k = 0; k < q; k++) {
            s -= A[i * q + k] * x[k];
        }
        r[i] = s;
        pv[i] = s;
    }
    double rs = 0;
    for (size_t i = 0; i < q; i++) {
        rs += r[i] * r[i];
    }
    for (long it = 0; it < steps && rs >= 1e-20; it++) {
        double pAp = 0;
        for (size_t i = 0; i < q; i++) {
            double s = 0;
            for (size_t k = 0; k < q; k++) {
                s += A[i * q + k] * pv[k];
            }
            Ap[i] = s;
            pAp += pv[i] * s;
        }
        if (!(pAp > 0)) {
            break;
        }
        double a = rs / pAp, rn = 0;
        for (size_t i = 0; i < q; i++) {
            x[i] += a * pv[i];
            r[i] -= a * Ap[i];
            rn += r[i] * r[i];
        }
        if (rn < 1e-20) {
            break;
        }
        for (size_t i = 0; i < q; i++) {
            pv[i] = r[i] + rn / rs * pv[i];
        }
        rs = rn;
    }
}

/* Normal equations of one row (als.h): A (q x q; the upper triangle, or
 * the whole matrix for conjugate gradient) and b (q) from the
 * other side's factors V (f per row) over the entries idx/val of the row; M
 * holds n x q doubles. */
static void s_normal(const ch_als_params *p, const uint32_t *idx, const double *val, size_t n,
                     const double *V, const double *vbias, double offset, const double *G,
                     double *M, double *A, double *b)
{
    size_t f = p->f, q = ch_als_q(p);
    if (p->implicit) {
        memcpy(A, G, f * f * sizeof *A);
    } else {
        memset(A, 0, q * q * sizeof *A);
    }
    memset(b, 0, q * sizeof *b);
    for (size_t k = 0; k < n; k++) {
        const double *v = V + (size_t)idx[k] * f;
        double *row = M + k * q, s, t;
        if (p->implicit) {
            double w = p->alpha * val[k]; /* c - 1 >= 0: counts and alpha are >= 0 */
            s = sqrt(w);
            t = val[k] > 0 ? 1 + w : 0;
        } else {
            s = 1;
            t = val[k] - offset - (vbias ? vbias[idx[k]] : 0);
        }
        for (size_t a = 0; a < f; a++) {
            row[a] = s * v[a];
            b[a] += t * v[a];
        }
        if (q > f) {
            row[f] = 1;
            b[f] += t;
        }
    }
    if (n > 0) { /* upper triangle of A += M'M */
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)q, (int)n, 1.0, M, (int)q, 1.0, A,
                    (int)q);
    }
    for (size_t a = 0; a < q; a++) {
        A[a * q + a] += p->lambda;
    }
    if (p->implicit && p->cg_steps > 0) { /* CG reads the whole matrix */
        for (size_t a = 0; a < q; a++) {
            for (size_t c = 0; c < a; c++) {
                A[a * q + c] = A[c * q + a];
            }
        }
    }
}

/* Solves A z = b by Cholesky (A is overwritten). The row-major upper
 * triangle is the column-major lower one. Not positive definite: z = 0. */
static void s_chol_solve(double *A, const double *b, double *z, size_t q)
{
    memcpy(z, b, q * sizeof *z);
    if (LAPACKE_dpotrf_work(LAPACK_COL_MAJOR, 'L', (lapack_int)q, A, (lapack_int)q) != 0 ||
        LAPACKE_dpotrs_work(LAPACK_COL_MAJOR, 'L', (lapack_int)q, 1, A, (lapack_int)q, z,
                            (lapack_int)q) != 0) {
        memset(z, 0, q * sizeof *z);
    }
}

int ch_als_solve_rows(const ch_als_params *p, const ch_cf_csr *R, size_t r0, size_t r1,
                      const double *V, const double *vbias, double mu, const double *G, double *Z,
                      double *zb)
{
    size_t f = p->f, q = ch_als_q(p), most = 0;
    for (size_t r = r0; r < r1; r++) {
        size_t n = R->ptr[r + 1] - R->ptr[r];
        most = n > most ? n : most;
    }
    double *A = malloc((q * q + 5 * q) * sizeof *A);
    double *M = ch_alloc_array(most * q + 1, sizeof *M);
    if (!A || !M) {
        free(A);
        free(M);
        return CH_ENOMEM;
    }
    double *b = A + q * q, *z = b + q, *w = z + q;
    for (size_t r = r0; r < r1; r++) {
        size_t s = R->ptr[r], n = R->ptr[r + 1] - s;
        double *zr = Z + (r - r0) * f;
        s_normal(p, R->idx + s, R->val + s, n, V, vbias, mu, G, M, A, b);
        if (p->implicit && p->cg_steps > 0) {
            memcpy(z, zr, f * sizeof *z);
            s_cg(A, b, z, q, p->cg_steps, w);
        } else {
            s_chol_solve(A, b, z, q);
        }
        memcpy(zr, z, f * sizeof *z);
        if (zb) {
            zb[r - r0] = q > f ? z[f] : 0;
        }
    }
    free(A);
    free(M);
    return 0;
}
