/* params.h: the model.* keys of `algorithm: transformer`, read and
 * validated: the encoder's shape and the training plan (the optimizers,
 * schedules and clipping of algorithms/mlp). */
#ifndef CH_TFM_PARAMS_H
#define CH_TFM_PARAMS_H

#include "algorithms/mlp/optim.h"
#include "algorithms/mlp/schedule.h"
#include "algorithms/transformer/encoder.h"
#include "common/config.h"
#include "common/err.h"

typedef struct ch_tfm_params {
    long max_length;       /* positions per sequence; 0 = one per feature column */
    const char *sequences; /* model.sequences: a sequence file (seqfile.h), or NULL */
    const char *id_column; /* model.id_column: the table's id of each row's sequence */
    ch_tfm_input input;
    long vocab;
    long d_model, heads, layers, d_ff;
    ch_tfm_pos positions;
    ch_tfm_pool pooling;
    ch_opt_params opt;
    double lr, lr_min, gamma, clip_norm;
    ch_sched_kind schedule;
    long warmup_steps, step_epochs;
    long epochs, batch_size;
    long classes;        /* model.classes: 0 = from the target's levels */
    long early_stopping; /* patience in epochs on the validation loss; 0 = off */
    bool restore_best;
} ch_tfm_params;

/* Reads every model.* key of the transformer (defaults written back into
 * cfg). Errors name the key, file and line. */
int ch_tfm_params_read(ch_config *cfg, ch_tfm_params *p, ch_err *err);

#endif
