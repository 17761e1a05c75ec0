/* net.c: the MLP layer stack: layout, initialisation, forward and backward. */
#include "algorithms/mlp/net.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const ch_init_names[] = {"auto", "he", "xavier", NULL};

struct ch_net_ws {
    size_t max_rows;
    size_t n_layers;
    float **out;            /* per layer: its output, max_rows x width */
    float **aux;            /* layer norm: mean and rstd (2 x max_rows); dropout: mask */
    float *grad_a, *grad_b; /* ping-pong input gradients */
};

static int s_add(ch_net *net, size_t *cap, ch_layer l)
{
    if (net->n_layers == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        ch_layer *p = realloc(net->layers, nc * sizeof *p);
        if (!p) {
            return CH_ENOMEM;
        }
        net->layers = p;
        *cap = nc;
    }
    net->layers[net->n_layers++] = l;
    return 0;
}

static int s_dense(ch_net *net, size_t *cap, size_t in, size_t out, size_t idx)
{
    ch_layer l = {.kind = CH_L_DENSE, .in = in, .out = out, .dense_index = idx};
    size_t nw;
    if (ch_mul_size(in, out, &nw) != 0 || net->n_params > SIZE_MAX / 2 - nw - out) {
        return CH_ENOMEM;
    }
    l.w_off = net->n_params;
    l.b_off = l.w_off + nw;
    net->n_params = l.b_off + out;
    return s_add(net, cap, l);
}

