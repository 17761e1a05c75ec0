/* data.c: interactions from a table: dense ids, duplicates, the split and
 * the CSR/CSC stores (see data.h). */
#include "algorithms/cf/data.h"

#include "common/rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const ch_cf_dup_names[] = {"last", "mean", "sum", "error", NULL};
const char *const ch_cf_split_names[] = {"random", "leave_k_out", "time", NULL};

typedef struct s_row {
    uint32_t u, i;
    double r, t;
    size_t row;
} s_row;

const ch_column *ch_cf_column(const ch_table *t, const char *name)
{
    if (!name || !*name) {
        return NULL;
    }
    long j = ch_table_find(t, name);
    if (j >= 0) {
        return &t->cols[j];
    }
    if (t->has_target && t->target.name && strcmp(t->target.name, name) == 0) {
        return &t->target;
    }
    return NULL;
}

static int s_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : (x > y ? 1 : 0);
}

static int s_cmp_row(const void *a, const void *b)
{
    const s_row *x = a, *y = b;
    if (x->u != y->u) {
        return x->u < y->u ? -1 : 1;
    }
    if (x->i != y->i) {
        return x->i < y->i ? -1 : 1;
    }
    if (x->t != y->t) {
        return x->t < y->t ? -1 : 1;
    }
    return x->row < y->row ? -1 : (x->row > y->row ? 1 : 0);
}

static int s_cmp_time(const void *a, const void *b)
{
    const s_row *x = a, *y = b;
    if (x->t != y->t) {
        return x->t < y->t ? -1 : 1;
    }
    return x->row < y->row ? -1 : (x->row > y->row ? 1 : 0);
}

void ch_cf_ids_free(ch_cf_ids *ids)
{
    if (!ids) {
        return;
    }
    for (size_t k = 0; ids->label && k < ids->n; k++) {
        free(ids->label[k]);
    }
    free(ids->label);
    free(ids->key);
    memset(ids, 0, sizeof *ids);
}

long ch_cf_ids_find(const ch_cf_ids *ids, double key)
{
    size_t lo = 0, hi = ids->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ids->key[mid] < key) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < ids->n && ids->key[lo] == key ? (long)lo : -1;
}

