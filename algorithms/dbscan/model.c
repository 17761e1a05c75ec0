/* model.c: the DBSCAN model: predict (the label of the nearest core point
 * within eps, else -1), model.pb, summary.json keys, the text description
 * and the report (cluster sizes, k-distance curve with its knee, scatter). */
#include "algorithms/dbscan/model.h"
#include "proto/dbscan.pb-c.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Frees the model; accepts NULL. */
void ch_db_model_destroy(void **pm)
{
    if (!pm || !*pm) {
        return;
    }
    ch_db_model *md = *pm;
    for (size_t j = 0; md->names && j < md->d; j++) {
        free(md->names[j]);
    }
    free(md->names);
    free(md->sizes);
    free(md->sizes_core);
    free(md->core_pts);
    free(md->core_label);
    free(md->kdist);
    free(md->sx);
    free(md->sy);
    free(md->sl);
    free(md);
    *pm = NULL;
}

typedef struct s_near {
    const int32_t *label;
    double best;
    size_t best_j;
} s_near;

static int s_hit(void *ctx, size_t q, size_t j, double value)
{
    (void)q;
    s_near *s = ctx;
    if (value < s->best || (value == s->best && j < s->best_j)) {
        s->best = value;
        s->best_j = j;
    }
    return 0;
}

/* Predicts a label per row (see model.h): out[i] is the label of the
 * nearest core point within eps (the lowest core index on ties), -1 when
 * none is within eps, NaN for a row with a missing coordinate. scikit-learn's
 * DBSCAN has no predict; this is the usual extension. Training rows get
 * their training label except border points within eps of two clusters,
 * which go to the nearer core point here. */
