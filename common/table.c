/* table.c: the in-memory data table (see table.h): columns, target and
 * weights, row selection, fingerprint, and the schema a model keeps to
 * encode new data the way it saw its training data. */
#include "common/table.h"

#include "common/buf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- Small helpers --------------------------------------------------------- */

static const char *s_src(const ch_table *t)
{
    return t && t->source ? t->source : "the data";
}

static void s_free_levels(char **levels, size_t n)
{
    if (levels) {
        for (size_t i = 0; i < n; i++) {
            free(levels[i]);
        }
        free(levels);
    }
}

static void s_column_free(ch_column *c)
{
    free(c->name);
    free(c->values);
    s_free_levels(c->levels, c->n_levels);
    memset(c, 0, sizeof *c);
}

/* A deep copy of n level names; NULL on failure (or when n == 0 and src NULL). */
static char **s_copy_levels(char *const *src, size_t n, int *rc)
{
    *rc = 0;
    if (n == 0) {
        return NULL;
    }
    char **out = ch_calloc_array(n, sizeof *out);
    if (!out) {
        *rc = CH_ENOMEM;
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        out[i] = strdup(src[i]);
        if (!out[i]) {
            s_free_levels(out, n);
            *rc = CH_ENOMEM;
            return NULL;
        }
    }
    return out;
}

/* Copies name, kind and levels of src into dst (values left NULL). */
static int s_column_copy_meta(ch_column *dst, const ch_column *src)
{
    int rc;
    memset(dst, 0, sizeof *dst);
    dst->kind = src->kind;
    if (src->name) {
        dst->name = strdup(src->name);
        if (!dst->name) {
            return CH_ENOMEM;
        }
    }
    dst->levels = s_copy_levels(src->levels, src->n_levels, &rc);
    if (rc != 0) {
        s_column_free(dst);
        return rc;
    }
    dst->n_levels = src->n_levels;
    return 0;
}

/* Writes v in the shortest "%.Ng" form that reads back exactly. */
static void s_fmt_num(double v, char *out, size_t cap)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, cap, "%.*g", prec, v);
        if (strtod(out, NULL) == v) {
            return;
        }
    }
}

static size_t s_min3(size_t a, size_t b, size_t c)
{
    size_t m = a < b ? a : b;
    return m < c ? m : c;
}

/* Edit distance between a and b, case-insensitive; SIZE_MAX if too long. */
static size_t s_edit_distance(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    if (na > 256 || nb > 256) {
        return SIZE_MAX;
    }
    size_t row[257];
    for (size_t j = 0; j <= nb; j++) {
        row[j] = j;
    }
    for (size_t i = 1; i <= na; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t up = row[j];
            int ca = a[i - 1] >= 'A' && a[i - 1] <= 'Z' ? a[i - 1] + 32 : a[i - 1];
            int cb = b[j - 1] >= 'A' && b[j - 1] <= 'Z' ? b[j - 1] + 32 : b[j - 1];
            row[j] = s_min3(row[j] + 1, row[j - 1] + 1, diag + (ca != cb));
            diag = up;
        }
    }
    return row[nb];
}

/* "no column 'x' in FILE (columns: a, b, ...; did you mean 'y'?)" */
static int s_no_column(const ch_table *t, const char *name, ch_err *err)
{
    ch_buf b;
    ch_buf_init(&b);
    ch_buf_printf(&b, "no column '%s' in %s (columns: ", name, s_src(t));
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    for (size_t j = 0; j < t->n_cols; j++) {
        if (j < 12) {
            ch_buf_printf(&b, "%s%s", j ? ", " : "", t->cols[j].name);
        } else if (j == 12) {
            ch_buf_printf(&b, ", ... %zu more", t->n_cols - 12);
        }
        size_t d = s_edit_distance(name, t->cols[j].name);
        if (d < best_d) {
            best_d = d;
            best = t->cols[j].name;
        }
    }
    if (t->n_cols == 0) {
        ch_buf_puts(&b, "none");
    }
    size_t len = strlen(name);
    if (best && best_d <= (len / 3 > 2 ? len / 3 : 2)) {
        ch_buf_printf(&b, "; did you mean '%s'?", best);
    }
    ch_buf_puts(&b, ")");
    int rc = ch_err_set(err, CH_EINVAL, "%s", ch_buf_str(&b));
    ch_buf_free(&b);
    return rc;
}

