/* als_algo.c: model.algorithm als: one round per ALS iteration.
 *
 *   task:   the item factors Y and biases (and, for implicit CG, the user
 *           factors X as warm starts)
 *   worker: solves the users of its blocks (user block b = users
 *           [U b / B, U (b + 1) / B) of the plan's B blocks), then sums
 *           each block's item statistics and sends them over the sparse
 *           block tree (tree.h), with its users' new factors
 *   coord:  completes the tree, solves every item, reports train/test RMSE
 *           and sampled ranking metrics
 *
 * Every user solve depends only on Y, every item solve on the tree root, so
 * the factors are the same bytes for any number of workers. */
#include "algorithms/algo.h"
#include "algorithms/cf/als.h"
#include "algorithms/cf/common.h"
#include "algorithms/cf/query.h"
#include "algorithms/cf/tree.h"
#include "common/rng.h"
#include "proto/cf.pb-c.h"

#include <malloc.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { OP_ITERATE = 1 };

typedef struct s_coord {
    ch_cf_params p;
    ch_cf_data d;
    ch_cf_model *m;
    ch_cf_heldout h;
    size_t n_blocks;
    long iter;
    char *run_dir;
} s_coord;

typedef struct s_worker {
    ch_cf_params p;
    ch_cf_data d;
    const ch_worker_env *env;
    char *broken; /* the data error, reported by the coordinator's own build first */
    double mu;
    double *X, *bu, *acc;
    uint8_t *mark;
    uint32_t *touched;
} s_worker;

static int s_configure(ch_config *cfg, const ch_schema *schema, ch_err *err)
{
    ch_cf_params p;
    return ch_cf_params_read(cfg, schema, CH_CF_ALS, 0, &p, err);
}

static int s_estimate(ch_config *cfg, const ch_schema *schema, size_t n_rows, size_t n_workers,
                      size_t n_blocks, ch_estimate *out)
{
    (void)n_blocks;
    ch_cf_params p;
    if (ch_cf_params_read(cfg, schema, CH_CF_ALS, 0, &p, NULL) != 0) {
        return 0;
    }
    double q = (double)ch_als_q(&p.als), w = n_workers ? (double)n_workers : 1;
    out->worker_bytes = (double)n_rows * 40 + (double)n_rows / 4 * q * 8;
    out->message_bytes = (double)n_rows / w * (q * q / 2 + q) * 8;
    out->flops = (double)n_rows * q * q * 4;
    out->rounds = (double)p.iterations;
    return 0;
}

static void s_coord_destroy(void **pst)
{
    if (!pst || !*pst) {
        return;
    }
    s_coord *st = *pst;
    ch_cf_data_free(&st->d);
    void *m = st->m;
    ch_cf_model_destroy(&m);
    ch_cf_heldout_free(&st->h);
    free(st->run_dir);
    free(st);
    *pst = NULL;
}

static void *s_coord_new(const ch_coord_env *env, ch_err *err)
{
    s_coord *st = calloc(1, sizeof *st);
    if (!st || !(st->m = calloc(1, sizeof *st->m))) {
        free(st);
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    int rc = ch_cf_params_read(env->cfg, env->schema, CH_CF_ALS, env->seed, &st->p, err);
    if (rc == 0) {
        rc = ch_cf_coord_setup(env, &st->p, CH_CF_ALS, &st->d, st->m, &st->h, err);
    }
    ch_cf_model *m = st->m;
    st->n_blocks = env->n_blocks;
    st->run_dir = env->run_dir ? strdup(env->run_dir) : NULL;
    if (rc == 0) {
        size_t nu = m->users.n, ni = m->items.n, f = m->f;
        m->X = ch_calloc_array(nu * f + 1, sizeof *m->X);
        m->Y = ch_alloc_array(ni * f + 1, sizeof *m->Y);
        if (m->biased) {
            m->bu = ch_calloc_array(nu + 1, sizeof *m->bu);
            m->bi = ch_calloc_array(ni + 1, sizeof *m->bi);
        } else {
            m->mu = 0;
        }
        if (!m->X || !m->Y || (m->biased && (!m->bu || !m->bi))) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory for %zu x %zu factors", nu + ni, f);
        }
    }
    if (rc == 0) {
        ch_rng r;
        ch_rng_init(&r, env->seed, ch_rng_stream(CH_STREAM_INIT, 0));
        for (size_t k = 0; k < m->items.n * m->f; k++) {
            m->Y[k] = st->p.init_scale * ch_rng_normal(&r);
        }
    }
    if (rc) {
        void *v = st;
        s_coord_destroy(&v);
        return NULL;
    }
    return st;
}

