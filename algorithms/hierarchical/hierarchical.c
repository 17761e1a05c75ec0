/* hierarchical.c: agglomerative clustering (ward, complete, average, single).
 *
 * Round 1 (OP_GATHER): the workers send the complete rows of their blocks
 * (features and the target code), the coordinator puts them in row order
 * (so the result does not depend on the number of workers) and standardises
 * them. Then the condensed distance matrix: computed on the coordinator
 * (ch_hc_pdist), or, with model.distances: workers (auto: n >= 4000,
 * d >= 1024 and more than one worker), in bands of rows on the workers
 * (OP_PDIST rounds: the task carries the standardised rows and each
 * shard's band, balanced by pair count, with as many rounds as keep every
 * task and update under 64 MiB; each band is the same bits ch_hc_pdist
 * gives, so the model is the same either way). Then, on the coordinator,
 * the linkage (linkage.h: SciPy's algorithms and merge format), the cut by
 * n_clusters or distance_threshold, and its scores (exact silhouette,
 * Davies-Bouldin, Calinski-Harabasz, contingency with the target). The
 * linkage needs the whole O(n^2) matrix in one place, so model.max_rows
 * (default 10000) bounds n. A checkpoint taken before the model is done
 * makes a resumed run gather again. */
#include "algorithms/algo.h"
#include "algorithms/cluster_common/cluster.h"
#include "algorithms/cluster_common/cluster_report.h"
#include "algorithms/cluster_common/silplot.h"
#include "algorithms/hierarchical/dendrogram.h"
#include "algorithms/hierarchical/linkage.h"
#include "common/bigalloc.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/pb.h"
#include "proto/hierarchical.pb-c.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OP_GATHER = 1, OP_PDIST = 2 };

static const char *const s_linkages[] = {"ward", "complete", "average", "single", NULL};

/* model.distances: where the distance matrix is computed */
enum { S_DIST_COORDINATOR = 0, S_DIST_WORKERS, S_DIST_AUTO };
static const char *const s_distances[] = {"coordinator", "workers", "auto", NULL};

/* auto: the workers compute the distances from this many rows and features
 * up, when there is more than one worker. Measured on one machine: a pair
 * costs about 0.075 ns a feature on a core to compute, and 20-30 ns to
 * ship to the coordinator and copy into the matrix wherever it was
 * computed, so the workers can only win with d above roughly 270-400 times
 * the coordinator's cores (1024: about 3 cores); below 4000 rows the whole
 * matrix costs the coordinator at most about a second of one core
 * (README.md, "Distances on workers"). */
enum { S_AUTO_WORKER_ROWS = 4000, S_AUTO_WORKER_FEATURES = 1024 };

/* No OP_PDIST task or update is larger than this (nor than
 * runtime.max_message_mb); S_MSG_SLACK of it is kept for the envelope, the
 * task's header and the band list. */
#define S_PDIST_MAX_MESSAGE ((size_t)64 << 20)
#define S_MSG_SLACK         ((size_t)64 << 10)

typedef struct s_params {
    int linkage;
    int distances;
    long n_clusters, max_rows;
    double threshold; /* NAN: cut by n_clusters */
    bool standardize;
    const char *linkage_csv; /* NULL: not written */
} s_params;

static int s_read_params(ch_config *cfg, s_params *p, ch_err *err)
{
    int rc;
    memset(p, 0, sizeof *p);
    p->threshold = NAN;
    bool has_t = ch_config_has(cfg, "model.distance_threshold");
    bool has_k = ch_config_has(cfg, "model.n_clusters");
    if (has_t && has_k) {
        return ch_err_set(err, CH_EINVAL,
                          "%s: give model.n_clusters or model.distance_threshold, not both",
                          ch_config_where(cfg, "model.distance_threshold"));
    }
    if ((rc = ch_cfg_enum(cfg, "model.linkage", "ward", s_linkages, &p->linkage, err)) ||
        (rc = ch_cfg_bool(cfg, "model.standardize", true, &p->standardize, err)) ||
        (rc = ch_cfg_int(cfg, "model.max_rows", 10000, 2, 200000, &p->max_rows, err)) ||
        (rc = ch_cfg_enum(cfg, "model.distances", "auto", s_distances, &p->distances, err))) {
        return rc;
    }
    if (has_t) {
        rc = ch_cfg_num(cfg, "model.distance_threshold", 0, 0, INFINITY, &p->threshold, err);
    } else {
        rc = ch_cfg_int(cfg, "model.n_clusters", 2, 1, 200000, &p->n_clusters, err);
    }
    if (rc == 0 && ch_config_has(cfg, "model.linkage_csv")) {
        rc = ch_cfg_str(cfg, "model.linkage_csv", NULL, &p->linkage_csv, err);
    }
    return rc;
}

static int s_configure(ch_config *cfg, const ch_schema *schema, ch_err *err)
{
    s_params p;
    int rc = s_read_params(cfg, &p, err);
    if (rc == 0 && schema) {
        rc = ch_cl_check_schema(schema, "model.algorithm hierarchical", err);
    }
    return rc;
}

static size_t s_classes(const ch_schema *s)
{
    if (s && s->target.name && s->target.kind == CH_COL_CATEGORICAL) {
        return s->target.n_levels;
    }
    return 0;
}

/* --- coordinator ---------------------------------------------------------------- */

typedef struct s_coord {
    s_params p;
    const ch_schema *schema;
    const char *run_dir; /* assignments.csv and linkage.csv go here */
    size_t d, q, n_blocks, n_train, n_shards;
    size_t max_message; /* bytes: the bound on an OP_PDIST task or update */
    bool by_file;       /* silos: their rows are not sent to the other silos */
    bool done;
    Cohort__Hierarchical__Model *model; /* built by aggregate */
    /* Between the gather and the clustering when the workers compute the
     * distances (OP_PDIST rounds): the model so far (rows, mean, scale,
     * names), the standardised rows, the targets, the matrix being filled,
     * and the bands: band b is rows band[b] <= i < band[b + 1]; a round
     * asks shard s for band first + s. */
    Cohort__Hierarchical__Model *pending;
    double *x, *y, *dist;
    size_t n, n_bands, first, *band;
    bool pdist; /* OP_PDIST rounds to run */
} s_coord;

typedef struct s_model {
    Cohort__Hierarchical__Model *pb;
    bool built;
} s_model;

