/* histogram.c: gradient/hessian histograms of tree nodes in int64 fixed
 * point (exact, associative sums: the same for any shard layout). */
#include "algorithms/gbt/gbt.h"

/* Row-wise accumulation: one pass over each row's bin codes. */
void ch_gbt_hist_build(int64_t *hist, const ch_gbt_cuts *c, const uint8_t *bins,
                       const int32_t *rows, size_t n, const int64_t *g, const int64_t *h)
{
    size_t F = c->n_features;
    const size_t *hoff = c->hoff;
    for (size_t k = 0; k < n; k++) {
        size_t r = (size_t)rows[k];
        const uint8_t *b = bins + r * F;
        int64_t gr = g[r], hr = h[r];
        if (gr == 0 && hr == 0) {
            continue;
        }
        for (size_t f = 0; f < F; f++) {
            int64_t *e = hist + 2 * (hoff[f] + b[f]);
            e[0] += gr;
            e[1] += hr;
        }
    }
}

/* Sibling = parent - built child. */
void ch_gbt_hist_sub(int64_t *out, const int64_t *parent, const int64_t *child, size_t len)
{
    for (size_t i = 0; i < 2 * len; i++) {
        out[i] = parent[i] - child[i];
    }
}