/* The widths are checked here, so every later size product fits. */
ch_net *ch_net_new(const ch_net_spec *spec, ch_err *err)
{
    if (spec->d_in == 0 || spec->d_in > CH_MLP_MAX_WIDTH * 16 || spec->d_out == 0 ||
        spec->d_out > CH_MLP_MAX_WIDTH || spec->n_hidden > CH_MLP_MAX_HIDDEN) {
        ch_err_set(err, CH_EINVAL, "mlp: bad network shape (%zu inputs, %zu outputs)", spec->d_in,
                   spec->d_out);
        return NULL;
    }
    for (size_t i = 0; i < spec->n_hidden; i++) {
        if (spec->hidden[i] == 0 || spec->hidden[i] > CH_MLP_MAX_WIDTH) {
            ch_err_set(err, CH_EINVAL, "mlp: hidden layer %zu has width %zu (1..%d)", i,
                       spec->hidden[i], CH_MLP_MAX_WIDTH);
            return NULL;
        }
    }
    ch_net *net = calloc(1, sizeof *net);
    if (!net) {
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    net->spec = *spec;
    size_t cap = 0, in = spec->d_in;
    int rc = 0;
    net->max_width = spec->d_in > spec->d_out ? spec->d_in : spec->d_out;
    for (size_t i = 0; i < spec->n_hidden && rc == 0; i++) {
        size_t h = spec->hidden[i];
        rc = s_dense(net, &cap, in, h, i);
        if (rc == 0 && spec->layer_norm) {
            ch_layer l = {.kind = CH_L_LAYERNORM, .in = h, .out = h};
            l.w_off = net->n_params;
            l.b_off = l.w_off + h;
            net->n_params = l.b_off + h;
            rc = s_add(net, &cap, l);
        }
        if (rc == 0) {
            rc =
                s_add(net, &cap, (ch_layer){.kind = CH_L_ACT, .in = h, .out = h, .dense_index = i});
        }
        if (rc == 0 && spec->dropout > 0) {
            rc = s_add(net, &cap,
                       (ch_layer){.kind = CH_L_DROPOUT, .in = h, .out = h, .dense_index = i});
        }
        net->max_width = h > net->max_width ? h : net->max_width;
        in = h;
    }
    if (rc == 0) {
        rc = s_dense(net, &cap, in, spec->d_out, spec->n_hidden);
    }
    if (rc != 0) {
        ch_net_destroy(&net);
        ch_err_set(err, CH_ENOMEM, "mlp: out of memory building the network");
        return NULL;
    }
    return net;
}

/* Accepts NULL. */
void ch_net_destroy(ch_net **net)
{
    if (!net || !*net) {
        return;
    }
    free((*net)->layers);
    free(*net);
    *net = NULL;
}

/* Writes a NUL-terminated name into buf. This function can't fail. */
void ch_net_layer_name(const ch_net *net, size_t l, char *buf, size_t size)
{
    const ch_layer *ly = &net->layers[l];
    switch (ly->kind) {
    case CH_L_DENSE:
        snprintf(buf, size, "layer %zu: dense %zu (%zu -> %zu)", l, ly->dense_index, ly->in,
                 ly->out);
        break;
    case CH_L_LAYERNORM:
        snprintf(buf, size, "layer %zu: layer norm (%zu)", l, ly->in);
        break;
    case CH_L_ACT:
        snprintf(buf, size, "layer %zu: %s after dense %zu", l, ch_act_names[net->spec.act],
                 ly->dense_index);
        break;
    case CH_L_DROPOUT:
        snprintf(buf, size, "layer %zu: dropout after dense %zu", l, ly->dense_index);
        break;
    }
}

/* Gains of layer norms 1, everything else drawn or zero. This function
 * can't fail. */
void ch_net_init(const ch_net *net, ch_init_kind kind, uint64_t seed, float *w)
{
    if (kind == CH_INIT_AUTO) {
        kind = (net->spec.act == CH_ACT_RELU || net->spec.act == CH_ACT_GELU) ? CH_INIT_HE
                                                                              : CH_INIT_XAVIER;
    }
    memset(w, 0, net->n_params * sizeof *w);
    for (size_t l = 0; l < net->n_layers; l++) {
        const ch_layer *ly = &net->layers[l];
        if (ly->kind == CH_L_LAYERNORM) {
            for (size_t j = 0; j < ly->in; j++) {
                w[ly->w_off + j] = 1.0f;
            }
        }
        if (ly->kind != CH_L_DENSE) {
            continue;
        }
        ch_rng r;
        ch_rng_init(&r, seed, ch_rng_stream(CH_STREAM_INIT, ly->dense_index));
        size_t m = ly->in * ly->out;
        if (kind == CH_INIT_HE) {
            double sd = sqrt(2.0 / (double)ly->in);
            for (size_t i = 0; i < m; i++) {
                w[ly->w_off + i] = (float)(sd * ch_rng_normal(&r));
            }
        } else {
            double a = sqrt(6.0 / (double)(ly->in + ly->out));
            for (size_t i = 0; i < m; i++) {
                w[ly->w_off + i] = (float)(a * (2 * ch_rng_uniform(&r) - 1));
            }
        }
    }
}

/* Accepts NULL. */
void ch_net_ws_destroy(ch_net_ws **pws)
{
    if (!pws || !*pws) {
        return;
    }
    ch_net_ws *ws = *pws;
    for (size_t l = 0; l < ws->n_layers; l++) {
        if (ws->out) {
            free(ws->out[l]);
        }
        if (ws->aux) {
            free(ws->aux[l]);
        }
    }
    free(ws->out);
    free(ws->aux);
    free(ws->grad_a);
    free(ws->grad_b);
    free(ws);
    *pws = NULL;
}

/* NULL when out of memory or the sizes overflow. */
ch_net_ws *ch_net_ws_new(const ch_net *net, size_t max_rows)
{
    ch_net_ws *ws = calloc(1, sizeof *ws);
    if (!ws) {
        return NULL;
    }
    if (max_rows == 0) {
        max_rows = 1;
    }
    ws->max_rows = max_rows;
    ws->n_layers = net->n_layers;
    ws->out = calloc(net->n_layers, sizeof *ws->out);
    ws->aux = calloc(net->n_layers, sizeof *ws->aux);
    size_t big;
    if (!ws->out || !ws->aux || ch_mul_size(max_rows, net->max_width, &big) != 0) {
        ch_net_ws_destroy(&ws);
        return NULL;
    }
    ws->grad_a = ch_alloc_array(big, sizeof(float));
    ws->grad_b = ch_alloc_array(big, sizeof(float));
    if (!ws->grad_a || !ws->grad_b) {
        ch_net_ws_destroy(&ws);
        return NULL;
    }
    for (size_t l = 0; l < net->n_layers; l++) {
        const ch_layer *ly = &net->layers[l];
        ws->out[l] = ch_alloc_array(max_rows * ly->out, sizeof(float));
        if (!ws->out[l]) {
            ch_net_ws_destroy(&ws);
            return NULL;
        }
        if (ly->kind == CH_L_LAYERNORM || ly->kind == CH_L_DROPOUT) {
            size_t m = ly->kind == CH_L_LAYERNORM ? 2 * max_rows : max_rows * ly->out;
            ws->aux[l] = ch_alloc_array(m, sizeof(float));
            if (!ws->aux[l]) {
                ch_net_ws_destroy(&ws);
                return NULL;
            }
        }
    }
    return ws;
}

/* Dropout masks come from (seed, CH_STREAM_ALGO + 1, dropout_stream * 64 +
 * layer), so a block's masks in a step are the same on any worker. */
const float *ch_net_forward(const ch_net *net, const float *w, const float *x, size_t n, bool train,
                            uint64_t seed, uint64_t dropout_stream, ch_net_ws *ws)
{
    const float *in = x;
    for (size_t l = 0; l < net->n_layers; l++) {
        const ch_layer *ly = &net->layers[l];
        float *out = ws->out[l];
        switch (ly->kind) {
        case CH_L_DENSE:
            ch_nn_dense_forward(out, in, w + ly->w_off, w + ly->b_off, n, ly->in, ly->out);
            break;
        case CH_L_LAYERNORM:
            ch_nn_layernorm_forward(out, ws->aux[l], ws->aux[l] + ws->max_rows, in, w + ly->w_off,
                                    w + ly->b_off, n, ly->in);
            break;
        case CH_L_ACT:
            ch_nn_act_forward(net->spec.act, out, in, n * ly->in);
            break;
        case CH_L_DROPOUT:
            if (train) {
                ch_rng r;
                ch_rng_init(&r, seed, ch_rng_stream(CH_STREAM_ALGO + 1, dropout_stream * 64 + l));
                ch_nn_dropout_forward(out, ws->aux[l], in, n * ly->in, (float)net->spec.dropout,
                                      &r);
            } else {
                memcpy(out, in, n * ly->in * sizeof *out);
                for (size_t i = 0; i < n * ly->in; i++) {
                    ws->aux[l][i] = 1.0f;
                }
            }
            break;
        }
        in = out;
    }
    return in;
}

/* A scan of each layer's output in order. This function can't fail. */
long ch_net_first_nonfinite(const ch_net *net, const ch_net_ws *ws, size_t n)
{
    for (size_t l = 0; l < net->n_layers; l++) {
        const float *o = ws->out[l];
        size_t m = n * net->layers[l].out;
        for (size_t i = 0; i < m; i++) {
            if (!isfinite(o[i])) {
                return (long)l;
            }
        }
    }
    return -1;
}

/* Walks the layers backwards; the input gradient of layer l becomes the
 * output gradient of layer l-1. The first dense layer skips its input
 * gradient. This function can't fail. */
void ch_net_backward(const ch_net *net, const float *w, const float *x, float *dout, size_t n,
                     float *g, ch_net_ws *ws)
{
    float *dy = dout;
    for (size_t k = net->n_layers; k-- > 0;) {
        const ch_layer *ly = &net->layers[k];
        const float *in = k ? ws->out[k - 1] : x;
        float *dx = (dy == ws->grad_a) ? ws->grad_b : ws->grad_a;
        switch (ly->kind) {
        case CH_L_DENSE:
            ch_nn_dense_backward(k ? dx : NULL, g + ly->w_off, g + ly->b_off, dy, in, w + ly->w_off,
                                 n, ly->in, ly->out);
            break;
        case CH_L_LAYERNORM:
            ch_nn_layernorm_backward(dx, g + ly->w_off, g + ly->b_off, dy, in, ws->aux[k],
                                     ws->aux[k] + ws->max_rows, w + ly->w_off, n, ly->in);
            break;
        case CH_L_ACT:
            ch_nn_act_backward(net->spec.act, dx, dy, in, ws->out[k], n * ly->in);
            break;
        case CH_L_DROPOUT:
            ch_nn_dropout_backward(dx, dy, ws->aux[k], n * ly->in);
            break;
        }
        dy = dx;
    }
}
