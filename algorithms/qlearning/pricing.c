/* pricing.c: the dynamic-pricing market (finite inventory, finite horizon,
 * Poisson demand with price elasticity and Markov seasons) as an exact MDP.
 *
 * State (t periods left 1..T, x units left 0..X, season k) is numbered
 * ((t-1)(X+1) + x)K + k; one more state, T(X+1)K, is the end. */
#include "env.h"

#include <math.h>

size_t ql_pricing_state(const ql_pricing *p, long t, long x, long k)
{
    return ((size_t)(t - 1) * (size_t)(p->inventory + 1) + (size_t)x) * p->n_seasons + (size_t)k;
}

/* Poisson(lambda) probability of d, in log space so large means do not
 * underflow the first terms. */
static double s_pois(double lambda, long d)
{
    if (lambda <= 0) {
        return d == 0 ? 1.0 : 0.0;
    }
    return exp((double)d * log(lambda) - lambda - lgamma((double)d + 1.0));
}

static int s_pair(ql_mdp *m, const ql_pricing *p, long t, long x, long k, size_t a, ch_err *err)
{
    size_t end = (size_t)p->periods * (size_t)(p->inventory + 1) * p->n_seasons;
    double price = p->prices[a];
    double lambda =
        p->base_demand * p->season_factor[k] * pow(price / p->competitor_price, -p->elasticity);
    double below = 0;
    for (long d = 0; d <= x; d++) {
        double pd;
        if (d < x) {
            pd = s_pois(lambda, d);
            below += pd;
        } else {
            pd = 1.0 - below; /* demand at least the stock: everything sells */
            pd = pd < 0 ? 0 : pd;
        }
        if (pd == 0) {
            continue;
        }
        double left = (double)(x - d);
        double r = price * (double)d - p->holding_cost * left;
        if (t == 1) {
            r += p->salvage_value * left;
            if (ql_mdp_add(m, pd, r, end, 1) != 0) {
                return ch_err_set(err, CH_ENOMEM, "out of memory building the pricing model");
            }
            continue;
        }
        for (size_t k2 = 0; k2 < p->n_seasons; k2++) {
            double pk = p->season_transition[(size_t)k * p->n_seasons + k2];
            if (pk == 0) {
                continue;
            }
            size_t s2 = ql_pricing_state(p, t - 1, x - d, (long)k2);
            if (ql_mdp_add(m, pd * pk, r, s2, 0) != 0) {
                return ch_err_set(err, CH_ENOMEM, "out of memory building the pricing model");
            }
        }
    }
    return ql_mdp_close(m, err);
}

ql_mdp *ql_pricing_build(const ql_pricing *p, long max_steps, ch_err *err)
{
    size_t n = (size_t)p->periods * (size_t)(p->inventory + 1) * p->n_seasons + 1;
    ql_mdp *m = ql_mdp_new(n, p->n_prices, (size_t)max_steps);
    if (!m) {
        ch_err_set(err, CH_ENOMEM, "out of memory building the pricing model");
        return NULL;
    }
    int rc = 0;
    for (long t = 1; t <= p->periods && rc == 0; t++) {
        for (long x = 0; x <= p->inventory && rc == 0; x++) {
            for (long k = 0; k < (long)p->n_seasons && rc == 0; k++) {
                for (size_t a = 0; a < p->n_prices && rc == 0; a++) {
                    rc = s_pair(m, p, t, x, k, a, err);
                }
            }
        }
    }
    for (size_t a = 0; a < p->n_prices && rc == 0; a++) { /* the end state */
        rc = ql_mdp_add(m, 1.0, 0.0, n - 1, 1) ? ch_err_set(err, CH_ENOMEM, "out of memory")
                                               : ql_mdp_close(m, err);
    }
    uint32_t s0 = (uint32_t)ql_pricing_state(p, p->periods, p->inventory, p->initial_season);
    double one = 1.0;
    if (rc == 0) {
        rc = ql_mdp_set_start(m, &s0, &one, 1, err);
    }
    if (rc == 0) {
        rc = ql_mdp_finish(m, err);
    }
    if (rc) {
        ql_mdp_destroy(&m);
    }
    return m;
}
