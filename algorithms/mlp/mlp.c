/* mlp.c: multilayer perceptrons trained by synchronous data-parallel SGD,
 * Adam or AdamW, the same bytes for any number of workers.
 *
 * Round 0 sums per-block feature statistics (and block row counts) over the
 * fixed block tree (common/reduce.h): the standardisation uses every shard.
 * Every later round is ONE optimizer step: the coordinator sends the
 * weights and the step's segments (batch.h: the global mini-batch as
 * positions in blocks, drawn from the seed, not from the worker count);
 * each worker returns one gradient leaf per block of the batch it owns,
 * computed with the same sgemm calls on the same rows whichever worker owns
 * the block; the coordinator adds the leaves in the batch's segment order,
 * divides by the batch's rows and steps the optimizer. So the weights after
 * every step, the curves and model.pb are identical for 1, 2 or 8 workers
 * (same machine and OpenBLAS build; workers run one BLAS thread). */
#include "algorithms/algo.h"
#include "algorithms/mlp/batch.h"
#include "algorithms/mlp/blockstats.h"
#include "algorithms/mlp/epochs.h"
#include "algorithms/mlp/features.h"
#include "algorithms/mlp/params.h"
#include "algorithms/mlp/step.h"
#include "algorithms/mlp/trainer.h"
#include "common/pb.h"
#include "common/reduce.h"
#include "proto/mlp.pb-c.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OP_STATS = 1, OP_STEP = 2, OP_LOCAL = 3 };

#define S_EVAL_CHUNK 512

typedef struct s_model {
    ch_features *feat;
    ch_net *net;
    ch_head head;
    size_t n_classes;
    float *w;
    ch_nn_record rec; /* steps, epochs, early stopping, curves */
    ch_opt_kind opt;
    size_t n_embed; /* model.embeddings: schema columns and dimensions */
    size_t embed_col[CH_MLP_MAX_EMBED], embed_dim[CH_MLP_MAX_EMBED];
    ch_precision wire;          /* model.wire_precision of the training */
    double wire_bytes_per_step; /* mean tensor bytes of a training round (below) */
    double loss_scale;          /* fp16: the final loss scale (0 otherwise) */
    long skipped;               /* fp16: steps skipped on inf/NaN gradients */
} s_model;

typedef struct s_coord {
    ch_mlp_params p;
    uint64_t seed;
    ch_features *feat;
    ch_net *net;
    ch_head head;
    size_t n_classes;
    size_t n_blocks;
    ch_reduce *reduce;
    size_t stats_len; /* n_blocks counts + feature statistics */
    double *stats;    /* the feature part */
    size_t *block_rows;
    bool stats_done;
    size_t n_rows;
    ch_nn_epochs ep; /* steps, curves, early stopping */
    float *w, *g, *opt_state;
    double *gsum;
    ch_segment *seg;
    const ch_table *test;
    float *test_x, *test_y;
    size_t n_test;
    ch_net_ws *ws;
    float *dout;
    bool scaling;          /* fp16 storage or wire: dynamic loss scaling */
    ch_loss_scaler scaler; /* its state */
    uint8_t *wbuf;         /* the weights at wire precision */
    float *ltmp;           /* one leaf's gradient, decoded */
    double task_bytes;     /* the last task's payload */
    double wire_bytes;     /* per training round: the task payload once, plus the
                              gradient leaves' bytes (local SGD: one partial sum);
                              independent of the worker count, unlike the
                              engine's bytes_out/bytes_in */
    long wire_rounds;
} s_coord;

typedef struct s_worker {
    const ch_worker_env *env;
    ch_mlp_params p;
    ch_features *feat;
    ch_net *net;
    ch_head head;
    size_t n_classes;
    ch_net_ws *ws;
    float *w, *g, *x, *y, *dout;
    size_t *rows, *perm;
    size_t max_block;
    float *wr;                     /* local SGD: one block's replica of the weights */
    const Cohort__Mlp__Task *task; /* local SGD: the round's task, during the reduction */
} s_worker;

/* --- shared helpers ---------------------------------------------------------- */

/* Classes of the model: a categorical target's levels, or model.classes
 * for a numeric target holding class codes 0..classes-1 (IDX labels), or 0
 * (regression). */
static size_t s_n_classes(const ch_schema *s, const ch_mlp_params *p)
{
    return s->target.kind == CH_COL_CATEGORICAL ? s->target.n_levels : (size_t)p->classes;
}

/* The network for params p on schema s (shared by all three sides). */
static ch_net *s_net_for(const ch_mlp_params *p, const ch_features *f, size_t n_classes,
                         ch_err *err)
{
    ch_net_spec spec = {.d_in = f->d_in,
                        .d_out = ch_head_outputs(ch_head_for(n_classes), n_classes),
                        .n_hidden = p->n_hidden,
                        .act = p->act,
                        .layer_norm = p->layer_norm,
                        .dropout = p->dropout,
                        .precision = p->precision,
                        .n_embed = p->n_embed};
    memcpy(spec.hidden, p->hidden, sizeof spec.hidden);
    for (size_t e = 0; e < p->n_embed; e++) {
        spec.embed[e] = (ch_embed_spec){.col = f->offset[p->embed_col[e]],
                                        .levels = f->width[p->embed_col[e]],
                                        .dim = p->embed_dim[e]};
    }
    return ch_net_new(&spec, err);
}

/* The input encoding: one-hot, or level codes for embedded columns. */
static ch_features *s_features_for(const ch_schema *schema, const ch_mlp_params *p,
                                   size_t n_classes, ch_err *err)
{
    ch_features *f = ch_features_new(schema, err);
    if (f && n_classes) {
        f->regression = false;
    }
    for (size_t e = 0; f && e < p->n_embed; e++) {
        if (ch_features_set_index(f, p->embed_col[e]) != 0) {
            ch_err_set(err, CH_EINVAL, "mlp: embedded column %zu is not categorical",
                       p->embed_col[e]);
            ch_features_destroy(&f);
        }
    }
    return f;
}

/* The loss scale of fp16 runs (storage or wire): gradients that underflow
 * in fp16 survive when the loss is scaled up first. */
static bool s_scaling(const ch_mlp_params *p)
{
    return p->precision == CH_PREC_FP16 || p->wire_precision == CH_PREC_FP16;
}

/* --- configuration ------------------------------------------------------------- */

static int s_configure(ch_config *cfg, const ch_schema *schema, ch_err *err)
{
    ch_mlp_params p;
    int rc = ch_mlp_params_read(cfg, &p, err);
    if (rc == 0) {
        rc = ch_mlp_embeddings_read(cfg, schema, &p, err);
    }
    if (rc == 0 && schema && schema->target.kind == CH_COL_CATEGORICAL &&
        schema->target.n_levels < 2) {
        rc = ch_err_set(err, CH_EINVAL, "%s: the target '%s' has %zu class; mlp needs two or more",
                        ch_config_where(cfg, "data.target"), schema->target.name,
                        schema->target.n_levels);
    }
    if (rc == 0 && schema && schema->target.kind == CH_COL_CATEGORICAL && p.classes != 0 &&
        (size_t)p.classes != schema->target.n_levels) {
        rc = ch_err_set(err, CH_EINVAL,
                        "%s: model.classes is %ld but the target '%s' has %zu levels (leave "
                        "model.classes out for a categorical target)",
                        ch_config_where(cfg, "model.classes"), p.classes, schema->target.name,
                        schema->target.n_levels);
    }
    return rc;
}

