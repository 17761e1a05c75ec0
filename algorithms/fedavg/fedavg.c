/* fedavg.c: federated averaging across silos (model.algorithm: fedavg).
 *
 * Round 0 asks every silo for its feature statistics and label histogram
 * (the inputs are standardised alike everywhere; the histograms go in the
 * report). Each later round sends the global model to the silos drawn from
 * (seed, round); each trains locally (local.h: E epochs of mini-batch SGD,
 * FedProx's proximal term) and answers with its delta, compressed
 * (compress.h). The coordinator takes every delta as it arrives: streaming
 * strategies add it in int64 fixed point (exact, so neither arrival order
 * nor a resume changes a bit); robust ones keep it until the round closes
 * (strategy.h). A round closes when the chosen silos answered or at
 * federated.round_timeout with whoever did; updates of the wrong shape, with
 * non-finite values or for another round are refused with the reason. */
#include "algorithms/fedavg/compress.h"
#include "algorithms/fedavg/fedavg.h"
#include "algorithms/fedavg/sampling.h"
#include "algorithms/fedavg/strategy.h"
#include "algorithms/mlp/trainer.h"
#include "common/pb.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { OP_STATS = 1, OP_TRAIN = 2 };

#define S_CHUNK     4096 /* values decoded at a time by the coordinator */
#define S_EVAL_ROWS 512

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Classes: a categorical target's levels, or model.classes for class codes
 * in a numeric target, or 0 (regression). */
static size_t s_n_classes(const ch_schema *s, const ch_fed_params *p)
{
    return s->target.kind == CH_COL_CATEGORICAL ? s->target.n_levels : (size_t)p->classes;
}

/* --- configuration ------------------------------------------------------------ */

static int s_configure(ch_config *cfg, const ch_schema *schema, ch_err *err)
{
    ch_fed_params p;
    int rc = ch_fed_params_read(cfg, &p, err);
    if (rc == 0 && schema && schema->target.kind == CH_COL_CATEGORICAL && p.classes != 0 &&
        (size_t)p.classes != schema->target.n_levels) {
        rc = ch_err_set(err, CH_EINVAL,
                        "%s: model.classes is %ld but the target '%s' has %zu levels (leave "
                        "model.classes out for a categorical target)",
                        ch_config_where(cfg, "model.classes"), p.classes, schema->target.name,
                        schema->target.n_levels);
    }
    if (rc == 0 && schema && schema->target.kind == CH_COL_CATEGORICAL &&
        schema->target.n_levels < 2) {
        rc = ch_err_set(err, CH_EINVAL, "%s: the target '%s' has one class; fedavg needs two",
                        ch_config_where(cfg, "data.target"), schema->target.name);
    }
    if (rc == 0 && p.classes == 1) {
        rc = ch_err_set(err, CH_EINVAL, "%s: model.classes must be 0 (regression) or >= 2",
                        ch_config_where(cfg, "model.classes"));
    }
    return rc;
}

static int s_estimate(ch_config *cfg, const ch_schema *schema, size_t n_rows, size_t n_workers,
                      size_t n_blocks, ch_estimate *out)
{
    ch_fed_params p;
    if (ch_fed_params_read(cfg, &p, NULL) != 0) {
        return CH_EINVAL;
    }
    ch_features *f = ch_features_new(schema, NULL);
    ch_fed_model *m = f ? ch_fed_model_new(&p, f->d_in, s_n_classes(schema, &p), NULL) : NULL;
    ch_features_destroy(&f);
    if (!m) {
        return CH_EINVAL;
    }
    double np = (double)m->ops->n_params(m);
    double width = p.compression == CH_FED_COMP_NONE   ? 4
                   : p.compression == CH_FED_COMP_INT8 ? 1
                   : p.compression == CH_FED_COMP_TOPK ? 8 * p.topk_fraction
                                                       : 2;
    out->worker_bytes = np * 4 * 4;
    out->message_bytes = np * width + 64;
    out->flops = 6 * np * (double)n_rows * (double)p.local_epochs * p.fraction;
    out->rounds = 1 + (double)p.rounds;
    (void)n_workers;
    (void)n_blocks;
    ch_fed_model_destroy(&m);
    return 0;
}

/* --- coordinator ---------------------------------------------------------------- */

typedef struct s_coord {
    ch_fed_params p;
    uint64_t seed;
    size_t n_shards;
    ch_features *feat;
    size_t n_classes;
    ch_fed_model *model;
    size_t np, n_tensors;
    const size_t *tensor_end;
    /* round 0 */
    bool stats_done;
    double *stats;
    size_t stats_len;
    double *shard_stats; /* n_shards x stats_len during round 0 only */
    bool *shard_got;
    /* the global model and the server's moments */
    float *w, *m, *v;
    uint32_t fed_round; /* training rounds done */
    /* the round being gathered */
    int64_t *acc; /* streaming strategies */
    int64_t acc_loss;
    uint64_t acc_samples;
    size_t acc_n;
    float **buf; /* robust strategies: one decoded delta per silo */
    float *chunk;
    double accum_seconds;
    /* records */
    ch_fed_silos silos;
    ch_fed_curves curves;
    /* evaluation */
    const ch_table *test;
    float *test_x, *test_y;
    size_t n_test;
    float *prob;
    /* sampling scratch */
    size_t *idx;
} s_coord;

static void s_free_buffers(s_coord *st)
{
    for (size_t s = 0; st->buf && s < st->n_shards; s++) {
        free(st->buf[s]);
        st->buf[s] = NULL;
    }
}

