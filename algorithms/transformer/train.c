/* train.c: the transformer's gradient, update and evaluation (train.h). */
#include "algorithms/transformer/train.h"

#include <math.h>
#include <string.h>

int ch_tfm_grad(const ch_tfm *m, ch_head head, const float *w, const float *x, const uint8_t *mask,
                const float *y, size_t n, ch_tfm_ws *ws, float *dout, float *g, ch_grad_out *out)
{
    out->bad_layer = -1;
    const float *z = ch_tfm_forward(m, w, x, mask, n, ws);
    out->loss = ch_head_loss(head, dout, NULL, z, y, n, m->spec.d_out, &out->correct);
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
    return ch_grad_apply(&p->opt, p->clip_norm, w, g, state, n_params, rows, lr, t);
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
        *loss += ch_head_loss(head, dout, prob ? prob + i * k : NULL, z, y + i, c, k, &cc);
        *correct += cc;
    }
}