static int s_estimate(ch_config *cfg, const ch_schema *schema, size_t n_rows, size_t n_workers,
                      size_t n_blocks, ch_estimate *out)
{
    ch_mlp_params p;
    if (ch_mlp_params_read(cfg, &p, NULL) != 0 || ch_mlp_embeddings_read(cfg, schema, &p, NULL)) {
        return CH_EINVAL;
    }
    ch_features *f = s_features_for(schema, &p, s_n_classes(schema, &p), NULL);
    if (!f) {
        return CH_EINVAL;
    }
    ch_net *net = s_net_for(&p, f, s_n_classes(schema, &p), NULL);
    ch_features_destroy(&f);
    if (!net) {
        return CH_EINVAL;
    }
    double np = (double)net->n_params, bs = (double)p.batch_size;
    double act = (double)ch_precision_bytes(p.precision);
    double wire = (double)ch_precision_bytes(p.wire_precision);
    out->worker_bytes = np * 4 * 2 + bs * (double)net->max_width * act * (double)net->n_layers * 2;
    out->message_bytes = np * wire * 2 + 64;
    out->flops = 6 * np * bs;
    out->rounds = 1 + (double)p.epochs * (double)ch_batch_steps_per_epoch(n_rows, p.batch_size);
    (void)n_workers;
    (void)n_blocks;
    ch_net_destroy(&net);
    return 0;
}

/* --- coordinator ----------------------------------------------------------------- */

static void s_coord_destroy(void **pst)
{
    if (!pst || !*pst) {
        return;
    }
    s_coord *st = *pst;
    ch_features_destroy(&st->feat);
    ch_net_destroy(&st->net);
    ch_reduce_destroy(&st->reduce);
    free(st->stats);
    free(st->block_rows);
    free(st->w);
    free(st->g);
    free(st->opt_state);
    free(st->gsum);
    free(st->seg);
    ch_nn_epochs_free(&st->ep);
    free(st->test_x);
    free(st->test_y);
    ch_net_ws_destroy(&st->ws);
    free(st->dout);
    free(st->wbuf);
    free(st->ltmp);
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
    void *vst = st;
    if (ch_mlp_params_read(env->cfg, &st->p, err) != 0 ||
        ch_mlp_embeddings_read(env->cfg, env->schema, &st->p, err) != 0) {
        s_coord_destroy(&vst);
        return NULL;
    }
    if ((size_t)st->p.batch_size > env->n_train) {
        ch_err_set(err, CH_EINVAL, "%s: model.batch_size %ld is larger than the %zu training rows",
                   ch_config_where(env->cfg, "model.batch_size"), st->p.batch_size, env->n_train);
        s_coord_destroy(&vst);
        return NULL;
    }
    st->seed = env->seed;
    st->n_classes = s_n_classes(env->schema, &st->p);
    st->head = ch_head_for(st->n_classes);
    st->feat = s_features_for(env->schema, &st->p, st->n_classes, err);
    st->net = st->feat ? s_net_for(&st->p, st->feat, st->n_classes, err) : NULL;
    if (!st->net) {
        s_coord_destroy(&vst);
        return NULL;
    }
    size_t np = st->net->n_params, ns = ch_opt_state_per_param(st->p.opt.kind);
    st->n_blocks = env->n_blocks;
    st->stats_len = st->n_blocks + ch_features_stats_len(st->feat);
    st->reduce = ch_reduce_new(st->n_blocks, st->stats_len, ch_combine_sum, NULL);
    st->stats = calloc(ch_features_stats_len(st->feat), sizeof *st->stats);
    st->block_rows = calloc(st->n_blocks ? st->n_blocks : 1, sizeof *st->block_rows);
    st->seg = calloc(st->n_blocks ? st->n_blocks : 1, sizeof *st->seg);
    st->w = ch_alloc_array(np, sizeof *st->w);
    st->g = ch_alloc_array(np, sizeof *st->g);
    st->gsum = ch_alloc_array(np, sizeof *st->gsum);
    st->opt_state = ch_calloc_array(ns * np + 1, sizeof *st->opt_state);
    st->ep.patience = st->p.early_stopping;
    st->ep.best_w = st->p.early_stopping ? ch_alloc_array(np, sizeof *st->ep.best_w) : NULL;
    st->ws = ch_net_ws_new(st->net, S_EVAL_CHUNK);
    st->dout = ch_alloc_array(S_EVAL_CHUNK, st->net->spec.d_out * sizeof *st->dout);
    st->wbuf = ch_alloc_array(np, ch_precision_bytes(st->p.wire_precision));
    st->ltmp = ch_alloc_array(np, sizeof *st->ltmp);
    st->scaling = s_scaling(&st->p);
    st->scaler = (ch_loss_scaler){.scale = st->p.loss_scale, .window = st->p.loss_scale_window};
    if (!st->reduce || !st->stats || !st->block_rows || !st->seg || !st->w || !st->g || !st->gsum ||
        !st->opt_state || !st->ws || !st->dout || !st->wbuf || !st->ltmp ||
        (st->p.early_stopping && !st->ep.best_w)) {
        ch_err_set(err, CH_ENOMEM, "out of memory for a network of %zu parameters", np);
        s_coord_destroy(&vst);
        return NULL;
    }
    ch_net_init(st->net, st->p.init, st->seed, st->w);
    st->test = env->test;
    if (st->p.early_stopping && (!env->test || env->test->n_rows == 0)) {
        ch_err_set(err, CH_EINVAL,
                   "model.early_stopping watches the validation loss, and this run holds out "
                   "no rows: set data.test_fraction above 0 or give data.test");
        s_coord_destroy(&vst);
        return NULL;
    }
    return st;
}

/* Rows of block b that one local SGD step trains on: the batch, or the
 * whole block when it is smaller. */
static size_t s_local_batch(size_t batch, size_t block_rows)
{
    return batch < block_rows ? batch : block_rows;
}

/* Rounds per epoch and in all. Synchronous: one round per global batch.
 * Local SGD: a round trains every block on local_steps local batches, so
 * an epoch is max(1, round(rows / rows trained per round)) rounds. */
static void s_set_plan(s_coord *st)
{
    if (st->p.local_steps <= 1) {
        st->ep.steps_per_epoch = ch_batch_steps_per_epoch(st->n_rows, (size_t)st->p.batch_size);
    } else {
        double per_round = 0;
        for (size_t b = 0; b < st->n_blocks; b++) {
            per_round += (double)s_local_batch((size_t)st->p.batch_size, st->block_rows[b]);
        }
        per_round *= (double)st->p.local_steps;
        double r = per_round > 0 ? floor((double)st->n_rows / per_round + 0.5) : 1;
        st->ep.steps_per_epoch = r < 1 ? 1 : (long)r;
    }
    st->ep.total_steps = st->ep.steps_per_epoch * st->p.epochs;
}

/* The learning rate of optimizer step t; with local SGD t counts local
 * steps (local_steps per round). */
static double s_lr(const s_coord *st, long t)
{
    long h = st->p.local_steps;
    ch_schedule sch = {.kind = st->p.schedule,
                       .lr = st->p.lr,
                       .lr_min = st->p.lr_min,
                       .warmup_steps = st->p.warmup_steps,
                       .steps_per_epoch = st->ep.steps_per_epoch * h,
                       .total_steps = st->ep.total_steps * h,
                       .step_epochs = st->p.step_epochs,
                       .gamma = st->p.gamma};
    return ch_schedule_lr(&sch, t);
}

/* Local SGD task: the weights, the statistics and the local steps'
 * learning rates. */
