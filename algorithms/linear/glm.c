/* glm.c: logistic and Poisson regression (model.algorithm logistic and
 * poisson), distributed IRLS with R's glm report.
 *
 * Round r evaluates one state on every shard (glm.h): round 0 R's starting
 * values, later the coefficients of the last solve. The payload is the
 * coefficients; the update is the reduced node of the shard's blocks. The
 * coordinator completes the tree, reports the deviance of the round as a
 * curve, and solves for the next coefficients until R's convergence test
 * holds. The model is the same bytes for any number of workers. */
#include "algorithms/algo.h"
#include "algorithms/linear/collin.h"
#include "algorithms/linear/design.h"
#include "algorithms/linear/glm.h"
#include "algorithms/linear/predict.h"
#include "algorithms/linear/quantile.h"
#include "algorithms/linear/robust.h"
#include "algorithms/linear/stats.h"
#include "common/log.h"
#include "common/reduce.h"
#include "proto/linear.pb-c.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* IRLS evaluations, then (model.residual_quantiles or model.robust) the
 * residual round (row count, first histogram, sandwich meat) and the
 * counting rounds of the deviance residual quantiles (quantile.h). */
enum { OP_EVAL = 1, OP_RESID = 2, OP_SELECT = 3 };
enum { PH_IRLS = 0, PH_RESID, PH_SELECT, PH_DONE };

typedef struct s_model {
    ch_glm_family fam;
    ch_design *design;
    size_t p, rank;
    double *coef, *se, *cov; /* cov: p x p unscaled (dispersion 1) */
    bool *aliased;
    double deviance, null_deviance, df_residual, df_null, loglik;
    uint32_t iter;
    bool converged;
    double n, n_dropped, n_boundary;
    double *path;
    size_t n_path;
    double *vif;                /* p, NaN for the intercept and aliased; NULL if unknown */
    double kappa, kappa_scaled; /* condition numbers of sqrt(W) X (collin.h) */
    ch_lp_scale predict_type;   /* model.predict_type */
    bool predict_se;            /* model.predict_se */
    const ch_schema *schema;    /* borrowed from the model file (unpack), else NULL */
    bool has_quantiles;
    double resid_q[CH_QSEL_PROBS]; /* deviance residuals: Min, 1Q, Median, 3Q, Max */
    ch_hc_type robust;
    double *robust_se; /* p when robust != CH_HC_NONE */
} s_model;

typedef struct s_coord {
    ch_glm_family fam;
    ch_design *design;
    size_t m, n_blocks, n_train;
    ch_reduce *reduce;
    ch_glm_iter it;
    double *root, *last_root; /* the last round's root; the root of the last solve */
    ch_lp_scale predict_type;
    bool predict_se;
    int phase;
    bool quantiles;    /* model.residual_quantiles */
    ch_hc_type robust; /* model.robust */
    double *meat;      /* p x p, after the residual round with model.robust */
    ch_qsel *qs;
    ch_qsel_task_t qtask; /* the current counting round, for the combine */
} s_coord;

typedef struct s_worker {
    ch_glm_family fam;
    ch_design *design;
    size_t m;
    const ch_worker_env *env;
    const double *beta; /* during run_task: NULL for the starting values */
    ch_glm_ws ws;
    const ch_qsel_task_t *qtask; /* during OP_SELECT */
    double *e, *x;               /* residual scratch (e_len rows) and one design row */
    size_t e_len;
    ch_qsel_cache cache;           /* deviance residuals per block between the counting rounds */
    ch_hc_type robust;             /* model.robust */
    bool quantiles;                /* model.residual_quantiles */
    const double *beta_prev, *cov; /* during OP_RESID with model.robust (beta_prev NULL:
                                      the starting values) */
    double *a;                     /* rows x p scratch for the sandwich */
    size_t a_rows;
} s_worker;

/* --- configuration -------------------------------------------------------- */

/* Reads model.predict_type (response or link) and model.predict_se: what
 * `cohort predict` writes (err may be NULL once validated). */
static int s_read_predict(ch_config *cfg, ch_lp_scale *type, bool *se, ch_err *err)
{
    int t = 0;
    int rc = ch_cfg_enum(cfg, "model.predict_type", "response", ch_lp_scales, &t, err);
    *type = (ch_lp_scale)t;
    if (rc == 0) {
        rc = ch_cfg_bool(cfg, "model.predict_se", false, se, err);
    }
    return rc;
}

static int s_configure_common(ch_config *cfg, ch_err *err)
{
    bool intercept, se, quantiles;
    ch_lp_scale type;
    long max_iter;
    double tol;
    int rc = ch_cfg_bool(cfg, "model.intercept", true, &intercept, err);
    if (rc == 0) {
        rc = ch_cfg_int(cfg, "model.max_iter", 25, 1, 1000, &max_iter, err);
    }
    if (rc == 0) {
        rc = ch_cfg_num(cfg, "model.tol", 1e-8, 1e-15, 0.1, &tol, err);
    }
    if (rc == 0) {
        rc = s_read_predict(cfg, &type, &se, err);
    }
    if (rc == 0) {
        rc = ch_cfg_bool(cfg, "model.residual_quantiles", true, &quantiles, err);
    }
    if (rc == 0) {
        int robust = 0;
        rc = ch_cfg_enum(cfg, "model.robust", "none", ch_hc_names, &robust, err);
    }
    return rc;
}

static int s_configure_logistic(ch_config *cfg, const ch_schema *schema, ch_err *err)
{
    int rc = s_configure_common(cfg, err);
    if (rc == 0 && schema &&
        (schema->target.kind != CH_COL_CATEGORICAL || schema->target.n_levels != 2)) {
        if (schema->target.kind == CH_COL_CATEGORICAL) {
            rc = ch_err_set(err, CH_EINVAL,
                            "%s: model.algorithm logistic needs a binary target, and '%s' has "
                            "%zu levels",
                            ch_config_where(cfg, "data.target"), schema->target.name,
                            schema->target.n_levels);
        } else {
            rc = ch_err_set(err, CH_EINVAL,
                            "%s: model.algorithm logistic needs a binary target, and '%s' is "
                            "numeric (set data.positive to the value that counts as 1)",
                            ch_config_where(cfg, "data.target"), schema->target.name);
        }
    }
    return rc;
}

static int s_configure_poisson(ch_config *cfg, const ch_schema *schema, ch_err *err)
{
    int rc = s_configure_common(cfg, err);
    if (rc == 0 && schema && schema->target.kind != CH_COL_NUMERIC) {
        rc = ch_err_set(err, CH_EINVAL,
                        "%s: model.algorithm poisson needs a numeric count target, and '%s' is "
                        "categorical",
                        ch_config_where(cfg, "data.target"), schema->target.name);
    }
    return rc;
}

static bool s_intercept(ch_config *cfg)
{
    bool v = true;
    ch_cfg_bool(cfg, "model.intercept", true, &v, NULL);
    return v;
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
    long max_iter = 25;
    ch_cfg_int(cfg, "model.max_iter", 25, 1, 1000, &max_iter, NULL);
    double block_rows = n_blocks ? (double)n_rows / (double)n_blocks : (double)n_rows;
    double depth = 1;
    while ((double)(1u << (unsigned)depth) <
           (double)n_blocks / (double)(n_workers ? n_workers : 1)) {
        depth++;
    }
    out->worker_bytes = block_rows * m * 8 + (depth + 3) * m * m * 8;
    out->message_bytes = (depth + 1) * (2 + CH_GLM_NSTATS + m * m) * 8;
    out->flops = 2 * (double)n_rows * m * m + (double)n_blocks * 4 * m * m * m / 3;
    bool quantiles = true;
    int robust = 0;
    ch_cfg_bool(cfg, "model.residual_quantiles", true, &quantiles, NULL);
    ch_cfg_enum(cfg, "model.robust", "none", ch_hc_names, &robust, NULL);
    /* IRLS, then the residual round and five counting rounds (quantile.h) */
    out->rounds = (double)max_iter + 1 + (quantiles || robust ? 1 : 0) + (quantiles ? 5 : 0);
    /* the worker keeps one residual per row between the counting rounds */
    out->worker_bytes += quantiles ? (double)n_rows / (double)(n_workers ? n_workers : 1) * 8 : 0;
    return 0;
}

