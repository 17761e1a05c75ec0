/* kmeans.c: distributed k-means (Lloyd, Elkan, mini-batch), exact across
 * workers.
 *
 * Rounds, each reduced over the fixed block tree of common/reduce.h so that
 * the centroids are the same bytes for any number of workers:
 *   MOMENTS  per-feature mean and variance (standardisation, tolerance);
 *   SAMPLE   a seeded sample of rows, chosen by a hash of the row id, for
 *            k-means++ / random seeding on the coordinator;
 *   PAR/PARW k-means|| rounds: cost, candidates sampled with probability
 *            l d^2 / phi, then candidate weights; reduced with k-means++;
 *   LLOYD    per-cluster weighted sums, weights, counts, inertia and the
 *            farthest points (for the empty-cluster rule, lloyd.h), one round
 *            per iteration; mini-batch uses a hashed subset of rows;
 *   ELKAN    the same sums with Elkan's bounds (elkan.h), which the workers
 *            keep per block across rounds; a block whose labels did not
 *            change sends the sums it kept (the same bytes); an empty
 *            cluster turns that iteration into a LLOYD round (far points);
 *   EVAL     sizes, per-cluster inertia and spread, contingency with the
 *            target, overall mean (Davies-Bouldin, Calinski-Harabasz, ARI);
 *   SIL      exact silhouette: each worker scores its blocks' rows against
 *            every row (or a seeded sample of silhouette_max_rows rows).
 * Distances go through dgemm (or sgemm with model.dtype float32); the final
 * E-step and EVAL recompute each row's distance to its centroid in double. */
#include "algorithms/algo.h"
#include "algorithms/cluster_common/cluster.h"
#include "algorithms/cluster_common/silplot.h"
#include "algorithms/kmeans/elkan.h"
#include "algorithms/kmeans/kmeans_report.h"
#include "algorithms/kmeans/lloyd.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/reduce.h"
#include "common/rng.h"
#include "proto/kmeans.pb-c.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OP_MOMENTS = 1, OP_SAMPLE, OP_PAR, OP_PARW, OP_LLOYD, OP_EVAL, OP_SIL, OP_ELKAN };
enum { PH_MOMENTS = 0, PH_SAMPLE, PH_PAR, PH_PARW, PH_LLOYD, PH_EVAL, PH_SIL, PH_DONE };
enum { INIT_PLUSPLUS = 0, INIT_PARALLEL, INIT_RANDOM, INIT_GIVEN };
enum { ALG_LLOYD = 0, ALG_MINIBATCH, ALG_ELKAN };
/* Elkan keeps k lower bounds per row and k x k centroid distances */
enum { S_MAX_FAR = 32, S_ELKAN_MAX_K = 1024 };
/* Elkan's kept per-block sums stop at this many bytes on a worker (beyond,
 * every block re-sums every round: the same bytes, more time) */
#define S_ELKAN_KEEP_BYTES ((size_t)256 << 20)

static const char *const s_inits[] = {"k-means++", "k-means||", "random", "given", NULL};
static const char *const s_algs[] = {"lloyd", "minibatch", "elkan", NULL};
static const char *const s_dtypes[] = {"float64", "float32", NULL};

/* Hash streams for row sampling (independent of the worker holding a row). */
#define S_STREAM_SAMPLE (CH_STREAM_ALGO + 0x6b6d0001ULL)
#define S_STREAM_BATCH  (CH_STREAM_ALGO + 0x6b6d0002ULL)
#define S_STREAM_PAR    (CH_STREAM_ALGO + 0x6b6d0003ULL)
#define S_STREAM_SIL    (CH_STREAM_ALGO + 0x6b6d0004ULL)

typedef struct s_params {
    long k, n_init, max_iter, init_sample, init_rounds, batch_size, sil_max;
    double tol, oversampling;
    int init, alg, dtype;
    bool standardize, silhouette;
    const char *given_path;
} s_params;

static int s_read_params(ch_config *cfg, s_params *p, ch_err *err)
{
    int rc;
    memset(p, 0, sizeof *p);
    if ((rc = ch_cfg_int(cfg, "model.k", 8, 1, CH_CL_MAX_K, &p->k, err)) ||
        (rc = ch_cfg_enum(cfg, "model.init", "k-means++", s_inits, &p->init, err)) ||
        (rc = ch_cfg_int(cfg, "model.n_init", 1, 1, 1000, &p->n_init, err)) ||
        (rc = ch_cfg_int(cfg, "model.max_iter", 300, 1, 1000000, &p->max_iter, err)) ||
        (rc = ch_cfg_num(cfg, "model.tol", 1e-4, 0, 1e6, &p->tol, err)) ||
        (rc = ch_cfg_enum(cfg, "model.method", "lloyd", s_algs, &p->alg, err)) ||
        (rc = ch_cfg_int(cfg, "model.batch_size", 1024, 1, 1L << 40, &p->batch_size, err)) ||
        (rc = ch_cfg_bool(cfg, "model.standardize", true, &p->standardize, err)) ||
        (rc = ch_cfg_enum(cfg, "model.dtype", "float64", s_dtypes, &p->dtype, err)) ||
        (rc = ch_cfg_int(cfg, "model.init_sample", 10000, 1, 1L << 40, &p->init_sample, err)) ||
        (rc = ch_cfg_num(cfg, "model.oversampling", 2.0, 0.1, 1000, &p->oversampling, err)) ||
        (rc = ch_cfg_int(cfg, "model.init_rounds", 5, 1, 100, &p->init_rounds, err)) ||
        (rc = ch_cfg_bool(cfg, "model.silhouette", true, &p->silhouette, err)) ||
        (rc = ch_cfg_int(cfg, "model.silhouette_max_rows", 10000, 2, 1L << 40, &p->sil_max, err))) {
        return rc;
    }
    if (p->alg == ALG_ELKAN && p->k > S_ELKAN_MAX_K) {
        return ch_err_set(err, CH_EINVAL,
                          "%s: model.method elkan keeps k lower bounds per row and is limited to "
                          "k <= %d (k is %ld): use model.method lloyd",
                          ch_config_where(cfg, "model.method"), S_ELKAN_MAX_K, p->k);
    }
    if (p->init == INIT_GIVEN) {
        if ((rc = ch_cfg_str(cfg, "model.init_centroids", NULL, &p->given_path, err))) {
            return ch_err_prefix(err, "%s: model.init given", ch_config_where(cfg, "model.init"));
        }
        if (p->n_init != 1) {
            return ch_err_set(err, CH_EINVAL,
                              "%s: model.n_init: %ld restarts from the same given centroids "
                              "would all give the same result: use n_init 1",
                              ch_config_where(cfg, "model.n_init"), p->n_init);
        }
    } else if (ch_config_has(cfg, "model.init_centroids")) {
        return ch_err_set(err, CH_EINVAL, "%s: model.init_centroids needs model.init: given",
                          ch_config_where(cfg, "model.init_centroids"));
    }
    return 0;
}

static int s_configure(ch_config *cfg, const ch_schema *schema, ch_err *err)
{
    s_params p;
    int rc = s_read_params(cfg, &p, err);
    if (rc == 0 && schema) {
        rc = ch_cl_check_schema(schema, "model.algorithm kmeans", err);
    }
    return rc;
}

/* Number of target classes for the contingency table (0: none). */
static size_t s_classes(const ch_schema *s)
{
    if (s && s->target.name && s->target.kind == CH_COL_CATEGORICAL) {
        return s->target.n_levels;
    }
    return 0;
}

static size_t s_eval_len(size_t k, size_t d, size_t q)
{
    return 4 * k + k * q + d + 1;
}

/* --- task encoding ----------------------------------------------------------- */

typedef struct s_task {
    uint32_t restart, iter, k, d, far;
    const double *mean, *scale; /* NULL: no standardisation */
    const double *c;            /* k x d */
    double phi, oversampling, fraction;
    bool exact; /* labels and distances exact in double */
} s_task;

/* The SIL round's leaf: per cluster the sum of silhouettes and the count,
 * then the silhouette plot's histogram (silplot.h). */
static size_t s_sil_len(size_t k)
{
    return 2 * k + k * CH_SIL_BINS;
}

static int s_task_pack(const s_task *t, ch_buf *out, ch_err *err)
{
    Cohort__Kmeans__Task m = COHORT__KMEANS__TASK__INIT;
    m.restart = t->restart;
    m.iter = t->iter;
    m.k = t->k;
    m.d = t->d;
    if (t->mean) {
        m.n_mean = m.n_scale = t->d;
        m.mean = (double *)t->mean;
        m.scale = (double *)t->scale;
    }
    if (t->c) {
        m.n_centroids = (size_t)t->k * t->d;
        m.centroids = (double *)t->c;
    }
    m.phi = t->phi;
    m.oversampling = t->oversampling;
    m.fraction = t->fraction;
    m.far = t->far;
    m.exact = t->exact;
    size_t size = cohort__kmeans__task__get_packed_size(&m);
    if (ch_buf_reserve(out, size) != 0) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    cohort__kmeans__task__pack(&m, out->data + out->len);
    out->len += size;
    return 0;
}

static int s_update_pack(const ch_buf *reduce, const ch_buf *rows, ch_buf *out, ch_err *err)
{
    Cohort__Kmeans__Update u = COHORT__KMEANS__UPDATE__INIT;
    if (reduce) {
        u.reduce.data = reduce->data;
        u.reduce.len = reduce->len;
    }
    if (rows) {
        u.rows.data = rows->data;
        u.rows.len = rows->len;
    }
    size_t size = cohort__kmeans__update__get_packed_size(&u);
    if (ch_buf_reserve(out, size) != 0) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    cohort__kmeans__update__pack(&u, out->data + out->len);
    out->len += size;
    return 0;
}

/* --- coordinator -------------------------------------------------------------- */

typedef struct s_coord {
    s_params p;
    size_t k, d, q, n_blocks;
    uint64_t seed;
    bool can_silhouette;
    const ch_schema *schema;
    const ch_table *train; /* the training table in simulation (NULL for silos) */
    const char *run_dir;   /* assignments.csv goes here */
    int phase;
    uint32_t restart, iter, par_round;
    bool final_estep;
    bool fallback;        /* Elkan met an empty cluster: redo the iteration as Lloyd */
    double *mean, *scale; /* d each; used when standardize */
    double n_used, n_skipped, tol_scaled;
    double *given;   /* k x d as read */
    double *sx, *sw; /* init sample */
    size_t sm;
    double *cand, *cand_w; /* k-means|| candidates */
    size_t n_cand;
    double phi;
    double *c, *c_next, *wtotal, *best_c;
    double best_inertia;
    uint32_t best_restart, best_iter;
    double *restart_inertia;
    double *hist; /* (restart, iter, inertia) */
    size_t n_hist, cap_hist;
    double *eval; /* s_eval_len */
    double *sil;  /* 2k + k x CH_SIL_BINS: sum of s, count, histogram */
    bool have_sil;
    char note[256];
} s_coord;

