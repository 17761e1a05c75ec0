/* isolation_forest.c: isolation forest anomaly detection across shards.
 *
 * Round 0 (grow): tree t belongs to the shard holding reduction block
 * floor(t * B / n_trees) (B the blocks of all shards), so trees spread over
 * the workers in proportion to their blocks. In simulation tree t draws its
 * subsample from the whole training table with the stream
 * ch_rng_stream(CH_STREAM_TREE, t): the forest is the same bytes for any
 * number of workers. With by-file silos tree t draws from its silo's rows
 * only; no row leaves the silo. Workers send the trees; the forest is their
 * union ordered by tree index.
 * Round 1 (score): every worker scores its shard's rows with the whole
 * forest and sends a histogram of scores (integer counts, so the sum does
 * not depend on the order) and its top_k rows with the features that
 * isolated them (values of k rows per shard do leave it: top_k: 0 keeps
 * every row home, and is the default for by-file silos). The coordinator sets the threshold from
 * the histogram, evaluates the held-out rows against their labels when there are labels, and keeps
 * the top_k rows of all shards. predict returns the anomaly score (one regression output). */
#include "algorithms/algo.h"
#include "algorithms/isolation_forest/forest.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/metrics.h"
#include "proto/isolation_forest.pb-c.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OP_GROW = 1, OP_SCORE = 2 };

/* Score histogram: bins of width 2^-14 over [0, 1]; a power of two keeps
 * "score >= edge" and "bin >= b" the same test. */
#define HIST_BINS   16384
#define MAX_TOP_K   1000
#define CURVE_MAX   200 /* points kept of the ROC and precision-recall curves */
#define REPORT_BINS 50

typedef struct s_cfg {
    long n_trees;
    const char *max_samples; /* "auto", a count, or a fraction */
    size_t max_features;     /* resolved count */
    bool bootstrap;
    long extension_level;
    double contamination; /* 0: auto */
    long top_k;
} s_cfg;

typedef struct s_anom {
    double score;
    uint64_t row;
    int32_t silo;
    double *value; /* n_features */
    double *share; /* n_features */
} s_anom;

typedef struct s_eval {
    bool has;
    uint64_t n, n_positive, n_flagged;
    double auc, ap, p_at_k, p_at_thr, r_at_thr;
    size_t n_roc, n_pr;
    double *roc_fpr, *roc_tpr, *pr_recall, *pr_precision;
} s_eval;

typedef struct s_model {
    uint32_t stage;
    size_t n_features;
    char **names; /* n_features */
    ch_col_kind *kind;
    char ***levels; /* per column: level names (categorical) */
    size_t *n_levels;
    s_cfg cfg;
    char *max_samples_text;
    size_t n_trees;
    ch_itree *trees;
    double *reference; /* n_features */
    double threshold;
    uint64_t n_train, n_anomalies;
    uint64_t *hist; /* HIST_BINS, or NULL before scoring */
    size_t n_top;
    s_anom *top;
    s_eval eval;
} s_model;

typedef struct s_coord {
    s_model *md;
    const char *run_dir; /* where anomalies.csv goes */
    bool by_file;
    const ch_table *test;
    uint32_t done_rounds;
} s_coord;

typedef struct s_worker {
    const ch_worker_env *env;
    s_cfg cfg;
    ch_itree *trees;
    size_t n_trees;
} s_worker;

/* --- configuration ----------------------------------------------------------- */

static bool s_is_fraction(const char *s)
{
    return strpbrk(s, ".eE") != NULL;
}

/* Parses a positive number; false unless the whole text is one. */
static bool s_number(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !isfinite(v)) {
        return false;
    }
    *out = v;
    return true;
}

/* The anomaly report lists top_k rows with their feature values, so those
 * rows leave their shard. Silos (partition.scheme by-file) keep every row
 * home unless the config asks for them with an explicit model.top_k. */
static long s_default_top_k(const ch_config *cfg)
{
    const char *scheme = ch_config_peek(cfg, "partition.scheme");
    return scheme && strcmp(scheme, "by-file") == 0 ? 0 : 20;
}

static int s_read_cfg(ch_config *cfg, const ch_schema *schema, s_cfg *c, ch_err *err)
{
    memset(c, 0, sizeof *c);
    const char *mf = NULL, *cont = NULL;
    int rc;
    if ((rc = ch_cfg_int(cfg, "model.n_trees", 100, 1, 100000, &c->n_trees, err)) ||
        (rc = ch_cfg_str(cfg, "model.max_samples", "auto", &c->max_samples, err)) ||
        (rc = ch_cfg_str(cfg, "model.max_features", "1.0", &mf, err)) ||
        (rc = ch_cfg_bool(cfg, "model.bootstrap", false, &c->bootstrap, err)) ||
        (rc = ch_cfg_int(cfg, "model.extension_level", 0, 0, 100000, &c->extension_level, err)) ||
        (rc = ch_cfg_str(cfg, "model.contamination", "auto", &cont, err)) ||
        (rc = ch_cfg_int(cfg, "model.top_k", s_default_top_k(cfg), 0, MAX_TOP_K, &c->top_k, err))) {
        return rc;
    }
    double v;
    if (strcmp(c->max_samples, "auto") != 0) {
        bool ok = s_number(c->max_samples, &v);
        if (ok && s_is_fraction(c->max_samples)) {
            ok = v > 0 && v <= 1;
        } else if (ok) {
            ok = v >= 2 && v <= 1e12 && v == floor(v);
        }
        if (!ok) {
            return ch_err_set(err, CH_EINVAL,
                              "%s: model.max_samples: expected auto, a row count >= 2 or a "
                              "fraction in (0, 1], got '%s'",
                              ch_config_where(cfg, "model.max_samples"), c->max_samples);
        }
    }
    if (strcmp(cont, "auto") == 0) {
        c->contamination = 0;
    } else if (!s_number(cont, &v) || !(v > 0 && v <= 0.5)) {
        return ch_err_set(err, CH_EINVAL,
                          "%s: model.contamination: expected auto or a fraction in (0, 0.5], got "
                          "'%s'",
                          ch_config_where(cfg, "model.contamination"), cont);
    } else {
        c->contamination = v;
    }
    size_t nf = schema ? schema->n_features : 0;
    if (!s_number(mf, &v) || !(v > 0) ||
        (s_is_fraction(mf) ? v > 1 : (v != floor(v) || (schema && v > (double)nf)))) {
        return ch_err_set(err, CH_EINVAL,
                          "%s: model.max_features: expected a column count in [1, %zu] or a "
                          "fraction in (0, 1], got '%s'",
                          ch_config_where(cfg, "model.max_features"), nf, mf);
    }
    if (schema) {
        if (nf == 0) {
            return ch_err_set(err, CH_EINVAL, "isolation_forest: the data have no feature columns");
        }
        size_t k = s_is_fraction(mf) ? (size_t)(v * (double)nf) : (size_t)v;
        c->max_features = k < 1 ? 1 : k;
        size_t n_num = 0;
        for (size_t j = 0; j < nf; j++) {
            n_num += schema->features[j].kind == CH_COL_NUMERIC;
        }
        if (c->extension_level > 0 && (size_t)c->extension_level >= c->max_features) {
            return ch_err_set(err, CH_EINVAL,
                              "%s: model.extension_level %ld must be below max_features (%zu "
                              "columns per tree): a hyperplane uses extension_level + 1 columns",
                              ch_config_where(cfg, "model.extension_level"), c->extension_level,
                              c->max_features);
        }
        if (c->extension_level > 0 && n_num < 2) {
            return ch_err_set(err, CH_EINVAL,
                              "%s: model.extension_level needs at least 2 numeric columns, and "
                              "the data have %zu",
                              ch_config_where(cfg, "model.extension_level"), n_num);
        }
    }
    return 0;
}

static int s_configure(ch_config *cfg, const ch_schema *schema, ch_err *err)
{
    s_cfg c;
    return s_read_cfg(cfg, schema, &c, err);
}

/* Rows per tree for n candidate rows: auto is min(256, n); a count larger
 * than the rows is an error (unless bootstrap draws with replacement). */
static int s_psi(const s_cfg *c, size_t n, size_t *psi, ch_err *err)
{
    if (n < 2) {
        return ch_err_set(err, CH_EINVAL,
                          "isolation_forest needs at least 2 training rows per shard, and a "
                          "shard has %zu",
                          n);
    }
    if (strcmp(c->max_samples, "auto") == 0) {
        *psi = n < 256 ? n : 256;
        return 0;
    }
    double v = strtod(c->max_samples, NULL);
    if (s_is_fraction(c->max_samples)) {
        size_t k = (size_t)(v * (double)n);
        *psi = k < 2 ? 2 : k;
        return 0;
    }
    if (v > (double)n && !c->bootstrap) {
        return ch_err_set(err, CH_EINVAL,
                          "model.max_samples %s is larger than the %zu training rows a tree can "
                          "draw from (use auto, a fraction, or bootstrap: true)",
                          c->max_samples, n);
    }
    *psi = (size_t)v;
    return 0;
}