/* Appends "a, b, c" (at most 20 levels) to b. */
static void s_list_levels(ch_buf *b, char *const *levels, size_t n)
{
    for (size_t i = 0; i < n && i < 20; i++) {
        ch_buf_printf(b, "%s%s", i ? ", " : "", levels[i]);
    }
    if (n > 20) {
        ch_buf_printf(b, ", ... %zu more", n - 20);
    }
}

/* Removes column j from the feature list without freeing its contents. */
static void s_remove_column(ch_table *t, size_t j)
{
    memmove(&t->cols[j], &t->cols[j + 1], (t->n_cols - j - 1) * sizeof *t->cols);
    t->n_cols--;
}

/* --- Table ----------------------------------------------------------------- */

/* A new table with n_rows rows and no columns. The caller owns it and frees
 * it with ch_table_destroy. Returns NULL when out of memory. */
ch_table *ch_table_new(size_t n_rows)
{
    ch_table *t = calloc(1, sizeof *t);
    if (t) {
        t->n_rows = n_rows;
    }
    return t;
}

/* Frees the table, its columns, target, weights and source, and sets *t to
 * NULL. Accepts NULL and *t == NULL. */
void ch_table_destroy(ch_table **t)
{
    if (!t || !*t) {
        return;
    }
    ch_table *self = *t;
    for (size_t j = 0; j < self->n_cols; j++) {
        s_column_free(&self->cols[j]);
    }
    free(self->cols);
    s_column_free(&self->target);
    free(self->weights);
    free(self->source);
    free(self);
    *t = NULL;
}

/* Appends a column, taking ownership of values and levels (even when it
 * fails). Returns 0, or CH_ENOMEM when the name or the column array cannot
 * be allocated. */
int ch_table_add_column(ch_table *t, const char *name, ch_col_kind kind, double *values,
                        char **levels, size_t n_levels)
{
    char *copy = strdup(name ? name : "");
    ch_column *cols = NULL;
    size_t bytes;
    if (copy && ch_mul_size(t->n_cols + 1, sizeof *cols, &bytes) == 0) {
        cols = realloc(t->cols, bytes);
    }
    if (!cols) {
        free(copy);
        free(values);
        s_free_levels(levels, n_levels);
        return CH_ENOMEM;
    }
    t->cols = cols;
    ch_column *c = &t->cols[t->n_cols++];
    c->name = copy;
    c->kind = kind;
    c->values = values;
    c->levels = kind == CH_COL_CATEGORICAL ? levels : NULL;
    c->n_levels = kind == CH_COL_CATEGORICAL ? n_levels : 0;
    if (kind != CH_COL_CATEGORICAL) {
        s_free_levels(levels, n_levels);
    }
    return 0;
}

/* Index of the feature column called name (exact match), or -1. Can't fail. */
long ch_table_find(const ch_table *t, const char *name)
{
    if (!t || !name) {
        return -1;
    }
    for (size_t j = 0; j < t->n_cols; j++) {
        if (strcmp(t->cols[j].name, name) == 0) {
            return (long)j;
        }
    }
    return -1;
}

/* Makes a numeric 0/1-valued (or any two-valued) column categorical with
 * `positive` as level 1. Errors name the column. */