static void s_coord_destroy(void **pst)
{
    if (!pst || !*pst) {
        return;
    }
    s_coord *st = *pst;
    free(st->mean);
    free(st->scale);
    free(st->given);
    free(st->sx);
    free(st->sw);
    free(st->cand);
    free(st->cand_w);
    free(st->c);
    free(st->c_next);
    free(st->wtotal);
    free(st->best_c);
    free(st->restart_inertia);
    free(st->hist);
    free(st->eval);
    free(st->sil);
    free(st);
    *pst = NULL;
}

/* Reads the given initial centroids (a CSV with a header, k rows of d
 * numbers) in the features' units. */
static int s_read_given(s_coord *st, ch_err *err)
{
    ch_table *t = ch_table_read(st->p.given_path, CH_FORMAT_AUTO, err);
    if (!t) {
        return ch_err_prefix(err, "model.init_centroids");
    }
    int rc = 0;
    if (t->n_rows != st->k || t->n_cols != st->d) {
        rc = ch_err_set(err, CH_EINVAL,
                        "model.init_centroids: %s has %zu rows and %zu columns; k = %zu "
                        "centroids of %zu features are needed",
                        st->p.given_path, t->n_rows, t->n_cols, st->k, st->d);
    }
    for (size_t j = 0; rc == 0 && j < st->d; j++) {
        if (t->cols[j].kind != CH_COL_NUMERIC) {
            rc = ch_err_set(err, CH_EINVAL, "model.init_centroids: column %s of %s is not numeric",
                            t->cols[j].name, st->p.given_path);
        }
        for (size_t i = 0; rc == 0 && i < st->k; i++) {
            double v = t->cols[j].values[i];
            if (!isfinite(v)) {
                rc = ch_err_set(err, CH_EINVAL, "model.init_centroids: %s row %zu is missing",
                                st->p.given_path, i + 1);
            }
            st->given[i * st->d + j] = v;
        }
    }
    ch_table_destroy(&t);
    return rc;
}

static void *s_coord_new(const ch_coord_env *env, ch_err *err)
{
    s_coord *st = calloc(1, sizeof *st);
    if (!st) {
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    if (s_read_params(env->cfg, &st->p, err) != 0 ||
        ch_cl_check_schema(env->schema, "model.algorithm kmeans", err) != 0) {
        free(st);
        return NULL;
    }
    st->k = (size_t)st->p.k;
    st->d = env->schema->n_features;
    st->q = s_classes(env->schema);
    st->schema = env->schema;
    st->n_blocks = env->n_blocks;
    st->seed = env->seed;
    st->can_silhouette = env->train != NULL;
    st->train = env->train;
    st->run_dir = env->run_dir;
    size_t kd;
    if (ch_mul_size(st->k, st->d, &kd) != 0) {
        ch_err_set(err, CH_EINVAL, "k x features is too large");
        free(st);
        return NULL;
    }
    st->mean = calloc(st->d, sizeof(double));
    st->scale = calloc(st->d, sizeof(double));
    st->c = ch_calloc_array(kd, sizeof(double));
    st->c_next = ch_calloc_array(kd, sizeof(double));
    st->best_c = ch_calloc_array(kd, sizeof(double));
    st->given = ch_calloc_array(kd, sizeof(double));
    st->wtotal = calloc(st->k, sizeof(double));
    st->restart_inertia = calloc((size_t)st->p.n_init, sizeof(double));
    st->eval = calloc(s_eval_len(st->k, st->d, st->q), sizeof(double));
    st->sil = calloc(s_sil_len(st->k), sizeof(double));
    if (!st->mean || !st->scale || !st->c || !st->c_next || !st->best_c || !st->given ||
        !st->wtotal || !st->restart_inertia || !st->eval || !st->sil) {
        ch_err_set(err, CH_ENOMEM, "out of memory for %zu centroids", st->k);
        void *v = st;
        s_coord_destroy(&v);
        return NULL;
    }
    st->best_inertia = INFINITY;
    if (st->p.init == INIT_GIVEN && s_read_given(st, err) != 0) {
        void *v = st;
        s_coord_destroy(&v);
        return NULL;
    }
    st->phase = PH_MOMENTS;
    return st;
}

static int s_next_task(void *vst, uint32_t round, uint32_t *op, ch_buf *payload, ch_err *err)
{
    s_coord *st = vst;
    (void)round;
    s_task t = {.k = (uint32_t)st->k, .d = (uint32_t)st->d, .restart = st->restart};
    if (st->p.standardize && st->phase != PH_MOMENTS) {
        t.mean = st->mean;
        t.scale = st->scale;
    }
    switch (st->phase) {
    case PH_MOMENTS:
        *op = OP_MOMENTS;
        break;
    case PH_SAMPLE:
        *op = OP_SAMPLE;
        t.fraction = (double)(st->p.init_sample > st->p.k * 4 ? st->p.init_sample : st->p.k * 4) /
                     st->n_used;
        t.fraction = t.fraction < 1 ? t.fraction : 1;
        break;
    case PH_PAR:
    case PH_PARW:
        *op = st->phase == PH_PAR ? OP_PAR : OP_PARW;
        t.k = (uint32_t)st->n_cand;
        t.c = st->cand;
        t.iter = st->par_round;
        t.phi = st->phase == PH_PAR ? st->phi : 0;
        t.oversampling = st->p.oversampling * (double)st->k;
        break;
    case PH_LLOYD:
        *op = st->p.alg == ALG_ELKAN && !st->fallback ? OP_ELKAN : OP_LLOYD;
        t.c = st->c;
        t.iter = st->iter;
        t.fraction = 1;
        t.exact = st->final_estep;
        if (*op == OP_ELKAN) {
            break;
        }
        if (st->p.alg == ALG_MINIBATCH && !st->final_estep) {
            t.fraction = (double)st->p.batch_size / st->n_used;
            t.fraction = t.fraction < 1 ? t.fraction : 1;
        } else if (!st->final_estep) {
            t.far = (uint32_t)(st->k < S_MAX_FAR ? st->k : S_MAX_FAR);
        }
        break;
    case PH_EVAL:
    case PH_SIL:
        *op = st->phase == PH_EVAL ? OP_EVAL : OP_SIL;
        t.c = st->best_c;
        t.exact = true;
        break;
    default:
        return 1;
    }
    return s_task_pack(&t, payload, err);
}

/* Reduces the updates' node lists into root (len doubles). */
static int s_reduce(s_coord *st, const ch_update *ups, size_t n, size_t len, ch_combine_fn fn,
                    void *ctx, double *root, ch_buf *rows, ch_err *err)
{
    ch_reduce *r = ch_reduce_new(st->n_blocks, len, fn, ctx);
    if (!r) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        Cohort__Kmeans__Update *u =
            cohort__kmeans__update__unpack(NULL, ups[i].state_len, ups[i].state);
        if (!u) {
            rc = ch_err_set(err, CH_EPROTO, "kmeans: the update for shard %u does not decode",
                            ups[i].shard);
            break;
        }
        rc = ch_reduce_add(r, u->reduce.data, u->reduce.len, err);
        if (rc == 0 && rows) {
            ch_buf_append(rows, &u->rows.len, sizeof u->rows.len);
            ch_buf_append(rows, u->rows.data, u->rows.len);
        }
        cohort__kmeans__update__free_unpacked(u, NULL);
        if (rc) {
            ch_err_prefix(err, "kmeans: update for shard %u", ups[i].shard);
        }
    }
    if (rc == 0) {
        rc = ch_reduce_finish(r, root, err);
    }
    ch_reduce_destroy(&r);
    return rc;
}

/* Gathers the rows part of the updates (framed by s_reduce) in block order. */
static int s_gather(s_coord *st, const ch_buf *rows, double **x, uint64_t **ids, size_t *m,
                    ch_err *err)
{
    ch_cl_rows g;
    if (ch_cl_rows_init(&g, st->n_blocks, st->d) != 0) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    int rc = 0;
    size_t pos = 0;
    while (rc == 0 && pos < rows->len) {
        size_t len;
        memcpy(&len, rows->data + pos, sizeof len);
        pos += sizeof len;
        rc = ch_cl_rows_add(&g, rows->data + pos, len, err);
        pos += len;
    }
    if (rc == 0) {
        rc = ch_cl_rows_finish(&g, x, ids, m, err);
    }
    ch_cl_rows_free(&g);
    return rc;
}

static void s_hist(s_coord *st, double inertia)
{
    if (st->n_hist + 3 > st->cap_hist) {
        size_t cap = st->cap_hist ? st->cap_hist * 2 : 96;
        double *h = realloc(st->hist, cap * sizeof *h);
        if (!h) {
            return;
        }
        st->hist = h;
        st->cap_hist = cap;
    }
    st->hist[st->n_hist++] = st->restart;
    st->hist[st->n_hist++] = st->iter;
    st->hist[st->n_hist++] = inertia;
}

static void s_standardize(const s_coord *st, const double *raw, double *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < st->d; j++) {
            double v = raw[i * st->d + j];
            out[i * st->d + j] = st->p.standardize ? (v - st->mean[j]) / st->scale[j] : v;
        }
    }
}

static int s_distinct_error(s_coord *st, size_t found, size_t among, ch_err *err)
{
    return ch_err_set(err, CH_EINVAL,
                      "model.k = %zu is larger than the number of distinct points (%zu found "
                      "among %zu rows%s)",
                      st->k, found, among,
                      among < (size_t)st->n_used ? " of the initialisation sample" : "");
}

