/* dbscan.c: model.algorithm dbscan: the algorithm table, the three rounds
 * at the coordinator and the worker side (see dbscan.h for the design).
 *
 *   round 1 CORE:   the coordinator cuts slabs; each shard builds its cell
 *                   (slab + halo), returns its owned core points and its
 *                   k-distance lists
 *   round 2 UNION:  every shard gets the core bitmap, joins its own core
 *                   points with their core neighbours and returns
 *                   (point, local representative) pairs; the coordinator
 *                   merges them (union-find) and numbers the clusters
 *   round 3 BORDER: every shard gets the core labels and returns the labels
 *                   of its owned border points
 *
 * Data placement: in simulation every worker holds the whole training table,
 * so a task only names the slab (cut dimension, cut values, halo) and the
 * worker selects its cell's rows itself; no rows travel. By-file silos are
 * not supported: a silo's points cannot be moved to the cell that owns
 * their region of space without sending them, so the coordinator refuses
 * partition.scheme by-file with a clear error. */
#include "algorithms/algo.h"
#include "algorithms/dbscan/dbscan.h"
#include "algorithms/dbscan/model.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "proto/dbscan.pb-c.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { OP_CORE = 1, OP_UNION = 2, OP_BORDER = 3 };
enum { S_MAX_KDIST_K = 128, S_SCATTER = 2000 };

typedef struct s_coord {
    ch_db_params p;
    const ch_table *train; /* borrowed from the engine; invalid once released */
    ch_table_lease *lease; /* the engine's hold on it (may be NULL) */
    size_t n, d, k, ns;
    ch_db_slabs sl;
    int stage; /* rounds completed: 0..3 */
    uint8_t *core;
    int32_t *label;
    double *kd; /* ns x k */
    ch_uf uf;
    size_t n_clusters;
    char *run_dir; /* where assignments.csv goes */
} s_coord;

typedef struct s_worker {
    ch_db_params p;
    const ch_worker_env *env;
    size_t n, d; /* rows and columns of the training table */
    long shard;  /* the cell built, -1 for none */
    ch_db_cell cell;
    double *kq; /* the k-distance sample's coordinates (ch_db_kdist_queries) */
    size_t n_kq;
} s_worker;

/* The training table: the engine's (read again if this process released
 * it), or the borrowed one when there is no lease (unit tests). */
static const ch_table *s_table(ch_table_lease *lease, const ch_table *borrowed, ch_err *err)
{
    return lease ? ch_table_lease_get(lease, err) : borrowed;
}

/* Reads every model.* key. */
static int s_params(ch_config *cfg, ch_db_params *p, ch_err *err)
{
    double eps, ms;
    long bd, ks, sm;
    int metric;
    int rc = ch_cfg_num(cfg, "model.eps", 0.5, -INFINITY, INFINITY, &eps, err);
    if (rc == 0 && !(eps > 0 && isfinite(eps))) {
        rc = ch_err_set(err, CH_EINVAL, "%s: model.eps must be a positive number (got %g)",
                        ch_config_where(cfg, "model.eps"), eps);
    }
    if (rc == 0) {
        rc = ch_cfg_num(cfg, "model.min_samples", 5, -INFINITY, INFINITY, &ms, err);
    }
    if (rc == 0 && !(ms >= 1 && ms <= 1e6 && ms == floor(ms))) {
        rc = ch_err_set(err, CH_EINVAL,
                        "%s: model.min_samples must be a whole number from 1 to 1000000 (the "
                        "point itself counts, as in scikit-learn), got %g",
                        ch_config_where(cfg, "model.min_samples"), ms);
    }
    if (rc == 0) {
        rc = ch_cfg_enum(cfg, "model.metric", "euclidean", ch_db_metric_names, &metric, err);
    }
    if (rc == 0) {
        rc = ch_cfg_int(cfg, "model.brute_dims", 16, 0, 1000000, &bd, err);
    }
    if (rc == 0) {
        rc = ch_cfg_int(cfg, "model.kdist_sample", 1000, 0, 100000, &ks, err);
    }
    if (rc == 0) {
        rc = ch_cfg_int(cfg, "model.silhouette_max_rows", 10000, 0, 1000000, &sm, err);
    }
    if (rc == 0) {
        p->eps = eps;
        p->min_samples = ms;
        p->metric = (ch_db_metric)metric;
        p->brute_dims = (size_t)bd;
        p->kdist_sample = (size_t)ks;
        p->silhouette_max_rows = (size_t)sm;
    }
    return rc;
}

