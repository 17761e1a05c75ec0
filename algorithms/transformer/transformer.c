/* transformer.c: a small transformer encoder (encoder.h) over sequences,
 * trained exactly as algorithms/mlp trains its networks: synchronous
 * data-parallel SGD, Adam or AdamW, the same bytes for any number of
 * workers.
 *
 * Round 0 sums per-block feature statistics (and block row counts) over the
 * fixed block tree (common/reduce.h): the standardisation uses every shard.
 * Every later round is ONE optimizer step: the coordinator sends the
 * weights and the step's segments (algorithms/mlp/batch.h: the global
 * mini-batch as positions in blocks, drawn from the seed, not from the
 * worker count); each worker returns one gradient leaf per block of the
 * batch it owns, computed with the same sgemm calls on the same sequences
 * whichever worker owns the block; the coordinator adds the leaves in the
 * batch's segment order, divides by the batch's rows and steps the
 * optimizer. So the weights after every step, the curves and model.pb are
 * identical for 1, 2 or 8 workers (same machine and OpenBLAS build; workers
 * run one BLAS thread). A table row is one sequence (inputs.h). */
#include "algorithms/algo.h"
#include "algorithms/mlp/batch.h"
#include "algorithms/mlp/blockstats.h"
#include "algorithms/mlp/epochs.h"
#include "algorithms/mlp/step.h"
#include "algorithms/transformer/inputs.h"
#include "algorithms/transformer/train.h"
#include "common/pb.h"
#include "common/reduce.h"
#include "proto/transformer.pb-c.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OP_STATS = 1, OP_STEP = 2 };

#define S_EVAL_CHUNK 256

typedef struct s_model {
    ch_tfm_inputs *in;
    ch_tfm *net;
    ch_head head;
    size_t n_classes;
    float *w;
    ch_nn_record rec; /* steps, epochs, early stopping, curves */
    ch_opt_kind opt;
} s_model;

typedef struct s_coord {
    ch_tfm_params p;
    uint64_t seed;
    ch_tfm_inputs *in;
    ch_tfm *net;
    ch_head head;
    size_t n_classes;
    size_t n_blocks;
    ch_reduce *reduce;
    size_t stats_len; /* n_blocks counts + feature statistics */
    double *stats;    /* the feature part */
    size_t *block_rows;
    bool stats_done;
    size_t n_rows;
    ch_nn_epochs ep; /* steps, curves, early stopping (algorithms/mlp/epochs.h) */
    float *w, *g, *opt_state;
    double *gsum;
    ch_segment *seg;
    const ch_table *test;
    float *test_x, *test_y;
    uint8_t *test_mask;
    size_t n_test;
    ch_tfm_ws *ws;
    float *dout;
    float *ltmp; /* one leaf's gradient, decoded */
} s_coord;

typedef struct s_worker {
    const ch_worker_env *env;
    ch_tfm_params p;
    ch_tfm_inputs *in;
    ch_tfm *net;
    ch_head head;
    size_t n_classes;
    ch_tfm_ws *ws;
    float *w, *g, *x, *y, *dout;
    uint8_t *mask;
    size_t *rows, *perm;
    size_t max_block;
} s_worker;

/* --- shared helpers ---------------------------------------------------------- */

/* Classes of the model: a categorical target's levels, or model.classes
 * for a numeric target holding class codes 0..classes-1 (IDX labels), or 0
 * (regression). */
static size_t s_n_classes(const ch_schema *s, const ch_tfm_params *p)
{
    return s->target.kind == CH_COL_CATEGORICAL ? s->target.n_levels : (size_t)p->classes;
}

/* The model's curves in model.pb (transformer.proto's Curves message). */
static void s_curves_to_pb(const ch_nn_curves *c, Cohort__Transformer__Curves *pb)
{
    pb->n_train_loss = pb->n_valid_loss = pb->n_valid_accuracy = pb->n_lr = c->n;
    pb->n_train_accuracy = c->n;
    pb->train_loss = c->train_loss;
    pb->valid_loss = c->valid_loss;
    pb->valid_accuracy = c->valid_acc;
    pb->lr = c->lr;
    pb->train_accuracy = c->train_acc;
}

static int s_curves_from_pb(ch_nn_curves *c, const Cohort__Transformer__Curves *pb)
{
    if (!pb) {
        ch_nn_curves_free(c);
        return 0;
    }
    size_t n[5] = {pb->n_train_loss, pb->n_valid_loss, pb->n_valid_accuracy, pb->n_lr,
                   pb->n_train_accuracy};
    double *v[5] = {pb->train_loss, pb->valid_loss, pb->valid_accuracy, pb->lr, pb->train_accuracy};
    return ch_nn_curves_set(c, n, v);
}

/* The input layout for params p on schema s; classification when the
 * model has classes (shared by all three sides). */
