/* params.h: the model.* keys of `algorithm: mlp`, read and validated. */
#ifndef CH_MLP_PARAMS_H
#define CH_MLP_PARAMS_H

#include "algorithms/mlp/net.h"
#include "algorithms/mlp/optim.h"
#include "algorithms/mlp/schedule.h"
#include "common/config.h"
#include "common/err.h"

typedef struct ch_mlp_params {
    size_t n_hidden;
    size_t hidden[CH_MLP_MAX_HIDDEN];
    ch_act act;
    bool layer_norm;
    double dropout;
    ch_init_kind init;
    ch_opt_params opt;
    double lr, lr_min, gamma, clip_norm;
    ch_sched_kind schedule;
    long warmup_steps, step_epochs;
    long epochs, batch_size;
    long classes;        /* model.classes: 0 = from the target's levels */
    long early_stopping; /* patience in epochs on the validation loss; 0 = off */
    bool restore_best;   /* with early_stopping: keep the best epoch's weights */
} ch_mlp_params;

/* Reads every model.* key of the MLP (defaults written back into cfg).
 * Errors name the key, file and line. */
int ch_mlp_params_read(ch_config *cfg, ch_mlp_params *p, ch_err *err);

#endif
