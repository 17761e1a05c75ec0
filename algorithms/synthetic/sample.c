/* sample.c: sampling along the tree: a BFS order from a root per component,
 * each column drawn from its conditional given its parent (cumulative
 * tables, binary search), a root fixed for class-conditional rows; decoding
 * into a table and writing it as CSV. */
#include "algorithms/synthetic/synthetic.h"
#include "common/fsutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ch_syn_sampler {
    size_t n_cols;
    const ch_syn_domain *dom;
    uint32_t *order; /* BFS order over all components */
    long *parent;    /* per column, -1 for a component root */
    double **cdf;    /* per column: size (root) or size_parent x size rows */
    double **prob;   /* same shape, probabilities (for log_prob) */
    long root;       /* the fixed-root column, -1 none */
};

void ch_syn_sampler_destroy(ch_syn_sampler **ps)
{
    if (!ps || !*ps) {
        return;
    }
    ch_syn_sampler *s = *ps;
    for (size_t j = 0; j < s->n_cols; j++) {
        if (s->cdf) {
            free(s->cdf[j]);
        }
        if (s->prob) {
            free(s->prob[j]);
        }
    }
    free(s->cdf);
    free(s->prob);
    free(s->order);
    free(s->parent);
    free(s);
    *ps = NULL;
}

/* Normalises row x[0..n) into prob and cdf (uniform when it has no mass). */
static void s_row(const double *x, size_t n, double *prob, double *cdf)
{
    double z = 0;
    for (size_t k = 0; k < n; k++) {
        z += x[k] > 0 ? x[k] : 0;
    }
    double acc = 0;
    for (size_t k = 0; k < n; k++) {
        prob[k] = z > 0 ? (x[k] > 0 ? x[k] : 0) / z : 1.0 / (double)n;
        acc += prob[k];
        cdf[k] = acc;
    }
    if (n) {
        cdf[n - 1] = 1.0 + 1e-12; /* u < 1 always lands */
    }
}

ch_syn_sampler *ch_syn_sampler_new(const ch_syn_model *m, long root)
{
    size_t n = m->dom.n_cols;
    ch_syn_sampler *s = calloc(1, sizeof *s);
    if (!s) {
        return NULL;
    }
    s->n_cols = n;
    s->dom = &m->dom;
    s->root = root;
    s->order = calloc(n ? n : 1, sizeof *s->order);
    s->parent = calloc(n ? n : 1, sizeof *s->parent);
    s->cdf = calloc(n ? n : 1, sizeof *s->cdf);
    s->prob = calloc(n ? n : 1, sizeof *s->prob);
    bool *seen = calloc(n ? n : 1, sizeof *seen);
    if (!s->order || !s->parent || !s->cdf || !s->prob || !seen) {
        free(seen);
        ch_syn_sampler_destroy(&s);
        return NULL;
    }
    size_t head = 0, tail = 0;
    for (size_t q = 0; q <= n; q++) {
        /* the fixed root's component first, then every other from column 0 */
        size_t r0 = q > 0 ? q - 1 : (root >= 0 && (size_t)root < n ? (size_t)root : 0);
        if (seen[r0]) {
            continue;
        }
        seen[r0] = true;
        s->parent[r0] = -1;
        s->order[tail++] = (uint32_t)r0;
        while (head < tail) {
            uint32_t u = s->order[head++];
            for (size_t e = 0; e < m->n_edges; e++) {
                uint32_t v = m->edges[e].a == u   ? m->edges[e].b
                             : m->edges[e].b == u ? m->edges[e].a
                                                  : UINT32_MAX;
                if (v != UINT32_MAX && !seen[v]) {
                    seen[v] = true;
                    s->parent[v] = u;
                    s->order[tail++] = v;
                }
            }
        }
    }
    free(seen);
    bool ok = true;
    for (size_t j = 0; j < n && ok; j++) {
        size_t sz = m->dom.cols[j].size;
        if (s->parent[j] < 0) {
            s->cdf[j] = malloc(sz * sizeof(double));
            s->prob[j] = malloc(sz * sizeof(double));
            ok = s->cdf[j] && s->prob[j];
            if (ok) {
                s_row(m->oneway[j], sz, s->prob[j], s->cdf[j]);
            }
            continue;
        }
        size_t p = (size_t)s->parent[j], sp = m->dom.cols[p].size;
        const ch_syn_edge *ed = NULL;
        for (size_t e = 0; e < m->n_edges; e++) {
            if ((m->edges[e].a == p && m->edges[e].b == j) ||
                (m->edges[e].a == j && m->edges[e].b == p)) {
                ed = &m->edges[e];
            }
        }
        s->cdf[j] = malloc(sp * sz * sizeof(double));
        s->prob[j] = malloc(sp * sz * sizeof(double));
        double *row = malloc(sz * sizeof(double));
        ok = s->cdf[j] && s->prob[j] && row && ed;
        for (size_t x = 0; ok && x < sp; x++) {
            for (size_t y = 0; y < sz; y++) {
                row[y] = ed->a == p ? ed->joint[x * sz + y] : ed->joint[y * sp + x];
            }
            s_row(row, sz, s->prob[j] + x * sz, s->cdf[j] + x * sz);
        }
        free(row);
    }
    if (!ok) {
        ch_syn_sampler_destroy(&s);
    }
    return s;
}

