/* metrics.h: evaluation metrics over predictions, as scikit-learn defines them. */
#ifndef CH_METRICS_H
#define CH_METRICS_H

#include <stddef.h>

/* Regression over pairs where both are finite; NaN if none. */
double ch_metric_rmse(const double *y, const double *pred, size_t n);
double ch_metric_mae(const double *y, const double *pred, size_t n);
/* Coefficient of determination 1 - SS_res / SS_tot (NaN when SS_tot is 0). */
double ch_metric_r2(const double *y, const double *pred, size_t n);

/* Classification: y holds class codes 0..k-1 (NaN skipped); prob is n x k
 * row-major class probabilities. */
double ch_metric_accuracy(const double *y, const double *prob, size_t n, size_t k);
/* Mean negative log-likelihood with probabilities clipped to [1e-15, 1-1e-15]. */
double ch_metric_logloss(const double *y, const double *prob, size_t n, size_t k);
/* Area under the ROC curve for binary labels (0/1) and scores, ties counted
 * half (the Mann-Whitney statistic). NaN if one class is absent. */
double ch_metric_auc(const double *y, const double *score, size_t n);

#endif
