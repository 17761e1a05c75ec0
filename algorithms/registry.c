/* registry.c: the list of algorithms. A new algorithm adds one line here. */
#include "algorithms/algo.h"

#include <string.h>

extern const ch_algo ch_algo_linear;

static const ch_algo *const s_algos[] = {
    &ch_algo_linear,
};

static const char *const s_names[] = {
    "linear",
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
