/* predict.h: `cohort predict`'s outputs of a linear model beyond the
 * default column: the fit on the link or the response scale and its
 * standard error, as R's predict.lm(se.fit = TRUE) and
 * predict.glm(type = "link" | "response", se.fit = TRUE) give them:
 *   link:     eta = x'b,  se = scale * sqrt(x' C x)
 *   response: mu = g^-1(eta), se = se_link * |d mu / d eta|
 * with C the unscaled covariance (aliased coefficients left out) and scale
 * sigma for least squares, 1 for binomial and Poisson. */
#ifndef CH_LINEAR_PREDICT_H
#define CH_LINEAR_PREDICT_H

#include "algorithms/linear/design.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/table.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum { CH_LP_RESPONSE = 0, CH_LP_LINK = 1 } ch_lp_scale;
typedef enum { CH_LP_IDENTITY = 0, CH_LP_LOGIT, CH_LP_LOG } ch_lp_link;

/* "response", "link" (NULL-terminated, ch_lp_scale order): the values of
 * model.predict_type. */
extern const char *const ch_lp_scales[];

typedef struct ch_lp_spec {
    const ch_design *design;
    const double *coef;  /* p */
    const bool *aliased; /* p */
    const double *cov;   /* p x p unscaled covariance; NULL when se is false */
    double scale;        /* sigma (least squares) or 1 */
    ch_lp_link link;
    ch_lp_scale type;
    bool se;
} ch_lp_spec;

/* Appends "fit[,se_fit]" and one line per row of the table t as read (it
 * is conformed to schema on a copy; NA for a row with a missing value).
 * Returns 0, or an error (a column missing, an unseen level, out of
 * memory) with the reason in err. */
int ch_lp_csv(const ch_lp_spec *s, const ch_table *t, const ch_schema *schema, ch_buf *csv,
              ch_err *err);

#endif