static void s_coord_destroy(void **pst)
{
    if (!pst || !*pst) {
        return;
    }
    s_coord *st = *pst;
    ch_features_destroy(&st->feat);
    ch_fed_model_destroy(&st->model);
    free(st->stats);
    free(st->shard_stats);
    free(st->shard_got);
    free(st->w);
    free(st->m);
    free(st->v);
    free(st->acc);
    s_free_buffers(st);
    free(st->buf);
    free(st->chunk);
    ch_fed_silos_free(&st->silos);
    ch_fed_curves_free(&st->curves);
    free(st->test_x);
    free(st->test_y);
    free(st->prob);
    free(st->idx);
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
    if (ch_fed_params_read(env->cfg, &st->p, err) != 0) {
        s_coord_destroy(&vst);
        return NULL;
    }
    st->seed = env->seed;
    st->n_shards = env->n_shards;
    st->n_classes = s_n_classes(env->schema, &st->p);
    st->feat = ch_features_new(env->schema, err);
    if (st->feat && st->n_classes) {
        st->feat->regression = false;
    }
    st->model = st->feat ? ch_fed_model_new(&st->p, st->feat->d_in, st->n_classes, err) : NULL;
    if (!st->model) {
        s_coord_destroy(&vst);
        return NULL;
    }
    size_t np = st->np = st->model->ops->n_params(st->model);
    st->n_tensors = st->model->ops->tensors(st->model, &st->tensor_end);
    st->stats_len = ch_features_stats_len(st->feat);
    int moments = ch_fed_server_moments(st->p.strategy);
    bool robust = ch_fed_strategy_buffers(st->p.strategy);
    st->stats = ch_calloc_array(st->stats_len + 1, sizeof *st->stats);
    st->w = ch_alloc_array(np, sizeof *st->w);
    st->m = moments >= 1 ? ch_calloc_array(np, sizeof *st->m) : NULL;
    st->v = moments >= 2 ? ch_calloc_array(np, sizeof *st->v) : NULL;
    st->acc = robust ? NULL : ch_calloc_array(np, sizeof *st->acc);
    st->buf = robust ? ch_calloc_array(st->n_shards, sizeof *st->buf) : NULL;
    st->chunk = ch_alloc_array(S_CHUNK, sizeof *st->chunk);
    st->idx = ch_alloc_array(st->n_shards, sizeof *st->idx);
    if (!st->stats || !st->w || (moments >= 1 && !st->m) || (moments >= 2 && !st->v) ||
        (!robust && !st->acc) || (robust && !st->buf) || !st->chunk || !st->idx ||
        ch_fed_silos_init(&st->silos, st->n_shards, st->n_classes) != 0) {
        ch_err_set(err, CH_ENOMEM, "out of memory for a model of %zu parameters", np);
        s_coord_destroy(&vst);
        return NULL;
    }
    if ((st->p.strategy == CH_FED_KRUM || st->p.strategy == CH_FED_MULTIKRUM) &&
        st->n_shards < 2 * (size_t)st->p.byzantine + 3) {
        char key[64];
        ch_err_set(err, CH_EINVAL,
                   "%s: krum tolerates %ld byzantine silos only with at least %ld silos (this run "
                   "has %zu)",
                   ch_config_where(env->cfg, ch_fed_key(env->cfg, "byzantine", key, sizeof key)),
                   st->p.byzantine, 2 * st->p.byzantine + 3, st->n_shards);
        s_coord_destroy(&vst);
        return NULL;
    }
    st->model->ops->init(st->model, st->seed, st->w);
    st->test = env->test;
    return st;
}

/* Encodes the held-out rows once the statistics are known. */
static int s_encode_test(s_coord *st, ch_err *err)
{
    if (!st->test || !st->test->has_target || st->test->n_rows == 0 || st->test_x) {
        return 0;
    }
    size_t n = st->test->n_rows, d = st->feat->d_in;
    float *x = ch_alloc_array(n, d * sizeof *x);
    float *y = ch_alloc_array(n, sizeof *y);
    st->prob = ch_alloc_array(S_EVAL_ROWS, ch_fed_model_outputs(st->model) * sizeof *st->prob);
    if (!x || !y || !st->prob) {
        free(x);
        free(y);
        return ch_err_set(err, CH_ENOMEM, "out of memory encoding %zu test rows", n);
    }
    ch_features_encode(st->feat, st->test, NULL, n, x, y);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) { /* rows with a target only */
        if (isnan(y[i]) || (st->n_classes && (y[i] < 0 || y[i] >= (float)st->n_classes))) {
            continue;
        }
        if (k != i) {
            memmove(x + k * d, x + i * d, d * sizeof *x);
        }
        y[k++] = y[i];
    }
    st->test_x = x;
    st->test_y = y;
    st->n_test = k;
    return 0;
}

static void s_reset_round(s_coord *st)
{
    if (st->acc) {
        memset(st->acc, 0, st->np * sizeof *st->acc);
    }
    s_free_buffers(st);
    st->acc_loss = 0;
    st->acc_samples = 0;
    st->acc_n = 0;
    st->accum_seconds = 0;
}

static int s_next_task(void *vst, uint32_t round, uint32_t *op, ch_buf *payload, ch_err *err)
{
    s_coord *st = vst;
    Cohort__Fedavg__Task t = COHORT__FEDAVG__TASK__INIT;
    t.round = round;
    s_reset_round(st);
    if (!st->stats_done) {
        *op = t.op = OP_STATS;
        if (!st->shard_stats) {
            st->shard_stats = ch_calloc_array(st->n_shards, (st->stats_len + 1) * sizeof(double));
            st->shard_got = ch_calloc_array(st->n_shards, sizeof *st->shard_got);
            if (!st->shard_stats || !st->shard_got) {
                return ch_err_set(err, CH_ENOMEM, "out of memory");
            }
        }
        return ch_pb_append(&t.base, payload, err);
    }
    if (st->fed_round >= (uint32_t)st->p.rounds) {
        return 1;
    }
    *op = t.op = OP_TRAIN;
    t.weights.data = (uint8_t *)st->w;
    t.weights.len = st->np * sizeof *st->w;
    t.n_stats = st->stats_len;
    t.stats = st->stats;
    return ch_pb_append(&t.base, payload, err);
}