/* --- coordinator ---------------------------------------------------------- */

static void s_coord_destroy(void **pst)
{
    if (!pst || !*pst) {
        return;
    }
    s_coord *st = *pst;
    ch_design_destroy(&st->design);
    ch_reduce_destroy(&st->reduce);
    ch_glm_iter_free(&st->it);
    ch_qsel_destroy(&st->qs);
    ch_qsel_task_free(&st->qtask);
    free(st->meat);
    free(st->root);
    free(st->last_root);
    free(st);
    *pst = NULL;
}

static void *s_coord_new_fam(const ch_coord_env *env, ch_glm_family fam, ch_err *err)
{
    s_coord *st = calloc(1, sizeof *st);
    if (!st) {
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    st->fam = fam;
    st->design = ch_design_new(env->schema, s_intercept(env->cfg));
    long max_iter = 25;
    double tol = 1e-8;
    ch_cfg_int(env->cfg, "model.max_iter", 25, 1, 1000, &max_iter, NULL);
    ch_cfg_num(env->cfg, "model.tol", 1e-8, 1e-15, 0.1, &tol, NULL);
    s_read_predict(env->cfg, &st->predict_type, &st->predict_se, NULL);
    st->quantiles = true;
    ch_cfg_bool(env->cfg, "model.residual_quantiles", true, &st->quantiles, NULL);
    int robust = 0;
    ch_cfg_enum(env->cfg, "model.robust", "none", ch_hc_names, &robust, NULL);
    st->robust = (ch_hc_type)robust;
    if (st->design) {
        size_t len = ch_glm_node_len(st->design->p);
        st->m = st->design->p + 1;
        st->n_blocks = env->n_blocks;
        st->n_train = env->n_train;
        st->root = malloc(len * sizeof *st->root);
        st->last_root = malloc(len * sizeof *st->last_root);
    }
    if (!st->design || !st->root || !st->last_root ||
        ch_glm_iter_init(&st->it, fam, st->design->p, st->design->intercept, tol,
                         (uint32_t)max_iter) != 0) {
        s_coord_destroy((void **)&st);
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    return st;
}

static void *s_coord_new_logistic(const ch_coord_env *env, ch_err *err)
{
    return s_coord_new_fam(env, CH_GLM_BINOMIAL, err);
}

static void *s_coord_new_poisson(const ch_coord_env *env, ch_err *err)
{
    return s_coord_new_fam(env, CH_GLM_POISSON, err);
}

/* Doubles of the residual round's node: [rows, the first quantile
 * histogram (model.residual_quantiles), the sandwich meat (model.robust)];
 * every entry is a sum. */
static size_t s_resid_len(size_t p, bool quantiles, ch_hc_type robust)
{
    return 1 + (quantiles ? CH_QSEL_BINS : 0) + (robust != CH_HC_NONE ? p * p : 0);
}

/* A residual round's task: the final coefficients (aliased 0), then for
 * OP_RESID with model.robust a flag, the previous coefficients and
 * (X'WX)^-1, for OP_SELECT the counting task. */
static int s_next_resid(s_coord *st, uint32_t *op, ch_buf *payload, ch_err *err)
{
    size_t p = st->design->p;
    double *beta = malloc((p ? p : 1) * sizeof *beta);
    if (!beta) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    for (size_t j = 0; j < p; j++) {
        beta[j] = st->it.fit.aliased[j] ? 0.0 : st->it.beta[j];
    }
    ch_buf_append(payload, beta, p * sizeof *beta);
    free(beta);
    ch_reduce_destroy(&st->reduce);
    if (st->phase == PH_RESID) {
        if (st->robust != CH_HC_NONE) {
            /* the sandwich: the weights of the last solve (at beta_prev, or
             * the starting values after one iteration) and its (X'WX)^-1 */
            double flag = st->it.iter > 1 ? 1.0 : 0.0;
            ch_buf_append(payload, &flag, sizeof flag);
            ch_buf_append(payload, st->it.beta_prev, p * sizeof(double));
            double *cov = malloc((p ? p * p : 1) * sizeof *cov);
            if (!cov) {
                return ch_err_set(err, CH_ENOMEM, "out of memory");
            }
            ch_robust_cov0(&st->it.fit, cov);
            ch_buf_append(payload, cov, p * p * sizeof *cov);
            free(cov);
        }
        st->reduce = ch_reduce_new(st->n_blocks, s_resid_len(p, st->quantiles, st->robust),
                                   ch_combine_sum, NULL);
        *op = OP_RESID;
    } else {
        size_t at = payload->len;
        ch_qsel_task(st->qs, payload);
        ch_qsel_task_free(&st->qtask);
        if (!payload->failed &&
            ch_qsel_parse(payload->data + at, payload->len - at, &st->qtask, err) != 0) {
            return ch_err_prefix(err, "glm");
        }
        st->reduce = ch_reduce_new(st->n_blocks, st->qtask.node_len, ch_qsel_combine, &st->qtask);
        *op = OP_SELECT;
    }
    return !st->reduce || payload->failed ? ch_err_set(err, CH_ENOMEM, "out of memory") : 0;
}

static int s_next_task(void *vst, uint32_t round, uint32_t *op, ch_buf *payload, ch_err *err)
{
    s_coord *st = vst;
    (void)round;
    if (st->it.done && st->phase == PH_IRLS) {
        st->phase =
            (st->quantiles || st->robust != CH_HC_NONE) && st->it.fit.coef ? PH_RESID : PH_DONE;
    }
    if (st->phase == PH_DONE) {
        return 1;
    }
    if (st->phase != PH_IRLS) {
        return s_next_resid(st, op, payload, err);
    }
    size_t p = st->design->p;
    double *msg = malloc((p + 1) * sizeof *msg);
    if (!msg) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    msg[0] = ch_glm_iter_beta(&st->it, msg + 1) ? 1.0 : 0.0;
    ch_buf_append(payload, msg, (p + 1) * sizeof *msg);
    free(msg);
    ch_reduce_destroy(&st->reduce);
    st->reduce = ch_reduce_new(st->n_blocks, ch_glm_node_len(p), ch_glm_combine, &st->m);
    if (!st->reduce || payload->failed) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    *op = OP_EVAL;
    return 0;
}

/* A range or counting round of the deviance residuals. */
static int s_aggregate_resid(s_coord *st, uint32_t op, const ch_update *ups, size_t n,
                             ch_round_metrics *m, ch_err *err)
{
    bool resid = op == OP_RESID;
    if ((resid && st->phase != PH_RESID) || (!resid && st->phase != PH_SELECT) || !st->reduce) {
        return ch_err_set(err, CH_EPROTO, "glm: unexpected op %u", op);
    }
    for (size_t i = 0; i < n; i++) {
        int rc = ch_reduce_add(st->reduce, ups[i].state, ups[i].state_len, err);
        if (rc != 0) {
            return ch_err_prefix(err, "update for shard %u", ups[i].shard);
        }
    }
    size_t p = st->design->p;
    size_t len = resid ? s_resid_len(p, st->quantiles, st->robust) : st->qtask.node_len;
    double *node = malloc(len * sizeof *node);
    if (!node) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    int rc = ch_reduce_finish(st->reduce, node, err);
    ch_reduce_destroy(&st->reduce);
    if (rc == 0 && resid) {
        ch_round_metric(m, "residual_rows", node[0]);
        if (node[0] != st->it.stats[CH_GLM_NROWS]) {
            rc = ch_err_set(err, CH_EPROTO,
                            "glm: the residual round counted %.0f rows, the fit %.0f", node[0],
                            st->it.stats[CH_GLM_NROWS]);
        } else if (st->quantiles && !(st->qs = ch_qsel_new(node[0], node + 1))) {
            rc = ch_err_set(err, CH_EPROTO,
                            "glm: the deviance residual histogram does not count %.0f rows",
                            node[0]);
        }
        if (rc == 0 && st->robust != CH_HC_NONE) {
            free(st->meat);
            st->meat = malloc((p ? p * p : 1) * sizeof *st->meat);
            if (!st->meat) {
                rc = ch_err_set(err, CH_ENOMEM, "out of memory");
            } else {
                memcpy(st->meat, node + 1 + (st->quantiles ? CH_QSEL_BINS : 0),
                       p * p * sizeof *st->meat);
            }
        }
    } else if (rc == 0) {
        rc = ch_qsel_consume(st->qs, node, err);
    }
    free(node);
    if (rc == 0) {
        st->phase = !st->qs || ch_qsel_done(st->qs) ? PH_DONE : PH_SELECT;
    }
    return rc;
}

static int s_aggregate(void *vst, uint32_t round, uint32_t op, const ch_update *ups, size_t n,
                       ch_round_metrics *m, ch_err *err)
{
    s_coord *st = vst;
    (void)round;
    if (op == OP_RESID || op == OP_SELECT) {
        return s_aggregate_resid(st, op, ups, n, m, err);
    }
    if (op != OP_EVAL || !st->reduce) {
        return ch_err_set(err, CH_EPROTO, "glm: unexpected op %u", op);
    }
    for (size_t i = 0; i < n; i++) {
        int rc = ch_reduce_add(st->reduce, ups[i].state, ups[i].state_len, err);
        if (rc != 0) {
            return ch_err_prefix(err, "update for shard %u", ups[i].shard);
        }
    }
    int rc = ch_reduce_finish(st->reduce, st->root, err);
    ch_reduce_destroy(&st->reduce);
    if (rc != 0) {
        return rc;
    }
    uint32_t before = st->it.iter;
    bool start = st->it.start;
    rc = ch_glm_iter_step(&st->it, st->root, err);
    if (rc != 0) {
        return rc;
    }
    if (st->it.iter != before) {
        memcpy(st->last_root, st->root, ch_glm_node_len(st->design->p) * sizeof *st->root);
    }
    ch_round_metric(m, start ? "deviance_start" : "deviance", st->root[CH_GLM_DEV]);
    ch_round_metric(m, "iteration", (double)st->it.iter);
    return 0;
}

static void s_model_destroy(void **pm)
{
    if (!pm || !*pm) {
        return;
    }
    s_model *md = *pm;
    ch_design_destroy(&md->design);
    free(md->coef);
    free(md->se);
    free(md->cov);
    free(md->aliased);
    free(md->path);
    free(md->vif);
    free(md->robust_se);
    free(md);
    *pm = NULL;
}

/* A model with room for p coefficients and np path entries. */
static s_model *s_model_alloc(size_t p, size_t np)
{
    s_model *md = calloc(1, sizeof *md);
    if (!md) {
        return NULL;
    }
    size_t pp;
    if (ch_mul_size(p ? p : 1, p ? p : 1, &pp) != 0) {
        free(md);
        return NULL;
    }
    md->p = p;
    md->coef = ch_alloc_array(p ? p : 1, sizeof(double));
    md->se = ch_alloc_array(p ? p : 1, sizeof(double));
    md->cov = ch_alloc_array(pp, sizeof(double));
    md->aliased = ch_calloc_array(p ? p : 1, sizeof(bool));
    md->path = ch_alloc_array(np ? np : 1, sizeof(double));
    if (!md->coef || !md->se || !md->cov || !md->aliased || !md->path) {
        s_model_destroy((void **)&md);
    }
    return md;
}

static void *s_finalize(void *vst, ch_err *err)
{
    s_coord *st = vst;
    const ch_glm_iter *it = &st->it;
    if (!it->done || !it->fit.coef) {
        ch_err_set(err, CH_EINTERNAL, "glm: finalize before convergence");
        return NULL;
    }
    size_t p = st->design->p;
    s_model *md = s_model_alloc(p, it->n_path);
    if (!md) {
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    md->fam = st->fam;
    md->rank = it->fit.rank;
    for (size_t j = 0; j < p; j++) {
        md->aliased[j] = it->fit.aliased[j];
        md->coef[j] = it->beta[j];
        double v = it->fit.cov_unscaled[j * p + j];
        md->se[j] = md->aliased[j] ? NAN : sqrt(v);
    }
    memcpy(md->cov, it->fit.cov_unscaled, p * p * sizeof *md->cov);
    memcpy(md->path, it->path, it->n_path * sizeof *md->path);
    md->n_path = it->n_path;
    md->deviance = it->stats[CH_GLM_DEV];
    md->loglik = it->stats[CH_GLM_LOGLIK];
    md->null_deviance = it->null_deviance;
    md->n = it->stats[CH_GLM_NROWS];
    md->n_boundary = it->stats[CH_GLM_NBOUNDARY];
    md->df_residual = md->n - (double)md->rank;
    md->df_null = md->n - (st->design->intercept ? 1.0 : 0.0);
    md->iter = it->iter;
    md->converged = it->converged;
    md->n_dropped = (double)st->n_train - md->n;
    md->predict_type = st->predict_type;
    md->predict_se = st->predict_se;
    if (st->qs && ch_qsel_done(st->qs)) {
        md->has_quantiles = true;
        ch_qsel_result(st->qs, md->resid_q);
    }
    if (st->robust != CH_HC_NONE && st->meat) {
        ch_ols view = it->fit; /* p, aliased, (X'WX)^-1; n and df of the glm */
        view.n = md->n;
        view.df_residual = md->df_residual;
        md->robust = st->robust;
        md->robust_se = malloc((p ? p : 1) * sizeof *md->robust_se);
        if (!md->robust_se || ch_robust_se(st->robust, st->meat, &view, md->robust_se) != 0) {
            s_model_destroy((void **)&md);
            ch_err_set(err, CH_ENOMEM, "out of memory");
            return NULL;
        }
    }
    /* collinearity of the final weighted fit (car::vif and kappa of a glm) */
    md->vif = malloc((p ? p : 1) * sizeof *md->vif);
    if (!md->vif) {
        s_model_destroy((void **)&md);
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    ch_collin_vif(st->last_root + CH_GLM_NSTATS, &it->fit, st->design->intercept, md->vif);
    if (ch_collin_cond(st->last_root + CH_GLM_NSTATS, &it->fit, &md->kappa, &md->kappa_scaled) !=
        0) {
        md->kappa = md->kappa_scaled = NAN;
    }
    md->design = st->design;
    st->design = NULL;
    if (!md->converged) {
        ch_warn("glm.fit: algorithm did not converge in %u iterations (model.max_iter)", md->iter);
    }
    if (md->n_boundary > 0) {
        ch_warn("glm.fit: %s numerically %s occurred in %.0f rows: %s",
                md->fam == CH_GLM_BINOMIAL ? "fitted probabilities" : "fitted rates",
                md->fam == CH_GLM_BINOMIAL ? "0 or 1" : "0", md->n_boundary,
                md->fam == CH_GLM_BINOMIAL
                    ? "perfect or quasi-complete separation; the estimates and standard errors "
                      "of the separating columns are not finite in the limit and should not be "
                      "read"
                    : "the estimates of the columns driving them are unreliable");
    }
    return md;
}

/* Checkpoint: the iteration scalars, the coefficient vectors, the path, the
 * sums and the root of the last solve (re-solved on load). */
typedef struct s_ckpt_head {
    uint32_t start, done, converged, iter, halvings, n_path;
    double devold, null_deviance;
    double stats[CH_GLM_NSTATS];
} s_ckpt_head;

static int s_save(void *vst, ch_buf *out, ch_err *err)
{
    s_coord *st = vst;
    const ch_glm_iter *it = &st->it;
    size_t p = st->design->p;
    s_ckpt_head h = {it->start,  it->done,          it->converged,
                     it->iter,   it->halvings,      (uint32_t)it->n_path,
                     it->devold, it->null_deviance, {0}};
    memcpy(h.stats, it->stats, sizeof h.stats);
    ch_buf_append(out, &h, sizeof h);
    ch_buf_append(out, it->beta, p * sizeof(double));
    ch_buf_append(out, it->beta_prev, p * sizeof(double));
    ch_buf_append(out, it->path, (it->max_iter + 1) * sizeof(double));
    ch_buf_append(out, st->last_root, ch_glm_node_len(p) * sizeof(double));
    return out->failed ? ch_err_set(err, CH_ENOMEM, "out of memory") : 0;
}

static int s_load(void *vst, const uint8_t *data, size_t len, ch_err *err)
{
    s_coord *st = vst;
    ch_glm_iter *it = &st->it;
    size_t p = st->design->p;
    size_t need =
        sizeof(s_ckpt_head) + (2 * p + it->max_iter + 1 + ch_glm_node_len(p)) * sizeof(double);
    if (len != need) {
        return ch_err_set(err, CH_EINVAL, "glm checkpoint has %zu bytes, expected %zu", len, need);
    }
    s_ckpt_head h;
    memcpy(&h, data, sizeof h);
    if (h.n_path > it->max_iter + 1 || h.iter > it->max_iter) {
        return ch_err_set(err, CH_EINVAL, "glm checkpoint does not fit model.max_iter");
    }
    const uint8_t *q = data + sizeof h;
    memcpy(st->last_root, q + (2 * p + it->max_iter + 1) * sizeof(double),
           ch_glm_node_len(p) * sizeof(double));
    if (!h.start) {
        ch_ols fit;
        double tol = it->tol / 1000 < 1e-7 ? it->tol / 1000 : 1e-7;
        int rc = ch_qr_solve_tol(st->last_root + CH_GLM_NSTATS, p, it->intercept, tol, &fit, err);
        if (rc != 0) {
            return ch_err_prefix(err, "glm checkpoint");
        }
        ch_ols_free(&it->fit);
        it->fit = fit;
    }
    /* the residual rounds are not saved: they run again after a resume */
    st->phase = PH_IRLS;
    ch_qsel_destroy(&st->qs);
    free(st->meat);
    st->meat = NULL;
    it->start = h.start;
    it->done = h.done;
    it->converged = h.converged;
    it->iter = h.iter;
    it->halvings = h.halvings;
    it->n_path = h.n_path;
    it->devold = h.devold;
    it->null_deviance = h.null_deviance;
    memcpy(it->stats, h.stats, sizeof h.stats);
    memcpy(it->beta, q, p * sizeof(double));
    memcpy(it->beta_prev, q + p * sizeof(double), p * sizeof(double));
    memcpy(it->path, q + 2 * p * sizeof(double), (it->max_iter + 1) * sizeof(double));
    return 0;
}

/* --- worker ----------------------------------------------------------------- */

static void s_worker_destroy(void **pw)
{
    if (!pw || !*pw) {
        return;
    }
    s_worker *w = *pw;
    ch_design_destroy(&w->design);
    ch_glm_ws_free(&w->ws);
    free(w->e);
    free(w->x);
    free(w->a);
    ch_qsel_cache_free(&w->cache);
    free(w);
    *pw = NULL;
}

static void *s_worker_new_fam(const ch_worker_env *env, ch_glm_family fam, ch_err *err)
{
    s_worker *w = calloc(1, sizeof *w);
    if (!w) {
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    w->fam = fam;
    w->env = env;
    w->design = ch_design_new(env->schema, s_intercept(env->cfg));
    if (!w->design) {
        free(w);
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    w->m = w->design->p + 1;
    int robust = 0;
    ch_cfg_enum(env->cfg, "model.robust", "none", ch_hc_names, &robust, NULL);
    w->robust = (ch_hc_type)robust;
    w->quantiles = true;
    ch_cfg_bool(env->cfg, "model.residual_quantiles", true, &w->quantiles, NULL);
    return w;
}

static void *s_worker_new_logistic(const ch_worker_env *env, ch_err *err)
{
    return s_worker_new_fam(env, CH_GLM_BINOMIAL, err);
}

static void *s_worker_new_poisson(const ch_worker_env *env, ch_err *err)
{
    return s_worker_new_fam(env, CH_GLM_POISSON, err);
}

static int s_leaf(void *ctx, size_t block, double *out, ch_err *err)
{
    s_worker *w = ctx;
    const ch_plan *plan = w->env->plan;
    size_t lb = block - w->env->block_offset;
    size_t lo = plan->block_begin[lb], hi = plan->block_begin[lb + 1];
    return ch_glm_leaf(w->fam, w->design, w->env->train, plan->rows + lo, hi - lo, w->beta, &w->ws,
                       out, err);
}

/* Leaf of a residual round: [rows, first histogram, meat] or the counting node. */
static int s_leaf_resid(void *ctx, size_t block, double *out, ch_err *err)
{
    s_worker *w = ctx;
    const ch_plan *plan = w->env->plan;
    size_t lb = block - w->env->block_offset;
    size_t lo = plan->block_begin[lb], hi = plan->block_begin[lb + 1];
    if (hi - lo > w->e_len || !w->x) {
        free(w->e);
        free(w->x);
        w->e = ch_alloc_array(hi - lo ? hi - lo : 1, sizeof(double));
        w->x = ch_alloc_array(w->design->p ? w->design->p : 1, sizeof(double));
        w->e_len = w->e && w->x ? hi - lo : 0;
        if (!w->e || !w->x) {
            return ch_err_set(err, CH_ENOMEM, "out of memory for %zu residuals", hi - lo);
        }
    }
    size_t used;
    const double *kept =
        w->qtask ? ch_qsel_cache_get(&w->cache, w->beta, w->design->p, lb, &used) : NULL;
    if (kept) {
        ch_qsel_leaf(w->qtask, kept, used, out);
        return 0;
    }
    used = ch_glm_devres(w->fam, w->design, w->env->train, plan->rows + lo, hi - lo, w->beta, w->x,
                         w->e);
    /* kept for the counting rounds; without memory they recompute */
    ch_qsel_cache_put(&w->cache, w->beta, w->design->p, plan->n_blocks, lb, w->e, used);
    if (w->qtask) {
        ch_qsel_leaf(w->qtask, w->e, used, out);
        return 0;
    }
    out[0] = (double)used;
    if (w->quantiles) {
        ch_qsel_first_leaf(w->e, used, out + 1);
    }
    if (w->robust == CH_HC_NONE) {
        return 0;
    }
    size_t p = w->design->p, cells;
    if (hi - lo > w->a_rows) {
        free(w->a);
        w->a = ch_mul_size(hi - lo, p ? p : 1, &cells) == 0 ? ch_alloc_array(cells, sizeof(double))
                                                            : NULL;
        w->a_rows = w->a ? hi - lo : 0;
        if (!w->a) {
            return ch_err_set(err, CH_ENOMEM, "out of memory for the sandwich of block %zu", block);
        }
    }
    used = ch_glm_hc_rows(w->fam, w->design, w->env->train, plan->rows + lo, hi - lo, w->beta,
                          w->beta_prev, w->a, w->e);
    if (ch_robust_meat(w->robust, w->a, used, p, w->e, w->cov,
                       out + 1 + (w->quantiles ? CH_QSEL_BINS : 0)) != 0) {
        return ch_err_set(err, CH_ENOMEM, "out of memory for the sandwich of block %zu", block);
    }
    return 0;
}

/* OP_RESID and OP_SELECT: the payload is the final coefficients, then the
 * counting task for OP_SELECT. */
static int s_run_resid(s_worker *w, uint32_t op, const uint8_t *payload, size_t len, size_t b0,
                       size_t b1, ch_buf *out, ch_err *err)
{
    size_t p = w->design->p, head = p * sizeof(double);
    size_t extra = op == OP_RESID && w->robust != CH_HC_NONE ? (1 + p + p * p) * sizeof(double) : 0;
    if (len < head || (op == OP_RESID && len != head + extra)) {
        return ch_err_set(err, CH_EPROTO, "glm: residual task of %zu bytes for %zu columns", len,
                          p);
    }
    double *beta = malloc(head + extra + sizeof(double));
    if (!beta) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    memcpy(beta, payload, head + extra);
    for (size_t j = 0; j < p + extra / sizeof(double); j++) {
        if (!isfinite(beta[j])) {
            free(beta);
            return ch_err_set(err, CH_EPROTO, "glm: payload has a non-finite coefficient");
        }
    }
    w->beta = beta;
    if (extra) {
        w->beta_prev = beta[p] != 0 ? beta + p + 1 : NULL;
        w->cov = beta + 2 * p + 1;
    }
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
            rc = ch_reduce_range(w->env->n_blocks_total, b0, b1, task.node_len, s_leaf_resid, w,
                                 ch_qsel_combine, &task, out, err);
            ch_qsel_task_free(&task);
            w->qtask = NULL;
        }
    }
    w->beta = w->beta_prev = w->cov = NULL;
    free(beta);
    return rc;
}

static int s_run_task(void *vw, uint32_t round, uint32_t op, const uint8_t *payload, size_t len,
                      uint32_t shard, ch_buf *out, uint64_t *samples, ch_err *err)
{
    s_worker *w = vw;
    (void)round;
    size_t p = w->design->p;
    if (op == OP_RESID || op == OP_SELECT) {
        const ch_plan *plan = w->env->plan;
        if (shard >= plan->n_shards) {
            return ch_err_set(err, CH_EPROTO, "glm: shard %u out of range (%zu shards)", shard,
                              plan->n_shards);
        }
        *samples = ch_plan_shard_end(plan, shard) - ch_plan_shard_begin(plan, shard);
        return s_run_resid(w, op, payload, len, w->env->block_offset + plan->shard_block[shard],
                           w->env->block_offset + plan->shard_block[shard + 1], out, err);
    }
    if (op != OP_EVAL) {
        return ch_err_set(err, CH_EPROTO, "glm: unknown op %u", op);
    }
    if (len != (p + 1) * sizeof(double)) {
        return ch_err_set(err, CH_EPROTO, "glm: payload of %zu bytes, expected %zu", len,
                          (p + 1) * sizeof(double));
    }
    const ch_plan *plan = w->env->plan;
    if (shard >= plan->n_shards) {
        return ch_err_set(err, CH_EPROTO, "glm: shard %u out of range (%zu shards)", shard,
                          plan->n_shards);
    }
    double *msg = malloc((p + 1) * sizeof *msg);
    if (!msg) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    memcpy(msg, payload, len);
    for (size_t j = 0; j <= p; j++) {
        if (!isfinite(msg[j])) {
            free(msg);
            return ch_err_set(err, CH_EPROTO, "glm: payload has a non-finite coefficient");
        }
    }
    w->beta = msg[0] != 0 ? msg + 1 : NULL;
    size_t b0 = w->env->block_offset + plan->shard_block[shard];
    size_t b1 = w->env->block_offset + plan->shard_block[shard + 1];
    *samples = ch_plan_shard_end(plan, shard) - ch_plan_shard_begin(plan, shard);
    int rc = ch_reduce_range(w->env->n_blocks_total, b0, b1, ch_glm_node_len(p), s_leaf, w,
                             ch_glm_combine, &w->m, out, err);
    w->beta = NULL;
    free(msg);
    return rc;
}

/* --- model ------------------------------------------------------------------ */

static ch_output_kind s_kind_logistic(const void *model)
{
    (void)model;
    return CH_OUT_PROBABILITIES;
}

static ch_output_kind s_kind_poisson(const void *model)
{
    (void)model;
    return CH_OUT_REGRESSION;
}

static size_t s_n_outputs(const void *vm)
{
    const s_model *md = vm;
    return md->fam == CH_GLM_BINOMIAL ? 2 : 1;
}

static int s_predict(const void *vm, const ch_table *t, double *out, ch_err *err)
{
    const s_model *md = vm;
    size_t p = md->p;
    double *x = malloc((p ? p : 1) * sizeof *x);
    if (!x) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < t->n_rows; i++) {
        double eta = NAN;
        if (ch_design_row(md->design, t, i, x, 1)) {
            eta = 0;
            for (size_t j = 0; j < p; j++) {
                if (!md->aliased[j]) {
                    eta += md->coef[j] * x[j];
                }
            }
        }
        if (md->fam == CH_GLM_BINOMIAL) {
            double mu = 1 / (1 + exp(-eta));
            out[2 * i] = 1 - mu;
            out[2 * i + 1] = mu;
        } else {
            out[i] = exp(eta);
        }
    }
    free(x);
    return 0;
}

static int s_pack(const void *vm, ch_buf *out, ch_err *err)
{
    const s_model *md = vm;
    size_t p = md->p;
    Cohort__Linear__GlmModel g = COHORT__LINEAR__GLM_MODEL__INIT;
    g.family = md->fam == CH_GLM_BINOMIAL ? "binomial" : "poisson";
    g.n_names = p;
    g.names = md->design->names;
    g.n_coef = g.n_std_error = g.n_aliased = p;
    g.coef = md->coef;
    g.std_error = md->se;
    g.n_cov_unscaled = p * p;
    g.cov_unscaled = md->cov;
    protobuf_c_boolean *al = calloc(p ? p : 1, sizeof *al);
    if (!al) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    for (size_t j = 0; j < p; j++) {
        al[j] = md->aliased[j];
    }
    g.aliased = al;
    g.deviance = md->deviance;
    g.null_deviance = md->null_deviance;
    g.df_residual = md->df_residual;
    g.df_null = md->df_null;
    g.loglik = md->loglik;
    g.iter = md->iter;
    g.converged = md->converged;
    g.n = (uint64_t)md->n;
    g.n_dropped = md->n_dropped > 0 ? (uint64_t)md->n_dropped : 0;
    g.intercept = md->design->intercept;
    g.rank = (uint32_t)md->rank;
    g.n_boundary = (uint64_t)md->n_boundary;
    g.n_deviance_path = md->n_path;
    g.deviance_path = md->path;
    if (md->has_quantiles) {
        g.n_residual_quantiles = CH_QSEL_PROBS;
        g.residual_quantiles = (double *)md->resid_q;
    }
    if (md->robust != CH_HC_NONE) {
        g.robust = (char *)ch_hc_names[md->robust];
        g.n_robust_std_error = p;
        g.robust_std_error = md->robust_se;
    }
    g.predict_type = md->predict_type == CH_LP_LINK ? "link" : "";
    g.predict_se = md->predict_se;
    if (md->vif) {
        g.n_vif = p;
        g.vif = md->vif;
        g.condition_number = md->kappa;
        g.condition_number_scaled = md->kappa_scaled;
    }
    size_t size = cohort__linear__glm_model__get_packed_size(&g);
    int rc = ch_buf_reserve(out, size);
    if (rc == 0) {
        cohort__linear__glm_model__pack(&g, out->data + out->len);
        out->len += size;
    }
    free(al);
    return rc ? ch_err_set(err, rc, "out of memory") : 0;
}

static void *s_unpack(const uint8_t *data, size_t len, const ch_schema *schema, ch_err *err)
{
    Cohort__Linear__GlmModel *g = cohort__linear__glm_model__unpack(NULL, len, data);
    if (!g) {
        ch_err_set(err, CH_EINVAL, "the glm model payload does not decode");
        return NULL;
    }
    ch_design *d = ch_design_new(schema, g->intercept);
    s_model *md = NULL;
    int rc = 0;
    if (!d) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
    } else if (d->p != g->n_coef || g->n_std_error != d->p || g->n_aliased != d->p ||
               g->n_cov_unscaled != d->p * d->p || g->rank > d->p) {
        rc = ch_err_set(err, CH_EINVAL,
                        "the glm model has %zu coefficients but its schema gives %zu columns",
                        g->n_coef, d->p);
    } else if (strcmp(g->family, "binomial") != 0 && strcmp(g->family, "poisson") != 0) {
        rc = ch_err_set(err, CH_EINVAL, "the glm model has an unknown family '%s'", g->family);
    } else if ((g->n_vif && g->n_vif != d->p) ||
               (g->n_residual_quantiles && g->n_residual_quantiles != CH_QSEL_PROBS) ||
               (g->n_robust_std_error && g->n_robust_std_error != d->p) ||
               (g->predict_type[0] && strcmp(g->predict_type, "link") != 0)) {
        rc =
            ch_err_set(err, CH_EINVAL, "the glm model's diagnostics or predict type are malformed");
    } else if (!(md = s_model_alloc(d->p, g->n_deviance_path))) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
    } else if (g->n_vif && !(md->vif = malloc(d->p * sizeof *md->vif))) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    if (rc == 0) {
        size_t p = d->p;
        md->fam = strcmp(g->family, "binomial") == 0 ? CH_GLM_BINOMIAL : CH_GLM_POISSON;
        for (size_t j = 0; j < p; j++) {
            md->coef[j] = g->coef[j];
            md->se[j] = g->std_error[j];
            md->aliased[j] = g->aliased[j];
        }
        memcpy(md->cov, g->cov_unscaled, p * p * sizeof *md->cov);
        memcpy(md->path, g->deviance_path, g->n_deviance_path * sizeof *md->path);
        md->n_path = g->n_deviance_path;
        md->rank = g->rank;
        md->deviance = g->deviance;
        md->null_deviance = g->null_deviance;
        md->df_residual = g->df_residual;
        md->df_null = g->df_null;
        md->loglik = g->loglik;
        md->iter = g->iter;
        md->converged = g->converged;
        md->n = (double)g->n;
        md->n_dropped = (double)g->n_dropped;
        md->n_boundary = (double)g->n_boundary;
        md->predict_type = g->predict_type[0] ? CH_LP_LINK : CH_LP_RESPONSE;
        md->predict_se = g->predict_se;
        md->kappa = md->kappa_scaled = NAN;
        if (g->n_vif) {
            memcpy(md->vif, g->vif, p * sizeof *md->vif);
            md->kappa = g->condition_number;
            md->kappa_scaled = g->condition_number_scaled;
        }
        if (g->n_residual_quantiles) {
            md->has_quantiles = true;
            memcpy(md->resid_q, g->residual_quantiles, sizeof md->resid_q);
        }
        for (int k = 1; g->n_robust_std_error && ch_hc_names[k]; k++) {
            if (strcmp(g->robust, ch_hc_names[k]) == 0) {
                md->robust = (ch_hc_type)k;
            }
        }
        if (md->robust != CH_HC_NONE) {
            md->robust_se = malloc(p * sizeof *md->robust_se);
            if (!md->robust_se) {
                rc = ch_err_set(err, CH_ENOMEM, "out of memory");
            } else {
                memcpy(md->robust_se, g->robust_std_error, p * sizeof *md->robust_se);
            }
        }
        md->schema = schema;
        md->design = d;
        d = NULL;
    }
    cohort__linear__glm_model__free_unpacked(g, NULL);
    ch_design_destroy(&d);
    if (rc != 0) {
        s_model_destroy((void **)&md);
    }
    return md;
}

/* `cohort predict` with model.predict_type link or model.predict_se: fit
 * (and se_fit) on that scale as R's predict.glm; otherwise the ordinary
 * columns (probabilities, or the rate). */
static int s_predict_csv(const void *vm, const ch_table *t, ch_buf *csv, ch_err *err)
{
    const s_model *md = vm;
    if (md->predict_type == CH_LP_RESPONSE && !md->predict_se) {
        return 1;
    }
    if (!md->schema) {
        return ch_err_set(err, CH_EINTERNAL, "glm: predict_csv on a model without its schema");
    }
    ch_lp_spec s = {
        md->design,       md->coef,      md->aliased,
        md->cov,          1.0,           md->fam == CH_GLM_BINOMIAL ? CH_LP_LOGIT : CH_LP_LOG,
        md->predict_type, md->predict_se};
    return ch_lp_csv(&s, t, md->schema, csv, err);
}

/* Derived numbers of coefficient k: z, p-value and the Wald 95% interval
 * (R's confint.default). */
static void s_coef_stats(const s_model *md, size_t k, double *z, double *pv, double *lo, double *hi)
{
    const double q = 1.959963984540054; /* qnorm(0.975) */
    *z = md->coef[k] / md->se[k];
    *pv = ch_stat_norm_two_sided(*z);
    *lo = md->coef[k] - q * md->se[k];
    *hi = md->coef[k] + q * md->se[k];
}

static double s_aic(const s_model *md)
{
    return -2 * md->loglik + 2 * (double)md->rank;
}

static double s_bic(const s_model *md)
{
    return -2 * md->loglik + log(md->n) * (double)md->rank;
}

static int s_summary_json(const void *vm, ch_buf *j)
{
    const s_model *md = vm;
    ch_buf_puts(j, ",\n  \"coefficients\": [");
    for (size_t k = 0; k < md->p; k++) {
        double z, pv, lo, hi;
        s_coef_stats(md, k, &z, &pv, &lo, &hi);
        ch_buf_puts(j, k ? ",\n    {\"name\": " : "\n    {\"name\": ");
        ch_buf_json_str(j, md->design->names[k]);
        ch_buf_puts(j, ", \"estimate\": ");
        ch_buf_json_num(j, md->coef[k]);
        ch_buf_puts(j, ", \"std_error\": ");
        ch_buf_json_num(j, md->se[k]);
        ch_buf_puts(j, ", \"statistic\": ");
        ch_buf_json_num(j, z);
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
            double rz = md->coef[k] / md->robust_se[k];
            ch_buf_puts(j, ", \"robust_std_error\": ");
            ch_buf_json_num(j, md->robust_se[k]);
            ch_buf_puts(j, ", \"robust_statistic\": ");
            ch_buf_json_num(j, rz);
            ch_buf_puts(j, ", \"robust_p_value\": ");
            ch_buf_json_num(j, ch_stat_norm_two_sided(rz));
        }
        ch_buf_printf(j, ", \"aliased\": %s}", md->aliased[k] ? "true" : "false");
    }
    ch_buf_printf(j, "\n  ],\n  \"fit\": {\"family\": \"%s\", \"link\": \"%s\", \"n\": ",
                  md->fam == CH_GLM_BINOMIAL ? "binomial" : "poisson",
                  md->fam == CH_GLM_BINOMIAL ? "logit" : "log");
    ch_buf_json_num(j, md->n);
    ch_buf_puts(j, ", \"n_dropped\": ");
    ch_buf_json_num(j, md->n_dropped);
    ch_buf_printf(j, ", \"rank\": %zu, \"statistic\": \"z\", \"deviance\": ", md->rank);
    ch_buf_json_num(j, md->deviance);
    ch_buf_puts(j, ", \"null_deviance\": ");
    ch_buf_json_num(j, md->null_deviance);
    ch_buf_puts(j, ", \"df_residual\": ");
    ch_buf_json_num(j, md->df_residual);
    ch_buf_puts(j, ", \"df_null\": ");
    ch_buf_json_num(j, md->df_null);
    ch_buf_puts(j, ", \"loglik\": ");
    ch_buf_json_num(j, md->loglik);
    ch_buf_puts(j, ", \"aic\": ");
    ch_buf_json_num(j, s_aic(md));
    ch_buf_puts(j, ", \"bic\": ");
    ch_buf_json_num(j, s_bic(md));
    ch_buf_printf(j, ", \"fisher_iterations\": %u, \"converged\": %s, \"n_boundary\": ", md->iter,
                  md->converged ? "true" : "false");
    ch_buf_json_num(j, md->n_boundary);
    if (md->robust != CH_HC_NONE) {
        ch_buf_printf(j, ", \"robust\": \"%s\"", ch_hc_names[md->robust]);
    }
    if (md->has_quantiles) {
        static const char *const qn[CH_QSEL_PROBS] = {"min", "q1", "median", "q3", "max"};
        ch_buf_puts(j, ", \"residual_quantiles\": {");
        for (size_t k = 0; k < CH_QSEL_PROBS; k++) {
            ch_buf_printf(j, "%s\"%s\": ", k ? ", " : "", qn[k]);
            ch_buf_json_num(j, md->resid_q[k]);
        }
        ch_buf_puts(j, ", \"type\": \"deviance\"}");
    }
    if (md->vif) {
        ch_buf_puts(j, ", \"condition_number\": ");
        ch_buf_json_num(j, md->kappa);
        ch_buf_puts(j, ", \"condition_number_scaled\": ");
        ch_buf_json_num(j, md->kappa_scaled);
        ch_collin_gvif_json(md->design, md->cov, md->aliased, j);
    }
    ch_buf_puts(j, "}");
    return j->failed ? CH_ENOMEM : 0;
}

