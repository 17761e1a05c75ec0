/* optimal.c: backward induction, exact policy evaluation and Monte-Carlo
 * evaluation on the exact outcome table. */
#include "optimal.h"
#include "explore.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static double s_start_value(const ql_mdp *m, const double *v)
{
    double sum = 0;
    for (size_t i = 0; i < m->n_start; i++) {
        sum += m->start_p[i] * v[m->start[i]];
    }
    return sum;
}

static bool s_ordered(const ql_mdp *m)
{
    return m->depth > 0 && m->depth <= m->horizon;
}

static double s_backup(const ql_mdp *m, double gamma, size_t sa, const double *v)
{
    double x = 0;
    for (size_t k = m->off[sa]; k < m->off[sa + 1]; k++) {
        x += m->prob[k] * (m->reward[k] + (m->done[k] ? 0.0 : gamma * v[m->next[k]]));
    }
    return x;
}

int ql_optimal(const ql_mdp *m, double gamma, double *value, uint32_t *policy, double *q,
               ch_err *err)
{
    size_t ns = m->n_states, na = m->n_actions;
    double *v = ch_calloc_array(ns, sizeof *v), *w = ch_alloc_array(ns, sizeof *w);
    if (!v || !w) {
        free(v);
        free(w);
        return ch_err_set(err, CH_ENOMEM, "out of memory in backward induction");
    }
    /* With time in the state (m->depth, mdp.h) every state's next states
     * come before it and are final when it is reached: one sweep in place
     * gives what `horizon` sweeps would, operation for operation. */
    size_t sweeps = s_ordered(m) ? 1 : m->horizon;
    for (size_t h = 1; h <= sweeps; h++) {
        int last = h == sweeps;
        for (size_t s = 0; s < ns; s++) {
            double best = -INFINITY;
            size_t arg = 0;
            for (size_t a = 0; a < na; a++) {
                double x = s_backup(m, gamma, s * na + a, v);
                if (last && q) {
                    q[s * na + a] = x;
                }
                if (x > best) {
                    best = x;
                    arg = a;
                }
            }
            (sweeps == 1 ? v : w)[s] = best;
            if (last && policy) {
                policy[s] = (uint32_t)arg;
            }
        }
        if (sweeps == 1) {
            break;
        }
        double *t = v;
        v = w;
        w = t;
    }
    *value = s_start_value(m, v);
    free(v);
    free(w);
    return 0;
}

int ql_policy_value(const ql_mdp *m, double gamma, const uint32_t *policy, double *value,
                    double *vout, ch_err *err)
{
    size_t ns = m->n_states, na = m->n_actions;
    double *v = ch_calloc_array(ns, sizeof *v), *w = ch_alloc_array(ns, sizeof *w);
    if (!v || !w) {
        free(v);
        free(w);
        return ch_err_set(err, CH_ENOMEM, "out of memory evaluating a policy");
    }
    size_t sweeps = s_ordered(m) ? 1 : m->horizon;
    for (size_t h = 1; h <= sweeps; h++) {
        for (size_t s = 0; s < ns; s++) {
            size_t a = policy[s] < na ? policy[s] : 0;
            (sweeps == 1 ? v : w)[s] = s_backup(m, gamma, s * na + a, v);
        }
        if (sweeps == 1) {
            break;
        }
        double *t = v;
        v = w;
        w = t;
    }
    *value = s_start_value(m, v);
    if (vout) {
        memcpy(vout, v, ns * sizeof *v);
    }
    free(v);
    free(w);
    return 0;
}

void ql_policy_montecarlo(const ql_mdp *m, double gamma, const uint32_t *policy, uint64_t n,
                          uint64_t seed, uint64_t stream_kind, double *mean, double *stderr_)
{
    double sum = 0, sum2 = 0;
    for (uint64_t i = 0; i < n; i++) {
        ch_rng r;
        ch_rng_init(&r, seed, ch_rng_stream(stream_kind, i));
        size_t s = ql_mdp_start(m, &r);
        double ret = 0, disc = 1;
        for (size_t t = 0; t < m->horizon; t++) {
            size_t k = ql_mdp_sample(m, s, policy[s] < m->n_actions ? policy[s] : 0, &r);
            ret += disc * m->reward[k];
            disc *= gamma;
            if (m->done[k]) {
                break;
            }
            s = m->next[k];
        }
        sum += ret;
        sum2 += ret * ret;
    }
    *mean = n ? sum / (double)n : NAN;
    double var = n > 1 ? (sum2 - sum * sum / (double)n) / (double)(n - 1) : 0;
    *stderr_ = n > 1 ? sqrt(var > 0 ? var : 0) / sqrt((double)n) : NAN;
}

void ql_greedy(const double *q, const double *q2, size_t n_states, size_t n_actions,
               uint32_t *policy)
{
    double row[QL_MAX_ACTIONS];
    for (size_t s = 0; s < n_states; s++) {
        const double *x = q + s * n_actions;
        if (q2) {
            for (size_t a = 0; a < n_actions; a++) {
                row[a] = x[a] + q2[s * n_actions + a];
            }
            x = row;
        }
        policy[s] = (uint32_t)ql_argmax(x, n_actions);
    }
}
