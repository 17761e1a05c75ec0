/* linear.c: ordinary and weighted least squares, exact across workers.
 *
 * One round. Each worker factors its rows of [X y] block by block (QR) and
 * combines the blocks over the fixed reduction tree (common/reduce.h); the
 * coordinator completes the tree and solves with R's limited pivoting
 * (qr.h). Only triangular factors leave a worker, never rows. The result is
 * the same bytes for any number of workers in iid and stratified plans. */
#include "algorithms/algo.h"
#include "algorithms/linear/design.h"
#include "algorithms/linear/qr.h"
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
} s_model;

typedef struct s_coord {
    ch_design *design;
    size_t m;
    ch_reduce *reduce;
    bool done;
    double *root;
    size_t n_train;
} s_coord;

typedef struct s_worker {
    ch_design *design;
    size_t m;
    const ch_worker_env *env;
    double *a; /* scratch block matrix */
    size_t a_rows;
} s_worker;

static int s_configure(ch_config *cfg, const ch_schema *schema, ch_err *err)
{
    bool intercept;
    int rc = ch_cfg_bool(cfg, "model.intercept", true, &intercept, err);
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
    while ((double)(1u << (unsigned)depth) < (double)n_blocks / (double)(n_workers ? n_workers : 1)) {
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
    st->reduce = ch_reduce_new(env->n_blocks, ch_qr_node_len(st->design->p), ch_qr_combine,
                               &st->m);
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
    st->root = malloc(ch_qr_node_len(st->design->p) * sizeof *st->root);
    if (!st->root) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    int rc = ch_reduce_finish(st->reduce, st->root, err);
    if (rc != 0) {
        return rc;
    }
    ch_round_metric(m, "rows_used", st->root[0]);
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
    if (ch_qr_solve(st->root, st->design->p, st->design->intercept, &md->ols, err) != 0) {
        free(md);
        return NULL;
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
        ch_buf_append(out, st->root, ch_qr_node_len(st->design->p) * sizeof(double));
    }
    return out->failed ? CH_ENOMEM : 0;
}

static int s_load(void *vst, const uint8_t *data, size_t len, ch_err *err)
{
    s_coord *st = vst;
    size_t need = ch_qr_node_len(st->design->p) * sizeof(double);
    if (len < 1 || (data[0] && len != 1 + need)) {
        return ch_err_set(err, CH_EINVAL, "linear checkpoint has the wrong size (%zu bytes)",
                          len);
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
    return w;
}

/* Leaf of the reduction: the QR factor of one block's complete rows. */
static int s_leaf(void *ctx, size_t block, double *out, ch_err *err)
{
    s_worker *w = ctx;
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
    return ch_reduce_range(w->env->n_blocks_total, b0, b1, ch_qr_node_len(w->design->p), s_leaf,
                           w, ch_qr_combine, &w->m, out, err);
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
            if (!md->ols.aliased[j]) {
                s += md->ols.coef[j] * x[j];
            }
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
    Cohort__Linear__LinearModel lm = COHORT__LINEAR__LINEAR_MODEL__INIT;
    lm.n_names = md->design->p;
    lm.names = md->design->names;
    lm.n_coef = lm.n_std_error = lm.n_t_value = lm.n_aliased = o->p;
    lm.coef = o->coef;
    lm.std_error = o->std_error;
    lm.t_value = o->t_value;
    protobuf_c_boolean *al = calloc(o->p ? o->p : 1, sizeof *al);
    if (!al) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    for (size_t j = 0; j < o->p; j++) {
        al[j] = o->aliased[j];
    }
    lm.aliased = al;
    lm.sigma = o->sigma;
    lm.n = (uint64_t)o->n;
    lm.n_dropped = md->n_dropped > 0 ? (uint64_t)md->n_dropped : 0;
    lm.df_residual = o->df_residual;
    lm.r_squared = o->r_squared;
    lm.adj_r_squared = o->adj_r_squared;
    lm.rss = o->rss;
    lm.tss = o->tss;
    lm.intercept = md->design->intercept;
    lm.rank = (uint32_t)o->rank;
    size_t size = cohort__linear__linear_model__get_packed_size(&lm);
    int rc = ch_buf_reserve(out, size);
    if (rc == 0) {
        cohort__linear__linear_model__pack(&lm, out->data + out->len);
        out->len += size;
    }
    free(al);
    return rc ? ch_err_set(err, rc, "out of memory") : 0;
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
    int rc = 0;
    if (!md || !d) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
    } else if (d->p != lm->n_coef || lm->n_aliased != d->p || lm->n_std_error != d->p ||
               lm->n_t_value != d->p) {
        rc = ch_err_set(err, CH_EINVAL,
                        "the linear model has %zu coefficients but its schema gives %zu columns",
                        lm->n_coef, d->p);
    }
    if (rc == 0) {
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
            md->n_dropped = (double)lm->n_dropped;
        }
    }
    cohort__linear__linear_model__free_unpacked(lm, NULL);
    if (rc != 0) {
        ch_design_destroy(&d);
        if (md) {
            ch_ols_free(&md->ols);
        }
        free(md);
        return NULL;
    }
    md->design = d;
    return md;
}

