/* bins.h: features quantized once into bins for histogram split search.
 *
 * Bin 0 of every feature holds the missing values. A numeric feature's
 * values go to bins 1..n_bins-1 by upper bounds chosen at quantiles of the
 * training values (all distinct values when they fit, or always with
 * `exact`); a natively split categorical feature has one bin per level
 * (code l -> bin l + 1). Categorical features with more levels than bins
 * are binned like numbers on their codes (documented). A feature with a
 * single value bin (constant or all missing) can never be split. */
#ifndef CH_RF_BINS_H
#define CH_RF_BINS_H

#include "common/err.h"
#include "common/table.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rf_bins {
    size_t n_rows, n_features;
    uint32_t *n_bins;  /* per feature, the missing bin included */
    double **upper;    /* numeric: upper[f][b - 1] is bin b's largest value */
    bool *categorical; /* split natively on levels */
    bool wide;         /* codes are uint16_t (exact mode with > 256 bins) */
    uint8_t *code8;    /* n_features x n_rows, column-major */
    uint16_t *code16;
} rf_bins;

/* Quantizes the rows of t (all of them) into at most max_bins bins per
 * feature (missing included), or one bin per distinct value when exact
 * (at most 65535). Returns a new rf_bins or NULL with err set. */
rf_bins *rf_bins_new(const ch_table *t, size_t max_bins, bool exact, ch_err *err);
void rf_bins_destroy(rf_bins **b);

/* Bin of row i of feature f. */
static inline uint32_t rf_bin(const rf_bins *b, size_t f, size_t i)
{
    return b->wide ? b->code16[f * b->n_rows + i] : b->code8[f * b->n_rows + i];
}

#endif
