/* params.c: reading and checking the MLP's configuration keys. */
#include "algorithms/mlp/params.h"

#include <math.h>
#include <string.h>

/* model.layers: a list of hidden widths (default [64]; [] is no hidden
 * layer, i.e. a linear model on the encoded inputs). */
static int s_layers(ch_config *cfg, ch_mlp_params *p, ch_err *err)
{
    if (!ch_config_has(cfg, "model.layers")) {
        int rc = ch_config_set(cfg, "model.layers=[64]", err);
        if (rc != 0) {
            return rc;
        }
    }
    double v[CH_MLP_MAX_HIDDEN + 1];
    size_t n = 0;
    int rc = ch_cfg_num_list(cfg, "model.layers", v, CH_MLP_MAX_HIDDEN + 1, &n, err);
    if (rc != 0) {
        return rc;
    }
    if (n > CH_MLP_MAX_HIDDEN) {
        return ch_err_set(err, CH_EINVAL, "%s: model.layers: at most %d hidden layers",
                          ch_config_where(cfg, "model.layers"), CH_MLP_MAX_HIDDEN);
    }
    for (size_t i = 0; i < n; i++) {
        if (!(v[i] >= 1 && v[i] <= CH_MLP_MAX_WIDTH) || v[i] != floor(v[i])) {
            return ch_err_set(err, CH_EINVAL,
                              "%s: model.layers: entry %zu (%g) is not a layer width (a whole "
                              "number from 1 to %d)",
                              ch_config_where(cfg, "model.layers"), i, v[i], CH_MLP_MAX_WIDTH);
        }
        p->hidden[i] = (size_t)v[i];
    }
    p->n_hidden = n;
    return 0;
}

int ch_mlp_params_read(ch_config *cfg, ch_mlp_params *p, ch_err *err)
{
    memset(p, 0, sizeof *p);
    int act = 0, init = 0, opt = 0, sched = 0, rc;
    bool ln = false;
    if ((rc = s_layers(cfg, p, err)) ||
        (rc = ch_cfg_enum(cfg, "model.activation", "relu", ch_act_names, &act, err)) ||
        (rc = ch_cfg_bool(cfg, "model.layer_norm", false, &ln, err)) ||
        (rc = ch_cfg_num(cfg, "model.dropout", 0, 0, 0.95, &p->dropout, err)) ||
        (rc = ch_cfg_enum(cfg, "model.init", "auto", ch_init_names, &init, err)) ||
        (rc = ch_cfg_enum(cfg, "model.optimizer", "adam", ch_opt_names, &opt, err)) ||
        (rc = ch_cfg_num(cfg, "model.lr", 1e-3, 1e-12, 1e9, &p->lr, err)) ||
        (rc = ch_cfg_num(cfg, "model.momentum", 0.9, 0, 0.999999, &p->opt.momentum, err)) ||
        (rc = ch_cfg_num(cfg, "model.beta1", 0.9, 0, 0.999999, &p->opt.beta1, err)) ||
        (rc = ch_cfg_num(cfg, "model.beta2", 0.999, 0, 0.999999999, &p->opt.beta2, err)) ||
        (rc = ch_cfg_num(cfg, "model.eps", 1e-8, 1e-30, 1, &p->opt.eps, err)) ||
        (rc = ch_cfg_num(cfg, "model.weight_decay", 0, 0, 10, &p->opt.weight_decay, err)) ||
        (rc = ch_cfg_int(cfg, "model.epochs", 10, 1, 100000, &p->epochs, err)) ||
        (rc = ch_cfg_int(cfg, "model.batch_size", 64, 1, 1L << 20, &p->batch_size, err)) ||
        (rc = ch_cfg_enum(cfg, "model.schedule", "constant", ch_sched_names, &sched, err)) ||
        (rc = ch_cfg_int(cfg, "model.warmup_steps", 0, 0, 100000000, &p->warmup_steps, err)) ||
        (rc = ch_cfg_num(cfg, "model.lr_min", 0, 0, 100, &p->lr_min, err)) ||
        (rc = ch_cfg_int(cfg, "model.step_epochs", 10, 1, 100000, &p->step_epochs, err)) ||
        (rc = ch_cfg_num(cfg, "model.gamma", 0.1, 1e-12, 1, &p->gamma, err)) ||
        (rc = ch_cfg_num(cfg, "model.clip_norm", 0, 0, 1e12, &p->clip_norm, err)) ||
        (rc = ch_cfg_int(cfg, "model.classes", 0, 0, CH_MLP_MAX_WIDTH, &p->classes, err)) ||
        (rc = ch_cfg_int(cfg, "model.early_stopping", 0, 0, 100000, &p->early_stopping, err)) ||
        (rc = ch_cfg_bool(cfg, "model.restore_best", true, &p->restore_best, err))) {
        return rc;
    }
    p->act = (ch_act)act;
    p->layer_norm = ln;
    p->init = (ch_init_kind)init;
    p->opt.kind = (ch_opt_kind)opt;
    p->schedule = (ch_sched_kind)sched;
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
