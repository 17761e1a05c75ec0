/* step.h: the coordinator's messages of one synchronous data-parallel
 * step, shared by mlp.c and transformer.c: the task (weights and the
 * global batch's segments) and the fixed-order sum of the workers' gradient
 * leaves. The messages are proto/mlp.proto's Task and Update;
 * transformer.proto's are the same fields, so a run at fp32 without loss
 * scaling sends the same bytes either way. */
#ifndef CH_MLP_STEP_H
#define CH_MLP_STEP_H

#include "algorithms/algo.h"
#include "algorithms/mlp/batch.h"
#include "algorithms/mlp/half.h"

#include <stddef.h>
#include <stdint.h>

/* One step's task. */
typedef struct ch_nn_task {
    long step, steps_per_epoch;
    const ch_segment *seg; /* the batch's segments (ch_batch_segments) */
    size_t nseg;
    const uint8_t *weights; /* the weights at precision wire */
    size_t n_params;
    ch_precision wire;
    double loss_scale; /* fp16 loss scaling: this step's scale; 0 = none */
    const double *stats;
    size_t n_stats;
} ch_nn_task;

/* Appends the Task message of t to payload. Returns 0 or CH_ENOMEM. */
int ch_nn_task_pack(const ch_nn_task *t, ch_buf *payload, ch_err *err);

/* The sums of a step's leaves. */
typedef struct ch_nn_leaves {
    double rows, loss, correct;
} ch_nn_leaves;

/* Decodes the n updates answering step t->step, checks that they hold
 * exactly one finite leaf per segment of t->seg (n_params gradient values
 * at t->wire, no more rows than the segment) and sums the gradients in the
 * segments' order, whoever sent them, into g[n_params] (gsum: n_params
 * doubles of scratch, ltmp: n_params floats); *sum gets the leaves' rows,
 * loss and correct counts. Returns 0 or CH_EPROTO / CH_ENOMEM with a
 * message that names `name`, the shard and the block. */
int ch_nn_leaves_sum(const char *name, const ch_nn_task *t, const ch_update *ups, size_t n,
                     double *gsum, float *ltmp, float *g, ch_nn_leaves *sum, ch_err *err);

#endif
