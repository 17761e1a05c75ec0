/* params.h: the model.* keys of `algorithm: mlp`, read and validated. */
#ifndef CH_MLP_PARAMS_H
#define CH_MLP_PARAMS_H

#include "algorithms/mlp/net.h"
#include "algorithms/mlp/optim.h"
#include "algorithms/mlp/schedule.h"
#include "common/config.h"
#include "common/err.h"
#include "common/table.h"

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
    long classes;                /* model.classes: 0 = from the target's levels */
    long early_stopping;         /* patience in epochs on the validation loss; 0 = off */
    bool restore_best;           /* with early_stopping: keep the best epoch's weights */
    ch_precision precision;      /* model.precision: storage of weights and activations */
    ch_precision wire_precision; /* model.wire_precision: weights and gradients in messages */
    double loss_scale;           /* fp16: initial loss scale (dynamic) */
    long loss_scale_window;      /* fp16: clean steps before the scale doubles */
    long local_steps;            /* model.local_steps: SGD steps per block between averages */
    size_t n_embed;              /* model.embeddings, resolved by ch_mlp_embeddings_read */
    size_t embed_col[CH_MLP_MAX_EMBED]; /* schema feature column, increasing */
    size_t embed_dim[CH_MLP_MAX_EMBED];
} ch_mlp_params;

/* Reads every model.* key of the MLP (defaults written back into cfg).
 * Errors name the key, file and line. */
int ch_mlp_params_read(ch_config *cfg, ch_mlp_params *p, ch_err *err);

/* model.embeddings: {column: dimension} for categorical feature columns of
 * schema (in any order; stored by increasing column), or `auto` (every
 * categorical column with 3 or more levels, dimension min(50, (levels +
 * 1) / 2)). Sets p->n_embed (0 without the key). With schema NULL only the form is checked. Errors
 * name the column, the key, file and line: not a map, an unknown or numeric column, a dimension
 * outside 1..CH_MLP_MAX_EMBED_DIM. */
int ch_mlp_embeddings_read(ch_config *cfg, const ch_schema *schema, ch_mlp_params *p, ch_err *err);

#endif