static int s_local_task(s_coord *st, ch_buf *payload, ch_err *err)
{
    long h = st->p.local_steps;
    double *lr = calloc((size_t)h, sizeof *lr);
    if (!lr) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    for (long k = 0; k < h; k++) {
        lr[k] = s_lr(st, st->ep.step * h + k);
    }
    Cohort__Mlp__Task t = COHORT__MLP__TASK__INIT;
    t.step = (uint64_t)st->ep.step;
    t.epoch = (uint32_t)(st->ep.step / st->ep.steps_per_epoch);
    ch_half_pack(st->p.wire_precision, st->wbuf, st->w, st->net->n_params);
    t.weights.data = st->wbuf;
    t.weights.len = st->net->n_params * ch_precision_bytes(st->p.wire_precision);
    t.wire_precision = (uint32_t)st->p.wire_precision;
    t.n_stats = ch_features_stats_len(st->feat);
    t.stats = st->stats;
    t.n_local_lr = (size_t)h;
    t.local_lr = lr;
    size_t before = payload->len;
    int rc = ch_pb_append(&t.base, payload, err);
    st->task_bytes = (double)(payload->len - before);
    free(lr);
    return rc;
}

/* The synchronous step st->ep.step: its segments of the global batch
 * (into st->seg) and its task. */
static ch_nn_task s_task(s_coord *st)
{
    long epoch = st->ep.step / st->ep.steps_per_epoch, s = st->ep.step % st->ep.steps_per_epoch;
    size_t nseg = ch_batch_segments(st->block_rows, st->n_blocks, st->seed, epoch, s,
                                    (size_t)st->p.batch_size, st->seg);
    return (ch_nn_task){.step = st->ep.step,
                        .steps_per_epoch = st->ep.steps_per_epoch,
                        .seg = st->seg,
                        .nseg = nseg,
                        .weights = st->wbuf,
                        .n_params = st->net->n_params,
                        .wire = st->p.wire_precision,
                        .loss_scale = st->scaling ? st->scaler.scale : 0,
                        .stats = st->stats,
                        .n_stats = ch_features_stats_len(st->feat)};
}

static int s_next_task(void *vst, uint32_t round, uint32_t *op, ch_buf *payload, ch_err *err)
{
    s_coord *st = vst;
    (void)round;
    if (!st->stats_done) {
        *op = OP_STATS;
        return 0;
    }
    if (st->ep.step >= st->ep.total_steps || st->ep.stopped) {
        return 1;
    }
    if (st->p.local_steps > 1) {
        *op = OP_LOCAL;
        return s_local_task(st, payload, err);
    }
    *op = OP_STEP;
    ch_nn_task t = s_task(st);
    ch_half_pack(st->p.wire_precision, st->wbuf, st->w, st->net->n_params);
    size_t before = payload->len;
    int rc = ch_nn_task_pack(&t, payload, err);
    st->task_bytes = (double)(payload->len - before);
    return rc;
}

/* Encodes the held-out rows that have a target, once the statistics are known. */
static int s_encode_test(s_coord *st, ch_err *err)
{
    const ch_table *t = st->test;
    if (!t || !t->has_target || t->n_rows == 0) {
        return 0;
    }
    size_t *rows = ch_alloc_array(t->n_rows, sizeof *rows);
    if (!rows) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    size_t n = 0;
    for (size_t i = 0; i < t->n_rows; i++) {
        if (isfinite(t->target.values[i])) {
            rows[n++] = i;
        }
    }
    st->test_x = ch_alloc_array(n ? n : 1, st->feat->d_in * sizeof(float));
    st->test_y = ch_alloc_array(n ? n : 1, sizeof(float));
    if (!st->test_x || !st->test_y) {
        free(rows);
        return ch_err_set(err, CH_ENOMEM, "out of memory for the validation rows");
    }
    ch_features_encode(st->feat, t, rows, n, st->test_x, st->test_y);
    st->n_test = n;
    free(rows);
    return 0;
}

static int s_aggregate_stats(s_coord *st, const ch_update *ups, size_t n, ch_round_metrics *m,
                             ch_err *err)
{
    int rc = ch_nn_block_stats("mlp", &st->reduce, ups, n, st->n_blocks, st->block_rows,
                               &st->n_rows, st->stats, ch_features_stats_len(st->feat), err);
    if (rc != 0) {
        return rc;
    }
    if (st->n_rows < (size_t)st->p.batch_size) {
        return ch_err_set(err, CH_EINVAL,
                          "model.batch_size %ld is larger than the %zu training rows",
                          st->p.batch_size, st->n_rows);
    }
    ch_features_set_stats(st->feat, st->stats);
    s_set_plan(st);
    st->stats_done = true;
    ch_round_metric(m, "rows", (double)st->n_rows);
    return s_encode_test(st, err);
}

/* Validation metrics of the current weights (NaN without held-out rows). */
static void s_validate(s_coord *st, double *loss, double *acc)
{
    *loss = NAN;
    *acc = NAN;
    if (st->n_test == 0) {
        return;
    }
    double l, c;
    ch_mlp_eval(st->net, st->head, st->w, st->test_x, st->test_y, st->n_test, S_EVAL_CHUNK, st->ws,
                st->dout, &l, &c, NULL);
    *loss = l / (double)st->n_test;
    if (st->head != CH_HEAD_MSE) {
        *acc = c / (double)st->n_test;
    }
}

static int s_step_done(s_coord *st, ch_round_metrics *m, double loss, double rows, double correct,
                       double lr, ch_err *err);

/* Local SGD: the block tree's sum of (block rows x block weights, block
 * rows, loss, rows trained, correct) gives the row-weighted average of the
 * blocks' weights. */
static int s_aggregate_local(s_coord *st, const ch_update *ups, size_t n, ch_round_metrics *m,
                             ch_err *err)
{
    size_t np = st->net->n_params, len = np + 4;
    ch_reduce *r = ch_reduce_new(st->n_blocks, len, ch_combine_sum, NULL);
    double *root = ch_alloc_array(len, sizeof *root);
    int rc = (!r || !root) ? ch_err_set(err, CH_ENOMEM, "out of memory") : 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = ch_reduce_add(r, ups[i].state, ups[i].state_len, err);
        if (rc != 0) {
            ch_err_prefix(err, "mlp local SGD weights from shard %u", ups[i].shard);
        }
    }
    if (rc == 0) {
        rc = ch_reduce_finish(r, root, err);
    }
    if (rc == 0 && !(root[np] > 0)) {
        rc = ch_err_set(err, CH_EPROTO, "mlp: the local SGD round has no rows");
    }
    if (rc == 0) {
        for (size_t i = 0; i < np; i++) {
            st->w[i] = (float)(root[i] / root[np]);
        }
    }
    double loss = rc == 0 ? root[np + 1] : 0, rows = rc == 0 ? root[np + 2] : 0;
    double correct = rc == 0 ? root[np + 3] : 0;
    ch_reduce_destroy(&r);
    free(root);
    if (rc != 0) {
        return rc;
    }
    st->wire_bytes += st->task_bytes + (double)(np + 4) * sizeof(double);
    st->wire_rounds++;
    long h = st->p.local_steps;
    return s_step_done(st, m, loss, rows, correct, s_lr(st, st->ep.step * h + h - 1), err);
}

static int s_aggregate_step(s_coord *st, const ch_update *ups, size_t n, ch_round_metrics *m,
                            ch_err *err)
{
    ch_nn_task t = s_task(st);
    size_t np = st->net->n_params, nseg = t.nseg;
    ch_nn_leaves sum;
    int rc = ch_nn_leaves_sum("mlp", &t, ups, n, st->gsum, st->ltmp, st->g, &sum, err);
    if (rc != 0) {
        return rc;
    }
    double rows = sum.rows, loss = sum.loss, correct = sum.correct;
    double lr = s_lr(st, st->ep.step);
    double scale = st->scaling ? st->scaler.scale : 1;
    bool apply = !st->scaling || ch_loss_scaler_update(&st->scaler, ch_grad_finite(st->g, np));
    if (rows > 0 && apply) {
        ch_mlp_apply(&st->p, st->w, st->g, st->opt_state, np, rows * scale, lr, st->ep.step + 1);
    }
    st->wire_bytes += st->task_bytes +
                      (double)nseg * (double)np * (double)ch_precision_bytes(st->p.wire_precision);
    st->wire_rounds++;
    return s_step_done(st, m, loss, rows, correct, lr, err);
}