static int s_configure(ch_config *cfg, const ch_schema *schema, ch_err *err)
{
    ch_db_params p;
    int rc = s_params(cfg, &p, err);
    if (rc == 0 && schema) {
        if (schema->n_features == 0) {
            return ch_err_set(err, CH_EINVAL, "dbscan: the data has no feature columns");
        }
        for (size_t j = 0; j < schema->n_features; j++) {
            if (schema->features[j].kind != CH_COL_NUMERIC) {
                return ch_err_set(err, CH_EINVAL,
                                  "dbscan: column '%s' is categorical; DBSCAN needs numeric "
                                  "coordinates (drop the column or encode it)",
                                  schema->features[j].name);
            }
        }
    }
    return rc;
}

static int s_estimate(ch_config *cfg, const ch_schema *schema, size_t n_rows, size_t n_workers,
                      size_t n_blocks, ch_estimate *out)
{
    (void)n_blocks;
    double d = schema ? (double)schema->n_features : 1;
    double w = n_workers ? (double)n_workers : 1;
    double cell = (double)n_rows / w * 1.2; /* owned points plus a halo */
    out->worker_bytes = cell * (d * 16 + 24);
    out->message_bytes = (double)n_rows / w * 8;
    ch_db_params p;
    double ms = s_params(cfg, &p, NULL) == 0 ? p.min_samples : 5;
    out->flops = 3 * (double)n_rows * (ms + 32) * d * 3;
    out->rounds = 3;
    return 0;
}

/* --- coordinator ---------------------------------------------------------- */

static void s_coord_destroy(void **pst)
{
    if (!pst || !*pst) {
        return;
    }
    s_coord *st = *pst;
    ch_db_slabs_free(&st->sl);
    free(st->core);
    free(st->label);
    free(st->kd);
    ch_uf_free(&st->uf);
    free(st->run_dir);
    free(st);
    *pst = NULL;
}

static void *s_coord_new(const ch_coord_env *env, ch_err *err)
{
    if (!env->train) {
        ch_err_set(err, CH_EINVAL,
                   "dbscan: partition.scheme by-file is not supported: cells are regions of "
                   "space, and a silo's points would have to move to the cell that owns them; "
                   "run DBSCAN on data the coordinator and the workers can read");
        return NULL;
    }
    s_coord *st = calloc(1, sizeof *st);
    if (!st) {
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    int rc = s_params(env->cfg, &st->p, err);
    st->train = env->train;
    st->lease = env->lease;
    st->n = env->train->n_rows;
    st->run_dir = env->run_dir ? strdup(env->run_dir) : NULL;
    st->d = env->train->n_cols;
    st->k = (size_t)st->p.min_samples;
    st->ns = st->k <= S_MAX_KDIST_K ? ch_db_kdist_n(st->n, &st->p) : 0;
    if (rc == 0) {
        rc = ch_db_slabs_make(env->train, &st->p, env->n_shards ? env->n_shards : 1, &st->sl, err);
    }
    if (rc == 0) {
        st->core = ch_calloc_array(st->n, 1);
        st->label = ch_alloc_array(st->n, sizeof *st->label);
        st->kd = ch_alloc_array(st->ns * st->k + 1, sizeof *st->kd);
        if (!st->core || !st->label || !st->kd || ch_uf_init(&st->uf, st->n) != 0) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory for %zu points", st->n);
        }
    }
    if (rc != 0) {
        void *v = st;
        s_coord_destroy(&v);
        return NULL;
    }
    for (size_t i = 0; i < st->ns * st->k; i++) {
        st->kd[i] = INFINITY;
    }
    for (size_t i = 0; i < st->n; i++) {
        st->label[i] = -1;
    }
    /* the rounds need only the slabs; finalize reads the table again for
     * the core points and the silhouette sample */
    ch_table_lease_release(st->lease);
    return st;
}