static int s_estimate(ch_config *cfg, const ch_schema *schema, size_t n_rows, size_t n_workers,
                      size_t n_blocks, ch_estimate *out)
{
    s_cfg c;
    if (s_read_cfg(cfg, schema, &c, NULL) != 0) {
        return CH_EINVAL;
    }
    size_t psi = 256;
    s_psi(&c, n_rows, &psi, NULL);
    double nodes = 2.0 * (double)psi * (double)c.n_trees;
    double rows = n_workers ? (double)n_rows / (double)n_workers : (double)n_rows;
    out->worker_bytes = nodes * 24 + (double)psi * (double)c.max_features * 8 + HIST_BINS * 8;
    out->message_bytes = nodes * 24 / (double)(n_workers ? n_workers : 1) + HIST_BINS * 8;
    out->flops = (double)n_rows * (double)c.n_trees * (double)ch_iforest_max_depth(psi) * 2;
    out->rounds = 2;
    (void)rows;
    (void)n_blocks;
    return 0;
}

/* --- model lifetime ---------------------------------------------------------- */

static void s_anom_free(s_anom *a)
{
    free(a->value);
    free(a->share);
    a->value = a->share = NULL;
}

static void s_eval_free(s_eval *e)
{
    free(e->roc_fpr);
    free(e->roc_tpr);
    free(e->pr_recall);
    free(e->pr_precision);
    memset(e, 0, sizeof *e);
}

static void s_model_destroy(void **pm)
{
    if (!pm || !*pm) {
        return;
    }
    s_model *md = *pm;
    for (size_t j = 0; j < md->n_features; j++) {
        if (md->names) {
            free(md->names[j]);
        }
        if (md->levels && md->levels[j]) {
            for (size_t l = 0; l < md->n_levels[j]; l++) {
                free(md->levels[j][l]);
            }
            free(md->levels[j]);
        }
    }
    free(md->names);
    free(md->kind);
    free(md->levels);
    free(md->n_levels);
    free(md->max_samples_text);
    for (size_t t = 0; md->trees && t < md->n_trees; t++) {
        ch_itree_free(&md->trees[t]);
    }
    free(md->trees);
    free(md->reference);
    free(md->hist);
    for (size_t i = 0; i < md->n_top; i++) {
        s_anom_free(&md->top[i]);
    }
    free(md->top);
    s_eval_free(&md->eval);
    free(md);
    *pm = NULL;
}

/* A model holding the schema's column names and levels and the config. */
static s_model *s_model_new(const ch_schema *schema, const s_cfg *c)
{
    s_model *md = calloc(1, sizeof *md);
    if (!md) {
        return NULL;
    }
    size_t nf = schema->n_features;
    md->n_features = nf;
    md->cfg = *c;
    md->max_samples_text = strdup(c->max_samples);
    md->cfg.max_samples = md->max_samples_text;
    md->names = calloc(nf ? nf : 1, sizeof *md->names);
    md->kind = calloc(nf ? nf : 1, sizeof *md->kind);
    md->levels = calloc(nf ? nf : 1, sizeof *md->levels);
    md->n_levels = calloc(nf ? nf : 1, sizeof *md->n_levels);
    md->reference = ch_alloc_array(nf ? nf : 1, sizeof *md->reference);
    bool ok = md->max_samples_text && md->names && md->kind && md->levels && md->n_levels &&
              md->reference;
    for (size_t j = 0; ok && j < nf; j++) {
        const ch_column *col = &schema->features[j];
        md->names[j] = strdup(col->name);
        md->kind[j] = col->kind;
        md->reference[j] = NAN;
        ok = md->names[j] != NULL;
        if (ok && col->kind == CH_COL_CATEGORICAL && col->n_levels) {
            md->levels[j] = calloc(col->n_levels, sizeof(char *));
            ok = md->levels[j] != NULL;
            for (size_t l = 0; ok && l < col->n_levels; l++) {
                md->levels[j][l] = strdup(col->levels[l]);
                md->n_levels[j] = l + 1;
                ok = md->levels[j][l] != NULL;
            }
        }
    }
    if (!ok) {
        void *p = md;
        s_model_destroy(&p);
        return NULL;
    }
    return md;
}

/* The columns as forest.c checks them (kind only; levels are not used). */
static ch_column *s_columns(const s_model *md)
{
    ch_column *cols = calloc(md->n_features ? md->n_features : 1, sizeof *cols);
    if (cols) {
        for (size_t j = 0; j < md->n_features; j++) {
            cols[j].kind = md->kind[j];
            cols[j].n_levels = md->n_levels[j];
        }
    }
    return cols;
}

/* --- trees on the wire --------------------------------------------------------- */

static void s_tree_to_pb(const ch_itree *tr, Cohort__IsolationForest__Tree *pb, bool with_ref,
                         size_t n_features)
{
    cohort__isolation_forest__tree__init(pb);
    pb->index = tr->index;
    pb->n_samples = tr->n_samples;
    pb->n_feature = pb->n_value = pb->n_left = pb->n_flags = tr->n_nodes;
    pb->feature = tr->feature;
    pb->value = tr->value;
    pb->left = tr->left;
    pb->flags = tr->flags;
    if (tr->hp_begin) {
        pb->n_hp_begin = pb->n_hp_end = tr->n_nodes;
        pb->hp_begin = tr->hp_begin;
        pb->hp_end = tr->hp_end;
        pb->n_hp_feature = pb->n_hp_weight = tr->n_hp;
        pb->hp_feature = tr->hp_feature;
        pb->hp_weight = tr->hp_weight;
    }
    if (with_ref && tr->reference) {
        pb->n_reference = n_features;
        pb->reference = tr->reference;
    }
}

static void *s_dup(const void *p, size_t n, size_t size)
{
    void *q = ch_alloc_array(n ? n : 1, size);
    if (q && n) {
        memcpy(q, p, n * size);
    }
    return q;
}

/* Copies and checks a tree received from a peer or a file. */
static int s_tree_from_pb(const Cohort__IsolationForest__Tree *pb, const ch_column *cols,
                          size_t n_features, ch_itree *tr, ch_err *err)
{
    memset(tr, 0, sizeof *tr);
    size_t n = pb->n_feature;
    if (n == 0 || pb->n_value != n || pb->n_left != n || pb->n_flags != n ||
        (pb->n_hp_begin != 0 && pb->n_hp_begin != n) || pb->n_hp_end != pb->n_hp_begin ||
        pb->n_hp_feature != pb->n_hp_weight ||
        (pb->n_reference != 0 && pb->n_reference != n_features) || n > ((size_t)1 << 31)) {
        return ch_err_set(err, CH_EPROTO, "isolation tree %u: inconsistent array lengths",
                          pb->index);
    }
    tr->index = pb->index;
    tr->n_samples = pb->n_samples;
    tr->n_nodes = n;
    tr->feature = s_dup(pb->feature, n, sizeof *tr->feature);
    tr->value = s_dup(pb->value, n, sizeof *tr->value);
    tr->left = s_dup(pb->left, n, sizeof *tr->left);
    tr->flags = s_dup(pb->flags, n, sizeof *tr->flags);
    bool ok = tr->feature && tr->value && tr->left && tr->flags;
    if (ok && pb->n_hp_begin) {
        tr->hp_begin = s_dup(pb->hp_begin, n, sizeof *tr->hp_begin);
        tr->hp_end = s_dup(pb->hp_end, n, sizeof *tr->hp_end);
        tr->n_hp = pb->n_hp_feature;
        tr->hp_feature = s_dup(pb->hp_feature, tr->n_hp, sizeof *tr->hp_feature);
        tr->hp_weight = s_dup(pb->hp_weight, tr->n_hp, sizeof *tr->hp_weight);
        ok = tr->hp_begin && tr->hp_end && tr->hp_feature && tr->hp_weight;
    }
    if (ok && pb->n_reference) {
        tr->reference = s_dup(pb->reference, n_features, sizeof *tr->reference);
        ok = tr->reference != NULL;
    }
    int rc = ok ? ch_itree_check(tr, cols, n_features, err)
                : ch_err_set(err, CH_ENOMEM, "out of memory");
    if (rc != 0) {
        ch_itree_free(tr);
    }
    return rc;
}

/* Packs trees[0..n) as a Trees message into out. */
static int s_pack_trees(const ch_itree *trees, size_t n, bool with_ref, size_t n_features,
                        ch_buf *out, ch_err *err)
{
    Cohort__IsolationForest__Tree *pbs = calloc(n ? n : 1, sizeof *pbs);
    Cohort__IsolationForest__Tree **ptrs = calloc(n ? n : 1, sizeof *ptrs);
    if (!pbs || !ptrs) {
        free(pbs);
        free(ptrs);
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        s_tree_to_pb(&trees[i], &pbs[i], with_ref, n_features);
        ptrs[i] = &pbs[i];
    }
    Cohort__IsolationForest__Trees msg = COHORT__ISOLATION_FOREST__TREES__INIT;
    msg.n_trees = n;
    msg.trees = ptrs;
    size_t size = cohort__isolation_forest__trees__get_packed_size(&msg);
    int rc = ch_buf_reserve(out, size);
    if (rc == 0) {
        cohort__isolation_forest__trees__pack(&msg, out->data + out->len);
        out->len += size;
    }
    free(pbs);
    free(ptrs);
    return rc ? ch_err_set(err, CH_ENOMEM, "out of memory") : 0;
}