static int s_pack_task(const s_coord *st, ch_buf *payload, ch_err *err)
{
    const ch_cf_model *m = st->m;
    Cohort__Cf__AlsTask t = COHORT__CF__ALS_TASK__INIT;
    t.y.data = (uint8_t *)m->Y;
    t.y.len = m->items.n * m->f * 8;
    if (m->bi) {
        t.bi.data = (uint8_t *)m->bi;
        t.bi.len = m->items.n * 8;
    }
    if (m->implicit && st->p.als.cg_steps > 0) {
        t.x.data = (uint8_t *)m->X;
        t.x.len = m->users.n * m->f * 8;
    }
    size_t size = cohort__cf__als_task__get_packed_size(&t);
    if (ch_buf_reserve(payload, size) != 0) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    cohort__cf__als_task__pack(&t, payload->data + payload->len);
    payload->len += size;
    return 0;
}

static int s_next_task(void *vst, uint32_t round, uint32_t *op, ch_buf *payload, ch_err *err)
{
    s_coord *st = vst;
    (void)round;
    if (st->iter >= st->p.iterations) {
        return 1;
    }
    *op = OP_ITERATE;
    return s_pack_task(st, payload, err);
}

static int s_aggregate(void *vst, uint32_t round, uint32_t op, const ch_update *ups, size_t n,
                       ch_round_metrics *rm, ch_err *err)
{
    s_coord *st = vst;
    ch_cf_model *m = st->m;
    (void)round;
    if (op != OP_ITERATE) {
        return ch_err_set(err, CH_EPROTO, "als: unexpected op %u", op);
    }
    size_t nu = m->users.n, ni = m->items.n, f = m->f, len = ch_als_stat_len(&st->p.als);
    ch_cf_tree *tree = ch_cf_tree_new(st->n_blocks, len, ni ? ni - 1 : 0);
    if (!tree) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    int rc = 0;
    for (size_t k = 0; k < n && rc == 0; k++) {
        Cohort__Cf__AlsUpdate *u =
            cohort__cf__als_update__unpack(NULL, ups[k].state_len, ups[k].state);
        if (!u) {
            rc = ch_err_set(err, CH_EPROTO, "als: update of shard %u does not parse", ups[k].shard);
            break;
        }
        size_t u0 = (size_t)u->u0, u1 = (size_t)u->u1;
        if (u0 > u1 || u1 > nu || u->x.len != (u1 - u0) * f * 8 ||
            (m->bu && u->bu.len != (u1 - u0) * 8)) {
            rc =
                ch_err_set(err, CH_EPROTO, "als: update of shard %u has wrong sizes", ups[k].shard);
        } else {
            memcpy(m->X + u0 * f, u->x.data, u->x.len);
            if (m->bu) {
                memcpy(m->bu + u0, u->bu.data, u->bu.len);
            }
            rc = ch_cf_tree_add(tree, u->stats.data, u->stats.len, err);
        }
        cohort__cf__als_update__free_unpacked(u, NULL);
    }
    ch_cf_node root = {0};
    if (rc == 0) {
        rc = ch_cf_tree_finish(tree, &root, err);
    }
    ch_cf_tree_destroy(&tree);
    long *row = rc == 0 ? ch_alloc_array(ni + 1, sizeof *row) : NULL;
    double *G = rc == 0 ? ch_calloc_array(f * f + 1, sizeof *G) : NULL;
    if (rc == 0 && (!row || !G)) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    if (rc == 0) {
        for (size_t i = 0; i < ni; i++) {
            row[i] = -1;
        }
        for (size_t k = 0; k < root.n; k++) {
            row[root.key[k]] = (long)k;
        }
        if (m->implicit) {
            ch_als_gram(m->X, nu, f, G);
        }
        if (ch_als_solve_items(&st->p.als, ni, row, root.val, G, m->Y, m->bi) != 0) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        }
    }
    free(row);
    free(G);
    ch_cf_node_free(&root);
    if (rc == 0) {
        st->iter++;
        if (!m->implicit) {
            const ch_cf_csr *R = &m->by_user;
            double se = 0;
            for (size_t u = 0; u < nu; u++) {
                for (size_t k = R->ptr[u]; k < R->ptr[u + 1]; k++) {
                    double e = ch_cf_predict_one(m, (long)u, R->idx[k]) - R->val[k];
                    se += e * e;
                }
            }
            ch_round_metric(rm, "train_rmse", R->nnz ? sqrt(se / (double)R->nnz) : 0);
        }
        rc = ch_cf_round_metrics(m, &st->h, st->p.eval_users, rm, err);
    }
    return rc;
}

