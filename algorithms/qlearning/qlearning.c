/* qlearning.c: the `qlearning` algorithm: tabular Q-learning and its
 * relatives with parallel rollouts, checked against the exact optimum.
 *
 * One round is one sync period. The coordinator sends the Q table(s) and
 * the visit counts; the period's rollouts are cut into `groups` groups of
 * `sync_every` episodes (independent of the number of workers), episode i of
 * the run drawing from ch_rng_stream(CH_STREAM_ROLLOUT, i). Shard s of S runs
 * groups [G s / S, G (s+1) / S), each from its own copy of the table, and
 * sends per group, summed over the fixed block tree of common/reduce.h (so
 * the table is the same bytes for 1, 2 or 4 workers), the visits n_g(s,a)
 * and the visit-weighted target offsets n_g (Q_g - Q) / F(N, n_g), where N
 * is the pair's visits before the period and F(N, n) = 1 - prod_{i<n} (1 -
 * alpha(N + i)) is the fraction of the way to a fixed target that n
 * sequential updates cover (schedule.h). The coordinator merges
 *     Q(s,a) += F(N, n) * sum_g n_g (Q_g - Q) / F(N, n_g) / n,  n = sum_g n_g,
 * i.e. it estimates each group's mean target, averages them weighted by
 * visits, and moves as far as one sequential learner making all n updates
 * would. With one group this is exactly sequential learning; with a fixed
 * target (and alpha = 1/(1+visits)) it is exactly the sequential result for
 * any number of groups; otherwise the groups' bootstrapped targets lag by
 * up to one sync period. With a constant alpha it never overshoots (F < 1),
 * unlike summing the groups' changes. */
#include "algorithms/algo.h"

#include "env.h"
#include "learner.h"
#include "model.h"
#include "optimal.h"

#include "common/fsutil.h"
#include "common/reduce.h"
#include "common/wire.h"
#include "proto/qlearning.pb-c.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct s_params {
    ql_env env;
    ql_learner learner;
    long rounds;
    long sync_every;
    long groups;
    long eval_episodes;
    double init_q;
    double target_fraction;
    bool stop_at_target;
} s_params;

static int s_params_read(ch_config *cfg, s_params *p, ch_err *err)
{
    int rc;
    if ((rc = ql_env_read(cfg, &p->env, err)) || (rc = ql_learner_read(cfg, &p->learner, err)) ||
        (rc = ch_cfg_int(cfg, "model.rounds", 100, 1, 100000, &p->rounds, err)) ||
        (rc = ch_cfg_int(cfg, "model.sync_every", 200, 1, 100000000, &p->sync_every, err)) ||
        (rc = ch_cfg_int(cfg, "model.groups", 8, 1, 4096, &p->groups, err)) ||
        (rc =
             ch_cfg_int(cfg, "model.eval_episodes", 10000, 0, 100000000, &p->eval_episodes, err)) ||
        (rc = ch_cfg_num(cfg, "model.init_q", 0, -1e12, 1e12, &p->init_q, err)) ||
        (rc = ch_cfg_num(cfg, "model.target_fraction", 0.99, 0, 1, &p->target_fraction, err)) ||
        (rc = ch_cfg_bool(cfg, "model.stop_at_target", false, &p->stop_at_target, err))) {
        return rc;
    }
    size_t ns, na;
    ql_env_shape(&p->env, &ns, &na);
    if (na > QL_MAX_ACTIONS) {
        return ch_err_set(err, CH_EINVAL, "%s: model.pricing.prices: at most %d price levels",
                          ch_config_where(cfg, "model.pricing.prices"), QL_MAX_ACTIONS);
    }
    if (p->learner.explore.kind == QL_EXPLORE_BOLTZMANN &&
        p->learner.explore.temperature.end <= 0) {
        return ch_err_set(err, CH_EINVAL, "%s: model.temperature_end must be positive",
                          ch_config_where(cfg, "model.temperature_end"));
    }
    return 0;
}

static int s_configure(ch_config *cfg, const ch_schema *schema, ch_err *err)
{
    (void)schema;
    s_params p;
    return s_params_read(cfg, &p, err);
}