static int s_next_task(void *vst, uint32_t round, uint32_t *op, ch_buf *payload, ch_err *err)
{
    s_coord *st = vst;
    (void)round;
    if (st->stage >= 3) {
        return 1;
    }
    Cohort__Dbscan__Task t = COHORT__DBSCAN__TASK__INIT;
    t.dim = st->sl.dim;
    t.halo = st->sl.halo;
    t.n_cuts = st->sl.n + 1;
    t.cuts = st->sl.cuts;
    t.n = st->n;
    uint8_t *bits = NULL;
    int32_t *lab = NULL;
    if (st->stage == 1) {
        bits = calloc(st->n / 8 + 1, 1);
        if (!bits) {
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < st->n; i++) {
            bits[i / 8] |= (uint8_t)(st->core[i] << (i % 8));
        }
        t.core.data = bits;
        t.core.len = (st->n + 7) / 8;
    } else if (st->stage == 2) {
        lab = ch_alloc_array(st->n, sizeof *lab);
        if (!lab) {
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < st->n; i++) {
            lab[i] = st->core[i] ? st->label[i] : -1; /* little-endian hosts (DESIGN 3) */
        }
        t.labels.data = (uint8_t *)lab;
        t.labels.len = st->n * sizeof *lab;
    }
    *op = st->stage == 0 ? OP_CORE : (st->stage == 1 ? OP_UNION : OP_BORDER);
    size_t size = cohort__dbscan__task__get_packed_size(&t);
    int rc = ch_buf_reserve(payload, size);
    if (rc == 0) {
        cohort__dbscan__task__pack(&t, payload->data + payload->len);
        payload->len += size;
    }
    free(bits);
    free(lab);
    return rc ? ch_err_set(err, CH_ENOMEM, "out of memory") : 0;
}

static int s_agg_one(s_coord *st, uint32_t op, const Cohort__Dbscan__Update *u, uint32_t shard,
                     ch_err *err)
{
    if (op == OP_CORE) {
        if (u->n_kdist != st->ns * st->k && !(st->ns == 0 && u->n_kdist == 0)) {
            return ch_err_set(err, CH_EPROTO, "dbscan: shard %u sent %zu k-distances, not %zu",
                              shard, u->n_kdist, st->ns * st->k);
        }
        for (size_t i = 0; i < u->n_core_rows; i++) {
            if (u->core_rows[i] >= st->n) {
                return ch_err_set(err, CH_EPROTO, "dbscan: shard %u: point %u out of range", shard,
                                  u->core_rows[i]);
            }
            st->core[u->core_rows[i]] = 1;
        }
        for (size_t i = 0; i < u->n_kdist; i++) {
            if (!(u->kdist[i] >= 0)) {
                return ch_err_set(err, CH_EPROTO, "dbscan: shard %u: a bad k-distance", shard);
            }
        }
        if (st->ns) {
            ch_db_kdist_merge(st->kd, u->kdist, st->ns, st->k);
        }
    } else if (op == OP_UNION) {
        if (u->n_pairs % 2) {
            return ch_err_set(err, CH_EPROTO, "dbscan: shard %u sent an odd pair list", shard);
        }
        for (size_t i = 0; i < u->n_pairs; i++) {
            if (u->pairs[i] >= st->n || !st->core[u->pairs[i]]) {
                return ch_err_set(err, CH_EPROTO,
                                  "dbscan: shard %u: pair names point %u, "
                                  "not a core point",
                                  shard, u->pairs[i]);
            }
        }
        for (size_t i = 0; i < u->n_pairs; i += 2) {
            ch_uf_union(&st->uf, u->pairs[i], u->pairs[i + 1]);
        }
    } else {
        if (u->n_border_rows != u->n_border_labels) {
            return ch_err_set(err, CH_EPROTO, "dbscan: shard %u: border rows and labels differ",
                              shard);
        }
        for (size_t i = 0; i < u->n_border_rows; i++) {
            uint32_t r = u->border_rows[i];
            int32_t l = u->border_labels[i];
            if (r >= st->n || st->core[r] || l < 0 || (size_t)l >= st->n_clusters) {
                return ch_err_set(err, CH_EPROTO, "dbscan: shard %u: bad border label", shard);
            }
            st->label[r] = l;
        }
    }
    return 0;
}