static uint32_t s_draw(const double *cdf, size_t n, double u)
{
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (u < cdf[mid]) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return (uint32_t)lo;
}

void ch_syn_sample_row(const ch_syn_sampler *s, long fixed, ch_rng *r, uint32_t *cell)
{
    const ch_syn_col *cols = s->dom->cols;
    for (size_t q = 0; q < s->n_cols; q++) {
        uint32_t j = s->order[q];
        size_t sz = cols[j].size;
        if (q == 0 && fixed >= 0 && s->root == (long)j) {
            cell[j] = (uint32_t)fixed;
        } else if (s->parent[j] < 0) {
            cell[j] = s_draw(s->cdf[j], sz, ch_rng_uniform(r));
        } else {
            cell[j] = s_draw(s->cdf[j] + (size_t)cell[s->parent[j]] * sz, sz, ch_rng_uniform(r));
        }
    }
}

double ch_syn_log_prob(const ch_syn_sampler *s, const uint32_t *cell)
{
    const ch_syn_col *cols = s->dom->cols;
    double lp = 0;
    for (size_t j = 0; j < s->n_cols; j++) {
        size_t sz = cols[j].size;
        double p = s->parent[j] < 0 ? s->prob[j][cell[j]]
                                    : s->prob[j][(size_t)cell[s->parent[j]] * sz + cell[j]];
        lp += log(p > 1e-300 ? p : 1e-300);
    }
    return lp;
}

uint32_t *ch_syn_class_plan(const double *prop, size_t k, size_t n, uint64_t seed, uint64_t stream)
{
    uint32_t *cls = malloc((n ? n : 1) * sizeof *cls);
    size_t *cnt = calloc(k ? k : 1, sizeof *cnt);
    double *rem = calloc(k ? k : 1, sizeof *rem);
    if (!cls || !cnt || !rem) {
        free(cls);
        free(cnt);
        free(rem);
        return NULL;
    }
    /* largest remainder: floor(p n) each, then one more for the largest
     * fractions (ties to the lower level) until the counts sum to n */
    size_t used = 0;
    for (size_t l = 0; l < k; l++) {
        double x = prop[l] * (double)n;
        cnt[l] = (size_t)floor(x);
        rem[l] = x - floor(x);
        used += cnt[l];
    }
    while (used < n) {
        size_t best = 0;
        for (size_t l = 1; l < k; l++) {
            best = rem[l] > rem[best] ? l : best;
        }
        cnt[best]++;
        rem[best] = -1;
        used++;
    }
    for (size_t l = 0, i = 0; l < k; l++) {
        for (size_t q = 0; q < cnt[l] && i < n; q++) {
            cls[i++] = (uint32_t)l;
        }
    }
    /* Fisher-Yates, so the classes are interleaved in data.csv */
    ch_rng r;
    ch_rng_init(&r, seed, ch_rng_stream(CH_STREAM_ALGO + stream, 1));
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(ch_rng_uniform(&r) * (double)i);
        j = j < i ? j : i - 1;
        uint32_t t = cls[i - 1];
        cls[i - 1] = cls[j];
        cls[j] = t;
    }
    free(cnt);
    free(rem);
    return cls;
}

