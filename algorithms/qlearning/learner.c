/* learner.c: one episode of Q-learning, SARSA, Expected SARSA or Double
 * Q-learning (van Hasselt 2010) on a Q table. */
#include "learner.h"

#include <string.h>

const char *const ql_learner_names[] = {"q", "sarsa", "expected_sarsa", "double_q", NULL};

int ql_learner_read(ch_config *cfg, ql_learner *out, ch_err *err)
{
    int kind = 0, rc;
    if ((rc = ch_cfg_enum(cfg, "model.learner", "q", ql_learner_names, &kind, err)) ||
        (rc = ch_cfg_num(cfg, "model.gamma", 1.0, 0, 1, &out->gamma, err)) ||
        (rc = ql_explore_read(cfg, &out->explore, err)) ||
        (rc = ql_lrate_read(cfg, &out->lr, err))) {
        return rc;
    }
    out->kind = (ql_learner_kind)kind;
    return 0;
}

/* the row the agent acts on: q, or q + q2 for double Q-learning */
static const double *s_row(const ql_mdp *m, const double *q, const double *q2, size_t s,
                           double *tmp)
{
    const double *row = q + s * m->n_actions;
    if (!q2) {
        return row;
    }
    const double *row2 = q2 + s * m->n_actions;
    for (size_t a = 0; a < m->n_actions; a++) {
        tmp[a] = row[a] + row2[a];
    }
    return tmp;
}

void ql_learner_episode(const ql_learner *l, const ql_mdp *m, double *q, double *q2, double *visits,
                        const double *base, double episode, ch_rng *r, ql_episode *out)
{
    const size_t na = m->n_actions;
    const double gamma = l->gamma;
    const double param = ql_explore_param(&l->explore, episode);
    double tmp[QL_MAX_ACTIONS], pi[QL_MAX_ACTIONS];
    double *dq = l->kind == QL_LEARN_DOUBLE_Q ? q2 : NULL;
    size_t s = ql_mdp_start(m, r);
    size_t a = ql_explore_act(&l->explore, param, s_row(m, q, dq, s, tmp), na, r);
    double ret = 0, disc = 1;
    size_t t = 0;
    while (t < m->horizon) {
        size_t k = ql_mdp_sample(m, s, a, r);
        double rew = m->reward[k];
        size_t s2 = m->next[k];
        int done = m->done[k];
        ret += disc * rew;
        disc *= gamma;
        t++;
        size_t sa = s * na + a;
        double n = visits[sa] + (base ? base[sa] : 0);
        visits[sa] += 1;
        double alpha = ql_lrate_at(&l->lr, n);
        size_t a2 = 0;
        if (!done && l->kind == QL_LEARN_SARSA) { /* SARSA draws A' before the update */
            a2 = ql_explore_act(&l->explore, param, q + s2 * na, na, r);
        }
        double *tq = q;
        double boot = 0;
        if (!done) {
            const double *next = q + s2 * na;
            switch (l->kind) {
            case QL_LEARN_Q:
                boot = next[ql_argmax(next, na)];
                break;
            case QL_LEARN_SARSA:
                boot = next[a2];
                break;
            case QL_LEARN_EXPECTED_SARSA:
                ql_explore_probs(&l->explore, param, next, na, pi);
                for (size_t b = 0; b < na; b++) {
                    boot += pi[b] * next[b];
                }
                break;
            case QL_LEARN_DOUBLE_Q:
                break;
            }
        }
        if (l->kind == QL_LEARN_DOUBLE_Q) {
            /* update one table with the other's value of its own best action */
            double *other = q2;
            if (ch_rng_uniform(r) < 0.5) {
                tq = q2;
                other = q;
            }
            if (!done) {
                size_t best = ql_argmax(tq + s2 * na, na);
                boot = other[s2 * na + best];
            }
        }
        tq[sa] += alpha * (rew + gamma * boot - tq[sa]);
        if (done) {
            break;
        }
        if (l->kind != QL_LEARN_SARSA) { /* the others act on the updated table */
            a2 = ql_explore_act(&l->explore, param, s_row(m, q, dq, s2, tmp), na, r);
        }
        s = s2;
        a = a2;
    }
    out->ret = ret;
    out->steps = t;
}
