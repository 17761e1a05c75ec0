/* similar.h: items similar to an item: item_knn's stored neighbour lists,
 * or for als the cosine of the item factor vectors, computed a block of
 * items at a time (dgemm) so the n_items x n_items matrix never exists. */
#ifndef CH_CF_SIMILAR_H
#define CH_CF_SIMILAR_H

#include "algorithms/cf/model.h"

/* Whether the model can name similar items (item_knn and als; user_knn
 * keeps neighbours of users only). */
bool ch_cf_has_similar(const ch_cf_model *m);

/* als: the item factor rows scaled to unit length (n_items x f, a zero row
 * stays zero), for ch_cf_similar; the caller frees it. NULL for kNN models
 * or when out of memory. */
double *ch_cf_unit_factors(const ch_cf_model *m);

/* The at most n items most similar to item i (0 <= i < n_items), best
 * first, ties by item id, i itself excluded, only positive similarities
 * (as item_knn stores them). item_knn: the stored neighbours (shrinkage and
 * min_support applied); als: cos(y_i, y_j) from `unit` (ch_cf_unit_factors,
 * to share between calls) or, when unit is NULL, from unit rows computed
 * for this call. Returns the count, or CH_ENOMEM as a negative number. */
long ch_cf_similar(const ch_cf_model *m, const double *unit, size_t i, size_t n, uint32_t *items,
                   double *sims);

/* Writes item,rank,neighbour,similarity (top_n per item) for every item to
 * path. Returns 0 or an error naming the path. */
int ch_cf_write_similar(const ch_cf_model *m, const char *path, ch_err *err);

#endif
