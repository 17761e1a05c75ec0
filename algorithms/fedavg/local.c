/* local.c: the mlp and logistic adapters of the local trainer: the
 * network of algorithms/mlp/ (net.h, trainer.h) trained by mini-batch SGD
 * on one silo's rows, with FedProx's proximal term when mu > 0. */
#include "algorithms/fedavg/local.h"
#include "algorithms/mlp/trainer.h"
#include "common/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define S_CHUNK 512

typedef struct s_net_model {
    ch_net *net;
    ch_head head;
    size_t *tensor_end;
    size_t n_tensors;
    ch_net_ws *ws; /* rows: max(batch, S_CHUNK) */
    size_t ws_rows;
    float *g, *vel, *xb, *yb, *dout;
    size_t *perm;
    size_t perm_n;
} s_net_model;

static s_net_model *s_impl(const ch_fed_model *m)
{
    return m->impl;
}

static size_t s_n_params(const ch_fed_model *m)
{
    return s_impl(m)->net->n_params;
}

static size_t s_tensors(const ch_fed_model *m, const size_t **tensor_end)
{
    *tensor_end = s_impl(m)->tensor_end;
    return s_impl(m)->n_tensors;
}

static void s_init(const ch_fed_model *m, uint64_t seed, float *w)
{
    ch_net_init(s_impl(m)->net, CH_INIT_AUTO, seed, w);
}

/* Workspace for `rows` rows (grown on demand). */
static int s_ws(s_net_model *nm, size_t rows, ch_err *err)
{
    if (nm->ws && nm->ws_rows >= rows) {
        return 0;
    }
    ch_net_ws_destroy(&nm->ws);
    free(nm->xb);
    free(nm->yb);
    free(nm->dout);
    nm->ws = ch_net_ws_new(nm->net, rows);
    nm->xb = ch_alloc_array(rows, nm->net->spec.d_in * sizeof *nm->xb);
    nm->yb = ch_alloc_array(rows, sizeof *nm->yb);
    nm->dout = ch_alloc_array(rows, nm->net->spec.d_out * sizeof *nm->dout);
    nm->ws_rows = rows;
    if (!nm->ws || !nm->xb || !nm->yb || !nm->dout) {
        nm->ws_rows = 0;
        return ch_err_set(err, CH_ENOMEM, "out of memory for a workspace of %zu rows", rows);
    }
    return 0;
}