/* --- coordinator ---------------------------------------------------------------- */

static void *s_coord_new(const ch_coord_env *env, ch_err *err)
{
    s_cfg c;
    if (s_read_cfg(env->cfg, env->schema, &c, err) != 0) {
        return NULL;
    }
    s_coord *st = calloc(1, sizeof *st);
    s_model *md = st ? s_model_new(env->schema, &c) : NULL;
    if (md) {
        md->n_trees = (size_t)c.n_trees;
        md->trees = calloc(md->n_trees, sizeof *md->trees);
    }
    if (!st || !md || !md->trees) {
        void *p = md;
        s_model_destroy(&p);
        free(st);
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    st->md = md;
    st->by_file = env->train == NULL;
    st->test = env->test;
    st->run_dir = env->run_dir;
    md->n_train = env->n_train;
    if (!st->by_file) {
        size_t psi;
        if (s_psi(&c, env->train->n_rows, &psi, err) != 0) {
            void *p = md;
            s_model_destroy(&p);
            free(st);
            return NULL;
        }
    }
    return st;
}

static int s_next_task(void *vst, uint32_t round, uint32_t *op, ch_buf *payload, ch_err *err)
{
    s_coord *st = vst;
    (void)round;
    if (st->md->stage == 0) {
        *op = OP_GROW;
        uint8_t by_file = st->by_file;
        ch_buf_append(payload, &by_file, 1);
        return payload->failed ? ch_err_set(err, CH_ENOMEM, "out of memory") : 0;
    }
    if (st->md->stage == 1) {
        *op = OP_SCORE;
        return s_pack_trees(st->md->trees, st->md->n_trees, false, st->md->n_features, payload,
                            err);
    }
    return 1;
}

/* Median over the trees of each column's subsample median (numeric), or the
 * most common of the trees' modes (categorical). */
static int s_reference(s_model *md, ch_err *err)
{
    double *v = ch_alloc_array(md->n_trees, sizeof *v);
    if (!v) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    for (size_t j = 0; j < md->n_features; j++) {
        size_t m = 0;
        for (size_t t = 0; t < md->n_trees; t++) {
            if (md->trees[t].reference && !isnan(md->trees[t].reference[j])) {
                v[m++] = md->trees[t].reference[j];
            }
        }
        md->reference[j] = NAN;
        if (m == 0) {
            continue;
        }
        for (size_t a = 1; a < m; a++) { /* insertion sort: n_trees values */
            double x = v[a];
            size_t b = a;
            while (b > 0 && v[b - 1] > x) {
                v[b] = v[b - 1];
                b--;
            }
            v[b] = x;
        }
        if (md->kind[j] == CH_COL_CATEGORICAL) {
            size_t best_n = 0;
            for (size_t a = 0; a < m;) {
                size_t b = a;
                while (b < m && v[b] == v[a]) {
                    b++;
                }
                if (b - a > best_n) {
                    best_n = b - a;
                    md->reference[j] = v[a];
                }
                a = b;
            }
        } else {
            md->reference[j] = m % 2 ? v[m / 2] : 0.5 * (v[m / 2 - 1] + v[m / 2]);
        }
    }
    free(v);
    return 0;
}

static int s_aggregate_grow(s_coord *st, const ch_update *ups, size_t n, ch_err *err)
{
    s_model *md = st->md;
    ch_column *cols = s_columns(md);
    if (!cols) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        Cohort__IsolationForest__Trees *msg =
            cohort__isolation_forest__trees__unpack(NULL, ups[i].state_len, ups[i].state);
        if (!msg) {
            rc = ch_err_set(err, CH_EPROTO, "the trees of shard %u do not decode", ups[i].shard);
            break;
        }
        for (size_t k = 0; k < msg->n_trees && rc == 0; k++) {
            uint32_t t = msg->trees[k]->index;
            if (t >= md->n_trees || md->trees[t].n_nodes) {
                rc = ch_err_set(err, CH_EPROTO, "shard %u sent tree %u twice or out of range",
                                ups[i].shard, t);
            } else if ((rc = s_tree_from_pb(msg->trees[k], cols, md->n_features, &md->trees[t],
                                            err)) != 0) {
                ch_err_prefix(err, "shard %u", ups[i].shard);
            }
        }
        cohort__isolation_forest__trees__free_unpacked(msg, NULL);
    }
    free(cols);
    for (size_t t = 0; t < md->n_trees && rc == 0; t++) {
        if (!md->trees[t].n_nodes) {
            rc = ch_err_set(err, CH_EPROTO, "no shard sent isolation tree %zu", t);
        }
    }
    if (rc == 0) {
        rc = s_reference(md, err);
    }
    return rc;
}

/* Orders anomalies by score (high first), then silo and row. */
static int s_anom_cmp(const void *a, const void *b)
{
    const s_anom *x = a, *y = b;
    if (x->score != y->score) {
        return x->score > y->score ? -1 : 1;
    }
    if (x->silo != y->silo) {
        return x->silo < y->silo ? -1 : 1;
    }
    return x->row < y->row ? -1 : x->row > y->row;
}

static int s_aggregate_score(s_coord *st, const ch_update *ups, size_t n, ch_err *err)
{
    s_model *md = st->md;
    md->hist = calloc(HIST_BINS, sizeof *md->hist);
    size_t cap = n * (size_t)md->cfg.top_k;
    s_anom *all = calloc(cap ? cap : 1, sizeof *all);
    if (!md->hist || !all) {
        free(all);
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    size_t n_all = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        Cohort__IsolationForest__ScoreUpdate *u =
            cohort__isolation_forest__score_update__unpack(NULL, ups[i].state_len, ups[i].state);
        if (!u || u->n_histogram != HIST_BINS || u->n_top > (size_t)md->cfg.top_k) {
            rc = ch_err_set(err, CH_EPROTO, "the scores of shard %u do not decode", ups[i].shard);
        }
        for (size_t b = 0; rc == 0 && b < HIST_BINS; b++) {
            md->hist[b] += u->histogram[b];
        }
        for (size_t k = 0; rc == 0 && k < u->n_top; k++) {
            const Cohort__IsolationForest__Anomaly *a = u->top[k];
            if (a->n_value != md->n_features || a->n_share != md->n_features ||
                !(a->score >= 0 && a->score <= 1)) {
                rc = ch_err_set(err, CH_EPROTO, "shard %u sent a malformed anomaly", ups[i].shard);
                break;
            }
            s_anom *d = &all[n_all++];
            d->score = a->score;
            d->row = a->row;
            d->silo = st->by_file ? (int32_t)ups[i].shard : -1;
            d->value = s_dup(a->value, md->n_features, sizeof(double));
            d->share = s_dup(a->share, md->n_features, sizeof(double));
            if (!d->value || !d->share) {
                rc = ch_err_set(err, CH_ENOMEM, "out of memory");
            }
        }
        if (u) {
            cohort__isolation_forest__score_update__free_unpacked(u, NULL);
        }
    }
    if (rc == 0) {
        qsort(all, n_all, sizeof *all, s_anom_cmp);
        md->n_top = n_all < (size_t)md->cfg.top_k ? n_all : (size_t)md->cfg.top_k;
    }
    for (size_t i = rc == 0 ? md->n_top : 0; i < n_all; i++) {
        s_anom_free(&all[i]);
    }
    if (rc == 0) {
        md->top = all;
    } else {
        free(all);
        md->n_top = 0;
    }
    return rc;
}

/* The threshold from the training histogram: 0.5 for contamination auto
 * (scikit-learn's offset), else the lowest bin edge with at most
 * contamination * n rows at or above it. Sets n_anomalies: rows with score
 * >= threshold. */
static void s_threshold(s_model *md)
{
    uint64_t total = 0;
    for (size_t b = 0; b < HIST_BINS; b++) {
        total += md->hist[b];
    }
    size_t edge;
    if (md->cfg.contamination == 0) {
        edge = HIST_BINS / 2;
    } else {
        double limit = md->cfg.contamination * (double)total;
        uint64_t above = 0;
        edge = HIST_BINS;
        while (edge > 0 && (double)(above + md->hist[edge - 1]) <= limit) {
            above += md->hist[edge - 1];
            edge--;
        }
    }
    uint64_t flagged = 0;
    for (size_t b = edge; b < HIST_BINS; b++) {
        flagged += md->hist[b];
    }
    md->threshold = (double)edge / HIST_BINS;
    md->n_anomalies = flagged;
    md->n_train = total;
}