static int s_participants(void *vst, uint32_t round, const bool *live, size_t n_shards,
                          bool *chosen, ch_round_plan *plan, ch_err *err)
{
    s_coord *st = vst;
    (void)live; /* drawn from the seed alone: a lost silo is skipped, not replaced */
    (void)err;
    size_t k = n_shards;
    if (!st->stats_done) {
        for (size_t s = 0; s < n_shards; s++) {
            chosen[s] = true;
        }
    } else {
        k = ch_fed_sample(st->seed, round, n_shards, st->p.fraction, chosen, st->idx);
    }
    plan->policy = CH_TASK_QUORUM;
    plan->timeout_seconds = st->p.round_timeout;
    plan->min_updates = (size_t)st->p.min_workers < k ? (size_t)st->p.min_workers : k;
    /* round 0's statistics are a few KB per silo; the models are what
     * needs upload flow control */
    plan->upload_slots = st->stats_done ? (size_t)st->p.upload_slots : 0;
    return 0;
}

static int s_take_stats(s_coord *st, const Cohort__Fedavg__Update *u, uint32_t shard, ch_err *err)
{
    if (u->n_stats != st->stats_len || u->n_histogram != st->n_classes) {
        return ch_err_set(err, CH_EPROTO,
                          "statistics of %zu values and a histogram of %zu classes; expected %zu "
                          "and %zu",
                          u->n_stats, u->n_histogram, st->stats_len, st->n_classes);
    }
    for (size_t i = 0; i < u->n_stats; i++) {
        if (!isfinite(u->stats[i])) {
            return ch_err_set(err, CH_EPROTO, "statistic %zu is not finite", i);
        }
    }
    memcpy(st->shard_stats + shard * st->stats_len, u->stats, st->stats_len * sizeof(double));
    st->shard_got[shard] = true;
    st->silos.rows[shard] = u->rows;
    if (st->n_classes) {
        memcpy(st->silos.hist + shard * st->n_classes, u->histogram,
               st->n_classes * sizeof *st->silos.hist);
    }
    return 0;
}

static int s_take_delta(s_coord *st, const Cohort__Fedavg__Update *u, const ch_update *up,
                        ch_err *err)
{
    if (u->n_params != st->np) {
        return ch_err_set(err, CH_EPROTO, "an update of %u parameters; the model has %zu",
                          u->n_params, st->np);
    }
    ch_fed_view v = {.enc = (ch_fed_comp)u->encoding,
                     .n = st->np,
                     .data = u->data.data,
                     .data_len = u->data.len,
                     .scales = u->scales,
                     .n_scales = u->n_scales,
                     .indices = u->indices.data,
                     .n_indices = u->indices.len,
                     .tensor_end = st->tensor_end,
                     .n_tensors = st->n_tensors};
    if (u->encoding > CH_FED_COMP_TOPK) {
        return ch_err_set(err, CH_EPROTO, "unknown update encoding %u", u->encoding);
    }
    int rc = ch_fed_view_check(&v, err);
    if (rc) {
        return rc;
    }
    uint64_t rows = st->silos.rows[up->shard];
    if (up->samples == 0 || (rows && up->samples > rows)) {
        return ch_err_set(err, CH_EPROTO,
                          "an update claiming %llu samples from a silo of %llu rows",
                          (unsigned long long)up->samples, (unsigned long long)rows);
    }
    if (!isfinite(u->loss) || u->loss < 0 || u->loss > 1e12) {
        return ch_err_set(err, CH_EPROTO, "a training loss of %g", u->loss);
    }
    double wgt = (double)up->samples, limit = ch_fed_fix_limit(st->n_shards);
    /* check every value before adding any: a refused update leaves no trace */
    for (size_t b = 0; b < st->np; b += S_CHUNK) {
        size_t cnt = st->np - b < S_CHUNK ? st->np - b : S_CHUNK;
        ch_fed_view_get(&v, b, cnt, st->chunk);
        for (size_t i = 0; i < cnt; i++) {
            if (!isfinite(st->chunk[i])) {
                return ch_err_set(err, CH_EPROTO, "parameter %zu of the update is not finite",
                                  b + i);
            }
            if (fabs((double)st->chunk[i]) * wgt >= limit) {
                return ch_err_set(err, CH_EPROTO,
                                  "parameter %zu of the update (%g x %llu samples) is too large "
                                  "to sum",
                                  b + i, (double)st->chunk[i], (unsigned long long)up->samples);
            }
        }
    }
    if (st->acc) {
        for (size_t b = 0; b < st->np; b += S_CHUNK) {
            size_t cnt = st->np - b < S_CHUNK ? st->np - b : S_CHUNK;
            ch_fed_view_get(&v, b, cnt, st->chunk);
            ch_fed_fix_add(st->acc + b, st->chunk, cnt, wgt);
        }
    } else {
        float *d = ch_alloc_array(st->np, sizeof *d);
        if (!d) {
            return ch_err_set(err, CH_ENOMEM, "out of memory buffering an update");
        }
        ch_fed_view_get(&v, 0, st->np, d);
        free(st->buf[up->shard]);
        st->buf[up->shard] = d;
    }
    st->acc_loss += (int64_t)llround(u->loss * wgt * ldexp(1.0, CH_FED_FIX_BITS));
    st->acc_samples += up->samples;
    st->acc_n++;
    if (!rows) {
        st->silos.rows[up->shard] = up->samples; /* a silo that missed round 0 */
    }
    return 0;
}

