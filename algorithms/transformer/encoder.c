/* encoder.c: the transformer encoder's layout, initialisation, forward and
 * backward (encoder.h), from the kernels of attention.h and of
 * algorithms/mlp/nn.h (dense, layer norm, GELU). */
#include "algorithms/transformer/encoder.h"
#include "algorithms/mlp/nn.h"
#include "algorithms/transformer/attention.h"
#include "common/rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const ch_tfm_input_names[] = {"vector", "tokens", NULL};
const char *const ch_tfm_pos_names[] = {"learned", "sinusoidal", "none", NULL};
const char *const ch_tfm_pool_names[] = {"mean", "cls", NULL};

typedef struct s_layer_ws {
    float *ln1, *m1, *r1, *qkv, *prob, *ctx, *h, *ln2, *m2, *r2, *f1, *g1, *out;
} s_layer_ws;

struct ch_tfm_ws {
    size_t max_rows;
    size_t n_layers;
    uint8_t *mask; /* max_rows x t, the class token real */
    float *emb;    /* max_rows x len x d_model: the input projection */
    float *x0;     /* max_rows x t x d_model: embedding + positions */
    s_layer_ws *lay;
    float *lnf, *mf, *rf, *pooled, *logits;
    float *dx, *da, *db, *dqkv, *df, *dg, *scratch, *dpool;
};

/* Reserves n floats at the end of the layout; false on overflow. */
static bool s_take(size_t *np, size_t *off, size_t n)
{
    if (*np > SIZE_MAX / 4 - n) {
        return false;
    }
    *off = *np;
    *np += n;
    return true;
}

static bool s_take2(size_t *np, size_t *off, size_t a, size_t b)
{
    size_t n;
    return ch_mul_size(a, b, &n) == 0 && s_take(np, off, n);
}