/* the reduce leaf: [n dQ / F | n dQ2 / F (double Q) | n | return sum, episodes, steps] */
static size_t s_leaf_len(size_t nsa, bool dbl)
{
    return nsa * (dbl ? 3 : 2) + 3;
}

/* --- coordinator -------------------------------------------------------------- */

typedef struct s_coord {
    s_params p;
    ql_mdp *mdp;
    ql_model *mod; /* the tables and curves; handed over by finalize */
    size_t nsa;
    bool dbl;
    size_t n_shards;
    uint64_t seed;
    char *run_dir;
    double t0;
    double *root;
    uint32_t *greedy;
} s_coord;

static void s_coord_destroy(void **vst)
{
    s_coord *st = vst ? *vst : NULL;
    if (!st) {
        return;
    }
    ql_mdp_destroy(&st->mdp);
    ql_model_destroy(&st->mod);
    free(st->run_dir);
    free(st->root);
    free(st->greedy);
    free(st);
    *vst = NULL;
}

static void *s_coord_new(const ch_coord_env *env, ch_err *err)
{
    s_coord *st = calloc(1, sizeof *st);
    if (!st) {
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    void *v = st;
    if (s_params_read(env->cfg, &st->p, err) != 0 || !(st->mdp = ql_env_build(&st->p.env, err))) {
        s_coord_destroy(&v);
        return NULL;
    }
    st->dbl = st->p.learner.kind == QL_LEARN_DOUBLE_Q;
    st->nsa = st->mdp->n_states * st->mdp->n_actions;
    st->mod = ql_model_new(st->mdp->n_states, st->mdp->n_actions, st->dbl);
    st->root = ch_alloc_array(s_leaf_len(st->nsa, st->dbl), sizeof(double));
    st->greedy = ch_alloc_array(st->mdp->n_states, sizeof *st->greedy);
    if (st->mod) {
        st->mod->curve_train = ch_calloc_array((size_t)st->p.rounds, sizeof(double));
        st->mod->curve_greedy = ch_calloc_array((size_t)st->p.rounds, sizeof(double));
    }
    st->run_dir = env->run_dir ? strdup(env->run_dir) : NULL;
    if (!st->mod || !st->root || !st->greedy || !st->mod->curve_train || !st->mod->curve_greedy ||
        (env->run_dir && !st->run_dir)) {
        ch_err_set(err, CH_ENOMEM, "out of memory");
        s_coord_destroy(&v);
        return NULL;
    }
    ql_model *m = st->mod;
    m->env = st->p.env;
    m->learner = st->p.learner.kind;
    m->gamma = st->p.learner.gamma;
    m->target_fraction = st->p.target_fraction;
    m->groups = (uint32_t)st->p.groups;
    m->sync_every = (uint64_t)st->p.sync_every;
    double init = st->dbl ? st->p.init_q / 2 : st->p.init_q; /* acting on q + q2 */
    for (size_t i = 0; i < st->nsa; i++) {
        m->q[i] = init;
        if (m->q2) {
            m->q2[i] = init;
        }
    }
    if (ql_optimal(st->mdp, m->gamma, &m->optimal_return, m->optimal_policy, m->optimal_q, err)) {
        s_coord_destroy(&v);
        return NULL;
    }
    st->n_shards = env->n_shards ? env->n_shards : 1;
    st->seed = env->seed;
    st->t0 = ch_wall_time();
    return st;
}

static bool s_reached(const s_coord *st, double v)
{
    double opt = st->mod->optimal_return;
    return opt - v <= (1.0 - st->p.target_fraction) * fabs(opt) + 1e-12;
}

static int s_next_task(void *vst, uint32_t round, uint32_t *op, ch_buf *payload, ch_err *err)
{
    s_coord *st = vst;
    (void)round;
    ql_model *m = st->mod;
    if (m->round >= (uint64_t)st->p.rounds || (st->p.stop_at_target && m->rounds_to_target >= 0)) {
        return 1;
    }
    Cohort__Qlearning__Task t = COHORT__QLEARNING__TASK__INIT;
    t.round = m->round;
    t.groups = (uint32_t)st->p.groups;
    t.n_shards = (uint32_t)st->n_shards;
    t.n_states = (uint32_t)m->n_states;
    t.n_actions = (uint32_t)m->n_actions;
    t.sync_every = (uint64_t)st->p.sync_every;
    t.n_q = st->nsa;
    t.q = m->q;
    t.n_q2 = st->dbl ? st->nsa : 0;
    t.q2 = m->q2;
    t.n_visits = st->nsa;
    t.visits = m->visits;
    size_t size = cohort__qlearning__task__get_packed_size(&t);
    if (ch_buf_reserve(payload, size) != 0) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    cohort__qlearning__task__pack(&t, payload->data + payload->len);
    payload->len += size;
    *op = 1;
    return 0;
}

static int s_aggregate(void *vst, uint32_t round, uint32_t op, const ch_update *ups, size_t n,
                       ch_round_metrics *met, ch_err *err)
{
    s_coord *st = vst;
    (void)round;
    if (op != 1) {
        return ch_err_set(err, CH_EPROTO, "qlearning: unexpected op %u", op);
    }
    size_t len = s_leaf_len(st->nsa, st->dbl);
    ch_reduce *red = ch_reduce_new((size_t)st->p.groups, len, ch_combine_sum, NULL);
    if (!red) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    double seconds = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        Cohort__Qlearning__Update *u =
            cohort__qlearning__update__unpack(NULL, ups[i].state_len, ups[i].state);
        if (!u) {
            rc = ch_err_set(err, CH_EPROTO, "qlearning: shard %u's update does not decode",
                            ups[i].shard);
            break;
        }
        rc = ch_reduce_add(red, u->reduce.data, u->reduce.len, err);
        seconds += isfinite(u->seconds) && u->seconds > 0 ? u->seconds : 0;
        cohort__qlearning__update__free_unpacked(u, NULL);
    }
    if (rc == 0) {
        rc = ch_reduce_finish(red, st->root, err);
    }
    ch_reduce_destroy(&red);
    if (rc) {
        return rc;
    }
    ql_model *m = st->mod;
    const double *w = st->root, *w2 = st->root + st->nsa;
    const double *cnt = st->root + st->nsa * (st->dbl ? 2 : 1);
    for (size_t i = 0; i < st->nsa; i++) {
        if (cnt[i] > 0) {
            double f = ql_lrate_fraction(&st->p.learner.lr, m->visits[i], cnt[i]) / cnt[i];
            m->q[i] += f * w[i];
            if (st->dbl) {
                m->q2[i] += f * w2[i];
            }
            m->visits[i] += cnt[i];
        }
    }
    double ret = st->root[len - 3], eps = st->root[len - 2], steps = st->root[len - 1];
    ql_greedy(m->q, m->q2, m->n_states, m->n_actions, st->greedy);
    double greedy;
    if ((rc = ql_policy_value(st->mdp, m->gamma, st->greedy, &greedy, NULL, err))) {
        return rc;
    }
    size_t r = (size_t)m->round;
    m->curve_train[r] = eps > 0 ? ret / eps : NAN;
    m->curve_greedy[r] = greedy;
    m->n_rounds = r + 1;
    m->episodes += (uint64_t)eps;
    m->steps += (uint64_t)steps;
    if (m->rounds_to_target < 0 && s_reached(st, greedy)) {
        m->rounds_to_target = (int64_t)r;
        m->seconds_to_target = ch_wall_time() - st->t0;
    }
    m->round++;
    ch_round_metric(met, "train_return", m->curve_train[r]);
    ch_round_metric(met, "greedy_return", greedy);
    ch_round_metric(met, "optimal_return", m->optimal_return);
    ch_round_metric(met, "optimality_gap", m->optimal_return - greedy);
    ch_round_metric(met, "episodes", (double)m->episodes);
    if (seconds > 0) {
        ch_round_metric(met, "steps_per_second_per_worker", steps / seconds);
    }
    ch_round_metric(met, "elapsed_seconds", ch_wall_time() - st->t0);
    return 0;
}