/* A p-value as R's format.pval prints it in a coefficient table. */
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

static int s_describe(const void *vm, ch_buf *text)
{
    const s_model *md = vm;
    ch_buf_printf(text, "Family: %s (link: %s), fitted by distributed IRLS\n\n",
                  md->fam == CH_GLM_BINOMIAL ? "binomial" : "poisson",
                  md->fam == CH_GLM_BINOMIAL ? "logit" : "log");
    if (md->has_quantiles) {
        /* R 4.2's summary.glm prints them above the table */
        ch_buf_printf(text,
                      "Deviance Residuals (exact quantiles, type 7):\n%12s %12s %12s %12s %12s\n",
                      "Min", "1Q", "Median", "3Q", "Max");
        for (size_t k = 0; k < CH_QSEL_PROBS; k++) {
            ch_buf_printf(text, "%s%12.6g", k ? " " : "", md->resid_q[k]);
        }
        ch_buf_puts(text, "\n\n");
    }
    ch_buf_printf(text, "Coefficients:\n%-32s %12s %11s %8s %9s\n", "", "Estimate", "Std. Error",
                  "z value", "Pr(>|z|)");
    for (size_t k = 0; k < md->p; k++) {
        if (md->aliased[k]) {
            ch_buf_printf(text, "%-32.32s %12s %11s %8s %9s\n", md->design->names[k], "NA", "NA",
                          "NA", "NA");
            continue;
        }
        double z, pv, lo, hi;
        s_coef_stats(md, k, &z, &pv, &lo, &hi);
        char pb[32];
        s_fmt_p(pv, pb, sizeof pb);
        ch_buf_printf(text, "%-32.32s %12.6g %11.6g %8.3f %9s %s\n", md->design->names[k],
                      md->coef[k], md->se[k], z, pb, ch_stat_stars(pv));
    }
    ch_buf_puts(text, "---\nSignif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1\n\n");
    if (md->rank < md->p) {
        ch_buf_printf(text, "(%zu not defined because of singularities)\n", md->p - md->rank);
    }
    ch_buf_printf(text,
                  "(Dispersion parameter for %s family taken to be 1)\n\n"
                  "    Null deviance: %.2f  on %.0f  degrees of freedom\n"
                  "Residual deviance: %.2f  on %.0f  degrees of freedom\n",
                  md->fam == CH_GLM_BINOMIAL ? "binomial" : "poisson", md->null_deviance,
                  md->df_null, md->deviance, md->df_residual);
    if (md->n_dropped > 0) {
        ch_buf_printf(text, "  (%.0f observations deleted due to missingness)\n", md->n_dropped);
    }
    ch_buf_printf(text, "AIC: %.5g   BIC: %.5g   log-likelihood: %.5g\n\n", s_aic(md), s_bic(md),
                  md->loglik);
    ch_buf_printf(text, "Number of Fisher Scoring iterations: %u%s\n", md->iter,
                  md->converged ? "" : " (did not converge)");
    if (md->n_boundary > 0) {
        ch_buf_printf(text, "Warning: %s numerically %s occurred in %.0f rows%s\n",
                      md->fam == CH_GLM_BINOMIAL ? "fitted probabilities" : "fitted rates",
                      md->fam == CH_GLM_BINOMIAL ? "0 or 1" : "0", md->n_boundary,
                      md->fam == CH_GLM_BINOMIAL ? " (perfect or quasi-complete separation)" : "");
    }
    if (md->vif) {
        ch_buf_puts(text, "\nVariance inflation factors (final IRLS weights), 1 / (1 - R_j^2):\n");
        for (size_t k = 0; k < md->p; k++) {
            if (!isnan(md->vif[k])) {
                ch_buf_printf(text, "%-32.32s %14.6g\n", md->design->names[k], md->vif[k]);
            }
        }
        ch_buf_printf(text,
                      "Condition number: %.6g (kappa of sqrt(W) X); %.6g with columns scaled to "
                      "unit length\n",
                      md->kappa, md->kappa_scaled);
        ch_collin_gvif_text(md->design, md->cov, md->aliased, text);
    }
    if (md->robust_se) {
        ch_buf_printf(text,
                      "\nCoefficients with %s robust (sandwich) standard errors:\n%-32s %12s %11s "
                      "%8s %9s\n",
                      md->robust == CH_HC0   ? "HC0"
                      : md->robust == CH_HC1 ? "HC1"
                      : md->robust == CH_HC2 ? "HC2"
                                             : "HC3",
                      "", "Estimate", "Std. Error", "z value", "Pr(>|z|)");
        for (size_t k = 0; k < md->p; k++) {
            if (md->aliased[k]) {
                continue;
            }
            double rz = md->coef[k] / md->robust_se[k], pv = ch_stat_norm_two_sided(rz);
            char pb[32];
            s_fmt_p(pv, pb, sizeof pb);
            ch_buf_printf(text, "%-32.32s %12.6g %11.6g %8.3f %9s %s\n", md->design->names[k],
                          md->coef[k], md->robust_se[k], rz, pb, ch_stat_stars(pv));
        }
    }
    return text->failed ? CH_ENOMEM : 0;
}

