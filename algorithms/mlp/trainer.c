/* trainer.c: gradient of a batch, the optimizer update, evaluation. */
#include "algorithms/mlp/trainer.h"

#include <math.h>
#include <string.h>

ch_head ch_head_for(size_t n_classes)
{
    return n_classes == 0 ? CH_HEAD_MSE : n_classes == 2 ? CH_HEAD_BCE : CH_HEAD_SOFTMAX;
}

size_t ch_head_outputs(ch_head h, size_t n_classes)
{
    return h == CH_HEAD_SOFTMAX ? n_classes : 1;
}

double ch_head_loss(ch_head head, float *dout, float *prob, const float *z, const float *y,
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

int ch_mlp_grad(const ch_net *net, ch_head head, const float *w, const float *x, const float *y,
                size_t n, bool train, uint64_t seed, uint64_t dropout_stream, ch_net_ws *ws,
                float *dout, float *g, ch_grad_out *out)
{
    return ch_mlp_grad_scaled(net, head, w, x, y, n, train, seed, dropout_stream, 1.0f, ws, dout, g,
                              out);
}

int ch_mlp_grad_scaled(const ch_net *net, ch_head head, const float *w, const float *x,
                       const float *y, size_t n, bool train, uint64_t seed, uint64_t dropout_stream,
                       float loss_scale, ch_net_ws *ws, float *dout, float *g, ch_grad_out *out)
{
    out->bad_layer = -1;
    const float *z = ch_net_forward(net, w, x, n, train, seed, dropout_stream, ws);
    out->loss = ch_head_loss(head, dout, NULL, z, y, n, net->spec.d_out, &out->correct);
    if (!isfinite(out->loss)) {
        out->bad_layer = ch_net_first_nonfinite(net, ws, n);
        return CH_EINVAL;
    }
    if (loss_scale != 1.0f) {
        for (size_t i = 0; i < n * net->spec.d_out; i++) {
            dout[i] *= loss_scale;
        }
    }
    ch_net_backward(net, w, x, dout, n, g, ws);
    return 0;
}

bool ch_grad_finite(const float *g, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(g[i])) {
            return false;
        }
    }
    return true;
}

bool ch_loss_scaler_update(ch_loss_scaler *s, bool finite)
{
    if (!finite) {
        s->scale = s->scale / 2 < 1 ? 1 : s->scale / 2;
        s->clean = 0;
        s->skipped++;
        return false;
    }
    if (++s->clean >= s->window) {
        s->scale = s->scale * 2 > CH_LOSS_SCALE_MAX ? CH_LOSS_SCALE_MAX : s->scale * 2;
        s->clean = 0;
    }
    return true;
}

double ch_mlp_apply(const ch_mlp_params *p, float *w, float *g, float *state, size_t n_params,
                    double rows, double lr, long t)
{
    return ch_grad_apply(&p->opt, p->clip_norm, w, g, state, n_params, rows, lr, t);
}

double ch_grad_apply(const ch_opt_params *opt, double clip_norm, float *w, float *g, float *state,
                     size_t n_params, double rows, double lr, long t)
{
    float inv = rows > 0 ? (float)(1.0 / rows) : 0.0f;
    for (size_t i = 0; i < n_params; i++) {
        g[i] *= inv;
    }
    double norm = ch_opt_clip(g, n_params, clip_norm);
    ch_opt_step(opt, w, g, state, n_params, lr, t);
    return norm;
}

void ch_mlp_eval(const ch_net *net, ch_head head, const float *w, const float *x, const float *y,
                 size_t n, size_t chunk, ch_net_ws *ws, float *dout, double *loss, double *correct,
                 float *prob)
{
    size_t k = net->spec.d_out, d = net->spec.d_in;
    *loss = 0;
    *correct = 0;
    for (size_t i = 0; i < n; i += chunk) {
        size_t m = n - i < chunk ? n - i : chunk;
        const float *z = ch_net_forward(net, w, x + i * d, m, false, 0, 0, ws);
        double c;
        *loss += ch_head_loss(head, dout, prob ? prob + i * k : NULL, z, y + i, m, k, &c);
        *correct += c;
    }
}
