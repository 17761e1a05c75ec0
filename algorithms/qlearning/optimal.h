/* optimal.h: exact solutions of a finite MDP over its horizon: the optimal
 * value and policy by backward induction (value iteration for exactly
 * `horizon` steps), the exact expected return of a stationary policy, and a
 * Monte-Carlo estimate of it. Returns are discounted by gamma and counted
 * over at most `horizon` steps from the start distribution. */
#ifndef QL_OPTIMAL_H
#define QL_OPTIMAL_H

#include "mdp.h"

#include "common/err.h"

#include <stdint.h>

/* Backward induction: V_0 = 0, Q_h(s,a) = sum_k p_k (r_k + gamma (1 -
 * done_k) V_{h-1}(s'_k)), V_h = max_a Q_h for h = 1..horizon. *value gets
 * the expected V_horizon over the start distribution; policy[n_states] (may
 * be NULL) the first maximising action of Q_horizon; q[n_states*n_actions]
 * (may be NULL) Q_horizon itself. When the state includes the time (pricing)
 * Q_horizon is the optimal Q of every state; otherwise it is the optimal
 * first step with the whole horizon ahead. Returns 0 or CH_ENOMEM. */
int ql_optimal(const ql_mdp *m, double gamma, double *value, uint32_t *policy, double *q,
               ch_err *err);

/* The exact expected return of the stationary deterministic policy over
 * the horizon (and, in v[n_states] if not NULL, of every state with the
 * whole horizon ahead). Returns 0 or CH_ENOMEM. */
int ql_policy_value(const ql_mdp *m, double gamma, const uint32_t *policy, double *value, double *v,
                    ch_err *err);

/* The mean and standard error of the return of the policy over n episodes,
 * episode i drawn from stream ch_rng_stream(stream_kind, i). This function
 * can't fail. */
void ql_policy_montecarlo(const ql_mdp *m, double gamma, const uint32_t *policy, uint64_t n,
                          uint64_t seed, uint64_t stream_kind, double *mean, double *stderr_);

/* The greedy policy of q (+ q2 when not NULL), ties to the first action. */
void ql_greedy(const double *q, const double *q2, size_t n_states, size_t n_actions,
               uint32_t *policy);

#endif
