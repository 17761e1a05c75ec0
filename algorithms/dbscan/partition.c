/* partition.c: space partitioning for distributed DBSCAN: slabs along the
 * dimension of greatest spread, cut at quantiles, and a cell = a slab's own
 * points plus the points within the halo on either side.
 *
 * Why slabs: a point's neighbours differ from it by at most eps in every
 * coordinate (euclidean, manhattan; for cosine by sqrt(2 eps) in normalised
 * coordinates), so a cell that reads its slab widened by that halo sees the
 * complete neighbourhood of each point it owns. Cuts at quantiles balance
 * the owned points; one dimension keeps the halo to two thin strips. */
#include "algorithms/dbscan/dbscan.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int s_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : (x > y ? 1 : 0);
}

/* Error for row i with a missing or infinite coordinate. */
static int s_bad_row(const ch_table *t, size_t i, ch_err *err)
{
    for (size_t j = 0; j < t->n_cols; j++) {
        if (!isfinite(t->cols[j].values[i])) {
            return ch_err_set(err, CH_EINVAL,
                              "dbscan: row %zu%s%s has a missing or infinite value in column "
                              "'%s' (DBSCAN needs every coordinate; drop or impute such rows)",
                              i + 1, t->source ? " of " : "", t->source ? t->source : "",
                              t->cols[j].name);
        }
    }
    return 0;
}

/* Builds the slabs (see dbscan.h). Reads every coordinate once and keeps one
 * column of values (n doubles) to find the quantiles. */
int ch_db_slabs_make(const ch_table *t, const ch_db_params *p, size_t n, ch_db_slabs *out,
                     ch_err *err)
{
    memset(out, 0, sizeof *out);
    size_t rows = t->n_rows, d = t->n_cols;
    if (rows < 2) {
        return ch_err_set(err, CH_EINVAL,
                          "dbscan: %zu training row%s: clustering needs at least two points", rows,
                          rows == 1 ? "" : "s");
    }
    if (rows > CH_DB_MAX_POINTS) {
        return ch_err_set(err, CH_EINVAL, "dbscan: %zu rows is more than %u", rows,
                          CH_DB_MAX_POINTS);
    }
    if (n == 0 || d == 0) {
        return ch_err_set(err, CH_EINVAL, "dbscan: no slabs or no feature columns");
    }
    double *row = malloc(d * sizeof *row);
    double *mn = malloc(d * sizeof *mn), *mx = malloc(d * sizeof *mx);
    double *col = ch_alloc_array(rows, sizeof *col);
    out->cuts = malloc((n + 1) * sizeof *out->cuts);
    int rc = 0;
    if (!row || !mn || !mx || !col || !out->cuts) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory partitioning %zu points", rows);
        goto done;
    }
    for (size_t j = 0; j < d; j++) {
        mn[j] = INFINITY;
        mx[j] = -INFINITY;
    }
    for (size_t i = 0; i < rows; i++) {
        if (!ch_db_row(t, i, p->metric, row)) {
            rc = s_bad_row(t, i, err);
            goto done;
        }
        for (size_t j = 0; j < d; j++) {
            mn[j] = row[j] < mn[j] ? row[j] : mn[j];
            mx[j] = row[j] > mx[j] ? row[j] : mx[j];
        }
    }
    size_t dim = 0;
    for (size_t j = 1; j < d; j++) {
        if (mx[j] - mn[j] > mx[dim] - mn[dim]) {
            dim = j;
        }
    }
    for (size_t i = 0; i < rows; i++) {
        ch_db_row(t, i, p->metric, row);
        col[i] = row[dim];
    }
    qsort(col, rows, sizeof *col, s_cmp_double);
    out->cuts[0] = -INFINITY;
    out->cuts[n] = INFINITY;
    for (size_t s = 1; s < n; s++) {
        out->cuts[s] = col[(size_t)((double)s * (double)rows / (double)n)];
    }
    out->dim = (uint32_t)dim;
    out->n = n;
    out->halo = ch_db_halo(p);
done:
    free(row);
    free(mn);
    free(mx);
    free(col);
    if (rc != 0) {
        ch_db_slabs_free(out);
    }
    return rc;
}