static void *s_finalize(void *vst, ch_err *err)
{
    s_coord *st = vst;
    if (ch_cf_finish(st->m, &st->h, &st->p, st->run_dir, err) != 0) {
        return NULL;
    }
    ch_cf_model *m = st->m;
    st->m = NULL;
    return m;
}

static int s_save(void *vst, ch_buf *out, ch_err *err)
{
    s_coord *st = vst;
    ch_cf_model *m = st->m;
    uint64_t it = (uint64_t)st->iter;
    int rc = ch_buf_append(out, &it, 8) || ch_buf_append(out, m->X, m->users.n * m->f * 8) ||
             ch_buf_append(out, m->Y, m->items.n * m->f * 8) ||
             (m->bu && ch_buf_append(out, m->bu, m->users.n * 8)) ||
             (m->bi && ch_buf_append(out, m->bi, m->items.n * 8));
    return rc ? ch_err_set(err, CH_ENOMEM, "out of memory") : 0;
}

static int s_load(void *vst, const uint8_t *data, size_t len, ch_err *err)
{
    s_coord *st = vst;
    ch_cf_model *m = st->m;
    size_t nx = m->users.n * m->f * 8, ny = m->items.n * m->f * 8;
    size_t nb = m->bu ? (m->users.n + m->items.n) * 8 : 0;
    uint64_t it;
    if (len != 8 + nx + ny + nb) {
        return ch_err_set(err, CH_EPROTO, "als: checkpoint has %zu bytes, expected %zu", len,
                          8 + nx + ny + nb);
    }
    memcpy(&it, data, 8);
    if (it > (uint64_t)st->p.iterations) {
        return ch_err_set(err, CH_EPROTO, "als: checkpoint iteration out of range");
    }
    st->iter = (long)it;
    memcpy(m->X, data + 8, nx);
    memcpy(m->Y, data + 8 + nx, ny);
    if (m->bu) {
        memcpy(m->bu, data + 8 + nx + ny, m->users.n * 8);
        memcpy(m->bi, data + 8 + nx + ny + m->users.n * 8, m->items.n * 8);
    }
    return 0;
}

/* --- worker --------------------------------------------------------------- */

static void s_worker_destroy(void **pw)
{
    if (!pw || !*pw) {
        return;
    }
    s_worker *w = *pw;
    free(w->broken);
    ch_cf_data_free(&w->d);
    free(w->X);
    free(w->bu);
    free(w->acc);
    free(w->mark);
    free(w->touched);
    free(w);
    *pw = NULL;
}

