/* net.c: the MLP layer stack: layout, initialisation, forward and backward. */
#include "algorithms/mlp/net.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const ch_init_names[] = {"auto", "he", "xavier", NULL};

/* BF16/FP16: the backward pass converts stored activations S_CHUNK rows at
 * a time, and dense weights S_TILE output rows at a time, so the float
 * copies stay small next to the 16-bit storage. */
#define S_CHUNK 64
#define S_TILE  64

struct ch_net_ws {
    size_t max_rows;
    size_t n_layers;
    ch_precision prec;
    size_t bytes;           /* allocated for activations, gradients and weights */
    float **out;            /* FP32, per layer: its output, max_rows x width */
    uint16_t **h;           /* BF16/FP16, per layer: its output, stored in 16 bits */
    float *fa, *fb;         /* BF16/FP16: S_CHUNK rows of a layer's input and output */
    float *wt;              /* BF16/FP16: S_TILE rows of a dense weight, or a small layer's */
    uint16_t *wh;           /* BF16/FP16: the stored weights (n_params) */
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
    l.p_len = nw + out;
    net->n_params = l.b_off + out;
    return s_add(net, cap, l);
}

/* The embedding layer: checks the embedded columns and sets *out_width to
 * the inputs that are passed through plus the embeddings' dimensions. */
