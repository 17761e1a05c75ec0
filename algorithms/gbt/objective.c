/* objective.c: GBT objectives (gradients, hessians, output transforms) and
 * evaluation metrics, with XGBoost's formulas. */
#include "algorithms/gbt/gbt.h"
#include "common/metrics.h"

#include <math.h>
#include <stdlib.h>

const char *const ch_gbt_objective_names[] = {
    "reg:squarederror", "reg:pseudohubererror", "binary:logistic",
    "multi:softmax",    "multi:softprob",       NULL,
};

const char *const ch_gbt_metric_names[] = {
    "rmse", "mae", "logloss", "auc", "error", "mlogloss", "merror", NULL,
};

static double s_sigmoid(double x)
{
    return 1.0 / (1.0 + exp(-x));
}

/* The base margin: XGBoost 1.7 takes base_score in output space. */
double ch_gbt_base_margin(const ch_gbt_params *p)
{
    if (p->objective == CH_GBT_LOGISTIC) {
        double b = p->base_score;
        return -log(1.0 / b - 1.0);
    }
    return p->base_score;
}

/* Label validity for the objective. */
bool ch_gbt_label_ok(const ch_gbt_params *p, double y)
{
    if (!isfinite(y)) {
        return false;
    }
    switch (p->objective) {
    case CH_GBT_LOGISTIC:
        return y >= 0 && y <= 1;
    case CH_GBT_SOFTMAX:
    case CH_GBT_SOFTPROB:
        return y >= 0 && y < (double)p->n_classes && y == floor(y);
    default:
        return true;
    }
}

/* Gradient and hessian of one row for group k. */
void ch_gbt_grad(const ch_gbt_params *p, const double *m, double y, double w, size_t k, double *g,
                 double *h)
{
    switch (p->objective) {
    case CH_GBT_SQUARED:
        *g = (m[0] - y) * w;
        *h = w;
        return;
    case CH_GBT_PSEUDOHUBER: {
        double z = m[0] - y, d = p->huber_slope;
        double scale = 1.0 + (z / d) * (z / d);
        double sq = sqrt(scale);
        *g = z / sq * w;
        *h = w / (scale * sq);
        return;
    }
    case CH_GBT_LOGISTIC: {
        double pr = s_sigmoid(m[0]);
        if (y == 1.0) {
            w *= p->scale_pos_weight;
        }
        *g = (pr - y) * w;
        double hh = pr * (1.0 - pr);
        *h = (hh > 1e-16 ? hh : 1e-16) * w;
        return;
    }
    default: {
        size_t K = p->n_groups;
        double mx = m[0];
        for (size_t j = 1; j < K; j++) {
            mx = m[j] > mx ? m[j] : mx;
        }
        double s = 0;
        for (size_t j = 0; j < K; j++) {
            s += exp(m[j] - mx);
        }
        double pr = exp(m[k] - mx) / s;
        *g = (pr - ((size_t)y == k ? 1.0 : 0.0)) * w;
        double hh = 2.0 * pr * (1.0 - pr);
        *h = (hh > 1e-16 ? hh : 1e-16) * w;
        return;
    }
    }
}

/* Bounds for the fixed-point scale. */
void ch_gbt_grad_bounds(const ch_gbt_params *p, double y_min, double y_max, double w_max,
                        double *g_bound, double *h_bound)
{
    double w = w_max > 0 ? w_max : 1.0;
    switch (p->objective) {
    case CH_GBT_SQUARED: {
        /* predictions stay near the label range; beyond 4x it the gradient
         * saturates (a clamp, never an overflow) */
        double b = fabs(p->base_score);
        double r = fabs(y_max - y_min) + fabs(y_max) + fabs(y_min) + b;
        *g_bound = (4.0 * r + 1.0) * w;
        *h_bound = w;
        return;
    }
    case CH_GBT_PSEUDOHUBER:
        *g_bound = p->huber_slope * w;
        *h_bound = w;
        return;
    case CH_GBT_LOGISTIC: {
        double s = p->scale_pos_weight > 1 ? p->scale_pos_weight : 1.0;
        *g_bound = w * s;
        *h_bound = 0.25 * w * s;
        return;
    }
    default:
        *g_bound = w;
        *h_bound = 0.5 * w;
        return;
    }
}

