/* trainer.h: one training step's pieces, shared by the distributed
 * algorithm (mlp.c) and the in-process benchmark: the loss head, the
 * gradient of a set of encoded rows (a worker's leaf), the optimizer update
 * of the summed gradient (the coordinator), and evaluation. */
#ifndef CH_MLP_TRAINER_H
#define CH_MLP_TRAINER_H

#include "algorithms/mlp/net.h"
#include "algorithms/mlp/params.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    CH_HEAD_MSE = 0,     /* regression: one output, squared error */
    CH_HEAD_BCE = 1,     /* two classes: one logit, binary cross-entropy */
    CH_HEAD_SOFTMAX = 2, /* k > 2 classes: k logits, softmax cross-entropy */
} ch_head;

/* The head for a target with n_classes levels (0 = numeric). */
ch_head ch_head_for(size_t n_classes);
/* Network outputs for the head. */
size_t ch_head_outputs(ch_head h, size_t n_classes);

typedef struct ch_grad_out {
    double loss;    /* summed over the rows */
    double correct; /* rows whose predicted class is the label (classification) */
    long bad_layer; /* set when the loss is not finite: first layer with a
                       non-finite output, or -1 when only the loss is */
} ch_grad_out;

/* Forward and backward over n <= ws rows of x (n x d_in) with targets y
 * (no NaN: callers drop rows without a target). Accumulates the gradient of
 * the SUMMED loss into g[n_params]. dout is scratch of n x d_out floats.
 * Returns 0, or CH_EINVAL when the loss is not finite (out->bad_layer set,
 * g unspecified). */
int ch_mlp_grad(const ch_net *net, ch_head head, const float *w, const float *x, const float *y,
                size_t n, bool train, uint64_t seed, uint64_t dropout_stream, ch_net_ws *ws,
                float *dout, float *g, ch_grad_out *out);

/* ch_mlp_grad with the loss multiplied by loss_scale before the backward
 * pass (fp16 dynamic loss scaling): g accumulates loss_scale times the
 * gradient, out->loss stays unscaled. A non-finite gradient is not an
 * error here (the scaler skips the step); check it with ch_grad_finite. */
int ch_mlp_grad_scaled(const ch_net *net, ch_head head, const float *w, const float *x,
                       const float *y, size_t n, bool train, uint64_t seed, uint64_t dropout_stream,
                       float loss_scale, ch_net_ws *ws, float *dout, float *g, ch_grad_out *out);

/* True when every g[i] is finite. This function can't fail. */
bool ch_grad_finite(const float *g, size_t n);

/* Dynamic loss scaling as torch.cuda.amp.GradScaler does it: a step whose
 * scaled gradient has an inf or NaN is skipped and the scale halves; after
 * `window` clean steps in a row the scale doubles. */
typedef struct ch_loss_scaler {
    double scale; /* the scale of the next step */
    long window;  /* clean steps before doubling (> 0) */
    long clean;   /* clean steps since the last change */
    long skipped; /* steps skipped so far */
} ch_loss_scaler;

#define CH_LOSS_SCALE_MAX 1e30

/* Records a step whose scaled gradient was finite or not and returns
 * whether the optimizer should apply it. The scale stays within
 * [1, CH_LOSS_SCALE_MAX]. This function can't fail. */
bool ch_loss_scaler_update(ch_loss_scaler *s, bool finite);

/* The summed loss of n rows of outputs z (n x k) against the targets y
 * for the head; its gradient goes into dout (n x k), the head's outputs
 * into prob (n x k, may be NULL: probability of class 1 for BCE, softmax,
 * or the value), the rows classified right into *correct. Shared with the
 * transformer (algorithms/transformer/train.c). This function can't fail. */
double ch_head_loss(ch_head head, float *dout, float *prob, const float *z, const float *y,
                    size_t n, size_t k, double *correct);

/* The update of a summed gradient g: divided by rows (none when rows is
 * 0), clipped to clip_norm, one step of the optimizer opt at lr (t the
 * 1-based step). Returns the norm before clipping. This function can't
 * fail. */
double ch_grad_apply(const ch_opt_params *opt, double clip_norm, float *w, float *g, float *state,
                     size_t n_params, double rows, double lr, long t);

/* Coordinator update: g (the summed gradient) is divided by rows, clipped
 * to params->clip_norm, and the optimizer steps w with the learning rate
 * lr (t is the 1-based step). Returns the gradient norm before clipping. */
double ch_mlp_apply(const ch_mlp_params *p, float *w, float *g, float *state, size_t n_params,
                    double rows, double lr, long t);

/* Loss (summed) and correct count of n rows, forward only in chunks of the
 * workspace's rows; prob (n x d_out, may be NULL) receives the head's
 * outputs (probability of class 1 for BCE, softmax, or the value). */
void ch_mlp_eval(const ch_net *net, ch_head head, const float *w, const float *x, const float *y,
                 size_t n, size_t chunk, ch_net_ws *ws, float *dout, double *loss, double *correct,
                 float *prob);

#endif