/* After a round's update of st->w: the weights' check, the epoch's sums
 * and, at an epoch's end, validation, curves and early stopping. */
static int s_step_done(s_coord *st, ch_round_metrics *m, double loss, double rows, double correct,
                       double lr, ch_err *err)
{
    int rc = ch_nn_epochs_step(&st->ep, "mlp", st->w, st->net->n_params, loss, rows, correct, err);
    if (rc != 1) {
        return rc;
    }
    double vl, va;
    s_validate(st, &vl, &va);
    rc = ch_nn_epochs_end(&st->ep, st->w, st->net->n_params, st->head, st->n_test > 0, vl, va, lr,
                          m, err);
    if (rc == 0 && st->scaling) {
        ch_round_metric(m, "loss_scale", st->scaler.scale);
        ch_round_metric(m, "skipped_steps", (double)st->scaler.skipped);
    }
    return rc;
}

static int s_aggregate(void *vst, uint32_t round, uint32_t op, const ch_update *ups, size_t n,
                       ch_round_metrics *m, ch_err *err)
{
    s_coord *st = vst;
    (void)round;
    if (op == OP_STATS && !st->stats_done) {
        return s_aggregate_stats(st, ups, n, m, err);
    }
    if (op == OP_STEP && st->stats_done && st->p.local_steps <= 1) {
        return s_aggregate_step(st, ups, n, m, err);
    }
    if (op == OP_LOCAL && st->stats_done && st->p.local_steps > 1) {
        return s_aggregate_local(st, ups, n, m, err);
    }
    return ch_err_set(err, CH_EINTERNAL, "mlp: unexpected op %u", op);
}

static void s_model_destroy(void **pm)
{
    if (!pm || !*pm) {
        return;
    }
    s_model *md = *pm;
    ch_features_destroy(&md->feat);
    ch_net_destroy(&md->net);
    free(md->w);
    ch_nn_curves_free(&md->rec.curves);
    free(md);
    *pm = NULL;
}

