/* linear.c: ordinary and weighted least squares, exact across workers.
 *
 * One round. Each worker factors its rows of [X y] block by block (QR) and
 * combines the blocks over the fixed reduction tree (common/reduce.h); the
 * coordinator completes the tree and solves with R's limited pivoting
 * (qr.h). Only triangular factors leave a worker, never rows. The result is
 * the same bytes for any number of workers in iid and stratified plans. */
#include "algorithms/algo.h"
#include "algorithms/linear/design.h"
#include "algorithms/linear/penalized.h"
#include "algorithms/linear/qr.h"
#include "algorithms/linear/stats.h"
#include "common/reduce.h"
#include "proto/linear.pb-c.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OP_FACTOR = 1 };

typedef struct s_model {
    ch_design *design;
    ch_ols ols;
    double n_dropped;
    double sum_w;
    ch_pen_opts pen_opts; /* kind CH_PEN_NONE for least squares */
    ch_pen_fit pen;
} s_model;

typedef struct s_coord {
    ch_design *design;
    size_t m;
    ch_pen_opts pen;
    ch_pen_ctx pctx; /* m and the number of folds k */
    ch_reduce *reduce;
    bool done;
    double *root;
    size_t n_train;
} s_coord;

typedef struct s_worker {
    ch_design *design;
    size_t m;
    ch_pen_ctx pctx;
    const ch_worker_env *env;
    double *a; /* scratch block matrix */
    size_t a_rows;
} s_worker;

static const char *const s_penalties[] = {"none", "ridge", "lasso", "elasticnet", NULL};

/* Reads the penalty keys into o (err may be NULL once validated). */
static int s_read_pen(ch_config *cfg, ch_pen_opts *o, ch_err *err)
{
    int kind = 0;
    long folds = 5, n_lambda = 100;
    bool intercept = true;
    memset(o, 0, sizeof *o);
    int rc = ch_cfg_bool(cfg, "model.intercept", true, &intercept, err);
    if (rc == 0) {
        rc = ch_cfg_enum(cfg, "model.penalty", "none", s_penalties, &kind, err);
    }
    if (rc == 0) {
        rc = ch_cfg_num(cfg, "model.lambda", 0, 0, 1e300, &o->lambda, err);
    }
    if (rc == 0) {
        rc = ch_cfg_num(cfg, "model.l1_ratio", 0.5, 0, 1, &o->l1_ratio, err);
    }
    if (rc == 0) {
        rc = ch_cfg_int(cfg, "model.folds", 5, 2, 100, &folds, err);
    }
    if (rc == 0) {
        rc = ch_cfg_int(cfg, "model.n_lambda", 100, 1, 10000, &n_lambda, err);
    }
    if (rc == 0) {
        rc = ch_cfg_num(cfg, "model.lambda_min_ratio", 1e-3, 1e-12, 1, &o->min_ratio, err);
    }
    if (rc == 0) {
        rc = ch_cfg_bool(cfg, "model.standardize", true, &o->standardize, err);
    }
    o->kind = (ch_pen_kind)kind;
    o->folds = (size_t)folds;
    o->n_lambda = (size_t)n_lambda;
    o->intercept = intercept;
    return rc;
}

/* Folds of the reduction: K for a penalty chosen by cross-validation, else 1. */
static size_t s_folds(const ch_pen_opts *o)
{
    return o->kind != CH_PEN_NONE && !(o->lambda > 0) ? o->folds : 1;
}

static int s_configure(ch_config *cfg, const ch_schema *schema, ch_err *err)
{
    ch_pen_opts o;
    int rc = s_read_pen(cfg, &o, err);
    if (rc == 0 && schema && schema->target.kind != CH_COL_NUMERIC) {
        rc = ch_err_set(err, CH_EINVAL,
                        "%s: model.algorithm linear needs a numeric target, and '%s' is "
                        "categorical",
                        ch_config_where(cfg, "data.target"), schema->target.name);
    }
    return rc;
}

static bool s_intercept(ch_config *cfg)
{
    bool intercept = true;
    ch_cfg_bool(cfg, "model.intercept", true, &intercept, NULL);
    return intercept;
}

static int s_estimate(ch_config *cfg, const ch_schema *schema, size_t n_rows, size_t n_workers,
                      size_t n_blocks, ch_estimate *out)
{
    ch_design *d = ch_design_new(schema, s_intercept(cfg));
    if (!d) {
        return CH_ENOMEM;
    }
    double m = (double)d->p + 1;
    ch_design_destroy(&d);
    double block_rows = n_blocks ? (double)n_rows / (double)n_blocks : (double)n_rows;
    double depth = 1;
    while ((double)(1u << (unsigned)depth) <
           (double)n_blocks / (double)(n_workers ? n_workers : 1)) {
        depth++;
    }
    out->worker_bytes = block_rows * m * 8 + (depth + 3) * m * m * 8;
    out->message_bytes = (depth + 1) * (2 + m * m) * 8;
    out->flops = 2 * (double)n_rows * m * m + (double)n_blocks * 4 * m * m * m / 3;
    out->rounds = 1;
    return 0;
}

