/* dense.c: the fully connected layer, forward and backward through sgemm. */
#include "algorithms/mlp/nn.h"

#include <cblas.h>

/* y (n x out) = x (n x in) w^T (in x out) + b. This function can't fail. */
void ch_nn_dense_forward(float *y, const float *x, const float *w, const float *b, size_t n,
                         size_t in, size_t out)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < out; j++) {
            y[i * out + j] = b[j];
        }
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)out, (int)in, 1.0f, x,
                (int)in, w, (int)in, 1.0f, y, (int)out);
}

/* dx = dy w (skipped when dx is NULL), dw += dy^T x, db += sum_i dy[i].
 * This function can't fail. */
void ch_nn_dense_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                          const float *w, size_t n, size_t in, size_t out)
{
    if (dx) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)in, (int)out, 1.0f, dy,
                    (int)out, w, (int)in, 0.0f, dx, (int)in);
    }
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)out, (int)in, (int)n, 1.0f, dy,
                (int)out, x, (int)in, 1.0f, dw, (int)in);
    for (size_t i = 0; i < n; i++) {
        const float *r = dy + i * out;
        for (size_t j = 0; j < out; j++) {
            db[j] += r[j];
        }
    }
}
