/* seqfile.c: sequences in long form, grouped by id (seqfile.h). */
#include "algorithms/transformer/seqfile.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool ch_tfm_id_text(const ch_column *c, size_t r, char *buf, size_t size)
{
    double v = c->values[r];
    if (isnan(v)) {
        return false;
    }
    if (c->kind == CH_COL_CATEGORICAL) {
        snprintf(buf, size, "%s", c->levels[(size_t)v]);
    } else {
        snprintf(buf, size, "%.17g", v);
    }
    return true;
}

typedef struct s_elem {
    char *id;
    double pos;
    size_t row;
} s_elem;

static int s_cmp_elem(const void *a, const void *b)
{
    const s_elem *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    if (c) {
        return c;
    }
    if (x->pos != y->pos) {
        return x->pos < y->pos ? -1 : 1;
    }
    return x->row < y->row ? -1 : x->row > y->row;
}

void ch_tfm_seqs_destroy(ch_tfm_seqs **ps)
{
    if (!ps || !*ps) {
        return;
    }
    ch_tfm_seqs *s = *ps;
    for (size_t i = 0; s->ids && i < s->n_ids; i++) {
        free(s->ids[i]);
    }
    free(s->ids);
    free(s->first);
    free(s->len);
    free(s->vals);
    free(s->path);
    free(s);
    *ps = NULL;
}

/* Sorts the rows by (id, position, row), then cuts them into sequences. */
static int s_group(ch_tfm_seqs *s, const ch_table *t, size_t max_length, ch_err *err)
{
    size_t n = t->n_rows, d = s->d;
    s_elem *e = ch_calloc_array(n, sizeof *e);
    char buf[64];
    int rc = e ? 0 : ch_err_set(err, CH_ENOMEM, "out of memory");
    for (size_t r = 0; r < n && rc == 0; r++) {
        if (!ch_tfm_id_text(&t->cols[0], r, buf, sizeof buf) || isnan(t->cols[1].values[r])) {
            rc = ch_err_set(err, CH_EINVAL, "%s: line %zu: the %s is missing", s->path, r + 2,
                            isnan(t->cols[1].values[r]) ? "position" : "id");
        } else if (!(e[r].id = strdup(buf))) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        e[r].pos = t->cols[1].values[r];
        e[r].row = r;
    }
    if (rc == 0) {
        qsort(e, n, sizeof *e, s_cmp_elem);
        s->vals = ch_alloc_array(n ? n : 1, d * sizeof *s->vals);
        s->ids = ch_calloc_array(n ? n : 1, sizeof *s->ids);
        s->first = ch_alloc_array(n ? n : 1, sizeof *s->first);
        s->len = ch_alloc_array(n ? n : 1, sizeof *s->len);
        if (!s->vals || !s->ids || !s->first || !s->len) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        }
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (s->n_ids == 0 || strcmp(e[i].id, s->ids[s->n_ids - 1]) != 0) {
            s->ids[s->n_ids] = e[i].id;
            e[i].id = NULL;
            s->first[s->n_ids] = i;
            s->len[s->n_ids] = 0;
            s->n_ids++;
        }
        size_t k = s->n_ids - 1;
        s->len[k]++;
        if (s->len[k] > s->max_len) {
            s->max_len = s->len[k];
        }
        if (max_length && s->len[k] > max_length) {
            rc = ch_err_set(err, CH_EINVAL,
                            "%s: sequence '%s' has more than model.max_length %zu elements "
                            "(line %zu is element %zu); raise model.max_length or shorten it",
                            s->path, s->ids[k], max_length, e[i].row + 2, s->len[k]);
        }
        for (size_t j = 0; j < d; j++) {
            s->vals[i * d + j] = (float)t->cols[2 + j].values[e[i].row];
        }
    }
    for (size_t r = 0; e && r < n; r++) {
        free(e[r].id);
    }
    free(e);
    return rc;
}

/* Standardises every feature with the file's mean and standard deviation
 * (missing: 0). */
static void s_standardise(ch_tfm_seqs *s, size_t n)
{
    for (size_t j = 0; j < s->d; j++) {
        double c = 0, sum = 0, sq = 0;
        for (size_t i = 0; i < n; i++) {
            double v = s->vals[i * s->d + j];
            if (isfinite(v)) {
                c++;
                sum += v;
                sq += v * v;
            }
        }
        double m = c > 0 ? sum / c : 0, var = c > 0 ? sq / c - m * m : 0;
        double sc = var > 1e-24 ? 1 / sqrt(var) : 1;
        for (size_t i = 0; i < n; i++) {
            float *v = &s->vals[i * s->d + j];
            *v = isfinite(*v) ? (float)((*v - m) * sc) : 0.0f;
        }
    }
}

ch_tfm_seqs *ch_tfm_seqs_read(const char *path, size_t max_length, bool standardise, ch_err *err)
{
    ch_table *t = ch_csv_read(path, err);
    if (!t) {
        ch_err_prefix(err, "model.sequences");
        return NULL;
    }
    ch_tfm_seqs *s = calloc(1, sizeof *s);
    int rc = s && (s->path = strdup(path)) ? 0 : ch_err_set(err, CH_ENOMEM, "out of memory");
    if (rc == 0 && t->n_cols < 3) {
        rc = ch_err_set(err, CH_EINVAL,
                        "%s: a sequence file has columns id, position and one or more features; "
                        "this one has %zu",
                        path, t->n_cols);
    }
    for (size_t c = 2; rc == 0 && c < t->n_cols; c++) {
        if (t->cols[c].kind != CH_COL_NUMERIC) {
            rc = ch_err_set(err, CH_EINVAL, "%s: feature column '%s' is not numeric", path,
                            t->cols[c].name);
        }
    }
    if (rc == 0 && t->cols[1].kind != CH_COL_NUMERIC) {
        rc = ch_err_set(err, CH_EINVAL, "%s: the position column '%s' is not numeric", path,
                        t->cols[1].name);
    }
    if (rc == 0) {
        s->d = t->n_cols - 2;
        rc = s_group(s, t, max_length, err);
    }
    if (rc == 0 && standardise) {
        s_standardise(s, t->n_rows);
    }
    ch_table_destroy(&t);
    if (rc != 0) {
        ch_tfm_seqs_destroy(&s);
    }
    return s;
}

long ch_tfm_seqs_find(const ch_tfm_seqs *s, const char *id)
{
    size_t lo = 0, hi = s->n_ids;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(s->ids[mid], id);
        if (c == 0) {
            return (long)mid;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return -1;
}
