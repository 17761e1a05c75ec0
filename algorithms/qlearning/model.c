/* model.c: the Q-learning model: protobuf I/O, the policy table, summary,
 * description and report sections (learning curve against the optimum,
 * regret, learned against optimal policy). */
#include "model.h"

#include "common/fsutil.h"
#include "common/svg.h"
#include "proto/qlearning.pb-c.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ql_model *ql_model_new(size_t n_states, size_t n_actions, bool dbl)
{
    size_t nsa;
    if (ch_mul_size(n_states, n_actions, &nsa) != 0 || nsa == 0 || nsa > QL_MAX_ENTRIES) {
        return NULL;
    }
    ql_model *m = calloc(1, sizeof *m);
    if (!m) {
        return NULL;
    }
    m->n_states = n_states;
    m->n_actions = n_actions;
    m->q = ch_calloc_array(nsa, sizeof *m->q);
    m->q2 = dbl ? ch_calloc_array(nsa, sizeof *m->q2) : NULL;
    m->visits = ch_calloc_array(nsa, sizeof *m->visits);
    m->optimal_q = ch_calloc_array(nsa, sizeof *m->optimal_q);
    m->policy = ch_calloc_array(n_states, sizeof *m->policy);
    m->optimal_policy = ch_calloc_array(n_states, sizeof *m->optimal_policy);
    m->rounds_to_target = -1;
    m->seconds_to_target = NAN;
    if (!m->q || (dbl && !m->q2) || !m->visits || !m->optimal_q || !m->policy ||
        !m->optimal_policy) {
        ql_model_destroy(&m);
    }
    return m;
}

/* Frees the model and nulls *m; accepts NULL. */
void ql_model_destroy(ql_model **m)
{
    if (!m || !*m) {
        return;
    }
    ql_model *p = *m;
    free(p->q);
    free(p->q2);
    free(p->visits);
    free(p->optimal_q);
    free(p->policy);
    free(p->optimal_policy);
    free(p->curve_train);
    free(p->curve_greedy);
    free(p);
    *m = NULL;
}

int ql_model_pack(const ql_model *m, ch_buf *out, ch_err *err)
{
    size_t nsa = m->n_states * m->n_actions;
    Cohort__Qlearning__Env e = COHORT__QLEARNING__ENV__INIT;
    e.kind = (uint32_t)m->env.kind;
    e.max_steps = m->env.max_steps;
    e.periods = m->env.pricing.periods;
    e.inventory = m->env.pricing.inventory;
    e.seasons = (uint32_t)m->env.pricing.n_seasons;
    e.n_prices = m->env.pricing.n_prices;
    e.prices = (double *)m->env.pricing.prices;
    e.lake_size = (uint32_t)m->env.lake_size;
    e.slippery = m->env.slippery;
    Cohort__Qlearning__Model p = COHORT__QLEARNING__MODEL__INIT;
    p.env = &e;
    p.learner = (uint32_t)m->learner;
    p.gamma = m->gamma;
    p.n_states = (uint32_t)m->n_states;
    p.n_actions = (uint32_t)m->n_actions;
    p.n_q = nsa;
    p.q = m->q;
    p.n_q2 = m->q2 ? nsa : 0;
    p.q2 = m->q2;
    p.n_visits = nsa;
    p.visits = m->visits;
    p.n_policy = m->n_states;
    p.policy = m->policy;
    p.n_optimal_policy = m->n_states;
    p.optimal_policy = m->optimal_policy;
    p.n_optimal_q = nsa;
    p.optimal_q = m->optimal_q;
    p.policy_return = m->policy_return;
    p.optimal_return = m->optimal_return;
    p.mc_return = m->mc_return;
    p.mc_stderr = m->mc_stderr;
    p.mc_episodes = m->mc_episodes;
    p.n_curve_train = m->n_rounds;
    p.curve_train = m->curve_train;
    p.n_curve_greedy = m->n_rounds;
    p.curve_greedy = m->curve_greedy;
    p.episodes = m->episodes;
    p.steps = m->steps;
    p.rounds_to_target = m->rounds_to_target;
    p.target_fraction = m->target_fraction;
    p.round = m->round;
    p.groups = m->groups;
    p.sync_every = m->sync_every;
    size_t size = cohort__qlearning__model__get_packed_size(&p);
    if (ch_buf_reserve(out, size) != 0) {
        return ch_err_set(err, CH_ENOMEM, "out of memory packing the Q-learning model");
    }
    cohort__qlearning__model__pack(&p, out->data + out->len);
    out->len += size;
    return 0;
}

