/* libsvm.c: the LIBSVM/SVMlight reader: "label idx:val ..." lines into a
 * dense table of features f1..fK (absent = 0) and a numeric column "label". */
#include "common/table.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A dense table this many cells or larger is refused (8 bytes each). */
#define S_MAX_CELLS ((size_t)1 << 29)
/* Feature indices above this are refused before any allocation. */
#define S_MAX_INDEX 100000000UL

typedef struct s_line {
    const char *p; /* the line without its comment and line ending */
    size_t n;
    size_t next; /* offset of the next line */
} s_line;

static s_line s_get_line(const char *buf, size_t len, size_t pos)
{
    const char *nl = memchr(buf + pos, '\n', len - pos);
    size_t end = nl ? (size_t)(nl - buf) : len;
    s_line l = {buf + pos, end - pos, nl ? end + 1 : len};
    const char *hash = memchr(l.p, '#', l.n);
    if (hash) {
        l.n = (size_t)(hash - l.p);
    }
    return l;
}

static bool s_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Next whitespace-separated token of l at *i; false at the end. */
static bool s_token(const s_line *l, size_t *i, const char **tok, size_t *n)
{
    while (*i < l->n && s_space(l->p[*i])) {
        (*i)++;
    }
    if (*i >= l->n) {
        return false;
    }
    size_t start = *i;
    while (*i < l->n && !s_space(l->p[*i])) {
        (*i)++;
    }
    *tok = l->p + start;
    *n = *i - start;
    return true;
}

/* Parses "idx:val" (idx a decimal integer >= 1). qid tokens set *skip. */
static int s_pair(const char *tok, size_t n, locale_t loc, unsigned long *idx, double *val,
                  bool *skip)
{
    const char *colon = memchr(tok, ':', n);
    *skip = false;
    if (!colon) {
        return -1;
    }
    size_t klen = (size_t)(colon - tok);
    if (klen == 3 && memcmp(tok, "qid", 3) == 0) {
        *skip = true;
        return 0;
    }
    if (klen == 0 || klen > 10) {
        return -1;
    }
    unsigned long k = 0;
    for (size_t i = 0; i < klen; i++) {
        if (tok[i] < '0' || tok[i] > '9') {
            return -1;
        }
        k = k * 10 + (unsigned long)(tok[i] - '0');
    }
    if (!ch_parse_number(colon + 1, n - klen - 1, loc, val)) {
        return -1;
    }
    *idx = k;
    return 0;
}

/* Walks every line. With cols == NULL it only checks and measures (rows,
 * largest index); otherwise it fills label[] and cols[k-1][row]. */
static int s_walk(const char *buf, size_t len, const char *name, locale_t loc, size_t *n_rows,
                  unsigned long *max_idx, double *label, double **cols, ch_err *err)
{
    size_t pos = 0, line_no = 0, row = 0;
    while (pos < len) {
        s_line l = s_get_line(buf, len, pos);
        pos = l.next;
        line_no++;
        size_t i = 0, n;
        const char *tok;
        if (!s_token(&l, &i, &tok, &n)) {
            continue; /* blank or comment */
        }
        double y;
        if (!ch_parse_number(tok, n, loc, &y)) {
            int shown = n > 40 ? 40 : (int)n;
            return ch_err_set(err, CH_EINVAL,
                              "%s:%zu: label '%.*s' is not a number (expected 'label idx:value "
                              "...')",
                              name, line_no, shown, tok);
        }
        if (label) {
            label[row] = y;
        }
        unsigned long prev = 0;
        while (s_token(&l, &i, &tok, &n)) {
            unsigned long k;
            double v;
            bool skip;
            int shown = n > 40 ? 40 : (int)n;
            if (s_pair(tok, n, loc, &k, &v, &skip) != 0) {
                return ch_err_set(err, CH_EINVAL,
                                  "%s:%zu: bad feature '%.*s' (expected index:value, e.g. 3:0.5)",
                                  name, line_no, shown, tok);
            }
            if (skip) {
                continue;
            }
            if (k == 0) {
                return ch_err_set(err, CH_EINVAL,
                                  "%s:%zu: feature index 0 in '%.*s'; LIBSVM indices start at 1",
                                  name, line_no, shown, tok);
            }
            if (k > S_MAX_INDEX) {
                return ch_err_set(err, CH_EINVAL,
                                  "%s:%zu: feature index %lu is larger than cohort's limit %lu",
                                  name, line_no, k, S_MAX_INDEX);
            }
            if (k <= prev) {
                return ch_err_set(err, CH_EINVAL,
                                  "%s:%zu: feature index %lu after %lu; indices must be in "
                                  "ascending order, each once",
                                  name, line_no, k, prev);
            }
            prev = k;
            if (cols) {
                cols[k - 1][row] = v;
            } else if (k > *max_idx) {
                *max_idx = k;
            }
        }
        row++;
    }
    if (!cols) {
        *n_rows = row;
    }
    return 0;
}