/* Distinct keys of column c in ascending order, with labels. */
static int s_ids(const ch_column *c, ch_cf_ids *ids, ch_err *err, size_t n_rows)
{
    for (size_t r = 0; r < n_rows; r++) {
        if (!isfinite(c->values[r])) {
            return ch_err_set(err, CH_EINVAL,
                              "cf: column '%s' has a missing id in training row %zu", c->name,
                              r + 1);
        }
    }
    double *k = ch_alloc_array(n_rows, sizeof *k);
    if (!k) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    memcpy(k, c->values, n_rows * sizeof *k);
    qsort(k, n_rows, sizeof *k, s_cmp_double);
    size_t n = 0;
    for (size_t r = 0; r < n_rows; r++) {
        if (n == 0 || k[n - 1] != k[r]) {
            k[n++] = k[r];
        }
    }
    if (n > UINT32_MAX - 1) {
        free(k);
        return ch_err_set(err, CH_EINVAL, "cf: column '%s' has more than 2^32 ids", c->name);
    }
    ids->n = n;
    ids->key = ch_alloc_array(n ? n : 1, sizeof *k); /* n ids, not n_rows keys */
    if (!ids->key) {
        free(k);
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    memcpy(ids->key, k, n * sizeof *k);
    free(k);
    k = ids->key;
    ids->label = ch_calloc_array(n ? n : 1, sizeof *ids->label);
    if (!ids->label) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    for (size_t j = 0; j < n; j++) {
        if (c->kind == CH_COL_CATEGORICAL && k[j] >= 0 && k[j] < (double)c->n_levels) {
            ids->label[j] = strdup(c->levels[(size_t)k[j]]);
        } else {
            char tmp[40];
            snprintf(tmp, sizeof tmp, "%.15g", k[j]);
            ids->label[j] = strdup(tmp);
        }
        if (!ids->label[j]) {
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
    }
    return 0;
}

void ch_cf_csr_free(ch_cf_csr *a)
{
    if (!a) {
        return;
    }
    free(a->ptr);
    free(a->idx);
    free(a->val);
    memset(a, 0, sizeof *a);
}

int ch_cf_csr_transpose(const ch_cf_csr *a, ch_cf_csr *out)
{
    memset(out, 0, sizeof *out);
    out->n_rows = a->n_cols;
    out->n_cols = a->n_rows;
    out->nnz = a->nnz;
    out->ptr = ch_calloc_array(a->n_cols + 1, sizeof *out->ptr);
    out->idx = ch_alloc_array(a->nnz + 1, sizeof *out->idx);
    out->val = ch_alloc_array(a->nnz + 1, sizeof *out->val);
    if (!out->ptr || !out->idx || !out->val) {
        ch_cf_csr_free(out);
        return CH_ENOMEM;
    }
    for (size_t k = 0; k < a->nnz; k++) {
        out->ptr[a->idx[k] + 1]++;
    }
    for (size_t c = 0; c < a->n_cols; c++) {
        out->ptr[c + 1] += out->ptr[c];
    }
    size_t *pos = ch_alloc_array(a->n_cols + 1, sizeof *pos);
    if (!pos) {
        ch_cf_csr_free(out);
        return CH_ENOMEM;
    }
    memcpy(pos, out->ptr, (a->n_cols + 1) * sizeof *pos);
    for (size_t r = 0; r < a->n_rows; r++) {
        for (size_t k = a->ptr[r]; k < a->ptr[r + 1]; k++) {
            size_t p = pos[a->idx[k]]++;
            out->idx[p] = (uint32_t)r;
            out->val[p] = a->val[k];
        }
    }
    free(pos);
    return 0;
}

bool ch_cf_csr_has(const ch_cf_csr *a, size_t r, uint32_t c, double *val)
{
    size_t lo = a->ptr[r], hi = a->ptr[r + 1];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a->idx[mid] < c) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (lo < a->ptr[r + 1] && a->idx[lo] == c) {
        if (val) {
            *val = a->val[lo];
        }
        return true;
    }
    return false;
}

/* Sorts rows by s_cmp_row (user, item, time, row: every key distinct, so
 * any sort gives the same order) without the n-row buffer of glibc's
 * merge sort: an in-place bucket permutation by user (one offset per
 * user), then each user's few rows by qsort. */
static int s_sort_rows(s_row *rows, size_t n, size_t n_users)
{
    size_t *next = ch_calloc_array(n_users + 1, sizeof *next);
    size_t *end = ch_calloc_array(n_users + 1, sizeof *end);
    if (!next || !end) {
        free(next);
        free(end);
        return CH_ENOMEM;
    }
    for (size_t k = 0; k < n; k++) {
        end[rows[k].u]++;
    }
    for (size_t u = 0, a = 0; u < n_users; u++) {
        next[u] = a;
        a += end[u];
        end[u] = a;
    }
    for (size_t u = 0; u < n_users; u++) {
        while (next[u] < end[u]) {
            s_row x = rows[next[u]];
            while (x.u != u) { /* put x in its bucket, take what was there */
                size_t dst = next[x.u]++;
                s_row y = rows[dst];
                rows[dst] = x;
                x = y;
            }
            rows[next[u]++] = x;
        }
    }
    for (size_t u = 0, a = 0; u < n_users; u++) {
        qsort(rows + a, end[u] - a, sizeof *rows, s_cmp_row);
        a = end[u];
    }
    free(next);
    free(end);
    return 0;
}

/* Merges runs of equal (u, i) in sorted rows by the rule; returns the new
 * count or (size_t)-1 with err set for duplicates: error. */
static size_t s_merge(s_row *rows, size_t n, const ch_cf_spec *spec, const ch_cf_data *d,
                      size_t *n_dups, ch_err *err)
{
    size_t m = 0;
    for (size_t a = 0; a < n;) {
        size_t b = a + 1;
        while (b < n && rows[b].u == rows[a].u && rows[b].i == rows[a].i) {
            b++;
        }
        if (b - a > 1 && spec->duplicates == CH_CF_DUP_ERROR) {
            ch_err_set(err, CH_EINVAL,
                       "cf: user '%s' rated item '%s' %zu times (training rows %zu and %zu); "
                       "set model.duplicates to last, mean or sum",
                       d->users.label[rows[a].u], d->items.label[rows[a].i], b - a, rows[a].row + 1,
                       rows[a + 1].row + 1);
            return (size_t)-1;
        }
        s_row out = rows[b - 1]; /* sorted by time, then row: the last one */
        if (b - a > 1 && spec->duplicates != CH_CF_DUP_LAST) {
            double s = 0;
            for (size_t k = a; k < b; k++) {
                s += rows[k].r;
            }
            out.r = spec->duplicates == CH_CF_DUP_SUM ? s : s / (double)(b - a);
        }
        *n_dups += b - a - 1;
        rows[m++] = out;
        a = b;
    }
    return m;
}

static int s_build_csr(const s_row *rows, size_t n, size_t n_users, size_t n_items, ch_cf_csr *a)
{
    memset(a, 0, sizeof *a);
    a->n_rows = n_users;
    a->n_cols = n_items;
    a->nnz = n;
    a->ptr = ch_calloc_array(n_users + 1, sizeof *a->ptr);
    a->idx = ch_alloc_array(n + 1, sizeof *a->idx);
    a->val = ch_alloc_array(n + 1, sizeof *a->val);
    if (!a->ptr || !a->idx || !a->val) {
        return CH_ENOMEM;
    }
    for (size_t k = 0; k < n; k++) {
        a->ptr[rows[k].u + 1]++;
        a->idx[k] = rows[k].i;
        a->val[k] = rows[k].r;
    }
    for (size_t u = 0; u < n_users; u++) {
        a->ptr[u + 1] += a->ptr[u];
    }
    return 0;
}

/* Marks held-out rows (test[k] = 1) by the split rule; rows sorted by (u, i). */
static int s_split(s_row *rows, size_t n, const ch_cf_spec *spec, uint8_t *test)
{
    if (spec->split == CH_CF_SPLIT_LEAVE_K) {
        size_t *idx = ch_alloc_array(n + 1, sizeof *idx);
        if (!idx) {
            return CH_ENOMEM;
        }
        for (size_t a = 0; a < n;) {
            size_t b = a;
            while (b < n && rows[b].u == rows[a].u) {
                b++;
            }
            size_t m = b - a;
            if (m > (size_t)spec->holdout_k) {
                ch_rng r;
                ch_rng_init(&r, spec->seed, ch_rng_stream(CH_STREAM_ALGO + 1, rows[a].u));
                for (size_t k = 0; k < m; k++) {
                    idx[k] = a + k;
                }
                ch_rng_shuffle(&r, idx, m);
                for (long k = 0; k < spec->holdout_k; k++) {
                    test[idx[k]] = 1;
                }
            }
            a = b;
        }
        free(idx);
    } else if (spec->split == CH_CF_SPLIT_TIME) {
        s_row *byt = ch_alloc_array(n + 1, sizeof *byt);
        if (!byt) {
            return CH_ENOMEM;
        }
        memcpy(byt, rows, n * sizeof *byt);
        for (size_t k = 0; k < n; k++) {
            byt[k].row = k; /* position in rows; ties keep (user, item) order */
        }
        qsort(byt, n, sizeof *byt, s_cmp_time);
        size_t n_test = (size_t)ceil(spec->test_fraction * (double)n);
        for (size_t k = n - n_test; k < n; k++) {
            test[byt[k].row] = 1;
        }
        free(byt);
    }
    return 0;
}

int ch_cf_data_build(const ch_table *t, const ch_cf_spec *spec, ch_cf_data *d, ch_err *err)
{
    memset(d, 0, sizeof *d);
    const ch_column *cu = ch_cf_column(t, spec->user_col);
    const ch_column *ci = ch_cf_column(t, spec->item_col);
    const ch_column *cr = ch_cf_column(t, spec->rating_col);
    const ch_column *ct = ch_cf_column(t, spec->time_col);
    const char *missing = !cu ? spec->user_col : (!ci ? spec->item_col : NULL);
    if (!missing && spec->rating_col && *spec->rating_col && !cr) {
        missing = spec->rating_col;
    }
    if (missing) {
        return ch_err_set(err, CH_EINVAL,
                          "cf: the data have no column '%s' (set model.user_col, model.item_col "
                          "and model.rating_col to the column names)",
                          missing);
    }
    if (spec->split == CH_CF_SPLIT_TIME && !ct) {
        return ch_err_set(err, CH_EINVAL,
                          "cf: model.split time needs a time column; the data have no column "
                          "'%s' (model.time_col)",
                          spec->time_col && *spec->time_col ? spec->time_col : "(none)");
    }
    if (cr && cr->kind == CH_COL_CATEGORICAL) {
        return ch_err_set(err, CH_EINVAL, "cf: rating column '%s' is not numeric", cr->name);
    }
    size_t n = t->n_rows;
    int rc = s_ids(cu, &d->users, err, n);
    if (rc == 0) {
        rc = s_ids(ci, &d->items, err, n);
    }
    s_row *rows = rc == 0 ? ch_alloc_array(n + 1, sizeof *rows) : NULL;
    uint8_t *test = rc == 0 ? ch_calloc_array(n + 1, 1) : NULL;
    if (rc == 0 && (!rows || !test)) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory for %zu interactions", n);
    }
    for (size_t r = 0; rc == 0 && r < n; r++) {
        double v = cr ? cr->values[r] : 1.0;
        if (!isfinite(v)) {
            rc = ch_err_set(err, CH_EINVAL, "cf: rating column '%s' is missing in training row %zu",
                            cr->name, r + 1);
        } else if (spec->has_scale && (v < spec->scale_lo || v > spec->scale_hi)) {
            rc = ch_err_set(err, CH_EINVAL,
                            "cf: rating %g in training row %zu is outside model.rating_scale "
                            "[%g, %g]",
                            v, r + 1, spec->scale_lo, spec->scale_hi);
        } else if (spec->implicit && v < 0) {
            rc = ch_err_set(err, CH_EINVAL,
                            "cf: implicit feedback needs counts >= 0; training row %zu has %g",
                            r + 1, v);
        }
        rows[r].u = (uint32_t)ch_cf_ids_find(&d->users, cu->values[r]);
        rows[r].i = (uint32_t)ch_cf_ids_find(&d->items, ci->values[r]);
        rows[r].r = v;
        rows[r].t = ct && isfinite(ct->values[r]) ? ct->values[r] : 0;
        rows[r].row = r;
    }
    if (rc == 0 && s_sort_rows(rows, n, d->users.n) != 0) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    if (rc == 0) {
        size_t m = s_merge(rows, n, spec, d, &d->n_dups, err);
        if (m == (size_t)-1) {
            rc = err ? err->code : CH_EINVAL;
        } else {
            n = m;
        }
    }
    if (rc == 0 && (rc = s_split(rows, n, spec, test)) != 0) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    if (rc == 0) {
        size_t nt = 0;
        for (size_t k = 0; k < n; k++) {
            nt += test[k];
        }
        d->test_user = ch_alloc_array(nt + 1, sizeof *d->test_user);
        d->test_item = ch_alloc_array(nt + 1, sizeof *d->test_item);
        d->test_rating = ch_alloc_array(nt + 1, sizeof *d->test_rating);
        if (!d->test_user || !d->test_item || !d->test_rating) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        size_t m = 0;
        for (size_t k = 0; rc == 0 && k < n; k++) {
            if (test[k]) {
                d->test_user[d->n_test] = rows[k].u;
                d->test_item[d->n_test] = rows[k].i;
                d->test_rating[d->n_test++] = rows[k].r;
            } else {
                rows[m++] = rows[k];
            }
        }
        if (rc == 0 && m == 0) {
            rc = ch_err_set(err, CH_EINVAL, "cf: the split leaves no training interactions");
        }
        if (rc == 0 && s_build_csr(rows, m, d->users.n, d->items.n, &d->by_user) != 0) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        free(rows); /* before the transpose: the peak holds rows or CSC, not both */
        free(test);
        rows = NULL;
        test = NULL;
        if (rc == 0 && ch_cf_csr_transpose(&d->by_user, &d->by_item) != 0) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        for (size_t k = 0; rc == 0 && k < d->n_test; k++) {
            uint32_t u = d->test_user[k], i = d->test_item[k];
            if (d->by_user.ptr[u] == d->by_user.ptr[u + 1] ||
                d->by_item.ptr[i] == d->by_item.ptr[i + 1]) {
                d->n_test_cold++;
            }
        }
    }
    free(rows);
    free(test);
    if (rc) {
        ch_cf_data_free(d);
    }
    return rc;
}