static int s_numeric_to_binary(ch_column *c, size_t n_rows, const char *positive, ch_err *err,
                               const char *src)
{
    double pos;
    if (!ch_parse_number(positive, strlen(positive), (locale_t)0, &pos)) {
        return ch_err_set(err, CH_EINVAL,
                          "%s: target '%s' is numeric, and the positive class '%s' is not a number",
                          src, c->name, positive);
    }
    double other = NAN;
    bool seen_pos = false;
    for (size_t i = 0; i < n_rows; i++) {
        double v = c->values[i];
        if (isnan(v)) {
            continue;
        }
        if (v == pos) {
            seen_pos = true;
        } else if (isnan(other)) {
            other = v;
        } else if (v != other) {
            return ch_err_set(err, CH_EINVAL,
                              "%s: positive class '%s' given, but target '%s' has more than two "
                              "values (%g, %g, %g, ...); a positive class is for binary targets",
                              src, positive, c->name, pos, other, v);
        }
    }
    if (!seen_pos) {
        return ch_err_set(err, CH_EINVAL, "%s: target '%s' has no value %s (the positive class)",
                          src, c->name, positive);
    }
    if (isnan(other)) {
        return ch_err_set(err, CH_EINVAL,
                          "%s: target '%s' has only one value (%s); a binary target needs two", src,
                          c->name, positive);
    }
    char a[64], b[64];
    s_fmt_num(other, a, sizeof a);
    s_fmt_num(pos, b, sizeof b);
    char **levels = ch_calloc_array(2, sizeof *levels);
    if (!levels || !(levels[0] = strdup(a)) || !(levels[1] = strdup(b))) {
        s_free_levels(levels, 2);
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n_rows; i++) {
        if (!isnan(c->values[i])) {
            c->values[i] = c->values[i] == pos ? 1.0 : 0.0;
        }
    }
    c->kind = CH_COL_CATEGORICAL;
    c->levels = levels;
    c->n_levels = 2;
    return 0;
}

/* Moves column `name` into the target, with `positive` as code 1 for a
 * binary target (see table.h). On error the table is unchanged and err says
 * what was wrong: a missing column (with the columns and a close name), an
 * absent positive level, a positive level for a non-binary target. */
int ch_table_set_target(ch_table *t, const char *name, const char *positive, ch_err *err)
{
    if (!name) {
        return ch_err_set(err, CH_EINVAL, "no target column given");
    }
    if (t->has_target) {
        return ch_err_set(err, CH_EINVAL, "%s: the target is already '%s'; cannot set it to '%s'",
                          s_src(t), t->target.name, name);
    }
    long j = ch_table_find(t, name);
    if (j < 0) {
        return s_no_column(t, name, err);
    }
    ch_column *c = &t->cols[j];
    if (positive && c->kind == CH_COL_NUMERIC) {
        int rc = s_numeric_to_binary(c, t->n_rows, positive, err, s_src(t));
        if (rc != 0) {
            return rc;
        }
    } else if (positive) {
        ch_buf b;
        ch_buf_init(&b);
        s_list_levels(&b, c->levels, c->n_levels);
        size_t p = c->n_levels;
        for (size_t k = 0; k < c->n_levels; k++) {
            if (strcmp(c->levels[k], positive) == 0) {
                p = k;
            }
        }
        int rc = 0;
        if (p == c->n_levels) {
            rc = ch_err_set(err, CH_EINVAL, "%s: target '%s' has no level '%s' (levels: %s)",
                            s_src(t), name, positive, ch_buf_str(&b));
        } else if (c->n_levels != 2) {
            rc = ch_err_set(err, CH_EINVAL,
                            "%s: positive class '%s' given, but target '%s' has %zu levels (%s); "
                            "a positive class is for binary targets",
                            s_src(t), positive, name, c->n_levels, ch_buf_str(&b));
        }
        ch_buf_free(&b);
        if (rc != 0) {
            return rc;
        }
        if (p == 0) {
            char *tmp = c->levels[0];
            c->levels[0] = c->levels[1];
            c->levels[1] = tmp;
            for (size_t i = 0; i < t->n_rows; i++) {
                if (!isnan(c->values[i])) {
                    c->values[i] = 1.0 - c->values[i];
                }
            }
        }
    }
    t->target = *c;
    t->has_target = true;
    s_remove_column(t, (size_t)j);
    return 0;
}

