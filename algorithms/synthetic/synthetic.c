/* synthetic.c: the `synthetic` algorithm: differentially private synthetic
 * tables by the MST mechanism (McKenna, Miklau and Sheldon 2021), behind the
 * algorithm vtable.
 *
 * Rounds. 0 (only when a numeric column has no given bounds): every shard
 * counts its rows in a grid of signed powers of two per such column; the
 * noisy sums give each column's range. 1: every shard counts the one-way
 * marginals of every column and the two-way marginals of every candidate
 * pair (at most max_cells cells). The coordinator then measures, selects
 * and fits centrally, samples DIR/data.csv and evaluates against the
 * held-out rows.
 *
 * Two modes, chosen by the partition:
 *  - simulation (the coordinator holds the table: iid, stratified, ...):
 *    workers send exact counts, summed over the fixed block tree (integers
 *    in doubles, so the same bytes for any worker count); the coordinator
 *    adds the Gaussian noise once (streams CH_STREAM_NOISE) and runs MST's
 *    exponential-mechanism selection on the exact pair counts. The release
 *    is (epsilon, delta)-DP for the whole training table.
 *  - federated (partition.scheme: by-file, each worker a silo): each silo
 *    adds the noise to its own counts before they leave it (bounds,
 *    one-way and every candidate pair), from a seed of its own read from
 *    the OS (the experiment seed is the coordinator's, which could
 *    regenerate and subtract the noise), so it sends only noisy marginals
 *    and by-file releases differ from run to run;
 *    the coordinator sums them and selects the tree from the noisy pair
 *    tables (post-processing, no exponential mechanism). The statement
 *    holds per silo: each silo's rows are (epsilon, delta)-DP in what it
 *    sent. */
#include "algorithms/algo.h"
#include "algorithms/synthetic/synthetic.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/reduce.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

enum { OP_BOUNDS = 1, OP_COUNT = 2, OP_PRIVACY = 3 };

#define S_MAX_LEN      ((size_t)32 << 20) /* doubles in one count vector */
#define S_BOUNDS_SHARE 0.1                /* of rho, when some bounds are found privately */
#define S_THRESH_SIGMA 4.0                /* a magnitude cell is kept above this many sigma */
#define S_EVAL_ROWS    20000              /* rows evaluate() draws */

typedef struct s_cfg {
    double epsilon, delta;
    long bins, max_cells;
    long rows; /* 0: as many as the training rows */
    const char *aug_column, *aug_class;
    long aug_rows;
    double aug_ratio;
    bool has_prop;     /* augment.proportions given */
    bool priv_eval;    /* model.privacy_eval: compute the DCR figures */
    long target_edges; /* selection steps spent on the target's neighbours first */
} s_cfg;

typedef struct s_coord {
    s_cfg cfg;
    ch_syn_model *m;
    bool by_file;
    size_t n_blocks, n_shards;
    size_t n_train;
    const ch_table *test;
    char *run_dir;
    ch_reduce *reduce;
    size_t len;
    ch_syn_layout layout;
    const ch_table *train; /* simulation: the training rows, for the utility figures */
    bool priv_done;        /* the privacy round ran (or will not) */
    double *priv_hist;     /* the training rows' DCR histogram, from that round */
} s_coord;

typedef struct s_worker {
    const ch_worker_env *env;
    s_cfg cfg;
    ch_syn_model *m; /* the domain from the task */
    ch_syn_layout layout;
    bool by_file;
    uint32_t op;
    size_t shard_first_block;
    double sigma_one, sigma_pairs, sigma_bounds;
    uint64_t secret;   /* by-file: the silo's noise seed, from the OS, never sent */
    uint64_t asked[4]; /* by-file: per op, a hash of the task answered (0: none) */
    long *bcol;        /* OP_BOUNDS: the columns measured */
    size_t n_bcol;
    double *syn; /* OP_PRIVACY: the synthetic sample as points */
    size_t n_syn;
    size_t per_block; /* OP_PRIVACY: training rows used per block at most */
} s_worker;

/* --- configuration ------------------------------------------------------------ */

/* The class levels of col as "'a', 'b', ..." (the first 20). */
static void s_levels(const ch_column *col, ch_buf *b)
{
    for (size_t l = 0; l < col->n_levels && l < 20; l++) {
        ch_buf_printf(b, "%s'%s'", l ? ", " : "", col->levels[l]);
    }
}

/* Reads model.augment.proportions for the categorical column col: every key
 * a level, every share in [0, 1], the shares summing to 1. prop (n_levels,
 * zeroed by the caller; may be NULL) gets the shares. 0 or an error naming
 * the key. */
static int s_read_prop(ch_config *cfg, const ch_column *col, double *prop, ch_err *err)
{
    size_t n = ch_config_len(cfg, "model.augment.proportions");
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        const char *key = ch_config_key(cfg, "model.augment.proportions", i);
        char path[512];
        snprintf(path, sizeof path, "model.augment.proportions.%s", key ? key : "");
        long lev = -1;
        for (size_t l = 0; key && l < col->n_levels; l++) {
            lev = !strcmp(col->levels[l], key) ? (long)l : lev;
        }
        if (lev < 0) {
            ch_buf b;
            ch_buf_init(&b);
            s_levels(col, &b);
            int rc =
                ch_err_set(err, CH_EINVAL,
                           "%s: model.augment.proportions names '%s', not a class of '%s' "
                           "(classes: %s)",
                           ch_config_where(cfg, path), key ? key : "", col->name, ch_buf_str(&b));
            ch_buf_free(&b);
            return rc;
        }
        double v = 0;
        int rc = ch_cfg_num(cfg, path, 0, 0, 1, &v, err);
        if (rc != 0) {
            return rc;
        }
        if (prop) {
            prop[lev] = v;
        }
        sum += v;
    }
    if (fabs(sum - 1) > 1e-6) {
        return ch_err_set(err, CH_EINVAL, "%s: model.augment.proportions sum to %g, not 1",
                          ch_config_where(cfg, "model.augment.proportions"), sum);
    }
    return 0;
}

