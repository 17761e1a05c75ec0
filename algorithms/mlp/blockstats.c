/* blockstats.c: round 0's block row counts and feature statistics
 * (blockstats.h). */
#include "algorithms/mlp/blockstats.h"

#include <stdlib.h>
#include <string.h>

int ch_nn_block_stats(const char *name, ch_reduce **r, const ch_update *ups, size_t n,
                      size_t n_blocks, size_t *block_rows, size_t *n_rows, double *stats,
                      size_t n_stats, ch_err *err)
{
    for (size_t i = 0; i < n; i++) {
        if (ch_reduce_add(*r, ups[i].state, ups[i].state_len, err) != 0) {
            return ch_err_prefix(err, "%s statistics from shard %u", name, ups[i].shard);
        }
    }
    double *root = ch_alloc_array(n_blocks + n_stats, sizeof *root);
    if (!root) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    int rc = ch_reduce_finish(*r, root, err);
    if (rc == 0) {
        *n_rows = 0;
        for (size_t b = 0; b < n_blocks; b++) {
            double c = root[b];
            if (!(c >= 0 && c < 4e9)) {
                rc = ch_err_set(err, CH_EPROTO, "%s: block %zu has a bad row count", name, b);
                break;
            }
            block_rows[b] = (size_t)c;
            *n_rows += block_rows[b];
        }
        memcpy(stats, root + n_blocks, n_stats * sizeof *stats);
    }
    free(root);
    ch_reduce_destroy(r);
    return rc;
}