/* The sizes are checked here, so every later size product of a batch fits. */
ch_tfm *ch_tfm_new(const ch_tfm_spec *sp, ch_err *err)
{
    const char *what = NULL;
    size_t val = 0;
    if (sp->len == 0 || sp->len > CH_TFM_MAX_LEN) {
        what = "sequence length", val = sp->len;
    } else if (sp->d_in == 0 || sp->d_in > CH_TFM_MAX_WIDTH * 16) {
        what = "input width per position", val = sp->d_in;
    } else if (sp->d_model == 0 || sp->d_model > CH_TFM_MAX_WIDTH) {
        what = "d_model", val = sp->d_model;
    } else if (sp->heads == 0 || sp->heads > sp->d_model) {
        what = "heads", val = sp->heads;
    } else if (sp->n_layers > CH_TFM_MAX_LAYERS) {
        what = "layers", val = sp->n_layers;
    } else if (sp->d_ff == 0 || sp->d_ff > CH_TFM_MAX_WIDTH * 8) {
        what = "d_ff", val = sp->d_ff;
    } else if (sp->d_out == 0 || sp->d_out > 65536) {
        what = "outputs", val = sp->d_out;
    } else if (sp->input == CH_TFM_IN_TOKENS &&
               (sp->vocab == 0 || sp->vocab > (size_t)CH_TFM_MAX_VOCAB || sp->d_in != 1)) {
        what = "vocabulary", val = sp->vocab;
    }
    if (what) {
        ch_err_set(err, CH_EINVAL, "transformer: %s %zu is out of range", what, val);
        return NULL;
    }
    if (sp->d_model % sp->heads != 0) {
        ch_err_set(err, CH_EINVAL,
                   "transformer: d_model %zu is not divisible by heads %zu (each head gets "
                   "d_model / heads dimensions)",
                   sp->d_model, sp->heads);
        return NULL;
    }
    ch_tfm *m = calloc(1, sizeof *m);
    if (!m) {
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    m->spec = *sp;
    m->t = sp->len + (sp->pool == CH_TFM_POOL_CLS ? 1 : 0);
    m->blocks = calloc(sp->n_layers ? sp->n_layers : 1, sizeof *m->blocks);
    size_t D = sp->d_model, F = sp->d_ff, np = 0, tmp;
    bool ok = m->blocks != NULL;
    if (sp->input == CH_TFM_IN_VECTOR) {
        ok = ok && s_take2(&np, &m->in_w, D, sp->d_in) && s_take(&np, &m->in_b, D);
    } else {
        ok = ok && s_take2(&np, &m->in_w, sp->vocab, D) && s_take(&np, &m->in_b, 0);
    }
    ok = ok && s_take(&np, &m->cls, sp->pool == CH_TFM_POOL_CLS ? D : 0);
    ok = ok && s_take2(&np, &m->pos, sp->pos == CH_TFM_POS_LEARNED ? sp->len : 0, D);
    for (size_t l = 0; l < sp->n_layers && ok; l++) {
        ch_tfm_block *b = &m->blocks[l];
        ok = s_take(&np, &b->ln1_g, D) && s_take(&np, &b->ln1_b, D) &&
             s_take2(&np, &b->wqkv, 3 * D, D) && s_take(&np, &b->bqkv, 3 * D) &&
             s_take2(&np, &b->wo, D, D) && s_take(&np, &b->bo, D) && s_take(&np, &b->ln2_g, D) &&
             s_take(&np, &b->ln2_b, D) && s_take2(&np, &b->w1, F, D) && s_take(&np, &b->b1, F) &&
             s_take2(&np, &b->w2, D, F) && s_take(&np, &b->b2, D);
    }
    ok = ok && s_take(&np, &m->lnf_g, D) && s_take(&np, &m->lnf_b, D) &&
         s_take2(&np, &m->head_w, sp->d_out, D) && s_take(&np, &m->head_b, sp->d_out) &&
         ch_mul_size(sp->len, D, &tmp) == 0;
    m->n_params = np;
    if (ok && sp->pos == CH_TFM_POS_SINUSOIDAL) {
        m->pe = ch_alloc_array(sp->len, D * sizeof *m->pe);
        ok = m->pe != NULL;
        if (ok) {
            ch_tfm_sinusoid(m->pe, sp->len, D);
        }
    }
    if (!ok) {
        ch_err_set(err, CH_ENOMEM, "transformer: out of memory for the network's layout");
        ch_tfm_destroy(&m);
    }
    return m;
}

void ch_tfm_destroy(ch_tfm **pm)
{
    if (!pm || !*pm) {
        return;
    }
    free((*pm)->blocks);
    free((*pm)->pe);
    free(*pm);
    *pm = NULL;
}

static void s_xavier(float *w, size_t out, size_t in, uint64_t seed, uint64_t *k)
{
    ch_rng r;
    ch_rng_init(&r, seed, ch_rng_stream(CH_STREAM_INIT, (*k)++));
    double a = sqrt(6.0 / (double)(in + out));
    for (size_t i = 0; i < out * in; i++) {
        w[i] = (float)((2 * ch_rng_uniform(&r) - 1) * a);
    }
}

static void s_normal(float *w, size_t n, double sd, uint64_t seed, uint64_t *k)
{
    ch_rng r;
    ch_rng_init(&r, seed, ch_rng_stream(CH_STREAM_INIT, (*k)++));
    for (size_t i = 0; i < n; i++) {
        w[i] = (float)(ch_rng_normal(&r) * sd);
    }
}

static void s_fill(float *w, size_t n, float v)
{
    for (size_t i = 0; i < n; i++) {
        w[i] = v;
    }
}

/* This function can't fail. */
void ch_tfm_init(const ch_tfm *m, uint64_t seed, float *w)
{
    const ch_tfm_spec *sp = &m->spec;
    size_t D = sp->d_model, F = sp->d_ff;
    uint64_t k = 0;
    memset(w, 0, m->n_params * sizeof *w);
    if (sp->input == CH_TFM_IN_VECTOR) {
        s_xavier(w + m->in_w, D, sp->d_in, seed, &k);
    } else {
        s_normal(w + m->in_w, sp->vocab * D, 1.0, seed, &k);
    }
    if (sp->pool == CH_TFM_POOL_CLS) {
        s_normal(w + m->cls, D, 0.02, seed, &k);
    }
    if (sp->pos == CH_TFM_POS_LEARNED) {
        s_normal(w + m->pos, sp->len * D, 0.02, seed, &k);
    }
    for (size_t l = 0; l < sp->n_layers; l++) {
        const ch_tfm_block *b = &m->blocks[l];
        s_fill(w + b->ln1_g, D, 1.0f);
        s_fill(w + b->ln2_g, D, 1.0f);
        s_xavier(w + b->wqkv, 3 * D, D, seed, &k);
        s_xavier(w + b->wo, D, D, seed, &k);
        s_xavier(w + b->w1, F, D, seed, &k);
        s_xavier(w + b->w2, D, F, seed, &k);
    }
    s_fill(w + m->lnf_g, D, 1.0f);
    s_xavier(w + m->head_w, sp->d_out, D, seed, &k);
}

/* n1 * n2 * n3 floats, or NULL (overflow or out of memory). */
static float *s_arr(size_t n1, size_t n2, size_t n3)
{
    size_t a, b;
    if (ch_mul_size(n1, n2, &a) != 0 || ch_mul_size(a, n3 ? n3 : 1, &b) != 0) {
        return NULL;
    }
    return ch_alloc_array(b ? b : 1, sizeof(float));
}

static void s_layers_free(s_layer_ws *lay, size_t n)
{
    for (size_t l = 0; lay && l < n; l++) {
        float **a[] = {&lay[l].ln1, &lay[l].m1, &lay[l].r1,  &lay[l].qkv, &lay[l].prob,
                       &lay[l].ctx, &lay[l].h,  &lay[l].ln2, &lay[l].m2,  &lay[l].r2,
                       &lay[l].f1,  &lay[l].g1, &lay[l].out};
        for (size_t i = 0; i < sizeof a / sizeof a[0]; i++) {
            free(*a[i]);
        }
    }
    free(lay);
}

void ch_tfm_ws_destroy(ch_tfm_ws **pws)
{
    if (!pws || !*pws) {
        return;
    }
    ch_tfm_ws *ws = *pws;
    s_layers_free(ws->lay, ws->n_layers);
    free(ws->mask);
    free(ws->emb);
    free(ws->x0);
    free(ws->lnf);
    free(ws->mf);
    free(ws->rf);
    free(ws->pooled);
    free(ws->logits);
    free(ws->dx);
    free(ws->da);
    free(ws->db);
    free(ws->dqkv);
    free(ws->df);
    free(ws->dg);
    free(ws->scratch);
    free(ws->dpool);
    free(ws);
    *pws = NULL;
}

ch_tfm_ws *ch_tfm_ws_new(const ch_tfm *m, size_t max_rows)
{
    const ch_tfm_spec *sp = &m->spec;
    size_t B = max_rows ? max_rows : 1, T = m->t, D = sp->d_model, F = sp->d_ff, H = sp->heads;
    size_t BT;
    if (ch_mul_size(B, T, &BT) != 0) {
        return NULL;
    }
    ch_tfm_ws *ws = calloc(1, sizeof *ws);
    if (!ws) {
        return NULL;
    }
    ws->max_rows = B;
    ws->n_layers = sp->n_layers;
    ws->mask = calloc(BT, 1);
    ws->emb = s_arr(B, sp->len, D);
    ws->x0 = s_arr(BT, D, 1);
    ws->lay = calloc(sp->n_layers + 1, sizeof *ws->lay);
    if (!ws->lay) {
        ws->n_layers = 0;
    }
    bool ok = ws->mask && ws->emb && ws->x0 && ws->lay;
    for (size_t l = 0; l < sp->n_layers && ok; l++) {
        s_layer_ws *y = &ws->lay[l];
        y->ln1 = s_arr(BT, D, 1);
        y->m1 = s_arr(BT, 1, 1);
        y->r1 = s_arr(BT, 1, 1);
        y->qkv = s_arr(BT, 3 * D, 1);
        y->prob = s_arr(B * H, T, T);
        y->ctx = s_arr(BT, D, 1);
        y->h = s_arr(BT, D, 1);
        y->ln2 = s_arr(BT, D, 1);
        y->m2 = s_arr(BT, 1, 1);
        y->r2 = s_arr(BT, 1, 1);
        y->f1 = s_arr(BT, F, 1);
        y->g1 = s_arr(BT, F, 1);
        y->out = s_arr(BT, D, 1);
        ok = y->ln1 && y->m1 && y->r1 && y->qkv && y->prob && y->ctx && y->h && y->ln2 && y->m2 &&
             y->r2 && y->f1 && y->g1 && y->out;
    }
    ws->lnf = s_arr(BT, D, 1);
    ws->mf = s_arr(BT, 1, 1);
    ws->rf = s_arr(BT, 1, 1);
    ws->pooled = s_arr(B, D, 1);
    ws->logits = s_arr(B, sp->d_out, 1);
    ws->dx = s_arr(BT, D, 1);
    ws->da = s_arr(BT, D, 1);
    ws->db = s_arr(BT, D, 1);
    ws->dqkv = s_arr(BT, 3 * D, 1);
    ws->df = s_arr(BT, F, 1);
    ws->dg = s_arr(BT, F, 1);
    ws->scratch = s_arr(T, T, 1);
    ws->dpool = s_arr(B, D, 1);
    ok = ok && ws->lnf && ws->mf && ws->rf && ws->pooled && ws->logits && ws->dx && ws->da &&
         ws->db && ws->dqkv && ws->df && ws->dg && ws->scratch && ws->dpool;
    if (!ok) {
        ch_tfm_ws_destroy(&ws);
        return NULL;
    }
    return ws;
}

/* x0 = embedding + positions (+ class token), and the network's mask. */
static void s_embed(const ch_tfm *m, const float *w, const float *x, const uint8_t *mask, size_t n,
                    ch_tfm_ws *ws)
{
    const ch_tfm_spec *sp = &m->spec;
    size_t D = sp->d_model, L = sp->len, T = m->t, off = T - L;
    if (sp->input == CH_TFM_IN_VECTOR) {
        ch_nn_dense_forward(ws->emb, x, w + m->in_w, w + m->in_b, n * L, sp->d_in, D);
    } else {
        for (size_t i = 0; i < n * L; i++) {
            /* ids were checked by the caller; clamp so a bad one cannot read out of bounds */
            float v = x[i];
            size_t id = v >= 0 && v < (float)sp->vocab ? (size_t)v : 0;
            memcpy(ws->emb + i * D, w + m->in_w + id * D, D * sizeof(float));
        }
    }
    for (size_t s = 0; s < n; s++) {
        if (off) {
            memcpy(ws->x0 + s * T * D, w + m->cls, D * sizeof(float));
            ws->mask[s * T] = 1;
        }
        for (size_t i = 0; i < L; i++) {
            float *r = ws->x0 + (s * T + off + i) * D;
            const float *e = ws->emb + (s * L + i) * D;
            const float *p = sp->pos == CH_TFM_POS_LEARNED      ? w + m->pos + i * D
                             : sp->pos == CH_TFM_POS_SINUSOIDAL ? m->pe + i * D
                                                                : NULL;
            for (size_t j = 0; j < D; j++) {
                r[j] = e[j] + (p ? p[j] : 0.0f);
            }
            ws->mask[s * T + off + i] = mask[s * L + i] ? 1 : 0;
        }
    }
}

const float *ch_tfm_forward(const ch_tfm *m, const float *w, const float *x, const uint8_t *mask,
                            size_t n, ch_tfm_ws *ws)
{
    const ch_tfm_spec *sp = &m->spec;
    size_t D = sp->d_model, F = sp->d_ff, T = m->t, BT = n * T;
    s_embed(m, w, x, mask, n, ws);
    const float *xin = ws->x0;
    for (size_t l = 0; l < sp->n_layers; l++) {
        const ch_tfm_block *b = &m->blocks[l];
        s_layer_ws *y = &ws->lay[l];
        ch_nn_layernorm_forward(y->ln1, y->m1, y->r1, xin, w + b->ln1_g, w + b->ln1_b, BT, D);
        ch_nn_dense_forward(y->qkv, y->ln1, w + b->wqkv, w + b->bqkv, BT, D, 3 * D);
        ch_tfm_attn_forward(y->ctx, y->prob, y->qkv, ws->mask, n, T, sp->heads, D);
        ch_nn_dense_forward(y->h, y->ctx, w + b->wo, w + b->bo, BT, D, D);
        for (size_t i = 0; i < BT * D; i++) {
            y->h[i] += xin[i];
        }
        ch_nn_layernorm_forward(y->ln2, y->m2, y->r2, y->h, w + b->ln2_g, w + b->ln2_b, BT, D);
        ch_nn_dense_forward(y->f1, y->ln2, w + b->w1, w + b->b1, BT, D, F);
        ch_nn_act_forward(CH_ACT_GELU, y->g1, y->f1, BT * F);
        ch_nn_dense_forward(y->out, y->g1, w + b->w2, w + b->b2, BT, F, D);
        for (size_t i = 0; i < BT * D; i++) {
            y->out[i] += y->h[i];
        }
        xin = y->out;
    }
    ch_nn_layernorm_forward(ws->lnf, ws->mf, ws->rf, xin, w + m->lnf_g, w + m->lnf_b, BT, D);
    if (sp->pool == CH_TFM_POOL_CLS) {
        ch_tfm_pool_first_forward(ws->pooled, ws->lnf, n, T, D);
    } else {
        ch_tfm_pool_mean_forward(ws->pooled, ws->lnf, ws->mask, n, T, D);
    }
    ch_nn_dense_forward(ws->logits, ws->pooled, w + m->head_w, w + m->head_b, n, D, sp->d_out);
    return ws->logits;
}

void ch_tfm_backward(const ch_tfm *m, const float *w, const float *x, const float *dout, size_t n,
                     float *g, ch_tfm_ws *ws)
{
    const ch_tfm_spec *sp = &m->spec;
    size_t D = sp->d_model, F = sp->d_ff, T = m->t, BT = n * T, L = sp->len, off = T - L;
    ch_nn_dense_backward(ws->dpool, g + m->head_w, g + m->head_b, dout, ws->pooled, w + m->head_w,
                         n, D, sp->d_out);
    if (sp->pool == CH_TFM_POOL_CLS) {
        ch_tfm_pool_first_backward(ws->da, ws->dpool, n, T, D);
    } else {
        ch_tfm_pool_mean_backward(ws->da, ws->dpool, ws->mask, n, T, D);
    }
    const float *last = sp->n_layers ? ws->lay[sp->n_layers - 1].out : ws->x0;
    /* dx: the gradient of the residual stream entering the current stage */
    ch_nn_layernorm_backward(ws->dx, g + m->lnf_g, g + m->lnf_b, ws->da, last, ws->mf, ws->rf,
                             w + m->lnf_g, BT, D);
    for (size_t l = sp->n_layers; l-- > 0;) {
        const ch_tfm_block *b = &m->blocks[l];
        s_layer_ws *y = &ws->lay[l];
        const float *xin = l ? ws->lay[l - 1].out : ws->x0;
        /* feed-forward: out = h + W2 gelu(W1 ln2(h)) */
        ch_nn_dense_backward(ws->dg, g + b->w2, g + b->b2, ws->dx, y->g1, w + b->w2, BT, F, D);
        ch_nn_act_backward(CH_ACT_GELU, ws->df, ws->dg, y->f1, y->g1, BT * F);
        ch_nn_dense_backward(ws->da, g + b->w1, g + b->b1, ws->df, y->ln2, w + b->w1, BT, D, F);
        ch_nn_layernorm_backward(ws->db, g + b->ln2_g, g + b->ln2_b, ws->da, y->h, y->m2, y->r2,
                                 w + b->ln2_g, BT, D);
        for (size_t i = 0; i < BT * D; i++) {
            ws->dx[i] += ws->db[i]; /* now d h */
        }
        /* attention: h = xin + Wo attn(Wqkv ln1(xin)) */
        ch_nn_dense_backward(ws->da, g + b->wo, g + b->bo, ws->dx, y->ctx, w + b->wo, BT, D, D);
        ch_tfm_attn_backward(ws->dqkv, ws->da, y->prob, y->qkv, n, T, sp->heads, D, ws->scratch);
        ch_nn_dense_backward(ws->db, g + b->wqkv, g + b->bqkv, ws->dqkv, y->ln1, w + b->wqkv, BT, D,
                             3 * D);
        ch_nn_layernorm_backward(ws->da, g + b->ln1_g, g + b->ln1_b, ws->db, xin, y->m1, y->r1,
                                 w + b->ln1_g, BT, D);
        for (size_t i = 0; i < BT * D; i++) {
            ws->dx[i] += ws->da[i]; /* now d xin */
        }
    }
    /* embedding: class token, positions, input projection or table */
    for (size_t s = 0; s < n; s++) {
        if (off) {
            const float *r = ws->dx + s * T * D;
            for (size_t j = 0; j < D; j++) {
                g[m->cls + j] += r[j];
            }
        }
        for (size_t i = 0; i < L; i++) {
            const float *r = ws->dx + (s * T + off + i) * D;
            if (sp->pos == CH_TFM_POS_LEARNED) {
                for (size_t j = 0; j < D; j++) {
                    g[m->pos + i * D + j] += r[j];
                }
            }
            if (sp->input == CH_TFM_IN_TOKENS) {
                float v = x[s * L + i];
                size_t id = v >= 0 && v < (float)sp->vocab ? (size_t)v : 0;
                for (size_t j = 0; j < D; j++) {
                    g[m->in_w + id * D + j] += r[j];
                }
            } else {
                memcpy(ws->emb + (s * L + i) * D, r, D * sizeof(float));
            }
        }
    }
    if (sp->input == CH_TFM_IN_VECTOR) {
        ch_nn_dense_backward(NULL, g + m->in_w, g + m->in_b, ws->emb, x, w + m->in_w, n * L,
                             sp->d_in, D);
    }
}

static bool s_finite(const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(v[i])) {
            return false;
        }
    }
    return true;
}

