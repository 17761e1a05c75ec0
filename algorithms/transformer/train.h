/* train.h: one training step's pieces for the transformer, shared by the
 * distributed algorithm (transformer.c), the tests and the benchmark: the
 * gradient of a set of encoded sequences (a worker's leaf), the optimizer
 * update of the summed gradient (the coordinator), and evaluation. The
 * heads and losses are algorithms/mlp's (trainer.h, nn.h). */
#ifndef CH_TFM_TRAIN_H
#define CH_TFM_TRAIN_H

#include "algorithms/mlp/trainer.h"
#include "algorithms/transformer/encoder.h"
#include "algorithms/transformer/params.h"

#include <stddef.h>
#include <stdint.h>

/* Forward and backward over n sequences (x, mask as ch_tfm_forward) with
 * targets y (no NaN). Accumulates the gradient of the SUMMED loss into
 * g[n_params]. dout is scratch of n x d_out floats. Returns 0, or CH_EINVAL
 * when the loss is not finite (out->bad_layer: the first non-finite stage
 * of ch_tfm_first_nonfinite; g unspecified). */
int ch_tfm_grad(const ch_tfm *m, ch_head head, const float *w, const float *x, const uint8_t *mask,
                const float *y, size_t n, ch_tfm_ws *ws, float *dout, float *g, ch_grad_out *out);

/* Coordinator update: g (the summed gradient) divided by rows, clipped to
 * p->clip_norm, and one optimizer step at lr (t the 1-based step). Returns
 * the gradient norm before clipping. This function can't fail. */
double ch_tfm_apply(const ch_tfm_params *p, float *w, float *g, float *state, size_t n_params,
                    double rows, double lr, long t);

/* Summed loss and correct count of n sequences, forward only in chunks of
 * at most `chunk` (the workspace's rows); prob (n x d_out, may be NULL)
 * receives the head's outputs (probability of class 1 for BCE, softmax,
 * or the value). This function can't fail. */
void ch_tfm_eval(const ch_tfm *m, ch_head head, const float *w, const float *x, const uint8_t *mask,
                 const float *y, size_t n, size_t chunk, ch_tfm_ws *ws, float *dout, double *loss,
                 double *correct, float *prob);

#endif
