/* robust.h: heteroskedasticity-consistent (sandwich) covariance of a least
 * squares fit, HC0-HC3 as sandwich::vcovHC computes them for lm:
 *   V = (X'X)^-1 (sum_i omega_i x_i x_i') (X'X)^-1
 * with x_i the weighted row sqrt(w_i) x_i, e_i the weighted residual and
 *   HC0 omega = e^2, HC1 the same times n / (n - rank),
 *   HC2 omega = e^2 / (1 - h),  HC3 omega = e^2 / (1 - h)^2,
 * h_i = x_i' (X'X)^-1 x_i the leverage. The middle sum (the meat) is a
 * second distributed round: each block adds its rows, summed over the fixed
 * reduction tree; the coordinator has (X'X)^-1 from the solve. */
#ifndef CH_LINEAR_ROBUST_H
#define CH_LINEAR_ROBUST_H

#include "algorithms/linear/qr.h"

#include <stddef.h>

typedef enum { CH_HC_NONE = 0, CH_HC0, CH_HC1, CH_HC2, CH_HC3 } ch_hc_type;

/* The names "none", "hc0", ... "hc3" (NULL-terminated, ch_hc_type order). */
extern const char *const ch_hc_names[];

/* Adds one block's rows to meat[p x p] (column-major; only the upper
 * triangle is written): a is the used x p weighted design (leading
 * dimension used), e the used weighted residuals, cov the p x p (X'X)^-1
 * with aliased rows and columns 0 (read for HC2 and HC3 only). Returns 0 or
 * CH_ENOMEM. */
int ch_robust_meat(ch_hc_type type, const double *a, size_t used, size_t p, const double *e,
                   const double *cov, double *meat);

/* The robust standard errors se[p] from the summed meat (upper triangle)
 * and the solve o (NaN where aliased). Returns 0 or CH_ENOMEM. */
int ch_robust_se(ch_hc_type type, const double *meat, const ch_ols *o, double *se);

/* o->cov_unscaled with NaN (aliased) replaced by 0, into cov[p x p]. */
void ch_robust_cov0(const ch_ols *o, double *cov);

#endif
