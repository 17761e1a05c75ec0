/* als.c: the ALS solves and item statistics (see als.h). */
#include "algorithms/cf/als.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

size_t ch_als_q(const ch_als_params *p)
{
    return p->f + (p->biased && !p->implicit ? 1 : 0);
}

size_t ch_als_stat_len(const ch_als_params *p)
{
    size_t q = ch_als_q(p);
    return q * (q + 1) / 2 + q;
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

/* Solves A z = b (A q x q symmetric positive definite, overwritten by its
 * Cholesky factor). A non-positive pivot gives z = 0. */
static void s_chol_solve(double *A, const double *b, double *z, size_t q)
{
    for (size_t j = 0; j < q; j++) {
        double d = A[j * q + j];
        for (size_t k = 0; k < j; k++) {
            d -= A[j * q + k] * A[j * q + k];
        }
        if (!(d > 0)) {
            memset(z, 0, q * sizeof *z);
            return;
        }
        d = sqrt(d);
        A[j * q + j] = d;
        for (size_t i = j + 1; i < q; i++) {
            double s = A[i * q + j];
            for (size_t k = 0; k < j; k++) {
                s -= A[i * q + k] * A[j * q + k];
            }
            A[i * q + j] = s / d;
        }
    }
    for (size_t i = 0; i < q; i++) {
        double s = b[i];
        for (size_t k = 0; k < i; k++) {
            s -= A[i * q + k] * z[k];
        }
        z[i] = s / A[i * q + i];
    }
    for (size_t i = q; i-- > 0;) {
        double s = z[i];
        for (size_t k = i + 1; k < q; k++) {
            s -= A[k * q + i] * z[k];
        }
        z[i] = s / A[i * q + i];
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

/* Normal equations of one row: A (q x q), b (q) from the other side's
 * factors V (f per row) over the entries idx/val of the row. */
static void s_normal(const ch_als_params *p, const uint32_t *idx, const double *val, size_t n,
                     const double *V, const double *vbias, double offset, const double *G,
                     double *A, double *b)
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
        double w, t;
        if (p->implicit) {
            w = p->alpha * val[k]; /* c - 1 */
            t = val[k] > 0 ? 1 + w : 0;
        } else {
            w = 1;
            t = val[k] - offset - (p->biased ? vbias[idx[k]] : 0);
        }
        for (size_t a = 0; a < f; a++) {
            double wa = w * v[a];
            for (size_t c = a; c < f; c++) {
                A[a * q + c] += wa * v[c];
            }
            b[a] += t * v[a];
        }
        if (q > f) {
            for (size_t a = 0; a < f; a++) {
                A[a * q + f] += v[a];
            }
            A[f * q + f] += 1;
            b[f] += t;
        }
    }
    for (size_t a = 0; a < q; a++) {
        A[a * q + a] += p->lambda;
        for (size_t c = 0; c < a; c++) {
            A[a * q + c] = A[c * q + a];
        }
    }
}

int ch_als_solve_users(const ch_als_params *p, const ch_cf_csr *by_user, size_t u0, size_t u1,
                       const double *Y, const double *bi, double mu, const double *G, double *X,
                       double *bu)
{
    size_t f = p->f, q = ch_als_q(p);
    double *A = malloc((q * q + 5 * q) * sizeof *A);
    if (!A) {
        return CH_ENOMEM;
    }
    double *b = A + q * q, *z = b + q, *w = z + q;
    for (size_t u = u0; u < u1; u++) {
        size_t s = by_user->ptr[u], n = by_user->ptr[u + 1] - s;
        s_normal(p, by_user->idx + s, by_user->val + s, n, Y, bi, mu, G, A, b);
        if (p->implicit && p->cg_steps > 0) {
            memcpy(z, X + u * f, f * sizeof *z);
            s_cg(A, b, z, q, p->cg_steps, w);
        } else {
            s_chol_solve(A, b, z, q);
        }
        memcpy(X + u * f, z, f * sizeof *z);
        if (bu) {
            bu[u] = q > f ? z[f] : 0;
        }
    }
    free(A);
    return 0;
}

void ch_als_item_stats(const ch_als_params *p, const ch_cf_csr *by_user, size_t u0, size_t u1,
                       const double *X, const double *bu, double mu, double *acc)
{
    size_t f = p->f, q = ch_als_q(p), len = ch_als_stat_len(p);
    double xt[q > 0 ? q : 1];
    for (size_t u = u0; u < u1; u++) {
        memcpy(xt, X + u * f, f * sizeof *xt);
        if (q > f) {
            xt[f] = 1;
        }
        for (size_t k = by_user->ptr[u]; k < by_user->ptr[u + 1]; k++) {
            double r = by_user->val[k], w, t;
            if (p->implicit) {
                w = p->alpha * r;
                t = r > 0 ? 1 + w : 0;
            } else {
                w = 1;
                t = r - mu - (q > f ? bu[u] : 0);
            }
            double *s = acc + (size_t)by_user->idx[k] * len;
            size_t m = 0;
            for (size_t a = 0; a < q; a++) {
                double wa = w * xt[a];
                for (size_t c = a; c < q; c++) {
                    s[m++] += wa * xt[c];
                }
            }
            for (size_t a = 0; a < q; a++) {
                s[m++] += t * xt[a];
            }
        }
    }
}

int ch_als_solve_items(const ch_als_params *p, size_t n_items, const long *stat_row,
                       const double *stats, const double *G, double *Y, double *bi)
{
    size_t f = p->f, q = ch_als_q(p), len = ch_als_stat_len(p);
    double *A = malloc((q * q + 5 * q) * sizeof *A);
    if (!A) {
        return CH_ENOMEM;
    }
    double *b = A + q * q, *z = b + q, *w = z + q;
    for (size_t i = 0; i < n_items; i++) {
        if (p->implicit) {
            memcpy(A, G, f * f * sizeof *A);
        } else {
            memset(A, 0, q * q * sizeof *A);
        }
        memset(b, 0, q * sizeof *b);
        if (stat_row[i] >= 0) {
            const double *s = stats + (size_t)stat_row[i] * len;
            size_t m = 0;
            for (size_t a = 0; a < q; a++) {
                for (size_t c = a; c < q; c++) {
                    A[a * q + c] += s[m++];
                }
            }
            for (size_t a = 0; a < q; a++) {
                b[a] = s[m++];
            }
        }
        for (size_t a = 0; a < q; a++) {
            A[a * q + a] += p->lambda;
            for (size_t c = 0; c < a; c++) {
                A[a * q + c] = A[c * q + a];
            }
        }
        if (p->implicit && p->cg_steps > 0) {
            memcpy(z, Y + i * f, f * sizeof *z);
            s_cg(A, b, z, q, p->cg_steps, w);
        } else {
            s_chol_solve(A, b, z, q);
        }
        memcpy(Y + i * f, z, f * sizeof *z);
        if (bi) {
            bi[i] = q > f ? z[f] : 0;
        }
    }
    free(A);
    return 0;
}