/* Moves column `name` into t->weights. Each weight must be a finite number
 * >= 0; otherwise an error names the row and the table is unchanged. */
int ch_table_set_weights(ch_table *t, const char *name, ch_err *err)
{
    long j = ch_table_find(t, name);
    if (j < 0) {
        return s_no_column(t, name, err);
    }
    if (t->weights) {
        return ch_err_set(err, CH_EINVAL, "%s: row weights are already set", s_src(t));
    }
    ch_column *c = &t->cols[j];
    if (c->kind != CH_COL_NUMERIC) {
        return ch_err_set(err, CH_EINVAL,
                          "%s: weights column '%s' holds text (e.g. '%s'); weights must be numbers",
                          s_src(t), name, c->n_levels ? c->levels[0] : "");
    }
    for (size_t i = 0; i < t->n_rows; i++) {
        double w = c->values[i];
        if (isnan(w)) {
            return ch_err_set(err, CH_EINVAL, "%s: row %zu: weight in column '%s' is missing",
                              s_src(t), i + 1, name);
        }
        if (!isfinite(w) || w < 0) {
            return ch_err_set(err, CH_EINVAL,
                              "%s: row %zu: weight %g in column '%s' is not a finite number >= 0",
                              s_src(t), i + 1, w, name);
        }
    }
    t->weights = c->values;
    c->values = NULL;
    s_column_free(c);
    s_remove_column(t, (size_t)j);
    return 0;
}

/* A copy of column src restricted to rows[0..n). */
static int s_column_take(ch_column *dst, const ch_column *src, const size_t *rows, size_t n)
{
    int rc = s_column_copy_meta(dst, src);
    if (rc != 0) {
        return rc;
    }
    dst->values = ch_alloc_array(n, sizeof *dst->values);
    if (!dst->values) {
        s_column_free(dst);
        return CH_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        dst->values[i] = src->values[rows[i]];
    }
    return 0;
}

/* A new table with rows[0..n) of t, in that order (repeats allowed), with
 * the same columns, levels, target, weights and source. The caller owns it.
 * NULL when out of memory or when a row index is out of range. */
ch_table *ch_table_take_rows(const ch_table *t, const size_t *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (rows[i] >= t->n_rows) {
            return NULL;
        }
    }
    ch_table *out = ch_table_new(n);
    if (!out) {
        return NULL;
    }
    if (t->source && !(out->source = strdup(t->source))) {
        goto fail;
    }
    if (t->n_cols > 0) {
        out->cols = ch_calloc_array(t->n_cols, sizeof *out->cols);
        if (!out->cols) {
            goto fail;
        }
    }
    for (size_t j = 0; j < t->n_cols; j++) {
        if (s_column_take(&out->cols[j], &t->cols[j], rows, n) != 0) {
            goto fail;
        }
        out->n_cols = j + 1;
    }
    if (t->has_target) {
        if (s_column_take(&out->target, &t->target, rows, n) != 0) {
            goto fail;
        }
        out->has_target = true;
    }
    if (t->weights) {
        out->weights = ch_alloc_array(n, sizeof *out->weights);
        if (!out->weights) {
            goto fail;
        }
        for (size_t i = 0; i < n; i++) {
            out->weights[i] = t->weights[rows[i]];
        }
    }
    return out;
fail:
    ch_table_destroy(&out);
    return NULL;
}

/* --- Fingerprint ----------------------------------------------------------- */

#define S_FNV_OFFSET 14695981039346656037ULL
#define S_FNV_PRIME  1099511628211ULL

static uint64_t s_fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= S_FNV_PRIME;
    }
    return h;
}

/* Little-endian 64-bit, so the hash is the same on every host. */
static uint64_t s_fnv_u64(uint64_t h, uint64_t v)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++) {
        b[i] = (unsigned char)(v >> (8 * i));
    }
    return s_fnv(h, b, 8);
}

static uint64_t s_fnv_str(uint64_t h, const char *s)
{
    return s_fnv(h, s ? s : "", s ? strlen(s) + 1 : 1);
}

