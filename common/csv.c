/* csv.c: the CSV reader (RFC 4180 with a header row): one pass that checks
 * the structure and parses numbers straight into the columns, a decision per
 * column (numeric, categorical, or an error), and a second pass over the
 * categorical columns only, to collect their levels. */
#define _GNU_SOURCE /* strtod_l */
#include "common/table.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- Numbers ---------------------------------------------------------------- */

/* Parses s[0..n) (see table.h). The fast path is Clinger's: a mantissa of at
 * most 2^53 and a power of ten of at most 10^22 are both exact doubles, so one
 * multiplication or division rounds correctly. Anything else that has the
 * grammar of a decimal number goes to strtod_l in the C locale. */
bool ch_parse_number(const char *s, size_t n, locale_t c_locale, double *out)
{
    static const double p10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    size_t i = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t')) {
        i++;
    }
    while (n > i && (s[n - 1] == ' ' || s[n - 1] == '\t')) {
        n--;
    }
    size_t start = i;
    bool neg = false;
    if (i < n && (s[i] == '+' || s[i] == '-')) {
        neg = s[i] == '-';
        i++;
    }
    uint64_t m = 0;
    int n_sig = 0;
    long e10 = 0;
    size_t n_digits = 0;
    bool exact = true;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        int d = s[i] - '0';
        n_digits++;
        if (m == 0 && d == 0) {
            /* leading zero */
        } else if (n_sig < 19) {
            m = m * 10 + (uint64_t)d;
            n_sig++;
        } else {
            e10++;
            exact = false;
        }
        i++;
    }
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            int d = s[i] - '0';
            n_digits++;
            if (m == 0 && d == 0) {
                e10--;
            } else if (n_sig < 19) {
                m = m * 10 + (uint64_t)d;
                n_sig++;
                e10--;
            } else {
                exact = false;
            }
            i++;
        }
    }
    if (n_digits == 0) {
        return false;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        bool eneg = false;
        if (i < n && (s[i] == '+' || s[i] == '-')) {
            eneg = s[i] == '-';
            i++;
        }
        if (i == n || s[i] < '0' || s[i] > '9') {
            return false;
        }
        long ev = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (ev < 100000) {
                ev = ev * 10 + (s[i] - '0');
            }
            i++;
        }
        e10 += eneg ? -ev : ev;
    }
    if (i != n) {
        return false;
    }
    if (m == 0) {
        *out = neg ? -0.0 : 0.0;
        return true;
    }
    if (exact && m <= (1ULL << 53) && e10 >= -22 && e10 <= 22) {
        double v = (double)m;
        v = e10 < 0 ? v / p10[-e10] : v * p10[e10];
        *out = neg ? -v : v;
        return true;
    }
    /* Slow path: many digits or a large exponent. */
    char small[128];
    size_t len = n - start;
    char *copy = len < sizeof small ? small : malloc(len + 1);
    if (!copy) {
        return false;
    }
    memcpy(copy, s + start, len);
    copy[len] = '\0';
    char *end;
    double v = c_locale ? strtod_l(copy, &end, c_locale) : strtod(copy, &end);
    bool ok = end == copy + len && isfinite(v);
    if (copy != small) {
        free(copy);
    }
    if (ok) {
        *out = v;
    }
    return ok;
}

/* --- Fields ----------------------------------------------------------------- */

typedef struct s_cursor {
    const char *buf;
    size_t len;
    size_t pos;
    size_t line; /* 1-based line number at pos */
} s_cursor;

typedef struct s_field {
    const char *p; /* content: inside the quotes for a quoted field */
    size_t n;
    bool quoted;
    bool escaped; /* holds "" pairs that stand for one quote */
} s_field;

enum { S_MORE = 0, S_LAST = 1, S_ERR_QUOTE = -1, S_ERR_AFTER_QUOTE = -2 };

static size_t s_count_newlines(const char *p, size_t n)
{
    size_t c = 0;
    const char *end = p + n;
    while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        c++;
        p++;
    }
    return c;
}

/* Reads one field at c->pos. Returns S_MORE when a comma follows, S_LAST at
 * the end of a record (LF, CRLF, CR or end of input), or an error: an
 * unterminated quote (c->line is where it opened) or text after a closing
 * quote. */