static double *s_dup(const double *x, size_t n)
{
    double *y = ch_alloc_array(n ? n : 1, sizeof *y);
    if (y && n) {
        memcpy(y, x, n * sizeof *y);
    }
    return y;
}

ql_model *ql_model_unpack(const uint8_t *data, size_t len, ch_err *err)
{
    Cohort__Qlearning__Model *p = cohort__qlearning__model__unpack(NULL, len, data);
    if (!p) {
        ch_err_set(err, CH_EPROTO, "qlearning: the model does not decode");
        return NULL;
    }
    size_t ns = p->n_states, na = p->n_actions, nsa = ns * na;
    const Cohort__Qlearning__Env *e = p->env;
    int bad = !e || ns == 0 || na == 0 || na > QL_MAX_ACTIONS || nsa > QL_MAX_ENTRIES ||
              p->n_q != nsa || (p->n_q2 != 0 && p->n_q2 != nsa) || p->n_visits != nsa ||
              p->n_policy != ns || p->n_optimal_policy != ns || p->n_optimal_q != nsa ||
              p->n_curve_train != p->n_curve_greedy || p->learner > QL_LEARN_DOUBLE_Q;
    if (!bad) {
        bad = e->kind > QL_ENV_TAXI || e->n_prices > QL_MAX_PRICES || e->seasons > QL_MAX_SEASONS ||
              (e->kind == QL_ENV_PRICING && e->n_prices != na);
        for (size_t s = 0; s < ns && !bad; s++) {
            bad = p->policy[s] >= na || p->optimal_policy[s] >= na;
        }
    }
    ql_model *m = bad ? NULL : ql_model_new(ns, na, p->n_q2 != 0);
    if (!m) {
        ch_err_set(err, bad ? CH_EPROTO : CH_ENOMEM, "qlearning: %s",
                   bad ? "the model's sizes do not agree" : "out of memory");
        cohort__qlearning__model__free_unpacked(p, NULL);
        return NULL;
    }
    m->env.kind = (ql_env_kind)e->kind;
    m->env.max_steps = e->max_steps;
    m->env.pricing.periods = e->periods;
    m->env.pricing.inventory = e->inventory;
    m->env.pricing.n_seasons = e->seasons;
    m->env.pricing.n_prices = e->n_prices;
    if (e->n_prices) {
        memcpy(m->env.pricing.prices, e->prices, e->n_prices * sizeof(double));
    }
    m->env.lake_size = (int)e->lake_size;
    m->env.slippery = e->slippery;
    if (m->env.kind == QL_ENV_PRICING &&
        (e->periods < 1 || e->inventory < 1 || e->seasons < 1 ||
         (double)e->periods * (double)(e->inventory + 1) * e->seasons + 1 != (double)ns)) {
        ch_err_set(err, CH_EPROTO, "qlearning: the pricing model's sizes do not agree");
        cohort__qlearning__model__free_unpacked(p, NULL);
        ql_model_destroy(&m);
        return NULL;
    }
    m->learner = (ql_learner_kind)p->learner;
    m->gamma = p->gamma;
    memcpy(m->q, p->q, nsa * sizeof(double));
    if (m->q2) {
        memcpy(m->q2, p->q2, nsa * sizeof(double));
    }
    memcpy(m->visits, p->visits, nsa * sizeof(double));
    memcpy(m->optimal_q, p->optimal_q, nsa * sizeof(double));
    memcpy(m->policy, p->policy, ns * sizeof(uint32_t));
    memcpy(m->optimal_policy, p->optimal_policy, ns * sizeof(uint32_t));
    m->policy_return = p->policy_return;
    m->optimal_return = p->optimal_return;
    m->mc_return = p->mc_return;
    m->mc_stderr = p->mc_stderr;
    m->mc_episodes = p->mc_episodes;
    m->n_rounds = p->n_curve_train;
    m->curve_train = s_dup(p->curve_train, m->n_rounds);
    m->curve_greedy = s_dup(p->curve_greedy, m->n_rounds);
    m->episodes = p->episodes;
    m->steps = p->steps;
    m->rounds_to_target = p->rounds_to_target;
    m->target_fraction = p->target_fraction;
    m->round = p->round;
    m->groups = p->groups;
    m->sync_every = p->sync_every;
    cohort__qlearning__model__free_unpacked(p, NULL);
    if (!m->curve_train || !m->curve_greedy) {
        ch_err_set(err, CH_ENOMEM, "qlearning: out of memory");
        ql_model_destroy(&m);
    }
    return m;
}