static ch_tfm_inputs *s_inputs_for(const ch_tfm_params *p, const ch_schema *s, size_t n_classes,
                                   ch_err *err)
{
    ch_tfm_inputs *in = ch_tfm_inputs_new(s, (size_t)p->max_length, p->input == CH_TFM_IN_TOKENS,
                                          (size_t)p->vocab, p->sequences, p->id_column, err);
    if (in && n_classes) {
        in->feat->regression = false;
    }
    return in;
}

/* The network for params p over inputs in (shared by all three sides). */
static ch_tfm *s_net_for(const ch_tfm_params *p, const ch_tfm_inputs *in, size_t n_classes,
                         ch_err *err)
{
    ch_tfm_spec spec = {.len = in->len,
                        .d_in = in->d_in,
                        .vocab = (size_t)p->vocab,
                        .d_model = (size_t)p->d_model,
                        .heads = (size_t)p->heads,
                        .n_layers = (size_t)p->layers,
                        .d_ff = (size_t)p->d_ff,
                        .d_out = ch_head_outputs(ch_head_for(n_classes), n_classes),
                        .input = p->input,
                        .pos = p->positions,
                        .pool = p->pooling};
    return ch_tfm_new(&spec, err);
}

/* Floats of one encoded sequence. */
static size_t s_width(const ch_tfm_inputs *in)
{
    return in->len * in->d_in;
}

/* --- configuration ------------------------------------------------------------- */

static int s_configure(ch_config *cfg, const ch_schema *schema, ch_err *err)
{
    ch_tfm_params p;
    int rc = ch_tfm_params_read(cfg, &p, err);
    if (rc == 0 && schema && schema->target.kind == CH_COL_CATEGORICAL &&
        schema->target.n_levels < 2) {
        rc = ch_err_set(
            err, CH_EINVAL, "%s: the target '%s' has %zu class; a classifier needs two or more",
            ch_config_where(cfg, "data.target"), schema->target.name, schema->target.n_levels);
    }
    if (rc == 0 && schema && schema->target.kind == CH_COL_CATEGORICAL && p.classes != 0 &&
        (size_t)p.classes != schema->target.n_levels) {
        rc = ch_err_set(err, CH_EINVAL,
                        "%s: model.classes is %ld but the target '%s' has %zu levels (leave "
                        "model.classes out for a categorical target)",
                        ch_config_where(cfg, "model.classes"), p.classes, schema->target.name,
                        schema->target.n_levels);
    }
    if (rc == 0 && schema) {
        /* the layout of the columns as sequences, and the network's sizes */
        ch_tfm_inputs *in = s_inputs_for(&p, schema, s_n_classes(schema, &p), err);
        ch_tfm *net = in ? s_net_for(&p, in, s_n_classes(schema, &p), err) : NULL;
        if (!net) {
            rc = ch_err_prefix(err, "%s", ch_config_where(cfg, "model.algorithm"));
        }
        ch_tfm_destroy(&net);
        ch_tfm_inputs_destroy(&in);
    }
    return rc;
}

static int s_estimate(ch_config *cfg, const ch_schema *schema, size_t n_rows, size_t n_workers,
                      size_t n_blocks, ch_estimate *out)
{
    ch_tfm_params p;
    if (ch_tfm_params_read(cfg, &p, NULL) != 0) {
        return CH_EINVAL;
    }
    ch_tfm_inputs *in = s_inputs_for(&p, schema, s_n_classes(schema, &p), NULL);
    ch_tfm *net = in ? s_net_for(&p, in, s_n_classes(schema, &p), NULL) : NULL;
    ch_tfm_inputs_destroy(&in);
    if (!net) {
        return CH_EINVAL;
    }
    double np = (double)net->n_params, bs = (double)p.batch_size, t = (double)net->t;
    double D = (double)p.d_model, F = (double)p.d_ff, H = (double)p.heads;
    /* per block and position: 8 model-wide rows, 2 feed-forward rows; attention t per head */
    out->worker_bytes =
        np * 4 * 2 + bs * t * 4 * ((double)p.layers * (8 * D + 2 * F + H * t) + 8 * D);
    out->message_bytes = np * 4 * 2 + 64;
    /* 6 flops per parameter use and position, plus the attention products */
    out->flops = 6 * np * bs * t + 12 * bs * t * t * D * (double)p.layers;
    out->rounds = 1 + (double)p.epochs * (double)ch_batch_steps_per_epoch(n_rows, p.batch_size);
    (void)n_workers;
    (void)n_blocks;
    ch_tfm_destroy(&net);
    return 0;
}

/* --- coordinator ----------------------------------------------------------------- */

