/* collin.c: variance inflation factors and condition numbers from the TSQR
 * root (see collin.h). */
#include "algorithms/linear/collin.h"

#include "common/err.h"

#include <lapacke.h>
#include <math.h>
#include <stdlib.h>

void ch_collin_vif(const double *node, const ch_ols *o, bool intercept, double *vif)
{
    size_t p = o->p, m = p + 1;
    const double *r = node + 2;
    /* the intercept's direction is the first column of Q, so the centred
     * sum of squares of column j is its squared norm less row 0 of R */
    bool centred = intercept && p > 0 && !o->aliased[0];
    for (size_t j = 0; j < p; j++) {
        vif[j] = NAN;
        if (o->aliased[j] || (intercept && j == 0)) {
            continue;
        }
        double ss = 0;
        for (size_t i = centred ? 1 : 0; i <= j; i++) {
            ss += r[j * m + i] * r[j * m + i];
        }
        vif[j] = o->cov_unscaled[j * p + j] * ss;
    }
}

/* The singular values of the p x k matrix a (column-major) into s: max/min. */
static int s_cond(double *a, size_t p, size_t k, double *out)
{
    size_t ns = p < k ? p : k;
    double *s = malloc((ns ? ns : 1) * sizeof *s);
    double *sup = malloc((ns ? ns : 1) * sizeof *sup);
    if (!s || !sup) {
        free(s);
        free(sup);
        return CH_ENOMEM;
    }
    lapack_int info = LAPACKE_dgesvd(LAPACK_COL_MAJOR, 'N', 'N', (lapack_int)p, (lapack_int)k, a,
                                     (lapack_int)p, s, NULL, 1, NULL, 1, sup);
    int rc = 0;
    if (info != 0 || ns == 0) {
        rc = CH_EINTERNAL;
    } else {
        *out = s[ns - 1] > 0 ? s[0] / s[ns - 1] : INFINITY;
    }
    free(s);
    free(sup);
    return rc;
}

int ch_collin_cond(const double *node, const ch_ols *o, double *kappa, double *scaled)
{
    size_t p = o->p, m = p + 1, k = o->rank;
    const double *r = node + 2;
    *kappa = *scaled = NAN;
    if (k == 0) {
        return 0;
    }
    double *a = malloc(p * k * sizeof *a);
    if (!a) {
        return CH_ENOMEM;
    }
    /* X[, kept] = Q R[0:p, kept]: the same singular values */
    int rc = 0;
    for (int pass = 0; pass < 2 && rc == 0; pass++) {
        size_t c = 0;
        for (size_t j = 0; j < p; j++) {
            if (o->aliased[j]) {
                continue;
            }
            double norm = 0;
            for (size_t i = 0; i < p; i++) {
                norm += r[j * m + i] * r[j * m + i];
            }
            norm = pass == 1 && norm > 0 ? sqrt(norm) : 1.0;
            for (size_t i = 0; i < p; i++) {
                a[c * p + i] = r[j * m + i] / norm;
            }
            c++;
        }
        rc = s_cond(a, p, k, pass == 0 ? kappa : scaled);
    }
    free(a);
    if (rc != 0) {
        *kappa = *scaled = NAN;
    }
    return rc;
}