int ql_model_write_policy(const ql_model *m, const char *path, ch_err *err)
{
    ch_buf b;
    ch_buf_init(&b);
    char lab[96];
    ch_buf_puts(&b, "state,label,learned,optimal,learned_action,optimal_action,visits");
    for (size_t a = 0; a < m->n_actions; a++) {
        ch_buf_printf(&b, ",q_%zu", a);
    }
    for (size_t a = 0; a < m->n_actions; a++) {
        ch_buf_printf(&b, ",optimal_q_%zu", a);
    }
    ch_buf_puts(&b, "\n");
    for (size_t s = 0; s < m->n_states; s++) {
        double v = 0;
        for (size_t a = 0; a < m->n_actions; a++) {
            v += m->visits[s * m->n_actions + a];
        }
        ch_buf_printf(&b, "%zu,\"%s\",%u,%u,", s, ql_env_state_label(&m->env, s, lab, sizeof lab),
                      m->policy[s], m->optimal_policy[s]);
        ch_buf_printf(&b, "\"%s\",", ql_env_action_label(&m->env, m->policy[s], lab, sizeof lab));
        ch_buf_printf(&b, "\"%s\",%.0f",
                      ql_env_action_label(&m->env, m->optimal_policy[s], lab, sizeof lab), v);
        for (size_t a = 0; a < m->n_actions; a++) {
            double q = m->q[s * m->n_actions + a] + (m->q2 ? m->q2[s * m->n_actions + a] : 0);
            ch_buf_printf(&b, ",%.10g", m->q2 ? q / 2 : q);
        }
        for (size_t a = 0; a < m->n_actions; a++) {
            ch_buf_printf(&b, ",%.10g", m->optimal_q[s * m->n_actions + a]);
        }
        ch_buf_puts(&b, "\n");
    }
    int rc = b.failed ? ch_err_set(err, CH_ENOMEM, "out of memory")
                      : ch_write_file_atomic(path, b.data, b.len, err);
    ch_buf_free(&b);
    return rc;
}

static double s_regret(const ql_model *m)
{
    double r = 0;
    double per = (double)m->groups * (double)m->sync_every;
    for (size_t i = 0; i < m->n_rounds; i++) {
        r += (m->optimal_return - m->curve_train[i]) * per;
    }
    return r;
}

static size_t s_differ(const ql_model *m)
{
    size_t d = 0;
    for (size_t s = 0; s < m->n_states; s++) {
        d += m->policy[s] != m->optimal_policy[s];
    }
    return d;
}

int ql_model_summary_json(const ql_model *m, ch_buf *j)
{
    ch_buf_puts(j, ",\n  \"qlearning\": {\"env\": ");
    ch_buf_json_str(j, ql_env_names[m->env.kind]);
    ch_buf_puts(j, ", \"learner\": ");
    ch_buf_json_str(j, ql_learner_names[m->learner]);
    ch_buf_puts(j, ", \"policy_return\": ");
    ch_buf_json_num(j, m->policy_return);
    ch_buf_puts(j, ", \"optimal_return\": ");
    ch_buf_json_num(j, m->optimal_return);
    ch_buf_puts(j, ", \"optimality_gap\": ");
    ch_buf_json_num(j, m->optimal_return - m->policy_return);
    ch_buf_puts(j, ", \"mc_return\": ");
    ch_buf_json_num(j, m->mc_return);
    ch_buf_puts(j, ", \"mc_stderr\": ");
    ch_buf_json_num(j, m->mc_stderr);
    ch_buf_printf(j, ", \"mc_episodes\": %llu, \"episodes\": %llu, \"steps\": %llu",
                  (unsigned long long)m->mc_episodes, (unsigned long long)m->episodes,
                  (unsigned long long)m->steps);
    ch_buf_puts(j, ", \"regret\": ");
    ch_buf_json_num(j, s_regret(m));
    ch_buf_printf(j, ", \"states_differing\": %zu, \"rounds_to_target\": %lld", s_differ(m),
                  (long long)m->rounds_to_target);
    if (isfinite(m->seconds_to_target)) { /* this run's clock: absent from model.pb */
        ch_buf_puts(j, ",\n  \"seconds_to_target\": ");
        ch_buf_json_num(j, m->seconds_to_target);
    }
    ch_buf_puts(j, "}");
    return j->failed ? CH_ENOMEM : 0;
}

