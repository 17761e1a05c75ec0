/* explore.h: exploration policies over a row of action values:
 * epsilon-greedy and Boltzmann (softmax with a temperature), with their
 * schedules over the global episode index. */
#ifndef QL_EXPLORE_H
#define QL_EXPLORE_H

#include "schedule.h"

#include "common/rng.h"

#include <stddef.h>

#define QL_MAX_ACTIONS 64

typedef enum { QL_EXPLORE_EPSILON = 0, QL_EXPLORE_BOLTZMANN = 1 } ql_explore_kind;

typedef struct ql_explore {
    ql_explore_kind kind;
    ql_schedule epsilon;     /* epsilon-greedy: probability of a uniform action */
    ql_schedule temperature; /* Boltzmann: softmax temperature */
} ql_explore;

/* Reads model.exploration, model.epsilon_* and model.temperature_*. */
int ql_explore_read(ch_config *cfg, ql_explore *out, ch_err *err);

/* The exploration parameter (epsilon or temperature) at an episode. */
double ql_explore_param(const ql_explore *x, double episode);

/* The first action of largest value. This function can't fail. */
static inline size_t ql_argmax(const double *row, size_t n)
{
    size_t best = 0;
    for (size_t a = 1; a < n; a++) {
        if (row[a] > row[best]) {
            best = a;
        }
    }
    return best;
}

/* Draws an action from the exploration policy over row[n] (n <=
 * QL_MAX_ACTIONS) with parameter `param`. This function can't fail. */
size_t ql_explore_act(const ql_explore *x, double param, const double *row, size_t n, ch_rng *r);

/* Fills pi[n] with the exploration policy's probabilities over row[n]. */
void ql_explore_probs(const ql_explore *x, double param, const double *row, size_t n, double *pi);

#endif
