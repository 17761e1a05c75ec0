/* loss.c: softmax cross-entropy, binary cross-entropy on logits, squared error. */
#include "algorithms/mlp/nn.h"

#include <math.h>

/* Row-wise softmax with the max subtracted; the loss of row i is
 * logsumexp - logit[y]. Rows whose label is NaN or out of range contribute
 * nothing (zero gradient). This function can't fail. */
double ch_nn_softmax_xent(float *dlogits, float *prob, const float *logits, const float *y,
                          size_t n, size_t k)
{
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        const float *z = logits + i * k;
        float *g = dlogits + i * k;
        float mx = z[0];
        for (size_t c = 1; c < k; c++) {
            mx = z[c] > mx ? z[c] : mx;
        }
        double s = 0;
        for (size_t c = 0; c < k; c++) {
            s += exp((double)(z[c] - mx));
        }
        double lse = log(s) + mx;
        float yi = y[i];
        int ok = yi >= 0 && yi < (float)k;
        size_t label = ok ? (size_t)yi : 0;
        for (size_t c = 0; c < k; c++) {
            float p = (float)exp((double)z[c] - lse);
            if (prob) {
                prob[i * k + c] = p;
            }
            g[c] = ok ? p - (c == label ? 1.0f : 0.0f) : 0.0f;
        }
        if (ok) {
            total += lse - z[label];
        }
    }
    return total;
}

/* loss = max(z, 0) - z y + log(1 + exp(-|z|)); gradient sigmoid(z) - y.
 * This function can't fail. */
double ch_nn_bce_logits(float *dlogits, const float *logits, const float *y, size_t n)
{
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        double z = logits[i], t = y[i];
        total += (z > 0 ? z : 0) - z * t + log1p(exp(-fabs(z)));
        double s = z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z));
        dlogits[i] = (float)(s - t);
    }
    return total;
}

/* sum (pred - y)^2; dpred = 2 (pred - y). This function can't fail. */
double ch_nn_mse(float *dpred, const float *pred, const float *y, size_t n)
{
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        double r = (double)pred[i] - y[i];
        total += r * r;
        dpred[i] = (float)(2 * r);
    }
    return total;
}