static int s_aggregate(void *vst, uint32_t round, uint32_t op, const ch_update *ups, size_t n,
                       ch_round_metrics *m, ch_err *err)
{
    s_coord *st = vst;
    (void)round;
    int rc;
    if (op == OP_GROW && st->md->stage == 0) {
        rc = s_aggregate_grow(st, ups, n, err);
        if (rc == 0) {
            size_t nodes = 0;
            for (size_t t = 0; t < st->md->n_trees; t++) {
                nodes += st->md->trees[t].n_nodes;
            }
            ch_round_metric(m, "trees", (double)st->md->n_trees);
            ch_round_metric(m, "mean_nodes", (double)nodes / (double)st->md->n_trees);
            st->md->stage = 1;
        }
        return rc;
    }
    if (op == OP_SCORE && st->md->stage == 1) {
        rc = s_aggregate_score(st, ups, n, err);
        if (rc == 0) {
            s_threshold(st->md);
            ch_round_metric(m, "threshold", st->md->threshold);
            ch_round_metric(m, "n_anomalies", (double)st->md->n_anomalies);
            st->md->stage = 2;
        }
        return rc;
    }
    return ch_err_set(err, CH_EPROTO, "isolation_forest: unexpected op %u", op);
}

/* --- evaluation against labels ------------------------------------------------- */

typedef struct s_scored {
    double score;
    double label;
    size_t row;
} s_scored;

static int s_scored_cmp(const void *a, const void *b)
{
    const s_scored *x = a, *y = b;
    if (x->score != y->score) {
        return x->score > y->score ? -1 : 1;
    }
    return x->row < y->row ? -1 : x->row > y->row;
}

/* Keeps at most CURVE_MAX of n points (evenly spaced, the last one kept). */
static size_t s_thin(double *x, double *y, size_t n)
{
    if (n <= CURVE_MAX) {
        return n;
    }
    for (size_t k = 0; k < CURVE_MAX; k++) {
        size_t i = (size_t)((double)k * (double)(n - 1) / (double)(CURVE_MAX - 1));
        x[k] = x[i];
        y[k] = y[i];
    }
    return CURVE_MAX;
}

/* Labels (1 anomaly, 0 normal, NaN skipped) against scores: ROC AUC,
 * average precision as scikit-learn's average_precision_score, precision
 * among the P highest scores (P the anomalies), precision and recall of
 * score >= threshold, and the curves. Returns 0 or CH_ENOMEM; e->has false
 * when a class is absent. */
static int s_evaluate(const double *label, const double *score, size_t n, double threshold,
                      s_eval *e)
{
    memset(e, 0, sizeof *e);
    s_scored *v = ch_alloc_array(n ? n : 1, sizeof *v);
    if (!v) {
        return CH_ENOMEM;
    }
    size_t m = 0;
    uint64_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(label[i]) || isnan(score[i])) {
            continue;
        }
        v[m].score = score[i];
        v[m].label = label[i] == 1 ? 1 : 0;
        v[m].row = i;
        pos += v[m].label == 1;
        m++;
    }
    if (pos == 0 || pos == m) {
        free(v);
        return 0;
    }
    qsort(v, m, sizeof *v, s_scored_cmp);
    e->roc_fpr = ch_alloc_array(m + 1, sizeof(double));
    e->roc_tpr = ch_alloc_array(m + 1, sizeof(double));
    e->pr_recall = ch_alloc_array(m + 1, sizeof(double));
    e->pr_precision = ch_alloc_array(m + 1, sizeof(double));
    if (!e->roc_fpr || !e->roc_tpr || !e->pr_recall || !e->pr_precision) {
        free(v);
        s_eval_free(e);
        return CH_ENOMEM;
    }
    double neg = (double)(m - pos), P = (double)pos;
    double tp = 0, fp = 0, prev_r = 0, prev_f = 0, prev_t = 0, area = 0, ap = 0;
    e->roc_fpr[0] = e->roc_tpr[0] = 0;
    e->n_roc = 1;
    for (size_t i = 0; i < m;) {
        size_t j = i;
        while (j < m && v[j].score == v[i].score) {
            tp += v[j].label;
            fp += 1 - v[j].label;
            j++;
        }
        double r = tp / P, f = fp / neg, pr = tp / (tp + fp);
        area += (f - prev_f) * (r + prev_t) / 2;
        ap += (r - prev_r) * pr;
        prev_r = r;
        prev_f = f;
        prev_t = r;
        e->roc_fpr[e->n_roc] = f;
        e->roc_tpr[e->n_roc++] = r;
        e->pr_recall[e->n_pr] = r;
        e->pr_precision[e->n_pr++] = pr;
        i = j;
    }
    double hits = 0;
    for (size_t i = 0; i < pos; i++) {
        hits += v[i].label;
    }
    double ftp = 0, ff = 0;
    for (size_t i = 0; i < m && v[i].score >= threshold; i++) {
        ftp += v[i].label;
        ff += 1;
    }
    e->has = true;
    e->n = m;
    e->n_positive = pos;
    e->auc = area;
    e->ap = ap;
    e->p_at_k = hits / P;
    e->n_flagged = (uint64_t)ff;
    e->p_at_thr = ff > 0 ? ftp / ff : NAN;
    e->r_at_thr = ftp / P;
    e->n_roc = s_thin(e->roc_fpr, e->roc_tpr, e->n_roc);
    e->n_pr = s_thin(e->pr_recall, e->pr_precision, e->n_pr);
    free(v);
    return 0;
}

int ch_iforest_evaluate(const double *label, const double *score, size_t n, double threshold,
                        double *auc, double *ap, double *p_at_k)
{
    s_eval e;
    int rc = s_evaluate(label, score, n, threshold, &e);
    *auc = e.has ? e.auc : NAN;
    *ap = e.has ? e.ap : NAN;
    *p_at_k = e.has ? e.p_at_k : NAN;
    s_eval_free(&e);
    return rc;
}

static int s_predict(const void *vm, const ch_table *t, double *out, ch_err *err);

/* Binary labels of t (1 = the anomalous class): a two-level categorical
 * target's code 1 (data.positive), or a numeric 0/1 target. NULL when t
 * has no usable labels. */
static double *s_labels(const ch_table *t)
{
    if (!t || !t->has_target || t->n_rows == 0) {
        return NULL;
    }
    if (t->target.kind == CH_COL_CATEGORICAL && t->target.n_levels != 2) {
        return NULL;
    }
    for (size_t i = 0; i < t->n_rows; i++) {
        double y = t->target.values[i];
        if (!isnan(y) && y != 0 && y != 1) {
            return NULL;
        }
    }
    return s_dup(t->target.values, t->n_rows, sizeof(double));
}

/* DIR/anomalies.csv: the top-k rows, most anomalous first: rank, row
 * (training row, silo for by-file), score, then for each column its value
 * and its share in isolating the row. A write failure is logged: the model
 * is complete without it. */
static void s_write_anomalies(const s_coord *st)
{
    const s_model *md = st->md;
    if (!st->run_dir) {
        return;
    }
    ch_buf b;
    ch_buf_init(&b);
    ch_buf_puts(&b, "rank,row,silo,score");
    for (size_t j = 0; j < md->n_features; j++) {
        ch_buf_printf(&b, ",%s,%s_share", md->names[j], md->names[j]);
    }
    ch_buf_puts(&b, "\n");
    for (size_t i = 0; i < md->n_top; i++) {
        const s_anom *a = &md->top[i];
        ch_buf_printf(&b, "%zu,%llu,%d,%.6f", i + 1, (unsigned long long)a->row, (int)a->silo,
                      a->score);
        for (size_t j = 0; j < md->n_features; j++) {
            ch_buf_printf(&b, ",%.10g,%.4f", a->value ? a->value[j] : NAN,
                          a->share ? a->share[j] : NAN);
        }
        ch_buf_puts(&b, "\n");
    }
    char *path = ch_path_join(st->run_dir, "anomalies.csv");
    ch_err err;
    if (!path || b.failed || ch_write_file_atomic(path, b.data, b.len, &err) != 0) {
        ch_warn("isolation_forest: anomalies.csv not written");
    }
    free(path);
    ch_buf_free(&b);
}

static void *s_finalize(void *vst, ch_err *err)
{
    s_coord *st = vst;
    s_model *md = st->md;
    if (md->stage != 2) {
        ch_err_set(err, CH_EINTERNAL, "isolation_forest: finalize before scoring");
        return NULL;
    }
    double *labels = s_labels(st->test);
    if (labels) {
        double *score = ch_alloc_array(st->test->n_rows, sizeof *score);
        int rc = score ? s_predict(md, st->test, score, err) : CH_ENOMEM;
        if (rc == 0) {
            rc = s_evaluate(labels, score, st->test->n_rows, md->threshold, &md->eval);
        }
        free(score);
        free(labels);
        if (rc != 0) {
            ch_err_set(err, rc, "isolation_forest: evaluating the test rows failed");
            return NULL;
        }
    }
    s_write_anomalies(st);
    st->md = NULL;
    return md;
}

static int s_pack_model(const s_model *md, ch_buf *out, ch_err *err);
static s_model *s_unpack_model(const uint8_t *data, size_t len, const ch_schema *schema,
                               ch_err *err);

static int s_save(void *vst, ch_buf *out, ch_err *err)
{
    s_coord *st = vst;
    return s_pack_model(st->md, out, err);
}

