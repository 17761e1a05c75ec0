/* als.h: alternating least squares for explicit ratings (biased,
 * regularised: r ~ mu + b_u + b_i + x_u.y_i) and for implicit feedback
 * (Hu, Koren and Volinsky: preference p = [r > 0], confidence c = 1 + alpha
 * r, solved exactly or by a fixed number of warm-started conjugate-gradient
 * steps as the `implicit` package does).
 *
 * One iteration: every user's factors from the item factors (users sharded
 * across workers), then every item's factors from the user factors (items
 * sharded). A row's solve reads only that row's interactions (in CSR or
 * CSC order) and the other side's factors, never a sum over workers, so
 * the result is the same bytes for any worker count. */
#ifndef CH_CF_ALS_H
#define CH_CF_ALS_H

#include "algorithms/cf/data.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct ch_als_params {
    size_t f;      /* factors */
    double lambda; /* regularization */
    double alpha;  /* implicit confidence slope */
    bool implicit;
    bool biased;   /* explicit only */
    long cg_steps; /* implicit: 0 = exact solve */
} ch_als_params;

/* Unknowns per row: f, plus the bias in biased explicit ALS. */
size_t ch_als_q(const ch_als_params *p);
/* YtY (f x f, row-major) of n rows of f factors (implicit only). Plain
 * loops in row order: every worker computes the same bits. */
void ch_als_gram(const double *Y, size_t n, size_t f, double *G);

/* Solves rows [r0, r1) of R: users from the item factors with R the CSR
 * (users x items), or items from the user factors with R the CSC (items x
 * users). V: the other side's factors (R->n_cols x f), vbias its biases
 * (explicit biased, else NULL), mu the global mean (explicit biased), G =
 * VtV (implicit). Z: (r1 - r0) x f, row r at Z + (r - r0) f, read as the
 * warm start of conjugate gradient and written; zb (r1 - r0) the rows'
 * biases (explicit biased, else NULL).
 *
 * Normal equations of row r with n interactions: the n other-side rows
 * gathered into an n x q matrix M (scaled by sqrt(w), w = alpha r for
 * implicit, 1 for explicit; a column of ones for the bias) and A = G +
 * M'M + lambda I by one dsyrk (implicit: VtV + Vt(C - I)V, G computed once
 * per half-step and shared by every row), b = sum t v. Solved by LAPACK's
 * Cholesky (dpotrf/dpotrs; a matrix that is not positive definite gives
 * z = 0) or `cg_steps` conjugate-gradient steps. Returns 0 or CH_ENOMEM. */
int ch_als_solve_rows(const ch_als_params *p, const ch_cf_csr *R, size_t r0, size_t r1,
                      const double *V, const double *vbias, double mu, const double *G, double *Z,
                      double *zb);

#endif
