/* registry.c: the list of algorithms. A new algorithm adds one line here. */
#include "algorithms/algo.h"

#include <string.h>

extern const ch_algo ch_algo_linear;
extern const ch_algo ch_algo_random_forest;
extern const ch_algo ch_algo_isolation_forest;
extern const ch_algo ch_algo_mlp;
extern const ch_algo ch_algo_logistic;
extern const ch_algo ch_algo_poisson;

static const ch_algo *const s_algos[] = {
    &ch_algo_linear,
    &ch_algo_random_forest,
    &ch_algo_isolation_forest,
    &ch_algo_mlp,
    &ch_algo_logistic,
    &ch_algo_poisson,
};

static const char *const s_names[] = {
    "linear",
    "random_forest",
    "isolation_forest",
    "mlp",
    "logistic",
    "poisson",
    NULL,
};

const ch_algo *ch_algo_find(const char *name)
{
    for (size_t i = 0; i < sizeof s_algos / sizeof s_algos[0]; i++) {
        if (strcmp(s_algos[i]->name, name) == 0) {
            return s_algos[i];
        }
    }
    return NULL;
}

const char *const *ch_algo_names(void)
{
    return s_names;
}

void ch_round_metric(ch_round_metrics *m, const char *key, double value)
{
    if (m && m->n < CH_MAX_ROUND_METRICS) {
        m->key[m->n] = key;
        m->value[m->n] = value;
        m->n++;
    }
}