/* Parses LIBSVM text held in memory. `name` is used in messages. The caller
 * owns the table: columns f1..fK then "label", all numeric. NULL with err
 * set ("name:line: what") on bad input, no rows, a table too large to hold
 * densely, or out of memory. */
ch_table *ch_libsvm_parse(const char *buf, size_t len, const char *name, ch_err *err)
{
    name = name ? name : "<libsvm>";
    const char *nul = memchr(buf, '\0', len);
    if (nul) {
        ch_err_set(err, CH_EINVAL, "%s: NUL byte in the text (is this a binary file?)", name);
        return NULL;
    }
    locale_t loc = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    ch_table *t = NULL;
    double **cols = NULL;
    double *label = NULL;
    size_t n_rows = 0, k = 0, cells;
    unsigned long max_idx = 0;
    if (s_walk(buf, len, name, loc, &n_rows, &max_idx, NULL, NULL, err) != 0) {
        goto done;
    }
    if (n_rows == 0) {
        ch_err_set(err, CH_EINVAL, "%s: no data rows (empty file?)", name);
        goto done;
    }
    k = max_idx;
    if (ch_mul_size(n_rows, k + 1, &cells) != 0 || cells >= S_MAX_CELLS) {
        ch_err_set(err, CH_EINVAL,
                   "%s: %zu rows x %zu features is too large for a dense table (limit %zu cells)",
                   name, n_rows, k, S_MAX_CELLS);
        goto done;
    }
    cols = ch_calloc_array(k + 1, sizeof *cols);
    label = ch_alloc_array(n_rows, sizeof *label);
    if (!cols || !label) {
        ch_err_set(err, CH_ENOMEM, "%s: out of memory", name);
        goto done;
    }
    for (size_t j = 0; j < k; j++) {
        cols[j] = ch_calloc_array(n_rows, sizeof **cols);
        if (!cols[j]) {
            ch_err_set(err, CH_ENOMEM, "%s: out of memory", name);
            goto done;
        }
    }
    if (s_walk(buf, len, name, loc, &n_rows, &max_idx, label, cols, err) != 0) {
        goto done;
    }
    t = ch_table_new(n_rows);
    if (!t || !(t->source = strdup(name))) {
        goto oom;
    }
    for (size_t j = 0; j < k; j++) {
        char col_name[32];
        snprintf(col_name, sizeof col_name, "f%zu", j + 1);
        double *v = cols[j];
        cols[j] = NULL;
        if (ch_table_add_column(t, col_name, CH_COL_NUMERIC, v, NULL, 0) != 0) {
            goto oom;
        }
    }
    double *y = label;
    label = NULL;
    if (ch_table_add_column(t, "label", CH_COL_NUMERIC, y, NULL, 0) != 0) {
        goto oom;
    }
    goto done;
oom:
    ch_table_destroy(&t);
    ch_err_set(err, CH_ENOMEM, "%s: out of memory", name);
done:
    if (cols) {
        for (size_t j = 0; j < k; j++) {
            free(cols[j]);
        }
        free(cols);
    }
    free(label);
    if (loc) {
        freelocale(loc);
    }
    return t;
}

/* Reads and parses a LIBSVM file (plain or gzip). The caller owns the
 * table; NULL with err set on failure. */
ch_table *ch_libsvm_read(const char *path, ch_err *err)
{
    char *buf;
    size_t len;
    if (ch_data_read_all(path, (size_t)CH_READ_MAX_BYTES, &buf, &len, err) != 0) {
        return NULL;
    }
    ch_table *t = ch_libsvm_parse(buf, len, path, err);
    free(buf);
    return t;
}
