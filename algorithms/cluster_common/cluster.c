/* cluster.c: shared pieces of the clustering algorithms (see cluster.h). */
#include "algorithms/cluster_common/cluster.h"
#include "common/fsutil.h"
#include "common/log.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int ch_cl_check_schema(const ch_schema *s, const char *algo, ch_err *err)
{
    if (!s || s->n_features == 0) {
        return ch_err_set(err, CH_EINVAL, "%s needs at least one feature column", algo);
    }
    if (s->n_features > CH_CL_MAX_D) {
        return ch_err_set(err, CH_EINVAL, "%s: %zu features is more than the %d supported", algo,
                          s->n_features, CH_CL_MAX_D);
    }
    for (size_t j = 0; j < s->n_features; j++) {
        if (s->features[j].kind != CH_COL_NUMERIC) {
            return ch_err_set(err, CH_EINVAL,
                              "%s needs numeric features, and '%s' is categorical: drop the "
                              "column or encode it as numbers",
                              algo, s->features[j].name);
        }
    }
    return 0;
}

size_t ch_cl_moments_len(size_t d)
{
    return 2 + 2 * d;
}

bool ch_cl_row_missing(const ch_table *t, size_t i)
{
    for (size_t j = 0; j < t->n_cols; j++) {
        if (isnan(t->cols[j].values[i])) {
            return true;
        }
    }
    return false;
}

/* Marks rows[0..n) that have a NaN feature in miss[n], column by column (the
 * table is column-major). Returns the number marked. */
static size_t s_missing(const ch_table *t, const size_t *rows, size_t n, unsigned char *miss)
{
    memset(miss, 0, n);
    for (size_t j = 0; j < t->n_cols; j++) {
        const double *col = t->cols[j].values;
        for (size_t r = 0; r < n; r++) {
            miss[r] |= isnan(col[rows[r]]) ? 1 : 0;
        }
    }
    size_t c = 0;
    for (size_t r = 0; r < n; r++) {
        c += miss[r];
    }
    return c;
}

void ch_cl_moments_leaf(const ch_table *t, const size_t *rows, size_t n, double *out)
{
    size_t d = t->n_cols;
    double *mean = out + 2, *m2 = out + 2 + d;
    memset(out, 0, ch_cl_moments_len(d) * sizeof *out);
    unsigned char *miss = malloc(n ? n : 1);
    if (!miss) {
        out[1] = (double)n; /* cannot happen in practice; counted as skipped */
        return;
    }
    size_t skipped = s_missing(t, rows, n, miss), used = n - skipped;
    out[0] = (double)used;
    out[1] = (double)skipped;
    for (size_t j = 0; used > 0 && j < d; j++) {
        const double *col = t->cols[j].values;
        double s = 0;
        for (size_t r = 0; r < n; r++) {
            if (!miss[r]) {
                s += col[rows[r]];
            }
        }
        double mu = s / (double)used, ss = 0;
        for (size_t r = 0; r < n; r++) {
            if (!miss[r]) {
                double v = col[rows[r]] - mu;
                ss += v * v;
            }
        }
        mean[j] = mu;
        m2[j] = ss;
    }
    free(miss);
}

void ch_cl_moments_combine(void *ctx, size_t len, const double *left, const double *right,
                           double *out)
{
    (void)ctx;
    size_t d = (len - 2) / 2;
    double na = left[0], nb = right[0], n = na + nb;
    out[0] = n;
    out[1] = left[1] + right[1];
    for (size_t j = 0; j < d; j++) {
        double ma = left[2 + j], mb = right[2 + j];
        if (n == 0) {
            out[2 + j] = 0;
            out[2 + d + j] = 0;
            continue;
        }
        double delta = mb - ma;
        out[2 + j] = ma + delta * (nb / n);
        out[2 + d + j] = left[2 + d + j] + right[2 + d + j] + delta * delta * (na * nb / n);
    }
}

void ch_cl_moments_scale(const double *node, size_t d, double *mean, double *scale)
{
    double n = node[0];
    for (size_t j = 0; j < d; j++) {
        mean[j] = node[2 + j];
        double sd = n > 0 ? sqrt(node[2 + d + j] / n) : 0;
        scale[j] = (sd > 0 && isfinite(sd)) ? sd : 1.0;
    }
}

