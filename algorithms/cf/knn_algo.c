/* knn_algo.c: model.algorithm user_knn and item_knn: one round per block of
 * rows (users or items) whose neighbours are found.
 *
 *   task:   the row block [r0, r1)
 *   worker: sums the pair statistics (x in [r0, r1), every y) over the
 *           columns of its blocks (column block b = columns [C b / B,
 *           C (b + 1) / B) of the plan's B blocks) on the sparse block tree
 *   coord:  completes the tree, keeps each row's best `keep` positive
 *           similarities and drops the statistics
 *
 * The row block size follows model.block_mb, so neither side ever holds
 * more than that much of the similarity matrix; the neighbour lists are
 * the same bytes for any number of workers. */
#include "algorithms/algo.h"
#include "algorithms/cf/common.h"
#include "algorithms/cf/query.h"
#include "algorithms/cf/knn.h"
#include "algorithms/cf/tree.h"
#include "proto/cf.pb-c.h"

#include <malloc.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { OP_BLOCK = 1 };

typedef struct s_coord {
    ch_cf_params p;
    ch_cf_kind kind;
    ch_cf_data d;
    ch_cf_model *m;
    ch_cf_heldout h;
    ch_knn_view v;
    size_t n_blocks, block_rows, done;
    size_t nb_len, nb_cap;
    char *run_dir;
} s_coord;

typedef struct s_worker {
    ch_cf_params p;
    ch_cf_kind kind;
    ch_cf_data d;
    ch_knn_view v;
    const ch_worker_env *env;
    char *broken; /* the data error, reported by the coordinator's own build first */
    ch_knn_leaf leaf;
    size_t scratch_rows;
} s_worker;

static int s_configure_user(ch_config *cfg, const ch_schema *schema, ch_err *err)
{
    ch_cf_params p;
    return ch_cf_params_read(cfg, schema, CH_CF_USER_KNN, 0, &p, err);
}

static int s_configure_item(ch_config *cfg, const ch_schema *schema, ch_err *err)
{
    ch_cf_params p;
    return ch_cf_params_read(cfg, schema, CH_CF_ITEM_KNN, 0, &p, err);
}

static int s_estimate(ch_config *cfg, const ch_schema *schema, size_t n_rows, size_t n_workers,
                      size_t n_blocks, ch_estimate *out)
{
    (void)n_blocks;
    (void)n_workers;
    ch_cf_params p;
    if (ch_cf_params_read(cfg, schema, CH_CF_ITEM_KNN, 0, &p, NULL) != 0) {
        return 0;
    }
    out->worker_bytes = (double)n_rows * 40 + p.block_mb * 1048576.0;
    out->message_bytes = p.block_mb * 1048576.0;
    out->flops = (double)n_rows * 100 * (double)ch_knn_nstat(p.knn.sim);
    out->rounds = 1;
    return 0;
}

/* Rows per block: the dense scratch of a block stays within block_mb. */
static size_t s_block_rows(const ch_cf_params *p, size_t n_rows)
{
    double per_row = (double)n_rows * ((double)ch_knn_nstat(p->knn.sim) * 8 + 9);
    double r = floor(p->block_mb * 1048576.0 / (per_row > 1 ? per_row : 1));
    if (r < 1) {
        r = 1;
    }
    return r >= (double)n_rows ? (n_rows ? n_rows : 1) : (size_t)r;
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
    ch_knn_view_free(&st->v);
    free(st->run_dir);
    free(st);
    *pst = NULL;
}