int ch_db_model_predict(const void *vm, const ch_table *t, double *out, ch_err *err)
{
    const ch_db_model *md = vm;
    size_t d = md->d, nc = md->n_core;
    if (t->n_cols != d) {
        return ch_err_set(err, CH_EINVAL, "dbscan: %zu columns, the model has %zu", t->n_cols, d);
    }
    size_t ncd = nc * d;
    double *pts = ch_alloc_array(ncd + 1, sizeof *pts);
    double *row = malloc((d + 1) * sizeof *row);
    if (!pts || !row) {
        free(pts);
        free(row);
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    memcpy(pts, md->core_pts, ncd * sizeof *pts);
    if (md->p.metric == CH_DB_COSINE) {
        for (size_t c = 0; c < nc; c++) {
            ch_db_normalise(pts + c * d, d);
        }
    }
    ch_db_index *ix = ch_db_index_new(pts, nc, d, &md->p, err);
    int rc = ix ? 0 : (err ? err->code : CH_ENOMEM);
    for (size_t i = 0; i < t->n_rows && rc == 0; i++) {
        if (!ch_db_row(t, i, md->p.metric, row)) {
            out[i] = NAN;
            continue;
        }
        s_near s = {.label = md->core_label, .best = INFINITY, .best_j = SIZE_MAX};
        rc = ch_db_index_radius(ix, row, 1, s_hit, &s, err);
        out[i] = s.best_j == SIZE_MAX ? -1.0 : (double)md->core_label[s.best_j];
    }
    ch_db_index_destroy(&ix);
    free(pts);
    free(row);
    return rc;
}

/* Packs the model into out (see proto/dbscan.proto). */
int ch_db_model_pack(const void *vm, ch_buf *out, ch_err *err)
{
    const ch_db_model *md = vm;
    Cohort__Dbscan__Model m = COHORT__DBSCAN__MODEL__INIT;
    m.eps = md->p.eps;
    m.min_samples = md->p.min_samples;
    m.metric = (char *)ch_db_metric_names[md->p.metric];
    m.n_names = md->d;
    m.names = md->names;
    m.n_points = md->n_points;
    m.n_core = md->n_core;
    m.n_noise = md->n_noise;
    m.n_cluster_sizes = m.n_cluster_core = md->n_clusters;
    m.cluster_sizes = md->sizes;
    m.cluster_core = md->sizes_core;
    m.n_core_points = md->n_core * md->d;
    m.core_points = md->core_pts;
    m.n_core_labels = md->n_core;
    m.core_labels = md->core_label;
    m.n_kdist = md->n_kdist;
    m.kdist = md->kdist;
    m.knee = (uint32_t)md->knee;
    m.n_scatter_x = m.n_scatter_y = m.n_scatter_label = md->n_scatter;
    m.scatter_x = md->sx;
    m.scatter_y = md->sy;
    m.scatter_label = md->sl;
    m.silhouette = isnan(md->q.silhouette) ? 0 : md->q.silhouette;
    m.silhouette_rows = isnan(md->q.silhouette) ? 0 : md->q.silhouette_rows;
    m.davies_bouldin = md->q.davies_bouldin;
    m.clustered = md->q.clustered;
    size_t size = cohort__dbscan__model__get_packed_size(&m);
    if (ch_buf_reserve(out, size) != 0) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    cohort__dbscan__model__pack(&m, out->data + out->len);
    out->len += size;
    return 0;
}

static void *s_copy(const void *src, size_t n, size_t size)
{
    void *p = ch_alloc_array(n + 1, size);
    if (p && n) {
        memcpy(p, src, n * size);
    }
    return p;
}

/* Unpacks model.pb's payload, checking every size against the schema.
 * Returns NULL with err set on a malformed payload. */
void *ch_db_model_unpack(const uint8_t *data, size_t len, const ch_schema *schema, ch_err *err)
{
    Cohort__Dbscan__Model *m = cohort__dbscan__model__unpack(NULL, len, data);
    if (!m) {
        ch_err_set(err, CH_EINVAL, "the dbscan model payload does not decode");
        return NULL;
    }
    ch_db_model *md = calloc(1, sizeof *md);
    int metric = -1;
    for (int k = 0; ch_db_metric_names[k]; k++) {
        if (m->metric && strcmp(m->metric, ch_db_metric_names[k]) == 0) {
            metric = k;
        }
    }
    size_t d = m->n_names, nk = m->n_cluster_sizes;
    int rc = 0;
    if (!md) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
    } else if (metric < 0 || !(m->eps > 0) || !(m->min_samples >= 1) || d == 0 ||
               (schema && schema->n_features != d) || m->n_cluster_core != nk ||
               m->n_core_labels != m->n_core || m->n_core_points / d != m->n_core ||
               m->n_core_points % d != 0 || m->n_scatter_x != m->n_scatter_label ||
               m->n_scatter_y != m->n_scatter_label || (m->n_kdist && m->knee >= m->n_kdist)) {
        rc = ch_err_set(err, CH_EINVAL, "the dbscan model payload is inconsistent");
    }
    for (size_t i = 0; rc == 0 && i < m->n_core_labels; i++) {
        if (m->core_labels[i] < 0 || (size_t)m->core_labels[i] >= nk) {
            rc = ch_err_set(err, CH_EINVAL, "the dbscan model has a bad core label");
        }
    }
    if (rc == 0) {
        md->p.eps = m->eps;
        md->p.min_samples = m->min_samples;
        md->p.metric = (ch_db_metric)metric;
        md->p.brute_dims = 16;
        md->d = d;
        md->n_points = m->n_points;
        md->n_core = m->n_core;
        md->n_noise = m->n_noise;
        md->n_clusters = nk;
        md->n_kdist = m->n_kdist;
        md->knee = m->knee;
        md->n_scatter = m->n_scatter_label;
        md->q.silhouette = m->silhouette_rows ? m->silhouette : NAN;
        md->q.silhouette_rows = m->silhouette_rows;
        md->q.davies_bouldin = m->davies_bouldin;
        md->q.clustered = m->clustered;
        md->names = calloc(d, sizeof *md->names);
        for (size_t j = 0; md->names && j < d; j++) {
            md->names[j] = strdup(m->names[j]);
        }
        md->sizes = s_copy(m->cluster_sizes, nk, sizeof(uint64_t));
        md->sizes_core = s_copy(m->cluster_core, nk, sizeof(uint64_t));
        md->core_pts = s_copy(m->core_points, m->n_core_points, sizeof(double));
        md->core_label = s_copy(m->core_labels, m->n_core_labels, sizeof(int32_t));
        md->kdist = s_copy(m->kdist, m->n_kdist, sizeof(double));
        md->sx = s_copy(m->scatter_x, md->n_scatter, sizeof(double));
        md->sy = s_copy(m->scatter_y, md->n_scatter, sizeof(double));
        md->sl = s_copy(m->scatter_label, md->n_scatter, sizeof(int32_t));
        bool ok = md->names && md->sizes && md->sizes_core && md->core_pts && md->core_label &&
                  md->kdist && md->sx && md->sy && md->sl;
        for (size_t j = 0; ok && j < d; j++) {
            ok = md->names[j] != NULL;
        }
        if (!ok) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        }
    }
    cohort__dbscan__model__free_unpacked(m, NULL);
    if (rc != 0) {
        void *v = md;
        ch_db_model_destroy(&v);
        return NULL;
    }
    return md;
}