static void *s_worker_new(const ch_worker_env *env, ch_err *err)
{
    /* The tree nodes of the item statistics are tens of MB each and are
     * freed and allocated again at every merge of every round; served by
     * mmap each one costs fresh zeroed pages (about half the worker's time
     * at 20,000 items, BENCHMARKS.md "## cf"). From the heap they reuse
     * memory already mapped. A worker process runs this one algorithm. */
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    s_worker *w = calloc(1, sizeof *w);
    if (!w) {
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    w->env = env;
    int rc = ch_cf_params_read(env->cfg, env->schema, CH_CF_ALS, env->seed, &w->p, err);
    if (rc == 0 && ch_cf_worker_setup(env, &w->p, &w->d, err) != 0) {
        w->broken = strdup(err && err->msg[0] ? err->msg : "cf: bad data");
        ch_err_clear(err);
        return w;
    }
    if (rc == 0) {
        const ch_cf_csr *R = &w->d.by_user;
        double s = 0;
        for (size_t k = 0; k < R->nnz; k++) {
            s += R->val[k];
        }
        w->mu = R->nnz && w->p.als.biased && !w->p.als.implicit ? s / (double)R->nnz : 0;
        size_t nu = w->d.users.n, ni = w->d.items.n, f = w->p.als.f;
        size_t len = ch_als_stat_len(&w->p.als);
        w->X = ch_calloc_array(nu * f + 1, sizeof *w->X);
        w->bu = ch_calloc_array(nu + 1, sizeof *w->bu);
        w->acc = ch_calloc_array(ni * len + 1, sizeof *w->acc);
        w->mark = ch_calloc_array(ni + 1, 1);
        w->touched = ch_alloc_array(ni + 1, sizeof *w->touched);
        if (!w->X || !w->bu || !w->acc || !w->mark || !w->touched) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        }
    }
    if (rc) {
        void *v = w;
        s_worker_destroy(&v);
        return NULL;
    }
    return w;
}

static int s_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : (x > y ? 1 : 0);
}

