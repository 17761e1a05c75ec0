/* collin.h: collinearity diagnostics of a least squares fit, computed at
 * the coordinator from the root of the TSQR reduction (qr.h), so no row is
 * needed: variance inflation factors and condition numbers. */
#ifndef CH_LINEAR_COLLIN_H
#define CH_LINEAR_COLLIN_H

#include "algorithms/linear/qr.h"

#include <stdbool.h>
#include <stddef.h>

/* Variance inflation factors into vif[p]: for each non-intercept,
 * non-aliased design column j, 1 / (1 - R_j^2) with R_j^2 from regressing
 * column j on the other kept columns (weighted as the fit). With an
 * intercept this is diag(solve(cor(X[, -1]))), car::vif's value for a
 * one-column term; it is computed as cov_unscaled[j, j] times the centred
 * sum of squares of column j, read off the triangular factor. Without an
 * intercept the sums of squares are not centred (car::vif's computation,
 * which R warns "may not be sensible"). NaN for the intercept and aliased
 * columns. node is the root (n, sum_w, R of [X y]); o the solve of it. This
 * function can't fail. */
void ch_collin_vif(const double *node, const ch_ols *o, bool intercept, double *vif);

/* Condition numbers of the (weighted) design restricted to its kept
 * columns, from the singular values of R:
 *   *kappa  = s_max / s_min of X: R's kappa(fit, exact = TRUE) and
 *             statsmodels' "Cond. No." (sqrt of the eigenvalue ratio of X'X);
 *   *scaled = the same with every column scaled to unit length (Belsley,
 *             Kuh and Welsch's condition number; above 30 flags harmful
 *             collinearity).
 * Returns 0, or CH_ENOMEM / CH_EINTERNAL (the SVD failed); both NaN then. */
int ch_collin_cond(const double *node, const ch_ols *o, double *kappa, double *scaled);

#endif
