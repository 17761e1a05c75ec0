/* encoder.h: a small transformer encoder for classifying or regressing
 * sequences: its flat parameter layout, initialisation from the seed, and
 * forward/backward over a batch of padded sequences.
 *
 *   input (b x len x d_in vectors, or b x len token ids)
 *     -> dense d_in -> d_model (vectors) or embedding table (tokens)
 *     -> [class token prepended] + positions (learned, sinusoidal or none)
 *     -> n_layers pre-norm blocks:  x += MHA(LN(x)) (padding keys masked)
 *                                   x += W2 GELU(W1 LN(x))
 *     -> final LN -> mean over the real positions, or the class token
 *     -> dense d_model -> d_out (logits or the regression value)
 *
 * That is PyTorch's nn.TransformerEncoder of nn.TransformerEncoderLayer(
 * d_model, heads, d_ff, dropout=0, activation="gelu", batch_first=True,
 * norm_first=True) with a final nn.LayerNorm, and each block's parameters
 * are laid out as that layer's state_dict (in_proj_weight 3d x d, ...), so
 * the reference test copies them one to one. All parameters live in one
 * float array, so a gradient, an optimizer state and a message are each one
 * contiguous array. */
#ifndef CH_TFM_ENCODER_H
#define CH_TFM_ENCODER_H

#include "common/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CH_TFM_MAX_LEN    4096
#define CH_TFM_MAX_WIDTH  8192
#define CH_TFM_MAX_LAYERS 64
#define CH_TFM_MAX_VOCAB  (1L << 24)

typedef enum { CH_TFM_IN_VECTOR = 0, CH_TFM_IN_TOKENS = 1 } ch_tfm_input;
typedef enum { CH_TFM_POS_LEARNED = 0, CH_TFM_POS_SINUSOIDAL = 1, CH_TFM_POS_NONE = 2 } ch_tfm_pos;
typedef enum { CH_TFM_POOL_MEAN = 0, CH_TFM_POOL_CLS = 1 } ch_tfm_pool;

/* Names in enum order, NULL-terminated. */
extern const char *const ch_tfm_input_names[];
extern const char *const ch_tfm_pos_names[];
extern const char *const ch_tfm_pool_names[];

typedef struct ch_tfm_spec {
    size_t len;   /* positions per sequence (padded length) */
    size_t d_in;  /* vector inputs: values per position; tokens: 1 */
    size_t vocab; /* tokens: ids 0..vocab-1 */
    size_t d_model, heads, n_layers, d_ff;
    size_t d_out;
    ch_tfm_input input;
    ch_tfm_pos pos;
    ch_tfm_pool pool;
} ch_tfm_spec;

/* Offsets of one block's tensors in the parameter array. */
typedef struct ch_tfm_block {
    size_t ln1_g, ln1_b, wqkv, bqkv, wo, bo, ln2_g, ln2_b, w1, b1, w2, b2;
} ch_tfm_block;

typedef struct ch_tfm {
    ch_tfm_spec spec;
    size_t t;          /* positions inside the network: len, + 1 with a class token */
    size_t in_w, in_b; /* vector input dense; tokens: in_w is the embedding table */
    size_t cls, pos;   /* class token, learned positions (when used) */
    ch_tfm_block *blocks;
    size_t lnf_g, lnf_b, head_w, head_b;
    size_t n_params;
    float *pe; /* sinusoidal table (len x d_model) or NULL */
} ch_tfm;

/* Builds the layout of spec. NULL with err set when a size is out of range
 * (the message names it), when d_model is not a multiple of heads, or when
 * the parameter count overflows. */
ch_tfm *ch_tfm_new(const ch_tfm_spec *spec, ch_err *err);
void ch_tfm_destroy(ch_tfm **m);

/* Fills w[n_params] from the stream (seed, CH_STREAM_INIT, tensor index):
 * dense weights Xavier uniform, biases 0, layer-norm gains 1, class token
 * and learned positions normal(0, 0.02), token embeddings normal(0, 1).
 * This function can't fail. */
void ch_tfm_init(const ch_tfm *m, uint64_t seed, float *w);

/* Activations kept between forward and backward for up to max_rows
 * sequences. */
typedef struct ch_tfm_ws ch_tfm_ws;
ch_tfm_ws *ch_tfm_ws_new(const ch_tfm *m, size_t max_rows);
void ch_tfm_ws_destroy(ch_tfm_ws **ws);

/* Forward pass of n <= max_rows sequences: x (n x len x d_in, 0 at
 * padding), mask (n x len, 1 = real position; every sequence has one).
 * Returns the output (n x d_out), owned by ws. */
const float *ch_tfm_forward(const ch_tfm *m, const float *w, const float *x, const uint8_t *mask,
                            size_t n, ch_tfm_ws *ws);
/* Backward pass from dout (n x d_out, the loss gradient of the last
 * forward's output); ACCUMULATES into g[n_params]. */
void ch_tfm_backward(const ch_tfm *m, const float *w, const float *x, const float *dout, size_t n,
                     float *g, ch_tfm_ws *ws);

/* The first stage (0 embedding, 1 + 2l attention of block l, 2 + 2l
 * feed-forward of block l, then the final norm and the head) whose output
 * has a non-finite value in the last forward pass, or -1. */
long ch_tfm_first_nonfinite(const ch_tfm *m, const ch_tfm_ws *ws, size_t n);
/* "embedding", "attention of block 2", ...: a stage's name for messages. */
void ch_tfm_stage_name(const ch_tfm *m, long stage, char *buf, size_t size);

#endif
