/* mdp.c: the exact outcome table of a finite MDP: building and sampling. */
#include "mdp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

ql_mdp *ql_mdp_new(size_t n_states, size_t n_actions, size_t horizon)
{
    size_t nsa;
    if (n_states == 0 || n_actions == 0 || ch_mul_size(n_states, n_actions, &nsa) != 0 ||
        nsa > QL_MAX_ENTRIES || n_states > UINT32_MAX) {
        return NULL;
    }
    ql_mdp *m = calloc(1, sizeof *m);
    if (!m) {
        return NULL;
    }
    m->n_states = n_states;
    m->n_actions = n_actions;
    m->horizon = horizon;
    m->off = ch_calloc_array(nsa + 1, sizeof *m->off);
    if (!m->off) {
        free(m);
        return NULL;
    }
    return m;
}

/* Frees the process and nulls *m; accepts NULL. */
void ql_mdp_destroy(ql_mdp **m)
{
    if (!m || !*m) {
        return;
    }
    ql_mdp *p = *m;
    free(p->off);
    free(p->cum);
    free(p->prob);
    free(p->reward);
    free(p->next);
    free(p->done);
    free(p->start);
    free(p->start_p);
    free(p->start_cum);
    free(p);
    *m = NULL;
}

static int s_grow(ql_mdp *m)
{
    size_t cap = m->cap ? m->cap * 2 : 1024;
    if (cap > QL_MAX_OUTCOMES) {
        cap = QL_MAX_OUTCOMES;
    }
    if (cap <= m->n_outcomes) {
        return CH_ENOMEM;
    }
    double *c = realloc(m->cum, cap * sizeof *c);
    if (c) {
        m->cum = c;
    }
    double *p = realloc(m->prob, cap * sizeof *p);
    if (p) {
        m->prob = p;
    }
    double *r = realloc(m->reward, cap * sizeof *r);
    if (r) {
        m->reward = r;
    }
    uint32_t *n = realloc(m->next, cap * sizeof *n);
    if (n) {
        m->next = n;
    }
    uint8_t *d = realloc(m->done, cap * sizeof *d);
    if (d) {
        m->done = d;
    }
    if (!c || !p || !r || !n || !d) {
        return CH_ENOMEM;
    }
    m->cap = cap;
    return 0;
}

int ql_mdp_add(ql_mdp *m, double p, double reward, size_t next, int done)
{
    if (m->n_outcomes == m->cap && s_grow(m) != 0) {
        return CH_ENOMEM;
    }
    size_t k = m->n_outcomes++;
    m->prob[k] = p;
    m->reward[k] = reward;
    m->next[k] = (uint32_t)(next < m->n_states ? next : m->n_states);
    m->done[k] = done != 0;
    return 0;
}

int ql_mdp_close(ql_mdp *m, ch_err *err)
{
    size_t nsa = m->n_states * m->n_actions;
    if (m->sa_open >= nsa) {
        return ch_err_set(err, CH_EINTERNAL, "qlearning: more state-action pairs than declared");
    }
    size_t lo = m->off[m->sa_open], hi = m->n_outcomes;
    if (hi == lo) {
        return ch_err_set(err, CH_EINTERNAL, "qlearning: state-action pair %zu has no outcome",
                          m->sa_open);
    }
    double c = 0;
    for (size_t k = lo; k < hi; k++) {
        c += m->prob[k];
        m->cum[k] = c;
    }
    if (!(fabs(c - 1.0) <= 1e-9)) {
        return ch_err_set(err, CH_EINTERNAL,
                          "qlearning: outcome probabilities of pair %zu sum to %.17g", m->sa_open,
                          c);
    }
    for (size_t k = lo; k < hi; k++) {
        m->cum[k] /= c;
    }
    m->cum[hi - 1] = 1.0;
    m->off[++m->sa_open] = hi;
    return 0;
}

int ql_mdp_set_start(ql_mdp *m, const uint32_t *states, const double *p, size_t n, ch_err *err)
{
    if (n == 0) {
        return ch_err_set(err, CH_EINTERNAL, "qlearning: empty start distribution");
    }
    m->start = ch_alloc_array(n, sizeof *m->start);
    m->start_p = ch_alloc_array(n, sizeof *m->start_p);
    m->start_cum = ch_alloc_array(n, sizeof *m->start_cum);
    if (!m->start || !m->start_p || !m->start_cum) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    double c = 0;
    for (size_t i = 0; i < n; i++) {
        if (states[i] >= m->n_states) {
            return ch_err_set(err, CH_EINTERNAL, "qlearning: start state out of range");
        }
        m->start[i] = states[i];
        m->start_p[i] = p[i];
        c += p[i];
        m->start_cum[i] = c;
    }
    if (!(fabs(c - 1.0) <= 1e-9)) {
        return ch_err_set(err, CH_EINTERNAL, "qlearning: start probabilities sum to %.17g", c);
    }
    m->start_cum[n - 1] = 1.0;
    m->n_start = n;
    return 0;
}

/* The longest path to an end, when every continuing outcome goes to a
 * lower-numbered state (m->depth stays 0 otherwise). */
static int s_depth(ql_mdp *m, ch_err *err)
{
    size_t *d = ch_alloc_array(m->n_states, sizeof *d), deepest = 0;
    if (!d) {
        return ch_err_set(err, CH_ENOMEM, "out of memory checking the environment's order");
    }
    m->depth = 0;
    for (size_t s = 0; s < m->n_states; s++) {
        d[s] = 1;
        for (size_t k = m->off[s * m->n_actions]; k < m->off[(s + 1) * m->n_actions]; k++) {
            if (m->done[k]) {
                continue;
            }
            if (m->next[k] >= s) {
                free(d);
                return 0;
            }
            d[s] = d[m->next[k]] + 1 > d[s] ? d[m->next[k]] + 1 : d[s];
        }
        deepest = d[s] > deepest ? d[s] : deepest;
    }
    free(d);
    m->depth = deepest;
    return 0;
}

int ql_mdp_finish(ql_mdp *m, ch_err *err)
{
    if (m->sa_open != m->n_states * m->n_actions || m->n_start == 0) {
        return ch_err_set(err, CH_EINTERNAL, "qlearning: the environment table is incomplete");
    }
    for (size_t k = 0; k < m->n_outcomes; k++) {
        if (m->next[k] >= m->n_states) {
            return ch_err_set(err, CH_EINTERNAL, "qlearning: next state out of range");
        }
    }
    return s_depth(m, err);
}

size_t ql_mdp_start(const ql_mdp *m, ch_rng *r)
{
    if (m->n_start == 1) {
        return m->start[0];
    }
    double u = ch_rng_uniform(r);
    size_t i = 0;
    while (i + 1 < m->n_start && u >= m->start_cum[i]) {
        i++;
    }
    return m->start[i];
}
