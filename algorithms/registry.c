/* registry.c: the list of algorithms.
 *
 * Do not list algorithms here. Each folder algorithms/<name>/ has a file
 * algorithms.list naming the vtables it defines, one per line (`gbt` means
 * `const ch_algo ch_algo_gbt`); CMake collects them into algorithms_gen.h
 * (CH_ALGORITHMS). So an algorithm is added by its folder alone, and a
 * checkout holds exactly the algorithms whose folders it holds. */
#include "algorithms/algo.h"
#include "algorithms_gen.h"

#include <string.h>

#define S_EXTERN(n) extern const ch_algo ch_algo_##n;
CH_ALGORITHMS(S_EXTERN)

#define S_PTR(n) &ch_algo_##n,
static const ch_algo *const s_algos[] = {CH_ALGORITHMS(S_PTR)};

#define S_NAME(n) #n,
static const char *const s_names[] = {CH_ALGORITHMS(S_NAME) NULL};

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