/* Sets up restart st->restart: its initial centroids, or the k-means|| rounds. */
static int s_begin_restart(s_coord *st, ch_err *err)
{
    ch_rng rng;
    ch_rng_init(&rng, st->seed, ch_rng_stream(CH_STREAM_INIT, st->restart));
    st->iter = 0;
    st->final_estep = false;
    memset(st->wtotal, 0, st->k * sizeof(double));
    switch (st->p.init) {
    case INIT_GIVEN:
        s_standardize(st, st->given, st->c, st->k);
        break;
    case INIT_RANDOM: {
        if (st->sm < st->k) {
            return s_distinct_error(st, st->sm, st->sm, err);
        }
        size_t *idx = malloc(st->sm * sizeof *idx);
        if (!idx) {
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < st->sm; i++) {
            idx[i] = i;
        }
        for (size_t i = 0; i < st->k; i++) {
            size_t j = i + (size_t)ch_rng_below(&rng, st->sm - i);
            size_t tmp = idx[i];
            idx[i] = idx[j];
            idx[j] = tmp;
            memcpy(st->c + i * st->d, st->sx + idx[i] * st->d, st->d * sizeof(double));
        }
        free(idx);
        break;
    }
    case INIT_PLUSPLUS: {
        size_t found = ch_km_plusplus(st->sx, st->sw, st->sm, st->d, st->k, &rng, st->c);
        if (found < st->k) {
            return s_distinct_error(st, found, st->sm, err);
        }
        break;
    }
    case INIT_PARALLEL: {
        if (st->sm == 0) {
            return ch_err_set(err, CH_EINVAL, "no complete rows to initialise from");
        }
        size_t first = (size_t)ch_rng_below(&rng, st->sm);
        free(st->cand);
        st->cand = malloc(st->d * sizeof(double));
        if (!st->cand) {
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        memcpy(st->cand, st->sx + first * st->d, st->d * sizeof(double));
        st->n_cand = 1;
        st->par_round = 0;
        st->phi = 0;
        st->phase = PH_PAR;
        return 0;
    }
    default:
        break;
    }
    st->phase = PH_LLOYD;
    return 0;
}

/* A restart finished with final inertia `inertia`: keep the best, go on. */
static int s_end_restart(s_coord *st, double inertia, ch_err *err)
{
    st->restart_inertia[st->restart] = inertia;
    if (inertia < st->best_inertia) {
        st->best_inertia = inertia;
        st->best_restart = st->restart;
        st->best_iter = st->iter;
        memcpy(st->best_c, st->c, st->k * st->d * sizeof(double));
    }
    st->restart++;
    if (st->restart < (uint32_t)st->p.n_init) {
        return s_begin_restart(st, err);
    }
    st->phase = PH_EVAL;
    return 0;
}

static int s_agg_moments(s_coord *st, const ch_update *ups, size_t n, ch_round_metrics *m,
                         ch_err *err)
{
    size_t len = ch_cl_moments_len(st->d);
    double *root = malloc(len * sizeof *root);
    if (!root) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    int rc = s_reduce(st, ups, n, len, ch_cl_moments_combine, NULL, root, NULL, err);
    if (rc == 0) {
        st->n_used = root[0];
        st->n_skipped = root[1];
        ch_cl_moments_scale(root, st->d, st->mean, st->scale);
        double var = 0;
        for (size_t j = 0; j < st->d; j++) {
            double v = root[0] > 0 ? root[2 + st->d + j] / root[0] : 0;
            var += st->p.standardize ? v / (st->scale[j] * st->scale[j]) : v;
        }
        st->tol_scaled = st->p.tol * var / (double)st->d;
        ch_round_metric(m, "rows_used", st->n_used);
        if (st->n_used < (double)st->k) {
            rc = ch_err_set(err, CH_EINVAL,
                            "model.k = %zu is larger than the %.0f complete training rows (%.0f "
                            "rows with missing values skipped)",
                            st->k, st->n_used, st->n_skipped);
        }
    }
    free(root);
    if (rc) {
        return rc;
    }
    if (st->p.init == INIT_GIVEN) {
        return s_begin_restart(st, err);
    }
    st->phase = PH_SAMPLE;
    return 0;
}

static int s_agg_sample(s_coord *st, const ch_update *ups, size_t n, ch_err *err)
{
    double dummy;
    ch_buf rows;
    ch_buf_init(&rows);
    uint64_t *ids = NULL;
    int rc = s_reduce(st, ups, n, 1, ch_combine_sum, NULL, &dummy, &rows, err);
    if (rc == 0) {
        rc = s_gather(st, &rows, &st->sx, &ids, &st->sm, err);
    }
    ch_buf_free(&rows);
    free(ids);
    if (rc) {
        return rc;
    }
    st->sw = malloc((st->sm ? st->sm : 1) * sizeof(double));
    if (!st->sw) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < st->sm; i++) {
        st->sw[i] = 1.0; /* the sample is drawn uniformly; weights enter in Lloyd */
    }
    return s_begin_restart(st, err);
}

static int s_agg_par(s_coord *st, const ch_update *ups, size_t n, ch_err *err)
{
    double cost = 0;
    ch_buf rows;
    ch_buf_init(&rows);
    double *x = NULL;
    uint64_t *ids = NULL;
    size_t m = 0;
    int rc = s_reduce(st, ups, n, 1, ch_combine_sum, NULL, &cost, &rows, err);
    if (rc == 0) {
        rc = s_gather(st, &rows, &x, &ids, &m, err);
    }
    ch_buf_free(&rows);
    free(ids);
    if (rc == 0 && m > 0) {
        double *nc = realloc(st->cand, (st->n_cand + m) * st->d * sizeof(double));
        if (!nc) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        } else {
            st->cand = nc;
            memcpy(st->cand + st->n_cand * st->d, x, m * st->d * sizeof(double));
            st->n_cand += m;
        }
    }
    free(x);
    if (rc) {
        return rc;
    }
    st->phi = cost;
    /* round 0 only measured the cost of the first centre */
    if (st->par_round >= (uint32_t)st->p.init_rounds || !(cost > 0)) {
        st->phase = PH_PARW;
    } else {
        st->par_round++;
    }
    return 0;
}

static int s_agg_parw(s_coord *st, const ch_update *ups, size_t n, ch_err *err)
{
    free(st->cand_w);
    st->cand_w = calloc(st->n_cand, sizeof(double));
    if (!st->cand_w) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    int rc = s_reduce(st, ups, n, st->n_cand, ch_combine_sum, NULL, st->cand_w, NULL, err);
    if (rc) {
        return rc;
    }
    ch_rng rng;
    ch_rng_init(&rng, st->seed, ch_rng_stream(CH_STREAM_INIT, 1000000 + st->restart));
    size_t found = ch_km_plusplus(st->cand, st->cand_w, st->n_cand, st->d, st->k, &rng, st->c);
    if (found < st->k) {
        return s_distinct_error(st, found, st->n_cand, err);
    }
    if ((rc = ch_km_local_lloyd(st->cand, st->cand_w, st->n_cand, st->d, st->k, 10, st->c))) {
        return ch_err_set(err, rc, "out of memory");
    }
    st->phase = PH_LLOYD;
    st->iter = 0;
    st->final_estep = false;
    return 0;
}

/* The new centroids become the current ones; after max_iter iterations, or
 * once they moved less than tol, the next round is the final E-step. */
static void s_next_iteration(s_coord *st, double shift)
{
    double *t = st->c;
    st->c = st->c_next;
    st->c_next = t;
    st->iter++;
    if (st->iter >= (uint32_t)st->p.max_iter || shift <= st->tol_scaled) {
        st->final_estep = true;
    }
}

static int s_agg_lloyd(s_coord *st, const ch_update *ups, size_t n, ch_round_metrics *m,
                       ch_err *err)
{
    bool mb = st->p.alg == ALG_MINIBATCH && !st->final_estep;
    ch_km_shape sh = {st->k, st->d,
                      (mb || st->final_estep) ? 0 : (st->k < S_MAX_FAR ? st->k : S_MAX_FAR)};
    size_t len = ch_km_node_len(&sh);
    double *root = malloc(len * sizeof *root);
    if (!root) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    int rc = s_reduce(st, ups, n, len, ch_km_combine, &sh, root, NULL, err);
    if (rc) {
        free(root);
        return rc;
    }
    st->fallback = false;
    double inertia = root[st->k * st->d + 2 * st->k];
    if (st->final_estep) {
        ch_round_metric(m, "inertia", inertia);
        s_hist(st, inertia);
        free(root);
        return s_end_restart(st, inertia, err);
    }
    double shift;
    if (mb) {
        ch_km_minibatch_update(&sh, root, st->wtotal, st->c, st->c_next, &shift);
        ch_round_metric(m, "batch_inertia", inertia);
    } else {
        size_t n_empty;
        ch_km_update(&sh, root, st->c, st->c_next, &shift, &n_empty);
        ch_round_metric(m, "inertia", inertia);
        if (n_empty) {
            ch_round_metric(m, "empty_clusters", (double)n_empty);
        }
        s_hist(st, inertia);
    }
    ch_round_metric(m, "center_shift", shift);
    free(root);
    s_next_iteration(st, shift);
    return 0;
}

/* An Elkan round: the reduced sums of the exact labels (no inertia, no far
 * points); the final E-step's inertia is exact, in double. An empty cluster
 * sends the same iteration back as a Lloyd round, whose far points serve the
 * empty-cluster rule; the workers' bounds stay valid across it. */
static int s_agg_elkan(s_coord *st, const ch_update *ups, size_t n, ch_round_metrics *m,
                       ch_err *err)
{
    ch_km_shape sh = {st->k, st->d, 0};
    size_t len = ch_km_node_len(&sh);
    double *root = malloc(len * sizeof *root);
    if (!root) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    int rc = s_reduce(st, ups, n, len, ch_km_combine, &sh, root, NULL, err);
    if (rc) {
        free(root);
        return rc;
    }
    if (st->final_estep) {
        double inertia = root[st->k * st->d + 2 * st->k];
        ch_round_metric(m, "inertia", inertia);
        s_hist(st, inertia);
        free(root);
        return s_end_restart(st, inertia, err);
    }
    size_t n_empty = 0;
    for (size_t c = 0; c < st->k; c++) {
        n_empty += !(root[st->k * st->d + c] > 0);
    }
    if (n_empty) {
        ch_round_metric(m, "empty_clusters", (double)n_empty);
        st->fallback = true;
        free(root);
        return 0;
    }
    double shift;
    ch_km_update(&sh, root, st->c, st->c_next, &shift, &n_empty);
    ch_round_metric(m, "center_shift", shift);
    free(root);
    s_next_iteration(st, shift);
    return 0;
}

