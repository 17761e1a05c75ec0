/* optim.c: SGD, momentum, Nesterov, Adam and AdamW steps; gradient clipping. */
#include "algorithms/mlp/optim.h"

#include <math.h>

const char *const ch_opt_names[] = {"sgd", "momentum", "nesterov", "adam", "adamw", NULL};

/* 0 for plain SGD, 1 for the momentum buffer, 2 for Adam's moments. This
 * function can't fail. */
size_t ch_opt_state_per_param(ch_opt_kind kind)
{
    switch (kind) {
    case CH_OPT_SGD:
        return 0;
    case CH_OPT_MOMENTUM:
    case CH_OPT_NESTEROV:
        return 1;
    case CH_OPT_ADAM:
    case CH_OPT_ADAMW:
        return 2;
    }
    return 0;
}

/* Follows torch.optim step by step so that the reference test can compare
 * the first steps to float tolerance. The first momentum step sets the
 * buffer to the gradient, as torch does. This function can't fail. */
void ch_opt_step(const ch_opt_params *p, float *w, float *g, float *state, size_t n, double lr,
                 long t)
{
    float wd = (float)p->weight_decay, flr = (float)lr;
    if (wd != 0 && p->kind != CH_OPT_ADAMW) {
        for (size_t i = 0; i < n; i++) {
            g[i] += wd * w[i];
        }
    }
    switch (p->kind) {
    case CH_OPT_SGD:
        for (size_t i = 0; i < n; i++) {
            w[i] -= flr * g[i];
        }
        break;
    case CH_OPT_MOMENTUM:
    case CH_OPT_NESTEROV: {
        float mu = (float)p->momentum;
        for (size_t i = 0; i < n; i++) {
            float b = t <= 1 ? g[i] : mu * state[i] + g[i];
            state[i] = b;
            float d = p->kind == CH_OPT_NESTEROV ? g[i] + mu * b : b;
            w[i] -= flr * d;
        }
        break;
    }
    case CH_OPT_ADAM:
    case CH_OPT_ADAMW: {
        float b1 = (float)p->beta1, b2 = (float)p->beta2;
        double bc1 = 1 - pow(p->beta1, (double)t), bc2 = 1 - pow(p->beta2, (double)t);
        float step = (float)(lr / bc1);
        float sbc2 = (float)sqrt(bc2), eps = (float)p->eps;
        float *m = state, *v = state + n;
        if (p->kind == CH_OPT_ADAMW && wd != 0) {
            float f = 1.0f - flr * wd;
            for (size_t i = 0; i < n; i++) {
                w[i] *= f;
            }
        }
        for (size_t i = 0; i < n; i++) {
            m[i] = b1 * m[i] + (1 - b1) * g[i];
            v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
            w[i] -= step * m[i] / (sqrtf(v[i]) / sbc2 + eps);
        }
        break;
    }
    }
}

/* The norm is accumulated in double. This function can't fail. */
double ch_opt_clip(float *g, size_t n, double max_norm)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        s += (double)g[i] * g[i];
    }
    double norm = sqrt(s);
    if (max_norm > 0) {
        double f = max_norm / (norm + 1e-6);
        if (f < 1) {
            for (size_t i = 0; i < n; i++) {
                g[i] = (float)(g[i] * f);
            }
        }
    }
    return norm;
}
