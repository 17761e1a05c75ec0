/* seqfile.h: a CSV of sequences in long form, one row per element:
 *
 *   id,position,f1,f2,...      (a header; the first two columns are the
 *   C17,1,0.5,3                 sequence id and the element's position;
 *   C17,2,1.5,0                 the rest are numeric features)
 *   C18,1,...
 *
 * grouped by id (rows of an id need not be adjacent) and ordered by
 * position within each id (ties keep the file's order; positions are only
 * compared, so 1-based, 0-based or timestamps all work). Features are
 * standardised with the mean and standard deviation over all the file's
 * rows (a missing value becomes the mean, 0), so every process that reads
 * the file gets the same numbers. The training table then has one row per
 * sequence, with the id and the target (model.sequences in the README). */
#ifndef CH_TFM_SEQFILE_H
#define CH_TFM_SEQFILE_H

#include "common/err.h"
#include "common/table.h"

#include <stdbool.h>

#include <stddef.h>

typedef struct ch_tfm_seqs {
    char *path;
    size_t n_ids;
    char **ids;     /* n_ids, sorted by strcmp */
    size_t *first;  /* n_ids: first element (row of vals) of each id */
    size_t *len;    /* n_ids: its elements */
    size_t d;       /* features per element */
    float *vals;    /* elements x d, standardised, by id then position */
    size_t max_len; /* longest sequence */
} ch_tfm_seqs;

/* Reads path. NULL with err set (naming the file, the line or the id) when
 * the file does not parse, has fewer than 3 columns, has a categorical
 * feature, a missing id or position, or a sequence longer than max_length
 * (0: no limit). standardise false keeps the values as they are (token
 * ids; missing stays NaN). */
ch_tfm_seqs *ch_tfm_seqs_read(const char *path, size_t max_length, bool standardise, ch_err *err);
void ch_tfm_seqs_destroy(ch_tfm_seqs **s);

/* The id of row r of column c as text: a categorical level's name, or a
 * number as "%.17g" (so 17 and 17.0 are the same id). Returns false for a
 * missing value. This function can't fail otherwise. */
bool ch_tfm_id_text(const ch_column *c, size_t r, char *buf, size_t size);

/* Index of id, or -1. */
long ch_tfm_seqs_find(const ch_tfm_seqs *s, const char *id);

#endif