static void *s_finalize(void *vst, ch_err *err)
{
    s_coord *st = vst;
    ch_nn_record rec;
    if (ch_nn_epochs_finish(&st->ep, "mlp", st->stats_done, st->p.restore_best, st->w,
                            st->net->n_params, &rec, err) != 0) {
        return NULL;
    }
    s_model *md = calloc(1, sizeof *md);
    if (!md) {
        ch_nn_curves_free(&rec.curves);
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    md->rec = rec;
    md->feat = st->feat;
    md->net = st->net;
    md->w = st->w;
    st->feat = NULL;
    st->net = NULL;
    st->w = NULL;
    md->head = st->head;
    md->n_classes = st->n_classes;
    md->opt = st->p.opt.kind;
    md->n_embed = st->p.n_embed;
    memcpy(md->embed_col, st->p.embed_col, sizeof md->embed_col);
    memcpy(md->embed_dim, st->p.embed_dim, sizeof md->embed_dim);
    md->wire = st->p.wire_precision;
    md->wire_bytes_per_step = st->wire_rounds ? st->wire_bytes / (double)st->wire_rounds : 0;
    md->loss_scale = st->scaling ? st->scaler.scale : 0;
    md->skipped = st->scaler.skipped;
    return md;
}

/* The coordinator's part of a checkpoint (epochs.h). */
static ch_nn_ckpt s_ckpt(s_coord *st)
{
    size_t np = st->net->n_params;
    return (ch_nn_ckpt){.stats_done = st->stats_done,
                        .stats = st->stats,
                        .n_stats = ch_features_stats_len(st->feat),
                        .block_rows = st->block_rows,
                        .n_blocks = st->n_blocks,
                        .w = st->w,
                        .opt_state = st->opt_state,
                        .n_params = np,
                        .n_opt = ch_opt_state_per_param(st->p.opt.kind) * np,
                        .scaler = &st->scaler,
                        .scaling = st->scaling,
                        .wire_bytes = &st->wire_bytes,
                        .wire_rounds = &st->wire_rounds};
}

static int s_save(void *vst, ch_buf *out, ch_err *err)
{
    s_coord *st = vst;
    ch_nn_ckpt c = s_ckpt(st);
    return ch_nn_epochs_save(&st->ep, &c, out, err);
}

static int s_load(void *vst, const uint8_t *data, size_t len, ch_err *err)
{
    s_coord *st = vst;
    ch_nn_ckpt c = s_ckpt(st);
    int rc = ch_nn_epochs_load(&st->ep, &c, &st->n_rows, "mlp", data, len, err);
    if (rc == 0 && c.stats_done) {
        ch_reduce_destroy(&st->reduce);
        ch_features_set_stats(st->feat, st->stats);
        s_set_plan(st);
        st->stats_done = true;
        if (st->ep.steps_per_epoch < 1 || st->ep.step > st->ep.total_steps) {
            rc = ch_err_set(err, CH_EINVAL, "the mlp checkpoint's step is out of range");
        } else {
            rc = s_encode_test(st, err);
        }
    }
    return rc;
}

/* --- worker ------------------------------------------------------------------------ */

static void s_worker_destroy(void **pw)
{
    if (!pw || !*pw) {
        return;
    }
    s_worker *w = *pw;
    ch_features_destroy(&w->feat);
    ch_net_destroy(&w->net);
    ch_net_ws_destroy(&w->ws);
    free(w->w);
    free(w->g);
    free(w->x);
    free(w->y);
    free(w->dout);
    free(w->rows);
    free(w->perm);
    free(w->wr);
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
    void *vw = w;
    w->env = env;
    if (ch_mlp_params_read(env->cfg, &w->p, err) != 0 ||
        ch_mlp_embeddings_read(env->cfg, env->schema, &w->p, err) != 0) {
        s_worker_destroy(&vw);
        return NULL;
    }
    w->n_classes = s_n_classes(env->schema, &w->p);
    w->head = ch_head_for(w->n_classes);
    w->feat = s_features_for(env->schema, &w->p, w->n_classes, err);
    w->net = w->feat ? s_net_for(&w->p, w->feat, w->n_classes, err) : NULL;
    if (!w->net) {
        s_worker_destroy(&vw);
        return NULL;
    }
    const ch_plan *plan = env->plan;
    for (size_t b = 0; b < plan->n_blocks; b++) {
        size_t r = plan->block_begin[b + 1] - plan->block_begin[b];
        w->max_block = r > w->max_block ? r : w->max_block;
    }
    size_t bs = (size_t)w->p.batch_size, np = w->net->n_params;
    w->ws = ch_net_ws_new(w->net, bs);
    w->w = ch_alloc_array(np, sizeof *w->w);
    w->g = ch_alloc_array(np, sizeof *w->g);
    w->x = ch_alloc_array(bs, w->feat->d_in * sizeof *w->x);
    w->y = ch_alloc_array(bs, sizeof *w->y);
    w->dout = ch_alloc_array(bs, w->net->spec.d_out * sizeof *w->dout);
    w->rows = ch_alloc_array(bs, sizeof *w->rows);
    w->perm = ch_alloc_array(w->max_block + 1, sizeof *w->perm);
    w->wr = w->p.local_steps > 1 ? ch_alloc_array(np, sizeof *w->wr) : NULL;
    if (!w->ws || !w->w || !w->g || !w->x || !w->y || !w->dout || !w->rows || !w->perm ||
        (w->p.local_steps > 1 && !w->wr)) {
        ch_err_set(err, CH_ENOMEM, "out of memory for a network of %zu parameters", np);
        s_worker_destroy(&vw);
        return NULL;
    }
    return w;
}

/* Leaf of the statistics round: block b's row count at index b, then the
 * block's feature statistics. */
static int s_stats_leaf(void *ctx, size_t block, double *out, ch_err *err)
{
    s_worker *w = ctx;
    const ch_plan *plan = w->env->plan;
    size_t lb = block - w->env->block_offset;
    size_t lo = plan->block_begin[lb], hi = plan->block_begin[lb + 1];
    (void)err;
    out[block] = (double)(hi - lo);
    ch_features_stats_add(w->feat, w->env->train, plan->rows + lo, hi - lo,
                          out + w->env->n_blocks_total);
    return 0;
}

/* One leaf: the gradient of the step's rows of global block `block`, with
 * the weights wt (NULL: the workspace's stored half weights), packed at
 * the wire precision into grad_bytes. */
static int s_step_leaf(s_worker *w, const float *wt, const Cohort__Mlp__Task *t,
                       const Cohort__Mlp__Segment *sg, Cohort__Mlp__Leaf *leaf, uint8_t *grad_bytes,
                       ch_err *err)
{
    const ch_plan *plan = w->env->plan;
    const ch_table *tb = w->env->train;
    size_t lb = sg->block - w->env->block_offset;
    size_t lo = plan->block_begin[lb], hi = plan->block_begin[lb + 1];
    if ((size_t)sg->offset + sg->count > hi - lo || sg->count > (uint32_t)w->p.batch_size) {
        return ch_err_set(err, CH_EPROTO, "mlp: segment %u+%u is outside block %u (%zu rows)",
                          sg->offset, sg->count, sg->block, hi - lo);
    }
    ch_batch_block_order(w->env->seed, t->epoch, sg->block, w->perm, hi - lo);
    size_t n = 0;
    for (uint32_t k = 0; k < sg->count; k++) {
        size_t r = plan->rows[lo + w->perm[sg->offset + k]];
        if (!tb->has_target || isfinite(tb->target.values[r])) {
            w->rows[n++] = r;
        }
    }
    size_t np = w->net->n_params;
    memset(w->g, 0, np * sizeof *w->g);
    ch_grad_out go = {0};
    if (n > 0) {
        ch_features_encode(w->feat, tb, w->rows, n, w->x, w->y);
        for (size_t i = 0; i < n && w->n_classes; i++) {
            float c = w->y[i];
            if (!(c >= 0 && c < (float)w->n_classes) || c != floorf(c)) {
                return ch_err_set(err, CH_EINVAL,
                                  "mlp: row %zu of the training data has label %g, which is not "
                                  "a class code 0..%zu (model.classes is %zu)",
                                  w->rows[i] + 1, (double)c, w->n_classes - 1, w->n_classes);
            }
        }
        uint64_t stream = t->step * (uint64_t)w->env->n_blocks_total + sg->block;
        float scale = t->loss_scale > 0 ? (float)t->loss_scale : 1.0f;
        int rc = ch_mlp_grad_scaled(w->net, w->head, wt, w->x, w->y, n, true, w->env->seed, stream,
                                    scale, w->ws, w->dout, w->g, &go);
        if (rc != 0) {
            char name[128] = "the loss itself";
            if (go.bad_layer >= 0) {
                ch_net_layer_name(w->net, (size_t)go.bad_layer, name, sizeof name);
            }
            return ch_err_set(err, CH_EINVAL,
                              "mlp: the loss became non-finite at step %llu (epoch %u, block "
                              "%u); the first non-finite values are in the output of %s. Lower "
                              "model.lr, set model.clip_norm, or check the inputs; the last "
                              "checkpoint is kept",
                              (unsigned long long)t->step, t->epoch, sg->block, name);
        }
    }
    ch_half_pack(w->p.wire_precision, grad_bytes, w->g, np);
    leaf->block = sg->block;
    leaf->rows = (uint32_t)n;
    leaf->loss = go.loss;
    leaf->correct = go.correct;
    leaf->grad.data = grad_bytes;
    leaf->grad.len = np * ch_precision_bytes(w->p.wire_precision);
    return 0;
}

static int s_run_step(s_worker *w, const uint8_t *payload, size_t len, size_t b0, size_t b1,
                      ch_buf *out, uint64_t *samples, ch_err *err)
{
    Cohort__Mlp__Task *t = cohort__mlp__task__unpack(NULL, len, payload);
    if (!t) {
        return ch_err_set(err, CH_EPROTO, "mlp: the step task does not decode");
    }
    size_t np = w->net->n_params;
    ch_precision wire = w->p.wire_precision;
    const float *wt = w->w;
    int rc = 0;
    if (t->wire_precision != (uint32_t)wire || t->weights.len != np * ch_precision_bytes(wire) ||
        t->n_stats != ch_features_stats_len(w->feat) ||
        !(t->loss_scale >= 0 && t->loss_scale <= CH_LOSS_SCALE_MAX)) {
        rc = ch_err_set(err, CH_EPROTO,
                        "mlp: the step task has %zu weight bytes at wire precision %u for %zu "
                        "parameters (this worker expects %s)",
                        t->weights.len, t->wire_precision, np, ch_precision_names[wire]);
    }
    size_t mine = 0;
    for (size_t i = 0; i < t->n_segments && rc == 0; i++) {
        uint32_t b = t->segments[i]->block;
        if (b >= b0 && b < b1) {
            mine++;
        }
    }
    Cohort__Mlp__Leaf *leaves = calloc(mine ? mine : 1, sizeof *leaves);
    Cohort__Mlp__Leaf **lp = calloc(mine ? mine : 1, sizeof *lp);
    uint8_t *grads = ch_alloc_array(mine ? mine : 1, np * ch_precision_bytes(wire));
    if (rc == 0 && (!leaves || !lp || !grads)) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    if (rc == 0) {
        /* half weights at the storage precision go straight to the workspace */
        if (wire != CH_PREC_FP32 && wire == w->p.precision) {
            uint16_t *wh = ch_net_ws_half_weights(w->ws);
            for (size_t i = 0; i < np; i++) {
                wh[i] = (uint16_t)(t->weights.data[2 * i] | (t->weights.data[2 * i + 1] << 8));
            }
            wt = NULL;
        } else {
            ch_half_unpack(wire, w->w, t->weights.data, np);
        }
        ch_features_set_stats(w->feat, t->stats);
    }
    size_t k = 0;
    *samples = 0;
    for (size_t i = 0; i < t->n_segments && rc == 0; i++) {
        const Cohort__Mlp__Segment *sg = t->segments[i];
        if (sg->block < b0 || sg->block >= b1) {
            continue;
        }
        cohort__mlp__leaf__init(&leaves[k]);
        rc = s_step_leaf(w, wt, t, sg, &leaves[k], grads + k * np * ch_precision_bytes(wire), err);
        lp[k] = &leaves[k];
        *samples += leaves[k].rows;
        k++;
    }
    if (rc == 0) {
        Cohort__Mlp__Update u = COHORT__MLP__UPDATE__INIT;
        u.n_leaves = k;
        u.leaves = lp;
        u.step_plus_one = t->step + 1;
        rc = ch_pb_append(&u.base, out, err);
    }
    free(leaves);
    free(lp);
    free(grads);
    cohort__mlp__task__free_unpacked(t, NULL);
    return rc;
}

/* The encoded rows n of a local batch (rows with a target), their labels
 * checked; CH_EINVAL names a bad label. */
static int s_encode_rows(s_worker *w, size_t n, ch_err *err)
{
    ch_features_encode(w->feat, w->env->train, w->rows, n, w->x, w->y);
    for (size_t i = 0; i < n && w->n_classes; i++) {
        float c = w->y[i];
        if (!(c >= 0 && c < (float)w->n_classes) || c != floorf(c)) {
            return ch_err_set(err, CH_EINVAL,
                              "mlp: row %zu of the training data has label %g, which is not "
                              "a class code 0..%zu (model.classes is %zu)",
                              w->rows[i] + 1, (double)c, w->n_classes - 1, w->n_classes);
        }
    }
    return 0;
}

/* Local SGD leaf of block `block`: from the round's weights, local_steps
 * SGD steps on the block's rows, local step t (= round x local_steps + k)
 * taking positions [t b, (t + 1) b) of the block's rows in the orders of
 * its successive passes (b = the batch, or the block's rows when fewer).
 * Writes rows x weights, rows, loss, rows trained, correct. */
static int s_local_leaf(void *ctx, size_t block, double *out, ch_err *err)
{
    s_worker *w = ctx;
    const Cohort__Mlp__Task *t = w->task;
    const ch_plan *plan = w->env->plan;
    const ch_table *tb = w->env->train;
    size_t lb = block - w->env->block_offset;
    size_t lo = plan->block_begin[lb], nb = plan->block_begin[lb + 1] - lo;
    size_t np = w->net->n_params, bl = s_local_batch((size_t)w->p.batch_size, nb);
    if (nb == 0) {
        return 0;
    }
    memcpy(w->wr, w->w, np * sizeof *w->wr);
    double loss = 0, rows = 0, correct = 0;
    uint64_t pass = UINT64_MAX;
    for (size_t k = 0; k < t->n_local_lr; k++) {
        uint64_t step = t->step * t->n_local_lr + k, p0 = step * bl;
        size_t n = 0;
        for (uint64_t q = p0; q < p0 + bl; q++) {
            if (q / nb != pass) {
                pass = q / nb;
                ch_batch_block_order(w->env->seed, (long)pass, block, w->perm, nb);
            }
            size_t r = plan->rows[lo + w->perm[q % nb]];
            if (!tb->has_target || isfinite(tb->target.values[r])) {
                w->rows[n++] = r;
            }
        }
        if (n == 0) {
            continue;
        }
        int rc = s_encode_rows(w, n, err);
        if (rc != 0) {
            return rc;
        }
        memset(w->g, 0, np * sizeof *w->g);
        ch_grad_out go;
        rc =
            ch_mlp_grad(w->net, w->head, w->wr, w->x, w->y, n, true, w->env->seed,
                        step * (uint64_t)w->env->n_blocks_total + block, w->ws, w->dout, w->g, &go);
        if (rc != 0) {
            return ch_err_set(err, CH_EINVAL,
                              "mlp: the loss became non-finite in local step %llu on block %zu; "
                              "lower model.lr or set model.clip_norm",
                              (unsigned long long)step, block);
        }
        ch_mlp_apply(&w->p, w->wr, w->g, NULL, np, (double)n, t->local_lr[k], (long)step + 1);
        loss += go.loss;
        rows += (double)n;
        correct += go.correct;
    }
    for (size_t i = 0; i < np; i++) {
        out[i] = (double)nb * w->wr[i];
    }
    out[np] = (double)nb;
    out[np + 1] = loss;
    out[np + 2] = rows;
    out[np + 3] = correct;
    return 0;
}

static int s_run_local(s_worker *w, const uint8_t *payload, size_t len, size_t b0, size_t b1,
                       ch_buf *out, uint64_t *samples, ch_err *err)
{
    Cohort__Mlp__Task *t = cohort__mlp__task__unpack(NULL, len, payload);
    if (!t) {
        return ch_err_set(err, CH_EPROTO, "mlp: the local SGD task does not decode");
    }
    size_t np = w->net->n_params;
    ch_precision wire = w->p.wire_precision;
    int rc = 0;
    if (t->wire_precision != (uint32_t)wire || t->weights.len != np * ch_precision_bytes(wire) ||
        t->n_stats != ch_features_stats_len(w->feat) || t->n_local_lr != (size_t)w->p.local_steps ||
        !w->wr) {
        rc = ch_err_set(err, CH_EPROTO,
                        "mlp: the local SGD task has %zu weight bytes and %zu local steps (this "
                        "worker expects %zu parameters at %s, %ld steps)",
                        t->weights.len, t->n_local_lr, np, ch_precision_names[wire],
                        w->p.local_steps);
    }
    for (size_t k = 0; k < t->n_local_lr && rc == 0; k++) {
        if (!(t->local_lr[k] >= 0 && t->local_lr[k] < 1e12)) {
            rc = ch_err_set(err, CH_EPROTO, "mlp: the local SGD task has a bad learning rate");
        }
    }
    if (rc == 0) {
        ch_half_unpack(wire, w->w, t->weights.data, np);
        ch_features_set_stats(w->feat, t->stats);
        w->task = t;
        *samples = 0;
        for (size_t b = b0; b < b1; b++) {
            size_t lb = b - w->env->block_offset;
            *samples += (w->env->plan->block_begin[lb + 1] - w->env->plan->block_begin[lb]);
        }
        rc = ch_reduce_range(w->env->n_blocks_total, b0, b1, np + 4, s_local_leaf, w,
                             ch_combine_sum, NULL, out, err);
        w->task = NULL;
    }
    cohort__mlp__task__free_unpacked(t, NULL);
    return rc;
}

static int s_run_task(void *vw, uint32_t round, uint32_t op, const uint8_t *payload, size_t len,
                      uint32_t shard, ch_buf *out, uint64_t *samples, ch_err *err)
{
    s_worker *w = vw;
    (void)round;
    const ch_plan *plan = w->env->plan;
    if (shard >= plan->n_shards) {
        return ch_err_set(err, CH_EPROTO, "mlp: shard %u out of range (%zu shards)", shard,
                          plan->n_shards);
    }
    size_t b0 = w->env->block_offset + plan->shard_block[shard];
    size_t b1 = w->env->block_offset + plan->shard_block[shard + 1];
    if (op == OP_STATS) {
        *samples = ch_plan_shard_end(plan, shard) - ch_plan_shard_begin(plan, shard);
        size_t len_stats = w->env->n_blocks_total + ch_features_stats_len(w->feat);
        return ch_reduce_range(w->env->n_blocks_total, b0, b1, len_stats, s_stats_leaf, w,
                               ch_combine_sum, NULL, out, err);
    }
    if (op == OP_STEP) {
        return s_run_step(w, payload, len, b0, b1, out, samples, err);
    }
    if (op == OP_LOCAL) {
        return s_run_local(w, payload, len, b0, b1, out, samples, err);
    }
    return ch_err_set(err, CH_EPROTO, "mlp: unknown op %u", op);
}

/* --- model ------------------------------------------------------------------------- */

static ch_output_kind s_output_kind(const void *vm)
{
    const s_model *md = vm;
    return md->head == CH_HEAD_MSE ? CH_OUT_REGRESSION : CH_OUT_PROBABILITIES;
}

static size_t s_n_outputs(const void *vm)
{
    const s_model *md = vm;
    return md->head == CH_HEAD_MSE ? 1 : md->n_classes;
}

static int s_predict(const void *vm, const ch_table *t, double *out, ch_err *err)
{
    const s_model *md = vm;
    const size_t chunk = S_EVAL_CHUNK;
    size_t d = md->feat->d_in, k = md->net->spec.d_out;
    ch_net_ws *ws = ch_net_ws_new(md->net, chunk);
    float *x = ch_alloc_array(chunk, d * sizeof *x);
    float *y = calloc(chunk, sizeof *y);
    float *dout = ch_alloc_array(chunk, k * sizeof *dout);
    float *prob = ch_alloc_array(chunk, k * sizeof *prob);
    size_t *rows = ch_alloc_array(chunk, sizeof *rows);
    int rc = 0;
    if (!ws || !x || !y || !dout || !prob || !rows) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < t->n_rows && rc == 0; i += chunk) {
        size_t m = t->n_rows - i < chunk ? t->n_rows - i : chunk;
        for (size_t j = 0; j < m; j++) {
            rows[j] = i + j;
        }
        ch_features_encode(md->feat, t, rows, m, x, NULL);
        memset(y, 0, m * sizeof *y);
        double l, c;
        ch_mlp_eval(md->net, md->head, md->w, x, y, m, chunk, ws, dout, &l, &c, prob);
        for (size_t j = 0; j < m; j++) {
            double *o = out + (i + j) * s_n_outputs(md);
            switch (md->head) {
            case CH_HEAD_MSE:
                o[0] = prob[j] / md->feat->y_scale + md->feat->y_mean;
                break;
            case CH_HEAD_BCE:
                o[0] = 1.0 - prob[j];
                o[1] = prob[j];
                break;
            case CH_HEAD_SOFTMAX:
                for (size_t c2 = 0; c2 < k; c2++) {
                    o[c2] = prob[j * k + c2];
                }
                break;
            }
        }
    }
    ch_net_ws_destroy(&ws);
    free(x);
    free(y);
    free(dout);
    free(prob);
    free(rows);
    return rc;
}