static void *s_coord_new_kind(const ch_coord_env *env, ch_cf_kind kind, ch_err *err)
{
    s_coord *st = calloc(1, sizeof *st);
    if (!st || !(st->m = calloc(1, sizeof *st->m))) {
        free(st);
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    st->kind = kind;
    int rc = ch_cf_params_read(env->cfg, env->schema, kind, env->seed, &st->p, err);
    if (rc == 0) {
        rc = ch_cf_coord_setup(env, &st->p, kind, &st->d, st->m, &st->h, err);
    }
    ch_cf_model *m = st->m;
    st->n_blocks = env->n_blocks;
    st->run_dir = env->run_dir ? strdup(env->run_dir) : NULL;
    if (rc == 0) {
        /* the view needs the CSRs back in the data for a moment */
        st->d.by_user = m->by_user;
        rc = ch_knn_view_make(&st->d, kind == CH_CF_USER_KNN, st->p.knn.sim, &st->v);
        memset(&st->d.by_user, 0, sizeof st->d.by_user);
        if (rc) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        }
    }
    if (rc == 0) {
        size_t nu = m->users.n, ni = m->items.n;
        size_t rows = kind == CH_CF_USER_KNN ? nu : ni;
        const ch_cf_csr *R = kind == CH_CF_USER_KNN ? &m->by_user : &st->d.by_item;
        m->n_nb_rows = rows;
        m->nb_ptr = ch_calloc_array(rows + 1, sizeof *m->nb_ptr);
        m->means = ch_calloc_array(rows + 1, sizeof *m->means);
        if (!m->nb_ptr || !m->means) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        for (size_t x = 0; rc == 0 && x < rows; x++) {
            double s = 0;
            for (size_t k = R->ptr[x]; k < R->ptr[x + 1]; k++) {
                s += R->val[k];
            }
            size_t c = R->ptr[x + 1] - R->ptr[x];
            m->means[x] = c ? s / (double)c : m->mu;
        }
        if (rc == 0 && st->p.knn.pred == CH_KNN_BASELINE) {
            m->bu = ch_calloc_array(nu + 1, sizeof *m->bu);
            m->bi = ch_calloc_array(ni + 1, sizeof *m->bi);
            if (!m->bu || !m->bi) {
                rc = ch_err_set(err, CH_ENOMEM, "out of memory");
            } else {
                st->d.by_user = m->by_user;
                ch_knn_baselines(&st->d, m->mu, &st->p.knn, m->bu, m->bi);
                memset(&st->d.by_user, 0, sizeof st->d.by_user);
            }
        }
        st->block_rows = s_block_rows(&st->p, rows);
    }
    if (rc) {
        void *v = st;
        s_coord_destroy(&v);
        return NULL;
    }
    return st;
}

static void *s_coord_new_user(const ch_coord_env *env, ch_err *err)
{
    return s_coord_new_kind(env, CH_CF_USER_KNN, err);
}

static void *s_coord_new_item(const ch_coord_env *env, ch_err *err)
{
    return s_coord_new_kind(env, CH_CF_ITEM_KNN, err);
}

static int s_next_task(void *vst, uint32_t round, uint32_t *op, ch_buf *payload, ch_err *err)
{
    s_coord *st = vst;
    (void)round;
    size_t rows = st->m->n_nb_rows;
    if (st->done >= rows) {
        return 1;
    }
    Cohort__Cf__KnnTask t = COHORT__CF__KNN_TASK__INIT;
    t.r0 = st->done;
    t.r1 = st->done + st->block_rows < rows ? st->done + st->block_rows : rows;
    *op = OP_BLOCK;
    size_t size = cohort__cf__knn_task__get_packed_size(&t);
    if (ch_buf_reserve(payload, size) != 0) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    cohort__cf__knn_task__pack(&t, payload->data + payload->len);
    payload->len += size;
    return 0;
}

static int s_aggregate(void *vst, uint32_t round, uint32_t op, const ch_update *ups, size_t n,
                       ch_round_metrics *rm, ch_err *err)
{
    s_coord *st = vst;
    ch_cf_model *m = st->m;
    (void)round;
    if (op != OP_BLOCK) {
        return ch_err_set(err, CH_EPROTO, "knn: unexpected op %u", op);
    }
    size_t rows = m->n_nb_rows, r0 = st->done;
    size_t r1 = r0 + st->block_rows < rows ? r0 + st->block_rows : rows;
    size_t ns = ch_knn_nstat(st->p.knn.sim);
    ch_cf_tree *tree = ch_cf_tree_new(st->n_blocks, ns, (uint64_t)(r1 - r0) * rows - 1);
    if (!tree) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    int rc = 0;
    for (size_t k = 0; k < n && rc == 0; k++) {
        Cohort__Cf__KnnUpdate *u =
            cohort__cf__knn_update__unpack(NULL, ups[k].state_len, ups[k].state);
        if (!u) {
            rc = ch_err_set(err, CH_EPROTO, "knn: update of shard %u does not parse", ups[k].shard);
            break;
        }
        rc = ch_cf_tree_add(tree, u->stats.data, u->stats.len, err);
        cohort__cf__knn_update__free_unpacked(u, NULL);
    }
    ch_cf_node root = {0};
    if (rc == 0) {
        rc = ch_cf_tree_finish(tree, &root, err);
    }
    ch_cf_tree_destroy(&tree);
    if (rc == 0 && ch_knn_select(&st->p.knn, &st->v, r0, r1, &root, m->nb_ptr, &m->nb, &m->nb_sim,
                                 &st->nb_len, &st->nb_cap) != 0) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory for neighbour lists");
    }
    ch_cf_node_free(&root);
    if (rc == 0) {
        st->done = r1;
        ch_round_metric(rm, "rows_done", (double)r1);
        ch_round_metric(rm, "neighbours_per_row", r1 ? (double)st->nb_len / (double)r1 : 0);
        if (r1 == rows) {
            rc = ch_cf_round_metrics(m, &st->h, st->p.eval_users, rm, err);
        }
    }
    return rc;
}