static int s_next_field(s_cursor *c, s_field *f)
{
    const char *b = c->buf;
    size_t n = c->len, i = c->pos;
    if (i < n && b[i] == '"') {
        size_t start = i + 1, line = c->line;
        f->escaped = false;
        i = start;
        for (;;) {
            const char *q = memchr(b + i, '"', n - i);
            if (!q) {
                return S_ERR_QUOTE;
            }
            size_t qi = (size_t)(q - b);
            line += s_count_newlines(b + i, qi - i);
            if (qi + 1 < n && b[qi + 1] == '"') {
                f->escaped = true;
                i = qi + 2;
                continue;
            }
            f->p = b + start;
            f->n = qi - start;
            f->quoted = true;
            i = qi + 1;
            break;
        }
        c->line = line;
    } else {
        size_t start = i;
        while (i < n && b[i] != ',' && b[i] != '\n' && b[i] != '\r') {
            i++;
        }
        f->p = b + start;
        f->n = i - start;
        f->quoted = false;
        f->escaped = false;
    }
    if (i >= n) {
        c->pos = n;
        return S_LAST;
    }
    if (b[i] == ',') {
        c->pos = i + 1;
        return S_MORE;
    }
    if (b[i] == '\n' || b[i] == '\r') {
        c->pos = i + 1 + (b[i] == '\r' && i + 1 < n && b[i + 1] == '\n');
        c->line++;
        return S_LAST;
    }
    c->pos = i;
    return S_ERR_AFTER_QUOTE;
}

/* Skips blank lines; false at the end of the input. */
static bool s_skip_blank(s_cursor *c)
{
    while (c->pos < c->len && (c->buf[c->pos] == '\n' || c->buf[c->pos] == '\r')) {
        if (c->buf[c->pos] == '\r' && c->pos + 1 < c->len && c->buf[c->pos + 1] == '\n') {
            c->pos++;
        }
        c->pos++;
        c->line++;
    }
    return c->pos < c->len;
}

/* The field's text with "" pairs made single quotes, in *scratch (grown as
 * needed, NUL-terminated). NULL when out of memory. */
static const char *s_unescape(const s_field *f, char **scratch, size_t *cap, size_t *len)
{
    if (f->n + 1 > *cap) {
        size_t want = f->n + 1 > 2 * *cap ? f->n + 1 : 2 * *cap;
        char *p = realloc(*scratch, want);
        if (!p) {
            return NULL;
        }
        *scratch = p;
        *cap = want;
    }
    size_t o = 0;
    for (size_t i = 0; i < f->n; i++) {
        (*scratch)[o++] = f->p[i];
        if (f->escaped && f->p[i] == '"' && i + 1 < f->n && f->p[i + 1] == '"') {
            i++;
        }
    }
    (*scratch)[o] = '\0';
    *len = o;
    return *scratch;
}

static bool s_is_missing(const char *p, size_t n)
{
    while (n > 0 && (*p == ' ' || *p == '\t')) {
        p++;
        n--;
    }
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t')) {
        n--;
    }
    static const char *const tokens[] = {"NA", "NaN", "nan", "null", "NULL", "?"};
    if (n == 0) {
        return true;
    }
    for (size_t k = 0; k < sizeof tokens / sizeof *tokens; k++) {
        if (strlen(tokens[k]) == n && memcmp(tokens[k], p, n) == 0) {
            return true;
        }
    }
    return false;
}

/* --- Levels: a string -> id hash table per categorical column -------------- */

typedef struct s_levels {
    char **names; /* by id, in order of first appearance */
    size_t *lens;
    size_t n, cap;
    uint32_t *slots; /* id + 1, 0 = empty */
    uint64_t *hashes;
    size_t n_slots;
} s_levels;

static uint64_t s_hash(const char *p, size_t n)
{
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static void s_levels_free(s_levels *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->names[i]);
    }
    free(l->names);
    free(l->lens);
    free(l->slots);
    free(l->hashes);
    memset(l, 0, sizeof *l);
}

static int s_levels_rehash(s_levels *l, size_t n_slots)
{
    uint32_t *slots = ch_calloc_array(n_slots, sizeof *slots);
    uint64_t *hashes = ch_alloc_array(n_slots, sizeof *hashes);
    if (!slots || !hashes) {
        free(slots);
        free(hashes);
        return CH_ENOMEM;
    }
    for (size_t s = 0; s < l->n_slots; s++) {
        if (l->slots[s]) {
            size_t k = l->hashes[s] & (n_slots - 1);
            while (slots[k]) {
                k = (k + 1) & (n_slots - 1);
            }
            slots[k] = l->slots[s];
            hashes[k] = l->hashes[s];
        }
    }
    free(l->slots);
    free(l->hashes);
    l->slots = slots;
    l->hashes = hashes;
    l->n_slots = n_slots;
    return 0;
}

