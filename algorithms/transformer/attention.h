/* attention.h: the sequence kernels of the transformer encoder as plain
 * functions over flat float arrays (llm.c style, conventions of
 * algorithms/mlp/nn.h): masked multi-head self-attention, mean and
 * class-token pooling, sinusoidal positions.
 *
 * A batch holds b sequences of t positions, row-major (b * t) x d; a mask
 * (b x t bytes) says which positions are real (1) and which are padding
 * (0). Backward functions OVERWRITE input gradients. None of these
 * functions allocates or fails. */
#ifndef CH_TFM_ATTENTION_H
#define CH_TFM_ATTENTION_H

#include <stddef.h>
#include <stdint.h>

/* Multi-head scaled dot-product self-attention of PyTorch's
 * nn.MultiheadAttention (without its projections): qkv ((b * t) x 3d) holds
 * per position the query, key and value vectors (d = heads * hd each, head
 * h in columns [h * hd, (h + 1) * hd) of each third). For every sequence
 * and head, scores = q k^T / sqrt(hd), keys at padding positions get -inf
 * (key_padding_mask), softmax over keys. prob (b x heads x t x t) receives
 * the attention weights and ctx ((b * t) x d) the heads' outputs side by
 * side. Every sequence needs at least one real position. */
void ch_tfm_attn_forward(float *ctx, float *prob, const float *qkv, const uint8_t *mask, size_t b,
                         size_t t, size_t heads, size_t d);
/* dqkv ((b * t) x 3d) from dctx, through the attention of the forward
 * pass (prob and qkv as it left them). scratch: t x t floats. */
void ch_tfm_attn_backward(float *dqkv, const float *dctx, const float *prob, const float *qkv,
                          size_t b, size_t t, size_t heads, size_t d, float *scratch);

/* Mean pooling: y (b x d) = the mean of each sequence's real positions of
 * x ((b * t) x d). */
void ch_tfm_pool_mean_forward(float *y, const float *x, const uint8_t *mask, size_t b, size_t t,
                              size_t d);
/* dx ((b * t) x d): dy spread over the real positions, 0 at padding. */
void ch_tfm_pool_mean_backward(float *dx, const float *dy, const uint8_t *mask, size_t b, size_t t,
                               size_t d);
/* Class-token pooling: y (b x d) = position 0 of each sequence. */
void ch_tfm_pool_first_forward(float *y, const float *x, size_t b, size_t t, size_t d);
void ch_tfm_pool_first_backward(float *dx, const float *dy, size_t b, size_t t, size_t d);

/* The sinusoidal encoding of "Attention is all you need": pe (t x d),
 * pe[p][2i] = sin(p / 10000^(2i/d)), pe[p][2i+1] = cos(same). */
void ch_tfm_sinusoid(float *pe, size_t t, size_t d);

#endif
