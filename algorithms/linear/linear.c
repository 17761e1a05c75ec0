/* linear.c: ordinary and weighted least squares, exact across workers.
 *
 * Round 1 (OP_FACTOR): each worker factors its rows of [X y] block by block
 * (QR) and combines the blocks over the fixed reduction tree
 * (common/reduce.h); the coordinator completes the tree and solves with R's
 * limited pivoting (qr.h). The variance inflation factors and condition
 * numbers come from the same root (collin.h).
 * Round 2 (OP_RESID, unpenalized fits, unless both model.residual_quantiles
 * is false and model.robust is none): with the coefficients (and
 * (X'X)^-1 for model.robust) as payload, each block sends its row count,
 * the first count histogram of its residuals and the sandwich meat
 * (robust.h).
 * Rounds 3..7 (OP_SELECT): counting rounds for the exact residual
 * quantiles (quantile.h).
 * Only triangular factors, sums and counts leave a worker, never a row or
 * a residual. The result is the same bytes for any number of workers in iid
 * and stratified plans. */
#include "algorithms/algo.h"
#include "algorithms/linear/collin.h"
#include "algorithms/linear/design.h"
#include "algorithms/linear/penalized.h"
#include "algorithms/linear/predict.h"
#include "algorithms/linear/qr.h"
#include "algorithms/linear/quantile.h"
#include "algorithms/linear/robust.h"
#include "algorithms/linear/stats.h"
#include "common/reduce.h"
#include "proto/linear.pb-c.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OP_FACTOR = 1, OP_RESID = 2, OP_SELECT = 3 };

/* The coordinator's phases, in order. */
enum { PH_FACTOR = 0, PH_RESID, PH_SELECT, PH_DONE };

typedef struct s_model {
    ch_design *design;
    ch_ols ols;
    double n_dropped;
    double sum_w;
    ch_pen_opts pen_opts; /* kind CH_PEN_NONE for least squares */
    ch_pen_fit pen;
    double *vif;                /* p, NaN for the intercept and aliased columns; NULL if unknown */
    double kappa, kappa_scaled; /* condition numbers (collin.h); NaN if unknown */
    bool has_quantiles;
    double resid_q[CH_QSEL_PROBS]; /* Min, 1Q, Median, 3Q, Max of the (weighted) residuals */
    ch_hc_type robust;
    double *robust_se;       /* p when robust != CH_HC_NONE */
    bool predict_se;         /* model.predict_se: cohort predict writes fit,se_fit */
    const ch_schema *schema; /* borrowed from the model file (unpack), else NULL */
} s_model;

typedef struct s_coord {
    ch_design *design;
    size_t m;
    ch_pen_opts pen;
    ch_pen_ctx pctx; /* m and the number of folds k */
    ch_reduce *reduce;
    bool done; /* the factor round is in (root is set) */
    double *root;
    size_t n_train, n_blocks;
    int phase;
    bool quantiles;     /* model.residual_quantiles */
    ch_hc_type robust;  /* model.robust */
    ch_ols ols;         /* the solve of root (unpenalized fits) */
    ch_reduce *reduce2; /* the current residual round */
    double *meat;       /* p x p summed sandwich meat (model.robust) */
    ch_qsel *qs;
    ch_qsel_task_t qtask; /* the current select round, for the combine */
    bool predict_se;
} s_coord;

