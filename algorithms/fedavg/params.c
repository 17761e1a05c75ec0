/* params.c: reading and validating the keys of `algorithm: fedavg`. */
#include "algorithms/fedavg/params.h"

#include <stdio.h>
#include <string.h>

const char *const ch_fed_net_names[] = {"mlp", "logistic", NULL};
const char *const ch_fed_strategy_names[] = {"fedavg",  "fedprox",   "fedavgm", "fedadagrad",
                                             "fedadam", "fedyogi",   "median",  "trimmed_mean",
                                             "krum",    "multikrum", NULL};
const char *const ch_fed_comp_names[] = {"none", "fp16", "bf16", "int8", "topk", NULL};
const char *const ch_fed_lr_schedule_names[] = {"constant", "cosine", NULL};

bool ch_fed_strategy_buffers(ch_fed_strategy s)
{
    return s == CH_FED_MEDIAN || s == CH_FED_TRIMMED_MEAN || s == CH_FED_KRUM ||
           s == CH_FED_MULTIKRUM;
}

const char *ch_fed_key(const ch_config *cfg, const char *key, char *buf, size_t size)
{
    const char *prefix =
        ch_config_type(cfg, "federated") == CH_CFG_MAP ? "federated" : "model.federated";
    snprintf(buf, size, "%s.%s", prefix, key);
    return buf;
}

static bool s_adaptive(ch_fed_strategy s)
{
    return s == CH_FED_FEDADAGRAD || s == CH_FED_FEDADAM || s == CH_FED_FEDYOGI;
}

