/* test_qlearning.c: the qlearning pieces.
 *
 * Exact optima against an independent computation: bench/qlearning/
 * reference.py (NumPy/SciPy, Debian /usr/bin/python3), run once, which does
 * backward induction from the models' definitions, e.g. for pricing
 *
 *   for t in 1..T: for x, k, p: lam = base * f[k] * (p / comp) ** -el
 *       pd = poisson.pmf(arange(x + 1), lam); pd[x] = poisson.sf(x - 1, lam)
 *       q = pd @ (p d - hold (x - d) + [t == 1] salvage (x - d) + V[x - d] @ P[k])
 *
 * and on Gymnasium's toy-text dynamics re-implemented there. Tolerance 1e-9
 * (absolute; relative 1e-12 for the pricing values near 1000). Then: the
 * learners converge to the known optimal policy of a tiny MDP, the merge's
 * fixed-target fraction, the schedules, and bad configurations. */
#include "algorithms/qlearning/env.h"
#include "algorithms/qlearning/learner.h"
#include "algorithms/qlearning/optimal.h"
#include "tests/check.h"

#include <stdint.h>

static ch_config *s_cfg(const char *yaml)
{
    ch_err err;
    ch_config *c = ch_config_parse(yaml, strlen(yaml), "t.yaml", &err);
    if (!c) {
        fprintf(stderr, "%s\n", err.msg);
    }
    return c;
}

/* The optimal value; when `stationary` (the state holds the time, or the
 * horizon does not bind) the greedy policy of Q_horizon attains it exactly,
 * else it attains at most it. */
static double s_opt(const char *yaml, int stationary)
{
    ch_err err;
    ch_config *c = s_cfg(yaml);
    ql_env e;
    double v = NAN;
    if (c && ql_env_read(c, &e, &err) == 0) {
        ql_mdp *m = ql_env_build(&e, &err);
        if (m) {
            uint32_t *pol = calloc(m->n_states, sizeof *pol);
            double pv = NAN;
            if (ql_optimal(m, 1.0, &v, pol, NULL, &err) == 0 &&
                ql_policy_value(m, 1.0, pol, &pv, NULL, &err) == 0) {
                if (stationary) {
                    CHECK_NEAR(pv, v, 1e-9 * (fabs(v) > 1 ? fabs(v) : 1));
                } else {
                    CHECK(pv <= v + 1e-12);
                }
            }
            free(pol);
            ql_mdp_destroy(&m);
        } else {
            fprintf(stderr, "%s\n", err.msg);
        }
    } else if (c) {
        fprintf(stderr, "%s\n", err.msg);
    }
    ch_config_destroy(&c);
    return v;
}

static void test_optimal(void)
{
    /* reference.py: pricing default 1080.3791196328 (printed %.15g) */
    CHECK_REL(s_opt("model: {env: pricing}\n", 1), 1080.3791196328, 1e-12, 1);
    CHECK_REL(s_opt("model: {env: pricing, pricing: {periods: 5, inventory: 6, prices: [10, 20, "
                    "30], season_factors: [1], season_transition: [1], base_demand: 1.5, "
                    "elasticity: 1.5, competitor_price: 20, holding_cost: 1, salvage_value: 2}}\n",
                    1),
              108.83623841424, 1e-12, 1);
    CHECK_NEAR(s_opt("model: {env: frozenlake}\n", 0), 0.744190287829266, 1e-9);
    CHECK_NEAR(s_opt("model: {env: frozenlake, frozenlake: {map: 8x8}}\n", 0), 0.913220150201617,
               1e-9);
    CHECK_NEAR(s_opt("model: {env: cliffwalking}\n", 1), -13.0, 1e-9);
    CHECK_NEAR(s_opt("model: {env: taxi}\n", 1), 7.93, 1e-9);
    /* gamma 0.9 on the default market: 552.134180959432 */
    ch_err err;
    ch_config *c = s_cfg("model: {env: pricing}\n");
    ql_env e;
    CHECK(c && ql_env_read(c, &e, &err) == 0);
    ql_mdp *m = c ? ql_env_build(&e, &err) : NULL;
    double v = NAN;
    CHECK(m && ql_optimal(m, 0.9, &v, NULL, NULL, &err) == 0);
    CHECK_REL(v, 552.134180959432, 1e-12, 1);
    /* Monte Carlo agrees with the exact expectation within 4 standard errors */
    if (m) {
        uint32_t *pol = calloc(m->n_states, sizeof *pol);
        ql_optimal(m, 1.0, &v, pol, NULL, &err);
        double mean, se;
        ql_policy_montecarlo(m, 1.0, pol, 20000, 3, CH_STREAM_ALGO + 1, &mean, &se);
        CHECK(fabs(mean - v) < 4 * se);
        free(pol);
    }
    ql_mdp_destroy(&m);
    ch_config_destroy(&c);
}

/* tiny MDP: state 0: action 0 ends with reward 1, action 1 goes to state 1
 * with reward 0; state 1: action 0 ends with reward 10 or 0 (1/2 each, mean
 * 5), action 1 ends with reward 4. Optimal: (0 -> 1, 1 -> 0), value 5
 * (gamma 1), Q*(0,1) = 5, Q*(1,0) = 5, Q*(1,1) = 4. */