long ch_tfm_first_nonfinite(const ch_tfm *m, const ch_tfm_ws *ws, size_t n)
{
    size_t D = m->spec.d_model, BT = n * m->t;
    if (!s_finite(ws->x0, BT * D)) {
        return 0;
    }
    for (size_t l = 0; l < m->spec.n_layers; l++) {
        if (!s_finite(ws->lay[l].h, BT * D)) {
            return 1 + 2 * (long)l;
        }
        if (!s_finite(ws->lay[l].out, BT * D)) {
            return 2 + 2 * (long)l;
        }
    }
    long k = 1 + 2 * (long)m->spec.n_layers;
    if (!s_finite(ws->lnf, BT * D)) {
        return k;
    }
    if (!s_finite(ws->logits, n * m->spec.d_out)) {
        return k + 1;
    }
    return -1;
}

void ch_tfm_stage_name(const ch_tfm *m, long stage, char *buf, size_t size)
{
    long nl = (long)m->spec.n_layers;
    if (stage < 0) {
        snprintf(buf, size, "the loss itself");
    } else if (stage == 0) {
        snprintf(buf, size, "the embedding");
    } else if (stage <= 2 * nl) {
        snprintf(buf, size, "the %s of block %ld", stage % 2 ? "attention" : "feed-forward",
                 (stage - 1) / 2 + 1);
    } else if (stage == 2 * nl + 1) {
        snprintf(buf, size, "the final layer norm");
    } else {
        snprintf(buf, size, "the output layer");
    }
}