static int s_read_cfg(ch_config *cfg, const ch_schema *schema, s_cfg *c, ch_err *err)
{
    memset(c, 0, sizeof *c);
    int rc;
    if ((rc = ch_cfg_num(cfg, "model.epsilon", 1.0, -1e300, 1e300, &c->epsilon, err)) ||
        (rc = ch_cfg_num(cfg, "model.delta", 1e-5, -1e300, 1e300, &c->delta, err)) ||
        (rc = ch_cfg_int(cfg, "model.bins", 8, 2, CH_SYN_MAX_BINS, &c->bins, err)) ||
        (rc = ch_cfg_int(cfg, "model.max_cells", 10000, 4, 100000000, &c->max_cells, err)) ||
        (rc = ch_cfg_int(cfg, "model.rows", 0, 0, 100000000000L, &c->rows, err)) ||
        (rc = ch_cfg_bool(cfg, "model.privacy_eval", true, &c->priv_eval, err)) ||
        (rc =
             ch_cfg_int(cfg, "model.target_edges", 0, 0, CH_SYN_MAX_COLS, &c->target_edges, err))) {
        return rc;
    }
    if (!(c->epsilon > 0) || !isfinite(c->epsilon)) {
        return ch_err_set(err, CH_EINVAL,
                          "%s: model.epsilon must be a positive number (the privacy budget), "
                          "got %g",
                          ch_config_where(cfg, "model.epsilon"), c->epsilon);
    }
    if (!(c->delta > 0 && c->delta < 1)) {
        return ch_err_set(err, CH_EINVAL, "%s: model.delta must be in (0, 1), got %g",
                          ch_config_where(cfg, "model.delta"), c->delta);
    }
    bool aug = ch_config_has(cfg, "model.augment");
    const char *tname = schema && schema->target.name ? schema->target.name : NULL;
    if (aug) {
        c->has_prop = ch_config_has(cfg, "model.augment.proportions");
        if ((rc = ch_cfg_str(cfg, "model.augment.column", tname ? tname : "", &c->aug_column,
                             err)) ||
            (rc = ch_cfg_str(cfg, "model.augment.class", c->has_prop ? "" : NULL, &c->aug_class,
                             err)) ||
            (rc = ch_cfg_int(cfg, "model.augment.rows", 0, 0, 100000000000L, &c->aug_rows, err)) ||
            (rc = ch_cfg_num(cfg, "model.augment.ratio", 0, 0, 1e6, &c->aug_ratio, err))) {
            return rc;
        }
        /* (the defaults are written back into the config the workers get:
         * an empty class and zero rows and ratio are "not given") */
        if (c->has_prop && (c->aug_class[0] || c->aug_rows > 0 || c->aug_ratio > 0)) {
            return ch_err_set(err, CH_EINVAL,
                              "%s: model.augment.proportions sets the class of every plain row; "
                              "give it without class, rows or ratio",
                              ch_config_where(cfg, "model.augment.proportions"));
        }
        if (c->has_prop && ch_config_len(cfg, "model.augment.proportions") == 0) {
            return ch_err_set(err, CH_EINVAL,
                              "%s: model.augment.proportions must map classes to shares, e.g. "
                              "{\"yes\": 0.5, \"no\": 0.5}",
                              ch_config_where(cfg, "model.augment.proportions"));
        }
        if (c->aug_rows > 0 && c->aug_ratio > 0) {
            return ch_err_set(err, CH_EINVAL,
                              "%s: give model.augment.rows or model.augment.ratio, not both",
                              ch_config_where(cfg, "model.augment"));
        }
    }
    size_t nb = ch_config_len(cfg, "model.bounds");
    for (size_t i = 0; i < nb; i++) {
        const char *key = ch_config_key(cfg, "model.bounds", i);
        char path[512];
        snprintf(path, sizeof path, "model.bounds.%s", key ? key : "");
        double v[2];
        size_t n = 0;
        rc = ch_cfg_num_list(cfg, path, v, 2, &n, err);
        if (rc == 0 && (n != 2 || !(v[0] < v[1]) || !isfinite(v[0]) || !isfinite(v[1]))) {
            rc = ch_err_set(err, CH_EINVAL, "%s: %s must be [low, high] with low < high",
                            ch_config_where(cfg, path), path);
        }
        if (rc) {
            return rc;
        }
    }
    if (!schema) {
        return 0;
    }
    for (size_t i = 0; i < nb; i++) {
        const char *key = ch_config_key(cfg, "model.bounds", i);
        bool found = false;
        for (size_t j = 0; j < schema->n_features; j++) {
            if (!strcmp(schema->features[j].name, key)) {
                found = schema->features[j].kind == CH_COL_NUMERIC;
            }
        }
        if (tname && !strcmp(tname, key)) {
            found = schema->target.kind == CH_COL_NUMERIC;
        }
        if (!found) {
            char path[512];
            snprintf(path, sizeof path, "model.bounds.%s", key);
            return ch_err_set(err, CH_EINVAL, "%s: model.bounds names '%s', not a numeric column",
                              ch_config_where(cfg, path), key);
        }
    }
    size_t nc = schema->n_features + (tname ? 1 : 0);
    if (nc < 1 || nc > CH_SYN_MAX_COLS) {
        return ch_err_set(err, CH_EINVAL, "synthetic: %zu columns (1 to %d supported)", nc,
                          CH_SYN_MAX_COLS);
    }
    for (size_t j = 0; j < nc; j++) {
        const ch_column *col = j < schema->n_features ? &schema->features[j] : &schema->target;
        if (col->kind == CH_COL_CATEGORICAL && col->n_levels < 2) {
            return ch_err_set(err, CH_EINVAL,
                              "synthetic: column '%s' has one value ('%s'): nothing to model; "
                              "drop it from the data",
                              col->name, col->n_levels ? col->levels[0] : "");
        }
        if (col->kind == CH_COL_CATEGORICAL && col->n_levels > CH_SYN_MAX_LEVELS) {
            return ch_err_set(err, CH_EINVAL, "synthetic: column '%s' has %zu levels (at most %d)",
                              col->name, col->n_levels, CH_SYN_MAX_LEVELS);
        }
    }
    if (aug) {
        const ch_column *col = NULL;
        for (size_t j = 0; j < nc; j++) {
            const ch_column *x = j < schema->n_features ? &schema->features[j] : &schema->target;
            if (!strcmp(x->name, c->aug_column)) {
                col = x;
            }
        }
        if (!col || col->kind != CH_COL_CATEGORICAL) {
            return ch_err_set(err, CH_EINVAL,
                              "%s: model.augment.column '%s' is not a categorical column",
                              ch_config_where(cfg, "model.augment.column"), c->aug_column);
        }
        if (c->has_prop) {
            return s_read_prop(cfg, col, NULL, err);
        }
        bool has = false;
        for (size_t l = 0; l < col->n_levels; l++) {
            has = has || !strcmp(col->levels[l], c->aug_class);
        }
        if (!has) {
            ch_buf b;
            ch_buf_init(&b);
            s_levels(col, &b);
            rc = ch_err_set(err, CH_EINVAL,
                            "%s: model.augment.class '%s' is not a class of '%s' (classes: %s)",
                            ch_config_where(cfg, "model.augment.class"), c->aug_class, col->name,
                            ch_buf_str(&b));
            ch_buf_free(&b);
            return rc;
        }
    }
    return 0;
}

static int s_configure(ch_config *cfg, const ch_schema *schema, ch_err *err)
{
    s_cfg c;
    return s_read_cfg(cfg, schema, &c, err);
}

/* --- the domain ------------------------------------------------------------------ */

/* Column j of the domain in table t (feature j, or the target). */
static const double *s_values(const ch_syn_domain *d, const ch_table *t, size_t j)
{
    return (long)j == d->target ? t->target.values : t->cols[j].values;
}

/* The domain from the schema and config. With the training table
 * (simulation), integer and missing flags come from the data and given
 * bounds are checked against it (schema facts, treated as public, as MST
 * treats the domain); without it (silos) every column gets a missing cell
 * and no column is integer. */