static int s_embed_check(const ch_net_spec *spec, size_t *out_width, size_t *n_par, ch_err *err)
{
    size_t width = spec->d_in, par = 0;
    if (spec->n_embed > CH_MLP_MAX_EMBED) {
        return ch_err_set(err, CH_EINVAL, "mlp: %zu embedded columns (at most %d)", spec->n_embed,
                          CH_MLP_MAX_EMBED);
    }
    for (size_t e = 0; e < spec->n_embed; e++) {
        const ch_embed_spec *em = &spec->embed[e];
        if (em->col >= spec->d_in || (e > 0 && em->col <= spec->embed[e - 1].col) ||
            em->levels == 0 || em->levels > (1u << 24) || em->dim == 0 ||
            em->dim > CH_MLP_MAX_EMBED_DIM) {
            return ch_err_set(err, CH_EINVAL,
                              "mlp: embedding %zu (input %zu, %zu levels, dimension %zu) is "
                              "malformed",
                              e, em->col, em->levels, em->dim);
        }
        width += em->dim - 1;
        par += em->levels * em->dim;
    }
    if (width > CH_MLP_MAX_WIDTH * 16) {
        return ch_err_set(err, CH_EINVAL, "mlp: %zu inputs after the embeddings", width);
    }
    *out_width = width;
    *n_par = par;
    return 0;
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
    size_t emb_width = spec->d_in, emb_par = 0;
    if (spec->precision > CH_PREC_FP16 || s_embed_check(spec, &emb_width, &emb_par, err) != 0) {
        if (spec->precision > CH_PREC_FP16) {
            ch_err_set(err, CH_EINVAL, "mlp: unknown precision %d", (int)spec->precision);
        }
        return NULL;
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
    if (spec->n_embed > 0) {
        ch_layer l = {.kind = CH_L_EMBED, .in = spec->d_in, .out = emb_width, .p_len = emb_par};
        net->n_params = emb_par;
        rc = s_add(net, &cap, l);
        in = emb_width;
        net->max_width = in > net->max_width ? in : net->max_width;
    }
    for (size_t i = 0; i < spec->n_hidden && rc == 0; i++) {
        size_t h = spec->hidden[i];
        rc = s_dense(net, &cap, in, h, i);
        if (rc == 0 && spec->layer_norm) {
            ch_layer l = {.kind = CH_L_LAYERNORM, .in = h, .out = h, .p_len = 2 * h};
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
    case CH_L_EMBED:
        snprintf(buf, size, "layer %zu: embeddings of %zu columns (%zu -> %zu)", l,
                 net->spec.n_embed, ly->in, ly->out);
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
        if (ly->kind == CH_L_EMBED) {
            size_t off = ly->w_off;
            for (size_t e = 0; e < net->spec.n_embed; e++) {
                ch_rng r;
                ch_rng_init(&r, seed, ch_rng_stream(CH_STREAM_INIT, 4096 + e));
                size_t m = net->spec.embed[e].levels * net->spec.embed[e].dim;
                for (size_t i = 0; i < m; i++) {
                    w[off + i] = (float)ch_rng_normal(&r);
                }
                off += m;
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
        if (ws->h) {
            free(ws->h[l]);
        }
        if (ws->aux) {
            free(ws->aux[l]);
        }
    }
    free(ws->out);
    free(ws->h);
    free(ws->aux);
    free(ws->fa);
    free(ws->fb);
    free(ws->wt);
    free(ws->wh);
    free(ws->grad_a);
    free(ws->grad_b);
    free(ws);
    *pws = NULL;
}

/* ch_alloc_array that counts the bytes into ws->bytes. */
static void *s_ws_alloc(ch_net_ws *ws, size_t n, size_t size)
{
    void *p = ch_alloc_array(n ? n : 1, size);
    ws->bytes += p ? n * size : 0;
    return p;
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
    ws->prec = net->spec.precision;
    bool half = ws->prec != CH_PREC_FP32;
    ws->out = calloc(net->n_layers, sizeof *ws->out);
    ws->h = calloc(net->n_layers, sizeof *ws->h);
    ws->aux = calloc(net->n_layers, sizeof *ws->aux);
    /* the input gradients (and, in BF16/FP16, the forward's float
     * ping-pong) never hold the network's input: the widest layer output */
    size_t max_out = 1, max_tile = 1;
    for (size_t l = 0; l < net->n_layers; l++) {
        const ch_layer *ly = &net->layers[l];
        max_out = ly->out > max_out ? ly->out : max_out;
        size_t t = ly->kind == CH_L_DENSE ? (S_TILE < ly->out ? S_TILE : ly->out) * (ly->in + 1)
                                          : ly->p_len;
        max_tile = t > max_tile ? t : max_tile;
    }
    size_t big;
    if (!ws->out || !ws->h || !ws->aux || ch_mul_size(max_rows, max_out, &big) != 0) {
        ch_net_ws_destroy(&ws);
        return NULL;
    }
    ws->grad_a = s_ws_alloc(ws, big, sizeof(float));
    ws->grad_b = s_ws_alloc(ws, big, sizeof(float));
    if (!ws->grad_a || !ws->grad_b) {
        ch_net_ws_destroy(&ws);
        return NULL;
    }
    if (half) {
        ws->fa = s_ws_alloc(ws, S_CHUNK * max_out, sizeof(float));
        ws->fb = s_ws_alloc(ws, S_CHUNK * max_out, sizeof(float));
        ws->wt = s_ws_alloc(ws, max_tile, sizeof(float));
        ws->wh = s_ws_alloc(ws, net->n_params, sizeof(uint16_t));
        if (!ws->fa || !ws->fb || !ws->wt || !ws->wh) {
            ch_net_ws_destroy(&ws);
            return NULL;
        }
    }
    for (size_t l = 0; l < net->n_layers; l++) {
        const ch_layer *ly = &net->layers[l];
        if (half) {
            ws->h[l] = s_ws_alloc(ws, max_rows * ly->out, sizeof(uint16_t));
        } else {
            ws->out[l] = s_ws_alloc(ws, max_rows * ly->out, sizeof(float));
        }
        if (!ws->h[l] && !ws->out[l]) {
            ch_net_ws_destroy(&ws);
            return NULL;
        }
        if (ly->kind == CH_L_LAYERNORM || ly->kind == CH_L_DROPOUT) {
            size_t m = ly->kind == CH_L_LAYERNORM ? 2 * max_rows : max_rows * ly->out;
            ws->aux[l] = s_ws_alloc(ws, m, sizeof(float));
            if (!ws->aux[l]) {
                ch_net_ws_destroy(&ws);
                return NULL;
            }
        }
    }
    return ws;
}

size_t ch_net_ws_bytes(const ch_net_ws *ws)
{
    return ws->bytes;
}

uint16_t *ch_net_ws_half_weights(ch_net_ws *ws)
{
    return ws->wh;
}

/* Embedding layer: the inputs that are not embedded, in order, then each
 * embedding. */
static void s_embed_forward(const ch_net *net, const ch_layer *ly, float *y, const float *x,
                            const float *tab, size_t n)
{
    const ch_net_spec *sp = &net->spec;
    size_t d = ly->in, o = ly->out;
    for (size_t i = 0; i < n; i++) {
        size_t k = 0, e = 0;
        for (size_t j = 0; j < d; j++) {
            if (e < sp->n_embed && sp->embed[e].col == j) {
                e++;
                continue;
            }
            y[i * o + k++] = x[i * d + j];
        }
    }
    size_t pos = d - sp->n_embed;
    for (size_t e = 0; e < sp->n_embed; e++) {
        const ch_embed_spec *em = &sp->embed[e];
        ch_nn_embedding_forward(y + pos, o, x + em->col, d, tab, n, em->levels, em->dim);
        pos += em->dim;
        tab += em->levels * em->dim;
    }
}

/* Scatters into the tables; the inputs themselves get no gradient. */
static void s_embed_backward(const ch_net *net, const ch_layer *ly, float *gtab, const float *dy,
                             const float *x, size_t n)
{
    const ch_net_spec *sp = &net->spec;
    size_t d = ly->in, o = ly->out, pos = d - sp->n_embed;
    for (size_t e = 0; e < sp->n_embed; e++) {
        const ch_embed_spec *em = &sp->embed[e];
        ch_nn_embedding_backward(gtab, dy + pos, o, x + em->col, d, n, em->levels, em->dim);
        pos += em->dim;
        gtab += em->levels * em->dim;
    }
}

/* One layer's forward from in into out with its parameters p (float). */
static void s_layer_forward(const ch_net *net, size_t l, float *out, const float *in,
                            const float *p, size_t n, bool train, uint64_t seed,
                            uint64_t dropout_stream, ch_net_ws *ws)
{
    const ch_layer *ly = &net->layers[l];
    switch (ly->kind) {
    case CH_L_DENSE:
        ch_nn_dense_forward(out, in, p, p + (ly->b_off - ly->w_off), n, ly->in, ly->out);
        break;
    case CH_L_LAYERNORM:
        ch_nn_layernorm_forward(out, ws->aux[l], ws->aux[l] + ws->max_rows, in, p,
                                p + (ly->b_off - ly->w_off), n, ly->in);
        break;
    case CH_L_ACT:
        ch_nn_act_forward(net->spec.act, out, in, n * ly->in);
        break;
    case CH_L_DROPOUT:
        if (train) {
            ch_rng r;
            ch_rng_init(&r, seed, ch_rng_stream(CH_STREAM_ALGO + 1, dropout_stream * 64 + l));
            ch_nn_dropout_forward(out, ws->aux[l], in, n * ly->in, (float)net->spec.dropout, &r);
        } else {
            memcpy(out, in, n * ly->in * sizeof *out);
            for (size_t i = 0; i < n * ly->in; i++) {
                ws->aux[l][i] = 1.0f;
            }
        }
        break;
    case CH_L_EMBED:
        s_embed_forward(net, ly, out, in, p, n);
        break;
    }
}

/* BF16/FP16: a small layer's parameters (layer norm, embeddings) as
 * floats in ws->wt, from the stored ones. */
static const float *s_params(const ch_net *net, size_t l, ch_net_ws *ws)
{
    const ch_layer *ly = &net->layers[l];
    if (ly->p_len) {
        ch_half_load(ws->prec, ws->wt, ws->wh + ly->w_off, ly->p_len);
    }
    return ws->wt;
}

/* BF16/FP16 dense forward: y[:, j0:j1] = x W[j0:j1]^T + b[j0:j1], one
 * tile of output rows of W converted to float at a time. */
static void s_dense_forward_tiled(const ch_layer *ly, float *y, const float *x, size_t n,
                                  ch_net_ws *ws)
{
    size_t in = ly->in, out = ly->out;
    for (size_t j0 = 0; j0 < out; j0 += S_TILE) {
        size_t t = out - j0 < S_TILE ? out - j0 : S_TILE;
        float *wt = ws->wt, *bt = ws->wt + t * in;
        ch_half_load(ws->prec, wt, ws->wh + ly->w_off + j0 * in, t * in);
        ch_half_load(ws->prec, bt, ws->wh + ly->b_off + j0, t);
        for (size_t i = 0; i < n; i++) {
            memcpy(y + i * out + j0, bt, t * sizeof *y);
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)t, (int)in, 1.0f, x,
                    (int)in, wt, (int)in, 1.0f, y + j0, (int)out);
    }
}

/* BF16/FP16 dense backward over m rows whose input is x (m x in): dx (m
 * rows, may be NULL) = dy W, dW += dy^T x, db += column sums of dy, one
 * tile of W at a time. */
static void s_dense_backward_tiled(const ch_layer *ly, float *dx, float *dw, float *db,
                                   const float *dy, const float *x, size_t m, ch_net_ws *ws)
{
    size_t in = ly->in, out = ly->out;
    for (size_t j0 = 0; j0 < out; j0 += S_TILE) {
        size_t t = out - j0 < S_TILE ? out - j0 : S_TILE;
        if (dx) {
            ch_half_load(ws->prec, ws->wt, ws->wh + ly->w_off + j0 * in, t * in);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)in, (int)t, 1.0f,
                        dy + j0, (int)out, ws->wt, (int)in, j0 ? 1.0f : 0.0f, dx, (int)in);
        }
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)t, (int)in, (int)m, 1.0f, dy + j0,
                    (int)out, x, (int)in, 1.0f, dw + j0 * in, (int)in);
    }
    for (size_t i = 0; i < m; i++) {
        for (size_t j = 0; j < out; j++) {
            db[j] += dy[i * out + j];
        }
    }
}

