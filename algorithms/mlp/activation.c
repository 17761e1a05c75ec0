/* activation.c: elementwise activations (ReLU, GELU, tanh, sigmoid). */
#include "algorithms/mlp/nn.h"

#include <math.h>

const char *const ch_act_names[] = {"relu", "gelu", "tanh", "sigmoid", NULL};

static float s_sigmoid(float x)
{
    if (x >= 0) {
        return 1.0f / (1.0f + expf(-x));
    }
    float e = expf(x);
    return e / (1.0f + e);
}

/* y = f(x) for m values (y may alias x). This function can't fail. */
void ch_nn_act_forward(ch_act a, float *y, const float *x, size_t m)
{
    switch (a) {
    case CH_ACT_RELU:
        for (size_t i = 0; i < m; i++) {
            y[i] = x[i] > 0 ? x[i] : 0.0f;
        }
        break;
    case CH_ACT_GELU:
        for (size_t i = 0; i < m; i++) {
            y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * (float)M_SQRT1_2));
        }
        break;
    case CH_ACT_TANH:
        for (size_t i = 0; i < m; i++) {
            y[i] = tanhf(x[i]);
        }
        break;
    case CH_ACT_SIGMOID:
        for (size_t i = 0; i < m; i++) {
            y[i] = s_sigmoid(x[i]);
        }
        break;
    }
}

/* dx = dy * f'(x), from the forward input x and output y. This function
 * can't fail. */
void ch_nn_act_backward(ch_act a, float *dx, const float *dy, const float *x, const float *y,
                        size_t m)
{
    switch (a) {
    case CH_ACT_RELU:
        for (size_t i = 0; i < m; i++) {
            dx[i] = x[i] > 0 ? dy[i] : 0.0f;
        }
        break;
    case CH_ACT_GELU: {
        const float inv_sqrt_2pi = 0.3989422804014327f;
        for (size_t i = 0; i < m; i++) {
            float cdf = 0.5f * (1.0f + erff(x[i] * (float)M_SQRT1_2));
            float pdf = inv_sqrt_2pi * expf(-0.5f * x[i] * x[i]);
            dx[i] = dy[i] * (cdf + x[i] * pdf);
        }
        break;
    }
    case CH_ACT_TANH:
        for (size_t i = 0; i < m; i++) {
            dx[i] = dy[i] * (1.0f - y[i] * y[i]);
        }
        break;
    case CH_ACT_SIGMOID:
        for (size_t i = 0; i < m; i++) {
            dx[i] = dy[i] * y[i] * (1.0f - y[i]);
        }
        break;
    }
}