static void *s_finalize(void *vst, ch_err *err)
{
    s_coord *st = vst;
    ql_model *m = st->mod;
    ql_greedy(m->q, m->q2, m->n_states, m->n_actions, m->policy);
    if (ql_policy_value(st->mdp, m->gamma, m->policy, &m->policy_return, NULL, err)) {
        return NULL;
    }
    m->mc_episodes = (uint64_t)st->p.eval_episodes;
    ql_policy_montecarlo(st->mdp, m->gamma, m->policy, m->mc_episodes, st->seed, CH_STREAM_ALGO + 1,
                         &m->mc_return, &m->mc_stderr);
    if (st->run_dir) {
        char *path = ch_path_join(st->run_dir, "policy.csv");
        int rc = path ? ql_model_write_policy(m, path, err)
                      : ch_err_set(err, CH_ENOMEM, "out of memory");
        free(path);
        if (rc) {
            return NULL;
        }
    }
    st->mod = NULL;
    return m;
}

static int s_save(void *vst, ch_buf *out, ch_err *err)
{
    s_coord *st = vst;
    return ql_model_pack(st->mod, out, err);
}

static int s_load(void *vst, const uint8_t *data, size_t len, ch_err *err)
{
    s_coord *st = vst;
    ql_model *c = ql_model_unpack(data, len, err);
    if (!c) {
        return CH_EPROTO;
    }
    ql_model *m = st->mod;
    if (c->n_states != m->n_states || c->n_actions != m->n_actions || !c->q2 != !m->q2 ||
        c->round > (uint64_t)st->p.rounds || c->n_rounds != c->round) {
        ql_model_destroy(&c);
        return ch_err_set(err, CH_EINVAL, "qlearning: the checkpoint is for another experiment");
    }
    memcpy(m->q, c->q, st->nsa * sizeof(double));
    if (m->q2) {
        memcpy(m->q2, c->q2, st->nsa * sizeof(double));
    }
    memcpy(m->visits, c->visits, st->nsa * sizeof(double));
    memcpy(m->curve_train, c->curve_train, c->n_rounds * sizeof(double));
    memcpy(m->curve_greedy, c->curve_greedy, c->n_rounds * sizeof(double));
    m->n_rounds = c->n_rounds;
    m->round = c->round;
    m->episodes = c->episodes;
    m->steps = c->steps;
    m->rounds_to_target = c->rounds_to_target;
    ql_model_destroy(&c);
    return 0;
}