/* The id of level p[0..n), added if new; SIZE_MAX when out of memory. */
static size_t s_levels_intern(s_levels *l, const char *p, size_t n)
{
    if ((l->n + 1) * 2 > l->n_slots && s_levels_rehash(l, l->n_slots ? 2 * l->n_slots : 64)) {
        return SIZE_MAX;
    }
    uint64_t h = s_hash(p, n);
    size_t k = h & (l->n_slots - 1);
    while (l->slots[k]) {
        size_t id = l->slots[k] - 1;
        if (l->hashes[k] == h && l->lens[id] == n && memcmp(l->names[id], p, n) == 0) {
            return id;
        }
        k = (k + 1) & (l->n_slots - 1);
    }
    if (l->n == l->cap || l->n >= UINT32_MAX - 1) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        char **names = l->n < UINT32_MAX - 1 ? ch_alloc_array(cap, sizeof *names) : NULL;
        size_t *lens = names ? ch_alloc_array(cap, sizeof *lens) : NULL;
        if (!names || !lens) {
            free(names);
            return SIZE_MAX;
        }
        if (l->n) {
            memcpy(names, l->names, l->n * sizeof *names);
            memcpy(lens, l->lens, l->n * sizeof *lens);
        }
        free(l->names);
        free(l->lens);
        l->names = names;
        l->lens = lens;
        l->cap = cap;
    }
    char *name = malloc(n + 1);
    if (!name) {
        return SIZE_MAX;
    }
    memcpy(name, p, n);
    name[n] = '\0';
    l->names[l->n] = name;
    l->lens[l->n] = n;
    l->slots[k] = (uint32_t)(l->n + 1);
    l->hashes[k] = h;
    return l->n++;
}

typedef struct s_sort_ix {
    const char *name;
    size_t id;
} s_sort_ix;

static int s_sort_cmp(const void *a, const void *b)
{
    return strcmp(((const s_sort_ix *)a)->name, ((const s_sort_ix *)b)->name);
}

/* --- The parser -------------------------------------------------------------- */

typedef struct s_col {
    double *values;
    size_t n_num, n_text;
    size_t text_line; /* first line with text, and that text */
    const char *text;
    size_t text_n;
    bool categorical;
} s_col;

typedef struct s_parse {
    const char *name;
    s_cursor cur;
    size_t n_cols, n_rows, cap;
    char **names;
    s_col *cols;
    char *scratch;
    size_t scratch_cap;
    locale_t loc;
} s_parse;

static void s_parse_free(s_parse *p)
{
    for (size_t j = 0; j < p->n_cols; j++) {
        if (p->names) {
            free(p->names[j]);
        }
        if (p->cols) {
            free(p->cols[j].values);
        }
    }
    free(p->names);
    free(p->cols);
    free(p->scratch);
    if (p->loc) {
        freelocale(p->loc);
    }
}

