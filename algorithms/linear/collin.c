/* collin.c: variance inflation factors and condition numbers from the TSQR
 * root (see collin.h). */
#include "algorithms/linear/collin.h"

#include "common/err.h"

#include <lapacke.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* log det of the symmetric positive definite n x n matrix a (destroyed);
 * NaN when it is not positive definite. */
static double s_logdet(double *a, size_t n)
{
    if (n == 0) {
        return 0;
    }
    lapack_int info = LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', (lapack_int)n, a, (lapack_int)n);
    if (info != 0) {
        return NAN;
    }
    double ld = 0;
    for (size_t i = 0; i < n; i++) {
        ld += 2 * log(a[i * n + i]);
    }
    return ld;
}

int ch_collin_gvif(const ch_design *d, const double *cov, const bool *aliased, double *gvif,
                   size_t *df)
{
    size_t p = d->p, k = 0;
    for (size_t f = 0; f < d->n_terms; f++) {
        gvif[f] = NAN;
        df[f] = 0;
    }
    size_t *kept = malloc((p ? p : 1) * sizeof *kept);
    size_t *idx = malloc((p ? p : 1) * sizeof *idx);
    double *r = NULL, *sub = NULL, *isub = NULL;
    int rc = kept && idx ? 0 : CH_ENOMEM;
    for (size_t j = 0; j < p && rc == 0; j++) {
        if (!aliased[j] && d->source[j] != SIZE_MAX) {
            kept[k++] = j;
        }
    }
    if (rc == 0 && k > 0) {
        r = malloc(k * k * sizeof *r);
        sub = malloc(k * k * sizeof *sub);
        isub = malloc(k * k * sizeof *isub);
        rc = r && sub && isub ? 0 : CH_ENOMEM;
    }
    if (rc == 0 && k > 0) {
        /* the correlation matrix of the kept coefficients, then its inverse */
        for (size_t a = 0; a < k; a++) {
            for (size_t b = 0; b < k; b++) {
                size_t ja = kept[a], jb = kept[b];
                r[b * k + a] = cov[jb * p + ja] / sqrt(cov[ja * p + ja] * cov[jb * p + jb]);
            }
        }
        memcpy(sub, r, k * k * sizeof *r);
        lapack_int info = LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', (lapack_int)k, sub, (lapack_int)k);
        if (info == 0) {
            info = LAPACKE_dpotri(LAPACK_COL_MAJOR, 'L', (lapack_int)k, sub, (lapack_int)k);
        }
        rc = info == 0 ? 0 : CH_EINVAL;
        /* sub holds R^-1 in its lower triangle: mirror it into isub */
        for (size_t a = 0; a < k && rc == 0; a++) {
            for (size_t b = 0; b < k; b++) {
                isub[b * k + a] = a >= b ? sub[b * k + a] : sub[a * k + b];
            }
        }
    }
    double *ri = isub;
    double *m1 = NULL, *m2 = NULL;
    if (rc == 0 && k > 0) {
        m1 = malloc(k * k * sizeof *m1);
        m2 = malloc(k * k * sizeof *m2);
        rc = m1 && m2 ? 0 : CH_ENOMEM;
    }
    for (size_t f = 0; f < d->n_terms && rc == 0; f++) {
        size_t ns = 0;
        for (size_t a = 0; a < k; a++) {
            if (d->source[kept[a]] == f) {
                idx[ns++] = a;
            }
        }
        if (ns == 0) {
            continue;
        }
        for (size_t x = 0; x < ns; x++) {
            for (size_t y = 0; y < ns; y++) {
                size_t a = idx[x], b = idx[y];
                m1[y * ns + x] = r[b * k + a];
                m2[y * ns + x] = ri[b * k + a];
            }
        }
        double ld = s_logdet(m1, ns) + s_logdet(m2, ns);
        if (isnan(ld)) {
            rc = CH_EINVAL;
            break;
        }
        gvif[f] = exp(ld);
        df[f] = ns;
    }
    if (rc != 0) {
        for (size_t f = 0; f < d->n_terms; f++) {
            gvif[f] = NAN;
            df[f] = 0;
        }
    }
    free(kept);
    free(idx);
    free(r);
    free(sub);
    free(isub);
    free(m1);
    free(m2);
    return rc;
}

