/* params.c: reading and checking the transformer's configuration keys. */
#define _GNU_SOURCE /* memrchr, realpath */
#include "algorithms/transformer/params.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A relative model.sequences written in a config file is relative to that
 * file's directory (as data.train is); one given with --set is relative
 * to the current directory. The resolved path is written back, so workers
 * and config.yaml see it. */
static int s_resolve(ch_config *cfg, const char *key, const char **path, ch_err *err)
{
    const char *where = ch_config_where(cfg, key);
    const char *colon = where ? strrchr(where, ':') : NULL;
    if (!*path || (*path)[0] == '/' || !colon || strncmp(where, "--set", 5) == 0 ||
        where[0] == '(') {
        return 0;
    }
    const char *slash = memrchr(where, '/', (size_t)(colon - where));
    if (!slash) {
        return 0; /* the config is in the current directory */
    }
    size_t n = (size_t)(slash - where) + 1 + strlen(*path) + 1;
    char *joined = malloc(n);
    if (!joined) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    snprintf(joined, n, "%.*s/%s", (int)(slash - where), where, *path);
    char *real = realpath(joined, NULL);
    int rc = ch_config_set_str(cfg, key, real ? real : joined, err);
    free(real);
    free(joined);
    return rc ? rc : ch_cfg_str(cfg, key, NULL, path, err);
}

int ch_tfm_params_read(ch_config *cfg, ch_tfm_params *p, ch_err *err)
{
    memset(p, 0, sizeof *p);
    int input = 0, pos = 0, pool = 0, opt = 0, sched = 0, rc;
    if (ch_config_has(cfg, "model.sequences") &&
        ((rc = ch_cfg_str(cfg, "model.sequences", NULL, &p->sequences, err)) ||
         (rc = s_resolve(cfg, "model.sequences", &p->sequences, err)))) {
        return rc;
    }
    if ((rc = ch_cfg_str(cfg, "model.id_column", "id", &p->id_column, err)) ||
        (rc = ch_cfg_int(cfg, "model.max_length", 0, 0, CH_TFM_MAX_LEN, &p->max_length, err)) ||
        (rc = ch_cfg_enum(cfg, "model.input", "vector", ch_tfm_input_names, &input, err)) ||
        (rc = ch_cfg_int(cfg, "model.vocab", 0, 0, CH_TFM_MAX_VOCAB, &p->vocab, err)) ||
        (rc = ch_cfg_int(cfg, "model.d_model", 64, 1, CH_TFM_MAX_WIDTH, &p->d_model, err)) ||
        (rc = ch_cfg_int(cfg, "model.heads", 4, 1, CH_TFM_MAX_WIDTH, &p->heads, err)) ||
        (rc = ch_cfg_int(cfg, "model.layers", 2, 0, CH_TFM_MAX_LAYERS, &p->layers, err)) ||
        (rc = ch_cfg_int(cfg, "model.d_ff", 4 * p->d_model, 1, 8L * CH_TFM_MAX_WIDTH, &p->d_ff,
                         err)) ||
        (rc = ch_cfg_enum(cfg, "model.positions", "learned", ch_tfm_pos_names, &pos, err)) ||
        (rc = ch_cfg_enum(cfg, "model.pooling", "mean", ch_tfm_pool_names, &pool, err)) ||
        (rc = ch_cfg_enum(cfg, "model.optimizer", "adam", ch_opt_names, &opt, err)) ||
        (rc = ch_cfg_num(cfg, "model.lr", 1e-3, 1e-12, 1e9, &p->lr, err)) ||
        (rc = ch_cfg_num(cfg, "model.momentum", 0.9, 0, 0.999999, &p->opt.momentum, err)) ||
        (rc = ch_cfg_num(cfg, "model.beta1", 0.9, 0, 0.999999, &p->opt.beta1, err)) ||
        (rc = ch_cfg_num(cfg, "model.beta2", 0.999, 0, 0.999999999, &p->opt.beta2, err)) ||
        (rc = ch_cfg_num(cfg, "model.eps", 1e-8, 1e-30, 1, &p->opt.eps, err)) ||
        (rc = ch_cfg_num(cfg, "model.weight_decay", 0, 0, 10, &p->opt.weight_decay, err)) ||
        (rc = ch_cfg_int(cfg, "model.epochs", 10, 1, 100000, &p->epochs, err)) ||
        (rc = ch_cfg_int(cfg, "model.batch_size", 64, 1, 1L << 16, &p->batch_size, err)) ||
        (rc = ch_cfg_enum(cfg, "model.schedule", "constant", ch_sched_names, &sched, err)) ||
        (rc = ch_cfg_int(cfg, "model.warmup_steps", 0, 0, 100000000, &p->warmup_steps, err)) ||
        (rc = ch_cfg_num(cfg, "model.lr_min", 0, 0, 100, &p->lr_min, err)) ||
        (rc = ch_cfg_int(cfg, "model.step_epochs", 10, 1, 100000, &p->step_epochs, err)) ||
        (rc = ch_cfg_num(cfg, "model.gamma", 0.1, 1e-12, 1, &p->gamma, err)) ||
        (rc = ch_cfg_num(cfg, "model.clip_norm", 0, 0, 1e12, &p->clip_norm, err)) ||
        (rc = ch_cfg_int(cfg, "model.classes", 0, 0, 65536, &p->classes, err)) ||
        (rc = ch_cfg_int(cfg, "model.early_stopping", 0, 0, 100000, &p->early_stopping, err)) ||
        (rc = ch_cfg_bool(cfg, "model.restore_best", true, &p->restore_best, err))) {
        return rc;
    }
    p->input = (ch_tfm_input)input;
    p->positions = (ch_tfm_pos)pos;
    p->pooling = (ch_tfm_pool)pool;
    p->opt.kind = (ch_opt_kind)opt;
    p->schedule = (ch_sched_kind)sched;
    if (p->d_model % p->heads != 0) {
        return ch_err_set(err, CH_EINVAL,
                          "%s: model.d_model %ld is not divisible by model.heads %ld (each head "
                          "gets d_model / heads dimensions)",
                          ch_config_where(cfg, "model.heads"), p->d_model, p->heads);
    }
    if (p->input == CH_TFM_IN_TOKENS && p->vocab < 1) {
        return ch_err_set(err, CH_EINVAL,
                          "%s: model.input is tokens, which needs model.vocab (the number of "
                          "token ids, 0..vocab-1)",
                          ch_config_where(cfg, "model.input"));
    }
    if (p->classes == 1) {
        return ch_err_set(err, CH_EINVAL, "%s: model.classes is 1; a classifier needs 2 or more",
                          ch_config_where(cfg, "model.classes"));
    }
    if (p->lr_min > p->lr) {
        return ch_err_set(err, CH_EINVAL, "%s: model.lr_min (%g) is above model.lr (%g)",
                          ch_config_where(cfg, "model.lr_min"), p->lr_min, p->lr);
    }
    return 0;
}