static int s_accumulate(void *vst, uint32_t round, uint32_t op, const ch_update *up, ch_err *err)
{
    s_coord *st = vst;
    double t0 = s_now();
    if (up->shard >= st->n_shards) {
        return ch_err_set(err, CH_EPROTO, "an update for silo %u of %zu", up->shard, st->n_shards);
    }
    Cohort__Fedavg__Update *u = cohort__fedavg__update__unpack(NULL, up->state_len, up->state);
    int rc = 0;
    if (!u) {
        rc = ch_err_set(err, CH_EPROTO, "the update does not decode");
    } else if (u->round != round) {
        rc = ch_err_set(err, CH_EPROTO, "a stale update for round %u (round %u is running)",
                        u->round, round);
    } else if (op == OP_STATS) {
        rc = s_take_stats(st, u, up->shard, err);
    } else {
        rc = s_take_delta(st, u, up, err);
    }
    if (u) {
        cohort__fedavg__update__free_unpacked(u, NULL);
    }
    if (rc == CH_EPROTO) {
        st->silos.rejected[up->shard]++;
    } else if (rc == 0 && op == OP_TRAIN) {
        st->silos.rounds[up->shard]++;
    }
    st->accum_seconds += s_now() - t0;
    return rc;
}

static int s_finish_stats(s_coord *st, ch_round_metrics *m, ch_err *err)
{
    memset(st->stats, 0, st->stats_len * sizeof *st->stats);
    size_t got = 0;
    for (size_t s = 0; s < st->n_shards; s++) { /* silo order: the same sum every time */
        if (!st->shard_got[s]) {
            continue;
        }
        got++;
        for (size_t i = 0; i < st->stats_len; i++) {
            st->stats[i] += st->shard_stats[s * st->stats_len + i];
        }
    }
    free(st->shard_stats);
    free(st->shard_got);
    st->shard_stats = NULL;
    st->shard_got = NULL;
    if (got == 0) {
        return ch_err_set(err, CH_ELOST, "no silo sent its feature statistics");
    }
    ch_features_set_stats(st->feat, st->stats);
    st->stats_done = true;
    ch_round_metric(m, "silos", (double)got);
    return s_encode_test(st, err);
}

/* Accuracy and mean loss of the global model on the held-out rows. */
static void s_evaluate(s_coord *st, double *acc, double *loss)
{
    double l = 0, c = 0;
    st->model->ops->eval(st->model, st->w, st->test_x, st->test_y, st->n_test, &l, &c, NULL);
    *acc = st->n_test ? c / (double)st->n_test : NAN;
    *loss = st->n_test ? l / (double)st->n_test : NAN;
}

