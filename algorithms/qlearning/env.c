/* env.c: environment parameters from the config, validation (with what to
 * change when a model is invalid or too large) and state/action labels. */
#include "env.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const char *const ql_env_names[] = {"pricing", "frozenlake", "cliffwalking", "taxi", NULL};

static const char *const s_maps[] = {"4x4", "8x8", NULL};

/* Reads a list key with a default: absent keys take def (and are written
 * back as a flow sequence so config.yaml shows them). */
static int s_list(ch_config *cfg, const char *key, const double *def, size_t n_def, double *out,
                  size_t max, size_t *n, ch_err *err)
{
    int rc = ch_cfg_num_list(cfg, key, out, max, n, err);
    if (rc) {
        return rc;
    }
    if (*n == 0 && !ch_config_has(cfg, key)) {
        char text[1024];
        size_t at = (size_t)snprintf(text, sizeof text, "%s=[", key);
        for (size_t i = 0; i < n_def && at < sizeof text; i++) {
            out[i] = def[i];
            at += (size_t)snprintf(text + at, sizeof text - at, "%s%.17g", i ? ", " : "", def[i]);
        }
        if (at < sizeof text - 2) {
            snprintf(text + at, sizeof text - at, "]");
            ch_err scratch;
            if (ch_config_set(cfg, text, &scratch) == 0) {
                ch_config_mark_used(cfg, key);
            }
        }
        *n = n_def;
    }
    return 0;
}