#define S_GATHER_TILE 16 /* columns per pass of ch_cl_gather_many */

int ch_cl_gather_many(const ch_table *t, ch_cl_gather_job *jobs, size_t n_jobs, const double *mean,
                      const double *scale)
{
    size_t d = t->n_cols, total = 0;
    for (size_t b = 0; b < n_jobs; b++) {
        total += jobs[b].n;
    }
    unsigned char *miss = calloc(total ? total : 1, 1);
    size_t *pos = malloc((total ? total : 1) * sizeof *pos);
    if (!miss || !pos) {
        free(miss);
        free(pos);
        return CH_ENOMEM;
    }
    for (size_t j = 0; j < d; j++) {
        const double *col = t->cols[j].values;
        size_t off = 0;
        for (size_t b = 0; b < n_jobs; b++) {
            for (size_t r = 0; r < jobs[b].n; r++) {
                miss[off + r] |= isnan(col[jobs[b].rows[r]]) ? 1 : 0;
            }
            off += jobs[b].n;
        }
    }
    size_t off = 0;
    for (size_t b = 0; b < n_jobs; b++) {
        ch_cl_gather_job *g = &jobs[b];
        g->m = 0;
        for (size_t r = 0; r < g->n; r++) {
            if (!miss[off + r]) {
                size_t row = g->rows[r];
                pos[off + g->m] = row;
                if (g->kept) {
                    g->kept[g->m] = row;
                }
                if (g->w) {
                    g->w[g->m] = t->weights ? t->weights[row] : 1.0;
                }
                g->m++;
            }
        }
        off += g->n;
    }
    /* Columns in tiles of S_GATHER_TILE: a row's tile is one or two cache
     * lines written together, where a column at a time would write one
     * value per row, d * 8 bytes apart (a TLB miss per value for wide rows). */
    for (size_t j0 = 0; j0 < d; j0 += S_GATHER_TILE) {
        size_t nj = d - j0 < S_GATHER_TILE ? d - j0 : S_GATHER_TILE;
        const double *col[S_GATHER_TILE];
        double mu[S_GATHER_TILE], sc[S_GATHER_TILE];
        for (size_t j = 0; j < nj; j++) {
            col[j] = t->cols[j0 + j].values;
            mu[j] = mean ? mean[j0 + j] : 0;
            sc[j] = mean ? scale[j0 + j] : 1;
        }
        off = 0;
        for (size_t b = 0; b < n_jobs; b++) {
            const size_t *p = pos + off;
            double *x = jobs[b].x + j0;
            for (size_t i = 0; i < jobs[b].m; i++) {
                size_t row = p[i];
                double *xi = x + i * d;
                for (size_t j = 0; j < nj; j++) {
                    double v = col[j][row];
                    xi[j] = mean ? (v - mu[j]) / sc[j] : v;
                }
            }
            off += jobs[b].n;
        }
    }
    free(miss);
    free(pos);
    return 0;
}

size_t ch_cl_gather(const ch_table *t, const size_t *rows, size_t n, const double *mean,
                    const double *scale, double *x, size_t *kept, double *w)
{
    size_t d = t->n_cols, m = 0;
    unsigned char one = 0;
    unsigned char *miss = n > 1 ? malloc(n) : &one;
    if (!miss) {
        return 0;
    }
    s_missing(t, rows, n, miss);
    size_t *pos = malloc((n ? n : 1) * sizeof *pos);
    if (!pos) {
        if (miss != &one) {
            free(miss);
        }
        return 0;
    }
    for (size_t r = 0; r < n; r++) {
        if (!miss[r]) {
            pos[m] = rows[r];
            if (kept) {
                kept[m] = rows[r];
            }
            if (w) {
                w[m] = t->weights ? t->weights[rows[r]] : 1.0;
            }
            m++;
        }
    }
    for (size_t j = 0; j < d; j++) {
        const double *col = t->cols[j].values;
        double mu = mean ? mean[j] : 0, sc = mean ? scale[j] : 1;
        for (size_t i = 0; i < m; i++) {
            double v = col[pos[i]];
            x[i * d + j] = mean ? (v - mu) / sc : v;
        }
    }
    free(pos);
    if (miss != &one) {
        free(miss);
    }
    return m;
}