static int s_aggregate(void *vst, uint32_t round, uint32_t op, const ch_update *ups, size_t n,
                       ch_round_metrics *m, ch_err *err)
{
    s_coord *st = vst;
    (void)round;
    switch (op) {
    case OP_MOMENTS:
        return s_agg_moments(st, ups, n, m, err);
    case OP_SAMPLE:
        return s_agg_sample(st, ups, n, err);
    case OP_PAR:
        return s_agg_par(st, ups, n, err);
    case OP_PARW:
        return s_agg_parw(st, ups, n, err);
    case OP_LLOYD:
        return s_agg_lloyd(st, ups, n, m, err);
    case OP_ELKAN:
        return s_agg_elkan(st, ups, n, m, err);
    case OP_EVAL: {
        int rc = s_reduce(st, ups, n, s_eval_len(st->k, st->d, st->q), ch_combine_sum, NULL,
                          st->eval, NULL, err);
        if (rc == 0) {
            st->phase = (st->p.silhouette && st->can_silhouette) ? PH_SIL : PH_DONE;
            if (st->p.silhouette && !st->can_silhouette) {
                snprintf(st->note, sizeof st->note,
                         "silhouette not computed: by-file silos cannot see each other's rows");
            }
        }
        return rc;
    }
    case OP_SIL: {
        int rc = s_reduce(st, ups, n, s_sil_len(st->k), ch_combine_sum, NULL, st->sil, NULL, err);
        if (rc == 0) {
            double s = 0, c = 0;
            for (size_t j = 0; j < st->k; j++) {
                s += st->sil[j];
                c += st->sil[st->k + j];
            }
            st->have_sil = true;
            ch_round_metric(m, "silhouette", c > 0 ? s / c : NAN);
            st->phase = PH_DONE;
        }
        return rc;
    }
    default:
        return ch_err_set(err, CH_EPROTO, "kmeans: unknown op %u", op);
    }
}

/* --- checkpoints: the coordinator state as a flat list of sections -------- */

static void s_put(ch_buf *b, const void *p, size_t n)
{
    uint64_t len = n;
    ch_buf_append(b, &len, sizeof len);
    if (n) {
        ch_buf_append(b, p, n);
    }
}

static int s_get(const uint8_t **p, const uint8_t *end, void *dst, size_t n)
{
    uint64_t len;
    if ((size_t)(end - *p) < sizeof len) {
        return -1;
    }
    memcpy(&len, *p, sizeof len);
    *p += sizeof len;
    if (len != n || (size_t)(end - *p) < n) {
        return -1;
    }
    if (n) {
        memcpy(dst, *p, n);
    }
    *p += n;
    return 0;
}

/* Reads a section of unknown length into a new buffer (*dst, *n bytes). */
static int s_get_alloc(const uint8_t **p, const uint8_t *end, void **dst, size_t *n)
{
    uint64_t len;
    if ((size_t)(end - *p) < sizeof len) {
        return -1;
    }
    memcpy(&len, *p, sizeof len);
    *p += sizeof len;
    if (len > (uint64_t)(end - *p)) {
        return -1;
    }
    free(*dst);
    *dst = malloc(len ? len : 1);
    if (!*dst) {
        return -1;
    }
    memcpy(*dst, *p, len);
    *p += len;
    *n = len;
    return 0;
}

static int s_save(void *vst, ch_buf *out, ch_err *err)
{
    s_coord *st = vst;
    size_t kd = st->k * st->d * sizeof(double);
    uint32_t ints[6] = {(uint32_t)st->phase, st->restart,     st->iter,
                        st->par_round,       st->final_estep, st->best_restart};
    double nums[6] = {st->n_used, st->n_skipped,    st->tol_scaled,
                      st->phi,    st->best_inertia, st->best_iter};
    s_put(out, ints, sizeof ints);
    s_put(out, nums, sizeof nums);
    s_put(out, st->mean, st->d * sizeof(double));
    s_put(out, st->scale, st->d * sizeof(double));
    s_put(out, st->c, kd);
    s_put(out, st->best_c, kd);
    s_put(out, st->wtotal, st->k * sizeof(double));
    s_put(out, st->restart_inertia, (size_t)st->p.n_init * sizeof(double));
    s_put(out, st->eval, s_eval_len(st->k, st->d, st->q) * sizeof(double));
    s_put(out, st->sx, st->sm * st->d * sizeof(double));
    s_put(out, st->cand, st->n_cand * st->d * sizeof(double));
    s_put(out, st->hist, st->n_hist * sizeof(double));
    return out->failed ? ch_err_set(err, CH_ENOMEM, "out of memory") : 0;
}

static int s_load(void *vst, const uint8_t *data, size_t len, ch_err *err)
{
    s_coord *st = vst;
    const uint8_t *p = data, *end = data + len;
    size_t kd = st->k * st->d * sizeof(double), n;
    uint32_t ints[6];
    double nums[6];
    int bad = s_get(&p, end, ints, sizeof ints) || s_get(&p, end, nums, sizeof nums) ||
              s_get(&p, end, st->mean, st->d * sizeof(double)) ||
              s_get(&p, end, st->scale, st->d * sizeof(double)) || s_get(&p, end, st->c, kd) ||
              s_get(&p, end, st->best_c, kd) ||
              s_get(&p, end, st->wtotal, st->k * sizeof(double)) ||
              s_get(&p, end, st->restart_inertia, (size_t)st->p.n_init * sizeof(double)) ||
              s_get(&p, end, st->eval, s_eval_len(st->k, st->d, st->q) * sizeof(double));
    if (!bad) {
        void *v = NULL;
        bad = s_get_alloc(&p, end, &v, &n);
        st->sx = v;
        st->sm = bad ? 0 : n / (st->d * sizeof(double));
        v = NULL;
        bad = bad || s_get_alloc(&p, end, &v, &n);
        st->cand = v;
        st->n_cand = bad ? 0 : n / (st->d * sizeof(double));
        v = NULL;
        bad = bad || s_get_alloc(&p, end, &v, &n);
        st->hist = v;
        st->n_hist = st->cap_hist = bad ? 0 : n / sizeof(double);
    }
    if (bad || ints[0] > PH_DONE) {
        return ch_err_set(err, CH_EINVAL, "kmeans checkpoint does not match this experiment");
    }
    st->phase = (int)ints[0];
    st->restart = ints[1];
    st->iter = ints[2];
    st->par_round = ints[3];
    st->final_estep = ints[4] != 0;
    st->best_restart = ints[5];
    st->n_used = nums[0];
    st->n_skipped = nums[1];
    st->tol_scaled = nums[2];
    st->phi = nums[3];
    st->best_inertia = nums[4];
    st->best_iter = (uint32_t)nums[5];
    st->sw = malloc((st->sm ? st->sm : 1) * sizeof(double));
    if (!st->sw) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < st->sm; i++) {
        st->sw[i] = 1;
    }
    if (st->phase == PH_SIL || st->phase == PH_DONE) {
        st->phase = PH_EVAL; /* the evaluation rounds are recomputed */
    }
    return 0;
}

/* --- model -------------------------------------------------------------------- */

typedef struct s_model {
    Cohort__Kmeans__Model *pb; /* owned: unpacked, or built by finalize */
    bool built;                /* arrays malloc'd by finalize rather than unpacked */
} s_model;

static void s_model_destroy(void **pm)
{
    if (!pm || !*pm) {
        return;
    }
    s_model *md = *pm;
    if (md->pb && !md->built) {
        cohort__kmeans__model__free_unpacked(md->pb, NULL);
    } else if (md->pb) {
        Cohort__Kmeans__Model *m = md->pb;
        free(m->mean);
        free(m->scale);
        free(m->centroids);
        free(m->count);
        free(m->weight);
        free(m->cluster_inertia);
        free(m->spread);
        free(m->silhouette_cluster);
        free(m->silhouette_hist);
        free(m->contingency);
        free(m->history);
        free(m->restart_inertia);
        free(m->note);
        for (size_t f = 0; m->names && f < m->n_names; f++) {
            free(m->names[f]);
        }
        free(m->names);
        for (size_t c = 0; m->classes && c < m->n_classes; c++) {
            free(m->classes[c]);
        }
        free(m->classes);
        free(m);
    }
    free(md);
    *pm = NULL;
}

static double *s_dup(const double *v, size_t n)
{
    double *o = malloc((n ? n : 1) * sizeof *o);
    if (o && n) {
        memcpy(o, v, n * sizeof *o);
    }
    return o;
}

/* DIR/assignments.csv: every training row's nearest final centroid (as
 * scikit-learn's labels_), computed here from the coordinator's copy of the
 * table; by-file silos keep theirs (no file). */
static void s_write_assignments(const s_coord *st, const Cohort__Kmeans__Model *m)
{
    const ch_table *t = st->train;
    if (!t || !st->run_dir) {
        return;
    }
    double *lab = ch_alloc_array(t->n_rows ? t->n_rows : 1, sizeof *lab);
    uint64_t *rows = ch_alloc_array(t->n_rows ? t->n_rows : 1, sizeof *rows);
    int32_t *ilab = ch_alloc_array(t->n_rows ? t->n_rows : 1, sizeof *ilab);
    if (lab && rows && ilab &&
        ch_cl_predict_nearest(t, "kmeans", m->centroids, m->k, m->d,
                              m->standardize ? m->mean : NULL, m->scale, lab, NULL) == 0) {
        for (size_t i = 0; i < t->n_rows; i++) {
            rows[i] = i;
            ilab[i] = isnan(lab[i]) ? -1 : (int32_t)lab[i];
        }
        ch_cl_write_assignments(st->run_dir, "kmeans", rows, ilab, t->n_rows);
    } else {
        ch_warn("kmeans: assignments.csv not written: out of memory");
    }
    free(lab);
    free(rows);
    free(ilab);
}

/* DIR/centroids.csv: cluster, then one column per feature, in the
 * features' units (the centroids of summary.json), with 17 significant
 * digits. Written in every mode: centroids are aggregates. */
static void s_write_centroids(const s_coord *st, const Cohort__Kmeans__Model *m)
{
    if (!st->run_dir) {
        return;
    }
    ch_buf b;
    ch_buf_init(&b);
    ch_buf_puts(&b, "cluster");
    for (size_t f = 0; f < m->d; f++) {
        ch_buf_printf(&b, ",%s", f < m->n_names && m->names[f] ? m->names[f] : "?");
    }
    for (size_t c = 0; c < m->k; c++) {
        ch_buf_printf(&b, "\n%zu", c);
        for (size_t f = 0; f < m->d; f++) {
            double v = m->centroids[c * m->d + f];
            ch_buf_printf(&b, ",%.17g", m->standardize ? v * m->scale[f] + m->mean[f] : v);
        }
    }
    ch_buf_puts(&b, "\n");
    char *path = ch_path_join(st->run_dir, "centroids.csv");
    ch_err e;
    ch_err_clear(&e);
    if (b.failed || !path || ch_write_file_atomic(path, b.data, b.len, &e) != 0) {
        ch_warn("kmeans: centroids.csv not written: %s", e.msg[0] ? e.msg : "out of memory");
    }
    free(path);
    ch_buf_free(&b);
}

