/* layernorm.c: layer normalisation over each row, with gain and bias. */
#include "algorithms/mlp/nn.h"

#include <math.h>

/* Normalises each row of x (n x d) to zero mean and unit variance (biased
 * variance, eps CH_NN_LN_EPS, as torch.nn.LayerNorm), then scales by gamma
 * and shifts by beta. This function can't fail. */
void ch_nn_layernorm_forward(float *y, float *mean, float *rstd, const float *x, const float *gamma,
                             const float *beta, size_t n, size_t d)
{
    for (size_t i = 0; i < n; i++) {
        const float *r = x + i * d;
        double s = 0;
        for (size_t j = 0; j < d; j++) {
            s += r[j];
        }
        float mu = (float)(s / (double)d);
        double v = 0;
        for (size_t j = 0; j < d; j++) {
            double c = r[j] - mu;
            v += c * c;
        }
        float rs = (float)(1.0 / sqrt(v / (double)d + CH_NN_LN_EPS));
        mean[i] = mu;
        rstd[i] = rs;
        for (size_t j = 0; j < d; j++) {
            y[i * d + j] = (r[j] - mu) * rs * gamma[j] + beta[j];
        }
    }
}

/* dx from dy through the normalisation; dgamma += sum dy * xhat, dbeta +=
 * sum dy. This function can't fail. */
void ch_nn_layernorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy,
                              const float *x, const float *mean, const float *rstd,
                              const float *gamma, size_t n, size_t d)
{
    for (size_t i = 0; i < n; i++) {
        const float *r = x + i * d, *g = dy + i * d;
        double s1 = 0, s2 = 0; /* mean of dxhat, mean of dxhat * xhat */
        for (size_t j = 0; j < d; j++) {
            float xh = (r[j] - mean[i]) * rstd[i];
            float dxh = g[j] * gamma[j];
            s1 += dxh;
            s2 += (double)dxh * xh;
            dgamma[j] += g[j] * xh;
            dbeta[j] += g[j];
        }
        float m1 = (float)(s1 / (double)d), m2 = (float)(s2 / (double)d);
        for (size_t j = 0; j < d; j++) {
            float xh = (r[j] - mean[i]) * rstd[i];
            float dxh = g[j] * gamma[j];
            dx[i * d + j] = rstd[i] * (dxh - m1 - xh * m2);
        }
    }
}