/* Output transform of one row. */
void ch_gbt_transform(const ch_gbt_params *p, const double *m, double *out)
{
    switch (p->objective) {
    case CH_GBT_SQUARED:
    case CH_GBT_PSEUDOHUBER:
        out[0] = m[0];
        return;
    case CH_GBT_LOGISTIC: {
        double pr = s_sigmoid(m[0]);
        if (p->n_classes == 2) {
            out[0] = 1.0 - pr;
            out[1] = pr;
        } else {
            out[0] = pr;
        }
        return;
    }
    default: {
        size_t K = p->n_groups;
        double mx = m[0], s = 0;
        for (size_t j = 1; j < K; j++) {
            mx = m[j] > mx ? m[j] : mx;
        }
        for (size_t j = 0; j < K; j++) {
            out[j] = exp(m[j] - mx);
            s += out[j];
        }
        for (size_t j = 0; j < K; j++) {
            out[j] /= s;
        }
        return;
    }
    }
}

bool ch_gbt_metric_higher_better(ch_gbt_metric metric)
{
    return metric == CH_GBT_AUC;
}

/* Weighted metrics as XGBoost computes them (weights default to 1). */
double ch_gbt_eval(const ch_gbt_params *p, ch_gbt_metric metric, const double *margins,
                   const double *y, const double *w, size_t n)
{
    size_t K = p->n_groups;
    double num = 0, den = 0;
    if (metric == CH_GBT_AUC) {
        double *sc = malloc((n ? n : 1) * sizeof *sc);
        double *yy = malloc((n ? n : 1) * sizeof *yy);
        double v = NAN;
        if (sc && yy) {
            for (size_t i = 0; i < n; i++) {
                sc[i] = margins[i * K];
                yy[i] = y[i];
            }
            v = ch_metric_auc(yy, sc, n);
        }
        free(sc);
        free(yy);
        return v;
    }
    double prob[256];
    for (size_t i = 0; i < n; i++) {
        double yi = y[i];
        if (isnan(yi)) {
            continue;
        }
        double wi = w ? w[i] : 1.0;
        const double *m = margins + i * K;
        double e = 0;
        switch (metric) {
        case CH_GBT_RMSE:
            e = (m[0] - yi) * (m[0] - yi);
            break;
        case CH_GBT_MAE:
            e = fabs(m[0] - yi);
            break;
        case CH_GBT_LOGLOSS: {
            double pr = s_sigmoid(m[0]);
            pr = pr < 1e-16 ? 1e-16 : (pr > 1 - 1e-16 ? 1 - 1e-16 : pr);
            e = -(yi * log(pr) + (1 - yi) * log(1 - pr));
            break;
        }
        case CH_GBT_ERROR:
            e = (s_sigmoid(m[0]) > 0.5) != (yi > 0.5);
            break;
        case CH_GBT_MLOGLOSS:
        case CH_GBT_MERROR: {
            size_t c = (size_t)yi;
            if (K > 256 || c >= K) {
                continue;
            }
            ch_gbt_params q = *p;
            ch_gbt_transform(&q, m, prob);
            if (metric == CH_GBT_MLOGLOSS) {
                double pr = prob[c] < 1e-16 ? 1e-16 : prob[c];
                e = -log(pr);
            } else {
                size_t best = 0;
                for (size_t j = 1; j < K; j++) {
                    best = m[j] > m[best] ? j : best;
                }
                e = best != c;
            }
            break;
        }
        default:
            break;
        }
        num += wi * e;
        den += wi;
    }
    if (den <= 0) {
        return NAN;
    }
    return metric == CH_GBT_RMSE ? sqrt(num / den) : num / den;
}