/* The robust coefficient table (lmtest::coeftest(fit, vcovHC(fit, type))
 * for a glm: z tests). */
static int s_report_robust(const s_model *md, ch_report *r, ch_err *err)
{
    size_t p = md->p, rows = 0;
    char(*cells)[48] = calloc(5 * p + 1, sizeof *cells);
    const char **ptr = calloc(5 * p + 1, sizeof *ptr);
    int rc = cells && ptr ? 0 : ch_err_set(err, CH_ENOMEM, "out of memory");
    for (size_t k = 0; k < p && rc == 0; k++) {
        if (md->aliased[k]) {
            continue;
        }
        double rz = md->coef[k] / md->robust_se[k];
        snprintf(cells[5 * rows], 48, "%.47s", md->design->names[k]);
        snprintf(cells[5 * rows + 1], 48, "%.6g", md->coef[k]);
        snprintf(cells[5 * rows + 2], 48, "%.6g", md->robust_se[k]);
        snprintf(cells[5 * rows + 3], 48, "%.3f", rz);
        s_fmt_p(ch_stat_norm_two_sided(rz), cells[5 * rows + 4], 48);
        for (size_t c = 0; c < 5; c++) {
            ptr[5 * rows + c] = cells[5 * rows + c];
        }
        rows++;
    }
    static const char *const header[] = {"term", "estimate", "robust std. error", "z value",
                                         "Pr(>|z|)"};
    if (rc == 0) {
        char title[64];
        snprintf(title, sizeof title, "Robust standard errors (%s)", ch_hc_names[md->robust]);
        ch_report_section(r, title);
        rc = ch_report_table(r, header, 5, ptr, rows, -1);
    }
    free(cells);
    free(ptr);
    return rc;
}