static int s_aggregate(void *vst, uint32_t round, uint32_t op, const ch_update *ups, size_t n,
                       ch_round_metrics *m, ch_err *err)
{
    s_coord *st = vst;
    (void)ups;
    (void)n; /* everything came through accumulate */
    if (op == OP_STATS) {
        return s_finish_stats(st, m, err);
    }
    double t0 = s_now();
    if (st->acc_n == 0) {
        return ch_err_set(err, CH_ELOST, "round %u: no update was accepted", round);
    }
    long t = (long)st->fed_round + 1;
    if (st->acc) {
        ch_fed_server_step(&st->p, st->w, st->m, st->v, st->acc, (double)st->acc_samples, NULL,
                           st->np, t);
    } else {
        float **ptrs = calloc(st->n_shards, sizeof *ptrs);
        bool *used = calloc(st->n_shards, sizeof *used);
        double *scratch =
            ch_alloc_array(st->n_shards * st->n_shards + 2 * st->n_shards + 1, sizeof *scratch);
        float *agg = ch_alloc_array(st->np, sizeof *agg);
        if (!ptrs || !used || !scratch || !agg) {
            free(ptrs);
            free(used);
            free(scratch);
            free(agg);
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        size_t k = 0;
        for (size_t s = 0; s < st->n_shards; s++) {
            if (st->buf[s]) {
                ptrs[k++] = st->buf[s];
            }
        }
        ch_fed_robust(&st->p, ptrs, k, st->np, agg, used, scratch);
        ch_fed_server_step(&st->p, st->w, st->m, st->v, NULL, 1, agg, st->np, t);
        size_t kept = 0;
        for (size_t j = 0; j < k; j++) {
            kept += used[j];
        }
        ch_round_metric(m, "robust_kept", (double)kept);
        free(ptrs);
        free(used);
        free(scratch);
        free(agg);
        s_free_buffers(st);
    }
    st->fed_round++;
    double agg_seconds = st->accum_seconds + (s_now() - t0);
    double train_loss =
        (double)st->acc_loss / ldexp(1.0, CH_FED_FIX_BITS) / (double)st->acc_samples;
    double acc = NAN, loss = NAN;
    bool eval = st->test_x && st->p.eval_every > 0 &&
                (st->fed_round % (uint32_t)st->p.eval_every == 0 ||
                 st->fed_round == (uint32_t)st->p.rounds);
    if (eval) {
        s_evaluate(st, &acc, &loss);
        if (st->n_classes) {
            ch_round_metric(m, "test_accuracy", acc);
        }
        ch_round_metric(m, "test_loss", loss);
    }
    ch_round_metric(m, "train_loss", train_loss);
    const ch_round_stats *rs = m->stats;
    double bin = rs ? rs->bytes_in : 0, bout = rs ? rs->bytes_out : 0;
    if (rs) {
        double transfer = rs->round_seconds - rs->compute_seconds - st->accum_seconds;
        ch_round_metric(m, "bytes_in", bin);
        ch_round_metric(m, "bytes_out", bout);
        ch_round_metric(m, "local_seconds", rs->compute_seconds);
        ch_round_metric(m, "transfer_seconds", transfer > 0 ? transfer : 0);
        ch_round_metric(m, "participants", (double)rs->received);
        ch_round_metric(m, "rejected", (double)rs->rejected);
        ch_round_metric(m, "late", (double)rs->late);
    }
    ch_round_metric(m, "aggregate_seconds", agg_seconds);
    if (ch_fed_curves_push(&st->curves, st->fed_round, acc, loss, train_loss, bin, bout,
                           (double)st->acc_n) != 0) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    return 0;
}

static int s_save(void *vst, ch_buf *out, ch_err *err)
{
    s_coord *st = vst;
    Cohort__Fedavg__Checkpoint c = COHORT__FEDAVG__CHECKPOINT__INIT;
    c.round = st->fed_round;
    c.stats_done = st->stats_done;
    c.n_stats = st->stats_done ? st->stats_len : 0;
    c.stats = st->stats;
    c.weights.data = (uint8_t *)st->w;
    c.weights.len = st->np * sizeof *st->w;
    if (st->m) {
        c.m.data = (uint8_t *)st->m;
        c.m.len = st->np * sizeof *st->m;
    }
    if (st->v) {
        c.v.data = (uint8_t *)st->v;
        c.v.len = st->np * sizeof *st->v;
    }
    Cohort__Fedavg__Silo *msgs = calloc(st->n_shards + 1, sizeof *msgs);
    Cohort__Fedavg__Silo **ptrs = calloc(st->n_shards + 1, sizeof *ptrs);
    if (!msgs || !ptrs) {
        free(msgs);
        free(ptrs);
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    ch_fed_silos_to_pb(&st->silos, msgs, ptrs);
    c.n_silos = st->n_shards;
    c.silos = ptrs;
    Cohort__Fedavg__Curves cv = COHORT__FEDAVG__CURVES__INIT;
    ch_fed_curves_to_pb(&st->curves, &cv);
    c.curves = &cv;
    int rc = ch_pb_append(&c.base, out, err);
    free(msgs);
    free(ptrs);
    return rc;
}

static int s_load(void *vst, const uint8_t *data, size_t len, ch_err *err)
{
    s_coord *st = vst;
    Cohort__Fedavg__Checkpoint *c = cohort__fedavg__checkpoint__unpack(NULL, len, data);
    if (!c) {
        return ch_err_set(err, CH_EINVAL, "the fedavg checkpoint does not decode");
    }
    size_t wb = st->np * sizeof(float);
    int rc = 0;
    if (c->weights.len != wb || (st->m && c->m.len != wb) || (st->v && c->v.len != wb) ||
        (c->stats_done && c->n_stats != st->stats_len)) {
        rc = ch_err_set(err, CH_EINVAL,
                        "the checkpoint does not fit this model (%zu weight bytes, expected %zu; "
                        "was the strategy or the network changed?)",
                        c->weights.len, wb);
    } else if (ch_fed_silos_from_pb(&st->silos, c->silos, c->n_silos, st->n_shards,
                                    st->n_classes) != 0 ||
               ch_fed_curves_from_pb(&st->curves, c->curves) != 0) {
        rc = ch_err_set(err, CH_EINVAL,
                        "the checkpoint's silos do not fit this run (%zu silos, this run has %zu)",
                        c->n_silos, st->n_shards);
    }
    if (rc == 0) {
        memcpy(st->w, c->weights.data, wb);
        if (st->m) {
            memcpy(st->m, c->m.data, wb);
        }
        if (st->v) {
            memcpy(st->v, c->v.data, wb);
        }
        st->fed_round = c->round;
        st->stats_done = c->stats_done;
        if (st->stats_done) {
            memcpy(st->stats, c->stats, st->stats_len * sizeof *st->stats);
            ch_features_set_stats(st->feat, st->stats);
            rc = s_encode_test(st, err);
        }
    }
    cohort__fedavg__checkpoint__free_unpacked(c, NULL);
    return rc;
}

static void *s_finalize(void *vst, ch_err *err)
{
    s_coord *st = vst;
    ch_fed_result *r = calloc(1, sizeof *r);
    if (!r) {
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    r->p = st->p;
    r->n_classes = st->n_classes;
    r->rounds = st->fed_round;
    /* take what the model needs from the state */
    r->feat = st->feat;
    st->feat = NULL;
    r->model = st->model;
    st->model = NULL;
    r->w = st->w;
    st->w = NULL;
    r->stats = st->stats;
    r->stats_len = st->stats_len;
    st->stats = NULL;
    r->silos = st->silos;
    memset(&st->silos, 0, sizeof st->silos);
    r->curves = st->curves;
    memset(&st->curves, 0, sizeof st->curves);
    return r;
}

/* --- worker ------------------------------------------------------------------------ */

typedef struct s_worker {
    const ch_worker_env *env;
    ch_fed_params p;
    ch_features *feat;
    size_t n_classes;
    ch_fed_model *model;
    size_t np, n_tensors;
    const size_t *tensor_end;
    double *stats; /* the statistics the encoding uses */
    size_t stats_len;
    bool have_stats;
    long enc_shard; /* shard whose rows x, y hold (-1: none) */
    float *x, *y;
    size_t n;
    float *w, *w0;
    float **residual; /* top-k error feedback, per shard of the plan */
} s_worker;

static void s_worker_destroy(void **pw)
{
    if (!pw || !*pw) {
        return;
    }
    s_worker *w = *pw;
    ch_features_destroy(&w->feat);
    ch_fed_model_destroy(&w->model);
    free(w->stats);
    free(w->x);
    free(w->y);
    free(w->w);
    free(w->w0);
    for (size_t s = 0; w->residual && s < w->env->plan->n_shards; s++) {
        free(w->residual[s]);
    }
    free(w->residual);
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
    w->enc_shard = -1;
    if (ch_fed_params_read(env->cfg, &w->p, err) != 0) {
        s_worker_destroy(&vw);
        return NULL;
    }
    w->n_classes = s_n_classes(env->schema, &w->p);
    w->feat = ch_features_new(env->schema, err);
    if (w->feat && w->n_classes) {
        w->feat->regression = false;
    }
    w->model = w->feat ? ch_fed_model_new(&w->p, w->feat->d_in, w->n_classes, err) : NULL;
    if (!w->model) {
        s_worker_destroy(&vw);
        return NULL;
    }
    w->np = w->model->ops->n_params(w->model);
    w->n_tensors = w->model->ops->tensors(w->model, &w->tensor_end);
    w->stats_len = ch_features_stats_len(w->feat);
    w->stats = ch_calloc_array(w->stats_len + 1, sizeof *w->stats);
    w->w = ch_alloc_array(w->np, sizeof *w->w);
    w->w0 = ch_alloc_array(w->np, sizeof *w->w0);
    w->residual = ch_calloc_array(env->plan->n_shards + 1, sizeof *w->residual);
    if (!w->stats || !w->w || !w->w0 || !w->residual) {
        ch_err_set(err, CH_ENOMEM, "out of memory");
        s_worker_destroy(&vw);
        return NULL;
    }
    return w;
}

/* The class code of a target value, or -1 when missing or out of range. */
static long s_class(const s_worker *w, double v)
{
    if (isnan(v) || v < 0 || v >= (double)w->n_classes || v != floor(v)) {
        return -1;
    }
    return (long)v;
}

static int s_run_stats(s_worker *w, uint32_t round, const size_t *rows, size_t n, ch_buf *out,
                       uint64_t *samples, ch_err *err)
{
    const ch_table *t = w->env->train;
    double *stats = ch_calloc_array(w->stats_len + 1, sizeof *stats);
    uint64_t *hist = ch_calloc_array(w->n_classes + 1, sizeof *hist);
    if (!stats || !hist) {
        free(stats);
        free(hist);
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    ch_features_stats_add(w->feat, t, rows, n, stats);
    uint64_t used = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        double v = t->target.values[rows[i]];
        if (isnan(v)) {
            continue;
        }
        if (w->n_classes) {
            long c = s_class(w, v);
            if (c < 0) {
                rc = ch_err_set(err, CH_EINVAL,
                                "row %zu has the label %g, not a class code 0..%zu "
                                "(model.classes)",
                                rows[i], v, w->n_classes - 1);
                break;
            }
            hist[c]++;
        }
        used++;
    }
    if (rc == 0) {
        Cohort__Fedavg__Update u = COHORT__FEDAVG__UPDATE__INIT;
        u.round = round;
        u.n_stats = w->stats_len;
        u.stats = stats;
        u.n_histogram = w->n_classes;
        u.histogram = hist;
        u.rows = used;
        rc = ch_pb_append(&u.base, out, err);
        *samples = used;
    }
    free(stats);
    free(hist);
    return rc;
}

/* x, y for the rows of `shard` that have a target. */
static int s_encode_shard(s_worker *w, uint32_t shard, const size_t *rows, size_t n, ch_err *err)
{
    size_t d = w->feat->d_in;
    free(w->x);
    free(w->y);
    w->x = ch_alloc_array(n ? n : 1, d * sizeof *w->x);
    w->y = ch_alloc_array(n ? n : 1, sizeof *w->y);
    w->enc_shard = -1;
    if (!w->x || !w->y) {
        return ch_err_set(err, CH_ENOMEM, "out of memory encoding %zu rows", n);
    }
    ch_features_encode(w->feat, w->env->train, rows, n, w->x, w->y);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(w->y[i]) || (w->n_classes && s_class(w, w->y[i]) < 0)) {
            continue;
        }
        if (k != i) {
            memmove(w->x + k * d, w->x + i * d, d * sizeof *w->x);
        }
        w->y[k++] = w->y[i];
    }
    w->n = k;
    w->enc_shard = shard;
    return 0;
}

/* Fault injection for the test suite: COHORT_TEST_FEDAVG_ATTACK=KIND:S1,S2
 * makes the silos of shards S1, S2 send a hostile update from round 1 on:
 * nan (a NaN weight), shape (one value too many), stale (the previous
 * round's number), scale (the delta x -20) or random (Gaussian noise of
 * standard deviation 1). Returns whether this shard attacks, and how. */
static const char *s_attack(uint32_t shard)
{
    const char *v = getenv("COHORT_TEST_FEDAVG_ATTACK");
    const char *colon = v ? strchr(v, ':') : NULL;
    if (!colon) {
        return NULL;
    }
    for (const char *p = colon + 1; *p;) {
        char *end;
        long s = strtol(p, &end, 10);
        if (end == p) {
            break;
        }
        if (s == (long)shard) {
            return v;
        }
        p = *end == ',' ? end + 1 : end;
    }
    return NULL;
}

static int s_run_train(s_worker *w, const Cohort__Fedavg__Task *t, uint32_t shard,
                       const size_t *rows, size_t n, ch_buf *out, uint64_t *samples, ch_err *err)
{
    if (t->weights.len != w->np * sizeof(float) || t->n_stats != w->stats_len) {
        return ch_err_set(err, CH_EPROTO,
                          "a task with %zu weight bytes and %zu statistics; this model needs %zu "
                          "and %zu",
                          t->weights.len, t->n_stats, w->np * sizeof(float), w->stats_len);
    }
    int rc = 0;
    if (!w->have_stats || memcmp(w->stats, t->stats, w->stats_len * sizeof(double)) != 0) {
        memcpy(w->stats, t->stats, w->stats_len * sizeof(double));
        ch_features_set_stats(w->feat, w->stats);
        w->have_stats = true;
        w->enc_shard = -1;
    }
    if (w->enc_shard != (long)shard && (rc = s_encode_shard(w, shard, rows, n, err))) {
        return rc;
    }
    if (w->n == 0) {
        return ch_err_set(err, CH_EINVAL, "silo %u has no row with a target", shard);
    }
    memcpy(w->w0, t->weights.data, w->np * sizeof(float));
    memcpy(w->w, w->w0, w->np * sizeof(float));
    ch_fed_local_opts o = {.epochs = w->p.local_epochs,
                           .batch_size = w->p.batch_size,
                           .lr = w->p.lr,
                           .momentum = w->p.momentum,
                           .weight_decay = w->p.weight_decay,
                           .mu = w->p.mu,
                           .seed = w->env->seed,
                           .round = t->round,
                           .shard = shard};
    double loss = 0;
    if ((rc = w->model->ops->train(w->model, w->w, w->w0, w->x, w->y, w->n, &o, &loss, err))) {
        return ch_err_prefix(err, "silo %u, round %u", shard, t->round);
    }
    for (size_t i = 0; i < w->np; i++) {
        w->w[i] -= w->w0[i]; /* the delta */
    }
    Cohort__Fedavg__Update u = COHORT__FEDAVG__UPDATE__INIT;
    u.round = t->round;
    u.n_params = (uint32_t)w->np;
    u.loss = loss;
    const char *attack = s_attack(shard);
    size_t n_send = w->np;
    if (attack) {
        if (strncmp(attack, "nan:", 4) == 0) {
            w->w[w->np / 2] = NAN;
        } else if (strncmp(attack, "shape:", 6) == 0) {
            n_send = w->np - 1;
            u.n_params = (uint32_t)n_send;
        } else if (strncmp(attack, "stale:", 6) == 0) {
            u.round = t->round - 1;
        } else if (strncmp(attack, "scale:", 6) == 0) {
            for (size_t i = 0; i < w->np; i++) {
                w->w[i] *= -20.0f;
            }
        } else if (strncmp(attack, "random:", 7) == 0) {
            ch_rng r;
            ch_rng_init(&r, w->env->seed, ch_rng_stream(CH_STREAM_ALGO + 2, t->round));
            for (size_t i = 0; i < w->np; i++) {
                w->w[i] = (float)ch_rng_normal(&r);
            }
        }
    }
    float *res = NULL;
    if (w->p.compression == CH_FED_COMP_TOPK && shard < w->env->plan->n_shards) {
        if (!w->residual[shard]) {
            w->residual[shard] = ch_calloc_array(w->np, sizeof(float));
            if (!w->residual[shard]) {
                return ch_err_set(err, CH_ENOMEM, "out of memory");
            }
        }
        res = w->residual[shard];
    }
    ch_fed_encoded enc;
    ch_fed_encoded_init(&enc);
    rc = ch_fed_encode(w->p.compression, w->w, n_send, w->tensor_end, w->n_tensors,
                       w->p.topk_fraction, res, &enc, err);
    if (rc == 0) {
        u.encoding = (uint32_t)enc.enc;
        u.data.data = enc.data.data;
        u.data.len = enc.data.len;
        u.n_scales = enc.n_scales;
        u.scales = enc.scales;
        u.indices.data = enc.indices.data;
        u.indices.len = enc.indices.len;
        rc = ch_pb_append(&u.base, out, err);
        *samples = w->n;
    }
    ch_fed_encoded_free(&enc);
    return rc;
}

static int s_run_task(void *vw, uint32_t round, uint32_t op, const uint8_t *payload, size_t len,
                      uint32_t shard, ch_buf *out, uint64_t *samples, ch_err *err)
{
    s_worker *w = vw;
    const ch_plan *plan = w->env->plan;
    if (shard >= plan->n_shards) {
        return ch_err_set(err, CH_EPROTO, "a task for shard %u of %zu", shard, plan->n_shards);
    }
    Cohort__Fedavg__Task *t = cohort__fedavg__task__unpack(NULL, len, payload);
    if (!t) {
        return ch_err_set(err, CH_EPROTO, "a fedavg task that does not decode");
    }
    size_t b = ch_plan_shard_begin(plan, shard), e = ch_plan_shard_end(plan, shard);
    const size_t *rows = plan->rows + b;
    int rc;
    if (t->round != round || t->op != op) {
        rc = ch_err_set(err, CH_EPROTO, "a task for round %u op %u inside round %u op %u", t->round,
                        t->op, round, op);
    } else if (op == OP_STATS) {
        rc = s_run_stats(w, round, rows, e - b, out, samples, err);
    } else if (op == OP_TRAIN) {
        rc = s_run_train(w, t, shard, rows, e - b, out, samples, err);
    } else {
        rc = ch_err_set(err, CH_EPROTO, "unknown fedavg op %u", op);
    }
    cohort__fedavg__task__free_unpacked(t, NULL);
    return rc;
}

/* --- model ------------------------------------------------------------------------ */

static ch_output_kind s_output_kind(const void *vm)
{
    const ch_fed_result *r = vm;
    return r->n_classes ? CH_OUT_PROBABILITIES : CH_OUT_REGRESSION;
}

static size_t s_n_outputs(const void *vm)
{
    const ch_fed_result *r = vm;
    return r->n_classes ? r->n_classes : 1;
}

static int s_predict(const void *vm, const ch_table *t, double *out, ch_err *err)
{
    const ch_fed_result *r = vm;
    size_t d = r->feat->d_in, k = ch_fed_model_outputs(r->model), no = s_n_outputs(r);
    float *x = ch_alloc_array(S_EVAL_ROWS, d * sizeof *x);
    float *y = ch_calloc_array(S_EVAL_ROWS, sizeof *y);
    float *prob = ch_alloc_array(S_EVAL_ROWS, k * sizeof *prob);
    size_t *rows = ch_alloc_array(S_EVAL_ROWS, sizeof *rows);
    int rc = 0;
    if (!x || !y || !prob || !rows) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < t->n_rows && rc == 0; i += S_EVAL_ROWS) {
        size_t m = t->n_rows - i < S_EVAL_ROWS ? t->n_rows - i : S_EVAL_ROWS;
        for (size_t j = 0; j < m; j++) {
            rows[j] = i + j;
        }
        ch_features_encode(r->feat, t, rows, m, x, NULL);
        double l, c;
        r->model->ops->eval(r->model, r->w, x, y, m, &l, &c, prob);
        for (size_t j = 0; j < m; j++) {
            double *o = out + (i + j) * no;
            if (!r->n_classes) {
                o[0] = prob[j] / r->feat->y_scale + r->feat->y_mean;
            } else if (k == 1) {
                o[0] = 1.0 - prob[j];
                o[1] = prob[j];
            } else {
                for (size_t c2 = 0; c2 < k; c2++) {
                    o[c2] = prob[j * k + c2];
                }
            }
        }
    }
    free(x);
    free(y);
    free(prob);
    free(rows);
    return rc;
}