static int s_train(ch_fed_model *m, float *w, const float *w0, const float *x, const float *y,
                   size_t n, const ch_fed_local_opts *o, double *loss, ch_err *err)
{
    s_net_model *nm = s_impl(m);
    size_t np = nm->net->n_params, d = nm->net->spec.d_in;
    size_t bs = (size_t)o->batch_size < n ? (size_t)o->batch_size : n;
    int rc = s_ws(nm, bs > S_CHUNK ? bs : S_CHUNK, err);
    if (rc) {
        return rc;
    }
    if (nm->perm_n < n) {
        free(nm->perm);
        nm->perm = ch_alloc_array(n, sizeof *nm->perm);
        nm->perm_n = nm->perm ? n : 0;
        if (!nm->perm) {
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
    }
    if (o->momentum > 0) {
        memset(nm->vel, 0, np * sizeof *nm->vel); /* client state is not kept across rounds */
    }
    *loss = 0;
    for (long e = 0; e < o->epochs; e++) {
        ch_rng r;
        uint64_t id = ((uint64_t)o->round << 40) ^ ((uint64_t)o->shard << 16) ^ (uint64_t)e;
        ch_rng_init(&r, o->seed, ch_rng_stream(CH_STREAM_ALGO + 1, id));
        for (size_t i = 0; i < n; i++) {
            nm->perm[i] = i;
        }
        ch_rng_shuffle(&r, nm->perm, n);
        double sum = 0;
        for (size_t b = 0; b < n; b += bs) {
            size_t cnt = n - b < bs ? n - b : bs;
            for (size_t j = 0; j < cnt; j++) {
                size_t row = nm->perm[b + j];
                memcpy(nm->xb + j * d, x + row * d, d * sizeof *x);
                nm->yb[j] = y[row];
            }
            memset(nm->g, 0, np * sizeof *nm->g);
            ch_grad_out go;
            if (ch_mlp_grad(nm->net, nm->head, w, nm->xb, nm->yb, cnt, false, 0, 0, nm->ws,
                            nm->dout, nm->g, &go) != 0) {
                return ch_err_set(err, CH_EINVAL,
                                  "local training diverged in epoch %ld (loss not finite at "
                                  "layer %ld): lower model.lr",
                                  e + 1, go.bad_layer);
            }
            sum += go.loss;
            float inv = 1.0f / (float)cnt, lr = (float)o->lr, mu = (float)o->mu;
            float wd = (float)o->weight_decay, mom = (float)o->momentum;
            for (size_t i = 0; i < np; i++) {
                float gi = nm->g[i] * inv;
                if (wd > 0) {
                    gi += wd * w[i];
                }
                if (mu > 0) {
                    gi += mu * (w[i] - w0[i]); /* FedProx: grad of mu/2 |w - w0|^2 */
                }
                if (mom > 0) {
                    nm->vel[i] = mom * nm->vel[i] + gi;
                    gi = nm->vel[i];
                }
                w[i] -= lr * gi;
            }
        }
        *loss = sum / (double)n;
    }
    return 0;
}

static void s_eval(ch_fed_model *m, const float *w, const float *x, const float *y, size_t n,
                   double *loss, double *correct, float *prob)
{
    s_net_model *nm = s_impl(m);
    *loss = 0;
    *correct = 0;
    if (s_ws(nm, nm->ws_rows > S_CHUNK ? nm->ws_rows : S_CHUNK, NULL) != 0) {
        *loss = NAN;
        return;
    }
    ch_mlp_eval(nm->net, nm->head, w, x, y, n, nm->ws_rows, nm->ws, nm->dout, loss, correct, prob);
}

static void s_destroy(ch_fed_model *m)
{
    s_net_model *nm = s_impl(m);
    if (!nm) {
        return;
    }
    ch_net_destroy(&nm->net);
    ch_net_ws_destroy(&nm->ws);
    free(nm->tensor_end);
    free(nm->g);
    free(nm->vel);
    free(nm->xb);
    free(nm->yb);
    free(nm->dout);
    free(nm->perm);
    free(nm);
    m->impl = NULL;
}

static const ch_fed_model_ops s_mlp_ops = {"mlp",   s_n_params, s_tensors, s_init,
                                           s_train, s_eval,     s_destroy};
static const ch_fed_model_ops s_logistic_ops = {"logistic", s_n_params, s_tensors, s_init,
                                                s_train,    s_eval,     s_destroy};

ch_fed_model *ch_fed_model_new(const ch_fed_params *p, size_t d_in, size_t n_classes, ch_err *err)
{
    ch_head head = ch_head_for(n_classes);
    ch_net_spec spec = {.d_in = d_in,
                        .d_out = ch_head_outputs(head, n_classes),
                        .n_hidden = p->net == CH_FED_NET_MLP ? p->n_hidden : 0,
                        .act = p->act};
    memcpy(spec.hidden, p->hidden, sizeof spec.hidden);
    ch_fed_model *m = calloc(1, sizeof *m);
    s_net_model *nm = calloc(1, sizeof *nm);
    if (!m || !nm) {
        free(m);
        free(nm);
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    m->ops = p->net == CH_FED_NET_MLP ? &s_mlp_ops : &s_logistic_ops;
    m->impl = nm;
    nm->head = head;
    nm->net = ch_net_new(&spec, err);
    if (!nm->net) {
        ch_fed_model_destroy(&m);
        return NULL;
    }
    size_t np = nm->net->n_params;
    nm->tensor_end = ch_alloc_array(2 * nm->net->n_layers + 1, sizeof *nm->tensor_end);
    nm->g = ch_alloc_array(np, sizeof *nm->g);
    nm->vel = ch_calloc_array(p->momentum > 0 ? np : 1, sizeof *nm->vel);
    if (!nm->tensor_end || !nm->g || !nm->vel) {
        ch_err_set(err, CH_ENOMEM, "out of memory for a model of %zu parameters", np);
        ch_fed_model_destroy(&m);
        return NULL;
    }
    for (size_t l = 0; l < nm->net->n_layers; l++) {
        const ch_layer *ly = &nm->net->layers[l];
        if (ly->kind == CH_L_DENSE) {
            nm->tensor_end[nm->n_tensors++] = ly->w_off + ly->in * ly->out;
            nm->tensor_end[nm->n_tensors++] = ly->b_off + ly->out;
        }
    }
    return m;
}

void ch_fed_model_destroy(ch_fed_model **m)
{
    if (!m || !*m) {
        return;
    }
    if ((*m)->ops) {
        (*m)->ops->destroy(*m);
    }
    free(*m);
    *m = NULL;
}

size_t ch_fed_model_outputs(const ch_fed_model *m)
{
    return s_impl(m)->net->spec.d_out;
}