void ch_cl_row_norms(const double *x, size_t m, size_t d, double *norms)
{
    for (size_t i = 0; i < m; i++) {
        const double *xr = x + i * d;
        double s = 0;
        for (size_t j = 0; j < d; j++) {
            s += xr[j] * xr[j];
        }
        norms[i] = s;
    }
}

void ch_cl_assign(const double *x, const double *xn, size_t m, size_t d, const double *c,
                  const double *cn, size_t k, double *scratch, int32_t *label, double *dist2)
{
    if (m == 0) {
        return;
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)k, (int)d, -2.0, x, (int)d, c,
                (int)d, 0.0, scratch, (int)k);
    for (size_t i = 0; i < m; i++) {
        const double *row = scratch + i * k;
        double best = row[0] + cn[0];
        int32_t bj = 0;
        for (size_t j = 1; j < k; j++) {
            double v = row[j] + cn[j];
            if (v < best) {
                best = v;
                bj = (int32_t)j;
            }
        }
        double d2 = best + xn[i];
        label[i] = bj;
        dist2[i] = d2 > 0 ? d2 : 0;
    }
}

void ch_cl_assign_f(const float *x, const float *xn, size_t m, size_t d, const float *c,
                    const float *cn, size_t k, float *scratch, int32_t *label, double *dist2)
{
    if (m == 0) {
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)k, (int)d, -2.0f, x, (int)d,
                c, (int)d, 0.0f, scratch, (int)k);
    for (size_t i = 0; i < m; i++) {
        const float *row = scratch + i * k;
        float best = row[0] + cn[0];
        int32_t bj = 0;
        for (size_t j = 1; j < k; j++) {
            float v = row[j] + cn[j];
            if (v < best) {
                best = v;
                bj = (int32_t)j;
            }
        }
        float d2 = best + xn[i];
        label[i] = bj;
        dist2[i] = d2 > 0 ? (double)d2 : 0;
    }
}

enum { S_QB = 128, S_RB = 1024 };

double ch_cl_silhouette_of(const double *acc, size_t own, bool self_in, const double *count,
                           size_t k)
{
    double n_own = count[own] - (self_in ? 1 : 0);
    if (n_own <= 0) {
        return 0; /* alone in its cluster */
    }
    double a = acc[own] / n_own, b = INFINITY;
    for (size_t c = 0; c < k; c++) {
        if (c != own && count[c] > 0) {
            double v = acc[c] / count[c];
            b = v < b ? v : b;
        }
    }
    double den = a > b ? a : b;
    return (isfinite(b) && den > 0) ? (b - a) / den : 0;
}

int ch_cl_silhouette(const double *q, size_t mq, const int32_t *lq, const long *self,
                     const double *r, size_t mr, const int32_t *lr, const double *count, size_t k,
                     size_t d, double *s, ch_err *err)
{
    double *qn = malloc((mq ? mq : 1) * sizeof *qn);
    double *rn = malloc((mr ? mr : 1) * sizeof *rn);
    double *sums = ch_calloc_array(S_QB, k * sizeof(double));
    double *g = ch_alloc_array(S_QB, S_RB * sizeof(double));
    if (!qn || !rn || !sums || !g) {
        free(qn);
        free(rn);
        free(sums);
        free(g);
        return ch_err_set(err, CH_ENOMEM, "out of memory for the silhouette");
    }
    ch_cl_row_norms(q, mq, d, qn);
    ch_cl_row_norms(r, mr, d, rn);
    for (size_t q0 = 0; q0 < mq; q0 += S_QB) {
        size_t nq = mq - q0 < S_QB ? mq - q0 : S_QB;
        memset(sums, 0, nq * k * sizeof *sums);
        for (size_t r0 = 0; r0 < mr; r0 += S_RB) {
            size_t nr = mr - r0 < S_RB ? mr - r0 : S_RB;
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nq, (int)nr, (int)d, -2.0,
                        q + q0 * d, (int)d, r + r0 * d, (int)d, 0.0, g, (int)nr);
            for (size_t i = 0; i < nq; i++) {
                double *acc = sums + i * k;
                const double *gi = g + i * nr;
                long me = self ? self[q0 + i] : -1;
                for (size_t j = 0; j < nr; j++) {
                    double d2 = gi[j] + qn[q0 + i] + rn[r0 + j];
                    double dist = d2 > 0 ? sqrt(d2) : 0;
                    if (me >= 0 && (size_t)me == r0 + j) {
                        dist = 0;
                    }
                    acc[lr[r0 + j]] += dist;
                }
            }
        }
        for (size_t i = 0; i < nq; i++) {
            bool in_ref = self && self[q0 + i] >= 0;
            s[q0 + i] = ch_cl_silhouette_of(sums + i * k, (size_t)lq[q0 + i], in_ref, count, k);
        }
    }
    free(qn);
    free(rn);
    free(sums);
    free(g);
    return 0;
}