static int s_pricing(ch_config *cfg, ql_pricing *p, ch_err *err)
{
    static const double prices[] = {20, 25, 30, 35, 40};
    static const double factors[] = {0.8, 1.25};
    static const double trans[] = {0.85, 0.15, 0.25, 0.75};
    size_t nf = 0, nt = 0;
    int rc;
    if ((rc = ch_cfg_int(cfg, "model.pricing.periods", 20, 1, 100000, &p->periods, err)) ||
        (rc = ch_cfg_int(cfg, "model.pricing.inventory", 40, -10000000, 10000000, &p->inventory,
                         err)) ||
        (rc = s_list(cfg, "model.pricing.prices", prices, 5, p->prices, QL_MAX_PRICES, &p->n_prices,
                     err)) ||
        (rc = ch_cfg_num(cfg, "model.pricing.base_demand", 2.5, 0, 1e6, &p->base_demand, err)) ||
        (rc = ch_cfg_num(cfg, "model.pricing.elasticity", 2.0, 0, 100, &p->elasticity, err)) ||
        (rc = ch_cfg_num(cfg, "model.pricing.competitor_price", 30, 1e-9, 1e12,
                         &p->competitor_price, err)) ||
        (rc = ch_cfg_num(cfg, "model.pricing.holding_cost", 0.5, 0, 1e12, &p->holding_cost, err)) ||
        (rc = ch_cfg_num(cfg, "model.pricing.salvage_value", 5, -1e12, 1e12, &p->salvage_value,
                         err)) ||
        (rc = s_list(cfg, "model.pricing.season_factors", factors, 2, p->season_factor,
                     QL_MAX_SEASONS, &nf, err)) ||
        (rc = s_list(cfg, "model.pricing.season_transition", trans, 4, p->season_transition,
                     QL_MAX_SEASONS * QL_MAX_SEASONS, &nt, err)) ||
        (rc = ch_cfg_int(cfg, "model.pricing.initial_season", 0, 0, QL_MAX_SEASONS - 1,
                         &p->initial_season, err))) {
        return rc;
    }
    if (p->inventory < 1) {
        return ch_err_set(err, CH_EINVAL,
                          "%s: model.pricing.inventory: the seller needs at least one unit "
                          "(got %ld)",
                          ch_config_where(cfg, "model.pricing.inventory"), p->inventory);
    }
    if (p->n_prices == 0) {
        return ch_err_set(err, CH_EINVAL,
                          "%s: model.pricing.prices: at least one price level is needed",
                          ch_config_where(cfg, "model.pricing.prices"));
    }
    for (size_t i = 0; i < p->n_prices; i++) {
        if (!(p->prices[i] > 0) || !isfinite(p->prices[i])) {
            return ch_err_set(err, CH_EINVAL,
                              "%s: model.pricing.prices: price level %zu is %g; prices must be "
                              "positive",
                              ch_config_where(cfg, "model.pricing.prices"), i + 1, p->prices[i]);
        }
    }
    if (nf == 0) {
        return ch_err_set(err, CH_EINVAL, "%s: model.pricing.season_factors: at least one season",
                          ch_config_where(cfg, "model.pricing.season_factors"));
    }
    p->n_seasons = nf;
    for (size_t k = 0; k < nf; k++) {
        if (!(p->season_factor[k] >= 0) || !isfinite(p->season_factor[k])) {
            return ch_err_set(err, CH_EINVAL,
                              "%s: model.pricing.season_factors: factor %zu is %g; demand "
                              "factors must be >= 0",
                              ch_config_where(cfg, "model.pricing.season_factors"), k + 1,
                              p->season_factor[k]);
        }
    }
    if (nt != nf * nf) {
        return ch_err_set(err, CH_EINVAL,
                          "%s: model.pricing.season_transition: %zu numbers for %zu seasons; "
                          "give the %zu x %zu transition matrix row by row",
                          ch_config_where(cfg, "model.pricing.season_transition"), nt, nf, nf, nf);
    }
    for (size_t k = 0; k < nf; k++) {
        double sum = 0;
        for (size_t j = 0; j < nf; j++) {
            double v = p->season_transition[k * nf + j];
            if (!(v >= 0 && v <= 1)) {
                return ch_err_set(err, CH_EINVAL,
                                  "%s: model.pricing.season_transition: entry (%zu, %zu) is %g, "
                                  "not a probability",
                                  ch_config_where(cfg, "model.pricing.season_transition"), k + 1,
                                  j + 1, v);
            }
            sum += v;
        }
        if (fabs(sum - 1.0) > 1e-9) {
            return ch_err_set(err, CH_EINVAL,
                              "%s: model.pricing.season_transition: row %zu sums to %.12g; "
                              "each row is the next season's distribution and must sum to 1",
                              ch_config_where(cfg, "model.pricing.season_transition"), k + 1, sum);
        }
    }
    if ((size_t)p->initial_season >= nf) {
        return ch_err_set(err, CH_EINVAL,
                          "%s: model.pricing.initial_season: %ld, but there are %zu seasons "
                          "(0..%zu)",
                          ch_config_where(cfg, "model.pricing.initial_season"), p->initial_season,
                          nf, nf - 1);
    }
    /* the table: states x prices entries, and about periods * seasons^2 *
     * prices * (stock+1)(stock+2)/2 outcomes */
    double states = (double)p->periods * (double)(p->inventory + 1) * (double)nf + 1;
    double entries = states * (double)p->n_prices;
    double outcomes = (double)p->periods * (double)nf * (double)nf * (double)p->n_prices *
                      ((double)p->inventory + 1) * ((double)p->inventory + 2) / 2;
    if (entries > QL_MAX_ENTRIES || outcomes > QL_MAX_OUTCOMES) {
        return ch_err_set(err, CH_EINVAL,
                          "%s: model.pricing: the state space is too large for a table: %ld "
                          "periods x %ld stock levels x %zu seasons = %.0f states x %zu prices "
                          "= %.0f Q entries and about %.3g exact outcomes (limits %u entries, "
                          "%u outcomes); use a coarser setting: count stock in lots (fewer "
                          "units in model.pricing.inventory), fewer periods, seasons or price "
                          "levels",
                          ch_config_where(cfg, "model.pricing"), p->periods, p->inventory + 1, nf,
                          states, p->n_prices, entries, outcomes, QL_MAX_ENTRIES, QL_MAX_OUTCOMES);
    }
    return 0;
}