static uint64_t s_fnv_values(uint64_t h, const double *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t bits;
        double x = isnan(v[i]) ? NAN : v[i]; /* one NaN bit pattern */
        memcpy(&bits, &x, sizeof bits);
        h = s_fnv_u64(h, bits);
    }
    return h;
}

static uint64_t s_fnv_column(uint64_t h, const ch_column *c, size_t n_rows)
{
    h = s_fnv_str(h, c->name);
    h = s_fnv_u64(h, (uint64_t)c->kind);
    h = s_fnv_u64(h, c->n_levels);
    for (size_t k = 0; k < c->n_levels; k++) {
        h = s_fnv_str(h, c->levels[k]);
    }
    return s_fnv_values(h, c->values, n_rows);
}

/* FNV-1a 64 over the row and column counts, each column's name, kind,
 * levels and value bits (NaN canonicalised), the target and the weights.
 * The source file name is left out: two machines may store the same data
 * under different paths. Can't fail. */
uint64_t ch_table_fingerprint(const ch_table *t)
{
    uint64_t h = S_FNV_OFFSET;
    h = s_fnv_u64(h, t->n_rows);
    h = s_fnv_u64(h, t->n_cols);
    for (size_t j = 0; j < t->n_cols; j++) {
        h = s_fnv_column(h, &t->cols[j], t->n_rows);
    }
    h = s_fnv_u64(h, t->has_target);
    if (t->has_target) {
        h = s_fnv_column(h, &t->target, t->n_rows);
    }
    h = s_fnv_u64(h, t->weights != NULL);
    if (t->weights) {
        h = s_fnv_values(h, t->weights, t->n_rows);
    }
    return h;
}

/* Number of levels of a categorical target; 0 for numeric or no target. */
size_t ch_table_n_classes(const ch_table *t)
{
    if (!t->has_target || t->target.kind != CH_COL_CATEGORICAL) {
        return 0;
    }
    return t->target.n_levels;
}

/* --- Schema ---------------------------------------------------------------- */

/* A deep copy of t's feature and target names, kinds and levels, plus
 * `positive` (copied, may be NULL). The caller owns it and frees it with
 * ch_schema_destroy. NULL when out of memory. */
ch_schema *ch_schema_from_table(const ch_table *t, const char *positive)
{
    ch_schema *s = calloc(1, sizeof *s);
    if (!s) {
        return NULL;
    }
    if (t->n_cols > 0) {
        s->features = ch_calloc_array(t->n_cols, sizeof *s->features);
        if (!s->features) {
            goto fail;
        }
    }
    for (size_t j = 0; j < t->n_cols; j++) {
        if (s_column_copy_meta(&s->features[j], &t->cols[j]) != 0) {
            goto fail;
        }
        s->n_features = j + 1;
    }
    if (t->has_target && s_column_copy_meta(&s->target, &t->target) != 0) {
        goto fail;
    }
    if (positive && !(s->positive = strdup(positive))) {
        goto fail;
    }
    return s;
fail:
    ch_schema_destroy(&s);
    return NULL;
}

/* Frees the schema and nulls the caller's pointer. Accepts NULL. */
void ch_schema_destroy(ch_schema **s)
{
    if (!s || !*s) {
        return;
    }
    for (size_t j = 0; j < (*s)->n_features; j++) {
        s_column_free(&(*s)->features[j]);
    }
    free((*s)->features);
    s_column_free(&(*s)->target);
    free((*s)->positive);
    free(*s);
    *s = NULL;
}

/* Level index sorted by strcmp, for lookups in level lists that are not
 * sorted (a target reordered by its positive class). */
typedef struct s_level_ix {
    const char *name;
    size_t code;
} s_level_ix;

static int s_level_cmp(const void *a, const void *b)
{
    return strcmp(((const s_level_ix *)a)->name, ((const s_level_ix *)b)->name);
}

typedef struct s_num_ix {
    double v;
    size_t code;
} s_num_ix;