static int s_load(void *vst, const uint8_t *data, size_t len, ch_err *err)
{
    s_coord *st = vst;
    s_model *md = st->md;
    /* a schema view of the model's own columns */
    ch_schema s;
    memset(&s, 0, sizeof s);
    ch_column *cols = s_columns(md);
    if (!cols) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    for (size_t j = 0; j < md->n_features; j++) {
        cols[j].name = md->names[j];
        cols[j].levels = md->levels[j];
    }
    s.n_features = md->n_features;
    s.features = cols;
    s_model *got = s_unpack_model(data, len, &s, err);
    free(cols);
    if (!got) {
        return ch_err_prefix(err, "isolation_forest checkpoint");
    }
    void *old = md;
    s_model_destroy(&old);
    st->md = got;
    return 0;
}

static void s_coord_destroy(void **pst)
{
    if (!pst || !*pst) {
        return;
    }
    s_coord *st = *pst;
    void *p = st->md;
    s_model_destroy(&p);
    free(st);
    *pst = NULL;
}

/* --- worker --------------------------------------------------------------------- */

static void *s_worker_new(const ch_worker_env *env, ch_err *err)
{
    s_worker *w = calloc(1, sizeof *w);
    if (!w) {
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    if (s_read_cfg(env->cfg, env->schema, &w->cfg, err) != 0) {
        free(w);
        return NULL;
    }
    w->env = env;
    return w;
}

static void s_worker_trees_free(s_worker *w)
{
    for (size_t t = 0; w->trees && t < w->n_trees; t++) {
        ch_itree_free(&w->trees[t]);
    }
    free(w->trees);
    w->trees = NULL;
    w->n_trees = 0;
}

static int s_grow(s_worker *w, bool by_file, uint32_t shard, ch_buf *out, uint64_t *samples,
                  ch_err *err)
{
    const ch_worker_env *env = w->env;
    const ch_plan *plan = env->plan;
    const ch_table *t = env->train;
    size_t b0 = env->block_offset + plan->shard_block[shard];
    size_t b1 = env->block_offset + plan->shard_block[shard + 1];
    const size_t *rows = by_file ? plan->rows : NULL;
    size_t n = by_file ? plan->n_rows : t->n_rows;
    size_t T = (size_t)w->cfg.n_trees;
    ch_iforest_params p = {
        .max_features = w->cfg.max_features,
        .bootstrap = w->cfg.bootstrap,
        .extension_level = (size_t)w->cfg.extension_level,
        .seed = env->seed,
    };
    int rc = s_psi(&w->cfg, n, &p.psi, err);
    if (rc != 0) {
        return rc;
    }
    size_t mine = 0;
    for (size_t k = 0; k < T; k++) {
        size_t b = (size_t)((uint64_t)k * env->n_blocks_total / T);
        mine += b >= b0 && b < b1;
    }
    ch_itree *trees = calloc(mine ? mine : 1, sizeof *trees);
    if (!trees) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    size_t m = 0;
    for (size_t k = 0; k < T && rc == 0; k++) {
        size_t b = (size_t)((uint64_t)k * env->n_blocks_total / T);
        if (b >= b0 && b < b1) {
            rc = ch_itree_grow(t, rows, n, &p, (uint32_t)k, &trees[m++], err);
        }
    }
    if (rc == 0) {
        rc = s_pack_trees(trees, m, true, t->n_cols, out, err);
    }
    for (size_t k = 0; k < m; k++) {
        ch_itree_free(&trees[k]);
    }
    free(trees);
    *samples = (uint64_t)m * p.psi;
    return rc;
}

/* Inserts (score, row) into the top list of at most k, ordered by score
 * (high first) then row. */
static void s_top_insert(double *ts, size_t *tr, size_t *n, size_t k, double score, size_t row)
{
    if (k == 0 || (*n == k && (score < ts[k - 1] || (score == ts[k - 1] && row > tr[k - 1])))) {
        return;
    }
    size_t i = *n < k ? (*n)++ : k - 1;
    while (i > 0 && (ts[i - 1] < score || (ts[i - 1] == score && tr[i - 1] > row))) {
        ts[i] = ts[i - 1];
        tr[i] = tr[i - 1];
        i--;
    }
    ts[i] = score;
    tr[i] = row;
}

static int s_score(s_worker *w, const uint8_t *payload, size_t len, uint32_t shard, ch_buf *out,
                   uint64_t *samples, ch_err *err)
{
    const ch_worker_env *env = w->env;
    const ch_table *t = env->train;
    Cohort__IsolationForest__Trees *msg =
        cohort__isolation_forest__trees__unpack(NULL, len, payload);
    if (!msg || msg->n_trees == 0) {
        if (msg) {
            cohort__isolation_forest__trees__free_unpacked(msg, NULL);
        }
        return ch_err_set(err, CH_EPROTO, "isolation_forest: the forest does not decode");
    }
    s_worker_trees_free(w);
    w->trees = calloc(msg->n_trees, sizeof *w->trees);
    int rc = w->trees ? 0 : ch_err_set(err, CH_ENOMEM, "out of memory");
    for (size_t k = 0; k < msg->n_trees && rc == 0; k++) {
        rc = s_tree_from_pb(msg->trees[k], t->cols, t->n_cols, &w->trees[k], err);
        w->n_trees = k + 1;
    }
    cohort__isolation_forest__trees__free_unpacked(msg, NULL);
    if (rc != 0) {
        return rc;
    }
    size_t k = (size_t)w->cfg.top_k, nf = t->n_cols;
    uint64_t *hist = calloc(HIST_BINS, sizeof *hist);
    double *ts = calloc(k + 1, sizeof *ts);
    size_t *trow = calloc(k + 1, sizeof *trow);
    size_t cells;
    double *vals = ch_mul_size(k + 1, nf, &cells) == 0 ? ch_alloc_array(cells, sizeof *vals) : NULL;
    double *shares = vals ? ch_alloc_array(cells, sizeof *shares) : NULL;
    Cohort__IsolationForest__Anomaly *an = calloc(k + 1, sizeof *an);
    Cohort__IsolationForest__Anomaly **anp = calloc(k + 1, sizeof *anp);
    if (!hist || !ts || !trow || !vals || !shares || !an || !anp) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        goto done;
    }
    size_t lo = ch_plan_shard_begin(env->plan, shard), hi = ch_plan_shard_end(env->plan, shard);
    size_t n_top = 0;
    double *score = ch_alloc_array(hi - lo ? hi - lo : 1, sizeof *score);
    if (!score) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory scoring %zu rows", hi - lo);
        goto done;
    }
    ch_iforest_score_rows(w->trees, w->n_trees, t, env->plan->rows + lo, hi - lo, score);
    for (size_t r = lo; r < hi; r++) {
        double s = score[r - lo];
        size_t b = (size_t)(s * HIST_BINS);
        hist[b < HIST_BINS ? b : HIST_BINS - 1]++;
        s_top_insert(ts, trow, &n_top, k, s, env->plan->rows[r]);
    }
    free(score);
    for (size_t q = 0; q < n_top; q++) {
        cohort__isolation_forest__anomaly__init(&an[q]);
        an[q].score = ts[q];
        an[q].row = trow[q];
        an[q].silo = -1;
        for (size_t j = 0; j < nf; j++) {
            vals[q * nf + j] = t->cols[j].values[trow[q]];
        }
        ch_iforest_attribution(w->trees, w->n_trees, t, trow[q], shares + q * nf, nf);
        an[q].n_value = an[q].n_share = nf;
        an[q].value = vals + q * nf;
        an[q].share = shares + q * nf;
        anp[q] = &an[q];
    }
    Cohort__IsolationForest__ScoreUpdate u = COHORT__ISOLATION_FOREST__SCORE_UPDATE__INIT;
    u.n_histogram = HIST_BINS;
    u.histogram = hist;
    u.n_top = n_top;
    u.top = anp;
    u.n = hi - lo;
    size_t size = cohort__isolation_forest__score_update__get_packed_size(&u);
    if (ch_buf_reserve(out, size) != 0) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        goto done;
    }
    cohort__isolation_forest__score_update__pack(&u, out->data + out->len);
    out->len += size;
    *samples = hi - lo;
done:
    free(hist);
    free(ts);
    free(trow);
    free(vals);
    free(shares);
    free(an);
    free(anp);
    return rc;
}

static int s_run_task(void *vw, uint32_t round, uint32_t op, const uint8_t *payload, size_t len,
                      uint32_t shard, ch_buf *out, uint64_t *samples, ch_err *err)
{
    s_worker *w = vw;
    (void)round;
    const ch_plan *plan = w->env->plan;
    if (shard >= plan->n_shards) {
        return ch_err_set(err, CH_EPROTO, "isolation_forest: shard %u out of range (%zu shards)",
                          shard, plan->n_shards);
    }
    if (op == OP_GROW) {
        if (len != 1 || payload[0] > 1) {
            return ch_err_set(err, CH_EPROTO, "isolation_forest: bad grow payload");
        }
        return s_grow(w, payload[0] == 1, shard, out, samples, err);
    }
    if (op == OP_SCORE) {
        return s_score(w, payload, len, shard, out, samples, err);
    }
    return ch_err_set(err, CH_EPROTO, "isolation_forest: unknown op %u", op);
}

