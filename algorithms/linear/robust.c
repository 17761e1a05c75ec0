/* robust.c: the sandwich covariance HC0-HC3 (see robust.h). */
#include "algorithms/linear/robust.h"

#include "common/err.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const ch_hc_names[] = {"none", "hc0", "hc1", "hc2", "hc3", NULL};

int ch_robust_meat(ch_hc_type type, const double *a, size_t used, size_t p, const double *e,
                   const double *cov, double *meat)
{
    if (used == 0 || p == 0) {
        return 0;
    }
    size_t n = used * p;
    double *b = malloc(n * sizeof *b);
    double *h = NULL, *t = NULL;
    if (!b) {
        return CH_ENOMEM;
    }
    if (type == CH_HC2 || type == CH_HC3) {
        /* leverages: h_i = sum_j (X C)_ij x_ij */
        h = calloc(used, sizeof *h);
        t = malloc(n * sizeof *t);
        if (!h || !t) {
            free(b);
            free(h);
            free(t);
            return CH_ENOMEM;
        }
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)used, (int)p, (int)p, 1.0, a,
                    (int)used, cov, (int)p, 0.0, t, (int)used);
        for (size_t j = 0; j < p; j++) {
            for (size_t i = 0; i < used; i++) {
                h[i] += t[j * used + i] * a[j * used + i];
            }
        }
        free(t);
    }
    for (size_t i = 0; i < used; i++) {
        /* sqrt(omega_i): |e| scaled by 1 / sqrt(1 - h) or 1 / (1 - h) */
        double s = fabs(e[i]);
        if (type == CH_HC2) {
            s /= sqrt(1 - h[i]);
        } else if (type == CH_HC3) {
            s /= 1 - h[i];
        }
        for (size_t j = 0; j < p; j++) {
            b[j * used + i] = a[j * used + i] * s;
        }
    }
    cblas_dsyrk(CblasColMajor, CblasUpper, CblasTrans, (int)p, (int)used, 1.0, b, (int)used, 1.0,
                meat, (int)p);
    free(b);
    free(h);
    return 0;
}

void ch_robust_cov0(const ch_ols *o, double *cov)
{
    size_t p = o->p;
    for (size_t i = 0; i < p * p; i++) {
        cov[i] = isnan(o->cov_unscaled[i]) ? 0.0 : o->cov_unscaled[i];
    }
}

int ch_robust_se(ch_hc_type type, const double *meat, const ch_ols *o, double *se)
{
    size_t p = o->p;
    double *c = calloc(p ? p * p : 1, sizeof *c);
    double *m = calloc(p ? p * p : 1, sizeof *m);
    double *cm = malloc((p ? p * p : 1) * sizeof *cm);
    if (!c || !m || !cm) {
        free(c);
        free(m);
        free(cm);
        return CH_ENOMEM;
    }
    ch_robust_cov0(o, c);
    for (size_t j = 0; j < p; j++) {
        for (size_t i = 0; i < p; i++) {
            m[j * p + i] = i <= j ? meat[j * p + i] : meat[i * p + j];
        }
    }
    double scale = type == CH_HC1 && o->df_residual > 0 ? o->n / o->df_residual : 1.0;
    /* diag(C M C)_j = sum_k (C M)_jk C_kj */
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)p, (int)p, (int)p, 1.0, c, (int)p,
                m, (int)p, 0.0, cm, (int)p);
    for (size_t j = 0; j < p; j++) {
        double v = 0;
        for (size_t k = 0; k < p; k++) {
            v += cm[k * p + j] * c[j * p + k];
        }
        se[j] = o->aliased[j] ? NAN : sqrt(v * scale);
    }
    free(c);
    free(m);
    free(cm);
    return 0;
}