/* A JSON number, or null for NaN (no silhouette with one cluster). */
static void s_num(ch_buf *j, double v)
{
    if (isfinite(v)) {
        ch_buf_json_num(j, v);
    } else {
        ch_buf_puts(j, "null");
    }
}

/* Appends the clustering keys of summary.json. */
int ch_db_model_summary(const void *vm, ch_buf *j)
{
    const ch_db_model *md = vm;
    ch_buf_printf(j, ",\n  \"n_clusters\": %zu,\n  \"n_noise\": %zu,\n  \"n_core\": %zu",
                  md->n_clusters, md->n_noise, md->n_core);
    ch_buf_puts(j, ",\n  \"noise_fraction\": ");
    ch_buf_json_num(j, md->n_points ? (double)md->n_noise / (double)md->n_points : 0);
    ch_buf_puts(j, ",\n  \"cluster_sizes\": [");
    for (size_t k = 0; k < md->n_clusters; k++) {
        ch_buf_printf(j, "%s%llu", k ? ", " : "", (unsigned long long)md->sizes[k]);
    }
    ch_buf_puts(j, "]");
    if (md->n_kdist) {
        ch_buf_puts(j, ",\n  \"kdist_knee\": ");
        ch_buf_json_num(j, md->kdist[md->knee]);
    }
    ch_buf_puts(j, ",\n  \"silhouette\": ");
    s_num(j, md->q.silhouette);
    ch_buf_printf(j, ",\n  \"silhouette_rows\": %zu", md->q.silhouette_rows);
    ch_buf_puts(j, ",\n  \"davies_bouldin\": ");
    s_num(j, md->q.davies_bouldin);
    return j->failed ? CH_ENOMEM : 0;
}

/* summary.json "metrics": the clustering's own (no held-out rows needed). */
int ch_db_model_metrics(const void *vm, ch_round_metrics *out, ch_err *err)
{
    const ch_db_model *md = vm;
    (void)err;
    ch_round_metric(out, "n_clusters", (double)md->n_clusters);
    ch_round_metric(out, "noise_fraction",
                    md->n_points ? (double)md->n_noise / (double)md->n_points : 0);
    ch_round_metric(out, "silhouette", md->q.silhouette);
    ch_round_metric(out, "davies_bouldin", md->q.davies_bouldin);
    return 0;
}