/* Reads the header record into p->names. */
static int s_parse_header(s_parse *p, ch_err *err)
{
    s_cursor *c = &p->cur;
    size_t cap = 0;
    for (;;) {
        s_field f;
        size_t line = c->line;
        int r = s_next_field(c, &f);
        if (r == S_ERR_QUOTE) {
            return ch_err_set(err, CH_EINVAL, "%s:%zu: unterminated quoted field in the header",
                              p->name, line);
        }
        if (r == S_ERR_AFTER_QUOTE) {
            return ch_err_set(err, CH_EINVAL,
                              "%s:%zu: text after a closing quote in header field %zu", p->name,
                              c->line, p->n_cols + 1);
        }
        if (p->n_cols == cap) {
            cap = cap ? 2 * cap : 16;
            char **names = NULL;
            size_t bytes;
            if (ch_mul_size(cap, sizeof *names, &bytes) == 0) {
                names = realloc(p->names, bytes);
            }
            if (!names) {
                return ch_err_set(err, CH_ENOMEM, "%s: out of memory reading the header", p->name);
            }
            p->names = names;
        }
        size_t len;
        const char *text = s_unescape(&f, &p->scratch, &p->scratch_cap, &len);
        if (!text) {
            return ch_err_set(err, CH_ENOMEM, "%s: out of memory reading the header", p->name);
        }
        while (!f.quoted && len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t')) {
            len--;
        }
        while (!f.quoted && len > 0 && (*text == ' ' || *text == '\t')) {
            text++;
            len--;
        }
        char *name = len ? strndup(text, len) : NULL;
        if (!len) {
            char gen[32];
            snprintf(gen, sizeof gen, "col%zu", p->n_cols + 1);
            name = strdup(gen);
        }
        if (!name) {
            return ch_err_set(err, CH_ENOMEM, "%s: out of memory reading the header", p->name);
        }
        p->names[p->n_cols++] = name;
        if (r == S_LAST) {
            break;
        }
    }
    /* Duplicate names would make columns ambiguous. */
    s_sort_ix *ix = ch_alloc_array(p->n_cols, sizeof *ix);
    if (!ix) {
        return ch_err_set(err, CH_ENOMEM, "%s: out of memory reading the header", p->name);
    }
    for (size_t j = 0; j < p->n_cols; j++) {
        ix[j] = (s_sort_ix){p->names[j], j};
    }
    qsort(ix, p->n_cols, sizeof *ix, s_sort_cmp);
    for (size_t j = 1; j < p->n_cols; j++) {
        if (strcmp(ix[j - 1].name, ix[j].name) == 0) {
            size_t a = ix[j - 1].id < ix[j].id ? ix[j - 1].id : ix[j].id;
            size_t b = ix[j - 1].id < ix[j].id ? ix[j].id : ix[j - 1].id;
            int rc = ch_err_set(err, CH_EINVAL,
                                "%s:1: column name '%s' appears twice (columns %zu and %zu)",
                                p->name, ix[j].name, a + 1, b + 1);
            free(ix);
            return rc;
        }
    }
    free(ix);
    return 0;
}

static int s_grow_rows(s_parse *p, ch_err *err)
{
    size_t cap = p->cap * 2, bytes;
    if (ch_mul_size(cap, sizeof(double), &bytes) != 0) {
        return ch_err_set(err, CH_ENOMEM, "%s: too many rows", p->name);
    }
    for (size_t j = 0; j < p->n_cols; j++) {
        double *v = realloc(p->cols[j].values, bytes);
        if (!v) {
            return ch_err_set(err, CH_ENOMEM, "%s: out of memory at row %zu", p->name, p->n_rows);
        }
        p->cols[j].values = v;
    }
    p->cap = cap;
    return 0;
}

/* Pass 1: every record, checking the structure; numbers and missing values
 * go straight into the columns, text is counted per column. */
static int s_parse_rows(s_parse *p, ch_err *err)
{
    s_cursor *c = &p->cur;
    while (s_skip_blank(c)) {
        if (p->n_rows == p->cap) {
            int rc = s_grow_rows(p, err);
            if (rc != 0) {
                return rc;
            }
        }
        size_t rec_line = c->line, j = 0, row = p->n_rows;
        for (;;) {
            s_field f;
            size_t line = c->line;
            int r = s_next_field(c, &f);
            if (r == S_ERR_QUOTE) {
                return ch_err_set(err, CH_EINVAL,
                                  "%s:%zu: unterminated quoted field (the quote opens here and "
                                  "never closes)",
                                  p->name, line);
            }
            if (r == S_ERR_AFTER_QUOTE) {
                return ch_err_set(err, CH_EINVAL,
                                  "%s:%zu: text after a closing quote in field %zu (write a quote "
                                  "inside a quoted field as \"\")",
                                  p->name, c->line, j + 1);
            }
            if (j < p->n_cols) {
                s_col *col = &p->cols[j];
                double v;
                if (!f.escaped && ch_parse_number(f.p, f.n, p->loc, &v)) {
                    col->values[row] = v;
                    col->n_num++;
                } else if (!f.escaped && s_is_missing(f.p, f.n)) {
                    col->values[row] = NAN;
                } else {
                    col->values[row] = NAN;
                    if (col->n_text++ == 0) {
                        col->text_line = line;
                        col->text = f.p;
                        col->text_n = f.n;
                    }
                }
            }
            j++;
            if (r == S_LAST) {
                break;
            }
        }
        if (j != p->n_cols) {
            return ch_err_set(err, CH_EINVAL, "%s:%zu: expected %zu field%s, got %zu (%s)", p->name,
                              rec_line, p->n_cols, p->n_cols == 1 ? "" : "s", j,
                              j < p->n_cols ? "ragged row"
                                            : "too many fields; is a comma unquoted?");
        }
        p->n_rows++;
    }
    return 0;
}

/* Numeric, categorical, or "text in a numeric column" (the column whose
 * first text comes earliest is the one reported). */
