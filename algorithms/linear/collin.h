/* collin.h: collinearity diagnostics of a least squares fit, computed at
 * the coordinator from the root of the TSQR reduction (qr.h), so no row is
 * needed: variance inflation factors and condition numbers. */
#ifndef CH_LINEAR_COLLIN_H
#define CH_LINEAR_COLLIN_H

#include "algorithms/linear/design.h"
#include "algorithms/linear/qr.h"
#include "common/buf.h"
#include "common/report.h"

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

/* Generalized variance inflation factors per term (car::vif's GVIF; Fox
 * and Monette 1992): det(R_SS) det(R_OO) / det(R) = det(R_SS) det((R^-1)_SS)
 * with R the correlation matrix of the coefficients' covariance cov (p x p,
 * any scale; the intercept left out when d has one, aliased coefficients
 * left out), S the term's columns and O the others. A one-column term's
 * GVIF is its VIF. gvif[f] and df[f] for each term f < d->n_terms (NaN and
 * 0 for a term without kept columns). Returns 0, CH_ENOMEM, or CH_EINVAL
 * when R is not positive definite (all NaN then). */
int ch_collin_gvif(const ch_design *d, const double *cov, const bool *aliased, double *gvif,
                   size_t *df);

/* The GVIF table in the three outputs of a fit (the arguments of
 * ch_collin_gvif). JSON: appends ", \"gvif\": [{term, df, gvif, gvif_adj}]"
 * for every term (gvif_adj = GVIF^(1/(2 df)), car's third column). Text and
 * report: the terms with more than one column only, nothing when there is
 * none (the per-column VIF says it all). Return 0 or CH_ENOMEM (JSON, text)
 * or the report's error. */
int ch_collin_gvif_json(const ch_design *d, const double *cov, const bool *aliased, ch_buf *json);
int ch_collin_gvif_text(const ch_design *d, const double *cov, const bool *aliased, ch_buf *text);
int ch_collin_gvif_report(const ch_design *d, const double *cov, const bool *aliased, ch_report *r,
                          ch_err *err);

#endif
