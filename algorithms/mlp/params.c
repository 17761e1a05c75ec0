/* params.c: reading and checking the MLP's configuration keys. */
#include "algorithms/mlp/params.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
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

/* model.precision, model.wire_precision (default: the precision), the fp16
 * loss-scale keys and model.local_steps, with the combinations that are
 * refused. */
static int s_precision(ch_config *cfg, ch_mlp_params *p, ch_err *err)
{
    int prec = 0, wire = 0, rc;
    if ((rc = ch_cfg_enum(cfg, "model.precision", "fp32", ch_precision_names, &prec, err)) ||
        (rc = ch_cfg_enum(cfg, "model.wire_precision", ch_precision_names[prec], ch_precision_names,
                          &wire, err)) ||
        (rc = ch_cfg_int(cfg, "model.local_steps", 1, 1, 100000, &p->local_steps, err))) {
        return rc;
    }
    p->precision = (ch_precision)prec;
    p->wire_precision = (ch_precision)wire;
    p->loss_scale = 1;
    p->loss_scale_window = 0;
    const char *ls[] = {"model.loss_scale", "model.loss_scale_window"};
    if (p->precision != CH_PREC_FP16 && p->wire_precision != CH_PREC_FP16) {
        for (size_t i = 0; i < 2; i++) {
            if (ch_config_has(cfg, ls[i])) {
                return ch_err_set(err, CH_EINVAL,
                                  "%s: %s is for model.precision: fp16 or model.wire_precision: "
                                  "fp16 (dynamic loss scaling); this run has %s and %s on the "
                                  "wire",
                                  ch_config_where(cfg, ls[i]), ls[i], ch_precision_names[prec],
                                  ch_precision_names[wire]);
            }
        }
    } else if ((rc = ch_cfg_num(cfg, "model.loss_scale", 65536, 1, 1e30, &p->loss_scale, err)) ||
               (rc = ch_cfg_int(cfg, "model.loss_scale_window", 2000, 1, 100000000,
                                &p->loss_scale_window, err))) {
        return rc;
    }
    if (p->local_steps > 1 && p->opt.kind != CH_OPT_SGD) {
        return ch_err_set(err, CH_EINVAL,
                          "%s: model.local_steps is %ld: local SGD runs plain SGD on every block "
                          "between averages, so model.optimizer must be sgd (it is %s)",
                          ch_config_where(cfg, "model.local_steps"), p->local_steps,
                          ch_opt_names[p->opt.kind]);
    }
    if (p->local_steps > 1 && p->precision == CH_PREC_FP16) {
        return ch_err_set(err, CH_EINVAL,
                          "%s: model.local_steps above 1 with model.precision: fp16 is not "
                          "supported (the loss scale is kept per step by the coordinator); use "
                          "bf16",
                          ch_config_where(cfg, "model.local_steps"));
    }
    return 0;
}

static int s_cmp_embed(const void *a, const void *b)
{
    const size_t *x = a, *y = b;
    return x[0] < y[0] ? -1 : x[0] > y[0];
}

/* model.embeddings: auto: every categorical feature column with 3 or more
 * levels, dimension min(50, (levels + 1) / 2) (fast.ai's first rule); the
 * first CH_MLP_MAX_EMBED such columns. */
static int s_embed_auto(const ch_schema *schema, ch_mlp_params *p)
{
    p->n_embed = 0;
    for (size_t j = 0; schema && j < schema->n_features && p->n_embed < CH_MLP_MAX_EMBED; j++) {
        const ch_column *c = &schema->features[j];
        if (c->kind == CH_COL_CATEGORICAL && c->n_levels >= 3) {
            size_t d = (c->n_levels + 1) / 2;
            p->embed_col[p->n_embed] = j;
            p->embed_dim[p->n_embed] = d < 50 ? d : 50;
            p->n_embed++;
        }
    }
    return 0;
}

int ch_mlp_embeddings_read(ch_config *cfg, const ch_schema *schema, ch_mlp_params *p, ch_err *err)
{
    const char *key = "model.embeddings";
    p->n_embed = 0;
    ch_cfg_type ty = ch_config_type(cfg, key);
    if (ty == CH_CFG_NONE) {
        return 0;
    }
    const char *text = ty == CH_CFG_SCALAR ? ch_config_peek(cfg, key) : NULL;
    if (text && strcmp(text, "auto") == 0) {
        ch_config_mark_used(cfg, key);
        return s_embed_auto(schema, p);
    }
    if (ty != CH_CFG_MAP) {
        return ch_err_set(err, CH_EINVAL,
                          "%s: model.embeddings must be auto or a map of categorical column to "
                          "embedding dimension, e.g. {Contract: 4}",
                          ch_config_where(cfg, key));
    }
    size_t n = ch_config_len(cfg, key);
    if (n > CH_MLP_MAX_EMBED) {
        return ch_err_set(err, CH_EINVAL, "%s: model.embeddings has %zu columns (at most %d)",
                          ch_config_where(cfg, key), n, CH_MLP_MAX_EMBED);
    }
    size_t pairs[CH_MLP_MAX_EMBED][2];
    for (size_t i = 0; i < n; i++) {
        const char *name = ch_config_key(cfg, key, i);
        char path[512];
        if (!name || strchr(name, '.') ||
            (size_t)snprintf(path, sizeof path, "%s.%s", key, name) >= sizeof path) {
            return ch_err_set(err, CH_EINVAL,
                              "%s: model.embeddings: entry %zu has a bad column "
                              "name",
                              ch_config_where(cfg, key), i);
        }
        long dim;
        int rc = ch_cfg_int(cfg, path, 0, 1, CH_MLP_MAX_EMBED_DIM, &dim, err);
        if (rc != 0) {
            return rc;
        }
        size_t col = 0;
        if (schema) {
            while (col < schema->n_features && strcmp(schema->features[col].name, name) != 0) {
                col++;
            }
            if (col == schema->n_features) {
                return ch_err_set(err, CH_EINVAL,
                                  "%s: model.embeddings: '%s' is not a feature column of the data",
                                  ch_config_where(cfg, path), name);
            }
            if (schema->features[col].kind != CH_COL_CATEGORICAL) {
                return ch_err_set(err, CH_EINVAL,
                                  "%s: model.embeddings: column '%s' is numeric; only "
                                  "categorical columns have embeddings",
                                  ch_config_where(cfg, path), name);
            }
        }
        pairs[i][0] = col;
        pairs[i][1] = (size_t)dim;
    }
    ch_config_mark_used(cfg, key);
    if (!schema) {
        return 0;
    }
    qsort(pairs, n, sizeof pairs[0], s_cmp_embed);
    for (size_t i = 0; i < n; i++) {
        p->embed_col[i] = pairs[i][0];
        p->embed_dim[i] = pairs[i][1];
    }
    p->n_embed = n;
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
    return s_precision(cfg, p, err);
}
