/* params.h: the keys of `algorithm: fedavg`: the local model (model.*) and
 * the federation (federated.*: strategy, rounds, sampling, compression). */
#ifndef CH_FEDAVG_PARAMS_H
#define CH_FEDAVG_PARAMS_H

#include "algorithms/mlp/net.h"
#include "common/config.h"
#include "common/err.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum { CH_FED_NET_MLP = 0, CH_FED_NET_LOGISTIC = 1 } ch_fed_net;
extern const char *const ch_fed_net_names[];

typedef enum {
    CH_FED_FEDAVG = 0,
    CH_FED_FEDPROX,
    CH_FED_FEDAVGM,
    CH_FED_FEDADAGRAD,
    CH_FED_FEDADAM,
    CH_FED_FEDYOGI,
    CH_FED_MEDIAN,
    CH_FED_TRIMMED_MEAN,
    CH_FED_KRUM,
    CH_FED_MULTIKRUM,
} ch_fed_strategy;
extern const char *const ch_fed_strategy_names[];

typedef enum {
    CH_FED_COMP_NONE = 0,
    CH_FED_COMP_FP16 = 1,
    CH_FED_COMP_BF16 = 2,
    CH_FED_COMP_INT8 = 3,
    CH_FED_COMP_TOPK = 4,
} ch_fed_comp;
extern const char *const ch_fed_comp_names[];

/* federated.server_lr_schedule: the server learning rate of round t of T,
 * constant or cosine-annealed from server_lr towards 0 (see
 * ch_fed_server_lr). */
typedef enum { CH_FED_LR_CONSTANT = 0, CH_FED_LR_COSINE = 1 } ch_fed_lr_schedule;
extern const char *const ch_fed_lr_schedule_names[];

/* federated.upload_slots when not given: one update on the wire while the
 * coordinator folds the previous one into the sum. */
#define CH_FED_UPLOAD_SLOTS 2

typedef struct ch_fed_params {
    /* local model */
    ch_fed_net net;
    size_t n_hidden;
    size_t hidden[CH_MLP_MAX_HIDDEN];
    ch_act act;
    long classes;
    double lr, momentum, weight_decay;
    /* federation */
    ch_fed_strategy strategy;
    long rounds, local_epochs, batch_size, min_workers, eval_every;
    double fraction, round_timeout;
    double mu; /* fedprox */
    double server_lr, server_momentum;
    ch_fed_lr_schedule server_lr_schedule;
    double beta1, beta2, tau; /* fedadagrad / fedadam / fedyogi */
    double trim;              /* trimmed mean: fraction cut at each end */
    long byzantine, krum_m;   /* krum: f assumed byzantine; multi-krum: m selected */
    ch_fed_comp compression;
    double topk_fraction;
    long upload_slots; /* uploads granted at once (upload flow control); 0: off */
} ch_fed_params;

/* Whether the strategy needs every update of a round at once (robust
 * aggregation buffers them; the others stream). */
bool ch_fed_strategy_buffers(ch_fed_strategy s);

/* Reads and validates every key (defaults written back). The federation
 * keys live under `federated.` when the config has that section, else
 * under `model.federated.` (see README.md). Errors name the key, file and
 * line. */
int ch_fed_params_read(ch_config *cfg, ch_fed_params *p, ch_err *err);

/* The dotted path of federation key `key` in cfg ("federated.rounds" or
 * "model.federated.rounds") into buf. */
const char *ch_fed_key(const ch_config *cfg, const char *key, char *buf, size_t size);

#endif
