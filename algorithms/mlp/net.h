/* net.h: a multilayer perceptron: the layer stack, its flat parameter
 * layout, initialisation from the seed, and forward/backward over a batch.
 *
 * An optional first layer looks up embeddings of categorical columns (the
 * input holds their level codes) and concatenates them after the other
 * inputs. Each hidden layer is dense -> [layer norm] -> activation ->
 * [dropout]; the output layer is dense (logits or the regression value).
 *
 * Precision (spec.precision): FP32 keeps everything in float. BF16 and FP16
 * store the weights used by the pass (rounded from the float master
 * weights) and every layer's output in 16 bits; each layer converts its
 * tiles to float, runs sgemm in float and accumulates parameter gradients
 * in float. Input gradients between layers are rounded to the precision
 * (held in float arrays), so fp16 gradients underflow and overflow as fp16
 * storage would: the reason for loss scaling (trainer.h). All
 * parameters live in one float array (weights then bias of each dense,
 * gain then bias of each layer norm), so a gradient, an optimizer state and
 * a message are each one contiguous array. */
#ifndef CH_MLP_NET_H
#define CH_MLP_NET_H

#include "algorithms/mlp/half.h"
#include "algorithms/mlp/nn.h"
#include "common/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CH_MLP_MAX_HIDDEN    16
#define CH_MLP_MAX_WIDTH     65536
#define CH_MLP_MAX_EMBED     64
#define CH_MLP_MAX_EMBED_DIM 1024

typedef enum { CH_L_DENSE = 0, CH_L_LAYERNORM, CH_L_ACT, CH_L_DROPOUT, CH_L_EMBED } ch_layer_kind;

typedef struct ch_layer {
    ch_layer_kind kind;
    size_t in, out;      /* widths (equal except for dense) */
    size_t w_off, b_off; /* dense: weights, bias; layer norm: gamma, beta */
    size_t dense_index;  /* dense: 0, 1, ... (names in messages) */
    size_t p_len;        /* parameters of the layer, contiguous from w_off */
} ch_layer;

/* One embedded column: input position col holds a level code 0..levels-1
 * (anything else, e.g. -1 for missing, looks up a zero vector). */
typedef struct ch_embed_spec {
    size_t col, levels, dim;
} ch_embed_spec;

typedef struct ch_net_spec {
    size_t d_in, d_out;
    size_t n_hidden;
    size_t hidden[CH_MLP_MAX_HIDDEN];
    ch_act act;
    bool layer_norm;
    double dropout;         /* probability in [0, 1) */
    ch_precision precision; /* storage of weights and activations */
    size_t n_embed;         /* embedded columns, by increasing col */
    ch_embed_spec embed[CH_MLP_MAX_EMBED];
} ch_net_spec;

typedef struct ch_net {
    ch_net_spec spec;
    size_t n_layers;
    ch_layer *layers;
    size_t n_params;
    size_t max_width;
} ch_net;

/* Builds the layer stack of spec. NULL with err set when a width is 0 or
 * above CH_MLP_MAX_WIDTH, an embedding is malformed (column out of range or
 * not increasing, no levels, dimension 0 or above CH_MLP_MAX_EMBED_DIM), or
 * the parameter count overflows. */
ch_net *ch_net_new(const ch_net_spec *spec, ch_err *err);
void ch_net_destroy(ch_net **net);
/* "dense 2 (32 -> 10)", "relu after dense 1" ...: a layer's name for messages. */
void ch_net_layer_name(const ch_net *net, size_t l, char *buf, size_t size);

typedef enum { CH_INIT_AUTO = 0, CH_INIT_HE = 1, CH_INIT_XAVIER = 2 } ch_init_kind;
extern const char *const ch_init_names[];

/* Fills w[n_params]: dense weights He normal (std sqrt(2 / in)) or Xavier
 * uniform (+-sqrt(6 / (in + out))) from the stream (seed, CH_STREAM_INIT,
 * dense index); biases 0; layer-norm gains 1; embedding tables standard
 * normal (torch.nn.Embedding's default) from (seed, CH_STREAM_INIT, 4096 +
 * embedding index). AUTO is He for ReLU/GELU and
 * Xavier for tanh/sigmoid. This function can't fail. */
void ch_net_init(const ch_net *net, ch_init_kind kind, uint64_t seed, float *w);

/* Activations kept between forward and backward for up to max_rows rows. */
typedef struct ch_net_ws ch_net_ws;
ch_net_ws *ch_net_ws_new(const ch_net *net, size_t max_rows);
void ch_net_ws_destroy(ch_net_ws **ws);
/* Bytes the workspace holds for activations, their gradients and the
 * stored (half) weights: what the precision saves. */
size_t ch_net_ws_bytes(const ch_net_ws *ws);
/* BF16/FP16: the workspace's n_params stored weights, which ch_net_forward
 * uses when given w == NULL (a worker that received half weights fills
 * them directly). NULL for FP32. */
uint16_t *ch_net_ws_half_weights(ch_net_ws *ws);

/* Forward pass of n <= max_rows rows x (n x d_in). train enables dropout
 * with masks from the stream (seed, dropout_stream + layer). Returns the
 * output (n x d_out), owned by ws. With BF16/FP16 the master weights w are
 * rounded into the workspace's stored weights first (w NULL: use the
 * stored weights as they are); the inputs x are used as given (level
 * codes of embedded columns must stay exact; callers that keep inputs in
 * 16 bits pass their float values). The returned output then lives in
 * the workspace's gradient buffers, valid until ch_net_backward. */
const float *ch_net_forward(const ch_net *net, const float *w, const float *x, size_t n, bool train,
                            uint64_t seed, uint64_t dropout_stream, ch_net_ws *ws);
/* The first layer (0-based) whose output has a non-finite value in the last
 * forward pass, or -1. */
long ch_net_first_nonfinite(const ch_net *net, const ch_net_ws *ws, size_t n);
/* Backward pass from dout (n x d_out, the loss gradient of the last
 * forward's output); accumulates into g[n_params]. dout is overwritten.
 * With BF16/FP16, w is not read: the pass uses the stored weights of the
 * last forward (so w may be NULL). */
void ch_net_backward(const ch_net *net, const float *w, const float *x, float *dout, size_t n,
                     float *g, ch_net_ws *ws);

#endif