static int s_num_cmp(const void *a, const void *b)
{
    double x = ((const s_num_ix *)a)->v, y = ((const s_num_ix *)b)->v;
    return x < y ? -1 : x > y;
}

/* Encodes column `have` of t as `want` expects, into a new values array
 * (*out, caller frees). Errors name the file, row, column and value. */
static int s_conform_values(const ch_table *t, const ch_column *want, const ch_column *have,
                            double **out, ch_err *err)
{
    size_t n = t->n_rows;
    double *v = ch_alloc_array(n, sizeof *v);
    size_t *map = NULL;
    void *ix = NULL;
    int rc = 0;
    if (!v) {
        return ch_err_set(err, CH_ENOMEM, "out of memory encoding column '%s'", want->name);
    }
    if (want->kind == CH_COL_NUMERIC && have->kind == CH_COL_NUMERIC) {
        memcpy(v, have->values, n * sizeof *v);
    } else if (want->kind == CH_COL_NUMERIC) {
        /* The reader saw text; fine if every level is a number after all. */
        double *num = ch_alloc_array(have->n_levels, sizeof *num);
        if (!num) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
            goto done;
        }
        for (size_t k = 0; k < have->n_levels; k++) {
            const char *l = have->levels[k];
            if (!ch_parse_number(l, strlen(l), (locale_t)0, &num[k])) {
                num[k] = NAN;
            }
        }
        for (size_t i = 0; i < n; i++) {
            double c = have->values[i];
            if (isnan(c)) {
                v[i] = NAN;
            } else if (isnan(num[(size_t)c])) {
                rc = ch_err_set(err, CH_EINVAL,
                                "%s, row %zu: column '%s': text '%s' where the model was trained "
                                "on numbers",
                                s_src(t), i + 1, want->name, have->levels[(size_t)c]);
                free(num);
                goto done;
            } else {
                v[i] = num[(size_t)c];
            }
        }
        free(num);
    } else if (have->kind == CH_COL_CATEGORICAL) {
        s_level_ix *lx = ch_alloc_array(want->n_levels, sizeof *lx);
        map = ch_alloc_array(have->n_levels, sizeof *map);
        ix = lx;
        if (!lx || !map) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
            goto done;
        }
        for (size_t k = 0; k < want->n_levels; k++) {
            lx[k] = (s_level_ix){want->levels[k], k};
        }
        qsort(lx, want->n_levels, sizeof *lx, s_level_cmp);
        for (size_t k = 0; k < have->n_levels; k++) {
            s_level_ix key = {have->levels[k], 0};
            s_level_ix *hit =
                want->n_levels ? bsearch(&key, lx, want->n_levels, sizeof *lx, s_level_cmp) : NULL;
            map[k] = hit ? hit->code : SIZE_MAX;
        }
        for (size_t i = 0; i < n; i++) {
            double c = have->values[i];
            if (isnan(c)) {
                v[i] = NAN;
                continue;
            }
            if (map[(size_t)c] == SIZE_MAX) {
                ch_buf b;
                ch_buf_init(&b);
                s_list_levels(&b, want->levels, want->n_levels);
                rc = ch_err_set(err, CH_EINVAL,
                                "%s, row %zu: column '%s': level '%s' was not seen in training "
                                "(levels: %s)",
                                s_src(t), i + 1, want->name, have->levels[(size_t)c],
                                ch_buf_str(&b));
                ch_buf_free(&b);
                goto done;
            }
            v[i] = (double)map[(size_t)c];
        }
    } else {
        /* Trained on text; these rows happen to be all numbers ("415"). */
        s_num_ix *nx = ch_alloc_array(want->n_levels, sizeof *nx);
        ix = nx;
        if (!nx) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
            goto done;
        }
        size_t m = 0;
        for (size_t k = 0; k < want->n_levels; k++) {
            double x;
            const char *l = want->levels[k];
            if (ch_parse_number(l, strlen(l), (locale_t)0, &x)) {
                nx[m++] = (s_num_ix){x, k};
            }
        }
        qsort(nx, m, sizeof *nx, s_num_cmp);
        for (size_t i = 0; i < n; i++) {
            double x = have->values[i];
            if (isnan(x)) {
                v[i] = NAN;
                continue;
            }
            s_num_ix key = {x, 0};
            s_num_ix *hit = m ? bsearch(&key, nx, m, sizeof *nx, s_num_cmp) : NULL;
            if (!hit) {
                char num[64];
                s_fmt_num(x, num, sizeof num);
                ch_buf b;
                ch_buf_init(&b);
                s_list_levels(&b, want->levels, want->n_levels);
                rc = ch_err_set(err, CH_EINVAL,
                                "%s, row %zu: column '%s': level '%s' was not seen in training "
                                "(levels: %s)",
                                s_src(t), i + 1, want->name, num, ch_buf_str(&b));
                ch_buf_free(&b);
                goto done;
            }
            v[i] = (double)hit->code;
        }
    }