/* Appends a plain-text description. */
int ch_db_model_describe(const void *vm, ch_buf *text)
{
    const ch_db_model *md = vm;
    ch_buf_printf(text, "DBSCAN (eps %g, min_samples %g, %s)\n", md->p.eps, md->p.min_samples,
                  ch_db_metric_names[md->p.metric]);
    ch_buf_printf(text, "%zu points: %zu clusters, %zu core, %zu border, %zu noise\n", md->n_points,
                  md->n_clusters, md->n_core, md->n_points - md->n_core - md->n_noise, md->n_noise);
    ch_buf_printf(text, "silhouette %.6g (noise left out, %zu points), Davies-Bouldin %.6g\n",
                  md->q.silhouette, md->q.silhouette_rows, md->q.davies_bouldin);
    ch_buf_printf(text, "%8s %12s %12s\n", "cluster", "points", "core");
    for (size_t k = 0; k < md->n_clusters; k++) {
        ch_buf_printf(text, "%8zu %12llu %12llu\n", k, (unsigned long long)md->sizes[k],
                      (unsigned long long)md->sizes_core[k]);
    }
    if (md->n_kdist) {
        ch_buf_printf(text, "k-distance knee: %.6g (a candidate eps)\n", md->kdist[md->knee]);
    }
    return text->failed ? CH_ENOMEM : 0;
}

enum { S_TABLE_ROWS = 50, S_SCATTER_SERIES = 10 };

static int s_sizes_table(const ch_db_model *md, ch_report *r, ch_err *err)
{
    size_t rows = md->n_clusters < S_TABLE_ROWS ? md->n_clusters : S_TABLE_ROWS;
    char **cells = calloc(rows * 4 + 1, sizeof *cells);
    if (!cells) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    int rc = 0;
    for (size_t k = 0; k < rows && rc == 0; k++) {
        char v[4][48];
        snprintf(v[0], sizeof v[0], "%zu", k);
        snprintf(v[1], sizeof v[1], "%llu", (unsigned long long)md->sizes[k]);
        snprintf(v[2], sizeof v[2], "%llu", (unsigned long long)md->sizes_core[k]);
        snprintf(v[3], sizeof v[3], "%.2f%%",
                 md->n_points ? 100.0 * (double)md->sizes[k] / (double)md->n_points : 0);
        for (int c = 0; c < 4 && rc == 0; c++) {
            cells[k * 4 + c] = strdup(v[c]);
            rc = cells[k * 4 + c] ? 0 : ch_err_set(err, CH_ENOMEM, "out of memory");
        }
    }
    static const char *const header[] = {"cluster", "points", "core points", "share"};
    if (rc == 0) {
        rc = ch_report_table(r, header, 4, (const char *const *)cells, rows, -1);
    }
    for (size_t i = 0; i < rows * 4; i++) {
        free(cells[i]);
    }
    free(cells);
    if (rc == 0 && md->n_clusters > rows) {
        char more[96];
        snprintf(more, sizeof more, "(%zu more clusters; all sizes are in summary.json)",
                 md->n_clusters - rows);
        rc = ch_report_paragraph(r, more);
    }
    return rc;
}

static int s_kdist_chart(const ch_db_model *md, ch_report *r)
{
    char title[128], note[256];
    snprintf(title, sizeof title, "Distance to the %g-th nearest point (k-distance), sorted",
             md->p.min_samples);
    double kx = (double)md->knee, ky = md->kdist[md->knee];
    ch_svg_series s[2] = {
        {.name = "k-distance", .x = NULL, .y = md->kdist, .n = md->n_kdist},
        {.name = "knee", .x = &kx, .y = &ky, .n = 1},
    };
    ch_svg_line_opts o = {
        .title = title, .x_label = "sample points, sorted", .y_label = "distance"};
    ch_report_line_chart(r, &o, s, 2);
    snprintf(note, sizeof note,
             "Knee at %.6g (point %zu of %zu sampled): distances beyond it grow fast, so it is a "
             "candidate eps. This run used eps %g.",
             ky, md->knee + 1, md->n_kdist, md->p.eps);
    return ch_report_paragraph(r, note);
}

/* Scatter of the sample: one series per cluster (the largest ten labels
 * shown by number, the rest as "other") plus noise; points separated by NaN
 * gaps, which the line chart draws as dots. */
