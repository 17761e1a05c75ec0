/* batch.h: which training rows make up each mini-batch, independently of
 * the number of workers.
 *
 * An epoch visits the reduction blocks in an order drawn from (seed, epoch)
 * and the rows of each block in an order drawn from (seed, epoch, block);
 * the concatenation is the epoch's row sequence, and step s of the epoch
 * takes its positions [s * batch, (s + 1) * batch). A batch is therefore a
 * list of segments (block, offset into the block's permuted rows, count),
 * usually one or two blocks, and only the worker that owns a block reads
 * its rows. Nothing here depends on the shard plan. */
#ifndef CH_MLP_BATCH_H
#define CH_MLP_BATCH_H

#include <stddef.h>
#include <stdint.h>

typedef struct ch_segment {
    uint32_t block;
    uint32_t offset;
    uint32_t count;
} ch_segment;

/* Steps in an epoch over n_rows rows: ceil(n_rows / batch). */
long ch_batch_steps_per_epoch(size_t n_rows, size_t batch);

/* Fills seg (room for n_blocks entries) with the segments of step `step`
 * (0-based within the epoch) and returns their number (0 past the end).
 * block_rows[n_blocks] are the blocks' row counts. This function can't fail. */
size_t ch_batch_segments(const size_t *block_rows, size_t n_blocks, uint64_t seed, long epoch,
                         long step, size_t batch, ch_segment *seg);

/* perm[0..n) = the permuted order of a block's n rows in an epoch. This
 * function can't fail. */
void ch_batch_block_order(uint64_t seed, long epoch, size_t block, size_t *perm, size_t n);

#endif