static ql_mdp *s_tiny(void)
{
    ch_err err;
    ql_mdp *m = ql_mdp_new(2, 2, 10);
    ql_mdp_add(m, 1, 1, 0, 1);
    ql_mdp_close(m, &err);
    ql_mdp_add(m, 1, 0, 1, 0);
    ql_mdp_close(m, &err);
    ql_mdp_add(m, 0.5, 10, 1, 1);
    ql_mdp_add(m, 0.5, 0, 1, 1);
    ql_mdp_close(m, &err);
    ql_mdp_add(m, 1, 4, 1, 1);
    ql_mdp_close(m, &err);
    uint32_t s0 = 0;
    double one = 1;
    ql_mdp_set_start(m, &s0, &one, 1, &err);
    CHECK(ql_mdp_finish(m, &err) == 0);
    return m;
}

static void test_learners(void)
{
    ql_mdp *m = s_tiny();
    for (int k = 0; k <= QL_LEARN_DOUBLE_Q; k++) {
        ql_learner l = {.kind = (ql_learner_kind)k, .gamma = 1.0};
        l.explore.kind = QL_EXPLORE_EPSILON;
        l.explore.epsilon = (ql_schedule){QL_SCHED_CONSTANT, 0.3, 0.3, 1};
        l.lr = (ql_lrate){QL_LR_VISITS, 1.0, 1.0, 0.0}; /* 1/(1+n): sample averages */
        double q[4] = {0}, q2[4] = {0}, vis[4] = {0};
        for (uint64_t i = 0; i < 40000; i++) {
            ch_rng r;
            ch_rng_init(&r, 11, ch_rng_stream(CH_STREAM_ROLLOUT, i));
            ql_episode ep;
            ql_learner_episode(&l, m, q, k == QL_LEARN_DOUBLE_Q ? q2 : NULL, vis, NULL, (double)i,
                               &r, &ep);
        }
        uint32_t pol[2];
        ql_greedy(q, k == QL_LEARN_DOUBLE_Q ? q2 : NULL, 2, 2, pol);
        CHECK(pol[0] == 1 && pol[1] == 0);
        double f = k == QL_LEARN_DOUBLE_Q ? 0.5 : 1.0; /* each double-Q table ~ Q */
        double q10 = k == QL_LEARN_DOUBLE_Q ? (q[2] + q2[2]) * f : q[2];
        CHECK_NEAR(q10, 5.0, 0.15);
        /* deterministic reward: exact after one visit, except for double Q,
         * whose two tables share the visit count (each sees about half) */
        CHECK_NEAR(k == QL_LEARN_DOUBLE_Q ? (q[3] + q2[3]) * f : q[3], 4.0,
                   k == QL_LEARN_DOUBLE_Q ? 0.1 : 1e-9);
        if (k == QL_LEARN_Q) {
            CHECK_NEAR(q[1], 5.0, 0.3); /* Q*(0,1) = max_a Q(1,a) */
        } else if (k == QL_LEARN_SARSA || k == QL_LEARN_EXPECTED_SARSA) {
            /* on-policy: 0.85 Q(1,0) + 0.15 Q(1,1) = 4.85 under epsilon 0.3 */
            CHECK_NEAR(q[1], 4.85, 0.3);
        }
        double v, opt;
        ch_err err;
        ql_policy_value(m, 1.0, pol, &v, NULL, &err);
        ql_optimal(m, 1.0, &opt, NULL, NULL, &err);
        CHECK_NEAR(v, 5.0, 1e-12);
        CHECK_NEAR(opt, 5.0, 1e-12);
    }
    /* a learner on FrozenLake 4x4 reaches 99% of the optimum sequentially */
    ch_err err;
    ql_mdp *lake = ql_frozenlake_build(4, true, 100, &err);
    ql_learner l = {.kind = QL_LEARN_Q, .gamma = 1.0};
    l.explore.epsilon = (ql_schedule){QL_SCHED_LINEAR, 1.0, 0.1, 20000};
    l.lr = (ql_lrate){QL_LR_VISITS, 1.0, 0.5, 0.0};
    double q[64] = {0}, vis[64] = {0};
    for (uint64_t i = 0; i < 40000; i++) {
        ch_rng r;
        ch_rng_init(&r, 5, ch_rng_stream(CH_STREAM_ROLLOUT, i));
        ql_episode ep;
        ql_learner_episode(&l, lake, q, NULL, vis, NULL, (double)i, &r, &ep);
    }
    uint32_t pol[16];
    ql_greedy(q, NULL, 16, 4, pol);
    double v, opt;
    ql_policy_value(lake, 1.0, pol, &v, NULL, &err);
    ql_optimal(lake, 1.0, &opt, NULL, NULL, &err);
    CHECK(v >= 0.99 * opt);
    ql_mdp_destroy(&lake);
    ql_mdp_destroy(&m);
}