static int s_pack(const void *vm, ch_buf *out, ch_err *err)
{
    const s_model *md = vm;
    const ch_net_spec *sp = &md->net->spec;
    Cohort__Mlp__Model pm = COHORT__MLP__MODEL__INIT;
    Cohort__Mlp__Curves cv = COHORT__MLP__CURVES__INIT;
    uint32_t hidden[CH_MLP_MAX_HIDDEN];
    for (size_t i = 0; i < sp->n_hidden; i++) {
        hidden[i] = (uint32_t)sp->hidden[i];
    }
    pm.d_in = (uint32_t)sp->d_in;
    pm.d_out = (uint32_t)sp->d_out;
    pm.n_hidden = sp->n_hidden;
    pm.hidden = hidden;
    pm.activation = (char *)ch_act_names[sp->act];
    pm.layer_norm = sp->layer_norm;
    pm.dropout = sp->dropout;
    pm.regression = md->head == CH_HEAD_MSE;
    pm.n_classes = (uint32_t)md->n_classes;
    pm.n_mean = pm.n_scale = md->feat->n_cols;
    pm.mean = md->feat->mean;
    pm.scale = md->feat->scale;
    pm.y_mean = md->feat->y_mean;
    pm.y_scale = md->feat->y_scale;
    pm.weights.data = (uint8_t *)md->w;
    pm.weights.len = md->net->n_params * sizeof(float);
    pm.steps = (uint64_t)md->rec.steps;
    pm.epochs = (uint32_t)md->rec.epochs;
    pm.best_epoch = (uint32_t)md->rec.best_epoch;
    pm.stopped_early = md->rec.stopped_early;
    pm.optimizer = (char *)ch_opt_names[md->opt];
    pm.precision = (char *)ch_precision_names[sp->precision];
    pm.wire_precision = (char *)ch_precision_names[md->wire];
    pm.wire_bytes_per_step = md->wire_bytes_per_step;
    pm.loss_scale = md->loss_scale;
    pm.skipped_steps = (uint64_t)md->skipped;
    uint32_t ecol[CH_MLP_MAX_EMBED], edim[CH_MLP_MAX_EMBED];
    for (size_t e = 0; e < md->n_embed; e++) {
        ecol[e] = (uint32_t)md->embed_col[e];
        edim[e] = (uint32_t)md->embed_dim[e];
    }
    pm.n_embed_col = pm.n_embed_dim = md->n_embed;
    pm.embed_col = ecol;
    pm.embed_dim = edim;
    ch_nn_curves_to_pb(&md->rec.curves, &cv);
    pm.curves = &cv;
    return ch_pb_append(&pm.base, out, err);
}

