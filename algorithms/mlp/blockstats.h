/* blockstats.h: round 0 of a network's training (mlp.c, transformer.c):
 * every block's row count and the feature statistics (features.h), summed
 * over the fixed block tree (common/reduce.h). */
#ifndef CH_MLP_BLOCKSTATS_H
#define CH_MLP_BLOCKSTATS_H

#include "algorithms/algo.h"
#include "common/reduce.h"

#include <stddef.h>

/* Adds the n updates (leaves of n_blocks + n_stats doubles: the block's
 * rows at its index, then its statistics) to *r, finishes the sum and
 * destroys *r (then NULL), and splits the root into block_rows[n_blocks]
 * (*n_rows their sum) and stats[n_stats]. Returns 0, or CH_EPROTO /
 * CH_ENOMEM / the reduction's error with a message naming `name` and the
 * shard or block (*r is kept when a leaf does not add). */
int ch_nn_block_stats(const char *name, ch_reduce **r, const ch_update *ups, size_t n,
                      size_t n_blocks, size_t *block_rows, size_t *n_rows, double *stats,
                      size_t n_stats, ch_err *err);

#endif