static int s_decide_kinds(s_parse *p, ch_err *err)
{
    s_col *bad = NULL;
    size_t bad_j = 0;
    for (size_t j = 0; j < p->n_cols; j++) {
        s_col *col = &p->cols[j];
        if (col->n_text == 0) {
            continue;
        }
        size_t total = col->n_num + col->n_text;
        /* categorical when fewer than 90% of the present values are numbers */
        if ((double)col->n_num < 0.9 * (double)total) {
            col->categorical = true;
        } else if (!bad || col->text_line < bad->text_line) {
            bad = col;
            bad_j = j;
        }
    }
    if (bad) {
        int shown = bad->text_n > 60 ? 60 : (int)bad->text_n;
        return ch_err_set(err, CH_EINVAL,
                          "%s:%zu: column '%s': text '%.*s%s' in a numeric column (%zu of %zu "
                          "values are numbers; fix the text, or write NA for a missing value)",
                          p->name, bad->text_line, p->names[bad_j], shown, bad->text,
                          bad->text_n > 60 ? "..." : "", bad->n_num, bad->n_num + bad->n_text);
    }
    return 0;
}

/* Pass 2, over the categorical columns only: level ids in order of first
 * appearance, then sorted with strcmp into the final codes. */
static int s_collect_levels(s_parse *p, s_levels *lv, ch_err *err)
{
    s_cursor *c = &p->cur;
    size_t row = 0;
    while (s_skip_blank(c)) {
        for (size_t j = 0;; j++) {
            s_field f;
            int r = s_next_field(c, &f);
            if (r < 0) {
                return ch_err_set(err, CH_EINTERNAL, "%s: the second pass disagrees", p->name);
            }
            if (j < p->n_cols && p->cols[j].categorical && (f.escaped || !s_is_missing(f.p, f.n))) {
                size_t len = f.n;
                const char *text = f.p;
                if (f.escaped) {
                    text = s_unescape(&f, &p->scratch, &p->scratch_cap, &len);
                    if (!text) {
                        return ch_err_set(err, CH_ENOMEM, "%s: out of memory", p->name);
                    }
                }
                size_t id = s_levels_intern(&lv[j], text, len);
                if (id == SIZE_MAX) {
                    return ch_err_set(err, CH_ENOMEM, "%s: out of memory collecting levels",
                                      p->name);
                }
                p->cols[j].values[row] = (double)id;
            }
            if (r == S_LAST) {
                break;
            }
        }
        row++;
    }
    return 0;
}

/* Moves the parsed columns into a new table. */
static ch_table *s_build_table(s_parse *p, s_levels *lv, ch_err *err)
{
    ch_table *t = ch_table_new(p->n_rows);
    if (!t || !(t->source = strdup(p->name))) {
        ch_table_destroy(&t);
        ch_err_set(err, CH_ENOMEM, "%s: out of memory", p->name);
        return NULL;
    }
    for (size_t j = 0; j < p->n_cols; j++) {
        s_col *col = &p->cols[j];
        double *values = col->values;
        col->values = NULL;
        if (p->n_rows < p->cap) {
            double *shrunk = realloc(values, p->n_rows ? p->n_rows * sizeof *values : 1);
            values = shrunk ? shrunk : values;
        }
        char **levels = NULL;
        size_t n_levels = 0;
        if (col->categorical) {
            s_levels *l = &lv[j];
            s_sort_ix *ix = ch_alloc_array(l->n, sizeof *ix);
            size_t *code = ch_alloc_array(l->n, sizeof *code);
            if (!ix || !code) {
                free(ix);
                free(code);
                free(values);
                ch_table_destroy(&t);
                ch_err_set(err, CH_ENOMEM, "%s: out of memory", p->name);
                return NULL;
            }
            for (size_t k = 0; k < l->n; k++) {
                ix[k] = (s_sort_ix){l->names[k], k};
            }
            qsort(ix, l->n, sizeof *ix, s_sort_cmp);
            for (size_t k = 0; k < l->n; k++) {
                code[ix[k].id] = k;
                l->names[k] = (char *)ix[k].name; /* now in sorted order */
            }
            for (size_t i = 0; i < p->n_rows; i++) {
                if (!isnan(values[i])) {
                    values[i] = (double)code[(size_t)values[i]];
                }
            }
            free(ix);
            free(code);
            levels = l->names;
            n_levels = l->n;
            l->names = NULL;
            l->n = 0;
        }
        if (ch_table_add_column(t, p->names[j],
                                col->categorical ? CH_COL_CATEGORICAL : CH_COL_NUMERIC, values,
                                levels, n_levels) != 0) {
            ch_table_destroy(&t);
            ch_err_set(err, CH_ENOMEM, "%s: out of memory", p->name);
            return NULL;
        }
    }
    return t;
}

