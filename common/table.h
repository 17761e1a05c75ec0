/* table.h: the one in-memory data table: column-major float64 features,
 * categorical columns as codes with their level names, a target column and
 * optional row weights.
 *
 * Values are double, not float32 (DESIGN.md 5 says float32): the linear
 * models report statistics to R's precision, and CSV values round-trip.
 * Algorithms that want float32 or bins convert once from here.
 *
 * Missing values are NaN in `values`, for numeric and categorical columns. */
#ifndef CH_TABLE_H
#define CH_TABLE_H

#include "common/err.h"

#include <locale.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { CH_COL_NUMERIC = 0, CH_COL_CATEGORICAL = 1 } ch_col_kind;

typedef struct ch_column {
    char *name;
    ch_col_kind kind;
    double *values;  /* n_rows values; categorical: the level code 0..n_levels-1 */
    char **levels;   /* categorical: level names, sorted by strcmp (as R's factor in C locale) */
    size_t n_levels;
} ch_column;

typedef struct ch_table {
    size_t n_rows;
    size_t n_cols;    /* feature columns, target excluded once set */
    ch_column *cols;
    bool has_target;
    ch_column target; /* numeric (regression) or categorical (classification) */
    double *weights;  /* NULL, or n_rows row weights */
    char *source;     /* file the table was read from (for messages), may be NULL */
} ch_table;

/* A new empty table with n_rows rows and no columns; NULL on failure. */
ch_table *ch_table_new(size_t n_rows);
/* Frees the table and nulls the caller's pointer. Accepts NULL and *t == NULL. */
void ch_table_destroy(ch_table **t);

/* Appends a column. Takes ownership of `values` (n_rows doubles, malloc'd)
 * and, for categorical columns, of `levels` (n_levels malloc'd strings in a
 * malloc'd array). `name` is copied. Returns 0 or CH_ENOMEM (ownership is
 * taken even on failure). */
int ch_table_add_column(ch_table *t, const char *name, ch_col_kind kind, double *values,
                        char **levels, size_t n_levels);

/* Index of the feature column called name, or -1. */
long ch_table_find(const ch_table *t, const char *name);

/* Moves the column `name` out of the features into the target.
 * positive: for a categorical target, the level that becomes code 1 (binary
 * targets only; the other level becomes 0); NULL keeps the sorted order.
 * Errors: column missing (names the file and lists close names), positive
 * level absent, positive given for a target with more than two levels. */
int ch_table_set_target(ch_table *t, const char *name, const char *positive, ch_err *err);

/* Moves the column `name` out of the features into t->weights (numeric,
 * finite, >= 0; else an error naming the row). */
int ch_table_set_weights(ch_table *t, const char *name, ch_err *err);

/* A new table holding the given rows (indices into t), in that order, with
 * the same columns, levels, target and weights. NULL on failure. */
ch_table *ch_table_take_rows(const ch_table *t, const size_t *rows, size_t n);

/* A 64-bit fingerprint of the schema and every value, for checking that two
 * processes loaded the same data. */
uint64_t ch_table_fingerprint(const ch_table *t);

/* Number of classes of a categorical target (0 for a numeric target). */
size_t ch_table_n_classes(const ch_table *t);

/* --- Schema: what a model remembers of its training table --------------- */

typedef struct ch_schema {
    size_t n_features;
    ch_column *features;  /* name, kind, levels; values is NULL */
    ch_column target;     /* name, kind, levels; values is NULL */
    char *positive;       /* may be NULL */
} ch_schema;

/* A deep copy of t's column names, kinds and levels. NULL on failure. */
ch_schema *ch_schema_from_table(const ch_table *t, const char *positive);
void ch_schema_destroy(ch_schema **s);

/* Makes t look like the training table: same feature columns in the same
 * order (extra columns dropped, missing ones an error naming them),
 * categorical codes remapped to the schema's levels (an unseen level is an
 * error naming the column, the level and the row), numeric columns that the
 * reader took as categorical converted back when every level parses as a
 * number. If t has the target column it is set as target with the schema's
 * levels; otherwise t->has_target is false. */
int ch_table_conform(ch_table *t, const ch_schema *s, ch_err *err);

/* --- Readers --------------------------------------------------------------- */

typedef enum {
    CH_FORMAT_AUTO = 0, /* from the file name: .csv, .svm/.libsvm/.svmlight, -ubyte[.gz] */
    CH_FORMAT_CSV,
    CH_FORMAT_LIBSVM,
    CH_FORMAT_IDX,
} ch_format;

/* Parses a format name ("auto", "csv", "libsvm", "idx"); -1 if unknown. */
int ch_format_parse(const char *name);

/* Reads a data file into a new table (no target set yet).
 *
 * CSV: RFC 4180 (header row, comma separator, "quoted, fields" with ""
 * escapes, CRLF or LF). A column is numeric when every non-missing field
 * parses as a number; categorical when most of its fields are not numbers;
 * a column with mostly numbers and a few words is an error naming the file,
 * line, column name and the offending text ("text in a numeric column").
 * Missing: empty, NA, NaN, nan, null, NULL, ?. Errors name file and line:
 * ragged rows, unterminated quotes, empty file, no data rows.
 *
 * LIBSVM: "label idx:val idx:val ..." (1-based indices, qid ignored); the
 * label becomes a numeric column named "label", features f1..fK (absent = 0).
 *
 * IDX (MNIST family, gzip or plain, detected by magic bytes): `path` names the
 * images file (e.g. train-images-idx3-ubyte.gz); the labels file is found by
 * replacing "images-idx3" with "labels-idx1" in the name; pixels become
 * numeric columns px0..pxK (0..255 as stored), the label a column "label".
 *
 * Returns NULL with err set on failure. */
ch_table *ch_table_read(const char *path, ch_format format, ch_err *err);

/* The CSV parser on a memory buffer; `name` is used in messages. */
ch_table *ch_csv_parse(const char *buf, size_t len, const char *name, ch_err *err);

/* --- Reader helpers (added with the readers) ------------------------------ */

/* Largest data file the readers accept, in bytes (uncompressed): 4 GiB. */
#define CH_READ_MAX_BYTES ((uint64_t)4 << 30)

/* The CSV reader on a file (plain or gzip): ch_data_read_all + ch_csv_parse. */
ch_table *ch_csv_read(const char *path, ch_err *err);

/* The LIBSVM reader on a memory buffer and on a file (plain or gzip). */
ch_table *ch_libsvm_parse(const char *buf, size_t len, const char *name, ch_err *err);
ch_table *ch_libsvm_read(const char *path, ch_err *err);

/* The IDX reader: images file plus its labels file (see ch_table_read). */
ch_table *ch_idx_read(const char *images_path, ch_err *err);

/* Reads a whole file, plain or gzip (zlib reads both), into a new buffer
 * that the caller frees. The buffer is NUL-terminated; *len excludes the
 * NUL. More than `max` bytes (uncompressed) is an error. Returns 0 or a
 * negative code with err naming the file. */
int ch_data_read_all(const char *path, size_t max, char **out, size_t *len, ch_err *err);

/* Parses s[0..n) as a finite decimal number ("12", "-3.5e-2", ".5"),
 * spaces and tabs around it allowed; hex, inf and nan are not numbers.
 * Exact (correctly rounded, as strtod). c_locale is a "C" locale from
 * newlocale() for the strtod_l fallback, or (locale_t)0 to use the current
 * locale. Returns false when s is not such a number. Can't fail otherwise. */
bool ch_parse_number(const char *s, size_t n, locale_t c_locale, double *out);

#endif