static void *s_finalize(void *vst, ch_err *err)
{
    s_coord *st = vst;
    ch_cf_model *m = st->m;
    if (!m->nb) {
        m->nb = malloc(sizeof *m->nb);
        m->nb_sim = malloc(sizeof *m->nb_sim);
        if (!m->nb || !m->nb_sim) {
            ch_err_set(err, CH_ENOMEM, "out of memory");
            return NULL;
        }
    }
    if (ch_cf_finish(m, &st->h, &st->p, st->run_dir, err) != 0) {
        return NULL;
    }
    st->m = NULL;
    return m;
}

static int s_save(void *vst, ch_buf *out, ch_err *err)
{
    s_coord *st = vst;
    ch_cf_model *m = st->m;
    uint64_t done = st->done, len = st->nb_len;
    int rc = ch_buf_append(out, &done, 8) || ch_buf_append(out, &len, 8) ||
             ch_buf_append(out, m->nb_ptr, (m->n_nb_rows + 1) * sizeof *m->nb_ptr) ||
             (len && ch_buf_append(out, m->nb, len * 4)) ||
             (len && ch_buf_append(out, m->nb_sim, len * 8));
    return rc ? ch_err_set(err, CH_ENOMEM, "out of memory") : 0;
}

static int s_load(void *vst, const uint8_t *data, size_t size, ch_err *err)
{
    s_coord *st = vst;
    ch_cf_model *m = st->m;
    uint64_t done, len;
    size_t np = (m->n_nb_rows + 1) * sizeof *m->nb_ptr;
    if (size < 16) {
        return ch_err_set(err, CH_EPROTO, "knn: truncated checkpoint");
    }
    memcpy(&done, data, 8);
    memcpy(&len, data + 8, 8);
    if (done > m->n_nb_rows || len > (size - 16) / 12 || size != 16 + np + len * 12) {
        return ch_err_set(err, CH_EPROTO, "knn: checkpoint sizes do not match the data");
    }
    uint32_t *nb = malloc(len * 4 + 4);
    double *sim = malloc(len * 8 + 8);
    if (!nb || !sim) {
        free(nb);
        free(sim);
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    memcpy(m->nb_ptr, data + 16, np);
    memcpy(nb, data + 16 + np, len * 4);
    memcpy(sim, data + 16 + np + len * 4, len * 8);
    for (size_t k = 0; k < len; k++) {
        if (nb[k] >= m->n_nb_rows) {
            free(nb);
            free(sim);
            return ch_err_set(err, CH_EPROTO, "knn: checkpoint neighbour out of range");
        }
    }
    free(m->nb);
    free(m->nb_sim);
    m->nb = nb;
    m->nb_sim = sim;
    st->nb_len = st->nb_cap = len;
    st->done = done;
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
    ch_knn_view_free(&w->v);
    free(w->leaf.acc);
    free(w->leaf.mark);
    free(w->leaf.touched);
    free(w);
    *pw = NULL;
}

static void *s_worker_new_kind(const ch_worker_env *env, ch_cf_kind kind, ch_err *err)
{
    /* large tree nodes from the heap, not fresh mmap pages (see als_algo.c) */
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    s_worker *w = calloc(1, sizeof *w);
    if (!w) {
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    w->env = env;
    w->kind = kind;
    int rc = ch_cf_params_read(env->cfg, env->schema, kind, env->seed, &w->p, err);
    if (rc == 0 && ch_cf_worker_setup(env, &w->p, &w->d, err) != 0) {
        w->broken = strdup(err && err->msg[0] ? err->msg : "cf: bad data");
        ch_err_clear(err);
        return w;
    }
    if (rc == 0 && ch_knn_view_make(&w->d, kind == CH_CF_USER_KNN, w->p.knn.sim, &w->v) != 0) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    if (rc) {
        void *v = w;
        s_worker_destroy(&v);
        return NULL;
    }
    return w;
}

static void *s_worker_new_user(const ch_worker_env *env, ch_err *err)
{
    return s_worker_new_kind(env, CH_CF_USER_KNN, err);
}

static void *s_worker_new_item(const ch_worker_env *env, ch_err *err)
{
    return s_worker_new_kind(env, CH_CF_ITEM_KNN, err);
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
    if (op != OP_BLOCK || shard >= plan->n_shards) {
        return ch_err_set(err, CH_EPROTO, "knn: bad task (op %u, shard %u)", op, shard);
    }
    Cohort__Cf__KnnTask *t = cohort__cf__knn_task__unpack(NULL, len, payload);
    if (!t) {
        return ch_err_set(err, CH_EPROTO, "knn: task does not parse");
    }
    size_t rows = w->v.n_rows, ns = ch_knn_nstat(w->p.knn.sim);
    size_t r0 = (size_t)t->r0, r1 = (size_t)t->r1;
    cohort__cf__knn_task__free_unpacked(t, NULL);
    if (r0 >= r1 || r1 > rows || r1 - r0 > s_block_rows(&w->p, rows)) {
        return ch_err_set(err, CH_EPROTO, "knn: row block [%zu, %zu) out of range", r0, r1);
    }
    size_t cells = (r1 - r0) * rows;
    if (r1 - r0 > w->scratch_rows) {
        free(w->leaf.acc);
        free(w->leaf.mark);
        free(w->leaf.touched);
        w->leaf.acc = ch_calloc_array(cells * ns + 1, sizeof *w->leaf.acc);
        w->leaf.mark = ch_calloc_array(cells + 1, 1);
        w->leaf.touched = ch_alloc_array(cells + 1, sizeof *w->leaf.touched);
        w->scratch_rows = r1 - r0;
        if (!w->leaf.acc || !w->leaf.mark || !w->leaf.touched) {
            w->scratch_rows = 0;
            return ch_err_set(err, CH_ENOMEM, "out of memory for a block of %zu rows", r1 - r0);
        }
    }
    w->leaf.v = &w->v;
    w->leaf.sim = w->p.knn.sim;
    w->leaf.r0 = r0;
    w->leaf.r1 = r1;
    w->leaf.n_col_blocks = w->env->n_blocks_total;
    ch_buf stats;
    ch_buf_init(&stats);
    size_t b0 = plan->shard_block[shard], b1 = plan->shard_block[shard + 1];
    int rc =
        ch_cf_tree_range(w->env->n_blocks_total, b0, b1, ns, ch_knn_leaf_fn, &w->leaf, &stats, err);
    if (rc == 0) {
        Cohort__Cf__KnnUpdate u = COHORT__CF__KNN_UPDATE__INIT;
        u.stats.data = stats.data;
        u.stats.len = stats.len;
        size_t size = cohort__cf__knn_update__get_packed_size(&u);
        if (ch_buf_reserve(out, size) != 0) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        } else {
            cohort__cf__knn_update__pack(&u, out->data + out->len);
            out->len += size;
        }
        size_t C = w->v.cols.n_rows, B = w->env->n_blocks_total;
        size_t c0 = ch_cf_block_begin(C, b0, B), c1 = ch_cf_block_begin(C, b1, B);
        *samples = w->v.cols.ptr[c1] - w->v.cols.ptr[c0];
    }
    ch_buf_free(&stats);
    return rc;
}

#define CH_CF_KNN_TABLE(NAME, SUMMARY, CONFIGURE, COORD_NEW, WORKER_NEW)                           \
    {                                                                                              \
        .name = NAME, .summary = SUMMARY, .needs_target = false, .configure = CONFIGURE,           \
        .estimate = s_estimate, .coord_new = COORD_NEW, .next_task = s_next_task,                  \
        .aggregate = s_aggregate, .finalize = s_finalize, .save = s_save, .load = s_load,          \
        .coord_destroy = s_coord_destroy, .worker_new = WORKER_NEW, .run_task = s_run_task,        \
        .worker_destroy = s_worker_destroy, .output_kind = ch_cf_output_kind,                      \
        .n_outputs = ch_cf_n_outputs, .predict = ch_cf_predict, .pack = ch_cf_pack,                \
        .unpack = ch_cf_unpack, .evaluate = ch_cf_eval_hook, .output_name = ch_cf_output_name,     \
        .predict_csv = ch_cf_predict_csv, .summary_json = ch_cf_summary_json,                      \
        .describe = ch_cf_describe, .report = ch_cf_report, .model_destroy = ch_cf_model_destroy,  \
    }

const ch_algo ch_algo_user_knn =
    CH_CF_KNN_TABLE("user_knn",
                    "user-based nearest neighbours (Surprise's KNN models) with top-N "
                    "recommendations",
                    s_configure_user, s_coord_new_user, s_worker_new_user);
const ch_algo ch_algo_item_knn =
    CH_CF_KNN_TABLE("item_knn",
                    "item-based nearest neighbours (Surprise's KNN models) with top-N "
                    "recommendations",
                    s_configure_item, s_coord_new_item, s_worker_new_item);