static int s_domain(ch_config *cfg, const ch_schema *schema, const s_cfg *c, const ch_table *t,
                    ch_syn_domain *d, ch_err *err)
{
    bool has_t = schema->target.name != NULL;
    size_t nc = schema->n_features + (has_t ? 1 : 0);
    d->n_cols = 0;
    d->target = has_t ? (long)schema->n_features : -1;
    d->cols = calloc(nc, sizeof *d->cols);
    if (!d->cols) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    for (size_t j = 0; j < nc; j++) {
        const ch_column *s = j < schema->n_features ? &schema->features[j] : &schema->target;
        ch_syn_col *col = &d->cols[j];
        d->n_cols = j + 1;
        col->name = strdup(s->name);
        col->kind = s->kind;
        if (!col->name) {
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        if (s->kind == CH_COL_CATEGORICAL) {
            col->levels = calloc(s->n_levels, sizeof *col->levels);
            if (!col->levels) {
                return ch_err_set(err, CH_ENOMEM, "out of memory");
            }
            for (size_t l = 0; l < s->n_levels; l++) {
                col->levels[l] = strdup(s->levels[l]);
                col->n_levels = l + 1;
                if (!col->levels[l]) {
                    return ch_err_set(err, CH_ENOMEM, "out of memory");
                }
            }
        } else {
            col->bins = (uint32_t)c->bins;
            char path[512];
            snprintf(path, sizeof path, "model.bounds.%s", s->name);
            double v[2];
            size_t n = 0;
            if (ch_config_has(cfg, path) && ch_cfg_num_list(cfg, path, v, 2, &n, err) == 0 &&
                n == 2) {
                col->lo = v[0];
                col->hi = v[1];
                col->given = true;
            } else {
                col->lo = 0;
                col->hi = 1;
            }
        }
        col->missing = t == NULL;
        if (t) {
            const double *x = s_values(d, t, j);
            bool integer = s->kind == CH_COL_NUMERIC, inside = false;
            double mn = INFINITY, mx = -INFINITY;
            for (size_t i = 0; i < t->n_rows; i++) {
                if (isnan(x[i])) {
                    col->missing = true;
                    continue;
                }
                integer = integer && x[i] == floor(x[i]);
                inside = inside || (x[i] >= col->lo && x[i] <= col->hi);
                mn = x[i] < mn ? x[i] : mn;
                mx = x[i] > mx ? x[i] : mx;
            }
            col->integer = integer;
            if (s->kind == CH_COL_NUMERIC && mn == mx) {
                return ch_err_set(err, CH_EINVAL,
                                  "synthetic: column '%s' has one value (%g): nothing to "
                                  "model; drop it from the data",
                                  s->name, mn);
            }
            if (col->given && !inside) {
                char path[512];
                snprintf(path, sizeof path, "model.bounds.%s", s->name);
                return ch_err_set(err, CH_EINVAL,
                                  "%s: bounds [%g, %g] of '%s' exclude every training value",
                                  ch_config_where(cfg, path), col->lo, col->hi, s->name);
            }
        }
        ch_syn_col_size(col);
    }
    return 0;
}

/* Numeric columns whose range is found privately. */
static size_t s_unbounded(const ch_syn_domain *d, long *idx)
{
    size_t n = 0;
    for (size_t j = 0; j < d->n_cols; j++) {
        if (d->cols[j].kind == CH_COL_NUMERIC && !d->cols[j].given) {
            if (idx) {
                idx[n] = (long)j;
            }
            n++;
        }
    }
    return n;
}

/* The budget split for a domain: rho from (epsilon, delta); 10% for the
 * private bounds when any; the rest in thirds (one-way, selection,
 * two-way) as in MST, or in the federated mode one third for the one-way
 * and two thirds for every candidate pair (no exponential mechanism). */
static void s_budget(const s_cfg *c, const ch_syn_domain *d, const ch_syn_layout *l, bool by_file,
                     ch_syn_budget *b)
{
    memset(b, 0, sizeof *b);
    b->epsilon = c->epsilon;
    b->delta = c->delta;
    b->rho = ch_syn_cdp_rho(c->epsilon, c->delta);
    b->federated = by_file;
    b->n_bounds = (uint32_t)s_unbounded(d, NULL);
    double rest = b->rho;
    if (b->n_bounds) {
        b->rho_bounds = S_BOUNDS_SHARE * b->rho;
        rest -= b->rho_bounds;
        b->sigma_bounds = ch_syn_gauss_sigma(b->rho_bounds / b->n_bounds, 1);
    }
    size_t n = d->n_cols;
    b->n_oneway = (uint32_t)n;
    size_t steps = n > 1 ? n - 1 : 0;
    if (by_file) {
        b->rho_oneway = rest / 3;
        b->rho_pairs = rest - b->rho_oneway;
        b->n_pairs = l ? (uint32_t)l->n_pairs : 0;
    } else {
        b->rho_oneway = rest / 3;
        b->rho_select = steps ? rest / 3 : 0;
        b->rho_pairs = rest - b->rho_oneway - b->rho_select;
        b->n_select = (uint32_t)steps;
        b->n_pairs = (uint32_t)steps;
        b->eps_select = steps ? ch_syn_em_eps(b->rho_select / (double)steps) : 0;
    }
    b->sigma_oneway = ch_syn_gauss_sigma(b->rho_oneway / (double)n, 1);
    b->sigma_pairs = b->n_pairs ? ch_syn_gauss_sigma(b->rho_pairs / b->n_pairs, 1) : 0;
}

/* --- coordinator ------------------------------------------------------------------- */

static void s_coord_destroy(void **pst)
{
    if (!pst || !*pst) {
        return;
    }
    s_coord *st = *pst;
    ch_syn_model_destroy(&st->m);
    ch_reduce_destroy(&st->reduce);
    ch_syn_layout_free(&st->layout);
    free(st->priv_hist);
    free(st->run_dir);
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
    void *p = st;
    if (s_read_cfg(env->cfg, env->schema, &st->cfg, err) != 0) {
        s_coord_destroy(&p);
        return NULL;
    }
    st->m = ch_syn_model_new();
    st->run_dir = env->run_dir ? strdup(env->run_dir) : NULL;
    if (!st->m || (env->run_dir && !st->run_dir)) {
        ch_err_set(err, CH_ENOMEM, "out of memory");
        s_coord_destroy(&p);
        return NULL;
    }
    st->by_file = env->train == NULL;
    st->n_blocks = env->n_blocks;
    st->n_shards = env->n_shards;
    st->n_train = env->n_train;
    st->test = env->test;
    st->train = env->train;
    /* the privacy round needs held-out rows to compare with. Silos send a
     * histogram of their rows' distances to the synthetic sample without
     * noise, outside the (epsilon, delta) statement: by-file runs do it only
     * when model.privacy_eval says so explicitly. */
    bool by_file_eval = !ch_config_is_default(env->cfg, "model.privacy_eval") && st->cfg.priv_eval;
    st->priv_done = !st->cfg.priv_eval || (st->by_file && !by_file_eval) || !env->test ||
                    env->test->n_rows == 0 || (env->schema->target.name && !env->test->has_target);
    if (st->by_file && !st->priv_done) {
        ch_warn("model.privacy_eval: every silo sends a histogram of its rows' distances to "
                "the synthetic sample, without noise (outside the (epsilon, delta) statement)");
    }
    ch_syn_model *m = st->m;
    if (s_domain(env->cfg, env->schema, &st->cfg, env->train, &m->dom, err) != 0) {
        s_coord_destroy(&p);
        return NULL;
    }
    m->seed = env->seed;
    m->stage = s_unbounded(&m->dom, NULL) ? 0 : 1;
    s_budget(&st->cfg, &m->dom, NULL, st->by_file, &m->budget);
    /* 0 until fitted: then the noisy row count (the exact training count
     * is not released) unless model.rows is given */
    m->rows = (uint64_t)st->cfg.rows;
    if (st->cfg.aug_class) {
        for (size_t j = 0; j < m->dom.n_cols; j++) {
            const ch_syn_col *c = &m->dom.cols[j];
            if (!strcmp(c->name, st->cfg.aug_column)) {
                m->aug_col = (long)j;
                for (size_t l = 0; l < c->n_levels; l++) {
                    if (!strcmp(c->levels[l], st->cfg.aug_class)) {
                        m->aug_cell = (uint32_t)l;
                    }
                }
            }
        }
    }
    if (st->cfg.has_prop && m->aug_col >= 0) {
        const ch_schema *sc = env->schema;
        size_t j = (size_t)m->aug_col;
        const ch_column *col = j < sc->n_features ? &sc->features[j] : &sc->target;
        m->prop = calloc(col->n_levels, sizeof *m->prop);
        if (!m->prop) {
            ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        if (!m->prop || s_read_prop(env->cfg, col, m->prop, err) != 0) {
            s_coord_destroy(&p);
            return NULL;
        }
    }
    return st;
}

/* Payload: one byte (1 = by-file silos add their own noise), then the
 * packed model holding the domain. */
static int s_next_task(void *vst, uint32_t round, uint32_t *op, ch_buf *payload, ch_err *err)
{
    s_coord *st = vst;
    (void)round;
    ch_syn_model *m = st->m;
    if (m->stage == 2 && st->priv_done) {
        return 1;
    }
    ch_reduce_destroy(&st->reduce);
    if (m->stage == 2) {
        /* the privacy round: the fitted model goes to the rows, which send
         * back a histogram of their distances to its sample */
        *op = OP_PRIVACY;
        st->len = CH_SYN_DCR_CELLS;
    } else if (m->stage == 0) {
        *op = OP_BOUNDS;
        st->len = s_unbounded(&m->dom, NULL) * CH_SYN_MAG_CELLS;
    } else {
        *op = OP_COUNT;
        ch_syn_layout_free(&st->layout);
        int rc =
            ch_syn_layout_make(&m->dom, (size_t)st->cfg.max_cells, S_MAX_LEN, &st->layout, err);
        if (rc != 0) {
            return rc;
        }
        st->len = st->layout.len;
    }
    st->reduce = ch_reduce_new(st->n_blocks, st->len, ch_combine_sum, NULL);
    if (!st->reduce) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    uint8_t flag = st->by_file;
    ch_buf_append(payload, &flag, 1);
    if (payload->failed) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    return ch_syn_model_pack(m, payload, err);
}

/* Sets each unbounded column's range from its noisy magnitude histogram. */
static int s_set_bounds(s_coord *st, double *sum, ch_err *err)
{
    ch_syn_model *m = st->m;
    ch_syn_budget *b = &m->budget;
    long idx[CH_SYN_MAX_COLS];
    size_t nb = s_unbounded(&m->dom, idx);
    /* simulation: exact sums, noise added here once; federated: each silo
     * added its own, so the sum carries n_shards times the variance */
    double sigma = b->sigma_bounds * (st->by_file ? sqrt((double)st->n_shards) : 1.0);
    ch_rng r;
    for (size_t k = 0; k < nb; k++) {
        double *h = sum + k * CH_SYN_MAG_CELLS;
        if (!st->by_file) {
            ch_rng_init(&r, m->seed,
                        ch_rng_stream(CH_STREAM_NOISE, CH_SYN_NOISE_BOUNDS * 4096 + k));
            ch_syn_gauss(h, CH_SYN_MAG_CELLS, sigma, &r);
        }
        ch_syn_col *c = &m->dom.cols[idx[k]];
        if (!ch_syn_mag_range(h, S_THRESH_SIGMA * sigma, &c->lo, &c->hi)) {
            return ch_err_set(err, CH_EINVAL,
                              "synthetic: no range for column '%s' at this budget (noise sigma "
                              "%.3g per count): give model.bounds.%s: [low, high] or raise "
                              "model.epsilon",
                              c->name, sigma, c->name);
        }
    }
    return 0;
}

/* Inverse-variance combination of a column's one-way estimates: its own
 * noisy marginal and the sums of every tree edge's table over the other
 * column; then projected to non-negative counts summing to the total. */
static void s_combine_oneway(ch_syn_model *m, size_t j, const double *y1, double v1, double **pairs,
                             double v2, double *out)
{
    size_t sz = m->dom.cols[j].size;
    double wsum = 1 / v1;
    for (size_t k = 0; k < sz; k++) {
        out[k] = y1[k] / v1;
    }
    for (size_t e = 0; e < m->n_edges; e++) {
        const ch_syn_edge *ed = &m->edges[e];
        if (ed->a != j && ed->b != j) {
            continue;
        }
        size_t sa = m->dom.cols[ed->a].size, sb = m->dom.cols[ed->b].size;
        double w = 1 / (v2 * (double)(ed->a == j ? sb : sa));
        for (size_t k = 0; k < sz; k++) {
            double s = 0;
            if (ed->a == j) {
                for (size_t y = 0; y < sb; y++) {
                    s += pairs[e][k * sb + y];
                }
            } else {
                for (size_t x = 0; x < sa; x++) {
                    s += pairs[e][x * sb + k];
                }
            }
            out[k] += w * s;
        }
        wsum += w;
    }
    for (size_t k = 0; k < sz; k++) {
        out[k] /= wsum;
    }
    ch_syn_project_simplex(out, sz, m->total);
}

/* Federated selection: Kruskal's maximum spanning tree over the noisy pair
 * tables' L1 distance from independence, less the noise's expected L1. */
static long s_select_noisy(const ch_syn_layout *l, const double *y, const double *p, double total,
                           double sigma, uint32_t *chosen)
{
    size_t np = l->n_pairs, n = l->n_cols;
    double *score = malloc((np ? np : 1) * sizeof *score);
    size_t *ord = malloc((np ? np : 1) * sizeof *ord);
    uint32_t *parent = malloc((n ? n : 1) * sizeof *parent);
    if (!score || !ord || !parent) {
        free(score);
        free(ord);
        free(parent);
        return CH_ENOMEM;
    }
    for (size_t k = 0; k < np; k++) {
        const ch_syn_pair *pr = &l->pairs[k];
        size_t sa = l->one_off[pr->a + 1] - l->one_off[pr->a];
        size_t sb = l->one_off[pr->b + 1] - l->one_off[pr->b];
        double s = 0;
        for (size_t x = 0; x < sa; x++) {
            for (size_t q = 0; q < sb; q++) {
                s += fabs(y[pr->off + x * sb + q] -
                          total * p[l->one_off[pr->a] + x] * p[l->one_off[pr->b] + q]);
            }
        }
        score[k] = s - (double)(sa * sb) * sigma * sqrt(2 / M_PI);
        ord[k] = k;
    }
    /* insertion sort by score, high first, ties by index */
    for (size_t i = 1; i < np; i++) {
        size_t x = ord[i], q = i;
        while (q > 0 && score[ord[q - 1]] < score[x]) {
            ord[q] = ord[q - 1];
            q--;
        }
        ord[q] = x;
    }
    for (size_t j = 0; j < n; j++) {
        parent[j] = (uint32_t)j;
    }
    long m = 0;
    for (size_t i = 0; i < np; i++) {
        uint32_t a = l->pairs[ord[i]].a, b = l->pairs[ord[i]].b;
        while (parent[a] != a) {
            a = parent[a];
        }
        while (parent[b] != b) {
            b = parent[b];
        }
        if (a != b) {
            parent[a] = b;
            chosen[m++] = (uint32_t)ord[i];
        }
    }
    free(score);
    free(ord);
    free(parent);
    return m;
}

/* Measurement, selection and consistency from the summed count vector. */
static int s_fit(s_coord *st, double *sum, ch_err *err)
{
    ch_syn_model *m = st->m;
    const ch_syn_layout *l = &st->layout;
    size_t n = m->dom.n_cols;
    s_budget(&st->cfg, &m->dom, l, st->by_file, &m->budget);
    ch_syn_budget *b = &m->budget;
    double inflate = st->by_file ? sqrt((double)st->n_shards) : 1.0;
    double s1 = b->sigma_oneway * inflate, s2 = b->sigma_pairs * inflate;
    size_t n_one = l->one_off[n];
    double *y1 = malloc(n_one * sizeof *y1);
    double *p = malloc(n_one * sizeof *p);
    uint32_t *chosen = malloc((n ? n : 1) * sizeof *chosen);
    double **pairs = calloc(n ? n : 1, sizeof *pairs);
    int rc = y1 && p && chosen && pairs ? 0 : CH_ENOMEM;
    ch_rng r;
    if (rc == 0) {
        memcpy(y1, sum, n_one * sizeof *y1);
        if (!st->by_file) {
            ch_rng_init(&r, m->seed, ch_rng_stream(CH_STREAM_NOISE, CH_SYN_NOISE_ONEWAY * 4096));
            ch_syn_gauss(y1, n_one, s1, &r);
        }
        /* the total: mean of the columns' noisy sums, weighted by 1/cells */
        double tw = 0, ts = 0;
        for (size_t j = 0; j < n; j++) {
            size_t sz = l->one_off[j + 1] - l->one_off[j];
            double s = 0;
            for (size_t k = 0; k < sz; k++) {
                s += y1[l->one_off[j] + k];
            }
            ts += s / (double)sz;
            tw += 1 / (double)sz;
        }
        m->total = ts / tw > 1 ? ts / tw : 1;
        for (size_t j = 0; j < n; j++) {
            size_t sz = l->one_off[j + 1] - l->one_off[j];
            /* project the noisy counts onto counts summing to the total,
             * then divide: projecting counts straight onto the probability
             * simplex would put all the mass on the largest cell */
            double *pj = p + l->one_off[j];
            memcpy(pj, y1 + l->one_off[j], sz * sizeof *p);
            ch_syn_project_simplex(pj, sz, m->total);
            for (size_t k = 0; k < sz; k++) {
                pj[k] /= m->total;
            }
        }
        long k;
        if (st->by_file) {
            k = s_select_noisy(l, sum, p, m->total, s2, chosen);
        } else {
            ch_rng_init(&r, m->seed, ch_rng_stream(CH_STREAM_NOISE, CH_SYN_NOISE_SELECT * 4096));
            /* a categorical target gets its neighbours first: in a tree
             * only they carry information about it */
            long tj = m->dom.target;
            bool cls = tj >= 0 && m->dom.cols[tj].kind == CH_COL_CATEGORICAL;
            k = ch_syn_select(l, sum, p, m->total, b->eps_select, cls ? tj : -1,
                              cls ? (size_t)st->cfg.target_edges : 0, &r, chosen);
        }
        rc = k < 0 ? CH_ENOMEM : 0;
        m->n_edges = 0;
        m->edges = rc == 0 ? calloc(n, sizeof *m->edges) : NULL;
        rc = rc == 0 && !m->edges ? CH_ENOMEM : rc;
        for (long e = 0; rc == 0 && e < k; e++) {
            const ch_syn_pair *pr = &l->pairs[chosen[e]];
            size_t cells = m->dom.cols[pr->a].size * m->dom.cols[pr->b].size;
            pairs[e] = malloc(cells * sizeof(double));
            m->edges[e].joint = malloc(cells * sizeof(double));
            m->edges[e].a = pr->a;
            m->edges[e].b = pr->b;
            m->n_edges = (size_t)e + 1;
            if (!pairs[e] || !m->edges[e].joint) {
                rc = CH_ENOMEM;
                break;
            }
            memcpy(pairs[e], sum + pr->off, cells * sizeof(double));
            if (!st->by_file) {
                ch_rng_init(&r, m->seed,
                            ch_rng_stream(CH_STREAM_NOISE, CH_SYN_NOISE_PAIRS * 4096 + (size_t)e));
                ch_syn_gauss(pairs[e], cells, s2, &r);
            }
        }
    }
    if (rc == 0) {
        m->oneway = calloc(n, sizeof *m->oneway);
        rc = m->oneway ? 0 : CH_ENOMEM;
        for (size_t j = 0; rc == 0 && j < n; j++) {
            m->oneway[j] = malloc(m->dom.cols[j].size * sizeof(double));
            rc = m->oneway[j] ? 0 : CH_ENOMEM;
            if (rc == 0) {
                s_combine_oneway(m, j, y1 + l->one_off[j], s1 * s1, pairs, s2 * s2, m->oneway[j]);
            }
        }
        for (size_t e = 0; rc == 0 && e < m->n_edges; e++) {
            ch_syn_edge *ed = &m->edges[e];
            size_t sa = m->dom.cols[ed->a].size, sb = m->dom.cols[ed->b].size;
            memcpy(ed->joint, pairs[e], sa * sb * sizeof(double));
            ch_syn_project_simplex(ed->joint, sa * sb, m->total);
            ch_syn_ipf(ed->joint, sa, sb, m->oneway[ed->a], m->oneway[ed->b], 100);
        }
    }
    for (size_t e = 0; pairs && e < n; e++) {
        free(pairs[e]);
    }
    free(pairs);
    free(y1);
    free(p);
    free(chosen);
    if (rc != 0) {
        return ch_err_set(err, rc, "out of memory fitting the synthetic model");
    }
    m->stage = 2;
    return 0;
}

static int s_aggregate(void *vst, uint32_t round, uint32_t op, const ch_update *ups, size_t n,
                       ch_round_metrics *mt, ch_err *err)
{
    s_coord *st = vst;
    (void)round;
    if (!st->reduce || (op == OP_BOUNDS) != (st->m->stage == 0) ||
        (op == OP_PRIVACY) != (st->m->stage == 2)) {
        return ch_err_set(err, CH_EPROTO, "synthetic: unexpected op %u", op);
    }
    for (size_t i = 0; i < n; i++) {
        int rc = ch_reduce_add(st->reduce, ups[i].state, ups[i].state_len, err);
        if (rc != 0) {
            return ch_err_prefix(err, "synthetic: update of shard %u", ups[i].shard);
        }
    }
    double *sum = malloc((st->len ? st->len : 1) * sizeof *sum);
    if (!sum) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    int rc = ch_reduce_finish(st->reduce, sum, err);
    ch_reduce_destroy(&st->reduce);
    if (rc == 0 && op == OP_PRIVACY) {
        /* the training rows' histogram */
        st->priv_done = true;
        free(st->priv_hist);
        st->priv_hist = sum;
        sum = NULL;
    } else if (rc == 0 && op == OP_BOUNDS) {
        rc = s_set_bounds(st, sum, err);
        if (rc == 0) {
            st->m->stage = 1;
            ch_round_metric(mt, "bounded_columns", (double)s_unbounded(&st->m->dom, NULL));
        }
    } else if (rc == 0) {
        rc = s_fit(st, sum, err);
        if (rc == 0) {
            ch_round_metric(mt, "candidate_pairs", (double)st->layout.n_pairs);
            ch_round_metric(mt, "tree_edges", (double)st->m->n_edges);
            ch_round_metric(mt, "epsilon", st->m->budget.epsilon);
        }
    }
    free(sum);
    return rc;
}

#define S_UTIL_ROWS 20000 /* rows a utility model is fitted on at most */

/* A table of the domain's columns in order (as generated): rows
 * [a0, a0 + na) of a then [b0, b0 + nb) of b (either a real table, the
 * target apart, or a generated one). NULL on CH_ENOMEM. */
static ch_table *s_stack(const ch_syn_domain *d, const ch_table *a, size_t a0, size_t na,
                         const ch_table *b, size_t b0, size_t nb)
{
    ch_table *t = ch_table_new(na + nb);
    for (size_t j = 0; t && j < d->n_cols; j++) {
        double *v = ch_alloc_array(na + nb ? na + nb : 1, sizeof(double));
        const double *x =
            na ? ((long)j == d->target && a->has_target ? a->target.values : a->cols[j].values)
               : NULL;
        const double *y =
            nb ? ((long)j == d->target && b->has_target ? b->target.values : b->cols[j].values)
               : NULL;
        if (v) {
            for (size_t i = 0; i < na; i++) {
                v[i] = x[a0 + i];
            }
            for (size_t i = 0; i < nb; i++) {
                v[na + i] = y[b0 + i];
            }
        }
        /* every column as numeric: the utility fit reads kinds from the domain */
        if (!v || ch_table_add_column(t, d->cols[j].name, CH_COL_NUMERIC, v, NULL, 0) != 0) {
            ch_table_destroy(&t);
        }
    }
    return t;
}

/* The privacy figures: the held-out rows' DCR histogram against the same
 * synthetic sample the workers drew, with their training-row histogram. */
static int s_privacy(s_coord *st, ch_err *err)
{
    ch_syn_model *m = st->m;
    if (!st->priv_hist) {
        return 0;
    }
    size_t ns = CH_SYN_PRIV_ROWS;
    size_t nh = st->test->n_rows < CH_SYN_PRIV_ROWS ? st->test->n_rows : CH_SYN_PRIV_ROWS;
    double *hh = calloc(CH_SYN_DCR_CELLS, sizeof *hh);
    ch_table *syn = hh ? ch_syn_generate(m, ns, 0, CH_SYN_STREAM_PRIV, err) : NULL;
    double *pts = syn ? ch_syn_points(&m->dom, syn, ns, err) : NULL;
    int rc = pts ? ch_syn_dcr_hist(&m->dom, pts, ns, st->test, NULL, nh, hh, err) : CH_ENOMEM;
    if (rc == 0) {
        ch_syn_privacy_from_hist(st->priv_hist, hh, &m->priv);
        m->priv.n_synthetic = (double)ns;
    } else if (!err || !err->code) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    free(pts);
    free(hh);
    ch_table_destroy(&syn);
    return rc;
}

/* The utility figures: logistic regressions fitted on the real training
 * rows (simulation), the synthetic plain rows of t (n plain, then n_aug
 * augmented), the real rows plus the augmented ones, and all of t; each
 * scored on the held-out rows. Capped at S_UTIL_ROWS rows, keeping the
 * plain:augmented ratio. */
static int s_utility(s_coord *st, const ch_table *t, size_t n, size_t n_aug, ch_err *err)
{
    ch_syn_model *m = st->m;
    const ch_syn_domain *d = &m->dom;
    if (!st->test || d->target < 0 || d->cols[d->target].kind != CH_COL_CATEGORICAL) {
        return 0;
    }
    ch_syn_utility *u = &m->util;
    size_t np = n < S_UTIL_ROWS ? n : S_UTIL_ROWS;
    int rc = ch_syn_fit_eval(d, t, np, st->test, &u->synth, err);
    size_t nr = st->train ? (st->train->n_rows < S_UTIL_ROWS ? st->train->n_rows : S_UTIL_ROWS) : 0;
    if (rc == 0 && nr) {
        rc = ch_syn_fit_eval(d, st->train, nr, st->test, &u->real, err);
    }
    if (rc == 0 && n_aug) {
        /* both parts scaled down together when over the cap */
        double f = (double)(n + n_aug) > S_UTIL_ROWS ? S_UTIL_ROWS / (double)(n + n_aug) : 1;
        size_t pa = (size_t)((double)n * f), aa = (size_t)((double)n_aug * f);
        ch_table *x = s_stack(d, t, 0, pa, t, n, aa);
        rc = x ? ch_syn_fit_eval(d, x, x->n_rows, st->test, &u->synth_aug, err) : CH_ENOMEM;
        ch_table_destroy(&x);
        if (rc == 0 && st->train) {
            double g = (double)(st->train->n_rows + n_aug) > S_UTIL_ROWS
                           ? S_UTIL_ROWS / (double)(st->train->n_rows + n_aug)
                           : 1;
            size_t ra = (size_t)((double)st->train->n_rows * g), ab = (size_t)((double)n_aug * g);
            x = s_stack(d, st->train, 0, ra, t, n, ab);
            rc = x ? ch_syn_fit_eval(d, x, x->n_rows, st->test, &u->real_aug, err) : CH_ENOMEM;
            ch_table_destroy(&x);
        }
    }
    if (rc == CH_ENOMEM && (!err || !err->code)) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    return rc;
}

static void *s_finalize(void *vst, ch_err *err)
{
    s_coord *st = vst;
    ch_syn_model *m = st->m;
    if (m->stage != 2) {
        ch_err_set(err, CH_EINTERNAL, "synthetic: finalize before fitting");
        return NULL;
    }
    if (st->cfg.rows == 0) {
        m->rows = (uint64_t)llround(m->total);
    }
    uint64_t n_aug = 0;
    if (m->aug_col >= 0) {
        if (st->cfg.aug_rows > 0) {
            n_aug = (uint64_t)st->cfg.aug_rows;
        } else {
            /* ratio: extra rows as a fraction of the class's expected rows */
            double share = m->oneway[m->aug_col][m->aug_cell] / m->total;
            n_aug = (uint64_t)llround(st->cfg.aug_ratio * share * (double)m->rows);
        }
    }
    m->aug_rows = n_aug;
    if (st->run_dir) {
        ch_table *t = ch_syn_generate(m, m->rows, n_aug, CH_SYN_STREAM_SAMPLE, err);
        char *path = ch_path_join(st->run_dir, "data.csv");
        char *alias = ch_path_join(st->run_dir, "synthetic.csv");
        int rc = t && path && alias ? ch_syn_write_csv(t, path, err) : CH_ENOMEM;
        /* the same table as DIR/synthetic.csv (the name; workflows
         * read ${steps.NAME.data} = data.csv): a hard link, else a copy */
        if (rc == 0) {
            (void)unlink(alias); /* a stale file from an earlier run */
            if (link(path, alias) != 0) {
                rc = ch_syn_write_csv(t, alias, err);
            }
        }
        if (rc == 0) {
            rc = ch_syn_quality(m, st->test, err);
        }
        if (rc == 0) {
            rc = s_privacy(st, err);
        }
        if (rc == 0) {
            rc = s_utility(st, t, (size_t)m->rows, (size_t)n_aug, err);
        }
        ch_table_destroy(&t);
        free(path);
        free(alias);
        if (rc != 0) {
            ch_err_prefix(err, "synthetic: writing data.csv");
            return NULL;
        }
    } else if (ch_syn_quality(m, st->test, err) != 0 || s_privacy(st, err) != 0) {
        return NULL;
    }
    st->m = NULL;
    return m;
}

static int s_save(void *vst, ch_buf *out, ch_err *err)
{
    s_coord *st = vst;
    return ch_syn_model_pack(st->m, out, err);
}

static int s_load(void *vst, const uint8_t *data, size_t len, ch_err *err)
{
    s_coord *st = vst;
    ch_syn_model *got = ch_syn_model_unpack(data, len, err);
    if (!got) {
        return ch_err_prefix(err, "synthetic checkpoint");
    }
    ch_syn_model_destroy(&st->m);
    st->m = got;
    return 0;
}

/* --- worker ----------------------------------------------------------------------- */

static void s_worker_destroy(void **pw)
{
    if (!pw || !*pw) {
        return;
    }
    s_worker *w = *pw;
    ch_syn_model_destroy(&w->m);
    ch_syn_layout_free(&w->layout);
    free(w->bcol);
    free(w->syn);
    free(w);
    *pw = NULL;
}

/* 8 random bytes from the OS into *out: 0, or -1 when none could be read. */
static int s_secret(uint64_t *out)
{
    uint8_t b[8];
    size_t got = 0;
    while (got < sizeof b) {
        ssize_t n = getrandom(b + got, sizeof b - got, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        got += (size_t)n;
    }
    memcpy(out, b, sizeof b);
    return 0;
}

static void *s_worker_new(const ch_worker_env *env, ch_err *err)
{
    s_worker *w = calloc(1, sizeof *w);
    if (!w) {
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    w->env = env;
    if (s_read_cfg(env->cfg, env->schema, &w->cfg, err) != 0) {
        free(w);
        return NULL;
    }
    /* once per worker process: a task sent again gets the same noise, so
     * asking twice does not average it away */
    if (s_secret(&w->secret) != 0) {
        ch_err_set(err, CH_EIO, "synthetic: no random bytes from the OS for the silo's noise");
        free(w);
        return NULL;
    }
    return w;
}

/* One block's counts; in a silo the first block of the shard also carries
 * the silo's noise, so what leaves it is counts + noise. */
static int s_leaf(void *ctx, size_t block, double *out, ch_err *err)
{
    s_worker *w = ctx;
    const ch_plan *plan = w->env->plan;
    const ch_table *t = w->env->train;
    size_t lb = block - w->env->block_offset;
    if (lb >= plan->n_blocks) {
        return ch_err_set(err, CH_EPROTO, "synthetic: block %zu out of range", block);
    }
    const size_t *rows = plan->rows + plan->block_begin[lb];
    size_t n = plan->block_begin[lb + 1] - plan->block_begin[lb];
    const ch_syn_domain *d = &w->m->dom;
    if (w->op == OP_BOUNDS) {
        for (size_t k = 0; k < w->n_bcol; k++) {
            const double *x = s_values(d, t, (size_t)w->bcol[k]);
            for (size_t q = 0; q < n; q++) {
                if (!isnan(x[rows[q]])) {
                    out[k * CH_SYN_MAG_CELLS + ch_syn_mag_cell(x[rows[q]])] += 1;
                }
            }
        }
    } else if (w->op == OP_PRIVACY) {
        /* the histogram of its rows' distances to the synthetic sample; no
         * noise (the figures are not covered by the guarantee) */
        return ch_syn_dcr_hist(d, w->syn, w->n_syn, t, rows, n < w->per_block ? n : w->per_block,
                               out, err);
    } else {
        ch_syn_count(d, &w->layout, t, rows, n, out);
    }
    if (w->by_file && block == w->shard_first_block) {
        ch_rng r;
        /* a silo's noise comes from its own secret seed: noise drawn from
         * the experiment seed, which the coordinator knows, could be
         * regenerated and subtracted there */
        if (w->op == OP_BOUNDS) {
            ch_rng_init(&r, w->secret, ch_rng_stream(CH_STREAM_NOISE, CH_SYN_NOISE_BOUNDS));
            ch_syn_gauss(out, w->n_bcol * CH_SYN_MAG_CELLS, w->sigma_bounds, &r);
        } else {
            ch_rng_init(&r, w->secret, ch_rng_stream(CH_STREAM_NOISE, CH_SYN_NOISE_ONEWAY));
            size_t n_one = w->layout.one_off[w->layout.n_cols];
            ch_syn_gauss(out, n_one, w->sigma_one, &r);
            ch_syn_gauss(out + n_one, w->layout.len - n_one, w->sigma_pairs, &r);
        }
    }
    return 0;
}

static int s_run_task(void *vw, uint32_t round, uint32_t op, const uint8_t *payload, size_t len,
                      uint32_t shard, ch_buf *out, uint64_t *samples, ch_err *err)
{
    s_worker *w = vw;
    (void)round;
    const ch_plan *plan = w->env->plan;
    if (shard >= plan->n_shards || len < 1 || payload[0] > 1 ||
        (op != OP_BOUNDS && op != OP_COUNT && op != OP_PRIVACY)) {
        return ch_err_set(err, CH_EPROTO, "synthetic: bad task (op %u, shard %u)", op, shard);
    }
    ch_syn_model_destroy(&w->m);
    ch_syn_layout_free(&w->layout);
    w->m = ch_syn_model_unpack(payload + 1, len - 1, err);
    if (!w->m) {
        return ch_err_prefix(err, "synthetic: task payload");
    }
    const ch_syn_domain *d = &w->m->dom;
    const ch_table *t = w->env->train;
    if (d->n_cols != t->n_cols + (t->has_target ? 1 : 0) || (d->target >= 0) != t->has_target) {
        return ch_err_set(err, CH_EPROTO, "synthetic: the task's columns do not match the data");
    }
    w->op = op;
    w->by_file = payload[0] == 1;
    if (w->by_file) {
        /* the same noise answers a task sent again; a different task for
         * the same op (another domain) would let the coordinator subtract
         * the noise, so a silo answers each op for one task only */
        uint64_t h = 1469598103934665603ULL;
        for (size_t i = 0; i < len; i++) {
            h = (h ^ payload[i]) * 1099511628211ULL;
        }
        h = h ? h : 1;
        if (w->asked[op] && w->asked[op] != h) {
            return ch_err_set(err, CH_EPROTO,
                              "synthetic: this silo already answered a different op %u task; "
                              "it answers once per privacy budget",
                              op);
        }
        w->asked[op] = h;
    }
    if ((op == OP_PRIVACY) != (w->m->stage == 2)) {
        return ch_err_set(err, CH_EPROTO, "synthetic: op %u with a model at stage %u", op,
                          w->m->stage);
    }
    int rc = 0;
    size_t vlen = 0;
    if (op == OP_PRIVACY) {
        /* the synthetic sample the coordinator also draws; at most
         * CH_SYN_PRIV_ROWS training rows over all blocks (the first rows of
         * each block: the same rows for any number of workers) */
        free(w->syn);
        w->syn = NULL;
        w->n_syn = CH_SYN_PRIV_ROWS;
        size_t nb = w->env->n_blocks_total ? w->env->n_blocks_total : 1;
        w->per_block = (CH_SYN_PRIV_ROWS + nb - 1) / nb;
        ch_table *syn = ch_syn_generate(w->m, w->n_syn, 0, CH_SYN_STREAM_PRIV, err);
        w->syn = syn ? ch_syn_points(d, syn, w->n_syn, err) : NULL;
        ch_table_destroy(&syn);
        if (!w->syn) {
            return ch_err_prefix(err, "synthetic: the privacy sample");
        }
        vlen = CH_SYN_DCR_CELLS;
    } else if (op == OP_BOUNDS) {
        free(w->bcol);
        w->bcol = malloc(CH_SYN_MAX_COLS * sizeof *w->bcol);
        if (!w->bcol) {
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        w->n_bcol = s_unbounded(d, w->bcol);
    } else {
        rc = ch_syn_layout_make(d, (size_t)w->cfg.max_cells, S_MAX_LEN, &w->layout, err);
        if (rc != 0) {
            return rc;
        }
    }
    /* a silo sets its noise from its own config: its guarantee does not
     * depend on what the coordinator asks */
    ch_syn_budget b;
    s_budget(&w->cfg, d, op == OP_COUNT ? &w->layout : NULL, true, &b);
    w->sigma_bounds = b.sigma_bounds;
    w->sigma_one = b.sigma_oneway;
    w->sigma_pairs = b.sigma_pairs;
    if (op != OP_PRIVACY) {
        vlen = op == OP_BOUNDS ? w->n_bcol * CH_SYN_MAG_CELLS : w->layout.len;
    }
    size_t b0 = w->env->block_offset + plan->shard_block[shard];
    size_t b1 = w->env->block_offset + plan->shard_block[shard + 1];
    w->shard_first_block = b0;
    rc = ch_reduce_range(w->env->n_blocks_total, b0, b1, vlen, s_leaf, w, ch_combine_sum, NULL, out,
                         err);
    *samples = ch_plan_shard_end(plan, shard) - ch_plan_shard_begin(plan, shard);
    return rc;
}

/* --- model ------------------------------------------------------------------------ */

static void s_model_destroy(void **pm)
{
    ch_syn_model *m = pm ? *pm : NULL;
    ch_syn_model_destroy(&m);
    if (pm) {
        *pm = NULL;
    }
}

static ch_output_kind s_output_kind(const void *vm)
{
    const ch_syn_model *m = vm;
    return m->dom.target >= 0 && m->dom.cols[m->dom.target].kind == CH_COL_CATEGORICAL
               ? CH_OUT_PROBABILITIES
               : CH_OUT_REGRESSION;
}

static size_t s_n_outputs(const void *vm)
{
    const ch_syn_model *m = vm;
    return s_output_kind(vm) == CH_OUT_PROBABILITIES ? m->dom.cols[m->dom.target].n_levels : 1;
}

static int s_predict(const void *vm, const ch_table *t, double *out, ch_err *err)
{
    return ch_syn_predict(vm, t, out, err);
}

static int s_pack(const void *vm, ch_buf *out, ch_err *err)
{
    return ch_syn_model_pack(vm, out, err);
}

static void *s_unpack(const uint8_t *data, size_t len, const ch_schema *schema, ch_err *err)
{
    ch_syn_model *m = ch_syn_model_unpack(data, len, err);
    if (m &&
        (m->stage != 2 || m->dom.n_cols != schema->n_features + (m->dom.target >= 0 ? 1 : 0))) {
        ch_err_set(err, CH_EINVAL,
                   "the synthetic model is incomplete or does not match its "
                   "schema");
        ch_syn_model_destroy(&m);
    }
    return m;
}

static int s_evaluate(const void *vm, const ch_table *t, ch_round_metrics *out, ch_err *err)
{
    const ch_syn_model *m = vm;
    (void)t;
    (void)err;
    ch_round_metric(out, "epsilon", m->budget.epsilon);
    ch_round_metric(out, "delta", m->budget.delta);
    if (!isnan(m->mean_tv)) {
        ch_round_metric(out, "test_mean_tv", m->mean_tv);
        ch_round_metric(out, "test_max_tv", m->max_tv);
    }
    if (!isnan(m->corr_diff)) {
        ch_round_metric(out, "test_corr_diff", m->corr_diff);
    }
    if (!isnan(m->test_auc)) {
        ch_round_metric(out, "test_auc", m->test_auc);
    }
    if (!isnan(m->test_accuracy)) {
        ch_round_metric(out, "test_accuracy", m->test_accuracy);
    }
    if (!isnan(m->priv.mia_auc)) {
        ch_round_metric(out, "mia_auc", m->priv.mia_auc);
        ch_round_metric(out, "exact_match_train", m->priv.exact_train);
        ch_round_metric(out, "exact_match_holdout", m->priv.exact_holdout);
    }
    const ch_syn_utility *u = &m->util;
    if (u->synth.done) {
        ch_round_metric(out, "tstr_accuracy", u->synth.accuracy);
        if (!isnan(u->synth.auc)) {
            ch_round_metric(out, "tstr_auc", u->synth.auc);
        }
    }
    if (u->real.done) {
        ch_round_metric(out, "trtr_accuracy", u->real.accuracy);
        if (!isnan(u->real.auc)) {
            ch_round_metric(out, "trtr_auc", u->real.auc);
        }
    }
    return 0;
}

static int s_summary_json(const void *vm, ch_buf *j)
{
    return ch_syn_summary_json(vm, j);
}

static int s_describe(const void *vm, ch_buf *text)
{
    return ch_syn_describe(vm, text);
}

static int s_report(const void *vm, ch_report *r, ch_err *err)
{
    return ch_syn_report(vm, r, err);
}

const ch_algo ch_algo_synthetic = {
    .name = "synthetic",
    .summary = "differentially private synthetic tables (MST: noisy one- and two-way marginals "
               "over a privately chosen tree, zCDP), written to DIR/data.csv (= DIR/synthetic.csv)",
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
    .pack = s_pack,
    .unpack = s_unpack,
    .evaluate = s_evaluate,
    .summary_json = s_summary_json,
    .describe = s_describe,
    .report = s_report,
    .model_destroy = s_model_destroy,
};