static int s_aggregate(void *vst, uint32_t round, uint32_t op, const ch_update *ups, size_t n,
                       ch_round_metrics *m, ch_err *err)
{
    s_coord *st = vst;
    (void)round;
    uint32_t want = st->stage == 0 ? OP_CORE : (st->stage == 1 ? OP_UNION : OP_BORDER);
    if (op != want || st->stage >= 3) {
        return ch_err_set(err, CH_EINTERNAL, "dbscan: op %u in stage %d", op, st->stage);
    }
    uint64_t owned = 0;
    for (size_t i = 0; i < n; i++) {
        Cohort__Dbscan__Update *u =
            cohort__dbscan__update__unpack(NULL, ups[i].state_len, ups[i].state);
        if (!u) {
            return ch_err_set(err, CH_EPROTO, "dbscan: the update of shard %u does not decode",
                              ups[i].shard);
        }
        owned += u->owned;
        int rc = s_agg_one(st, op, u, ups[i].shard, err);
        cohort__dbscan__update__free_unpacked(u, NULL);
        if (rc != 0) {
            return rc;
        }
    }
    if (owned != st->n) {
        return ch_err_set(err, CH_EPROTO, "dbscan: the shards own %llu points, not %zu",
                          (unsigned long long)owned, st->n);
    }
    size_t count = 0;
    if (op == OP_CORE) {
        for (size_t i = 0; i < st->n; i++) {
            count += st->core[i];
        }
        ch_round_metric(m, "core_points", (double)count);
    } else if (op == OP_UNION) {
        st->n_clusters = ch_db_number_clusters(&st->uf, st->core, st->n, st->label);
        ch_uf_free(&st->uf); /* not needed any more */
        ch_round_metric(m, "clusters", (double)st->n_clusters);
    } else {
        for (size_t i = 0; i < st->n; i++) {
            count += st->label[i] < 0;
        }
        ch_round_metric(m, "noise_points", (double)count);
    }
    st->stage++;
    return 0;
}

static int s_save(void *vst, ch_buf *out, ch_err *err)
{
    s_coord *st = vst;
    (void)err;
    uint64_t head[3] = {(uint64_t)st->stage, st->n, st->n_clusters};
    ch_buf_append(out, head, sizeof head);
    ch_buf_append(out, st->core, st->n);
    ch_buf_append(out, st->label, st->n * sizeof *st->label);
    ch_buf_append(out, st->kd, st->ns * st->k * sizeof *st->kd);
    return out->failed ? CH_ENOMEM : 0;
}

static int s_load(void *vst, const uint8_t *data, size_t len, ch_err *err)
{
    s_coord *st = vst;
    uint64_t head[3];
    size_t need = sizeof head + st->n * (1 + sizeof *st->label) + st->ns * st->k * sizeof *st->kd;
    if (len != need) {
        return ch_err_set(err, CH_EINVAL, "dbscan checkpoint has %zu bytes, not %zu", len, need);
    }
    memcpy(head, data, sizeof head);
    if (head[0] > 3 || head[1] != st->n || head[2] > st->n) {
        return ch_err_set(err, CH_EINVAL, "dbscan checkpoint is for other data");
    }
    if (head[0] >= 2) {
        ch_uf_free(&st->uf); /* the union round is done; its result is in label */
    } else if (head[0] == 1 && !st->uf.parent) {
        return ch_err_set(err, CH_EINVAL, "dbscan checkpoint: no union-find");
    }
    st->stage = (int)head[0];
    st->n_clusters = (size_t)head[2];
    data += sizeof head;
    memcpy(st->core, data, st->n);
    data += st->n;
    memcpy(st->label, data, st->n * sizeof *st->label);
    data += st->n * sizeof *st->label;
    memcpy(st->kd, data, st->ns * st->k * sizeof *st->kd);
    return 0;
}

static int s_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : (x > y ? 1 : 0);
}

/* Writes DIR/assignments.csv: row (0-based index of the training row),
 * cluster (-1 noise), core (0/1). A failure is logged, not fatal: the model
 * is complete. */
static void s_write_assignments(const s_coord *st)
{
    const char *dir = st->run_dir;
    if (!dir) {
        ch_warn("dbscan: no run directory; assignments.csv not written");
        return;
    }
    ch_buf b;
    ch_buf_init(&b);
    ch_buf_puts(&b, "row,cluster,core\n");
    for (size_t i = 0; i < st->n && !b.failed; i++) {
        ch_buf_printf(&b, "%zu,%d,%d\n", i, st->label[i], st->core[i]);
    }
    char *path = ch_path_join(dir, "assignments.csv");
    ch_err err;
    ch_err_clear(&err);
    if (b.failed || !path || ch_write_file_atomic(path, b.data, b.len, &err) != 0) {
        ch_warn("dbscan: assignments.csv not written: %s",
                b.failed || !path ? "out of memory" : err.msg);
    }
    free(path);
    ch_buf_free(&b);
}