static void s_free_built(Cohort__Hierarchical__Model *m)
{
    if (!m) {
        return;
    }
    for (size_t f = 0; m->names && f < m->n_names; f++) {
        free(m->names[f]);
    }
    free(m->names);
    for (size_t c = 0; m->classes && c < m->n_classes; c++) {
        free(m->classes[c]);
    }
    free(m->classes);
    free(m->mean);
    free(m->scale);
    free(m->merges);
    free(m->centroids);
    free(m->count);
    free(m->silhouette_cluster);
    free(m->silhouette_hist);
    free(m->contingency);
    free(m->rows);
    free(m->labels);
    free(m);
}

static void *s_coord_new(const ch_coord_env *env, ch_err *err)
{
    s_coord *st = calloc(1, sizeof *st);
    if (!st) {
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    if (s_read_params(env->cfg, &st->p, err) != 0 ||
        ch_cl_check_schema(env->schema, "model.algorithm hierarchical", err) != 0) {
        free(st);
        return NULL;
    }
    st->schema = env->schema;
    st->run_dir = env->run_dir;
    st->d = env->schema->n_features;
    st->q = s_classes(env->schema);
    st->n_blocks = env->n_blocks;
    st->n_train = env->n_train;
    st->n_shards = env->n_shards;
    /* the engine refuses larger messages (runtime.max_message_mb) */
    st->max_message = S_PDIST_MAX_MESSAGE;
    double mb = 0;
    if (ch_config_has(env->cfg, "runtime.max_message_mb") &&
        ch_cfg_num(env->cfg, "runtime.max_message_mb", 256, 1, 4096, &mb, err) != 0) {
        free(st);
        return NULL;
    }
    if (mb > 0 && mb * 1048576.0 < (double)st->max_message) {
        st->max_message = (size_t)(mb * 1048576.0);
    }
    int scheme = 0;
    if (ch_cfg_enum(env->cfg, "partition.scheme", "iid", ch_part_scheme_names, &scheme, err) != 0) {
        free(st);
        return NULL;
    }
    st->by_file = scheme == CH_PART_BY_FILE;
    if (st->by_file && st->p.distances == S_DIST_WORKERS) {
        /* (and a silo knows only its local shard, not its band's index) */
        ch_err_set(err, CH_EINVAL,
                   "%s: model.distances workers would send every silo's rows to every silo "
                   "(partition.scheme by-file); use model.distances: coordinator",
                   ch_config_where(env->cfg, "model.distances"));
        free(st);
        return NULL;
    }
    return st;
}

/* Drops the OP_PDIST state (the pending model, rows and matrix). */
static void s_pdist_free(s_coord *st)
{
    if (st->pending) {
        st->pending->linkage = NULL;
    }
    s_free_built(st->pending);
    free(st->x);
    free(st->y);
    free(st->dist);
    free(st->band);
    st->pending = NULL;
    st->x = st->y = st->dist = NULL;
    st->band = NULL;
    st->n = st->n_bands = st->first = 0;
    st->pdist = false;
}

/* Skips the rounds whose bands are all empty (tiny bands can fall between
 * two rows' boundaries). */
static void s_skip_empty(s_coord *st)
{
    while (st->first < st->n_bands) {
        size_t end =
            st->first + st->n_shards < st->n_bands ? st->first + st->n_shards : st->n_bands;
        if (st->band[end] > st->band[st->first]) {
            return;
        }
        st->first = end;
    }
}

static int s_next_task(void *vst, uint32_t round, uint32_t *op, ch_buf *payload, ch_err *err)
{
    s_coord *st = vst;
    (void)round;
    if (st->done) {
        return 1;
    }
    if (!st->pdist) {
        *op = OP_GATHER;
        return 0;
    }
    /* OP_PDIST: the rows and, per shard, its band of this round */
    size_t w = st->n_shards;
    uint64_t *lo = calloc(w, sizeof *lo), *hi = calloc(w, sizeof *hi);
    if (!lo || !hi) {
        free(lo);
        free(hi);
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    for (size_t s = 0; s < w && st->first + s < st->n_bands; s++) {
        lo[s] = st->band[st->first + s];
        hi[s] = st->band[st->first + s + 1];
    }
    Cohort__Hierarchical__PdistTask t = COHORT__HIERARCHICAL__PDIST_TASK__INIT;
    t.n = st->n;
    t.d = (uint32_t)st->d;
    t.n_x = st->n * st->d;
    t.x = st->x;
    t.n_band_begin = t.n_band_end = w;
    t.band_begin = lo;
    t.band_end = hi;
    int rc = ch_pb_append(&t.base, payload, err);
    if (rc == 0) {
        *op = OP_PDIST;
    }
    free(lo);
    free(hi);
    return rc;
}

/* OP_PDIST rounds ask only the shards that have a band in the round. */
static int s_participants(void *vst, uint32_t round, const bool *live, size_t n_shards,
                          bool *chosen, ch_round_plan *plan, ch_err *err)
{
    s_coord *st = vst;
    (void)round;
    (void)live;
    (void)plan;
    (void)err;
    for (size_t s = 0; st->pdist && s < n_shards; s++) {
        size_t b = st->first + s;
        chosen[s] = s < st->n_shards && b < st->n_bands && st->band[b + 1] > st->band[b];
    }
    return 0;
}

static int s_cmp_id(const void *a, const void *b)
{
    const uint64_t *x = a, *y = b;
    return x[0] < y[0] ? -1 : x[0] > y[0];
}

/* Writes the linkage in SciPy's format as CSV (no header: np.loadtxt(path,
 * delimiter=",") reads it): model.linkage_csv, else DIR/linkage.csv. */
static int s_write_csv(const char *path, const double *z, size_t n, ch_err *err)
{
    ch_buf b;
    ch_buf_init(&b);
    for (size_t k = 0; k + 1 < n; k++) {
        ch_buf_printf(&b, "%.0f,%.0f,%.17g,%.0f\n", z[4 * k], z[4 * k + 1], z[4 * k + 2],
                      z[4 * k + 3]);
    }
    int rc = b.failed ? ch_err_set(err, CH_ENOMEM, "out of memory")
                      : ch_write_file_atomic(path, b.data, b.len, err);
    ch_buf_free(&b);
    return rc ? ch_err_prefix(err, "model.linkage_csv") : 0;
}

/* Up to this many rows the condensed matrix is kept (copied before the
 * linkage overwrites it) and the silhouette is read from it: exact pdist
 * distances and no second O(n^2 d) pass. Above it (the copy would pass
 * 64 MB) the silhouette recomputes the distances in blocks through dgemm. */
enum { S_KEEP_DIST_ROWS = 4096 };

/* Silhouette of every row from the condensed distances: per row the sums
 * of distances to each cluster, then scikit-learn's (b - a) / max(a, b)
 * (0 for a row alone in its cluster). sums: n x k scratch, zeroed. */
static void s_silhouette_condensed(const double *dist, size_t n, const int32_t *lab,
                                   const double *count, size_t k, double *sums, double *s)
{
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        double *si = sums + i * k;
        for (size_t j = i + 1; j < n; j++, at++) {
            si[lab[j]] += dist[at];
            sums[j * k + (size_t)lab[i]] += dist[at];
        }
    }
    for (size_t i = 0; i < n; i++) {
        s[i] = ch_cl_silhouette_of(sums + i * k, (size_t)lab[i], true, count, k);
    }
}

/* Clusters the n rows of x (n x d, standardised) and fills the model.
 * given: their condensed distance matrix (computed by the workers), which
 * this function takes and frees, or NULL: it is computed here. */
static int s_cluster(s_coord *st, Cohort__Hierarchical__Model *m, double *x, const double *y,
                     size_t n, double *given, ch_err *err)
{
    size_t d = st->d, q = st->q, pairs;
    if (ch_mul_size(n, n - 1, &pairs) != 0) {
        free(given);
        return ch_err_set(err, CH_EINVAL, "too many rows");
    }
    pairs /= 2;
    double *dist = given ? given : ch_alloc_big(pairs ? pairs : 1, sizeof(double));
    m->merges = ch_alloc_array(n - 1, 4 * sizeof(double));
    m->labels = malloc(n * sizeof(int32_t));
    if (!dist || !m->merges || !m->labels) {
        free(dist);
        return ch_err_set(err, CH_ENOMEM, "out of memory for the %zu x %zu distance matrix", n, n);
    }
    m->n_merges = 4 * (n - 1);
    m->n_labels = n;
    if (!given) {
        ch_hc_pdist(x, n, d, dist);
    }
    double *kept = n <= S_KEEP_DIST_ROWS ? ch_alloc_big(pairs ? pairs : 1, sizeof *kept) : NULL;
    if (kept) {
        memcpy(kept, dist, pairs * sizeof *kept);
    }
    int rc = ch_hc_linkage(dist, n, (ch_hc_method)st->p.linkage, m->merges);
    free(dist);
    if (rc) {
        free(kept);
        return ch_err_set(err, rc, "out of memory for the linkage");
    }
    const double *z = m->merges;
    if (!isnan(st->p.threshold) && !(z[2] <= st->p.threshold)) {
        free(kept);
        return ch_err_set(err, CH_EINVAL,
                          "model.distance_threshold %g is below the smallest merge distance "
                          "%.6g: every row would be its own cluster",
                          st->p.threshold, z[2]);
    }
    size_t k = ch_hc_cut(z, n, isnan(st->p.threshold) ? (size_t)st->p.n_clusters : 0,
                         st->p.threshold, m->labels);
    if (k == 0) {
        free(kept);
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    m->n_clusters = (uint32_t)k;
    m->threshold = st->p.threshold;
    m->centroids = ch_calloc_array(k, d * sizeof(double));
    m->count = calloc(k, sizeof(double));
    m->silhouette_cluster = calloc(k, sizeof(double));
    m->contingency = ch_calloc_array(k, (q ? q : 1) * sizeof(double));
    double *spread = calloc(k, sizeof(double));
    double *s = malloc(n * sizeof(double));
    long *self = malloc(n * sizeof(long));
    double *mean = calloc(d, sizeof(double));
    if (!m->centroids || !m->count || !m->silhouette_cluster || !m->contingency || !spread || !s ||
        !self || !mean) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    m->n_centroids = k * d;
    m->n_count = m->n_silhouette_cluster = k;
    m->n_contingency = k * q;
    int32_t *lab = m->labels;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        m->count[lab[i]] += 1;
        for (size_t f = 0; f < d; f++) {
            m->centroids[(size_t)lab[i] * d + f] += x[i * d + f];
            mean[f] += x[i * d + f];
        }
        if (q && isfinite(y[i]) && y[i] >= 0 && y[i] < (double)q) {
            m->contingency[(size_t)lab[i] * q + (size_t)y[i]] += 1;
        }
        self[i] = (long)i;
    }
    double inertia = 0;
    if (rc == 0) {
        for (size_t c = 0; c < k; c++) {
            for (size_t f = 0; f < d; f++) {
                m->centroids[c * d + f] /= m->count[c];
            }
        }
        for (size_t f = 0; f < d; f++) {
            mean[f] /= (double)n;
        }
        for (size_t i = 0; i < n; i++) {
            double s2 = 0;
            for (size_t f = 0; f < d; f++) {
                double v = x[i * d + f] - m->centroids[(size_t)lab[i] * d + f];
                s2 += v * v;
            }
            inertia += s2;
            spread[lab[i]] += sqrt(s2);
        }
        for (size_t c = 0; c < k; c++) {
            spread[c] /= m->count[c];
        }
        m->inertia = inertia;
        m->davies_bouldin = ch_cl_davies_bouldin(m->centroids, spread, m->count, k, d);
        m->calinski_harabasz =
            ch_cl_calinski_harabasz(m->centroids, m->count, mean, inertia, k, d, (double)n);
        m->adjusted_rand = q ? ch_cl_adjusted_rand(m->contingency, k, q) : NAN;
        m->silhouette = NAN;
        if (k >= 2 && k < n) {
            double *sums = kept ? ch_calloc_array(n, k * sizeof(double)) : NULL;
            if (sums) {
                s_silhouette_condensed(kept, n, lab, m->count, k, sums, s);
            } else {
                rc = ch_cl_silhouette(x, n, lab, self, x, n, lab, m->count, k, d, s, err);
            }
            free(sums);
            double tot = 0;
            m->silhouette_hist = rc == 0 ? ch_calloc_array(k, CH_SIL_BINS * sizeof(double)) : NULL;
            if (rc == 0 && !m->silhouette_hist) {
                rc = ch_err_set(err, CH_ENOMEM, "out of memory");
            }
            m->n_silhouette_hist = rc == 0 ? k * CH_SIL_BINS : 0;
            for (size_t i = 0; rc == 0 && i < n; i++) {
                m->silhouette_cluster[lab[i]] += s[i];
                m->silhouette_hist[(size_t)lab[i] * CH_SIL_BINS + ch_sil_bin(s[i])] += 1;
                tot += s[i];
            }
            for (size_t c = 0; rc == 0 && c < k; c++) {
                m->silhouette_cluster[c] /= m->count[c];
            }
            m->silhouette = rc == 0 ? tot / (double)n : NAN;
        } else {
            m->n_silhouette_cluster = 0;
        }
    }
    free(kept);
    free(spread);
    free(s);
    free(self);
    free(mean);
    if (rc == 0 && (st->p.linkage_csv || st->run_dir)) {
        char *def = st->p.linkage_csv ? NULL : ch_path_join(st->run_dir, "linkage.csv");
        const char *path = st->p.linkage_csv ? st->p.linkage_csv : def;
        rc = path ? s_write_csv(path, z, n, err) : ch_err_set(err, CH_ENOMEM, "out of memory");
        free(def);
    }
    return rc;
}

/* Decides where the distances of n rows are computed (model.distances) and,
 * for the workers, plans the OP_PDIST rounds: one band per shard per round,
 * balanced by pair count (ch_hc_bands), and as many rounds as keep each
 * band's update, and the task with all n rows, under st->max_message.
 * Returns 0 with *use set (and, when true, st->band, st->n_bands and the
 * matrix st->dist allocated), or an error: workers asked for where the
 * messages cannot hold the task or a row's distances, out of memory. */
static int s_plan_pdist(s_coord *st, size_t n, bool *use, ch_err *err)
{
    *use = false;
    int mode = st->p.distances;
    size_t w = st->n_shards;
    if (mode == S_DIST_COORDINATOR || w == 0 ||
        (mode == S_DIST_AUTO &&
         (w < 2 || n < S_AUTO_WORKER_ROWS || st->d < S_AUTO_WORKER_FEATURES || st->by_file))) {
        return 0;
    }
    size_t pairs = ch_hc_row_start(n, n), x_bytes, task = SIZE_MAX;
    if (ch_mul_size(n, st->d, &x_bytes) == 0 &&
        ch_mul_size(x_bytes, sizeof(double), &x_bytes) == 0 && x_bytes < SIZE_MAX / 2) {
        task = x_bytes + 20 * w + 64; /* the rows, two varints per shard, the header */
    }
    size_t room = st->max_message > S_MSG_SLACK ? st->max_message - S_MSG_SLACK : 0;
    size_t cap = room / sizeof(double); /* distances in one update */
    double mb = (double)st->max_message / 1048576.0;
    if (task > room || cap < n) {
        if (mode == S_DIST_AUTO) {
            ch_info("hierarchical: distances on the coordinator: the %zu x %zu rows do not fit "
                    "the %.0f MB a task may hold",
                    n, st->d, mb);
            return 0;
        }
        return task > room
                   ? ch_err_set(err, CH_EINVAL,
                                "model.distances workers: the task would carry the %zu x %zu "
                                "standardised rows (%.1f MB), more than the %.0f MB a message "
                                "may hold (64 MB, or runtime.max_message_mb if lower); use "
                                "model.distances: coordinator",
                                n, st->d, (double)x_bytes / 1048576.0, mb)
                   : ch_err_set(err, CH_EINVAL,
                                "model.distances workers: one row's %zu distances do not fit the "
                                "%.0f MB a message may hold (runtime.max_message_mb); use "
                                "model.distances: coordinator",
                                n - 1, mb);
    }
    /* a band has fewer than ceil(pairs / bands) + n - 1 pairs (linkage.h),
     * so ceil(pairs / bands) <= cap - n + 1 keeps it under cap */
    size_t per = cap - n + 1, bands = (pairs + per - 1) / per;
    size_t rounds = (bands + w - 1) / w;
    rounds = rounds ? rounds : 1;
    bands = rounds * w;
    st->band = ch_alloc_array(bands + 1, sizeof *st->band);
    st->dist = ch_alloc_big(pairs ? pairs : 1, sizeof(double));
    if (!st->band || !st->dist) {
        free(st->band);
        free(st->dist);
        st->band = NULL;
        st->dist = NULL;
        return ch_err_set(err, CH_ENOMEM, "out of memory for the %zu x %zu distance matrix", n, n);
    }
    ch_hc_bands(n, bands, st->band);
    st->n_bands = bands;
    st->first = 0;
    st->n = n;
    s_skip_empty(st);
    ch_info("hierarchical: the workers compute the %zu x %zu distance matrix in %zu band%s, %zu "
            "round%s (messages of at most %.0f MB)",
            n, n, bands, bands == 1 ? "" : "s", rounds, rounds == 1 ? "" : "s", mb);
    *use = true;
    return 0;
}

/* The gather round: rows in row order, standardised; then the clustering,
 * or the OP_PDIST rounds first. */
static int s_gather(s_coord *st, const ch_update *ups, size_t n_up, ch_round_metrics *mt,
                    ch_err *err)
{
    size_t d = st->d, w = d + 1;
    ch_cl_rows g;
    if (ch_cl_rows_init(&g, st->n_blocks, w) != 0) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    int rc = 0;
    for (size_t i = 0; i < n_up && rc == 0; i++) {
        Cohort__Hierarchical__Update *u =
            cohort__hierarchical__update__unpack(NULL, ups[i].state_len, ups[i].state);
        if (!u) {
            rc = ch_err_set(err, CH_EPROTO, "hierarchical: the update for shard %u does not decode",
                            ups[i].shard);
            break;
        }
        rc = ch_cl_rows_add(&g, u->rows.data, u->rows.len, err);
        cohort__hierarchical__update__free_unpacked(u, NULL);
    }
    double *xw = NULL;
    uint64_t *ids = NULL;
    size_t n = 0;
    if (rc == 0) {
        rc = ch_cl_rows_finish(&g, &xw, &ids, &n, err);
    }
    ch_cl_rows_free(&g);
    if (rc) {
        return rc;
    }
    if (n < 2 || n > (size_t)st->p.max_rows ||
        (isnan(st->p.threshold) && (size_t)st->p.n_clusters > n)) {
        rc = n > (size_t)st->p.max_rows
                 ? ch_err_set(err, CH_EINVAL,
                              "hierarchical clustering of %zu rows needs a %zu x %zu distance "
                              "matrix; model.max_rows is %ld (raise it, up to 200000, if the "
                              "memory allows, or sample the data)",
                              n, n, n, st->p.max_rows)
                 : ch_err_set(err, CH_EINVAL,
                              "hierarchical: %zu complete rows cannot make %ld clusters", n,
                              isnan(st->p.threshold) ? st->p.n_clusters : 2L);
        free(xw);
        free(ids);
        return rc;
    }
    /* row order: sort (id, position) pairs */
    uint64_t *order = ch_alloc_array(n, 2 * sizeof(uint64_t));
    double *x = ch_alloc_array(n, d * sizeof(double));
    double *y = malloc(n * sizeof(double));
    Cohort__Hierarchical__Model *m = calloc(1, sizeof *m);
    if (!order || !x || !y || !m) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
    } else {
        cohort__hierarchical__model__init(m);
        for (size_t i = 0; i < n; i++) {
            order[2 * i] = ids[i];
            order[2 * i + 1] = i;
        }
        qsort(order, n, 2 * sizeof(uint64_t), s_cmp_id);
        m->rows = malloc(n * sizeof(uint64_t));
        m->mean = calloc(d, sizeof(double));
        m->scale = calloc(d, sizeof(double));
        m->names = calloc(d, sizeof(char *));
        m->classes = calloc(st->q ? st->q : 1, sizeof(char *));
        if (!m->rows || !m->mean || !m->scale || !m->names || !m->classes) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        }
    }
    if (rc == 0) {
        m->n_rows = n;
        m->n = n;
        m->d = (uint32_t)d;
        m->n_mean = m->n_scale = m->n_names = d;
        m->standardize = st->p.standardize;
        m->linkage = (char *)s_linkages[st->p.linkage];
        m->n_skipped = st->n_train > n ? st->n_train - n : 0;
        for (size_t f = 0; f < d; f++) {
            m->names[f] = strdup(st->schema->features[f].name);
        }
        m->n_classes = st->q;
        for (size_t c = 0; c < st->q; c++) {
            m->classes[c] = strdup(st->schema->target.levels[c]);
        }
        for (size_t i = 0; i < n; i++) {
            size_t src = (size_t)order[2 * i + 1];
            m->rows[i] = order[2 * i];
            memcpy(x + i * d, xw + src * w, d * sizeof(double));
            y[i] = xw[src * w + d];
        }
        /* standardisation: two passes in row order, population sd */
        for (size_t f = 0; f < d; f++) {
            double s = 0;
            for (size_t i = 0; i < n; i++) {
                s += x[i * d + f];
            }
            double mu = s / (double)n, ss = 0;
            for (size_t i = 0; i < n; i++) {
                double v = x[i * d + f] - mu;
                ss += v * v;
            }
            double sd = sqrt(ss / (double)n);
            m->mean[f] = mu;
            m->scale[f] = sd > 0 && isfinite(sd) ? sd : 1.0;
            if (st->p.standardize) {
                for (size_t i = 0; i < n; i++) {
                    x[i * d + f] = (x[i * d + f] - mu) / m->scale[f];
                }
            }
        }
        bool on_workers = false;
        rc = s_plan_pdist(st, n, &on_workers, err);
        if (rc == 0 && on_workers) { /* kept for the OP_PDIST rounds */
            st->pending = m;
            st->x = x;
            st->y = y;
            st->pdist = true;
            m = NULL;
            x = y = NULL;
        } else if (rc == 0) {
            rc = s_cluster(st, m, x, y, n, NULL, err);
        }
    }
    free(order);
    free(x);
    free(y);
    free(xw);
    free(ids);
    if (rc) {
        if (m) {
            m->linkage = NULL;
        }
        s_free_built(m);
        return rc;
    }
    if (st->pdist) {
        ch_round_metric(mt, "rows_used", (double)n);
        return 0;
    }
    st->model = m;
    st->done = true;
    ch_round_metric(mt, "rows_used", (double)n);
    if (!isnan(m->silhouette)) {
        ch_round_metric(mt, "silhouette", m->silhouette);
    }
    return 0;
}