static int s_summary_json(const void *vm, ch_buf *j)
{
    const s_model *md = vm;
    const ch_ols *o = &md->ols;
    ch_buf_puts(j, ",\n  \"coefficients\": [");
    for (size_t k = 0; k < o->p; k++) {
        ch_buf_puts(j, k ? ",\n    {\"name\": " : "\n    {\"name\": ");
        ch_buf_json_str(j, md->design->names[k]);
        ch_buf_puts(j, ", \"estimate\": ");
        ch_buf_json_num(j, o->coef[k]);
        ch_buf_puts(j, ", \"std_error\": ");
        ch_buf_json_num(j, o->std_error[k]);
        ch_buf_puts(j, ", \"t_value\": ");
        ch_buf_json_num(j, o->t_value[k]);
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
    ch_buf_puts(j, "}");
    return j->failed ? CH_ENOMEM : 0;
}

static int s_describe(const void *vm, ch_buf *text)
{
    const s_model *md = vm;
    const ch_ols *o = &md->ols;
    ch_buf_printf(text, "%-32s %14s %14s %10s\n", "", "Estimate", "Std. Error", "t value");
    for (size_t k = 0; k < o->p; k++) {
        if (o->aliased[k]) {
            ch_buf_printf(text, "%-32.32s %14s %14s %10s\n", md->design->names[k], "NA", "NA",
                          "NA");
        } else {
            ch_buf_printf(text, "%-32.32s %14.6g %14.6g %10.3f\n", md->design->names[k],
                          o->coef[k], o->std_error[k], o->t_value[k]);
        }
    }
    size_t n_alias = o->p - o->rank;
    if (n_alias) {
        ch_buf_printf(text, "(%zu not defined because of singularities)\n", n_alias);
    }
    ch_buf_printf(text,
                  "Residual standard error: %.6g on %.0f degrees of freedom\n"
                  "Multiple R-squared: %.6g,\tAdjusted R-squared: %.6g\n",
                  o->sigma, o->df_residual, o->r_squared, o->adj_r_squared);
    if (md->n_dropped > 0) {
        ch_buf_printf(text, "(%.0f observations deleted due to missingness)\n", md->n_dropped);
    }
    return text->failed ? CH_ENOMEM : 0;
}

static int s_report(const void *vm, ch_report *r, ch_err *err)
{
    const s_model *md = vm;
    const ch_ols *o = &md->ols;
    size_t p = o->p;
    char **cells = calloc(p * 4 + 1, sizeof *cells);
    if (!cells) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    int rc = 0;
    for (size_t k = 0; k < p && rc == 0; k++) {
        char est[64], se[64], t[64];
        if (o->aliased[k]) {
            snprintf(est, sizeof est, "NA (aliased)");
            snprintf(se, sizeof se, "NA");
            snprintf(t, sizeof t, "NA");
        } else {
            snprintf(est, sizeof est, "%.6g", o->coef[k]);
            snprintf(se, sizeof se, "%.6g", o->std_error[k]);
            snprintf(t, sizeof t, "%.3f", o->t_value[k]);
        }
        cells[k * 4] = strdup(md->design->names[k]);
        cells[k * 4 + 1] = strdup(est);
        cells[k * 4 + 2] = strdup(se);
        cells[k * 4 + 3] = strdup(t);
        for (size_t c = 0; c < 4; c++) {
            if (!cells[k * 4 + c]) {
                rc = ch_err_set(err, CH_ENOMEM, "out of memory");
            }
        }
    }
    static const char *const header[] = {"term", "estimate", "std. error", "t value"};
    if (rc == 0) {
        ch_report_section(r, "Coefficients");
        rc = ch_report_table(r, header, 4, (const char *const *)cells, p, -1);
    }
    for (size_t i = 0; i < p * 4; i++) {
        free(cells[i]);
    }
    free(cells);
    if (rc == 0) {
        char v[5][64];
        snprintf(v[0], sizeof v[0], "%.0f", o->n);
        snprintf(v[1], sizeof v[1], "%zu of %zu", o->rank, p);
        snprintf(v[2], sizeof v[2], "%.6g on %.0f df", o->sigma, o->df_residual);
        snprintf(v[3], sizeof v[3], "%.6g", o->r_squared);
        snprintf(v[4], sizeof v[4], "%.6g", o->adj_r_squared);
        const char *keys[] = {"rows used", "rank", "residual standard error", "R-squared",
                              "adjusted R-squared"};
        const char *vals[] = {v[0], v[1], v[2], v[3], v[4]};
        rc = ch_report_kv(r, keys, vals, 5);
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