static void *s_finalize(void *vst, ch_err *err)
{
    s_coord *st = vst;
    if (st->stage < 3) {
        ch_err_set(err, CH_EINTERNAL, "dbscan: finalize before the border round");
        return NULL;
    }
    ch_db_model *md = calloc(1, sizeof *md);
    if (!md) {
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    size_t n = st->n, d = st->d, nk = st->n_clusters;
    const ch_table *tr = s_table(st->lease, st->train, err);
    if (!tr) {
        free(md);
        return NULL;
    }
    md->p = st->p;
    md->d = d;
    md->n_points = n;
    md->n_clusters = nk;
    for (size_t i = 0; i < n; i++) {
        md->n_core += st->core[i];
        md->n_noise += st->label[i] < 0;
    }
    md->n_scatter = n < S_SCATTER ? n : S_SCATTER;
    md->n_kdist = st->ns;
    size_t ncd;
    bool ok = ch_mul_size(md->n_core + 1, d, &ncd) == 0;
    md->names = calloc(d, sizeof *md->names);
    md->sizes = calloc(nk + 1, sizeof *md->sizes);
    md->sizes_core = calloc(nk + 1, sizeof *md->sizes_core);
    md->core_pts = ok ? ch_alloc_array(ncd, sizeof *md->core_pts) : NULL;
    md->core_label = ch_alloc_array(md->n_core + 1, sizeof *md->core_label);
    md->kdist = ch_alloc_array(st->ns + 1, sizeof *md->kdist);
    md->sx = ch_alloc_array(md->n_scatter + 1, sizeof(double));
    md->sy = ch_alloc_array(md->n_scatter + 1, sizeof(double));
    md->sl = ch_alloc_array(md->n_scatter + 1, sizeof(int32_t));
    ok = ok && md->names && md->sizes && md->sizes_core && md->core_pts && md->core_label &&
         md->kdist && md->sx && md->sy && md->sl;
    for (size_t j = 0; j < d && ok; j++) {
        ok = (md->names[j] = strdup(tr->cols[j].name)) != NULL;
    }
    if (!ok) {
        void *v = md;
        ch_db_model_destroy(&v);
        ch_err_set(err, CH_ENOMEM, "out of memory building the model");
        return NULL;
    }
    size_t c = 0;
    for (size_t i = 0; i < n; i++) {
        if (st->label[i] >= 0) {
            md->sizes[st->label[i]]++;
        }
        if (st->core[i]) {
            md->sizes_core[st->label[i]]++;
            for (size_t j = 0; j < d; j++) {
                md->core_pts[c * d + j] = tr->cols[j].values[i];
            }
            md->core_label[c++] = st->label[i];
        }
    }
    for (size_t j = 0; j < st->ns; j++) {
        md->kdist[j] = st->kd[j * st->k + st->k - 1];
    }
    qsort(md->kdist, st->ns, sizeof *md->kdist, s_cmp_double);
    md->knee = ch_db_knee(md->kdist, st->ns);
    for (size_t s = 0; s < md->n_scatter; s++) {
        size_t i = ch_db_kdist_row(n, md->n_scatter, s);
        md->sx[s] = tr->cols[0].values[i];
        md->sy[s] = d > 1 ? tr->cols[1].values[i] : 0;
        md->sl[s] = st->label[i];
    }
    int rc = ch_db_quality_of(tr, st->label, nk, st->p.silhouette_max_rows, &md->q, err);
    /* the model holds what it needs: the table goes before it is packed */
    ch_table_lease_release(st->lease);
    if (rc != 0) {
        void *v = md;
        ch_db_model_destroy(&v);
        return NULL;
    }
    s_write_assignments(st);
    return md;
}

/* --- worker ----------------------------------------------------------------- */

static void *s_worker_new(const ch_worker_env *env, ch_err *err)
{
    s_worker *w = calloc(1, sizeof *w);
    if (!w) {
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    if (s_params(env->cfg, &w->p, err) != 0) {
        free(w);
        return NULL;
    }
    w->env = env;
    w->n = env->train->n_rows;
    w->d = env->train->n_cols;
    w->shard = -1;
    return w;
}

static void s_worker_destroy(void **pw)
{
    if (!pw || !*pw) {
        return;
    }
    s_worker *w = *pw;
    ch_db_cell_free(&w->cell);
    free(w->kq);
    free(w);
    *pw = NULL;
}

/* The cell of `shard` from the task's slabs (kept between rounds). The
 * table is read (again, if released) only to build a cell; once the cell
 * and the k-distance sample are copied out of it, it is released. */
static int s_cell(s_worker *w, const Cohort__Dbscan__Task *t, uint32_t shard, ch_err *err)
{
    if (t->n != w->n || t->n_cuts < 2 || shard + 1 >= t->n_cuts || t->dim >= w->d ||
        !(t->halo > 0)) {
        return ch_err_set(err, CH_EPROTO,
                          "dbscan: the task does not fit this worker's data (%llu points, "
                          "%zu cuts, shard %u; the worker has %zu rows)",
                          (unsigned long long)t->n, t->n_cuts, shard, w->n);
    }
    if (w->shard == (long)shard) {
        return 0;
    }
    ch_db_cell_free(&w->cell);
    w->shard = -1;
    const ch_table *tr = s_table(w->env->lease, w->env->train, err);
    if (!tr) {
        return err ? err->code : CH_EINVAL;
    }
    ch_db_slabs sl = {.dim = t->dim, .n = t->n_cuts - 1, .cuts = t->cuts, .halo = t->halo};
    int rc = 0;
    size_t k = (size_t)w->p.min_samples;
    if (!w->kq && k <= S_MAX_KDIST_K && ch_db_kdist_n(w->n, &w->p) > 0) {
        rc = ch_db_kdist_queries(tr, &w->p, &w->kq, err);
        w->n_kq = rc == 0 ? ch_db_kdist_n(w->n, &w->p) : 0;
    }
    if (rc == 0) {
        rc = ch_db_cell_gather(tr, &w->p, &sl, shard, &w->cell, err);
    }
    ch_table_lease_release(w->env->lease);
    if (rc == 0) {
        rc = ch_db_cell_index(&w->cell, &w->p, err);
    }
    if (rc == 0) {
        w->shard = shard;
    }
    return rc;
}

static int s_pack_update(Cohort__Dbscan__Update *u, ch_buf *out, ch_err *err)
{
    size_t size = cohort__dbscan__update__get_packed_size(u);
    if (ch_buf_reserve(out, size) != 0) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    cohort__dbscan__update__pack(u, out->data + out->len);
    out->len += size;
    return 0;
}

static int s_run_core(s_worker *w, Cohort__Dbscan__Update *u, ch_buf *out, ch_err *err)
{
    const ch_db_cell *c = &w->cell;
    size_t k = (size_t)w->p.min_samples;
    uint8_t *core = malloc(c->m_own + 1);
    uint32_t *rows = ch_alloc_array(c->m_own + 1, sizeof *rows);
    double *kd = NULL;
    int rc = 0;
    size_t ns = k <= S_MAX_KDIST_K ? ch_db_kdist_n(w->n, &w->p) : 0;
    if (!core || !rows || !(kd = ch_alloc_array(ns * k + 1, sizeof *kd))) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    if (rc == 0) {
        rc = ch_db_count_core(c, &w->p, core, err);
    }
    if (rc == 0 && ns) {
        for (size_t i = 0; i < ns * k; i++) {
            kd[i] = INFINITY;
        }
        if (c->m_own) {
            rc = ch_db_kdist_partial(w->kq, w->n_kq, c, &w->p, k, kd, err);
        }
    }
    if (rc == 0) {
        size_t nc = 0;
        for (size_t i = 0; i < c->m_own; i++) {
            if (core[i]) {
                rows[nc++] = c->gidx[i];
            }
        }
        u->core_rows = rows;
        u->n_core_rows = nc;
        u->kdist = kd;
        u->n_kdist = ns * k;
        rc = s_pack_update(u, out, err);
    }
    free(core);
    free(rows);
    free(kd);
    return rc;
}

static int s_run_union(s_worker *w, const Cohort__Dbscan__Task *t, Cohort__Dbscan__Update *u,
                       ch_buf *out, ch_err *err)
{
    const ch_db_cell *c = &w->cell;
    if (t->core.len != (t->n + 7) / 8) {
        return ch_err_set(err, CH_EPROTO, "dbscan: the core bitmap has %zu bytes", t->core.len);
    }
    uint8_t *cc = malloc(c->m + 1);
    if (!cc) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < c->m; i++) {
        uint32_t g = c->gidx[i];
        cc[i] = (t->core.data[g / 8] >> (g % 8)) & 1;
    }
    uint32_t *pairs = NULL;
    size_t np = 0;
    int rc = ch_db_local_union(c, cc, &pairs, &np, err);
    if (rc == 0) {
        u->pairs = pairs;
        u->n_pairs = np * 2;
        rc = s_pack_update(u, out, err);
    }
    free(pairs);
    free(cc);
    return rc;
}

static int s_run_border(s_worker *w, const Cohort__Dbscan__Task *t, Cohort__Dbscan__Update *u,
                        ch_buf *out, ch_err *err)
{
    const ch_db_cell *c = &w->cell;
    if (t->labels.len != t->n * sizeof(int32_t)) {
        return ch_err_set(err, CH_EPROTO, "dbscan: the label array has %zu bytes", t->labels.len);
    }
    int32_t *lc = ch_alloc_array(c->m + 1, sizeof *lc);
    int32_t *lo = ch_alloc_array(c->m_own + 1, sizeof *lo);
    uint32_t *rows = ch_alloc_array(c->m_own + 1, sizeof *rows);
    int32_t *labs = ch_alloc_array(c->m_own + 1, sizeof *labs);
    int rc = 0;
    if (!lc || !lo || !rows || !labs) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
    } else {
        for (size_t i = 0; i < c->m; i++) {
            memcpy(&lc[i], t->labels.data + (size_t)c->gidx[i] * 4, 4);
            lc[i] = lc[i] < 0 ? -1 : lc[i];
        }
        rc = ch_db_border(c, lc, lo, err);
    }
    if (rc == 0) {
        size_t nb = 0;
        for (size_t i = 0; i < c->m_own; i++) {
            if (lc[i] < 0 && lo[i] >= 0) {
                rows[nb] = c->gidx[i];
                labs[nb++] = lo[i];
            }
        }
        u->border_rows = rows;
        u->n_border_rows = nb;
        u->border_labels = labs;
        u->n_border_labels = nb;
        rc = s_pack_update(u, out, err);
    }
    free(lc);
    free(lo);
    free(rows);
    free(labs);
    return rc;
}

