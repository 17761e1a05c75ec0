/* features.h: the network's input encoding of a table: numeric columns
 * standardised with statistics computed over all shards (missing values
 * become the mean, i.e. 0), categorical columns one-hot (missing: all
 * zeros); and the target (class code, or a standardised regression value). */
#ifndef CH_MLP_FEATURES_H
#define CH_MLP_FEATURES_H

#include "common/err.h"
#include "common/table.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct ch_features {
    size_t n_cols;          /* schema feature columns */
    size_t *offset;         /* n_cols: first input of the column */
    size_t *width;          /* n_cols: 1 for numeric, n_levels for categorical (an index
                               column takes 1 input whatever its width) */
    bool *numeric;          /* n_cols */
    bool *index;            /* n_cols: categorical encoded as its level code (embeddings) */
    double *mean;           /* n_cols (numeric only) */
    double *scale;          /* n_cols: 1 / standard deviation (1 when constant) */
    size_t d_in;            /* inputs to the network */
    bool regression;        /* numeric target */
    double y_mean, y_scale; /* regression target standardisation */
} ch_features;

/* The encoding of schema's columns, with mean 0 and scale 1 until
 * ch_features_set_stats. NULL when out of memory or when there are no
 * inputs (err set). */
ch_features *ch_features_new(const ch_schema *schema, ch_err *err);
void ch_features_destroy(ch_features **f);
/* Encodes categorical column col as one input holding its level code
 * (missing or unknown: -1), for an embedding layer, instead of one-hot;
 * the inputs after it move. CH_EINVAL when col is not a categorical
 * column. */
int ch_features_set_index(ch_features *f, size_t col);

/* Doubles in a statistics vector: count, sum, sum of squares per numeric
 * column, then the same three for the target. */
size_t ch_features_stats_len(const ch_features *f);
/* Adds the statistics of rows[0..n) of t into out (finite values only).
 * This function can't fail. */
void ch_features_stats_add(const ch_features *f, const ch_table *t, const size_t *rows, size_t n,
                           double *out);
/* Sets means and scales from a summed statistics vector. */
void ch_features_set_stats(ch_features *f, const double *stats);

/* x (n x d_in, row-major) and y[n] (class code or standardised value, NaN
 * when missing; y may be NULL) for rows[0..n) of t (rows NULL means 0..n).
 * This function can't fail. */
void ch_features_encode(const ch_features *f, const ch_table *t, const size_t *rows, size_t n,
                        float *x, float *y);

#endif