static int s_pack(const void *vm, ch_buf *out, ch_err *err)
{
    return ch_fed_result_pack(vm, out, err);
}

static void *s_unpack(const uint8_t *data, size_t len, const ch_schema *schema, ch_err *err)
{
    return ch_fed_result_unpack(data, len, schema, err);
}

static int s_summary_json(const void *vm, ch_buf *json)
{
    const ch_fed_result *r = vm;
    const ch_fed_curves *c = &r->curves;
    size_t np = r->model->ops->n_params(r->model);
    double last_loss = NAN;
    for (size_t i = 0; i < c->n; i++) {
        last_loss = isnan(c->test_loss[i]) ? last_loss : c->test_loss[i];
    }
    ch_buf_printf(json, ", \"test_loss\": ");
    ch_buf_json_num(json, last_loss);
    ch_buf_printf(json,
                  ", \"federated\": {\"strategy\": \"%s\", \"compression\": \"%s\", \"rounds\": "
                  "%u, \"silos\": %zu, \"parameters\": %zu, \"weights_fnv\": \"%016llx\"",
                  ch_fed_strategy_names[r->p.strategy], ch_fed_comp_names[r->p.compression],
                  r->rounds, r->silos.n, np, (unsigned long long)ch_fed_weights_hash(r->w, np));
    const char *names[] = {"test_accuracy", "test_loss", "bytes_in"};
    const double *vals[] = {c->test_accuracy, c->test_loss, c->bytes_in};
    for (size_t k = 0; k < 3; k++) {
        ch_buf_printf(json, ", \"round_%s\": [", names[k]);
        for (size_t i = 0; i < c->n; i++) {
            ch_buf_printf(json, "%s", i ? ", " : "");
            ch_buf_json_num(json, vals[k][i]);
        }
        ch_buf_puts(json, "]");
    }
    ch_buf_puts(json, ", \"participation\": [");
    for (size_t s = 0; s < r->silos.n; s++) {
        ch_buf_printf(json, "%s%u", s ? ", " : "", r->silos.rounds[s]);
    }
    return ch_buf_puts(json, "]}");
}