double ch_cl_davies_bouldin(const double *c, const double *spread, const double *count, size_t k,
                            size_t d)
{
    double total = 0;
    size_t used = 0;
    for (size_t i = 0; i < k; i++) {
        if (!(count[i] > 0)) {
            continue;
        }
        used++;
        double worst = 0;
        for (size_t j = 0; j < k; j++) {
            if (j == i || !(count[j] > 0)) {
                continue;
            }
            double s2 = 0;
            for (size_t f = 0; f < d; f++) {
                double v = c[i * d + f] - c[j * d + f];
                s2 += v * v;
            }
            double sep = sqrt(s2);
            double ratio = sep > 0 ? (spread[i] + spread[j]) / sep : INFINITY;
            worst = ratio > worst ? ratio : worst;
        }
        total += worst;
    }
    return used < 2 ? NAN : total / (double)used;
}

double ch_cl_calinski_harabasz(const double *c, const double *count, const double *mean,
                               double within, size_t k, size_t d, double n)
{
    double between = 0;
    size_t used = 0;
    for (size_t i = 0; i < k; i++) {
        if (!(count[i] > 0)) {
            continue;
        }
        used++;
        double s2 = 0;
        for (size_t f = 0; f < d; f++) {
            double v = c[i * d + f] - mean[f];
            s2 += v * v;
        }
        between += count[i] * s2;
    }
    if (used < 2 || n <= (double)used) {
        return NAN;
    }
    if (within == 0) {
        return 1.0;
    }
    return between * (n - (double)used) / (within * ((double)used - 1));
}

static double s_comb2(double x)
{
    return x * (x - 1) / 2;
}

double ch_cl_adjusted_rand(const double *table, size_t k, size_t q)
{
    double sum_ij = 0, sum_a = 0, sum_b = 0, n = 0;
    for (size_t i = 0; i < k; i++) {
        double a = 0;
        for (size_t j = 0; j < q; j++) {
            sum_ij += s_comb2(table[i * q + j]);
            a += table[i * q + j];
        }
        sum_a += s_comb2(a);
        n += a;
    }
    for (size_t j = 0; j < q; j++) {
        double b = 0;
        for (size_t i = 0; i < k; i++) {
            b += table[i * q + j];
        }
        sum_b += s_comb2(b);
    }
    double expected = n > 1 ? sum_a * sum_b / s_comb2(n) : 0;
    double max_index = (sum_a + sum_b) / 2;
    if (max_index == expected) {
        return 1.0;
    }
    return (sum_ij - expected) / (max_index - expected);
}