/* Frees the cuts; can't fail. */
void ch_db_slabs_free(ch_db_slabs *s)
{
    if (s) {
        free(s->cuts);
        memset(s, 0, sizeof *s);
    }
}

typedef struct s_key {
    uint64_t key;
    uint32_t idx;
} s_key;

static int s_cmp_key(const void *a, const void *b)
{
    const s_key *x = a, *y = b;
    if (x->key != y->key) {
        return x->key < y->key ? -1 : 1;
    }
    return x->idx < y->idx ? -1 : (x->idx > y->idx ? 1 : 0);
}

/* Bit j of v (21 bits) to bit j * w + o of a Morton code. */
static uint64_t s_spread(uint64_t v, size_t w, size_t o)
{
    uint64_t r = 0;
    for (size_t j = 0; j < 21 && j * w + o < 64; j++) {
        r |= ((v >> j) & 1u) << (j * w + o);
    }
    return r;
}

/* Puts the points [a, b) of the cell in Morton order over its (up to)
 * three widest dimensions, in place. Why: the union round calls union-find
 * on every pair of neighbours, and with the rows in file order those are
 * cache misses on the parent array (21% of the time at 300,000 points);
 * spatially near points get near local indices. The order changes no
 * result: decisions are per pair and results travel as global rows.
 * Returns 0 or CH_ENOMEM. */
static int s_morton_order(ch_db_cell *c, size_t a, size_t b)
{
    size_t m = b - a, d = c->d;
    if (m < 2) {
        return 0;
    }
    size_t dims[3] = {0, 0, 0}, nd = d < 3 ? d : 3;
    double mn[3], span[3];
    double *lo = malloc(d * sizeof *lo), *hi = malloc(d * sizeof *hi);
    s_key *k = ch_alloc_array(m, sizeof *k);
    uint8_t *done = calloc(m, 1);
    double *tmp = malloc(d * sizeof *tmp);
    int rc = (!lo || !hi || !k || !done || !tmp) ? CH_ENOMEM : 0;
    if (rc == 0) {
        for (size_t j = 0; j < d; j++) {
            lo[j] = INFINITY;
            hi[j] = -INFINITY;
        }
        for (size_t i = a; i < b; i++) {
            for (size_t j = 0; j < d; j++) {
                double v = c->pts[i * d + j];
                lo[j] = v < lo[j] ? v : lo[j];
                hi[j] = v > hi[j] ? v : hi[j];
            }
        }
        /* the nd widest dimensions, widest first */
        for (size_t q = 0; q < nd; q++) {
            size_t best = SIZE_MAX;
            for (size_t j = 0; j < d; j++) {
                bool used = false;
                for (size_t r = 0; r < q; r++) {
                    used = used || dims[r] == j;
                }
                if (!used && (best == SIZE_MAX || hi[j] - lo[j] > hi[best] - lo[best])) {
                    best = j;
                }
            }
            dims[q] = best;
            mn[q] = lo[best];
            span[q] = hi[best] - lo[best];
        }
        for (size_t i = 0; i < m; i++) {
            uint64_t key = 0;
            for (size_t q = 0; q < nd; q++) {
                double f = span[q] > 0 ? (c->pts[(a + i) * d + dims[q]] - mn[q]) / span[q] : 0;
                uint64_t v = (uint64_t)(f * 2097151.0);
                key |= s_spread(v > 2097151 ? 2097151 : v, nd, nd - 1 - q);
            }
            k[i].key = key;
            k[i].idx = (uint32_t)i;
        }
        qsort(k, m, sizeof *k, s_cmp_key);
        /* new position i takes old position k[i].idx: follow the cycles */
        for (size_t st = 0; st < m; st++) {
            if (done[st]) {
                continue;
            }
            memcpy(tmp, c->pts + (a + st) * d, d * sizeof *tmp);
            uint32_t g = c->gidx[a + st];
            int64_t w = c->wfix[a + st];
            size_t i = st;
            for (;;) {
                size_t src = k[i].idx;
                done[i] = 1;
                if (src == st) {
                    memcpy(c->pts + (a + i) * d, tmp, d * sizeof *tmp);
                    c->gidx[a + i] = g;
                    c->wfix[a + i] = w;
                    break;
                }
                memcpy(c->pts + (a + i) * d, c->pts + (a + src) * d, d * sizeof *tmp);
                c->gidx[a + i] = c->gidx[a + src];
                c->wfix[a + i] = c->wfix[a + src];
                i = src;
            }
        }
    }
    free(lo);
    free(hi);
    free(k);
    free(done);
    free(tmp);
    return rc;
}