static void s_coord_destroy(void **pst)
{
    if (!pst || !*pst) {
        return;
    }
    s_coord *st = *pst;
    ch_tfm_inputs_destroy(&st->in);
    ch_tfm_destroy(&st->net);
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
    free(st->test_mask);
    ch_tfm_ws_destroy(&st->ws);
    free(st->dout);
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
    if (ch_tfm_params_read(env->cfg, &st->p, err) != 0) {
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
    st->in = s_inputs_for(&st->p, env->schema, st->n_classes, err);
    st->net = st->in ? s_net_for(&st->p, st->in, st->n_classes, err) : NULL;
    if (!st->net) {
        s_coord_destroy(&vst);
        return NULL;
    }
    size_t np = st->net->n_params, ns = ch_opt_state_per_param(st->p.opt.kind);
    st->n_blocks = env->n_blocks;
    st->stats_len = st->n_blocks + ch_features_stats_len(st->in->feat);
    st->reduce = ch_reduce_new(st->n_blocks, st->stats_len, ch_combine_sum, NULL);
    st->stats = calloc(ch_features_stats_len(st->in->feat), sizeof *st->stats);
    st->block_rows = calloc(st->n_blocks ? st->n_blocks : 1, sizeof *st->block_rows);
    st->seg = calloc(st->n_blocks ? st->n_blocks : 1, sizeof *st->seg);
    st->w = ch_alloc_array(np, sizeof *st->w);
    st->g = ch_alloc_array(np, sizeof *st->g);
    st->gsum = ch_alloc_array(np, sizeof *st->gsum);
    st->opt_state = ch_calloc_array(ns * np + 1, sizeof *st->opt_state);
    st->ep.patience = st->p.early_stopping;
    st->ep.best_w = st->p.early_stopping ? ch_alloc_array(np, sizeof *st->ep.best_w) : NULL;
    st->ws = ch_tfm_ws_new(st->net, S_EVAL_CHUNK);
    st->dout = ch_alloc_array(S_EVAL_CHUNK, st->net->spec.d_out * sizeof *st->dout);
    st->ltmp = ch_alloc_array(np, sizeof *st->ltmp);
    if (!st->reduce || !st->stats || !st->block_rows || !st->seg || !st->w || !st->g || !st->gsum ||
        !st->opt_state || !st->ws || !st->dout || !st->ltmp ||
        (st->p.early_stopping && !st->ep.best_w)) {
        ch_err_set(err, CH_ENOMEM, "out of memory for a network of %zu parameters", np);
        s_coord_destroy(&vst);
        return NULL;
    }
    ch_tfm_init(st->net, st->seed, st->w);
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

/* The synchronous step st->ep.step: its segments of the global batch
 * (into st->seg) and its task (algorithms/mlp/step.h: mlp.proto's Task,
 * whose fields 1-6 are transformer.proto's; fp32, no loss scale). */
static ch_nn_task s_task(s_coord *st)
{
    long epoch = st->ep.step / st->ep.steps_per_epoch, s = st->ep.step % st->ep.steps_per_epoch;
    size_t nseg = ch_batch_segments(st->block_rows, st->n_blocks, st->seed, epoch, s,
                                    (size_t)st->p.batch_size, st->seg);
    return (ch_nn_task){.step = st->ep.step,
                        .steps_per_epoch = st->ep.steps_per_epoch,
                        .seg = st->seg,
                        .nseg = nseg,
                        .weights = (const uint8_t *)st->w,
                        .n_params = st->net->n_params,
                        .wire = CH_PREC_FP32,
                        .stats = st->stats,
                        .n_stats = ch_features_stats_len(st->in->feat)};
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
    *op = OP_STEP;
    ch_nn_task t = s_task(st);
    return ch_nn_task_pack(&t, payload, err);
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
    st->test_x = ch_alloc_array(n ? n : 1, s_width(st->in) * sizeof(float));
    st->test_y = ch_alloc_array(n ? n : 1, sizeof(float));
    st->test_mask = ch_alloc_array(n ? n : 1, st->in->len);
    if (!st->test_x || !st->test_y || !st->test_mask) {
        free(rows);
        return ch_err_set(err, CH_ENOMEM, "out of memory for the validation rows");
    }
    int rc = ch_tfm_inputs_encode(st->in, t, rows, n, st->test_x, st->test_mask, st->test_y, err);
    st->n_test = n;
    free(rows);
    return rc ? ch_err_prefix(err, "the held-out rows") : 0;
}

static int s_aggregate_stats(s_coord *st, const ch_update *ups, size_t n, ch_round_metrics *m,
                             ch_err *err)
{
    int rc = ch_nn_block_stats("transformer", &st->reduce, ups, n, st->n_blocks, st->block_rows,
                               &st->n_rows, st->stats, ch_features_stats_len(st->in->feat), err);
    if (rc != 0) {
        return rc;
    }
    if (st->n_rows < (size_t)st->p.batch_size) {
        return ch_err_set(err, CH_EINVAL,
                          "model.batch_size %ld is larger than the %zu training rows",
                          st->p.batch_size, st->n_rows);
    }
    ch_features_set_stats(st->in->feat, st->stats);
    st->ep.steps_per_epoch = ch_batch_steps_per_epoch(st->n_rows, (size_t)st->p.batch_size);
    st->ep.total_steps = st->ep.steps_per_epoch * st->p.epochs;
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
    ch_tfm_eval(st->net, st->head, st->w, st->test_x, st->test_mask, st->test_y, st->n_test,
                S_EVAL_CHUNK, st->ws, st->dout, &l, &c, NULL);
    *loss = l / (double)st->n_test;
    if (st->head != CH_HEAD_MSE) {
        *acc = c / (double)st->n_test;
    }
}

static int s_aggregate_step(s_coord *st, const ch_update *ups, size_t n, ch_round_metrics *m,
                            ch_err *err)
{
    ch_nn_task t = s_task(st);
    size_t np = st->net->n_params;
    ch_nn_leaves sum;
    int rc = ch_nn_leaves_sum("transformer", &t, ups, n, st->gsum, st->ltmp, st->g, &sum, err);
    if (rc != 0) {
        return rc;
    }
    double rows = sum.rows, loss = sum.loss, correct = sum.correct;
    ch_schedule sch = {.kind = st->p.schedule,
                       .lr = st->p.lr,
                       .lr_min = st->p.lr_min,
                       .warmup_steps = st->p.warmup_steps,
                       .steps_per_epoch = st->ep.steps_per_epoch,
                       .total_steps = st->ep.total_steps,
                       .step_epochs = st->p.step_epochs,
                       .gamma = st->p.gamma};
    double lr = ch_schedule_lr(&sch, st->ep.step);
    if (rows > 0) {
        ch_tfm_apply(&st->p, st->w, st->g, st->opt_state, np, rows, lr, st->ep.step + 1);
    }
    rc = ch_nn_epochs_step(&st->ep, "transformer", st->w, np, loss, rows, correct, err);
    if (rc != 1) {
        return rc;
    }
    double vl, va;
    s_validate(st, &vl, &va);
    return ch_nn_epochs_end(&st->ep, st->w, np, st->head, st->n_test > 0, vl, va, lr, m, err);
}

static int s_aggregate(void *vst, uint32_t round, uint32_t op, const ch_update *ups, size_t n,
                       ch_round_metrics *m, ch_err *err)
{
    s_coord *st = vst;
    (void)round;
    if (op == OP_STATS && !st->stats_done) {
        return s_aggregate_stats(st, ups, n, m, err);
    }
    if (op == OP_STEP && st->stats_done) {
        return s_aggregate_step(st, ups, n, m, err);
    }
    return ch_err_set(err, CH_EINTERNAL, "transformer: unexpected op %u", op);
}

static void s_model_destroy(void **pm)
{
    if (!pm || !*pm) {
        return;
    }
    s_model *md = *pm;
    ch_tfm_inputs_destroy(&md->in);
    ch_tfm_destroy(&md->net);
    free(md->w);
    ch_nn_curves_free(&md->rec.curves);
    free(md);
    *pm = NULL;
}

static void *s_finalize(void *vst, ch_err *err)
{
    s_coord *st = vst;
    ch_nn_record rec;
    if (ch_nn_epochs_finish(&st->ep, "transformer", st->stats_done, st->p.restore_best, st->w,
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
    md->in = st->in;
    md->net = st->net;
    md->w = st->w;
    st->in = NULL;
    st->net = NULL;
    st->w = NULL;
    md->head = st->head;
    md->n_classes = st->n_classes;
    md->opt = st->p.opt.kind;
    return md;
}

/* The coordinator's part of a checkpoint (algorithms/mlp/epochs.h: the
 * mlp Checkpoint message, whose fields 1-11 are transformer.proto's
 * Checkpoint; the loss-scaler fields stay unset). */
static ch_nn_ckpt s_ckpt(s_coord *st)
{
    size_t np = st->net->n_params;
    return (ch_nn_ckpt){.stats_done = st->stats_done,
                        .stats = st->stats,
                        .n_stats = ch_features_stats_len(st->in->feat),
                        .block_rows = st->block_rows,
                        .n_blocks = st->n_blocks,
                        .w = st->w,
                        .opt_state = st->opt_state,
                        .n_params = np,
                        .n_opt = ch_opt_state_per_param(st->p.opt.kind) * np};
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
    int rc = ch_nn_epochs_load(&st->ep, &c, &st->n_rows, "transformer", data, len, err);
    if (rc == 0 && c.stats_done) {
        ch_reduce_destroy(&st->reduce);
        ch_features_set_stats(st->in->feat, st->stats);
        st->ep.steps_per_epoch = ch_batch_steps_per_epoch(st->n_rows, (size_t)st->p.batch_size);
        st->ep.total_steps = st->ep.steps_per_epoch * st->p.epochs;
        st->stats_done = true;
        if (st->ep.steps_per_epoch < 1 || st->ep.step > st->ep.total_steps) {
            rc = ch_err_set(err, CH_EINVAL, "the transformer checkpoint's step is out of range");
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
    ch_tfm_inputs_destroy(&w->in);
    ch_tfm_destroy(&w->net);
    ch_tfm_ws_destroy(&w->ws);
    free(w->w);
    free(w->g);
    free(w->x);
    free(w->y);
    free(w->mask);
    free(w->dout);
    free(w->rows);
    free(w->perm);
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
    if (ch_tfm_params_read(env->cfg, &w->p, err) != 0) {
        s_worker_destroy(&vw);
        return NULL;
    }
    w->n_classes = s_n_classes(env->schema, &w->p);
    w->head = ch_head_for(w->n_classes);
    w->in = s_inputs_for(&w->p, env->schema, w->n_classes, err);
    w->net = w->in ? s_net_for(&w->p, w->in, w->n_classes, err) : NULL;
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
    w->ws = ch_tfm_ws_new(w->net, bs);
    w->w = ch_alloc_array(np, sizeof *w->w);
    w->g = ch_alloc_array(np, sizeof *w->g);
    w->x = ch_alloc_array(bs, s_width(w->in) * sizeof *w->x);
    w->y = ch_alloc_array(bs, sizeof *w->y);
    w->mask = ch_alloc_array(bs, w->in->len);
    w->dout = ch_alloc_array(bs, w->net->spec.d_out * sizeof *w->dout);
    w->rows = ch_alloc_array(bs, sizeof *w->rows);
    w->perm = ch_alloc_array(w->max_block + 1, sizeof *w->perm);
    if (!w->ws || !w->w || !w->g || !w->x || !w->y || !w->mask || !w->dout || !w->rows ||
        !w->perm) {
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
    ch_features_stats_add(w->in->feat, w->env->train, plan->rows + lo, hi - lo,
                          out + w->env->n_blocks_total);
    return 0;
}

/* One leaf: the gradient of the step's rows of global block `block`. */
static int s_step_leaf(s_worker *w, const Cohort__Transformer__Task *t,
                       const Cohort__Transformer__Segment *sg, Cohort__Transformer__Leaf *leaf,
                       uint8_t *grad_bytes, ch_err *err)
{
    const ch_plan *plan = w->env->plan;
    const ch_table *tb = w->env->train;
    size_t lb = sg->block - w->env->block_offset;
    size_t lo = plan->block_begin[lb], hi = plan->block_begin[lb + 1];
    if ((size_t)sg->offset + sg->count > hi - lo || sg->count > (uint32_t)w->p.batch_size) {
        return ch_err_set(err, CH_EPROTO,
                          "transformer: segment %u+%u is outside block %u (%zu rows)", sg->offset,
                          sg->count, sg->block, hi - lo);
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
        int rc = ch_tfm_inputs_encode(w->in, tb, w->rows, n, w->x, w->mask, w->y, err);
        if (rc != 0) {
            return ch_err_prefix(err, "the training data");
        }
        for (size_t i = 0; i < n && w->n_classes; i++) {
            float c = w->y[i];
            if (!(c >= 0 && c < (float)w->n_classes) || c != floorf(c)) {
                return ch_err_set(
                    err, CH_EINVAL,
                    "transformer: row %zu of the training data has label %g, which is not "
                    "a class code 0..%zu (model.classes is %zu)",
                    w->rows[i] + 1, (double)c, w->n_classes - 1, w->n_classes);
            }
        }
        rc = ch_tfm_grad(w->net, w->head, w->w, w->x, w->mask, w->y, n, w->ws, w->dout, w->g, &go);
        if (rc != 0) {
            char name[128];
            ch_tfm_stage_name(w->net, go.bad_layer, name, sizeof name);
            return ch_err_set(
                err, CH_EINVAL,
                "transformer: the loss became non-finite at step %llu (epoch %u, block "
                "%u); the first non-finite values are in the output of %s. Lower "
                "model.lr, set model.clip_norm, or check the inputs; the last "
                "checkpoint is kept",
                (unsigned long long)t->step, t->epoch, sg->block, name);
        }
    }
    memcpy(grad_bytes, w->g, np * sizeof *w->g);
    leaf->block = sg->block;
    leaf->rows = (uint32_t)n;
    leaf->loss = go.loss;
    leaf->correct = go.correct;
    leaf->grad.data = grad_bytes;
    leaf->grad.len = np * sizeof *w->g;
    return 0;
}

static int s_run_step(s_worker *w, const uint8_t *payload, size_t len, size_t b0, size_t b1,
                      ch_buf *out, uint64_t *samples, ch_err *err)
{
    Cohort__Transformer__Task *t = cohort__transformer__task__unpack(NULL, len, payload);
    if (!t) {
        return ch_err_set(err, CH_EPROTO, "transformer: the step task does not decode");
    }
    size_t np = w->net->n_params;
    int rc = 0;
    if (t->weights.len != np * sizeof(float) || t->n_stats != ch_features_stats_len(w->in->feat)) {
        rc = ch_err_set(err, CH_EPROTO,
                        "transformer: the step task has %zu weight bytes for %zu "
                        "parameters",
                        t->weights.len, np);
    }
    size_t mine = 0;
    for (size_t i = 0; i < t->n_segments && rc == 0; i++) {
        uint32_t b = t->segments[i]->block;
        if (b >= b0 && b < b1) {
            mine++;
        }
    }
    Cohort__Transformer__Leaf *leaves = calloc(mine ? mine : 1, sizeof *leaves);
    Cohort__Transformer__Leaf **lp = calloc(mine ? mine : 1, sizeof *lp);
    uint8_t *grads = ch_alloc_array(mine ? mine : 1, np * sizeof(float));
    if (rc == 0 && (!leaves || !lp || !grads)) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    if (rc == 0) {
        memcpy(w->w, t->weights.data, t->weights.len);
        ch_features_set_stats(w->in->feat, t->stats);
    }
    size_t k = 0;
    *samples = 0;
    for (size_t i = 0; i < t->n_segments && rc == 0; i++) {
        const Cohort__Transformer__Segment *sg = t->segments[i];
        if (sg->block < b0 || sg->block >= b1) {
            continue;
        }
        cohort__transformer__leaf__init(&leaves[k]);
        rc = s_step_leaf(w, t, sg, &leaves[k], grads + k * np * sizeof(float), err);
        lp[k] = &leaves[k];
        *samples += leaves[k].rows;
        k++;
    }
    if (rc == 0) {
        Cohort__Transformer__Update u = COHORT__TRANSFORMER__UPDATE__INIT;
        u.n_leaves = k;
        u.leaves = lp;
        u.step_plus_one = t->step + 1;
        rc = ch_pb_append(&u.base, out, err);
    }
    free(leaves);
    free(lp);
    free(grads);
    cohort__transformer__task__free_unpacked(t, NULL);
    return rc;
}

static int s_run_task(void *vw, uint32_t round, uint32_t op, const uint8_t *payload, size_t len,
                      uint32_t shard, ch_buf *out, uint64_t *samples, ch_err *err)
{
    s_worker *w = vw;
    (void)round;
    const ch_plan *plan = w->env->plan;
    if (shard >= plan->n_shards) {
        return ch_err_set(err, CH_EPROTO, "transformer: shard %u out of range (%zu shards)", shard,
                          plan->n_shards);
    }
    size_t b0 = w->env->block_offset + plan->shard_block[shard];
    size_t b1 = w->env->block_offset + plan->shard_block[shard + 1];
    if (op == OP_STATS) {
        *samples = ch_plan_shard_end(plan, shard) - ch_plan_shard_begin(plan, shard);
        size_t len_stats = w->env->n_blocks_total + ch_features_stats_len(w->in->feat);
        return ch_reduce_range(w->env->n_blocks_total, b0, b1, len_stats, s_stats_leaf, w,
                               ch_combine_sum, NULL, out, err);
    }
    if (op == OP_STEP) {
        return s_run_step(w, payload, len, b0, b1, out, samples, err);
    }
    return ch_err_set(err, CH_EPROTO, "transformer: unknown op %u", op);
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
    size_t d = s_width(md->in), k = md->net->spec.d_out;
    ch_tfm_ws *ws = ch_tfm_ws_new(md->net, chunk);
    float *x = ch_alloc_array(chunk, d * sizeof *x);
    uint8_t *mask = ch_alloc_array(chunk, md->in->len);
    float *y = calloc(chunk, sizeof *y);
    float *dout = ch_alloc_array(chunk, k * sizeof *dout);
    float *prob = ch_alloc_array(chunk, k * sizeof *prob);
    size_t *rows = ch_alloc_array(chunk, sizeof *rows);
    int rc = 0;
    if (!ws || !x || !mask || !y || !dout || !prob || !rows) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < t->n_rows && rc == 0; i += chunk) {
        size_t m = t->n_rows - i < chunk ? t->n_rows - i : chunk;
        for (size_t j = 0; j < m; j++) {
            rows[j] = i + j;
        }
        rc = ch_tfm_inputs_encode(md->in, t, rows, m, x, mask, NULL, err);
        if (rc != 0) {
            break;
        }
        memset(y, 0, m * sizeof *y);
        double l, c;
        ch_tfm_eval(md->net, md->head, md->w, x, mask, y, m, chunk, ws, dout, &l, &c, prob);
        for (size_t j = 0; j < m; j++) {
            double *o = out + (i + j) * s_n_outputs(md);
            switch (md->head) {
            case CH_HEAD_MSE:
                o[0] = prob[j] / md->in->feat->y_scale + md->in->feat->y_mean;
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
    ch_tfm_ws_destroy(&ws);
    free(x);
    free(mask);
    free(y);
    free(dout);
    free(prob);
    free(rows);
    return rc;
}

static int s_pack(const void *vm, ch_buf *out, ch_err *err)
{
    const s_model *md = vm;
    const ch_tfm_spec *sp = &md->net->spec;
    Cohort__Transformer__Model pm = COHORT__TRANSFORMER__MODEL__INIT;
    Cohort__Transformer__Curves cv = COHORT__TRANSFORMER__CURVES__INIT;
    pm.max_length = (uint32_t)sp->len;
    pm.d_in = (uint32_t)sp->d_in;
    pm.input = (char *)ch_tfm_input_names[sp->input];
    pm.vocab = (uint32_t)sp->vocab;
    pm.d_model = (uint32_t)sp->d_model;
    pm.heads = (uint32_t)sp->heads;
    pm.layers = (uint32_t)sp->n_layers;
    pm.d_ff = (uint32_t)sp->d_ff;
    pm.positions = (char *)ch_tfm_pos_names[sp->pos];
    pm.pooling = (char *)ch_tfm_pool_names[sp->pool];
    pm.d_out = (uint32_t)sp->d_out;
    pm.regression = md->head == CH_HEAD_MSE;
    pm.n_classes = (uint32_t)md->n_classes;
    pm.n_mean = pm.n_scale = md->in->feat->n_cols;
    pm.mean = md->in->feat->mean;
    pm.scale = md->in->feat->scale;
    pm.y_mean = md->in->feat->y_mean;
    pm.y_scale = md->in->feat->y_scale;
    pm.weights.data = (uint8_t *)md->w;
    pm.weights.len = md->net->n_params * sizeof(float);
    pm.steps = (uint64_t)md->rec.steps;
    pm.epochs = (uint32_t)md->rec.epochs;
    pm.best_epoch = (uint32_t)md->rec.best_epoch;
    pm.stopped_early = md->rec.stopped_early;
    pm.optimizer = (char *)ch_opt_names[md->opt];
    if (md->in->seqs) {
        pm.sequences = md->in->seqs->path;
        pm.id_column = md->in->id_name;
    }
    s_curves_to_pb(&md->rec.curves, &cv);
    pm.curves = &cv;
    return ch_pb_append(&pm.base, out, err);
}

/* Index of name in names (NULL-terminated), or -1. */
static int s_lookup(const char *const *names, const char *name)
{
    for (int i = 0; names[i] && name; i++) {
        if (strcmp(names[i], name) == 0) {
            return i;
        }
    }
    return -1;
}

static void *s_unpack(const uint8_t *data, size_t len, const ch_schema *schema, ch_err *err)
{
    Cohort__Transformer__Model *pm = cohort__transformer__model__unpack(NULL, len, data);
    if (!pm) {
        ch_err_set(err, CH_EINVAL, "the transformer model payload does not decode");
        return NULL;
    }
    s_model *md = calloc(1, sizeof *md);
    void *vm = md;
    int rc = md ? 0 : ch_err_set(err, CH_ENOMEM, "out of memory");
    int input = s_lookup(ch_tfm_input_names, pm->input);
    int pos = s_lookup(ch_tfm_pos_names, pm->positions);
    int pool = s_lookup(ch_tfm_pool_names, pm->pooling);
    size_t n_classes = pm->regression ? 0 : pm->n_classes;
    if (rc == 0 && (input < 0 || pos < 0 || pool < 0)) {
        rc = ch_err_set(err, CH_EINVAL,
                        "the transformer model names an unknown input, position "
                        "or pooling kind");
    }
    if (rc == 0 && schema->target.kind == CH_COL_CATEGORICAL &&
        n_classes != schema->target.n_levels) {
        rc = ch_err_set(err, CH_EINVAL, "the transformer model has %zu classes, its schema %zu",
                        n_classes, schema->target.n_levels);
    }
    if (rc == 0) {
        md->in = ch_tfm_inputs_new(schema, pm->max_length, input == CH_TFM_IN_TOKENS, pm->vocab,
                                   pm->sequences && pm->sequences[0] ? pm->sequences : NULL,
                                   pm->id_column, err);
        if (!md->in) {
            rc = CH_EINVAL;
        }
    }
    if (rc == 0) {
        md->in->feat->regression = pm->regression;
        if (pm->n_mean != md->in->feat->n_cols || pm->n_scale != md->in->feat->n_cols ||
            pm->d_in != md->in->d_in) {
            rc = ch_err_set(err, CH_EINVAL, "the transformer model does not match its schema");
        }
    }
    if (rc == 0) {
        ch_tfm_spec sp = {.len = pm->max_length,
                          .d_in = pm->d_in,
                          .vocab = pm->vocab,
                          .d_model = pm->d_model,
                          .heads = pm->heads,
                          .n_layers = pm->layers,
                          .d_ff = pm->d_ff,
                          .d_out = ch_head_outputs(ch_head_for(n_classes), n_classes),
                          .input = (ch_tfm_input)input,
                          .pos = (ch_tfm_pos)pos,
                          .pool = (ch_tfm_pool)pool};
        md->net = sp.d_out == pm->d_out ? ch_tfm_new(&sp, err) : NULL;
        if (!md->net) {
            rc = ch_err_set(err, CH_EINVAL, "the transformer model's network is malformed");
        }
    }
    if (rc == 0 && pm->weights.len != md->net->n_params * sizeof(float)) {
        rc = ch_err_set(err, CH_EINVAL, "the transformer model has %zu weight bytes, expected %zu",
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
        memcpy(md->in->feat->mean, pm->mean, pm->n_mean * sizeof(double));
        memcpy(md->in->feat->scale, pm->scale, pm->n_scale * sizeof(double));
        md->in->feat->y_mean = pm->y_mean;
        md->in->feat->y_scale = pm->y_scale;
        md->head = ch_head_for(n_classes);
        md->n_classes = n_classes;
        md->rec.steps = (long)pm->steps;
        md->rec.epochs = pm->epochs;
        md->rec.best_epoch = pm->best_epoch;
        md->rec.stopped_early = pm->stopped_early;
        int o = s_lookup(ch_opt_names, pm->optimizer);
        md->opt = o < 0 ? CH_OPT_ADAM : (ch_opt_kind)o;
        if (s_curves_from_pb(&md->rec.curves, pm->curves) != 0) {
            rc = ch_err_set(err, CH_EINVAL, "the transformer model's curves are malformed");
        }
    }
    cohort__transformer__model__free_unpacked(pm, NULL);
    if (rc != 0) {
        s_model_destroy(&vm);
        return NULL;
    }
    return md;
}

/* "28 x 28 -> d_model 64, 4 heads, 2 blocks, d_ff 256, learned positions,
 * mean pooling -> 10" */
static void s_arch(const s_model *md, ch_buf *b)
{
    const ch_tfm_spec *sp = &md->net->spec;
    if (sp->input == CH_TFM_IN_TOKENS) {
        ch_buf_printf(b, "%zu tokens (vocab %zu)", sp->len, sp->vocab);
    } else {
        ch_buf_printf(b, "%zu x %zu", sp->len, sp->d_in);
    }
    ch_buf_printf(
        b, " -> d_model %zu, %zu heads, %zu blocks, d_ff %zu, %s positions, %s pooling -> %zu",
        sp->d_model, sp->heads, sp->n_layers, sp->d_ff, ch_tfm_pos_names[sp->pos],
        ch_tfm_pool_names[sp->pool], sp->d_out);
}

static int s_summary_json(const void *vm, ch_buf *j)
{
    const s_model *md = vm;
    const ch_tfm_spec *sp = &md->net->spec;
    ch_buf a;
    ch_buf_init(&a);
    s_arch(md, &a);
    ch_buf_puts(j, ",\n  \"network\": {\"architecture\": ");
    ch_buf_json_str(j, ch_buf_str(&a));
    ch_buf_free(&a);
    ch_buf_printf(j,
                  ", \"parameters\": %zu, \"max_length\": %zu, \"d_model\": %zu, \"heads\": %zu, "
                  "\"layers\": %zu, \"d_ff\": %zu, \"pooling\": \"%s\", \"positions\": \"%s\", "
                  "\"steps\": %ld, \"epochs\": %ld, \"optimizer\": \"%s\"",
                  md->net->n_params, sp->len, sp->d_model, sp->heads, sp->n_layers, sp->d_ff,
                  ch_tfm_pool_names[sp->pool], ch_tfm_pos_names[sp->pos], md->rec.steps,
                  md->rec.epochs, ch_opt_names[md->opt]);
    if (md->rec.best_epoch > 0) {
        ch_buf_printf(j, ", \"best_epoch\": %ld, \"stopped_early\": %s", md->rec.best_epoch,
                      md->rec.stopped_early ? "true" : "false");
    }
    ch_nn_summary_tail(md->w, md->net->n_params, &md->rec.curves, j);
    ch_buf_puts(j, "}");
    return j->failed ? CH_ENOMEM : 0;
}

static int s_describe(const void *vm, ch_buf *text)
{
    const s_model *md = vm;
    ch_buf_puts(text, "transformer encoder ");
    s_arch(md, text);
    ch_buf_printf(text, " (%zu parameters), %s, %ld epochs, %ld steps\n", md->net->n_params,
                  ch_opt_names[md->opt], md->rec.epochs, md->rec.steps);
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
    const char *keys[] = {"architecture", "parameters", "optimizer", "epochs", "steps"};
    const char *vals[] = {ch_buf_str(&a), np, ch_opt_names[md->opt], ep, st};
    ch_report_section(r, "Network");
    int rc = ch_report_kv(r, keys, vals, 5);
    ch_buf_free(&a);
    if (rc != 0) {
        return ch_err_set(err, rc, "out of memory building the report");
    }
    return ch_nn_curves_report(c, md->head, r, err);
}

const ch_algo ch_algo_transformer = {
    .name = "transformer",
    .summary = "transformer encoder over sequences, synchronous data-parallel Adam/SGD, exact "
               "across workers",
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