void ch_cf_data_free(ch_cf_data *d)
{
    if (!d) {
        return;
    }
    ch_cf_ids_free(&d->users);
    ch_cf_ids_free(&d->items);
    ch_cf_csr_free(&d->by_user);
    ch_cf_csr_free(&d->by_item);
    free(d->test_user);
    free(d->test_item);
    free(d->test_rating);
    memset(d, 0, sizeof *d);
}

int ch_cf_lookup(const ch_table *t, const ch_cf_ids *users, const ch_cf_ids *items,
                 const char *user_col, const char *item_col, const char *rating_col, long *u,
                 long *i, double *r, bool *has_rating, ch_err *err)
{
    const ch_column *cu = ch_cf_column(t, user_col);
    const ch_column *ci = ch_cf_column(t, item_col);
    if (!cu || !ci) {
        return ch_err_set(err, CH_EINVAL, "cf: the data have no column '%s'",
                          !cu ? user_col : item_col);
    }
    const ch_column *cr = ch_cf_column(t, rating_col);
    if (has_rating) {
        *has_rating = cr != NULL && cr->kind == CH_COL_NUMERIC;
    }
    for (size_t k = 0; k < t->n_rows; k++) {
        u[k] = isfinite(cu->values[k]) ? ch_cf_ids_find(users, cu->values[k]) : -1;
        i[k] = isfinite(ci->values[k]) ? ch_cf_ids_find(items, ci->values[k]) : -1;
        if (r) {
            r[k] = cr && cr->kind == CH_COL_NUMERIC ? cr->values[k] : 1.0;
        }
    }
    return 0;
}
