/* gbt.c: gradient-boosted trees behind the algorithm interface.
 *
 * Round 0 sketches: every shard sends per-feature value summaries of a
 * sample of its rows (chosen by a hash of the row's place in the fixed block
 * order), the coordinator merges them into quantile cuts. Then one round
 * per tree level (depthwise): the task carries the cuts, the finished trees
 * and the tree being grown; workers bring their margins up to date, build
 * int64 fixed-point gradient histograms of the smaller child of every split
 * and send them; the coordinator sums them, subtracts for the siblings,
 * picks the splits with XGBoost's gain and grows the tree. Every task is
 * self-contained, so a lost shard is recomputed anywhere, and integer sums
 * make the model the same bytes for any number of workers. */
#include "algorithms/algo.h"
#include "algorithms/gbt/gbt.h"
#include "common/fsutil.h"
#include "common/rng.h"
#include "proto/gbt.pb-c.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OP_SKETCH = 1, OP_GROW = 2 };

/* Rows sampled for the quantile sketch (all rows below this count). */
#define S_SKETCH_ROWS 262144.0

static const char *const s_train_keys[] = {"train_rmse",  "train_mae",   "train_logloss",
                                           "train_auc",   "train_error", "train_mlogloss",
                                           "train_merror"};
static const char *const s_valid_keys[] = {"valid_rmse",  "valid_mae",   "valid_logloss",
                                           "valid_auc",   "valid_error", "valid_mlogloss",
                                           "valid_merror"};

/* --- parameters ------------------------------------------------------------ */

static int s_params(ch_config *cfg, const ch_schema *schema, ch_gbt_params *p, ch_err *err)
{
    memset(p, 0, sizeof *p);
    size_t n_classes = 0;
    if (schema && schema->target.kind == CH_COL_CATEGORICAL) {
        n_classes = schema->target.n_levels;
    }
    const char *def_obj = n_classes > 2    ? "multi:softprob"
                          : n_classes == 2 ? "binary:logistic"
                                           : "reg:squarederror";
    int obj = 0, met = 0, grow = 0;
    long num_class = 0, max_leaves = 0;
    static const char *const grow_names[] = {"depthwise", "lossguide", NULL};
    int rc;
    if ((rc = ch_cfg_enum(cfg, "model.objective", def_obj, ch_gbt_objective_names, &obj, err))) {
        return rc;
    }
    p->objective = (ch_gbt_objective)obj;
    static const char *const def_met[] = {"rmse", "rmse", "logloss", "mlogloss", "mlogloss"};
    if ((rc = ch_cfg_int(cfg, "model.rounds", 10, 1, 100000, &p->rounds, err)) ||
        (rc = ch_cfg_num(cfg, "model.eta", 0.3, 0, 1, &p->eta, err)) ||
        (rc = ch_cfg_int(cfg, "model.max_depth", 6, 1, 30, &p->max_depth, err)) ||
        (rc = ch_cfg_int(cfg, "model.max_leaves", 0, 0, 1 << 30, &max_leaves, err)) ||
        (rc = ch_cfg_enum(cfg, "model.grow_policy", "depthwise", grow_names, &grow, err)) ||
        (rc = ch_cfg_num(cfg, "model.lambda", 1, 0, HUGE_VAL, &p->lambda, err)) ||
        (rc = ch_cfg_num(cfg, "model.alpha", 0, 0, HUGE_VAL, &p->alpha, err)) ||
        (rc = ch_cfg_num(cfg, "model.gamma", 0, 0, HUGE_VAL, &p->gamma, err)) ||
        (rc = ch_cfg_num(cfg, "model.min_child_weight", 1, 0, HUGE_VAL, &p->min_child_weight,
                         err)) ||
        (rc = ch_cfg_num(cfg, "model.subsample", 1, 0, 1, &p->subsample, err)) ||
        (rc = ch_cfg_num(cfg, "model.colsample_bytree", 1, 0, 1, &p->colsample_bytree, err)) ||
        (rc = ch_cfg_num(cfg, "model.colsample_bynode", 1, 0, 1, &p->colsample_bynode, err)) ||
        (rc = ch_cfg_int(cfg, "model.max_bin", 256, 2, 256, &p->max_bin, err)) ||
        (rc = ch_cfg_num(cfg, "model.base_score", 0.5, -HUGE_VAL, HUGE_VAL, &p->base_score, err)) ||
        (rc = ch_cfg_num(cfg, "model.scale_pos_weight", 1, 0, HUGE_VAL, &p->scale_pos_weight,
                         err)) ||
        (rc = ch_cfg_num(cfg, "model.huber_slope", 1, 1e-12, HUGE_VAL, &p->huber_slope, err)) ||
        (rc = ch_cfg_int(cfg, "model.num_class", 0, 0, 1 << 20, &num_class, err)) ||
        (rc = ch_cfg_int(cfg, "model.early_stopping_rounds", 0, 0, 1 << 30,
                         &p->early_stopping_rounds, err)) ||
        (rc =
             ch_cfg_enum(cfg, "model.eval_metric", def_met[obj], ch_gbt_metric_names, &met, err))) {
        return rc;
    }
    p->eval_metric = (ch_gbt_metric)met;
    /* The sketch round sends each shard's distinct feature values with
     * their counts: not rows, but individual values. Silos keep them home
     * unless the config accepts that they leave. */
    bool share_sketch = false;
    const char *scheme = ch_config_peek(cfg, "partition.scheme");
    if ((rc = ch_cfg_bool(cfg, "model.share_sketch", false, &share_sketch, err))) {
        return rc;
    }
    if (scheme && strcmp(scheme, "by-file") == 0 && !share_sketch) {
        return ch_err_set(err, CH_EINVAL,
                          "%s: gbt with partition.scheme by-file would send every silo's "
                          "distinct feature values (not rows, but individual values) to the "
                          "coordinator for the quantile cuts; set model.share_sketch: true to "
                          "accept that, or use random_forest, whose silos send only trees",
                          ch_config_where(cfg, "partition.scheme"));
    }
    if (!(p->eta > 0)) {
        return ch_err_set(err, CH_EINVAL, "%s: model.eta must be in (0, 1], not 0",
                          ch_config_where(cfg, "model.eta"));
    }
    if (!(p->subsample > 0) || !(p->colsample_bytree > 0) || !(p->colsample_bynode > 0)) {
        return ch_err_set(err, CH_EINVAL,
                          "%s: model.subsample and model.colsample_* must be in (0, 1]",
                          ch_config_where(cfg, "model"));
    }
    if (grow != 0 || max_leaves != 0) {
        return ch_err_set(err, CH_EINVAL,
                          "%s: model.grow_policy lossguide and model.max_leaves are not "
                          "implemented yet; use depthwise with max_depth",
                          ch_config_where(cfg, "model.grow_policy"));
    }
    bool multi = p->objective == CH_GBT_SOFTMAX || p->objective == CH_GBT_SOFTPROB;
    if (schema) {
        if (multi && n_classes == 0) {
            /* a numeric target of class codes 0..num_class-1 (IDX labels) */
            if (num_class < 2) {
                return ch_err_set(err, CH_EINVAL,
                                  "%s: %s on the numeric target '%s' needs model.num_class "
                                  "(its values are class codes 0..num_class-1)",
                                  ch_config_where(cfg, "model.objective"),
                                  ch_gbt_objective_names[obj], schema->target.name);
            }
            n_classes = (size_t)num_class;
        }
        if (p->objective == CH_GBT_LOGISTIC && n_classes > 2) {
            return ch_err_set(err, CH_EINVAL,
                              "%s: binary:logistic needs two classes, and '%s' has %zu (use "
                              "multi:softprob)",
                              ch_config_where(cfg, "model.objective"), schema->target.name,
                              n_classes);
        }
        if (!multi && p->objective != CH_GBT_LOGISTIC && n_classes > 0) {
            return ch_err_set(err, CH_EINVAL,
                              "%s: %s needs a numeric target, and '%s' is categorical",
                              ch_config_where(cfg, "model.objective"), ch_gbt_objective_names[obj],
                              schema->target.name);
        }
        if (num_class != 0 && (size_t)num_class != (multi ? n_classes : 1)) {
            return ch_err_set(
                err, CH_EINVAL, "%s: model.num_class is %ld but the target '%s' has %zu classes",
                ch_config_where(cfg, "model.num_class"), num_class, schema->target.name, n_classes);
        }
        if (schema->n_features == 0) {
            return ch_err_set(err, CH_EINVAL, "gbt needs at least one feature column");
        }
    }
    if (p->objective == CH_GBT_LOGISTIC && !(p->base_score > 0 && p->base_score < 1)) {
        return ch_err_set(err, CH_EINVAL, "%s: model.base_score must be in (0, 1) for logistic",
                          ch_config_where(cfg, "model.base_score"));
    }
    bool mclass_metric = p->eval_metric == CH_GBT_MLOGLOSS || p->eval_metric == CH_GBT_MERROR;
    bool bin_metric = p->eval_metric == CH_GBT_LOGLOSS || p->eval_metric == CH_GBT_AUC ||
                      p->eval_metric == CH_GBT_ERROR;
    if ((multi && !mclass_metric) || (!multi && mclass_metric) ||
        (bin_metric && p->objective != CH_GBT_LOGISTIC)) {
        return ch_err_set(err, CH_EINVAL, "%s: eval_metric %s does not fit objective %s",
                          ch_config_where(cfg, "model.eval_metric"),
                          ch_gbt_metric_names[p->eval_metric], ch_gbt_objective_names[obj]);
    }
    p->n_classes = n_classes;
    p->n_groups = multi ? n_classes : 1;
    return 0;
}

static int s_configure(ch_config *cfg, const ch_schema *schema, ch_err *err)
{
    ch_gbt_params p;
    return s_params(cfg, schema, &p, err);
}