/* An OP_PDIST round: each shard's band copied into the matrix at its
 * offset; after the last band, the clustering. A band that is not the one
 * asked of its shard, or of the wrong length, stops the run with an error
 * that names the shard. */
static int s_take_bands(s_coord *st, const ch_update *ups, size_t n_up, ch_round_metrics *mt,
                        ch_err *err)
{
    size_t n = st->n, w = st->n_shards, first = st->first;
    size_t end = first + w < st->n_bands ? first + w : st->n_bands, want = 0, got = 0;
    double pairs_in = 0;
    for (size_t b = first; b < end; b++) {
        want += st->band[b + 1] > st->band[b];
    }
    int rc = 0;
    for (size_t i = 0; i < n_up && rc == 0; i++) {
        uint32_t s = ups[i].shard;
        size_t b = first + s;
        if (s >= w || b >= end || st->band[b + 1] == st->band[b]) {
            rc = ch_err_set(err, CH_EPROTO,
                            "hierarchical: shard %u sent distances, but it was asked for no band "
                            "in this round",
                            s);
            break;
        }
        Cohort__Hierarchical__Update *u =
            cohort__hierarchical__update__unpack(NULL, ups[i].state_len, ups[i].state);
        size_t lo = st->band[b], hi = st->band[b + 1];
        size_t off = ch_hc_row_start(n, lo), cnt = ch_hc_row_start(n, hi) - off;
        if (!u) {
            rc = ch_err_set(err, CH_EPROTO,
                            "hierarchical: the distance update for shard %u does not decode", s);
        } else if (u->band_begin != lo || u->band_end != hi) {
            rc = ch_err_set(err, CH_EPROTO,
                            "hierarchical: shard %u sent the distances of rows [%llu, %llu), but "
                            "its band in this round is rows [%zu, %zu)",
                            s, (unsigned long long)u->band_begin, (unsigned long long)u->band_end,
                            lo, hi);
        } else if (u->n_dist != cnt) {
            rc = ch_err_set(err, CH_EPROTO,
                            "hierarchical: shard %u sent %zu distances for rows [%zu, %zu), which "
                            "have %zu pairs",
                            s, u->n_dist, lo, hi, cnt);
        } else {
            memcpy(st->dist + off, u->dist, cnt * sizeof(double));
            pairs_in += (double)cnt;
            got++;
        }
        if (u) {
            cohort__hierarchical__update__free_unpacked(u, NULL);
        }
    }
    if (rc == 0 && got != want) {
        rc = ch_err_set(err, CH_EPROTO,
                        "hierarchical: the round ended with %zu of its %zu distance bands", got,
                        want);
    }
    if (rc) {
        return rc;
    }
    ch_round_metric(mt, "distance_pairs", pairs_in);
    st->first = end;
    s_skip_empty(st);
    if (st->first < st->n_bands) {
        return 0;
    }
    Cohort__Hierarchical__Model *m = st->pending;
    double *dist = st->dist;
    st->dist = NULL; /* s_cluster takes it */
    rc = s_cluster(st, m, st->x, st->y, n, dist, err);
    if (rc) {
        return rc; /* st->pending is freed with the state */
    }
    st->pending = NULL;
    s_pdist_free(st);
    st->model = m;
    st->done = true;
    if (!isnan(m->silhouette)) {
        ch_round_metric(mt, "silhouette", m->silhouette);
    }
    return 0;
}

