/* qr.h: least squares by a tree of QR factorisations (TSQR).
 *
 * A node of the reduction tree (common/reduce.h) is the vector
 *   [ n, sum_w, R (m x m, column-major, upper triangular) ]
 * where R is the triangular factor of the weighted rows [X y] below it and
 * m = p + 1. Two nodes combine by factoring their stacked R's. The root's R
 * has the column norms and inner products of the whole [X y], so the solve
 * is R's lm() on the data without the data: limited column pivoting with
 * tolerance 1e-7 (as LINPACK dqrdc2 in R), aliased columns reported, then
 * back substitution. */
#ifndef CH_LINEAR_QR_H
#define CH_LINEAR_QR_H

#include "common/err.h"

#include <stdbool.h>
#include <stddef.h>

/* Length of a node vector for p design columns. */
size_t ch_qr_node_len(size_t p);

/* Factors the n x m column-major matrix a (leading dimension n, modified)
 * into node[2 ..]; node[0] = rows, node[1] = sum of weights are left to the
 * caller. Returns 0 or CH_ENOMEM / CH_EINTERNAL (LAPACK failure). */
int ch_qr_leaf(double *a, size_t n, size_t m, double *node);
/* The same with leading dimension lda >= n (rows n..lda-1 are ignored). */
int ch_qr_leaf_lda(double *a, size_t n, size_t lda, size_t m, double *node);

/* combine function for reduce.h: ctx is a size_t* holding m. */
void ch_qr_combine(void *ctx, size_t len, const double *left, const double *right, double *out);

typedef struct ch_ols {
    size_t p;
    double *coef;      /* p, NaN where aliased */
    bool *aliased;     /* p */
    double *std_error; /* p, NaN where aliased */
    double *t_value;
    double *cov_unscaled; /* p x p (R'R)^-1 in design order, NaN on aliased rows/columns */
    size_t rank;
    double n, rss, tss, sigma, df_residual, r_squared, adj_r_squared;
} ch_ols;

/* Solves from a root node. intercept: whether design column 0 is the
 * intercept (for R^2 about the mean). Fails when no row was used. */
int ch_qr_solve(const double *node, size_t p, bool intercept, ch_ols *out, ch_err *err);
/* The same with the aliasing tolerance given (R's lm uses 1e-7, glm
 * min(1e-7, epsilon / 1000) = 1e-11). */
int ch_qr_solve_tol(const double *node, size_t p, bool intercept, double tol, ch_ols *out,
                    ch_err *err);
void ch_ols_free(ch_ols *o);

#endif