ch_table *ch_syn_generate(const ch_syn_model *m, uint64_t n, uint64_t n_aug, uint64_t stream,
                          ch_err *err)
{
    const ch_syn_domain *d = &m->dom;
    size_t rows;
    if (n + n_aug < n || n + n_aug > ((uint64_t)1 << 40)) {
        ch_err_set(err, CH_EINVAL, "synthetic: too many rows (%llu)",
                   (unsigned long long)(n + n_aug));
        return NULL;
    }
    rows = (size_t)(n + n_aug);
    bool prop = m->prop && m->aug_col >= 0 && n > 0;
    ch_syn_sampler *s = ch_syn_sampler_new(m, n_aug || prop ? m->aug_col : -1);
    ch_table *t = s ? ch_table_new(rows) : NULL;
    double **val = calloc(d->n_cols ? d->n_cols : 1, sizeof *val);
    int rc = s && t && val ? 0 : CH_ENOMEM;
    for (size_t j = 0; j < d->n_cols && rc == 0; j++) {
        val[j] = ch_alloc_array(rows ? rows : 1, sizeof(double));
        rc = val[j] ? 0 : CH_ENOMEM;
    }
    uint32_t *cls = NULL;
    if (rc == 0 && prop) {
        cls = ch_syn_class_plan(m->prop, m->dom.cols[m->aug_col].n_levels, (size_t)n, m->seed,
                                stream);
        rc = cls ? 0 : CH_ENOMEM;
    }
    if (rc == 0) {
        ch_rng r;
        ch_rng_init(&r, m->seed, ch_rng_stream(CH_STREAM_ALGO + stream, 0));
        uint32_t cell[CH_SYN_MAX_COLS];
        for (size_t i = 0; i < rows; i++) {
            long fixed = i < n ? (cls ? (long)cls[i] : -1) : (long)m->aug_cell;
            ch_syn_sample_row(s, fixed, &r, cell);
            for (size_t j = 0; j < d->n_cols; j++) {
                val[j][i] = ch_syn_decode(&d->cols[j], cell[j], &r);
            }
        }
    }
    for (size_t j = 0; j < d->n_cols && rc == 0; j++) {
        const ch_syn_col *c = &d->cols[j];
        char **lv = NULL;
        if (c->kind == CH_COL_CATEGORICAL) {
            lv = calloc(c->n_levels ? c->n_levels : 1, sizeof *lv);
            for (size_t l = 0; lv && l < c->n_levels; l++) {
                lv[l] = strdup(c->levels[l]);
                if (!lv[l]) {
                    for (size_t q = 0; q < l; q++) {
                        free(lv[q]);
                    }
                    free(lv);
                    lv = NULL;
                }
            }
            if (!lv) {
                rc = CH_ENOMEM;
                break;
            }
        }
        rc = ch_table_add_column(t, c->name, c->kind, val[j], lv, lv ? c->n_levels : 0);
        val[j] = NULL;
    }
    for (size_t j = 0; val && j < d->n_cols; j++) {
        free(val[j]);
    }
    free(val);
    free(cls);
    ch_syn_sampler_destroy(&s);
    if (rc != 0) {
        ch_table_destroy(&t);
        ch_err_set(err, CH_ENOMEM, "out of memory generating %zu rows", rows);
    }
    return t;
}

/* Appends a CSV field, quoted when it holds a comma, quote or newline. */
static void s_field(ch_buf *b, const char *s)
{
    if (!strpbrk(s, ",\"\n\r")) {
        ch_buf_puts(b, s);
        return;
    }
    ch_buf_puts(b, "\"");
    for (const char *p = s; *p; p++) {
        ch_buf_append(b, p, 1);
        if (*p == '"') {
            ch_buf_append(b, p, 1);
        }
    }
    ch_buf_puts(b, "\"");
}

/* Writes v into buf (at least 40 bytes): integers exactly, other values
 * below 1e9 in magnitude with 6 decimals (trailing zeros dropped; the
 * values are uniform draws inside a bin, so more digits carry nothing),
 * the rest with %.10g. printf alone was half of the time of writing a
 * million rows. Returns the length. */
static size_t s_fmt(double v, char *buf)
{
    if (!(fabs(v) < 1e9)) {
        return (size_t)snprintf(buf, 40, "%.10g", v);
    }
    char tmp[40];
    size_t n = 0, k = 0;
    bool neg = v < 0;
    uint64_t scaled = (uint64_t)llround(fabs(v) * 1e6);
    uint64_t ip = scaled / 1000000, fp = scaled % 1000000;
    if (neg && scaled) {
        buf[n++] = '-';
    }
    do {
        tmp[k++] = (char)('0' + ip % 10);
        ip /= 10;
    } while (ip);
    while (k) {
        buf[n++] = tmp[--k];
    }
    if (fp) {
        buf[n++] = '.';
        int d = 6;
        while (fp % 10 == 0) {
            fp /= 10;
            d--;
        }
        for (int i = d - 1; i >= 0; i--) {
            buf[n + (size_t)i] = (char)('0' + fp % 10);
            fp /= 10;
        }
        n += (size_t)d;
    }
    buf[n] = 0;
    return n;
}

int ch_syn_write_csv(const ch_table *t, const char *path, ch_err *err)
{
    ch_buf b;
    ch_buf_init(&b);
    for (size_t j = 0; j < t->n_cols; j++) {
        if (j) {
            ch_buf_puts(&b, ",");
        }
        s_field(&b, t->cols[j].name);
    }
    ch_buf_puts(&b, "\n");
    char num[64];
    for (size_t i = 0; i < t->n_rows && !b.failed; i++) {
        for (size_t j = 0; j < t->n_cols; j++) {
            const ch_column *c = &t->cols[j];
            double v = c->values[i];
            if (j) {
                ch_buf_puts(&b, ",");
            }
            if (isnan(v)) {
                continue;
            }
            if (c->kind == CH_COL_CATEGORICAL) {
                s_field(&b, c->levels[(size_t)v]);
            } else {
                ch_buf_append(&b, num, s_fmt(v, num));
            }
        }
        ch_buf_puts(&b, "\n");
    }
    int rc = b.failed ? ch_err_set(err, CH_ENOMEM, "out of memory writing %s", path)
                      : ch_write_file_atomic(path, b.data, b.len, err);
    ch_buf_free(&b);
    return rc;
}
