/* dropout.c: inverted dropout with masks drawn from a seeded stream. */
#include "algorithms/mlp/nn.h"

/* y = x * mask with mask 0 (probability p) or 1/(1-p); the draws are taken
 * from rng in index order. p == 0 copies. This function can't fail. */
void ch_nn_dropout_forward(float *y, float *mask, const float *x, size_t m, float p, ch_rng *rng)
{
    float keep = 1.0f / (1.0f - p);
    for (size_t i = 0; i < m; i++) {
        mask[i] = (p > 0 && ch_rng_uniform(rng) < (double)p) ? 0.0f : keep;
        y[i] = x[i] * mask[i];
    }
}

/* dx = dy * mask. This function can't fail. */
void ch_nn_dropout_backward(float *dx, const float *dy, const float *mask, size_t m)
{
    for (size_t i = 0; i < m; i++) {
        dx[i] = dy[i] * mask[i];
    }
}