int ql_model_describe(const ql_model *m, ch_buf *t)
{
    ch_buf_printf(t, "Q-learning (%s) on %s: %zu states x %zu actions, gamma %g\n",
                  ql_learner_names[m->learner], ql_env_names[m->env.kind], m->n_states,
                  m->n_actions, m->gamma);
    ch_buf_printf(t, "episodes %llu, steps %llu, sync periods %zu\n",
                  (unsigned long long)m->episodes, (unsigned long long)m->steps, m->n_rounds);
    ch_buf_printf(t, "optimal return %.10g, greedy policy return %.10g (exact), gap %.6g\n",
                  m->optimal_return, m->policy_return, m->optimal_return - m->policy_return);
    ch_buf_printf(t, "Monte-Carlo return %.6g +- %.3g over %llu episodes\n", m->mc_return,
                  m->mc_stderr, (unsigned long long)m->mc_episodes);
    return t->failed ? CH_ENOMEM : 0;
}

static char *s_fmt(double v)
{
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%.6g", v);
    return strdup(tmp);
}

/* the pricing policy as a table: rows stock left, columns periods left; a
 * cell is the learned price, with the optimal one in brackets when they
 * differ */
static int s_pricing_tables(const ql_model *m, ch_report *r)
{
    const ql_pricing *p = &m->env.pricing;
    size_t T = (size_t)p->periods, X1 = (size_t)p->inventory + 1, K = p->n_seasons;
    size_t ncols = T + 1;
    const char **head = calloc(ncols, sizeof *head);
    char **cells = ch_calloc_array(X1 * ncols, sizeof *cells);
    char(*hbuf)[24] = ch_calloc_array(ncols, sizeof *hbuf);
    int rc = head && cells && hbuf ? 0 : CH_ENOMEM;
    if (rc == 0) {
        head[0] = "stock \\ periods left";
        for (size_t t = 1; t <= T; t++) {
            snprintf(hbuf[t], sizeof hbuf[t], "%zu", t);
            head[t] = hbuf[t];
        }
    }
    for (size_t k = 0; k < K && rc == 0; k++) {
        char h[96];
        snprintf(h, sizeof h, "Price policy in season %zu: learned (optimal where different)", k);
        ch_report_heading(r, h);
        for (size_t x = 0; x < X1; x++) {
            char c[64];
            snprintf(c, sizeof c, "%zu", X1 - 1 - x);
            cells[x * ncols] = strdup(c);
            for (size_t t = 1; t <= T; t++) {
                size_t s = ((t - 1) * X1 + (X1 - 1 - x)) * K + k;
                uint32_t a = m->policy[s], o = m->optimal_policy[s];
                if (a == o) {
                    snprintf(c, sizeof c, "%g", p->prices[a]);
                } else {
                    snprintf(c, sizeof c, "%g (%g)", p->prices[a], p->prices[o]);
                }
                cells[x * ncols + t] = strdup(c);
            }
        }
        ch_report_table(r, head, ncols, (const char *const *)cells, X1, -1);
        for (size_t i = 0; i < X1 * ncols; i++) {
            free(cells[i]);
            cells[i] = NULL;
        }
    }
    free(head);
    free(cells);
    free(hbuf);
    return rc;
}

/* states where the learned action differs from the optimal one (at most 40) */
static int s_diff_table(const ql_model *m, ch_report *r)
{
    enum { MAXROWS = 40 };
    const char *head[] = {"state", "learned", "optimal", "Q learned", "Q optimal"};
    char *cells[MAXROWS * 5] = {0};
    size_t n = 0;
    char lab[96];
    for (size_t s = 0; s < m->n_states && n < MAXROWS; s++) {
        uint32_t a = m->policy[s], o = m->optimal_policy[s];
        if (a == o) {
            continue;
        }
        size_t sa = s * m->n_actions;
        double qa = m->q[sa + a] + (m->q2 ? m->q2[sa + a] : 0);
        cells[n * 5] = strdup(ql_env_state_label(&m->env, s, lab, sizeof lab));
        cells[n * 5 + 1] = strdup(ql_env_action_label(&m->env, a, lab, sizeof lab));
        cells[n * 5 + 2] = strdup(ql_env_action_label(&m->env, o, lab, sizeof lab));
        cells[n * 5 + 3] = s_fmt(m->q2 ? qa / 2 : qa);
        cells[n * 5 + 4] = s_fmt(m->optimal_q[sa + o]);
        n++;
    }
    if (n) {
        ch_report_heading(r, "States where the learned action differs (first 40)");
        ch_report_table(r, head, 5, (const char *const *)cells, n, -1);
    }
    for (size_t i = 0; i < n * 5; i++) {
        free(cells[i]);
    }
    return 0;
}

