/* explore.c: epsilon-greedy and Boltzmann action selection. */
#include "explore.h"

#include <math.h>

static const char *const s_kinds[] = {"epsilon", "boltzmann", NULL};

int ql_explore_read(ch_config *cfg, ql_explore *out, ch_err *err)
{
    int kind = 0, rc;
    if ((rc = ch_cfg_enum(cfg, "model.exploration", "epsilon", s_kinds, &kind, err)) ||
        (rc = ql_schedule_read(cfg, "model.epsilon", "linear", 1.0, 0.05, 10000, 0, 1,
                               &out->epsilon, err)) ||
        (rc = ql_schedule_read(cfg, "model.temperature", "exponential", 1.0, 0.01, 10000, 1e-6, 1e9,
                               &out->temperature, err))) {
        return rc;
    }
    out->kind = (ql_explore_kind)kind;
    return 0;
}

double ql_explore_param(const ql_explore *x, double episode)
{
    return ql_schedule_at(x->kind == QL_EXPLORE_EPSILON ? &x->epsilon : &x->temperature, episode);
}

/* softmax weights exp((q - max) / tau) into w; returns their sum */
static double s_softmax(double tau, const double *row, size_t n, double *w)
{
    double mx = row[ql_argmax(row, n)], sum = 0;
    for (size_t a = 0; a < n; a++) {
        w[a] = exp((row[a] - mx) / tau);
        sum += w[a];
    }
    return sum;
}

size_t ql_explore_act(const ql_explore *x, double param, const double *row, size_t n, ch_rng *r)
{
    if (x->kind == QL_EXPLORE_EPSILON) {
        if (param > 0 && ch_rng_uniform(r) < param) {
            return (size_t)ch_rng_below(r, n);
        }
        return ql_argmax(row, n);
    }
    double w[QL_MAX_ACTIONS];
    double u = ch_rng_uniform(r) * s_softmax(param, row, n, w);
    for (size_t a = 0; a + 1 < n; a++) {
        if (u < w[a]) {
            return a;
        }
        u -= w[a];
    }
    return n - 1;
}

void ql_explore_probs(const ql_explore *x, double param, const double *row, size_t n, double *pi)
{
    if (x->kind == QL_EXPLORE_EPSILON) {
        size_t best = ql_argmax(row, n);
        for (size_t a = 0; a < n; a++) {
            pi[a] = param / (double)n + (a == best ? 1.0 - param : 0.0);
        }
        return;
    }
    double sum = s_softmax(param, row, n, pi);
    for (size_t a = 0; a < n; a++) {
        pi[a] /= sum;
    }
}