static int s_estimate(ch_config *cfg, const ch_schema *schema, size_t n_rows, size_t n_workers,
                      size_t n_blocks, ch_estimate *out)
{
    ch_gbt_params p;
    (void)n_blocks;
    if (s_params(cfg, schema, &p, NULL) != 0) {
        return CH_EINVAL;
    }
    double F = (double)schema->n_features, hl = F * (double)(p.max_bin + 1) * 16;
    double rows = (double)n_rows / (double)(n_workers ? n_workers : 1);
    double nodes = pow(2, (double)p.max_depth - 2) + 1;
    out->worker_bytes = rows * (F + 44.0 * (double)p.n_groups) + hl;
    /* dense upper bound; the encoding drops empty slots */
    out->message_bytes = nodes * hl * (double)p.n_groups;
    out->flops = (double)n_rows * F * (double)p.n_groups;
    out->rounds = 1 + (double)p.rounds * (double)p.max_depth;
    return 0;
}

/* --- model wrapper ------------------------------------------------------------ */

typedef struct s_model {
    ch_gbt_model m;
    char **names; /* feature names, owned */
} s_model;

static void s_model_destroy(void **pm)
{
    if (!pm || !*pm) {
        return;
    }
    s_model *md = *pm;
    ch_gbt_model_free(&md->m);
    if (md->names) {
        for (size_t f = 0; md->names[f]; f++) {
            free(md->names[f]);
        }
    }
    free(md->names);
    free(md);
    *pm = NULL;
}

static char **s_names(const ch_schema *schema)
{
    char **names = calloc(schema->n_features + 1, sizeof *names);
    for (size_t f = 0; names && f < schema->n_features; f++) {
        names[f] = strdup(schema->features[f].name);
        if (!names[f]) {
            for (size_t g = 0; g < f; g++) {
                free(names[g]);
            }
            free(names);
            return NULL;
        }
    }
    return names;
}

/* --- coordinator ------------------------------------------------------------------ */

/* A node of the level being built: the workers build the histogram of
 * `small`; below the root, `large` is its sibling, whose histogram is the
 * parent's (kept encoded) minus the built one. */
typedef struct s_entry {
    uint32_t tree;
    int32_t small, large; /* large -1 at a root */
    uint8_t *parent_enc;  /* owned, ch_gbt_hist_encode form */
    size_t parent_len;
} s_entry;

typedef struct s_level {
    s_entry *e;
    size_t n, cap;
} s_level;

typedef struct s_coord {
    ch_gbt_params p;
    size_t F, K;
    uint64_t seed;
    const ch_schema *schema;
    const ch_table *train, *test;
    const char *run_dir; /* DIR/xgboost.json goes here (NULL: not written) */
    size_t n_train;
    bool sketched, done, stopped;
    ch_gbt_cuts cuts;
    double sg, sh, g_bound, h_bound;
    uint64_t sample_threshold;
    ch_gbt_forest forest;
    /* the K trees of the boosting round being grown, one level per round */
    uint32_t iter;
    ch_gbt_tree *cur;   /* K */
    bool *use_tree;     /* K x F colsample_bytree masks */
    bool *use_node;     /* F scratch */
    s_level lev, next;  /* entries of this level; of the next while expanding */
    uint8_t *enc;       /* CH_GBT_HIST_MAX_ENC(HL) scratch */
    uint64_t *acc;      /* 2 HL scratch: the built child */
    int64_t *par, *sib; /* 2 HL scratch each */
    /* what the workers hold (from their last answers) */
    uint32_t send_from;
    bool send_cuts;
    /* evaluation */
    double *m_train, *m_test; /* margins, n x K */
    double *train_curve, *valid_curve, *auc_curve;
    size_t n_curve;
    int32_t best_iter;
    double best_score;
} s_coord;

static void s_level_clear(s_level *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->e[i].parent_enc);
    }
    l->n = 0;
}

/* Appends an entry (taking parent_enc); 0 or CH_ENOMEM. */
static int s_level_push(s_level *l, s_entry e)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64, bytes;
        s_entry *ne = NULL;
        if (ch_mul_size(cap, sizeof *ne, &bytes) == 0) {
            ne = realloc(l->e, bytes);
        }
        if (!ne) {
            free(e.parent_enc);
            return CH_ENOMEM;
        }
        l->e = ne;
        l->cap = cap;
    }
    l->e[l->n++] = e;
    return 0;
}

static void s_coord_destroy(void **pst)
{
    if (!pst || !*pst) {
        return;
    }
    s_coord *st = *pst;
    s_level_clear(&st->lev);
    s_level_clear(&st->next);
    free(st->lev.e);
    free(st->next.e);
    for (size_t k = 0; st->cur && k < st->K; k++) {
        ch_gbt_tree_free(&st->cur[k]);
    }
    free(st->cur);
    free(st->use_tree);
    free(st->use_node);
    free(st->enc);
    free(st->acc);
    free(st->par);
    free(st->sib);
    ch_gbt_forest_free(&st->forest);
    ch_gbt_cuts_free(&st->cuts);
    free(st->m_train);
    free(st->m_test);
    free(st->train_curve);
    free(st->valid_curve);
    free(st->auc_curve);
    free(st);
    *pst = NULL;
}

/* Features a tree or node may split on: a k-of-n choice from a stream. */
static void s_sample_features(bool *use, const bool *from, size_t F, double frac, uint64_t seed,
                              uint64_t stream)
{
    size_t n = 0;
    for (size_t f = 0; f < F; f++) {
        n += from ? from[f] : 1;
    }
    size_t k = (size_t)llround(frac * (double)n);
    k = k < 1 ? 1 : k;
    if (k >= n) {
        for (size_t f = 0; f < F; f++) {
            use[f] = from ? from[f] : true;
        }
        return;
    }
    size_t *idx = malloc(n * sizeof *idx);
    if (!idx) {
        for (size_t f = 0; f < F; f++) {
            use[f] = from ? from[f] : true;
        }
        return;
    }
    size_t j = 0;
    for (size_t f = 0; f < F; f++) {
        if (!from || from[f]) {
            idx[j++] = f;
        }
        use[f] = false;
    }
    ch_rng r;
    ch_rng_init(&r, seed, stream);
    ch_rng_shuffle(&r, idx, n);
    for (size_t i = 0; i < k; i++) {
        use[idx[i]] = true;
    }
    free(idx);
}

/* The random stream of the tree of class k in the current round. */
static uint64_t s_tree_stream(const s_coord *st, size_t k)
{
    return ch_rng_stream(CH_STREAM_TREE, (uint64_t)st->iter * st->K + k);
}

/* New trees for round iter, one per class: just the roots, whose
 * histograms are built. */
