/* query.c: recommendations and similar items for chosen users and items
 * through `cohort predict` (see query.h). */
#include "algorithms/cf/query.h"

#include "algorithms/cf/similar.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Ids sorted by label, to find an id by its label. */
typedef struct s_entry {
    const char *label;
    size_t id;
} s_entry;

static int s_cmp_entry(const void *a, const void *b)
{
    return strcmp(((const s_entry *)a)->label, ((const s_entry *)b)->label);
}

/* The ids of `ids` sorted by label (n entries), or NULL when out of memory. */
static s_entry *s_index_new(const ch_cf_ids *ids)
{
    s_entry *x = ch_alloc_array(ids->n + 1, sizeof *x);
    if (!x) {
        return NULL;
    }
    for (size_t k = 0; k < ids->n; k++) {
        x[k].label = ids->label[k];
        x[k].id = k;
    }
    qsort(x, ids->n, sizeof *x, s_cmp_entry);
    return x;
}

/* The dense id labelled s in the index of n entries, or -1. */
static long s_index_find(const s_entry *x, size_t n, const char *s)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(x[mid].label, s);
        if (c == 0) {
            return (long)x[mid].id;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return -1;
}

/* The label of row r of column c into tmp (the level name, or the number
 * as data.c prints ids); NULL when the cell is missing. */
static const char *s_cell(const ch_column *c, size_t r, char *tmp, size_t len)
{
    double v = c->values[r];
    if (!isfinite(v)) {
        return NULL;
    }
    if (c->kind == CH_COL_CATEGORICAL) {
        return v >= 0 && v < (double)c->n_levels ? c->levels[(size_t)v] : NULL;
    }
    snprintf(tmp, len, "%.15g", v);
    return tmp;
}

int ch_cf_predict_csv(const void *model, const ch_table *t, ch_buf *csv, ch_err *err)
{
    const ch_cf_model *m = model;
    const ch_column *cu = ch_cf_column(t, m->user_col);
    const ch_column *ci = ch_cf_column(t, m->item_col);
    if ((cu != NULL) == (ci != NULL)) {
        return 1;
    }
    bool users = cu != NULL;
    const ch_column *c = users ? cu : ci;
    const ch_cf_ids *ids = users ? &m->users : &m->items;
    if (!users && !ch_cf_has_similar(m)) {
        return ch_err_set(err, CH_EINVAL,
                          "cf: %s has only the item column '%s', a question for similar items, "
                          "but user_knn keeps neighbours of users only (item_knn and als name "
                          "similar items)",
                          t->source ? t->source : "the data", m->item_col);
    }
    size_t n = m->top_n, ni = m->items.n;
    s_entry *index = s_index_new(ids);
    uint32_t *top = ch_alloc_array(n + 1, sizeof *top);
    double *tops = ch_alloc_array(n + 1, sizeof *tops);
    double *score = users ? ch_alloc_array(ni + 1, sizeof *score) : NULL;
    uint8_t *cand = users ? ch_calloc_array(ni + 1, 1) : NULL;
    /* als: the unit item rows once for every item asked about */
    double *unit = !users && m->kind == CH_CF_ALS ? ch_cf_unit_factors(m) : NULL;
    int rc = 0;
    if (!index || !top || !tops || (users && (!score || !cand)) ||
        (!users && m->kind == CH_CF_ALS && !unit)) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        goto done;
    }
    ch_buf_puts(csv, users ? "user,rank,item,score\n" : "item,rank,neighbour,similarity\n");
    for (size_t r = 0; r < t->n_rows; r++) {
        char tmp[40];
        const char *label = s_cell(c, r, tmp, sizeof tmp);
        if (!label) {
            rc = ch_err_set(err, CH_EINVAL, "cf: %s row %zu has no %s in column '%s'",
                            t->source ? t->source : "the data", r + 1, users ? "user" : "item",
                            c->name);
            goto done;
        }
        long id = s_index_find(index, ids->n, label);
        size_t got;
        if (users) {
            got = ch_cf_topn(m, id, n, top, tops, score, cand);
        } else {
            long g = id < 0 ? 0 : ch_cf_similar(m, unit, (size_t)id, n, top, tops);
            if (g < 0) {
                rc = ch_err_set(err, CH_ENOMEM, "out of memory");
                goto done;
            }
            got = (size_t)g;
        }
        for (size_t j = 0; j < got; j++) {
            ch_cf_csv_field(csv, label);
            ch_buf_printf(csv, ",%zu,", j + 1);
            ch_cf_csv_field(csv, m->items.label[top[j]]);
            ch_buf_printf(csv, ",%.6g\n", tops[j]);
        }
    }
    if (csv->failed) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
    }
done:
    free(index);
    free(top);
    free(tops);
    free(score);
    free(cand);
    free(unit);
    return rc;
}
