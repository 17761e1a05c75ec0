/* embedding.c: the lookup table of a categorical column, forward (gather)
 * and backward (scatter-add into the rows used). */
#include "algorithms/mlp/nn.h"

#include <math.h>
#include <string.h>

/* The row of the table for code c, or -1 (missing or out of range). */
static long s_row(float c, size_t levels)
{
    if (!(c >= 0 && c < (float)levels) || c != floorf(c)) {
        return -1;
    }
    return (long)c;
}

/* This function can't fail. */
void ch_nn_embedding_forward(float *y, size_t ldy, const float *idx, size_t ldx, const float *table,
                             size_t n, size_t levels, size_t dim)
{
    for (size_t i = 0; i < n; i++) {
        long r = s_row(idx[i * ldx], levels);
        if (r < 0) {
            memset(y + i * ldy, 0, dim * sizeof *y);
        } else {
            memcpy(y + i * ldy, table + (size_t)r * dim, dim * sizeof *y);
        }
    }
}

/* Rows in order, so repeated codes add up in the same order every time.
 * This function can't fail. */
void ch_nn_embedding_backward(float *dtable, const float *dy, size_t ldy, const float *idx,
                              size_t ldx, size_t n, size_t levels, size_t dim)
{
    for (size_t i = 0; i < n; i++) {
        long r = s_row(idx[i * ldx], levels);
        if (r < 0) {
            continue;
        }
        float *t = dtable + (size_t)r * dim;
        const float *g = dy + i * ldy;
        for (size_t j = 0; j < dim; j++) {
            t[j] += g[j];
        }
    }
}
