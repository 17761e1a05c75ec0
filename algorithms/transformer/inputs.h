/* inputs.h: a table's rows as padded sequences for the encoder.
 *
 * A row is one sequence: its feature columns, in order, are max_length
 * positions of d_in values each (Fashion-MNIST's 784 pixels are 28 rows of
 * 28). Vector inputs are standardised per column with statistics summed
 * over every shard (algorithms/mlp/features.h); token inputs are the
 * columns' values as ids 0..vocab-1. A position whose values are all
 * missing is padding (mask 0); a missing value at a real position is the
 * column's mean (0 after standardisation).
 *
 * With a sequence file (seqfile.h, model.sequences) a row holds only the
 * sequence's id (column id_column) and the target; its elements come from
 * the file, padded to max_length. */
#ifndef CH_TFM_INPUTS_H
#define CH_TFM_INPUTS_H

#include "algorithms/mlp/features.h"
#include "algorithms/transformer/seqfile.h"
#include "common/err.h"
#include "common/table.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ch_tfm_inputs {
    ch_features *feat; /* owned */
    size_t len, d_in;
    bool tokens;
    size_t vocab;
    ch_tfm_seqs *seqs; /* owned; NULL without a sequence file */
    size_t id_col;     /* with seqs: the schema column of the id */
    char *id_name;     /* with seqs: its name (owned) */
} ch_tfm_inputs;

/* The layout of schema's feature columns as sequences of max_length
 * positions (0: one position per column). NULL with err set when a feature
 * column is categorical, when the columns do not divide into max_length
 * positions, or when tokens come more than one per position.
 * seq_path (may be NULL): a sequence file, read here (max_length 0: its
 * longest sequence); then schema's only feature column must be id_column. */
ch_tfm_inputs *ch_tfm_inputs_new(const ch_schema *schema, size_t max_length, bool tokens,
                                 size_t vocab, const char *seq_path, const char *id_column,
                                 ch_err *err);
void ch_tfm_inputs_destroy(ch_tfm_inputs **in);

/* x (n x len x d_in), mask (n x len) and y[n] (class code or standardised
 * value, NaN when missing; y may be NULL) of rows[0..n) of t (rows NULL
 * means 0..n). Errors name the row (1-based, of t) and column: a sequence
 * with no real position, a token that is not a whole number in
 * 0..vocab-1. */
int ch_tfm_inputs_encode(const ch_tfm_inputs *in, const ch_table *t, const size_t *rows, size_t n,
                         float *x, uint8_t *mask, float *y, ch_err *err);

#endif