/* Parses a CSV document held in memory (see ch_table_read in table.h for the
 * rules). `name` is the file name for messages. The caller owns the returned
 * table. Returns NULL with err set ("name:line: what") on bad input or when
 * out of memory; never reads outside buf[0..len), which need not be
 * NUL-terminated. */
ch_table *ch_csv_parse(const char *buf, size_t len, const char *name, ch_err *err)
{
    name = name ? name : "<csv>";
    if ((uint64_t)len > CH_READ_MAX_BYTES) {
        ch_err_set(err, CH_EINVAL, "%s: %zu bytes is more than the 4 GiB a CSV file may hold", name,
                   len);
        return NULL;
    }
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) {
        buf += 3;
        len -= 3;
    }
    const char *nul = memchr(buf, '\0', len);
    if (nul) {
        ch_err_set(err, CH_EINVAL, "%s:%zu: NUL byte in the text (is this a binary file?)", name,
                   1 + s_count_newlines(buf, (size_t)(nul - buf)));
        return NULL;
    }
    s_parse p;
    memset(&p, 0, sizeof p);
    p.name = name;
    p.cur = (s_cursor){buf, len, 0, 1};
    p.loc = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    ch_table *t = NULL;
    s_levels *lv = NULL;

    if (!s_skip_blank(&p.cur)) {
        ch_err_set(err, CH_EINVAL, "%s: empty file (expected a header row and data rows)", name);
        goto done;
    }
    if (s_parse_header(&p, err) != 0) {
        goto done;
    }
    /* Capacity: no more records than lines, and each record of n_cols
     * fields takes at least n_cols bytes; grown if lone CRs end lines. */
    size_t lines = s_count_newlines(buf + p.cur.pos, len - p.cur.pos) + 1;
    size_t by_size = (len - p.cur.pos) / p.n_cols + 1;
    p.cap = lines < by_size ? lines : by_size;
    p.cols = ch_calloc_array(p.n_cols, sizeof *p.cols);
    if (!p.cols) {
        ch_err_set(err, CH_ENOMEM, "%s: out of memory", name);
        goto done;
    }
    for (size_t j = 0; j < p.n_cols; j++) {
        p.cols[j].values = ch_alloc_array(p.cap, sizeof(double));
        if (!p.cols[j].values) {
            ch_err_set(err, CH_ENOMEM, "%s: out of memory for %zu rows", name, p.cap);
            goto done;
        }
    }
    size_t data_start = p.cur.pos, data_line = p.cur.line;
    if (s_parse_rows(&p, err) != 0) {
        goto done;
    }
    if (p.n_rows == 0) {
        ch_err_set(err, CH_EINVAL, "%s: no data rows (only a header with %zu column%s)", name,
                   p.n_cols, p.n_cols == 1 ? "" : "s");
        goto done;
    }
    if (s_decide_kinds(&p, err) != 0) {
        goto done;
    }
    lv = ch_calloc_array(p.n_cols, sizeof *lv);
    if (!lv) {
        ch_err_set(err, CH_ENOMEM, "%s: out of memory", name);
        goto done;
    }
    bool any_categorical = false;
    for (size_t j = 0; j < p.n_cols; j++) {
        any_categorical |= p.cols[j].categorical;
    }
    if (any_categorical) {
        p.cur.pos = data_start;
        p.cur.line = data_line;
        if (s_collect_levels(&p, lv, err) != 0) {
            goto done;
        }
    }
    t = s_build_table(&p, lv, err);
done:
    if (lv) {
        for (size_t j = 0; j < p.n_cols; j++) {
            s_levels_free(&lv[j]);
        }
        free(lv);
    }
    s_parse_free(&p);
    return t;
}

/* Reads and parses a CSV file (plain or gzip). The caller owns the table;
 * NULL with err set when the file cannot be read or is not valid CSV. */
ch_table *ch_csv_read(const char *path, ch_err *err)
{
    char *buf;
    size_t len;
    if (ch_data_read_all(path, (size_t)CH_READ_MAX_BYTES, &buf, &len, err) != 0) {
        return NULL;
    }
    ch_table *t = ch_csv_parse(buf, len, path, err);
    free(buf);
    return t;
}
