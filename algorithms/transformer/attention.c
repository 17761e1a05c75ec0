/* attention.c: masked multi-head self-attention, pooling and sinusoidal
 * positions (attention.h), the products through cblas_sgemm on strided
 * views of the packed q|k|v rows. */
#include "algorithms/transformer/attention.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/* One softmax row over the real keys; padding keys get probability 0. */
static void s_softmax_row(float *p, const uint8_t *mask, size_t t)
{
    float mx = -INFINITY;
    for (size_t j = 0; j < t; j++) {
        if (mask[j] && p[j] > mx) {
            mx = p[j];
        }
    }
    double sum = 0;
    for (size_t j = 0; j < t; j++) {
        float e = mask[j] ? expf(p[j] - mx) : 0.0f;
        p[j] = e;
        sum += e;
    }
    float inv = sum > 0 ? (float)(1.0 / sum) : 0.0f;
    for (size_t j = 0; j < t; j++) {
        p[j] *= inv;
    }
}

/* This function can't fail. */
void ch_tfm_attn_forward(float *ctx, float *prob, const float *qkv, const uint8_t *mask, size_t b,
                         size_t t, size_t heads, size_t d)
{
    size_t hd = d / heads;
    float scale = (float)(1.0 / sqrt((double)hd));
    int T = (int)t, HD = (int)hd, L3 = (int)(3 * d), LD = (int)d;
    for (size_t s = 0; s < b; s++) {
        const float *base = qkv + s * t * 3 * d;
        const uint8_t *m = mask + s * t;
        for (size_t h = 0; h < heads; h++) {
            const float *q = base + h * hd, *k = base + d + h * hd, *v = base + 2 * d + h * hd;
            float *p = prob + (s * heads + h) * t * t;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, HD, scale, q, L3, k, L3,
                        0.0f, p, T);
            for (size_t i = 0; i < t; i++) {
                s_softmax_row(p + i * t, m, t);
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, HD, T, 1.0f, p, T, v, L3,
                        0.0f, ctx + s * t * d + h * hd, LD);
        }
    }
}

/* This function can't fail. */
void ch_tfm_attn_backward(float *dqkv, const float *dctx, const float *prob, const float *qkv,
                          size_t b, size_t t, size_t heads, size_t d, float *scratch)
{
    size_t hd = d / heads;
    float scale = (float)(1.0 / sqrt((double)hd));
    int T = (int)t, HD = (int)hd, L3 = (int)(3 * d), LD = (int)d;
    for (size_t s = 0; s < b; s++) {
        const float *base = qkv + s * t * 3 * d;
        float *dbase = dqkv + s * t * 3 * d;
        for (size_t h = 0; h < heads; h++) {
            const float *q = base + h * hd, *k = base + d + h * hd, *v = base + 2 * d + h * hd;
            float *dq = dbase + h * hd, *dk = dbase + d + h * hd, *dv = dbase + 2 * d + h * hd;
            const float *p = prob + (s * heads + h) * t * t;
            const float *dc = dctx + s * t * d + h * hd;
            /* dv = p^T dctx; dp = dctx v^T */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, HD, T, 1.0f, p, T, dc, LD, 0.0f,
                        dv, L3);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, HD, 1.0f, dc, LD, v, L3,
                        0.0f, scratch, T);
            /* through the softmax: ds = p * (dp - sum_j p dp); padding has p = 0 */
            for (size_t i = 0; i < t; i++) {
                const float *pr = p + i * t;
                float *g = scratch + i * t;
                double dot = 0;
                for (size_t j = 0; j < t; j++) {
                    dot += (double)pr[j] * g[j];
                }
                for (size_t j = 0; j < t; j++) {
                    g[j] = pr[j] * (g[j] - (float)dot);
                }
            }
            /* dq = scale ds k; dk = scale ds^T q */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, HD, T, scale, scratch, T, k,
                        L3, 0.0f, dq, L3);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, HD, T, scale, scratch, T, q, L3,
                        0.0f, dk, L3);
        }
    }
}

/* This function can't fail. */
void ch_tfm_pool_mean_forward(float *y, const float *x, const uint8_t *mask, size_t b, size_t t,
                              size_t d)
{
    for (size_t s = 0; s < b; s++) {
        float *o = y + s * d;
        memset(o, 0, d * sizeof *o);
        size_t n = 0;
        for (size_t i = 0; i < t; i++) {
            if (!mask[s * t + i]) {
                continue;
            }
            const float *r = x + (s * t + i) * d;
            for (size_t j = 0; j < d; j++) {
                o[j] += r[j];
            }
            n++;
        }
        float inv = n ? 1.0f / (float)n : 0.0f;
        for (size_t j = 0; j < d; j++) {
            o[j] *= inv;
        }
    }
}

/* This function can't fail. */
void ch_tfm_pool_mean_backward(float *dx, const float *dy, const uint8_t *mask, size_t b, size_t t,
                               size_t d)
{
    for (size_t s = 0; s < b; s++) {
        size_t n = 0;
        for (size_t i = 0; i < t; i++) {
            n += mask[s * t + i] ? 1 : 0;
        }
        float inv = n ? 1.0f / (float)n : 0.0f;
        for (size_t i = 0; i < t; i++) {
            float *r = dx + (s * t + i) * d;
            float f = mask[s * t + i] ? inv : 0.0f;
            for (size_t j = 0; j < d; j++) {
                r[j] = dy[s * d + j] * f;
            }
        }
    }
}

/* This function can't fail. */
void ch_tfm_pool_first_forward(float *y, const float *x, size_t b, size_t t, size_t d)
{
    for (size_t s = 0; s < b; s++) {
        memcpy(y + s * d, x + s * t * d, d * sizeof *y);
    }
}

/* This function can't fail. */
void ch_tfm_pool_first_backward(float *dx, const float *dy, size_t b, size_t t, size_t d)
{
    memset(dx, 0, b * t * d * sizeof *dx);
    for (size_t s = 0; s < b; s++) {
        memcpy(dx + s * t * d, dy + s * d, d * sizeof *dx);
    }
}

/* This function can't fail. */
void ch_tfm_sinusoid(float *pe, size_t t, size_t d)
{
    for (size_t p = 0; p < t; p++) {
        for (size_t i = 0; i < d; i += 2) {
            double f = exp(-log(10000.0) * (double)i / (double)d);
            pe[p * d + i] = (float)sin((double)p * f);
            if (i + 1 < d) {
                pe[p * d + i + 1] = (float)cos((double)p * f);
            }
        }
    }
}