static void s_worker_destroy(void **pw)
{
    if (!pw || !*pw) {
        return;
    }
    s_worker *w = *pw;
    s_worker_trees_free(w);
    free(w);
    *pw = NULL;
}

/* --- model ----------------------------------------------------------------------- */

static ch_output_kind s_output_kind(const void *model)
{
    (void)model;
    return CH_OUT_REGRESSION;
}

/* predict gives two columns: the anomaly score and the flag (score at or
 * above the threshold that contamination set). */
static size_t s_n_outputs(const void *model)
{
    (void)model;
    return 2;
}

static int s_predict_flagged(const void *vm, const ch_table *t, double *out, ch_err *err)
{
    const s_model *md = vm;
    double *score = ch_alloc_array(t->n_rows ? t->n_rows : 1, sizeof *score);
    if (!score) {
        return ch_err_set(err, CH_ENOMEM, "out of memory scoring %zu rows", t->n_rows);
    }
    int rc = s_predict(vm, t, score, err);
    for (size_t i = 0; i < t->n_rows && rc == 0; i++) {
        out[2 * i] = score[i];
        out[2 * i + 1] = score[i] >= md->threshold ? 1.0 : 0.0;
    }
    free(score);
    return rc;
}

static int s_predict(const void *vm, const ch_table *t, double *out, ch_err *err)
{
    const s_model *md = vm;
    if (t->n_cols != md->n_features) {
        return ch_err_set(err, CH_EINVAL,
                          "isolation_forest: the data have %zu columns, the "
                          "model %zu",
                          t->n_cols, md->n_features);
    }
    ch_iforest_score_rows(md->trees, md->n_trees, t, NULL, t->n_rows, out);
    return 0;
}

static int s_pack_model(const s_model *md, ch_buf *out, ch_err *err)
{
    Cohort__IsolationForest__Model m = COHORT__ISOLATION_FOREST__MODEL__INIT;
    Cohort__IsolationForest__Evaluation ev = COHORT__ISOLATION_FOREST__EVALUATION__INIT;
    m.stage = md->stage;
    m.n_features = (uint32_t)md->n_features;
    m.tree_count = (uint32_t)md->n_trees;
    m.max_samples = md->max_samples_text;
    m.max_features = (uint32_t)md->cfg.max_features;
    m.bootstrap = md->cfg.bootstrap;
    m.extension_level = (uint32_t)md->cfg.extension_level;
    m.contamination = md->cfg.contamination;
    m.threshold = md->threshold;
    m.n_train = md->n_train;
    m.n_anomalies = md->n_anomalies;
    m.top_k = (uint32_t)md->cfg.top_k;
    size_t nt = md->stage >= 1 ? md->n_trees : 0;
    Cohort__IsolationForest__Tree *pbs = calloc(nt ? nt : 1, sizeof *pbs);
    Cohort__IsolationForest__Tree **ptrs = calloc(nt ? nt : 1, sizeof *ptrs);
    Cohort__IsolationForest__Anomaly *an = calloc(md->n_top ? md->n_top : 1, sizeof *an);
    Cohort__IsolationForest__Anomaly **anp = calloc(md->n_top ? md->n_top : 1, sizeof *anp);
    int rc = 0;
    if (!pbs || !ptrs || !an || !anp) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t t = 0; t < nt; t++) {
        s_tree_to_pb(&md->trees[t], &pbs[t], false, md->n_features);
        ptrs[t] = &pbs[t];
    }
    m.n_trees = nt;
    m.trees = ptrs;
    m.n_reference = md->n_features;
    m.reference = md->reference;
    if (md->hist) {
        m.n_histogram = HIST_BINS;
        m.histogram = md->hist;
    }
    for (size_t i = 0; i < md->n_top; i++) {
        cohort__isolation_forest__anomaly__init(&an[i]);
        an[i].score = md->top[i].score;
        an[i].row = md->top[i].row;
        an[i].silo = md->top[i].silo;
        an[i].n_value = an[i].n_share = md->n_features;
        an[i].value = md->top[i].value;
        an[i].share = md->top[i].share;
        anp[i] = &an[i];
    }
    m.n_top = md->n_top;
    m.top = anp;
    if (md->eval.has) {
        const s_eval *e = &md->eval;
        m.has_eval = true;
        ev.n = e->n;
        ev.n_positive = e->n_positive;
        ev.auc = e->auc;
        ev.average_precision = e->ap;
        ev.precision_at_k = e->p_at_k;
        ev.precision_at_threshold = e->p_at_thr;
        ev.recall_at_threshold = e->r_at_thr;
        ev.n_flagged = e->n_flagged;
        ev.n_roc_fpr = ev.n_roc_tpr = e->n_roc;
        ev.roc_fpr = e->roc_fpr;
        ev.roc_tpr = e->roc_tpr;
        ev.n_pr_recall = ev.n_pr_precision = e->n_pr;
        ev.pr_recall = e->pr_recall;
        ev.pr_precision = e->pr_precision;
        m.eval = &ev;
    }
    size_t size = cohort__isolation_forest__model__get_packed_size(&m);
    if (ch_buf_reserve(out, size) != 0) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        goto done;
    }
    cohort__isolation_forest__model__pack(&m, out->data + out->len);
    out->len += size;
done:
    free(pbs);
    free(ptrs);
    free(an);
    free(anp);
    return rc;
}

static int s_pack(const void *vm, ch_buf *out, ch_err *err)
{
    return s_pack_model(vm, out, err);
}

static s_model *s_unpack_model(const uint8_t *data, size_t len, const ch_schema *schema,
                               ch_err *err)
{
    Cohort__IsolationForest__Model *m = cohort__isolation_forest__model__unpack(NULL, len, data);
    if (!m) {
        ch_err_set(err, CH_EINVAL, "the isolation forest payload does not decode");
        return NULL;
    }
    s_cfg c;
    memset(&c, 0, sizeof c);
    c.n_trees = m->tree_count;
    c.max_samples = m->max_samples;
    c.max_features = m->max_features;
    c.bootstrap = m->bootstrap;
    c.extension_level = m->extension_level;
    c.contamination = m->contamination;
    c.top_k = m->top_k;
    s_model *md = NULL;
    int rc = 0;
    if (m->n_features != schema->n_features || m->n_reference != m->n_features || m->stage > 2 ||
        (m->stage >= 1 && m->n_trees != m->tree_count) ||
        (m->n_histogram != 0 && m->n_histogram != HIST_BINS) || m->n_top > MAX_TOP_K ||
        m->tree_count == 0 || m->tree_count > 100000) {
        rc = ch_err_set(err, CH_EINVAL,
                        "the isolation forest model does not match its schema (%u columns, "
                        "schema %zu) or is malformed",
                        m->n_features, schema->n_features);
        goto done;
    }
    md = s_model_new(schema, &c);
    ch_column *cols = md ? s_columns(md) : NULL;
    if (!md || !cols || !(md->trees = calloc(m->tree_count, sizeof *md->trees))) {
        free(cols);
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        goto done;
    }
    md->stage = m->stage;
    md->n_trees = m->tree_count;
    for (size_t t = 0; t < m->n_trees && rc == 0; t++) {
        rc = s_tree_from_pb(m->trees[t], cols, md->n_features, &md->trees[t], err);
        if (rc == 0 && md->trees[t].index != t) {
            rc = ch_err_set(err, CH_EINVAL, "isolation tree %zu is out of order", t);
        }
    }
    free(cols);
    if (rc != 0) {
        goto done;
    }
    memcpy(md->reference, m->reference, md->n_features * sizeof(double));
    md->threshold = m->threshold;
    md->n_train = m->n_train;
    md->n_anomalies = m->n_anomalies;
    if (m->n_histogram) {
        md->hist = s_dup(m->histogram, HIST_BINS, sizeof *md->hist);
        if (!md->hist) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
            goto done;
        }
    }
    md->top = calloc(m->n_top ? m->n_top : 1, sizeof *md->top);
    if (!md->top) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < m->n_top && rc == 0; i++) {
        const Cohort__IsolationForest__Anomaly *a = m->top[i];
        if (a->n_value != md->n_features || a->n_share != md->n_features) {
            rc = ch_err_set(err, CH_EINVAL, "anomaly %zu has the wrong number of columns", i);
            break;
        }
        md->top[i].score = a->score;
        md->top[i].row = a->row;
        md->top[i].silo = a->silo;
        md->top[i].value = s_dup(a->value, md->n_features, sizeof(double));
        md->top[i].share = s_dup(a->share, md->n_features, sizeof(double));
        md->n_top = i + 1;
        if (!md->top[i].value || !md->top[i].share) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        }
    }
    if (rc == 0 && m->has_eval && m->eval) {
        const Cohort__IsolationForest__Evaluation *ev = m->eval;
        s_eval *e = &md->eval;
        if (ev->n_roc_fpr != ev->n_roc_tpr || ev->n_pr_recall != ev->n_pr_precision ||
            ev->n_roc_fpr > CURVE_MAX + 1 || ev->n_pr_recall > CURVE_MAX + 1) {
            rc = ch_err_set(err, CH_EINVAL, "the isolation forest evaluation is malformed");
            goto done;
        }
        e->has = true;
        e->n = ev->n;
        e->n_positive = ev->n_positive;
        e->auc = ev->auc;
        e->ap = ev->average_precision;
        e->p_at_k = ev->precision_at_k;
        e->p_at_thr = ev->precision_at_threshold;
        e->r_at_thr = ev->recall_at_threshold;
        e->n_flagged = ev->n_flagged;
        e->n_roc = ev->n_roc_fpr;
        e->n_pr = ev->n_pr_recall;
        e->roc_fpr = s_dup(ev->roc_fpr, e->n_roc, sizeof(double));
        e->roc_tpr = s_dup(ev->roc_tpr, e->n_roc, sizeof(double));
        e->pr_recall = s_dup(ev->pr_recall, e->n_pr, sizeof(double));
        e->pr_precision = s_dup(ev->pr_precision, e->n_pr, sizeof(double));
        if (!e->roc_fpr || !e->roc_tpr || !e->pr_recall || !e->pr_precision) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        }
    }