/* Gathers and indexes a cell (see dbscan.h): two passes over the rows, the
 * first to count, the second to copy owned points then halo points; each
 * part is then put in Morton order. */
int ch_db_cell_gather(const ch_table *t, const ch_db_params *p, const ch_db_slabs *sl, size_t s,
                      ch_db_cell *out, ch_err *err)
{
    memset(out, 0, sizeof *out);
    size_t d = t->n_cols, rows = t->n_rows;
    if (s >= sl->n || sl->dim >= d) {
        return ch_err_set(err, CH_EPROTO, "dbscan: slab %zu of %zu (dimension %u of %zu)", s, sl->n,
                          sl->dim, d);
    }
    double lo = sl->cuts[s], hi = sl->cuts[s + 1];
    double *row = malloc(d * sizeof *row);
    if (!row) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    size_t m_own = 0, m = 0;
    int rc = 0;
    for (size_t i = 0; i < rows; i++) {
        if (!ch_db_row(t, i, p->metric, row)) {
            rc = s_bad_row(t, i, err);
            break;
        }
        double v = row[sl->dim];
        bool own = v >= lo && (v < hi || (s + 1 == sl->n));
        bool halo = v >= lo - sl->halo && v <= hi + sl->halo;
        m_own += own;
        m += own || halo;
    }
    size_t np;
    if (rc == 0 && ch_mul_size(m ? m : 1, d, &np) != 0) {
        rc = ch_err_set(err, CH_ENOMEM, "cell too large");
    }
    if (rc == 0) {
        out->pts = ch_alloc_array(np, sizeof(double));
        out->gidx = ch_alloc_array(m ? m : 1, sizeof(uint32_t));
        out->wfix = ch_alloc_array(m ? m : 1, sizeof(int64_t));
        if (!out->pts || !out->gidx || !out->wfix) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory for a cell of %zu points", m);
        }
    }
    if (rc == 0) {
        size_t a = 0, b = m_own;
        for (size_t i = 0; i < rows; i++) {
            ch_db_row(t, i, p->metric, row);
            double v = row[sl->dim];
            bool own = v >= lo && (v < hi || (s + 1 == sl->n));
            bool halo = v >= lo - sl->halo && v <= hi + sl->halo;
            if (!own && !halo) {
                continue;
            }
            size_t k = own ? a++ : b++;
            memcpy(out->pts + k * d, row, d * sizeof(double));
            out->gidx[k] = (uint32_t)i;
            out->wfix[k] = ch_db_weight_fixed(t, i);
        }
        out->m = m;
        out->m_own = m_own;
        out->d = d;
    }
    free(row);
    if (rc != 0) {
        ch_db_cell_free(out);
    }
    return rc;
}

int ch_db_cell_index(ch_db_cell *c, const ch_db_params *p, ch_err *err)
{
    int rc = 0;
    if (s_morton_order(c, 0, c->m_own) != 0 || s_morton_order(c, c->m_own, c->m) != 0) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory ordering a cell of %zu points", c->m);
    }
    if (rc == 0) {
        c->ix = ch_db_index_new(c->pts, c->m, c->d, p, err);
        if (!c->ix) {
            rc = err ? err->code : CH_ENOMEM;
        }
    }
    if (rc != 0) {
        ch_db_cell_free(c);
    }
    return rc;
}

int ch_db_cell_make(const ch_table *t, const ch_db_params *p, const ch_db_slabs *sl, size_t s,
                    ch_db_cell *out, ch_err *err)
{
    int rc = ch_db_cell_gather(t, p, sl, s, out, err);
    return rc != 0 ? rc : ch_db_cell_index(out, p, err);
}

/* Frees a cell; can't fail. */
void ch_db_cell_free(ch_db_cell *c)
{
    if (c) {
        ch_db_index_destroy(&c->ix);
        free(c->pts);
        free(c->gidx);
        free(c->wfix);
        memset(c, 0, sizeof *c);
    }
}