static int s_scatter(const ch_db_model *md, ch_report *r, ch_err *err)
{
    size_t ns = md->n_scatter, nser = S_SCATTER_SERIES + 2;
    double *xs = ch_alloc_array(2 * ns * nser + 1, sizeof *xs);
    double *ys = ch_alloc_array(2 * ns * nser + 1, sizeof *ys);
    if (!xs || !ys) {
        free(xs);
        free(ys);
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    ch_svg_series ser[S_SCATTER_SERIES + 2];
    char names[S_SCATTER_SERIES + 2][32];
    size_t used = 0;
    for (size_t g = 0; g < nser; g++) {
        double *x = xs + g * 2 * ns, *y = ys + g * 2 * ns;
        size_t n = 0;
        for (size_t i = 0; i < ns; i++) {
            int32_t l = md->sl[i];
            size_t gi = l < 0 ? S_SCATTER_SERIES + 1
                              : ((size_t)l < S_SCATTER_SERIES ? (size_t)l : S_SCATTER_SERIES);
            if (gi == g) {
                x[n] = md->sx[i];
                y[n++] = md->sy[i];
                x[n] = NAN;
                y[n++] = NAN;
            }
        }
        if (n == 0) {
            continue;
        }
        if (g < S_SCATTER_SERIES) {
            snprintf(names[used], sizeof names[used], "cluster %zu", g);
        } else {
            snprintf(names[used], sizeof names[used], "%s",
                     g == S_SCATTER_SERIES ? "other clusters" : "noise");
        }
        ser[used] = (ch_svg_series){.name = names[used], .x = x, .y = y, .n = n};
        used++;
    }
    ch_svg_line_opts o = {.title = "Points by cluster (a sample)",
                          .x_label = md->names[0],
                          .y_label = md->d > 1 ? md->names[1] : "0"};
    int rc = ch_report_line_chart(r, &o, ser, used);
    free(xs);
    free(ys);
    return rc;
}

/* Adds the DBSCAN sections to a run report. */
int ch_db_model_report(const void *vm, ch_report *r, ch_err *err)
{
    const ch_db_model *md = vm;
    char v[9][96];
    snprintf(v[0], sizeof v[0], "%g (%s)", md->p.eps, ch_db_metric_names[md->p.metric]);
    snprintf(v[1], sizeof v[1], "%g", md->p.min_samples);
    snprintf(v[2], sizeof v[2], "%zu", md->n_points);
    snprintf(v[3], sizeof v[3], "%zu", md->n_clusters);
    snprintf(v[4], sizeof v[4], "%zu", md->n_core);
    snprintf(v[5], sizeof v[5], "%zu", md->n_points - md->n_core - md->n_noise);
    snprintf(v[6], sizeof v[6], "%zu (%.2f%%)", md->n_noise,
             md->n_points ? 100.0 * (double)md->n_noise / (double)md->n_points : 0);
    if (isnan(md->q.silhouette)) {
        snprintf(v[7], sizeof v[7], "undefined (fewer than two clusters)");
    } else {
        snprintf(v[7], sizeof v[7], "%.6f (noise left out; %s %zu points)", md->q.silhouette,
                 md->q.silhouette_rows < md->q.clustered ? "an even sample of" : "exact, all",
                 md->q.silhouette_rows);
    }
    if (isnan(md->q.davies_bouldin)) {
        snprintf(v[8], sizeof v[8], "undefined (fewer than two clusters)");
    } else {
        snprintf(v[8], sizeof v[8], "%.6f (noise left out; lower is better)", md->q.davies_bouldin);
    }
    const char *keys[] = {"eps",      "min_samples", "points",
                          "clusters", "core points", "border points",
                          "noise",    "silhouette",  "Davies-Bouldin"};
    const char *vals[] = {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8]};
    ch_report_section(r, "DBSCAN clusters");
    int rc = ch_report_kv(r, keys, vals, 9);
    if (rc == 0) {
        ch_report_heading(r, "Cluster sizes");
        rc = s_sizes_table(md, r, err);
    }
    if (rc == 0 && md->n_kdist) {
        ch_report_heading(r, "Choosing eps: the k-distance curve");
        rc = s_kdist_chart(md, r);
    }
    if (rc == 0 && md->n_scatter) {
        ch_report_heading(r, "Scatter");
        rc = s_scatter(md, r, err);
    }
    return rc;
}