done:
    cohort__isolation_forest__model__free_unpacked(m, NULL);
    if (rc != 0) {
        void *p = md;
        s_model_destroy(&p);
        return NULL;
    }
    return md;
}

static void *s_unpack(const uint8_t *data, size_t len, const ch_schema *schema, ch_err *err)
{
    s_model *md = s_unpack_model(data, len, schema, err);
    if (md && md->stage != 2) {
        ch_err_set(err, CH_EINVAL, "the isolation forest model is incomplete (stage %u of 2)",
                   md->stage);
        void *p = md;
        s_model_destroy(&p);
        return NULL;
    }
    return md;
}

/* Text of column j's value v: the level name or the number. */
static void s_value_text(const s_model *md, size_t j, double v, char *buf, size_t size)
{
    if (isnan(v)) {
        snprintf(buf, size, "missing");
    } else if (md->kind[j] == CH_COL_CATEGORICAL && v >= 0 && v < (double)md->n_levels[j]) {
        snprintf(buf, size, "%s", md->levels[j][(size_t)v]);
    } else {
        snprintf(buf, size, "%.6g", v);
    }
}

/* The (at most) m columns with the largest shares of anomaly a, largest
 * first; returns how many. */
static size_t s_top_columns(const s_model *md, const s_anom *a, size_t *idx, size_t m)
{
    size_t n = 0;
    for (size_t j = 0; j < md->n_features; j++) {
        if (!(a->share[j] > 0) || (n == m && a->share[idx[m - 1]] >= a->share[j])) {
            continue;
        }
        size_t i = n < m ? n++ : m - 1;
        idx[i] = j;
        while (i > 0 && a->share[idx[i - 1]] < a->share[idx[i]]) {
            size_t tmp = idx[i - 1];
            idx[i - 1] = idx[i];
            idx[i] = tmp;
            i--;
        }
    }
    return n;
}

/* The final metrics: the held-out evaluation made at finalize (scores
 * against the label, when the data have one) and the flagged count; not the
 * engine's regression metrics, which mean nothing for an anomaly score. */
static int s_evaluate_hook(const void *vm, const ch_table *t, ch_round_metrics *out, ch_err *err)
{
    const s_model *md = vm;
    (void)t;
    (void)err;
    if (md->eval.has) {
        /* on the held-out rows, against their labels */
        ch_round_metric(out, "auc", md->eval.auc);
        ch_round_metric(out, "average_precision", md->eval.ap);
        ch_round_metric(out, "precision_at_k", md->eval.p_at_k);
    }
    ch_round_metric(out, "n_anomalies", (double)md->n_anomalies);
    ch_round_metric(out, "threshold", md->threshold);
    return 0;
}

static const char *s_output_name(const void *vm, size_t k)
{
    (void)vm;
    return k == 0 ? "anomaly_score" : (k == 1 ? "anomaly" : NULL);
}

static int s_summary_json(const void *vm, ch_buf *j)
{
    const s_model *md = vm;
    ch_buf_puts(j, ",\n  \"threshold\": ");
    ch_buf_json_num(j, md->threshold);
    ch_buf_printf(j, ",\n  \"n_anomalies\": %llu", (unsigned long long)md->n_anomalies);
    ch_buf_printf(j, ",\n  \"n_train\": %llu", (unsigned long long)md->n_train);
    if (md->eval.has) {
        const s_eval *e = &md->eval;
        ch_buf_puts(j, ",\n  \"auc\": ");
        ch_buf_json_num(j, e->auc);
        ch_buf_puts(j, ",\n  \"average_precision\": ");
        ch_buf_json_num(j, e->ap);
        ch_buf_puts(j, ",\n  \"precision_at_k\": ");
        ch_buf_json_num(j, e->p_at_k);
        ch_buf_printf(j,
                      ",\n  \"evaluation\": {\"rows\": %llu, \"anomalies\": %llu, "
                      "\"flagged\": %llu, \"precision_at_threshold\": ",
                      (unsigned long long)e->n, (unsigned long long)e->n_positive,
                      (unsigned long long)e->n_flagged);
        ch_buf_json_num(j, e->p_at_thr);
        ch_buf_puts(j, ", \"recall_at_threshold\": ");
        ch_buf_json_num(j, e->r_at_thr);
        ch_buf_puts(j, "}");
    }
    ch_buf_puts(j, ",\n  \"anomalies\": [");
    for (size_t i = 0; i < md->n_top; i++) {
        const s_anom *a = &md->top[i];
        ch_buf_printf(j, "%s\n    {\"rank\": %zu, \"row\": %llu, ", i ? "," : "", i + 1,
                      (unsigned long long)a->row);
        if (a->silo >= 0) {
            ch_buf_printf(j, "\"silo\": %d, ", a->silo);
        }
        ch_buf_puts(j, "\"score\": ");
        ch_buf_json_num(j, a->score);
        ch_buf_puts(j, ", \"features\": [");
        size_t idx[3];
        size_t k = s_top_columns(md, a, idx, 3);
        for (size_t q = 0; q < k; q++) {
            size_t c = idx[q];
            char v[128], r[128];
            s_value_text(md, c, a->value[c], v, sizeof v);
            s_value_text(md, c, md->reference[c], r, sizeof r);
            ch_buf_puts(j, q ? ", {\"name\": " : "{\"name\": ");
            ch_buf_json_str(j, md->names[c]);
            ch_buf_puts(j, ", \"value\": ");
            ch_buf_json_str(j, v);
            ch_buf_puts(j, ", \"typical\": ");
            ch_buf_json_str(j, r);
            ch_buf_puts(j, ", \"share\": ");
            ch_buf_json_num(j, a->share[c]);
            ch_buf_puts(j, "}");
        }
        ch_buf_puts(j, "]}");
    }
    ch_buf_puts(j, md->n_top ? "\n  ]" : "]");
    return j->failed ? CH_ENOMEM : 0;
}

static int s_describe(const void *vm, ch_buf *text)
{
    const s_model *md = vm;
    size_t psi = md->n_trees ? md->trees[0].n_samples : 0;
    ch_buf_printf(text,
                  "Isolation forest: %zu trees, %zu rows per tree (max_samples %s), %zu of %zu "
                  "columns per tree%s, %s splits\n",
                  md->n_trees, psi, md->max_samples_text, md->cfg.max_features, md->n_features,
                  md->cfg.bootstrap ? ", bootstrap" : "",
                  md->cfg.extension_level ? "hyperplane" : "axis-parallel");
    if (md->cfg.contamination > 0) {
        ch_buf_printf(text,
                      "Threshold %.6g (contamination %.4g): %llu of %llu training rows "
                      "flagged\n",
                      md->threshold, md->cfg.contamination, (unsigned long long)md->n_anomalies,
                      (unsigned long long)md->n_train);
    } else {
        ch_buf_printf(text,
                      "Threshold %.6g (contamination auto): %llu of %llu training rows "
                      "flagged\n",
                      md->threshold, (unsigned long long)md->n_anomalies,
                      (unsigned long long)md->n_train);
    }
    if (md->eval.has) {
        ch_buf_printf(text,
                      "Test rows: %llu with %llu labelled anomalies; AUC %.4f, average "
                      "precision %.4f, precision at k %.4f\n",
                      (unsigned long long)md->eval.n, (unsigned long long)md->eval.n_positive,
                      md->eval.auc, md->eval.ap, md->eval.p_at_k);
    }
    for (size_t i = 0; i < md->n_top; i++) {
        const s_anom *a = &md->top[i];
        ch_buf_printf(text, "%3zu. row %llu score %.4f:", i + 1, (unsigned long long)a->row,
                      a->score);
        size_t idx[3];
        size_t k = s_top_columns(md, a, idx, 3);
        for (size_t q = 0; q < k; q++) {
            char v[128], r[128];
            s_value_text(md, idx[q], a->value[idx[q]], v, sizeof v);
            s_value_text(md, idx[q], md->reference[idx[q]], r, sizeof r);
            ch_buf_printf(text, " %s=%s (typical %s, %.0f%%)", md->names[idx[q]], v, r,
                          100 * a->share[idx[q]]);
        }
        ch_buf_puts(text, "\n");
    }
    return text->failed ? CH_ENOMEM : 0;
}

