/* mdp.h: a finite Markov decision process held as an exact table of
 * outcomes, which every environment builds, every rollout samples and the
 * exact solvers (optimal.h) read.
 *
 * For each state-action pair sa = s * n_actions + a the outcomes
 * [off[sa], off[sa+1]) list a probability, a reward, the next state and
 * whether the episode ends there. An episode starts in a state drawn from
 * the start distribution and lasts at most `horizon` steps (the time limit:
 * at the limit the episode is cut, it does not end in a terminal state). */
#ifndef QL_MDP_H
#define QL_MDP_H

#include "common/err.h"
#include "common/rng.h"

#include <stddef.h>
#include <stdint.h>

/* Largest Q table (states x actions) and outcome table a run accepts. */
#define QL_MAX_ENTRIES  4000000u
#define QL_MAX_OUTCOMES 32000000u

typedef struct ql_mdp {
    size_t n_states;
    size_t n_actions;
    size_t horizon;
    size_t n_outcomes;
    size_t *off; /* n_states * n_actions + 1 */
    double *cum; /* cumulative probability within the pair (last is 1) */
    double *prob;
    double *reward;
    uint32_t *next;
    uint8_t *done;
    size_t n_start;
    uint32_t *start; /* start states */
    double *start_p; /* their probabilities */
    double *start_cum;
    /* Set by ql_mdp_finish: when every outcome that does not end the episode
     * leads to a lower-numbered state (time is part of the state, as in the
     * pricing market), the longest number of steps from any state to an end;
     * 0 otherwise. With 0 < depth <= horizon one sweep over the states in
     * increasing order solves the process exactly. */
    size_t depth;
    /* building */
    size_t cap;
    size_t sa_open; /* pairs closed so far */
} ql_mdp;

/* Starts an empty process of n_states x n_actions (checked against
 * QL_MAX_ENTRIES by the caller's error message first). Returns NULL when out
 * of memory. */
ql_mdp *ql_mdp_new(size_t n_states, size_t n_actions, size_t horizon);
void ql_mdp_destroy(ql_mdp **m);

/* Appends an outcome to the pair being built (pairs are built in order
 * s = 0.., a = 0..). Returns 0 or CH_ENOMEM (also when the table would pass
 * QL_MAX_OUTCOMES). */
int ql_mdp_add(ql_mdp *m, double p, double reward, size_t next, int done);
/* Closes the current pair. Its probabilities must sum to one within 1e-9
 * (an internal error otherwise: the environment is wrong); the cumulative
 * table is rescaled so the last entry is exactly 1. */
int ql_mdp_close(ql_mdp *m, ch_err *err);
/* Sets the start distribution (copied; probabilities sum to one). */
int ql_mdp_set_start(ql_mdp *m, const uint32_t *states, const double *p, size_t n, ch_err *err);
/* Checks that every pair was closed and every next state is in range. */
int ql_mdp_finish(ql_mdp *m, ch_err *err);

/* Draws a start state. This function can't fail. */
size_t ql_mdp_start(const ql_mdp *m, ch_rng *r);
/* Draws the outcome of action a in state s: its index in the outcome arrays.
 * This function can't fail. */
static inline size_t ql_mdp_sample(const ql_mdp *m, size_t s, size_t a, ch_rng *r)
{
    size_t sa = s * m->n_actions + a;
    size_t lo = m->off[sa], hi = m->off[sa + 1] - 1;
    if (lo == hi) {
        return lo;
    }
    double u = ch_rng_uniform(r);
    if (hi - lo < 16) {
        while (lo < hi && u >= m->cum[lo]) {
            lo++;
        }
        return lo;
    }
    while (lo < hi) { /* first k with u < cum[k] */
        size_t mid = lo + (hi - lo) / 2;
        if (u < m->cum[mid]) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return lo;
}

#endif
