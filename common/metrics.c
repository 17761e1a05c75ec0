/* metrics.c: evaluation metrics (see metrics.h). */
#include "common/metrics.h"
#include "common/err.h"

#include <math.h>
#include <stdlib.h>

double ch_metric_rmse(const double *y, const double *pred, size_t n)
{
    double s = 0;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (isfinite(y[i]) && isfinite(pred[i])) {
            double d = y[i] - pred[i];
            s += d * d;
            m++;
        }
    }
    return m ? sqrt(s / (double)m) : NAN;
}

double ch_metric_mae(const double *y, const double *pred, size_t n)
{
    double s = 0;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (isfinite(y[i]) && isfinite(pred[i])) {
            s += fabs(y[i] - pred[i]);
            m++;
        }
    }
    return m ? s / (double)m : NAN;
}

double ch_metric_r2(const double *y, const double *pred, size_t n)
{
    double mean = 0;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (isfinite(y[i]) && isfinite(pred[i])) {
            mean += y[i];
            m++;
        }
    }
    if (!m) {
        return NAN;
    }
    mean /= (double)m;
    double res = 0, tot = 0;
    for (size_t i = 0; i < n; i++) {
        if (isfinite(y[i]) && isfinite(pred[i])) {
            res += (y[i] - pred[i]) * (y[i] - pred[i]);
            tot += (y[i] - mean) * (y[i] - mean);
        }
    }
    return tot > 0 ? 1.0 - res / tot : NAN;
}

double ch_metric_accuracy(const double *y, const double *prob, size_t n, size_t k)
{
    size_t right = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(y[i])) {
            continue;
        }
        size_t best = 0;
        for (size_t c = 1; c < k; c++) {
            if (prob[i * k + c] > prob[i * k + best]) {
                best = c;
            }
        }
        right += (double)best == y[i];
        m++;
    }
    return m ? (double)right / (double)m : NAN;
}

double ch_metric_logloss(const double *y, const double *prob, size_t n, size_t k)
{
    double s = 0;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(y[i]) || y[i] < 0 || y[i] >= (double)k) {
            continue;
        }
        double p = prob[i * k + (size_t)y[i]];
        p = p < 1e-15 ? 1e-15 : (p > 1 - 1e-15 ? 1 - 1e-15 : p);
        s -= log(p);
        m++;
    }
    return m ? s / (double)m : NAN;
}

typedef struct s_pair {
    double score;
    double label;
} s_pair;

static int s_cmp_pair(const void *a, const void *b)
{
    double x = ((const s_pair *)a)->score, y = ((const s_pair *)b)->score;
    return x < y ? -1 : x > y;
}

double ch_metric_auc(const double *y, const double *score, size_t n)
{
    s_pair *v = ch_alloc_array(n ? n : 1, sizeof *v);
    if (!v) {
        return NAN;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isnan(y[i]) && !isnan(score[i])) {
            v[m].score = score[i];
            v[m].label = y[i];
            m++;
        }
    }
    qsort(v, m, sizeof *v, s_cmp_pair);
    double pos = 0, neg = 0, rank_sum = 0;
    for (size_t i = 0; i < m;) {
        size_t j = i;
        while (j < m && v[j].score == v[i].score) {
            j++;
        }
        double avg_rank = ((double)i + 1 + (double)j) / 2.0; /* ranks i+1..j */
        for (size_t t = i; t < j; t++) {
            if (v[t].label > 0.5) {
                rank_sum += avg_rank;
                pos++;
            } else {
                neg++;
            }
        }
        i = j;
    }
    free(v);
    if (pos == 0 || neg == 0) {
        return NAN;
    }
    return (rank_sum - pos * (pos + 1) / 2.0) / (pos * neg);
}