static int s_start_round(s_coord *st, ch_err *err)
{
    s_level_clear(&st->lev);
    s_level_clear(&st->next);
    for (size_t k = 0; k < st->K; k++) {
        ch_gbt_tree_free(&st->cur[k]);
        st->cur[k].class_index = (uint32_t)k;
        if (ch_gbt_tree_add(&st->cur[k], 0, 0, 0) < 0 ||
            s_level_push(&st->lev, (s_entry){(uint32_t)k, 0, -1, NULL, 0}) != 0) {
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        s_sample_features(st->use_tree + k * st->F, NULL, st->F, st->p.colsample_bytree, st->seed,
                          s_tree_stream(st, k));
    }
    return 0;
}

static void *s_coord_new(const ch_coord_env *env, ch_err *err)
{
    s_coord *st = calloc(1, sizeof *st);
    if (!st) {
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    if (s_params(env->cfg, env->schema, &st->p, err) != 0) {
        free(st);
        return NULL;
    }
    st->F = env->schema->n_features;
    st->K = st->p.n_groups;
    st->seed = env->seed;
    st->schema = env->schema;
    st->run_dir = env->run_dir;
    st->train = env->train;
    st->test = env->test && env->test->has_target && env->test->n_rows ? env->test : NULL;
    st->n_train = env->n_train;
    st->send_cuts = true;
    double rate = S_SKETCH_ROWS / (double)(env->n_train ? env->n_train : 1);
    st->sample_threshold = rate >= 1 ? UINT64_MAX : (uint64_t)(rate * 18446744073709551616.0);
    size_t rounds = (size_t)st->p.rounds;
    st->cur = calloc(st->K, sizeof *st->cur);
    st->use_tree = ch_calloc_array(st->K, st->F * sizeof *st->use_tree);
    st->use_node = calloc(st->F, sizeof *st->use_node);
    st->train_curve = malloc(rounds * sizeof(double));
    st->valid_curve = malloc(rounds * sizeof(double));
    st->auc_curve = malloc(rounds * sizeof(double));
    if (st->train) {
        st->m_train = ch_alloc_array(st->train->n_rows * st->K, sizeof(double));
    }
    if (st->test) {
        st->m_test = ch_alloc_array(st->test->n_rows * st->K, sizeof(double));
    }
    if (!st->cur || !st->use_tree || !st->use_node || !st->train_curve || !st->valid_curve ||
        !st->auc_curve || (st->train && !st->m_train) || (st->test && !st->m_test)) {
        void *v = st;
        s_coord_destroy(&v);
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    double bm = ch_gbt_base_margin(&st->p);
    for (size_t i = 0; st->train && i < st->train->n_rows * st->K; i++) {
        st->m_train[i] = bm;
    }
    for (size_t i = 0; st->test && i < st->test->n_rows * st->K; i++) {
        st->m_test[i] = bm;
    }
    st->best_iter = -1;
    st->best_score = NAN;
    return st;
}

/* Scratch for one histogram, once the cuts are known. */
static int s_coord_scratch(s_coord *st, ch_err *err)
{
    size_t HL = st->cuts.hoff[st->F];
    free(st->enc);
    free(st->acc);
    free(st->par);
    free(st->sib);
    st->enc = malloc(CH_GBT_HIST_MAX_ENC(HL));
    st->acc = ch_alloc_array(HL, 2 * sizeof *st->acc);
    st->par = ch_alloc_array(HL, 2 * sizeof *st->par);
    st->sib = ch_alloc_array(HL, 2 * sizeof *st->sib);
    if (!st->enc || !st->acc || !st->par || !st->sib) {
        return ch_err_set(err, CH_ENOMEM, "out of memory for histograms of %zu slots", HL);
    }
    return 0;
}

/* Packs one task for this round: the cuts only when a worker lacks them,
 * the finished trees from the first one some worker lacks. */
static int s_next_task(void *vst, uint32_t round, uint32_t *op, ch_buf *payload, ch_err *err)
{
    s_coord *st = vst;
    (void)round;
    if (st->done) {
        return 1;
    }
    Cohort__Gbt__Task task = COHORT__GBT__TASK__INIT;
    Cohort__Gbt__Cuts cuts;
    size_t K = st->K, n_done = 0, n_grow = 0, nb = st->lev.n;
    Cohort__Gbt__Tree *done = NULL, **donep = NULL, *grow = NULL, **growp = NULL;
    int32_t *build = NULL;
    uint32_t *build_tree = NULL;
    int rc = 0;
    if (!st->sketched) {
        *op = OP_SKETCH;
        task.sample_threshold = st->sample_threshold;
    } else {
        *op = OP_GROW;
        if (st->send_cuts) {
            ch_gbt_cuts_to_pb(&st->cuts, &cuts);
            task.cuts = &cuts;
        }
        task.scale_g = st->sg;
        task.scale_h = st->sh;
        task.g_bound = st->g_bound;
        task.h_bound = st->h_bound;
        task.iteration = st->iter;
        size_t total = (size_t)st->iter * K;
        size_t from = st->send_from < total ? st->send_from : total;
        n_done = total - from;
        task.first_done = (uint32_t)from;
        done = calloc(n_done + 1, sizeof *done);
        donep = calloc(n_done + 1, sizeof *donep);
        grow = calloc(K, sizeof *grow);
        growp = calloc(K, sizeof *growp);
        build = calloc(nb + 1, sizeof *build);
        build_tree = calloc(nb + 1, sizeof *build_tree);
        if (!done || !donep || !grow || !growp || !build || !build_tree) {
            rc = CH_ENOMEM;
            n_done = 0;
        }
        for (size_t i = 0; rc == 0 && i < n_done; i++) {
            rc = ch_gbt_tree_to_pb(&st->forest.trees[from + i], &done[i]);
            donep[i] = &done[i];
            if (rc != 0) {
                n_done = i;
            }
        }
        for (size_t k = 0; rc == 0 && k < K; k++) {
            rc = ch_gbt_tree_to_pb(&st->cur[k], &grow[k]);
            growp[k] = &grow[k];
            n_grow = rc == 0 ? k + 1 : k;
        }
        for (size_t j = 0; rc == 0 && j < nb; j++) {
            build[j] = st->lev.e[j].small;
            build_tree[j] = st->lev.e[j].tree;
        }
        task.n_done = n_done;
        task.done = donep;
        task.n_growing = n_grow;
        task.growing = growp;
        task.n_build = nb;
        task.build = build;
        task.n_build_tree = nb;
        task.build_tree = build_tree;
    }
    if (rc == 0) {
        size_t size = cohort__gbt__task__get_packed_size(&task);
        rc = ch_buf_reserve(payload, size);
        if (rc == 0) {
            cohort__gbt__task__pack(&task, payload->data + payload->len);
            payload->len += size;
        }
    }
    for (size_t i = 0; done && i < n_done; i++) {
        ch_gbt_tree_pb_free(&done[i]);
    }
    for (size_t k = 0; grow && k < n_grow; k++) {
        ch_gbt_tree_pb_free(&grow[k]);
    }
    free(done);
    free(donep);
    free(grow);
    free(growp);
    free(build);
    free(build_tree);
    return rc ? ch_err_set(err, rc, "out of memory") : 0;
}

/* Round 0: merge the shards' summaries into cuts and fix the scales. */
static int s_aggregate_sketch(s_coord *st, const ch_update *ups, size_t n, ch_err *err)
{
    size_t F = st->F;
    Cohort__Gbt__Sketch **sk = calloc(n ? n : 1, sizeof *sk);
    ch_gbt_summary *parts = calloc((n ? n : 1) * F, sizeof *parts);
    ch_gbt_summary *merged = calloc(F, sizeof *merged);
    bool *has_missing = calloc(F, sizeof *has_missing);
    int rc = (!sk || !parts || !merged || !has_missing)
                 ? ch_err_set(err, CH_ENOMEM, "out of memory")
                 : 0;
    double y_min = HUGE_VAL, y_max = -HUGE_VAL, w_max = 0;
    uint64_t n_rows = 0, bad = 0;
    uint32_t bad_shard = 0;
    double first_bad = 0;
    for (size_t s = 0; rc == 0 && s < n; s++) {
        sk[s] = cohort__gbt__sketch__unpack(NULL, ups[s].state_len, ups[s].state);
        if (!sk[s] || sk[s]->n_n_distinct != F || sk[s]->n_n_missing != F ||
            sk[s]->n_values != sk[s]->n_counts) {
            rc = ch_err_set(err, CH_EPROTO, "gbt: the sketch of shard %u does not decode",
                            ups[s].shard);
            break;
        }
        if (sk[s]->bad_labels) {
            if (bad == 0) {
                bad_shard = ups[s].shard;
                first_bad = sk[s]->first_bad;
            }
            bad += sk[s]->bad_labels;
        }
        size_t off = 0;
        for (size_t f = 0; f < F; f++) {
            size_t k = sk[s]->n_distinct[f];
            if (k > sk[s]->n_values - off) {
                rc = ch_err_set(err, CH_EPROTO, "gbt: the sketch of shard %u is truncated",
                                ups[s].shard);
                break;
            }
            ch_gbt_summary *pt = &parts[f * n + s];
            pt->n = k;
            pt->values = sk[s]->values + off;
            pt->counts = sk[s]->counts + off;
            for (size_t i = 1; i < k; i++) {
                if (!(pt->values[i] > pt->values[i - 1])) {
                    rc = ch_err_set(err, CH_EPROTO, "gbt: shard %u sent unsorted values",
                                    ups[s].shard);
                }
            }
            has_missing[f] |= sk[s]->n_missing[f] > 0;
            off += k;
        }
        if (sk[s]->n_rows) {
            y_min = sk[s]->y_min < y_min ? sk[s]->y_min : y_min;
            y_max = sk[s]->y_max > y_max ? sk[s]->y_max : y_max;
        }
        w_max = sk[s]->w_max > w_max ? sk[s]->w_max : w_max;
        n_rows += sk[s]->n_rows;
    }
    if (rc == 0 && bad) {
        const char *what = st->p.objective == CH_GBT_LOGISTIC ? "outside [0, 1] or not finite"
                           : st->K > 1                        ? "not a class of the target"
                                                              : "not finite";
        rc = ch_err_set(err, CH_EINVAL,
                        "gbt: %llu training labels are %s (the first in shard %u is %g); %s "
                        "needs labels that fit",
                        (unsigned long long)bad, what, bad_shard, first_bad,
                        ch_gbt_objective_names[st->p.objective]);
    }
    for (size_t f = 0; rc == 0 && f < F; f++) {
        if (ch_gbt_summary_merge(parts + f * n, n, &merged[f]) != 0) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        }
    }
    if (rc == 0 && ch_gbt_cuts_build(&st->cuts, merged, has_missing, F, st->p.max_bin) != 0) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    if (rc == 0 && n_rows == 0) {
        rc = ch_err_set(err, CH_EINVAL, "gbt: no training rows");
    }
    if (rc == 0) {
        ch_gbt_grad_bounds(&st->p, y_min, y_max, w_max, &st->g_bound, &st->h_bound);
        /* n * bound * scale <= 2^62: no sum of rows can overflow int64 */
        double lim = ldexp(1.0, 62) / (double)n_rows;
        st->sg = ldexp(1.0, (int)floor(log2(lim / st->g_bound)));
        st->sh = ldexp(1.0, (int)floor(log2(lim / st->h_bound)));
        st->sketched = true;
        rc = s_coord_scratch(st, err);
    }
    if (rc == 0) {
        rc = s_start_round(st, err);
    }
    for (size_t s = 0; sk && s < n; s++) {
        if (sk[s]) {
            cohort__gbt__sketch__free_unpacked(sk[s], NULL);
        }
    }
    for (size_t f = 0; merged && f < F; f++) {
        ch_gbt_summary_free(&merged[f]);
    }
    free(sk);
    free(parts);
    free(merged);
    free(has_missing);
    return rc;
}

/* Sets a node's leaf value. */
static void s_leaf(s_coord *st, ch_gbt_tree *tr, int32_t k)
{
    ch_gbt_node *nd = &tr->nodes[k];
    nd->value = st->p.eta * ch_gbt_weight(&st->p, nd->sum_g, nd->sum_h);
    nd->cover = nd->sum_h;
}

/* Adds the K new trees' leaves to the coordinator's margins. */
static void s_update_margins(s_coord *st, const ch_table *t, double *m, size_t first)
{
    for (size_t j = first; j < st->forest.n; j++) {
        const ch_gbt_tree *tr = &st->forest.trees[j];
        for (size_t i = 0; i < t->n_rows; i++) {
            m[i * st->K + tr->class_index] += tr->nodes[ch_gbt_tree_leaf_raw(tr, t, i)].value;
        }
    }
}

/* A finished round: metrics, curves, early stopping. */
static void s_end_iteration(s_coord *st, ch_round_metrics *m)
{
    size_t first = st->forest.n - st->K;
    ch_gbt_metric met = st->p.eval_metric;
    double tr = NAN, va = NAN, auc = NAN;
    if (st->train) {
        s_update_margins(st, st->train, st->m_train, first);
        tr = ch_gbt_eval(&st->p, met, st->m_train, st->train->target.values, st->train->weights,
                         st->train->n_rows);
        ch_round_metric(m, s_train_keys[met], tr);
    }
    if (st->test) {
        s_update_margins(st, st->test, st->m_test, first);
        va = ch_gbt_eval(&st->p, met, st->m_test, st->test->target.values, st->test->weights,
                         st->test->n_rows);
        ch_round_metric(m, s_valid_keys[met], va);
        if (st->p.objective == CH_GBT_LOGISTIC && met != CH_GBT_AUC) {
            auc = ch_gbt_eval(&st->p, CH_GBT_AUC, st->m_test, st->test->target.values, NULL,
                              st->test->n_rows);
            ch_round_metric(m, "valid_auc", auc);
        }
    }
    ch_round_metric(m, "trees", (double)st->forest.n);
    st->train_curve[st->n_curve] = tr;
    st->valid_curve[st->n_curve] = va;
    st->auc_curve[st->n_curve] = auc;
    st->n_curve++;
    double score = st->test ? va : tr;
    bool hb = ch_gbt_metric_higher_better(met);
    if (st->best_iter < 0 || isnan(st->best_score) ||
        (hb ? score > st->best_score : score < st->best_score)) {
        st->best_iter = (int32_t)st->iter;
        st->best_score = score;
    } else if (st->p.early_stopping_rounds > 0 &&
               (long)st->iter - st->best_iter >= st->p.early_stopping_rounds) {
        st->stopped = true;
    }
}

/* Splits node k of tree t from its histogram (or makes it a leaf); a split
 * whose children may split again queues the smaller child for the next
 * level, with this histogram kept encoded for the sibling. Nodes of a tree
 * are expanded in id order, as the old one-tree-per-round grower did. */
static int s_expand_node(s_coord *st, uint32_t t, int32_t k, const int64_t *hist, ch_err *err)
{
    size_t HL = st->cuts.hoff[st->F];
    ch_gbt_tree *tr = &st->cur[t];
    /* node totals: every row is in exactly one slot of feature 0 */
    int64_t tg = 0, th = 0;
    for (size_t b = 0; b <= st->cuts.n_bins[0]; b++) {
        tg += hist[2 * b];
        th += hist[2 * b + 1];
    }
    ch_gbt_node *nd = &tr->nodes[k];
    nd->sum_g = (double)tg / st->sg;
    nd->sum_h = (double)th / st->sh;
    s_sample_features(
        st->use_node, st->use_tree + t * st->F, st->F, st->p.colsample_bynode, st->seed,
        ch_rng_stream(CH_STREAM_ALGO + 1, s_tree_stream(st, t) * 1000003u + (uint64_t)k));
    ch_gbt_split sp =
        ch_gbt_split_find(&st->p, &st->cuts, hist, st->use_node, tg, th, st->sg, st->sh);
    s_leaf(st, tr, k);
    if (!sp.valid) {
        return 0;
    }
    int32_t depth = nd->depth + 1;
    double lg = (double)sp.left_g / st->sg, lh = (double)sp.left_h / st->sh;
    double rg = (double)(tg - sp.left_g) / st->sg, rh = (double)(th - sp.left_h) / st->sh;
    int32_t l = ch_gbt_tree_add(tr, depth, lg, lh);
    int32_t r = l >= 0 ? ch_gbt_tree_add(tr, depth, rg, rh) : -1;
    if (r < 0) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    nd = &tr->nodes[k];
    nd->left = l;
    nd->right = r;
    nd->feature = sp.feature;
    nd->split_bin = sp.split_bin;
    nd->threshold = sp.threshold;
    nd->default_left = sp.default_left;
    nd->gain = sp.gain;
    s_leaf(st, tr, l);
    s_leaf(st, tr, r);
    if (depth >= st->p.max_depth) {
        return 0;
    }
    /* build the child with the smaller hessian, subtract for the other */
    bool left_small = lh <= rh;
    size_t len = ch_gbt_hist_encode(hist, HL, st->enc);
    uint8_t *keep = malloc(len ? len : 1);
    if (!keep) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    memcpy(keep, st->enc, len);
    s_entry e = {t, left_small ? l : r, left_small ? r : l, keep, len};
    if (s_level_push(&st->next, e) != 0) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    return 0;
}

/* The K trees are done: into the forest, metrics, the next round. */
static int s_finish_round(s_coord *st, ch_round_metrics *m, ch_err *err)
{
    for (size_t k = 0; k < st->K; k++) {
        if (ch_gbt_forest_take(&st->forest, &st->cur[k]) != 0) {
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
    }
    s_end_iteration(st, m);
    st->iter++;
    if (st->stopped || st->iter >= (uint32_t)st->p.rounds) {
        st->done = true;
        return 0;
    }
    return s_start_round(st, err);
}

/* One level of every tree: sums each entry's encoded histograms over the
 * shards (exact int64 arithmetic modulo 2^64, so the order and the number
 * of shards do not matter), subtracts for the sibling, expands both. */
static int s_aggregate_grow(s_coord *st, const ch_update *ups, size_t n, ch_round_metrics *m,
                            ch_err *err)
{
    size_t HL = st->cuts.hoff[st->F];
    size_t nb = st->lev.n;
    Cohort__Gbt__Hist **h = calloc(n ? n : 1, sizeof *h);
    const uint8_t **cur = calloc(n ? n : 1, sizeof *cur);
    if (!h || !cur) {
        free(h);
        free(cur);
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    int rc = 0;
    bool need = false, lack_cuts = false;
    uint32_t have = UINT32_MAX;
    for (size_t s = 0; s < n && rc == 0; s++) {
        h[s] = cohort__gbt__hist__unpack(NULL, ups[s].state_len, ups[s].state);
        if (!h[s] || (!h[s]->need && h[s]->n_nodes != nb)) {
            rc = ch_err_set(err, CH_EPROTO, "gbt: the histograms of shard %u do not decode",
                            ups[s].shard);
            break;
        }
        need |= h[s]->need;
        lack_cuts |= !h[s]->have_cuts;
        have = h[s]->have_trees < have ? h[s]->have_trees : have;
        cur[s] = h[s]->data.data;
    }
    if (rc == 0) {
        st->send_cuts = lack_cuts;
        st->send_from = have == UINT32_MAX ? 0 : have;
    }
    /* a worker lacked the cuts or trees: the same level again, with them */
    for (size_t j = 0; rc == 0 && !need && j < nb; j++) {
        s_entry *e = &st->lev.e[j];
        memset(st->acc, 0, HL * 2 * sizeof *st->acc);
        for (size_t s = 0; s < n; s++) {
            const uint8_t *end = h[s]->data.data + h[s]->data.len;
            cur[s] = ch_gbt_hist_decode_add(st->acc, HL, cur[s], end);
            if (!cur[s]) {
                rc = ch_err_set(err, CH_EPROTO, "gbt: histogram %zu of shard %u is malformed", j,
                                ups[s].shard);
                break;
            }
        }
        const int64_t *built = (const int64_t *)st->acc;
        if (rc == 0 && e->large < 0) {
            rc = s_expand_node(st, e->tree, e->small, built, err);
        } else if (rc == 0) {
            memset(st->par, 0, HL * 2 * sizeof *st->par);
            if (!ch_gbt_hist_decode_add((uint64_t *)st->par, HL, e->parent_enc,
                                        e->parent_enc + e->parent_len)) {
                rc = ch_err_set(err, CH_EINTERNAL, "gbt: a kept histogram does not decode");
                break;
            }
            ch_gbt_hist_sub(st->sib, st->par, built, HL);
            bool small_first = e->small < e->large;
            rc = s_expand_node(st, e->tree, small_first ? e->small : e->large,
                               small_first ? built : st->sib, err);
            if (rc == 0) {
                rc = s_expand_node(st, e->tree, small_first ? e->large : e->small,
                                   small_first ? st->sib : built, err);
            }
        }
        free(e->parent_enc);
        e->parent_enc = NULL;
    }
    for (size_t s = 0; rc == 0 && !need && s < n; s++) {
        if (cur[s] != h[s]->data.data + h[s]->data.len) {
            rc = ch_err_set(err, CH_EPROTO, "gbt: shard %u sent extra histogram bytes",
                            ups[s].shard);
        }
    }
    for (size_t s = 0; s < n; s++) {
        if (h[s]) {
            cohort__gbt__hist__free_unpacked(h[s], NULL);
        }
    }
    free(h);
    free(cur);
    if (rc != 0 || need) {
        s_level_clear(&st->next);
        return rc;
    }
    s_level_clear(&st->lev);
    s_level tmp = st->lev;
    st->lev = st->next;
    st->next = tmp;
    if (st->lev.n == 0) {
        rc = s_finish_round(st, m, err);
    }
    return rc;
}

static int s_aggregate(void *vst, uint32_t round, uint32_t op, const ch_update *ups, size_t n,
                       ch_round_metrics *m, ch_err *err)
{
    s_coord *st = vst;
    (void)round;
    if (op == OP_SKETCH && !st->sketched) {
        return s_aggregate_sketch(st, ups, n, err);
    }
    if (op == OP_GROW && st->sketched && !st->done) {
        return s_aggregate_grow(st, ups, n, m, err);
    }
    return ch_err_set(err, CH_EINTERNAL, "gbt: unexpected op %u", op);
}

/* Importance totals over the kept trees. */
static int s_importance(ch_gbt_model *md)
{
    size_t F = md->n_features;
    md->imp_weight = calloc(F, sizeof(double));
    md->imp_gain = calloc(F, sizeof(double));
    md->imp_cover = calloc(F, sizeof(double));
    if (!md->imp_weight || !md->imp_gain || !md->imp_cover) {
        return CH_ENOMEM;
    }
    for (size_t t = 0; t < md->forest.n; t++) {
        const ch_gbt_tree *tr = &md->forest.trees[t];
        for (size_t k = 0; k < tr->n; k++) {
            const ch_gbt_node *nd = &tr->nodes[k];
            if (nd->left >= 0) {
                md->imp_weight[nd->feature] += 1;
                md->imp_gain[nd->feature] += nd->gain;
                md->imp_cover[nd->feature] += nd->cover;
            }
        }
    }
    return 0;
}

/* DIR/xgboost.json: the model for xgboost.Booster().load_model (export.c). */
static int s_write_xgboost(const s_model *md, const char *dir, ch_err *err)
{
    ch_buf b;
    ch_buf_init(&b);
    int rc = ch_gbt_export_xgboost(&md->m, (const char *const *)md->names, &b);
    char *path = ch_path_join(dir, "xgboost.json");
    if (rc || !path) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
    } else {
        rc = ch_write_file_atomic(path, b.data, b.len, err);
    }
    free(path);
    ch_buf_free(&b);
    return rc;
}

static void *s_finalize(void *vst, ch_err *err)
{
    s_coord *st = vst;
    s_model *md = calloc(1, sizeof *md);
    if (!md) {
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    ch_gbt_model *m = &md->m;
    m->p = st->p;
    m->n_features = st->F;
    m->base_margin = ch_gbt_base_margin(&st->p);
    m->best_iteration = st->best_iter;
    size_t keep = st->iter;
    if (st->p.early_stopping_rounds > 0 && st->best_iter >= 0) {
        keep = (size_t)st->best_iter + 1;
    }
    m->rounds = (uint32_t)keep;
    size_t keep_trees = keep * st->K;
    m->forest = st->forest;
    memset(&st->forest, 0, sizeof st->forest);
    while (m->forest.n > keep_trees) {
        ch_gbt_tree_free(&m->forest.trees[--m->forest.n]);
    }
    m->cuts = st->cuts;
    memset(&st->cuts, 0, sizeof st->cuts);
    m->sg = st->sg;
    m->sh = st->sh;
    m->n_curve = st->n_curve;
    m->train_curve = st->train_curve;
    m->valid_curve = st->valid_curve;
    st->train_curve = st->valid_curve = NULL;
    md->names = s_names(st->schema);
    if (!md->names || s_importance(m) != 0) {
        void *v = md;
        s_model_destroy(&v);
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    if (st->run_dir && s_write_xgboost(md, st->run_dir, err) != 0) {
        void *v = md;
        s_model_destroy(&v);
        return NULL;
    }
    return md;
}

/* Checkpoint at the start of the current boosting round. */
static int s_save(void *vst, ch_buf *out, ch_err *err)
{
    s_coord *st = vst;
    Cohort__Gbt__State s = COHORT__GBT__STATE__INIT;
    Cohort__Gbt__Model mpb;
    ch_gbt_model m;
    memset(&m, 0, sizeof m);
    m.p = st->p;
    m.n_features = st->F;
    m.base_margin = ch_gbt_base_margin(&st->p);
    m.best_iteration = st->best_iter;
    m.forest = st->forest;
    m.cuts = st->cuts;
    m.sg = st->sg;
    m.sh = st->sh;
    m.n_curve = st->n_curve;
    m.train_curve = st->train_curve;
    m.valid_curve = st->valid_curve;
    if (ch_gbt_model_to_pb(&m, &mpb) != 0) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    s.sketched = st->sketched;
    s.model = &mpb;
    s.iteration = st->iter;
    s.class_index = 0;
    s.best_score = st->best_score;
    s.stopped = st->stopped || st->done;
    s.g_bound = st->g_bound;
    s.h_bound = st->h_bound;
    size_t size = cohort__gbt__state__get_packed_size(&s);
    int rc = ch_buf_reserve(out, size);
    if (rc == 0) {
        cohort__gbt__state__pack(&s, out->data + out->len);
        out->len += size;
    }
    ch_gbt_model_pb_free(&mpb);
    return rc ? ch_err_set(err, rc, "out of memory") : 0;
}

static int s_load(void *vst, const uint8_t *data, size_t len, ch_err *err)
{
    s_coord *st = vst;
    Cohort__Gbt__State *s = cohort__gbt__state__unpack(NULL, len, data);
    if (!s || !s->model) {
        if (s) {
            cohort__gbt__state__free_unpacked(s, NULL);
        }
        return ch_err_set(err, CH_EINVAL, "gbt checkpoint does not decode");
    }
    ch_gbt_model m;
    int rc = ch_gbt_model_from_pb(s->model, st->F, st->p.n_classes, &m, err);
    if (rc == 0 && (m.n_curve > (size_t)st->p.rounds || s->iteration > st->p.rounds ||
                    m.forest.n != (size_t)s->iteration * st->K + s->class_index ||
                    (s->sketched && !m.cuts.n_bins))) {
        ch_gbt_model_free(&m);
        rc = ch_err_set(err, CH_EINVAL, "gbt checkpoint is inconsistent");
    }
    if (rc == 0) {
        ch_gbt_forest_free(&st->forest);
        st->forest = m.forest;
        ch_gbt_cuts_free(&st->cuts);
        st->cuts = m.cuts;
        st->sketched = s->sketched;
        st->sg = m.sg;
        st->sh = m.sh;
        st->g_bound = s->g_bound;
        st->h_bound = s->h_bound;
        st->iter = s->iteration;
        st->best_iter = m.best_iteration;
        st->best_score = s->best_score;
        st->done = s->stopped;
        st->n_curve = m.n_curve;
        memcpy(st->train_curve, m.train_curve, m.n_curve * sizeof(double));
        memcpy(st->valid_curve, m.valid_curve, m.n_curve * sizeof(double));
        for (size_t i = 0; i < m.n_curve; i++) {
            st->auc_curve[i] = NAN;
        }
        free(m.train_curve);
        free(m.valid_curve);
        free(m.imp_weight);
        free(m.imp_gain);
        free(m.imp_cover);
        /* trees of an unfinished round (older checkpoints) are regrown */
        while (st->forest.n > (size_t)st->iter * st->K) {
            ch_gbt_tree_free(&st->forest.trees[--st->forest.n]);
        }
        /* margins of the finished rounds */
        if (st->train) {
            s_update_margins(st, st->train, st->m_train, 0);
        }
        if (st->test) {
            s_update_margins(st, st->test, st->m_test, 0);
        }
        st->send_from = 0;
        st->send_cuts = true;
        if (st->sketched) {
            rc = s_coord_scratch(st, err);
        }
        if (rc == 0 && st->sketched && !st->done) {
            rc = s_start_round(st, err);
        }
    }
    cohort__gbt__state__free_unpacked(s, NULL);
    return rc;
}

/* --- worker ----------------------------------------------------------------------- */

/* What a worker keeps for one shard between rounds (rebuilt when a task
 * does not follow on from it). */
typedef struct s_shard {
    bool ready;
    size_t n;
    uint8_t *bins;    /* n x F, row-major */
    uint64_t *key;    /* the row's place: global block << 32 | position */
    double *y, *w;    /* w NULL without weights */
    double *margin;   /* n x K */
    size_t applied;   /* trees added to margin */
    int64_t *gq, *hq; /* K x n fixed-point gradients */
    long grad_for;    /* trees applied when gq/hq were computed (-1: none) */
    int32_t *pos;     /* K x n: node of each row in the round's trees */
    uint64_t pos_for; /* boosting round the positions are for (+1; 0 none) */
    int32_t *order;   /* scratch */
} s_shard;

typedef struct s_worker {
    const ch_worker_env *env;
    ch_gbt_params p;
    size_t F, K;
    s_shard *shards; /* plan->n_shards */
    ch_gbt_cuts cuts;
    bool have_cuts;
    ch_gbt_forest forest; /* the finished trees received so far, in order */
    int64_t *hist;        /* 2 HL scratch, kept zeroed */
    ch_buf enc;           /* the encoded histograms of a task */
} s_worker;

static void s_shard_free(s_shard *sh)
{
    free(sh->bins);
    free(sh->key);
    free(sh->y);
    free(sh->w);
    free(sh->margin);
    free(sh->gq);
    free(sh->hq);
    free(sh->pos);
    free(sh->order);
    memset(sh, 0, sizeof *sh);
}

static void s_worker_destroy(void **pw)
{
    if (!pw || !*pw) {
        return;
    }
    s_worker *w = *pw;
    for (size_t s = 0; w->shards && s < w->env->plan->n_shards; s++) {
        s_shard_free(&w->shards[s]);
    }
    free(w->shards);
    ch_gbt_cuts_free(&w->cuts);
    ch_gbt_forest_free(&w->forest);
    free(w->hist);
    ch_buf_free(&w->enc);
    free(w);
    *pw = NULL;
}

static void *s_worker_new(const ch_worker_env *env, ch_err *err)
{
    s_worker *w = calloc(1, sizeof *w);
    if (!w) {
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    w->env = env;
    if (s_params(env->cfg, env->schema, &w->p, err) != 0) {
        free(w);
        return NULL;
    }
    w->F = env->schema->n_features;
    w->K = w->p.n_groups;
    ch_buf_init(&w->enc);
    w->shards = calloc(env->plan->n_shards ? env->plan->n_shards : 1, sizeof *w->shards);
    if (!w->shards || env->train->n_cols != w->F) {
        int code = w->shards ? CH_EINVAL : CH_ENOMEM;
        free(w->shards);
        free(w);
        ch_err_set(err, code, "gbt: the worker's table does not match the schema");
        return NULL;
    }
    return w;
}

static uint64_t s_mix(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Calls fn for every row of the shard with its table index and key. */
typedef struct s_rowit {
    size_t lb, lb_end, r, r_end, pos;
} s_rowit;

static void s_rows_begin(const s_worker *w, uint32_t shard, s_rowit *it)
{
    const ch_plan *pl = w->env->plan;
    it->lb = pl->shard_block[shard];
    it->lb_end = pl->shard_block[shard + 1];
    it->r = pl->block_begin[it->lb];
    it->r_end = it->lb < it->lb_end ? pl->block_begin[it->lb + 1] : it->r;
    it->pos = 0;
}

/* Next row; false at the end. */
static bool s_rows_next(const s_worker *w, s_rowit *it, size_t *row, uint64_t *key)
{
    const ch_plan *pl = w->env->plan;
    while (it->r >= it->r_end) {
        it->lb++;
        if (it->lb >= it->lb_end) {
            return false;
        }
        it->r = pl->block_begin[it->lb];
        it->r_end = pl->block_begin[it->lb + 1];
        it->pos = 0;
    }
    *row = pl->rows[it->r];
    *key = ((uint64_t)(w->env->block_offset + it->lb) << 32) | it->pos;
    it->r++;
    it->pos++;
    return true;
}

/* The inverse of the shard's row list: map[table row] = the row's place in
 * the shard, -1 for rows of other shards (so columns can be read in order).
 * Returns NULL when out of memory; the caller frees it. */
static int32_t *s_shard_map(const s_worker *w, uint32_t shard, size_t n)
{
    size_t T = w->env->train->n_rows;
    int32_t *map = malloc((T ? T : 1) * sizeof *map);
    if (!map || n > (size_t)INT32_MAX) {
        free(map);
        return NULL;
    }
    for (size_t r = 0; r < T; r++) {
        map[r] = -1;
    }
    s_rowit it;
    s_rows_begin(w, shard, &it);
    size_t row, i = 0;
    uint64_t key;
    while (i < n && s_rows_next(w, &it, &row, &key)) {
        map[row] = (int32_t)i++;
    }
    return map;
}

static int s_task_sketch(s_worker *w, uint32_t shard, uint64_t threshold, ch_buf *out,
                         uint64_t *samples, ch_err *err)
{
    const ch_table *t = w->env->train;
    size_t n = ch_plan_shard_end(w->env->plan, shard) - ch_plan_shard_begin(w->env->plan, shard);
    size_t F = w->F, T = t->n_rows;
    bool *sampled = calloc(n ? n : 1, sizeof *sampled);
    int32_t *map = s_shard_map(w, shard, n);
    float *v = malloc((n ? n : 1) * sizeof *v);
    ch_gbt_summary *sum = calloc(F, sizeof *sum);
    uint32_t *nv = calloc(F, sizeof *nv);
    uint64_t *nmiss = calloc(F, sizeof *nmiss);
    Cohort__Gbt__Sketch sk = COHORT__GBT__SKETCH__INIT;
    int rc = (!sampled || !map || !v || !sum || !nv || !nmiss)
                 ? ch_err_set(err, CH_ENOMEM, "out of memory")
                 : 0;
    s_rowit it;
    s_rows_begin(w, shard, &it);
    size_t row, i = 0;
    uint64_t key;
    sk.y_min = HUGE_VAL;
    sk.y_max = -HUGE_VAL;
    while (rc == 0 && i < n && s_rows_next(w, &it, &row, &key)) {
        double y = t->target.values[row];
        if (!ch_gbt_label_ok(&w->p, y)) {
            if (sk.bad_labels++ == 0) {
                sk.first_bad = y;
            }
        } else {
            sk.y_min = y < sk.y_min ? y : sk.y_min;
            sk.y_max = y > sk.y_max ? y : sk.y_max;
        }
        double wt = t->weights ? t->weights[row] : 1.0;
        sk.w_max = wt > sk.w_max ? wt : sk.w_max;
        sampled[i++] = threshold == UINT64_MAX || s_mix(w->env->seed ^ s_mix(key)) < threshold;
        sk.n_rows++;
    }
    size_t total = 0;
    for (size_t f = 0; rc == 0 && f < F; f++) {
        /* the column in table order; the summary sorts it */
        const double *x = t->cols[f].values;
        size_t k = 0;
        for (size_t r = 0; r < T; r++) {
            int32_t li = map[r];
            if (li < 0) {
                continue;
            }
            if (isnan(x[r])) {
                nmiss[f]++;
            } else if (sampled[li]) {
                v[k++] = (float)x[r];
            }
        }
        if (ch_gbt_summary_from(v, k, &sum[f]) != 0) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        nv[f] = (uint32_t)sum[f].n;
        total += sum[f].n;
    }
    float *vals = NULL;
    uint64_t *cnts = NULL;
    if (rc == 0) {
        vals = malloc((total ? total : 1) * sizeof *vals);
        cnts = malloc((total ? total : 1) * sizeof *cnts);
        if (!vals || !cnts) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        }
    }
    if (rc == 0) {
        size_t off = 0;
        for (size_t f = 0; f < F; f++) {
            memcpy(vals + off, sum[f].values, sum[f].n * sizeof *vals);
            memcpy(cnts + off, sum[f].counts, sum[f].n * sizeof *cnts);
            off += sum[f].n;
        }
        sk.n_n_distinct = F;
        sk.n_distinct = nv;
        sk.n_values = total;
        sk.values = vals;
        sk.n_counts = total;
        sk.counts = cnts;
        sk.n_n_missing = F;
        sk.n_missing = nmiss;
        size_t size = cohort__gbt__sketch__get_packed_size(&sk);
        rc = ch_buf_reserve(out, size);
        if (rc == 0) {
            cohort__gbt__sketch__pack(&sk, out->data + out->len);
            out->len += size;
        } else {
            rc = ch_err_set(err, rc, "out of memory");
        }
    }
    *samples = sk.n_rows;
    for (size_t f = 0; sum && f < F; f++) {
        ch_gbt_summary_free(&sum[f]);
    }
    free(sum);
    free(sampled);
    free(map);
    free(v);
    free(nv);
    free(nmiss);
    free(vals);
    free(cnts);
    return rc;
}

/* Bins, labels and base margins of a shard. */
static int s_shard_init(s_worker *w, uint32_t shard, s_shard *sh, ch_err *err)
{
    const ch_table *t = w->env->train;
    size_t n = ch_plan_shard_end(w->env->plan, shard) - ch_plan_shard_begin(w->env->plan, shard);
    size_t F = w->F, K = w->K, a = n ? n : 1;
    s_shard_free(sh);
    sh->n = n;
    sh->bins = ch_alloc_array(a, F);
    sh->key = malloc(a * sizeof *sh->key);
    sh->y = malloc(a * sizeof *sh->y);
    sh->w = t->weights ? malloc(a * sizeof *sh->w) : NULL;
    sh->margin = ch_alloc_array(a, K * sizeof(double));
    sh->gq = ch_alloc_array(a, K * sizeof(int64_t));
    sh->hq = ch_alloc_array(a, K * sizeof(int64_t));
    sh->pos = ch_alloc_array(a, K * sizeof *sh->pos);
    sh->order = malloc(a * sizeof *sh->order);
    if (!sh->bins || !sh->key || !sh->y || (t->weights && !sh->w) || !sh->margin || !sh->gq ||
        !sh->hq || !sh->pos || !sh->order) {
        s_shard_free(sh);
        return ch_err_set(err, CH_ENOMEM, "out of memory for a shard of %zu rows", n);
    }
    s_rowit it;
    s_rows_begin(w, shard, &it);
    size_t row, i = 0;
    uint64_t key;
    double bm = ch_gbt_base_margin(&w->p);
    while (i < n && s_rows_next(w, &it, &row, &key)) {
        sh->key[i] = key;
        sh->y[i] = t->target.values[row];
        if (sh->w) {
            sh->w[i] = t->weights[row];
        }
        for (size_t k = 0; k < K; k++) {
            sh->margin[i * K + k] = bm;
        }
        i++;
    }
    /* bin column by column in table order (sequential reads) into a
     * column-major scratch, then transpose in tiles into row-major bins */
    int32_t *map = s_shard_map(w, shard, n);
    uint8_t *cm = ch_calloc_array(a, F);
    if (!map || !cm) {
        free(map);
        free(cm);
        s_shard_free(sh);
        return ch_err_set(err, CH_ENOMEM, "out of memory for a shard of %zu rows", n);
    }
    for (size_t f = 0; f < F; f++) {
        const double *x = t->cols[f].values;
        uint8_t *col = cm + f * n;
        for (size_t r = 0; r < t->n_rows; r++) {
            if (map[r] >= 0) {
                col[map[r]] = ch_gbt_bin(&w->cuts, f, x[r]);
            }
        }
    }
    enum { TILE = 64 };
    for (size_t i0 = 0; i0 < n; i0 += TILE) {
        size_t i1 = i0 + TILE < n ? i0 + TILE : n;
        for (size_t f0 = 0; f0 < F; f0 += TILE) {
            size_t f1 = f0 + TILE < F ? f0 + TILE : F;
            for (size_t r = i0; r < i1; r++) {
                for (size_t f = f0; f < f1; f++) {
                    sh->bins[r * F + f] = cm[f * n + r];
                }
            }
        }
    }
    free(map);
    free(cm);
    sh->applied = 0;
    sh->grad_for = -1;
    sh->pos_for = 0;
    sh->ready = true;
    return 0;
}

/* Fixed-point gradients of every group for the current margins. */
static void s_gradients(s_worker *w, s_shard *sh, uint32_t iter, double sg, double shs, double gb,
                        double hb)
{
    size_t K = w->K, n = sh->n;
    double sub = w->p.subsample;
    uint64_t sub_t = sub >= 1 ? UINT64_MAX : (uint64_t)(sub * 18446744073709551616.0);
    uint64_t salt = s_mix(w->env->seed ^ s_mix(0x5ab5a3b1e0000000ULL + iter));
    for (size_t i = 0; i < n; i++) {
        bool in = sub_t == UINT64_MAX || s_mix(salt ^ sh->key[i]) < sub_t;
        for (size_t k = 0; k < K; k++) {
            double g = 0, h = 0;
            if (in) {
                ch_gbt_grad(&w->p, sh->margin + i * K, sh->y[i], sh->w ? sh->w[i] : 1.0, k, &g, &h);
                g = g > gb ? gb : (g < -gb ? -gb : g);
                h = h > hb ? hb : (h < 0 ? 0 : h);
            }
            sh->gq[k * n + i] = (int64_t)llround(g * sg);
            sh->hq[k * n + i] = (int64_t)llround(h * shs);
        }
    }
    sh->grad_for = (long)sh->applied;
}

/* Answers a grow task the worker cannot serve (it lacks the cuts or some
 * trees before first_done): nothing built, what it holds. */
static int s_reply(s_worker *w, bool need, size_t n_nodes, ch_buf *out, ch_err *err)
{
    Cohort__Gbt__Hist hm = COHORT__GBT__HIST__INIT;
    hm.need = need;
    hm.n_nodes = (uint32_t)n_nodes;
    hm.have_trees = (uint32_t)w->forest.n;
    hm.have_cuts = w->have_cuts;
    if (!need) {
        hm.data.data = w->enc.data;
        hm.data.len = w->enc.len;
    }
    size_t size = cohort__gbt__hist__get_packed_size(&hm);
    if (ch_buf_reserve(out, size) != 0) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    cohort__gbt__hist__pack(&hm, out->data + out->len);
    out->len += size;
    return 0;
}

/* Takes the cuts and the finished trees the task carries; *need when the
 * worker still lacks some. */
static int s_take_model(s_worker *w, const Cohort__Gbt__Task *task, bool *need, ch_err *err)
{
    size_t F = w->F, K = w->K;
    size_t total = (size_t)task->iteration * K, first = task->first_done;
    if (first > total || task->n_done != total - first || task->n_growing != K) {
        return ch_err_set(err, CH_EPROTO, "gbt: malformed grow task");
    }
    if (!w->have_cuts && task->cuts) {
        int rc = ch_gbt_cuts_from_pb(task->cuts, F, &w->cuts, err);
        if (rc != 0) {
            return rc;
        }
        size_t HL = w->cuts.hoff[F];
        w->hist = ch_calloc_array(HL, 2 * sizeof *w->hist);
        if (!w->hist) {
            ch_gbt_cuts_free(&w->cuts);
            return ch_err_set(err, CH_ENOMEM, "out of memory for a histogram of %zu slots", HL);
        }
        w->have_cuts = true;
    }
    /* a coordinator resumed from an earlier checkpoint regrows later trees */
    while (w->forest.n > total) {
        ch_gbt_tree_free(&w->forest.trees[--w->forest.n]);
    }
    *need = !w->have_cuts || w->forest.n < first;
    for (size_t j = w->forest.n; !*need && j < total; j++) {
        ch_gbt_tree tr;
        int rc = ch_gbt_tree_from_pb(task->done[j - first], F, w->cuts.n_bins, &tr, err);
        if (rc != 0) {
            return rc;
        }
        if (tr.class_index >= K || ch_gbt_forest_take(&w->forest, &tr) != 0) {
            ch_gbt_tree_free(&tr);
            return ch_err_set(err, CH_EPROTO, "gbt: tree %zu is malformed or out of memory", j);
        }
    }
    return 0;
}

/* Moves every row of tree k down to its current leaf and lists, in row
 * order, the rows of each node to build (slot[node] = its place among
 * them, cnt[j]..cnt[j+1] its rows in sh->order). */
static void s_bucket(const s_worker *w, s_shard *sh, const ch_gbt_tree *tr, size_t k,
                     const int32_t *slot, size_t nl, size_t *cnt)
{
    size_t F = w->F, n = sh->n;
    int32_t *pos = sh->pos + k * n;
    memset(cnt, 0, (nl + 1) * sizeof *cnt);
    for (size_t i = 0; i < n; i++) {
        int32_t q = pos[i];
        if (q < 0 || (size_t)q >= tr->n) {
            q = 0;
        }
        const uint8_t *row = sh->bins + i * F;
        while (tr->nodes[q].left >= 0) {
            const ch_gbt_node *nd = &tr->nodes[q];
            uint32_t b = row[nd->feature];
            bool left =
                b == w->cuts.n_bins[nd->feature] ? nd->default_left : (int32_t)b <= nd->split_bin;
            q = left ? nd->left : nd->right;
        }
        pos[i] = q;
        if (slot[q] >= 0) {
            cnt[slot[q] + 1]++;
        }
    }
    for (size_t j = 0; j < nl; j++) {
        cnt[j + 1] += cnt[j];
    }
    /* fill with cnt shifted by one, which leaves cnt as the starts */
    for (size_t i = 0; i < n; i++) {
        int32_t s = slot[pos[i]];
        if (s >= 0) {
            sh->order[cnt[s]++] = (int32_t)i;
        }
    }
    for (size_t j = nl; j > 0; j--) {
        cnt[j] = cnt[j - 1];
    }
    cnt[0] = 0;
}

static int s_task_grow(s_worker *w, uint32_t shard, const Cohort__Gbt__Task *task, ch_buf *out,
                       uint64_t *samples, ch_err *err)
{
    size_t F = w->F, K = w->K;
    if (!(task->scale_g > 0) || !(task->scale_h > 0) || task->n_build != task->n_build_tree) {
        return ch_err_set(err, CH_EPROTO, "gbt: malformed grow task");
    }
    bool need = false;
    int rc = s_take_model(w, task, &need, err);
    if (rc != 0) {
        return rc;
    }
    *samples = 0;
    if (need) {
        return s_reply(w, true, 0, out, err);
    }
    size_t total = (size_t)task->iteration * K;
    s_shard *sh = &w->shards[shard];
    if (!sh->ready || sh->applied > total) {
        if ((rc = s_shard_init(w, shard, sh, err)) != 0) {
            return rc;
        }
    }
    *samples = sh->n;
    /* finished rounds into the margins */
    for (size_t j = sh->applied; j < total; j++) {
        const ch_gbt_tree *tr = &w->forest.trees[j];
        for (size_t i = 0; i < sh->n; i++) {
            const uint8_t *row = sh->bins + i * F;
            sh->margin[i * K + tr->class_index] +=
                tr->nodes[ch_gbt_tree_leaf_bins(tr, row, w->cuts.n_bins)].value;
        }
        sh->applied = j + 1;
    }
    if (sh->grad_for != (long)sh->applied) {
        s_gradients(w, sh, task->iteration, task->scale_g, task->scale_h, task->g_bound,
                    task->h_bound);
    }
    if (sh->pos_for != (uint64_t)task->iteration + 1) {
        memset(sh->pos, 0, K * sh->n * sizeof *sh->pos);
        sh->pos_for = (uint64_t)task->iteration + 1;
    }
    size_t nb = task->n_build, HL = w->cuts.hoff[F];
    ch_gbt_tree *cur = calloc(K, sizeof *cur);
    size_t *cnt = calloc(nb + 1, sizeof *cnt);
    int32_t *slot = NULL;
    size_t max_nodes = 0;
    if (!cur || !cnt) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    for (size_t k = 0; rc == 0 && k < K; k++) {
        rc = ch_gbt_tree_from_pb(task->growing[k], F, w->cuts.n_bins, &cur[k], err);
        if (rc == 0 && cur[k].class_index != k) {
            rc = ch_err_set(err, CH_EPROTO, "gbt: growing tree %zu is for class %u", k,
                            cur[k].class_index);
        }
        max_nodes = rc == 0 && cur[k].n > max_nodes ? cur[k].n : max_nodes;
    }
    if (rc == 0 && !(slot = malloc((max_nodes ? max_nodes : 1) * sizeof *slot))) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    w->enc.len = 0;
    /* entries are tree-major: tree k's run is build[j0 .. j1) */
    size_t j0 = 0;
    for (size_t k = 0; rc == 0 && k < K; k++) {
        size_t j1 = j0;
        while (j1 < nb && task->build_tree[j1] == k) {
            j1++;
        }
        if (j1 == j0) {
            continue;
        }
        for (size_t q = 0; q < cur[k].n; q++) {
            slot[q] = -1;
        }
        for (size_t j = j0; j < j1; j++) {
            int32_t b = task->build[j];
            if (b < 0 || (size_t)b >= cur[k].n || cur[k].nodes[b].left >= 0 || slot[b] >= 0) {
                rc = ch_err_set(err, CH_EPROTO, "gbt: build node %d of tree %zu is not a leaf", b,
                                k);
                break;
            }
            slot[b] = (int32_t)(j - j0);
        }
        if (rc != 0) {
            break;
        }
        s_bucket(w, sh, &cur[k], k, slot, j1 - j0, cnt);
        const int64_t *g = sh->gq + k * sh->n, *h = sh->hq + k * sh->n;
        for (size_t j = 0; j < j1 - j0; j++) {
            if (ch_buf_reserve(&w->enc, CH_GBT_HIST_MAX_ENC(HL)) != 0) {
                rc = ch_err_set(err, CH_ENOMEM, "out of memory");
                break;
            }
            ch_gbt_hist_build(w->hist, &w->cuts, sh->bins, sh->order + cnt[j], cnt[j + 1] - cnt[j],
                              g, h);
            w->enc.len += ch_gbt_hist_encode(w->hist, HL, w->enc.data + w->enc.len);
            memset(w->hist, 0, HL * 2 * sizeof *w->hist);
        }
        j0 = j1;
    }
    if (rc == 0 && j0 != nb) {
        rc = ch_err_set(err, CH_EPROTO, "gbt: build entries are not in tree order");
    }
    if (rc == 0) {
        rc = s_reply(w, false, nb, out, err);
    }
    for (size_t k = 0; cur && k < K; k++) {
        ch_gbt_tree_free(&cur[k]);
    }
    free(cur);
    free(cnt);
    free(slot);
    return rc;
}

static int s_run_task(void *vw, uint32_t round, uint32_t op, const uint8_t *payload, size_t len,
                      uint32_t shard, ch_buf *out, uint64_t *samples, ch_err *err)
{
    s_worker *w = vw;
    (void)round;
    if (shard >= w->env->plan->n_shards) {
        return ch_err_set(err, CH_EPROTO, "gbt: shard %u out of range (%zu shards)", shard,
                          w->env->plan->n_shards);
    }
    Cohort__Gbt__Task *task = cohort__gbt__task__unpack(NULL, len, payload);
    if (!task) {
        return ch_err_set(err, CH_EPROTO, "gbt: the task does not decode");
    }
    int rc;
    if (op == OP_SKETCH) {
        rc = s_task_sketch(w, shard, task->sample_threshold, out, samples, err);
    } else if (op == OP_GROW) {
        rc = s_task_grow(w, shard, task, out, samples, err);
    } else {
        rc = ch_err_set(err, CH_EPROTO, "gbt: unknown op %u", op);
    }
    cohort__gbt__task__free_unpacked(task, NULL);
    return rc;
}

/* --- model ------------------------------------------------------------------------ */

static ch_output_kind s_output_kind(const void *vm)
{
    const s_model *md = vm;
    return md->m.p.n_classes >= 2 ? CH_OUT_PROBABILITIES : CH_OUT_REGRESSION;
}

static size_t s_n_outputs(const void *vm)
{
    const s_model *md = vm;
    return md->m.p.n_classes >= 2 ? md->m.p.n_classes : 1;
}

static int s_predict(const void *vm, const ch_table *t, double *out, ch_err *err)
{
    const s_model *md = vm;
    const ch_gbt_model *m = &md->m;
    if (t->n_cols != m->n_features) {
        return ch_err_set(err, CH_EINVAL, "gbt: the table has %zu features, the model %zu",
                          t->n_cols, m->n_features);
    }
    size_t K = m->p.n_groups, k_out = s_n_outputs(vm);
    double *mg = malloc(K * sizeof *mg);
    if (!mg) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < t->n_rows; i++) {
        ch_gbt_model_margins(m, t, i, m->rounds, mg);
        ch_gbt_transform(&m->p, mg, out + i * k_out);
    }
    free(mg);
    return 0;
}

static size_t s_contrib_groups(const void *vm)
{
    return ((const s_model *)vm)->m.p.n_groups;
}

/* TreeSHAP contributions in margin space (shap.c). */
static int s_contribs(const void *vm, const ch_table *t, double *out, ch_err *err)
{
    const ch_gbt_model *m = &((const s_model *)vm)->m;
    if (t->n_cols != m->n_features) {
        return ch_err_set(err, CH_EINVAL, "gbt: the table has %zu features, the model %zu",
                          t->n_cols, m->n_features);
    }
    size_t width = m->p.n_groups * (m->n_features + 1);
    for (size_t i = 0; i < t->n_rows; i++) {
        if (ch_gbt_model_contribs(m, t, i, out + i * width) != 0) {
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
    }
    return 0;
}

static int s_pack(const void *vm, ch_buf *out, ch_err *err)
{
    const s_model *md = vm;
    Cohort__Gbt__Model pb;
    if (ch_gbt_model_to_pb(&md->m, &pb) != 0) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    size_t size = cohort__gbt__model__get_packed_size(&pb);
    int rc = ch_buf_reserve(out, size);
    if (rc == 0) {
        cohort__gbt__model__pack(&pb, out->data + out->len);
        out->len += size;
    }
    ch_gbt_model_pb_free(&pb);
    return rc ? ch_err_set(err, rc, "out of memory") : 0;
}

static void *s_unpack(const uint8_t *data, size_t len, const ch_schema *schema, ch_err *err)
{
    Cohort__Gbt__Model *pb = cohort__gbt__model__unpack(NULL, len, data);
    if (!pb) {
        ch_err_set(err, CH_EINVAL, "the gbt model payload does not decode");
        return NULL;
    }
    s_model *md = calloc(1, sizeof *md);
    size_t n_classes = schema->target.kind == CH_COL_CATEGORICAL ? schema->target.n_levels : 0;
    if (n_classes == 0 && pb->n_groups > 1) {
        n_classes = pb->n_groups; /* numeric class codes (model.num_class) */
    }
    int rc = md ? ch_gbt_model_from_pb(pb, schema->n_features, n_classes, &md->m, err)
                : ch_err_set(err, CH_ENOMEM, "out of memory");
    cohort__gbt__model__free_unpacked(pb, NULL);
    if (rc != 0) {
        free(md);
        return NULL;
    }
    md->names = s_names(schema);
    if (!md->names) {
        void *v = md;
        s_model_destroy(&v);
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    return md;
}

/* Feature order by total gain, largest first (ties by index). */
static size_t *s_gain_order(const ch_gbt_model *m)
{
    size_t F = m->n_features;
    size_t *o = malloc((F ? F : 1) * sizeof *o);
    if (!o) {
        return NULL;
    }
    for (size_t f = 0; f < F; f++) {
        o[f] = f;
    }
    for (size_t a = 1; a < F; a++) {
        for (size_t b = a; b > 0 && m->imp_gain[o[b - 1]] < m->imp_gain[o[b]]; b--) {
            size_t t = o[b];
            o[b] = o[b - 1];
            o[b - 1] = t;
        }
    }
    return o;
}

static const char *s_name(const s_model *md, size_t f)
{
    return md->names && md->names[f] ? md->names[f] : "?";
}

static int s_summary_json(const void *vm, ch_buf *j)
{
    const s_model *md = vm;
    const ch_gbt_model *m = &md->m;
    ch_buf_puts(j, ",\n  \"objective\": ");
    ch_buf_json_str(j, ch_gbt_objective_names[m->p.objective]);
    ch_buf_puts(j, ",\n  \"eval_metric\": ");
    ch_buf_json_str(j, ch_gbt_metric_names[m->p.eval_metric]);
    ch_buf_printf(j, ",\n  \"best_iteration\": %d,\n  \"boosting_rounds\": %u,\n  \"trees\": %zu",
                  m->best_iteration, m->rounds, m->forest.n);
    if (m->best_iteration >= 0 && (size_t)m->best_iteration < m->n_curve) {
        ch_buf_puts(j, ",\n  \"best_score\": ");
        double v = m->valid_curve[m->best_iteration];
        ch_buf_json_num(j, isnan(v) ? m->train_curve[m->best_iteration] : v);
    }
    ch_buf_puts(j, ",\n  \"importance\": [");
    size_t *o = s_gain_order(m);
    if (!o) {
        return CH_ENOMEM;
    }
    bool first = true;
    for (size_t r = 0; r < m->n_features; r++) {
        size_t f = o[r];
        double wgt = m->imp_weight[f];
        if (wgt <= 0) {
            continue;
        }
        ch_buf_puts(j, first ? "\n    {\"feature\": " : ",\n    {\"feature\": ");
        first = false;
        ch_buf_json_str(j, s_name(md, f));
        ch_buf_printf(j, ", \"weight\": %.0f, \"gain\": ", wgt);
        ch_buf_json_num(j, m->imp_gain[f] / wgt);
        ch_buf_puts(j, ", \"cover\": ");
        ch_buf_json_num(j, m->imp_cover[f] / wgt);
        ch_buf_puts(j, ", \"total_gain\": ");
        ch_buf_json_num(j, m->imp_gain[f]);
        ch_buf_puts(j, ", \"total_cover\": ");
        ch_buf_json_num(j, m->imp_cover[f]);
        ch_buf_puts(j, "}");
    }
    free(o);
    ch_buf_puts(j, "\n  ]");
    return j->failed ? CH_ENOMEM : 0;
}

static int s_describe(const void *vm, ch_buf *text)
{
    const s_model *md = vm;
    const ch_gbt_model *m = &md->m;
    ch_buf_printf(text, "%s, %u rounds kept (best iteration %d), %zu trees\n",
                  ch_gbt_objective_names[m->p.objective], m->rounds, m->best_iteration,
                  m->forest.n);
    size_t *o = s_gain_order(m);
    if (!o) {
        return CH_ENOMEM;
    }
    ch_buf_printf(text, "%-32s %10s %14s %14s\n", "feature", "weight", "gain", "cover");
    for (size_t r = 0; r < m->n_features && r < 20; r++) {
        size_t f = o[r];
        double wgt = m->imp_weight[f];
        if (wgt > 0) {
            ch_buf_printf(text, "%-32.32s %10.0f %14.6g %14.6g\n", s_name(md, f), wgt,
                          m->imp_gain[f] / wgt, m->imp_cover[f] / wgt);
        }
    }
    free(o);
    return text->failed ? CH_ENOMEM : 0;
}

static int s_report(const void *vm, ch_report *r, ch_err *err)
{
    const s_model *md = vm;
    const ch_gbt_model *m = &md->m;
    size_t *o = s_gain_order(m);
    if (!o) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    size_t n = 0;
    const char *labels[20];
    double vals[20];
    for (size_t k = 0; k < m->n_features && n < 20; k++) {
        size_t f = o[k];
        if (m->imp_weight[f] > 0) {
            labels[n] = s_name(md, f);
            vals[n++] = m->imp_gain[f] / m->imp_weight[f];
        }
    }
    free(o);
    int rc = ch_report_section(r, "Gradient-boosted trees");
    char v[4][64];
    snprintf(v[0], sizeof v[0], "%s", ch_gbt_objective_names[m->p.objective]);
    snprintf(v[1], sizeof v[1], "%u", m->rounds);
    snprintf(v[2], sizeof v[2], "%d", m->best_iteration);
    snprintf(v[3], sizeof v[3], "%zu", m->forest.n);
    const char *keys[] = {"objective", "boosting rounds kept", "best iteration", "trees"};
    const char *kv[] = {v[0], v[1], v[2], v[3]};
    if (rc == 0) {
        rc = ch_report_kv(r, keys, kv, 4);
    }
    if (rc == 0 && m->n_curve) {
        static char tn[64], vn[64];
        snprintf(tn, sizeof tn, "train %s", ch_gbt_metric_names[m->p.eval_metric]);
        snprintf(vn, sizeof vn, "valid %s", ch_gbt_metric_names[m->p.eval_metric]);
        ch_svg_series s[2] = {{tn, NULL, m->train_curve, m->n_curve},
                              {vn, NULL, m->valid_curve, m->n_curve}};
        ch_svg_line_opts lo = {.title = "Evaluation per boosting round",
                               .x_label = "boosting round",
                               .y_label = ch_gbt_metric_names[m->p.eval_metric]};
        rc = ch_report_line_chart(r, &lo, s, 2);
    }
    if (rc == 0 && n) {
        ch_svg_bar_opts bo = {.title = "Feature importance (average gain per split, top 20)",
                              .value_label = "gain",
                              .highlight = 0};
        rc = ch_report_bar_chart(r, &bo, labels, vals, n);
    }
    return rc ? ch_err_set(err, rc, "out of memory") : 0;
}

const ch_algo ch_algo_gbt = {
    .name = "gbt",
    .summary = "gradient-boosted trees on distributed histograms (XGBoost's hist), exact across "
               "workers",
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
    .contrib_groups = s_contrib_groups,
    .contribs = s_contribs,
    .pack = s_pack,
    .unpack = s_unpack,
    .summary_json = s_summary_json,
    .describe = s_describe,
    .report = s_report,
    .model_destroy = s_model_destroy,
};
