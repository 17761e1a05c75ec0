/* partition.h: the train/test split and the shard plan.
 *
 * The split is decided once from the seed, before sharding. The plan orders
 * the training rows and cuts them into reduction blocks and shards:
 *
 *   plan order:  [ block 0 | block 1 | ... | block B-1 ]
 *   shards:      [ shard 0: blocks b0..b1) | shard 1 | ... ]
 *
 * For `iid` and `stratified` the plan order and the blocks do not depend on
 * the number of shards, and every shard is a whole number of blocks, so a
 * per-block computation reduced over the block tree (reduce.h) gives the same
 * bytes for 1, 2 or 8 workers. `dirichlet` and `shards` give each worker a
 * label-skewed set of rows (the point of those schemes), so their blocks are
 * cut inside each shard. `by-file` has no plan at the coordinator: each worker
 * reads its own file and is one shard whose blocks are cut locally. */
#ifndef CH_PARTITION_H
#define CH_PARTITION_H

#include "common/err.h"
#include "common/table.h"

#include <stdint.h>

typedef enum {
    CH_PART_IID = 0,
    CH_PART_STRATIFIED,
    CH_PART_DIRICHLET,
    CH_PART_SHARDS,
    CH_PART_BY_FILE,
} ch_part_scheme;

extern const char *const ch_part_scheme_names[]; /* NULL-terminated, in enum order */

/* Largest number of reduction blocks in a plan (and so of workers that can
 * share one experiment's data in simulation). */
#define CH_PLAN_MAX_BLOCKS 256

typedef struct ch_split {
    size_t n_train, n_test;
    size_t *train; /* row indices of the loaded table, ascending */
    size_t *test;
} ch_split;

/* Splits rows 0..n_rows-1 into train and test with a fraction from the seed.
 * For a categorical target the split is stratified by class. test_fraction
 * 0 gives an empty test set. Returns 0, or CH_EINVAL when a side would be
 * empty, or CH_ENOMEM. */
int ch_split_make(const ch_table *t, double test_fraction, uint64_t seed, ch_split *out,
                  ch_err *err);
void ch_split_free(ch_split *s);

typedef struct ch_plan {
    ch_part_scheme scheme;
    size_t n_shards;
    size_t n_rows;       /* rows in the plan (training rows) */
    size_t *rows;        /* n_rows row indices into the training table, plan order */
    size_t n_blocks;
    size_t *block_begin; /* n_blocks + 1 offsets into rows */
    size_t *shard_block; /* n_shards + 1: shard s owns blocks [shard_block[s], shard_block[s+1]) */
} ch_plan;

/* Builds the plan of `scheme` over the training table t for n_shards shards.
 * alpha: the Dirichlet concentration (dirichlet only). Needs a categorical
 * target for stratified, dirichlet and shards. Errors: more shards than
 * rows (or blocks), no target where one is needed. */
int ch_plan_make(const ch_table *t, ch_part_scheme scheme, size_t n_shards, double alpha,
                 uint64_t seed, ch_plan *out, ch_err *err);
/* ch_plan_make, or for a table without rows (an algorithm with no data)
 * a plan of n_shards empty shards, one empty block each. */
int ch_plan_make_or_empty(const ch_table *t, ch_part_scheme scheme, size_t n_shards, double alpha,
                          uint64_t seed, ch_plan *out, ch_err *err);
/* A plan of one shard over all n rows in table order (a by-file silo). */
int ch_plan_single(size_t n_rows, ch_plan *out);
void ch_plan_free(ch_plan *p);

/* Rows of shard s: rows[shard_row_begin .. shard_row_end). */
size_t ch_plan_shard_begin(const ch_plan *p, size_t s);
size_t ch_plan_shard_end(const ch_plan *p, size_t s);

#endif
