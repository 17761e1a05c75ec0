/* local.h: the local trainer adapter: what federated averaging needs of a
 * model, i.e. its parameters as one flat float vector cut into tensors, an
 * initialisation from the seed, a local training function and an
 * evaluation. Two adapters: `mlp` (the network of algorithms/mlp/ with
 * hidden layers) and `logistic` (the same code with no hidden layer:
 * softmax, logistic or linear regression by the target). Another model
 * joins by filling a ch_fed_model_ops. */
#ifndef CH_FEDAVG_LOCAL_H
#define CH_FEDAVG_LOCAL_H

#include "algorithms/fedavg/params.h"
#include "common/err.h"

#include <stddef.h>
#include <stdint.h>

/* How a silo trains in one round. */
typedef struct ch_fed_local_opts {
    long epochs, batch_size;
    double lr, momentum, weight_decay;
    double mu;     /* FedProx proximal weight (0: plain local SGD) */
    uint64_t seed; /* experiment seed */
    uint32_t round,
        shard; /* the row order of each epoch is drawn from (seed, round, shard, epoch) */
} ch_fed_local_opts;

typedef struct ch_fed_model ch_fed_model;

typedef struct ch_fed_model_ops {
    const char *name;
    size_t (*n_params)(const ch_fed_model *m);
    /* tensor_end[0..n) of the parameter vector (weights and bias of each
     * layer); returns n. */
    size_t (*tensors)(const ch_fed_model *m, const size_t **tensor_end);
    void (*init)(const ch_fed_model *m, uint64_t seed, float *w);
    /* Trains w (starting at the global model w0) on n rows x (n x d_in),
     * y[n]; *loss is the mean loss of the last epoch. CH_EINVAL when the
     * loss is not finite. */
    int (*train)(ch_fed_model *m, float *w, const float *w0, const float *x, const float *y,
                 size_t n, const ch_fed_local_opts *o, double *loss, ch_err *err);
    /* Summed loss and correct count over n rows; prob (n x outputs, may be
     * NULL) gets the head's outputs. */
    void (*eval)(ch_fed_model *m, const float *w, const float *x, const float *y, size_t n,
                 double *loss, double *correct, float *prob);
    void (*destroy)(ch_fed_model *m);
} ch_fed_model_ops;

struct ch_fed_model {
    const ch_fed_model_ops *ops;
    void *impl;
};

/* The adapter for p->net with d_in inputs and n_classes classes (0 =
 * regression). NULL with err set on a bad shape or out of memory. */
ch_fed_model *ch_fed_model_new(const ch_fed_params *p, size_t d_in, size_t n_classes, ch_err *err);
void ch_fed_model_destroy(ch_fed_model **m);
/* Outputs per row of eval's prob (1 for regression and two classes). */
size_t ch_fed_model_outputs(const ch_fed_model *m);

#endif
