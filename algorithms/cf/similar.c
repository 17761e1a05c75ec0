/* similar.c: similar items of item_knn and als (see similar.h). */
#include "algorithms/cf/similar.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

bool ch_cf_has_similar(const ch_cf_model *m)
{
    /* cblas takes int sizes */
    return m->kind == CH_CF_ITEM_KNN ||
           (m->kind == CH_CF_ALS && m->Y && m->f > 0 && m->items.n <= INT_MAX);
}

double *ch_cf_unit_factors(const ch_cf_model *m)
{
    if (m->kind != CH_CF_ALS || !ch_cf_has_similar(m)) {
        return NULL;
    }
    size_t ni = m->items.n, f = m->f;
    double *u = ch_alloc_array(ni * f + 1, sizeof *u);
    if (!u) {
        return NULL;
    }
    for (size_t i = 0; i < ni; i++) {
        const double *y = m->Y + i * f;
        double s = 0;
        for (size_t j = 0; j < f; j++) {
            s += y[j] * y[j];
        }
        double inv = s > 0 ? 1 / sqrt(s) : 0;
        for (size_t j = 0; j < f; j++) {
            u[i * f + j] = y[j] * inv;
        }
    }
    return u;
}

/* The best n of one row of cosines (item `self` excluded). */
static size_t s_best(const double *row, size_t ni, size_t self, size_t n, uint32_t *items,
                     double *sims)
{
    size_t cnt = 0;
    for (size_t j = 0; n > 0 && j < ni; j++) {
        if (j != self && row[j] > 0) {
            ch_cf_insert_best(items, sims, &cnt, n, (uint32_t)j, row[j]);
        }
    }
    return cnt;
}

/* Cosines of items [first, first + rows) with every item into out
 * (rows x ni), one dgemm over the unit rows. */
static void s_cosines(const double *unit, size_t ni, size_t f, size_t first, size_t rows,
                      double *out)
{
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)ni, (int)f, 1.0,
                unit + first * f, (int)f, unit, (int)f, 0.0, out, (int)ni);
}

long ch_cf_similar(const ch_cf_model *m, const double *unit, size_t i, size_t n, uint32_t *items,
                   double *sims)
{
    if (n == 0 || i >= m->items.n || !ch_cf_has_similar(m)) {
        return 0;
    }
    if (m->kind == CH_CF_ITEM_KNN) {
        size_t cnt = 0;
        for (size_t e = m->nb_ptr[i]; e < m->nb_ptr[i + 1] && cnt < n; e++) {
            items[cnt] = m->nb[e];
            sims[cnt++] = m->nb_sim[e];
        }
        return (long)cnt;
    }
    size_t ni = m->items.n;
    double *own = unit ? NULL : ch_cf_unit_factors(m);
    double *row = ch_alloc_array(ni + 1, sizeof *row);
    long cnt = CH_ENOMEM;
    if ((unit || own) && row) {
        s_cosines(unit ? unit : own, ni, m->f, i, 1, row);
        cnt = (long)s_best(row, ni, i, n, items, sims);
    }
    free(own);
    free(row);
    return cnt;
}

static void s_rows_out(ch_buf *b, const ch_cf_model *m, size_t i, const uint32_t *items,
                       const double *sims, size_t cnt)
{
    for (size_t r = 0; r < cnt; r++) {
        ch_cf_csv_field(b, m->items.label[i]);
        ch_buf_printf(b, ",%zu,", r + 1);
        ch_cf_csv_field(b, m->items.label[items[r]]);
        ch_buf_printf(b, ",%.6g\n", sims[r]);
    }
}

int ch_cf_write_similar(const ch_cf_model *m, const char *path, ch_err *err)
{
    size_t ni = m->items.n, n = m->top_n;
    /* als: blocks of rows whose cosines take about 16 MB */
    size_t block = ni ? (2u << 20) / ni : 1;
    block = block < 1 ? 1 : (block > 256 ? 256 : block);
    bool als = m->kind == CH_CF_ALS;
    uint32_t *items = ch_alloc_array(n + 1, sizeof *items);
    double *sims = ch_alloc_array(n + 1, sizeof *sims);
    double *unit = als ? ch_cf_unit_factors(m) : NULL;
    double *cos = als ? ch_alloc_array(block * ni + 1, sizeof *cos) : NULL;
    ch_buf b;
    ch_buf_init(&b);
    int rc = 0;
    if (!items || !sims || (als && (!unit || !cos))) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory for similar items");
        goto done;
    }
    ch_buf_puts(&b, "item,rank,neighbour,similarity\n");
    for (size_t first = 0; first < ni && ch_cf_has_similar(m); first += block) {
        size_t rows = ni - first < block ? ni - first : block;
        if (als) {
            s_cosines(unit, ni, m->f, first, rows, cos);
        }
        for (size_t r = 0; r < rows; r++) {
            size_t i = first + r;
            size_t cnt = als ? s_best(cos + r * ni, ni, i, n, items, sims)
                             : (size_t)ch_cf_similar(m, NULL, i, n, items, sims);
            s_rows_out(&b, m, i, items, sims, cnt);
        }
    }
    rc = ch_cf_write_buf(path, &b, err);
done:
    ch_buf_free(&b);
    free(items);
    free(sims);
    free(unit);
    free(cos);
    return rc;
}