static int s_report(const void *vm, ch_report *r, ch_err *err)
{
    const s_model *md = vm;
    char v[8][96];
    size_t psi = md->n_trees ? md->trees[0].n_samples : 0;
    snprintf(v[0], sizeof v[0], "%zu", md->n_trees);
    snprintf(v[1], sizeof v[1], "%zu (max_samples %s)", psi, md->max_samples_text);
    snprintf(v[2], sizeof v[2], "%zu of %zu%s", md->cfg.max_features, md->n_features,
             md->cfg.bootstrap ? ", rows with replacement" : "");
    snprintf(v[3], sizeof v[3], "%s",
             md->cfg.extension_level ? "hyperplanes (extended isolation forest)" : "axis-parallel");
    if (md->cfg.contamination > 0) {
        snprintf(v[4], sizeof v[4], "%.6g (contamination %.4g)", md->threshold,
                 md->cfg.contamination);
    } else {
        snprintf(v[4], sizeof v[4], "%.6g (contamination auto)", md->threshold);
    }
    snprintf(v[5], sizeof v[5], "%llu of %llu (%.2f%%)", (unsigned long long)md->n_anomalies,
             (unsigned long long)md->n_train,
             md->n_train ? 100.0 * (double)md->n_anomalies / (double)md->n_train : 0.0);
    const char *keys[] = {"trees",
                          "rows per tree",
                          "columns per tree",
                          "splits",
                          "threshold (score >= threshold is an anomaly)",
                          "training rows flagged"};
    const char *vals[] = {v[0], v[1], v[2], v[3], v[4], v[5]};
    ch_report_section(r, "Isolation forest");
    int rc = ch_report_kv(r, keys, vals, 6);
    if (rc == 0 && md->hist) {
        double x[REPORT_BINS], y[REPORT_BINS];
        double ymax = 0;
        for (size_t b = 0; b < REPORT_BINS; b++) {
            x[b] = (b + 0.5) / REPORT_BINS;
            y[b] = 0;
        }
        for (size_t b = 0; b < HIST_BINS; b++) {
            y[b * REPORT_BINS / HIST_BINS] += (double)md->hist[b];
        }
        for (size_t b = 0; b < REPORT_BINS; b++) {
            ymax = y[b] > ymax ? y[b] : ymax;
        }
        double tx[2] = {md->threshold, md->threshold}, ty[2] = {0, ymax};
        ch_svg_series s[2] = {{"training rows", x, y, REPORT_BINS}, {"threshold", tx, ty, 2}};
        ch_svg_line_opts o = {.title = "Anomaly scores of the training rows",
                              .x_label = "anomaly score",
                              .y_label = "rows"};
        rc = ch_report_line_chart(r, &o, s, 2);
    }
    if (rc == 0 && md->eval.has) {
        const s_eval *e = &md->eval;
        char w[7][64];
        snprintf(w[0], sizeof w[0], "%llu (%llu labelled anomalies)", (unsigned long long)e->n,
                 (unsigned long long)e->n_positive);
        snprintf(w[1], sizeof w[1], "%.4f", e->auc);
        snprintf(w[2], sizeof w[2], "%.4f", e->ap);
        snprintf(w[3], sizeof w[3], "%.4f (k = %llu)", e->p_at_k,
                 (unsigned long long)e->n_positive);
        snprintf(w[4], sizeof w[4], "%llu", (unsigned long long)e->n_flagged);
        snprintf(w[5], sizeof w[5], "%.4f", e->p_at_thr);
        snprintf(w[6], sizeof w[6], "%.4f", e->r_at_thr);
        const char *ek[] = {"held-out rows",        "ROC AUC",
                            "average precision",    "precision at k",
                            "flagged at threshold", "precision at threshold",
                            "recall at threshold"};
        const char *evv[] = {w[0], w[1], w[2], w[3], w[4], w[5], w[6]};
        ch_report_section(r, "Scores against the labels (held-out rows)");
        rc = ch_report_kv(r, ek, evv, 7);
        if (rc == 0) {
            double dx[2] = {0, 1}, dy[2] = {0, 1};
            ch_svg_series s[2] = {{"isolation forest", e->roc_fpr, e->roc_tpr, e->n_roc},
                                  {"chance", dx, dy, 2}};
            ch_svg_line_opts o = {.title = "ROC curve",
                                  .x_label = "false positive rate",
                                  .y_label = "true positive rate"};
            rc = ch_report_line_chart(r, &o, s, 2);
        }
        if (rc == 0) {
            ch_svg_series s = {"isolation forest", e->pr_recall, e->pr_precision, e->n_pr};
            ch_svg_line_opts o = {
                .title = "Precision-recall curve", .x_label = "recall", .y_label = "precision"};
            rc = ch_report_line_chart(r, &o, &s, 1);
        }
    }
    if (rc == 0 && md->n_top) {
        ch_report_section(r, "Most anomalous training rows");
        ch_report_paragraph(r, "Each row's three columns with the largest share of the splits "
                               "that isolated it (a split counts 1 / path length, so trees that "
                               "isolate the row early weigh most), with the row's value and the "
                               "typical value (median over the trees' subsamples; the most "
                               "common level for a categorical column).");
        size_t nc = 6;
        char **cells = calloc(md->n_top * nc, sizeof *cells);
        if (!cells) {
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < md->n_top && rc == 0; i++) {
            const s_anom *a = &md->top[i];
            char b[3][400];
            snprintf(b[0], sizeof b[0], "%zu", i + 1);
            cells[i * nc] = strdup(b[0]);
            if (a->silo >= 0) {
                snprintf(b[0], sizeof b[0], "silo %d row %llu", a->silo,
                         (unsigned long long)a->row);
            } else {
                snprintf(b[0], sizeof b[0], "%llu", (unsigned long long)a->row);
            }
            cells[i * nc + 1] = strdup(b[0]);
            snprintf(b[0], sizeof b[0], "%.4f", a->score);
            cells[i * nc + 2] = strdup(b[0]);
            size_t idx[3];
            size_t k = s_top_columns(md, a, idx, 3);
            for (size_t q = 0; q < 3; q++) {
                if (q < k) {
                    char x[128], ref[128];
                    s_value_text(md, idx[q], a->value[idx[q]], x, sizeof x);
                    s_value_text(md, idx[q], md->reference[idx[q]], ref, sizeof ref);
                    snprintf(b[1], sizeof b[1], "%.64s = %s (typical %s; %.0f%%)",
                             md->names[idx[q]], x, ref, 100 * a->share[idx[q]]);
                    cells[i * nc + 3 + q] = strdup(b[1]);
                } else {
                    cells[i * nc + 3 + q] = strdup("");
                }
            }
            for (size_t c = 0; c < nc; c++) {
                if (!cells[i * nc + c]) {
                    rc = ch_err_set(err, CH_ENOMEM, "out of memory");
                }
            }
        }
        static const char *const header[] = {"rank",       "row",        "score",
                                             "1st column", "2nd column", "3rd column"};
        if (rc == 0) {
            rc = ch_report_table(r, header, nc, (const char *const *)cells, md->n_top, -1);
        }
        for (size_t i = 0; i < md->n_top * nc; i++) {
            free(cells[i]);
        }
        free(cells);
        if (rc == 0) {
            double *mean = calloc(md->n_features, sizeof *mean);
            const char **labels = calloc(md->n_features, sizeof *labels);
            if (!mean || !labels) {
                free(mean);
                free(labels);
                return ch_err_set(err, CH_ENOMEM, "out of memory");
            }
            for (size_t jx = 0; jx < md->n_features; jx++) {
                labels[jx] = md->names[jx];
                for (size_t i = 0; i < md->n_top; i++) {
                    mean[jx] += md->top[i].share[jx] / (double)md->n_top;
                }
            }
            ch_svg_bar_opts bo = {.title = "Columns that isolate the top anomalies (mean share)",
                                  .value_label = "share",
                                  .highlight = -1};
            rc = ch_report_bar_chart(r, &bo, labels, mean, md->n_features);
            free(mean);
            free(labels);
        }
    }
    return rc;
}

const ch_algo ch_algo_isolation_forest = {
    .name = "isolation_forest",
    .summary = "isolation forest anomaly detection (Liu, Ting and Zhou 2008; extended "
               "hyperplane splits), trees grown on the workers' shards",
    .needs_target = false,
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
    .evaluate = s_evaluate_hook,
    .output_name = s_output_name,
    .predict = s_predict_flagged,
    .pack = s_pack,
    .unpack = s_unpack,
    .summary_json = s_summary_json,
    .describe = s_describe,
    .report = s_report,
    .model_destroy = s_model_destroy,
};
