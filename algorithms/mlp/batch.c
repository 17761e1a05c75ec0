/* batch.c: the epoch's row order over blocks and the segments of a step. */
#include "algorithms/mlp/batch.h"

#include "common/rng.h"

#include <stdlib.h>

long ch_batch_steps_per_epoch(size_t n_rows, size_t batch)
{
    return batch ? (long)((n_rows + batch - 1) / batch) : 0;
}

/* The block order of an epoch: a Fisher-Yates shuffle from (seed,
 * CH_STREAM_ALGO + 2, epoch). Walking it to the step's start costs
 * O(n_blocks), small next to a step's arithmetic. */
size_t ch_batch_segments(const size_t *block_rows, size_t n_blocks, uint64_t seed, long epoch,
                         long step, size_t batch, ch_segment *seg)
{
    size_t order_small[256];
    size_t *order = n_blocks <= 256 ? order_small : malloc(n_blocks * sizeof *order);
    if (!order) {
        return 0;
    }
    for (size_t b = 0; b < n_blocks; b++) {
        order[b] = b;
    }
    ch_rng r;
    ch_rng_init(&r, seed, ch_rng_stream(CH_STREAM_ALGO + 2, (uint64_t)epoch));
    ch_rng_shuffle(&r, order, n_blocks);
    size_t begin = (size_t)step * batch, end = begin + batch, pos = 0, n = 0;
    for (size_t i = 0; i < n_blocks && pos < end; i++) {
        size_t b = order[i], len = block_rows[b];
        size_t lo = begin > pos ? begin - pos : 0;
        size_t hi = end - pos < len ? end - pos : len;
        if (lo < hi) {
            seg[n].block = (uint32_t)b;
            seg[n].offset = (uint32_t)lo;
            seg[n].count = (uint32_t)(hi - lo);
            n++;
        }
        pos += len;
    }
    if (order != order_small) {
        free(order);
    }
    return n;
}

void ch_batch_block_order(uint64_t seed, long epoch, size_t block, size_t *perm, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        perm[i] = i;
    }
    ch_rng r;
    ch_rng_init(&r, seed, ch_rng_stream(CH_STREAM_ALGO + 3, ((uint64_t)epoch << 24) ^ block));
    ch_rng_shuffle(&r, perm, n);
}