/* --- worker ------------------------------------------------------------------- */

typedef struct s_worker {
    s_params p;
    ql_mdp *mdp;
    size_t nsa;
    bool dbl;
    uint64_t seed;
    double *q, *q2, *vis;
    /* the task being run */
    const Cohort__Qlearning__Task *t;
} s_worker;

static void s_worker_destroy(void **vw)
{
    s_worker *w = vw ? *vw : NULL;
    if (!w) {
        return;
    }
    ql_mdp_destroy(&w->mdp);
    free(w->q);
    free(w->q2);
    free(w->vis);
    free(w);
    *vw = NULL;
}

static void *s_worker_new(const ch_worker_env *env, ch_err *err)
{
    s_worker *w = calloc(1, sizeof *w);
    if (!w) {
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    void *v = w;
    if (s_params_read(env->cfg, &w->p, err) != 0 || !(w->mdp = ql_env_build(&w->p.env, err))) {
        s_worker_destroy(&v);
        return NULL;
    }
    w->dbl = w->p.learner.kind == QL_LEARN_DOUBLE_Q;
    w->nsa = w->mdp->n_states * w->mdp->n_actions;
    w->seed = env->seed;
    w->q = ch_alloc_array(w->nsa, sizeof(double));
    w->q2 = ch_alloc_array(w->nsa, sizeof(double));
    w->vis = ch_alloc_array(w->nsa, sizeof(double));
    if (!w->q || !w->q2 || !w->vis) {
        ch_err_set(err, CH_ENOMEM, "out of memory");
        s_worker_destroy(&v);
        return NULL;
    }
    return w;
}

/* one group's episodes from the task's tables; writes its leaf */
static int s_leaf(void *ctx, size_t g, double *out, ch_err *err)
{
    s_worker *w = ctx;
    const Cohort__Qlearning__Task *t = w->t;
    (void)err;
    size_t nsa = w->nsa;
    memcpy(w->q, t->q, nsa * sizeof(double));
    if (w->dbl) {
        memcpy(w->q2, t->q2, nsa * sizeof(double));
    }
    memset(w->vis, 0, nsa * sizeof(double));
    double ret = 0, steps = 0;
    uint64_t first = (t->round * t->groups + g) * t->sync_every;
    for (uint64_t e = 0; e < t->sync_every; e++) {
        ch_rng r;
        ch_rng_init(&r, w->seed, ch_rng_stream(CH_STREAM_ROLLOUT, first + e));
        ql_episode ep;
        ql_learner_episode(&w->p.learner, w->mdp, w->q, w->dbl ? w->q2 : NULL, w->vis, t->visits,
                           (double)(first + e), &r, &ep);
        ret += ep.ret;
        steps += (double)ep.steps;
    }
    double *dq2 = out + nsa, *cnt = out + nsa * (w->dbl ? 2 : 1);
    for (size_t i = 0; i < nsa; i++) {
        double n = w->vis[i];
        double f = n > 0 ? ql_lrate_fraction(&w->p.learner.lr, t->visits[i], n) : 0;
        double scale = f > 0 ? n / f : 0;
        out[i] = scale * (w->q[i] - t->q[i]);
        if (w->dbl) {
            dq2[i] = scale * (w->q2[i] - t->q2[i]);
        }
        cnt[i] = n;
    }
    size_t len = s_leaf_len(nsa, w->dbl);
    out[len - 3] = ret;
    out[len - 2] = (double)t->sync_every;
    out[len - 1] = steps;
    return 0;
}

static int s_check_task(const s_worker *w, const Cohort__Qlearning__Task *t, uint32_t shard,
                        ch_err *err)
{
    if (t->n_states != w->mdp->n_states || t->n_actions != w->mdp->n_actions || t->n_q != w->nsa ||
        t->n_visits != w->nsa || t->n_q2 != (w->dbl ? w->nsa : 0)) {
        return ch_err_set(err, CH_EPROTO, "qlearning: the task's tables do not fit %zu x %zu",
                          w->mdp->n_states, w->mdp->n_actions);
    }
    if (t->groups == 0 || t->groups > 4096 || t->n_shards == 0 || shard >= t->n_shards ||
        t->sync_every == 0 || t->sync_every > 100000000 || t->round > 100000) {
        return ch_err_set(err, CH_EPROTO, "qlearning: bad task (groups %u, shard %u of %u)",
                          t->groups, shard, t->n_shards);
    }
    return 0;
}

static int s_run_task(void *vw, uint32_t round, uint32_t op, const uint8_t *payload, size_t len,
                      uint32_t shard, ch_buf *out, uint64_t *samples, ch_err *err)
{
    s_worker *w = vw;
    (void)round;
    if (op != 1) {
        return ch_err_set(err, CH_EPROTO, "qlearning: unknown op %u", op);
    }
    Cohort__Qlearning__Task *t = cohort__qlearning__task__unpack(NULL, len, payload);
    if (!t) {
        return ch_err_set(err, CH_EPROTO, "qlearning: the task does not decode");
    }
    int rc = s_check_task(w, t, shard, err);
    double t0 = ch_wall_time();
    ch_buf red;
    ch_buf_init(&red);
    size_t g0 = (size_t)t->groups * shard / t->n_shards;
    size_t g1 = (size_t)t->groups * (shard + 1) / t->n_shards;
    if (rc == 0) {
        w->t = t;
        rc = ch_reduce_range(t->groups, g0, g1, s_leaf_len(w->nsa, w->dbl), s_leaf, w,
                             ch_combine_sum, NULL, &red, err);
        w->t = NULL;
    }
    if (rc == 0) {
        Cohort__Qlearning__Update u = COHORT__QLEARNING__UPDATE__INIT;
        u.reduce.data = red.data;
        u.reduce.len = red.len;
        u.seconds = ch_wall_time() - t0;
        size_t size = cohort__qlearning__update__get_packed_size(&u);
        if (ch_buf_reserve(out, size) != 0) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        } else {
            cohort__qlearning__update__pack(&u, out->data + out->len);
            out->len += size;
            *samples = (uint64_t)(g1 - g0) * t->sync_every;
        }
    }
    ch_buf_free(&red);
    cohort__qlearning__task__free_unpacked(t, NULL);
    return rc;
}