int ql_env_read(ch_config *cfg, ql_env *e, ch_err *err)
{
    memset(e, 0, sizeof *e);
    int kind = 0, map = 0, rc;
    if ((rc = ch_cfg_enum(cfg, "model.env", "pricing", ql_env_names, &kind, err))) {
        return rc;
    }
    e->kind = (ql_env_kind)kind;
    long def_steps = 200;
    switch (e->kind) {
    case QL_ENV_PRICING:
        if ((rc = s_pricing(cfg, &e->pricing, err))) {
            return rc;
        }
        def_steps = e->pricing.periods;
        break;
    case QL_ENV_FROZENLAKE:
        if ((rc = ch_cfg_enum(cfg, "model.frozenlake.map", "4x4", s_maps, &map, err)) ||
            (rc = ch_cfg_bool(cfg, "model.frozenlake.slippery", true, &e->slippery, err))) {
            return rc;
        }
        e->lake_size = map == 1 ? 8 : 4;
        def_steps = map == 1 ? 200 : 100; /* Gymnasium's time limits */
        break;
    case QL_ENV_CLIFFWALKING:
    case QL_ENV_TAXI:
        break;
    }
    return ch_cfg_int(cfg, "model.max_steps", def_steps, 1, 1000000, &e->max_steps, err);
}

void ql_env_shape(const ql_env *e, size_t *n_states, size_t *n_actions)
{
    switch (e->kind) {
    case QL_ENV_PRICING:
        *n_states =
            (size_t)e->pricing.periods * (size_t)(e->pricing.inventory + 1) * e->pricing.n_seasons +
            1;
        *n_actions = e->pricing.n_prices;
        return;
    case QL_ENV_FROZENLAKE:
        *n_states = (size_t)e->lake_size * (size_t)e->lake_size;
        *n_actions = 4;
        return;
    case QL_ENV_CLIFFWALKING:
        *n_states = 48;
        *n_actions = 4;
        return;
    case QL_ENV_TAXI:
        *n_states = 500;
        *n_actions = 6;
        return;
    }
    *n_states = *n_actions = 0;
}

ql_mdp *ql_env_build(const ql_env *e, ch_err *err)
{
    switch (e->kind) {
    case QL_ENV_PRICING:
        return ql_pricing_build(&e->pricing, e->max_steps, err);
    case QL_ENV_FROZENLAKE:
        return ql_frozenlake_build(e->lake_size, e->slippery, e->max_steps, err);
    case QL_ENV_CLIFFWALKING:
        return ql_cliffwalking_build(e->max_steps, err);
    case QL_ENV_TAXI:
        return ql_taxi_build(e->max_steps, err);
    }
    ch_err_set(err, CH_EINVAL, "qlearning: unknown environment %d", (int)e->kind);
    return NULL;
}

char *ql_env_state_label(const ql_env *e, size_t s, char *buf, size_t n)
{
    static const char *const stand = "RGYB";
    if (e->kind == QL_ENV_PRICING) {
        const ql_pricing *p = &e->pricing;
        size_t K = p->n_seasons, X1 = (size_t)p->inventory + 1;
        if (s >= (size_t)p->periods * X1 * K) {
            snprintf(buf, n, "end");
        } else {
            snprintf(buf, n, "t=%zu stock=%zu season=%zu", s / K / X1 + 1, (s / K) % X1, s % K);
        }
    } else if (e->kind == QL_ENV_TAXI) {
        size_t dest = s % 4, pass = (s / 4) % 5, cell = s / 20;
        snprintf(buf, n, "taxi (%zu,%zu) passenger %c dest %c", cell / 5, cell % 5,
                 pass < 4 ? stand[pass] : 'T', stand[dest]);
    } else {
        size_t cols = e->kind == QL_ENV_CLIFFWALKING ? 12 : (size_t)e->lake_size;
        snprintf(buf, n, "row %zu col %zu", s / cols, s % cols);
    }
    return buf;
}

char *ql_env_action_label(const ql_env *e, size_t a, char *buf, size_t n)
{
    static const char *const lake[] = {"left", "down", "right", "up"};
    static const char *const cliff[] = {"up", "right", "down", "left"};
    static const char *const taxi[] = {"south", "north", "east", "west", "pickup", "dropoff"};
    switch (e->kind) {
    case QL_ENV_PRICING:
        snprintf(buf, n, "price %g", a < e->pricing.n_prices ? e->pricing.prices[a] : 0.0);
        break;
    case QL_ENV_FROZENLAKE:
        snprintf(buf, n, "%s", a < 4 ? lake[a] : "?");
        break;
    case QL_ENV_CLIFFWALKING:
        snprintf(buf, n, "%s", a < 4 ? cliff[a] : "?");
        break;
    case QL_ENV_TAXI:
        snprintf(buf, n, "%s", a < 6 ? taxi[a] : "?");
        break;
    }
    return buf;
}