/* The collinearity section: VIF per column, the condition numbers. */
static int s_report_collin(const s_model *md, ch_report *r, ch_err *err)
{
    size_t p = md->p, rows = 0;
    char(*cells)[48] = calloc(2 * p + 1, sizeof *cells);
    const char **ptr = calloc(2 * p + 1, sizeof *ptr);
    int rc = 0;
    if (!cells || !ptr) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    for (size_t k = 0; k < p && rc == 0; k++) {
        if (!isnan(md->vif[k])) {
            snprintf(cells[2 * rows], 48, "%.47s", md->design->names[k]);
            snprintf(cells[2 * rows + 1], 48, "%.6g", md->vif[k]);
            ptr[2 * rows] = cells[2 * rows];
            ptr[2 * rows + 1] = cells[2 * rows + 1];
            rows++;
        }
    }
    static const char *const header[] = {"term", "VIF"};
    if (rc == 0) {
        ch_report_section(r, "Collinearity");
        rc = ch_report_table(r, header, 2, ptr, rows, -1);
    }
    if (rc == 0) {
        char v[2][48];
        snprintf(v[0], sizeof v[0], "%.6g", md->kappa);
        snprintf(v[1], sizeof v[1], "%.6g", md->kappa_scaled);
        const char *keys[] = {"condition number (kappa of sqrt(W) X)",
                              "condition number, columns of unit length"};
        const char *vals[] = {v[0], v[1]};
        rc = ch_report_kv(r, keys, vals, 2);
    }
    if (rc == 0) {
        rc = ch_report_paragraph(
            r, "VIF = 1 / (1 - R_j^2) in the final IRLS weights, as car::vif computes it from "
               "vcov(fit) for one-column terms; the condition number is R's kappa(fit, exact = "
               "TRUE).");
    }
    if (rc == 0) {
        rc = ch_collin_gvif_report(md->design, md->cov, md->aliased, r, err);
    }
    free(cells);
    free(ptr);
    return rc;
}