done:
    free(map);
    free(ix);
    if (rc != 0) {
        free(v);
        return rc;
    }
    *out = v;
    return 0;
}

/* A new column shaped as `want`, with t's data from `have`. */
static int s_conform_column(const ch_table *t, const ch_column *want, const ch_column *have,
                            ch_column *out, ch_err *err)
{
    if (s_column_copy_meta(out, want) != 0) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    int rc = s_conform_values(t, want, have, &out->values, err);
    if (rc != 0) {
        s_column_free(out);
    }
    return rc;
}

/* Re-encodes t with the schema's columns, levels and target (see table.h).
 * Builds the new columns first and swaps them in only when all succeeded,
 * so on error t is unchanged and err names the file, row, column and
 * value (or lists the missing columns). */
int ch_table_conform(ch_table *t, const ch_schema *s, ch_err *err)
{
    ch_buf missing;
    ch_buf_init(&missing);
    size_t n_missing = 0;
    for (size_t j = 0; j < s->n_features; j++) {
        if (ch_table_find(t, s->features[j].name) < 0) {
            ch_buf_printf(&missing, "%s'%s'", n_missing ? ", " : "", s->features[j].name);
            n_missing++;
        }
    }
    if (n_missing > 0) {
        int rc = ch_err_set(err, CH_EINVAL, "%s lacks %zu column%s the model was trained on: %s",
                            s_src(t), n_missing, n_missing == 1 ? "" : "s", ch_buf_str(&missing));
        ch_buf_free(&missing);
        return rc;
    }
    ch_buf_free(&missing);

    ch_column *cols = NULL;
    ch_column target;
    memset(&target, 0, sizeof target);
    bool has_target = false;
    int rc = 0;
    if (s->n_features > 0) {
        cols = ch_calloc_array(s->n_features, sizeof *cols);
        if (!cols) {
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
    }
    size_t done = 0;
    for (; done < s->n_features; done++) {
        const ch_column *have = &t->cols[ch_table_find(t, s->features[done].name)];
        rc = s_conform_column(t, &s->features[done], have, &cols[done], err);
        if (rc != 0) {
            goto fail;
        }
    }
    if (s->target.name) {
        const ch_column *have = NULL;
        long j = ch_table_find(t, s->target.name);
        if (j >= 0) {
            have = &t->cols[j];
        } else if (t->has_target && strcmp(t->target.name, s->target.name) == 0) {
            have = &t->target;
        }
        if (have) {
            rc = s_conform_column(t, &s->target, have, &target, err);
            if (rc != 0) {
                goto fail;
            }
            has_target = true;
        }
    }
    for (size_t j = 0; j < t->n_cols; j++) {
        s_column_free(&t->cols[j]);
    }
    free(t->cols);
    s_column_free(&t->target);
    t->cols = cols;
    t->n_cols = s->n_features;
    t->target = target;
    t->has_target = has_target;
    return 0;
fail:
    for (size_t j = 0; j < done; j++) {
        s_column_free(&cols[j]);
    }
    free(cols);
    return rc;
}