static void test_schedules(void)
{
    ql_schedule lin = {QL_SCHED_LINEAR, 1.0, 0.1, 100};
    CHECK_NEAR(ql_schedule_at(&lin, 0), 1.0, 1e-15);
    CHECK_NEAR(ql_schedule_at(&lin, 50), 0.55, 1e-15);
    CHECK_NEAR(ql_schedule_at(&lin, 500), 0.1, 1e-15);
    ql_schedule ex = {QL_SCHED_EXPONENTIAL, 1.0, 0.1, 100};
    CHECK_NEAR(ql_schedule_at(&ex, 100), 0.1 + 0.9 * exp(-1), 1e-15);
    ql_lrate avg = {QL_LR_VISITS, 1.0, 1.0, 0.0};
    CHECK_NEAR(ql_lrate_at(&avg, 3), 0.25, 1e-15);
    /* sample averages: n updates after n0 cover n / (n0 + n) of the way */
    CHECK_NEAR(ql_lrate_fraction(&avg, 0, 7), 1.0, 1e-15);
    CHECK_NEAR(ql_lrate_fraction(&avg, 6, 3), 3.0 / 9.0, 1e-15);
    /* the merge's fast products (power 1/2 and 1, no floor) and the general
     * loop (a floor) against the product taken one visit at a time */
    ql_lrate fast[] = {{QL_LR_VISITS, 1.0, 0.5, 0.0},
                       {QL_LR_VISITS, 0.3, 0.5, 0.0},
                       {QL_LR_VISITS, 0.7, 1.0, 0.0},
                       {QL_LR_VISITS, 0.5, 0.5, 0.01},
                       {QL_LR_VISITS, 0.5, 0.6, 0.0}};
    double cases[][2] = {{0, 1}, {0, 5}, {3, 2}, {10, 7}, {1000, 4093}, {123456, 50001}};
    for (size_t f = 0; f < sizeof fast / sizeof fast[0]; f++) {
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            double keep = 1;
            for (double i = 0; i < cases[c][1]; i++) {
                keep *= 1.0 - ql_lrate_at(&fast[f], cases[c][0] + i);
            }
            double got = ql_lrate_fraction(&fast[f], cases[c][0], cases[c][1]);
            /* products of up to 5e4 roundings: relative 1e-11 on keep */
            CHECK_NEAR(got, 1.0 - keep, 1e-11 * (keep > 1e-300 ? keep : 1) + 1e-15);
        }
    }
    ql_lrate cst = {QL_LR_CONSTANT, 0.1, 0, 0};
    CHECK_NEAR(ql_lrate_fraction(&cst, 50, 2), 1 - 0.81, 1e-15);
    CHECK_NEAR(ql_lrate_fraction(&cst, 50, 0), 0.0, 0);
    /* Boltzmann probabilities sum to one and favour the best action */
    ql_explore bz = {.kind = QL_EXPLORE_BOLTZMANN};
    double row[3] = {1, 2, 0}, pi[3];
    ql_explore_probs(&bz, 0.5, row, 3, pi);
    CHECK_NEAR(pi[0] + pi[1] + pi[2], 1.0, 1e-15);
    CHECK_NEAR(pi[1] / pi[0], exp(2.0), 1e-12);
}

static void s_bad(const char *yaml, const char *text)
{
    ch_err err;
    ch_err_clear(&err);
    ch_config *c = s_cfg(yaml);
    ql_env e;
    ql_learner l;
    int rc = c ? ql_env_read(c, &e, &err) : -1;
    if (rc == 0 && c) {
        rc = ql_learner_read(c, &l, &err);
    }
    CHECK(rc == CH_EINVAL);
    CHECK_HAS(err.msg, text);
    ch_config_destroy(&c);
}

static void test_bad(void)
{
    s_bad("model: {env: pricing, pricing: {inventory: -3}}\n",
          "model.pricing.inventory: the seller needs at least one unit (got -3)");
    s_bad("model: {env: pricing, pricing: {prices: []}}\n", "at least one price level");
    s_bad("model: {env: pricing, pricing: {prices: [10, 0]}}\n", "prices must be positive");
    s_bad("model: {env: pricing, pricing: {season_transition: [0.5, 0.4, 0.5, 0.5]}}\n",
          "row 1 sums to 0.9");
    s_bad("model: {env: pricing, pricing: {season_transition: [1, 0, 0]}}\n",
          "3 numbers for 2 seasons");
    s_bad("model: {env: pricing, pricing: {periods: 1000, inventory: 5000}}\n",
          "too large for a table");
    s_bad("model: {env: pricing, pricing: {initial_season: 3}}\n", "there are 2 seasons");
    s_bad("model: {env: mountaincar}\n", "model.env");
    s_bad("model: {env: frozenlake, frozenlake: {map: 5x5}}\n", "model.frozenlake.map");
    s_bad("model: {env: taxi, learner: dqn}\n", "model.learner");
    s_bad("model: {env: taxi, epsilon_start: 1.5}\n", "model.epsilon_start");
}

int main(void)
{
    test_optimal();
    test_learners();
    test_schedules();
    test_bad();
    CH_TEST_END();
}