/* --- coordinator ---------------------------------------------------------- */

static void *s_coord_new(const ch_coord_env *env, ch_err *err)
{
    s_coord *st = calloc(1, sizeof *st);
    if (!st) {
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    st->design = ch_design_new(env->schema, s_intercept(env->cfg));
    if (!st->design) {
        free(st);
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    st->m = st->design->p + 1;
    st->n_train = env->n_train;
    s_read_pen(env->cfg, &st->pen, NULL);
    st->pctx.m = st->m;
    st->pctx.k = s_folds(&st->pen);
    if (st->pctx.k > env->n_blocks) {
        ch_err_set(err, CH_EINVAL,
                   "model.folds is %zu but the data has only %zu reduction blocks; lower "
                   "model.folds",
                   st->pctx.k, env->n_blocks);
        ch_design_destroy(&st->design);
        free(st);
        return NULL;
    }
    st->reduce =
        st->pctx.k == 1
            ? ch_reduce_new(env->n_blocks, ch_qr_node_len(st->design->p), ch_qr_combine, &st->m)
            : ch_reduce_new(env->n_blocks, st->pctx.k * ch_qr_node_len(st->design->p),
                            ch_pen_combine, &st->pctx);
    if (!st->reduce) {
        ch_design_destroy(&st->design);
        free(st);
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    return st;
}

static int s_next_task(void *vst, uint32_t round, uint32_t *op, ch_buf *payload, ch_err *err)
{
    s_coord *st = vst;
    (void)payload;
    (void)err;
    (void)round;
    if (st->done) {
        return 1;
    }
    *op = OP_FACTOR;
    return 0;
}

static int s_aggregate(void *vst, uint32_t round, uint32_t op, const ch_update *ups, size_t n,
                       ch_round_metrics *m, ch_err *err)
{
    s_coord *st = vst;
    (void)round;
    (void)op;
    for (size_t i = 0; i < n; i++) {
        int rc = ch_reduce_add(st->reduce, ups[i].state, ups[i].state_len, err);
        if (rc != 0) {
            return ch_err_prefix(err, "update for shard %u", ups[i].shard);
        }
    }
    st->root = malloc(st->pctx.k * ch_qr_node_len(st->design->p) * sizeof *st->root);
    if (!st->root) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    int rc = ch_reduce_finish(st->reduce, st->root, err);
    if (rc != 0) {
        return rc;
    }
    double rows = 0;
    for (size_t f = 0; f < st->pctx.k; f++) {
        rows += st->root[f * ch_qr_node_len(st->design->p)];
    }
    ch_round_metric(m, "rows_used", rows);
    st->done = true;
    return 0;
}

static void s_model_destroy(void **pm)
{
    if (!pm || !*pm) {
        return;
    }
    s_model *md = *pm;
    ch_design_destroy(&md->design);
    ch_ols_free(&md->ols);
    ch_pen_fit_free(&md->pen);
    free(md);
    *pm = NULL;
}

static void *s_finalize(void *vst, ch_err *err)
{
    s_coord *st = vst;
    if (!st->root) {
        ch_err_set(err, CH_EINTERNAL, "linear: finalize before the factor round");
        return NULL;
    }
    s_model *md = calloc(1, sizeof *md);
    if (!md) {
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    md->pen_opts = st->pen;
    if (st->pen.kind != CH_PEN_NONE) {
        if (ch_pen_fit_nodes(st->root, st->pctx.k, st->design->p, &st->pen, &md->pen, err) != 0) {
            free(md);
            return NULL;
        }
        md->ols.n = md->pen.n;
        md->sum_w = md->pen.sum_w;
    } else {
        if (ch_qr_solve(st->root, st->design->p, st->design->intercept, &md->ols, err) != 0) {
            free(md);
            return NULL;
        }
        md->sum_w = st->root[1];
    }
    md->design = st->design;
    st->design = NULL;
    md->n_dropped = (double)st->n_train - md->ols.n;
    return md;
}

static int s_save(void *vst, ch_buf *out, ch_err *err)
{
    s_coord *st = vst;
    (void)err;
    uint8_t done = st->done ? 1 : 0;
    ch_buf_append(out, &done, 1);
    if (st->done) {
        ch_buf_append(out, st->root, st->pctx.k * ch_qr_node_len(st->design->p) * sizeof(double));
    }
    return out->failed ? CH_ENOMEM : 0;
}

static int s_load(void *vst, const uint8_t *data, size_t len, ch_err *err)
{
    s_coord *st = vst;
    size_t need = st->pctx.k * ch_qr_node_len(st->design->p) * sizeof(double);
    if (len < 1 || (data[0] && len != 1 + need)) {
        return ch_err_set(err, CH_EINVAL, "linear checkpoint has the wrong size (%zu bytes)", len);
    }
    if (data[0]) {
        st->root = malloc(need);
        if (!st->root) {
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        memcpy(st->root, data + 1, need);
        st->done = true;
    }
    return 0;
}

static void s_coord_destroy(void **pst)
{
    if (!pst || !*pst) {
        return;
    }
    s_coord *st = *pst;
    ch_design_destroy(&st->design);
    ch_reduce_destroy(&st->reduce);
    free(st->root);
    free(st);
    *pst = NULL;
}

/* --- worker ----------------------------------------------------------------- */

static void *s_worker_new(const ch_worker_env *env, ch_err *err)
{
    s_worker *w = calloc(1, sizeof *w);
    if (!w) {
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    w->design = ch_design_new(env->schema, s_intercept(env->cfg));
    if (!w->design) {
        free(w);
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    w->m = w->design->p + 1;
    w->env = env;
    ch_pen_opts o;
    s_read_pen(env->cfg, &o, NULL);
    w->pctx.m = w->m;
    w->pctx.k = s_folds(&o);
    return w;
}

/* Leaf of the reduction: the QR factor of one block's complete rows. */
static int s_leaf(void *ctx, size_t block, double *out, ch_err *err)
{
    s_worker *w = ctx;
    const ch_plan *plan = w->env->plan;
    const ch_table *t = w->env->train;
    size_t lb = block - w->env->block_offset;
    out += (block % w->pctx.k) * ch_qr_node_len(w->design->p); /* the block's fold */
    size_t lo = plan->block_begin[lb], hi = plan->block_begin[lb + 1];
    size_t rows = hi - lo, m = w->m, p = w->design->p;
    if (rows > w->a_rows) {
        size_t n;
        if (ch_mul_size(rows, m, &n) != 0) {
            return ch_err_set(err, CH_ENOMEM, "block too large");
        }
        free(w->a);
        w->a = ch_alloc_array(n, sizeof(double));
        if (!w->a) {
            w->a_rows = 0;
            return ch_err_set(err, CH_ENOMEM, "out of memory for a %zu x %zu block", rows, m);
        }
        w->a_rows = rows;
    }
    /* gather complete rows; the leading dimension is the number kept */
    size_t used = 0;
    double sum_w = 0;
    double *row = malloc(m * sizeof *row);
    if (!row) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    size_t *keep = malloc((rows ? rows : 1) * sizeof *keep);
    if (!keep) {
        free(row);
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    for (size_t r = lo; r < hi; r++) {
        size_t i = plan->rows[r];
        double y = t->target.values[i];
        double wt = t->weights ? t->weights[i] : 1.0;
        if (isnan(y) || !(wt > 0) || !ch_design_row(w->design, t, i, row, 1)) {
            continue;
        }
        keep[used++] = i;
        sum_w += wt;
    }
    for (size_t k = 0; k < used; k++) {
        size_t i = keep[k];
        double sw = t->weights ? sqrt(t->weights[i]) : 1.0;
        ch_design_row(w->design, t, i, w->a + k, used);
        for (size_t j = 0; j < p; j++) {
            w->a[j * used + k] *= sw;
        }
        w->a[p * used + k] = t->target.values[i] * sw;
    }
    free(row);
    free(keep);
    out[0] = (double)used;
    out[1] = sum_w;
    int rc = ch_qr_leaf(w->a, used, m, out);
    if (rc != 0) {
        return ch_err_set(err, rc, "QR factorisation of block %zu failed", block);
    }
    return 0;
}

static int s_run_task(void *vw, uint32_t round, uint32_t op, const uint8_t *payload, size_t len,
                      uint32_t shard, ch_buf *out, uint64_t *samples, ch_err *err)
{
    s_worker *w = vw;
    (void)round;
    (void)payload;
    (void)len;
    if (op != OP_FACTOR) {
        return ch_err_set(err, CH_EPROTO, "linear: unknown op %u", op);
    }
    const ch_plan *plan = w->env->plan;
    if (shard >= plan->n_shards) {
        return ch_err_set(err, CH_EPROTO, "linear: shard %u out of range (%zu shards)", shard,
                          plan->n_shards);
    }
    size_t b0 = w->env->block_offset + plan->shard_block[shard];
    size_t b1 = w->env->block_offset + plan->shard_block[shard + 1];
    *samples = ch_plan_shard_end(plan, shard) - ch_plan_shard_begin(plan, shard);
    if (w->pctx.k > 1) {
        return ch_reduce_range(w->env->n_blocks_total, b0, b1,
                               w->pctx.k * ch_qr_node_len(w->design->p), s_leaf, w, ch_pen_combine,
                               &w->pctx, out, err);
    }
    return ch_reduce_range(w->env->n_blocks_total, b0, b1, ch_qr_node_len(w->design->p), s_leaf, w,
                           ch_qr_combine, &w->m, out, err);
}

static void s_worker_destroy(void **pw)
{
    if (!pw || !*pw) {
        return;
    }
    s_worker *w = *pw;
    ch_design_destroy(&w->design);
    free(w->a);
    free(w);
    *pw = NULL;
}

/* --- model ------------------------------------------------------------------ */

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

static bool s_penalized(const s_model *md)
{
    return md->pen_opts.kind != CH_PEN_NONE;
}

/* Coefficient j for prediction (0 where aliased). */
static double s_coef(const s_model *md, size_t j)
{
    if (s_penalized(md)) {
        return md->pen.coef[j];
    }
    return md->ols.aliased[j] ? 0.0 : md->ols.coef[j];
}

static int s_predict(const void *vm, const ch_table *t, double *out, ch_err *err)
{
    const s_model *md = vm;
    size_t p = md->design->p;
    double *x = malloc((p ? p : 1) * sizeof *x);
    if (!x) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < t->n_rows; i++) {
        if (!ch_design_row(md->design, t, i, x, 1)) {
            out[i] = NAN;
            continue;
        }
        double s = 0;
        for (size_t j = 0; j < p; j++) {
            s += s_coef(md, j) * x[j];
        }
        out[i] = s;
    }
    free(x);
    return 0;
}

static int s_pack(const void *vm, ch_buf *out, ch_err *err)
{
    const s_model *md = vm;
    const ch_ols *o = &md->ols;
    size_t p = md->design->p;
    Cohort__Linear__LinearModel lm = COHORT__LINEAR__LINEAR_MODEL__INIT;
    lm.n_names = p;
    lm.names = md->design->names;
    protobuf_c_boolean *al = calloc(p ? p : 1, sizeof *al);
    if (!al) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    if (s_penalized(md)) {
        lm.n_coef = p;
        lm.coef = md->pen.coef;
        lm.penalty = (char *)s_penalties[md->pen_opts.kind];
        lm.lambda = md->pen.lambda;
        lm.l1_ratio = md->pen_opts.kind == CH_PEN_LASSO   ? 1.0
                      : md->pen_opts.kind == CH_PEN_RIDGE ? 0.0
                                                          : md->pen_opts.l1_ratio;
        lm.n_path_lambda = lm.n_path_cv = md->pen.n_path;
        lm.path_lambda = md->pen.path_lambda;
        lm.path_cv = md->pen.path_cv;
        lm.folds = (uint32_t)s_folds(&md->pen_opts);
        lm.nonzero = (uint32_t)md->pen.nonzero;
        lm.rss = md->pen.rss;
        lm.tss = md->pen.tss;
        lm.n = (uint64_t)md->pen.n;
        lm.rank = (uint32_t)p;
    } else {
        lm.n_coef = lm.n_std_error = lm.n_t_value = lm.n_aliased = o->p;
        lm.coef = o->coef;
        lm.std_error = o->std_error;
        lm.t_value = o->t_value;
        for (size_t j = 0; j < o->p; j++) {
            al[j] = o->aliased[j];
        }
        lm.aliased = al;
        lm.sigma = o->sigma;
        lm.n = (uint64_t)o->n;
        lm.df_residual = o->df_residual;
        lm.r_squared = o->r_squared;
        lm.adj_r_squared = o->adj_r_squared;
        lm.rss = o->rss;
        lm.tss = o->tss;
        lm.rank = (uint32_t)o->rank;
    }
    lm.n_dropped = md->n_dropped > 0 ? (uint64_t)md->n_dropped : 0;
    lm.intercept = md->design->intercept;
    lm.sum_w = md->sum_w;
    size_t size = cohort__linear__linear_model__get_packed_size(&lm);
    int rc = ch_buf_reserve(out, size);
    if (rc == 0) {
        cohort__linear__linear_model__pack(&lm, out->data + out->len);
        out->len += size;
    }
    free(al);
    return rc ? ch_err_set(err, rc, "out of memory") : 0;
}

/* Fills the penalized part of md from a decoded message. */
static int s_unpack_pen(s_model *md, const Cohort__Linear__LinearModel *lm, size_t p, ch_err *err)
{
    ch_pen_opts *po = &md->pen_opts;
    po->kind = CH_PEN_NONE;
    for (int k = 1; s_penalties[k]; k++) {
        if (strcmp(lm->penalty, s_penalties[k]) == 0) {
            po->kind = (ch_pen_kind)k;
        }
    }
    if (po->kind == CH_PEN_NONE || lm->n_path_lambda != lm->n_path_cv) {
        return ch_err_set(err, CH_EINVAL, "the linear model has an unknown penalty '%s'",
                          lm->penalty);
    }
    po->l1_ratio = lm->l1_ratio;
    po->intercept = lm->intercept;
    ch_pen_fit *f = &md->pen;
    f->p = p;
    f->coef = malloc((p ? p : 1) * sizeof *f->coef);
    f->path_lambda = malloc((lm->n_path_lambda + 1) * sizeof *f->path_lambda);
    f->path_cv = malloc((lm->n_path_lambda + 1) * sizeof *f->path_cv);
    if (!f->coef || !f->path_lambda || !f->path_cv) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    memcpy(f->coef, lm->coef, p * sizeof *f->coef);
    memcpy(f->path_lambda, lm->path_lambda, lm->n_path_lambda * sizeof *f->path_lambda);
    memcpy(f->path_cv, lm->path_cv, lm->n_path_lambda * sizeof *f->path_cv);
    f->n_path = lm->n_path_lambda;
    f->lambda = lm->lambda;
    f->best = 0;
    for (size_t i = 0; i < f->n_path; i++) {
        if (f->path_lambda[i] == f->lambda) {
            f->best = i;
        }
    }
    po->folds = lm->folds;
    po->lambda = f->n_path == 1 ? f->lambda : 0;
    f->nonzero = lm->nonzero;
    f->rss = lm->rss;
    f->tss = lm->tss;
    f->n = (double)lm->n;
    f->sum_w = lm->sum_w;
    md->ols.n = f->n;
    return 0;
}

static void *s_unpack(const uint8_t *data, size_t len, const ch_schema *schema, ch_err *err)
{
    Cohort__Linear__LinearModel *lm = cohort__linear__linear_model__unpack(NULL, len, data);
    if (!lm) {
        ch_err_set(err, CH_EINVAL, "the linear model payload does not decode");
        return NULL;
    }
    s_model *md = calloc(1, sizeof *md);
    ch_design *d = md ? ch_design_new(schema, lm->intercept) : NULL;
    bool pen = lm->penalty && lm->penalty[0];
    int rc = 0;
    if (!md || !d) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
    } else if (d->p != lm->n_coef || (!pen && (lm->n_aliased != d->p || lm->n_std_error != d->p ||
                                               lm->n_t_value != d->p))) {
        rc = ch_err_set(err, CH_EINVAL,
                        "the linear model has %zu coefficients but its schema gives %zu columns",
                        lm->n_coef, d->p);
    } else if (pen) {
        rc = s_unpack_pen(md, lm, d->p, err);
    }
    if (rc == 0 && !pen) {
        ch_ols *o = &md->ols;
        size_t p = d->p;
        o->p = p;
        o->coef = malloc((p ? p : 1) * sizeof(double));
        o->std_error = malloc((p ? p : 1) * sizeof(double));
        o->t_value = malloc((p ? p : 1) * sizeof(double));
        o->aliased = calloc(p ? p : 1, sizeof(bool));
        if (!o->coef || !o->std_error || !o->t_value || !o->aliased) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        } else {
            for (size_t j = 0; j < p; j++) {
                o->coef[j] = lm->coef[j];
                o->std_error[j] = lm->std_error[j];
                o->t_value[j] = lm->t_value[j];
                o->aliased[j] = lm->aliased[j];
            }
            o->sigma = lm->sigma;
            o->n = (double)lm->n;
            o->df_residual = lm->df_residual;
            o->r_squared = lm->r_squared;
            o->adj_r_squared = lm->adj_r_squared;
            o->rss = lm->rss;
            o->tss = lm->tss;
            o->rank = lm->rank;
        }
    }
    if (rc == 0) {
        md->n_dropped = (double)lm->n_dropped;
        md->sum_w = lm->sum_w;
    }
    cohort__linear__linear_model__free_unpacked(lm, NULL);
    if (rc != 0) {
        ch_design_destroy(&d);
        if (md) {
            ch_ols_free(&md->ols);
            ch_pen_fit_free(&md->pen);
        }
        free(md);
        return NULL;
    }
    md->design = d;
    return md;
}

/* R's summary.lm numbers derived from the fit: the overall F test, the
 * log-likelihood (unweighted fits; NaN with weights, whose log-sum the
 * factor does not keep), AIC and BIC with the variance counted. */
typedef struct s_ftest {
    double f, df1, df2, p_value, loglik, aic, bic, t_crit;
} s_ftest;

static s_ftest s_tests(const s_model *md)
{
    const ch_ols *o = &md->ols;
    s_ftest r;
    bool centred = md->design->intercept && o->p > 0 && !o->aliased[0];
    r.df1 = (double)o->rank - (centred ? 1.0 : 0.0);
    r.df2 = o->df_residual;
    r.f = r.df1 > 0 && r.df2 > 0 ? ((o->tss - o->rss) / r.df1) / (o->rss / r.df2) : NAN;
    r.p_value = ch_stat_pf_upper(r.f, r.df1, r.df2);
    double n = o->n;
    r.loglik =
        md->sum_w == n && o->rss > 0 ? -0.5 * n * (log(2 * M_PI) + 1 - log(n) + log(o->rss)) : NAN;
    r.aic = -2 * r.loglik + 2 * ((double)o->rank + 1);
    r.bic = -2 * r.loglik + log(n) * ((double)o->rank + 1);
    r.t_crit = r.df2 > 0 ? ch_stat_qt(0.975, r.df2) : NAN;
    return r;
}

/* Coefficient k's p-value and 95% interval (R's confint.lm). */
static void s_coef_inference(const s_model *md, const s_ftest *ft, size_t k, double *pv, double *lo,
                             double *hi)
{
    const ch_ols *o = &md->ols;
    *pv = ch_stat_t_two_sided(o->t_value[k], o->df_residual);
    *lo = o->coef[k] - ft->t_crit * o->std_error[k];
    *hi = o->coef[k] + ft->t_crit * o->std_error[k];
}

static int s_summary_json_pen(const s_model *md, ch_buf *j)
{
    const ch_pen_fit *f = &md->pen;
    size_t p = md->design->p;
    ch_buf_puts(j, ",\n  \"coefficients\": [");
    for (size_t k = 0; k < p; k++) {
        ch_buf_puts(j, k ? ",\n    {\"name\": " : "\n    {\"name\": ");
        ch_buf_json_str(j, md->design->names[k]);
        ch_buf_puts(j, ", \"estimate\": ");
        ch_buf_json_num(j, f->coef[k]);
        ch_buf_puts(j, ", \"std_error\": null, \"statistic\": null, \"p_value\": null, "
                       "\"ci_low\": null, \"ci_high\": null, \"aliased\": false}");
    }
    ch_buf_printf(
        j, "\n  ],\n  \"fit\": {\"penalty\": \"%s\", \"lambda\": ", s_penalties[md->pen_opts.kind]);
    ch_buf_json_num(j, f->lambda);
    ch_buf_puts(j, ", \"l1_ratio\": ");
    ch_buf_json_num(j, md->pen_opts.kind == CH_PEN_LASSO   ? 1.0
                       : md->pen_opts.kind == CH_PEN_RIDGE ? 0.0
                                                           : md->pen_opts.l1_ratio);
    ch_buf_printf(j, ", \"chosen_by\": \"%s\", \"nonzero\": %zu, \"n\": ",
                  f->n_path > 1 ? "cross-validation" : "model.lambda", f->nonzero);
    ch_buf_json_num(j, f->n);
    ch_buf_puts(j, ", \"n_dropped\": ");
    ch_buf_json_num(j, md->n_dropped);
    ch_buf_puts(j, ", \"r_squared\": ");
    ch_buf_json_num(j, f->tss > 0 ? 1 - f->rss / f->tss : NAN);
    if (f->n_path > 1) {
        ch_buf_puts(j, ", \"cv_mse\": ");
        ch_buf_json_num(j, f->path_cv[f->best]);
    }
    ch_buf_puts(j, "}");
    return j->failed ? CH_ENOMEM : 0;
}

static int s_summary_json(const void *vm, ch_buf *j)
{
    const s_model *md = vm;
    if (s_penalized(md)) {
        return s_summary_json_pen(md, j);
    }
    const ch_ols *o = &md->ols;
    s_ftest ft = s_tests(md);
    ch_buf_puts(j, ",\n  \"coefficients\": [");
    for (size_t k = 0; k < o->p; k++) {
        double pv, lo, hi;
        s_coef_inference(md, &ft, k, &pv, &lo, &hi);
        ch_buf_puts(j, k ? ",\n    {\"name\": " : "\n    {\"name\": ");
        ch_buf_json_str(j, md->design->names[k]);
        ch_buf_puts(j, ", \"estimate\": ");
        ch_buf_json_num(j, o->coef[k]);
        ch_buf_puts(j, ", \"std_error\": ");
        ch_buf_json_num(j, o->std_error[k]);
        ch_buf_puts(j, ", \"t_value\": ");
        ch_buf_json_num(j, o->t_value[k]);
        ch_buf_puts(j, ", \"statistic\": ");
        ch_buf_json_num(j, o->t_value[k]);
        ch_buf_puts(j, ", \"p_value\": ");
        ch_buf_json_num(j, pv);
        ch_buf_puts(j, ", \"ci_low\": ");
        ch_buf_json_num(j, lo);
        ch_buf_puts(j, ", \"ci_high\": ");
        ch_buf_json_num(j, hi);
        ch_buf_printf(j, ", \"aliased\": %s}", o->aliased[k] ? "true" : "false");
    }
    ch_buf_puts(j, "\n  ],\n  \"fit\": {\"n\": ");
    ch_buf_json_num(j, o->n);
    ch_buf_puts(j, ", \"n_dropped\": ");
    ch_buf_json_num(j, md->n_dropped);
    ch_buf_printf(j, ", \"rank\": %zu, \"df_residual\": ", o->rank);
    ch_buf_json_num(j, o->df_residual);
    ch_buf_puts(j, ", \"sigma\": ");
    ch_buf_json_num(j, o->sigma);
    ch_buf_puts(j, ", \"r_squared\": ");
    ch_buf_json_num(j, o->r_squared);
    ch_buf_puts(j, ", \"adj_r_squared\": ");
    ch_buf_json_num(j, o->adj_r_squared);
    ch_buf_puts(j, ", \"f_statistic\": ");
    ch_buf_json_num(j, ft.f);
    ch_buf_puts(j, ", \"f_df1\": ");
    ch_buf_json_num(j, ft.df1);
    ch_buf_puts(j, ", \"f_df2\": ");
    ch_buf_json_num(j, ft.df2);
    ch_buf_puts(j, ", \"f_p_value\": ");
    ch_buf_json_num(j, ft.p_value);
    ch_buf_puts(j, ", \"loglik\": ");
    ch_buf_json_num(j, ft.loglik);
    ch_buf_puts(j, ", \"aic\": ");
    ch_buf_json_num(j, ft.aic);
    ch_buf_puts(j, ", \"bic\": ");
    ch_buf_json_num(j, ft.bic);
    ch_buf_puts(j, "}");
    return j->failed ? CH_ENOMEM : 0;
}

/* A p-value as R's format.pval prints it. */
static void s_fmt_p(double p, char *buf, size_t n)
{
    if (isnan(p)) {
        snprintf(buf, n, "NA");
    } else if (p < 2.2e-16) {
        snprintf(buf, n, "< 2e-16");
    } else {
        snprintf(buf, n, "%.3g", p);
    }
}

static int s_describe_pen(const s_model *md, ch_buf *text)
{
    const ch_pen_fit *f = &md->pen;
    ch_buf_printf(text,
                  "Penalized least squares: %s, lambda %.6g (%s), %zu of %zu penalized "
                  "coefficients not zero\n\n",
                  s_penalties[md->pen_opts.kind], f->lambda,
                  f->n_path > 1 ? "chosen by cross-validation" : "given", f->nonzero,
                  md->design->p - (md->design->intercept ? 1 : 0));
    ch_buf_printf(text, "%-32s %14s\n", "", "Estimate");
    for (size_t k = 0; k < md->design->p; k++) {
        ch_buf_printf(text, "%-32.32s %14.6g\n", md->design->names[k], f->coef[k]);
    }
    ch_buf_printf(text, "\nTraining R-squared: %.6g", f->tss > 0 ? 1 - f->rss / f->tss : NAN);
    if (f->n_path > 1) {
        ch_buf_printf(text, ", cross-validated MSE: %.6g", f->path_cv[f->best]);
    }
    ch_buf_puts(text, "\n");
    return text->failed ? CH_ENOMEM : 0;
}

static int s_describe(const void *vm, ch_buf *text)
{
    const s_model *md = vm;
    if (s_penalized(md)) {
        return s_describe_pen(md, text);
    }
    const ch_ols *o = &md->ols;
    s_ftest ft = s_tests(md);
    ch_buf_printf(text, "Coefficients:\n%-32s %14s %14s %8s %9s\n", "", "Estimate", "Std. Error",
                  "t value", "Pr(>|t|)");
    for (size_t k = 0; k < o->p; k++) {
        if (o->aliased[k]) {
            ch_buf_printf(text, "%-32.32s %14s %14s %8s %9s\n", md->design->names[k], "NA", "NA",
                          "NA", "NA");
        } else {
            double pv, lo, hi;
            char pb[32];
            s_coef_inference(md, &ft, k, &pv, &lo, &hi);
            s_fmt_p(pv, pb, sizeof pb);
            ch_buf_printf(text, "%-32.32s %14.6g %14.6g %8.3f %9s %s\n", md->design->names[k],
                          o->coef[k], o->std_error[k], o->t_value[k], pb, ch_stat_stars(pv));
        }
    }
    ch_buf_puts(text, "---\nSignif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1\n\n");
    size_t n_alias = o->p - o->rank;
    if (n_alias) {
        ch_buf_printf(text, "(%zu not defined because of singularities)\n", n_alias);
    }
    char fp[32];
    s_fmt_p(ft.p_value, fp, sizeof fp);
    ch_buf_printf(text,
                  "Residual standard error: %.6g on %.0f degrees of freedom\n"
                  "Multiple R-squared: %.6g,\tAdjusted R-squared: %.6g\n"
                  "F-statistic: %.6g on %.0f and %.0f DF,  p-value: %s\n"
                  "Log-likelihood: %.6g,  AIC: %.6g,  BIC: %.6g\n",
                  o->sigma, o->df_residual, o->r_squared, o->adj_r_squared, ft.f, ft.df1, ft.df2,
                  fp, ft.loglik, ft.aic, ft.bic);
    if (md->n_dropped > 0) {
        ch_buf_printf(text, "(%.0f observations deleted due to missingness)\n", md->n_dropped);
    }
    return text->failed ? CH_ENOMEM : 0;
}

/* The report of a penalized fit: coefficients, the penalty, the CV curve. */
static int s_report_pen(const s_model *md, ch_report *r, ch_err *err)
{
    const ch_pen_fit *f = &md->pen;
    size_t p = md->design->p;
    char **cells = calloc(p * 2 + 1, sizeof *cells);
    if (!cells) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    int rc = 0;
    for (size_t k = 0; k < p; k++) {
        char v[48];
        snprintf(v, sizeof v, "%.6g", f->coef[k]);
        cells[2 * k] = strdup(md->design->names[k]);
        cells[2 * k + 1] = strdup(v);
        if (!cells[2 * k] || !cells[2 * k + 1]) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        }
    }
    static const char *const header[] = {"term", "estimate"};
    if (rc == 0) {
        ch_report_section(r, "Penalized coefficients");
        rc = ch_report_table(r, header, 2, (const char *const *)cells, p, -1);
    }
    for (size_t i = 0; i < 2 * p; i++) {
        free(cells[i]);
    }
    free(cells);
    if (rc == 0) {
        char v[5][64];
        snprintf(v[0], sizeof v[0], "%s", s_penalties[md->pen_opts.kind]);
        snprintf(v[1], sizeof v[1], "%.6g (%s)", f->lambda,
                 f->n_path > 1 ? "cross-validation" : "given");
        snprintf(v[2], sizeof v[2], "%zu", f->nonzero);
        snprintf(v[3], sizeof v[3], "%.6g", f->tss > 0 ? 1 - f->rss / f->tss : NAN);
        snprintf(v[4], sizeof v[4], "%.6g", f->n_path > 1 ? f->path_cv[f->best] : NAN);
        const char *keys[] = {"penalty", "lambda", "nonzero coefficients", "training R-squared",
                              "cross-validated MSE"};
        const char *vals[] = {v[0], v[1], v[2], v[3], v[4]};
        rc = ch_report_kv(r, keys, vals, 5);
    }
    if (rc == 0 && f->n_path > 1) {
        ch_svg_series s = {"CV mean squared error", f->path_lambda, f->path_cv, f->n_path};
        ch_svg_line_opts o = {
            "Cross-validation error over the lambda path", "lambda", "MSE", 0, 0, false};
        rc = ch_report_line_chart(r, &o, &s, 1);
    }
    return rc;
}

static int s_report(const void *vm, ch_report *r, ch_err *err)
{
    const s_model *md = vm;
    if (s_penalized(md)) {
        return s_report_pen(md, r, err);
    }
    const ch_ols *o = &md->ols;
    s_ftest ft = s_tests(md);
    size_t p = o->p, nc = 8;
    char **cells = calloc(p * nc + 1, sizeof *cells);
    if (!cells) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    int rc = 0;
    for (size_t k = 0; k < p && rc == 0; k++) {
        char v[7][48];
        if (o->aliased[k]) {
            snprintf(v[0], sizeof v[0], "NA (aliased)");
            for (size_t c = 1; c < 7; c++) {
                snprintf(v[c], sizeof v[c], "%s", c == 6 ? "" : "NA");
            }
        } else {
            double pv, lo, hi;
            s_coef_inference(md, &ft, k, &pv, &lo, &hi);
            snprintf(v[0], sizeof v[0], "%.6g", o->coef[k]);
            snprintf(v[1], sizeof v[1], "%.6g", o->std_error[k]);
            snprintf(v[2], sizeof v[2], "%.3f", o->t_value[k]);
            s_fmt_p(pv, v[3], sizeof v[3]);
            snprintf(v[4], sizeof v[4], "%.6g", lo);
            snprintf(v[5], sizeof v[5], "%.6g", hi);
            snprintf(v[6], sizeof v[6], "%s", ch_stat_stars(pv));
        }
        cells[k * nc] = strdup(md->design->names[k]);
        for (size_t c = 0; c < 7; c++) {
            cells[k * nc + 1 + c] = strdup(v[c]);
        }
        for (size_t c = 0; c < nc; c++) {
            if (!cells[k * nc + c]) {
                rc = ch_err_set(err, CH_ENOMEM, "out of memory");
            }
        }
    }
    static const char *const header[] = {"term",     "estimate", "std. error", "t value",
                                         "Pr(>|t|)", "2.5 %",    "97.5 %",     ""};
    if (rc == 0) {
        ch_report_section(r, "Coefficients");
        rc = ch_report_table(r, header, nc, (const char *const *)cells, p, -1);
        ch_report_paragraph(r, "Signif. codes: 0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1.");
    }
    for (size_t i = 0; i < p * nc; i++) {
        free(cells[i]);
    }
    free(cells);
    if (rc == 0) {
        char v[8][96], fp[32];
        s_fmt_p(ft.p_value, fp, sizeof fp);
        snprintf(v[0], sizeof v[0], "%.0f", o->n);
        snprintf(v[1], sizeof v[1], "%zu of %zu", o->rank, p);
        snprintf(v[2], sizeof v[2], "%.6g on %.0f df", o->sigma, o->df_residual);
        snprintf(v[3], sizeof v[3], "%.6g", o->r_squared);
        snprintf(v[4], sizeof v[4], "%.6g", o->adj_r_squared);
        snprintf(v[5], sizeof v[5], "%.6g on %.0f and %.0f DF, p-value %s", ft.f, ft.df1, ft.df2,
                 fp);
        snprintf(v[6], sizeof v[6], "%.6g", ft.loglik);
        snprintf(v[7], sizeof v[7], "%.6g / %.6g", ft.aic, ft.bic);
        const char *keys[] = {
            "rows used",          "rank",        "residual standard error", "R-squared",
            "adjusted R-squared", "F-statistic", "log-likelihood",          "AIC / BIC"};
        const char *vals[] = {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]};
        rc = ch_report_kv(r, keys, vals, 8);
    }
    return rc;
}

const ch_algo ch_algo_linear = {
    .name = "linear",
    .summary = "ordinary and weighted least squares, exact across workers (R's lm)",
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
