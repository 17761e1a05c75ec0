/* common.c: coordinator and worker setup shared by als, user_knn and
 * item_knn (see common.h). */
#include "algorithms/cf/common.h"
#include "algorithms/cf/similar.h"

#include "common/fsutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

size_t ch_cf_block_begin(size_t n, size_t b, size_t n_blocks)
{
    return n * b / (n_blocks ? n_blocks : 1); /* n < 2^32, b <= 256 */
}

void ch_cf_heldout_free(ch_cf_heldout *h)
{
    if (!h) {
        return;
    }
    free(h->u);
    free(h->i);
    free(h->r);
    memset(h, 0, sizeof *h);
}

static int s_no_by_file(ch_err *err)
{
    return ch_err_set(err, CH_EINVAL,
                      "cf: partition.scheme by-file is not supported: users and items need one "
                      "id space; run on data the coordinator and the workers can read");
}

int ch_cf_coord_setup(const ch_coord_env *env, const ch_cf_params *p, ch_cf_kind kind,
                      ch_cf_data *d, ch_cf_model *m, ch_cf_heldout *h, ch_err *err)
{
    memset(h, 0, sizeof *h);
    if (!env->train) {
        return s_no_by_file(err);
    }
    int rc = ch_cf_data_build(env->train, &p->spec, d, err);
    if (rc) {
        return rc;
    }
    /* the model keeps its own ids, CSR and CSC: the parsed table goes */
    ch_table_lease_release(env->lease);
    if (ch_cf_params_to_model(p, kind, m) != 0) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    m->users = d->users;
    m->items = d->items;
    m->by_user = d->by_user;
    memset(&d->users, 0, sizeof d->users);
    memset(&d->items, 0, sizeof d->items);
    memset(&d->by_user, 0, sizeof d->by_user);
    m->n_dups = d->n_dups;
    double s = 0;
    for (size_t k = 0; k < m->by_user.nnz; k++) {
        s += m->by_user.val[k];
    }
    m->mu = m->by_user.nnz ? s / (double)m->by_user.nnz : 0;
    if (ch_cf_model_ready(m) != 0) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    if (p->spec.split != CH_CF_SPLIT_RANDOM) {
        h->own = true;
        h->n = d->n_test;
        h->has_rating = p->spec.rating_col && *p->spec.rating_col;
        h->u = ch_alloc_array(h->n + 1, sizeof *h->u);
        h->i = ch_alloc_array(h->n + 1, sizeof *h->i);
        h->r = ch_alloc_array(h->n + 1, sizeof *h->r);
        if (!h->u || !h->i || !h->r) {
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        for (size_t k = 0; k < h->n; k++) {
            h->u[k] = d->test_user[k];
            h->i[k] = d->test_item[k];
            h->r[k] = d->test_rating[k];
        }
        m->n_holdout = h->n;
    } else if (env->test && env->test->n_rows) {
        size_t n = env->test->n_rows;
        h->n = n;
        h->u = ch_alloc_array(n + 1, sizeof *h->u);
        h->i = ch_alloc_array(n + 1, sizeof *h->i);
        h->r = ch_alloc_array(n + 1, sizeof *h->r);
        if (!h->u || !h->i || !h->r) {
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        rc = ch_cf_lookup(env->test, &m->users, &m->items, m->user_col, m->item_col, m->rating_col,
                          h->u, h->i, h->r, &h->has_rating, err);
    }
    return rc;
}

int ch_cf_round_metrics(const ch_cf_model *m, const ch_cf_heldout *h, size_t eval_users,
                        ch_round_metrics *rm, ch_err *err)
{
    if (h->n == 0 || eval_users == 0) {
        return 0;
    }
    double met[CH_CF_NMET];
    if (ch_cf_evaluate(m, h->n, h->u, h->i, h->r, h->has_rating, eval_users, met) != 0) {
        return ch_err_set(err, CH_ENOMEM, "out of memory evaluating");
    }
    if (isfinite(met[CH_CF_M_RMSE])) {
        ch_round_metric(rm, "test_rmse", met[CH_CF_M_RMSE]);
    }
    if (isfinite(met[CH_CF_M_NDCG])) {
        ch_round_metric(rm, "test_ndcg_at_k", met[CH_CF_M_NDCG]);
        ch_round_metric(rm, "test_recall_at_k", met[CH_CF_M_RECALL]);
    }
    return 0;
}

int ch_cf_finish(ch_cf_model *m, const ch_cf_heldout *h, const ch_cf_params *p, const char *run_dir,
                 ch_err *err)
{
    if (h->own) {
        m->has_holdout = true;
        if (ch_cf_evaluate(m, h->n, h->u, h->i, h->r, h->has_rating, 0, m->holdout) != 0) {
            return ch_err_set(err, CH_ENOMEM, "out of memory evaluating");
        }
    }
    int rc = 0;
    if (run_dir && p->recommend) {
        char *path = ch_path_join(run_dir, "recommendations.csv");
        rc = path ? ch_cf_write_recommendations(m, path, err)
                  : ch_err_set(err, CH_ENOMEM, "out of memory");
        free(path);
        if (rc == 0 && ch_cf_has_similar(m)) {
            path = ch_path_join(run_dir, "similar_items.csv");
            rc = path ? ch_cf_write_similar(m, path, err)
                      : ch_err_set(err, CH_ENOMEM, "out of memory");
            free(path);
        }
    }
    return rc;
}

int ch_cf_worker_setup(const ch_worker_env *env, const ch_cf_params *p, ch_cf_data *d, ch_err *err)
{
    if (env->plan->scheme == CH_PART_BY_FILE || env->block_offset != 0 ||
        env->plan->n_blocks != env->n_blocks_total) {
        return s_no_by_file(err);
    }
    int rc = ch_cf_data_build(env->train, &p->spec, d, err);
    if (rc == 0) {
        ch_table_lease_release(env->lease); /* the worker keeps its own CSR and CSC */
    }
    return rc;
}
