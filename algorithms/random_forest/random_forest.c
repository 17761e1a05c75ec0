/* random_forest.c: random forests built across workers, behind the
 * algorithm interface (algo.h).
 *
 * Tree-parallel: round r hands out a batch of tree indices; shard s grows
 * the trees t of the batch with (t - first) % n_shards == s and returns them
 * serialized; the coordinator keeps them by tree index. Each tree draws its
 * bootstrap and its features from the stream (seed, tree index) only, and
 * with iid or stratified plans every worker grows on the whole training
 * table (in simulation every worker holds it), so the forest is the same
 * bytes for any number of workers and launch mode.
 *
 * Federated bagging: with by-file silos each silo grows its trees on its own
 * rows (bins from its own rows too) and only trees leave it; with the
 * label-skewed simulation schemes (dirichlet, shards) a shard's trees use its
 * shard's rows. The forest is then the union and depends on the partition.
 *
 * Out-of-bag results are computed by the coordinator, which replays each
 * tree's bootstrap draws over the training table (iid and stratified plans
 * only: elsewhere the coordinator has no rows). */
#include "algorithms/algo.h"
#include "algorithms/random_forest/bins.h"
#include "algorithms/random_forest/forest.h"
#include "algorithms/random_forest/grow.h"
#include "algorithms/random_forest/params.h"
#include "common/metrics.h"
#include "proto/random_forest.pb-c.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OP_GROW = 1 };

/* Largest number of trees one message may carry. */
#define S_MAX_TREES 100000

typedef struct s_coord {
    rf_params p;
    const ch_schema *schema;
    const ch_table *train, *test;
    uint64_t seed;
    size_t n_shards;
    size_t K, nv;
    bool all_rows; /* trees grow on the whole training table */
    rf_tree **trees;
    size_t n_done;
    /* out-of-bag */
    bool oob;
    size_t *rows;
    size_t n_rows;
    double *oob_sum;
    uint32_t *oob_cnt;
    uint32_t *counts;
    double *curve;
    uint32_t *curve_trees;
    size_t n_curve;
} s_coord;

typedef struct s_worker {
    rf_params p;
    const ch_worker_env *env;
    rf_bins *bins;
    size_t K;
    bool all_rows;
    bool by_file;
    size_t *rows;
    size_t n_rows;
    double *cw;
} s_worker;

/* Whether the partition scheme lets every tree use the whole training
 * table (iid, stratified) or only its shard's rows. */
static int s_scheme(ch_config *cfg, bool *all_rows, bool *by_file)
{
    const char *scheme = "iid";
    ch_cfg_str(cfg, "partition.scheme", "iid", &scheme, NULL);
    *by_file = strcmp(scheme, "by-file") == 0;
    *all_rows = strcmp(scheme, "iid") == 0 || strcmp(scheme, "stratified") == 0 || *by_file;
    return 0;
}

static int s_configure(ch_config *cfg, const ch_schema *schema, ch_err *err)
{
    rf_params p;
    int rc = rf_params_read(cfg, schema, &p, err);
    rf_params_free(&p);
    return rc;
}

static int s_estimate(ch_config *cfg, const ch_schema *schema, size_t n_rows, size_t n_workers,
                      size_t n_blocks, ch_estimate *out)
{
    (void)n_blocks;
    rf_params p;
    if (rf_params_read(cfg, schema, &p, NULL) != 0) {
        return CH_EINVAL;
    }
    double nf = schema ? (double)schema->n_features : 1;
    double nodes = 2.0 * (double)n_rows / (double)p.min_samples_leaf;
    double per_tree = nodes * 60;
    double w = n_workers ? (double)n_workers : 1;
    out->worker_bytes = (double)n_rows * nf + (double)n_rows * 40 + per_tree;
    out->message_bytes = per_tree * ceil((double)p.trees_per_round / w);
    out->flops = (double)p.trees_per_round * (double)n_rows * log2((double)n_rows + 2) *
                 (double)rf_params_mtry(&p, (size_t)nf);
    out->rounds = ceil((double)p.n_trees / (double)p.trees_per_round);
    rf_params_free(&p);
    return 0;
}

/* Rows with a usable target, ascending. */
static size_t *s_usable_rows(const ch_table *t, const size_t *from, size_t n_from, size_t K,
                             size_t *n_out)
{
    size_t *rows = ch_alloc_array(n_from ? n_from : 1, sizeof *rows);
    if (!rows) {
        return NULL;
    }
    size_t n = 0;
    for (size_t k = 0; k < n_from; k++) {
        size_t i = from ? from[k] : k;
        double y = t->target.values[i];
        if (!isfinite(y) || (K && (y < 0 || y >= (double)K || y != floor(y)))) {
            continue;
        }
        rows[n++] = i;
    }
    *n_out = n;
    return rows;
}

/* --- coordinator ---------------------------------------------------------- */

