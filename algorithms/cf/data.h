/* data.h: interactions for collaborative filtering: (user, item, rating
 * [, time]) rows of a table mapped to dense user and item ids, stored as a
 * user-major CSR and an item-major CSC, and the train/test split rules
 * (random holdout by the engine, leave-k-out per user, by time).
 *
 * Ids: a numeric id column maps its distinct values in ascending order to
 * 0..n-1; a categorical column maps its level codes (level names sorted by
 * strcmp) the same way; only ids that occur in the training rows get an id.
 * Duplicate (user, item) pairs follow model.duplicates: last (the row with
 * the latest time, else the last row in the file), mean, sum or error. */
#ifndef CH_CF_DATA_H
#define CH_CF_DATA_H

#include "common/err.h"
#include "common/table.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { CH_CF_DUP_LAST = 0, CH_CF_DUP_MEAN, CH_CF_DUP_SUM, CH_CF_DUP_ERROR } ch_cf_dup;
typedef enum { CH_CF_SPLIT_RANDOM = 0, CH_CF_SPLIT_LEAVE_K, CH_CF_SPLIT_TIME } ch_cf_split;

extern const char *const ch_cf_dup_names[];
extern const char *const ch_cf_split_names[];

/* The dense ids of one side: key[id] ascending (the numeric id, or the
 * level code of a categorical column) and its printable label. */
typedef struct ch_cf_ids {
    size_t n;
    double *key;
    char **label;
} ch_cf_ids;

/* Compressed sparse rows: row r holds idx[ptr[r]..ptr[r+1]) ascending. */
typedef struct ch_cf_csr {
    size_t n_rows, n_cols, nnz;
    size_t *ptr;
    uint32_t *idx;
    double *val;
} ch_cf_csr;

/* Which columns hold what, and how to prepare them. */
typedef struct ch_cf_spec {
    const char *user_col, *item_col;
    const char *rating_col; /* "" for none: every interaction counts 1 */
    const char *time_col;   /* "" for none */
    ch_cf_dup duplicates;
    ch_cf_split split;
    long holdout_k;       /* leave-k-out: held-out interactions per user */
    double test_fraction; /* by time: the latest fraction of interactions */
    bool has_scale;
    double scale_lo, scale_hi;
    bool implicit; /* ratings are counts (>= 0) */
    uint64_t seed;
} ch_cf_spec;

typedef struct ch_cf_data {
    ch_cf_ids users, items;
    ch_cf_csr by_user; /* training interactions, users x items */
    ch_cf_csr by_item; /* the same, items x users */
    size_t n_dups;     /* rows merged by the duplicates rule */
    /* held-out interactions of leave-k-out and time splits */
    size_t n_test;
    uint32_t *test_user, *test_item;
    double *test_rating;
    size_t n_test_cold; /* held-out rows whose user or item has no training row */
} ch_cf_data;

/* Builds the interactions of table t (the engine's training table) by spec.
 * Errors name the column, the row and the value: a missing column, a missing
 * or non-finite id or rating, a rating outside the declared scale, a
 * negative count in implicit mode, a duplicate pair with duplicates: error,
 * a time split without a time column. Returns 0 or a negative code. */
int ch_cf_data_build(const ch_table *t, const ch_cf_spec *spec, ch_cf_data *out, ch_err *err);
void ch_cf_data_free(ch_cf_data *d);

/* The column called name of t: a feature, or the target when it has that
 * name. NULL when absent. */
const ch_column *ch_cf_column(const ch_table *t, const char *name);

/* Dense id of key in ids, or -1. */
long ch_cf_ids_find(const ch_cf_ids *ids, double key);

/* The transpose of a CSR (rows become columns). Returns 0 or CH_ENOMEM. */
int ch_cf_csr_transpose(const ch_cf_csr *a, ch_cf_csr *out);
/* Whether row r of a holds column c (binary search). */
bool ch_cf_csr_has(const ch_cf_csr *a, size_t r, uint32_t c, double *val);
void ch_cf_csr_free(ch_cf_csr *a);
void ch_cf_ids_free(ch_cf_ids *ids);

/* Looks up the user, item and (if present) rating columns of a table to
 * evaluate or predict on, mapping ids through the model's id lists (-1 for
 * unknown). u, i: n_rows each; r may be NULL. The rating is the target when
 * t's target has that name. Returns 0 or an error naming the column. */
int ch_cf_lookup(const ch_table *t, const ch_cf_ids *users, const ch_cf_ids *items,
                 const char *user_col, const char *item_col, const char *rating_col, long *u,
                 long *i, double *r, bool *has_rating, ch_err *err);

#endif