/* --- model side --------------------------------------------------------------- */

static ch_output_kind s_output_kind(const void *model)
{
    (void)model;
    return CH_OUT_REGRESSION;
}

static size_t s_n_outputs(const void *model)
{
    (void)model;
    return 1;
}

/* The greedy action of the state in column "state" (else the first column). */
static int s_predict(const void *vm, const ch_table *t, double *out, ch_err *err)
{
    const ql_model *m = vm;
    long c = ch_table_find(t, "state");
    if (c < 0 && t->n_cols > 0) {
        c = 0;
    }
    if (c < 0) {
        return ch_err_set(err, CH_EINVAL, "qlearning: predict needs a column `state`");
    }
    const double *v = t->cols[c].values;
    for (size_t i = 0; i < t->n_rows; i++) {
        if (!(v[i] >= 0 && v[i] < (double)m->n_states) || v[i] != floor(v[i])) {
            return ch_err_set(err, CH_EINVAL, "qlearning: row %zu: state %g is not in 0..%zu",
                              i + 1, v[i], m->n_states - 1);
        }
        out[i] = m->policy[(size_t)v[i]];
    }
    return 0;
}

static const char *s_output_name(const void *vm, size_t k)
{
    (void)vm;
    return k == 0 ? "action" : NULL;
}