static int s_run_task(void *vw, uint32_t round, uint32_t op, const uint8_t *payload, size_t len,
                      uint32_t shard, ch_buf *out, uint64_t *samples, ch_err *err)
{
    s_worker *w = vw;
    (void)round;
    if (op < OP_CORE || op > OP_BORDER) {
        return ch_err_set(err, CH_EPROTO, "dbscan: unknown op %u", op);
    }
    Cohort__Dbscan__Task *t = cohort__dbscan__task__unpack(NULL, len, payload);
    if (!t) {
        return ch_err_set(err, CH_EPROTO, "dbscan: the task does not decode");
    }
    int rc = s_cell(w, t, shard, err);
    if (rc == 0) {
        Cohort__Dbscan__Update u = COHORT__DBSCAN__UPDATE__INIT;
        u.owned = w->cell.m_own;
        *samples = w->cell.m_own;
        if (op == OP_CORE) {
            rc = s_run_core(w, &u, out, err);
        } else if (op == OP_UNION) {
            rc = s_run_union(w, t, &u, out, err);
        } else {
            rc = s_run_border(w, t, &u, out, err);
            /* the last round: give the cell's memory back while the
             * coordinator builds the model (a repeated border task, after
             * a reassignment, rebuilds it) */
            ch_db_cell_free(&w->cell);
            w->shard = -1;
        }
    }
    cohort__dbscan__task__free_unpacked(t, NULL);
    return rc;
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

const ch_algo ch_algo_dbscan = {
    .name = "dbscan",
    .summary = "exact DBSCAN in linear memory, distributed by space (scikit-learn's labels)",
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
    .predict = ch_db_model_predict,
    .pack = ch_db_model_pack,
    .unpack = ch_db_model_unpack,
    .summary_json = ch_db_model_summary,
    .model_metrics = ch_db_model_metrics,
    .describe = ch_db_model_describe,
    .report = ch_db_model_report,
    .model_destroy = ch_db_model_destroy,
};