static int s_aggregate(void *vst, uint32_t round, uint32_t op, const ch_update *ups, size_t n_up,
                       ch_round_metrics *mt, ch_err *err)
{
    s_coord *st = vst;
    (void)round;
    if (op == OP_GATHER && !st->pdist) {
        return s_gather(st, ups, n_up, mt, err);
    }
    if (op == OP_PDIST && st->pdist) {
        return s_take_bands(st, ups, n_up, mt, err);
    }
    return ch_err_set(err, CH_EPROTO, "hierarchical: unexpected op %u", op);
}

/* DIR/assignments.csv: row, cluster of the cut (linkage.csv is written
 * with the merges, s_write_csv). */
static void s_write_files(const char *dir, const Cohort__Hierarchical__Model *m)
{
    ch_cl_write_assignments(dir, "hierarchical", m->rows, m->labels,
                            m->n_rows < m->n_labels ? m->n_rows : m->n_labels);
}

static void *s_finalize(void *vst, ch_err *err)
{
    s_coord *st = vst;
    if (!st->model) {
        ch_err_set(err, CH_EINTERNAL, "hierarchical: finalize before the gather round");
        return NULL;
    }
    s_model *md = calloc(1, sizeof *md);
    if (!md) {
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    md->pb = st->model;
    s_write_files(st->run_dir, st->model);
    md->built = true;
    st->model = NULL;
    return md;
}

/* The checkpoint is the model itself once the gather round is done. */
static int s_save(void *vst, ch_buf *out, ch_err *err)
{
    s_coord *st = vst;
    uint8_t done = st->model ? 1 : 0;
    ch_buf_append(out, &done, 1);
    int rc = st->model ? ch_pb_append(&st->model->base, out, err) : 0;
    if (rc) {
        return rc;
    }
    return out->failed ? ch_err_set(err, CH_ENOMEM, "out of memory") : 0;
}

static int s_load(void *vst, const uint8_t *data, size_t len, ch_err *err)
{
    s_coord *st = vst;
    (void)data;
    (void)len;
    (void)err;
    s_pdist_free(st);
    st->done = false; /* gather again: cheaper than trusting a partial state */
    return 0;
}

static void s_coord_destroy(void **pst)
{
    if (!pst || !*pst) {
        return;
    }
    s_coord *st = *pst;
    if (st->model) {
        st->model->linkage = NULL;
    }
    s_free_built(st->model);
    s_pdist_free(st);
    free(st);
    *pst = NULL;
}

/* --- worker ----------------------------------------------------------------------- */

typedef struct s_worker {
    const ch_worker_env *env;
    size_t d;
} s_worker;

static void *s_worker_new(const ch_worker_env *env, ch_err *err)
{
    s_worker *w = calloc(1, sizeof *w);
    if (!w) {
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    w->env = env;
    w->d = env->schema->n_features;
    return w;
}

static void s_worker_destroy(void **pw)
{
    if (pw && *pw) {
        free(*pw);
        *pw = NULL;
    }
}

/* OP_PDIST: the distances of this shard's band of the task's rows. The
 * task is checked (it comes from the network) before anything is sized
 * from it. */
static int s_run_pdist(s_worker *w, const uint8_t *payload, size_t len, uint32_t shard, ch_buf *out,
                       uint64_t *samples, ch_err *err)
{
    Cohort__Hierarchical__PdistTask *t =
        cohort__hierarchical__pdist_task__unpack(NULL, len, payload);
    if (!t) {
        return ch_err_set(err, CH_EPROTO, "hierarchical: the distance task does not decode");
    }
    size_t n = t->n, d = t->d, nx = 0;
    int rc = 0;
    if (n < 2 || n > 200000 || d != w->d || ch_mul_size(n, d, &nx) != 0 || t->n_x != nx ||
        t->n_band_begin != t->n_band_end) {
        rc = ch_err_set(err, CH_EPROTO,
                        "hierarchical: a distance task of inconsistent sizes (%zu rows, %zu "
                        "features, %zu values; this worker's data has %zu features)",
                        n, d, t->n_x, w->d);
    } else if (shard >= t->n_band_begin || t->band_begin[shard] > t->band_end[shard] ||
               t->band_end[shard] > n) {
        rc = ch_err_set(err, CH_EPROTO, "hierarchical: the distance task has no band for shard %u",
                        shard);
    }
    if (rc) {
        cohort__hierarchical__pdist_task__free_unpacked(t, NULL);
        return rc;
    }
    size_t lo = t->band_begin[shard], hi = t->band_end[shard];
    size_t cnt = ch_hc_row_start(n, hi) - ch_hc_row_start(n, lo);
    double *dist = ch_alloc_array(cnt ? cnt : 1, sizeof *dist);
    if (!dist) {
        cohort__hierarchical__pdist_task__free_unpacked(t, NULL);
        return ch_err_set(err, CH_ENOMEM, "out of memory for %zu distances", cnt);
    }
    ch_hc_pdist_rows(t->x, n, d, lo, hi, dist);
    cohort__hierarchical__pdist_task__free_unpacked(t, NULL);
    Cohort__Hierarchical__Update u = COHORT__HIERARCHICAL__UPDATE__INIT;
    u.band_begin = lo;
    u.band_end = hi;
    u.n_dist = cnt;
    u.dist = dist;
    rc = ch_pb_append(&u.base, out, err);
    free(dist);
    *samples = hi - lo;
    return rc;
}

static int s_run_task(void *vw, uint32_t round, uint32_t op, const uint8_t *payload, size_t len,
                      uint32_t shard, ch_buf *out, uint64_t *samples, ch_err *err)
{
    s_worker *w = vw;
    (void)round;
    const ch_plan *plan = w->env->plan;
    const ch_table *t = w->env->train;
    if (op == OP_PDIST) {
        return s_run_pdist(w, payload, len, shard, out, samples, err);
    }
    if (op != OP_GATHER) {
        return ch_err_set(err, CH_EPROTO, "hierarchical: unknown op %u", op);
    }
    if (shard >= plan->n_shards) {
        return ch_err_set(err, CH_EPROTO, "hierarchical: shard %u out of range", shard);
    }
    size_t d = w->d, wd = d + 1;
    bool global = w->env->block_offset == 0 && plan->n_blocks == w->env->n_blocks_total;
    ch_buf rows;
    ch_buf_init(&rows);
    int rc = 0;
    for (size_t lb = plan->shard_block[shard]; rc == 0 && lb < plan->shard_block[shard + 1]; lb++) {
        size_t lo = plan->block_begin[lb], hi = plan->block_begin[lb + 1], nb = hi - lo;
        double *x = ch_alloc_array(nb ? nb : 1, wd * sizeof(double));
        uint64_t *ids = malloc((nb ? nb : 1) * sizeof *ids);
        if (!x || !ids) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        size_t m = 0;
        for (size_t r = lo; rc == 0 && r < hi; r++) {
            size_t i = plan->rows[r];
            if (ch_cl_row_missing(t, i)) {
                continue;
            }
            for (size_t f = 0; f < d; f++) {
                x[m * wd + f] = t->cols[f].values[i];
            }
            x[m * wd + d] = t->has_target ? t->target.values[i] : NAN;
            ids[m] = global ? i : (((uint64_t)(w->env->block_offset + lb) << 32) | (r - lo));
            m++;
        }
        if (rc == 0) {
            rc = ch_cl_rows_put(&rows, w->env->block_offset + lb, m, ids, x, wd);
        }
        free(x);
        free(ids);
    }
    if (rc == 0) {
        Cohort__Hierarchical__Update u = COHORT__HIERARCHICAL__UPDATE__INIT;
        u.rows.data = rows.data;
        u.rows.len = rows.len;
        rc = ch_pb_append(&u.base, out, err);
    }
    *samples = ch_plan_shard_end(plan, shard) - ch_plan_shard_begin(plan, shard);
    ch_buf_free(&rows);
    return rc;
}

/* --- model ------------------------------------------------------------------------ */

static void s_model_destroy(void **pm)
{
    if (!pm || !*pm) {
        return;
    }
    s_model *md = *pm;
    if (md->built) {
        md->pb->linkage = NULL;
        s_free_built(md->pb);
    } else if (md->pb) {
        cohort__hierarchical__model__free_unpacked(md->pb, NULL);
    }
    free(md);
    *pm = NULL;
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

/* New rows go to the nearest cluster centroid (standardised space). */
static int s_predict(const void *vm, const ch_table *t, double *out, ch_err *err)
{
    const Cohort__Hierarchical__Model *m = ((const s_model *)vm)->pb;
    return ch_cl_predict_nearest(t, "hierarchical", m->centroids, m->n_clusters, m->d,
                                 m->standardize ? m->mean : NULL, m->scale, out, err);
}

static int s_evaluate(const void *vm, const ch_table *t, ch_round_metrics *out, ch_err *err)
{
    const Cohort__Hierarchical__Model *m = ((const s_model *)vm)->pb;
    return ch_cl_evaluate_nearest(t, "hierarchical", m->centroids, m->n_clusters, m->d,
                                  m->standardize ? m->mean : NULL, m->scale, out, err);
}

static int s_pack(const void *vm, ch_buf *out, ch_err *err)
{
    const Cohort__Hierarchical__Model *m = ((const s_model *)vm)->pb;
    return ch_pb_append(&m->base, out, err);
}

static void *s_unpack(const uint8_t *data, size_t len, const ch_schema *schema, ch_err *err)
{
    Cohort__Hierarchical__Model *m = cohort__hierarchical__model__unpack(NULL, len, data);
    if (!m) {
        ch_err_set(err, CH_EINVAL, "the hierarchical model payload does not decode");
        return NULL;
    }
    size_t d = m->d, k = m->n_clusters, n = m->n;
    bool ok = d >= 1 && d <= CH_CL_MAX_D && k >= 1 && n >= 2 && k <= n &&
              (!schema || schema->n_features == d) && m->n_names == d && m->n_mean == d &&
              m->n_scale == d && m->n_merges == 4 * (n - 1) && m->n_centroids == k * d &&
              m->n_count == k && (m->n_silhouette_cluster == 0 || m->n_silhouette_cluster == k) &&
              (m->n_silhouette_hist == 0 || m->n_silhouette_hist == k * CH_SIL_BINS) &&
              m->n_contingency == k * m->n_classes && m->n_labels == n && m->n_rows == n;
    for (size_t i = 0; ok && i < n; i++) {
        ok = m->labels[i] >= 0 && (size_t)m->labels[i] < k;
    }
    for (size_t r = 0; ok && r + 1 < n; r++) {
        double a = m->merges[4 * r], b = m->merges[4 * r + 1];
        ok = a >= 0 && b >= 0 && a < (double)(n + r) && b < (double)(n + r);
    }
    if (!ok) {
        cohort__hierarchical__model__free_unpacked(m, NULL);
        ch_err_set(err, CH_EINVAL, "the hierarchical model payload has inconsistent sizes");
        return NULL;
    }
    s_model *md = calloc(1, sizeof *md);
    if (!md) {
        cohort__hierarchical__model__free_unpacked(m, NULL);
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    md->pb = m;
    return md;
}

static void s_num(ch_buf *j, double v)
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
    const Cohort__Hierarchical__Model *m = ((const s_model *)vm)->pb;
    (void)err;
    ch_cl_model_metrics(out, m->inertia, m->silhouette, m->davies_bouldin, m->calinski_harabasz);
    return 0;
}

static int s_summary_json(const void *vm, ch_buf *j)
{
    const Cohort__Hierarchical__Model *m = ((const s_model *)vm)->pb;
    double top = m->merges[4 * (m->n - 2) + 2];
    ch_buf_puts(j, ",\n  \"inertia\": ");
    s_num(j, m->inertia);
    ch_buf_puts(j, ",\n  \"silhouette\": ");
    s_num(j, m->silhouette);
    ch_buf_puts(j, ",\n  \"davies_bouldin\": ");
    s_num(j, m->davies_bouldin);
    ch_buf_puts(j, ",\n  \"calinski_harabasz\": ");
    s_num(j, m->calinski_harabasz);
    if (m->n_contingency) {
        ch_buf_puts(j, ",\n  \"adjusted_rand\": ");
        s_num(j, m->adjusted_rand);
    }
    ch_buf_printf(j,
                  ",\n  \"clustering\": {\"linkage\": \"%s\", \"n_clusters\": %u, \"rows\": %llu, "
                  "\"rows_skipped\": %llu, \"top_merge_distance\": ",
                  m->linkage, m->n_clusters, (unsigned long long)m->n,
                  (unsigned long long)m->n_skipped);
    s_num(j, top);
    ch_buf_puts(j, ", \"sizes\": [");
    for (size_t c = 0; c < m->n_clusters; c++) {
        ch_buf_printf(j, "%s%.0f", c ? ", " : "", m->count[c]);
    }
    ch_buf_puts(j, "]}");
    return j->failed ? CH_ENOMEM : 0;
}

static int s_describe(const void *vm, ch_buf *text)
{
    const Cohort__Hierarchical__Model *m = ((const s_model *)vm)->pb;
    ch_buf_printf(text, "agglomerative clustering, %s linkage: %llu rows, %u clusters\n",
                  m->linkage, (unsigned long long)m->n, m->n_clusters);
    ch_buf_printf(text, "silhouette %.6g, Davies-Bouldin %.6g, Calinski-Harabasz %.6g\n",
                  m->silhouette, m->davies_bouldin, m->calinski_harabasz);
    ch_buf_puts(text, "linkage (SciPy format: idx1, idx2, distance, size), last merges:\n");
    size_t from = m->n > 11 ? m->n - 11 : 0;
    for (size_t k = from; k + 1 < m->n; k++) {
        const double *z = m->merges + 4 * k;
        ch_buf_printf(text, "%.0f,%.0f,%.17g,%.0f\n", z[0], z[1], z[2], z[3]);
    }
    return text->failed ? CH_ENOMEM : 0;
}

static int s_report(const void *vm, ch_report *r, ch_err *err)
{
    const Cohort__Hierarchical__Model *m = ((const s_model *)vm)->pb;
    size_t k = m->n_clusters;
    char v[8][96];
    snprintf(v[0], sizeof v[0], "%s", m->linkage);
    snprintf(v[1], sizeof v[1], "%llu (%llu skipped for missing values)", (unsigned long long)m->n,
             (unsigned long long)m->n_skipped);
    if (isnan(m->threshold)) {
        snprintf(v[2], sizeof v[2], "%u clusters (n_clusters)", m->n_clusters);
    } else {
        snprintf(v[2], sizeof v[2], "%u clusters at distance <= %.6g", m->n_clusters, m->threshold);
    }
    snprintf(v[3], sizeof v[3], "%.6g (exact, over every row, on the coordinator)", m->silhouette);
    snprintf(v[4], sizeof v[4], "%.6g", m->davies_bouldin);
    snprintf(v[5], sizeof v[5], "%.6g", m->calinski_harabasz);
    snprintf(v[6], sizeof v[6], "%.10g", m->inertia);
    snprintf(v[7], sizeof v[7], "%.4f", m->adjusted_rand);
    const char *keys[] = {"linkage",
                          "rows",
                          "cut",
                          "silhouette",
                          "Davies-Bouldin",
                          "Calinski-Harabasz",
                          "inertia",
                          "adjusted Rand index"};
    const char *vals[] = {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]};
    ch_report_section(r, "Clusters");
    int rc = ch_report_kv(r, keys, vals, m->n_contingency ? 8 : 7);
    if (rc == 0) {
        rc = ch_clr_sizes(r, k, m->count, m->n_silhouette_cluster ? m->silhouette_cluster : NULL,
                          NULL, NULL, 0);
    }
    if (rc == 0) {
        rc = ch_clr_silhouette_plot(r, k, m->n_silhouette_hist ? m->silhouette_hist : NULL,
                                    m->silhouette, (unsigned long long)m->n);
    }
    if (rc == 0) {
        ch_report_heading(r, "Dendrogram");
        ch_buf svg;
        ch_buf_init(&svg);
        rc = ch_hc_dendrogram_svg(&svg, m->merges, m->n, 30, m->n_clusters);
        if (rc == 0) {
            rc = ch_report_svg(r, ch_buf_str(&svg));
        }
        ch_buf_free(&svg);
    }
    if (rc == 0) {
        rc = ch_clr_profiles(r, k, m->d, (const char *const *)m->names, m->centroids, m->mean,
                             m->scale, m->standardize);
    }
    if (rc == 0 && m->n_contingency) {
        rc = ch_clr_contingency(r, k, m->n_classes, (const char *const *)m->classes, m->contingency,
                                m->adjusted_rand);
    }
    return rc ? ch_err_set(err, rc, "out of memory writing the hierarchical report") : 0;
}

const ch_algo ch_algo_hierarchical = {
    .name = "hierarchical",
    .summary = "agglomerative clustering (ward, complete, average, single; SciPy's linkage), "
               "with a dendrogram and silhouette",
    .needs_target = false,
    .configure = s_configure,
    .coord_new = s_coord_new,
    .next_task = s_next_task,
    .participants = s_participants,
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