static int s_model_metrics(const void *vm, ch_round_metrics *out, ch_err *err)
{
    const ql_model *m = vm;
    (void)err;
    ch_round_metric(out, "policy_return", m->policy_return);
    ch_round_metric(out, "optimal_return", m->optimal_return);
    ch_round_metric(out, "optimality_gap", m->optimal_return - m->policy_return);
    if (m->optimal_return > 0) {
        ch_round_metric(out, "optimality_ratio", m->policy_return / m->optimal_return);
    }
    ch_round_metric(out, "mc_return", m->mc_return);
    ch_round_metric(out, "mc_stderr", m->mc_stderr);
    return 0;
}

static int s_pack(const void *vm, ch_buf *out, ch_err *err)
{
    return ql_model_pack(vm, out, err);
}

static void *s_unpack(const uint8_t *data, size_t len, const ch_schema *schema, ch_err *err)
{
    (void)schema;
    return ql_model_unpack(data, len, err);
}

static int s_summary_json(const void *vm, ch_buf *json)
{
    return ql_model_summary_json(vm, json);
}

static int s_describe(const void *vm, ch_buf *text)
{
    return ql_model_describe(vm, text);
}

static int s_report(const void *vm, ch_report *r, ch_err *err)
{
    return ql_model_report(vm, r, err);
}

static void s_model_destroy(void **vm)
{
    ql_model *m = vm ? *vm : NULL;
    ql_model_destroy(&m);
    if (vm) {
        *vm = NULL;
    }
}

const ch_algo ch_algo_qlearning = {
    .name = "qlearning",
    .summary = "tabular Q-learning, SARSA, Expected SARSA and Double Q with parallel rollouts "
               "(pricing, frozenlake, cliffwalking, taxi), checked against the exact optimum",
    .needs_target = false,
    .no_data = true,
    .configure = s_configure,
    .coord_new = s_coord_new,
    .next_task = s_next_task,
    .aggregate = s_aggregate,
    .finalize = s_finalize,
    .save = s_save,
    .load = s_load,
    .coord_destroy = s_coord_destroy,
    .worker_new = s_worker_new,
    .run_task = s_run_task,
    .worker_destroy = s_worker_destroy,
    .output_kind = s_output_kind,
    .n_outputs = s_n_outputs,
    .predict = s_predict,
    .pack = s_pack,
    .unpack = s_unpack,
    .model_metrics = s_model_metrics,
    .output_name = s_output_name,
    .summary_json = s_summary_json,
    .describe = s_describe,
    .report = s_report,
    .model_destroy = s_model_destroy,
};