int ql_model_report(const ql_model *m, ch_report *r, ch_err *err)
{
    char v[10][64];
    snprintf(v[0], sizeof v[0], "%s", ql_env_names[m->env.kind]);
    snprintf(v[1], sizeof v[1], "%s, gamma %g", ql_learner_names[m->learner], m->gamma);
    snprintf(v[2], sizeof v[2], "%.10g", m->optimal_return);
    snprintf(v[3], sizeof v[3], "%.10g", m->policy_return);
    snprintf(v[4], sizeof v[4], "%.6g (%.4g%% of the optimum)",
             m->optimal_return - m->policy_return,
             m->optimal_return != 0
                 ? 100.0 * (m->optimal_return - m->policy_return) / fabs(m->optimal_return)
                 : 0.0);
    snprintf(v[5], sizeof v[5], "%.6g +- %.3g (%llu episodes)", m->mc_return, m->mc_stderr,
             (unsigned long long)m->mc_episodes);
    snprintf(v[6], sizeof v[6], "%llu episodes, %llu steps, %zu sync periods",
             (unsigned long long)m->episodes, (unsigned long long)m->steps, m->n_rounds);
    snprintf(v[7], sizeof v[7], "%.6g", s_regret(m));
    snprintf(v[8], sizeof v[8], "%zu of %zu", s_differ(m), m->n_states);
    if (m->rounds_to_target >= 0) {
        snprintf(v[9], sizeof v[9], "period %lld (%.3g of the optimum)",
                 (long long)m->rounds_to_target + 1, m->target_fraction);
    } else {
        snprintf(v[9], sizeof v[9], "not reached (%.3g of the optimum)", m->target_fraction);
    }
    const char *keys[] = {"environment",
                          "learner",
                          "optimal return (backward induction)",
                          "greedy policy return (exact)",
                          "optimality gap",
                          "greedy policy return (Monte Carlo)",
                          "training",
                          "regret (sum over episodes of optimum - return)",
                          "states where the policies differ",
                          "target"};
    const char *vals[10];
    for (int i = 0; i < 10; i++) {
        vals[i] = v[i];
    }
    ch_report_section(r, "Q-learning policy");
    ch_report_kv(r, keys, vals, 10);
    if (m->n_rounds) {
        size_t n = m->n_rounds;
        double *x = ch_alloc_array(n, sizeof *x), *opt = ch_alloc_array(n, sizeof *opt);
        double *reg = ch_alloc_array(n, sizeof *reg);
        if (!x || !opt || !reg) {
            free(x);
            free(opt);
            free(reg);
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        double per = (double)m->groups * (double)m->sync_every, acc = 0;
        for (size_t i = 0; i < n; i++) {
            x[i] = (double)(i + 1) * per;
            opt[i] = m->optimal_return;
            acc += (m->optimal_return - m->curve_train[i]) * per;
            reg[i] = acc;
        }
        ch_svg_series s[3] = {{"training episodes (mean return)", x, m->curve_train, n},
                              {"greedy policy (exact)", x, m->curve_greedy, n},
                              {"optimal policy", x, opt, n}};
        ch_svg_line_opts o = {
            .title = "Return per sync period", .x_label = "episodes", .y_label = "expected return"};
        ch_report_line_chart(r, &o, s, 3);
        ch_svg_series rs = {"cumulative regret", x, reg, n};
        ch_svg_line_opts ro = {.title = "Cumulative regret of the training episodes",
                               .x_label = "episodes",
                               .y_label = "regret"};
        ch_report_line_chart(r, &ro, &rs, 1);
        free(x);
        free(opt);
        free(reg);
    }
    if (m->env.kind == QL_ENV_PRICING && m->env.pricing.periods <= 60 &&
        m->env.pricing.inventory <= 200) {
        if (s_pricing_tables(m, r) != 0) {
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
    }
    s_diff_table(m, r);
    return 0;
}
