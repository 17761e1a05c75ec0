/* nn.h: neural-network layers and losses as plain functions over flat float
 * arrays (llm.c style): one forward and one backward per layer.
 *
 * Conventions: a batch of n rows is row-major, n x d. Weights of a dense
 * layer are out x in, row-major (PyTorch's nn.Linear layout). Backward
 * functions ACCUMULATE parameter gradients (dw += ..., callers zero them)
 * and OVERWRITE input gradients (dx = ...). Losses return the SUM over rows
 * and write the gradient of that sum, so per-block partial gradients add up
 * to the gradient of a whole batch (the trainer divides by the batch size).
 * None of these functions allocates or fails. */
#ifndef CH_MLP_NN_H
#define CH_MLP_NN_H

#include "common/rng.h"

#include <stddef.h>

/* --- dense (dense.c): y = x w^T + b through cblas_sgemm ------------------ */

void ch_nn_dense_forward(float *y, const float *x, const float *w, const float *b, size_t n,
                         size_t in, size_t out);
/* dx (n x in, may be NULL for the first layer) = dy w; dw += dy^T x;
 * db += column sums of dy. */
void ch_nn_dense_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                          const float *w, size_t n, size_t in, size_t out);

/* --- activations (activation.c), elementwise over m values ------------- */

typedef enum {
    CH_ACT_RELU = 0,
    CH_ACT_GELU = 1, /* exact: x * Phi(x), as torch.nn.GELU() */
    CH_ACT_TANH = 2,
    CH_ACT_SIGMOID = 3,
} ch_act;

/* Names in enum order, NULL-terminated ("relu", "gelu", "tanh", "sigmoid"). */
extern const char *const ch_act_names[];

void ch_nn_act_forward(ch_act a, float *y, const float *x, size_t m);
/* dx = dy * f'(x); x is the input and y the output of the forward pass. */
void ch_nn_act_backward(ch_act a, float *dx, const float *dy, const float *x, const float *y,
                        size_t m);

/* --- dropout (dropout.c) -------------------------------------------------- */

/* Inverted dropout: keeps each value with probability 1 - p and scales it by
 * 1 / (1 - p). mask[m] receives the factor (0 or 1/(1-p)) of each value; the
 * draws come from rng in order, so the same stream gives the same mask. */
void ch_nn_dropout_forward(float *y, float *mask, const float *x, size_t m, float p, ch_rng *rng);
void ch_nn_dropout_backward(float *dx, const float *dy, const float *mask, size_t m);

/* --- layer normalisation (layernorm.c) over the last dimension ----------- */

#define CH_NN_LN_EPS 1e-5f

/* y = (x - mean) * rstd * gamma + beta per row; mean[n] and rstd[n] are
 * kept for backward. */
void ch_nn_layernorm_forward(float *y, float *mean, float *rstd, const float *x, const float *gamma,
                             const float *beta, size_t n, size_t d);
void ch_nn_layernorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy,
                              const float *x, const float *mean, const float *rstd,
                              const float *gamma, size_t n, size_t d);

/* --- embedding lookup (embedding.c) --------------------------------------- */

/* y[i * ldy + j] = table[c * dim + j] for j < dim, where c = idx[i * ldx]
 * is row i's level code; a code that is not a whole number in
 * [0, levels) (missing: -1 or NaN) gives zeros. */
void ch_nn_embedding_forward(float *y, size_t ldy, const float *idx, size_t ldx, const float *table,
                             size_t n, size_t levels, size_t dim);
/* dtable[c * dim + j] += dy[i * ldy + j]: scatters into the rows used. */
void ch_nn_embedding_backward(float *dtable, const float *dy, size_t ldy, const float *idx,
                              size_t ldx, size_t n, size_t levels, size_t dim);

/* --- losses (loss.c) --------------------------------------------------------- */

/* Softmax cross-entropy of logits (n x k) against class codes y[n]. Returns
 * the summed loss; dlogits = softmax - onehot. prob (n x k, may be NULL)
 * receives the softmax. */
double ch_nn_softmax_xent(float *dlogits, float *prob, const float *logits, const float *y,
                          size_t n, size_t k);
/* Binary cross-entropy on one logit per row against y in {0, 1} (the stable
 * form of torch's BCEWithLogitsLoss). Returns the sum; dlogits = sigmoid - y. */
double ch_nn_bce_logits(float *dlogits, const float *logits, const float *y, size_t n);
/* Squared error sum over n values; dpred = 2 (pred - y). */
double ch_nn_mse(float *dpred, const float *pred, const float *y, size_t n);

#endif