typedef struct s_worker {
    ch_design *design;
    size_t m;
    ch_pen_ctx pctx;
    const ch_worker_env *env;
    double *a; /* scratch block matrix */
    size_t a_rows;
    double *e;           /* scratch residuals (a_rows) */
    ch_qsel_cache cache; /* residuals per block between the rounds of a search */
    bool quantiles;      /* model.residual_quantiles */
    ch_hc_type robust;
    const double *beta;          /* during a residual task: the coefficients (aliased 0) */
    const double *cov;           /* during OP_RESID with model.robust: (X'X)^-1, aliased 0 */
    const ch_qsel_task_t *qtask; /* during OP_SELECT */
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

/* Reads model.residual_quantiles and model.robust (err may be NULL once
 * validated). */
static int s_read_report(ch_config *cfg, bool *quantiles, ch_hc_type *robust, ch_err *err)
{
    int kind = 0;
    int rc = ch_cfg_bool(cfg, "model.residual_quantiles", true, quantiles, err);
    if (rc == 0) {
        rc = ch_cfg_enum(cfg, "model.robust", "none", ch_hc_names, &kind, err);
    }
    *robust = (ch_hc_type)kind;
    return rc;
}

/* Reads model.predict_se and model.predict_type (err may be NULL once
 * validated). The identity link makes both scales the same. */
static int s_read_predict(ch_config *cfg, bool *se, ch_err *err)
{
    int type = 0;
    int rc = ch_cfg_bool(cfg, "model.predict_se", false, se, err);
    if (rc == 0) {
        rc = ch_cfg_enum(cfg, "model.predict_type", "response", ch_lp_scales, &type, err);
    }
    return rc;
}

static int s_configure(ch_config *cfg, const ch_schema *schema, ch_err *err)
{
    ch_pen_opts o;
    bool quantiles;
    ch_hc_type robust;
    int rc = s_read_pen(cfg, &o, err);
    bool se = false;
    if (rc == 0) {
        rc = s_read_report(cfg, &quantiles, &robust, err);
    }
    if (rc == 0) {
        rc = s_read_predict(cfg, &se, err);
    }
    if (rc == 0 && se && o.kind != CH_PEN_NONE) {
        rc = ch_err_set(err, CH_EINVAL,
                        "%s: model.predict_se needs an unpenalized fit (model.penalty none)",
                        ch_config_where(cfg, "model.predict_se"));
    }
    if (rc == 0 && robust != CH_HC_NONE && o.kind != CH_PEN_NONE) {
        rc = ch_err_set(err, CH_EINVAL,
                        "%s: model.robust needs an unpenalized fit (model.penalty none); "
                        "sandwich standard errors of a penalized fit are not defined here",
                        ch_config_where(cfg, "model.robust"));
    }
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
    bool quantiles = true;
    ch_hc_type robust = CH_HC_NONE;
    ch_pen_opts o;
    s_read_pen(cfg, &o, NULL);
    s_read_report(cfg, &quantiles, &robust, NULL);
    /* the residual round, then five counting rounds (64 key bits, 12 per
     * histogram, the first with the residual round) */
    out->rounds =
        o.kind != CH_PEN_NONE ? 1 : 1 + (quantiles || robust ? 1 : 0) + (quantiles ? 5 : 0);
    /* the worker keeps one residual per row between the counting rounds */
    out->worker_bytes += o.kind == CH_PEN_NONE && quantiles
                             ? (double)n_rows / (double)(n_workers ? n_workers : 1) * 8
                             : 0;
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
    st->n_blocks = env->n_blocks;
    s_read_pen(env->cfg, &st->pen, NULL);
    s_read_report(env->cfg, &st->quantiles, &st->robust, NULL);
    s_read_predict(env->cfg, &st->predict_se, NULL);
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

/* The coefficients for a residual round (aliased as 0) into out[p]. */
static void s_beta0(const ch_ols *o, double *out)
{
    for (size_t j = 0; j < o->p; j++) {
        out[j] = o->aliased[j] ? 0.0 : o->coef[j];
    }
}

/* Doubles of the residual round's node: [rows, the first quantile
 * histogram (model.residual_quantiles), the sandwich meat (model.robust)];
 * every entry is a sum. */
static size_t s_resid_len(size_t p, bool quantiles, ch_hc_type robust)
{
    return 1 + (quantiles ? CH_QSEL_BINS : 0) + (robust != CH_HC_NONE ? p * p : 0);
}

static int s_next_task(void *vst, uint32_t round, uint32_t *op, ch_buf *payload, ch_err *err)
{
    s_coord *st = vst;
    (void)round;
    size_t p = st->design->p;
    if (st->phase == PH_DONE) {
        return 1;
    }
    if (st->phase == PH_FACTOR) {
        *op = OP_FACTOR;
        return 0;
    }
    double *beta = malloc((p ? p : 1) * sizeof *beta);
    if (!beta) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    s_beta0(&st->ols, beta);
    ch_buf_append(payload, beta, p * sizeof *beta);
    free(beta);
    ch_reduce_destroy(&st->reduce2);
    if (st->phase == PH_RESID) {
        if (st->robust != CH_HC_NONE) {
            double *cov = malloc((p ? p * p : 1) * sizeof *cov);
            if (!cov) {
                return ch_err_set(err, CH_ENOMEM, "out of memory");
            }
            ch_robust_cov0(&st->ols, cov);
            ch_buf_append(payload, cov, p * p * sizeof *cov);
            free(cov);
        }
        st->reduce2 = ch_reduce_new(st->n_blocks, s_resid_len(p, st->quantiles, st->robust),
                                    ch_combine_sum, NULL);
        *op = OP_RESID;
    } else {
        size_t at = payload->len;
        ch_qsel_task(st->qs, payload);
        ch_qsel_task_free(&st->qtask);
        if (!payload->failed &&
            ch_qsel_parse(payload->data + at, payload->len - at, &st->qtask, err) != 0) {
            return ch_err_prefix(err, "linear");
        }
        st->reduce2 = ch_reduce_new(st->n_blocks, st->qtask.node_len, ch_qsel_combine, &st->qtask);
        *op = OP_SELECT;
    }
    if (!st->reduce2 || payload->failed) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    return 0;
}

/* After the factor round: the solve of an unpenalized fit, and whether a
 * residual round follows. */
static int s_after_factor(s_coord *st, ch_err *err)
{
    if (st->pen.kind != CH_PEN_NONE) {
        st->phase = PH_DONE;
        return 0;
    }
    ch_ols_free(&st->ols);
    int rc = ch_qr_solve(st->root, st->design->p, st->design->intercept, &st->ols, err);
    if (rc != 0) {
        return rc;
    }
    st->phase = st->quantiles || st->robust != CH_HC_NONE ? PH_RESID : PH_DONE;
    return 0;
}

/* Completes the residual or select round's tree into a new array. */
static int s_finish2(s_coord *st, const ch_update *ups, size_t n, size_t len, double **out,
                     ch_err *err)
{
    for (size_t i = 0; i < n; i++) {
        int rc = ch_reduce_add(st->reduce2, ups[i].state, ups[i].state_len, err);
        if (rc != 0) {
            return ch_err_prefix(err, "update for shard %u", ups[i].shard);
        }
    }
    *out = malloc((len ? len : 1) * sizeof **out);
    if (!*out) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    int rc = ch_reduce_finish(st->reduce2, *out, err);
    ch_reduce_destroy(&st->reduce2);
    if (rc != 0) {
        free(*out);
        *out = NULL;
    }
    return rc;
}

static int s_aggregate_resid(s_coord *st, uint32_t op, const ch_update *ups, size_t n,
                             ch_round_metrics *m, ch_err *err)
{
    size_t p = st->design->p;
    bool resid = op == OP_RESID;
    if ((resid && st->phase != PH_RESID) || (!resid && st->phase != PH_SELECT) || !st->reduce2) {
        return ch_err_set(err, CH_EPROTO, "linear: unexpected op %u", op);
    }
    size_t len = resid ? s_resid_len(p, st->quantiles, st->robust) : st->qtask.node_len;
    double *node;
    int rc = s_finish2(st, ups, n, len, &node, err);
    if (rc != 0) {
        return rc;
    }
    if (resid) {
        if (node[0] != st->ols.n) {
            rc = ch_err_set(err, CH_EPROTO,
                            "linear: the residual round counted %.0f rows, the factor round %.0f",
                            node[0], st->ols.n);
        } else if (st->robust != CH_HC_NONE) {
            st->meat = malloc((p ? p * p : 1) * sizeof *st->meat);
            if (!st->meat) {
                rc = ch_err_set(err, CH_ENOMEM, "out of memory");
            } else {
                memcpy(st->meat, node + 1 + (st->quantiles ? CH_QSEL_BINS : 0),
                       p * p * sizeof *st->meat);
            }
        }
        if (rc == 0 && st->quantiles) {
            st->qs = ch_qsel_new(node[0], node + 1);
            if (!st->qs) {
                rc = ch_err_set(err, CH_EPROTO,
                                "linear: the residual histogram does not count %.0f rows", node[0]);
            }
        }
    } else {
        rc = ch_qsel_consume(st->qs, node, err);
    }
    free(node);
    if (rc == 0) {
        st->phase = st->qs && !ch_qsel_done(st->qs) ? PH_SELECT : PH_DONE;
    }
    return rc;
}

static int s_aggregate(void *vst, uint32_t round, uint32_t op, const ch_update *ups, size_t n,
                       ch_round_metrics *m, ch_err *err)
{
    s_coord *st = vst;
    (void)round;
    if (op != OP_FACTOR) {
        return s_aggregate_resid(st, op, ups, n, m, err);
    }
    if (st->phase != PH_FACTOR || st->root) {
        return ch_err_set(err, CH_EPROTO, "linear: a second factor round");
    }
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
        free(st->root);
        st->root = NULL;
        return rc;
    }
    double rows = 0;
    for (size_t f = 0; f < st->pctx.k; f++) {
        rows += st->root[f * ch_qr_node_len(st->design->p)];
    }
    ch_round_metric(m, "rows_used", rows);
    st->done = true;
    return s_after_factor(st, err);
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
    free(md->vif);
    free(md->robust_se);
    free(md);
    *pm = NULL;
}

/* The report's extras of an unpenalized fit: VIF, condition numbers,
 * residual quantiles, robust standard errors. */
static int s_finalize_extras(s_coord *st, s_model *md, ch_err *err)
{
    size_t p = st->design->p;
    md->vif = malloc((p ? p : 1) * sizeof *md->vif);
    if (!md->vif) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    ch_collin_vif(st->root, &md->ols, st->design->intercept, md->vif);
    int rc = ch_collin_cond(st->root, &md->ols, &md->kappa, &md->kappa_scaled);
    if (rc != 0) {
        return ch_err_set(err, rc, "linear: the singular values of the design failed");
    }
    if (st->qs) {
        md->has_quantiles = true;
        ch_qsel_result(st->qs, md->resid_q);
    }
    if (st->robust != CH_HC_NONE && st->meat) {
        md->robust = st->robust;
        md->robust_se = malloc((p ? p : 1) * sizeof *md->robust_se);
        if (!md->robust_se || ch_robust_se(st->robust, st->meat, &md->ols, md->robust_se) != 0) {
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
    }
    return 0;
}

static void *s_finalize(void *vst, ch_err *err)
{
    s_coord *st = vst;
    if (!st->root || st->phase != PH_DONE) {
        ch_err_set(err, CH_EINTERNAL, "linear: finalize before the last round");
        return NULL;
    }
    s_model *md = calloc(1, sizeof *md);
    if (!md) {
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    md->pen_opts = st->pen;
    md->kappa = md->kappa_scaled = NAN;
    if (st->pen.kind != CH_PEN_NONE) {
        if (ch_pen_fit_nodes(st->root, st->pctx.k, st->design->p, &st->pen, &md->pen, err) != 0) {
            free(md);
            return NULL;
        }
        md->ols.n = md->pen.n;
        md->sum_w = md->pen.sum_w;
    } else {
        md->ols = st->ols;
        memset(&st->ols, 0, sizeof st->ols);
        md->predict_se = st->predict_se;
        md->sum_w = st->root[1];
        if (s_finalize_extras(st, md, err) != 0) {
            s_model_destroy((void **)&md);
            return NULL;
        }
    }
    md->design = st->design;
    st->design = NULL;
    md->n_dropped = (double)st->n_train - md->ols.n;
    return md;
}

/* Checkpoint: whether the factor round is in, then its root. The residual
 * rounds are not saved: after a resume they run again from the root and
 * give the same numbers. */
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
        free(st->root);
        st->root = malloc(need);
        if (!st->root) {
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        memcpy(st->root, data + 1, need);
        st->done = true;
        ch_qsel_destroy(&st->qs);
        free(st->meat);
        st->meat = NULL;
        int rc = s_after_factor(st, err);
        if (rc != 0) {
            return ch_err_prefix(err, "linear checkpoint");
        }
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
    ch_reduce_destroy(&st->reduce2);
    ch_ols_free(&st->ols);
    ch_qsel_destroy(&st->qs);
    ch_qsel_task_free(&st->qtask);
    free(st->meat);
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
    s_read_report(env->cfg, &w->quantiles, &w->robust, NULL);
    w->pctx.m = w->m;
    w->pctx.k = s_folds(&o);
    return w;
}

/* Gathers block `block`'s complete rows into w->a as [sqrt(w) X, sqrt(w) y]
 * (column-major, leading dimension *used); *sum_w gets the weight sum. */
static int s_gather(s_worker *w, size_t block, size_t *used_out, double *sum_w_out, ch_err *err)
{
    const ch_plan *plan = w->env->plan;
    const ch_table *t = w->env->train;
    size_t lb = block - w->env->block_offset;
    size_t lo = plan->block_begin[lb], hi = plan->block_begin[lb + 1];
    size_t rows = hi - lo, m = w->m, p = w->design->p;
    if (rows > w->a_rows) {
        size_t n;
        if (ch_mul_size(rows, m, &n) != 0) {
            return ch_err_set(err, CH_ENOMEM, "block too large");
        }
        free(w->a);
        free(w->e);
        w->a = ch_alloc_array(n, sizeof(double));
        w->e = ch_alloc_array(rows, sizeof(double));
        if (!w->a || !w->e) {
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
    *used_out = used;
    *sum_w_out = sum_w;
    return 0;
}

/* Leaf of the reduction: the QR factor of one block's complete rows. */
static int s_leaf(void *ctx, size_t block, double *out, ch_err *err)
{
    s_worker *w = ctx;
    out += (block % w->pctx.k) * ch_qr_node_len(w->design->p); /* the block's fold */
    size_t used;
    double sum_w;
    int rc = s_gather(w, block, &used, &sum_w, err);
    if (rc != 0) {
        return rc;
    }
    out[0] = (double)used;
    out[1] = sum_w;
    rc = ch_qr_leaf(w->a, used, w->m, out);
    if (rc != 0) {
        return ch_err_set(err, rc, "QR factorisation of block %zu failed", block);
    }
    return 0;
}

/* The weighted residuals sqrt(w) (y - x'beta) of the gathered block into
 * w->e, in a fixed order of operations. */
static void s_residuals(s_worker *w, size_t used)
{
    size_t p = w->design->p;
    const double *y = w->a + p * used;
    for (size_t k = 0; k < used; k++) {
        w->e[k] = y[k];
    }
    for (size_t j = 0; j < p; j++) {
        double b = w->beta[j];
        const double *x = w->a + j * used;
        for (size_t k = 0; k < used; k++) {
            w->e[k] -= x[k] * b;
        }
    }
}

/* Leaf of the residual round: [rows, first histogram, meat]. */
static int s_leaf_resid(void *ctx, size_t block, double *out, ch_err *err)
{
    s_worker *w = ctx;
    size_t used;
    double sum_w;
    int rc = s_gather(w, block, &used, &sum_w, err);
    if (rc != 0) {
        return rc;
    }
    s_residuals(w, used);
    /* kept for the counting rounds; without memory they recompute */
    ch_qsel_cache_put(&w->cache, w->beta, w->design->p, w->env->plan->n_blocks,
                      block - w->env->block_offset, w->e, used);
    out[0] = (double)used;
    if (w->quantiles) {
        ch_qsel_first_leaf(w->e, used, out + 1);
    }
    if (w->robust != CH_HC_NONE &&
        ch_robust_meat(w->robust, w->a, used, w->design->p, w->e, w->cov,
                       out + 1 + (w->quantiles ? CH_QSEL_BINS : 0)) != 0) {
        return ch_err_set(err, CH_ENOMEM, "out of memory for the sandwich of block %zu", block);
    }
    return 0;
}

/* Leaf of a counting round (quantile.h). */
static int s_leaf_select(void *ctx, size_t block, double *out, ch_err *err)
{
    s_worker *w = ctx;
    size_t used;
    double sum_w;
    const double *kept =
        ch_qsel_cache_get(&w->cache, w->beta, w->design->p, block - w->env->block_offset, &used);
    if (kept) {
        ch_qsel_leaf(w->qtask, kept, used, out);
        return 0;
    }
    int rc = s_gather(w, block, &used, &sum_w, err);
    if (rc != 0) {
        return rc;
    }
    s_residuals(w, used);
    ch_qsel_leaf(w->qtask, w->e, used, out);
    return 0;
}

/* A residual or counting round: the payload is the coefficients, then
 * (X'X)^-1 (OP_RESID with model.robust) or the counting task (OP_SELECT). */
static int s_run_resid(s_worker *w, uint32_t op, const uint8_t *payload, size_t len, size_t b0,
                       size_t b1, ch_buf *out, ch_err *err)
{
    size_t p = w->design->p;
    size_t head = p * sizeof(double);
    size_t cov_len = op == OP_RESID && w->robust != CH_HC_NONE ? p * p * sizeof(double) : 0;
    if (len < head || (op == OP_RESID && len != head + cov_len)) {
        return ch_err_set(err, CH_EPROTO, "linear: residual task of %zu bytes for %zu columns", len,
                          p);
    }
    double *msg = malloc(head + cov_len + sizeof(double));
    if (!msg) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    memcpy(msg, payload, head + cov_len);
    for (size_t j = 0; j < p + cov_len / sizeof(double); j++) {
        if (!isfinite(msg[j])) {
            free(msg);
            return ch_err_set(err, CH_EPROTO, "linear: the residual task has a non-finite value");
        }
    }
    w->beta = msg;
    w->cov = msg + p;
    int rc;
    if (op == OP_RESID) {
        rc =
            ch_reduce_range(w->env->n_blocks_total, b0, b1, s_resid_len(p, w->quantiles, w->robust),
                            s_leaf_resid, w, ch_combine_sum, NULL, out, err);
    } else {
        ch_qsel_task_t task;
        rc = ch_qsel_parse(payload + head, len - head, &task, err);
        if (rc == 0) {
            w->qtask = &task;
            rc = ch_reduce_range(w->env->n_blocks_total, b0, b1, task.node_len, s_leaf_select, w,
                                 ch_qsel_combine, &task, out, err);
            ch_qsel_task_free(&task);
        }
    }
    w->beta = w->cov = NULL;
    w->qtask = NULL;
    free(msg);
    return rc;
}

static int s_run_task(void *vw, uint32_t round, uint32_t op, const uint8_t *payload, size_t len,
                      uint32_t shard, ch_buf *out, uint64_t *samples, ch_err *err)
{
    s_worker *w = vw;
    (void)round;
    if (op != OP_FACTOR && op != OP_RESID && op != OP_SELECT) {
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
    if (op != OP_FACTOR) {
        if (w->pctx.k > 1) {
            return ch_err_set(err, CH_EPROTO, "linear: residual round for a penalized fit");
        }
        return s_run_resid(w, op, payload, len, b0, b1, out, err);
    }
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
    free(w->e);
    ch_qsel_cache_free(&w->cache);
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
        if (md->vif) {
            lm.n_vif = p;
            lm.vif = md->vif;
            lm.condition_number = md->kappa;
            lm.condition_number_scaled = md->kappa_scaled;
        }
        if (md->has_quantiles) {
            lm.n_residual_quantiles = CH_QSEL_PROBS;
            lm.residual_quantiles = (double *)md->resid_q;
        }
        if (md->robust != CH_HC_NONE) {
            lm.robust = (char *)ch_hc_names[md->robust];
            lm.n_robust_std_error = p;
            lm.robust_std_error = md->robust_se;
        }
        lm.n_cov_unscaled = o->cov_unscaled ? p * p : 0;
        lm.cov_unscaled = o->cov_unscaled;
        lm.predict_se = md->predict_se;
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

/* The diagnostics of an unpenalized fit from a decoded message (older
 * models have none: vif stays NULL, the quantiles and robust errors off). */
static int s_unpack_extras(s_model *md, const Cohort__Linear__LinearModel *lm, size_t p,
                           ch_err *err)
{
    md->kappa = md->kappa_scaled = NAN;
    if ((lm->n_vif && lm->n_vif != p) ||
        (lm->n_residual_quantiles && lm->n_residual_quantiles != CH_QSEL_PROBS) ||
        (lm->n_robust_std_error && lm->n_robust_std_error != p)) {
        return ch_err_set(err, CH_EINVAL, "the linear model's diagnostics have the wrong length");
    }
    if (lm->n_vif) {
        md->vif = malloc(p * sizeof *md->vif);
        if (!md->vif) {
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        memcpy(md->vif, lm->vif, p * sizeof *md->vif);
        md->kappa = lm->condition_number;
        md->kappa_scaled = lm->condition_number_scaled;
    }
    if (lm->n_cov_unscaled && lm->n_cov_unscaled != p * p) {
        return ch_err_set(err, CH_EINVAL, "the linear model's covariance has the wrong length");
    }
    if (lm->n_cov_unscaled) {
        md->ols.cov_unscaled = malloc(p * p * sizeof *md->ols.cov_unscaled);
        if (!md->ols.cov_unscaled) {
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        memcpy(md->ols.cov_unscaled, lm->cov_unscaled, p * p * sizeof *md->ols.cov_unscaled);
    }
    md->predict_se = lm->predict_se;
    if (lm->n_residual_quantiles) {
        md->has_quantiles = true;
        memcpy(md->resid_q, lm->residual_quantiles, sizeof md->resid_q);
    }
    if (lm->n_robust_std_error) {
        int kind = -1;
        for (int k = 1; ch_hc_names[k]; k++) {
            if (lm->robust && strcmp(lm->robust, ch_hc_names[k]) == 0) {
                kind = k;
            }
        }
        if (kind < 0) {
            return ch_err_set(err, CH_EINVAL, "the linear model has an unknown robust type '%s'",
                              lm->robust ? lm->robust : "");
        }
        md->robust = (ch_hc_type)kind;
        md->robust_se = malloc(p * sizeof *md->robust_se);
        if (!md->robust_se) {
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        memcpy(md->robust_se, lm->robust_std_error, p * sizeof *md->robust_se);
    }
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
            rc = s_unpack_extras(md, lm, p, err);
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
            free(md->vif);
            free(md->robust_se);
        }
        free(md);
        return NULL;
    }
    md->design = d;
    md->schema = schema;
    return md;
}

/* `cohort predict` with model.predict_se: fit,se_fit as R's
 * predict.lm(se.fit = TRUE); otherwise the ordinary prediction column. */
static int s_predict_csv(const void *vm, const ch_table *t, ch_buf *csv, ch_err *err)
{
    const s_model *md = vm;
    if (!md->predict_se || s_penalized(md)) {
        return 1;
    }
    if (!md->schema || !md->ols.cov_unscaled) {
        return ch_err_set(err, CH_EINVAL,
                          "this linear model keeps no covariance (saved by an older cohort); "
                          "train it again for model.predict_se");
    }
    ch_lp_spec s = {md->design,    md->ols.coef,   md->ols.aliased, md->ols.cov_unscaled,
                    md->ols.sigma, CH_LP_IDENTITY, CH_LP_RESPONSE,  true};
    return ch_lp_csv(&s, t, md->schema, csv, err);
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

/* Coefficient k's t statistic and p-value with the robust standard error
 * (lmtest::coeftest(fit, vcovHC(fit, type)): t with the residual df). */
static void s_robust_inference(const s_model *md, size_t k, double *t, double *pv)
{
    *t = md->ols.coef[k] / md->robust_se[k];
    *pv = ch_stat_t_two_sided(*t, md->ols.df_residual);
}

/* Whether the fit had weights other than 1 (R then prints "Weighted
 * Residuals"). */
static bool s_weighted(const s_model *md)
{
    return md->sum_w != md->ols.n;
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
        if (md->vif) {
            ch_buf_puts(j, ", \"vif\": ");
            ch_buf_json_num(j, md->vif[k]);
        }
        if (md->robust_se) {
            double rt, rp;
            s_robust_inference(md, k, &rt, &rp);
            ch_buf_puts(j, ", \"robust_std_error\": ");
            ch_buf_json_num(j, md->robust_se[k]);
            ch_buf_puts(j, ", \"robust_statistic\": ");
            ch_buf_json_num(j, rt);
            ch_buf_puts(j, ", \"robust_p_value\": ");
            ch_buf_json_num(j, rp);
        }
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
    if (md->vif) {
        ch_buf_puts(j, ", \"condition_number\": ");
        ch_buf_json_num(j, md->kappa);
        ch_buf_puts(j, ", \"condition_number_scaled\": ");
        ch_buf_json_num(j, md->kappa_scaled);
        if (o->cov_unscaled) {
            ch_collin_gvif_json(md->design, o->cov_unscaled, o->aliased, j);
        }
    }
    if (md->has_quantiles) {
        static const char *const qn[CH_QSEL_PROBS] = {"min", "q1", "median", "q3", "max"};
        ch_buf_puts(j, ", \"residual_quantiles\": {");
        for (size_t k = 0; k < CH_QSEL_PROBS; k++) {
            ch_buf_printf(j, "%s\"%s\": ", k ? ", " : "", qn[k]);
            ch_buf_json_num(j, md->resid_q[k]);
        }
        ch_buf_printf(j, ", \"weighted\": %s}", s_weighted(md) ? "true" : "false");
    }
    if (md->robust != CH_HC_NONE) {
        ch_buf_printf(j, ", \"robust\": \"%s\"", ch_hc_names[md->robust]);
    }
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

/* The text of the diagnostics: VIF, condition numbers, robust errors. */
static void s_describe_extras(const s_model *md, ch_buf *text)
{
    const ch_ols *o = &md->ols;
    if (md->vif) {
        ch_buf_puts(text, "\nVariance inflation factors, 1 / (1 - R_j^2):\n");
        for (size_t k = 0; k < o->p; k++) {
            if (!isnan(md->vif[k])) {
                ch_buf_printf(text, "%-32.32s %14.6g\n", md->design->names[k], md->vif[k]);
            }
        }
        ch_buf_printf(text,
                      "Condition number: %.6g (kappa of the design); %.6g with columns scaled to "
                      "unit length\n",
                      md->kappa, md->kappa_scaled);
        if (o->cov_unscaled) {
            ch_collin_gvif_text(md->design, o->cov_unscaled, o->aliased, text);
        }
    }
    if (md->robust_se) {
        ch_buf_printf(text,
                      "\nCoefficients with %s robust (sandwich) standard errors:\n%-32s %14s "
                      "%14s %8s %9s\n",
                      md->robust == CH_HC0   ? "HC0"
                      : md->robust == CH_HC1 ? "HC1"
                      : md->robust == CH_HC2 ? "HC2"
                                             : "HC3",
                      "", "Estimate", "Std. Error", "t value", "Pr(>|t|)");
        for (size_t k = 0; k < o->p; k++) {
            if (o->aliased[k]) {
                continue;
            }
            double t, pv;
            char pb[32];
            s_robust_inference(md, k, &t, &pv);
            s_fmt_p(pv, pb, sizeof pb);
            ch_buf_printf(text, "%-32.32s %14.6g %14.6g %8.3f %9s %s\n", md->design->names[k],
                          o->coef[k], md->robust_se[k], t, pb, ch_stat_stars(pv));
        }
    }
}

static int s_describe(const void *vm, ch_buf *text)
{
    const s_model *md = vm;
    if (s_penalized(md)) {
        return s_describe_pen(md, text);
    }
    const ch_ols *o = &md->ols;
    s_ftest ft = s_tests(md);
    if (md->has_quantiles) {
        ch_buf_printf(text, "%sResiduals (exact quantiles, type 7):\n%12s %12s %12s %12s %12s\n",
                      s_weighted(md) ? "Weighted " : "", "Min", "1Q", "Median", "3Q", "Max");
        for (size_t k = 0; k < CH_QSEL_PROBS; k++) {
            ch_buf_printf(text, "%s%12.6g", k ? " " : "", md->resid_q[k]);
        }
        ch_buf_puts(text, "\n\n");
    }
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
    s_describe_extras(md, text);
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

/* A table of rows x nc cells of short text, freed here. */
static int s_report_cells(ch_report *r, const char *const *header, size_t nc, char (*cells)[48],
                          size_t rows, ch_err *err)
{
    const char **ptr = calloc(rows * nc + 1, sizeof *ptr);
    if (!ptr) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < rows * nc; i++) {
        ptr[i] = cells[i];
    }
    int rc = ch_report_table(r, header, nc, ptr, rows, -1);
    free(ptr);
    return rc;
}

/* The report's diagnostics sections: residual quantiles, collinearity,
 * robust standard errors. */
static int s_report_extras(const s_model *md, ch_report *r, ch_err *err)
{
    const ch_ols *o = &md->ols;
    size_t p = o->p;
    int rc = 0;
    if (md->has_quantiles) {
        char v[CH_QSEL_PROBS][48];
        for (size_t k = 0; k < CH_QSEL_PROBS; k++) {
            snprintf(v[k], sizeof v[k], "%.6g", md->resid_q[k]);
        }
        static const char *const header[] = {"Min", "1Q", "Median", "3Q", "Max"};
        ch_report_section(r, s_weighted(md) ? "Weighted residuals" : "Residuals");
        rc = s_report_cells(r, header, CH_QSEL_PROBS, v, 1, err);
        if (rc == 0) {
            rc = ch_report_paragraph(r, "Exact quantiles (R's type 7), found by counting rounds "
                                        "over the workers; no row left its worker.");
        }
    }
    char(*cells)[48] = calloc(p * 5 + 1, sizeof *cells);
    if (!cells) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    if (rc == 0 && md->vif) {
        size_t rows = 0;
        for (size_t k = 0; k < p; k++) {
            if (!isnan(md->vif[k])) {
                snprintf(cells[2 * rows], 48, "%.47s", md->design->names[k]);
                snprintf(cells[2 * rows + 1], 48, "%.6g", md->vif[k]);
                rows++;
            }
        }
        static const char *const header[] = {"term", "VIF"};
        ch_report_section(r, "Collinearity");
        rc = s_report_cells(r, header, 2, cells, rows, err);
        if (rc == 0) {
            char v[2][48];
            snprintf(v[0], sizeof v[0], "%.6g", md->kappa);
            snprintf(v[1], sizeof v[1], "%.6g", md->kappa_scaled);
            const char *keys[] = {"condition number (kappa of the design)",
                                  "condition number, columns of unit length"};
            const char *vals[] = {v[0], v[1]};
            rc = ch_report_kv(r, keys, vals, 2);
        }
        if (rc == 0) {
            rc = ch_report_paragraph(
                r, "VIF = 1 / (1 - R_j^2) from regressing each column on the others (car::vif "
                   "for one-column terms). The condition number is the ratio of the largest to "
                   "the smallest singular value of the design (R's kappa(fit, exact = TRUE), "
                   "statsmodels' Cond. No.); with columns scaled to unit length, above 30 "
                   "suggests harmful collinearity (Belsley, Kuh and Welsch).");
        }
        if (rc == 0 && o->cov_unscaled) {
            rc = ch_collin_gvif_report(md->design, o->cov_unscaled, o->aliased, r, err);
        }
    }
    if (rc == 0 && md->robust_se) {
        size_t rows = 0;
        for (size_t k = 0; k < p; k++) {
            if (o->aliased[k]) {
                continue;
            }
            double t, pv;
            s_robust_inference(md, k, &t, &pv);
            snprintf(cells[5 * rows], 48, "%.47s", md->design->names[k]);
            snprintf(cells[5 * rows + 1], 48, "%.6g", o->coef[k]);
            snprintf(cells[5 * rows + 2], 48, "%.6g", md->robust_se[k]);
            snprintf(cells[5 * rows + 3], 48, "%.3f", t);
            s_fmt_p(pv, cells[5 * rows + 4], 48);
            rows++;
        }
        static const char *const header[] = {"term", "estimate", "robust std. error", "t value",
                                             "Pr(>|t|)"};
        char title[64];
        snprintf(title, sizeof title, "Robust standard errors (%s)", ch_hc_names[md->robust]);
        ch_report_section(r, title);
        rc = s_report_cells(r, header, 5, cells, rows, err);
    }
    free(cells);
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
    if (rc == 0) {
        rc = s_report_extras(md, r, err);
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
    .predict_csv = s_predict_csv,
    .summary_json = s_summary_json,
    .describe = s_describe,
    .report = s_report,
    .model_destroy = s_model_destroy,
};