static void s_coord_destroy(void **pst)
{
    if (!pst || !*pst) {
        return;
    }
    s_coord *st = *pst;
    if (st->trees) {
        for (size_t t = 0; t < (size_t)st->p.n_trees; t++) {
            rf_tree_destroy(&st->trees[t]);
        }
    }
    free(st->trees);
    free(st->rows);
    free(st->oob_sum);
    free(st->oob_cnt);
    free(st->counts);
    free(st->curve);
    free(st->curve_trees);
    rf_params_free(&st->p);
    free(st);
    *pst = NULL;
}

static void *s_coord_new(const ch_coord_env *env, ch_err *err)
{
    s_coord *st = calloc(1, sizeof *st);
    if (!st) {
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    if (rf_params_read(env->cfg, env->schema, &st->p, err) != 0) {
        free(st);
        return NULL;
    }
    bool by_file;
    s_scheme(env->cfg, &st->all_rows, &by_file);
    st->schema = env->schema;
    st->train = env->train;
    st->test = env->test;
    st->seed = env->seed;
    st->n_shards = env->n_shards ? env->n_shards : 1;
    st->K = rf_params_n_classes(&st->p, env->schema);
    st->nv = st->K ? st->K : 1;
    st->trees = calloc((size_t)st->p.n_trees, sizeof *st->trees);
    size_t rounds = (size_t)((st->p.n_trees + st->p.trees_per_round - 1) / st->p.trees_per_round);
    st->curve = calloc(rounds, sizeof *st->curve);
    st->curve_trees = calloc(rounds, sizeof *st->curve_trees);
    if (!st->trees || !st->curve || !st->curve_trees) {
        ch_err_set(err, CH_ENOMEM, "out of memory");
        goto fail;
    }
    if (env->train) {
        st->rows = s_usable_rows(env->train, NULL, env->train->n_rows, st->K, &st->n_rows);
        if (!st->rows) {
            ch_err_set(err, CH_ENOMEM, "out of memory");
            goto fail;
        }
        size_t finite = 0;
        for (size_t i = 0; i < env->train->n_rows; i++) {
            finite += isfinite(env->train->target.values[i]) ? 1 : 0;
        }
        if (st->K && finite != st->n_rows) {
            ch_err_set(err, CH_EINVAL,
                       "%s: target '%s' holds %zu values that are not class codes 0..%zu",
                       ch_config_where(env->cfg, "model.classes"), env->schema->target.name,
                       finite - st->n_rows, st->K - 1);
            goto fail;
        }
        if (st->n_rows == 0) {
            ch_err_set(err, CH_EINVAL, "no training row has a value for target '%s'",
                       env->schema->target.name);
            goto fail;
        }
        if (st->K) {
            size_t present = 0;
            size_t *seen = calloc(st->K, sizeof *seen);
            if (!seen) {
                ch_err_set(err, CH_ENOMEM, "out of memory");
                goto fail;
            }
            for (size_t k = 0; k < st->n_rows; k++) {
                seen[(size_t)env->train->target.values[st->rows[k]]]++;
            }
            size_t only = 0;
            for (size_t c = 0; c < st->K; c++) {
                if (seen[c]) {
                    present++;
                    only = c;
                }
            }
            free(seen);
            if (present < 2) {
                ch_err_set(err, CH_EINVAL,
                           "every training row of target '%s' is of class '%s': a classifier "
                           "needs two or more classes",
                           env->schema->target.name,
                           env->schema->target.kind == CH_COL_CATEGORICAL
                               ? env->schema->target.levels[only]
                               : "(a single code)");
                goto fail;
            }
        }
        if (st->all_rows && !by_file && rf_bootstrap_draws(&st->p, st->n_rows) > st->n_rows &&
            st->p.bootstrap) {
            ch_err_set(
                err, CH_EINVAL, "%s: model.max_samples %.0f is more than the %zu training rows",
                ch_config_where(env->cfg, "model.max_samples"), st->p.max_samples, st->n_rows);
            goto fail;
        }
        st->oob = st->p.oob_score && st->p.bootstrap && st->all_rows && !by_file;
    }
    if (st->oob) {
        st->oob_sum = ch_alloc_array(st->n_rows, st->nv * sizeof(double));
        st->oob_cnt = calloc(st->n_rows, sizeof *st->oob_cnt);
        st->counts = calloc(st->n_rows, sizeof *st->counts);
        if (!st->oob_sum || !st->oob_cnt || !st->counts) {
            ch_err_set(err, CH_ENOMEM, "out of memory for out-of-bag sums");
            goto fail;
        }
        memset(st->oob_sum, 0, st->n_rows * st->nv * sizeof(double));
    }
    return st;
fail:
    s_coord_destroy((void **)&st);
    return NULL;
}

static int s_next_task(void *vst, uint32_t round, uint32_t *op, ch_buf *payload, ch_err *err)
{
    s_coord *st = vst;
    (void)round;
    if (st->n_done >= (size_t)st->p.n_trees) {
        return 1;
    }
    size_t n = (size_t)st->p.n_trees - st->n_done;
    if (n > (size_t)st->p.trees_per_round) {
        n = (size_t)st->p.trees_per_round;
    }
    Cohort__Rf__Task t = COHORT__RF__TASK__INIT;
    t.first_tree = (uint32_t)st->n_done;
    t.n_trees = (uint32_t)n;
    t.n_shards = (uint32_t)st->n_shards;
    size_t size = cohort__rf__task__get_packed_size(&t);
    if (ch_buf_reserve(payload, size) != 0) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    cohort__rf__task__pack(&t, payload->data + payload->len);
    payload->len += size;
    *op = OP_GROW;
    return 0;
}

/* The OOB error after the trees so far: misclassification rate or MSE
 * over rows out of bag at least once; also the score (accuracy or R^2). */
static double s_oob_error(const s_coord *st, double *score)
{
    size_t n = 0, hit = 0;
    double se = 0, sy = 0, syy = 0;
    const double *y = st->train->target.values;
    for (size_t k = 0; k < st->n_rows; k++) {
        if (!st->oob_cnt[k]) {
            continue;
        }
        double yi = y[st->rows[k]];
        const double *s = st->oob_sum + k * st->nv;
        n++;
        if (st->K) {
            size_t best = 0;
            for (size_t c = 1; c < st->K; c++) {
                if (s[c] > s[best]) {
                    best = c;
                }
            }
            hit += (double)best == yi;
        } else {
            double pr = s[0] / st->oob_cnt[k];
            se += (yi - pr) * (yi - pr);
            sy += yi;
            syy += yi * yi;
        }
    }
    if (n == 0) {
        *score = NAN;
        return NAN;
    }
    if (st->K) {
        *score = (double)hit / (double)n;
        return 1 - *score;
    }
    double var = syy - sy * sy / (double)n;
    *score = var > 0 ? 1 - se / var : NAN;
    return se / (double)n;
}

/* Adds tree t's out-of-bag predictions. */
static int s_oob_add(s_coord *st, const rf_tree *t, ch_err *err)
{
    int rc = rf_bootstrap(&st->p, st->seed, t->index, st->n_rows, st->counts, err);
    if (rc) {
        return rc;
    }
    for (size_t k = 0; k < st->n_rows; k++) {
        if (st->counts[k]) {
            continue;
        }
        size_t leaf = rf_tree_leaf(t, st->train, st->rows[k]);
        const double *v = t->value + leaf * st->nv;
        for (size_t c = 0; c < st->nv; c++) {
            st->oob_sum[k * st->nv + c] += v[c];
        }
        st->oob_cnt[k]++;
    }
    return 0;
}

static size_t *s_levels(const ch_schema *s)
{
    size_t *lv = calloc(s->n_features ? s->n_features : 1, sizeof *lv);
    if (lv) {
        for (size_t j = 0; j < s->n_features; j++) {
            lv[j] = s->features[j].kind == CH_COL_CATEGORICAL ? s->features[j].n_levels : 0;
        }
    }
    return lv;
}

/* Takes the trees of one update into st->trees after checking them. */
static int s_take_update(s_coord *st, const ch_update *u, uint32_t first, uint32_t n,
                         const size_t *levels, ch_err *err)
{
    Cohort__Rf__Update *m = cohort__rf__update__unpack(NULL, u->state_len, u->state);
    if (!m) {
        return ch_err_set(err, CH_EPROTO, "shard %u: the update does not decode", u->shard);
    }
    int rc = 0;
    if (m->version != 1) {
        rc = ch_err_set(err, CH_EPROTO, "shard %u: update version %u, expected 1", u->shard,
                        m->version);
    }
    for (size_t k = 0; k < m->n_trees && rc == 0; k++) {
        uint32_t idx = m->trees[k]->index;
        if (idx < first || idx >= first + n || (idx - first) % st->n_shards != u->shard) {
            rc = ch_err_set(err, CH_EPROTO, "shard %u sent tree %u, not one of its trees", u->shard,
                            idx);
        } else if (st->trees[idx]) {
            rc = ch_err_set(err, CH_EPROTO, "shard %u sent tree %u twice", u->shard, idx);
        } else {
            st->trees[idx] =
                rf_tree_from_pb(m->trees[k], st->nv, st->schema->n_features, levels, err);
            if (!st->trees[idx]) {
                rc = ch_err_prefix(err, "shard %u", u->shard);
            }
        }
    }
    cohort__rf__update__free_unpacked(m, NULL);
    return rc;
}

static int s_aggregate(void *vst, uint32_t round, uint32_t op, const ch_update *ups, size_t n,
                       ch_round_metrics *met, ch_err *err)
{
    s_coord *st = vst;
    (void)round;
    if (op != OP_GROW) {
        return ch_err_set(err, CH_EINTERNAL, "random_forest: unknown op %u", op);
    }
    uint32_t first = (uint32_t)st->n_done;
    size_t left = (size_t)st->p.n_trees - st->n_done;
    uint32_t nb =
        (uint32_t)(left < (size_t)st->p.trees_per_round ? left : (size_t)st->p.trees_per_round);
    size_t *levels = s_levels(st->schema);
    if (!levels) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = s_take_update(st, &ups[i], first, nb, levels, err);
    }
    free(levels);
    for (uint32_t t = first; t < first + nb && rc == 0; t++) {
        if (!st->trees[t]) {
            rc = ch_err_set(err, CH_EPROTO, "tree %u of the round is missing", t);
        }
    }
    if (rc) {
        for (uint32_t t = first; t < first + nb; t++) {
            rf_tree_destroy(&st->trees[t]);
        }
        return rc;
    }
    for (uint32_t t = first; t < first + nb && st->oob && rc == 0; t++) {
        rc = s_oob_add(st, st->trees[t], err);
    }
    if (rc) {
        return rc;
    }
    st->n_done = first + nb;
    double nodes = 0;
    for (uint32_t t = first; t < first + nb; t++) {
        nodes += (double)st->trees[t]->n_nodes;
    }
    ch_round_metric(met, "n_trees", (double)st->n_done);
    ch_round_metric(met, "mean_nodes", nodes / nb);
    if (st->oob) {
        double score;
        double e = s_oob_error(st, &score);
        ch_round_metric(met, "oob_error", e);
        ch_round_metric(met, "oob_score", score);
        st->curve[st->n_curve] = e;
        st->curve_trees[st->n_curve++] = (uint32_t)st->n_done;
    }
    return 0;
}

