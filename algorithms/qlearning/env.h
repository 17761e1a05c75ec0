/* env.h: the environments (pricing, frozenlake, cliffwalking, taxi): their
 * parameters from model.* keys and their exact outcome tables (mdp.h).
 *
 * Every environment is a deterministic function of (state, action, random
 * stream): a rollout samples the exact table, so the model a learner sees in
 * simulation is the model the solvers of optimal.h use. */
#ifndef QL_ENV_H
#define QL_ENV_H

#include "mdp.h"

#include "common/config.h"
#include "common/err.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    QL_ENV_PRICING = 0,
    QL_ENV_FROZENLAKE = 1,
    QL_ENV_CLIFFWALKING = 2,
    QL_ENV_TAXI = 3,
} ql_env_kind;

extern const char *const ql_env_names[]; /* NULL-terminated, in enum order */

#define QL_MAX_PRICES  64
#define QL_MAX_SEASONS 12

/* The pricing market (pricing.c): a seller with `inventory` units over
 * `periods` periods picks a price level each period. Demand in season k at
 * price p is Poisson with mean
 *     base_demand * season_factor[k] * (p / competitor_price)^(-elasticity);
 * sales are min(demand, stock); the reward is p * sales minus holding_cost
 * per unit left after the period, plus salvage_value per unit left after
 * the last period. Seasons follow a Markov chain (season_transition,
 * row-major, rows sum to one). */
typedef struct ql_pricing {
    long periods;
    long inventory;
    size_t n_prices;
    double prices[QL_MAX_PRICES];
    double base_demand;
    double elasticity;
    double competitor_price;
    double holding_cost;
    double salvage_value;
    size_t n_seasons;
    double season_factor[QL_MAX_SEASONS];
    double season_transition[QL_MAX_SEASONS * QL_MAX_SEASONS];
    long initial_season;
} ql_pricing;

typedef struct ql_env {
    ql_env_kind kind;
    long max_steps; /* episode time limit */
    ql_pricing pricing;
    int lake_size; /* frozenlake: 4 or 8 */
    bool slippery;
} ql_env;

/* Reads model.env, model.max_steps and model.<env>.* (defaults written
 * back), validating them: a bad value or a state space too large for a table
 * is CH_EINVAL with the key, the file and line, and what to change. */
int ql_env_read(ch_config *cfg, ql_env *e, ch_err *err);

/* Builds the exact outcome table of e. Returns NULL with err set (out of
 * memory, or an environment error). The caller destroys the result. */
ql_mdp *ql_env_build(const ql_env *e, ch_err *err);

/* Number of states and actions of e (without building it). */
void ql_env_shape(const ql_env *e, size_t *n_states, size_t *n_actions);

/* A short description of state s ("t=3 stock=12 season=1", "row 2 col 3",
 * ...) into buf (64 bytes is enough). Returns buf. */
char *ql_env_state_label(const ql_env *e, size_t s, char *buf, size_t n);
/* A short name of action a ("price 25", "left", "pickup") into buf. */
char *ql_env_action_label(const ql_env *e, size_t a, char *buf, size_t n);

/* The environment builders (one file each). */
ql_mdp *ql_pricing_build(const ql_pricing *p, long max_steps, ch_err *err);
size_t ql_pricing_state(const ql_pricing *p, long t, long x, long k);
ql_mdp *ql_frozenlake_build(int size, bool slippery, long max_steps, ch_err *err);
ql_mdp *ql_cliffwalking_build(long max_steps, ch_err *err);
ql_mdp *ql_taxi_build(long max_steps, ch_err *err);

#endif