static int s_report(const void *vm, ch_report *r, ch_err *err)
{
    const s_model *md = vm;
    size_t p = md->p, nc = 8;
    char **cells = calloc(p * nc + 1, sizeof *cells);
    if (!cells) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    int rc = 0;
    for (size_t k = 0; k < p && rc == 0; k++) {
        char v[7][48];
        if (md->aliased[k]) {
            snprintf(v[0], sizeof v[0], "NA (aliased)");
            for (size_t c = 1; c < 7; c++) {
                snprintf(v[c], sizeof v[c], "%s", c == 6 ? "" : "NA");
            }
        } else {
            double z, pv, lo, hi;
            s_coef_stats(md, k, &z, &pv, &lo, &hi);
            snprintf(v[0], sizeof v[0], "%.6g", md->coef[k]);
            snprintf(v[1], sizeof v[1], "%.6g", md->se[k]);
            snprintf(v[2], sizeof v[2], "%.3f", z);
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
    static const char *const header[] = {"term",     "estimate", "std. error", "z value",
                                         "Pr(>|z|)", "2.5 %",    "97.5 %",     ""};
    if (rc == 0) {
        ch_report_section(r, md->fam == CH_GLM_BINOMIAL ? "Logistic regression coefficients"
                                                        : "Poisson regression coefficients");
        rc = ch_report_table(r, header, nc, (const char *const *)cells, p, -1);
        ch_report_paragraph(r, "Signif. codes: 0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1. "
                               "Intervals are Wald intervals (R's confint.default); the "
                               "dispersion is taken to be 1.");
    }
    for (size_t i = 0; i < p * nc; i++) {
        free(cells[i]);
    }
    free(cells);
    if (rc == 0) {
        char v[9][64];
        snprintf(v[0], sizeof v[0], "%.0f (%.0f dropped for missing values)", md->n, md->n_dropped);
        snprintf(v[1], sizeof v[1], "%zu of %zu", md->rank, p);
        snprintf(v[2], sizeof v[2], "%.6g on %.0f df", md->null_deviance, md->df_null);
        snprintf(v[3], sizeof v[3], "%.6g on %.0f df", md->deviance, md->df_residual);
        snprintf(v[4], sizeof v[4], "%.6g", md->loglik);
        snprintf(v[5], sizeof v[5], "%.6g", s_aic(md));
        snprintf(v[6], sizeof v[6], "%.6g", s_bic(md));
        snprintf(v[7], sizeof v[7], "%u%s", md->iter, md->converged ? "" : " (not converged)");
        snprintf(v[8], sizeof v[8], "%.0f", md->n_boundary);
        const char *keys[] = {"rows used",
                              "rank",
                              "null deviance",
                              "residual deviance",
                              "log-likelihood",
                              "AIC",
                              "BIC",
                              "Fisher scoring iterations",
                              md->fam == CH_GLM_BINOMIAL ? "rows with fitted probability 0 or 1"
                                                         : "rows with fitted rate 0"};
        const char *vals[] = {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8]};
        rc = ch_report_kv(r, keys, vals, 9);
    }
    if (rc == 0 && md->has_quantiles) {
        char v[CH_QSEL_PROBS][48];
        const char *vals[CH_QSEL_PROBS];
        for (size_t k = 0; k < CH_QSEL_PROBS; k++) {
            snprintf(v[k], sizeof v[k], "%.6g", md->resid_q[k]);
            vals[k] = v[k];
        }
        static const char *const qhead[] = {"Min", "1Q", "Median", "3Q", "Max"};
        ch_report_section(r, "Deviance residuals");
        rc = ch_report_table(r, qhead, CH_QSEL_PROBS, vals, 1, -1);
        if (rc == 0) {
            rc = ch_report_paragraph(r, "Exact quantiles (R's type 7) of sign(y - mu) sqrt(d_i), "
                                        "found by counting rounds over the workers.");
        }
    }
    if (rc == 0 && md->vif) {
        rc = s_report_collin(md, r, err);
    }
    if (rc == 0 && md->robust_se) {
        rc = s_report_robust(md, r, err);
    }
    if (rc == 0 && md->n_path > 0) {
        double *x = malloc(md->n_path * sizeof *x);
        if (!x) {
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < md->n_path; i++) {
            x[i] = (double)(i + 1);
        }
        ch_svg_series s = {"residual deviance", x, md->path, md->n_path};
        ch_svg_line_opts o = {"Deviance per IRLS iteration", "iteration", "deviance", 0, 0, false};
        rc = ch_report_line_chart(r, &o, &s, 1);
        free(x);
    }
    return rc;
}

const ch_algo ch_algo_logistic = {
    .name = "logistic",
    .summary = "logistic regression by distributed IRLS, exact across workers (R's glm binomial)",
    .needs_target = true,
    .configure = s_configure_logistic,
    .estimate = s_estimate,
    .coord_new = s_coord_new_logistic,
    .next_task = s_next_task,
    .aggregate = s_aggregate,
    .finalize = s_finalize,
    .save = s_save,
    .load = s_load,
    .coord_destroy = s_coord_destroy,
    .worker_new = s_worker_new_logistic,
    .run_task = s_run_task,
    .worker_destroy = s_worker_destroy,
    .output_kind = s_kind_logistic,
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

const ch_algo ch_algo_poisson = {
    .name = "poisson",
    .summary = "Poisson regression by distributed IRLS, exact across workers (R's glm poisson)",
    .needs_target = true,
    .configure = s_configure_poisson,
    .estimate = s_estimate,
    .coord_new = s_coord_new_poisson,
    .next_task = s_next_task,
    .aggregate = s_aggregate,
    .finalize = s_finalize,
    .save = s_save,
    .load = s_load,
    .coord_destroy = s_coord_destroy,
    .worker_new = s_worker_new_poisson,
    .run_task = s_run_task,
    .worker_destroy = s_worker_destroy,
    .output_kind = s_kind_poisson,
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