static void *s_finalize(void *vst, ch_err *err)
{
    s_coord *st = vst;
    if (st->n_done < (size_t)st->p.n_trees) {
        ch_err_set(err, CH_EINTERNAL, "random_forest: finalize after %zu of %ld trees", st->n_done,
                   st->p.n_trees);
        return NULL;
    }
    rf_forest *f = rf_forest_new(st->schema, st->K, st->p.criterion);
    if (!f) {
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    f->trees = calloc(st->n_done, sizeof *f->trees);
    if (!f->trees) {
        rf_forest_destroy(&f);
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    for (size_t t = 0; t < st->n_done; t++) {
        f->trees[t] = st->trees[t];
        st->trees[t] = NULL;
    }
    f->n_trees = st->n_done;
    rf_forest_importance(f, err);
    if (st->oob) {
        /* OOB predictions in training-table order (NaN: never out of bag) */
        size_t n = st->train->n_rows;
        f->oob_pred = ch_alloc_array(n ? n : 1, st->nv * sizeof(double));
        if (!f->oob_pred) {
            rf_forest_destroy(&f);
            ch_err_set(err, CH_ENOMEM, "out of memory");
            return NULL;
        }
        for (size_t i = 0; i < n * st->nv; i++) {
            f->oob_pred[i] = NAN;
        }
        for (size_t k = 0; k < st->n_rows; k++) {
            if (!st->oob_cnt[k]) {
                continue;
            }
            for (size_t c = 0; c < st->nv; c++) {
                f->oob_pred[st->rows[k] * st->nv + c] =
                    st->oob_sum[k * st->nv + c] / st->oob_cnt[k];
            }
        }
        f->n_oob = n;
        s_oob_error(st, &f->oob_score);
        f->oob_curve = malloc((st->n_curve ? st->n_curve : 1) * sizeof(double));
        f->oob_curve_trees = malloc((st->n_curve ? st->n_curve : 1) * sizeof(uint32_t));
        if (!f->oob_curve || !f->oob_curve_trees) {
            rf_forest_destroy(&f);
            ch_err_set(err, CH_ENOMEM, "out of memory");
            return NULL;
        }
        memcpy(f->oob_curve, st->curve, st->n_curve * sizeof(double));
        memcpy(f->oob_curve_trees, st->curve_trees, st->n_curve * sizeof(uint32_t));
        f->n_curve = st->n_curve;
    }
    bool have_test = st->test && st->test->has_target && st->test->n_rows > 0;
    if (st->p.permutation_importance && have_test) {
        if (rf_forest_permutation(f, st->test, (size_t)st->p.importance_rows, 3, st->seed, err) !=
            0) {
            rf_forest_destroy(&f);
            return NULL;
        }
        snprintf(f->perm_rows, sizeof f->perm_rows, "test");
    }
    if (st->K) {
        f->confusion = calloc(st->K * st->K, sizeof *f->confusion);
        if (!f->confusion) {
            rf_forest_destroy(&f);
            ch_err_set(err, CH_ENOMEM, "out of memory");
            return NULL;
        }
        if (have_test) {
            double *pred = ch_alloc_array(st->test->n_rows, st->K * sizeof(double));
            if (!pred || rf_forest_predict(f, st->test, pred, err) != 0) {
                free(pred);
                rf_forest_destroy(&f);
                ch_err_set(err, CH_ENOMEM, "out of memory");
                return NULL;
            }
            for (size_t i = 0; i < st->test->n_rows; i++) {
                double y = st->test->target.values[i];
                if (!(y >= 0 && y < (double)st->K)) {
                    continue;
                }
                size_t best = 0;
                for (size_t c = 1; c < st->K; c++) {
                    if (pred[i * st->K + c] > pred[i * st->K + best]) {
                        best = c;
                    }
                }
                f->confusion[(size_t)y * st->K + best]++;
            }
            free(pred);
            snprintf(f->confusion_rows, sizeof f->confusion_rows, "test");
        } else if (st->oob) {
            for (size_t k = 0; k < st->n_rows; k++) {
                if (!st->oob_cnt[k]) {
                    continue;
                }
                const double *s = st->oob_sum + k * st->nv;
                size_t best = 0;
                for (size_t c = 1; c < st->K; c++) {
                    if (s[c] > s[best]) {
                        best = c;
                    }
                }
                f->confusion[(size_t)st->train->target.values[st->rows[k]] * st->K + best]++;
            }
            snprintf(f->confusion_rows, sizeof f->confusion_rows, "oob");
        } else {
            free(f->confusion);
            f->confusion = NULL;
        }
    }
    return f;
}

/* Checkpoint: the trees so far as an Update message; the OOB sums are
 * replayed from the trees on load. */
static int s_save(void *vst, ch_buf *out, ch_err *err)
{
    s_coord *st = vst;
    Cohort__Rf__Update m = COHORT__RF__UPDATE__INIT;
    m.version = 1;
    Cohort__Rf__Tree *tm = calloc(st->n_done ? st->n_done : 1, sizeof *tm);
    Cohort__Rf__Tree **tp = calloc(st->n_done ? st->n_done : 1, sizeof *tp);
    int rc = tm && tp ? 0 : CH_ENOMEM;
    size_t made = 0;
    for (size_t t = 0; t < st->n_done && rc == 0; t++) {
        rc = rf_tree_to_pb(st->trees[t], &tm[t]);
        tp[t] = &tm[t];
        made = t + 1;
    }
    if (rc == 0) {
        m.n_trees = st->n_done;
        m.trees = tp;
        size_t size = cohort__rf__update__get_packed_size(&m);
        rc = ch_buf_reserve(out, size);
        if (rc == 0) {
            cohort__rf__update__pack(&m, out->data + out->len);
            out->len += size;
        }
    }
    for (size_t t = 0; t < made; t++) {
        free(tm[t].missing_left);
    }
    free(tm);
    free(tp);
    return rc ? ch_err_set(err, CH_ENOMEM, "out of memory saving a checkpoint") : 0;
}

static int s_load(void *vst, const uint8_t *data, size_t len, ch_err *err)
{
    s_coord *st = vst;
    Cohort__Rf__Update *m = cohort__rf__update__unpack(NULL, len, data);
    if (!m) {
        return ch_err_set(err, CH_EINVAL, "the random forest checkpoint does not decode");
    }
    size_t *levels = s_levels(st->schema);
    int rc = levels ? 0 : ch_err_set(err, CH_ENOMEM, "out of memory");
    if (rc == 0 && m->n_trees > (size_t)st->p.n_trees) {
        rc = ch_err_set(err, CH_EINVAL, "the checkpoint holds %zu trees; n_trees is %ld",
                        m->n_trees, st->p.n_trees);
    }
    for (size_t t = 0; t < m->n_trees && rc == 0; t++) {
        if (m->trees[t]->index != t) {
            rc = ch_err_set(err, CH_EINVAL, "checkpoint tree %zu has index %u", t,
                            m->trees[t]->index);
            break;
        }
        st->trees[t] = rf_tree_from_pb(m->trees[t], st->nv, st->schema->n_features, levels, err);
        if (!st->trees[t]) {
            rc = err->code ? err->code : CH_EINVAL;
        }
    }
    free(levels);
    size_t n = m->n_trees;
    cohort__rf__update__free_unpacked(m, NULL);
    if (rc) {
        return rc;
    }
    st->n_done = 0;
    st->n_curve = 0;
    /* replay the rounds for the OOB sums and curve */
    while (st->n_done < n) {
        size_t nb = (size_t)st->p.trees_per_round;
        if (st->n_done + nb > n) {
            nb = n - st->n_done;
        }
        for (size_t t = st->n_done; t < st->n_done + nb && st->oob; t++) {
            if ((rc = s_oob_add(st, st->trees[t], err))) {
                return rc;
            }
        }
        st->n_done += nb;
        if (st->oob) {
            double score;
            st->curve[st->n_curve] = s_oob_error(st, &score);
            st->curve_trees[st->n_curve++] = (uint32_t)st->n_done;
        }
    }
    return 0;
}

/* --- worker ----------------------------------------------------------------- */

static void s_worker_destroy(void **pw)
{
    if (!pw || !*pw) {
        return;
    }
    s_worker *w = *pw;
    rf_bins_destroy(&w->bins);
    free(w->rows);
    free(w->cw);
    rf_params_free(&w->p);
    free(w);
    *pw = NULL;
}

/* Class weights for rows[0..n) (balanced) or from the config; NULL-safe. */
static int s_class_weights(const s_worker *w, const size_t *rows, size_t n, double *cw)
{
    size_t K = w->K;
    for (size_t c = 0; c < K; c++) {
        cw[c] = 1;
    }
    if (w->p.cw == RF_CW_EXPLICIT) {
        memcpy(cw, w->p.cw_values, K * sizeof *cw);
    } else if (w->p.cw == RF_CW_BALANCED) {
        double cnt[RF_MAX_CLASSES] = {0};
        for (size_t k = 0; k < n; k++) {
            cnt[(size_t)w->env->train->target.values[rows[k]]] += 1;
        }
        size_t present = 0;
        for (size_t c = 0; c < K; c++) {
            present += cnt[c] > 0;
        }
        for (size_t c = 0; c < K; c++) {
            cw[c] = cnt[c] > 0 ? (double)n / ((double)present * cnt[c]) : 0;
        }
    }
    return 0;
}

static void *s_worker_new(const ch_worker_env *env, ch_err *err)
{
    s_worker *w = calloc(1, sizeof *w);
    if (!w) {
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    w->env = env;
    if (rf_params_read(env->cfg, env->schema, &w->p, err) != 0) {
        free(w);
        return NULL;
    }
    s_scheme(env->cfg, &w->all_rows, &w->by_file);
    w->K = rf_params_n_classes(&w->p, env->schema);
    w->bins = rf_bins_new(env->train, (size_t)w->p.max_bins, w->p.exact, err);
    w->cw = calloc(w->K ? w->K : 1, sizeof *w->cw);
    if (!w->bins || !w->cw) {
        if (w->bins) {
            ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        s_worker_destroy((void **)&w);
        return NULL;
    }
    if (w->all_rows) {
        w->rows = s_usable_rows(env->train, NULL, env->train->n_rows, w->K, &w->n_rows);
        if (!w->rows) {
            ch_err_set(err, CH_ENOMEM, "out of memory");
            s_worker_destroy((void **)&w);
            return NULL;
        }
        if (w->n_rows == 0) {
            ch_err_set(err, CH_EINVAL, "no training row here has a value for target '%s'",
                       env->schema->target.name);
            s_worker_destroy((void **)&w);
            return NULL;
        }
        s_class_weights(w, w->rows, w->n_rows, w->cw);
    }
    return w;
}

static int s_cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

static int s_run_task(void *vw, uint32_t round, uint32_t op, const uint8_t *payload, size_t len,
                      uint32_t shard, ch_buf *out, uint64_t *samples, ch_err *err)
{
    s_worker *w = vw;
    (void)round;
    if (op != OP_GROW) {
        return ch_err_set(err, CH_EPROTO, "random_forest: unknown op %u", op);
    }
    Cohort__Rf__Task *task = cohort__rf__task__unpack(NULL, len, payload);
    if (!task) {
        return ch_err_set(err, CH_EPROTO, "random_forest: the task does not decode");
    }
    uint32_t first = task->first_tree, nt = task->n_trees, ns = task->n_shards;
    cohort__rf__task__free_unpacked(task, NULL);
    uint32_t global = w->by_file ? (uint32_t)w->env->worker : shard;
    if (ns == 0 || global >= ns || nt > S_MAX_TREES || (uint64_t)first + nt > UINT32_MAX) {
        return ch_err_set(err, CH_EPROTO, "random_forest: task for shard %u of %u, %u trees",
                          global, ns, nt);
    }
    const ch_plan *plan = w->env->plan;
    if (shard >= plan->n_shards) {
        return ch_err_set(err, CH_EPROTO, "random_forest: shard %u out of range", shard);
    }
    const size_t *rows = w->rows;
    size_t n_rows = w->n_rows;
    size_t *own = NULL;
    double cw_own[RF_MAX_CLASSES];
    const double *cw = w->cw;
    if (!w->all_rows) {
        size_t lo = ch_plan_shard_begin(plan, shard), hi = ch_plan_shard_end(plan, shard);
        own = s_usable_rows(w->env->train, plan->rows + lo, hi - lo, w->K, &n_rows);
        if (!own) {
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        qsort(own, n_rows, sizeof *own, s_cmp_size);
        rows = own;
        s_class_weights(w, own, n_rows, cw_own);
        cw = cw_own;
    }
    rf_grow_data d = {
        .bins = w->bins,
        .table = w->env->train,
        .p = &w->p,
        .n_classes = w->K,
        .rows = rows,
        .n_rows = n_rows,
        .class_weight = w->K && w->p.cw != RF_CW_NONE ? cw : NULL,
        .seed = w->env->seed,
    };
    size_t mine = 0;
    for (uint32_t t = first; t < first + nt; t++) {
        mine += (t - first) % ns == global;
    }
    rf_tree **trees = calloc(mine ? mine : 1, sizeof *trees);
    Cohort__Rf__Tree *tm = calloc(mine ? mine : 1, sizeof *tm);
    Cohort__Rf__Tree **tp = calloc(mine ? mine : 1, sizeof *tp);
    int rc = trees && tm && tp ? 0 : ch_err_set(err, CH_ENOMEM, "out of memory");
    size_t k = 0;
    if (rc == 0 && n_rows == 0 && mine) {
        rc = ch_err_set(err, CH_EINVAL, "shard %u has no training rows to grow trees on", global);
    }
    for (uint32_t t = first; t < first + nt && rc == 0; t++) {
        if ((t - first) % ns != global) {
            continue;
        }
        trees[k] = rf_grow(&d, t, err);
        if (!trees[k]) {
            rc = err->code ? err->code : CH_EINVAL;
            break;
        }
        rc = rf_tree_to_pb(trees[k], &tm[k]) ? ch_err_set(err, CH_ENOMEM, "out of memory") : 0;
        tp[k] = &tm[k];
        k++;
    }
    if (rc == 0) {
        Cohort__Rf__Update u = COHORT__RF__UPDATE__INIT;
        u.version = 1;
        u.n_trees = k;
        u.trees = tp;
        size_t size = cohort__rf__update__get_packed_size(&u);
        rc = ch_buf_reserve(out, size);
        if (rc == 0) {
            cohort__rf__update__pack(&u, out->data + out->len);
            out->len += size;
        } else {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory packing %zu trees", k);
        }
    }
    for (size_t i = 0; i < k; i++) {
        free(tm[i].missing_left);
        rf_tree_destroy(&trees[i]);
    }
    free(trees);
    free(tm);
    free(tp);
    free(own);
    *samples = n_rows;
    return rc;
}

/* --- model ------------------------------------------------------------------ */

static ch_output_kind s_output_kind(const void *model)
{
    const rf_forest *f = model;
    return f->n_classes ? CH_OUT_PROBABILITIES : CH_OUT_REGRESSION;
}

static size_t s_n_outputs(const void *model)
{
    const rf_forest *f = model;
    return f->n_values;
}

static int s_predict(const void *model, const ch_table *t, double *out, ch_err *err)
{
    return rf_forest_predict(model, t, out, err);
}

static int s_pack(const void *model, ch_buf *out, ch_err *err)
{
    return rf_forest_pack(model, out, err);
}

static void *s_unpack(const uint8_t *data, size_t len, const ch_schema *schema, ch_err *err)
{
    return rf_forest_unpack(data, len, schema, err);
}

static void s_model_destroy(void **pm)
{
    rf_forest_destroy((rf_forest **)pm);
}

/* Feature indices by decreasing value (NaN last). */
static size_t *s_rank(const double *v, size_t n)
{
    size_t *idx = calloc(n ? n : 1, sizeof *idx);
    if (!idx) {
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        idx[i] = i;
    }
    for (size_t i = 1; i < n; i++) {
        size_t x = idx[i];
        size_t j = i;
        while (j > 0 && (v[idx[j - 1]] < v[x] || (isnan(v[idx[j - 1]]) && !isnan(v[x])))) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = x;
    }
    return idx;
}

static int s_summary_json(const void *model, ch_buf *j)
{
    const rf_forest *f = model;
    ch_buf_puts(j, ",\n  \"oob_score\": ");
    ch_buf_json_num(j, f->oob_score);
    ch_buf_printf(j, ",\n  \"n_trees\": %zu", f->n_trees);
    double nodes = 0;
    for (size_t t = 0; t < f->n_trees; t++) {
        nodes += (double)f->trees[t]->n_nodes;
    }
    ch_buf_puts(j, ",\n  \"mean_nodes\": ");
    ch_buf_json_num(j, f->n_trees ? nodes / (double)f->n_trees : 0);
    ch_buf_puts(j, ",\n  \"importance\": [");
    size_t *idx = s_rank(f->imp, f->n_features);
    for (size_t k = 0; idx && k < f->n_features; k++) {
        size_t i = idx[k];
        ch_buf_puts(j, k ? ",\n    {\"name\": " : "\n    {\"name\": ");
        ch_buf_json_str(j, f->names[i]);
        ch_buf_puts(j, ", \"impurity\": ");
        ch_buf_json_num(j, f->imp[i]);
        if (f->perm) {
            ch_buf_puts(j, ", \"permutation\": ");
            ch_buf_json_num(j, f->perm[i]);
            ch_buf_puts(j, ", \"permutation_std\": ");
            ch_buf_json_num(j, f->perm_std[i]);
        }
        ch_buf_puts(j, "}");
    }
    free(idx);
    ch_buf_puts(j, "\n  ]");
    return j->failed ? CH_ENOMEM : 0;
}

static int s_describe(const void *model, ch_buf *text)
{
    const rf_forest *f = model;
    ch_buf_printf(text, "random forest: %zu trees, criterion %s, %s\n", f->n_trees,
                  rf_criterion_name(f->criterion), f->n_classes ? "classification" : "regression");
    if (!isnan(f->oob_score)) {
        ch_buf_printf(text, "out-of-bag %s: %.6g\n", f->n_classes ? "accuracy" : "R^2",
                      f->oob_score);
    }
    ch_buf_puts(text, "impurity importance:\n");
    size_t *idx = s_rank(f->imp, f->n_features);
    for (size_t k = 0; idx && k < f->n_features && k < 30; k++) {
        ch_buf_printf(text, "  %-32.32s %.6f\n", f->names[idx[k]], f->imp[idx[k]]);
    }
    free(idx);
    return text->failed ? CH_ENOMEM : 0;
}

/* Bar chart of the top 20 values of v. */
static int s_bars(ch_report *r, const rf_forest *f, const double *v, const char *title,
                  const char *label)
{
    size_t *idx = s_rank(v, f->n_features);
    size_t n = f->n_features < 20 ? f->n_features : 20;
    const char **labels = calloc(n ? n : 1, sizeof *labels);
    double *vals = calloc(n ? n : 1, sizeof *vals);
    int rc = 0;
    if (!idx || !labels || !vals) {
        rc = CH_ENOMEM;
    } else {
        for (size_t k = 0; k < n; k++) {
            labels[k] = f->names[idx[k]];
            vals[k] = v[idx[k]];
        }
        ch_svg_bar_opts o = {.title = title, .value_label = label, .highlight = -1};
        rc = ch_report_bar_chart(r, &o, labels, vals, n);
    }
    free(idx);
    free(labels);
    free(vals);
    return rc;
}

static int s_report(const void *model, ch_report *r, ch_err *err)
{
    const rf_forest *f = model;
    char v[4][64];
    double depth_leaves = 0;
    for (size_t t = 0; t < f->n_trees; t++) {
        depth_leaves += (double)(f->trees[t]->n_nodes + 1) / 2;
    }
    snprintf(v[0], sizeof v[0], "%zu", f->n_trees);
    snprintf(v[1], sizeof v[1], "%s", rf_criterion_name(f->criterion));
    snprintf(v[2], sizeof v[2], "%.1f", f->n_trees ? depth_leaves / (double)f->n_trees : 0);
    if (isnan(f->oob_score)) {
        snprintf(v[3], sizeof v[3], "not computed");
    } else {
        snprintf(v[3], sizeof v[3], "%.4f", f->oob_score);
    }
    const char *keys[] = {"trees", "criterion", "mean leaves per tree",
                          f->n_classes ? "out-of-bag accuracy" : "out-of-bag R^2"};
    const char *vals[] = {v[0], v[1], v[2], v[3]};
    ch_report_section(r, "Random forest");
    int rc = ch_report_kv(r, keys, vals, 4);
    if (rc == 0 && f->n_curve) {
        double *x = malloc(f->n_curve * sizeof *x);
        if (!x) {
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        for (size_t k = 0; k < f->n_curve; k++) {
            x[k] = f->oob_curve_trees[k];
        }
        ch_svg_series s = {.name = "oob_error", .x = x, .y = f->oob_curve, .n = f->n_curve};
        ch_svg_line_opts o = {.title = "Out-of-bag error against the number of trees",
                              .x_label = "trees",
                              .y_label = f->n_classes ? "misclassification rate" : "MSE"};
        rc = ch_report_line_chart(r, &o, &s, 1);
        free(x);
    }
    if (rc == 0) {
        ch_report_section(r, "Feature importance");
        rc = s_bars(r, f, f->imp, "Impurity importance (mean decrease in impurity)",
                    "share of the decrease");
    }
    if (rc == 0 && f->perm) {
        char title[96];
        snprintf(title, sizeof title, "Permutation importance on %s rows",
                 f->perm_rows[0] ? f->perm_rows : "held-out");
        rc = s_bars(r, f, f->perm, title, f->n_classes ? "drop in accuracy" : "drop in R^2");
    }
    if (rc == 0 && f->confusion) {
        size_t K = f->n_classes;
        ch_report_section(r, "Confusion matrix");
        char cap[128];
        snprintf(cap, sizeof cap, "Rows: true class; columns: predicted class (%s rows).",
                 strcmp(f->confusion_rows, "oob") == 0 ? "out-of-bag" : "test");
        ch_report_paragraph(r, cap);
        const char **header = calloc(K + 1, sizeof *header);
        char **cells = calloc((K + 1) * K, sizeof *cells);
        if (!header || !cells) {
            free(header);
            free(cells);
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        header[0] = "true \\ predicted";
        for (size_t c = 0; c < K; c++) {
            header[c + 1] = f->classes[c];
        }
        for (size_t a = 0; a < K; a++) {
            cells[a * (K + 1)] = strdup(f->classes[a]);
            for (size_t b = 0; b < K; b++) {
                char buf[32];
                snprintf(buf, sizeof buf, "%llu", (unsigned long long)f->confusion[a * K + b]);
                cells[a * (K + 1) + b + 1] = strdup(buf);
            }
        }
        rc = ch_report_table(r, header, K + 1, (const char *const *)cells, K, -1);
        for (size_t i = 0; i < (K + 1) * K; i++) {
            free(cells[i]);
        }
        free(cells);
        free(header);
    }
    return rc ? ch_err_set(err, rc, "out of memory drawing the forest report") : 0;
}

const ch_algo ch_algo_random_forest = {
    .name = "random_forest",
    .summary = "random forest (CART, bagging), tree-parallel across workers, same bytes for any "
               "worker count",
    .needs_target = true,
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
    .output_kind = s_output_kind,
    .n_outputs = s_n_outputs,
    .predict = s_predict,
    .pack = s_pack,
    .unpack = s_unpack,
    .summary_json = s_summary_json,
    .describe = s_describe,
    .report = s_report,
    .model_destroy = s_model_destroy,
};