static uint64_t s_mix(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

double ch_cl_hash_uniform(uint64_t seed, uint64_t stream, uint64_t index)
{
    uint64_t h = s_mix(s_mix(s_mix(seed) ^ stream) ^ index);
    return (double)(h >> 11) * 0x1.0p-53;
}

int ch_cl_rows_put(ch_buf *out, uint64_t block, size_t m, const uint64_t *ids, const double *x,
                   size_t d)
{
    uint64_t hdr[2] = {block, (uint64_t)m};
    ch_buf_append(out, hdr, sizeof hdr);
    for (size_t i = 0; i < m; i++) {
        ch_buf_append(out, &ids[i], sizeof ids[i]);
        ch_buf_append(out, x + i * d, d * sizeof(double));
    }
    return out->failed ? CH_ENOMEM : 0;
}

int ch_cl_rows_init(ch_cl_rows *g, size_t n_blocks, size_t d)
{
    memset(g, 0, sizeof *g);
    g->n_blocks = n_blocks;
    g->d = d;
    g->count = calloc(n_blocks ? n_blocks : 1, sizeof *g->count);
    g->ids = calloc(n_blocks ? n_blocks : 1, sizeof *g->ids);
    g->x = calloc(n_blocks ? n_blocks : 1, sizeof *g->x);
    g->seen = calloc(n_blocks ? n_blocks : 1, sizeof *g->seen);
    if (!g->count || !g->ids || !g->x || !g->seen) {
        ch_cl_rows_free(g);
        return CH_ENOMEM;
    }
    return 0;
}

void ch_cl_rows_free(ch_cl_rows *g)
{
    if (!g) {
        return;
    }
    for (size_t b = 0; g->ids && g->x && b < g->n_blocks; b++) {
        free(g->ids[b]);
        free(g->x[b]);
    }
    free(g->count);
    free(g->ids);
    free(g->x);
    free(g->seen);
    memset(g, 0, sizeof *g);
}

int ch_cl_rows_add(ch_cl_rows *g, const uint8_t *data, size_t len, ch_err *err)
{
    size_t row_bytes = 8 + g->d * sizeof(double);
    size_t pos = 0;
    while (pos < len) {
        uint64_t hdr[2];
        if (len - pos < sizeof hdr) {
            return ch_err_set(err, CH_EPROTO, "gathered rows: truncated block header");
        }
        memcpy(hdr, data + pos, sizeof hdr);
        pos += sizeof hdr;
        if (hdr[0] >= g->n_blocks || g->seen[hdr[0]]) {
            return ch_err_set(err, CH_EPROTO, "gathered rows: block %llu out of range or repeated",
                              (unsigned long long)hdr[0]);
        }
        if (hdr[1] > (len - pos) / row_bytes) {
            return ch_err_set(err, CH_EPROTO, "gathered rows: %llu rows do not fit the message",
                              (unsigned long long)hdr[1]);
        }
        size_t m = (size_t)hdr[1], b = (size_t)hdr[0];
        g->ids[b] = malloc((m ? m : 1) * sizeof(uint64_t));
        g->x[b] = ch_alloc_array(m ? m : 1, g->d * sizeof(double));
        if (!g->ids[b] || !g->x[b]) {
            return ch_err_set(err, CH_ENOMEM, "out of memory gathering %zu rows", m);
        }
        for (size_t i = 0; i < m; i++) {
            memcpy(&g->ids[b][i], data + pos, 8);
            memcpy(g->x[b] + i * g->d, data + pos + 8, g->d * sizeof(double));
            pos += row_bytes;
        }
        g->count[b] = m;
        g->seen[b] = true;
    }
    return 0;
}

int ch_cl_rows_finish(ch_cl_rows *g, double **x, uint64_t **ids, size_t *m, ch_err *err)
{
    size_t total = 0;
    for (size_t b = 0; b < g->n_blocks; b++) {
        if (!g->seen[b]) {
            return ch_err_set(err, CH_EINVAL, "gathered rows: block %zu is missing", b);
        }
        total += g->count[b];
    }
    *x = ch_alloc_array(total ? total : 1, g->d * sizeof(double));
    *ids = malloc((total ? total : 1) * sizeof(uint64_t));
    if (!*x || !*ids) {
        free(*x);
        free(*ids);
        *x = NULL;
        *ids = NULL;
        return ch_err_set(err, CH_ENOMEM, "out of memory for %zu gathered rows", total);
    }
    size_t at = 0;
    for (size_t b = 0; b < g->n_blocks; b++) {
        if (g->count[b]) {
            memcpy(*x + at * g->d, g->x[b], g->count[b] * g->d * sizeof(double));
            memcpy(*ids + at, g->ids[b], g->count[b] * sizeof(uint64_t));
        }
        at += g->count[b];
    }
    *m = total;
    return 0;
}

int ch_cl_predict_nearest(const ch_table *t, const char *algo, const double *centroids, size_t k,
                          size_t d, const double *mean, const double *scale, double *out,
                          ch_err *err)
{
    if (t->n_cols != d) {
        return ch_err_set(err, CH_EINVAL, "%s model has %zu features, the data %zu", algo, d,
                          t->n_cols);
    }
    double *x = malloc((d ? d : 1) * sizeof *x);
    if (!x) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < t->n_rows; i++) {
        size_t row = i;
        if (ch_cl_gather(t, &row, 1, mean, scale, x, NULL, NULL) == 0) {
            out[i] = NAN;
            continue;
        }
        double best = INFINITY;
        size_t bj = 0;
        for (size_t j = 0; j < k; j++) {
            double s = 0;
            for (size_t f = 0; f < d; f++) {
                double v = x[f] - centroids[j * d + f];
                s += v * v;
            }
            if (s < best) {
                best = s;
                bj = j;
            }
        }
        out[i] = (double)bj;
    }
    free(x);
    return 0;
}