static int s_describe(const void *vm, ch_buf *text)
{
    const ch_fed_result *r = vm;
    ch_buf_printf(text, "federated %s (%s) of a %s network", ch_fed_strategy_names[r->p.strategy],
                  ch_fed_comp_names[r->p.compression], ch_fed_net_names[r->p.net]);
    for (size_t i = 0; i < r->p.n_hidden; i++) {
        ch_buf_printf(text, "%s%zu", i ? "-" : " with hidden layers ", r->p.hidden[i]);
    }
    return ch_buf_printf(text, ", %u rounds over %zu silos\n", r->rounds, r->silos.n);
}

static int s_report(const void *vm, ch_report *rep, ch_err *err)
{
    return ch_fed_report(vm, rep, err);
}

static void s_model_destroy(void **vm)
{
    if (!vm) {
        return;
    }
    ch_fed_result *r = *vm;
    ch_fed_result_destroy(&r);
    *vm = NULL;
}

const ch_algo ch_algo_fedavg = {
    .name = "fedavg",
    .summary = "federated averaging across silos: FedAvg/FedProx/FedAvgM/FedAdam/FedYogi, robust "
               "aggregation, compressed updates",
    .needs_target = true,
    .configure = s_configure,
    .estimate = s_estimate,
    .coord_new = s_coord_new,
    .next_task = s_next_task,
    .participants = s_participants,
    .accumulate = s_accumulate,
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