static int s_leaf(void *ctx, size_t block, ch_cf_node *out, ch_err *err)
{
    s_worker *w = ctx;
    const ch_cf_csr *R = &w->d.by_user;
    size_t nu = w->d.users.n, len = ch_als_stat_len(&w->p.als);
    size_t B = w->env->n_blocks_total;
    size_t u0 = ch_cf_block_begin(nu, block, B), u1 = ch_cf_block_begin(nu, block + 1, B);
    size_t nt = 0;
    for (size_t k = R->ptr[u0]; k < R->ptr[u1]; k++) {
        uint32_t i = R->idx[k];
        if (!w->mark[i]) {
            w->mark[i] = 1;
            w->touched[nt++] = i;
        }
    }
    ch_als_item_stats(&w->p.als, R, u0, u1, w->X, w->bu, w->mu, w->acc);
    qsort(w->touched, nt, sizeof *w->touched, s_cmp_u32);
    out->n = nt;
    out->key = malloc((nt + 1) * sizeof *out->key);
    out->val = ch_alloc_array(nt * len + 1, sizeof *out->val);
    if (!out->key || !out->val) {
        ch_cf_node_free(out);
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    for (size_t k = 0; k < nt; k++) {
        uint32_t i = w->touched[k];
        out->key[k] = i;
        memcpy(out->val + k * len, w->acc + (size_t)i * len, len * sizeof(double));
        memset(w->acc + (size_t)i * len, 0, len * sizeof(double));
        w->mark[i] = 0;
    }
    return 0;
}

static int s_run_task(void *vw, uint32_t round, uint32_t op, const uint8_t *payload, size_t len,
                      uint32_t shard, ch_buf *out, uint64_t *samples, ch_err *err)
{
    s_worker *w = vw;
    (void)round;
    if (w->broken) {
        return ch_err_set(err, CH_EINVAL, "%s", w->broken);
    }
    const ch_plan *plan = w->env->plan;
    if (op != OP_ITERATE || shard >= plan->n_shards) {
        return ch_err_set(err, CH_EPROTO, "als: bad task (op %u, shard %u)", op, shard);
    }
    Cohort__Cf__AlsTask *t = cohort__cf__als_task__unpack(NULL, len, payload);
    if (!t) {
        return ch_err_set(err, CH_EPROTO, "als: task does not parse");
    }
    size_t nu = w->d.users.n, ni = w->d.items.n, f = w->p.als.f;
    bool biased = w->p.als.biased && !w->p.als.implicit;
    bool cg = w->p.als.implicit && w->p.als.cg_steps > 0;
    int rc = 0;
    if (t->y.len != ni * f * 8 || (biased && t->bi.len != ni * 8) ||
        (cg && t->x.len != nu * f * 8)) {
        rc = ch_err_set(err, CH_EPROTO, "als: task sizes do not match the data");
    }
    size_t B = w->env->n_blocks_total;
    size_t b0 = plan->shard_block[shard], b1 = plan->shard_block[shard + 1];
    size_t u0 = ch_cf_block_begin(nu, b0, B), u1 = ch_cf_block_begin(nu, b1, B);
    double *G = rc == 0 ? ch_calloc_array(f * f + 1, sizeof *G) : NULL;
    if (rc == 0 && !G) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    const double *Y = (const double *)t->y.data, *bi = biased ? (const double *)t->bi.data : NULL;
    if (rc == 0) {
        if (cg) {
            memcpy(w->X + u0 * f, t->x.data + u0 * f * 8, (u1 - u0) * f * 8);
        }
        if (w->p.als.implicit) {
            ch_als_gram(Y, ni, f, G);
        }
        if (ch_als_solve_users(&w->p.als, &w->d.by_user, u0, u1, Y, bi, w->mu, G, w->X,
                               biased ? w->bu : NULL) != 0) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        }
    }
    ch_buf stats;
    ch_buf_init(&stats);
    if (rc == 0) {
        rc = ch_cf_tree_range(B, b0, b1, ch_als_stat_len(&w->p.als), s_leaf, w, &stats, err);
    }
    if (rc == 0) {
        Cohort__Cf__AlsUpdate u = COHORT__CF__ALS_UPDATE__INIT;
        u.u0 = u0;
        u.u1 = u1;
        u.x.data = (uint8_t *)(w->X + u0 * f);
        u.x.len = (u1 - u0) * f * 8;
        if (biased) {
            u.bu.data = (uint8_t *)(w->bu + u0);
            u.bu.len = (u1 - u0) * 8;
        }
        u.stats.data = stats.data;
        u.stats.len = stats.len;
        size_t size = cohort__cf__als_update__get_packed_size(&u);
        if (ch_buf_reserve(out, size) != 0) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        } else {
            cohort__cf__als_update__pack(&u, out->data + out->len);
            out->len += size;
        }
        *samples = w->d.by_user.ptr[u1] - w->d.by_user.ptr[u0];
    }
    ch_buf_free(&stats);
    free(G);
    cohort__cf__als_task__free_unpacked(t, NULL);
    return rc;
}

const ch_algo ch_algo_als = {
    .name = "als",
    .summary = "alternating least squares (explicit biased or implicit confidence-weighted) "
               "with top-N recommendations",
    .needs_target = false,
    .configure = s_configure,
    .estimate = s_estimate,
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
    .output_kind = ch_cf_output_kind,
    .n_outputs = ch_cf_n_outputs,
    .predict = ch_cf_predict,
    .pack = ch_cf_pack,
    .unpack = ch_cf_unpack,
    .evaluate = ch_cf_eval_hook,
    .output_name = ch_cf_output_name,
    .predict_csv = ch_cf_predict_csv,
    .summary_json = ch_cf_summary_json,
    .describe = ch_cf_describe,
    .report = ch_cf_report,
    .model_destroy = ch_cf_model_destroy,
};