/* The number of classes of t's target when it can index a contingency
 * table: the levels of a categorical one, max + 1 of small non-negative
 * integer codes; 0 otherwise. */
static size_t s_target_classes(const ch_table *t)
{
    if (!t->has_target) {
        return 0;
    }
    if (t->target.kind == CH_COL_CATEGORICAL) {
        return t->target.n_levels;
    }
    double top = -1;
    for (size_t i = 0; i < t->n_rows; i++) {
        double v = t->target.values[i];
        if (isnan(v)) {
            continue;
        }
        if (v < 0 || v > 4095 || v != floor(v)) {
            return 0;
        }
        top = v > top ? v : top;
    }
    return (size_t)(top + 1);
}

int ch_cl_evaluate_nearest(const ch_table *t, const char *algo, const double *centroids, size_t k,
                           size_t d, const double *mean, const double *scale, ch_round_metrics *out,
                           ch_err *err)
{
    double *pred = ch_alloc_array(t->n_rows ? t->n_rows : 1, sizeof *pred);
    if (!pred) {
        return ch_err_set(err, CH_ENOMEM, "out of memory evaluating %zu rows", t->n_rows);
    }
    int rc = ch_cl_predict_nearest(t, algo, centroids, k, d, mean, scale, pred, err);
    size_t q = rc == 0 ? s_target_classes(t) : 0;
    double *table = q ? calloc(k * q, sizeof *table) : NULL;
    size_t assigned = 0;
    for (size_t i = 0; rc == 0 && i < t->n_rows; i++) {
        if (isnan(pred[i])) {
            continue;
        }
        assigned++;
        double y = t->has_target ? t->target.values[i] : NAN;
        if (table && !isnan(y)) {
            table[(size_t)pred[i] * q + (size_t)y] += 1;
        }
    }
    if (rc == 0) {
        ch_round_metric(out, "rows_assigned", (double)assigned);
        if (table) {
            ch_round_metric(out, "adjusted_rand", ch_cl_adjusted_rand(table, k, q));
        }
    }
    free(table);
    free(pred);
    return rc;
}

const char *ch_cl_output_name(const void *model, size_t k)
{
    (void)model;
    return k == 0 ? "cluster" : NULL;
}

void ch_cl_write_assignments(const char *dir, const char *algo, const uint64_t *rows,
                             const int32_t *labels, size_t n)
{
    if (!dir) {
        return;
    }
    ch_buf b;
    ch_buf_init(&b);
    ch_buf_puts(&b, "row,cluster\n");
    for (size_t i = 0; i < n && !b.failed; i++) {
        if (labels[i] < 0) {
            ch_buf_printf(&b, "%llu,NA\n", (unsigned long long)rows[i]);
        } else {
            ch_buf_printf(&b, "%llu,%d\n", (unsigned long long)rows[i], (int)labels[i]);
        }
    }
    char *path = ch_path_join(dir, "assignments.csv");
    ch_err err;
    ch_err_clear(&err);
    if (b.failed || !path || ch_write_file_atomic(path, b.data, b.len, &err) != 0) {
        ch_warn("%s: assignments.csv not written: %s", algo,
                b.failed || !path ? "out of memory" : err.msg);
    }
    free(path);
    ch_buf_free(&b);
}

void ch_cl_model_metrics(ch_round_metrics *out, double inertia, double silhouette,
                         double davies_bouldin, double calinski_harabasz)
{
    ch_round_metric(out, "inertia", inertia);
    ch_round_metric(out, "silhouette", silhouette);
    ch_round_metric(out, "davies_bouldin", davies_bouldin);
    ch_round_metric(out, "calinski_harabasz", calinski_harabasz);
}