static void *s_unpack(const uint8_t *data, size_t len, const ch_schema *schema, ch_err *err)
{
    Cohort__Mlp__Model *pm = cohort__mlp__model__unpack(NULL, len, data);
    if (!pm) {
        ch_err_set(err, CH_EINVAL, "the mlp model payload does not decode");
        return NULL;
    }
    s_model *md = calloc(1, sizeof *md);
    void *vm = md;
    int rc = md ? 0 : ch_err_set(err, CH_ENOMEM, "out of memory");
    int act = -1, prec = -1, wire = -1;
    for (int i = 0; ch_act_names[i] && pm->activation; i++) {
        if (strcmp(ch_act_names[i], pm->activation) == 0) {
            act = i;
        }
    }
    for (int i = 0; ch_precision_names[i]; i++) {
        /* a model written before precision existed is fp32 */
        const char *pn = pm->precision && pm->precision[0] ? pm->precision : "fp32";
        const char *wn = pm->wire_precision && pm->wire_precision[0] ? pm->wire_precision : pn;
        prec = strcmp(ch_precision_names[i], pn) == 0 ? i : prec;
        wire = strcmp(ch_precision_names[i], wn) == 0 ? i : wire;
    }
    ch_mlp_params ep = {0}; /* the embeddings, for the encoding and the net */
    if (rc == 0 && (prec < 0 || wire < 0 || pm->n_embed_col != pm->n_embed_dim ||
                    pm->n_embed_col > CH_MLP_MAX_EMBED)) {
        rc = ch_err_set(err, CH_EINVAL, "the mlp model's precision or embeddings are malformed");
    }
    for (size_t e = 0; rc == 0 && e < pm->n_embed_col; e++) {
        ep.embed_col[e] = pm->embed_col[e];
        ep.embed_dim[e] = pm->embed_dim[e];
        if (pm->embed_col[e] >= schema->n_features ||
            (e > 0 && pm->embed_col[e] <= pm->embed_col[e - 1])) {
            rc = ch_err_set(err, CH_EINVAL, "the mlp model's embedding %zu is malformed", e);
        }
    }
    ep.n_embed = rc == 0 ? pm->n_embed_col : 0;
    if (rc == 0) {
        md->feat = s_features_for(schema, &ep, 0, err);
        if (!md->feat) {
            rc = CH_EINVAL;
        }
    }
    size_t n_classes = pm->regression ? 0 : pm->n_classes;
    if (rc == 0 && schema->target.kind == CH_COL_CATEGORICAL &&
        n_classes != schema->target.n_levels) {
        rc = ch_err_set(err, CH_EINVAL, "the mlp model has %zu classes, its schema %zu", n_classes,
                        schema->target.n_levels);
    }
    if (rc == 0) {
        md->feat->regression = pm->regression;
    }
    if (rc == 0 && (act < 0 || pm->n_hidden > CH_MLP_MAX_HIDDEN || pm->n_mean != md->feat->n_cols ||
                    pm->n_scale != md->feat->n_cols || pm->d_in != md->feat->d_in ||
                    pm->n_classes != n_classes || !(pm->dropout >= 0 && pm->dropout < 1))) {
        rc = ch_err_set(err, CH_EINVAL, "the mlp model does not match its schema");
    }
    if (rc == 0) {
        ch_net_spec sp = {.d_in = pm->d_in,
                          .d_out = ch_head_outputs(ch_head_for(n_classes), n_classes),
                          .n_hidden = pm->n_hidden,
                          .act = (ch_act)act,
                          .layer_norm = pm->layer_norm,
                          .dropout = pm->dropout,
                          .precision = (ch_precision)prec,
                          .n_embed = ep.n_embed};
        for (size_t i = 0; i < pm->n_hidden; i++) {
            sp.hidden[i] = pm->hidden[i];
        }
        for (size_t e = 0; e < ep.n_embed; e++) {
            sp.embed[e] = (ch_embed_spec){.col = md->feat->offset[ep.embed_col[e]],
                                          .levels = md->feat->width[ep.embed_col[e]],
                                          .dim = ep.embed_dim[e]};
        }
        md->net = sp.d_out == pm->d_out ? ch_net_new(&sp, err) : NULL;
        if (!md->net) {
            rc = ch_err_set(err, CH_EINVAL, "the mlp model's network is malformed");
        }
    }
    if (rc == 0 && pm->weights.len != md->net->n_params * sizeof(float)) {
        rc = ch_err_set(err, CH_EINVAL, "the mlp model has %zu weight bytes, expected %zu",
                        pm->weights.len, md->net->n_params * sizeof(float));
    }
    if (rc == 0) {
        md->w = ch_alloc_array(md->net->n_params, sizeof *md->w);
        if (!md->w) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        }
    }
    if (rc == 0) {
        memcpy(md->w, pm->weights.data, pm->weights.len);
        memcpy(md->feat->mean, pm->mean, pm->n_mean * sizeof(double));
        memcpy(md->feat->scale, pm->scale, pm->n_scale * sizeof(double));
        md->feat->y_mean = pm->y_mean;
        md->feat->y_scale = pm->y_scale;
        md->head = ch_head_for(n_classes);
        md->n_classes = n_classes;
        md->rec.steps = (long)pm->steps;
        md->rec.epochs = pm->epochs;
        md->rec.best_epoch = pm->best_epoch;
        md->rec.stopped_early = pm->stopped_early;
        md->n_embed = ep.n_embed;
        memcpy(md->embed_col, ep.embed_col, sizeof md->embed_col);
        memcpy(md->embed_dim, ep.embed_dim, sizeof md->embed_dim);
        md->wire = (ch_precision)wire;
        md->wire_bytes_per_step = pm->wire_bytes_per_step;
        md->loss_scale = pm->loss_scale;
        md->skipped = (long)pm->skipped_steps;
        md->opt = CH_OPT_ADAM;
        for (int i = 0; ch_opt_names[i] && pm->optimizer; i++) {
            if (strcmp(ch_opt_names[i], pm->optimizer) == 0) {
                md->opt = (ch_opt_kind)i;
            }
        }
        if (ch_nn_curves_from_pb(&md->rec.curves, pm->curves) != 0) {
            rc = ch_err_set(err, CH_EINVAL, "the mlp model's curves are malformed");
        }
    }
    cohort__mlp__model__free_unpacked(pm, NULL);
    if (rc != 0) {
        s_model_destroy(&vm);
        return NULL;
    }
    return md;
}