/* The GVIFs into fresh arrays (NULL on failure). */
static double *s_gvif_all(const ch_design *d, const double *cov, const bool *aliased, size_t **df)
{
    size_t nt = d->n_terms ? d->n_terms : 1;
    double *g = malloc(nt * sizeof *g);
    *df = malloc(nt * sizeof **df);
    if (!g || !*df || ch_collin_gvif(d, cov, aliased, g, *df) != 0) {
        free(g);
        free(*df);
        *df = NULL;
        return NULL;
    }
    return g;
}

int ch_collin_gvif_json(const ch_design *d, const double *cov, const bool *aliased, ch_buf *json)
{
    size_t *df;
    double *g = s_gvif_all(d, cov, aliased, &df);
    if (!g) {
        return 0; /* not positive definite: no GVIF, the rest of the report stands */
    }
    ch_buf_puts(json, ", \"gvif\": [");
    bool first = true;
    for (size_t f = 0; f < d->n_terms; f++) {
        if (df[f] == 0) {
            continue;
        }
        ch_buf_puts(json, first ? "{\"term\": " : ", {\"term\": ");
        ch_buf_json_str(json, d->terms[f]);
        ch_buf_printf(json, ", \"df\": %zu, \"gvif\": ", df[f]);
        ch_buf_json_num(json, g[f]);
        ch_buf_puts(json, ", \"gvif_adj\": ");
        ch_buf_json_num(json, pow(g[f], 1.0 / (2.0 * (double)df[f])));
        ch_buf_puts(json, "}");
        first = false;
    }
    ch_buf_puts(json, "]");
    free(g);
    free(df);
    return json->failed ? CH_ENOMEM : 0;
}

/* Whether some term has more than one column. */
static bool s_any_multi(const ch_design *d, const size_t *df)
{
    for (size_t f = 0; f < d->n_terms; f++) {
        if (df[f] > 1) {
            return true;
        }
    }
    return false;
}

int ch_collin_gvif_text(const ch_design *d, const double *cov, const bool *aliased, ch_buf *text)
{
    size_t *df;
    double *g = s_gvif_all(d, cov, aliased, &df);
    if (!g) {
        return 0;
    }
    if (s_any_multi(d, df)) {
        ch_buf_printf(text,
                      "Generalized VIF of terms with several columns (car::vif):\n%-32s %14s "
                      "%4s %16s\n",
                      "", "GVIF", "Df", "GVIF^(1/(2*Df))");
        for (size_t f = 0; f < d->n_terms; f++) {
            if (df[f] > 1) {
                ch_buf_printf(text, "%-32.32s %14.6g %4zu %16.6g\n", d->terms[f], g[f], df[f],
                              pow(g[f], 1.0 / (2.0 * (double)df[f])));
            }
        }
    }
    free(g);
    free(df);
    return text->failed ? CH_ENOMEM : 0;
}

int ch_collin_gvif_report(const ch_design *d, const double *cov, const bool *aliased, ch_report *r,
                          ch_err *err)
{
    size_t *df;
    double *g = s_gvif_all(d, cov, aliased, &df);
    if (!g) {
        return 0;
    }
    int rc = 0;
    if (s_any_multi(d, df)) {
        size_t rows = 0;
        char(*cells)[48] = calloc(4 * d->n_terms + 1, sizeof *cells);
        const char **ptr = calloc(4 * d->n_terms + 1, sizeof *ptr);
        if (!cells || !ptr) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        for (size_t f = 0; f < d->n_terms && rc == 0; f++) {
            if (df[f] > 1) {
                snprintf(cells[4 * rows], 48, "%.47s", d->terms[f]);
                snprintf(cells[4 * rows + 1], 48, "%.6g", g[f]);
                snprintf(cells[4 * rows + 2], 48, "%zu", df[f]);
                snprintf(cells[4 * rows + 3], 48, "%.6g", pow(g[f], 1.0 / (2.0 * (double)df[f])));
                for (size_t c = 0; c < 4; c++) {
                    ptr[4 * rows + c] = cells[4 * rows + c];
                }
                rows++;
            }
        }
        static const char *const header[] = {"term", "GVIF", "Df", "GVIF^(1/(2*Df))"};
        if (rc == 0) {
            rc = ch_report_table(r, header, 4, ptr, rows, -1);
        }
        if (rc == 0) {
            rc = ch_report_paragraph(r, "Generalized VIF of the terms with several columns (a "
                                        "factor's dummies), car::vif's GVIF.");
        }
        free(cells);
        free(ptr);
    }
    free(g);
    free(df);
    return rc;
}
