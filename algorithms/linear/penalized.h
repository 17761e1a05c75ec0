/* penalized.h: ridge, lasso and elastic net from the summed Gram matrix.
 *
 * The objective, with W the sum of weights and the intercept unpenalized:
 *   1/(2W) sum_i w_i (y_i - b0 - x_i'b)^2
 *     + lambda * (l1_ratio * |b|_1 + (1 - l1_ratio) / 2 * |b|_2^2)
 * which is scikit-learn's ElasticNet / Lasso(alpha = lambda) objective
 * (features not standardized), and Ridge(alpha = lambda * W) for
 * l1_ratio = 0, on the columns as they are (model.standardize false). With
 * standardize (the default, as glmnet) the penalty applies to the
 * coefficients of columns scaled to unit variance (1/W weighted variance),
 * and the coefficients are reported on the original scale: sklearn on
 * StandardScaler()'d columns, divided back. Ridge is solved exactly (Cholesky of the penalized Gram
 * matrix); lasso and elastic net by coordinate descent on the centred Gram
 * matrix (covariance updates, as glmnet). Cross-validation uses folds of
 * whole blocks (block b is in fold b mod K), so the folds, and the chosen
 * lambda, do not depend on the number of workers. */
#ifndef CH_LINEAR_PENALIZED_H
#define CH_LINEAR_PENALIZED_H

#include "common/err.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    CH_PEN_NONE = 0,
    CH_PEN_RIDGE = 1,
    CH_PEN_LASSO = 2,
    CH_PEN_ELASTICNET = 3
} ch_pen_kind;

typedef struct ch_pen_opts {
    ch_pen_kind kind;
    double lambda;    /* > 0: this lambda; 0: chosen by cross-validation */
    double l1_ratio;  /* elastic net mixing (1 lasso, 0 ridge) */
    size_t folds;     /* K folds for the choice of lambda */
    size_t n_lambda;  /* grid size */
    double min_ratio; /* smallest lambda / largest */
    bool intercept;   /* design column 0 is the intercept (unpenalized) */
    bool standardize; /* penalize coefficients of unit-variance columns */
} ch_pen_opts;

typedef struct ch_pen_fit {
    size_t p;
    double *coef;                  /* p, the intercept included */
    double lambda;                 /* the lambda used */
    double *path_lambda, *path_cv; /* the grid and its CV mean squared error */
    size_t n_path, best;
    size_t nonzero;            /* penalized coefficients that are not zero */
    double rss, tss, n, sum_w; /* training fit */
} ch_pen_fit;

/* Fits from K QR nodes (qr.h layout, one per fold; K = 1 without
 * cross-validation) of the design with p columns and the target. Errors:
 * no rows, an empty fold, a Gram matrix that is not positive definite
 * (CH_EINVAL). */
int ch_pen_fit_nodes(const double *nodes, size_t k, size_t p, const ch_pen_opts *o, ch_pen_fit *out,
                     ch_err *err);
void ch_pen_fit_free(ch_pen_fit *f);

/* Gram matrix of a design column block: the m x m G = R'R of a QR node's
 * factor (m = p + 1, the target last). */
void ch_pen_gram(const double *node, size_t m, double *g);

/* combine for reduce.h over K folds of QR nodes: ctx is a ch_pen_ctx. */
typedef struct ch_pen_ctx {
    size_t m, k;
} ch_pen_ctx;
void ch_pen_combine(void *ctx, size_t len, const double *left, const double *right, double *out);

#endif