static void s_arch(const s_model *md, ch_buf *b)
{
    const ch_net_spec *sp = &md->net->spec;
    ch_buf_printf(b, "%zu", sp->d_in);
    for (size_t i = 0; i < sp->n_hidden; i++) {
        ch_buf_printf(b, "-%zu", sp->hidden[i]);
    }
    ch_buf_printf(b, "-%zu", sp->d_out);
}

static int s_summary_json(const void *vm, ch_buf *j)
{
    const s_model *md = vm;
    ch_buf a;
    ch_buf_init(&a);
    s_arch(md, &a);
    ch_buf_puts(j, ",\n  \"network\": {\"layers\": ");
    ch_buf_json_str(j, ch_buf_str(&a));
    ch_buf_free(&a);
    ch_buf_printf(j,
                  ", \"parameters\": %zu, \"activation\": \"%s\", \"steps\": %ld, "
                  "\"epochs\": %ld, \"optimizer\": \"%s\"",
                  md->net->n_params, ch_act_names[md->net->spec.act], md->rec.steps, md->rec.epochs,
                  ch_opt_names[md->opt]);
    if (md->rec.best_epoch > 0) {
        ch_buf_printf(j, ", \"best_epoch\": %ld, \"stopped_early\": %s", md->rec.best_epoch,
                      md->rec.stopped_early ? "true" : "false");
    }
    ch_buf_printf(j,
                  ", \"precision\": \"%s\", \"wire_precision\": \"%s\", "
                  "\"wire_bytes_per_step\": %.0f, \"embeddings\": %zu",
                  ch_precision_names[md->net->spec.precision], ch_precision_names[md->wire],
                  md->wire_bytes_per_step, md->n_embed);
    if (md->loss_scale > 0) {
        ch_buf_printf(j, ", \"loss_scale\": %g, \"skipped_steps\": %ld", md->loss_scale,
                      md->skipped);
    }
    ch_nn_summary_tail(md->w, md->net->n_params, &md->rec.curves, j);
    ch_buf_puts(j, "}");
    return j->failed ? CH_ENOMEM : 0;
}

static int s_describe(const void *vm, ch_buf *text)
{
    const s_model *md = vm;
    ch_buf_puts(text, "multilayer perceptron ");
    s_arch(md, text);
    ch_buf_printf(text, " (%s%s, %zu parameters), %s, %ld epochs, %ld steps, %s\n",
                  ch_act_names[md->net->spec.act], md->net->spec.layer_norm ? ", layer norm" : "",
                  md->net->n_params, ch_opt_names[md->opt], md->rec.epochs, md->rec.steps,
                  ch_precision_names[md->net->spec.precision]);
    for (size_t e = 0; e < md->n_embed; e++) {
        ch_buf_printf(text, "embedding of input column %zu: dimension %zu\n", md->embed_col[e] + 1,
                      md->embed_dim[e]);
    }
    ch_nn_curves_describe(&md->rec.curves, md->rec.best_epoch, md->rec.stopped_early, text);
    return text->failed ? CH_ENOMEM : 0;
}

static int s_report(const void *vm, ch_report *r, ch_err *err)
{
    const s_model *md = vm;
    const ch_nn_curves *c = &md->rec.curves;
    ch_buf a;
    ch_buf_init(&a);
    s_arch(md, &a);
    char np[32], st[32], ep[32];
    snprintf(np, sizeof np, "%zu", md->net->n_params);
    snprintf(st, sizeof st, "%ld", md->rec.steps);
    snprintf(ep, sizeof ep, "%ld", md->rec.epochs);
    const char *keys[] = {"layers",    "activation", "layer norm", "parameters",
                          "optimizer", "epochs",     "steps"};
    const char *vals[] = {ch_buf_str(&a),
                          ch_act_names[md->net->spec.act],
                          md->net->spec.layer_norm ? "yes" : "no",
                          np,
                          ch_opt_names[md->opt],
                          ep,
                          st};
    ch_report_section(r, "Network");
    int rc = ch_report_kv(r, keys, vals, 7);
    ch_buf_free(&a);
    if (rc != 0) {
        return ch_err_set(err, rc, "out of memory building the report");
    }
    return ch_nn_curves_report(c, md->head, r, err);
}

const ch_algo ch_algo_mlp = {
    .name = "mlp",
    .summary = "multilayer perceptron, synchronous data-parallel SGD/Adam, exact across workers",
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