/* Dropout masks come from (seed, CH_STREAM_ALGO + 1, dropout_stream * 64 +
 * layer), so a block's masks in a step are the same on any worker. */
const float *ch_net_forward(const ch_net *net, const float *w, const float *x, size_t n, bool train,
                            uint64_t seed, uint64_t dropout_stream, ch_net_ws *ws)
{
    if (ws->prec == CH_PREC_FP32) {
        const float *in = x;
        for (size_t l = 0; l < net->n_layers; l++) {
            s_layer_forward(net, l, ws->out[l], in, w + net->layers[l].w_off, n, train, seed,
                            dropout_stream, ws);
            in = ws->out[l];
        }
        return in;
    }
    if (w) {
        ch_half_store(ws->prec, ws->wh, w, net->n_params);
    }
    /* float ping-pong in the gradient buffers, idle until backward */
    const float *in = x;
    for (size_t l = 0; l < net->n_layers; l++) {
        float *out = in == ws->grad_a ? ws->grad_b : ws->grad_a;
        size_t m = n * net->layers[l].out;
        if (net->layers[l].kind == CH_L_DENSE) {
            s_dense_forward_tiled(&net->layers[l], out, in, n, ws);
        } else {
            s_layer_forward(net, l, out, in, s_params(net, l, ws), n, train, seed, dropout_stream,
                            ws);
        }
        ch_half_store(ws->prec, ws->h[l], out, m);
        ch_half_load(ws->prec, out, ws->h[l], m);
        in = out;
    }
    return in;
}

