/* train.c: the transformer's gradient, update and evaluation (train.h). */
#include "algorithms/transformer/train.h"

#include <math.h>
#include <string.h>

/* Loss and its gradient (into dout) for the head; also the correct count. */
static double s_loss(ch_head head, float *dout, float *prob, const float *z, const float *y,
                     size_t n, size_t k, double *correct)
{
    double loss = 0;
    *correct = 0;
    switch (head) {
    case CH_HEAD_MSE:
        loss = ch_nn_mse(dout, z, y, n);
        if (prob) {
            memcpy(prob, z, n * sizeof *prob);
        }
        break;
    case CH_HEAD_BCE:
        loss = ch_nn_bce_logits(dout, z, y, n);
        for (size_t i = 0; i < n; i++) {
            *correct += ((z[i] > 0) == (y[i] > 0.5f)) ? 1 : 0;
            if (prob) {
                prob[i] = dout[i] + y[i]; /* sigmoid(z) */
            }
        }
        break;
    case CH_HEAD_SOFTMAX:
        loss = ch_nn_softmax_xent(dout, prob, z, y, n, k);
        for (size_t i = 0; i < n; i++) {
            size_t best = 0;
            for (size_t c = 1; c < k; c++) {
                best = z[i * k + c] > z[i * k + best] ? c : best;
            }
            *correct += (float)best == y[i] ? 1 : 0;
        }
        break;
    }
    return loss;
}

int ch_tfm_grad(const ch_tfm *m, ch_head head, const float *w, const float *x, const uint8_t *mask,
                const float *y, size_t n, ch_tfm_ws *ws, float *dout, float *g, ch_grad_out *out)
{
    out->bad_layer = -1;
    const float *z = ch_tfm_forward(m, w, x, mask, n, ws);
    out->loss = s_loss(head, dout, NULL, z, y, n, m->spec.d_out, &out->correct);
    if (!isfinite(out->loss)) {
        out->bad_layer = ch_tfm_first_nonfinite(m, ws, n);
        return CH_EINVAL;
    }
    ch_tfm_backward(m, w, x, dout, n, g, ws);
    return 0;
}

double ch_tfm_apply(const ch_tfm_params *p, float *w, float *g, float *state, size_t n_params,
                    double rows, double lr, long t)
{
    float inv = rows > 0 ? (float)(1.0 / rows) : 0.0f;
    for (size_t i = 0; i < n_params; i++) {
        g[i] *= inv;
    }
    double norm = ch_opt_clip(g, n_params, p->clip_norm);
    ch_opt_step(&p->opt, w, g, state, n_params, lr, t);
    return norm;
}

void ch_tfm_eval(const ch_tfm *m, ch_head head, const float *w, const float *x, const uint8_t *mask,
                 const float *y, size_t n, size_t chunk, ch_tfm_ws *ws, float *dout, double *loss,
                 double *correct, float *prob)
{
    size_t k = m->spec.d_out, d = m->spec.len * m->spec.d_in, L = m->spec.len;
    *loss = 0;
    *correct = 0;
    for (size_t i = 0; i < n; i += chunk) {
        size_t c = n - i < chunk ? n - i : chunk;
        const float *z = ch_tfm_forward(m, w, x + i * d, mask + i * L, c, ws);
        double cc;
        *loss += s_loss(head, dout, prob ? prob + i * k : NULL, z, y + i, c, k, &cc);
        *correct += cc;
    }
}