static void *s_finalize(void *vst, ch_err *err)
{
    s_coord *st = vst;
    size_t k = st->k, d = st->d, q = st->q;
    s_model *md = calloc(1, sizeof *md);
    Cohort__Kmeans__Model *m = calloc(1, sizeof *m);
    if (!md || !m) {
        free(md);
        free(m);
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    cohort__kmeans__model__init(m);
    md->pb = m;
    md->built = true;
    const double *ev = st->eval;
    const double *count = ev, *wsum = ev + k, *ci = ev + 2 * k, *spread_sum = ev + 3 * k;
    const double *cont = ev + 4 * k, *sumx = ev + 4 * k + k * q, *nrows = sumx + d;
    m->k = (uint32_t)k;
    m->d = (uint32_t)d;
    m->n_names = d;
    m->names = calloc(d, sizeof(char *));
    for (size_t f = 0; m->names && f < d; f++) {
        m->names[f] = strdup(st->schema->features[f].name);
    }
    m->n_classes = q;
    m->classes = calloc(q ? q : 1, sizeof(char *));
    for (size_t c = 0; m->classes && c < q; c++) {
        m->classes[c] = strdup(st->schema->target.levels[c]);
    }
    m->standardize = st->p.standardize;
    m->n_mean = m->n_scale = d;
    m->mean = s_dup(st->mean, d);
    m->scale = s_dup(st->scale, d);
    m->n_centroids = k * d;
    m->centroids = s_dup(st->best_c, k * d);
    m->n_count = m->n_weight = m->n_cluster_inertia = m->n_spread = k;
    m->count = s_dup(count, k);
    m->weight = s_dup(wsum, k);
    m->cluster_inertia = s_dup(ci, k);
    m->spread = malloc(k * sizeof(double));
    m->n_silhouette_cluster = st->have_sil ? k : 0;
    m->silhouette_cluster = malloc(k * sizeof(double));
    m->n_silhouette_hist = st->have_sil ? k * CH_SIL_BINS : 0;
    m->silhouette_hist = s_dup(st->sil + 2 * k, k * CH_SIL_BINS);
    m->n_contingency = k * q;
    m->contingency = s_dup(cont, k * q);
    m->n_history = st->n_hist;
    m->history = s_dup(st->hist, st->n_hist);
    m->n_restart_inertia = (size_t)st->p.n_init;
    m->restart_inertia = s_dup(st->restart_inertia, (size_t)st->p.n_init);
    m->note = strdup(st->note);
    double *mean = calloc(d, sizeof(double));
    if (!m->mean || !m->scale || !m->centroids || !m->count || !m->weight || !m->cluster_inertia ||
        !m->spread || !m->silhouette_cluster || !m->silhouette_hist || !m->contingency ||
        !m->history || !m->restart_inertia || !m->note || !mean) {
        free(mean);
        void *v = md;
        s_model_destroy(&v);
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    double inertia = 0, ssum = 0, scount = 0;
    for (size_t j = 0; j < k; j++) {
        inertia += ci[j];
        m->spread[j] = count[j] > 0 ? spread_sum[j] / count[j] : 0;
        m->silhouette_cluster[j] =
            st->sil[k + j] > 0 ? st->sil[j] / st->sil[k + j] : (st->have_sil ? 0 : NAN);
        ssum += st->sil[j];
        scount += st->sil[k + j];
    }
    for (size_t f = 0; f < d; f++) {
        mean[f] = *nrows > 0 ? sumx[f] / *nrows : 0;
    }
    m->inertia = inertia;
    m->n_iter = st->best_iter;
    m->best_restart = st->best_restart;
    m->silhouette = st->have_sil && scount > 0 ? ssum / scount : NAN;
    m->silhouette_rows = (uint64_t)scount;
    m->davies_bouldin = ch_cl_davies_bouldin(st->best_c, m->spread, count, k, d);
    m->calinski_harabasz = ch_cl_calinski_harabasz(st->best_c, count, mean, inertia, k, d, *nrows);
    m->adjusted_rand = q ? ch_cl_adjusted_rand(cont, k, q) : NAN;
    m->n_rows = (uint64_t)st->n_used;
    m->n_skipped = (uint64_t)st->n_skipped;
    m->algorithm = (char *)s_algs[st->p.alg];
    m->init = (char *)s_inits[st->p.init];
    free(mean);
    s_write_assignments(st, m);
    s_write_centroids(st, m);
    return md;
}

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
    const Cohort__Kmeans__Model *m = ((const s_model *)vm)->pb;
    return ch_cl_predict_nearest(t, "kmeans", m->centroids, m->k, m->d,
                                 m->standardize ? m->mean : NULL, m->scale, out, err);
}

static int s_evaluate(const void *vm, const ch_table *t, ch_round_metrics *out, ch_err *err)
{
    const Cohort__Kmeans__Model *m = ((const s_model *)vm)->pb;
    return ch_cl_evaluate_nearest(t, "kmeans", m->centroids, m->k, m->d,
                                  m->standardize ? m->mean : NULL, m->scale, out, err);
}

static int s_pack(const void *vm, ch_buf *out, ch_err *err)
{
    const Cohort__Kmeans__Model *m = ((const s_model *)vm)->pb;
    size_t size = cohort__kmeans__model__get_packed_size(m);
    if (ch_buf_reserve(out, size) != 0) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    cohort__kmeans__model__pack(m, out->data + out->len);
    out->len += size;
    return 0;
}

static void *s_unpack(const uint8_t *data, size_t len, const ch_schema *schema, ch_err *err)
{
    Cohort__Kmeans__Model *m = cohort__kmeans__model__unpack(NULL, len, data);
    if (!m) {
        ch_err_set(err, CH_EINVAL, "the kmeans model payload does not decode");
        return NULL;
    }
    size_t k = m->k, d = m->d;
    bool ok = k >= 1 && k <= CH_CL_MAX_K && d >= 1 && d <= CH_CL_MAX_D && m->n_names == d &&
              (!schema || schema->n_features == d) && m->n_centroids == k * d && m->n_mean == d &&
              m->n_scale == d && m->n_count == k && m->n_weight == k && m->n_cluster_inertia == k &&
              m->n_spread == k && (m->n_silhouette_cluster == 0 || m->n_silhouette_cluster == k) &&
              (m->n_silhouette_hist == 0 || m->n_silhouette_hist == k * CH_SIL_BINS) &&
              m->n_contingency == k * m->n_classes && m->n_history % 3 == 0;
    if (!ok) {
        cohort__kmeans__model__free_unpacked(m, NULL);
        ch_err_set(err, CH_EINVAL, "the kmeans model payload has inconsistent sizes");
        return NULL;
    }
    s_model *md = calloc(1, sizeof *md);
    if (!md) {
        cohort__kmeans__model__free_unpacked(m, NULL);
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    md->pb = m;
    return md;
}

static void s_json_num_or_null(ch_buf *j, double v)
{
    if (isfinite(v)) {
        ch_buf_json_num(j, v);
    } else {
        ch_buf_puts(j, "null");
    }
}

/* summary.json "metrics": the clustering's own quality on its training
 * rows (the held-out rows' adjusted_rand comes from evaluate). */
static int s_model_metrics(const void *vm, ch_round_metrics *out, ch_err *err)
{
    const Cohort__Kmeans__Model *m = ((const s_model *)vm)->pb;
    (void)err;
    ch_cl_model_metrics(out, m->inertia, m->silhouette, m->davies_bouldin, m->calinski_harabasz);
    return 0;
}

static int s_summary_json(const void *vm, ch_buf *j)
{
    const Cohort__Kmeans__Model *m = ((const s_model *)vm)->pb;
    ch_buf_puts(j, ",\n  \"inertia\": ");
    s_json_num_or_null(j, m->inertia);
    ch_buf_puts(j, ",\n  \"silhouette\": ");
    s_json_num_or_null(j, m->silhouette);
    ch_buf_puts(j, ",\n  \"davies_bouldin\": ");
    s_json_num_or_null(j, m->davies_bouldin);
    ch_buf_puts(j, ",\n  \"calinski_harabasz\": ");
    s_json_num_or_null(j, m->calinski_harabasz);
    if (m->n_contingency) {
        ch_buf_puts(j, ",\n  \"adjusted_rand\": ");
        s_json_num_or_null(j, m->adjusted_rand);
    }
    ch_buf_printf(j,
                  ",\n  \"clustering\": {\"k\": %u, \"n_iter\": %u, \"best_restart\": %u, "
                  "\"rows\": %llu, \"rows_skipped\": %llu, \"silhouette_rows\": %llu, \"sizes\": [",
                  m->k, m->n_iter, m->best_restart, (unsigned long long)m->n_rows,
                  (unsigned long long)m->n_skipped, (unsigned long long)m->silhouette_rows);
    for (size_t c = 0; c < m->k; c++) {
        ch_buf_printf(j, "%s%.0f", c ? ", " : "", m->count[c]);
    }
    ch_buf_puts(j, "], \"centroids\": [");
    for (size_t c = 0; c < m->k; c++) {
        ch_buf_puts(j, c ? ", [" : "[");
        for (size_t f = 0; f < m->d; f++) {
            double v = m->centroids[c * m->d + f];
            if (m->standardize) {
                v = v * m->scale[f] + m->mean[f];
            }
            if (f) {
                ch_buf_puts(j, ", ");
            }
            ch_buf_json_num(j, v);
        }
        ch_buf_puts(j, "]");
    }
    ch_buf_puts(j, "]}");
    return j->failed ? CH_ENOMEM : 0;
}

static int s_describe(const void *vm, ch_buf *text)
{
    const Cohort__Kmeans__Model *m = ((const s_model *)vm)->pb;
    ch_buf_printf(text,
                  "k-means (%s, init %s): k = %u, %llu rows, inertia %.10g after %u "
                  "iterations (restart %u)\n",
                  m->algorithm, m->init, m->k, (unsigned long long)m->n_rows, m->inertia, m->n_iter,
                  m->best_restart);
    ch_buf_printf(text, "silhouette %.6g, Davies-Bouldin %.6g, Calinski-Harabasz %.6g\n",
                  m->silhouette, m->davies_bouldin, m->calinski_harabasz);
    for (size_t c = 0; c < m->k; c++) {
        ch_buf_printf(text, "cluster %zu: %.0f rows, inertia %.6g, silhouette %.4f\n", c,
                      m->count[c], m->cluster_inertia[c],
                      m->n_silhouette_cluster ? m->silhouette_cluster[c] : NAN);
    }
    return text->failed ? CH_ENOMEM : 0;
}

static int s_report(const void *vm, ch_report *r, ch_err *err)
{
    return ch_km_report(((const s_model *)vm)->pb, r, err);
}

/* --- worker ------------------------------------------------------------------- */

typedef struct s_blk {
    bool ready;
    size_t m;
    double *x, *xn, *w;
    float *xf, *xnf;
    uint64_t *id;
    size_t *row;
    /* Elkan state: labels, upper and k lower bounds per row, valid for the
     * worker's centroid version el_ver (0: none), and the node head (sums,
     * weights, counts) of those labels while head_ok */
    size_t el_k;
    uint64_t el_ver;
    float *el_xf; /* x in float when every value is exactly a float (else NULL) */
    int32_t *el_label;
    double *el_u, *el_l, *el_head;
    bool el_head_ok;
} s_blk;

typedef struct s_worker {
    const ch_worker_env *env;
    s_params p;
    size_t d, q;
    double *mean, *scale;
    bool have_scale, scaled;
    s_blk *blk;
    /* the last two centroid sets of Elkan tasks: [0] current, [1] previous,
     * with their versions (0: none) */
    double *el_c[2];
    uint64_t el_ver[2], el_next;
    size_t el_k;
    bool el_keep; /* blocks keep their sums (k d doubles each) across rounds */
} s_worker;

static void s_blk_free(s_blk *b)
{
    free(b->x);
    free(b->xn);
    free(b->w);
    free(b->xf);
    free(b->xnf);
    free(b->id);
    free(b->row);
    free(b->el_xf);
    free(b->el_label);
    free(b->el_u);
    free(b->el_l);
    free(b->el_head);
    memset(b, 0, sizeof *b);
}

static void s_worker_destroy(void **pw)
{
    if (!pw || !*pw) {
        return;
    }
    s_worker *w = *pw;
    for (size_t b = 0; w->blk && b < w->env->plan->n_blocks; b++) {
        s_blk_free(&w->blk[b]);
    }
    free(w->blk);
    free(w->el_c[0]);
    free(w->el_c[1]);
    free(w->mean);
    free(w->scale);
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
    if (s_read_params(env->cfg, &w->p, err) != 0) {
        free(w);
        return NULL;
    }
    w->d = env->schema->n_features;
    w->q = s_classes(env->schema);
    w->mean = calloc(w->d, sizeof(double));
    w->scale = calloc(w->d, sizeof(double));
    w->blk = calloc(env->plan->n_blocks ? env->plan->n_blocks : 1, sizeof *w->blk);
    if (!w->mean || !w->scale || !w->blk) {
        void *v = w;
        s_worker_destroy(&v);
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    return w;
}

/* The global id of the r-th row of local block lb (the table row in
 * simulation, where the plan covers every row). */
static uint64_t s_row_id(const s_worker *w, size_t lb, size_t r)
{
    const ch_plan *plan = w->env->plan;
    if (w->env->block_offset == 0 && plan->n_blocks == w->env->n_blocks_total) {
        return plan->rows[r];
    }
    return ((uint64_t)(w->env->block_offset + lb) << 32) | (r - plan->block_begin[lb]);
}

/* Allocates the arrays of local block lb (n rows, not yet gathered). */
static int s_block_alloc(s_worker *w, size_t lb, ch_err *err)
{
    s_blk *b = &w->blk[lb];
    const ch_plan *plan = w->env->plan;
    size_t n = plan->block_begin[lb + 1] - plan->block_begin[lb], d = w->d;
    b->x = ch_alloc_array(n ? n : 1, d * sizeof(double));
    b->xn = malloc((n ? n : 1) * sizeof(double));
    b->w = malloc((n ? n : 1) * sizeof(double));
    b->id = malloc((n ? n : 1) * sizeof(uint64_t));
    b->row = malloc((n ? n : 1) * sizeof(size_t));
    if (!b->x || !b->xn || !b->w || !b->id || !b->row) {
        s_blk_free(b);
        return ch_err_set(err, CH_ENOMEM, "out of memory for a block of %zu rows", n);
    }
    return 0;
}

/* Completes gathered block lb: row ids, norms, the float copy. */
static int s_block_finish(s_worker *w, size_t lb, ch_err *err)
{
    s_blk *b = &w->blk[lb];
    const ch_plan *plan = w->env->plan;
    size_t lo = plan->block_begin[lb], hi = plan->block_begin[lb + 1], d = w->d;
    size_t k = 0;
    for (size_t r = lo; r < hi && k < b->m; r++) {
        if (plan->rows[r] == b->row[k]) {
            b->id[k++] = s_row_id(w, lb, r);
        }
    }
    ch_cl_row_norms(b->x, b->m, d, b->xn);
    if (w->p.alg == ALG_ELKAN) {
        /* Elkan reads the rows for single distances, memory-bound: from a
         * float copy when it holds exactly the same values (pixels, counts) */
        size_t n = b->m * d, i = 0;
        while (i < n && (double)(float)b->x[i] == b->x[i]) {
            i++;
        }
        b->el_xf = i == n && n > 0 ? ch_alloc_array(n, sizeof(float)) : NULL;
        for (i = 0; b->el_xf && i < n; i++) {
            b->el_xf[i] = (float)b->x[i];
        }
    }
    if (w->p.dtype == 1 && w->p.alg != ALG_ELKAN) { /* Elkan works in double */
        b->xf = ch_alloc_array(b->m ? b->m : 1, d * sizeof(float));
        b->xnf = malloc((b->m ? b->m : 1) * sizeof(float));
        if (!b->xf || !b->xnf) {
            s_blk_free(b);
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < b->m * d; i++) {
            b->xf[i] = (float)b->x[i];
        }
        for (size_t i = 0; i < b->m; i++) {
            float s = 0;
            for (size_t j = 0; j < d; j++) {
                s += b->xf[i * d + j] * b->xf[i * d + j];
            }
            b->xnf[i] = s;
        }
    }
    b->ready = true;
    return 0;
}

/* Builds (once per standardisation) the dense rows of local blocks
 * [lb0, lb1) that are not built yet, gathering them together
 * (ch_cl_gather_many: one pass over each column for all the blocks). */
static int s_blocks(s_worker *w, size_t lb0, size_t lb1, ch_err *err)
{
    const ch_plan *plan = w->env->plan;
    ch_cl_gather_job *jobs = calloc(lb1 > lb0 ? lb1 - lb0 : 1, sizeof *jobs);
    size_t *which = calloc(lb1 > lb0 ? lb1 - lb0 : 1, sizeof *which);
    size_t nj = 0;
    int rc = 0;
    if (!jobs || !which) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    for (size_t lb = lb0; rc == 0 && lb < lb1; lb++) {
        s_blk *b = &w->blk[lb];
        if (b->ready || (rc = s_block_alloc(w, lb, err)) != 0) {
            continue;
        }
        size_t lo = plan->block_begin[lb];
        jobs[nj] = (ch_cl_gather_job){
            plan->rows + lo, plan->block_begin[lb + 1] - lo, b->x, b->row, b->w, 0};
        which[nj++] = lb;
    }
    if (rc == 0 && nj > 0 &&
        ch_cl_gather_many(w->env->train, jobs, nj, w->scaled ? w->mean : NULL, w->scale) != 0) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < nj; i++) {
        if (rc == 0) {
            w->blk[which[i]].m = jobs[i].m;
            rc = s_block_finish(w, which[i], err);
        } else {
            s_blk_free(&w->blk[which[i]]);
        }
    }
    free(jobs);
    free(which);
    return rc;
}

static int s_block(s_worker *w, size_t lb, ch_err *err)
{
    return s_blocks(w, lb, lb + 1, err);
}

typedef struct s_ctx {
    s_worker *w;
    uint32_t op;
    const Cohort__Kmeans__Task *t;
    size_t k;
    float *cf, *cnf; /* float copies of the centroids */
    double *cn;
    double *half, *sep, *shift; /* Elkan geometry (elkan.h); shift NULL: no previous */
    unsigned char *dirty;       /* k: the clusters an Elkan step changed */
    ch_km_shape shape;
    ch_buf *rows;
    /* silhouette reference set */
    double *ref;
    int32_t *ref_label;
    size_t n_ref;
    size_t *ref_begin; /* per local block */
    double *ref_count;
} s_ctx;

/* Labels and squared distances of block b's rows to the task's centroids;
 * exact in double when the task says so (ch_km_elkan_init). */
static int s_assign(s_ctx *cx, s_blk *b, int32_t *label, double *dist2, ch_err *err)
{
    size_t k = cx->k, d = cx->w->d;
    if (b->m == 0) {
        return 0;
    }
    size_t m = b->m;
    if (cx->t->exact) {
        double *scr = ch_alloc_array(m, k * sizeof(double));
        if (!scr) {
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        ch_km_elkan_init(b->x, b->xn, m, d, cx->t->centroids, cx->cn, k, scr, label, dist2, NULL,
                         NULL);
        free(scr);
    } else if (cx->w->p.dtype == 1 && b->xf) {
        float *scr = ch_alloc_array(m, k * sizeof(float));
        if (!scr) {
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        ch_cl_assign_f(b->xf, b->xnf, m, d, cx->cf, cx->cnf, k, scr, label, dist2);
        free(scr);
    } else {
        double *scr = ch_alloc_array(m, k * sizeof(double));
        if (!scr) {
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        ch_cl_assign(b->x, b->xn, m, d, cx->t->centroids, cx->cn, k, scr, label, dist2);
        free(scr);
    }
    return 0;
}

/* Elkan leaf of local block lb: moves the block's bounds to the task's
 * centroids (or builds them), one Elkan step, the node head from the labels
 * (kept while no label changes), and with an exact task the inertia in
 * double. */
static int s_elkan_leaf(s_ctx *cx, size_t lb, double *out, ch_err *err)
{
    s_worker *w = cx->w;
    s_blk *b = &w->blk[lb];
    size_t k = cx->k, d = w->d, m = b->m, head = k * d + 2 * k + 1;
    if (b->el_k != k || !b->el_l) {
        free(b->el_label);
        free(b->el_u);
        free(b->el_l);
        free(b->el_head);
        b->el_label = malloc((m ? m : 1) * sizeof *b->el_label);
        b->el_u = malloc((m ? m : 1) * sizeof *b->el_u);
        b->el_l = ch_alloc_array(m ? m : 1, k * sizeof *b->el_l);
        b->el_head = w->el_keep ? malloc(head * sizeof *b->el_head) : NULL;
        b->el_k = k;
        b->el_ver = 0;
        b->el_head_ok = false;
        if (!b->el_label || !b->el_u || !b->el_l || (w->el_keep && !b->el_head)) {
            free(b->el_l);
            b->el_l = NULL;
            return ch_err_set(err, CH_ENOMEM, "out of memory for the bounds of %zu rows", m);
        }
    }
    const double *c = cx->t->centroids;
    if (b->el_ver != w->el_ver[0]) {
        size_t changed = m;
        if (b->el_ver != 0 && b->el_ver == w->el_ver[1] && cx->shift) {
            ch_km_elkan_shift(m, k, cx->shift, b->el_label, b->el_u, b->el_l);
            memset(cx->dirty, 0, k);
            changed = ch_km_elkan_step(b->x, b->el_xf, m, d, c, k, cx->half, cx->sep, b->el_label,
                                       b->el_u, b->el_l, cx->dirty, NULL);
        } else if (m > 0) {
            double *scr = ch_alloc_array(m, k * sizeof(double));
            if (!scr) {
                return ch_err_set(err, CH_ENOMEM, "out of memory");
            }
            ch_km_elkan_init(b->x, b->xn, m, d, c, cx->cn, k, scr, b->el_label, NULL, b->el_u,
                             b->el_l);
            free(scr);
        }
        b->el_ver = w->el_ver[0];
        if (changed && b->el_head_ok && changed < m) {
            /* only the clusters that lost or gained rows are re-summed */
            ch_km_sums_update(k, d, b->x, b->w, b->el_label, m, cx->dirty, b->el_head);
        } else if (changed) {
            b->el_head_ok = false;
        }
    }
    if (!w->el_keep) {
        ch_km_sums(k, d, b->x, b->w, b->el_label, m, out);
    } else {
        if (!b->el_head_ok) {
            ch_km_sums(k, d, b->x, b->w, b->el_label, m, b->el_head);
            b->el_head_ok = true;
        }
        memcpy(out, b->el_head, head * sizeof *out);
    }
    if (cx->t->exact) {
        double inertia = 0;
        for (size_t i = 0; i < m; i++) {
            inertia += b->w[i] * ch_km_dist2(b->x + i * d, c + (size_t)b->el_label[i] * d, d);
        }
        out[head - 1] = inertia;
    }
    return 0;
}

static int s_leaf(void *vcx, size_t block, double *out, ch_err *err)
{
    s_ctx *cx = vcx;
    s_worker *w = cx->w;
    const Cohort__Kmeans__Task *t = cx->t;
    size_t lb = block - w->env->block_offset, d = w->d, k = cx->k;
    const ch_plan *plan = w->env->plan;
    if (cx->op == OP_MOMENTS) {
        size_t lo = plan->block_begin[lb], hi = plan->block_begin[lb + 1];
        ch_cl_moments_leaf(w->env->train, plan->rows + lo, hi - lo, out);
        return 0;
    }
    int rc = s_block(w, lb, err);
    if (rc) {
        return rc;
    }
    if (cx->op == OP_ELKAN) {
        return s_elkan_leaf(cx, lb, out, err);
    }
    s_blk *b = &w->blk[lb];
    size_t m = b->m;
    if (cx->op == OP_SAMPLE) {
        uint64_t *ids = malloc((m ? m : 1) * sizeof *ids);
        double *x = ch_alloc_array(m ? m : 1, d * sizeof(double));
        size_t n = 0;
        if (!ids || !x) {
            free(ids);
            free(x);
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < m; i++) {
            if (ch_cl_hash_uniform(w->env->seed, S_STREAM_SAMPLE, b->id[i]) < t->fraction) {
                ids[n] = b->id[i];
                memcpy(x + n * d, b->x + i * d, d * sizeof(double));
                n++;
            }
        }
        rc = ch_cl_rows_put(cx->rows, block, n, ids, x, d);
        free(ids);
        free(x);
        out[0] = (double)n;
        return rc ? ch_err_set(err, rc, "out of memory") : 0;
    }
    int32_t *label = malloc((m ? m : 1) * sizeof *label);
    double *dist2 = malloc((m ? m : 1) * sizeof *dist2);
    unsigned char *use = NULL;
    if (!label || !dist2) {
        free(label);
        free(dist2);
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    if (cx->op != OP_SIL) {
        rc = s_assign(cx, b, label, dist2, err);
    }
    if (rc == 0 && cx->op == OP_LLOYD) {
        if (t->fraction < 1) {
            use = malloc(m ? m : 1);
            if (!use) {
                rc = ch_err_set(err, CH_ENOMEM, "out of memory");
            }
            for (size_t i = 0; use && i < m; i++) {
                uint64_t stream = S_STREAM_BATCH + ((uint64_t)t->restart << 32) + t->iter;
                use[i] = ch_cl_hash_uniform(w->env->seed, stream, b->id[i]) < t->fraction;
            }
        }
        if (rc == 0) {
            ch_km_leaf(&cx->shape, b->x, b->w, b->id, label, dist2, use, m, out);
        }
    } else if (rc == 0 && cx->op == OP_PAR) {
        uint64_t *ids = malloc((m ? m : 1) * sizeof *ids);
        double *x = ch_alloc_array(m ? m : 1, d * sizeof(double));
        size_t n = 0;
        if (!ids || !x) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        out[0] = 0;
        for (size_t i = 0; rc == 0 && i < m; i++) {
            out[0] += b->w[i] * dist2[i];
            if (t->phi > 0) {
                double p = t->oversampling * b->w[i] * dist2[i] / t->phi;
                uint64_t stream = S_STREAM_PAR + ((uint64_t)t->restart << 32) + t->iter;
                if (ch_cl_hash_uniform(w->env->seed, stream, b->id[i]) < p) {
                    ids[n] = b->id[i];
                    memcpy(x + n * d, b->x + i * d, d * sizeof(double));
                    n++;
                }
            }
        }
        if (rc == 0 && ch_cl_rows_put(cx->rows, block, n, ids, x, d) != 0) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        free(ids);
        free(x);
    } else if (rc == 0 && cx->op == OP_PARW) {
        for (size_t i = 0; i < m; i++) {
            out[label[i]] += b->w[i];
        }
    } else if (rc == 0 && cx->op == OP_EVAL) {
        size_t q = w->q;
        double *cnt = out, *ws = out + k, *ci = out + 2 * k, *sp = out + 3 * k;
        double *cont = out + 4 * k, *sumx = cont + k * q, *nrows = sumx + d;
        const ch_table *tab = w->env->train;
        for (size_t i = 0; i < m; i++) {
            size_t c = (size_t)label[i];
            cnt[c] += 1;
            ws[c] += b->w[i];
            ci[c] += b->w[i] * dist2[i];
            sp[c] += sqrt(dist2[i]);
            if (q && tab->has_target) {
                double y = tab->target.values[b->row[i]];
                if (isfinite(y) && y >= 0 && y < (double)q) {
                    cont[c * q + (size_t)y] += 1;
                }
            }
            for (size_t f = 0; f < d; f++) {
                sumx[f] += b->x[i * d + f];
            }
            *nrows += 1;
        }
    } else if (rc == 0 && cx->op == OP_SIL) {
        size_t r0 = cx->ref_begin[lb], r1 = cx->ref_begin[lb + 1], nq = r1 - r0;
        long *self = malloc((nq ? nq : 1) * sizeof *self);
        double *s = malloc((nq ? nq : 1) * sizeof *s);
        if (!self || !s) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        for (size_t i = 0; rc == 0 && i < nq; i++) {
            self[i] = (long)(r0 + i);
        }
        if (rc == 0) {
            rc = ch_cl_silhouette(cx->ref + r0 * d, nq, cx->ref_label + r0, self, cx->ref,
                                  cx->n_ref, cx->ref_label, cx->ref_count, k, d, s, err);
        }
        for (size_t i = 0; rc == 0 && i < nq; i++) {
            out[cx->ref_label[r0 + i]] += s[i];
            out[k + cx->ref_label[r0 + i]] += 1;
            out[2 * k + (size_t)cx->ref_label[r0 + i] * CH_SIL_BINS + ch_sil_bin(s[i])] += 1;
        }
        free(self);
        free(s);
    }
    free(label);
    free(dist2);
    free(use);
    return rc;
}

static int s_cmp_u64pair(const void *a, const void *b)
{
    const uint64_t *x = a, *y = b;
    return x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : (x[1] < y[1] ? -1 : x[1] > y[1]);
}

/* The silhouette reference set: every complete row of the plan (in plan
 * order), or the silhouette_max_rows rows with the smallest hash of their
 * id. Labels are computed in fixed chunks of the reference set, so every
 * worker gets the same ones. Needs every row to be local (simulation). */
static int s_sil_setup(s_ctx *cx, ch_err *err)
{
    s_worker *w = cx->w;
    const ch_plan *plan = w->env->plan;
    size_t d = w->d, k = cx->k, nb = plan->n_blocks;
    if (w->env->block_offset != 0 || nb != w->env->n_blocks_total) {
        return ch_err_set(err, CH_EINVAL, "kmeans: the silhouette needs every row on each worker");
    }
    size_t total = 0;
    for (size_t b = 0; b < nb; b++) {
        int rc = s_block(w, b, err);
        if (rc) {
            return rc;
        }
        total += w->blk[b].m;
    }
    unsigned char *keep = malloc(total ? total : 1);
    uint64_t *hv = ch_alloc_array(total ? total : 1, 2 * sizeof(uint64_t));
    cx->ref_begin = calloc(nb + 1, sizeof(size_t));
    if (!keep || !hv || !cx->ref_begin) {
        free(keep);
        free(hv);
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    memset(keep, 1, total ? total : 1);
    if (total > (size_t)w->p.sil_max) {
        size_t at = 0;
        for (size_t b = 0; b < nb; b++) {
            for (size_t i = 0; i < w->blk[b].m; i++, at++) {
                hv[2 * at] =
                    (uint64_t)(ch_cl_hash_uniform(w->env->seed, S_STREAM_SIL, w->blk[b].id[i]) *
                               0x1.0p63);
                hv[2 * at + 1] = at;
            }
        }
        qsort(hv, total, 2 * sizeof(uint64_t), s_cmp_u64pair);
        memset(keep, 0, total);
        for (size_t i = 0; i < (size_t)w->p.sil_max; i++) {
            keep[hv[2 * i + 1]] = 1;
        }
    }
    free(hv);
    size_t n_ref = 0;
    for (size_t i = 0; i < total; i++) {
        n_ref += keep[i];
    }
    cx->ref = ch_alloc_array(n_ref ? n_ref : 1, d * sizeof(double));
    cx->ref_label = malloc((n_ref ? n_ref : 1) * sizeof(int32_t));
    cx->ref_count = calloc(k, sizeof(double));
    double *rn = malloc((n_ref ? n_ref : 1) * sizeof(double));
    double *d2 = malloc((n_ref ? n_ref : 1) * sizeof(double));
    enum { CHUNK = 256 };
    double *scr = ch_alloc_array(CHUNK, k * sizeof(double));
    int rc = 0;
    if (!cx->ref || !cx->ref_label || !cx->ref_count || !rn || !d2 || !scr) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory for the silhouette of %zu rows", n_ref);
    }
    size_t at = 0, r = 0;
    for (size_t b = 0; rc == 0 && b < nb; b++) {
        cx->ref_begin[b] = r;
        for (size_t i = 0; i < w->blk[b].m; i++, at++) {
            if (keep[at]) {
                memcpy(cx->ref + r * d, w->blk[b].x + i * d, d * sizeof(double));
                rn[r] = w->blk[b].xn[i];
                r++;
            }
        }
    }
    if (rc == 0) {
        cx->ref_begin[nb] = r;
        cx->n_ref = n_ref;
        for (size_t c0 = 0; c0 < n_ref; c0 += CHUNK) {
            size_t nc = n_ref - c0 < CHUNK ? n_ref - c0 : CHUNK;
            ch_cl_assign(cx->ref + c0 * d, rn + c0, nc, d, cx->t->centroids, cx->cn, k, scr,
                         cx->ref_label + c0, d2 + c0);
        }
        for (size_t i = 0; i < n_ref; i++) {
            cx->ref_count[cx->ref_label[i]] += 1;
        }
    }
    free(keep);
    free(rn);
    free(d2);
    free(scr);
    return rc;
}

/* Elkan round setup: the task's centroids become the worker's current set
 * (the old current one the previous set) unless they are the same bytes,
 * and the geometry of the step: half distances, separations and, when a
 * previous set exists, the shifts from it. */
static int s_elkan_setup(s_ctx *cx, ch_err *err)
{
    s_worker *w = cx->w;
    size_t k = cx->k, d = w->d, kd = k * d;
    if (k > S_ELKAN_MAX_K) {
        return ch_err_set(err, CH_EPROTO, "kmeans task: k = %zu is too large for elkan", k);
    }
    const double *c = cx->t->centroids;
    if (w->el_k != k) {
        free(w->el_c[0]);
        free(w->el_c[1]);
        w->el_c[0] = ch_alloc_array(kd, sizeof(double));
        w->el_c[1] = ch_alloc_array(kd, sizeof(double));
        w->el_ver[0] = w->el_ver[1] = 0;
        w->el_k = w->el_c[0] && w->el_c[1] ? k : 0;
        if (!w->el_k) {
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
    }
    if (w->el_ver[0] == 0 || memcmp(w->el_c[0], c, kd * sizeof(double)) != 0) {
        double *t = w->el_c[1];
        w->el_c[1] = w->el_c[0];
        w->el_c[0] = t;
        w->el_ver[1] = w->el_ver[0];
        w->el_ver[0] = ++w->el_next;
        memcpy(w->el_c[0], c, kd * sizeof(double));
    }
    size_t keep;
    w->el_keep = ch_mul_size(kd + 2 * k + 1, w->env->plan->n_blocks * sizeof(double), &keep) == 0 &&
                 keep <= S_ELKAN_KEEP_BYTES;
    cx->half = ch_alloc_array(k, k * sizeof(double));
    cx->sep = malloc(k * sizeof(double));
    cx->dirty = malloc(k);
    cx->shift = w->el_ver[1] ? malloc(k * sizeof(double)) : NULL;
    if (!cx->half || !cx->sep || !cx->dirty || (w->el_ver[1] && !cx->shift)) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    ch_km_elkan_geometry(w->el_c[0], w->el_ver[1] ? w->el_c[1] : NULL, k, d, cx->half, cx->sep,
                         cx->shift);
    return 0;
}

static int s_check_task(s_worker *w, uint32_t op, const Cohort__Kmeans__Task *t, ch_err *err)
{
    size_t d = w->d;
    if (t->d != d || t->k > CH_CL_MAX_K * 64 || (t->n_mean != 0 && t->n_mean != d) ||
        t->n_scale != t->n_mean) {
        return ch_err_set(err, CH_EPROTO, "kmeans task: wrong shape (d %u, mean %zu)", t->d,
                          t->n_mean);
    }
    bool needs_c = op != OP_MOMENTS && op != OP_SAMPLE;
    if (needs_c && (t->k == 0 || t->n_centroids != (size_t)t->k * d)) {
        return ch_err_set(err, CH_EPROTO, "kmeans task: %zu centroid values for k = %u, d = %zu",
                          t->n_centroids, t->k, d);
    }
    if (!(t->fraction >= 0 && t->fraction <= 1) || !(t->phi >= 0) || t->far > S_MAX_FAR ||
        t->far > t->k || !isfinite(t->oversampling)) {
        return ch_err_set(err, CH_EPROTO, "kmeans task: a parameter is out of range");
    }
    for (size_t j = 0; j < t->n_scale; j++) {
        if (!(t->scale[j] > 0) || !isfinite(t->mean[j])) {
            return ch_err_set(err, CH_EPROTO, "kmeans task: bad standardisation");
        }
    }
    return 0;
}

static size_t s_leaf_len(const s_ctx *cx, uint32_t op)
{
    size_t k = cx->k, d = cx->w->d;
    switch (op) {
    case OP_MOMENTS:
        return ch_cl_moments_len(d);
    case OP_SAMPLE:
    case OP_PAR:
        return 1;
    case OP_PARW:
        return k;
    case OP_LLOYD:
    case OP_ELKAN:
        return ch_km_node_len(&cx->shape);
    case OP_EVAL:
        return s_eval_len(k, d, cx->w->q);
    case OP_SIL:
        return s_sil_len(k);
    default:
        return 2 * k;
    }
}

static int s_run_task(void *vw, uint32_t round, uint32_t op, const uint8_t *payload, size_t len,
                      uint32_t shard, ch_buf *out, uint64_t *samples, ch_err *err)
{
    s_worker *w = vw;
    (void)round;
    const ch_plan *plan = w->env->plan;
    if (op < OP_MOMENTS || op > OP_ELKAN) {
        return ch_err_set(err, CH_EPROTO, "kmeans: unknown op %u", op);
    }
    if (shard >= plan->n_shards) {
        return ch_err_set(err, CH_EPROTO, "kmeans: shard %u out of range", shard);
    }
    Cohort__Kmeans__Task *t = cohort__kmeans__task__unpack(NULL, len, payload);
    if (!t) {
        return ch_err_set(err, CH_EPROTO, "kmeans: the task does not decode");
    }
    int rc = s_check_task(w, op, t, err);
    s_ctx cx = {.w = w, .op = op, .t = t, .k = t->k};
    cx.shape = (ch_km_shape){t->k, w->d, t->far};
    ch_buf rows, red;
    ch_buf_init(&rows);
    ch_buf_init(&red);
    cx.rows = &rows;
    if (rc == 0 && t->n_mean) {
        /* a new standardisation invalidates the cached blocks */
        if (!w->scaled || memcmp(w->mean, t->mean, w->d * sizeof(double)) != 0 ||
            memcmp(w->scale, t->scale, w->d * sizeof(double)) != 0) {
            for (size_t b = 0; b < plan->n_blocks; b++) {
                s_blk_free(&w->blk[b]);
            }
            memcpy(w->mean, t->mean, w->d * sizeof(double));
            memcpy(w->scale, t->scale, w->d * sizeof(double));
            w->scaled = true;
        }
    }
    if (rc == 0 && t->n_centroids) {
        size_t k = t->k, d = w->d;
        cx.cn = malloc(k * sizeof(double));
        if (!cx.cn) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        } else {
            ch_cl_row_norms(t->centroids, k, d, cx.cn);
        }
        if (rc == 0 && w->p.dtype == 1) {
            cx.cf = malloc(k * d * sizeof(float));
            cx.cnf = malloc(k * sizeof(float));
            if (!cx.cf || !cx.cnf) {
                rc = ch_err_set(err, CH_ENOMEM, "out of memory");
            }
            for (size_t i = 0; rc == 0 && i < k * d; i++) {
                cx.cf[i] = (float)t->centroids[i];
            }
            for (size_t i = 0; rc == 0 && i < k; i++) {
                float s = 0;
                for (size_t j = 0; j < d; j++) {
                    s += cx.cf[i * d + j] * cx.cf[i * d + j];
                }
                cx.cnf[i] = s;
            }
        }
    }
    if (rc == 0 && op == OP_SIL) {
        rc = s_sil_setup(&cx, err);
    }
    if (rc == 0 && op == OP_ELKAN) {
        rc = s_elkan_setup(&cx, err);
    }
    if (rc == 0 && op != OP_MOMENTS) {
        rc = s_blocks(w, plan->shard_block[shard], plan->shard_block[shard + 1], err);
    }
    if (rc == 0) {
        size_t b0 = w->env->block_offset + plan->shard_block[shard];
        size_t b1 = w->env->block_offset + plan->shard_block[shard + 1];
        *samples = ch_plan_shard_end(plan, shard) - ch_plan_shard_begin(plan, shard);
        bool node = op == OP_LLOYD || op == OP_ELKAN;
        void *cctx = node ? (void *)&cx.shape : NULL;
        ch_combine_fn fn = op == OP_MOMENTS ? ch_cl_moments_combine
                           : node           ? ch_km_combine
                                            : ch_combine_sum;
        rc = ch_reduce_range(w->env->n_blocks_total, b0, b1, s_leaf_len(&cx, op), s_leaf, &cx, fn,
                             cctx, &red, err);
    }
    if (rc == 0) {
        rc = s_update_pack(&red, &rows, out, err);
    }
    ch_buf_free(&rows);
    ch_buf_free(&red);
    free(cx.cn);
    free(cx.cf);
    free(cx.cnf);
    free(cx.ref);
    free(cx.ref_label);
    free(cx.ref_begin);
    free(cx.ref_count);
    free(cx.half);
    free(cx.sep);
    free(cx.shift);
    free(cx.dirty);
    cohort__kmeans__task__free_unpacked(t, NULL);
    return rc;
}

const ch_algo ch_algo_kmeans = {
    .name = "kmeans",
    .summary = "k-means (Lloyd or mini-batch; k-means++, k-means|| or given centroids), exact "
               "across workers, with silhouette",
    .needs_target = false,
    .configure = s_configure,
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
    .evaluate = s_evaluate,
    .output_name = ch_cl_output_name,
    .pack = s_pack,
    .unpack = s_unpack,
    .summary_json = s_summary_json,
    .model_metrics = s_model_metrics,
    .describe = s_describe,
    .report = s_report,
    .model_destroy = s_model_destroy,
};