static bool s_half_finite(ch_precision p, uint16_t h)
{
    return p == CH_PREC_BF16 ? (h & 0x7f80u) != 0x7f80u : (h & 0x7c00u) != 0x7c00u;
}

/* A scan of each layer's output in order. This function can't fail. */
long ch_net_first_nonfinite(const ch_net *net, const ch_net_ws *ws, size_t n)
{
    for (size_t l = 0; l < net->n_layers; l++) {
        size_t m = n * net->layers[l].out;
        for (size_t i = 0; i < m; i++) {
            if (ws->prec == CH_PREC_FP32 ? !isfinite(ws->out[l][i])
                                         : !s_half_finite(ws->prec, ws->h[l][i])) {
                return (long)l;
            }
        }
    }
    return -1;
}

/* BF16/FP16 backward of layer k, S_CHUNK rows at a time: the stored
 * input (x for the first layer) and output are converted per chunk. */
static void s_backward_half(const ch_net *net, size_t k, const float *x, float *dx, const float *dy,
                            size_t n, float *g, ch_net_ws *ws)
{
    const ch_layer *ly = &net->layers[k];
    size_t in = ly->in, out = ly->out;
    switch (ly->kind) {
    case CH_L_DROPOUT:
        ch_nn_dropout_backward(dx, dy, ws->aux[k], n * in);
        return;
    case CH_L_EMBED:
        s_embed_backward(net, ly, g + ly->w_off, dy, x, n);
        return;
    default:
        break;
    }
    const float *gamma = ly->kind == CH_L_LAYERNORM ? s_params(net, k, ws) : NULL;
    for (size_t r0 = 0; r0 < n; r0 += S_CHUNK) {
        size_t m = n - r0 < S_CHUNK ? n - r0 : S_CHUNK;
        const float *xc = x + r0 * in;
        if (k > 0) {
            ch_half_load(ws->prec, ws->fa, ws->h[k - 1] + r0 * in, m * in);
            xc = ws->fa;
        }
        switch (ly->kind) {
        case CH_L_DENSE:
            s_dense_backward_tiled(ly, k ? dx + r0 * in : NULL, g + ly->w_off, g + ly->b_off,
                                   dy + r0 * out, xc, m, ws);
            break;
        case CH_L_LAYERNORM:
            ch_nn_layernorm_backward(dx + r0 * in, g + ly->w_off, g + ly->b_off, dy + r0 * in, xc,
                                     ws->aux[k] + r0, ws->aux[k] + ws->max_rows + r0, gamma, m, in);
            break;
        case CH_L_ACT:
            ch_half_load(ws->prec, ws->fb, ws->h[k] + r0 * out, m * out);
            ch_nn_act_backward(net->spec.act, dx + r0 * in, dy + r0 * in, xc, ws->fb, m * in);
            break;
        default:
            break;
        }
    }
}