int ch_fed_params_read(ch_config *cfg, ch_fed_params *p, ch_err *err)
{
    memset(p, 0, sizeof *p);
    int net = 0, act = 0, strat = 0, comp = 0;
    double hidden[CH_MLP_MAX_HIDDEN];
    size_t n_hidden = 0;
    char k[18][64];
    int rc;
    if ((rc = ch_cfg_enum(cfg, "model.net", "mlp", ch_fed_net_names, &net, err)) ||
        (rc = ch_cfg_enum(cfg, "model.activation", "relu", ch_act_names, &act, err)) ||
        (rc = ch_cfg_int(cfg, "model.classes", 0, 0, 100000, &p->classes, err)) ||
        (rc = ch_cfg_num(cfg, "model.lr", 0.05, 1e-9, 100, &p->lr, err)) ||
        (rc = ch_cfg_num(cfg, "model.momentum", 0, 0, 0.999, &p->momentum, err)) ||
        (rc = ch_cfg_num(cfg, "model.weight_decay", 0, 0, 10, &p->weight_decay, err))) {
        return rc;
    }
    p->net = (ch_fed_net)net;
    p->act = (ch_act)act;
    if (ch_config_has(cfg, "model.layers")) {
        if ((rc =
                 ch_cfg_num_list(cfg, "model.layers", hidden, CH_MLP_MAX_HIDDEN, &n_hidden, err))) {
            return rc;
        }
    } else {
        /* the FedAvg paper's 2NN */
        ch_config_set(cfg, "model.layers=[200, 200]", NULL);
        ch_cfg_num_list(cfg, "model.layers", hidden, CH_MLP_MAX_HIDDEN, &n_hidden, NULL);
    }
    if (p->net == CH_FED_NET_LOGISTIC) {
        n_hidden = 0; /* model.layers is read (so it is known) but unused */
    }
    for (size_t i = 0; i < n_hidden; i++) {
        if (hidden[i] < 1 || hidden[i] > CH_MLP_MAX_WIDTH || hidden[i] != (double)(long)hidden[i]) {
            return ch_err_set(err, CH_EINVAL, "%s: model.layers: %g is not a width in [1, %d]",
                              ch_config_where(cfg, "model.layers"), hidden[i], CH_MLP_MAX_WIDTH);
        }
        p->hidden[i] = (size_t)hidden[i];
    }
    p->n_hidden = n_hidden;
    if ((rc = ch_cfg_enum(cfg, ch_fed_key(cfg, "strategy", k[0], 64), "fedavg",
                          ch_fed_strategy_names, &strat, err))) {
        return rc;
    }
    p->strategy = (ch_fed_strategy)strat;
    double def_lr = s_adaptive(p->strategy) ? 0.01 : 1.0;
    if ((rc = ch_cfg_int(cfg, ch_fed_key(cfg, "rounds", k[1], 64), 30, 1, 1000000, &p->rounds,
                         err)) ||
        (rc = ch_cfg_int(cfg, ch_fed_key(cfg, "local_epochs", k[2], 64), 1, 1, 10000,
                         &p->local_epochs, err)) ||
        (rc = ch_cfg_int(cfg, ch_fed_key(cfg, "batch_size", k[3], 64), 10, 1, 1 << 20,
                         &p->batch_size, err)) ||
        (rc = ch_cfg_num(cfg, ch_fed_key(cfg, "fraction", k[4], 64), 1.0, 1e-6, 1.0, &p->fraction,
                         err)) ||
        (rc = ch_cfg_int(cfg, ch_fed_key(cfg, "min_workers", k[5], 64), 1, 1, 100000,
                         &p->min_workers, err)) ||
        (rc = ch_cfg_num(cfg, ch_fed_key(cfg, "round_timeout", k[6], 64), 600, 0.1, 604800,
                         &p->round_timeout, err)) ||
        (rc = ch_cfg_num(cfg, ch_fed_key(cfg, "mu", k[7], 64), 0.01, 0, 1000, &p->mu, err)) ||
        (rc = ch_cfg_num(cfg, ch_fed_key(cfg, "server_lr", k[8], 64), def_lr, 1e-9, 100,
                         &p->server_lr, err)) ||
        (rc = ch_cfg_num(cfg, ch_fed_key(cfg, "server_momentum", k[9], 64), 0.9, 0, 0.999,
                         &p->server_momentum, err)) ||
        (rc =
             ch_cfg_num(cfg, ch_fed_key(cfg, "beta1", k[10], 64), 0.9, 0, 0.999, &p->beta1, err)) ||
        (rc = ch_cfg_num(cfg, ch_fed_key(cfg, "beta2", k[11], 64), 0.99, 0, 0.99999, &p->beta2,
                         err)) ||
        (rc = ch_cfg_num(cfg, ch_fed_key(cfg, "tau", k[12], 64), 1e-3, 1e-12, 10, &p->tau, err)) ||
        (rc = ch_cfg_num(cfg, ch_fed_key(cfg, "trim", k[13], 64), 0.1, 0, 0.49, &p->trim, err)) ||
        (rc = ch_cfg_int(cfg, ch_fed_key(cfg, "byzantine", k[14], 64), 1, 0, 100000, &p->byzantine,
                         err)) ||
        (rc = ch_cfg_int(cfg, ch_fed_key(cfg, "krum_m", k[15], 64), 0, 0, 100000, &p->krum_m,
                         err)) ||
        (rc = ch_cfg_enum(cfg, ch_fed_key(cfg, "compression", k[16], 64), "none", ch_fed_comp_names,
                          &comp, err)) ||
        (rc = ch_cfg_num(cfg, ch_fed_key(cfg, "topk_fraction", k[17], 64), 0.01, 1e-6, 1,
                         &p->topk_fraction, err))) {
        return rc;
    }
    char ke[64];
    if ((rc = ch_cfg_int(cfg, ch_fed_key(cfg, "eval_every", ke, sizeof ke), 1, 0, 1000000,
                         &p->eval_every, err))) {
        return rc;
    }
    /* Read only when given: a default would be written into the resolved
     * config, which model.pb carries, and change the model bytes of every
     * existing experiment. */
    p->upload_slots = CH_FED_UPLOAD_SLOTS;
    char ku[64];
    ch_fed_key(cfg, "upload_slots", ku, sizeof ku);
    if (ch_config_has(cfg, ku) &&
        (rc = ch_cfg_int(cfg, ku, CH_FED_UPLOAD_SLOTS, 0, 100000, &p->upload_slots, err))) {
        return rc;
    }
    /* also read only when given, for the same reason */
    p->server_lr_schedule = CH_FED_LR_CONSTANT;
    char ks[64];
    ch_fed_key(cfg, "server_lr_schedule", ks, sizeof ks);
    int sched = 0;
    if (ch_config_has(cfg, ks) &&
        (rc = ch_cfg_enum(cfg, ks, "constant", ch_fed_lr_schedule_names, &sched, err))) {
        return rc;
    }
    p->server_lr_schedule = (ch_fed_lr_schedule)sched;
    p->compression = (ch_fed_comp)comp;
    if (p->strategy != CH_FED_FEDPROX) {
        p->mu = 0; /* only FedProx adds the proximal term */
    }
    return 0;
}