/* Walks the layers backwards; the input gradient of layer l becomes the
 * output gradient of layer l-1. The first layer skips its input gradient.
 * This function can't fail. */
void ch_net_backward(const ch_net *net, const float *w, const float *x, float *dout, size_t n,
                     float *g, ch_net_ws *ws)
{
    bool half = ws->prec != CH_PREC_FP32;
    float *dy = dout;
    if (half) { /* the output gradient is stored at the precision too */
        ch_half_round(ws->prec, dout, n * net->spec.d_out);
    }
    for (size_t k = net->n_layers; k-- > 0;) {
        const ch_layer *ly = &net->layers[k];
        float *dx = (dy == ws->grad_a) ? ws->grad_b : ws->grad_a;
        if (half) {
            s_backward_half(net, k, x, dx, dy, n, g, ws);
            if (k) {
                ch_half_round(ws->prec, dx, n * ly->in);
            }
            dy = dx;
            continue;
        }
        const float *in = k ? ws->out[k - 1] : x;
        const float *p = w + ly->w_off;
        switch (ly->kind) {
        case CH_L_DENSE:
            ch_nn_dense_backward(k ? dx : NULL, g + ly->w_off, g + ly->b_off, dy, in, p, n, ly->in,
                                 ly->out);
            break;
        case CH_L_LAYERNORM:
            ch_nn_layernorm_backward(dx, g + ly->w_off, g + ly->b_off, dy, in, ws->aux[k],
                                     ws->aux[k] + ws->max_rows, p, n, ly->in);
            break;
        case CH_L_ACT:
            ch_nn_act_backward(net->spec.act, dx, dy, in, ws->out[k], n * ly->in);
            break;
        case CH_L_DROPOUT:
            ch_nn_dropout_backward(dx, dy, ws->aux[k], n * ly->in);
            break;
        case CH_L_EMBED:
            s_embed_backward(net, ly, g + ly->w_off, dy, in, n);
            break;
        }
        dy = dx;
    }
}
